//! `bench`: start-up time, idle memory and tool-call latency of the MCP servers, measured
//! against the offline sandbox on loopback. Build in release for meaningful numbers:
//!
//! ```text
//! cargo build --release && target/release/bench
//! ```
//!
//! Prints one line per figure; it asserts nothing (targets live in the README, not in tests).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use berryboo_e2e::{BrokerProc, Credentials, Sandbox, call, connect, ga4_command, ok, shops};
use broker_proto::Provider;
use clap::Parser;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

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

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc status")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build of bench; build with --release for real figures");
    }
    let sandbox = Sandbox::start().await?;
    let creds = Credentials::google("sandbox-refresh-acme-e2e")?;
    let server_args = ["--property-id", "326784853"];

    // Spawn → ready: process start plus the MCP initialize handshake.
    let mut startups = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let started = Instant::now();
        let transport = TokioChildProcess::new(ga4_command(&sandbox, &creds, &server_args))?;
        let client = ().serve(transport).await?;
        startups.push(started.elapsed());
        client.cancel().await?;
    }
    startups.sort();

    // Idle RSS after the handshake, then after the client has listed the tools (which builds
    // their schemas) — what a host that just connected holds.
    let transport = TokioChildProcess::new(ga4_command(&sandbox, &creds, &server_args))?;
    let pid = transport.id().context("no child pid")?;
    let client = ().serve(transport).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = rss_kib(pid)?;
    let started = Instant::now();
    let tools = client.list_all_tools().await?;
    let first_list = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed_rss = rss_kib(pid)?;
    client.cancel().await?;

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "ga4-mcp  spawn→ready     median {}  p90 {}  (n={})",
        fmt(percentile(&startups, 0.5)),
        fmt(percentile(&startups, 0.9)),
        startups.len()
    );
    println!(
        "ga4-mcp  idle RSS        {:.1} MiB after the handshake, {:.1} MiB after tools/list",
        mib(idle_rss),
        mib(listed_rss)
    );
    println!(
        "ga4-mcp  first tools/list {} ({} tools; schemas are built on first use)",
        fmt(first_list),
        tools.len()
    );

    // Round trips through the server and the sandbox.
    let client = connect(ga4_command(&sandbox, &creds, &server_args)).await?;
    let cases = [
        ("get_property_details", json!({})),
        (
            "run_report",
            json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "dimensions": ["date"], "metrics": ["sessions"]}),
        ),
    ];
    for (tool, arguments) in cases {
        for _ in 0..50 {
            ok(&call(&client, tool, arguments.clone()).await?);
        }
        let mut times = Vec::with_capacity(args.calls);
        for _ in 0..args.calls {
            let started = Instant::now();
            let r = call(&client, tool, arguments.clone()).await?;
            times.push(started.elapsed());
            ok(&r);
        }
        times.sort();
        println!(
            "ga4-mcp  tool call       {tool:<22} p50 {}  p99 {}  (n={})",
            fmt(percentile(&times, 0.5)),
            fmt(percentile(&times, 0.99)),
            times.len()
        );
    }
    client.cancel().await?;

    broker_bench(&sandbox, &args).await?;

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
        "sandbox  HTTP round trip (control plane, no server)  p50 {}  p99 {}",
        fmt(percentile(&times, 0.5)),
        fmt(percentile(&times, 0.99))
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
    let mut times = Vec::with_capacity(args.vends);
    for _ in 0..args.vends {
        let started = Instant::now();
        client.get_token(&lease, Provider::Ga4, shops::ACME).await?;
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "broker   token vend      p50 {}  p99 {}  (n={}, one connection, warm cache)",
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
        "broker   throughput      {:.0} vends/s  ({total} vends over {} connections in {:.2} s; 2 cores shared with this client)",
        total as f64 / elapsed.as_secs_f64(),
        args.connections,
        elapsed.as_secs_f64()
    );
    Ok(())
}
