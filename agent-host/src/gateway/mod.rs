//! `agent-host gateway`: one HTTP endpoint through which remote MCP hosts and agents reach
//! exactly one shop's tools.
//!
//! A caller presents a shop key (`Authorization: Bearer bbk_…`) or an OAuth 2.1 access token;
//! the broker says which shop (and sources) it reaches, believed for at most a second, so a
//! revoked key or a removed subject is refused on the next request, across gateways sharing
//! the broker's database. The credential alone decides the shop: a path naming another shop is
//! refused, and nothing a caller sends reaches another shop's processes. Each shop's tools run
//! in that shop's own server set (the [`ShopPool`]: one lease per server, idle eviction, an LRU
//! cap, concurrent callers share one start); the caller's credential never reaches a server or
//! an upstream.
//!
//! MCP streamable HTTP, stateless (no sticky sessions: any gateway behind a load balancer can
//! answer any request): `/mcp` serves the union of the credential's sources, `/mcp/{source}` one
//! source, and `/shops/{shop_id}/mcp[/{source}]` the same for clients that name the shop.
//!
//! # Layout
//! - this file: the flags and the server (routes, layers, TLS, shutdown);
//! - `admission`: the middleware that turns a request's credential and path into a [`Caller`];
//! - `oauth`: access-token verification against the issuers' keys;
//! - `limits`: per-key rate and concurrency, and the token bucket;
//! - `mcp`: the MCP handler serving the caller's shop's tools.

mod admission;
mod limits;
mod mcp;
mod oauth;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use broker_proto::Provider;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::pool::ShopPool;
use crate::server_set::{HOST_LEASE_TTL, SetConfig};
pub use admission::Caller;
use admission::{Admission, admit, protected_resource};
use limits::{Bucket, Limits, UNKNOWN_KEY_CHECKS_PER_SEC};
use mcp::Gateway;
use oauth::OAuth;

/// `agent-host gateway` flags.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// Address to listen on (port 0 picks a free one; the first stdout line says which).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Serve Prometheus metrics at http://ADDR/metrics (tool calls, live shop sets);
    /// `--metrics` alone listens on 127.0.0.1:9465.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = metrics_endpoint::GATEWAY_ADDR)]
    pub metrics: Option<SocketAddr>,
    /// Credential broker socket.
    #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
    pub broker_socket: Option<PathBuf>,
    /// Upstream base URL passed on to the servers (the sandbox).
    #[arg(long, value_name = "URL", env = "BERRYBOO_API_BASE")]
    pub api_base: Option<String>,
    /// The URL callers use to reach this gateway (its host is accepted in `Host`).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<url::Url>,
    /// Shops with live server sets at once (the least recently used idle one goes first).
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_live_shops: u32,
    /// A shop's servers end after this long without a call.
    #[arg(long, default_value = "10m", value_parser = cli_kit::parse_duration)]
    pub idle: Duration,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "trust_proxy"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address because a TLS-terminating proxy in front of
    /// the gateway is the only way in.
    #[arg(long)]
    pub trust_proxy: bool,
    /// Trust OAuth 2.1 access tokens (JWTs, RS256/ES256) from this authorization server
    /// (its issuer URL; repeatable). Needs --public-url: tokens must name it in `aud`. Which
    /// shops a token's subject reaches is `credential-broker principal add`.
    #[arg(long, value_name = "URL", requires = "public_url")]
    pub oauth_issuer: Vec<String>,
    /// A browser origin whose pages may call the gateway (repeatable), e.g.
    /// `https://app.example.com`: it passes the Origin check and gets CORS answers. Other
    /// origins are refused (403) unless they are loopback; clients that are not browsers send
    /// no Origin and are not affected.
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,
    /// Requests per second one key may make, sustained (bursts of twice as many pass).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate_per_key: u32,
    /// Requests one key may have in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency_per_key: u32,
}

