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
    /// `ok`, `tool_error` (the tool answered with `isError`), `rejected` (the arguments were
    /// refused), `unavailable`, `ended` (its lease ended), `cancelled` (the caller went away or
    /// gave up first), `unknown_tool`.
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
    /// `claimed`, `processed`, `failed` (given back to retry or failed for good), `lost`
    /// (another worker took the claim over), `released` (handed back at an interruption),
    /// `deferred` (a source's quota under the reserve kept for people).
    /// Counted as each shop's batch ends.
    pub outcome: String,
}

/// The agent host's metrics; one per process, shared by every set through [`SetConfig`].
///
/// [`SetConfig`]: crate::server_set::SetConfig
#[derive(Debug)]
pub struct HostMetrics {
    tool_calls: Family<ToolCallLabels, Counter>,
    tool_call_seconds: Family<ToolLabels, Histogram>,
    shop_sets: Gauge<i64, AtomicI64>,
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

    /// A shop's server set came to life; [`HostMetrics::set_ended`] when it is dropped.
    pub fn set_started(&self) {
        self.shop_sets.inc();
    }

    /// A shop's server set was dropped.
    pub fn set_ended(&self) {
        self.shop_sets.dec();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_no_server_lists_is_one_series_whatever_its_name() {
        let metrics = HostMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        for made_up in ["drop_tables", "x".repeat(300).as_str(), "shop-1234"] {
            metrics.tool_call(None, made_up, "unknown_tool", Duration::from_millis(1));
        }
        metrics.tool_call(
            Some("ga4-mcp"),
            "run_report",
            "ok",
            Duration::from_millis(2),
        );
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
            .expect("encodes");
        assert!(
            text.contains(
                "berryboo_tool_calls_total{server=\"none\",tool=\"unknown\",outcome=\"unknown_tool\"} 3"
            ),
            "{text}"
        );
        assert!(
            !text.contains("drop_tables") && !text.contains("shop-1234"),
            "{text}"
        );
        assert!(
            text.contains(
                "berryboo_tool_call_duration_seconds_count{server=\"ga4-mcp\",tool=\"run_report\"} 1"
            ),
            "{text}"
        );
        assert!(
            !text.contains("duration_seconds_count{server=\"none\""),
            "no latency for calls nothing served: {text}"
        );
    }
}
