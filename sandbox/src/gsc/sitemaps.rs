//! Sitemaps (`WmxSitemap`): the submitted sitemaps of a site and, for a sitemap index, its
//! children. Derived sites submit a Shopify-like `sitemap.xml` index (products, pages,
//! collections, blogs) plus a blog Atom feed; declared sitemaps are served as listed, and
//! one whose file name contains `index` (or the root `sitemap.xml`) is an index with the
//! same derived children under it.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::site::SiteInfo;
use super::vocab::PageKind;
use crate::hash::{fnv, mix};

/// One `WmxSitemap` on the wire.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SitemapJson {
    /// URL of the sitemap.
    pub path: String,
    /// When it was submitted (RFC 3339).
    pub last_submitted: String,
    /// Whether it has not been processed yet.
    pub is_pending: bool,
    /// Whether it is a sitemap index.
    pub is_sitemaps_index: bool,
    /// `sitemap`, `rssFeed`, `atomFeed`, …
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When Google last downloaded it (absent while pending).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_downloaded: Option<String>,
    /// Warnings (int64 as a string).
    pub warnings: String,
    /// Errors (int64 as a string).
    pub errors: String,
    /// Counts per content type.
    pub contents: Vec<ContentJson>,
}

/// `WmxSitemapContent`.
#[derive(Debug, Clone, Serialize)]
pub struct ContentJson {
    /// `web`, `image`, …
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// URLs submitted (int64 as a string).
    pub submitted: String,
    /// Deprecated by Google and always `"0"` in its responses.
    pub indexed: String,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn at(day: NaiveDate, hash: u64) -> DateTime<Utc> {
    let secs = (hash % 86_400) as i64;
    let millis = (hash / 86_400 % 1000) as i64;
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        + Duration::seconds(secs)
        + Duration::milliseconds(millis)
}

/// Whether a declared sitemap URL is an index.
fn is_index(site: &SiteInfo, url: &str) -> bool {
    let file = url.rsplit('/').next().unwrap_or("");
    file.contains("index") || url == format!("{}sitemap.xml", site.root)
}

/// Derived child sitemaps of an index: (URL, page kind it lists).
fn children_of(site: &SiteInfo, index: &str) -> Vec<(String, PageKind)> {
    let dir = match index.rfind('/') {
        Some(i) => &index[..=i],
        None => site.root.as_str(),
    };
    [
        ("products", PageKind::Product),
        ("pages", PageKind::Info),
        ("collections", PageKind::Category),
        ("blogs", PageKind::Blog),
    ]
    .into_iter()
    .map(|(part, kind)| (format!("{dir}sitemap_{part}_1.xml"), kind))
    .collect()
}

/// The child sitemap that lists pages of `kind`, if the site has an index.
pub fn sitemap_for(site: &SiteInfo, kind: PageKind) -> Option<String> {
    let index = site.sitemaps.iter().find(|s| is_index(site, s))?;
    let part = kind.sitemap_part();
    children_of(site, index)
        .into_iter()
        .find(|(_, k)| k.sitemap_part() == part)
        .map(|(url, _)| url)
        .or_else(|| site.sitemaps.first().cloned())
}

/// Pages of `kind` listed in sitemaps (base products only; Shopify lists variants rarely),
/// scaled up for URLs that exist but get no search traffic.
fn submitted(site: &SiteInfo, kind: PageKind) -> (u64, u64) {
    let part = kind.sitemap_part();
    let web = site
        .vocab
        .pages
        .iter()
        .filter(|p| p.in_sitemap && p.kind.sitemap_part() == part)
        .count() as u64;
    let web = web + web * (mix(&[site.hash, fnv(part)]) % 40) / 100;
    let images = if kind == PageKind::Product || kind == PageKind::Blog {
        web * 2 + mix(&[site.hash, fnv(part), 1]) % 7
    } else {
        0
    };
    (web, images)
}

fn contents(web: u64, images: u64) -> Vec<ContentJson> {
    let mut out = vec![ContentJson {
        kind: "web",
        submitted: web.to_string(),
        indexed: "0".into(),
    }];
    if images > 0 {
        out.push(ContentJson {
            kind: "image",
            submitted: images.to_string(),
            indexed: "0".into(),
        });
    }
    out
}

fn entry(
    site: &SiteInfo,
    url: &str,
    today: NaiveDate,
    kind: &'static str,
    index: bool,
    counts: (u64, u64),
) -> SitemapJson {
    let h = mix(&[site.hash, fnv(url)]);
    let submitted_day = site
        .first_date
        .max(today - Duration::days(30 + (h % 700) as i64));
    let downloaded_day = today - Duration::days(((h >> 16) % 6) as i64);
    // Warnings are rare and deterministic; errors rarer still.
    let warnings = if h.is_multiple_of(7) {
        (h >> 8) % 12 + 1
    } else {
        0
    };
    let errors = if h.is_multiple_of(23) { 1 } else { 0 };
    SitemapJson {
        path: url.to_string(),
        last_submitted: rfc3339(at(submitted_day, h >> 20)),
        is_pending: false,
        is_sitemaps_index: index,
        kind,
        last_downloaded: Some(rfc3339(at(downloaded_day, h >> 28))),
        warnings: warnings.to_string(),
        errors: errors.to_string(),
        contents: contents(counts.0, counts.1),
    }
}

fn feed_kind(url: &str) -> &'static str {
    if url.ends_with(".atom") {
        "atomFeed"
    } else if url.ends_with(".rss") || url.ends_with("/rss") || url.ends_with("feed") {
        "rssFeed"
    } else if url.ends_with(".txt") {
        "urlList"
    } else {
        "sitemap"
    }
}

