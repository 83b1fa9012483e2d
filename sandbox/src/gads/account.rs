//! The entities of one customer's account: campaigns (with budgets), ad groups, keywords,
//! ads, search terms, landing pages and the countries traffic comes from.
//!
//! Every customer that is not a manager gets the same shop-like structure (brand and generic
//! search, Performance Max, Shopping, Display remarketing, a YouTube campaign, a paused
//! competitor campaign and a removed Black Friday campaign), with ids, names, rates, dates
//! and statuses derived from the customer id, so the account is stable forever. Each entity
//! carries the weights and rate factors the data model ([`super::model`]) splits metrics by.

use chrono::NaiveDate;

use super::customer::CustomerInfo;
use crate::hash::{fnv, mix, range, unit};

/// The advertising channel of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Search network text ads with keywords.
    Search,
    /// Display network.
    Display,
    /// Shopping product ads.
    Shopping,
    /// YouTube.
    Video,
    /// Performance Max (no ad groups or keywords).
    PerformanceMax,
}

impl Channel {
    /// `advertising_channel_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Search => "SEARCH",
            Channel::Display => "DISPLAY",
            Channel::Shopping => "SHOPPING",
            Channel::Video => "VIDEO",
            Channel::PerformanceMax => "PERFORMANCE_MAX",
        }
    }

    /// Whether impression share is reported (search-type inventory).
    pub fn has_impression_share(self) -> bool {
        matches!(self, Channel::Search | Channel::Shopping)
    }

    /// Networks the channel serves on: (index into `catalog::NETWORKS`, share, CTR, CPC
    /// and conversion-rate factors).
    pub fn networks(self) -> &'static [(u8, f64, f64, f64, f64)] {
        match self {
            Channel::Search => &[(0, 0.88, 1.0, 1.0, 1.0), (1, 0.12, 0.6, 0.65, 0.7)],
            Channel::Shopping => &[(0, 0.9, 1.0, 1.0, 1.0), (1, 0.1, 0.7, 0.7, 0.75)],
            Channel::Display => &[(2, 1.0, 1.0, 1.0, 1.0)],
            Channel::Video => &[(3, 1.0, 1.0, 1.0, 1.0)],
            Channel::PerformanceMax => &[(4, 1.0, 1.0, 1.0, 1.0)],
        }
    }

    /// Devices: (index into `catalog::DEVICES`, share, CTR, CPC and conversion-rate
    /// factors).
    pub fn devices(self) -> &'static [(u8, f64, f64, f64, f64)] {
        match self {
            Channel::Video => &[
                (0, 0.55, 1.1, 0.9, 0.7),
                (1, 0.14, 0.9, 1.1, 1.4),
                (2, 0.05, 1.0, 1.0, 1.0),
                (3, 0.26, 0.4, 0.8, 0.3),
            ],
            _ => &[
                (0, 0.58, 1.1, 0.9, 0.75),
                (1, 0.36, 0.9, 1.15, 1.4),
                (2, 0.055, 1.0, 1.0, 1.0),
                (4, 0.005, 0.8, 1.0, 0.5),
            ],
        }
    }

    /// Interactions per click (video views count as interactions).
    pub fn interactions_per_click(self) -> f64 {
        if self == Channel::Video { 7.0 } else { 1.0 }
    }
}

/// A campaign (and its 1:1 budget).
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// ENABLED / PAUSED / REMOVED.
    pub status: &'static str,
    /// Channel.
    pub channel: Channel,
    /// `bidding_strategy_type`.
    pub bidding: &'static str,
    /// `start_date`; no data before.
    pub start: NaiveDate,
    /// `end_date` when set.
    pub end: Option<NaiveDate>,
    /// Last day with data (paused/removed campaigns).
    pub active_until: Option<NaiveDate>,
    /// Budget id.
    pub budget_id: u64,
    /// Budget name.
    pub budget_name: String,
    /// Daily budget, micros of the customer currency.
    pub budget_micros: i64,
    /// `delivery_method`.
    pub delivery: &'static str,
    /// Share of the customer's clicks while active.
    pub weight: f64,
    /// Base click-through rate.
    pub ctr: f64,
    /// Cost per click in EUR.
    pub cpc_eur: f64,
    /// Conversion rate (conversions per click).
    pub cr: f64,
    /// Conversion value per conversion in EUR.
    pub aov_eur: f64,
    /// Search impression share (search-type channels).
    pub impression_share: f64,
    /// Ad groups (indices into [`Account::ad_groups`]); empty for Performance Max.
    pub ad_groups: Vec<usize>,
    /// Noise seed.
    pub salt: u64,
}

