//! `agent-host gateway` end to end: real broker, gateway, servers and sandbox processes; shop
//! keys made with the broker's CLI; MCP over streamable HTTP from the official Python SDK and
//! from raw requests, as an attacker would send them.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use berryboo_e2e::{BrokerProc, Sandbox, bin, first_line, scrape, shops};
use serde_json::{Value, json};
use tokio::process::Command;

mod clients;
mod keys;
mod metrics;

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
