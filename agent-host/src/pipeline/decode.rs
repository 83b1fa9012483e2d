//! Tool results as the pipeline reads them: each tool's structured content decoded by the field
//! names its server writes (its report types; published as an output schema where the tool has
//! one). A result without a field the server promises is an error that names the tool and the
//! field, never a zero: a field renamed in a server must fail the team where it shows, not
//! turn every finding into "no material change". Only what an upstream itself leaves out when
//! it is zero counts as zero ([`number_or_zero`]): Google Ads omits zero metrics (proto3 JSON;
//! the server fills counts and amounts with 0 and leaves other metrics null, which is absent
//! here), Meta omits `actions` a campaign had none of, Search Console returns no totals row for
//! a period without data.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One row of a result, by its schema's column names.
pub type Row = Map<String, Value>;

/// Rows as the servers send them: the column names once, each row an array in their order.
#[derive(Debug, Deserialize)]
struct Tabular {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Tabular {
    /// The rows keyed by column name. A null cell is a value the upstream did not report, so
    /// it is absent here too; a row of another length than the columns is an error, never a
    /// guess.
    fn keyed(self) -> Result<Vec<Row>, String> {
        self.rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                if row.len() != self.columns.len() {
                    return Err(format!(
                        "row {i} has {} values for {} columns",
                        row.len(),
                        self.columns.len()
                    ));
                }
                Ok(self
                    .columns
                    .iter()
                    .cloned()
                    .zip(row)
                    .filter(|(_, v)| !v.is_null())
                    .collect())
            })
            .collect()
    }
}

/// GA4 `run_report` (the page the pipeline asks for).
#[derive(Debug, Deserialize)]
#[serde(try_from = "Tabular")]
pub struct Ga4Report {
    /// Dimension values by dimension name, metric values by metric name.
    pub rows: Vec<Row>,
}

impl TryFrom<Tabular> for Ga4Report {
    type Error = String;
    fn try_from(t: Tabular) -> Result<Self, String> {
        Ok(Self { rows: t.keyed()? })
    }
}

/// Search Console `compare_search_periods`.
#[derive(Debug, Deserialize)]
pub struct GscComparison {
    /// The earlier period.
    pub period_a: GscPeriod,
    /// The later period.
    pub period_b: GscPeriod,
    /// Per key: `{key}_a`, `{key}_b` for clicks and impressions.
    pub movers: Vec<Row>,
}

/// One period of a comparison.
#[derive(Debug, Deserialize)]
pub struct GscPeriod {
    /// Clicks, impressions, ctr, position (empty when the period has no data).
    pub totals: Row,
}

/// Search Console `get_performance_overview`.
#[derive(Debug, Deserialize)]
pub struct GscOverview {
    /// One row per day: `date`, `clicks`, `impressions`, …
    pub daily: Vec<Row>,
}

/// A Google Ads `search` page as sent.
#[derive(Debug, Deserialize)]
struct AdsTable {
    #[serde(flatten)]
    table: Tabular,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// A Google Ads `search` page.
#[derive(Debug, Deserialize)]
#[serde(try_from = "AdsTable")]
pub struct AdsPage {
    /// The GAQL fields the answer carries (its field mask): a selected field missing from a
    /// row is zero only if it is here.
    pub columns: Vec<String>,
    /// Rows by GAQL field name.
    pub rows: Vec<Row>,
    /// The next page, if any.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

impl TryFrom<AdsTable> for AdsPage {
    type Error = String;
    fn try_from(t: AdsTable) -> Result<Self, String> {
        Ok(Self {
            columns: t.table.columns.clone(),
            rows: t.table.keyed()?,
            next_page_token: t.next_page_token,
        })
    }
}

/// A Meta `get_insights` page as sent.
#[derive(Debug, Deserialize)]
struct MetaTable {
    #[serde(flatten)]
    table: Tabular,
    #[serde(default)]
    next_after: Option<String>,
    #[serde(default)]
    date_start: Option<String>,
    #[serde(default)]
    date_stop: Option<String>,
}

/// A Meta `get_insights` page.
#[derive(Debug, Deserialize)]
#[serde(try_from = "MetaTable")]
pub struct MetaPage {
    /// Insights rows by field name, each with its `date_start`/`date_stop` (said once for the
    /// page when every row has the same period).
    pub rows: Vec<Row>,
    /// The next page's cursor, if any.
    pub next_after: Option<String>,
}

impl TryFrom<MetaTable> for MetaPage {
    type Error = String;
    fn try_from(t: MetaTable) -> Result<Self, String> {
        let mut rows = t.table.keyed()?;
        for row in &mut rows {
            for (key, value) in [("date_start", &t.date_start), ("date_stop", &t.date_stop)] {
                if let Some(v) = value {
                    row.entry(key).or_insert_with(|| Value::String(v.clone()));
                }
            }
        }
        Ok(Self {
            rows,
            next_after: t.next_after,
        })
    }
}

/// `value` (a tool's structured content) as `T`, or why not.
pub fn result<T: DeserializeOwned>(tool: &str, value: &Value) -> Result<T, String> {
    if value.is_null() {
        return Err(format!("{tool}: the result has no structured content"));
    }
    T::deserialize(value)
        .map_err(|e| format!("{tool}: the result does not have the expected shape: {e}"))
}

/// A required text column.
pub fn text<'a>(tool: &str, row: &'a Row, column: &str) -> Result<&'a str, String> {
    match row.get(column) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("{tool}: `{column}` is not text: {other}")),
        None => Err(missing(tool, row, column)),
    }
}

