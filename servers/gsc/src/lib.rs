//! `gsc-mcp`: read-only MCP tools over the Google Search Console API.
//!
//! # Layout
//! - [`server`]: `GscServer`, the tools.
//! - [`params`]: tool inputs; [`request`]: checking them and building requests.
//! - [`report`]: structured outputs and text tables.
//! - [`api`]: typed Search Console client.
//! - [`dates`]: relative dates resolved in Pacific time.

#![deny(missing_docs)]

pub mod api;
pub mod dates;
pub mod params;
pub mod report;
pub mod request;
pub mod server;

use mcp_common::RunError;
use mcp_common::cli::{CommonArgs, CommonConfig};

pub use server::GscServer;

/// `gsc-mcp` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "gsc-mcp",
    version,
    about = "Read-only Google Search Console tools over MCP (stdio or HTTP)."
)]
pub struct Cli {
    /// Flags every berryboo server shares.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Property used when a tool call gives no site_url, e.g. `sc-domain:example.com`.
    #[arg(long, value_name = "SITE", env = "BERRYBOO_GSC_SITE_URL", value_parser = site_flag)]
    pub site_url: Option<String>,

    /// Treat this date (YYYY-MM-DD) as today when resolving relative dates, for reproducible
    /// runs against the sandbox.
    #[arg(long, value_name = "DATE", env = "BERRYBOO_TODAY", hide = true)]
    pub today: Option<chrono::NaiveDate>,
}

/// A property flag, checked as the tools check `site_url`.
fn site_flag(raw: &str) -> Result<String, String> {
    request::check_site(raw).map_err(String::from)
}

/// Builds the server from checked flags and serves until the client leaves or a signal.
pub async fn run(cli: Cli, config: CommonConfig) -> Result<(), RunError> {
    let connection = mcp_common::connect(
        &config,
        mcp_common::Provider::Gsc,
        "a Google authorized_user JSON with the webmasters.readonly scope",
        concat!("berryboo-gsc-mcp/", env!("CARGO_PKG_VERSION")),
    )?;
    let server = GscServer::new(
        api::GscApi::new(connection.upstream),
        cli.site_url,
        connection.tokens,
        connection.tenant,
        cli.today,
    );
    mcp_common::transport::serve(server, config.transport, mcp_common::shutdown_signal()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn the_default_property_is_checked_as_flags_are_parsed() {
        let cli = Cli::try_parse_from(["gsc-mcp", "--site-url", "sc-domain:acme-shop.example"])
            .expect("valid flags");
        assert_eq!(cli.site_url.as_deref(), Some("sc-domain:acme-shop.example"));
        for bad in ["https://www.example.com", "sc-domain:", "example.com"] {
            let e = Cli::try_parse_from(["gsc-mcp", "--site-url", bad])
                .expect_err("refused at parse time")
                .to_string();
            assert!(e.contains("--site-url") && e.contains("site_url"), "{e}");
        }
    }
}
