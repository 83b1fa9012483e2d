//! `agent-host` end to end: chat sessions over the real broker, sandbox and server binaries,
//! driven through stdin like a script would; the model loop against a scripted
//! OpenAI-compatible endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berryboo_e2e::{BrokerProc, Sandbox, chat_command, scripted, shops};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn direct_mode_lists_and_calls_tools_and_exits_zero_at_eof() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");
    let (status, out, err) = scripted(
        chat_command("chat-ga4", &sandbox, &broker, shops::ACME),
        "/tools\n/call get_property_details {}\n/call run_report {\"date_ranges\": [{\"start_date\": \"7daysAgo\", \"end_date\": \"yesterday\"}], \"metrics\": [\"sessions\"]}\n/call nope {}\n/describe run_report\nHow many users yesterday?\n",
    )
    .await;
    assert!(status.success(), "{status}\n{out}\n{err}");
    assert!(
        out.contains("✓ Connected to GA4 property: 326784853"),
        "{out}"
    );
    assert!(out.contains(&format!("Shop: {}", shops::ACME)), "{out}");
    assert!(out.contains("credential broker"), "{out}");
    assert!(
        out.contains("Available tools: ") && out.contains("run_report"),
        "{out}"
    );
    assert!(out.contains("Acme Shop"), "the /call answered: {out}");
    assert!(out.contains("rows 1–1 of 1"), "{out}");
    assert!(
        out.contains("No tool \"nope\"") || out.contains("no tool \"nope\""),
        "{out}"
    );
    assert!(out.contains("Input schema"), "{out}");
    assert!(out.contains("No model is configured"), "{out}");
    // The session's lease is gone.
    let revoked = |events: &[Value]| {
        events
            .iter()
            .any(|e| e["action"] == "lease_revoke" && e["outcome"] == "ok")
    };
    let events = berryboo_e2e::audit_until(&sandbox, &broker.database, revoked)
        .await
        .unwrap();
    assert!(revoked(&events), "lease revoked at exit: {events:?}");
}

#[tokio::test]
async fn two_shops_chatting_at_once_see_only_their_own_data() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");
    let script = "/call get_account_summaries {}\n/call get_property_details {}\n/call run_report {\"property_id\": \"326784853\", \"date_ranges\": [{\"start_date\": \"yesterday\", \"end_date\": \"yesterday\"}], \"metrics\": [\"sessions\"]}\n";
    let (a, b) = tokio::join!(
        scripted(
            chat_command("chat-ga4", &sandbox, &broker, shops::ACME),
            script
        ),
        scripted(
            chat_command("chat-ga4", &sandbox, &broker, shops::BLOOM),
            script
        )
    );
    let (acme, bloom) = (a.1, b.1);
    assert!(
        acme.contains("properties/326784853") && !acme.contains("412345678"),
        "acme:\n{acme}"
    );
    // Bloom's grant also reaches 412345679, another shop's property: not listed.
    assert!(
        bloom.contains("properties/412345678") && !bloom.contains("412345679"),
        "bloom:\n{bloom}"
    );
    // Bloom's session cannot read Acme's property even when asked for it by id.
    assert!(
        bloom.contains("326784853 is not this shop's"),
        "bloom:\n{bloom}"
    );
    assert!(!bloom.contains("Acme Shop"), "bloom:\n{bloom}");
}

#[tokio::test]
async fn unknown_shops_and_missing_integrations_print_the_guides_message() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");
    let (status, out, _) = scripted(
        chat_command("chat-ga4", &sandbox, &broker, "non-existent-uuid"),
        "",
    )
    .await;
    assert!(!status.success());
    assert!(
        out.contains("No Google Analytics integration found for shop non-existent-uuid.\nPlease connect your Google Analytics account in the dashboard."),
        "{out}"
    );
    let (status, out, _) = scripted(
        chat_command("chat-meta-ads", &sandbox, &broker, shops::ACME),
        "",
    )
    .await;
    assert!(!status.success());
    assert!(out.contains(&format!("No Meta Ads integration found for shop {}.\nPlease connect your Meta Ads account in the dashboard.", shops::ACME)), "{out}");
}

