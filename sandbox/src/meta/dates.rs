//! Insights dates: `date_preset` (relative to the account's "today"), `time_range` /
//! `time_ranges` JSON, and `time_increment` buckets.

use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::Deserialize;

use super::error::GraphError;

/// Every preset Meta accepts, in the order its error message lists them.
pub const PRESETS: &[&str] = &[
    "today",
    "yesterday",
    "this_month",
    "last_month",
    "this_quarter",
    "maximum",
    "data_maximum",
    "last_3d",
    "last_7d",
    "last_14d",
    "last_28d",
    "last_30d",
    "last_90d",
    "last_week_mon_sun",
    "last_week_sun_sat",
    "last_quarter",
    "last_year",
    "this_week_mon_today",
    "this_week_sun_today",
    "this_year",
];

/// How far back insights go (months).
pub const LOOKBACK_MONTHS: u32 = 37;

/// The earliest day insights can report.
pub fn earliest(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_months(Months::new(LOOKBACK_MONTHS))
        .unwrap_or(today)
}

/// Resolves a preset to `(since, until)`; `None` for an unknown name.
pub fn preset(name: &str, today: NaiveDate, created: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let day = Duration::days;
    let yesterday = today - day(1);
    let month_start = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    let quarter_start =
        |d: NaiveDate| NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1).unwrap_or(d);
    let year_start = |d: NaiveDate| NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d);
    let last_n = |n: i64| (today - day(n), yesterday);
    let monday = today - day(i64::from(today.weekday().num_days_from_monday()));
    let sunday = today - day(i64::from(today.weekday().num_days_from_sunday()));
    Some(match name {
        "today" => (today, today),
        "yesterday" => (yesterday, yesterday),
        "this_month" => (month_start(today), today),
        "last_month" => {
            let end = month_start(today) - day(1);
            (month_start(end), end)
        }
        "this_quarter" => (quarter_start(today), today),
        "last_quarter" => {
            let end = quarter_start(today) - day(1);
            (quarter_start(end), end)
        }
        "this_year" => (year_start(today), today),
        "last_year" => {
            let end = year_start(today) - day(1);
            (year_start(end), end)
        }
        "maximum" => (earliest(today).max(created), today),
        "data_maximum" => (earliest(today).max(created), yesterday),
        "last_3d" => last_n(3),
        "last_7d" => last_n(7),
        "last_14d" => last_n(14),
        "last_28d" => last_n(28),
        "last_30d" => last_n(30),
        "last_90d" => last_n(90),
        "last_week_mon_sun" => (monday - day(7), monday - day(1)),
        "last_week_sun_sat" => (sunday - day(7), sunday - day(1)),
        "this_week_mon_today" => (monday, today),
        "this_week_sun_today" => (sunday, today),
        _ => return None,
    })
}

#[derive(Deserialize)]
struct RawRange {
    since: String,
    until: String,
}

/// Parses one `{"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}` (single quotes accepted, as the
/// nested-field syntax writes them) and checks order and lookback.
pub fn time_range(
    text: &str,
    param: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), GraphError> {
    let raw: RawRange = serde_json::from_str(&text.replace('\'', "\"")).map_err(|_| {
        GraphError::invalid_param(format!(
            "{param} must be a JSON object with since and until dates in YYYY-MM-DD format"
        ))
    })?;
    check_range(&raw, param, today)
}

/// Parses `time_ranges`: a JSON list of `{since, until}` objects.
pub fn time_ranges(
    text: &str,
    today: NaiveDate,
) -> Result<Vec<(NaiveDate, NaiveDate)>, GraphError> {
    let raw: Vec<RawRange> = serde_json::from_str(&text.replace('\'', "\"")).map_err(|_| {
        GraphError::invalid_param(
            "time_ranges must be a JSON list of objects with since and until dates",
        )
    })?;
    if raw.is_empty() {
        return Err(GraphError::invalid_param("time_ranges must not be empty"));
    }
    if raw.len() > 37 {
        return Err(GraphError::invalid_param(
            "time_ranges accepts at most 37 ranges",
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, r)| check_range(r, &format!("time_ranges[{i}]"), today))
        .collect()
}

fn check_range(
    raw: &RawRange,
    param: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), GraphError> {
    let parse = |field: &str, v: &str| {
        NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
            GraphError::invalid_param(format!(
                "{param}[{field}] must be a date in YYYY-MM-DD format, got \"{v}\""
            ))
        })
    };
    let since = parse("since", &raw.since)?;
    let until = parse("until", &raw.until)?;
    if since > until {
        return Err(GraphError::invalid_param(format!(
            "{param}: since ({since}) must be on or before until ({until})"
        )));
    }
    if since < earliest(today) {
        return Err(GraphError::range_too_old());
    }
    Ok((since, until))
}

