//! The synthetic data model behind every Search Console number.
//!
//! The finest unit is a *cell*: integer impressions and clicks (clicks ≤ impressions) plus a
//! position, for one (search type, day, query-page pair). A day's expected web clicks come
//! from the site's volume (a linked GA4 property's Google organic sessions, or a fixed
//! average with weekly and yearly seasonality); pairs share the day's impressions by their
//! vocabulary weight with per-day noise, and their clicks follow their CTR.
//!
//! Cells are split further only on demand, always in the same order: search appearance →
//! device → country → hour. Each split hands out the parent's integers exactly
//! ([`split`], [`split_capped`]), so every coarser grouping equals the sum of the finer one.
//! All randomness is `hash::mix` of (site, type, pair, day, bucket), never a RNG.

use chrono::{Datelike, Duration, NaiveDate};

use super::site::{Clock, SiteInfo, Volume, season, trend};
use super::vocab::{COUNTRIES, PageKind, QueryKind};
use crate::ga4::model::{self as ga4m, Facet, GenContext};
use crate::hash::{mix, signed, splitmix, unit};

/// Search types (`type` / `searchType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchType {
    /// Web search (default).
    Web,
    /// Image search.
    Image,
    /// Video search.
    Video,
    /// The News tab of Search.
    News,
    /// Discover.
    Discover,
    /// news.google.com and the Google News app.
    GoogleNews,
}

impl SearchType {
    /// All types.
    pub const ALL: [SearchType; 6] = [
        SearchType::Web,
        SearchType::Image,
        SearchType::Video,
        SearchType::News,
        SearchType::Discover,
        SearchType::GoogleNews,
    ];

