//! Checks tool arguments before anything goes upstream, and builds the REST request bodies.
//!
//! Errors name the argument and say how to fix it, so the model can correct its call; they
//! come back as tool errors (the model reads them), never as protocol errors.

use mcp_common::params::{BadArgument, Checked, bad};
use serde_json::{Map, Value, json};

use crate::api::ReportEndpoint;
use crate::filter::Fields;
use crate::params::{
    DateRange, FilterArg, FilterExpression, OrderBy, RunConversionsReportParams,
    RunFunnelReportParams, RunRealtimeReportParams, RunReportParams,
};

/// Rows per page when the caller gives no limit: enough for most questions, small enough for a
/// model's context. The result always says how many rows exist and how to get more.
pub const DEFAULT_LIMIT: u32 = 100;
/// The Data API's own ceiling.
pub const MAX_LIMIT: u32 = 250_000;
const MAX_DIMENSIONS: usize = 9;
const MAX_METRICS: usize = 10;
const MAX_DATE_RANGES: usize = 4;

/// The numeric property id from an argument or the server's default.
pub fn property_id(raw: &str) -> Checked<String> {
    let id = raw.strip_prefix("properties/").unwrap_or(raw);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 20 {
        return bad(format!(
            "property_id {raw:?} is not a GA4 property id: use the number (e.g. 123456789) or \
             properties/123456789. Universal Analytics ids (UA-…) and measurement ids (G-…) do not work here."
        ));
    }
    Ok(id.to_owned())
}

/// The error when no argument, flag or integration names a property.
pub fn property_required() -> BadArgument {
    BadArgument(
        "property_id is required: this server has no default property. Call \
         get_account_summaries to list the properties you can access."
            .into(),
    )
}

/// `YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`.
fn check_date(value: &str, path: &str) -> Checked<()> {
    let ok = match value {
        "today" | "yesterday" => true,
        v if v.ends_with("daysAgo") => {
            let n = &v[..v.len() - "daysAgo".len()];
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() <= 5
        }
        v => v.len() == 10 && chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
    };
    if ok {
        Ok(())
    } else {
        bad(format!(
            "{path} {value:?} is not a date: use YYYY-MM-DD, \"today\", \"yesterday\" or \"NdaysAgo\" (e.g. \"7daysAgo\")"
        ))
    }
}

fn check_date_ranges(ranges: &[DateRange], required: bool) -> Checked<()> {
    if ranges.is_empty() && required {
        return bad(
            "date_ranges must hold at least one range, e.g. [{\"start_date\": \"28daysAgo\", \"end_date\": \"yesterday\"}]",
        );
    }
    if ranges.len() > MAX_DATE_RANGES {
        return bad(format!(
            "date_ranges holds {} ranges; the Data API takes at most {MAX_DATE_RANGES}",
            ranges.len()
        ));
    }
    for (i, r) in ranges.iter().enumerate() {
        check_date(&r.start_date, &format!("date_ranges[{i}].start_date"))?;
        check_date(&r.end_date, &format!("date_ranges[{i}].end_date"))?;
        if let (Ok(a), Ok(b)) = (
            chrono::NaiveDate::parse_from_str(&r.start_date, "%Y-%m-%d"),
            chrono::NaiveDate::parse_from_str(&r.end_date, "%Y-%m-%d"),
        ) && a > b
        {
            return bad(format!(
                "date_ranges[{i}]: start_date {a} is after end_date {b}"
            ));
        }
    }
    Ok(())
}

fn check_fields(dimensions: &[String], metrics: &[String]) -> Checked<()> {
    if dimensions.is_empty() && metrics.is_empty() {
        return bad("give at least one metric (e.g. \"sessions\") or dimension (e.g. \"date\")");
    }
    if dimensions.len() > MAX_DIMENSIONS {
        return bad(format!(
            "{} dimensions given; a report takes at most {MAX_DIMENSIONS}",
            dimensions.len()
        ));
    }
    if metrics.len() > MAX_METRICS {
        return bad(format!(
            "{} metrics given; a report takes at most {MAX_METRICS}",
            metrics.len()
        ));
    }
    for (kind, names) in [("dimensions", dimensions), ("metrics", metrics)] {
        if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
            return bad(format!("{kind}[{i}] is empty"));
        }
    }
    Ok(())
}

