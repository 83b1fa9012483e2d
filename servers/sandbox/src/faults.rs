//! Fault injection middleware: requests (outside `/__sandbox`) whose percent-decoded path
//! starts with an active fault's prefix are delayed and/or answered with the fault's status
//! in the upstream's own error format (OAuth JSON at the token endpoint, `google.rpc.Status`
//! elsewhere), with `Retry-After` when configured.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::ga4::Route;
use crate::google::oauth;
use crate::google::rpc::ApiError;
use crate::http;
use crate::state::AppState;

/// Longest delay a fault may ask for.
pub const MAX_DELAY_MS: u64 = 300_000;

/// Whether a path is the OAuth token endpoint.
pub fn is_token_path(path: &str) -> bool {
    path == "/token" || path == "/oauth2/v4/token"
}

/// The middleware.
pub async fn inject(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let raw = request.uri().path();
    if raw.starts_with("/__sandbox") {
        return next.run(request).await;
    }
    let path = http::percent_decode_path(raw);
    let Some(hit) = state.take_fault(request.method().as_str(), &path) else {
        return next.run(request).await;
    };
    if hit.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(hit.delay_ms.min(MAX_DELAY_MS))).await;
    }
    let Some(status) = hit.status else {
        return next.run(request).await;
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    tracing::info!(%path, status = status.as_u16(), "injected fault");
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let mut response = if is_token_path(&path) {
        oauth::fault_response(status, hit.message.as_deref())
    } else if crate::meta::oauth::valid_version(first) {
        // Meta's own envelope (HTTP 400 + code for throttling, etc.).
        crate::meta::fault_response(status, hit.message.as_deref(), hit.retry_after_secs)
    } else if crate::gads::valid_version(first) {
        // GoogleAdsFailure inside google.rpc.Status.
        crate::gads::fault_response(status, hit.message.as_deref(), hit.retry_after_secs)
    } else {
        let pretty = http::wants_pretty(&http::query_pairs(request.uri().query()));
        let mut error = ApiError::for_status(status, Route::parse(&path).map(|r| r.method_id()));
        if let Some(message) = hit.message {
            error.message = message;
        }
        error.retry_after = hit
            .retry_after_secs
            .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
        error.render(pretty)
    };
    if let Some(secs) = hit.retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
