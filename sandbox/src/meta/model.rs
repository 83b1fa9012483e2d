//! The synthetic delivery model behind every insights number.
//!
//! For each day the account gets a number of *link clicks*: when the account declares
//! `ga4_property`, exactly the GA4 model's "Paid Social" sessions of that property for the day
//! times [`CLICKS_PER_SESSION`] (so Meta's link clicks and GA4's paid-social sessions agree
//! within a few percent, as they do for a well-tagged shop); otherwise a seasonal curve around
//! the account's `daily_link_clicks`. Those clicks are split over the ads delivering that day
//! by campaign/ad set/ad weights, and each ad-day turns them into integer *quantities*
//! (impressions, clicks, spend in minor units, actions, values) through the account's rates
//! and the campaign's tilt. Every report — any level, breakdown or time increment — is a sum
//! of these integers, so totals agree exactly across levels and breakdowns.
//!
//! All randomness is `hash::mix` of (account, ad, day, salt), never an RNG.

use chrono::{Datelike, NaiveDate};

use super::account::{Account, Clock};
use super::tree::Tree;
use crate::SandboxConfig;
use crate::ga4::model as ga4;
use crate::ga4::property::PropertyInfo;
use crate::hash::{fnv, mix, range, signed, unit};

/// GA4 "Paid Social" sessions are about this share of all sessions (traffic table weights);
/// used only to estimate a linked account's average scale for budgets.
pub const PAID_SOCIAL_SHARE: f64 = 0.083;
/// Link clicks per GA4 paid-social session: some clicks never become a session.
pub const CLICKS_PER_SESSION: f64 = 1.12;

/// Impressions.
pub const IMPRESSIONS: usize = 0;
/// All clicks.
pub const CLICKS: usize = 1;
/// Link clicks (`inline_link_clicks`, action `link_click`).
pub const LINK_CLICKS: usize = 2;
/// Spend in minor units.
pub const SPEND: usize = 3;
/// `landing_page_view`.
pub const LANDING_PAGE_VIEWS: usize = 4;
/// `view_content`.
pub const VIEW_CONTENT: usize = 5;
/// `add_to_cart`.
pub const ADD_TO_CART: usize = 6;
/// `initiate_checkout`.
pub const INITIATE_CHECKOUT: usize = 7;
/// `purchase`.
pub const PURCHASES: usize = 8;
/// Add-to-cart value, minor units.
pub const ADD_TO_CART_VALUE: usize = 9;
/// Checkout value, minor units.
pub const CHECKOUT_VALUE: usize = 10;
/// Purchase value, minor units.
pub const PURCHASE_VALUE: usize = 11;
/// `post_reaction`.
pub const REACTIONS: usize = 12;
/// `video_view`.
pub const VIDEO_VIEWS: usize = 13;
/// `post_engagement`.
pub const POST_ENGAGEMENT: usize = 14;
/// `page_engagement`.
pub const PAGE_ENGAGEMENT: usize = 15;
/// Number of quantities.
pub const NQ: usize = 16;

/// Additive integer quantities of one cell.
pub type Quantities = [i64; NQ];

/// Fraction of day `d` that has happened (0 in the future, partial today).
pub fn day_fraction(clock: &Clock, d: NaiveDate) -> f64 {
    if d > clock.today {
        return 0.0;
    }
    if d < clock.today {
        return 1.0;
    }
    (0..24u32)
        .map(|h| {
            let start = h * 60;
            let done = if clock.minute_of_day >= start + 60 {
                1.0
            } else if clock.minute_of_day <= start {
                0.0
            } else {
                f64::from(clock.minute_of_day - start) / 60.0
            };
            ga4::hour_weight(h) * done
        })
        .sum()
}

/// GA4's "Paid Social" sessions of `prop` on day `d` (full day), computed exactly as the GA4
/// report engine computes the channel's share of the day's sessions.
pub fn ga4_paid_social_sessions(prop: &PropertyInfo, config: &SandboxConfig, d: NaiveDate) -> f64 {
    if d < prop.create_time.date_naive() {
        return 0.0;
    }
    let ctx = ga4::GenContext {
        prop,
        clock: prop.clock(config),
        currency: 1.0,
        conversions: None,
    };
    let mut base = vec![0.0; ctx.nq()];
    ga4::day_base(&ctx, d, &mut base);
    let members = ga4::members(ga4::Facet::Traffic, &ctx);
    let factors = ga4::traffic_factors(&members, prop, d);
    let share: f64 = factors
        .iter()
        .enumerate()
        .filter(|(m, _)| ga4::value(ga4::Facet::Traffic, *m, 0, prop) == "Paid Social")
        .map(|(_, f)| f[ga4::G_VOLUME])
        .sum();
    base[ga4::SESSIONS] * share
}

