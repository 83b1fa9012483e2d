//! The report engine: synthesizes the cells of one date (or minute) range for a set of
//! dimensions, applies the dimension filter, and projects to the requested dimensions.
//!
//! Work is bounded: at most [`MAX_CELLS`] distinct dimension combinations per range and at
//! most [`MAX_WORK`] slot×combination updates; larger requests get a 400 that names the
//! limit instead of exhausting memory. (That is a sandbox limit, not a GA4 one.)

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};

use super::catalog::{DimKind, TimeDim};
use super::filter::{Compiled, TextFields};
use super::model::{self, Facet, GenContext, NG};
use crate::google::rpc::ApiError;
use crate::hash::{mix, signed};

/// Maximum distinct dimension combinations synthesized per range (before filtering).
pub const MAX_CELLS: usize = 100_000;
/// Maximum time-slot × combination updates per range.
pub const MAX_WORK: usize = 10_000_000;
/// Maximum time slots (days, or days × 24 with hourly dimensions) per range.
pub const MAX_SLOTS: usize = 200_000;

/// A dimension needed for generation (requested, filtered on, or used by an expression).
#[derive(Debug, Clone)]
pub struct GenDim {
    /// API name.
    pub name: String,
    /// Source.
    pub kind: DimKind,
}

/// How an output dimension is computed from generation dimensions.
#[derive(Debug, Clone)]
pub enum OutDim {
    /// A generation dimension as is.
    Plain(usize),
    /// Lower-cased.
    Lower(usize),
    /// Upper-cased.
    Upper(usize),
    /// Concatenation with a delimiter.
    Concat(Vec<usize>, String),
}

/// The time axis of one range.
#[derive(Debug, Clone, Copy)]
pub enum Axis {
    /// Days `start..=end` in the property's time zone.
    Days(NaiveDate, NaiveDate),
    /// Realtime minutes `start_ago..=end_ago` before "now" (start ≥ end).
    Minutes(u32, u32),
}

/// One generated row: output dimension values and summed quantities.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Output dimension values.
    pub dims: Vec<String>,
    /// Quantities (see `model`).
    pub q: Vec<f64>,
}

/// Inputs of one generation.
pub struct Generation<'a> {
    /// Context.
    pub ctx: GenContext<'a>,
    /// Generation dimensions.
    pub gen_dims: &'a [GenDim],
    /// Output dimensions.
    pub out_dims: &'a [OutDim],
    /// Dimension filter over `gen_dims` slots.
    pub filter: Option<&'a Compiled>,
    /// Keep all-zero cells.
    pub keep_empty: bool,
}

enum Locator {
    Time(usize),
    Facet(usize, usize),
    Event(usize),
}

struct FacetUse {
    facet: Facet,
    cols: Vec<usize>,
    members: Vec<model::Member>,
    member_group: Vec<usize>,
    groups: Vec<Vec<String>>,
}

/// Time slots sharing one facet-noise seed (an ISO-like week, or a realtime minute):
/// their base quantities are pre-summed per time key, so the per-combination loop runs
/// once per (seed, key) instead of once per day or hour.
struct SeedGroup {
    seed: i64,
    /// The scripted incident of these days, if any (its days get their own group).
    incident: Option<usize>,
    sums: Vec<(usize, Vec<f64>)>,
}

impl SeedGroup {
    fn add(&mut self, key: usize, base: &[f64], scale: f64) {
        if scale == 0.0 {
            return;
        }
        let pos = match self.sums.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                self.sums.push((key, vec![0.0; base.len()]));
                self.sums.len() - 1
            }
        };
        for (s, b) in self.sums[pos].1.iter_mut().zip(base) {
            *s += b * scale;
        }
    }
}

fn too_big(what: &str, n: u128, cap: usize) -> ApiError {
    ApiError::invalid_argument(format!(
        "Sandbox limit: this report would synthesize {n} {what} (the sandbox caps this at {cap}). Narrow the date range or request fewer dimensions."
    ))
}

