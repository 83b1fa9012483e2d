//! Where a server's access tokens come from, and the in-memory cache in front of it.
//!
//! Today: a static Google `authorized_user` file whose refresh token is exchanged at Google's
//! token endpoint (`oauth_refresh`). The credential broker (next) plugs in as another
//! [`TokenSource`] variant. Whatever the source, callers see [`TokenProvider::token`] (cached until
//! shortly before expiry) and [`TokenProvider::refresh_rejected`] (after an upstream 401), and at
//! most one refresh is in flight at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_proto::client::{BrokerClient, ClientError};
use broker_proto::{Account, BrokerError, ErrorCode, LeaseSecret, Provider, ShopKey};
use oauth_refresh::{GoogleClient, RefreshError, refresh_google};

use crate::cli::CredentialsConfig;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::Instrument as _;
use url::Url;

use crate::http::{HttpClient, rebase};
use crate::secret_file::{self, SecretFileError};

pub use oauth_refresh::GOOGLE_TOKEN_URI;

/// A token is refreshed this long before it expires, so a request never leaves with a token
/// that dies in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// A short-lived access token. Cloning is cheap; the value is never printed.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<SecretString>,
    /// Meta's `appsecret_proof` for this token, when the broker computed one.
    proof: Option<Arc<str>>,
    expires_at: Instant,
    /// Increases with every refresh; lets [`TokenProvider::refresh_rejected`] tell whether the
    /// token a caller saw rejected is still the cached one.
    generation: u64,
}

impl AccessToken {
    /// The bearer value, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    /// Meta's `appsecret_proof` to send with this token, if any.
    pub fn appsecret_proof(&self) -> Option<&str> {
        self.proof.as_deref()
    }

    fn fresh(&self) -> bool {
        Instant::now() + EXPIRY_MARGIN < self.expires_at
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &secret_file::redact(self.expose()))
            .field("generation", &self.generation)
            .finish()
    }
}

/// Why no access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The credentials file could not be used.
    #[error("credentials file: {0}")]
    File(#[from] SecretFileError),
    /// The credential broker refused (no integration, reconnect needed, wrong lease, …); its
    /// message is written for people.
    #[error("{}", .0.message)]
    Broker(BrokerError),
    /// The credentials file is not a Google authorized_user JSON.
    #[error(
        "credentials file {path} is not a Google authorized_user JSON ({reason}); expected \
         {{\"type\": \"authorized_user\", \"client_id\": …, \"client_secret\": …, \"refresh_token\": …}}"
    )]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A static access-token file (Meta) is not `{"access_token": "…"}`.
    #[error("credentials file {path} is not {{\"access_token\": \"…\"}} ({reason})")]
    TokenFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The refresh token was revoked or expired (`invalid_grant`).
    #[error(
        "the Google authorization was revoked or has expired (invalid_grant). Reconnect the \
         integration (sign in with Google again) to get new credentials"
    )]
    Revoked,
    /// The OAuth client id/secret were refused (`invalid_client`).
    #[error(
        "Google refused the OAuth client (invalid_client: {0}); check client_id and client_secret in \
         the credentials"
    )]
    InvalidClient(String),
    /// The token endpoint answered with another error.
    #[error("the token endpoint refused the refresh ({0})")]
    Refused(String),
    /// The token endpoint could not be reached.
    #[error("cannot reach the token endpoint: {0}")]
    Unreachable(String),
    /// The token endpoint URL is invalid.
    #[error("invalid token_uri {0}")]
    BadTokenUri(String),
}

impl CredentialError {
    /// True when retrying later can help (network trouble, server errors).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Broker(e) => e.code == ErrorCode::Unavailable,
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct AuthorizedUserFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_id: String,
    client_secret: SecretString,
    refresh_token: SecretString,
    token_uri: Option<String>,
}

/// A Google OAuth client plus refresh token, as in an `authorized_user` file.
pub struct GoogleRefresh {
    client: GoogleClient,
    refresh_token: SecretString,
}

