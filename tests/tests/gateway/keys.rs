//! Shop keys at the gateway: one key one shop, expiry, TLS and limits, many callers, two gateways, a local server leasing with a key, calls that do not wait on each other.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_reaches_one_shop_and_nothing_else() {
    let Setup {
        sandbox,
        db,
        broker,
        dir: _dir,
    } = setup().await;
    let acme = create_key(&broker, shops::ACME, &[]).await;
    let bloom = create_key(&broker, shops::BLOOM, &["--providers", "ga4"]).await;
    let g = gateway(&broker, &sandbox).await;

    // No, unknown or malformed credentials: 401 with the scheme to use.
    for key in [None, Some("bbk_guessed"), Some("not-a-key")] {
        let (status, headers, body) = rpc(&g, "/mcp", key, "tools/list", json!({})).await;
        assert_eq!(status, 401, "{key:?}: {body}");
        assert!(
            headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer")),
            "{headers:?}"
        );
    }

    // Without a key nothing of the body is waited for: the refusal comes right after the
    // headers, though the announced 4 MB never follow.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = g.base.trim_start_matches("http://").to_owned();
        let mut socket = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        socket
            .write_all(
                format!(
                    "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                     Content-Length: 4000000\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .expect("headers");
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(20), socket.read_exact(&mut head))
            .await
            .expect("answered before any body arrived")
            .expect("read");
        assert_eq!(&head, b"HTTP/1.1 401", "{}", String::from_utf8_lossy(&head));
    }
    // The scheme is case-insensitive.
    let r = reqwest::Client::new()
        .post(format!("{}/mcp", g.base))
        .header("authorization", format!("BEARER {acme}"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);

    // ACME's key: ACME's tools, ACME's property; another shop's property is refused.
    let (status, _, body) = rpc(&g, "/mcp", Some(&acme), "tools/list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let names = tool_names(&body);
    assert!(names.contains(&"run_report".to_owned()), "{names:?}");
    let call = |args: Value| {
        let (g, acme) = (&g, &acme);
        async move {
            rpc(
                g,
                "/mcp",
                Some(acme),
                "tools/call",
                json!({"name": "get_property_details", "arguments": args}),
            )
            .await
        }
    };
    let (status, _, own) = call(json!({})).await;
    assert_eq!(status, 200, "{own}");
    assert!(own.to_string().contains("326784853"), "{own}");
    let (_, _, foreign) = call(json!({"property_id": "412345678"})).await;
    assert_eq!(foreign["result"]["isError"], true, "{foreign}");
    assert!(!foreign.to_string().contains("Bloom"), "{foreign}");

    // The path may narrow, never widen: another shop's path is 403, a source the key lacks
    // is 403, an unknown source 404.
    let (status, _, _) = rpc(
        &g,
        &format!("/shops/{}/mcp", shops::BLOOM),
        Some(&acme),
        "tools/list",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, body) = rpc(
        &g,
        &format!("/shops/{}/mcp/ga4", shops::ACME),
        Some(&acme),
        "tools/list",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = rpc(&g, "/mcp/gsc", Some(&bloom), "tools/list", json!({})).await;
    assert_eq!(status, 403, "BLOOM's key covers GA4 only");
    let (status, _, _) = rpc(&g, "/mcp/bing", Some(&acme), "tools/list", json!({})).await;
    assert_eq!(status, 404);

    // BLOOM's key (GA4 only) sees BLOOM's property, and only GA4's tools.
    let (_, _, body) = rpc(&g, "/mcp", Some(&bloom), "tools/list", json!({})).await;
    let names = tool_names(&body);
    assert!(
        !names.is_empty() && !names.iter().any(|n| n == "get_search_analytics"),
        "{names:?}"
    );
    let (_, _, own) = rpc(
        &g,
        "/mcp",
        Some(&bloom),
        "tools/call",
        json!({"name": "get_property_details", "arguments": {}}),
    )
    .await;
    assert!(own.to_string().contains("412345678"), "{own}");
    assert!(!own.to_string().contains("326784853"), "{own}");

    // The key list shows both keys, never a key.
    let out = broker
        .cli(&["key", "list", "--json"])
        .await
        .expect("key list");
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&acme) && !text.contains("bbk_"), "{text}");
    let acme_id = listed
        .iter()
        .find(|k| k["shop_id"] == shops::ACME)
        .and_then(|k| k["key_id"].as_str())
        .expect("ACME's key id")
        .to_owned();

    // Revoked: refused on a request after the check's one-second cache, within a few.
    let out = broker
        .cli(&["key", "revoke", &acme_id])
        .await
        .expect("key revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until_status(&g, "/mcp", &acme, 401, "a revoked key still works").await;
    // The broker's trail has the refusal, and no key in it.
    let audit = berryboo_e2e::audit_until(&sandbox, &db, |events| {
        events
            .iter()
            .any(|e| e["action"] == "key_check" && e["outcome"] == "UnknownKey")
    })
    .await
    .expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "key_check" && e["outcome"] == "UnknownKey"),
        "the refused key is in the trail: {audit:?}"
    );
    let trail = serde_json::to_string(&audit).unwrap_or_default();
    assert!(trail.contains("key_revoke"), "{trail}");
    assert!(
        !trail.contains(&acme) && !trail.contains(&bloom),
        "a key in the audit trail"
    );
}

