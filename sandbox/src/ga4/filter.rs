//! Compiled GA4 `FilterExpression`s: and/or/not groups over string, in-list, numeric,
//! between and empty filters, evaluated against a row's dimension values (dimension filter)
//! or metric values (metric filter).

use std::collections::HashSet;

use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use super::request::{FilterExpression, MATCH_TYPES, OPERATIONS};
use crate::google::rpc::ApiError;

/// Maximum nesting the sandbox evaluates (serde_json already caps recursion at 128).
const MAX_DEPTH: usize = 64;

/// A leaf test.
#[derive(Debug)]
enum Test {
    Exact(String, bool),
    BeginsWith(String, bool),
    EndsWith(String, bool),
    Contains(String, bool),
    Regex(Box<Regex>),
    InList(HashSet<String>, bool),
    Numeric(&'static str, f64),
    Between(f64, f64),
    Empty,
}

/// A compiled filter expression; field indices refer to the caller's value slots.
#[derive(Debug)]
pub enum Compiled {
    /// All must match.
    And(Vec<Compiled>),
    /// Any must match.
    Or(Vec<Compiled>),
    /// Negation.
    Not(Box<Compiled>),
    /// A test on one field.
    Leaf {
        /// Value slot.
        field: usize,
        /// The test.
        test: LeafTest,
    },
}

/// Opaque leaf test.
#[derive(Debug)]
pub struct LeafTest(Test);

/// Supplies field values to the evaluator.
pub trait Fields {
    /// The text of a field.
    fn text(&self, field: usize) -> &str;
    /// The numeric value of a field, if it has one.
    fn number(&self, field: usize) -> Option<f64>;
}

/// Dimension values as fields.
pub struct TextFields<'a>(pub &'a [&'a str]);

impl Fields for TextFields<'_> {
    fn text(&self, field: usize) -> &str {
        self.0.get(field).copied().unwrap_or("")
    }
    fn number(&self, field: usize) -> Option<f64> {
        self.text(field).trim().parse().ok()
    }
}

/// Metric values (numbers plus their wire text) as fields.
pub struct NumberFields<'a> {
    /// Values.
    pub values: &'a [f64],
    /// Wire texts.
    pub texts: &'a [String],
}

impl Fields for NumberFields<'_> {
    fn text(&self, field: usize) -> &str {
        self.texts.get(field).map(String::as_str).unwrap_or("")
    }
    fn number(&self, field: usize) -> Option<f64> {
        self.values.get(field).copied()
    }
}

/// Compiles a filter expression; `resolve` maps a field name to a value slot or an error.
pub fn compile(
    expr: &FilterExpression,
    resolve: &mut dyn FnMut(&str) -> Result<usize, ApiError>,
) -> Result<Compiled, ApiError> {
    compile_at(expr, resolve, 0)
}

