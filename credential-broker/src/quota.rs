//! The quota ledger: per shop and provider, the latest reading a server reported of its
//! upstream's quota (the scarcest limit, as a share left). Every server of a shop reports
//! through this broker, so a shop's chat, gateway and pipeline servers read one ledger; the
//! agent host's pipeline asks it before each anomaly, to leave a reserve for people.
//!
//! Held in memory: a reading is only good until its quota resets (an hour or a day), and a
//! broker that restarts learns the state again from the next call. Several brokers on one
//! database each keep their own servers' readings.

use std::collections::HashMap;
use std::sync::Mutex;

use broker_proto::{Provider, ProviderQuota, QuotaReading};

/// Shops × providers kept at most; beyond it the stalest readings go first.
const MAX_READINGS: usize = 100_000;

/// The ledger.
#[derive(Default)]
pub struct QuotaBook {
    readings: Mutex<HashMap<(String, Provider), QuotaReading>>,
}

impl QuotaBook {
    /// Keeps `reading` as the shop's latest for `provider`. The broker's clock stamps it and
    /// bounds its reset to [`broker_proto::MAX_RESET_SECS`] from now, so neither a server's
    /// clock nor a wild header can make a reading hold work back for longer.
    pub fn note(&self, shop_id: &str, provider: Provider, mut reading: QuotaReading, now: i64) {
        reading.observed_at = now;
        reading.resets_at = reading.resets_at.map(|t| {
            t.clamp(
                now.saturating_add(1),
                now.saturating_add(broker_proto::MAX_RESET_SECS),
            )
        });
        let mut readings = self
            .readings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if readings.len() >= MAX_READINGS && !readings.contains_key(&(shop_id.to_owned(), provider))
        {
            readings.retain(|_, r| r.current(now));
            if readings.len() >= MAX_READINGS
                && let Some(stalest) = readings
                    .iter()
                    .min_by_key(|(_, r)| r.observed_at)
                    .map(|(k, _)| k.clone())
            {
                readings.remove(&stalest);
            }
        }
        readings.insert((shop_id.to_owned(), provider), reading);
    }

    /// The shop's current readings, one per provider, in provider order.
    pub fn of(&self, shop_id: &str, now: i64) -> Vec<ProviderQuota> {
        let readings = self
            .readings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Provider::ALL
            .iter()
            .filter_map(|p| {
                readings
                    .get(&(shop_id.to_owned(), *p))
                    .filter(|r| r.current(now))
                    .map(|r| ProviderQuota {
                        provider: *p,
                        reading: r.clone(),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(left_pct: u8, resets_at: i64) -> QuotaReading {
        QuotaReading {
            left_pct,
            limit: "tokensPerDay".into(),
            resets_at: Some(resets_at),
            observed_at: 0,
        }
    }

    #[test]
    fn a_reset_is_never_past_nor_further_than_a_day_and_an_hour() {
        let book = QuotaBook::default();
        book.note("a", Provider::Ga4, reading(3, i64::MAX), 100);
        book.note("a", Provider::MetaAds, reading(3, i64::MIN), 100);
        let a = book.of("a", 100);
        assert_eq!(a.len(), 2, "both current at once: {a:?}");
        assert_eq!(
            a[0].reading.resets_at,
            Some(100 + broker_proto::MAX_RESET_SECS)
        );
        assert_eq!(a[1].reading.resets_at, Some(101));
        assert!(book.of("a", 100 + broker_proto::MAX_RESET_SECS).is_empty());
    }

    #[test]
    fn the_latest_current_reading_per_shop_and_provider() {
        let book = QuotaBook::default();
        book.note("a", Provider::Ga4, reading(50, 1_000), 10);
        book.note("a", Provider::Ga4, reading(12, 1_000), 20);
        book.note("a", Provider::MetaAds, reading(80, 15), 10);
        book.note("b", Provider::Ga4, reading(1, 1_000), 10);
        let a = book.of("a", 12);
        assert_eq!(a.len(), 2);
        assert_eq!(
            (
                a[0].provider,
                a[0].reading.left_pct,
                a[0].reading.observed_at
            ),
            (Provider::Ga4, 12, 20)
        );
        // Meta's reset passed: replenished, so no longer reported.
        assert_eq!(book.of("a", 16).len(), 1);
        assert!(book.of("nobody", 12).is_empty());
    }
}
