//! `gsc-mcp` binary: the shared entry point over this crate's flags and `run`.

fn main() -> std::process::ExitCode {
    mcp_common::run_main(
        "gsc-mcp",
        |c: &mut mcp_gsc::Cli| &mut c.common,
        mcp_gsc::run,
    )
}
