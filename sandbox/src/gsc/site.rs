//! Search Console properties as the sandbox serves them: property-URL parsing (URL-prefix vs
//! `sc-domain:`), metadata declared in `[[gsc_sites]]` or derived from the URL, the Pacific
//! clock, and the [`Registry`] built once at start-up.
//!
//! Everything here is a pure function of the fixture, so two sandboxes loaded with the same
//! fixture serve identical data.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, Duration, Months, NaiveDate, Timelike, Utc};

use super::vocab::{self, Vertical, Vocab};
use super::{PermissionLevel, SiteFixture};
use crate::SandboxConfig;
use crate::fixtures::Fixtures;
use crate::ga4::property::PropertyInfo;
use crate::hash::{fnv, mix, range, unit};

/// Search Console dates are Pacific time.
pub const PACIFIC: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

/// Search Console keeps 16 months of performance data.
pub const RETENTION_MONTHS: u32 = 16;

/// A parsed property URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    /// `sc-domain:example.com`: every scheme and subdomain of the host.
    Domain(String),
    /// `https://www.example.com/shop/`: URLs starting with exactly this prefix.
    Prefix {
        /// `http` or `https`.
        scheme: String,
        /// Lower-case host (with port, if any).
        host: String,
        /// Path, starting and ending with `/`.
        path: String,
    },
}

impl Property {
    /// Parses a property as Search Console writes it; `None` for anything else (a bare
    /// domain, a URL without the trailing slash of a prefix, a query string …).
    pub fn parse(site_url: &str) -> Option<Property> {
        if let Some(host) = site_url.strip_prefix("sc-domain:") {
            return valid_host(host).then(|| Property::Domain(host.to_string()));
        }
        let (scheme, rest) = site_url.split_once("://")?;
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return None,
        };
        let host_only = host.split_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
                h
            } else {
                ""
            }
        });
        if !valid_host(host_only)
            || !path.ends_with('/')
            || path.contains(['?', '#', ' '])
            || path.contains("//")
        {
            return None;
        }
        Some(Property::Prefix {
            scheme: scheme.to_string(),
            host: host.to_string(),
            path: path.to_string(),
        })
    }

    /// The registrable host (`acme-shop.example`, without `www.`).
    pub fn host(&self) -> &str {
        let host = match self {
            Property::Domain(h) => h.as_str(),
            Property::Prefix { host, .. } => host.split(':').next().unwrap_or(host),
        };
        host.strip_prefix("www.").unwrap_or(host)
    }

    /// Root of the pages the site serves: the prefix itself, or `https://www.<domain>/`.
    pub fn root(&self) -> String {
        match self {
            Property::Domain(h) if h.starts_with("www.") => format!("https://{h}/"),
            Property::Domain(h) => format!("https://www.{h}/"),
            Property::Prefix { scheme, host, path } => format!("{scheme}://{host}{path}"),
        }
    }

    /// Whether a URL belongs to the property (the URL Inspection "under the site" rule).
    pub fn contains(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        if url.scheme() != "http" && url.scheme() != "https" {
            return false;
        }
        match self {
            Property::Domain(domain) => {
                let host = host.to_ascii_lowercase();
                host == *domain || host.ends_with(&format!(".{domain}"))
            }
            Property::Prefix {
                scheme,
                host: prefix_host,
                path,
            } => {
                let authority = match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_string(),
                };
                url.scheme() == scheme
                    && authority.eq_ignore_ascii_case(prefix_host)
                    && url.path().starts_with(path.as_str())
            }
        }
    }
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Where a site's daily web clicks come from.
#[derive(Debug, Clone)]
pub enum Volume {
    /// Tied to the Google organic sessions of a GA4 property (times `ratio`).
    Linked {
        /// The GA4 property.
        property: Arc<PropertyInfo>,
        /// Clicks per GA4 organic session (clicks exceed sessions: consent, bounces).
        ratio: f64,
    },
    /// An average number of daily clicks with the sandbox's own seasonality.
    Fixed(f64),
}

/// "Today" and "now" in Pacific time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Today (PT).
    pub today: NaiveDate,
    /// Minutes since midnight (PT).
    pub minute_of_day: u32,
}

impl Clock {
    /// `--today` at 12:00 PT, or the real Pacific clock.
    pub fn new(config: &SandboxConfig) -> Clock {
        match config.today {
            Some(today) => Clock {
                today,
                minute_of_day: 12 * 60,
            },
            None => {
                let now = Utc::now().with_timezone(&PACIFIC);
                Clock {
                    today: now.date_naive(),
                    minute_of_day: now.hour() * 60 + now.minute(),
                }
            }
        }
    }
}

