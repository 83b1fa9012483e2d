//! The anomaly pipeline: anomalies per second at a given concurrency.

use super::*;

/// `--anomalies` anomalies over `--pipeline-shops` shops (all four sources each) through one
/// `agent-host pipeline` process: wall time, peak RSS of the agent host and its servers.
pub(super) async fn pipeline_bench(sandbox: &Sandbox, args: &Args, concurrency: u16) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(sandbox, &url, &full_shops_seed(args.pipeline_shops)).await?;
    let broker = BrokerProc::start(sandbox, &url, "warn", "").await?;
    let store = pipeline_store::Store::open(&url, false).await?;
    store.migrate().await?;
    // A realistic mix: revenue and traffic drops ask all four teams; source-specific ones two.
    let kinds = [
        ("ga4", "revenue"),
        ("gsc", "clicks"),
        ("google_ads", "spend"),
        ("meta_ads", "spend"),
        ("ga4", "sessions"),
    ];
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").context("date");
    for i in 0..args.anomalies {
        let (source, metric) = kinds[i % kinds.len()];
        store
            .add_anomaly(&pipeline_store::NewAnomaly {
                shop_id: full_shop_id(i % args.pipeline_shops),
                source: source.into(),
                metric: metric.into(),
                window: (day("2026-10-08")?, day("2026-10-14")?),
                baseline: (day("2026-09-10")?, day("2026-10-07")?),
                observed: 700.0,
                expected: 1000.0,
                severity: pipeline_store::Severity::High,
                note: None,
            })
            .await?;
    }
    store.close().await;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bin("agent-host"))
        .args([
            "pipeline",
            "--limit",
            &args.anomalies.to_string(),
            "--concurrency",
            &concurrency.to_string(),
            // The bench's shops all share one sandbox property and ad account, whose quota
            // no real shop would share: measure the work, not the reserve kept for people.
            "--quota-reserve",
            "0",
        ])
        .env("BERRYBOO_DATABASE_URL", &url)
        .env("BERRYBOO_BROKER_SOCKET", &broker.socket)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start agent-host")?;
    let pid = child.id().context("agent-host has no pid")?;
    let mut peak = 0;
    let mut host_peak = 0;
    let status = loop {
        peak = peak.max(tree_rss_kib(pid));
        host_peak = host_peak.max(rss_kib(pid).unwrap_or(0));
        tokio::select! {
            status = child.wait() => break status?,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    let elapsed = started.elapsed();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use tokio::io::AsyncReadExt;
        stdout.read_to_string(&mut out).await?;
    }
    let processed = out
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("processed"))
        .map(str::trim)
        .unwrap_or("?");
    // The pipeline's own account of the per-shop overhead: lease, four servers, handshakes.
    let set_start = out
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("server sets"))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?");
    println!(
        "pipeline       {} anomalies / {} shops, --concurrency {concurrency}: {:.1} s ({} processed, exit {}), {:.1} ms wall per shop, server set start {set_start} ms per shop, peak RSS {:.0} MiB (agent-host alone {:.0} MiB)",
        args.anomalies,
        args.pipeline_shops,
        elapsed.as_secs_f64(),
        processed,
        status.code().unwrap_or(-1),
        elapsed.as_secs_f64() * 1000.0 / args.pipeline_shops as f64,
        mib(peak),
        mib(host_peak),
    );
    Ok(())
}
