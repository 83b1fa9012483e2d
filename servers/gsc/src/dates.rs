//! Dates for Search Console. The API takes only `YYYY-MM-DD`, in Pacific time; the tools also
//! accept `today`, `yesterday` and `NdaysAgo` (as the GA4 tools do) and resolve them here
//! against today's date in America/Los_Angeles.

use chrono::{Duration, NaiveDate, Utc};
use mcp_common::params::{BadArgument, Checked, bad};

/// Today in Pacific time (or the fixed date a reproducible run was given).
pub fn pacific_today(fixed: Option<NaiveDate>) -> NaiveDate {
    fixed.unwrap_or_else(|| {
        Utc::now()
            .with_timezone(&chrono_tz::America::Los_Angeles)
            .date_naive()
    })
}

/// `value` as a date: `YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`.
pub fn resolve(value: &str, today: NaiveDate, field: &str) -> Checked<NaiveDate> {
    let v = value.trim();
    let days_ago = match v {
        "today" => Some(0),
        "yesterday" => Some(1),
        _ => v
            .strip_suffix("daysAgo")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| (0..=100_000).contains(n)),
    };
    if let Some(n) = days_ago {
        return Ok(today - Duration::days(n));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        BadArgument(format!("{field} {value:?} is not a date: use YYYY-MM-DD, \"today\", \"yesterday\" or \"NdaysAgo\" (e.g. \"28daysAgo\")"))
    })
}

/// A checked, ordered date range.
pub fn range(start: &str, end: &str, today: NaiveDate) -> Checked<(NaiveDate, NaiveDate)> {
    let a = resolve(start, today, "start_date")?;
    let b = resolve(end, today, "end_date")?;
    if a > b {
        return bad(format!("start_date {a} is after end_date {b}"));
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dates_resolve_against_the_given_day() {
        let today = NaiveDate::from_ymd_opt(2026, 10, 21).unwrap();
        assert_eq!(
            resolve("yesterday", today, "x").unwrap().to_string(),
            "2026-10-20"
        );
        assert_eq!(
            resolve("28daysAgo", today, "x").unwrap().to_string(),
            "2026-09-23"
        );
        assert_eq!(
            resolve("2026-01-02", today, "x").unwrap().to_string(),
            "2026-01-02"
        );
        assert!(
            resolve("last week", today, "start_date")
                .unwrap_err()
                .0
                .contains("start_date")
        );
        assert!(
            range("today", "yesterday", today)
                .unwrap_err()
                .0
                .contains("after")
        );
    }
}
