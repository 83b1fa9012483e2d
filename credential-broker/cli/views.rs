//! The operator's views of the store: tables for people, `--json` for scripts.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{TimeZone, Utc};
use credential_broker::config::BrokerConfig;
use credential_broker::integration;
use credential_broker::store::Store;
use serde_json::{Value, json};

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC), `-` when out of range.
pub fn fmt_time(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

/// `integrations`: every integration with its state and account, never a token.
pub async fn integrations_view(
    store: &Store,
    config: &BrokerConfig,
    shop: Option<&str>,
    as_json: bool,
) -> Result<()> {
    let rows = store.integrations(shop).await?;
    let statuses: BTreeMap<i64, bool> = store
        .integration_statuses()
        .await?
        .into_iter()
        .map(|s| (s.integration_id, s.needs_reconnect))
        .collect();
    let mut list = Vec::new();
    for r in &rows {
        let d = integration::parse(&r.data);
        let provider = config
            .provider_of(r.integration_type)
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| format!("type {}", r.integration_type));
        list.push(json!({
            "id": r.id,
            "shop_id": r.shop_id,
            "provider": provider,
            "integration_type": r.integration_type,
            "active": r.active,
            "deleted": r.deleted,
            "needs_reconnect": statuses.get(&r.id).copied().unwrap_or(false),
            "expires_at": d.expires_at.map(|t| t.to_rfc3339()),
            "has_refresh_token": d.refresh_token.is_some(),
            "granted_scopes": d.granted_scopes,
            "account": d.account,
            "updated": r.updated.map(|t| t.to_rfc3339()),
        }));
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "{:>6} {:<38} {:<11} {:<8} {:<20} account",
        "id", "shop", "provider", "state", "token expires"
    );
    for v in &list {
        let state = if v["deleted"] == true {
            "deleted"
        } else if v["active"] != true {
            "inactive"
        } else if v["needs_reconnect"] == true {
            "RECONNECT"
        } else {
            "active"
        };
        let account = v["account"]
            .as_object()
            .and_then(|a| a.values().next())
            .and_then(Value::as_str)
            .unwrap_or("-");
        println!(
            "{:>6} {:<38} {:<11} {:<8} {:<20} {}",
            v["id"],
            v["shop_id"].as_str().unwrap_or(""),
            v["provider"].as_str().unwrap_or(""),
            state,
            v["expires_at"]
                .as_str()
                .map(|s| s.chars().take(19).collect::<String>())
                .unwrap_or_else(|| "-".into()),
            account
        );
    }
    println!("{} integration(s)", list.len());
    Ok(())
}

/// `health`: exit code 1 when anything needs attention.
pub async fn health(
    store: &Store,
    config: &BrokerConfig,
    stale_days: i64,
    as_json: bool,
) -> Result<std::process::ExitCode> {
    let stale_days = u32::try_from(stale_days.max(0)).unwrap_or(u32::MAX);
    let report = credential_broker::health::report(store, config, stale_days).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", broker_views::health_text(&report, stale_days));
    }
    Ok(if report.problems() > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}
