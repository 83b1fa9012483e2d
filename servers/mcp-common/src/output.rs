//! Tool results: structured JSON for programs plus a compact text rendering for models, and
//! tool errors. Every server builds its results through here so they all look alike.

use std::fmt::Write as _;

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use crate::params::BadArgument;

/// What every tool returns: a result (successful or a tool error the model reads); `Err` only
/// for protocol-level failures.
pub type ToolResult = Result<CallToolResult, rmcp::ErrorData>;

/// Why a tool will not, or could not, do what was asked, as the text the model reads: a bad
/// argument, an account outside the shop, credentials that failed, an upstream failure
/// explained. A tool returns it as an `isError` result ([`fail`]), never as a protocol error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl From<BadArgument> for Refusal {
    fn from(bad: BadArgument) -> Self {
        Self(bad.0)
    }
}

impl From<Refusal> for String {
    fn from(refusal: Refusal) -> String {
        refusal.0
    }
}

/// A successful result: `structured` as `structuredContent`, `text` as the readable content.
pub fn success<T: Serialize>(structured: &T, text: String) -> CallToolResult {
    match serde_json::to_value(structured) {
        Ok(value) => {
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(value);
            result
        }
        Err(e) => error(format!(
            "Internal error: cannot serialise the result ({e})."
        )),
    }
}

/// A failed result the model reads (`isError: true`).
pub fn error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// A tool's answer that it could not do what was asked: [`error`] as a tool result.
pub fn fail(message: impl Into<String>) -> ToolResult {
    Ok(error(message))
}

/// Widest a cell gets in the text rendering; longer values end with `…` there (the structured
/// content always has the whole value).
const MAX_CELL: usize = 80;

/// A plain-text table: a header row, aligned columns, numbers right-aligned.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    numeric: Vec<bool>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(headers: I) -> Self {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let numeric = vec![true; headers.len()];
        Self {
            headers,
            rows: Vec::new(),
            numeric,
        }
    }

    /// Appends a row (missing cells are blank, extra cells are dropped).
    pub fn push<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) {
        let mut row: Vec<String> = cells.into_iter().map(|c| clip(c.into())).collect();
        row.resize(self.headers.len(), String::new());
        for (i, cell) in row.iter().enumerate() {
            if !cell.is_empty() && cell.parse::<f64>().is_err() {
                self.numeric[i] = false;
            }
        }
        self.rows.push(row);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders the table; `(no rows)` under the header when empty.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        // One space between two number columns (right-aligned numbers cannot run together),
        // two wherever text is on either side (its values may hold spaces and digits).
        let line = |out: &mut String, cells: &[String]| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                let last = i + 1 == cells.len();
                if i > 0 {
                    let both_numbers = self.numeric[i - 1] && self.numeric[i];
                    text.push_str(if both_numbers { " " } else { "  " });
                }
                if self.numeric[i] {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    if !last {
                        text.push_str(&" ".repeat(pad));
                    }
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(&mut out, &self.headers);
        if self.rows.is_empty() {
            out.push_str("(no rows)\n");
        }
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }
}

fn clip(cell: String) -> String {
    let cell = cell.replace(['\n', '\r', '\t'], " ");
    if cell.chars().count() <= MAX_CELL {
        return cell;
    }
    let mut s: String = cell.chars().take(MAX_CELL - 1).collect();
    s.push('…');
    s
}

/// A JSON value as a text-table cell: text as it is, numbers compact ([`number`]), null
/// empty, anything else as compact JSON.
pub fn cell(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map(number).unwrap_or_else(|| n.to_string()),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Rows keyed by column name as arrays in `columns` order (an absent key is null): the
/// compact form of every result's rows, with the column names said once (issue 15).
pub fn in_columns(
    columns: &[String],
    rows: &[serde_json::Map<String, serde_json::Value>],
) -> Vec<Vec<serde_json::Value>> {
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.get(c).cloned().unwrap_or(serde_json::Value::Null))
                .collect()
        })
        .collect()
}

/// Formats a number for text: integers without decimals, others with up to 4 significant
/// decimals.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let s = format!("{value:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_columns() {
        let mut t = Table::new(["channel", "sessions"]);
        t.push(["Organic Search", "1200"]);
        t.push(["Direct", "87"]);
        t.push(["Direct", "87"]);
        let mut wide = Table::new(["channel", "device", "sessions"]);
        wide.push(["Organic Search", "mobile", "12345678"]);
        assert_eq!(
            t.render(),
            "channel         sessions\nOrganic Search      1200\nDirect                87\nDirect                87\n"
        );
        // Text keeps two spaces on either side; two numbers one.
        assert_eq!(
            wide.render(),
            "channel         device  sessions\nOrganic Search  mobile  12345678\n"
        );
        let mut numbers = Table::new(["clicks", "impressions"]);
        numbers.push(["12345678", "1"]);
        assert_eq!(
            numbers.render(),
            "  clicks impressions\n12345678           1\n"
        );
    }

    #[test]
    fn empty_tables_say_so() {
        let t = Table::new(["a"]);
        assert_eq!(t.render(), "a\n(no rows)\n");
    }

    #[test]
    fn long_cells_are_marked_not_silently_cut() {
        let mut t = Table::new(["page"]);
        t.push(["/".repeat(200)]);
        assert!(t.render().contains('…'));
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.612345), "0.6123");
        assert_eq!(number(2.5), "2.5");
    }

    #[test]
    fn success_carries_both_forms() {
        let r = success(&serde_json::json!({"a": 1}), "a\n1".into());
        assert_eq!(r.structured_content, Some(serde_json::json!({"a": 1})));
        assert_eq!(r.is_error, Some(false));
    }
}
