//! URL Inspection (`POST /v1/urlInspection/index:inspect`): a deterministic index status for
//! any URL of a site.
//!
//! Pages the site gets search traffic for are indexed (colour variants sometimes lose the
//! canonical to their base product); cart, checkout and account paths are blocked by
//! robots.txt, on-site search is `noindex`, tracking/variant parameters are alternates with a
//! canonical, `http://` URLs redirect, and other URLs get a hashed mix of "Crawled/Discovered -
//! currently not indexed", 404, soft 404, server errors and "URL is unknown to Google".

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::site::{Clock, PACIFIC, SiteInfo};
use super::sitemaps::sitemap_for;
use super::vocab::{Page, PageKind};
use crate::hash::{fnv, mix, unit};

/// The request body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InspectRequest {
    /// URL to inspect.
    #[serde(alias = "inspection_url")]
    pub inspection_url: Option<String>,
    /// Property (`https://…/` or `sc-domain:…`).
    #[serde(alias = "site_url")]
    pub site_url: Option<String>,
    /// BCP-47 language of issue messages (messages stay English in the sandbox).
    #[serde(alias = "language_code")]
    pub language_code: Option<String>,
}

/// Whether a `languageCode` looks like BCP-47 (`en`, `en-US`, `zh-Hant-TW`).
pub fn valid_language(code: &str) -> bool {
    let mut parts = code.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `InspectUrlIndexResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectResponse {
    /// The result.
    pub inspection_result: InspectionResult,
}

/// `UrlInspectionResult`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectionResult {
    /// Search Console UI deep link.
    pub inspection_result_link: String,
    /// Index status.
    pub index_status_result: IndexStatus,
    /// Mobile usability (retired by Google: always unspecified).
    pub mobile_usability_result: Verdict,
    /// Rich results (absent when none were detected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rich_results_result: Option<RichResults>,
}

/// `IndexStatusInspectionResult`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexStatus {
    /// PASS / NEUTRAL / FAIL.
    pub verdict: &'static str,
    /// Free text, e.g. "Submitted and indexed".
    pub coverage_state: &'static str,
    /// ALLOWED / DISALLOWED / ROBOTS_TXT_STATE_UNSPECIFIED.
    pub robots_txt_state: &'static str,
    /// INDEXING_ALLOWED / BLOCKED_BY_META_TAG / …
    pub indexing_state: &'static str,
    /// Last crawl (absent if never crawled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_crawl_time: Option<String>,
    /// SUCCESSFUL / NOT_FOUND / …
    pub page_fetch_state: &'static str,
    /// Canonical chosen by Google (absent if not indexed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google_canonical: Option<String>,
    /// Canonical declared by the page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_canonical: Option<String>,
    /// Sitemaps listing the URL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sitemap: Vec<String>,
    /// Pages linking to it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referring_urls: Vec<String>,
    /// DESKTOP / MOBILE (absent if never crawled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crawled_as: Option<&'static str>,
}

/// A bare verdict object.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// Verdict.
    pub verdict: &'static str,
}

/// `RichResultsInspectionResult`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RichResults {
    /// PASS unless an item has an error.
    pub verdict: &'static str,
    /// Detected items by type.
    pub detected_items: Vec<DetectedItems>,
}

/// `DetectedItems`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedItems {
    /// e.g. "Product snippets".
    pub rich_result_type: &'static str,
    /// Items.
    pub items: Vec<Item>,
}

/// `Item`.
#[derive(Debug, Serialize)]
pub struct Item {
    /// Item name.
    pub name: String,
    /// Issues.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<Issue>,
}

/// `RichResultsIssue`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// Message.
    pub issue_message: &'static str,
    /// WARNING / ERROR.
    pub severity: &'static str,
}

fn crawl_time(clock: Clock, h: u64) -> String {
    let days = 1 + (h % 40) as i64;
    let day = clock.today - Duration::days(days);
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    let midnight: DateTime<Utc> = PACIFIC
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local));
    let t = midnight + Duration::seconds(((h >> 8) % 86_400) as i64);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let idx = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out
}

/// Inspects a URL already known to be under the site.
pub fn inspect(site: &SiteInfo, url: &url::Url, clock: Clock) -> InspectResponse {
    let text = url.as_str();
    let h = mix(&[site.hash, fnv(text), 31]);
    let id_bytes: Vec<u8> = mix(&[h, 1])
        .to_le_bytes()
        .into_iter()
        .chain(mix(&[h, 2]).to_le_bytes())
        .collect();
    let link = format!(
        "https://search.google.com/search-console/inspect?resource_id={}&id={}&utm_medium=link&utm_source=api",
        url::form_urlencoded::byte_serialize(site.url.as_bytes()).collect::<String>(),
        base64url(&id_bytes)
    );
    let known = site
        .vocab
        .page_index
        .get(text)
        .and_then(|i| site.vocab.pages.get(*i as usize));
    let (status, rich) = classify(site, url, known, clock, h);
    InspectResponse {
        inspection_result: InspectionResult {
            inspection_result_link: link,
            index_status_result: status,
            mobile_usability_result: Verdict {
                verdict: "VERDICT_UNSPECIFIED",
            },
            rich_results_result: rich,
        },
    }
}

fn referrers(site: &SiteInfo, url: &str, h: u64) -> Vec<String> {
    let pages = &site.vocab.pages;
    let mut out = Vec::new();
    for k in 0..(1 + h % 3) {
        let i = (mix(&[h, 40 + k]) % pages.len().max(1) as u64) as usize;
        if let Some(p) = pages.get(i)
            && p.url != url
            && !out.contains(&p.url)
        {
            out.push(p.url.clone());
        }
    }
    out
}

fn indexed(site: &SiteInfo, url: &str, page: &Page, clock: Clock, h: u64) -> IndexStatus {
    let sitemap: Vec<String> = if page.in_sitemap {
        sitemap_for(site, page.kind).into_iter().collect()
    } else {
        Vec::new()
    };
    IndexStatus {
        verdict: "PASS",
        coverage_state: if page.in_sitemap {
            "Submitted and indexed"
        } else {
            "Indexed, not submitted in sitemap"
        },
        robots_txt_state: "ALLOWED",
        indexing_state: "INDEXING_ALLOWED",
        last_crawl_time: Some(crawl_time(clock, h)),
        page_fetch_state: "SUCCESSFUL",
        google_canonical: Some(url.to_string()),
        user_canonical: Some(url.to_string()),
        sitemap,
        referring_urls: referrers(site, url, h),
        crawled_as: Some("MOBILE"),
    }
}

fn rich_results(page: &Page, h: u64) -> Option<RichResults> {
    let name = if page.name.is_empty() {
        "Unnamed item".to_string()
    } else {
        page.name.clone()
    };
    match page.kind {
        PageKind::Product => {
            let error = unit(mix(&[h, 50])) < 0.05;
            let warning = unit(mix(&[h, 51])) < 0.4;
            let mut merchant_issues = Vec::new();
            if warning {
                merchant_issues.push(Issue {
                    issue_message: "Missing field \"hasMerchantReturnPolicy\" (in \"offers\")",
                    severity: "WARNING",
                });
            }
            let mut snippet_issues = Vec::new();
            if error {
                snippet_issues.push(Issue {
                    issue_message: "Either \"offers\", \"review\", or \"aggregateRating\" should be specified",
                    severity: "ERROR",
                });
            }
            Some(RichResults {
                verdict: if error { "FAIL" } else { "PASS" },
                detected_items: vec![
                    DetectedItems {
                        rich_result_type: "Product snippets",
                        items: vec![Item {
                            name: name.clone(),
                            issues: snippet_issues,
                        }],
                    },
                    DetectedItems {
                        rich_result_type: "Merchant listings",
                        items: vec![Item {
                            name,
                            issues: merchant_issues,
                        }],
                    },
                ],
            })
        }
        PageKind::Blog | PageKind::Category => Some(RichResults {
            verdict: "PASS",
            detected_items: vec![DetectedItems {
                rich_result_type: "Breadcrumbs",
                items: vec![Item {
                    name: "Unnamed item".into(),
                    issues: Vec::new(),
                }],
            }],
        }),
        PageKind::Home | PageKind::Info => None,
    }
}

/// A crawled page that is not indexed for the given reason.
fn excluded(
    verdict: &'static str,
    coverage: &'static str,
    fetch: &'static str,
    indexing: &'static str,
    clock: Clock,
    h: u64,
) -> IndexStatus {
    IndexStatus {
        verdict,
        coverage_state: coverage,
        robots_txt_state: "ALLOWED",
        indexing_state: indexing,
        last_crawl_time: Some(crawl_time(clock, h)),
        page_fetch_state: fetch,
        crawled_as: Some("MOBILE"),
        ..IndexStatus::default()
    }
}

/// Never crawled: every crawl field unspecified.
fn uncrawled(coverage: &'static str) -> IndexStatus {
    IndexStatus {
        verdict: "NEUTRAL",
        coverage_state: coverage,
        robots_txt_state: "ROBOTS_TXT_STATE_UNSPECIFIED",
        indexing_state: "INDEXING_STATE_UNSPECIFIED",
        page_fetch_state: "PAGE_FETCH_STATE_UNSPECIFIED",
        ..IndexStatus::default()
    }
}

fn classify(
    site: &SiteInfo,
    url: &url::Url,
    known: Option<&Page>,
    clock: Clock,
    h: u64,
) -> (IndexStatus, Option<RichResults>) {
    let text = url.as_str();
    let path = url.path();
    let root_https = site.root.starts_with("https://");
    if url.scheme() == "http" && root_https {
        let mut target = url.clone();
        let _ = target.set_scheme("https");
        let mut s = excluded(
            "NEUTRAL",
            "Page with redirect",
            "SUCCESSFUL",
            "INDEXING_ALLOWED",
            clock,
            h,
        );
        s.google_canonical = Some(target.to_string());
        return (s, None);
    }
    let private = ["/cart", "/checkout", "/account", "/admin", "/orders"];
    if private.iter().any(|p| path.contains(p)) {
        let s = IndexStatus {
            verdict: "NEUTRAL",
            coverage_state: "Blocked by robots.txt",
            robots_txt_state: "DISALLOWED",
            indexing_state: "INDEXING_STATE_UNSPECIFIED",
            page_fetch_state: "BLOCKED_ROBOTS_TXT",
            ..IndexStatus::default()
        };
        return (s, None);
    }
    if path.ends_with("/search") || path.contains("/search/") {
        let s = excluded(
            "NEUTRAL",
            "Excluded by ‘noindex’ tag",
            "SUCCESSFUL",
            "BLOCKED_BY_META_TAG",
            clock,
            h,
        );
        return (s, None);
    }
    if url.query().is_some() {
        let mut canonical = url.clone();
        canonical.set_query(None);
        let mut s = excluded(
            "NEUTRAL",
            "Alternate page with proper canonical tag",
            "SUCCESSFUL",
            "INDEXING_ALLOWED",
            clock,
            h,
        );
        s.google_canonical = Some(canonical.to_string());
        s.user_canonical = Some(canonical.to_string());
        s.referring_urls = referrers(site, text, h);
        return (s, None);
    }
    if let Some(page) = known {
        if let Some(base) = page.base.and_then(|b| site.vocab.pages.get(b as usize))
            && unit(mix(&[h, 60])) < 0.15
        {
            let mut s = excluded(
                "NEUTRAL",
                "Duplicate, Google chose different canonical than user",
                "SUCCESSFUL",
                "INDEXING_ALLOWED",
                clock,
                h,
            );
            s.google_canonical = Some(base.url.clone());
            s.user_canonical = Some(text.to_string());
            return (s, None);
        }
        return (indexed(site, text, page, clock, h), rich_results(page, h));
    }
    let roll = unit(mix(&[h, 70]));
    let s = if roll < 0.35 {
        excluded(
            "NEUTRAL",
            "Crawled - currently not indexed",
            "SUCCESSFUL",
            "INDEXING_ALLOWED",
            clock,
            h,
        )
    } else if roll < 0.6 {
        uncrawled("Discovered - currently not indexed")
    } else if roll < 0.75 {
        excluded(
            "FAIL",
            "Not found (404)",
            "NOT_FOUND",
            "INDEXING_STATE_UNSPECIFIED",
            clock,
            h,
        )
    } else if roll < 0.83 {
        excluded("FAIL", "Soft 404", "SOFT_404", "INDEXING_ALLOWED", clock, h)
    } else if roll < 0.9 {
        uncrawled("URL is unknown to Google")
    } else if roll < 0.95 {
        excluded(
            "FAIL",
            "Server error (5xx)",
            "SERVER_ERROR",
            "INDEXING_STATE_UNSPECIFIED",
            clock,
            h,
        )
    } else {
        excluded(
            "NEUTRAL",
            "Excluded by ‘noindex’ tag",
            "SUCCESSFUL",
            "BLOCKED_BY_META_TAG",
            clock,
            h,
        )
    };
    (s, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsc::site::{Property, build};

    fn site() -> SiteInfo {
        let url = "sc-domain:acme-shop.example";
        build(url, Property::parse(url).unwrap(), None, None)
    }

    fn clock() -> Clock {
        Clock {
            today: chrono::NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(),
            minute_of_day: 720,
        }
    }

    fn status(s: &SiteInfo, url: &str) -> serde_json::Value {
        let r = inspect(s, &url::Url::parse(url).unwrap(), clock());
        serde_json::to_value(r).unwrap()["inspectionResult"].clone()
    }

    #[test]
    fn verdicts_follow_the_url() {
        let s = site();
        let home = status(&s, "https://www.acme-shop.example/");
        assert_eq!(home["indexStatusResult"]["verdict"], "PASS");
        assert_eq!(
            home["indexStatusResult"]["coverageState"],
            "Submitted and indexed"
        );
        assert_eq!(home["indexStatusResult"]["crawledAs"], "MOBILE");
        assert_eq!(
            home["mobileUsabilityResult"]["verdict"],
            "VERDICT_UNSPECIFIED"
        );
        assert!(home.get("richResultsResult").is_none());
        assert!(
            home["inspectionResultLink"]
                .as_str()
                .unwrap()
                .starts_with("https://search.google.com/search-console/inspect?resource_id=sc-domain%3Aacme-shop.example&id=")
        );
        let cart = status(&s, "https://www.acme-shop.example/cart");
        assert_eq!(cart["indexStatusResult"]["robotsTxtState"], "DISALLOWED");
        let http = status(&s, "http://www.acme-shop.example/");
        assert_eq!(
            http["indexStatusResult"]["coverageState"],
            "Page with redirect"
        );
        let search = status(&s, "https://www.acme-shop.example/search");
        assert_eq!(
            search["indexStatusResult"]["indexingState"],
            "BLOCKED_BY_META_TAG"
        );
        // Unknown URLs get a realistic mix.
        let mut states = std::collections::HashSet::new();
        for i in 0..200 {
            let v = status(&s, &format!("https://www.acme-shop.example/old-page-{i}"));
            states.insert(
                v["indexStatusResult"]["coverageState"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        assert!(states.len() >= 6, "{states:?}");
        // Deterministic.
        assert_eq!(
            status(&s, "https://www.acme-shop.example/x"),
            status(&s, "https://www.acme-shop.example/x")
        );
        assert!(valid_language("en-US") && valid_language("zh-Hant-TW") && !valid_language("e"));
    }
}
