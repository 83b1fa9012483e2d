//! Least privilege per server: its own lease on a socket, one provider per lease, an agent host's key that its servers cannot use.

use super::*;

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
