//! Google Search Console: webmasters v3 (`/webmasters/v3/…`: sites, searchAnalytics.query,
//! sitemaps) and the URL Inspection API (`/v1/urlInspection/index:inspect`).
//!
//! The property URL travels percent-encoded as one path segment
//! (`/webmasters/v3/sites/https%3A%2F%2Fwww.example.com%2F/sitemaps`), so [`Route::parse`]
//! splits the *raw* path on `/` first and decodes each segment after; decoding first would
//! split the property at its own slashes. Every method runs the same pipeline: method check →
//! query-parameter check → authentication → counters → scope → site permission → body →
//! the method. v3 errors carry Google's legacy `errors[]` array (see `error`); the v1 URL
//! Inspection API answers plain `google.rpc.Status`.
//!
//! # Layout
//! - `site`: property parsing, metadata, the [`site::Registry`]; `vocab`: queries, pages and
//!   pairs; `model`: the synthetic numbers; `query`: searchAnalytics.query;
//!   `sitemaps`; `inspect`: URL Inspection; `error`: the v3 error envelope.

pub mod error;
pub mod inspect;
pub mod model;
pub mod query;
pub mod site;
pub mod sitemaps;
pub mod vocab;

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fixtures::{Fixtures, GoogleGrant};
use crate::google::auth;
use crate::google::rpc::{ApiError, MethodId};
use crate::http;
use crate::state::AppState;
use site::{Clock, Property, SiteInfo};

/// Service name in `ErrorInfo.metadata`.
pub const SERVICE: &str = "searchconsole.googleapis.com";
/// Read-write scope.
pub const SCOPE_FULL: &str = "https://www.googleapis.com/auth/webmasters";
/// Read-only scope.
pub const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/webmasters.readonly";
/// Scopes accepted by read methods.
pub const READ_SCOPES: &[&str] = &[SCOPE_FULL, SCOPE_READONLY];
/// Scopes accepted by sites.add/delete and sitemaps.submit/delete.
pub const WRITE_SCOPES: &[&str] = &[SCOPE_FULL];
/// The URL Inspection API's answer for a foreign site or a URL outside the property.
pub const MSG_INSPECT_DENIED: &str =
    "You do not own this site, or the inspected URL is not part of this property.";

/// Largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;

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

/// `permissionLevel` of a site (lowerCamel on the wire and in fixtures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionLevel {
    /// Owner: full access, may submit sitemaps.
    #[default]
    SiteOwner,
    /// Full user: reads everything, may submit sitemaps.
    SiteFullUser,
    /// Restricted user: reads data, may not submit or delete sitemaps.
    SiteRestrictedUser,
    /// Unverified: listed, but every data call answers 403.
    SiteUnverifiedUser,
}

/// A declared Search Console property (optional metadata; any site a grant lists works with
/// values derived from its URL).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFixture {
    /// `https://www.example.com/` or `sc-domain:example.com`.
    pub site_url: String,
    /// `siteOwner` (default), `siteFullUser`, `siteRestrictedUser` or `siteUnverifiedUser`.
    #[serde(default)]
    pub permission_level: PermissionLevel,
    /// Average daily web clicks. Overrides the link to a GA4 property (see `ga4_property`).
    #[serde(default)]
    pub daily_clicks: Option<u32>,
    /// Brand terms (default: from the host, `acme-shop.example` → `acme shop`, `acme`).
    #[serde(default)]
    pub brand: Vec<String>,
    /// `fashion`, `florist` or `electronics` (default: guessed from the host, else fashion).
    #[serde(default)]
    pub vertical: Option<vocab::Vertical>,
    /// Country most searches come from, ISO alpha-3 lower case (`pol`).
    #[serde(default)]
    pub home_country: Option<String>,
    /// GA4 property whose Google organic sessions drive daily clicks (default: the first GA4
    /// property of the first grant that lists this site).
    #[serde(default)]
    pub ga4_property: Option<String>,
    /// Submitted sitemap URLs (default: `<root>sitemap.xml` index + `<root>blogs/news.atom`).
    #[serde(default)]
    pub sitemaps: Option<Vec<String>>,
    /// First day with data, `"YYYY-MM-DD"` (default: derived, 2019–2022).
    #[serde(default)]
    pub first_date: Option<NaiveDate>,
}

