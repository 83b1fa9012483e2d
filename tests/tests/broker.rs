//! `credential-broker` end to end: the real broker process on a real socket, the real sandbox
//! as Google's token endpoint, SQLite always and PostgreSQL when `TEST_POSTGRES_URL` is set.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use berryboo_e2e::{
    BrokerProc, META_APP_CONFIG, Sandbox, TestPostgres, broker_cli, call, connect, err,
    ga4_broker_command, ok, shops,
};
use broker_proto::frame::{self, FrameDecoder};
use broker_proto::{ErrorCode, LeaseSecret, PROTOCOL_VERSION, Provider, Request, Response};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NO_CONFIG: &str = "";

async fn sqlite_broker(sandbox: &Sandbox) -> (tempfile::TempDir, BrokerProc) {
    let (dir, url) = BrokerProc::sqlite_db(sandbox)
        .await
        .expect("migrated and seeded SQLite");
    let broker = BrokerProc::start(sandbox, &url, "info", NO_CONFIG)
        .await
        .expect("broker starts");
    (dir, broker)
}

fn code(e: &broker_proto::client::ClientError) -> ErrorCode {
    e.broker_error()
        .map(|b| b.code)
        .unwrap_or(ErrorCode::Internal)
}

#[tokio::test]
async fn socket_is_private_and_leases_are_scoped_to_one_shop_and_provider() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let socket_meta = std::fs::metadata(&broker.socket).unwrap();
    assert_eq!(socket_meta.permissions().mode() & 0o777, 0o600);
    let dir_meta = std::fs::metadata(broker.socket.parent().unwrap()).unwrap();
    assert_eq!(dir_meta.permissions().mode() & 0o777, 0o700);

    let acme = broker
        .lease(shops::ACME, &[Provider::Ga4, Provider::MetaAds])
        .await
        .unwrap();
    assert_eq!(acme.granted, vec![Provider::Ga4]);
    // The lease names the account each granted provider reads (not a secret).
    assert_eq!(acme.accounts.len(), 1);
    assert_eq!(
        acme.accounts[0].account.property_id.as_deref(),
        Some("326784853")
    );
    assert_eq!(acme.missing.len(), 1);
    assert_eq!(acme.missing[0].error.code, ErrorCode::NoIntegration);
    assert_eq!(
        acme.missing[0].error.message,
        format!(
            "No Meta Ads integration found for shop {}.\nPlease connect your Meta Ads account in the dashboard.",
            shops::ACME
        )
    );

    let mut client = broker.client().await.unwrap();
    let token = client
        .get_token(&acme.lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap();
    assert!(
        token
            .access_token
            .expose_secret()
            .starts_with("ya29.sandbox.")
    );
    assert_eq!(token.account.property_id.as_deref(), Some("326784853"));
    assert!(token.expires_at > chrono::Utc::now().timestamp() + 3000);

    // Shop A's lease cannot get shop B's token…
    let e = client
        .get_token(&acme.lease, Provider::Ga4, shops::BLOOM)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::WrongShop, "{e}");
    assert!(e.to_string().contains("refusing"), "{e}");
    // …nor a provider it was not granted.
    let e = client
        .get_token(&acme.lease, Provider::Gsc, shops::ACME)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::WrongProvider, "{e}");
    // A made-up lease is refused.
    let e = client
        .get_token(
            &LeaseSecret::new("bbl_made-up".into()),
            Provider::Ga4,
            shops::ACME,
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::UnknownLease);

    // Revoking is the clean-up step: the lease stops working at once.
    let id = client.revoke_lease(&acme.lease).await.unwrap();
    assert_eq!(id, acme.lease_id);
    let e = client
        .get_token(&acme.lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeaseRevoked);

    // Clean-up paths that cannot await revoke with the blocking client.
    let other = broker.lease(shops::ACME, &[Provider::Ga4]).await.unwrap();
    let socket = broker.socket.clone();
    let lease = other.lease.clone();
    tokio::task::spawn_blocking(move || broker_proto::blocking::revoke(&socket, &lease))
        .await
        .unwrap()
        .unwrap();
    let e = client
        .get_token(&other.lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeaseRevoked);
}

