//! The field catalog shared by GAQL validation and `googleAdsFields:search`: which
//! resources may appear in FROM, which fields each exposes (with data type, enum values and
//! whether it is repeated), which resources are "attributed" to a FROM resource (selectable
//! without segmenting it), and which metrics and segments each resource supports.
//!
//! The catalog is a subset of Google's: a field Google has but the sandbox does not model
//! is answered with `UNRECOGNIZED_FIELD`, exactly like a typo.

/// A resource that may appear in a FROM clause (or whose fields may be selected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Res {
    /// `customer`.
    Customer,
    /// `customer_client` (the MCC hierarchy).
    CustomerClient,
    /// `campaign_budget`.
    CampaignBudget,
    /// `campaign`.
    Campaign,
    /// `ad_group`.
    AdGroup,
    /// `ad_group_ad`.
    AdGroupAd,
    /// `ad_group_criterion` (keywords).
    AdGroupCriterion,
    /// `keyword_view`.
    KeywordView,
    /// `search_term_view`.
    SearchTermView,
    /// `landing_page_view`.
    LandingPageView,
    /// `geographic_view`.
    GeographicView,
}

/// All resources, in catalog order.
pub const RESOURCES: &[Res] = &[
    Res::Customer,
    Res::CustomerClient,
    Res::CampaignBudget,
    Res::Campaign,
    Res::AdGroup,
    Res::AdGroupAd,
    Res::AdGroupCriterion,
    Res::KeywordView,
    Res::SearchTermView,
    Res::LandingPageView,
    Res::GeographicView,
];

impl Res {
    /// GAQL name.
    pub fn name(self) -> &'static str {
        match self {
            Res::Customer => "customer",
            Res::CustomerClient => "customer_client",
            Res::CampaignBudget => "campaign_budget",
            Res::Campaign => "campaign",
            Res::AdGroup => "ad_group",
            Res::AdGroupAd => "ad_group_ad",
            Res::AdGroupCriterion => "ad_group_criterion",
            Res::KeywordView => "keyword_view",
            Res::SearchTermView => "search_term_view",
            Res::LandingPageView => "landing_page_view",
            Res::GeographicView => "geographic_view",
        }
    }

    /// Looks a GAQL resource name up.
    pub fn from_name(name: &str) -> Option<Res> {
        RESOURCES.iter().copied().find(|r| r.name() == name)
    }

    /// Resources whose fields may be selected when this one is in FROM (itself first).
    pub fn attributed(self) -> &'static [Res] {
        use Res::*;
        match self {
            Customer => &[Customer],
            CustomerClient => &[CustomerClient, Customer],
            CampaignBudget => &[CampaignBudget, Customer],
            Campaign => &[Campaign, CampaignBudget, Customer],
            AdGroup => &[AdGroup, Campaign, Customer],
            AdGroupAd => &[AdGroupAd, AdGroup, Campaign, Customer],
            AdGroupCriterion => &[AdGroupCriterion, AdGroup, Campaign, Customer],
            KeywordView => &[KeywordView, AdGroupCriterion, AdGroup, Campaign, Customer],
            SearchTermView => &[SearchTermView, AdGroup, Campaign, Customer],
            LandingPageView => &[LandingPageView, AdGroup, Campaign, Customer],
            GeographicView => &[GeographicView, AdGroup, Campaign, Customer],
        }
    }

    /// Whether metrics may be selected with this resource in FROM.
    pub fn has_metrics(self) -> bool {
        !matches!(self, Res::CustomerClient | Res::AdGroupCriterion)
    }

    /// Whether a metric is available with this resource in FROM.
    pub fn supports_metric(self, f: F) -> bool {
        if !self.has_metrics() {
            return false;
        }
        match f {
            // Impression share is reported for search-type entities only.
            F::MSearchImpressionShare => matches!(
                self,
                Res::Customer | Res::Campaign | Res::AdGroup | Res::KeywordView
            ),
            _ => true,
        }
    }

    /// Whether a segment is available with this resource in FROM.
    pub fn supports_segment(self, f: F) -> bool {
        match self {
            Res::CustomerClient | Res::AdGroupCriterion => false,
            Res::CampaignBudget => matches!(
                f,
                F::SDate | F::SWeek | F::SMonth | F::SQuarter | F::SYear | F::SDayOfWeek
            ),
            Res::SearchTermView => true,
            _ => !matches!(f, F::SKeywordText | F::SKeywordMatchType),
        }
    }

    /// `RESOURCE`-category catalog name in upper snake case (used in error messages).
    pub fn upper(self) -> String {
        self.name().to_ascii_uppercase()
    }
}