/// An ad group.
#[derive(Debug, Clone)]
pub struct AdGroup {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Status.
    pub status: &'static str,
    /// `ad_group.type`.
    pub kind: &'static str,
    /// Campaign index.
    pub campaign: usize,
    /// Default max CPC, micros.
    pub cpc_bid_micros: i64,
    /// Share within the campaign.
    pub weight: f64,
    /// Keywords (search ad groups; empty otherwise).
    pub keywords: Vec<usize>,
    /// Ads.
    pub ads: Vec<usize>,
    /// Landing pages with their shares.
    pub landings: Vec<(usize, f64)>,
    /// Noise seed.
    pub salt: u64,
}

/// A keyword (`ad_group_criterion` of type KEYWORD).
#[derive(Debug, Clone)]
pub struct Keyword {
    /// Criterion id.
    pub criterion_id: u64,
    /// Text.
    pub text: String,
    /// EXACT / PHRASE / BROAD.
    pub match_type: &'static str,
    /// Status.
    pub status: &'static str,
    /// Ad group index.
    pub ad_group: usize,
    /// Share within the ad group.
    pub weight: f64,
    /// CTR factor.
    pub ctr_f: f64,
    /// CPC factor.
    pub cpc_f: f64,
    /// Conversion-rate factor.
    pub cr_f: f64,
    /// Quality score 1-10.
    pub quality_score: i32,
    /// Last day with data (paused keywords).
    pub active_until: Option<NaiveDate>,
    /// Search terms (indices into [`Account::terms`]).
    pub terms: Vec<usize>,
    /// Noise seed.
    pub salt: u64,
}

/// An ad (`ad_group_ad`).
#[derive(Debug, Clone)]
pub struct Ad {
    /// Ad id.
    pub id: u64,
    /// Name (display and video ads only; search ads have none).
    pub name: Option<String>,
    /// `ad.type`.
    pub ad_type: &'static str,
    /// Final URLs.
    pub final_urls: Vec<String>,
    /// Status.
    pub status: &'static str,
    /// Policy approval status.
    pub approval: &'static str,
    /// Ad group index.
    pub ad_group: usize,
    /// Share within the ad group.
    pub weight: f64,
    /// CTR factor.
    pub ctr_f: f64,
}

/// A search term that triggered a keyword.
#[derive(Debug, Clone)]
pub struct Term {
    /// The query text.
    pub text: String,
    /// ADDED / EXCLUDED / NONE.
    pub status: &'static str,
    /// Keyword index.
    pub keyword: usize,
    /// Share within the keyword.
    pub weight: f64,
}

/// A landing page (`landing_page_view`).
#[derive(Debug, Clone)]
pub struct Landing {
    /// Unexpanded final URL.
    pub url: String,
    /// Resource-name fingerprint.
    pub fingerprint: u64,
}

/// A (country, location type) member of the geographic split.
#[derive(Debug, Clone, Copy)]
pub struct Geo {
    /// Geo target constant id of the country.
    pub country_id: i64,
    /// Index into `catalog::LOCATION_TYPES`.
    pub location_type: u8,
    /// Share.
    pub weight: f64,
}

/// All entities of one customer.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// Campaigns.
    pub campaigns: Vec<Campaign>,
    /// Ad groups.
    pub ad_groups: Vec<AdGroup>,
    /// Keywords.
    pub keywords: Vec<Keyword>,
    /// Ads.
    pub ads: Vec<Ad>,
    /// Search terms.
    pub terms: Vec<Term>,
    /// Landing pages.
    pub landings: Vec<Landing>,
    /// Geographic members.
    pub geos: Vec<Geo>,
}

/// When a template campaign serves.
#[derive(Debug, Clone, Copy)]
enum Window {
    /// From `data_start + offset` days on.
    From(i64),
    /// From `data_start + offset` until a fixed day in 2026 (plus up to 60 days).
    Paused(i64),
    /// A fixed window (inclusive), e.g. a seasonal sale.
    Fixed((i32, u32, u32), (i32, u32, u32)),
}