/// Checks the Search Console parts of the fixtures (called from `Fixtures::validate`).
pub fn validate_fixtures(fixtures: &Fixtures) -> Result<(), crate::Error> {
    let explain = "is not a Search Console property: use a URL prefix with its trailing slash (`https://www.example.com/`) or `sc-domain:example.com`";
    for (i, grant) in fixtures.google_grants.iter().enumerate() {
        for (j, s) in grant.gsc_sites.iter().enumerate() {
            if Property::parse(s).is_none() {
                return Err(crate::Error::invalid(
                    format!("google_grants[{i}].gsc_sites[{j}]"),
                    format!("`{s}` {explain}"),
                ));
            }
        }
    }
    let mut seen = HashSet::new();
    for (i, s) in fixtures.gsc_sites.iter().enumerate() {
        let at = |field: &str| format!("gsc_sites[{i}].{field}");
        let Some(property) = Property::parse(&s.site_url) else {
            return Err(crate::Error::invalid(
                at("site_url"),
                format!("`{}` {explain}", s.site_url),
            ));
        };
        if !seen.insert(s.site_url.as_str()) {
            return Err(crate::Error::invalid(at("site_url"), "duplicate site"));
        }
        if s.daily_clicks == Some(0) {
            return Err(crate::Error::invalid(
                at("daily_clicks"),
                "must be positive",
            ));
        }
        if let Some(c) = &s.home_country
            && (vocab::country_index(c).is_none() || c.to_lowercase() != *c)
        {
            let known: Vec<&str> = vocab::COUNTRIES.iter().map(|c| c.code).collect();
            return Err(crate::Error::invalid(
                at("home_country"),
                format!("`{c}` is not one of {}", known.join(", ")),
            ));
        }
        if let Some(p) = &s.ga4_property
            && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(crate::Error::invalid(
                at("ga4_property"),
                "must be a numeric GA4 property id",
            ));
        }
        if s.brand.iter().any(|b| b.trim().is_empty()) {
            return Err(crate::Error::invalid(
                at("brand"),
                "terms must not be empty",
            ));
        }
        for (j, sitemap) in s.sitemaps.iter().flatten().enumerate() {
            let under = url::Url::parse(sitemap).is_ok_and(|u| property.contains(&u));
            if !under {
                return Err(crate::Error::invalid(
                    format!("gsc_sites[{i}].sitemaps[{j}]"),
                    format!("`{sitemap}` is not a URL under {}", s.site_url),
                ));
            }
        }
    }
    Ok(())
}

/// A recognised Search Console path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/webmasters/v3/sites`.
    Sites,
    /// `/webmasters/v3/sites/{siteUrl}`.
    Site(String),
    /// `/webmasters/v3/sites/{siteUrl}/searchAnalytics/query`.
    Query(String),
    /// `/webmasters/v3/sites/{siteUrl}/sitemaps`.
    Sitemaps(String),
    /// `/webmasters/v3/sites/{siteUrl}/sitemaps/{feedpath}`.
    Sitemap(String, String),
    /// `/v1/urlInspection/index:inspect`.
    Inspect,
}

