//! The upstream HTTP client every server uses: base-URL rewriting (`--api-base`), bearer tokens
//! from a [`TokenProvider`], timeouts, bounded retries with jittered backoff on 429/5xx that
//! honour `Retry-After`, one refresh-and-retry after a 401, and typed errors.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;
use url::Url;

use crate::cli::UpstreamConfig;
use crate::credentials::{CredentialError, TokenProvider};
use crate::error::{ApiError, UpstreamError};
pub use crate::http::{HttpClient, rebase};
use oauth_refresh::error_chain;

/// Longest `Retry-After` we wait out inside one tool call; longer ones are reported to the
/// caller with the time to retry instead of holding the call open.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(20);
/// First backoff step; doubles each retry, with full jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(8);

/// One upstream API (a host family) reached with one identity.
#[derive(Clone)]
pub struct Upstream {
    http: Arc<HttpClient>,
    tokens: Arc<TokenProvider>,
    api_base: Option<Url>,
    max_retries: u32,
    /// The most one request may take, retries and their waits included: a hanging upstream
    /// costs a tool call this, not (retries + 1) × the timeout.
    budget: std::time::Duration,
    /// Whether what the answers say of quota goes into the ledger: not for requests that draw
    /// on a budget of their own (GA4's realtime and funnel reports).
    track_quota: bool,
}

impl Upstream {
    /// A client over `tokens`, with the retry and base-URL settings of `config`.
    pub fn new(http: Arc<HttpClient>, tokens: Arc<TokenProvider>, config: &UpstreamConfig) -> Self {
        Self {
            http,
            tokens,
            api_base: config.api_base.clone(),
            max_retries: config.max_retries,
            budget: config.request_timeout,
            track_quota: true,
        }
    }

    /// This client for requests whose quota is not the one the ledger follows (GA4's realtime
    /// and funnel reports have budgets of their own): their answers and refusals say nothing
    /// of it.
    pub fn without_quota(&self) -> Self {
        Self {
            track_quota: false,
            ..self.clone()
        }
    }

    /// Keeps what the upstream reported of its quota (GA4's `propertyQuota`, read by the
    /// server that asked for it): see [`TokenProvider::note_quota`].
    pub async fn note_quota(&self, reading: crate::quota::QuotaReading) {
        self.tokens.note_quota(reading).await;
    }

    /// The URL actually called for a real upstream URL.
    pub fn url(&self, real: &str) -> Result<Url, UpstreamError> {
        let parsed = Url::parse(real)
            .map_err(|e| UpstreamError::Internal(format!("bad URL {real}: {e}")))?;
        Ok(rebase(&parsed, self.api_base.as_ref()))
    }

