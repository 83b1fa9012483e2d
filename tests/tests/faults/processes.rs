//! Processes that die, hang or are scripted: a killed host, the command line, a hanging upstream, a broker outage.

use super::*;

/// Leases of a killed host end on their own: a chat session's leases are short and renewed
/// while it lives; `lease list` shows them with their holder and last use; after a SIGKILL
/// they end within one lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_hosts_leases_end_within_their_short_lifetime() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (_dir, db) = BrokerProc::sqlite_db(&sandbox).await.expect("db");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let list = || acme_leases(&broker);
    let (mut session, mut stdin, mut lines) = acme_session(&broker, &sandbox).await;
    let host = session.id().expect("pid");
    use tokio::io::AsyncWriteExt;
    stdin
        .write_all(b"/call get_property_details {}\n")
        .await
        .expect("ask");
    loop {
        let l = lines.next_line().await.expect("stdout").expect("a line");
        if l.contains("326784853") {
            break;
        }
    }

    let leases = list().await;
    assert_eq!(leases.len(), 1, "one server, one lease: {leases:?}");
    let lease = &leases[0];
    assert_eq!(lease["providers"], json!(["ga4"]), "{lease}");
    assert_eq!(lease["holder_pid"], host, "{lease}");
    assert!(lease["last_used_at"].as_i64().is_some(), "{lease}");
    let first_expiry = lease["expires_at"].as_i64().expect("expiry");
    assert!(
        first_expiry - lease["created_at"].as_i64().expect("created") <= 10,
        "short: {lease}"
    );
    // Renewed while the session lives.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = list().await;
        if now.first().and_then(|l| l["expires_at"].as_i64()) > Some(first_expiry) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never renewed: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The text view names the lease and its holder.
    let out = broker.cli(&["lease", "list"]).await.expect("lease list");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(lease["lease_id"].as_str().expect("id")),
        "{text}"
    );
    assert!(text.contains(&format!("/{host}")), "{text}");
    assert!(text.contains("1 live lease(s)"), "{text}");

    // SIGKILL (what `start_kill` sends): nothing revokes the lease, and nothing renews it either.
    session.start_kill().expect("SIGKILL");
    let _ = session.wait().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = list().await;
        if now.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the killed host's lease lives on: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The command line as scripts use it: a closed pipe is the end of the output (exit 0, no
/// panic), and an error is said once, on stderr, with a non-zero exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_behaves_as_scripts_expect() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (_dir, db) = BrokerProc::sqlite_db(&sandbox).await.expect("db");
    // `credential-broker audit | head -0`: stdout closed before anything is written.
    let mut child = Command::new(bin("credential-broker"))
        .args(["shops", "--database", &db])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().await.expect("exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Logs into a pipe or file carry no colour codes.
    let out = Command::new(bin("agent-host"))
        .args(["anomaly", "list"])
        .env("BERRYBOO_DATABASE_URL", &db)
        .env("RUST_LOG", "debug")
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("DEBUG"), "logs were written: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no escape codes: {stderr}");

    // `--ask` is for scripts: a failed call is on stderr with exit 1.
    let creds = berryboo_e2e::Credentials::google("sandbox-refresh-acme-e2e").expect("creds");
    let out = Command::new(bin("agent-host"))
        .args(["chat-ga4", "--credentials-path"])
        .arg(creds.path())
        .args(["--api-base", &sandbox.base, "--ask", "/call nope {}"])
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope"),
        "{out:?}"
    );
    // An unreachable model is called unreachable.
    let out = Command::new(bin("agent-host"))
        .args(["chat-ga4", "--credentials-path"])
        .arg(creds.path())
        .args(["--api-base", &sandbox.base, "--ask", "How many sessions?"])
        .env("BERRYBOO_LLM_BASE_URL", "http://127.0.0.1:9/v1")
        .env("BERRYBOO_LLM_MODEL", "m")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is unreachable"),
        "{out:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let missing = format!("sqlite://{}/no/such/dir/x.db", dir.path().display());
    for program in ["agent-host", "credential-broker"] {
        let (args, says): (&[&str], &str) = if program == "agent-host" {
            (&["anomaly", "list"], "unable to open database file")
        } else {
            (&["shops", "--database", &missing], "does not exist")
        };
        let out = Command::new(bin(program))
            .args(args)
            .env("BERRYBOO_DATABASE_URL", &missing)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{program}: {stderr}");
        assert!(out.stdout.is_empty(), "{program}: errors go to stderr");
        assert_eq!(
            stderr.matches(says).count(),
            1,
            "{program} says it once: {stderr}"
        );
    }
}

