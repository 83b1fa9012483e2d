//! `agent-host pipeline`: the production job (the old `preprocess_and_route_anomalies`).
//!
//! Claims open anomalies in batches (several hosts can share one PostgreSQL: claims use
//! `SKIP LOCKED` and lapse when a worker dies), groups a batch by shop and works on up to
//! `--concurrency` shops at once. Per shop: one lease and server set for the sources its
//! anomalies need; per anomaly, each relevant team reads window vs baseline through the shop's
//! own servers, stores its evidence and writes findings and recommendations. A shop's missing
//! or broken integration never stops its other sources, and one shop never stops another:
//!
//! - some integrations → the others run; the skipped ones are named in warnings and rows;
//! - no integrations → a database-only analysis and a recommendation to connect sources;
//! - broken credentials → a reconnect notification; the shop's other sources go on.
//!
//! # Layout
//! - this module: the command — flags, the claim loop, signals, the summary;
//! - `worker`: one shop's batch (server set, teams, evidence, findings, notifications);
//!   `progress`: the terminal progress bar;
//! - [`teams`]: routing, what each source's team reads and concludes; [`decode`]: tool
//!   results read by the field names the servers write;
//! - [`notify`]: the guide's email templates, the signed webhook;
//! - [`report`]: the HTML / Markdown / JSON report.

pub mod decode;
pub mod notify;
mod progress;
pub mod report;
pub mod teams;
mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt;
use pipeline_store::{Anomaly, NotificationKind, Store};

use crate::llm::LlmConfig;
use crate::server_set::SetConfig;
use progress::Progress;
use worker::{Ctx, ShopOutcome, first_line};

/// `agent-host pipeline` flags.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// The database with the anomalies (`sqlite://PATH` or `postgres://…`); usually the
    /// dashboard's, which the broker reads too.
    #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
    pub database: String,
    /// Credential broker socket.
    #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
    pub broker_socket: Option<PathBuf>,
    /// Upstream base URL passed on to the servers (the sandbox).
    #[arg(long, value_name = "URL", env = "BERRYBOO_API_BASE")]
    pub api_base: Option<String>,
    /// Most anomalies this run claims.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Shops worked on at once (each holds one server set).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Only this shop's anomalies.
    #[arg(long, value_name = "ID")]
    pub shop: Option<String>,
    /// Write a report: `.html` (charts), `.md` or `.json`, by the file's extension.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// This worker's name in claims (default: host name and process id).
    #[arg(long, value_name = "NAME", env = "BERRYBOO_WORKER_ID")]
    pub worker_id: Option<String>,
    /// How long a claim lasts without a heartbeat (a dead worker's anomalies are taken again
    /// after this).
    #[arg(long, default_value = "5m", value_parser = cli_kit::parse_duration)]
    pub claim_ttl: Duration,
    /// Attempts before an anomaly is marked failed.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: i64,
    /// How long a failed anomaly waits before it may be claimed again.
    #[arg(long, default_value = "5m", value_parser = cli_kit::parse_duration)]
    pub retry_delay: Duration,
    /// POST each new notification here as JSON (signed with BERRYBOO_NOTIFY_WEBHOOK_SECRET).
    #[arg(long, value_name = "URL", env = "BERRYBOO_NOTIFY_WEBHOOK")]
    pub webhook: Option<String>,
    /// The dashboard page the reconnect email points to.
    #[arg(long, value_name = "URL", env = "BERRYBOO_DASHBOARD_URL", default_value = notify::DEFAULT_DASHBOARD_URL)]
    pub dashboard_url: String,
    /// Share of each source's API quota kept for people (chat, the gateway), in percent: an
    /// anomaly whose sources have less left waits until they replenish (see the summary's
    /// `deferred`). The servers note it in results under the same share when
    /// BERRYBOO_QUOTA_RESERVE is set for them too.
    #[arg(long, value_name = "PCT", default_value_t = 20, env = "BERRYBOO_QUOTA_RESERVE", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub quota_reserve: u8,
    /// Serve Prometheus metrics at http://ADDR/metrics while the run lasts, to watch it live
    /// (anomalies, tool calls, live shop sets); `--metrics` alone listens on 127.0.0.1:9466.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = metrics_endpoint::PIPELINE_ADDR)]
    pub metrics: Option<std::net::SocketAddr>,
}

