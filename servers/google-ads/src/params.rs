//! Tool inputs: the parameters of Google's own Ads MCP server, with their JSON Schemas.

use mcp_common::params::FlexibleId;
use schemars::JsonSchema;
use serde::Deserialize;

/// Input of `search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Customer id (ten digits, dashes allowed). Optional when the server has a default (the
    /// shop's account).
    #[serde(default)]
    pub customer_id: Option<FlexibleId>,
    /// A complete GAQL query, e.g. `SELECT campaign.name, metrics.clicks FROM campaign WHERE
    /// segments.date DURING LAST_30_DAYS ORDER BY metrics.clicks DESC`. Give this OR
    /// resource + fields (+ conditions, orderings, limit).
    #[serde(default)]
    pub query: Option<String>,
    /// The resource to read (FROM), e.g. `campaign`, `ad_group`, `keyword_view`,
    /// `search_term_view`, `customer`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Full field names to select, e.g. `["campaign.name", "metrics.clicks",
    /// "metrics.cost_micros", "segments.date"]`. Money is in micros (1,000,000 = 1 unit).
    #[serde(default)]
    pub fields: Vec<String>,
    /// WHERE conditions, ANDed, e.g. `["segments.date DURING LAST_7_DAYS",
    /// "campaign.status = 'ENABLED'"]`. Dates: `BETWEEN '2026-10-01' AND '2026-10-31'`.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// ORDER BY terms, e.g. `["metrics.clicks DESC"]`.
    #[serde(default)]
    pub orderings: Vec<String>,
    /// GAQL LIMIT: the most rows the query yields in total.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Manager (MCC) account to act through, needed for a client of a manager. Default: the
    /// integration's.
    #[serde(default)]
    pub login_customer_id: Option<FlexibleId>,
    /// Rows to return in this call (default 200, max 10000); more come with `page_token`.
    #[serde(default)]
    pub max_rows: Option<u32>,
    /// `next_page_token` from the previous answer, with the same query.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// Input of `list_accessible_customers`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCustomersParams {
    /// Only customers whose id or name contains this text (case-insensitive), for credentials
    /// that reach many accounts.
    #[serde(default)]
    pub contains: Option<String>,
}

/// Input of `get_resource_metadata`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataParams {
    /// Resource name, e.g. `campaign`, `ad_group`, `keyword_view`.
    pub resource_name: String,
}
