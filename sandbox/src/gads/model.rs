//! The synthetic data model behind every Google Ads number.
//!
//! A cell holds nine additive *integer* quantities ([`Q`]): impressions, clicks, cost
//! (micros), conversions (hundredths), conversion value (micros), all conversions
//! (hundredths), interactions, and the search impressions / lost impressions behind search
//! impression share. Each day's customer total is split top-down, level by level: campaign →
//! ad group → keyword → network → device → hour (and, beside the keyword path, ad /
//! landing page / country / search term). Every split is a largest-remainder apportionment,
//! so children always sum *exactly* to their parent: a campaign's clicks equal the sum of
//! its keywords' clicks, and the same query gives the same integers on every call.
//!
//! Consistency with GA4: when a GA4 property links the customer, the day's clicks follow
//! that property's google / cpc sessions as `ga4::model` synthesizes them (times the
//! customer's share of the property's links, times a click/session ratio in 0.99–1.09).
//! Otherwise a seasonal curve around the customer's `daily_clicks` is used.

use chrono::{Datelike, NaiveDate};

use super::account::{Account, Campaign, Channel};
use super::customer::{Clock, CustomerInfo};
use crate::ga4::model::{self as ga4m, Facet, GenContext};
use crate::ga4::property::{Clock as Ga4Clock, PropertyInfo};
use crate::hash::{mix, signed};

/// Number of quantities per cell.
pub const NQ: usize = 9;
/// Impressions.
pub const IMPR: usize = 0;
/// Clicks.
pub const CLICKS: usize = 1;
/// Cost, micros of the customer currency.
pub const COST: usize = 2;
/// Conversions × 100.
pub const CONV: usize = 3;
/// Conversion value, micros.
pub const VALUE: usize = 4;
/// All conversions × 100.
pub const ALL_CONV: usize = 5;
/// Interactions.
pub const INTER: usize = 6;
/// Impressions on search-type inventory (numerator of impression share).
pub const SEARCH_IMPR: usize = 7;
/// Impressions lost on search-type inventory (rank or budget).
pub const LOST: usize = 8;

/// A cell's quantities.
pub type Q = [i64; NQ];

/// Expected rates of a node; children multiply their factors in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Click-through rate.
    pub ctr: f64,
    /// Cost per click, micros.
    pub cpc: f64,
    /// Conversions per click.
    pub cr: f64,
    /// Value per conversion, micros.
    pub aov: f64,
    /// Interactions per click.
    pub ipc: f64,
    /// Search impression share; 0 where not reported.
    pub is: f64,
}

impl Rates {
    /// The rates with factors applied.
    pub fn scaled(self, ctr: f64, cpc: f64, cr: f64) -> Rates {
        Rates {
            ctr: (self.ctr * ctr).clamp(0.0005, 0.5),
            cpc: self.cpc * cpc,
            cr: (self.cr * cr).clamp(0.0, 0.5),
            ..self
        }
    }
}

/// One child of a split: its expected share and rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kid {
    /// Unnormalised share (0 = not serving).
    pub w: f64,
    /// Rates.
    pub r: Rates,
}

/// Reusable buffers of [`split`] (splits run millions of times per heavy query).
#[derive(Default)]
struct Scratch {
    out: Vec<i64>,
    primary: Vec<f64>,
    fallback: Vec<f64>,
    fractions: Vec<(f64, usize)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Largest-remainder apportionment of `total` by `primary` weights (or `fallback` when the
/// primary weights are all zero, or everything to the first child when both are).
fn apportion(
    total: i64,
    primary: &[f64],
    fallback: &[f64],
    out: &mut [i64],
    fractions: &mut Vec<(f64, usize)>,
) {
    out.fill(0);
    if total <= 0 || out.is_empty() {
        return;
    }
    let usable = |x: f64| x.is_finite() && x > 0.0;
    let sum = |w: &[f64]| -> f64 { w.iter().copied().filter(|x| usable(*x)).sum() };
    let (weights, w_total) = match (sum(primary), sum(fallback)) {
        (p, _) if p > 0.0 => (primary, p),
        (_, f) if f > 0.0 => (fallback, f),
        _ => {
            out[0] = total;
            return;
        }
    };
    let t = total as f64;
    fractions.clear();
    let mut assigned: i64 = 0;
    for (i, slot) in out.iter_mut().enumerate() {
        let w = weights
            .get(i)
            .copied()
            .filter(|x| usable(*x))
            .unwrap_or(0.0);
        let exact = t * w / w_total;
        let floor = exact.floor().max(0.0);
        *slot = floor as i64;
        assigned += *slot;
        if w > 0.0 {
            fractions.push((exact - floor, i));
        }
    }
    // Floating error can overshoot by a unit; take it back from the largest shares.
    while assigned > total {
        let Some(i) = (0..out.len()).max_by_key(|&i| out[i]) else {
            break;
        };
        out[i] -= 1;
        assigned -= 1;
    }
    if assigned < total && !fractions.is_empty() {
        fractions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut k = 0;
        while assigned < total {
            out[fractions[k % fractions.len()].1] += 1;
            assigned += 1;
            k += 1;
        }
    }
}

/// Splits `parent` among `kids`; `out` receives one cell per kid, summing exactly to the
/// parent.
pub fn split(parent: &Q, kids: &[Kid], out: &mut Vec<Q>) {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => split_with(parent, kids, out, &mut scratch),
        // Not reentrant in practice; fall back to fresh buffers rather than panic.
        Err(_) => split_with(parent, kids, out, &mut Scratch::default()),
    });
}

