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

#[tokio::test]
async fn an_integration_without_its_account_reads_nothing() {
    let (sandbox, _dir, db, broker) = agency().await;
    let mut client = broker.client().await.expect("client");

    for &(provider, chat, b_account, other, call) in AGENCY {
        // The broker grants no lease for C's provider, and says what to finish.
        let e = client
            .create_lease(SHOP_C, &[provider], 60)
            .await
            .expect_err("no account, no lease");
        let e = e.broker_error().expect("a broker refusal").clone();
        assert_eq!(e.code, ErrorCode::NoAccount, "{provider}: {}", e.message);
        assert_eq!(
            e.message,
            format!(
                "The {service} integration for shop {SHOP_C} has no {noun} selected.\nPlease finish connecting {service} in the dashboard.",
                service = provider.service_name(),
                noun = provider.account_noun()
            )
        );

        // A chat for C stops there: no server starts, nothing is read.
        let (code, text) = output(agent_host(
            &sandbox,
            &broker,
            &db,
            &[chat, "--shop-id", SHOP_C, "--ask", call],
        ))
        .await;
        assert_eq!(code, 1, "{chat} for C: {text}");
        assert!(
            text.contains("has no") && text.contains("selected"),
            "{text}"
        );
        assert!(!text.contains(other), "{chat} for C leaked {other}: {text}");

        // B, whose login reaches the other account too, reads only its own.
        let (code, text) = output(agent_host(
            &sandbox,
            &broker,
            &db,
            &[chat, "--shop-id", SHOP_B, "--ask", call],
        ))
        .await;
        // The refused call is a failed `--ask`: exit 1, the refusal on stderr.
        assert_eq!(code, 1, "{chat} for B: {text}");
        assert!(text.contains(b_account), "{chat} for B: {text}");
        assert!(
            text.contains(&format!("{other} is not this shop's")),
            "{chat} for B must refuse {other}: {text}"
        );
    }

    // Asking for all four at once: still nothing, with the first reason.
    let e = client
        .create_lease(SHOP_C, &Provider::ALL, 60)
        .await
        .expect_err("nothing to lease");
    assert_eq!(
        e.broker_error().map(|b| b.code),
        Some(ErrorCode::NoAccount),
        "{e}"
    );

    // Health lists each of C's integrations, and asks for attention.
    let (code, text) = output(agent_host(&sandbox, &broker, &db, &["health", "--json"])).await;
    assert_eq!(code, 1, "{text}");
    let report: Value = serde_json::from_str(&text).expect("health JSON");
    let missing: Vec<(String, String)> = report["missing_accounts"]
        .as_array()
        .expect("missing_accounts")
        .iter()
        .map(|i| {
            (
                i["shop_id"].as_str().unwrap_or("").to_owned(),
                i["provider"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for p in Provider::ALL {
        assert!(
            missing.contains(&(SHOP_C.to_owned(), p.as_str().to_owned())),
            "{p} of C in {missing:?}"
        );
    }
    assert!(
        missing.iter().all(|(shop, _)| shop == SHOP_C),
        "{missing:?}"
    );
    let (_, text) = output(agent_host(&sandbox, &broker, &db, &["health"])).await;
    assert!(
        text.contains("No account selected (grant nothing): 4"),
        "{text}"
    );

    // The pipeline treats it as a missing integration: a "connect" email, never a reconnect.
    add_revenue_anomaly(&sandbox, &broker, &db, SHOP_C).await;
    let (code, text) = output(agent_host(&sandbox, &broker, &db, &["pipeline"])).await;
    assert_eq!(code, 0, "{text}");
    for other in [
        "412345679",
        "sc-domain:acme-shop.example",
        "1112223334",
        "act_112",
    ] {
        assert!(
            !text.contains(other),
            "the pipeline for C read {other}: {text}"
        );
    }
    let (code, text) = output(agent_host(
        &sandbox,
        &broker,
        &db,
        &["notifications", "--shop", SHOP_C],
    ))
    .await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Connect Google Analytics to Enable AI Insights"),
        "{text}"
    );
    assert!(!text.contains("Reconnect"), "{text}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_server_gets_its_own_lease_on_a_socket_and_none_of_the_hosts_secrets() {
    let (sandbox, _dir, db, broker) = agency().await;

    // chat-*: the session stays open while the children are looked at.
    for (chat, call) in [
        ("chat-ga4", "/call get_property_details {}\n"),
        ("chat-meta-ads", "/call get_account_info {}\n"),
    ] {
        let mut cmd = agent_host(&sandbox, &broker, &db, &[chat, "--shop-id", SHOP_B]);
        cmd.envs(HOST_SECRETS.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("chat starts");
        let host = child.id().expect("pid");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut seen = String::new();
        while let Some(line) = lines.next_line().await.expect("stdout") {
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("Available tools") {
                break;
            }
        }
        assert!(seen.contains("Available tools"), "{seen}");
        for pid in servers_of(host, 1).await {
            assert_least_privilege(pid);
        }
        // One call each, so the broker vends the server a token under its lease.
        let mut stdin = child.stdin.take().expect("stdin");
        tokio::io::AsyncWriteExt::write_all(&mut stdin, call.as_bytes())
            .await
            .expect("call");
        drop(stdin);
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("chat ends at EOF")
            .expect("status");
        assert!(status.success(), "{status}");
    }

    // pipeline: a GA4 call that hangs keeps the shop's four servers up while they are looked at.
    add_revenue_anomaly(&sandbox, &broker, &db, SHOP_B).await;
    sandbox
        .fault(json!({"path_prefix": "/v1beta/properties/", "delay_ms": 120000}))
        .await
        .expect("fault");
    let mut cmd = agent_host(&sandbox, &broker, &db, &["pipeline"]);
    cmd.envs(HOST_SECRETS.iter().copied())
        .env("BERRYBOO_DATABASE_URL", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("pipeline starts");
    let host = child.id().expect("pid");
    let servers = servers_of(host, 4).await;
    for pid in &servers {
        assert_least_privilege(*pid);
    }
    // Interrupted: it hands the anomaly back and revokes its leases.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &host.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("pipeline stops")
        .expect("output");
    assert_eq!(out.status.code(), Some(130), "{out:?}");

    // One lease per server: every token the broker vended for B went to a lease that covers
    // exactly one provider. The audit trail is written behind the vends: wait for the rows.
    let mut providers_by_lease: std::collections::HashMap<
        String,
        std::collections::HashSet<String>,
    > = Default::default();
    for _ in 0..200 {
        let audit = berryboo_e2e::broker_cli(
            &sandbox,
            &["audit", "--database", &db, "--json", "--limit", "500"],
        )
        .await
        .expect("audit");
        let events: Value = serde_json::from_slice(&audit.stdout).expect("audit JSON");
        providers_by_lease.clear();
        for e in events.as_array().expect("events") {
            if e["action"] == "token" && e["outcome"] == "ok" {
                providers_by_lease
                    .entry(e["lease_id"].as_str().unwrap_or("").to_owned())
                    .or_default()
                    .insert(e["provider"].as_str().unwrap_or("").to_owned());
            }
        }
        if providers_by_lease.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        providers_by_lease.len() >= 2,
        "chat-ga4 and chat-meta-ads each used their own lease: {providers_by_lease:?}"
    );
    assert!(
        providers_by_lease.values().all(|p| p.len() == 1),
        "{providers_by_lease:?}"
    );
}

#[tokio::test]
async fn a_provider_lease_reaches_no_other_provider() {
    let (_sandbox, _dir, _db, broker) = agency().await;
    let mut client = broker.client().await.expect("client");
    let set = client
        .create_leases(SHOP_B, &Provider::ALL, 60)
        .await
        .expect("leases");
    assert_eq!(set.leases.len(), 4);
    for lease in &set.leases {
        for other in Provider::ALL {
            let got = client.get_token(&lease.lease, other, SHOP_B).await;
            if other == lease.provider {
                assert!(got.is_ok(), "{other}: {got:?}");
            } else {
                let e = got.expect_err("another provider's token");
                assert_eq!(
                    e.broker_error().map(|b| b.code),
                    Some(ErrorCode::WrongProvider),
                    "{e}"
                );
            }
        }
    }
    // Shop C has nothing to lease (no account anywhere): one refusal, no leases.
    let e = client
        .create_leases(SHOP_C, &Provider::ALL, 60)
        .await
        .expect_err("nothing");
    assert_eq!(e.broker_error().map(|b| b.code), Some(ErrorCode::NoAccount));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_host_mints_leases_with_its_key_and_its_servers_cannot() {
    use std::os::unix::fs::PermissionsExt;
    if !berryboo_e2e::require_root(
        "an_allowed_host_mints_leases_with_its_key_and_its_servers_cannot",
    ) {
        return;
    }
    let sandbox = Sandbox::start().await.expect("sandbox");
    let db_dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", db_dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &agency_seed())
        .await
        .expect("seeded");

    // The operator makes a host key: the broker's config gets its hash, the host the key on a
    // descriptor only it is handed (here: a root-owned 0600 file on its stdin).
    let out = berryboo_e2e::broker_cli(&sandbox, &["host-key"])
        .await
        .expect("host-key");
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = printed.lines().last().expect("key line").trim().to_owned();
    let config_line = printed.lines().next().expect("config line");
    assert!(
        key.starts_with("bbh_") && config_line.starts_with("host_keys = [\"sha256:"),
        "{printed}"
    );
    let config_line = config_line.split('#').next().unwrap_or("").trim();

    // The broker runs as its own user (root here); uid 65534 is allowed, not an admin; the
    // socket's directory grants others search only (0711).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    std::fs::create_dir(dir.path().join("run")).expect("mkdir");
    std::fs::set_permissions(
        dir.path().join("run"),
        std::fs::Permissions::from_mode(0o711),
    )
    .expect("chmod");
    let key_file = dir.path().join("host.key");
    std::fs::write(&key_file, format!("{key}\n")).expect("key file");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let config = format!("allowed_uids = [0, 65534]\nadmin_uids = [0]\n{config_line}\n");
    let broker = BrokerProc::start_at(&sandbox, &db, "info", &config, dir)
        .await
        .expect("broker");
    let socket = broker.socket.to_str().expect("path").to_owned();
    let mode = std::fs::metadata(&broker.socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o666,
        "others reach the socket through the 0711 directory"
    );

    // Without the key, the allowed uid (a compromised server would be one) mints nothing…
    let out = as_nobody(
        "credential-broker",
        &[
            "lease",
            "create",
            "--socket",
            &socket,
            "--shop",
            SHOP_C,
            "--providers",
            "ga4",
        ],
        Stdio::null(),
    )
    .output()
    .await
    .expect("runs");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("may not create leases"), "{text}");
    // …cannot read the key…
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(&key_file)
        .output()
        .await
        .expect("cat runs");
    assert!(
        !out.status.success(),
        "the key file is the host's only through its descriptor"
    );
    // …and reads no health.
    let out = as_nobody(
        "agent-host",
        &["health", "--broker-socket", &socket],
        Stdio::null(),
    )
    .output()
    .await
    .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not read integration health"));

    // With the key on its descriptor, the host reads health and serves a shop.
    let key_stdin = || Stdio::from(std::fs::File::open(&key_file).expect("key file"));
    let out = as_nobody(
        "agent-host",
        &[
            "--host-key-fd",
            "0",
            "health",
            "--broker-socket",
            &socket,
            "--json",
        ],
        key_stdin(),
    )
    .output()
    .await
    .expect("runs");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["shops"], 2, "{report}");
    let out = as_nobody(
        "agent-host",
        &[
            "--host-key-fd",
            "0",
            "chat-ga4",
            "--shop-id",
            SHOP_B,
            "--broker-socket",
            &socket,
            "--api-base",
            &sandbox.base,
            "--ask",
            "/call get_property_details {}",
        ],
        key_stdin(),
    )
    .output()
    .await
    .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("412345678"), "{text}");

    // A long-lived session: its servers (same uid as the host) cannot read the host's or each
    // other's memory, environment or descriptors — every process holding a secret is undumpable.
    // The key comes on descriptor 3 (opened by root, as systemd would), so stdin stays the
    // session's own and open: a chat at end of input would end before it is looked at.
    let mut session = Command::new("sh");
    session
        .args(["-c", "exec \"$@\" 3<\"$BB_KEY\"", "sh", "setpriv"])
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("agent-host"))
        .args([
            "--host-key-fd",
            "3",
            "chat-meta-ads",
            "--shop-id",
            SHOP_B,
            "--broker-socket",
            &socket,
            "--api-base",
            &sandbox.base,
        ])
        .env("BB_KEY", &key_file)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut session = session.spawn().expect("session");
    let setpriv = session.id().expect("pid");
    let mut lines = BufReader::new(session.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    loop {
        match lines.next_line().await.expect("stdout") {
            Some(line) if line.starts_with("Available tools") => break,
            Some(line) => seen.push_str(&line),
            None => panic!("the session ended before it was ready: {seen}"),
        }
    }
    // setpriv execs agent-host in place: same pid.
    let host = setpriv;
    let server = servers_of(host, 1).await[0];
    for (pid, what) in [
        (host, "environ"),
        (host, "mem"),
        (server, "environ"),
        (server, "fd/0"),
    ] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
            .arg(format!("/proc/{pid}/{what}"))
            .output()
            .await
            .expect("cat runs");
        assert!(
            !out.status.success(),
            "uid 65534 read /proc/{pid}/{what} of its own uid's process"
        );
    }
    session.start_kill().expect("kill");
}

#[tokio::test]
async fn a_running_server_follows_a_dropped_account_and_a_revoked_lease() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &agency_seed())
        .await
        .expect("seeded");
    // Changes apply within a second here (30 s by default) so the test need not wait long.
    let broker = BrokerProc::start(&sandbox, &db, "warn", "integration_recheck = \"1s\"\n")
        .await
        .expect("broker");
    let server = |binary: &str, lease: &str| {
        let mut cmd = berryboo_e2e::broker_server_command(binary, &sandbox, &broker, SHOP_B, lease);
        cmd.args(["--broker-recheck", "1"]);
        cmd
    };
    // Keeps calling `tool` until its result contains `expected`, within a minute.
    async fn until(client: &berryboo_e2e::Client, tool: &str, expected: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let r = berryboo_e2e::call(client, tool, json!({}))
                .await
                .expect("call");
            let text = berryboo_e2e::text(&r);
            if text.contains(expected) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{tool} never said {expected:?}; last: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The dashboard drops B's GA4 property while a session reads it: the session stops.
    let lease = broker.lease(SHOP_B, &[Provider::Ga4]).await.expect("lease");
    let ga4 = berryboo_e2e::connect(server("ga4-mcp", lease.lease.expose()))
        .await
        .expect("ga4-mcp");
    let before = berryboo_e2e::call(&ga4, "get_property_details", json!({}))
        .await
        .expect("call");
    assert!(berryboo_e2e::text(&before).contains("412345678"));
    let store = pipeline_store::Store::open(&db, false)
        .await
        .expect("store");
    store
        .execute_admin(&format!(
            "UPDATE importers_integration SET data = json_remove(data, '$.property_id') \
             WHERE shop_id = '{SHOP_B}' AND integration_type = 201"
        ))
        .await
        .expect("the dashboard drops the property");
    let refused = until(&ga4, "get_property_details", "has no property selected").await;
    assert!(!refused.contains("412345678"), "{refused}");
    ga4.cancel().await.expect("close");

    // An operator revokes a session's lease (its holder crashed, say): the session stops,
    // though its Meta token lives for weeks.
    let lease = broker
        .lease(SHOP_B, &[Provider::MetaAds])
        .await
        .expect("lease");
    let meta = berryboo_e2e::connect(server("meta-ads-mcp", lease.lease.expose()))
        .await
        .expect("meta-ads-mcp");
    let before = berryboo_e2e::call(&meta, "get_account_info", json!({}))
        .await
        .expect("call");
    assert!(
        berryboo_e2e::text(&before).contains("act_111"),
        "{}",
        berryboo_e2e::text(&before)
    );
    broker
        .client()
        .await
        .expect("client")
        .revoke_lease_id(&lease.lease_id)
        .await
        .expect("revoked");
    let refused = until(&meta, "get_account_info", "was revoked").await;
    assert!(!refused.contains("Acme Shop"), "{refused}");
    meta.cancel().await.expect("close");
}