/// One Search Console property.
#[derive(Debug)]
pub struct SiteInfo {
    /// The property URL exactly as registered.
    pub url: String,
    /// Parsed form.
    pub property: Property,
    /// Seed of all data.
    pub hash: u64,
    /// `permissionLevel` of the (single) sandbox user.
    pub permission: PermissionLevel,
    /// Root of the site's pages (ends with `/`).
    pub root: String,
    /// Index into [`vocab::COUNTRIES`] of the country most searches come from.
    pub home_country: usize,
    /// First day with data.
    pub first_date: NaiveDate,
    /// Daily click source.
    pub volume: Volume,
    /// Queries, pages and the pairs that connect them.
    pub vocab: Vocab,
    /// Per search type models, in [`SearchType::ALL`](super::model::SearchType::ALL) order.
    pub types: Vec<super::model::TypeModel>,
    /// Submitted sitemaps (declared, or derived from the site).
    pub sitemaps: Vec<String>,
    /// Whether `sitemaps` was derived (then the index has derived child sitemaps).
    pub derived_sitemaps: bool,
}

impl SiteInfo {
    /// First day of data visible at `today` (16 months back, not before the site existed).
    pub fn window_start(&self, today: NaiveDate) -> NaiveDate {
        let retention = today
            .checked_sub_months(Months::new(RETENTION_MONTHS))
            .unwrap_or(today);
        retention.max(self.first_date)
    }
}

/// All properties named in the fixture (declared or listed by a grant).
#[derive(Debug, Default)]
pub struct Registry {
    map: HashMap<String, Arc<SiteInfo>>,
}

impl Registry {
    /// Builds every property once; GA4 metadata is needed to link traffic volumes.
    pub fn build(fixtures: &Fixtures, ga4: &crate::ga4::property::Registry) -> Self {
        let mut map = HashMap::new();
        let mut urls: Vec<&str> = fixtures
            .gsc_sites
            .iter()
            .map(|s| s.site_url.as_str())
            .collect();
        for grant in &fixtures.google_grants {
            urls.extend(grant.gsc_sites.iter().map(String::as_str));
        }
        for url in urls {
            if map.contains_key(url) {
                continue;
            }
            // Fixture validation rejects malformed properties; skip defensively anyway.
            let Some(property) = Property::parse(url) else {
                continue;
            };
            let declared = fixtures.gsc_sites.iter().find(|s| s.site_url == url);
            // Link to a GA4 property: the declared one, else the first GA4 property of the
            // first grant that lists this site.
            let ga4_id = declared.and_then(|d| d.ga4_property.clone()).or_else(|| {
                fixtures
                    .google_grants
                    .iter()
                    .find(|g| g.gsc_sites.iter().any(|s| s == url))
                    .and_then(|g| g.ga4_properties.first().cloned())
            });
            let linked = ga4_id.and_then(|id| ga4.get(&id));
            let info = build(url, property, declared, linked);
            map.insert(url.to_string(), Arc::new(info));
        }
        Self { map }
    }

    /// Looks a property up by its exact URL.
    pub fn get(&self, url: &str) -> Option<Arc<SiteInfo>> {
        self.map.get(url).cloned()
    }
}

/// Builds one property from its URL and optional declaration.
pub fn build(
    url: &str,
    property: Property,
    declared: Option<&SiteFixture>,
    linked: Option<Arc<PropertyInfo>>,
) -> SiteInfo {
    let hash = fnv(url);
    let host = property.host().to_string();
    let root = property.root();
    let volume = match (declared.and_then(|d| d.daily_clicks), linked) {
        (Some(clicks), _) => Volume::Fixed(f64::from(clicks)),
        (None, Some(prop)) => Volume::Linked {
            property: prop,
            ratio: range(mix(&[hash, 1]), 1.03, 1.16),
        },
        (None, None) => Volume::Fixed(150.0 + (mix(&[hash, 2]) % 1050) as f64),
    };
    // GA4 organic search is about a third of sessions (see ga4::model TRAFFIC).
    let avg_clicks = match &volume {
        Volume::Fixed(c) => *c,
        Volume::Linked { property, ratio } => property.profile.base_sessions * 0.32 * ratio,
    };
    let home_country = declared
        .and_then(|d| d.home_country.as_deref())
        .and_then(vocab::country_index)
        .or_else(|| match &volume {
            Volume::Linked { property, .. } => property
                .home_country
                .and_then(vocab::country_from_name)
                .and_then(vocab::country_index),
            Volume::Fixed(_) => None,
        })
        .or_else(|| {
            host.rsplit('.')
                .next()
                .and_then(vocab::country_from_tld)
                .and_then(vocab::country_index)
        })
        .unwrap_or((mix(&[hash, 3]) % 5) as usize);
    let vertical = declared
        .and_then(|d| d.vertical)
        .unwrap_or_else(|| Vertical::guess(&host));
    let brand = match declared.map(|d| d.brand.clone()).unwrap_or_default() {
        b if !b.is_empty() => b.into_iter().map(|t| t.to_lowercase()).collect(),
        _ => derived_brand(&host),
    };
    let first_date = declared
        .and_then(|d| d.first_date)
        .unwrap_or_else(|| derived_first_date(hash));
    let n_queries = (150.0 + 2.0 * avg_clicks).clamp(200.0, 2000.0) as usize;
    let n_pages = (50.0 + avg_clicks / 4.0).clamp(60.0, 300.0) as usize;
    let vocab = vocab::build(&vocab::Spec {
        hash,
        root: &root,
        brand: &brand,
        vertical,
        home_country,
        n_queries,
        n_pages,
    });
    let (sitemaps, derived_sitemaps) = match declared.and_then(|d| d.sitemaps.clone()) {
        Some(list) => (list, false),
        None => (
            vec![
                format!("{root}sitemap.xml"),
                format!("{root}blogs/news.atom"),
            ],
            true,
        ),
    };
    let mut info = SiteInfo {
        url: url.to_string(),
        property,
        hash,
        permission: declared.map(|d| d.permission_level).unwrap_or_default(),
        root,
        home_country,
        first_date,
        volume,
        vocab,
        types: Vec::new(),
        sitemaps,
        derived_sitemaps,
    };
    info.types = super::model::type_models(&info);
    info
}