fn split_with(parent: &Q, kids: &[Kid], out: &mut Vec<Q>, s: &mut Scratch) {
    let n = kids.len();
    out.clear();
    out.resize(n, [0; NQ]);
    if n == 0 {
        return;
    }
    s.out.resize(n, 0);
    s.primary.resize(n, 0.0);
    s.fallback.resize(n, 0.0);
    let mut run = |total: i64,
                   primary: &dyn Fn(usize, &[Q]) -> f64,
                   fallback: &dyn Fn(usize) -> f64,
                   out: &mut Vec<Q>,
                   apply: &dyn Fn(&mut Q, i64)| {
        // Most quantities of most cells are zero (no search share on display, no extra
        // interactions off video): skip the weights entirely then.
        if total > 0 {
            for i in 0..n {
                s.primary[i] = primary(i, out);
                s.fallback[i] = fallback(i);
            }
        }
        apportion(
            total.max(0),
            &s.primary[..n],
            &s.fallback[..n],
            &mut s.out[..n],
            &mut s.fractions,
        );
        for (cell, v) in out.iter_mut().zip(&s.out[..n]) {
            apply(cell, *v);
        }
    };
    let k = kids;
    run(parent[CLICKS], &|i, _| k[i].w, &|_| 0.0, out, &|c, v| {
        c[CLICKS] = v
    });
    run(
        parent[IMPR] - parent[CLICKS],
        &|i, _| k[i].w * (1.0 / k[i].r.ctr - 1.0),
        &|i| k[i].w,
        out,
        &|c, v| c[IMPR] = c[CLICKS] + v,
    );
    run(
        parent[COST],
        &|i, o| o[i][CLICKS] as f64 * k[i].r.cpc,
        &|i| k[i].w * k[i].r.cpc,
        out,
        &|c, v| c[COST] = v,
    );
    run(
        parent[CONV],
        &|i, o| o[i][CLICKS] as f64 * k[i].r.cr,
        &|i| k[i].w * k[i].r.cr,
        out,
        &|c, v| c[CONV] = v,
    );
    run(
        parent[VALUE],
        &|i, o| o[i][CONV] as f64 * k[i].r.aov,
        &|i| k[i].w * k[i].r.cr * k[i].r.aov,
        out,
        &|c, v| c[VALUE] = v,
    );
    run(
        parent[ALL_CONV] - parent[CONV],
        &|i, o| o[i][CLICKS] as f64 * k[i].r.cr,
        &|i| k[i].w,
        out,
        &|c, v| c[ALL_CONV] = c[CONV] + v,
    );
    run(
        parent[INTER] - parent[CLICKS],
        &|i, o| o[i][CLICKS] as f64 * (k[i].r.ipc - 1.0),
        &|i| k[i].w * (k[i].r.ipc - 1.0),
        out,
        &|c, v| c[INTER] = c[CLICKS] + v,
    );
    run(
        parent[SEARCH_IMPR],
        &|i, o| {
            if k[i].r.is > 0.0 {
                o[i][IMPR] as f64
            } else {
                0.0
            }
        },
        &|i| {
            if k[i].r.is > 0.0 {
                k[i].w / k[i].r.ctr
            } else {
                0.0
            }
        },
        out,
        &|c, v| c[SEARCH_IMPR] = v,
    );
    run(
        parent[LOST],
        &|i, o| {
            if k[i].r.is > 0.0 {
                o[i][SEARCH_IMPR] as f64 * (1.0 / k[i].r.is - 1.0)
            } else {
                0.0
            }
        },
        &|i| {
            if k[i].r.is > 0.0 {
                k[i].w / k[i].r.ctr * (1.0 / k[i].r.is - 1.0)
            } else {
                0.0
            }
        },
        out,
        &|c, v| c[LOST] = v,
    );
}

