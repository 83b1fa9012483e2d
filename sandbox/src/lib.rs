//! `upstream-sandbox`: an offline emulator of Google's OAuth token endpoint, the GA4 Data +
//! Admin APIs, Search Console, Google Ads (GAQL) and Meta's Graph/Marketing API, speaking the
//! real wire formats (paths, colon custom methods, JSON shapes, error envelopes) so MCP servers
//! can be tested end to end without internet.
//!
//! Data is synthetic but deterministic: every number is a function of the fixture, the
//! account id, the date and the dimension values (see [`ga4::model`]), consistent across
//! sources for one shop. Faults, revocations, token expiry and Meta throttling are switched at
//! runtime through the `/__sandbox/` control plane.
//!
//! # Layout
//! - [`fixtures`]: the TOML fixture format ([`Fixtures`]).
//! - [`google`]: OAuth token endpoint, bearer auth, `google.rpc.Status` errors.
//! - [`ga4`]: GA4 Data/Admin API routing, catalog, data model and report engine.
//! - [`gsc`]: Search Console sites, search analytics, URL inspection, sitemaps.
//! - [`gads`]: Google Ads customers, GAQL parser and engine, field service, manager accounts.
//! - [`meta`]: Meta Graph API: token exchange, ad accounts, campaigns…creatives, insights.
//! - `faults`, `control`: fault injection middleware and the `/__sandbox` control plane.
//! - `state`: issued tokens, revocations, faults and counters behind one mutex.
//!
//! # Running
//! `upstream-sandbox --fixtures examples/sandbox-fixtures.toml --today 2026-10-20` prints
//! `listening on http://127.0.0.1:PORT` and serves until SIGTERM/Ctrl-C.

#![deny(missing_docs)]

pub mod authz;
pub mod error;
pub mod fixtures;
pub mod ga4;
pub mod gads;
pub mod google;
pub mod gsc;
pub mod meta;

mod control;
mod faults;
mod hash;
mod http;
mod state;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use tracing::Instrument;

pub use error::Error;
pub use fixtures::Fixtures;

/// Start-up configuration of the sandbox.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Loaded fixtures.
    pub fixtures: Fixtures,
    /// Fixed "today" (and "now" = 12:00 local). `None` uses the real date in each
    /// property's time zone.
    pub today: Option<chrono::NaiveDate>,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_ttl: std::time::Duration,
    /// Largest page `googleAdsFields:search` answers with (Google may cut a page shorter
    /// than asked: clients must follow `nextPageToken`).
    pub ads_fields_page_size: usize,
}

impl SandboxConfig {
    /// A configuration with the real clock and a one-hour token lifetime.
    pub fn new(fixtures: Fixtures) -> Self {
        Self {
            fixtures,
            today: None,
            token_ttl: std::time::Duration::from_secs(3600),
            ads_fields_page_size: gads::FIELDS_MAX_PAGE,
        }
    }
}

/// Builds the router (state included), e.g. for `tower::ServiceExt::oneshot` in tests.
pub fn app(config: SandboxConfig) -> Router {
    let state = Arc::new(state::Shared::new(config));
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            axum::routing::get(authz::metadata),
        )
        .route("/oauth/jwks", axum::routing::get(authz::jwks))
        .route("/oauth/token", axum::routing::post(authz::token))
        .route("/oauth/register", axum::routing::post(authz::register))
        .route("/oauth/authorize", axum::routing::get(authz::authorize))
        .route("/token", any(google::oauth::token))
        .route("/oauth2/v4/token", any(google::oauth::token))
        .route("/v1beta/{*rest}", any(ga4::handle))
        .route("/v1alpha/{*rest}", any(ga4::handle))
        .route("/webmasters/v3/{*rest}", any(gsc::handle))
        .route("/v1/{*rest}", any(gsc::handle))
        .route("/{version}/{*rest}", any(versioned))
        .nest("/__sandbox", control::router())
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
}

/// Serves the sandbox on `listener` until `shutdown` completes.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "upstream sandbox serving");
    }
    // Like Google's and Meta's front ends, answer without waiting for the client's delayed ACK
    // (a response written in pieces would otherwise stall ~40 ms on a kept-alive connection).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `/{version}/…` is Google Ads' (`v26`) or Meta's (`v26.0`): one route, told apart here.
async fn versioned(
    state: axum::extract::State<state::AppState>,
    axum::extract::Path((version, rest)): axum::extract::Path<(String, String)>,
    request: Request,
) -> Response {
    if meta::oauth::valid_version(&version) {
        meta::handle(state, version, rest, request).await
    } else if gads::valid_version(&version) {
        gads::handle(state, version, rest, request).await
    } else {
        let pretty = http::wants_pretty(&http::query_pairs(request.uri().query()));
        ga4::not_found(&http::percent_decode_path(request.uri().path())).render(pretty)
    }
}

/// Meta's answer to an unknown path (its own envelope, not Google's).
pub(crate) fn meta_not_found(path: &str) -> Response {
    let body = serde_json::json!({"error": {
        "message": format!("Unknown path components: {path}"),
        "type": "OAuthException",
        "code": 2500,
        "fbtrace_id": "Sandbox",
    }});
    http::json(axum::http::StatusCode::BAD_REQUEST, &body, false)
}

async fn fallback(request: Request) -> Response {
    let pretty = http::wants_pretty(&http::query_pairs(request.uri().query()));
    ga4::not_found(&http::percent_decode_path(request.uri().path())).render(pretty)
}

/// One span per request; the path is logged without the query (it may hold a token).
async fn log_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Like Google's front ends, a request continues the caller's trace (`traceparent`), so a
    // test sees the header arrive where the upstream call ends.
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
    );
    telemetry::propagate::follow_headers(&span, request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("status", status);
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request handled"
        );
    });
    response
}
