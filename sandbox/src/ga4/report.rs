//! `runReport`, `batchRunReports`, `runRealtimeReport` and the v1alpha conversions report:
//! request validation with GA4's messages, metric computation, metric filters, ordering,
//! aggregations, paging and the response in GA4's exact JSON shape.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::catalog::{self, MetricKind, Mode};
use super::dates;
use super::engine::{self, Axis, GenDim, Generation, OutDim, RawRow};
use super::expr::Expr;
use super::filter::{self, Compiled, NumberFields};
use super::model::{Attribution, ConversionParams, GenContext};
use super::property::{Clock, PropertyInfo, currency_per_eur};
use super::request::{
    AGGREGATIONS, ConversionSpec, Dimension, FilterExpression, Int64, Metric, ORDER_TYPES, OrderBy,
    RunRealtimeReportRequest, RunReportRequest,
};
use crate::google::rpc::ApiError;
use crate::hash::fnv;

/// Default `limit`.
pub const DEFAULT_LIMIT: i64 = 10_000;
/// Maximum rows per response.
pub const MAX_LIMIT: i64 = 250_000;
const SCHEMA_URL: &str =
    "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema";
const REALTIME_SCHEMA_URL: &str =
    "https://developers.google.com/analytics/devguides/reporting/data/v1/realtime-api-schema";
const CONVERSIONS_SCHEMA_URL: &str =
    "https://developers.google.com/analytics/devguides/reporting/data/v1/conversions-api-schema";

/// GA4's message for an unknown dimension.
pub fn unknown_dimension(name: &str, mode: Mode) -> ApiError {
    ApiError::invalid_argument(format!(
        "Field {name} is not a valid dimension. For a list of valid dimensions and metrics, see {}",
        schema_url(mode)
    ))
}

/// GA4's message for an unknown metric.
pub fn unknown_metric(name: &str, mode: Mode) -> ApiError {
    ApiError::invalid_argument(format!(
        "Field {name} is not a valid metric. For a list of valid dimensions and metrics, see {}",
        schema_url(mode)
    ))
}

fn schema_url(mode: Mode) -> &'static str {
    match mode {
        Mode::Core => SCHEMA_URL,
        Mode::Realtime => REALTIME_SCHEMA_URL,
        Mode::Conversions => CONVERSIONS_SCHEMA_URL,
    }
}

/// The API version a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `/v1beta`.
    V1beta,
    /// `/v1alpha`.
    V1alpha,
}

enum MetricSource {
    Kind(MetricKind),
    Expr(Expr, HashMap<String, (MetricKind, &'static str)>),
}

struct MetricSlot {
    name: String,
    source: MetricSource,
    ty: &'static str,
}

enum Order {
    Metric {
        slot: usize,
        desc: bool,
    },
    Dim {
        index: usize,
        ty: &'static str,
        desc: bool,
    },
}

/// A validated report request.
pub struct Prepared {
    mode: Mode,
    conversions: Option<ConversionParams>,
    currency_factor: f64,
    currency_code: String,
    axes: Vec<(Axis, String)>,
    multi_range: bool,
    gen_dims: Vec<GenDim>,
    out_dims: Vec<OutDim>,
    dim_headers: Vec<String>,
    slots: Vec<MetricSlot>,
    visible: Vec<usize>,
    dim_filter: Option<Compiled>,
    metric_filter: Option<Compiled>,
    orders: Vec<Order>,
    limit: usize,
    offset: usize,
    totals: bool,
    minimums: bool,
    maximums: bool,
    keep_empty: bool,
    /// Whether `propertyQuota` was requested.
    pub return_quota: bool,
    days: i64,
}

struct Builder<'a> {
    prop: &'a PropertyInfo,
    mode: Mode,
    gen_dims: Vec<GenDim>,
    slots: Vec<MetricSlot>,
}

impl Builder<'_> {
    fn gen_index(&mut self, name: &str) -> Result<usize, ApiError> {
        if let Some(i) = self.gen_dims.iter().position(|d| d.name == name) {
            return Ok(i);
        }
        let kind = catalog::dimension(name, self.prop, self.mode)
            .ok_or_else(|| unknown_dimension(name, self.mode))?;
        self.gen_dims.push(GenDim {
            name: name.to_string(),
            kind,
        });
        Ok(self.gen_dims.len() - 1)
    }

    fn dims(&mut self, dims: &[Dimension]) -> Result<(Vec<OutDim>, Vec<String>), ApiError> {
        let mut out = Vec::with_capacity(dims.len());
        let mut names = Vec::with_capacity(dims.len());
        for d in dims {
            if d.name.is_empty() {
                return Err(ApiError::invalid_argument(
                    "A dimension name must not be empty.",
                ));
            }
            if names.contains(&d.name) {
                return Err(ApiError::invalid_argument(format!(
                    "Duplicate dimension name \"{}\" in the request.",
                    d.name
                )));
            }
            let od = match &d.dimension_expression {
                None => OutDim::Plain(self.gen_index(&d.name)?),
                Some(e) => {
                    let set = [
                        e.lower_case.is_some(),
                        e.upper_case.is_some(),
                        e.concatenate.is_some(),
                    ]
                    .iter()
                    .filter(|x| **x)
                    .count();
                    if set != 1 || self.mode != Mode::Core {
                        return Err(ApiError::invalid_argument(format!(
                            "Dimension \"{}\" must set exactly one of lowerCase, upperCase or concatenate.",
                            d.name
                        )));
                    }
                    if let Some(c) = &e.lower_case {
                        OutDim::Lower(self.gen_index(&c.dimension_name)?)
                    } else if let Some(c) = &e.upper_case {
                        OutDim::Upper(self.gen_index(&c.dimension_name)?)
                    } else if let Some(c) = &e.concatenate {
                        if c.dimension_names.is_empty() {
                            return Err(ApiError::invalid_argument(format!(
                                "Dimension \"{}\" concatenates no dimensions.",
                                d.name
                            )));
                        }
                        let parts = c
                            .dimension_names
                            .iter()
                            .map(|n| self.gen_index(n))
                            .collect::<Result<_, _>>()?;
                        OutDim::Concat(parts, c.delimiter.clone())
                    } else {
                        return Err(ApiError::invalid_argument("Empty dimensionExpression."));
                    }
                }
            };
            out.push(od);
            names.push(d.name.clone());
        }
        Ok((out, names))
    }

