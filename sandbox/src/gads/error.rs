//! Google Ads API errors: a `google.rpc.Status` whose `details` carry one
//! `GoogleAdsFailure` (`errors[]` of `{errorCode: {<category>: <ENUM>}, message, trigger?,
//! location?, details?}` plus the `requestId`).
//!
//! Errors raised by Google's front end before the Ads backend sees the request (a token
//! without the `adwords` scope, an unparsable JSON body) carry a plain `ErrorInfo` or no
//! detail at all instead, as they do upstream.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::google::rpc::{ApiError, MSG_INVALID_CREDENTIALS, REALM};
use crate::http;

/// Status-level message of every 400 the Ads backend produces.
pub const MSG_INVALID_ARGUMENT: &str = "Request contains an invalid argument.";
/// Status-level message of every 403 the Ads backend produces.
pub const MSG_NO_PERMISSION: &str = "The caller does not have permission";
/// Google's message for a customer the caller cannot reach (or a missing
/// `login-customer-id`).
pub const MSG_USER_PERMISSION_DENIED: &str = "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header. See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid";

/// Back-off a quota error advertises when the fault did not configure one.
const DEFAULT_RETRY_SECS: u64 = 30;

/// One entry of `GoogleAdsFailure.errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdsErrorItem {
    /// Error-code category, e.g. `queryError`.
    pub category: &'static str,
    /// Enum name inside the category, e.g. `UNRECOGNIZED_FIELD`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The offending value (`trigger.stringValue`), e.g. the unknown field name.
    pub trigger: Option<String>,
    /// Request field the error is about (`location.fieldPathElements[].fieldName`).
    pub location: Option<&'static str>,
    /// `details.quotaErrorDetails` as `(rateScope, rateName, retry seconds)`.
    pub quota: Option<(&'static str, &'static str, u64)>,
}

/// A Google Ads error ready to be rendered.
#[derive(Debug, Clone)]
pub struct AdsError {
    /// HTTP status.
    pub http: StatusCode,
    /// `google.rpc.Code` name.
    pub status: &'static str,
    /// Status-level message.
    pub message: String,
    /// `GoogleAdsFailure.errors`; empty means the front end answered (no failure detail).
    pub errors: Vec<AdsErrorItem>,
    /// `ErrorInfo.reason` for front-end errors (scope), with the Ads service as metadata.
    pub error_info: Option<&'static str>,
    /// `Retry-After` seconds.
    pub retry_after: Option<u32>,
    /// `WWW-Authenticate` value for 401/403 auth errors (boxed to keep the error small).
    pub www_authenticate: Option<Box<str>>,
}

impl AdsError {
    fn with_item(
        http: StatusCode,
        status: &'static str,
        message: &str,
        category: &'static str,
        code: &'static str,
        item_message: impl Into<String>,
    ) -> Self {
        Self {
            http,
            status,
            message: message.to_string(),
            errors: vec![AdsErrorItem {
                category,
                code,
                message: item_message.into(),
                trigger: None,
                location: None,
                quota: None,
            }],
            error_info: None,
            retry_after: None,
            www_authenticate: None,
        }
    }

    /// 400 `queryError` about the `query` field, naming the offending text when known.
    pub fn query(code: &'static str, message: impl Into<String>, trigger: Option<String>) -> Self {
        let mut e = Self::with_item(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            MSG_INVALID_ARGUMENT,
            "queryError",
            code,
            message,
        );
        if let Some(item) = e.errors.first_mut() {
            item.trigger = trigger;
            item.location = Some("query");
        }
        e
    }

    /// 400 `requestError`.
    pub fn request(code: &'static str, message: impl Into<String>) -> Self {
        Self::with_item(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            MSG_INVALID_ARGUMENT,
            "requestError",
            code,
            message,
        )
    }

    /// 400 `headerError`.
    pub fn header(code: &'static str, message: impl Into<String>) -> Self {
        Self::with_item(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            MSG_INVALID_ARGUMENT,
            "headerError",
            code,
            message,
        )
    }

    /// 403 `authorizationError`.
    pub fn authorization(code: &'static str, message: impl Into<String>) -> Self {
        Self::with_item(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            MSG_NO_PERMISSION,
            "authorizationError",
            code,
            message,
        )
    }

    /// 403 `USER_PERMISSION_DENIED` with Google's wording.
    pub fn user_permission_denied() -> Self {
        Self::authorization("USER_PERMISSION_DENIED", MSG_USER_PERMISSION_DENIED)
    }

    /// 401 `authenticationError` (token missing, unknown, expired or revoked).
    pub fn authentication(code: &'static str) -> Self {
        let item = match code {
            "OAUTH_TOKEN_EXPIRED" => "OAuth token in the header has expired.",
            "OAUTH_TOKEN_REVOKED" => "OAuth token in the header has been revoked.",
            "OAUTH_TOKEN_HEADER_INVALID" => "OAuth token HTTP header is malformed.",
            _ => "OAuth token in the header is not valid.",
        };
        let mut e = Self::with_item(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            MSG_INVALID_CREDENTIALS,
            "authenticationError",
            code,
            item,
        );
        e.www_authenticate = Some(format!("{REALM}, error=\"invalid_token\"").into());
        e
    }

