//! The `credential-broker` command line: the daemon (`serve`), schema set-up (`migrate`,
//! `seed`), lease handling for standalone users (`lease create|revoke`), and the operator's
//! views (`shops`, `integrations`, `health`, `refresh`, `audit`). Every view has `--json`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use broker_proto::client::BrokerClient;
use broker_proto::{LeaseSecret, Provider};
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::broker::Broker;
use crate::config::{self, BrokerConfig};
use crate::leases::LeaseBook;
use crate::store::Store;
use crate::tokens::TokenService;
use crate::{audit, integration, server};

/// `credential-broker` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "credential-broker",
    version,
    about = "Owns every shop's OAuth tokens and vends short-lived access tokens over a Unix socket."
)]
pub struct Cli {
    /// Config file (TOML); app secrets go here or in the environment, never in flags.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "BERRYBOO_BROKER_CONFIG"
    )]
    pub config: Option<PathBuf>,
    /// `--log-format json` for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

pub use cli_kit::LogFormat;

/// Database selection shared by the commands that open it.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// `sqlite://PATH` or `postgres://…`.
    #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
    pub database: Option<String>,
}

/// Output selection.
#[derive(Debug, Clone, clap::Args)]
pub struct OutArgs {
    /// Print JSON for scripts instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Subcommands.
// Their variants' fields are clap's flattened groups (database, output) and nested
// subcommands: the flags inside carry the help, a doc comment here would only repeat it.
#[allow(missing_docs)]
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create the tables (the dashboard's, if absent, and the broker's own).
    Migrate(DbArgs),
    /// Load shops and integrations from a TOML file (demo data, bootstrapping the embedded default).
    Seed {
        #[command(flatten)]
        db: DbArgs,
        /// The seed file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Run the broker on its socket.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Socket path (its directory is created 0700).
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
    },
    /// List shops.
    Shops {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        out: OutArgs,
    },
    /// List integrations (never their tokens).
    Integrations {
        #[command(flatten)]
        db: DbArgs,
        /// Only this shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Integration health: stale tokens, missing scopes, reconnections, coverage, counts.
    Health {
        #[command(flatten)]
        db: DbArgs,
        /// Flag tokens not refreshed for this many days.
        #[arg(long, default_value_t = 30)]
        stale_days: i64,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Refresh tokens now, through the running broker (admin) so its cache follows and this
    /// shell needs no OAuth client secrets. With no broker answering at the socket, or with
    /// `--direct`, refreshes in the database itself (needs the client secrets); a running broker
    /// then adopts the new tokens within `integration_recheck`.
    Refresh {
        #[command(flatten)]
        db: DbArgs,
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// Refresh in the database, not through a broker.
        #[arg(long)]
        direct: bool,
        /// Only this shop.
        #[arg(long, value_name = "ID", conflicts_with = "all")]
        shop: Option<String>,
        /// Every shop.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Create or revoke leases (through a running broker).
    Lease {
        #[command(subcommand)]
        action: LeaseCommand,
    },
    /// Shop keys for the gateway (`bbk_…`): create, list, revoke (admins, through a running
    /// broker).
    Key {
        #[command(subcommand)]
        action: KeyCommand,
    },
    /// Which OAuth subjects may reach which shops through the gateway (admins, through a
    /// running broker).
    Principal {
        #[command(subcommand)]
        action: PrincipalCommand,
    },
    /// Make a host key: lets an agent host whose uid is only in allowed_uids create leases.
    /// Prints the line for the broker's config (`host_keys = ["sha256:…"]`), then the key alone
    /// on the last line; give the key to the agent host on a descriptor only it can read
    /// (`--host-key-fd`, see examples/systemd).
    HostKey,
    /// Who got which shop's token when (never the token).
    Audit {
        #[command(flatten)]
        db: DbArgs,
        /// Only this shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        /// Most recent events to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        out: OutArgs,
    },
    /// The broker's findings about shops' credentials (`reconnect_required`: the token
    /// endpoint refused a grant; `token_expiring`: a Meta token expires within 10 days),
    /// newest first. `agent-host pipeline` turns each into the client's email/webhook message
    /// ("Reconnect …"), which `agent-host notifications` lists.
    Notifications {
        #[command(flatten)]
        db: DbArgs,
        /// Only this shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        /// Most recent notifications to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        out: OutArgs,
    },
}

/// `lease` subcommands.
// Their variants' fields are clap's flattened groups (database, output) and nested
// subcommands: the flags inside carry the help, a doc comment here would only repeat it.
#[allow(missing_docs)]
#[derive(Debug, clap::Subcommand)]
pub enum LeaseCommand {
    /// Create a lease; prints the lease secret alone on the last line of stdout.
    Create {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// The shop.
        #[arg(long, value_name = "ID")]
        shop: String,
        /// Comma-separated: ga4,gsc,google_ads,meta_ads.
        #[arg(long, value_name = "LIST", value_delimiter = ',', required = true)]
        providers: Vec<Provider>,
        /// Lifetime, e.g. 8h, 30m, 7d.
        #[arg(long, default_value = "8h", value_parser = cli_kit::parse_duration)]
        ttl: std::time::Duration,
    },
    /// Revoke a lease: by its secret, read from stdin (`-`) or a file (`--secret-file`) —
    /// never from the command line, where `ps` would show it — or (admins) by its id `lease_…`.
    Revoke {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// Read the secret from this file (first line; must be chmod 600).
        #[arg(long, value_name = "FILE", conflicts_with = "lease")]
        secret_file: Option<PathBuf>,
        /// `-` to read the secret from stdin, or a lease id (`lease_…`, admins).
        #[arg(value_name = "-|LEASE_ID", required_unless_present = "secret_file")]
        lease: Option<String>,
    },
    /// List live leases (admins): id, shop, providers, holder uid/pid, created, expires, last
    /// use. Never a secret.
    List {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// Only this shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
}

/// `key` subcommands.
// Their variants' fields are clap's flattened groups (database, output) and nested
// subcommands: the flags inside carry the help, a doc comment here would only repeat it.
#[allow(missing_docs)]
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Create a shop key; prints what it reaches, then the key alone on the last line of
    /// stdout (the only time it is shown).
    Create {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// The shop.
        #[arg(long, value_name = "ID")]
        shop: String,
        /// Comma-separated: ga4,gsc,google_ads,meta_ads (default: all four).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        providers: Vec<Provider>,
        /// Lifetime, e.g. 90d, 12h (at most 400d).
        #[arg(long, default_value = "90d", value_parser = cli_kit::parse_duration)]
        ttl: std::time::Duration,
        /// What to call it (who has it, what for).
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
    /// List live shop keys: id, shop, sources, label, created, expires. Never a key.
    List {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// Only this shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Revoke a shop key by its id (`key_…`): refused on the gateways' next request.
    Revoke {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// The key's id.
        #[arg(value_name = "KEY_ID")]
        key_id: String,
    },
}

/// `principal` subcommands.
// Their variants' fields are clap's flattened groups (database, output) and nested
// subcommands: the flags inside carry the help, a doc comment here would only repeat it.
#[allow(missing_docs)]
#[derive(Debug, clap::Subcommand)]
pub enum PrincipalCommand {
    /// Let the subject of tokens from this issuer reach this shop.
    Add {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// The authorization server's issuer URL (the tokens' `iss`).
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The tokens' `sub`.
        #[arg(long, value_name = "SUB")]
        subject: String,
        /// The shop.
        #[arg(long, value_name = "ID")]
        shop: String,
    },
    /// Stop the subject from reaching the shop.
    Remove {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// The issuer URL.
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The subject.
        #[arg(long, value_name = "SUB")]
        subject: String,
        /// The shop.
        #[arg(long, value_name = "ID")]
        shop: String,
    },
    /// Every subject and the shops it may reach.
    List {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        #[command(flatten)]
        out: OutArgs,
    },
}

async fn open(config: &BrokerConfig, create: bool) -> Result<Store> {
    let url = config.database.as_deref().context("no database: pass --database URL or set BERRYBOO_DATABASE_URL (sqlite://PATH or postgres://…)")?;
    Ok(Store::open(url, create).await?)
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!(
            "berryboo-credential-broker/",
            env!("CARGO_PKG_VERSION")
        ))
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")
}

/// Runs the command; the exit code is 0 on success, 1 when the command ran but found problems.
pub async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    cli_kit::init_logging(cli.log_format, "info");
    let (database, socket) = match &cli.command {
        Command::Migrate(db)
        | Command::Seed { db, .. }
        | Command::Shops { db, .. }
        | Command::Integrations { db, .. }
        | Command::Health { db, .. }
        | Command::Audit { db, .. }
        | Command::Notifications { db, .. } => (db.database.clone(), None),
        Command::Serve { db, socket } | Command::Refresh { db, socket, .. } => {
            (db.database.clone(), socket.clone())
        }
        Command::HostKey => (None, None),
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
    let config = config::load(cli.config.as_deref(), database, socket)?;
    match cli.command {
        Command::Migrate(_) => {
            let store = open(&config, true).await?;
            store.migrate().await?;
            println!(
                "migrated: sources_shop, importers_integration and the broker's tables are in place"
            );
        }
        Command::Seed { file, .. } => {
            let store = open(&config, true).await?;
            let (shops, integrations) = seed(&store, &config, &file).await?;
            println!("seeded {shops} shop(s), {integrations} integration(s)");
        }
        Command::Serve { .. } => return serve(config).await,
        Command::Shops { out, .. } => {
            let store = open(&config, false).await?;
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
            let store = open(&config, false).await?;
            integrations_view(&store, &config, shop.as_deref(), out.json).await?;
        }
        Command::Health {
            stale_days, out, ..
        } => {
            let store = open(&config, false).await?;
            return health(&store, &config, stale_days, out.json).await;
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
                refresh_direct(&config, shop.as_deref()).await?
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
                        refresh_direct(&config, shop.as_deref()).await?
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
                            fmt_time(exp)
                        ),
                        (None, Some(exp)) => {
                            println!("✓ {shop} {p}: token valid until {}", fmt_time(exp))
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
        Command::Lease { action } => lease(&config, action).await?,
        Command::Key { action } => key(&config, action).await?,
        Command::Principal { action } => principal(&config, action).await?,
        Command::HostKey => {
            let bytes: [u8; 32] = rand::random();
            let key = format!(
                "bbh_{}",
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
            );
            println!(
                "host_keys = [\"sha256:{}\"]   # add to the broker's config",
                crate::leases::hash_secret(&key)
            );
            println!("{key}");
        }
        Command::Notifications {
            shop, limit, out, ..
        } => {
            let store = open(&config, false).await?;
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
                        fmt_time(n.created_at),
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
            let store = open(&config, false).await?;
            let events = store.audit(shop.as_deref(), limit).await?;
            if out.json {
                let list: Vec<Value> = events
                    .iter()
                    .map(|e| json!({"at_ms": e.at_ms, "peer_uid": e.peer_uid, "peer_pid": e.peer_pid, "action": e.action, "shop_id": e.shop_id, "provider": e.provider, "lease_id": e.lease_id, "outcome": e.outcome, "detail": e.detail}))
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
                        fmt_time(e.at_ms / 1000),
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

fn fmt_time(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

async fn serve(config: BrokerConfig) -> Result<std::process::ExitCode> {
    let store = open(&config, false).await?;
    store.check_dashboard_tables().await?;
    store.ensure_broker_tables().await?;
    if config.google.is_none() {
        tracing::warn!(
            "no Google OAuth client configured: Google tokens are served while valid but cannot be refreshed (set BERRYBOO_GOOGLE_CLIENT_ID/SECRET)"
        );
    }
    let listener = server::bind(&config.socket, &config.allowed_uids)?;
    let config = Arc::new(config);
    let (sink, writer) = audit::start(store.clone());
    let tokens = TokenService::new(store.clone(), config.clone(), http_client()?, sink.clone());
    let broker = Arc::new(Broker {
        config: config.clone(),
        store: store.clone(),
        leases: LeaseBook::new(store.clone()),
        keys: crate::keys::KeyBook::new(store.clone()),
        tokens,
        audit: sink,
    });
    tracing::info!(socket = %config.socket.display(), allowed_uids = ?config.allowed_uids, admin_uids = ?config.admin_uids, "credential broker serving");
    let sweeper = {
        let broker = broker.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            let mut minutes = 0u64;
            loop {
                tick.tick().await;
                broker.leases.evict_expired(Utc::now().timestamp());
                // At start and hourly: an idle shop's Meta token must not lapse unnoticed.
                if minutes.is_multiple_of(60)
                    && let Err(e) = broker.tokens.sweep_meta_expiry().await
                {
                    tracing::error!("cannot look at expiring Meta tokens: {}", e.message);
                }
                minutes += 1;
            }
        })
    };
    server::serve(broker.clone(), listener, cli_kit::shutdown_signal()).await;
    sweeper.abort();
    let _ = std::fs::remove_file(&config.socket);
    drop(broker);
    // Connections still open hold sinks: end the writer explicitly, after it flushed.
    writer.finish(std::time::Duration::from_secs(10)).await;
    tracing::info!("credential broker stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// `refresh --direct`: refreshes in the database with this process's own OAuth clients.
async fn refresh_direct(
    config: &BrokerConfig,
    shop: Option<&str>,
) -> Result<Vec<broker_proto::RefreshResult>> {
    let store = open(config, false).await?;
    store.ensure_broker_tables().await?;
    let (sink, writer) = audit::start(store.clone());
    let tokens = TokenService::new(
        store.clone(),
        Arc::new(config.clone()),
        http_client()?,
        sink,
    );
    let results = tokens
        .refresh_now(shop)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    drop(tokens);
    writer.finish(std::time::Duration::from_secs(60)).await;
    Ok(results)
}

async fn principal(config: &BrokerConfig, action: PrincipalCommand) -> Result<()> {
    let mut client = BrokerClient::connect(&config.socket).await?;
    match action {
        PrincipalCommand::Add {
            issuer,
            subject,
            shop,
            ..
        } => {
            let changed = client.set_principal(&issuer, &subject, &shop, true).await?;
            println!(
                "{subject} of {issuer} {} shop {shop}",
                if changed {
                    "may now reach"
                } else {
                    "could already reach"
                }
            );
        }
        PrincipalCommand::Remove {
            issuer,
            subject,
            shop,
            ..
        } => {
            let changed = client
                .set_principal(&issuer, &subject, &shop, false)
                .await?;
            println!(
                "{subject} of {issuer} {} shop {shop}",
                if changed {
                    "may no longer reach"
                } else {
                    "could not reach"
                }
            );
        }
        PrincipalCommand::List { out, .. } => {
            let all = client.list_principals().await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for p in &all {
                    println!(
                        "{}  {}  {}  {}",
                        p.issuer,
                        p.subject,
                        p.shop_id,
                        fmt_time(p.created_at)
                    );
                }
                println!("{} principal(s)", all.len());
            }
        }
    }
    Ok(())
}

async fn key(config: &BrokerConfig, action: KeyCommand) -> Result<()> {
    let mut client = BrokerClient::connect(&config.socket).await?;
    match action {
        KeyCommand::Create {
            shop,
            providers,
            ttl,
            label,
            ..
        } => {
            let (info, key) = client
                .create_key(&shop, &providers, ttl.as_secs(), label.as_deref())
                .await?;
            println!(
                "key {} for shop {} ({}) until {} UTC",
                info.key_id,
                info.shop_id,
                info.providers
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                fmt_time(info.expires_at)
            );
            println!("{}", key.expose());
        }
        KeyCommand::List { shop, out, .. } => {
            let keys = client.list_keys(shop.as_deref()).await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<20} {:<36} {:<28} {:<19} {:<19} label",
                    "key", "shop", "sources", "created", "expires"
                );
                for k in &keys {
                    println!(
                        "{:<20} {:<36} {:<28} {:<19} {:<19} {}",
                        k.key_id,
                        k.shop_id,
                        k.providers
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        fmt_time(k.created_at),
                        fmt_time(k.expires_at),
                        k.label.as_deref().unwrap_or("")
                    );
                }
                println!("{} live key(s)", keys.len());
            }
        }
        KeyCommand::Revoke { key_id, .. } => {
            client.revoke_key(&key_id).await?;
            println!("revoked {key_id}");
        }
    }
    Ok(())
}

async fn lease(config: &BrokerConfig, action: LeaseCommand) -> Result<()> {
    let mut client = BrokerClient::connect(&config.socket).await?;
    match action {
        LeaseCommand::Create {
            shop,
            providers,
            ttl,
            ..
        } => {
            let grant = client
                .create_lease(&shop, &providers, ttl.as_secs())
                .await?;
            println!(
                "lease {} for shop {} until {} UTC",
                grant.lease_id,
                grant.shop_id,
                fmt_time(grant.expires_at)
            );
            println!(
                "granted: {}",
                grant
                    .granted
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            for m in &grant.missing {
                println!(
                    "missing: {} ({})",
                    m.provider,
                    m.error.message.replace('\n', " ")
                );
            }
            println!("{}", grant.lease.expose());
        }
        LeaseCommand::Revoke {
            lease, secret_file, ..
        } => {
            let secret = match (lease.as_deref(), secret_file) {
                (Some(id), None) if id.starts_with("lease_") => {
                    let id = client.revoke_lease_id(id).await?;
                    println!("revoked {id}");
                    return Ok(());
                }
                (Some("-"), None) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s.trim().to_owned()
                }
                (None, Some(path)) => {
                    use secrecy::ExposeSecret;
                    secret_file_line(&path)?.expose_secret().to_owned()
                }
                _ => bail!(
                    "refusing a lease secret on the command line (every local user can read it in `ps`): \
                     pipe it to `credential-broker lease revoke -`, pass --secret-file FILE, or (admins) \
                     revoke by id: `credential-broker lease revoke lease_…`"
                ),
            };
            if secret.is_empty() {
                bail!("no lease secret given (stdin or the file was empty)");
            }
            let id = client.revoke_lease(&LeaseSecret::new(secret)).await?;
            println!("revoked {id}");
        }
        LeaseCommand::List { shop, out, .. } => {
            let leases = client.list_leases(shop.as_deref()).await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&leases)?);
            } else {
                println!(
                    "{:<22} {:<36} {:<28} {:<14} {:<19} {:<19} last use",
                    "lease", "shop", "providers", "holder", "created", "expires"
                );
                for l in &leases {
                    let providers = l
                        .providers
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(",");
                    let holder = match l.holder_pid {
                        Some(pid) => format!("{}/{pid}", l.holder_uid),
                        None => l.holder_uid.to_string(),
                    };
                    println!(
                        "{:<22} {:<36} {:<28} {:<14} {:<19} {:<19} {}",
                        l.lease_id,
                        l.shop_id,
                        providers,
                        holder,
                        fmt_time(l.created_at),
                        fmt_time(l.expires_at),
                        l.last_used_at.map(fmt_time).unwrap_or_else(|| "-".into())
                    );
                }
                println!("{} live lease(s)", leases.len());
            }
        }
    }
    Ok(())
}

/// The first line of a secret file, refusing one that group or others can read.
fn secret_file_line(path: &std::path::Path) -> Result<secrecy::SecretString> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by group or others (mode {mode:04o}); it holds a secret, so run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(secrecy::SecretString::from(
        text.lines().next().unwrap_or("").trim().to_owned(),
    ))
}

async fn integrations_view(
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

async fn health(
    store: &Store,
    config: &BrokerConfig,
    stale_days: i64,
    as_json: bool,
) -> Result<std::process::ExitCode> {
    let stale_days = u32::try_from(stale_days.max(0)).unwrap_or(u32::MAX);
    let report = crate::health::report(store, config, stale_days).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text(stale_days));
    }
    Ok(if report.problems() > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    shops: Vec<SeedShop>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedShop {
    id: String,
    name: String,
    #[serde(default)]
    integrations: Vec<SeedIntegration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedIntegration {
    provider: Provider,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    deleted: bool,
    data: toml::Table,
}

fn yes() -> bool {
    true
}

/// Loads a seed file into the store (shops upserted, integrations added).
pub async fn seed(
    store: &Store,
    config: &BrokerConfig,
    file: &std::path::Path,
) -> Result<(usize, usize)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed: SeedFile =
        toml::from_str(&text).with_context(|| format!("seed file {}", file.display()))?;
    let mut integrations = 0;
    for shop in &parsed.shops {
        store.upsert_shop(&shop.id, &shop.name).await?;
        for i in &shop.integrations {
            let data = serde_json::to_value(&i.data)?;
            store
                .insert_integration(
                    &shop.id,
                    config.type_code(i.provider),
                    &data,
                    i.active,
                    i.deleted,
                )
                .await?;
            integrations += 1;
        }
    }
    Ok((parsed.shops.len(), integrations))
}
