//! `meta-ads-mcp` binary: the shared entry point over this crate's flags and `run`.

fn main() -> std::process::ExitCode {
    mcp_common::run_main(
        "meta-ads-mcp",
        |c: &mut mcp_meta::Cli| &mut c.common,
        mcp_meta::run,
    )
}