/// Adds `b` into `a`.
pub fn add(a: &mut Q, b: &Q) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Week number used for slowly drifting shares (entities' shares change week by week).
pub fn week_seed(d: NaiveDate) -> u64 {
    ga4m::day_number(d).div_euclid(7) as u64
}

/// Multiplicative drift of a share: ±20 % per week.
pub fn drift(salt: u64, d: NaiveDate) -> f64 {
    1.0 + 0.2 * signed(mix(&[salt, week_seed(d), 31]))
}

/// Fraction of hour `hour` of day `d` that has already happened.
pub fn hour_cutoff(clock: Clock, d: NaiveDate, hour: u32) -> f64 {
    if d < clock.today {
        return 1.0;
    }
    if d > clock.today {
        return 0.0;
    }
    let start = hour * 60;
    let now = clock.minute_of_day;
    if now >= start + 60 {
        1.0
    } else if now <= start {
        0.0
    } else {
        f64::from(now - start) / 60.0
    }
}

/// Weight of each hour of day `d` (0 for hours not yet happened), shop-like evening peak.
pub fn hour_weights(clock: Clock, d: NaiveDate) -> [f64; 24] {
    std::array::from_fn(|h| ga4m::hour_weight(h as u32) * hour_cutoff(clock, d, h as u32))
}

/// The GA4 side of a linked customer, prepared once per request.
pub struct Ga4Source<'a> {
    prop: &'a PropertyInfo,
    clock: Ga4Clock,
    members: Vec<ga4m::Member>,
    cpc_members: Vec<usize>,
}

impl<'a> Ga4Source<'a> {
    /// Prepares the traffic facet of `prop`.
    pub fn new(prop: &'a PropertyInfo, clock: Ga4Clock) -> Self {
        let ctx = GenContext {
            prop,
            clock,
            currency: 1.0,
            conversions: None,
        };
        let members = ga4m::members(Facet::Traffic, &ctx);
        // Columns 1 and 2 of the traffic facet are source and medium.
        let cpc_members = (0..members.len())
            .filter(|&m| {
                ga4m::value(Facet::Traffic, m, 1, prop) == "google"
                    && ga4m::value(Facet::Traffic, m, 2, prop) == "cpc"
            })
            .collect();
        Self {
            prop,
            clock,
            members,
            cpc_members,
        }
    }

    /// Sessions GA4 reports for `sessionSource = google, sessionMedium = cpc` on day `d`
    /// (the engine's per-day value: base × day fraction × the members' weekly volume
    /// factors).
    pub fn cpc_sessions(&self, d: NaiveDate) -> f64 {
        let ctx = GenContext {
            prop: self.prop,
            clock: self.clock,
            currency: 1.0,
            conversions: None,
        };
        let fraction = ga4m::day_fraction(&ctx, d);
        if fraction <= 0.0 {
            return 0.0;
        }
        let mut base = vec![0.0; ctx.nq()];
        ga4m::day_base(&ctx, d, &mut base);
        let factors = ga4m::traffic_factors(&self.members, self.prop, d);
        let share: f64 = self
            .cpc_members
            .iter()
            .filter_map(|&m| factors.get(m))
            .map(|f| f[ga4m::G_VOLUME])
            .sum();
        base[ga4m::SESSIONS] * fraction * share
    }
}

/// Everything needed to compute a customer's numbers for a request.
pub struct Model<'a> {
    /// The customer.
    pub cust: &'a CustomerInfo,
    /// Its account.
    pub acc: &'a Account,
    /// Its clock.
    pub clock: Clock,
    /// GA4 link.
    pub ga4: Option<(Ga4Source<'a>, f64)>,
}

