//! Harness for end-to-end tests and the bench: start the real `upstream-sandbox` and server
//! binaries, talk to them over real pipes and sockets, and drive the sandbox's control plane.
//!
//! Binaries are found next to the running executable (target/<profile>/, one level up from
//! deps/), as ripgrep's tests do, because `CARGO_BIN_EXE_*` only covers this package's own.

#![deny(missing_docs)]

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
gsc_sites = ["sc-domain:acme-shop.example", "https://www.gsc-only.example/", "sc-domain:bloom.example"]

[[google_grants]]
name = "rotating"
refresh_token = "sandbox-refresh-rotating-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly"]
ga4_properties = ["412345679"]
rotate_refresh_token = true

[[google_grants]]
name = "ads"
refresh_token = "sandbox-refresh-ads-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/adwords"]
ads_customers = ["1234567890", "9876543210"]

[[google_grants]]
name = "all"
refresh_token = "sandbox-refresh-all-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly", "https://www.googleapis.com/auth/webmasters.readonly", "https://www.googleapis.com/auth/adwords"]
ga4_properties = ["326784853"]
gsc_sites = ["sc-domain:acme-shop.example"]
ads_customers = ["1234567890"]

[[ads_customers]]
id = "1234567890"
descriptive_name = "Acme Shop"
currency_code = "PLN"
time_zone = "Europe/Warsaw"

[[ads_customers]]
id = "9876543210"
descriptive_name = "Acme Agency MCC"
currency_code = "PLN"
time_zone = "Europe/Warsaw"
manager = true
clients = ["1112223334"]

[[ads_customers]]
id = "1112223334"
descriptive_name = "Acme Outlet"
currency_code = "EUR"
time_zone = "Europe/Berlin"
daily_clicks = 260
start_date = "2023-03-01"

[[gsc_sites]]
site_url = "sc-domain:acme-shop.example"
brand = ["acme shop", "acme"]
vertical = "fashion"
ga4_property = "326784853"

[[meta_apps]]
app_id = "sandbox-meta-app"
app_secret = "sandbox-meta-app-secret-e2e"

[[meta_tokens]]
name = "meta-acme"
access_token = "sandbox-meta-acme-e2e"
ad_accounts = ["act_111", "act_112"]
permissions = ["ads_read"]

[[meta_tokens]]
name = "meta-expired"
access_token = "sandbox-meta-expired-e2e"
ad_accounts = ["act_111"]
expires_at = "2025-01-01T00:00:00Z"

[[meta_tokens]]
name = "meta-pages-only"
access_token = "sandbox-meta-pages-only-e2e"
ad_accounts = ["act_111"]
permissions = ["pages_read_engagement"]

[[meta_ad_accounts]]
id = "act_111"
name = "Acme Shop"
ga4_property = "326784853"

[[meta_tokens]]
name = "meta-expiring"
access_token = "sandbox-meta-expiring-e2e"
ad_accounts = ["act_111", "act_112"]
permissions = ["ads_read"]

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

/// A broker config section with the sandbox's Meta app, for the long-lived token exchange.
pub const META_APP_CONFIG: &str =
    "[meta]\napp_id = \"sandbox-meta-app\"\napp_secret = \"sandbox-meta-app-secret-e2e\"\n";

/// Shops the broker tests seed (uuids, so the same seed works on PostgreSQL).
pub mod shops {
    /// GA4 only, grant `acme`.
    pub const ACME: &str = "11111111-1111-4111-8111-111111111111";
    /// GA4 (grant `bloom`) and Search Console.
    pub const BLOOM: &str = "22222222-2222-4222-8222-222222222222";
    /// GA4 whose grant rotates its refresh token.
    pub const ROTATING: &str = "33333333-3333-4333-8333-333333333333";
    /// GA4 integration granted only the Search Console scope.
    pub const NO_SCOPE: &str = "44444444-4444-4444-8444-444444444444";
    /// No integrations at all.
    pub const EMPTY: &str = "55555555-5555-4555-8555-555555555555";
    /// Meta Ads token expiring in 5 days.
    pub const META: &str = "66666666-6666-4666-8666-666666666666";
    /// Meta Ads token that expired.
    pub const META_EXPIRED: &str = "77777777-7777-4777-8777-777777777777";
    /// Google Ads customer 123-456-7890 (grant `ads`).
    pub const ADS: &str = "88888888-8888-4888-8888-888888888888";
    /// Google Ads client 111-222-3334 reached through manager 987-654-3210 (grant `ads`).
    pub const ADS_CLIENT: &str = "99999999-9999-4999-8999-999999999999";
}

