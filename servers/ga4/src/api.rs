//! Typed client for the GA4 Data API (v1beta, v1alpha) and Admin API (v1beta, v1alpha).
//!
//! Requests are built by the tools; this module knows URLs, paging and the response shapes
//! (Google's protobuf JSON: lowerCamelCase, int64 and all report values as strings).

use std::collections::BTreeMap;

use mcp_common::error::UpstreamError;
use mcp_common::upstream::Upstream;
use serde::Deserialize;
use serde_json::Value;

const DATA: &str = "https://analyticsdata.googleapis.com";
const ADMIN: &str = "https://analyticsadmin.googleapis.com";

/// Admin list endpoints return at most this many items per page.
const ADMIN_PAGE_SIZE: u32 = 200;
/// Stop following Admin `nextPageToken`s after this many pages (200 × 50 items), so a
/// misbehaving upstream cannot keep a tool call looping.
const MAX_ADMIN_PAGES: usize = 50;

/// The Data API methods whose answer is a [`ReportResponse`] (rows of dimension and metric
/// values), and the tool that calls each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportEndpoint {
    /// v1beta `runReport` (`run_report`).
    Standard,
    /// v1beta `runRealtimeReport` (`run_realtime_report`).
    Realtime,
    /// v1alpha `runReport` with a `conversionSpec` (`run_conversions_report`).
    Conversions,
}

impl ReportEndpoint {
    /// The tool that calls this endpoint, named in the result's paging hint.
    pub fn tool(self) -> &'static str {
        match self {
            Self::Standard => "run_report",
            Self::Realtime => "run_realtime_report",
            Self::Conversions => "run_conversions_report",
        }
    }
}

/// The GA4 APIs, reached through one [`Upstream`].
#[derive(Clone)]
pub struct Ga4Api {
    upstream: Upstream,
}

/// `GET /v1beta/accountSummaries` page.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountSummariesPage {
    /// Accounts with their properties.
    pub account_summaries: Vec<AccountSummary>,
    /// Token of the next page.
    pub next_page_token: Option<String>,
}

/// One account.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountSummary {
    /// `accounts/123`.
    pub account: String,
    /// Display name.
    pub display_name: String,
    /// Its properties.
    pub property_summaries: Vec<PropertySummary>,
}

/// One property inside an account summary.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PropertySummary {
    /// `properties/123`.
    pub property: String,
    /// Display name.
    pub display_name: String,
    /// `PROPERTY_TYPE_ORDINARY` etc.
    pub property_type: Option<String>,
}

/// A Data API report response (`runReport`, `runRealtimeReport`, v1alpha `runReport`).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportResponse {
    /// Dimension columns.
    pub dimension_headers: Vec<DimensionHeader>,
    /// Metric columns.
    pub metric_headers: Vec<MetricHeader>,
    /// Rows (values as strings).
    pub rows: Vec<Row>,
    /// Totals, when requested.
    pub totals: Vec<Row>,
    /// Maximums, when requested.
    pub maximums: Vec<Row>,
    /// Minimums, when requested.
    pub minimums: Vec<Row>,
    /// Rows matching, ignoring limit/offset (absent when 0).
    pub row_count: Option<u64>,
    /// Currency, time zone, sampling and thresholding notes.
    pub metadata: Option<Value>,
    /// Quota state, when requested.
    pub property_quota: Option<Value>,
}

/// A dimension column.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct DimensionHeader {
    /// API name.
    pub name: String,
}

/// A metric column.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct MetricHeader {
    /// API name.
    pub name: String,
    /// `TYPE_INTEGER`, `TYPE_CURRENCY`, …
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// One report row.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Row {
    /// Dimension values, in header order.
    pub dimension_values: Vec<CellValue>,
    /// Metric values, in header order.
    pub metric_values: Vec<CellValue>,
}

/// A cell.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CellValue {
    /// The value, always a string on the wire.
    pub value: Option<String>,
}

/// `runFunnelReport` response.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FunnelResponse {
    /// Step-by-step table.
    pub funnel_table: Option<ReportResponse>,
    /// Data for a funnel chart.
    pub funnel_visualization: Option<ReportResponse>,
    /// Quota state, when requested.
    pub property_quota: Option<Value>,
}

/// `GET …/metadata` response.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Metadata {
    /// Dimensions available to the property.
    pub dimensions: Vec<FieldMetadata>,
    /// Metrics available to the property.
    pub metrics: Vec<FieldMetadata>,
}

/// A dimension or metric in the metadata.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldMetadata {
    /// API name (what reports take).
    pub api_name: String,
}

impl Ga4Api {
    /// A client over `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }

    /// One page of account summaries.
    pub async fn account_summaries(
        &self,
        page_token: Option<&str>,
    ) -> Result<AccountSummariesPage, UpstreamError> {
        let mut query = vec![("pageSize", ADMIN_PAGE_SIZE.to_string())];
        if let Some(t) = page_token {
            query.push(("pageToken", t.to_owned()));
        }
        self.upstream
            .get_json(&format!("{ADMIN}/v1beta/accountSummaries"), &query)
            .await
    }

