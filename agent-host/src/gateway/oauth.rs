//! OAuth 2.1 access tokens (the MCP authorization spec): JWTs checked against the configured
//! issuers' keys (found through their RFC 8414 metadata), and the broker's answer about which
//! shops a subject reaches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::admission::lock;

/// Verifies OAuth 2.1 access tokens (JWTs) from the configured issuers, and asks the broker
/// which shops their subjects reach.
pub(super) struct OAuth {
    pub(super) issuers: Vec<String>,
    /// The gateway's public URL: every token must name it in `aud` (RFC 8707).
    pub(super) audience: String,
    /// Where the protected-resource metadata is (RFC 9728), for `WWW-Authenticate`.
    pub(super) metadata_url: String,
    pub(super) http: reqwest::Client,
    /// Issuer → its keys (read without waiting) and when they were last asked for.
    pub(super) keys: Mutex<HashMap<String, IssuerKeys>>,
    /// Issuer → the lock one fetch of its keys holds: a slow issuer delays only its own
    /// tokens, and concurrent misses share one fetch.
    pub(super) fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// (issuer, subject) → its shops, believed for [`KEY_CHECK_TTL`].
    pub(super) shops: Mutex<HashMap<Subject, (Vec<String>, Instant)>>,
}

/// (issuer, subject) of an access token.
pub(super) type Subject = (String, String);

/// One issuer's keys, and when they were last asked for (successfully or not).
#[derive(Default)]
pub(super) struct IssuerKeys {
    set: Option<jsonwebtoken::jwk::JwkSet>,
    asked: Option<Instant>,
}

/// Why a token was refused: a fixed word for the caller (RFC 6750), details for the log.
pub(super) struct Refusal {
    pub(super) public: &'static str,
    pub(super) detail: String,
}

pub(super) fn refused(public: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        public,
        detail: detail.into(),
    }
}

/// Longest subject taken (the broker's own limit).
pub(super) const MAX_SUBJECT: usize = 500;

/// An issuer's keys are fetched again for an unknown `kid` at most this often.
pub(super) const JWKS_REFETCH: Duration = Duration::from_secs(10);

#[derive(serde::Deserialize)]
pub(super) struct Claims {
    sub: String,
}

impl OAuth {
    /// The token's (issuer, subject) once its signature, issuer, audience and times hold.
    pub(super) async fn verify(&self, token: &str) -> Result<(String, String), Refusal> {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| refused("malformed token", format!("{e:?}")))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(refused(
                "unsupported token algorithm (RS256 or ES256)",
                format!("{:?}", header.alg),
            ));
        }
        // The issuer picks the keys; the signature check below covers it. Compared exactly
        // as configured: nothing is fetched for any other.
        let issuer =
            unverified_issuer(token).ok_or_else(|| refused("malformed token", "no iss"))?;
        if !self.issuers.contains(&issuer) {
            return Err(refused("untrusted issuer", format!("{issuer:?}")));
        }
        let kid = header
            .kid
            .ok_or_else(|| refused("malformed token", "no kid"))?;
        let jwk = self.key(&issuer, &kid).await?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| refused("invalid token", format!("the issuer's key: {e:?}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer]);
        let with_slash = format!("{}/", self.audience);
        validation.set_audience(&[self.audience.as_str(), with_slash.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| refused("invalid or expired token", format!("{:?}", e.kind())))?;
        let subject = data.claims.sub;
        if subject.is_empty()
            || subject.len() > MAX_SUBJECT
            || subject.chars().any(char::is_control)
        {
            return Err(refused("invalid token", "unusable sub"));
        }
        Ok((issuer, subject))
    }

    /// The issuer's key `kid`, fetching its keys (RFC 8414 metadata, then `jwks_uri`) when
    /// unknown, at most every [`JWKS_REFETCH`] whether the last attempt worked or not.
    pub(super) async fn key(
        &self,
        issuer: &str,
        kid: &str,
    ) -> Result<jsonwebtoken::jwk::Jwk, Refusal> {
        let unknown = || refused("invalid token", "the token's key is not the issuer's");
        let known = |keys: &HashMap<String, IssuerKeys>| {
            let entry = keys.get(issuer);
            let jwk = entry
                .and_then(|e| e.set.as_ref())
                .and_then(|set| set.find(kid).cloned());
            let recently = entry
                .and_then(|e| e.asked)
                .is_some_and(|at| at.elapsed() < JWKS_REFETCH);
            (jwk, recently)
        };
        if let (Some(jwk), _) = known(&lock(&self.keys)) {
            return Ok(jwk);
        }
        let gate = lock(&self.fetching)
            .entry(issuer.to_owned())
            .or_default()
            .clone();
        let _fetching = gate.lock().await;
        // Whoever held the gate before may have fetched them.
        match known(&lock(&self.keys)) {
            (Some(jwk), _) => return Ok(jwk),
            (None, true) => return Err(unknown()),
            (None, false) => {}
        }
        lock(&self.keys).entry(issuer.to_owned()).or_default().asked = Some(Instant::now());
        let fetch = async {
            let metadata: serde_json::Value = self
                .http
                .get(format!(
                    "{}/.well-known/oauth-authorization-server",
                    issuer.trim_end_matches('/')
                ))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::ensure!(
                metadata["issuer"].as_str() == Some(issuer),
                "its metadata names another issuer"
            );
            let jwks_uri = metadata["jwks_uri"].as_str().unwrap_or_default().to_owned();
            let set: jsonwebtoken::jwk::JwkSet = self
                .http
                .get(jwks_uri)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::Ok(set)
        };
        let set = fetch.await.map_err(|e| {
            tracing::warn!(issuer, "cannot fetch the issuer's keys: {e}");
            refused("invalid token", "the issuer's keys are not available")
        })?;
        let found = set.find(kid).cloned();
        lock(&self.keys).entry(issuer.to_owned()).or_default().set = Some(set);
        found.ok_or_else(unknown)
    }
}

/// The `iss` of a JWT's payload, unverified.
pub(super) fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}