/// The broker seed: every GA4 token already expired, so the first vend refreshes.
pub fn broker_seed() -> String {
    let scope = "https://www.googleapis.com/auth/analytics.readonly";
    format!(
        r#"
[[shops]]
id = "{acme}"
name = "Acme"
[[shops.integrations]]
provider = "ga4"
data = {{ token = "stale-token-acme", expires_at = "2020-01-01T00:00:00Z", refresh_token = "sandbox-refresh-acme-e2e", property_id = "326784853", granted_scopes = ["{scope}"] }}

[[shops]]
id = "{bloom}"
name = "Bloom"
[[shops.integrations]]
provider = "ga4"
data = {{ token = "stale-token-bloom", expires_at = 1577836800, refresh_token = "sandbox-refresh-bloom-e2e", property_id = "412345678", granted_scopes = "{scope} openid" }}
[[shops.integrations]]
provider = "gsc"
data = {{ token = "stale-token-bloom-gsc", expires_at = "2020-01-01T00:00:00Z", refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "sc-domain:bloom.example", granted_scopes = ["https://www.googleapis.com/auth/webmasters.readonly"] }}

[[shops]]
id = "{rotating}"
name = "Rotating"
[[shops.integrations]]
provider = "ga4"
data = {{ token = "stale-token-rot", expires_at = "2020-01-01T00:00:00Z", refresh_token = "sandbox-refresh-rotating-e2e", property_id = "412345679", granted_scopes = ["{scope}"] }}

[[shops]]
id = "{no_scope}"
name = "No scope"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_id = "498765433", granted_scopes = ["https://www.googleapis.com/auth/webmasters.readonly"] }}

[[shops]]
id = "{empty}"
name = "Empty"

[[shops]]
id = "{meta}"
name = "Meta shop"
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-expiring-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{meta_expired}"
name = "Meta expired"
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-expired-e2e", expires_at = "2020-01-01T00:00:00Z", ad_account_id = "act_222", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{ads}"
name = "Ads shop"
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", customer_id = "123-456-7890", granted_scopes = ["{adwords}"] }}

[[shops]]
id = "{ads_client}"
name = "Ads client shop"
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", customer_id = "1112223334", login_customer_id = "987-654-3210", granted_scopes = ["{adwords}"] }}
"#,
        ads = shops::ADS,
        ads_client = shops::ADS_CLIENT,
        adwords = "https://www.googleapis.com/auth/adwords",
        meta = shops::META,
        meta_expired = shops::META_EXPIRED,
        meta_expires = (chrono::Utc::now() + chrono::Duration::days(5))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        acme = shops::ACME,
        bloom = shops::BLOOM,
        rotating = shops::ROTATING,
        no_scope = shops::NO_SCOPE,
        empty = shops::EMPTY,
    )
}

/// Id of the `i`th shop of [`full_shops_seed`].
pub fn full_shop_id(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-000000000000")
}

/// `n` shops with all four integrations (grant `all`, Meta token `meta-acme`), every Google
/// token already expired: for the pool test and the bench.
pub fn full_shops_seed(n: usize) -> String {
    let google = "https://www.googleapis.com/auth";
    let meta_expires = (chrono::Utc::now() + chrono::Duration::days(50))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut seed = String::new();
    for i in 0..n {
        let id = full_shop_id(i);
        seed.push_str(&format!(
            r#"
[[shops]]
id = "{id}"
name = "Shop {i}"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-all-e2e", property_id = "326784853", granted_scopes = ["{google}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-all-e2e", property_url = "sc-domain:acme-shop.example", granted_scopes = ["{google}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-all-e2e", customer_id = "1234567890", granted_scopes = ["{google}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}
"#
        ));
    }
    seed
}

