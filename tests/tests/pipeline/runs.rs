//! Pipeline runs: degradation and isolation, bad input, workers sharing PostgreSQL.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degradation_isolation_notifications_and_report() {
    let (sandbox, dir, db, broker) = shops().await;
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
    // Traces (export off: the ids exist all the same, for logs and the broker's audit): every
    // row names the trace of its anomaly's processing, one trace per anomaly.
    let mut trace_of: HashMap<i64, &str> = HashMap::new();
    for e in &evidence {
        let id = e
            .trace_id
            .as_deref()
            .unwrap_or_else(|| panic!("evidence {}/{} names no trace", e.team, e.label));
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id != "0".repeat(32),
            "{id}"
        );
        assert_eq!(
            *trace_of.entry(e.anomaly_id).or_insert(id),
            id,
            "one trace per anomaly"
        );
    }
    let distinct: HashSet<&str> = trace_of.values().copied().collect();
    assert_eq!(distinct.len(), trace_of.len(), "anomalies share no trace");
    // The servers carried those traces to the broker: each vend the anomalies' calls caused
    // is audited under the trace of the anomaly that caused it.
    let vended = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["action"] == "token" && e["outcome"] == "ok")
            .filter_map(|e| e["trace_id"].as_str())
            .any(|id| distinct.contains(id))
    };
    let events = berryboo_e2e::audit_until(&sandbox, &db, vended)
        .await
        .expect("audit");
    for e in events
        .iter()
        .filter(|e| e["action"] == "token" && e["outcome"] == "ok")
    {
        let id = e["trace_id"]
            .as_str()
            .expect("a vend for a call names its trace");
        assert!(
            distinct.contains(id),
            "a vend outside every anomaly's trace: {e}"
        );
    }

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
