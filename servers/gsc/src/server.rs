//! `GscServer`: the Search Console tools. Each checks its arguments, calls the typed client
//! ([`crate::api`]) and shapes a structured result plus a compact text table.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use futures::StreamExt;
use mcp_common::credentials::TokenProvider;
use mcp_common::error::UpstreamError;
use mcp_common::output::{self, Table, number};
use mcp_common::params::Parameters;
use mcp_common::scope::{self, AccountKind};
use mcp_common::{LazyRouter, Provider, ToolServer};
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::{AnalyticsQuery, AnalyticsResponse, GscApi};
use crate::dates;
use crate::params::{
    BatchInspectParams, CompareParams, Dimension, Filter, IndexingIssuesParams, InspectParams,
    Operator, OverviewParams, PageQueryParams, SearchAnalyticsParams, SiteParams, SitemapParams,
};

const SERVICE: &str = "Search Console";
const SITE: AccountKind = AccountKind {
    service: SERVICE,
    noun: "Search Console property",
    provider: Provider::Gsc,
};
const DEFAULT_ROWS: u32 = 100;
const MAX_ROWS: u32 = 25_000;
const MAX_BATCH: usize = 50;
/// Inspections in flight at once (the API allows 600 a minute per property).
const INSPECT_CONCURRENCY: usize = 5;

type ToolResult = Result<CallToolResult, ErrorData>;

/// The Search Console MCP server.
#[derive(Clone)]
pub struct GscServer {
    inner: Arc<Inner>,
    router: LazyRouter<Self>,
}

struct Inner {
    api: GscApi,
    default_site: Option<String>,
    tokens: Arc<TokenProvider>,
    tenant: String,
    /// A fixed "today" for reproducible runs (tests against the sandbox); None = real clock.
    today: Option<NaiveDate>,
}

fn fail(message: impl Into<String>) -> ToolResult {
    Ok(output::error(message))
}

/// Why `url` cannot be inspected in the property `site`, if it cannot: Google answers such a
/// request with a 403 that reads like missing access. A domain property (`sc-domain:`) holds its
/// domain and every subdomain over http and https; a URL-prefix property holds what starts with
/// its prefix.
fn outside_property(site: &str, url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok();
    let inside = match (site.strip_prefix("sc-domain:"), &parsed) {
        (_, None) => false,
        (Some(domain), Some(u)) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| {
                    let h = h.to_ascii_lowercase();
                    h == domain || h.ends_with(&format!(".{domain}"))
                })
        }
        (None, Some(u)) => url::Url::parse(site)
            .ok()
            .is_some_and(|prefix| u.as_str().starts_with(prefix.as_str())),
    };
    (!inside).then(|| {
        format!(
            "{url} is not part of the Search Console property {site}: a property inspects only its own URLs (sc-domain: covers the domain and its subdomains; a URL-prefix property only URLs under its prefix). Pass a full URL under {site}."
        )
    })
}

/// Checks a property's spelling; the API treats `http://`/`https://`, `www.` and the trailing
/// slash as different properties, so guessing would read the wrong one.
fn check_site(site: &str) -> Result<String, String> {
    let s = site.trim();
    if let Some(domain) = s.strip_prefix("sc-domain:") {
        if domain.is_empty() || domain.contains('/') {
            return Err(format!(
                "site_url {site:?}: a domain property is sc-domain:example.com (no scheme, no path)"
            ));
        }
        return Ok(s.to_owned());
    }
    if s.starts_with("https://") || s.starts_with("http://") {
        if !s.ends_with('/') {
            return Err(format!(
                "site_url {site:?}: a URL-prefix property ends with '/' exactly as registered, e.g. {s}/ (call list_properties to see the exact spelling)"
            ));
        }
        return Ok(s.to_owned());
    }
    Err(format!(
        "site_url {site:?} is not a Search Console property: use sc-domain:{site} (domain property) or https://{site}/ (URL prefix); list_properties shows the exact spelling"
    ))
}

fn row_limit(given: Option<u32>) -> Result<u32, String> {
    match given {
        None => Ok(DEFAULT_ROWS),
        Some(0) => Err("row_limit must be at least 1".into()),
        Some(n) if n > MAX_ROWS => Err(format!(
            "row_limit {n} is above the API's maximum of {MAX_ROWS}; page with start_row"
        )),
        Some(n) => Ok(n),
    }
}