    /// GET `real` with `query`, decoding the JSON answer.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        real: &str,
        query: &[(&str, String)],
    ) -> Result<T, UpstreamError> {
        let url = self.url(real)?;
        let bytes = self.send(Method::GET, &url, query, &[], None).await?;
        decode(&bytes)
    }

    /// POST `body` as JSON with extra request headers (e.g. Google Ads' `login-customer-id`).
    pub async fn post_json_with_headers<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        real: &str,
        body: &B,
        headers: &[(&str, String)],
    ) -> Result<T, UpstreamError> {
        let url = self.url(real)?;
        let body = serde_json::to_vec(body).map_err(|e| UpstreamError::Internal(e.to_string()))?;
        let bytes = self
            .send(Method::POST, &url, &[], headers, Some(body))
            .await?;
        decode(&bytes)
    }

    /// GET with extra request headers.
    pub async fn get_json_with_headers<T: DeserializeOwned>(
        &self,
        real: &str,
        query: &[(&str, String)],
        headers: &[(&str, String)],
    ) -> Result<T, UpstreamError> {
        let url = self.url(real)?;
        let bytes = self.send(Method::GET, &url, query, headers, None).await?;
        decode(&bytes)
    }

    /// POST `body` as JSON to `real`, decoding the JSON answer.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        real: &str,
        body: &B,
    ) -> Result<T, UpstreamError> {
        let url = self.url(real)?;
        let body = serde_json::to_vec(body).map_err(|e| UpstreamError::Internal(e.to_string()))?;
        let bytes = self.send(Method::POST, &url, &[], &[], Some(body)).await?;
        decode(&bytes)
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<bytes::Bytes, UpstreamError> {
        let deadline = std::time::Instant::now() + self.budget;
        let http = self.http.get()?;
        let token = self
            .tokens
            .token()
            .await
            .map_err(UpstreamError::Credentials)?;
        // One span for the request, its retries included; each attempt carries its context
        // (`traceparent`), so a provider's own traces (Google honours it) join the question's.
        let span = tracing::info_span!(
            "upstream",
            otel.kind = "client",
            otel.name = %method,
            otel.status_code = tracing::field::Empty,
            http.request.method = %method,
            server.address = url.host_str().unwrap_or(""),
            url.path = url.path(),
            http.response.status_code = tracing::field::Empty,
        );
        let trace_headers = telemetry::propagate::headers(&span);
        let sent = async {
            self.attempts(
                &http,
                method,
                url,
                query,
                headers,
                body,
                token,
                &trace_headers,
                deadline,
            )
            .await
        }
        .instrument(span.clone())
        .await;
        if sent.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        sent
    }

    /// [`Self::send`]'s attempts, until one answers, the budget ends or retries run out.
    #[allow(clippy::too_many_arguments)]
    async fn attempts(
        &self,
        http: &reqwest::Client,
        method: Method,
        url: &Url,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
        mut token: crate::credentials::AccessToken,
        trace_headers: &[(&'static str, String)],
        deadline: std::time::Instant,
    ) -> Result<bytes::Bytes, UpstreamError> {
        let mut attempt: u32 = 0;
        let mut refreshed_after_401 = false;
        let left = || deadline.saturating_duration_since(std::time::Instant::now());
        loop {
            if left().is_zero() {
                return Err(UpstreamError::Timeout);
            }
            let mut request = http
                .request(method.clone(), url.clone())
                .timeout(left())
                .bearer_auth(token.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                request = request.query(query);
            }
            // Meta apps that "Require App Secret": the broker's proof for this very token.
            if let Some(proof) = token.appsecret_proof() {
                request = request.query(&[("appsecret_proof", proof)]);
            }
            for (name, value) in headers.iter().chain(trace_headers) {
                request = request.header(*name, value);
            }
            if let Some(b) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }
            let started = std::time::Instant::now();
            let outcome = request.send().await;
            let response = match outcome {
                Ok(r) => r,
                Err(e)
                    if attempt < self.max_retries
                        && e.is_connect()
                        && backoff(attempt) < left() =>
                {
                    let wait = backoff(attempt).min(left());
                    tracing::warn!(path = url.path(), attempt, wait_ms = wait.as_millis() as u64, error = %error_chain(&e), "upstream unreachable, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                Err(e) if e.is_timeout() => return Err(UpstreamError::Timeout),
                Err(e) => return Err(UpstreamError::Transport(error_chain(&e))),
            };
            let status = response.status();
            tracing::Span::current().record("http.response.status_code", status.as_u16());
            // Meta says how much of its budgets each answer used, failures included.
            let usage = self
                .track_quota
                .then(|| {
                    crate::quota::from_meta(response.headers(), chrono::Utc::now().timestamp())
                })
                .flatten();
            let usage_said = usage.is_some();
            if let Some(reading) = usage {
                self.tokens.note_quota(reading).await;
            }
            tracing::debug!(method = %method, path = url.path(), status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "upstream call");
            if status.is_success() {
                return response
                    .bytes()
                    .await
                    .map_err(|e| UpstreamError::Transport(error_chain(&e)));
            }
            let retry_after =
                retry_after(response.headers()).or_else(|| meta_regain_access(response.headers()));
            let body = response.bytes().await.unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED && !refreshed_after_401 {
                // The token may have been revoked or expired early: get a new one, once.
                refreshed_after_401 = true;
                tracing::info!(
                    path = url.path(),
                    "upstream said 401; refreshing the access token and retrying once"
                );
                token = self
                    .tokens
                    .refresh_rejected(&token)
                    .await
                    .map_err(UpstreamError::Credentials)?;
                continue;
            }
            let api = ApiError::from_response(status, &body, retry_after);
            if api.is_retryable() && attempt < self.max_retries {
                // The header's wait, else the body's (RetryInfo), else our backoff.
                let wait = api.retry_after.unwrap_or_else(|| backoff(attempt));
                if wait <= MAX_INLINE_WAIT && wait < left() {
                    tracing::warn!(
                        path = url.path(),
                        status = status.as_u16(),
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "upstream asked us to back off, retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            // A refusal says what the usage headers, if any, did not.
            if self.track_quota
                && !usage_said
                && let Some(reading) =
                    crate::quota::from_refusal(&api, chrono::Utc::now().timestamp())
            {
                self.tokens.note_quota(reading).await;
            }
            return Err(UpstreamError::Api(Box::new(api.with_attempts(attempt + 1))));
        }
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, UpstreamError> {
    serde_json::from_slice(bytes).map_err(|e| UpstreamError::Decode(e.to_string()))
}

/// Exponential backoff with full jitter: uniform in [base·2ⁿ/2, base·2ⁿ], capped.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(6))
        .min(BACKOFF_CAP);
    let half = ceiling / 2;
    let jitter = rand::random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

/// Meta's `X-Business-Use-Case-Usage`: the longest `estimated_time_to_regain_access` (minutes)
/// over the accounts and use cases it lists, when any is above zero.
fn meta_regain_access(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get("x-business-use-case-usage")?.to_str().ok()?;
    let usage: serde_json::Value = serde_json::from_str(value).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|u| {
            u.get("estimated_time_to_regain_access")
                .and_then(serde_json::Value::as_u64)
        })
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

impl From<CredentialError> for UpstreamError {
    fn from(e: CredentialError) -> Self {
        UpstreamError::Credentials(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebase_keeps_real_paths_and_colon_methods() {
        let real =
            Url::parse("https://analyticsdata.googleapis.com/v1beta/properties/1:runReport?x=1")
                .expect("url");
        let base = Url::parse("http://127.0.0.1:4000").expect("url");
        assert_eq!(
            rebase(&real, Some(&base)).as_str(),
            "http://127.0.0.1:4000/v1beta/properties/1:runReport?x=1"
        );
        let prefixed = Url::parse("http://proxy.local/google/").expect("url");
        assert_eq!(
            rebase(&real, Some(&prefixed)).as_str(),
            "http://proxy.local/google/v1beta/properties/1:runReport?x=1"
        );
        assert_eq!(rebase(&real, None), real);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..12 {
            let d = backoff(attempt);
            assert!(d <= BACKOFF_CAP, "{d:?}");
            assert!(d >= BACKOFF_BASE / 2, "{d:?}");
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(
            reqwest::header::RETRY_AFTER,
            future.parse().expect("header"),
        );
        let d = retry_after(&h).expect("date");
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().expect("header"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
