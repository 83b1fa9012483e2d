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

use berryboo_e2e::{BrokerProc, Sandbox, TestPostgres, bin, full_shop_id, full_shops_seed};
use pipeline_store::{Status, Store};
use serde_json::{Value, json};
use tokio::process::Command;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degradation_isolation_notifications_and_report() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    // Scenario 3: the grant behind BROKEN's GA4 was revoked at Google.
    sandbox.revoke("rotating").await.expect("revoke");

    let full = add(&db, &broker, &sandbox, FULL, "ga4", "revenue").await;
    let no_meta = add(&db, &broker, &sandbox, NO_META, "ga4", "sessions").await;
    let broken = add(&db, &broker, &sandbox, BROKEN, "ga4", "revenue").await;
    let none = add(&db, &broker, &sandbox, NONE, "store", "revenue").await;
    let unknown = add(&db, &broker, &sandbox, UNKNOWN, "ga4", "revenue").await;

    let (hook, deliveries) = webhook().await;
    let report = dir.path().join("out/report.html");
    let mut cmd = agent_host(
        &db,
        &broker,
        &sandbox,
        &[
            "pipeline",
            "--concurrency",
            "3",
            "--webhook",
            &hook,
            "--report",
            report.to_str().expect("path"),
        ],
    );
    cmd.env("BERRYBOO_NOTIFY_WEBHOOK_SECRET", "whsec-test-secret");
    let (code, out, err) = output(cmd).await;
    // The unknown shop's anomaly fails (with its reason); the batch still went on.
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(summary(&out, "processed"), 4, "{out}");
    assert_eq!(summary(&out, "failures"), 1, "{out}");
    assert!(
        out.contains(&format!("anomaly {unknown}: unknown shop {UNKNOWN}")),
        "{out}"
    );
    assert!(
        out.contains("No Meta Shop: Meta Ads — No Meta Ads integration found for shop"),
        "{out}"
    );
    assert!(
        out.contains("Broken Shop: Google Analytics — The Google Analytics authorization for shop"),
        "{out}"
    );
    // A warning names what was skipped.
    assert!(err.contains("skipping Meta Ads"), "{err}");

    let store = Store::open(&db, false).await.expect("open");
    let status = |id| {
        let store = store.clone();
        async move {
            store
                .anomaly(id)
                .await
                .expect("read")
                .expect("exists")
                .status
        }
    };
    for id in [full, no_meta, broken, none] {
        assert_eq!(status(id).await, Status::Processed);
    }
    assert_eq!(status(unknown).await, Status::Failed);

    let recs = store
        .recommendations(None, None)
        .await
        .expect("recommendations");
    let outcome = |anomaly: i64, team: &str| {
        recs.iter()
            .find(|r| r.anomaly_id == anomaly && r.team == team)
            .map(|r| r.outcome.clone())
            .unwrap_or_else(|| format!("(no {team} row for anomaly {anomaly})"))
    };
    // Every source of the full shop was analysed, with numbers.
    for team in ["ga4", "gsc", "google_ads", "meta_ads"] {
        assert_eq!(outcome(full, team), "analysed", "{team}");
    }
    let ga4 = recs
        .iter()
        .find(|r| r.anomaly_id == full && r.team == "ga4")
        .expect("ga4 row");
    assert!(
        ga4.findings[0].starts_with("Google Analytics revenue: "),
        "{:?}",
        ga4.findings
    );
    assert!(
        ga4.analysis["series"]
            .as_array()
            .is_some_and(|s| s.len() >= 28),
        "{}",
        ga4.analysis
    );
    assert!(ga4.analysis["breakdowns"][0]["dimension"] == "channel");
    // Scenario 1: some integrations; the others ran.
    assert_eq!(outcome(no_meta, "ga4"), "analysed");
    assert_eq!(outcome(no_meta, "gsc"), "analysed");
    assert_eq!(outcome(no_meta, "meta_ads"), "skipped");
    assert_eq!(outcome(no_meta, "google_ads"), "skipped");
    // Scenario 3: broken credentials; the shop's other source went on.
    assert_eq!(outcome(broken, "ga4"), "broken");
    assert_eq!(outcome(broken, "meta_ads"), "analysed");
    // Scenario 2: nothing connected; the database's view and a recommendation to connect.
    assert_eq!(outcome(none, "database"), "analysed");
    let db_only = recs
        .iter()
        .find(|r| r.anomaly_id == none && r.team == "database")
        .expect("row");
    assert!(
        db_only.recommendations.iter().any(|r| r.starts_with(
            "Connect Google Analytics, Google Search Console, Google Ads, Meta Ads in the dashboard"
        )),
        "{:?}",
        db_only.recommendations
    );
    assert!(
        db_only.findings[0].contains("700") && db_only.findings[0].contains("-30.0%"),
        "{:?}",
        db_only.findings
    );

    // Isolation: every evidence row is its own shop's, and mentions no other shop's account.
    let evidence = store.evidence(None, None).await.expect("evidence");
    assert!(evidence.len() >= 15, "{} evidence rows", evidence.len());
    let owner: HashMap<i64, &str> = [(full, FULL), (no_meta, NO_META), (broken, BROKEN)].into();
    for e in &evidence {
        let shop = owner[&e.anomaly_id];
        assert_eq!(e.shop_id, shop);
        let text = e.result.to_string() + &e.arguments.to_string() + &e.account;
        for (other, ids) in ACCOUNTS.iter().filter(|(s, _)| *s != shop) {
            for id in *ids {
                assert!(
                    !text.contains(id),
                    "evidence {}/{} of {shop} mentions {other}'s {id}",
                    e.team,
                    e.label
                );
            }
        }
    }
    assert!(
        evidence
            .iter()
            .any(|e| e.shop_id == FULL && e.team == "google_ads" && e.account == "1234567890")
    );

    // Notifications: connect for what is missing, reconnect for what broke, the guide's text.
    let notes = store.notifications(None, 100).await.expect("notifications");
    let kinds: HashSet<(String, String, String)> = notes
        .iter()
        .map(|n| (n.shop_id.clone(), n.service.clone(), n.kind.clone()))
        .collect();
    for (shop, service, kind) in [
        (NO_META, "Meta Ads", "connect"),
        (NO_META, "Google Ads", "connect"),
        (BROKEN, "Google Analytics", "reconnect"),
        (NONE, "Google Analytics", "connect"),
        (NONE, "Meta Ads", "connect"),
    ] {
        assert!(
            kinds.contains(&(shop.into(), service.into(), kind.into())),
            "{shop} {service} {kind}: {kinds:?}"
        );
    }
    assert!(
        !kinds.iter().any(|(s, _, _)| s == FULL),
        "the full shop needs nothing"
    );
    let reconnect = notes
        .iter()
        .find(|n| n.kind == "reconnect")
        .expect("reconnect");
    assert_eq!(reconnect.subject, "Reconnect Google Analytics Integration");
    assert!(
        reconnect.body.starts_with(
            "Hi Broken Shop,\n\nYour Google Analytics integration needs to be reconnected"
        ),
        "{}",
        reconnect.body
    );

    // Delivered to the webhook (after one 500), each signed.
    let delivered = deliveries.lock().expect("log").clone();
    assert_eq!(delivered.len(), notes.len());
    for (headers, body) in &delivered {
        let expected = format!(
            "sha256={}",
            agent_host::pipeline::notify::signature("whsec-test-secret", body.as_bytes())
        );
        assert_eq!(headers.get("x-berryboo-signature"), Some(&expected));
        let v: Value = serde_json::from_str(body).expect("json body");
        assert!(v["subject"].as_str().is_some_and(|s| !s.is_empty()));
    }
    assert!(store.undelivered(9).await.expect("undelivered").is_empty());

    // The report: one section per shop, charts, no secrets.
    let html = std::fs::read_to_string(&report).expect("report written");
    for needle in [
        "Full Shop",
        "No Meta Shop",
        "Broken Shop",
        "Empty Shop",
        "<svg",
        "Recommendations",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    assert!(
        !html.contains("ya29.") && !html.contains("bbl_") && !html.contains("sandbox-meta"),
        "report leaks a secret"
    );

    // Run again: nothing left to claim. A new anomaly for the empty shop the same day adds no
    // duplicate notifications.
    let again = add(&db, &broker, &sandbox, NONE, "store", "orders").await;
    let (code, out, err) = output(agent_host(
        &db,
        &broker,
        &sandbox,
        &[
            "pipeline",
            "--report",
            dir.path().join("r.md").to_str().expect("path"),
        ],
    ))
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(summary(&out, "processed"), 1, "{out}");
    assert!(
        out.contains(
            "notifications    0 new (0 connect, 0 reconnect, 0 expiring), 4 already sent today"
        ),
        "{out}"
    );
    assert_eq!(status(again).await, Status::Processed);
    let md = std::fs::read_to_string(dir.path().join("r.md")).expect("markdown report");
    assert!(
        md.starts_with("# Anomaly report") && md.contains("## Empty Shop"),
        "{md}"
    );
    assert_eq!(
        store
            .notifications(None, 100)
            .await
            .expect("notifications")
            .len(),
        notes.len()
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("missing.db").display());
    let run = |args: Vec<String>| async move {
        let out = Command::new(bin("agent-host"))
            .args(&args)
            .output()
            .await
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(vec!["pipeline".into(), "--database".into(), db.clone()]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.db"), "{err}");
    let args = |window: &str, source: &str| {
        [
            "anomaly",
            "add",
            "--database",
            &db,
            "--shop",
            "s",
            "--source",
            source,
            "--metric",
            "revenue",
            "--window",
            window,
            "--baseline",
            "2026-09-01..2026-09-30",
            "--observed",
            "1",
            "--expected",
            "2",
        ]
        .map(String::from)
        .to_vec()
    };
    let (code, err) = run(args("2026-10-14", "ga4")).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("use FIRST..LAST"), "{err}");
    let (code, err) = run(args("2026-10-20..2026-10-14", "ga4")).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("the first day is after the last"), "{err}");
    let (code, err) = run(args("2026-10-14..2026-10-20", "bing")).await;
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--source \"bing\": use one of ga4, gsc, google_ads, meta_ads, store"),
        "{err}"
    );
}

