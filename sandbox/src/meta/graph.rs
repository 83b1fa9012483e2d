//! Routing of Graph API reads: `/me`, `/me/adaccounts`, `/act_{id}[/{edge}]` and
//! `/{object_id}[/{edge}]`, in Meta's order of checks (version, token, method, permission,
//! object access, rate limit, parameters). Runs synchronously (on a blocking thread, see
//! [`super::handle`]) because insights over long ranges are CPU work.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::account::{Account, account_digits};
use super::auth::{self, Principal};
use super::error::GraphError;
use super::fields::{self, Field};
use super::filter;
use super::insights::{self, Query, Renderer};
use super::nodes::{self, Kind, ObjectSubject, View, with_paging};
use super::paging::{LinkBase, MAX_INSIGHTS_LIMIT, MAX_OBJECT_LIMIT, PageRequest, paginate};
use super::tree::Node;
use super::usage::{Snapshot, UseCase};
use crate::http;
use crate::state::Shared;

/// The oldest Graph version still served (older ones answer 2635).
const OLDEST_MAJOR: u32 = 23;
/// The version named in deprecation messages.
const LATEST: &str = "v26.0";

/// One Graph API request, already split up.
pub struct Request<'a> {
    /// Path version, e.g. `v26.0`.
    pub version: &'a str,
    /// Path after the version, e.g. `act_111/insights`.
    pub rest: &'a str,
    /// HTTP method.
    pub method: &'a Method,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Decoded query pairs.
    pub params: Vec<(String, String)>,
}

impl Request<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn path(&self) -> String {
        format!("/{}/{}", self.version, self.rest)
    }

    fn links(&self) -> LinkBase {
        LinkBase::new(self.headers, &self.path(), &self.params)
    }

    fn fields(&self) -> Result<Option<Vec<Field>>, GraphError> {
        match self.get("fields") {
            Some(f) => Ok(Some(fields::parse(&f)?)),
            None => Ok(None),
        }
    }
}

/// A successful Graph response (compact JSON plus a trace id, like Meta's).
fn ok(body: &Value) -> Response {
    let mut response = http::json(StatusCode::OK, body, false);
    if let Ok(v) = HeaderValue::from_str(&super::error::trace_id()) {
        response.headers_mut().insert("x-fb-trace-id", v);
    }
    response
}

/// Serves one Graph read.
pub fn serve(shared: &Shared, req: &Request<'_>) -> Response {
    match route(shared, req) {
        Ok(r) => r,
        Err(e) => e.render(),
    }
}

fn route(shared: &Shared, req: &Request<'_>) -> Result<Response, GraphError> {
    let major = req
        .version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .and_then(|(m, _)| m.parse::<u32>().ok())
        .unwrap_or(0);
    if major < OLDEST_MAJOR {
        return Err(GraphError::deprecated_version(req.version, LATEST));
    }
    let segments: Vec<&str> = req.rest.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() || segments.len() > 2 {
        return Ok(crate::meta_not_found(&req.path()));
    }
    let me = segments[0] == "me";
    let token = auth::presented(req.headers, &req.params);
    let principal = auth::authenticate(shared, token.as_deref(), me, Utc::now())?;
    auth::check_proof(
        shared,
        token.as_deref(),
        req.get("appsecret_proof").as_deref(),
    )?;
    if req.method != Method::GET {
        return Err(GraphError::read_only(req.method.as_str(), segments[0]));
    }
    let edge = segments.get(1).copied();
    if me {
        return match edge {
            None => me_node(shared, req, &principal),
            Some("adaccounts") => ad_accounts(shared, req, &principal),
            Some(other) => Err(GraphError::nonexisting_field(other, "User")),
        };
    }
    let id = segments[0];
    if !principal.can_read_ads() {
        return Err(GraphError::no_ads_permission());
    }
    if id.starts_with("act_") {
        if account_digits(id).is_none() || !principal.sees(id) {
            return Err(GraphError::unsupported("GET", id));
        }
        let account =
            Account::resolve(shared, id).ok_or_else(|| GraphError::unsupported("GET", id))?;
        let view = View::new(&shared.config, &account);
        return with_usage(shared, &account, edge, "adaccount", id, || {
            account_request(req, &view, edge)
        });
    }
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GraphError::unknown_alias(id));
    }
    for act in &principal.ad_accounts {
        let Some(account) = Account::resolve(shared, act) else {
            continue;
        };
        let view = View::new(&shared.config, &account);
        let Some(node) = view.tree().find(id) else {
            continue;
        };
        let kind = View::kind(node);
        let method = match kind {
            Kind::Campaign => "campaign",
            Kind::AdSet => "adset",
            Kind::Ad => "ad",
            _ => "adcreative",
        };
        return with_usage(shared, &account, edge, method, id, || {
            object_request(req, &view, node, edge)
        });
    }
    Err(GraphError::unsupported("GET", id))
}

