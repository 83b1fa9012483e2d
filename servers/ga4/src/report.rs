//! Tool outputs: report responses turned into columns and rows of typed values (the structured
//! content), and their compact text rendering (what a model reads).

use mcp_common::output::{self, Table};
use rmcp::model::CallToolResult;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::api::{ReportResponse, Row};

/// A report page, as `run_report`, `run_realtime_report` and `run_conversions_report` return
/// it: the column names once, each row an array in their order (about half the bytes of an
/// object per row, for the same typed values).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportOutput {
    /// `properties/ID`.
    pub property_id: String,
    /// Column names: the dimensions, then the metrics.
    pub columns: Vec<String>,
    /// Each metric column's value type, e.g. `TYPE_INTEGER`, `TYPE_CURRENCY`, `TYPE_SECONDS`.
    pub metric_types: Map<String, Value>,
    /// Rows of this page, in `columns` order: dimension values as strings, metrics as numbers.
    pub rows: Vec<Vec<Value>>,
    /// Rows matching the query in total (all pages).
    pub row_count: u64,
    /// Index of the first row of this page.
    pub offset: u64,
    /// Offset of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
    /// Totals over all matching rows, in `columns` order, when `metric_aggregations` asked for
    /// `TOTAL`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<Vec<Value>>,
    /// Maximums, when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maximums: Vec<Vec<Value>>,
    /// Minimums, when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub minimums: Vec<Vec<Value>>,
    /// Currency, time zone, sampling and thresholding notes from the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Quota state, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_quota: Option<Value>,
}

/// A table inside a funnel report.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct FunnelTable {
    /// Column names: the dimensions, then the metrics.
    pub columns: Vec<String>,
    /// Each metric column's value type.
    pub metric_types: Map<String, Value>,
    /// Rows, in `columns` order.
    pub rows: Vec<Vec<Value>>,
}

/// `run_funnel_report` output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FunnelOutput {
    /// `properties/ID`.
    pub property_id: String,
    /// Step-by-step table: users per step, completion and abandonment rates.
    pub funnel_table: FunnelTable,
    /// Data for a funnel chart.
    pub funnel_visualization: FunnelTable,
    /// Quota state, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_quota: Option<Value>,
}

/// A metric value as a JSON number when it is one (GA4 sends every value as a string).
fn metric_value(raw: Option<&str>, kind: Option<&str>) -> Value {
    let Some(raw) = raw else { return Value::Null };
    if kind == Some("TYPE_INTEGER")
        && let Ok(i) = raw.parse::<i64>()
    {
        return Value::Number(i.into());
    }
    match raw.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(raw.to_owned()),
    }
}

/// A report's columns: dimension names, then each metric once with its type.
struct Columns {
    dimensions: Vec<String>,
    metrics: Vec<(String, Option<String>)>,
}

impl Columns {
    fn of(r: &ReportResponse) -> Self {
        let dimensions = r.dimension_headers.iter().map(|h| h.name.clone()).collect();
        // Funnel responses have been seen repeating the metric header list while rows carry
        // one value per metric: keep the first occurrence of each name, as values follow that
        // order.
        let mut metrics: Vec<(String, Option<String>)> = Vec::with_capacity(r.metric_headers.len());
        for h in &r.metric_headers {
            if !metrics.iter().any(|(name, _)| *name == h.name) {
                metrics.push((h.name.clone(), h.kind.clone()));
            }
        }
        Self {
            dimensions,
            metrics,
        }
    }

    fn names(&self) -> Vec<String> {
        self.dimensions
            .iter()
            .cloned()
            .chain(self.metrics.iter().map(|(name, _)| name.clone()))
            .collect()
    }

    /// Every metric's type (`TYPE_UNSPECIFIED` when the API gave none): a column is a metric
    /// exactly when it is here.
    fn types(&self) -> Map<String, Value> {
        self.metrics
            .iter()
            .map(|(name, kind)| {
                let kind = kind.as_deref().unwrap_or("TYPE_UNSPECIFIED");
                (name.clone(), Value::String(kind.to_owned()))
            })
            .collect()
    }

    fn row(&self, row: &Row) -> Vec<Value> {
        let dims = (0..self.dimensions.len()).map(|i| {
            Value::String(
                row.dimension_values
                    .get(i)
                    .and_then(|c| c.value.clone())
                    .unwrap_or_default(),
            )
        });
        let metrics = self.metrics.iter().enumerate().map(|(i, (_, kind))| {
            let raw = row.metric_values.get(i).and_then(|c| c.value.as_deref());
            metric_value(raw, kind.as_deref())
        });
        dims.chain(metrics).collect()
    }

