//! Google Ads API REST emulation (`/v{N}/…`, versions v23–v26):
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `customers:listAccessibleCustomers` | the grant's customers |
//! | POST | `customers/{id}/googleAds:search` | one page (10,000 rows) of a GAQL query |
//! | POST | `customers/{id}/googleAds:searchStream` | all rows, as an array of batches |
//! | POST | `googleAdsFields:search` | field metadata (GoogleAdsFieldService query) |
//! | GET | `googleAdsFields/{name}` | one field's metadata |
//!
//! Every request runs the same pipeline: version → route → HTTP method → query
//! parameters → bearer token → counters → `adwords` scope → customer id → access rule
//! (`login-customer-id` for clients of managers) → body → the method. Errors are
//! `google.rpc.Status` with a `GoogleAdsFailure` detail (array-wrapped for searchStream);
//! every reply carries a `request-id` header. The `developer-token` header is required before
//! v25 (`requestError: DEVELOPER_TOKEN_PARAMETER_MISSING`, as Google answers) and accepted and
//! ignored from v25 on (Google retired it on 2026-09-09).
//!
//! # Layout
//! - `customer`: fixtures, customer metadata, MCC hierarchy, access rule.
//! - `account`: campaigns, ad groups, keywords, ads, search terms of a customer.
//! - `model`: the numbers (integer cells split top-down, tied to GA4 traffic).
//! - `catalog`: resources and fields; `gaql`: lexer/parser; `query`: validation;
//!   `dates`: DURING literals; `engine`: execution and row JSON; `search`: paging and
//!   response shapes; `fields`: GoogleAdsFieldService; `error`: GoogleAdsFailure.

mod account;
mod catalog;
mod customer;
mod dates;
mod engine;
mod error;
mod fields;
mod gaql;
mod model;
mod query;
mod search;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use customer::CustomerFixture;
/// Largest page of `googleAdsFields:search` (Google's documented maximum).
pub use fields::MAX_PAGE as FIELDS_MAX_PAGE;

use crate::google::auth::{self, Caller};
use crate::google::rpc::{ApiError, MethodId};
use crate::http;
use crate::state::AppState;
use customer::Directory;
use error::AdsError;

/// Oldest and newest versions served (older ones are sunset, newer ones do not exist yet).
const OLDEST: u32 = 23;
const NEWEST: u32 = 26;
/// The first version that no longer requires the `developer-token` header.
const FIRST_WITHOUT_DEVELOPER_TOKEN: u32 = 25;
/// The OAuth scope of the Google Ads API.
const SCOPE: &str = "https://www.googleapis.com/auth/adwords";
/// Largest request body accepted.
const MAX_BODY: usize = 2 * 1024 * 1024;
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
const SERVICE: &str = "googleads.googleapis.com";

/// A recognised Google Ads method.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    ListAccessibleCustomers,
    Search(String),
    SearchStream(String),
    FieldsSearch,
    FieldGet(String),
}

impl Route {
    fn parse(rest: &str) -> Option<Route> {
        if rest == "customers:listAccessibleCustomers" {
            return Some(Route::ListAccessibleCustomers);
        }
        if rest == "googleAdsFields:search" {
            return Some(Route::FieldsSearch);
        }
        if let Some(name) = rest.strip_prefix("googleAdsFields/")
            && !name.is_empty()
            && !name.contains('/')
        {
            return Some(Route::FieldGet(name.to_string()));
        }
        let rest = rest.strip_prefix("customers/")?;
        let (id, method) = rest.split_once('/')?;
        if id.is_empty() || id.contains(':') {
            return None;
        }
        match method {
            "googleAds:search" => Some(Route::Search(id.to_string())),
            "googleAds:searchStream" => Some(Route::SearchStream(id.to_string())),
            _ => None,
        }
    }

    fn http_method(&self) -> Method {
        match self {
            Route::ListAccessibleCustomers | Route::FieldGet(_) => Method::GET,
            _ => Method::POST,
        }
    }

