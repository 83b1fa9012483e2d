//! Faults surface instead of hiding (issue 11), with real processes: the broker, the servers
//! and the sandbox's fault control plane.

use std::process::Stdio;

use berryboo_e2e::{BrokerProc, Sandbox, bin, broker_cli, call, connect, ok, shops};
use broker_proto::Provider;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::process::Command;

/// Notifications the broker recorded, as `notifications --json`.
async fn notifications(sandbox: &Sandbox, database: &str) -> Vec<Value> {
    let out = broker_cli(
        sandbox,
        &["notifications", "--database", database, "--json"],
    )
    .await
    .expect("notifications");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("notifications JSON")
}

/// Google stops accepting a token before its expiry (the sandbox expires every token it
/// issued). Two servers of the shop see 401 at once: the broker replaces the token once for
/// both, the calls succeed, and nobody is told to reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_early_is_replaced_once_and_nobody_is_told_to_reconnect() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (_dir, db) = BrokerProc::sqlite_db(&sandbox).await.expect("db");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let mut servers = Vec::new();
    for _ in 0..2 {
        let lease = broker
            .lease(shops::ACME, &[Provider::Ga4])
            .await
            .expect("lease");
        let client = connect(berryboo_e2e::broker_server_command(
            "ga4-mcp",
            &sandbox,
            &broker,
            shops::ACME,
            lease.lease.expose(),
        ))
        .await
        .expect("ga4-mcp");
        ok(&call(&client, "get_property_details", json!({}))
            .await
            .expect("call"));
        servers.push(client);
    }
    let before = sandbox.refreshes("acme").await.expect("counters");
    assert_eq!(before, 1, "the seed's stale token was refreshed once");

    sandbox.expire_tokens().await.expect("expire");
    let (a, b) = tokio::join!(
        call(&servers[0], "get_property_details", json!({})),
        call(&servers[1], "get_property_details", json!({}))
    );
    let (a, b) = (ok(&a.expect("call")), ok(&b.expect("call")));
    assert_eq!(a["property_id"], "properties/326784853", "{a}");
    assert_eq!(b["property_id"], "properties/326784853", "{b}");
    assert_eq!(
        sandbox.refreshes("acme").await.expect("counters"),
        before + 1,
        "one refresh for both servers"
    );
    let told = notifications(&sandbox, &db).await;
    assert!(
        !told
            .iter()
            .any(|n| n["kind"] == "reconnect_required" && n["shop_id"] == shops::ACME),
        "a refused access token is not a revoked grant: {told:?}"
    );
    let audit = berryboo_e2e::audit_until(&sandbox, &db, |events| {
        events
            .iter()
            .any(|e| e["action"] == "token_rejected" && e["outcome"] == "ok")
    })
    .await
    .expect("audit");
    let reports = audit
        .iter()
        .filter(|e| e["action"] == "token_rejected")
        .collect::<Vec<_>>();
    assert!(
        !reports.is_empty() && reports.iter().all(|e| e["outcome"] == "ok"),
        "{reports:?}"
    );
    // A server that reports the replacement refused too, right away, gets an error, not a
    // refresh: a server's word alone must not make the broker hammer Google.
    let lease = broker
        .lease(shops::ACME, &[Provider::Ga4])
        .await
        .expect("lease")
        .lease;
    let mut c = broker.client().await.expect("client");
    let current = c
        .get_token(&lease, Provider::Ga4, shops::ACME)
        .await
        .expect("token");
    match c
        .token_rejected(
            &lease,
            Provider::Ga4,
            shops::ACME,
            current.access_token.expose_secret(),
        )
        .await
    {
        Err(broker_proto::client::ClientError::Broker(e)) => {
            assert_eq!(e.code, broker_proto::ErrorCode::TokenRejected, "{e:?}");
            assert!(e.message.contains("right after it was replaced"), "{e:?}");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|g| g.expires_at)),
    }
    assert_eq!(
        sandbox.refreshes("acme").await.expect("counters"),
        before + 1
    );
    for s in servers {
        s.cancel().await.expect("close");
    }
}

