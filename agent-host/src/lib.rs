//! `agent-host`: the entry point that runs MCP server sets for shops. Today it has the offline
//! demo; chat sessions, the anomaly pipeline and health reports follow (see the issues).
//!
//! # Layout
//! - [`demo`]: starts the sandbox and one `ga4-mcp` per demo shop, prints a readable report.
//! - [`children`]: finding and spawning sibling binaries, MCP clients over their stdio.

pub mod children;
pub mod demo;

use std::process::ExitCode;

/// `agent-host` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "agent-host",
    version,
    about = "Run berryboo MCP server sets per shop."
)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Offline demo: start the upstream sandbox and a GA4 server per demo shop, ask each a few
    /// questions, and print what an agent would see. Needs no network and no set-up.
    Demo(demo::DemoArgs),
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
    }
}