    fn metric_slot(&mut self, name: &str) -> Result<usize, ApiError> {
        if let Some(i) = self.slots.iter().position(|s| s.name == name) {
            return Ok(i);
        }
        let kind = catalog::metric(name, self.prop, self.mode)
            .ok_or_else(|| unknown_metric(name, self.mode))?;
        self.slots.push(MetricSlot {
            name: name.to_string(),
            ty: catalog::metric_type(kind, self.prop),
            source: MetricSource::Kind(kind),
        });
        Ok(self.slots.len() - 1)
    }

    fn metrics(&mut self, metrics: &[Metric]) -> Result<Vec<usize>, ApiError> {
        let mut visible = Vec::new();
        for m in metrics {
            if m.name.is_empty() {
                return Err(ApiError::invalid_argument(
                    "A metric name must not be empty.",
                ));
            }
            if self.slots.iter().any(|s| s.name == m.name) {
                return Err(ApiError::invalid_argument(format!(
                    "Duplicate metric name \"{}\" in the request.",
                    m.name
                )));
            }
            let slot = match &m.expression {
                Some(text) if !text.trim().is_empty() => {
                    if self.mode != Mode::Core {
                        return Err(ApiError::invalid_argument(
                            "Metric expressions are not supported in this report.",
                        ));
                    }
                    let expr = Expr::parse(text)?;
                    let mut vars = Vec::new();
                    expr.vars(&mut vars);
                    let mut kinds = HashMap::new();
                    for v in vars {
                        let kind = catalog::metric(&v, self.prop, self.mode)
                            .ok_or_else(|| unknown_metric(&v, self.mode))?;
                        kinds.insert(v, (kind, catalog::metric_type(kind, self.prop)));
                    }
                    self.slots.push(MetricSlot {
                        name: m.name.clone(),
                        source: MetricSource::Expr(expr, kinds),
                        ty: "TYPE_FLOAT",
                    });
                    self.slots.len() - 1
                }
                _ => self.metric_slot(&m.name)?,
            };
            if !m.invisible {
                visible.push(slot);
            }
        }
        Ok(visible)
    }
}

fn check_property(body: Option<&str>, property: &PropertyInfo) -> Result<(), ApiError> {
    match body {
        Some(p) if !p.is_empty() && p != format!("properties/{}", property.id) => {
            Err(ApiError::invalid_argument(format!(
                "The property \"{p}\" in the request body does not match properties/{} in the URL.",
                property.id
            )))
        }
        _ => Ok(()),
    }
}

fn limit_offset(limit: Option<Int64>, offset: Option<Int64>) -> Result<(usize, usize), ApiError> {
    let limit = match limit.map(|l| l.0).unwrap_or(0) {
        l if l < 0 => {
            return Err(ApiError::invalid_argument(format!(
                "limit must be positive, but was {l}."
            )));
        }
        0 => DEFAULT_LIMIT,
        l => l.min(MAX_LIMIT),
    };
    let offset = match offset.map(|o| o.0).unwrap_or(0) {
        o if o < 0 => {
            return Err(ApiError::invalid_argument(format!(
                "offset must be non-negative, but was {o}."
            )));
        }
        o => o,
    };
    Ok((
        limit as usize,
        usize::try_from(offset).unwrap_or(usize::MAX),
    ))
}

fn aggregations(list: &[super::request::EnumValue]) -> Result<(bool, bool, bool), ApiError> {
    let (mut t, mut mn, mut mx) = (false, false, false);
    for a in list {
        match a.resolve(AGGREGATIONS) {
            Some("TOTAL") => t = true,
            Some("MINIMUM") => mn = true,
            Some("MAXIMUM") => mx = true,
            // COUNT has no response field in RunReportResponse; accepted and ignored.
            Some("COUNT") => {}
            _ => {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value at 'metric_aggregations' (type.googleapis.com/google.analytics.data.v1beta.MetricAggregation), \"{}\"",
                    a.text()
                )));
            }
        }
    }
    Ok((t, mn, mx))
}

