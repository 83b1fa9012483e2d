//! "Did you mean …?" for unknown metric and dimension names, from the property's metadata.

/// The closest of `candidates` to `wrong`, if close enough to be a plausible typo or rename.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_lower = wrong.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let c_lower = c.to_ascii_lowercase();
        // Renamed metrics often keep a shared stem: pageViews → screenPageViews.
        let d = if c_lower.ends_with(&wrong_lower) || wrong_lower.ends_with(&c_lower) {
            c_lower.len().abs_diff(wrong_lower.len()).min(3)
        } else {
            levenshtein(&wrong_lower, &c_lower)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (wrong.len() / 3).max(2);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The field name in Google's "Field X is not a valid metric/dimension" message.
pub fn invalid_field(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("Field ")?;
    let (name, rest) = rest.split_once(" is not a valid ")?;
    let kind = if rest.starts_with("metric") {
        "metric"
    } else if rest.starts_with("dimension") {
        "dimension"
    } else {
        return None;
    };
    Some((name, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_renamed_and_misspelt_fields() {
        let names = ["sessions", "screenPageViews", "activeUsers", "keyEvents"];
        assert_eq!(closest("pageViews", names), Some("screenPageViews"));
        assert_eq!(closest("sesions", names), Some("sessions"));
        assert_eq!(closest("activeuser", names), Some("activeUsers"));
        assert_eq!(closest("totallyDifferent", names), None);
    }

    #[test]
    fn parses_googles_message() {
        assert_eq!(
            invalid_field(
                "Field pageViews is not a valid metric. For a list of valid dimensions and metrics, see …"
            ),
            Some(("pageViews", "metric"))
        );
        assert_eq!(
            invalid_field("Field x is not a valid dimension."),
            Some(("x", "dimension"))
        );
        assert_eq!(invalid_field("something else"), None);
    }
}
