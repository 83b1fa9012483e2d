//! `agent-host demo`: the embedded default end to end, offline, in one command.
//!
//! It starts `upstream-sandbox` (standing in for Google and Meta) with
//! `examples/sandbox-fixtures.toml`, creates a SQLite database in a data directory seeded with
//! `examples/demo-shops.toml` (what the dashboard would have stored: one shop with all four
//! sources, one without ads, one whose Google grant was revoked, one with nothing), starts
//! `credential-broker` on a private socket, records a few anomalies, and runs the pipeline:
//! per shop a lease and server set, per anomaly the teams' evidence, findings and
//! recommendations, notifications for what must be connected or reconnected. Then it prints
//! the summary, the notifications and the integration health, and writes the report.
//!
//! The demo never touches a token: the broker alone reads the integrations and refreshes; the
//! servers get short-lived access tokens over the socket. Each run starts from a fresh
//! database, so re-running it shows the same story.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use broker_proto::client::BrokerClient;
use chrono::NaiveDate;
use pipeline_store::{NewAnomaly, Severity, Store};
use tokio::process::Child;

use crate::children::{sibling, start_listening};
use crate::pipeline::teams::{self, number, percent};
use crate::pipeline::{self, PipelineArgs, report};
use crate::server_set::{Credentials, ServerSet, SetConfig};
use broker_proto::Provider;
use std::sync::Arc;

/// The sandbox fixtures and demo shops the demo runs on (the same files users can start the
/// sandbox and seed a database with).
const FIXTURES: &str = include_str!("../../examples/sandbox-fixtures.toml");
const SHOPS: &str = include_str!("../../examples/demo-shops.toml");
/// The sandbox's OAuth client (fake; the broker refreshes with it).
const CLIENT_ID: &str = "sandbox-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "sandbox-client-secret";

const ACME: &str = "cac9d883-015f-478e-a93f-32ef401582a3";
const BLOOM: &str = "6f1f8a57-1c5e-4e53-9d1a-2b0b7d2c9e41";
const REVOKED: &str = "9b2c4d6e-8f10-4a12-b314-c516d718e920";
const BAKERY: &str = "e7f8a9b0-c1d2-4e3f-8a4b-5c6d7e8f9a0b";

/// What a detector found in the demo shops: (shop, source, metric, severity, observed,
/// expected). Dates are relative to the sandbox's today. Where the demo can read the source,
/// observed and expected are measured from the sandbox's data as the teams will measure them
/// ([`measure`]), so the anomaly and its explanation agree; these numbers stand only where
/// nothing can be read (a revoked grant, a source that is not connected).
const ANOMALIES: &[(&str, &str, &str, Severity, f64, f64)] = &[
    (ACME, "ga4", "revenue", Severity::High, 64_870.0, 76_300.0),
    (ACME, "gsc", "clicks", Severity::Medium, 3_490.0, 7_430.0),
    (ACME, "meta_ads", "spend", Severity::Low, 7_885.0, 7_140.0),
    (BLOOM, "ga4", "sessions", Severity::High, 26_470.0, 37_900.0),
    (
        REVOKED,
        "ga4",
        "revenue",
        Severity::Critical,
        8_400.0,
        11_900.0,
    ),
    (
        BAKERY,
        "store",
        "revenue",
        Severity::Medium,
        5_400.0,
        7_100.0,
    ),
];

/// `agent-host demo` flags.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The date the sandbox treats as today (YYYY-MM-DD); default: the real date.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
    /// Where the demo keeps its database, socket and report (default:
    /// $XDG_DATA_HOME/berryboo/demo or ~/.local/share/berryboo/demo). Re-created each run.
    #[arg(long, value_name = "DIR", env = "BERRYBOO_DEMO_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A shop key for Acme Shop, the gateway started with it, one call through it (Acme's property
