//! `searchAnalytics.query`: request validation ([`prepare`]), the aggregation engine
//! ([`execute`]) and the response body ([`render`]).
//!
//! The engine walks days × active (query, page) pairs, splits each cell only as deep as the
//! request's dimensions and filters need (see `model`), and sums into rows keyed by packed
//! dimension ids. Rows are ordered by clicks, then impressions (both descending), then the
//! dimension values in request order, so `startRow`/`rowLimit` pages are stable.
//!
//! Sandbox limits (not Google's): at most [`MAX_ROWS`] distinct rows and [`MAX_WORK`] split
//! buckets per request; past them the request gets a 400 naming the limit.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{Duration, NaiveDate, Offset, TimeZone};
use regex_automata::meta::Regex;
use serde::{Deserialize, Serialize};

use super::model::{
    self, APPEARANCES, Cell, DEVICES, DataState, DayBase, Freshness, SearchType, SegmentMix,
};
use super::site::{PACIFIC, SiteInfo};
use super::vocab::{COUNTRIES, PageKind, QueryKind};
use crate::google::rpc::ApiError;
use crate::hash::splitmix;

/// Most distinct rows one request may aggregate (sandbox limit).
pub const MAX_ROWS: usize = 1_000_000;
/// Most split buckets one request may touch (sandbox limit, bounds CPU time).
pub const MAX_WORK: u64 = 80_000_000;
/// Largest `rowLimit`.
pub const MAX_ROW_LIMIT: i64 = 25_000;
/// `rowLimit` when absent (or 0, which proto3 cannot tell from absent).
pub const DEFAULT_ROW_LIMIT: i64 = 1_000;

/// Lower-cases and drops `_`/`-` so `searchAppearance`, `SEARCH_APPEARANCE` and
/// `search_appearance` compare equal (Google accepts enum values in either spelling).
pub fn norm(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The request body (REST names; proto names are accepted too, as Google does).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QueryRequest {
    #[serde(alias = "start_date")]
    start_date: Option<String>,
    #[serde(alias = "end_date")]
    end_date: Option<String>,
    dimensions: Option<Vec<String>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(alias = "search_type")]
    search_type: Option<String>,
    #[serde(alias = "dimension_filter_groups")]
    dimension_filter_groups: Option<Vec<FilterGroup>>,
    #[serde(alias = "aggregation_type")]
    aggregation_type: Option<String>,
    #[serde(alias = "row_limit")]
    row_limit: Option<IntValue>,
    #[serde(alias = "start_row")]
    start_row: Option<IntValue>,
    #[serde(alias = "data_state")]
    data_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FilterGroup {
    #[serde(alias = "group_type")]
    group_type: Option<String>,
    filters: Option<Vec<FilterJson>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterJson {
    dimension: Option<String>,
    operator: Option<String>,
    expression: Option<String>,
}

/// int32 fields arrive as numbers or as decimal strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IntValue {
    Int(i64),
    Text(String),
}

/// A grouping dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDThh:00:00-07:00`.
    Hour,
    /// Query text.
    Query,
    /// Page URL.
    Page,
    /// Country (alpha-3).
    Country,
    /// Device.
    Device,
    /// Search appearance.
    Appearance,
}

impl Dim {
    fn parse(text: &str) -> Option<Dim> {
        Some(match norm(text).as_str() {
            "date" => Dim::Date,
            "hour" => Dim::Hour,
            "query" => Dim::Query,
            "page" => Dim::Page,
            "country" => Dim::Country,
            "device" => Dim::Device,
            "searchappearance" => Dim::Appearance,
            _ => return None,
        })
    }

    // Packed key layout: each grouped dimension's id at a fixed offset.
    fn shift(self) -> u32 {
        match self {
            Dim::Date => 0,
            Dim::Query => 16,
            Dim::Page => 30,
            Dim::Country => 42,
            Dim::Device => 48,
            Dim::Appearance => 50,
            Dim::Hour => 54,
        }
    }

    fn mask(self) -> u64 {
        match self {
            Dim::Date => 0xffff,
            Dim::Query => 0x3fff,
            Dim::Page => 0xfff,
            Dim::Country => 0x3f,
            Dim::Device => 0x3,
            Dim::Appearance => 0xf,
            Dim::Hour => 0x1f,
        }
    }

    // Bits of the dimension's sort rank.
    fn rank_bits(self) -> u32 {
        match self {
            Dim::Date | Dim::Query | Dim::Page => 16,
            Dim::Hour => 21,
            Dim::Country | Dim::Appearance => 8,
            Dim::Device => 2,
        }
    }
}

#[derive(Debug)]
enum Test {
    Equals(String),
    NotEquals(String),
    Contains(String),
    NotContains(String),
    Regex(Box<Regex>, bool),
}

impl Test {
    /// Equality and containment ignore case (Search Console filters are not case-sensitive);
    /// regular expressions are RE2 as given.
    fn matches(&self, text: &str) -> bool {
        match self {
            Test::Equals(v) => text.to_lowercase() == *v,
            Test::NotEquals(v) => text.to_lowercase() != *v,
            Test::Contains(v) => text.to_lowercase().contains(v.as_str()),
            Test::NotContains(v) => !text.to_lowercase().contains(v.as_str()),
            Test::Regex(re, negate) => re.is_match(text) != *negate,
        }
    }
}

#[derive(Debug)]
struct Filter {
    dim: Dim,
    test: Test,
}

/// A validated request.
#[derive(Debug)]
pub struct Plan {
    /// Search type.
    pub st: SearchType,
    /// First day (inclusive).
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
    /// Grouping dimensions in request order.
    pub dims: Vec<Dim>,
    /// Data state.
    pub state: DataState,
    /// `responseAggregationType`.
    pub aggregation: &'static str,
    /// Rows per page.
    pub row_limit: usize,
    /// First row.
    pub start_row: usize,
    filters: Vec<Filter>,
}

impl Plan {
    fn grouped(&self, d: Dim) -> bool {
        self.dims.contains(&d)
    }