/// Workers on one PostgreSQL: two at once share the work exactly once; one killed mid-batch
/// leaves claims that lapse and are finished by another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_one_postgres_exactly_once_and_survive_a_killed_worker() {
    let Some(pg) = TestPostgres::create("workers_share_one_postgres_exactly_once") else {
        return;
    };
    let sandbox = Sandbox::start().await.expect("sandbox");
    BrokerProc::prepare_with(&sandbox, &pg.url, &full_shops_seed(8))
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &pg.url, "warn", "")
        .await
        .expect("broker");
    let mut ids = Vec::new();
    for i in 0..32 {
        ids.push(
            add(
                &pg.url,
                &broker,
                &sandbox,
                &full_shop_id(i % 8),
                "gsc",
                "clicks",
            )
            .await,
        );
    }

    let worker = |name: &str, ttl: &str| {
        agent_host(
            &pg.url,
            &broker,
            &sandbox,
            &[
                "pipeline",
                "--concurrency",
                "2",
                "--worker-id",
                name,
                "--claim-ttl",
                ttl,
            ],
        )
    };
    let (a, b) = tokio::join!(output(worker("A", "1m")), output(worker("B", "1m")));
    assert_eq!(a.0, 0, "A: {}\n{}", a.1, a.2);
    assert_eq!(b.0, 0, "B: {}\n{}", b.1, b.2);
    let (na, nb) = (summary(&a.1, "processed"), summary(&b.1, "processed"));
    eprintln!("worker A processed {na}, worker B {nb}");
    assert_eq!(na + nb, 32, "A:\n{}\nB:\n{}", a.1, b.1);
    let store = Store::open(&pg.url, false).await.expect("open");
    for id in &ids {
        let an = store.anomaly(*id).await.expect("read").expect("exists");
        assert_eq!(an.status, Status::Processed);
        assert_eq!(an.attempts, 1, "anomaly {id} was claimed twice");
        assert!(matches!(an.processed_by.as_deref(), Some("A" | "B")));
    }
    // One recommendation per anomaly and team (gsc, ga4), never duplicated.
    assert_eq!(
        store.recommendations(None, None).await.expect("recs").len(),
        64
    );

    // A worker stuck on a slow upstream call is killed; its claims lapse; C finishes its work.
    let mut stuck_ids = Vec::new();
    for i in 0..4 {
        stuck_ids.push(
            add(
                &pg.url,
                &broker,
                &sandbox,
                &full_shop_id(i),
                "gsc",
                "clicks",
            )
            .await,
        );
    }
    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "delay_ms": 60000, "count": 1}))
        .await
        .expect("fault");
    let mut stuck = agent_host(
        &pg.url,
        &broker,
        &sandbox,
        &[
            "pipeline",
            "--concurrency",
            "1",
            "--worker-id",
            "STUCK",
            "--claim-ttl",
            "2s",
        ],
    )
    .spawn()
    .expect("spawn");
    let mut claimed = false;
    for _ in 0..200 {
        let open = store
            .anomalies(None, Some(Status::Claimed), 100)
            .await
            .expect("list");
        if open.len() == 4
            && open
                .iter()
                .all(|a| a.claimed_by.as_deref() == Some("STUCK"))
        {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(claimed, "the stuck worker never claimed its batch");
    // Operators see whose claims they are, and until when.
    let (code, listed, _) = output(agent_host(
        &pg.url,
        &broker,
        &sandbox,
        &["anomaly", "list", "--status", "claimed"],
    ))
    .await;
    assert_eq!(code, 0, "{listed}");
    assert_eq!(
        listed.matches("(claimed by STUCK until ").count(),
        4,
        "{listed}"
    );
    // Killed once it hangs on the slow call (the sandbox holds it).
    for _ in 0..1200 {
        if sandbox.counters().await.expect("counters")["delayed"].as_u64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stuck.start_kill().expect("kill");
    stuck.wait().await.expect("reaped");
    // Its claims lapse (no heartbeat extends them any more).
    for _ in 0..1200 {
        let now = pipeline_store::now_ms();
        let held = store
            .anomalies(None, Some(Status::Claimed), 100)
            .await
            .expect("list");
        if held
            .iter()
            .all(|a| a.claim_expires_ms.is_none_or(|until| until < now))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = output(worker("C", "1m")).await;
    assert_eq!(c.0, 0, "C: {}\n{}", c.1, c.2);
    // The stuck worker may have finished other shops before it was killed; C finishes the
    // rest, each exactly once, and the one it was stuck on is among them.
    let mut by_c = 0;
    for id in &stuck_ids {
        let an = store.anomaly(*id).await.expect("read").expect("exists");
        assert_eq!(an.status, Status::Processed, "anomaly {id}");
        match an.processed_by.as_deref() {
            Some("C") => {
                by_c += 1;
                assert_eq!(an.attempts, 2, "anomaly {id}");
            }
            Some("STUCK") => assert_eq!(an.attempts, 1, "anomaly {id}"),
            other => panic!("anomaly {id} processed by {other:?}"),
        }
    }
    assert!(by_c >= 1, "C took over nothing");
    assert_eq!(summary(&c.1, "processed"), by_c, "{}", c.1);
    store.close().await;
}

/// With a model configured, the model writes the recommendations from the computed findings;
/// the evidence stays stored beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_writes_recommendations_from_the_evidence() {
    use axum::response::IntoResponse;
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().expect("log").push(body);
                axum::Json(json!({
                    "id": "c1", "object": "chat.completion", "created": 1, "model": "scripted",
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                        "content": "- Restore the Paid Search budget: it lost the most.\n- Test checkout on mobile."}}]
                }))
                .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let id = add(&db, &broker, &sandbox, NO_META, "gsc", "clicks").await;
    let mut cmd = agent_host(&db, &broker, &sandbox, &["pipeline"]);
    cmd.env("BERRYBOO_LLM_BASE_URL", format!("http://{addr}/v1"))
        .env("BERRYBOO_LLM_MODEL", "scripted");
    let (code, out, err) = output(cmd).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let store = Store::open(&db, false).await.expect("open");
    let recs = store.recommendations(Some(id), None).await.expect("recs");
    let analysed: Vec<_> = recs.iter().filter(|r| r.outcome == "analysed").collect();
    assert_eq!(analysed.len(), 2, "{recs:?}");
    for r in analysed {
        assert_eq!(r.author, "model:scripted");
        assert_eq!(
            r.recommendations,
            vec![
                "Restore the Paid Search budget: it lost the most.",
                "Test checkout on mobile."
            ]
        );
        assert!(!r.findings.is_empty(), "the computed findings stay");
    }
    assert!(
        !store
            .evidence(Some(id), None)
            .await
            .expect("evidence")
            .is_empty()
    );
    // The model saw the findings with their numbers, and nothing secret.
    let requests = seen.lock().expect("log").clone();
    assert_eq!(requests.len(), 2);
    let prompt = requests[0].to_string();
    assert!(
        prompt.contains("findings") && prompt.contains("clicks"),
        "{prompt}"
    );
    assert!(
        !prompt.contains("ya29.") && !prompt.contains("bbl_"),
        "{prompt}"
    );
    store.close().await;
}