/// A shop's calls run side by side: one waiting on a slow upstream answer holds up no other
/// call to the same shop (an agent's parallel tool calls stay parallel).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_holds_up_no_other_call_of_the_shop() {
    let Setup {
        sandbox,
        broker,
        dir: _dir,
        ..
    } = setup().await;
    let key = create_key(&broker, shops::ACME, &["--providers", "ga4"]).await;
    let g = Arc::new(gateway(&broker, &sandbox).await);
    let details = json!({"name": "get_property_details", "arguments": {}});
    let (status, _, body) = rpc(&g, "/mcp", Some(&key), "tools/call", details.clone()).await;
    assert_eq!(status, 200, "{body}");

    // Arguments the server refuses are the caller's error, again and again: they neither
    // restart the shop's server nor use up its one restart.
    for _ in 0..3 {
        let bad = json!({"name": "run_report", "arguments": {"date_ranges": "last week"}});
        let (_, _, body) = rpc(&g, "/mcp", Some(&key), "tools/call", bad).await;
        assert_eq!(body["result"]["isError"], true, "{body}");
        assert!(body.to_string().contains("Invalid arguments"), "{body}");
    }
    let (status, _, body) = rpc(&g, "/mcp", Some(&key), "tools/call", details.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("326784853"), "{body}");

    // The next report waits upstream (until the server gives up, after its 30 s timeout).
    sandbox
        .fault(json!({"path_prefix": "/v1beta/properties/326784853:runReport", "delay_ms": 60_000, "count": 1}))
        .await
        .expect("fault");
    let slow = tokio::spawn({
        let (g, key) = (g.clone(), key.clone());
        async move {
            let report = json!({"name": "run_report", "arguments": {
                "date_ranges": [{"start_date": "2026-10-01", "end_date": "2026-10-07"}],
                "metrics": ["sessions"]}});
            rpc(&g, "/mcp", Some(&key), "tools/call", report).await
        }
    });
    // Until the report's request is held at the sandbox (the fault is spent).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let faults = sandbox.faults().await.expect("faults");
        let spent = faults["faults"]
            .as_array()
            .is_none_or(|f| f.iter().all(|f| f["remaining"] == json!(0)));
        if spent {
            break;
        }
        assert!(
            !slow.is_finished(),
            "the report ended before reaching the sandbox"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the report never reached the sandbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _, body) = rpc(&g, "/mcp", Some(&key), "tools/call", details).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("326784853"), "{body}");
    assert!(
        !slow.is_finished(),
        "the quick call waited for the slow one"
    );
    slow.abort();
}

