//! The synthetic data model behind every GA4 number.
//!
//! A report cell is a vector of additive *quantities* (sessions, engaged sessions, revenue …).
//! A time slot (a day, an hour or a realtime minute) gets a base vector from the property's
//! [`Profile`](super::property::Profile) with weekly and yearly seasonality, a mild trend and
//! noise. Each dimension *facet* (traffic source, device, geography, page, …) splits that
//! vector among its members by day-varying shares; members also tilt rates (desktop converts
//! better, Direct bounces more) through per-group tweaks that are normalised so every split
//! still sums to the unsplit value. Metrics are then computed from the summed quantities, so
//! totals, ratios and breakdowns stay consistent with each other.
//!
//! All randomness is `hash::mix` of (property, day/minute, member), never a RNG.

use chrono::{Datelike, NaiveDate};

use super::property::{Clock, PropertyInfo};
use crate::fixtures::MeasurementUnit;
use crate::hash::{fnv, mix, range, signed, unit};

// Quantity indices. Custom metrics follow `BASE_Q`.
/// Sessions.
pub const SESSIONS: usize = 0;
/// Engaged sessions.
pub const ENGAGED: usize = 1;
/// Total users.
pub const TOTAL_USERS: usize = 2;
/// Active users.
pub const ACTIVE_USERS: usize = 3;
/// New users.
pub const NEW_USERS: usize = 4;
/// Sum of session durations, seconds.
pub const SESSION_SECONDS: usize = 5;
/// Sum of user engagement time, seconds.
pub const ENGAGEMENT_SECONDS: usize = 6;
/// Page views.
pub const PAGE_VIEWS: usize = 7;
/// Events (recomputed from the event mix after splitting).
pub const EVENTS: usize = 8;
/// `view_item` events.
pub const ITEM_VIEWS: usize = 9;
/// `add_to_cart` events.
pub const ADD_TO_CARTS: usize = 10;
/// `begin_checkout` events.
pub const CHECKOUTS: usize = 11;
/// Purchases.
pub const PURCHASES: usize = 12;
/// Purchase revenue (property currency).
pub const REVENUE: usize = 13;
/// `generate_lead` events.
pub const LEADS: usize = 14;
/// Google Ads clicks.
pub const AD_CLICKS: usize = 15;
/// Google Ads impressions.
pub const AD_IMPRESSIONS: usize = 16;
/// Google Ads cost (property currency).
pub const AD_COST: usize = 17;
/// Attributed conversions by conversion date (conversions reports only).
pub const CONV_BY_CONVERSION: usize = 18;
/// Attributed conversions by interaction date.
pub const CONV_BY_INTERACTION: usize = 19;
/// Attributed revenue by conversion date.
pub const REV_BY_CONVERSION: usize = 20;
/// Attributed revenue by interaction date.
pub const REV_BY_INTERACTION: usize = 21;
/// Number of built-in quantities.
pub const BASE_Q: usize = 22;

/// Tweak groups: which member rate tilt applies to which quantity.
pub const G_VOLUME: usize = 0;
/// Engagement quantities.
pub const G_ENGAGE: usize = 1;
/// New users.
pub const G_NEW: usize = 2;
/// Conversion quantities.
pub const G_CONV: usize = 3;
/// Google Ads quantities.
pub const G_ADS: usize = 4;
/// Attributed conversions (conversions reports).
pub const G_ATTR: usize = 5;
/// Number of tweak groups.
pub const NG: usize = 6;

/// The tweak group of a quantity.
pub fn group_of(q: usize) -> usize {
    match q {
        ENGAGED | SESSION_SECONDS | ENGAGEMENT_SECONDS | PAGE_VIEWS | EVENTS | ITEM_VIEWS => {
            G_ENGAGE
        }
        NEW_USERS => G_NEW,
        ADD_TO_CARTS | CHECKOUTS | PURCHASES | REVENUE | LEADS => G_CONV,
        AD_CLICKS | AD_IMPRESSIONS | AD_COST => G_ADS,
        CONV_BY_CONVERSION | CONV_BY_INTERACTION | REV_BY_CONVERSION | REV_BY_INTERACTION => G_ATTR,
        _ => G_VOLUME,
    }
}

/// Whether a quantity is money (scaled by currency conversion).
pub fn is_money(q: usize) -> bool {
    matches!(
        q,
        REVENUE | AD_COST | REV_BY_CONVERSION | REV_BY_INTERACTION
    )
}

/// Attribution model of a conversions report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// Data-driven (default).
    DataDriven,
    /// Last click.
    LastClick,
}

/// Conversions-report parameters that change the generated quantities.
#[derive(Debug, Clone, Copy)]
pub struct ConversionParams {
    /// Attribution model.
    pub model: Attribution,
    /// Weight of purchases among the selected conversion actions (0 or 1).
    pub purchases: f64,
    /// Weight of leads among the selected conversion actions.
    pub leads: f64,
}

/// Request-wide generation context.
#[derive(Debug, Clone, Copy)]
pub struct GenContext<'a> {
    /// The property.
    pub prop: &'a PropertyInfo,
    /// Its clock.
    pub clock: Clock,
    /// Extra currency factor (request `currencyCode`), 1.0 by default.
    pub currency: f64,
    /// Set for conversions reports.
    pub conversions: Option<ConversionParams>,
}

impl GenContext<'_> {
    /// Number of quantities including custom metrics.
    pub fn nq(&self) -> usize {
        BASE_Q + self.prop.custom_metrics.len()
    }
}

/// Share of each local hour in a day's traffic (shop-like: evening peak).
const HOUR_PROFILE: [f64; 24] = [
    0.012, 0.007, 0.005, 0.004, 0.004, 0.006, 0.013, 0.025, 0.038, 0.046, 0.051, 0.054, 0.055,
    0.054, 0.053, 0.053, 0.055, 0.058, 0.063, 0.069, 0.073, 0.07, 0.057, 0.034,
];

/// Normalised weight of a local hour.
pub fn hour_weight(hour: u32) -> f64 {
    let total: f64 = HOUR_PROFILE.iter().sum();
    HOUR_PROFILE.get(hour as usize).copied().unwrap_or(0.0) / total
}

/// Days since 1970-01-01 (seed of per-day noise).
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

/// Fraction of hour `hour` of day `d` that has already happened.
pub fn hour_cutoff(ctx: &GenContext<'_>, d: NaiveDate, hour: u32) -> f64 {
    if d < ctx.prop.create_time.date_naive() || d > ctx.clock.today {
        return 0.0;
    }
    if d < ctx.clock.today {
        return 1.0;
    }
    let now = ctx.clock.minute_of_day;
    let start = hour * 60;
    if now >= start + 60 {
        1.0
    } else if now <= start {
        0.0
    } else {
        f64::from(now - start) / 60.0
    }
}

/// Fraction of day `d`'s traffic that exists (0 in the future, partial today).
pub fn day_fraction(ctx: &GenContext<'_>, d: NaiveDate) -> f64 {
    if d < ctx.prop.create_time.date_naive() || d > ctx.clock.today {
        return 0.0;
    }
    if d < ctx.clock.today {
        return 1.0;
    }
    (0..24)
        .map(|h| hour_weight(h) * hour_cutoff(ctx, d, h))
        .sum()
}

