//! List filters: `effective_status=["ACTIVE","PAUSED"]` and
//! `filtering=[{"field":"campaign.name","operator":"CONTAIN","value":"x"}]`.
//!
//! A filter reads a named field from a [`Subject`] (an object, or an insights row) and
//! compares it; `campaign.*`, `adset.*` and `ad.*` name the object's ancestors (or itself).

use serde::Deserialize;
use serde_json::Value;

use super::error::GraphError;

/// `status` values.
pub const STATUSES: &[&str] = &["ACTIVE", "PAUSED", "DELETED", "ARCHIVED"];
/// `effective_status` values.
pub const EFFECTIVE_STATUSES: &[&str] = &[
    "ACTIVE",
    "PAUSED",
    "DELETED",
    "PENDING_REVIEW",
    "DISAPPROVED",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
    "CAMPAIGN_PAUSED",
    "ARCHIVED",
    "ADSET_PAUSED",
    "IN_PROCESS",
    "WITH_ISSUES",
];

/// `effective_status` values each edge accepts (the business SDK's `Campaign`, `AdSet` and `Ad`
/// `EffectiveStatus` enums); a creative has none. Another value is Meta's error #100.
pub fn effective_statuses(kind: super::nodes::Kind) -> &'static [&'static str] {
    use super::nodes::Kind;
    match kind {
        Kind::Campaign => &[
            "ACTIVE",
            "ARCHIVED",
            "DELETED",
            "IN_PROCESS",
            "PAUSED",
            "WITH_ISSUES",
        ],
        Kind::AdSet => &[
            "ACTIVE",
            "ARCHIVED",
            "CAMPAIGN_PAUSED",
            "DELETED",
            "IN_PROCESS",
            "PAUSED",
            "WITH_ISSUES",
        ],
        Kind::Ad => EFFECTIVE_STATUSES,
        _ => &[],
    }
}

/// Operators Meta documents for `filtering`.
const OPERATORS: &[&str] = &[
    "EQUAL",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
    "IN_RANGE",
    "NOT_IN_RANGE",
    "CONTAIN",
    "NOT_CONTAIN",
    "IN",
    "NOT_IN",
    "STARTS_WITH",
    "ENDS_WITH",
    "ANY",
    "ALL",
    "AFTER",
    "BEFORE",
    "ON_OR_AFTER",
    "ON_OR_BEFORE",
    "NONE",
    "TOP",
];

/// A field value as filters see it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text (ids, names, statuses).
    Text(String),
    /// Number (metrics).
    Number(f64),
}

/// Anything filters can read fields from.
pub trait Subject {
    /// The value of `field`, or `None` when the subject does not have it.
    fn field(&self, field: &str) -> Option<FieldValue>;
}

/// One parsed filter.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Field name as given.
    pub field: String,
    op: Op,
    value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    GreaterEq,
    Less,
    LessEq,
    InRange,
    NotInRange,
    Contain,
    NotContain,
    In,
    NotIn,
    StartsWith,
    EndsWith,
}

#[derive(Deserialize)]
struct RawFilter {
    field: String,
    operator: String,
    #[serde(default)]
    value: Value,
}

