//! GA4 Data API (v1beta + v1alpha) and Admin API (v1beta + v1alpha) emulation.
//!
//! Google's colon custom methods (`properties/123:runReport`) cannot be expressed as axum
//! routes, so everything under `/v1beta/` and `/v1alpha/` lands in [`handle`], which parses
//! the path itself ([`Route::parse`]), then runs the same pipeline for every method:
//! method check → query-parameter check → authentication → counters → scope → property
//! permission → body parsing → the method's handler.
//!
//! # Layout
//! - `catalog`: supported dimensions/metrics; `model`: the synthetic data model;
//!   `engine`: cell synthesis; `report`: run(Realtime)Report/batch/conversions;
//!   `funnel`: runFunnelReport; `metadata`; `admin`; `request`: request bodies;
//!   `filter`, `expr`, `dates`: helpers; `property`: property metadata.

pub mod admin;
pub mod catalog;
pub mod dates;
pub mod engine;
pub mod expr;
pub mod filter;
pub mod funnel;
pub mod metadata;
pub mod model;
pub mod property;
pub mod report;
pub mod request;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::google::auth;
use crate::google::rpc::{ApiError, MethodId};
use crate::http;
use crate::state::AppState;
use property::PropertyInfo;
use report::Version;

/// Largest request body accepted (Google's documented payload cap).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Data API service name.
pub const DATA_SERVICE: &str = "analyticsdata.googleapis.com";
/// Admin API service name.
pub const ADMIN_SERVICE: &str = "analyticsadmin.googleapis.com";

const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/analytics.readonly";
const SCOPE_FULL: &str = "https://www.googleapis.com/auth/analytics";
const SCOPE_EDIT: &str = "https://www.googleapis.com/auth/analytics.edit";
/// Scopes accepted by the Data API.
pub const DATA_SCOPES: &[&str] = &[SCOPE_FULL, SCOPE_READONLY];
/// Scopes accepted by the Admin API read methods.
pub const ADMIN_SCOPES: &[&str] = &[SCOPE_EDIT, SCOPE_FULL, SCOPE_READONLY];

/// GA4's message for a property the caller cannot read.
pub const MSG_NO_PROPERTY_ACCESS: &str = "User does not have sufficient permissions for this property. To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.";
/// The Admin API's message for a resource the caller cannot read.
pub const MSG_ADMIN_DENIED: &str = "The caller does not have permission";

/// Query parameters every Google REST method accepts.
const SYSTEM_PARAMS: &[&str] = &[
    "alt",
    "prettyPrint",
    "fields",
    "key",
    "quotaUser",
    "access_token",
    "$.xgafv",
    "callback",
    "upload_protocol",
    "uploadType",
    "oauth_token",
];

/// A recognised GA4 method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1beta|v1alpha/properties/{id}:runReport`.
    RunReport(Version, String),
    /// `POST /v1beta/properties/{id}:runRealtimeReport`.
    RunRealtimeReport(String),
    /// `POST /v1beta/properties/{id}:batchRunReports`.
    BatchRunReports(String),
    /// `POST /v1alpha/properties/{id}:runFunnelReport`.
    RunFunnelReport(String),
    /// `GET /v1beta/properties/{id}/metadata`.
    Metadata(String),
    /// `GET /v1beta/accountSummaries`.
    AccountSummaries,
    /// `GET /v1beta/properties/{id}`.
    GetProperty(String),
    /// `GET /v1beta/properties/{id}/googleAdsLinks`.
    GoogleAdsLinks(String),
    /// `GET /v1beta/properties/{id}/customDimensions`.
    CustomDimensions(String),
    /// `GET /v1beta/properties/{id}/customMetrics`.
    CustomMetrics(String),
    /// `GET /v1alpha/properties/{id}/reportingDataAnnotations`.
    ReportingDataAnnotations(String),
}

