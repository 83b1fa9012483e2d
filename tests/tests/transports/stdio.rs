//! stdio: framing under garbage, both protocol revisions, start-up failures, stderr without secrets, oversized and too deeply nested messages.

use super::*;

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