fn compile_at(
    expr: &FilterExpression,
    resolve: &mut dyn FnMut(&str) -> Result<usize, ApiError>,
    depth: usize,
) -> Result<Compiled, ApiError> {
    if depth > MAX_DEPTH {
        return Err(ApiError::invalid_argument(
            "FilterExpression is nested too deeply.",
        ));
    }
    let set = [
        expr.and_group.is_some(),
        expr.or_group.is_some(),
        expr.not_expression.is_some(),
        expr.filter.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if set != 1 {
        return Err(ApiError::invalid_argument(
            "A FilterExpression must set exactly one of andGroup, orGroup, notExpression or filter.",
        ));
    }
    if let Some(group) = &expr.and_group {
        let parts = group
            .expressions
            .iter()
            .map(|e| compile_at(e, resolve, depth + 1))
            .collect::<Result<_, _>>()?;
        return Ok(Compiled::And(parts));
    }
    if let Some(group) = &expr.or_group {
        let parts = group
            .expressions
            .iter()
            .map(|e| compile_at(e, resolve, depth + 1))
            .collect::<Result<_, _>>()?;
        return Ok(Compiled::Or(parts));
    }
    if let Some(inner) = &expr.not_expression {
        return Ok(Compiled::Not(Box::new(compile_at(
            inner,
            resolve,
            depth + 1,
        )?)));
    }
    let Some(filter) = &expr.filter else {
        return Err(ApiError::invalid_argument("Empty FilterExpression."));
    };
    let field = resolve(&filter.field_name)?;
    let test = compile_leaf(filter)?;
    Ok(Compiled::Leaf {
        field,
        test: LeafTest(test),
    })
}

/// Compiles the test part of a `Filter` (shared with funnel field filters).
pub fn compile_leaf_test(filter: &super::request::Filter) -> Result<LeafTest, ApiError> {
    compile_leaf(filter).map(LeafTest)
}

fn compile_leaf(filter: &super::request::Filter) -> Result<Test, ApiError> {
    let kinds = [
        filter.string_filter.is_some(),
        filter.in_list_filter.is_some(),
        filter.numeric_filter.is_some(),
        filter.between_filter.is_some(),
        filter.empty_filter.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if kinds != 1 {
        return Err(ApiError::invalid_argument(format!(
            "Filter on field \"{}\" must set exactly one of stringFilter, inListFilter, numericFilter, betweenFilter or emptyFilter.",
            filter.field_name
        )));
    }
    if let Some(sf) = &filter.string_filter {
        let match_type = match &sf.match_type {
            None => "EXACT",
            Some(v) => v.resolve(MATCH_TYPES).ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Invalid value at 'string_filter.match_type' (type.googleapis.com/google.analytics.data.v1beta.Filter.StringFilter.MatchType), \"{}\"",
                    v.text()
                ))
            })?,
        };
        let cs = sf.case_sensitive;
        let value = if cs {
            sf.value.clone()
        } else {
            sf.value.to_lowercase()
        };
        return Ok(match match_type {
            "BEGINS_WITH" => Test::BeginsWith(value, cs),
            "ENDS_WITH" => Test::EndsWith(value, cs),
            "CONTAINS" => Test::Contains(value, cs),
            "FULL_REGEXP" | "PARTIAL_REGEXP" => {
                let pattern = if match_type == "FULL_REGEXP" {
                    format!("^(?:{})$", sf.value)
                } else {
                    sf.value.clone()
                };
                let regex = Regex::builder()
                    .syntax(syntax::Config::new().case_insensitive(!cs))
                    .build(&pattern)
                    .map_err(|_| {
                        ApiError::invalid_argument(format!(
                            "Invalid regular expression \"{}\" in the filter on field \"{}\".",
                            sf.value, filter.field_name
                        ))
                    })?;
                Test::Regex(Box::new(regex))
            }
            _ => Test::Exact(value, cs),
        });
    }
    if let Some(lf) = &filter.in_list_filter {
        if lf.values.is_empty() {
            return Err(ApiError::invalid_argument(format!(
                "inListFilter on field \"{}\" must have at least one value.",
                filter.field_name
            )));
        }
        let cs = lf.case_sensitive;
        let values = lf
            .values
            .iter()
            .map(|v| if cs { v.clone() } else { v.to_lowercase() })
            .collect();
        return Ok(Test::InList(values, cs));
    }
    if let Some(nf) = &filter.numeric_filter {
        let op = match &nf.operation {
            None => "EQUAL",
            Some(v) => v.resolve(OPERATIONS).ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Invalid value at 'numeric_filter.operation' (type.googleapis.com/google.analytics.data.v1beta.Filter.NumericFilter.Operation), \"{}\"",
                    v.text()
                ))
            })?,
        };
        let value = nf.value.as_ref().and_then(|v| v.as_f64()).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "numericFilter on field \"{}\" needs value.int64Value or value.doubleValue.",
                filter.field_name
            ))
        })?;
        return Ok(Test::Numeric(op, value));
    }
    if let Some(bf) = &filter.between_filter {
        let from = bf.from_value.as_ref().and_then(|v| v.as_f64());
        let to = bf.to_value.as_ref().and_then(|v| v.as_f64());
        let (Some(from), Some(to)) = (from, to) else {
            return Err(ApiError::invalid_argument(format!(
                "betweenFilter on field \"{}\" needs fromValue and toValue.",
                filter.field_name
            )));
        };
        return Ok(Test::Between(from, to));
    }
    Ok(Test::Empty)
}

impl LeafTest {
    /// Tests a text/number pair.
    pub fn matches(&self, text: &str, number: Option<f64>) -> bool {
        let fold = |cs: bool| -> std::borrow::Cow<'_, str> {
            if cs {
                std::borrow::Cow::Borrowed(text)
            } else {
                std::borrow::Cow::Owned(text.to_lowercase())
            }
        };
        match &self.0 {
            Test::Exact(v, cs) => fold(*cs) == v.as_str(),
            Test::BeginsWith(v, cs) => fold(*cs).starts_with(v.as_str()),
            Test::EndsWith(v, cs) => fold(*cs).ends_with(v.as_str()),
            Test::Contains(v, cs) => fold(*cs).contains(v.as_str()),
            Test::Regex(re) => re.is_match(text),
            Test::InList(values, cs) => values.contains(fold(*cs).as_ref()),
            Test::Numeric(op, v) => number.is_some_and(|n| match *op {
                "LESS_THAN" => n < *v,
                "LESS_THAN_OR_EQUAL" => n <= *v,
                "GREATER_THAN" => n > *v,
                "GREATER_THAN_OR_EQUAL" => n >= *v,
                _ => (n - v).abs() < 1e-9,
            }),
            Test::Between(from, to) => number.is_some_and(|n| n >= *from && n <= *to),
            Test::Empty => text.is_empty() || text == "(not set)",
        }
    }
}