fn orders(
    order_bys: &[OrderBy],
    dim_headers: &[String],
    b: &Builder<'_>,
) -> Result<Vec<Order>, ApiError> {
    let mut out = Vec::new();
    for o in order_bys {
        if o.pivot.is_some() {
            return Err(ApiError::invalid_argument(
                "Pivot ordering is only valid in pivot reports.",
            ));
        }
        match (&o.metric, &o.dimension) {
            (Some(m), None) => {
                let slot = b
                    .slots
                    .iter()
                    .position(|s| s.name == m.metric_name)
                    .ok_or_else(|| {
                        ApiError::invalid_argument(format!(
                            "OrderBy metric \"{}\" must be one of the metrics in the request.",
                            m.metric_name
                        ))
                    })?;
                out.push(Order::Metric { slot, desc: o.desc });
            }
            (None, Some(d)) => {
                let index = dim_headers
                    .iter()
                    .position(|n| *n == d.dimension_name)
                    .ok_or_else(|| {
                        ApiError::invalid_argument(format!(
                            "OrderBy dimension \"{}\" must be one of the dimensions in the request.",
                            d.dimension_name
                        ))
                    })?;
                let ty = match &d.order_type {
                    None => "ALPHANUMERIC",
                    Some(v) => match v.resolve(ORDER_TYPES) {
                        Some("ORDER_TYPE_UNSPECIFIED") => "ALPHANUMERIC",
                        Some(t) => t,
                        None => {
                            return Err(ApiError::invalid_argument(format!(
                                "Invalid value at 'order_bys.dimension.order_type' (type.googleapis.com/google.analytics.data.v1beta.OrderBy.DimensionOrderBy.OrderType), \"{}\"",
                                v.text()
                            )));
                        }
                    },
                };
                out.push(Order::Dim {
                    index,
                    ty,
                    desc: o.desc,
                });
            }
            _ => {
                return Err(ApiError::invalid_argument(
                    "An OrderBy must set exactly one of metric or dimension.",
                ));
            }
        }
    }
    Ok(out)
}

fn compile_dim_filter(
    f: Option<&FilterExpression>,
    b: &mut Builder<'_>,
) -> Result<Option<Compiled>, ApiError> {
    f.map(|expr| filter::compile(expr, &mut |name| b.gen_index(name)))
        .transpose()
}

fn compile_metric_filter(
    f: Option<&FilterExpression>,
    b: &mut Builder<'_>,
) -> Result<Option<Compiled>, ApiError> {
    f.map(|expr| filter::compile(expr, &mut |name| b.metric_slot(name)))
        .transpose()
}

fn conversion_params(spec: &ConversionSpec) -> Result<ConversionParams, ApiError> {
    let model = match &spec.attribution_model {
        None => Attribution::DataDriven,
        Some(v) => match v.resolve(&[
            ("ATTRIBUTION_MODEL_UNSPECIFIED", 0),
            ("DATA_DRIVEN", 1),
            ("LAST_CLICK", 2),
        ]) {
            Some("LAST_CLICK") => Attribution::LastClick,
            Some(_) => Attribution::DataDriven,
            None => {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value at 'conversion_spec.attribution_model' (type.googleapis.com/google.analytics.data.v1alpha.ConversionSpec.AttributionModel), \"{}\"",
                    v.text()
                )));
            }
        },
    };
    let (mut purchases, mut leads) = (0.0, 0.0);
    for action in &spec.conversion_actions {
        let id = action
            .strip_prefix("conversionActions/")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Invalid conversion action \"{action}\". Expected conversionActions/{{id}}."
                ))
            })?;
        // Known key events by name; any other id maps stably onto one of them.
        let is_purchase = match id {
            "purchase" => true,
            "generate_lead" => false,
            other => fnv(other).is_multiple_of(2),
        };
        if is_purchase {
            purchases = 1.0;
        } else {
            leads = 1.0;
        }
    }
    if spec.conversion_actions.is_empty() {
        purchases = 1.0;
        leads = 1.0;
    }
    Ok(ConversionParams {
        model,
        purchases,
        leads,
    })
}

fn currency(code: Option<&str>, prop: &PropertyInfo) -> Result<(f64, String), ApiError> {
    match code.filter(|c| !c.is_empty()) {
        None => Ok((1.0, prop.currency.clone())),
        Some(code) => {
            let to = currency_per_eur(code).ok_or_else(|| {
                ApiError::invalid_argument(format!("Unsupported currency code: {code}."))
            })?;
            Ok((to / prop.money, code.to_string()))
        }
    }
}

