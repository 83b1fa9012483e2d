//! Tool outputs: Meta's numeric strings as numbers, the structured pages and objects, and their
//! text tables.

use mcp_common::output::{self, Table};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// Insights fields Meta sends as numeric strings.
pub(crate) const NUMERIC: &[&str] = &[
    "spend",
    "impressions",
    "reach",
    "frequency",
    "clicks",
    "inline_link_clicks",
    "ctr",
    "cpc",
    "cpm",
    "cpp",
    "conversions",
    "unique_clicks",
    "amount_spent",
    "daily_budget",
    "lifetime_budget",
    "spend_cap",
];

/// Numbers where Meta sends numeric strings (and inside `actions`-style lists).
pub(crate) fn numbers(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        for (k, val) in map.iter_mut() {
            if NUMERIC.contains(&k.as_str()) {
                if let Some(n) = val
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .and_then(serde_json::Number::from_f64)
                {
                    *val = Value::Number(n);
                }
            } else if let Value::Array(items) = val {
                for item in items.iter_mut() {
                    if let Some(n) = item
                        .get("value")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<f64>().ok())
                        .and_then(serde_json::Number::from_f64)
                    {
                        item["value"] = Value::Number(n);
                    }
                }
            }
        }
    }
    v
}

pub(crate) fn account_status(code: &Value) -> &'static str {
    match code.as_i64() {
        Some(1) => "ACTIVE",
        Some(2) => "DISABLED",
        Some(3) => "UNSETTLED",
        Some(7) => "PENDING_RISK_REVIEW",
        Some(8) => "PENDING_SETTLEMENT",
        Some(9) => "IN_GRACE_PERIOD",
        Some(100) => "PENDING_CLOSURE",
        Some(101) => "CLOSED",
        _ => "",
    }
}

pub(crate) fn cell(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(output::number)
            .unwrap_or_else(|| n.to_string()),
        Some(Value::Object(o)) => o
            .get("name")
            .or_else(|| o.get("id"))
            .map(|x| cell(Some(x)))
            .unwrap_or_default(),
        Some(other) => other.to_string(),
    }
}

/// The value of `action_type` in an actions list (`purchase` and its pixel alias).
pub(crate) fn action(row: &Value, list: &str, kinds: &[&str]) -> Option<f64> {
    row[list]
        .as_array()?
        .iter()
        .find(|a| kinds.contains(&a["action_type"].as_str().unwrap_or("")))
        .and_then(|a| a["value"].as_f64())
}

/// A page of objects.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput {
    /// The account or object listed from.
    pub parent: String,
    /// The objects, with the fields asked for (budgets in minor units, e.g. cents).
    pub items: Vec<Value>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// One object.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectOutput {
    /// The object's fields.
    pub object: Map<String, Value>,
}

pub(crate) fn list_text(out: &ListOutput, what: &str, columns: &[&str]) -> String {
    let mut t = Table::new(columns.iter().copied());
    for item in &out.items {
        t.push(columns.iter().map(|c| {
            if *c == "account_status" {
                account_status(&item[*c]).to_owned()
            } else {
                cell(item.get(*c))
            }
        }));
    }
    let mut text = format!(
        "{}: {} {what} on this page\n{}",
        out.parent,
        out.items.len(),
        t.render()
    );
    if out.next_after.is_some() {
        text.push_str("More exist: call again with after = next_after.\n");
    }
    text
}

/// Insights rows.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InsightsOutput {
    /// The account or object reported on.
    pub object: String,
    /// Rows: ids and names of the level, date_start/date_stop, metrics as numbers, `actions`
    /// and `action_values` as lists of {action_type, value}.
    pub rows: Vec<Value>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn insight_strings_become_numbers() {
        let v = numbers(
            json!({"spend": "233.17", "impressions": "18234", "campaign_name": "Prospecting", "actions": [{"action_type": "purchase", "value": "7"}]}),
        );
        assert_eq!(v["spend"], 233.17);
        assert_eq!(v["impressions"], 18234.0);
        assert_eq!(v["campaign_name"], "Prospecting");
        assert_eq!(action(&v, "actions", &["purchase"]), Some(7.0));
    }
}