    fn filtered(&self, d: Dim) -> bool {
        self.filters.iter().any(|f| f.dim == d)
    }

    fn passes(&self, d: Dim, text: &str) -> bool {
        self.filters
            .iter()
            .filter(|f| f.dim == d)
            .all(|f| f.test.matches(text))
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid_argument(message)
}

fn enum_error(field: &str, value: &str) -> ApiError {
    bad(format!(
        "Invalid value at '{field}' (TYPE_ENUM), \"{value}\""
    ))
}

fn parse_date(field: &str, value: &str) -> Result<NaiveDate, ApiError> {
    let parsed = (value.len() == 10)
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten();
    parsed.ok_or_else(|| {
        bad(format!(
            "Invalid value for {field}: '{value}'. Dates must be in YYYY-MM-DD format."
        ))
    })
}

fn parse_int(field: &str, value: Option<&IntValue>) -> Result<Option<i64>, ApiError> {
    let invalid = |shown: String| bad(format!("Invalid value at '{field}' (TYPE_INT32), {shown}"));
    let n = match value {
        None => return Ok(None),
        Some(IntValue::Int(n)) => *n,
        Some(IntValue::Text(s)) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid(format!("\"{s}\"")))?,
    };
    if i32::try_from(n).is_err() {
        return Err(invalid(n.to_string()));
    }
    Ok(Some(n))
}

/// Validates a request body against Search Console's rules.
pub fn prepare(req: &QueryRequest) -> Result<Plan, ApiError> {
    let missing: Vec<&str> = [
        (req.start_date.as_deref(), "startDate field is required."),
        (req.end_date.as_deref(), "endDate field is required."),
    ]
    .into_iter()
    .filter(|(v, _)| v.is_none_or(str::is_empty))
    .map(|(_, m)| m)
    .collect();
    if !missing.is_empty() {
        return Err(bad(missing.join("\n")));
    }
    let start = parse_date("startDate", req.start_date.as_deref().unwrap_or(""))?;
    let end = parse_date("endDate", req.end_date.as_deref().unwrap_or(""))?;
    if start > end {
        return Err(bad(format!(
            "endDate ({end}) must be greater than or equal to startDate ({start})."
        )));
    }

    let state = match req.data_state.as_deref().map(norm).as_deref() {
        None | Some("") | Some("final") | Some("datastateunspecified") => DataState::Final,
        Some("all") => DataState::All,
        Some("hourlyall") => DataState::HourlyAll,
        Some(_) => {
            return Err(enum_error(
                "data_state",
                req.data_state.as_deref().unwrap_or(""),
            ));
        }
    };

    let mut dims = Vec::new();
    for (i, text) in req.dimensions.iter().flatten().enumerate() {
        let d = Dim::parse(text).ok_or_else(|| enum_error(&format!("dimensions[{i}]"), text))?;
        if dims.contains(&d) {
            return Err(bad(format!(
                "Duplicate dimension \"{text}\" in dimensions[{i}]."
            )));
        }
        dims.push(d);
    }
    if dims.contains(&Dim::Appearance) && dims.len() > 1 {
        return Err(bad(
            "searchAppearance cannot be grouped with other dimensions. Group by searchAppearance alone, then filter on one appearance and group by other dimensions.",
        ));
    }
    if dims.contains(&Dim::Hour) && state != DataState::HourlyAll {
        return Err(bad(
            "The hour dimension requires dataState HOURLY_ALL (hourly data may be partial).",
        ));
    }

    let type_text = req
        .kind
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| ("type", t))
        .or_else(|| {
            req.search_type
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| ("search_type", t))
        });
    let st = match type_text {
        None => SearchType::Web,
        Some((field, t)) => SearchType::parse(t).ok_or_else(|| enum_error(field, t))?,
    };

    let mut filters = Vec::new();
    for (gi, group) in req.dimension_filter_groups.iter().flatten().enumerate() {
        if let Some(gt) = group.group_type.as_deref()
            && !matches!(norm(gt).as_str(), "and" | "")
        {
            return Err(enum_error(
                &format!("dimension_filter_groups[{gi}].group_type"),
                gt,
            ));
        }
        for (fi, f) in group.filters.iter().flatten().enumerate() {
            let at = format!("dimension_filter_groups[{gi}].filters[{fi}]");
            // Proto defaults: a missing dimension is QUERY, a missing operator EQUALS.
            let dim_text = f.dimension.as_deref().unwrap_or("query");
            let dim = Dim::parse(dim_text)
                .filter(|d| !matches!(d, Dim::Date | Dim::Hour))
                .ok_or_else(|| enum_error(&format!("{at}.dimension"), dim_text))?;
            let op_text = f.operator.as_deref().unwrap_or("equals");
            let expr = f.expression.clone().unwrap_or_default();
            let lower = expr.to_lowercase();
            let regex = |negate: bool| -> Result<Test, ApiError> {
                Regex::builder()
                    .build(&expr)
                    .map(|re| Test::Regex(Box::new(re), negate))
                    .map_err(|_| {
                        bad(format!(
                            "Invalid regular expression \"{expr}\" in {at}.expression (RE2 syntax)."
                        ))
                    })
            };
            let test = match norm(op_text).as_str() {
                "equals" | "" => Test::Equals(lower),
                "notequals" => Test::NotEquals(lower),
                "contains" => Test::Contains(lower),
                "notcontains" => Test::NotContains(lower),
                "includingregex" => regex(false)?,
                "excludingregex" => regex(true)?,
                _ => return Err(enum_error(&format!("{at}.operator"), op_text)),
            };
            filters.push(Filter { dim, test });
        }
    }

    if !st.has_queries()
        && (dims.contains(&Dim::Query) || filters.iter().any(|f| f.dim == Dim::Query))
    {
        return Err(bad(format!(
            "The query dimension is not available for type {}: group or filter by page instead.",
            st.as_str()
        )));
    }

    let by_page = dims.contains(&Dim::Page) || filters.iter().any(|f| f.dim == Dim::Page);
    let aggregation = match req.aggregation_type.as_deref().map(norm).as_deref() {
        None | Some("") | Some("auto") => {
            if by_page {
                "byPage"
            } else {
                "byProperty"
            }
        }
        Some("byproperty") => {
            if by_page {
                return Err(bad(
                    "aggregationType byProperty is not supported when grouping or filtering by page; use auto or byPage.",
                ));
            }
            "byProperty"
        }
        Some("bypage") => "byPage",
        Some("bynewsshowcasepanel") => {
            if st.has_queries() || by_page {
                return Err(bad(
                    "aggregationType byNewsShowcasePanel requires type discover or googleNews and no grouping or filtering by page.",
                ));
            }
            "byNewsShowcasePanel"
        }
        Some(_) => {
            return Err(enum_error(
                "aggregation_type",
                req.aggregation_type.as_deref().unwrap_or(""),
            ));
        }
    };

    let row_limit = match parse_int("row_limit", req.row_limit.as_ref())? {
        None | Some(0) => DEFAULT_ROW_LIMIT,
        Some(n) if (1..=MAX_ROW_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(bad(format!(
                "Invalid value '{n}' for rowLimit. Values must be within the range: [1, {MAX_ROW_LIMIT}]"
            )));
        }
    };
    let start_row = match parse_int("start_row", req.start_row.as_ref())? {
        None => 0,
        Some(n) if n >= 0 => n,
        Some(n) => {
            return Err(bad(format!(
                "Invalid value '{n}' for startRow. Values must be within the range: [0, 2147483647]"
            )));
        }
    };

    Ok(Plan {
        st,
        start,
        end,
        dims,
        state,
        aggregation,
        row_limit: row_limit as usize,
        start_row: start_row as usize,
        filters,
    })
}

