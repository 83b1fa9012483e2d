//! Tool inputs for `meta-ads-mcp`. Doc comments become the JSON Schema the model reads.

use mcp_common::params::FlexibleId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Delivery states of a campaign (Meta's `Campaign.EffectiveStatus`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CampaignStatus {
    Active,
    Paused,
    Deleted,
    Archived,
    InProcess,
    WithIssues,
}

/// Delivery states of an ad set (Meta's `AdSet.EffectiveStatus`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdSetStatus {
    Active,
    Paused,
    Deleted,
    Archived,
    CampaignPaused,
    InProcess,
    WithIssues,
}

/// Delivery states of an ad (Meta's `Ad.EffectiveStatus`).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdStatus {
    Active,
    Paused,
    Deleted,
    Archived,
    CampaignPaused,
    AdsetPaused,
    PendingReview,
    Disapproved,
    Preapproved,
    PendingBillingInfo,
    InProcess,
    WithIssues,
}

/// Input of the account-level list tools of an edge whose delivery states are `S`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct ListParams<S> {
    /// Ad account (`act_123` or `123`). Optional when the server has a default (the shop's).
    #[serde(default)]
    pub account_id: Option<FlexibleId>,
    /// Only objects in these delivery states, e.g. `["ACTIVE"]`.
    #[serde(default)]
    pub effective_status: Vec<S>,
    /// Fields to return instead of the defaults (Marketing API names, e.g. `daily_budget`).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Objects per page (default 25, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_after` from the previous page.
    #[serde(default)]
    pub after: Option<String>,
}

/// Input of `get_ad_creatives` (a creative has no delivery state).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativeListParams {
    /// Ad account (`act_123` or `123`). Optional when the server has a default (the shop's).
    #[serde(default)]
    pub account_id: Option<FlexibleId>,
    /// Fields to return instead of the defaults (Marketing API names).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Objects per page (default 25, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_after` from the previous page.
    #[serde(default)]
    pub after: Option<String>,
}

/// What every list tool asks, whatever the edge: the delivery states as Meta spells them.
pub struct ListQuery {
    /// Ad account.
    pub account_id: Option<FlexibleId>,
    /// Delivery states (`ACTIVE`, …).
    pub effective_status: Vec<String>,
    /// Fields.
    pub fields: Vec<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub after: Option<String>,
}

impl<S: Serialize> From<ListParams<S>> for ListQuery {
    fn from(p: ListParams<S>) -> Self {
        Self {
            account_id: p.account_id,
            effective_status: p
                .effective_status
                .iter()
                .filter_map(|s| serde_json::to_value(s).ok()?.as_str().map(str::to_owned))
                .collect(),
            fields: p.fields,
            limit: p.limit,
            after: p.after,
        }
    }
}

impl From<CreativeListParams> for ListQuery {
    fn from(p: CreativeListParams) -> Self {
        Self {
            account_id: p.account_id,
            effective_status: Vec::new(),
            fields: p.fields,
            limit: p.limit,
            after: p.after,
        }
    }
}

/// Input of tools that read one object.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectParams {
    /// The object's id (as listed by the matching list tool).
    pub id: FlexibleId,
    /// Fields to return instead of the defaults.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Input of `get_account_info`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountParams {
    /// Ad account (`act_123`); optional when the server has a default.
    #[serde(default)]
    pub account_id: Option<FlexibleId>,
    /// Fields to return instead of the defaults.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Input of `get_ad_accounts`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdAccountsParams {
    /// Accounts per page (default 25, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_after` from the previous page.
    #[serde(default)]
    pub after: Option<String>,
}

/// Aggregation level of insights.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Account,
    Campaign,
    Adset,
    Ad,
}

/// Meta's named date ranges, in the account's time zone.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatePreset {
    Today,
    Yesterday,
    ThisMonth,
    LastMonth,
    ThisQuarter,
    LastQuarter,
    ThisYear,
    LastYear,
    /// Everything.
    Maximum,
    #[serde(rename = "last_3d")]
    Last3d,
    #[serde(rename = "last_7d")]
    Last7d,
    #[serde(rename = "last_14d")]
    Last14d,
    #[serde(rename = "last_28d")]
    Last28d,
    #[serde(rename = "last_30d")]
    Last30d,
    #[serde(rename = "last_90d")]
    Last90d,
    LastWeekMonSun,
    LastWeekSunSat,
    ThisWeekMonToday,
    ThisWeekSunToday,
}

/// Explicit date range.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// First day, YYYY-MM-DD.
    pub since: String,
    /// Last day, YYYY-MM-DD.
    pub until: String,
}

/// Breakdowns Meta supports for insights.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    Age,
    Gender,
    Country,
    Region,
    /// Facebook, Instagram, Audience Network, Messenger.
    PublisherPlatform,
    /// Feed, stories, reels, …
    PlatformPosition,
    /// Mobile app, mobile web, desktop.
    DevicePlatform,
    /// Device model: iphone, android_smartphone, desktop, …
    ImpressionDevice,
}

/// Input of `get_insights`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InsightsParams {
    /// Campaign, ad set or ad id to report on; omit for the whole ad account.
    #[serde(default)]
    pub object_id: Option<FlexibleId>,
    /// Ad account when `object_id` is omitted; optional when the server has a default.
    #[serde(default)]
    pub account_id: Option<FlexibleId>,
    /// Rows per account, campaign, ad set or ad (default: the object's own level).
    #[serde(default)]
    pub level: Option<Level>,
    /// Metrics and attributes (default: spend, impressions, reach, frequency, clicks,
    /// inline_link_clicks, ctr, cpc, cpm, actions, action_values, purchase_roas plus the
    /// level's id and name).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Named range (default last_30d). Ignored when `time_range` is given.
    #[serde(default)]
    pub date_preset: Option<DatePreset>,
    /// Explicit range, e.g. `{"since": "2026-10-01", "until": "2026-10-31"}`.
    #[serde(default)]
    pub time_range: Option<TimeRange>,
    /// Split rows by these (Meta allows only some combinations).
    #[serde(default)]
    pub breakdowns: Vec<Breakdown>,
    /// How `actions` are split (default `action_type`).
    #[serde(default)]
    pub action_breakdowns: Vec<String>,
    /// Days per row: `1` for daily, `7` weekly, up to `90`, `monthly`, or `all_days` (default).
    #[serde(default)]
    pub time_increment: Option<String>,
    /// Rows per page (default 25, max 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_after` from the previous page.
    #[serde(default)]
    pub after: Option<String>,
}