#[tokio::test]
async fn missing_integrations_scopes_and_shops_use_the_guides_words() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let mut client = broker.client().await.unwrap();
    let e = client
        .create_lease("non-existent-uuid", &[Provider::Ga4], 60)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::UnknownShop);
    assert_eq!(
        e.to_string(),
        "No Google Analytics integration found for shop non-existent-uuid.\nPlease connect your Google Analytics account in the dashboard."
    );
    let e = client
        .create_lease(shops::EMPTY, &[Provider::MetaAds], 60)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::NoIntegration);
    let e = client
        .create_lease(shops::NO_SCOPE, &[Provider::Ga4], 60)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::MissingScope);
    assert!(e.to_string().contains("analytics.readonly"), "{e}");
    let e = client
        .create_lease(shops::ACME, &[Provider::Ga4], 400 * 86_400)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::BadRequest);
    assert!(e.to_string().contains("max_lease_ttl"), "{e}");
}

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
async fn nobody_cannot_reach_the_socket() {
    if !berryboo_e2e::require_root("nobody_cannot_reach_the_socket") {
        return;
    }
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let out = tokio::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(berryboo_e2e::bin("credential-broker"))
        .args([
            "lease",
            "create",
            "--shop",
            shops::ACME,
            "--providers",
            "ga4",
            "--socket",
        ])
        .arg(&broker.socket)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Permission denied"),
        "the 0700 directory keeps other users out: {stderr}"
    );
}

#[tokio::test]
async fn the_peer_check_refuses_uids_not_allowed() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let open = BrokerProc::start(&sandbox, &url, "info", NO_CONFIG)
        .await
        .unwrap();
    drop(open);
    // Same database, a broker that allows only uid 4242 (not us).
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s/broker.sock");
    let config = dir.path().join("b.toml");
    std::fs::write(&config, "allowed_uids = [4242]\nadmin_uids = [4242]\n").unwrap();
    let child = tokio::process::Command::new(berryboo_e2e::bin("credential-broker"))
        .args(["serve", "--database", &url, "--config"])
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut refused = None;
    for _ in 0..500 {
        if socket.exists() {
            match broker_proto::client::BrokerClient::connect(&socket).await {
                // The socket file appears at bind(), a moment before listen(): a refused
                // connection then is the broker starting, not the peer check.
                Err(e) => {
                    let message = e.to_string();
                    let is_peer_check = message.contains("may not use this credential broker");
                    refused = Some(message);
                    if is_peer_check {
                        break;
                    }
                }
                Ok(_) => panic!("a uid outside allowed_uids was served"),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("broker came up");
    assert!(
        refused.contains("may not use this credential broker"),
        "{refused}"
    );
    // The refusal is audited. Audit rows are written behind the request, so look until the
    // row lands rather than at one instant.
    let mut events = Value::Null;
    for _ in 0..100 {
        let out = broker_cli(&sandbox, &["audit", "--database", &url, "--json"])
            .await
            .unwrap();
        events = serde_json::from_slice(&out.stdout).unwrap();
        let audited = events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "connect" && e["outcome"] == "NotPermitted");
        if audited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "connect" && e["outcome"] == "NotPermitted"),
        "{events}"
    );
    drop(child);
}