/// Validates a `runReport` request (v1beta, or v1alpha incl. conversions reports).
pub fn prepare_report(
    req: &RunReportRequest,
    prop: &PropertyInfo,
    clock: Clock,
    version: Version,
) -> Result<Prepared, ApiError> {
    check_property(req.property.as_deref(), prop)?;
    if version == Version::V1beta && req.conversion_spec.is_some() {
        return Err(ApiError::invalid_argument(
            "Invalid JSON payload received. Unknown name \"conversionSpec\": Cannot find field.",
        ));
    }
    if req.cohort_spec.is_some() {
        return Err(ApiError::invalid_argument(
            "cohortSpec is not supported by the sandbox.",
        ));
    }
    if req.comparisons.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(ApiError::invalid_argument(
            "comparisons are not supported by the sandbox.",
        ));
    }
    let conversions_mode = version == Version::V1alpha
        && (req.conversion_spec.is_some()
            || req
                .metrics
                .iter()
                .any(|m| catalog::is_conversions_metric(&m.name)));
    let (mode, conversions) = if conversions_mode {
        let spec = req.conversion_spec.clone().unwrap_or_default();
        (Mode::Conversions, Some(conversion_params(&spec)?))
    } else {
        (Mode::Core, None)
    };
    if req.dimensions.len() > 9 {
        return Err(ApiError::invalid_argument(format!(
            "Requested {} dimensions; the maximum is 9.",
            req.dimensions.len()
        )));
    }
    if req.metrics.len() > 10 {
        return Err(ApiError::invalid_argument(format!(
            "Requested {} metrics; the maximum is 10.",
            req.metrics.len()
        )));
    }
    if req.dimensions.is_empty() && req.metrics.is_empty() {
        return Err(ApiError::invalid_argument(
            "A report must request at least one dimension or metric.",
        ));
    }
    let ranges = dates::resolve(&req.date_ranges, clock.today, 4)?;
    let mut b = Builder {
        prop,
        mode,
        gen_dims: Vec::new(),
        slots: Vec::new(),
    };
    let (out_dims, mut dim_headers) = b.dims(&req.dimensions)?;
    let visible = b.metrics(&req.metrics)?;
    let dim_filter = compile_dim_filter(req.dimension_filter.as_ref(), &mut b)?;
    let metric_filter = compile_metric_filter(req.metric_filter.as_ref(), &mut b)?;
    let multi_range = ranges.len() > 1;
    if multi_range {
        dim_headers.push("dateRange".to_string());
    }
    let orders = orders(&req.order_bys, &dim_headers, &b)?;
    let (limit, offset) = limit_offset(req.limit, req.offset)?;
    let (totals, minimums, maximums) = aggregations(&req.metric_aggregations)?;
    let (currency_factor, currency_code) = currency(req.currency_code.as_deref(), prop)?;
    let days = ranges.iter().map(|r| r.len()).sum();
    Ok(Prepared {
        mode,
        conversions,
        currency_factor,
        currency_code,
        axes: ranges
            .into_iter()
            .map(|r| (Axis::Days(r.start, r.end), r.name))
            .collect(),
        multi_range,
        gen_dims: b.gen_dims,
        out_dims,
        dim_headers,
        slots: b.slots,
        visible,
        dim_filter,
        metric_filter,
        orders,
        limit,
        offset,
        totals,
        minimums,
        maximums,
        keep_empty: req.keep_empty_rows,
        return_quota: req.return_property_quota,
        days,
    })
}

/// Validates a `runRealtimeReport` request.
pub fn prepare_realtime(
    req: &RunRealtimeReportRequest,
    prop: &PropertyInfo,
) -> Result<Prepared, ApiError> {
    check_property(req.property.as_deref(), prop)?;
    let mode = Mode::Realtime;
    if req.dimensions.len() > 9 {
        return Err(ApiError::invalid_argument(format!(
            "Requested {} dimensions; the maximum is 9.",
            req.dimensions.len()
        )));
    }
    if req.metrics.len() > 10 {
        return Err(ApiError::invalid_argument(format!(
            "Requested {} metrics; the maximum is 10.",
            req.metrics.len()
        )));
    }
    if req.dimensions.is_empty() && req.metrics.is_empty() {
        return Err(ApiError::invalid_argument(
            "A report must request at least one dimension or metric.",
        ));
    }
    if req.minute_ranges.len() > 2 {
        return Err(ApiError::invalid_argument(format!(
            "Requested {} minute ranges, but the maximum is 2.",
            req.minute_ranges.len()
        )));
    }
    let mut axes = Vec::new();
    let defaults = [super::request::MinuteRange::default()];
    let ranges: &[super::request::MinuteRange] = if req.minute_ranges.is_empty() {
        &defaults
    } else {
        &req.minute_ranges
    };
    for (i, r) in ranges.iter().enumerate() {
        let start = r.start_minutes_ago.map(|v| v.0).unwrap_or(29);
        let end = r.end_minutes_ago.map(|v| v.0).unwrap_or(0);
        if !(0..=29).contains(&start) || !(0..=29).contains(&end) {
            return Err(ApiError::invalid_argument(format!(
                "minuteRanges[{i}]: standard properties support minutes 0 to 29 ago (got startMinutesAgo {start}, endMinutesAgo {end})."
            )));
        }
        if start < end {
            return Err(ApiError::invalid_argument(format!(
                "minuteRanges[{i}]: startMinutesAgo ({start}) must be greater than or equal to endMinutesAgo ({end})."
            )));
        }
        let name = match r.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) if n.starts_with("date_range_") || n.starts_with("RESERVED_") => {
                return Err(ApiError::invalid_argument(format!(
                    "Minute range name \"{n}\" cannot begin with 'date_range_' or 'RESERVED_'."
                )));
            }
            Some(n) => n.to_string(),
            None => format!("date_range_{i}"),
        };
        axes.push((Axis::Minutes(start as u32, end as u32), name));
    }
    let mut b = Builder {
        prop,
        mode,
        gen_dims: Vec::new(),
        slots: Vec::new(),
    };
    let (out_dims, mut dim_headers) = b.dims(&req.dimensions)?;
    let visible = b.metrics(&req.metrics)?;
    let dim_filter = compile_dim_filter(req.dimension_filter.as_ref(), &mut b)?;
    let metric_filter = compile_metric_filter(req.metric_filter.as_ref(), &mut b)?;
    let multi_range = axes.len() > 1;
    if multi_range {
        dim_headers.push("dateRange".to_string());
    }
    let orders = orders(&req.order_bys, &dim_headers, &b)?;
    let (limit, _) = limit_offset(req.limit, None)?;
    let (totals, minimums, maximums) = aggregations(&req.metric_aggregations)?;
    Ok(Prepared {
        mode,
        conversions: None,
        currency_factor: 1.0,
        currency_code: prop.currency.clone(),
        axes,
        multi_range,
        gen_dims: b.gen_dims,
        out_dims,
        dim_headers,
        slots: b.slots,
        visible,
        dim_filter,
        metric_filter,
        orders,
        limit,
        offset: 0,
        totals,
        minimums,
        maximums,
        keep_empty: false,
        return_quota: req.return_property_quota,
        days: 1,
    })
}