impl GoogleRefresh {
    /// Loads an `authorized_user` file (refusing group/world-readable ones). `api_base`, when
    /// set, rebases the token URI like every other upstream URL.
    pub fn from_file(path: &Path, api_base: Option<&Url>) -> Result<Self, CredentialError> {
        let text = secret_file::read_checked(path)?;
        let format_err = |reason: String| CredentialError::Format {
            path: path.display().to_string(),
            reason,
        };
        let file: AuthorizedUserFile =
            serde_json::from_str(&text).map_err(|e| format_err(strip_serde_position(&e)))?;
        match file.kind.as_deref() {
            None | Some("authorized_user") => {}
            Some("service_account") => {
                return Err(format_err(
                    "service account keys are not supported; use an authorized_user file or the \
                     credential broker"
                        .into(),
                ));
            }
            Some(other) => return Err(format_err(format!("type is {other:?}"))),
        }
        redaction::learn_lasting(file.client_secret.expose_secret());
        redaction::learn_lasting(file.refresh_token.expose_secret());
        let token_uri = file.token_uri.as_deref().unwrap_or(GOOGLE_TOKEN_URI);
        let token_uri = Url::parse(token_uri)
            .map_err(|_| CredentialError::BadTokenUri(token_uri.to_owned()))?;
        Ok(Self {
            client: GoogleClient {
                client_id: file.client_id,
                client_secret: file.client_secret,
                token_uri: rebase(&token_uri, api_base),
            },
            refresh_token: file.refresh_token,
        })
    }

    async fn refresh(
        &self,
        http: &HttpClient,
    ) -> Result<(SecretString, Duration), CredentialError> {
        let transport = http
            .get()
            .map_err(|e| CredentialError::Unreachable(e.to_string()))?;
        let refreshed = refresh_google(&transport, &self.client, &self.refresh_token)
            .await
            .map_err(|e| match e {
                RefreshError::InvalidGrant(_) => CredentialError::Revoked,
                RefreshError::InvalidClient(d) => CredentialError::InvalidClient(d),
                RefreshError::Refused(d) => CredentialError::Refused(d),
                RefreshError::Unavailable(d) => CredentialError::Unreachable(d),
            })?;
        Ok((refreshed.access_token, refreshed.expires_in))
    }
}

/// serde_json errors end with "at line L column C", which helps nobody reading a tool error.
fn strip_serde_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Where tokens come from.
pub enum TokenSource {
    /// A static Google authorized_user file.
    Google(GoogleRefresh),
    /// A fixed bearer token (tests, and static Meta tokens later); never refreshed.
    Fixed(SecretString),
    /// The credential broker, under a lease for one shop.
    Broker(Box<BrokerSource>),
    /// A fixed token pinned to one shop's integration account, as a broker lease would pin it:
    /// for tests of the one-shop rules ([`crate::scope`]) without a broker.
    Pinned {
        /// The bearer token.
        token: SecretString,
        /// The shop.
        shop_id: String,
        /// The integration's account ids (possibly missing, as a dashboard row may be).
        account: Account,
    },
}

/// A token, how long to use it, and its Meta `appsecret_proof`.
type Fetched = (SecretString, Duration, Option<String>);

/// Tokens from the credential broker: one connection, reopened once if it broke.
pub struct BrokerSource {
    socket: PathBuf,
    /// A token is used at most this long before the broker is asked again (it answers from its
    /// cache in microseconds), so lease revocations and integration changes reach a running
    /// server.
    recheck: Duration,
    /// The current lease (replaced when a key leases again).
    lease: Mutex<Option<LeaseSecret>>,
    /// A shop key to lease with when there is no lease or it ended.
    key: Option<ShopKey>,
    shop_id: String,
    provider: Provider,
    client: tokio::sync::Mutex<Option<BrokerClient>>,
    account: Mutex<Option<Account>>,
}

/// How long a lease a server makes with its shop key lives (it makes another when it ends).
const KEY_LEASE_TTL: Duration = Duration::from_secs(8 * 3600);

impl BrokerSource {
    /// A source for `provider` of `shop_id` under `lease`, at `socket`, asking again after
    /// `recheck`. Connects on first use.
    pub fn new(
        socket: PathBuf,
        lease: Option<LeaseSecret>,
        shop_id: String,
        provider: Provider,
        recheck: Duration,
    ) -> Self {
        if let Some(l) = &lease {
            redaction::learn_lasting(l.expose());
        }
        Self {
            socket,
            recheck,
            lease: Mutex::new(lease),
            key: None,
            shop_id,
            provider,
            client: tokio::sync::Mutex::new(None),
            account: Mutex::new(None),
        }
    }

    /// Leases with `key` when there is no lease, and again whenever the lease expires.
    pub fn with_key(mut self, key: Option<ShopKey>) -> Self {
        if let Some(k) = &key {
            redaction::learn_lasting(k.expose());
        }
        self.key = key;
        self
    }

    /// The shop served.
    pub fn shop_id(&self) -> &str {
        &self.shop_id
    }

