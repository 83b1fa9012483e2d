//! `Ga4Server`: the GA4 tools. Each tool checks its arguments ([`crate::request`]), calls the
//! typed API client ([`crate::api`]) and shapes the result ([`crate::report`]). Upstream
//! failures become tool errors whose text says what to do ([`Ga4Server::explain`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use mcp_common::credentials::TokenProvider;
use mcp_common::error::UpstreamError;
use mcp_common::output::{self, Table};
use mcp_common::output::{Refusal, ToolResult, fail};
use mcp_common::params::{Checked, FlexibleId, Parameters};
use mcp_common::scope::{self, AccountKind};
use mcp_common::{LazyRouter, Provider, ToolServer};
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use serde_json::Value;

use crate::api::Ga4Api;
use crate::params::{
    AccountSummariesParams, PropertyParams, RunConversionsReportParams, RunFunnelReportParams,
    RunRealtimeReportParams, RunReportParams,
};
use crate::report::{
    self, AccountOut, AccountSummariesOutput, AdminListOutput, CustomDefinitionsOutput,
    FunnelOutput, PropertyDetailsOutput, PropertyOut, ReportOutput, admin_list, custom_field,
    google_date, str_field,
};
use crate::request::{self, ReportRequest};
use crate::suggest;

const SERVICE: &str = "Google Analytics";
const PROPERTY: AccountKind = AccountKind {
    service: SERVICE,
    noun: "Google Analytics property",
    provider: Provider::Ga4,
};

/// The GA4 MCP server: read-only tools over one identity's GA4 properties.
#[derive(Clone)]
pub struct Ga4Server {
    inner: Arc<Inner>,
    router: LazyRouter<Self>,
}

struct Inner {
    api: Ga4Api,
    default_property: Option<String>,
    /// Asked for the shop's property (the broker's integration record) when neither the call
    /// nor `--property-id` names one.
    tokens: Arc<TokenProvider>,
    tenant: String,
    /// Metric and dimension names per property, fetched only to suggest fixes for unknown
    /// field names.
    field_names: Mutex<HashMap<String, Arc<Vec<String>>>>,
}

