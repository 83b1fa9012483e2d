//! `agent-host gateway`: one HTTP endpoint through which remote MCP hosts and agents reach
//! exactly one shop's tools.
//!
//! A caller presents a shop key (`Authorization: Bearer bbk_…`); the broker says which shop and
//! sources it reaches (checked again at most a second later, so a revoked key is refused on
//! the next request, across gateways sharing the broker's database). The key alone decides the
//! shop: a path naming another shop is refused, and nothing a caller sends reaches another
//! shop's processes. Each shop's tools run in that shop's own server set (the [`ShopPool`]:
//! one lease per server, idle eviction, an LRU cap, concurrent callers share one start); the
//! caller's key never reaches a server or an upstream.
//!
//! MCP streamable HTTP, stateless (no sticky sessions: any gateway behind a load balancer can
//! answer any request): `/mcp` serves the union of the key's sources, `/mcp/{source}` one
//! source, and `/shops/{shop_id}/mcp[/{source}]` the same for clients that name the shop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use broker_proto::{ErrorCode, Provider, ShopKey, ShopKeyInfo};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio_util::sync::CancellationToken;

use crate::pool::ShopPool;
use crate::server_set::{HOST_LEASE_TTL, SetConfig};

/// `agent-host gateway` flags.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// Address to listen on (port 0 picks a free one; the first stdout line says which).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Credential broker socket.
    #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
    pub broker_socket: Option<PathBuf>,
    /// Upstream base URL passed on to the servers (the sandbox).
    #[arg(long, value_name = "URL", env = "BERRYBOO_API_BASE")]
    pub api_base: Option<String>,
    /// The URL callers use to reach this gateway (its host is accepted in `Host`).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<url::Url>,
    /// Shops with live server sets at once (the least recently used idle one goes first).
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_live_shops: u32,
    /// A shop's servers end after this long without a call.
    #[arg(long, default_value = "10m", value_parser = crate::chat::parse_duration)]
    pub idle: Duration,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "trust_proxy"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address because a TLS-terminating proxy in front of
    /// the gateway is the only way in.
    #[arg(long)]
    pub trust_proxy: bool,
    /// Trust OAuth 2.1 access tokens (JWTs, RS256/ES256) from this authorization server
    /// (its issuer URL; repeatable). Needs --public-url: tokens must name it in `aud`. Which
    /// shops a token's subject reaches is `credential-broker principal add`.
    #[arg(long, value_name = "URL", requires = "public_url")]
    pub oauth_issuer: Vec<String>,
    /// Requests per second one key may make, sustained (bursts of twice as many pass).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate_per_key: u32,
    /// Requests one key may have in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency_per_key: u32,
}

/// One key's budget: a token bucket for its rate and a count of its requests in flight.
struct Budget {
    tokens: f64,
    refilled: Instant,
    in_flight: Arc<std::sync::atomic::AtomicU32>,
}

/// Per-key limits, so one caller cannot starve the others (or the shop's API quota).
struct Limits {
    rate: f64,
    burst: f64,
    concurrency: u32,
    budgets: Mutex<HashMap<String, Budget>>,
}

