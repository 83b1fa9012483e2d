//! A small OAuth 2.1 authorization server, for the gateway's OAuth mode in tests and the demo.
//!
//! - RFC 8414 metadata at `/.well-known/oauth-authorization-server`, the signing key at
//!   `/oauth/jwks`.
//! - `client_credentials` at `/oauth/token` for the fixture's `[[oauth_clients]]` (machines).
//! - `authorization_code` with PKCE (S256 only) for people: clients register themselves
//!   (RFC 7591, `/oauth/register`), `/oauth/authorize` consents at once as a fixture
//!   `[[oauth_users]]` subject (the one named by `login_hint`, else the first) and redirects
//!   with `code`, `state` and `iss` (RFC 9207); codes are single-use and live 60 s, refresh
//!   tokens rotate, and a replayed code revokes what it was exchanged for.
//!
//! Access tokens are ES256 JWTs signed with a P-256 key made at start, their `aud` the RFC 8707
//! `resource` the client named. The issuer is the URL the caller reached the sandbox at
//! (`http://{Host}`), so a test configures the gateway with the sandbox's own address.
//! Everything the flows remember lives in memory and is lost on restart, as a sandbox may.

mod authorize;
mod register;
mod token;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use crate::state::AppState;

pub use authorize::authorize;
pub use register::register;
pub use token::token;

/// The authorization server: its signing key and what the code flow remembers.
pub struct AuthServer {
    key: SigningKey,
    flows: Mutex<Flows>,
}

impl AuthServer {
    /// A server with a fresh signing key and nothing registered.
    pub fn new() -> Self {
        Self {
            key: SigningKey::generate(),
            flows: Mutex::new(Flows::default()),
        }
    }

    /// Every section is a few map operations, so a poisoned lock still holds consistent data.
    fn flows(&self) -> MutexGuard<'_, Flows> {
        self.flows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for AuthServer {
    fn default() -> Self {
        Self::new()
    }
}

/// Registered clients, outstanding codes and live refresh tokens.
#[derive(Default)]
struct Flows {
    clients: HashMap<String, RegisteredClient>,
    codes: HashMap<String, IssuedCode>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    /// Refresh tokens already exchanged, with the code their chain started from: one shown
    /// again means it was stolen or replayed, and the chain is revoked (OAuth 2.1 §4.3.1).
    spent_refresh_tokens: HashMap<String, String>,
}

/// How much the flows keep at once: a test suite needs a handful of each, a runaway client
/// should get `temporarily_unavailable` rather than grow the process without bound.
const MAX_CLIENTS: usize = 10_000;
const MAX_CODES: usize = 10_000;
const MAX_REFRESH_TOKENS: usize = 100_000;

/// The longest URI, scope or name a request may carry.
const MAX_FIELD: usize = 2_000;

/// How a client authenticates at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthMethod {
    /// A public client: `client_id` only, PKCE is its proof.
    None,
    ClientSecretPost,
    ClientSecretBasic,
}

impl AuthMethod {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
        }
    }
}

/// A client that registered itself.
struct RegisteredClient {
    secret: Option<String>,
    method: AuthMethod,
    redirect_uris: Vec<String>,
    refresh: bool,
}

/// An authorization code between `/oauth/authorize` and its exchange.
struct IssuedCode {
    client_id: String,
    /// The `redirect_uri` of the authorization request, when it named one (then the token
    /// request must repeat it).
    redirect_uri: Option<String>,
    challenge: String,
    resource: String,
    scope: Option<String>,
    subject: String,
    expires: Instant,
    /// Set at the first exchange; a second one is a replay.
    used: bool,
}

/// What a refresh token stands for.
struct RefreshGrant {
    client_id: String,
    subject: String,
    resource: String,
    scope: Option<String>,
    /// The code the chain started from, so a replayed code can revoke the chain.
    code: String,
}

/// The server's signing key and its id.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    kid: String,
}

impl SigningKey {
    /// A fresh P-256 key.
    pub fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("the system can make a P-256 key");
        let kid = format!("sandbox-{:08x}", rand::random::<u32>());
        Self { pair, kid }
    }

    /// The public key as a JWK.
    fn jwk(&self) -> Value {
        // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        })
    }

    /// `claims` as a compact ES256 JWS.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("signing with a valid key");
        format!("{input}.{}", B64.encode(signature.as_ref()))
    }
}

/// The issuer identifier: the address the caller used.
fn issuer(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// 32 random bytes, base64url: codes, refresh tokens, client ids and secrets.
fn random_token() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(headers: HeaderMap) -> Response {
    let iss = issuer(&headers);
    axum::Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "registration_endpoint": format!("{iss}/oauth/register"),
        "jwks_uri": format!("{iss}/oauth/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported":
            ["none", "client_secret_post", "client_secret_basic"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

/// `GET /oauth/jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    axum::Json(json!({"keys": [state.authz.key.jwk()]})).into_response()
}

/// An RFC 6749 §5.2 error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// A signed access token for `subject`, for `audience`, from now for `lifetime_secs`.
fn access_token(
    state: &AppState,
    issuer: &str,
    subject: &str,
    audience: &str,
    client_id: &str,
    scope: Option<&str>,
    lifetime_secs: i64,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "client_id": client_id,
        "iat": now,
        "nbf": now.min(now + lifetime_secs),
        "exp": now + lifetime_secs,
        "jti": format!("{:016x}", rand::random::<u64>()),
    });
    if let Some(scope) = scope {
        claims["scope"] = json!(scope);
    }
    state.authz.key.sign(&claims)
}
