//! Tool inputs. Field names follow Google's GA4 MCP server (snake_case, as in the Data API
//! protos) so prompts written for it carry over; lowerCamelCase spellings from the REST docs
//! are accepted too. Serialised, these structs are the REST request bodies (lowerCamelCase).

use mcp_common::params::FlexibleId;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A date range; dates are `YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo` (e.g. `7daysAgo`),
/// in the property's reporting time zone.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct DateRange {
    /// First day, inclusive: `YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`.
    #[serde(alias = "startDate")]
    pub start_date: String,
    /// Last day, inclusive: `YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`.
    #[serde(alias = "endDate")]
    pub end_date: String,
    /// Optional name; with several ranges, rows carry it in the `dateRange` dimension
    /// (default `date_range_0`, `date_range_1`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A filter expression: set exactly one of `and_group`, `or_group`, `not_expression`, `filter`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct FilterExpression {
    /// All of these expressions must match.
    #[serde(default, alias = "andGroup", skip_serializing_if = "Option::is_none")]
    pub and_group: Option<FilterExpressionList>,
    /// At least one of these expressions must match.
    #[serde(default, alias = "orGroup", skip_serializing_if = "Option::is_none")]
    pub or_group: Option<FilterExpressionList>,
    /// This expression must not match.
    #[serde(
        default,
        alias = "notExpression",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_expression: Option<Box<FilterExpression>>,
    /// A single condition on one dimension or metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
}

/// A list of filter expressions.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterExpressionList {
    /// The expressions.
    pub expressions: Vec<FilterExpression>,
}

/// A condition on one field: set `field_name` and exactly one of the `*_filter` members.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct Filter {
    /// Dimension name (in `dimension_filter`) or metric name (in `metric_filter`).
    #[serde(alias = "fieldName")]
    pub field_name: String,
    /// Match a string value.
    #[serde(
        default,
        alias = "stringFilter",
        skip_serializing_if = "Option::is_none"
    )]
    pub string_filter: Option<StringFilter>,
    /// Match any of several string values.
    #[serde(
        default,
        alias = "inListFilter",
        skip_serializing_if = "Option::is_none"
    )]
    pub in_list_filter: Option<InListFilter>,
    /// Compare a numeric value.
    #[serde(
        default,
        alias = "numericFilter",
        skip_serializing_if = "Option::is_none"
    )]
    pub numeric_filter: Option<NumericFilter>,
    /// Numeric value between two bounds, inclusive.
    #[serde(
        default,
        alias = "betweenFilter",
        skip_serializing_if = "Option::is_none"
    )]
    pub between_filter: Option<BetweenFilter>,
    /// Match empty values (`{}`).
    #[serde(
        default,
        alias = "emptyFilter",
        skip_serializing_if = "Option::is_none"
    )]
    pub empty_filter: Option<EmptyFilter>,
}

/// Matches empty values.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyFilter {}

/// String match.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct StringFilter {
    /// How to match (default `EXACT`).
    #[serde(default, alias = "matchType", skip_serializing_if = "Option::is_none")]
    pub match_type: Option<MatchType>,
    /// The value to match.
    pub value: String,
    /// Case-sensitive match (default false).
    #[serde(
        default,
        alias = "caseSensitive",
        skip_serializing_if = "Option::is_none"
    )]
    pub case_sensitive: Option<bool>,
}

/// String match types.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MatchType {
    /// Equal to the value.
    Exact,
    /// Starts with the value.
    BeginsWith,
    /// Ends with the value.
    EndsWith,
    /// Contains the value.
    Contains,
    /// The whole value matches the regular expression.
    FullRegexp,
    /// Part of the value matches the regular expression.
    PartialRegexp,
}

/// Match any value of a list.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct InListFilter {
    /// Accepted values.
    pub values: Vec<String>,
    /// Case-sensitive match (default false).
    #[serde(
        default,
        alias = "caseSensitive",
        skip_serializing_if = "Option::is_none"
    )]
    pub case_sensitive: Option<bool>,
}

/// Numeric comparison.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumericFilter {
    /// Comparison operator.
    pub operation: NumericOperation,
    /// Value compared against.
    pub value: NumericValue,
}

/// Numeric operators.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NumericOperation {
    /// `=`
    Equal,
    /// `<`
    LessThan,
    /// `<=`
    LessThanOrEqual,
    /// `>`
    GreaterThan,
    /// `>=`
    GreaterThanOrEqual,
}

