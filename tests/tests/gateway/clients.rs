//! Real clients through the gateway: the official Python SDK (with a key and with OAuth), the Inspector CLI, OAuth subjects, browser origins.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_reaches_a_shop_through_the_gateway() {
    if !berryboo_e2e::python_sdk_available(
        "the_official_python_sdk_reaches_a_shop_through_the_gateway",
    ) {
        return;
    }
    let Setup {
        sandbox,
        broker,
        dir: _dir,
        ..
    } = setup().await;
    let key = create_key(&broker, shops::BLOOM, &[]).await;
    let g = gateway(&broker, &sandbox).await;
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/gateway.py"))
        .env("GATEWAY", &g.base)
        .env("SHOP_KEY", &key)
        .env("PROPERTY", "412345678")
        .env("OTHER", "326784853")
        .output()
        .await
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("gateway: ok"));
}

/// The official Python SDK's OAuth client, as a desktop host runs it: discovery from the
/// gateway's 401, dynamic registration, the authorization-code flow with PKCE against the
/// sandbox's authorization server, then the shop's tools with the token; and on a restart with
/// what it kept, no second consent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdks_oauth_client_reaches_the_shop_its_user_is_allowed() {
    if !berryboo_e2e::python_sdk_available(
        "the_python_sdks_oauth_client_reaches_the_shop_its_user_is_allowed",
    ) {
        return;
    }
    let sandbox = Sandbox::start_with(
        &format!(
            "{}\n[[oauth_users]]\nsubject = \"owner@bloom.example\"\n",
            berryboo_e2e::FIXTURES
        ),
        &[],
    )
    .await
    .expect("sandbox");
    let (_dir, db) = BrokerProc::sqlite_db(&sandbox).await.expect("db");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let issuer = sandbox.base.trim_end_matches('/').to_owned();
    let out = broker
        .cli(&[
            "principal",
            "add",
            "--issuer",
            &issuer,
            "--subject",
            "owner@bloom.example",
            "--shop",
            shops::BLOOM,
        ])
        .await
        .expect("principal add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The public URL is where the gateway listens, as the SDK checks (RFC 9728 §3.3): a
    // free port, found by binding; another test may take it before the gateway does, so a
    // few tries.
    let mut started = None;
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let public = format!("http://127.0.0.1:{port}");
        let extra: [&std::ffi::OsStr; 4] = [
            "--oauth-issuer".as_ref(),
            issuer.as_ref(),
            "--public-url".as_ref(),
            public.as_ref(),
        ];
        if let Some(g) =
            try_gateway_at(&format!("127.0.0.1:{port}"), &broker, &sandbox, &extra).await
        {
            assert_eq!(g.base, public);
            started = Some(g);
            break;
        }
    }
    let g = started.expect("a gateway on a free port");
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/python/gateway_oauth.py"
        ))
        .env("GATEWAY", &g.base)
        .env("LOGIN_HINT", "owner@bloom.example")
        .env("PROPERTY", "412345678")
        .env("OTHER", "326784853")
        .output()
        .await
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("gateway oauth: ok"));
}

/// The MCP Inspector's CLI (the tool developers reach for first) with the key in `--header`:
/// the shop's tools answer, and the same call with another shop's key reads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_cli_reaches_a_shop_with_a_header() {
    let inspector = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("node/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    if !inspector.exists() {
        berryboo_e2e::skip(
            "SKIPPED the_inspector_cli_reaches_a_shop_with_a_header: the Inspector is not installed (npm ci --prefix tests/node --ignore-scripts)",
        );
        return;
    }
    let Setup {
        sandbox,
        broker,
        dir: _dir,
        ..
    } = setup().await;
    let acme = create_key(&broker, shops::ACME, &["--providers", "ga4"]).await;
    let g = gateway(&broker, &sandbox).await;
    let inspect = |key: String, args: &'static [&'static str]| {
        let url = format!("{}/mcp", g.base);
        let inspector = inspector.clone();
        async move {
            let run = Command::new("node")
                .arg(&inspector)
                .args(["--cli", &url, "--transport", "http", "--header"])
                .arg(format!("Authorization: Bearer {key}"))
                .args(args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output();
            tokio::time::timeout(Duration::from_secs(120), run)
                .await
                .expect("the Inspector did not finish in two minutes")
                .expect("node")
        }
    };

    let out = inspect(acme.clone(), &["--method", "tools/list"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_str(&stdout).expect("tools/list JSON");
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"run_report"), "{names:?}");
    assert!(
        !names.contains(&"get_search_analytics"),
        "a GA4-only key lists Search Console: {names:?}"
    );

    let out = inspect(
        acme.clone(),
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "get_property_details",
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("326784853"), "{stdout}");

    let out = inspect(
        acme,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "get_property_details",
            "--tool-arg",
            "property_id=412345678",
        ],
    )
    .await;
    let refused: Value = serde_json::from_slice(&out.stdout).expect("tools/call JSON");
    assert_eq!(
        refused["isError"], true,
        "another shop's property was read: {refused}"
    );
    assert!(
        refused.to_string().contains("is not this shop's"),
        "{refused}"
    );

    let out = inspect("bbk_not-a-key".to_owned(), &["--method", "tools/list"]).await;
    assert!(!out.status.success(), "an unknown key listed tools");
    // The 401 sends the Inspector to look for OAuth, which it cannot do without a person.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("auth_required"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A web page's requests carry its Origin: a foreign one is refused before anything else