/// Counts the call, applies throttles and attaches the rate-limit headers to whatever the
/// handler answers (errors included).
fn with_usage(
    shared: &Shared,
    account: &Account,
    edge: Option<&str>,
    node_method: &str,
    resource: &str,
    handler: impl FnOnce() -> Result<Response, GraphError>,
) -> Result<Response, GraphError> {
    let use_case = if edge == Some("insights") {
        UseCase::Insights
    } else {
        UseCase::Management
    };
    let (snapshot, throttled): (Snapshot, Option<GraphError>) =
        shared
            .lock()
            .meta
            .record(&account.id, use_case, Instant::now());
    let method = match edge {
        Some(e) => format!("meta.{e}"),
        None => format!("meta.{node_method}"),
    };
    shared.count_api_call(resource, &method);
    let mut response = match throttled {
        Some(e) => e.render(),
        None => match handler() {
            Ok(r) => r,
            Err(e) => e.render(),
        },
    };
    snapshot.apply(&mut response);
    Ok(response)
}

fn me_node(
    shared: &Shared,
    req: &Request<'_>,
    principal: &Principal,
) -> Result<Response, GraphError> {
    let sel = req.fields()?;
    if let Some(sel) = &sel {
        nodes::validate(sel, Kind::User)?;
    }
    shared.count_api_call("me", "meta.me");
    let mut out = serde_json::Map::new();
    for f in nodes::selection(sel.as_deref(), Kind::User) {
        let v = match f.name.as_str() {
            "id" => json!(nodes::user_id(&principal.name)),
            "name" => json!(principal.name),
            _ => {
                if !principal.can_read_ads() {
                    return Err(GraphError::no_ads_permission());
                }
                let sub = nodes::selection(f.children.as_deref(), Kind::AdAccount);
                let list = account_values(shared, principal, &sub)?;
                let limit = match f.modifier("limit") {
                    Some(l) => PageRequest::parse(&[("limit".into(), l.into())], MAX_OBJECT_LIMIT)?,
                    None => PageRequest::parse(&[], MAX_OBJECT_LIMIT)?,
                };
                let (page, paging) = paginate(list, &limit, None);
                if page.is_empty() {
                    continue;
                }
                with_paging(page, paging)
            }
        };
        out.insert(f.name.clone(), v);
    }
    Ok(ok(&Value::Object(out)))
}

fn account_values(
    shared: &Shared,
    principal: &Principal,
    sel: &[Field],
) -> Result<Vec<Value>, GraphError> {
    principal
        .ad_accounts
        .iter()
        .filter_map(|id| Account::resolve(shared, id))
        .map(|account| View::new(&shared.config, &account).account_node(sel))
        .collect()
}

fn ad_accounts(
    shared: &Shared,
    req: &Request<'_>,
    principal: &Principal,
) -> Result<Response, GraphError> {
    if !principal.can_read_ads() {
        return Err(GraphError::no_ads_permission());
    }
    let sel = req.fields()?;
    if let Some(sel) = &sel {
        nodes::validate(sel, Kind::AdAccount)?;
    }
    let page = PageRequest::parse(&req.params, MAX_OBJECT_LIMIT)?;
    shared.count_api_call("me", "meta.adaccounts");
    let sel = nodes::selection(sel.as_deref(), Kind::AdAccount);
    // Render only the page: amount_spent and nested insights cost real work per account.
    let accounts: Vec<Account> = principal
        .ad_accounts
        .iter()
        .filter_map(|id| Account::resolve(shared, id))
        .collect();
    let (page_accounts, paging) = paginate(accounts, &page, Some(&req.links()));
    let data = page_accounts
        .iter()
        .map(|a| View::new(&shared.config, a).account_node(&sel))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ok(&with_paging(data, paging)))
}

