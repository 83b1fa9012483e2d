//! `POST /oauth/token`: `client_credentials` for fixture clients, `authorization_code` (with
//! PKCE) and `refresh_token` for registered ones.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    AuthMethod, Flows, MAX_REFRESH_TOKENS, RefreshGrant, access_token, issuer, oauth_error,
    random_token,
};
use crate::state::AppState;

/// The token request (form-encoded, RFC 6749).
#[derive(Default)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    resource: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

impl TokenRequest {
    fn parse(body: &str) -> Self {
        let mut r = Self::default();
        for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
            let slot = match k.as_ref() {
                "grant_type" => &mut r.grant_type,
                "client_id" => &mut r.client_id,
                "client_secret" => &mut r.client_secret,
                "resource" => &mut r.resource,
                "code" => &mut r.code,
                "redirect_uri" => &mut r.redirect_uri,
                "code_verifier" => &mut r.code_verifier,
                "refresh_token" => &mut r.refresh_token,
                _ => continue,
            };
            *slot = Some(v.into_owned());
        }
        r
    }
}

/// The client's credentials, from HTTP Basic or the body (RFC 6749 §2.3.1).
struct Credentials {
    id: String,
    secret: Option<String>,
    basic: bool,
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn credentials(headers: &HeaderMap, request: &TokenRequest) -> Option<Credentials> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    if let Some(pair) = basic {
        let (id, secret) = pair.split_once(':')?;
        return Some(Credentials {
            id: form_decode(id),
            secret: Some(form_decode(secret)),
            basic: true,
        });
    }
    Some(Credentials {
        id: request.client_id.clone()?,
        secret: request.client_secret.clone(),
        basic: false,
    })
}

fn invalid_client() -> Response {
    let mut response = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "unknown client or wrong credentials",
    );
    // RFC 6749 §5.2: a 401 names the scheme the client may authenticate with.
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Basic realm=\"sandbox\""),
    );
    response
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// A registered client, authenticated the way it registered: its id and whether it may
/// refresh; `None` for an unknown client or wrong credentials.
fn registered_client(flows: &Flows, creds: &Credentials) -> Option<(String, bool)> {
    let client = flows.clients.get(&creds.id)?;
    let ok = match client.method {
        // Some libraries send an empty secret for a public client.
        AuthMethod::None => creds.secret.as_deref().is_none_or(str::is_empty),
        AuthMethod::ClientSecretPost => !creds.basic && creds.secret == client.secret,
        AuthMethod::ClientSecretBasic => creds.basic && creds.secret == client.secret,
    };
    ok.then(|| (creds.id.clone(), client.refresh))
}

/// PKCE S256 (RFC 7636 §4.6): the verifier is 43-128 unreserved characters whose SHA-256,
/// base64url, is the challenge.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && B64.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// `POST /oauth/token`: dispatches on `grant_type`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let request = TokenRequest::parse(&body);
    let Some(creds) = credentials(&headers, &request) else {
        return invalid_client();
    };
    match request.grant_type.as_deref() {
        Some("client_credentials") => client_credentials(&state, &headers, &request, &creds),
        Some("authorization_code") => authorization_code(&state, &headers, &request, &creds),
        Some("refresh_token") => refresh(&state, &headers, &request, &creds),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        ),
    }
}

/// A fixture client's token for its own subject.
fn client_credentials(
    state: &AppState,
    headers: &HeaderMap,
    request: &TokenRequest,
    creds: &Credentials,
) -> Response {
    let client = state.config.fixtures.oauth_clients.iter().find(|c| {
        c.client_id == creds.id && Some(c.client_secret.as_str()) == creds.secret.as_deref()
    });
    let Some(client) = client else {
        return invalid_client();
    };
    let Some(audience) = request.resource.clone().or_else(|| client.audience.clone()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "name the resource (RFC 8707) the token is for",
        );
    };
    let token = access_token(
        state,
        &issuer(headers),
        &client.subject,
        &audience,
        &client.client_id,
        None,
        client.lifetime_secs,
    );
    issued(token, client.lifetime_secs.max(0), None, None)
}