/// The checked FilterExpression of a filter argument, text or object; blank text (what a
/// strict-mode model may send for "no filter") is none.
fn filter_expression(
    arg: &FilterArg,
    path: &str,
    fields: Fields,
) -> Checked<Option<FilterExpression>> {
    let expr = match arg {
        FilterArg::Text(text) if text.trim().is_empty() => return Ok(None),
        FilterArg::Text(text) => parse_filter(text, path, fields)?,
        FilterArg::Object(expr) => (**expr).clone(),
    };
    check_filter(&expr, path)?;
    Ok(Some(expr))
}

/// `text` parsed, or the error naming the parameter and quoting (the start of) the text.
fn parse_filter(text: &str, path: &str, fields: Fields) -> Checked<FilterExpression> {
    crate::filter::parse(text, fields).or_else(|e| {
        let quoted: String = text.chars().take(120).collect();
        let more = if text.chars().count() > 120 {
            "…"
        } else {
            ""
        };
        bad(format!("{path} \"{quoted}{more}\": {e}"))
    })
}

fn check_filter(expr: &FilterExpression, path: &str) -> Checked<()> {
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
        return bad(format!(
            "{path} must set exactly one of and_group, or_group, not_expression, filter (it sets {set})"
        ));
    }
    for (name, group) in [("and_group", &expr.and_group), ("or_group", &expr.or_group)] {
        if let Some(g) = group {
            if g.expressions.is_empty() {
                return bad(format!("{path}.{name}.expressions is empty"));
            }
            for (i, e) in g.expressions.iter().enumerate() {
                check_filter(e, &format!("{path}.{name}.expressions[{i}]"))?;
            }
        }
    }
    if let Some(e) = &expr.not_expression {
        check_filter(e, &format!("{path}.not_expression"))?;
    }
    if let Some(f) = &expr.filter {
        if f.field_name.trim().is_empty() {
            return bad(format!("{path}.filter.field_name is empty"));
        }
        let kinds = [
            f.string_filter.is_some(),
            f.in_list_filter.is_some(),
            f.numeric_filter.is_some(),
            f.between_filter.is_some(),
            f.empty_filter.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if kinds != 1 {
            return bad(format!(
                "{path}.filter must set exactly one of string_filter, in_list_filter, numeric_filter, \
                 between_filter, empty_filter (it sets {kinds})"
            ));
        }
        let numbers = f.numeric_filter.iter().map(|n| &n.value).chain(
            f.between_filter
                .iter()
                .flat_map(|b| [&b.from_value, &b.to_value]),
        );
        for v in numbers {
            if v.int64_value.is_some() == v.double_value.is_some() {
                return bad(format!(
                    "{path}.filter: a numeric value sets exactly one of int64_value, double_value"
                ));
            }
        }
    }
    Ok(())
}

fn check_order_bys(order_bys: &[OrderBy]) -> Checked<()> {
    for (i, o) in order_bys.iter().enumerate() {
        if o.metric.is_some() == o.dimension.is_some() {
            return bad(format!(
                "order_bys[{i}] must set exactly one of metric, dimension"
            ));
        }
    }
    Ok(())
}

fn check_limit(limit: Option<u32>) -> Checked<u32> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => bad("limit must be at least 1"),
        Some(n) if n > MAX_LIMIT => bad(format!(
            "limit {n} is above the Data API maximum of {MAX_LIMIT}; page with offset instead"
        )),
        Some(n) => Ok(n),
    }
}

fn check_currency(code: Option<&str>) -> Checked<()> {
    match code {
        Some(c) if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) => bad(format!(
            "currency_code {c:?} is not an ISO 4217 code like \"EUR\" or \"USD\""
        )),
        _ => Ok(()),
    }
}

fn names(list: &[String]) -> Value {
    Value::Array(list.iter().map(|n| json!({ "name": n.trim() })).collect())
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    // Our parameter types serialise infallibly (no maps with non-string keys).
    serde_json::to_value(v).unwrap_or(Value::Null)
}