fn account_request(
    req: &Request<'_>,
    view: &View<'_>,
    edge: Option<&str>,
) -> Result<Response, GraphError> {
    match edge {
        None => {
            let sel = req.fields()?;
            if let Some(sel) = &sel {
                nodes::validate(sel, Kind::AdAccount)?;
            }
            let sel = nodes::selection(sel.as_deref(), Kind::AdAccount);
            Ok(ok(&view.account_node(&sel)?))
        }
        Some("insights") => insights_request(req, view, None),
        Some(e @ ("campaigns" | "adsets" | "ads" | "adcreatives")) => {
            list_request(req, view, e, None)
        }
        Some(other) => Err(GraphError::nonexisting_field(other, "AdAccount")),
    }
}

fn object_request(
    req: &Request<'_>,
    view: &View<'_>,
    node: Node,
    edge: Option<&str>,
) -> Result<Response, GraphError> {
    let kind = View::kind(node);
    match (kind, edge) {
        (_, None) => {
            let sel = req.fields()?;
            if let Some(sel) = &sel {
                nodes::validate(sel, kind)?;
            }
            let sel = nodes::selection(sel.as_deref(), kind);
            Ok(ok(&view.node(node, &sel)?))
        }
        (Kind::Campaign | Kind::AdSet | Kind::Ad, Some("insights")) => {
            insights_request(req, view, Some(node))
        }
        (Kind::Campaign, Some(e @ ("adsets" | "ads")))
        | (Kind::AdSet, Some(e @ "ads"))
        | (Kind::Ad, Some(e @ "adcreatives")) => list_request(req, view, e, Some(node)),
        (_, Some(other)) => Err(GraphError::nonexisting_field(other, kind.name())),
    }
}

fn list_request(
    req: &Request<'_>,
    view: &View<'_>,
    edge: &str,
    scope: Option<Node>,
) -> Result<Response, GraphError> {
    let kind = match edge {
        "campaigns" => Kind::Campaign,
        "adsets" => Kind::AdSet,
        "ads" => Kind::Ad,
        _ => Kind::AdCreative,
    };
    let sel = req.fields()?;
    if let Some(sel) = &sel {
        nodes::validate(sel, kind)?;
    }
    let statuses = match req.get("effective_status") {
        Some(t) => {
            filter::parse_statuses(&t, "effective_status", filter::effective_statuses(kind))?
        }
        None => Vec::new(),
    };
    let filters = match req.get("filtering") {
        Some(t) => filter::parse_filtering(&t, &nodes::is_object_filter_field)?,
        None => Vec::new(),
    };
    let page = PageRequest::parse(&req.params, MAX_OBJECT_LIMIT)?;
    // Asking about statuses explicitly (either way) turns off the default that hides
    // ARCHIVED and DELETED objects.
    let default_filter = !filters
        .iter()
        .any(|f| f.field.ends_with("effective_status"));
    let tree = view.tree();
    let nodes: Vec<Node> = nodes::edge_nodes(tree, edge, scope, &statuses, default_filter)
        .into_iter()
        .filter(|n| {
            let subject = ObjectSubject { tree, node: *n };
            filters.iter().all(|f| f.matches(&subject))
        })
        .collect();
    let total = nodes.len();
    let (page_nodes, paging) = paginate(nodes, &page, Some(&req.links()));
    let sel = nodes::selection(sel.as_deref(), kind);
    let data = page_nodes
        .into_iter()
        .map(|n| view.node(n, &sel))
        .collect::<Result<Vec<_>, _>>()?;
    let mut body = with_paging(data, paging);
    if req
        .get("summary")
        .is_some_and(|s| matches!(s.as_str(), "true" | "1" | "total_count"))
    {
        body["summary"] = json!({ "total_count": total });
    }
    Ok(ok(&body))
}

fn insights_request(
    req: &Request<'_>,
    view: &View<'_>,
    scope: Option<Node>,
) -> Result<Response, GraphError> {
    let fields = req.get("fields").map(|f| insights::list_param(&f));
    let get = |k: &str| req.get(k);
    let query = Query::parse(&get, fields, view.account, &view.clock, scope)?;
    let page = PageRequest::parse(&req.params, MAX_INSIGHTS_LIMIT)?;
    let tree = view.tree();
    let mut rows = insights::aggregate(&query, view.account, tree, view.config, &view.clock, scope);
    let renderer = Renderer::new(&query, view.account, tree);
    renderer.filter_and_sort(&mut rows);
    let (page_rows, paging) = paginate(rows, &page, Some(&req.links()));
    let data: Vec<Value> = page_rows.iter().map(|r| renderer.render(r)).collect();
    Ok(ok(&with_paging(data, paging)))
}
