//! Upstream quota, read from what each upstream reports: GA4's `propertyQuota` (tokens per day,
//! per hour, per project per hour; Standard or 360 limits), Meta's `X-Business-Use-Case-Usage`
//! and `X-Ad-Account-Usage` headers (percentages used, time to regain access), and any
//! upstream's quota error (429: none left until it says, or an hour). Each becomes one
//! [`QuotaReading`]: the scarcest limit, as a share left. The server keeps its latest, notes it
//! in a result when it is under the reserve, and reports it to the broker, whose ledger the
//! pipeline reads ([`crate::credentials::TokenProvider::note_quota`]).

use std::time::Duration;

pub use broker_proto::{MAX_RESET_SECS, QuotaReading};
use chrono::{TimeZone, Timelike};
use serde_json::Value;

/// Share of a quota kept for people (chat, the gateway) unless the operator says otherwise:
/// the pipeline defers work below it, and results say when it is reached.
pub const DEFAULT_RESERVE_PCT: u8 = 20;

/// GA4's token limits, Standard then Analytics 360 (ten times more).
const GA4_LIMITS: [(&str, u64, u64); 3] = [
    ("tokensPerDay", 200_000, 2_000_000),
    ("tokensPerHour", 40_000, 400_000),
    ("tokensPerProjectPerHour", 14_000, 140_000),
];

/// Whole percent left of a share `used_pct` used (rounded down, so a sliver is 0, never
/// more than there is; the epsilon keeps `100 − 91` from flooring to 8).
fn left_of_used(used_pct: f64) -> u8 {
    (100.0 - used_pct + 1e-9).floor().clamp(0.0, 100.0) as u8
}

/// The next midnight in Pacific time, when GA4's daily tokens return.
fn next_pacific_midnight(now: i64) -> i64 {
    let tz = chrono_tz::America::Los_Angeles;
    let today = tz
        .timestamp_opt(now, 0)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let tomorrow = today.succ_opt().unwrap_or(today);
    tomorrow
        .and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.timestamp())
        .unwrap_or(now + 86_400)
}

fn next_hour(now: i64) -> i64 {
    let t = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    now - i64::from(t.minute()) * 60 - i64::from(t.second()) + 3600
}

