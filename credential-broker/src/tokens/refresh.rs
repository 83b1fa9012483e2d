//! Refreshing one integration's token under its lock: Google's refresh grant, Meta's
//! long-lived token exchange, backoff after a failure, and marking an integration for
//! reconnection only on a token endpoint's `invalid_grant` (not on a lost race).

use std::sync::Arc;
use std::time::Instant;

use broker_proto::{BrokerError, ErrorCode, META_EXPIRY_WARNING_DAYS, Provider, token_fingerprint};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    BACKOFF_MAX, BACKOFF_START, Backoff, CachedToken, Slot, TokenService, Why, internal, lock,
};
use crate::audit::now_ms;
use crate::integration::{self, IntegrationData};
use crate::metrics::RefreshOutcome;
use crate::store::{AuditEvent, IntegrationRow, IntegrationStatus, Notification};

impl TokenService {
    /// Refreshes `id` (the caller holds `slot.gate`), for the reason `why`.
    pub(super) async fn refresh_locked(
        &self,
        slot: &Slot,
        id: i64,
        shop_id: &str,
        provider: Provider,
        why: Why<'_>,
    ) -> Result<CachedToken, BrokerError> {
        let mut counted = Counted {
            metrics: &self.metrics,
            provider,
            reason: why.reason(),
            outcome: None,
            skip: false,
        };
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
                // The sweep picked this token as near its expiry, but another caller may have
                // extended it since: then it is not extended twice.
                Why::Due | Why::Expiring => !self.due(provider, c.expires_at, now).0,
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
                counted.outcome = Some(RefreshOutcome::from_store);
                return Ok(c.clone());
            }
            let backoff_until = lock(&slot.backoff).until;
            if let Some(until) = backoff_until
                && Instant::now() < until
            {
                lock_guard.release().await.map_err(internal)?;
                // Backing off: nothing was asked of a token endpoint.
                counted.skip = true;
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
                    counted.outcome = Some(RefreshOutcome::refreshed);
                    return Ok(fresh);
                }
                Ok(Refresh::KeepCurrent {
                    warn_expiring,
                    failed,
                }) => {
                    lock_guard.release().await.map_err(internal)?;
                    // After the release: on SQLite the lock is the database's write lock.
                    // A server's report is no reason to tell the shop anything.
                    if let Some(expires_at) = warn_expiring
                        && !matches!(why, Why::Rejected(_))
                    {
                        self.warn_expiring(&row, expires_at).await;
                    }
                    let Some(c) = current else {
                        counted.outcome = Some(RefreshOutcome::failed);
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
                        counted.outcome = Some(RefreshOutcome::failed);
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
                    counted.outcome = Some(if failed {
                        RefreshOutcome::failed
                    } else {
                        RefreshOutcome::kept
                    });
                    return Ok(c);
                }
                Err(RefreshFailure::Revoked {
                    used_refresh_token,
                    by_endpoint,
                }) => {
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
                        counted.outcome = Some(RefreshOutcome::failed);
                        return Err(BrokerError::new(
                            ErrorCode::TokenRejected,
                            format!(
                                "{} refused the stored token of shop {shop_id}, and the integration has nothing to renew it with; the integration needs attention in the dashboard",
                                provider.service_name()
                            ),
                        ));
                    }
                    self.audit_refresh(shop_id, provider, "revoked", None);
                    counted.outcome = Some(if by_endpoint {
                        RefreshOutcome::revoked
                    } else {
                        RefreshOutcome::expired
                    });
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
                    counted.outcome = Some(RefreshOutcome::failed);
                    return self.keep_or_unavailable(slot, current, provider, until);
                }
                Err(RefreshFailure::Config(detail)) => {
                    lock_guard.release().await.map_err(internal)?;
                    tracing::error!(%provider, "cannot refresh tokens: {detail}");
                    self.audit_refresh(shop_id, provider, "failed", Some(detail.clone()));
                    counted.outcome = Some(RefreshOutcome::unconfigured);
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

    pub(super) fn keep_or_unavailable(
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
            return Err(RefreshFailure::Revoked {
                used_refresh_token: None,
                by_endpoint: false,
            });
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
            Err(oauth_refresh::RefreshError::InvalidGrant(_)) => Err(RefreshFailure::Revoked {
                used_refresh_token: Some(rt.clone()),
                by_endpoint: true,
            }),
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
                    failed: false,
                })
            } else {
                Err(RefreshFailure::Revoked {
                    used_refresh_token: None,
                    by_endpoint: false,
                })
            };
        };
        if expires_at <= now {
            return Err(RefreshFailure::Revoked {
                used_refresh_token: None,
                by_endpoint: false,
            });
        }
        let Some(app) = &self.config.meta else {
            return Ok(Refresh::KeepCurrent {
                warn_expiring: Some(expires_at),
                failed: false,
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
            Err(oauth_refresh::RefreshError::InvalidGrant(_)) => Err(RefreshFailure::Revoked {
                used_refresh_token: None,
                by_endpoint: true,
            }),
            Err(e) => {
                tracing::warn!(shop = %row.shop_id, "cannot extend the Meta token: {e}");
                Ok(Refresh::KeepCurrent {
                    warn_expiring: Some(expires_at),
                    failed: true,
                })
            }
        }
    }

    /// Records `token_expiring` for a Meta token that expires within the warning window, once
    /// per token (a reconnect brings a new expiry), as the pipeline's message to the shop is.
    pub(super) async fn warn_expiring(&self, row: &IntegrationRow, expires_at: DateTime<Utc>) {
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

    pub(super) async fn mark_reconnect(
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

    pub(super) fn forget(&self, shop_id: &str, provider: Provider) {
        lock(&self.resolved).remove(&(shop_id.to_owned(), provider));
    }

    pub(super) fn audit_refresh(
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
            // The vend that had to wait for this refresh, if one did.
            trace_id: telemetry::propagate::current_trace_id(),
        });
    }
}

enum Refresh {
    Done {
        token: SecretString,
        expires_at: DateTime<Utc>,
        rotated_refresh_token: Option<SecretString>,
    },
    /// The stored token stays; `warn_expiring` asks for a notification once the lock is gone;
    /// `failed`: an extension was tried and failed (not: nothing could be tried).
    KeepCurrent {
        warn_expiring: Option<DateTime<Utc>>,
        failed: bool,
    },
}

enum RefreshFailure {
    /// The grant is gone: the refresh token that was refused, if any, and whether a token
    /// endpoint said so (else there was nothing left to renew with).
    Revoked {
        used_refresh_token: Option<SecretString>,
        by_endpoint: bool,
    },
    Transient(String),
    Config(String),
}

/// Counts one refresh when dropped: the outcome set last, else `failed` (a store error on the
/// way out is a failed refresh too); nothing when `skip` (no token endpoint was asked).
struct Counted<'a> {
    metrics: &'a crate::metrics::BrokerMetrics,
    provider: Provider,
    reason: crate::metrics::RefreshReason,
    outcome: Option<RefreshOutcome>,
    skip: bool,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if !self.skip {
            self.metrics.refresh(
                self.provider,
                self.outcome.unwrap_or(RefreshOutcome::failed),
                self.reason,
            );
        }
    }
}