/// answers, Bloom's is refused); then how to do it yourself. True when both held.
async fn remote_access(socket: &std::path::Path, sandbox: &str, dir: &std::path::Path) -> bool {
    let attempt = async {
        let (info, key) = BrokerClient::connect(socket)
            .await?
            .create_key(ACME, &[], 90 * 86_400, Some("demo"))
            .await?;
        let mut cmd = crate::children::command(std::env::current_exe()?);
        cmd.args(["gateway", "--listen", "127.0.0.1:0", "--broker-socket"])
            .arg(socket)
            .args(["--api-base", sandbox])
            .env("RUST_LOG", "error");
        let gateway = start_listening(cmd)
            .await
            .context("cannot start the gateway")?;
        let call = |arguments: serde_json::Value| {
            reqwest::Client::new()
                .post(format!("{}/mcp", gateway.url))
                .bearer_auth(key.expose())
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .json(
                    &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "get_property_details", "arguments": arguments}}),
                )
                .send()
        };
        let own = call(serde_json::json!({})).await?.text().await?;
        let foreign = call(serde_json::json!({"property_id": "412345678"}))
            .await?
            .text()
            .await?;
        let reached = own.contains("properties/326784853");
        let refused = foreign.contains("\"isError\":true") && !foreign.contains("Bloom");
        println!(
            "{} key {} for Acme Shop: get_property_details through {}/mcp answered with Acme's property 326784853",
            if reached { "✓" } else { "✗" },
            info.key_id,
            gateway.url
        );
        println!(
            "{} the same key asking for Bloom Florist's property 412345678 was refused",
            if refused { "✓" } else { "✗" }
        );
        println!(
            "\nTo try it yourself (the key is shown once; `credential-broker key list|revoke` manage it):\n  \
             export KEY={key}\n  \
             target/debug/upstream-sandbox --fixtures {fixtures} --bind 127.0.0.1:8788 &\n  \
             # the broker needs the sandbox client's id and secret (they are in {fixtures}):\n  \
             BERRYBOO_GOOGLE_CLIENT_ID={CLIENT_ID} BERRYBOO_GOOGLE_CLIENT_SECRET=… BERRYBOO_API_BASE=http://127.0.0.1:8788 \\\n    \
             target/debug/credential-broker serve --database sqlite://{db} --socket {socket} &\n  \
             target/debug/agent-host gateway --broker-socket {socket} --api-base http://127.0.0.1:8788 &\n  \
             curl -s http://127.0.0.1:8787/mcp -H \"Authorization: Bearer $KEY\" -H 'Accept: application/json, text/event-stream' \\\n    \
             -H 'Content-Type: application/json' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}'",
            key = key.expose(),
            fixtures = dir.join("sandbox-fixtures.toml").display(),
            db = dir.join("berryboo.db").display(),
            socket = socket.display(),
        );
        anyhow::Ok(reached && refused)
    };
    match attempt.await {
        Ok(ok) => ok,
        Err(e) => {
            println!("✗ the gateway could not be shown: {e:#}");
            false
        }
    }
}

fn heading(title: &str) {
    println!(
        "\n━━ {title} {}",
        "━".repeat(60usize.saturating_sub(title.chars().count()))
    );
}

fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("berryboo/demo")
}

