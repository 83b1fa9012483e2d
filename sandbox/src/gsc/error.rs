//! Search Console's error bodies. The webmasters v3 methods answer in Google's "v1 error
//! format": the `google.rpc.Status` fields plus an `errors` array with a legacy `reason`
//! (`badRequest`, `forbidden`, `notFound`, `required`, `authError`,
//! `insufficientPermissions`, …). The v1 URL Inspection API answers plain `google.rpc.Status`
//! (see `google::rpc`), so only v3 responses go through [`render_v3`].

use axum::http::{HeaderName, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use crate::google::rpc::ApiError;
use crate::http;

/// Message GSC sends for a property the caller may not use.
pub fn forbidden_message(site: &str) -> String {
    format!(
        "User does not have sufficient permission for site '{site}'. See also: https://support.google.com/webmasters/answer/2451999."
    )
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Status<'a>,
}

#[derive(Serialize)]
struct Status<'a> {
    code: u16,
    message: &'a str,
    errors: [Legacy<'a>; 1],
    status: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Legacy<'a> {
    message: &'a str,
    domain: &'static str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_type: Option<&'static str>,
}

/// The legacy `errors[0]` of an error: (message, domain, reason, location in a header).
fn legacy(e: &ApiError) -> (&str, &'static str, &'static str, bool) {
    match e.reason {
        Some("CREDENTIALS_MISSING") => ("Login Required.", "global", "required", true),
        Some("ACCESS_TOKEN_EXPIRED" | "ACCESS_TOKEN_TYPE_UNSUPPORTED") => {
            ("Invalid Credentials", "global", "authError", true)
        }
        Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT") => (
            "Insufficient Permission",
            "global",
            "insufficientPermissions",
            false,
        ),
        _ => {
            let (domain, reason) = match e.http.as_u16() {
                400 => ("global", "badRequest"),
                401 => ("global", "authError"),
                403 => ("global", "forbidden"),
                404 => ("global", "notFound"),
                405 => ("global", "httpMethodNotAllowed"),
                409 => ("global", "conflict"),
                429 => ("usageLimits", "rateLimitExceeded"),
                503 => ("global", "backendError"),
                c if c >= 500 => ("global", "internalError"),
                _ => ("global", "invalid"),
            };
            (e.message.as_str(), domain, reason, false)
        }
    }
}

/// Renders an error in the webmasters v3 format, keeping `WWW-Authenticate`/`Retry-After`.
pub fn render_v3(e: &ApiError, pretty: bool) -> Response {
    let (message, domain, reason, in_header) = legacy(e);
    // Reuse `google::rpc`'s details (ErrorInfo, RetryInfo) rather than rebuilding them.
    let details = match e.body().pointer("/error/details") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let body = Envelope {
        error: Status {
            code: e.http.as_u16(),
            message: &e.message,
            errors: [Legacy {
                message,
                domain,
                reason,
                location: in_header.then_some("Authorization"),
                location_type: in_header.then_some("header"),
            }],
            status: e.status,
            details,
        },
    };
    let mut response = http::json(e.http, &body, pretty);
    let donor = e.render(pretty);
    for name in [
        HeaderName::from_static("www-authenticate"),
        header::RETRY_AFTER,
    ] {
        if let Some(value) = donor.headers().get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn v3_errors_carry_a_legacy_reason() {
        let v = body(render_v3(
            &ApiError::permission_denied(forbidden_message("sc-domain:x.example")),
            false,
        ))
        .await;
        assert_eq!(v["error"]["code"], 403);
        assert_eq!(v["error"]["status"], "PERMISSION_DENIED");
        assert_eq!(v["error"]["errors"][0]["reason"], "forbidden");
        assert_eq!(v["error"]["errors"][0]["domain"], "global");
        assert_eq!(v["error"]["errors"][0]["message"], v["error"]["message"]);
        assert!(v["error"].get("details").is_none());

        let missing = ApiError::credentials_missing(None);
        let r = render_v3(&missing, false);
        assert!(r.headers().get("www-authenticate").is_some());
        let v = body(r).await;
        assert_eq!(v["error"]["errors"][0]["reason"], "required");
        assert_eq!(v["error"]["errors"][0]["location"], "Authorization");
        assert_eq!(v["error"]["errors"][0]["locationType"], "header");
        assert_eq!(v["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");

        let v = body(render_v3(&ApiError::invalid_argument("bad"), false)).await;
        assert_eq!(v["error"]["errors"][0]["reason"], "badRequest");
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    }
}
