//! Integration health across shops: stale tokens, missing scopes, integrations needing
//! reconnection or without their account, Meta tokens about to expire, and which shops lack
//! each provider. Computed from the store for `credential-broker health` and for admins over the socket
//! (`Request::Health`, which `agent-host health` sends). Never reads a token into the report.

use std::collections::{BTreeMap, BTreeSet};

use broker_proto::{HealthItem, HealthReport, META_EXPIRY_WARNING_DAYS, Provider};
use chrono::Utc;

use crate::config::BrokerConfig;
use crate::integration;
use crate::store::{Store, StoreError};

/// The full report (no list cut).
pub async fn report(
    store: &Store,
    config: &BrokerConfig,
    stale_days: u32,
) -> Result<HealthReport, StoreError> {
    let shops = store.shops().await?;
    let rows = store.integrations(None).await?;
    // Integrations marked for reconnection, with when the broker found the grant refused.
    let refused: BTreeMap<i64, i64> = store
        .integration_statuses()
        .await?
        .into_iter()
        .filter(|s| s.needs_reconnect)
        .map(|s| (s.integration_id, s.updated_at))
        .collect();
    let now = Utc::now();
    let mut report = HealthReport {
        shops: shops.len() as u64,
        shop_names: shops
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect(),
        ..HealthReport::default()
    };
    let mut covered: BTreeMap<Provider, BTreeSet<&str>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.active && !r.deleted) {
        let Some(p) = config.provider_of(r.integration_type) else {
            continue;
        };
        *report
            .counts_by_type
            .entry(p.as_str().to_owned())
            .or_default() += 1;
        covered.entry(p).or_default().insert(r.shop_id.as_str());
        let d = integration::parse(&r.data);
        let item = || HealthItem {
            shop_id: r.shop_id.clone(),
            provider: p,
            integration_id: None,
            updated: None,
            required: None,
            expires_at: None,
        };
        if r.updated
            .is_some_and(|u| (now - u).num_days() >= i64::from(stale_days))
        {
            report.stale_tokens.push(HealthItem {
                updated: r.updated.map(|u| u.to_rfc3339()),
                ..item()
            });
        }
        if d.granted_scopes
            .as_deref()
            .is_some_and(|s| !integration::has_scope(p, s))
        {
            report.missing_scopes.push(HealthItem {
                required: Some(p.required_scope().to_owned()),
                ..item()
            });
        }
        if d.account.id_for(p).is_none() {
            report.missing_accounts.push(HealthItem {
                integration_id: Some(r.id),
                ..item()
            });
        }
        if let Some(at) = refused.get(&r.id) {
            report.needs_reconnect.push(HealthItem {
                integration_id: Some(r.id),
                updated: chrono::DateTime::from_timestamp(*at, 0).map(|t| t.to_rfc3339()),
                ..item()
            });
        }
        // Still working but not for long (an expired one needs reconnection, not a warning).
        if p == Provider::MetaAds
            && !refused.contains_key(&r.id)
            && d.expires_at.is_some_and(|e| {
                e > now && e - now < chrono::Duration::days(META_EXPIRY_WARNING_DAYS)
            })
        {
            report.meta_tokens_expiring.push(HealthItem {
                expires_at: d.expires_at.map(|e| e.to_rfc3339()),
                ..item()
            });
        }
    }
    for p in Provider::ALL {
        let have = covered.get(&p);
        report.shops_without.insert(
            p.as_str().to_owned(),
            shops
                .iter()
                .filter(|s| have.is_none_or(|h| !h.contains(s.id.as_str())))
                .map(|s| s.id.clone())
                .collect(),
        );
    }
    // Names only of the shops the lists mention (a healthy shop needs none here).
    report.truncate(usize::MAX);
    Ok(report)
}

/// Cuts `report`'s lists until `encoded_len` of it fits in `limit` bytes (one frame).
pub fn fit(report: &mut HealthReport, limit: usize, encoded_len: impl Fn(&HealthReport) -> usize) {
    let mut max = 200;
    report.truncate(max);
    while encoded_len(report) > limit && max > 0 {
        max /= 2;
        report.truncate(max);
    }
}
