//! v1alpha `runFunnelReport`: step users derived from the model's event reach and facet
//! shares, strictly non-increasing for closed funnels, with optional breakdown, next action
//! and trended visualization, answered in GA4's `funnelTable` / `funnelVisualization` shape.
//!
//! Wire quirks reproduced on purpose (observed in real responses): all four funnel-table
//! metric headers are typed `TYPE_INTEGER` even for the rates, and the metric header block
//! of `funnelTable` is repeated twice while each row carries one copy of the values.

use serde_json::{Value, json};

use super::catalog::{self, DimKind, Mode};
use super::dates;
use super::engine::{self, Axis, GenDim, Generation, OutDim};
use super::filter;
use super::model::{self, Facet, GenContext};
use super::property::{Clock, PropertyInfo};
use super::report::{DEFAULT_LIMIT, MAX_LIMIT, unknown_dimension};
use super::request::{FunnelFilterExpression, RunFunnelReportRequest};
use crate::google::rpc::ApiError;
use crate::hash::{fnv, mix, range};

const MAX_STEPS: usize = 10;
const TABLE_METRICS: [&str; 4] = [
    "activeUsers",
    "funnelStepCompletionRate",
    "funnelStepAbandonments",
    "funnelStepAbandonmentRate",
];

/// Result of a funnel report: body without quota, and its token cost.
pub struct FunnelOutput {
    /// Response body (without `propertyQuota`).
    pub body: Value,
    /// Quota tokens.
    pub tokens: u64,
}

fn resolve_dim(name: &str, prop: &PropertyInfo) -> Result<DimKind, ApiError> {
    catalog::dimension(name, prop, Mode::Core).ok_or_else(|| unknown_dimension(name, Mode::Core))
}

/// Fraction of users matching a funnel step condition (0..=1).
fn reach(
    expr: &FunnelFilterExpression,
    ctx: &GenContext<'_>,
    typical: &[f64],
    depth: usize,
) -> Result<f64, ApiError> {
    if depth > 32 {
        return Err(ApiError::invalid_argument(
            "Funnel filter expression is nested too deeply.",
        ));
    }
    let prop = ctx.prop;
    let set = [
        expr.and_group.is_some(),
        expr.or_group.is_some(),
        expr.not_expression.is_some(),
        expr.funnel_field_filter.is_some(),
        expr.funnel_event_filter.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if set != 1 {
        return Err(ApiError::invalid_argument(
            "A FunnelFilterExpression must set exactly one of andGroup, orGroup, notExpression, funnelFieldFilter or funnelEventFilter.",
        ));
    }
    if let Some(g) = &expr.and_group {
        let mut r = 1.0;
        for e in &g.expressions {
            r *= reach(e, ctx, typical, depth + 1)?;
        }
        return Ok(r);
    }
    if let Some(g) = &expr.or_group {
        let mut miss = 1.0;
        for e in &g.expressions {
            miss *= 1.0 - reach(e, ctx, typical, depth + 1)?;
        }
        return Ok(1.0 - miss);
    }
    if let Some(inner) = &expr.not_expression {
        return Ok(1.0 - reach(inner, ctx, typical, depth + 1)?);
    }
    if let Some(ev) = &expr.funnel_event_filter {
        if ev.event_name.is_empty() {
            return Err(ApiError::invalid_argument(
                "funnelEventFilter.eventName must not be empty.",
            ));
        }
        let mut r = match model::event_index(&ev.event_name) {
            Some(e) => {
                let mut out = vec![0.0; typical.len()];
                model::event_split(prop, e, typical, &mut out);
                catalog::div(out[model::ACTIVE_USERS], typical[model::ACTIVE_USERS])
            }
            None => range(mix(&[prop.hash, fnv(&ev.event_name)]), 0.01, 0.3),
        };
        if let Some(params) = &ev.funnel_parameter_filter_expression {
            r *= range(mix(&[prop.hash, fnv(&params.to_string())]), 0.3, 0.7);
        }
        return Ok(r.min(1.0));
    }
    let Some(field) = &expr.funnel_field_filter else {
        return Ok(1.0);
    };
    let test = filter::compile_leaf_test(field)?;
    if catalog::metric(&field.field_name, prop, Mode::Core).is_some() {
        return Ok(0.5);
    }
    match resolve_dim(&field.field_name, prop)? {
        DimKind::Facet(Facet::Event, col) => {
            let total: f64 = (0..model::event_member_count())
                .map(|e| model::event_count(e, typical))
                .sum();
            let matched: f64 = (0..model::event_member_count())
                .filter(|&e| {
                    let v = model::value(Facet::Event, e, col, prop);
                    test.matches(&v, v.parse().ok())
                })
                .map(|e| model::event_count(e, typical))
                .sum();
            Ok(catalog::div(matched, total))
        }
        DimKind::Facet(facet, col) => {
            let members = model::members(facet, ctx);
            let total: f64 = members.iter().map(|m| m.weight).sum();
            let matched: f64 = members
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    let v = model::value(facet, *i, col, prop);
                    test.matches(&v, v.parse().ok())
                })
                .map(|(_, m)| m.weight)
                .sum();
            Ok(catalog::div(matched, total))
        }
        _ => Ok(0.5),
    }
}

