//! Transports of a server binary: raw stdio framing, streamable HTTP and its guard, both
//! protocol revisions, and what the process writes to stdout and stderr.

use std::process::Stdio;
use std::time::Duration;

use berryboo_e2e::{Credentials, Sandbox, call, connect, first_line, ga4_command, ok};
use rmcp::model::ProtocolVersion;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const ACME: &str = "326784853";

async fn read_json_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Value {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
        .await
        .expect("answer in time")
        .expect("read");
    serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("stdout carries JSON-RPC only, got {line:?}: {e}"))
}

#[tokio::test]
async fn stdio_survives_garbage_and_invalid_requests() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let mut child = ga4_command(&sandbox, &creds, &["--property-id", ACME])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}});
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    let answer = read_json_line(&mut stdout).await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["serverInfo"]["name"], "ga4-mcp");
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await
        .unwrap();

    // Unparsable bytes are dropped, a well-formed but invalid request gets -32600, and the
    // session goes on.
    stdin
        .write_all(b"this is not json\n{\"truncated\": \n")
        .await
        .unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"bogus\":true}\n")
        .await
        .unwrap();
    let invalid = read_json_line(&mut stdout).await;
    assert_eq!(invalid["error"]["code"], -32600, "{invalid}");
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}\n")
        .await
        .unwrap();
    let list = read_json_line(&mut stdout).await;
    assert_eq!(list["id"], 8);
    assert_eq!(list["result"]["tools"].as_array().map(Vec::len), Some(9));
    // A call with wrongly typed arguments is a tool error the model can read.
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "run_report", "arguments": {"date_ranges": 5}}});
    stdin
        .write_all(format!("{call}\n").as_bytes())
        .await
        .unwrap();
    let answer = read_json_line(&mut stdout).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("Invalid arguments for run_report"),
        "{answer}"
    );
    // Arguments that are not an object at all: invalid params (-32602), not "no such method".
    let call = json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "run_report", "arguments": "x"}});
    stdin
        .write_all(format!("{call}\n").as_bytes())
        .await
        .unwrap();
    let answer = read_json_line(&mut stdout).await;
    assert_eq!(answer["id"], 10, "{answer}");
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("must be an object"),
        "{answer}"
    );

    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits when stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn both_protocol_revisions_work() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    // 2025-11-25: initialize handshake.
    let legacy = connect(ga4_command(&sandbox, &creds, &["--property-id", ACME]))
        .await
        .unwrap();
    assert_eq!(
        legacy.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    ok(&call(&legacy, "get_property_details", json!({}))
        .await
        .unwrap());
    legacy.cancel().await.unwrap();
    // 2026-07-28: server/discover, stateless requests.
    let transport =
        TokioChildProcess::new(ga4_command(&sandbox, &creds, &["--property-id", ACME])).unwrap();
    let modern = ()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let tools = modern.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 9);
    ok(&call(&modern, "run_report", json!({"date_ranges": [{"start_date": "yesterday", "end_date": "yesterday"}], "metrics": ["sessions"]})).await.unwrap());
    modern.cancel().await.unwrap();
}

struct HttpServer {
    _child: tokio::process::Child,
    url: String,
}

async fn http_server(sandbox: &Sandbox, creds: &Credentials, key: Option<&str>) -> HttpServer {
    let mut cmd = ga4_command(
        sandbox,
        creds,
        &["--property-id", ACME, "--http", "127.0.0.1:0"],
    );
    match key {
        Some(k) => cmd.env("BERRYBOO_HTTP_KEY", k),
        None => cmd.arg("--allow-unauthenticated"),
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ga4-mcp starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (line, _) = first_line(stdout, Duration::from_secs(20))
        .await
        .expect("ga4-mcp announces its address");
    let url = line
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    HttpServer { _child: child, url }
}

#[tokio::test]
async fn streamable_http_serves_tools() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let server = http_server(&sandbox, &creds, None).await;
    let transport = StreamableHttpClientTransport::from_uri(format!("{}/mcp", server.url));
    let client = ().serve(transport).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 9);
    let out = ok(&call(&client, "run_report", json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "dimensions": ["date"], "metrics": ["sessions"]})).await.unwrap());
    assert_eq!(out["row_count"], 7);
    client.cancel().await.unwrap();

    // Over HTTP too, arguments that are not an object are invalid params.
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/mcp", server.url))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "run_report", "arguments": [1]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["id"], 3, "{answer}");
    assert_eq!(answer["error"]["code"], -32602, "{answer}");

    // The 2026-07-28 revision over HTTP too.
    let transport = StreamableHttpClientTransport::from_uri(format!("{}/mcp", server.url));
    let modern = ()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    ok(&call(&modern, "get_property_details", json!({}))
        .await
        .unwrap());
    modern.cancel().await.unwrap();
}