    /// Reports `reading` for this source's shop and provider, on the broker connection tokens
    /// travel on.
    /// Whether the broker took it (an older one answers that it does not know the request).
    async fn report_quota(
        &self,
        reading: crate::quota::QuotaReading,
    ) -> Result<bool, CredentialError> {
        let mut slot = self.client.lock().await;
        let mut c = self.take_connection(&mut slot).await?;
        let lease = self.lease(&mut c).await?;
        match c
            .report_quota(&lease, self.provider, &self.shop_id, reading)
            .await
        {
            Ok(()) => {
                *slot = Some(c);
                Ok(true)
            }
            // The broker answered (an older one refuses the request): the connection is fine.
            Err(ClientError::Broker(_)) => {
                *slot = Some(c);
                Ok(false)
            }
            // The connection broke (dropped here): the next request connects afresh.
            Err(e) => Err(CredentialError::Unreachable(e.to_string())),
        }
    }

    /// The connection, out of its slot for one exchange: it goes back only once a reply was
    /// read in full, so a call cancelled mid-exchange (a timeout, a caller who hung up) drops
    /// it instead of leaving a reply unread for the next request to take as its own.
    async fn take_connection(
        &self,
        slot: &mut Option<BrokerClient>,
    ) -> Result<BrokerClient, CredentialError> {
        match slot.take() {
            Some(c) => Ok(c),
            None => BrokerClient::connect(&self.socket)
                .await
                .map_err(|e| CredentialError::Unreachable(e.to_string())),
        }
    }

    /// The lease to present: the current one, or a new one made with the key.
    async fn lease(&self, client: &mut BrokerClient) -> Result<LeaseSecret, CredentialError> {
        if let Some(l) = self
            .lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(l);
        }
        let Some(key) = &self.key else {
            return Err(CredentialError::Unreachable(
                "no lease to present to the credential broker".into(),
            ));
        };
        let grant = client
            .lease_by_key(key, &self.shop_id, self.provider, KEY_LEASE_TTL.as_secs())
            .await
            .map_err(|e| match e {
                ClientError::Broker(b) => CredentialError::Broker(b),
                other => CredentialError::Unreachable(other.to_string()),
            })?;
        redaction::learn_lasting(grant.lease.expose());
        tracing::info!(lease = %grant.lease_id, "leased with the shop key");
        *self.lease.lock().unwrap_or_else(PoisonError::into_inner) = Some(grant.lease.clone());
        Ok(grant.lease)
    }

    /// A token from the broker; after an upstream refused `rejected`, its replacement. The
    /// request carries the trace of the tool call that needs it, so the broker's vend and its
    /// audit row join that trace.
    async fn fetch(&self, rejected: Option<&str>) -> Result<Fetched, CredentialError> {
        let operation = match rejected {
            None => "credential-broker token",
            Some(_) => "credential-broker token_rejected",
        };
        let span = tracing::info_span!(
            "broker_token",
            otel.kind = "client",
            otel.name = operation,
            provider = self.provider.service_name(),
        );
        let traceparent = telemetry::propagate::traceparent(&span);
        self.ask(rejected, traceparent).instrument(span).await
    }

    async fn ask(
        &self,
        rejected: Option<&str>,
        traceparent: Option<String>,
    ) -> Result<Fetched, CredentialError> {
        let mut slot = self.client.lock().await;
        for attempt in 0..2 {
            let mut c = self.take_connection(&mut slot).await?;
            let lease = self.lease(&mut c).await?;
            let answer = match rejected {
                None => {
                    c.get_token_in_trace(&lease, self.provider, &self.shop_id, traceparent.clone())
                        .await
                }
                Some(token) => {
                    c.token_rejected_in_trace(
                        &lease,
                        self.provider,
                        &self.shop_id,
                        token,
                        traceparent.clone(),
                    )
                    .await
                }
            };
            // A reply was read: the connection is in step for the next request.
            if matches!(answer, Ok(_) | Err(ClientError::Broker(_))) {
                *slot = Some(c);
            }
            match answer {
                Ok(grant) => {
                    *self.account.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(grant.account.clone());
                    let left = grant
                        .expires_at
                        .saturating_sub(chrono::Utc::now().timestamp())
                        .max(0);
                    // Ask again soon whatever the token's own expiry (a Meta token may live for
                    // weeks): a revoked lease, a deactivated integration or an account the
                    // dashboard dropped or moved takes effect here within `recheck`.
                    let ttl =
                        Duration::from_secs(left.unsigned_abs()).min(self.recheck + EXPIRY_MARGIN);
                    return Ok((grant.access_token, ttl, grant.appsecret_proof));
                }
                Err(ClientError::Broker(e))
                    if self.key.is_some()
                        && attempt == 0
                        && matches!(e.code, ErrorCode::LeaseExpired | ErrorCode::UnknownLease) =>
                {
                    // The lease ran out (a revoked one stays refused): the key makes another.
                    *self.lease.lock().unwrap_or_else(PoisonError::into_inner) = None;
                }
                Err(ClientError::Broker(e)) => {
                    // Refused now: whatever account was known no longer holds.
                    *self.account.lock().unwrap_or_else(PoisonError::into_inner) = None;
                    return Err(CredentialError::Broker(e));
                }
                Err(e) => {
                    // The broker restarted or the connection broke (dropped): reconnect once.
                    if attempt == 1 {
                        return Err(CredentialError::Unreachable(e.to_string()));
                    }
                }
            }
        }
        Err(CredentialError::Unreachable(
            "credential broker connection failed".into(),
        ))
    }
}

