//! The campaign structure of an ad account: campaigns → ad sets → ads, one creative per ad.
//!
//! The structure is a pure function of the account and "today". Always-on campaigns start
//! shortly after the account was created (some are paused at a fixed date); seasonal
//! campaigns ("Black Friday 2025", …) exist for every year since then once they have been
//! created. Delivery windows are absolute dates, so a past day's numbers do not change as
//! "today" moves; only statuses (PAUSED → ARCHIVED) age, as they do in real accounts.
//! IDs are 18-digit strings hashed from the account and a stable key.

use chrono::{Datelike, Duration, NaiveDate};

use super::account::{Account, Clock};
use crate::hash::{fnv, mix, range};

/// How an object's delivery is shaped relative to the account's average.
#[derive(Debug, Clone, Copy)]
pub struct Tilt {
    /// Link CTR multiplier.
    pub ctr: f64,
    /// CPM multiplier.
    pub cpm: f64,
    /// Conversion-rate multiplier.
    pub conv: f64,
}

/// A campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Graph id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `OUTCOME_*`.
    pub objective: &'static str,
    /// Configured status.
    pub status: &'static str,
    /// Effective status.
    pub effective_status: &'static str,
    /// First delivery day.
    pub start: NaiveDate,
    /// Last delivery day (a scheduled end, or the day before it was paused).
    pub end: Option<NaiveDate>,
    /// Scheduled stop (`stop_time`) for seasonal campaigns.
    pub stop: Option<NaiveDate>,
    /// Creation day and minute.
    pub created: (NaiveDate, u32),
    /// Last update day and minute.
    pub updated: (NaiveDate, u32),
    /// Campaign budget (CBO), minor units.
    pub daily_budget: Option<i64>,
    /// Lifetime budget (seasonal CBO), minor units.
    pub lifetime_budget: Option<i64>,
    /// Budget left today (daily) or for the flight (lifetime), minor units.
    pub budget_remaining: i64,
    /// Bid strategy.
    pub bid_strategy: &'static str,
    /// Share of the account's link clicks while running.
    pub weight: f64,
    /// Rate tilt.
    pub tilt: Tilt,
}

/// An ad set.
#[derive(Debug, Clone)]
pub struct AdSet {
    /// Graph id.
    pub id: String,
    /// Index of its campaign.
    pub campaign: usize,
    /// Name.
    pub name: String,
    /// Configured status.
    pub status: &'static str,
    /// Effective status.
    pub effective_status: &'static str,
    /// First delivery day.
    pub start: NaiveDate,
    /// Last delivery day.
    pub end: Option<NaiveDate>,
    /// Scheduled `end_time`.
    pub stop: Option<NaiveDate>,
    /// Creation day and minute.
    pub created: (NaiveDate, u32),
    /// Last update day and minute.
    pub updated: (NaiveDate, u32),
    /// Ad set budget (when the campaign has none), minor units.
    pub daily_budget: Option<i64>,
    /// Budget left today, minor units.
    pub budget_remaining: i64,
    /// `optimization_goal`.
    pub optimization_goal: &'static str,
    /// Audience description used in `targeting`.
    pub audience: Audience,
    /// Weight within the campaign.
    pub weight: f64,
}

/// The audience of an ad set (rendered as Meta's `targeting` spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Lookalike of purchasers.
    Lookalike,
    /// Broad, age-limited.
    Broad,
    /// Interest-based.
    Interests,
    /// Website custom audience (retargeting).
    Retargeting,
}

/// An ad.
#[derive(Debug, Clone)]
pub struct Ad {
    /// Graph id.
    pub id: String,
    /// Index of its ad set.
    pub adset: usize,
    /// Index of its campaign.
    pub campaign: usize,
    /// Name.
    pub name: String,
    /// Configured status.
    pub status: &'static str,
    /// Effective status.
    pub effective_status: &'static str,
    /// First delivery day.
    pub start: NaiveDate,
    /// Last delivery day.
    pub end: Option<NaiveDate>,
    /// Creation day and minute.
    pub created: (NaiveDate, u32),
    /// Last update day and minute.
    pub updated: (NaiveDate, u32),
    /// Never delivers (disapproved).
    pub blocked: bool,
    /// A video/reels ad (has video views).
    pub video: bool,
    /// Weight within the ad set.
    pub weight: f64,
    /// Index of its creative.
    pub creative: usize,
}

