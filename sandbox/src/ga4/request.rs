//! Request bodies of the GA4 Data API in protobuf-JSON form (lowerCamelCase, with the
//! original snake_case names accepted as aliases, as Google's JSON parser does). Unknown
//! fields are rejected like Google rejects them. int64 fields accept numbers or strings;
//! enums accept names or numbers.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// `null` → default (protobuf JSON treats `null` as "unset").
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An int64 given as a JSON number or string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int64(pub i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an int64 as a number or a decimal string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64)
                    .map_err(|_| E::custom(format!("int64 value {v} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int64, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e18 {
                    Ok(Int64(v as i64))
                } else {
                    Err(E::custom(format!("{v} is not an int64")))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int64, E> {
                v.trim()
                    .parse::<i64>()
                    .map(Int64)
                    .map_err(|_| E::custom(format!("\"{v}\" is not an int64")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A protobuf enum given as its name or number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnumValue {
    /// By name.
    Name(String),
    /// By number.
    Number(i64),
}

impl<'de> Deserialize<'de> for EnumValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnumValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an enum name or number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnumValue, E> {
                Ok(EnumValue::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnumValue, E> {
                Ok(EnumValue::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnumValue, E> {
                Ok(EnumValue::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl EnumValue {
    /// Resolves against `(name, number)` pairs.
    pub fn resolve(&self, variants: &[(&'static str, i64)]) -> Option<&'static str> {
        variants.iter().find_map(|(name, number)| match self {
            Self::Name(n) if n == name => Some(*name),
            Self::Number(v) if v == number => Some(*name),
            _ => None,
        })
    }

    /// The raw text for error messages.
    pub fn text(&self) -> String {
        match self {
            Self::Name(n) => n.clone(),
            Self::Number(v) => v.to_string(),
        }
    }
}

/// `StringFilter.MatchType`.
pub const MATCH_TYPES: &[(&str, i64)] = &[
    ("MATCH_TYPE_UNSPECIFIED", 0),
    ("EXACT", 1),
    ("BEGINS_WITH", 2),
    ("ENDS_WITH", 3),
    ("CONTAINS", 4),
    ("FULL_REGEXP", 5),
    ("PARTIAL_REGEXP", 6),
];
/// `NumericFilter.Operation`.
pub const OPERATIONS: &[(&str, i64)] = &[
    ("OPERATION_UNSPECIFIED", 0),
    ("EQUAL", 1),
    ("LESS_THAN", 2),
    ("LESS_THAN_OR_EQUAL", 3),
    ("GREATER_THAN", 4),
    ("GREATER_THAN_OR_EQUAL", 5),
];
/// `OrderBy.DimensionOrderBy.OrderType`.
pub const ORDER_TYPES: &[(&str, i64)] = &[
    ("ORDER_TYPE_UNSPECIFIED", 0),
    ("ALPHANUMERIC", 1),
    ("CASE_INSENSITIVE_ALPHANUMERIC", 2),
    ("NUMERIC", 3),
];
/// `MetricAggregation`.
pub const AGGREGATIONS: &[(&str, i64)] = &[
    ("METRIC_AGGREGATION_UNSPECIFIED", 0),
    ("TOTAL", 1),
    ("COUNT", 4),
    ("MINIMUM", 5),
    ("MAXIMUM", 6),
];

/// `DateRange`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DateRange {
    /// Start date expression.
    #[serde(default, alias = "start_date", deserialize_with = "nullable")]
    pub start_date: String,
    /// End date expression.
    #[serde(default, alias = "end_date", deserialize_with = "nullable")]
    pub end_date: String,
    /// Optional name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `MinuteRange` (realtime).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MinuteRange {
    /// Inclusive start, minutes ago (default 29).
    #[serde(default, alias = "start_minutes_ago")]
    pub start_minutes_ago: Option<Int64>,
    /// Inclusive end, minutes ago (default 0).
    #[serde(default, alias = "end_minutes_ago")]
    pub end_minutes_ago: Option<Int64>,
    /// Optional name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `Dimension`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dimension {
    /// Name (API name, or a free name when an expression is given).
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Optional expression.
    #[serde(default, alias = "dimension_expression")]
    pub dimension_expression: Option<DimensionExpression>,
}

/// `DimensionExpression`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DimensionExpression {
    /// Lower-cases a dimension.
    #[serde(default, alias = "lower_case")]
    pub lower_case: Option<CaseExpression>,
    /// Upper-cases a dimension.
    #[serde(default, alias = "upper_case")]
    pub upper_case: Option<CaseExpression>,
    /// Concatenates dimensions.
    #[serde(default)]
    pub concatenate: Option<ConcatenateExpression>,
}

/// `DimensionExpression.CaseExpression`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseExpression {
    /// Source dimension.
    #[serde(default, alias = "dimension_name", deserialize_with = "nullable")]
    pub dimension_name: String,
}

/// `DimensionExpression.ConcatenateExpression`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConcatenateExpression {
    /// Source dimensions.
    #[serde(default, alias = "dimension_names", deserialize_with = "nullable")]
    pub dimension_names: Vec<String>,
    /// Delimiter.
    #[serde(default, deserialize_with = "nullable")]
    pub delimiter: String,
}

/// `Metric`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metric {
    /// Name (API name, or a free name when an expression is given).
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Arithmetic over other metrics, e.g. `eventCount/sessions`.
    #[serde(default)]
    pub expression: Option<String>,
    /// Computed but not returned.
    #[serde(default, deserialize_with = "nullable")]
    pub invisible: bool,
}

/// `FilterExpression`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterExpression {
    /// All must match.
    #[serde(default, alias = "and_group")]
    pub and_group: Option<FilterExpressionList>,
    /// Any must match.
    #[serde(default, alias = "or_group")]
    pub or_group: Option<FilterExpressionList>,
    /// Negation.
    #[serde(default, alias = "not_expression")]
    pub not_expression: Option<Box<FilterExpression>>,
    /// A leaf filter.
    #[serde(default)]
    pub filter: Option<Filter>,
}

/// `FilterExpressionList`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterExpressionList {
    /// Members.
    #[serde(default, deserialize_with = "nullable")]
    pub expressions: Vec<FilterExpression>,
}

/// `Filter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    /// Dimension or metric name.
    #[serde(default, alias = "field_name", deserialize_with = "nullable")]
    pub field_name: String,
    /// String match.
    #[serde(default, alias = "string_filter")]
    pub string_filter: Option<StringFilter>,
    /// In-list match.
    #[serde(default, alias = "in_list_filter")]
    pub in_list_filter: Option<InListFilter>,
    /// Numeric comparison.
    #[serde(default, alias = "numeric_filter")]
    pub numeric_filter: Option<NumericFilter>,
    /// Inclusive range.
    #[serde(default, alias = "between_filter")]
    pub between_filter: Option<BetweenFilter>,
    /// Matches `""` and `(not set)`.
    #[serde(default, alias = "empty_filter")]
    pub empty_filter: Option<EmptyFilter>,
}

/// `StringFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StringFilter {
    /// Match type.
    #[serde(default, alias = "match_type")]
    pub match_type: Option<EnumValue>,
    /// Value.
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
    /// Case sensitive (default false).
    #[serde(default, alias = "case_sensitive", deserialize_with = "nullable")]
    pub case_sensitive: bool,
}

/// `InListFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InListFilter {
    /// Values.
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<String>,
    /// Case sensitive (default false).
    #[serde(default, alias = "case_sensitive", deserialize_with = "nullable")]
    pub case_sensitive: bool,
}

/// `NumericFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NumericFilter {
    /// Comparison.
    #[serde(default)]
    pub operation: Option<EnumValue>,
    /// Operand.
    #[serde(default)]
    pub value: Option<NumericValue>,
}

/// `BetweenFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BetweenFilter {
    /// Lower bound (inclusive).
    #[serde(default, alias = "from_value")]
    pub from_value: Option<NumericValue>,
    /// Upper bound (inclusive).
    #[serde(default, alias = "to_value")]
    pub to_value: Option<NumericValue>,
}

/// `EmptyFilter` (no fields).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyFilter {}

/// `NumericValue`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NumericValue {
    /// Integer operand.
    #[serde(default, alias = "int64_value")]
    pub int64_value: Option<Int64>,
    /// Float operand.
    #[serde(default, alias = "double_value")]
    pub double_value: Option<f64>,
}

impl NumericValue {
    /// The operand as f64.
    pub fn as_f64(&self) -> Option<f64> {
        self.double_value.or(self.int64_value.map(|v| v.0 as f64))
    }
}

/// `OrderBy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderBy {
    /// Descending.
    #[serde(default, deserialize_with = "nullable")]
    pub desc: bool,
    /// Order by metric.
    #[serde(default)]
    pub metric: Option<MetricOrderBy>,
    /// Order by dimension.
    #[serde(default)]
    pub dimension: Option<DimensionOrderBy>,
    /// Pivot ordering (not supported).
    #[serde(default)]
    pub pivot: Option<serde_json::Value>,
}

/// `OrderBy.MetricOrderBy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricOrderBy {
    /// Metric name.
    #[serde(default, alias = "metric_name", deserialize_with = "nullable")]
    pub metric_name: String,
}

