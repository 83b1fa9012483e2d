//! Many shops' server sets through the agent host's pool, and the broker's token vends.

use super::*;

/// Many shops at once, as the agent host runs them: every shop's full server set (four
/// servers, one lease) started through the pool concurrently, one call on each set.
pub(super) async fn pool_bench(sandbox: &Sandbox, args: &Args) -> Result<()> {
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
        metrics: Default::default(),
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
pub(super) async fn broker_bench(sandbox: &Sandbox, args: &Args) -> Result<()> {
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
pub(super) fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = rss_kib(pid).unwrap_or(0);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        total += tree_rss_kib(child);
    }
    total
}