/// Category of a catalog entry (`GoogleAdsFieldCategory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A resource.
    Resource,
    /// A field of a resource.
    Attribute,
    /// A segment.
    Segment,
    /// A metric.
    Metric,
}

impl Category {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Resource => "RESOURCE",
            Category::Attribute => "ATTRIBUTE",
            Category::Segment => "SEGMENT",
            Category::Metric => "METRIC",
        }
    }
}

/// Data type of a field (`GoogleAdsFieldDataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Boolean.
    Bool,
    /// `YYYY-MM-DD` date.
    Date,
    /// Double.
    Double,
    /// Enum (string on the wire).
    Enum,
    /// 32-bit integer (number on the wire).
    Int32,
    /// 64-bit integer (string on the wire).
    Int64,
    /// Resource name string.
    ResourceName,
    /// String.
    String,
    /// A resource (catalog entries of category RESOURCE).
    Message,
}

impl DataType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Bool => "BOOLEAN",
            DataType::Date => "DATE",
            DataType::Double => "DOUBLE",
            DataType::Enum => "ENUM",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
            DataType::ResourceName => "RESOURCE_NAME",
            DataType::String => "STRING",
            DataType::Message => "MESSAGE",
        }
    }
}

/// Every field the sandbox models. Variant names mirror the GAQL names listed in
/// [`FIELDS`] (the single place that documents them), so they carry no doc comments.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum F {
    CustomerResourceName,
    CustomerId,
    CustomerDescriptiveName,
    CustomerCurrencyCode,
    CustomerTimeZone,
    CustomerManager,
    CustomerTestAccount,
    CustomerStatus,
    CustomerAutoTagging,
    CcResourceName,
    CcClientCustomer,
    CcLevel,
    CcManager,
    CcDescriptiveName,
    CcCurrencyCode,
    CcTimeZone,
    CcStatus,
    CcHidden,
    CcId,
    CcTestAccount,
    BudgetResourceName,
    BudgetId,
    BudgetName,
    BudgetAmountMicros,
    BudgetDeliveryMethod,
    BudgetPeriod,
    BudgetStatus,
    BudgetExplicitlyShared,
    CampaignResourceName,
    CampaignId,
    CampaignName,
    CampaignStatus,
    CampaignChannelType,
    CampaignBiddingStrategyType,
    CampaignStartDate,
    CampaignEndDate,
    CampaignBudget,
    CampaignServingStatus,
    AdGroupResourceName,
    AdGroupId,
    AdGroupName,
    AdGroupStatus,
    AdGroupType,
    AdGroupCampaign,
    AdGroupCpcBidMicros,
    AdResourceName,
    AdStatus,
    AdId,
    AdName,
    AdType,
    AdFinalUrls,
    AdApprovalStatus,
    AdAdGroup,
    CritResourceName,
    CritId,
    CritKeywordText,
    CritMatchType,
    CritStatus,
    CritType,
    CritNegative,
    CritAdGroup,
    CritQualityScore,
    KvResourceName,
    StvResourceName,
    StvSearchTerm,
    StvStatus,
    StvAdGroup,
    LpvResourceName,
    LpvUnexpandedFinalUrl,
    GvResourceName,
    GvCountryCriterionId,
    GvLocationType,
    MImpressions,
    MClicks,
    MCostMicros,
    MCtr,
    MAverageCpc,
    MAverageCpm,
    MAverageCost,
    MConversions,
    MConversionsValue,
    MAllConversions,
    MCostPerConversion,
    MValuePerConversion,
    MConversionsFromInteractionsRate,
    MSearchImpressionShare,
    MInteractions,
    MInteractionRate,
    SDate,
    SWeek,
    SMonth,
    SQuarter,
    SYear,
    SDayOfWeek,
    SDevice,
    SAdNetworkType,
    SHour,
    SKeywordText,
    SKeywordMatchType,
}

