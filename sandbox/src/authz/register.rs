//! `POST /oauth/register`: dynamic client registration (RFC 7591), as MCP clients do before
//! their first authorization.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{AuthMethod, MAX_CLIENTS, MAX_FIELD, RegisteredClient, oauth_error, random_token};

/// Redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 10;
use crate::state::AppState;

/// The client metadata the sandbox reads; other RFC 7591 fields are accepted and ignored.
#[derive(Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    scope: Option<String>,
}

/// A redirect URI OAuth 2.1 allows: https, http on a loopback host (RFC 8252 §7.3), or a
/// private-use scheme of a native app (`com.example.app:/cb`, §7.1); never with a fragment.
fn redirect_uri_allowed(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
        scheme => scheme.contains('.'),
    }
}

/// `POST /oauth/register`: a new client id (and secret, unless the client is public).
pub async fn register(
    State(state): State<AppState>,
    metadata: Result<Json<ClientMetadata>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let bad =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let Ok(Json(metadata)) = metadata else {
        return bad(
            "invalid_client_metadata",
            "send the client metadata as a JSON object (RFC 7591)",
        );
    };
    if metadata.redirect_uris.is_empty() {
        return bad("invalid_redirect_uri", "register at least one redirect_uri");
    }
    if metadata.redirect_uris.len() > MAX_REDIRECT_URIS
        || metadata.redirect_uris.iter().any(|u| u.len() > MAX_FIELD)
    {
        return bad(
            "invalid_redirect_uri",
            &format!(
                "register at most {MAX_REDIRECT_URIS} redirect URIs of at most {MAX_FIELD} characters"
            ),
        );
    }
    if let Some(uri) = metadata
        .redirect_uris
        .iter()
        .find(|u| !redirect_uri_allowed(u))
    {
        return bad(
            "invalid_redirect_uri",
            &format!(
                "`{}` is not allowed: use https, http on 127.0.0.1/[::1]/localhost, or an app's own scheme, without a fragment",
                uri.chars().take(200).collect::<String>()
            ),
        );
    }
    let method = match metadata.token_endpoint_auth_method.as_deref() {
        // RFC 7591 §2: the default is client_secret_basic.
        None => AuthMethod::ClientSecretBasic,
        Some(name) => match AuthMethod::parse(name) {
            Some(method) => method,
            None => {
                return bad(
                    "invalid_client_metadata",
                    "token_endpoint_auth_method must be none, client_secret_post or client_secret_basic",
                );
            }
        },
    };
    let grant_types = metadata
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    if grant_types
        .iter()
        .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return bad(
            "invalid_client_metadata",
            "grant_types may hold authorization_code and refresh_token",
        );
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return bad(
            "invalid_client_metadata",
            "registered clients use authorization_code (client_credentials is for fixture clients)",
        );
    }
    let response_types = metadata
        .response_types
        .unwrap_or_else(|| vec!["code".to_owned()]);
    if response_types.iter().any(|r| r != "code") {
        return bad(
            "invalid_client_metadata",
            "response_types must be [\"code\"]",
        );
    }
    if metadata
        .client_name
        .as_deref()
        .is_some_and(|n| n.chars().count() > 200)
    {
        return bad(
            "invalid_client_metadata",
            "client_name is over 200 characters",
        );
    }
    if metadata
        .scope
        .as_deref()
        .is_some_and(|s| s.len() > MAX_FIELD)
    {
        return bad("invalid_client_metadata", "scope is too long");
    }

    let client_id = format!("sbx-{}", random_token());
    let secret = (method != AuthMethod::None).then(random_token);
    {
        let mut flows = state.authz.flows();
        if flows.clients.len() >= MAX_CLIENTS {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the sandbox holds as many registered clients as it keeps; restart it",
            );
        }
        flows.clients.insert(
            client_id.clone(),
            RegisteredClient {
                secret: secret.clone(),
                method,
                redirect_uris: metadata.redirect_uris.clone(),
                refresh: grant_types.iter().any(|g| g == "refresh_token"),
            },
        );
    }
    let mut body = json!({
        "client_id": client_id,
        "client_id_issued_at": chrono::Utc::now().timestamp(),
        "redirect_uris": metadata.redirect_uris,
        "grant_types": grant_types,
        "response_types": response_types,
        "token_endpoint_auth_method": method.name(),
    });
    if let Some(secret) = secret {
        body["client_secret"] = json!(secret);
        body["client_secret_expires_at"] = json!(0);
    }
    if let Some(name) = metadata.client_name {
        body["client_name"] = json!(name);
    }
    if let Some(scope) = metadata.scope {
        body["scope"] = json!(scope);
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::redirect_uri_allowed;

    #[test]
    fn redirect_uris_follow_oauth_2_1() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:4312/callback",
            "http://localhost/cb",
            "http://[::1]:9/cb",
            "com.example.app:/oauth",
        ] {
            assert!(redirect_uri_allowed(ok), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "not a url",
            "",
        ] {
            assert!(!redirect_uri_allowed(bad), "{bad}");
        }
    }
}