/// A hanging upstream costs one request timeout per call, retries included: the server does
/// not try again after a timeout (which would cost (retries + 1) × the timeout), and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_upstream_is_given_up_once_per_call() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let creds = berryboo_e2e::Credentials::google("sandbox-refresh-acme-e2e").expect("creds");
    let client = connect(berryboo_e2e::ga4_command(
        &sandbox,
        &creds,
        &[
            "--property-id",
            "326784853",
            "--request-timeout",
            "1",
            "--max-retries",
            "3",
        ],
    ))
    .await
    .expect("ga4-mcp");
    // Warm: the token is fetched before the upstream starts hanging.
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .expect("call"));
    sandbox
        .fault(json!({"path_prefix": "/v1beta/properties/", "delay_ms": 30000, "count": 100}))
        .await
        .expect("fault");
    let answer = berryboo_e2e::err(
        &call(
            &client,
            "run_report",
            json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "metrics": ["sessions"]}),
        )
        .await
        .expect("call"),
    );
    // The request's timeout or the call's (the same 1 s here): either way, said once.
    assert!(
        answer.contains("did not answer in time") || answer.contains("did not finish run_report"),
        "{answer}"
    );
    let counters = sandbox.counters().await.expect("counters");
    assert_eq!(
        counters["delayed"], 1,
        "one attempt, not one per retry: {counters}"
    );
    client.cancel().await.expect("close");
}

/// The broker is down for longer than a host lease lives (restarted, or unreachable): the
/// session's lease lapses, and once the broker is back the session makes a new one and restarts
/// its server with it, instead of losing its tools for good. A lease revoked while renewals go
/// through is not recreated: its tools say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_outlives_a_broker_outage_but_not_a_revocation() {
    use tokio::io::AsyncWriteExt;
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (_dir, db) = BrokerProc::sqlite_db(&sandbox).await.expect("db");
    let mut broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let (session, mut stdin, mut lines) = acme_session(&broker, &sandbox).await;
    let host = session.id().expect("pid");
    // Asks for the property's details; returns the whole answer. An unknown command after the
    // call marks where its answer ends.
    let mut asked = 0;
    let mut ask = async move || -> String {
        asked += 1;
        let marker = format!("/end-of-answer-{asked}");
        stdin
            .write_all(format!("/call get_property_details {{}}\n{marker}\n").as_bytes())
            .await
            .expect("ask");
        let mut answer = String::new();
        loop {
            let l = lines.next_line().await.expect("stdout").expect("a line");
            if l.contains(&marker) {
                return answer;
            }
            answer.push_str(&l);
            answer.push('\n');
        }
    };
    let first = ask().await;
    assert!(first.contains("326784853"), "{first}");
    let leases = acme_leases(&broker).await;
    assert_eq!(leases.len(), 1, "{leases:?}");
    let (old_id, expiry) = (
        leases[0]["lease_id"].as_str().expect("id").to_owned(),
        leases[0]["expires_at"].as_i64().expect("expiry"),
    );

    // The broker goes away until the lease has lapsed.
    broker.stop().await.expect("stop");
    while chrono::Utc::now().timestamp() <= expiry + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    broker.start_again(&sandbox).await.expect("broker back");
    // The session makes a new lease (same holder) and its server takes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let renewed = loop {
        let now = acme_leases(&broker).await;
        if let [only] = now.as_slice()
            && only["lease_id"] != old_id.as_str()
        {
            break only.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no new lease after the outage: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(renewed["holder_pid"], host, "{renewed}");
    let again = ask().await;
    assert!(
        again.contains("326784853"),
        "tools back after the outage: {again}"
    );

    // An operator revokes the new lease while renewals go through: it stays revoked.
    let id = renewed["lease_id"].as_str().expect("id");
    let out = broker.cli(&["lease", "revoke", id]).await.expect("revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ended = loop {
        let l = ask().await;
        if l.contains("no longer available") {
            break l;
        }
        assert!(
            std::time::Instant::now() < deadline + std::time::Duration::from_secs(60),
            "the revoked lease's tools still answer: {l}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(ended.contains("its lease was revoked"), "{ended}");
    assert!(
        acme_leases(&broker).await.is_empty(),
        "nothing recreated it"
    );
    drop(session);
}
