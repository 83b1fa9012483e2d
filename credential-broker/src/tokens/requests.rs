//! Refreshes asked for from outside the vending path: a server's report of a refused token,
//! the operator's `refresh`, and the hourly look at expiring Meta tokens.

use std::sync::Arc;
use std::time::Instant;

use broker_proto::{
    BrokerError, ErrorCode, META_EXPIRY_WARNING_DAYS, Provider, RefreshResult, TokenGrant,
    token_fingerprint,
};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use super::{CachedToken, REJECTION_INTERVAL, TokenService, Why, internal, lock};
use crate::integration;
use crate::store::{IntegrationRow, IntegrationStatus};

impl TokenService {
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

    /// Integrations a vend would refuse as needing reconnection: marked after a refused grant,
    /// active, and not rewritten by the dashboard since. Reads only the marked rows and changes
    /// nothing (a vend clears a mark the dashboard made stale).
    pub async fn needing_reconnection(&self) -> Result<usize, BrokerError> {
        let statuses = self.store.integration_statuses().await.map_err(internal)?;
        let mut marked = 0;
        for status in statuses.iter().filter(|s| s.needs_reconnect) {
            let Some(row) = self
                .store
                .integration(status.integration_id)
                .await
                .map_err(internal)?
            else {
                continue;
            };
            let rewritten = row
                .updated
                .is_some_and(|u| u.timestamp() > status.updated_at);
            if row.active && !row.deleted && !rewritten {
                marked += 1;
            }
        }
        Ok(marked)
    }

    /// Whether `row` is marked for reconnection and the dashboard has not rewritten it since
    /// (a rewrite means the shop reconnected: the mark is cleared then).
    pub(super) async fn marked_for_reconnect(
        &self,
        row: &IntegrationRow,
    ) -> Result<bool, BrokerError> {
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
                .refresh_locked(
                    &slot,
                    row.id,
                    &row.shop_id,
                    Provider::MetaAds,
                    Why::Expiring,
                )
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
