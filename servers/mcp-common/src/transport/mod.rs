//! Serving a [`ToolServer`] over stdio or HTTP.
//!
//! HTTP carries two transports on one listener: streamable HTTP at `/mcp` (rmcp) and the
//! 2024-11-05 HTTP+SSE transport at `/sse` + `/message` ([`legacy_sse`]), both behind one
//! [`guard`] (Host/Origin checks against DNS rebinding, bearer key).

pub mod guard;
pub mod legacy_sse;

use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::cli::{HttpConfig, TransportConfig};
use crate::handler::{Served, ToolServer};

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The MCP session could not start (bad handshake, closed stdin before initialize).
    #[error("MCP session failed: {0}")]
    Session(String),
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("HTTP server error: {0}")]
    Http(std::io::Error),
}

/// Serves `server` on `transport` until the client goes away (stdio) or `shutdown` resolves.
pub async fn serve<S: ToolServer>(
    server: S,
    transport: TransportConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    match transport {
        TransportConfig::Stdio => serve_stdio(server, shutdown).await,
        TransportConfig::Http(config) => {
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.bind,
                    source,
                })?;
            let local = listener.local_addr().map_err(ServeError::Http)?;
            // In HTTP mode stdout is not a protocol channel; the first line tells a supervisor
            // (or a test that bound port 0) where we listen.
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "listening on http://{local}");
            let _ = stdout.flush();
            drop(stdout);
            tracing::info!(%local, "serving MCP over HTTP: streamable at /mcp, legacy SSE at /sse");
            serve_http(server, listener, config, shutdown).await
        }
    }
}

async fn serve_stdio<S: ToolServer>(
    server: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let running = Served(server)
        .serve(rmcp::transport::stdio_pipes())
        .await
        .map_err(|e| ServeError::Session(e.to_string()))?;
    let cancel = running.cancellation_token();
    tokio::spawn(async move {
        shutdown.await;
        cancel.cancel();
    });
    running
        .waiting()
        .await
        .map_err(|e| ServeError::Session(e.to_string()))?;
    Ok(())
}

/// Serves on an already-bound listener (tests bind port 0 and pass it in).
pub async fn serve_http<S: ToolServer>(
    server: S,
    listener: tokio::net::TcpListener,
    config: HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let cancel = CancellationToken::new();
    let app = router(server, config, cancel.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            cancel.cancel();
        })
        .await
        .map_err(ServeError::Http)
}

/// The HTTP app: `/mcp`, `/sse`, `/message`, `/healthz`, all behind the guard.
pub fn router<S: ToolServer>(
    server: S,
    config: HttpConfig,
    cancel: CancellationToken,
) -> axum::Router {
    // Our guard checks Host and Origin for every route (rmcp's check would cover /mcp only).
    let mcp_config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_cancellation_token(cancel.child_token());
    let factory_server = server.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(Served(factory_server.clone())),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );
    let guard = Arc::new(guard::Guard::new(&config));
    axum::Router::new()
        .nest_service("/mcp", mcp)
        .merge(legacy_sse::router(server, cancel))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}