/// A number: set `int64_value` or `double_value`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct NumericValue {
    /// Integer value.
    #[serde(default, alias = "int64Value", skip_serializing_if = "Option::is_none")]
    pub int64_value: Option<Int64>,
    /// Floating-point value.
    #[serde(
        default,
        alias = "doubleValue",
        skip_serializing_if = "Option::is_none"
    )]
    pub double_value: Option<f64>,
}

/// Inclusive numeric range.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct BetweenFilter {
    /// Lower bound.
    #[serde(alias = "fromValue")]
    pub from_value: NumericValue,
    /// Upper bound.
    #[serde(alias = "toValue")]
    pub to_value: NumericValue,
}

/// An int64 given as a number or a string; sent as a string (protobuf JSON rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int64(pub i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i64),
            S(String),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected an integer"))? {
            Raw::N(n) => Ok(Self(n)),
            Raw::S(s) => s
                .trim()
                .parse()
                .map(Self)
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer"))),
        }
    }
}

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl JsonSchema for Int64 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Int64".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["integer", "string"] })
    }
    fn inline_schema() -> bool {
        true
    }
}

/// A filter as the tools take it: an expression string ([`crate::filter`], what the schema
/// publishes) or, so that calls written for Google's GA4 server keep working, a
/// FilterExpression object.
#[derive(Debug, Clone)]
pub enum FilterArg {
    /// `country = 'Poland' AND sessions > 10`.
    Text(String),
    /// `{"filter": {"field_name": "country", "string_filter": {"value": "Poland"}}}`.
    Object(Box<FilterExpression>),
}

impl<'de> Deserialize<'de> for FilterArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::Text(s)),
            object @ Value::Object(_) => serde_path_to_error::deserialize(object)
                .map(|e| Self::Object(Box::new(e)))
                .map_err(|e| serde::de::Error::custom(format!("{}: {}", e.path(), e.inner()))),
            _ => Err(serde::de::Error::custom(
                "expected a filter expression string, e.g. \"country = 'Poland'\"",
            )),
        }
    }
}

impl JsonSchema for FilterArg {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FilterArg".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
    fn inline_schema() -> bool {
        true
    }
}

/// Sort order: set `metric` or `dimension`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    /// Sort descending (default ascending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<bool>,
    /// Sort by a metric's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricOrderBy>,
    /// Sort by a dimension's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<DimensionOrderBy>,
}

/// Order by a metric.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct MetricOrderBy {
    /// Metric name (must be in `metrics`).
    #[serde(alias = "metricName")]
    pub metric_name: String,
}

/// Order by a dimension.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct DimensionOrderBy {
    /// Dimension name (must be in `dimensions`).
    #[serde(alias = "dimensionName")]
    pub dimension_name: String,
    /// How to compare values (default `ALPHANUMERIC`).
    #[serde(default, alias = "orderType", skip_serializing_if = "Option::is_none")]
    pub order_type: Option<OrderType>,
}

/// Dimension ordering; the names say it (`NUMERIC` sorts numbers before text).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderType {
    Alphanumeric,
    CaseInsensitiveAlphanumeric,
    Numeric,
}

/// Aggregates added to the result (what each means is said in `metric_aggregations`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetricAggregation {
    Total,
    Minimum,
    Maximum,
    Count,
}

/// Input of `get_account_summaries`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountSummariesParams {
    /// `next_page_token` from a previous call, to get the next page of accounts.
    #[serde(default, alias = "pageToken")]
    pub page_token: Option<String>,
}

/// Input of the tools that take only a property.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyParams {
    /// GA4 property id: `123456789` or `properties/123456789`. Optional when the server has a
    /// default property (the shop's). List ids with `get_account_summaries`.
    #[serde(default, alias = "propertyId")]
    pub property_id: Option<FlexibleId>,
}