/// `OrderBy.DimensionOrderBy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DimensionOrderBy {
    /// Dimension name.
    #[serde(default, alias = "dimension_name", deserialize_with = "nullable")]
    pub dimension_name: String,
    /// Ordering.
    #[serde(default, alias = "order_type")]
    pub order_type: Option<EnumValue>,
}

/// `ConversionSpec` (v1alpha).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConversionSpec {
    /// `conversionActions/<id>` names; empty = all key events.
    #[serde(default, alias = "conversion_actions", deserialize_with = "nullable")]
    pub conversion_actions: Vec<String>,
    /// `DATA_DRIVEN` (default) or `LAST_CLICK`.
    #[serde(default, alias = "attribution_model")]
    pub attribution_model: Option<EnumValue>,
}

/// `RunReportRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunReportRequest {
    /// `properties/<id>`; must match the path when present.
    #[serde(default)]
    pub property: Option<String>,
    /// Dimensions.
    #[serde(default, deserialize_with = "nullable")]
    pub dimensions: Vec<Dimension>,
    /// Metrics.
    #[serde(default, deserialize_with = "nullable")]
    pub metrics: Vec<Metric>,
    /// Date ranges.
    #[serde(default, alias = "date_ranges", deserialize_with = "nullable")]
    pub date_ranges: Vec<DateRange>,
    /// Dimension filter.
    #[serde(default, alias = "dimension_filter")]
    pub dimension_filter: Option<FilterExpression>,
    /// Metric filter.
    #[serde(default, alias = "metric_filter")]
    pub metric_filter: Option<FilterExpression>,
    /// First row.
    #[serde(default)]
    pub offset: Option<Int64>,
    /// Max rows.
    #[serde(default)]
    pub limit: Option<Int64>,
    /// TOTAL / MINIMUM / MAXIMUM / COUNT.
    #[serde(default, alias = "metric_aggregations", deserialize_with = "nullable")]
    pub metric_aggregations: Vec<EnumValue>,
    /// Ordering.
    #[serde(default, alias = "order_bys", deserialize_with = "nullable")]
    pub order_bys: Vec<OrderBy>,
    /// Report currency.
    #[serde(default, alias = "currency_code")]
    pub currency_code: Option<String>,
    /// Cohorts (not supported).
    #[serde(default, alias = "cohort_spec")]
    pub cohort_spec: Option<serde_json::Value>,
    /// Keep all-zero rows.
    #[serde(default, alias = "keep_empty_rows", deserialize_with = "nullable")]
    pub keep_empty_rows: bool,
    /// Return quota state.
    #[serde(
        default,
        alias = "return_property_quota",
        deserialize_with = "nullable"
    )]
    pub return_property_quota: bool,
    /// Comparisons (not supported).
    #[serde(default)]
    pub comparisons: Option<serde_json::Value>,
    /// v1alpha conversions reporting.
    #[serde(default, alias = "conversion_spec")]
    pub conversion_spec: Option<ConversionSpec>,
}