/// A request counted in flight until dropped.
#[derive(Debug)]
struct InFlight(Arc<std::sync::atomic::AtomicU32>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Limits {
    fn new(rate: u32, concurrency: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(rate) * 2.0,
            concurrency,
            budgets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request of `key_id`, or says how many seconds to wait.
    fn admit(&self, key_id: &str) -> Result<InFlight, u64> {
        self.admit_at(key_id, Instant::now())
    }

    fn admit_at(&self, key_id: &str, now: Instant) -> Result<InFlight, u64> {
        let mut budgets = lock(&self.budgets);
        if budgets.len() > 100_000 {
            // Keys idle long enough to have a full bucket again carry no state worth keeping.
            let full = Duration::from_secs_f64(self.burst / self.rate);
            budgets.retain(|_, b| {
                b.refilled.elapsed() < full
                    || b.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0
            });
        }
        let budget = budgets.entry(key_id.to_owned()).or_insert_with(|| Budget {
            tokens: self.burst,
            refilled: now,
            in_flight: Arc::default(),
        });
        budget.tokens = (budget.tokens
            + now.saturating_duration_since(budget.refilled).as_secs_f64() * self.rate)
            .min(self.burst);
        budget.refilled = now;
        if budget.tokens < 1.0 {
            return Err(((1.0 - budget.tokens) / self.rate).ceil().max(1.0) as u64);
        }
        let in_flight = &budget.in_flight;
        if in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= self.concurrency {
            in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            return Err(1);
        }
        budget.tokens -= 1.0;
        Ok(InFlight(in_flight.clone()))
    }
}

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
const KEY_CHECK_TTL: Duration = Duration::from_secs(1);

/// Admission: the key, checked by the broker (briefly cached), and the path.
struct Admission {
    config: Arc<SetConfig>,
    checked: Mutex<HashMap<Vec<u8>, (ShopKeyInfo, Instant)>>,
    limits: Limits,
    /// Unknown keys the broker was asked about, gateway-wide: a guesser's budget.
    unknown: Bucket,
    /// OAuth access tokens, when issuers are configured.
    oauth: Option<OAuth>,
}

/// Verifies OAuth 2.1 access tokens (JWTs) from the configured issuers, and asks the broker
/// which shops their subjects reach.
struct OAuth {
    issuers: Vec<String>,
    /// The gateway's public URL: every token must name it in `aud` (RFC 8707).
    audience: String,
    /// Where the protected-resource metadata is (RFC 9728), for `WWW-Authenticate`.
    metadata_url: String,
    http: reqwest::Client,
    /// Issuer → its keys (read without waiting) and when they were last asked for.
    keys: Mutex<HashMap<String, IssuerKeys>>,
    /// Issuer → the lock one fetch of its keys holds: a slow issuer delays only its own
    /// tokens, and concurrent misses share one fetch.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// (issuer, subject) → its shops, believed for [`KEY_CHECK_TTL`].
    shops: Mutex<HashMap<Subject, (Vec<String>, Instant)>>,
}

/// (issuer, subject) of an access token.
type Subject = (String, String);

/// One issuer's keys, and when they were last asked for (successfully or not).
#[derive(Default)]
struct IssuerKeys {
    set: Option<jsonwebtoken::jwk::JwkSet>,
    asked: Option<Instant>,
}

/// Why a token was refused: a fixed word for the caller (RFC 6750), details for the log.
struct Refusal {
    public: &'static str,
    detail: String,
}

fn refused(public: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        public,
        detail: detail.into(),
    }
}

/// Longest subject taken (the broker's own limit).
const MAX_SUBJECT: usize = 500;

/// An issuer's keys are fetched again for an unknown `kid` at most this often.
const JWKS_REFETCH: Duration = Duration::from_secs(10);

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
}

impl OAuth {
    /// The token's (issuer, subject) once its signature, issuer, audience and times hold.
    async fn verify(&self, token: &str) -> Result<(String, String), Refusal> {
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
    async fn key(&self, issuer: &str, kid: &str) -> Result<jsonwebtoken::jwk::Jwk, Refusal> {
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
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}

/// A token bucket (`rate` a second, bursts of twice that).
struct Bucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Self {
            rate,
            state: Mutex::new((rate * 2.0, Instant::now())),
        }
    }

    fn refilled(&self, state: &mut (f64, Instant)) {
        let now = Instant::now();
        state.0 = (state.0 + now.saturating_duration_since(state.1).as_secs_f64() * self.rate)
            .min(self.rate * 2.0);
        state.1 = now;
    }

    /// Whether a token is left (without taking it), or the seconds until one is.
    fn peek(&self) -> Result<(), u64> {
        let mut state = lock(&self.state);
        self.refilled(&mut state);
        if state.0 >= 1.0 {
            Ok(())
        } else {
            Err(((1.0 - state.0) / self.rate).ceil().max(1.0) as u64)
        }
    }

    fn take(&self) {
        let mut state = lock(&self.state);
        self.refilled(&mut state);
        state.0 -= 1.0;
    }
}

/// Unknown keys per second the gateway asks its broker about before it answers 429.
const UNKNOWN_KEY_CHECKS_PER_SEC: f64 = 20.0;

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

fn forbidden(why: String) -> Response {
    (StatusCode::FORBIDDEN, why).into_response()
}

/// The shop and source a path names: `/mcp`, `/mcp/{source}`, `/shops/{id}/mcp[/{source}]`.
fn route(path: &str) -> Option<(Option<&str>, Option<&str>)> {
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
async fn admit(
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
fn protected_resource(metadata: Option<serde_json::Value>) -> Response {
    match metadata {
        Some(m) => axum::Json(m).into_response(),
        None => (StatusCode::NOT_FOUND, "this gateway takes shop keys only").into_response(),
    }
}

fn too_many(wait: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, wait.to_string())],
        "too many requests for this credential; retry after the given seconds",
    )
        .into_response()
}