/// Input of `run_report`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunReportParams {
    /// GA4 property id: `123456789` or `properties/123456789`. Optional when the server has a
    /// default property (the shop's).
    #[serde(default, alias = "propertyId")]
    pub property_id: Option<FlexibleId>,
    /// One to four date ranges, e.g. `[{"start_date": "28daysAgo", "end_date": "yesterday"}]`.
    #[serde(alias = "dateRanges")]
    pub date_ranges: Vec<DateRange>,
    /// Dimension API names (≤ 9), e.g. `date`, `sessionDefaultChannelGroup`, `country`,
    /// `deviceCategory`, `pagePath`, `eventName`, or custom ones like `customEvent:shoe_size`.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Metric API names (≤ 10), e.g. `sessions`, `activeUsers`, `newUsers`, `engagementRate`,
    /// `screenPageViews`, `keyEvents`, `ecommercePurchases`, `purchaseRevenue`, `totalRevenue`.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Filter on dimensions as text, e.g. `country IN ('Poland', 'Germany') AND pagePath NOT
    /// BEGINS_WITH '/blog'`: conditions joined by AND, OR, NOT, ( ). Operators: = != CONTAINS
    /// BEGINS_WITH ENDS_WITH REGEXP (whole value) PARTIAL_REGEXP 'value', IN ('a', 'b'), IS
    /// EMPTY; case-insensitive unless followed by CASE_SENSITIVE. On metrics: = != < <= > >=,
    /// BETWEEN 1 AND 5.
    #[serde(default, alias = "dimensionFilter")]
    pub dimension_filter: Option<FilterArg>,
    /// Filter on metrics, applied after aggregation; same syntax, e.g. `sessions > 100`.
    #[serde(default, alias = "metricFilter")]
    pub metric_filter: Option<FilterArg>,
    /// Sort order, e.g. `[{"metric": {"metric_name": "sessions"}, "desc": true}]`.
    #[serde(default, alias = "orderBys")]
    pub order_bys: Vec<OrderBy>,
    /// Rows per page (default 100, max 250000). The result says how many rows match in total
    /// and the `next_offset` to ask for the next page.
    #[serde(default)]
    pub limit: Option<u32>,
    /// First row to return (0-based), for paging.
    #[serde(default)]
    pub offset: Option<u64>,
    /// ISO 4217 currency for currency metrics (default: the property's currency).
    #[serde(default, alias = "currencyCode")]
    pub currency_code: Option<String>,
    /// Also return the property's quota state.
    #[serde(default, alias = "returnPropertyQuota")]
    pub return_property_quota: bool,
    /// Aggregates over all matching rows: `TOTAL` (in `totals`), `MINIMUM`, `MAXIMUM` (in
    /// `minimums`, `maximums`), `COUNT` (of rows).
    #[serde(default, alias = "metricAggregations")]
    pub metric_aggregations: Vec<MetricAggregation>,
}

/// A realtime window in minutes before now.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct MinuteRange {
    /// Start, in minutes ago (default 29; at most 29 for standard properties).
    #[serde(
        default,
        alias = "startMinutesAgo",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_minutes_ago: Option<u32>,
    /// End, in minutes ago (default 0).
    #[serde(
        default,
        alias = "endMinutesAgo",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_minutes_ago: Option<u32>,
    /// Optional name of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Input of `run_realtime_report`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRealtimeReportParams {
    /// GA4 property id; optional when the server has a default property.
    #[serde(default, alias = "propertyId")]
    pub property_id: Option<FlexibleId>,
    /// Realtime dimensions, e.g. `country`, `city`, `deviceCategory`, `eventName`,
    /// `unifiedScreenName`, `minutesAgo`.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Realtime metrics, e.g. `activeUsers`, `eventCount`, `keyEvents`, `screenPageViews`.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Filter on dimensions as text, e.g. `country IN ('Poland', 'Germany') AND NOT city
    /// CONTAINS 'x'`; operators as in run_report's `dimension_filter`.
    #[serde(default, alias = "dimensionFilter")]
    pub dimension_filter: Option<FilterArg>,
    /// Filter on metrics as text, e.g. `activeUsers > 10`.
    #[serde(default, alias = "metricFilter")]
    pub metric_filter: Option<FilterArg>,
    /// Sort order.
    #[serde(default, alias = "orderBys")]
    pub order_bys: Vec<OrderBy>,
    /// Maximum rows (default 100, max 250000). Realtime reports have no offset.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Up to two windows (default: the last 30 minutes).
    #[serde(default, alias = "minuteRanges")]
    pub minute_ranges: Vec<MinuteRange>,
    /// Also return the property's quota state.
    #[serde(default, alias = "returnPropertyQuota")]
    pub return_property_quota: bool,
}

/// One funnel step: give `event` for a simple event step, or a `filter`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunnelStep {
    /// Display name of the step (default `Step N`).
    #[serde(default)]
    pub name: Option<String>,
    /// Event name the step matches, e.g. `add_to_cart`.
    #[serde(default)]
    pub event: Option<String>,
    /// Instead of `event`: a filter in run_report's syntax, e.g. `eventName = 'page_view' AND
    /// pagePath BEGINS_WITH '/products/'`.
    #[serde(default)]
    pub filter: Option<String>,
    /// A Data API FunnelFilterExpression object. Accepted, not published: its recursive shape
    /// is what agent frameworks cannot take (`filter` says the same as text).
    #[serde(default, alias = "filterExpression")]
    #[schemars(skip)]
    pub filter_expression: Option<Value>,
    /// Require this step to directly follow the previous one.
    #[serde(default, alias = "isDirectlyFollowedBy")]
    pub is_directly_followed_by: bool,
}

