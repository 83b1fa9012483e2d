//! Tool inputs for `gsc-mcp`. Doc comments become the JSON Schema the model reads, so a type's
//! own notes for this code's readers are `//` comments: schemars publishes a type's `///` doc
//! wherever a field of that type has none, and on a list's items even when the list has one.
//! A field says what its name and type do not; where they say it all (`end_date` beside a
//! described `start_date`, a filter's `dimension`) it has no description.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Search Console property: `https://www.example.com/` (URL prefix, exactly as registered,
/// trailing slash included) or `sc-domain:example.com` (domain property).
pub type SiteUrl = String;

// Dimensions to group search analytics by. The values' formats are said once, in
// `get_search_analytics`' `dimensions` (a variant's doc would repeat them in every tool's
// schema).
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

// What `compare_search_periods` compares by: a dimension two date ranges share, so not `date`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CompareBy {
    #[serde(alias = "QUERY")]
    Query,
    #[serde(alias = "PAGE")]
    Page,
    #[serde(alias = "COUNTRY")]
    Country,
    #[serde(alias = "DEVICE")]
    Device,
    #[serde(alias = "SEARCHAPPEARANCE", alias = "search_appearance")]
    SearchAppearance,
}

impl From<CompareBy> for Dimension {
    fn from(by: CompareBy) -> Self {
        match by {
            CompareBy::Query => Dimension::Query,
            CompareBy::Page => Dimension::Page,
            CompareBy::Country => Dimension::Country,
            CompareBy::Device => Dimension::Device,
            CompareBy::SearchAppearance => Dimension::SearchAppearance,
        }
    }
}

// Which Google results to report. What `news` and `googleNews` mean is said once, in
// `get_search_analytics`' `search_type` (a variant's doc would repeat it in three tools).
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

// Settled or fresh data (said in `data_state`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataState {
    #[default]
    Final,
    All,
}

// Filter operators (regular expressions are RE2, said in the `expression` field).
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

// How rows are aggregated (the one value with a catch is said in `aggregation_type`).
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
    /// Case-insensitive URL substring.
    #[serde(default)]
    pub contains: Option<String>,
}

/// Input of tools that take only a property.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteParams {
    /// Default: the shop's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
}

/// Input of `get_search_analytics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchAnalyticsParams {
    /// Default: the shop's.
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
    /// Default `final` (settled: the last 2–3 days missing); `all` adds fresh data.
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
    /// Default: the shop's.
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
    /// Default `final` (settled: the last 2–3 days missing); `all` adds fresh data.
    #[serde(default)]
    pub data_state: Option<DataState>,
}

/// A date range.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// YYYY-MM-DD or `NdaysAgo`.
    pub start_date: String,
    #[allow(missing_docs)]
    pub end_date: String,
}

/// Input of `compare_search_periods`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareParams {
    /// Default: the shop's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// The earlier one, e.g. `{"start_date": "56daysAgo", "end_date": "29daysAgo"}`.
    pub period_a: Period,
    /// The later one.
    pub period_b: Period,
    /// Default `query`.
    #[serde(default)]
    pub dimension: Option<CompareBy>,
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
    /// Default: the shop's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL; omit for every page × query pair.
    #[serde(default)]
    pub page_url: Option<String>,
    /// YYYY-MM-DD or `NdaysAgo`.
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
    /// Default: the shop's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL.
    pub url: String,
    /// For messages, e.g. `en-US`.
    #[serde(default)]
    pub language_code: Option<String>,
}

/// Input of `batch_url_inspection`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInspectParams {
    /// Default: the shop's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// 1 to 50.
    pub urls: Vec<String>,
}

/// Input of `check_indexing_issues`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexingIssuesParams {
    /// Default: the shop's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Up to 50; empty: the top pages.
    #[serde(default)]
    pub urls: Vec<String>,
    /// How many, when `urls` is empty (default 20, max 50).
    #[serde(default)]
    pub top_pages: Option<u32>,
}

/// Input of `get_sitemap_details`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SitemapParams {
    /// Default: the shop's.
    #[serde(default)]
    pub site_url: Option<SiteUrl>,
    /// Full URL.
    pub sitemap_url: String,
}

#[cfg(test)]
mod tests {
    use super::{CompareBy, Dimension};

    #[test]
    fn compare_by_takes_every_dimension_spelling_but_date() {
        for name in [
            "query",
            "QUERY",
            "page",
            "PAGE",
            "country",
            "COUNTRY",
            "device",
            "DEVICE",
            "searchAppearance",
            "SEARCHAPPEARANCE",
            "search_appearance",
        ] {
            let by: CompareBy = serde_json::from_value(name.into()).unwrap();
            let dimension: Dimension = serde_json::from_value(name.into()).unwrap();
            assert_eq!(Dimension::from(by), dimension, "{name}");
        }
        for name in ["date", "DATE"] {
            let e = serde_json::from_value::<CompareBy>(name.into()).unwrap_err();
            assert!(e.to_string().contains("`searchAppearance`"), "{name}: {e}");
        }
    }
}
