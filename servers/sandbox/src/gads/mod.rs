//! Google Ads API REST (`/v{N}/…`): `customers:listAccessibleCustomers`,
//! `customers/{id}/googleAds:search` and `:searchStream` with a GAQL parser,
//! `googleAdsFields:search`, GoogleAdsFailure errors.

use axum::extract::{Request, State};
use axum::response::Response;

use crate::state::AppState;

/// A declared Ads customer (optional metadata; any customer a grant lists works).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerFixture {
    /// Ten digits, no dashes.
    pub id: String,
}

/// Every `/{version}/{rest}` request whose version looks like Google Ads' (`v26`).
pub async fn handle(
    State(_state): State<AppState>,
    version: String,
    rest: String,
    _request: Request,
) -> Response {
    crate::ga4::not_found(&format!("/{version}/{rest}")).render(false)
}

/// `v26`-style Google Ads API versions.
pub fn valid_version(v: &str) -> bool {
    v.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The answer to an injected fault on a Google Ads path, in Google Ads's error format. (Placeholder until
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