struct AdGroupTpl {
    name: &'static str,
    keywords: &'static [(&'static str, &'static [&'static str])],
    landings: &'static [&'static str],
}

struct CampaignTpl {
    name: &'static str,
    channel: Channel,
    bidding: &'static str,
    window: Window,
    weight: f64,
    ctr: f64,
    cpc: f64,
    cr: f64,
    aov: f64,
    is: f64,
    ad_groups: &'static [AdGroupTpl],
}

const EXACT: &str = "EXACT";
const PHRASE: &str = "PHRASE";
const BROAD: &str = "BROAD";

#[rustfmt::skip]
const TEMPLATES: &[CampaignTpl] = &[
    CampaignTpl { name: "Brand - Search", channel: Channel::Search, bidding: "TARGET_IMPRESSION_SHARE", window: Window::From(0), weight: 0.24, ctr: 0.075, cpc: 0.35, cr: 0.058, aov: 1.0, is: 0.88, ad_groups: &[
        AdGroupTpl { name: "Brand - Core", keywords: &[("{brand}", &[EXACT, PHRASE]), ("{brand} shop", &[EXACT, PHRASE]), ("{brand} store", &[EXACT]), ("{brand} online", &[PHRASE])], landings: &["/"] },
        AdGroupTpl { name: "Brand - Products", keywords: &[("{brand} trail runner", &[PHRASE]), ("{brand} sneakers", &[PHRASE, BROAD]), ("{brand} parka", &[PHRASE]), ("{brand} sale", &[EXACT])], landings: &["/collections/new-arrivals", "/collections/sale"] },
    ] },
    CampaignTpl { name: "Generic - Search", channel: Channel::Search, bidding: "MAXIMIZE_CONVERSIONS", window: Window::From(14), weight: 0.22, ctr: 0.042, cpc: 1.25, cr: 0.028, aov: 0.95, is: 0.46, ad_groups: &[
        AdGroupTpl { name: "Running shoes", keywords: &[("running shoes", &[PHRASE, BROAD]), ("trail running shoes", &[EXACT, PHRASE]), ("waterproof running shoes", &[PHRASE]), ("best running shoes", &[BROAD])], landings: &["/collections/shoes", "/products/trail-runner-x2"] },
        AdGroupTpl { name: "Sneakers", keywords: &[("white sneakers", &[EXACT, PHRASE]), ("leather sneakers", &[PHRASE]), ("city sneakers", &[BROAD]), ("sneakers sale", &[PHRASE])], landings: &["/products/city-sneaker-white", "/collections/shoes"] },
        AdGroupTpl { name: "Outerwear", keywords: &[("waterproof parka", &[EXACT, PHRASE]), ("rain jacket", &[BROAD]), ("winter parka", &[PHRASE])], landings: &["/products/waterproof-parka"] },
        AdGroupTpl { name: "Accessories", keywords: &[("merino socks", &[PHRASE]), ("wool beanie", &[EXACT, BROAD]), ("canvas tote bag", &[PHRASE]), ("leather belt", &[BROAD])], landings: &["/collections/accessories"] },
    ] },
    CampaignTpl { name: "PMax - All products", channel: Channel::PerformanceMax, bidding: "MAXIMIZE_CONVERSION_VALUE", window: Window::From(60), weight: 0.28, ctr: 0.018, cpc: 0.8, cr: 0.04, aov: 1.05, is: 0.0, ad_groups: &[] },
    CampaignTpl { name: "Shopping - Bestsellers", channel: Channel::Shopping, bidding: "TARGET_ROAS", window: Window::From(30), weight: 0.12, ctr: 0.014, cpc: 0.65, cr: 0.035, aov: 0.9, is: 0.55, ad_groups: &[
        AdGroupTpl { name: "All products", keywords: &[], landings: &["/collections/all"] },
        AdGroupTpl { name: "Bestsellers", keywords: &[], landings: &["/products/trail-runner-x2", "/products/city-sneaker-white"] },
    ] },
    CampaignTpl { name: "Display - Remarketing", channel: Channel::Display, bidding: "TARGET_CPA", window: Window::From(90), weight: 0.06, ctr: 0.011, cpc: 0.45, cr: 0.02, aov: 0.85, is: 0.0, ad_groups: &[
        AdGroupTpl { name: "Remarketing - Cart abandoners", keywords: &[], landings: &["/cart"] },
        AdGroupTpl { name: "Remarketing - Visitors 30d", keywords: &[], landings: &["/"] },
    ] },
    CampaignTpl { name: "YouTube - Awareness", channel: Channel::Video, bidding: "TARGET_CPM", window: Window::From(200), weight: 0.03, ctr: 0.01, cpc: 0.55, cr: 0.02, aov: 0.8, is: 0.0, ad_groups: &[
        AdGroupTpl { name: "Awareness - In-stream", keywords: &[], landings: &["/"] },
    ] },
    CampaignTpl { name: "Competitors - Search", channel: Channel::Search, bidding: "MANUAL_CPC", window: Window::Paused(120), weight: 0.05, ctr: 0.03, cpc: 1.5, cr: 0.02, aov: 0.9, is: 0.3, ad_groups: &[
        AdGroupTpl { name: "Competitor brands", keywords: &[("trailmart shoes", &[PHRASE]), ("sneakerhub", &[EXACT]), ("shoebox outlet", &[BROAD])], landings: &["/collections/sale"] },
    ] },
    CampaignTpl { name: "Black Friday 2025", channel: Channel::Search, bidding: "MAXIMIZE_CONVERSIONS", window: Window::Fixed((2025, 11, 17), (2025, 12, 1)), weight: 0.35, ctr: 0.055, cpc: 1.1, cr: 0.05, aov: 1.1, is: 0.6, ad_groups: &[
        AdGroupTpl { name: "Black Friday deals", keywords: &[("black friday shoes", &[PHRASE]), ("black friday sneakers", &[PHRASE]), ("cyber monday shoes", &[BROAD])], landings: &["/collections/sale"] },
    ] },
];

