//! Tokens refused or failing: replaced once, nothing to renew them with, refresh through the running broker.

use super::*;

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
            traceparent: None,
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
