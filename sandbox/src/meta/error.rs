//! Meta's Graph API error envelope: `{"error":{"message","type","code","error_subcode",
//! "is_transient","error_user_title","error_user_msg","fbtrace_id"}}`, almost always with
//! HTTP 400 (auth and throttling included) and 500 only for transient server faults.
//!
//! Every error a Meta endpoint can answer is a [`GraphError`] built by one of the named
//! constructors below, so the wording of each case lives in exactly one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::http;

/// The `type` of a Graph error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Auth, permissions, parameters and throttling.
    OAuth,
    /// An object that does not exist or cannot be read (`100/33`).
    GraphMethod,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            Self::OAuth => "OAuthException",
            Self::GraphMethod => "GraphMethodException",
        }
    }
}

/// Why a token's session was invalidated (`/__sandbox/meta/revoke` `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// Subcode 460: the user changed their password (the default).
    PasswordChanged,
    /// Subcode 458: the user removed the app.
    AppRemoved,
    /// Subcode 467: the user logged out.
    LoggedOut,
}

impl Revocation {
    /// The `error_subcode` Meta uses for this case.
    pub fn subcode(self) -> u32 {
        match self {
            Self::PasswordChanged => 460,
            Self::AppRemoved => 458,
            Self::LoggedOut => 467,
        }
    }
}

/// One Graph API error, rendered by [`GraphError::render`].
#[derive(Debug, Clone)]
pub struct GraphError {
    /// HTTP status (400 unless transient).
    pub status: StatusCode,
    /// `code`.
    pub code: u32,
    /// `error_subcode`.
    pub subcode: Option<u32>,
    /// `type`.
    pub kind: ErrorType,
    /// `message`.
    pub message: String,
    /// `is_transient`, when Meta sends it.
    pub transient: Option<bool>,
    /// `error_user_title`.
    pub user_title: Option<String>,
    /// `error_user_msg`.
    pub user_msg: Option<String>,
    /// Token errors carry `WWW-Authenticate: OAuth "Facebook Platform" …` like Meta's.
    pub www_authenticate: bool,
}

/// Where Meta's parameter-error messages point for the insights field list.
const INSIGHTS_DOC: &str =
    "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/";
/// Where the rate-limit messages point.
const RATE_DOC: &str = "https://developers.facebook.com/docs/graph-api/overview/rate-limiting";

