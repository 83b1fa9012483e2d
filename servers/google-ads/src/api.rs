//! Typed client for the Google Ads API (REST): listAccessibleCustomers, googleAds:search and
//! googleAdsFields:search. The API version is configurable; `login-customer-id` is sent per
//! call when acting through a manager account, `developer-token` only when configured (Google
//! retired it in 2026 and a future version will reject it).

use mcp_common::error::UpstreamError;
use mcp_common::upstream::Upstream;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

const BASE: &str = "https://googleads.googleapis.com";

/// The Google Ads API, reached through one [`Upstream`].
#[derive(Clone)]
pub struct AdsApi {
    upstream: Upstream,
    version: String,
    developer_token: Option<std::sync::Arc<SecretString>>,
}

/// One `googleAds:search` page.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchPage {
    /// Rows nested by resource, camelCase.
    pub results: Vec<Value>,
    /// Comma-joined camelCase paths of the selected fields.
    pub field_mask: Option<String>,
    /// Next page, absent on the last.
    pub next_page_token: Option<String>,
    /// Total rows, when asked for.
    pub total_results_count: Option<String>,
    /// Summary row, when asked for.
    pub summary_row: Option<Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Accessible {
    resource_names: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct FieldsPage {
    results: Vec<Value>,
    next_page_token: Option<String>,
}

/// Pages of field metadata read for one question at most: the whole catalog is a few
/// thousand fields, so more means a server that pages forever.
const MAX_FIELD_PAGES: usize = 100;

impl AdsApi {
    /// A client for API `version` (e.g. `v26`).
    pub fn new(upstream: Upstream, version: String, developer_token: Option<SecretString>) -> Self {
        Self {
            upstream,
            version,
            developer_token: developer_token.map(std::sync::Arc::new),
        }
    }

    /// The API version in use.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn headers(&self, login_customer_id: Option<&str>) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(t) = &self.developer_token {
            h.push(("developer-token", t.expose_secret().to_owned()));
        }
        if let Some(l) = login_customer_id {
            h.push(("login-customer-id", l.to_owned()));
        }
        h
    }

    /// Customer ids the credentials can reach directly.
    pub async fn accessible_customers(&self) -> Result<Vec<String>, UpstreamError> {
        let url = format!("{BASE}/{}/customers:listAccessibleCustomers", self.version);
        let a: Accessible = self
            .upstream
            .get_json_with_headers(&url, &[], &self.headers(None))
            .await?;
        Ok(a.resource_names
            .into_iter()
            .map(|r| r.trim_start_matches("customers/").to_owned())
            .collect())
    }

    /// One page of a GAQL query.
    pub async fn search(
        &self,
        customer_id: &str,
        query: &str,
        page_token: Option<&str>,
        login_customer_id: Option<&str>,
    ) -> Result<SearchPage, UpstreamError> {
        let url = format!(
            "{BASE}/{}/customers/{customer_id}/googleAds:search",
            self.version
        );
        let mut body = json!({ "query": query });
        match page_token {
            Some(t) => body["pageToken"] = Value::String(t.to_owned()),
            // The total is free on the first page and tells the model how much there is.
            None => body["searchSettings"] = json!({ "returnTotalResultsCount": true }),
        }
        self.upstream
            .post_json_with_headers(&url, &body, &self.headers(login_customer_id))
            .await
    }

    /// GoogleAdsFieldService: metadata of every field matching `query`, following
    /// `nextPageToken` (Google may answer with a shorter page than the query matches).
    pub async fn fields(&self, query: &str) -> Result<Vec<Value>, UpstreamError> {
        let url = format!("{BASE}/{}/googleAdsFields:search", self.version);
        let mut all = Vec::new();
        let mut body = json!({ "query": query });
        for _ in 0..MAX_FIELD_PAGES {
            let page: FieldsPage = self
                .upstream
                .post_json_with_headers(&url, &body, &self.headers(None))
                .await?;
            all.extend(page.results);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if body["pageToken"] != next.as_str() => body["pageToken"] = json!(next),
                Some(_) => {
                    return Err(UpstreamError::Decode(
                        "Google Ads repeated the same field-metadata page token".into(),
                    ));
                }
                None => return Ok(all),
            }
        }
        Err(UpstreamError::Decode(format!(
            "Google Ads field metadata did not end after {MAX_FIELD_PAGES} pages"
        )))
    }
}