/// (DNS rebinding, drive-by pages), one the operator allowed gets CORS answers and its shop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_origins_pass_only_when_allowed() {
    let Setup {
        sandbox,
        broker,
        dir: _dir,
        ..
    } = setup().await;
    let key = create_key(&broker, shops::ACME, &[]).await;
    let g = gateway_with(
        &broker,
        &sandbox,
        &["--allowed-origin".as_ref(), "https://App.example/".as_ref()],
    )
    .await;
    let http = reqwest::Client::new();
    let post = |origin: &'static str| {
        http.post(format!("{}/mcp", g.base))
            .header("origin", origin)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth(&key)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
            .send()
    };
    for foreign in [
        "https://evil.example",
        "https://app.example.evil.example",
        "null",
    ] {
        let r = post(foreign).await.expect("post");
        assert_eq!(r.status(), 403, "{foreign}");
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }
    // Only the origin named gets CORS answers: not another port of it, not loopback.
    for unnamed in ["https://app.example:8443", "http://127.0.0.1:3000"] {
        let r = post(unnamed).await.expect("post");
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{unnamed}"
        );
    }
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{}/mcp", g.base))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert_eq!(r.status(), 403, "a refused origin's preflight");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = post("https://app.example").await.expect("post");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example")
    );
    // The browser's preflight carries no key and is answered.
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{}/mcp", g.base))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .expect("preflight");
    assert!(r.status().is_success(), "{}", r.status());
    let allowed = r
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("mcp-protocol-version"),
        "{allowed}"
    );
    // Without a key, a browser can read the challenge that starts its OAuth flow.
    let r = http
        .post(format!("{}/mcp", g.base))
        .header("origin", "https://app.example")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let exposed = r
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");

    // Bad flags are refused at start with the reason.
    let out = Command::new(bin("agent-host"))
        .args([
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--allowed-origin",
            "https://app.example/path",
        ])
        .output()
        .await
        .expect("agent-host");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no path"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// OAuth 2.1 access tokens from a trusted authorization server (the sandbox's), for subjects
/// the broker allows: the resource metadata, the `resource_metadata` challenge, a subject that
/// reaches one shop or several, and every token that must not pass — another audience, a
/// foreign issuer, `alg: none`, an expired one, a forged signature, a subject no longer allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_reach_the_shops_their_subject_is_allowed() {
    let clients = r#"
[[oauth_clients]]
client_id = "acme-agent"
client_secret = "sandbox-oauth-secret-e2e"
subject = "agent-acme"

[[oauth_clients]]
client_id = "stale-agent"
client_secret = "sandbox-oauth-secret-e2e"
subject = "agent-acme"
lifetime_secs = -600