/// Parses `filtering`; `known` says which field names the edge supports.
pub fn parse_filtering(
    text: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<Vec<Filter>, GraphError> {
    let raw: Vec<RawFilter> = serde_json::from_str(text).map_err(|_| {
        GraphError::invalid_param(
            "filtering must be a JSON array of objects with field, operator and value",
        )
    })?;
    raw.into_iter()
        .map(|r| {
            if !known(&r.field) {
                return Err(GraphError::invalid_param(format!(
                    "Filtering field {} is invalid.",
                    r.field
                )));
            }
            let op = match r.operator.as_str() {
                "EQUAL" => Op::Equal,
                "NOT_EQUAL" => Op::NotEqual,
                "GREATER_THAN" => Op::Greater,
                "GREATER_THAN_OR_EQUAL" => Op::GreaterEq,
                "LESS_THAN" => Op::Less,
                "LESS_THAN_OR_EQUAL" => Op::LessEq,
                "IN_RANGE" => Op::InRange,
                "NOT_IN_RANGE" => Op::NotInRange,
                "CONTAIN" => Op::Contain,
                "NOT_CONTAIN" => Op::NotContain,
                "IN" => Op::In,
                "NOT_IN" => Op::NotIn,
                "STARTS_WITH" => Op::StartsWith,
                "ENDS_WITH" => Op::EndsWith,
                other if OPERATORS.contains(&other) => {
                    return Err(GraphError::invalid_param(format!(
                        "Filtering operator {other} is not supported for field {}",
                        r.field
                    )));
                }
                _ => {
                    return Err(GraphError::not_one_of(
                        &format!("filtering[{}][operator]", r.field),
                        OPERATORS,
                    ));
                }
            };
            let list_op = matches!(op, Op::In | Op::NotIn | Op::InRange | Op::NotInRange);
            if list_op != r.value.is_array() {
                return Err(GraphError::invalid_param(format!(
                    "Filtering value for {} with operator {} must {}be a list",
                    r.field,
                    r.operator,
                    if list_op { "" } else { "not " }
                )));
            }
            Ok(Filter {
                field: r.field,
                op,
                value: r.value,
            })
        })
        .collect()
}

/// Parses `effective_status` (JSON array, or a comma list), checking each value.
pub fn parse_statuses(
    text: &str,
    param: &str,
    allowed: &[&str],
) -> Result<Vec<String>, GraphError> {
    let values = super::insights::list_param(text);
    for (i, v) in values.iter().enumerate() {
        if !allowed.contains(&v.as_str()) {
            return Err(GraphError::not_one_of(&format!("{param}[{i}]"), allowed));
        }
    }
    Ok(values)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Filter {
    /// Whether `subject` passes.
    pub fn matches(&self, subject: &dyn Subject) -> bool {
        let Some(actual) = subject.field(&self.field) else {
            // A field the subject lacks only satisfies negative operators.
            return matches!(
                self.op,
                Op::NotEqual | Op::NotContain | Op::NotIn | Op::NotInRange
            );
        };
        let text = match &actual {
            FieldValue::Text(t) => t.clone(),
            FieldValue::Number(n) => n.to_string(),
        };
        let num = match &actual {
            FieldValue::Number(n) => Some(*n),
            FieldValue::Text(t) => t.parse().ok(),
        };
        let eq = |v: &Value| match (num, number_of(v)) {
            (Some(a), Some(b)) if matches!(actual, FieldValue::Number(_)) => (a - b).abs() < 1e-9,
            _ => text == text_of(v),
        };
        let cmp = |f: fn(f64, f64) -> bool| match (num, number_of(&self.value)) {
            (Some(a), Some(b)) => f(a, b),
            _ => false,
        };
        let list = || self.value.as_array().cloned().unwrap_or_default();
        let in_range = || {
            let l = list();
            match (
                num,
                l.first().and_then(number_of),
                l.get(1).and_then(number_of),
            ) {
                (Some(x), Some(lo), Some(hi)) => x >= lo && x <= hi,
                _ => false,
            }
        };
        let lower = text.to_lowercase();
        let needle = text_of(&self.value).to_lowercase();
        match self.op {
            Op::Equal => eq(&self.value),
            Op::NotEqual => !eq(&self.value),
            Op::Greater => cmp(|a, b| a > b),
            Op::GreaterEq => cmp(|a, b| a >= b),
            Op::Less => cmp(|a, b| a < b),
            Op::LessEq => cmp(|a, b| a <= b),
            Op::InRange => in_range(),
            Op::NotInRange => !in_range(),
            // Meta's CONTAIN is case-insensitive.
            Op::Contain => lower.contains(&needle),
            Op::NotContain => !lower.contains(&needle),
            Op::In => list().iter().any(eq),
            Op::NotIn => !list().iter().any(eq),
            Op::StartsWith => lower.starts_with(&needle),
            Op::EndsWith => lower.ends_with(&needle),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Obj;
    impl Subject for Obj {
        fn field(&self, field: &str) -> Option<FieldValue> {
            match field {
                "campaign.name" => Some(FieldValue::Text("Black Friday 2025".into())),
                "effective_status" => Some(FieldValue::Text("PAUSED".into())),
                "spend" => Some(FieldValue::Number(12.5)),
                _ => None,
            }
        }
    }

    fn check(json: &str) -> bool {
        let known = |f: &str| f != "bogus";
        parse_filtering(json, &known)
            .unwrap()
            .iter()
            .all(|f| f.matches(&Obj))
    }

    #[test]
    fn operators() {
        assert!(check(
            r#"[{"field":"campaign.name","operator":"CONTAIN","value":"friday"}]"#
        ));
        assert!(!check(
            r#"[{"field":"campaign.name","operator":"NOT_CONTAIN","value":"Friday"}]"#
        ));
        assert!(check(
            r#"[{"field":"effective_status","operator":"IN","value":["ACTIVE","PAUSED"]}]"#
        ));
        assert!(!check(
            r#"[{"field":"effective_status","operator":"EQUAL","value":"ACTIVE"}]"#
        ));
        assert!(check(
            r#"[{"field":"spend","operator":"GREATER_THAN","value":10}]"#
        ));
        assert!(check(
            r#"[{"field":"spend","operator":"IN_RANGE","value":["10","20"]}]"#
        ));
        assert!(check(
            r#"[{"field":"campaign.name","operator":"STARTS_WITH","value":"black"},{"field":"spend","operator":"LESS_THAN","value":"13"}]"#
        ));
        assert!(!check(
            r#"[{"field":"ad.name","operator":"EQUAL","value":"x"}]"#
        ));
    }

    #[test]
    fn bad_filters_are_rejected() {
        let known = |f: &str| f != "bogus";
        for bad in [
            "not json",
            r#"[{"field":"bogus","operator":"EQUAL","value":"x"}]"#,
            r#"[{"field":"spend","operator":"LIKE","value":"x"}]"#,
            r#"[{"field":"spend","operator":"IN","value":"x"}]"#,
            r#"[{"field":"spend","operator":"TOP","value":"x"}]"#,
        ] {
            let e = parse_filtering(bad, &known).unwrap_err();
            assert_eq!(e.code, 100, "{bad}");
        }
        assert!(
            parse_statuses(
                r#"["ACTIVE","NOPE"]"#,
                "effective_status",
                EFFECTIVE_STATUSES
            )
            .is_err()
        );
        assert_eq!(
            parse_statuses("ACTIVE,PAUSED", "effective_status", EFFECTIVE_STATUSES).unwrap(),
            vec!["ACTIVE", "PAUSED"]
        );
    }
}
