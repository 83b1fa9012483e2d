//! Google's `google.rpc.Status` error envelope as served by the REST APIs.
//!
//! Shape: `{"error": {"code", "message", "status", "details": [ErrorInfo, RetryInfo?]}}`.
//! Only auth failures and injected faults carry `details` (as Google's front end does);
//! business errors of an API (bad metric, no access to a property) carry code, message and
//! status only.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::http;

/// Message Google sends when no credential is present.
pub const MSG_CREDENTIALS_MISSING: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
/// Message Google sends for an unknown, expired or revoked access token.
pub const MSG_INVALID_CREDENTIALS: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
/// Message Google sends when the token lacks the method's scopes.
pub const MSG_SCOPE_INSUFFICIENT: &str = "Request had insufficient authentication scopes.";
/// `WWW-Authenticate` realm of Google's OAuth front end.
pub const REALM: &str = "Bearer realm=\"https://accounts.google.com/\"";

/// Identifies the API method an error belongs to (for `ErrorInfo.metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodId {
    /// e.g. `analyticsdata.googleapis.com`.
    pub service: &'static str,
    /// e.g. `google.analytics.data.v1beta.BetaAnalyticsData.RunReport`.
    pub method: &'static str,
}

/// A Google API error ready to be rendered.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub http: StatusCode,
    /// `google.rpc.Code` name, e.g. `INVALID_ARGUMENT`.
    pub status: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `ErrorInfo.reason`; when set, an ErrorInfo detail is emitted.
    pub reason: Option<&'static str>,
    /// Method for `ErrorInfo.metadata`.
    pub method: Option<MethodId>,
    /// Seconds for `Retry-After` and a RetryInfo detail.
    pub retry_after: Option<u32>,
    /// The delay only in the RetryInfo detail, without the header (as Google sends it for
    /// some quota errors).
    pub retry_in_body_only: bool,
    /// Value of a `WWW-Authenticate` header (boxed to keep the error small).
    pub www_authenticate: Option<Box<str>>,
}

impl ApiError {
    /// An error with an explicit HTTP status and code name.
    pub fn new(http: StatusCode, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            http,
            status,
            message: message.into(),
            reason: None,
            method: None,
            retry_after: None,
            retry_in_body_only: false,
            www_authenticate: None,
        }
    }

    /// 400 INVALID_ARGUMENT.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }

    /// 403 PERMISSION_DENIED.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", message)
    }

    /// 404 NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 401 for a request without any credential.
    pub fn credentials_missing(method: Option<MethodId>) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            MSG_CREDENTIALS_MISSING,
        );
        e.reason = Some("CREDENTIALS_MISSING");
        e.method = method;
        e.www_authenticate = Some(REALM.into());
        e
    }

    /// 401 for an unknown, expired or revoked access token.
    pub fn invalid_credentials(method: Option<MethodId>, reason: &'static str) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            MSG_INVALID_CREDENTIALS,
        );
        e.reason = Some(reason);
        e.method = method;
        e.www_authenticate = Some(format!("{REALM}, error=\"invalid_token\"").into());
        e
    }

    /// 403 for a token without any of the method's scopes.
    pub fn scope_insufficient(method: Option<MethodId>, accepted: &[&str]) -> Self {
        let mut e = Self::permission_denied(MSG_SCOPE_INSUFFICIENT);
        e.reason = Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT");
        e.method = method;
        e.www_authenticate = Some(
            format!(
                "{REALM}, error=\"insufficient_scope\", scope=\"{}\"",
                accepted.join(" ")
            )
            .into(),
        );
        e
    }

    /// The error Google's front end would produce for an HTTP status (used by faults).
    pub fn for_status(http: StatusCode, method: Option<MethodId>) -> Self {
        let code = http.as_u16();
        let (status, message, reason): (&'static str, &str, &'static str) = match code {
            400 => (
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                "BAD_REQUEST",
            ),
            401 => (
                "UNAUTHENTICATED",
                MSG_INVALID_CREDENTIALS,
                "ACCESS_TOKEN_EXPIRED",
            ),
            403 => (
                "PERMISSION_DENIED",
                "The caller does not have permission",
                "PERMISSION_DENIED",
            ),
            404 => ("NOT_FOUND", "Requested entity was not found.", "NOT_FOUND"),
            409 => ("ABORTED", "The operation was aborted.", "ABORTED"),
            429 => (
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
                "RATE_LIMIT_EXCEEDED",
            ),
            499 => ("CANCELLED", "The operation was cancelled.", "CANCELLED"),
            500 => ("INTERNAL", "Internal error encountered.", "INTERNAL"),
            501 => (
                "UNIMPLEMENTED",
                "Operation is not implemented, or supported, or enabled.",
                "UNIMPLEMENTED",
            ),
            502 => ("UNAVAILABLE", "Bad gateway.", "BAD_GATEWAY"),
            503 => (
                "UNAVAILABLE",
                "The service is currently unavailable.",
                "SERVICE_UNAVAILABLE",
            ),
            504 => (
                "DEADLINE_EXCEEDED",
                "The request timed out.",
                "DEADLINE_EXCEEDED",
            ),
            c if c < 500 => (
                "FAILED_PRECONDITION",
                "Request failed.",
                "FAILED_PRECONDITION",
            ),
            _ => ("UNKNOWN", "Unknown error.", "UNKNOWN"),
        };
        let mut e = Self::new(http, status, message);
        e.reason = Some(reason);
        e.method = method;
        if code == 401 {
            e.www_authenticate = Some(format!("{REALM}, error=\"invalid_token\"").into());
        }
        e
    }

    /// Attaches the method (for ErrorInfo) if not set yet.
    pub fn with_method(mut self, method: Option<MethodId>) -> Self {
        if self.method.is_none() {
            self.method = method;
        }
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        serde_json::to_value(self.envelope()).unwrap_or(Value::Null)
    }

    /// The body as a typed envelope (keeps Google's field order when serialized).
    fn envelope(&self) -> Envelope<'_> {
        let mut details = Vec::new();
        if let Some(reason) = self.reason {
            let mut info = Map::new();
            info.insert(
                "@type".into(),
                json!("type.googleapis.com/google.rpc.ErrorInfo"),
            );
            info.insert("reason".into(), json!(reason));
            info.insert("domain".into(), json!("googleapis.com"));
            if let Some(m) = self.method {
                info.insert(
                    "metadata".into(),
                    json!({"service": m.service, "method": m.method}),
                );
            }
            details.push(Value::Object(info));
        }
        if let Some(secs) = self.retry_after {
            details.push(json!({
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format!("{secs}s"),
            }));
        }
        Envelope {
            error: Status {
                code: self.http.as_u16(),
                message: &self.message,
                status: self.status,
                details,
            },
        }
    }

    /// Renders the error, pretty-printed or compact.
    pub fn render(&self, pretty: bool) -> Response {
        let mut response = http::json(self.http, &self.envelope(), pretty);
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after
            && !self.retry_in_body_only
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(value) = &self.www_authenticate
            && let Ok(value) = HeaderValue::from_str(value.as_ref())
        {
            headers.insert(HeaderName::from_static("www-authenticate"), value);
        }
        response
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Status<'a>,
}