fn filter_groups(filters: &[Filter]) -> Vec<Value> {
    if filters.is_empty() {
        return Vec::new();
    }
    let list: Vec<Value> = filters
        .iter()
        .map(|f| {
            json!({
                "dimension": f.dimension.as_str(),
                "operator": serde_json::to_value(f.operator.unwrap_or(Operator::Contains)).unwrap_or(Value::Null),
                "expression": f.expression,
            })
        })
        .collect();
    vec![json!({ "groupType": "and", "filters": list })]
}

fn enum_str<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// A searchAnalytics row keyed by dimension name, with the four metrics.
fn row_map(dimensions: &[String], row: &crate::api::AnalyticsRow) -> Map<String, Value> {
    let mut m = Map::new();
    for (i, d) in dimensions.iter().enumerate() {
        m.insert(
            d.clone(),
            Value::String(row.keys.get(i).cloned().unwrap_or_default()),
        );
    }
    m.insert("clicks".into(), json!(row.clicks));
    m.insert("impressions".into(), json!(row.impressions));
    m.insert("ctr".into(), json!(row.ctr));
    m.insert("position".into(), json!(row.position));
    m
}

fn metrics_table(dimensions: &[String], rows: &[Map<String, Value>]) -> Table {
    let mut headers: Vec<String> = dimensions.to_vec();
    headers.extend(["clicks", "impressions", "ctr", "position"].map(String::from));
    let mut t = Table::new(headers);
    for r in rows {
        let mut cells: Vec<String> = dimensions
            .iter()
            .map(|d| r.get(d).and_then(Value::as_str).unwrap_or("").to_owned())
            .collect();
        let n = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        cells.push(number(n("clicks")));
        cells.push(number(n("impressions")));
        cells.push(format!("{:.2}%", n("ctr") * 100.0));
        cells.push(format!("{:.1}", n("position")));
        t.push(cells);
    }
    t
}

/// A page of search analytics.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AnalyticsOutput {
    /// The property.
    pub site_url: String,
    /// First day (resolved, YYYY-MM-DD).
    pub start_date: String,
    /// Last day (resolved).
    pub end_date: String,
    /// Grouping dimensions, in order.
    pub dimensions: Vec<String>,
    /// Rows: dimension values by name, then clicks, impressions, ctr (0–1), position.
    pub rows: Vec<Map<String, Value>>,
    /// Index of the first row of this page.
    pub start_row: u64,
    /// `start_row` for the next page; absent when this page is the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start_row: Option<u64>,
    /// How Google aggregated (`byProperty`, `byPage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<String>,
    /// Fresh-data notes (`first_incomplete_date`), with data_state `all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// Properties the credentials can read.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SitesOutput {
    /// The properties, with the permission level.
    pub sites: Vec<Value>,
}

/// One property.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SiteOutput {
    /// The property.
    pub site_url: String,
    /// `siteOwner`, `siteFullUser`, `siteRestrictedUser`, `siteUnverifiedUser`.
    pub permission_level: String,
    /// Sitemaps submitted for it.
    pub sitemaps: usize,
}

/// Totals and the daily trend.
#[derive(Debug, Serialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct InspectionsOutput {
    /// The property.
    pub site_url: String,
    /// One entry per URL: the index status (verdict, coverage, crawl) or the error.
    pub results: Vec<Value>,
    /// Count per verdict (PASS, NEUTRAL, FAIL, PARTIAL, ERROR).
    pub summary: BTreeMap<String, usize>,
}

/// One inspection.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InspectOutput {
    /// The property.
    pub site_url: String,
    /// The URL.
    pub url: String,
    /// Index status, mobile usability and rich results, as the API reports them.
    pub inspection: Value,
}

/// Indexing problems found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IssuesOutput {
    /// The property.
    pub site_url: String,
    /// URLs checked.
    pub checked: usize,
    /// URLs not indexed or at risk, with the coverage state and what to do.
    pub issues: Vec<Value>,
}

