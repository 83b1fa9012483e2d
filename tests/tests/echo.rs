//! Secrets never echoed: the sandbox's faults quote back what a request carried (the bearer
//! token, the refresh token, the client secret), as real upstreams sometimes do, and nothing of
//! it may leave a process — not a tool result, a log line, an audit row, a stored row, a report
//! or the pipeline's summary. Each check also finds the redacted form (`ya29…`), so the echo
//! did happen and was cut rather than lost.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use berryboo_e2e::{BrokerProc, CLIENT_SECRET, Sandbox, bin, broker_server_command, call};
use broker_proto::Provider;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

const SHOP: &str = "b0000000-0000-4000-8000-00000000000b";
const GA4_REFRESH: &str = "sandbox-refresh-bloom-e2e";

fn seed() -> String {
    let g = "https://www.googleapis.com/auth";
    let meta_expires = (chrono::Utc::now() + chrono::Duration::days(50))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"
[[shops]]
id = "{SHOP}"
name = "Echo shop"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "{GA4_REFRESH}", property_id = "412345678", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "sc-domain:bloom.example", granted_scopes = ["{g}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", customer_id = "1234567890", granted_scopes = ["{g}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}
"#
    )
}

async fn setup(log: &str) -> (Sandbox, tempfile::TempDir, String, BrokerProc) {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &seed())
        .await
        .expect("seeded");
    let broker = BrokerProc::start(&sandbox, &db, log, "")
        .await
        .expect("broker");
    (sandbox, dir, db, broker)
}

/// The message every fault below answers with: whatever the request carried, quoted back.
const ECHO: &str = "Request had invalid authentication credentials: Bearer {authorization} (refresh_token {refresh_token}, client_secret {client_secret})";

/// Asserts `text` holds none of `secrets`, naming `what` it is.
fn clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "{what} leaked {s}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_quotes_the_token_is_cut_from_results_and_logs() {
    let (sandbox, _dir, _db, broker) = setup("warn").await;
    let cases = [
        (
            Provider::Ga4,
            "ga4-mcp",
            "/v1beta/properties/",
            "run_report",
            json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "metrics": ["sessions"]}),
        ),
        (
            Provider::Gsc,
            "gsc-mcp",
            "/webmasters/v3/sites/",
            "get_site_details",
            json!({}),
        ),
        (
            Provider::GoogleAds,
            "google-ads-mcp",
            "/v26/customers/",
            "search",
            json!({"query": "SELECT customer.id FROM customer"}),
        ),
        (
            Provider::MetaAds,
            "meta-ads-mcp",
            "/v26.0/act_",
            "get_account_info",
            json!({}),
        ),
    ];
    for (provider, binary, prefix, tool, args) in cases {
        let lease = broker.lease(SHOP, &[provider]).await.expect("lease");
        let mut cmd = broker_server_command(binary, &sandbox, &broker, SHOP, lease.lease.expose());
        cmd.env("RUST_LOG", "info");
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let drain = tokio::spawn(async move {
            let Some(stderr) = stderr else { return };
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let client = ().serve(transport).await.expect("handshake");
        // The server's token: the broker hands every lease of the shop the same cached one.
        let token = broker
            .client()
            .await
            .expect("client")
            .get_token(&lease.lease, provider, SHOP)
            .await
            .expect("token")
            .access_token
            .expose_secret()
            .to_owned();
        sandbox
            .fault(json!({"path_prefix": prefix, "status": 400, "message": ECHO}))
            .await
            .expect("fault");
        let result = call(&client, tool, args).await.expect("call");
        let text = serde_json::to_string(&result).expect("json");
        assert_eq!(result.is_error, Some(true), "{binary}: {text}");
        clean(binary, &text, &[&token, lease.lease.expose()]);
        let shown = redaction::shown(&token);
        assert!(
            text.contains(&shown),
            "{binary}: the echo reached the result, cut to {shown}: {text}"
        );
        let _ = client.cancel().await;
        let _ = drain.await;
        let log = log.lock().map(|l| l.clone()).unwrap_or_default();
        clean(
            &format!("{binary} log"),
            &log,
            &[&token, lease.lease.expose()],
        );
        assert!(
            log.contains(&shown),
            "{binary} logged the failure, redacted: {log}"
        );
        sandbox.clear_faults().await.expect("faults cleared");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_stores_and_reports_no_echoed_token() {
    let (sandbox, dir, db, broker) = setup("warn").await;
    let host = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(bin("agent-host"));
        cmd.args(args)
            .env("BERRYBOO_DATABASE_URL", &db)
            .env("BERRYBOO_BROKER_SOCKET", &broker.socket)
            .env("BERRYBOO_API_BASE", &sandbox.base)
            .env("RUST_LOG", "info")
            .env_remove("BERRYBOO_LLM_BASE_URL")
            .env_remove("BERRYBOO_LLM_MODEL")
            .stdin(Stdio::null());
        cmd
    };
    // A GA4 anomaly, and one whose own source is Search Console, which quotes the token back
    // on every call: the second fails (its error lands in the anomaly row and the run's
    // output), while the first is processed with Search Console "could not be read: <the
    // echo>" in its stored recommendation and the report.
    for (source, metric) in [("ga4", "sessions"), ("gsc", "clicks")] {
        let out = host(&[
            "anomaly",
            "add",
            "--shop",
            SHOP,
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
        ])
        .output()
        .await
        .expect("add");
        assert!(out.status.success());
    }
    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "status": 400, "message": ECHO}))
        .await
        .expect("fault");
    let report = dir.path().join("report.json");
    let out = host(&["pipeline", "--report", report.to_str().expect("path")])
        .output()
        .await
        .expect("pipeline");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The tokens the shop's servers used: every lease of the shop gets the same cached ones.
    let lease = broker
        .lease(SHOP, &[Provider::Ga4, Provider::Gsc])
        .await
        .expect("lease");
    let mut tokens = Vec::new();
    for p in [Provider::Ga4, Provider::Gsc] {
        tokens.push(
            broker
                .client()
                .await
                .expect("client")
                .get_token(&lease.lease, p, SHOP)
                .await
                .expect("token")
                .access_token
                .expose_secret()
                .to_owned(),
        );
    }
    let secrets: Vec<&str> = tokens.iter().map(String::as_str).collect();
    clean("pipeline stdout", &stdout, &secrets);
    clean("pipeline stderr", &stderr, &secrets);
    let report = std::fs::read_to_string(&report).expect("report written");
    clean("report", &report, &secrets);

    let store = pipeline_store::Store::open(&db, false)
        .await
        .expect("store");
    let evidence = serde_json::to_string(&store.evidence(None, Some(SHOP)).await.expect("rows"))
        .expect("json");
    let recommendations =
        serde_json::to_string(&store.recommendations(None, Some(SHOP)).await.expect("rows"))
            .expect("json");
    let anomalies =
        serde_json::to_string(&store.anomalies(Some(SHOP), None, 100).await.expect("rows"))
            .expect("json");
    for (what, text) in [
        ("evidence", &evidence),
        ("recommendations", &recommendations),
        ("anomalies", &anomalies),
    ] {
        clean(what, text, &secrets);
    }
    let everything = format!("{stdout}{stderr}{report}{evidence}{recommendations}{anomalies}");
    assert!(
        secrets
            .iter()
            .any(|t| everything.contains(&redaction::shown(t))),
        "the echo reached the pipeline and was cut: {everything}"
    );
}

