//! `meta-ads-mcp`: read-only MCP tools over the Meta Marketing API.
//!
//! # Layout
//! - [`server`]: `MetaServer`, the tools.
//! - [`params`]: tool inputs.
//! - [`api`]: typed Graph API client (token in the Authorization header only).

#![deny(missing_docs)]

pub mod api;
pub mod params;
pub mod server;

use mcp_common::cli::{CommonArgs, CommonConfig};

pub use server::MetaServer;

/// `meta-ads-mcp` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "meta-ads-mcp",
    version,
    about = "Read-only Meta Ads tools over MCP (stdio or HTTP)."
)]
pub struct Cli {
    /// Flags every berryboo server shares. A static credentials file for this server is
    /// `{"access_token": "…"}` (chmod 600).
    #[command(flatten)]
    pub common: CommonArgs,

    /// Ad account used when a tool call gives none (`act_…`).
    #[arg(long, value_name = "ID", env = "BERRYBOO_META_AD_ACCOUNT_ID")]
    pub ad_account_id: Option<String>,

    /// Graph API version.
    #[arg(
        long,
        value_name = "VERSION",
        env = "BERRYBOO_META_GRAPH_VERSION",
        default_value = "v26.0"
    )]
    pub graph_version: String,
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
    let version = cli.graph_version.trim().to_owned();
    let valid = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(a, b)| !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b == "0");
    if !valid {
        return Err(RunError::BadFlag(format!(
            "--graph-version {version:?} must look like v26.0"
        )));
    }
    let account = match cli.ad_account_id {
        Some(a) => {
            let digits = a.trim().trim_start_matches("act_").to_owned();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RunError::BadFlag(format!(
                    "--ad-account-id {a:?} must look like act_1234567890"
                )));
            }
            Some(format!("act_{digits}"))
        }
        None => None,
    };
    let connection = mcp_common::connect(
        &config,
        mcp_common::Provider::MetaAds,
        "a JSON file {\"access_token\": \"…\"} with the ads_read permission",
        concat!("berryboo-meta-ads-mcp/", env!("CARGO_PKG_VERSION")),
    )?;
    let server = MetaServer::new(
        api::MetaApi::new(connection.upstream, version),
        account,
        connection.tokens,
        connection.tenant,
    );
    mcp_common::transport::serve(server, config.transport, mcp_common::shutdown_signal()).await?;
    Ok(())
}
