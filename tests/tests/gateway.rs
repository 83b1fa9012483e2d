//! `agent-host gateway` end to end: real broker, gateway, servers and sandbox processes; shop
//! keys made with the broker's CLI; MCP over streamable HTTP from the official Python SDK and
//! from raw requests, as an attacker would send them.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use berryboo_e2e::{BrokerProc, Sandbox, bin, first_line, shops};
use serde_json::{Value, json};
use tokio::process::Command;

/// A sandbox with the test fixtures and a broker on a fresh SQLite database of them; `dir`
/// holds the database and must live as long as the test.
struct Setup {
    sandbox: Sandbox,
    db: String,
    broker: BrokerProc,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (dir, db) = BrokerProc::sqlite_db(&sandbox).await.expect("db");
    let broker = BrokerProc::start(&sandbox, &db, "warn", "")
        .await
        .expect("broker");
    Setup {
        sandbox,
        db,
        broker,
        dir,
    }
}

/// `credential-broker key create …`: the key (the last stdout line).
async fn create_key(broker: &BrokerProc, shop: &str, extra: &[&str]) -> String {
    let mut args = vec!["key", "create", "--shop", shop];
    if !extra.contains(&"--label") {
        args.extend(["--label", "e2e"]);
    }
    args.extend_from_slice(extra);
    let out = broker.cli(&args).await.expect("key create");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = stdout.lines().last().unwrap_or("").to_owned();
    assert!(key.starts_with("bbk_"), "{stdout}");
    key
}

struct Gateway {
    _child: tokio::process::Child,
    base: String,
}

async fn gateway(broker: &BrokerProc, sandbox: &Sandbox) -> Gateway {
    gateway_with(broker, sandbox, &[]).await
}

/// `agent-host gateway` on a free loopback port with `extra` flags, once it announced where.
async fn gateway_with(
    broker: &BrokerProc,
    sandbox: &Sandbox,
    extra: &[&std::ffi::OsStr],
) -> Gateway {
    try_gateway_at("127.0.0.1:0", broker, sandbox, extra)
        .await
        .expect("the gateway's listening line")
}

/// A gateway listening at `listen` (an OAuth client needs the public URL to be where it
/// listens), or `None` if it could not start there (the port was taken).
async fn try_gateway_at(
    listen: &str,
    broker: &BrokerProc,
    sandbox: &Sandbox,
    extra: &[&std::ffi::OsStr],
) -> Option<Gateway> {
    let mut child = Command::new(bin("agent-host"))
        .args(["gateway", "--listen", listen, "--broker-socket"])
        .arg(&broker.socket)
        .args(extra)
        .args(["--api-base", &sandbox.base])
        .env("RUST_LOG", "warn")
        .env("BERRYBOO_TODAY", berryboo_e2e::TODAY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("gateway");
    // A gateway that cannot bind exits without its line.
    let (line, _) = first_line(
        child.stdout.take().expect("stdout"),
        Duration::from_secs(20),
    )
    .await
    .ok()?;
    let base = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line}"))
        .to_owned();
    Some(Gateway {
        _child: child,
        base,
    })
}

/// One JSON-RPC request to `path` with `key` (if any): (status, headers, body).
async fn rpc(
    g: &Gateway,
    path: &str,
    key: Option<&str>,
    method: &str,
    params: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", g.base))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    if let Some(k) = key {
        request = request.bearer_auth(k);
    }
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    // A JSON answer, or the data line of a one-event SSE answer.
    let body = serde_json::from_str(&text)
        .ok()
        .or_else(|| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .find_map(|d| serde_json::from_str(d.trim()).ok())
        })
        .unwrap_or(Value::String(text));
    (status, headers, body)
}

/// Waits (up to 30 s) until `tools/list` at `path` with `credential` answers `want`: a
/// revocation or removal reaches the gateway within its one-second check cache.
async fn until_status(g: &Gateway, path: &str, credential: &str, want: u16, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, _) = rpc(g, path, Some(credential), "tools/list", json!({})).await;
        if status == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tool_names(body: &Value) -> Vec<String> {
    body["result"]["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

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