impl Route {
    /// Parses a percent-decoded path; `None` if it is not a GA4 method.
    pub fn parse(path: &str) -> Option<Route> {
        let (version, rest) = if let Some(rest) = path.strip_prefix("/v1beta/") {
            (Version::V1beta, rest)
        } else if let Some(rest) = path.strip_prefix("/v1alpha/") {
            (Version::V1alpha, rest)
        } else {
            return None;
        };
        if rest == "accountSummaries" && version == Version::V1beta {
            return Some(Route::AccountSummaries);
        }
        let rest = rest.strip_prefix("properties/")?;
        if let Some((id, method)) = rest.split_once(':') {
            if id.contains('/') {
                return None;
            }
            let id = id.to_string();
            return match (version, method) {
                (_, "runReport") => Some(Route::RunReport(version, id)),
                (Version::V1beta, "runRealtimeReport") => Some(Route::RunRealtimeReport(id)),
                (Version::V1beta, "batchRunReports") => Some(Route::BatchRunReports(id)),
                (Version::V1alpha, "runFunnelReport") => Some(Route::RunFunnelReport(id)),
                _ => None,
            };
        }
        let (id, sub) = match rest.split_once('/') {
            Some((id, sub)) => (id.to_string(), Some(sub)),
            None => (rest.to_string(), None),
        };
        if id.is_empty() {
            return None;
        }
        match (version, sub) {
            (Version::V1beta, None) => Some(Route::GetProperty(id)),
            (Version::V1beta, Some("metadata")) => Some(Route::Metadata(id)),
            (Version::V1beta, Some("googleAdsLinks")) => Some(Route::GoogleAdsLinks(id)),
            (Version::V1beta, Some("customDimensions")) => Some(Route::CustomDimensions(id)),
            (Version::V1beta, Some("customMetrics")) => Some(Route::CustomMetrics(id)),
            (Version::V1alpha, Some("reportingDataAnnotations")) => {
                Some(Route::ReportingDataAnnotations(id))
            }
            _ => None,
        }
    }

    /// The HTTP method the route answers.
    pub fn http_method(&self) -> Method {
        match self {
            Route::RunReport(..)
            | Route::RunRealtimeReport(_)
            | Route::BatchRunReports(_)
            | Route::RunFunnelReport(_) => Method::POST,
            _ => Method::GET,
        }
    }

    /// Whether the route belongs to the Data API (else Admin API).
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            Route::RunReport(..)
                | Route::RunRealtimeReport(_)
                | Route::BatchRunReports(_)
                | Route::RunFunnelReport(_)
                | Route::Metadata(_)
        )
    }

    /// The property id in the path, if any.
    pub fn property(&self) -> Option<&str> {
        match self {
            Route::AccountSummaries => None,
            Route::RunReport(_, id)
            | Route::RunRealtimeReport(id)
            | Route::BatchRunReports(id)
            | Route::RunFunnelReport(id)
            | Route::Metadata(id)
            | Route::GetProperty(id)
            | Route::GoogleAdsLinks(id)
            | Route::CustomDimensions(id)
            | Route::CustomMetrics(id)
            | Route::ReportingDataAnnotations(id) => Some(id),
        }
    }

    /// Service and fully-qualified RPC method (for ErrorInfo).
    pub fn method_id(&self) -> MethodId {
        let (service, method) = match self {
            Route::RunReport(Version::V1beta, _) => (
                DATA_SERVICE,
                "google.analytics.data.v1beta.BetaAnalyticsData.RunReport",
            ),
            Route::RunReport(Version::V1alpha, _) => (
                DATA_SERVICE,
                "google.analytics.data.v1alpha.AlphaAnalyticsData.RunReport",
            ),
            Route::RunRealtimeReport(_) => (
                DATA_SERVICE,
                "google.analytics.data.v1beta.BetaAnalyticsData.RunRealtimeReport",
            ),
            Route::BatchRunReports(_) => (
                DATA_SERVICE,
                "google.analytics.data.v1beta.BetaAnalyticsData.BatchRunReports",
            ),
            Route::RunFunnelReport(_) => (
                DATA_SERVICE,
                "google.analytics.data.v1alpha.AlphaAnalyticsData.RunFunnelReport",
            ),
            Route::Metadata(_) => (
                DATA_SERVICE,
                "google.analytics.data.v1beta.BetaAnalyticsData.GetMetadata",
            ),
            Route::AccountSummaries => (
                ADMIN_SERVICE,
                "google.analytics.admin.v1beta.AnalyticsAdminService.ListAccountSummaries",
            ),
            Route::GetProperty(_) => (
                ADMIN_SERVICE,
                "google.analytics.admin.v1beta.AnalyticsAdminService.GetProperty",
            ),
            Route::GoogleAdsLinks(_) => (
                ADMIN_SERVICE,
                "google.analytics.admin.v1beta.AnalyticsAdminService.ListGoogleAdsLinks",
            ),
            Route::CustomDimensions(_) => (
                ADMIN_SERVICE,
                "google.analytics.admin.v1beta.AnalyticsAdminService.ListCustomDimensions",
            ),
            Route::CustomMetrics(_) => (
                ADMIN_SERVICE,
                "google.analytics.admin.v1beta.AnalyticsAdminService.ListCustomMetrics",
            ),
            Route::ReportingDataAnnotations(_) => (
                ADMIN_SERVICE,
                "google.analytics.admin.v1alpha.AnalyticsAdminService.ListReportingDataAnnotations",
            ),
        };
        MethodId { service, method }
    }

    /// Counter key of the method, e.g. `analyticsdata.runReport`.
    pub fn counter_name(&self) -> &'static str {
        match self {
            Route::RunReport(Version::V1beta, _) => "analyticsdata.runReport",
            Route::RunReport(Version::V1alpha, _) => "analyticsdata.v1alpha.runReport",
            Route::RunRealtimeReport(_) => "analyticsdata.runRealtimeReport",
            Route::BatchRunReports(_) => "analyticsdata.batchRunReports",
            Route::RunFunnelReport(_) => "analyticsdata.runFunnelReport",
            Route::Metadata(_) => "analyticsdata.getMetadata",
            Route::AccountSummaries => "analyticsadmin.accountSummaries.list",
            Route::GetProperty(_) => "analyticsadmin.properties.get",
            Route::GoogleAdsLinks(_) => "analyticsadmin.googleAdsLinks.list",
            Route::CustomDimensions(_) => "analyticsadmin.customDimensions.list",
            Route::CustomMetrics(_) => "analyticsadmin.customMetrics.list",
            Route::ReportingDataAnnotations(_) => "analyticsadmin.reportingDataAnnotations.list",
        }
    }

    fn extra_params(&self) -> &'static [&'static str] {
        match self {
            Route::AccountSummaries
            | Route::GoogleAdsLinks(_)
            | Route::CustomDimensions(_)
            | Route::CustomMetrics(_)
            | Route::ReportingDataAnnotations(_) => &["pageSize", "pageToken"],
            _ => &[],
        }
    }
}

