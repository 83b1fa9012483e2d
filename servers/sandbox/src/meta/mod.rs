//! Meta Graph / Marketing API (`/{version}/…`, e.g. `/v26.0/act_111/insights`): ad accounts,
//! campaigns, ad sets, ads, creatives, insights, cursor paging, Meta's error envelope and
//! rate-limit headers — and the long-lived token exchange ([`oauth`]).

pub mod oauth;

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::response::Response;

use crate::state::AppState;

/// A declared ad account (optional; any account a token lists works without one).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdAccountFixture {
    /// `act_<digits>`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Every `/{version}/{rest}` request whose version looks like Meta's (`v26.0`).
pub async fn handle(
    state: State<AppState>,
    version: String,
    rest: String,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let query = RawQuery(parts.uri.query().map(str::to_owned));
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };
    if rest == "oauth/access_token" {
        return oauth::access_token(state, version, query, body).await;
    }
    crate::meta_not_found(&format!("/{version}/{rest}"))
}

/// The answer to an injected fault on a Meta path, in Meta's error format. (Placeholder until
/// the module implements it: Google's generic envelope.)
pub fn fault_response(
    status: axum::http::StatusCode,
    message: Option<&str>,
    retry_after_secs: Option<u64>,
) -> Response {
    let mut error = crate::google::rpc::ApiError::for_status(status, None);
    if let Some(m) = message {
        error.message = m.to_owned();
    }
    error.retry_after = retry_after_secs.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
    error.render(false)
}
