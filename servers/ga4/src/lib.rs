//! `ga4-mcp`: read-only MCP tools over the Google Analytics 4 Data and Admin APIs.
//!
//! # Layout
//! - [`server`]: `Ga4Server`, the tools.
//! - [`params`]: tool inputs (schemas come from their doc comments).
//! - [`filter`]: filter expressions as text, parsed into the Data API's FilterExpression.
//! - [`request`]: argument checks and REST request bodies.
//! - [`api`]: typed Data/Admin API client.
//! - [`report`]: structured outputs and their text rendering.
//! - [`suggest`]: "did you mean" for unknown field names.

#![deny(missing_docs)]

pub mod api;
pub mod filter;
pub mod params;
pub mod report;
pub mod request;
pub mod server;
pub mod suggest;

use mcp_common::RunError;
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
    #[arg(long, value_name = "ID", env = "BERRYBOO_GA4_PROPERTY_ID", value_parser = property_flag)]
    pub property_id: Option<String>,
}

/// A property flag, checked as the tools check `property_id`; kept as the numeric id.
fn property_flag(raw: &str) -> Result<String, String> {
    request::property_id(raw).map_err(String::from)
}

/// Builds the server from checked flags and serves until the client leaves or a signal.
pub async fn run(cli: Cli, config: CommonConfig) -> Result<(), RunError> {
    // The flags were checked as they were parsed.
    let default_property = cli.property_id;
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn the_default_property_is_checked_as_flags_are_parsed() {
        let cli = Cli::try_parse_from(["ga4-mcp", "--property-id", "properties/326784853"])
            .expect("valid flags");
        assert_eq!(cli.property_id.as_deref(), Some("326784853"));
        for bad in ["G-ABC123", "UA-1234-1", "properties/", "12a"] {
            let e = Cli::try_parse_from(["ga4-mcp", "--property-id", bad])
                .expect_err("refused at parse time")
                .to_string();
            assert!(
                e.contains("--property-id") && e.contains("not a GA4 property id"),
                "{e}"
            );
        }
    }
}