/// The run's totals.
#[derive(Default)]
struct Summary {
    /// Claims handed back unfinished when the run was interrupted.
    released: u64,
    shops: usize,
    claimed: usize,
    /// Server sets started, and their start times summed.
    sets: (usize, Duration),
    /// Claims other workers hold (maybe dead ones), and when the last lapses (ms).
    foreign: (i64, Option<i64>),
    /// Why the broker's credential findings could not be turned into messages.
    credential_check: Option<String>,
    outcome: ShopOutcome,
}

/// Installs SIGINT and SIGTERM handlers now (so a signal at any point of the run is seen) and
/// returns a flag that turns true at the first: the run then stops claiming, abandons the shops
/// in flight and hands their anomalies back. A second signal ends the process at once.
fn stop_on_signals() -> tokio::sync::watch::Receiver<bool> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if tx.send_replace(true) {
                    std::process::exit(130);
                }
            }
        }),
        // No handlers: the default action ends the process; the flag just stays false (the
        // sender must live, or waiting on it would report a stop).
        _ => tokio::spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await
        }),
    };
    rx
}

fn default_worker() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}

/// Runs the pipeline; exit status 0 when every claimed anomaly was processed, 1 when some
/// failed (the summary says why), 2 when the run itself could not start.
pub async fn run(args: PipelineArgs, file: &crate::config::HostFile) -> Result<ExitCode> {
    run_with(args, file, true).await.map(|(code, _)| code)
}