impl Route {
    /// Parses a raw (still percent-encoded) request path.
    pub fn parse(raw: &str) -> Option<Route> {
        if let Some(rest) = raw.strip_prefix("/webmasters/v3/") {
            let segs: Vec<String> = rest.split('/').map(http::percent_decode_path).collect();
            let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
            return match segs.as_slice() {
                ["sites"] => Some(Route::Sites),
                ["sites", site] if !site.is_empty() => Some(Route::Site(site.to_string())),
                ["sites", site, "searchAnalytics", "query"] if !site.is_empty() => {
                    Some(Route::Query(site.to_string()))
                }
                ["sites", site, "sitemaps"] if !site.is_empty() => {
                    Some(Route::Sitemaps(site.to_string()))
                }
                ["sites", site, "sitemaps", feed] if !site.is_empty() && !feed.is_empty() => {
                    Some(Route::Sitemap(site.to_string(), feed.to_string()))
                }
                _ => None,
            };
        }
        (http::percent_decode_path(raw) == "/v1/urlInspection/index:inspect")
            .then_some(Route::Inspect)
    }

    /// The HTTP methods the path answers, with the operation each one is.
    fn ops(&self) -> &'static [(Method, Op)] {
        match self {
            Route::Sites => &[(Method::GET, Op::SitesList)],
            Route::Site(_) => &[
                (Method::GET, Op::SitesGet),
                (Method::PUT, Op::SitesAdd),
                (Method::DELETE, Op::SitesDelete),
            ],
            Route::Query(_) => &[(Method::POST, Op::Query)],
            Route::Sitemaps(_) => &[(Method::GET, Op::SitemapsList)],
            Route::Sitemap(..) => &[
                (Method::GET, Op::SitemapsGet),
                (Method::PUT, Op::SitemapsSubmit),
                (Method::DELETE, Op::SitemapsDelete),
            ],
            Route::Inspect => &[(Method::POST, Op::Inspect)],
        }
    }

    /// The property in the path, if any.
    fn site(&self) -> Option<&str> {
        match self {
            Route::Site(s) | Route::Query(s) | Route::Sitemaps(s) | Route::Sitemap(s, _) => Some(s),
            Route::Sites | Route::Inspect => None,
        }
    }
}

/// One API method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    SitesList,
    SitesGet,
    SitesAdd,
    SitesDelete,
    Query,
    SitemapsList,
    SitemapsGet,
    SitemapsSubmit,
    SitemapsDelete,
    Inspect,
}

impl Op {
    /// Discovery id (used in counters as `searchconsole.<…>` and in ErrorInfo).
    fn id(self) -> &'static str {
        match self {
            Op::SitesList => "sites.list",
            Op::SitesGet => "sites.get",
            Op::SitesAdd => "sites.add",
            Op::SitesDelete => "sites.delete",
            Op::Query => "searchanalytics.query",
            Op::SitemapsList => "sitemaps.list",
            Op::SitemapsGet => "sitemaps.get",
            Op::SitemapsSubmit => "sitemaps.submit",
            Op::SitemapsDelete => "sitemaps.delete",
            Op::Inspect => "urlInspection.index.inspect",
        }
    }

    fn counter(self) -> String {
        format!("searchconsole.{}", self.id())
    }

    fn method_id(self) -> MethodId {
        let method = match self {
            Op::SitesList => "webmasters.sites.list",
            Op::SitesGet => "webmasters.sites.get",
            Op::SitesAdd => "webmasters.sites.add",
            Op::SitesDelete => "webmasters.sites.delete",
            Op::Query => "webmasters.searchanalytics.query",
            Op::SitemapsList => "webmasters.sitemaps.list",
            Op::SitemapsGet => "webmasters.sitemaps.get",
            Op::SitemapsSubmit => "webmasters.sitemaps.submit",
            Op::SitemapsDelete => "webmasters.sitemaps.delete",
            Op::Inspect => "searchconsole.urlInspection.index.inspect",
        };
        MethodId {
            service: SERVICE,
            method,
        }
    }

    fn writes(self) -> bool {
        matches!(
            self,
            Op::SitesAdd | Op::SitesDelete | Op::SitemapsSubmit | Op::SitemapsDelete
        )
    }
}

/// What a method needs from the caller's permission on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Listed at all (sites.get/delete).
    See,
    /// Read data (not unverified).
    Read,
    /// Change sitemaps (owner or full user).
    Write,
}