#[tokio::test]
async fn http_guard_blocks_rebinding_and_requires_the_key() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}});
    let post = |url: String| {
        http.post(url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string())
    };

    let open = http_server(&sandbox, &creds, None).await;
    let mcp = format!("{}/mcp", open.url);
    assert_eq!(post(mcp.clone()).send().await.unwrap().status(), 200);
    // A page on evil.example that rebinds its name to 127.0.0.1 still sends its own Host…
    let r = post(mcp.clone())
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("--allowed-host"));
    // …and its Origin.
    let r = post(mcp.clone())
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The legacy SSE endpoint sits behind the same guard.
    let r = http
        .get(format!("{}/sse", open.url))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let key = "k3y-for-the-e2e-test-0123456789";
    let keyed = http_server(&sandbox, &creds, Some(key)).await;
    let mcp = format!("{}/mcp", keyed.url);
    let r = post(mcp.clone()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = post(mcp.clone())
        .bearer_auth("wrong-key-wrong-key-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = post(mcp.clone()).bearer_auth(key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The rmcp client with the key works end to end.
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(mcp).auth_header(key),
    );
    let client = ().serve(transport).await.unwrap();
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_public_bind_without_a_key_is_refused_at_start() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let out = ga4_command(&sandbox, &creds, &["--http", "0.0.0.0:0"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bearer key is required"), "{stderr}");
    // And a key on the command line is refused: it would show in `ps`.
    let out = ga4_command(
        &sandbox,
        &creds,
        &["--http", "0.0.0.0:0", "--http-key", "0123456789abcdef0123"],
    )
    .output()
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("visible to every local user"));
}

#[tokio::test]
async fn credentials_problems_stop_the_server_with_a_clear_message() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    std::fs::set_permissions(creds.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ga4_command(&sandbox, &creds, &[])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing but JSON-RPC on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");

    let out = tokio::process::Command::new(berryboo_e2e::bin("ga4-mcp"))
        .env_remove("BERRYBOO_CREDENTIALS_PATH")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--credentials-path"));
}

#[tokio::test]
async fn no_secret_reaches_stderr_even_at_trace_level() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let mut cmd = ga4_command(
        &sandbox,
        &creds,
        &["--property-id", ACME, "--log-format", "json"],
    );
    cmd.env("RUST_LOG", "trace").stderr(Stdio::piped());
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = stderr.expect("stderr pipe");
    let collector = tokio::spawn(async move {
        let mut all = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut all).await;
        all
    });
    let client = ().serve(transport).await.unwrap();
    ok(&call(&client, "run_report", json!({"date_ranges": [{"start_date": "yesterday", "end_date": "yesterday"}], "metrics": ["sessions"]})).await.unwrap());
    sandbox.expire_tokens().await.unwrap();
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    client.cancel().await.unwrap();
    let logs = collector.await.unwrap();
    assert!(
        logs.contains("tool_call"),
        "trace logs were captured: {}",
        &logs[..logs.len().min(500)]
    );
    for secret in [
        "sandbox-refresh-acme-e2e",
        berryboo_e2e::CLIENT_SECRET,
        "ya29.sandbox.",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[tokio::test]
async fn stdio_answers_oversized_and_too_deep_messages_with_their_id() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let mut child = ga4_command(&sandbox, &creds, &["--property-id", ACME])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}});
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_json_line(&mut stdout).await["id"], 1);
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await
        .unwrap();

    // 5 MiB of arguments: refused with its id, not silently dropped.
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{{\"name\":\"run_report\",\"arguments\":{{\"x\":\"{}\"}}}}}}\n",
        "a".repeat(5 * 1024 * 1024)
    );
    stdin.write_all(big.as_bytes()).await.unwrap();
    let answer = read_json_line(&mut stdout).await;
    assert_eq!(answer["id"], 11, "{answer}");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("at most 4 MiB"),
        "{answer}"
    );
    // Arguments nested 300 deep: refused with its id.
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":\"deep-1\",\"method\":\"tools/call\",\"params\":{{\"name\":\"run_report\",\"arguments\":{{\"x\":{}0{}}}}}}}\n",
        "[".repeat(300),
        "]".repeat(300)
    );
    stdin.write_all(deep.as_bytes()).await.unwrap();
    let answer = read_json_line(&mut stdout).await;
    assert_eq!(answer["id"], "deep-1", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nested deeper"),
        "{answer}"
    );
    // The session goes on.
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/list\"}\n")
        .await
        .unwrap();
    let list = read_json_line(&mut stdout).await;
    assert_eq!(list["id"], 12);
    assert_eq!(list["result"]["tools"].as_array().map(Vec::len), Some(9));
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits when stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn http_without_a_key_must_be_asked_for() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let out = ga4_command(&sandbox, &creds, &["--http", "127.0.0.1:0"])
        .env_remove("BERRYBOO_HTTP_KEY")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("every local user") && stderr.contains("--allow-unauthenticated"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it never listened");
}