/// The README's first command: offline, in seconds, and again on the same data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_and_runs_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    for run in 0..2 {
        let out = Command::new(bin("agent-host"))
            .args(["demo", "--today", "2026-10-21", "--data-dir"])
            .arg(dir.path())
            .env("RUST_LOG", "error")
            .env_remove("BERRYBOO_LLM_BASE_URL")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("demo runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in [
            "✓ every anomaly processed",
            "✓ Acme Shop analysed by all four teams",
            "✓ Revoked Shop: reconnect notification, Meta Ads still analysed",
            "✓ Corner Bakery: database-only analysis",
        ] {
            assert!(stdout.contains(line), "run {run} lacks {line:?}:\n{stdout}");
        }
        // The scripted organic search collapse is what the GA4 and Search Console teams find.
        assert!(
            stdout.contains("biggest contributor: channel “Organic Search”"),
            "{stdout}"
        );
        assert!(
            stdout.contains("Reconnect Google Analytics Integration"),
            "{stdout}"
        );
        let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report");
        assert!(html.contains("<svg") && html.contains("Acme Shop"));
        // It opens with what needs doing.
        let todo = html.find("What needs doing").expect("a to-do section");
        assert!(
            todo < html.find("<h2>Acme Shop</h2>").expect("Acme"),
            "first"
        );
        assert!(html.contains("<li>Reconnect Google Analytics for Revoked Shop</li>"));
    }
}