/// The account's link clicks on day `d` (before any split), already cut to today's fraction.
pub fn account_link_clicks(
    account: &Account,
    config: &SandboxConfig,
    clock: &Clock,
    d: NaiveDate,
) -> f64 {
    let fraction = day_fraction(clock, d);
    if fraction <= 0.0 || d < account.created_date() {
        return 0.0;
    }
    let n = ga4::day_number(d);
    let noise = |salt: u64, amp: f64| 1.0 + amp * signed(mix(&[account.hash, n as u64, salt]));
    let full = match &account.ga4 {
        Some(prop) => {
            ga4_paid_social_sessions(prop, config, d) * CLICKS_PER_SESSION * noise(1, 0.04)
        }
        None => {
            let weekday = [1.02, 1.04, 1.02, 1.0, 0.95, 0.92, 1.05]
                [d.weekday().num_days_from_monday() as usize];
            // Relative to 2026-01-01, so `daily_link_clicks` is the level of recent months.
            let years = (n - 20_454) as f64 / 365.0;
            let trend_rate = range(mix(&[account.hash, 40]), -0.05, 0.15);
            let trend = (1.0 + trend_rate * years).clamp(0.3, 3.0);
            let doy = f64::from(d.ordinal());
            let mut season =
                1.0 + 0.12 * (2.0 * std::f64::consts::PI * (doy - 355.0) / 365.0).cos();
            if d.month() == 11 && (20..=30).contains(&d.day()) {
                season *= 1.4;
            }
            account.daily_link_clicks * weekday * trend * season * noise(2, 0.1)
        }
    };
    full * fraction
}

/// Rounds `x` up or down with probability equal to its fraction, seeded, so sums of many
/// rounded values stay unbiased.
fn stochastic(x: f64, seed: u64) -> i64 {
    if !x.is_finite() || x <= 0.0 {
        return 0;
    }
    let floor = x.floor();
    let up = unit(seed) < x - floor;
    floor as i64 + i64::from(up)
}

/// Quantities of every ad delivering on day `d`: `(ad index, quantities)`, zero rows skipped.
pub fn day_ads(
    account: &Account,
    tree: &Tree,
    config: &SandboxConfig,
    clock: &Clock,
    d: NaiveDate,
) -> Vec<(usize, Quantities)> {
    let total = account_link_clicks(account, config, clock, d);
    if total <= 0.0 {
        return Vec::new();
    }
    let h = account.hash;
    let n = ga4::day_number(d) as u64;
    let week = n / 7;
    let live: Vec<(usize, f64)> = (0..tree.ads.len())
        .filter(|a| tree.delivers(*a, d))
        .map(|a| {
            let ad = &tree.ads[a];
            let w = tree.campaigns[ad.campaign].weight
                * tree.adsets[ad.adset].weight
                * ad.weight
                * (1.0 + 0.25 * signed(mix(&[h, fnv(&ad.id), week, 7])));
            (a, w.max(0.0))
        })
        .collect();
    let sum: f64 = live.iter().map(|(_, w)| w).sum();
    if sum <= 0.0 {
        return Vec::new();
    }
    let p = &account.profile;
    let minor = account.minor_per_major();
    live.into_iter()
        .filter_map(|(a, w)| {
            let ad = &tree.ads[a];
            let t = tree.campaigns[ad.campaign].tilt;
            let key = fnv(&ad.id);
            let j = |salt: u64, amp: f64| 1.0 + amp * signed(mix(&[h, key, n, salt]));
            let r = |x: f64, salt: u64| stochastic(x, mix(&[h, key, n, 100 + salt]));
            let link_f = total * w / sum;
            let ctr = (p.link_ctr * t.ctr * j(1, 0.08)).max(1e-4);
            let impressions = r(link_f / ctr, 0);
            if impressions == 0 {
                return None;
            }
            let link = r(link_f, 1).min(impressions);
            let clicks =
                r(link as f64 * p.clicks_per_link_click * j(2, 0.05), 2).clamp(link, impressions);
            let cpm = p.cpm_eur * t.cpm * j(3, 0.1) * account.money;
            let spend = r(impressions as f64 * cpm / 1000.0 * minor, 3);
            let lpv = r(link as f64 * p.lpv_rate * j(4, 0.05), 4).min(link);
            let view_content = r(lpv as f64 * p.view_content_rate * j(5, 0.08), 5);
            let atc = r(link as f64 * p.add_to_cart_rate * t.conv * j(6, 0.15), 6).min(link);
            let checkout = r(atc as f64 * p.checkout_rate * j(7, 0.15), 7).min(atc);
            let purchases = r(checkout as f64 * p.purchase_rate * j(8, 0.2), 8).min(checkout);
            let order = p.order_value_eur * account.money * minor * j(9, 0.12);
            let reactions = r(impressions as f64 * p.reaction_rate * j(10, 0.2), 10);
            let video = if ad.video {
                r(impressions as f64 * p.video_view_rate * j(11, 0.15), 11)
            } else {
                0
            };
            let other = r(impressions as f64 * 0.0004, 12);
            let mut q = [0i64; NQ];
            q[IMPRESSIONS] = impressions;
            q[CLICKS] = clicks;
            q[LINK_CLICKS] = link;
            q[SPEND] = spend;
            q[LANDING_PAGE_VIEWS] = lpv;
            q[VIEW_CONTENT] = view_content;
            q[ADD_TO_CART] = atc;
            q[INITIATE_CHECKOUT] = checkout;
            q[PURCHASES] = purchases;
            q[ADD_TO_CART_VALUE] = (atc as f64 * order * 1.1).round() as i64;
            q[CHECKOUT_VALUE] = (checkout as f64 * order * 1.05).round() as i64;
            q[PURCHASE_VALUE] = (purchases as f64 * order).round() as i64;
            q[REACTIONS] = reactions;
            q[VIDEO_VIEWS] = video;
            q[POST_ENGAGEMENT] = clicks + reactions + video + other;
            q[PAGE_ENGAGEMENT] = q[POST_ENGAGEMENT] + r(impressions as f64 * 0.0002, 13);
            Some((a, q))
        })
        .collect()
}

