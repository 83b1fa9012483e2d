//! Meta Graph / Marketing API (`/{version}/…`, e.g. `/v26.0/act_111/insights`): ad accounts,
//! campaigns, ad sets, ads, creatives, insights, cursor paging, Meta's error envelope and
//! rate-limit headers — and the long-lived token exchange ([`oauth`]).
//!
//! # Layout
//! - [`graph`]: routing and the order of checks; [`auth`]: tokens; [`error`]: the envelope.
//! - [`account`]: `[[meta_ad_accounts]]` and resolved accounts; [`tree`]: their campaigns,
//!   ad sets, ads and creatives; [`nodes`]: fields per node type and rendering.
//! - [`model`]: daily delivery quantities (linked to GA4 "Paid Social" sessions when the
//!   account declares `ga4_property`); [`breakdown`], [`dates`], [`insights`]: the insights
//!   edge; [`filter`]: `effective_status` / `filtering`; [`paging`]: cursors and links.
//! - [`usage`]: per-account usage, throttles and revocations ([`MetaRuntime`]), and the
//!   `X-Business-Use-Case-Usage` headers; [`control`]: the `/__sandbox/meta/*` handlers.

pub mod account;
pub mod auth;
pub mod breakdown;
pub mod control;
pub mod dates;
pub mod error;
pub mod fields;
pub mod filter;
pub mod graph;
pub mod insights;
pub mod model;
pub mod nodes;
pub mod oauth;
pub mod paging;
pub mod tree;
pub mod usage;

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::http;
use crate::state::AppState;

pub use account::AdAccountFixture;
pub use error::GraphError;
pub use usage::MetaRuntime;

/// Every `/{version}/{rest}` request whose version looks like Meta's (`v26.0`).
pub async fn handle(
    State(state): State<AppState>,
    version: String,
    rest: String,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if rest == "oauth/access_token" {
        let query = RawQuery(parts.uri.query().map(str::to_owned));
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_else(|_| Bytes::new());
        return oauth::access_token(State(state), version, query, body).await;
    }
    let params = http::query_pairs(parts.uri.query());
    // Insights over long ranges are a few milliseconds of arithmetic; keep them off the
    // async workers so concurrent requests are not stalled.
    let task = tokio::task::spawn_blocking(move || {
        let request = graph::Request {
            version: &version,
            rest: &rest,
            method: &parts.method,
            headers: &parts.headers,
            params,
        };
        graph::serve(&state, &request)
    });
    match task.await {
        Ok(response) => response,
        Err(_) => GraphError::unknown().render(),
    }
}

/// The answer to an injected fault on a Meta path, in Meta's format: 429 → code 17 (HTTP
/// 400, as Meta throttles), 5xx → code 2 (HTTP 500, transient), 401 → 190, 403 → 200,
/// anything else → code 1 (HTTP 400). A fault `message` replaces the text.
pub fn fault_response(
    status: StatusCode,
    message: Option<&str>,
    _retry_after_secs: Option<u64>,
) -> Response {
    let mut error = match status.as_u16() {
        429 => GraphError::throttled(17, false),
        500..=599 => GraphError::service_unavailable(),
        401 => GraphError::invalid_token(),
        403 => GraphError::no_ads_permission(),
        _ => GraphError::unknown(),
    };
    if let Some(m) = message {
        error.message = m.to_owned();
    }
    error.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn faults_map_to_meta_codes() {
        let cases = [
            (429, 400, 17),
            (503, 500, 2),
            (500, 500, 2),
            (401, 400, 190),
            (403, 400, 200),
            (404, 400, 1),
        ];
        for (fault, http_status, code) in cases {
            let r = fault_response(StatusCode::from_u16(fault).unwrap(), None, Some(3));
            assert_eq!(r.status().as_u16(), http_status, "{fault}");
            let v = body(r).await;
            assert_eq!(v["error"]["code"], code, "{fault}");
            assert!(v["error"]["fbtrace_id"].is_string());
        }
        let r = fault_response(StatusCode::BAD_GATEWAY, Some("boom"), None);
        let v = body(r).await;
        assert_eq!(v["error"]["message"], "boom");
        assert_eq!(v["error"]["is_transient"], true);
    }
}