    /// Parses the wire value, case- and underscore-insensitively (`googleNews`, `GOOGLE_NEWS`).
    pub fn parse(text: &str) -> Option<SearchType> {
        Some(match super::query::norm(text).as_str() {
            "web" => SearchType::Web,
            "image" => SearchType::Image,
            "video" => SearchType::Video,
            "news" => SearchType::News,
            "discover" => SearchType::Discover,
            "googlenews" => SearchType::GoogleNews,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchType::Web => "web",
            SearchType::Image => "image",
            SearchType::Video => "video",
            SearchType::News => "news",
            SearchType::Discover => "discover",
            SearchType::GoogleNews => "googleNews",
        }
    }

    /// Whether the type has queries (Discover and Google News do not).
    pub fn has_queries(self) -> bool {
        !matches!(self, SearchType::Discover | SearchType::GoogleNews)
    }

    fn salt(self) -> u64 {
        match self {
            SearchType::Web => 0,
            SearchType::Image => 1,
            SearchType::Video => 2,
            SearchType::News => 3,
            SearchType::Discover => 4,
            SearchType::GoogleNews => 5,
        }
    }

    /// (impressions relative to web, CTR factor, position factor).
    fn shape(self) -> (f64, f64, f64) {
        match self {
            SearchType::Web => (1.0, 1.0, 1.0),
            SearchType::Image => (0.55, 0.07, 2.2),
            SearchType::Video => (0.02, 0.5, 1.6),
            SearchType::News => (0.006, 0.6, 1.3),
            SearchType::Discover => (0.08, 0.45, 1.0),
            SearchType::GoogleNews => (0.003, 0.5, 1.0),
        }
    }

    /// How much of a page kind's impressions this type sees, relative to web.
    fn page_tilt(self, kind: PageKind) -> f64 {
        use PageKind::*;
        match (self, kind) {
            (SearchType::Web, _) => 1.0,
            (SearchType::Image, Product) => 2.5,
            (SearchType::Image, Category) => 1.5,
            (SearchType::Image, Blog) => 1.0,
            (SearchType::Image, _) => 0.15,
            (SearchType::Video, Blog) => 3.0,
            (SearchType::Video, Product) => 0.6,
            (SearchType::Video, _) => 0.05,
            (SearchType::News | SearchType::GoogleNews, Blog) => 1.0,
            (SearchType::News | SearchType::GoogleNews, _) => 0.0,
            (SearchType::Discover, Blog) => 3.0,
            (SearchType::Discover, Product) => 1.0,
            (SearchType::Discover, Category) => 0.3,
            (SearchType::Discover, _) => 0.0,
        }
    }
}

/// Search appearances the sandbox emits. In this model an impression has at most one, so
/// appearance rows add up (Google's can overlap); most impressions have none (a blue link).
pub const APPEARANCES: &[&str] = &[
    "MERCHANT_LISTINGS",
    "ORGANIC_SHOPPING",
    "PRODUCT_SNIPPETS",
    "REVIEW_SNIPPET",
    "TRANSLATED_RESULT",
    "VIDEO",
];

/// Share of a page kind's impressions shown with each of [`APPEARANCES`].
fn appearance_rates(kind: PageKind) -> [f64; 6] {
    match kind {
        PageKind::Product => [0.3, 0.07, 0.35, 0.08, 0.01, 0.0],
        PageKind::Category => [0.0, 0.1, 0.05, 0.0, 0.01, 0.0],
        PageKind::Blog => [0.0, 0.0, 0.0, 0.0, 0.02, 0.06],
        PageKind::Home | PageKind::Info => [0.0, 0.0, 0.0, 0.0, 0.01, 0.0],
    }
}

/// Devices as reported (`DESKTOP`, `MOBILE`, `TABLET`; already in lexicographic order).
pub const DEVICES: [&str; 3] = ["DESKTOP", "MOBILE", "TABLET"];

/// Device mix per query kind.
fn device_mix(kind: QueryKind) -> [f64; 3] {
    match kind {
        QueryKind::Brand => [0.41, 0.55, 0.04],
        QueryKind::Category => [0.34, 0.62, 0.04],
        QueryKind::Product => [0.36, 0.6, 0.04],
        QueryKind::Question => [0.25, 0.72, 0.03],
        QueryKind::LongTail => [0.33, 0.63, 0.04],
    }
}
/// CTR tilt per device (desktop users click more).
const DEVICE_CTR: [f64; 3] = [1.15, 0.95, 1.0];
/// Position factor per device.
const DEVICE_POS: [f64; 3] = [1.0, 1.03, 1.05];

/// One search type's view of a site: active pairs with normalised weights.
#[derive(Debug, Clone)]
pub struct TypeModel {
    /// (pair index, share of the type's impressions).
    pub pairs: Vec<(u32, f64)>,
    /// Expected clicks per impression over all pairs.
    pub ctr: f64,
    /// Impressions relative to web.
    pub volume: f64,
    /// CTR factor.
    pub ctr_factor: f64,
    /// Position factor.
    pub pos_factor: f64,
    /// Noise salt of the type.
    pub salt: u64,
}

/// Builds the per-type models of a site.
pub fn type_models(site: &SiteInfo) -> Vec<TypeModel> {
    let vocab = &site.vocab;
    SearchType::ALL
        .iter()
        .map(|t| {
            let (volume, ctr_factor, pos_factor) = t.shape();
            let mut pairs: Vec<(u32, f64)> = vocab
                .pairs
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let kind = vocab.pages.get(p.page as usize)?.kind;
                    let jitter = if *t == SearchType::Web {
                        1.0
                    } else {
                        (0.5 * signed(mix(&[site.hash, t.salt(), i as u64, 9]))).exp()
                    };
                    let w = p.weight * t.page_tilt(kind) * jitter;
                    (w > 0.0).then_some((i as u32, w))
                })
                .collect();
            let total: f64 = pairs.iter().map(|(_, w)| w).sum();
            let mut ctr = 0.0;
            for (i, w) in &mut pairs {
                *w /= total;
                let base = vocab.pairs.get(*i as usize).map_or(0.0, |p| p.ctr);
                ctr += *w * (base * ctr_factor).min(0.9);
            }
            TypeModel {
                pairs,
                ctr,
                volume,
                ctr_factor,
                pos_factor,
                salt: t.salt(),
            }
        })
        .collect()
}

/// Days since 1970-01-01.
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

