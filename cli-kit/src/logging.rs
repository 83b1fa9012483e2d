//! One logging set-up for every process: lines go to stderr (stdout carries results, or
//! JSON-RPC for a stdio server), every line passes the redaction step on the way, `RUST_LOG`
//! filters, and colour is only for a person at a terminal who did not ask for none.

use tracing_subscriber::EnvFilter;

/// How log lines on stderr are formatted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable single lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global subscriber with `default` as the filter when `RUST_LOG` is unset. Safe
/// to call more than once: later calls are ignored.
pub fn init_logging(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let colour = format == LogFormat::Text
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(redaction::MakeRedacted(std::io::stderr))
        .with_ansi(colour);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