#[derive(Deserialize)]
struct AccessTokenFile {
    access_token: SecretString,
}

/// Reads `{"access_token": "…"}` (the static credentials of `meta-ads-mcp`), refusing a file
/// readable by group or others.
pub fn read_access_token_file(path: &Path) -> Result<SecretString, CredentialError> {
    let text = secret_file::read_checked(path)?;
    let file: AccessTokenFile =
        serde_json::from_str(&text).map_err(|e| CredentialError::TokenFile {
            path: path.display().to_string(),
            reason: strip_serde_position(&e),
        })?;
    if file.access_token.expose_secret().trim().is_empty() {
        return Err(CredentialError::TokenFile {
            path: path.display().to_string(),
            reason: "access_token is empty".into(),
        });
    }
    redaction::learn_lasting(file.access_token.expose_secret());
    Ok(file.access_token)
}

/// Builds the token source the configuration asks for, for `provider`.
pub fn source_for(
    config: &CredentialsConfig,
    provider: Provider,
    api_base: Option<&Url>,
) -> Result<Option<TokenSource>, CredentialError> {
    Ok(match config {
        CredentialsConfig::None => None,
        // Meta has no refresh flow for a user's file: it holds a long-lived access token.
        CredentialsConfig::File(path) if provider == Provider::MetaAds => {
            Some(TokenSource::Fixed(read_access_token_file(path)?))
        }
        CredentialsConfig::File(path) => Some(TokenSource::Google(GoogleRefresh::from_file(
            path, api_base,
        )?)),
        CredentialsConfig::Broker {
            shop_id,
            socket,
            lease,
            key,
            recheck,
        } => Some(TokenSource::Broker(Box::new(
            BrokerSource::new(
                socket.clone(),
                lease.clone(),
                shop_id.clone(),
                provider,
                *recheck,
            )
            .with_key(key.clone()),
        ))),
    })
}

struct Cache {
    current: Option<AccessToken>,
    generation: u64,
}

/// A quota reading the broker heard of is said again after this, so its ledger never ages out
/// a shop that keeps calling.
const QUOTA_REPORT_EVERY: Duration = Duration::from_secs(60);
/// The most a call waits for the broker to take a reading.
const QUOTA_REPORT_WAIT: Duration = Duration::from_secs(2);
/// After a report failed (the broker slow or away), calls do not try again for this long: a
/// broker that does not answer must not cost every upstream answer the wait.
const QUOTA_REPORT_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Default)]
struct QuotaState {
    latest: Option<crate::quota::QuotaReading>,
    reported: Option<(crate::quota::QuotaReading, Instant)>,
    failed_at: Option<Instant>,
}

/// Hands out access tokens from a [`TokenSource`], cached until shortly before expiry.
pub struct TokenProvider {
    source: TokenSource,
    http: Arc<HttpClient>,
    cache: Mutex<Cache>,
    /// Serialises refreshes so concurrent callers wait for one refresh instead of each
    /// starting their own.
    refresh_gate: tokio::sync::Mutex<()>,
    /// The upstream's latest quota reading for these credentials, and the last one the
    /// broker was told (with when).
    quota: Mutex<QuotaState>,
    /// Under this share left, results say so ([`crate::quota::note`]).
    quota_reserve: u8,
}

