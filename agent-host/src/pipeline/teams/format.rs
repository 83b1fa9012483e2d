//! Numbers as people read them in conclusions, reports and messages.

/// Formats a number for people (thousands separators, one decimal below 100).
pub fn number(x: f64) -> String {
    let rounded = if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 10.0).round() / 10.0
    };
    let s = if rounded.fract() == 0.0 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    };
    // Thousands separators make numbers in findings readable at a glance.
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `+12.3%` / `-41.0%`.
pub fn percent(change: f64) -> String {
    format!("{:+.1}%", change * 100.0)
}
