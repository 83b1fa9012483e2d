//! What the command-line tools (`agent-host`, `credential-broker`, the servers, the sandbox)
//! share, so they behave the same way: how they end (a reader that stopped reading ends the
//! output quietly, an error is said once), how an operator writes a duration, which signals
//! stop them, and the log format an operator picks ([`LogFormat`]; the `telemetry` crate sets
//! logging up).

#![deny(missing_docs)]

use std::time::Duration;

/// How log lines on stderr are formatted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable single lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers; a line logged within a traced request
    /// carries its `trace_id`.
    Json,
}

/// `… | head -1`: a reader that stopped reading is the end of the output, not a failure worth
/// a panic and a backtrace. (SIGPIPE stays ignored: a write to a dead child must stay an error.)
pub fn quiet_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// The error and its causes, each said once: a cause whose words its parent already repeats
/// (sqlx and io errors often do) is left out.
pub fn said_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let words = cause.to_string();
        if !text.contains(words.as_str()) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&words);
        }
    }
    text
}

/// The longest duration any setting accepts (100 years): beyond it, clocks and timers overflow.
pub const MAX_DURATION_SECS: u64 = 100 * 365 * 86_400;

/// A duration written as `90s`, `10m`, `8h`, `30d` or plain seconds, at most 100 years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let not_one = || format!("{text:?} is not a duration like 90s, 10m, 8h or 30d");
    let n: u64 = number.parse().map_err(|_| not_one())?;
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(not_one()),
    };
    match n.checked_mul(unit_secs) {
        Some(secs) if secs <= MAX_DURATION_SECS => Ok(Duration::from_secs(secs)),
        _ => Err(format!("{text:?} is too long: at most 36500d")),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (systemd, `kill`), whichever comes first.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        // Without a SIGTERM handler (no signal driver), Ctrl-C still stops it.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_duration;

    #[test]
    fn durations_as_operators_write_them() {
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 10m "), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(parse_duration("36500d").is_ok());
        assert!(parse_duration("36501d").is_err_and(|e| e.contains("too long")));
        assert!(parse_duration("999999999999999d").is_err_and(|e| e.contains("too long")));
        assert!(parse_duration("18446744073709551615").is_err());
        for bad in ["8 hours", "", "h", "-5m", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let inner = anyhow::anyhow!("unable to open database file");
        let e = inner
            .context("error returned from database: unable to open database file")
            .context("open on sqlite:///x.db");
        assert_eq!(
            super::said_once(&e),
            "open on sqlite:///x.db: error returned from database: unable to open database file"
        );
    }
}
