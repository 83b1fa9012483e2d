//! Serving a [`ToolServer`] over stdio or HTTP.
//!
//! HTTP carries two transports on one listener: streamable HTTP at `/mcp` (rmcp) and the
//! 2024-11-05 HTTP+SSE transport at `/sse` + `/message` ([`legacy_sse`]), both behind one
//! [`guard`] (Host/Origin checks against DNS rebinding, bearer key) and the [`limits`] a hostile
//! local user meets: a body cap, a session cap with idle expiry, header and idle-connection
//! timeouts.

pub mod guard;
pub mod jsonrpc;
pub mod legacy_sse;
pub mod limits;
pub mod stdio;

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
    // The service speaks on an in-process pipe; the pump checks every line from stdin first
    // (size, depth) and answers what it refuses.
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    // rmcp's stdio_pipes: non-blocking pipes on the reactor (a thread hand-off per message
    // otherwise).
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let pump = tokio::spawn(stdio::pump(stdin, stdout, theirs));
    let running = Served(server)
        .serve(ours)
        .await
        .map_err(|e| ServeError::Session(e.to_string()))?;
    let cancel = running.cancellation_token();
    tokio::spawn(async move {
        shutdown.await;
        cancel.cancel();
    });
    let ended = running.waiting().await;
    // Whatever the service wrote last reaches stdout before the process exits.
    let _ = pump.await;
    ended.map_err(|e| ServeError::Session(e.to_string()))?;
    Ok(())
}

/// Largest request body accepted (a JSON-RPC message with tool arguments is a few KB).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Serves on an already-bound listener (tests bind port 0 and pass it in): each connection
/// with `TCP_NODELAY` (a response written in pieces must not wait for the client's delayed
/// ACK), the header/idle-connection timeout, and a graceful stop when `shutdown` resolves.
pub async fn serve_http<S: ToolServer>(
    server: S,
    listener: tokio::net::TcpListener,
    config: HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if config.key.is_none() {
        tracing::warn!(
            "serving HTTP without a bearer key (--allow-unauthenticated): every local user can call these tools with this server's credentials"
        );
    }
    let cancel = CancellationToken::new();
    let header_timeout = config.header_timeout;
    let app = router(server, config, cancel.clone());
    serve_router(app, listener, header_timeout, None, cancel, shutdown).await
}

/// Three quarters of the descriptors this process may open (at least 64): the rest stay for
/// files, the broker, child processes' pipes.
fn max_connections() -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    let soft = getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    usize::try_from(soft / 4 * 3).unwrap_or(usize::MAX).max(64)
}

/// A TLS acceptor from PEM files: the certificate chain and its private key. Offers HTTP/2 and
/// HTTP/1.1 (ALPN).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    let mut config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not make a TLS configuration: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener`: each connection with `TCP_NODELAY`, `header_timeout` for
/// headers and idle keep-alive connections (slowloris), HTTP/1 and HTTP/2, and a graceful stop
/// when `shutdown` resolves (then `cancel` is cancelled, ending streams). The gateway serves
/// its own app through this too.
pub async fn serve_router(
    app: axum::Router,
    listener: tokio::net::TcpListener,
    header_timeout: std::time::Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cancel: CancellationToken,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(header_timeout)
        .keep_alive_timeout(header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Connections held at once: beyond this, new ones wait in the listen backlog instead of
    // taking the descriptors every connection (and the broker, the children) needs.
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections()));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let served = match tls {
                None => {
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(connection.into_owned()).await
                }
                // The handshake runs here, off the accept loop, and within the header timeout:
                // a client that stalls it holds only its own task.
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let connection = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(connection.into_owned()).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!("connection closed: {e}");
            }
        });
    }
    cancel.cancel();
    // Streams (SSE) end with their sessions; give connections a moment to finish.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// The HTTP app: `/mcp`, `/sse`, `/message`, `/healthz`, all behind the guard, with a body
/// cap and a session cap.
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
    let mut sessions = LocalSessionManager::default();
    // Idle sessions end (and are removed) after this long, returning their memory.
    sessions.session_config.keep_alive = Some(config.session_idle);
    let sessions = Arc::new(sessions);
    let factory_server = server.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(Served(factory_server.clone())),
        sessions.clone(),
        mcp_config,
    );
    let cap = Arc::new(limits::SessionCap::new(sessions, config.max_sessions));
    let guard = Arc::new(guard::Guard::new(&config));
    axum::Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(
            cap,
            limits::cap_sessions,
        ))
        .merge(legacy_sse::router(
            server,
            cancel,
            config.max_sessions,
            config.session_idle,
        ))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(
            config.header_timeout,
            limits::cap_body,
        ))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}
