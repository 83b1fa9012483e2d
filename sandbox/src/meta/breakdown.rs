//! Insights `breakdowns`: the supported dimensions, which combinations Meta allows, their
//! members (with audience shares and rate tilts), and the exact split of an ad-day's integer
//! quantities over those members.
//!
//! Splits use largest-remainder apportionment per quantity, so every breakdown of a cell sums
//! back to the cell exactly; members tilt click-through, conversion and CPM (older audiences
//! convert better, Audience Network is cheap and converts badly) by weighting the click,
//! conversion and spend quantities differently from impressions.

use super::account::Account;
use super::error::GraphError;
use super::model::{self, NQ, Quantities};
use crate::hash::{fnv, mix, signed};

/// A supported breakdown dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    /// `age`.
    Age,
    /// `gender`.
    Gender,
    /// `country` (ISO 3166 alpha-2).
    Country,
    /// `region`.
    Region,
    /// `publisher_platform`.
    PublisherPlatform,
    /// `platform_position` (only with `publisher_platform`).
    PlatformPosition,
    /// `device_platform`.
    DevicePlatform,
    /// `impression_device`.
    ImpressionDevice,
}

/// Names accepted in `breakdowns`, in the order the error message lists them.
pub const NAMES: &[&str] = &[
    "age",
    "country",
    "device_platform",
    "gender",
    "impression_device",
    "platform_position",
    "publisher_platform",
    "region",
];

impl Dim {
    /// The wire name, also the row key.
    pub fn name(self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Gender => "gender",
            Self::Country => "country",
            Self::Region => "region",
            Self::PublisherPlatform => "publisher_platform",
            Self::PlatformPosition => "platform_position",
            Self::DevicePlatform => "device_platform",
            Self::ImpressionDevice => "impression_device",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "age" => Self::Age,
            "gender" => Self::Gender,
            "country" => Self::Country,
            "region" => Self::Region,
            "publisher_platform" => Self::PublisherPlatform,
            "platform_position" => Self::PlatformPosition,
            "device_platform" => Self::DevicePlatform,
            "impression_device" => Self::ImpressionDevice,
            _ => return None,
        })
    }
}

/// Parses `breakdowns` (comma list or JSON array), checking names and the combination.
pub fn parse(text: &str, action_breakdowns: &[String]) -> Result<Vec<Dim>, GraphError> {
    let names = super::insights::list_param(text);
    let mut dims: Vec<Dim> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let dim = Dim::parse(name)
            .ok_or_else(|| GraphError::not_one_of(&format!("breakdowns[{i}]"), NAMES))?;
        if !dims.contains(&dim) {
            dims.push(dim);
        }
    }
    let mut sorted = dims.clone();
    sorted.sort();
    use Dim::*;
    let allowed: &[&[Dim]] = &[
        &[],
        &[Age],
        &[Gender],
        &[Age, Gender],
        &[Country],
        &[Region],
        &[PublisherPlatform],
        &[PublisherPlatform, PlatformPosition],
        &[PublisherPlatform, ImpressionDevice],
        &[PublisherPlatform, PlatformPosition, ImpressionDevice],
        &[PublisherPlatform, DevicePlatform],
        &[PublisherPlatform, PlatformPosition, DevicePlatform],
        &[DevicePlatform],
        &[ImpressionDevice],
    ];
    if !allowed.contains(&sorted.as_slice()) {
        let mut columns: Vec<&str> = action_breakdowns.iter().map(String::as_str).collect();
        columns.extend(dims.iter().map(|d| d.name()));
        columns.sort_unstable();
        return Err(GraphError::breakdown_combination(&columns));
    }
    Ok(dims)
}

/// One member of a breakdown: its values, share and tilts.
#[derive(Debug, Clone)]
pub struct Member {
    /// `(dimension, value)` in request order.
    pub values: Vec<(Dim, String)>,
    /// Share of impressions.
    pub weight: f64,
    /// Link CTR tilt.
    pub ctr: f64,
    /// Conversion tilt.
    pub conv: f64,
    /// CPM tilt.
    pub cpm: f64,
    /// Noise seed.
    pub key: u64,
}

