//! Plumbing shared by the four berryboo MCP servers (`ga4-mcp`, `gsc-mcp`, `google-ads-mcp`,
//! `meta-ads-mcp`). A server is one struct with a `#[tool_router]` impl; everything else —
//! flags, credentials, the upstream HTTP client, error texts, transports — lives here, so the
//! servers differ only in their tools.
//!
//! # Layout
//! - [`cli`]: shared flags ([`cli::CommonArgs`]) and their checked form ([`cli::CommonConfig`]).
//! - [`credentials`]: access tokens from a static file or the broker, cached, single-flight.
//! - [`http`]: the lazily built HTTP client and `--api-base` rewriting (a leaf both of the
//!   next two use).
//! - [`upstream`]: API calls with retries/backoff, 401 refresh-and-retry, typed errors.
//! - [`scope`]: under a broker lease, the shop's account is the only one a server reads.
//! - [`error`]: typed upstream errors and the actionable text tools show for them.
//! - [`handler`]: the one `ServerHandler` ([`handler::Served`]) over a [`handler::ToolServer`].
//! - [`output`]: structured + text tool results, text tables.
//! - [`schema`]: the tool schemas as published, in the subset every framework reads.
//! - [`transport`]: stdio, streamable HTTP, legacy HTTP+SSE, the HTTP guard.
//! - [`logging`], [`secret_file`], [`params`].

#![deny(missing_docs)]

pub mod cli;
pub mod credentials;
pub mod error;
pub mod handler;
pub mod http;
pub mod logging;
pub mod output;
pub mod params;
pub mod quota;
pub mod schema;
pub mod scope;
pub mod secret_file;
pub mod testing;
pub mod transport;
pub mod upstream;

pub use broker_proto::{Account, Provider};
pub use handler::{LazyRouter, Served, ToolServer};

/// What a server needs to reach its upstream API: the HTTP client with credentials, and the
/// token provider (for the broker's account ids).
pub struct Connection {
    /// Upstream client.
    pub upstream: upstream::Upstream,
    /// Token provider behind it.
    pub tokens: std::sync::Arc<credentials::TokenProvider>,
    /// Who the data belongs to, for log spans: the shop id, or `static`.
    pub tenant: String,
}

/// No credential source was configured.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Neither `--shop-id` nor `--credentials-path`.
    #[error(
        "no credentials: pass --shop-id ID with a lease from the credential broker (env BERRYBOO_LEASE or --lease-fd N), \
         or --credentials-path FILE ({0})"
    )]
    NoCredentials(&'static str),
    /// The credentials could not be loaded.
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialError),
}

/// Why a server could not run: what every server's `run` returns, and what [`run_main`] turns
/// into exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Credentials missing or unusable.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// Flags that parsed but cannot work together (e.g. an API version that needs a credential
    /// that is not set).
    #[error("{0}")]
    BadFlag(String),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] transport::ServeError),
}

/// Builds the upstream connection for `provider` from the checked configuration.
/// `static_hint` says what a static credentials file must be for this server.
pub fn connect(
    config: &cli::CommonConfig,
    provider: broker_proto::Provider,
    static_hint: &'static str,
    user_agent: &str,
) -> Result<Connection, SetupError> {
    let source = credentials::source_for(
        &config.credentials,
        provider,
        config.upstream.api_base.as_ref(),
    )?
    .ok_or(SetupError::NoCredentials(static_hint))?;
    let http = upstream::HttpClient::new(&config.upstream, user_agent);
    let tokens = std::sync::Arc::new(
        credentials::TokenProvider::new(source, http.clone())
            .with_quota_reserve(config.upstream.quota_reserve),
    );
    let tenant = tokens.shop_id().unwrap_or("static").to_owned();
    let upstream = upstream::Upstream::new(http, tokens.clone(), &config.upstream);
    Ok(Connection {
        upstream,
        tokens,
        tenant,
    })
}

/// The whole `main` of a server binary: parse argv into `C` (its [`cli::CommonArgs`] found
/// through `common`), set up logging on stderr, run `run` on the runtime the transport wants,
/// and map the outcome to an exit code (2 on error, the message redacted like every log line).
pub fn run_main<C, F>(
    name: &'static str,
    common: impl FnOnce(&mut C) -> &mut cli::CommonArgs,
    run: impl FnOnce(C, cli::CommonConfig) -> F,
) -> std::process::ExitCode
where
    C: clap::Parser,
    F: std::future::Future<Output = Result<(), RunError>>,
{
    // First, before any flag is read (a lease arrives while the flags are parsed): from here on
    // no other process of this uid can trace this one or open its descriptors.
    if let Err(e) = harden() {
        eprintln!("{name}: {e}");
    }
    let (parsed, config) = match cli::parse::<C>(common) {
        Ok(x) => x,
        Err(e) => e.exit(),
    };
    // Dropped last, after the runtime: the spans of the last calls are sent before exit.
    let _telemetry = logging::init(name, config.log_format);
    let runtime = match runtime(&config.transport) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(run(parsed, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {}", redaction::text(&e.to_string()));
            std::process::ExitCode::from(2)
        }
    }
}

/// A server keeps its lease, tokens and credentials from its neighbours: no core dumps, and not
/// readable or traceable by other processes of the same uid (other shops' servers). `run_main`
/// does this before anything else.
pub fn harden() -> Result<(), String> {
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
        .map_err(|e| format!("cannot disable core dumps: {e}"))?;
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| format!("cannot mark the process undumpable: {e}"))
}

/// The async runtime for `transport`. A stdio server has exactly one client and spends its time
/// waiting on upstream I/O, so one thread serves it (smaller and faster to start); HTTP serves
/// many clients at once and gets a worker per core.
pub fn runtime(transport: &cli::TransportConfig) -> std::io::Result<tokio::runtime::Runtime> {
    match transport {
        cli::TransportConfig::Stdio => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        cli::TransportConfig::Http(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub use cli_kit::shutdown_signal;