/// Sums of one output row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acc {
    /// Clicks.
    pub clk: u64,
    /// Impressions.
    pub imp: u64,
    /// Σ position × impressions.
    pub pos_sum: f64,
}

/// A fast hasher for packed `u64` keys (the default SipHash is several times slower here).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = splitmix(self.0 ^ u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = splitmix(self.0 ^ n);
    }
}

type RowMap = HashMap<u64, Acc, BuildHasherDefault<KeyHasher>>;

fn too_big(what: &str, cap: u64) -> ApiError {
    bad(format!(
        "Sandbox limit: this query would aggregate more than {cap} {what}. Narrow the date range, add filters or group by fewer dimensions."
    ))
}

/// The aggregated result: rows in final order (all of them) plus the day they start from.
#[derive(Debug)]
pub struct Executed {
    /// (packed key, sums), sorted, already cut to the requested page.
    pub rows: Vec<(u64, Acc)>,
    /// Day 0 of the packed date ids.
    pub origin: NaiveDate,
}

struct Run<'a> {
    plan: &'a Plan,
    device_ok: [bool; 3],
    country_ok: Vec<bool>,
    appearance_ok: [bool; 6],
    need_appearance: bool,
    need_device: bool,
    need_country: bool,
    need_hour: bool,
    sink: Sink,
    work: u64,
    /// Consecutive emits often share a key (e.g. every pair of a day when grouping by
    /// date): they are summed here and reach the sink once.
    pending: Option<(u64, Acc)>,
}

/// Where rows are summed.
enum Sink {
    /// Every emitted key is unique (see `execute`): rows are pushed, never summed.
    Direct(Vec<(u64, Acc)>),
    /// Small key spaces: one slot per possible key, indexed by mixed radix over `layout`.
    Dense {
        cells: Vec<Acc>,
        layout: Vec<(Dim, u64)>,
    },
    /// Everything else.
    Map(RowMap),
}

/// Largest key space summed in a dense array (24 bytes a slot, ~6 MB).
const DENSE_MAX: u64 = 1 << 18;

impl Sink {
    fn add(&mut self, key: u64, add: Acc) -> Result<(), ApiError> {
        match self {
            Sink::Direct(rows) => {
                rows.push((key, add));
                if rows.len() > MAX_ROWS {
                    return Err(too_big("rows", MAX_ROWS as u64));
                }
            }
            Sink::Dense { cells, layout } => {
                let mut index = 0u64;
                for (d, card) in layout.iter() {
                    index = index * card + ((key >> d.shift()) & d.mask());
                }
                if let Some(acc) = cells.get_mut(index as usize) {
                    acc.clk += add.clk;
                    acc.imp += add.imp;
                    acc.pos_sum += add.pos_sum;
                }
            }
            Sink::Map(map) => {
                let acc = map.entry(key).or_default();
                acc.clk += add.clk;
                acc.imp += add.imp;
                acc.pos_sum += add.pos_sum;
                if map.len() > MAX_ROWS {
                    return Err(too_big("rows", MAX_ROWS as u64));
                }
            }
        }
        Ok(())
    }

    fn into_rows(self) -> Vec<(u64, Acc)> {
        match self {
            Sink::Direct(rows) => rows,
            Sink::Map(map) => map.into_iter().collect(),
            Sink::Dense { cells, layout } => cells
                .into_iter()
                .enumerate()
                .filter(|(_, acc)| acc.imp > 0)
                .map(|(i, acc)| {
                    let mut rest = i as u64;
                    let mut key = 0u64;
                    for (d, card) in layout.iter().rev() {
                        key |= (rest % card) << d.shift();
                        rest /= card;
                    }
                    (key, acc)
                })
                .collect(),
        }
    }
}