impl TokenProvider {
    /// A provider over `source`, using `http` for token requests.
    pub fn new(source: TokenSource, http: Arc<HttpClient>) -> Self {
        Self {
            source,
            http,
            cache: Mutex::new(Cache {
                current: None,
                generation: 0,
            }),
            refresh_gate: tokio::sync::Mutex::new(()),
            quota: Mutex::new(QuotaState::default()),
            quota_reserve: crate::quota::DEFAULT_RESERVE_PCT,
        }
    }

    /// Results note a quota under `pct` percent left (`--quota-reserve`).
    pub fn with_quota_reserve(mut self, pct: u8) -> Self {
        self.quota_reserve = pct;
        self
    }

    /// Keeps what the upstream just said of its quota and, under a lease, tells the broker
    /// when it says something new (another whole percent, another limit, a reset five minutes
    /// away from the last, or a minute since): the call that learnt it waits for that one round trip, so the ledger has it
    /// before the answer is out. A broker that predates quotas refuses it: nothing changes.
    pub async fn note_quota(&self, reading: crate::quota::QuotaReading) {
        let TokenSource::Broker(b) = &self.source else {
            self.quota
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .latest = Some(reading);
            return;
        };
        let news = {
            let mut state = self.quota.lock().unwrap_or_else(PoisonError::into_inner);
            state.latest = Some(reading.clone());
            let resting = state
                .failed_at
                .is_some_and(|t| t.elapsed() < QUOTA_REPORT_BACKOFF);
            !resting
                && state.reported.as_ref().is_none_or(|(said, when)| {
                    said.left_pct != reading.left_pct
                    || said.limit != reading.limit
                    // Rolling windows (Meta's) move their reset with every call: only a
                    // real change counts.
                    || said.resets_at.unwrap_or(0).abs_diff(reading.resets_at.unwrap_or(0)) > 300
                    || when.elapsed() > QUOTA_REPORT_EVERY
                })
        };
        if news {
            match tokio::time::timeout(QUOTA_REPORT_WAIT, b.report_quota(reading.clone())).await {
                // Answered, taken or not (a broker that predates the ledger refuses it): said.
                Ok(Ok(taken)) => {
                    if !taken {
                        tracing::debug!("the broker does not keep quota readings");
                    }
                    self.quota
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .reported = Some((reading, Instant::now()));
                }
                Ok(Err(e)) => {
                    tracing::debug!("the broker did not take a quota reading: {e}");
                    self.quota
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .failed_at = Some(Instant::now());
                }
                Err(_) => {
                    tracing::debug!("the broker took too long over a quota reading");
                    self.quota
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .failed_at = Some(Instant::now());
                }
            }
        }
    }

    /// A line for a result when the latest reading is under the reserve (`service` names the
    /// upstream for the reader).
    pub fn quota_note(&self, service: &str) -> Option<String> {
        let now = chrono::Utc::now().timestamp();
        self.quota
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .latest
            .as_ref()
            .filter(|r| r.current(now))
            .and_then(|r| crate::quota::note(service, r, self.quota_reserve))
    }

    /// How long one tool call may take, upstream requests and waits included.
    pub fn call_budget(&self) -> Duration {
        self.http.budget()
    }