/// The ids the run processed, for callers that report on them (the demo).
pub async fn run_with(
    args: PipelineArgs,
    file: &crate::config::HostFile,
    show_progress: bool,
) -> Result<(ExitCode, Vec<i64>)> {
    let store = Store::open(&args.database, false).await?;
    store.migrate().await?;
    let broker_socket = args
        .broker_socket
        .clone()
        .unwrap_or_else(broker_proto::default_socket_path);
    let ttl_ms = i64::try_from(args.claim_ttl.as_millis()).unwrap_or(i64::MAX);
    let metrics = Arc::new(crate::metrics::HostMetrics::default());
    let _metrics_endpoint = args.metrics.map(|addr| metrics.serve(addr));
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        config: Arc::new(SetConfig {
            metrics: metrics.clone(),
            broker_socket,
            servers_dir: crate::children::servers_dir()?,
            api_base: args.api_base.clone(),
            // Renewed while the shop's set lives: a killed run's leases end within a minute.
            lease_ttl: crate::server_set::HOST_LEASE_TTL,
            child_log: "error".into(),
            host_key: file.host_key.clone(),
        }),
        worker: args.worker_id.clone().unwrap_or_else(default_worker),
        max_attempts: args.max_attempts,
        retry_delay_ms: i64::try_from(args.retry_delay.as_millis()).unwrap_or(i64::MAX),
        claim_ttl_ms: ttl_ms,
        dashboard_url: args.dashboard_url.clone(),
        llm: LlmConfig::resolve(file.llm.as_ref()),
        quota_reserve: args.quota_reserve,
    });
    let exhausted = store.fail_exhausted(args.max_attempts).await?;
    if exhausted > 0 {
        tracing::warn!("{exhausted} anomalies failed: their workers kept dying on them");
        metrics.anomalies("failed", usize::try_from(exhausted).unwrap_or(usize::MAX));
    }
    let started = Instant::now();
    let progress = Progress::new(show_progress);
    let mut summary = Summary::default();
    let batch_size = (usize::from(args.concurrency) * 4).max(8);
    let mut stop = stop_on_signals();
    let mut interrupted = false;
    while summary.claimed < args.limit && !interrupted && !*stop.borrow() {
        let want = (args.limit - summary.claimed).min(batch_size);
        let batch = store
            .claim(
                &ctx.worker,
                want as i64,
                ttl_ms,
                args.shop.as_deref(),
                args.max_attempts,
            )
            .await?;
        if batch.is_empty() {
            break;
        }
        summary.claimed += batch.len();
        progress.claimed(batch.len());
        metrics.anomalies("claimed", batch.len());
        let ids: Vec<i64> = batch.iter().map(|a| a.id).collect();
        let heartbeat = {
            let (store, worker, ids) = (store.clone(), ctx.worker.clone(), ids.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis((ttl_ms / 3).max(50) as u64)).await;
                    if let Err(e) = store.extend_claims(&worker, &ids, ttl_ms).await {
                        tracing::warn!("cannot extend claims: {e}");
                    }
                }
            })
        };
        // Group by shop, keeping the claim order (most severe first).
        let mut groups: Vec<(String, Vec<Anomaly>)> = Vec::new();
        for a in batch {
            match groups.iter_mut().find(|(s, _)| *s == a.shop_id) {
                Some((_, list)) => list.push(a),
                None => groups.push((a.shop_id.clone(), vec![a])),
            }
        }
        summary.shops += groups.len();
        let mut work = futures::stream::iter(groups)
            .map(|(shop, list)| {
                let ctx = ctx.clone();
                async move { ctx.process_shop(shop, list).await }
            })
            .buffer_unordered(usize::from(args.concurrency));
        loop {
            let o = tokio::select! {
                next = work.next() => match next {
                    Some(o) => o,
                    None => break,
                },
                _ = stop.wait_for(|stopping| *stopping) => {
                    interrupted = true;
                    break;
                }
            };
            progress.shop_done(&o);
            metrics.anomalies("processed", o.processed.len());
            metrics.anomalies("failed", o.failures.len());
            metrics.anomalies("lost", o.lost.len());
            metrics.anomalies("deferred", o.deferred.len());
            if let Some(d) = o.set_start {
                summary.sets.0 += 1;
                summary.sets.1 += d;
            }
            let t = &mut summary.outcome;
            t.processed.extend(o.processed);
            t.lost.extend(o.lost);
            t.failures.extend(o.failures);
            t.deferred.extend(o.deferred);
            t.recommendations += o.recommendations;
            t.skipped.extend(o.skipped);
            t.notifications.extend(o.notifications);
            t.duplicate_notifications += o.duplicate_notifications;
        }
        heartbeat.abort();
        if interrupted {
            // Dropping the in-flight shops revokes their leases and kills their servers; what
            // they had not finished goes back to the queue as if never claimed.
            drop(work);
            let released = store.release_claims(&ctx.worker, &ids).await?;
            summary.released = released;
            metrics.anomalies("released", usize::try_from(released).unwrap_or(usize::MAX));
            break;
        }
    }
    progress.finish();
    summary.foreign = store
        .foreign_claims(&ctx.worker, args.shop.as_deref())
        .await
        .unwrap_or((0, None));
    // A signal between batches (or during a claim that found nothing) stops the run too.
    interrupted |= *stop.borrow();
    if !interrupted {
        match ctx.credential_warnings(args.shop.as_deref()).await {
            Ok(new) => summary.outcome.notifications.extend(new),
            Err(e) => {
                tracing::warn!("{e}");
                summary.credential_check = Some(e);
            }
        }
    }
    let delivered = match &args.webhook {
        Some(url) if !interrupted => {
            let hook = notify::Webhook {
                url: url.clone(),
                secret: std::env::var("BERRYBOO_NOTIFY_WEBHOOK_SECRET")
                    .ok()
                    .inspect(|s| redaction::learn_lasting(s))
                    .map(secrecy::SecretString::from),
            };
            Some(notify::deliver(&store, &hook).await?)
        }
        _ => None,
    };
    print_summary(&summary, started.elapsed(), &ctx.worker, delivered);
    if let Some(path) = &args.report
        && summary.outcome.processed.is_empty()
    {
        // Keep the last useful report (a timer runs the pipeline every few minutes).
        println!(
            "Report: {} kept (nothing processed this run)",
            path.display()
        );
    } else if let Some(path) = &args.report {
        let ids = &summary.outcome.processed;
        report::write(&store, ids, path)
            .await
            .with_context(|| format!("cannot write the report {}", path.display()))?;
        println!("Report: {}", path.display());
    }
    let code = if interrupted {
        ExitCode::from(130)
    } else if summary.outcome.failures.is_empty() && summary.credential_check.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    Ok((code, summary.outcome.processed.clone()))
}

