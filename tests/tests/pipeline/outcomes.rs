//! What a run produces: a model's recommendations, the demo and its data, health, what the client is told about credentials.

use super::*;

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

    let (sandbox, _dir, db, broker) = shops().await;
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