/// GA4's `propertyQuota`: the token bucket with the least left. Concurrent requests and
/// server-error budgets pass in seconds or are ours to avoid: not counted.
pub fn from_ga4(quota: &Value, now: i64) -> Option<QuotaReading> {
    // proto3 JSON leaves zeros out: a bucket without `remaining` has none left.
    let remaining = |bucket: &str| {
        let b = quota.get(bucket)?;
        Some(b.get("remaining").and_then(Value::as_u64).unwrap_or(0))
    };
    let consumed = |bucket: &str| {
        quota
            .get(bucket)
            .and_then(|b| b.get("consumed"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    // A property with more of any bucket than Standard has at all is a 360 property.
    let premium = GA4_LIMITS.iter().any(|&(bucket, standard, _)| {
        remaining(bucket).is_some_and(|r| r.saturating_add(consumed(bucket)) > standard)
    });
    GA4_LIMITS
        .iter()
        .filter_map(|&(bucket, standard, premium_limit)| {
            let limit = if premium { premium_limit } else { standard };
            let left_pct = (remaining(bucket)?.min(limit) * 100 / limit) as u8;
            let resets_at = if bucket == "tokensPerDay" {
                next_pacific_midnight(now)
            } else {
                next_hour(now)
            };
            Some(QuotaReading {
                left_pct,
                limit: bucket.to_owned(),
                resets_at: Some(resets_at),
                observed_at: now,
            })
        })
        .min_by_key(|r| r.left_pct)
}

/// Meta's usage headers: the most used of the business use cases' `call_count`,
/// `total_cputime` and `total_time`, and of the ad account's `acc_id_util_pct`.
pub fn from_meta(headers: &reqwest::header::HeaderMap, now: i64) -> Option<QuotaReading> {
    let json = |name: &str| -> Option<Value> {
        serde_json::from_str(headers.get(name)?.to_str().ok()?).ok()
    };
    let mut worst: Option<(f64, String, Option<i64>)> = None;
    let mut consider = |used: f64, limit: String, regain_secs: Option<i64>| {
        if worst.as_ref().is_none_or(|(w, _, _)| used > *w) {
            worst = Some((used, limit, regain_secs));
        }
    };
    if let Some(Value::Object(businesses)) = json("x-business-use-case-usage") {
        for case in businesses.values().filter_map(Value::as_array).flatten() {
            let kind = case.get("type").and_then(Value::as_str).unwrap_or("usage");
            let regain = case
                .get("estimated_time_to_regain_access")
                .and_then(Value::as_i64)
                .filter(|m| *m > 0)
                .map(|m| m.saturating_mul(60));
            for field in ["call_count", "total_cputime", "total_time"] {
                if let Some(used) = case.get(field).and_then(Value::as_f64) {
                    consider(used, format!("{kind} {field}"), regain);
                }
            }
        }
    }
    if let Some(account) = json("x-ad-account-usage")
        && let Some(used) = account.get("acc_id_util_pct").and_then(Value::as_f64)
    {
        let reset = account
            .get("reset_time_duration")
            .and_then(Value::as_i64)
            .filter(|s| *s > 0);
        consider(used, "acc_id_util_pct".into(), reset);
    }
    let (used, limit, regain) = worst?;
    let limit: String = limit
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ' '))
        .take(broker_proto::MAX_LIMIT_NAME)
        .collect();
    Some(QuotaReading {
        left_pct: left_of_used(used),
        limit: if limit.is_empty() {
            "usage".into()
        } else {
            limit
        },
        // Meta's windows roll over an hour.
        resets_at: Some(now.saturating_add(regain.unwrap_or(3600).clamp(1, MAX_RESET_SECS))),
        observed_at: now,
    })
}

/// An upstream's quota error: nothing left until it says (or a minute).
pub fn exhausted(limit: &str, retry_after: Option<Duration>, now: i64) -> QuotaReading {
    let wait = retry_after.map_or(60, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    QuotaReading {
        left_pct: 0,
        limit: limit.to_owned(),
        resets_at: Some(now.saturating_add(wait.clamp(1, MAX_RESET_SECS))),
        observed_at: now,
    }
}

/// What a refusal says of the quota: none left, until the quota's own reset (a daily one at
/// midnight Pacific time, an hourly one at the top of the hour) or the upstream's wait. None
/// for refusals that are not about quota running out: too many requests at once (GA4's
/// concurrent-requests limit passes in seconds), or Meta's (its usage headers said it).
pub fn from_refusal(api: &crate::error::ApiError, now: i64) -> Option<QuotaReading> {
    // Meta: a throttle its usage headers did not describe (an app's limit, or none sent):
    // none left until it says, or five minutes.
    if let Some(m) = api.meta {
        return m.is_rate_limit().then(|| {
            exhausted(
                &format!("rate limit code {}", m.code),
                api.retry_after.or(Some(Duration::from_secs(300))),
                now,
            )
        });
    }
    if !api.is_quota() {
        return None;
    }
    let message = api.message.to_ascii_lowercase();
    if message.contains("concurrent") {
        return None;
    }
    let limit: String = api
        .reason
        .as_deref()
        .or(api.status.as_deref())
        .unwrap_or("rate limit")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ' '))
        .take(broker_proto::MAX_LIMIT_NAME)
        .collect();
    let limit = if limit.is_empty() {
        "rate limit".to_owned()
    } else {
        limit
    };
    let daily = message.contains("per day") || api.reason.as_deref() == Some("dailyLimitExceeded");
    Some(if daily {
        QuotaReading {
            left_pct: 0,
            limit,
            resets_at: Some(next_pacific_midnight(now)),
            observed_at: now,
        }
    } else if message.contains("per hour") {
        QuotaReading {
            left_pct: 0,
            limit,
            resets_at: Some(next_hour(now)),
            observed_at: now,
        }
    } else {
        exhausted(&limit, api.retry_after, now)
    })
}