/// Generates the rows of one range.
pub fn generate(g: &Generation<'_>, axis: Axis) -> Result<Vec<RawRow>, ApiError> {
    let ctx = &g.ctx;
    let prop = ctx.prop;
    let nq = ctx.nq();

    // 1. Classify generation dimensions. The time key holds the time dimensions' values in
    // order, followed by `minutesAgo` when requested.
    let time_dims: Vec<TimeDim> = g
        .gen_dims
        .iter()
        .filter_map(|d| match d.kind {
            DimKind::Time(td) => Some(td),
            _ => None,
        })
        .collect();
    let wants_minutes = g.gen_dims.iter().any(|d| d.kind == DimKind::MinutesAgo);
    let mut facets: Vec<FacetUse> = Vec::new();
    let mut event: Option<FacetUse> = None;
    let mut locators = Vec::with_capacity(g.gen_dims.len());
    let mut time_pos = 0;
    for dim in g.gen_dims {
        match dim.kind {
            DimKind::Time(_) => {
                locators.push(Locator::Time(time_pos));
                time_pos += 1;
            }
            DimKind::MinutesAgo => locators.push(Locator::Time(time_dims.len())),
            DimKind::Facet(Facet::Event, col) => {
                let use_ = event.get_or_insert_with(|| FacetUse {
                    facet: Facet::Event,
                    cols: Vec::new(),
                    members: Vec::new(),
                    member_group: Vec::new(),
                    groups: Vec::new(),
                });
                locators.push(Locator::Event(use_.cols.len()));
                use_.cols.push(col);
            }
            DimKind::Facet(facet, col) => {
                let pos = match facets.iter().position(|f| f.facet == facet) {
                    Some(p) => p,
                    None => {
                        facets.push(FacetUse {
                            facet,
                            cols: Vec::new(),
                            members: Vec::new(),
                            member_group: Vec::new(),
                            groups: Vec::new(),
                        });
                        facets.len() - 1
                    }
                };
                locators.push(Locator::Facet(pos, facets[pos].cols.len()));
                facets[pos].cols.push(col);
            }
        }
    }
    let hourly = time_dims.iter().any(|t| t.hourly());

    // 2. Facet groups (members that look identical in the requested columns merge).
    for use_ in facets.iter_mut().chain(event.iter_mut()) {
        let count = if use_.facet == Facet::Event {
            model::event_member_count()
        } else {
            use_.members = model::members(use_.facet, ctx);
            use_.members.len()
        };
        let mut index: HashMap<Vec<String>, usize> = HashMap::new();
        for m in 0..count {
            let key: Vec<String> = use_
                .cols
                .iter()
                .map(|&c| model::value(use_.facet, m, c, prop))
                .collect();
            let next = use_.groups.len();
            let group = *index.entry(key.clone()).or_insert(next);
            if group == next {
                use_.groups.push(key);
            }
            use_.member_group.push(group);
        }
    }

    // 3. Time slots.
    let mut time_keys: Vec<Vec<String>> = Vec::new();
    let mut key_index: HashMap<Vec<String>, usize> = HashMap::new();
    let mut intern = |key: Vec<String>| -> usize {
        let next = time_keys.len();
        let idx = *key_index.entry(key.clone()).or_insert(next);
        if idx == next {
            time_keys.push(key);
        }
        idx
    };
    let mut groups: Vec<SeedGroup> = Vec::new();
    let mut base = vec![0.0f64; nq];
    match axis {
        Axis::Days(start, end) => {
            let days = (end - start).num_days().max(0) as u128 + 1;
            let per_day = if hourly { 24 } else { 1 };
            if days * per_day > MAX_SLOTS as u128 {
                return Err(too_big("time slots", days * per_day, MAX_SLOTS));
            }
            let mut d = start;
            while d <= end {
                // Facet shares drift week by week (see `model::member_factors`).
                let seed = model::day_number(d).div_euclid(7);
                let incident = model::incident_on(prop, d);
                if groups
                    .last()
                    .is_none_or(|g| g.seed != seed || g.incident != incident)
                {
                    groups.push(SeedGroup {
                        seed,
                        incident,
                        sums: Vec::new(),
                    });
                }
                let has_data = model::day_fraction(ctx, d) > 0.0;
                if has_data {
                    model::day_base(ctx, d, &mut base);
                }
                let Some(group) = groups.last_mut() else {
                    break;
                };
                if hourly {
                    for h in 0..24 {
                        let key = intern(time_dims.iter().map(|t| t.value(d, h)).collect());
                        if has_data {
                            let scale = model::hour_weight(h) * model::hour_cutoff(ctx, d, h);
                            group.add(key, &base, scale);
                        }
                    }
                } else {
                    let key = intern(time_dims.iter().map(|t| t.value(d, 0)).collect());
                    if has_data {
                        group.add(key, &base, model::day_fraction(ctx, d));
                    }
                }
                let Some(next) = d.succ_opt() else { break };
                d = next;
            }
        }
        Axis::Minutes(start_ago, end_ago) => {
            let now_abs =
                model::day_number(ctx.clock.today) * 1440 + i64::from(ctx.clock.minute_of_day);
            for ago in (end_ago..=start_ago).rev() {
                let abs = now_abs - i64::from(ago);
                let day_offset = abs.div_euclid(1440) - model::day_number(ctx.clock.today);
                let date = ctx.clock.today + Duration::days(day_offset);
                let minute = abs.rem_euclid(1440) as u32;
                let mut key: Vec<String> = time_dims
                    .iter()
                    .map(|t| t.value(date, minute / 60))
                    .collect();
                if wants_minutes {
                    key.push(format!("{ago:02}"));
                }
                let key = intern(key);
                model::day_base(ctx, date, &mut base);
                let scale = model::hour_weight(minute / 60) / 60.0
                    * (1.0 + 0.35 * signed(mix(&[prop.hash, abs as u64, 77])));
                let mut group = SeedGroup {
                    seed: abs,
                    incident: None,
                    sums: Vec::new(),
                };
                group.add(key, &base, scale);
                groups.push(group);
            }
        }
    }
    if time_keys.is_empty() {
        time_keys.push(Vec::new());
    }

    // 4. Size checks.
    let other: u128 = facets
        .iter()
        .map(|f| f.groups.len().max(1) as u128)
        .product();
    let cells = other * time_keys.len() as u128;
    if cells > MAX_CELLS as u128 {
        return Err(too_big("dimension combinations", cells, MAX_CELLS));
    }
    let slot_count: u128 = groups.iter().map(|g| g.sums.len() as u128).sum();
    if slot_count * other > MAX_WORK as u128 {
        return Err(too_big("slot updates", slot_count * other, MAX_WORK));
    }
    let other = other as usize;
    let ncells = cells as usize;

    // Mixed-radix decomposition of a cell into per-facet group indices.
    let strides: Vec<usize> = {
        let mut s = vec![1usize; facets.len()];
        for i in (0..facets.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * facets[i + 1].groups.len().max(1);
        }
        s
    };
    let group_of: Vec<usize> = (0..nq).map(model::group_of).collect();

    // 5. Accumulate.
    let mut acc = vec![0.0f64; ncells * nq];
    let mut prod = vec![[1.0f64; NG]; other];
    for sg in &groups {
        if sg.sums.is_empty() {
            continue;
        }
        // Per-facet group factors for this seed, multiplied out over the combinations.
        for p in prod.iter_mut() {
            *p = [1.0; NG];
        }
        for (fi, f) in facets.iter().enumerate() {
            let mut member_factors =
                model::member_factors(&f.members, prop, model::facet_salt(f.facet), sg.seed);
            if let (model::Facet::Traffic, Some(i)) = (f.facet, sg.incident) {
                model::adjust_traffic(&mut member_factors, prop, i);
            }
            let mut group_factors = vec![[0.0f64; NG]; f.groups.len().max(1)];
            for (m, factors) in member_factors.iter().enumerate() {
                let gidx = f.member_group[m];
                for (g, v) in group_factors[gidx].iter_mut().zip(factors) {
                    *g += v;
                }
            }
            let stride = strides[fi];
            let count = f.groups.len().max(1);
            for (c, p) in prod.iter_mut().enumerate() {
                let gidx = (c / stride) % count;
                for (pk, gk) in p.iter_mut().zip(&group_factors[gidx]) {
                    *pk *= gk;
                }
            }
        }
        for (key, sum) in &sg.sums {
            for (c, p) in prod.iter().enumerate() {
                let row = (key * other + c) * nq;
                let cell = &mut acc[row..row + nq];
                for ((v, s), g) in cell.iter_mut().zip(sum).zip(&group_of) {
                    *v += s * p[*g];
                }
            }
        }
    }

    // 6. Materialize, expand events, filter, project.
    let mut merged: HashMap<Vec<String>, Vec<f64>> = HashMap::new();
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut scratch = vec![0.0f64; nq];
    let event_groups: Vec<Vec<usize>> = match &event {
        Some(ev) => {
            let mut groups = vec![Vec::new(); ev.groups.len()];
            for (m, g) in ev.member_group.iter().enumerate() {
                groups[*g].push(m);
            }
            groups
        }
        None => vec![Vec::new()],
    };
    for (t, time_key) in time_keys.iter().enumerate() {
        for c in 0..other {
            let row = (t * other + c) * nq;
            let cell = &mut acc[row..row + nq];
            if !g.keep_empty && cell.iter().all(|v| *v == 0.0) {
                continue;
            }
            model::recompute_events(cell);
            for (eg, members) in event_groups.iter().enumerate() {
                let q: &[f64] = if event.is_some() {
                    scratch.fill(0.0);
                    for &e in members {
                        model::event_split(prop, e, cell, &mut scratch);
                    }
                    if !g.keep_empty && scratch.iter().all(|v| *v == 0.0) {
                        continue;
                    }
                    &scratch
                } else {
                    cell
                };
                let values: Vec<&str> = locators
                    .iter()
                    .map(|loc| match *loc {
                        Locator::Time(p) => time_key.get(p).map(String::as_str).unwrap_or(""),
                        Locator::Facet(fi, col) => {
                            let f = &facets[fi];
                            let gidx = (c / strides[fi]) % f.groups.len().max(1);
                            f.groups
                                .get(gidx)
                                .and_then(|v| v.get(col))
                                .map(String::as_str)
                                .unwrap_or("")
                        }
                        Locator::Event(col) => event
                            .as_ref()
                            .and_then(|e| e.groups.get(eg))
                            .and_then(|v| v.get(col))
                            .map(String::as_str)
                            .unwrap_or(""),
                    })
                    .collect();
                if let Some(filter) = g.filter
                    && !filter.eval(&TextFields(&values))
                {
                    continue;
                }
                let dims: Vec<String> = g.out_dims.iter().map(|od| project(od, &values)).collect();
                match merged.get_mut(&dims) {
                    Some(sum) => {
                        for (s, v) in sum.iter_mut().zip(q) {
                            *s += v;
                        }
                    }
                    None => {
                        order.push(dims.clone());
                        merged.insert(dims, q.to_vec());
                    }
                }
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|dims| merged.remove(&dims).map(|q| RawRow { dims, q }))
        .collect())
}

fn project(od: &OutDim, values: &[&str]) -> String {
    let get = |i: usize| values.get(i).copied().unwrap_or("");
    match od {
        OutDim::Plain(i) => get(*i).to_string(),
        OutDim::Lower(i) => get(*i).to_lowercase(),
        OutDim::Upper(i) => get(*i).to_uppercase(),
        OutDim::Concat(parts, delimiter) => parts
            .iter()
            .map(|i| get(*i))
            .collect::<Vec<_>>()
            .join(delimiter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixtures;
    use crate::ga4::catalog::{self, Mode};
    use crate::ga4::property::{Clock, PropertyInfo, Registry};
    use std::sync::Arc;

    fn prop() -> Arc<PropertyInfo> {
        let f = Fixtures::from_toml_str(
            "[[google_clients]]\nclient_id='c'\nclient_secret='s'\n[[google_grants]]\nrefresh_token='r'\nclient_id='c'\nga4_properties=['326784853']\n[[ga4_properties]]\nid='326784853'\ngoogle_ads_links=['1234567890']\ncustom_dimensions=[{parameter_name='shoe_size',display_name='Shoe size'}]\n",
        )
        .unwrap();
        Registry::build(&f).get("326784853").unwrap()
    }

    fn run(p: &PropertyInfo, dims: &[&str], axis: Axis) -> Vec<RawRow> {
        let ctx = GenContext {
            prop: p,
            clock: Clock {
                today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                minute_of_day: 720,
            },
            currency: 1.0,
            conversions: None,
        };
        let mode = if matches!(axis, Axis::Minutes(..)) {
            Mode::Realtime
        } else {
            Mode::Core
        };
        let gen_dims: Vec<GenDim> = dims
            .iter()
            .map(|d| GenDim {
                name: d.to_string(),
                kind: catalog::dimension(d, p, mode).unwrap(),
            })
            .collect();
        let out: Vec<OutDim> = (0..dims.len()).map(OutDim::Plain).collect();
        generate(
            &Generation {
                ctx,
                gen_dims: &gen_dims,
                out_dims: &out,
                filter: None,
                keep_empty: false,
            },
            axis,
        )
        .unwrap()
    }

    fn total(rows: &[RawRow], q: usize) -> f64 {
        rows.iter().map(|r| r.q[q]).sum()
    }

    fn days() -> Axis {
        Axis::Days(
            NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
        )
    }

    #[test]
    fn breakdowns_sum_to_totals() {
        let p = prop();
        let all = run(&p, &[], days());
        assert_eq!(all.len(), 1);
        for dims in [
            vec!["date"],
            vec!["sessionDefaultChannelGroup"],
            vec!["deviceCategory", "country"],
            vec!["eventName"],
            vec!["customEvent:shoe_size", "hour"],
            vec!["sessionSource", "sessionMedium", "newVsReturning"],
        ] {
            let rows = run(&p, &dims, days());
            for q in [
                model::SESSIONS,
                model::PURCHASES,
                model::REVENUE,
                model::EVENTS,
                model::AD_COST,
            ] {
                if dims == ["eventName"] && (q == model::SESSIONS || q == model::AD_COST) {
                    continue; // sessions per event overlap; ad cost has no event
                }
                let (a, b) = (total(&rows, q), all[0].q[q]);
                assert!(
                    (a - b).abs() <= 1e-6 * b.max(1.0),
                    "{dims:?} q{q}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn deterministic_and_consistent_dimensions() {
        let p = prop();
        let a = run(
            &p,
            &[
                "sessionSource",
                "sessionMedium",
                "sessionDefaultChannelGroup",
            ],
            days(),
        );
        let b = run(
            &p,
            &[
                "sessionSource",
                "sessionMedium",
                "sessionDefaultChannelGroup",
            ],
            days(),
        );
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.dims, y.dims);
            assert_eq!(x.q, y.q);
        }
        assert!(
            a.iter()
                .any(|r| r.dims == ["google", "organic", "Organic Search"])
        );
        assert!(a.iter().any(|r| r.dims == ["(direct)", "(none)", "Direct"]));
        assert!(
            a.iter()
                .all(|r| !(r.dims[0] == "(direct)" && r.dims[2] != "Direct"))
        );
    }

    #[test]
    fn future_days_are_empty_and_today_partial() {
        let p = prop();
        let rows = run(
            &p,
            &["date"],
            Axis::Days(
                NaiveDate::from_ymd_opt(2026, 10, 18).unwrap(),
                NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            ),
        );
        let dates: Vec<&str> = rows.iter().map(|r| r.dims[0].as_str()).collect();
        assert_eq!(dates, vec!["20261018", "20261019", "20261020"]);
        assert!(rows[2].q[model::SESSIONS] < rows[1].q[model::SESSIONS]);
        let hours = run(
            &p,
            &["dateHour"],
            Axis::Days(
                NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            ),
        );
        assert_eq!(hours.len(), 12);
    }

    #[test]
    fn realtime_minutes() {
        let p = prop();
        let rows = run(&p, &["minutesAgo"], Axis::Minutes(29, 0));
        assert_eq!(rows.len(), 30);
        assert!(rows.iter().any(|r| r.dims[0] == "00"));
        assert!(rows.iter().any(|r| r.dims[0] == "29"));
        let by_country = run(&p, &["country"], Axis::Minutes(29, 0));
        assert!(by_country.iter().any(|r| r.dims[0] == "Poland"));
    }

    #[test]
    fn oversized_requests_are_refused() {
        let p = prop();
        let ctx = GenContext {
            prop: &p,
            clock: Clock {
                today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                minute_of_day: 720,
            },
            currency: 1.0,
            conversions: None,
        };
        let names = ["dateHour", "pagePath", "city", "browser", "itemName"];
        let gen_dims: Vec<GenDim> = names
            .iter()
            .map(|d| GenDim {
                name: d.to_string(),
                kind: catalog::dimension(d, &p, Mode::Core).unwrap(),
            })
            .collect();
        let out: Vec<OutDim> = (0..names.len()).map(OutDim::Plain).collect();
        let err = generate(
            &Generation {
                ctx,
                gen_dims: &gen_dims,
                out_dims: &out,
                filter: None,
                keep_empty: false,
            },
            Axis::Days(
                NaiveDate::from_ymd_opt(2016, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            ),
        )
        .unwrap_err();
        assert_eq!(err.status, "INVALID_ARGUMENT");
        assert!(err.message.contains("Sandbox limit"));
    }
}
