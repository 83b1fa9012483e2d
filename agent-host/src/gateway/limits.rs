//! Per-key limits, so one caller cannot starve the others (or the shop's API quota), and the
//! token bucket they and the unknown-key budget use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::admission::lock;

/// One key's budget: a token bucket for its rate and a count of its requests in flight.
pub(super) struct Budget {
    tokens: f64,
    refilled: Instant,
    in_flight: Arc<std::sync::atomic::AtomicU32>,
}

/// Per-key limits, so one caller cannot starve the others (or the shop's API quota).
pub(super) struct Limits {
    rate: f64,
    burst: f64,
    concurrency: u32,
    budgets: Mutex<HashMap<String, Budget>>,
}

/// A request counted in flight until dropped.
#[derive(Debug)]
pub(super) struct InFlight(Arc<std::sync::atomic::AtomicU32>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Limits {
    pub(super) fn new(rate: u32, concurrency: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(rate) * 2.0,
            concurrency,
            budgets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request of `key_id`, or says how many seconds to wait.
    pub(super) fn admit(&self, key_id: &str) -> Result<InFlight, u64> {
        self.admit_at(key_id, Instant::now())
    }

    pub(super) fn admit_at(&self, key_id: &str, now: Instant) -> Result<InFlight, u64> {
        let mut budgets = lock(&self.budgets);
        if budgets.len() > 100_000 {
            // Keys idle long enough to have a full bucket again carry no state worth keeping.
            let full = Duration::from_secs_f64(self.burst / self.rate);
            budgets.retain(|_, b| {
                b.refilled.elapsed() < full
                    || b.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0
            });
        }
        let budget = budgets.entry(key_id.to_owned()).or_insert_with(|| Budget {
            tokens: self.burst,
            refilled: now,
            in_flight: Arc::default(),
        });
        budget.tokens = (budget.tokens
            + now.saturating_duration_since(budget.refilled).as_secs_f64() * self.rate)
            .min(self.burst);
        budget.refilled = now;
        if budget.tokens < 1.0 {
            return Err(((1.0 - budget.tokens) / self.rate).ceil().max(1.0) as u64);
        }
        let in_flight = &budget.in_flight;
        if in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= self.concurrency {
            in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            return Err(1);
        }
        budget.tokens -= 1.0;
        Ok(InFlight(in_flight.clone()))
    }
}

/// A token bucket (`rate` a second, bursts of twice that).
pub(super) struct Bucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub(super) fn new(rate: f64) -> Self {
        Self {
            rate,
            state: Mutex::new((rate * 2.0, Instant::now())),
        }
    }

    pub(super) fn refilled(&self, state: &mut (f64, Instant)) {
        let now = Instant::now();
        state.0 = (state.0 + now.saturating_duration_since(state.1).as_secs_f64() * self.rate)
            .min(self.rate * 2.0);
        state.1 = now;
    }

    /// Whether a token is left (without taking it), or the seconds until one is.
    pub(super) fn peek(&self) -> Result<(), u64> {
        let mut state = lock(&self.state);
        self.refilled(&mut state);
        if state.0 >= 1.0 {
            Ok(())
        } else {
            Err(((1.0 - state.0) / self.rate).ceil().max(1.0) as u64)
        }
    }

    pub(super) fn take(&self) {
        let mut state = lock(&self.state);
        self.refilled(&mut state);
        state.0 -= 1.0;
    }
}

/// Unknown keys per second the gateway asks its broker about before it answers 429.
pub(super) const UNKNOWN_KEY_CHECKS_PER_SEC: f64 = 20.0;

#[cfg(test)]
mod tests {
    use super::Limits;

    #[test]
    pub(super) fn a_key_gets_its_burst_then_waits_and_its_concurrency_is_capped() {
        // One instant throughout: no refill, whatever the machine is doing.
        let t = std::time::Instant::now();
        let limits = Limits::new(2, 3);
        let held: Vec<_> = (0..3)
            .map(|_| limits.admit_at("k", t).expect("within"))
            .collect();
        assert_eq!(
            limits.admit_at("k", t).err(),
            Some(1),
            "three in flight at most"
        );
        assert!(
            limits.admit_at("other", t).is_ok(),
            "another key has its own budget"
        );
        drop(held);
        // Four tokens (twice the rate) in all: three spent above, one left.
        let one = limits.admit_at("k", t).expect("the fourth");
        drop(one);
        assert!(
            limits.admit_at("k", t).is_err_and(|wait| wait >= 1),
            "bucket empty"
        );
        // Half a second later at 2/s: one token back.
        let later = t + std::time::Duration::from_millis(500);
        assert!(limits.admit_at("k", later).is_ok(), "refilled");
    }
}