#[tokio::test]
async fn a_token_endpoint_that_quotes_the_client_secret_is_cut_from_logs_audit_and_errors() {
    let (sandbox, _dir, db, broker) = setup("info").await;
    // Rejected client (401 → invalid_client): an error, a log line and an audit row that quote
    // the request.
    sandbox
        .fault(json!({"path_prefix": "/token", "status": 401, "message": ECHO, "count": 1}))
        .await
        .expect("fault");
    let lease = broker.lease(SHOP, &[Provider::Ga4]).await.expect("lease");
    let e = broker
        .client()
        .await
        .expect("client")
        .get_token(&lease.lease, Provider::Ga4, SHOP)
        .await
        .expect_err("refused");
    let message = e.to_string();
    let secrets = [CLIENT_SECRET, GA4_REFRESH];
    clean("broker error", &message, &secrets);
    assert!(
        message.contains(&redaction::shown(CLIENT_SECRET)),
        "{message}"
    );
    // A failing endpoint (503, transient): the same once more on the warning path.
    sandbox
        .fault(json!({"path_prefix": "/token", "status": 503, "message": ECHO}))
        .await
        .expect("fault");
    let gsc = broker.lease(SHOP, &[Provider::Gsc]).await.expect("lease");
    let _ = broker
        .client()
        .await
        .expect("client")
        .get_token(&gsc.lease, Provider::Gsc, SHOP)
        .await;
    // Audit rows are written behind the requests: wait for both refusals to land.
    let mut audit = String::new();
    for _ in 0..200 {
        let out = berryboo_e2e::broker_cli(&sandbox, &["audit", "--database", &db, "--json"])
            .await
            .expect("audit");
        audit = String::from_utf8_lossy(&out.stdout).into_owned();
        if audit.matches("\"refresh\"").count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(audit.matches("\"refresh\"").count() >= 2, "{audit}");
    clean("audit", &audit, &secrets);
    clean("audit", &audit, &["sandbox-refresh-gsc-only-e2e"]);
    assert!(audit.contains(&redaction::shown(CLIENT_SECRET)), "{audit}");
    let logs = broker.logs.lock().map(|l| l.clone()).unwrap_or_default();
    clean("broker log", &logs, &secrets);
    clean("broker log", &logs, &["sandbox-refresh-gsc-only-e2e"]);
    assert!(logs.contains(&redaction::shown(CLIENT_SECRET)), "{logs}");
}
