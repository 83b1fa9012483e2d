//! Access tokens per integration: resolution of (shop, provider) to an integration, an
//! in-memory cache, and refresh.
//!
//! - A token with more than `refresh.ahead` left is served from memory. Inside that window a
//!   background refresh starts; inside `refresh.hard_window` callers wait for the fresh token.
//! - One refresh per integration at a time in this process (`Slot::gate`), and across processes
//!   and hosts through [`Store::lock_integration`] (a PostgreSQL advisory lock), after which
//!   the row is re-read: if another broker refreshed meanwhile, its token is used.
//! - A rotated refresh token is committed before the new access token is handed out.
//! - `invalid_grant` marks the integration as needing reconnection and records a notification —
//!   unless the row's refresh token changed meanwhile (a reconnect or rotation by someone else),
//!   in which case the refresh is retried with the new one.
//! - Transient failures back off per integration (5 s doubling to 5 min) instead of hammering.
//! - Meta long-lived tokens have no refresh token: they are extended with `fb_exchange_token`
//!   when a Meta app is configured and expiry is near, otherwise a `token_expiring` notification
//!   warns ahead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use broker_proto::{
    Account, BrokerError, ErrorCode, META_EXPIRY_WARNING_DAYS, Provider, RefreshResult, TokenGrant,
    token_fingerprint,
};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::audit::{AuditSink, now_ms};
use crate::config::BrokerConfig;
use crate::integration::{self, IntegrationData};
use crate::store::{
    AuditEvent, IntegrationRow, IntegrationStatus, Notification, Store, StoreError,
};

/// How long a negative answer (no integration, reconnect needed) is reused.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
const BACKOFF_START: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A token refused again within this time of its replacement is not replaced again: servers
/// report refusals, and their word must not make the broker hammer a token endpoint.
const REJECTION_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Resolved {
    integration_id: i64,
    account: Account,
}

struct ResolveEntry {
    result: Result<Resolved, BrokerError>,
    at: Instant,
}

#[derive(Clone)]
struct CachedToken {
    token: Arc<SecretString>,
    expires_at: DateTime<Utc>,
    /// The token has no expiry of its own (a Meta system-user token); `expires_at` is only
    /// how long the broker trusts it before looking again.
    lasting: bool,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<CachedToken>>,
    gate: tokio::sync::Mutex<()>,
    backoff: Mutex<Backoff>,
    /// When a token was last replaced because an upstream refused it.
    replaced_after_rejection: Mutex<Option<Instant>>,
}

/// Why a refresh runs.
#[derive(Clone, Copy)]
enum Why<'a> {
    /// The token is near its expiry: a fresh one in the store (another broker's) will do.
    Due,
    /// The operator asked: refresh whatever the store holds.
    Forced,
    /// An upstream refused the token with this fingerprint: a different one in the store (a
    /// reconnect, another broker's refresh) will do, that one must not come back.
    Rejected(&'a str),
}

/// Vends and refreshes access tokens.
pub struct TokenService {
    store: Store,
    config: Arc<BrokerConfig>,
    http: reqwest::Client,
    audit: AuditSink,
    resolved: Mutex<HashMap<(String, Provider), ResolveEntry>>,
    slots: Mutex<HashMap<i64, Arc<Slot>>>,
    /// Integrations warned about an expiring Meta token, with that token's expiry (unix s).
    warned: Mutex<HashMap<i64, i64>>,
}