/// Expected sessions on day `d` (full day, before any cut-off).
fn daily_sessions(prop: &PropertyInfo, d: NaiveDate) -> f64 {
    let p = &prop.profile;
    let n = day_number(d);
    let weekday =
        [1.04, 1.06, 1.03, 1.0, 0.94, 0.86, 1.0][d.weekday().num_days_from_monday() as usize];
    let years = (n - 19_723) as f64 / 365.0; // relative to 2024-01-01
    let trend = (1.0 + p.trend * years).clamp(0.3, 3.0);
    let doy = f64::from(d.ordinal());
    let mut season = 1.0 + 0.1 * (2.0 * std::f64::consts::PI * (doy - 355.0) / 365.0).cos();
    match (d.month(), d.day()) {
        (11, 22..=30) => season *= 1.35, // Black Friday week
        (12, 1..=20) => season *= 1.15,
        (1, 1..=15) => season *= 0.9,
        _ => {}
    }
    let noise = 1.0 + 0.07 * signed(mix(&[prop.hash, n as u64, 1]));
    let spike = if unit(mix(&[prop.hash, n as u64, 2])) < 0.02 {
        1.4
    } else {
        1.0
    };
    p.base_sessions * weekday * trend * season * noise * spike
}

/// Fills `out` with the full-day base quantities of day `d`.
pub fn day_base(ctx: &GenContext<'_>, d: NaiveDate, out: &mut [f64]) {
    out.fill(0.0);
    let prop = ctx.prop;
    let n = day_number(d) as u64;
    let jitter = |salt: u64, amp: f64| 1.0 + amp * signed(mix(&[prop.hash, n, salt]));
    let s = daily_sessions(prop, d);
    let money = prop.money * ctx.currency;
    fill_from_sessions(ctx, s, &jitter, money, out);
    if let Some(conv) = ctx.conversions {
        let today_conv = out[PURCHASES] * conv.purchases + out[LEADS] * conv.leads;
        let today_rev = out[REVENUE] * conv.purchases;
        // Interaction-date credit comes partly from conversions that happen the next day,
        // so the most recent day is still "maturing" (lower), as in GA4.
        let next = d.succ_opt().unwrap_or(d);
        let next_fraction = day_fraction(ctx, next);
        let mut next_q = vec![0.0; out.len()];
        let nn = day_number(next) as u64;
        let next_jitter = |salt: u64, amp: f64| 1.0 + amp * signed(mix(&[prop.hash, nn, salt]));
        fill_from_sessions(
            ctx,
            daily_sessions(prop, next),
            &next_jitter,
            money,
            &mut next_q,
        );
        let next_conv =
            (next_q[PURCHASES] * conv.purchases + next_q[LEADS] * conv.leads) * next_fraction;
        let next_rev = next_q[REVENUE] * conv.purchases * next_fraction;
        out[CONV_BY_CONVERSION] = today_conv;
        out[REV_BY_CONVERSION] = today_rev;
        out[CONV_BY_INTERACTION] = 0.72 * today_conv + 0.28 * next_conv;
        out[REV_BY_INTERACTION] = 0.72 * today_rev + 0.28 * next_rev;
    }
    if let Some(scale) = incident_scale(ctx, d) {
        for (q, v) in out.iter_mut().enumerate() {
            *v *= scale[group_of(q)];
        }
    }
}

/// The index of the scripted incident on day `d` of `prop`, if any.
pub fn incident_on(prop: &PropertyInfo, d: NaiveDate) -> Option<usize> {
    prop.incidents.iter().position(|i| i.from <= d && d <= i.to)
}

/// `1 - s(1 - factor)` per tweak group, where `s` is the channel's share of the group in
/// `week` (the traffic facet's factors): what the day's totals become when only that channel
/// is scaled.
fn channel_scale(week: &[[f64; NG]], channel: &str, factor: f64) -> [f64; NG] {
    std::array::from_fn(|g| {
        let share: f64 = week
            .iter()
            .zip(TRAFFIC)
            .filter(|(_, row)| row.channel == channel)
            .map(|(f, _)| f[g])
            .sum();
        1.0 - share * (1.0 - factor)
    })
}

/// What day `d`'s base quantities are multiplied by (per tweak group) under an incident.
fn incident_scale(ctx: &GenContext<'_>, d: NaiveDate) -> Option<[f64; NG]> {
    let incident = &ctx.prop.incidents[incident_on(ctx.prop, d)?];
    match &incident.channel {
        None => Some([incident.factor; NG]),
        Some(channel) => {
            let week = member_factors(
                &members(Facet::Traffic, ctx),
                ctx.prop,
                facet_salt(Facet::Traffic),
                day_number(d).div_euclid(7),
            );
            Some(channel_scale(&week, channel, incident.factor))
        }
    }
}

/// Re-weights the traffic facet's `factors` (one week's, `[member][group]`) for incident
/// `index`: the incident's channel scaled by its factor, every group still summing to 1 over
/// members, so with [`day_base`]'s scaled totals each channel ends where the incident puts it.
pub fn adjust_traffic(factors: &mut [[f64; NG]], prop: &PropertyInfo, index: usize) {
    let Some(incident) = prop.incidents.get(index) else {
        return;
    };
    let Some(channel) = &incident.channel else {
        return;
    };
    let scale = channel_scale(factors, channel, incident.factor);
    for (row, traffic) in factors.iter_mut().zip(TRAFFIC) {
        let k = if traffic.channel == channel.as_str() {
            incident.factor
        } else {
            1.0
        };
        for (cell, t) in row.iter_mut().zip(scale) {
            *cell = if t > 1e-12 { *cell * k / t } else { 0.0 };
        }
    }
}

/// Traffic members' factors on day `d`: the week's, adjusted for an incident on `d`.
pub fn traffic_factors(members: &[Member], prop: &PropertyInfo, d: NaiveDate) -> Vec<[f64; NG]> {
    let mut factors = member_factors(
        members,
        prop,
        facet_salt(Facet::Traffic),
        day_number(d).div_euclid(7),
    );
    if let Some(i) = incident_on(prop, d) {
        adjust_traffic(&mut factors, prop, i);
    }
    factors
}

fn fill_from_sessions(
    ctx: &GenContext<'_>,
    s: f64,
    jitter: &dyn Fn(u64, f64) -> f64,
    money: f64,
    out: &mut [f64],
) {
    let prop = ctx.prop;
    let p = &prop.profile;
    let er = (p.engagement_rate * jitter(3, 0.04)).clamp(0.2, 0.92);
    let au = s / (p.sessions_per_user * jitter(4, 0.03));
    out[SESSIONS] = s;
    out[ENGAGED] = s * er;
    out[ACTIVE_USERS] = au;
    out[TOTAL_USERS] = au * 1.04;
    out[NEW_USERS] = au * (p.new_user_ratio * jitter(5, 0.05)).min(0.95);
    out[SESSION_SECONDS] = s * p.avg_session_seconds * jitter(6, 0.06);
    out[ENGAGEMENT_SECONDS] = out[SESSION_SECONDS] * 0.62;
    out[PAGE_VIEWS] = s * p.views_per_session * jitter(7, 0.05);
    out[ITEM_VIEWS] = s * p.item_view_rate * jitter(8, 0.06);
    out[ADD_TO_CARTS] = s * p.add_to_cart_rate * jitter(9, 0.1);
    out[CHECKOUTS] = s * p.checkout_rate * jitter(10, 0.1);
    out[PURCHASES] = s * p.purchase_rate * jitter(11, 0.15);
    out[REVENUE] = out[PURCHASES] * p.order_value_eur * jitter(12, 0.12) * money;
    out[LEADS] = s * p.lead_rate * jitter(13, 0.2);
    if prop.has_ads() {
        // Clicks land as Google paid sessions; see the traffic table's `ads` column.
        out[AD_CLICKS] = s * 0.17 * 1.08 * jitter(14, 0.08);
        out[AD_IMPRESSIONS] = out[AD_CLICKS] / (p.ctr * jitter(15, 0.1));
        out[AD_COST] = out[AD_CLICKS] * p.cpc_eur * jitter(16, 0.12) * money;
    }
    for (i, metric) in prop.custom_metrics.iter().enumerate() {
        let seed = mix(&[prop.hash, fnv(&metric.parameter_name)]);
        let per_session = match metric.measurement_unit {
            MeasurementUnit::Standard => range(seed, 0.2, 3.0),
            MeasurementUnit::Currency => range(seed, 0.3, 4.0) * money,
            MeasurementUnit::Seconds => range(seed, 5.0, 60.0),
            MeasurementUnit::Milliseconds => range(seed, 5.0, 60.0) * 1000.0,
            MeasurementUnit::Minutes => range(seed, 0.1, 1.0),
            MeasurementUnit::Hours => range(seed, 0.002, 0.02),
            MeasurementUnit::Feet | MeasurementUnit::Meters => range(seed, 1.0, 30.0),
            MeasurementUnit::Kilometers | MeasurementUnit::Miles => range(seed, 0.1, 3.0),
        };
        out[BASE_Q + i] = s * per_session * jitter(100 + i as u64, 0.1);
    }
}

