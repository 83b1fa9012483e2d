//! `bench`: start-up time, idle memory and tool-call latency of the four MCP servers, token
//! vends of the broker, many shops' server sets at once through the agent host's pool, and the
//! gateway's added latency, cold-shop start, throughput and memory,
//! measured against the offline sandbox on loopback. Build in release for meaningful numbers:
//!
//! ```text
//! cargo build --release && target/release/bench
//! ```
//!
//! Prints one line per figure; it asserts nothing (targets live in the README, not in tests).

use std::time::{Duration, Instant};

use std::sync::Arc;

use agent_host::pool::ShopPool;
use agent_host::server_set::SetConfig;
use anyhow::{Context, Result};
use berryboo_e2e::{
    BrokerProc, Credentials, Sandbox, bin, call, full_shop_id, full_shops_seed, ok, server_command,
    shops,
};
use broker_proto::Provider;
use clap::Parser;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Measure spawn→ready, idle RSS and tool-call round trips of the MCP servers.")]
struct Args {
    /// Start-ups to time per server.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Tool calls to time per tool (after 50 warm-up calls).
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Token vends to time one after another on one connection.
    #[arg(long, default_value_t = 20_000)]
    vends: usize,
    /// Concurrent connections for the vend throughput run.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Shops whose full server sets the pool run starts at once.
    #[arg(long, default_value_t = 100)]
    shops: usize,
    /// Anomalies the pipeline bench processes, spread over `--pipeline-shops` shops.
    #[arg(long, default_value_t = 1000)]
    anomalies: usize,
    /// Shops the pipeline bench's anomalies belong to.
    #[arg(long, default_value_t = 200)]
    pipeline_shops: usize,
    /// `--concurrency` values the pipeline bench runs with (memory should follow these, not
    /// the number of shops).
    #[arg(long, value_delimiter = ',', default_value = "4,8")]
    concurrency: Vec<u16>,
    /// Shops the gateway bench serves (each with all four sources, each with its own key).
    #[arg(long, default_value_t = 200)]
    gateway_shops: usize,
    /// Callers at once in the gateway bench.
    #[arg(long, default_value_t = 20)]
    gateway_callers: usize,
    /// Shop keys the gateway bench makes, spread over its shops (at least one per shop); the
    /// callers use all of them.
    #[arg(long, default_value_t = 1000)]
    gateway_keys: usize,
    /// Run only these parts (default: all).
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Servers,
    Broker,
    Pool,
    Pipeline,
    Gateway,
    Sandbox,
}

impl Args {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn rss_kib(pid: u32) -> Result<u64> {
    proc_kib(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// Proportional set size: shared pages (the binary's text, libc) split among their users, so a
/// sum over processes is what they really occupy together.
fn pss_kib(pid: u32) -> Result<u64> {
    proc_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

fn proc_kib(path: &str, key: &str) -> Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {key} in {path}"))
}

/// One server under measurement: its binary, credentials, flags and timed calls.
struct ServerCase {
    binary: &'static str,
    credentials: Credentials,
    flags: &'static [&'static str],
    calls: Vec<(&'static str, Value)>,
    /// Clear the sandbox's state every this many calls (outside the timing): its Meta emulation
    /// throttles an account after 300 insights calls an hour, as Meta does.
    reset_every: Option<usize>,
}

fn server_cases() -> Result<Vec<ServerCase>> {
    Ok(vec![
        ServerCase {
            binary: "ga4-mcp",
            credentials: Credentials::google("sandbox-refresh-acme-e2e")?,
            flags: &["--property-id", "326784853"],
            reset_every: None,
            calls: vec![
                ("get_property_details", json!({})),
                (
                    "run_report",
                    json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "dimensions": ["date"], "metrics": ["sessions"]}),
                ),
            ],
        },
        ServerCase {
            binary: "gsc-mcp",
            credentials: Credentials::google("sandbox-refresh-gsc-only-e2e")?,
            flags: &["--site-url", "sc-domain:acme-shop.example"],
            reset_every: None,
            calls: vec![(
                "get_search_analytics",
                json!({"start_date": "7daysAgo", "end_date": "yesterday", "dimensions": ["query"], "row_limit": 100}),
            )],
        },
        ServerCase {
            binary: "google-ads-mcp",
            credentials: Credentials::google("sandbox-refresh-ads-e2e")?,
            flags: &["--customer-id", "1234567890"],
            reset_every: None,
            calls: vec![(
                "search",
                json!({"query": "SELECT campaign.name, metrics.clicks, metrics.cost_micros FROM campaign WHERE segments.date DURING LAST_7_DAYS"}),
            )],
        },
        ServerCase {
            binary: "meta-ads-mcp",
            credentials: Credentials::meta("sandbox-meta-acme-e2e")?,
            flags: &["--ad-account-id", "act_111"],
            reset_every: Some(200),
            calls: vec![(
                "get_insights",
                json!({"level": "campaign", "date_preset": "last_7d"}),
            )],
        },
    ])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build of bench; build with --release for real figures");
    }
    let sandbox = Sandbox::start().await?;
    if args.runs(Part::Servers) {
        for case in server_cases()? {
            server_bench(&sandbox, &case, &args).await?;
        }
    }
    if args.runs(Part::Broker) {
        broker_bench(&sandbox, &args).await?;
    }
    if args.runs(Part::Pool) {
        sandbox.control_post("reset", json!({})).await?;
        pool_bench(&sandbox, &args).await?;
    }
    if args.runs(Part::Gateway) {
        sandbox.control_post("reset", json!({})).await?;
        gateway_bench(&sandbox, &args).await?;
    }
    if args.runs(Part::Pipeline) {
        for k in &args.concurrency {
            sandbox.control_post("reset", json!({})).await?;
            pipeline_bench(&sandbox, &args, *k).await?;
        }
    }
    if !args.runs(Part::Sandbox) {
        return Ok(());
    }