struct Common<'a> {
    dimensions: &'a [String],
    metrics: &'a [String],
    dimension_filter: Option<&'a FilterArg>,
    metric_filter: Option<&'a FilterArg>,
    order_bys: &'a [OrderBy],
    limit: Option<u32>,
    return_property_quota: bool,
}

/// [`Common`] from report parameters, whose shared fields have the same names in every tool.
macro_rules! common {
    ($p:expr) => {
        Common {
            dimensions: &$p.dimensions,
            metrics: &$p.metrics,
            dimension_filter: $p.dimension_filter.as_ref(),
            metric_filter: $p.metric_filter.as_ref(),
            order_bys: &$p.order_bys,
            limit: $p.limit,
            return_property_quota: $p.return_property_quota,
        }
    };
}

/// Checks and adds the fields every report shares; returns the rows per page.
fn common_body(body: &mut Map<String, Value>, c: Common<'_>) -> Checked<u32> {
    check_fields(c.dimensions, c.metrics)?;
    let dimension_filter = match c.dimension_filter {
        Some(f) => filter_expression(f, "dimension_filter", Fields::Dimensions)?,
        None => None,
    };
    let metric_filter = match c.metric_filter {
        Some(f) => filter_expression(f, "metric_filter", Fields::Metrics)?,
        None => None,
    };
    check_order_bys(c.order_bys)?;
    let limit = check_limit(c.limit)?;
    if !c.dimensions.is_empty() {
        body.insert("dimensions".into(), names(c.dimensions));
    }
    if !c.metrics.is_empty() {
        body.insert("metrics".into(), names(c.metrics));
    }
    if let Some(f) = dimension_filter {
        body.insert("dimensionFilter".into(), to_value(&f));
    }
    if let Some(f) = metric_filter {
        body.insert("metricFilter".into(), to_value(&f));
    }
    if !c.order_bys.is_empty() {
        body.insert("orderBys".into(), to_value(&c.order_bys));
    }
    body.insert("limit".into(), Value::String(limit.to_string()));
    if c.return_property_quota {
        body.insert("returnPropertyQuota".into(), Value::Bool(true));
    }
    Ok(limit)
}

/// A checked report request: which endpoint, the body, and the paging it asked for.
#[derive(Debug)]
pub struct ReportRequest {
    /// The Data API method that answers it.
    pub endpoint: ReportEndpoint,
    /// REST body.
    pub body: Value,
    /// Rows per page.
    pub limit: u32,
    /// First row.
    pub offset: u64,
}

/// What standard and conversions reports add to the common fields: date ranges, paging and
/// the reporting currency.
struct Dated<'a> {
    date_ranges: &'a [DateRange],
    offset: Option<u64>,
    currency_code: Option<&'a str>,
}

/// [`Dated`] from the parameters of a report over date ranges.
macro_rules! dated {
    ($p:expr) => {
        Dated {
            date_ranges: &$p.date_ranges,
            offset: $p.offset,
            currency_code: $p.currency_code.as_deref(),
        }
    };
}

/// Checks and adds [`Dated`]'s fields; returns the first row asked for.
fn dated_body(body: &mut Map<String, Value>, d: Dated<'_>) -> Checked<u64> {
    check_date_ranges(d.date_ranges, true)?;
    check_currency(d.currency_code)?;
    body.insert("dateRanges".into(), to_value(&d.date_ranges));
    let offset = d.offset.unwrap_or(0);
    if offset > 0 {
        body.insert("offset".into(), Value::String(offset.to_string()));
    }
    if let Some(c) = d.currency_code {
        body.insert("currencyCode".into(), Value::String(c.to_owned()));
    }
    Ok(offset)
}

/// `runReport` body.
pub fn run_report(p: &RunReportParams) -> Checked<ReportRequest> {
    let mut body = Map::new();
    let offset = dated_body(&mut body, dated!(p))?;
    let limit = common_body(&mut body, common!(p))?;
    if !p.metric_aggregations.is_empty() {
        body.insert(
            "metricAggregations".into(),
            to_value(&p.metric_aggregations),
        );
    }
    Ok(ReportRequest {
        endpoint: ReportEndpoint::Standard,
        body: Value::Object(body),
        limit,
        offset,
    })
}

