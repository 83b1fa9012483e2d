//! Graph nodes as JSON: which fields each node type has, which it returns by default, and how
//! nested selections render (`creative{id,name}`, `business{name}`, `campaign{objective}`,
//! `insights.date_preset(last_7d){spend}`, `adsets.limit(5){name}`).
//!
//! Unknown names fail with Meta's "(#100) Tried accessing nonexisting field (x) on node type
//! (Y)" before anything is rendered. Fields without a value (a campaign without `stop_time`,
//! a CBO ad set's budget) are omitted, as Meta omits them.

use std::cell::OnceCell;

use chrono::Duration;
use serde_json::{Map, Value, json};

use super::account::{Account, Clock};
use super::error::GraphError;
use super::fields::{self, Field};
use super::filter::{FieldValue, Subject};
use super::insights::{self, Query, Renderer};
use super::model;
use super::paging::{PageRequest, paginate};
use super::tree::{Audience, Node, Tree, object_id};
use crate::SandboxConfig;
use crate::hash::{fnv, mix};

/// Graph node types the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/me`.
    User,
    /// `act_<id>`.
    AdAccount,
    /// An account's Business Manager.
    Business,
    /// Campaign.
    Campaign,
    /// Ad set.
    AdSet,
    /// Ad.
    Ad,
    /// Ad creative.
    AdCreative,
}

impl Kind {
    /// The node type name in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::AdAccount => "AdAccount",
            Self::Business => "Business",
            Self::Campaign => "Campaign",
            Self::AdSet => "AdSet",
            Self::Ad => "Ad",
            Self::AdCreative => "AdCreative",
        }
    }

    /// Every field (and nested edge) of the type.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::User => &["id", "name", "adaccounts"],
            Self::AdAccount => &[
                "id",
                "account_id",
                "name",
                "account_status",
                "age",
                "amount_spent",
                "balance",
                "business",
                "business_name",
                "created_time",
                "currency",
                "disable_reason",
                "is_personal",
                "is_prepay_account",
                "min_daily_budget",
                "owner",
                "spend_cap",
                "timezone_name",
                "timezone_offset_hours_utc",
                "insights",
                "campaigns",
                "adsets",
                "ads",
                "adcreatives",
            ],
            Self::Business => &["id", "name"],
            Self::Campaign => &[
                "id",
                "account_id",
                "name",
                "objective",
                "status",
                "configured_status",
                "effective_status",
                "buying_type",
                "daily_budget",
                "lifetime_budget",
                "budget_remaining",
                "bid_strategy",
                "special_ad_categories",
                "start_time",
                "stop_time",
                "created_time",
                "updated_time",
                "insights",
                "adsets",
                "ads",
            ],
            Self::AdSet => &[
                "id",
                "account_id",
                "campaign_id",
                "campaign",
                "name",
                "status",
                "configured_status",
                "effective_status",
                "daily_budget",
                "lifetime_budget",
                "budget_remaining",
                "optimization_goal",
                "billing_event",
                "bid_strategy",
                "destination_type",
                "targeting",
                "promoted_object",
                "start_time",
                "end_time",
                "created_time",
                "updated_time",
                "insights",
                "ads",
            ],
            Self::Ad => &[
                "id",
                "account_id",
                "campaign_id",
                "adset_id",
                "campaign",
                "adset",
                "name",
                "status",
                "configured_status",
                "effective_status",
                "creative",
                "created_time",
                "updated_time",
                "insights",
                "adcreatives",
            ],
            Self::AdCreative => &[
                "id",
                "account_id",
                "name",
                "title",
                "body",
                "object_type",
                "status",
                "call_to_action_type",
                "image_url",
                "thumbnail_url",
                "link_url",
                "url_tags",
            ],
        }
    }

    /// Fields returned when none are asked for.
    pub fn defaults(self) -> &'static [&'static str] {
        match self {
            Self::User | Self::Business => &["id", "name"],
            Self::AdAccount => &["account_id", "id"],
            _ => &["id"],
        }
    }

    /// The kind a nested field renders as, if it is a node.
    fn child(self, field: &str) -> Option<Kind> {
        Some(match (self, field) {
            (Self::AdAccount, "business") => Self::Business,
            (Self::AdSet | Self::Ad, "campaign") => Self::Campaign,
            (Self::Ad, "adset") => Self::AdSet,
            (Self::Ad, "creative") => Self::AdCreative,
            (_, "campaigns") => Self::Campaign,
            (_, "adsets") => Self::AdSet,
            (_, "ads") => Self::Ad,
            (_, "adcreatives") => Self::AdCreative,
            (_, "adaccounts") => Self::AdAccount,
            _ => return None,
        })
    }
}