/// Recomputes `EVENTS` from the event mix so event breakdowns sum exactly to it.
pub fn recompute_events(q: &mut [f64]) {
    q[EVENTS] = (0..EVENTS_TABLE.len()).map(|e| event_count(e, q)).sum();
}

// ---------------------------------------------------------------------------------------
// Facets

/// A dimension facet: dimensions of one facet describe the same member (e.g. source and
/// medium of one traffic source), so they are always consistent with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facet {
    /// Session/event-scoped traffic source.
    Traffic,
    /// First-user traffic source.
    FirstTraffic,
    /// Device / platform.
    Device,
    /// Geography and language.
    Geo,
    /// Page / screen.
    Page,
    /// Landing page.
    Landing,
    /// Ecommerce item.
    Item,
    /// New vs returning.
    NewVsReturning,
    /// Event name (expanded after accumulation, see [`event_split`]).
    Event,
    /// Custom dimension `n` of the property.
    Custom(usize),
}

/// One member of a facet: its share and rate tilts.
#[derive(Debug, Clone)]
pub struct Member {
    /// Noise seed.
    pub key: u64,
    /// Base weight (normalised per day).
    pub weight: f64,
    /// Multiplicative rate tilt per tweak group.
    pub tweak: [f64; NG],
}

fn member(name: &str, weight: f64, eng: f64, conv: f64, new: f64, ads: f64) -> Member {
    Member {
        key: fnv(name),
        weight,
        tweak: [1.0, eng, new, conv, ads, conv],
    }
}

struct TrafficRow {
    channel: &'static str,
    source: &'static str,
    medium: &'static str,
    campaign: &'static str,
    platform: &'static str,
    weight: f64,
    eng: f64,
    conv: f64,
    new: f64,
    ads: f64,
    data_driven: f64,
}

/// The default channel groups traffic falls into (what incidents may name).
pub const CHANNELS: [&str; 10] = [
    "Organic Search",
    "Direct",
    "Paid Search",
    "Cross-network",
    "Paid Social",
    "Organic Social",
    "Email",
    "Referral",
    "Affiliates",
    "Unassigned",
];

#[rustfmt::skip]
const TRAFFIC: &[TrafficRow] = &[
    TrafficRow { channel: "Organic Search", source: "google", medium: "organic", campaign: "(organic)", platform: "Google", weight: 0.29, eng: 1.05, conv: 1.0, new: 1.1, ads: 0.0, data_driven: 1.08 },
    TrafficRow { channel: "Organic Search", source: "bing", medium: "organic", campaign: "(organic)", platform: "(not set)", weight: 0.015, eng: 1.0, conv: 1.0, new: 1.1, ads: 0.0, data_driven: 1.05 },
    TrafficRow { channel: "Direct", source: "(direct)", medium: "(none)", campaign: "(direct)", platform: "(not set)", weight: 0.2, eng: 0.92, conv: 1.25, new: 0.7, ads: 0.0, data_driven: 0.78 },
    TrafficRow { channel: "Paid Search", source: "google", medium: "cpc", campaign: "Brand - Search", platform: "Google Ads", weight: 0.05, eng: 1.1, conv: 1.6, new: 0.8, ads: 0.3, data_driven: 1.0 },
    TrafficRow { channel: "Paid Search", source: "google", medium: "cpc", campaign: "Generic - Search", platform: "Google Ads", weight: 0.045, eng: 0.9, conv: 0.9, new: 1.2, ads: 0.35, data_driven: 1.1 },
    TrafficRow { channel: "Cross-network", source: "google", medium: "cpc", campaign: "PMax - All products", platform: "Google Ads", weight: 0.06, eng: 0.85, conv: 1.1, new: 1.3, ads: 0.35, data_driven: 1.2 },
    TrafficRow { channel: "Paid Social", source: "facebook", medium: "paid", campaign: "Prospecting - Lookalike", platform: "Manual", weight: 0.055, eng: 0.7, conv: 0.6, new: 1.5, ads: 0.0, data_driven: 1.35 },
    TrafficRow { channel: "Paid Social", source: "instagram", medium: "paid", campaign: "Retargeting - Cart abandoners", platform: "Manual", weight: 0.02, eng: 1.0, conv: 1.5, new: 0.4, ads: 0.0, data_driven: 1.2 },
    TrafficRow { channel: "Organic Social", source: "m.facebook.com", medium: "referral", campaign: "(referral)", platform: "(not set)", weight: 0.03, eng: 0.8, conv: 0.5, new: 1.2, ads: 0.0, data_driven: 1.3 },
    TrafficRow { channel: "Organic Social", source: "l.instagram.com", medium: "referral", campaign: "(referral)", platform: "(not set)", weight: 0.02, eng: 0.8, conv: 0.5, new: 1.2, ads: 0.0, data_driven: 1.3 },
    TrafficRow { channel: "Email", source: "newsletter", medium: "email", campaign: "weekly_newsletter", platform: "Manual", weight: 0.045, eng: 1.2, conv: 1.7, new: 0.3, ads: 0.0, data_driven: 1.0 },
    TrafficRow { channel: "Referral", source: "partner-blog.example", medium: "referral", campaign: "(referral)", platform: "(not set)", weight: 0.02, eng: 1.05, conv: 0.9, new: 1.2, ads: 0.0, data_driven: 1.1 },
    TrafficRow { channel: "Referral", source: "price-compare.example", medium: "referral", campaign: "(referral)", platform: "(not set)", weight: 0.025, eng: 1.0, conv: 1.2, new: 1.1, ads: 0.0, data_driven: 1.05 },
    TrafficRow { channel: "Affiliates", source: "awin", medium: "affiliate", campaign: "partner_program", platform: "Manual", weight: 0.015, eng: 1.0, conv: 1.3, new: 1.0, ads: 0.0, data_driven: 1.0 },
    TrafficRow { channel: "Unassigned", source: "(not set)", medium: "(not set)", campaign: "(not set)", platform: "(not set)", weight: 0.01, eng: 0.6, conv: 0.5, new: 1.0, ads: 0.0, data_driven: 0.9 },
];

struct DeviceRow {
    category: &'static str,
    os: &'static str,
    browser: &'static str,
    weight: f64,
}

