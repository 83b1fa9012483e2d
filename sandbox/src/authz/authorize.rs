//! `GET /oauth/authorize`: the authorization request of the code flow, with PKCE. There is no
//! login page: the sandbox consents at once as a fixture user, so tests and the demo can run
//! the whole flow without a browser.

use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{IssuedCode, MAX_CODES, MAX_FIELD, issuer, random_token};
use crate::state::AppState;

/// How long a code may wait for its exchange (RFC 6749 §4.1.2 recommends at most 10 minutes;
/// the exchange follows the redirect at once).
const CODE_LIFETIME: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
/// The query of an authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 8707).
pub struct AuthorizationRequest {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    /// Which fixture user consents (OpenID Connect's hint, used here as the choice).
    login_hint: Option<String>,
}

/// Refusals that must not redirect (the redirect target itself is in doubt): a plain 400.
fn refuse(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        format!("authorization request refused: {description}\n"),
    )
        .into_response()
}

/// Whether `sent` matches a registered redirect URI: exactly, or for a loopback one on any
/// port, since native apps pick a free port at each run (RFC 8252 §7.3).
fn redirect_uri_matches(registered: &str, sent: &str) -> bool {
    if registered == sent {
        return true;
    }
    let (Ok(mut r), Ok(mut s)) = (url::Url::parse(registered), url::Url::parse(sent)) else {
        return false;
    };
    let loopback = r.scheme() == "http" && matches!(r.host_str(), Some("127.0.0.1" | "[::1]"));
    if !loopback {
        return false;
    }
    let _ = r.set_port(None);
    let _ = s.set_port(None);
    r == s
}

/// A 302 to the client's redirect URI with `params` added to its query.
fn redirect_with(target: &str, params: &[(&str, &str)]) -> Response {
    let mut url = url::Url::parse(target).expect("redirect URIs are checked at registration");
    url.query_pairs_mut().extend_pairs(params);
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// A PKCE S256 challenge: base64url of a SHA-256, 43 characters.
fn challenge_well_formed(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /oauth/authorize`: a code for the consenting fixture user, by redirect.
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuthorizationRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(request)) = query else {
        return refuse("the query string is not a valid authorization request");
    };
    let Some(client_id) = request.client_id.as_deref() else {
        return refuse("client_id is missing");
    };
    let iss = issuer(&headers);

    // Who the client is and where to send the answer, before any redirect.
    let redirect_uri = {
        let flows = state.authz.flows();
        let Some(client) = flows.clients.get(client_id) else {
            return refuse("unknown client_id; register the client first (POST /oauth/register)");
        };
        match request.redirect_uri.as_deref() {
            Some(sent) => {
                if !client
                    .redirect_uris
                    .iter()
                    .any(|r| redirect_uri_matches(r, sent))
                {
                    return refuse("redirect_uri is not one the client registered");
                }
                sent.to_owned()
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return refuse("redirect_uri is missing and the client registered several"),
        }
    };
    let client_state = request.state.as_deref();
    let fail = |error: &str, description: &str| {
        let mut params = vec![
            ("error", error),
            ("error_description", description),
            ("iss", iss.as_str()),
        ];
        if let Some(s) = client_state {
            params.push(("state", s));
        }
        redirect_with(&redirect_uri, &params)
    };

    if request.response_type.as_deref() != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let Some(challenge) = request
        .code_challenge
        .as_deref()
        .filter(|c| challenge_well_formed(c))
    else {
        return fail(
            "invalid_request",
            "send a PKCE code_challenge (43 base64url characters)",
        );
    };
    if request.code_challenge_method.as_deref() != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if request
        .scope
        .as_deref()
        .is_some_and(|s| s.len() > MAX_FIELD)
    {
        return fail("invalid_scope", "scope is too long");
    }
    let Some(resource) = request
        .resource
        .as_deref()
        .filter(|r| r.len() <= MAX_FIELD)
        .filter(|r| url::Url::parse(r).is_ok_and(|u| u.fragment().is_none()))
    else {
        return fail(
            "invalid_target",
            "name the resource (RFC 8707) the token is for, as an absolute URL",
        );
    };
    let users = &state.config.fixtures.oauth_users;
    let user = match request.login_hint.as_deref() {
        Some(hint) => users.iter().find(|u| u.subject == hint),
        None => users.first(),
    };
    let Some(user) = user else {
        return fail(
            "access_denied",
            "no such user in the sandbox's fixtures ([[oauth_users]])",
        );
    };

    let code = random_token();
    {
        let mut flows = state.authz.flows();
        let now = Instant::now();
        if flows.codes.len() >= MAX_CODES {
            flows.codes.retain(|_, c| c.expires > now);
        }
        if flows.codes.len() >= MAX_CODES {
            drop(flows);
            return fail(
                "temporarily_unavailable",
                "too many authorizations in flight; try again in a minute",
            );
        }
        flows.codes.insert(
            code.clone(),
            IssuedCode {
                client_id: client_id.to_owned(),
                redirect_uri: request.redirect_uri.clone(),
                challenge: challenge.to_owned(),
                resource: resource.to_owned(),
                scope: request.scope.clone(),
                subject: user.subject.clone(),
                expires: now + CODE_LIFETIME,
                used: false,
            },
        );
    }
    let mut params = vec![("code", code.as_str()), ("iss", iss.as_str())];
    if let Some(s) = client_state {
        params.push(("state", s));
    }
    redirect_with(&redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::redirect_uri_matches;

    #[test]
    fn loopback_redirects_may_change_port_and_nothing_else() {
        assert!(redirect_uri_matches(
            "http://127.0.0.1:3000/cb",
            "http://127.0.0.1:41234/cb"
        ));
        assert!(redirect_uri_matches(
            "https://a.example/cb",
            "https://a.example/cb"
        ));
        assert!(!redirect_uri_matches(
            "http://127.0.0.1:3000/cb",
            "http://127.0.0.1:3000/other"
        ));
        assert!(!redirect_uri_matches(
            "https://a.example:443/cb",
            "https://a.example:8443/cb"
        ));
        assert!(!redirect_uri_matches(
            "https://a.example/cb",
            "https://a.example/cb?x=1"
        ));
    }
}
