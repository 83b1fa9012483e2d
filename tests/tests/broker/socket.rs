//! The socket: private, peer-checked, scoped leases, hostile frames, nothing secret in the log.

use super::*;

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
