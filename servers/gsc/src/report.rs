//! What the tools return: the structured outputs and the compact text tables beside them.
//!
//! Only the row tools (`get_search_analytics`, `get_search_by_page_query`) publish an output
//! schema: theirs says what a reader could not guess (each row an array in `columns` order).
//! The other tools' structured content is a small summary or the API's own objects, whose keys
//! the result shows; their schemas typed little beyond those keys (untyped arrays and objects)
//! and were 3.1 KB of a 16.3 KB `tools/list` that must stay under half its Python peer's
//! (issue 15: 10.7 KB). A client still gets every result's `structuredContent`, and the types
//! here still say what it holds.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use mcp_common::output::{Table, number};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::AnalyticsResponse;
use crate::params::Dimension;

/// The metric columns of every searchAnalytics row, after its dimensions.
pub(crate) const METRICS: [&str; 4] = ["clicks", "impressions", "ctr", "position"];

/// `x` to `digits` decimals: Google sends position with 17 significant digits, of which no
/// reader needs more than two decimals.
fn round(x: f64, digits: i32) -> Value {
    let scale = 10f64.powi(digits);
    json!((x * scale).round() / scale)
}

/// `x` to 4 significant digits (ctr 0.3469 is 34.69 %, and 3 clicks in 80,000 impressions
/// stay 0.0000375, not 0).
fn significant(x: f64) -> Value {
    if x == 0.0 || !x.is_finite() {
        return json!(x);
    }
    let digits = 3 - x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    json!((x * scale).round() / scale)
}