/// Replaces the tree's budget estimates with budgets derived from what the model actually
/// spends, so spend never runs far over budget: daily budgets 25 % above the average daily
/// spend of the last 14 delivery days (rounded up to 10 currency units), lifetime budgets
/// 20 % above the flight's projected spend; `budget_remaining` from today's (or the
/// flight's) spend so far. Archived and deleted objects keep their estimates (Meta hides
/// them by default, and sampling their old flights would cost a lot of days).
pub fn assign_budgets(tree: &mut Tree, account: &Account, config: &SandboxConfig, clock: &Clock) {
    use std::collections::{BTreeSet, HashMap};
    let today = clock.today;
    let live = |status: &str| !matches!(status, "ARCHIVED" | "DELETED");
    let window = |start: NaiveDate, end: Option<NaiveDate>| {
        let last = end.unwrap_or(today).min(today - chrono::Duration::days(1));
        let first = (last - chrono::Duration::days(13)).max(start);
        (first <= last).then_some((first, last))
    };
    let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
    let add_days = |w: Option<(NaiveDate, NaiveDate)>, days: &mut BTreeSet<NaiveDate>| {
        if let Some((a, b)) = w {
            let mut d = a;
            while d <= b {
                days.insert(d);
                d += chrono::Duration::days(1);
            }
        }
    };
    let campaign_windows: Vec<_> = tree
        .campaigns
        .iter()
        .map(|c| {
            (live(c.status) && (c.daily_budget.is_some() || c.lifetime_budget.is_some()))
                .then(|| window(c.start, c.end))
                .flatten()
        })
        .collect();
    let adset_windows: Vec<_> = tree
        .adsets
        .iter()
        .map(|s| {
            (live(s.status) && s.daily_budget.is_some())
                .then(|| window(s.start, s.end))
                .flatten()
        })
        .collect();
    for w in campaign_windows.iter().chain(&adset_windows) {
        add_days(*w, &mut days);
    }
    // Spend so far today, and in the flight of live lifetime-budget campaigns.
    days.insert(today);
    for c in &tree.campaigns {
        if c.lifetime_budget.is_some() && c.effective_status == "ACTIVE" && c.start <= today {
            add_days(
                Some((c.start, c.end.unwrap_or(today).min(today))),
                &mut days,
            );
        }
    }
    let mut by_campaign: HashMap<(usize, NaiveDate), i64> = HashMap::new();
    let mut by_adset: HashMap<(usize, NaiveDate), i64> = HashMap::new();
    for d in &days {
        for (a, q) in day_ads(account, tree, config, clock, *d) {
            let ad = &tree.ads[a];
            *by_campaign.entry((ad.campaign, *d)).or_insert(0) += q[SPEND];
            *by_adset.entry((ad.adset, *d)).or_insert(0) += q[SPEND];
        }
    }
    let unit = account.minor_per_major();
    let round_up = |minor: f64| (((minor / unit / 10.0).ceil().max(1.0)) * 10.0 * unit) as i64;
    let average =
        |map: &HashMap<(usize, NaiveDate), i64>, i: usize, (a, b): (NaiveDate, NaiveDate)| {
            let n = (b - a).num_days() + 1;
            let total: i64 = (0..n)
                .map(|k| {
                    map.get(&(i, a + chrono::Duration::days(k)))
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            total as f64 / n.max(1) as f64
        };
    for (i, c) in tree.campaigns.iter_mut().enumerate() {
        let spent_today = by_campaign.get(&(i, today)).copied().unwrap_or(0);
        if let Some(w) = campaign_windows[i] {
            let avg = average(&by_campaign, i, w);
            if c.daily_budget.is_some() {
                c.daily_budget = Some(round_up(avg * 1.25));
            }
            if let (Some(_), Some(stop)) = (c.lifetime_budget, c.stop) {
                let flight = (stop - c.start).num_days() + 1;
                c.lifetime_budget = Some(round_up(avg * flight as f64 * 1.2));
            }
        }
        if c.effective_status == "ACTIVE" {
            c.budget_remaining = match (c.daily_budget, c.lifetime_budget) {
                (Some(b), _) => (b - spent_today).max(0),
                (None, Some(b)) => {
                    let spent: i64 = by_campaign
                        .iter()
                        .filter(|((x, d), _)| *x == i && *d >= c.start && *d <= today)
                        .map(|(_, v)| *v)
                        .sum();
                    (b - spent).max(0)
                }
                (None, None) => 0,
            };
        }
    }
    for (i, s) in tree.adsets.iter_mut().enumerate() {
        if let (Some(w), Some(_)) = (adset_windows[i], s.daily_budget) {
            s.daily_budget = Some(round_up(average(&by_adset, i, w) * 1.25));
        }
        if let (Some(b), "ACTIVE") = (s.daily_budget, s.effective_status) {
            s.budget_remaining = (b - by_adset.get(&(i, today)).copied().unwrap_or(0)).max(0);
        }
    }
}

/// Adds `b` into `a`.
pub fn add(a: &mut Quantities, b: &Quantities) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Splits `total` into integer parts proportional to `weights` (largest remainder), so the
/// parts always sum to `total`.
pub fn apportion(total: i64, weights: &[f64]) -> Vec<i64> {
    let mut out = vec![0i64; weights.len()];
    let sum: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if total <= 0 || sum <= 0.0 {
        return out;
    }
    let mut rem: Vec<(f64, usize)> = Vec::with_capacity(weights.len());
    let mut used = 0i64;
    for (i, w) in weights.iter().enumerate() {
        let w = if w.is_finite() && *w > 0.0 { *w } else { 0.0 };
        let exact = total as f64 * w / sum;
        let base = exact.floor() as i64;
        out[i] = base;
        used += base;
        rem.push((exact - base as f64, i));
    }
    rem.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total - used;
    for (_, i) in rem {
        if left <= 0 {
            break;
        }
        if weights[i] > 0.0 {
            out[i] += 1;
            left -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Shared;

    const TOML: &str = r#"
[[google_clients]]
client_id = "c"
client_secret = "s"

[[google_grants]]
refresh_token = "sandbox-refresh-x"
client_id = "c"
ga4_properties = ["326784853"]

[[ga4_properties]]
id = "326784853"
time_zone = "Europe/Warsaw"
currency_code = "PLN"
create_time = "2021-03-04T10:11:12Z"
daily_sessions = 2400

[[meta_ad_accounts]]
id = "act_111"
ga4_property = "326784853"
created_time = "2021-03-04T10:00:00Z"

[[meta_ad_accounts]]
id = "act_112"
daily_link_clicks = 80
created_time = "2022-01-01T10:00:00Z"
"#;

    fn setup() -> (Shared, Clock) {
        let fixtures = crate::Fixtures::from_toml_str(TOML).unwrap();
        let mut config = SandboxConfig::new(fixtures);
        config.today = NaiveDate::from_ymd_opt(2026, 10, 20);
        let clock = Clock {
            today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            minute_of_day: 720,
        };
        (Shared::new(config), clock)
    }

    #[test]
    fn apportion_is_exact() {
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]).iter().sum::<i64>(), 10);
        assert_eq!(apportion(7, &[0.0, 2.0, 1.0]), vec![0, 5, 2]);
        assert_eq!(apportion(0, &[1.0]), vec![0]);
        assert_eq!(apportion(5, &[0.0, 0.0]), vec![0, 0]);
        assert_eq!(apportion(3, &[f64::NAN, 1.0]), vec![0, 3]);
    }

    #[test]
    fn linked_clicks_track_ga4_paid_social() {
        let (shared, clock) = setup();
        let account = Account::resolve(&shared, "act_111").unwrap();
        let prop = account.ga4.clone().unwrap();
        let tree = Tree::build(&account, &clock);
        for offset in [1, 8, 40, 300] {
            let d = clock.today - chrono::Duration::days(offset);
            let sessions = ga4_paid_social_sessions(&prop, &shared.config, d);
            let clicks: i64 = day_ads(&account, &tree, &shared.config, &clock, d)
                .iter()
                .map(|(_, q)| q[LINK_CLICKS])
                .sum();
            let ratio = clicks as f64 / sessions;
            assert!(
                (0.75..1.25).contains(&ratio),
                "{d}: {clicks} clicks vs {sessions} sessions"
            );
        }
    }

    #[test]
    fn quantities_are_plausible() {
        let (shared, clock) = setup();
        for id in ["act_111", "act_112"] {
            let account = Account::resolve(&shared, id).unwrap();
            let tree = Tree::build(&account, &clock);
            let mut sum = [0i64; NQ];
            for offset in 1..=28 {
                let d = clock.today - chrono::Duration::days(offset);
                for (_, q) in day_ads(&account, &tree, &shared.config, &clock, d) {
                    assert!(q[LINK_CLICKS] <= q[CLICKS] && q[CLICKS] <= q[IMPRESSIONS]);
                    assert!(q[PURCHASES] <= q[INITIATE_CHECKOUT]);
                    add(&mut sum, &q);
                }
            }
            let ctr = sum[CLICKS] as f64 / sum[IMPRESSIONS] as f64;
            assert!((0.005..0.03).contains(&ctr), "{id} ctr {ctr}");
            let conv = sum[PURCHASES] as f64 / sum[LINK_CLICKS] as f64;
            assert!((0.003..0.06).contains(&conv), "{id} conversion {conv}");
            let cpm = sum[SPEND] as f64 / 100.0 / sum[IMPRESSIONS] as f64 * 1000.0 / account.money;
            assert!((2.0..25.0).contains(&cpm), "{id} cpm {cpm} EUR");
        }
    }

    #[test]
    fn budgets_cover_recent_spend() {
        let (shared, clock) = setup();
        for id in ["act_111", "act_112"] {
            let account = Account::resolve(&shared, id).unwrap();
            let mut tree = Tree::build(&account, &clock);
            assign_budgets(&mut tree, &account, &shared.config, &clock);
            let yesterday = clock.today - chrono::Duration::days(1);
            let mut spend = vec![0i64; tree.campaigns.len()];
            for (a, q) in day_ads(&account, &tree, &shared.config, &clock, yesterday) {
                spend[tree.ads[a].campaign] += q[SPEND];
            }
            for (c, campaign) in tree.campaigns.iter().enumerate() {
                if let Some(b) = campaign.daily_budget
                    && campaign.effective_status == "ACTIVE"
                {
                    assert!(
                        spend[c] <= b * 3 / 2,
                        "{id} {}: spent {} of {b}",
                        campaign.name,
                        spend[c]
                    );
                    assert!(
                        spend[c] * 3 >= b,
                        "{id} {}: budget {b} far above spend {}",
                        campaign.name,
                        spend[c]
                    );
                    assert!(campaign.budget_remaining > 0 && campaign.budget_remaining <= b);
                }
            }
        }
    }

    #[test]
    fn today_is_partial_and_the_future_empty() {
        let (shared, clock) = setup();
        let account = Account::resolve(&shared, "act_112").unwrap();
        let f = day_fraction(&clock, clock.today);
        assert!(f > 0.2 && f < 0.6, "{f}");
        let tomorrow = clock.today + chrono::Duration::days(1);
        assert_eq!(
            account_link_clicks(&account, &shared.config, &clock, tomorrow),
            0.0
        );
    }
}