type Row = (&'static str, f64, f64, f64, f64);

const AGES: &[Row] = &[
    ("18-24", 0.12, 1.1, 0.6, 0.85),
    ("25-34", 0.30, 1.05, 0.95, 1.0),
    ("35-44", 0.25, 1.0, 1.15, 1.05),
    ("45-54", 0.17, 0.95, 1.2, 1.1),
    ("55-64", 0.10, 0.9, 1.1, 1.0),
    ("65+", 0.06, 0.85, 0.9, 0.9),
];
const GENDERS: &[Row] = &[
    ("female", 0.56, 1.05, 1.1, 1.05),
    ("male", 0.41, 0.95, 0.88, 0.95),
    ("unknown", 0.03, 0.9, 0.7, 0.8),
];
const PLATFORMS: &[Row] = &[
    ("facebook", 0.52, 1.0, 1.1, 0.9),
    ("instagram", 0.41, 1.05, 0.95, 1.15),
    ("audience_network", 0.05, 0.6, 0.3, 0.4),
    ("messenger", 0.02, 0.7, 0.6, 0.8),
];
const POSITIONS: &[(&str, Row)] = &[
    ("facebook", ("feed", 0.62, 1.05, 1.1, 1.0)),
    ("facebook", ("facebook_reels", 0.12, 0.9, 0.8, 0.8)),
    ("facebook", ("facebook_stories", 0.1, 0.85, 0.8, 0.85)),
    ("facebook", ("marketplace", 0.08, 1.0, 1.0, 0.9)),
    ("facebook", ("video_feeds", 0.05, 0.7, 0.6, 0.7)),
    ("facebook", ("right_hand_column", 0.03, 0.5, 0.9, 0.5)),
    ("instagram", ("feed", 0.5, 1.05, 1.05, 1.05)),
    ("instagram", ("instagram_stories", 0.25, 0.9, 0.9, 0.95)),
    ("instagram", ("instagram_reels", 0.2, 0.95, 0.85, 0.9)),
    ("instagram", ("instagram_explore", 0.05, 0.9, 0.9, 0.9)),
    ("audience_network", ("an_classic", 0.7, 1.0, 1.0, 1.0)),
    ("audience_network", ("rewarded_video", 0.3, 1.0, 1.0, 1.0)),
    ("messenger", ("messenger_inbox", 0.6, 1.0, 1.0, 1.0)),
    ("messenger", ("messenger_stories", 0.4, 1.0, 1.0, 1.0)),
];
const DEVICE_PLATFORMS: &[Row] = &[
    ("mobile_app", 0.8, 1.0, 0.9, 1.0),
    ("mobile_web", 0.07, 0.9, 0.8, 0.9),
    ("desktop", 0.13, 1.1, 1.45, 1.1),
];
const IMPRESSION_DEVICES: &[Row] = &[
    ("iphone", 0.38, 1.05, 1.1, 1.1),
    ("android_smartphone", 0.41, 0.95, 0.8, 0.9),
    ("ipad", 0.04, 1.0, 1.2, 1.0),
    ("android_tablet", 0.02, 0.9, 0.8, 0.9),
    ("desktop", 0.13, 1.1, 1.45, 1.1),
    ("other", 0.02, 0.8, 0.6, 0.8),
];

fn countries(home: &'static str) -> Vec<Row> {
    let mut out = vec![(home, 0.82, 1.0, 1.1, 1.0)];
    let others = ["DE", "GB", "US", "FR", "NL", "CZ", "UA", "PL"];
    let rest: Vec<&'static str> = others.into_iter().filter(|c| *c != home).take(6).collect();
    let w = [0.05, 0.04, 0.03, 0.025, 0.02, 0.015];
    for (c, w) in rest.into_iter().zip(w) {
        out.push((c, w, 0.9, 0.6, 0.9));
    }
    out
}

fn regions(home: &'static str) -> Vec<Row> {
    let names: &[(&'static str, f64)] = match home {
        "PL" => &[
            ("Masovian Voivodeship", 0.24),
            ("Silesian Voivodeship", 0.13),
            ("Lesser Poland Voivodeship", 0.12),
            ("Greater Poland Voivodeship", 0.1),
            ("Lower Silesian Voivodeship", 0.09),
            ("Pomeranian Voivodeship", 0.08),
            ("Łódź Voivodeship", 0.07),
        ],
        "DE" => &[
            ("North Rhine-Westphalia", 0.21),
            ("Bavaria", 0.17),
            ("Baden-Württemberg", 0.14),
            ("Berlin", 0.09),
            ("Lower Saxony", 0.09),
            ("Hesse", 0.08),
            ("Hamburg", 0.05),
        ],
        "GB" => &[
            ("England", 0.84),
            ("Scotland", 0.08),
            ("Wales", 0.05),
            ("Northern Ireland", 0.03),
        ],
        "US" => &[
            ("California", 0.14),
            ("Texas", 0.1),
            ("Florida", 0.08),
            ("New York", 0.07),
            ("Illinois", 0.05),
        ],
        _ => &[],
    };
    let home_total: f64 = names.iter().map(|(_, w)| w).sum();
    let mut out: Vec<Row> = names
        .iter()
        .map(|(n, w)| (*n, w / home_total.max(1e-9) * 0.85, 1.0, 1.1, 1.0))
        .collect();
    out.push((
        "Unknown",
        if names.is_empty() { 1.0 } else { 0.15 },
        0.9,
        0.6,
        0.9,
    ));
    out
}

fn rows(dim: Dim, account: &Account) -> Vec<Row> {
    match dim {
        Dim::Age => AGES.to_vec(),
        Dim::Gender => GENDERS.to_vec(),
        Dim::Country => countries(account.home_country()),
        Dim::Region => regions(account.home_country()),
        Dim::PublisherPlatform => PLATFORMS.to_vec(),
        Dim::DevicePlatform => DEVICE_PLATFORMS.to_vec(),
        Dim::ImpressionDevice => IMPRESSION_DEVICES.to_vec(),
        // Positions only make sense under a platform; see `members`.
        Dim::PlatformPosition => Vec::new(),
    }
}

/// Members of a (valid) combination: the cross product of its dimensions, positions nested
/// under their platform. No dimensions gives one member covering everything.
pub fn members(dims: &[Dim], account: &Account) -> Vec<Member> {
    let mut out = vec![Member {
        values: Vec::new(),
        weight: 1.0,
        ctr: 1.0,
        conv: 1.0,
        cpm: 1.0,
        key: 0,
    }];
    for dim in dims {
        let mut next = Vec::new();
        for m in &out {
            let list: Vec<Row> = if *dim == Dim::PlatformPosition {
                let platform = m
                    .values
                    .iter()
                    .find(|(d, _)| *d == Dim::PublisherPlatform)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                POSITIONS
                    .iter()
                    .filter(|(p, _)| *p == platform)
                    .map(|(_, r)| *r)
                    .collect()
            } else {
                rows(*dim, account)
            };
            for (value, w, ctr, conv, cpm) in list {
                let mut values = m.values.clone();
                values.push((*dim, value.to_owned()));
                next.push(Member {
                    key: mix(&[m.key, fnv(dim.name()), fnv(value)]),
                    values,
                    weight: m.weight * w,
                    ctr: m.ctr * ctr,
                    conv: m.conv * conv,
                    cpm: m.cpm * cpm,
                });
            }
        }
        out = next;
    }
    out
}

/// Which weight vector splits each quantity: 0 impressions, 1 clicks, 2 conversions, 3 spend.
const GROUP: [usize; NQ] = {
    let mut g = [0usize; NQ];
    g[model::CLICKS] = 1;
    g[model::LINK_CLICKS] = 1;
    g[model::LANDING_PAGE_VIEWS] = 1;
    g[model::VIEW_CONTENT] = 1;
    g[model::POST_ENGAGEMENT] = 1;
    g[model::PAGE_ENGAGEMENT] = 1;
    g[model::ADD_TO_CART] = 2;
    g[model::INITIATE_CHECKOUT] = 2;
    g[model::PURCHASES] = 2;
    g[model::SPEND] = 3;
    g
};

/// Splits one ad-day over `members` (seeded by the ad and week so shares drift slowly).
/// Values follow their counts, so a member without purchases has no purchase value.
pub fn split(q: &Quantities, members: &[Member], seed: u64) -> Vec<Quantities> {
    if members.len() == 1 {
        return vec![*q];
    }
    let share: Vec<f64> = members
        .iter()
        .map(|m| m.weight * (1.0 + 0.15 * signed(mix(&[seed, m.key]))).max(0.0))
        .collect();
    let weights: [Vec<f64>; 4] = [
        share.clone(),
        share.iter().zip(members).map(|(s, m)| s * m.ctr).collect(),
        share
            .iter()
            .zip(members)
            .map(|(s, m)| s * m.ctr * m.conv)
            .collect(),
        share.iter().zip(members).map(|(s, m)| s * m.cpm).collect(),
    ];
    let mut out = vec![[0i64; NQ]; members.len()];
    for (i, total) in q.iter().enumerate() {
        let parts = match i {
            model::ADD_TO_CART_VALUE | model::CHECKOUT_VALUE | model::PURCHASE_VALUE => continue,
            _ => apportion_group(*total, &weights[GROUP[i]]),
        };
        for (row, v) in out.iter_mut().zip(parts) {
            row[i] = v;
        }
    }
    for (value, count) in [
        (model::ADD_TO_CART_VALUE, model::ADD_TO_CART),
        (model::CHECKOUT_VALUE, model::INITIATE_CHECKOUT),
        (model::PURCHASE_VALUE, model::PURCHASES),
    ] {
        let counts: Vec<f64> = out.iter().map(|r| r[count] as f64).collect();
        for (row, v) in out.iter_mut().zip(model::apportion(q[value], &counts)) {
            row[value] = v;
        }
    }
    out
}

fn apportion_group(total: i64, weights: &[f64]) -> Vec<i64> {
    model::apportion(total, weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use crate::state::Shared;

    fn account() -> Account {
        let fixtures = crate::Fixtures::from_toml_str("").unwrap();
        Account::resolve(&Shared::new(SandboxConfig::new(fixtures)), "act_5").unwrap()
    }

    #[test]
    fn combinations_follow_metas_rules() {
        let none: Vec<String> = vec!["action_type".into()];
        assert_eq!(
            parse("age,gender", &none).unwrap(),
            vec![Dim::Age, Dim::Gender]
        );
        assert!(parse("[\"publisher_platform\",\"platform_position\"]", &none).is_ok());
        let err = parse("age,country", &none).unwrap_err();
        assert_eq!(err.code, 100);
        assert!(
            err.message.contains("(action_type, age, country)"),
            "{}",
            err.message
        );
        assert!(parse("platform_position", &none).is_err());
        let err = parse("hair_color", &none).unwrap_err();
        assert!(
            err.message
                .starts_with("(#100) breakdowns[0] must be one of"),
            "{}",
            err.message
        );
    }

    #[test]
    fn positions_nest_under_platforms() {
        let a = account();
        let m = members(&[Dim::PublisherPlatform, Dim::PlatformPosition], &a);
        assert_eq!(m.len(), POSITIONS.len());
        assert!(m.iter().all(|x| x.values.len() == 2));
        let total: f64 = m.iter().map(|x| x.weight).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn splits_sum_back_exactly() {
        let a = account();
        let mut q = [0i64; NQ];
        for (i, v) in q.iter_mut().enumerate() {
            *v = 1000 + 37 * i as i64;
        }
        q[model::PURCHASES] = 3;
        for dims in [
            vec![Dim::Age, Dim::Gender],
            vec![Dim::Region],
            vec![Dim::ImpressionDevice],
        ] {
            let m = members(&dims, &a);
            let parts = split(&q, &m, 42);
            for i in 0..NQ {
                assert_eq!(
                    parts.iter().map(|p| p[i]).sum::<i64>(),
                    q[i],
                    "{dims:?} q{i}"
                );
            }
            for p in &parts {
                if p[model::PURCHASES] == 0 {
                    assert_eq!(p[model::PURCHASE_VALUE], 0);
                }
            }
        }
    }
}