    fn cached(&self) -> Option<AccessToken> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.current.clone().filter(AccessToken::fresh)
    }

    /// A token valid for at least a minute, refreshing if needed.
    pub async fn token(&self) -> Result<AccessToken, CredentialError> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let _gate = self.refresh_gate.lock().await;
        // Another caller may have refreshed while we waited for the gate.
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        self.refresh_locked(None).await
    }

    /// Called after upstream rejected `rejected` with 401: refreshes unless another caller
    /// already replaced that token. A broker is told which token was refused (by fingerprint),
    /// so it replaces it instead of handing the same one out again.
    pub async fn refresh_rejected(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, CredentialError> {
        let _gate = self.refresh_gate.lock().await;
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(t) = &cache.current
                && t.generation != rejected.generation
                && t.fresh()
            {
                return Ok(t.clone());
            }
        }
        self.refresh_locked(Some(rejected)).await
    }

    /// The account ids the broker stored with the integration (property, customer, …), as of
    /// the current token (fetched again when it is older than the broker recheck). `None` for
    /// other sources. An error when the broker no longer grants the lease.
    pub async fn account(&self) -> Result<Option<Account>, CredentialError> {
        let b = match &self.source {
            TokenSource::Broker(b) => b,
            TokenSource::Pinned { account, .. } => return Ok(Some(account.clone())),
            TokenSource::Google(_) | TokenSource::Fixed(_) => return Ok(None),
        };
        self.token().await?;
        Ok(b.account
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    /// The shop this provider serves, when it serves one through the broker.
    pub fn shop_id(&self) -> Option<&str> {
        match &self.source {
            TokenSource::Broker(b) => Some(b.shop_id()),
            TokenSource::Pinned { shop_id, .. } => Some(shop_id),
            TokenSource::Google(_) | TokenSource::Fixed(_) => None,
        }
    }

    async fn refresh_locked(
        &self,
        rejected: Option<&AccessToken>,
    ) -> Result<AccessToken, CredentialError> {
        let (secret, ttl, proof) = match &self.source {
            TokenSource::Google(g) => {
                let (s, ttl) = g.refresh(&self.http).await?;
                (s, ttl, None)
            }
            TokenSource::Fixed(s) | TokenSource::Pinned { token: s, .. } => {
                (s.clone(), Duration::from_secs(365 * 24 * 3600), None)
            }
            TokenSource::Broker(b) => b.fetch(rejected.map(AccessToken::expose)).await?,
        };
        // Whatever an upstream echoes back, this token (and its proof, which travels in URLs
        // that error messages may quote) leaves the process only in requests.
        redaction::learn(secret.expose_secret());
        if let Some(p) = &proof {
            redaction::learn(p);
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.generation += 1;
        let token = AccessToken {
            secret: Arc::new(secret),
            proof: proof.map(Arc::from),
            expires_at: Instant::now() + ttl,
            generation: cache.generation,
        };
        tracing::debug!(token = %secret_file::redact(token.expose()), expires_in_s = ttl.as_secs(), "access token refreshed");
        cache.current = Some(token.clone());
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn write(mode: u32, json: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("creds.json");
        fs::write(&path, json).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        (dir, path)
    }

    const GOOD: &str =
        r#"{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}"#;

    #[test]
    fn loads_authorized_user_and_rebases_token_uri() {
        let (_d, path) = write(0o600, GOOD);
        let base = Url::parse("http://127.0.0.1:9999").expect("url");
        let g = GoogleRefresh::from_file(&path, Some(&base)).expect("load");
        assert_eq!(g.client.token_uri.as_str(), "http://127.0.0.1:9999/token");
    }

    #[test]
    fn refuses_world_readable_credentials() {
        let (_d, path) = write(0o644, GOOD);
        let e = GoogleRefresh::from_file(&path, None)
            .err()
            .expect("must refuse");
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn explains_missing_fields_without_leaking_values() {
        let (_d, path) = write(
            0o600,
            r#"{"client_id":"c","client_secret":"very-secret-value"}"#,
        );
        let e = GoogleRefresh::from_file(&path, None)
            .err()
            .expect("must refuse")
            .to_string();
        assert!(e.contains("refresh_token"), "{e}");
        assert!(!e.contains("very-secret-value"), "{e}");
    }

    #[test]
    fn refuses_service_accounts_clearly() {
        let (_d, path) = write(
            0o600,
            r#"{"type":"service_account","client_id":"c","client_secret":"s","refresh_token":"r"}"#,
        );
        let e = GoogleRefresh::from_file(&path, None)
            .err()
            .expect("must refuse")
            .to_string();
        assert!(e.contains("service account"), "{e}");
    }

    #[test]
    fn debug_output_redacts_the_token() {
        let t = AccessToken {
            secret: Arc::new(SecretString::from(
                "ya29.sandbox.0123456789abcdef".to_owned(),
            )),
            proof: None,
            expires_at: Instant::now(),
            generation: 1,
        };
        let s = format!("{t:?}");
        assert!(!s.contains("0123456789"), "{s}");
    }

    #[tokio::test]
    async fn fixed_tokens_are_cached() {
        let p = TokenProvider::new(
            TokenSource::Fixed(SecretString::from("fixed-token-value".to_owned())),
            HttpClient::new(
                &crate::cli::UpstreamConfig {
                    api_base: None,
                    request_timeout: Duration::from_secs(5),
                    max_retries: 0,
                    quota_reserve: 20,
                },
                "test",
            ),
        );
        let a = p.token().await.expect("token");
        let b = p.token().await.expect("token");
        assert_eq!(a.generation, b.generation);
        let c = p.refresh_rejected(&a).await.expect("token");
        assert_eq!(c.generation, a.generation + 1);
        // A second caller that saw the old token does not trigger another refresh.
        let d = p.refresh_rejected(&a).await.expect("token");
        assert_eq!(d.generation, c.generation);
    }
}