/// Checks every name in `sel` (recursively) against `kind`; `insights` children are checked
/// against the insights field list.
pub fn validate(sel: &[Field], kind: Kind) -> Result<(), GraphError> {
    for f in sel {
        if !kind.fields().contains(&f.name.as_str()) {
            return Err(GraphError::nonexisting_field(&f.name, kind.name()));
        }
        if f.name == "insights" {
            let unknown: Vec<String> = f
                .children
                .iter()
                .flatten()
                .filter(|c| !insights::FIELDS.contains(&c.name.as_str()))
                .map(|c| c.name.clone())
                .collect();
            if !unknown.is_empty() {
                return Err(GraphError::invalid_insights_fields(&unknown));
            }
        } else if let (Some(children), Some(child)) = (&f.children, kind.child(&f.name)) {
            validate(children, child)?;
        }
    }
    Ok(())
}

/// The selection to render: the request's, or the type's defaults.
pub fn selection(sel: Option<&[Field]>, kind: Kind) -> Vec<Field> {
    match sel {
        Some(s) if !s.is_empty() => s.to_vec(),
        _ => fields::plain(kind.defaults()),
    }
}

/// Everything needed to render one account's nodes.
pub struct View<'a> {
    /// Sandbox configuration (clock, GA4 link).
    pub config: &'a SandboxConfig,
    /// The account.
    pub account: &'a Account,
    /// Its clock.
    pub clock: Clock,
    tree: OnceCell<Tree>,
}

impl<'a> View<'a> {
    /// A view of `account`; its object tree is built on first use.
    pub fn new(config: &'a SandboxConfig, account: &'a Account) -> Self {
        Self {
            clock: account.clock(config),
            config,
            account,
            tree: OnceCell::new(),
        }
    }

    /// The account's objects.
    pub fn tree(&self) -> &Tree {
        self.tree.get_or_init(|| {
            let mut tree = Tree::build(self.account, &self.clock);
            model::assign_budgets(&mut tree, self.account, self.config, &self.clock);
            tree
        })
    }

    fn ts(&self, (day, minute): (chrono::NaiveDate, u32)) -> Value {
        json!(self.account.timestamp(day, minute))
    }

    /// The ad account node.
    pub fn account_node(&self, sel: &[Field]) -> Result<Value, GraphError> {
        let a = self.account;
        let mut out = Map::new();
        for f in sel {
            let v = match f.name.as_str() {
                "id" => json!(a.id),
                "account_id" => json!(a.digits),
                "name" => json!(a.name),
                "account_status" => json!(a.status),
                "age" => {
                    let days = (self.clock.today - a.created_date()).num_days().max(0);
                    json!(days as f64 + 0.5)
                }
                "amount_spent" => json!(self.lifetime_spend().to_string()),
                "balance" => json!("0"),
                "business" => self.business(f)?,
                "business_name" => json!(a.business_name),
                "created_time" => json!(a.timestamp(a.created_date(), 10 * 60)),
                "currency" => json!(a.currency),
                "disable_reason" => json!(if a.status == 2 { 1 } else { 0 }),
                "is_personal" => json!(0),
                "is_prepay_account" => json!(false),
                "min_daily_budget" => json!((a.minor_per_major() as i64).max(1)),
                "owner" => json!(a.business_id),
                "spend_cap" => json!("0"),
                "timezone_name" => json!(a.timezone_name),
                "timezone_offset_hours_utc" => json!(a.offset_hours()),
                "insights" => match self.nested_insights(f, None)? {
                    Some(v) => v,
                    None => continue,
                },
                edge @ ("campaigns" | "adsets" | "ads" | "adcreatives") => {
                    match self.nested_edge(f, edge, None)? {
                        Some(v) => v,
                        None => continue,
                    }
                }
                other => return Err(GraphError::nonexisting_field(other, "AdAccount")),
            };
            out.insert(f.name.clone(), v);
        }
        Ok(Value::Object(out))
    }

