//! The sandbox control plane under `/__sandbox/` (no auth, plain JSON): faults, grant
//! revocation, token expiry, counters, reset and health. Tests and the demo drive it; it is
//! not part of any emulated upstream. Errors are `{"error": "<message>"}` with 400/404.
//!
//! | method + path | body | reply |
//! |---|---|---|
//! | `POST /faults` | `{path_prefix, status?, count?, retry_after_secs?, retry_in_body_only?, reason?, delay_ms?, method?, message?}` | `{"id"}` |
//! | `GET /faults` | – | `{"faults": [..]}` |
//! | `DELETE /faults`, `DELETE /faults/{id}` | – | `{"cleared": n}` |
//! | `POST /grants/revoke`, `POST /grants/restore` | `{"name"}` or `{"refresh_token"}` | `{"revoked"/"restored": name, ..}` |
//! | `POST /tokens/expire` | optional `{"name"}` | `{"expired": n}` |
//! | `GET /counters` | – | see `state::Counters` |
//! | `POST /reset` | – | `{"reset": true}` |
//! | `GET /health` | – | `{"status": "ok"}` |
//! | `POST /meta/revoke`, `POST /meta/restore`, `POST`/`DELETE /meta/throttle`, `GET /meta/usage` | see `meta::control` | |

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::MAX_DELAY_MS;
use crate::http;
use crate::state::{AppState, Fault};

fn ok(body: Value) -> Response {
    http::json(StatusCode::OK, &body, true)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    http::json(status, &json!({"error": message.into()}), true)
}

/// A control-plane failure: status plus a message, rendered as `{"error": …}`.
struct ControlError(StatusCode, String);

impl ControlError {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ControlError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ControlError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

/// The control-plane routes (mounted at `/__sandbox`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route(
            "/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/faults/{id}", delete(delete_fault))
        .route("/grants", get(grants))
        .route("/grants/revoke", post(revoke))
        .route("/grants/restore", post(restore))
        .route("/tokens/expire", post(expire))
        .route("/counters", get(counters))
        .route("/reset", post(reset))
        .route("/meta/revoke", post(crate::meta::control::revoke))
        .route("/meta/restore", post(crate::meta::control::restore))
        .route(
            "/meta/throttle",
            post(crate::meta::control::throttle).delete(crate::meta::control::clear_throttles),
        )
        .route(
            "/meta/usage",
            get(crate::meta::control::usage).post(crate::meta::control::set_usage),
        )
        .route("/ga4/quota", post(ga4_quota).get(ga4_quota_used))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "unknown sandbox endpoint") })
}

async fn health() -> Response {
    ok(json!({"status": "ok"}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    path_prefix: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    retry_after_secs: Option<u64>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    message: Option<String>,
    /// `ErrorInfo.reason` for Google errors (e.g. `rateLimitExceeded`, `SERVICE_DISABLED`).
    #[serde(default)]
    reason: Option<String>,
    /// Send the retry delay only in the body (`RetryInfo`), without `Retry-After`.
    #[serde(default)]
    retry_in_body_only: bool,
}

async fn add_fault(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: FaultSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if !spec.path_prefix.starts_with('/') || spec.path_prefix.starts_with("/__sandbox") {
        return error(
            StatusCode::BAD_REQUEST,
            "path_prefix must start with '/' and must not target /__sandbox",
        );
    }
    if let Some(status) = spec.status
        && !(400..=599).contains(&status)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "status must be between 400 and 599",
        );
    }
    if spec.count == Some(0) {
        return error(
            StatusCode::BAD_REQUEST,
            "count must be at least 1 (omit it for unlimited)",
        );
    }
    let delay_ms = spec.delay_ms.unwrap_or(0);
    if delay_ms > MAX_DELAY_MS {
        return error(
            StatusCode::BAD_REQUEST,
            format!("delay_ms must be at most {MAX_DELAY_MS}"),
        );
    }
    let reason = match spec.reason.as_deref().map(crate::google::rpc::known_reason) {
        None => None,
        Some(Some(r)) => Some(r),
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "reason must be one of: {}",
                    crate::google::rpc::KNOWN_REASONS.join(", ")
                ),
            );
        }
    };
    if spec.status.is_none() && delay_ms == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "a fault needs a status, a delay_ms, or both",
        );
    }
    let mut rt = state.lock();
    let id = rt.next_fault_id;
    rt.next_fault_id += 1;
    rt.faults.push(Fault {
        id,
        path_prefix: spec.path_prefix,
        method: spec.method.map(|m| m.to_ascii_uppercase()),
        status: spec.status,
        remaining: spec.count,
        retry_after_secs: spec.retry_after_secs,
        delay_ms,
        message: spec.message,
        reason,
        retry_in_body_only: spec.retry_in_body_only,
    });
    drop(rt);
    ok(json!({"id": id}))
}

