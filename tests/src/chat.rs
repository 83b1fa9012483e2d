//! `agent-host` chats as the tests drive them: a chat command for a shop over the broker, and
//! a script on its stdin.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::{BrokerProc, Sandbox, bin};

/// `agent-host KIND` (`chat-ga4`, …) for `shop` with tokens from `broker` and the sandbox as
/// upstream, in direct mode (no model) and with the default quota reserve; pipes for stdio.
pub fn chat_command(kind: &str, sandbox: &Sandbox, broker: &BrokerProc, shop: &str) -> Command {
    let mut cmd = Command::new(bin("agent-host"));
    cmd.args([kind, "--shop-id", shop, "--api-base", &sandbox.base])
        .arg("--broker-socket")
        .arg(&broker.socket)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .env_remove("BERRYBOO_QUOTA_RESERVE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` with `script` on stdin to its end (at most 60 s); returns (status, stdout,
/// stderr).
pub async fn scripted(
    mut cmd: Command,
    script: &str,
) -> (std::process::ExitStatus, String, String) {
    let mut child = cmd.spawn().expect("agent-host starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(script.as_bytes())
        .await
        .expect("write script");
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the chat ends")
        .expect("output");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
