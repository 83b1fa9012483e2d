//! `MetaServer`: the Meta Ads tools. Lists and objects go through one edge/object helper with
//! default fields per kind; insights numbers (strings on the wire) become numbers.

use std::sync::Arc;

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
use serde_json::Value;

use crate::api::MetaApi;
use crate::params::{
    AccountParams, AdAccountsParams, AdSetStatus, AdStatus, CampaignStatus, CreativeListParams,
    InsightsParams, Level, ListParams, ListQuery, ObjectParams,
};
use crate::report::{
    self, InsightsOutput, ListOutput, ObjectOutput, action, cell, list_text, numbers,
};
use crate::request::{
    ACCOUNT_FIELDS, AD_FIELDS, ADSET_FIELDS, CAMPAIGN_FIELDS, CREATIVE_FIELDS, INSIGHT_METRICS,
    account_id, field_list, limit, object_id,
};

const SERVICE: &str = "Meta Ads";
const AD_ACCOUNT: AccountKind = AccountKind {
    service: SERVICE,
    noun: "Meta ad account",
    provider: Provider::MetaAds,
};
/// The Meta Ads MCP server.
#[derive(Clone)]
pub struct MetaServer {
    inner: Arc<Inner>,
    router: LazyRouter<Self>,
}

struct Inner {
    api: MetaApi,
    default_account: Option<String>,
    tokens: Arc<TokenProvider>,
    tenant: String,
}