/// Runs `credential-broker` with `args` and the sandbox's OAuth client in the environment.
pub async fn broker_cli(sandbox: &Sandbox, args: &[&str]) -> Result<std::process::Output> {
    Ok(Command::new(bin("credential-broker"))
        .args(args)
        .env("BERRYBOO_GOOGLE_CLIENT_ID", CLIENT_ID)
        .env("BERRYBOO_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await?)
}

/// The broker's audit trail of `database` (as `audit --json`) once `done` holds for it. Audit
/// rows are written behind the requests, in batches: a test waits for the rows it expects, up
/// to a minute, and gets the last trail read either way so its own assertion explains a miss.
pub async fn audit_until(
    sandbox: &Sandbox,
    database: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>> {
    cli_list_until(
        sandbox,
        &["audit", "--database", database, "--json", "--limit", "5000"],
        done,
    )
    .await
}

/// The broker's notifications of `database` (as `notifications --json`) once `done` holds for
/// them: the broker records some in the background (its sweep of expiring Meta tokens).
pub async fn notifications_until(
    sandbox: &Sandbox,
    database: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>> {
    cli_list_until(
        sandbox,
        &[
            "notifications",
            "--database",
            database,
            "--json",
            "--limit",
            "1000",
        ],
        done,
    )
    .await
}

/// The JSON list `credential-broker ARGS` prints, once `done` holds for it (up to a minute).
async fn cli_list_until(
    sandbox: &Sandbox,
    args: &[&str],
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = broker_cli(sandbox, args).await?;
        anyhow::ensure!(
            out.status.success(),
            "{} failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
        if done(&list) || std::time::Instant::now() >= deadline {
            return Ok(list);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A PostgreSQL database created for one test and dropped after it, when
/// `TEST_POSTGRES_URL` is set. Without it, [`TestPostgres::create`] returns `None` after a loud
/// line on stderr — or panics when `BERRYBOO_REQUIRE_ALL_TESTS=1` (CI), so a skip never
/// passes for green.
pub struct TestPostgres {
    admin_url: String,
    name: String,
    /// URL of the fresh database.
    pub url: String,
}

impl TestPostgres {
    /// A fresh, empty database, or `None` (skip) without PostgreSQL.
    pub fn create(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
            skip(&format!(
                "SKIPPED {test} on PostgreSQL: TEST_POSTGRES_URL is not set"
            ));
            return None;
        };
        let name = format!("berryboo_e2e_{:016x}", rand::random::<u64>());
        let out = std::process::Command::new("psql")
            .arg(&admin_url)
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "CREATE DATABASE failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("TEST_POSTGRES_URL must end with /DATABASE"),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.admin_url)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A running `credential-broker serve` on a private socket, killed on drop.
pub struct BrokerProc {
    child: Child,
    dir: tempfile::TempDir,
    /// Its socket.
    pub socket: PathBuf,
    /// Its database URL.
    pub database: String,
    /// Everything it wrote to stderr so far (drained by a task).
    pub logs: std::sync::Arc<std::sync::Mutex<String>>,
    rust_log: String,
}

impl BrokerProc {
    /// A migrated and seeded SQLite database in a temp dir; returns (dir, url).
    pub async fn sqlite_db(sandbox: &Sandbox) -> Result<(tempfile::TempDir, String)> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("shops.db").display());
        Self::prepare(sandbox, &url).await?;
        Ok((dir, url))
    }

    /// Migrates `url` and seeds it with [`broker_seed`].
    pub async fn prepare(sandbox: &Sandbox, url: &str) -> Result<()> {
        Self::prepare_with(sandbox, url, &broker_seed()).await
    }

    /// Migrates `url` and seeds it with `seed` (TOML, the `seed` command's format).
    pub async fn prepare_with(sandbox: &Sandbox, url: &str, seed: &str) -> Result<()> {
        let seed_dir = tempfile::tempdir()?;
        let seed_path = seed_dir.path().join("seed.toml");
        std::fs::write(&seed_path, seed)?;
        for args in [
            vec!["migrate", "--database", url],
            vec![
                "seed",
                "--database",
                url,
                "--file",
                seed_path.to_str().unwrap_or(""),
            ],
        ] {
            let out = broker_cli(sandbox, &args).await?;
            if !out.status.success() {
                bail!(
                    "credential-broker {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(())
    }

    /// Starts `serve` on `database` with the sandbox as Google, `rust_log` as its filter and
    /// `config` (TOML) as its config file.
    pub async fn start(
        sandbox: &Sandbox,
        database: &str,
        rust_log: &str,
        config: &str,
    ) -> Result<Self> {
        Self::start_at(sandbox, database, rust_log, config, tempfile::tempdir()?).await
    }

    /// [`BrokerProc::start`] with its socket at `dir/run/broker.sock` (a test may prepare the
    /// directory's permissions first).
    pub async fn start_at(
        sandbox: &Sandbox,
        database: &str,
        rust_log: &str,
        config: &str,
        dir: tempfile::TempDir,
    ) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let socket = dir.path().join("run/broker.sock");
        let config_path = dir.path().join("broker.toml");
        std::fs::write(&config_path, config)?;
        std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600))?;
        let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let child = Self::launch(sandbox, database, rust_log, &socket, &config_path, &logs).await?;
        Ok(Self {
            child,
            dir,
            socket,
            database: database.to_owned(),
            logs,
            rust_log: rust_log.to_owned(),
        })
    }

    /// Stops it (SIGKILL: no goodbye to anyone), leaving its socket path and database.
    pub async fn stop(&mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Starts it again on the same socket, database and config (after [`BrokerProc::stop`]).
    pub async fn start_again(&mut self, sandbox: &Sandbox) -> Result<()> {
        let config_path = self.dir.path().join("broker.toml");
        self.child = Self::launch(
            sandbox,
            &self.database,
            &self.rust_log,
            &self.socket,
            &config_path,
            &self.logs,
        )
        .await?;
        Ok(())
    }

    async fn launch(
        sandbox: &Sandbox,
        database: &str,
        rust_log: &str,
        socket: &Path,
        config_path: &Path,
        logs: &std::sync::Arc<std::sync::Mutex<String>>,
    ) -> Result<Child> {
        let mut child = Command::new(bin("credential-broker"))
            .args(["serve", "--database", database, "--socket"])
            .arg(socket)
            .arg("--config")
            .arg(config_path)
            .env("BERRYBOO_GOOGLE_CLIENT_ID", CLIENT_ID)
            .env("BERRYBOO_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
            .env("BERRYBOO_API_BASE", &sandbox.base)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start credential-broker (run `cargo build` first)")?;
        if let Some(stderr) = child.stderr.take() {
            let sink = logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut l) = sink.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if broker_proto::client::BrokerClient::connect(socket)
                .await
                .is_ok()
            {
                return Ok(child);
            }
            if let Ok(Some(status)) = child.try_wait() {
                let l = logs.lock().map(|l| l.clone()).unwrap_or_default();
                bail!("credential-broker exited with {status}: {l}");
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "credential-broker did not open {} in 20 s",
                    socket.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `credential-broker ARGS --socket <its socket>` (an admin's command through this broker):
    /// its output, whatever the exit status.
    pub async fn cli(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(Command::new(bin("credential-broker"))
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await?)
    }

    /// A connected client.
    pub async fn client(&self) -> Result<broker_proto::client::BrokerClient> {
        Ok(broker_proto::client::BrokerClient::connect(&self.socket).await?)
    }

    /// A lease for `shop` and `providers` (1 hour).
    pub async fn lease(
        &self,
        shop: &str,
        providers: &[broker_proto::Provider],
    ) -> Result<broker_proto::LeaseGrant> {
        Ok(self
            .client()
            .await?
            .create_lease(shop, providers, 3600)
            .await?)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The private directory it runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The `ga4-mcp` command for a broker-backed shop: lease in the environment, never argv.
pub fn ga4_broker_command(
    sandbox: &Sandbox,
    broker: &BrokerProc,
    shop: &str,
    lease: &str,
) -> Command {
    broker_server_command("ga4-mcp", sandbox, broker, shop, lease)
}

/// The command of server `binary` for a broker-backed shop: lease in the environment, never
/// argv; the account comes from the shop's integration.
pub fn broker_server_command(
    binary: &str,
    sandbox: &Sandbox,
    broker: &BrokerProc,
    shop: &str,
    lease: &str,
) -> Command {
    let mut cmd = Command::new(bin(binary));
    cmd.args(["--shop-id", shop, "--api-base", &sandbox.base])
        .arg("--broker-socket")
        .arg(&broker.socket)
        .env("BERRYBOO_LEASE", lease)
        .env("BERRYBOO_TODAY", TODAY)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_CREDENTIALS_PATH")
        .env_remove("BERRYBOO_HTTP_KEY");
    cmd
}

/// Process ids whose parent is `pid`, from `/proc/*/stat` (readable for every process, even
/// one that made itself undumpable, unlike `/proc/PID/task/*/children`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    // "pid (comm) state ppid …": comm may hold spaces, so split after ')'.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Whether this test runs as root (some tests switch to another uid, which needs it).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Says loudly that a test skipped, and why — or fails it where every test must run
/// (`BERRYBOO_REQUIRE_ALL_TESTS=1`, as in CI), so a skip never passes for green.
pub fn skip(msg: &str) {
    if std::env::var("BERRYBOO_REQUIRE_ALL_TESTS").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("\n*** {msg} ***\n");
}

/// Skips (returns false) when not root — see [`skip`].
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(&format!(
        "SKIPPED {test}: switching to another uid needs root"
    ));
    false
}

/// Whether the official Python MCP SDK (tests/python/requirements.txt) is installed; when it
/// is not, `test` [`skip`]s.
pub fn python_sdk_available(test: &str) -> bool {
    let available = std::process::Command::new("python3")
        .args([
            "-c",
            "import mcp.client.sse, mcp.client.streamable_http, mcp.client.auth, httpx2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        skip(&format!(
            "SKIPPED {test}: the `mcp` Python package is missing (pip install -r tests/python/requirements.txt)"
        ));
    }
    available
}