#[tokio::test]
async fn a_killed_server_is_restarted_once_then_reported() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");
    let mut child = chat_command("chat-ga4", &sandbox, &broker, shops::ACME)
        .spawn()
        .unwrap();
    let host_pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut read_until = async |needle: &str| -> String {
        let mut seen = String::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
                .await
                .expect("output in time")
                .unwrap()
                .expect("a line");
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(needle) {
                return seen;
            }
        }
    };
    read_until("Available tools").await;
    // The server is a child of one of the host's threads: look in every task's children.
    let kill_any = || {
        let mut killed = 0;
        for task in std::fs::read_dir(format!("/proc/{host_pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for pid in children.split_whitespace() {
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
                if exe.ends_with("ga4-mcp") {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", pid])
                        .status();
                    killed += 1;
                }
            }
        }
        killed
    };
    assert_eq!(kill_any(), 1, "one ga4-mcp child");
    stdin
        .write_all(b"/call get_property_details {}\n")
        .await
        .unwrap();
    let out = read_until("timeZone").await;
    assert!(
        out.contains("Europe/Warsaw"),
        "restarted and answered: {out}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(kill_any(), 1, "the restarted child");
    stdin
        .write_all(b"/call get_property_details {}\n")
        .await
        .unwrap();
    let out = read_until("✗").await;
    assert!(
        out.contains("stopped") && out.contains("could not be restarted"),
        "{out}"
    );
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn children_are_gone_and_nothing_is_left_on_disk_after_exit() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = chat_command("chat-ga4", &sandbox, &broker, shops::ACME);
    cmd.env("TMPDIR", tmp.path())
        .env("XDG_RUNTIME_DIR", tmp.path());
    let mut child = cmd.spawn().unwrap();
    let host_pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Ok(Some(line)) = stdout.next_line().await {
        if line.contains("Available tools") {
            break;
        }
    }
    let mut servers = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{host_pid}/task"))
        .unwrap()
        .flatten()
    {
        servers.extend(
            std::fs::read_to_string(task.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    assert!(!servers.is_empty(), "the server runs as a child");
    for pid in &servers {
        let environ = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&environ).contains("bbl_"),
            "no lease in argv"
        );
    }
    stdin.write_all(b"/quit\n").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    for pid in &servers {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} reaped"
        );
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written to TMPDIR or the runtime dir"
    );
}

/// A scripted OpenAI-compatible endpoint: the first request gets a streamed tool call, the
/// second (which must carry the tool's result) gets a streamed answer.
async fn fake_model() -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::response::IntoResponse;
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let log = log.clone();
            async move {
                let turn = {
                    let mut l = log.lock().expect("request log");
                    l.push(body.clone());
                    l.len()
                };
                let chunk = |delta: Value, finish: Value| {
                    format!(
                        "data: {}\n\n",
                        json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "scripted",
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
                    )
                };
                let body = if turn == 1 {
                    let args = r#"{"date_ranges": [{"start_date": "yesterday", "end_date": "yesterday"}], "metrics": ["activeUsers"]}"#;
                    chunk(json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "run_report", "arguments": ""}}]}), Value::Null)
                        + &chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": args}}]}), Value::Null)
                        + &chunk(json!({}), json!("tool_calls"))
                        + "data: [DONE]\n\n"
                } else {
                    chunk(json!({"role": "assistant", "content": "Yesterday the shop had "}), Value::Null)
                        + &chunk(json!({"content": "many active users."}), Value::Null)
                        + &chunk(json!({}), json!("stop"))
                        + "data: [DONE]\n\n"
                };
                ([("content-type", "text/event-stream")], body).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test]
async fn the_model_calls_tools_through_the_shops_server() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, broker) = BrokerProc::with_sqlite(&sandbox).await.expect("broker");
    let (base, seen) = fake_model().await;
    let mut cmd = chat_command("chat-ga4", &sandbox, &broker, shops::ACME);
    cmd.env("BERRYBOO_LLM_BASE_URL", &base)
        .env("BERRYBOO_LLM_MODEL", "scripted")
        .env("BERRYBOO_LLM_API_KEY", "sk-test-not-a-real-key");
    cmd.args(["--ask", "How many active users yesterday?"]);
    let (status, out, err) = scripted(cmd, "").await;
    assert!(status.success(), "{out}\n{err}");
    assert!(
        out.contains("⚙ run_report("),
        "tool call shown compactly: {out}"
    );
    assert!(
        out.contains("Yesterday the shop had many active users."),
        "streamed answer: {out}"
    );
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one tool round, then the answer");
    let first = &requests[0];
    assert_eq!(first["model"], "scripted");
    let tool_names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(
        tool_names.contains(&"run_report") && tool_names.len() == 9,
        "{tool_names:?}"
    );
    let tool_message = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("tool result sent back");
    assert_eq!(tool_message["tool_call_id"], "call_1");
    assert!(
        tool_message["content"]
            .as_str()
            .unwrap_or("")
            .contains("properties/326784853"),
        "{tool_message}"
    );
}