/// One catalog field.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// GAQL name, e.g. `campaign.advertising_channel_type`.
    pub name: &'static str,
    /// Identifier.
    pub id: F,
    /// Owning resource for attributes; `None` for metrics and segments.
    pub resource: Option<Res>,
    /// Category.
    pub category: Category,
    /// Data type.
    pub data_type: DataType,
    /// Enum values (ENUM fields only).
    pub enum_values: &'static [&'static str],
    /// Whether the field is a list.
    pub repeated: bool,
}

/// The part of a field's definition that typing a WHERE condition needs (shared by GAQL
/// fields and GoogleAdsField attributes).
#[derive(Debug, Clone, Copy)]
pub struct FieldType<'a> {
    /// Name as written in queries.
    pub name: &'a str,
    /// Data type.
    pub data_type: DataType,
    /// Enum values (ENUM only).
    pub enum_values: &'a [&'static str],
    /// Whether the field is a list.
    pub repeated: bool,
}

impl FieldDef {
    /// The typing view of the field.
    pub fn ty(&self) -> FieldType<'static> {
        FieldType {
            name: self.name,
            data_type: self.data_type,
            enum_values: self.enum_values,
            repeated: self.repeated,
        }
    }

    /// Whether the field may appear in WHERE.
    pub fn filterable(&self) -> bool {
        true
    }

    /// Whether the field may appear in ORDER BY.
    pub fn sortable(&self) -> bool {
        !self.repeated
    }

    /// The camelCase JSON path, e.g. `adGroupAd.ad.finalUrls`.
    pub fn json_path(&self) -> String {
        self.name
            .split('.')
            .map(camel)
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// `snake_case` → `lowerCamelCase`.
pub fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

const STATUS: &[&str] = &["ENABLED", "PAUSED", "REMOVED"];
const CUSTOMER_STATUS: &[&str] = &["ENABLED", "CANCELED", "SUSPENDED", "CLOSED"];
/// `advertising_channel_type` values.
pub const CHANNELS: &[&str] = &[
    "SEARCH",
    "DISPLAY",
    "SHOPPING",
    "HOTEL",
    "VIDEO",
    "MULTI_CHANNEL",
    "LOCAL",
    "SMART",
    "PERFORMANCE_MAX",
    "LOCAL_SERVICES",
    "TRAVEL",
    "DEMAND_GEN",
];
const BIDDING: &[&str] = &[
    "COMMISSION",
    "ENHANCED_CPC",
    "FIXED_CPM",
    "INVALID",
    "MANUAL_CPA",
    "MANUAL_CPC",
    "MANUAL_CPM",
    "MANUAL_CPV",
    "MAXIMIZE_CONVERSIONS",
    "MAXIMIZE_CONVERSION_VALUE",
    "PAGE_ONE_PROMOTED",
    "PERCENT_CPC",
    "TARGET_CPA",
    "TARGET_CPM",
    "TARGET_CPV",
    "TARGET_IMPRESSION_SHARE",
    "TARGET_OUTRANK_SHARE",
    "TARGET_ROAS",
    "TARGET_SPEND",
];
const SERVING: &[&str] = &["SERVING", "NONE", "ENDED", "PENDING", "SUSPENDED"];
const AD_GROUP_TYPES: &[&str] = &[
    "SEARCH_STANDARD",
    "DISPLAY_STANDARD",
    "SHOPPING_PRODUCT_ADS",
    "HOTEL_ADS",
    "SHOPPING_SMART_ADS",
    "VIDEO_BUMPER",
    "VIDEO_TRUE_VIEW_IN_STREAM",
    "VIDEO_TRUE_VIEW_IN_DISPLAY",
    "VIDEO_NON_SKIPPABLE_IN_STREAM",
    "SEARCH_DYNAMIC_ADS",
    "SHOPPING_COMPARISON_LISTING_ADS",
    "PROMOTED_HOTEL_ADS",
    "VIDEO_RESPONSIVE",
    "VIDEO_EFFICIENT_REACH",
    "SMART_CAMPAIGN_ADS",
    "TRAVEL_ADS",
];
const AD_TYPES: &[&str] = &[
    "TEXT_AD",
    "EXPANDED_TEXT_AD",
    "EXPANDED_DYNAMIC_SEARCH_AD",
    "HOTEL_AD",
    "SHOPPING_SMART_AD",
    "SHOPPING_PRODUCT_AD",
    "VIDEO_AD",
    "IMAGE_AD",
    "RESPONSIVE_SEARCH_AD",
    "LEGACY_RESPONSIVE_DISPLAY_AD",
    "APP_AD",
    "LEGACY_APP_INSTALL_AD",
    "RESPONSIVE_DISPLAY_AD",
    "LOCAL_AD",
    "HTML5_UPLOAD_AD",
    "DYNAMIC_HTML5_AD",
    "APP_ENGAGEMENT_AD",
    "SHOPPING_COMPARISON_LISTING_AD",
    "VIDEO_BUMPER_AD",
    "VIDEO_NON_SKIPPABLE_IN_STREAM_AD",
    "VIDEO_TRUEVIEW_IN_STREAM_AD",
    "VIDEO_RESPONSIVE_AD",
    "SMART_CAMPAIGN_AD",
    "CALL_AD",
    "APP_PRE_REGISTRATION_AD",
    "IN_FEED_VIDEO_AD",
    "DEMAND_GEN_MULTI_ASSET_AD",
    "DEMAND_GEN_CAROUSEL_AD",
    "TRAVEL_AD",
    "DEMAND_GEN_VIDEO_RESPONSIVE_AD",
    "DEMAND_GEN_PRODUCT_AD",
];
const APPROVAL: &[&str] = &[
    "DISAPPROVED",
    "APPROVED_LIMITED",
    "APPROVED",
    "AREA_OF_INTEREST_ONLY",
];
/// Keyword match types.
pub const MATCH_TYPES: &[&str] = &["EXACT", "PHRASE", "BROAD"];
const CRITERION_TYPES: &[&str] = &["KEYWORD", "PLACEMENT", "LOCATION", "AGE_RANGE", "GENDER"];
const SEARCH_TERM_STATUS: &[&str] = &["ADDED", "EXCLUDED", "ADDED_EXCLUDED", "NONE"];
/// Geographic view location types.
pub const LOCATION_TYPES: &[&str] = &["AREA_OF_INTEREST", "LOCATION_OF_PRESENCE"];
const DELIVERY: &[&str] = &["STANDARD", "ACCELERATED"];
const PERIOD: &[&str] = &["DAILY", "CUSTOM_PERIOD"];
const BUDGET_STATUS: &[&str] = &["ENABLED", "REMOVED"];
/// `segments.day_of_week` values, Monday first.
pub const DAYS_OF_WEEK: &[&str] = &[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];
/// `segments.device` values the sandbox produces, in its internal order.
pub const DEVICES: &[&str] = &["MOBILE", "DESKTOP", "TABLET", "CONNECTED_TV", "OTHER"];
/// `segments.ad_network_type` values the sandbox produces, in its internal order.
pub const NETWORKS: &[&str] = &["SEARCH", "SEARCH_PARTNERS", "CONTENT", "YOUTUBE", "MIXED"];
const NETWORK_ENUM: &[&str] = &[
    "SEARCH",
    "SEARCH_PARTNERS",
    "CONTENT",
    "MIXED",
    "YOUTUBE",
    "GOOGLE_TV",
    "GOOGLE_OWNED_CHANNELS",
    "GMAIL",
    "DISCOVER",
    "MAPS",
];

macro_rules! field {
    ($name:expr, $id:ident, $res:ident, $dt:ident) => {
        FieldDef {
            name: $name,
            id: F::$id,
            resource: Some(Res::$res),
            category: Category::Attribute,
            data_type: DataType::$dt,
            enum_values: &[],
            repeated: false,
        }
    };
    ($name:expr, $id:ident, $res:ident, Enum, $values:expr) => {
        FieldDef {
            name: $name,
            id: F::$id,
            resource: Some(Res::$res),
            category: Category::Attribute,
            data_type: DataType::Enum,
            enum_values: $values,
            repeated: false,
        }
    };
}

macro_rules! metric {
    ($name:expr, $id:ident, $dt:ident) => {
        FieldDef {
            name: $name,
            id: F::$id,
            resource: None,
            category: Category::Metric,
            data_type: DataType::$dt,
            enum_values: &[],
            repeated: false,
        }
    };
}

macro_rules! segment {
    ($name:expr, $id:ident, $dt:ident) => {
        FieldDef {
            name: $name,
            id: F::$id,
            resource: None,
            category: Category::Segment,
            data_type: DataType::$dt,
            enum_values: &[],
            repeated: false,
        }
    };
    ($name:expr, $id:ident, Enum, $values:expr) => {
        FieldDef {
            name: $name,
            id: F::$id,
            resource: None,
            category: Category::Segment,
            data_type: DataType::Enum,
            enum_values: $values,
            repeated: false,
        }
    };
}

/// Every field, grouped by resource, then metrics, then segments.
#[rustfmt::skip]
pub const FIELDS: &[FieldDef] = &[
    field!("customer.resource_name", CustomerResourceName, Customer, ResourceName),
    field!("customer.id", CustomerId, Customer, Int64),
    field!("customer.descriptive_name", CustomerDescriptiveName, Customer, String),
    field!("customer.currency_code", CustomerCurrencyCode, Customer, String),
    field!("customer.time_zone", CustomerTimeZone, Customer, String),
    field!("customer.manager", CustomerManager, Customer, Bool),
    field!("customer.test_account", CustomerTestAccount, Customer, Bool),
    field!("customer.status", CustomerStatus, Customer, Enum, CUSTOMER_STATUS),
    field!("customer.auto_tagging_enabled", CustomerAutoTagging, Customer, Bool),
    field!("customer_client.resource_name", CcResourceName, CustomerClient, ResourceName),
    field!("customer_client.client_customer", CcClientCustomer, CustomerClient, ResourceName),
    field!("customer_client.level", CcLevel, CustomerClient, Int64),
    field!("customer_client.manager", CcManager, CustomerClient, Bool),
    field!("customer_client.descriptive_name", CcDescriptiveName, CustomerClient, String),
    field!("customer_client.currency_code", CcCurrencyCode, CustomerClient, String),
    field!("customer_client.time_zone", CcTimeZone, CustomerClient, String),
    field!("customer_client.status", CcStatus, CustomerClient, Enum, CUSTOMER_STATUS),
    field!("customer_client.hidden", CcHidden, CustomerClient, Bool),
    field!("customer_client.id", CcId, CustomerClient, Int64),
    field!("customer_client.test_account", CcTestAccount, CustomerClient, Bool),
    field!("campaign_budget.resource_name", BudgetResourceName, CampaignBudget, ResourceName),
    field!("campaign_budget.id", BudgetId, CampaignBudget, Int64),
    field!("campaign_budget.name", BudgetName, CampaignBudget, String),
    field!("campaign_budget.amount_micros", BudgetAmountMicros, CampaignBudget, Int64),
    field!("campaign_budget.delivery_method", BudgetDeliveryMethod, CampaignBudget, Enum, DELIVERY),
    field!("campaign_budget.period", BudgetPeriod, CampaignBudget, Enum, PERIOD),
    field!("campaign_budget.status", BudgetStatus, CampaignBudget, Enum, BUDGET_STATUS),
    field!("campaign_budget.explicitly_shared", BudgetExplicitlyShared, CampaignBudget, Bool),
    field!("campaign.resource_name", CampaignResourceName, Campaign, ResourceName),
    field!("campaign.id", CampaignId, Campaign, Int64),
    field!("campaign.name", CampaignName, Campaign, String),
    field!("campaign.status", CampaignStatus, Campaign, Enum, STATUS),
    field!("campaign.advertising_channel_type", CampaignChannelType, Campaign, Enum, CHANNELS),
    field!("campaign.bidding_strategy_type", CampaignBiddingStrategyType, Campaign, Enum, BIDDING),
    field!("campaign.start_date", CampaignStartDate, Campaign, Date),
    field!("campaign.end_date", CampaignEndDate, Campaign, Date),
    field!("campaign.campaign_budget", CampaignBudget, Campaign, ResourceName),
    field!("campaign.serving_status", CampaignServingStatus, Campaign, Enum, SERVING),
    field!("ad_group.resource_name", AdGroupResourceName, AdGroup, ResourceName),
    field!("ad_group.id", AdGroupId, AdGroup, Int64),
    field!("ad_group.name", AdGroupName, AdGroup, String),
    field!("ad_group.status", AdGroupStatus, AdGroup, Enum, STATUS),
    field!("ad_group.type", AdGroupType, AdGroup, Enum, AD_GROUP_TYPES),
    field!("ad_group.campaign", AdGroupCampaign, AdGroup, ResourceName),
    field!("ad_group.cpc_bid_micros", AdGroupCpcBidMicros, AdGroup, Int64),
    field!("ad_group_ad.resource_name", AdResourceName, AdGroupAd, ResourceName),
    field!("ad_group_ad.status", AdStatus, AdGroupAd, Enum, STATUS),
    field!("ad_group_ad.ad.id", AdId, AdGroupAd, Int64),
    field!("ad_group_ad.ad.name", AdName, AdGroupAd, String),
    field!("ad_group_ad.ad.type", AdType, AdGroupAd, Enum, AD_TYPES),
    FieldDef { name: "ad_group_ad.ad.final_urls", id: F::AdFinalUrls, resource: Some(Res::AdGroupAd), category: Category::Attribute, data_type: DataType::String, enum_values: &[], repeated: true },
    field!("ad_group_ad.policy_summary.approval_status", AdApprovalStatus, AdGroupAd, Enum, APPROVAL),
    field!("ad_group_ad.ad_group", AdAdGroup, AdGroupAd, ResourceName),
    field!("ad_group_criterion.resource_name", CritResourceName, AdGroupCriterion, ResourceName),
    field!("ad_group_criterion.criterion_id", CritId, AdGroupCriterion, Int64),
    field!("ad_group_criterion.keyword.text", CritKeywordText, AdGroupCriterion, String),
    field!("ad_group_criterion.keyword.match_type", CritMatchType, AdGroupCriterion, Enum, MATCH_TYPES),
    field!("ad_group_criterion.status", CritStatus, AdGroupCriterion, Enum, STATUS),
    field!("ad_group_criterion.type", CritType, AdGroupCriterion, Enum, CRITERION_TYPES),
    field!("ad_group_criterion.negative", CritNegative, AdGroupCriterion, Bool),
    field!("ad_group_criterion.ad_group", CritAdGroup, AdGroupCriterion, ResourceName),
    field!("ad_group_criterion.quality_info.quality_score", CritQualityScore, AdGroupCriterion, Int32),
    field!("keyword_view.resource_name", KvResourceName, KeywordView, ResourceName),
    field!("search_term_view.resource_name", StvResourceName, SearchTermView, ResourceName),
    field!("search_term_view.search_term", StvSearchTerm, SearchTermView, String),
    field!("search_term_view.status", StvStatus, SearchTermView, Enum, SEARCH_TERM_STATUS),
    field!("search_term_view.ad_group", StvAdGroup, SearchTermView, ResourceName),
    field!("landing_page_view.resource_name", LpvResourceName, LandingPageView, ResourceName),
    field!("landing_page_view.unexpanded_final_url", LpvUnexpandedFinalUrl, LandingPageView, String),
    field!("geographic_view.resource_name", GvResourceName, GeographicView, ResourceName),
    field!("geographic_view.country_criterion_id", GvCountryCriterionId, GeographicView, Int64),
    field!("geographic_view.location_type", GvLocationType, GeographicView, Enum, LOCATION_TYPES),
    metric!("metrics.impressions", MImpressions, Int64),
    metric!("metrics.clicks", MClicks, Int64),
    metric!("metrics.cost_micros", MCostMicros, Int64),
    metric!("metrics.ctr", MCtr, Double),
    metric!("metrics.average_cpc", MAverageCpc, Double),
    metric!("metrics.average_cpm", MAverageCpm, Double),
    metric!("metrics.average_cost", MAverageCost, Double),
    metric!("metrics.conversions", MConversions, Double),
    metric!("metrics.conversions_value", MConversionsValue, Double),
    metric!("metrics.all_conversions", MAllConversions, Double),
    metric!("metrics.cost_per_conversion", MCostPerConversion, Double),
    metric!("metrics.value_per_conversion", MValuePerConversion, Double),
    metric!("metrics.conversions_from_interactions_rate", MConversionsFromInteractionsRate, Double),
    metric!("metrics.search_impression_share", MSearchImpressionShare, Double),
    metric!("metrics.interactions", MInteractions, Int64),
    metric!("metrics.interaction_rate", MInteractionRate, Double),
    segment!("segments.date", SDate, Date),
    segment!("segments.week", SWeek, Date),
    segment!("segments.month", SMonth, Date),
    segment!("segments.quarter", SQuarter, Date),
    segment!("segments.year", SYear, Int32),
    segment!("segments.day_of_week", SDayOfWeek, Enum, DAYS_OF_WEEK),
    segment!("segments.device", SDevice, Enum, &["MOBILE", "DESKTOP", "TABLET", "CONNECTED_TV", "OTHER", "UNKNOWN"]),
    segment!("segments.ad_network_type", SAdNetworkType, Enum, NETWORK_ENUM),
    segment!("segments.hour", SHour, Int32),
    segment!("segments.keyword.info.text", SKeywordText, String),
    segment!("segments.keyword.info.match_type", SKeywordMatchType, Enum, MATCH_TYPES),
];

/// Looks a field up by GAQL name.
pub fn field(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.name == name)
}