/// Whatever day the demo runs on, each anomaly says what its own source's team measures: the
/// demo measures them from the sandbox's data instead of assuming a story.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_anomalies_agree_with_the_data() {
    for today in ["2026-10-21", "2026-12-05"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(bin("agent-host"))
            .args(["demo", "--today", today, "--data-dir"])
            .arg(dir.path())
            .env("RUST_LOG", "error")
            .env_remove("BERRYBOO_LLM_BASE_URL")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("demo runs");
        assert!(out.status.success(), "{out:?}");
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
        )
        .expect("JSON");
        let mut compared = 0;
        for e in report["anomalies"].as_array().expect("anomalies") {
            let a = &e["anomaly"];
            let claimed = a["observed"].as_f64().unwrap() / a["expected"].as_f64().unwrap() - 1.0;
            let own = e["recommendations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["team"] == a["source"] && r["outcome"] == "analysed");
            if let Some(r) = own {
                let measured = r["analysis"]["change"].as_f64().expect("change");
                assert!(
                    (claimed - measured).abs() < 0.001,
                    "{today}: anomaly {} says {claimed:+.3}, its team measures {measured:+.3}",
                    a["id"]
                );
                compared += 1;
            }
        }
        assert!(compared >= 4, "{today}: {compared} anomalies compared");
    }
}

