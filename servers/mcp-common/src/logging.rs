//! Logging and tracing set-up: the processes' shared one ([`telemetry::init`]): every log line
//! to stderr, because stdout of a stdio server carries JSON-RPC only, through the redaction
//! step; `RUST_LOG` filters (default `info`); spans exported when an OTLP endpoint is set.

use crate::cli::LogFormat;

/// Installs the global subscriber for the server `name`. Hold the guard until the process
/// ends: dropping it sends the spans still queued.
pub fn init(name: &'static str, format: LogFormat) -> telemetry::Telemetry {
    telemetry::init(name, format, "info")
}
