//! `credential-broker` binary: parse flags, run, map the outcome to an exit code (2 on error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // First, before any command can load a refresh token (`serve`, `refresh --direct`, `seed`,
    // the admin commands' answers): no core dumps, no ptrace from same-uid processes.
    credential_broker::harden();
    let cli = credential_broker::cli::Cli::parse();
    cli_kit::quiet_when_stdout_closes();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credential-broker: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(credential_broker::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "credential-broker: {}",
                redaction::text(&cli_kit::said_once(&e))
            );
            ExitCode::from(2)
        }
    }
}
