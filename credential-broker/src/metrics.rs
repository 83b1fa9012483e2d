//! What the broker counts for an operator's Prometheus (`serve --metrics ADDR`): token vends
//! and their latency, cache hits, refreshes by outcome and reason, `invalid_grant`s, live
//! leases and open connections. Labels name providers, outcomes and reasons, never a shop (a
//! label per shop would be hundreds of series, and which shops use the broker is the operator's
//! business, not the scraper's).

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use broker_proto::{ErrorCode, Provider};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// A provider as a label value (`ga4`, `gsc`, `google_ads`, `meta_ads`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ProviderLabel {
    /// The provider.
    pub provider: String,
}

/// A vend: which provider, and `ok` or the error code's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct VendLabels {
    /// The provider.
    pub provider: String,
    /// `ok`, or the refusal (`lease_revoked`, `reconnect_required`, …).
    pub outcome: String,
}

/// Why a refresh ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)] // The label values, as Prometheus users write them.
pub enum RefreshReason {
    /// The token neared its expiry.
    due,
    /// The operator asked (`refresh`).
    forced,
    /// An upstream refused the token early.
    rejected,
    /// The hourly look at Meta tokens near their expiry.
    expiring,
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RefreshOutcome {
    /// A new token from the token endpoint.
    refreshed,
    /// Another broker (or the dashboard) had stored a fresh one.
    from_store,
    /// Nothing could renew it, and the stored token still serves (a Meta token without an app).
    kept,
    /// The token endpoint refused the grant (`invalid_grant`): the shop must reconnect.
    revoked,
    /// Nothing was left to renew with (no refresh token, a Meta token past its expiry): the
    /// shop must reconnect.
    expired,
    /// The token endpoint failed or was unreachable (backing off), a Meta extension failed, or
    /// the store failed on the way.
    failed,
    /// No OAuth client or app is configured to refresh with.
    unconfigured,
}

/// A refresh: provider, outcome, reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RefreshLabels {
    /// The provider.
    pub provider: String,
    /// How it ended.
    pub outcome: RefreshOutcome,
    /// Why it ran.
    pub reason: RefreshReason,
}

/// The broker's metrics. Cheap to clone (every metric is shared).
#[derive(Debug, Clone)]
pub struct BrokerMetrics {
    vends: Family<VendLabels, Counter>,
    vend_seconds: Family<ProviderLabel, Histogram>,
    cache_hits: Family<ProviderLabel, Counter>,
    refreshes: Family<RefreshLabels, Counter>,
    invalid_grants: Family<ProviderLabel, Counter>,
    /// Live leases, counted in the store at each scrape.
    pub live_leases: Gauge<i64, AtomicI64>,
    /// Integrations marked for reconnection, counted in the store at each scrape.
    pub needing_reconnection: Gauge<i64, AtomicI64>,
    connections: Gauge<i64, AtomicI64>,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        Self {
            vends: Family::default(),
            // 100 µs to about 3 s: a cached vend is well under a millisecond, a refresh is a
            // round trip to Google or Meta.
            vend_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 2.0, 16))
            }),
            cache_hits: Family::default(),
            refreshes: Family::default(),
            invalid_grants: Family::default(),
            live_leases: Gauge::default(),
            needing_reconnection: Gauge::default(),
            connections: Gauge::default(),
        }
    }
}

fn provider(p: Provider) -> ProviderLabel {
    ProviderLabel {
        provider: p.as_str().to_owned(),
    }
}

/// `snake_case` of an error code, as it appears on the wire.
fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "error".to_owned())
}

impl BrokerMetrics {
    /// Registers every metric in `registry` under `berryboo_broker_`, with the series the
    /// example alerts watch present at 0 from the start (an alert on `increase()` cannot see a
    /// series' first step, so one that appeared at 1 would hide the first failure).
    pub fn register(&self, registry: &mut Registry) {
        for p in Provider::ALL {
            for outcome in [
                "ok",
                "unknown_shop",
                "no_integration",
                "integration_inactive",
                "missing_scope",
                "no_account",
                "reconnect_required",
                "unavailable",
                "internal",
            ] {
                let _ = self.vends.get_or_create(&VendLabels {
                    provider: p.as_str().to_owned(),
                    outcome: outcome.to_owned(),
                });
            }
            for outcome in [RefreshOutcome::failed, RefreshOutcome::unconfigured] {
                for reason in [
                    RefreshReason::due,
                    RefreshReason::forced,
                    RefreshReason::rejected,
                    RefreshReason::expiring,
                ] {
                    let _ = self.refreshes.get_or_create(&RefreshLabels {
                        provider: p.as_str().to_owned(),
                        outcome,
                        reason,
                    });
                }
            }
            let _ = self.invalid_grants.get_or_create(&provider(p));
        }
        let r = registry.sub_registry_with_prefix("berryboo_broker");
        r.register(
            "token_vends",
            "Access tokens asked for with a lease, by provider and outcome",
            self.vends.clone(),
        );
        r.register_with_unit(
            "token_vend_duration",
            "Time to answer a token request, refreshes included",
            Unit::Seconds,
            self.vend_seconds.clone(),
        );
        r.register(
            "token_cache_hits",
            "Token requests answered from memory",
            self.cache_hits.clone(),
        );
        r.register(
            "token_refreshes",
            "Token refreshes, by provider, outcome and reason",
            self.refreshes.clone(),
        );
        r.register(
            "invalid_grants",
            "Grants a token endpoint refused (invalid_grant): those shops must reconnect",
            self.invalid_grants.clone(),
        );
        r.register(
            "live_leases",
            "Leases neither revoked nor expired",
            self.live_leases.clone(),
        );
        r.register(
            "integrations_needing_reconnection",
            "Integrations whose grant was refused: their shops must reconnect",
            self.needing_reconnection.clone(),
        );
        r.register(
            "connections",
            "Open connections to the broker's socket",
            self.connections.clone(),
        );
    }

    /// A token request answered: `Ok` or the refusal's code; `took`, when its lease held.
    pub fn vend(&self, p: Provider, outcome: Result<(), ErrorCode>, took: Option<Duration>) {
        let outcome = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(code) => code_name(code),
        };
        self.vends
            .get_or_create(&VendLabels {
                provider: p.as_str().to_owned(),
                outcome,
            })
            .inc();
        if let Some(took) = took {
            self.vend_seconds
                .get_or_create(&provider(p))
                .observe(took.as_secs_f64());
        }
    }

    /// A token served from memory.
    pub fn cache_hit(&self, p: Provider) {
        self.cache_hits.get_or_create(&provider(p)).inc();
    }

    /// A refresh ended.
    pub fn refresh(&self, p: Provider, outcome: RefreshOutcome, reason: RefreshReason) {
        self.refreshes
            .get_or_create(&RefreshLabels {
                provider: p.as_str().to_owned(),
                outcome,
                reason,
            })
            .inc();
        if outcome == RefreshOutcome::revoked {
            self.invalid_grants.get_or_create(&provider(p)).inc();
        }
    }

    /// A connection opened; it counts until the guard is dropped.
    pub fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.inc();
        ConnectionGuard(self.clone())
    }
}

/// Counts one open connection while it lives.
#[derive(Debug)]
pub struct ConnectionGuard(Arc<BrokerMetrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.dec();
    }
}