/// Every request under `/webmasters/v3/` and `/v1/`.
pub async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = http::query_pairs(parts.uri.query());
    let pretty = http::wants_pretty(&query);
    let Some(route) = Route::parse(parts.uri.path()) else {
        return crate::ga4::not_found(&http::percent_decode_path(parts.uri.path())).render(pretty);
    };
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
            let mut response = if route == Route::Inspect {
                e.render(pretty)
            } else {
                error::render_v3(&e, pretty)
            };
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                let allow: Vec<&str> = route.ops().iter().map(|(m, _)| m.as_str()).collect();
                if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, v);
                }
            }
            tracing::debug!(status = %response.status(), "search console error");
            response
        }
    }
}

async fn dispatch(
    state: &AppState,
    route: &Route,
    method: &Method,
    headers: &HeaderMap,
    query: &[(String, String)],
    body: Body,
    pretty: bool,
) -> Result<Response, ApiError> {
    let Some(op) = route
        .ops()
        .iter()
        .find(|(m, _)| m == method)
        .map(|(_, op)| *op)
    else {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNIMPLEMENTED",
            format!("Method {method} is not supported for this resource."),
        ));
    };
    let method_id = op.method_id();
    for (k, _) in query {
        let extra = op == Op::SitemapsList && k == "sitemapIndex";
        if !SYSTEM_PARAMS.contains(&k.as_str()) && !extra {
            return Err(ApiError::invalid_argument(format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. Field '{k}' could not be found in request message."
            )));
        }
    }
    let caller = auth::authenticate(state, headers, query, method_id)?;
    let bytes = if matches!(op, Op::Query | Op::Inspect) {
        axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
            ApiError::invalid_argument(format!(
                "Request payload size exceeds the limit: {MAX_BODY} bytes."
            ))
        })?
    } else {
        Default::default()
    };
    let inspect_req = (op == Op::Inspect).then(|| parse_json::<inspect::InspectRequest>(&bytes));
    let resource = match (route.site(), &inspect_req) {
        (Some(site), _) => site.to_string(),
        (None, Some(Ok(req))) => req
            .site_url
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "sites".into()),
        _ => "sites".to_string(),
    };
    state.count_api_call(&resource, &op.counter());
    let scopes = if op.writes() {
        WRITE_SCOPES
    } else {
        READ_SCOPES
    };
    auth::require_scope(&caller, scopes, method_id)?;
    let grant = state
        .config
        .fixtures
        .google_grants
        .get(caller.grant)
        .ok_or_else(|| ApiError::invalid_credentials(Some(method_id), "ACCESS_TOKEN_EXPIRED"))?;
    let clock = Clock::new(&state.config);
    let site_url = route.site().unwrap_or("");

    match op {
        Op::SitesList => {
            let mut seen = HashSet::new();
            let entries: Vec<SiteEntry> = grant
                .gsc_sites
                .iter()
                .filter(|s| seen.insert(s.as_str()))
                .filter_map(|s| state.gsc.get(s))
                .map(|s| SiteEntry::of(&s))
                .collect();
            ok(
                &SitesJson {
                    site_entry: entries,
                },
                pretty,
            )
        }
        Op::SitesGet => {
            let site = site_for(state, grant, site_url, Access::See)?;
            ok(&SiteEntry::of(&site), pretty)
        }
        // Accepted no-ops: the sandbox's grants are fixed at start-up.
        Op::SitesAdd => Ok(no_content()),
        Op::SitesDelete => {
            site_for(state, grant, site_url, Access::See)?;
            Ok(no_content())
        }
        Op::Query => {
            let site = site_for(state, grant, site_url, Access::Read)?;
            let req: query::QueryRequest = parse_json(&bytes)?;
            let plan = query::prepare(&req)?;
            let fresh = model::Freshness::new(clock, plan.state);
            // Aggregation is CPU-bound (tens of ms for big requests): keep it off the
            // async workers.
            let body = tokio::task::spawn_blocking(move || {
                query::execute(&site, &plan, &fresh).map(|ex| {
                    http::json(
                        StatusCode::OK,
                        &query::render(&site, &plan, &ex, &fresh),
                        pretty,
                    )
                })
            })
            .await
            .map_err(|_| {
                ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR, Some(method_id))
            })??;
            Ok(body)
        }
        Op::SitemapsList => {
            let site = site_for(state, grant, site_url, Access::Read)?;
            let index = query
                .iter()
                .find(|(k, _)| k == "sitemapIndex")
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty());
            let list = sitemaps::list(&site, index, clock.today).ok_or_else(sitemap_not_found)?;
            ok(&SitemapsJson { sitemap: list }, pretty)
        }
        Op::SitemapsGet => {
            let site = site_for(state, grant, site_url, Access::Read)?;
            let feed = feed_of(route);
            let entry = sitemaps::get(&site, feed, clock.today).ok_or_else(sitemap_not_found)?;
            ok(&entry, pretty)
        }
        Op::SitemapsSubmit => {
            let site = site_for(state, grant, site_url, Access::Write)?;
            let feed = feed_of(route);
            let under = url::Url::parse(feed).is_ok_and(|u| site.property.contains(&u));
            if !under {
                return Err(ApiError::invalid_argument(format!(
                    "Sitemap URL '{feed}' is not under site '{}'.",
                    site.url
                )));
            }
            Ok(no_content())
        }
        Op::SitemapsDelete => {
            let site = site_for(state, grant, site_url, Access::Write)?;
            let feed = feed_of(route);
            if !site.sitemaps.iter().any(|s| s == feed) {
                return Err(sitemap_not_found());
            }
            Ok(no_content())
        }
        Op::Inspect => {
            let req = inspect_req.unwrap_or_else(|| Ok(Default::default()))?;
            let url_text = req.inspection_url.as_deref().unwrap_or("").trim();
            let site_text = req.site_url.as_deref().unwrap_or("").trim();
            if url_text.is_empty() {
                return Err(ApiError::invalid_argument("inspectionUrl is required."));
            }
            if site_text.is_empty() {
                return Err(ApiError::invalid_argument("siteUrl is required."));
            }
            if let Some(lang) = req.language_code.as_deref().filter(|l| !l.is_empty())
                && !inspect::valid_language(lang)
            {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid languageCode '{lang}': expected a BCP-47 tag such as en-US."
                )));
            }
            let site = site_for(state, grant, site_text, Access::Read)
                .map_err(|_| ApiError::permission_denied(MSG_INSPECT_DENIED))?;
            let url = url::Url::parse(url_text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    ApiError::invalid_argument(format!(
                        "Invalid inspectionUrl '{url_text}': expected an absolute http(s) URL."
                    ))
                })?;
            if !site.property.contains(&url) {
                return Err(ApiError::permission_denied(MSG_INSPECT_DENIED));
            }
            ok(&inspect::inspect(&site, &url, clock), pretty)
        }
    }
}