/// A key past its expiry is refused like an unknown one (401, the challenge), as soon as the
/// gateway asks the broker again; and a client on the 2026-07-28 revision (no initialize, every
/// request stateless) reaches the shop with a live key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_refused_and_the_2026_revision_works() {
    use rmcp::model::ProtocolVersion;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::{ClientLifecycleMode, ClientServiceExt};

    let Setup {
        sandbox,
        db,
        broker,
        dir: _dir,
    } = setup().await;
    let key = create_key(&broker, shops::ACME, &[]).await;
    let aging = create_key(&broker, shops::ACME, &["--label", "aging"]).await;
    let g = gateway(&broker, &sandbox).await;

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", g.base)).auth_header(key),
    );
    let modern = ()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("a 2026-07-28 client");
    let result = berryboo_e2e::call(&modern, "get_property_details", json!({}))
        .await
        .expect("call");
    let text = serde_json::to_string(&result).unwrap_or_default();
    assert!(
        text.contains("326784853") && result.is_error != Some(true),
        "{text}"
    );
    let _ = modern.cancel().await;

    let (status, _, _) = rpc(&g, "/mcp", Some(&aging), "tools/list", json!({})).await;
    assert_eq!(status, 200);
    // Its expiry passes (in the database, as time would: no key lives under a minute).
    let pool = sqlx::SqlitePool::connect(&db).await.expect("sqlite");
    let aged = sqlx::query("UPDATE broker_shop_key SET expires_at = 1 WHERE label = 'aging'")
        .execute(&pool)
        .await
        .expect("update");
    assert_eq!(aged.rows_affected(), 1);
    until_status(
        &g,
        "/mcp",
        &aging,
        401,
        "an expired key still reaches the shop",
    )
    .await;
    let (_, headers, _) = rpc(&g, "/mcp", Some(&aging), "tools/list", json!({})).await;
    assert!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer")),
        "{headers:?}"
    );
}

