//! Failures during a run: an interrupted run, a passing upstream failure, an anomaly whose own source fails, servers that cannot start.

use super::*;

/// Ctrl-C (or SIGTERM) mid-run: the run stops claiming, hands its unfinished anomalies back
/// as if never claimed, revokes its leases, leaves no server running and exits 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_hands_its_claims_back_and_leaves_nothing_running() {
    let (sandbox, _dir, db, broker) = shops().await;
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
    let (sandbox, _dir, db, broker) = shops().await;
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

/// GA4 answers 503 to every call while the other sources work: the GA4 anomaly is not
/// processed (it is retried, counted as a failure, `failed` after `--max-attempts`, and the
/// exit status says so), while a Search Console anomaly of the same shop is processed with GA4
/// written down as "could not be read" — and nobody is told to reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anomaly_whose_own_source_fails_is_not_processed() {
    let (sandbox, _dir, db, broker) = shops().await;
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

/// Servers that cannot start are the operator's problem, not the client's: the anomalies are
/// given back for a later run and nobody is told to reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_cannot_start_are_retried_not_emailed() {
    let (sandbox, _dir, db, broker) = shops().await;
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