/// A count as an integer when it is one (Google sends clicks and impressions as doubles).
fn count(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// A searchAnalytics row keyed by dimension name, with the four metrics.
pub(crate) fn row_map(dimensions: &[String], row: &crate::api::AnalyticsRow) -> Map<String, Value> {
    let mut m = Map::new();
    for (i, d) in dimensions.iter().enumerate() {
        m.insert(
            d.clone(),
            Value::String(row.keys.get(i).cloned().unwrap_or_default()),
        );
    }
    m.insert("clicks".into(), count(row.clicks));
    m.insert("impressions".into(), count(row.impressions));
    m.insert("ctr".into(), significant(row.ctr));
    m.insert("position".into(), round(row.position, 2));
    m
}

pub(crate) fn metrics_table(dimensions: &[String], rows: &[Map<String, Value>]) -> Table {
    let mut headers: Vec<String> = dimensions.to_vec();
    headers.extend(["clicks", "impressions", "ctr%", "position"].map(String::from));
    let mut t = Table::new(headers);
    for r in rows {
        let mut cells: Vec<String> = dimensions
            .iter()
            .map(|d| r.get(d).and_then(Value::as_str).unwrap_or("").to_owned())
            .collect();
        let n = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        cells.push(number(n("clicks")));
        cells.push(number(n("impressions")));
        cells.push(format!("{:.2}", n("ctr") * 100.0));
        cells.push(number(n("position")));
        t.push(cells);
    }
    t
}

/// A page of search analytics: the one output whose schema is published (see the module
/// documentation). Its fields are described only where name and type do not say enough (the
/// shape of `rows`, units, when a field is absent); `//` comments are for this code's readers.
#[derive(Debug, Serialize, JsonSchema)]
#[allow(missing_docs)]
pub struct AnalyticsOutput {
    pub site_url: String,
    // Resolved to YYYY-MM-DD.
    pub start_date: String,
    pub end_date: String,
    /// The grouping dimensions, then clicks, impressions, ctr (0–1) and position.
    pub columns: Vec<String>,
    /// Each row an array in `columns` order, by clicks.
    pub rows: Vec<Vec<Value>>,
    pub start_row: u64,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start_row: Option<u64>,
    // How Google aggregated (`byProperty`, `byPage`), and its fresh-data notes
    // (`first_incomplete_date`, with data_state `all`): sent when Google sends them, left out of
    // the schema, which could type neither beyond "string" and "anything".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub aggregation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub metadata: Option<Value>,
}

/// Properties the credentials can read.
#[derive(Debug, Serialize)]
pub struct SitesOutput {
    /// The properties, with the permission level.
    pub sites: Vec<Value>,
}

/// One property.
#[derive(Debug, Serialize)]
pub struct SiteOutput {
    /// The property.
    pub site_url: String,
    /// `siteOwner`, `siteFullUser`, `siteRestrictedUser`, `siteUnverifiedUser`.
    pub permission_level: String,
    /// Sitemaps submitted for it.
    pub sitemaps: usize,
}

/// Totals and the daily trend.
#[derive(Debug, Serialize)]
pub struct OverviewOutput {
    /// The property.
    pub site_url: String,
    /// First day.
    pub start_date: String,
    /// Last day.
    pub end_date: String,
    /// Clicks, impressions, ctr, position over the whole range.
    pub totals: Map<String, Value>,
    /// One row per day.
    pub daily: Vec<Map<String, Value>>,
}

/// Two periods compared.
#[derive(Debug, Serialize)]
pub struct CompareOutput {
    /// The property.
    pub site_url: String,
    /// The dimension compared.
    pub dimension: String,
    /// Earlier period: dates and totals.
    pub period_a: Value,
    /// Later period: dates and totals.
    pub period_b: Value,
    /// Keys with the biggest click change first; `clicks_change` = b − a.
    pub movers: Vec<Value>,
}

/// URL inspection results.
#[derive(Debug, Serialize)]
pub struct InspectionsOutput {
    /// The property.
    pub site_url: String,
    /// One entry per URL: the index status (verdict, coverage, crawl) or the error.
    pub results: Vec<Value>,
    /// Count per verdict (PASS, NEUTRAL, FAIL, PARTIAL, ERROR).
    pub summary: BTreeMap<String, usize>,
}

/// One inspection.
#[derive(Debug, Serialize)]
pub struct InspectOutput {
    /// The property.
    pub site_url: String,
    /// The URL.
    pub url: String,
    /// Index status, mobile usability and rich results, as the API reports them.
    pub inspection: Value,
}

/// Indexing problems found.
#[derive(Debug, Serialize)]
pub struct IssuesOutput {
    /// The property.
    pub site_url: String,
    /// URLs checked.
    pub checked: usize,
    /// URLs not indexed or at risk, with the coverage state and what to do.
    pub issues: Vec<Value>,
}

/// Sitemaps.
#[derive(Debug, Serialize)]
pub struct SitemapsOutput {
    /// The property.
    pub site_url: String,
    /// Sitemaps as the API reports them (path, type, lastSubmitted, lastDownloaded, isPending,
    /// warnings, errors, contents).
    pub sitemaps: Vec<Value>,
}

pub(crate) fn inspection_summary(url: &str, inspection: &Value) -> Value {
    let r = &inspection["inspectionResult"];
    let s = &r["indexStatusResult"];
    json!({
        "url": url,
        "verdict": s["verdict"],
        "coverage_state": s["coverageState"],
        "indexing_state": s["indexingState"],
        "robots_txt_state": s["robotsTxtState"],
        "page_fetch_state": s["pageFetchState"],
        "last_crawl_time": s["lastCrawlTime"],
        "google_canonical": s["googleCanonical"],
        "user_canonical": s["userCanonical"],
        "crawled_as": s["crawledAs"],
        "mobile_usability": r["mobileUsabilityResult"]["verdict"],
        "rich_results": r["richResultsResult"]["verdict"],
        "link": r["inspectionResultLink"],
    })
}

/// What a coverage state means for the shop, and what to do.
pub(crate) fn advice(coverage: &str) -> &'static str {
    let c = coverage.to_ascii_lowercase();
    if c.contains("noindex") {
        "A noindex tag or header keeps it out of Google: remove it if the page should rank."
    } else if c.contains("robots") {
        "robots.txt blocks Googlebot: allow the path if the page should be indexed."
    } else if c.contains("404") || c.contains("not found") {
        "Google gets 404: restore the page, redirect it, or drop it from sitemaps and links."
    } else if c.contains("soft 404") {
        "The page looks empty or like an error: add real content or return 404/410."
    } else if c.contains("redirect") {
        "The URL redirects: link and list the final URL instead."
    } else if c.contains("crawled") {
        "Crawled but not indexed: usually thin or duplicate content; improve it and link to it internally."
    } else if c.contains("discovered") {
        "Known but not crawled yet: improve internal links, keep it in the sitemap, check crawl budget."
    } else if c.contains("canonical") || c.contains("duplicate") {
        "Google chose another canonical: check rel=canonical and consolidate duplicates."
    } else {
        "Inspect the page in Search Console for details."
    }
}