    fn rows(&self, rows: &[Row]) -> Vec<Vec<Value>> {
        rows.iter().map(|r| self.row(r)).collect()
    }
}

/// Shapes a report page.
pub fn report_output(property: &str, r: ReportResponse, offset: u64) -> ReportOutput {
    let columns = Columns::of(&r);
    let rows = columns.rows(&r.rows);
    let row_count = r.row_count.unwrap_or(0).max(offset + rows.len() as u64);
    let end = offset + rows.len() as u64;
    // A short page can still be followed by more rows when the API caps pages below `limit`.
    let next_offset = (end < row_count && !rows.is_empty()).then_some(end);
    ReportOutput {
        property_id: format!("properties/{property}"),
        totals: columns.rows(&r.totals),
        maximums: columns.rows(&r.maximums),
        minimums: columns.rows(&r.minimums),
        columns: columns.names(),
        metric_types: columns.types(),
        rows,
        row_count,
        offset,
        next_offset,
        metadata: r.metadata,
        property_quota: r.property_quota,
    }
}

fn funnel_table(r: Option<ReportResponse>) -> FunnelTable {
    let r = r.unwrap_or_default();
    let columns = Columns::of(&r);
    FunnelTable {
        rows: columns.rows(&r.rows),
        columns: columns.names(),
        metric_types: columns.types(),
    }
}

/// Shapes a funnel report.
pub fn funnel_output(property: &str, r: crate::api::FunnelResponse) -> FunnelOutput {
    FunnelOutput {
        property_id: format!("properties/{property}"),
        funnel_table: funnel_table(r.funnel_table),
        funnel_visualization: funnel_table(r.funnel_visualization),
        property_quota: r.property_quota,
    }
}

/// A value as a text cell: currency with two decimals (so the column aligns on the point),
/// other numbers compact.
fn cell(v: &Value, kind: Option<&str>) -> String {
    match (v, kind) {
        (Value::Number(n), Some("TYPE_CURRENCY")) => n
            .as_f64()
            .map(|f| format!("{f:.2}"))
            .unwrap_or_else(|| n.to_string()),
        _ => output::cell(v),
    }
}

/// The text table of a report. A text dimension whose name is much longer than any of its
/// values (`sessionDefaultChannelGroup` over "Direct") would pad every row to its name's
/// width; when the metrics follow it, it goes last instead, where it needs no padding (a
/// tenth of a typical report's bytes). The structured rows keep the API's order.
fn table(columns: &[String], types: &Map<String, Value>, rows: &[Vec<Value>]) -> Table {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(columns)
                .map(|(v, c)| cell(v, types.get(c).and_then(Value::as_str)))
                .collect()
        })
        .collect();
    let mut order: Vec<usize> = (0..columns.len()).collect();
    let is_text = |i: usize| {
        !types.contains_key(&columns[i])
            && cells
                .iter()
                .any(|r| r.get(i).is_some_and(|c| c.parse::<f64>().is_err()))
    };
    let overhang = |i: usize| {
        let widest = cells
            .iter()
            .filter_map(|r| r.get(i))
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0);
        columns[i].chars().count().saturating_sub(widest)
    };
    if let Some(&last) = order.last()
        && !is_text(last)
        && let Some(long) = (0..columns.len())
            .filter(|&i| is_text(i) && overhang(i) >= 6)
            .max_by_key(|&i| overhang(i))
    {
        order.retain(|&i| i != long);
        order.push(long);
    }
    let mut t = Table::new(order.iter().map(|&i| columns[i].as_str()));
    for row in &cells {
        t.push(
            order
                .iter()
                .map(|&i| row.get(i).cloned().unwrap_or_default()),
        );
    }
    t
}

