//! A small OAuth 2.1 authorization server, for the gateway's OAuth mode in tests and the demo:
//! RFC 8414 metadata at `/.well-known/oauth-authorization-server`, its signing key at
//! `/oauth/jwks`, and `client_credentials` at `/oauth/token` for the fixture's
//! `[[oauth_clients]]` (an RFC 8707 `resource` becomes the token's `aud`). Tokens are ES256 JWTs
//! signed with a P-256 key made at start. The issuer is the URL the caller reached the sandbox
//! at (`http://{Host}`), so a test configures the gateway with the sandbox's own address.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use crate::state::AppState;

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

fn issuer(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(headers: HeaderMap) -> Response {
    let iss = issuer(&headers);
    axum::Json(json!({
        "issuer": iss,
        "token_endpoint": format!("{iss}/oauth/token"),
        "jwks_uri": format!("{iss}/oauth/jwks"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "response_types_supported": [],
    }))
    .into_response()
}

/// `GET /oauth/jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    axum::Json(json!({"keys": [state.oauth_key.jwk()]})).into_response()
}

/// The token request (form-encoded, RFC 6749 §4.4).
#[derive(Default)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    resource: Option<String>,
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
                _ => continue,
            };
            *slot = Some(v.into_owned());
        }
        r
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /oauth/token`: `client_credentials` only.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let request = TokenRequest::parse(&body);
    if request.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this authorization server issues client_credentials tokens",
        );
    }
    let client = state.config.fixtures.oauth_clients.iter().find(|c| {
        Some(c.client_id.as_str()) == request.client_id.as_deref()
            && Some(c.client_secret.as_str()) == request.client_secret.as_deref()
    });
    let Some(client) = client else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    };
    let Some(audience) = request.resource.or_else(|| client.audience.clone()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "name the resource (RFC 8707) the token is for",
        );
    };
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": issuer(&headers),
        "sub": client.subject,
        "aud": audience,
        "client_id": client.client_id,
        "iat": now,
        "nbf": now.min(now + client.lifetime_secs),
        "exp": now + client.lifetime_secs,
        "jti": format!("{:016x}", rand::random::<u64>()),
    });
    axum::Json(json!({
        "access_token": state.oauth_key.sign(&claims),
        "token_type": "Bearer",
        "expires_in": client.lifetime_secs.max(0),
    }))
    .into_response()
}