pub(crate) fn sitemap_table(list: &[Value]) -> Table {
    let mut t = Table::new([
        "path",
        "type",
        "last_downloaded",
        "pending",
        "warnings",
        "errors",
    ]);
    for s in list {
        let text = |k: &str| {
            s[k].as_str().map(str::to_owned).unwrap_or_else(|| {
                if s[k].is_null() {
                    String::new()
                } else {
                    s[k].to_string()
                }
            })
        };
        t.push([
            text("path"),
            text("type"),
            text("lastDownloaded"),
            text("isPending"),
            text("warnings"),
            text("errors"),
        ]);
    }
    t
}

pub(crate) fn summarise(results: &[Value]) -> (BTreeMap<String, usize>, String) {
    let mut summary = BTreeMap::new();
    let mut t = Table::new(["url", "verdict", "coverage_state", "last_crawl_time"]);
    for r in results {
        let verdict = r["verdict"].as_str().unwrap_or("ERROR").to_owned();
        *summary.entry(verdict.clone()).or_insert(0) += 1;
        t.push([
            r["url"].as_str().unwrap_or("").to_owned(),
            verdict,
            r["coverage_state"]
                .as_str()
                .or_else(|| r["error"].as_str())
                .unwrap_or("")
                .to_owned(),
            r["last_crawl_time"].as_str().unwrap_or("").to_owned(),
        ]);
    }
    let counts: Vec<String> = summary.iter().map(|(k, v)| format!("{k} {v}")).collect();
    (
        summary,
        format!(
            "{} URL(s): {}\n{}",
            results.len(),
            counts.join(", "),
            t.render()
        ),
    )
}

/// `get_performance_overview`: the period's totals and its days in order, with their text.
pub fn overview(
    site: String,
    (start, end): (NaiveDate, NaiveDate),
    totals: &AnalyticsResponse,
    daily: &AnalyticsResponse,
) -> (OverviewOutput, String) {
    let totals = totals
        .rows
        .first()
        .map(|r| row_map(&[], r))
        .unwrap_or_default();
    let dims = vec!["date".to_owned()];
    let mut daily: Vec<Map<String, Value>> = daily.rows.iter().map(|r| row_map(&dims, r)).collect();
    daily.sort_by(|a, b| {
        a.get("date")
            .and_then(Value::as_str)
            .cmp(&b.get("date").and_then(Value::as_str))
    });
    let n = |k: &str| totals.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let mut text = format!(
        "{site} {start}..{end}: {} clicks, {} impressions, CTR {:.2}%, avg position {}\nDaily:\n",
        number(n("clicks")),
        number(n("impressions")),
        n("ctr") * 100.0,
        number(n("position"))
    );
    text.push_str(&metrics_table(&dims, &daily).render());
    (
        OverviewOutput {
            site_url: site,
            start_date: start.to_string(),
            end_date: end.to_string(),
            totals,
            daily,
        },
        text,
    )
}

/// One side of a comparison: its dates, its totals and its rows by the compared dimension.
pub struct Period<'a> {
    /// First and last day.
    pub dates: (NaiveDate, NaiveDate),
    /// The answer without dimensions (one row of totals).
    pub totals: &'a AnalyticsResponse,
    /// The answer by the compared dimension.
    pub rows: &'a AnalyticsResponse,
}