/// Text of a report page: what it is, the rows, aggregates, and how to get the next page.
pub fn render_report(out: &ReportOutput, tool: &str) -> String {
    let mut text = String::new();
    let shown = out.rows.len() as u64;
    if shown == 0 {
        text.push_str(&format!(
            "{}: no rows match (row_count {}).\n",
            out.property_id, out.row_count
        ));
    } else {
        text.push_str(&format!(
            "{}: rows {}–{} of {}\n",
            out.property_id,
            out.offset + 1,
            out.offset + shown,
            out.row_count
        ));
    }
    text.push_str(&table(&out.columns, &out.metric_types, &out.rows).render());
    for (label, list) in [
        ("Totals", &out.totals),
        ("Maximums", &out.maximums),
        ("Minimums", &out.minimums),
    ] {
        // One line per row: with several date ranges, one per range, named.
        for row in list {
            let parts: Vec<String> = out
                .columns
                .iter()
                .zip(row)
                .filter_map(|(name, v)| {
                    let kind = out.metric_types.get(name)?.as_str();
                    Some(format!("{name} {}", cell(v, kind)))
                })
                .collect();
            let range = out
                .columns
                .iter()
                .position(|c| c == "dateRange")
                .and_then(|i| row.get(i)?.as_str())
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            text.push_str(&format!("{label}{range}: {}\n", parts.join(" · ")));
        }
    }
    if let Some(meta) = &out.metadata {
        let mut notes = Vec::new();
        if let Some(c) = meta.get("currencyCode").and_then(Value::as_str) {
            notes.push(format!("currency {c}"));
        }
        if let Some(tz) = meta.get("timeZone").and_then(Value::as_str) {
            notes.push(format!("time zone {tz}"));
        }
        if meta.get("subjectToThresholding").and_then(Value::as_bool) == Some(true) {
            notes.push("some rows withheld by thresholding".into());
        }
        if meta.get("dataLossFromOtherRow").and_then(Value::as_bool) == Some(true) {
            notes.push("some values grouped into (other)".into());
        }
        if meta.get("samplingMetadatas").is_some() {
            notes.push("sampled".into());
        }
        if !notes.is_empty() {
            text.push_str(&format!("Notes: {}.\n", notes.join("; ")));
        }
    }
    if let Some(next) = out.next_offset {
        let more = out.row_count.saturating_sub(next);
        if tool == "run_realtime_report" {
            text.push_str(&format!(
                "{more} more rows: call {tool} again with a larger limit.\n"
            ));
        } else {
            text.push_str(&format!(
                "{more} more rows: call {tool} again with the same arguments and offset={next}.\n"
            ));
        }
    }
    text
}

/// Text of a funnel report.
pub fn render_funnel(out: &FunnelOutput) -> String {
    let t = &out.funnel_table;
    format!(
        "{} funnel:\n{}",
        out.property_id,
        table(&t.columns, &t.metric_types, &t.rows).render()
    )
}

/// Accounts and properties the credentials can read.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountSummariesOutput {
    /// Accounts on this page.
    pub accounts: Vec<AccountOut>,
    /// Pass as `page_token` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// An account and its properties.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountOut {
    /// Numeric account id.
    pub account_id: String,
    /// Display name.
    pub account_name: String,
    /// Its properties.
    pub properties: Vec<PropertyOut>,
}

/// A property.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PropertyOut {
    /// Numeric property id (what `property_id` takes).
    pub property_id: String,
    /// Display name.
    pub display_name: String,
    /// `PROPERTY_TYPE_ORDINARY`, `PROPERTY_TYPE_SUBPROPERTY` or `PROPERTY_TYPE_ROLLUP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_type: Option<String>,
}

/// A property's settings.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PropertyDetailsOutput {
    /// `properties/ID`.
    pub property_id: String,
    /// The Admin API's Property fields (displayName, timeZone, currencyCode,
    /// industryCategory, serviceLevel, createTime, …).
    pub property: serde_json::Map<String, Value>,
}

/// A list returned by the Admin API.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AdminListOutput {
    /// `properties/ID`.
    pub property_id: String,
    /// The items, as the Admin API returns them.
    pub items: Vec<Value>,
}

/// Custom dimensions and metrics, with the API names reports take.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CustomDefinitionsOutput {
    /// `properties/ID`.
    pub property_id: String,
    /// Custom dimensions.
    pub custom_dimensions: Vec<CustomField>,
    /// Custom metrics.
    pub custom_metrics: Vec<CustomField>,
}

/// A custom dimension or metric.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CustomField {
    /// Name to use in reports, e.g. `customEvent:shoe_size`.
    pub api_name: String,
    /// Event parameter or user property it reads.
    pub parameter_name: String,
    /// Display name.
    pub display_name: String,
    /// `EVENT`, `USER` or `ITEM`.
    pub scope: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Unit of a metric (`STANDARD`, `CURRENCY`, `SECONDS`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurement_unit: Option<String>,
}

/// An Admin API list as a tool result.
pub(crate) fn admin_list(id: &str, items: Vec<Value>, text: String) -> CallToolResult {
    output::success(
        &AdminListOutput {
            property_id: format!("properties/{id}"),
            items,
        },
        text,
    )
}

