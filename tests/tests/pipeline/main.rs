//! `agent-host pipeline` end to end: the real agent-host, broker, server and sandbox binaries.
//!
//! - the guide's three degradation scenarios (some integrations, none, broken credentials),
//!   an unknown shop, isolation of every evidence row, notifications rendered, de-duplicated
//!   and delivered to a signed webhook, the report;
//! - two workers sharing one PostgreSQL exactly once, and a worker killed mid-batch whose
//!   anomalies another worker takes over;
//! - a model writing the recommendation text from the evidence.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berryboo_e2e::{
    BrokerProc, Sandbox, TestPostgres, bin, chat_command, full_shop_id, full_shops_seed, scripted,
};
use pipeline_store::{Status, Store};
use serde_json::{Value, json};
use tokio::process::Command;

mod failures;
mod metrics;
mod outcomes;
mod quota;
mod runs;

const FULL: &str = "a1111111-1111-4111-8111-111111111111";
const NO_META: &str = "a2222222-2222-4222-8222-222222222222";
const BROKEN: &str = "a3333333-3333-4333-8333-333333333333";
const NONE: &str = "a4444444-4444-4444-8444-444444444444";
const UNKNOWN: &str = "a5555555-5555-4555-8555-555555555555";

/// Each shop's accounts: no evidence row of one shop may mention another's.
const ACCOUNTS: &[(&str, &[&str])] = &[
    (
        FULL,
        &["326784853", "acme-shop.example", "1234567890", "act_111"],
    ),
    (NO_META, &["412345678", "bloom.example"]),
    (BROKEN, &["412345679", "act_112"]),
];

fn seed() -> String {
    let g = "https://www.googleapis.com/auth";
    let meta_expires = (chrono::Utc::now() + chrono::Duration::days(50))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"
[[shops]]
id = "{FULL}"
name = "Full Shop"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-all-e2e", property_id = "326784853", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-all-e2e", property_url = "sc-domain:acme-shop.example", granted_scopes = ["{g}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-all-e2e", customer_id = "1234567890", granted_scopes = ["{g}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{NO_META}"
name = "No Meta Shop"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-bloom-e2e", property_id = "412345678", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "sc-domain:bloom.example", granted_scopes = ["{g}/webmasters.readonly"] }}

[[shops]]
id = "{BROKEN}"
name = "Broken Shop"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-rotating-e2e", property_id = "412345679", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-expiring-e2e", expires_at = "{meta_expires}", ad_account_id = "act_112", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{NONE}"
name = "Empty Shop"
"#
    )
}

/// The sandbox, [`seed`]'s shops in a fresh SQLite database (the directory must outlive the
/// test), and a broker over them.
async fn shops() -> (Sandbox, tempfile::TempDir, String, BrokerProc) {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    (sandbox, dir, db, broker)
}

/// `agent-host ARGS` with the pipeline's environment.
fn agent_host(db: &str, broker: &BrokerProc, sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("agent-host"));
    cmd.args(args)
        .env("BERRYBOO_DATABASE_URL", db)
        .env("BERRYBOO_BROKER_SOCKET", &broker.socket)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn output(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.output().await.expect("agent-host runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Adds an anomaly through the CLI; returns its id.
async fn add(
    db: &str,
    broker: &BrokerProc,
    sandbox: &Sandbox,
    shop: &str,
    source: &str,
    metric: &str,
) -> i64 {
    let (code, out, err) = output(agent_host(
        db,
        broker,
        sandbox,
        &[
            "anomaly",
            "add",
            "--shop",
            shop,
            "--source",
            source,
            "--metric",
            metric,
            "--window",
            "2026-10-08..2026-10-14",
            "--baseline",
            "2026-09-10..2026-10-07",
            "--observed",
            "700",
            "--expected",
            "1000",
            "--severity",
            "high",
        ],
    ))
    .await;
    assert_eq!(code, 0, "anomaly add: {out}{err}");
    out.trim().parse().expect("anomaly add prints the id")
}

/// The number after `label` in the pipeline's summary.
fn summary(stdout: &str, label: &str) -> usize {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in the summary:\n{stdout}"))
}

/// What the webhook received: (headers, body) per request it accepted.
type Deliveries = Arc<Mutex<Vec<(HashMap<String, String>, String)>>>;

/// A webhook that fails its first request with 500, then records (headers, body).
async fn webhook() -> (String, Deliveries) {
    let seen: Deliveries = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (log, calls) = (log.clone(), calls.clone());
            async move {
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                let headers = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                log.lock().expect("log").push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}
