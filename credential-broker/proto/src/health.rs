//! The integration health report: what an operator should look at, sized to fit a frame.
//! How it reads as text is the operators' views' business (`broker-views`), not the wire's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Provider;

/// Integration health: what an operator should look at. Never holds a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthReport {
    /// Shops in the database.
    pub shops: u64,
    /// Active integrations per provider (`ga4`, `gsc`, …).
    pub counts_by_type: BTreeMap<String, u64>,
    /// Integrations not refreshed for the requested number of days.
    pub stale_tokens: Vec<HealthItem>,
    /// Integrations granted without the read scope their provider needs.
    pub missing_scopes: Vec<HealthItem>,
    /// Integrations whose grant was revoked or expired.
    pub needs_reconnect: Vec<HealthItem>,
    /// Integrations without their account (no property, site, customer or ad account
    /// selected): they grant nothing until the client finishes connecting them.
    #[serde(default)]
    pub missing_accounts: Vec<HealthItem>,
    /// Meta tokens expiring within [`META_EXPIRY_WARNING_DAYS`] (that the broker cannot
    /// extend: with a Meta app it extends them first).
    pub meta_tokens_expiring: Vec<HealthItem>,
    /// Per provider, the shops without it.
    pub shops_without: BTreeMap<String, Vec<String>>,
    /// Per list (`stale_tokens`, `shops_without.meta_ads`, …), items cut to fit a frame.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub omitted: BTreeMap<String, u64>,
    /// The names of the shops the lists mention, by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shop_names: BTreeMap<String, String>,
}

/// One integration that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthItem {
    /// The shop.
    pub shop_id: String,
    /// The provider.
    pub provider: Provider,
    /// The integration's row id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<i64>,
    /// When it was last updated (RFC 3339): for stale tokens, the last refresh; for those that
    /// need reconnection, when the token endpoint refused the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// The scope it lacks, for missing scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    /// When the token expires (RFC 3339), for expiring Meta tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl HealthReport {
    /// Items that need attention (counting those cut from the lists).
    pub fn problems(&self) -> u64 {
        let listed = self.stale_tokens.len()
            + self.missing_scopes.len()
            + self.needs_reconnect.len()
            + self.missing_accounts.len()
            + self.meta_tokens_expiring.len();
        let cut: u64 = [
            "stale_tokens",
            "missing_scopes",
            "needs_reconnect",
            "missing_accounts",
            "meta_tokens_expiring",
        ]
        .iter()
        .filter_map(|k| self.omitted.get(*k))
        .sum();
        listed as u64 + cut
    }

    /// Cuts every list to at most `max` items, recording what was cut in `omitted`.
    pub fn truncate(&mut self, max: usize) {
        let mut cut = |name: String, len: usize| {
            if len > max {
                *self.omitted.entry(name).or_default() += (len - max) as u64;
            }
        };
        for (name, list) in [
            ("stale_tokens", &mut self.stale_tokens),
            ("missing_scopes", &mut self.missing_scopes),
            ("needs_reconnect", &mut self.needs_reconnect),
            ("missing_accounts", &mut self.missing_accounts),
            ("meta_tokens_expiring", &mut self.meta_tokens_expiring),
        ] {
            cut(name.to_owned(), list.len());
            list.truncate(max);
        }
        for (provider, shops) in &mut self.shops_without {
            cut(format!("shops_without.{provider}"), shops.len());
            shops.truncate(max);
        }
        // Names only of the shops still listed.
        let listed: std::collections::BTreeSet<&String> = [
            &self.stale_tokens,
            &self.missing_scopes,
            &self.needs_reconnect,
            &self.missing_accounts,
            &self.meta_tokens_expiring,
        ]
        .into_iter()
        .flatten()
        .map(|i| &i.shop_id)
        .chain(self.shops_without.values().flatten())
        .collect();
        let keep: std::collections::BTreeSet<String> = listed.into_iter().cloned().collect();
        self.shop_names.retain(|id, _| keep.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_reports_cut_to_size_and_still_count_everything() {
        let item = |shop: &str| HealthItem {
            shop_id: shop.into(),
            provider: Provider::Ga4,
            integration_id: Some(1),
            updated: None,
            required: None,
            expires_at: None,
        };
        let mut r = HealthReport {
            shops: 3,
            needs_reconnect: vec![item("a"), item("b"), item("c")],
            shops_without: [(
                "meta_ads".to_owned(),
                vec!["a".into(), "b".into(), "c".into()],
            )]
            .into(),
            shop_names: [
                ("a".to_owned(), "Acme".to_owned()),
                ("z".to_owned(), "Gone".to_owned()),
            ]
            .into(),
            ..HealthReport::default()
        };
        assert_eq!(r.problems(), 3);
        r.truncate(1);
        assert_eq!(
            r.shop_names.keys().collect::<Vec<_>>(),
            ["a"],
            "names only of shops still listed"
        );
        assert_eq!(r.needs_reconnect.len(), 1);
        assert_eq!(r.problems(), 3, "cut items still count");
        assert_eq!(r.omitted["shops_without.meta_ads"], 2);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["needs_reconnect"][0]["integration_id"], 1);
        assert!(json["needs_reconnect"][0].get("updated").is_none());
    }
}
