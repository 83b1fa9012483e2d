//! The Ads Insights edge (`/act_{id}/insights`, `/{object}/insights`, and the nested
//! `insights{…}` field): parameter parsing, aggregation of the model's integer quantities over
//! days, ads and breakdown members, and Meta's row format (every number a string, actions as
//! `[{action_type, value}]`).
//!
//! Supported parameters: `fields`, `level`, `date_preset`, `time_range`, `time_ranges`,
//! `time_increment`, `breakdowns`, `action_breakdowns` (only `action_type`),
//! `action_attribution_windows`, `filtering`, `sort`, `limit`/`after`/`before`; the
//! attribution-setting booleans are accepted and ignored.

use std::collections::HashMap;

use chrono::{Months, NaiveDate};
use serde_json::{Map, Value, json};

use super::account::{Account, Clock};
use super::breakdown::{self, Dim};
use super::dates::{self, Increment};
use super::error::GraphError;
use super::filter::{self, FieldValue, Filter, Subject};
use super::model::{self, NQ, Quantities};
use super::nodes::{ObjectSubject, is_object_filter_field};
use super::tree::{Node, Tree};
use crate::SandboxConfig;
use crate::hash::{fnv, mix, signed};

/// Every field the insights edge returns.
pub const FIELDS: &[&str] = &[
    "account_currency",
    "account_id",
    "account_name",
    "action_values",
    "actions",
    "ad_id",
    "ad_name",
    "adset_id",
    "adset_name",
    "buying_type",
    "campaign_id",
    "campaign_name",
    "clicks",
    "conversion_values",
    "conversions",
    "cost_per_action_type",
    "cost_per_conversion",
    "cost_per_inline_link_click",
    "cpc",
    "cpm",
    "cpp",
    "ctr",
    "date_start",
    "date_stop",
    "frequency",
    "impressions",
    "inline_link_click_ctr",
    "inline_link_clicks",
    "objective",
    "optimization_goal",
    "purchase_roas",
    "reach",
    "spend",
    "website_purchase_roas",
];

/// Fields returned when `fields` is absent (`date_start`/`date_stop` are always added).
pub const DEFAULT_FIELDS: &[&str] = &["impressions", "spend"];

/// Numeric fields usable in `sort` and row `filtering`.
const METRICS: &[&str] = &[
    "impressions",
    "clicks",
    "inline_link_clicks",
    "spend",
    "reach",
    "frequency",
    "ctr",
    "cpc",
    "cpm",
    "cpp",
    "inline_link_click_ctr",
    "cost_per_inline_link_click",
];

/// Attribution windows Meta accepts.
const WINDOWS: &[&str] = &[
    "1d_view",
    "7d_view",
    "28d_view",
    "1d_click",
    "7d_click",
    "28d_click",
    "1d_ev",
    "dda",
    "default",
    "skan_view",
    "skan_click",
];

/// Action types: `(action_type, count, value, is a conversion)`.
const ACTIONS: &[(&str, usize, Option<usize>, bool)] = &[
    ("link_click", model::LINK_CLICKS, None, false),
    ("landing_page_view", model::LANDING_PAGE_VIEWS, None, false),
    ("post_engagement", model::POST_ENGAGEMENT, None, false),
    ("page_engagement", model::PAGE_ENGAGEMENT, None, false),
    ("post_reaction", model::REACTIONS, None, false),
    ("video_view", model::VIDEO_VIEWS, None, false),
    ("view_content", model::VIEW_CONTENT, None, true),
    (
        "add_to_cart",
        model::ADD_TO_CART,
        Some(model::ADD_TO_CART_VALUE),
        true,
    ),
    (
        "initiate_checkout",
        model::INITIATE_CHECKOUT,
        Some(model::CHECKOUT_VALUE),
        true,
    ),
    (
        "purchase",
        model::PURCHASES,
        Some(model::PURCHASE_VALUE),
        true,
    ),
    (
        "offsite_conversion.fb_pixel_purchase",
        model::PURCHASES,
        Some(model::PURCHASE_VALUE),
        true,
    ),
    (
        "omni_purchase",
        model::PURCHASES,
        Some(model::PURCHASE_VALUE),
        true,
    ),
];

