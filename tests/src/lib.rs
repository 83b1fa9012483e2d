//! Harness for end-to-end tests and the bench: start the real `upstream-sandbox` and server
//! binaries, talk to them over real pipes and sockets, and drive the sandbox's control plane.
//!
//! Binaries are found next to the running executable (target/<profile>/, one level up from
//! deps/), as ripgrep's tests do, because `CARGO_BIN_EXE_*` only covers this package's own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The date every test's sandbox treats as today, so relative dates are deterministic.
pub const TODAY: &str = "2026-10-21";

/// OAuth client every test fixture declares.
pub const CLIENT_ID: &str = "sandbox-client.apps.googleusercontent.com";
/// Its secret.
pub const CLIENT_SECRET: &str = "sandbox-client-secret-e2e";

/// Fixtures the tests share: grants with known properties, one revoked, one without GA4 scope.
pub const FIXTURES: &str = r#"
[[google_clients]]
client_id = "sandbox-client.apps.googleusercontent.com"
client_secret = "sandbox-client-secret-e2e"

[[google_grants]]
name = "acme"
refresh_token = "sandbox-refresh-acme-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly"]
ga4_properties = ["326784853"]

[[google_grants]]
name = "bloom"
refresh_token = "sandbox-refresh-bloom-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly"]
ga4_properties = ["412345678", "412345679"]

[[google_grants]]
name = "gsc-only"
refresh_token = "sandbox-refresh-gsc-only-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/webmasters.readonly"]

[[ga4_properties]]
id = "326784853"
display_name = "Acme Shop"
account_id = "1000"
account_name = "Acme"
time_zone = "Europe/Warsaw"
currency_code = "PLN"
google_ads_links = ["1234567890"]
custom_dimensions = [{ parameter_name = "shoe_size", display_name = "Shoe size", scope = "EVENT" }]
custom_metrics = [{ parameter_name = "loyalty_points", display_name = "Loyalty points", scope = "EVENT", measurement_unit = "STANDARD" }]
"#;

/// Path of a workspace binary built next to the current executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// Reads the first stdout line of a child (`listening on http://…`) within `timeout`.
pub async fn first_line<R: AsyncRead + Unpin>(
    out: R,
    timeout: Duration,
) -> Result<(String, BufReader<R>)> {
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    tokio::time::timeout(timeout, reader.read_line(&mut line))
        .await
        .context("timed out waiting for the first stdout line")??;
    Ok((line.trim().to_owned(), reader))
}

/// A running `upstream-sandbox`, killed on drop.
pub struct Sandbox {
    _child: Child,
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

impl Sandbox {
    /// Starts the sandbox on a free port with [`FIXTURES`].
    pub async fn start() -> Result<Self> {
        Self::start_with(FIXTURES, &[]).await
    }

    /// Starts the sandbox with `fixtures` and extra flags.
    pub async fn start_with(fixtures: &str, extra: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("fixtures.toml");
        std::fs::write(&path, fixtures)?;
        let exe = bin("upstream-sandbox");
        let mut child = Command::new(&exe)
            .args(["--bind", "127.0.0.1:0", "--today", TODAY, "--fixtures"])
            .arg(&path)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {} (run `cargo build` first)", exe.display()))?;
        let out = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (line, _) = first_line(out, Duration::from_secs(20)).await?;
        let base = line
            .strip_prefix("listening on ")
            .ok_or_else(|| anyhow!("unexpected first line from the sandbox: {line:?}"))?
            .to_owned();
        Ok(Self {
            _child: child,
            _dir: dir,
            base,
            http: reqwest::Client::new(),
        })
    }

    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/__sandbox/{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("sandbox control {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Injects a fault (see the sandbox's `/__sandbox/faults`).
    pub async fn fault(&self, spec: Value) -> Result<Value> {
        self.control(reqwest::Method::POST, "faults", Some(spec))
            .await
    }

    /// Revokes the grant called `name`.
    pub async fn revoke(&self, name: &str) -> Result<()> {
        self.control(
            reqwest::Method::POST,
            "grants/revoke",
            Some(json!({ "name": name })),
        )
        .await
        .map(drop)
    }

    /// Expires every access token the sandbox has issued.
    pub async fn expire_tokens(&self) -> Result<()> {
        self.control(reqwest::Method::POST, "tokens/expire", None)
            .await
            .map(drop)
    }

    /// Counters: token refreshes and API calls.
    pub async fn counters(&self) -> Result<Value> {
        self.control(reqwest::Method::GET, "counters", None).await
    }
}

/// A private directory holding an `authorized_user` file for one of the fixture grants.
pub struct Credentials {
    dir: tempfile::TempDir,
}

impl Credentials {
    /// Credentials for `refresh_token` of the fixture client, mode 0600.
    pub fn google(refresh_token: &str) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("credentials.json");
        let body = json!({
            "type": "authorized_user",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": refresh_token,
        });
        std::fs::write(&path, body.to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Self { dir })
    }

    /// The file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("credentials.json")
    }
}

/// An MCP client connected to a server child over stdio.
pub type Client = RunningService<RoleClient, ()>;

/// The `ga4-mcp` command for `sandbox` and `creds`, plus `extra` flags.
pub fn ga4_command(sandbox: &Sandbox, creds: &Credentials, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin("ga4-mcp"));
    cmd.arg("--credentials-path")
        .arg(creds.path())
        .args(["--api-base", &sandbox.base])
        .args(extra)
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