/// Funnel breakdown.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunnelBreakdown {
    /// Dimension to break the funnel down by, e.g. `deviceCategory`.
    #[serde(alias = "breakdownDimension")]
    pub breakdown_dimension: String,
    /// Maximum distinct values (default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// What users did next.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunnelNextAction {
    /// `eventName` or `pagePath`-like dimension.
    #[serde(alias = "nextActionDimension")]
    pub next_action_dimension: String,
    /// Maximum distinct values (default 5).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Input of `run_funnel_report`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunFunnelReportParams {
    /// GA4 property id; optional when the server has a default property.
    #[serde(default, alias = "propertyId")]
    pub property_id: Option<FlexibleId>,
    /// Funnel steps in order, e.g. `[{"name": "View", "event": "view_item"},
    /// {"name": "Cart", "event": "add_to_cart"}, {"name": "Buy", "event": "purchase"}]`.
    #[serde(alias = "funnelSteps")]
    pub funnel_steps: Vec<FunnelStep>,
    /// Date ranges (default: the last 30 days).
    #[serde(default, alias = "dateRanges")]
    pub date_ranges: Vec<DateRange>,
    /// Break every step down by a dimension.
    #[serde(default, alias = "funnelBreakdown")]
    pub funnel_breakdown: Option<FunnelBreakdown>,
    /// Report what users did after each step.
    #[serde(default, alias = "funnelNextAction")]
    pub funnel_next_action: Option<FunnelNextAction>,
    /// Data API Segment objects to compare. Accepted, not published: free-form objects are what
    /// strict modes refuse, and the sandbox cannot check them.
    #[serde(default)]
    #[schemars(skip)]
    pub segments: Vec<Value>,
    /// Also return the property's quota state.
    #[serde(default, alias = "returnPropertyQuota")]
    pub return_property_quota: bool,
}

/// Attribution model of a conversions report.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttributionModel {
    DataDriven,
    LastClick,
}

/// Which conversions to report and how to attribute them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct ConversionSpec {
    /// Conversion action resource names (`conversionActions/123`); empty = all key events.
    #[serde(default, alias = "conversionActions")]
    pub conversion_actions: Vec<String>,
    /// Attribution model (default `DATA_DRIVEN`).
    #[serde(
        default,
        alias = "attributionModel",
        skip_serializing_if = "Option::is_none"
    )]
    pub attribution_model: Option<AttributionModel>,
}

/// Input of `run_conversions_report`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunConversionsReportParams {
    /// GA4 property id; optional when the server has a default property.
    #[serde(default, alias = "propertyId")]
    pub property_id: Option<FlexibleId>,
    /// One to four date ranges.
    #[serde(alias = "dateRanges")]
    pub date_ranges: Vec<DateRange>,
    /// Allowed: campaignName, continent, country, defaultChannelGroup, deviceCategory, medium,
    /// platform, primaryChannelGroup, source, sourceMedium, sourcePlatform, subcontinent.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Allowed: advertiserAdClicks, advertiserAdCost, advertiserAdCostPerClick,
    /// advertiserAdImpressions, allConversionsByConversionDate, allConversionsByInteractionDate,
    /// advertiserAdCostPerAllConversionsByConversionDate/ByInteractionDate,
    /// returnOnAdSpendByConversionDate/ByInteractionDate,
    /// totalRevenueByConversionDate/ByInteractionDate.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Conversions and attribution model, e.g. `{"conversion_actions": [],
    /// "attribution_model": "DATA_DRIVEN"}`.
    #[serde(alias = "conversionSpec")]
    pub conversion_spec: ConversionSpec,
    /// Filter on dimensions as text, e.g. `defaultChannelGroup IN ('Paid Search', 'Paid
    /// Social')`; operators as in run_report's `dimension_filter`.
    #[serde(default, alias = "dimensionFilter")]
    pub dimension_filter: Option<FilterArg>,
    /// Filter on metrics as text, e.g. `advertiserAdCost > 100`.
    #[serde(default, alias = "metricFilter")]
    pub metric_filter: Option<FilterArg>,
    /// Sort order.
    #[serde(default, alias = "orderBys")]
    pub order_bys: Vec<OrderBy>,
    /// Rows per page (default 100, max 250000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// First row (0-based), for paging.
    #[serde(default)]
    pub offset: Option<u64>,
    /// ISO 4217 currency for currency metrics.
    #[serde(default, alias = "currencyCode")]
    pub currency_code: Option<String>,
    /// Also return the property's quota state.
    #[serde(default, alias = "returnPropertyQuota")]
    pub return_property_quota: bool,
}
