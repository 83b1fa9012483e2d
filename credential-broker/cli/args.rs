//! What the command line accepts: the commands and their flags (clap), no I/O.

use std::path::PathBuf;

use broker_proto::Provider;

pub use cli_kit::LogFormat;

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
        /// Serve Prometheus metrics at http://ADDR/metrics; `--metrics` alone listens on
        /// 127.0.0.1:9464. They name providers and outcomes, never a shop or a secret.
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = metrics_endpoint::BROKER_ADDR)]
        metrics: Option<std::net::SocketAddr>,
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
    /// What a running broker's ledger says of a shop's API quotas: per source, the scarcest
    /// limit's share left and when it resets, as the shop's servers last saw it.
    Quota {
        /// Broker socket.
        #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
        socket: Option<PathBuf>,
        /// The shop.
        #[arg(long, value_name = "ID")]
        shop: String,
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
