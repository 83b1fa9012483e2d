//! Date-range resolution for GA4 requests: `YYYY-MM-DD`, `today`, `yesterday` and
//! `NdaysAgo`, relative to the property's "today", with GA4's validation rules.

use chrono::{Days, NaiveDate};

use super::request::DateRange;
use crate::google::rpc::ApiError;

/// GA4 has no data before this date and rejects earlier ranges.
pub fn min_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2015, 8, 14).unwrap_or_default()
}

/// A date range with concrete dates and its response name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRange {
    /// First day (inclusive).
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
    /// Value of the `dateRange` dimension (`date_range_N` unless named).
    pub name: String,
}

impl ResolvedRange {
    /// Iterates the days of the range.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.start.iter_days().take_while(move |d| *d <= self.end)
    }

    /// Number of days.
    pub fn len(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// Whether the range has no days (never true for a validated range).
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }
}

/// Parses one date expression relative to `today`.
pub fn parse_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    let text = text.trim();
    match text {
        "today" => return Some(today),
        "yesterday" => return today.checked_sub_days(Days::new(1)),
        _ => {}
    }
    if let Some(n) = text.strip_suffix("daysAgo") {
        if n.is_empty() || n.len() > 6 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = n.parse().ok()?;
        return today.checked_sub_days(Days::new(n));
    }
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Resolves and validates the request's date ranges (1 to `max` of them).
pub fn resolve(
    ranges: &[DateRange],
    today: NaiveDate,
    max: usize,
) -> Result<Vec<ResolvedRange>, ApiError> {
    if ranges.is_empty() {
        return Err(ApiError::invalid_argument(
            "At least one dateRange must be specified in the request.",
        ));
    }
    if ranges.len() > max {
        return Err(ApiError::invalid_argument(format!(
            "Requested {} date ranges, but the maximum is {max}.",
            ranges.len()
        )));
    }
    let mut out = Vec::with_capacity(ranges.len());
    for (i, range) in ranges.iter().enumerate() {
        let parse = |field: &str, value: &str| {
            parse_date(value, today).ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Invalid {field} \"{value}\" in dateRanges[{i}]. Dates must be YYYY-MM-DD, today, yesterday, or NdaysAgo."
                ))
            })
        };
        let start = parse("startDate", &range.start_date)?;
        let end = parse("endDate", &range.end_date)?;
        if start > end {
            return Err(ApiError::invalid_argument(format!(
                "Invalid date range in dateRanges[{i}]: startDate {start} is after endDate {end}."
            )));
        }
        if start < min_date() {
            return Err(ApiError::invalid_argument(format!(
                "Invalid date range in dateRanges[{i}]: dates before {} are not supported.",
                min_date()
            )));
        }
        let name = match range.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => {
                if name.starts_with("date_range_") || name.starts_with("RESERVED_") {
                    return Err(ApiError::invalid_argument(format!(
                        "Date range name \"{name}\" cannot begin with 'date_range_' or 'RESERVED_'."
                    )));
                }
                name.to_string()
            }
            None => format!("date_range_{i}"),
        };
        out.push(ResolvedRange { start, end, name });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn range(start: &str, end: &str) -> DateRange {
        DateRange {
            start_date: start.into(),
            end_date: end.into(),
            name: None,
        }
    }

    #[test]
    fn relative_dates() {
        let today = d("2026-10-20");
        assert_eq!(parse_date("today", today), Some(today));
        assert_eq!(parse_date("yesterday", today), Some(d("2026-10-19")));
        assert_eq!(parse_date("7daysAgo", today), Some(d("2026-10-13")));
        assert_eq!(parse_date("0daysAgo", today), Some(today));
        assert_eq!(parse_date("2026-01-31", today), Some(d("2026-01-31")));
        for bad in [
            "",
            "daysAgo",
            "-1daysAgo",
            "2026-13-01",
            "2026-1-1",
            "tomorrow",
            "99999999daysAgo",
        ] {
            assert_eq!(parse_date(bad, today), None, "{bad}");
        }
    }

    #[test]
    fn resolution_rules() {
        let today = d("2026-10-20");
        let r = resolve(&[range("7daysAgo", "yesterday")], today, 4).unwrap();
        assert_eq!(r[0].name, "date_range_0");
        assert_eq!(r[0].len(), 7);
        assert_eq!(r[0].days().count(), 7);
        assert!(resolve(&[range("today", "yesterday")], today, 4).is_err());
        assert!(resolve(&[], today, 4).is_err());
        assert!(resolve(&vec![range("today", "today"); 5], today, 4).is_err());
        assert!(resolve(&[range("2010-01-01", "today")], today, 4).is_err());
        let mut named = range("today", "today");
        named.name = Some("current".into());
        assert_eq!(resolve(&[named], today, 4).unwrap()[0].name, "current");
        let mut bad = range("today", "today");
        bad.name = Some("RESERVED_x".into());
        assert!(resolve(&[bad], today, 4).is_err());
    }
}