impl GraphError {
    pub(crate) fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            subcode: None,
            kind: ErrorType::OAuth,
            message: message.into(),
            transient: None,
            user_title: None,
            user_msg: None,
            www_authenticate: false,
        }
    }

    fn token(mut self) -> Self {
        self.www_authenticate = true;
        self
    }

    fn sub(mut self, subcode: u32) -> Self {
        self.subcode = Some(subcode);
        self
    }

    fn transient(mut self) -> Self {
        self.transient = Some(true);
        self
    }

    /// No token on a `/me…` path (code 2500).
    pub fn missing_token_me() -> Self {
        Self::new(
            2500,
            "An active access token must be used to query information about the current user.",
        )
        .token()
    }

    /// No token on any other path (code 104).
    pub fn missing_token() -> Self {
        Self::new(104, "An access token is required to request this resource.").token()
    }

    /// An unknown or malformed token (190, no subcode).
    pub fn invalid_token() -> Self {
        Self::new(
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
        .token()
    }

    /// An expired token (190/463), with Meta's Pacific-time wording.
    pub fn expired(expired_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self::new(
            190,
            format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                pacific(expired_at),
                pacific(now)
            ),
        )
        .sub(463)
        .token()
    }

    /// A token whose session was invalidated (190/460, 458 or 467).
    pub fn revoked(reason: Revocation) -> Self {
        let message = match reason {
            Revocation::PasswordChanged => {
                "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
            }
            Revocation::AppRemoved => {
                "Error validating access token: The user has not authorized application."
            }
            Revocation::LoggedOut => {
                "Error validating access token: The session is invalid because the user logged out."
            }
        };
        Self::new(190, message).sub(reason.subcode()).token()
    }

    /// The token lacks `ads_read`/`ads_management` (code 200).
    pub fn no_ads_permission() -> Self {
        Self::new(
            200,
            "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
        )
    }

    /// An object the token cannot see or that does not exist (100/33).
    pub fn unsupported(method: &str, id: &str) -> Self {
        let mut e = Self::new(
            100,
            format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase()
            ),
        )
        .sub(33);
        e.kind = ErrorType::GraphMethod;
        e
    }

    /// A non-numeric alias that names nothing (code 803).
    pub fn unknown_alias(alias: &str) -> Self {
        Self::new(
            803,
            format!("(#803) Some of the aliases you requested do not exist: {alias}"),
        )
    }

    /// A version older than the oldest one still served (code 2635).
    pub fn deprecated_version(version: &str, latest: &str) -> Self {
        Self::new(
            2635,
            format!(
                "(#2635) You are calling a deprecated version of the Ads API ({version}). Please update to the latest version: {latest}."
            ),
        )
    }

    /// A field or edge that does not exist on a node type (code 100).
    pub fn nonexisting_field(field: &str, node: &str) -> Self {
        Self::new(
            100,
            format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node})"),
        )
    }

    /// Unknown insights fields (code 100), all named in one message like Meta's.
    pub fn invalid_insights_fields(fields: &[String]) -> Self {
        let verb = if fields.len() == 1 { "is" } else { "are" };
        Self::new(
            100,
            format!(
                "(#100) {} {verb} not valid for fields param. please check {INSIGHTS_DOC} for all valid values",
                fields.join(", ")
            ),
        )
    }

    /// An enum parameter with a value outside its list (code 100).
    pub fn not_one_of(param: &str, allowed: &[&str]) -> Self {
        Self::new(
            100,
            format!(
                "(#100) {param} must be one of the following values: {}",
                allowed.join(", ")
            ),
        )
    }

    /// Any other invalid parameter (code 100); `detail` follows the `(#100) ` prefix.
    pub fn invalid_param(detail: impl AsRef<str>) -> Self {
        Self::new(100, format!("(#100) {}", detail.as_ref()))
    }

    /// Breakdowns that cannot be combined (code 100).
    pub fn breakdown_combination(columns: &[&str]) -> Self {
        Self::new(
            100,
            format!(
                "(#100) Current combination of data breakdown columns ({}) is invalid ",
                columns.join(", ")
            ),
        )
    }

    /// A `time_range` reaching further back than insights keep data (code 3018).
    pub fn range_too_old() -> Self {
        Self::new(
            3018,
            "(#3018) The start date of the time range cannot be beyond 37 months from the current date",
        )
    }

    /// Any method but GET (the sandbox is read-only).
    pub fn read_only(method: &str, id: &str) -> Self {
        Self::unsupported(method, id)
    }

    /// A rate-limit error for a throttle `code` (4, 17, 613, 80000–80006).
    pub fn throttled(code: u32, insights: bool) -> Self {
        let e = match code {
            4 => {
                let e = Self::new(4, "(#4) Application request limit reached");
                if insights { e.sub(1_504_022) } else { e }
            }
            17 => Self::new(17, "(#17) User request limit reached").sub(2_446_079),
            613 => {
                let mut e = Self::new(613, "(#613) Calls to this api have exceeded the rate limit.")
                    .sub(1_487_742);
                e.user_title = Some("Too many calls".into());
                e.user_msg = Some(
                    "There have been too many calls from this ad-account. Wait a bit and try again."
                        .into(),
                );
                e
            }
            80000 => Self::new(
                80000,
                format!("(#80000) There have been too many calls from this ad-account. Wait a bit and try again. For more info, please refer to {RATE_DOC}#ads-insights."),
            )
            .sub(2_446_079),
            80001 => Self::new(
                80001,
                format!("(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to {RATE_DOC}."),
            )
            .sub(2_446_079),
            80002 => Self::new(
                80002,
                format!("(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to {RATE_DOC}."),
            )
            .sub(2_446_079),
            80003 => Self::new(
                80003,
                format!("(#80003) There have been too many calls for this custom audience. Wait a bit and try again. For more info, please refer to {RATE_DOC}#custom-audience."),
            )
            .sub(2_446_079),
            80005 => Self::new(
                80005,
                "(#80005) There have been too many leadgen api calls to this Page in a short period of time. Wait a bit and try again.",
            )
            .sub(2_446_079),
            80006 => Self::new(
                80006,
                "(#80006) There have been too many messenger api calls to this Page in a short period of time. Wait a bit and try again.",
            )
            .sub(2_446_079),
            // 80004 and anything unexpected: the ads-management BUC limit.
            _ => Self::new(
                80004,
                format!("(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to {RATE_DOC}#ads-management."),
            )
            .sub(2_446_079),
        };
        e.transient()
    }

    /// Whether `code` is one the throttle control accepts.
    pub fn is_throttle_code(code: u32) -> bool {
        matches!(code, 4 | 17 | 613 | 80000..=80006)
    }

    /// Code 1, "An unknown error has occurred." (transient).
    pub fn unknown() -> Self {
        Self::new(1, "An unknown error has occurred.").transient()
    }

    /// Code 2, a transient service error answered with HTTP 500.
    pub fn service_unavailable() -> Self {
        let mut e = Self::new(
            2,
            "An unexpected error has occurred. Please retry your request later.",
        )
        .transient();
        e.status = StatusCode::INTERNAL_SERVER_ERROR;
        e
    }

    /// The JSON body (a fresh `fbtrace_id` each time, as Meta's).
    pub fn body(&self, trace_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("message".into(), json!(self.message));
        error.insert("type".into(), json!(self.kind.as_str()));
        error.insert("code".into(), json!(self.code));
        if let Some(s) = self.subcode {
            error.insert("error_subcode".into(), json!(s));
        }
        if let Some(t) = self.transient {
            error.insert("is_transient".into(), json!(t));
        }
        if let Some(t) = &self.user_title {
            error.insert("error_user_title".into(), json!(t));
        }
        if let Some(m) = &self.user_msg {
            error.insert("error_user_msg".into(), json!(m));
        }
        error.insert("fbtrace_id".into(), json!(trace_id));
        json!({ "error": error })
    }

    /// The HTTP response: JSON body, `x-fb-trace-id`, and `WWW-Authenticate` on token errors.
    pub fn render(&self) -> Response {
        let trace = trace_id();
        let mut response = http::json(self.status, &self.body(&trace), false);
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&trace) {
            headers.insert("x-fb-trace-id", v);
        }
        if self.www_authenticate {
            // The message is ASCII by construction; a failure only drops the header.
            let value = format!(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                self.message.replace('"', "'")
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}

/// A random trace id shaped like Meta's (23 URL-safe characters).
pub fn trace_id() -> String {
    let bytes: [u8; 17] = rand::random();
    let mut id = super::paging::base64(&bytes);
    id.retain(|c| c != '=');
    id.replace(['+', '/'], "_")
}

/// `Monday, 19-Oct-26 10:00:00 PDT`: how Meta prints times in token errors.
fn pacific(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::America::Los_Angeles)
        .format("%A, %d-%b-%y %H:%M:%S %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn envelope_has_metas_keys() {
        let body = GraphError::throttled(17, false).body("AbC");
        assert_eq!(body["error"]["code"], 17);
        assert_eq!(body["error"]["error_subcode"], 2_446_079);
        assert_eq!(body["error"]["is_transient"], true);
        assert_eq!(body["error"]["type"], "OAuthException");
        assert_eq!(body["error"]["fbtrace_id"], "AbC");
        let body = GraphError::unsupported("GET", "act_9").body("x");
        assert_eq!(body["error"]["type"], "GraphMethodException");
        assert_eq!(body["error"]["error_subcode"], 33);
        assert!(body["error"].get("is_transient").is_none());
    }

    #[test]
    fn expiry_message_uses_pacific_time() {
        let at = Utc.with_ymd_and_hms(2026, 10, 19, 17, 0, 0).unwrap();
        let e = GraphError::expired(at, at + chrono::Duration::hours(1));
        assert_eq!(
            e.message,
            "Error validating access token: Session has expired on Monday, 19-Oct-26 10:00:00 PDT. The current time is Monday, 19-Oct-26 11:00:00 PDT."
        );
        assert_eq!(e.subcode, Some(463));
    }

    #[test]
    fn trace_ids_look_like_metas() {
        let id = trace_id();
        assert_eq!(id.len(), 23, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
    }
}