#[tokio::test]
async fn garbage_oversized_and_truncated_frames_do_not_stop_the_broker() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let hello = frame::with_length_prefix(
        frame::encode(&Request::Hello {
            version: PROTOCOL_VERSION,
        })
        .unwrap(),
    )
    .unwrap();

    // Valid framing, garbage body: an error answer, and the connection goes on.
    let mut s = tokio::net::UnixStream::connect(&broker.socket)
        .await
        .unwrap();
    s.write_all(&hello).await.unwrap();
    let _ = read_response(&mut s).await;
    s.write_all(
        &frame::with_length_prefix(bytes::Bytes::from_static(b"\x00\xffnot json")).unwrap(),
    )
    .await
    .unwrap();
    match read_response(&mut s).await {
        Some(Response::Error(e)) => assert_eq!(e.code, ErrorCode::BadRequest),
        other => panic!("expected BadRequest, got {other:?}"),
    }
    s.write_all(&frame::with_length_prefix(frame::encode(&Request::Ping).unwrap()).unwrap())
        .await
        .unwrap();
    assert!(matches!(read_response(&mut s).await, Some(Response::Pong)));

    // An oversized length: refused before buffering, connection closed.
    let mut s = tokio::net::UnixStream::connect(&broker.socket)
        .await
        .unwrap();
    s.write_all(&(10u32 * 1024 * 1024).to_be_bytes())
        .await
        .unwrap();
    let _ = s.write_all(&[0u8; 1024]).await;
    match read_response(&mut s).await {
        Some(Response::Error(e)) => assert_eq!(e.code, ErrorCode::BadRequest),
        None => {}
        other => panic!("expected an error or a close, got {other:?}"),
    }

    // A truncated frame, then hang up.
    let mut s = tokio::net::UnixStream::connect(&broker.socket)
        .await
        .unwrap();
    s.write_all(&hello[..hello.len() - 3]).await.unwrap();
    drop(s);

    // Requests before hello are refused.
    let mut s = tokio::net::UnixStream::connect(&broker.socket)
        .await
        .unwrap();
    s.write_all(&frame::with_length_prefix(frame::encode(&Request::Ping).unwrap()).unwrap())
        .await
        .unwrap();
    match read_response(&mut s).await {
        Some(Response::Error(e)) => assert_eq!(e.code, ErrorCode::UnsupportedVersion),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }

    // Random bytes from many connections at once.
    let mut tasks = Vec::new();
    for i in 0..20u8 {
        let path = broker.socket.clone();
        tasks.push(tokio::spawn(async move {
            if let Ok(mut s) = tokio::net::UnixStream::connect(&path).await {
                let junk: Vec<u8> = (0..4096u32)
                    .map(|j| (j as u8).wrapping_mul(31).wrapping_add(i))
                    .collect();
                let _ = s.write_all(&junk).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    // Still serving.
    let lease = broker
        .lease(shops::ACME, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    broker
        .client()
        .await
        .unwrap()
        .get_token(&lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap();
}

async fn read_response(s: &mut tokio::net::UnixStream) -> Option<Response> {
    let mut decoder = FrameDecoder::default();
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(Some(body)) = decoder.next_frame() {
            return frame::decode(&body).ok();
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        decoder.push(&buf[..n]);
    }
}

#[tokio::test]
async fn no_secret_reaches_the_broker_log_at_trace_level() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &url, "trace", NO_CONFIG)
        .await
        .unwrap();
    let grant = broker.lease(shops::ACME, &[Provider::Ga4]).await.unwrap();
    let mut c = broker.client().await.unwrap();
    let token = c
        .get_token(&grant.lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap();
    sandbox.revoke("bloom").await.unwrap();
    let bloom = broker.lease(shops::BLOOM, &[Provider::Ga4]).await.unwrap();
    let _ = c.get_token(&bloom.lease, Provider::Ga4, shops::BLOOM).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = broker.logs.lock().unwrap().clone();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "trace logging is on: {}",
        &logs[..logs.len().min(400)]
    );
    for secret in [
        token.access_token.expose_secret(),
        grant.lease.expose(),
        bloom.lease.expose(),
        "sandbox-refresh-acme-e2e",
        "sandbox-refresh-bloom-e2e",
        berryboo_e2e::CLIENT_SECRET,
        "stale-token-acme",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the broker log"
        );
    }
}

#[tokio::test]
async fn ga4_mcp_serves_a_shop_through_the_broker() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let acme = broker.lease(shops::ACME, &[Provider::Ga4]).await.unwrap();
    let client = connect(ga4_broker_command(
        &sandbox,
        &broker,
        shops::ACME,
        acme.lease.expose(),
    ))
    .await
    .unwrap();
    // The property comes from the integration record: no property_id anywhere.
    let out = ok(&call(&client, "run_report", json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "metrics": ["sessions"]})).await.unwrap());
    assert_eq!(out["property_id"], "properties/326784853");
    client.cancel().await.unwrap();

    // Bloom's grant also reaches 412345679; Bloom's server reads and lists only 412345678.
    let bloom = broker.lease(shops::BLOOM, &[Provider::Ga4]).await.unwrap();
    let client = connect(ga4_broker_command(
        &sandbox,
        &broker,
        shops::BLOOM,
        bloom.lease.expose(),
    ))
    .await
    .unwrap();
    let e = err(&call(
        &client,
        "get_property_details",
        json!({"property_id": "412345679"}),
    )
    .await
    .unwrap());
    assert!(
        e.contains("412345679 is not this shop's") && e.contains("412345678"),
        "{e}"
    );
    ok(&call(
        &client,
        "get_property_details",
        json!({"property_id": "properties/412345678"}),
    )
    .await
    .unwrap());
    let summaries = ok(&call(&client, "get_account_summaries", json!({}))
        .await
        .unwrap());
    let listed: Vec<&Value> = summaries["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["properties"].as_array().unwrap())
        .map(|p| &p["property_id"])
        .collect();
    assert_eq!(listed, [&json!("412345678")], "{summaries}");
    client.cancel().await.unwrap();

    // A lease for shop A presented by a server for shop B is refused, saying so.
    let client = connect(ga4_broker_command(
        &sandbox,
        &broker,
        shops::BLOOM,
        acme.lease.expose(),
    ))
    .await
    .unwrap();
    let e = err(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    assert!(e.contains("is for shop") && e.contains("refusing"), "{e}");
    client.cancel().await.unwrap();

    // A lease without GA4 is refused for the GA4 server.
    let gsc_only = broker.lease(shops::BLOOM, &[Provider::Gsc]).await.unwrap();
    let client = connect(ga4_broker_command(
        &sandbox,
        &broker,
        shops::BLOOM,
        gsc_only.lease.expose(),
    ))
    .await
    .unwrap();
    let e = err(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    assert!(e.contains("does not cover Google Analytics"), "{e}");
    client.cancel().await.unwrap();

    // Revoking the lease cuts the server off.
    let client = connect(ga4_broker_command(
        &sandbox,
        &broker,
        shops::ACME,
        acme.lease.expose(),
    ))
    .await
    .unwrap();
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    broker
        .client()
        .await
        .unwrap()
        .revoke_lease(&acme.lease)
        .await
        .unwrap();
    sandbox.expire_tokens().await.unwrap();
    let e = err(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    assert!(e.contains("revoked"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn cli_lease_create_prints_the_secret_last_and_operator_views_work() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = sqlite_broker(&sandbox).await;
    let socket = broker.socket.to_str().unwrap().to_owned();
    let out = broker_cli(
        &sandbox,
        &[
            "lease",
            "create",
            "--socket",
            &socket,
            "--shop",
            shops::BLOOM,
            "--providers",
            "ga4,gsc,meta_ads",
            "--ttl",
            "8h",
        ],
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret = stdout.lines().last().unwrap().trim().to_owned();
    assert!(
        secret.starts_with("bbl_") && !secret.contains(' '),
        "{stdout}"
    );
    assert!(stdout.contains("granted: ga4,gsc"), "{stdout}");
    assert!(stdout.contains("missing: meta_ads"), "{stdout}");
    let t = broker
        .client()
        .await
        .unwrap()
        .get_token(
            &LeaseSecret::new(secret.clone()),
            Provider::Gsc,
            shops::BLOOM,
        )
        .await
        .unwrap();
    assert_eq!(
        t.account.property_url.as_deref(),
        Some("sc-domain:bloom.example")
    );

    // A secret typed on the command line is refused (ps shows argv to every user)…
    let out = broker_cli(&sandbox, &["lease", "revoke", "--socket", &socket, &secret])
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("refusing a lease secret on the command line"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // …and the lease still works: nothing was revoked by the refused call.
    broker
        .client()
        .await
        .unwrap()
        .get_token(
            &LeaseSecret::new(secret.clone()),
            Provider::Ga4,
            shops::BLOOM,
        )
        .await
        .expect("still live");
    // The secret on stdin revokes it.
    let mut child = tokio::process::Command::new(berryboo_e2e::bin("credential-broker"))
        .args(["lease", "revoke", "--socket", &socket, "-"])
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(secret.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("revoked lease_"));
    // An admin revokes by id (a lease whose secret died with a crashed process), once.
    let other = broker.lease(shops::ACME, &[Provider::Ga4]).await.unwrap();
    let out = broker_cli(
        &sandbox,
        &["lease", "revoke", "--socket", &socket, &other.lease_id],
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = broker
        .client()
        .await
        .unwrap()
        .get_token(&other.lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeaseRevoked);
    let out = broker_cli(
        &sandbox,
        &[
            "lease",
            "revoke",
            "--socket",
            &socket,
            "lease_0000000000000000",
        ],
    )
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no lease lease_0000000000000000"));

    let out = broker_cli(
        &sandbox,
        &["shops", "--database", &broker.database, "--json"],
    )
    .await
    .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(9));
    let out = broker_cli(&sandbox, &["integrations", "--database", &broker.database])
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("326784853") && !text.contains("sandbox-refresh"),
        "{text}"
    );
    let out = broker_cli(
        &sandbox,
        &["health", "--database", &broker.database, "--json"],
    )
    .await
    .unwrap();
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(health["counts_by_type"]["ga4"], 4, "{health}");
    assert_eq!(
        health["missing_scopes"][0]["shop_id"],
        shops::NO_SCOPE,
        "{health}"
    );
    assert_eq!(
        health["shops_without"]["meta_ads"].as_array().map(Vec::len),
        Some(7),
        "{health}"
    );
    assert_eq!(health["counts_by_type"]["google_ads"], 2, "{health}");
    // For people: names, what is missing, and which shops lack what.
    let out = broker_cli(&sandbox, &["health", "--database", &broker.database])
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "No scope ({}) Google Analytics — lacks the analytics.readonly permission",
            shops::NO_SCOPE
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("    Acme ({})", shops::ACME)),
        "shops without an integration are listed by name: {text}"
    );
    assert!(
        text.contains("— expires 20"),
        "an expiring Meta token's date: {text}"
    );
    let out = broker_cli(
        &sandbox,
        &["audit", "--database", &broker.database, "--json"],
    )
    .await
    .unwrap();
    let events: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = events.to_string();
    assert!(
        text.contains("lease_create") && text.contains("token") && text.contains("lease_revoke"),
        "{text}"
    );
    assert!(
        !text.contains(&secret) && !text.contains("ya29."),
        "the audit never holds secrets"
    );
}

#[tokio::test]
async fn two_brokers_on_one_postgres_refresh_once() {
    let Some(pg) = TestPostgres::create("two_brokers_on_one_postgres_refresh_once") else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    BrokerProc::prepare(&sandbox, &pg.url).await.unwrap();
    let a = BrokerProc::start(&sandbox, &pg.url, "info", NO_CONFIG)
        .await
        .unwrap();
    let b = BrokerProc::start(&sandbox, &pg.url, "info", NO_CONFIG)
        .await
        .unwrap();
    // A lease made through one broker works through the other: they share the database.
    let lease = a.lease(shops::ACME, &[Provider::Ga4]).await.unwrap().lease;
    let mut tasks = Vec::new();
    for broker in [&a, &b] {
        for _ in 0..10 {
            let socket = broker.socket.clone();
            let lease = lease.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = broker_proto::client::BrokerClient::connect(&socket)
                    .await
                    .unwrap();
                for _ in 0..10 {
                    c.get_token(&lease, Provider::Ga4, shops::ACME)
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        sandbox.refreshes("acme").await.unwrap(),
        1,
        "two brokers, one refresh"
    );
}

#[tokio::test]
async fn postgres_store_serves_leases_refresh_and_reconnect() {
    let Some(pg) = TestPostgres::create("postgres_store_serves_leases_refresh_and_reconnect")
    else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    BrokerProc::prepare(&sandbox, &pg.url).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &pg.url, "info", NO_CONFIG)
        .await
        .unwrap();
    let rot = broker
        .lease(shops::ROTATING, &[Provider::Ga4])
        .await
        .unwrap();
    let mut c = broker.client().await.unwrap();
    c.get_token(&rot.lease, Provider::Ga4, shops::ROTATING)
        .await
        .unwrap();
    assert_eq!(
        sandbox.grant("rotating").await.unwrap()["refresh_token"],
        "sandbox-refresh-rotating-e2e-rotated-1"
    );
    let bloom = broker.lease(shops::BLOOM, &[Provider::Ga4]).await.unwrap();
    sandbox.revoke("bloom").await.unwrap();
    let e = c
        .get_token(&bloom.lease, Provider::Ga4, shops::BLOOM)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::ReconnectRequired);
    let out = broker_cli(&sandbox, &["health", "--database", &pg.url, "--json"])
        .await
        .unwrap();
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        health["needs_reconnect"][0]["shop_id"],
        shops::BLOOM,
        "{health}"
    );
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

#[tokio::test]
async fn careless_operators_and_guessers_lose_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let (db_dir, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();

    // `serve --socket` pointed at the database by mistake: refused, the file untouched.
    std::fs::set_permissions(db_dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let db_path = db_dir.path().join("shops.db");
    let out = broker_cli(
        &sandbox,
        &[
            "serve",
            "--database",
            &url,
            "--socket",
            db_path.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a socket; refusing to replace it"),
        "{stderr}"
    );
    assert!(db_path.is_file(), "the database is still there");
    let out = broker_cli(&sandbox, &["shops", "--database", &url, "--json"])
        .await
        .unwrap();
    let shops_left: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shops_left.as_array().map(Vec::len), Some(9), "and intact");

    // Durations too long for any clock are clear errors, not overflow panics.
    for args in [
        vec![
            "lease",
            "create",
            "--shop",
            shops::ACME,
            "--providers",
            "ga4",
            "--ttl",
            "999999999999999d",
        ],
        vec![
            "lease",
            "create",
            "--shop",
            shops::ACME,
            "--providers",
            "ga4",
            "--ttl",
            "18446744073709551615",
        ],
    ] {
        let out = broker_cli(&sandbox, &args).await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("too long"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = tokio::process::Command::new(berryboo_e2e::bin("agent-host"))
        .args([
            "pipeline",
            "--database",
            &url,
            "--claim-ttl",
            "999999999999999d",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("too long") && !stderr.contains("panicked"),
        "{stderr}"
    );

    // A connection that goes quiet (or stops halfway through a frame) is closed.
    let broker = BrokerProc::start(&sandbox, &url, "info", "idle_timeout = \"1s\"\n")
        .await
        .unwrap();
    let mut quiet = tokio::net::UnixStream::connect(&broker.socket)
        .await
        .unwrap();
    quiet.write_all(&[0, 0, 0, 50, b'{']).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(60), quiet.read(&mut buf))
        .await
        .expect("the broker closes an idle connection");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");

    // 2,000 guessed leases are answered one by one but audited as a handful of rows.
    let mut client = broker.client().await.unwrap();
    for i in 0..2000 {
        let e = client
            .get_token(
                &LeaseSecret::new(format!("bbl_guess-{i:06}-aaaaaaaaaaaaaaaa")),
                Provider::Ga4,
                shops::ACME,
            )
            .await
            .unwrap_err();
        assert_eq!(code(&e), ErrorCode::UnknownLease);
    }
    // The first guess is written at once, the rest fold into one summary row when the
    // window closes (at the latest when the broker stops: SIGTERM, then it removes its socket),
    // even while a client still holds its connection open.
    let _still_connected = client;
    let pid = broker.pid().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while broker.socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the broker did not stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The writer flushes as the broker exits: wait for the summary row to land.
    let mut guesses: Vec<Value> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while guesses.len() < 2 && std::time::Instant::now() < deadline {
        let out = broker_cli(
            &sandbox,
            &["audit", "--database", &url, "--json", "--limit", "5000"],
        )
        .await
        .unwrap();
        let events: Value = serde_json::from_slice(&out.stdout).unwrap();
        guesses = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == "UnknownLease")
            .cloned()
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(guesses.len(), 2, "{guesses:?}");
    assert!(
        guesses.iter().any(|g| g["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("and 1999 more"))),
        "{guesses:?}"
    );
}

/// Every broker command that may load a refresh token runs hardened from its first line, not
/// only `serve`: a `refresh --direct` caught mid-refresh (the token endpoint holding its
/// answer) may leave no core dump.
#[tokio::test]
async fn a_direct_refresh_runs_hardened() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, db) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    sandbox
        .fault(json!({"path_prefix": "/token", "delay_ms": 60_000}))
        .await
        .unwrap();
    let mut child = tokio::process::Command::new(berryboo_e2e::bin("credential-broker"))
        .args([
            "refresh",
            "--direct",
            "--database",
            &db,
            "--shop",
            shops::ACME,
        ])
        .env("BERRYBOO_GOOGLE_CLIENT_ID", berryboo_e2e::CLIENT_ID)
        .env("BERRYBOO_GOOGLE_CLIENT_SECRET", berryboo_e2e::CLIENT_SECRET)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    // Until its refresh waits at the token endpoint: it holds the refresh token now.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sandbox.counters().await.unwrap()["delayed"].as_u64() < Some(1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the refresh never reached the token endpoint"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_default();
    let values: Vec<&str> = core.split_whitespace().skip(4).take(2).collect();
    assert_eq!(values, ["0", "0"], "{core}");
    let _ = child.kill().await;
}