/// `runRealtimeReport` body.
pub fn run_realtime_report(p: &RunRealtimeReportParams) -> Checked<ReportRequest> {
    if p.minute_ranges.len() > 2 {
        return bad(format!(
            "minute_ranges holds {}; realtime reports take at most 2",
            p.minute_ranges.len()
        ));
    }
    for (i, r) in p.minute_ranges.iter().enumerate() {
        if let (Some(s), Some(e)) = (r.start_minutes_ago, r.end_minutes_ago)
            && s < e
        {
            return bad(format!(
                "minute_ranges[{i}]: start_minutes_ago {s} is more recent than end_minutes_ago {e}"
            ));
        }
    }
    let mut body = Map::new();
    let limit = common_body(&mut body, common!(p))?;
    if !p.minute_ranges.is_empty() {
        body.insert("minuteRanges".into(), to_value(&p.minute_ranges));
    }
    Ok(ReportRequest {
        endpoint: ReportEndpoint::Realtime,
        body: Value::Object(body),
        limit,
        offset: 0,
    })
}

/// v1alpha `runReport` body with a conversion spec.
pub fn run_conversions_report(p: &RunConversionsReportParams) -> Checked<ReportRequest> {
    let mut body = Map::new();
    let offset = dated_body(&mut body, dated!(p))?;
    let limit = common_body(&mut body, common!(p))?;
    body.insert("conversionSpec".into(), to_value(&p.conversion_spec));
    Ok(ReportRequest {
        endpoint: ReportEndpoint::Conversions,
        body: Value::Object(body),
        limit,
        offset,
    })
}

/// v1alpha `runFunnelReport` body.
pub fn run_funnel_report(p: &RunFunnelReportParams) -> Checked<Value> {
    if p.funnel_steps.is_empty() {
        return bad(
            "funnel_steps must hold at least one step, e.g. [{\"name\": \"Cart\", \"event\": \"add_to_cart\"}]",
        );
    }
    check_date_ranges(&p.date_ranges, false)?;
    let mut steps = Vec::with_capacity(p.funnel_steps.len());
    for (i, step) in p.funnel_steps.iter().enumerate() {
        // Blank is absent: a strict-mode model sends every property.
        let filter = match (
            given(&step.event),
            given(&step.filter),
            &step.filter_expression,
        ) {
            (Some(event), None, None) => {
                json!({ "funnelEventFilter": { "eventName": event } })
            }
            (None, Some(text), None) => {
                let path = format!("funnel_steps[{i}].filter");
                let expr = parse_filter(text, &path, Fields::Dimensions)?;
                check_filter(&expr, &path)?;
                funnel_filter(&expr, &path)?
            }
            (None, None, Some(expr)) if expr.is_object() => camelize_keys(expr.clone()),
            _ => {
                return bad(format!(
                    "funnel_steps[{i}] must set exactly one of event (an event name, e.g. \"add_to_cart\") or filter (e.g. \"eventName = 'page_view' AND pagePath BEGINS_WITH '/products/'\")"
                ));
            }
        };
        let mut s = json!({
            "name": step.name.clone().unwrap_or_else(|| format!("Step {}", i + 1)),
            "filterExpression": filter,
        });
        if step.is_directly_followed_by {
            s["isDirectlyFollowedBy"] = Value::Bool(true);
        }
        steps.push(s);
    }
    let date_ranges = if p.date_ranges.is_empty() {
        json!([{ "startDate": "30daysAgo", "endDate": "yesterday" }])
    } else {
        to_value(&p.date_ranges)
    };
    let mut body = json!({ "funnel": { "steps": steps }, "dateRanges": date_ranges });
    if let Some(b) = &p.funnel_breakdown {
        body["funnelBreakdown"] =
            json!({ "breakdownDimension": { "name": b.breakdown_dimension.trim() } });
        if let Some(l) = b.limit {
            body["funnelBreakdown"]["limit"] = Value::String(l.to_string());
        }
    }
    if let Some(n) = &p.funnel_next_action {
        body["funnelNextAction"] =
            json!({ "nextActionDimension": { "name": n.next_action_dimension.trim() } });
        if let Some(l) = n.limit {
            body["funnelNextAction"]["limit"] = Value::String(l.to_string());
        }
    }
    if !p.segments.is_empty() {
        body["segments"] = Value::Array(p.segments.iter().cloned().map(camelize_keys).collect());
    }
    if p.return_property_quota {
        body["returnPropertyQuota"] = Value::Bool(true);
    }
    Ok(body)
}