#[rustfmt::skip]
const DEVICES: &[DeviceRow] = &[
    DeviceRow { category: "mobile", os: "Android", browser: "Chrome", weight: 0.28 },
    DeviceRow { category: "mobile", os: "iOS", browser: "Safari", weight: 0.24 },
    DeviceRow { category: "mobile", os: "iOS", browser: "Chrome", weight: 0.04 },
    DeviceRow { category: "mobile", os: "Android", browser: "Samsung Internet", weight: 0.05 },
    DeviceRow { category: "desktop", os: "Windows", browser: "Chrome", weight: 0.17 },
    DeviceRow { category: "desktop", os: "Windows", browser: "Edge", weight: 0.05 },
    DeviceRow { category: "desktop", os: "Macintosh", browser: "Safari", weight: 0.06 },
    DeviceRow { category: "desktop", os: "Macintosh", browser: "Chrome", weight: 0.05 },
    DeviceRow { category: "desktop", os: "Windows", browser: "Firefox", weight: 0.012 },
    DeviceRow { category: "desktop", os: "Linux", browser: "Firefox", weight: 0.008 },
    DeviceRow { category: "tablet", os: "iOS", browser: "Safari", weight: 0.03 },
    DeviceRow { category: "tablet", os: "Android", browser: "Chrome", weight: 0.01 },
];

struct GeoRow {
    continent: &'static str,
    continent_id: &'static str,
    subcontinent: &'static str,
    subcontinent_code: &'static str,
    country: &'static str,
    country_id: &'static str,
    region: &'static str,
    city: &'static str,
    language: &'static str,
    language_code: &'static str,
    weight: f64,
}

macro_rules! geo {
    ($cont:expr, $cid:expr, $sub:expr, $scode:expr, $country:expr, $ccode:expr, $region:expr, $city:expr, $lang:expr, $lcode:expr, $w:expr) => {
        GeoRow {
            continent: $cont,
            continent_id: $cid,
            subcontinent: $sub,
            subcontinent_code: $scode,
            country: $country,
            country_id: $ccode,
            region: $region,
            city: $city,
            language: $lang,
            language_code: $lcode,
            weight: $w,
        }
    };
}

#[rustfmt::skip]
const GEO: &[GeoRow] = &[
    geo!("Europe", "150", "Eastern Europe", "151", "Poland", "PL", "Masovian Voivodeship", "Warsaw", "Polish", "pl", 0.09),
    geo!("Europe", "150", "Eastern Europe", "151", "Poland", "PL", "Lesser Poland Voivodeship", "Krakow", "Polish", "pl", 0.05),
    geo!("Europe", "150", "Eastern Europe", "151", "Poland", "PL", "Lower Silesian Voivodeship", "Wroclaw", "Polish", "pl", 0.04),
    geo!("Europe", "150", "Eastern Europe", "151", "Poland", "PL", "Greater Poland Voivodeship", "Poznan", "Polish", "pl", 0.03),
    geo!("Europe", "150", "Eastern Europe", "151", "Poland", "PL", "Pomeranian Voivodeship", "Gdansk", "Polish", "pl", 0.025),
    geo!("Europe", "150", "Eastern Europe", "151", "Poland", "PL", "Lodz Voivodeship", "Lodz", "Polish", "pl", 0.02),
    geo!("Europe", "150", "Western Europe", "155", "Germany", "DE", "Berlin", "Berlin", "German", "de", 0.05),
    geo!("Europe", "150", "Western Europe", "155", "Germany", "DE", "Bavaria", "Munich", "German", "de", 0.035),
    geo!("Europe", "150", "Western Europe", "155", "Germany", "DE", "Hamburg", "Hamburg", "German", "de", 0.025),
    geo!("Europe", "150", "Western Europe", "155", "Germany", "DE", "Hesse", "Frankfurt", "German", "de", 0.02),
    geo!("Europe", "150", "Northern Europe", "154", "United Kingdom", "GB", "England", "London", "English", "en", 0.05),
    geo!("Europe", "150", "Northern Europe", "154", "United Kingdom", "GB", "England", "Manchester", "English", "en", 0.02),
    geo!("Americas", "019", "Northern America", "021", "United States", "US", "New York", "New York", "English", "en", 0.04),
    geo!("Americas", "019", "Northern America", "021", "United States", "US", "California", "Los Angeles", "English", "en", 0.025),
    geo!("Americas", "019", "Northern America", "021", "United States", "US", "Illinois", "Chicago", "English", "en", 0.015),
    geo!("Europe", "150", "Western Europe", "155", "France", "FR", "Ile-de-France", "Paris", "French", "fr", 0.03),
    geo!("Europe", "150", "Western Europe", "155", "France", "FR", "Auvergne-Rhone-Alpes", "Lyon", "French", "fr", 0.012),
    geo!("Europe", "150", "Western Europe", "155", "Netherlands", "NL", "North Holland", "Amsterdam", "Dutch", "nl", 0.025),
    geo!("Europe", "150", "Eastern Europe", "151", "Czechia", "CZ", "Prague", "Prague", "Czech", "cs", 0.02),
    geo!("Europe", "150", "Southern Europe", "039", "Spain", "ES", "Community of Madrid", "Madrid", "Spanish", "es", 0.02),
    geo!("Europe", "150", "Southern Europe", "039", "Spain", "ES", "Catalonia", "Barcelona", "Spanish", "es", 0.015),
    geo!("Europe", "150", "Southern Europe", "039", "Italy", "IT", "Lombardy", "Milan", "Italian", "it", 0.018),
    geo!("Europe", "150", "Southern Europe", "039", "Italy", "IT", "Lazio", "Rome", "Italian", "it", 0.012),
    geo!("Europe", "150", "Eastern Europe", "151", "Ukraine", "UA", "Kyiv city", "Kyiv", "Ukrainian", "uk", 0.015),
    geo!("Europe", "150", "Northern Europe", "154", "Sweden", "SE", "Stockholm County", "Stockholm", "Swedish", "sv", 0.012),
    geo!("Europe", "150", "Northern Europe", "154", "Ireland", "IE", "County Dublin", "Dublin", "English", "en", 0.01),
    geo!("Europe", "150", "Western Europe", "155", "Austria", "AT", "Vienna", "Vienna", "German", "de", 0.012),
    geo!("Americas", "019", "Northern America", "021", "Canada", "CA", "Ontario", "Toronto", "English", "en", 0.01),
    geo!("Oceania", "009", "Australasia", "053", "Australia", "AU", "New South Wales", "Sydney", "English", "en", 0.008),
    geo!("(not set)", "(not set)", "(not set)", "(not set)", "(not set)", "(not set)", "(not set)", "(not set)", "(not set)", "(not set)", 0.008),
];

struct PageRow {
    path: &'static str,
    query: &'static str,
    title: &'static str,
    group: &'static str,
    weight: f64,
    conv: f64,
}