/// Search-term variants of a keyword; `{}` is the keyword text.
const TERM_VARIANTS: &[&str] = &[
    "{} sale",
    "buy {}",
    "{} online",
    "cheap {}",
    "best {}",
    "{} near me",
    "{} discount code",
    "{} reviews",
];

/// Countries (geo target constant id, home-country time zones).
const COUNTRIES: &[(i64, &[&str])] = &[
    (2616, &["Europe/Warsaw"]),
    (2276, &["Europe/Berlin"]),
    (2826, &["Europe/London"]),
    (
        2840,
        &["America/New_York", "America/Chicago", "America/Los_Angeles"],
    ),
    (2250, &["Europe/Paris"]),
    (2528, &["Europe/Amsterdam"]),
    (2203, &["Europe/Prague"]),
    (2040, &["Europe/Vienna"]),
    (2724, &["Europe/Madrid"]),
    (2380, &["Europe/Rome"]),
    (2804, &["Europe/Kyiv", "Europe/Kiev"]),
    (2752, &["Europe/Stockholm"]),
];

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// An id with `digits` digits, stable per seed.
fn id_of(seed: u64, digits: u32) -> u64 {
    let low = 10u64.pow(digits - 1);
    low + seed % (9 * low)
}

/// Rounds micros to a whole multiple of `step` currency units (at least one step).
fn round_micros(micros: f64, step: f64) -> i64 {
    let units = (micros / 1e6 / step).round().max(1.0) * step;
    (units * 1e6) as i64
}