/// `compare_search_periods`: each period's totals and the `limit` biggest movers by click
/// change (keys that appeared are `new`, those that vanished `gone`), with their text.
pub fn comparison(
    site: String,
    dimension: Dimension,
    a: Period<'_>,
    b: Period<'_>,
    limit: usize,
) -> (CompareOutput, String) {
    let index = |r: &AnalyticsResponse| -> HashMap<String, crate::api::AnalyticsRow> {
        r.rows
            .iter()
            .map(|row| (row.keys.first().cloned().unwrap_or_default(), row.clone()))
            .collect()
    };
    let (ia, ib) = (index(a.rows), index(b.rows));
    let mut keys: Vec<&String> = ia.keys().chain(ib.keys()).collect();
    keys.sort();
    keys.dedup();
    let zero = crate::api::AnalyticsRow::default();
    let mut movers: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            let (x, y) = (ia.get(k).unwrap_or(&zero), ib.get(k).unwrap_or(&zero));
            json!({
                dimension.as_str(): k,
                "clicks_a": count(x.clicks), "clicks_b": count(y.clicks),
                "clicks_change": count(y.clicks - x.clicks),
                "impressions_a": count(x.impressions), "impressions_b": count(y.impressions),
                "position_a": round(x.position, 2), "position_b": round(y.position, 2),
                "status": if !ia.contains_key(k) { "new" } else if !ib.contains_key(k) { "gone" } else { "both" },
            })
        })
        .collect();
    movers.sort_by(|m, n| {
        let c = |v: &Value| v["clicks_change"].as_f64().unwrap_or(0.0).abs();
        c(n).total_cmp(&c(m))
    });
    movers.truncate(limit);
    let total = |r: &AnalyticsResponse, (s, e): (NaiveDate, NaiveDate)| {
        let t = r.rows.first().map(|x| row_map(&[], x)).unwrap_or_default();
        json!({"start_date": s.to_string(), "end_date": e.to_string(), "totals": t})
    };
    let (pa, pb) = (total(a.totals, a.dates), total(b.totals, b.dates));
    let clicks = |v: &Value| v["totals"]["clicks"].as_f64().unwrap_or(0.0);
    let change = clicks(&pb) - clicks(&pa);
    let pct = if clicks(&pa) > 0.0 {
        format!(" ({:+.1}%)", change / clicks(&pa) * 100.0)
    } else {
        String::new()
    };
    let mut t = Table::new([
        dimension.as_str(),
        "clicks_a",
        "clicks_b",
        "change",
        "pos_a",
        "pos_b",
        "status",
    ]);
    for m in &movers {
        let f = |k: &str| m[k].as_f64().unwrap_or(0.0);
        t.push([
            m[dimension.as_str()].as_str().unwrap_or("").to_owned(),
            number(f("clicks_a")),
            number(f("clicks_b")),
            format!("{:+}", f("clicks_change")),
            format!("{:.1}", f("position_a")),
            format!("{:.1}", f("position_b")),
            m["status"].as_str().unwrap_or("").to_owned(),
        ]);
    }
    let text = format!(
        "{site}: clicks {} ({}..{}) → {} ({}..{}), {:+}{pct}\nBiggest movers by {}:\n{}",
        number(clicks(&pa)),
        a.dates.0,
        a.dates.1,
        number(clicks(&pb)),
        b.dates.0,
        b.dates.1,
        change,
        dimension.as_str(),
        t.render()
    );
    (
        CompareOutput {
            site_url: site,
            dimension: dimension.as_str().into(),
            period_a: pa,
            period_b: pb,
            movers,
        },
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctr_keeps_four_significant_digits_and_position_two_decimals() {
        assert_eq!(significant(0.346905988), json!(0.3469));
        assert_eq!(significant(3.0 / 80_000.0), json!(0.0000375));
        assert_eq!(significant(0.0), json!(0.0));
        assert_eq!(round(1.54795900126288, 2), json!(1.55));
        assert_eq!(count(6262.0), json!(6262));
    }
}