/// Servers that cannot start are the operator's problem, not the client's: the anomalies are
/// given back for a later run and nobody is told to reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_cannot_start_are_retried_not_emailed() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let id = add(&db, &broker, &sandbox, FULL, "ga4", "revenue").await;
    let empty = tempfile::tempdir().expect("tempdir");
    let mut cmd = agent_host(&db, &broker, &sandbox, &["pipeline", "--retry-delay", "1s"]);
    cmd.env("BERRYBOO_SERVERS_DIR", empty.path());
    let (code, out, err) = output(cmd).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains(&format!("anomaly {id}: no server could start")),
        "{out}"
    );
    let store = Store::open(&db, false).await.expect("open");
    let a = store.anomaly(id).await.expect("read").expect("exists");
    assert_eq!(a.status, Status::Open, "{a:?}\n{out}");
    assert_eq!(a.attempts, 1);
    assert!(
        store
            .notifications(None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .recommendations(Some(id), None)
            .await
            .expect("recs")
            .is_empty()
    );
    // Not before its retry delay; with the servers back, the next run processes it.
    let (code, out, _) = output(agent_host(&db, &broker, &sandbox, &["pipeline"])).await;
    assert_eq!((code, summary(&out, "processed")), (0, 0), "{out}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, out, err) = output(agent_host(&db, &broker, &sandbox, &["pipeline"])).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        store
            .anomaly(id)
            .await
            .expect("read")
            .expect("exists")
            .status,
        Status::Processed
    );
    store.close().await;
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// Ctrl-C (or SIGTERM) mid-run: the run stops claiming, hands its unfinished anomalies back
/// as if never claimed, revokes its leases, leaves no server running and exits 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_hands_its_claims_back_and_leaves_nothing_running() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(add(&db, &broker, &sandbox, FULL, "gsc", "clicks").await);
    }
    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "delay_ms": 60000, "count": 1}))
        .await
        .expect("fault");
    let mut cmd = agent_host(&db, &broker, &sandbox, &["pipeline", "--concurrency", "1"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id().expect("pid");
    let store = Store::open(&db, false).await.expect("open");
    let mut servers = Vec::new();
    for _ in 0..200 {
        let claimed = store
            .anomalies(None, Some(Status::Claimed), 10)
            .await
            .expect("list");
        servers = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
            .collect();
        if claimed.len() == 3 && servers.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(servers.len() >= 2, "the run never started its servers");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the run stops promptly")
        .expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(
        stdout.contains("interrupted      3 claimed anomalies handed back unprocessed"),
        "{stdout}"
    );
    for id in &ids {
        let a = store.anomaly(*id).await.expect("read").expect("exists");
        assert_eq!((a.status, a.attempts), (Status::Open, 0), "anomaly {id}");
    }
    for _ in 0..100 {
        if servers.iter().all(|p| !alive(*p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        servers.iter().all(|p| !alive(*p)),
        "servers left running: {servers:?}"
    );
    let revoked = |events: &[Value]| {
        events
            .iter()
            .any(|e| e["action"] == "lease_revoke" && e["outcome"] == "ok")
    };
    let events = berryboo_e2e::audit_until(&sandbox, &db, revoked)
        .await
        .expect("audit");
    let revoked = revoked(&events);
    assert!(revoked, "the interrupted run's lease was not revoked");
    store.close().await;
}

/// When every source fails for a passing reason (upstream errors), the anomaly is not settled
/// with a database-only view: it goes back for a later run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_upstream_failure_is_retried_not_settled() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let id = add(&db, &broker, &sandbox, NO_META, "gsc", "clicks").await;
    for prefix in ["/v1beta/properties/", "/webmasters/v3/"] {
        sandbox
            .fault(json!({"path_prefix": prefix, "status": 400, "count": 1000}))
            .await
            .expect("fault");
    }
    let (code, out, err) = output(agent_host(&db, &broker, &sandbox, &["pipeline"])).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains(&format!("anomaly {id}: its own source failed")),
        "{out}"
    );
    let store = Store::open(&db, false).await.expect("open");
    let a = store.anomaly(id).await.expect("read").expect("exists");
    assert_eq!(a.status, Status::Open, "{a:?}");
    assert!(
        store
            .recommendations(Some(id), None)
            .await
            .expect("recs")
            .is_empty()
    );
    assert!(
        store
            .evidence(Some(id), None)
            .await
            .expect("evidence")
            .is_empty()
    );
    assert!(
        store
            .notifications(None, 10)
            .await
            .expect("notes")
            .is_empty()
    );
    store.close().await;
}

/// `agent-host health` reads the broker's report over the socket (the agent host never reads
/// integrations), lists what needs attention, and stays within one frame however many shops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_comes_from_the_broker_and_fits_one_frame() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    // Many shops without integrations: their ids alone would overflow a 64 KiB frame.
    let mut many = seed();
    for i in 0..1500 {
        many.push_str(&format!(
            "\n[[shops]]\nid = \"{}\"\nname = \"Empty {i}\"\n",
            full_shop_id(i)
        ));
    }
    BrokerProc::prepare_with(&sandbox, &db, &many)
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    // Break one grant so something needs attention.
    sandbox.revoke("rotating").await.expect("revoke");
    let lease = broker
        .lease(BROKEN, &[broker_proto::Provider::Ga4])
        .await
        .expect("lease");
    let e = broker
        .client()
        .await
        .expect("client")
        .get_token(&lease.lease, broker_proto::Provider::Ga4, BROKEN)
        .await
        .expect_err("revoked");
    assert!(e.to_string().contains("reconnect"), "{e}");

    let (code, out, err) = output(agent_host(&db, &broker, &sandbox, &["health", "--json"])).await;
    assert_eq!(code, 1, "something needs attention: {out}\n{err}");
    let report: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["shops"], 1504);
    assert_eq!(report["counts_by_type"]["ga4"], 3);
    assert_eq!(report["needs_reconnect"][0]["shop_id"], BROKEN);
    let listed = report["shops_without"]["meta_ads"]
        .as_array()
        .map_or(0, Vec::len) as u64;
    let cut = report["omitted"]["shops_without.meta_ads"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(listed + cut, 1502, "{}", report["omitted"]);
    assert!(cut > 0, "the list was cut to fit a frame");
    let (code, text, _) = output(agent_host(&db, &broker, &sandbox, &["health"])).await;
    assert_eq!(code, 1);
    assert!(
        text.contains("1504 shop(s)")
            && text.contains(&format!(
                "Need reconnection: 1\n  Broken Shop ({BROKEN}) Google Analytics"
            )),
        "{text}"
    );
    assert!(text.contains("meta_ads    1502"), "{text}");
    assert!(text.contains("(--json lists them)"), "{text}");
}

/// GA4 answers 503 to every call while the other sources work: the GA4 anomaly is not
/// processed (it is retried, counted as a failure, `failed` after `--max-attempts`, and the
/// exit status says so), while a Search Console anomaly of the same shop is processed with GA4
/// written down as "could not be read" — and nobody is told to reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anomaly_whose_own_source_fails_is_not_processed() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let own = add(&db, &broker, &sandbox, NO_META, "ga4", "sessions").await;
    let related = add(&db, &broker, &sandbox, NO_META, "gsc", "clicks").await;
    sandbox
        .fault(json!({"path_prefix": "/v1beta/properties/", "status": 503, "count": 100000}))
        .await
        .expect("fault");
    let run = || {
        output(agent_host(
            &db,
            &broker,
            &sandbox,
            &["pipeline", "--retry-delay", "0s", "--max-attempts", "2"],
        ))
    };
    // With no retry delay the run itself retries it, up to --max-attempts.
    let (code, out, err) = run().await;
    assert_eq!(code, 1, "a failure is in the exit status\n{out}\n{err}");
    assert_eq!(
        out.matches(&format!("anomaly {own}: its own source failed"))
            .count(),
        2,
        "{out}"
    );
    assert!(out.contains("processed        1"), "{out}");
    assert!(out.contains("failures         2"), "{out}");
    let store = Store::open(&db, false).await.expect("open");
    let a = store.anomaly(own).await.expect("read").expect("exists");
    assert_eq!((a.status, a.attempts), (Status::Failed, 2), "{a:?}");
    assert!(
        a.last_error.as_deref().unwrap_or("").contains("503"),
        "{a:?}"
    );
    assert!(
        store
            .recommendations(Some(own), None)
            .await
            .expect("recs")
            .is_empty(),
        "nothing is written for an anomaly that was not explained"
    );
    let b = store.anomaly(related).await.expect("read").expect("exists");
    assert_eq!(b.status, Status::Processed, "{b:?}");
    let recs = store
        .recommendations(Some(related), None)
        .await
        .expect("recs");
    let ga4 = recs.iter().find(|r| r.team == "ga4").expect("a GA4 row");
    assert_eq!(ga4.outcome, "failed", "{ga4:?}");
    assert!(
        ga4.summary
            .starts_with("Google Analytics could not be read:"),
        "{ga4:?}"
    );
    assert!(
        recs.iter()
            .any(|r| r.team == "gsc" && r.outcome == "analysed")
    );
    // The shop lacks Ads and Meta (connect notices are right); nothing says reconnect.
    let notes = store.notifications(None, 50).await.expect("notes");
    assert!(
        notes.iter().all(|n| !format!("{n:?}").contains("econnect")),
        "an upstream outage is not the shop's to fix: {notes:?}"
    );
    store.close().await;
}

