//! Sibling binaries (`ga4-mcp`, `upstream-sandbox`, …): where they are, and how a child starts
//! (from a cleared environment). Only the agent host spawns processes.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rmcp::model::CallToolResult;
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

/// Whether a child may inherit the host's variable `name`: paths, locale, time zone, proxies,
/// CA certificates, backtraces. Secrets (database URLs, model keys, webhook and app secrets,
/// leases and keys) are never among them.
pub fn system_var(name: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "PATH",
        "HOME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "RUST_BACKTRACE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ];
    SYSTEM.contains(&name) || name.starts_with("LC_")
}

/// Whether a child may inherit the host's OpenTelemetry setting `name` with `value`, so its
/// spans join the host's traces: where to export, sampling, batching, resource attributes.
/// Never `OTEL_EXPORTER_OTLP_HEADERS` (it carries collectors' API keys), nor an endpoint with
/// credentials, a query or a path of its own in it (keys ride there too), nor
/// `OTEL_SERVICE_NAME` (each child names itself).
pub fn telemetry_var(name: &str, value: &str) -> bool {
    const PLAIN: &[&str] = &[
        "OTEL_SDK_DISABLED",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_RESOURCE_ATTRIBUTES",
    ];
    if PLAIN.contains(&name) || name.starts_with("OTEL_BSP_") {
        return true;
    }
    // A collector at its standard paths, with nothing in its user, path, query or fragment
    // that could be a key: the base endpoint, or the traces one.
    telemetry::ENDPOINT_VARS.contains(&name)
        && url::Url::parse(value).is_ok_and(|u| {
            u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
                && matches!(u.path(), "" | "/" | "/v1/traces")
        })
}

/// The log format every child is started with: the host's own (set once, at start).
static LOG_FORMAT: std::sync::OnceLock<cli_kit::LogFormat> = std::sync::OnceLock::new();

/// Children log as the host does from now on (`--log-format`).
pub fn log_as(format: cli_kit::LogFormat) {
    let _ = LOG_FORMAT.set(format);
}

/// A command for `program` that starts from a cleared environment holding only the host's
/// [`system_var`]s and [`telemetry_var`]s, logging in the host's format; the caller adds what
/// that child needs.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().envs(std::env::vars_os().filter(|(k, v)| {
        k.to_str()
            .is_some_and(|k| system_var(k) || v.to_str().is_some_and(|v| telemetry_var(k, v)))
    }));
    if LOG_FORMAT.get() == Some(&cli_kit::LogFormat::Json) {
        cmd.env("BERRYBOO_LOG_FORMAT", "json");
    }
    cmd
}

/// Held by whoever spawns a child from this process. A lease's socket end is made inheritable
/// only while its server is spawned under this lock, so no other child started at that moment
/// (another shop's server) can inherit it. Spawning without `pre_exec` lets the standard
/// library use `posix_spawn` (no copy of this process's page tables per child).
pub static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `spawn` under [`SPAWN`].
pub fn spawning<T>(spawn: impl FnOnce() -> T) -> T {
    let _one_at_a_time = SPAWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    spawn()
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
    let mut child = spawning(|| {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
    })
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

/// The text of a tool result and whether it is an error.
pub fn result_text(result: &CallToolResult) -> (bool, String) {
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    (
        result.is_error == Some(true),
        redaction::text(&text).into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::telemetry_var;

    #[test]
    fn children_get_a_collector_but_never_its_keys() {
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector.internal:4318/",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://otel:4318/v1/traces",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_BSP_SCHEDULE_DELAY", "500"),
        ] {
            assert!(telemetry_var(name, value), "{name}={value}");
        }
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer abc"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=abc"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://user:pass@collector:4318",
            ),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector:4318/?api_key=abc",
            ),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector/receiver/v1/otlp/SECRETTOKEN",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://c/v1/traces#key",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
            ("OTEL_SERVICE_NAME", "agent-host"),
        ] {
            assert!(!telemetry_var(name, value), "{name}={value}");
        }
    }
}