/// An ad creative.
#[derive(Debug, Clone)]
pub struct Creative {
    /// Graph id.
    pub id: String,
    /// Index of the ad using it.
    pub ad: usize,
    /// Name.
    pub name: String,
    /// Headline.
    pub title: String,
    /// Primary text.
    pub body: String,
    /// `SHARE` or `VIDEO`.
    pub object_type: &'static str,
    /// Call to action.
    pub call_to_action: &'static str,
}

/// Everything in one account.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// Campaigns, newest first (Meta's listing order).
    pub campaigns: Vec<Campaign>,
    /// Ad sets, grouped by campaign.
    pub adsets: Vec<AdSet>,
    /// Ads, grouped by ad set.
    pub ads: Vec<Ad>,
    /// Creatives, one per ad, same order.
    pub creatives: Vec<Creative>,
}

/// An object found by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// Campaign index.
    Campaign(usize),
    /// Ad set index.
    AdSet(usize),
    /// Ad index.
    Ad(usize),
    /// Creative index.
    Creative(usize),
}

/// Link-click weights and tilts per campaign kind.
#[derive(Debug, Clone, Copy)]
struct Kind {
    name: &'static str,
    objective: &'static str,
    weight: f64,
    tilt: Tilt,
    /// Campaign-level budget (CBO) rather than ad set budgets.
    cbo: bool,
    adsets: &'static [(&'static str, Audience, &'static str)],
}

const PROSPECTING: Kind = Kind {
    name: "Prospecting - Lookalike",
    objective: "OUTCOME_SALES",
    weight: 0.55,
    tilt: Tilt {
        ctr: 1.0,
        cpm: 1.0,
        conv: 1.0,
    },
    cbo: true,
    adsets: &[
        (
            "Lookalike 1% - Purchasers 180d",
            Audience::Lookalike,
            "OFFSITE_CONVERSIONS",
        ),
        ("Broad - {cc} 25-54", Audience::Broad, "OFFSITE_CONVERSIONS"),
        (
            "Interests - Home & Lifestyle",
            Audience::Interests,
            "OFFSITE_CONVERSIONS",
        ),
    ],
};
const RETARGETING: Kind = Kind {
    name: "Retargeting - Cart abandoners",
    objective: "OUTCOME_SALES",
    weight: 0.25,
    tilt: Tilt {
        ctr: 1.6,
        cpm: 1.45,
        conv: 2.3,
    },
    cbo: false,
    adsets: &[
        (
            "Cart abandoners 7d",
            Audience::Retargeting,
            "OFFSITE_CONVERSIONS",
        ),
        (
            "Site visitors 30d - excl. purchasers",
            Audience::Retargeting,
            "OFFSITE_CONVERSIONS",
        ),
    ],
};
const AWARENESS: Kind = Kind {
    name: "Brand - Awareness",
    objective: "OUTCOME_AWARENESS",
    weight: 0.12,
    tilt: Tilt {
        ctr: 0.35,
        cpm: 0.55,
        conv: 0.2,
    },
    cbo: false,
    adsets: &[("Broad reach - {cc}", Audience::Broad, "REACH")],
};
const TRAFFIC: Kind = Kind {
    name: "Traffic - Blog content",
    objective: "OUTCOME_TRAFFIC",
    weight: 0.15,
    tilt: Tilt {
        ctr: 1.25,
        cpm: 0.8,
        conv: 0.4,
    },
    cbo: false,
    adsets: &[(
        "Blog readers - Interests",
        Audience::Interests,
        "LANDING_PAGE_VIEWS",
    )],
};