#[rustfmt::skip]
const PAGES: &[PageRow] = &[
    PageRow { path: "/", query: "", title: "{shop} – Official Store", group: "Home", weight: 0.16, conv: 1.0 },
    PageRow { path: "/collections/all", query: "", title: "All products – {shop}", group: "Collections", weight: 0.05, conv: 1.0 },
    PageRow { path: "/collections/new-arrivals", query: "", title: "New arrivals – {shop}", group: "Collections", weight: 0.05, conv: 1.1 },
    PageRow { path: "/collections/sale", query: "?sort=price-asc", title: "Sale – {shop}", group: "Collections", weight: 0.06, conv: 1.2 },
    PageRow { path: "/collections/shoes", query: "", title: "Shoes – {shop}", group: "Collections", weight: 0.045, conv: 1.1 },
    PageRow { path: "/collections/accessories", query: "", title: "Accessories – {shop}", group: "Collections", weight: 0.03, conv: 1.0 },
    PageRow { path: "/products/trail-runner-x2", query: "?variant=42", title: "Trail Runner X2 – {shop}", group: "Products", weight: 0.045, conv: 1.4 },
    PageRow { path: "/products/city-sneaker-white", query: "", title: "City Sneaker White – {shop}", group: "Products", weight: 0.04, conv: 1.4 },
    PageRow { path: "/products/merino-crew-socks", query: "", title: "Merino Crew Socks – {shop}", group: "Products", weight: 0.02, conv: 1.3 },
    PageRow { path: "/products/waterproof-parka", query: "?variant=7", title: "Waterproof Parka – {shop}", group: "Products", weight: 0.03, conv: 1.3 },
    PageRow { path: "/products/canvas-tote-bag", query: "", title: "Canvas Tote Bag – {shop}", group: "Products", weight: 0.015, conv: 1.2 },
    PageRow { path: "/products/wool-beanie", query: "", title: "Wool Beanie – {shop}", group: "Products", weight: 0.015, conv: 1.2 },
    PageRow { path: "/products/linen-shirt", query: "", title: "Linen Shirt – {shop}", group: "Products", weight: 0.02, conv: 1.2 },
    PageRow { path: "/products/leather-belt", query: "", title: "Leather Belt – {shop}", group: "Products", weight: 0.012, conv: 1.2 },
    PageRow { path: "/products/rain-boots", query: "", title: "Rain Boots – {shop}", group: "Products", weight: 0.018, conv: 1.3 },
    PageRow { path: "/products/gift-card", query: "", title: "Gift Card – {shop}", group: "Products", weight: 0.01, conv: 1.5 },
    PageRow { path: "/search", query: "?q=shoes", title: "Search results – {shop}", group: "Search", weight: 0.035, conv: 1.1 },
    PageRow { path: "/cart", query: "", title: "Your cart – {shop}", group: "Checkout", weight: 0.06, conv: 2.5 },
    PageRow { path: "/checkout", query: "", title: "Checkout – {shop}", group: "Checkout", weight: 0.035, conv: 4.0 },
    PageRow { path: "/checkout/thank-you", query: "", title: "Thank you for your order – {shop}", group: "Checkout", weight: 0.01, conv: 9.0 },
    PageRow { path: "/account/login", query: "", title: "Log in – {shop}", group: "Account", weight: 0.025, conv: 1.2 },
    PageRow { path: "/account", query: "", title: "My account – {shop}", group: "Account", weight: 0.02, conv: 1.3 },
    PageRow { path: "/blog", query: "", title: "Blog – {shop}", group: "Blog", weight: 0.015, conv: 0.5 },
    PageRow { path: "/blog/how-to-choose-running-shoes", query: "", title: "How to choose running shoes – {shop}", group: "Blog", weight: 0.025, conv: 0.4 },
    PageRow { path: "/blog/autumn-lookbook", query: "", title: "Autumn lookbook – {shop}", group: "Blog", weight: 0.018, conv: 0.5 },
    PageRow { path: "/pages/about-us", query: "", title: "About us – {shop}", group: "Info", weight: 0.01, conv: 0.6 },
    PageRow { path: "/pages/contact", query: "", title: "Contact – {shop}", group: "Info", weight: 0.012, conv: 0.6 },
    PageRow { path: "/pages/shipping-and-returns", query: "", title: "Shipping and returns – {shop}", group: "Info", weight: 0.018, conv: 1.0 },
    PageRow { path: "/pages/faq", query: "", title: "FAQ – {shop}", group: "Info", weight: 0.012, conv: 0.8 },
    PageRow { path: "/pages/size-guide", query: "", title: "Size guide – {shop}", group: "Info", weight: 0.015, conv: 1.1 },
];

struct LandingRow {
    path: &'static str,
    query: &'static str,
    weight: f64,
    eng: f64,
    conv: f64,
    new: f64,
}

#[rustfmt::skip]
const LANDINGS: &[LandingRow] = &[
    LandingRow { path: "/", query: "", weight: 0.34, eng: 1.0, conv: 1.1, new: 0.8 },
    LandingRow { path: "/collections/sale", query: "?utm_campaign=sale", weight: 0.09, eng: 1.05, conv: 1.3, new: 0.9 },
    LandingRow { path: "/collections/new-arrivals", query: "", weight: 0.06, eng: 1.05, conv: 1.1, new: 0.9 },
    LandingRow { path: "/collections/shoes", query: "", weight: 0.05, eng: 1.0, conv: 1.1, new: 1.1 },
    LandingRow { path: "/products/trail-runner-x2", query: "?gclid=sandbox", weight: 0.08, eng: 0.95, conv: 1.2, new: 1.3 },
    LandingRow { path: "/products/city-sneaker-white", query: "", weight: 0.06, eng: 0.95, conv: 1.2, new: 1.3 },
    LandingRow { path: "/products/waterproof-parka", query: "", weight: 0.05, eng: 0.95, conv: 1.1, new: 1.3 },
    LandingRow { path: "/blog/how-to-choose-running-shoes", query: "", weight: 0.07, eng: 1.1, conv: 0.4, new: 1.6 },
    LandingRow { path: "/blog/autumn-lookbook", query: "", weight: 0.04, eng: 1.1, conv: 0.5, new: 1.5 },
    LandingRow { path: "/pages/size-guide", query: "", weight: 0.03, eng: 1.1, conv: 0.9, new: 1.0 },
    LandingRow { path: "/cart", query: "", weight: 0.03, eng: 1.2, conv: 2.5, new: 0.3 },
    LandingRow { path: "/search", query: "?q=boots", weight: 0.02, eng: 1.0, conv: 1.0, new: 0.8 },
    LandingRow { path: "(not set)", query: "", weight: 0.03, eng: 0.5, conv: 0.4, new: 1.0 },
];

struct ItemRow {
    id: &'static str,
    name: &'static str,
    category: &'static str,
    brand: &'static str,
    weight: f64,
}

#[rustfmt::skip]
const ITEMS: &[ItemRow] = &[
    ItemRow { id: "SKU-1001", name: "Trail Runner X2", category: "Shoes", brand: "Northpeak", weight: 0.16 },
    ItemRow { id: "SKU-1002", name: "City Sneaker White", category: "Shoes", brand: "Urbanfield", weight: 0.14 },
    ItemRow { id: "SKU-1003", name: "Rain Boots", category: "Shoes", brand: "Northpeak", weight: 0.06 },
    ItemRow { id: "SKU-2001", name: "Waterproof Parka", category: "Apparel", brand: "Northpeak", weight: 0.1 },
    ItemRow { id: "SKU-2002", name: "Linen Shirt", category: "Apparel", brand: "Urbanfield", weight: 0.08 },
    ItemRow { id: "SKU-2003", name: "Merino Crew Socks", category: "Apparel", brand: "Woolly & Co", weight: 0.12 },
    ItemRow { id: "SKU-3001", name: "Canvas Tote Bag", category: "Accessories", brand: "Urbanfield", weight: 0.07 },
    ItemRow { id: "SKU-3002", name: "Wool Beanie", category: "Accessories", brand: "Woolly & Co", weight: 0.08 },
    ItemRow { id: "SKU-3003", name: "Leather Belt", category: "Accessories", brand: "Urbanfield", weight: 0.05 },
    ItemRow { id: "SKU-9001", name: "Gift Card", category: "Gift cards", brand: "(not set)", weight: 0.04 },
];

