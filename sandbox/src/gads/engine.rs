//! Executes a compiled [`Query`] for one customer and renders its rows.
//!
//! Queries without metrics or segments list entities. Data queries walk the days of the
//! query's date range and, per day, the model's split tree (campaign → ad group → keyword →
//! network → device → hour; ads, landing pages and countries split an ad group's
//! network × device cells, search terms split a keyword's), only as deep as the query
//! needs. Each reached cell that passes the filters is added into its output row (keyed by
//! the FROM entity and the selected segments), so every row is an exact sum of integer
//! cells. Rows whose quantities are all zero do not exist, as in Google Ads.
//!
//! Work is bounded: at most [`MAX_CELLS`] cells and [`MAX_ROWS`] rows per query; beyond that
//! the query is refused with `quotaError: EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION`
//! (a sandbox cap, not Google's).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value, json};

use super::account::{Account, Channel};
use super::catalog::{self, Category, DataType, F, Res};
use super::customer::{CustomerInfo, Directory};
use super::dates;
use super::error::AdsError;
use super::model::{self, Kid, Model, Q};
use super::query::{Cond, Query, Val};

/// Most cells one query may synthesize.
pub const MAX_CELLS: u64 = 5_000_000;
/// Most rows one query may return (all pages together).
pub const MAX_ROWS: usize = 200_000;

/// A small multiplicative hasher for row keys: rows are hashed once per synthesized cell,
/// and SipHash's DoS resistance buys nothing for keys the sandbox builds itself.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_i32(&mut self, v: i32) {
        self.write_u64(u64::from(v as u32));
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

type RowMap = HashMap<(Ent, Seg), Q, std::hash::BuildHasherDefault<KeyHasher>>;

/// Segment values of a row (only selected ones are set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seg {
    /// `segments.date`.
    pub date: Option<NaiveDate>,
    /// `segments.week` (Monday).
    pub week: Option<NaiveDate>,
    /// `segments.month` (first day).
    pub month: Option<NaiveDate>,
    /// `segments.quarter` (first day).
    pub quarter: Option<NaiveDate>,
    /// `segments.year`.
    pub year: Option<i32>,
    /// `segments.day_of_week` (0 = Monday).
    pub dow: Option<u8>,
    /// `segments.ad_network_type` (index into `catalog::NETWORKS`).
    pub network: Option<u8>,
    /// `segments.device` (index into `catalog::DEVICES`).
    pub device: Option<u8>,
    /// `segments.hour`.
    pub hour: Option<u8>,
}

/// Entities of a row (indices into the account; `client` into the hierarchy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ent {
    /// Campaign.
    pub campaign: Option<u32>,
    /// Ad group.
    pub ad_group: Option<u32>,
    /// Keyword.
    pub keyword: Option<u32>,
    /// Ad.
    pub ad: Option<u32>,
    /// Search term (canonical index).
    pub term: Option<u32>,
    /// Landing page.
    pub landing: Option<u32>,
    /// Geographic member.
    pub geo: Option<u32>,
    /// Customer client.
    pub client: Option<u32>,
}

/// One output row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Entities.
    pub ent: Ent,
    /// Segments.
    pub seg: Seg,
    /// Quantities (data queries).
    pub q: Option<Q>,
}

/// Everything a field value may depend on.
pub struct Ctx<'a> {
    /// The customer in the URL.
    pub cust: &'a CustomerInfo,
    /// Its account.
    pub acc: &'a Account,
    /// Its hierarchy (customer_client rows).
    pub clients: &'a [(Arc<CustomerInfo>, i64)],
    /// Entities, with parents filled in.
    pub ent: Ent,
    /// Segments.
    pub seg: Seg,
    /// Quantities.
    pub q: Option<&'a Q>,
}

fn idx(o: Option<u32>) -> Option<usize> {
    o.map(|i| i as usize)
}

