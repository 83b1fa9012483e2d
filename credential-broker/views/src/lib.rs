//! How operators read the credential broker's reports. The daemon answers with data
//! ([`HealthReport`]); the broker's command line and the agent host print it the same way
//! through here, so the wire protocol and the code that holds secrets carry no presentation.

#![deny(missing_docs)]

use broker_proto::{HealthItem, HealthReport, META_EXPIRY_WARNING_DAYS};

/// The health report for people; `stale_days` is the threshold it was made with. Shops are
/// named with their ids; long lists end in "… and N more".
pub fn health_text(report: &HealthReport, stale_days: u32) -> String {
    use std::fmt::Write as _;
    let mut s = format!(
        "{} shop(s); active integrations by type: {}\n",
        report.shops,
        report
            .counts_by_type
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let names = &report.shop_names;
    let shop = |id: &str| match names.get(id) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    };
    let day = |rfc3339: &Option<String>| {
        rfc3339
            .as_deref()
            .map(|t| t.get(..10).unwrap_or(t).to_owned())
    };
    let mut section = |title: &str, key: &str, items: &[HealthItem]| {
        let more = report.omitted.get(key).copied().unwrap_or(0);
        let _ = writeln!(s, "\n{title}: {}", items.len() as u64 + more);
        for i in items {
            let detail = match key {
                "stale_tokens" => day(&i.updated).map(|d| format!(" — last refreshed {d}")),
                "needs_reconnect" => day(&i.updated).map(|d| format!(" — grant refused {d}")),
                "missing_scopes" => i
                    .required
                    .as_ref()
                    .map(|r| format!(" — lacks the {r} permission; reconnect and grant it")),
                "meta_tokens_expiring" => day(&i.expires_at).map(|d| format!(" — expires {d}")),
                "missing_accounts" => Some(format!(" — no {} selected", i.provider.account_noun())),
                _ => None,
            };
            let _ = writeln!(
                s,
                "  {} {}{}",
                shop(&i.shop_id),
                i.provider.service_name(),
                detail.unwrap_or_default()
            );
        }
        if more > 0 {
            let _ = writeln!(s, "  … and {more} more");
        }
    };
    section(
        &format!("Tokens not refreshed in {stale_days} days"),
        "stale_tokens",
        &report.stale_tokens,
    );
    section("Missing scopes", "missing_scopes", &report.missing_scopes);
    section(
        "Need reconnection",
        "needs_reconnect",
        &report.needs_reconnect,
    );
    section(
        "No account selected (grant nothing)",
        "missing_accounts",
        &report.missing_accounts,
    );
    section(
        &format!("Meta tokens expiring within {META_EXPIRY_WARNING_DAYS} days"),
        "meta_tokens_expiring",
        &report.meta_tokens_expiring,
    );
    let _ = writeln!(s, "\nShops without each integration:");
    for (p, list) in &report.shops_without {
        let more = report
            .omitted
            .get(&format!("shops_without.{p}"))
            .copied()
            .unwrap_or(0);
        let _ = writeln!(s, "  {p:<11} {}", list.len() as u64 + more);
        const SHOWN: usize = 10;
        for id in list.iter().take(SHOWN) {
            let _ = writeln!(s, "    {}", shop(id));
        }
        let hidden = (list.len().saturating_sub(SHOWN)) as u64 + more;
        if hidden > 0 {
            let _ = writeln!(s, "    … and {hidden} more (--json lists them)");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use broker_proto::{HealthItem, HealthReport, Provider};

    use super::health_text;

    #[test]
    fn cut_lists_say_how_many_more_and_name_their_shops() {
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
            shop_names: [("a".to_owned(), "Acme".to_owned())].into(),
            ..HealthReport::default()
        };
        r.truncate(1);
        let text = health_text(&r, 30);
        assert!(
            text.contains("Need reconnection: 3\n  Acme (a) Google Analytics\n  … and 2 more"),
            "{text}"
        );
        assert!(
            text.contains("meta_ads    3\n    Acme (a)\n    … and 2 more"),
            "{text}"
        );
    }
}
