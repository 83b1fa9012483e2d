//! `credential-broker` binary: parse flags, run, map the outcome to an exit code (2 on error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = credential_broker::cli::Cli::parse();
    quiet_when_stdout_closes();
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
            eprintln!("credential-broker: {}", redaction::text(&said_once(&e)));
            ExitCode::from(2)
        }
    }
}

/// `… | head -1`: a reader that stopped reading is the end of the output, not a failure worth
/// a panic and a backtrace. (SIGPIPE stays ignored: a write to a dead child must stay an error.)
fn quiet_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// The error and its causes, each said once: a cause whose words its parent already repeats
/// (sqlx and io errors often do) is left out.
fn said_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let words = cause.to_string();
        if !text.contains(words.as_str()) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&words);
        }
    }
    text
}
