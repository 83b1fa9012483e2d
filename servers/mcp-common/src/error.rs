//! Typed upstream errors, and the text a tool shows for them.
//!
//! [`ApiError`] is what an API answered (status, Google's `google.rpc.Status` envelope fields);
//! [`UpstreamError`] adds the ways a call can fail before or around that. Servers refine the
//! message for their API (e.g. "no access to property 123"); [`UpstreamError::explain`] is the
//! generic fallback and already says what to do next. Neither ever contains a token.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::credentials::CredentialError;

/// An error answer from an upstream API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub http_status: StatusCode,
    /// `error.status` (e.g. `PERMISSION_DENIED`), when the body is Google's envelope.
    pub status: Option<String>,
    /// `error.message`, or a short excerpt of a non-JSON body.
    pub message: String,
    /// The first `reason` in `error.details[].reason` or `error.errors[].reason`.
    pub reason: Option<String>,
    /// The whole decoded body, for API-specific detail (Ads' GoogleAdsFailure, Meta codes).
    pub body: Option<Value>,
    /// `Retry-After`, if the API sent one.
    pub retry_after: Option<Duration>,
    /// How many times the request was sent.
    pub attempts: u32,
    /// Meta's numeric error, when the body is Meta's envelope.
    pub meta: Option<MetaError>,
}

/// The numeric part of a Meta Graph API error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaError {
    /// `error.code`, e.g. 190 (token), 100 (parameter), 17 (rate limit).
    pub code: i64,
    /// `error.error_subcode`, e.g. 463 (expired).
    pub subcode: Option<i64>,
    /// `error.is_transient`.
    pub transient: bool,
}

impl MetaError {
    /// Codes Meta uses for throttling (answered with HTTP 400): app (4), user (17), ad account
    /// (613), page (32) and business use case (80000–80014) limits.
    pub fn is_rate_limit(&self) -> bool {
        matches!(self.code, 4 | 17 | 32 | 613 | 80_000..=80_014)
    }
}