/// Expected full-day web clicks of a site on day `d`.
pub fn target_clicks(site: &SiteInfo, d: NaiveDate) -> f64 {
    let n = day_number(d) as u64;
    match &site.volume {
        Volume::Linked { property, ratio } => {
            organic_sessions(property, d) * ratio * (1.0 + 0.05 * signed(mix(&[site.hash, n, 1])))
        }
        Volume::Fixed(avg) => {
            let weekday = [1.05, 1.06, 1.03, 1.0, 0.93, 0.85, 0.98]
                .get(d.weekday().num_days_from_monday() as usize)
                .copied()
                .unwrap_or(1.0);
            let years = (day_number(d) - 20_089) as f64 / 365.0; // relative to 2025-01-01
            let growth = (1.0 + trend(site.hash) * years).clamp(0.3, 3.0);
            let noise = 1.0 + 0.07 * signed(mix(&[site.hash, n, 1]));
            avg * weekday * growth * season(d) * noise
        }
    }
}

/// Google organic sessions of a GA4 property on day `d`, as its reports show them (full day).
pub fn organic_sessions(property: &crate::ga4::property::PropertyInfo, d: NaiveDate) -> f64 {
    let ctx = GenContext {
        prop: property,
        clock: crate::ga4::property::Clock {
            today: d,
            minute_of_day: 0,
        },
        currency: 1.0,
        conversions: None,
    };
    let mut q = vec![0.0; ctx.nq()];
    ga4m::day_base(&ctx, d, &mut q);
    let members = ga4m::members(Facet::Traffic, &ctx);
    // The GA4 engine reseeds facet shares weekly (and on incident days); member 0 is
    // google / organic.
    let factors = ga4m::traffic_factors(&members, property, d);
    let share = factors.first().map_or(0.0, |f| f[ga4m::G_VOLUME]);
    q.get(ga4m::SESSIONS).copied().unwrap_or(0.0) * share
}

/// Data freshness requested (`dataState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataState {
    /// Finalised data only (lags about three days).
    Final,
    /// Final plus fresh, partial data.
    All,
    /// Like `All`, and hourly rows are available.
    HourlyAll,
}

/// Hours of delay before an hour of fresh data shows up.
const HOURLY_DELAY: u32 = 3;
/// Hourly breakdowns exist for this many most recent days.
pub const HOURLY_DAYS: i64 = 10;

/// The clock-dependent view of a site's days.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// Today (PT).
    pub today: NaiveDate,
    /// Hours of today with (partial) data.
    pub hours_today: u32,
    /// Requested data state.
    pub state: DataState,
}

impl Freshness {
    /// Freshness for a request.
    pub fn new(clock: Clock, state: DataState) -> Self {
        Freshness {
            today: clock.today,
            hours_today: (clock.minute_of_day / 60).saturating_sub(HOURLY_DELAY),
            state,
        }
    }

    /// Last day with finalised data.
    pub fn last_final(&self) -> NaiveDate {
        self.today - Duration::days(3)
    }

    /// First day whose data is still being collected (`first_incomplete_date`).
    pub fn first_incomplete(&self) -> NaiveDate {
        self.today - Duration::days(2)
    }

    /// Fraction of a full day's data that is visible for day `d` (0 when none).
    pub fn completeness(&self, d: NaiveDate, hour_profile: &[f64; 24]) -> f64 {
        if d <= self.last_final() {
            return 1.0;
        }
        if self.state == DataState::Final || d > self.today {
            return 0.0;
        }
        let age = (self.today - d).num_days();
        match age {
            2 => 0.97,
            1 => 0.9,
            _ => {
                0.9 * hour_profile
                    .iter()
                    .take(self.hours_today as usize)
                    .sum::<f64>()
            }
        }
    }

    /// Weight of each hour of day `d` in its visible data (zero for hours not yet in).
    pub fn hour_weights(&self, d: NaiveDate, hour_profile: &[f64; 24]) -> [f64; 24] {
        let mut w = *hour_profile;
        if d == self.today {
            for (h, slot) in w.iter_mut().enumerate() {
                if h as u32 >= self.hours_today {
                    *slot = 0.0;
                }
            }
        }
        w
    }

    /// Whether day `d` has hourly rows.
    pub fn has_hours(&self, d: NaiveDate) -> bool {
        (self.today - d).num_days() < HOURLY_DAYS && d <= self.today
    }
}

