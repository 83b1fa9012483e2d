//! Dates in GAQL: the `DURING` date-range literals (relative to the customer's "today"),
//! date literals (`'2026-10-01'`, `'20261001'` or unquoted `20261001`), and the period
//! starts of `segments.week` (Monday), `month` and `quarter`.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The `DURING` literals Google accepts.
pub const DURING_LITERALS: &[&str] = &[
    "TODAY",
    "YESTERDAY",
    "LAST_7_DAYS",
    "LAST_14_DAYS",
    "LAST_30_DAYS",
    "LAST_BUSINESS_WEEK",
    "THIS_MONTH",
    "LAST_MONTH",
    "THIS_WEEK_SUN_TODAY",
    "THIS_WEEK_MON_TODAY",
    "LAST_WEEK_SUN_SAT",
    "LAST_WEEK_MON_SUN",
];

fn minus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(d)
}

/// Resolves a `DURING` literal (case-insensitive) to an inclusive range.
pub fn during(literal: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let lit = literal.to_ascii_uppercase();
    let since_monday = u64::from(today.weekday().num_days_from_monday());
    let since_sunday = u64::from(today.weekday().num_days_from_sunday());
    let this_monday = minus(today, since_monday);
    let this_sunday = minus(today, since_sunday);
    let first_of_month = today.with_day(1).unwrap_or(today);
    Some(match lit.as_str() {
        "TODAY" => (today, today),
        "YESTERDAY" => (minus(today, 1), minus(today, 1)),
        "LAST_7_DAYS" => (minus(today, 7), minus(today, 1)),
        "LAST_14_DAYS" => (minus(today, 14), minus(today, 1)),
        "LAST_30_DAYS" => (minus(today, 30), minus(today, 1)),
        // Monday to Friday of the previous week.
        "LAST_BUSINESS_WEEK" => (minus(this_monday, 7), minus(this_monday, 3)),
        "THIS_MONTH" => (first_of_month, today),
        "LAST_MONTH" => {
            let end = minus(first_of_month, 1);
            (end.with_day(1).unwrap_or(end), end)
        }
        "THIS_WEEK_SUN_TODAY" => (this_sunday, today),
        "THIS_WEEK_MON_TODAY" => (this_monday, today),
        "LAST_WEEK_SUN_SAT" => (minus(this_sunday, 7), minus(this_sunday, 1)),
        "LAST_WEEK_MON_SUN" => (minus(this_monday, 7), minus(this_monday, 1)),
        _ => return None,
    })
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    match t.len() {
        10 => NaiveDate::parse_from_str(t, "%Y-%m-%d").ok(),
        8 if t.bytes().all(|b| b.is_ascii_digit()) => NaiveDate::parse_from_str(t, "%Y%m%d").ok(),
        _ => None,
    }
}

/// Monday of the week containing `d` (`segments.week`).
pub fn week_start(d: NaiveDate) -> NaiveDate {
    minus(d, u64::from(d.weekday().num_days_from_monday()))
}

/// First day of the month containing `d` (`segments.month`).
pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// First day of the quarter containing `d` (`segments.quarter`).
pub fn quarter_start(d: NaiveDate) -> NaiveDate {
    let month = (d.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(d.year(), month, 1).unwrap_or(d)
}

/// Last day of the month starting at `start`.
pub fn month_end(start: NaiveDate) -> NaiveDate {
    let next = start
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(start);
    minus(next, 1)
}

/// Last day of the quarter starting at `start`.
pub fn quarter_end(start: NaiveDate) -> NaiveDate {
    let next = start
        .checked_add_months(chrono::Months::new(3))
        .unwrap_or(start);
    minus(next, 1)
}

/// Whether `d` is a Monday.
pub fn is_monday(d: NaiveDate) -> bool {
    d.weekday() == Weekday::Mon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn during_ranges() {
        // 2026-10-20 is a Tuesday.
        let t = d("2026-10-20");
        let r = |lit: &str| during(lit, t).unwrap();
        assert_eq!(r("TODAY"), (t, t));
        assert_eq!(r("yesterday"), (d("2026-10-19"), d("2026-10-19")));
        assert_eq!(r("LAST_7_DAYS"), (d("2026-10-13"), d("2026-10-19")));
        assert_eq!(r("LAST_14_DAYS"), (d("2026-10-06"), d("2026-10-19")));
        assert_eq!(r("LAST_30_DAYS"), (d("2026-09-20"), d("2026-10-19")));
        assert_eq!(r("LAST_BUSINESS_WEEK"), (d("2026-10-12"), d("2026-10-16")));
        assert_eq!(r("THIS_MONTH"), (d("2026-10-01"), t));
        assert_eq!(r("LAST_MONTH"), (d("2026-09-01"), d("2026-09-30")));
        assert_eq!(r("THIS_WEEK_SUN_TODAY"), (d("2026-10-18"), t));
        assert_eq!(r("THIS_WEEK_MON_TODAY"), (d("2026-10-19"), t));
        assert_eq!(r("LAST_WEEK_SUN_SAT"), (d("2026-10-11"), d("2026-10-17")));
        assert_eq!(r("LAST_WEEK_MON_SUN"), (d("2026-10-12"), d("2026-10-18")));
        assert_eq!(during("LAST_90_DAYS", t), None);
        for lit in DURING_LITERALS {
            let (a, b) = during(lit, t).unwrap();
            assert!(a <= b && b <= t, "{lit}");
        }
        // On a Sunday, "this week" starts today (SUN) or last Monday (MON).
        let sunday = d("2026-10-18");
        assert_eq!(during("THIS_WEEK_SUN_TODAY", sunday).unwrap().0, sunday);
        assert_eq!(
            during("THIS_WEEK_MON_TODAY", sunday).unwrap().0,
            d("2026-10-12")
        );
        // January: last month is December of the previous year.
        assert_eq!(
            during("LAST_MONTH", d("2026-01-15")).unwrap(),
            (d("2025-12-01"), d("2025-12-31"))
        );
    }

    #[test]
    fn literals_and_periods() {
        assert_eq!(parse_date("2026-10-01"), Some(d("2026-10-01")));
        assert_eq!(parse_date("20261001"), Some(d("2026-10-01")));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026101"), None);
        assert_eq!(week_start(d("2026-10-22")), d("2026-10-19"));
        assert_eq!(quarter_start(d("2026-11-30")), d("2026-10-01"));
        assert_eq!(quarter_end(d("2026-10-01")), d("2026-12-31"));
        assert_eq!(month_end(d("2026-02-01")), d("2026-02-28"));
        assert!(is_monday(d("2026-10-19")));
    }
}