/// The events of the model: name and whether it is a key event.
pub const EVENTS_TABLE: &[(&str, bool)] = &[
    ("page_view", false),
    ("session_start", false),
    ("first_visit", false),
    ("user_engagement", false),
    ("scroll", false),
    ("view_item_list", false),
    ("view_item", false),
    ("add_to_cart", false),
    ("begin_checkout", false),
    ("purchase", true),
    ("generate_lead", true),
    ("click", false),
    ("form_start", false),
    ("view_search_results", false),
];

/// Index of an event name in [`EVENTS_TABLE`].
pub fn event_index(name: &str) -> Option<usize> {
    EVENTS_TABLE.iter().position(|(n, _)| *n == name)
}

/// Count of event `e` in a cell.
pub fn event_count(e: usize, q: &[f64]) -> f64 {
    match e {
        0 => q[PAGE_VIEWS],
        1 => q[SESSIONS],
        2 => q[NEW_USERS],
        3 => q[ENGAGED] * 1.7,
        4 => q[PAGE_VIEWS] * 0.32,
        5 => q[SESSIONS] * 0.55,
        6 => q[ITEM_VIEWS],
        7 => q[ADD_TO_CARTS],
        8 => q[CHECKOUTS],
        9 => q[PURCHASES],
        10 => q[LEADS],
        11 => q[SESSIONS] * 0.12,
        12 => q[LEADS] * 3.2,
        13 => q[SESSIONS] * 0.08,
        _ => 0.0,
    }
}

/// Sessions in which event `e` happened.
fn event_sessions(e: usize, q: &[f64]) -> f64 {
    let s = match e {
        0 => q[SESSIONS] * 0.97,
        1 => q[SESSIONS],
        2 => q[NEW_USERS],
        3 => q[ENGAGED],
        4 => q[SESSIONS] * 0.38,
        5 => q[SESSIONS] * 0.33,
        6 => q[ITEM_VIEWS] * 0.6,
        7 => q[ADD_TO_CARTS] * 0.75,
        8 => q[CHECKOUTS] * 0.9,
        9 => q[PURCHASES] * 0.98,
        10 => q[LEADS] * 0.95,
        11 => q[SESSIONS] * 0.09,
        12 => q[LEADS] * 2.8,
        13 => q[SESSIONS] * 0.06,
        _ => 0.0,
    };
    s.min(q[SESSIONS])
}

/// Which event carries custom metric `i` (stable per parameter name).
fn custom_metric_event(prop: &PropertyInfo, i: usize) -> usize {
    const CARRIERS: [usize; 5] = [0, 6, 7, 9, 10];
    let name = prop
        .custom_metrics
        .get(i)
        .map(|m| m.parameter_name.as_str())
        .unwrap_or("");
    CARRIERS[(fnv(name) % CARRIERS.len() as u64) as usize]
}

/// The quantities of event `e` within a cell (adds into `out`).
pub fn event_split(prop: &PropertyInfo, e: usize, q: &[f64], out: &mut [f64]) {
    let s = q[SESSIONS];
    let ratio = |num: f64| if s > 0.0 { num / s } else { 0.0 };
    let se = event_sessions(e, q);
    let share = ratio(se);
    let au = if e == 2 {
        q[NEW_USERS]
    } else {
        q[ACTIVE_USERS] * share
    };
    out[SESSIONS] += se;
    out[ACTIVE_USERS] += au;
    out[TOTAL_USERS] += if q[ACTIVE_USERS] > 0.0 {
        au * q[TOTAL_USERS] / q[ACTIVE_USERS]
    } else {
        0.0
    };
    out[NEW_USERS] += if e == 2 {
        q[NEW_USERS]
    } else {
        q[NEW_USERS] * share
    };
    out[ENGAGED] += if e == 3 {
        q[ENGAGED]
    } else {
        se * (ratio(q[ENGAGED]) * 1.08).min(1.0)
    };
    out[SESSION_SECONDS] += q[SESSION_SECONDS] * share;
    out[ENGAGEMENT_SECONDS] += q[ENGAGEMENT_SECONDS]
        * match e {
            3 => 0.55,
            0 => 0.3,
            4 => 0.1,
            6 => 0.05,
            _ => 0.0,
        };
    out[EVENTS] += event_count(e, q);
    let only = |idx: usize, wanted: usize| if e == wanted { q[idx] } else { 0.0 };
    out[PAGE_VIEWS] += only(PAGE_VIEWS, 0);
    out[ITEM_VIEWS] += only(ITEM_VIEWS, 6);
    out[ADD_TO_CARTS] += only(ADD_TO_CARTS, 7);
    out[CHECKOUTS] += only(CHECKOUTS, 8);
    out[PURCHASES] += only(PURCHASES, 9);
    out[REVENUE] += only(REVENUE, 9);
    out[LEADS] += only(LEADS, 10);
    let key = q[PURCHASES] + q[LEADS];
    let key_share = match e {
        9 if key > 0.0 => q[PURCHASES] / key,
        10 if key > 0.0 => q[LEADS] / key,
        _ => 0.0,
    };
    out[CONV_BY_CONVERSION] += q[CONV_BY_CONVERSION] * key_share;
    out[CONV_BY_INTERACTION] += q[CONV_BY_INTERACTION] * key_share;
    out[REV_BY_CONVERSION] += only(REV_BY_CONVERSION, 9);
    out[REV_BY_INTERACTION] += only(REV_BY_INTERACTION, 9);
    for i in 0..prop.custom_metrics.len() {
        if custom_metric_event(prop, i) == e {
            out[BASE_Q + i] += q[BASE_Q + i];
        }
    }
}

