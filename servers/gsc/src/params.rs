//! Tool inputs for `gsc-mcp`. Doc comments become the JSON Schema the model reads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Search Console property: `https://www.example.com/` (URL prefix, exactly as registered,
/// trailing slash included) or `sc-domain:example.com` (domain property).
pub type SiteUrl = String;

/// Dimensions to group search analytics by. The values' formats are said once, in
/// `get_search_analytics`' `dimensions` (a variant's doc would repeat them in every tool's
/// schema).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Dimension {
    #[serde(alias = "QUERY")]
    Query,
    #[serde(alias = "PAGE")]
    Page,
    #[serde(alias = "COUNTRY")]
    Country,
    #[serde(alias = "DEVICE")]
    Device,
    #[serde(alias = "DATE")]
    Date,
    #[serde(alias = "SEARCHAPPEARANCE", alias = "search_appearance")]
    SearchAppearance,
}

impl Dimension {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Query => "query",
            Dimension::Page => "page",
            Dimension::Country => "country",
            Dimension::Device => "device",
            Dimension::Date => "date",
            Dimension::SearchAppearance => "searchAppearance",
        }
    }
}

/// Which Google results to report. What `news` and `googleNews` mean is said once, in
/// `get_search_analytics`' `search_type` (a variant's doc would repeat it in four tools).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SearchType {
    #[default]
    Web,
    Image,
    Video,
    News,
    Discover,
    GoogleNews,
}

/// Settled or fresh data (said in `data_state`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataState {
    #[default]
    Final,
    All,
}

/// Filter operators (regular expressions are RE2, said in the `expression` field).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Operator {
    Equals,
    NotEquals,
    Contains,
    NotContains,
    IncludingRegex,
    ExcludingRegex,
}

/// One filter; all filters are combined with AND.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Dimension to filter on.
    pub dimension: Dimension,
    /// How to compare (default `contains`).
    #[serde(default)]
    pub operator: Option<Operator>,
    /// Value, or an RE2 regular expression for `includingRegex`/`excludingRegex`.
    pub expression: String,
}

/// How rows are aggregated.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AggregationType {
    /// Google decides.
    Auto,
    /// Not when grouping or filtering by page.
    ByProperty,
    #[allow(missing_docs)]
    ByPage,
}

/// Input of `list_properties`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPropertiesParams {
    /// Only properties whose URL contains this text (case-insensitive), e.g. `acme`, for
    /// credentials that reach many properties.
    #[serde(default)]
    pub contains: Option<String>,
}

/// Input of tools that take only a property.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteParams {
    /// Property (`sc-domain:example.com` or `https://www.example.com/`); default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
}

/// Input of `get_search_analytics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchAnalyticsParams {
    /// Property; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// First day: YYYY-MM-DD, `today`, `yesterday` or `NdaysAgo` (Pacific time).
    pub start_date: String,
    /// Last day, inclusive.
    pub end_date: String,
    /// Group by these dimensions (e.g. `["query"]`, `["page", "query"]`, `["date"]`). Values:
    /// country ISO 3166-1 alpha-3 lower case (`pol`), device `DESKTOP`/`MOBILE`/`TABLET`, date
    /// `YYYY-MM-DD`, searchAppearance a rich result type.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// Result type (default `web`; `news` is Google Search's News tab, `googleNews`
    /// news.google.com and its app).
    #[serde(default)]
    pub search_type: Option<SearchType>,
    /// Filters, all ANDed, e.g. `[{"dimension": "country", "operator": "equals", "expression": "pol"}]`.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Aggregation (default `auto`).
    #[serde(default)]
    pub aggregation_type: Option<AggregationType>,
    /// `final` (default: settled data, the last 2–3 days missing) or `all` (with fresh data).
    #[serde(default)]
    pub data_state: Option<DataState>,
    /// Rows per page (default 100, max 25000).
    #[serde(default)]
    pub row_limit: Option<u32>,
    /// First row (0-based), for paging: use `next_start_row` from the previous answer.
    #[serde(default)]
    pub start_row: Option<u64>,
}

/// Input of `get_performance_overview`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverviewParams {
    /// Property; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// First day (default `30daysAgo`).
    #[serde(default)]
    pub start_date: Option<String>,
    /// Last day (default `yesterday`).
    #[serde(default)]
    pub end_date: Option<String>,
    /// Result type (default `web`).
    #[serde(default)]
    pub search_type: Option<SearchType>,
    /// `final` (default: settled data, the last 2–3 days missing) or `all` (with fresh data).
    #[serde(default)]
    pub data_state: Option<DataState>,
}

/// A date range.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day.
    pub start_date: String,
    /// Last day.
    pub end_date: String,
}

/// Input of `compare_search_periods`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareParams {
    /// Property; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// The earlier period, e.g. `{"start_date": "56daysAgo", "end_date": "29daysAgo"}`.
    pub period_a: Period,
    /// The later period, e.g. `{"start_date": "28daysAgo", "end_date": "yesterday"}`.
    pub period_b: Period,
    /// What to compare (default `query`).
    #[serde(default)]
    pub dimension: Option<Dimension>,
    /// Biggest movers to return (default 25, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Result type (default `web`).
    #[serde(default)]
    pub search_type: Option<SearchType>,
}

/// Input of `get_search_by_page_query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageQueryParams {
    /// Property; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Only this page (full URL); omit for every page × query pair.
    #[serde(default)]
    pub page_url: Option<String>,
    /// First day.
    pub start_date: String,
    /// Last day.
    pub end_date: String,
    /// Rows per page (default 100, max 25000).
    #[serde(default)]
    pub row_limit: Option<u32>,
    /// First row, for paging.
    #[serde(default)]
    pub start_row: Option<u64>,
}

/// Input of `inspect_url`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectParams {
    /// Property the URL belongs to; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL to inspect (must be under the property).
    pub url: String,
    /// Language of messages, e.g. `en-US`.
    #[serde(default)]
    pub language_code: Option<String>,
}

/// Input of `batch_url_inspection`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInspectParams {
    /// Property; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// URLs to inspect (1–50; the API allows 2,000 inspections a day per property).
    pub urls: Vec<String>,
}

/// Input of `check_indexing_issues`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexingIssuesParams {
    /// Property; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// URLs to check; omit to check the site's top pages by clicks over the last 28 days.
    #[serde(default)]
    pub urls: Vec<String>,
    /// How many top pages to check when `urls` is omitted (default 20, max 50).
    #[serde(default)]
    pub top_pages: Option<u32>,
}

/// Input of `get_sitemap_details`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SitemapParams {
    /// Property; default: the server's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL of the sitemap, e.g. `https://www.example.com/sitemap.xml`.
    pub sitemap_url: String,
}