/// `bbk_` and 43 base64url characters: what `credential-broker key create` makes.
fn looks_like_a_shop_key(key: &str) -> bool {
    key.len() == 47
        && key.starts_with("bbk_")
        && key[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The MCP side: each request's tools are its caller's shop's, from the pool.
#[derive(Clone)]
struct Gateway {
    pool: Arc<ShopPool>,
}

fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        // Admission runs before every MCP request; without its verdict nothing is served.
        .ok_or_else(|| ErrorData::internal_error("request not admitted", None))
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new("berryboo-gateway", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("berryboo shop gateway (read-only marketing data)".into());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(implementation)
            .with_instructions(
                "Read-only marketing data of one shop: its Google Analytics 4, Search Console, \
                 Google Ads and Meta Ads accounts, as its credential allows. Tools default to \
                 the shop's own accounts.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller(&context)?;
        let set = self.pool.get(&caller.shop_id).await.map_err(|e| {
            ErrorData::internal_error(
                redaction::text(&format!("the shop's tools are not available: {e}")).into_owned(),
                None,
            )
        })?;
        let tools = set
            .tools()
            .into_iter()
            .filter(|(p, _)| caller.providers.contains(p))
            .map(|(_, t)| t.clone())
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(&context)?;
        let started = Instant::now();
        let tool = request.name.to_string();
        let outcome = async {
            let set = self
                .pool
                .get(&caller.shop_id)
                .await
                .map_err(|e| format!("the shop's tools are not available: {e}"))?;
            match set.tool(&tool) {
                Some((p, _)) if caller.providers.contains(&p) => {}
                _ => {
                    return Err(format!(
                        "no tool {tool:?} for this credential (tools/list shows them)"
                    ));
                }
            }
            let arguments =
                serde_json::Value::Object(request.arguments.clone().unwrap_or_default());
            // A caller that hung up (or cancelled) frees its server for the next call.
            tokio::select! {
                result = set.call(&tool, arguments) => result.map_err(|e| e.to_string()),
                () = context.ct.cancelled() => Err("the caller went away".to_owned()),
            }
        }
        .await;
        let (result, status) = match outcome {
            Ok(r) => {
                let status = if r.is_error == Some(true) {
                    "tool_error"
                } else {
                    "ok"
                };
                (r, status)
            }
            Err(why) => (
                CallToolResult::error(vec![ContentBlock::text(redaction::text(&why).into_owned())]),
                "failed",
            ),
        };
        tracing::info!(
            target: "audit",
            key = ?caller.key_id,
            shop = %caller.shop_id,
            tool = %tool,
            outcome = status,
            duration_ms = started.elapsed().as_millis() as u64,
            "gateway call"
        );
        Ok(result.into())
    }
}

/// Runs the gateway until SIGINT/SIGTERM.
pub async fn run(args: GatewayArgs, file: &crate::config::HostFile) -> Result<ExitCode> {
    for issuer in &args.oauth_issuer {
        let loopback = url::Url::parse(issuer).ok().is_some_and(|u| {
            u.scheme() == "http"
                && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        });
        if !issuer.starts_with("https://") && !loopback {
            eprintln!(
                "agent-host: --oauth-issuer {issuer:?} must be an https:// URL (its keys decide who gets in)"
            );
            return Ok(ExitCode::from(2));
        }
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match mcp_common::transport::tls_acceptor(cert, key) {
            Ok(acceptor) => Some(acceptor),
            Err(e) => {
                eprintln!("agent-host: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() && !args.trust_proxy {
        eprintln!(
            "agent-host: refusing to serve plain HTTP on {}: callers' keys would cross the network in clear. \
             Pass --tls-cert and --tls-key, or put a TLS-terminating proxy in front and pass --trust-proxy, \
             or listen on 127.0.0.1.",
            args.listen
        );
        return Ok(ExitCode::from(2));
    }
    let config = Arc::new(SetConfig {
        broker_socket: args
            .broker_socket
            .clone()
            .unwrap_or_else(broker_proto::default_socket_path),
        servers_dir: crate::children::servers_dir()?,
        api_base: args.api_base.clone(),
        lease_ttl: HOST_LEASE_TTL,
        child_log: "error".into(),
        host_key: file.host_key.clone(),
    });
    // The resource this gateway is (its public URL), and where its metadata is (RFC 9728).
    let oauth_config = (!args.oauth_issuer.is_empty())
        .then_some(args.public_url.as_ref())
        .flatten()
        .map(|u| {
            let audience = u.as_str().trim_end_matches('/').to_owned();
            let metadata = format!("{audience}/.well-known/oauth-protected-resource");
            (audience, metadata)
        });
    let resource_metadata = oauth_config.as_ref().map(|(audience, _)| {
        serde_json::json!({
            "resource": audience,
            "authorization_servers": args.oauth_issuer.clone(),
            "bearer_methods_supported": ["header"],
            "resource_name": "berryboo shop gateway",
        })
    });
    let pool = Arc::new(ShopPool::new(
        config.clone(),
        Provider::ALL.to_vec(),
        args.idle,
        args.max_live_shops as usize,
    ));
    let admission = Arc::new(Admission {
        config,
        checked: Mutex::new(HashMap::new()),
        limits: Limits::new(args.rate_per_key, args.concurrency_per_key),
        unknown: Bucket::new(UNKNOWN_KEY_CHECKS_PER_SEC),
        oauth: oauth_config.as_ref().map(|(audience, metadata_url)| OAuth {
            issuers: args.oauth_issuer.clone(),
            audience: audience.clone(),
            metadata_url: metadata_url.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            shops: Mutex::new(HashMap::new()),
        }),
    });
    let cancel = CancellationToken::new();
    let mcp = StreamableHttpService::new(
        {
            let pool = pool.clone();
            move || Ok(Gateway { pool: pool.clone() })
        },
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .disable_allowed_origins()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_cancellation_token(cancel.child_token()),
    );
    let http = mcp_common::cli::HttpConfig {
        bind: args.listen,
        key: None,
        allowed_hosts: args
            .public_url
            .as_ref()
            .and_then(|u| u.host_str())
            .map(|h| vec![h.to_owned()])
            .unwrap_or_default(),
        allowed_origins: Vec::new(),
        max_sessions: 0,
        session_idle: args.idle,
        header_timeout: Duration::from_secs(30),
    };
    let guard = Arc::new(mcp_common::transport::guard::Guard::new(&http));
    let app = axum::Router::new()
        .route_service("/mcp", mcp.clone())
        .route_service("/mcp/{source}", mcp.clone())
        .route_service("/shops/{shop}/mcp", mcp.clone())
        .route_service("/shops/{shop}/mcp/{source}", mcp)
        // Inside admission: nobody without a key makes the gateway hold a body.
        .layer(axum::middleware::from_fn_with_state(
            http.header_timeout,
            mcp_common::transport::limits::cap_body,
        ))
        .layer(axum::middleware::from_fn_with_state(admission, admit))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/.well-known/oauth-protected-resource",
            axum::routing::get({
                let m = resource_metadata.clone();
                move || async move { protected_resource(m) }
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/{*path}",
            axum::routing::get(move || async move { protected_resource(resource_metadata) }),
        )
        .layer(axum::middleware::from_fn_with_state(
            guard,
            mcp_common::transport::guard::check,
        ));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let scheme = if tls.is_some() { "https" } else { "http" };
        writeln!(stdout, "listening on {scheme}://{local}")?;
        stdout.flush()?;
    }
    tracing::info!(%local, "gateway serving MCP at /mcp, /mcp/{{source}}, /shops/{{id}}/mcp");
    let sweeper = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(15));
            loop {
                tick.tick().await;
                pool.sweep().await;
            }
        })
    };
    let served = mcp_common::transport::serve_router(
        app,
        listener,
        http.header_timeout,
        tls,
        cancel,
        shutdown_signal(),
    )
    .await;
    sweeper.abort();
    pool.shutdown().await;
    served.context("the gateway's HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Limits, route};

    #[test]
    fn a_key_gets_its_burst_then_waits_and_its_concurrency_is_capped() {
        // One instant throughout: no refill, whatever the machine is doing.
        let t = std::time::Instant::now();
        let limits = Limits::new(2, 3);
        let held: Vec<_> = (0..3)
            .map(|_| limits.admit_at("k", t).expect("within"))
            .collect();
        assert_eq!(
            limits.admit_at("k", t).err(),
            Some(1),
            "three in flight at most"
        );
        assert!(
            limits.admit_at("other", t).is_ok(),
            "another key has its own budget"
        );
        drop(held);
        // Four tokens (twice the rate) in all: three spent above, one left.
        let one = limits.admit_at("k", t).expect("the fourth");
        drop(one);
        assert!(
            limits.admit_at("k", t).is_err_and(|wait| wait >= 1),
            "bucket empty"
        );
        // Half a second later at 2/s: one token back.
        let later = t + std::time::Duration::from_millis(500);
        assert!(limits.admit_at("k", later).is_ok(), "refilled");
    }

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