/// The members of a facet for a property.
pub fn members(facet: Facet, ctx: &GenContext<'_>) -> Vec<Member> {
    let prop = ctx.prop;
    match facet {
        Facet::Traffic | Facet::FirstTraffic => TRAFFIC
            .iter()
            .map(|r| {
                let mut m = member(
                    &format!("{}/{}/{}", r.source, r.medium, r.campaign),
                    r.weight,
                    r.eng,
                    r.conv,
                    if facet == Facet::FirstTraffic {
                        r.new * 1.1
                    } else {
                        r.new
                    },
                    r.ads,
                );
                if let Some(conv) = ctx.conversions {
                    m.tweak[G_ATTR] = match conv.model {
                        Attribution::DataDriven => r.conv * r.data_driven,
                        Attribution::LastClick => r.conv,
                    };
                }
                m
            })
            .collect(),
        Facet::Device => DEVICES
            .iter()
            .map(|r| {
                let (eng, conv, new) = match r.category {
                    "desktop" => (1.12, 1.45, 0.9),
                    "tablet" => (1.05, 1.0, 1.0),
                    _ => (0.94, 0.78, 1.05),
                };
                member(
                    &format!("{}/{}/{}", r.category, r.os, r.browser),
                    r.weight,
                    eng,
                    conv,
                    new,
                    1.0,
                )
            })
            .collect(),
        Facet::Geo => {
            let home = prop.home_country;
            let home_total: f64 = GEO
                .iter()
                .filter(|r| Some(r.country) == home)
                .map(|r| r.weight)
                .sum();
            let other_total: f64 = GEO
                .iter()
                .filter(|r| Some(r.country) != home)
                .map(|r| r.weight)
                .sum();
            GEO.iter()
                .map(|r| {
                    let is_home = Some(r.country) == home;
                    // Most traffic comes from the shop's home country, converting best.
                    let weight = if home_total > 0.0 {
                        if is_home {
                            r.weight * 0.65 / home_total
                        } else {
                            r.weight * 0.35 / other_total.max(1e-9)
                        }
                    } else {
                        r.weight
                    };
                    let conv = if is_home { 1.15 } else { 0.75 };
                    member(
                        &format!("{}/{}", r.country, r.city),
                        weight,
                        1.0,
                        conv,
                        1.0,
                        1.0,
                    )
                })
                .collect()
        }
        Facet::Page => PAGES
            .iter()
            .map(|r| member(r.path, r.weight, 1.0, r.conv, 1.0, 1.0))
            .collect(),
        Facet::Landing => LANDINGS
            .iter()
            .map(|r| member(r.path, r.weight, r.eng, r.conv, r.new, 1.0))
            .collect(),
        Facet::Item => ITEMS
            .iter()
            .map(|r| member(r.id, r.weight, 1.0, 1.0, 1.0, 1.0))
            .collect(),
        Facet::NewVsReturning => vec![
            member("new", 0.6, 0.9, 0.75, 1.0, 1.0),
            member("returning", 0.4, 1.15, 1.4, 0.0, 1.0),
        ],
        // Events are split after accumulation; a single pass-through member here.
        Facet::Event => vec![member("event", 1.0, 1.0, 1.0, 1.0, 1.0)],
        Facet::Custom(i) => custom_values(prop, i)
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let seed = mix(&[prop.hash, i as u64, fnv(v)]);
                let weight = if v == "(not set)" {
                    0.12
                } else {
                    (1.0 / (j as f64 + 1.0)) * range(seed, 0.7, 1.3)
                };
                let conv = range(mix(&[seed, 1]), 0.8, 1.25);
                member(v, weight, 1.0, conv, 1.0, 1.0)
            })
            .collect(),
    }
}

/// The value of column `col` (see `catalog`) for a facet member.
pub fn value(facet: Facet, member_index: usize, col: usize, prop: &PropertyInfo) -> String {
    let shop = &prop.display_name;
    match facet {
        Facet::Traffic | Facet::FirstTraffic => {
            let Some(r) = TRAFFIC.get(member_index) else {
                return "(not set)".into();
            };
            match col {
                0 | 6 => r.channel.into(),
                1 => r.source.into(),
                2 => r.medium.into(),
                3 => format!("{} / {}", r.source, r.medium),
                4 => r.campaign.into(),
                5 => r.platform.into(),
                _ => "(not set)".into(),
            }
        }
        Facet::Device => {
            let Some(r) = DEVICES.get(member_index) else {
                return "(not set)".into();
            };
            match col {
                0 => r.category.into(),
                1 => r.os.into(),
                2 => r.browser.into(),
                3 => "web".into(),
                4 => format!("web / {}", r.category),
                _ => "(not set)".into(),
            }
        }
        Facet::Geo => {
            let Some(r) = GEO.get(member_index) else {
                return "(not set)".into();
            };
            match col {
                0 => r.continent.into(),
                1 => r.continent_id.into(),
                2 => r.subcontinent.into(),
                3 => r.subcontinent_code.into(),
                4 => r.country.into(),
                5 => r.country_id.into(),
                6 => r.region.into(),
                7 => r.city.into(),
                8 => {
                    if r.city == "(not set)" {
                        "(not set)".into()
                    } else {
                        (1_000_000 + fnv(r.city) % 9_000_000).to_string()
                    }
                }
                9 => r.language.into(),
                10 => r.language_code.into(),
                _ => "(not set)".into(),
            }
        }
        Facet::Page => {
            let Some(r) = PAGES.get(member_index) else {
                return "(not set)".into();
            };
            match col {
                0 | 6 => r.path.into(),
                1 => format!("{}{}", r.path, r.query),
                2 | 5 => r.title.replace("{shop}", shop),
                3 => format!("https://{}{}{}", prop.host_name(), r.path, r.query),
                4 => prop.host_name(),
                7 => r.group.into(),
                _ => "(not set)".into(),
            }
        }
        Facet::Landing => {
            let Some(r) = LANDINGS.get(member_index) else {
                return "(not set)".into();
            };
            match col {
                0 => r.path.into(),
                1 => format!("{}{}", r.path, r.query),
                _ => "(not set)".into(),
            }
        }
        Facet::Item => {
            let Some(r) = ITEMS.get(member_index) else {
                return "(not set)".into();
            };
            match col {
                0 => r.name.into(),
                1 => r.id.into(),
                2 => r.category.into(),
                3 => r.brand.into(),
                _ => "(not set)".into(),
            }
        }
        Facet::NewVsReturning => match member_index {
            0 => "new".into(),
            _ => "returning".into(),
        },
        Facet::Event => {
            let Some((name, key)) = EVENTS_TABLE.get(member_index) else {
                return "(not set)".into();
            };
            match col {
                0 => (*name).into(),
                _ => if *key { "true" } else { "false" }.into(),
            }
        }
        Facet::Custom(i) => custom_values(prop, i)
            .get(member_index)
            .cloned()
            .unwrap_or_else(|| "(not set)".into()),
    }
}

/// Number of members of the event facet (used for expansion).
pub fn event_member_count() -> usize {
    EVENTS_TABLE.len()
}

/// Plausible values of a custom dimension, derived from its parameter name.
pub fn custom_values(prop: &PropertyInfo, i: usize) -> Vec<String> {
    let Some(dim) = prop.custom_dimensions.get(i) else {
        return vec!["(not set)".into()];
    };
    let name = dim.parameter_name.to_ascii_lowercase();
    let list: Vec<String> = if name.contains("size") {
        (36..=45).map(|n| n.to_string()).collect()
    } else if name.contains("color") || name.contains("colour") {
        ["black", "white", "navy", "grey", "red", "green", "beige"]
            .map(String::from)
            .to_vec()
    } else if name.contains("tier")
        || name.contains("level")
        || name.contains("loyalty")
        || name.contains("plan")
    {
        ["bronze", "silver", "gold", "platinum"]
            .map(String::from)
            .to_vec()
    } else if name.contains("login") || name.contains("logged") || name.contains("customer_type") {
        ["guest", "logged_in"].map(String::from).to_vec()
    } else if name.contains("lang") {
        ["pl", "en", "de", "uk", "cs"].map(String::from).to_vec()
    } else if name.contains("payment") {
        ["card", "blik", "paypal", "bank_transfer", "cod"]
            .map(String::from)
            .to_vec()
    } else if name.contains("shipping") || name.contains("delivery") {
        ["courier", "parcel_locker", "pickup_point", "store_pickup"]
            .map(String::from)
            .to_vec()
    } else {
        (1..=6)
            .map(|n| format!("{}_{n}", dim.parameter_name))
            .collect()
    };
    let mut list = list;
    list.push("(not set)".into());
    list
}

/// Per-day (or per-minute) factors of a facet's members: `[member][group]`, each group
/// column summing to 1 over members.
pub fn member_factors(
    members: &[Member],
    prop: &PropertyInfo,
    facet_salt: u64,
    seed: i64,
) -> Vec<[f64; NG]> {
    let shares: Vec<f64> = members
        .iter()
        .map(|m| {
            let noise = signed(mix(&[prop.hash, facet_salt, m.key, seed as u64]));
            (m.weight * (1.0 + 0.2 * noise)).max(0.0)
        })
        .collect();
    let total: f64 = shares.iter().sum();
    let mut out = vec![[0.0; NG]; members.len()];
    if total <= 0.0 {
        return out;
    }
    let denoms: [f64; NG] = std::array::from_fn(|g| {
        members
            .iter()
            .zip(&shares)
            .map(|(m, s)| s / total * m.tweak[g])
            .sum()
    });
    for (row, (m, s)) in out.iter_mut().zip(members.iter().zip(&shares)) {
        for (g, cell) in row.iter_mut().enumerate() {
            if denoms[g] > 0.0 {
                *cell = s / total * m.tweak[g] / denoms[g];
            }
        }
    }
    out
}