/// An optional text argument, absent when blank (a strict-mode model sends every property).
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A checked filter expression as a FunnelFilterExpression: `eventName = 'x'` is an event
/// step (`funnelEventFilter`), every other condition a `funnelFieldFilter`.
fn funnel_filter(expr: &FilterExpression, path: &str) -> Checked<Value> {
    let list = |group: &crate::params::FilterExpressionList| -> Checked<Value> {
        let expressions = group
            .expressions
            .iter()
            .map(|e| funnel_filter(e, path))
            .collect::<Checked<Vec<_>>>()?;
        Ok(json!({ "expressions": expressions }))
    };
    if let Some(g) = &expr.and_group {
        return Ok(json!({ "andGroup": list(g)? }));
    }
    if let Some(g) = &expr.or_group {
        return Ok(json!({ "orGroup": list(g)? }));
    }
    if let Some(e) = &expr.not_expression {
        return Ok(json!({ "notExpression": funnel_filter(e, path)? }));
    }
    let Some(f) = &expr.filter else {
        return bad(format!("{path} is empty"));
    };
    if f.empty_filter.is_some() {
        return bad(format!(
            "{path}: IS EMPTY is not available in funnel steps (the Data API's funnel filters have no empty match)"
        ));
    }
    if f.field_name == "eventName"
        && let Some(s) = &f.string_filter
        && matches!(s.match_type, None | Some(crate::params::MatchType::Exact))
        && s.case_sensitive != Some(true)
    {
        return Ok(json!({ "funnelEventFilter": { "eventName": s.value } }));
    }
    let mut field = to_value(f);
    if let Value::Object(map) = &mut field {
        map.remove("emptyFilter");
    }
    Ok(json!({ "funnelFieldFilter": field }))
}

/// Rewrites object keys from snake_case to lowerCamelCase (values untouched), for the
/// free-form protobuf objects (funnel filters, segments) models write in either style.
pub fn camelize_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (snake_to_camel(&k), camelize_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camelize_keys).collect()),
        other => other,
    }
}