/// What a result says when `reading` is under `reserve_pct`: for the person reading it, how
/// much is left and when it returns.
pub fn note(service: &str, reading: &QuotaReading, reserve_pct: u8) -> Option<String> {
    if reading.left_pct >= reserve_pct {
        return None;
    }
    let resets = reading
        .resets_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| format!(", resets {} UTC", t.format("%Y-%m-%d %H:%M")))
        .unwrap_or_default();
    Some(format!(
        "Quota: {service} has {} % of its {} left{resets}; the anomaly pipeline waits until then, so this is kept for you.",
        reading.left_pct, reading.limit
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 2026-10-21 19:30:00 UTC = 12:30 PDT.
    const NOW: i64 = 1_792_611_000;

    #[test]
    fn ga4_takes_the_scarcest_bucket_of_its_tier() {
        let q = json!({
            "tokensPerDay": {"consumed": 3, "remaining": 190_000},
            "tokensPerHour": {"consumed": 3, "remaining": 38_000},
            "tokensPerProjectPerHour": {"consumed": 3, "remaining": 1_680},
            "concurrentRequests": {"remaining": 10},
        });
        let r = from_ga4(&q, NOW).expect("a reading");
        assert_eq!(
            (r.left_pct, r.limit.as_str()),
            (12, "tokensPerProjectPerHour")
        );
        assert_eq!(r.resets_at, Some(NOW + 30 * 60), "the top of the hour");
        let day = from_ga4(&json!({"tokensPerDay": {"remaining": 10_000}}), NOW).expect("day");
        assert_eq!(day.left_pct, 5);
        // Midnight PDT on the 22nd is 07:00 UTC.
        assert_eq!(day.resets_at, Some(NOW + 11 * 3600 + 30 * 60));
        let premium = from_ga4(&json!({"tokensPerDay": {"remaining": 1_500_000}}), NOW);
        assert_eq!(premium.expect("360").left_pct, 75);
        assert_eq!(from_ga4(&json!({}), NOW), None);
    }

    #[test]
    fn meta_takes_the_most_used_counter() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            r#"{"123":[{"type":"ads_insights","call_count":91,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":0}]}"#
                .parse()
                .expect("header"),
        );
        h.insert(
            "x-ad-account-usage",
            r#"{"acc_id_util_pct":40.5,"reset_time_duration":0}"#
                .parse()
                .expect("header"),
        );
        let r = from_meta(&h, NOW).expect("a reading");
        assert_eq!(
            (r.left_pct, r.limit.as_str()),
            (9, "ads_insights call_count")
        );
        assert_eq!(r.resets_at, Some(NOW + 3600));
        h.insert(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"ads_management","call_count":100,"estimated_time_to_regain_access":7}]}"#
                .parse()
                .expect("header"),
        );
        let r = from_meta(&h, NOW).expect("throttled");
        assert_eq!((r.left_pct, r.resets_at), (0, Some(NOW + 7 * 60)));
        assert_eq!(from_meta(&reqwest::header::HeaderMap::new(), NOW), None);
    }

    #[test]
    fn a_refusal_says_until_when_and_only_about_running_out() {
        use reqwest::StatusCode;
        let google = |status: StatusCode, message: &str, reason: Option<&str>| {
            let name = if status == StatusCode::FORBIDDEN {
                "PERMISSION_DENIED"
            } else {
                "RESOURCE_EXHAUSTED"
            };
            let mut error = json!({"code": status.as_u16(), "message": message, "status": name});
            if let Some(r) = reason {
                error["errors"] = json!([{"reason": r}]);
            }
            crate::error::ApiError::from_response(
                status,
                json!({"error": error}).to_string().as_bytes(),
                None,
            )
        };
        let daily = google(
            StatusCode::TOO_MANY_REQUESTS,
            "Exhausted property tokens per day.",
            None,
        );
        let r = from_refusal(&daily, NOW).expect("a reading");
        assert_eq!(
            (r.left_pct, r.resets_at),
            (0, Some(NOW + 11 * 3600 + 30 * 60))
        );
        let hourly = google(
            StatusCode::TOO_MANY_REQUESTS,
            "Exhausted property tokens per hour.",
            None,
        );
        assert_eq!(
            from_refusal(&hourly, NOW).expect("hourly").resets_at,
            Some(NOW + 30 * 60)
        );
        let busy = google(
            StatusCode::TOO_MANY_REQUESTS,
            "Exhausted concurrent requests.",
            None,
        );
        assert_eq!(
            from_refusal(&busy, NOW),
            None,
            "too many at once passes in seconds"
        );
        let minute = google(
            StatusCode::FORBIDDEN,
            "Rate limit.",
            Some("rateLimitExceeded"),
        );
        let r = from_refusal(&minute, NOW).expect("per-minute");
        assert_eq!(
            (r.limit.as_str(), r.resets_at),
            ("rateLimitExceeded", Some(NOW + 60))
        );
        let mut far = minute.clone();
        far.retry_after = Some(Duration::from_secs(u64::MAX));
        assert_eq!(
            from_refusal(&far, NOW).expect("clamped").resets_at,
            Some(NOW + MAX_RESET_SECS),
            "a wild wait is cut to a day and an hour"
        );
        // Meta: a throttle its usage headers did not describe; any other error is no reading.
        let meta = |code: i64| {
            crate::error::ApiError::from_response(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": "limit", "type": "OAuthException", "code": code}})
                    .to_string()
                    .as_bytes(),
                None,
            )
        };
        let r = from_refusal(&meta(17), NOW).expect("throttled");
        assert_eq!(
            (r.limit.as_str(), r.resets_at),
            ("rate limit code 17", Some(NOW + 300))
        );
        assert_eq!(from_refusal(&meta(100), NOW), None);
        let refused = google(StatusCode::FORBIDDEN, "Permission denied.", None);
        assert_eq!(from_refusal(&refused, NOW), None);
    }

    #[test]
    fn a_note_only_under_the_reserve() {
        let r = exhausted("RESOURCE_EXHAUSTED", Some(Duration::from_secs(60)), NOW);
        let text = note("Google Analytics", &r, 20).expect("a note");
        assert!(
            text.contains("0 % of its RESOURCE_EXHAUSTED left"),
            "{text}"
        );
        assert!(text.contains("resets 2026-10-21 19:31 UTC"), "{text}");
        let plenty = QuotaReading { left_pct: 20, ..r };
        assert_eq!(note("Google Analytics", &plenty, 20), None);
    }
}
