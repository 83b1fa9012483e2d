//! MCP clients on the servers over stdio, and reading their results.

use std::path::Path;

use anyhow::{Result, bail};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::process::Command;

use crate::*;

/// An MCP client connected to a server child over stdio.
pub type Client = RunningService<RoleClient, ()>;

/// The `ga4-mcp` command for `sandbox` and `creds`, plus `extra` flags.
pub fn ga4_command(sandbox: &Sandbox, creds: &Credentials, extra: &[&str]) -> Command {
    server_command("ga4-mcp", sandbox, &creds.path(), extra)
}

/// The command for server binary `name` with static credentials, the sandbox as upstream and
/// the harness's fixed today (for servers that resolve relative dates themselves).
pub fn server_command(
    name: &str,
    sandbox: &Sandbox,
    credentials: &Path,
    extra: &[&str],
) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.arg("--credentials-path")
        .arg(credentials)
        .args(["--api-base", &sandbox.base])
        .args(extra)
        .env("BERRYBOO_TODAY", TODAY)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_HTTP_KEY");
    cmd
}

/// Spawns `cmd` as a stdio MCP server and completes the handshake.
pub async fn connect(cmd: Command) -> Result<Client> {
    let transport = TokioChildProcess::new(cmd)?;
    Ok(().serve(transport).await?)
}

/// Calls a tool and returns its result.
pub async fn call(client: &Client, tool: &str, args: Value) -> Result<CallToolResult> {
    let Value::Object(args) = args else {
        bail!("tool arguments must be an object")
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
    Ok(client.call_tool(params).await?)
}

/// The text of a result's first text block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

/// Asserts success and returns the structured content.
pub fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool failed: {}", text(result));
    result.structured_content.clone().unwrap_or(Value::Null)
}

/// Asserts a tool error and returns its text.
pub fn err(result: &CallToolResult) -> String {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected a tool error, got: {}",
        text(result)
    );
    text(result)
}

/// A result's rows as objects keyed by column (the servers send `columns` once and each row as
/// an array): null cells left out, and a period said once for the page (Meta's `date_start`,
/// `date_stop`) put back in each row. A JSON array, so tests index it like the old shape.
/// Panics on a result without `columns` or `rows`, or a row of another length than the
/// columns: a test must not pass on rows it could not read.
pub fn keyed(out: &Value) -> Value {
    let columns: Vec<&str> = out["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no columns in {out}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let rows = out["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {out}"))
        .clone();
    Value::Array(
        rows.into_iter()
            .map(|row| {
                let cells = row.as_array().cloned().unwrap_or_default();
                assert_eq!(cells.len(), columns.len(), "a row of another length: {row}");
                let mut map: serde_json::Map<String, Value> = columns
                    .iter()
                    .map(|c| (*c).to_owned())
                    .zip(cells)
                    .filter(|(_, v)| !v.is_null())
                    .collect();
                for key in ["date_start", "date_stop"] {
                    if let Some(v) = out.get(key) {
                        map.entry(key).or_insert_with(|| v.clone());
                    }
                }
                Value::Object(map)
            })
            .collect(),
    )
}
