//! `google-ads-mcp`: read-only MCP tools over the Google Ads API.
//!
//! # Layout
//! - [`server`]: `AdsServer`, the tools (Google's Ads MCP names: `list_accessible_customers`,
//!   `search`, `get_resource_metadata`).
//! - [`params`]: tool inputs; [`report`]: structured outputs.
//! - [`query`]: GAQL assembly, customer ids, the paging cursor, row flattening.
//! - [`api`]: typed Google Ads REST client.

#![deny(missing_docs)]

pub mod api;
pub mod params;
pub mod query;
pub mod report;
pub mod server;

use mcp_common::cli::{CommonArgs, CommonConfig};

pub use server::AdsServer;

/// `google-ads-mcp` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "google-ads-mcp",
    version,
    about = "Read-only Google Ads tools over MCP (stdio or HTTP)."
)]
pub struct Cli {
    /// Flags every berryboo server shares.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Customer used when a tool call gives none (ten digits).
    #[arg(long, value_name = "ID", env = "BERRYBOO_GOOGLE_ADS_CUSTOMER_ID")]
    pub customer_id: Option<String>,

    /// Manager (MCC) account to act through when a call gives none.
    #[arg(long, value_name = "ID", env = "BERRYBOO_GOOGLE_ADS_LOGIN_CUSTOMER_ID")]
    pub login_customer_id: Option<String>,

    /// Google Ads API version.
    #[arg(
        long,
        value_name = "VERSION",
        env = "BERRYBOO_GOOGLE_ADS_API_VERSION",
        default_value = "v26"
    )]
    pub api_version: String,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Credentials missing or unusable.
    #[error(transparent)]
    Setup(#[from] mcp_common::SetupError),
    /// A flag value is wrong.
    #[error("{0}")]
    BadFlag(String),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] mcp_common::transport::ServeError),
}

/// Builds the server from checked flags and serves until the client leaves or a signal.
pub async fn run(cli: Cli, config: CommonConfig) -> Result<(), RunError> {
    let version = cli.api_version.trim().to_owned();
    if !(version.starts_with('v')
        && version.len() > 1
        && version[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(RunError::BadFlag(format!(
            "--api-version {version:?} must look like v26"
        )));
    }
    let customer = cli
        .customer_id
        .map(|c| query::customer_id(&c, "--customer-id"))
        .transpose()
        .map_err(|e| RunError::BadFlag(e.0))?;
    let login = cli
        .login_customer_id
        .map(|c| query::customer_id(&c, "--login-customer-id"))
        .transpose()
        .map_err(|e| RunError::BadFlag(e.0))?;
    // The developer token is a credential: environment only (retired by Google in 2026; sent
    // only when set).
    let developer_token = std::env::var("BERRYBOO_GOOGLE_ADS_DEVELOPER_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .inspect(|t| redaction::learn_lasting(t))
        .map(secrecy::SecretString::from);
    // Versions before v25 refuse every request without one (DEVELOPER_TOKEN_PARAMETER_MISSING):
    // say so now, not on each call.
    let number: u32 = version[1..].parse().unwrap_or(u32::MAX);
    if number < 25 && developer_token.is_none() {
        return Err(RunError::BadFlag(format!(
            "Google Ads API {version} requires a developer token: set BERRYBOO_GOOGLE_ADS_DEVELOPER_TOKEN, or use --api-version v25 or later (Google sunset developer tokens there)"
        )));
    }
    let connection = mcp_common::connect(
        &config,
        mcp_common::Provider::GoogleAds,
        "a Google authorized_user JSON with the adwords scope",
        concat!("berryboo-google-ads-mcp/", env!("CARGO_PKG_VERSION")),
    )?;
    let api = api::AdsApi::new(connection.upstream, version, developer_token);
    let server = AdsServer::new(api, customer, login, connection.tokens, connection.tenant);
    mcp_common::transport::serve(server, config.transport, mcp_common::shutdown_signal()).await?;
    Ok(())
}