/// A `ga4-mcp --http` with `extra` flags (no key); returns (child, base URL).
async fn http_with(
    sandbox: &Sandbox,
    creds: &Credentials,
    extra: &[&str],
) -> (tokio::process::Child, String) {
    let mut args = vec![
        "--property-id",
        ACME,
        "--http",
        "127.0.0.1:0",
        "--allow-unauthenticated",
    ];
    args.extend_from_slice(extra);
    let mut child = ga4_command(sandbox, creds, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ga4-mcp starts");
    let (line, _) = first_line(
        child.stdout.take().expect("stdout"),
        Duration::from_secs(20),
    )
    .await
    .expect("address");
    let url = line.strip_prefix("listening on ").expect("line").to_owned();
    (child, url)
}

#[tokio::test]
async fn http_sessions_are_capped_and_idle_ones_expire() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let (_child, base) = http_with(
        &sandbox,
        &creds,
        &["--http-max-sessions", "2", "--http-idle-timeout", "1"],
    )
    .await;
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}});
    let open = || {
        http.post(format!("{base}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string())
            .send()
    };
    for _ in 0..2 {
        let r = open().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("mcp-session-id"));
    }
    let r = open().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "30");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("maximum of 2 MCP sessions")
    );
    // Idle sessions end and free their slot.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if open().await.unwrap().status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "idle sessions never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The legacy SSE endpoint has the same cap.
    let (_child, base) = http_with(&sandbox, &creds, &["--http-max-sessions", "1"]).await;
    let first = http.get(format!("{base}/sse")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = http.get(format!("{base}/sse")).send().await.unwrap();
    assert_eq!(second.status(), 503);
    drop(first);
    // Closing the stream frees the slot.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if http
            .get(format!("{base}/sse"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the closed SSE session kept its slot"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn slow_headers_and_huge_bodies_are_cut_off() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let (_child, base) = http_with(&sandbox, &creds, &["--http-header-timeout", "1"]).await;
    let addr = base.trim_start_matches("http://").to_owned();
    // Slowloris: headers begun and never finished. The server hangs up.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::io::AsyncReadExt::read(&mut slow, &mut buf),
    )
    .await
    .expect("the server closes the slow connection");
    assert!(matches!(n, Ok(0) | Err(_)) || String::from_utf8_lossy(&buf).contains("408"));
    // A parked keep-alive connection is closed too.
    let mut parked = tokio::net::TcpStream::connect(&addr).await.unwrap();
    parked
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match tokio::io::AsyncReadExt::read(&mut parked, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the idle keep-alive connection stays open");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    // A client that stalls halfway through an initialize body holds up nobody else, and gets
    // 408 once the header timeout has passed.
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 400\r\n\r\n{\"jsonrpc\":")
        .await
        .unwrap();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}});
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        reqwest::Client::new()
            .post(format!("{base}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string())
            .send(),
    )
    .await
    .expect("another client's session opens meanwhile")
    .unwrap();
    assert_eq!(r.status(), 200);
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::io::AsyncReadExt::read(&mut stalled, &mut answer),
    )
    .await
    .expect("the stalled body is answered")
    .unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // A body over the cap is refused before it is read: the headers alone get the answer.
    let mut huge = tokio::net::TcpStream::connect(&addr).await.unwrap();
    huge.write_all(
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 5242880\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 256];
    let n = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read(&mut huge, &mut answer),
    )
    .await
    .expect("answered")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// Over HTTP a response goes out in pieces (headers, then an SSE event). On a kept-alive
/// connection without `TCP_NODELAY`, Nagle's algorithm holds the second piece until the
/// client's delayed ACK (about 40 ms on Linux), so every call after the first took ~40 ms where
/// stdio takes one. Hosts keep connections alive (Node's fetch, the TypeScript SDK), so this
/// client does too, with Nagle left on at its end as theirs is. The server calls the sandbox on
/// a kept-alive connection as well, so both hops are covered.
#[tokio::test]
async fn ten_calls_on_a_kept_alive_connection_wait_for_no_delayed_ack() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let server = http_server(&sandbox, &creds, None).await;
    let http = reqwest::Client::builder()
        .tcp_nodelay(false)
        .build()
        .unwrap();
    for revision in [None, Some(ProtocolVersion::V_2026_07_28)] {
        let transport = StreamableHttpClientTransport::with_client(
            http.clone(),
            StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", server.url)),
        );
        let client = match &revision {
            None => ().serve(transport).await.unwrap(),
            Some(v) => ()
                .serve_with_lifecycle(
                    transport,
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![v.clone()],
                    },
                )
                .await
                .unwrap(),
        };
        // The first call opens the connections and fetches the token.
        ok(&call(&client, "get_property_details", json!({}))
            .await
            .unwrap());
        let mut times = Vec::new();
        for _ in 0..10 {
            let started = std::time::Instant::now();
            ok(&call(&client, "get_property_details", json!({}))
                .await
                .unwrap());
            times.push(started.elapsed());
        }
        let total: Duration = times.iter().sum();
        times.sort();
        // A stall adds ~40 ms to every call: ten take over 400 ms, the median call over 40 ms.
        // Healthy, a call takes a few ms even in a debug build; judging the median keeps one
        // passing load spike on a busy machine from failing the test.
        assert!(
            times[5] < Duration::from_millis(20),
            "{revision:?}: ten calls on a kept-alive connection took {total:?} ({times:?}): is \
             a response waiting for the client's delayed ACK (TCP_NODELAY off somewhere)?"
        );
        client.cancel().await.unwrap();
    }
}