/// HTTPS with the operator's certificate; plain HTTP only on loopback (or behind a proxy the
/// operator vouches for); per-key rate limits answer 429 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_plain_http_refusal_and_per_key_limits() {
    let Setup {
        sandbox,
        broker,
        dir: _dir,
        ..
    } = setup().await;
    let key = create_key(&broker, shops::ACME, &[]).await;

    // Plain HTTP on a public address: refused at start, with what to do instead.
    let out = Command::new(bin("agent-host"))
        .args(["gateway", "--listen", "0.0.0.0:0", "--broker-socket"])
        .arg(&broker.socket)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("gateway");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--tls-cert") && stderr.contains("--trust-proxy"),
        "{stderr}"
    );

    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, private) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("cert");
    std::fs::write(&private, certified.signing_key.serialize_pem()).expect("key");
    let g = gateway_with(
        &broker,
        &sandbox,
        &[
            "--rate-per-key".as_ref(),
            "1".as_ref(),
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            private.as_os_str(),
        ],
    )
    .await;
    let base = g.base.clone();
    assert!(base.starts_with("https://"), "{base}");
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("pem"),
        )
        .build()
        .expect("client");
    let list = || async {
        client
            .post(format!("{base}/mcp"))
            .bearer_auth(&key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
            .send()
            .await
            .expect("https request")
    };
    let first = list().await;
    assert_eq!(first.status().as_u16(), 200);
    let body = first.text().await.unwrap_or_default();
    assert!(body.contains("run_report"), "{body}");
    // One a second with bursts of two: twelve at once cannot all pass (they would need
    // eleven seconds of refill).
    let mut limited = None;
    for _ in 0..12 {
        let r = list().await;
        if r.status().as_u16() == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("a 429 among twelve quick requests");
    let wait: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!(wait >= 1, "{wait}");
}

/// 200 callers at once over 50 shops, each shop its own GA4 property behind one agency login
/// (the case where a token could reach every shop): each caller gets its own shop's property
/// and nothing else, while the pool starts, shares and evicts sets (at most 25 live).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_callers_over_fifty_shops_each_see_only_their_own() {
    const SHOPS: usize = 50;
    let property = |i: usize| format!("5{i:08}");
    let shop = |i: usize| format!("{i:08x}-0000-4000-8000-0000000000aa");
    let properties: Vec<String> = (0..SHOPS).map(property).collect();
    let fixtures = format!(
        "{}\n[[google_grants]]\nname = \"agency\"\nrefresh_token = \"sandbox-refresh-agency-e2e\"\n\
         client_id = \"{}\"\nscopes = [\"https://www.googleapis.com/auth/analytics.readonly\"]\n\
         ga4_properties = {:?}\n",
        berryboo_e2e::FIXTURES,
        berryboo_e2e::CLIENT_ID,
        properties
    );
    let sandbox = Sandbox::start_with(&fixtures, &[]).await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    let mut seed = String::new();
    for i in 0..SHOPS {
        seed.push_str(&format!(
            "\n[[shops]]\nid = \"{}\"\nname = \"Agency client {i}\"\n[[shops.integrations]]\n\
             provider = \"ga4\"\ndata = {{ refresh_token = \"sandbox-refresh-agency-e2e\", \
             property_id = \"{}\", granted_scopes = [\"https://www.googleapis.com/auth/analytics.readonly\"] }}\n",
            shop(i),
            property(i)
        ));
    }
    BrokerProc::prepare_with(&sandbox, &db, &seed)
        .await
        .expect("seed");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let mut keys = Vec::new();
    let mut client = broker.client().await.expect("client");
    for i in 0..SHOPS {
        let (_, key) = client
            .create_key(&shop(i), &[], 3600, Some("load"))
            .await
            .expect("key");
        keys.push(key.expose().to_owned());
    }
    let g = gateway_with(
        &broker,
        &sandbox,
        &["--max-live-shops".as_ref(), "25".as_ref()],
    )
    .await;
    let base = g.base.clone();
    let http = reqwest::Client::new();
    let calls = (0..200).map(|n| {
        let i = n % SHOPS;
        let (http, base, key) = (http.clone(), base.clone(), keys[i].clone());
        async move {
            let r = http
                .post(format!("{base}/mcp"))
                .bearer_auth(&key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .json(&json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                              "params": {"name": "get_property_details", "arguments": {}}}))
                .send()
                .await
                .expect("request");
            (i, r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    });
    let answers = futures::future::join_all(calls).await;
    for (i, status, body) in &answers {
        assert_eq!(*status, 200, "shop {i}: {body}");
        assert!(
            body.contains(&format!("properties/{}", property(*i))),
            "shop {i} did not get its own property: {body}"
        );
        for (j, other) in properties.iter().enumerate() {
            assert!(
                j == *i || !body.contains(other.as_str()),
                "shop {i} saw shop {j}'s property: {body}"
            );
        }
    }
    assert_eq!(answers.len(), 200);
}

/// Two gateways, each beside its own broker, on one PostgreSQL database (what runs behind a
/// load balancer): one key works through both, and a key revoked through one broker is refused
/// by both gateways within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_postgres_refuse_a_key_revoked_through_either() {
    let Some(pg) = berryboo_e2e::TestPostgres::create("two_gateways_on_one_postgres") else {
        return;
    };
    let sandbox = Sandbox::start().await.expect("sandbox");
    BrokerProc::prepare(&sandbox, &pg.url).await.expect("seed");
    let first = BrokerProc::start(&sandbox, &pg.url, "warn", "")
        .await
        .expect("broker 1");
    let second = BrokerProc::start(&sandbox, &pg.url, "warn", "")
        .await
        .expect("broker 2");
    let key = create_key(&first, shops::ACME, &[]).await;
    let gateways = [
        gateway(&first, &sandbox).await,
        gateway(&second, &sandbox).await,
    ];
    for g in &gateways {
        let (status, _, body) = rpc(g, "/mcp", Some(&key), "tools/list", json!({})).await;
        assert_eq!(status, 200, "{}: {body}", g.base);
    }
    let out = second
        .cli(&["key", "list", "--json"])
        .await
        .expect("key list");
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let id = listed[0]["key_id"]
        .as_str()
        .expect("the key, listed by the other broker");
    // Revoked through the second broker.
    let out = second
        .cli(&["key", "revoke", id])
        .await
        .expect("key revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for g in &gateways {
        until_status(
            g,
            "/mcp",
            &key,
            401,
            &format!("{} takes a revoked key", g.base),
        )
        .await;
    }
}

