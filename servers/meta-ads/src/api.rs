//! Typed client for the Meta Graph / Marketing API: objects and edges with `fields`, cursor
//! paging, insights. The token travels in the `Authorization` header only — never in a URL,
//! where proxies, logs and Meta's own `paging.next` links would carry it.

use mcp_common::error::UpstreamError;
use mcp_common::upstream::Upstream;
use serde::Deserialize;
use serde_json::Value;

const GRAPH: &str = "https://graph.facebook.com";

/// The Graph API at one version, reached through one [`Upstream`].
#[derive(Clone)]
pub struct MetaApi {
    upstream: Upstream,
    version: String,
}

/// One page of an edge.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct EdgePage {
    /// The objects.
    pub data: Vec<Value>,
    /// Cursors and next/previous links.
    pub paging: Option<Value>,
}

impl EdgePage {
    /// The `after` cursor when Meta says more follows (`paging.next` present).
    pub fn next_after(&self) -> Option<String> {
        let paging = self.paging.as_ref()?;
        paging.get("next")?;
        paging["cursors"]["after"].as_str().map(str::to_owned)
    }
}

impl MetaApi {
    /// A client for Graph API `version` (e.g. `v26.0`).
    pub fn new(upstream: Upstream, version: String) -> Self {
        Self { upstream, version }
    }

    /// The version in use.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn url(&self, path: &str) -> String {
        format!("{GRAPH}/{}/{}", self.version, path.trim_start_matches('/'))
    }

    /// One object (`act_1`, a campaign id, …).
    pub async fn object(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, UpstreamError> {
        self.upstream.get_json(&self.url(path), query).await
    }

    /// One page of an edge (`act_1/campaigns`, `me/adaccounts`, …).
    pub async fn edge(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<EdgePage, UpstreamError> {
        self.upstream.get_json(&self.url(path), query).await
    }
}