/// `BatchRunReportsRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRunReportsRequest {
    /// `properties/<id>` (optional in the body).
    #[serde(default)]
    pub property: Option<String>,
    /// Up to 5 requests.
    #[serde(default, deserialize_with = "nullable")]
    pub requests: Vec<RunReportRequest>,
}

/// `RunRealtimeReportRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRealtimeReportRequest {
    /// `properties/<id>`.
    #[serde(default)]
    pub property: Option<String>,
    /// Dimensions.
    #[serde(default, deserialize_with = "nullable")]
    pub dimensions: Vec<Dimension>,
    /// Metrics.
    #[serde(default, deserialize_with = "nullable")]
    pub metrics: Vec<Metric>,
    /// Dimension filter.
    #[serde(default, alias = "dimension_filter")]
    pub dimension_filter: Option<FilterExpression>,
    /// Metric filter.
    #[serde(default, alias = "metric_filter")]
    pub metric_filter: Option<FilterExpression>,
    /// Max rows.
    #[serde(default)]
    pub limit: Option<Int64>,
    /// Aggregations.
    #[serde(default, alias = "metric_aggregations", deserialize_with = "nullable")]
    pub metric_aggregations: Vec<EnumValue>,
    /// Ordering.
    #[serde(default, alias = "order_bys", deserialize_with = "nullable")]
    pub order_bys: Vec<OrderBy>,
    /// Return quota state.
    #[serde(
        default,
        alias = "return_property_quota",
        deserialize_with = "nullable"
    )]
    pub return_property_quota: bool,
    /// Minute ranges (default: last 30 minutes).
    #[serde(default, alias = "minute_ranges", deserialize_with = "nullable")]
    pub minute_ranges: Vec<MinuteRange>,
}