/// Sitemaps.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SitemapsOutput {
    /// The property.
    pub site_url: String,
    /// Sitemaps as the API reports them (path, type, lastSubmitted, lastDownloaded, isPending,
    /// warnings, errors, contents).
    pub sitemaps: Vec<Value>,
}

fn inspection_summary(url: &str, inspection: &Value) -> Value {
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
fn advice(coverage: &str) -> &'static str {
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

impl GscServer {
    /// A server over `api`; `default_site` is used when a call gives none.
    pub fn new(
        api: GscApi,
        default_site: Option<String>,
        tokens: Arc<TokenProvider>,
        tenant: String,
        today: Option<NaiveDate>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                default_site,
                tokens,
                tenant,
                today,
            }),
            router: LazyRouter::new(Self::tool_router),
        }
    }

    /// The property of a call: its argument, else `--site-url`, else the shop's from the broker.
    /// Under a lease, the shop's property is the only one.
    async fn site(&self, given: Option<&str>) -> Result<String, String> {
        let requested = given.or(self.inner.default_site.as_deref());
        scope::resolve(&self.inner.tokens, SITE, requested, check_site)
            .await?
            .ok_or_else(|| "site_url is required: this server has no default property. Call list_properties to see the properties you can access.".into())
    }

    fn today(&self) -> NaiveDate {
        dates::pacific_today(self.inner.today)
    }

    fn explain(&self, err: &UpstreamError, site: Option<&str>) -> String {
        let Some(api) = err.api() else {
            return err.explain(SERVICE);
        };
        let target = site
            .map(|s| format!("property {s}"))
            .unwrap_or_else(|| "this account".into());
        match api.http_status.as_u16() {
            // Quotas and a disabled API come as 403 too: they are not a missing access.
            403 if api.reason.as_deref() == Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT")
                || api.is_quota()
                || api.is_service_disabled() =>
            {
                err.explain(SERVICE)
            }
            403 => format!(
                "No access to Search Console {target}: {} Call list_properties to see the properties these credentials can read.",
                api.message
            ),
            404 => format!(
                "Search Console found no such resource for {target} ({}).",
                api.message
            ),
            400 => format!("Search Console rejected the request: {}", api.message),
            _ => err.explain(SERVICE),
        }
    }

    fn upstream_error(&self, err: UpstreamError, site: Option<&str>) -> ToolResult {
        tracing::info!(error = %err, "upstream call failed");
        fail(self.explain(&err, site))
    }

    async fn analytics(&self, site: &str, q: &AnalyticsQuery) -> Result<AnalyticsResponse, String> {
        self.inner
            .api
            .query(site, q)
            .await
            .map_err(|e| self.explain(&e, Some(site)))
    }
}

