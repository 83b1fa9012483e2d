//! The 2024-11-05 "HTTP with SSE" transport, for clients that predate streamable HTTP.
//!
//! rmcp 3 dropped it, so this is a thin adapter over rmcp's generic (sink, stream) transport:
//! `GET /sse` opens a session and an event stream whose first event (`endpoint`) names
//! `/message?sessionId=…`; the client POSTs each JSON-RPC message there (answered `202`), and
//! every server message arrives as an `event: message` on the stream. Closing the stream ends
//! the session; so does a client that sends nothing for the idle timeout, and sessions are
//! capped like streamable HTTP's.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, stream};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::handler::{Served, ToolServer};

/// Messages a session buffers in each direction before the sender waits.
const CHANNEL_DEPTH: usize = 64;

type Sessions = Arc<Mutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>>;

struct SseState<S> {
    server: S,
    sessions: Sessions,
    cancel: CancellationToken,
    max_sessions: usize,
    idle: Duration,
}

/// Routes `/sse` and `/message` for `server`: at most `max_sessions` sessions, each closed
/// after `idle` without a message from its client.
pub fn router<S: ToolServer>(
    server: S,
    cancel: CancellationToken,
    max_sessions: usize,
    idle: Duration,
) -> axum::Router {
    let state = Arc::new(SseState {
        server,
        sessions: Sessions::default(),
        cancel,
        max_sessions,
        idle,
    });
    axum::Router::new()
        .route("/sse", axum::routing::get(open::<S>))
        .route("/message", axum::routing::post(post::<S>))
        .with_state(state)
}

/// Removes a session when its event stream is dropped (client went away), which closes the
/// channel into the MCP service and so ends it.
struct SessionGuard {
    id: String,
    sessions: Sessions,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

async fn open<S: ToolServer>(State(state): State<Arc<SseState<S>>>) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL_DEPTH);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL_DEPTH);
    {
        let mut sessions = state
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= state.max_sessions {
            tracing::warn!(
                max = state.max_sessions,
                "refused a legacy SSE session: at the cap"
            );
            return super::limits::too_many_sessions(state.max_sessions);
        }
        sessions.insert(id.clone(), to_server);
    }
    // A client that sends nothing for `idle` loses its session: the message stream ends, the
    // MCP service with it, and so the event stream (and the session entry with its guard).
    let idle = state.idle;
    let from_client = tokio_stream::StreamExt::timeout(ReceiverStream::new(from_client), idle)
        .take_while(|m| std::future::ready(m.is_ok()))
        .filter_map(|m| std::future::ready(m.ok()));

    let served = Served(state.server.clone());
    let cancel = state.cancel.child_token();
    let session = id.clone();
    tokio::spawn(async move {
        let transport = (PollSender::new(to_client), Box::pin(from_client));
        match served.serve_with_ct(transport, cancel).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::info!(%session, "legacy SSE session ended before initialize: {e}"),
        }
    });
    tracing::debug!(session = %id, "legacy SSE session opened");

    let guard = SessionGuard {
        id: id.clone(),
        sessions: state.sessions.clone(),
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/message?sessionId={id}"));
    let messages = ReceiverStream::new(from_server).map(move |message| {
        let _keep_session_until_stream_drops = &guard;
        let data = serde_json::to_string(&message).unwrap_or_else(|e| {
            tracing::error!("cannot serialise a server message: {e}");
            String::from("{}")
        });
        Ok(Event::default().event("message").data(data))
    });
    Sse::new(stream::once(async move { Ok::<_, Infallible>(endpoint) }).chain(messages))
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

async fn post<S: ToolServer>(
    State(state): State<Arc<SseState<S>>>,
    query: Result<Query<SessionQuery>, QueryRejection>,
    body: Bytes,
) -> Response {
    let Ok(Query(query)) = query else {
        return (
            StatusCode::BAD_REQUEST,
            "missing sessionId query parameter; open GET /sse first",
        )
            .into_response();
    };
    let sender = state
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&query.session_id)
        .cloned();
    let Some(sender) = sender else {
        return (
            StatusCode::NOT_FOUND,
            "unknown or closed session; open GET /sse again",
        )
            .into_response();
    };
    let message: ClientJsonRpcMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a JSON-RPC message: {e}"),
            )
                .into_response();
        }
    };
    match sender.send(message).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => (StatusCode::GONE, "session has ended; open GET /sse again").into_response(),
    }
}
