//! `agent-host anomaly add | list | retry | prune` and `agent-host notifications`: the operator's view
//! of the pipeline's tables. Detectors may also insert into `pipeline_anomaly` with SQL (see
//! the README); `add` validates what SQL cannot.

use std::process::ExitCode;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use pipeline_store::{NewAnomaly, Severity, Status, Store};

/// `anomaly` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AnomalyCommand {
    /// Add an anomaly for the pipeline (prints its id).
    Add(AddArgs),
    /// List anomalies, most severe first.
    List {
        /// The database.
        #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
        database: String,
        /// Only this shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        /// Only this status (open, claimed, processed, failed).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Delete the stored evidence (raw tool results) of anomalies processed longer ago than
    /// `--older-than`; their recommendations and findings stay.
    Prune {
        /// The database.
        #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
        database: String,
        /// Age, e.g. 90d.
        #[arg(long, value_name = "AGE", value_parser = cli_kit::parse_duration)]
        older_than: std::time::Duration,
    },
    /// Put anomalies back to open (e.g. failed ones, after fixing the cause).
    Retry {
        /// The database.
        #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
        database: String,
        /// Anomaly ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

/// `anomaly add` flags.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The database.
    #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
    pub database: String,
    /// The shop (`sources_shop.id`).
    #[arg(long, value_name = "ID")]
    pub shop: String,
    /// Where it was detected: ga4, gsc, google_ads, meta_ads, or store (the shop's own sales).
    #[arg(long)]
    pub source: String,
    /// The metric, e.g. revenue, sessions, clicks, spend, conversions.
    #[arg(long)]
    pub metric: String,
    /// The anomaly's days: FIRST..LAST (YYYY-MM-DD).
    #[arg(long, value_name = "FIRST..LAST")]
    pub window: String,
    /// The baseline it was compared with: FIRST..LAST.
    #[arg(long, value_name = "FIRST..LAST")]
    pub baseline: String,
    /// The metric's value over the window.
    #[arg(long)]
    pub observed: f64,
    /// What was expected over the window.
    #[arg(long)]
    pub expected: f64,
    /// low, medium, high or critical.
    #[arg(long, default_value = "medium")]
    pub severity: String,
    /// Free text from the detector.
    #[arg(long)]
    pub note: Option<String>,
}

/// Parses `FIRST..LAST`.
pub fn parse_range(text: &str, what: &str) -> Result<(NaiveDate, NaiveDate)> {
    let Some((a, b)) = text.split_once("..") else {
        bail!("--{what} {text:?}: use FIRST..LAST, e.g. 2026-10-14..2026-10-20");
    };
    let day = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| anyhow::anyhow!("--{what}: {s:?} is not a date (YYYY-MM-DD)"))
    };
    let (a, b) = (day(a)?, day(b)?);
    if a > b {
        bail!("--{what} {text}: the first day is after the last");
    }
    Ok((a, b))
}

/// Checks `args` and builds the anomaly.
pub fn new_anomaly(args: &AddArgs) -> Result<NewAnomaly> {
    const SOURCES: [&str; 5] = ["ga4", "gsc", "google_ads", "meta_ads", "store"];
    if !SOURCES.contains(&args.source.as_str()) {
        bail!(
            "--source {:?}: use one of {}",
            args.source,
            SOURCES.join(", ")
        );
    }
    let window = parse_range(&args.window, "window")?;
    let baseline = parse_range(&args.baseline, "baseline")?;
    if args.metric.trim().is_empty() {
        bail!("--metric must name the metric, e.g. revenue");
    }
    if !args.observed.is_finite() || !args.expected.is_finite() {
        bail!("--observed and --expected must be numbers");
    }
    Ok(NewAnomaly {
        shop_id: args.shop.clone(),
        source: args.source.clone(),
        metric: args.metric.trim().to_owned(),
        window,
        baseline,
        observed: args.observed,
        expected: args.expected,
        severity: args
            .severity
            .parse::<Severity>()
            .map_err(anyhow::Error::msg)?,
        note: args.note.clone(),
    })
}

async fn open(url: &str) -> Result<Store> {
    let store = Store::open(url, false).await?;
    store.migrate().await?;
    Ok(store)
}

/// Runs an `anomaly` subcommand.
pub async fn run(command: AnomalyCommand) -> Result<ExitCode> {
    match command {
        AnomalyCommand::Add(args) => {
            let anomaly = new_anomaly(&args)?;
            let store = open(&args.database).await?;
            println!("{}", store.add_anomaly(&anomaly).await?);
        }
        AnomalyCommand::List {
            database,
            shop,
            status,
            limit,
        } => {
            let status = status
                .map(|s| s.parse::<Status>())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let store = open(&database).await?;
            println!(
                "{:>6}  {:<9} {:<9} {:<36} {:<10} {:<12} {:<23} {:>12} {:>12}",
                "ID",
                "STATUS",
                "SEVERITY",
                "SHOP",
                "SOURCE",
                "METRIC",
                "WINDOW",
                "OBSERVED",
                "EXPECTED"
            );
            for a in store.anomalies(shop.as_deref(), status, limit).await? {
                println!(
                    "{:>6}  {:<9} {:<9} {:<36} {:<10} {:<12} {:<23} {:>12.1} {:>12.1}{}",
                    a.id,
                    a.status.as_str(),
                    a.severity,
                    a.shop_id,
                    a.source,
                    a.metric,
                    format!("{}..{}", a.window.0, a.window.1),
                    a.observed,
                    a.expected,
                    match (&a.claimed_by, a.claim_expires_ms, &a.last_error) {
                        (Some(worker), Some(until), _) => format!(
                            "  (claimed by {worker} until {})",
                            crate::anomalies::local_time(until)
                        ),
                        (_, _, Some(e)) => format!("  ({})", e.lines().next().unwrap_or("")),
                        _ => String::new(),
                    }
                );
            }
        }
        AnomalyCommand::Prune {
            database,
            older_than,
        } => {
            let store = open(&database).await?;
            let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
            let n = store
                .prune_evidence(pipeline_store::now_ms().saturating_sub(age))
                .await?;
            println!("{n} evidence rows deleted");
        }
        AnomalyCommand::Retry { database, ids } => {
            let store = open(&database).await?;
            let n = store.reopen(&ids).await?;
            println!("{n} anomalies reopened");
            if n < ids.len() as u64 {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `agent-host notifications`: the rendered messages, newest first.
pub async fn notifications(database: &str, shop: Option<&str>, limit: i64) -> Result<ExitCode> {
    let store = open(database).await?;
    for n in store.notifications(shop, limit).await? {
        println!(
            "── #{} {} · {} · {} · {}{}",
            n.id,
            n.day,
            n.shop_id,
            n.service,
            n.kind,
            match (n.delivered_ms, &n.delivery_error) {
                (Some(_), _) => " · delivered".to_owned(),
                (None, Some(e)) => format!(" · not delivered: {e}"),
                (None, None) => String::new(),
            }
        );
        println!("Reason: {}", redaction::text(&n.reason).replace('\n', " "));
        println!("Subject: {}\n\n{}", n.subject, n.body);
    }
    Ok(ExitCode::SUCCESS)
}

/// `ms` since the epoch as local `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn local_time(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}