fn submitted_entry(site: &SiteInfo, url: &str, today: NaiveDate) -> SitemapJson {
    if is_index(site, url) {
        let (mut web, mut images) = (0, 0);
        for (_, kind) in children_of(site, url) {
            let (w, i) = submitted(site, kind);
            web += w;
            images += i;
        }
        entry(site, url, today, "sitemap", true, (web, images))
    } else {
        let kind = feed_kind(url);
        let counts = if kind == "atomFeed" || kind == "rssFeed" {
            submitted(site, PageKind::Blog)
        } else {
            (20 + mix(&[site.hash, fnv(url), 2]) % 400, 0)
        };
        entry(site, url, today, kind, false, (counts.0, 0))
    }
}

/// `sitemaps.list`: the submitted sitemaps, or the children of `index`. `None` when `index`
/// is not a sitemap of the site.
pub fn list(site: &SiteInfo, index: Option<&str>, today: NaiveDate) -> Option<Vec<SitemapJson>> {
    match index {
        None => Some(
            site.sitemaps
                .iter()
                .map(|url| submitted_entry(site, url, today))
                .collect(),
        ),
        Some(index) => {
            if !site.sitemaps.iter().any(|s| s == index) {
                return get(site, index, today).map(|_| Vec::new());
            }
            if !is_index(site, index) {
                return Some(Vec::new());
            }
            Some(
                children_of(site, index)
                    .into_iter()
                    .map(|(url, kind)| {
                        entry(site, &url, today, "sitemap", false, submitted(site, kind))
                    })
                    .collect(),
            )
        }
    }
}

/// `sitemaps.get`: a submitted sitemap or a child of a submitted index.
pub fn get(site: &SiteInfo, url: &str, today: NaiveDate) -> Option<SitemapJson> {
    if site.sitemaps.iter().any(|s| s == url) {
        return Some(submitted_entry(site, url, today));
    }
    site.sitemaps
        .iter()
        .filter(|s| is_index(site, s))
        .flat_map(|s| children_of(site, s))
        .find(|(child, _)| child == url)
        .map(|(child, kind)| entry(site, &child, today, "sitemap", false, submitted(site, kind)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsc::site::{Property, build};

    #[test]
    fn derived_sitemaps() {
        let url = "sc-domain:acme-shop.example";
        let site = build(url, Property::parse(url).unwrap(), None, None);
        let today = NaiveDate::from_ymd_opt(2026, 10, 20).unwrap();
        let list = list(&site, None, today).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].path, "https://www.acme-shop.example/sitemap.xml");
        assert!(list[0].is_sitemaps_index);
        assert_eq!(list[1].kind, "atomFeed");
        let children = super::list(&site, Some(&list[0].path), today).unwrap();
        assert_eq!(children.len(), 4);
        let total: u64 = children
            .iter()
            .map(|c| c.contents[0].submitted.parse::<u64>().unwrap())
            .sum();
        assert_eq!(list[0].contents[0].submitted, total.to_string());
        assert!(get(&site, &children[0].path, today).is_some());
        assert!(get(&site, "https://www.acme-shop.example/nope.xml", today).is_none());
        assert_eq!(
            sitemap_for(&site, PageKind::Product).as_deref(),
            Some("https://www.acme-shop.example/sitemap_products_1.xml")
        );
        let v = serde_json::to_value(&list[0]).unwrap();
        assert!(v["warnings"].is_string() && v["errors"].is_string());
        assert!(v["lastDownloaded"].as_str().unwrap().ends_with('Z'));
    }
}