/// Share of a day's searches in each Pacific hour (the local evening peak, shifted).
pub fn hour_profile(site: &SiteInfo) -> [f64; 24] {
    let shift = COUNTRIES.get(site.home_country).map_or(0, |c| c.shift);
    let mut w = [0.0; 24];
    for (h, slot) in w.iter_mut().enumerate() {
        *slot = ga4m::hour_weight((h as u32 + shift) % 24);
    }
    let total: f64 = w.iter().sum();
    if total > 0.0 {
        for slot in &mut w {
            *slot /= total;
        }
    }
    w
}

/// Impressions, clicks and position of one cell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cell {
    /// Impressions.
    pub imp: u32,
    /// Clicks (≤ impressions).
    pub clk: u32,
    /// Average position.
    pub pos: f64,
}

/// Per-day inputs shared by every pair of a request.
#[derive(Debug, Clone, Copy)]
pub struct DayBase {
    /// Day number (noise seed).
    pub n: u64,
    /// Expected visible impressions of the type on this day (all pairs).
    pub impressions: f64,
    /// Years since 2025-01-01 (query trends).
    pub years: f64,
    /// Seed of the (site, type, day); pairs derive theirs with one mixing step.
    pub seed: u64,
}

/// The day's base for a type (zero impressions when the day has no visible data).
pub fn day_base(
    site: &SiteInfo,
    tm: &TypeModel,
    d: NaiveDate,
    fresh: &Freshness,
    hour_profile: &[f64; 24],
) -> DayBase {
    let n = day_number(d);
    let visible = if d < site.first_date {
        0.0
    } else {
        fresh.completeness(d, hour_profile)
    };
    // Every type scales the web impressions that yield the day's expected web clicks.
    let web_ctr = site.types.first().map_or(0.0, |web| web.ctr);
    let impressions = if visible > 0.0 && web_ctr > 0.0 {
        target_clicks(site, d) / web_ctr * tm.volume * visible
    } else {
        0.0
    };
    DayBase {
        n: n as u64,
        impressions,
        years: (n - 20_089) as f64 / 365.0,
        seed: mix(&[site.hash, tm.salt, n as u64]),
    }
}

/// `floor` for non-negative values without a libm call (hot path; `as` saturates).
fn floor_pos(x: f64) -> f64 {
    (x as u64) as f64
}

/// Rounds `x` up or down with probability equal to its fraction (keeps sums unbiased).
fn stochastic_round(x: f64, h: u64) -> u32 {
    let floor = floor_pos(x);
    let up = unit(h) < x - floor;
    (floor as u32).saturating_add(u32::from(up))
}