impl Ga4Server {
    /// A server over `api`; `default_property` (numeric id) is used when a call gives none.
    pub fn new(
        api: Ga4Api,
        default_property: Option<String>,
        tokens: Arc<TokenProvider>,
        tenant: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                default_property,
                tokens,
                tenant,
                field_names: Mutex::default(),
            }),
            router: LazyRouter::new(Self::tool_router),
        }
    }

    /// The property a call is about: its argument, else `--property-id`, else the shop's
    /// property from the broker's integration record.
    /// Under a lease, the shop's property is the only one.
    async fn property(&self, given: Option<&FlexibleId>) -> Result<String, Refusal> {
        let requested = given
            .map(|g| g.0.as_str())
            .or(self.inner.default_property.as_deref());
        match scope::resolve(
            &self.inner.tokens,
            PROPERTY,
            requested,
            request::property_id,
        )
        .await
        {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err(request::property_required().into()),
            Err(e) => Err(e),
        }
    }

    /// The tool-error text for an upstream failure on `property`.
    async fn explain(&self, err: &UpstreamError, property: Option<&str>) -> String {
        let target = property
            .map(|p| format!("property {p}"))
            .unwrap_or_else(|| "this account".into());
        let Some(api) = err.api() else {
            return err.explain(SERVICE);
        };
        match (
            api.http_status.as_u16(),
            api.status.as_deref(),
            api.reason.as_deref(),
        ) {
            (403, _, Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT")) => err.explain(SERVICE),
            // Quotas and a disabled API come as 403 too: they are not a missing access.
            (403, _, _) if api.is_quota() || api.is_service_disabled() => err.explain(SERVICE),
            (403, _, _) => format!(
                "No access to Google Analytics {target}: the connected Google account cannot read it \
                 ({}). Call get_account_summaries to list the properties it can access.",
                api.message
            ),
            (404, _, _) => format!(
                "Google Analytics {target} was not found ({}). Call get_account_summaries to list valid ids.",
                api.message
            ),
            (400, _, _) => {
                let mut text = format!("Google Analytics rejected the request: {}", api.message);
                if let (Some((name, kind)), Some(p)) =
                    (suggest::invalid_field(&api.message), property)
                {
                    if let Some(better) = self.suggestion(p, name).await {
                        text.push_str(&format!(" Did you mean the {kind} \"{better}\"?"));
                    }
                    text.push_str(
                        " Custom fields are listed by get_custom_dimensions_and_metrics.",
                    );
                }
                text
            }
            _ => err.explain(SERVICE),
        }
    }

    async fn suggestion(&self, property: &str, wrong: &str) -> Option<String> {
        let cached = self
            .inner
            .field_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(property)
            .cloned();
        let names = match cached {
            Some(n) => n,
            None => {
                let meta = self.inner.api.metadata(property).await.ok()?;
                let names: Arc<Vec<String>> = Arc::new(
                    meta.dimensions
                        .into_iter()
                        .chain(meta.metrics)
                        .map(|f| f.api_name)
                        .collect(),
                );
                self.inner
                    .field_names
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(property.to_owned(), names.clone());
                names
            }
        };
        suggest::closest(wrong, names.iter().map(String::as_str)).map(str::to_owned)
    }

    async fn upstream_error(&self, err: UpstreamError, property: Option<&str>) -> ToolResult {
        let text = self.explain(&err, property).await;
        tracing::info!(error = %err, "upstream call failed");
        Ok(output::error(text))
    }

    /// The one path of every tool about a property, after its arguments were checked (no I/O):
    /// resolve the property (may ask the broker), call the API, render, or explain the failure.
    async fn on_property<T>(
        &self,
        given: Option<&FlexibleId>,
        call: impl AsyncFnOnce(&Ga4Api, &str) -> Result<T, UpstreamError>,
        render: impl FnOnce(&str, T) -> CallToolResult,
    ) -> ToolResult {
        let id = match self.property(given).await {
            Ok(id) => id,
            Err(e) => return fail(e),
        };
        match call(&self.inner.api, &id).await {
            Ok(answer) => Ok(render(&id, answer)),
            Err(e) => self.upstream_error(e, Some(&id)).await,
        }
    }

    /// `run_report`, `run_realtime_report` and `run_conversions_report`: one report path.
    async fn report(
        &self,
        given: Option<&FlexibleId>,
        checked: Checked<ReportRequest>,
    ) -> ToolResult {
        let req = match checked {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        self.on_property(
            given,
            async |api, id| api.report(req.endpoint, id, &req.body).await,
            |id, answer| {
                let out = report::report_output(id, answer, req.offset);
                let text = report::render_report(&out, req.endpoint.tool());
                output::success(&out, text)
            },
        )
        .await
    }
}

#[tool_router]
impl Ga4Server {
    /// List the Google Analytics accounts and GA4 properties these credentials can read, with
    /// their ids. Start here when you do not know the property id. Pages of up to 200 accounts;
    /// pass `next_page_token` back as `page_token` for more.
    #[tool(
        annotations(title = "List GA4 accounts and properties"),
        output_schema = schema_for_output::<AccountSummariesOutput>()
    )]
    async fn get_account_summaries(
        &self,
        Parameters(p): Parameters<AccountSummariesParams>,
    ) -> ToolResult {
        let page = match self
            .inner
            .api
            .account_summaries(p.page_token.as_deref())
            .await
        {
            Ok(page) => page,
            Err(e) => return self.upstream_error(e, None).await,
        };
        // Under a lease, only the shop's own property is listed.
        let shop = match scope::shop_account(&self.inner.tokens, PROPERTY).await {
            Ok(shop) => shop.map(|s| s.trim_start_matches("properties/").to_owned()),
            Err(e) => return fail(e),
        };
        let mut accounts: Vec<AccountOut> = page
            .account_summaries
            .into_iter()
            .map(|a| AccountOut {
                account_id: a.account.trim_start_matches("accounts/").to_owned(),
                account_name: a.display_name,
                properties: a
                    .property_summaries
                    .into_iter()
                    .map(|p| PropertyOut {
                        property_id: p.property.trim_start_matches("properties/").to_owned(),
                        display_name: p.display_name,
                        property_type: p.property_type,
                    })
                    .collect(),
            })
            .collect();
        if let Some(shop) = &shop {
            for a in &mut accounts {
                a.properties.retain(|p| &p.property_id == shop);
            }
            accounts.retain(|a| !a.properties.is_empty());
        }
        let mut table = Table::new(["account_id", "account_name", "property_id", "property_name"]);
        for a in &accounts {
            for p in &a.properties {
                table.push([
                    a.account_id.as_str(),
                    &a.account_name,
                    &p.property_id,
                    &p.display_name,
                ]);
            }
        }
        let mut text = format!(
            "{} account(s) on this page:\n{}",
            accounts.len(),
            table.render()
        );
        if let Some(d) = &self.inner.default_property {
            text.push_str(&format!("Default property of this server: {d}.\n"));
        }
        if let Some(s) = &shop {
            text.push_str(&format!(
                "This server serves one shop: only its property {s} is listed and readable.\n"
            ));
        }
        let out = AccountSummariesOutput {
            accounts,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        };
        if out.next_page_token.is_some() {
            text.push_str("More accounts exist: call again with page_token = next_page_token.\n");
        }
        Ok(output::success(&out, text))
    }

    /// Settings of a GA4 property: display name, time zone (dates in reports use it), currency,
    /// industry, service level (standard or 360), creation time.
    #[tool(
        annotations(title = "Get GA4 property details"),
        output_schema = schema_for_output::<PropertyDetailsOutput>()
    )]
    async fn get_property_details(&self, Parameters(p): Parameters<PropertyParams>) -> ToolResult {
        self.on_property(
            p.property_id.as_ref(),
            async |api, id| api.property(id).await,
            |id, mut property| {
                property.remove("parent");
                let mut table = Table::new(["field", "value"]);
                for (k, v) in &property {
                    let shown = v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string());
                    table.push([k.as_str(), &shown]);
                }
                let text = format!("properties/{id}:\n{}", table.render());
                let out = PropertyDetailsOutput {
                    property_id: format!("properties/{id}"),
                    property: property.into_iter().collect(),
                };
                output::success(&out, text)
            },
        )
        .await
    }

    /// Google Ads accounts linked to a GA4 property (customer ids), useful before comparing GA4
    /// paid traffic with Google Ads data.
    #[tool(
        annotations(title = "List Google Ads links"),
        output_schema = schema_for_output::<AdminListOutput>()
    )]
    async fn list_google_ads_links(&self, Parameters(p): Parameters<PropertyParams>) -> ToolResult {
        self.on_property(
            p.property_id.as_ref(),
            async |api, id| api.google_ads_links(id).await,
            |id, items| {
                let mut table = Table::new([
                    "customer_id",
                    "can_manage_clients",
                    "ads_personalization",
                    "created",
                ]);
                for l in &items {
                    table.push([
                        str_field(l, "customerId"),
                        l.get("canManageClients")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                            .to_string(),
                        l.get("adsPersonalizationEnabled")
                            .map(|v| v.to_string())
                            .unwrap_or_default(),
                        str_field(l, "createTime"),
                    ]);
                }
                let text = format!(
                    "properties/{id}: {} Google Ads link(s)\n{}",
                    items.len(),
                    table.render()
                );
                admin_list(id, items, text)
            },
        )
        .await
    }

    /// Annotations on a GA4 property's reports: notes such as campaign launches, site releases
    /// or tracking changes, with their dates. Check them when explaining a change in the data.
    #[tool(
        annotations(title = "List GA4 annotations"),
        output_schema = schema_for_output::<AdminListOutput>()
    )]
    async fn list_property_annotations(
        &self,
        Parameters(p): Parameters<PropertyParams>,
    ) -> ToolResult {
        self.on_property(
            p.property_id.as_ref(),
            async |api, id| api.annotations(id).await,
            |id, items| {
                let mut table = Table::new(["date", "title", "description"]);
                for a in &items {
                    let date = match a.get("annotationDateRange") {
                        Some(r) => format!(
                            "{}..{}",
                            google_date(r.get("startDate")),
                            google_date(r.get("endDate"))
                        ),
                        None => google_date(a.get("annotationDate")),
                    };
                    table.push([date, str_field(a, "title"), str_field(a, "description")]);
                }
                let text = format!(
                    "properties/{id}: {} annotation(s)\n{}",
                    items.len(),
                    table.render()
                );
                admin_list(id, items, text)
            },
        )
        .await
    }

    /// Custom dimensions and metrics defined on a GA4 property, with the `api_name` to use in
    /// `dimensions`/`metrics` of run_report (e.g. `customEvent:shoe_size`).
    #[tool(
        annotations(title = "List GA4 custom dimensions and metrics"),
        output_schema = schema_for_output::<CustomDefinitionsOutput>()
    )]
    async fn get_custom_dimensions_and_metrics(
        &self,
        Parameters(p): Parameters<PropertyParams>,
    ) -> ToolResult {
        self.on_property(
            p.property_id.as_ref(),
            async |api, id| {
                let (dims, metrics) =
                    tokio::join!(api.custom_dimensions(id), api.custom_metrics(id));
                Ok((dims?, metrics?))
            },
            |id, (dims, metrics)| {
                let out = CustomDefinitionsOutput {
                    property_id: format!("properties/{id}"),
                    custom_dimensions: dims.iter().map(custom_field).collect(),
                    custom_metrics: metrics.iter().map(custom_field).collect(),
                };
                let mut table = Table::new(["kind", "api_name", "display_name", "scope"]);
                for (kind, list) in [
                    ("dimension", &out.custom_dimensions),
                    ("metric", &out.custom_metrics),
                ] {
                    for f in list {
                        table.push([kind, f.api_name.as_str(), &f.display_name, &f.scope]);
                    }
                }
                let text = format!(
                    "properties/{id}: {} custom dimension(s), {} custom metric(s)\n{}",
                    out.custom_dimensions.len(),
                    out.custom_metrics.len(),
                    table.render()
                );
                output::success(&out, text)
            },
        )
        .await
    }

    /// Run a Google Analytics 4 report (Data API runReport): metrics such as sessions,
    /// activeUsers, newUsers, engagementRate, screenPageViews, keyEvents, ecommercePurchases,
    /// purchaseRevenue, totalRevenue, split by dimensions such as date,
    /// sessionDefaultChannelGroup, sessionSourceMedium, country, deviceCategory, pagePath,
    /// landingPage, eventName. Dates may be relative (`today`, `yesterday`, `28daysAgo`); compare
    /// periods with two date ranges (rows then carry a `dateRange` dimension). Filters are
    /// text: dimension names in `dimension_filter`, metric names in `metric_filter`. Results
    /// come in pages (default 100 rows): the answer gives `row_count` and `next_offset`; call
    /// again with `offset` for more. Unknown names get a suggestion; custom fields come from
    /// get_custom_dimensions_and_metrics.
    #[tool(
        annotations(title = "Run a GA4 report"),
        output_schema = schema_for_output::<ReportOutput>()
    )]
    async fn run_report(&self, Parameters(p): Parameters<RunReportParams>) -> ToolResult {
        self.report(p.property_id.as_ref(), request::run_report(&p))
            .await
    }

    /// Realtime GA4 data for the last 30 minutes (Data API runRealtimeReport): e.g. activeUsers
    /// by country, city, deviceCategory, unifiedScreenName or minutesAgo; eventCount by
    /// eventName. Use `minute_ranges` for a narrower window. No date ranges and no offset.
    #[tool(
        annotations(title = "Run a GA4 realtime report"),
        output_schema = schema_for_output::<ReportOutput>()
    )]
    async fn run_realtime_report(
        &self,
        Parameters(p): Parameters<RunRealtimeReportParams>,
    ) -> ToolResult {
        self.report(p.property_id.as_ref(), request::run_realtime_report(&p))
            .await
    }

    /// Run a GA4 funnel report (Data API v1alpha runFunnelReport): how many users reach each
    /// step and where they drop off, e.g. view_item → add_to_cart → begin_checkout → purchase.
    /// Steps are event names (`event`) or text filters (`filter`, run_report's syntax);
    /// optionally break down by a dimension (`funnel_breakdown`) or report next actions.
    #[tool(
        annotations(title = "Run a GA4 funnel report"),
        output_schema = schema_for_output::<FunnelOutput>()
    )]
    async fn run_funnel_report(
        &self,
        Parameters(p): Parameters<RunFunnelReportParams>,
    ) -> ToolResult {
        let body = match request::run_funnel_report(&p) {
            Ok(body) => body,
            Err(e) => return fail(e),
        };
        self.on_property(
            p.property_id.as_ref(),
            async |api, id| api.run_funnel_report(id, &body).await,
            |id, answer| {
                let out = report::funnel_output(id, answer);
                let text = report::render_funnel(&out);
                output::success(&out, text)
            },
        )
        .await
    }

    /// Run a GA4 conversions report (Data API v1alpha runReport with a conversion spec): ad
    /// clicks, cost, conversions, revenue and return on ad spend by channel, source/medium or
    /// campaign, under a chosen attribution model (DATA_DRIVEN or LAST_CLICK). Use this instead
    /// of run_report for attribution, ROAS and ad-cost questions.
    #[tool(
        annotations(title = "Run a GA4 conversions report"),
        output_schema = schema_for_output::<ReportOutput>()
    )]
    async fn run_conversions_report(
        &self,
        Parameters(p): Parameters<RunConversionsReportParams>,
    ) -> ToolResult {
        self.report(p.property_id.as_ref(), request::run_conversions_report(&p))
            .await
    }
}

impl ToolServer for Ga4Server {
    const NAME: &'static str = "ga4-mcp";
    const TITLE: &'static str = "Google Analytics 4 (read-only)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn router(&self) -> &ToolRouter<Self> {
        self.router.get()
    }

    fn instructions(&self) -> String {
        let property = match &self.inner.default_property {
            Some(p) => {
                format!("Tools default to property {p} (this shop's) when property_id is omitted.")
            }
            None => "No default property: pass property_id (get_account_summaries lists them)."
                .to_owned(),
        };
        format!(
            "Read-only Google Analytics 4 data. {property} Dates are YYYY-MM-DD or relative \
             (today, yesterday, NdaysAgo) in the property's time zone. Reports are paged: follow \
             next_offset instead of raising the limit. Nothing here can change GA4 settings."
        )
    }

    fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    fn scope(&self) -> (&TokenProvider, AccountKind) {
        (&self.inner.tokens, PROPERTY)
    }
}
