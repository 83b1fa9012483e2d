//! The operator command line and a server reaching a shop through the broker.

use super::*;

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