[[oauth_clients]]
client_id = "multi-agent"
client_secret = "sandbox-oauth-secret-e2e"
subject = "agent-multi"
"#;
    let fixtures = format!("{}{clients}", berryboo_e2e::FIXTURES);
    let sandbox = Sandbox::start_with(&fixtures, &[]).await.expect("sandbox");
    let foreign = Sandbox::start_with(&fixtures, &[])
        .await
        .expect("another issuer");
    let (_dir, db) = BrokerProc::sqlite_db(&sandbox).await.expect("db");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    let issuer = sandbox.base.trim_end_matches('/').to_owned();
    for (subject, shop) in [
        ("agent-acme", shops::ACME),
        ("agent-multi", shops::ACME),
        ("agent-multi", shops::BLOOM),
    ] {
        let out = broker
            .cli(&[
                "principal",
                "add",
                "--issuer",
                &issuer,
                "--subject",
                subject,
                "--shop",
                shop,
            ])
            .await
            .expect("principal add");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    const RESOURCE: &str = "http://gw.example";
    let g = gateway_with(
        &broker,
        &sandbox,
        &[
            "--oauth-issuer".as_ref(),
            issuer.as_ref(),
            "--public-url".as_ref(),
            RESOURCE.as_ref(),
        ],
    )
    .await;
    let token = |base: String, client: &'static str, resource: &'static str| async move {
        let v: Value = reqwest::Client::new()
            .post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", "sandbox-oauth-secret-e2e"),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token json");
        v["access_token"].as_str().expect("a token").to_owned()
    };

    // RFC 9728 metadata, and the challenge that points to it.
    let metadata: Value = reqwest::get(format!("{}/.well-known/oauth-protected-resource", g.base))
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(metadata["resource"], RESOURCE, "{metadata}");
    assert_eq!(
        metadata["authorization_servers"],
        json!([issuer]),
        "{metadata}"
    );
    let (status, headers, _) = rpc(&g, "/mcp", None, "tools/list", json!({})).await;
    assert_eq!(status, 401);
    let challenge = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{RESOURCE}/.well-known/oauth-protected-resource\""
        )),
        "{challenge}"
    );

    // A token for this gateway: the subject's one shop, and no other.
    let good = token(sandbox.base.clone(), "acme-agent", RESOURCE).await;
    let details = json!({"name": "get_property_details", "arguments": {}});
    let (status, _, body) = rpc(&g, "/mcp", Some(&good), "tools/call", details.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("326784853"), "{body}");
    let (status, _, _) = rpc(
        &g,
        &format!("/shops/{}/mcp", shops::BLOOM),
        Some(&good),
        "tools/list",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);

    // Tokens that must not pass.
    let other_audience = token(sandbox.base.clone(), "acme-agent", "http://other.example").await;
    let other_issuer = token(foreign.base.clone(), "acme-agent", RESOURCE).await;
    let expired = token(sandbox.base.clone(), "stale-agent", RESOURCE).await;
    let parts: Vec<&str> = good.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let mut claims: Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("payload")).expect("claims");
    claims["sub"] = json!("agent-multi");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    let injected = format!(
        "{}.{}.{}",
        b64.encode("{\"alg\":\"X\\nINJECTED WARN forged line\",\"typ\":\"JWT\"}"),
        parts[1],
        parts[2]
    );
    let (status, headers, body) =
        rpc(&g, "/mcp", Some(&injected), "tools/call", details.clone()).await;
    assert_eq!(status, 401);
    assert!(!body.to_string().contains("INJECTED"), "echoed: {body}");
    assert!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("error=\"invalid_token\"")),
        "{headers:?}"
    );
    for (what, bad) in [
        ("another audience", &other_audience),
        ("a foreign issuer", &other_issuer),
        ("expired", &expired),
        ("alg none", &unsigned),
        ("a forged signature", &forged),
    ] {
        let (status, headers, body) =
            rpc(&g, "/mcp", Some(bad), "tools/call", details.clone()).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(headers.contains_key("www-authenticate"), "{what}");
    }

    // A subject that reaches two shops names one; without, it is told to.
    let multi = token(sandbox.base.clone(), "multi-agent", RESOURCE).await;
    let (status, _, body) = rpc(&g, "/mcp", Some(&multi), "tools/list", json!({})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = rpc(
        &g,
        &format!("/shops/{}/mcp", shops::BLOOM),
        Some(&multi),
        "tools/call",
        details.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("412345678"), "{body}");

    // Removed: refused within a few seconds.
    let out = broker
        .cli(&[
            "principal",
            "remove",
            "--issuer",
            &issuer,
            "--subject",
            "agent-acme",
            "--shop",
            shops::ACME,
        ])
        .await
        .expect("principal remove");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until_status(
        &g,
        "/mcp",
        &good,
        403,
        "a removed subject still reaches the shop",
    )
    .await;
}