/// Builds the account of a (non-manager) customer.
pub fn build(c: &CustomerInfo) -> Account {
    let mut acc = Account::default();
    if c.manager {
        return acc;
    }
    let h = c.hash;
    for (ci, t) in TEMPLATES.iter().enumerate() {
        let salt = mix(&[h, 100, ci as u64]);
        let (start, active_until, end, status) = match t.window {
            Window::From(offset) => (
                c.data_start + chrono::Duration::days(offset),
                None,
                None,
                "ENABLED",
            ),
            Window::Paused(offset) => {
                let pause = date(2026, 5, 1) + chrono::Duration::days((salt % 60) as i64);
                (
                    c.data_start + chrono::Duration::days(offset),
                    Some(pause),
                    None,
                    "PAUSED",
                )
            }
            Window::Fixed(a, b) => {
                let (s, e) = (date(a.0, a.1, a.2), date(b.0, b.1, b.2));
                (s, Some(e), Some(e), "REMOVED")
            }
        };
        // Twice the expected daily spend (shares are relative to the always-on campaigns,
        // and seasonal peaks run ~50 % above average) keeps spend under budget.
        let always_on: f64 = TEMPLATES
            .iter()
            .filter(|t| matches!(t.window, Window::From(_)))
            .map(|t| t.weight)
            .sum();
        let expected_clicks = expected_daily_clicks(c) * t.weight / always_on.max(0.1);
        let cpc = c.cpc_eur * t.cpc;
        let budget = round_micros(expected_clicks * cpc * c.money * 2.0 * 1e6, 10.0);
        let campaign_id = id_of(mix(&[salt, 1]), 11);
        let mut campaign = Campaign {
            id: campaign_id,
            name: t.name.to_string(),
            status,
            channel: t.channel,
            bidding: t.bidding,
            start,
            end,
            active_until,
            budget_id: id_of(mix(&[salt, 2]), 11),
            budget_name: format!("{} budget", t.name),
            budget_micros: budget,
            delivery: "STANDARD",
            weight: t.weight,
            ctr: t.ctr * range(mix(&[salt, 3]), 0.85, 1.15),
            cpc_eur: cpc * range(mix(&[salt, 4]), 0.85, 1.15),
            cr: t.cr * range(mix(&[salt, 5]), 0.85, 1.15),
            aov_eur: c.aov_eur * t.aov,
            impression_share: (t.is * range(mix(&[salt, 6]), 0.9, 1.08)).min(0.97),
            ad_groups: Vec::new(),
            salt,
        };
        for (gi, gt) in t.ad_groups.iter().enumerate() {
            let g_salt = mix(&[salt, 200, gi as u64]);
            let ag_index = acc.ad_groups.len();
            let kind = match t.channel {
                Channel::Search => "SEARCH_STANDARD",
                Channel::Display => "DISPLAY_STANDARD",
                Channel::Shopping => "SHOPPING_PRODUCT_ADS",
                Channel::Video => "VIDEO_RESPONSIVE",
                Channel::PerformanceMax => "SEARCH_STANDARD",
            };
            let mut ag = AdGroup {
                id: id_of(mix(&[g_salt, 1]), 12),
                name: gt.name.to_string(),
                status: "ENABLED",
                kind,
                campaign: ci,
                cpc_bid_micros: round_micros(campaign.cpc_eur * c.money * 1.3 * 1e6, 0.01),
                weight: range(mix(&[g_salt, 2]), 0.5, 1.5),
                keywords: Vec::new(),
                ads: Vec::new(),
                landings: Vec::new(),
                salt: g_salt,
            };
            for path in gt.landings {
                let url = format!("https://{}{}", c.host, path);
                let li = match acc.landings.iter().position(|l| l.url == url) {
                    Some(i) => i,
                    None => {
                        acc.landings.push(Landing {
                            fingerprint: mix(&[fnv(&url), 9]) >> 1,
                            url,
                        });
                        acc.landings.len() - 1
                    }
                };
                ag.landings
                    .push((li, range(mix(&[g_salt, 3, li as u64]), 0.5, 1.5)));
            }
            for (ki, (text, matches)) in gt.keywords.iter().enumerate() {
                let text = text.replace("{brand}", &c.brand);
                for (mi, match_type) in matches.iter().enumerate() {
                    let k_salt = mix(&[g_salt, 300, ki as u64, mi as u64]);
                    let paused = unit(mix(&[k_salt, 1])) < 0.12 && status == "ENABLED";
                    let (ctr_f, cpc_f, cr_f, w) = match *match_type {
                        EXACT => (1.3, 1.1, 1.2, 1.0),
                        PHRASE => (1.0, 1.0, 1.0, 0.8),
                        _ => (0.7, 0.9, 0.8, 1.2),
                    };
                    let brand_kw = t.name.starts_with("Brand");
                    let qs_lo = if brand_kw { 8 } else { 4 };
                    let kw_index = acc.keywords.len();
                    let mut kw = Keyword {
                        criterion_id: id_of(mix(&[k_salt, 2]), 11),
                        text: text.clone(),
                        match_type,
                        status: if paused { "PAUSED" } else { "ENABLED" },
                        ad_group: ag_index,
                        weight: w * range(mix(&[k_salt, 3]), 0.4, 1.6),
                        ctr_f,
                        cpc_f,
                        cr_f,
                        quality_score: qs_lo + (mix(&[k_salt, 4]) % (11 - qs_lo as u64)) as i32,
                        active_until: paused.then(|| {
                            date(2026, 6, 1) + chrono::Duration::days((k_salt % 90) as i64)
                        }),
                        terms: Vec::new(),
                        salt: k_salt,
                    };
                    add_terms(&mut acc, &mut kw, kw_index);
                    acc.keywords.push(kw);
                    ag.keywords.push(kw_index);
                }
            }
            add_ads(&mut acc, &mut ag, ag_index, t.channel);
            campaign.ad_groups.push(ag_index);
            acc.ad_groups.push(ag);
        }
        acc.campaigns.push(campaign);
    }
    acc.geos = geos(c);
    acc
}