impl<'a> Model<'a> {
    /// A model for a customer (with its GA4 link's clock from `config`).
    pub fn new(
        cust: &'a CustomerInfo,
        acc: &'a Account,
        config: &crate::SandboxConfig,
    ) -> Model<'a> {
        let ga4 = cust.link.as_ref().map(|l| {
            (
                Ga4Source::new(l.prop.as_ref(), l.prop.clock(config)),
                l.share,
            )
        });
        Model {
            cust,
            acc,
            clock: cust.clock(config),
            ga4,
        }
    }

    /// Expected clicks of the whole customer on day `d` (0 outside the data window).
    pub fn expected_clicks(&self, d: NaiveDate) -> f64 {
        if d < self.cust.data_start || d > self.clock.today {
            return 0.0;
        }
        let n = ga4m::day_number(d) as u64;
        match &self.ga4 {
            Some((src, share)) => {
                // Ads clicks slightly exceed the sessions they start.
                let ratio = 1.04 * (1.0 + 0.05 * signed(mix(&[self.cust.hash, n, 11])));
                src.cpc_sessions(d) * share * ratio
            }
            None => {
                let weekday = [1.05, 1.06, 1.03, 1.0, 0.95, 0.88, 1.02]
                    [d.weekday().num_days_from_monday() as usize];
                let doy = f64::from(d.ordinal());
                let mut season =
                    1.0 + 0.12 * (2.0 * std::f64::consts::PI * (doy - 340.0) / 365.0).cos();
                if d.month() == 11 && d.day() >= 20 {
                    season *= 1.3;
                }
                let years = (ga4m::day_number(d) - 19_723) as f64 / 365.0;
                let trend = (1.0 + 0.08 * years).clamp(0.5, 2.0);
                let noise = 1.0 + 0.08 * signed(mix(&[self.cust.hash, n, 12]));
                let fraction: f64 = hour_weights(self.clock, d).iter().sum();
                self.cust.base_clicks * weekday * season * trend * noise * fraction
            }
        }
    }

    /// The day rates of a campaign.
    pub fn campaign_rates(&self, c: &Campaign, d: NaiveDate) -> Rates {
        let n = ga4m::day_number(d) as u64;
        let noise = |salt: u64, amp: f64| 1.0 + amp * signed(mix(&[c.salt, n, salt]));
        let money = self.cust.money * 1e6;
        Rates {
            ctr: (c.ctr * noise(1, 0.08)).clamp(0.001, 0.5),
            cpc: c.cpc_eur * money * noise(2, 0.1),
            cr: (c.cr * noise(3, 0.15)).clamp(0.0, 0.5),
            aov: c.aov_eur * money * noise(4, 0.1),
            ipc: c.channel.interactions_per_click(),
            is: if c.channel.has_impression_share() {
                (c.impression_share * noise(5, 0.05)).clamp(0.1, 0.97)
            } else {
                0.0
            },
        }
    }

    /// Whether ad group `gi` has something serving on day `d`.
    fn ad_group_serving(&self, gi: usize, d: NaiveDate) -> bool {
        self.acc.ad_groups.get(gi).is_some_and(|g| {
            g.keywords.is_empty() || g.keywords.iter().any(|&k| self.acc.keyword_active(k, d))
        })
    }

    /// The campaign split of day `d`: one kid per campaign (in account order).
    pub fn campaign_kids(&self, d: NaiveDate) -> Vec<Kid> {
        self.acc
            .campaigns
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let serving = self.acc.campaign_active(ci, d)
                    && (c.ad_groups.is_empty()
                        || c.ad_groups.iter().any(|&g| self.ad_group_serving(g, d)));
                Kid {
                    w: if serving {
                        c.weight * drift(c.salt, d)
                    } else {
                        0.0
                    },
                    r: self.campaign_rates(c, d),
                }
            })
            .collect()
    }

    /// The customer's total for day `d`, consistent with the campaign split's expectations.
    pub fn day_total(&self, d: NaiveDate, kids: &[Kid]) -> Q {
        let clicks = self.expected_clicks(d);
        let total_w: f64 = kids.iter().map(|k| k.w).sum();
        if clicks <= 0.0 || total_w <= 0.0 {
            return [0; NQ];
        }
        let mut e = [0.0f64; NQ];
        for k in kids {
            let c = clicks * k.w / total_w;
            let impr = c / k.r.ctr;
            e[CLICKS] += c;
            e[IMPR] += impr;
            e[COST] += c * k.r.cpc;
            e[CONV] += c * k.r.cr * 100.0;
            e[VALUE] += c * k.r.cr * k.r.aov;
            e[ALL_CONV] += c * k.r.cr * 100.0 * 1.18;
            e[INTER] += c * k.r.ipc;
            if k.r.is > 0.0 {
                e[SEARCH_IMPR] += impr;
                e[LOST] += impr * (1.0 / k.r.is - 1.0);
            }
        }
        let mut q: Q = std::array::from_fn(|i| e[i].round().max(0.0) as i64);
        q[IMPR] = q[IMPR].max(q[CLICKS]);
        q[ALL_CONV] = q[ALL_CONV].max(q[CONV]);
        q[INTER] = q[INTER].max(q[CLICKS]);
        q
    }

    /// Kids of a campaign's ad groups (a single pass-through kid for Performance Max).
    pub fn ad_group_kids(&self, ci: usize, parent: Rates, d: NaiveDate) -> Vec<Kid> {
        let Some(c) = self.acc.campaigns.get(ci) else {
            return Vec::new();
        };
        if c.ad_groups.is_empty() {
            return vec![Kid { w: 1.0, r: parent }];
        }
        c.ad_groups
            .iter()
            .map(|&gi| {
                let g = &self.acc.ad_groups[gi];
                let f = |s: u64| 1.0 + 0.1 * signed(mix(&[g.salt, s]));
                Kid {
                    w: if self.ad_group_serving(gi, d) {
                        g.weight * drift(g.salt, d)
                    } else {
                        0.0
                    },
                    r: parent.scaled(f(1), f(2), f(3)),
                }
            })
            .collect()
    }

    /// Kids of an ad group's keywords (a single pass-through kid for non-search groups).
    pub fn keyword_kids(&self, gi: usize, parent: Rates, d: NaiveDate) -> Vec<Kid> {
        let Some(g) = self.acc.ad_groups.get(gi) else {
            return vec![Kid { w: 1.0, r: parent }];
        };
        if g.keywords.is_empty() {
            return vec![Kid { w: 1.0, r: parent }];
        }
        g.keywords
            .iter()
            .map(|&ki| {
                let k = &self.acc.keywords[ki];
                Kid {
                    w: if self.acc.keyword_active(ki, d) {
                        k.weight * drift(k.salt, d)
                    } else {
                        0.0
                    },
                    r: parent.scaled(k.ctr_f, k.cpc_f, k.cr_f),
                }
            })
            .collect()
    }

    /// Network kids of a channel (order of `Channel::networks`).
    pub fn network_kids(channel: Channel, parent: Rates) -> Vec<Kid> {
        channel
            .networks()
            .iter()
            .map(|&(_, w, ctr, cpc, cr)| Kid {
                w,
                r: parent.scaled(ctr, cpc, cr),
            })
            .collect()
    }

    /// Device kids of a channel (order of `Channel::devices`), drifting week by week.
    pub fn device_kids(&self, channel: Channel, parent: Rates, d: NaiveDate) -> Vec<Kid> {
        channel
            .devices()
            .iter()
            .map(|&(dev, w, ctr, cpc, cr)| Kid {
                w: w * (1.0 + 0.5 * (drift(mix(&[self.cust.hash, 60, u64::from(dev)]), d) - 1.0)),
                r: parent.scaled(ctr, cpc, cr),
            })
            .collect()
    }

    /// Hour kids of day `d` (zero weight for hours still to come today).
    pub fn hour_kids(&self, parent: Rates, d: NaiveDate) -> Vec<Kid> {
        hour_weights(self.clock, d)
            .iter()
            .map(|&w| Kid { w, r: parent })
            .collect()
    }

    /// Ad kids of an ad group.
    pub fn ad_kids(&self, gi: usize, parent: Rates) -> Vec<Kid> {
        let Some(g) = self.acc.ad_groups.get(gi) else {
            return Vec::new();
        };
        g.ads
            .iter()
            .map(|&ai| {
                let a = &self.acc.ads[ai];
                Kid {
                    w: a.weight,
                    r: parent.scaled(a.ctr_f, 1.0, 1.0),
                }
            })
            .collect()
    }

    /// Landing-page kids of an ad group.
    pub fn landing_kids(&self, gi: usize, parent: Rates) -> Vec<Kid> {
        let Some(g) = self.acc.ad_groups.get(gi) else {
            return Vec::new();
        };
        g.landings
            .iter()
            .map(|&(li, w)| {
                let f = 1.0 + 0.15 * signed(mix(&[g.salt, 70, li as u64]));
                Kid {
                    w,
                    r: parent.scaled(1.0, 1.0, f),
                }
            })
            .collect()
    }

    /// Geographic kids (home country converts best).
    pub fn geo_kids(&self, parent: Rates) -> Vec<Kid> {
        let home = self.acc.geos.first().map(|g| g.country_id);
        self.acc
            .geos
            .iter()
            .map(|g| Kid {
                w: g.weight,
                r: parent.scaled(1.0, 1.0, if Some(g.country_id) == home { 1.1 } else { 0.7 }),
            })
            .collect()
    }

    /// Search-term kids of a keyword.
    pub fn term_kids(&self, ki: usize, parent: Rates, d: NaiveDate) -> Vec<Kid> {
        let Some(k) = self.acc.keywords.get(ki) else {
            return Vec::new();
        };
        k.terms
            .iter()
            .map(|&ti| {
                let t = &self.acc.terms[ti];
                Kid {
                    w: t.weight * drift(mix(&[k.salt, ti as u64]), d),
                    r: parent,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> Rates {
        Rates {
            ctr: 0.05,
            cpc: 1_500_000.0,
            cr: 0.03,
            aov: 200_000_000.0,
            ipc: 1.0,
            is: 0.6,
        }
    }

    #[test]
    fn apportion_is_exact_and_stable() {
        let mut out = [0i64; 4];
        let mut f = Vec::new();
        apportion(10, &[1.0, 1.0, 1.0, 0.0], &[], &mut out, &mut f);
        assert_eq!(out.iter().sum::<i64>(), 10);
        assert_eq!(out, [4, 3, 3, 0]);
        apportion(7, &[0.0, 0.0], &[0.0, 2.0], &mut out[..2], &mut f);
        assert_eq!(&out[..2], &[0, 7]);
        apportion(5, &[0.0, 0.0], &[0.0, 0.0], &mut out[..2], &mut f);
        assert_eq!(&out[..2], &[5, 0]);
        apportion(
            123_456_789_012,
            &[0.3, f64::NAN, 0.7, 1e-12],
            &[],
            &mut out,
            &mut f,
        );
        assert_eq!(out.iter().sum::<i64>(), 123_456_789_012);
        assert_eq!(out[1], 0);
    }

    #[test]
    fn split_sums_to_parent_and_keeps_invariants() {
        let parent: Q = [
            10_000,
            400,
            600_000_000,
            1_250,
            2_400_000_000,
            1_500,
            430,
            6_000,
            4_000,
        ];
        let kids: Vec<Kid> = (0..7)
            .map(|i| Kid {
                w: 0.2 + i as f64 * 0.3,
                r: Rates {
                    is: if i % 2 == 0 { 0.5 } else { 0.0 },
                    ipc: if i == 3 { 4.0 } else { 1.0 },
                    ..rates()
                }
                .scaled(1.0 + i as f64 * 0.1, 1.0, 1.0),
            })
            .collect();
        let mut out = Vec::new();
        split(&parent, &kids, &mut out);
        let mut sum = [0; NQ];
        for c in &out {
            add(&mut sum, c);
            assert!(c[IMPR] >= c[CLICKS]);
            assert!(c[ALL_CONV] >= c[CONV]);
            assert!(c[INTER] >= c[CLICKS]);
            assert!(c.iter().all(|v| *v >= 0));
        }
        assert_eq!(sum, parent);
        // Non-search kids get no search impressions.
        assert_eq!(out[1][SEARCH_IMPR], 0);
        let mut again = Vec::new();
        split(&parent, &kids, &mut again);
        assert_eq!(out, again);
    }

    #[test]
    fn hour_weights_respect_now() {
        let today = NaiveDate::from_ymd_opt(2026, 10, 20).unwrap();
        let clock = Clock {
            today,
            minute_of_day: 12 * 60,
        };
        let w = hour_weights(clock, today);
        assert!(w[11] > 0.0 && w[12] == 0.0 && w[23] == 0.0);
        let full: f64 = hour_weights(clock, today.pred_opt().unwrap()).iter().sum();
        assert!((full - 1.0).abs() < 1e-9);
        assert!(
            hour_weights(clock, today.succ_opt().unwrap())
                .iter()
                .all(|x| *x == 0.0)
        );
    }
}
