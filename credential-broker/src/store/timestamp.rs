//! Timestamps of the dashboard's `created`/`updated` columns as SQLite stores them: text.
//!
//! The broker writes RFC 3339 UTC with microseconds (so that two writes within one second still
//! order correctly). Rows written by others may use Django's or SQLite's `YYYY-MM-DD HH:MM:SS[.f]`
//! (naive, meaning UTC), so reading is lenient and yields `None` for anything unrecognised rather
//! than failing a whole listing over one odd cell.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// `at` as the broker writes it into SQLite: `2026-10-21T12:00:00.123456Z`.
pub(crate) fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses the forms described in the module docs; `None` for empty or unrecognised text.
pub(crate) fn parse_lenient(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    // With an explicit offset but a space instead of `T` (PostgreSQL's text form, Django on
    // SQLite with time zones); `%#z` accepts `+00`, `+0000` and `+00:00`.
    for form in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(at) = DateTime::parse_from_str(text, form) {
            return Some(at.with_timezone(&Utc));
        }
    }
    // Naive forms are UTC: that is what Django (USE_TZ) and SQLite's CURRENT_TIMESTAMP store.
    for form in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, form) {
            return Some(at.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
    }

    #[test]
    fn written_form_round_trips() {
        let at = utc(2026, 10, 21, 12, 0, 0) + chrono::Duration::microseconds(123_456);
        let text = format(at);
        assert_eq!(text, "2026-10-21T12:00:00.123456Z");
        assert_eq!(parse_lenient(&text), Some(at));
    }

    #[test]
    fn accepts_the_forms_others_write() {
        let noon = utc(2026, 10, 21, 12, 0, 0);
        for text in [
            "2026-10-21T12:00:00Z",
            "2026-10-21T14:00:00+02:00",
            "2026-10-21 12:00:00",
            "2026-10-21 12:00:00.000",
            "2026-10-21T12:00:00",
            "2026-10-21 12:00:00+00",
            "2026-10-21 12:00:00+00:00",
            " 2026-10-21 12:00:00 ",
        ] {
            assert_eq!(parse_lenient(text), Some(noon), "{text}");
        }
        assert_eq!(
            parse_lenient("2026-10-21 12:00:00.654321"),
            Some(noon + chrono::Duration::microseconds(654_321))
        );
    }

    #[test]
    fn garbage_is_none() {
        for text in [
            "",
            "   ",
            "yesterday",
            "2026-13-40 99:00:00",
            "1700000000",
            "2026-10-21",
        ] {
            assert_eq!(parse_lenient(text), None, "{text}");
        }
    }
}
