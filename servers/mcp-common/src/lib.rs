//! Plumbing shared by the four berryboo MCP servers (`ga4-mcp`, `gsc-mcp`, `google-ads-mcp`,
//! `meta-ads-mcp`). A server is one struct with a `#[tool_router]` impl; everything else —
//! flags, credentials, the upstream HTTP client, error texts, transports — lives here, so the
//! servers differ only in their tools.
//!
//! # Layout
//! - [`cli`]: shared flags ([`cli::CommonArgs`]) and their checked form ([`cli::CommonConfig`]).
//! - [`credentials`]: access tokens from a static file (later the broker), cached, single-flight.
//! - [`upstream`]: HTTP client with base-URL rewriting, retries/backoff, 401 refresh-and-retry.
//! - [`error`]: typed upstream errors and the actionable text tools show for them.
//! - [`handler`]: the one `ServerHandler` ([`handler::Served`]) over a [`handler::ToolServer`].
//! - [`output`]: structured + text tool results, text tables.
//! - [`transport`]: stdio, streamable HTTP, legacy HTTP+SSE, the HTTP guard.
//! - [`logging`], [`secret_file`], [`params`].

#![deny(missing_docs)]

pub mod cli;
pub mod credentials;
pub mod error;
pub mod handler;
pub mod logging;
mod oauth;
pub mod output;
pub mod params;
pub mod secret_file;
pub mod transport;
pub mod upstream;

pub use handler::{LazyRouter, Served, ToolServer};

/// The async runtime for `transport`. A stdio server has exactly one client and spends its time
/// waiting on upstream I/O, so one thread serves it (smaller and faster to start); HTTP serves
/// many clients at once and gets a worker per core.
pub fn runtime(transport: &cli::TransportConfig) -> std::io::Result<tokio::runtime::Runtime> {
    match transport {
        cli::TransportConfig::Stdio => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        cli::TransportConfig::Http(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