    /// `GET /v1beta/properties/{id}`.
    pub async fn property(&self, id: &str) -> Result<BTreeMap<String, Value>, UpstreamError> {
        self.upstream
            .get_json(&format!("{ADMIN}/v1beta/properties/{id}"), &[])
            .await
    }

    /// Every item of an Admin list endpoint (`collection` is the response's list key).
    async fn admin_list(&self, url: &str, collection: &str) -> Result<Vec<Value>, UpstreamError> {
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_ADMIN_PAGES {
            let mut query = vec![("pageSize", ADMIN_PAGE_SIZE.to_string())];
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let mut page: BTreeMap<String, Value> = self.upstream.get_json(url, &query).await?;
            if let Some(Value::Array(list)) = page.remove(collection) {
                items.extend(list);
            }
            page_token = page
                .remove("nextPageToken")
                .and_then(|v| v.as_str().map(str::to_owned));
            if page_token.as_deref().is_none_or(str::is_empty) {
                break;
            }
        }
        Ok(items)
    }

    /// Google Ads links of a property.
    pub async fn google_ads_links(&self, id: &str) -> Result<Vec<Value>, UpstreamError> {
        self.admin_list(
            &format!("{ADMIN}/v1beta/properties/{id}/googleAdsLinks"),
            "googleAdsLinks",
        )
        .await
    }

    /// Reporting data annotations of a property (Admin v1alpha).
    pub async fn annotations(&self, id: &str) -> Result<Vec<Value>, UpstreamError> {
        self.admin_list(
            &format!("{ADMIN}/v1alpha/properties/{id}/reportingDataAnnotations"),
            "reportingDataAnnotations",
        )
        .await
    }

    /// Custom dimensions of a property.
    pub async fn custom_dimensions(&self, id: &str) -> Result<Vec<Value>, UpstreamError> {
        self.admin_list(
            &format!("{ADMIN}/v1beta/properties/{id}/customDimensions"),
            "customDimensions",
        )
        .await
    }

    /// Custom metrics of a property.
    pub async fn custom_metrics(&self, id: &str) -> Result<Vec<Value>, UpstreamError> {
        self.admin_list(
            &format!("{ADMIN}/v1beta/properties/{id}/customMetrics"),
            "customMetrics",
        )
        .await
    }

    /// Dimensions and metrics the property accepts.
    pub async fn metadata(&self, id: &str) -> Result<Metadata, UpstreamError> {
        self.upstream
            .get_json(&format!("{DATA}/v1beta/properties/{id}/metadata"), &[])
            .await
    }

    /// One of the three Data API methods that answer with a [`ReportResponse`].
    pub async fn report(
        &self,
        endpoint: ReportEndpoint,
        id: &str,
        request: &Value,
    ) -> Result<ReportResponse, UpstreamError> {
        let method = match endpoint {
            ReportEndpoint::Standard => "v1beta/properties/{id}:runReport",
            ReportEndpoint::Realtime => "v1beta/properties/{id}:runRealtimeReport",
            ReportEndpoint::Conversions => "v1alpha/properties/{id}:runReport",
        };
        let url = format!("{DATA}/{}", method.replace("{id}", id));
        // Realtime reports draw on a budget of their own: only core reports (what the
        // pipeline runs) say how much of the core budget is left.
        if endpoint == ReportEndpoint::Realtime {
            return self.upstream.without_quota().post_json(&url, request).await;
        }
        let (request, asked) = with_quota(request);
        let mut response: ReportResponse = self.upstream.post_json(&url, &request).await?;
        self.note_quota(&mut response.property_quota, asked).await;
        Ok(response)
    }

    /// Keeps the property's quota state, which every report asks for, and leaves it in the
    /// answer only when the caller asked.
    async fn note_quota(&self, quota: &mut Option<Value>, asked: bool) {
        if let Some(reading) = quota
            .as_ref()
            .and_then(|q| mcp_common::quota::from_ga4(q, chrono::Utc::now().timestamp()))
        {
            self.upstream.note_quota(reading).await;
        }
        if !asked {
            *quota = None;
        }
    }

    /// v1alpha `runFunnelReport`.
    pub async fn run_funnel_report(
        &self,
        id: &str,
        request: &Value,
    ) -> Result<FunnelResponse, UpstreamError> {
        // Funnel reports draw on a budget of their own: not the core one the ledger follows.
        self.upstream
            .without_quota()
            .post_json(
                &format!("{DATA}/v1alpha/properties/{id}:runFunnelReport"),
                request,
            )
            .await
    }
}

/// `request` asking for the property's quota state (it costs nothing), and whether the caller
/// had asked for it.
fn with_quota(request: &Value) -> (Value, bool) {
    let asked = request.get("returnPropertyQuota") == Some(&Value::Bool(true));
    let mut request = request.clone();
    if let Value::Object(body) = &mut request {
        body.insert("returnPropertyQuota".into(), Value::Bool(true));
    }
    (request, asked)
}