#[tool_router]
impl GscServer {
    /// List the Search Console properties these credentials can read (URL-prefix properties
    /// like `https://www.example.com/` and domain properties like `sc-domain:example.com`), with
    /// the permission level. Start here when you do not know the exact property spelling.
    #[tool(
        annotations(title = "List Search Console properties", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<SitesOutput>()
    )]
    async fn list_properties(&self) -> ToolResult {
        let shop = match scope::shop_account(&self.inner.tokens, SITE).await {
            Ok(shop) => shop,
            Err(e) => return fail(e),
        };
        let mut sites = match self.inner.api.sites().await {
            Ok(s) => s,
            Err(e) => return self.upstream_error(e, None),
        };
        // Under a lease, only the shop's own property is listed.
        if let Some(shop) = &shop {
            sites.retain(|s| s.site_url == shop.trim());
        }
        let mut t = Table::new(["site_url", "permission_level"]);
        for s in &sites {
            t.push([s.site_url.as_str(), &s.permission_level]);
        }
        let mut text = format!("{} propert(ies):\n{}", sites.len(), t.render());
        if let Some(d) = &self.inner.default_site {
            text.push_str(&format!("Default property of this server: {d}.\n"));
        }
        if let Some(s) = &shop {
            text.push_str(&format!(
                "This server serves one shop: only its property {s} is listed and readable.\n"
            ));
        }
        let sites = sites
            .iter()
            .map(|s| json!({"site_url": s.site_url, "permission_level": s.permission_level}))
            .collect();
        Ok(output::success(&SitesOutput { sites }, text))
    }

    /// Details of one Search Console property: the exact property URL, your permission level
    /// and how many sitemaps are submitted.
    #[tool(
        annotations(title = "Get Search Console property details", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<SiteOutput>()
    )]
    async fn get_site_details(&self, Parameters(p): Parameters<SiteParams>) -> ToolResult {
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let (entry, sitemaps) =
            tokio::join!(self.inner.api.site(&site), self.inner.api.sitemaps(&site));
        let entry = match entry {
            Ok(e) => e,
            Err(e) => return self.upstream_error(e, Some(&site)),
        };
        let sitemaps = sitemaps.map(|s| s.len()).unwrap_or(0);
        let text = format!(
            "{}\npermission: {}\nsitemaps submitted: {sitemaps}\n",
            entry.site_url, entry.permission_level
        );
        Ok(output::success(
            &SiteOutput {
                site_url: entry.site_url,
                permission_level: entry.permission_level,
                sitemaps,
            },
            text,
        ))
    }

    /// Google Search performance (Search Console searchAnalytics): clicks, impressions, CTR and
    /// average position, grouped by any of query, page, country, device, date,
    /// searchAppearance, with filters (e.g. country equals `pol`, query contains `shoes`,
    /// page includingRegex). Dates: YYYY-MM-DD or relative (`28daysAgo`, `yesterday`), Pacific
    /// time; settled data lags 2–3 days (`data_state: all` includes fresh data). Results come in
    /// pages (default 100 rows, up to 25000): follow `next_start_row`. Rows are sorted by clicks.
    #[tool(
        annotations(title = "Search analytics", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<AnalyticsOutput>()
    )]
    async fn get_search_analytics(
        &self,
        Parameters(p): Parameters<SearchAnalyticsParams>,
    ) -> ToolResult {
        let (start, end) = match dates::range(&p.start_date, &p.end_date, self.today()) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let limit = match row_limit(p.row_limit) {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let dimensions: Vec<String> = p.dimensions.iter().map(|d| d.as_str().to_owned()).collect();
        let start_row = p.start_row.unwrap_or(0);
        let q = AnalyticsQuery {
            start_date: start.to_string(),
            end_date: end.to_string(),
            dimensions: dimensions.clone(),
            search_type: p.search_type.as_ref().and_then(enum_str),
            dimension_filter_groups: filter_groups(&p.filters),
            aggregation_type: p.aggregation_type.as_ref().and_then(enum_str),
            row_limit: limit,
            start_row,
            data_state: p.data_state.as_ref().and_then(enum_str),
        };
        let r = match self.analytics(&site, &q).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let rows: Vec<Map<String, Value>> =
            r.rows.iter().map(|row| row_map(&dimensions, row)).collect();
        let next_start_row =
            (rows.len() as u64 == u64::from(limit)).then_some(start_row + rows.len() as u64);
        let mut text = if rows.is_empty() {
            format!("{site} {start}..{end}: no rows (start_row {start_row}).\n")
        } else {
            format!(
                "{site} {start}..{end}: rows {}–{}\n",
                start_row + 1,
                start_row + rows.len() as u64
            )
        };
        text.push_str(&metrics_table(&dimensions, &rows).render());
        if let Some(m) = r.metadata.as_ref().and_then(|m| {
            m.get("first_incomplete_date")
                .or_else(|| m.get("firstIncompleteDate"))
        }) {
            text.push_str(&format!(
                "Data from {} on is still incomplete.\n",
                m.as_str().unwrap_or("")
            ));
        }
        if let Some(next) = next_start_row {
            text.push_str(&format!(
                "More rows may exist: call again with start_row={next}.\n"
            ));
        }
        let out = AnalyticsOutput {
            site_url: site,
            start_date: start.to_string(),
            end_date: end.to_string(),
            dimensions,
            rows,
            start_row,
            next_start_row,
            aggregation: r.response_aggregation_type,
            metadata: r.metadata,
        };
        Ok(output::success(&out, text))
    }

    /// Search performance at a glance: total clicks, impressions, CTR and average position
    /// over a date range (default the last 30 days), and the daily trend.
    #[tool(
        annotations(title = "Search performance overview", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<OverviewOutput>()
    )]
    async fn get_performance_overview(
        &self,
        Parameters(p): Parameters<OverviewParams>,
    ) -> ToolResult {
        let start = p.start_date.as_deref().unwrap_or("30daysAgo");
        let end = p.end_date.as_deref().unwrap_or("yesterday");
        let (start, end) = match dates::range(start, end, self.today()) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let base = AnalyticsQuery {
            start_date: start.to_string(),
            end_date: end.to_string(),
            search_type: p.search_type.as_ref().and_then(enum_str),
            data_state: p.data_state.as_ref().and_then(enum_str),
            row_limit: MAX_ROWS,
            ..AnalyticsQuery::default()
        };
        let daily_q = AnalyticsQuery {
            dimensions: vec!["date".into()],
            ..base.clone()
        };
        let (totals, daily) = tokio::join!(
            self.analytics(&site, &base),
            self.analytics(&site, &daily_q)
        );
        let (totals, daily) = match (totals, daily) {
            (Ok(t), Ok(d)) => (t, d),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        let totals = totals
            .rows
            .first()
            .map(|r| row_map(&[], r))
            .unwrap_or_default();
        let dims = vec!["date".to_owned()];
        let mut daily: Vec<Map<String, Value>> =
            daily.rows.iter().map(|r| row_map(&dims, r)).collect();
        daily.sort_by(|a, b| {
            a.get("date")
                .and_then(Value::as_str)
                .cmp(&b.get("date").and_then(Value::as_str))
        });
        let n = |k: &str| totals.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let mut text = format!(
            "{site} {start}..{end}: {} clicks, {} impressions, CTR {:.2}%, avg position {:.1}\nDaily:\n",
            number(n("clicks")),
            number(n("impressions")),
            n("ctr") * 100.0,
            n("position")
        );
        text.push_str(&metrics_table(&dims, &daily).render());
        Ok(output::success(
            &OverviewOutput {
                site_url: site,
                start_date: start.to_string(),
                end_date: end.to_string(),
                totals,
                daily,
            },
            text,
        ))
    }

    /// Compare two date ranges (e.g. the last 28 days against the 28 before) by query, page,
    /// country or device: totals for each period and the biggest movers by click change,
    /// including keys that appeared or vanished. Use it to explain a traffic drop or gain.
    #[tool(
        annotations(title = "Compare search periods", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<CompareOutput>()
    )]
    async fn compare_search_periods(&self, Parameters(p): Parameters<CompareParams>) -> ToolResult {
        let today = self.today();
        let (a, b) = match (
            dates::range(&p.period_a.start_date, &p.period_a.end_date, today),
            dates::range(&p.period_b.start_date, &p.period_b.end_date, today),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) => return fail(format!("period_a: {e}")),
            (_, Err(e)) => return fail(format!("period_b: {e}")),
        };
        let limit = p.limit.unwrap_or(25).clamp(1, 500) as usize;
        let dimension = p.dimension.unwrap_or(Dimension::Query);
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let q = |(s, e): (NaiveDate, NaiveDate), dims: Vec<String>| AnalyticsQuery {
            start_date: s.to_string(),
            end_date: e.to_string(),
            dimensions: dims,
            search_type: p.search_type.as_ref().and_then(enum_str),
            row_limit: MAX_ROWS,
            ..AnalyticsQuery::default()
        };
        let dims = vec![dimension.as_str().to_owned()];
        let (qa, qb, qda, qdb) = (
            q(a, vec![]),
            q(b, vec![]),
            q(a, dims.clone()),
            q(b, dims.clone()),
        );
        let (ta, tb, ra, rb) = tokio::join!(
            self.analytics(&site, &qa),
            self.analytics(&site, &qb),
            self.analytics(&site, &qda),
            self.analytics(&site, &qdb)
        );
        let (ta, tb, ra, rb) = match (ta, tb, ra, rb) {
            (Ok(ta), Ok(tb), Ok(ra), Ok(rb)) => (ta, tb, ra, rb),
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return fail(e),
        };
        let index = |r: &AnalyticsResponse| -> HashMap<String, crate::api::AnalyticsRow> {
            r.rows
                .iter()
                .map(|row| (row.keys.first().cloned().unwrap_or_default(), row.clone()))
                .collect()
        };
        let (ia, ib) = (index(&ra), index(&rb));
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
                    "clicks_a": x.clicks, "clicks_b": y.clicks, "clicks_change": y.clicks - x.clicks,
                    "impressions_a": x.impressions, "impressions_b": y.impressions,
                    "position_a": x.position, "position_b": y.position,
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
        let (pa, pb) = (total(&ta, a), total(&tb, b));
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
            a.0,
            a.1,
            number(clicks(&pb)),
            b.0,
            b.1,
            change,
            dimension.as_str(),
            t.render()
        );
        Ok(output::success(
            &CompareOutput {
                site_url: site,
                dimension: dimension.as_str().into(),
                period_a: pa,
                period_b: pb,
                movers,
            },
            text,
        ))
    }

    /// Queries that bring traffic to one page (give `page_url`), or every page × query pair.
    /// Paged like get_search_analytics (`next_start_row`).
    #[tool(
        annotations(title = "Search queries by page", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<AnalyticsOutput>()
    )]
    async fn get_search_by_page_query(
        &self,
        Parameters(p): Parameters<PageQueryParams>,
    ) -> ToolResult {
        let (dimensions, filters) = match &p.page_url {
            Some(page) => (
                vec![Dimension::Query],
                vec![Filter {
                    dimension: Dimension::Page,
                    operator: Some(Operator::Equals),
                    expression: page.clone(),
                }],
            ),
            None => (vec![Dimension::Page, Dimension::Query], vec![]),
        };
        let params = SearchAnalyticsParams {
            site_url: p.site_url,
            start_date: p.start_date,
            end_date: p.end_date,
            dimensions,
            search_type: None,
            filters,
            aggregation_type: None,
            data_state: None,
            row_limit: p.row_limit,
            start_row: p.start_row,
        };
        self.get_search_analytics(Parameters(params)).await
    }

    /// Inspect one URL with Google's URL Inspection API: whether it is indexed (verdict,
    /// coverage state such as "Submitted and indexed" or "Crawled - currently not indexed"),
    /// robots.txt and noindex status, last crawl, Google's and the declared canonical, mobile
    /// usability and rich results.
    #[tool(
        annotations(title = "Inspect a URL", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<InspectOutput>()
    )]
    async fn inspect_url(&self, Parameters(p): Parameters<InspectParams>) -> ToolResult {
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        if let Some(why) = outside_property(&site, &p.url) {
            return fail(why);
        }
        let inspection = match self
            .inner
            .api
            .inspect(&site, p.url.trim(), p.language_code.as_deref())
            .await
        {
            Ok(i) => i,
            Err(e) => return self.upstream_error(e, Some(&site)),
        };
        let s = inspection_summary(&p.url, &inspection);
        let mut t = Table::new(["field", "value"]);
        for (k, v) in s.as_object().into_iter().flatten() {
            if !v.is_null() {
                t.push([
                    k.clone(),
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                ]);
            }
        }
        Ok(output::success(
            &InspectOutput {
                site_url: site,
                url: p.url,
                inspection,
            },
            t.render(),
        ))
    }

    /// Inspect up to 50 URLs at once (5 in parallel) and summarise their index status by
    /// verdict. Inspections count against a quota of 2,000 a day per property.
    #[tool(
        annotations(title = "Inspect several URLs", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<InspectionsOutput>()
    )]
    async fn batch_url_inspection(
        &self,
        Parameters(p): Parameters<BatchInspectParams>,
    ) -> ToolResult {
        if p.urls.is_empty() || p.urls.len() > MAX_BATCH {
            return fail(format!(
                "urls must hold 1 to {MAX_BATCH} URLs (it holds {})",
                p.urls.len()
            ));
        }
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let results = self.inspect_many(&site, p.urls).await;
        let (summary, text) = summarise(&results);
        Ok(output::success(
            &InspectionsOutput {
                site_url: site,
                results,
                summary,
            },
            text,
        ))
    }

    /// Find indexing problems: inspect the given URLs — or, without `urls`, the site's top
    /// pages by clicks over the last 28 days — and list those not indexed or at risk, with the
    /// coverage state and what to do about it.
    #[tool(
        annotations(title = "Check indexing issues", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<IssuesOutput>()
    )]
    async fn check_indexing_issues(
        &self,
        Parameters(p): Parameters<IndexingIssuesParams>,
    ) -> ToolResult {
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let urls = if p.urls.is_empty() {
            let today = self.today();
            let top = p.top_pages.unwrap_or(20).clamp(1, MAX_BATCH as u32);
            let q = AnalyticsQuery {
                start_date: (today - chrono::Duration::days(28)).to_string(),
                end_date: (today - chrono::Duration::days(1)).to_string(),
                dimensions: vec!["page".into()],
                row_limit: top,
                ..AnalyticsQuery::default()
            };
            match self.analytics(&site, &q).await {
                Ok(r) => r
                    .rows
                    .into_iter()
                    .filter_map(|r| r.keys.into_iter().next())
                    .collect(),
                Err(e) => return fail(e),
            }
        } else if p.urls.len() > MAX_BATCH {
            return fail(format!("urls may hold at most {MAX_BATCH} URLs"));
        } else {
            p.urls
        };
        let checked = urls.len();
        let results = self.inspect_many(&site, urls).await;
        let issues: Vec<Value> = results
            .iter()
            .filter(|r| r["verdict"] != "PASS")
            .map(|r| {
                let coverage = r["coverage_state"].as_str().or_else(|| r["error"].as_str()).unwrap_or("");
                json!({"url": r["url"], "verdict": r["verdict"], "coverage_state": coverage, "advice": advice(coverage)})
            })
            .collect();
        let mut t = Table::new(["url", "verdict", "coverage_state", "advice"]);
        for i in &issues {
            t.push([
                i["url"].as_str().unwrap_or(""),
                i["verdict"].as_str().unwrap_or("ERROR"),
                i["coverage_state"].as_str().unwrap_or(""),
                i["advice"].as_str().unwrap_or(""),
            ]);
        }
        let text = format!(
            "{site}: {} of {checked} URL(s) have indexing issues.\n{}",
            issues.len(),
            if issues.is_empty() {
                String::new()
            } else {
                t.render()
            }
        );
        Ok(output::success(
            &IssuesOutput {
                site_url: site,
                checked,
                issues,
            },
            text,
        ))
    }

    /// Sitemaps submitted for a property: type, last submitted and downloaded, pending state,
    /// warnings, errors, and URLs submitted per content type.
    #[tool(
        annotations(title = "List sitemaps", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<SitemapsOutput>()
    )]
    async fn get_sitemaps(&self, Parameters(p): Parameters<SiteParams>) -> ToolResult {
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let sitemaps = match self.inner.api.sitemaps(&site).await {
            Ok(s) => s,
            Err(e) => return self.upstream_error(e, Some(&site)),
        };
        let text = format!(
            "{site}: {} sitemap(s)\n{}",
            sitemaps.len(),
            sitemap_table(&sitemaps).render()
        );
        Ok(output::success(
            &SitemapsOutput {
                site_url: site,
                sitemaps,
            },
            text,
        ))
    }

    /// One sitemap's details: type, index or not, last submitted and downloaded, warnings,
    /// errors and submitted URL counts per content type.
    #[tool(
        annotations(title = "Get sitemap details", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true),
        output_schema = schema_for_output::<SitemapsOutput>()
    )]
    async fn get_sitemap_details(&self, Parameters(p): Parameters<SitemapParams>) -> ToolResult {
        let site = match self.site(p.site_url.as_deref()).await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let sitemap = match self.inner.api.sitemap(&site, p.sitemap_url.trim()).await {
            Ok(s) => s,
            Err(e) => return self.upstream_error(e, Some(&site)),
        };
        let mut text = sitemap_table(std::slice::from_ref(&sitemap)).render();
        for c in sitemap["contents"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "  {}: {} submitted\n",
                c["type"].as_str().unwrap_or(""),
                c["submitted"].as_str().unwrap_or("0")
            ));
        }
        Ok(output::success(
            &SitemapsOutput {
                site_url: site,
                sitemaps: vec![sitemap],
            },
            text,
        ))
    }
}