/// The definition of a field id.
pub fn def(id: F) -> &'static FieldDef {
    // Every `F` has exactly one entry (checked by a unit test); the fallback is unreachable.
    FIELDS.iter().find(|f| f.id == id).unwrap_or(&FIELDS[0])
}

/// Whether a segment is one of the core date segments (filterable without being selected,
/// and requiring a finite date range when selected).
pub fn is_date_segment(id: F) -> bool {
    matches!(id, F::SDate | F::SWeek | F::SMonth | F::SQuarter | F::SYear)
}

/// The pairs (metric, segment) that cannot be combined.
pub fn metric_segment_conflict(metric: F, segment: F) -> bool {
    metric == F::MSearchImpressionShare && segment == F::SHour
}

/// Names of the FROM resources a field can be used with (for `selectableWith`).
pub fn selectable_with(def: &FieldDef) -> Vec<&'static str> {
    let mut out = Vec::new();
    match def.category {
        Category::Attribute => {
            let owner = def.resource;
            for r in RESOURCES {
                if Some(*r) != owner && owner.is_some_and(|o| r.attributed().contains(&o)) {
                    out.push(r.name());
                }
            }
            if let Some(o) = owner {
                for f in FIELDS {
                    if (f.category == Category::Segment && o.supports_segment(f.id))
                        || (f.category == Category::Metric && o.supports_metric(f.id))
                    {
                        out.push(f.name);
                    }
                }
            }
        }
        Category::Metric => {
            for r in RESOURCES {
                if r.supports_metric(def.id) {
                    out.push(r.name());
                }
            }
            for f in FIELDS {
                if f.category == Category::Segment && !metric_segment_conflict(def.id, f.id) {
                    out.push(f.name);
                }
            }
        }
        Category::Segment => {
            for r in RESOURCES {
                if r.supports_segment(def.id) {
                    out.push(r.name());
                }
            }
            for f in FIELDS {
                if f.category == Category::Metric && !metric_segment_conflict(f.id, def.id) {
                    out.push(f.name);
                }
            }
        }
        Category::Resource => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_listed_once_and_named_by_its_resource() {
        let mut seen = std::collections::HashSet::new();
        for f in FIELDS {
            assert!(seen.insert(f.id), "{:?} listed twice", f.id);
            assert_eq!(def(f.id).name, f.name);
            match f.category {
                Category::Attribute => {
                    let r = f.resource.unwrap();
                    assert!(f.name.starts_with(&format!("{}.", r.name())), "{}", f.name);
                }
                Category::Metric => assert!(f.name.starts_with("metrics.")),
                Category::Segment => assert!(f.name.starts_with("segments.")),
                Category::Resource => unreachable!(),
            }
            if f.data_type == DataType::Enum {
                assert!(!f.enum_values.is_empty(), "{}", f.name);
            }
        }
    }

    #[test]
    fn json_paths_are_camel_case() {
        assert_eq!(
            field("metrics.cost_micros").unwrap().json_path(),
            "metrics.costMicros"
        );
        assert_eq!(
            field("ad_group_ad.policy_summary.approval_status")
                .unwrap()
                .json_path(),
            "adGroupAd.policySummary.approvalStatus"
        );
    }

    #[test]
    fn compatibility() {
        assert!(
            Res::KeywordView
                .attributed()
                .contains(&Res::AdGroupCriterion)
        );
        assert!(!Res::Campaign.attributed().contains(&Res::AdGroup));
        assert!(!Res::CustomerClient.has_metrics());
        assert!(!Res::Campaign.supports_segment(F::SKeywordText));
        assert!(Res::SearchTermView.supports_segment(F::SKeywordText));
        assert!(!Res::AdGroupAd.supports_metric(F::MSearchImpressionShare));
        let w = selectable_with(field("campaign.name").unwrap());
        assert!(w.contains(&"ad_group") && w.contains(&"metrics.clicks"));
        assert!(!w.contains(&"customer"));
    }
}