/// Average daily clicks the customer gets (before seasonality), used to size budgets.
pub fn expected_daily_clicks(c: &CustomerInfo) -> f64 {
    match &c.link {
        // ≈ the property's google / cpc share of sessions (see `ga4::model`).
        Some(l) => l.prop.profile.base_sessions * 0.172 * l.share,
        None => c.base_clicks,
    }
}

fn add_terms(acc: &mut Account, kw: &mut Keyword, kw_index: usize) {
    let exact_status = if kw.match_type == EXACT {
        "ADDED"
    } else {
        "NONE"
    };
    acc.terms.push(Term {
        text: kw.text.clone(),
        status: exact_status,
        keyword: kw_index,
        weight: 2.0,
    });
    kw.terms.push(acc.terms.len() - 1);
    // Exact-match keywords mostly match their own text; broader ones fan out.
    let extra = match kw.match_type {
        EXACT => 1,
        PHRASE => 3,
        _ => 4,
    };
    let start = (kw.salt % TERM_VARIANTS.len() as u64) as usize;
    for j in 0..extra {
        let variant = TERM_VARIANTS[(start + j * 3) % TERM_VARIANTS.len()];
        let text = variant.replace("{}", &kw.text);
        let status = if variant.starts_with("cheap") {
            "EXCLUDED"
        } else {
            "NONE"
        };
        acc.terms.push(Term {
            text,
            status,
            keyword: kw_index,
            weight: range(mix(&[kw.salt, 50, j as u64]), 0.2, 1.0),
        });
        kw.terms.push(acc.terms.len() - 1);
    }
}

fn add_ads(acc: &mut Account, ag: &mut AdGroup, ag_index: usize, channel: Channel) {
    let url = ag
        .landings
        .first()
        .and_then(|(li, _)| acc.landings.get(*li))
        .map(|l| l.url.clone());
    let specs: &[(&'static str, Option<&'static str>)] = match channel {
        Channel::Search => &[
            ("RESPONSIVE_SEARCH_AD", None),
            ("RESPONSIVE_SEARCH_AD", None),
        ],
        Channel::Shopping => &[("SHOPPING_PRODUCT_AD", None)],
        Channel::Display => &[
            ("RESPONSIVE_DISPLAY_AD", Some("Remarketing banner A")),
            ("RESPONSIVE_DISPLAY_AD", Some("Remarketing banner B")),
        ],
        Channel::Video => &[("VIDEO_RESPONSIVE_AD", Some("Brand story 15s"))],
        Channel::PerformanceMax => &[],
    };
    for (i, (ad_type, name)) in specs.iter().enumerate() {
        let salt = mix(&[ag.salt, 400, i as u64]);
        let roll = unit(mix(&[salt, 1]));
        acc.ads.push(Ad {
            id: id_of(mix(&[salt, 2]), 12),
            name: name.map(str::to_string),
            ad_type,
            // Shopping product ads take their URLs from the product feed.
            final_urls: if *ad_type == "SHOPPING_PRODUCT_AD" {
                Vec::new()
            } else {
                url.iter().cloned().collect()
            },
            status: "ENABLED",
            approval: if roll < 0.15 {
                "APPROVED_LIMITED"
            } else {
                "APPROVED"
            },
            ad_group: ag_index,
            weight: range(mix(&[salt, 3]), 0.6, 1.4),
            ctr_f: range(mix(&[salt, 4]), 0.85, 1.15),
        });
        ag.ads.push(acc.ads.len() - 1);
    }
}