/// Seasonal campaigns: name, start (month, day), length in days, weight.
const SEASONS: &[(&str, u32, u32, i64, f64)] = &[
    ("Spring Collection", 3, 10, 31, 0.3),
    ("Summer Sale", 6, 20, 26, 0.35),
    ("Autumn Collection", 9, 22, 35, 0.3),
    ("Black Friday", 11, 20, 12, 0.6),
    ("Christmas", 12, 2, 19, 0.4),
];
const SEASON_TILT: Tilt = Tilt {
    ctr: 1.15,
    cpm: 1.3,
    conv: 1.4,
};
const SEASON_ADSETS: &[(&str, Audience, &str)] = &[
    (
        "{name} - Retargeting",
        Audience::Retargeting,
        "OFFSITE_CONVERSIONS",
    ),
    ("{name} - Broad", Audience::Broad, "OFFSITE_CONVERSIONS"),
];

/// Ad names; video ads carry video views.
const AD_NAMES: &[(&str, bool)] = &[
    ("Carousel - Bestsellers", false),
    ("Video - Brand story 15s", true),
    ("Single image - Offer", false),
    ("Reels - UGC try-on", true),
    ("Collection - New arrivals", false),
    ("Static - Free shipping", false),
];

/// A campaign's plan before statuses are derived.
struct Plan {
    key: String,
    name: String,
    kind: Kind,
    start: NaiveDate,
    /// Scheduled last day (seasonal).
    stop: Option<NaiveDate>,
    /// Paused from this day on (always-on campaigns that were switched off).
    paused_from: Option<NaiveDate>,
    seasonal: bool,
}

/// An 18-digit Graph id for `key` in `account`.
pub fn object_id(account: &Account, kind: u64, key: &str) -> String {
    format!(
        "120{:015}",
        mix(&[account.hash, kind, fnv(key)]) % 1_000_000_000_000_000
    )
}

impl Tree {
    /// Builds the account's structure as of `clock.today`.
    pub fn build(account: &Account, clock: &Clock) -> Self {
        let today = clock.today;
        let created = account.created_date();
        let h = account.hash;
        let cc = account.home_country();
        let mut plans: Vec<Plan> = Vec::new();
        let evergreen = [
            (PROSPECTING, 3, None),
            (RETARGETING, 20, None),
            (AWARENESS, 40, Some(200 + (mix(&[h, 31]) % 500) as i64)),
            (TRAFFIC, 120, Some(60 + (mix(&[h, 32]) % 340) as i64)),
        ];
        for (kind, offset, pause_after) in evergreen {
            let start = created + Duration::days(offset);
            plans.push(Plan {
                key: format!("ever:{}", kind.name),
                name: kind.name.to_owned(),
                kind,
                start,
                stop: None,
                paused_from: pause_after.map(|d| start + Duration::days(d)),
                seasonal: false,
            });
        }
        for year in created.year()..=today.year() {
            for (i, (name, month, day, len, weight)) in SEASONS.iter().enumerate() {
                let Some(start) = NaiveDate::from_ymd_opt(year, *month, *day) else {
                    continue;
                };
                if start <= created + Duration::days(7) {
                    continue;
                }
                let mut kind = PROSPECTING;
                kind.weight = *weight;
                kind.tilt = SEASON_TILT;
                kind.adsets = SEASON_ADSETS;
                plans.push(Plan {
                    key: format!("season:{i}:{year}"),
                    name: format!("{name} {year}"),
                    kind,
                    start,
                    stop: Some(start + Duration::days(len - 1)),
                    paused_from: None,
                    seasonal: true,
                });
            }
        }

        let mut tree = Tree::default();
        for plan in plans {
            let created_day = plan.start - Duration::days(if plan.seasonal { 7 } else { 2 });
            if created_day > today || created_day < created {
                continue;
            }
            tree.add_campaign(account, clock, plan, created_day, cc);
        }
        tree.sort_newest_first();
        tree
    }

