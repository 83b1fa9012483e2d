//! Typed client for the Search Console API: webmasters v3 (sites, searchAnalytics, sitemaps)
//! and the URL Inspection API (v1). The site URL travels percent-encoded as one path segment.

use mcp_common::error::UpstreamError;
use mcp_common::upstream::Upstream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const BASE: &str = "https://searchconsole.googleapis.com";

/// Percent-encodes a site or sitemap URL as one path segment (`:` and `/` included).
pub fn segment(url: &str) -> String {
    url::form_urlencoded::byte_serialize(url.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The Search Console API, reached through one [`Upstream`].
#[derive(Clone)]
pub struct GscApi {
    upstream: Upstream,
}

/// `sites.list` / `sites.get` entry.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SiteEntry {
    /// `https://www.example.com/` or `sc-domain:example.com`.
    pub site_url: String,
    /// `siteOwner`, `siteFullUser`, `siteRestrictedUser`, `siteUnverifiedUser`.
    pub permission_level: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SiteList {
    site_entry: Vec<SiteEntry>,
}

/// A searchAnalytics.query request (REST field names).
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsQuery {
    /// First day (YYYY-MM-DD).
    pub start_date: String,
    /// Last day (YYYY-MM-DD).
    pub end_date: String,
    /// Grouping dimensions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<String>,
    /// `web`, `image`, …
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub search_type: Option<String>,
    /// Filter groups (all ANDed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimension_filter_groups: Vec<Value>,
    /// `auto`, `byProperty`, `byPage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation_type: Option<String>,
    /// Rows per page.
    pub row_limit: u32,
    /// First row.
    pub start_row: u64,
    /// `final`, `all`, `hourly_all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_state: Option<String>,
}

/// A searchAnalytics row.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct AnalyticsRow {
    /// Values of the grouping dimensions, in request order.
    pub keys: Vec<String>,
    /// Clicks.
    pub clicks: f64,
    /// Impressions.
    pub impressions: f64,
    /// Click-through rate (0–1).
    pub ctr: f64,
    /// Average position (1-based).
    pub position: f64,
}

/// searchAnalytics.query response.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalyticsResponse {
    /// Rows (absent when none).
    pub rows: Vec<AnalyticsRow>,
    /// `auto`, `byProperty`, `byPage`.
    pub response_aggregation_type: Option<String>,
    /// Fresh-data notes (`first_incomplete_date`…), when dataState is `all`.
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct SitemapList {
    sitemap: Vec<Value>,
}

impl GscApi {
    /// A client over `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }

    /// Sites the credentials can see.
    pub async fn sites(&self) -> Result<Vec<SiteEntry>, UpstreamError> {
        let list: SiteList = self
            .upstream
            .get_json(&format!("{BASE}/webmasters/v3/sites"), &[])
            .await?;
        Ok(list.site_entry)
    }

    /// One site.
    pub async fn site(&self, site: &str) -> Result<SiteEntry, UpstreamError> {
        self.upstream
            .get_json(
                &format!("{BASE}/webmasters/v3/sites/{}", segment(site)),
                &[],
            )
            .await
    }

    /// searchAnalytics.query.
    pub async fn query(
        &self,
        site: &str,
        q: &AnalyticsQuery,
    ) -> Result<AnalyticsResponse, UpstreamError> {
        self.upstream
            .post_json(
                &format!(
                    "{BASE}/webmasters/v3/sites/{}/searchAnalytics/query",
                    segment(site)
                ),
                q,
            )
            .await
    }

    /// Sitemaps of a site.
    pub async fn sitemaps(&self, site: &str) -> Result<Vec<Value>, UpstreamError> {
        let list: SitemapList = self
            .upstream
            .get_json(
                &format!("{BASE}/webmasters/v3/sites/{}/sitemaps", segment(site)),
                &[],
            )
            .await?;
        Ok(list.sitemap)
    }

    /// One sitemap.
    pub async fn sitemap(&self, site: &str, feed: &str) -> Result<Value, UpstreamError> {
        self.upstream
            .get_json(
                &format!(
                    "{BASE}/webmasters/v3/sites/{}/sitemaps/{}",
                    segment(site),
                    segment(feed)
                ),
                &[],
            )
            .await
    }

    /// urlInspection.index.inspect.
    pub async fn inspect(
        &self,
        site: &str,
        url: &str,
        language: Option<&str>,
    ) -> Result<Value, UpstreamError> {
        let mut body = serde_json::json!({ "inspectionUrl": url, "siteUrl": site });
        if let Some(l) = language {
            body["languageCode"] = Value::String(l.to_owned());
        }
        self.upstream
            .post_json(&format!("{BASE}/v1/urlInspection/index:inspect"), &body)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_urls_are_one_segment() {
        assert_eq!(
            segment("https://www.example.com/"),
            "https%3A%2F%2Fwww.example.com%2F"
        );
        assert_eq!(segment("sc-domain:example.com"), "sc-domain%3Aexample.com");
    }
}
