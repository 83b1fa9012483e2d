//! What the agent host counts for an operator's Prometheus (`gateway --metrics ADDR`,
//! `pipeline --metrics ADDR`): tool calls by server, tool and outcome with their latency, the
//! shop server sets alive, and anomalies by what became of them. Labels name servers, tools and
//! outcomes, never a shop; a tool name is a label only when a server of the set lists it (a
//! caller cannot mint series with made-up names).

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// A tool call: the server binary, the tool, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ToolCallLabels {
    /// `ga4-mcp`, …; `none` when no server lists the tool.
    pub server: String,
    /// The tool; `unknown` when no server lists it.
    pub tool: String,
    /// `ok`, `tool_error` (the tool answered with `isError`), `rejected` (the server refused the
    /// arguments), `unavailable`, `ended` (its lease ended), `unknown_tool`.
    pub outcome: String,
}

/// A tool: the server binary and the tool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ToolLabels {
    /// `ga4-mcp`, ….
    pub server: String,
    /// The tool.
    pub tool: String,
}

/// What became of anomalies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct AnomalyLabels {
    /// `claimed`, `processed`, `failed` (given back to retry or failed for good), `skipped`,
    /// `lost` (another worker took the claim over), `released` (handed back at an interruption).
    pub outcome: String,
}

/// The agent host's metrics; one per process, shared by every set through [`SetConfig`].
///
/// [`SetConfig`]: crate::server_set::SetConfig
#[derive(Debug)]
pub struct HostMetrics {
    tool_calls: Family<ToolCallLabels, Counter>,
    tool_call_seconds: Family<ToolLabels, Histogram>,
    /// Shop server sets alive in this process.
    pub shop_sets: Gauge<i64, AtomicI64>,
    anomalies: Family<AnomalyLabels, Counter>,
}

impl Default for HostMetrics {
    fn default() -> Self {
        Self {
            tool_calls: Family::default(),
            // 1 ms to about 65 s: a cached report answers in milliseconds, an upstream that
            // hangs costs the server's request timeout (30 s by default).
            tool_call_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 17))
            }),
            shop_sets: Gauge::default(),
            anomalies: Family::default(),
        }
    }
}

impl HostMetrics {
    /// Registers every metric in `registry` under `berryboo_`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("berryboo");
        r.register(
            "tool_calls",
            "Tool calls through the agent host, by server, tool and outcome",
            self.tool_calls.clone(),
        );
        r.register_with_unit(
            "tool_call_duration",
            "Time from a tool call to its answer, a server restart included",
            Unit::Seconds,
            self.tool_call_seconds.clone(),
        );
        r.register(
            "shop_sets",
            "Shop server sets alive (each a lease and a server per provider)",
            self.shop_sets.clone(),
        );
        r.register(
            "anomalies",
            "Anomalies by what became of them in the pipeline",
            self.anomalies.clone(),
        );
    }

    /// A tool call ended with `outcome` after `took`; `server` is `None` when no server of the
    /// set lists `tool`.
    pub fn tool_call(&self, server: Option<&str>, tool: &str, outcome: &str, took: Duration) {
        let (server, tool) = match server {
            Some(s) => (s, tool),
            None => ("none", "unknown"),
        };
        self.tool_calls
            .get_or_create(&ToolCallLabels {
                server: server.to_owned(),
                tool: tool.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        if server != "none" {
            self.tool_call_seconds
                .get_or_create(&ToolLabels {
                    server: server.to_owned(),
                    tool: tool.to_owned(),
                })
                .observe(took.as_secs_f64());
        }
    }

    /// `n` anomalies ended as `outcome`.
    pub fn anomalies(&self, outcome: &str, n: usize) {
        if n > 0 {
            self.anomalies
                .get_or_create(&AnomalyLabels {
                    outcome: outcome.to_owned(),
                })
                .inc_by(n as u64);
        }
    }

    /// Serves these metrics at `http://addr/metrics` while the returned endpoint lives (an
    /// address that is taken is logged and tried again, never fatal).
    pub fn serve(&self, addr: std::net::SocketAddr) -> metrics_endpoint::Endpoint {
        let mut registry = Registry::default();
        self.register(&mut registry);
        metrics_endpoint::serve(addr, std::sync::Arc::new(registry), None)
    }
}
