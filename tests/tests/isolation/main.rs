//! Isolation fails closed, tried as an attacker and a careless operator would, with the real
//! broker, servers, agent host and sandbox:
//! - the agency case: one Google login and one Meta user reach two shops' accounts, and shop C's
//!   integrations name no account — C reads nothing (no lease, no token, no server call), health
//!   lists the integrations, the pipeline asks C to finish connecting them;
//! - least privilege: each server child of `chat-*` and `pipeline` holds a lease for its own
//!   provider only, read from an inherited pipe, and nothing of the host's environment
//!   (database URL, model key, webhook secret, app secrets) — read from `/proc/PID/environ`;
//! - a host whose uid the broker only allows (not admins) mints leases with a host key that its
//!   servers, of the same uid, cannot use or read.

use std::process::Stdio;
use std::time::Duration;

use berryboo_e2e::{BrokerProc, Sandbox, bin, children_of};
use broker_proto::{ErrorCode, Provider};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

mod accounts;
mod leases;

/// Shop B: every source with its account.
const SHOP_B: &str = "b0000000-0000-4000-8000-00000000000b";
/// Shop C: the same logins as B (an agency connected both), but no account selected anywhere.
const SHOP_C: &str = "c0000000-0000-4000-8000-00000000000c";

/// Each provider: (chat command, B's account, an account the same login reaches that is not
/// B's, a tool call that names that other account).
const AGENCY: &[(Provider, &str, &str, &str, &str)] = &[
    (
        Provider::Ga4,
        "chat-ga4",
        "412345678",
        "412345679",
        r#"/call get_property_details {"property_id": "412345679"}"#,
    ),
    (
        Provider::Gsc,
        "chat-gsc",
        "sc-domain:bloom.example",
        "sc-domain:acme-shop.example",
        r#"/call get_site_details {"site_url": "sc-domain:acme-shop.example"}"#,
    ),
    (
        Provider::GoogleAds,
        "chat-google-ads",
        "1234567890",
        "1112223334",
        r#"/call search {"customer_id": "1112223334", "login_customer_id": "9876543210", "query": "SELECT customer.id FROM customer"}"#,
    ),
    (
        Provider::MetaAds,
        "chat-meta-ads",
        "act_111",
        "act_112",
        r#"/call get_account_info {"account_id": "act_112"}"#,
    ),
];

fn agency_seed() -> String {
    let g = "https://www.googleapis.com/auth";
    let meta_expires = (chrono::Utc::now() + chrono::Duration::days(50))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"
[[shops]]
id = "{SHOP_B}"
name = "Agency client B"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-bloom-e2e", property_id = "412345678", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "sc-domain:bloom.example", granted_scopes = ["{g}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", customer_id = "1234567890", granted_scopes = ["{g}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{SHOP_C}"
name = "Agency client C"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-bloom-e2e", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "", granted_scopes = ["{g}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", login_customer_id = "987-654-3210", granted_scopes = ["{g}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", granted_scopes = ["ads_read"] }}
"#
    )
}

async fn agency() -> (Sandbox, tempfile::TempDir, String, BrokerProc) {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &url, &agency_seed())
        .await
        .expect("seeded");
    let broker = BrokerProc::start(&sandbox, &url, "info", "")
        .await
        .expect("broker");
    (sandbox, dir, url, broker)
}

/// `agent-host ARGS` against the agency's broker, database and sandbox.
fn agent_host(sandbox: &Sandbox, broker: &BrokerProc, db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("agent-host"));
    cmd.args(args)
        .env("BERRYBOO_DATABASE_URL", db)
        .env("BERRYBOO_BROKER_SOCKET", &broker.socket)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// `agent-host anomaly add`: a GA4 revenue drop for `shop`.