struct FinalRow {
    dims: Vec<String>,
    values: Vec<f64>,
    texts: Vec<String>,
    range: usize,
    q: Vec<f64>,
}

fn compute(slots: &[MetricSlot], q: &[f64]) -> (Vec<f64>, Vec<String>) {
    let values: Vec<f64> = slots
        .iter()
        .map(|s| {
            let raw = match &s.source {
                MetricSource::Kind(k) => catalog::eval_metric(*k, q),
                MetricSource::Expr(e, kinds) => {
                    // Operands are rounded like their own type, as GA4 shows them.
                    let v = e.eval(&|name| {
                        kinds
                            .get(name)
                            .map(|(k, ty)| catalog::round_for(ty, catalog::eval_metric(*k, q)))
                            .unwrap_or(0.0)
                    });
                    if v.is_finite() { v } else { 0.0 }
                }
            };
            catalog::round_for(s.ty, raw)
        })
        .collect();
    let texts = slots
        .iter()
        .zip(&values)
        .map(|(s, v)| catalog::format_value(s.ty, *v))
        .collect();
    (values, texts)
}

fn compare_dims(a: &str, b: &str, ty: &str) -> std::cmp::Ordering {
    match ty {
        "CASE_INSENSITIVE_ALPHANUMERIC" => a.to_lowercase().cmp(&b.to_lowercase()),
        "NUMERIC" => {
            let pa = a.trim().parse::<f64>().ok();
            let pb = b.trim().parse::<f64>().ok();
            match (pa, pb) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (None, None) => a.cmp(b),
            }
        }
        _ => a.cmp(b),
    }
}

/// The executed report.
pub struct Executed {
    rows: Vec<FinalRow>,
    totals: Vec<FinalRow>,
    minimums: Vec<FinalRow>,
    maximums: Vec<FinalRow>,
    /// Quota tokens this report costs.
    pub tokens: u64,
}

/// Runs a prepared report.
pub fn execute(p: &Prepared, prop: &PropertyInfo, clock: Clock) -> Result<Executed, ApiError> {
    let ctx = GenContext {
        prop,
        clock,
        currency: p.currency_factor,
        conversions: p.conversions,
    };
    let generation = Generation {
        ctx,
        gen_dims: &p.gen_dims,
        out_dims: &p.out_dims,
        filter: p.dim_filter.as_ref(),
        keep_empty: p.keep_empty,
    };
    let mut rows: Vec<FinalRow> = Vec::new();
    let mut per_range_q: Vec<Vec<f64>> = Vec::new();
    let mut generated = 0usize;
    for (ri, (axis, name)) in p.axes.iter().enumerate() {
        let raw: Vec<RawRow> = engine::generate(&generation, *axis)?;
        generated += raw.len();
        let mut sum = vec![0.0; ctx.nq()];
        for r in raw {
            let (values, texts) = compute(&p.slots, &r.q);
            let has_data = if p.visible.is_empty() {
                r.q.iter().any(|v| *v != 0.0)
            } else {
                p.visible.iter().any(|&i| values[i] != 0.0)
            };
            if !p.keep_empty && !has_data {
                continue;
            }
            if let Some(mf) = &p.metric_filter
                && !mf.eval(&NumberFields {
                    values: &values,
                    texts: &texts,
                })
            {
                continue;
            }
            for (s, v) in sum.iter_mut().zip(&r.q) {
                *s += v;
            }
            let mut dims = r.dims;
            if p.multi_range {
                dims.push(name.clone());
            }
            rows.push(FinalRow {
                dims,
                values,
                texts,
                range: ri,
                q: r.q,
            });
        }
        per_range_q.push(sum);
    }

    // Default order: first visible metric descending, then dimensions ascending.
    rows.sort_by(|a, b| {
        for o in &p.orders {
            let ord = match *o {
                Order::Metric { slot, desc } => {
                    let ord = a.values[slot].total_cmp(&b.values[slot]);
                    if desc { ord.reverse() } else { ord }
                }
                Order::Dim { index, ty, desc } => {
                    let ord = compare_dims(&a.dims[index], &b.dims[index], ty);
                    if desc { ord.reverse() } else { ord }
                }
            };
            if ord.is_ne() {
                return ord;
            }
        }
        if p.orders.is_empty()
            && let Some(&first) = p.visible.first()
        {
            let ord = b.values[first].total_cmp(&a.values[first]);
            if ord.is_ne() {
                return ord;
            }
        }
        a.dims.cmp(&b.dims).then(a.range.cmp(&b.range))
    });

    let aggregate_row = |label: &str, range: usize, name: &str, values: Vec<f64>| -> FinalRow {
        let mut dims: Vec<String> = p.out_dims.iter().map(|_| label.to_string()).collect();
        if p.multi_range {
            dims.push(name.to_string());
        }
        let texts = p
            .slots
            .iter()
            .zip(&values)
            .map(|(s, v)| catalog::format_value(s.ty, *v))
            .collect();
        FinalRow {
            dims,
            values,
            texts,
            range,
            q: Vec::new(),
        }
    };
    let mut totals = Vec::new();
    let mut minimums = Vec::new();
    let mut maximums = Vec::new();
    for (ri, (_, name)) in p.axes.iter().enumerate() {
        if p.totals {
            let (values, _) = compute(&p.slots, &per_range_q[ri]);
            totals.push(aggregate_row("RESERVED_TOTAL", ri, name, values));
        }
        let in_range: Vec<&FinalRow> = rows.iter().filter(|r| r.range == ri).collect();
        let fold = |pick_min: bool| -> Vec<f64> {
            (0..p.slots.len())
                .map(|i| {
                    let it = in_range.iter().map(|r| r.values[i]);
                    let v = if pick_min {
                        it.fold(f64::INFINITY, f64::min)
                    } else {
                        it.fold(f64::NEG_INFINITY, f64::max)
                    };
                    if v.is_finite() { v } else { 0.0 }
                })
                .collect()
        };
        if p.minimums {
            minimums.push(aggregate_row("RESERVED_MIN", ri, name, fold(true)));
        }
        if p.maximums {
            maximums.push(aggregate_row("RESERVED_MAX", ri, name, fold(false)));
        }
    }
    let tokens =
        1 + (generated as u64) / 2_000 + (p.days.max(0) as u64) / 30 + p.axes.len() as u64 - 1;
    Ok(Executed {
        rows,
        totals,
        minimums,
        maximums,
        tokens,
    })
}