#[derive(Serialize)]
struct Status<'a> {
    code: u16,
    message: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(true)
    }
}

/// `ErrorInfo.reason`s a fault may ask for: what Google sends for rate limits and quotas
/// (Search Console and the older APIs in `errors[].reason` style names, the newer ones in
/// upper case) and for an API not enabled in the caller's project.
pub const KNOWN_REASONS: [&str; 6] = [
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "RATE_LIMIT_EXCEEDED",
    "SERVICE_DISABLED",
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
];

/// `reason` as one of [`KNOWN_REASONS`].
pub fn known_reason(reason: &str) -> Option<&'static str> {
    KNOWN_REASONS.iter().copied().find(|r| *r == reason)
}

/// Google's message for `reason`.
pub fn reason_message(reason: &str) -> &'static str {
    match reason {
        "rateLimitExceeded" | "RATE_LIMIT_EXCEEDED" => {
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute'."
        }
        "userRateLimitExceeded" => "User rate limit exceeded.",
        "quotaExceeded" => "Search Analytics load quota exceeded.",
        "SERVICE_DISABLED" => {
            "API has not been used in project 123456789012 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/library then retry."
        }
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT" => "Request had insufficient authentication scopes.",
        _ => "The caller does not have permission",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_errors_carry_error_info() {
        let m = MethodId {
            service: "analyticsdata.googleapis.com",
            method: "google.analytics.data.v1beta.BetaAnalyticsData.RunReport",
        };
        let body = ApiError::credentials_missing(Some(m)).body();
        assert_eq!(body["error"]["code"], 401);
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(body["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");
        assert_eq!(
            body["error"]["details"][0]["metadata"]["service"],
            "analyticsdata.googleapis.com"
        );
    }

    #[test]
    fn business_errors_have_no_details() {
        let body = ApiError::invalid_argument("bad").body();
        assert!(body["error"].get("details").is_none());
    }

    #[test]
    fn fault_statuses_map_to_codes() {
        let mut e = ApiError::for_status(StatusCode::TOO_MANY_REQUESTS, None);
        e.retry_after = Some(2);
        let body = e.body();
        assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(body["error"]["details"][1]["retryDelay"], "2s");
        let response = e.render(false);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            ApiError::for_status(StatusCode::SERVICE_UNAVAILABLE, None).status,
            "UNAVAILABLE"
        );
    }
}