fn small(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl<'a> Ctx<'a> {
    /// A context whose parents (ad group of an ad, campaign of an ad group, …) are derived.
    pub fn new(
        cust: &'a CustomerInfo,
        acc: &'a Account,
        clients: &'a [(Arc<CustomerInfo>, i64)],
        mut ent: Ent,
        seg: Seg,
        q: Option<&'a Q>,
    ) -> Self {
        if let Some(t) = idx(ent.term).and_then(|t| acc.terms.get(t))
            && ent.ad_group.is_none()
        {
            ent.ad_group = acc.keywords.get(t.keyword).map(|k| small(k.ad_group));
        }
        if let Some(k) = idx(ent.keyword).and_then(|k| acc.keywords.get(k)) {
            ent.ad_group = Some(small(k.ad_group));
        }
        if let Some(a) = idx(ent.ad).and_then(|a| acc.ads.get(a)) {
            ent.ad_group = Some(small(a.ad_group));
        }
        if let Some(g) = idx(ent.ad_group).and_then(|g| acc.ad_groups.get(g)) {
            ent.campaign = Some(small(g.campaign));
        }
        Self {
            cust,
            acc,
            clients,
            ent,
            seg,
            q,
        }
    }

    fn campaign(&self) -> Option<&'a super::account::Campaign> {
        idx(self.ent.campaign).and_then(|i| self.acc.campaigns.get(i))
    }

    fn ad_group(&self) -> Option<&'a super::account::AdGroup> {
        idx(self.ent.ad_group).and_then(|i| self.acc.ad_groups.get(i))
    }

    fn keyword(&self) -> Option<&'a super::account::Keyword> {
        idx(self.ent.keyword).and_then(|i| self.acc.keywords.get(i))
    }

    /// The resource name of a resource in this row.
    pub fn resource_name(&self, r: Res) -> Option<String> {
        let cid = &self.cust.id;
        Some(match r {
            Res::Customer => format!("customers/{cid}"),
            Res::CustomerClient => {
                let (c, _) = self.clients.get(idx(self.ent.client)?)?;
                format!("customers/{cid}/customerClients/{}", c.id)
            }
            Res::CampaignBudget => {
                format!(
                    "customers/{cid}/campaignBudgets/{}",
                    self.campaign()?.budget_id
                )
            }
            Res::Campaign => format!("customers/{cid}/campaigns/{}", self.campaign()?.id),
            Res::AdGroup => format!("customers/{cid}/adGroups/{}", self.ad_group()?.id),
            Res::AdGroupAd => {
                let ad = idx(self.ent.ad).and_then(|a| self.acc.ads.get(a))?;
                format!(
                    "customers/{cid}/adGroupAds/{}~{}",
                    self.ad_group()?.id,
                    ad.id
                )
            }
            Res::AdGroupCriterion => format!(
                "customers/{cid}/adGroupCriteria/{}~{}",
                self.ad_group()?.id,
                self.keyword()?.criterion_id
            ),
            Res::KeywordView => format!(
                "customers/{cid}/keywordViews/{}~{}",
                self.ad_group()?.id,
                self.keyword()?.criterion_id
            ),
            Res::SearchTermView => {
                let t = idx(self.ent.term).and_then(|t| self.acc.terms.get(t))?;
                format!(
                    "customers/{cid}/searchTermViews/{}~{}~{}",
                    self.campaign()?.id,
                    self.ad_group()?.id,
                    base64url(t.text.as_bytes())
                )
            }
            Res::LandingPageView => {
                let l = idx(self.ent.landing).and_then(|l| self.acc.landings.get(l))?;
                format!("customers/{cid}/landingPageViews/{}", l.fingerprint)
            }
            Res::GeographicView => {
                let g = idx(self.ent.geo).and_then(|g| self.acc.geos.get(g))?;
                format!(
                    "customers/{cid}/geographicViews/{}~{}",
                    g.country_id,
                    catalog::LOCATION_TYPES[usize::from(g.location_type)]
                )
            }
        })
    }

    /// The value of a field in this row.
    pub fn value(&self, f: F) -> Val {
        self.value_opt(f).unwrap_or(Val::Null)
    }

    fn value_opt(&self, f: F) -> Option<Val> {
        use F::*;
        let cust = self.cust;
        let int = |s: &str| Val::I64(s.parse().unwrap_or(0));
        let client = || {
            idx(self.ent.client)
                .and_then(|i| self.clients.get(i))
                .map(|(c, l)| (c.as_ref(), *l))
        };
        let ad = || idx(self.ent.ad).and_then(|a| self.acc.ads.get(a));
        let term = || idx(self.ent.term).and_then(|t| self.acc.terms.get(t));
        let landing = || idx(self.ent.landing).and_then(|l| self.acc.landings.get(l));
        let geo = || idx(self.ent.geo).and_then(|g| self.acc.geos.get(g));
        let res_name = |r: Res| self.resource_name(r).map(Val::Str);
        Some(match f {
            CustomerResourceName => return res_name(Res::Customer),
            CustomerId => int(&cust.id),
            CustomerDescriptiveName => Val::Str(cust.name.clone()),
            CustomerCurrencyCode => Val::Str(cust.currency.clone()),
            CustomerTimeZone => Val::Str(cust.time_zone.clone()),
            CustomerManager => Val::Bool(cust.manager),
            CustomerTestAccount => Val::Bool(cust.test_account),
            CustomerStatus => Val::Enum(cust.status),
            CustomerAutoTagging => Val::Bool(true),
            CcResourceName => return res_name(Res::CustomerClient),
            CcClientCustomer => Val::Str(client()?.0.resource_name()),
            CcLevel => Val::I64(client()?.1),
            CcManager => Val::Bool(client()?.0.manager),
            CcDescriptiveName => Val::Str(client()?.0.name.clone()),
            CcCurrencyCode => Val::Str(client()?.0.currency.clone()),
            CcTimeZone => Val::Str(client()?.0.time_zone.clone()),
            CcStatus => Val::Enum(client()?.0.status),
            CcHidden => Val::Bool(client()?.0.hidden),
            CcId => int(&client()?.0.id),
            CcTestAccount => Val::Bool(client()?.0.test_account),
            BudgetResourceName => return res_name(Res::CampaignBudget),
            BudgetId => Val::I64(self.campaign()?.budget_id as i64),
            BudgetName => Val::Str(self.campaign()?.budget_name.clone()),
            BudgetAmountMicros => Val::I64(self.campaign()?.budget_micros),
            BudgetDeliveryMethod => Val::Enum(self.campaign()?.delivery),
            BudgetPeriod => Val::Enum("DAILY"),
            BudgetStatus => Val::Enum(if self.campaign()?.status == "REMOVED" {
                "REMOVED"
            } else {
                "ENABLED"
            }),
            BudgetExplicitlyShared => Val::Bool(false),
            CampaignResourceName => return res_name(Res::Campaign),
            CampaignId => Val::I64(self.campaign()?.id as i64),
            CampaignName => Val::Str(self.campaign()?.name.clone()),
            CampaignStatus => Val::Enum(self.campaign()?.status),
            CampaignChannelType => Val::Enum(self.campaign()?.channel.as_str()),
            CampaignBiddingStrategyType => Val::Enum(self.campaign()?.bidding),
            CampaignStartDate => Val::Date(self.campaign()?.start),
            // Google reports campaigns without an end date as ending on 2037-12-30.
            CampaignEndDate => Val::Date(
                self.campaign()?
                    .end
                    .or_else(|| NaiveDate::from_ymd_opt(2037, 12, 30))?,
            ),
            CampaignBudget => return res_name(Res::CampaignBudget),
            CampaignServingStatus => Val::Enum(if self.campaign()?.end.is_some() {
                "ENDED"
            } else {
                "SERVING"
            }),
            AdGroupResourceName => return res_name(Res::AdGroup),
            AdGroupId => Val::I64(self.ad_group()?.id as i64),
            AdGroupName => Val::Str(self.ad_group()?.name.clone()),
            AdGroupStatus => Val::Enum(self.ad_group()?.status),
            AdGroupType => Val::Enum(self.ad_group()?.kind),
            AdGroupCampaign => return res_name(Res::Campaign),
            AdGroupCpcBidMicros => Val::I64(self.ad_group()?.cpc_bid_micros),
            AdResourceName => return res_name(Res::AdGroupAd),
            AdStatus => Val::Enum(ad()?.status),
            AdId => Val::I64(ad()?.id as i64),
            AdName => Val::Str(ad()?.name.clone()?),
            AdType => Val::Enum(ad()?.ad_type),
            AdFinalUrls => Val::List(ad()?.final_urls.clone()),
            AdApprovalStatus => Val::Enum(ad()?.approval),
            AdAdGroup => return res_name(Res::AdGroup),
            CritResourceName => return res_name(Res::AdGroupCriterion),
            CritId => Val::I64(self.keyword()?.criterion_id as i64),
            CritKeywordText | SKeywordText => Val::Str(self.keyword()?.text.clone()),
            CritMatchType | SKeywordMatchType => Val::Enum(self.keyword()?.match_type),
            CritStatus => Val::Enum(self.keyword()?.status),
            CritType => {
                self.keyword()?;
                Val::Enum("KEYWORD")
            }
            CritNegative => {
                self.keyword()?;
                Val::Bool(false)
            }
            CritAdGroup => return res_name(Res::AdGroup),
            CritQualityScore => Val::I64(i64::from(self.keyword()?.quality_score)),
            KvResourceName => return res_name(Res::KeywordView),
            StvResourceName => return res_name(Res::SearchTermView),
            StvSearchTerm => Val::Str(term()?.text.clone()),
            StvStatus => Val::Enum(term()?.status),
            StvAdGroup => return res_name(Res::AdGroup),
            LpvResourceName => return res_name(Res::LandingPageView),
            LpvUnexpandedFinalUrl => Val::Str(landing()?.url.clone()),
            GvResourceName => return res_name(Res::GeographicView),
            GvCountryCriterionId => Val::I64(geo()?.country_id),
            GvLocationType => Val::Enum(catalog::LOCATION_TYPES[usize::from(geo()?.location_type)]),
            SDate => Val::Date(self.seg.date?),
            SWeek => Val::Date(self.seg.week?),
            SMonth => Val::Date(self.seg.month?),
            SQuarter => Val::Date(self.seg.quarter?),
            SYear => Val::I64(i64::from(self.seg.year?)),
            SDayOfWeek => Val::Enum(catalog::DAYS_OF_WEEK[usize::from(self.seg.dow?)]),
            SDevice => Val::Enum(catalog::DEVICES[usize::from(self.seg.device?)]),
            SAdNetworkType => Val::Enum(catalog::NETWORKS[usize::from(self.seg.network?)]),
            SHour => Val::I64(i64::from(self.seg.hour?)),
            m => return metric(m, self.q?, self.campaign()),
        })
    }
}