impl MetaServer {
    /// A server over `api`; `default_account` (`act_…`) is used when a call gives none.
    pub fn new(
        api: MetaApi,
        default_account: Option<String>,
        tokens: Arc<TokenProvider>,
        tenant: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                default_account,
                tokens,
                tenant,
            }),
            router: LazyRouter::new(Self::tool_router),
        }
    }

    /// The ad account of a call: its argument, else `--ad-account-id`, else the shop's from
    /// the broker. Under a lease, the shop's account is the only one.
    async fn account(&self, given: Option<&FlexibleId>) -> Result<String, Refusal> {
        let requested = given
            .map(|g| g.0.as_str())
            .or(self.inner.default_account.as_deref());
        scope::resolve(&self.inner.tokens, AD_ACCOUNT, requested, account_id)
            .await?
            .ok_or_else(|| Refusal("account_id is required: this server has no default ad account. Call get_ad_accounts to see the accounts this token can read.".into()))
    }

    /// The shop's ad account when a lease pins this server to one shop.
    async fn shop_account(&self) -> Result<Option<String>, Refusal> {
        let shop = scope::shop_account(&self.inner.tokens, AD_ACCOUNT).await?;
        Ok(shop.map(|a| account_id(&a)).transpose()?)
    }

    /// Refuses an object (campaign, ad set, ad, creative) of another ad account than the
    /// shop's: Meta ids are global, so an id alone could reach any account the token sees.
    fn check_owner(&self, shop: Option<&str>, id: &str, owner: &Value) -> Result<(), Refusal> {
        let Some(shop) = shop else { return Ok(()) };
        let owner = match owner {
            Value::String(s) => format!("act_{s}"),
            Value::Number(n) => format!("act_{n}"),
            _ => String::new(),
        };
        if owner == shop {
            Ok(())
        } else {
            Err(Refusal(format!(
                "{id} does not belong to this shop's ad account {shop}: this server serves one shop and reads only its objects."
            )))
        }
    }

    /// [`Self::check_owner`] for an id given without its fields: one lookup of its account.
    async fn check_object(&self, id: &str) -> Result<(), Refusal> {
        let shop = self.shop_account().await?;
        let Some(shop) = shop.as_deref() else {
            return Ok(());
        };
        if id.starts_with("act_") {
            return scope::only_the_shops(Some(id.to_owned()), shop, AD_ACCOUNT.noun).map(drop);
        }
        let v = self
            .inner
            .api
            .object(id, &[("fields", "account_id".to_owned())])
            .await
            .map_err(|e| Refusal(self.explain(&e, id)))?;
        self.check_owner(Some(shop), id, &v["account_id"])
    }

    fn explain(&self, err: &UpstreamError, target: &str) -> String {
        match err.api().and_then(|a| a.meta.map(|m| (a, m))) {
            Some((a, m)) if m.code == 100 && m.subcode == Some(33) => format!(
                "Meta Ads has no {target} this token can read ({}). get_ad_accounts lists the accounts it can read.",
                a.message
            ),
            Some((a, m)) if m.code == 100 => format!(
                "Meta Ads rejected the request: {} (error 100). Check field names and parameters.",
                a.message
            ),
            _ => err.explain(SERVICE),
        }
    }

    async fn list(
        &self,
        parent: &str,
        edge: &str,
        fields: String,
        lim: u32,
        after: Option<&str>,
        extra: Vec<(&'static str, String)>,
    ) -> Result<ListOutput, Refusal> {
        let mut query = vec![("fields", fields), ("limit", lim.to_string())];
        if let Some(a) = after {
            query.push(("after", a.to_owned()));
        }
        query.extend(extra);
        let page = self
            .inner
            .api
            .edge(&format!("{parent}/{edge}"), &query)
            .await
            .map_err(|e| Refusal(self.explain(&e, parent)))?;
        let next_after = page.next_after();
        Ok(ListOutput {
            parent: parent.to_owned(),
            items: page.data.into_iter().map(numbers).collect(),
            next_after,
        })
    }

    async fn account_list(
        &self,
        p: ListQuery,
        edge: &str,
        default: &[&str],
        columns: &[&str],
    ) -> ToolResult {
        let pinned = self.inner.tokens.shop_id().is_some();
        let (fields, lim) = match (field_list(&p.fields, default, pinned), limit(p.limit)) {
            (Ok(f), Ok(l)) => (f, l),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        let account = match self.account(p.account_id.as_ref()).await {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        let mut extra = Vec::new();
        if !p.effective_status.is_empty() {
            extra.push((
                "effective_status",
                serde_json::to_string(&p.effective_status).unwrap_or_default(),
            ));
        }
        match self
            .list(&account, edge, fields, lim, p.after.as_deref(), extra)
            .await
        {
            Ok(out) => {
                let text = list_text(&out, edge, columns);
                Ok(output::success(&out, text))
            }
            Err(e) => fail(e),
        }
    }

    async fn details(&self, p: ObjectParams, default: &[&str], what: &str) -> ToolResult {
        let pinned = self.inner.tokens.shop_id().is_some();
        let (id, mut fields) = match (object_id(&p.id.0), field_list(&p.fields, default, pinned)) {
            (Ok(i), Ok(f)) => (i, f),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        let shop = match self.shop_account().await {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        // Under a lease the owner is read with the object, not in a second call.
        if shop.is_some() && !fields.split(',').any(|f| f == "account_id") {
            fields.push_str(",account_id");
        }
        match self.inner.api.object(&id, &[("fields", fields)]).await {
            Ok(v) => {
                if let Err(e) = self.check_owner(shop.as_deref(), &id, &v["account_id"]) {
                    return fail(e);
                }
                let v = numbers(v);
                let object = v.as_object().cloned().unwrap_or_default();
                let mut t = Table::new(["field", "value"]);
                for (k, val) in &object {
                    t.push([
                        k.clone(),
                        match val {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                    ]);
                }
                Ok(output::success(
                    &ObjectOutput { object },
                    format!("{what} {id}:\n{}", t.render()),
                ))
            }
            Err(e) => fail(self.explain(&e, &format!("{what} {id}"))),
        }
    }
}

#[tool_router]
impl MetaServer {
    /// List the Meta (Facebook/Instagram) ad accounts this token can read: id (`act_…`), name,
    /// status, currency, time zone, amount spent. Start here when you do not know the account.
    #[tool(
        annotations(title = "List Meta ad accounts"),
        output_schema = schema_for_output::<ListOutput>()
    )]
    async fn get_ad_accounts(&self, Parameters(p): Parameters<AdAccountsParams>) -> ToolResult {
        let lim = match limit(p.limit) {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        // Under a lease, only the shop's own account is listed.
        match self.shop_account().await {
            Ok(Some(shop)) => {
                let fields = ACCOUNT_FIELDS.join(",");
                return match self.inner.api.object(&shop, &[("fields", fields)]).await {
                    Ok(v) => {
                        let out = ListOutput {
                            parent: "me".into(),
                            items: vec![numbers(v)],
                            next_after: None,
                        };
                        let mut text = list_text(
                            &out,
                            "ad accounts",
                            &["id", "name", "account_status", "currency", "amount_spent"],
                        );
                        text.push_str(&format!(
                            "This server serves one shop: only its ad account {shop} is listed and readable.\n"
                        ));
                        Ok(output::success(&out, text))
                    }
                    Err(e) => fail(self.explain(&e, &shop)),
                };
            }
            Ok(None) => {}
            Err(e) => return fail(e),
        }
        match self
            .list(
                "me",
                "adaccounts",
                ACCOUNT_FIELDS.join(","),
                lim,
                p.after.as_deref(),
                Vec::new(),
            )
            .await
        {
            Ok(out) => {
                let mut text = list_text(
                    &out,
                    "ad accounts",
                    &["id", "name", "account_status", "currency", "amount_spent"],
                );
                if let Some(d) = &self.inner.default_account {
                    text.push_str(&format!("Default ad account of this server: {d}.\n"));
                }
                Ok(output::success(&out, text))
            }
            Err(e) => fail(e),
        }
    }

    /// One ad account's settings and status: name, status, currency, time zone, amount spent
    /// and spend cap (minor units, e.g. cents), business.
    #[tool(
        annotations(title = "Get Meta ad account"),
        output_schema = schema_for_output::<ObjectOutput>()
    )]
    async fn get_account_info(&self, Parameters(p): Parameters<AccountParams>) -> ToolResult {
        let account = match self.account(p.account_id.as_ref()).await {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        self.details(
            ObjectParams {
                id: FlexibleId(account),
                fields: p.fields,
            },
            ACCOUNT_FIELDS,
            "ad account",
        )
        .await
    }

    /// Campaigns of an ad account: objective, status, delivery state, budgets (minor units),
    /// schedule. Filter with `effective_status`, e.g. `["ACTIVE"]`. Paged (`next_after`).
    #[tool(
        annotations(title = "List Meta campaigns"),
        output_schema = schema_for_output::<ListOutput>()
    )]
    async fn get_campaigns(
        &self,
        Parameters(p): Parameters<ListParams<CampaignStatus>>,
    ) -> ToolResult {
        self.account_list(
            p.into(),
            "campaigns",
            CAMPAIGN_FIELDS,
            &[
                "id",
                "name",
                "effective_status",
                "objective",
                "daily_budget",
            ],
        )
        .await
    }

    /// One campaign's settings (objective, budgets, bid strategy, schedule, status).
    #[tool(
        annotations(title = "Get Meta campaign"),
        output_schema = schema_for_output::<ObjectOutput>()
    )]
    async fn get_campaign_details(&self, Parameters(p): Parameters<ObjectParams>) -> ToolResult {
        self.details(p, CAMPAIGN_FIELDS, "campaign").await
    }

    /// Ad sets of an ad account: campaign, optimization goal, billing event, budgets,
    /// schedule, delivery state. Paged (`next_after`).
    #[tool(
        annotations(title = "List Meta ad sets"),
        output_schema = schema_for_output::<ListOutput>()
    )]
    async fn get_adsets(&self, Parameters(p): Parameters<ListParams<AdSetStatus>>) -> ToolResult {
        self.account_list(
            p.into(),
            "adsets",
            ADSET_FIELDS,
            &[
                "id",
                "name",
                "campaign_id",
                "effective_status",
                "optimization_goal",
                "daily_budget",
            ],
        )
        .await
    }

    /// One ad set's settings, including targeting when asked (`fields: ["targeting", …]`).
    #[tool(
        annotations(title = "Get Meta ad set"),
        output_schema = schema_for_output::<ObjectOutput>()
    )]
    async fn get_adset_details(&self, Parameters(p): Parameters<ObjectParams>) -> ToolResult {
        self.details(p, ADSET_FIELDS, "ad set").await
    }

    /// Ads of an ad account with their ad set, campaign, delivery state and creative.
    /// Paged (`next_after`).
    #[tool(
        annotations(title = "List Meta ads"),
        output_schema = schema_for_output::<ListOutput>()
    )]
    async fn get_ads(&self, Parameters(p): Parameters<ListParams<AdStatus>>) -> ToolResult {
        self.account_list(
            p.into(),
            "ads",
            AD_FIELDS,
            &["id", "name", "adset_id", "effective_status", "creative"],
        )
        .await
    }

    /// One ad's settings and creative reference.
    #[tool(
        annotations(title = "Get Meta ad"),
        output_schema = schema_for_output::<ObjectOutput>()
    )]
    async fn get_ad_details(&self, Parameters(p): Parameters<ObjectParams>) -> ToolResult {
        self.details(p, AD_FIELDS, "ad").await
    }

    /// Ad creatives of an ad account: title, body text, type, thumbnail, call to action.
    /// Paged (`next_after`).
    #[tool(
        annotations(title = "List Meta ad creatives"),
        output_schema = schema_for_output::<ListOutput>()
    )]
    async fn get_ad_creatives(&self, Parameters(p): Parameters<CreativeListParams>) -> ToolResult {
        self.account_list(
            p.into(),
            "adcreatives",
            CREATIVE_FIELDS,
            &["id", "name", "title", "object_type", "call_to_action_type"],
        )
        .await
    }

    /// One creative's content: title, body, link, call to action, images.
    #[tool(
        annotations(title = "Get Meta ad creative"),
        output_schema = schema_for_output::<ObjectOutput>()
    )]
    async fn get_creative_details(&self, Parameters(p): Parameters<ObjectParams>) -> ToolResult {
        self.details(p, CREATIVE_FIELDS, "creative").await
    }

    /// Performance (Marketing API insights) of an ad account, or of one campaign, ad set or
    /// ad: spend, impressions, reach, frequency, clicks, CTR, CPC, CPM, actions (purchases,
    /// add-to-carts, …), action values and ROAS; per account/campaign/adset/ad (`level`), over
    /// a `date_preset` (default last_30d) or a `time_range`, optionally daily
    /// (`time_increment: "1"`) and broken down by age, gender, country, platform, placement or
    /// device. Paged (`next_after`).
    #[tool(
        annotations(title = "Meta Ads insights"),
        output_schema = schema_for_output::<InsightsOutput>()
    )]
    async fn get_insights(&self, Parameters(p): Parameters<InsightsParams>) -> ToolResult {
        let lim = match limit(p.limit) {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        if let Some(t) = &p.time_increment {
            let ok = matches!(t.as_str(), "monthly" | "all_days")
                || t.parse::<u32>().is_ok_and(|d| (1..=90).contains(&d));
            if !ok {
                return fail(format!(
                    "time_increment {t:?} must be 1–90 (days per row), \"monthly\" or \"all_days\""
                ));
            }
        }
        if let Some(r) = &p.time_range {
            let valid = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok();
            if !valid(&r.since) || !valid(&r.until) || r.since > r.until {
                return fail("time_range needs since <= until, both YYYY-MM-DD");
            }
        }
        let object = match &p.object_id {
            Some(id) => match object_id(&id.0) {
                Ok(i) => match self.check_object(&i).await {
                    Ok(()) => i,
                    Err(e) => return fail(e),
                },
                Err(e) => return fail(e),
            },
            None => match self.account(p.account_id.as_ref()).await {
                Ok(a) => a,
                Err(e) => return fail(e),
            },
        };
        let level_fields: &[&str] = match p.level {
            Some(Level::Campaign) => &["campaign_id", "campaign_name"],
            Some(Level::Adset) => &["campaign_name", "adset_id", "adset_name"],
            Some(Level::Ad) => &["adset_name", "ad_id", "ad_name"],
            Some(Level::Account) | None => &[],
        };
        let default: Vec<&str> = level_fields
            .iter()
            .chain(INSIGHT_METRICS)
            .copied()
            .collect();
        let fields = match field_list(&p.fields, &default, self.inner.tokens.shop_id().is_some()) {
            Ok(f) => f,
            Err(e) => return fail(e),
        };
        let requested: Vec<String> = fields.split(',').map(str::to_owned).collect();
        let mut query = vec![("fields", fields), ("limit", lim.to_string())];
        if let Some(level) = p.level {
            query.push((
                "level",
                serde_json::to_value(level)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ));
        }
        match (&p.time_range, p.date_preset) {
            (Some(r), _) => {
                query.push(("time_range", serde_json::to_string(r).unwrap_or_default()))
            }
            (None, Some(preset)) => query.push((
                "date_preset",
                serde_json::to_value(preset)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            )),
            (None, None) => query.push(("date_preset", "last_30d".into())),
        }
        if !p.breakdowns.is_empty() {
            let list: Vec<String> = p
                .breakdowns
                .iter()
                .filter_map(|b| {
                    serde_json::to_value(b)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                })
                .collect();
            query.push(("breakdowns", list.join(",")));
        }
        if !p.action_breakdowns.is_empty() {
            query.push(("action_breakdowns", p.action_breakdowns.join(",")));
        }
        if let Some(t) = &p.time_increment {
            query.push(("time_increment", t.clone()));
        }
        if let Some(a) = &p.after {
            query.push(("after", a.clone()));
        }
        let page = match self
            .inner
            .api
            .edge(&format!("{object}/insights"), &query)
            .await
        {
            Ok(p) => p,
            Err(e) => return fail(self.explain(&e, &object)),
        };
        let next_after = page.next_after();
        let rows: Vec<Value> = page.data.into_iter().map(numbers).collect();
        let mut columns: Vec<String> = level_fields
            .iter()
            .filter(|c| c.ends_with("_name"))
            .map(|c| (*c).to_owned())
            .collect();
        columns.extend(p.breakdowns.iter().filter_map(|b| {
            serde_json::to_value(b)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
        }));
        if p.time_increment.as_deref().is_some_and(|t| t != "all_days") {
            columns.push("date_start".into());
        }
        let mut headers = columns.clone();
        headers.extend(
            [
                "spend",
                "impressions",
                "clicks",
                "ctr",
                "cpc",
                "purchases",
                "roas",
            ]
            .map(String::from),
        );
        let mut t = Table::new(headers);
        for r in &rows {
            let mut cells: Vec<String> = columns.iter().map(|c| cell(r.get(c.as_str()))).collect();
            cells.push(cell(r.get("spend")));
            cells.push(cell(r.get("impressions")));
            cells.push(cell(r.get("clicks")));
            cells.push(cell(r.get("ctr")));
            cells.push(cell(r.get("cpc")));
            cells.push(
                action(
                    r,
                    "actions",
                    &[
                        "purchase",
                        "offsite_conversion.fb_pixel_purchase",
                        "omni_purchase",
                    ],
                )
                .map(output::number)
                .unwrap_or_default(),
            );
            cells.push(
                action(
                    r,
                    "purchase_roas",
                    &[
                        "omni_purchase",
                        "offsite_conversion.fb_pixel_purchase",
                        "purchase",
                    ],
                )
                .map(output::number)
                .unwrap_or_default(),
            );
            t.push(cells);
        }
        let range = rows
            .first()
            .map(|r| {
                format!(
                    " {}..{}",
                    cell(r.get("date_start")),
                    cell(r.get("date_stop"))
                )
            })
            .unwrap_or_default();
        let mut text = format!("{object}{range}: {} row(s)\n{}", rows.len(), t.render());
        if next_after.is_some() {
            text.push_str(
                "More rows: call again with the same arguments and after = next_after.\n",
            );
        }
        Ok(output::success(
            &report::insights_output(object, rows, next_after, &requested),
            text,
        ))
    }
}

impl ToolServer for MetaServer {
    const NAME: &'static str = "meta-ads-mcp";
    const TITLE: &'static str = "Meta Ads (read-only)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn router(&self) -> &ToolRouter<Self> {
        self.router.get()
    }

    fn instructions(&self) -> String {
        let account = match &self.inner.default_account {
            Some(a) => format!("Tools default to ad account {a} when account_id is omitted."),
            None => "Tools default to the shop's ad account when account_id is omitted.".to_owned(),
        };
        format!(
            "Read-only Meta (Facebook/Instagram) Ads data, Graph API {}. {account} Budgets and amounts spent are in \
             minor units (cents); insights spend is in account currency. Lists are paged: follow next_after. When Meta \
             rate-limits, the error says when to retry. Nothing here can change campaigns.",
            self.inner.api.version()
        )
    }

    fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    fn scope(&self) -> (&TokenProvider, AccountKind) {
        (&self.inner.tokens, AD_ACCOUNT)
    }
}