/// Home country (by time zone) gets most traffic; four other countries share the rest.
fn geos(c: &CustomerInfo) -> Vec<Geo> {
    let home = COUNTRIES
        .iter()
        .position(|(_, zones)| zones.contains(&c.time_zone.as_str()))
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut picked = vec![home];
    let mut k = 0u64;
    while picked.len() < 5 && k < 64 {
        let i = (mix(&[c.hash, 500, k]) % COUNTRIES.len() as u64) as usize;
        if !picked.contains(&i) {
            picked.push(i);
        }
        k += 1;
    }
    for (rank, &i) in picked.iter().enumerate() {
        let share = if rank == 0 {
            0.8
        } else {
            0.2 * range(mix(&[c.hash, 510, i as u64]), 0.5, 1.5) / 4.0
        };
        // Location of presence dominates; a slice comes from people interested in the
        // area but elsewhere.
        out.push(Geo {
            country_id: COUNTRIES[i].0,
            location_type: 1,
            weight: share * 0.86,
        });
        out.push(Geo {
            country_id: COUNTRIES[i].0,
            location_type: 0,
            weight: share * 0.14,
        });
    }
    out
}

impl Account {
    /// Whether campaign `ci` serves on day `d`.
    pub fn campaign_active(&self, ci: usize, d: NaiveDate) -> bool {
        self.campaigns
            .get(ci)
            .is_some_and(|c| d >= c.start && c.active_until.is_none_or(|u| d <= u))
    }

    /// Whether keyword `ki` serves on day `d` (its campaign is checked separately).
    pub fn keyword_active(&self, ki: usize, d: NaiveDate) -> bool {
        self.keywords
            .get(ki)
            .is_some_and(|k| k.active_until.is_none_or(|u| d <= u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixtures;
    use crate::ga4::property::Registry;
    use crate::gads::customer::Directory;

    fn acme() -> CustomerInfo {
        let f = Fixtures::from_toml_str(
            "[[ga4_properties]]\nid='326784853'\ndisplay_name='Acme Shop'\ncurrency_code='PLN'\ngoogle_ads_links=['1234567890']\n[[ads_customers]]\nid='1234567890'\n",
        )
        .unwrap();
        let reg = Registry::build(&f);
        let d = Directory::build(&f, &reg);
        d.get("1234567890").unwrap().as_ref().clone()
    }

    #[test]
    fn structure_is_stable_and_plausible() {
        let c = acme();
        let a = build(&c);
        let b = build(&c);
        assert_eq!(a.campaigns.len(), TEMPLATES.len());
        assert_eq!(
            a.campaigns.iter().map(|c| c.id).collect::<Vec<_>>(),
            b.campaigns.iter().map(|c| c.id).collect::<Vec<_>>()
        );
        assert!(a.keywords.len() >= 30, "{}", a.keywords.len());
        assert!(a.terms.len() > a.keywords.len() * 2);
        assert!(a.keywords.iter().any(|k| k.text == "acme shop"));
        for camp in &a.campaigns {
            assert!((10_000_000_000..100_000_000_000).contains(&camp.id));
            assert!(camp.budget_micros > 0);
            assert!(
                (0.005..=0.1).contains(&camp.ctr),
                "{} {}",
                camp.name,
                camp.ctr
            );
        }
        let pmax = a
            .campaigns
            .iter()
            .find(|c| c.channel == Channel::PerformanceMax)
            .unwrap();
        assert!(pmax.ad_groups.is_empty());
        let mut ids: Vec<u64> = a.ad_groups.iter().map(|g| g.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), a.ad_groups.len(), "ad group ids are unique");
        assert_eq!(
            a.geos[0].country_id, 2616,
            "Warsaw time zone → Poland first"
        );
        let geo_total: f64 = a.geos.iter().map(|g| g.weight).sum();
        assert!((geo_total - 1.0).abs() < 0.2);
    }

    #[test]
    fn managers_have_no_campaigns() {
        let mut c = acme();
        c.manager = true;
        assert!(build(&c).campaigns.is_empty());
    }
}
