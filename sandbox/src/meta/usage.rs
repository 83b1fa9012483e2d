//! Meta's mutable sandbox state ([`MetaRuntime`]: revocations, per-account usage, injected
//! throttles) and the rate-limit headers every ad-account call carries.
//!
//! Usage is counted per ad account and use case (`ads_management` for objects,
//! `ads_insights` for insights) over a rolling one-hour window. `call_count` is the share of
//! the hour's budget used, in percent ([`MANAGEMENT_BUDGET`], [`INSIGHTS_BUDGET`] calls). Going
//! over the budget throttles the account like Meta's business-use-case limit (80004 /
//! 80000) until the window ends; `/__sandbox/meta/throttle` injects any throttle code for the
//! next N calls; `/__sandbox/reset` clears everything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use axum::response::Response;
use serde_json::json;

use super::error::{GraphError, Revocation};

/// `ads_management` calls per account and hour before the BUC limit trips.
pub const MANAGEMENT_BUDGET: u64 = 600;
/// `ads_insights` calls per account and hour before the BUC limit trips.
pub const INSIGHTS_BUDGET: u64 = 300;
/// Length of a usage window.
const WINDOW: Duration = Duration::from_secs(3600);

/// Which business use case a call counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseCase {
    /// Reading ad objects.
    Management,
    /// Reading insights.
    Insights,
}

/// Calls of one account in the current window.
#[derive(Debug, Clone)]
pub struct AccountUsage {
    window_start: Instant,
    management: u64,
    insights: u64,
}

impl AccountUsage {
    /// Calls in the current window, for `/__sandbox/meta/usage`.
    pub fn counts(&self) -> serde_json::Value {
        json!({"ads_management": self.management, "ads_insights": self.insights})
    }
}

/// A throttle injected by the control plane.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Throttle {
    /// Error code to answer with.
    pub code: u32,
    /// Calls still to refuse.
    pub remaining: u64,
    /// `estimated_time_to_regain_access`, minutes.
    pub minutes: u64,
}

/// Meta-specific runtime state (lives in `state::Runtime`, cleared by `/__sandbox/reset`).
#[derive(Debug, Default)]
pub struct MetaRuntime {
    /// Token names whose sessions were invalidated, and why.
    pub revoked: HashMap<String, Revocation>,
    /// Usage per `act_<id>`.
    pub usage: HashMap<String, AccountUsage>,
    /// Injected throttles per `act_<id>`.
    pub throttles: HashMap<String, Throttle>,
}

/// What the headers of one response say.
#[derive(Debug, Clone)]
pub struct Snapshot {
    digits: String,
    use_case: UseCase,
    management: u64,
    insights: u64,
    /// Forced `call_count` 100 and this many minutes (throttled).
    throttled_minutes: Option<u64>,
    reset_secs: u64,
}

fn pct(calls: u64, budget: u64) -> u64 {
    (calls * 100).div_ceil(budget).min(100)
}

impl MetaRuntime {
    /// Sets `account`'s calls in a window starting at `now`.
    pub fn set_usage(&mut self, account: &str, management: u64, insights: u64, now: Instant) {
        self.usage.insert(
            account.to_owned(),
            AccountUsage {
                window_start: now,
                management,
                insights,
            },
        );
    }

    /// Records one call on `account` and decides whether it is throttled.
    pub fn record(
        &mut self,
        account: &str,
        use_case: UseCase,
        now: Instant,
    ) -> (Snapshot, Option<GraphError>) {
        let digits = account.strip_prefix("act_").unwrap_or(account).to_owned();
        let usage = self
            .usage
            .entry(account.to_owned())
            .or_insert_with(|| AccountUsage {
                window_start: now,
                management: 0,
                insights: 0,
            });
        if now.duration_since(usage.window_start) >= WINDOW {
            *usage = AccountUsage {
                window_start: now,
                management: 0,
                insights: 0,
            };
        }
        match use_case {
            UseCase::Management => usage.management += 1,
            UseCase::Insights => usage.insights += 1,
        }
        let reset_secs = WINDOW
            .saturating_sub(now.duration_since(usage.window_start))
            .as_secs();
        let mut snap = Snapshot {
            digits,
            use_case,
            management: usage.management,
            insights: usage.insights,
            throttled_minutes: None,
            reset_secs,
        };
        let insights = use_case == UseCase::Insights;
        if let Some(t) = self.throttles.get_mut(account) {
            t.remaining = t.remaining.saturating_sub(1);
            let (code, minutes) = (t.code, t.minutes);
            if t.remaining == 0 {
                self.throttles.remove(account);
            }
            snap.throttled_minutes = Some(minutes);
            return (snap, Some(GraphError::throttled(code, insights)));
        }
        let over = match use_case {
            UseCase::Management => snap.management > MANAGEMENT_BUDGET,
            UseCase::Insights => snap.insights > INSIGHTS_BUDGET,
        };
        if over {
            snap.throttled_minutes = Some(reset_secs.div_ceil(60).max(1));
            let code = if insights { 80000 } else { 80004 };
            return (snap, Some(GraphError::throttled(code, insights)));
        }
        (snap, None)
    }
}

