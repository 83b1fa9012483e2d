//! `GscServer`: the Search Console tools. Each checks its arguments, calls the typed client
//! ([`crate::api`]) and shapes a structured result plus a compact text table.

use std::sync::Arc;

use chrono::NaiveDate;
use futures::StreamExt;
use mcp_common::credentials::TokenProvider;
use mcp_common::error::UpstreamError;
use mcp_common::output::{self, Table, fail};
use mcp_common::output::{Refusal, ToolResult};
use mcp_common::params::Parameters;
use mcp_common::scope::{self, AccountKind};
use mcp_common::{LazyRouter, Provider, ToolServer};
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::{tool, tool_router};
use serde_json::{Map, Value, json};

use crate::api::{AnalyticsQuery, AnalyticsResponse, GscApi};
use crate::dates;
use crate::params::{
    BatchInspectParams, CompareParams, Dimension, Filter, IndexingIssuesParams, InspectParams,
    ListPropertiesParams, Operator, OverviewParams, PageQueryParams, SearchAnalyticsParams,
    SiteParams, SitemapParams,
};
use crate::report::{
    self, AnalyticsOutput, InspectOutput, InspectionsOutput, IssuesOutput, Period, SiteOutput,
    SitemapsOutput, SitesOutput, advice, inspection_summary, metrics_table, row_map, sitemap_table,
    summarise,
};
use crate::request::{MAX_ROWS, check_site, enum_str, filter_groups, outside_property, row_limit};

const SERVICE: &str = "Search Console";
const SITE: AccountKind = AccountKind {
    service: SERVICE,
    noun: "Search Console property",
    provider: Provider::Gsc,
};
const MAX_BATCH: usize = 50;
/// Inspections in flight at once (the API allows 600 a minute per property).
const INSPECT_CONCURRENCY: usize = 5;

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
    async fn site(&self, given: Option<&str>) -> Result<String, Refusal> {
        let requested = given.or(self.inner.default_site.as_deref());
        scope::resolve(&self.inner.tokens, SITE, requested, check_site)
            .await?
            .ok_or_else(|| Refusal("site_url is required: this server has no default property. Call list_properties to see the properties you can access.".into()))
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

    async fn analytics(
        &self,
        site: &str,
        q: &AnalyticsQuery,
    ) -> Result<AnalyticsResponse, Refusal> {
        self.inner
            .api
            .query(site, q)
            .await
            .map_err(|e| Refusal(self.explain(&e, Some(site))))
    }
}

#[tool_router]
impl GscServer {
    /// The Search Console properties these credentials can read, with the permission level,
    /// spelled as other tools take them (`https://www.example.com/`, `sc-domain:example.com`).
    #[tool(annotations(title = "List Search Console properties"))]
    async fn list_properties(&self, Parameters(p): Parameters<ListPropertiesParams>) -> ToolResult {
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
        let reachable = sites.len();
        let needle = mcp_common::params::needle(p.contains.as_deref());
        if let Some(needle) = &needle {
            sites.retain(|s| s.site_url.to_lowercase().contains(needle));
        }
        let mut t = Table::new(["site_url", "permission_level"]);
        for s in &sites {
            t.push([s.site_url.as_str(), &s.permission_level]);
        }
        let mut text = match &needle {
            None => format!("{} propert(ies):\n{}", sites.len(), t.render()),
            Some(needle) => format!(
                "{} of {reachable} propert(ies) match {needle:?}:\n{}",
                sites.len(),
                t.render()
            ),
        };
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

    /// One property: its exact URL, your permission level and how many sitemaps are submitted.
    #[tool(annotations(title = "Get Search Console property details"))]
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

    /// Google Search clicks, impressions, CTR and average position, grouped by dimensions,
    /// with filters. Rows by clicks, paged: follow `next_start_row`.
    #[tool(
        annotations(title = "Search analytics"),
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
                "More rows may exist: call again with the same arguments and start_row={next}.\n"
            ));
        }
        let columns: Vec<String> = dimensions
            .into_iter()
            .chain(report::METRICS.map(String::from))
            .collect();
        let out = AnalyticsOutput {
            site_url: site,
            start_date: start.to_string(),
            end_date: end.to_string(),
            rows: output::in_columns(&columns, &rows),
            columns,
            start_row,
            next_start_row,
            aggregation: r.response_aggregation_type,
            metadata: r.metadata,
        };
        Ok(output::success(&out, text))
    }

    /// Total clicks, impressions, CTR and average position over a date range (default the last
    /// 30 days), and the daily trend.
    #[tool(annotations(title = "Search performance overview"))]
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
        let (out, text) = report::overview(site, (start, end), &totals, &daily);
        Ok(output::success(&out, text))
    }

    /// Compare two date ranges by query, page, country, device or search appearance: each
    /// period's totals and the biggest movers by click change (b − a), new and vanished keys
    /// included. Explains a traffic drop or gain.
    #[tool(annotations(title = "Compare search periods"))]
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
        let dimension = p.dimension.map_or(Dimension::Query, Dimension::from);
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
        let (out, text) = report::comparison(
            site,
            dimension,
            Period {
                dates: a,
                totals: &ta,
                rows: &ra,
            },
            Period {
                dates: b,
                totals: &tb,
                rows: &rb,
            },
            limit,
        );
        Ok(output::success(&out, text))
    }

    /// Queries that bring traffic to one page (`page_url`), or every page × query pair. Paged:
    /// follow `next_start_row`.
    #[tool(
        annotations(title = "Search queries by page"),
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

    /// Inspect one URL: indexed or not (verdict, coverage state), robots.txt and noindex, last
    /// crawl, Google's and the declared canonical, mobile usability, rich results.
    #[tool(annotations(title = "Inspect a URL"))]
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

    /// Inspect up to 50 URLs and count them by verdict. Quota: 2,000 inspections a day per
    /// property.
    #[tool(annotations(title = "Inspect several URLs"))]
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

    /// Inspect `urls`, or the top pages by clicks of the last 28 days, and list those not
    /// indexed or at risk, with the coverage state and what to do.
    #[tool(annotations(title = "Check indexing issues"))]
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

    /// Sitemaps submitted for a property: type, last submitted and downloaded, pending,
    /// warnings, errors, URLs per content type.
    #[tool(annotations(title = "List sitemaps"))]
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

    /// One sitemap: type, index or not, last submitted and downloaded, warnings, errors, URLs
    /// per content type.
    #[tool(annotations(title = "Get sitemap details"))]
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
            None => "Tools default to the shop's property when site_url is omitted; if a call \
                     says site_url is required, list_properties shows the exact spellings."
                .to_owned(),
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
