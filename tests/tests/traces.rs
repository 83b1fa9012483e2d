//! Traces end to end: one chat turn is one trace from the agent host through the server to the
//! upstream, with the broker's vend in it and in its audit row (exported over OTLP/HTTP to a
//! local receiver); a server continues a caller's `traceparent` and its JSON log lines say so.
//! Export is switched on for every process of this test binary, so it has a binary of its own.

use std::process::Stdio;
use std::time::Duration;

use berryboo_e2e::{
    BrokerProc, Credentials, OtlpReceiver, Sandbox, SpanRecord, bin, chat_command, ga4_command,
    otel_env, scripted, shops,
};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, RequestMetaObject};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn find<'a>(spans: &'a [SpanRecord], service: &str, name: &str) -> Option<&'a SpanRecord> {
    spans
        .iter()
        .find(|s| s.service == service && s.name == name)
}

fn child_of<'a>(
    spans: &'a [SpanRecord],
    parent: &SpanRecord,
    service: &str,
    name_starts: &str,
) -> Option<&'a SpanRecord> {
    spans.iter().find(|s| {
        s.service == service
            && s.name.starts_with(name_starts)
            && s.trace_id == parent.trace_id
            && s.parent_span_id == parent.span_id
    })
}

#[tokio::test]
async fn one_chat_turn_is_one_trace_from_the_host_through_the_server_to_the_upstream() {
    let receiver = OtlpReceiver::start().await.expect("receiver");
    receiver.export_everything();
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");

    let mut chat = chat_command("chat-ga4", &sandbox, &broker, shops::ACME);
    chat.envs(otel_env());
    let (status, stdout, stderr) = scripted(chat, "/call get_property_details {}\n").await;
    assert!(
        status.success() && stdout.contains("Acme Shop"),
        "{stdout}\n{stderr}"
    );

    // Every hop of the turn, each the child of the one before it, in one trace.
    let whole = |spans: &[SpanRecord]| {
        let turn = find(spans, "agent-host", "chat turn")?;
        let call = child_of(spans, turn, "agent-host", "tools/call get_property_details")?;
        let served = child_of(spans, call, "ga4-mcp", "tools/call get_property_details")?;
        let upstream = child_of(spans, served, "ga4-mcp", "GET")?;
        let arrived = child_of(spans, upstream, "upstream-sandbox", "GET /v1beta/")?;
        let asked = child_of(spans, served, "ga4-mcp", "credential-broker token")?;
        let vended = child_of(spans, asked, "credential-broker", "token")?;
        Some([turn, call, served, upstream, arrived, asked, vended].map(Clone::clone))
    };
    let spans = receiver
        .until(|spans| whole(spans).is_some())
        .await
        .expect("one whole trace");
    let [turn, _call, served, upstream, arrived, _asked, vended] =
        whole(&spans).expect("one whole trace");
    assert!(turn.parent_span_id.is_empty(), "the turn is the root");
    assert_eq!(served.attributes["tenant"], shops::ACME);
    assert_eq!(upstream.attributes["http.response.status_code"], "200");
    assert!(
        arrived.name.contains("326784853"),
        "the upstream request is the property's: {}",
        arrived.name
    );
    assert_eq!(vended.attributes["provider"], "Google Analytics");

    // The broker's audit row of that vend names the same trace.
    let trace = turn.trace_id.clone();
    let events = berryboo_e2e::audit_until(&sandbox, &broker.database, |events: &[Value]| {
        events
            .iter()
            .any(|e| e["action"] == "token" && e["trace_id"] == trace.as_str())
    })
    .await
    .expect("audit");
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "token" && e["outcome"] == "ok" && e["trace_id"] == trace),
        "{events:#?}"
    );

    // No exported attribute carries a secret: spans leave the process unredacted.
    let everything = format!("{spans:?}");
    for secret in ["ya29.", "bbl_", "1//", berryboo_e2e::CLIENT_SECRET] {
        assert!(!everything.contains(secret), "{secret} in an exported span");
    }
}

type StderrLines = tokio::io::Lines<BufReader<tokio::process::ChildStderr>>;

/// Reads `stderr` lines until a JSON line's message starts with `message`.
async fn line_saying(lines: &mut StderrLines, message: &str) -> Value {
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a log line in time")
            .expect("stderr")
            .expect("the server still runs");
        let parsed: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if parsed["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(message))
        {
            return parsed;
        }
    }
}

async fn finished_call_line(lines: &mut StderrLines) -> Value {
    line_saying(lines, "tool call finished").await
}

/// ga4-mcp over stdio with JSON logs at `rust_log`, its stderr, and its credentials file
/// (which must outlive it).
async fn json_logging_server(
    sandbox: &Sandbox,
    rust_log: &str,
) -> (berryboo_e2e::Client, StderrLines, Credentials) {
    let creds = Credentials::google("sandbox-refresh-acme-e2e").expect("credentials");
    let mut cmd = ga4_command(sandbox, &creds, &["--log-format", "json"]);
    cmd.env("RUST_LOG", rust_log);
    let (transport, stderr) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("ga4-mcp starts");
    let lines = BufReader::new(stderr.expect("stderr")).lines();
    let client = ().serve(transport).await.expect("handshake");
    (client, lines, creds)
}