    fn business(&self, f: &Field) -> Result<Value, GraphError> {
        let sel = selection(f.children.as_deref(), Kind::Business);
        let mut out = Map::new();
        for c in &sel {
            let v = match c.name.as_str() {
                "id" => json!(self.account.business_id),
                "name" => json!(self.account.business_name),
                other => return Err(GraphError::nonexisting_field(other, "Business")),
            };
            out.insert(c.name.clone(), v);
        }
        Ok(Value::Object(out))
    }

    /// Lifetime spend in minor units (every day since the account was created).
    fn lifetime_spend(&self) -> i64 {
        let tree = self.tree();
        let mut total = 0i64;
        let mut d = self.account.created_date();
        while d <= self.clock.today {
            total += model::day_ads(self.account, tree, self.config, &self.clock, d)
                .iter()
                .map(|(_, q)| q[model::SPEND])
                .sum::<i64>();
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        total
    }

    /// Any campaign/ad set/ad/creative node.
    pub fn node(&self, node: Node, sel: &[Field]) -> Result<Value, GraphError> {
        match node {
            Node::Campaign(c) => self.campaign(c, sel),
            Node::AdSet(s) => self.adset(s, sel),
            Node::Ad(a) => self.ad(a, sel),
            Node::Creative(c) => self.creative(c, sel),
        }
    }

    /// The node type of `node`.
    pub fn kind(node: Node) -> Kind {
        match node {
            Node::Campaign(_) => Kind::Campaign,
            Node::AdSet(_) => Kind::AdSet,
            Node::Ad(_) => Kind::Ad,
            Node::Creative(_) => Kind::AdCreative,
        }
    }

    fn campaign(&self, i: usize, sel: &[Field]) -> Result<Value, GraphError> {
        let tree = self.tree();
        let c = &tree.campaigns[i];
        let a = self.account;
        let mut out = Map::new();
        for f in sel {
            let v = match f.name.as_str() {
                "id" => json!(c.id),
                "account_id" => json!(a.digits),
                "name" => json!(c.name),
                "objective" => json!(c.objective),
                "status" | "configured_status" => json!(c.status),
                "effective_status" => json!(c.effective_status),
                "buying_type" => json!("AUCTION"),
                "daily_budget" => match c.daily_budget {
                    Some(b) => json!(b.to_string()),
                    None => continue,
                },
                "lifetime_budget" => match c.lifetime_budget {
                    Some(b) => json!(b.to_string()),
                    None => continue,
                },
                "budget_remaining" => {
                    if c.daily_budget.is_none() && c.lifetime_budget.is_none() {
                        continue;
                    }
                    json!(c.budget_remaining.to_string())
                }
                "bid_strategy" => json!(c.bid_strategy),
                "special_ad_categories" => json!([]),
                "start_time" => self.ts((c.start, c.created.1)),
                "stop_time" => match c.stop {
                    Some(s) => self.ts((s + Duration::days(1), 0)),
                    None => continue,
                },
                "created_time" => self.ts(c.created),
                "updated_time" => self.ts(c.updated),
                "insights" => match self.nested_insights(f, Some(Node::Campaign(i)))? {
                    Some(v) => v,
                    None => continue,
                },
                edge @ ("adsets" | "ads") => {
                    match self.nested_edge(f, edge, Some(Node::Campaign(i)))? {
                        Some(v) => v,
                        None => continue,
                    }
                }
                other => return Err(GraphError::nonexisting_field(other, "Campaign")),
            };
            out.insert(f.name.clone(), v);
        }
        Ok(Value::Object(out))
    }

    fn adset(&self, i: usize, sel: &[Field]) -> Result<Value, GraphError> {
        let tree = self.tree();
        let s = &tree.adsets[i];
        let c = &tree.campaigns[s.campaign];
        let a = self.account;
        let mut out = Map::new();
        for f in sel {
            let v = match f.name.as_str() {
                "id" => json!(s.id),
                "account_id" => json!(a.digits),
                "campaign_id" => json!(c.id),
                "campaign" => {
                    let sub = selection(f.children.as_deref(), Kind::Campaign);
                    self.campaign(s.campaign, &sub)?
                }
                "name" => json!(s.name),
                "status" | "configured_status" => json!(s.status),
                "effective_status" => json!(s.effective_status),
                "daily_budget" => match s.daily_budget {
                    Some(b) => json!(b.to_string()),
                    None => continue,
                },
                "lifetime_budget" => continue,
                "budget_remaining" => match s.daily_budget {
                    Some(_) => json!(s.budget_remaining.to_string()),
                    None => continue,
                },
                "optimization_goal" => json!(s.optimization_goal),
                "billing_event" => json!("IMPRESSIONS"),
                "bid_strategy" => json!(c.bid_strategy),
                "destination_type" => json!("WEBSITE"),
                "targeting" => self.targeting(i),
                "promoted_object" => {
                    if s.optimization_goal != "OFFSITE_CONVERSIONS" {
                        continue;
                    }
                    json!({"pixel_id": self.pixel_id(), "custom_event_type": "PURCHASE"})
                }
                "start_time" => self.ts((s.start, s.created.1)),
                "end_time" => match s.stop {
                    Some(e) => self.ts((e + Duration::days(1), 0)),
                    None => continue,
                },
                "created_time" => self.ts(s.created),
                "updated_time" => self.ts(s.updated),
                "insights" => match self.nested_insights(f, Some(Node::AdSet(i)))? {
                    Some(v) => v,
                    None => continue,
                },
                "ads" => match self.nested_edge(f, "ads", Some(Node::AdSet(i)))? {
                    Some(v) => v,
                    None => continue,
                },
                other => return Err(GraphError::nonexisting_field(other, "AdSet")),
            };
            out.insert(f.name.clone(), v);
        }
        Ok(Value::Object(out))
    }

    fn ad(&self, i: usize, sel: &[Field]) -> Result<Value, GraphError> {
        let tree = self.tree();
        let ad = &tree.ads[i];
        let a = self.account;
        let mut out = Map::new();
        for f in sel {
            let v = match f.name.as_str() {
                "id" => json!(ad.id),
                "account_id" => json!(a.digits),
                "campaign_id" => json!(tree.campaigns[ad.campaign].id),
                "adset_id" => json!(tree.adsets[ad.adset].id),
                "campaign" => {
                    let sub = selection(f.children.as_deref(), Kind::Campaign);
                    self.campaign(ad.campaign, &sub)?
                }
                "adset" => {
                    let sub = selection(f.children.as_deref(), Kind::AdSet);
                    self.adset(ad.adset, &sub)?
                }
                "creative" => {
                    let sub = selection(f.children.as_deref(), Kind::AdCreative);
                    self.creative(ad.creative, &sub)?
                }
                "name" => json!(ad.name),
                "status" | "configured_status" => json!(ad.status),
                "effective_status" => json!(ad.effective_status),
                "created_time" => self.ts(ad.created),
                "updated_time" => self.ts(ad.updated),
                "insights" => match self.nested_insights(f, Some(Node::Ad(i)))? {
                    Some(v) => v,
                    None => continue,
                },
                "adcreatives" => match self.nested_edge(f, "adcreatives", Some(Node::Ad(i)))? {
                    Some(v) => v,
                    None => continue,
                },
                other => return Err(GraphError::nonexisting_field(other, "Ad")),
            };
            out.insert(f.name.clone(), v);
        }
        Ok(Value::Object(out))
    }

    fn creative(&self, i: usize, sel: &[Field]) -> Result<Value, GraphError> {
        let tree = self.tree();
        let c = &tree.creatives[i];
        let mut out = Map::new();
        for f in sel {
            let v = match f.name.as_str() {
                "id" => json!(c.id),
                "account_id" => json!(self.account.digits),
                "name" => json!(c.name),
                "title" => json!(c.title),
                "body" => json!(c.body),
                "object_type" => json!(c.object_type),
                "status" => json!("ACTIVE"),
                "call_to_action_type" => json!(c.call_to_action),
                "image_url" => json!(format!("https://scontent.sandbox.example/v/{}_n.jpg", c.id)),
                "thumbnail_url" => {
                    json!(format!("https://scontent.sandbox.example/v/{}_t.jpg", c.id))
                }
                "link_url" => json!(format!("https://{}/", self.shop_host())),
                "url_tags" => json!(
                    "utm_source=facebook&utm_medium=paid&utm_campaign={{campaign.name}}&utm_content={{ad.name}}"
                ),
                other => return Err(GraphError::nonexisting_field(other, "AdCreative")),
            };
            out.insert(f.name.clone(), v);
        }
        Ok(Value::Object(out))
    }

    /// The shop's host: the linked GA4 property's, else a slug of the account name.
    fn shop_host(&self) -> String {
        if let Some(p) = &self.account.ga4 {
            return p.host_name();
        }
        let mut slug = String::new();
        for ch in self.account.name.chars() {
            if ch.is_ascii_alphanumeric() {
                slug.push(ch.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        format!("www.{}.example", slug.trim_end_matches('-'))
    }

    fn pixel_id(&self) -> String {
        format!(
            "{}",
            100_000_000_000_000 + mix(&[self.account.hash, 77]) % 900_000_000_000_000
        )
    }

    fn targeting(&self, i: usize) -> Value {
        let tree = self.tree();
        let s = &tree.adsets[i];
        let cc = self.account.home_country();
        let audience_id = |name: &str| object_id(self.account, 9, name);
        let (age_min, age_max) = if s.name.contains("25-54") {
            (25, 54)
        } else {
            (18, 65)
        };
        let mut t = json!({
            "age_min": age_min,
            "age_max": age_max,
            "geo_locations": {"countries": [cc], "location_types": ["home", "recent"]},
            "publisher_platforms": ["facebook", "instagram", "audience_network", "messenger"],
            "targeting_automation": {"advantage_audience": i32::from(s.audience == Audience::Broad)},
        });
        match s.audience {
            Audience::Lookalike => {
                let name = format!("Lookalike ({cc}, 1%) - Purchasers 180d");
                t["custom_audiences"] = json!([{"id": audience_id(&name), "name": name}]);
            }
            Audience::Interests => {
                t["flexible_spec"] = json!([{"interests": [
                    {"id": "6003384248805", "name": "Home decor"},
                    {"id": "6003107902433", "name": "Online shopping"},
                ]}]);
            }
            Audience::Retargeting => {
                let days = if s.name.contains("7d") { 7 } else { 30 };
                let name = format!("Website visitors {days}d");
                t["custom_audiences"] = json!([{"id": audience_id(&name), "name": name}]);
                t["excluded_custom_audiences"] =
                    json!([{"id": audience_id("Purchasers 30d"), "name": "Purchasers 30d"}]);
            }
            Audience::Broad => {}
        }
        t
    }

    /// `insights{…}` as a field: the object's insights with the field's modifiers as
    /// parameters; omitted (like Meta) when there are no rows.
    fn nested_insights(&self, f: &Field, scope: Option<Node>) -> Result<Option<Value>, GraphError> {
        let get = |k: &str| f.modifier(k).map(str::to_owned);
        let fields = f
            .children
            .as_ref()
            .map(|c| c.iter().map(|x| x.name.clone()).collect());
        let query = Query::parse(&get, fields, self.account, &self.clock, scope)?;
        let tree = self.tree();
        let mut rows =
            insights::aggregate(&query, self.account, tree, self.config, &self.clock, scope);
        let renderer = Renderer::new(&query, self.account, tree);
        renderer.filter_and_sort(&mut rows);
        let limit = limit_modifier(f, super::paging::MAX_INSIGHTS_LIMIT)?;
        let (page, paging) = paginate(rows, &limit, None);
        if page.is_empty() {
            return Ok(None);
        }
        let data: Vec<Value> = page.iter().map(|r| renderer.render(r)).collect();
        Ok(Some(with_paging(data, paging)))
    }

    /// `campaigns{…}`-style nested edges (first page only, no `next`).
    fn nested_edge(
        &self,
        f: &Field,
        edge: &str,
        scope: Option<Node>,
    ) -> Result<Option<Value>, GraphError> {
        let nodes = edge_nodes(self.tree(), edge, scope, &[], true);
        let limit = limit_modifier(f, super::paging::MAX_OBJECT_LIMIT)?;
        let (page, paging) = paginate(nodes, &limit, None);
        if page.is_empty() {
            return Ok(None);
        }
        let Some(kind) = Kind::AdAccount.child(edge) else {
            return Ok(None);
        };
        let sel = selection(f.children.as_deref(), kind);
        let data = page
            .into_iter()
            .map(|n| self.node(n, &sel))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(with_paging(data, paging)))
    }
}

fn limit_modifier(f: &Field, cap: usize) -> Result<PageRequest, GraphError> {
    let params: Vec<(String, String)> = f
        .modifier("limit")
        .map(|l| vec![("limit".to_owned(), l.to_owned())])
        .unwrap_or_default();
    PageRequest::parse(&params, cap)
}

/// `{"data": […], "paging": …}`.
pub fn with_paging(data: Vec<Value>, paging: Option<Value>) -> Value {
    let mut out = json!({ "data": data });
    if let Some(p) = paging {
        out["paging"] = p;
    }
    out
}

/// The objects of an edge, in listing order. `statuses` filters on `effective_status`; when
/// empty and `default_filter` is set, ARCHIVED and DELETED objects are left out, as Meta
/// leaves them out unless asked for.
pub fn edge_nodes(
    tree: &Tree,
    edge: &str,
    scope: Option<Node>,
    statuses: &[String],
    default_filter: bool,
) -> Vec<Node> {
    let under = |campaign: usize, adset: Option<usize>, ad: Option<usize>| match scope {
        None => true,
        Some(Node::Campaign(c)) => campaign == c,
        Some(Node::AdSet(s)) => adset == Some(s),
        Some(Node::Ad(a)) => ad == Some(a),
        Some(Node::Creative(_)) => false,
    };
    let keep = |effective: &str| {
        if statuses.is_empty() {
            !default_filter || !matches!(effective, "ARCHIVED" | "DELETED")
        } else {
            statuses.iter().any(|s| s == effective)
        }
    };
    match edge {
        "campaigns" => (0..tree.campaigns.len())
            .filter(|c| under(*c, None, None) && keep(tree.campaigns[*c].effective_status))
            .map(Node::Campaign)
            .collect(),
        "adsets" => (0..tree.adsets.len())
            .filter(|s| {
                under(tree.adsets[*s].campaign, Some(*s), None)
                    && keep(tree.adsets[*s].effective_status)
            })
            .map(Node::AdSet)
            .collect(),
        "ads" => (0..tree.ads.len())
            .filter(|a| {
                let ad = &tree.ads[*a];
                under(ad.campaign, Some(ad.adset), Some(*a)) && keep(ad.effective_status)
            })
            .map(Node::Ad)
            .collect(),
        "adcreatives" => (0..tree.creatives.len())
            .filter(|c| {
                let ad = &tree.ads[tree.creatives[*c].ad];
                under(ad.campaign, Some(ad.adset), Some(tree.creatives[*c].ad))
                    && (!default_filter || ad.effective_status != "DELETED")
            })
            .map(Node::Creative)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `field` is an object field filters can read (`name`, `campaign.name`, …).
pub fn is_object_filter_field(field: &str) -> bool {
    const BARE: &[&str] = &[
        "id",
        "name",
        "status",
        "configured_status",
        "effective_status",
        "objective",
        "campaign_id",
        "adset_id",
        "ad_id",
    ];
    match field.split_once('.') {
        Some((prefix, rest)) => {
            matches!(prefix, "campaign" | "adset" | "ad") && BARE[..6].contains(&rest)
        }
        None => BARE.contains(&field),
    }
}

/// An object as a filter subject: bare names read the object, `campaign.`/`adset.`/`ad.`
/// read the ancestor (or the object itself) of that type.
pub struct ObjectSubject<'a> {
    /// The account's objects.
    pub tree: &'a Tree,
    /// The object.
    pub node: Node,
}

impl Subject for ObjectSubject<'_> {
    fn field(&self, field: &str) -> Option<FieldValue> {
        let t = self.tree;
        let (campaign, adset, ad) = match self.node {
            Node::Campaign(c) => (Some(c), None, None),
            Node::AdSet(s) => (Some(t.adsets[s].campaign), Some(s), None),
            Node::Ad(a) => (Some(t.ads[a].campaign), Some(t.ads[a].adset), Some(a)),
            Node::Creative(c) => {
                let a = t.creatives[c].ad;
                (Some(t.ads[a].campaign), Some(t.ads[a].adset), Some(a))
            }
        };
        let text = |s: &str| Some(FieldValue::Text(s.to_owned()));
        let (target, name) = match field.split_once('.') {
            Some(("campaign", rest)) => (campaign.map(Node::Campaign), rest),
            Some(("adset", rest)) => (adset.map(Node::AdSet), rest),
            Some(("ad", rest)) => (ad.map(Node::Ad), rest),
            Some(_) => return None,
            None => match field {
                "campaign_id" => return campaign.and_then(|c| text(&t.campaigns[c].id)),
                "adset_id" => return adset.and_then(|s| text(&t.adsets[s].id)),
                "ad_id" => return ad.and_then(|a| text(&t.ads[a].id)),
                _ => (Some(self.node), field),
            },
        };
        match (target?, name) {
            (Node::Campaign(c), n) => {
                let c = &t.campaigns[c];
                match n {
                    "id" => text(&c.id),
                    "name" => text(&c.name),
                    "status" | "configured_status" => text(c.status),
                    "effective_status" => text(c.effective_status),
                    "objective" => text(c.objective),
                    _ => None,
                }
            }
            (Node::AdSet(s), n) => {
                let s = &t.adsets[s];
                match n {
                    "id" => text(&s.id),
                    "name" => text(&s.name),
                    "status" | "configured_status" => text(s.status),
                    "effective_status" => text(s.effective_status),
                    "objective" => text(t.campaigns[s.campaign].objective),
                    _ => None,
                }
            }
            (Node::Ad(a), n) => {
                let a = &t.ads[a];
                match n {
                    "id" => text(&a.id),
                    "name" => text(&a.name),
                    "status" | "configured_status" => text(a.status),
                    "effective_status" => text(a.effective_status),
                    "objective" => text(t.campaigns[a.campaign].objective),
                    _ => None,
                }
            }
            (Node::Creative(c), n) => {
                let c = &t.creatives[c];
                match n {
                    "id" => text(&c.id),
                    "name" => text(&c.name),
                    _ => None,
                }
            }
        }
    }
}

/// A stable numeric id for the token's user.
pub fn user_id(name: &str) -> String {
    format!("{}", 10_000_000_000_000 + fnv(name) % 90_000_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Shared;

    fn shared() -> Shared {
        let fixtures = crate::Fixtures::from_toml_str(
            "[[meta_ad_accounts]]\nid = \"act_1\"\nname = \"Acme Shop\"\nbusiness_name = \"Acme\"\ncreated_time = \"2022-01-10T00:00:00Z\"\n",
        )
        .unwrap();
        let mut config = SandboxConfig::new(fixtures);
        config.today = chrono::NaiveDate::from_ymd_opt(2026, 10, 20);
        Shared::new(config)
    }

    #[test]
    fn validation_names_the_node_type() {
        let sel = fields::parse("id,name,creative{id,bogus}").unwrap();
        let e = validate(&sel, Kind::Ad).unwrap_err();
        assert_eq!(
            e.message,
            "(#100) Tried accessing nonexisting field (bogus) on node type (AdCreative)"
        );
        let sel = fields::parse("xyz").unwrap();
        let e = validate(&sel, Kind::AdAccount).unwrap_err();
        assert_eq!(
            e.message,
            "(#100) Tried accessing nonexisting field (xyz) on node type (AdAccount)"
        );
        let sel = fields::parse("insights{spend,nope}").unwrap();
        assert!(
            validate(&sel, Kind::Campaign)
                .unwrap_err()
                .message
                .contains("nope is not valid")
        );
        assert!(
            validate(
                &fields::parse("business{name},insights{spend}").unwrap(),
                Kind::AdAccount
            )
            .is_ok()
        );
    }

    #[test]
    fn nodes_render_selected_fields() {
        let shared = shared();
        let account = Account::resolve(&shared, "act_1").unwrap();
        let view = View::new(&shared.config, &account);
        let v = view
            .account_node(
                &fields::parse("id,name,currency,account_status,business{name},amount_spent")
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(v["id"], "act_1");
        assert_eq!(v["business"], json!({"name": "Acme"}));
        assert_eq!(v["account_status"], 1);
        assert!(v["amount_spent"].as_str().unwrap().parse::<i64>().unwrap() > 0);
        let default = view
            .account_node(&selection(None, Kind::AdAccount))
            .unwrap();
        assert_eq!(default, json!({"id": "act_1", "account_id": "1"}));
        let ad = view
            .node(
                Node::Ad(0),
                &fields::parse("id,name,creative{id,name},campaign{objective},adset_id").unwrap(),
            )
            .unwrap();
        assert!(ad["creative"]["id"].is_string() && ad["creative"]["name"].is_string());
        assert!(
            ad["campaign"]["objective"]
                .as_str()
                .unwrap()
                .starts_with("OUTCOME_")
        );
        assert!(ad["campaign"].get("id").is_none());
        let c = view
            .node(
                Node::Campaign(0),
                &fields::parse("insights.date_preset(last_7d){spend,impressions}").unwrap(),
            )
            .unwrap();
        assert!(c.get("insights").is_none() || c["insights"]["data"].is_array());
    }

    #[test]
    fn default_listing_hides_archived() {
        let shared = shared();
        let account = Account::resolve(&shared, "act_1").unwrap();
        let view = View::new(&shared.config, &account);
        let tree = view.tree();
        let all = edge_nodes(tree, "campaigns", None, &[], false);
        let default = edge_nodes(tree, "campaigns", None, &[], true);
        assert!(default.len() < all.len());
        let archived = edge_nodes(tree, "campaigns", None, &["ARCHIVED".into()], true);
        assert_eq!(
            default.len()
                + archived.len()
                + edge_nodes(tree, "campaigns", None, &["DELETED".into()], true).len(),
            all.len()
        );
    }
}
