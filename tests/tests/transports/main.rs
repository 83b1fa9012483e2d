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

mod http;
mod stdio;

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
