//! `AdsServer`: the Google Ads tools, with the names and parameters of Google's own Ads MCP
//! server (`list_accessible_customers`, `search`, `get_resource_metadata`).

use std::sync::Arc;

use futures::StreamExt;
use mcp_common::credentials::TokenProvider;
use mcp_common::error::UpstreamError;
use mcp_common::output::{self, Table, fail};
use mcp_common::output::{Refusal, ToolResult};
use mcp_common::params::{FlexibleId, Parameters};
use mcp_common::scope::{self, AccountKind};
use mcp_common::{LazyRouter, Provider, ToolServer};
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::{tool, tool_router};
use serde_json::{Map, Value};

use crate::api::AdsApi;
use crate::params::{ListCustomersParams, MetadataParams, SearchParams};
use crate::query::{self, Cursor};
use crate::report::{CustomersOutput, MetadataOutput, SearchOutput};

const SERVICE: &str = "Google Ads";
const CUSTOMER: AccountKind = AccountKind {
    service: SERVICE,
    noun: "Google Ads customer",
    provider: Provider::GoogleAds,
};
const DEFAULT_ROWS: usize = 200;
/// Google's fixed page size; a slice never spans two Google pages.
const MAX_ROWS: usize = 10_000;

/// The Google Ads MCP server.
#[derive(Clone)]
pub struct AdsServer {
    inner: Arc<Inner>,
    router: LazyRouter<Self>,
}

struct Inner {
    api: AdsApi,
    default_customer: Option<String>,
    default_login_customer: Option<String>,
    tokens: Arc<TokenProvider>,
    tenant: String,
}

/// Google Ads errors: the GoogleAdsFailure details, one line each.
fn failure_lines(api: &mcp_common::error::ApiError) -> Vec<String> {
    let Some(body) = &api.body else {
        return Vec::new();
    };
    let body = body.as_array().and_then(|a| a.first()).unwrap_or(body);
    let mut lines = Vec::new();
    for detail in body["error"]["details"].as_array().into_iter().flatten() {
        for e in detail["errors"].as_array().into_iter().flatten() {
            let code = e["errorCode"]
                .as_object()
                .and_then(|o| o.iter().next())
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("")));
            let message = e["message"].as_str().unwrap_or("");
            lines.push(match code {
                Some(c) => format!("{message} ({c})"),
                None => message.to_owned(),
            });
        }
    }
    lines
}

impl AdsServer {
    /// A server over `api`, with default customer and manager ids.
    pub fn new(
        api: AdsApi,
        default_customer: Option<String>,
        default_login_customer: Option<String>,
        tokens: Arc<TokenProvider>,
        tenant: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                default_customer,
                default_login_customer,
                tokens,
                tenant,
            }),
            router: LazyRouter::new(Self::tool_router),
        }
    }

    /// (customer, login customer) of a call: arguments, else flags, else the broker's account.
    /// Under a lease, the shop's customer is the only one.
    async fn ids(
        &self,
        customer: Option<&FlexibleId>,
        login: Option<&FlexibleId>,
    ) -> Result<(String, Option<String>), Refusal> {
        let requested = customer
            .map(|c| c.0.as_str())
            .or(self.inner.default_customer.as_deref());
        let check = |c: &str| query::customer_id(c, "customer_id");
        let customer = scope::resolve(&self.inner.tokens, CUSTOMER, requested, check)
            .await?
            .ok_or_else(|| Refusal("customer_id is required: this server has no default account. Call list_accessible_customers to see the accounts you can read.".to_owned()))?;
        let login = match login
            .map(|c| c.0.clone())
            .or_else(|| self.inner.default_login_customer.clone())
        {
            Some(l) => Some(l),
            None => self.shop_login().await?,
        };
        let login = login
            .map(|l| query::customer_id(&l, "login_customer_id"))
            .transpose()?;
        Ok((customer, login))
    }

    /// The manager the shop's integration reads its customer through, if any.
    async fn shop_login(&self) -> Result<Option<String>, Refusal> {
        scope::shop_manager(&self.inner.tokens).await
    }

    fn explain(&self, err: &UpstreamError, customer: Option<&str>) -> String {
        let Some(api) = err.api() else {
            return err.explain(SERVICE);
        };
        let lines = failure_lines(api);
        let detail = if lines.is_empty() {
            api.message.clone()
        } else {
            lines.join("; ")
        };
        let text = format!(
            "{detail} {}",
            api.body.as_ref().map(|b| b.to_string()).unwrap_or_default()
        );
        match api.http_status.as_u16() {
            400 if text.contains("UNRECOGNIZED_FIELD") || text.contains("queryError") => format!(
                "Google Ads rejected the query: {detail}. get_resource_metadata lists the fields of a resource; GAQL grammar: https://developers.google.com/google-ads/api/docs/query/grammar"
            ),
            400 => format!("Google Ads rejected the request: {detail}."),
            401 => format!(
                "Google Ads rejected the credentials ({detail}). Reconnect the Google Ads integration."
            ),
            403 if text.contains("USER_PERMISSION_DENIED") => format!(
                "No access to Google Ads customer {}: {detail}. If it is a client of a manager (MCC) account, pass login_customer_id with the manager's id.",
                customer.unwrap_or("?")
            ),
            403 if api.reason.as_deref() == Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT")
                || api.is_service_disabled() =>
            {
                err.explain(SERVICE)
            }
            403 => format!("Google Ads denied the request: {detail}."),
            429 => {
                let wait = api
                    .retry_after
                    .map(|d| format!("about {} s", d.as_secs().max(1)))
                    .unwrap_or_else(|| "a minute".into());
                format!(
                    "Google Ads quota or rate limit reached ({detail}), still limited after {} attempt(s). Retry in {wait}.",
                    api.attempts
                )
            }
            _ => err.explain(SERVICE),
        }
    }
}