fn feed_of(route: &Route) -> &str {
    match route {
        Route::Sitemap(_, feed) => feed,
        _ => "",
    }
}

fn sitemap_not_found() -> ApiError {
    ApiError::not_found("Requested entity was not found.")
}

/// The site if the grant lists it with enough permission; GSC's 403 otherwise (for sites
/// that do not exist as much as for sites of someone else).
fn site_for(
    state: &AppState,
    grant: &GoogleGrant,
    url: &str,
    access: Access,
) -> Result<Arc<SiteInfo>, ApiError> {
    let denied = || ApiError::permission_denied(error::forbidden_message(url));
    if !grant.gsc_sites.iter().any(|s| s == url) {
        return Err(denied());
    }
    let site = state.gsc.get(url).ok_or_else(denied)?;
    let allowed = match access {
        Access::See => true,
        Access::Read => site.permission != PermissionLevel::SiteUnverifiedUser,
        Access::Write => matches!(
            site.permission,
            PermissionLevel::SiteOwner | PermissionLevel::SiteFullUser
        ),
    };
    if allowed { Ok(site) } else { Err(denied()) }
}

fn parse_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| crate::ga4::json_error(&e))
}

fn ok<T: Serialize>(value: &T, pretty: bool) -> Result<Response, ApiError> {
    Ok(http::json(StatusCode::OK, value, pretty))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `WmxSite`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SiteEntry {
    site_url: String,
    permission_level: PermissionLevel,
}

impl SiteEntry {
    fn of(site: &SiteInfo) -> Self {
        Self {
            site_url: site.url.clone(),
            permission_level: site.permission,
        }
    }
}

/// `SitesListResponse` (the key is omitted when there are no sites).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SitesJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    site_entry: Vec<SiteEntry>,
}

