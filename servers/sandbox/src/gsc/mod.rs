//! Google Search Console: webmasters v3 (`/webmasters/v3/…`: sites, searchAnalytics.query,
//! sitemaps) and the URL Inspection API (`/v1/urlInspection/index:inspect`).

use axum::extract::{Request, State};
use axum::response::Response;

use crate::state::AppState;

/// A declared Search Console property (optional metadata; any site a grant lists works).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFixture {
    /// `https://www.example.com/` or `sc-domain:example.com`.
    pub site_url: String,
}

/// Every request under `/webmasters/v3/` and `/v1/`.
pub async fn handle(State(_state): State<AppState>, request: Request) -> Response {
    crate::ga4::not_found(request.uri().path()).render(false)
}