/// Whether a customer row's id (dashes ignored) or name contains `needle` (lower-cased).
fn customer_matches(customer: &Value, needle: &str) -> bool {
    let field = |k: &str| customer.get(k).and_then(Value::as_str).unwrap_or_default();
    field("customer.id").contains(&needle.replace('-', ""))
        || field("customer.descriptive_name")
            .to_lowercase()
            .contains(needle)
}

#[tool_router]
impl AdsServer {
    /// The Google Ads accounts these credentials reach directly (id, name, currency, time
    /// zone, manager or not). A manager's clients: `search` its `customer_client` resource.
    #[tool(
        annotations(title = "Accessible Google Ads customers"),
        output_schema = schema_for_output::<CustomersOutput>()
    )]
    async fn list_accessible_customers(
        &self,
        Parameters(p): Parameters<ListCustomersParams>,
    ) -> ToolResult {
        // Under a lease, only the shop's own customer is listed (it may be reachable only
        // through its manager, so it is not looked up in the accessible list).
        let shop = match scope::shop_account(&self.inner.tokens, CUSTOMER).await {
            Ok(shop) => shop.map(|c| c.replace('-', "")),
            Err(e) => return fail(e),
        };
        let (ids, login) = match shop {
            Some(customer) => match self.shop_login().await {
                Ok(login) => (vec![customer], login.map(|l| l.replace('-', ""))),
                Err(e) => return fail(e),
            },
            None => match self.inner.api.accessible_customers().await {
                Ok(ids) => (ids, None),
                Err(e) => return fail(self.explain(&e, None)),
            },
        };
        let login = login.as_deref();
        let q = "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone, customer.manager, customer.test_account FROM customer";
        let customers: Vec<Value> = futures::stream::iter(ids)
            .map(|id| async move {
                match self.inner.api.search(&id, q, None, login).await {
                    Ok(page) => {
                        let mut row = page.results.first().map(query::flatten).unwrap_or_default();
                        row.insert("customer.id".into(), Value::String(id));
                        Value::Object(row)
                    }
                    // The id stays useful even when the details are not readable.
                    Err(e) => {
                        serde_json::json!({"customer.id": id, "error": self.explain(&e, None)})
                    }
                }
            })
            .buffered(4)
            .collect()
            .await;
        let reachable = customers.len();
        let needle = mcp_common::params::needle(p.contains.as_deref());
        let customers: Vec<Value> = match &needle {
            None => customers,
            Some(needle) => customers
                .into_iter()
                .filter(|c| customer_matches(c, needle))
                .collect(),
        };
        let mut t = Table::new(["customer_id", "name", "currency", "time_zone", "manager"]);
        for c in &customers {
            let s = |k: &str| {
                c.get(k)
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .unwrap_or_default()
            };
            t.push([
                s("customer.id"),
                s("customer.descriptive_name"),
                s("customer.currency_code"),
                s("customer.time_zone"),
                s("customer.manager"),
            ]);
        }
        let mut text = match &needle {
            None => format!(
                "{} accessible customer(s):\n{}",
                customers.len(),
                t.render()
            ),
            Some(needle) => format!(
                "{} of {reachable} accessible customer(s) match {needle:?}:\n{}",
                customers.len(),
                t.render()
            ),
        };
        if let Some(d) = &self.inner.default_customer {
            text.push_str(&format!("Default customer of this server: {d}.\n"));
        }
        Ok(output::success(&CustomersOutput { customers }, text))
    }

    /// Read Google Ads data (campaigns, ad groups, ads, keywords, search terms, budgets) with
    /// GAQL: a full `query`, or `resource` + `fields` (+ `conditions`, `orderings`, `limit`).
    /// Metrics: impressions, clicks, cost_micros, conversions, conversions_value, ctr,
    /// average_cpc…; segments: date, device, week…. Dates: `segments.date DURING LAST_7_DAYS`
    /// (LAST_30_DAYS, THIS_MONTH, …) or `BETWEEN 'YYYY-MM-DD' AND 'YYYY-MM-DD'`. Money in
    /// micros. Field names: get_resource_metadata.
    #[tool(
        annotations(title = "Search Google Ads (GAQL)"),
        output_schema = schema_for_output::<SearchOutput>()
    )]
    async fn search(&self, Parameters(p): Parameters<SearchParams>) -> ToolResult {
        let q = match (&p.query, &p.resource) {
            (Some(q), None) if p.fields.is_empty() && q.trim().len() > 10 => q.trim().to_owned(),
            (None, Some(r)) => {
                match query::build(r, &p.fields, &p.conditions, &p.orderings, p.limit) {
                    Ok(q) => q,
                    Err(e) => return fail(e),
                }
            }
            _ => {
                return fail(
                    "give either query (a full GAQL statement) or resource + fields, not both and not neither",
                );
            }
        };
        let max_rows = match p.max_rows {
            None => DEFAULT_ROWS,
            Some(0) => return fail("max_rows must be at least 1"),
            Some(n) => (n as usize).min(MAX_ROWS),
        };
        let cursor = match p
            .page_token
            .as_deref()
            .map(|t| Cursor::decode(t, &q))
            .transpose()
        {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let (customer, login) = match self
            .ids(p.customer_id.as_ref(), p.login_customer_id.as_ref())
            .await
        {
            Ok(x) => x,
            Err(e) => return fail(e),
        };
        let (google_token, offset) = cursor
            .map(|c| (c.google_token, c.offset))
            .unwrap_or((None, 0));
        let page = match self
            .inner
            .api
            .search(&customer, &q, google_token.as_deref(), login.as_deref())
            .await
        {
            Ok(p) => p,
            Err(e) => return fail(self.explain(&e, Some(&customer))),
        };
        let end = (offset + max_rows).min(page.results.len());
        let rows: Vec<Map<String, Value>> = page
            .results
            .get(offset..end)
            .unwrap_or(&[])
            .iter()
            .map(query::flatten)
            .collect();
        let next = if end < page.results.len() {
            Some(Cursor {
                google_token: google_token.clone(),
                offset: end,
                query: query::fingerprint(&q),
            })
        } else {
            page.next_page_token
                .clone()
                .filter(|t| !t.is_empty())
                .map(|t| Cursor {
                    google_token: Some(t),
                    offset: 0,
                    query: query::fingerprint(&q),
                })
        };
        let columns = query::columns(page.field_mask.as_deref());
        let total_rows: Option<u64> = page
            .total_results_count
            .as_deref()
            .and_then(|t| t.parse().ok());
        // The selected fields only (Google adds each row's resource names); a count or an amount
        // Google left out is zero (proto3 JSON omits zeros), any other absent value null.
        let rows: Vec<Map<String, Value>> = rows
            .into_iter()
            .map(|row| query::regroup(row, &columns))
            .collect();
        let rows: Vec<Vec<Value>> = output::in_columns(&columns, &rows)
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .zip(&columns)
                    .map(|(v, c)| match v {
                        Value::Null if query::is_additive(c) => Value::from(0),
                        v => v,
                    })
                    .collect()
            })
            .collect();
        // Google counts the rows ignoring LIMIT.
        let total_rows = match (total_rows, query::limit_of(&q)) {
            (Some(total), Some(limit)) => Some(total.min(limit)),
            (total, _) => total,
        };
        let mut t = Table::new(columns.iter().map(String::as_str));
        for r in &rows {
            t.push(r.iter().map(output::cell));
        }
        let mut text = match total_rows {
            Some(n) => format!("customer {customer}: {} row(s) of {n}\n", rows.len()),
            None => format!("customer {customer}: {} row(s)\n", rows.len()),
        };
        text.push_str(&t.render());
        if columns.iter().any(|c| c.ends_with("_micros")) {
            text.push_str("Money (…_micros) is in millionths of the account's currency.\n");
        }
        if next.is_some() {
            let more = total_rows
                .map(|n: u64| n.saturating_sub((offset + rows.len()) as u64))
                .filter(|m| *m > 0 && google_token.is_none())
                .map(|m| format!("{m} more rows"))
                .unwrap_or_else(|| "More rows".into());
            text.push_str(&format!(
                "{more}: call search again with the same query and page_token = next_page_token.\n"
            ));
        }
        let out = SearchOutput {
            customer_id: customer,
            query: q,
            columns,
            rows,
            total_rows,
            next_page_token: next.map(|c| c.encode()),
        };
        Ok(output::success(&out, text))
    }

    /// Fields of a Google Ads resource you can SELECT, filter (WHERE) and ORDER BY, and the
    /// metrics and segments selectable with it.
    #[tool(
        annotations(title = "Google Ads resource fields"),
        output_schema = schema_for_output::<MetadataOutput>()
    )]
    async fn get_resource_metadata(&self, Parameters(p): Parameters<MetadataParams>) -> ToolResult {
        let resource = p.resource_name.trim().to_owned();
        if resource.is_empty()
            || !resource
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        {
            return fail(format!(
                "resource_name {resource:?} is not a resource name like campaign or ad_group"
            ));
        }
        let fields_q =
            format!("SELECT name, selectable, filterable, sortable WHERE name LIKE '{resource}.%'");
        let resource_q =
            format!("SELECT name, selectable_with, metrics, segments WHERE name = '{resource}'");
        let (fields, this) = tokio::join!(
            self.inner.api.fields(&fields_q),
            self.inner.api.fields(&resource_q)
        );
        let fields = match fields {
            Ok(f) => f,
            Err(e) => return fail(self.explain(&e, None)),
        };
        if fields.is_empty() {
            return fail(format!(
                "Google Ads has no resource {resource:?}; resources are listed at https://developers.google.com/google-ads/api/fields/latest/overview"
            ));
        }
        let pick = |flag: &str| {
            let mut v: Vec<String> = fields
                .iter()
                .filter(|f| f[flag] == true)
                .filter_map(|f| f["name"].as_str().map(str::to_owned))
                .collect();
            v.sort();
            v
        };
        // `metrics` and `segments` are what the resource allows in FROM; `selectableWith`
        // also holds them (and attributed resources, dropped here).
        let entry = this.ok().and_then(|list| list.into_iter().next());
        let selectable_with: Vec<String> = ["metrics", "segments", "selectableWith"]
            .iter()
            .filter_map(|key| entry.as_ref().and_then(|e| e[*key].as_array()))
            .flatten()
            .filter_map(Value::as_str)
            .filter(|n| n.starts_with("metrics.") || n.starts_with("segments."))
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let out = MetadataOutput {
            resource: resource.clone(),
            selectable: pick("selectable"),
            filterable: pick("filterable"),
            sortable: pick("sortable"),
            selectable_with,
        };
        let text = format!(
            "{resource}: {} selectable, {} filterable, {} sortable fields; {} metrics/segments selectable with it.\nSelectable: {}\n",
            out.selectable.len(),
            out.filterable.len(),
            out.sortable.len(),
            out.selectable_with.len(),
            out.selectable.join(", ")
        );
        Ok(output::success(&out, text))
    }
}

impl ToolServer for AdsServer {
    const NAME: &'static str = "google-ads-mcp";
    const TITLE: &'static str = "Google Ads (read-only)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn router(&self) -> &ToolRouter<Self> {
        self.router.get()
    }

    fn instructions(&self) -> String {
        let account = match &self.inner.default_customer {
            Some(c) => format!("Tools default to customer {c} when customer_id is omitted."),
            None => "Tools default to the shop's Google Ads account when customer_id is omitted."
                .to_owned(),
        };
        format!(
            "Read-only Google Ads data through GAQL (API {}). {account} Money fields are micros (divide by \
             1,000,000). Use get_resource_metadata before guessing field names. Nothing here can change campaigns.",
            self.inner.api.version()
        )
    }

    fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    fn scope(&self) -> (&TokenProvider, AccountKind) {
        (&self.inner.tokens, CUSTOMER)
    }
}