async fn add_revenue_anomaly(sandbox: &Sandbox, broker: &BrokerProc, db: &str, shop: &str) {
    let args = [
        "anomaly",
        "add",
        "--shop",
        shop,
        "--source",
        "ga4",
        "--metric",
        "revenue",
        "--window",
        "2026-10-08..2026-10-14",
        "--baseline",
        "2026-09-10..2026-10-07",
        "--observed",
        "700",
        "--expected",
        "1000",
        "--severity",
        "high",
    ];
    let (code, text) = output(agent_host(sandbox, broker, db, &args)).await;
    assert_eq!(code, 0, "{text}");
}

async fn output(mut cmd: Command) -> (i32, String) {
    let out = cmd.output().await.expect("runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Secrets a careless operator leaves in the host's environment; no child may see any of them.
const HOST_SECRETS: &[(&str, &str)] = &[
    (
        "BERRYBOO_DATABASE_URL",
        "postgres://dashboard:db-password-e2e-7c1f@127.0.0.1:1/dashboard",
    ),
    ("BERRYBOO_LLM_API_KEY", "sk-llm-key-e2e-4b2a9d0e6f"),
    (
        "BERRYBOO_NOTIFY_WEBHOOK_SECRET",
        "webhook-secret-e2e-9e8d7c",
    ),
    (
        "BERRYBOO_GOOGLE_CLIENT_SECRET",
        "GOCSPX-client-secret-e2e-1a2b",
    ),
    ("BERRYBOO_META_APP_SECRET", "meta-app-secret-e2e-5d6e7f"),
    ("BERRYBOO_HTTP_KEY", "http-key-e2e-0123456789abcdef"),
    ("BERRYBOO_LEASE", "bbl_stale-lease-in-the-env-e2e-0000"),
];

/// What a child process carries: (environment, argv, open descriptors 3+).
fn inspect(pid: u32) -> (String, String, Vec<String>) {
    let read = |what: &str| {
        std::fs::read(format!("/proc/{pid}/{what}"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', "\n"))
    };
    // Servers make themselves undumpable: only root (CI) may read their environment; anyone
    // else is refused, which keeps the secrets from them just the same.
    let environ = match read("environ") {
        Ok(e) => e,
        Err(e) if !berryboo_e2e::is_root() => {
            assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
            String::new()
        }
        Err(e) => panic!("cannot read /proc/{pid}/environ as root: {e}"),
    };
    let cmdline = read("cmdline").unwrap_or_default();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str().map(str::to_owned))
                .filter(|n| n.parse::<u32>().is_ok_and(|n| n >= 3))
                .collect()
        })
        .unwrap_or_default();
    (environ, cmdline, fds)
}

/// Asserts a server child got nothing of the host's secrets, and its lease on a pipe only.
fn assert_least_privilege(pid: u32) {
    let (environ, cmdline, _) = inspect(pid);
    assert!(cmdline.contains("--lease-fd\n"), "{pid}: {cmdline}");
    assert!(
        !cmdline.contains("bbl_"),
        "lease in argv of {pid}: {cmdline}"
    );
    for (name, value) in HOST_SECRETS {
        assert!(
            !environ.contains(value) && !environ.contains(&format!("{name}=")),
            "{name} reached child {pid}: {environ}"
        );
    }
    assert!(
        !environ.contains("bbl_"),
        "a lease in the environment of {pid}"
    );
    if berryboo_e2e::is_root() {
        assert!(environ.contains("RUST_LOG="), "{environ}");
    }
}

/// Children of `pid` that are MCP servers, waiting until `n` are up.
async fn servers_of(pid: u32, n: usize) -> Vec<u32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let servers: Vec<u32> = children_of(pid)
            .into_iter()
            .filter(|c| {
                std::fs::read(format!("/proc/{c}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).contains("-mcp"))
                    .unwrap_or(false)
            })
            .collect();
        if servers.len() >= n {
            return servers;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} servers of {pid} did not start: {servers:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `program args` as uid/gid 65534 (nobody) with `stdin`.
fn as_nobody(program: &str, args: &[&str], stdin: Stdio) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin(program))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}
