//! The gateway: added latency over stdio, cold-shop start, throughput and memory.

use super::*;

/// The same call through the gateway and over stdio: added latency (one caller), the first call
/// on a cold shop, throughput with `--gateway-callers` callers over `--gateway-shops` shops, and
/// memory of the gateway and of each live shop's servers.
pub(super) async fn gateway_bench(sandbox: &Sandbox, args: &Args) -> Result<()> {
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
