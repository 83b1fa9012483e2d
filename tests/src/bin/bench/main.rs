//! `bench`: start-up time, idle memory and tool-call latency of the four MCP servers (over stdio,
//! and over HTTP as hosts call them), token
//! vends of the broker, many shops' server sets at once through the agent host's pool, and the
//! gateway's added latency, cold-shop start, throughput and memory, what tracing costs a call,
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

mod context;
mod gateway;
mod http;
mod pipeline;
mod servers;
mod sets;
mod traces;

use context::context_bench;
use gateway::gateway_bench;
use http::http_bench;
use pipeline::pipeline_bench;
use servers::{server_bench, server_cases};
use sets::{broker_bench, pool_bench, tree_rss_kib};
use traces::{span_cost, tracing_bench};

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
    /// With `context`: also install the Python peers from PyPI (tests/python/peers) into
    /// virtual environments under target/bench-peers and measure their `tools/list`.
    #[arg(long)]
    peers: bool,
    /// Run only these parts (default: all).
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Servers,
    Http,
    Tracing,
    Context,
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
    if args.runs(Part::Http) {
        for case in server_cases()? {
            sandbox.control_post("reset", json!({})).await?;
            http_bench(&sandbox, &case, &args).await?;
        }
    }
    if args.runs(Part::Context) {
        context_bench(args.peers).await?;
    }
    if args.runs(Part::Tracing) {
        span_cost();
        for case in server_cases()? {
            sandbox.control_post("reset", json!({})).await?;
            tracing_bench(&sandbox, &case, &args).await?;
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