#[derive(Serialize)]
struct Header<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct MetricHeader<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ty: &'a str,
}

#[derive(Serialize)]
struct Cell<'a> {
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RowJson<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dimension_values: Vec<Cell<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metric_values: Vec<Cell<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    currency_code: &'a str,
    time_zone: &'a str,
}

/// A report response body, serialized with Google's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportJson<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dimension_headers: Vec<Header<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    metric_headers: Vec<MetricHeader<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rows: Vec<RowJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    totals: Vec<RowJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    maximums: Vec<RowJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    minimums: Vec<RowJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    row_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    property_quota: Option<Value>,
    kind: &'static str,
}

/// A Standard property's token buckets: (name, limit). All draw on one running total here,
/// which refills every wall-clock hour (`state::refill`), so the smallest is the one that runs
/// out: `tokensPerProjectPerHour`.
pub const TOKEN_LIMITS: [(&str, u64); 3] = [
    ("tokensPerDay", 200_000),
    ("tokensPerHour", 40_000),
    ("tokensPerProjectPerHour", 14_000),
];

/// Google's error when a bucket of `TOKEN_LIMITS` is empty, or none while all have tokens.
pub fn exhausted(property: &str, used_total: u64) -> Option<ApiError> {
    let (bucket, limit) = TOKEN_LIMITS
        .iter()
        .copied()
        .find(|(_, limit)| used_total >= *limit)?;
    let what = match bucket {
        "tokensPerDay" => "property tokens per day",
        "tokensPerHour" => "property tokens per hour",
        _ => "property tokens per hour for a project per property",
    };
    Some(ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        format!(
            "Exhausted {what}. This property (properties/{property}) has used its {limit} tokens; \
             the quota replenishes over time. Please try again later."
        ),
    ))
}

/// Builds the `propertyQuota` object (zero `consumed` omitted, as proto3 JSON does).
pub fn quota_json(consumed: u64, used_total: u64) -> Value {
    let bucket = |consumed: u64, remaining: i64| {
        let mut m = Map::new();
        if consumed > 0 {
            m.insert("consumed".into(), json!(consumed));
        }
        m.insert("remaining".into(), json!(remaining.max(0)));
        Value::Object(m)
    };
    let used = used_total as i64;
    let limit = |name: &str| {
        TOKEN_LIMITS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, l)| *l as i64)
    };
    json!({
        "tokensPerDay": bucket(consumed, limit("tokensPerDay") - used),
        "tokensPerHour": bucket(consumed, limit("tokensPerHour") - used),
        "concurrentRequests": bucket(0, 10),
        "serverErrorsPerProjectPerHour": bucket(0, 10),
        "potentiallyThresholdedRequestsPerHour": bucket(0, 120),
        "tokensPerProjectPerHour": bucket(consumed, limit("tokensPerProjectPerHour") - used),
    })
}

/// Renders the response body of an executed report.
pub fn render<'a>(
    p: &'a Prepared,
    e: &'a Executed,
    prop: &'a PropertyInfo,
    quota: Option<Value>,
) -> ReportJson<'a> {
    let realtime = p.mode == Mode::Realtime;
    fn row_json<'a>(visible: &[usize], r: &'a FinalRow) -> RowJson<'a> {
        RowJson {
            dimension_values: r.dims.iter().map(|v| Cell { value: v }).collect(),
            metric_values: visible
                .iter()
                .map(|&i| Cell { value: &r.texts[i] })
                .collect(),
        }
    }
    let row_json = |r| row_json(&p.visible, r);
    let total = e.rows.len();
    let page: Vec<RowJson<'_>> = e
        .rows
        .iter()
        .skip(p.offset)
        .take(p.limit)
        .map(row_json)
        .collect();
    ReportJson {
        dimension_headers: p.dim_headers.iter().map(|n| Header { name: n }).collect(),
        metric_headers: p
            .visible
            .iter()
            .map(|&i| MetricHeader {
                name: &p.slots[i].name,
                ty: p.slots[i].ty,
            })
            .collect(),
        rows: page,
        totals: e.totals.iter().map(row_json).collect(),
        maximums: e.maximums.iter().map(row_json).collect(),
        minimums: e.minimums.iter().map(row_json).collect(),
        row_count: (total > 0).then_some(total),
        metadata: (!realtime).then(|| Metadata {
            currency_code: &p.currency_code,
            time_zone: &prop.time_zone,
        }),
        property_quota: quota,
        kind: if realtime {
            "analyticsData#runRealtimeReport"
        } else {
            "analyticsData#runReport"
        },
    }
}

