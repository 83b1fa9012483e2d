//! `ga4-mcp` binary: the shared entry point over this crate's flags and `run`.

fn main() -> std::process::ExitCode {
    mcp_common::run_main(
        "ga4-mcp",
        |c: &mut mcp_ga4::Cli| &mut c.common,
        mcp_ga4::run,
    )
}
