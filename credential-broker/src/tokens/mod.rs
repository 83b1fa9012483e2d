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

use broker_proto::{Account, BrokerError, ErrorCode, Provider, TokenGrant};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::audit::AuditSink;
use crate::config::BrokerConfig;
use crate::integration;
use crate::metrics::{BrokerMetrics, RefreshReason};
use crate::store::{Store, StoreError};

mod refresh;
mod requests;

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
    /// The hourly look at Meta tokens near their expiry: as `Due` (a token someone extended
    /// meanwhile is left alone), counted apart.
    Expiring,
    /// An upstream refused the token with this fingerprint: a different one in the store (a
    /// reconnect, another broker's refresh) will do, that one must not come back.
    Rejected(&'a str),
}

impl Why<'_> {
    fn reason(self) -> RefreshReason {
        match self {
            Why::Due => RefreshReason::due,
            Why::Forced => RefreshReason::forced,
            Why::Expiring => RefreshReason::expiring,
            Why::Rejected(_) => RefreshReason::rejected,
        }
    }
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
    metrics: Arc<BrokerMetrics>,
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
        metrics: Arc<BrokerMetrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            config,
            http,
            audit,
            metrics,
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
                self.metrics.cache_hit(provider);
                return Ok(grant(t));
            }
        }
        let _gate = slot.gate.lock().await;
        // Whoever held the gate before us may have refreshed.
        if let Some(t) = lock(&slot.current).clone()
            && !self.due(provider, t.expires_at, Utc::now()).1
        {
            self.metrics.cache_hit(provider);
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
}
