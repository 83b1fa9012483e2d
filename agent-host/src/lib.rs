//! `agent-host`: runs MCP server sets for shops — chat sessions, the anomaly pipeline, the
//! gateway through which remote MCP hosts reach one shop's tools — and the offline demo. It
//! never holds a shop's OAuth token: it asks the credential broker for a lease and hands the
//! lease to the servers it spawns.
//!
//! # Layout
//! - [`server_set`]: one shop's lease and server processes, the union of their tools;
//!   [`pool`]: sets for many shops, evicted when idle, capped (the gateway's).
//! - [`chat`]: `chat-ga4 | chat-gsc | chat-google-ads | chat-meta-ads`.
//! - [`llm`]: the OpenAI-compatible model loop with the shop's tools.
//! - [`pipeline`]: anomalies claimed, read by source teams, concluded, notified, reported;
//!   [`anomalies`]: the operator's commands over its tables.
//! - [`gateway`]: remote MCP access to one shop's tools per shop key or OAuth subject.
//! - [`demo`]: the embedded default end to end.
//! - [`metrics`]: what `gateway --metrics` and `pipeline --metrics` serve.
//! - [`children`], [`config`]: binaries, child processes, settings.

#![deny(missing_docs)]

pub mod anomalies;
pub mod chat;
pub mod children;
pub mod config;
pub mod demo;
pub mod gateway;
pub mod llm;
pub mod metrics;
pub mod pipeline;
pub mod pool;
pub mod server_set;

use std::path::PathBuf;
use std::process::ExitCode;

use broker_proto::Provider;

/// `agent-host` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "agent-host",
    version,
    about = "Run berryboo MCP server sets per shop: chat sessions and the offline demo."
)]
pub struct Cli {
    /// Settings file (TOML: default_shop_id, [llm] base_url/model/api_key).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "BERRYBOO_AGENT_CONFIG"
    )]
    pub config: Option<PathBuf>,
    /// Read a host key from this inherited descriptor (e.g. systemd's
    /// `StandardInput=file:/etc/berryboo/host.key` and `--host-key-fd 0`): lets a host whose uid
    /// the broker only allows (not admins) create leases, while its servers cannot.
    #[arg(long, global = true, value_name = "N", env = "BERRYBOO_HOST_KEY_FD")]
    pub host_key_fd: Option<i32>,
    /// `--log-format json` for log shippers (the servers it starts log the same way); a line
    /// logged while a chat turn, gateway request or anomaly is traced carries its `trace_id`.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = cli_kit::LogFormat::Text,
        env = "BERRYBOO_LOG_FORMAT"
    )]
    pub log_format: cli_kit::LogFormat,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Offline demo: sandbox, SQLite database with demo shops and anomalies, credential
    /// broker, and the pipeline end to end (summary, notifications, health, report). Needs no
    /// network and no set-up.
    Demo(demo::DemoArgs),
    /// Serve shops' tools over MCP streamable HTTP to remote hosts and agents: each caller's
    /// shop key (`credential-broker key create`) decides the one shop it reaches.
    Gateway(gateway::GatewayArgs),
    /// Chat with one shop's Google Analytics 4 data.
    #[command(name = "chat-ga4")]
    ChatGa4(chat::ChatArgs),
    /// Chat with one shop's Search Console data.
    #[command(name = "chat-gsc")]
    ChatGsc(chat::ChatArgs),
    /// Chat with one shop's Google Ads data.
    #[command(name = "chat-google-ads")]
    ChatGoogleAds(chat::ChatArgs),
    /// Chat with one shop's Meta Ads data.
    #[command(name = "chat-meta-ads")]
    ChatMetaAds(chat::ChatArgs),
    /// Explain open anomalies: claim them, analyse each through its shop's servers, write
    /// recommendations and notifications, print a summary (and a report).
    Pipeline(pipeline::PipelineArgs),
    /// Add, list or retry anomalies.
    #[command(subcommand)]
    Anomaly(anomalies::AnomalyCommand),
    /// Integration health from the credential broker: stale tokens, missing scopes,
    /// reconnections, expiring Meta tokens, shops lacking each source. Exit 1 when something
    /// needs attention.
    Health {
        /// Credential broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        broker_socket: Option<PathBuf>,
        /// Flag tokens not refreshed for this many days.
        #[arg(long, default_value_t = 30)]
        stale_days: u32,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The messages the pipeline recorded for clients, newest first: connect (a source is
    /// missing), reconnect (a grant was refused or lacks a permission) and expiring (a Meta
    /// token expires soon: the broker's `reconnect_required` and `token_expiring` findings
    /// become these), with whether the webhook took them.
    Notifications {
        /// The database.
        #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
        database: String,
        /// Only this shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

/// No core dumps, and not readable or traceable by other processes of the same uid (the
/// servers this host spawns).
pub fn harden() {
    if let Err(e) = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0) {
        eprintln!("agent-host: cannot disable core dumps: {e}");
    }
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        eprintln!("agent-host: cannot mark the process undumpable: {e}");
    }
}

/// Runs the chosen subcommand.
/// `host_key` was read from `--host-key-fd` by [`config::read_host_key`] before the runtime
/// started.
pub async fn run(cli: Cli, host_key: Option<broker_proto::HostKey>) -> anyhow::Result<ExitCode> {
    let mut file = config::load(cli.config.as_deref())?;
    file.host_key = host_key;
    match cli.command {
        Command::Demo(args) => demo::run(args, &file).await,
        Command::Gateway(args) => gateway::run(args, &file).await,
        Command::ChatGa4(args) => chat::run(Provider::Ga4, args, &file).await,
        Command::ChatGsc(args) => chat::run(Provider::Gsc, args, &file).await,
        Command::ChatGoogleAds(args) => chat::run(Provider::GoogleAds, args, &file).await,
        Command::ChatMetaAds(args) => chat::run(Provider::MetaAds, args, &file).await,
        Command::Pipeline(args) => pipeline::run(args, &file).await,
        Command::Anomaly(command) => anomalies::run(command).await,
        Command::Health {
            broker_socket,
            stale_days,
            json,
        } => health(broker_socket, stale_days, json, file.host_key.as_ref()).await,
        Command::Notifications {
            database,
            shop,
            limit,
        } => anomalies::notifications(&database, shop.as_deref(), limit).await,
    }
}

/// `agent-host health`: the broker's report (the agent host never reads integrations itself).
async fn health(
    socket: Option<PathBuf>,
    stale_days: u32,
    json: bool,
    host_key: Option<&broker_proto::HostKey>,
) -> anyhow::Result<ExitCode> {
    let socket = socket.unwrap_or_else(broker_proto::default_socket_path);
    let mut broker = broker_proto::client::BrokerClient::connect(&socket).await?;
    if let Some(key) = host_key {
        broker.prove_host(key).await?;
    }
    let report = broker.health(stale_days).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", broker_views::health_text(&report, stale_days));
    }
    Ok(if report.problems() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