/// The broker's credential findings reach the client whether or not an anomaly ran into them:
/// a Meta token expiring in 5 days (no Meta app to extend it) gets "Reconnect Meta Ads Before
/// It Expires", a grant the token endpoint refused gets "Reconnect … Integration"; each once,
/// and the broker's `notifications` and the agent host's tell the same story.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_and_refused_credentials_reach_the_client_once() {
    const SOON: &str = "a6666666-6666-4666-8666-666666666666";
    const GONE: &str = "a7777777-7777-4777-8777-777777777777";
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    let expires = chrono::Utc::now() + chrono::Duration::days(5);
    let seed = format!(
        r#"{}
[[shops]]
id = "{SOON}"
name = "Soon Shop"
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-expiring-e2e", expires_at = "{}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{GONE}"
name = "Gone Shop"
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-expired-e2e", expires_at = "2020-01-01T00:00:00Z", ad_account_id = "act_222", granted_scopes = ["ads_read"] }}
"#,
        seed(),
        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    BrokerProc::prepare_with(&sandbox, &db, &seed)
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    // The grant behind BROKEN's GA4 is revoked; an operator's refresh finds out.
    sandbox.revoke("rotating").await.expect("revoke");
    let refresh = broker
        .cli(&["refresh", "--shop", BROKEN])
        .await
        .expect("refresh");
    assert!(
        String::from_utf8_lossy(&refresh.stdout).contains("revoked"),
        "{}{}",
        String::from_utf8_lossy(&refresh.stdout),
        String::from_utf8_lossy(&refresh.stderr)
    );
    // Asking again does not break it anew (nor tell anyone twice).
    let again = broker
        .cli(&["refresh", "--shop", BROKEN])
        .await
        .expect("refresh");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("revoked or has expired"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    // The broker found all three without any anomaly: the expiring and the expired token at
    // its start.
    let found = berryboo_e2e::notifications_until(&sandbox, &db, |n| n.len() >= 3)
        .await
        .expect("broker notifications");
    let finding = |shop: &str, kind: &str| {
        found
            .iter()
            .filter(|n| n["shop_id"] == shop && n["kind"] == kind)
            .count()
    };
    assert_eq!(finding(SOON, "token_expiring"), 1, "{found:?}");
    assert_eq!(finding(BROKEN, "reconnect_required"), 1, "{found:?}");
    assert_eq!(finding(GONE, "reconnect_required"), 1, "{found:?}");
    assert_eq!(
        finding(GONE, "token_expiring"),
        0,
        "expired is not expiring: {found:?}"
    );

    // A run for one shop tells only that shop.
    let (code, out, err) = output(agent_host(
        &db,
        &broker,
        &sandbox,
        &["pipeline", "--shop", BROKEN],
    ))
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("notifications    1 new (0 connect, 1 reconnect, 0 expiring)"),
        "{out}"
    );
    // No anomaly at all: the run still turns the findings into messages, and delivers them.
    let (hook, deliveries) = webhook().await;
    let (code, out, err) = output(agent_host(
        &db,
        &broker,
        &sandbox,
        &["pipeline", "--webhook", &hook],
    ))
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(summary(&out, "processed"), 0, "{out}");
    assert!(
        out.contains("notifications    2 new (0 connect, 1 reconnect, 1 expiring)"),
        "{out}"
    );
    let delivered = deliveries.lock().expect("log").clone();
    let kinds: Vec<(String, String)> = delivered
        .iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_str(body).expect("json");
            (
                v["shop_id"].as_str().unwrap_or("").to_owned(),
                v["kind"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&(SOON.into(), "expiring".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(GONE.into(), "reconnect".into())),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&(GONE.into(), "expiring".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(BROKEN.into(), "reconnect".into())),
        "{kinds:?}"
    );

    let (code, text, err) = output(agent_host(&db, &broker, &sandbox, &["notifications"])).await;
    assert_eq!(code, 0, "{err}");
    let day = expires.format("%Y-%m-%d").to_string();
    for needle in [
        format!("{day} · {SOON} · Meta Ads · expiring · delivered"),
        "Subject: Reconnect Meta Ads Before It Expires".to_owned(),
        "Hi Soon Shop,\n\nYour Meta Ads integration will stop working soon. Its access expires on "
            .to_owned(),
        format!("{BROKEN} · Google Analytics · reconnect"),
        format!("Reason: The Google Analytics authorization for shop {BROKEN} was revoked"),
        "Subject: Reconnect Google Analytics Integration".to_owned(),
    ] {
        assert!(text.contains(&needle), "{needle:?} not in:\n{text}");
    }
    assert!(
        !text.contains("Full Shop"),
        "the healthy shop is told nothing"
    );

    // Again: nothing new, however often the timer runs.
    let (code, out, err) = output(agent_host(&db, &broker, &sandbox, &["pipeline"])).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("notifications    0 new (0 connect, 0 reconnect, 0 expiring)"),
        "{out}"
    );

    // Without the broker, the findings cannot be read: the run says so and fails.
    let mut cmd = agent_host(&db, &broker, &sandbox, &["pipeline"]);
    cmd.env("BERRYBOO_BROKER_SOCKET", dir.path().join("no-broker.sock"));
    let (code, out, err) = output(cmd).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("credential check failed: cannot reach the credential broker"),
        "{out}"
    );
}
