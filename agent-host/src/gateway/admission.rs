//! Admission: the request's credential (a shop key, or an OAuth access token) and its path
//! become a [`Caller`] — one shop and the sources it may use — or a refusal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use broker_proto::{ErrorCode, Provider, ShopKey, ShopKeyInfo};

use super::limits::{Bucket, InFlight, Limits};
use super::oauth::OAuth;
use crate::server_set::SetConfig;

/// What the gateway knows of the caller of one request: put into the request's extensions by
/// [`admit`], read by the MCP handler.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id (for the audit line; never the key).
    pub key_id: String,
    /// The one shop.
    pub shop_id: String,
    /// The sources this request may use: the key's, narrowed by the path.
    pub providers: Vec<Provider>,
    /// The key's concurrency slot, held while the request is served.
    _in_flight: Arc<InFlight>,
}

/// How long a broker's "yes" about a key is believed: a revocation is seen within this.
pub(super) const KEY_CHECK_TTL: Duration = Duration::from_secs(1);

/// Admission: the key, checked by the broker (briefly cached), and the path.
pub(super) struct Admission {
    pub(super) config: Arc<SetConfig>,
    pub(super) checked: Mutex<HashMap<Vec<u8>, (ShopKeyInfo, Instant)>>,
    pub(super) limits: Limits,
    /// Unknown keys the broker was asked about, gateway-wide: a guesser's budget.
    pub(super) unknown: Bucket,
    /// OAuth access tokens, when issuers are configured.
    pub(super) oauth: Option<OAuth>,
}

impl Admission {
    fn is_cached(&self, key: &str) -> bool {
        let hash: Vec<u8> = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()).to_vec();
        lock(&self.checked)
            .get(&hash)
            .is_some_and(|(_, at)| at.elapsed() < KEY_CHECK_TTL)
    }

    /// What `key` reaches, from the cache or the broker.
    async fn check(&self, key: &str) -> Result<ShopKeyInfo, Response> {
        // Held by its hash: the cache must not be a second place the keys live in.
        let cache_key: Vec<u8> = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()).to_vec();
        if let Some((info, at)) = lock(&self.checked).get(&cache_key)
            && at.elapsed() < KEY_CHECK_TTL
        {
            return Ok(info.clone());
        }
        let answer = async {
            self.config
                .broker()
                .await?
                .check_key(&ShopKey::new(key.to_owned()))
                .await
        }
        .await;
        match answer {
            Ok(info) => {
                let mut checked = lock(&self.checked);
                // Bounded: entries older than the TTL are useless anyway.
                if checked.len() > 10_000 {
                    checked.retain(|_, (_, at)| at.elapsed() < KEY_CHECK_TTL);
                }
                checked.insert(cache_key, (info.clone(), Instant::now()));
                Ok(info)
            }
            Err(e) => {
                lock(&self.checked).remove(&cache_key);
                Err(match e.broker_error() {
                    Some(b) if b.code == ErrorCode::UnknownKey => {
                        self.unknown.take();
                        self.unauthorized(&b.message)
                    }
                    _ => {
                        tracing::error!("cannot check a key with the credential broker: {e}");
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            [(header::RETRY_AFTER, "5")],
                            "the gateway cannot reach its credential broker; try again shortly",
                        )
                            .into_response()
                    }
                })
            }
        }
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Admission {
    /// 401, naming the scheme and (with OAuth) where to learn how to get a token (RFC 9728).
    fn unauthorized(&self, why: &str) -> Response {
        let challenge = match &self.oauth {
            Some(o) => format!(
                "Bearer realm=\"berryboo\", error=\"invalid_token\", resource_metadata=\"{}\"",
                o.metadata_url
            ),
            None => "Bearer realm=\"berryboo\"".to_owned(),
        };
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            format!(
                "{why}: send Authorization: Bearer <shop key (credential-broker key create){}>",
                if self.oauth.is_some() {
                    " or OAuth access token"
                } else {
                    ""
                }
            ),
        )
            .into_response()
    }

    /// The shops an OAuth subject reaches, from the cache or the broker.
    async fn subject_shops(
        &self,
        oauth: &OAuth,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<String>, Response> {
        let id = (issuer.to_owned(), subject.to_owned());
        if let Some((shops, at)) = lock(&oauth.shops).get(&id)
            && at.elapsed() < KEY_CHECK_TTL
        {
            return Ok(shops.clone());
        }
        let answer = async {
            self.config
                .broker()
                .await?
                .principal_shops(issuer, subject)
                .await
        }
        .await;
        match answer {
            Ok(shops) => {
                let mut cache = lock(&oauth.shops);
                if cache.len() > 10_000 {
                    cache.retain(|_, (_, at)| at.elapsed() < KEY_CHECK_TTL);
                }
                cache.insert(id, (shops.clone(), Instant::now()));
                Ok(shops)
            }
            Err(e) => {
                tracing::error!("cannot ask the credential broker about a subject: {e}");
                Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "5")],
                    "the gateway cannot reach its credential broker; try again shortly",
                )
                    .into_response())
            }
        }
    }
}

pub(super) fn forbidden(why: String) -> Response {
    (StatusCode::FORBIDDEN, why).into_response()
}

/// The shop and source a path names: `/mcp`, `/mcp/{source}`, `/shops/{id}/mcp[/{source}]`.
pub(super) fn route(path: &str) -> Option<(Option<&str>, Option<&str>)> {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match parts.as_slice() {
        ["mcp"] => Some((None, None)),
        ["mcp", source] => Some((None, Some(*source))),
        ["shops", shop, "mcp"] => Some((Some(*shop), None)),
        ["shops", shop, "mcp", source] => Some((Some(*shop), Some(*source))),
        _ => None,
    }
}

