//! Calls to OAuth token endpoints, in one place for the credential broker and for the servers'
//! static-credential mode:
//!
//! - [`refresh_google`]: Google's `refresh_token` grant, through the `oauth2` crate.
//! - [`exchange_meta`]: Meta's `fb_exchange_token` (extends a long-lived user token).
//!
//! Both go through the caller's reqwest client (rustls, no redirects): `oauth2`'s own `reqwest`
//! feature pins reqwest 0.12, which would put a second HTTP stack in every binary, so
//! [`adapter`] bridges the two (the request and response types are plain `http` 1.x).
//! Errors never contain a token or secret.

#![deny(missing_docs)]

use std::pin::Pin;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{ClientId, ClientSecret, RefreshToken, RequestTokenError, TokenResponse, TokenUrl};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// Google's token endpoint.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Lifetime assumed when a token response omits `expires_in`.
const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// An OAuth client registered with Google.
#[derive(Clone)]
pub struct GoogleClient {
    /// `…apps.googleusercontent.com`.
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
    /// Token endpoint (Google's, or the sandbox's).
    pub token_uri: Url,
}

/// A successful token response.
pub struct Refreshed {
    /// The new access token.
    pub access_token: SecretString,
    /// How long it lives.
    pub expires_in: Duration,
    /// A new refresh token, when the endpoint rotated it (Google normally does not).
    pub refresh_token: Option<SecretString>,
    /// Granted scopes, when the endpoint says.
    pub scopes: Option<Vec<String>>,
}

/// Why the token endpoint did not give a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// The grant was revoked or expired (`invalid_grant`; Meta error 190): reconnect needed.
    #[error("the authorization was revoked or has expired ({0})")]
    InvalidGrant(String),
    /// The OAuth client was refused (`invalid_client`): configuration problem.
    #[error("the OAuth client was refused ({0}); check the client id and secret")]
    InvalidClient(String),
    /// Another error answer from the endpoint.
    #[error("the token endpoint refused the request ({0})")]
    Refused(String),
    /// The endpoint could not be reached or answered 5xx/429.
    #[error("the token endpoint is unreachable or failing: {0}")]
    Unavailable(String),
}

impl RefreshError {
    /// True when retrying later can help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

type OAuthFuture =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>>;

/// An async HTTP client for `oauth2` over `client` (which must not follow redirects).
pub fn adapter(client: reqwest::Client) -> impl Fn(oauth2::HttpRequest) -> OAuthFuture {
    move |request| {
        let client = client.clone();
        Box::pin(async move {
            let response = client.execute(reqwest::Request::try_from(request)?).await?;
            let status = response.status();
            let version = response.version();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.version_mut() = version;
            *out.headers_mut() = headers;
            Ok(out)
        })
    }
}

/// The `--api-base` / `BERRYBOO_API_BASE` rule, one implementation for the servers and the
/// broker: replaces scheme, host and port of `real` with those of `base` (and prefixes base's
/// path, if any), keeping the real path and query. Without a base, `real` is returned as is.
pub fn rebase(real: &Url, base: Option<&Url>) -> Url {
    let Some(base) = base else {
        return real.clone();
    };
    let mut out = base.clone();
    let prefix = base.path().trim_end_matches('/');
    out.set_path(&format!("{prefix}{}", real.path()));
    out.set_query(real.query());
    out
}

/// Joins an error with its sources (reqwest hides the useful part in `source()`).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// Exchanges `refresh_token` for an access token at Google's token endpoint.
pub async fn refresh_google(
    http: &reqwest::Client,
    client: &GoogleClient,
    refresh_token: &SecretString,
) -> Result<Refreshed, RefreshError> {
    let oauth = BasicClient::new(ClientId::new(client.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            client.client_secret.expose_secret().to_owned(),
        ))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(TokenUrl::from_url(client.token_uri.clone()));
    let response = oauth
        .exchange_refresh_token(&RefreshToken::new(refresh_token.expose_secret().to_owned()))
        .request_async(&adapter(http.clone()))
        .await
        .map_err(classify)?;
    Ok(Refreshed {
        access_token: SecretString::from(response.access_token().secret().to_owned()),
        expires_in: response.expires_in().unwrap_or(DEFAULT_TTL),
        refresh_token: response
            .refresh_token()
            .map(|t| SecretString::from(t.secret().to_owned())),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|x| x.to_string()).collect()),
    })
}

