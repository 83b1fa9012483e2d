//! How the command-line tools (`agent-host`, `credential-broker`) end, the same way: a reader
//! that stopped reading ends the output quietly, and an error is said once.

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

#[cfg(test)]
mod tests {
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
