//! Limits that keep one HTTP client from taking a server's memory or its attention: a cap on
//! request bodies and the time to send one, and a cap on concurrent MCP sessions (idle ones
//! expire, see `HttpConfig::session_idle`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::MAX_BODY;

/// Refuses a body over [`super::MAX_BODY`] (413, at once when `Content-Length` says so) or one
/// that does not arrive within `deadline` (408): a client that stalls mid-body holds nothing.
/// The body is read here, so what runs next never waits on the client.
pub async fn cap_body(
    State(deadline): State<std::time::Duration>,
    request: Request,
    next: Next,
) -> Response {
    use http_body_util::BodyExt;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {} MiB", MAX_BODY >> 20),
        )
            .into_response()
    };
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let body = match tokio::time::timeout(deadline, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(_)) => return (StatusCode::BAD_REQUEST, "unreadable request body").into_response(),
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                format!("request body not received within {} s", deadline.as_secs()),
            )
                .into_response();
        }
    };
    if parts.uri.path() == "/mcp"
        && let Some(answer) = super::jsonrpc::invalid_call(&body)
    {
        // As rmcp answers a request in JSON mode: the JSON-RPC error in a 200.
        return (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            answer.to_string(),
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The streamable HTTP sessions and how many may exist.
pub struct SessionCap {
    sessions: Arc<LocalSessionManager>,
    max: usize,
    /// Sessions being opened now (admitted, not yet in `sessions`).
    opening: std::sync::atomic::AtomicUsize,
    /// Admission is checked one request at a time, so the cap holds exactly; the lock is not
    /// held while a session opens.
    admitting: tokio::sync::Mutex<()>,
}

impl SessionCap {
    /// A cap of `max` over `sessions`.
    pub fn new(sessions: Arc<LocalSessionManager>, max: usize) -> Self {
        Self {
            sessions,
            max,
            opening: std::sync::atomic::AtomicUsize::new(0),
            admitting: tokio::sync::Mutex::new(()),
        }
    }
}

/// A slot being opened; given back when the request is done (the session, if one opened, is
/// counted in the manager by then).
struct Opening<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
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
    let _opening = {
        let _one_at_a_time = cap.admitting.lock().await;
        let open = cap.sessions.sessions.read().await.len();
        let opening = cap.opening.load(std::sync::atomic::Ordering::SeqCst);
        if open + opening >= cap.max {
            tracing::warn!(max = cap.max, "refused a new MCP session: at the cap");
            return too_many_sessions(cap.max);
        }
        cap.opening
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Opening(&cap.opening)
    };
    next.run(request).await
}