fn print_summary(s: &Summary, elapsed: Duration, worker: &str, delivered: Option<(usize, usize)>) {
    let o = &s.outcome;
    println!(
        "Pipeline ({worker}): {} anomalies claimed for {} shops in {:.1} s",
        s.claimed,
        s.shops,
        elapsed.as_secs_f64()
    );
    println!("  processed        {}", o.processed.len());
    if s.sets.0 > 0 {
        println!(
            "  server sets      {} started, {:.0} ms each on average (lease, servers, handshakes)",
            s.sets.0,
            s.sets.1.as_secs_f64() * 1000.0 / s.sets.0 as f64
        );
    }
    println!("  recommendations  {}", o.recommendations);
    let mut skipped: BTreeMap<(String, &str), String> = BTreeMap::new();
    for (shop, p, why) in &o.skipped {
        skipped
            .entry((shop.clone(), p.service_name()))
            .or_insert_with(|| why.clone());
    }
    println!("  skipped sources  {}", skipped.len());
    for ((shop, service), why) in &skipped {
        println!("    {shop}: {service} — {}", redaction::text(why));
    }
    let count = |kind: NotificationKind| {
        o.notifications
            .iter()
            .filter(|n| n.kind == kind.as_str())
            .count()
    };
    println!(
        "  notifications    {} new ({} connect, {} reconnect, {} expiring), {} already sent today{}",
        o.notifications.len(),
        count(NotificationKind::Connect),
        count(NotificationKind::Reconnect),
        count(NotificationKind::Expiring),
        o.duplicate_notifications,
        match delivered {
            Some((ok, failed)) => format!("; webhook: {ok} delivered, {failed} failed"),
            None => String::new(),
        }
    );
    if !o.lost.is_empty() {
        println!(
            "  taken over       {} (claims lapsed; another worker finished them)",
            o.lost.len()
        );
    }
    if !o.deferred.is_empty() {
        println!(
            "  deferred         {} (their sources' quota is kept for people; each waits for its reset)",
            o.deferred.len()
        );
        for (id, why) in &o.deferred {
            println!(
                "    anomaly {id}: deferred: {}",
                redaction::text(first_line(why))
            );
        }
    }
    if s.released > 0 {
        println!(
            "  interrupted      {} claimed anomalies handed back unprocessed",
            s.released
        );
    }
    if let (n @ 1.., until) = s.foreign {
        println!(
            "  held elsewhere   {n} anomalies claimed by other workers (a dead worker's claims lapse{}; a later run takes them over)",
            until
                .map(|t| format!(" by {}", crate::anomalies::local_time(t)))
                .unwrap_or_default()
        );
    }
    if let Some(why) = &s.credential_check {
        println!(
            "  credential check failed: {}",
            redaction::text(first_line(why))
        );
    }
    println!("  failures         {}", o.failures.len());
    for (id, why) in &o.failures {
        println!("    anomaly {id}: {}", redaction::text(first_line(why)));
    }
}
