//! Tracing set-up: the tools' shared one ([`cli_kit::init_logging`]): every log line to
//! stderr, because stdout of a stdio server carries JSON-RPC only, through the redaction step.
//! `RUST_LOG` filters (default `info`).

use crate::cli::LogFormat;

/// Installs the global subscriber. Safe to call once per process; later calls are ignored.
pub fn init(format: LogFormat) {
    cli_kit::init_logging(format, "info");
}
