//! Tokens through the broker process: refresh once for many, rotation, invalid_grant and races, lease expiry, Meta long-lived tokens.

use super::*;

#[tokio::test]
async fn a_thousand_concurrent_requests_for_an_expired_token_refresh_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let lease = broker
        .lease(shops::ACME, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    assert_eq!(sandbox.refreshes("acme").await.unwrap(), 0);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let socket = broker.socket.clone();
        let lease = lease.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = broker_proto::client::BrokerClient::connect(&socket)
                .await
                .unwrap();
            let mut tokens = Vec::new();
            for _ in 0..20 {
                let t = c
                    .get_token(&lease, Provider::Ga4, shops::ACME)
                    .await
                    .unwrap();
                tokens.push(t.access_token.expose_secret().to_owned());
            }
            tokens
        }));
    }
    let mut all = std::collections::BTreeSet::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 1, "everyone got the same fresh token");
    assert_eq!(
        sandbox.refreshes("acme").await.unwrap(),
        1,
        "exactly one refresh for 1000 requests"
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_is_persisted_and_used_next_time() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let lease = broker
        .lease(shops::ROTATING, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    let mut c = broker.client().await.unwrap();
    c.get_token(&lease, Provider::Ga4, shops::ROTATING)
        .await
        .unwrap();
    let grant = sandbox.grant("rotating").await.unwrap();
    assert_eq!(
        grant["refresh_token"],
        "sandbox-refresh-rotating-e2e-rotated-1"
    );
    // The store holds the rotated token (the old one no longer works at the sandbox).
    let out = broker_cli(
        &sandbox,
        &[
            "refresh",
            "--database",
            &broker.database,
            "--shop",
            shops::ROTATING,
            "--json",
        ],
    )
    .await
    .unwrap();
    let results: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "refresh with the persisted token: {results} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(results[0]["ok"], true, "{results}");
    assert_eq!(
        sandbox.grant("rotating").await.unwrap()["refresh_token"],
        "sandbox-refresh-rotating-e2e-rotated-2"
    );
    assert_eq!(sandbox.refreshes("rotating").await.unwrap(), 2);
}

#[tokio::test]
async fn invalid_grant_marks_the_integration_and_says_reconnect() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let lease = broker
        .lease(shops::BLOOM, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    sandbox.revoke("bloom").await.unwrap();
    let mut c = broker.client().await.unwrap();
    let e = c
        .get_token(&lease, Provider::Ga4, shops::BLOOM)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::ReconnectRequired, "{e}");
    assert!(
        e.to_string()
            .contains("Please reconnect your Google Analytics account in the dashboard."),
        "{e}"
    );
    // Marked: no further calls to the token endpoint, and operators see it.
    let failures_before = sandbox.counters().await.unwrap()["token_failures"]
        .as_u64()
        .unwrap_or(0);
    let e = c
        .get_token(&lease, Provider::Ga4, shops::BLOOM)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::ReconnectRequired);
    assert_eq!(
        sandbox.counters().await.unwrap()["token_failures"]
            .as_u64()
            .unwrap_or(0),
        failures_before
    );
    let out = broker_cli(
        &sandbox,
        &[
            "integrations",
            "--database",
            &broker.database,
            "--shop",
            shops::BLOOM,
            "--json",
        ],
    )
    .await
    .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ga4 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["provider"] == "ga4")
        .unwrap();
    assert_eq!(ga4["needs_reconnect"], true, "{list}");
    let out = broker_cli(
        &sandbox,
        &["health", "--database", &broker.database, "--json"],
    )
    .await
    .unwrap();
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        health["needs_reconnect"][0]["shop_id"],
        shops::BLOOM,
        "{health}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "health exits 1 when something needs attention"
    );
    // A notification for the shop: kind, service, when.
    let out = broker_cli(
        &sandbox,
        &[
            "notifications",
            "--database",
            &broker.database,
            "--shop",
            shops::BLOOM,
            "--json",
        ],
    )
    .await
    .unwrap();
    let notes: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        notes.as_array().map(Vec::len),
        Some(1),
        "one notification, not one per caller: {notes}"
    );
    assert_eq!(notes[0]["kind"], "reconnect_required");
    assert_eq!(notes[0]["service"], "Google Analytics");
    assert!(
        notes[0]["created_at"]
            .as_i64()
            .is_some_and(|t| t > 1_700_000_000),
        "{notes}"
    );
}