/// A metric of a row's quantities.
fn metric(f: F, q: &Q, campaign: Option<&super::account::Campaign>) -> Option<Val> {
    use model::*;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let conv = q[CONV] as f64 / 100.0;
    Some(match f {
        F::MImpressions => Val::I64(q[IMPR]),
        F::MClicks => Val::I64(q[CLICKS]),
        F::MCostMicros => Val::I64(q[COST]),
        F::MInteractions => Val::I64(q[INTER]),
        F::MCtr => Val::F64(ratio(q[CLICKS] as f64, q[IMPR] as f64)),
        F::MAverageCpc => Val::F64(ratio(q[COST] as f64, q[CLICKS] as f64)),
        F::MAverageCpm => Val::F64(ratio(q[COST] as f64 * 1000.0, q[IMPR] as f64)),
        F::MAverageCost => Val::F64(ratio(q[COST] as f64, q[INTER] as f64)),
        F::MConversions => Val::F64(conv),
        F::MConversionsValue => Val::F64(q[VALUE] as f64 / 1e6),
        F::MAllConversions => Val::F64(q[ALL_CONV] as f64 / 100.0),
        F::MCostPerConversion => Val::F64(ratio(q[COST] as f64, conv)),
        F::MValuePerConversion => Val::F64(ratio(q[VALUE] as f64 / 1e6, conv)),
        F::MConversionsFromInteractionsRate => Val::F64(ratio(conv, q[INTER] as f64)),
        F::MInteractionRate => Val::F64(ratio(q[INTER] as f64, q[IMPR] as f64)),
        F::MSearchImpressionShare => {
            // Not reported for non-search campaigns or without eligible impressions.
            if campaign.is_some_and(|c| !c.channel.has_impression_share()) {
                return None;
            }
            let eligible = (q[SEARCH_IMPR] + q[LOST]) as f64;
            if eligible <= 0.0 {
                return None;
            }
            // Google reports shares under 10 % as 0.0999.
            Val::F64((q[SEARCH_IMPR] as f64 / eligible).max(0.0999))
        }
        _ => return None,
    })
}

/// URL-safe base64 without padding (search-term resource names).
fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Which conditions apply at which level of the walk.
#[derive(Default)]
struct Filters<'q> {
    customer: Vec<&'q Cond>,
    campaign: Vec<&'q Cond>,
    ad_group: Vec<&'q Cond>,
    keyword: Vec<&'q Cond>,
    ad: Vec<&'q Cond>,
    term: Vec<&'q Cond>,
    landing: Vec<&'q Cond>,
    geo: Vec<&'q Cond>,
    client: Vec<&'q Cond>,
    day: Vec<&'q Cond>,
    network: Vec<&'q Cond>,
    device: Vec<&'q Cond>,
    hour: Vec<&'q Cond>,
    metric: Vec<&'q Cond>,
}

impl<'q> Filters<'q> {
    fn new(q: &'q Query) -> Self {
        let mut f = Filters::default();
        for c in &q.conds {
            let d = catalog::def(c.field);
            let list = match (d.category, d.resource, c.field) {
                (Category::Metric, ..) => &mut f.metric,
                (Category::Segment, _, F::SDevice) => &mut f.device,
                (Category::Segment, _, F::SAdNetworkType) => &mut f.network,
                (Category::Segment, _, F::SHour) => &mut f.hour,
                (Category::Segment, _, F::SKeywordText | F::SKeywordMatchType) => &mut f.keyword,
                (Category::Segment, ..) => &mut f.day,
                (_, Some(Res::Customer), _) => &mut f.customer,
                (_, Some(Res::CustomerClient), _) => &mut f.client,
                (_, Some(Res::Campaign | Res::CampaignBudget), _) => &mut f.campaign,
                (_, Some(Res::AdGroup), _) => &mut f.ad_group,
                (_, Some(Res::AdGroupCriterion | Res::KeywordView), _) => &mut f.keyword,
                (_, Some(Res::AdGroupAd), _) => &mut f.ad,
                (_, Some(Res::SearchTermView), _) => &mut f.term,
                (_, Some(Res::LandingPageView), _) => &mut f.landing,
                (_, Some(Res::GeographicView), _) => &mut f.geo,
                _ => &mut f.customer,
            };
            list.push(c);
        }
        f
    }
}

fn passes(conds: &[&Cond], ctx: &Ctx<'_>) -> bool {
    conds.iter().all(|c| c.pred.test(&ctx.value(c.field)))
}

/// How rows are keyed and how deep the walk goes.
struct Plan {
    key_campaign: bool,
    key_ad_group: bool,
    key_keyword: bool,
    need_ag: bool,
    need_kw: bool,
    need_leaf: bool,
    need_hour: bool,
    skip_pseudo_ag: bool,
    skip_pseudo_kw: bool,
    alt: Alt,
}

/// The side split a FROM resource needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Alt {
    None,
    Ads,
    Landings,
    Geos,
    Terms,
}

impl Plan {
    fn new(q: &Query) -> Plan {
        let selects_res = |r: Res| q.select.iter().any(|d| d.resource == Some(r));
        let view = matches!(q.from, Res::LandingPageView | Res::GeographicView);
        let ag_in_view = view && (selects_res(Res::AdGroup) || q.references(Res::AdGroup));
        let alt = match q.from {
            Res::AdGroupAd => Alt::Ads,
            Res::LandingPageView => Alt::Landings,
            Res::GeographicView => Alt::Geos,
            Res::SearchTermView => Alt::Terms,
            _ => Alt::None,
        };
        let need_hour = q.selects(F::SHour);
        let need_leaf =
            alt != Alt::None || need_hour || q.selects(F::SDevice) || q.selects(F::SAdNetworkType);
        let need_kw = need_leaf || matches!(q.from, Res::KeywordView);
        let need_ag = need_kw || q.from == Res::AdGroup;
        Plan {
            key_campaign: matches!(q.from, Res::Campaign | Res::CampaignBudget)
                || (view && selects_res(Res::Campaign) && !selects_res(Res::AdGroup)),
            key_ad_group: q.from == Res::AdGroup
                || q.from == Res::SearchTermView
                || (view && selects_res(Res::AdGroup)),
            key_keyword: q.from == Res::KeywordView
                || (q.from == Res::SearchTermView
                    && (q.selects(F::SKeywordText) || q.selects(F::SKeywordMatchType))),
            need_ag,
            need_kw,
            need_leaf,
            need_hour,
            skip_pseudo_ag: matches!(
                q.from,
                Res::AdGroup
                    | Res::AdGroupAd
                    | Res::KeywordView
                    | Res::SearchTermView
                    | Res::LandingPageView
            ) || ag_in_view,
            skip_pseudo_kw: matches!(q.from, Res::KeywordView | Res::SearchTermView),
            alt,
        }
    }
}