/// Output rows with their summed quantities (used by funnels).
pub fn raw_rows(e: &Executed) -> Vec<(&[String], &[f64])> {
    e.rows
        .iter()
        .map(|r| (r.dims.as_slice(), r.q.as_slice()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixtures;
    use crate::ga4::property::Registry;
    use chrono::NaiveDate;

    fn setup() -> (std::sync::Arc<PropertyInfo>, Clock) {
        let f = Fixtures::from_toml_str(
            "[[google_clients]]\nclient_id='c'\nclient_secret='s'\n[[google_grants]]\nrefresh_token='r'\nclient_id='c'\nga4_properties=['326784853']\n[[ga4_properties]]\nid='326784853'\ncurrency_code='PLN'\ngoogle_ads_links=['1234567890']\ncustom_metrics=[{parameter_name='loyalty_points',display_name='Loyalty points'}]\n",
        )
        .unwrap();
        (
            Registry::build(&f).get("326784853").unwrap(),
            Clock {
                today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                minute_of_day: 720,
            },
        )
    }

    fn run(json: &str) -> Result<Value, ApiError> {
        run_version(json, Version::V1beta)
    }

    fn run_version(json: &str, version: Version) -> Result<Value, ApiError> {
        let (prop, clock) = setup();
        let req: RunReportRequest = serde_json::from_str(json).unwrap();
        let p = prepare_report(&req, &prop, clock, version)?;
        let e = execute(&p, &prop, clock)?;
        Ok(serde_json::to_value(render(&p, &e, &prop, None)).unwrap())
    }

    #[test]
    fn shape_and_types() {
        let v = run(r#"{"dateRanges":[{"startDate":"28daysAgo","endDate":"yesterday"}],
            "dimensions":[{"name":"date"}],
            "metrics":[{"name":"sessions"},{"name":"engagementRate"},{"name":"averageSessionDuration"},{"name":"purchaseRevenue"},{"name":"customEvent:loyalty_points"}]}"#).unwrap();
        assert_eq!(v["kind"], "analyticsData#runReport");
        assert_eq!(v["rowCount"], 28);
        assert_eq!(v["metricHeaders"][0]["type"], "TYPE_INTEGER");
        assert_eq!(v["metricHeaders"][1]["type"], "TYPE_FLOAT");
        assert_eq!(v["metricHeaders"][2]["type"], "TYPE_SECONDS");
        assert_eq!(v["metricHeaders"][3]["type"], "TYPE_CURRENCY");
        assert_eq!(v["metricHeaders"][4]["type"], "TYPE_STANDARD");
        assert_eq!(v["metadata"]["currencyCode"], "PLN");
        let row = &v["rows"][0];
        assert!(
            row["dimensionValues"][0]["value"]
                .as_str()
                .unwrap()
                .starts_with("2026")
        );
        let er: f64 = row["metricValues"][1]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(er > 0.0 && er < 1.0);
        // Default ordering: first metric descending.
        let first: i64 = v["rows"][0]["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let second: i64 = v["rows"][1]["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(first >= second);
    }

    #[test]
    fn paging_ordering_and_aggregations() {
        let base = r#""dateRanges":[{"startDate":"2026-09-01","endDate":"2026-09-30"}],"dimensions":[{"name":"date"}],"metrics":[{"name":"sessions"}],"orderBys":[{"dimension":{"dimensionName":"date"}}],"metricAggregations":["TOTAL","MINIMUM","MAXIMUM","COUNT"]"#;
        let all = run(&format!("{{{base}}}")).unwrap();
        let page = run(&format!(r#"{{{base},"limit":"5","offset":10}}"#)).unwrap();
        assert_eq!(all["rowCount"], 30);
        assert_eq!(page["rowCount"], 30);
        assert_eq!(page["rows"].as_array().unwrap().len(), 5);
        assert_eq!(page["rows"][0], all["rows"][10]);
        assert_eq!(all["rows"][0]["dimensionValues"][0]["value"], "20260901");
        let sum: i64 = all["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["metricValues"][0]["value"]
                    .as_str()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap()
            })
            .sum();
        let total: i64 = all["totals"][0]["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - total).abs() <= 30, "{sum} vs {total}");
        assert_eq!(
            all["totals"][0]["dimensionValues"][0]["value"],
            "RESERVED_TOTAL"
        );
        assert_eq!(
            all["minimums"][0]["dimensionValues"][0]["value"],
            "RESERVED_MIN"
        );
        assert_eq!(
            all["maximums"][0]["dimensionValues"][0]["value"],
            "RESERVED_MAX"
        );
        let min: i64 = all["minimums"][0]["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let max: i64 = all["maximums"][0]["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(min <= max);
        let beyond = run(&format!(r#"{{{base},"offset":100}}"#)).unwrap();
        assert!(beyond.get("rows").is_none());
        assert_eq!(beyond["rowCount"], 30);
        assert!(run(&format!(r#"{{{base},"limit":-1}}"#)).is_err());
        assert!(run(&format!(r#"{{{base},"offset":"-3"}}"#)).is_err());
    }

    #[test]
    fn two_ranges_add_date_range_dimension() {
        let v = run(r#"{"dateRanges":[{"startDate":"14daysAgo","endDate":"8daysAgo","name":"previous"},{"startDate":"7daysAgo","endDate":"yesterday"}],
            "dimensions":[{"name":"deviceCategory"}],"metrics":[{"name":"sessions"}],"metricAggregations":["TOTAL"]}"#).unwrap();
        assert_eq!(v["dimensionHeaders"][1]["name"], "dateRange");
        let names: std::collections::HashSet<&str> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dimensionValues"][1]["value"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["previous", "date_range_1"].into_iter().collect());
        assert_eq!(v["totals"].as_array().unwrap().len(), 2);
        assert_eq!(
            v["totals"][1]["dimensionValues"][1]["value"],
            "date_range_1"
        );
    }

    #[test]
    fn filters_apply() {
        let v = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"yesterday"}],
            "dimensions":[{"name":"sessionDefaultChannelGroup"}],"metrics":[{"name":"sessions"}],
            "dimensionFilter":{"andGroup":{"expressions":[
                {"filter":{"fieldName":"deviceCategory","stringFilter":{"value":"desktop"}}},
                {"filter":{"fieldName":"sessionDefaultChannelGroup","inListFilter":{"values":["Direct","Organic Search","Email"]}}}]}},
            "metricFilter":{"filter":{"fieldName":"sessions","numericFilter":{"operation":"GREATER_THAN","value":{"int64Value":"0"}}}}}"#).unwrap();
        let rows = v["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        let none = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"yesterday"}],"dimensions":[{"name":"country"}],"metrics":[{"name":"sessions"}],
            "metricFilter":{"filter":{"fieldName":"sessions","numericFilter":{"operation":"LESS_THAN","value":{"doubleValue":-1}}}}}"#).unwrap();
        assert!(none.get("rows").is_none());
        assert!(none.get("rowCount").is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let e = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"today"}],"metrics":[{"name":"pageViews"}]}"#).unwrap_err();
        assert!(
            e.message
                .starts_with("Field pageViews is not a valid metric."),
            "{}",
            e.message
        );
        let e = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"today"}],"dimensions":[{"name":"nope"}]}"#).unwrap_err();
        assert!(
            e.message
                .starts_with("Field nope is not a valid dimension.")
        );
        let e = run(r#"{"dateRanges":[{"startDate":"today","endDate":"7daysAgo"}],"metrics":[{"name":"sessions"}]}"#).unwrap_err();
        assert_eq!(e.status, "INVALID_ARGUMENT");
        let e = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"today"}],"metrics":[{"name":"sessions"}],"orderBys":[{"metric":{"metricName":"activeUsers"}}]}"#).unwrap_err();
        assert!(e.message.contains("activeUsers"));
        let e = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"today"}],"metrics":[{"name":"allConversionsByConversionDate"}]}"#).unwrap_err();
        assert!(e.message.contains("allConversionsByConversionDate"));
    }

    #[test]
    fn conversions_report() {
        let v = run_version(r#"{"dateRanges":[{"startDate":"30daysAgo","endDate":"yesterday"}],
            "dimensions":[{"name":"defaultChannelGroup"}],
            "metrics":[{"name":"allConversionsByInteractionDate"},{"name":"advertiserAdCost"},{"name":"returnOnAdSpendByConversionDate"}],
            "conversionSpec":{"conversionActions":[],"attributionModel":"LAST_CLICK"}}"#, Version::V1alpha).unwrap();
        assert_eq!(v["metricHeaders"][0]["type"], "TYPE_FLOAT");
        assert_eq!(v["metricHeaders"][1]["type"], "TYPE_CURRENCY");
        assert!(v["rowCount"].as_u64().unwrap() > 5);
        let e = run_version(r#"{"dateRanges":[{"startDate":"30daysAgo","endDate":"yesterday"}],"metrics":[{"name":"sessions"}],"conversionSpec":{}}"#, Version::V1alpha).unwrap_err();
        assert!(e.message.contains("sessions"));
        let e = run_version(r#"{"dateRanges":[{"startDate":"30daysAgo","endDate":"yesterday"}],"dimensions":[{"name":"pagePath"}],"metrics":[{"name":"advertiserAdCost"}],"conversionSpec":{}}"#, Version::V1alpha).unwrap_err();
        assert!(e.message.contains("pagePath"));
        assert!(run(r#"{"dateRanges":[{"startDate":"30daysAgo","endDate":"yesterday"}],"metrics":[{"name":"sessions"}],"conversionSpec":{}}"#).is_err());
    }

    #[test]
    fn expressions_and_currency() {
        let v = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"yesterday"}],
            "metrics":[{"name":"sessions"},{"name":"eventsPerSessionX","expression":"eventCount/sessions"},{"name":"purchaseRevenue"}],
            "currencyCode":"EUR"}"#).unwrap();
        assert_eq!(v["metricHeaders"][1]["name"], "eventsPerSessionX");
        assert_eq!(v["metricHeaders"][1]["type"], "TYPE_FLOAT");
        assert_eq!(v["metadata"]["currencyCode"], "EUR");
        let pln = run(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"yesterday"}],"metrics":[{"name":"purchaseRevenue"}]}"#).unwrap();
        let eur: f64 = v["rows"][0]["metricValues"][2]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let pln: f64 = pln["rows"][0]["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((pln / eur - 4.3).abs() < 0.01, "{pln} / {eur}");
    }
}
