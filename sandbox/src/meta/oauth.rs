//! Meta's long-lived token exchange, as the credential broker uses it:
//! `/{version}/oauth/access_token?grant_type=fb_exchange_token`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde_json::json;

use crate::http;
use crate::state::{AppState, MintedMetaToken};

/// Lifetime Meta gives long-lived user tokens (about 60 days).
const LONG_LIVED_SECS: i64 = 5_183_944;

/// Meta's error envelope: HTTP 400 with an `OAuthException`.
fn meta_error(code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": format!("Sb{}", crate::hash::hex(&rand::random::<[u8; 6]>())),
    });
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    http::json(StatusCode::BAD_REQUEST, &json!({ "error": error }), false)
}

pub(crate) fn valid_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && minor == "0"
        })
}

/// `GET|POST /{version}/oauth/access_token` with `grant_type=fb_exchange_token`: parameters in
/// the query string or a form body, as Meta accepts both.
pub async fn access_token(
    State(state): State<AppState>,
    version: String,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !valid_version(&version) {
        return meta_error(
            2500,
            None,
            &format!("Unknown path components: /{version}/oauth/access_token"),
        );
    }
    let mut params = http::query_pairs(query.as_deref());
    params
        .extend(url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if get("grant_type") != Some("fb_exchange_token") {
        return meta_error(
            100,
            None,
            "Unsupported grant_type; this endpoint supports fb_exchange_token",
        );
    }
    let Some(app) = state
        .config
        .fixtures
        .meta_apps
        .iter()
        .find(|a| Some(a.app_id.as_str()) == get("client_id"))
    else {
        return meta_error(
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    };
    if get("client_secret") != Some(app.app_secret.as_str()) {
        return meta_error(1, None, "Error validating client secret.");
    }
    let Some(presented) = get("fb_exchange_token") else {
        return meta_error(100, None, "Missing fb_exchange_token parameter");
    };
    let now = Utc::now();
    let fixture = state
        .config
        .fixtures
        .meta_tokens
        .iter()
        .enumerate()
        .find(|(_, t)| t.access_token == presented);
    let (name, ad_accounts, expires_at) = match fixture {
        Some((i, t)) => (
            t.name.clone().unwrap_or_else(|| format!("meta-{i}")),
            t.ad_accounts.clone(),
            t.expires_at,
        ),
        None => match state.lock().meta_minted.get(presented) {
            Some(m) => (m.name.clone(), m.ad_accounts.clone(), Some(m.expires_at)),
            None => {
                return meta_error(
                    190,
                    None,
                    "Invalid OAuth access token - Cannot parse access token",
                );
            }
        },
    };
    // A revoked session cannot be extended either (`/__sandbox/meta/revoke`).
    if let Some(reason) = state.lock().meta.revoked.get(&name).copied() {
        return super::error::GraphError::revoked(reason).render();
    }
    if expires_at.is_some_and(|e| e <= now) {
        return meta_error(
            190,
            Some(463),
            &format!(
                "Error validating access token: Session has expired. The current time is {}.",
                now.to_rfc2822()
            ),
        );
    }
    let token = format!(
        "sandbox-meta-{}",
        crate::hash::hex(&rand::random::<[u8; 16]>())
    );
    {
        let mut rt = state.lock();
        rt.meta_minted.insert(
            token.clone(),
            MintedMetaToken {
                name: name.clone(),
                ad_accounts,
                expires_at: now + Duration::seconds(LONG_LIVED_SECS),
            },
        );
        *rt.counters.meta_exchanges.entry(name).or_insert(0) += 1;
    }
    http::json(
        StatusCode::OK,
        &json!({ "access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECS }),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_look_like_metas() {
        assert!(valid_version("v26.0"));
        assert!(!valid_version("v26"));
        assert!(!valid_version("26.0"));
        assert!(!valid_version("v26.1"));
    }
}