/// `RunFunnelReportRequest` (v1alpha).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunFunnelReportRequest {
    /// `properties/<id>`.
    #[serde(default)]
    pub property: Option<String>,
    /// Date ranges.
    #[serde(default, alias = "date_ranges", deserialize_with = "nullable")]
    pub date_ranges: Vec<DateRange>,
    /// The funnel.
    #[serde(default)]
    pub funnel: Option<Funnel>,
    /// Breakdown.
    #[serde(default, alias = "funnel_breakdown")]
    pub funnel_breakdown: Option<FunnelBreakdown>,
    /// Next action.
    #[serde(default, alias = "funnel_next_action")]
    pub funnel_next_action: Option<FunnelNextAction>,
    /// `STANDARD_FUNNEL` or `TRENDED_FUNNEL`.
    #[serde(default, alias = "funnel_visualization_type")]
    pub funnel_visualization_type: Option<EnumValue>,
    /// Segments (not supported).
    #[serde(default, deserialize_with = "nullable")]
    pub segments: Vec<serde_json::Value>,
    /// Row limit of the sub reports.
    #[serde(default)]
    pub limit: Option<Int64>,
    /// Dimension filter.
    #[serde(default, alias = "dimension_filter")]
    pub dimension_filter: Option<FilterExpression>,
    /// Return quota state.
    #[serde(
        default,
        alias = "return_property_quota",
        deserialize_with = "nullable"
    )]
    pub return_property_quota: bool,
}

/// `Funnel`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Funnel {
    /// Open funnel (users may enter at any step).
    #[serde(default, alias = "is_open_funnel", deserialize_with = "nullable")]
    pub is_open_funnel: bool,
    /// Steps.
    #[serde(default, deserialize_with = "nullable")]
    pub steps: Vec<FunnelStep>,
}