fn snake_to_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: Value) -> Checked<ReportRequest> {
        let p: RunReportParams = serde_json::from_value(json).expect("params");
        run_report(&p)
    }

    #[test]
    fn property_ids_take_both_forms() {
        assert_eq!(property_id("123"), Ok("123".into()));
        assert_eq!(property_id("properties/123"), Ok("123".into()));
        assert!(property_required().0.contains("get_account_summaries"));
        assert!(
            property_id("G-ABC123")
                .unwrap_err()
                .0
                .contains("measurement ids")
        );
    }

    #[test]
    fn relative_and_absolute_dates_pass() {
        for d in ["today", "yesterday", "7daysAgo", "0daysAgo", "2026-02-28"] {
            assert_eq!(check_date(d, "x"), Ok(()), "{d}");
        }
        for d in [
            "2026-02-30",
            "last week",
            "daysAgo",
            "-1daysAgo",
            "2026-2-1",
        ] {
            assert!(check_date(d, "x").is_err(), "{d}");
        }
    }

    #[test]
    fn builds_camel_case_body_with_string_int64s() {
        let r = report(json!({
            "property_id": "properties/1",
            "date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}],
            "dimensions": ["country"],
            "metrics": ["sessions"],
            "dimension_filter": {"filter": {"field_name": "country", "string_filter": {"match_type": "CONTAINS", "value": "Pol"}}},
            "metric_filter": {"filter": {"fieldName": "sessions", "numericFilter": {"operation": "GREATER_THAN", "value": {"int64_value": 10}}}},
            "order_bys": [{"metric": {"metric_name": "sessions"}, "desc": true}],
            "offset": 200
        }))
        .expect("valid");
        assert_eq!(r.limit, DEFAULT_LIMIT);
        assert_eq!(r.offset, 200);
        assert_eq!(
            r.body,
            json!({
                "dateRanges": [{"startDate": "7daysAgo", "endDate": "yesterday"}],
                "dimensions": [{"name": "country"}],
                "metrics": [{"name": "sessions"}],
                "dimensionFilter": {"filter": {"fieldName": "country", "stringFilter": {"matchType": "CONTAINS", "value": "Pol"}}},
                "metricFilter": {"filter": {"fieldName": "sessions", "numericFilter": {"operation": "GREATER_THAN", "value": {"int64Value": "10"}}}},
                "orderBys": [{"desc": true, "metric": {"metricName": "sessions"}}],
                "limit": "100",
                "offset": "200"
            })
        );
    }

    #[test]
    fn explains_bad_arguments() {
        let base = json!({"date_ranges": [{"start_date": "yesterday", "end_date": "today"}], "metrics": ["sessions"]});
        let with = |k: &str, v: Value| {
            let mut j = base.clone();
            j[k] = v;
            report(j).unwrap_err().0
        };
        assert!(with("date_ranges", json!([])).contains("at least one range"));
        assert!(
            with(
                "date_ranges",
                json!([{"start_date": "2026-10-05", "end_date": "2026-10-01"}])
            )
            .contains("after")
        );
        assert!(with("limit", json!(0)).contains("at least 1"));
        assert!(with("limit", json!(300000)).contains("250000"));
        assert!(with("metrics", json!([])).contains("at least one metric"));
        assert!(with("dimension_filter", json!({})).contains("exactly one of and_group"));
        assert!(
            with("dimension_filter", json!({"filter": {"field_name": "x"}}))
                .contains("exactly one of string_filter")
        );
        assert!(with("order_bys", json!([{}])).contains("exactly one of metric, dimension"));
        assert!(with("currency_code", json!("euro")).contains("ISO 4217"));
        assert!(
            with(
                "metrics",
                json!(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"])
            )
            .contains("at most 10")
        );
    }

    #[test]
    fn funnel_steps_from_events_or_snake_case_filters() {
        let p: RunFunnelReportParams = serde_json::from_value(json!({
            "funnel_steps": [
                {"name": "View", "event": "view_item"},
                {"name": "Cart", "filter_expression": {"funnel_event_filter": {"event_name": "add_to_cart"}}}
            ],
            "funnel_breakdown": {"breakdown_dimension": "deviceCategory"}
        }))
        .expect("params");
        let body = run_funnel_report(&p).expect("valid");
        assert_eq!(
            body["funnel"]["steps"][1]["filterExpression"],
            json!({"funnelEventFilter": {"eventName": "add_to_cart"}})
        );
        assert_eq!(
            body["funnelBreakdown"]["breakdownDimension"]["name"],
            "deviceCategory"
        );
        assert_eq!(body["dateRanges"][0]["startDate"], "30daysAgo");
        let p: RunFunnelReportParams =
            serde_json::from_value(json!({"funnel_steps": [{"name": "x"}]})).expect("params");
        assert!(
            run_funnel_report(&p)
                .unwrap_err()
                .0
                .contains("exactly one of event")
        );
    }

    #[test]
    fn camelize_leaves_values_alone() {
        assert_eq!(
            camelize_keys(json!({"a_b": [{"c_d_e": "x_y"}], "_private": 1})),
            json!({"aB": [{"cDE": "x_y"}], "_private": 1})
        );
    }

    #[test]
    fn unknown_argument_names_are_refused() {
        let r =
            serde_json::from_value::<RunReportParams>(json!({"date_ranges": [], "metric": ["x"]}));
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("unknown field `metric`")
        );
    }
}