impl Compiled {
    /// Evaluates against a row.
    pub fn eval(&self, fields: &dyn Fields) -> bool {
        match self {
            Self::And(parts) => parts.iter().all(|p| p.eval(fields)),
            Self::Or(parts) => parts.iter().any(|p| p.eval(fields)),
            Self::Not(inner) => !inner.eval(fields),
            Self::Leaf { field, test } => test.matches(fields.text(*field), fields.number(*field)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_json(json: &str, fields: &[&str]) -> Result<Compiled, ApiError> {
        let expr: FilterExpression = serde_json::from_str(json).unwrap();
        compile(&expr, &mut |name| {
            fields
                .iter()
                .position(|f| *f == name)
                .ok_or_else(|| ApiError::invalid_argument(format!("unknown {name}")))
        })
    }

    fn eval(c: &Compiled, values: &[&str]) -> bool {
        c.eval(&TextFields(values))
    }

    #[test]
    fn string_match_types() {
        let f = ["country", "pagePath"];
        let row = ["Poland", "/products/trail-runner-x2"];
        let case = |mt: &str, v: &str, cs: bool| {
            let json = format!(
                r#"{{"filter":{{"fieldName":"pagePath","stringFilter":{{"matchType":"{mt}","value":"{v}","caseSensitive":{cs}}}}}}}"#
            );
            eval(&compile_json(&json, &f).unwrap(), &row)
        };
        assert!(case("BEGINS_WITH", "/products", true));
        assert!(case("ENDS_WITH", "X2", false));
        assert!(!case("ENDS_WITH", "X2", true));
        assert!(case("CONTAINS", "trail", true));
        assert!(case("EXACT", "/PRODUCTS/TRAIL-RUNNER-X2", false));
        assert!(case("FULL_REGEXP", "/products/[a-z0-9-]+", true));
        assert!(!case("FULL_REGEXP", "products", true));
        assert!(case("PARTIAL_REGEXP", "runner", true));
        let default_exact = compile_json(
            r#"{"filter":{"fieldName":"country","stringFilter":{"value":"poland"}}}"#,
            &f,
        )
        .unwrap();
        assert!(eval(&default_exact, &row));
    }

    #[test]
    fn groups_lists_and_numbers() {
        let f = ["country", "date"];
        let c = compile_json(
            r#"{"andGroup":{"expressions":[
                {"filter":{"fieldName":"country","inListFilter":{"values":["Poland","Germany"]}}},
                {"notExpression":{"filter":{"fieldName":"date","numericFilter":{"operation":"LESS_THAN","value":{"int64Value":"20260101"}}}}},
                {"filter":{"fieldName":"date","betweenFilter":{"fromValue":{"doubleValue":20260101},"toValue":{"int64Value":20261231}}}}
            ]}}"#,
            &f,
        )
        .unwrap();
        assert!(eval(&c, &["Poland", "20260305"]));
        assert!(!eval(&c, &["France", "20260305"]));
        assert!(!eval(&c, &["Poland", "20251231"]));
    }

    #[test]
    fn invalid_filters_are_rejected() {
        let f = ["country"];
        assert!(compile_json(r#"{}"#, &f).is_err());
        assert!(compile_json(r#"{"filter":{"fieldName":"nope","emptyFilter":{}}}"#, &f).is_err());
        assert!(compile_json(
            r#"{"filter":{"fieldName":"country","stringFilter":{"matchType":"FULL_REGEXP","value":"("}}}"#,
            &f
        )
        .is_err());
        assert!(compile_json(
            r#"{"filter":{"fieldName":"country","stringFilter":{"matchType":"SOUNDS_LIKE","value":"x"}}}"#,
            &f
        )
        .is_err());
        let empty =
            compile_json(r#"{"filter":{"fieldName":"country","emptyFilter":{}}}"#, &f).unwrap();
        assert!(eval(&empty, &["(not set)"]));
    }
}
