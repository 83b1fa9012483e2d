//! Tool inputs: the parameters of Google's own Ads MCP server, with their JSON Schemas.

use mcp_common::params::FlexibleId;
use schemars::JsonSchema;
use serde::Deserialize;

/// Input of `search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Customer id (ten digits); default: the shop's.
    #[serde(default)]
    pub customer_id: Option<FlexibleId>,
    /// A full GAQL query, e.g. `SELECT campaign.name, metrics.clicks FROM campaign WHERE
    /// segments.date DURING LAST_30_DAYS`.
    #[serde(default)]
    pub query: Option<String>,
    /// Instead of `query`: the FROM resource, e.g. `campaign`, `search_term_view`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Fields to SELECT, e.g. `["campaign.name", "metrics.clicks"]`.
    #[serde(default)]
    pub fields: Vec<String>,
    /// WHERE conditions, ANDed, e.g. `["campaign.status = 'ENABLED'"]`.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// ORDER BY terms, e.g. `["metrics.clicks DESC"]`.
    #[serde(default)]
    pub orderings: Vec<String>,
    /// GAQL LIMIT: the most rows in total.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Manager (MCC) to act through; default: the integration's.
    #[serde(default)]
    pub login_customer_id: Option<FlexibleId>,
    /// Rows in this answer (default 200, max 10000).
    #[serde(default)]
    pub max_rows: Option<u32>,
    /// `next_page_token` of the previous answer (same query).
    #[serde(default)]
    pub page_token: Option<String>,
}

/// Input of `list_accessible_customers`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCustomersParams {
    /// Only those whose id or name contains this (any case).
    #[serde(default)]
    pub contains: Option<String>,
}

/// Input of `get_resource_metadata`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataParams {
    /// E.g. `campaign`, `keyword_view`.
    pub resource_name: String,
}