    fn method_id(&self) -> MethodId {
        let method = match self {
            Route::ListAccessibleCustomers => {
                "google.ads.googleads.CustomerService.ListAccessibleCustomers"
            }
            Route::Search(_) => "google.ads.googleads.GoogleAdsService.Search",
            Route::SearchStream(_) => "google.ads.googleads.GoogleAdsService.SearchStream",
            Route::FieldsSearch => {
                "google.ads.googleads.GoogleAdsFieldService.SearchGoogleAdsFields"
            }
            Route::FieldGet(_) => "google.ads.googleads.GoogleAdsFieldService.GetGoogleAdsField",
        };
        MethodId {
            service: SERVICE,
            method,
        }
    }

    /// `(resource, method)` for `count_api_call`.
    fn counter(&self) -> (String, &'static str) {
        match self {
            Route::ListAccessibleCustomers => {
                ("customers".into(), "googleads.listAccessibleCustomers")
            }
            Route::Search(id) => (format!("customers/{id}"), "googleads.search"),
            Route::SearchStream(id) => (format!("customers/{id}"), "googleads.searchStream"),
            Route::FieldsSearch => ("googleAdsFields".into(), "googleads.googleAdsFields.search"),
            Route::FieldGet(_) => ("googleAdsFields".into(), "googleads.googleAdsFields.get"),
        }
    }
}

/// Every `/{version}/{rest}` request whose version looks like Google Ads' (`v26`).
pub async fn handle(
    State(state): State<AppState>,
    version: String,
    rest: String,
    request: Request,
) -> Response {
    let request_id = error::new_request_id();
    let (parts, body) = request.into_parts();
    let query = http::query_pairs(parts.uri.query());
    let pretty = http::wants_pretty(&query);
    let route = Route::parse(&rest);
    let stream = matches!(route, Some(Route::SearchStream(_)));
    let not_found = || AdsError::front_end(&crate::ga4::not_found(&format!("/{version}/{rest}")));
    let result = match (version_number(&version), route) {
        (_, None) => Err(not_found()),
        (Some(n), _) if n > NEWEST => Err(not_found()),
        (Some(n), _) if n < OLDEST => Err(AdsError::request(
            "UNSUPPORTED_VERSION",
            format!(
                "Version {version} of the Google Ads API has been sunset and is no longer supported. Use v{OLDEST} to v{NEWEST}."
            ),
        )),
        (Some(_), Some(route)) => {
            dispatch(&state, &version, &route, &parts, &query, body, &request_id).await
        }
        (None, _) => Err(not_found()),
    };
    match result {
        Ok(mut response) => {
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("request-id"), v);
            }
            response
        }
        Err(e) => {
            tracing::debug!(code = ?e.code(), status = e.http.as_u16(), "google ads error");
            let mut response = e.render(&version, &request_id, pretty, stream);
            if response.status() == StatusCode::METHOD_NOT_ALLOWED
                && let Some(route) = Route::parse(&rest)
                && let Ok(v) = HeaderValue::from_str(route.http_method().as_str())
            {
                response.headers_mut().insert(header::ALLOW, v);
            }
            response
        }
    }
}

/// `v26`-style Google Ads API versions.
pub fn valid_version(v: &str) -> bool {
    version_number(v).is_some()
}

fn version_number(v: &str) -> Option<u32> {
    let n = v.strip_prefix('v')?;
    if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// The answer to an injected fault on a Google Ads path, in Google Ads' error format.
pub fn fault_response(
    status: StatusCode,
    message: Option<&str>,
    retry_after_secs: Option<u64>,
) -> Response {
    let mut e = match status.as_u16() {
        429 => AdsError::quota(retry_after_secs),
        500 => AdsError::internal(),
        503 => AdsError::unavailable(),
        401 => AdsError::authentication("OAUTH_TOKEN_EXPIRED"),
        403 => AdsError::user_permission_denied(),
        400 => AdsError::request("UNKNOWN", "The request was rejected."),
        _ => AdsError::front_end(&ApiError::for_status(status, None)),
    };
    e.http = status;
    if let Some(m) = message {
        match e.errors.first_mut() {
            Some(item) => item.message = m.to_string(),
            None => e.message = m.to_string(),
        }
    }
    e.retry_after = retry_after_secs.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
    e.render(
        &format!("v{NEWEST}"),
        &error::new_request_id(),
        false,
        false,
    )
}

/// The bearer token as presented (header or `access_token` parameter).
fn presented_token(headers: &HeaderMap, query: &[(String, String)]) -> Option<String> {
    match headers.get(header::AUTHORIZATION) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .map(|(_, t)| t.trim().to_string()),
        None => query
            .iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, t)| t.clone()),
    }
}

