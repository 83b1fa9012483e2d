//! Tool inputs for `gsc-mcp`. Doc comments become the JSON Schema the model reads.
//!
//! `site_url` has no description: every tool takes the server's property when it is omitted,
//! which the server's instructions say once and the optional, nullable type shows (ten copies of
//! it were 480 B of `tools/list`, issue 15). `list_properties` gives the exact spellings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Search Console property: `https://www.example.com/` (URL prefix, exactly as registered,
/// trailing slash included) or `sc-domain:example.com` (domain property).
pub type SiteUrl = String;

// Dimensions to group search analytics by. The values' formats are said once, in
// `get_search_analytics`' `dimensions` (a variant's doc would repeat them in every tool's
// schema; a `///` doc here would be published wherever a field of this type has none).
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

// One filter; all filters are combined with AND (said in `filters`: a `///` doc here would be
// published again as the items' description).
#[allow(missing_docs)]
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub dimension: Dimension,
    /// Default `contains`.
    #[serde(default)]
    pub operator: Option<Operator>,
    /// Value, or an RE2 regular expression for the regex operators.
    pub expression: String,
}

/// How rows are aggregated (what the values mean is said in `aggregation_type`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AggregationType {
    Auto,
    ByProperty,
    ByPage,
}

/// Input of `list_properties`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPropertiesParams {
    /// Only properties whose URL contains this (case-insensitive).
    #[serde(default)]
    pub contains: Option<String>,
}

/// Input of tools that take only a property.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
}

/// Input of `get_search_analytics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchAnalyticsParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// YYYY-MM-DD, `today`, `yesterday` or `NdaysAgo` (Pacific time).
    pub start_date: String,
    /// Inclusive.
    pub end_date: String,
    /// E.g. `["page", "query"]`. Values: country ISO 3166-1 alpha-3 lower case (`pol`), device
    /// `DESKTOP`/`MOBILE`/`TABLET`, date YYYY-MM-DD.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// Default `web`; `news`: Google Search's News tab; `googleNews`: news.google.com.
    #[serde(default)]
    pub search_type: Option<SearchType>,
    /// All ANDed, e.g. `[{"dimension": "country", "operator": "equals", "expression": "pol"}]`.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Default `auto`; `byProperty` not with a page dimension or filter.
    #[serde(default)]
    pub aggregation_type: Option<AggregationType>,
    /// `final` (default: settled, the last 2–3 days missing) or `all` (with fresh data).
    #[serde(default)]
    pub data_state: Option<DataState>,
    /// Default 100, max 25000.
    #[serde(default)]
    pub row_limit: Option<u32>,
    /// For paging: `next_start_row` of the previous answer.
    #[serde(default)]
    pub start_row: Option<u64>,
}

/// Input of `get_performance_overview`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverviewParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Default `30daysAgo`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Default `yesterday`.
    #[serde(default)]
    pub end_date: Option<String>,
    /// Default `web`.
    #[serde(default)]
    pub search_type: Option<SearchType>,
    /// Default `final`; `all` adds the fresh last days.
    #[serde(default)]
    pub data_state: Option<DataState>,
}

/// A date range.
#[allow(missing_docs)]
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub start_date: String,
    pub end_date: String,
}

/// Input of `compare_search_periods`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// The earlier one, e.g. `{"start_date": "56daysAgo", "end_date": "29daysAgo"}`.
    pub period_a: Period,
    /// The later one.
    pub period_b: Period,
    /// Default `query`.
    #[serde(default)]
    pub dimension: Option<Dimension>,
    /// Movers to return (default 25, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Default `web`.
    #[serde(default)]
    pub search_type: Option<SearchType>,
}

/// Input of `get_search_by_page_query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageQueryParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL; omit for every page × query pair.
    #[serde(default)]
    pub page_url: Option<String>,
    #[allow(missing_docs)]
    pub start_date: String,
    #[allow(missing_docs)]
    pub end_date: String,
    /// Default 100, max 25000.
    #[serde(default)]
    pub row_limit: Option<u32>,
    /// For paging.
    #[serde(default)]
    pub start_row: Option<u64>,
}

/// Input of `inspect_url`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL, under the property.
    pub url: String,
    /// For messages, e.g. `en-US`.
    #[serde(default)]
    pub language_code: Option<String>,
}

/// Input of `batch_url_inspection`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInspectParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// 1 to 50.
    pub urls: Vec<String>,
}

/// Input of `check_indexing_issues`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexingIssuesParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Omit for the top pages.
    #[serde(default)]
    pub urls: Vec<String>,
    /// How many, when `urls` is omitted (default 20, max 50).
    #[serde(default)]
    pub top_pages: Option<u32>,
}

/// Input of `get_sitemap_details`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SitemapParams {
    #[allow(missing_docs)] // See the module documentation.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL.
    pub sitemap_url: String,
}
