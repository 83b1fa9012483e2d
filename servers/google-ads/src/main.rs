//! `google-ads-mcp` binary: parse flags, set up logging (stderr), run, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let (cli, config) = match mcp_common::cli::parse::<mcp_gads::Cli>(|c| &mut c.common) {
        Ok(x) => x,
        Err(e) => e.exit(),
    };
    mcp_common::logging::init(config.log_format);
    let runtime = match mcp_common::runtime(&config.transport) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("google-ads-mcp: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(mcp_gads::run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("google-ads-mcp: {e}");
            ExitCode::from(2)
        }
    }
}