impl ApiError {
    /// Parses an error response body.
    pub fn from_response(
        http_status: StatusCode,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let envelope = json.as_ref().and_then(|v| {
            // searchStream wraps errors in an array; everything else is an object.
            let v = v.as_array().and_then(|a| a.first()).unwrap_or(v);
            v.get("error").cloned()
        });
        let meta = match &envelope {
            // Meta: `{"error": {"type": "OAuthException", "code": 190, …}}` — a numeric code with
            // a `type`, where Google has a string `status`.
            Some(Value::Object(e)) if e.contains_key("type") && e.get("status").is_none() => {
                e.get("code").and_then(Value::as_i64).map(|code| MetaError {
                    code,
                    subcode: e.get("error_subcode").and_then(Value::as_i64),
                    transient: e
                        .get("is_transient")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
            }
            _ => None,
        };
        let (status, message, reason) = match &envelope {
            Some(Value::Object(e)) => {
                let status = e.get("status").and_then(Value::as_str).map(str::to_owned);
                let message = e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let reason = e
                    .get("details")
                    .and_then(Value::as_array)
                    .and_then(|d| {
                        d.iter()
                            .find_map(|x| x.get("reason").and_then(Value::as_str))
                    })
                    .or_else(|| {
                        e.get("errors").and_then(Value::as_array).and_then(|d| {
                            d.iter()
                                .find_map(|x| x.get("reason").and_then(Value::as_str))
                        })
                    })
                    .map(str::to_owned);
                (status, message, reason)
            }
            // OAuth-style `{"error": "invalid_grant", "error_description": "..."}`.
            Some(Value::String(code)) => {
                let desc = json
                    .as_ref()
                    .and_then(|v| v.get("error_description"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                (None, format!("{code}: {desc}"), Some(code.clone()))
            }
            _ => (None, excerpt(body), None),
        };
        // Google may give the wait only in the body: `google.rpc.RetryInfo.retryDelay`, or
        // Ads' `quotaErrorDetails.retryDelay` inside its failure details.
        let retry_after = retry_after.or_else(|| envelope.as_ref().and_then(retry_delay));
        Self {
            http_status,
            status,
            message,
            reason,
            body: json,
            retry_after,
            attempts: 1,
            meta,
        }
    }

    /// A rate limit or quota Google reports as 403 (Search Console, older APIs) or 429.
    pub fn is_quota(&self) -> bool {
        self.http_status == StatusCode::TOO_MANY_REQUESTS
            || matches!(
                self.reason.as_deref(),
                Some(
                    "rateLimitExceeded"
                        | "userRateLimitExceeded"
                        | "quotaExceeded"
                        | "dailyLimitExceeded"
                        | "RATE_LIMIT_EXCEEDED"
                        | "RESOURCE_EXHAUSTED"
                )
            )
            || self.status.as_deref() == Some("RESOURCE_EXHAUSTED")
    }

    /// The API is not enabled in the Google Cloud project of the OAuth client: the operator's
    /// to fix, not the shop's.
    pub fn is_service_disabled(&self) -> bool {
        matches!(
            self.reason.as_deref(),
            Some("SERVICE_DISABLED" | "accessNotConfigured")
        )
    }

    /// Whether waiting and sending again can succeed: 429, 5xx, Meta's throttling codes and
    /// errors Meta marks transient.
    pub fn is_retryable(&self) -> bool {
        self.http_status == StatusCode::TOO_MANY_REQUESTS
            || self.http_status.is_server_error()
            // Per-minute limits pass; a daily quota does not within a tool call.
            || (self.is_quota() && !matches!(self.reason.as_deref(), Some("quotaExceeded" | "dailyLimitExceeded")))
            || self.meta.is_some_and(|m| m.is_rate_limit() || m.transient)
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// `403 PERMISSION_DENIED: message` style summary.
    pub fn summary(&self) -> String {
        let code = self.http_status.as_u16();
        let message = if self.message.is_empty() {
            self.http_status
                .canonical_reason()
                .unwrap_or("error")
                .to_owned()
        } else {
            self.message.clone()
        };
        match &self.status {
            Some(s) => format!("{code} {s}: {message}"),
            None => format!("{code}: {message}"),
        }
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No access token could be had.
    #[error(transparent)]
    Credentials(CredentialError),
    /// The API answered with an error status (after any retries).
    #[error("{}", .0.summary())]
    Api(Box<ApiError>),
    /// No answer within the request timeout, after retries.
    #[error("the upstream API did not answer in time")]
    Timeout,
    /// Network trouble.
    #[error("cannot reach the upstream API: {0}")]
    Transport(String),
    /// The answer was not the JSON we expected.
    #[error("the upstream API answered something this server does not understand: {0}")]
    Decode(String),
    /// A bug on our side (bad URL construction and the like).
    #[error("internal error: {0}")]
    Internal(String),
}

impl UpstreamError {
    /// The API error, if the API answered.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(a) => Some(a),
            _ => None,
        }
    }

    /// A message for the tool result: what went wrong and what to do. `service` names the
    /// product ("Google Analytics").
    pub fn explain(&self, service: &str) -> String {
        match self {
            Self::Credentials(CredentialError::Revoked) => format!(
                "{service} access was revoked or has expired. Reconnect the {service} integration \
                 (sign in again in the dashboard, or create new credentials) and retry."
            ),
            // The broker's messages already say what to do, in the dashboard's words.
            Self::Credentials(CredentialError::Broker(e)) => e.message.replace('\n', " "),
            Self::Credentials(e) if e.is_transient() => {
                format!(
                    "Could not get a {service} access token: {e}. This is usually temporary; retry in a minute."
                )
            }
            Self::Credentials(e) => format!("Could not get a {service} access token: {e}."),
            Self::Api(a) if a.meta.is_some() => explain_meta(a, service),
            Self::Api(a) => {
                let code = a.http_status.as_u16();
                let wait = a
                    .retry_after
                    .map(|d| format!(" Retry in about {} s.", d.as_secs().max(1)))
                    .unwrap_or_else(|| " Retry in a minute.".to_owned());
                match code {
                    401 => format!(
                        "{service} rejected the credentials even after a token refresh ({}). \
                         Reconnect the {service} integration.",
                        a.summary()
                    ),
                    _ if a.is_service_disabled() => format!(
                        "The {service} API is not enabled in the Google Cloud project of this \
                         server's OAuth client ({}). An operator must enable it in the Google Cloud \
                         console (APIs & Services); the shop's connection is fine.",
                        a.summary()
                    ),
                    403 if a.is_quota() => format!(
                        "{service} rate limit or quota reached ({}), still limited after {} attempt(s).{wait}",
                        a.summary(),
                        a.attempts
                    ),
                    403 if a.reason.as_deref() == Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT") => {
                        format!(
                            "The {service} authorization lacks the required scope ({}). Reconnect the \
                         integration and grant read access.",
                            a.summary()
                        )
                    }
                    403 => format!(
                        "{service} denied access ({}). Check that the account has access to this resource.",
                        a.summary()
                    ),
                    404 => format!(
                        "{service} found no such resource ({}). Check the id.",
                        a.summary()
                    ),
                    429 => format!(
                        "{service} rate limit or quota reached ({}), still limited after {} attempt(s).{wait}",
                        a.summary(),
                        a.attempts
                    ),
                    500..=599 => format!(
                        "{service} is having trouble ({}), still failing after {} attempt(s).{wait}",
                        a.summary(),
                        a.attempts
                    ),
                    _ => format!("{service} refused the request ({}).", a.summary()),
                }
            }
            Self::Timeout => format!(
                "{service} did not answer in time. Retry, or ask for less data (shorter date range, fewer dimensions)."
            ),
            Self::Transport(e) => format!("Cannot reach {service}: {e}. Retry in a minute."),
            Self::Decode(e) => format!("{service} answered something unexpected: {e}."),
            Self::Internal(e) => format!("Internal error in this server: {e}."),
        }
    }
}

fn explain_meta(a: &ApiError, service: &str) -> String {
    let Some(m) = a.meta else { return a.summary() };
    let code = match m.subcode {
        Some(sub) => format!("Meta error {}/{sub}", m.code),
        None => format!("Meta error {}", m.code),
    };
    match m.code {
        190 => format!(
            "The {service} access token is invalid or expired ({code}: {}). Reconnect {service} in the dashboard.",
            a.message
        ),
        _ if m.is_rate_limit() => {
            let wait = a
                .retry_after
                .map(|d| format!("about {} min", d.as_secs().div_ceil(60).max(1)))
                .unwrap_or_else(|| "a few minutes".to_owned());
            format!(
                "{service} rate limit reached ({code}: {}), still limited after {} attempt(s). Retry in {wait}; ask for fewer objects or a shorter date range meanwhile.",
                a.message, a.attempts
            )
        }
        10 | 200..=299 => format!(
            "{service} denied the request ({code}: {}). The connection lacks the ads_read permission for this account: reconnect it and grant ads_read.",
            a.message
        ),
        _ if m.transient => format!(
            "{service} had a temporary problem ({code}: {}). Retry in a minute.",
            a.message
        ),
        _ => format!("{service} refused the request ({code}: {}).", a.message),
    }
}

/// The first `retryDelay` (`"30s"`, `"1.5s"`) anywhere in an error envelope's details.
fn retry_delay(envelope: &Value) -> Option<Duration> {
    fn find(v: &Value, depth: usize) -> Option<Duration> {
        if depth > 8 {
            return None;
        }
        match v {
            Value::Object(m) => {
                if let Some(d) = m.get("retryDelay").and_then(Value::as_str) {
                    let secs: f64 = d.strip_suffix('s')?.trim().parse().ok()?;
                    return (secs.is_finite() && secs >= 0.0)
                        .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
                }
                m.values().find_map(|x| find(x, depth + 1))
            }
            Value::Array(a) => a.iter().find_map(|x| find(x, depth + 1)),
            _ => None,
        }
    }
    find(envelope.get("details")?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_delay_in_the_body_counts_and_403_quotas_are_quotas() {
        let body = br#"{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}"#;
        let e = ApiError::from_response(StatusCode::TOO_MANY_REQUESTS, body, None);
        assert_eq!(e.retry_after, Some(Duration::from_secs(17)));
        // A header wins over the body.
        let e = ApiError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            body,
            Some(Duration::from_secs(3)),
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        // Ads: nested in the failure's error details.
        let ads = br#"[{"error":{"code":429,"message":"Too many requests","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure","errors":[{"errorCode":{"quotaError":"RESOURCE_EXHAUSTED"},"details":{"quotaErrorDetails":{"rateScope":"DEVELOPER","rateName":"Requests","retryDelay":"1.5s"}}}]}]}}]"#;
        let e = ApiError::from_response(StatusCode::TOO_MANY_REQUESTS, ads, None);
        assert_eq!(e.retry_after, Some(Duration::from_millis(1500)));
        let gsc = br#"{"error":{"code":403,"message":"Rate","errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate"}]}}"#;
        let e = ApiError::from_response(StatusCode::FORBIDDEN, gsc, None);
        assert!(e.is_quota() && e.is_retryable());
        let daily =
            br#"{"error":{"code":403,"message":"Q","errors":[{"reason":"quotaExceeded"}]}}"#;
        let e = ApiError::from_response(StatusCode::FORBIDDEN, daily, None);
        assert!(e.is_quota() && !e.is_retryable());
        let off = br#"{"error":{"code":403,"message":"off","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED"}]}}"#;
        let e = ApiError::from_response(StatusCode::FORBIDDEN, off, None);
        assert!(e.is_service_disabled() && !e.is_retryable());
        let text = UpstreamError::Api(Box::new(e)).explain("Google Analytics");
        assert!(text.contains("not enabled"), "{text}");
    }

    #[test]
    fn parses_google_envelope_with_error_info() {
        let body = br#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}"#;
        let e = ApiError::from_response(StatusCode::FORBIDDEN, body, None);
        assert_eq!(e.status.as_deref(), Some("PERMISSION_DENIED"));
        assert_eq!(e.reason.as_deref(), Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT"));
        let text = UpstreamError::Api(Box::new(e)).explain("Google Analytics");
        assert!(text.contains("scope"), "{text}");
    }

    #[test]
    fn parses_v1_errors_array_and_stream_arrays() {
        let body = br#"[{"error":{"code":429,"message":"Rate Limit Exceeded","errors":[{"reason":"rateLimitExceeded"}]}}]"#;
        let e = ApiError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            body,
            Some(Duration::from_secs(30)),
        );
        assert_eq!(e.reason.as_deref(), Some("rateLimitExceeded"));
        let text = UpstreamError::Api(Box::new(e)).explain("Search Console");
        assert!(text.contains("30 s"), "{text}");
    }

    #[test]
    fn non_json_bodies_are_excerpted() {
        let body = "x".repeat(1000);
        let e = ApiError::from_response(StatusCode::BAD_GATEWAY, body.as_bytes(), None);
        assert!(e.message.len() < 320);
        assert!(e.summary().starts_with("502: "));
    }

    #[test]
    fn meta_errors_are_read_from_metas_envelope() {
        let body = br#"{"error":{"message":"User request limit reached","type":"OAuthException","code":17,"error_subcode":2446079,"is_transient":true,"fbtrace_id":"x"}}"#;
        let e = ApiError::from_response(
            StatusCode::BAD_REQUEST,
            body,
            Some(Duration::from_secs(300)),
        );
        assert_eq!(
            e.meta,
            Some(MetaError {
                code: 17,
                subcode: Some(2446079),
                transient: true
            })
        );
        assert!(e.is_retryable(), "Meta throttles with HTTP 400");
        let text = UpstreamError::Api(Box::new(e)).explain("Meta Ads");
        assert!(
            text.contains("rate limit") && text.contains("about 5 min"),
            "{text}"
        );
        let body = br#"{"error":{"message":"Session has expired","type":"OAuthException","code":190,"error_subcode":463}}"#;
        let e = ApiError::from_response(StatusCode::BAD_REQUEST, body, None);
        assert!(!e.is_retryable());
        assert!(
            UpstreamError::Api(Box::new(e))
                .explain("Meta Ads")
                .contains("Reconnect Meta Ads")
        );
        // Google's envelope is not mistaken for Meta's.
        let body = br#"{"error":{"code":400,"message":"x","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(
            ApiError::from_response(StatusCode::BAD_REQUEST, body, None).meta,
            None
        );
    }

    #[test]
    fn revoked_credentials_say_reconnect() {
        let text = UpstreamError::Credentials(CredentialError::Revoked).explain("Google Analytics");
        assert!(
            text.contains("Reconnect the Google Analytics integration"),
            "{text}"
        );
    }
}