fn call(traceparent: Option<&str>) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("get_property_details").with_arguments(
        json!({"property_id": "326784853"})
            .as_object()
            .cloned()
            .expect("an object"),
    );
    if let Some(tp) = traceparent {
        let mut meta = RequestMetaObject::new();
        meta.set_traceparent(tp);
        params.meta = Some(meta);
    }
    params
}

#[tokio::test]
async fn a_server_continues_the_callers_trace_and_its_json_logs_name_it() {
    // Export off (this test's processes get no endpoint): ids travel all the same.
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (client, mut lines, _creds) = json_logging_server(&sandbox, "info").await;
    let ours = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let result = client.call_tool(call(Some(ours))).await.expect("call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let line = finished_call_line(&mut lines).await;
    assert_eq!(
        line["trace_id"], "0af7651916cd43dd8448eb211c80319c",
        "the caller's trace: {line}"
    );

    // A malformed traceparent is ignored: the call is served, in a trace of its own.
    for bad in [
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "ya29.not-a-trace-context",
    ] {
        let result = client.call_tool(call(Some(bad))).await.expect("call");
        assert_ne!(result.is_error, Some(true), "{result:?}");
        let line = finished_call_line(&mut lines).await;
        let id = line["trace_id"].as_str().expect("a trace id of its own");
        assert!(
            id.len() == 32 && id != "0af7651916cd43dd8448eb211c80319c",
            "{line}"
        );
        assert!(!line.to_string().contains("ya29"), "{line}");
    }
    // No traceparent: a new trace every call.
    client.call_tool(call(None)).await.expect("call");
    let first = finished_call_line(&mut lines).await["trace_id"].clone();
    client.call_tool(call(None)).await.expect("call");
    let second = finished_call_line(&mut lines).await["trace_id"].clone();
    assert!(first.is_string() && first != second, "{first} {second}");
    let _ = client.cancel().await;
}

#[tokio::test]
async fn a_warning_under_rust_log_warn_still_names_its_calls_trace() {
    // The tool call's span is below the log filter; its warning is not, and belongs to it.
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (client, mut lines, _creds) = json_logging_server(&sandbox, "warn").await;
    sandbox
        .fault(json!({"path_prefix": "/v1beta/properties/326784853", "status": 503, "count": 1}))
        .await
        .expect("fault");
    let ours = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let result = client.call_tool(call(Some(ours))).await.expect("call");
    assert_ne!(result.is_error, Some(true), "retried once: {result:?}");
    let line = line_saying(&mut lines, "upstream asked us to back off").await;
    assert_eq!(
        line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "{line}"
    );
    let _ = client.cancel().await;
}

/// `credential-broker key create`: the shop key (the last line of stdout).
async fn shop_key(broker: &BrokerProc, shop: &str) -> String {
    let out = broker
        .cli(&["key", "create", "--shop", shop, "--label", "traces"])
        .await
        .expect("key create");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = stdout.lines().last().unwrap_or("").to_owned();
    assert!(out.status.success() && key.starts_with("bbk_"), "{stdout}");
    key
}

#[tokio::test]
async fn a_remote_agents_trace_continues_through_the_gateway_to_the_upstream() {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let receiver = OtlpReceiver::start().await.expect("receiver");
    receiver.export_everything();
    let sandbox = Sandbox::start().await.expect("sandbox");
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");
    let key = shop_key(&broker, shops::ACME).await;
    let mut gateway = Command::new(bin("agent-host"));
    gateway
        .args(["gateway", "--listen", "127.0.0.1:0", "--broker-socket"])
        .arg(&broker.socket)
        .args(["--api-base", &sandbox.base])
        .env("RUST_LOG", "warn")
        .envs(otel_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut gateway = gateway.spawn().expect("gateway");
    let (line, _) = berryboo_e2e::first_line(
        gateway.stdout.take().expect("stdout"),
        Duration::from_secs(20),
    )
    .await
    .expect("the gateway's listening line");
    let base = line.strip_prefix("listening on ").expect(&line).to_owned();

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(key),
    );
    let client = ().serve(transport).await.expect("a remote client");
    // The remote agent's own span, as its SDK would send it (SEP-414).
    let remote = "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01";
    let result = client.call_tool(call(Some(remote))).await.expect("call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let _ = client.cancel().await;

    let whole = |spans: &[SpanRecord]| {
        let entry = spans.iter().find(|s| {
            s.service == "agent-host"
                && s.name == "tools/call get_property_details"
                && s.parent_span_id == "eee19b7ec3c1b174"
        })?;
        let call = child_of(
            spans,
            entry,
            "agent-host",
            "tools/call get_property_details",
        )?;
        let served = child_of(spans, call, "ga4-mcp", "tools/call get_property_details")?;
        let upstream = child_of(spans, served, "ga4-mcp", "GET")?;
        let arrived = child_of(spans, upstream, "upstream-sandbox", "GET /v1beta/")?;
        Some([entry, arrived].map(Clone::clone))
    };
    let spans = receiver
        .until(|spans| whole(spans).is_some())
        .await
        .expect("the remote trace, continued to the upstream");
    let [entry, arrived] = whole(&spans).expect("whole");
    assert_eq!(entry.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(arrived.trace_id, entry.trace_id);
    assert_eq!(entry.attributes["shop"], shops::ACME);
    let everything = format!("{spans:?}");
    assert!(
        !everything.contains("bbk_") && !everything.contains("ya29."),
        "a secret in an exported span"
    );
}
