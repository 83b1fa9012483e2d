//! Finding the binaries, and the sandbox process with its control plane and credentials.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::*;

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
            .envs(crate::otel_env())
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

    /// GETs `/__sandbox/{path}` (a query string included) from the control plane.
    pub async fn control_get(&self, path: &str) -> Result<Value> {
        self.control(reqwest::Method::GET, path, None).await
    }

    /// POSTs `body` to the control plane at `/__sandbox/{path}`.
    pub async fn control_post(&self, path: &str, body: Value) -> Result<Value> {
        self.control(reqwest::Method::POST, path, Some(body)).await
    }

    /// Injects a fault (see the sandbox's `/__sandbox/faults`).
    pub async fn fault(&self, spec: Value) -> Result<Value> {
        self.control(reqwest::Method::POST, "faults", Some(spec))
            .await
    }

    /// The faults still active (a spent one is gone).
    pub async fn faults(&self) -> Result<Value> {
        self.control(reqwest::Method::GET, "faults", None).await
    }

    /// Clears every fault.
    pub async fn clear_faults(&self) -> Result<()> {
        self.control(reqwest::Method::DELETE, "faults", None)
            .await
            .map(drop)
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

    /// The grant called `name`: its current refresh token (after rotations) and state.
    pub async fn grant(&self, name: &str) -> Result<Value> {
        let all = self.control(reqwest::Method::GET, "grants", None).await?;
        all["grants"]
            .as_array()
            .and_then(|g| g.iter().find(|g| g["name"] == name).cloned())
            .ok_or_else(|| anyhow!("no grant {name}"))
    }

    /// Token refreshes the sandbox granted for `name`.
    pub async fn refreshes(&self, name: &str) -> Result<u64> {
        Ok(self.counters().await?["token_refreshes"][name]
            .as_u64()
            .unwrap_or(0))
    }
}

/// A private directory holding an `authorized_user` file for one of the fixture grants.
pub struct Credentials {
    dir: tempfile::TempDir,
}

impl Credentials {
    /// Credentials for `refresh_token` of the fixture client, mode 0600.
    pub fn google(refresh_token: &str) -> Result<Self> {
        Self::google_of(CLIENT_SECRET, refresh_token)
    }

    /// Credentials for `refresh_token` of the client `CLIENT_ID` with `client_secret` (the
    /// examples' fixtures have a secret of their own), mode 0600.
    pub fn google_of(client_secret: &str, refresh_token: &str) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("credentials.json");
        let body = json!({
            "type": "authorized_user",
            "client_id": CLIENT_ID,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        });
        std::fs::write(&path, body.to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Self { dir })
    }

    /// A Meta static credentials file `{"access_token": …}`, mode 0600.
    pub fn meta(access_token: &str) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, json!({ "access_token": access_token }).to_string())?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Self { dir })
    }

    /// The file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("credentials.json")
    }
}