async fn list_faults(State(state): State<AppState>) -> Response {
    let faults = state.lock().faults.clone();
    ok(json!({"faults": faults}))
}

async fn clear_faults(State(state): State<AppState>) -> Response {
    let mut rt = state.lock();
    let cleared = rt.faults.len();
    rt.faults.clear();
    drop(rt);
    ok(json!({"cleared": cleared}))
}

async fn delete_fault(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, "fault id must be a number");
    };
    let mut rt = state.lock();
    let before = rt.faults.len();
    rt.faults.retain(|f| f.id != id);
    let cleared = before - rt.faults.len();
    drop(rt);
    if cleared == 0 {
        error(StatusCode::NOT_FOUND, format!("no fault with id {id}"))
    } else {
        ok(json!({"cleared": cleared}))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantSelector {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

fn select_grant(state: &AppState, body: &[u8]) -> Result<usize, ControlError> {
    let sel: GrantSelector = parse(body)?;
    if sel.name.is_none() == sel.refresh_token.is_none() {
        return Err(ControlError(
            StatusCode::BAD_REQUEST,
            "give exactly one of \"name\" or \"refresh_token\"".into(),
        ));
    }
    state
        .find_grant(sel.name.as_deref(), sel.refresh_token.as_deref())
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, "no grant matches".into()))
}

async fn revoke(State(state): State<AppState>, body: Bytes) -> Response {
    let grant = match select_grant(&state, &body) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    let mut rt = state.lock();
    if let Some(flag) = rt.revoked.get_mut(grant) {
        *flag = true;
    }
    let before = rt.tokens.len();
    rt.tokens.retain(|_, t| t.grant != grant);
    let invalidated = before - rt.tokens.len();
    drop(rt);
    let name = &state.grants[grant].name;
    tracing::info!(grant = %name, invalidated, "grant revoked");
    ok(json!({"revoked": name, "access_tokens_invalidated": invalidated}))
}

async fn restore(State(state): State<AppState>, body: Bytes) -> Response {
    let grant = match select_grant(&state, &body) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    if let Some(flag) = state.lock().revoked.get_mut(grant) {
        *flag = false;
    }
    ok(json!({"restored": state.grants[grant].name}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireSpec {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ga4QuotaSpec {
    property_id: String,
    /// Tokens the property has used (of `ga4::report::TOKEN_LIMITS`).
    used: u64,
}

/// Sets how many tokens a GA4 property has used: a property near its limit, or past it.
async fn ga4_quota(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: Ga4QuotaSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if state.ga4.get(&spec.property_id).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no GA4 property {}", spec.property_id),
        );
    }
    state.set_quota_used(&spec.property_id, spec.used);
    ok(json!({"property_id": spec.property_id, "used": spec.used}))
}

#[derive(Debug, Deserialize)]
struct PropertyQuery {
    property_id: String,
}

/// How many tokens a GA4 property has used this hour.
async fn ga4_quota_used(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<PropertyQuery>,
) -> Response {
    ok(json!({"property_id": q.property_id, "used": state.quota_used(&q.property_id)}))
}

async fn expire(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: ExpireSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let grant = match &spec.name {
        Some(name) => match state.find_grant(Some(name), None) {
            Some(g) => Some(g),
            None => return error(StatusCode::NOT_FOUND, format!("no grant named {name}")),
        },
        None => None,
    };
    let mut rt = state.lock();
    let mut expired = 0;
    for token in rt.tokens.values_mut() {
        if grant.is_none_or(|g| g == token.grant) && !token.force_expired {
            token.force_expired = true;
            expired += 1;
        }
    }
    drop(rt);
    ok(json!({"expired": expired}))
}

/// Every grant with the refresh token that works now (after rotations) — sandbox tokens are
/// fake, and tests need to see what a rotating grant handed out.
async fn grants(State(state): State<AppState>) -> Response {
    let rt = state.lock();
    let list: Vec<Value> = state
        .grants
        .iter()
        .enumerate()
        .map(|(i, g)| {
            serde_json::json!({
                "name": g.name,
                "refresh_token": rt.refresh_tokens.get(i),
                "rotations": rt.rotations.get(i),
                "revoked": rt.revoked.get(i),
            })
        })
        .collect();
    ok(serde_json::json!({ "grants": list }))
}

async fn counters(State(state): State<AppState>) -> Response {
    let counters = state.lock().counters.clone();
    ok(serde_json::to_value(counters).unwrap_or(Value::Null))
}

async fn reset(State(state): State<AppState>) -> Response {
    state.reset();
    ok(json!({"reset": true}))
}
