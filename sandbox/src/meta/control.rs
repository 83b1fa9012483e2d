//! Meta's part of the `/__sandbox` control plane (routes are mounted in `control.rs`):
//!
//! | method + path | body | reply |
//! |---|---|---|
//! | `POST /meta/revoke` | `{"name", "reason"?: "password_changed" \| "app_removed" \| "logged_out"}` | `{"revoked", "error_subcode"}` |
//! | `POST /meta/restore` | `{"name"}` | `{"restored"}` |
//! | `POST /meta/throttle` | `{"ad_account", "code", "count"?, "estimated_time_to_regain_access"?}` | `{"ad_account", "code", "count"}` |
//! | `DELETE /meta/throttle` | – | `{"cleared": n}` |
//! | `GET /meta/usage` | – | `{"usage": {act: {ads_management, ads_insights}}, "throttles", "revoked"}` |
//!
//! Revocation applies to every token of that name, minted descendants included.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::account_digits;
use super::auth::token_name;
use super::error::{GraphError, Revocation};
use super::usage::Throttle;
use crate::http;
use crate::state::AppState;

fn reply(status: StatusCode, body: Value) -> Response {
    http::json(status, &body, true)
}

fn bad(message: impl Into<String>) -> Response {
    reply(StatusCode::BAD_REQUEST, json!({"error": message.into()}))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeSpec {
    name: String,
    #[serde(default)]
    reason: Option<Revocation>,
}

fn known_name(state: &AppState, name: &str) -> bool {
    state
        .config
        .fixtures
        .meta_tokens
        .iter()
        .enumerate()
        .any(|(i, t)| token_name(t.name.as_deref(), i) == name)
}

/// `POST /__sandbox/meta/revoke`.
pub async fn revoke(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: RevokeSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if !known_name(&state, &spec.name) {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no meta token named {}", spec.name)}),
        );
    }
    let reason = spec.reason.unwrap_or(Revocation::PasswordChanged);
    state.lock().meta.revoked.insert(spec.name.clone(), reason);
    tracing::info!(token = %spec.name, subcode = reason.subcode(), "meta token revoked");
    reply(
        StatusCode::OK,
        json!({"revoked": spec.name, "error_subcode": reason.subcode()}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameSpec {
    name: String,
}

/// `POST /__sandbox/meta/restore`.
pub async fn restore(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: NameSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let removed = state.lock().meta.revoked.remove(&spec.name).is_some();
    if !removed {
        return reply(
            StatusCode::NOT_FOUND,
            json!({"error": format!("meta token {} is not revoked", spec.name)}),
        );
    }
    reply(StatusCode::OK, json!({"restored": spec.name}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleSpec {
    ad_account: String,
    code: u32,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    estimated_time_to_regain_access: Option<u64>,
}

/// `POST /__sandbox/meta/throttle`: the next `count` calls on the account fail with `code`.
pub async fn throttle(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: ThrottleSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if account_digits(&spec.ad_account).is_none() {
        return bad("ad_account must look like act_<digits>");
    }
    if !GraphError::is_throttle_code(spec.code) {
        return bad("code must be 4, 17, 613 or 80000-80006");
    }
    let count = spec.count.unwrap_or(1);
    if count == 0 {
        return bad("count must be at least 1");
    }
    let minutes = spec
        .estimated_time_to_regain_access
        .unwrap_or(5)
        .min(24 * 60);
    state.lock().meta.throttles.insert(
        spec.ad_account.clone(),
        Throttle {
            code: spec.code,
            remaining: count,
            minutes,
        },
    );
    reply(
        StatusCode::OK,
        json!({"ad_account": spec.ad_account, "code": spec.code, "count": count,
               "estimated_time_to_regain_access": minutes}),
    )
}

/// `DELETE /__sandbox/meta/throttle`.
pub async fn clear_throttles(State(state): State<AppState>) -> Response {
    let mut rt = state.lock();
    let cleared = rt.meta.throttles.len();
    rt.meta.throttles.clear();
    drop(rt);
    reply(StatusCode::OK, json!({"cleared": cleared}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageSpec {
    ad_account: String,
    #[serde(default)]
    management: u64,
    #[serde(default)]
    insights: u64,
}

/// `POST /__sandbox/meta/usage`: the account's calls so far in a window starting now (an
/// account near its budget, or over it).
pub async fn set_usage(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: UsageSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if account_digits(&spec.ad_account).is_none() {
        return bad("ad_account must look like act_<digits>");
    }
    if spec.management.max(spec.insights) > 1_000_000 {
        return bad("at most 1000000 calls");
    }
    state.lock().meta.set_usage(
        &spec.ad_account,
        spec.management,
        spec.insights,
        std::time::Instant::now(),
    );
    reply(
        StatusCode::OK,
        json!({"ad_account": spec.ad_account, "management": spec.management, "insights": spec.insights}),
    )
}

/// `GET /__sandbox/meta/usage`.
pub async fn usage(State(state): State<AppState>) -> Response {
    let rt = state.lock();
    let usage: serde_json::Map<String, Value> = rt
        .meta
        .usage
        .iter()
        .map(|(k, u)| (k.clone(), u.counts()))
        .collect();
    let throttles = serde_json::to_value(&rt.meta.throttles).unwrap_or(Value::Null);
    let revoked = serde_json::to_value(&rt.meta.revoked).unwrap_or(Value::Null);
    drop(rt);
    reply(
        StatusCode::OK,
        json!({"usage": usage, "throttles": throttles, "revoked": revoked}),
    )
}
