//! Limits that keep one HTTP client from taking a server's memory: a cap on request bodies and
//! a cap on concurrent MCP sessions (idle ones expire, see `HttpConfig::session_idle`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::MAX_BODY;

/// Refuses a body over [`super::MAX_BODY`]: at once when `Content-Length` says so (413), and
/// by cutting a streamed body off at the limit otherwise.
pub async fn cap_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {} MiB", MAX_BODY >> 20),
        )
            .into_response();
    }
    let (parts, body) = request.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, MAX_BODY));
    next.run(Request::from_parts(parts, limited)).await
}

/// The streamable HTTP sessions and how many may exist.
pub struct SessionCap {
    sessions: Arc<LocalSessionManager>,
    max: usize,
    /// Session creation is checked and done one at a time, so the cap holds exactly.
    creating: tokio::sync::Mutex<()>,
}

impl SessionCap {
    /// A cap of `max` over `sessions`.
    pub fn new(sessions: Arc<LocalSessionManager>, max: usize) -> Self {
        Self {
            sessions,
            max,
            creating: tokio::sync::Mutex::new(()),
        }
    }
}

/// The answer when every session slot is taken.
pub fn too_many_sessions(max: usize) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "this server holds its maximum of {max} MCP sessions; retry later (idle sessions expire), or close sessions you no longer use"
        ),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    response
}

/// A POST without `Mcp-Session-Id` opens a session (the initialize request): admitted only
/// while fewer than the cap exist.
pub async fn cap_sessions(
    State(cap): State<Arc<SessionCap>>,
    request: Request,
    next: Next,
) -> Response {
    let opens_session = request.method() == axum::http::Method::POST
        && !request.headers().contains_key("mcp-session-id");
    if !opens_session {
        return next.run(request).await;
    }
    let _one_at_a_time = cap.creating.lock().await;
    if cap.sessions.sessions.read().await.len() >= cap.max {
        tracing::warn!(max = cap.max, "refused a new MCP session: at the cap");
        return too_many_sessions(cap.max);
    }
    next.run(request).await
}