/// Bearer authentication with Google Ads' error codes.
fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: &[(String, String)],
    method: MethodId,
) -> Result<Caller, AdsError> {
    auth::authenticate(state, headers, query, method).map_err(|e| {
        let code = match e.reason {
            Some("CREDENTIALS_MISSING") | Some("ACCESS_TOKEN_TYPE_UNSUPPORTED") => {
                "OAUTH_TOKEN_HEADER_INVALID"
            }
            _ => {
                // Tell an unknown token from an expired or revoked one.
                let rt = state.lock();
                match presented_token(headers, query).and_then(|t| rt.tokens.get(&t).cloned()) {
                    None => "OAUTH_TOKEN_INVALID",
                    Some(t) if rt.revoked.get(t.grant).copied().unwrap_or(false) => {
                        "OAUTH_TOKEN_REVOKED"
                    }
                    Some(_) => "OAUTH_TOKEN_EXPIRED",
                }
            }
        };
        let mut err = AdsError::authentication(code);
        err.message = e.message;
        err
    })
}

async fn dispatch(
    state: &AppState,
    version: &str,
    route: &Route,
    parts: &axum::http::request::Parts,
    query: &[(String, String)],
    body: Body,
    request_id: &str,
) -> Result<Response, AdsError> {
    let pretty = http::wants_pretty(query);
    if parts.method != route.http_method() {
        return Err(AdsError::front_end(&ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNIMPLEMENTED",
            format!(
                "Method {} is not supported for this resource; use {}.",
                parts.method,
                route.http_method()
            ),
        )));
    }
    for (k, _) in query {
        if !SYSTEM_PARAMS.contains(&k.as_str()) {
            return Err(AdsError::front_end(&ApiError::invalid_argument(format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. Field '{k}' could not be found in request message."
            ))));
        }
    }
    // v23/v24 still require the developer token; v25+ accept and ignore it (sunset 2026-09-09).
    let has_developer_token = parts
        .headers
        .get("developer-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty());
    if version_number(version).is_some_and(|n| n < FIRST_WITHOUT_DEVELOPER_TOKEN)
        && !has_developer_token
    {
        return Err(AdsError::request(
            "DEVELOPER_TOKEN_PARAMETER_MISSING",
            "developer-token parameter is missing.",
        ));
    }
    let caller = authenticate(state, &parts.headers, query, route.method_id())?;
    let (resource, counter) = route.counter();
    state.count_api_call(&resource, counter);
    auth::require_scope(&caller, &[SCOPE], route.method_id())
        .map_err(|e| AdsError::front_end(&e))?;
    let grant_customers: &[String] = state
        .config
        .fixtures
        .google_grants
        .get(caller.grant)
        .map(|g| g.ads_customers.as_slice())
        .unwrap_or(&[]);
    let ok = |v: &Value| Ok(http::json(StatusCode::OK, v, pretty));
    match route {
        Route::ListAccessibleCustomers => {
            let mut names: Vec<String> = Vec::new();
            for c in grant_customers
                .iter()
                .filter_map(|c| customer::normalize_id(c))
            {
                let name = format!("customers/{c}");
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            // proto3 JSON omits an empty list.
            if names.is_empty() {
                ok(&json!({}))
            } else {
                ok(&json!({"resourceNames": names}))
            }
        }
        Route::FieldGet(name) => match fields::get(name, version) {
            Some(entry) => ok(&entry.json(None)),
            None => {
                let mut e = AdsError::request(
                    "RESOURCE_NOT_FOUND",
                    format!("Requested GoogleAdsField '{name}' was not found."),
                );
                e.http = StatusCode::NOT_FOUND;
                e.status = "NOT_FOUND";
                e.message = "Requested entity was not found.".into();
                Err(e)
            }
        },
        Route::FieldsSearch => {
            #[derive(serde::Deserialize, Default)]
            #[serde(rename_all = "camelCase", deny_unknown_fields)]
            struct FieldsRequest {
                #[serde(default)]
                query: Option<String>,
                #[serde(default)]
                page_token: Option<String>,
                #[serde(default)]
                page_size: Option<i64>,
            }
            let req: FieldsRequest = parse_body(body).await?;
            let text = required_query(req.query.as_deref())?;
            let offset = match req.page_token.as_deref().filter(|t| !t.is_empty()) {
                None => 0,
                Some(t) => search::PageToken::decode(t)
                    .filter(|p| p.fingerprint == search::fingerprint("", text))
                    .and_then(|p| usize::try_from(p.offset).ok())
                    .ok_or_else(|| {
                        AdsError::request("INVALID_PAGE_TOKEN", "Page token is invalid.")
                    })?,
            };
            let page_size = match req.page_size {
                None | Some(0) => fields::MAX_PAGE,
                Some(n) if n < 0 => {
                    return Err(AdsError::request(
                        "INVALID_PAGE_SIZE",
                        "Page size must be positive.",
                    ));
                }
                Some(n) => usize::try_from(n)
                    .unwrap_or(fields::MAX_PAGE)
                    .min(fields::MAX_PAGE),
            }
            .min(state.config.ads_fields_page_size.max(1));
            let (results, total, next) = fields::search(text, version, offset, page_size)?;
            let mut out = serde_json::Map::new();
            if !results.is_empty() {
                out.insert("results".into(), Value::Array(results));
            }
            if let Some(next) = next {
                let token = search::PageToken {
                    offset: next as u64,
                    fingerprint: search::fingerprint("", text),
                    total: false,
                    summary: false,
                };
                out.insert("nextPageToken".into(), json!(token.encode()));
            }
            if total > 0 {
                out.insert("totalResultsCount".into(), json!(total.to_string()));
            }
            ok(&Value::Object(out))
        }
        Route::Search(cid) | Route::SearchStream(cid) => {
            let cid = validate_customer_id(cid)?;
            let login = login_customer_id(&parts.headers)?;
            let dir = Directory::build(&state.config.fixtures, &state.ga4);
            let cust = dir.authorize(grant_customers, &cid, login.as_deref())?;
            let acc = account::build(&cust);
            let model = model::Model::new(&cust, &acc, &state.config);
            if let Route::SearchStream(_) = route {
                let req: search::StreamRequest = parse_body(body).await?;
                body_customer_matches(req.customer_id.as_deref(), &cid)?;
                let text = required_query(req.query.as_deref())?;
                let q = compile(text, &cust, &model)?;
                ok(&search::stream(&req, &q, &model, &dir, request_id)?)
            } else {
                let req: search::SearchRequest = parse_body(body).await?;
                body_customer_matches(req.customer_id.as_deref(), &cid)?;
                search::check_request(&req)?;
                let text = required_query(req.query.as_deref())?;
                let q = compile(text, &cust, &model)?;
                ok(&search::search(&req, text, &q, &model, &dir)?)
            }
        }
    }
}

fn compile(
    text: &str,
    cust: &customer::CustomerInfo,
    model: &model::Model<'_>,
) -> Result<query::Query, AdsError> {
    let raw = gaql::parse(text, true).map_err(|e| AdsError::query(e.code, e.message, e.trigger))?;
    let q = query::compile(&raw, model.clock.today)?;
    if cust.manager && q.uses_metrics() {
        return Err(AdsError::query(
            "REQUESTED_METRICS_FOR_MANAGER",
            "Metrics cannot be requested for a manager account. To retrieve metrics, issue separate requests against each client account under the manager account.",
            None,
        ));
    }
    Ok(q)
}

fn required_query(q: Option<&str>) -> Result<&str, AdsError> {
    match q {
        Some(t) if !t.trim().is_empty() => Ok(t),
        _ => {
            let mut e = AdsError::request(
                "REQUIRED_FIELD_MISSING",
                "The required field was not present.",
            );
            if let Some(item) = e.errors.first_mut() {
                item.category = "fieldError";
                item.code = "REQUIRED";
                item.location = Some("query");
            }
            Err(e)
        }
    }
}

fn validate_customer_id(cid: &str) -> Result<String, AdsError> {
    if cid.len() == 10 && cid.bytes().all(|b| b.is_ascii_digit()) {
        Ok(cid.to_string())
    } else {
        let mut e = AdsError::request(
            "INVALID_CUSTOMER_ID",
            format!("Invalid customer ID '{cid}'. Customer IDs are 10 digits without dashes."),
        );
        if let Some(item) = e.errors.first_mut() {
            item.location = Some("customer_id");
            item.trigger = Some(cid.to_string());
        }
        Err(e)
    }
}

/// The body may repeat the path's customer id (it is a request field), but not contradict it.
fn body_customer_matches(body: Option<&str>, path: &str) -> Result<(), AdsError> {
    match body {
        Some(b) if !b.is_empty() && b != path => Err(AdsError::request(
            "INVALID_CUSTOMER_ID",
            format!(
                "The customerId '{b}' in the request body does not match customers/{path} in the URL."
            ),
        )),
        _ => Ok(()),
    }
}

fn login_customer_id(headers: &HeaderMap) -> Result<Option<String>, AdsError> {
    let Some(v) = headers.get("login-customer-id") else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v.len() == 10 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(v.to_string()))
    } else {
        Err(AdsError::header(
            "INVALID_LOGIN_CUSTOMER_ID",
            "The login customer ID could not be validated. It must be the manager's 10-digit customer ID without dashes.",
        ))
    }
}