/// A required number column (JSON numbers, or numbers as text as int64 and Meta's values
/// come).
pub fn number(tool: &str, row: &Row, column: &str) -> Result<f64, String> {
    match row.get(column) {
        Some(v) => as_number(tool, column, v),
        None => Err(missing(tool, row, column)),
    }
}

/// A number column the upstream leaves out when it is zero.
pub fn number_or_zero(tool: &str, row: &Row, column: &str) -> Result<f64, String> {
    match row.get(column) {
        Some(v) => as_number(tool, column, v),
        None => Ok(0.0),
    }
}

fn as_number(tool: &str, column: &str, v: &Value) -> Result<f64, String> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    n.filter(|n| n.is_finite())
        .ok_or_else(|| format!("{tool}: `{column}` is not a number: {v}"))
}

fn missing(tool: &str, row: &Row, column: &str) -> String {
    let columns: Vec<&str> = row.keys().map(String::as_str).collect();
    format!(
        "{tool}: the result has no `{column}` (its columns: {})",
        columns.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_or_renamed_field_is_an_error_not_a_zero() {
        let err = result::<Ga4Report>("run_report", &json!({"results": []})).unwrap_err();
        assert!(err.contains("missing field `columns`"), "{err}");
        let err = result::<Ga4Report>("run_report", &json!({"columns": ["a"], "results": []}))
            .unwrap_err();
        assert!(err.contains("missing field `rows`"), "{err}");
        assert!(result::<Ga4Report>("run_report", &Value::Null).is_err());

        let row: Row =
            json!({"sessionDefaultChannelGroup": "Direct", "sessions": 12, "cost": "1.5"})
                .as_object()
                .cloned()
                .unwrap_or_default();
        assert_eq!(number("t", &row, "sessions"), Ok(12.0));
        assert_eq!(number("t", &row, "cost"), Ok(1.5));
        let err = number("t", &row, "totalUsers").unwrap_err();
        assert!(
            err.contains("no `totalUsers`") && err.contains("sessions"),
            "{err}"
        );
        assert_eq!(number_or_zero("t", &row, "metrics.clicks"), Ok(0.0));
        assert!(number("t", &row, "sessionDefaultChannelGroup").is_err());
        assert_eq!(text("t", &row, "sessionDefaultChannelGroup"), Ok("Direct"));
        assert!(text("t", &row, "sessions").is_err());
        assert!(text("t", &row, "deviceCategory").is_err());
    }

    #[test]
    fn rows_come_as_arrays_under_their_columns() {
        let report: Ga4Report = result(
            "run_report",
            &json!({"columns": ["date", "sessions"], "rows": [["20261013", 12], ["20261014", null]]}),
        )
        .unwrap();
        assert_eq!(report.rows[0]["sessions"], 12);
        // A null cell is a field the upstream left out, as before.
        assert!(!report.rows[1].contains_key("sessions"));
        let err = result::<Ga4Report>(
            "run_report",
            &json!({"columns": ["date", "sessions"], "rows": [["20261013"]]}),
        )
        .unwrap_err();
        assert!(err.contains("row 0 has 1 values for 2 columns"), "{err}");

        let ads: AdsPage = result(
            "search",
            &json!({"columns": ["campaign.name", "metrics.clicks"], "rows": [["A", 3]], "next_page_token": "t"}),
        )
        .unwrap();
        assert_eq!(ads.columns, ["campaign.name", "metrics.clicks"]);
        assert_eq!(ads.rows[0]["metrics.clicks"], 3);
        assert_eq!(ads.next_page_token.as_deref(), Some("t"));

        let meta: MetaPage = result(
            "get_insights",
            &json!({"columns": ["campaign_name"], "rows": [["A"]], "date_start": "2026-10-14", "date_stop": "2026-10-20"}),
        )
        .unwrap();
        assert_eq!(meta.rows[0]["date_start"], "2026-10-14");
        assert_eq!(meta.rows[0]["date_stop"], "2026-10-20");
        assert_eq!(meta.next_after, None);
    }
}
