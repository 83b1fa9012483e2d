//! `credential-broker`: the operator's command line over the daemon library — the daemon
//! (`serve`), schema set-up (`migrate`, `seed`), the commands that ask a running broker
//! (`lease`, `key`, `principal`, `refresh`) and the views of the store (`shops`,
//! `integrations`, `health`, `audit`, `notifications`). Every view has `--json`.
//!
//! # Layout
//! - [`args`]: the commands and flags.
//! - [`admin`]: leases, shop keys and principals, through the broker's socket.
//! - [`views`]: the integrations and health views (the shorter lists print in `run`).
//! - [`seed`]: shops and integrations from a TOML file.

mod admin;
mod args;
mod seed;
mod views;

use std::process::ExitCode;

use anyhow::{Result, bail};
use broker_proto::client::BrokerClient;
use clap::Parser;
use credential_broker::{config, daemon};
use serde_json::{Value, json};

use crate::args::{Cli, Command, KeyCommand, LeaseCommand, PrincipalCommand};

fn main() -> ExitCode {
    // First, before any command can load a refresh token (`serve`, `refresh --direct`, `seed`,
    // the admin commands' answers): no core dumps, no ptrace from same-uid processes.
    credential_broker::harden();
    let cli = Cli::parse();
    cli_kit::quiet_when_stdout_closes();
    // Dropped after the runtime: the last spans are sent before exit.
    let _telemetry = telemetry::init("credential-broker", cli.log_format, "info");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credential-broker: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "credential-broker: {}",
                redaction::text(&cli_kit::said_once(&e))
            );
            ExitCode::from(2)
        }
    }
}