    // The sandbox alone, to separate its share of the round trip.
    let http = reqwest::Client::new();
    let url = format!("{}/__sandbox/counters", sandbox.base);
    let mut times = Vec::with_capacity(args.calls);
    for i in 0..args.calls + 50 {
        let started = Instant::now();
        http.get(&url).send().await?.bytes().await?;
        if i >= 50 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    println!(
        "sandbox        HTTP round trip (control plane, no server)  p50 {}  p99 {}",
        fmt(percentile(&times, 0.5)),
        fmt(percentile(&times, 0.99))
    );
    Ok(())
}

/// Spawn → ready, idle RSS and call round trips of one server.
async fn server_bench(sandbox: &Sandbox, case: &ServerCase, args: &Args) -> Result<()> {
    let command = || server_command(case.binary, sandbox, &case.credentials.path(), case.flags);
    let name = case.binary;

    // Spawn → ready: process start plus the MCP initialize handshake.
    let mut startups = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let started = Instant::now();
        let client = ().serve(TokioChildProcess::new(command())?).await?;
        startups.push(started.elapsed());
        client.cancel().await?;
    }
    startups.sort();

    // Idle RSS after the handshake, then after the client has listed the tools (which builds
    // their schemas) — what a host that just connected holds.
    let transport = TokioChildProcess::new(command())?;
    let pid = transport.id().context("no child pid")?;
    let client = ().serve(transport).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = rss_kib(pid)?;
    let started = Instant::now();
    let tools = client.list_all_tools().await?;
    let first_list = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed_rss = rss_kib(pid)?;
    println!(
        "{name:<14} spawn→ready     median {}  p90 {}  (n={})",
        fmt(percentile(&startups, 0.5)),
        fmt(percentile(&startups, 0.9)),
        startups.len()
    );
    println!(
        "{name:<14} idle RSS        {:.1} MiB after the handshake, {:.1} MiB after tools/list",
        mib(idle_rss),
        mib(listed_rss)
    );
    println!(
        "{name:<14} first tools/list {} ({} tools; schemas are built on first use)",
        fmt(first_list),
        tools.len()
    );