fn authorization_code(
    state: &AppState,
    headers: &HeaderMap,
    request: &TokenRequest,
    creds: &Credentials,
) -> Response {
    let Some(code) = request.code.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is missing",
        );
    };
    let mut flows = state.authz.flows();
    let Some((client_id, may_refresh)) = registered_client(&flows, creds) else {
        return invalid_client();
    };
    let now = std::time::Instant::now();
    let Some(issued_code) = flows.codes.get_mut(code).filter(|c| c.expires > now) else {
        return invalid_grant("unknown or expired code");
    };
    if issued_code.client_id != client_id {
        return invalid_grant("the code was issued to another client");
    }
    if issued_code.used {
        // RFC 6749 §4.1.2: a replayed code revokes what it gave.
        let code = code.to_owned();
        flows.codes.remove(&code);
        revoke_chain(&mut flows, &code);
        return invalid_grant("the code was used already; the tokens it gave are revoked");
    }
    if issued_code.redirect_uri.is_some() && issued_code.redirect_uri != request.redirect_uri {
        return invalid_grant("redirect_uri differs from the authorization request's");
    }
    let verifier = request.code_verifier.as_deref().unwrap_or("");
    if !verifier_matches(verifier, &issued_code.challenge) {
        return invalid_grant("code_verifier does not match the code_challenge");
    }
    if request
        .resource
        .as_deref()
        .is_some_and(|r| r != issued_code.resource)
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "resource differs from the authorization request's",
        );
    }
    issued_code.used = true;
    let grant = RefreshGrant {
        client_id,
        subject: issued_code.subject.clone(),
        resource: issued_code.resource.clone(),
        scope: issued_code.scope.clone(),
        code: code.to_owned(),
    };
    let refresh_token =
        (may_refresh && flows.refresh_tokens.len() < MAX_REFRESH_TOKENS).then(random_token);
    let response = grant_tokens(state, headers, &grant, refresh_token.clone());
    if let Some(token) = refresh_token {
        flows.refresh_tokens.insert(token, grant);
    }
    response
}

fn refresh(
    state: &AppState,
    headers: &HeaderMap,
    request: &TokenRequest,
    creds: &Credentials,
) -> Response {
    let Some(presented) = request.refresh_token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is missing",
        );
    };
    let mut flows = state.authz.flows();
    let Some((client_id, _)) = registered_client(&flows, creds) else {
        return invalid_client();
    };
    match flows.refresh_tokens.get(presented) {
        None => {
            if let Some(chain) = flows.spent_refresh_tokens.get(presented).cloned() {
                revoke_chain(&mut flows, &chain);
                return invalid_grant(
                    "the refresh token was used already; every token of its grant is revoked",
                );
            }
            return invalid_grant("unknown or revoked refresh token");
        }
        Some(g) if g.client_id != client_id => {
            return invalid_grant("the refresh token was issued to another client");
        }
        Some(g) if request.resource.as_deref().is_some_and(|r| r != g.resource) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "resource differs from the original grant's",
            );
        }
        Some(_) => {}
    }
    // Rotation (OAuth 2.1 §4.3.1): the presented token is spent, a new one replaces it.
    let Some(grant) = flows.refresh_tokens.remove(presented) else {
        return invalid_grant("unknown or revoked refresh token");
    };
    if flows.spent_refresh_tokens.len() < MAX_REFRESH_TOKENS {
        flows
            .spent_refresh_tokens
            .insert(presented.to_owned(), grant.code.clone());
    }
    let next = random_token();
    let response = grant_tokens(state, headers, &grant, Some(next.clone()));
    flows.refresh_tokens.insert(next, grant);
    response
}

/// Revokes every live refresh token of the grant that started with `code`.
fn revoke_chain(flows: &mut Flows, code: &str) {
    flows.refresh_tokens.retain(|_, g| g.code != code);
}

/// An access token for `grant`, and the refresh token if there is one.
fn grant_tokens(
    state: &AppState,
    headers: &HeaderMap,
    grant: &RefreshGrant,
    refresh_token: Option<String>,
) -> Response {
    let lifetime = i64::try_from(state.config.token_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let token = access_token(
        state,
        &issuer(headers),
        &grant.subject,
        &grant.resource,
        &grant.client_id,
        grant.scope.as_deref(),
        lifetime,
    );
    issued(token, lifetime, refresh_token, grant.scope.as_deref())
}

fn issued(
    access_token: String,
    expires_in: i64,
    refresh_token: Option<String>,
    scope: Option<&str>,
) -> Response {
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    if let Some(token) = refresh_token {
        body["refresh_token"] = json!(token);
    }
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::verifier_matches;

    #[test]
    // The challenge as Python computes it: base64.urlsafe_b64encode(sha256(v)).rstrip("=").
    fn pkce_s256_is_base64url_of_the_verifiers_sha256() {
        let verifier = "dBjftJeZ4CVP-mJ92K3KZ_ESgqo0Ncxw1JmjfuyR2bQ";
        let challenge = "7-o17_OxQEzN0k_XM59QvQCqkygWTlcEaUFxRp-aUyY";
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches("short", challenge));
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
    }
}