/// Runs the command; the exit code is 0 on success, 1 when the command ran but found problems.
async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    let (database, socket) = match &cli.command {
        Command::Migrate(db)
        | Command::Seed { db, .. }
        | Command::Shops { db, .. }
        | Command::Integrations { db, .. }
        | Command::Health { db, .. }
        | Command::Audit { db, .. }
        | Command::Notifications { db, .. } => (db.database.clone(), None),
        Command::Serve { db, socket, .. } | Command::Refresh { db, socket, .. } => {
            (db.database.clone(), socket.clone())
        }
        Command::HostKey => (None, None),
        Command::Quota { socket, .. } => (None, socket.clone()),
        Command::Lease {
            action:
                LeaseCommand::Create { socket, .. }
                | LeaseCommand::Revoke { socket, .. }
                | LeaseCommand::List { socket, .. },
        }
        | Command::Key {
            action:
                KeyCommand::Create { socket, .. }
                | KeyCommand::List { socket, .. }
                | KeyCommand::Revoke { socket, .. },
        }
        | Command::Principal {
            action:
                PrincipalCommand::Add { socket, .. }
                | PrincipalCommand::Remove { socket, .. }
                | PrincipalCommand::List { socket, .. },
        } => (None, socket.clone()),
    };
    let mut config = config::load(cli.config.as_deref(), database, socket)?;
    if let Command::Serve {
        metrics: Some(addr),
        ..
    } = &cli.command
    {
        config.metrics = Some(*addr);
    }
    match cli.command {
        Command::Migrate(_) => {
            let store = daemon::open(&config, true).await?;
            store.migrate().await?;
            println!(
                "migrated: sources_shop, importers_integration and the broker's tables are in place"
            );
        }
        Command::Seed { file, .. } => {
            let store = daemon::open(&config, true).await?;
            let (shops, integrations) = seed::seed(&store, &config, &file).await?;
            println!("seeded {shops} shop(s), {integrations} integration(s)");
        }
        Command::Serve { .. } => daemon::serve(config).await?,
        Command::Shops { out, .. } => {
            let store = daemon::open(&config, false).await?;
            let shops = store.shops().await?;
            if out.json {
                let list: Vec<Value> = shops
                    .iter()
                    .map(|s| json!({"id": s.id, "name": s.name}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<38} name", "id");
                for s in &shops {
                    println!("{:<38} {}", s.id, s.name);
                }
                println!("{} shop(s)", shops.len());
            }
        }
        Command::Integrations { shop, out, .. } => {
            let store = daemon::open(&config, false).await?;
            views::integrations_view(&store, &config, shop.as_deref(), out.json).await?;
        }
        Command::Health {
            stale_days, out, ..
        } => {
            let store = daemon::open(&config, false).await?;
            return views::health(&store, &config, stale_days, out.json).await;
        }
        Command::Quota { shop, out, .. } => {
            let mut client = BrokerClient::connect(&config.socket).await?;
            let readings = client.quotas(&shop).await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&readings)?);
            } else if readings.is_empty() {
                println!(
                    "no current quota readings for {shop} (none reported since the last reset)"
                );
            } else {
                println!(
                    "{:<24} {:>6} {:<28} {:<17} seen",
                    "source", "left", "limit", "resets (UTC)"
                );
                for q in &readings {
                    println!(
                        "{:<24} {:>5}% {:<28} {:<17} {}",
                        q.provider.service_name(),
                        q.reading.left_pct,
                        q.reading.limit,
                        q.reading
                            .resets_at
                            .map(views::fmt_time)
                            .unwrap_or_else(|| "-".into()),
                        views::fmt_time(q.reading.observed_at)
                    );
                }
            }
        }
        Command::Refresh {
            shop,
            all,
            out,
            direct,
            ..
        } => {
            if shop.is_none() && !all {
                bail!("say which: --shop ID or --all");
            }
            let results = if direct {
                daemon::refresh_direct(&config, shop.as_deref()).await?
            } else {
                match BrokerClient::connect(&config.socket).await {
                    Ok(mut client) => {
                        let mut results = Vec::new();
                        let mut after = None;
                        loop {
                            let (page, next) = client.refresh(shop.as_deref(), after).await?;
                            results.extend(page);
                            match next {
                                Some(n) => after = Some(n),
                                None => break,
                            }
                        }
                        results
                    }
                    // Nothing listens there: no broker runs, so the database is the truth.
                    Err(broker_proto::client::ClientError::Connect { path, source })
                        if matches!(
                            source.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                        ) && config.database.is_some() =>
                    {
                        eprintln!(
                            "credential-broker: no broker answers at {} ({source}); refreshing in the database directly",
                            path.display()
                        );
                        daemon::refresh_direct(&config, shop.as_deref()).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            let failed = results.iter().filter(|r| r.error.is_some()).count();
            if out.json {
                let list: Vec<Value> = results
                    .iter()
                    .map(|r| match &r.error {
                        None => json!({"shop_id": r.shop_id, "provider": r.provider, "ok": true, "expires_at": r.expires_at, "kept": r.kept}),
                        Some(e) => json!({"shop_id": r.shop_id, "provider": r.provider, "ok": false, "error": e.code, "message": e.message}),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in &results {
                    let (shop, p) = (&r.shop_id, r.provider);
                    match (&r.error, r.expires_at) {
                        (None, Some(exp)) if r.kept => println!(
                            "! {shop} {p}: token kept, valid until {}; nothing here can extend it (no Meta app configured), so the shop must reconnect before then",
                            views::fmt_time(exp)
                        ),
                        (None, Some(exp)) => {
                            println!("✓ {shop} {p}: token valid until {}", views::fmt_time(exp))
                        }
                        (None, None) => println!("✓ {shop} {p}: token valid, does not expire"),
                        (Some(e), _) => println!("✗ {shop} {p}: {}", e.message.replace('\n', " ")),
                    }
                }
                let kept = results.iter().filter(|r| r.kept).count();
                println!(
                    "{} refreshed, {kept} kept, {failed} failed",
                    results.len() - failed - kept
                );
            }
            if failed > 0 {
                return Ok(std::process::ExitCode::from(1));
            }
        }
        Command::Lease { action } => admin::lease(&config, action).await?,
        Command::Key { action } => admin::key(&config, action).await?,
        Command::Principal { action } => admin::principal(&config, action).await?,
        Command::HostKey => {
            let bytes: [u8; 32] = rand::random();
            let key = format!(
                "bbh_{}",
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
            );
            println!(
                "host_keys = [\"sha256:{}\"]   # add to the broker's config",
                credential_broker::leases::hash_secret(&key)
            );
            println!("{key}");
        }
        Command::Notifications {
            shop, limit, out, ..
        } => {
            let store = daemon::open(&config, false).await?;
            let list = store.notifications(shop.as_deref(), limit).await?;
            if out.json {
                let list: Vec<Value> = list
                    .iter()
                    .map(|n| {
                        json!({"created_at": n.created_at, "shop_id": n.shop_id, "integration_id": n.integration_id,
                               "kind": n.kind, "service": n.service, "message": n.message})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for n in &list {
                    println!(
                        "{}  {:<38} {:<18} {:<22} {}",
                        views::fmt_time(n.created_at),
                        n.shop_id,
                        n.kind,
                        n.service,
                        n.message.replace('\n', " ")
                    );
                }
                println!("{} notification(s)", list.len());
            }
        }
        Command::Audit {
            shop, limit, out, ..
        } => {
            let store = daemon::open(&config, false).await?;
            let events = store.audit(shop.as_deref(), limit).await?;
            if out.json {
                let list: Vec<Value> = events
                    .iter()
                    .map(|e| json!({"at_ms": e.at_ms, "peer_uid": e.peer_uid, "peer_pid": e.peer_pid, "action": e.action, "shop_id": e.shop_id, "provider": e.provider, "lease_id": e.lease_id, "outcome": e.outcome, "detail": e.detail, "trace_id": e.trace_id}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<20} {:>6} {:<13} {:<38} {:<16} {:<23} outcome",
                    "when (UTC)", "uid", "action", "shop", "provider", "lease"
                );
                for e in &events {
                    println!(
                        "{:<20} {:>6} {:<13} {:<38} {:<16} {:<23} {}",
                        views::fmt_time(e.at_ms / 1000),
                        e.peer_uid
                            .map(|u| u.to_string())
                            .unwrap_or_else(|| "-".into()),
                        e.action,
                        e.shop_id.as_deref().unwrap_or("-"),
                        e.provider.as_deref().unwrap_or("-"),
                        e.lease_id.as_deref().unwrap_or("-"),
                        e.outcome
                    );
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
