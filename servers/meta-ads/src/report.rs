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

/// A numeric string as a JSON number: an integer when it is one (`"727"` → 727, not 727.0).
fn number_of(s: &str) -> Option<Value> {
    let f = s.trim().parse::<f64>().ok()?;
    if f.fract() == 0.0 && f.abs() < 9e15 {
        return Some(Value::from(f as i64));
    }
    serde_json::Number::from_f64(f).map(Value::Number)
}

/// Numbers where Meta sends numeric strings (and inside `actions`-style lists).
pub(crate) fn numbers(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        for (k, val) in map.iter_mut() {
            if NUMERIC.contains(&k.as_str()) {
                if let Some(n) = val.as_str().and_then(number_of) {
                    *val = n;
                }
            } else if let Value::Array(items) = val {
                for item in items.iter_mut() {
                    if let Some(n) = item
                        .get("value")
                        .and_then(Value::as_str)
                        .and_then(number_of)
                    {
                        item["value"] = n;
                    }
                }
            }
        }
    }
    v
}

/// An `actions`-style list (`[{"action_type": "purchase", "value": 16}, …]`) as a map
/// (`{"purchase": 16, …}`): the same pairs in a third of the bytes. A list whose entries carry
/// more than a type and a value (action breakdowns) or repeat a type stays a list.
fn compact_actions(value: Value) -> Value {
    let Value::Array(items) = &value else {
        return value;
    };
    let mut map = Map::new();
    for item in items {
        let Some(entry) = item.as_object() else {
            return value;
        };
        let (Some(Value::String(kind)), Some(v), 2) =
            (entry.get("action_type"), entry.get("value"), entry.len())
        else {
            return value;
        };
        if map.insert(kind.clone(), v.clone()).is_some() {
            return value;
        }
    }
    if map.is_empty() {
        return value;
    }
    Value::Object(map)
}

/// Insights rows (as [`numbers`] made them) as an [`InsightsOutput`]: columns once, each row
/// an array, actions as maps, and the period said once when every row has the same one.
pub(crate) fn insights_output(
    object: String,
    rows: Vec<Value>,
    next_after: Option<String>,
    requested: &[String],
) -> InsightsOutput {
    let rows: Vec<Map<String, Value>> = rows
        .into_iter()
        .filter_map(|r| match r {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    let period = |key: &str| -> Option<String> {
        let first = rows.first()?.get(key)?.as_str()?;
        rows.iter()
            .all(|r| r.get(key).and_then(Value::as_str) == Some(first))
            .then(|| first.to_owned())
    };
    let (date_start, date_stop) = match (period("date_start"), period("date_stop")) {
        (Some(a), Some(b)) => (Some(a), Some(b)),
        _ => (None, None),
    };
    let mut columns: Vec<String> = Vec::new();
    for row in &rows {
        for key in row.keys() {
            let said_once = date_start.is_some() && (key == "date_start" || key == "date_stop");
            if !said_once && !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    // In the order the fields were asked for; anything else Meta added after them.
    columns.sort_by_key(|c| requested.iter().position(|r| r == c).unwrap_or(usize::MAX));
    let rows = output::in_columns(&columns, &rows)
        .into_iter()
        .map(|row| row.into_iter().map(compact_actions).collect())
        .collect();
    InsightsOutput {
        object,
        date_start,
        date_stop,
        columns,
        rows,
        next_after,
    }
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

/// The value of `action_type` in an actions list (`purchase` and its pixel alias), from a row
/// as Meta sent it.
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
    /// Every row's first day, when all rows share one period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_start: Option<String>,
    /// Every row's last day, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_stop: Option<String>,
    /// The fields Meta returned, in the order asked for.
    pub columns: Vec<String>,
    /// Rows as arrays in `columns` order; null where Meta sent nothing for that row (no
    /// actions of a kind, a ratio over zero clicks). `actions` and the like as maps of action
    /// type to value.
    pub rows: Vec<Vec<Value>>,
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
        assert_eq!(v["impressions"], 18234);
        assert_eq!(v["campaign_name"], "Prospecting");
        assert_eq!(action(&v, "actions", &["purchase"]), Some(7.0));
    }

    #[test]
    fn insights_are_columns_and_arrays_with_the_period_once() {
        let rows = vec![
            numbers(
                json!({"campaign_name": "A", "spend": "1.5", "date_start": "2026-10-14", "date_stop": "2026-10-20",
                "actions": [{"action_type": "purchase", "value": "2"}, {"action_type": "link_click", "value": "9"}]}),
            ),
            numbers(
                json!({"campaign_name": "B", "spend": "0", "date_start": "2026-10-14", "date_stop": "2026-10-20"}),
            ),
        ];
        let asked: Vec<String> = ["campaign_name", "spend", "actions"]
            .map(String::from)
            .into();
        let out = insights_output("act_1".into(), rows, None, &asked);
        assert_eq!(out.date_start.as_deref(), Some("2026-10-14"));
        assert_eq!(out.columns, ["campaign_name", "spend", "actions"]);
        assert_eq!(
            out.rows[0],
            [
                json!("A"),
                json!(1.5),
                json!({"purchase": 2, "link_click": 9})
            ]
        );
        assert_eq!(out.rows[1], [json!("B"), json!(0), Value::Null]);
        // Breakdown entries carry more than a type and a value: they stay a list.
        let listed = json!([{"action_type": "purchase", "value": 1, "action_device": "iphone"}]);
        assert_eq!(compact_actions(listed.clone()), listed);
        // Different periods per row (time_increment) stay in the rows.
        let daily = vec![
            json!({"date_start": "2026-10-14", "date_stop": "2026-10-14"}),
            json!({"date_start": "2026-10-15", "date_stop": "2026-10-15"}),
        ];
        let out = insights_output("act_1".into(), daily, None, &[]);
        assert_eq!(out.date_start, None);
        assert_eq!(out.columns, ["date_start", "date_stop"]);
    }
}