    // Round trips through the server and the sandbox.
    for (tool, arguments) in &case.calls {
        for _ in 0..50 {
            ok(&call(&client, tool, arguments.clone()).await?);
        }
        let mut times = Vec::with_capacity(args.calls);
        for i in 0..args.calls {
            if let Some(n) = case.reset_every
                && i % n == 0
            {
                sandbox.control_post("reset", json!({})).await?;
            }
            let started = Instant::now();
            let r = call(&client, tool, arguments.clone()).await?;
            times.push(started.elapsed());
            ok(&r);
        }
        times.sort();
        println!(
            "{name:<14} tool call       {tool:<22} p50 {}  p99 {}  (n={})",
            fmt(percentile(&times, 0.5)),
            fmt(percentile(&times, 0.99)),
            times.len()
        );
    }
    let rss_after = rss_kib(pid)?;
    println!("{name:<14} RSS after the calls {:.1} MiB", mib(rss_after));
    client.cancel().await?;
    Ok(())
}

/// Many shops at once, as the agent host runs them: every shop's full server set (four
/// servers, one lease) started through the pool concurrently, one call on each set.
async fn pool_bench(sandbox: &Sandbox, args: &Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(sandbox, &url, &full_shops_seed(args.shops)).await?;
    let broker = BrokerProc::start(sandbox, &url, "warn", "").await?;
    let config = Arc::new(SetConfig {
        broker_socket: broker.socket.clone(),
        servers_dir: bin("ga4-mcp")
            .parent()
            .context("no binary directory")?
            .to_path_buf(),
        api_base: Some(sandbox.base.clone()),
        lease_ttl: agent_host::server_set::HOST_LEASE_TTL,
        child_log: "warn".into(),
        host_key: None,
    });
    let pool = ShopPool::new(
        config,
        Provider::ALL.to_vec(),
        Duration::from_secs(600),
        args.shops,
    );
    // One call per set, spread over the four sources.
    let calls: [(&str, Value); 4] = [
        ("get_property_details", json!({})),
        (
            "get_performance_overview",
            json!({"start_date": "7daysAgo", "end_date": "yesterday"}),
        ),
        (
            "search",
            json!({"query": "SELECT campaign.name, metrics.clicks FROM campaign WHERE segments.date DURING LAST_7_DAYS"}),
        ),
        ("get_campaigns", json!({"limit": 5})),
    ];
    let started = Instant::now();
    let sets = futures::future::try_join_all((0..args.shops).map(|i| {
        let pool = &pool;
        let (tool, arguments) = &calls[i % calls.len()];
        async move {
            let set = pool.get(&full_shop_id(i)).await?;
            let ready = started.elapsed();
            let result = set.call(tool, arguments.clone()).await?;
            ok(&result);
            anyhow::Ok((set, ready))
        }
    }))
    .await?;
    let wall = started.elapsed();
    let last_ready = sets.iter().map(|(_, r)| *r).max().unwrap_or_default();
    let sets: Vec<_> = sets.into_iter().map(|(s, _)| s).collect();
    let per_set: Vec<u64> = sets
        .iter()
        .map(|s| s.pids().iter().filter_map(|p| rss_kib(*p).ok()).sum())
        .collect();
    let pss: u64 = sets
        .iter()
        .flat_map(|s| s.pids())
        .filter_map(|p| pss_kib(p).ok())
        .sum();
    let servers: usize = sets.iter().map(|s| s.pids().len()).sum();
    let total: u64 = per_set.iter().sum();
    let max = per_set.iter().copied().max().unwrap_or(0);
    println!(
        "pool           {} shops' full sets started + one call each: {:.2} s wall ({servers} servers; the last set was ready at {:.2} s)",
        args.shops,
        wall.as_secs_f64(),
        last_ready.as_secs_f64()
    );
    println!(
        "pool           RSS of the servers: {:.0} MiB total, {:.1} MiB per shop set (max {:.1}); PSS {:.1} MiB per set (shared pages split); this host process {:.1} MiB",
        mib(total),
        mib(total) / args.shops.max(1) as f64,
        mib(max),
        mib(pss) / args.shops.max(1) as f64,
        mib(rss_kib(std::process::id())?)
    );
    drop(sets);
    let started = Instant::now();
    pool.shutdown().await;
    println!(
        "pool           shutdown (leases revoked, children reaped): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Token vends from a warm broker cache: latency on one connection, then throughput with
/// several connections at once.
async fn broker_bench(sandbox: &Sandbox, args: &Args) -> Result<()> {
    let (_db, url) = BrokerProc::sqlite_db(sandbox).await?;
    let broker = BrokerProc::start(sandbox, &url, "warn", "").await?;
    let lease = broker.lease(shops::ACME, &[Provider::Ga4]).await?.lease;
    let mut client = broker.client().await?;
    for _ in 0..1000 {
        client.get_token(&lease, Provider::Ga4, shops::ACME).await?;
    }
    // The floor under a vend: one request and answer on the socket, no lease or token work.
    let mut pings = Vec::with_capacity(args.vends);
    for _ in 0..args.vends {
        let started = Instant::now();
        client.call(&broker_proto::Request::Ping).await?;
        pings.push(started.elapsed());
    }
    pings.sort();
    println!(
        "broker         ping            p50 {}  p99 {}  (n={}, one connection: the socket round trip)",
        fmt(percentile(&pings, 0.5)),
        fmt(percentile(&pings, 0.99)),
        pings.len()
    );
    let mut times = Vec::with_capacity(args.vends);
    for _ in 0..args.vends {
        let started = Instant::now();
        client.get_token(&lease, Provider::Ga4, shops::ACME).await?;
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "broker         token vend      p50 {}  p99 {}  (n={}, one connection, warm cache)",
        fmt(percentile(&times, 0.5)),
        fmt(percentile(&times, 0.99)),
        times.len()
    );

    let per_connection = (args.vends * 2 / args.connections.max(1)).max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let socket = broker.socket.clone();
        let lease = lease.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = broker_proto::client::BrokerClient::connect(&socket).await?;
            for _ in 0..per_connection {
                c.get_token(&lease, Provider::Ga4, shops::ACME).await?;
            }
            Ok::<_, broker_proto::client::ClientError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();
    let total = per_connection * args.connections;
    println!(
        "broker         throughput      {:.0} vends/s  ({total} vends over {} connections in {:.2} s; 2 cores shared with this client)",
        total as f64 / elapsed.as_secs_f64(),
        args.connections,
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// Resident memory of `pid` and all its descendants, KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = rss_kib(pid).unwrap_or(0);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        total += tree_rss_kib(child);
    }
    total
}

/// The same call through the gateway and over stdio: added latency (one caller), the first call
/// on a cold shop, throughput with `--gateway-callers` callers over `--gateway-shops` shops, and
/// memory of the gateway and of each live shop's servers.
async fn gateway_bench(sandbox: &Sandbox, args: &Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(sandbox, &url, &full_shops_seed(args.gateway_shops)).await?;
    let broker = BrokerProc::start(sandbox, &url, "warn", "").await?;
    let mut admin = broker.client().await?;
    // Key i is shop (i mod shops)'s: the first `gateway_shops` keys are one per shop.
    let key_count = args.gateway_keys.max(args.gateway_shops);
    let mut keys = Vec::with_capacity(key_count);
    for i in 0..key_count {
        let shop = full_shop_id(i % args.gateway_shops);
        let (_, key) = admin.create_key(&shop, &[], 3600, None).await?;
        keys.push(key.expose().to_owned());
    }
    let tool = json!({"name": "get_property_details", "arguments": {}});

    // The baseline: the same call over stdio to the shop's own ga4-mcp.
    let lease = broker
        .lease(&full_shop_id(0), &[Provider::Ga4])
        .await?
        .lease;
    let stdio = berryboo_e2e::connect(berryboo_e2e::broker_server_command(
        "ga4-mcp",
        sandbox,
        &broker,
        &full_shop_id(0),
        lease.expose(),
    ))
    .await?;
    let mut direct = Vec::with_capacity(args.calls);

    let mut child = tokio::process::Command::new(bin("agent-host"))
        .args(["gateway", "--listen", "127.0.0.1:0", "--max-live-shops"])
        .arg(args.gateway_shops.to_string())
        .args(["--rate-per-key", "100000", "--concurrency-per-key", "10000"])
        .arg("--broker-socket")
        .arg(&broker.socket)
        .args(["--api-base", &sandbox.base])
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start agent-host gateway")?;
    let pid = child.id().context("gateway has no pid")?;
    let (line, _) = berryboo_e2e::first_line(
        child.stdout.take().context("no stdout")?,
        Duration::from_secs(20),
    )
    .await?;
    let base = line
        .strip_prefix("listening on ")
        .context("no listening line")?
        .to_owned();
    let idle_gateway = rss_kib(pid)?;
    let http = reqwest::Client::new();
    let one = |key: String| {
        let (http, base, tool) = (http.clone(), base.clone(), tool.clone());
        async move {
            let started = Instant::now();
            let body = http
                .post(format!("{base}/mcp"))
                .bearer_auth(key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": tool}))
                .send()
                .await?
                .text()
                .await?;
            anyhow::ensure!(body.contains("326784853"), "unexpected answer: {body}");
            anyhow::Ok(started.elapsed())
        }
    };
    // Cold shops: the first call starts the shop's servers (lease, four processes, handshakes).
    let cold_n = args.gateway_shops.min(20);
    let mut cold = Vec::with_capacity(cold_n);
    for key in keys.iter().take(cold_n) {
        cold.push(one(key.clone()).await?);
    }
    cold.sort();
    // Every shop live, then one caller on a warm shop: the gateway's added latency, against
    // the stdio call taken in turn with it, so both see the same machine (800 live servers,
    // their renewals and rechecks).
    futures::future::try_join_all(
        keys[..args.gateway_shops]
            .iter()
            .skip(cold_n)
            .map(|k| one(k.clone())),
    )
    .await?;
    let mut through = Vec::with_capacity(args.calls);
    for i in 0..args.calls + 50 {
        let started = Instant::now();
        ok(&call(&stdio, "get_property_details", json!({})).await?);
        let stdio_time = started.elapsed();
        let d = one(keys[0].clone()).await?;
        if i >= 50 {
            direct.push(stdio_time);
            through.push(d);
        }
    }
    let _ = stdio.cancel().await;
    direct.sort();
    through.sort();
    // Where the added time goes: the same connection's plain HTTP round trip (`/healthz`), and
    // an MCP request the gateway answers itself (`ping`: admission and rmcp's stateless
    // service), against the tool call that also crosses to the server.
    let mut plain = Vec::with_capacity(args.calls);
    let mut listed = Vec::with_capacity(args.calls);
    for i in 0..args.calls + 50 {
        let started = Instant::now();
        let r = http
            .get(format!("{base}/healthz"))
            .send()
            .await?
            .text()
            .await?;
        anyhow::ensure!(r == "ok", "healthz: {r}");
        let health = started.elapsed();
        let started = Instant::now();
        let body = http
            .post(format!("{base}/mcp"))
            .bearer_auth(&keys[0])
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await?
            .text()
            .await?;
        anyhow::ensure!(body.contains("\"result\""), "ping: {body}");
        if i >= 50 {
            plain.push(health);
            listed.push(started.elapsed());
        }
    }
    plain.sort();
    listed.sort();
    // Many callers over every shop.
    let per_caller = (args.calls / args.gateway_callers).max(10);
    let started = Instant::now();
    let all = futures::future::try_join_all((0..args.gateway_callers).map(|c| {
        let (keys, one) = (&keys, &one);
        async move {
            let mut times = Vec::with_capacity(per_caller);
            for n in 0..per_caller {
                times.push(one(keys[(c * per_caller + n) % keys.len()].clone()).await?);
            }
            anyhow::Ok(times)
        }
    }))
    .await?;
    let wall = started.elapsed();
    let mut loaded: Vec<Duration> = all.into_iter().flatten().collect();
    loaded.sort();
    let servers: Vec<u32> = berryboo_e2e::children_of(pid);
    let live_kib: u64 = servers.iter().filter_map(|p| pss_kib(*p).ok()).sum();
    println!(
        "gateway        stdio baseline  p50 {}  p99 {}  (get_property_details, n={})",
        fmt(percentile(&direct, 0.5)),
        fmt(percentile(&direct, 0.99)),
        direct.len()
    );
    println!(
        "gateway        through it      p50 {}  p99 {}  (one caller, warm shop, keep-alive HTTP; added p50 {})",
        fmt(percentile(&through, 0.5)),
        fmt(percentile(&through, 0.99)),
        fmt(percentile(&through, 0.5).saturating_sub(percentile(&direct, 0.5)))
    );
    println!(
        "gateway        of which        HTTP alone p50 {}  p99 {} (/healthz); MCP answered by the gateway p50 {}  p99 {} (ping)",
        fmt(percentile(&plain, 0.5)),
        fmt(percentile(&plain, 0.99)),
        fmt(percentile(&listed, 0.5)),
        fmt(percentile(&listed, 0.99)),
    );
    println!(
        "gateway        cold shop       p50 {}  p99 {}  (first call: key check, lease, four servers, handshakes; n={cold_n})",
        fmt(percentile(&cold, 0.5)),
        fmt(percentile(&cold, 0.99)),
    );
    println!(
        "gateway        {} callers over {} shops: {:.0} calls/s, p50 {}  p99 {}  (n={})",
        args.gateway_callers,
        args.gateway_shops,
        loaded.len() as f64 / wall.as_secs_f64(),
        fmt(percentile(&loaded, 0.5)),
        fmt(percentile(&loaded, 0.99)),
        loaded.len()
    );
    println!(
        "gateway        memory: gateway {:.1} MiB idle, {:.1} MiB with {} live shops; their servers {:.1} MiB PSS per live shop ({} processes), {} keys",
        mib(idle_gateway),
        mib(rss_kib(pid)?),
        args.gateway_shops,
        mib(live_kib) / args.gateway_shops.max(1) as f64,
        servers.len(),
        keys.len()
    );
    Ok(())
}

/// `--anomalies` anomalies over `--pipeline-shops` shops (all four sources each) through one
/// `agent-host pipeline` process: wall time, peak RSS of the agent host and its servers.
async fn pipeline_bench(sandbox: &Sandbox, args: &Args, concurrency: u16) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(sandbox, &url, &full_shops_seed(args.pipeline_shops)).await?;
    let broker = BrokerProc::start(sandbox, &url, "warn", "").await?;
    let store = pipeline_store::Store::open(&url, false).await?;
    store.migrate().await?;
    // A realistic mix: revenue and traffic drops ask all four teams; source-specific ones two.
    let kinds = [
        ("ga4", "revenue"),
        ("gsc", "clicks"),
        ("google_ads", "spend"),
        ("meta_ads", "spend"),
        ("ga4", "sessions"),
    ];
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").context("date");
    for i in 0..args.anomalies {
        let (source, metric) = kinds[i % kinds.len()];
        store
            .add_anomaly(&pipeline_store::NewAnomaly {
                shop_id: full_shop_id(i % args.pipeline_shops),
                source: source.into(),
                metric: metric.into(),
                window: (day("2026-10-08")?, day("2026-10-14")?),
                baseline: (day("2026-09-10")?, day("2026-10-07")?),
                observed: 700.0,
                expected: 1000.0,
                severity: pipeline_store::Severity::High,
                note: None,
            })
            .await?;
    }
    store.close().await;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bin("agent-host"))
        .args([
            "pipeline",
            "--limit",
            &args.anomalies.to_string(),
            "--concurrency",
            &concurrency.to_string(),
        ])
        .env("BERRYBOO_DATABASE_URL", &url)
        .env("BERRYBOO_BROKER_SOCKET", &broker.socket)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start agent-host")?;
    let pid = child.id().context("agent-host has no pid")?;
    let mut peak = 0;
    let mut host_peak = 0;
    let status = loop {
        peak = peak.max(tree_rss_kib(pid));
        host_peak = host_peak.max(rss_kib(pid).unwrap_or(0));
        tokio::select! {
            status = child.wait() => break status?,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    let elapsed = started.elapsed();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use tokio::io::AsyncReadExt;
        stdout.read_to_string(&mut out).await?;
    }
    let processed = out
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("processed"))
        .map(str::trim)
        .unwrap_or("?");
    // The pipeline's own account of the per-shop overhead: lease, four servers, handshakes.
    let set_start = out
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("server sets"))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?");
    println!(
        "pipeline       {} anomalies / {} shops, --concurrency {concurrency}: {:.1} s ({} processed, exit {}), {:.1} ms wall per shop, server set start {set_start} ms per shop, peak RSS {:.0} MiB (agent-host alone {:.0} MiB)",
        args.anomalies,
        args.pipeline_shops,
        elapsed.as_secs_f64(),
        processed,
        status.code().unwrap_or(-1),
        elapsed.as_secs_f64() * 1000.0 / args.pipeline_shops as f64,
        mib(peak),
        mib(host_peak),
    );
    Ok(())
}