fn internal(e: StoreError) -> BrokerError {
    tracing::error!("store: {e}");
    BrokerError::new(
        ErrorCode::Internal,
        "the credential broker's store failed; see its log",
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TokenService {
    /// A service over `store`.
    pub fn new(
        store: Store,
        config: Arc<BrokerConfig>,
        http: reqwest::Client,
        audit: AuditSink,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            config,
            http,
            audit,
            resolved: Mutex::default(),
            slots: Mutex::default(),
            warned: Mutex::default(),
        })
    }

    /// Which integration serves (shop, provider), or the user-facing reason none does.
    pub async fn resolve(
        &self,
        shop_id: &str,
        provider: Provider,
    ) -> Result<(i64, Account), BrokerError> {
        let key = (shop_id.to_owned(), provider);
        if let Some(entry) = lock(&self.resolved).get(&key) {
            let ttl = if entry.result.is_ok() {
                self.config.integration_recheck
            } else {
                NEGATIVE_TTL.min(self.config.integration_recheck)
            };
            if entry.at.elapsed() < ttl {
                return entry.result.clone().map(|r| (r.integration_id, r.account));
            }
        }
        let result = self.resolve_uncached(shop_id, provider).await;
        if let Err(e) = &result
            && e.code == ErrorCode::Internal
        {
            return result.map(|r| (r.integration_id, r.account));
        }
        lock(&self.resolved).insert(
            key,
            ResolveEntry {
                result: result.clone(),
                at: Instant::now(),
            },
        );
        result.map(|r| (r.integration_id, r.account))
    }

    async fn resolve_uncached(
        &self,
        shop_id: &str,
        provider: Provider,
    ) -> Result<Resolved, BrokerError> {
        let rows = self
            .store
            .integrations_of(shop_id, self.config.type_code(provider))
            .await
            .map_err(internal)?;
        let Some(row) = rows.iter().find(|r| r.active && !r.deleted) else {
            if rows.is_empty() {
                let shop = self.store.shop(shop_id).await.map_err(internal)?;
                let mut e = BrokerError::no_integration(provider, shop_id);
                if shop.is_none() {
                    e.code = ErrorCode::UnknownShop;
                }
                return Err(e);
            }
            let service = provider.service_name();
            return Err(BrokerError::new(
                ErrorCode::IntegrationInactive,
                format!(
                    "The {service} integration of shop {shop_id} is inactive or deleted.\nPlease connect your {service} account in the dashboard."
                ),
            ));
        };
        let data = integration::parse(&row.data);
        if let Some(scopes) = &data.granted_scopes
            && !integration::has_scope(provider, scopes)
        {
            let service = provider.service_name();
            return Err(BrokerError::new(
                ErrorCode::MissingScope,
                format!(
                    "The {service} integration of shop {shop_id} lacks the {} permission.\nPlease reconnect your {service} account in the dashboard and grant read access.",
                    provider.required_scope()
                ),
            ));
        }
        // An integration without its account (the client has not picked a property, site,
        // customer or ad account yet, or the dashboard lost it) grants nothing: with no account
        // to pin a server to, its token could read whatever else the login reaches.
        if data.account.id_for(provider).is_none() {
            return Err(BrokerError::no_account(provider, shop_id));
        }
        if self.marked_for_reconnect(row).await? {
            return Err(BrokerError::reconnect_required(provider, shop_id));
        }
        // A newer token written by someone else (`refresh --direct`, another broker, a
        // reconnect in the dashboard) replaces the one this broker holds.
        if let (Some(t), Some(exp)) = (&data.token, data.expires_at) {
            let slot = self.slot(row.id);
            let mut current = lock(&slot.current);
            if current
                .as_ref()
                .is_some_and(|c| c.token.expose_secret() != t.expose_secret() && exp > c.expires_at)
            {
                redaction::learn(t.expose_secret());
                *current = Some(CachedToken {
                    token: Arc::new(t.clone()),
                    expires_at: exp,
                    lasting: false,
                });
            }
        }
        Ok(Resolved {
            integration_id: row.id,
            account: data.account,
        })
    }

    /// Meta's `appsecret_proof` for `token`, when a Meta app is configured: the servers send
    /// it so apps that "Require App Secret" accept their calls, without ever holding the secret.
    fn appsecret_proof(&self, provider: Provider, token: &SecretString) -> Option<String> {
        use hmac::{KeyInit, Mac};
        let app = self
            .config
            .meta
            .as_ref()
            .filter(|_| provider == Provider::MetaAds)?;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(app.app_secret.expose_secret().as_bytes())
                .ok()?;
        mac.update(token.expose_secret().as_bytes());
        Some(
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }

    fn slot(&self, integration_id: i64) -> Arc<Slot> {
        lock(&self.slots).entry(integration_id).or_default().clone()
    }

    /// (background refresh due, caller must wait) for a token expiring at `expires_at`.
    fn due(
        &self,
        provider: Provider,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (bool, bool) {
        let left = (expires_at - now).to_std().unwrap_or(Duration::ZERO);
        match provider {
            Provider::MetaAds => (left < self.config.refresh.meta_extend_ahead, left.is_zero()),
            _ => (
                left < self.config.refresh.ahead,
                left < self.config.refresh.hard_window,
            ),
        }
    }

    /// A token for `provider` of `shop_id`.
    pub async fn token(
        self: &Arc<Self>,
        shop_id: &str,
        provider: Provider,
    ) -> Result<TokenGrant, BrokerError> {
        let (id, account) = self.resolve(shop_id, provider).await?;
        let slot = self.slot(id);
        let grant = |t: &CachedToken| TokenGrant {
            access_token: SecretString::from(t.token.expose_secret().to_owned()),
            expires_at: t.expires_at.timestamp(),
            provider,
            shop_id: shop_id.to_owned(),
            account: account.clone(),
            appsecret_proof: self.appsecret_proof(provider, &t.token),
        };
        let now = Utc::now();
        let cached = lock(&slot.current).clone();
        if let Some(t) = &cached {
            let (bg_due, must_wait) = self.due(provider, t.expires_at, now);
            if !must_wait {
                if bg_due {
                    self.refresh_in_background(slot.clone(), id, shop_id.to_owned(), provider);
                }
                return Ok(grant(t));
            }
        }
        let _gate = slot.gate.lock().await;
        // Whoever held the gate before us may have refreshed.
        if let Some(t) = lock(&slot.current).clone()
            && !self.due(provider, t.expires_at, Utc::now()).1
        {
            return Ok(grant(&t));
        }
        let fresh = self
            .refresh_locked(&slot, id, shop_id, provider, Why::Due)
            .await?;
        Ok(grant(&fresh))
    }

    fn refresh_in_background(
        self: &Arc<Self>,
        slot: Arc<Slot>,
        id: i64,
        shop_id: String,
        provider: Provider,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            // Someone already refreshing (or a waiter) means nothing to do.
            let Ok(_gate) = slot.gate.try_lock() else {
                return;
            };
            if let Err(e) = this
                .refresh_locked(&slot, id, &shop_id, provider, Why::Due)
                .await
            {
                tracing::info!(shop = %shop_id, %provider, "background refresh did not succeed: {}", e.message);
            }
        });
    }

    /// Refreshes `id` (the caller holds `slot.gate`), for the reason `why`.
    async fn refresh_locked(
        &self,
        slot: &Slot,
        id: i64,
        shop_id: &str,
        provider: Provider,
        why: Why<'_>,
    ) -> Result<CachedToken, BrokerError> {
        for attempt in 0..2 {
            let lock_guard = self.store.lock_integration(id).await.map_err(internal)?;
            let Some(row) = lock_guard.row().cloned() else {
                let _ = lock_guard.release().await;
                self.forget(shop_id, provider);
                return Err(BrokerError::no_integration(provider, shop_id));
            };
            let data = integration::parse(&row.data);
            // Whatever the token endpoint or an upstream echoes back, these never leave the
            // broker in a log line, an audit row or an error.
            for secret in [&data.token, &data.refresh_token].into_iter().flatten() {
                redaction::learn(secret.expose_secret());
            }
            let now = Utc::now();
            // A Meta system-user token has no expiry; a Google token without one is refreshed.
            let expires_at = data.expires_at.or_else(|| {
                (provider == Provider::MetaAds).then(|| now + chrono::Duration::days(365))
            });
            let current = match (&data.token, expires_at) {
                (Some(t), Some(exp)) => Some(CachedToken {
                    token: Arc::new(t.clone()),
                    expires_at: exp,
                    lasting: data.expires_at.is_none(),
                }),
                _ => None,
            };
            let usable = current.as_ref().is_some_and(|c| match why {
                Why::Due => !self.due(provider, c.expires_at, now).0,
                Why::Forced => false,
                Why::Rejected(fingerprint) => {
                    token_fingerprint(c.token.expose_secret()) != fingerprint
                        && !self.due(provider, c.expires_at, now).1
                }
            });
            if let Some(c) = current.as_ref().filter(|_| usable) {
                // Fresh in the store: another broker (or the dashboard) refreshed it.
                lock_guard.release().await.map_err(internal)?;
                *lock(&slot.current) = Some(c.clone());
                return Ok(c.clone());
            }
            let backoff_until = lock(&slot.backoff).until;
            if let Some(until) = backoff_until
                && Instant::now() < until
            {
                lock_guard.release().await.map_err(internal)?;
                return self.keep_or_unavailable(slot, current, provider, until);
            }
            let outcome = match provider {
                Provider::MetaAds => self.extend_meta(&row, &data, now).await,
                _ => self.refresh_google(&data).await,
            };
            match outcome {
                Ok(Refresh::Done {
                    token,
                    expires_at,
                    rotated_refresh_token,
                }) => {
                    redaction::learn(token.expose_secret());
                    if let Some(r) = &rotated_refresh_token {
                        redaction::learn(r.expose_secret());
                    }
                    let new_data = integration::with_token(
                        &row.data,
                        token.expose_secret(),
                        expires_at,
                        rotated_refresh_token.as_ref().map(|r| r.expose_secret()),
                    );
                    // Commit (including a rotated refresh token) before anyone sees the token.
                    lock_guard.commit_data(&new_data).await.map_err(internal)?;
                    let fresh = CachedToken {
                        token: Arc::new(token),
                        expires_at,
                        lasting: false,
                    };
                    *lock(&slot.current) = Some(fresh.clone());
                    *lock(&slot.backoff) = Backoff::default();
                    self.audit_refresh(shop_id, provider, "refreshed", None);
                    return Ok(fresh);
                }
                Ok(Refresh::KeepCurrent { warn_expiring }) => {
                    lock_guard.release().await.map_err(internal)?;
                    // After the release: on SQLite the lock is the database's write lock.
                    // A server's report is no reason to tell the shop anything.
                    if let Some(expires_at) = warn_expiring
                        && !matches!(why, Why::Rejected(_))
                    {
                        self.warn_expiring(&row, expires_at).await;
                    }
                    let Some(c) = current else {
                        return Err(self
                            .mark_reconnect(&row, provider, "no access token stored")
                            .await);
                    };
                    if let Why::Rejected(fingerprint) = why
                        && token_fingerprint(c.token.expose_secret()) == fingerprint
                    {
                        // The refused token is all there is, and nothing can renew it here.
                        // Only a token endpoint's refusal marks an integration for
                        // reconnection, not a server's report: this is an error to the caller.
                        lock(&slot.current).take();
                        return Err(BrokerError::new(
                            ErrorCode::TokenRejected,
                            format!(
                                "{service} refused the stored token of shop {shop_id}, and the credential broker cannot renew it{how}. If it goes on, the {service} integration needs attention in the dashboard.",
                                service = provider.service_name(),
                                how = if provider == Provider::MetaAds && self.config.meta.is_none()
                                {
                                    " (no Meta app is configured)"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
                    *lock(&slot.current) = Some(c.clone());
                    return Ok(c);
                }
                Err(RefreshFailure::Revoked(used_refresh_token)) => {
                    lock_guard.release().await.map_err(internal)?;
                    // Lost a race rather than a revocation? If the stored refresh token changed
                    // while we used the old one (a reconnect, or a rotation elsewhere), retry.
                    let latest = self.store.integration(id).await.map_err(internal)?;
                    let latest_rt = latest
                        .as_ref()
                        .and_then(|r| integration::parse(&r.data).refresh_token);
                    let changed = match (&latest_rt, &used_refresh_token) {
                        (Some(a), Some(b)) => a.expose_secret() != b.expose_secret(),
                        _ => false,
                    };
                    if changed && attempt == 0 {
                        tracing::info!(shop = %shop_id, %provider, "refresh token changed during refresh; retrying with the new one");
                        continue;
                    }
                    lock(&slot.current).take();
                    if used_refresh_token.is_none()
                        && let Why::Rejected(_) = why
                    {
                        // Nothing asked a token endpoint: no refresh token (or an expired
                        // Meta token) and a server's word that the token was refused. Only a
                        // token endpoint's `invalid_grant` marks an integration.
                        return Err(BrokerError::new(
                            ErrorCode::TokenRejected,
                            format!(
                                "{} refused the stored token of shop {shop_id}, and the integration has nothing to renew it with; the integration needs attention in the dashboard",
                                provider.service_name()
                            ),
                        ));
                    }
                    self.audit_refresh(shop_id, provider, "revoked", None);
                    return Err(self.mark_reconnect(&row, provider, "invalid_grant").await);
                }
                Err(RefreshFailure::Transient(detail)) => {
                    lock_guard.release().await.map_err(internal)?;
                    let until = {
                        let mut b = lock(&slot.backoff);
                        b.failures += 1;
                        let wait = BACKOFF_START
                            .saturating_mul(1 << (b.failures - 1).min(8))
                            .min(BACKOFF_MAX);
                        let until = Instant::now() + wait;
                        b.until = Some(until);
                        until
                    };
                    tracing::warn!(shop = %shop_id, %provider, "token refresh failed, backing off: {detail}");
                    self.audit_refresh(shop_id, provider, "failed", Some(detail));
                    return self.keep_or_unavailable(slot, current, provider, until);
                }
                Err(RefreshFailure::Config(detail)) => {
                    lock_guard.release().await.map_err(internal)?;
                    tracing::error!(%provider, "cannot refresh tokens: {detail}");
                    self.audit_refresh(shop_id, provider, "failed", Some(detail.clone()));
                    return Err(BrokerError::new(
                        ErrorCode::Unavailable,
                        format!(
                            "The credential broker cannot refresh {} tokens: {detail}",
                            provider.service_name()
                        ),
                    ));
                }
            }
        }
        Err(BrokerError::new(
            ErrorCode::Unavailable,
            "token refresh kept racing with another writer; retry",
        ))
    }

    fn keep_or_unavailable(
        &self,
        slot: &Slot,
        current: Option<CachedToken>,
        provider: Provider,
        until: Instant,
    ) -> Result<CachedToken, BrokerError> {
        match current {
            // Still valid, only close to expiry: serve it while the upstream recovers.
            Some(c) if c.expires_at > Utc::now() => {
                *lock(&slot.current) = Some(c.clone());
                Ok(c)
            }
            _ => Err(BrokerError::new(
                ErrorCode::Unavailable,
                format!(
                    "{} token refresh is failing; retry in {} s",
                    provider.service_name(),
                    until
                        .saturating_duration_since(Instant::now())
                        .as_secs()
                        .max(1)
                ),
            )),
        }
    }

    async fn refresh_google(&self, data: &IntegrationData) -> Result<Refresh, RefreshFailure> {
        let Some(rt) = &data.refresh_token else {
            return Err(RefreshFailure::Revoked(None));
        };
        let Some(app) = &self.config.google else {
            return Err(RefreshFailure::Config(
                "no Google OAuth client configured (set BERRYBOO_GOOGLE_CLIENT_ID and BERRYBOO_GOOGLE_CLIENT_SECRET)".into(),
            ));
        };
        let client = oauth_refresh::GoogleClient {
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            token_uri: app.token_uri.clone(),
        };
        match oauth_refresh::refresh_google(&self.http, &client, rt).await {
            Ok(r) => Ok(Refresh::Done {
                expires_at: Utc::now()
                    + chrono::Duration::from_std(r.expires_in)
                        .unwrap_or(chrono::Duration::hours(1)),
                token: r.access_token,
                rotated_refresh_token: r
                    .refresh_token
                    .filter(|new| new.expose_secret() != rt.expose_secret()),
            }),
            Err(oauth_refresh::RefreshError::InvalidGrant(_)) => {
                Err(RefreshFailure::Revoked(Some(rt.clone())))
            }
            Err(oauth_refresh::RefreshError::Unavailable(d)) => Err(RefreshFailure::Transient(d)),
            Err(
                e @ (oauth_refresh::RefreshError::InvalidClient(_)
                | oauth_refresh::RefreshError::Refused(_)),
            ) => Err(RefreshFailure::Config(e.to_string())),
        }
    }

    async fn extend_meta(
        &self,
        row: &IntegrationRow,
        data: &IntegrationData,
        now: DateTime<Utc>,
    ) -> Result<Refresh, RefreshFailure> {
        let (Some(token), Some(expires_at)) = (&data.token, data.expires_at) else {
            // A token without expiry (system-user tokens) never needs extending.
            return if data.token.is_some() {
                Ok(Refresh::KeepCurrent {
                    warn_expiring: None,
                })
            } else {
                Err(RefreshFailure::Revoked(None))
            };
        };
        if expires_at <= now {
            return Err(RefreshFailure::Revoked(None));
        }
        let Some(app) = &self.config.meta else {
            return Ok(Refresh::KeepCurrent {
                warn_expiring: Some(expires_at),
            });
        };
        match oauth_refresh::exchange_meta(
            &self.http,
            &app.graph_base,
            &app.app_id,
            &app.app_secret,
            token,
        )
        .await
        {
            Ok(r) => Ok(Refresh::Done {
                expires_at: now
                    + chrono::Duration::from_std(r.expires_in)
                        .unwrap_or(chrono::Duration::days(60)),
                token: r.access_token,
                rotated_refresh_token: None,
            }),
            Err(oauth_refresh::RefreshError::InvalidGrant(_)) => Err(RefreshFailure::Revoked(None)),
            Err(e) => {
                tracing::warn!(shop = %row.shop_id, "cannot extend the Meta token: {e}");
                Ok(Refresh::KeepCurrent {
                    warn_expiring: Some(expires_at),
                })
            }
        }
    }

    /// Records `token_expiring` for a Meta token that expires within the warning window, once
    /// per token (a reconnect brings a new expiry), as the pipeline's message to the shop is.
    async fn warn_expiring(&self, row: &IntegrationRow, expires_at: DateTime<Utc>) {
        let window = chrono::Duration::days(META_EXPIRY_WARNING_DAYS);
        if expires_at - Utc::now() >= window
            || lock(&self.warned).insert(row.id, expires_at.timestamp())
                == Some(expires_at.timestamp())
        {
            return;
        }
        // A warning about this token from before a restart (or from another broker): any
        // recorded since its window opened (a day's slack for clocks).
        let opened = (expires_at - window - chrono::Duration::days(1)).timestamp();
        match self
            .store
            .noted_since(&row.shop_id, row.id, "token_expiring", opened)
            .await
        {
            Ok(false) => {}
            Ok(true) => return,
            Err(e) => {
                // Forget it so a later look tries again.
                lock(&self.warned).remove(&row.id);
                tracing::error!("cannot read notifications: {e}");
                return;
            }
        }
        let days = (expires_at - Utc::now()).num_days();
        let message = format!(
            "The Meta Ads token of shop {} expires on {} (in {days} day(s)). Please reconnect your Meta Ads account in the dashboard.",
            row.shop_id,
            expires_at.format("%Y-%m-%d")
        );
        tracing::warn!(shop = %row.shop_id, days, "Meta token expiring soon");
        let n = Notification {
            created_at: Utc::now().timestamp(),
            shop_id: row.shop_id.clone(),
            integration_id: Some(row.id),
            kind: "token_expiring".into(),
            service: Provider::MetaAds.service_name().into(),
            message,
        };
        if let Err(e) = self.store.insert_notification(&n).await {
            tracing::error!("cannot record notification: {e}");
        }
    }

    async fn mark_reconnect(
        &self,
        row: &IntegrationRow,
        provider: Provider,
        reason: &str,
    ) -> BrokerError {
        let now = Utc::now().timestamp();
        let status = IntegrationStatus {
            integration_id: row.id,
            needs_reconnect: true,
            reason: Some(reason.to_owned()),
            updated_at: now,
        };
        if let Err(e) = self.store.set_integration_status(&status).await {
            tracing::error!("cannot mark integration {} for reconnection: {e}", row.id);
        }
        let n = Notification {
            created_at: now,
            shop_id: row.shop_id.clone(),
            integration_id: Some(row.id),
            kind: "reconnect_required".into(),
            service: provider.service_name().into(),
            message: BrokerError::reconnect_required(provider, &row.shop_id).message,
        };
        if let Err(e) = self.store.insert_notification(&n).await {
            tracing::error!("cannot record notification: {e}");
        }
        tracing::warn!(shop = %row.shop_id, %provider, reason, "integration needs reconnection");
        self.forget(&row.shop_id, provider);
        BrokerError::reconnect_required(provider, &row.shop_id)
    }

    fn forget(&self, shop_id: &str, provider: Provider) {
        lock(&self.resolved).remove(&(shop_id.to_owned(), provider));
    }

    fn audit_refresh(
        &self,
        shop_id: &str,
        provider: Provider,
        outcome: &str,
        detail: Option<String>,
    ) {
        self.audit.record(AuditEvent {
            at_ms: now_ms(),
            peer_uid: None,
            peer_pid: None,
            action: "refresh".into(),
            shop_id: Some(shop_id.to_owned()),
            provider: Some(provider.as_str().into()),
            lease_id: None,
            outcome: outcome.into(),
            detail,
        });
    }

    /// Replaces the token an upstream refused (named by its [`token_fingerprint`]) for
    /// `provider` of `shop_id`: once for all callers that report the same token, from the store
    /// if another broker or a reconnect already replaced it, else by a refresh. A token refused
    /// again within [`REJECTION_INTERVAL`] of its replacement is an error, not another refresh.
    pub async fn rejected(
        self: &Arc<Self>,
        shop_id: &str,
        provider: Provider,
        fingerprint: &str,
    ) -> Result<TokenGrant, BrokerError> {
        let (id, account) = self.resolve(shop_id, provider).await?;
        let slot = self.slot(id);
        let _gate = slot.gate.lock().await;
        let grant = |t: &CachedToken| TokenGrant {
            access_token: SecretString::from(t.token.expose_secret().to_owned()),
            expires_at: t.expires_at.timestamp(),
            provider,
            shop_id: shop_id.to_owned(),
            account: account.clone(),
            appsecret_proof: self.appsecret_proof(provider, &t.token),
        };
        if let Some(t) = lock(&slot.current).clone()
            && token_fingerprint(t.token.expose_secret()) != fingerprint
            && !self.due(provider, t.expires_at, Utc::now()).1
        {
            // Someone reported it first (or it was never this broker's current token).
            return Ok(grant(&t));
        }
        let last = *lock(&slot.replaced_after_rejection);
        if let Some(at) = last
            && at.elapsed() < REJECTION_INTERVAL
        {
            return Err(BrokerError::new(
                ErrorCode::TokenRejected,
                format!(
                    "{} refused the token of shop {shop_id} again right after it was replaced; retry in {} s (if it goes on, look at the integration in the dashboard)",
                    provider.service_name(),
                    REJECTION_INTERVAL
                        .saturating_sub(at.elapsed())
                        .as_secs()
                        .max(1)
                ),
            ));
        }
        tracing::info!(shop = %shop_id, %provider, "an upstream refused a token before its expiry; replacing it");
        // The attempt counts, whatever comes of it: a report repeated while the token endpoint
        // fails must not reach it once per report.
        *lock(&slot.replaced_after_rejection) = Some(Instant::now());
        lock(&slot.current).take();
        let fresh = self
            .refresh_locked(&slot, id, shop_id, provider, Why::Rejected(fingerprint))
            .await?;
        if token_fingerprint(fresh.token.expose_secret()) == fingerprint {
            // Backing off from a failing token endpoint, the broker kept what it had: the
            // refused token is no answer.
            lock(&slot.current).take();
            return Err(BrokerError::new(
                ErrorCode::Unavailable,
                format!(
                    "{} refused the token of shop {shop_id} and it cannot be replaced yet (the token endpoint is failing); retry in a minute",
                    provider.service_name()
                ),
            ));
        }
        Ok(grant(&fresh))
    }

    /// Whether `row` is marked for reconnection and the dashboard has not rewritten it since
    /// (a rewrite means the shop reconnected: the mark is cleared then).
    async fn marked_for_reconnect(&self, row: &IntegrationRow) -> Result<bool, BrokerError> {
        let Some(status) = self
            .store
            .integration_status(row.id)
            .await
            .map_err(internal)?
            .filter(|s| s.needs_reconnect)
        else {
            return Ok(false);
        };
        let changed_since = row
            .updated
            .is_some_and(|u| u.timestamp() > status.updated_at);
        if !changed_since {
            return Ok(true);
        }
        let cleared = IntegrationStatus {
            needs_reconnect: false,
            reason: None,
            updated_at: Utc::now().timestamp(),
            ..status
        };
        self.store
            .set_integration_status(&cleared)
            .await
            .map_err(internal)?;
        Ok(false)
    }

    /// Looks at every active Meta token, whether or not anything asked for it: one expiring
    /// within [`META_EXPIRY_WARNING_DAYS`] is extended now when a Meta app is configured, and
    /// otherwise (or when extending fails) recorded as `token_expiring`; one already expired
    /// marks its integration for reconnection. An idle shop's token would otherwise lapse
    /// unnoticed. The broker runs this at start and hourly; returns how many it looked at.
    pub async fn sweep_meta_expiry(self: &Arc<Self>) -> Result<usize, BrokerError> {
        // Beyond the warning window by more than one sweep period: with a Meta app, a token is
        // extended before it could show up as expiring in the health report in between.
        let horizon = Utc::now()
            + chrono::Duration::days(META_EXPIRY_WARNING_DAYS)
            + chrono::Duration::hours(2);
        let mut due = Vec::new();
        for r in self.store.integrations(None).await.map_err(internal)? {
            if r.active
                && !r.deleted
                && self.config.provider_of(r.integration_type) == Some(Provider::MetaAds)
                && integration::parse(&r.data)
                    .expires_at
                    .is_some_and(|e| e < horizon)
                && !self.marked_for_reconnect(&r).await?
            {
                due.push(r);
            }
        }
        for row in &due {
            let slot = self.slot(row.id);
            let _gate = slot.gate.lock().await;
            if let Err(e) = self
                .refresh_locked(&slot, row.id, &row.shop_id, Provider::MetaAds, Why::Forced)
                .await
            {
                tracing::info!(shop = %row.shop_id, "Meta token not extended: {}", e.message);
            }
        }
        Ok(due.len())
    }

    /// Refreshes, now, up to `limit` active integrations of `shop` (all shops when `None`)
    /// with ids above `after`, in id order; returns one result each and the id to continue
    /// after (`None` when none are left). For the operator's `refresh` command.
    pub async fn refresh_page(
        self: &Arc<Self>,
        shop: Option<&str>,
        after: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<RefreshResult>, Option<i64>), BrokerError> {
        let mut rows: Vec<_> = self
            .store
            .integrations(shop)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|r| r.active && !r.deleted && after.is_none_or(|a| r.id > a))
            .filter_map(|r| Some((self.config.provider_of(r.integration_type)?, r)))
            .collect();
        rows.sort_by_key(|(_, r)| r.id);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let mut out = Vec::with_capacity(rows.len());
        for (provider, row) in rows {
            if self.marked_for_reconnect(&row).await? {
                // Asking the token endpoint again would only be refused again (and mark it
                // anew, as if it had just broken).
                out.push(RefreshResult {
                    integration_id: row.id,
                    shop_id: row.shop_id.clone(),
                    provider,
                    expires_at: None,
                    kept: false,
                    error: Some(BrokerError::reconnect_required(provider, &row.shop_id)),
                });
                continue;
            }
            let slot = self.slot(row.id);
            let _gate = slot.gate.lock().await;
            let stored = integration::parse(&row.data)
                .token
                .map(|t| token_fingerprint(t.expose_secret()));
            let mut result = self
                .refresh_locked(&slot, row.id, &row.shop_id, provider, Why::Forced)
                .await;
            let unchanged = result.as_ref().is_ok_and(|t| {
                !t.lasting && stored == Some(token_fingerprint(t.token.expose_secret()))
            });
            // Only a Meta token without a Meta app is kept by design; any other token that
            // comes back unchanged was not renewed (the token endpoint failed or is backing
            // off): that is a failed refresh, not a success.
            let kept_by_design = provider == Provider::MetaAds && self.config.meta.is_none();
            if unchanged
                && !kept_by_design
                && let Ok(t) = &result
            {
                result = Err(BrokerError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "the {} token of shop {} could not be renewed now (the token endpoint failed or is backing off; see the broker's log); the stored one stays valid until {} UTC",
                        provider.service_name(),
                        row.shop_id,
                        t.expires_at.format("%Y-%m-%d %H:%M")
                    ),
                ));
            }
            out.push(RefreshResult {
                integration_id: row.id,
                shop_id: row.shop_id.clone(),
                provider,
                expires_at: match &result {
                    Ok(t) if !t.lasting => Some(t.expires_at.timestamp()),
                    _ => None,
                },
                kept: unchanged && kept_by_design,
                error: result.err(),
            });
        }
        let next = if more {
            out.last().map(|r| r.integration_id)
        } else {
            None
        };
        Ok((out, next))
    }

    /// Every page of [`TokenService::refresh_page`]: the `refresh` command without a broker.
    pub async fn refresh_now(
        self: &Arc<Self>,
        shop: Option<&str>,
    ) -> Result<Vec<RefreshResult>, BrokerError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let (results, next) = self
                .refresh_page(shop, after, broker_proto::MAX_REFRESH_PER_REQUEST)
                .await?;
            all.extend(results);
            match next {
                Some(n) => after = Some(n),
                None => return Ok(all),
            }
        }
    }
}

enum Refresh {
    Done {
        token: SecretString,
        expires_at: DateTime<Utc>,
        rotated_refresh_token: Option<SecretString>,
    },
    /// The stored token stays; `warn_expiring` asks for a notification once the lock is gone.
    KeepCurrent {
        warn_expiring: Option<DateTime<Utc>>,
    },
}

enum RefreshFailure {
    /// The grant is gone; carries the refresh token that was refused, if any.
    Revoked(Option<SecretString>),
    Transient(String),
    Config(String),
}