/// A Google 404 for paths no emulated API serves.
pub fn not_found(path: &str) -> ApiError {
    ApiError::not_found(format!(
        "The requested URL {path} was not found on this server."
    ))
}

/// The entry point for every `/v1beta/*` and `/v1alpha/*` request.
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = http::query_pairs(parts.uri.query());
    let pretty = http::wants_pretty(&query);
    let path = http::percent_decode_path(parts.uri.path());
    let Some(route) = Route::parse(&path) else {
        return not_found(&path).render(pretty);
    };
    let method_id = route.method_id();
    let result = dispatch(
        &state,
        &route,
        &parts.method,
        &parts.headers,
        &query,
        body,
        pretty,
    )
    .await;
    match result {
        Ok(response) => response,
        Err(e) => {
            // Auth errors already carry ErrorInfo; business errors stay detail-free.
            let mut response = e.render(pretty);
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                let allow = route.http_method();
                if let Ok(v) = HeaderValue::from_str(allow.as_str()) {
                    response.headers_mut().insert(header::ALLOW, v);
                }
            }
            tracing::debug!(method = method_id.method, status = %response.status(), "ga4 error");
            response
        }
    }
}

async fn dispatch(
    state: &AppState,
    route: &Route,
    method: &Method,
    headers: &axum::http::HeaderMap,
    query: &[(String, String)],
    body: Body,
    pretty: bool,
) -> Result<Response, ApiError> {
    let method_id = route.method_id();
    if *method != route.http_method() {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNIMPLEMENTED",
            format!(
                "Method {method} is not supported for this resource; use {}.",
                route.http_method()
            ),
        ));
    }
    for (k, _) in query {
        if !SYSTEM_PARAMS.contains(&k.as_str()) && !route.extra_params().contains(&k.as_str()) {
            return Err(ApiError::invalid_argument(format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. Field '{k}' could not be found in request message."
            )));
        }
    }
    let caller = auth::authenticate(state, headers, query, method_id)?;
    let resource = match route.property() {
        Some(id) => format!("properties/{id}"),
        None => "accountSummaries".to_string(),
    };
    state.count_api_call(&resource, route.counter_name());
    let accepted = if route.is_data() {
        DATA_SCOPES
    } else {
        ADMIN_SCOPES
    };
    auth::require_scope(&caller, accepted, method_id)?;
    let grant = state
        .grants
        .get(caller.grant)
        .ok_or_else(|| ApiError::invalid_credentials(Some(method_id), "ACCESS_TOKEN_EXPIRED"))?;

    // Property permission.
    let prop: Option<std::sync::Arc<PropertyInfo>> = match route.property() {
        None => None,
        Some("0") if matches!(route, Route::Metadata(_)) => None,
        Some(id) => {
            let denied = || {
                if route.is_data() {
                    ApiError::permission_denied(MSG_NO_PROPERTY_ACCESS)
                } else {
                    ApiError::permission_denied(MSG_ADMIN_DENIED)
                }
            };
            if !id.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid property ID: {id}. A property ID is a number. To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id."
                )));
            }
            if !grant.ga4_properties.iter().any(|p| p == id) {
                return Err(denied());
            }
            Some(state.ga4.get(id).ok_or_else(denied)?)
        }
    };
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    match route {
        Route::Metadata(id) => ok(&metadata::metadata(id, prop.as_deref()), pretty),
        Route::AccountSummaries => {
            let props: Vec<std::sync::Arc<PropertyInfo>> = grant
                .ga4_properties
                .iter()
                .filter_map(|id| state.ga4.get(id))
                .collect();
            let refs: Vec<&PropertyInfo> = props.iter().map(|p| p.as_ref()).collect();
            ok(
                &admin::account_summaries(&refs, param("pageSize"), param("pageToken"))?,
                pretty,
            )
        }
        _ => {
            let Some(prop) = prop else {
                return Err(ApiError::permission_denied(MSG_ADMIN_DENIED));
            };
            let clock = prop.clock(&state.config);
            match route {
                Route::GetProperty(_) => ok(&admin::property(&prop), pretty),
                Route::GoogleAdsLinks(_) => ok(
                    &admin::google_ads_links(&prop, param("pageSize"), param("pageToken"))?,
                    pretty,
                ),
                Route::CustomDimensions(_) => ok(
                    &admin::custom_dimensions(&prop, param("pageSize"), param("pageToken"))?,
                    pretty,
                ),
                Route::CustomMetrics(_) => ok(
                    &admin::custom_metrics(&prop, param("pageSize"), param("pageToken"))?,
                    pretty,
                ),
                Route::ReportingDataAnnotations(_) => ok(
                    &admin::annotations(&prop, clock, param("pageSize"), param("pageToken"))?,
                    pretty,
                ),
                Route::RunReport(version, _) => {
                    let req: request::RunReportRequest = parse_body(body).await?;
                    let (prepared, executed, quota) = run_one(state, &prop, clock, &req, *version)?;
                    ok(&report::render(&prepared, &executed, &prop, quota), pretty)
                }
                Route::BatchRunReports(_) => {
                    let req: request::BatchRunReportsRequest = parse_body(body).await?;
                    if let Some(p) = req.property.as_deref().filter(|p| !p.is_empty())
                        && p != format!("properties/{}", prop.id)
                    {
                        return Err(ApiError::invalid_argument(format!(
                            "The property \"{p}\" in the request body does not match properties/{} in the URL.",
                            prop.id
                        )));
                    }
                    if req.requests.is_empty() || req.requests.len() > 5 {
                        return Err(ApiError::invalid_argument(format!(
                            "A batch must contain between 1 and 5 requests, but has {}.",
                            req.requests.len()
                        )));
                    }
                    let mut runs = Vec::with_capacity(req.requests.len());
                    for (i, r) in req.requests.iter().enumerate() {
                        let run =
                            run_one(state, &prop, clock, r, Version::V1beta).map_err(|mut e| {
                                e.message = format!("requests[{i}]: {}", e.message);
                                e
                            })?;
                        runs.push(run);
                    }
                    let reports: Vec<report::ReportJson<'_>> = runs
                        .iter()
                        .map(|(p, e, q)| report::render(p, e, &prop, q.clone()))
                        .collect();
                    ok(
                        &BatchJson {
                            reports,
                            kind: "analyticsData#batchRunReports",
                        },
                        pretty,
                    )
                }
                Route::RunRealtimeReport(_) => {
                    let req: request::RunRealtimeReportRequest = parse_body(body).await?;
                    has_tokens(state, &prop)?;
                    let prepared = report::prepare_realtime(&req, &prop)?;
                    let executed = report::execute(&prepared, &prop, clock)?;
                    // Every report costs tokens; only the caller who asked sees the state.
                    let quota = quota(state, &prop, executed.tokens);
                    let quota = prepared.return_quota.then_some(quota);
                    ok(&report::render(&prepared, &executed, &prop, quota), pretty)
                }
                Route::RunFunnelReport(_) => {
                    let req: request::RunFunnelReportRequest = parse_body(body).await?;
                    has_tokens(state, &prop)?;
                    let out = funnel::run(&req, &prop, clock)?;
                    let mut body = out.body;
                    let quota = quota(state, &prop, out.tokens);
                    if req.return_property_quota {
                        body["propertyQuota"] = quota;
                    }
                    ok(&body, pretty)
                }
                Route::Metadata(_) | Route::AccountSummaries => Err(not_found("")),
            }
        }
    }
}