/// Runs the gateway until SIGINT/SIGTERM.
pub async fn run(args: GatewayArgs, file: &crate::config::HostFile) -> Result<ExitCode> {
    for issuer in &args.oauth_issuer {
        let loopback = url::Url::parse(issuer).ok().is_some_and(|u| {
            u.scheme() == "http"
                && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        });
        if !issuer.starts_with("https://") && !loopback {
            eprintln!(
                "agent-host: --oauth-issuer {issuer:?} must be an https:// URL (its keys decide who gets in)"
            );
            return Ok(ExitCode::from(2));
        }
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match mcp_common::transport::tls_acceptor(cert, key) {
            Ok(acceptor) => Some(acceptor),
            Err(e) => {
                eprintln!("agent-host: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() && !args.trust_proxy {
        eprintln!(
            "agent-host: refusing to serve plain HTTP on {}: callers' keys would cross the network in clear. \
             Pass --tls-cert and --tls-key, or put a TLS-terminating proxy in front and pass --trust-proxy, \
             or listen on 127.0.0.1.",
            args.listen
        );
        return Ok(ExitCode::from(2));
    }
    let metrics = Arc::new(crate::metrics::HostMetrics::default());
    let _metrics_endpoint = args.metrics.map(|addr| metrics.serve(addr));
    let config = Arc::new(SetConfig {
        metrics,
        broker_socket: args
            .broker_socket
            .clone()
            .unwrap_or_else(broker_proto::default_socket_path),
        servers_dir: crate::children::servers_dir()?,
        api_base: args.api_base.clone(),
        lease_ttl: HOST_LEASE_TTL,
        child_log: "error".into(),
        host_key: file.host_key.clone(),
    });
    // The resource this gateway is (its public URL), and where its metadata is (RFC 9728).
    let oauth_config = (!args.oauth_issuer.is_empty())
        .then_some(args.public_url.as_ref())
        .flatten()
        .map(|u| {
            let audience = u.as_str().trim_end_matches('/').to_owned();
            let metadata = format!("{audience}/.well-known/oauth-protected-resource");
            (audience, metadata)
        });
    let resource_metadata = oauth_config.as_ref().map(|(audience, _)| {
        serde_json::json!({
            "resource": audience,
            "authorization_servers": args.oauth_issuer.clone(),
            "bearer_methods_supported": ["header"],
            "resource_name": "berryboo shop gateway",
        })
    });
    let pool = Arc::new(ShopPool::new(
        config.clone(),
        Provider::ALL.to_vec(),
        args.idle,
        args.max_live_shops as usize,
    ));
    let admission = Arc::new(Admission {
        config,
        checked: Mutex::new(HashMap::new()),
        limits: Limits::new(args.rate_per_key, args.concurrency_per_key),
        unknown: Bucket::new(UNKNOWN_KEY_CHECKS_PER_SEC),
        oauth: oauth_config.as_ref().map(|(audience, metadata_url)| OAuth {
            issuers: args.oauth_issuer.clone(),
            audience: audience.clone(),
            metadata_url: metadata_url.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            shops: Mutex::new(HashMap::new()),
        }),
    });
    let cancel = CancellationToken::new();
    let mcp = StreamableHttpService::new(
        {
            let pool = pool.clone();
            move || Ok(Gateway { pool: pool.clone() })
        },
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .disable_allowed_origins()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_cancellation_token(cancel.child_token()),
    );
    let http = mcp_common::cli::HttpConfig {
        bind: args.listen,
        key: None,
        allowed_hosts: args
            .public_url
            .as_ref()
            .and_then(|u| u.host_str())
            .map(|h| vec![h.to_owned()])
            .unwrap_or_default(),
        allowed_origins: args.allowed_origins.clone(),
        max_sessions: 0,
        session_idle: args.idle,
        header_timeout: Duration::from_secs(30),
    };
    let guard = Arc::new(mcp_common::transport::guard::Guard::new(&http));
    let app = axum::Router::new()
        .route_service("/mcp", mcp.clone())
        .route_service("/mcp/{source}", mcp.clone())
        .route_service("/shops/{shop}/mcp", mcp.clone())
        .route_service("/shops/{shop}/mcp/{source}", mcp)
        // Inside admission: nobody without a key makes the gateway hold a body.
        .layer(axum::middleware::from_fn_with_state(
            http.header_timeout,
            mcp_common::transport::limits::cap_body,
        ))
        .layer(axum::middleware::from_fn_with_state(admission, admit))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/.well-known/oauth-protected-resource",
            axum::routing::get({
                let m = resource_metadata.clone();
                move || async move { protected_resource(m) }
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/{*path}",
            axum::routing::get(move || async move { protected_resource(resource_metadata) }),
        );
    // Inside the guard (an origin it refuses gets no CORS answer), outside admission (a
    // preflight carries no key); without --allowed-origin, no CORS at all.
    let app = if args.allowed_origins.is_empty() {
        app
    } else {
        app.layer(cors(&args.allowed_origins))
    };
    let app = app.layer(axum::middleware::from_fn_with_state(
        guard,
        mcp_common::transport::guard::check,
    ));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let scheme = if tls.is_some() { "https" } else { "http" };
        writeln!(stdout, "listening on {scheme}://{local}")?;
        stdout.flush()?;
    }
    tracing::info!(%local, "gateway serving MCP at /mcp, /mcp/{{source}}, /shops/{{id}}/mcp");
    let sweeper = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(15));
            loop {
                tick.tick().await;
                pool.sweep().await;
            }
        })
    };
    let served = mcp_common::transport::serve_router(
        app,
        listener,
        http.header_timeout,
        tls,
        cancel,
        cli_kit::shutdown_signal(),
    )
    .await;
    sweeper.abort();
    pool.shutdown().await;
    served.context("the gateway's HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// `--allowed-origin`: `scheme://host[:port]` (or `:*` for any port), nothing after it, kept
/// in the form browsers send (lowercase, punycode, no default port).
fn parse_origin(value: &str) -> Result<String, String> {
    let example = "e.g. https://app.example.com";
    let trimmed = value.trim_end_matches('/');
    let (base, any_port) = match trimmed.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (trimmed, false),
    };
    let url = url::Url::parse(base).map_err(|e| format!("{e}; {example}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("an origin is http(s)://host[:port], {example}"));
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(format!("an origin has no path, query or user, {example}"));
    }
    if any_port && url.port().is_some() {
        return Err(format!("a port, or :* for any port, not both; {example}"));
    }
    let origin = url.origin().ascii_serialization();
    Ok(if any_port {
        format!("{origin}:*")
    } else {
        origin
    })
}

/// CORS for browser clients on `origins`: the headers an MCP client sends and reads, no
/// cookies (the credential is a bearer header). An origin matches exactly, or on any port
/// with `:*`.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = origins.to_vec();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| {
                let o = o.to_ascii_lowercase();
                origins.iter().any(|a| {
                    *a == o
                        || (a.ends_with(":*")
                            && mcp_common::transport::guard::origin_matches(a, &o))
                })
            })
        }))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            HeaderName::from_static("mcp-session-id"),
        ])
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        for (flag, kept) in [
            ("https://App.Example.com/", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            (
                "https://app.example.com:8443",
                "https://app.example.com:8443",
            ),
            ("http://localhost:*", "http://localhost:*"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
        ] {
            assert_eq!(parse_origin(flag).as_deref(), Ok(kept), "{flag}");
        }
        for bad in [
            "app.example.com",
            "https://user:pw@app.example.com",
            "https://app.example.com/path",
            "https://app.example.com?q=1",
            "ftp://app.example.com",
            "https://app.example.com:8443:*",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