/// The cell of one pair on one day, and the seed for splitting it.
pub fn pair_cell(
    site: &SiteInfo,
    tm: &TypeModel,
    pair_index: u32,
    share: f64,
    day: &DayBase,
) -> (Cell, u64) {
    // One splitmix per pair-day: this runs millions of times for long date ranges.
    let seed = splitmix(day.seed ^ u64::from(pair_index).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let Some(pair) = site.vocab.pairs.get(pair_index as usize) else {
        return (Cell::default(), seed);
    };
    let trend = (1.0 + pair.trend * day.years).clamp(0.2, 3.0);
    let jitter = 1.0 + 0.35 * signed(splitmix(seed ^ 1));
    let lambda = day.impressions * share * trend * jitter;
    let imp = stochastic_round(lambda, splitmix(seed ^ 2));
    if imp == 0 {
        return (Cell::default(), seed);
    }
    let ctr =
        (pair.ctr * tm.ctr_factor * (1.0 + 0.25 * signed(splitmix(seed ^ 3)))).clamp(0.0, 0.9);
    let clk = stochastic_round(f64::from(imp) * ctr, splitmix(seed ^ 4)).min(imp);
    let pos = (pair.pos * tm.pos_factor * (1.0 + 0.07 * signed(splitmix(seed ^ 5)))).max(1.0);
    (Cell { imp, clk, pos }, seed)
}

/// Largest bucket count of any split (countries are the widest level).
pub const MAX_BUCKETS: usize = 32;

/// The `k`-th hash derived from `seed` (one splitmix; splits call this per unit/bucket).
pub fn nth(seed: u64, k: u64) -> u64 {
    splitmix(seed ^ k.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Splits `total` into `out.len()` buckets in proportion to `weights`, exactly (the buckets
/// sum to `total`). Small totals are placed unit by unit (hashed), large ones by largest
/// remainder with hashed tie-breaks, so the cost is O(min(total, buckets)).
pub fn split(total: u32, weights: &[f64], seed: u64, out: &mut [u32]) {
    out.fill(0);
    let n = weights.len().min(out.len()).min(MAX_BUCKETS);
    if total == 0 || n == 0 {
        return;
    }
    let sum: f64 = weights.iter().take(n).map(|w| w.max(0.0)).sum();
    if sum <= 0.0 {
        if let Some(first) = out.first_mut() {
            *first = total;
        }
        return;
    }
    if total <= 8 {
        for k in 0..total {
            let mut u = unit(nth(seed, u64::from(k))) * sum;
            let mut chosen = n - 1;
            for (b, w) in weights.iter().take(n).enumerate() {
                let w = w.max(0.0);
                if u < w {
                    chosen = b;
                    break;
                }
                u -= w;
            }
            // Never land on a zero-weight bucket through rounding at the end.
            while chosen > 0 && weights.get(chosen).is_none_or(|w| *w <= 0.0) {
                chosen -= 1;
            }
            if let Some(slot) = out.get_mut(chosen) {
                *slot += 1;
            }
        }
        return;
    }
    let mut keys = [0.0f64; MAX_BUCKETS];
    let mut assigned: u64 = 0;
    for (b, (key, (slot, w))) in keys
        .iter_mut()
        .zip(out.iter_mut().zip(weights))
        .enumerate()
        .take(n)
    {
        let w = w.max(0.0);
        let exact = f64::from(total) * w / sum;
        let floor = floor_pos(exact);
        *slot = floor as u32;
        assigned += floor as u64;
        *key = if w > 0.0 {
            exact - floor + 0.5 * unit(nth(seed, b as u64))
        } else {
            f64::NEG_INFINITY
        };
    }
    let mut remaining = u64::from(total).saturating_sub(assigned);
    let mut order = [0u8; MAX_BUCKETS];
    for (b, slot) in order.iter_mut().enumerate().take(n) {
        *slot = b as u8;
    }
    let order = &mut order[..n];
    order.sort_unstable_by(|a, b| keys[*b as usize].total_cmp(&keys[*a as usize]));
    // `remaining` < n in exact arithmetic; cycle anyway in case of float drift.
    while remaining > 0 {
        for &b in order.iter() {
            if remaining == 0 {
                break;
            }
            if keys[b as usize] == f64::NEG_INFINITY {
                continue;
            }
            if let Some(slot) = out.get_mut(b as usize) {
                *slot += 1;
                remaining -= 1;
            }
        }
    }
}

/// Like [`split`], but bucket `b` never exceeds `caps[b]`; the overflow moves to buckets with
/// room, heaviest first. Callers guarantee `sum(caps) >= total`.
pub fn split_capped(total: u32, weights: &[f64], caps: &[u32], seed: u64, out: &mut [u32]) {
    split(total, weights, seed, out);
    let mut excess = 0u32;
    for (slot, cap) in out.iter_mut().zip(caps) {
        if *slot > *cap {
            excess += *slot - *cap;
            *slot = *cap;
        }
    }
    if excess == 0 {
        return;
    }
    let n = out.len().min(caps.len()).min(MAX_BUCKETS);
    let mut order = [0u8; MAX_BUCKETS];
    for (b, slot) in order.iter_mut().enumerate().take(n) {
        *slot = b as u8;
    }
    let order = &mut order[..n];
    let w = |b: u8| weights.get(b as usize).copied().unwrap_or(0.0);
    order.sort_unstable_by(|a, b| w(*b).total_cmp(&w(*a)).then(a.cmp(b)));
    for &b in order.iter() {
        if excess == 0 {
            break;
        }
        let (Some(slot), Some(cap)) = (out.get_mut(b as usize), caps.get(b as usize)) else {
            continue;
        };
        let take = (cap - *slot).min(excess);
        *slot += take;
        excess -= take;
    }
}

/// Per-week device and country mixes of a site (shares drift a little week by week).
#[derive(Debug, Clone)]
pub struct SegmentMix {
    /// Device weights per query kind.
    pub devices: [[f64; 3]; 5],
    /// Country weights.
    pub countries: Vec<f64>,
    /// Country CTR tilt (home country users click more).
    pub country_ctr: Vec<f64>,
    /// Country position factor (foreign results rank lower).
    pub country_pos: Vec<f64>,
}

impl SegmentMix {
    /// The mix of the week containing day number `n`.
    pub fn for_day(site: &SiteInfo, n: i64) -> SegmentMix {
        let week = n.div_euclid(7) as u64;
        let drift = |salt: u64, i: u64| 1.0 + 0.08 * signed(mix(&[site.hash, week, salt, i]));
        let kinds = [
            QueryKind::Brand,
            QueryKind::Category,
            QueryKind::Product,
            QueryKind::Question,
            QueryKind::LongTail,
        ];
        let devices = kinds.map(|k| {
            let m = device_mix(k);
            [m[0] * drift(1, 0), m[1] * drift(1, 1), m[2] * drift(1, 2)]
        });
        let home = site.home_country;
        let foreign: f64 = COUNTRIES
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != home)
            .map(|(_, c)| c.weight)
            .sum();
        let home_share = 0.55 + 0.2 * unit(mix(&[site.hash, 20]));
        let mut countries = Vec::with_capacity(COUNTRIES.len());
        let mut country_ctr = Vec::with_capacity(COUNTRIES.len());
        let mut country_pos = Vec::with_capacity(COUNTRIES.len());
        for (i, c) in COUNTRIES.iter().enumerate() {
            let (w, ctr, pos) = if i == home {
                (home_share, 1.0, 1.0)
            } else {
                (
                    (1.0 - home_share) * c.weight / foreign.max(1e-9)
                        * (0.5 * signed(mix(&[site.hash, 21, i as u64]))).exp(),
                    0.7,
                    1.3 + 1.2 * unit(mix(&[site.hash, 22, i as u64])),
                )
            };
            countries.push(w * drift(2, i as u64));
            country_ctr.push(ctr);
            country_pos.push(pos);
        }
        SegmentMix {
            devices,
            countries,
            country_ctr,
            country_pos,
        }
    }
}

/// CTR tilt per device.
pub fn device_ctr(d: usize) -> f64 {
    DEVICE_CTR.get(d).copied().unwrap_or(1.0)
}

/// Position factor per device.
pub fn device_pos(d: usize) -> f64 {
    DEVICE_POS.get(d).copied().unwrap_or(1.0)
}

/// Appearance rates of a page kind, with the trailing "no special appearance" bucket.
pub fn appearance_weights(kind: PageKind) -> [f64; 7] {
    let r = appearance_rates(kind);
    let none = (1.0 - r.iter().sum::<f64>()).max(0.0);
    [r[0], r[1], r[2], r[3], r[4], r[5], none]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_exact_and_deterministic() {
        let weights = [0.5, 0.0, 0.3, 0.2, 1e-6];
        let mut out = [0u32; 5];
        for total in [0u32, 1, 3, 8, 9, 17, 1000, 123_457] {
            for seed in 0..20u64 {
                split(total, &weights, seed, &mut out);
                assert_eq!(out.iter().sum::<u32>(), total, "{total} {seed}");
                assert_eq!(out[1], 0, "zero weight stays empty");
                let mut again = [0u32; 5];
                split(total, &weights, seed, &mut again);
                assert_eq!(out, again);
            }
        }
        split(100_000, &weights, 7, &mut out);
        assert!((f64::from(out[0]) / 100_000.0 - 0.5).abs() < 0.001);
    }

    #[test]
    fn capped_split_respects_caps() {
        let caps = [3u32, 0, 50, 1];
        let weights = [10.0, 5.0, 0.1, 10.0];
        let mut out = [0u32; 4];
        for total in 0..=54u32 {
            split_capped(total, &weights, &caps, 9, &mut out);
            assert_eq!(out.iter().sum::<u32>(), total);
            for (o, c) in out.iter().zip(&caps) {
                assert!(o <= c);
            }
        }
    }

    #[test]
    fn stochastic_rounding_is_unbiased() {
        let n = 20_000u64;
        let sum: u64 = (0..n)
            .map(|i| u64::from(stochastic_round(0.3, splitmix(i))))
            .sum();
        assert!((sum as f64 / n as f64 - 0.3).abs() < 0.02);
    }
}