/// Brand terms from the host: `acme-shop.example` → `acme shop`, `acme`, `acmeshop`.
fn derived_brand(host: &str) -> Vec<String> {
    let label = host
        .split('.')
        .find(|l| *l != "www" && !l.is_empty())
        .unwrap_or(host);
    let words: Vec<&str> = label.split('-').filter(|w| !w.is_empty()).collect();
    let mut terms = vec![words.join(" ")];
    if words.len() > 1 {
        if let Some(first) = words.first().filter(|w| w.len() >= 3) {
            terms.push((*first).to_string());
        }
        terms.push(words.concat());
    }
    terms.retain(|t| !t.is_empty());
    terms.dedup();
    terms
}

/// A first day of data between 2019-01-01 and 2022-10-31, stable per site.
fn derived_first_date(hash: u64) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default();
    start + Duration::days((mix(&[hash, 4]) % 1400) as i64)
}

/// Yearly and holiday seasonality of search demand for a shop.
pub fn season(d: NaiveDate) -> f64 {
    let doy = f64::from(d.ordinal());
    let mut s = 1.0 + 0.1 * (2.0 * std::f64::consts::PI * (doy - 355.0) / 365.0).cos();
    match (d.month(), d.day()) {
        (11, 22..=30) => s *= 1.3,
        (12, 1..=20) => s *= 1.15,
        (1, 1..=10) => s *= 0.9,
        _ => {}
    }
    s
}

/// Stable per-site trend in `[-0.05, 0.2]` a year.
pub fn trend(hash: u64) -> f64 {
    range(mix(&[hash, 5]), -0.05, 0.2)
}

/// Whether a hashed coin with probability `p` comes up.
pub fn chance(h: u64, p: f64) -> bool {
    unit(h) < p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_formats() {
        assert_eq!(
            Property::parse("sc-domain:acme-shop.example"),
            Some(Property::Domain("acme-shop.example".into()))
        );
        let p = Property::parse("https://www.gsc-only.example/").unwrap();
        assert_eq!(p.root(), "https://www.gsc-only.example/");
        assert_eq!(p.host(), "gsc-only.example");
        for bad in [
            "https://www.example.com",
            "example.com",
            "sc-domain:",
            "sc-domain:https://x.com/",
            "ftp://x.com/",
            "https://x.com/a?b/",
            "https://Ex.com/",
        ] {
            assert_eq!(Property::parse(bad), None, "{bad}");
        }
        assert!(Property::parse("http://localhost.example:8080/shop/").is_some());
    }

    #[test]
    fn containment_distinguishes_scheme_host_and_prefix() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let domain = Property::parse("sc-domain:acme-shop.example").unwrap();
        assert!(domain.contains(&u("https://www.acme-shop.example/a")));
        assert!(domain.contains(&u("http://acme-shop.example/")));
        assert!(!domain.contains(&u("https://notacme-shop.example/")));
        let prefix = Property::parse("https://www.x.example/shop/").unwrap();
        assert!(prefix.contains(&u("https://www.x.example/shop/a")));
        assert!(!prefix.contains(&u("http://www.x.example/shop/a")));
        assert!(!prefix.contains(&u("https://x.example/shop/a")));
        assert!(!prefix.contains(&u("https://www.x.example/other")));
        assert_eq!(domain.root(), "https://www.acme-shop.example/");
    }

    #[test]
    fn brand_terms_come_from_the_host() {
        assert_eq!(
            derived_brand("acme-shop.example"),
            vec!["acme shop", "acme", "acmeshop"]
        );
        assert_eq!(derived_brand("bloom.example"), vec!["bloom"]);
    }
}