/// Reads and parses a JSON body with Google's error wording.
async fn parse_body<T: DeserializeOwned + Default>(body: Body) -> Result<T, AdsError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        AdsError::front_end(&ApiError::invalid_argument(format!(
            "Request payload size exceeds the limit: {MAX_BODY} bytes."
        )))
    })?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| AdsError::front_end(&crate::ga4::json_error(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            Route::parse("customers:listAccessibleCustomers"),
            Some(Route::ListAccessibleCustomers)
        );
        assert_eq!(
            Route::parse("customers/1234567890/googleAds:search"),
            Some(Route::Search("1234567890".into()))
        );
        assert_eq!(
            Route::parse("customers/12/googleAds:searchStream"),
            Some(Route::SearchStream("12".into()))
        );
        assert_eq!(
            Route::parse("googleAdsFields:search"),
            Some(Route::FieldsSearch)
        );
        assert_eq!(
            Route::parse("googleAdsFields/campaign.id"),
            Some(Route::FieldGet("campaign.id".into()))
        );
        for bad in [
            "customers",
            "customers/1/googleAds:mutate",
            "customers//googleAds:search",
            "customers/1/x/googleAds:search",
            "googleAdsFields/",
        ] {
            assert_eq!(Route::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert!(valid_version("v26") && valid_version("v3"));
        assert!(!valid_version("v26.0") && !valid_version("v") && !valid_version("26"));
        assert_eq!(version_number("v023"), Some(23));
    }

    #[test]
    fn customer_ids() {
        assert!(validate_customer_id("1234567890").is_ok());
        for bad in ["123-456-7890", "123456789", "abcdefghij", "12345678901"] {
            assert_eq!(
                validate_customer_id(bad).unwrap_err().code().as_deref(),
                Some("requestError:INVALID_CUSTOMER_ID")
            );
        }
    }
}
