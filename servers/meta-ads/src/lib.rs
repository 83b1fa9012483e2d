//! `meta-ads-mcp`: read-only MCP tools over the Meta Marketing API.
//!
//! # Layout
//! - [`server`]: `MetaServer`, the tools.
//! - [`params`]: tool inputs; [`request`]: checking them.
//! - [`report`]: structured outputs and text tables.
//! - [`api`]: typed Graph API client (token in the Authorization header only).

#![deny(missing_docs)]

pub mod api;
pub mod params;
pub mod report;
pub mod request;
pub mod server;

use mcp_common::RunError;
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
    #[arg(long, value_name = "ID", env = "BERRYBOO_META_AD_ACCOUNT_ID", value_parser = ad_account_flag)]
    pub ad_account_id: Option<String>,

    /// Graph API version.
    #[arg(
        long,
        value_name = "VERSION",
        env = "BERRYBOO_META_GRAPH_VERSION",
        default_value = "v26.0",
        value_parser = graph_version_flag
    )]
    pub graph_version: String,
}

/// An ad account flag, checked by the same rule as the tools' `account_id`.
fn ad_account_flag(raw: &str) -> Result<String, String> {
    request::account_id(raw).map_err(String::from)
}

/// `v26.0`, not `v26` or `26.0`.
fn graph_version_flag(raw: &str) -> Result<String, String> {
    let version = raw.trim();
    let valid = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(a, b)| !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b == "0");
    if valid {
        Ok(version.to_owned())
    } else {
        Err(format!("{version:?} must look like v26.0"))
    }
}

/// Builds the server from checked flags and serves until the client leaves or a signal.
pub async fn run(cli: Cli, config: CommonConfig) -> Result<(), RunError> {
    // The flags were checked as they were parsed.
    let (version, account) = (cli.graph_version, cli.ad_account_id);
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn the_account_and_version_are_checked_as_flags_are_parsed() {
        let cli =
            Cli::try_parse_from(["meta-ads-mcp", "--ad-account-id", "111"]).expect("valid flags");
        assert_eq!(cli.ad_account_id.as_deref(), Some("act_111"));
        assert_eq!(cli.graph_version, "v26.0");
        // The tools' rule, not a looser one: at most 20 digits.
        for bad in [
            ["--ad-account-id", "act_x"],
            ["--ad-account-id", "act_123456789012345678901"],
            ["--graph-version", "v26"],
        ] {
            let e = Cli::try_parse_from(["meta-ads-mcp", bad[0], bad[1]])
                .expect_err("refused at parse time")
                .to_string();
            assert!(e.contains(bad[0]), "{e}");
        }
    }
}