#[tokio::test]
async fn leases_expire() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let mut c = broker.client().await.unwrap();
    let grant = c
        .create_lease(shops::ACME, &[Provider::Ga4], 1)
        .await
        .unwrap();
    c.get_token(&grant.lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let e = c
        .get_token(&grant.lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeaseExpired, "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
}

/// The dashboard stores a new refresh token (the shop reconnected) while the broker is
/// refreshing with the old, revoked one: the broker must retry with the new token, not mark the
/// integration for reconnection. PostgreSQL only: there the refresh lock is advisory, so the
/// dashboard's write is not blocked, as in production.
#[tokio::test]
async fn a_refresh_race_with_a_reconnect_is_not_taken_for_revocation() {
    let Some(pg) =
        TestPostgres::create("a_refresh_race_with_a_reconnect_is_not_taken_for_revocation")
    else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    BrokerProc::prepare(&sandbox, &pg.url).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &pg.url, "info", NO_CONFIG)
        .await
        .unwrap();
    let lease = broker
        .lease(shops::BLOOM, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    sandbox.revoke("bloom").await.unwrap();
    // Hold the refresh at the token endpoint long enough for the "dashboard" to write.
    sandbox
        .fault(json!({"path_prefix": "/token", "delay_ms": 800, "count": 1}))
        .await
        .unwrap();
    let socket = broker.socket.clone();
    let vend = tokio::spawn(async move {
        let mut c = broker_proto::client::BrokerClient::connect(&socket)
            .await
            .unwrap();
        c.get_token(&lease, Provider::Ga4, shops::BLOOM).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let update = format!(
        "UPDATE importers_integration SET data = jsonb_set(data::jsonb, '{{refresh_token}}', '\"sandbox-refresh-acme-e2e\"') \
         WHERE shop_id::text = '{}' AND integration_type = 201",
        shops::BLOOM
    );
    let out = std::process::Command::new("psql")
        .arg(&pg.url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", &update])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = vend.await.unwrap();
    assert!(
        token.is_ok(),
        "retried with the reconnected refresh token: {:?}",
        token.err()
    );
    let logs = broker.logs.lock().unwrap().clone();
    assert!(
        logs.contains("refresh token changed during refresh; retrying"),
        "the retry path ran: {logs}"
    );
    let out = broker_cli(
        &sandbox,
        &[
            "integrations",
            "--database",
            &pg.url,
            "--shop",
            shops::BLOOM,
            "--json",
        ],
    )
    .await
    .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ga4 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["provider"] == "ga4")
        .unwrap();
    assert_eq!(ga4["needs_reconnect"], false, "{list}");
}

#[tokio::test]
async fn meta_tokens_near_expiry_are_extended_when_an_app_is_configured() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &url, "info", META_APP_CONFIG)
        .await
        .unwrap();
    let lease = broker
        .lease(shops::META, &[Provider::MetaAds])
        .await
        .unwrap()
        .lease;
    let mut c = broker.client().await.unwrap();
    let first = c
        .get_token(&lease, Provider::MetaAds, shops::META)
        .await
        .unwrap();
    assert_ne!(
        first.access_token.expose_secret(),
        "sandbox-meta-expiring-e2e",
        "extended"
    );
    let days_left = (first.expires_at - chrono::Utc::now().timestamp()) / 86_400;
    assert!((58..=60).contains(&days_left), "about 60 days: {days_left}");
    assert_eq!(first.account.ad_account_id.as_deref(), Some("act_111"));
    let again = c
        .get_token(&lease, Provider::MetaAds, shops::META)
        .await
        .unwrap();
    assert_eq!(
        again.access_token.expose_secret(),
        first.access_token.expose_secret()
    );
    let counters = sandbox.counters().await.unwrap();
    assert_eq!(counters["meta_exchanges"]["meta-expiring"], 1, "{counters}");

    // An expired Meta token cannot be extended: the broker's sweep at start finds it without
    // anyone asking, and from then on even the lease is refused, with the reason.
    let notes = berryboo_e2e::notifications_until(&sandbox, &url, |n| {
        n.iter()
            .any(|n| n["shop_id"] == shops::META_EXPIRED && n["kind"] == "reconnect_required")
    })
    .await
    .unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["shop_id"] == shops::META_EXPIRED && n["kind"] == "reconnect_required"),
        "{notes:?}"
    );
    let e = broker
        .lease(shops::META_EXPIRED, &[Provider::MetaAds])
        .await
        .unwrap_err();
    let e = e
        .downcast_ref::<broker_proto::client::ClientError>()
        .expect("a broker error");
    assert_eq!(code(e), ErrorCode::ReconnectRequired, "{e}");
    assert!(
        e.to_string()
            .contains("Please reconnect your Meta Ads account"),
        "{e}"
    );
}

#[tokio::test]
async fn without_a_meta_app_an_expiring_token_is_served_and_warned_about() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let lease = broker
        .lease(shops::META, &[Provider::MetaAds])
        .await
        .unwrap()
        .lease;
    let mut c = broker.client().await.unwrap();
    for _ in 0..3 {
        let t = c
            .get_token(&lease, Provider::MetaAds, shops::META)
            .await
            .unwrap();
        assert_eq!(t.access_token.expose_secret(), "sandbox-meta-expiring-e2e");
    }
    let out = broker_cli(
        &sandbox,
        &[
            "notifications",
            "--database",
            &broker.database,
            "--shop",
            shops::META,
            "--json",
        ],
    )
    .await
    .unwrap();
    let notes: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        notes.as_array().map(Vec::len),
        Some(1),
        "warned once: {notes}"
    );
    assert_eq!(notes[0]["kind"], "token_expiring");
    assert_eq!(notes[0]["service"], "Meta Ads");
    let expiry = (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%d");
    let message = notes[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&format!("expires on {expiry} (in 4 day(s))"))
            || message.contains(&format!("expires on {expiry} (in 5 day(s))")),
        "{notes}"
    );

    // Once per token, not once per broker: a restarted broker that looks at the token again
    // (a forced refresh answers only after it has) records nothing new.
    let database = broker.database.clone();
    drop(broker);
    let broker = BrokerProc::start(&sandbox, &database, "info", NO_CONFIG)
        .await
        .unwrap();
    let out = tokio::process::Command::new(berryboo_e2e::bin("credential-broker"))
        .args(["refresh", "--socket"])
        .arg(&broker.socket)
        .args(["--shop", shops::META])
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    // Reported as kept (nothing can extend it without a Meta app), not as refreshed.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "! {} meta_ads: token kept, valid until",
            shops::META
        )) && String::from_utf8_lossy(&out.stdout).contains("0 refreshed, 1 kept, 0 failed"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let notes = berryboo_e2e::notifications_until(&sandbox, &database, |_| true)
        .await
        .unwrap();
    let warnings = notes
        .iter()
        .filter(|n| n["shop_id"] == shops::META && n["kind"] == "token_expiring")
        .count();
    assert_eq!(warnings, 1, "{notes:?}");
}