/// Salt distinguishing facets in the noise.
pub fn facet_salt(facet: Facet) -> u64 {
    match facet {
        Facet::Traffic => 11,
        Facet::FirstTraffic => 12,
        Facet::Device => 13,
        Facet::Geo => 14,
        Facet::Page => 15,
        Facet::Landing => 16,
        Facet::Item => 17,
        Facet::NewVsReturning => 18,
        Facet::Event => 19,
        Facet::Custom(i) => 100 + i as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixtures;
    use crate::ga4::property::Registry;

    fn prop() -> std::sync::Arc<PropertyInfo> {
        let f = Fixtures::from_toml_str(
            "[[google_clients]]\nclient_id='c'\nclient_secret='s'\n[[google_grants]]\nrefresh_token='r'\nclient_id='c'\nga4_properties=['326784853']\n[[ga4_properties]]\nid='326784853'\ngoogle_ads_links=['1234567890']\n",
        )
        .unwrap();
        Registry::build(&f).get("326784853").unwrap()
    }

    fn ctx(p: &PropertyInfo) -> GenContext<'_> {
        GenContext {
            prop: p,
            clock: Clock {
                today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
                minute_of_day: 720,
            },
            currency: 1.0,
            conversions: None,
        }
    }

    #[test]
    fn channels_are_the_traffic_rows_channels() {
        let mut rows: Vec<&str> = TRAFFIC.iter().map(|r| r.channel).collect();
        rows.dedup();
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), CHANNELS.len());
        assert!(rows.iter().all(|c| CHANNELS.contains(c)));
    }

    #[test]
    fn an_incident_scales_only_its_channel_and_totals_stay_consistent() {
        let f = Fixtures::from_toml_str(
            "[[google_clients]]\nclient_id='c'\nclient_secret='s'\n[[google_grants]]\nrefresh_token='r'\nclient_id='c'\nga4_properties=['326784853']\n[[ga4_properties]]\nid='326784853'\ngoogle_ads_links=['1234567890']\n[[incidents]]\nga4_property='326784853'\nfrom='2026-10-12'\nto='2026-10-14'\nfactor=0.4\nchannel='Organic Search'\n",
        )
        .unwrap();
        let hit = Registry::build(&f).get("326784853").unwrap();
        let calm = prop();
        let d = NaiveDate::from_ymd_opt(2026, 10, 13).unwrap();
        let by_channel = |p: &PropertyInfo| {
            let c = ctx(p);
            let mut q = vec![0.0; c.nq()];
            day_base(&c, d, &mut q);
            let factors = traffic_factors(&members(Facet::Traffic, &c), p, d);
            let mut out = std::collections::BTreeMap::<&str, [f64; 2]>::new();
            for (row, f) in TRAFFIC.iter().zip(&factors) {
                let e = out.entry(row.channel).or_default();
                e[0] += q[SESSIONS] * f[G_VOLUME];
                e[1] += q[REVENUE] * f[G_CONV];
            }
            (out, factors)
        };
        let (before, _) = by_channel(&calm);
        let (after, factors) = by_channel(&hit);
        for (channel, [sessions, revenue]) in &after {
            let [s0, r0] = before[channel];
            let k = if *channel == "Organic Search" {
                0.4
            } else {
                1.0
            };
            assert!(
                (sessions - s0 * k).abs() < 1e-6 * s0.max(1.0),
                "{channel} sessions {sessions} vs {s0}"
            );
            assert!(
                (revenue - r0 * k).abs() < 1e-6 * r0.max(1.0),
                "{channel} revenue {revenue} vs {r0}"
            );
        }
        for g in 0..NG {
            let sum: f64 = factors.iter().map(|f| f[g]).sum();
            assert!((sum - 1.0).abs() < 1e-9, "group {g} sums to {sum}");
        }
        // Outside the incident nothing changes.
        let other = NaiveDate::from_ymd_opt(2026, 10, 15).unwrap();
        let (mut a, mut b) = (vec![0.0; ctx(&hit).nq()], vec![0.0; ctx(&calm).nq()]);
        day_base(&ctx(&hit), other, &mut a);
        day_base(&ctx(&calm), other, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn day_base_is_deterministic_and_plausible() {
        let p = prop();
        let c = ctx(&p);
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let mut a = vec![0.0; c.nq()];
        let mut b = vec![0.0; c.nq()];
        day_base(&c, d, &mut a);
        day_base(&c, d, &mut b);
        assert_eq!(a, b);
        assert!(a[SESSIONS] > 300.0 && a[SESSIONS] < 20_000.0);
        assert!(a[ENGAGED] < a[SESSIONS]);
        assert!(a[NEW_USERS] < a[ACTIVE_USERS]);
        assert!(a[AD_COST] > 0.0);
    }

    #[test]
    fn factors_sum_to_one_per_group() {
        let p = prop();
        let c = ctx(&p);
        for facet in [
            Facet::Traffic,
            Facet::Device,
            Facet::Geo,
            Facet::Page,
            Facet::NewVsReturning,
        ] {
            let m = members(facet, &c);
            let f = member_factors(&m, &p, facet_salt(facet), 20_000);
            for g in [G_VOLUME, G_ENGAGE, G_NEW, G_CONV] {
                let sum: f64 = f.iter().map(|r| r[g]).sum();
                assert!((sum - 1.0).abs() < 1e-9, "{facet:?} group {g}: {sum}");
            }
        }
    }

    #[test]
    fn ads_only_on_paid_google_traffic() {
        let p = prop();
        let c = ctx(&p);
        let m = members(Facet::Traffic, &c);
        let f = member_factors(&m, &p, 11, 1);
        for (i, row) in TRAFFIC.iter().enumerate() {
            assert_eq!(f[i][G_ADS] > 0.0, row.medium == "cpc", "{}", row.source);
        }
    }

    #[test]
    fn event_split_sums_to_cell_events() {
        let p = prop();
        let c = ctx(&p);
        let mut q = vec![0.0; c.nq()];
        day_base(&c, NaiveDate::from_ymd_opt(2026, 9, 3).unwrap(), &mut q);
        recompute_events(&mut q);
        let mut total = vec![0.0; c.nq()];
        for e in 0..event_member_count() {
            event_split(&p, e, &q, &mut total);
        }
        assert!((total[EVENTS] - q[EVENTS]).abs() < 1e-6);
        assert!((total[PAGE_VIEWS] - q[PAGE_VIEWS]).abs() < 1e-6);
        assert!((total[PURCHASES] - q[PURCHASES]).abs() < 1e-6);
    }

    #[test]
    fn future_and_partial_days() {
        let p = prop();
        let c = ctx(&p);
        assert_eq!(
            day_fraction(&c, NaiveDate::from_ymd_opt(2026, 10, 21).unwrap()),
            0.0
        );
        let today = day_fraction(&c, c.clock.today);
        assert!(today > 0.2 && today < 0.6, "{today}");
        assert_eq!(
            day_fraction(&c, NaiveDate::from_ymd_opt(2026, 10, 19).unwrap()),
            1.0
        );
    }
}