/// The result of running a query.
pub struct Output {
    /// Rows, filtered and ordered (LIMIT not applied).
    pub rows: Vec<Row>,
    /// Cells synthesized (drives `queryResourceConsumption`).
    pub cells: u64,
}

fn too_much(what: &str, cap: u64) -> AdsError {
    let mut e = AdsError::query(
        "QUERY_ERROR",
        format!(
            "Sandbox limit: this query would synthesize more than {cap} {what}. Narrow the date range, add filters or select fewer segments."
        ),
        None,
    );
    if let Some(item) = e.errors.first_mut() {
        item.category = "quotaError";
        item.code = "EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION";
        item.location = None;
    }
    e.http = axum::http::StatusCode::TOO_MANY_REQUESTS;
    e.status = "RESOURCE_EXHAUSTED";
    e.message = "Resource has been exhausted (e.g. check quota).".into();
    e
}

/// Canonical search term per (ad group, text): the first term with that text.
fn term_canon(acc: &Account) -> Vec<usize> {
    let mut first: HashMap<(usize, &str), usize> = HashMap::new();
    acc.terms
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let ag = acc
                .keywords
                .get(t.keyword)
                .map_or(usize::MAX, |k| k.ad_group);
            *first.entry((ag, t.text.as_str())).or_insert(i)
        })
        .collect()
}

