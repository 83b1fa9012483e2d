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

use mcp_common::RunError;
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
    #[arg(long, value_name = "ID", env = "BERRYBOO_GOOGLE_ADS_CUSTOMER_ID", value_parser = customer_id_flag)]
    pub customer_id: Option<String>,

    /// Manager (MCC) account to act through when a call gives none.
    #[arg(long, value_name = "ID", env = "BERRYBOO_GOOGLE_ADS_LOGIN_CUSTOMER_ID", value_parser = customer_id_flag)]
    pub login_customer_id: Option<String>,

    /// Google Ads API version.
    #[arg(
        long,
        value_name = "VERSION",
        env = "BERRYBOO_GOOGLE_ADS_API_VERSION",
        default_value = "v26",
        value_parser = api_version_flag
    )]
    pub api_version: String,
}

/// A customer id flag, checked as the tools check one (ten digits; dashes allowed).
fn customer_id_flag(raw: &str) -> Result<String, String> {
    query::customer_id(raw, "id").map_err(String::from)
}

/// `v26`, not `26` or `v26.0`.
fn api_version_flag(raw: &str) -> Result<String, String> {
    let version = raw.trim();
    let valid = version
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        Ok(version.to_owned())
    } else {
        Err(format!("{version:?} must look like v26"))
    }
}

/// Builds the server from checked flags and serves until the client leaves or a signal.
pub async fn run(cli: Cli, config: CommonConfig) -> Result<(), RunError> {
    // The flags were checked as they were parsed.
    let version = cli.api_version;
    let (customer, login) = (cli.customer_id, cli.login_customer_id);
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn ids_and_versions_are_checked_as_flags_are_parsed() {
        let cli = Cli::try_parse_from([
            "google-ads-mcp",
            "--customer-id",
            "123-456-7890",
            "--login-customer-id",
            "customers/9876543210",
        ])
        .expect("valid flags");
        assert_eq!(cli.customer_id.as_deref(), Some("1234567890"));
        assert_eq!(cli.login_customer_id.as_deref(), Some("9876543210"));
        assert_eq!(cli.api_version, "v26");
        for bad in [
            ["--customer-id", "12345"],
            ["--login-customer-id", "act_1"],
            ["--api-version", "26"],
            ["--api-version", "v26.0"],
        ] {
            let e = Cli::try_parse_from(["google-ads-mcp", bad[0], bad[1]])
                .expect_err("refused at parse time")
                .to_string();
            assert!(e.contains(bad[0]) && e.contains(bad[1]), "{e}");
        }
    }
}