/// A list parameter: a JSON array (`["a","b"]`) or a comma list (`a,b`).
pub fn list_param(text: &str) -> Vec<String> {
    let t = text.trim();
    if t.starts_with('[')
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(t)
    {
        return items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            })
            .filter(|s| !s.is_empty())
            .collect();
    }
    t.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().trim_matches('"').trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// One row for the account.
    Account,
    /// Per campaign.
    Campaign,
    /// Per ad set.
    AdSet,
    /// Per ad.
    Ad,
}

impl Level {
    fn parse(text: &str) -> Result<Self, GraphError> {
        match text.trim() {
            "account" => Ok(Self::Account),
            "campaign" => Ok(Self::Campaign),
            "adset" => Ok(Self::AdSet),
            "ad" => Ok(Self::Ad),
            _ => Err(GraphError::not_one_of(
                "level",
                &["ad", "adset", "campaign", "account"],
            )),
        }
    }

    /// The natural level of an object's insights edge.
    pub fn of(scope: Option<Node>) -> Self {
        match scope {
            None | Some(Node::Creative(_)) => Self::Account,
            Some(Node::Campaign(_)) => Self::Campaign,
            Some(Node::AdSet(_)) => Self::AdSet,
            Some(Node::Ad(_)) => Self::Ad,
        }
    }
}

/// A parsed insights request.
#[derive(Debug, Clone)]
pub struct Query {
    /// Aggregation level.
    pub level: Level,
    /// Requested fields (validated).
    pub fields: Vec<String>,
    /// Row buckets `(date_start, date_stop)`.
    pub buckets: Vec<(NaiveDate, NaiveDate)>,
    /// Breakdown dimensions.
    pub dims: Vec<Dim>,
    /// Attribution windows to report per action.
    pub windows: Vec<String>,
    /// Filters on the ads that contribute.
    pub object_filters: Vec<Filter>,
    /// Filters on result rows (metrics).
    pub row_filters: Vec<Filter>,
    /// `(field, descending)` sort keys.
    pub sort: Vec<(String, bool)>,
    /// Reach is omitted for breakdowns over ranges older than 13 months (Meta's 2025 rule).
    pub hide_reach: bool,
}