fn sitemap_table(list: &[Value]) -> Table {
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

fn summarise(results: &[Value]) -> (BTreeMap<String, usize>, String) {
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

impl GscServer {
    async fn inspect_many(&self, site: &str, urls: Vec<String>) -> Vec<Value> {
        futures::stream::iter(urls)
            .map(|url| async move {
                if let Some(why) = outside_property(site, &url) {
                    return json!({"url": url, "verdict": "ERROR", "error": why});
                }
                match self.inner.api.inspect(site, url.trim(), None).await {
                    Ok(i) => inspection_summary(&url, &i),
                    Err(e) => json!({"url": url, "verdict": "ERROR", "error": self.explain(&e, Some(site))}),
                }
            })
            .buffered(INSPECT_CONCURRENCY)
            .collect()
            .await
    }
}

impl ToolServer for GscServer {
    const NAME: &'static str = "gsc-mcp";
    const TITLE: &'static str = "Google Search Console (read-only)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn router(&self) -> &ToolRouter<Self> {
        self.router.get()
    }

    fn instructions(&self) -> String {
        let site = match &self.inner.default_site {
            Some(s) => format!("Tools default to the property {s} when site_url is omitted."),
            None => "Tools default to the shop's property when site_url is omitted (list_properties shows the exact spelling).".to_owned(),
        };
        format!(
            "Read-only Google Search Console data. {site} Dates are YYYY-MM-DD or relative (today, yesterday, NdaysAgo) \
             in Pacific time; settled data lags 2–3 days. Results are paged: follow next_start_row. Nothing here can \
             change Search Console settings or submit sitemaps."
        )
    }

    fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    fn scope(&self) -> (&TokenProvider, AccountKind) {
        (&self.inner.tokens, SITE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspection_stays_inside_the_property() {
        let domain = "sc-domain:acme-shop.example";
        for inside in [
            "https://acme-shop.example/",
            "http://www.acme-shop.example/p?x=1",
            "https://SHOP.Acme-Shop.example/a",
        ] {
            assert_eq!(outside_property(domain, inside), None, "{inside}");
        }
        for outside in [
            "https://other.example/",
            "https://evilacme-shop.example/",
            "ftp://acme-shop.example/",
            "acme-shop.example/page",
        ] {
            let why = outside_property(domain, outside).expect(outside);
            assert!(why.contains("is not part of"), "{why}");
        }
        let prefix = "https://www.acme-shop.example/shop/";
        assert_eq!(
            outside_property(prefix, "https://www.acme-shop.example/shop/item"),
            None
        );
        assert!(outside_property(prefix, "https://www.acme-shop.example/blog/").is_some());
        assert!(outside_property(prefix, "http://www.acme-shop.example/shop/item").is_some());
    }

    #[test]
    fn property_spellings_are_checked_with_a_suggestion() {
        assert_eq!(
            check_site("sc-domain:example.com").unwrap(),
            "sc-domain:example.com"
        );
        assert_eq!(
            check_site("https://www.example.com/").unwrap(),
            "https://www.example.com/"
        );
        assert!(
            check_site("https://www.example.com")
                .unwrap_err()
                .contains("ends with '/'")
        );
        assert!(
            check_site("example.com")
                .unwrap_err()
                .contains("sc-domain:example.com")
        );
        assert!(check_site("sc-domain:https://x/").is_err());
    }

    #[test]
    fn filters_become_one_and_group() {
        let f = vec![Filter {
            dimension: Dimension::Country,
            operator: Some(Operator::Equals),
            expression: "pol".into(),
        }];
        assert_eq!(
            filter_groups(&f),
            vec![
                json!({"groupType": "and", "filters": [{"dimension": "country", "operator": "equals", "expression": "pol"}]})
            ]
        );
        assert!(filter_groups(&[]).is_empty());
    }

    #[test]
    fn row_limits() {
        assert_eq!(row_limit(None), Ok(100));
        assert!(row_limit(Some(0)).is_err());
        assert!(row_limit(Some(25_001)).is_err());
    }
}
