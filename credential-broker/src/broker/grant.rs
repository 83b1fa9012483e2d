//! Leases: what a request for a shop's providers grants (each provider resolved to its
//! account, or why not), for an admin or agent host, or for the holder of a shop key.

use std::collections::BTreeSet;
use std::time::Duration;

use broker_proto::{
    BrokerError, ErrorCode, LeaseGrant, LeaseSet, MissingProvider, Provider, ProviderAccount,
    ProviderLease,
};

use super::{Broker, Peer, now};
use crate::store::AuditEvent;

impl Broker {
    /// Checks a lease request and resolves each provider to its account, or why not.
    pub(super) async fn grants(
        &self,
        peer: Peer,
        shop_id: &str,
        providers: &[Provider],
        ttl_secs: u64,
    ) -> Result<(Vec<ProviderAccount>, Vec<MissingProvider>, Duration), BrokerError> {
        if !self.may_lease(peer) {
            return Err(Self::not_permitted(peer, "create leases"));
        }
        self.grantable(shop_id, providers, ttl_secs).await
    }

    /// What a lease for `providers` of `shop_id` would grant (the caller's right to ask is
    /// checked before).
    pub(super) async fn grantable(
        &self,
        shop_id: &str,
        providers: &[Provider],
        ttl_secs: u64,
    ) -> Result<(Vec<ProviderAccount>, Vec<MissingProvider>, Duration), BrokerError> {
        if shop_id.trim().is_empty() || shop_id.len() > 200 {
            return Err(BrokerError::new(
                ErrorCode::BadRequest,
                "shop_id must be a shop's id",
            ));
        }
        let wanted: BTreeSet<Provider> = providers.iter().copied().collect();
        if wanted.is_empty() {
            return Err(BrokerError::new(
                ErrorCode::BadRequest,
                "name at least one provider: ga4, gsc, google_ads, meta_ads",
            ));
        }
        if ttl_secs == 0 {
            return Err(BrokerError::new(
                ErrorCode::BadRequest,
                "ttl must be at least one second",
            ));
        }
        let ttl = Duration::from_secs(ttl_secs);
        if ttl > self.config.max_lease_ttl {
            return Err(BrokerError::new(
                ErrorCode::BadRequest,
                format!(
                    "ttl {ttl_secs} s exceeds this broker's max_lease_ttl of {} s",
                    self.config.max_lease_ttl.as_secs()
                ),
            ));
        }
        let mut granted = Vec::new();
        let mut missing = Vec::new();
        for provider in wanted {
            match self.tokens.resolve(shop_id, provider).await {
                Ok((_, account)) => granted.push(ProviderAccount { provider, account }),
                Err(e) if e.code == ErrorCode::Internal => return Err(e),
                Err(error) => missing.push(MissingProvider { provider, error }),
            }
        }
        if granted.is_empty() {
            // Nothing to lease: say why with the first provider's message (the guide's wording).
            return Err(missing
                .into_iter()
                .next()
                .map(|m| m.error)
                .unwrap_or_else(|| BrokerError::new(ErrorCode::BadRequest, "no providers")));
        }
        Ok((granted, missing, ttl))
    }

    pub(super) async fn create_lease(
        &self,
        peer: Peer,
        shop_id: &str,
        providers: &[Provider],
        ttl_secs: u64,
    ) -> Result<LeaseGrant, BrokerError> {
        let (accounts, missing, ttl) = self.grants(peer, shop_id, providers, ttl_secs).await?;
        let granted: Vec<Provider> = accounts.iter().map(|a| a.provider).collect();
        let (lease, record) = self
            .leases
            .create(shop_id, &granted, ttl, now(), peer.holder())
            .await?;
        Ok(LeaseGrant {
            lease,
            lease_id: record.id,
            shop_id: shop_id.to_owned(),
            expires_at: record.expires_at,
            granted,
            missing,
            accounts,
        })
    }

    /// A lease for one provider of a key's shop, for whoever holds the key (a desktop client's
    /// server, started with `--shop-id` and the key): no longer than the key itself lives.
    pub(super) async fn lease_by_key(
        &self,
        peer: Peer,
        key: &broker_proto::ShopKey,
        shop_id: &str,
        provider: Provider,
        ttl_secs: u64,
        event: &mut AuditEvent,
    ) -> Result<LeaseGrant, BrokerError> {
        let info = self.keys.check(key, now()).await?;
        event.detail = Some(format!("by key {}", info.key_id));
        if info.shop_id != shop_id {
            return Err(BrokerError::new(
                ErrorCode::WrongShop,
                format!(
                    "key {} is for shop {}, not shop {shop_id}",
                    info.key_id, info.shop_id
                ),
            ));
        }
        if !info.providers.contains(&provider) {
            return Err(BrokerError::new(
                ErrorCode::WrongProvider,
                format!(
                    "key {} does not cover {}",
                    info.key_id,
                    provider.service_name()
                ),
            ));
        }
        let left = u64::try_from(info.expires_at.saturating_sub(now())).unwrap_or(0);
        let ttl_secs = ttl_secs
            .min(self.config.max_lease_ttl.as_secs())
            .min(left)
            .max(1);
        let (accounts, missing, ttl) = self.grantable(shop_id, &[provider], ttl_secs).await?;
        if let Some(m) = missing.into_iter().next() {
            return Err(m.error);
        }
        let granted: Vec<Provider> = accounts.iter().map(|a| a.provider).collect();
        let (lease, record) = self
            .leases
            .create(shop_id, &granted, ttl, now(), peer.holder())
            .await?;
        // Revoking the key ends this lease too. A revocation that ran between the check above
        // and the link missed this lease: check again, now that the link is there.
        let linked = self.keys.link_lease(&record.id, &info.key_id).await;
        let still = match linked {
            Ok(()) => self.keys.check(key, now()).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = still {
            let _ = self.leases.revoke_id(&record.id, now()).await;
            return Err(e);
        }
        Ok(LeaseGrant {
            lease,
            lease_id: record.id,
            shop_id: shop_id.to_owned(),
            expires_at: record.expires_at,
            granted,
            missing: Vec::new(),
            accounts,
        })
    }

    pub(super) async fn create_leases(
        &self,
        peer: Peer,
        shop_id: &str,
        providers: &[Provider],
        ttl_secs: u64,
    ) -> Result<LeaseSet, BrokerError> {
        let (accounts, missing, ttl) = self.grants(peer, shop_id, providers, ttl_secs).await?;
        let now = now();
        let providers: Vec<Provider> = accounts.iter().map(|a| a.provider).collect();
        let made = self
            .leases
            .create_each(shop_id, &providers, ttl, now, peer.holder())
            .await?;
        let mut expires_at = now;
        let mut leases = Vec::new();
        for (ProviderAccount { provider, account }, (lease, record)) in
            accounts.into_iter().zip(made)
        {
            expires_at = record.expires_at;
            leases.push(ProviderLease {
                provider,
                lease,
                lease_id: record.id,
                account,
            });
        }
        Ok(LeaseSet {
            shop_id: shop_id.to_owned(),
            expires_at,
            leases,
            missing,
        })
    }
}
