//! `ga4-mcp`: read-only MCP tools over the Google Analytics 4 Data and Admin APIs.
//!
//! # Layout
//! - [`server`]: `Ga4Server`, the tools.
//! - [`params`]: tool inputs (schemas come from their doc comments).
//! - [`request`]: argument checks and REST request bodies.
//! - [`api`]: typed Data/Admin API client.
//! - [`report`]: structured outputs and their text rendering.
//! - [`suggest`]: "did you mean" for unknown field names.

#![deny(missing_docs)]

pub mod api;
pub mod params;
pub mod report;
pub mod request;
pub mod server;
pub mod suggest;

use mcp_common::cli::{CommonArgs, CommonConfig};

pub use server::Ga4Server;

/// `ga4-mcp` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "ga4-mcp",
    version,
    about = "Read-only Google Analytics 4 tools over MCP (stdio or HTTP)."
)]
pub struct Cli {
    /// Flags every berryboo server shares.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Property used when a tool call gives no property_id (numeric id or properties/ID).
    #[arg(long, value_name = "ID", env = "BERRYBOO_GA4_PROPERTY_ID")]
    pub property_id: Option<String>,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Credentials missing or unusable.
    #[error(transparent)]
    Setup(#[from] mcp_common::SetupError),
    /// The default property is not a property id.
    #[error("--property-id: {0}")]
    BadProperty(String),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] mcp_common::transport::ServeError),
}

/// Builds the server from checked flags and serves until the client leaves or a signal.
pub async fn run(cli: Cli, config: CommonConfig) -> Result<(), RunError> {
    let default_property = match &cli.property_id {
        Some(p) => Some(request::property_id(p).map_err(|e| RunError::BadProperty(e.0))?),
        None => None,
    };
    let connection = mcp_common::connect(
        &config,
        mcp_common::Provider::Ga4,
        "a Google authorized_user JSON with the analytics.readonly scope",
        concat!("berryboo-ga4-mcp/", env!("CARGO_PKG_VERSION")),
    )?;
    let server = Ga4Server::new(
        api::Ga4Api::new(connection.upstream),
        default_property,
        connection.tokens,
        connection.tenant,
    );
    tracing::info!(transport = ?std::mem::discriminant(&config.transport), "ga4-mcp starting");
    mcp_common::transport::serve(server, config.transport, mcp_common::shutdown_signal()).await?;
    Ok(())
}