impl Query {
    /// Parses a request whose parameter values `get` returns (query string or nested-field
    /// modifiers). `fields` is the already-split field list (`None` = defaults).
    pub fn parse(
        get: &dyn Fn(&str) -> Option<String>,
        fields: Option<Vec<String>>,
        account: &Account,
        clock: &Clock,
        scope: Option<Node>,
    ) -> Result<Self, GraphError> {
        let fields = match fields {
            Some(f) if !f.is_empty() => f,
            _ => DEFAULT_FIELDS.iter().map(|s| (*s).to_owned()).collect(),
        };
        let unknown: Vec<String> = fields
            .iter()
            .filter(|f| !FIELDS.contains(&f.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(GraphError::invalid_insights_fields(&unknown));
        }
        let level = match get("level") {
            Some(l) => Level::parse(&l)?,
            None => Level::of(scope),
        };
        let today = clock.today;
        let ranges = if let Some(list) = get("time_ranges") {
            dates::time_ranges(&list, today)?
        } else if let Some(range) = get("time_range") {
            vec![dates::time_range(&range, "time_range", today)?]
        } else {
            let name = get("date_preset").unwrap_or_else(|| "last_30d".to_owned());
            let range = dates::preset(name.trim(), today, account.created_date())
                .ok_or_else(|| GraphError::not_one_of("date_preset", dates::PRESETS))?;
            vec![range]
        };
        let increment = match get("time_increment") {
            Some(t) => Increment::parse(&t)?,
            None => Increment::AllDays,
        };
        // Each of `time_ranges` is one row; `time_increment` splits a single range.
        let buckets = if ranges.len() > 1 {
            ranges.clone()
        } else {
            ranges
                .iter()
                .flat_map(|(a, b)| increment.buckets(*a, *b))
                .collect()
        };
        if buckets.len() > 2000 {
            return Err(GraphError::invalid_param(
                "Please reduce the number of time buckets (time_increment) in this request",
            ));
        }
        let action_breakdowns = match get("action_breakdowns") {
            Some(t) => {
                let list = list_param(&t);
                for (i, a) in list.iter().enumerate() {
                    if a != "action_type" {
                        return Err(GraphError::not_one_of(
                            &format!("action_breakdowns[{i}]"),
                            &["action_type"],
                        ));
                    }
                }
                list
            }
            None => vec!["action_type".to_owned()],
        };
        let dims = match get("breakdowns") {
            Some(t) => breakdown::parse(&t, &action_breakdowns)?,
            None => Vec::new(),
        };
        let windows = match get("action_attribution_windows") {
            Some(t) => {
                let list = list_param(&t);
                for (i, w) in list.iter().enumerate() {
                    if !WINDOWS.contains(&w.as_str()) {
                        return Err(GraphError::not_one_of(
                            &format!("action_attribution_windows[{i}]"),
                            WINDOWS,
                        ));
                    }
                }
                list
            }
            None => Vec::new(),
        };
        let (object_filters, row_filters) = match get("filtering") {
            Some(t) => {
                let known = |f: &str| is_object_filter_field(f) || METRICS.contains(&f);
                let all = filter::parse_filtering(&t, &known)?;
                all.into_iter()
                    .partition(|f| is_object_filter_field(&f.field))
            }
            None => (Vec::new(), Vec::new()),
        };
        let sort = match get("sort") {
            Some(t) => list_param(&t)
                .into_iter()
                .map(|s| {
                    let parsed = s
                        .strip_suffix("_descending")
                        .map(|f| (f.to_owned(), true))
                        .or_else(|| s.strip_suffix("_ascending").map(|f| (f.to_owned(), false)));
                    match parsed {
                        Some((f, desc)) if METRICS.contains(&f.as_str()) || f == "date_start" => {
                            Ok((f, desc))
                        }
                        _ => Err(GraphError::invalid_param(format!(
                            "sort: {s} is not a valid sort; use <field>_ascending or <field>_descending with a numeric insights field"
                        ))),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let thirteen_months = today.checked_sub_months(Months::new(13)).unwrap_or(today);
        let hide_reach = !dims.is_empty() && buckets.iter().any(|(a, _)| *a < thirteen_months);
        Ok(Self {
            level,
            fields,
            buckets,
            dims,
            windows,
            object_filters,
            row_filters,
            sort,
            hide_reach,
        })
    }
}

/// One aggregated row before rendering.
#[derive(Debug, Clone)]
pub struct Agg {
    /// Index into `Query::buckets`.
    pub bucket: usize,
    /// Index of the level object (campaign/ad set/ad index; 0 for the account).
    pub object: usize,
    /// Index into the breakdown members.
    pub member: usize,
    /// Summed quantities.
    pub q: Quantities,
}

/// Whether ad `a` lies under `scope`.
fn in_scope(tree: &Tree, a: usize, scope: Option<Node>) -> bool {
    let ad = &tree.ads[a];
    match scope {
        None | Some(Node::Creative(_)) => true,
        Some(Node::Campaign(c)) => ad.campaign == c,
        Some(Node::AdSet(s)) => ad.adset == s,
        Some(Node::Ad(x)) => a == x,
    }
}

/// Aggregates the model over the query's buckets, ads in scope and breakdown members.
pub fn aggregate(
    query: &Query,
    account: &Account,
    tree: &Tree,
    config: &SandboxConfig,
    clock: &Clock,
    scope: Option<Node>,
) -> Vec<Agg> {
    let members = breakdown::members(&query.dims, account);
    let eligible: Vec<bool> = (0..tree.ads.len())
        .map(|a| {
            in_scope(tree, a, scope) && {
                let subject = ObjectSubject {
                    tree,
                    node: Node::Ad(a),
                };
                query.object_filters.iter().all(|f| f.matches(&subject))
            }
        })
        .collect();
    let mut cache: HashMap<NaiveDate, Vec<(usize, Quantities)>> = HashMap::new();
    let mut sums: HashMap<(usize, usize, usize), Quantities> = HashMap::new();
    for (b, (since, until)) in query.buckets.iter().enumerate() {
        let last = (*until).min(clock.today);
        let mut d = (*since).max(account.created_date());
        while d <= last {
            let ads = cache
                .entry(d)
                .or_insert_with(|| model::day_ads(account, tree, config, clock, d));
            for (a, q) in ads.iter() {
                if !eligible[*a] {
                    continue;
                }
                let object = match query.level {
                    Level::Account => 0,
                    Level::Campaign => tree.ads[*a].campaign,
                    Level::AdSet => tree.ads[*a].adset,
                    Level::Ad => *a,
                };
                let week = (d - NaiveDate::default()).num_days().div_euclid(7) as u64;
                let seed = mix(&[account.hash, fnv(&tree.ads[*a].id), week]);
                for (m, part) in breakdown::split(q, &members, seed).into_iter().enumerate() {
                    if part.iter().all(|v| *v == 0) {
                        continue;
                    }
                    model::add(sums.entry((b, object, m)).or_insert([0; NQ]), &part);
                }
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        // Days before `since` are never needed again by later (later-starting) buckets of
        // an increment; ranges from `time_ranges` may overlap, so keep the cache otherwise.
        if query.buckets.len() > 1 && query.buckets.windows(2).all(|w| w[0].1 < w[1].0) {
            cache.retain(|day, _| day > until);
        }
    }
    let mut rows: Vec<Agg> = sums
        .into_iter()
        .filter(|(_, q)| q[model::IMPRESSIONS] > 0)
        .map(|((bucket, object, member), q)| Agg {
            bucket,
            object,
            member,
            q,
        })
        .collect();
    rows.sort_by_key(|r| (r.bucket, r.object, r.member));
    rows
}

/// Formats a ratio like Meta: up to six decimals, no trailing zeros.
pub fn ratio(x: f64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    Some(if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    })
}

/// Everything needed to render rows of one query.
pub struct Renderer<'a> {
    /// The query.
    pub query: &'a Query,
    /// The account.
    pub account: &'a Account,
    /// Its objects.
    pub tree: &'a Tree,
    /// Breakdown members of the query.
    pub members: Vec<breakdown::Member>,
}

/// Derived metrics of one row.
struct Metrics {
    spend: f64,
    reach: Option<i64>,
}

impl<'a> Renderer<'a> {
    /// A renderer for `query`.
    pub fn new(query: &'a Query, account: &'a Account, tree: &'a Tree) -> Self {
        Self {
            members: breakdown::members(&query.dims, account),
            query,
            account,
            tree,
        }
    }

    fn object_id(&self, row: &Agg) -> String {
        match self.query.level {
            Level::Account => self.account.id.clone(),
            Level::Campaign => self.tree.campaigns[row.object].id.clone(),
            Level::AdSet => self.tree.adsets[row.object].id.clone(),
            Level::Ad => self.tree.ads[row.object].id.clone(),
        }
    }

    fn metrics(&self, row: &Agg) -> Metrics {
        let spend = row.q[model::SPEND] as f64 / self.account.minor_per_major();
        let reach = (!self.query.hide_reach).then(|| {
            let (a, b) = self.query.buckets[row.bucket];
            let days = ((b - a).num_days() + 1).max(1) as f64;
            let key = mix(&[
                self.account.hash,
                fnv(&self.object_id(row)),
                row.member as u64,
                fnv(&a.to_string()),
                fnv(&b.to_string()),
            ]);
            let f = (self.account.profile.daily_frequency
                * (1.0 + 0.28 * days.ln())
                * (1.0 + 0.05 * signed(key)))
            .max(1.0);
            let imps = row.q[model::IMPRESSIONS];
            ((imps as f64 / f).round() as i64).clamp(1, imps.max(1))
        });
        Metrics { spend, reach }
    }

    /// A numeric metric of a row (for sorting and row filters).
    pub fn metric(&self, row: &Agg, name: &str) -> Option<f64> {
        let q = &row.q;
        let m = self.metrics(row);
        let div = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        let imps = q[model::IMPRESSIONS] as f64;
        match name {
            "impressions" => Some(imps),
            "clicks" => Some(q[model::CLICKS] as f64),
            "inline_link_clicks" => Some(q[model::LINK_CLICKS] as f64),
            "spend" => Some(m.spend),
            "reach" => m.reach.map(|r| r as f64),
            "frequency" => m.reach.and_then(|r| div(imps, r as f64)),
            "ctr" => div(q[model::CLICKS] as f64 * 100.0, imps),
            "cpc" => div(m.spend, q[model::CLICKS] as f64),
            "cpm" => div(m.spend * 1000.0, imps),
            "cpp" => m.reach.and_then(|r| div(m.spend * 1000.0, r as f64)),
            "inline_link_click_ctr" => div(q[model::LINK_CLICKS] as f64 * 100.0, imps),
            "cost_per_inline_link_click" => div(m.spend, q[model::LINK_CLICKS] as f64),
            "date_start" => {
                let (a, _) = self.query.buckets[row.bucket];
                Some((a - NaiveDate::default()).num_days() as f64)
            }
            _ => None,
        }
    }

    /// Applies row filters and `sort`, in place.
    pub fn filter_and_sort(&self, rows: &mut Vec<Agg>) {
        if !self.query.row_filters.is_empty() {
            rows.retain(|r| {
                let subject = RowSubject { r: self, row: r };
                self.query.row_filters.iter().all(|f| f.matches(&subject))
            });
        }
        if !self.query.sort.is_empty() {
            rows.sort_by(|a, b| {
                for (field, desc) in &self.query.sort {
                    let x = self.metric(a, field).unwrap_or(f64::NEG_INFINITY);
                    let y = self.metric(b, field).unwrap_or(f64::NEG_INFINITY);
                    let o = if *desc {
                        y.total_cmp(&x)
                    } else {
                        x.total_cmp(&y)
                    };
                    if o.is_ne() {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
    }

    /// One row in Meta's format.
    pub fn render(&self, row: &Agg) -> Value {
        let q = &row.q;
        let acc = self.account;
        let tree = self.tree;
        let (since, until) = self.query.buckets[row.bucket];
        let m = self.metrics(row);
        let money = |minor: i64| acc.money_string(minor);
        let (campaign, adset, ad) = match self.query.level {
            Level::Account => (None, None, None),
            Level::Campaign => (Some(row.object), None, None),
            Level::AdSet => (
                Some(tree.adsets[row.object].campaign),
                Some(row.object),
                None,
            ),
            Level::Ad => {
                let x = &tree.ads[row.object];
                (Some(x.campaign), Some(x.adset), Some(row.object))
            }
        };
        let mut out = Map::new();
        for field in &self.query.fields {
            let value: Option<Value> = match field.as_str() {
                "account_id" => Some(json!(acc.digits)),
                "account_name" => Some(json!(acc.name)),
                "account_currency" => Some(json!(acc.currency)),
                "campaign_id" => campaign.map(|c| json!(tree.campaigns[c].id)),
                "campaign_name" => campaign.map(|c| json!(tree.campaigns[c].name)),
                "adset_id" => adset.map(|s| json!(tree.adsets[s].id)),
                "adset_name" => adset.map(|s| json!(tree.adsets[s].name)),
                "ad_id" => ad.map(|a| json!(tree.ads[a].id)),
                "ad_name" => ad.map(|a| json!(tree.ads[a].name)),
                "objective" => campaign.map(|c| json!(tree.campaigns[c].objective)),
                "buying_type" => campaign.map(|_| json!("AUCTION")),
                "optimization_goal" => adset.map(|s| json!(tree.adsets[s].optimization_goal)),
                "impressions" => Some(json!(q[model::IMPRESSIONS].to_string())),
                "clicks" => Some(json!(q[model::CLICKS].to_string())),
                "inline_link_clicks" => Some(json!(q[model::LINK_CLICKS].to_string())),
                "spend" => Some(json!(money(q[model::SPEND]))),
                "reach" => m.reach.map(|r| json!(r.to_string())),
                "frequency"
                | "ctr"
                | "cpc"
                | "cpm"
                | "cpp"
                | "inline_link_click_ctr"
                | "cost_per_inline_link_click" => {
                    self.metric(row, field).and_then(ratio).map(Value::String)
                }
                "actions" => self.actions(q, false),
                "action_values" => self.actions(q, true),
                "cost_per_action_type" => self.cost_per_action(q, m.spend),
                "conversions" => self.conversions(q, false),
                "conversion_values" => self.conversions(q, true),
                "cost_per_conversion" => (q[model::PURCHASES] > 0).then(|| {
                    json!([{"action_type": "purchase",
                            "value": ratio(m.spend / q[model::PURCHASES] as f64)}])
                }),
                "purchase_roas" | "website_purchase_roas" => {
                    (m.spend > 0.0 && q[model::PURCHASE_VALUE] > 0).then(|| {
                        let roas =
                            q[model::PURCHASE_VALUE] as f64 / acc.minor_per_major() / m.spend;
                        let kind = if field == "purchase_roas" {
                            "omni_purchase"
                        } else {
                            "offsite_conversion.fb_pixel_purchase"
                        };
                        json!([{"action_type": kind, "value": ratio(roas)}])
                    })
                }
                // Always present, below.
                _ => None,
            };
            if let Some(v) = value {
                out.insert(field.clone(), v);
            }
        }
        for (dim, value) in &self.members[row.member].values {
            out.insert(dim.name().to_owned(), json!(value));
        }
        out.insert("date_start".into(), json!(since.to_string()));
        out.insert("date_stop".into(), json!(until.to_string()));
        Value::Object(out)
    }

    /// Window values of an action as a share of its default-attribution total.
    fn window_share(window: &str, conversion: bool) -> Option<f64> {
        if !conversion {
            // Clicks and views of the ad itself: every click window sees all of them.
            return match window {
                "1d_click" | "7d_click" | "28d_click" | "default" | "dda" => Some(1.0),
                _ => None,
            };
        }
        Some(match window {
            "7d_click" => 0.85,
            "1d_click" => 0.85 * 0.72,
            "28d_click" => 0.85 * 1.12,
            "1d_view" => 0.15,
            "7d_view" => 0.15 * 1.9,
            "28d_view" => 0.15 * 3.0,
            "1d_ev" => 0.03,
            "dda" => 1.05,
            "default" => 1.0,
            _ => return None,
        })
    }

    fn actions(&self, q: &Quantities, values: bool) -> Option<Value> {
        let mut list = Vec::new();
        for (kind, count, value, conversion) in ACTIONS {
            let total = match (values, value) {
                (false, _) => q[*count],
                (true, Some(v)) => q[*v],
                (true, None) => continue,
            };
            if total <= 0 {
                continue;
            }
            let fmt = |x: f64| {
                if values {
                    self.account.money_string(x.round() as i64)
                } else {
                    format!("{}", x.round() as i64)
                }
            };
            let mut entry = Map::new();
            entry.insert("action_type".into(), json!(kind));
            entry.insert("value".into(), json!(fmt(total as f64)));
            for w in &self.query.windows {
                if let Some(share) = Self::window_share(w, *conversion) {
                    entry.insert(w.clone(), json!(fmt(total as f64 * share)));
                }
            }
            list.push(Value::Object(entry));
        }
        (!list.is_empty()).then_some(Value::Array(list))
    }

    fn cost_per_action(&self, q: &Quantities, spend: f64) -> Option<Value> {
        let mut list = Vec::new();
        for (kind, count, _, conversion) in ACTIONS {
            let n = q[*count];
            if n <= 0 || spend <= 0.0 {
                continue;
            }
            let mut entry = Map::new();
            entry.insert("action_type".into(), json!(kind));
            entry.insert("value".into(), json!(ratio(spend / n as f64)));
            for w in &self.query.windows {
                if let Some(share) = Self::window_share(w, *conversion) {
                    let k = (n as f64 * share).round();
                    if k > 0.0 {
                        entry.insert(w.clone(), json!(ratio(spend / k)));
                    }
                }
            }
            list.push(Value::Object(entry));
        }
        (!list.is_empty()).then_some(Value::Array(list))
    }

    fn conversions(&self, q: &Quantities, values: bool) -> Option<Value> {
        let (n, v) = (q[model::PURCHASES], q[model::PURCHASE_VALUE]);
        if n <= 0 {
            return None;
        }
        let value = if values {
            self.account.money_string(v)
        } else {
            n.to_string()
        };
        Some(json!([{"action_type": "purchase", "value": value}]))
    }
}

/// A result row as a filter subject (metrics only).
struct RowSubject<'a, 'b> {
    r: &'a Renderer<'b>,
    row: &'a Agg,
}

impl Subject for RowSubject<'_, '_> {
    fn field(&self, field: &str) -> Option<FieldValue> {
        self.r.metric(self.row, field).map(FieldValue::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Shared;

    fn setup() -> (Shared, Clock) {
        let fixtures = crate::Fixtures::from_toml_str(
            "[[meta_ad_accounts]]\nid = \"act_1\"\ncreated_time = \"2021-01-10T00:00:00Z\"\ncurrency = \"PLN\"\n",
        )
        .unwrap();
        let mut config = SandboxConfig::new(fixtures);
        config.today = NaiveDate::from_ymd_opt(2026, 10, 20);
        let clock = Clock {
            today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            minute_of_day: 720,
        };
        (Shared::new(config), clock)
    }

    fn query(params: &str, account: &Account, clock: &Clock) -> Result<Query, GraphError> {
        let pairs = crate::http::query_pairs(Some(params));
        let get = |k: &str| pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        let fields = get("fields").map(|f| list_param(&f));
        Query::parse(&get, fields, account, clock, None)
    }

    fn totals(rows: &[Agg]) -> Quantities {
        let mut t = [0; NQ];
        for r in rows {
            model::add(&mut t, &r.q);
        }
        t
    }

    #[test]
    fn levels_breakdowns_and_increments_agree() {
        let (shared, clock) = setup();
        let account = Account::resolve(&shared, "act_1").unwrap();
        let tree = Tree::build(&account, &clock);
        let run = |p: &str| {
            let q = query(p, &account, &clock).unwrap();
            aggregate(&q, &account, &tree, &shared.config, &clock, None)
        };
        let account_rows = run("date_preset=last_90d");
        assert_eq!(account_rows.len(), 1);
        let total = account_rows[0].q;
        assert!(total[model::IMPRESSIONS] > 0);
        for p in [
            "date_preset=last_90d&level=campaign",
            "date_preset=last_90d&level=adset",
            "date_preset=last_90d&level=ad",
            "date_preset=last_90d&breakdowns=age,gender",
            "date_preset=last_90d&level=campaign&breakdowns=publisher_platform,platform_position",
            "date_preset=last_90d&breakdowns=region",
            "date_preset=last_90d&time_increment=1",
            "date_preset=last_90d&time_increment=monthly",
            "date_preset=last_90d&time_increment=7&level=ad&breakdowns=impression_device",
        ] {
            assert_eq!(totals(&run(p)), total, "{p}");
        }
        let daily = run("date_preset=last_90d&time_increment=1");
        assert_eq!(daily.len(), 90);
    }

    #[test]
    fn rows_render_as_strings() {
        let (shared, clock) = setup();
        let account = Account::resolve(&shared, "act_1").unwrap();
        let tree = Tree::build(&account, &clock);
        let q = query(
            "level=campaign&date_preset=last_30d&fields=campaign_name,impressions,reach,frequency,spend,ctr,cpc,cpm,actions,action_values,cost_per_action_type,purchase_roas&action_attribution_windows=[\"7d_click\",\"1d_view\"]&sort=spend_descending",
            &account,
            &clock,
        )
        .unwrap();
        let mut rows = aggregate(&q, &account, &tree, &shared.config, &clock, None);
        let r = Renderer::new(&q, &account, &tree);
        r.filter_and_sort(&mut rows);
        assert!(rows.len() >= 2);
        let first = r.render(&rows[0]);
        let second = r.render(&rows[1]);
        let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
        assert!(num(&first["spend"]) >= num(&second["spend"]));
        assert!(num(&first["reach"]) <= num(&first["impressions"]));
        let freq = num(&first["impressions"]) / num(&first["reach"]);
        assert!((freq - num(&first["frequency"])).abs() < 1e-3);
        let ctr = num(&first["ctr"]);
        assert!((0.3..4.0).contains(&ctr), "{ctr}");
        let link = first["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action_type"] == "link_click")
            .unwrap();
        assert!(link["value"].is_string() && link["7d_click"].is_string());
        assert!(link.get("1d_view").is_none(), "clicks have no view window");
        assert_eq!(first["date_start"], "2026-09-20");
        assert_eq!(first["date_stop"], "2026-10-19");
        assert!(first.get("campaign_name").is_some());
        assert!(first.get("adset_name").is_none());
    }

    #[test]
    fn parameter_errors() {
        let (shared, clock) = setup();
        let account = Account::resolve(&shared, "act_1").unwrap();
        let e = query("date_preset=lifetime", &account, &clock).unwrap_err();
        assert!(
            e.message
                .starts_with("(#100) date_preset must be one of the following values: today")
        );
        let e = query("fields=spend,xyz,abc", &account, &clock).unwrap_err();
        assert!(
            e.message
                .starts_with("(#100) xyz, abc are not valid for fields param"),
            "{}",
            e.message
        );
        assert_eq!(
            query("level=keyword", &account, &clock).unwrap_err().code,
            100
        );
        assert_eq!(
            query("breakdowns=age,country", &account, &clock)
                .unwrap_err()
                .code,
            100
        );
        assert_eq!(
            query("time_increment=0", &account, &clock)
                .unwrap_err()
                .code,
            100
        );
        assert_eq!(
            query("sort=name_ascending", &account, &clock)
                .unwrap_err()
                .code,
            100
        );
        assert_eq!(
            query("action_breakdowns=action_device", &account, &clock)
                .unwrap_err()
                .code,
            100
        );
        let q = query(
            "time_range={\"since\":\"2026-10-01\",\"until\":\"2026-10-07\"}&date_preset=yesterday",
            &account,
            &clock,
        )
        .unwrap();
        assert_eq!(q.buckets.len(), 1, "time_range overrides date_preset");
        assert_eq!(q.buckets[0].0.to_string(), "2026-10-01");
    }

    #[test]
    fn list_params_accept_json_and_commas() {
        assert_eq!(list_param("[\"a\", \"b\"]"), vec!["a", "b"]);
        assert_eq!(list_param("a, b,,"), vec!["a", "b"]);
        assert_eq!(list_param("[a,b]"), vec!["a", "b"]);
        assert!(list_param("").is_empty());
    }

    #[test]
    fn ratios_trim_like_meta() {
        assert_eq!(ratio(2.2595151).as_deref(), Some("2.259515"));
        assert_eq!(ratio(1.5).as_deref(), Some("1.5"));
        assert_eq!(ratio(3.0).as_deref(), Some("3"));
        assert_eq!(ratio(f64::NAN), None);
    }
}