/// `time_increment`: one row per range, per N days, or per calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Increment {
    /// `all_days` (default).
    AllDays,
    /// `1`–`90`.
    Days(u32),
    /// `monthly`.
    Monthly,
}

impl Increment {
    /// Parses the parameter.
    pub fn parse(text: &str) -> Result<Self, GraphError> {
        match text.trim() {
            "all_days" => Ok(Self::AllDays),
            "monthly" => Ok(Self::Monthly),
            n => match n.parse::<u32>() {
                Ok(n) if (1..=90).contains(&n) => Ok(Self::Days(n)),
                _ => Err(GraphError::invalid_param(format!(
                    "time_increment must be all_days, monthly or an integer from 1 to 90, got \"{n}\""
                ))),
            },
        }
    }

    /// Splits `[since, until]` into row buckets.
    pub fn buckets(self, since: NaiveDate, until: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
        let mut out = Vec::new();
        let mut start = since;
        while start <= until {
            let end = match self {
                Self::AllDays => until,
                Self::Days(n) => (start + Duration::days(i64::from(n) - 1)).min(until),
                Self::Monthly => {
                    let next = start
                        .with_day(1)
                        .and_then(|d| d.checked_add_months(Months::new(1)))
                        .unwrap_or(until + Duration::days(1));
                    (next - Duration::days(1)).min(until)
                }
            };
            out.push((start, end));
            match end.succ_opt() {
                Some(next) => start = next,
                None => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn presets_resolve_relative_to_today() {
        let today = d("2026-10-20"); // a Tuesday
        let created = d("2020-01-01");
        let p = |n| preset(n, today, created).unwrap();
        assert_eq!(p("today"), (today, today));
        assert_eq!(p("last_7d"), (d("2026-10-13"), d("2026-10-19")));
        assert_eq!(p("last_30d"), (d("2026-09-20"), d("2026-10-19")));
        assert_eq!(p("this_month"), (d("2026-10-01"), today));
        assert_eq!(p("last_month"), (d("2026-09-01"), d("2026-09-30")));
        assert_eq!(p("this_quarter"), (d("2026-10-01"), today));
        assert_eq!(p("last_quarter"), (d("2026-07-01"), d("2026-09-30")));
        assert_eq!(p("last_year"), (d("2025-01-01"), d("2025-12-31")));
        assert_eq!(p("last_week_mon_sun"), (d("2026-10-12"), d("2026-10-18")));
        assert_eq!(p("last_week_sun_sat"), (d("2026-10-11"), d("2026-10-17")));
        assert_eq!(p("this_week_mon_today"), (d("2026-10-19"), today));
        assert_eq!(p("this_week_sun_today"), (d("2026-10-18"), today));
        assert_eq!(p("maximum"), (d("2023-09-20"), today));
        assert!(preset("lifetime", today, created).is_none());
        for name in PRESETS {
            let (a, b) = preset(name, today, created).unwrap();
            assert!(a <= b, "{name}");
        }
    }

    #[test]
    fn ranges_are_checked() {
        let today = d("2026-10-20");
        assert_eq!(
            time_range(
                "{'since':'2026-10-01','until':'2026-10-07'}",
                "time_range",
                today
            )
            .unwrap(),
            (d("2026-10-01"), d("2026-10-07"))
        );
        assert!(
            time_range(
                "{\"since\":\"2026-10-08\",\"until\":\"2026-10-07\"}",
                "time_range",
                today
            )
            .is_err()
        );
        assert!(time_range("2026-10-01", "time_range", today).is_err());
        assert_eq!(
            time_range(
                "{\"since\":\"2020-01-01\",\"until\":\"2020-01-07\"}",
                "time_range",
                today
            )
            .unwrap_err()
            .code,
            3018
        );
        let list = time_ranges(
            "[{\"since\":\"2026-10-01\",\"until\":\"2026-10-07\"},{\"since\":\"2026-09-01\",\"until\":\"2026-09-07\"}]",
            today,
        )
        .unwrap();
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn increments_bucket_the_range() {
        let (a, b) = (d("2026-09-20"), d("2026-10-19"));
        assert_eq!(Increment::AllDays.buckets(a, b), vec![(a, b)]);
        assert_eq!(Increment::Days(1).buckets(a, b).len(), 30);
        let weeks = Increment::Days(7).buckets(a, b);
        assert_eq!(weeks.len(), 5);
        assert_eq!(weeks[4], (d("2026-10-18"), b));
        assert_eq!(
            Increment::Monthly.buckets(a, b),
            vec![(a, d("2026-09-30")), (d("2026-10-01"), b)]
        );
        assert!(Increment::parse("91").is_err());
        assert!(Increment::parse("weekly").is_err());
        assert_eq!(Increment::parse("monthly").unwrap(), Increment::Monthly);
    }
}