/// Executes `q` for the customer of `model`.
pub fn execute(q: &Query, model: &Model<'_>, dir: &Directory) -> Result<Output, AdsError> {
    let cust = model.cust;
    let acc = model.acc;
    let filters = Filters::new(q);
    let clients: Vec<(Arc<CustomerInfo>, i64)> = if q.from == Res::CustomerClient {
        dir.hierarchy(&cust.id)
    } else {
        Vec::new()
    };
    if !passes(
        &filters.customer,
        &Ctx::new(cust, acc, &[], Ent::default(), Seg::default(), None),
    ) {
        return Ok(Output {
            rows: Vec::new(),
            cells: 1,
        });
    }
    let mut walked = 0;
    let mut rows: Vec<Row> = if q.from == Res::CustomerClient {
        (0..clients.len())
            .map(|i| Ent {
                client: Some(small(i)),
                ..Ent::default()
            })
            .filter(|ent| {
                passes(
                    &filters.client,
                    &Ctx::new(cust, acc, &clients, *ent, Seg::default(), None),
                )
            })
            .map(|ent| Row {
                ent,
                seg: Seg::default(),
                q: None,
            })
            .collect()
    } else if !q.needs_data() {
        list_entities(q, &filters, cust, acc)
    } else {
        let (rows, cells) = walk(q, model)?;
        walked = cells;
        rows
    };
    let cells = walked.max(rows.len() as u64);
    if !filters.metric.is_empty() {
        rows.retain(|r| {
            passes(
                &filters.metric,
                &Ctx::new(cust, acc, &clients, r.ent, r.seg, r.q.as_ref()),
            )
        });
    }
    if !q.order.is_empty() {
        let mut keyed: Vec<(Vec<Val>, Row)> = rows
            .into_iter()
            .map(|r| {
                let c = Ctx::new(cust, acc, &clients, r.ent, r.seg, r.q.as_ref());
                (q.order.iter().map(|(d, _)| c.value(d.id)).collect(), r)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, (_, desc)) in q.order.iter().enumerate() {
                let o = a[i].sort_cmp(&b[i]);
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
        rows = keyed.into_iter().map(|(_, r)| r).collect();
    }
    Ok(Output { rows, cells })
}

/// Entity listing for queries without metrics or segments.
fn list_entities(q: &Query, f: &Filters<'_>, cust: &CustomerInfo, acc: &Account) -> Vec<Row> {
    let ok = |conds: &[&Cond], ent: Ent| {
        passes(conds, &Ctx::new(cust, acc, &[], ent, Seg::default(), None))
    };
    let camp_ok = |ci: usize| {
        ok(
            &f.campaign,
            Ent {
                campaign: Some(small(ci)),
                ..Ent::default()
            },
        )
    };
    let ag_ok = |gi: usize| {
        let ent = Ent {
            ad_group: Some(small(gi)),
            ..Ent::default()
        };
        ok(&f.ad_group, ent) && acc.ad_groups.get(gi).is_some_and(|g| camp_ok(g.campaign))
    };
    let mut ents: Vec<Ent> = Vec::new();
    match q.from {
        Res::Customer => ents.push(Ent::default()),
        Res::Campaign | Res::CampaignBudget => {
            for ci in 0..acc.campaigns.len() {
                if camp_ok(ci) {
                    ents.push(Ent {
                        campaign: Some(small(ci)),
                        ..Ent::default()
                    });
                }
            }
        }
        Res::AdGroup => {
            for gi in 0..acc.ad_groups.len() {
                if ag_ok(gi) {
                    ents.push(Ent {
                        ad_group: Some(small(gi)),
                        ..Ent::default()
                    });
                }
            }
        }
        Res::AdGroupAd => {
            for (ai, a) in acc.ads.iter().enumerate() {
                let ent = Ent {
                    ad: Some(small(ai)),
                    ..Ent::default()
                };
                if ag_ok(a.ad_group) && ok(&f.ad, ent) {
                    ents.push(ent);
                }
            }
        }
        Res::AdGroupCriterion | Res::KeywordView => {
            for (ki, k) in acc.keywords.iter().enumerate() {
                let ent = Ent {
                    keyword: Some(small(ki)),
                    ..Ent::default()
                };
                if ag_ok(k.ad_group) && ok(&f.keyword, ent) {
                    ents.push(ent);
                }
            }
        }
        Res::SearchTermView => {
            let canon = term_canon(acc);
            for (ti, t) in acc.terms.iter().enumerate() {
                if canon[ti] != ti {
                    continue;
                }
                let Some(k) = acc.keywords.get(t.keyword) else {
                    continue;
                };
                let ent = Ent {
                    term: Some(small(ti)),
                    ad_group: Some(small(k.ad_group)),
                    ..Ent::default()
                };
                if ag_ok(k.ad_group) && ok(&f.term, ent) {
                    ents.push(ent);
                }
            }
        }
        Res::LandingPageView | Res::GeographicView => {
            let per_group =
                q.select.iter().any(|d| d.resource == Some(Res::AdGroup)) || !f.ad_group.is_empty();
            let per_campaign = q.select.iter().any(|d| d.resource == Some(Res::Campaign))
                || !f.campaign.is_empty();
            let members = if q.from == Res::LandingPageView {
                acc.landings.len()
            } else {
                acc.geos.len()
            };
            let member_ent = |m: usize, base: Ent| {
                if q.from == Res::LandingPageView {
                    Ent {
                        landing: Some(small(m)),
                        ..base
                    }
                } else {
                    Ent {
                        geo: Some(small(m)),
                        ..base
                    }
                }
            };
            let member_ok = |ent: Ent| {
                if q.from == Res::LandingPageView {
                    ok(&f.landing, ent)
                } else {
                    ok(&f.geo, ent)
                }
            };
            if per_group {
                for (gi, g) in acc.ad_groups.iter().enumerate() {
                    if !ag_ok(gi) {
                        continue;
                    }
                    for m in 0..members {
                        if q.from == Res::LandingPageView
                            && !g.landings.iter().any(|(l, _)| *l == m)
                        {
                            continue;
                        }
                        let ent = member_ent(
                            m,
                            Ent {
                                ad_group: Some(small(gi)),
                                ..Ent::default()
                            },
                        );
                        if member_ok(ent) {
                            ents.push(ent);
                        }
                    }
                }
            } else if per_campaign {
                for (ci, c) in acc.campaigns.iter().enumerate() {
                    if !camp_ok(ci) {
                        continue;
                    }
                    for m in 0..members {
                        let used = q.from == Res::GeographicView
                            || c.ad_groups
                                .iter()
                                .any(|&g| acc.ad_groups[g].landings.iter().any(|(l, _)| *l == m));
                        let ent = member_ent(
                            m,
                            Ent {
                                campaign: Some(small(ci)),
                                ..Ent::default()
                            },
                        );
                        if used && member_ok(ent) {
                            ents.push(ent);
                        }
                    }
                }
            } else {
                for m in 0..members {
                    let ent = member_ent(m, Ent::default());
                    if member_ok(ent) {
                        ents.push(ent);
                    }
                }
            }
        }
        Res::CustomerClient => {}
    }
    ents.into_iter()
        .map(|ent| Row {
            ent,
            seg: Seg::default(),
            q: None,
        })
        .collect()
}

/// The per-request state of a data walk.
struct Walk<'a, 'q> {
    q: &'q Query,
    plan: Plan,
    f: Filters<'q>,
    model: &'a Model<'a>,
    canon: Vec<usize>,
    camp_ok: Vec<bool>,
    ag_ok: Vec<bool>,
    kw_ok: Vec<bool>,
    ad_ok: Vec<bool>,
    term_ok: Vec<bool>,
    landing_ok: Vec<bool>,
    geo_ok: Vec<bool>,
    rows: RowMap,
    cells: u64,
    buf: Vec<Vec<Q>>,
    /// The hour split of the current day (computed once per day).
    hours: Vec<Kid>,
}

/// Where in the tree a cell sits.
#[derive(Clone, Copy, Default)]
struct Path {
    campaign: usize,
    ad_group: Option<usize>,
    keyword: Option<usize>,
    ad: Option<usize>,
    term: Option<usize>,
    landing: Option<usize>,
    geo: Option<usize>,
}

fn nonzero(q: &Q) -> bool {
    q.iter().any(|v| *v != 0)
}

impl<'a, 'q> Walk<'a, 'q> {
    fn ent_ok(&self, conds: &[&Cond], ent: Ent) -> bool {
        passes(
            conds,
            &Ctx::new(
                self.model.cust,
                self.model.acc,
                &[],
                ent,
                Seg::default(),
                None,
            ),
        )
    }

    /// Which of `n` entities pass `conds`.
    fn mask(&self, conds: &[&Cond], n: usize, make: fn(usize) -> Ent) -> Vec<bool> {
        (0..n).map(|i| self.ent_ok(conds, make(i))).collect()
    }

    fn seg_ok(&self, conds: &[&Cond], seg: Seg) -> bool {
        passes(
            conds,
            &Ctx::new(
                self.model.cust,
                self.model.acc,
                &[],
                Ent::default(),
                seg,
                None,
            ),
        )
    }

    fn take_buf(&mut self) -> Vec<Q> {
        self.buf.pop().unwrap_or_default()
    }

    fn emit(&mut self, path: Path, seg: Seg, cell: &Q) -> Result<(), AdsError> {
        self.cells += 1;
        if self.cells > MAX_CELLS {
            return Err(too_much("cells", MAX_CELLS));
        }
        if !nonzero(cell) {
            return Ok(());
        }
        let p = &self.plan;
        let ent = Ent {
            campaign: p.key_campaign.then_some(small(path.campaign)),
            ad_group: if p.key_ad_group {
                path.ad_group.map(small)
            } else {
                None
            },
            keyword: if p.key_keyword {
                path.keyword.map(small)
            } else {
                None
            },
            ad: path.ad.map(small),
            term: path
                .term
                .map(|t| small(self.canon.get(t).copied().unwrap_or(t))),
            landing: path.landing.map(small),
            geo: path.geo.map(small),
            client: None,
        };
        let len = self.rows.len();
        let slot = self.rows.entry((ent, seg)).or_insert([0; model::NQ]);
        model::add(slot, cell);
        if self.rows.len() > len && self.rows.len() > MAX_ROWS {
            return Err(too_much("rows", MAX_ROWS as u64));
        }
        Ok(())
    }

    /// Emits a cell, split by hour when the query selects `segments.hour`.
    fn emit_hours(&mut self, path: Path, seg: Seg, cell: &Q) -> Result<(), AdsError> {
        if !self.plan.need_hour {
            return self.emit(path, seg, cell);
        }
        let mut out = self.take_buf();
        model::split(cell, &self.hours, &mut out);
        for (h, hq) in out.iter().enumerate() {
            let seg = Seg {
                hour: Some(h as u8),
                ..seg
            };
            if nonzero(hq) && self.seg_ok(&self.f.hour, seg) {
                self.emit(path, seg, hq)?;
            }
        }
        self.buf.push(out);
        Ok(())
    }

    fn day(&mut self, d: NaiveDate) -> Result<(), AdsError> {
        let full = Seg {
            date: Some(d),
            week: Some(dates::week_start(d)),
            month: Some(dates::month_start(d)),
            quarter: Some(dates::quarter_start(d)),
            year: Some(d.year()),
            dow: Some(d.weekday().num_days_from_monday() as u8),
            ..Seg::default()
        };
        if !self.seg_ok(&self.f.day, full) {
            return Ok(());
        }
        let q = self.q;
        let seg = Seg {
            date: q.selects(F::SDate).then_some(d),
            week: full.week.filter(|_| q.selects(F::SWeek)),
            month: full.month.filter(|_| q.selects(F::SMonth)),
            quarter: full.quarter.filter(|_| q.selects(F::SQuarter)),
            year: full.year.filter(|_| q.selects(F::SYear)),
            dow: full.dow.filter(|_| q.selects(F::SDayOfWeek)),
            ..Seg::default()
        };
        let model = self.model;
        if self.plan.need_hour {
            self.hours = model.hour_kids(dummy_rates(), d);
        }
        let kids = model.campaign_kids(d);
        let total = model.day_total(d, &kids);
        if !nonzero(&total) {
            return Ok(());
        }
        let mut camp_q = self.take_buf();
        model::split(&total, &kids, &mut camp_q);
        for (ci, cq) in camp_q.iter().enumerate() {
            if !nonzero(cq) || !self.camp_ok.get(ci).copied().unwrap_or(false) {
                continue;
            }
            let path = Path {
                campaign: ci,
                ..Path::default()
            };
            if !self.plan.need_ag {
                self.emit(path, seg, cq)?;
                continue;
            }
            self.campaign(ci, kids[ci], cq, seg, d)?;
        }
        self.buf.push(camp_q);
        Ok(())
    }

    fn campaign(
        &mut self,
        ci: usize,
        kid: Kid,
        cq: &Q,
        seg: Seg,
        d: NaiveDate,
    ) -> Result<(), AdsError> {
        let model = self.model;
        let acc = model.acc;
        let camp = &acc.campaigns[ci];
        let groups: Vec<Option<usize>> = if camp.ad_groups.is_empty() {
            vec![None]
        } else {
            camp.ad_groups.iter().map(|g| Some(*g)).collect()
        };
        let kids = model.ad_group_kids(ci, kid.r, d);
        let mut ag_q = self.take_buf();
        model::split(cq, &kids, &mut ag_q);
        for (j, gi) in groups.iter().enumerate() {
            let Some(gq) = ag_q.get(j).copied() else {
                break;
            };
            if !nonzero(&gq) {
                continue;
            }
            match gi {
                None if self.plan.skip_pseudo_ag => continue,
                Some(g) if !self.ag_ok.get(*g).copied().unwrap_or(false) => continue,
                _ => {}
            }
            let path = Path {
                campaign: ci,
                ad_group: *gi,
                ..Path::default()
            };
            if !self.plan.need_kw {
                self.emit(path, seg, &gq)?;
                continue;
            }
            self.ad_group(path, camp.channel, kids[j], &gq, seg, d)?;
        }
        self.buf.push(ag_q);
        Ok(())
    }

    fn ad_group(
        &mut self,
        path: Path,
        channel: Channel,
        kid: Kid,
        gq: &Q,
        seg: Seg,
        d: NaiveDate,
    ) -> Result<(), AdsError> {
        let model = self.model;
        let acc = model.acc;
        let keywords: Vec<Option<usize>> = match path.ad_group.and_then(|g| acc.ad_groups.get(g)) {
            Some(g) if !g.keywords.is_empty() => g.keywords.iter().map(|k| Some(*k)).collect(),
            _ => vec![None],
        };
        if self.plan.skip_pseudo_kw && keywords == [None] {
            return Ok(());
        }
        let kids = match path.ad_group {
            Some(g) => model.keyword_kids(g, kid.r, d),
            None => vec![Kid { w: 1.0, r: kid.r }],
        };
        let mut kw_q = self.take_buf();
        model::split(gq, &kids, &mut kw_q);
        let side = matches!(self.plan.alt, Alt::Ads | Alt::Landings | Alt::Geos);
        let networks = channel.networks();
        let devices = channel.devices();
        // Ad-group network × device cells for the side splits.
        let mut cells = vec![[0i64; model::NQ]; networks.len() * devices.len()];
        for (k, ki) in keywords.iter().enumerate() {
            let Some(kq) = kw_q.get(k).copied() else {
                break;
            };
            if !nonzero(&kq) {
                continue;
            }
            match ki {
                None if self.plan.skip_pseudo_kw => continue,
                Some(x) if !side && !self.kw_ok.get(*x).copied().unwrap_or(false) => continue,
                _ => {}
            }
            let kpath = Path {
                keyword: *ki,
                ..path
            };
            if !self.plan.need_leaf {
                self.emit(kpath, seg, &kq)?;
                continue;
            }
            let net_kids = Model::network_kids(channel, kids[k].r);
            let mut net_q = self.take_buf();
            model::split(&kq, &net_kids, &mut net_q);
            for (n, nq) in net_q.iter().enumerate() {
                let net = networks[n].0;
                let nseg = Seg {
                    network: self.q.selects(F::SAdNetworkType).then_some(net),
                    ..seg
                };
                if !nonzero(nq)
                    || !self.seg_ok(
                        &self.f.network,
                        Seg {
                            network: Some(net),
                            ..nseg
                        },
                    )
                {
                    continue;
                }
                let dev_kids = model.device_kids(channel, net_kids[n].r, d);
                let mut dev_q = self.take_buf();
                model::split(nq, &dev_kids, &mut dev_q);
                for (v, vq) in dev_q.iter().enumerate() {
                    let dev = devices[v].0;
                    let vseg = Seg {
                        device: self.q.selects(F::SDevice).then_some(dev),
                        ..nseg
                    };
                    if !nonzero(vq)
                        || !self.seg_ok(
                            &self.f.device,
                            Seg {
                                device: Some(dev),
                                ..vseg
                            },
                        )
                    {
                        continue;
                    }
                    match self.plan.alt {
                        Alt::Terms => {
                            if let Some(x) = ki {
                                self.terms(kpath, *x, dev_kids[v], vq, vseg, d)?;
                            }
                        }
                        Alt::Ads | Alt::Landings | Alt::Geos => {
                            if let Some(c) = cells.get_mut(n * devices.len() + v) {
                                model::add(c, vq);
                            }
                        }
                        Alt::None => self.emit_hours(kpath, vseg, vq)?,
                    }
                }
                self.buf.push(dev_q);
            }
            self.buf.push(net_q);
        }
        self.buf.push(kw_q);
        if side {
            for (i, cell) in cells.iter().enumerate() {
                if !nonzero(cell) {
                    continue;
                }
                let (n, v) = (i / devices.len(), i % devices.len());
                let rates = kid
                    .r
                    .scaled(networks[n].2, networks[n].3, networks[n].4)
                    .scaled(devices[v].2, devices[v].3, devices[v].4);
                let seg = Seg {
                    network: self.q.selects(F::SAdNetworkType).then_some(networks[n].0),
                    device: self.q.selects(F::SDevice).then_some(devices[v].0),
                    ..seg
                };
                self.side(path, rates, cell, seg)?;
            }
        }
        Ok(())
    }

    /// Splits an ad group's network × device cell among ads, landing pages or countries.
    fn side(
        &mut self,
        path: Path,
        rates: model::Rates,
        cell: &Q,
        seg: Seg,
    ) -> Result<(), AdsError> {
        let model = self.model;
        let (kids, members): (Vec<Kid>, Vec<usize>) = match (self.plan.alt, path.ad_group) {
            (Alt::Ads, Some(g)) => (model.ad_kids(g, rates), model.acc.ad_groups[g].ads.clone()),
            (Alt::Landings, Some(g)) => (
                model.landing_kids(g, rates),
                model.acc.ad_groups[g]
                    .landings
                    .iter()
                    .map(|(l, _)| *l)
                    .collect(),
            ),
            (Alt::Geos, _) => (model.geo_kids(rates), (0..model.acc.geos.len()).collect()),
            _ => return Ok(()),
        };
        let mut out = self.take_buf();
        model::split(cell, &kids, &mut out);
        for (i, mq) in out.iter().enumerate() {
            let Some(&m) = members.get(i) else { break };
            let (ok, mpath) = match self.plan.alt {
                Alt::Ads => (
                    self.ad_ok.get(m).copied().unwrap_or(false),
                    Path {
                        ad: Some(m),
                        ..path
                    },
                ),
                Alt::Landings => (
                    self.landing_ok.get(m).copied().unwrap_or(false),
                    Path {
                        landing: Some(m),
                        ..path
                    },
                ),
                _ => (
                    self.geo_ok.get(m).copied().unwrap_or(false),
                    Path {
                        geo: Some(m),
                        ..path
                    },
                ),
            };
            if ok && nonzero(mq) {
                self.emit_hours(mpath, seg, mq)?;
            }
        }
        self.buf.push(out);
        Ok(())
    }

    /// Splits a keyword's network × device cell among its search terms.
    fn terms(
        &mut self,
        path: Path,
        ki: usize,
        kid: Kid,
        cell: &Q,
        seg: Seg,
        d: NaiveDate,
    ) -> Result<(), AdsError> {
        let model = self.model;
        let kids = model.term_kids(ki, kid.r, d);
        let terms = model.acc.keywords[ki].terms.clone();
        let mut out = self.take_buf();
        model::split(cell, &kids, &mut out);
        for (i, tq) in out.iter().enumerate() {
            let Some(&t) = terms.get(i) else { break };
            let canon = self.canon.get(t).copied().unwrap_or(t);
            if nonzero(tq) && self.term_ok.get(canon).copied().unwrap_or(false) {
                self.emit_hours(
                    Path {
                        term: Some(t),
                        ..path
                    },
                    seg,
                    tq,
                )?;
            }
        }
        self.buf.push(out);
        Ok(())
    }
}

/// Rates for splits that only distribute volume (hours).
fn dummy_rates() -> model::Rates {
    model::Rates {
        ctr: 0.05,
        cpc: 1.0,
        cr: 0.05,
        aov: 1.0,
        ipc: 1.0,
        is: 0.5,
    }
}

fn walk(q: &Query, model: &Model<'_>) -> Result<(Vec<Row>, u64), AdsError> {
    let acc = model.acc;
    let cust = model.cust;
    let lo = q
        .date_bounds
        .0
        .map_or(cust.data_start, |d| d.max(cust.data_start));
    let hi = q
        .date_bounds
        .1
        .map_or(model.clock.today, |d| d.min(model.clock.today));
    let plan = Plan::new(q);
    let mut w = Walk {
        q,
        plan,
        f: Filters::new(q),
        model,
        canon: term_canon(acc),
        camp_ok: Vec::new(),
        ag_ok: Vec::new(),
        kw_ok: Vec::new(),
        ad_ok: Vec::new(),
        term_ok: Vec::new(),
        landing_ok: Vec::new(),
        geo_ok: Vec::new(),
        rows: RowMap::default(),
        cells: 0,
        buf: Vec::new(),
        hours: Vec::new(),
    };
    // Entity filters are evaluated once per entity, not once per cell.
    w.camp_ok = w.mask(&w.f.campaign, acc.campaigns.len(), |i| Ent {
        campaign: Some(small(i)),
        ..Ent::default()
    });
    w.ag_ok = w.mask(&w.f.ad_group, acc.ad_groups.len(), |i| Ent {
        ad_group: Some(small(i)),
        ..Ent::default()
    });
    w.kw_ok = w.mask(&w.f.keyword, acc.keywords.len(), |i| Ent {
        keyword: Some(small(i)),
        ..Ent::default()
    });
    w.ad_ok = w.mask(&w.f.ad, acc.ads.len(), |i| Ent {
        ad: Some(small(i)),
        ..Ent::default()
    });
    w.term_ok = w.mask(&w.f.term, acc.terms.len(), |i| Ent {
        term: Some(small(i)),
        ..Ent::default()
    });
    w.landing_ok = w.mask(&w.f.landing, acc.landings.len(), |i| Ent {
        landing: Some(small(i)),
        ..Ent::default()
    });
    w.geo_ok = w.mask(&w.f.geo, acc.geos.len(), |i| Ent {
        geo: Some(small(i)),
        ..Ent::default()
    });
    let mut d = lo;
    while d <= hi {
        w.day(d)?;
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    let cells = w.cells;
    let mut rows: Vec<Row> = w
        .rows
        .into_iter()
        .map(|((ent, seg), q)| Row {
            ent,
            seg,
            q: Some(q),
        })
        .collect();
    rows.sort_by_key(|a| (a.ent, a.seg));
    Ok((rows, cells))
}

/// Converts a value to JSON per its declared data type (`None` for null).
pub fn to_json(v: &Val, dt: DataType) -> Option<Value> {
    Some(match v {
        Val::Null => return None,
        Val::I64(i) if dt == DataType::Int32 => json!(i),
        Val::I64(i) => json!(i.to_string()),
        Val::F64(x) => serde_json::Number::from_f64(*x).map(Value::Number)?,
        Val::Str(s) => json!(s),
        Val::Enum(s) => json!(s),
        Val::Bool(b) => json!(b),
        Val::Date(d) => json!(d.format("%Y-%m-%d").to_string()),
        Val::List(l) => json!(l),
    })
}

fn insert_path(root: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for p in parents {
        let entry = node
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else { return };
        node = next;
    }
    node.insert(last.clone(), value);
}

/// Renders one result row (`GoogleAdsRow`).
pub fn row_json(q: &Query, ctx: &Ctx<'_>) -> Value {
    let mut root = Map::new();
    if !q.omit_unselected_resource_names {
        let mut resources = vec![q.from];
        for d in &q.select {
            if let Some(r) = d.resource
                && !resources.contains(&r)
            {
                resources.push(r);
            }
        }
        for r in resources {
            if let Some(name) = ctx.resource_name(r) {
                insert_path(
                    &mut root,
                    &[catalog::camel(r.name()), "resourceName".into()],
                    json!(name),
                );
            }
        }
    }
    for d in &q.select {
        if let Some(v) = to_json(&ctx.value(d.id), d.data_type) {
            let path: Vec<String> = d.name.split('.').map(catalog::camel).collect();
            insert_path(&mut root, &path, v);
        }
    }
    Value::Object(root)
}

/// Renders a summary row: the selected metrics over `total`.
pub fn summary_json(q: &Query, total: &Q) -> Value {
    let mut metrics = Map::new();
    for d in q.select.iter().filter(|d| d.category == Category::Metric) {
        if let Some(v) = metric(d.id, total, None).and_then(|v| to_json(&v, d.data_type)) {
            let name = d.name.trim_start_matches("metrics.");
            metrics.insert(catalog::camel(name), v);
        }
    }
    json!({"metrics": metrics})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixtures;
    use crate::ga4::property::Registry;
    use crate::gads::{account, gaql, query};

    const FIX: &str = r#"
[[google_clients]]
client_id = "c"
client_secret = "s"

[[google_grants]]
refresh_token = "r"
client_id = "c"
ads_customers = ["1234567890", "5550001111"]

[[ga4_properties]]
id = "326784853"
display_name = "Acme Shop"
currency_code = "PLN"
time_zone = "Europe/Warsaw"
create_time = "2021-03-04T10:11:12Z"
daily_sessions = 2400
google_ads_links = ["1234567890"]

[[ads_customers]]
id = "1234567890"
currency_code = "PLN"
"#;

    struct Env {
        config: crate::SandboxConfig,
        dir: Directory,
    }

    fn env() -> Env {
        let fixtures = Fixtures::from_toml_str(FIX).unwrap();
        let reg = Registry::build(&fixtures);
        let dir = Directory::build(&fixtures, &reg);
        let mut config = crate::SandboxConfig::new(fixtures);
        config.today = NaiveDate::from_ymd_opt(2026, 10, 20);
        Env { config, dir }
    }

    fn run(e: &Env, cid: &str, gaql: &str) -> (Vec<Row>, Arc<CustomerInfo>, Account) {
        let cust = e.dir.get(cid).unwrap();
        let acc = account::build(&cust);
        let model = Model::new(&cust, &acc, &e.config);
        let q = query::compile(&gaql::parse(gaql, true).unwrap(), model.clock.today).unwrap();
        let out = execute(&q, &model, &e.dir).unwrap();
        (out.rows, cust.clone(), acc)
    }

    fn total(rows: &[Row], i: usize) -> i64 {
        rows.iter().map(|r| r.q.unwrap()[i]).sum()
    }

    #[test]
    fn segmentations_sum_exactly() {
        let e = env();
        let range = "segments.date BETWEEN '2026-09-01' AND '2026-09-30'";
        let (cust_rows, ..) = run(
            &e,
            "1234567890",
            &format!("SELECT metrics.clicks FROM customer WHERE {range}"),
        );
        assert_eq!(cust_rows.len(), 1);
        let grand = cust_rows[0].q.unwrap();
        for gaql in [
            format!("SELECT segments.date, metrics.clicks FROM customer WHERE {range}"),
            format!("SELECT campaign.id, metrics.clicks FROM campaign WHERE {range}"),
            format!(
                "SELECT campaign.id, segments.device, metrics.clicks FROM campaign WHERE {range}"
            ),
            format!(
                "SELECT segments.ad_network_type, segments.week, metrics.clicks FROM customer WHERE {range}"
            ),
            format!("SELECT segments.hour, metrics.clicks FROM customer WHERE {range}"),
            format!("SELECT segments.day_of_week, metrics.clicks FROM customer WHERE {range}"),
            format!(
                "SELECT geographic_view.country_criterion_id, metrics.clicks FROM geographic_view WHERE {range}"
            ),
        ] {
            let (rows, ..) = run(&e, "1234567890", &gaql);
            for (i, expected) in grand.iter().enumerate() {
                assert_eq!(total(&rows, i), *expected, "quantity {i} in {gaql}");
            }
        }
        // Keyword rows sum to their ad groups; ad rows to theirs.
        let (ag, ..) = run(
            &e,
            "1234567890",
            &format!("SELECT ad_group.id, metrics.clicks FROM ad_group WHERE {range}"),
        );
        let (kw, ..) = run(
            &e,
            "1234567890",
            &format!("SELECT ad_group.id, metrics.clicks FROM keyword_view WHERE {range}"),
        );
        let (ads, ..) = run(
            &e,
            "1234567890",
            &format!(
                "SELECT ad_group.id, metrics.clicks, segments.device FROM ad_group_ad WHERE {range}"
            ),
        );
        assert_eq!(total(&ads, model::CLICKS), total(&ag, model::CLICKS));
        assert!(total(&kw, model::CLICKS) < total(&ag, model::CLICKS));
    }

    #[test]
    fn stable_and_plausible() {
        let e = env();
        let gaql = "SELECT campaign.name, metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions FROM campaign WHERE segments.date DURING LAST_30_DAYS";
        let (a, ..) = run(&e, "1234567890", gaql);
        let (b, ..) = run(&e, "1234567890", gaql);
        assert_eq!(
            a.iter().map(|r| r.q).collect::<Vec<_>>(),
            b.iter().map(|r| r.q).collect::<Vec<_>>()
        );
        let clicks = total(&a, model::CLICKS) as f64;
        let impr = total(&a, model::IMPR) as f64;
        let conv = total(&a, model::CONV) as f64 / 100.0;
        let ctr = clicks / impr;
        assert!((0.01..=0.08).contains(&ctr), "ctr {ctr}");
        assert!(
            (0.02..=0.06).contains(&(conv / clicks)),
            "cr {}",
            conv / clicks
        );
        // Paused/removed campaigns have no recent data.
        assert!(a.len() >= 5 && a.len() <= 6, "{}", a.len());
        // Daily budgets cover the average daily spend.
        let (_, _, acc) = run(&e, "1234567890", gaql);
        for r in &a {
            let c = &acc.campaigns[r.ent.campaign.unwrap() as usize];
            let daily = r.q.unwrap()[model::COST] / 30;
            assert!(
                daily < c.budget_micros,
                "{}: {daily} vs {}",
                c.name,
                c.budget_micros
            );
        }
    }

    #[test]
    fn follows_ga4_google_cpc_sessions() {
        let e = env();
        let (rows, cust, acc) = run(
            &e,
            "1234567890",
            "SELECT segments.date, metrics.clicks FROM customer WHERE segments.date BETWEEN '2026-07-01' AND '2026-10-19'",
        );
        let model = Model::new(&cust, &acc, &e.config);
        let (src, share) = model.ga4.as_ref().unwrap();
        assert!((share - 1.0).abs() < 1e-9);
        assert_eq!(rows.len(), 111);
        for r in &rows {
            let d = r.seg.date.unwrap();
            let sessions = src.cpc_sessions(d);
            let clicks = r.q.unwrap()[model::CLICKS] as f64;
            assert!(
                (clicks / sessions - 1.0).abs() <= 0.2,
                "{d}: {clicks} clicks vs {sessions} sessions"
            );
        }
    }

    #[test]
    fn today_is_partial_and_future_empty() {
        let e = env();
        let (rows, ..) = run(
            &e,
            "1234567890",
            "SELECT segments.date, segments.hour, metrics.clicks FROM customer WHERE segments.date BETWEEN '2026-10-20' AND '2026-10-25'",
        );
        assert!(
            rows.iter()
                .all(|r| r.seg.date == NaiveDate::from_ymd_opt(2026, 10, 20))
        );
        assert!(rows.iter().all(|r| r.seg.hour.unwrap() < 12));
    }

    #[test]
    fn filters_and_listing() {
        let e = env();
        let (rows, cust, acc) = run(
            &e,
            "1234567890",
            "SELECT campaign.id, campaign.status FROM campaign WHERE campaign.status != 'ENABLED'",
        );
        assert_eq!(rows.len(), 2);
        let ctx = Ctx::new(&cust, &acc, &[], rows[0].ent, rows[0].seg, None);
        let q = query::compile(
            &gaql::parse("SELECT campaign.id, campaign.status FROM campaign", true).unwrap(),
            NaiveDate::MIN,
        )
        .unwrap();
        let json = row_json(&q, &ctx);
        assert!(
            json["campaign"]["resourceName"]
                .as_str()
                .unwrap()
                .starts_with("customers/1234567890/campaigns/")
        );
        assert!(json["campaign"]["id"].is_string());
        let (rows, ..) = run(
            &e,
            "1234567890",
            "SELECT search_term_view.search_term, metrics.clicks FROM search_term_view WHERE segments.date DURING LAST_7_DAYS AND metrics.clicks > 3 ORDER BY metrics.clicks DESC",
        );
        assert!(!rows.is_empty());
        assert!(
            rows.windows(2)
                .all(|w| w[0].q.unwrap()[1] >= w[1].q.unwrap()[1])
        );
        assert!(rows.iter().all(|r| r.q.unwrap()[1] > 3));
        // An unlinked customer still gets data.
        let (rows, ..) = run(
            &e,
            "5550001111",
            "SELECT metrics.clicks FROM customer WHERE segments.date DURING YESTERDAY",
        );
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn base64url_matches_rfc4648() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
    }
}
