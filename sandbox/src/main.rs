//! The `upstream-sandbox` binary: parses flags, sends logs to stderr, binds the listener,
//! prints `listening on http://HOST:PORT` as the first stdout line, and hands off to
//! [`upstream_sandbox::run`] until SIGTERM or Ctrl-C. Any start-up error exits with code 2.
//!
//! ```text
//! upstream-sandbox --bind 127.0.0.1:0 --fixtures examples/sandbox-fixtures.toml \
//!     [--today 2026-10-20] [--token-ttl 3600]
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use upstream_sandbox::{Fixtures, SandboxConfig};

/// Offline emulator of Google OAuth and the GA4 Data/Admin APIs.
#[derive(Debug, Parser)]
#[command(name = "upstream-sandbox", version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, env = "SANDBOX_BIND", default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Fixture file (TOML) with clients, grants and GA4 properties.
    #[arg(long, env = "SANDBOX_FIXTURES")]
    fixtures: PathBuf,
    /// Fixed "today" (YYYY-MM-DD) for relative dates and data; "now" is 12:00 local.
    /// Default: the real current date in each property's time zone.
    #[arg(long, env = "SANDBOX_TODAY", value_parser = parse_day)]
    today: Option<NaiveDate>,
    /// Lifetime of issued access tokens in seconds (`expires_in`).
    #[arg(long, env = "SANDBOX_TOKEN_TTL", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400 * 365))]
    token_ttl: u64,
    /// Largest page of Google Ads' field service (`googleAdsFields:search`); smaller values
    /// make clients follow `nextPageToken`.
    #[arg(long, env = "SANDBOX_ADS_FIELDS_PAGE_SIZE", default_value_t = upstream_sandbox::gads::FIELDS_MAX_PAGE, value_parser = parse_page_size)]
    ads_fields_page_size: usize,
}

fn parse_page_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=upstream_sandbox::gads::FIELDS_MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}` is not a page size from 1 to {}",
            upstream_sandbox::gads::FIELDS_MAX_PAGE
        )),
    }
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a YYYY-MM-DD date"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upstream-sandbox: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let _telemetry = telemetry::init("upstream-sandbox", cli_kit::LogFormat::Text, "info");

    let fixtures = Fixtures::load(&args.fixtures)
        .with_context(|| format!("loading fixtures from {}", args.fixtures.display()))?;
    let config = SandboxConfig {
        fixtures,
        today: args.today,
        token_ttl: Duration::from_secs(args.token_ttl),
        ads_fields_page_size: args.ads_fields_page_size,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("binding {}", args.bind))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}").context("writing to stdout")?;
        stdout.flush().context("flushing stdout")?;
        drop(stdout);
        upstream_sandbox::run(listener, config, cli_kit::shutdown_signal())
            .await
            .context("serving")?;
        tracing::info!("shut down");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_flags_parse() {
        let a = Args::try_parse_from(["upstream-sandbox", "--fixtures", "f.toml"]).unwrap();
        assert_eq!(a.bind.to_string(), "127.0.0.1:0");
        assert_eq!(a.token_ttl, 3600);
        assert!(a.today.is_none());
        let a = Args::try_parse_from([
            "upstream-sandbox",
            "--fixtures",
            "f.toml",
            "--today",
            "2026-10-20",
            "--token-ttl",
            "5",
            "--bind",
            "0.0.0.0:8080",
        ])
        .unwrap();
        assert_eq!(a.today, NaiveDate::from_ymd_opt(2026, 10, 20));
        assert_eq!(a.token_ttl, 5);
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(Args::try_parse_from(["upstream-sandbox"]).is_err());
        assert!(
            Args::try_parse_from([
                "upstream-sandbox",
                "--fixtures",
                "f",
                "--today",
                "2026-13-01"
            ])
            .is_err()
        );
        assert!(
            Args::try_parse_from(["upstream-sandbox", "--fixtures", "f", "--token-ttl", "0"])
                .is_err()
        );
        assert!(
            Args::try_parse_from(["upstream-sandbox", "--fixtures", "f", "--bind", "nope"])
                .is_err()
        );
    }
}