    /// 429 `quotaError: RESOURCE_EXHAUSTED` with `quotaErrorDetails`.
    pub fn quota(retry_secs: Option<u64>) -> Self {
        let secs = retry_secs.unwrap_or(DEFAULT_RETRY_SECS);
        let mut e = Self::with_item(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            "quotaError",
            "RESOURCE_EXHAUSTED",
            format!("Too many requests. Retry in {secs} seconds."),
        );
        if let Some(item) = e.errors.first_mut() {
            item.quota = Some(("ACCOUNT", "Requests per account", secs));
        }
        e.retry_after = retry_secs.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
        e
    }

    /// 500 `internalError: INTERNAL_ERROR`.
    pub fn internal() -> Self {
        Self::with_item(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal error encountered.",
            "internalError",
            "INTERNAL_ERROR",
            "An internal error has occurred.",
        )
    }

    /// 503 `internalError: TRANSIENT_ERROR`.
    pub fn unavailable() -> Self {
        Self::with_item(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            "internalError",
            "TRANSIENT_ERROR",
            "The request failed due to a transient error; retry it.",
        )
    }

    /// A front-end error (no `GoogleAdsFailure`), e.g. an unparsable JSON body or a 404.
    pub fn front_end(e: &ApiError) -> Self {
        Self {
            http: e.http,
            status: e.status,
            message: e.message.clone(),
            errors: Vec::new(),
            error_info: e.reason,
            retry_after: e.retry_after,
            www_authenticate: e.www_authenticate.clone(),
        }
    }

    fn details(&self, version: &str, request_id: &str) -> Vec<Value> {
        let mut details = Vec::new();
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self.errors.iter().map(item_json).collect();
            details.push(json!({
                "@type": format!("type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"),
                "errors": errors,
                "requestId": request_id,
            }));
        }
        if let Some(reason) = self.error_info {
            details.push(json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "googleads.googleapis.com"},
            }));
        }
        details
    }

    /// The `error` object (the part inside `{"error": …}`), for assertions.
    #[cfg(test)]
    pub fn status_json(&self, version: &str, request_id: &str) -> Value {
        serde_json::to_value(self.status_body(version, request_id)).unwrap_or(Value::Null)
    }

    /// The typed body, which keeps Google's field order when serialized.
    fn status_body(&self, version: &str, request_id: &str) -> StatusBody<'_> {
        StatusBody {
            code: self.http.as_u16(),
            message: &self.message,
            status: self.status,
            details: self.details(version, request_id),
        }
    }

    /// Renders `{"error": …}` (or `[{"error": …}]` for searchStream) with the headers
    /// Google sends alongside.
    pub fn render(&self, version: &str, request_id: &str, pretty: bool, stream: bool) -> Response {
        let envelope = Envelope {
            error: self.status_body(version, request_id),
        };
        let mut response = if stream {
            http::json(self.http, &[envelope], pretty)
        } else {
            http::json(self.http, &envelope, pretty)
        };
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert(HeaderName::from_static("request-id"), v);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(value) = &self.www_authenticate
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// The first error code as `category:CODE` (for logs and tests).
    pub fn code(&self) -> Option<String> {
        self.errors
            .first()
            .map(|i| format!("{}:{}", i.category, i.code))
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: StatusBody<'a>,
}

#[derive(Serialize)]
struct StatusBody<'a> {
    code: u16,
    message: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<Value>,
}

fn item_json(item: &AdsErrorItem) -> Value {
    let mut code = Map::new();
    code.insert(item.category.into(), json!(item.code));
    let mut out = Map::new();
    out.insert("errorCode".into(), Value::Object(code));
    out.insert("message".into(), json!(item.message));
    if let Some(t) = &item.trigger {
        out.insert("trigger".into(), json!({"stringValue": t}));
    }
    if let Some(field) = item.location {
        out.insert(
            "location".into(),
            json!({"fieldPathElements": [{"fieldName": field}]}),
        );
    }
    if let Some((scope, name, secs)) = item.quota {
        out.insert(
            "details".into(),
            json!({"quotaErrorDetails": {"rateScope": scope, "rateName": name, "retryDelay": format!("{secs}s")}}),
        );
    }
    Value::Object(out)
}

/// A fresh request id: 22 URL-safe characters, like Google's.
pub fn new_request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    rand::random::<[u8; 22]>()
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_error_shape() {
        let e = AdsError::query(
            "UNRECOGNIZED_FIELD",
            "Unrecognized field in the query: 'campaign.nme'.",
            Some("campaign.nme".into()),
        );
        let v = e.status_json("v26", "rid");
        assert_eq!(v["code"], 400);
        assert_eq!(v["status"], "INVALID_ARGUMENT");
        let d = &v["details"][0];
        assert_eq!(
            d["@type"],
            "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
        );
        assert_eq!(
            d["errors"][0]["errorCode"]["queryError"],
            "UNRECOGNIZED_FIELD"
        );
        assert_eq!(d["errors"][0]["trigger"]["stringValue"], "campaign.nme");
        assert_eq!(
            d["errors"][0]["location"]["fieldPathElements"][0]["fieldName"],
            "query"
        );
        assert_eq!(d["requestId"], "rid");
    }

    #[test]
    fn quota_error_has_retry_delay() {
        let v = AdsError::quota(Some(7)).status_json("v26", "r");
        let item = &v["details"][0]["errors"][0];
        assert_eq!(item["errorCode"]["quotaError"], "RESOURCE_EXHAUSTED");
        assert_eq!(item["details"]["quotaErrorDetails"]["retryDelay"], "7s");
        assert_eq!(item["details"]["quotaErrorDetails"]["rateScope"], "ACCOUNT");
    }

    #[test]
    fn request_ids_are_url_safe() {
        let id = new_request_id();
        assert_eq!(id.len(), 22);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