/// Middleware: the caller's key decides the shop; the path may only narrow it.
pub(super) async fn admit(
    State(admission): State<Arc<Admission>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some((shop, source)) = route(request.uri().path()) else {
        return (
            StatusCode::NOT_FOUND,
            "no such endpoint: use /mcp or /mcp/{source}",
        )
            .into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(mcp_common::transport::guard::bearer)
        .filter(|k| !k.is_empty());
    let Some(presented) = presented else {
        return admission.unauthorized("no credential");
    };
    let info = if looks_like_a_shop_key(presented) {
        if let Err(wait) = admission.unknown.peek() {
            // Too many unknown keys lately: someone is guessing. Known keys still pass (cached).
            if !admission.is_cached(presented) {
                return too_many(wait);
            }
        }
        match admission.check(presented).await {
            Ok(info) => info,
            Err(response) => return response,
        }
    } else if let Some(oauth) = &admission.oauth
        && presented.split('.').count() == 3
    {
        let (issuer, subject) = match oauth.verify(presented).await {
            Ok(who) => who,
            Err(why) => {
                let detail: String = why.detail.chars().take(200).collect();
                tracing::info!(reason = why.public, detail = ?detail, "refused an access token");
                return admission.unauthorized(why.public);
            }
        };
        let shops = match admission.subject_shops(oauth, &issuer, &subject).await {
            Ok(shops) => shops,
            Err(response) => return response,
        };
        // The path names the shop among those the subject reaches; without one, the subject
        // must reach exactly one.
        let chosen = match (shop, shops.as_slice()) {
            (Some(s), _) if shops.iter().any(|x| x == s) => s.to_owned(),
            (Some(s), _) => {
                tracing::warn!(subject = ?subject, issuer = ?issuer, "refused: the path names a shop the subject does not reach");
                return forbidden(format!("this credential does not reach shop {s}"));
            }
            (None, [only]) => only.clone(),
            (None, []) => {
                tracing::warn!(subject = ?subject, issuer = ?issuer, "refused: the subject reaches no shop");
                return forbidden(
                    "this credential reaches no shop (credential-broker principal add)".to_owned(),
                );
            }
            (None, several) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "this credential reaches {} shops: name one, /shops/{{id}}/mcp",
                        several.len()
                    ),
                )
                    .into_response();
            }
        };
        ShopKeyInfo {
            key_id: format!("sub:{subject}@{issuer}"),
            shop_id: chosen,
            providers: Provider::ALL.to_vec(),
            label: None,
            created_at: 0,
            expires_at: 0,
        }
    } else {
        return admission.unauthorized("not a shop key");
    };
    if let Some(shop) = shop
        && shop != info.shop_id
    {
        tracing::warn!(key = %info.key_id, "refused: the path names another shop");
        return forbidden(format!("this credential does not reach shop {shop}"));
    }
    let providers = match source {
        None => info.providers.clone(),
        Some(source) => match source.replace('-', "_").parse::<Provider>() {
            Ok(p) if info.providers.contains(&p) => vec![p],
            Ok(p) => {
                return forbidden(format!(
                    "this credential does not reach {} (it reaches: {})",
                    p.service_name(),
                    info.providers
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Err(_) => {
                return (
                    StatusCode::NOT_FOUND,
                    format!("no source {source:?}: use ga4, gsc, google-ads or meta-ads"),
                )
                    .into_response();
            }
        },
    };
    let in_flight = match admission.limits.admit(&info.key_id) {
        Ok(counted) => counted,
        Err(wait) => {
            tracing::info!(key = %info.key_id, "refused: over its rate or concurrency limit");
            return too_many(wait);
        }
    };
    // The slot travels with the request into the MCP handler, which runs as its own task: it
    // is given back when the call ends, not when the caller hangs up.
    request.extensions_mut().insert(Caller {
        key_id: info.key_id,
        shop_id: info.shop_id,
        providers,
        _in_flight: Arc::new(in_flight),
    });
    next.run(request).await
}

/// RFC 9728 metadata, or 404 when OAuth is not configured.
pub(super) fn protected_resource(metadata: Option<serde_json::Value>) -> Response {
    match metadata {
        Some(m) => axum::Json(m).into_response(),
        None => (StatusCode::NOT_FOUND, "this gateway takes shop keys only").into_response(),
    }
}

pub(super) fn too_many(wait: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, wait.to_string())],
        "too many requests for this credential; retry after the given seconds",
    )
        .into_response()
}

/// `bbk_` and 43 base64url characters: what `credential-broker key create` makes.
pub(super) fn looks_like_a_shop_key(key: &str) -> bool {
    key.len() == 47
        && key.starts_with("bbk_")
        && key[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn paths_name_at_most_a_shop_and_a_source() {
        assert_eq!(route("/mcp"), Some((None, None)));
        assert_eq!(route("/mcp/"), Some((None, None)));
        assert_eq!(route("/mcp/ga4"), Some((None, Some("ga4"))));
        assert_eq!(route("/shops/s1/mcp"), Some((Some("s1"), None)));
        assert_eq!(
            route("/shops/s1/mcp/meta-ads"),
            Some((Some("s1"), Some("meta-ads")))
        );
        assert_eq!(route("/healthz"), None);
        assert_eq!(route("/mcp/ga4/extra"), None);
        assert_eq!(route("/shops/s1"), None);
    }
}
