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
    let query = request.uri().query().map(str::to_owned);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    tracing::info!(%path, status = status.as_u16(), "injected fault");
    let message = match hit.message {
        Some(m) if m.contains('{') => Some(echo(&m, request).await),
        other => other,
    };
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let mut response = if is_token_path(&path) {
        oauth::fault_response(status, message.as_deref())
    } else if crate::meta::oauth::valid_version(first) {
        // Meta's own envelope (HTTP 400 + code for throttling, etc.).
        crate::meta::fault_response(status, message.as_deref(), hit.retry_after_secs)
    } else if crate::gads::valid_version(first) {
        // GoogleAdsFailure inside google.rpc.Status.
        crate::gads::fault_response(status, message.as_deref(), hit.retry_after_secs)
    } else {
        let pretty = http::wants_pretty(&http::query_pairs(query.as_deref()));
        let mut error = ApiError::for_status(status, Route::parse(&path).map(|r| r.method_id()));
        if let Some(reason) = hit.reason {
            error.reason = Some(reason);
            error.message = crate::google::rpc::reason_message(reason).to_owned();
        }
        if let Some(message) = message {
            error.message = message;
        }
        error.retry_after = hit
            .retry_after_secs
            .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
        error.retry_in_body_only = hit.retry_in_body_only;
        error.render(pretty)
    };
    if let Some(secs) = hit.retry_after_secs
        && !hit.retry_in_body_only
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Fills a fault message's placeholders with what the request carried, as an upstream that
/// quotes its input back would: `{authorization}` (the bearer token), and any query or form
/// field by name (`{refresh_token}`, `{client_secret}`, `{fb_exchange_token}`, …). Lets tests
/// check that nothing a server or the broker sent comes back out of it.
async fn echo(template: &str, request: Request) -> String {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let mut fields = http::query_pairs(request.uri().query());
    if let Ok(body) = axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        fields.extend(
            url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    let mut out = template.replace("{authorization}", &bearer);
    for (k, v) in fields {
        out = out.replace(&format!("{{{k}}}"), &v);
    }
    out
}