/// Runs `credential-broker` with `args` to completion.
async fn broker_command(broker: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let mut cmd = crate::children::command(broker);
    cmd.args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = crate::children::spawning(|| cmd.spawn())?
        .wait_with_output()
        .await?;
    if !out.status.success() {
        bail!(
            "credential-broker {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Starts `credential-broker serve` and waits until its socket answers.
async fn start_broker(
    broker: &Path,
    database: &str,
    socket: &Path,
    env: &[(&str, &str)],
) -> Result<Child> {
    let mut cmd = crate::children::command(broker);
    cmd.args(["serve", "--database", database, "--socket"])
        .arg(socket)
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child =
        crate::children::spawning(|| cmd.spawn()).context("cannot start credential-broker")?;
    for _ in 0..500 {
        if BrokerClient::connect(socket).await.is_ok() {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            bail!("credential-broker exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!(
        "credential-broker did not open {} in 10 s",
        socket.display()
    )
}

/// What really happened in the demo's window, scripted into the sandbox so the teams have
/// something to find: Acme lost most of its organic search traffic (Search Console follows);
/// Bloom lost a third of every channel at once (what a broken tag or an outage looks like).
fn incidents(today: NaiveDate) -> String {
    let (from, to) = (
        today - chrono::Duration::days(10),
        today - chrono::Duration::days(4),
    );
    format!(
        "
# Added by `agent-host demo`: the anomalies' causes.
[[incidents]]
ga4_property = \"326784853\"
from = \"{from}\"
to = \"{to}\"
factor = 0.45
channel = \"Organic Search\"

[[incidents]]
ga4_property = \"412345678\"
from = \"{from}\"
to = \"{to}\"
factor = 0.65
"
    )
}

/// (observed, expected) of `metric` in `shop`'s `source` over the demo's window against its
/// baseline scaled to the window, read through the shop's own server as the source's team reads
/// it; `None` when the source cannot be read.
async fn measure(
    config: &Arc<SetConfig>,
    shop: &str,
    source: &str,
    metric: &str,
    today: NaiveDate,
) -> Option<(f64, f64)> {
    let provider: Provider = source.parse().ok()?;
    let set = ServerSet::start(
        config.clone(),
        Credentials::Broker {
            shop_id: shop.to_owned(),
        },
        &[provider],
    )
    .await
    .ok()?;
    let day = |n: i64| today - chrono::Duration::days(n);
    let probe = pipeline_store::Anomaly {
        id: 0,
        shop_id: shop.to_owned(),
        source: source.to_owned(),
        metric: metric.to_owned(),
        window: (day(10), day(4)),
        baseline: (day(38), day(11)),
        observed: 0.0,
        expected: 0.0,
        severity: Severity::Low,
        status: pipeline_store::Status::Open,
        attempts: 0,
        claimed_by: None,
        claim_expires_ms: None,
        processed_by: None,
        last_error: None,
        note: None,
        created_ms: 0,
    };
    let mut reader = teams::Reader::new(&set, &probe, provider);
    let measured = teams::analyse(&mut reader, &probe).await.ok();
    set.shutdown().await;
    measured.map(|a| (a.window_total, a.expected_total))
}

/// Records the demo's anomalies (window: 10 to 4 days ago, so Search Console's final data
/// covers it; baseline: the four weeks before), measured where the source can be read.
async fn seed_anomalies(
    database: &str,
    today: NaiveDate,
    config: &Arc<SetConfig>,
) -> Result<usize> {
    let store = Store::open(database, false).await?;
    store.migrate().await?;
    let day = |n: i64| today - chrono::Duration::days(n);
    for (shop, source, metric, severity, observed, expected) in ANOMALIES {
        let (observed, expected) = measure(config, shop, source, metric, today)
            .await
            .unwrap_or((*observed, *expected));
        store
            .add_anomaly(&NewAnomaly {
                shop_id: (*shop).to_owned(),
                source: (*source).to_owned(),
                metric: (*metric).to_owned(),
                window: (day(10), day(4)),
                baseline: (day(38), day(11)),
                observed,
                expected,
                severity: *severity,
                note: Some("demo detector".into()),
            })
            .await?;
    }
    store.close().await;
    Ok(ANOMALIES.len())
}

/// Runs the demo; exit code 0 when every anomaly was processed and each shop's story played
/// out (Acme analysed by all four teams, Revoked Shop told to reconnect, Corner Bakery told to
/// connect).
pub async fn run(args: DemoArgs, file: &crate::config::HostFile) -> Result<ExitCode> {
    let sandbox_bin = sibling("upstream-sandbox")?;
    let broker_bin = sibling("credential-broker")?;
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    for stale in ["berryboo.db", "berryboo.db-wal", "berryboo.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let today = match &args.today {
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .with_context(|| format!("--today {t:?} is not a date (YYYY-MM-DD)"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let fixtures = dir.join("sandbox-fixtures.toml");
    std::fs::write(&fixtures, format!("{FIXTURES}{}", incidents(today)))?;
    let seed = dir.join("demo-shops.toml");
    std::fs::write(&seed, SHOPS)?;

    let mut cmd = crate::children::command(sandbox_bin);
    cmd.args(["--bind", "127.0.0.1:0", "--fixtures"])
        .arg(&fixtures)
        .args(["--today", &today.to_string()])
        .env("RUST_LOG", "error");
    let sandbox = start_listening(cmd)
        .await
        .context("cannot start upstream-sandbox")?;
    println!(
        "berryboo demo: offline; Google's and Meta's APIs are emulated by upstream-sandbox at {}",
        sandbox.url
    );

    let database = format!("sqlite://{}", dir.join("berryboo.db").display());
    let socket: PathBuf = dir.join("run/broker.sock");
    let env = [
        ("BERRYBOO_GOOGLE_CLIENT_ID", CLIENT_ID),
        ("BERRYBOO_GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
        ("BERRYBOO_API_BASE", sandbox.url.as_str()),
    ];
    broker_command(&broker_bin, &["migrate", "--database", &database], &env).await?;
    broker_command(
        &broker_bin,
        &[
            "seed",
            "--database",
            &database,
            "--file",
            &seed.display().to_string(),
        ],
        &env,
    )
    .await?;
    let mut broker = start_broker(&broker_bin, &database, &socket, &env).await?;
    println!(
        "Data directory: {} (SQLite database berryboo.db, broker socket run/broker.sock)",
        dir.display()
    );
    println!(
        "credential-broker: 4 demo shops seeded (Acme Shop: all four sources; Bloom Florist: no ads; Revoked Shop: Google grant revoked; Corner Bakery: nothing connected)"
    );
    let measuring = Arc::new(SetConfig {
        broker_socket: socket.clone(),
        servers_dir: crate::children::servers_dir()?,
        api_base: Some(sandbox.url.clone()),
        lease_ttl: crate::server_set::HOST_LEASE_TTL,
        child_log: "error".into(),
        host_key: file.host_key.clone(),
        metrics: Default::default(),
    });
    let n = seed_anomalies(&database, today, &measuring).await?;
    println!(
        "Anomalies: {n} open in pipeline_anomaly (window {} to {})",
        today - chrono::Duration::days(10),
        today - chrono::Duration::days(4)
    );

    heading("Pipeline");
    let report_html = dir.join("report.html");
    let (code, processed) = pipeline::run_with(
        PipelineArgs {
            database: database.clone(),
            broker_socket: Some(socket.clone()),
            api_base: Some(sandbox.url.clone()),
            limit: 100,
            concurrency: 4,
            shop: None,
            report: Some(report_html.clone()),
            worker_id: Some("demo".into()),
            claim_ttl: Duration::from_secs(300),
            max_attempts: 3,
            retry_delay: Duration::from_secs(300),
            webhook: None,
            dashboard_url: pipeline::notify::DEFAULT_DASHBOARD_URL.into(),
            quota_reserve: mcp_common::quota::DEFAULT_RESERVE_PCT,
            metrics: None,
        },
        file,
        true,
    )
    .await?;

    let store = Store::open(&database, false).await?;
    heading("What the teams found");
    let entries = report::load(&store, &processed).await?;
    for e in &entries {
        let a = &e.anomaly;
        println!(
            "\n{} · {} {} ({} vs {} expected, {})",
            e.shop_name,
            a.source,
            a.metric,
            number(a.observed),
            number(a.expected),
            percent(a.change())
        );
        for r in &e.recommendations {
            println!("  [{}] {}", r.team, r.summary);
            if let Some(first) = r.recommendations.first() {
                println!("      → {first}");
            }
        }
    }
    for (ext, what) in [("md", "Markdown"), ("json", "JSON")] {
        report::write(&store, &processed, &dir.join(format!("report.{ext}"))).await?;
        println!(
            "\n{what} report: {}",
            dir.join(format!("report.{ext}")).display()
        );
    }

    heading("Notifications");
    let notes = store.notifications(None, 100).await?;
    let mut listed = Vec::new();
    for n in &notes {
        let shop = store
            .shop_name(&n.shop_id)
            .await
            .unwrap_or_else(|| n.shop_id.clone());
        listed.push((shop, n));
    }
    // Reconnects first (they are urgent), then by shop and service; the first of each kind is
    // shown in full.
    listed.sort_by(|a, b| (&b.1.kind, &a.0, &a.1.service).cmp(&(&a.1.kind, &b.0, &b.1.service)));
    let mut shown = std::collections::HashSet::new();
    for (shop, n) in &listed {
        println!("{} · {} · {}: {}", shop, n.service, n.kind, n.subject);
        if shown.insert(n.kind.clone()) {
            println!(
                "{}",
                n.body
                    .lines()
                    .map(|l| format!("    {l}\n"))
                    .collect::<String>()
            );
        }
    }

    heading("Integration health");
    // The broker's report over its socket, as `agent-host health` prints it.
    let health = BrokerClient::connect(&socket).await?.health(30).await?;
    print!("{}", broker_views::health_text(&health, 30));

    // Did each shop's story play out?
    let recs = store.recommendations(None, None).await?;
    let analysed = |shop: &str, team: &str| {
        recs.iter()
            .any(|r| r.shop_id == shop && r.team == team && r.outcome == "analysed")
    };
    let noted = |shop: &str, kind: &str| notes.iter().any(|n| n.shop_id == shop && n.kind == kind);
    let checks = [
        (
            "every anomaly processed",
            processed.len() == ANOMALIES.len(),
        ),
        (
            "Acme Shop analysed by all four teams",
            ["ga4", "gsc", "google_ads", "meta_ads"]
                .iter()
                .all(|t| analysed(ACME, t)),
        ),
        (
            "Bloom Florist: GA4 analysed, Meta Ads skipped",
            analysed(BLOOM, "ga4") && noted(BLOOM, "connect"),
        ),
        (
            "Revoked Shop: reconnect notification, Meta Ads still analysed",
            noted(REVOKED, "reconnect") && analysed(REVOKED, "meta_ads"),
        ),
        (
            "Corner Bakery: database-only analysis",
            analysed(BAKERY, "database") && noted(BAKERY, "connect"),
        ),
    ];
    store.close().await;

    heading("Remote access");
    let remote = remote_access(&socket, &sandbox.url, &dir).await;
    heading("Summary");
    let mut ok = code == ExitCode::SUCCESS;
    let checks = checks.into_iter().chain([(
        "Acme Shop reached through the gateway with its shop key, and only Acme Shop",
        remote,
    )]);
    for (what, passed) in checks {
        println!("{} {what}", if passed { "✓" } else { "✗" });
        ok &= passed;
    }
    println!("\nOpen the report: {}", report_html.display());
    let _ = broker.start_kill();
    let _ = broker.wait().await;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
