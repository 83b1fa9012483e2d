//! Emulation of `POST https://oauth2.googleapis.com/token` (and the legacy
//! `/oauth2/v4/token`): the `refresh_token` grant only, form-encoded, with client
//! authentication by form fields or HTTP Basic, answering RFC 6749 JSON bodies exactly as
//! Google words them.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::fixtures::normalize_scope;
use crate::http;
use crate::state::AppState;

/// Renders an OAuth error body (`{"error", "error_description"}`).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store(http::json(
        status,
        &json!({"error": error, "error_description": description}),
        true,
    ))
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The error an injected fault produces at the token endpoint.
pub fn fault_response(status: StatusCode, message: Option<&str>) -> Response {
    let (error, description) = match status.as_u16() {
        400 => ("invalid_grant", "Token has been expired or revoked."),
        401 => ("invalid_client", "Unauthorized"),
        403 => ("access_denied", "Access denied."),
        429 => ("rate_limit_exceeded", "Rate limit exceeded."),
        503 => (
            "temporarily_unavailable",
            "The service is temporarily unavailable.",
        ),
        _ => ("internal_failure", "Internal error."),
    };
    oauth_error(status, error, message.unwrap_or(description))
}

/// Handler for the token endpoint.
pub async fn token(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = exchange(&state, &method, &headers, &body);
    if !response.status().is_success() {
        state.lock().counters.token_failures += 1;
    }
    response
}

fn exchange(state: &AppState, method: &Method, headers: &HeaderMap, body: &[u8]) -> Response {
    if method != Method::POST {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "The token endpoint only accepts POST.",
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid Content-Type; use application/x-www-form-urlencoded.",
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };

    let Some(grant_type) = field("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: grant_type",
        );
    };
    if grant_type != "refresh_token" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant_type}"),
        );
    }

    // Client authentication: HTTP Basic wins over form fields (client_secret_basic).
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => match parse_basic(value) {
            Some(pair) => Some(pair),
            None => {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
            }
        },
        None => None,
    };
    let (client_id, client_secret) = match &basic {
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (field("client_id"), field("client_secret")),
    };
    let Some(client_id) = client_id else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Could not determine client ID from request.",
        );
    };
    let Some(expected_secret) = state.clients.get(client_id) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    };
    let Some(client_secret) = client_secret else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_secret is missing.",
        );
    };
    if client_secret != expected_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }

    let Some(refresh_token) = field("refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: refresh_token",
        );
    };
    let grant_index = state.find_grant(None, Some(refresh_token));
    let usable = grant_index.filter(|&i| {
        let revoked = state.lock().revoked.get(i).copied().unwrap_or(true);
        // After a rotation only the newest refresh token works.
        !revoked
            && state.grants[i].client_id == client_id
            && state.refresh_token_current(i, refresh_token)
    });
    let Some(grant_index) = usable else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
    };
    let grant = &state.grants[grant_index];

    // An optional `scope` may narrow the grant but never widen it.
    let scopes: Vec<String> = match field("scope") {
        Some(requested) => {
            let mut seen = HashSet::new();
            let requested: Vec<String> = requested
                .split_whitespace()
                .map(normalize_scope)
                .filter(|s| seen.insert(s.clone()))
                .collect();
            let invalid: Vec<&String> = requested
                .iter()
                .filter(|s| !grant.scopes.contains(s))
                .collect();
            if !invalid.is_empty() {
                let list =
                    |v: Vec<&String>| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                let valid = requested
                    .iter()
                    .filter(|s| grant.scopes.contains(s))
                    .collect();
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!(
                        "Some requested scopes were invalid. {{valid=[{}], invalid=[{}]}}",
                        list(valid),
                        list(invalid)
                    ),
                );
            }
            requested
        }
        None => grant.scopes.clone(),
    };

    let scope = scopes.join(" ");
    let access_token = state.issue_token(grant_index, scopes);
    tracing::info!(grant = %grant.name, "issued access token");
    let mut body = json!({
        "access_token": access_token,
        "expires_in": state.config.token_ttl.as_secs(),
        "scope": scope,
        "token_type": "Bearer",
    });
    if let Some(rotated) = state.rotate(grant_index) {
        body["refresh_token"] = json!(rotated);
    }
    no_store(http::json(StatusCode::OK, &body, true))
}

/// Decodes `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// Standard base64 (with or without padding); `None` on any invalid character.
fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in input.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes() {
        assert_eq!(base64_decode("aWQ6c2VjcmV0").unwrap(), b"id:secret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn basic_header_parses_and_unescapes() {
        // "my%20id:s%3Acret" -> ("my id", "s:cret")
        let encoded = "bXklMjBpZDpzJTNBY3JldA==";
        let value = HeaderValue::from_str(&format!("Basic {encoded}")).unwrap();
        assert_eq!(
            parse_basic(&value).unwrap(),
            ("my id".to_string(), "s:cret".to_string())
        );
        assert!(parse_basic(&HeaderValue::from_static("Bearer x")).is_none());
    }
}