fn classify<RE: std::error::Error + 'static>(
    err: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> RefreshError {
    match err {
        RequestTokenError::ServerResponse(resp) => {
            let description = resp.error_description().cloned().unwrap_or_default();
            match resp.error() {
                BasicErrorResponseType::InvalidGrant => RefreshError::InvalidGrant(description),
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => {
                    RefreshError::InvalidClient(description)
                }
                // Google answers 503/429 with bodies like {"error":"temporarily_unavailable"}.
                BasicErrorResponseType::Extension(code)
                    if matches!(
                        code.as_str(),
                        "temporarily_unavailable" | "rate_limit_exceeded" | "internal_failure"
                    ) =>
                {
                    RefreshError::Unavailable(format!("{code}: {description}"))
                }
                other => RefreshError::Refused(format!("{}: {description}", other.as_ref())),
            }
        }
        RequestTokenError::Request(e) => RefreshError::Unavailable(error_chain(&e)),
        RequestTokenError::Parse(e, _body) => {
            RefreshError::Unavailable(format!("unreadable token response: {e}"))
        }
        RequestTokenError::Other(e) => RefreshError::Unavailable(e),
    }
}

#[derive(Deserialize)]
struct MetaToken {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct MetaErrorBody {
    error: MetaError,
}

#[derive(Deserialize)]
struct MetaError {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
}

/// Extends a Meta long-lived user token (`grant_type=fb_exchange_token`). `graph_base` is the
/// versioned Graph API root, e.g. `https://graph.facebook.com/v26.0`. The secrets travel in a
/// form body, not the URL, so no proxy or access log records them.
pub async fn exchange_meta(
    http: &reqwest::Client,
    graph_base: &Url,
    app_id: &str,
    app_secret: &SecretString,
    token: &SecretString,
) -> Result<Refreshed, RefreshError> {
    let url = format!(
        "{}/oauth/access_token",
        graph_base.as_str().trim_end_matches('/')
    );
    let form = [
        ("grant_type", "fb_exchange_token"),
        ("client_id", app_id),
        ("client_secret", app_secret.expose_secret()),
        ("fb_exchange_token", token.expose_secret()),
    ];
    let response = http
        .post(url)
        .form(&form)
        .send()
        .await
        .map_err(|e| RefreshError::Unavailable(error_chain(&e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| RefreshError::Unavailable(error_chain(&e)))?;
    if status.is_success() {
        let t: MetaToken = serde_json::from_slice(&body)
            .map_err(|e| RefreshError::Unavailable(format!("unreadable token response: {e}")))?;
        return Ok(Refreshed {
            access_token: SecretString::from(t.access_token),
            expires_in: t
                .expires_in
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(60 * 24 * 3600)),
            refresh_token: None,
            scopes: None,
        });
    }
    let parsed: Option<MetaErrorBody> = serde_json::from_slice(&body).ok();
    let (message, code, subcode) = match &parsed {
        Some(b) => (
            b.error.message.clone().unwrap_or_default(),
            b.error.code,
            b.error.error_subcode,
        ),
        None => (format!("HTTP {status}"), None, None),
    };
    Err(match code {
        Some(190) => RefreshError::InvalidGrant(format!(
            "Meta error 190/{}: {message}",
            subcode.unwrap_or(0)
        )),
        Some(101 | 1) if status.is_client_error() => RefreshError::InvalidClient(message),
        _ if status.is_server_error() || status.as_u16() == 429 => {
            RefreshError::Unavailable(message)
        }
        Some(4 | 17 | 613) => RefreshError::Unavailable(message),
        _ => RefreshError::Refused(message),
    })
}