    fn add_campaign(
        &mut self,
        account: &Account,
        clock: &Clock,
        plan: Plan,
        created_day: NaiveDate,
        cc: &str,
    ) {
        let today = clock.today;
        let h = account.hash;
        let ckey = fnv(&plan.key);
        // Delivery end and status.
        let (status, end, changed) = match (plan.stop, plan.paused_from) {
            (Some(stop), _) if stop < today => {
                let age = (today - stop).num_days();
                let status = if plan.name.starts_with("Spring") && age > 730 {
                    "DELETED"
                } else if age > 120 {
                    "ARCHIVED"
                } else {
                    "PAUSED"
                };
                (status, Some(stop), stop + Duration::days(1))
            }
            (Some(stop), _) => ("ACTIVE", Some(stop), created_day),
            (None, Some(paused)) if paused <= today => {
                let status = if plan.kind.name == TRAFFIC.name && (today - paused).num_days() > 180
                {
                    "ARCHIVED"
                } else {
                    "PAUSED"
                };
                (status, Some(paused - Duration::days(1)), paused)
            }
            (None, _) => ("ACTIVE", None, created_day + Duration::days(5)),
        };
        let changed = changed.min(today);
        // First estimate of the budgets from the expected spend (link clicks × CPC), rounded
        // up to whole units; `model::assign_budgets` replaces it with what the model spends.
        let p = &account.profile;
        let cpc_eur = p.cpm_eur * plan.kind.tilt.cpm / (1000.0 * p.link_ctr * plan.kind.tilt.ctr);
        let daily_spend = account.daily_link_clicks * plan.kind.weight * cpc_eur * account.money;
        let whole = |x: f64| ((x * 1.3).ceil().max(1.0) * account.minor_per_major()) as i64;
        let (daily_budget, lifetime_budget) = match (plan.kind.cbo, plan.stop) {
            (true, Some(stop)) => (
                None,
                Some(whole(
                    daily_spend * ((stop - plan.start).num_days() + 1) as f64,
                )),
            ),
            (true, None) => (Some(whole(daily_spend)), None),
            (false, _) => (None, None),
        };
        let c = self.campaigns.len();
        self.campaigns.push(Campaign {
            id: object_id(account, 1, &plan.key),
            name: plan.name.clone(),
            objective: plan.kind.objective,
            status,
            effective_status: status,
            start: plan.start,
            end,
            stop: plan.stop,
            created: (created_day, minute(h, ckey, 1)),
            updated: (changed.max(created_day), minute(h, ckey, 2)),
            daily_budget,
            lifetime_budget,
            budget_remaining: 0,
            bid_strategy: "LOWEST_COST_WITHOUT_CAP",
            weight: plan.kind.weight,
            tilt: plan.kind.tilt,
        });

        let n_adsets = plan.kind.adsets.len();
        for (i, (name, audience, goal)) in plan.kind.adsets.iter().enumerate() {
            let key = format!("{}/{i}", plan.key);
            let akey = fnv(&key);
            let start = plan.start
                + Duration::days(if i == 0 {
                    0
                } else {
                    (mix(&[h, akey, 3]) % 5) as i64
                });
            // The third prospecting ad set was switched off after a test period.
            let paused_from = (plan.kind.name == PROSPECTING.name && !plan.seasonal && i == 2)
                .then(|| start + Duration::days(90 + (mix(&[h, akey, 4]) % 210) as i64));
            let own_paused = paused_from.is_some_and(|d| d <= today);
            let a_end = match (paused_from.filter(|_| own_paused), end) {
                (Some(p), Some(e)) => Some((p - Duration::days(1)).min(e)),
                (Some(p), None) => Some(p - Duration::days(1)),
                (None, e) => e,
            };
            let a_status = match status {
                "ACTIVE" if own_paused => "PAUSED",
                "ACTIVE" | "PAUSED" => "ACTIVE",
                other => other,
            };
            let a_effective = match (status, a_status) {
                ("PAUSED", _) => "CAMPAIGN_PAUSED",
                (_, s) => s,
            };
            let weight = range(mix(&[h, akey, 5]), 0.6, 1.4) / n_adsets as f64;
            let daily_budget = (!plan.kind.cbo).then(|| {
                let share = plan.kind.weight / n_adsets as f64;
                whole(account.daily_link_clicks * share * cpc_eur * account.money)
            });
            let s = self.adsets.len();
            let adset_created = start.min(today) - Duration::days(if i == 0 { 0 } else { 1 });
            self.adsets.push(AdSet {
                id: object_id(account, 2, &key),
                campaign: c,
                name: name.replace("{cc}", cc).replace("{name}", &plan.name),
                status: a_status,
                effective_status: a_effective,
                start,
                end: a_end,
                stop: plan.stop,
                created: (adset_created.max(created_day), minute(h, akey, 1)),
                updated: (
                    paused_from
                        .filter(|_| own_paused)
                        .unwrap_or(changed)
                        .max(created_day)
                        .min(today),
                    minute(h, akey, 2),
                ),
                daily_budget,
                budget_remaining: 0,
                optimization_goal: goal,
                audience: *audience,
                weight,
            });
            self.add_ads(
                account,
                clock,
                s,
                c,
                &key,
                start,
                a_end,
                a_status,
                a_effective,
                plan.seasonal,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_ads(
        &mut self,
        account: &Account,
        clock: &Clock,
        s: usize,
        c: usize,
        adset_key: &str,
        start: NaiveDate,
        end: Option<NaiveDate>,
        adset_status: &'static str,
        adset_effective: &'static str,
        seasonal: bool,
    ) {
        let today = clock.today;
        let h = account.hash;
        let skey = fnv(adset_key);
        let n_ads = 2 + (mix(&[h, skey, 6]) % 2) as usize;
        let first = (mix(&[h, skey, 7]) % AD_NAMES.len() as u64) as usize;
        for j in 0..n_ads {
            let key = format!("{adset_key}/{j}");
            let akey = fnv(&key);
            let (name, video) = AD_NAMES[(first + j * 2) % AD_NAMES.len()];
            let ad_start = start
                + Duration::days(if j == 0 {
                    0
                } else {
                    (mix(&[h, akey, 3]) % 30) as i64
                });
            // The second ad of always-on ad sets was rotated out after a while.
            let rotated = (!seasonal && j == 1)
                .then(|| ad_start + Duration::days(30 + (mix(&[h, akey, 4]) % 170) as i64))
                .filter(|d| *d <= today);
            let ad_end = match (rotated, end) {
                (Some(r), Some(e)) => Some((r - Duration::days(1)).min(e)),
                (Some(r), None) => Some(r - Duration::days(1)),
                (None, e) => e,
            };
            let status = match adset_status {
                "ACTIVE" | "PAUSED" if rotated.is_some() => "PAUSED",
                "ACTIVE" | "PAUSED" => "ACTIVE",
                other => other,
            };
            let effective = match adset_effective {
                "CAMPAIGN_PAUSED" => "CAMPAIGN_PAUSED",
                "PAUSED" => "ADSET_PAUSED",
                "ACTIVE" => status,
                other => other,
            };
            self.push_ad(
                account, s, c, &key, name, video, ad_start, ad_end, status, effective, false, today,
            );
        }
        // One fresh ad in the first always-on ad set was rejected in review.
        let campaign = &self.campaigns[c];
        if !seasonal && campaign.name == PROSPECTING.name && adset_key.ends_with("/0") {
            let day = (today - Duration::days(3)).max(start);
            if day >= start && day <= today && adset_effective == "ACTIVE" {
                let key = format!("{adset_key}/review");
                self.push_ad(
                    account,
                    s,
                    c,
                    &key,
                    "Single image - Claims test",
                    false,
                    day,
                    None,
                    "ACTIVE",
                    "DISAPPROVED",
                    true,
                    today,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_ad(
        &mut self,
        account: &Account,
        s: usize,
        c: usize,
        key: &str,
        name: &str,
        video: bool,
        start: NaiveDate,
        end: Option<NaiveDate>,
        status: &'static str,
        effective: &'static str,
        blocked: bool,
        today: NaiveDate,
    ) {
        let h = account.hash;
        let akey = fnv(key);
        let a = self.ads.len();
        let creative = self.creatives.len();
        let created = (start.min(today), minute(h, akey, 1));
        let updated = end
            .map(|e| (e + Duration::days(1)).min(today))
            .unwrap_or(created.0);
        self.ads.push(Ad {
            id: object_id(account, 3, key),
            adset: s,
            campaign: c,
            name: name.to_owned(),
            status,
            effective_status: effective,
            start,
            end,
            created,
            updated: (updated.max(created.0), minute(h, akey, 2)),
            blocked,
            video,
            weight: if key.ends_with("/0") {
                1.0
            } else {
                range(mix(&[h, akey, 5]), 0.4, 1.2)
            },
            creative,
        });
        let (title, body, cta) = copy(name, mix(&[h, akey, 6]));
        self.creatives.push(Creative {
            id: object_id(account, 4, key),
            ad: a,
            name: format!("{name} - Creative"),
            title: title.to_owned(),
            body: body.to_owned(),
            object_type: if video { "VIDEO" } else { "SHARE" },
            call_to_action: cta,
        });
    }

    /// Newest first, as Meta lists them; children follow their parents' order.
    fn sort_newest_first(&mut self) {
        let mut order: Vec<usize> = (0..self.campaigns.len()).collect();
        order.sort_by(|a, b| {
            let (ca, cb) = (&self.campaigns[*a], &self.campaigns[*b]);
            cb.created.cmp(&ca.created).then_with(|| cb.id.cmp(&ca.id))
        });
        let mut rank = vec![0usize; order.len()];
        for (r, c) in order.iter().enumerate() {
            rank[*c] = r;
        }
        let old = std::mem::take(self);
        let mut adset_rank: Vec<(usize, usize)> = (0..old.adsets.len())
            .map(|s| (rank[old.adsets[s].campaign], s))
            .collect();
        adset_rank.sort_by_key(|(r, s)| (*r, std::cmp::Reverse(old.adsets[*s].created), *s));
        let mut new_adset = vec![0usize; old.adsets.len()];
        for (n, (_, s)) in adset_rank.iter().enumerate() {
            new_adset[*s] = n;
        }
        let mut ad_order: Vec<usize> = (0..old.ads.len()).collect();
        ad_order.sort_by_key(|a| {
            (
                new_adset[old.ads[*a].adset],
                std::cmp::Reverse(old.ads[*a].created),
                *a,
            )
        });
        let mut new_ad = vec![0usize; old.ads.len()];
        for (n, a) in ad_order.iter().enumerate() {
            new_ad[*a] = n;
        }
        self.campaigns = order.iter().map(|c| old.campaigns[*c].clone()).collect();
        self.adsets = adset_rank
            .iter()
            .map(|(_, s)| {
                let mut x = old.adsets[*s].clone();
                x.campaign = rank[x.campaign];
                x
            })
            .collect();
        self.ads = ad_order
            .iter()
            .map(|a| {
                let mut x = old.ads[*a].clone();
                x.adset = new_adset[x.adset];
                x.campaign = rank[x.campaign];
                x
            })
            .collect();
        for (n, ad) in self.ads.iter_mut().enumerate() {
            let mut cr = old.creatives[ad.creative].clone();
            cr.ad = n;
            ad.creative = n;
            self.creatives.push(cr);
        }
    }

    /// Finds an object by Graph id.
    pub fn find(&self, id: &str) -> Option<Node> {
        if let Some(i) = self.campaigns.iter().position(|c| c.id == id) {
            return Some(Node::Campaign(i));
        }
        if let Some(i) = self.adsets.iter().position(|c| c.id == id) {
            return Some(Node::AdSet(i));
        }
        if let Some(i) = self.ads.iter().position(|c| c.id == id) {
            return Some(Node::Ad(i));
        }
        self.creatives
            .iter()
            .position(|c| c.id == id)
            .map(Node::Creative)
    }

    /// Whether ad `a` delivers on day `d` (its campaign, ad set and own windows all open).
    pub fn delivers(&self, a: usize, d: NaiveDate) -> bool {
        let ad = &self.ads[a];
        let s = &self.adsets[ad.adset];
        let c = &self.campaigns[ad.campaign];
        !ad.blocked
            && [(ad.start, ad.end), (s.start, s.end), (c.start, c.end)]
                .iter()
                .all(|(start, end)| d >= *start && end.is_none_or(|e| d <= e))
    }
}

/// A stable minute of the (working) day for timestamps.
fn minute(h: u64, key: u64, salt: u64) -> u32 {
    8 * 60 + (mix(&[h, key, salt, 99]) % (10 * 60)) as u32
}

fn copy(name: &str, seed: u64) -> (&'static str, &'static str, &'static str) {
    const TITLES: &[&str] = &[
        "Bestsellers are back",
        "New season, new favourites",
        "Free shipping this week",
        "Loved by 10,000 customers",
    ];
    const BODIES: &[&str] = &[
        "Discover the pieces everyone is talking about. Order today, delivered tomorrow.",
        "Fresh arrivals just landed. Find your new favourite before it sells out.",
        "Treat yourself: free shipping and 30-day returns on every order.",
    ];
    let cta = if name.starts_with("Video") || name.starts_with("Reels") {
        "LEARN_MORE"
    } else {
        "SHOP_NOW"
    };
    (
        TITLES[(seed % TITLES.len() as u64) as usize],
        BODIES[((seed >> 8) % BODIES.len() as u64) as usize],
        cta,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use crate::state::Shared;

    fn fixture() -> (Account, Clock) {
        let fixtures = crate::Fixtures::from_toml_str(
            "[[meta_ad_accounts]]\nid = \"act_111\"\ncreated_time = \"2021-03-04T10:00:00Z\"\n",
        )
        .unwrap();
        let shared = Shared::new(SandboxConfig::new(fixtures));
        let account = Account::resolve(&shared, "act_111").unwrap();
        let clock = Clock {
            today: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            minute_of_day: 720,
        };
        (account, clock)
    }

    #[test]
    fn structure_is_deterministic_and_consistent() {
        let (account, clock) = fixture();
        let a = Tree::build(&account, &clock);
        let b = Tree::build(&account, &clock);
        assert_eq!(a.campaigns.len(), b.campaigns.len());
        assert!(a.campaigns.len() > 20, "{}", a.campaigns.len());
        let mut ids: Vec<&str> = a
            .campaigns
            .iter()
            .map(|c| c.id.as_str())
            .chain(a.adsets.iter().map(|s| s.id.as_str()))
            .chain(a.ads.iter().map(|x| x.id.as_str()))
            .chain(a.creatives.iter().map(|x| x.id.as_str()))
            .collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "ids are unique");
        for (i, ad) in a.ads.iter().enumerate() {
            assert_eq!(a.adsets[ad.adset].campaign, ad.campaign);
            assert_eq!(a.creatives[ad.creative].ad, i);
            assert_eq!(a.find(&ad.id), Some(Node::Ad(i)));
        }
        // Newest first.
        assert!(a.campaigns.windows(2).all(|w| w[0].created >= w[1].created));
        // A mix of statuses, and children follow their parents.
        let statuses: std::collections::HashSet<_> =
            a.campaigns.iter().map(|c| c.effective_status).collect();
        for s in ["ACTIVE", "PAUSED", "ARCHIVED"] {
            assert!(statuses.contains(s), "{statuses:?}");
        }
        for s in &a.adsets {
            if a.campaigns[s.campaign].status == "PAUSED" {
                assert_eq!(s.effective_status, "CAMPAIGN_PAUSED");
            }
        }
        assert!(a.ads.iter().any(|x| x.effective_status == "DISAPPROVED"));
        assert!(
            a.ads
                .iter()
                .any(|x| x.effective_status == "ADSET_PAUSED" || x.effective_status == "PAUSED")
        );
    }

    #[test]
    fn something_always_delivers_after_launch() {
        let (account, clock) = fixture();
        let tree = Tree::build(&account, &clock);
        let mut d = account.created_date() + Duration::days(4);
        while d <= clock.today {
            assert!((0..tree.ads.len()).any(|a| tree.delivers(a, d)), "{d}");
            d += Duration::days(17);
        }
        let blocked = tree.ads.iter().position(|x| x.blocked).unwrap();
        assert!(!tree.delivers(blocked, clock.today));
    }
}
