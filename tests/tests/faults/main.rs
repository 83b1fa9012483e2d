//! Faults surface instead of hiding (issue 11), with real processes: the broker, the servers
//! and the sandbox's fault control plane.

use std::process::Stdio;

use berryboo_e2e::{BrokerProc, Sandbox, bin, broker_cli, call, connect, ok, shops};
use broker_proto::Provider;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::process::Command;

mod processes;
mod tokens;

/// Notifications the broker recorded, as `notifications --json`.
async fn notifications(sandbox: &Sandbox, database: &str) -> Vec<Value> {
    let out = broker_cli(
        sandbox,
        &["notifications", "--database", database, "--json"],
    )
    .await
    .expect("notifications");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("notifications JSON")
}

/// ACME's live leases, as `credential-broker lease list --json`.
async fn acme_leases(broker: &BrokerProc) -> Vec<Value> {
    let out = broker
        .cli(&["lease", "list", "--json", "--shop", shops::ACME])
        .await
        .expect("lease list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("JSON")
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// A direct-mode `agent-host chat-ga4` session for ACME with 10 s leases, once it is ready: the
/// process, its stdin and its stdout lines.
async fn acme_session(
    broker: &BrokerProc,
    sandbox: &Sandbox,
) -> (tokio::process::Child, tokio::process::ChildStdin, Lines) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut session = Command::new(bin("agent-host"))
        .args(["chat-ga4", "--shop-id", shops::ACME, "--lease-ttl", "10s"])
        .arg("--broker-socket")
        .arg(&broker.socket)
        .args(["--api-base", &sandbox.base])
        .env("RUST_LOG", "warn")
        .env("BERRYBOO_TODAY", berryboo_e2e::TODAY)
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("chat");
    let stdin = session.stdin.take().expect("stdin");
    let mut lines = BufReader::new(session.stdout.take().expect("stdout")).lines();
    loop {
        match lines.next_line().await.expect("stdout") {
            Some(l) if l.starts_with("Available tools") => break,
            Some(_) => {}
            None => panic!("the session ended before it was ready"),
        }
    }
    (session, stdin, lines)
}
