//! Sibling binaries (`ga4-mcp`, `upstream-sandbox`, …): where they are, and MCP clients over
//! their stdio. Only the agent host spawns processes.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where the server binaries are: `BERRYBOO_SERVERS_DIR`, else next to this executable
/// (cargo puts all workspace binaries in one directory; so do packages).
pub fn servers_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BERRYBOO_SERVERS_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot locate the agent-host executable")?;
    exe.parent()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("agent-host has no parent directory"))
}

/// Path of binary `name` in [`servers_dir`].
pub fn sibling(name: &str) -> Result<PathBuf> {
    let path = servers_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} not found (set BERRYBOO_SERVERS_DIR, or build the whole workspace first: `cargo build`)",
            path.display()
        );
    }
    Ok(path)
}

/// A child that prints `listening on http://…` as its first stdout line; killed on drop.
pub struct Listening {
    _child: Child,
    /// The announced base URL.
    pub url: String,
}

/// Starts `cmd` and waits (bounded) for its `listening on` line.
pub async fn start_listening(mut cmd: Command) -> Result<Listening> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start child process")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("child has no stdout"))?;
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .context("child did not announce its address in 20 s")??;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow!("unexpected first line {line:?}"))?
        .to_owned();
    Ok(Listening { _child: child, url })
}

/// An MCP client over a server child's stdio.
pub struct ServerClient {
    service: RunningService<RoleClient, ()>,
}

impl ServerClient {
    /// Spawns `cmd` (a stdio MCP server) and completes the handshake.
    pub async fn spawn(cmd: Command) -> Result<Self> {
        let transport = TokioChildProcess::new(cmd).context("cannot start the MCP server")?;
        let service = ().serve(transport).await.context("MCP handshake failed")?;
        Ok(Self { service })
    }

    /// Tool names the server offers.
    pub async fn tool_names(&self) -> Result<Vec<String>> {
        Ok(self
            .service
            .list_all_tools()
            .await?
            .into_iter()
            .map(|t| t.name.to_string())
            .collect())
    }

    /// Calls `tool` with `arguments` (a JSON object).
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<CallToolResult> {
        let Value::Object(arguments) = arguments else {
            bail!("tool arguments must be a JSON object")
        };
        Ok(self
            .service
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
            .await?)
    }

    /// Closes the session and reaps the child.
    pub async fn close(self) -> Result<()> {
        self.service.cancel().await?;
        Ok(())
    }
}

/// The text of a tool result and whether it is an error.
pub fn result_text(result: &CallToolResult) -> (bool, String) {
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    (result.is_error == Some(true), text)
}