impl Snapshot {
    fn entry(&self, kind: &str, calls: u64, budget: u64) -> serde_json::Value {
        let (count, minutes) = match self.throttled_minutes {
            Some(m) if self.kind() == kind => (100, m),
            _ => (pct(calls, budget), 0),
        };
        json!({
            "type": kind,
            "call_count": count,
            "total_cputime": pct(calls * 6, budget * 10).min(count),
            "total_time": pct(calls * 8, budget * 10).min(count),
            "estimated_time_to_regain_access": minutes,
            "ads_api_access_tier": "standard_access",
        })
    }

    fn kind(&self) -> &'static str {
        match self.use_case {
            UseCase::Management => "ads_management",
            UseCase::Insights => "ads_insights",
        }
    }

    /// `X-Business-Use-Case-Usage`, `X-Ad-Account-Usage` and, on insights calls,
    /// `X-FB-Ads-Insights-Throttle`.
    pub fn apply(&self, response: &mut Response) {
        let mut entries = Vec::new();
        if self.insights > 0 || self.use_case == UseCase::Insights {
            entries.push(self.entry("ads_insights", self.insights, INSIGHTS_BUDGET));
        }
        if self.management > 0 || self.use_case == UseCase::Management {
            entries.push(self.entry("ads_management", self.management, MANAGEMENT_BUDGET));
        }
        let buc = json!({ self.digits.clone(): entries });
        let management_pct =
            if self.throttled_minutes.is_some() && self.use_case == UseCase::Management {
                100.0
            } else {
                (self.management as f64 * 100.0 / MANAGEMENT_BUDGET as f64).min(100.0)
            };
        let account = json!({
            "acc_id_util_pct": (management_pct * 100.0).round() / 100.0,
            "reset_time_duration": if self.management > 0 { self.reset_secs } else { 0 },
            "ads_api_access_tier": "standard_access",
        });
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        set("x-business-use-case-usage", buc.to_string());
        set("x-ad-account-usage", account.to_string());
        if self.use_case == UseCase::Insights {
            let insights_pct = if self.throttled_minutes.is_some() {
                100
            } else {
                pct(self.insights, INSIGHTS_BUDGET)
            };
            set(
                "x-fb-ads-insights-throttle",
                json!({"app_id_util_pct": 0, "acc_id_util_pct": insights_pct,
                       "ads_api_access_tier": "standard_access"})
                .to_string(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(r: &Response, name: &str) -> serde_json::Value {
        serde_json::from_str(r.headers()[name].to_str().unwrap()).unwrap()
    }

    #[test]
    fn usage_grows_and_is_per_account() {
        let mut rt = MetaRuntime::default();
        let now = Instant::now();
        let mut last = None;
        for _ in 0..7 {
            let (snap, err) = rt.record("act_1", UseCase::Management, now);
            assert!(err.is_none());
            last = Some(snap);
        }
        let (other, _) = rt.record("act_2", UseCase::Insights, now);
        let mut r = Response::default();
        last.unwrap().apply(&mut r);
        let buc = header(&r, "x-business-use-case-usage");
        assert_eq!(buc["1"][0]["type"], "ads_management");
        assert_eq!(buc["1"][0]["call_count"], pct(7, MANAGEMENT_BUDGET));
        assert!(r.headers().get("x-fb-ads-insights-throttle").is_none());
        let mut r = Response::default();
        other.apply(&mut r);
        let buc = header(&r, "x-business-use-case-usage");
        assert_eq!(buc["2"][0]["type"], "ads_insights");
        assert_eq!(buc["2"][0]["call_count"], 1);
        assert!(r.headers().get("x-fb-ads-insights-throttle").is_some());
    }

    #[test]
    fn injected_throttles_count_down() {
        let mut rt = MetaRuntime::default();
        rt.throttles.insert(
            "act_1".into(),
            Throttle {
                code: 613,
                remaining: 2,
                minutes: 7,
            },
        );
        let now = Instant::now();
        for _ in 0..2 {
            let (snap, err) = rt.record("act_1", UseCase::Insights, now);
            let err = err.unwrap();
            assert_eq!((err.code, err.subcode), (613, Some(1_487_742)));
            let mut r = Response::default();
            snap.apply(&mut r);
            let buc = header(&r, "x-business-use-case-usage");
            assert_eq!(buc["1"][0]["call_count"], 100);
            assert_eq!(buc["1"][0]["estimated_time_to_regain_access"], 7);
        }
        assert!(rt.record("act_1", UseCase::Insights, now).1.is_none());
    }

    #[test]
    fn going_over_budget_trips_the_buc_limit_until_the_window_ends() {
        let mut rt = MetaRuntime::default();
        let now = Instant::now();
        for _ in 0..INSIGHTS_BUDGET {
            assert!(rt.record("act_1", UseCase::Insights, now).1.is_none());
        }
        let (_, err) = rt.record("act_1", UseCase::Insights, now);
        assert_eq!(err.unwrap().code, 80000);
        assert!(rt.record("act_1", UseCase::Management, now).1.is_none());
        let later = now + WINDOW;
        assert!(rt.record("act_1", UseCase::Insights, later).1.is_none());
    }
}