/// `batchRunReports` response body.
#[derive(serde::Serialize)]
struct BatchJson<'a> {
    reports: Vec<report::ReportJson<'a>>,
    kind: &'static str,
}

/// A 200 JSON reply.
fn ok<T: serde::Serialize>(value: &T, pretty: bool) -> Result<Response, ApiError> {
    Ok(http::json(StatusCode::OK, value, pretty))
}

/// A Data API request on a property whose tokens ran out is refused before it runs, as GA4's
/// are (429 `RESOURCE_EXHAUSTED`); one that starts with tokens left runs whatever it costs.
fn has_tokens(state: &AppState, prop: &PropertyInfo) -> Result<(), ApiError> {
    match report::exhausted(&prop.id, state.quota_used(&prop.id)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn run_one(
    state: &AppState,
    prop: &PropertyInfo,
    clock: property::Clock,
    req: &request::RunReportRequest,
    version: Version,
) -> Result<(report::Prepared, report::Executed, Option<Value>), ApiError> {
    has_tokens(state, prop)?;
    let prepared = report::prepare_report(req, prop, clock, version)?;
    let executed = report::execute(&prepared, prop, clock)?;
    let quota = if prepared.return_quota {
        Some(quota(state, prop, executed.tokens))
    } else {
        state.consume_quota(&prop.id, executed.tokens);
        None
    };
    Ok((prepared, executed, quota))
}

fn quota(state: &AppState, prop: &PropertyInfo, tokens: u64) -> Value {
    let used = state.consume_quota(&prop.id, tokens);
    report::quota_json(tokens, used)
}

/// Reads and parses a JSON body with Google's error wording.
async fn parse_body<T: DeserializeOwned + Default>(body: Body) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::invalid_argument(format!(
            "Request payload size exceeds the limit: {MAX_BODY} bytes."
        ))
    })?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| json_error(&e))
}