/// The same key works locally: a server started with `--shop-id` and `BERRYBOO_SHOP_KEY` leases
/// for itself (one provider, the key's shop only) and loses its access when the key is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_server_leases_for_itself_with_a_shop_key() {
    use berryboo_e2e::{call, connect};
    let Setup {
        sandbox,
        broker,
        dir: _dir,
        ..
    } = setup().await;
    let key = create_key(&broker, shops::ACME, &["--providers", "ga4"]).await;
    let server = |binary: &str, shop: &str| {
        let mut cmd = Command::new(bin(binary));
        cmd.args(["--shop-id", shop, "--api-base", &sandbox.base])
            .args(["--broker-recheck", "1", "--broker-socket"])
            .arg(&broker.socket)
            .env("BERRYBOO_SHOP_KEY", &key)
            .env("BERRYBOO_TODAY", berryboo_e2e::TODAY)
            .env("RUST_LOG", "warn")
            .env_remove("BERRYBOO_LEASE")
            .env_remove("BERRYBOO_CREDENTIALS_PATH");
        cmd
    };
    let text = |r: &rmcp::model::CallToolResult| {
        (
            r.is_error == Some(true),
            r.content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };

    let ga4 = connect(server("ga4-mcp", shops::ACME))
        .await
        .expect("ga4-mcp");
    let (failed, out) = text(
        &call(&ga4, "get_property_details", json!({}))
            .await
            .expect("call"),
    );
    assert!(!failed && out.contains("326784853"), "{out}");
    // It made its own lease, for GA4 only.
    let out = broker
        .cli(&["lease", "list", "--json"])
        .await
        .expect("lease list");
    let leases: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0]["providers"], json!(["ga4"]), "{leases:?}");

    // Another shop, or a source the key lacks: refused with the reason.
    let other = connect(server("ga4-mcp", shops::BLOOM))
        .await
        .expect("ga4-mcp");
    let (failed, out) = text(
        &call(&other, "get_property_details", json!({}))
            .await
            .expect("call"),
    );
    assert!(failed && out.contains("not shop"), "{out}");
    let meta = connect(server("meta-ads-mcp", shops::ACME))
        .await
        .expect("meta-ads-mcp");
    let (failed, out) = text(
        &call(&meta, "get_account_info", json!({}))
            .await
            .expect("call"),
    );
    assert!(failed && out.contains("does not cover Meta Ads"), "{out}");

    // Revoking the key ends the lease made with it: the server's calls stop working.
    let listed = broker
        .cli(&["key", "list", "--json"])
        .await
        .expect("key list");
    let keys: Vec<Value> = serde_json::from_slice(&listed.stdout).expect("json");
    let id = keys[0]["key_id"].as_str().expect("id");
    let out = broker.cli(&["key", "revoke", id]).await.expect("revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (failed, out) = text(
            &call(&ga4, "get_property_details", json!({}))
                .await
                .expect("call"),
        );
        if failed {
            assert!(out.contains("revoked"), "{out}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key's lease still works after the key was revoked"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
