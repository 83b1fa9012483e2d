//! Upstream quota as the servers see it: each reading is the scarcest of the limits an
//! upstream reports for one shop's account (GA4's `propertyQuota`, Meta's usage headers, a
//! quota error), as a share left. Servers report them ([`crate::Request::ReportQuota`]); the
//! broker keeps the latest per shop and provider, and the agent host's pipeline asks for them
//! ([`crate::Request::Quotas`]) so it leaves a reserve for people.

use serde::{Deserialize, Serialize};

use crate::Provider;

/// Longest [`QuotaReading::limit`] name.
pub const MAX_LIMIT_NAME: usize = 64;

/// The furthest a reading's reset may lie, in seconds: a day and an hour (a daily quota
/// returns within a day; anything later is a wrong clock or a wrong header).
pub const MAX_RESET_SECS: i64 = 25 * 3600;

/// What a server last saw of one quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaReading {
    /// Percent of the scarcest limit left, 0–100.
    pub left_pct: u8,
    /// Which limit that is, as the upstream names it (`tokensPerDay`, `call_count`, …).
    pub limit: String,
    /// When it is replenished (Unix seconds), if the upstream says or its rules do.
    pub resets_at: Option<i64>,
    /// When the server saw it (Unix seconds).
    pub observed_at: i64,
}

impl QuotaReading {
    /// Whether the reading is well-formed: a percentage, a short printable limit name.
    pub fn is_valid(&self) -> bool {
        self.left_pct <= 100
            && !self.limit.is_empty()
            && self.limit.len() <= MAX_LIMIT_NAME
            && self
                .limit
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b' '))
    }

    /// Whether it still says anything at `now`: a quota whose reset has passed is replenished,
    /// and a reading without a reset tells nothing after an hour.
    pub fn current(&self, now: i64) -> bool {
        match self.resets_at {
            Some(at) => now < at,
            None => now - self.observed_at < 3600,
        }
    }
}

/// A provider's latest reading for a shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderQuota {
    /// The provider.
    pub provider: Provider,
    /// The reading.
    pub reading: QuotaReading,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(limit: &str, left_pct: u8) -> QuotaReading {
        QuotaReading {
            left_pct,
            limit: limit.into(),
            resets_at: Some(100),
            observed_at: 10,
        }
    }

    #[test]
    fn readings_are_checked_and_age() {
        assert!(reading("tokensPerDay", 12).is_valid());
        assert!(reading("ads_insights call_count", 0).is_valid());
        assert!(!reading("tokensPerDay", 101).is_valid());
        assert!(!reading("", 5).is_valid());
        assert!(!reading("x\nDROP", 5).is_valid());
        assert!(!reading(&"a".repeat(65), 5).is_valid());
        assert!(reading("tokensPerDay", 5).current(99));
        assert!(!reading("tokensPerDay", 5).current(100));
        let unbounded = QuotaReading {
            resets_at: None,
            ..reading("x", 5)
        };
        assert!(unbounded.current(10 + 3599) && !unbounded.current(10 + 3600));
    }
}