impl Run<'_> {
    fn set(&self, key: u64, d: Dim, v: u64) -> u64 {
        if self.plan.grouped(d) {
            key | ((v & d.mask()) << d.shift())
        } else {
            key
        }
    }

    fn charge(&mut self, n: usize) -> Result<(), ApiError> {
        self.work += n as u64;
        if self.work > MAX_WORK {
            return Err(too_big("split buckets", MAX_WORK));
        }
        Ok(())
    }

    fn emit(&mut self, key: u64, c: Cell) -> Result<(), ApiError> {
        if c.imp == 0 {
            return Ok(());
        }
        if let Sink::Direct(rows) = &mut self.sink {
            rows.push((
                key,
                Acc {
                    clk: u64::from(c.clk),
                    imp: u64::from(c.imp),
                    pos_sum: c.pos * f64::from(c.imp),
                },
            ));
            if rows.len() > MAX_ROWS {
                return Err(too_big("rows", MAX_ROWS as u64));
            }
            return Ok(());
        }
        if let Some((k, acc)) = self.pending.as_mut()
            && *k == key
        {
            acc.clk += u64::from(c.clk);
            acc.imp += u64::from(c.imp);
            acc.pos_sum += c.pos * f64::from(c.imp);
            return Ok(());
        }
        self.flush()?;
        self.pending = Some((
            key,
            Acc {
                clk: u64::from(c.clk),
                imp: u64::from(c.imp),
                pos_sum: c.pos * f64::from(c.imp),
            },
        ));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ApiError> {
        match self.pending.take() {
            Some((key, add)) => self.sink.add(key, add),
            None => Ok(()),
        }
    }

    /// Search appearance level (first, when asked for).
    fn appearances(
        &mut self,
        cell: Cell,
        key: u64,
        seed: u64,
        page_kind: PageKind,
        ctx: &DayCtx,
        kind: QueryKind,
    ) -> Result<(), ApiError> {
        if !self.need_appearance {
            return self.segments(cell, key, seed, ctx, kind);
        }
        let weights = model::appearance_weights(page_kind);
        let mut imp = [0u32; 7];
        model::split(cell.imp, &weights, splitmix(seed ^ 0xa1), &mut imp);
        // Rich results draw a few more clicks than plain links.
        let mut cw = [0.0; 7];
        for (b, w) in cw.iter_mut().enumerate() {
            *w = f64::from(imp[b]) * if b < 6 { 1.2 } else { 1.0 };
        }
        let mut clk = [0u32; 7];
        model::split_capped(cell.clk, &cw, &imp, splitmix(seed ^ 0xa2), &mut clk);
        self.charge(14)?;
        let pos = cell.pos * 0.97;
        if self.plan.grouped(Dim::Appearance) {
            for a in 0..6 {
                if self.appearance_ok[a] && imp[a] > 0 {
                    let sub = Cell {
                        imp: imp[a],
                        clk: clk[a],
                        pos,
                    };
                    let k = self.set(key, Dim::Appearance, a as u64);
                    self.segments(sub, k, model::nth(seed ^ 0xa3, a as u64), ctx, kind)?;
                }
            }
            Ok(())
        } else {
            let mut sub = Cell {
                imp: 0,
                clk: 0,
                pos,
            };
            for a in 0..6 {
                if self.appearance_ok[a] {
                    sub.imp += imp[a];
                    sub.clk += clk[a];
                }
            }
            if sub.imp == 0 {
                return Ok(());
            }
            self.segments(sub, key, splitmix(seed ^ 0xa4), ctx, kind)
        }
    }

    /// Device → country → hour levels.
    fn segments(
        &mut self,
        cell: Cell,
        key: u64,
        seed: u64,
        ctx: &DayCtx,
        kind: QueryKind,
    ) -> Result<(), ApiError> {
        let Some(mix_) = ctx.mix.as_ref().filter(|_| self.need_device) else {
            return self.emit(key, cell);
        };
        let dw = mix_.devices.get(kind.index()).copied().unwrap_or([1.0; 3]);
        let mut dimp = [0u32; 3];
        model::split(cell.imp, &dw, splitmix(seed ^ 0xd1), &mut dimp);
        let mut cw = [0.0; 3];
        for (d, w) in cw.iter_mut().enumerate() {
            *w = f64::from(dimp[d]) * model::device_ctr(d);
        }
        let mut dclk = [0u32; 3];
        model::split_capped(cell.clk, &cw, &dimp, splitmix(seed ^ 0xd2), &mut dclk);
        self.charge(6)?;
        let nc = COUNTRIES.len();
        for dv in 0..3 {
            if dimp[dv] == 0 || !self.device_ok[dv] {
                continue;
            }
            let dcell = Cell {
                imp: dimp[dv],
                clk: dclk[dv],
                pos: cell.pos * model::device_pos(dv),
            };
            let dkey = self.set(key, Dim::Device, dv as u64);
            if !self.need_country {
                self.emit(dkey, dcell)?;
                continue;
            }
            let mut cimp = [0u32; model::MAX_BUCKETS];
            let mut cclk = [0u32; model::MAX_BUCKETS];
            let mut ccw = [0.0f64; model::MAX_BUCKETS];
            let cseed = model::nth(seed ^ 0xc1, dv as u64);
            model::split(dcell.imp, &mix_.countries, cseed, &mut cimp[..nc]);
            for c in 0..nc {
                ccw[c] = f64::from(cimp[c]) * mix_.country_ctr.get(c).copied().unwrap_or(1.0);
            }
            model::split_capped(
                dcell.clk,
                &ccw[..nc],
                &cimp[..nc],
                splitmix(cseed),
                &mut cclk[..nc],
            );
            self.charge(2 * nc)?;
            for c in 0..nc {
                if cimp[c] == 0 || !self.country_ok.get(c).copied().unwrap_or(false) {
                    continue;
                }
                let ccell = Cell {
                    imp: cimp[c],
                    clk: cclk[c],
                    pos: (dcell.pos * mix_.country_pos.get(c).copied().unwrap_or(1.0)).min(100.0),
                };
                let ckey = self.set(dkey, Dim::Country, c as u64);
                if !self.need_hour {
                    self.emit(ckey, ccell)?;
                    continue;
                }
                let mut himp = [0u32; 24];
                let mut hclk = [0u32; 24];
                let hseed = model::nth(seed ^ 0x41, (dv * 64 + c) as u64);
                model::split(ccell.imp, &ctx.hours, hseed, &mut himp);
                let hw: [f64; 24] = std::array::from_fn(|h| f64::from(himp[h]));
                model::split_capped(ccell.clk, &hw, &himp, splitmix(hseed), &mut hclk);
                self.charge(48)?;
                for h in 0..24 {
                    if himp[h] > 0 {
                        let hkey = self.set(ckey, Dim::Hour, h as u64);
                        self.emit(
                            hkey,
                            Cell {
                                imp: himp[h],
                                clk: hclk[h],
                                pos: ccell.pos,
                            },
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Per-day context of the segment levels.
struct DayCtx {
    mix: Option<SegmentMix>,
    hours: [f64; 24],
}

/// Runs a validated request for a site.
pub fn execute(site: &SiteInfo, plan: &Plan, fresh: &Freshness) -> Result<Executed, ApiError> {
    // Day ids count from the first day that can have data.
    let first = plan.start.max(site.window_start(fresh.today));
    let last = plan.end.min(fresh.today);
    let origin = first;
    let mut run = Run {
        plan,
        device_ok: std::array::from_fn(|d| plan.passes(Dim::Device, DEVICES[d])),
        country_ok: COUNTRIES
            .iter()
            .map(|c| plan.passes(Dim::Country, c.code))
            .collect(),
        appearance_ok: std::array::from_fn(|a| {
            APPEARANCES
                .get(a)
                .is_some_and(|name| plan.passes(Dim::Appearance, name))
        }),
        need_appearance: plan.grouped(Dim::Appearance) || plan.filtered(Dim::Appearance),
        need_hour: plan.grouped(Dim::Hour),
        need_country: false,
        need_device: false,
        sink: Sink::Map(RowMap::default()),
        work: 0,
        pending: None,
    };
    // Consistency needs every ancestor level of the deepest level in use.
    run.need_country = run.need_hour || plan.grouped(Dim::Country) || plan.filtered(Dim::Country);
    run.need_device = run.need_country || plan.grouped(Dim::Device) || plan.filtered(Dim::Device);
    // A cell is (day, pair, and each expanded level). When the key holds all of them, no two
    // emits share a key and summing is unnecessary: the common query × page × date export
    // then skips hashing entirely.
    let unique = plan.grouped(Dim::Query)
        && plan.grouped(Dim::Page)
        && (plan.grouped(Dim::Date) || plan.grouped(Dim::Hour) || plan.start == plan.end)
        && (!run.need_appearance || plan.grouped(Dim::Appearance))
        && (!run.need_device || plan.grouped(Dim::Device))
        && (!run.need_country || plan.grouped(Dim::Country));
    let days = if first <= last {
        (last - first).num_days() as u64 + 1
    } else {
        1
    };
    let vocab = &site.vocab;
    let layout: Vec<(Dim, u64)> = [
        (Dim::Date, days),
        (Dim::Query, vocab.queries.len() as u64),
        (Dim::Page, vocab.pages.len() as u64),
        (Dim::Country, COUNTRIES.len() as u64),
        (Dim::Device, DEVICES.len() as u64),
        (Dim::Appearance, APPEARANCES.len() as u64),
        (Dim::Hour, 24),
    ]
    .into_iter()
    .filter(|(d, _)| plan.grouped(*d) || (*d == Dim::Date && plan.grouped(Dim::Hour)))
    .collect();
    let space = layout
        .iter()
        .try_fold(1u64, |acc, (_, card)| acc.checked_mul((*card).max(1)));
    if unique {
        run.sink = Sink::Direct(Vec::new());
    } else if let Some(space) = space.filter(|s| *s <= DENSE_MAX) {
        run.sink = Sink::Dense {
            cells: vec![Acc::default(); space as usize],
            layout,
        };
    }

    let Some(tm) = SearchType::ALL
        .iter()
        .position(|t| *t == plan.st)
        .and_then(|i| site.types.get(i))
    else {
        return Ok(Executed {
            rows: Vec::new(),
            origin,
        });
    };
    if plan.aggregation == "byNewsShowcasePanel" {
        // None of the sandbox's sites are News Showcase publishers.
        return Ok(Executed {
            rows: Vec::new(),
            origin,
        });
    }
    let query_ok: Vec<bool> = vocab
        .queries
        .iter()
        .map(|q| plan.passes(Dim::Query, &q.text))
        .collect();
    let page_ok: Vec<bool> = vocab
        .pages
        .iter()
        .map(|p| plan.passes(Dim::Page, &p.url))
        .collect();
    let active: Vec<(u32, f64)> = tm
        .pairs
        .iter()
        .copied()
        .filter(|(i, _)| {
            vocab.pairs.get(*i as usize).is_some_and(|p| {
                query_ok.get(p.query as usize).copied().unwrap_or(false)
                    && page_ok.get(p.page as usize).copied().unwrap_or(false)
            })
        })
        .collect();
    if active.is_empty() || first > last {
        return Ok(Executed {
            rows: Vec::new(),
            origin,
        });
    }
    let profile = model::hour_profile(site);
    let mut d = first;
    while d <= last {
        let next = d.succ_opt();
        if run.need_hour && !fresh.has_hours(d) {
            match next {
                Some(n) => d = n,
                None => break,
            }
            continue;
        }
        let base: DayBase = model::day_base(site, tm, d, fresh, &profile);
        if base.impressions > 0.0 {
            let ctx = DayCtx {
                mix: run
                    .need_device
                    .then(|| SegmentMix::for_day(site, model::day_number(d))),
                hours: fresh.hour_weights(d, &profile),
            };
            let day_id = (d - origin).num_days().max(0) as u64;
            let mut day_key = run.set(0, Dim::Date, day_id);
            if run.need_hour {
                // Hour keys are timestamps: they carry their day even without `date`.
                day_key |= (day_id & Dim::Date.mask()) << Dim::Date.shift();
            }
            run.charge(active.len())?;
            for &(pi, share) in &active {
                let (cell, seed) = model::pair_cell(site, tm, pi, share, &base);
                if cell.imp == 0 {
                    continue;
                }
                let Some(pair) = vocab.pairs.get(pi as usize) else {
                    continue;
                };
                let kind = vocab
                    .queries
                    .get(pair.query as usize)
                    .map_or(QueryKind::LongTail, |q| q.kind);
                let page_kind = vocab
                    .pages
                    .get(pair.page as usize)
                    .map_or(PageKind::Info, |p| p.kind);
                let mut key = run.set(day_key, Dim::Query, u64::from(pair.query));
                key = run.set(key, Dim::Page, u64::from(pair.page));
                run.appearances(cell, key, seed, page_kind, &ctx, kind)?;
            }
        }
        match next {
            Some(n) => d = n,
            None => break,
        }
    }

    run.flush()?;
    let rows = run.sink.into_rows();
    let country_rank = country_ranks();
    let sort_key = |k: u64, acc: &Acc| {
        let mut secondary: u128 = 0;
        for d in &plan.dims {
            let id = (k >> d.shift()) & d.mask();
            let rank: u64 = match d {
                Dim::Date | Dim::Device | Dim::Appearance => id,
                Dim::Hour => ((k >> Dim::Date.shift()) & Dim::Date.mask()) * 24 + id,
                Dim::Query => u64::from(vocab.query_rank.get(id as usize).copied().unwrap_or(0)),
                Dim::Page => u64::from(vocab.page_rank.get(id as usize).copied().unwrap_or(0)),
                Dim::Country => u64::from(country_rank.get(id as usize).copied().unwrap_or(0)),
            };
            secondary = (secondary << d.rank_bits()) | u128::from(rank);
        }
        (Reverse(acc.clk), Reverse(acc.imp), secondary)
    };
    // Keys are computed once per row; the secondary part is unique per row, so the order is
    // total and pages never overlap.
    let mut keyed: Vec<_> = rows
        .into_iter()
        .map(|(k, acc)| (sort_key(k, &acc), k, acc))
        .collect();
    let end = plan.start_row.saturating_add(plan.row_limit);
    if plan.start_row >= keyed.len() {
        keyed.clear();
    } else {
        if end < keyed.len() {
            keyed.select_nth_unstable_by(end, |a, b| a.0.cmp(&b.0));
            keyed.truncate(end);
        }
        keyed.sort_unstable_by_key(|a| a.0);
        keyed.drain(..plan.start_row);
    }
    let rows = keyed.into_iter().map(|(_, k, acc)| (k, acc)).collect();
    Ok(Executed { rows, origin })
}

fn country_ranks() -> Vec<u8> {
    let mut order: Vec<usize> = (0..COUNTRIES.len()).collect();
    order.sort_by_key(|i| COUNTRIES.get(*i).map_or("", |c| c.code));
    let mut rank = vec![0u8; COUNTRIES.len()];
    for (r, i) in order.into_iter().enumerate() {
        if let Some(slot) = rank.get_mut(i) {
            *slot = r as u8;
        }
    }
    rank
}

/// One row on the wire (keys borrow the vocabulary: a 25,000-row page would otherwise
/// clone 75,000 strings).
#[derive(Debug, Serialize)]
pub struct RowJson<'a> {
    /// Dimension values in request order (absent without dimensions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<Cow<'a, str>>,
    /// Clicks (a double on the wire; integral here).
    pub clicks: u64,
    /// Impressions.
    pub impressions: u64,
    /// clicks / impressions.
    pub ctr: f64,
    /// Average position.
    pub position: f64,
}

/// `metadata` with the snake_case keys Google's REST responses use.
#[derive(Debug, Serialize)]
pub struct MetadataJson {
    /// First day still being collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_incomplete_date: Option<String>,
    /// First hour still being collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_incomplete_hour: Option<String>,
}

/// The response body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseJson<'a> {
    /// Rows (absent when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<RowJson<'a>>,
    /// `byProperty`, `byPage`, …
    pub response_aggregation_type: &'static str,
    /// Fresh-data markers (`dataState` all / hourly_all only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataJson>,
}

/// `YYYY-MM-DDThh:00:00±hh:mm` in Pacific time.
pub fn hour_key(d: NaiveDate, h: u32) -> String {
    let local = d.and_hms_opt(h, 0, 0).unwrap_or_default();
    let offset = PACIFIC
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.offset().fix())
        .unwrap_or_else(|| {
            // The skipped hour of the spring-forward day: use that day's standard offset.
            PACIFIC.from_utc_datetime(&local).offset().fix()
        });
    format!("{}T{h:02}:00:00{offset}", d.format("%Y-%m-%d"))
}

/// Builds the response body.
pub fn render<'a>(
    site: &'a SiteInfo,
    plan: &Plan,
    ex: &Executed,
    fresh: &Freshness,
) -> ResponseJson<'a> {
    let vocab = &site.vocab;
    let rows = ex
        .rows
        .iter()
        .map(|(k, acc)| {
            let day =
                || ex.origin + Duration::days(((k >> Dim::Date.shift()) & Dim::Date.mask()) as i64);
            let keys = plan
                .dims
                .iter()
                .map(|d| {
                    let id = ((k >> d.shift()) & d.mask()) as usize;
                    let text: Option<&'a str> = match d {
                        Dim::Date => return Cow::Owned(day().format("%Y-%m-%d").to_string()),
                        Dim::Hour => return Cow::Owned(hour_key(day(), id as u32)),
                        Dim::Query => vocab.queries.get(id).map(|q| q.text.as_str()),
                        Dim::Page => vocab.pages.get(id).map(|p| p.url.as_str()),
                        Dim::Country => COUNTRIES.get(id).map(|c| c.code),
                        Dim::Device => DEVICES.get(id).copied(),
                        Dim::Appearance => APPEARANCES.get(id).copied(),
                    };
                    Cow::Borrowed(text.unwrap_or(""))
                })
                .collect();
            let imp = acc.imp.max(1) as f64;
            RowJson {
                keys,
                clicks: acc.clk,
                impressions: acc.imp,
                ctr: acc.clk as f64 / imp,
                position: acc.pos_sum / imp,
            }
        })
        .collect();
    let first_incomplete = fresh.first_incomplete();
    let covers_fresh = plan.end >= first_incomplete && plan.start <= fresh.today;
    let metadata = match plan.state {
        DataState::Final => None,
        DataState::All | DataState::HourlyAll => {
            let date = (plan.grouped(Dim::Date) && covers_fresh)
                .then(|| first_incomplete.format("%Y-%m-%d").to_string());
            let hour =
                (plan.state == DataState::HourlyAll && plan.grouped(Dim::Hour) && covers_fresh)
                    .then(|| hour_key(first_incomplete.max(plan.start), 0));
            (date.is_some() || hour.is_some()).then_some(MetadataJson {
                first_incomplete_date: date,
                first_incomplete_hour: hour,
            })
        }
    };
    ResponseJson {
        rows,
        response_aggregation_type: plan.aggregation,
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsc::site::{Clock, Property, build};

    fn site(url: &str) -> SiteInfo {
        build(url, Property::parse(url).unwrap(), None, None)
    }

    fn fresh(state: DataState) -> Freshness {
        Freshness::new(
            Clock {
                today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                minute_of_day: 12 * 60,
            },
            state,
        )
    }

    fn req(json: serde_json::Value) -> Plan {
        prepare(&serde_json::from_value(json).unwrap()).unwrap()
    }

    fn run(s: &SiteInfo, json: serde_json::Value) -> Vec<(Vec<String>, u64, u64)> {
        let plan = req(json);
        let f = fresh(plan.state);
        let ex = execute(s, &plan, &f).unwrap();
        render(s, &plan, &ex, &f)
            .rows
            .into_iter()
            .map(|r| {
                let keys = r.keys.into_iter().map(|k| k.into_owned()).collect();
                (keys, r.clicks, r.impressions)
            })
            .collect()
    }

    fn totals(rows: &[(Vec<String>, u64, u64)]) -> (u64, u64) {
        rows.iter().fold((0, 0), |(c, i), r| (c + r.1, i + r.2))
    }

    fn sum_by(rows: &[(Vec<String>, u64, u64)], key: usize) -> HashMap<String, (u64, u64)> {
        let mut m = HashMap::new();
        for r in rows {
            let e = m.entry(r.0[key].clone()).or_insert((0, 0));
            e.0 += r.1;
            e.1 += r.2;
        }
        m
    }

    const RANGE: (&str, &str) = ("2026-09-01", "2026-09-30");

    #[test]
    fn groupings_sum_to_the_same_totals() {
        let s = site("sc-domain:acme-shop.example");
        let base = |dims: serde_json::Value| serde_json::json!({"startDate": RANGE.0, "endDate": RANGE.1, "dimensions": dims, "rowLimit": 25000});
        let total = run(&s, base(serde_json::json!([])));
        assert_eq!(total.len(), 1);
        let t = totals(&total);
        assert!(t.1 > 10 * t.0 && t.0 > 0, "{t:?}");
        for dims in [
            serde_json::json!(["date"]),
            serde_json::json!(["query"]),
            serde_json::json!(["page"]),
            serde_json::json!(["country"]),
            serde_json::json!(["device"]),
            serde_json::json!(["DEVICE", "Country"]),
            serde_json::json!(["date", "country", "device"]),
        ] {
            let rows = run(&s, base(dims.clone()));
            assert_eq!(totals(&rows), t, "{dims}");
        }
        // Finer grouping sums to the coarser one, key by key (one week keeps query × date
        // under one 25,000-row page).
        let week = |dims: serde_json::Value| serde_json::json!({"startDate": "2026-09-01", "endDate": "2026-09-07", "dimensions": dims, "rowLimit": 25000});
        let by_date = sum_by(&run(&s, week(serde_json::json!(["date"]))), 0);
        let fine = run(&s, week(serde_json::json!(["query", "date", "page"])));
        assert!(fine.len() < 25000);
        assert_eq!(by_date, sum_by(&fine, 1));
        let by_device = sum_by(&run(&s, base(serde_json::json!(["device"]))), 0);
        let by_device_country = sum_by(&run(&s, base(serde_json::json!(["country", "device"]))), 1);
        assert_eq!(by_device, by_device_country);
        assert_eq!(by_device.len(), 3);
    }

    #[test]
    fn deterministic_and_paging_is_stable() {
        let s = site("https://www.gsc-only.example/");
        let body = |start: usize, limit: usize| {
            serde_json::json!({"startDate": RANGE.0, "endDate": RANGE.1, "dimensions": ["query", "page"],
                               "startRow": start, "rowLimit": limit})
        };
        let all = run(&s, body(0, 25000));
        assert_eq!(all, run(&s, body(0, 25000)));
        assert!(all.len() > 300, "{}", all.len());
        let mut paged = Vec::new();
        let mut start = 0;
        loop {
            let page = run(&s, body(start, 97));
            let n = page.len();
            paged.extend(page);
            if n < 97 {
                break;
            }
            start += 97;
        }
        assert_eq!(paged, all);
        for w in all.windows(2) {
            assert!(
                (w[0].1, w[0].2) >= (w[1].1, w[1].2),
                "sorted by clicks, impressions"
            );
        }
        assert!(run(&s, body(all.len(), 10)).is_empty());
    }

    #[test]
    fn filters_select_and_exclude() {
        let s = site("sc-domain:acme-shop.example");
        let q = |filters: serde_json::Value| {
            run(
                &s,
                serde_json::json!({"startDate": RANGE.0, "endDate": RANGE.1, "dimensions": ["query"],
                                   "dimensionFilterGroups": [{"filters": filters}], "rowLimit": 25000}),
            )
        };
        let all = q(serde_json::json!([]));
        let brand = q(
            serde_json::json!([{"dimension": "query", "operator": "contains", "expression": "ACME"}]),
        );
        let non_brand = q(
            serde_json::json!([{"dimension": "QUERY", "operator": "NOT_CONTAINS", "expression": "acme"}]),
        );
        assert!(!brand.is_empty() && !non_brand.is_empty());
        assert!(brand.iter().all(|r| r.0[0].contains("acme")));
        assert!(non_brand.iter().all(|r| !r.0[0].contains("acme")));
        let (a, b, c) = (totals(&all), totals(&brand), totals(&non_brand));
        assert_eq!((b.0 + c.0, b.1 + c.1), a);
        let regex = q(
            serde_json::json!([{"dimension": "query", "operator": "includingRegex", "expression": "^how to"}]),
        );
        assert!(!regex.is_empty() && regex.iter().all(|r| r.0[0].starts_with("how to")));
        let exact = q(serde_json::json!([{"dimension": "query", "expression": "acme shop"}]));
        assert_eq!(exact.len(), 1);
        // Country filter without grouping equals that country's row.
        let by_country = sum_by(
            &run(
                &s,
                serde_json::json!({"startDate": RANGE.0, "endDate": RANGE.1, "dimensions": ["country"]}),
            ),
            0,
        );
        let pol = q(serde_json::json!([{"dimension": "country", "expression": "POL"}]));
        let p = totals(&pol);
        assert_eq!(by_country.get("pol").copied(), Some(p));
        // Search appearance: filtered totals equal the appearance's own row.
        let apps = sum_by(
            &run(
                &s,
                serde_json::json!({"startDate": RANGE.0, "endDate": RANGE.1, "dimensions": ["searchAppearance"]}),
            ),
            0,
        );
        let merchant = q(
            serde_json::json!([{"dimension": "searchAppearance", "expression": "MERCHANT_LISTINGS"}]),
        );
        assert_eq!(
            apps.get("MERCHANT_LISTINGS").copied(),
            Some(totals(&merchant))
        );
    }

    #[test]
    fn data_states_and_hours() {
        let s = site("sc-domain:acme-shop.example");
        let body = |state: &str, dims: serde_json::Value| serde_json::json!({"startDate": "2026-10-10", "endDate": "2026-10-20", "dimensions": dims, "dataState": state});
        let final_days: Vec<String> = run(&s, body("final", serde_json::json!(["date"])))
            .into_iter()
            .map(|r| r.0[0].clone())
            .collect();
        assert_eq!(
            final_days.iter().max().map(String::as_str),
            Some("2026-10-17")
        );
        let all_days = sum_by(&run(&s, body("all", serde_json::json!(["date"]))), 0);
        assert!(all_days.contains_key("2026-10-20"));
        let today = all_days["2026-10-20"].1;
        let yesterday = all_days["2026-10-19"].1;
        assert!(
            today < yesterday,
            "today is partial: {today} vs {yesterday}"
        );
        let hours = run(&s, body("HOURLY_ALL", serde_json::json!(["hour"])));
        let by_hour_day = {
            let mut m: HashMap<String, (u64, u64)> = HashMap::new();
            for r in &hours {
                let e = m.entry(r.0[0][..10].to_string()).or_insert((0, 0));
                e.0 += r.1;
                e.1 += r.2;
            }
            m
        };
        assert_eq!(by_hour_day.get("2026-10-19"), all_days.get("2026-10-19"));
        assert_eq!(by_hour_day.get("2026-10-20"), all_days.get("2026-10-20"));
        assert!(hours.iter().all(|r| r.0[0].ends_with("-07:00")));
        assert!(
            !hours.iter().any(|r| r.0[0].starts_with("2026-10-20T1")),
            "future hours empty"
        );
    }

    #[test]
    fn validation_errors() {
        let bad = |json: serde_json::Value| {
            prepare(&serde_json::from_value(json).unwrap())
                .unwrap_err()
                .message
        };
        assert_eq!(
            bad(serde_json::json!({})),
            "startDate field is required.\nendDate field is required."
        );
        assert!(
            bad(serde_json::json!({"startDate": "2026/01/01", "endDate": "2026-01-02"}))
                .contains("YYYY-MM-DD")
        );
        assert!(
            bad(serde_json::json!({"startDate": "2026-01-03", "endDate": "2026-01-02"}))
                .contains("greater than or equal")
        );
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02", "rowLimit": 30000})).contains("[1, 25000]"));
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02", "startRow": -1})).contains("startRow"));
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02", "dimensions": ["page"], "aggregationType": "byProperty"})).contains("byProperty"));
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02", "dimensions": ["queries"]})).contains("dimensions[0]"));
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02", "dimensions": ["hour"]})).contains("HOURLY_ALL"));
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02", "dimensions": ["query", "searchAppearance"]})).contains("searchAppearance"));
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02", "type": "discover", "dimensions": ["query"]})).contains("discover"));
        assert!(bad(serde_json::json!({"startDate": "2026-01-01", "endDate": "2026-01-02",
            "dimensionFilterGroups": [{"filters": [{"dimension": "query", "operator": "includingRegex", "expression": "("}]}]})).contains("regular expression"));
        let ok = req(
            serde_json::json!({"start_date": "2026-01-01", "end_date": "2026-01-02", "rowLimit": "0", "searchType": "IMAGE"}),
        );
        assert_eq!(ok.row_limit, 1000);
        assert_eq!(ok.st, SearchType::Image);
        assert_eq!(ok.aggregation, "byProperty");
        assert!(
            serde_json::from_value::<QueryRequest>(
                serde_json::json!({"startDate": "x", "bogus": 1})
            )
            .is_err()
        );
    }

    #[test]
    fn hour_keys_use_the_pacific_offset() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(hour_key(d("2025-04-07"), 0), "2025-04-07T00:00:00-07:00");
        assert_eq!(hour_key(d("2026-01-15"), 23), "2026-01-15T23:00:00-08:00");
    }
}