fn int(v: f64) -> String {
    catalog::format_value("TYPE_INTEGER", v)
}

fn float(v: f64) -> String {
    catalog::format_value("TYPE_FLOAT", v)
}

fn row(dims: &[&str], metrics: &[String]) -> Value {
    json!({
        "dimensionValues": dims.iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
        "metricValues": metrics.iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
    })
}

/// Runs a funnel report.
pub fn run(
    req: &RunFunnelReportRequest,
    prop: &PropertyInfo,
    clock: Clock,
) -> Result<FunnelOutput, ApiError> {
    if let Some(p) = req.property.as_deref().filter(|p| !p.is_empty())
        && p != format!("properties/{}", prop.id)
    {
        return Err(ApiError::invalid_argument(format!(
            "The property \"{p}\" in the request body does not match properties/{} in the URL.",
            prop.id
        )));
    }
    if !req.segments.is_empty() {
        return Err(ApiError::invalid_argument(
            "Funnel segments are not supported by the sandbox.",
        ));
    }
    let steps = req
        .funnel
        .as_ref()
        .map(|f| f.steps.as_slice())
        .unwrap_or(&[]);
    if steps.is_empty() {
        return Err(ApiError::invalid_argument(
            "A funnel must have at least one step.",
        ));
    }
    if steps.len() > MAX_STEPS {
        return Err(ApiError::invalid_argument(format!(
            "A funnel can have at most {MAX_STEPS} steps; {} were requested.",
            steps.len()
        )));
    }
    let open = req.funnel.as_ref().is_some_and(|f| f.is_open_funnel);
    let ranges = dates::resolve(&req.date_ranges, clock.today, 1)?;
    let Some(range_) = ranges.first() else {
        return Err(ApiError::invalid_argument(
            "A funnel report needs a date range.",
        ));
    };
    let trended = match &req.funnel_visualization_type {
        None => false,
        Some(v) => match v.resolve(&[
            ("FUNNEL_VISUALIZATION_TYPE_UNSPECIFIED", 0),
            ("STANDARD_FUNNEL", 1),
            ("TRENDED_FUNNEL", 2),
        ]) {
            Some("TRENDED_FUNNEL") => true,
            Some(_) => false,
            None => {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value at 'funnel_visualization_type', \"{}\"",
                    v.text()
                )));
            }
        },
    };
    let limit = match req.limit.map(|l| l.0).unwrap_or(0) {
        l if l < 0 => {
            return Err(ApiError::invalid_argument(format!(
                "limit must be positive, but was {l}."
            )));
        }
        0 => DEFAULT_LIMIT,
        l => l.min(MAX_LIMIT),
    } as usize;

    // Base population: active users by (date?, breakdown?) after the dimension filter.
    let mut gen_dims: Vec<GenDim> = Vec::new();
    let mut out_dims: Vec<OutDim> = Vec::new();
    if trended {
        gen_dims.push(GenDim {
            name: "date".into(),
            kind: resolve_dim("date", prop)?,
        });
        out_dims.push(OutDim::Plain(0));
    }
    let breakdown = match &req.funnel_breakdown {
        Some(b) => {
            let Some(dim) = b
                .breakdown_dimension
                .as_ref()
                .filter(|d| !d.name.is_empty())
            else {
                return Err(ApiError::invalid_argument(
                    "funnelBreakdown.breakdownDimension.name is required.",
                ));
            };
            let limit = match b.limit.map(|l| l.0).unwrap_or(5) {
                l if !(1..=15).contains(&l) => {
                    return Err(ApiError::invalid_argument(format!(
                        "funnelBreakdown.limit must be between 1 and 15, but was {l}."
                    )));
                }
                l => l as usize,
            };
            let kind = resolve_dim(&dim.name, prop)?;
            let idx = match gen_dims.iter().position(|g| g.name == dim.name) {
                Some(i) => i,
                None => {
                    gen_dims.push(GenDim {
                        name: dim.name.clone(),
                        kind,
                    });
                    gen_dims.len() - 1
                }
            };
            out_dims.push(OutDim::Plain(idx));
            Some((dim.name.clone(), limit))
        }
        None => None,
    };
    let next_action = match &req.funnel_next_action {
        Some(n) => {
            let Some(dim) = n
                .next_action_dimension
                .as_ref()
                .filter(|d| !d.name.is_empty())
            else {
                return Err(ApiError::invalid_argument(
                    "funnelNextAction.nextActionDimension.name is required.",
                ));
            };
            let kind = resolve_dim(&dim.name, prop)?;
            if !matches!(kind, DimKind::Facet(Facet::Event | Facet::Page, _)) {
                return Err(ApiError::invalid_argument(format!(
                    "nextActionDimension only supports eventName and page / screen dimensions, not {}.",
                    dim.name
                )));
            }
            let limit = match n.limit.map(|l| l.0).unwrap_or(5) {
                l if !(1..=5).contains(&l) => {
                    return Err(ApiError::invalid_argument(format!(
                        "funnelNextAction.limit must be between 1 and 5, but was {l}."
                    )));
                }
                l => l as usize,
            };
            let DimKind::Facet(facet, col) = kind else {
                return Err(unknown_dimension(&dim.name, Mode::Core));
            };
            Some((dim.name.clone(), facet, col, limit))
        }
        None => None,
    };
    let dim_filter = match &req.dimension_filter {
        Some(expr) => Some(filter::compile(expr, &mut |name| {
            if let Some(i) = gen_dims.iter().position(|g| g.name == name) {
                return Ok(i);
            }
            gen_dims.push(GenDim {
                name: name.to_string(),
                kind: resolve_dim(name, prop)?,
            });
            Ok(gen_dims.len() - 1)
        })?),
        None => None,
    };
    let ctx = GenContext {
        prop,
        clock,
        currency: 1.0,
        conversions: None,
    };
    let raw = engine::generate(
        &Generation {
            ctx,
            gen_dims: &gen_dims,
            out_dims: &out_dims,
            filter: dim_filter.as_ref(),
            keep_empty: false,
        },
        Axis::Days(range_.start, range_.end),
    )?;

    // Typical quantities of a full day, for event reach.
    let mut typical = vec![0.0; ctx.nq()];
    model::day_base(
        &ctx,
        clock.today.pred_opt().unwrap_or(clock.today),
        &mut typical,
    );
    model::recompute_events(&mut typical);
    let reaches: Vec<f64> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let expr = s.filter_expression.as_ref().ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Funnel step {} needs a filterExpression.",
                    i + 1
                ))
            })?;
            Ok(reach(expr, &ctx, &typical, 0)?.clamp(0.0005, 1.0))
        })
        .collect::<Result<_, ApiError>>()?;
    let labels: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, s.name))
        .collect();

    // Step users for one population slice.
    let counts = |users: f64, salt: &str| -> Vec<f64> {
        let mut out: Vec<f64> = Vec::with_capacity(steps.len());
        for (k, step) in steps.iter().enumerate() {
            let value = if k == 0 {
                users * reaches[0]
            } else {
                let mut c = (reaches[k] / reaches[k - 1]).clamp(0.03, 0.92);
                if step.is_directly_followed_by {
                    c *= 0.7;
                }
                if step.within_duration_from_prior_step.is_some() {
                    c *= 0.9;
                }
                c = (c * range(mix(&[prop.hash, fnv(salt), k as u64]), 0.9, 1.1)).min(0.97);
                let carried = out[k - 1] * c;
                if open {
                    carried + users * reaches[k] * 0.08
                } else {
                    carried
                }
            };
            let value = value.round();
            let value = if open || k == 0 {
                value
            } else {
                value.min(out[k - 1])
            };
            out.push(value.max(0.0));
        }
        out
    };
    let metrics = |counts: &[f64], k: usize| -> Vec<String> {
        let users = counts[k];
        let (completion, abandon) = match counts.get(k + 1) {
            Some(next) if users > 0.0 => {
                let rate = (next / users).min(1.0);
                (rate, (users - next).max(0.0))
            }
            Some(_) => (0.0, 0.0),
            None => (1.0, 0.0),
        };
        let abandon_rate = if users > 0.0 && k + 1 < counts.len() {
            1.0 - completion
        } else {
            0.0
        };
        vec![
            int(users),
            float(completion),
            int(abandon),
            float(abandon_rate),
        ]
    };

    // Aggregate the population per breakdown value (and per date when trended).
    let bd_pos = usize::from(trended);
    let mut by_value: Vec<(String, f64)> = Vec::new();
    let mut total_users = 0.0;
    for (dims, q) in raw.iter().map(|r| (&r.dims, &r.q)) {
        let users = q[model::ACTIVE_USERS];
        total_users += users;
        if breakdown.is_some() {
            let v = dims.get(bd_pos).cloned().unwrap_or_default();
            match by_value.iter_mut().find(|(n, _)| *n == v) {
                Some(e) => e.1 += users,
                None => by_value.push((v, users)),
            }
        }
    }
    by_value.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<(String, f64)> = match &breakdown {
        Some((_, l)) => by_value.iter().take(*l).cloned().collect(),
        None => Vec::new(),
    };

    let mut dim_headers = vec![json!({"name": "funnelStepName"})];
    if let Some((name, _)) = &breakdown {
        dim_headers.push(json!({"name": name}));
    }
    if let Some((name, ..)) = &next_action {
        dim_headers.push(json!({"name": name}));
    }
    let next_values: Vec<(String, f64)> = match &next_action {
        Some((_, facet, col, l)) => {
            let members = model::members(*facet, &ctx);
            let count = if *facet == Facet::Event {
                model::event_member_count()
            } else {
                members.len()
            };
            let mut vals: Vec<(String, f64)> = Vec::new();
            for m in 0..count {
                let w = if *facet == Facet::Event {
                    model::event_count(m, &typical)
                } else {
                    members.get(m).map(|x| x.weight).unwrap_or(0.0)
                };
                let v = model::value(*facet, m, *col, prop);
                match vals.iter_mut().find(|(n, _)| *n == v) {
                    Some(e) => e.1 += w,
                    None => vals.push((v, w)),
                }
            }
            let total: f64 = vals.iter().map(|v| v.1).sum();
            vals.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            vals.into_iter()
                .take(*l)
                .map(|(n, w)| (n, catalog::div(w, total)))
                .collect()
        }
        None => Vec::new(),
    };

    let mut table_rows: Vec<Value> = Vec::new();
    let total_counts = if breakdown.is_some() {
        // RESERVED_TOTAL is the sum over every breakdown value, shown or not.
        let mut sums = vec![0.0; steps.len()];
        for (v, users) in &by_value {
            for (s, c) in sums.iter_mut().zip(counts(*users, v)) {
                *s += c;
            }
        }
        sums
    } else {
        counts(total_users, "")
    };
    for k in 0..steps.len() {
        let mut slices: Vec<(String, Vec<f64>)> = Vec::new();
        if breakdown.is_some() {
            slices.push(("RESERVED_TOTAL".into(), total_counts.clone()));
            for (v, users) in &top {
                slices.push((v.clone(), counts(*users, v)));
            }
        } else {
            slices.push((String::new(), total_counts.clone()));
        }
        for (value, c) in &slices {
            let mut dims: Vec<&str> = vec![&labels[k]];
            if breakdown.is_some() {
                dims.push(value);
            }
            if next_action.is_some() {
                for (nv, share) in &next_values {
                    let m = metrics(c, k);
                    let scaled = vec![
                        int(c[k] * share),
                        m[1].clone(),
                        int((c[k] - c.get(k + 1).copied().unwrap_or(c[k])).max(0.0) * share),
                        m[3].clone(),
                    ];
                    let mut d = dims.clone();
                    d.push(nv);
                    table_rows.push(row(&d, &scaled));
                }
            } else {
                table_rows.push(row(&dims, &metrics(c, k)));
            }
        }
    }
    table_rows.truncate(limit);

    // Visualization: activeUsers per step (per breakdown value; per date when trended).
    let mut vis_headers = Vec::new();
    if trended {
        vis_headers.push(json!({"name": "date"}));
    }
    vis_headers.push(json!({"name": "funnelStepName"}));
    if let Some((name, _)) = &breakdown {
        vis_headers.push(json!({"name": name}));
    }
    let mut vis_rows: Vec<Value> = Vec::new();
    if trended {
        let mut by_date: Vec<(String, String, f64)> = raw
            .iter()
            .map(|r| {
                (
                    r.dims.first().cloned().unwrap_or_default(),
                    r.dims.get(1).cloned().unwrap_or_default(),
                    r.q[model::ACTIVE_USERS],
                )
            })
            .filter(|(_, b, _)| breakdown.is_none() || top.iter().any(|(v, _)| v == b))
            .collect();
        by_date.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        for (date, b, users) in &by_date {
            let c = counts(*users, &format!("{b}{date}"));
            for (k, label) in labels.iter().enumerate() {
                let mut d: Vec<&str> = vec![date, label];
                if breakdown.is_some() {
                    d.push(b);
                }
                vis_rows.push(row(&d, &[int(c[k])]));
            }
        }
    } else if breakdown.is_some() {
        for (k, label) in labels.iter().enumerate() {
            for (v, users) in &top {
                let c = counts(*users, v);
                vis_rows.push(row(&[label, v], &[int(c[k])]));
            }
        }
    } else {
        for (k, label) in labels.iter().enumerate() {
            vis_rows.push(row(&[label], &[int(total_counts[k])]));
        }
    }
    vis_rows.truncate(limit);

    let header_block: Vec<Value> = TABLE_METRICS
        .iter()
        .map(|m| json!({"name": m, "type": "TYPE_INTEGER"}))
        .collect();
    let mut table_metric_headers = header_block.clone();
    table_metric_headers.extend(header_block);
    let mut table = json!({
        "dimensionHeaders": dim_headers,
        "metricHeaders": table_metric_headers,
    });
    if !table_rows.is_empty() {
        table["rows"] = Value::Array(table_rows);
    }
    let mut vis = json!({
        "dimensionHeaders": vis_headers,
        "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}],
    });
    if !vis_rows.is_empty() {
        vis["rows"] = Value::Array(vis_rows);
    }
    let tokens = 2 + (range_.len().max(0) as u64) / 30 + steps.len() as u64;
    Ok(FunnelOutput {
        body: json!({
            "funnelTable": table,
            "funnelVisualization": vis,
            "kind": "analyticsData#runFunnelReport",
        }),
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixtures;
    use crate::ga4::property::Registry;
    use chrono::NaiveDate;

    fn go(json: &str) -> Result<Value, ApiError> {
        let f = Fixtures::from_toml_str(
            "[[google_clients]]\nclient_id='c'\nclient_secret='s'\n[[google_grants]]\nrefresh_token='r'\nclient_id='c'\nga4_properties=['326784853']\n",
        )
        .unwrap();
        let prop = Registry::build(&f).get("326784853").unwrap();
        let clock = Clock {
            today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            minute_of_day: 720,
        };
        let req: RunFunnelReportRequest = serde_json::from_str(json).unwrap();
        run(&req, &prop, clock).map(|o| o.body)
    }

    const STEPS: &str = r#""funnel":{"steps":[
        {"name":"View item","filterExpression":{"funnelEventFilter":{"eventName":"view_item"}}},
        {"name":"Add to cart","filterExpression":{"funnelEventFilter":{"eventName":"add_to_cart"}}},
        {"name":"Checkout","filterExpression":{"funnelEventFilter":{"eventName":"begin_checkout"}}},
        {"name":"Purchase","filterExpression":{"funnelEventFilter":{"eventName":"purchase"}}}]}"#;

    fn users(v: &Value, i: usize) -> i64 {
        v["funnelTable"]["rows"][i]["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn closed_funnel_decreases() {
        let v = go(&format!(
            r#"{{"dateRanges":[{{"startDate":"30daysAgo","endDate":"yesterday"}}],{STEPS}}}"#
        ))
        .unwrap();
        assert_eq!(v["kind"], "analyticsData#runFunnelReport");
        assert_eq!(
            v["funnelTable"]["dimensionHeaders"][0]["name"],
            "funnelStepName"
        );
        assert_eq!(
            v["funnelTable"]["metricHeaders"].as_array().unwrap().len(),
            8
        );
        let rows = v["funnelTable"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0]["dimensionValues"][0]["value"], "1. View item");
        for i in 1..4 {
            assert!(users(&v, i) <= users(&v, i - 1));
        }
        assert!(users(&v, 3) > 0);
        let abandon: i64 = rows[0]["metricValues"][2]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(abandon, users(&v, 0) - users(&v, 1));
        assert_eq!(
            v["funnelVisualization"]["rows"].as_array().unwrap().len(),
            4
        );
    }

    #[test]
    fn breakdown_and_trended() {
        let v = go(&format!(r#"{{"dateRanges":[{{"startDate":"7daysAgo","endDate":"yesterday"}}],{STEPS},
            "funnelBreakdown":{{"breakdownDimension":{{"name":"deviceCategory"}}}},"funnelVisualizationType":"TRENDED_FUNNEL"}}"#)).unwrap();
        let rows = v["funnelTable"]["rows"].as_array().unwrap();
        assert_eq!(rows[0]["dimensionValues"][1]["value"], "RESERVED_TOTAL");
        assert_eq!(rows.len(), 4 * 4);
        assert_eq!(
            v["funnelVisualization"]["dimensionHeaders"][0]["name"],
            "date"
        );
        let bad = go(&format!(
            r#"{{"dateRanges":[{{"startDate":"7daysAgo","endDate":"yesterday"}}],{STEPS},
            "funnelBreakdown":{{"breakdownDimension":{{"name":"nope"}}}}}}"#
        ))
        .unwrap_err();
        assert!(bad.message.contains("nope"));
        assert!(go(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"yesterday"}],"funnel":{"steps":[]}}"#).is_err());
    }

    #[test]
    fn field_filters_and_next_action() {
        let v = go(r#"{"dateRanges":[{"startDate":"7daysAgo","endDate":"yesterday"}],"funnel":{"steps":[
            {"name":"Organic","filterExpression":{"funnelFieldFilter":{"fieldName":"firstUserMedium","stringFilter":{"matchType":"CONTAINS","value":"organic"}}}},
            {"name":"Product page","filterExpression":{"andGroup":{"expressions":[
                {"funnelEventFilter":{"eventName":"page_view"}},
                {"funnelFieldFilter":{"fieldName":"pagePath","stringFilter":{"matchType":"BEGINS_WITH","value":"/products/"}}}]}}}]},
            "funnelNextAction":{"nextActionDimension":{"name":"eventName"},"limit":3}}"#).unwrap();
        let rows = v["funnelTable"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2 * 3);
        assert_eq!(v["funnelTable"]["dimensionHeaders"][1]["name"], "eventName");
    }
}