pub(crate) fn str_field(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

pub(crate) fn custom_field(v: &Value) -> CustomField {
    let scope = str_field(v, "scope");
    let parameter_name = str_field(v, "parameterName");
    let prefix = match scope.as_str() {
        "USER" => "customUser",
        "ITEM" => "customItem",
        _ => "customEvent",
    };
    CustomField {
        api_name: format!("{prefix}:{parameter_name}"),
        display_name: str_field(v, "displayName"),
        description: str_field(v, "description"),
        measurement_unit: v
            .get("measurementUnit")
            .and_then(Value::as_str)
            .map(str::to_owned),
        parameter_name,
        scope,
    }
}

pub(crate) fn google_date(v: Option<&Value>) -> String {
    let Some(v) = v else { return String::new() };
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    format!("{:04}-{:02}-{:02}", n("year"), n("month"), n("day"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(json: Value) -> ReportResponse {
        serde_json::from_value(json).expect("response")
    }

    #[test]
    fn typed_rows_and_paging() {
        let r = response(json!({
            "dimensionHeaders": [{"name": "country"}],
            "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}, {"name": "engagementRate", "type": "TYPE_FLOAT"}],
            "rows": [{"dimensionValues": [{"value": "Poland"}], "metricValues": [{"value": "412"}, {"value": "0.6121"}]}],
            "rowCount": 30,
            "metadata": {"currencyCode": "PLN", "timeZone": "Europe/Warsaw"}
        }));
        let out = report_output("1", r, 10);
        assert_eq!(out.columns, ["country", "sessions", "engagementRate"]);
        assert_eq!(out.rows, [vec![json!("Poland"), json!(412), json!(0.6121)]]);
        assert_eq!(out.metric_types["sessions"], "TYPE_INTEGER");
        assert_eq!(out.next_offset, Some(11));
        let text = render_report(&out, "run_report");
        assert!(text.contains("rows 11–11 of 30"), "{text}");
        assert!(
            text.contains(
                "19 more rows: call run_report again with the same arguments and offset=11."
            ),
            "{text}"
        );
        assert!(text.contains("Poland"), "{text}");
        assert!(text.contains("currency PLN"), "{text}");
    }

    #[test]
    fn empty_reports_say_so_and_have_no_next_page() {
        let out = report_output(
            "1",
            response(json!({"metricHeaders": [{"name": "sessions"}]})),
            0,
        );
        assert_eq!(out.row_count, 0);
        assert_eq!(out.next_offset, None);
        assert!(render_report(&out, "run_report").contains("no rows match"));
    }

    #[test]
    fn repeated_metric_headers_do_not_blank_values() {
        let r = response(json!({
            "dimensionHeaders": [{"name": "funnelStepName"}],
            "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}, {"name": "activeUsers", "type": "TYPE_INTEGER"}],
            "rows": [{"dimensionValues": [{"value": "1. View"}], "metricValues": [{"value": "40"}]}]
        }));
        let out = report_output("1", r, 0);
        assert_eq!(out.columns, ["funnelStepName", "activeUsers"]);
        assert_eq!(out.rows[0][1], json!(40));
    }

    #[test]
    fn last_page_has_no_next_offset() {
        let r = response(json!({
            "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}],
            "rows": [{"metricValues": [{"value": "1"}]}],
            "rowCount": 1
        }));
        assert_eq!(report_output("1", r, 0).next_offset, None);
    }

    #[test]
    fn a_long_named_text_dimension_goes_last_in_the_text_only() {
        let r = response(json!({
            "dimensionHeaders": [{"name": "date"}, {"name": "sessionDefaultChannelGroup"}],
            "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}, {"name": "totalRevenue", "type": "TYPE_CURRENCY"}],
            "rows": [
                {"dimensionValues": [{"value": "20261013"}, {"value": "Organic Search"}], "metricValues": [{"value": "1186"}, {"value": "3908.6"}]},
                {"dimensionValues": [{"value": "20261014"}, {"value": "Direct"}], "metricValues": [{"value": "87"}, {"value": "12"}]}
            ],
            "rowCount": 2
        }));
        let out = report_output("1", r, 0);
        assert_eq!(
            out.columns,
            [
                "date",
                "sessionDefaultChannelGroup",
                "sessions",
                "totalRevenue"
            ]
        );
        let text = render_report(&out, "run_report");
        assert!(
            text.contains(
                "    date sessions totalRevenue  sessionDefaultChannelGroup\n20261013     1186      3908.60  Organic Search\n20261014       87        12.00  Direct\n"
            ),
            "{text}"
        );
    }
}