/// The operator's `refresh` goes through the running broker (admin, no OAuth client secrets in
/// the operator's shell), so the broker hands out the new token at once; a Meta token without
/// expiry is reported as such; without a broker, `--direct` refreshes in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_goes_through_the_running_broker_and_says_what_does_not_expire() {
    const LASTING: &str = "abababab-abab-4bab-8bab-abababababab";
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    let seed = format!(
        r#"{}
[[shops]]
id = "{LASTING}"
name = "Lasting"
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}
"#,
        berryboo_e2e::broker_seed()
    );
    BrokerProc::prepare_with(&sandbox, &db, &seed)
        .await
        .expect("seeded");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let lease = broker
        .lease(shops::ACME, &[Provider::Ga4])
        .await
        .expect("lease")
        .lease;
    let mut client = broker.client().await.expect("client");
    let first = client
        .get_token(&lease, Provider::Ga4, shops::ACME)
        .await
        .expect("token");

    // No client id or secret here: the broker refreshes with its own.
    let refresh = |shop: &str, json: bool| {
        let mut cmd = Command::new(bin("credential-broker"));
        cmd.args(["refresh", "--socket"])
            .arg(&broker.socket)
            .args(["--shop", shop])
            .args(json.then_some("--json"))
            .env_remove("BERRYBOO_GOOGLE_CLIENT_ID")
            .env_remove("BERRYBOO_GOOGLE_CLIENT_SECRET")
            .env_remove("BERRYBOO_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        cmd
    };
    let out = refresh(shops::ACME, true).output().await.expect("refresh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(results.as_array().map(Vec::len), Some(1), "{results}");
    assert_eq!(results[0]["ok"], true, "{results}");
    assert!(results[0]["expires_at"].as_i64().is_some(), "{results}");
    let second = client
        .get_token(&lease, Provider::Ga4, shops::ACME)
        .await
        .expect("token");
    assert_ne!(
        broker_proto::token_fingerprint(first.access_token.expose_secret()),
        broker_proto::token_fingerprint(second.access_token.expose_secret()),
        "the running broker hands out the token its refresh got"
    );
    assert_eq!(sandbox.refreshes("acme").await.expect("counters"), 2);

    let out = refresh(LASTING, false).output().await.expect("refresh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("does not expire"), "{text}");
    assert!(!text.contains("valid until"), "{text}");

    // Not an admin: refused, with the reason, and a non-zero exit.
    if berryboo_e2e::is_root() {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin("credential-broker"))
            .args(["refresh", "--socket"])
            .arg(&broker.socket)
            .arg("--all")
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("refresh as nobody");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("may not") || stderr.contains("cannot connect"),
            "{stderr}"
        );
    }

    // No broker: the database mode, which needs the client secrets.
    drop(client);
    drop(broker);
    let out = broker_cli(
        &sandbox,
        &[
            "refresh",
            "--database",
            &db,
            "--socket",
            "/nonexistent/broker.sock",
            "--shop",
            shops::ACME,
        ],
    )
    .await
    .expect("refresh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 refreshed, 0 kept, 0 failed"), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refreshing in the database directly"),
        "says which mode it used"
    );
    assert_eq!(sandbox.refreshes("acme").await.expect("counters"), 3);
}

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

/// A server's word is never a revoked grant: a refusal of a token the integration cannot renew
/// (no refresh token) is an error to the caller, not a reconnect mark; a malformed fingerprint
/// is refused before anything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_with_nothing_to_renew_it_marks_nothing() {
    const STATIC: &str = "cdcdcdcd-cdcd-4dcd-8dcd-cdcdcdcdcdcd";
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    let seed = format!(
        r#"
[[shops]]
id = "{STATIC}"
name = "Static"
[[shops.integrations]]
provider = "ga4"
data = {{ token = "static-token-without-refresh-e2e", expires_at = "2099-01-01T00:00:00Z", property_id = "326784853", granted_scopes = ["https://www.googleapis.com/auth/analytics.readonly"] }}
"#
    );
    BrokerProc::prepare_with(&sandbox, &db, &seed)
        .await
        .expect("seeded");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let lease = broker
        .lease(STATIC, &[Provider::Ga4])
        .await
        .expect("lease")
        .lease;
    let mut c = broker.client().await.expect("client");
    let token = c
        .get_token(&lease, Provider::Ga4, STATIC)
        .await
        .expect("token");
    let refused = c
        .token_rejected(
            &lease,
            Provider::Ga4,
            STATIC,
            token.access_token.expose_secret(),
        )
        .await;
    match refused {
        Err(broker_proto::client::ClientError::Broker(e)) => {
            assert_eq!(e.code, broker_proto::ErrorCode::TokenRejected, "{e:?}");
            assert!(!e.message.to_lowercase().contains("reconnect"), "{e:?}");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|g| g.expires_at)),
    }
    // Not marked: the stored token is still handed out, and nobody was told to reconnect.
    c.get_token(&lease, Provider::Ga4, STATIC)
        .await
        .expect("still served");
    assert!(
        notifications(&sandbox, &db).await.is_empty(),
        "a server's report tells the shop nothing"
    );
    assert_eq!(
        sandbox.counters().await.expect("counters")["token_refreshes_total"],
        0
    );

    let bad = c
        .call(&broker_proto::Request::TokenRejected {
            lease: lease.clone(),
            provider: Provider::Ga4,
            shop_id: STATIC.into(),
            fingerprint: "x".repeat(5000),
        })
        .await
        .expect("answer");
    match bad {
        broker_proto::Response::Error(e) => {
            assert_eq!(e.code, broker_proto::ErrorCode::BadRequest, "{e:?}")
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
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

/// ACME's live leases, as `credential-broker lease list --json`.
async fn acme_leases(broker: &BrokerProc) -> Vec<Value> {
    let out = broker
        .cli(&["lease", "list", "--json", "--shop", shops::ACME])
        .await
        .expect("lease list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("JSON")
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// A direct-mode `agent-host chat-ga4` session for ACME with 10 s leases, once it is ready: the
/// process, its stdin and its stdout lines.
async fn acme_session(
    broker: &BrokerProc,
    sandbox: &Sandbox,
) -> (tokio::process::Child, tokio::process::ChildStdin, Lines) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut session = Command::new(bin("agent-host"))
        .args(["chat-ga4", "--shop-id", shops::ACME, "--lease-ttl", "10s"])
        .arg("--broker-socket")
        .arg(&broker.socket)
        .args(["--api-base", &sandbox.base])
        .env("RUST_LOG", "warn")
        .env("BERRYBOO_TODAY", berryboo_e2e::TODAY)
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("chat");
    let stdin = session.stdin.take().expect("stdin");
    let mut lines = BufReader::new(session.stdout.take().expect("stdout")).lines();
    loop {
        match lines.next_line().await.expect("stdout") {
            Some(l) if l.starts_with("Available tools") => break,
            Some(_) => {}
            None => panic!("the session ended before it was ready"),
        }
    }
    (session, stdin, lines)
}
