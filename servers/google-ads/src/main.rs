//! `google-ads-mcp` binary: the shared entry point over this crate's flags and `run`.

fn main() -> std::process::ExitCode {
    mcp_common::run_main(
        "google-ads-mcp",
        |c: &mut mcp_gads::Cli| &mut c.common,
        mcp_gads::run,
    )
}