/// `FunnelStep`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunnelStep {
    /// Step name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Must directly follow the prior step.
    #[serde(
        default,
        alias = "is_directly_followed_by",
        deserialize_with = "nullable"
    )]
    pub is_directly_followed_by: bool,
    /// e.g. `"300s"`.
    #[serde(default, alias = "within_duration_from_prior_step")]
    pub within_duration_from_prior_step: Option<String>,
    /// Condition.
    #[serde(default, alias = "filter_expression")]
    pub filter_expression: Option<FunnelFilterExpression>,
}

/// `FunnelFilterExpression`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunnelFilterExpression {
    /// All.
    #[serde(default, alias = "and_group")]
    pub and_group: Option<FunnelFilterExpressionList>,
    /// Any.
    #[serde(default, alias = "or_group")]
    pub or_group: Option<FunnelFilterExpressionList>,
    /// Negation.
    #[serde(default, alias = "not_expression")]
    pub not_expression: Option<Box<FunnelFilterExpression>>,
    /// Dimension/metric condition.
    #[serde(default, alias = "funnel_field_filter")]
    pub funnel_field_filter: Option<Filter>,
    /// Event condition.
    #[serde(default, alias = "funnel_event_filter")]
    pub funnel_event_filter: Option<FunnelEventFilter>,
}

/// `FunnelFilterExpressionList`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunnelFilterExpressionList {
    /// Members.
    #[serde(default, deserialize_with = "nullable")]
    pub expressions: Vec<FunnelFilterExpression>,
}

/// `FunnelEventFilter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunnelEventFilter {
    /// Event name.
    #[serde(default, alias = "event_name", deserialize_with = "nullable")]
    pub event_name: String,
    /// Parameter conditions (narrow the step; evaluated approximately).
    #[serde(default, alias = "funnel_parameter_filter_expression")]
    pub funnel_parameter_filter_expression: Option<serde_json::Value>,
}

/// `FunnelBreakdown`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunnelBreakdown {
    /// Breakdown dimension.
    #[serde(default, alias = "breakdown_dimension")]
    pub breakdown_dimension: Option<Dimension>,
    /// Max distinct values (default 5, max 15).
    #[serde(default)]
    pub limit: Option<Int64>,
}

/// `FunnelNextAction`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunnelNextAction {
    /// Next-action dimension.
    #[serde(default, alias = "next_action_dimension")]
    pub next_action_dimension: Option<Dimension>,
    /// Max distinct values (default 5, max 5).
    #[serde(default)]
    pub limit: Option<Int64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_camel_and_snake_and_string_int64() {
        let r: RunReportRequest = serde_json::from_str(
            r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"today"}],"limit":"5","offset":2,
                "order_bys":[{"dimension":{"dimension_name":"date","order_type":1}}],
                "keepEmptyRows":null}"#,
        )
        .unwrap();
        assert_eq!(r.limit, Some(Int64(5)));
        assert_eq!(r.offset, Some(Int64(2)));
        assert_eq!(
            r.order_bys[0]
                .dimension
                .as_ref()
                .unwrap()
                .order_type
                .as_ref()
                .unwrap()
                .resolve(ORDER_TYPES),
            Some("ALPHANUMERIC")
        );
    }

    #[test]
    fn rejects_unknown_fields() {
        let err = serde_json::from_str::<RunReportRequest>(r#"{"dateRangez":[]}"#).unwrap_err();
        assert!(err.to_string().contains("dateRangez"));
        assert!(serde_json::from_str::<RunRealtimeReportRequest>(r#"{"dateRanges":[]}"#).is_err());
        assert!(serde_json::from_str::<RunReportRequest>(r#"{"limit":"abc"}"#).is_err());
        assert!(serde_json::from_str::<RunReportRequest>(r#"{"limit":1.5}"#).is_err());
    }
}