/// `SitemapsListResponse`.
#[derive(Debug, Serialize)]
struct SitemapsJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sitemap: Vec<sitemaps::SitemapJson>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_split_before_decoding() {
        assert_eq!(Route::parse("/webmasters/v3/sites"), Some(Route::Sites));
        assert_eq!(
            Route::parse(
                "/webmasters/v3/sites/https%3A%2F%2Fwww.example.com%2F/searchAnalytics/query"
            ),
            Some(Route::Query("https://www.example.com/".into()))
        );
        assert_eq!(
            Route::parse("/webmasters/v3/sites/sc-domain%3Aexample.com/sitemaps"),
            Some(Route::Sitemaps("sc-domain:example.com".into()))
        );
        assert_eq!(
            Route::parse(
                "/webmasters/v3/sites/sc-domain:example.com/sitemaps/https%3A%2F%2Fexample.com%2Fsitemap.xml"
            ),
            Some(Route::Sitemap(
                "sc-domain:example.com".into(),
                "https://example.com/sitemap.xml".into()
            ))
        );
        assert_eq!(
            Route::parse("/v1/urlInspection/index:inspect"),
            Some(Route::Inspect)
        );
        assert_eq!(
            Route::parse("/v1/urlInspection/index%3Ainspect"),
            Some(Route::Inspect)
        );
        for bad in [
            "/webmasters/v3/sites/",
            "/webmasters/v3/sites/https://www.example.com//sitemaps",
            "/webmasters/v3/sites/x/searchanalytics/query",
            "/webmasters/v3/site",
            "/v1/urlInspection/index:run",
        ] {
            assert_eq!(Route::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn fixture_validation() {
        let ok = Fixtures::from_toml_str(
            "[[gsc_sites]]\nsite_url = \"https://www.x.example/\"\npermission_level = \"siteFullUser\"\nsitemaps = [\"https://www.x.example/sitemap_index.xml\"]\nfirst_date = \"2021-03-04\"\nvertical = \"florist\"\nhome_country = \"deu\"\n",
        )
        .unwrap();
        assert_eq!(
            ok.gsc_sites[0].permission_level,
            PermissionLevel::SiteFullUser
        );
        for bad in [
            "[[gsc_sites]]\nsite_url = \"https://www.x.example\"\n",
            "[[gsc_sites]]\nsite_url = \"sc-domain:x.example\"\nhome_country = \"POL\"\n",
            "[[gsc_sites]]\nsite_url = \"sc-domain:x.example\"\nsitemaps = [\"https://other.example/s.xml\"]\n",
            "[[gsc_sites]]\nsite_url = \"sc-domain:x.example\"\ndaily_clicks = 0\n",
            "[[gsc_sites]]\nsite_url = \"sc-domain:x.example\"\npermission_level = \"owner\"\n",
            "[[gsc_sites]]\nsite_url = \"sc-domain:x.example\"\n[[gsc_sites]]\nsite_url = \"sc-domain:x.example\"\n",
        ] {
            assert!(Fixtures::from_toml_str(bad).is_err(), "{bad}");
        }
    }
}