/// Maps a serde error onto Google's "Invalid JSON payload received." messages.
pub fn json_error(e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return ApiError::invalid_argument(format!(
            "Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
        ));
    }
    ApiError::invalid_argument(format!("Invalid JSON payload received. {text}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_byte_for_byte() {
        assert_eq!(
            Route::parse("/v1beta/properties/123:runReport"),
            Some(Route::RunReport(Version::V1beta, "123".into()))
        );
        assert_eq!(
            Route::parse("/v1alpha/properties/123:runFunnelReport"),
            Some(Route::RunFunnelReport("123".into()))
        );
        assert_eq!(Route::parse("/v1beta/properties/123:runFunnelReport"), None);
        assert_eq!(
            Route::parse("/v1beta/accountSummaries"),
            Some(Route::AccountSummaries)
        );
        assert_eq!(
            Route::parse("/v1beta/properties/1/metadata"),
            Some(Route::Metadata("1".into()))
        );
        assert_eq!(
            Route::parse("/v1beta/properties/1"),
            Some(Route::GetProperty("1".into()))
        );
        assert_eq!(
            Route::parse("/v1alpha/properties/1/reportingDataAnnotations"),
            Some(Route::ReportingDataAnnotations("1".into()))
        );
        for bad in [
            "/v1beta/properties/",
            "/v1beta/properties/1/x",
            "/v1beta/properties/1:nope",
            "/v2/properties/1",
            "/v1beta/properties/a/b:runReport",
        ] {
            assert_eq!(Route::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_errors_read_like_google() {
        let e = serde_json::from_str::<request::RunReportRequest>(r#"{"foo":1}"#).unwrap_err();
        assert_eq!(
            json_error(&e).message,
            "Invalid JSON payload received. Unknown name \"foo\": Cannot find field."
        );
        let e = serde_json::from_str::<request::RunReportRequest>("{bad").unwrap_err();
        assert!(
            json_error(&e)
                .message
                .starts_with("Invalid JSON payload received.")
        );
    }
}
