//! The GA4 dimension and metric catalog the sandbox supports: API names, UI names,
//! categories, metric types, how each maps onto the data model, and which report kinds
//! (core, realtime, conversions) accept it. The metadata endpoint lists exactly this.

use chrono::{Datelike, NaiveDate, Weekday};

use super::model::{self, Facet};
use super::property::PropertyInfo;

/// Which kind of report a name is resolved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `runReport`, `batchRunReports`, funnels.
    Core,
    /// `runRealtimeReport`.
    Realtime,
    /// v1alpha `runReport` with `conversionSpec` or conversion metrics.
    Conversions,
}

/// Date/time dimensions, derived from the slot's date (and hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeDim {
    /// `YYYYMMDD`.
    Date,
    /// `YYYYMMDDHH`.
    DateHour,
    /// Day of month `01`-`31`.
    Day,
    /// `0` (Sunday) - `6`.
    DayOfWeek,
    /// `Sunday` …
    DayOfWeekName,
    /// `00`-`23`.
    Hour,
    /// ISO week `01`-`53`.
    IsoWeek,
    /// ISO week-numbering year.
    IsoYear,
    /// ISO year + week, `YYYYWW`.
    IsoYearIsoWeek,
    /// Month `01`-`12`.
    Month,
    /// Sunday-based week `01`-`53` (Jan 1 is always week 01).
    Week,
    /// `YYYY`.
    Year,
    /// `YYYYMM`.
    YearMonth,
    /// `YYYY` + Sunday-based week.
    YearWeek,
}

impl TimeDim {
    /// Whether the dimension needs hourly slots.
    pub fn hourly(self) -> bool {
        matches!(self, Self::DateHour | Self::Hour)
    }

    /// The dimension value for a date and hour.
    pub fn value(self, d: NaiveDate, hour: u32) -> String {
        match self {
            Self::Date => d.format("%Y%m%d").to_string(),
            Self::DateHour => format!("{}{hour:02}", d.format("%Y%m%d")),
            Self::Day => format!("{:02}", d.day()),
            Self::DayOfWeek => d.weekday().num_days_from_sunday().to_string(),
            Self::DayOfWeekName => weekday_name(d.weekday()).to_string(),
            Self::Hour => format!("{hour:02}"),
            Self::IsoWeek => format!("{:02}", d.iso_week().week()),
            Self::IsoYear => d.iso_week().year().to_string(),
            Self::IsoYearIsoWeek => format!("{}{:02}", d.iso_week().year(), d.iso_week().week()),
            Self::Month => format!("{:02}", d.month()),
            Self::Week => format!("{:02}", sunday_week(d)),
            Self::Year => d.year().to_string(),
            Self::YearMonth => format!("{}{:02}", d.year(), d.month()),
            Self::YearWeek => format!("{}{:02}", d.year(), sunday_week(d)),
        }
    }
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// GA4's `week`: weeks start on Sunday and January 1st is always in week 01.
fn sunday_week(d: NaiveDate) -> u32 {
    let jan1 = NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d);
    let offset = jan1.weekday().num_days_from_sunday();
    (d.ordinal0() + offset) / 7 + 1
}

/// Where a dimension's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimKind {
    /// A date/time dimension.
    Time(TimeDim),
    /// Realtime `minutesAgo`.
    MinutesAgo,
    /// Column `usize` of a facet.
    Facet(Facet, usize),
}

/// A catalog dimension.
#[derive(Debug)]
pub struct DimDef {
    /// API name.
    pub api: &'static str,
    /// UI name.
    pub ui: &'static str,
    /// Description.
    pub desc: &'static str,
    /// Metadata category.
    pub category: &'static str,
    /// Source.
    pub kind: DimKind,
}

macro_rules! dim {
    ($api:expr, $ui:expr, $cat:expr, $kind:expr, $desc:expr) => {
        DimDef {
            api: $api,
            ui: $ui,
            desc: $desc,
            category: $cat,
            kind: $kind,
        }
    };
}

use DimKind::{Facet as F, Time as T};
use Facet::{Device, FirstTraffic, Geo, Item, Landing, NewVsReturning, Page, Traffic};

/// All standard dimensions.
#[rustfmt::skip]
pub static DIMENSIONS: &[DimDef] = &[
    dim!("date", "Date", "Time", T(TimeDim::Date), "The date of the event, formatted as YYYYMMDD."),
    dim!("dateHour", "Date + hour (YYYYMMDDHH)", "Time", T(TimeDim::DateHour), "The combined values of date and hour formatted as YYYYMMDDHH."),
    dim!("day", "Day", "Time", T(TimeDim::Day), "The day of the month, a two-digit number from 01 to 31."),
    dim!("dayOfWeek", "Day of week", "Time", T(TimeDim::DayOfWeek), "The integer day of the week. Values range from 0 to 6 with Sunday as the first day."),
    dim!("dayOfWeekName", "Day of week name", "Time", T(TimeDim::DayOfWeekName), "The day of the week in English, e.g. Sunday."),
    dim!("hour", "Hour", "Time", T(TimeDim::Hour), "The two-digit hour of the day (00-23) in the property's time zone."),
    dim!("isoWeek", "ISO week of the year", "Time", T(TimeDim::IsoWeek), "ISO week number, where each week starts on Monday."),
    dim!("isoYear", "ISO year", "Time", T(TimeDim::IsoYear), "The ISO year of the event."),
    dim!("isoYearIsoWeek", "ISO week of ISO year", "Time", T(TimeDim::IsoYearIsoWeek), "The combined values of isoWeek and isoYear, formatted as YYYYWW."),
    dim!("month", "Month", "Time", T(TimeDim::Month), "The month of the event, a two-digit integer from 01 to 12."),
    dim!("week", "Week", "Time", T(TimeDim::Week), "The week of the event, a two-digit number from 01 to 53. Each week starts on Sunday. January 1st is always in week 01."),
    dim!("year", "Year", "Time", T(TimeDim::Year), "The four-digit year of the event."),
    dim!("yearMonth", "Month of year", "Time", T(TimeDim::YearMonth), "The combined values of month and year, formatted as YYYYMM."),
    dim!("yearWeek", "Week of year", "Time", T(TimeDim::YearWeek), "The combined values of week and year, formatted as YYYYWW."),
    dim!("sessionDefaultChannelGroup", "Session default channel group", "Traffic source", F(Traffic, 0), "The session's default channel group."),
    dim!("sessionPrimaryChannelGroup", "Session primary channel group", "Traffic source", F(Traffic, 6), "The primary channel group attributed to the session."),
    dim!("sessionSource", "Session source", "Traffic source", F(Traffic, 1), "The source that initiated a session."),
    dim!("sessionMedium", "Session medium", "Traffic source", F(Traffic, 2), "The medium that initiated a session."),
    dim!("sessionSourceMedium", "Session source / medium", "Traffic source", F(Traffic, 3), "The combined values of sessionSource and sessionMedium."),
    dim!("sessionCampaignName", "Session campaign", "Traffic source", F(Traffic, 4), "The marketing campaign name for a session."),
    dim!("sessionSourcePlatform", "Session source platform", "Traffic source", F(Traffic, 5), "The source platform of the session's campaign."),
    dim!("defaultChannelGroup", "Default channel group", "Attribution", F(Traffic, 0), "The key event's default channel group."),
    dim!("primaryChannelGroup", "Primary channel group", "Attribution", F(Traffic, 6), "The primary channel group attributed to the key event."),
    dim!("source", "Source", "Attribution", F(Traffic, 1), "The source attributed to the key event."),
    dim!("medium", "Medium", "Attribution", F(Traffic, 2), "The medium attributed to the key event."),
    dim!("sourceMedium", "Source / medium", "Attribution", F(Traffic, 3), "The combined values of source and medium."),
    dim!("campaignName", "Campaign", "Attribution", F(Traffic, 4), "The name of the marketing campaign."),
    dim!("sourcePlatform", "Source platform", "Attribution", F(Traffic, 5), "The source platform of the key event's campaign."),
    dim!("firstUserDefaultChannelGroup", "First user default channel group", "Traffic source", F(FirstTraffic, 0), "The default channel group that first acquired the user."),
    dim!("firstUserPrimaryChannelGroup", "First user primary channel group", "Traffic source", F(FirstTraffic, 6), "The primary channel group that first acquired the user."),
    dim!("firstUserSource", "First user source", "Traffic source", F(FirstTraffic, 1), "The source that first acquired the user."),
    dim!("firstUserMedium", "First user medium", "Traffic source", F(FirstTraffic, 2), "The medium that first acquired the user."),
    dim!("firstUserSourceMedium", "First user source / medium", "Traffic source", F(FirstTraffic, 3), "The combined values of firstUserSource and firstUserMedium."),
    dim!("firstUserCampaignName", "First user campaign", "Traffic source", F(FirstTraffic, 4), "The campaign that first acquired the user."),
    dim!("firstUserSourcePlatform", "First user source platform", "Traffic source", F(FirstTraffic, 5), "The source platform that first acquired the user."),
    dim!("deviceCategory", "Device category", "Platform / device", F(Device, 0), "The type of device: desktop, tablet, or mobile."),
    dim!("operatingSystem", "Operating system", "Platform / device", F(Device, 1), "The operating systems used by visitors."),
    dim!("browser", "Browser", "Platform / device", F(Device, 2), "The browsers used to view your website."),
    dim!("platform", "Platform", "Platform / device", F(Device, 3), "The platform on which your app or website ran."),
    dim!("platformDeviceCategory", "Platform / device category", "Platform / device", F(Device, 4), "The platform and type of device."),
    dim!("continent", "Continent", "Geography", F(Geo, 0), "The continent from which the user activity originated."),
    dim!("continentId", "Continent ID", "Geography", F(Geo, 1), "The geographic ID of the continent."),
    dim!("subcontinent", "Subcontinent", "Geography", F(Geo, 2), "The subcontinent from which the user activity originated."),
    dim!("subcontinentCode", "Subcontinent code", "Geography", F(Geo, 3), "The geographic code of the subcontinent."),
    dim!("country", "Country", "Geography", F(Geo, 4), "The country from which the user activity originated."),
    dim!("countryId", "Country ID", "Geography", F(Geo, 5), "The ISO 3166-1 alpha-2 code of the country."),
    dim!("region", "Region", "Geography", F(Geo, 6), "The geographic region from which the user activity originated."),
    dim!("city", "City", "Geography", F(Geo, 7), "The city from which the user activity originated."),
    dim!("cityId", "City ID", "Geography", F(Geo, 8), "The geographic ID of the city."),
    dim!("language", "Language", "Demographics", F(Geo, 9), "The language setting of the user's browser."),
    dim!("languageCode", "Language code", "Demographics", F(Geo, 10), "The language setting (ISO 639) of the user's browser."),
    dim!("pagePath", "Page path", "Page / screen", F(Page, 0), "The portion of the URL between the hostname and query string."),
    dim!("pagePathPlusQueryString", "Page path + query string", "Page / screen", F(Page, 1), "The portion of the URL following the hostname."),
    dim!("pageTitle", "Page title", "Page / screen", F(Page, 2), "The web page titles used on your site."),
    dim!("pageLocation", "Page location", "Page / screen", F(Page, 3), "The protocol, hostname, page path, and query string."),
    dim!("hostName", "Hostname", "Page / screen", F(Page, 4), "The subdomain and domain names of a URL."),
    dim!("unifiedScreenName", "Page title and screen name", "Page / screen", F(Page, 5), "The page title (web) or screen name (app)."),
    dim!("unifiedPagePathScreen", "Page path and screen class", "Page / screen", F(Page, 6), "The page path (web) or screen class (app)."),
    dim!("contentGroup", "Content group", "Page / screen", F(Page, 7), "A category that applies to items of published content."),
    dim!("landingPage", "Landing page", "Page / screen", F(Landing, 0), "The page path associated with the first pageview in a session."),
    dim!("landingPagePlusQueryString", "Landing page + query string", "Page / screen", F(Landing, 1), "The page path + query string of the first pageview in a session."),
    dim!("itemName", "Item name", "Ecommerce", F(Item, 0), "The name of the item."),
    dim!("itemId", "Item ID", "Ecommerce", F(Item, 1), "The ID of the item."),
    dim!("itemCategory", "Item category", "Ecommerce", F(Item, 2), "The hierarchical category in which the item is classified."),
    dim!("itemBrand", "Item brand", "Ecommerce", F(Item, 3), "Brand name of the item."),
    dim!("newVsReturning", "New / returning", "User", F(NewVsReturning, 0), "New users have 0 previous sessions; returning users have 1 or more."),
    dim!("eventName", "Event name", "Event", F(Facet::Event, 0), "The name of the event."),
    dim!("isKeyEvent", "Is key event", "Event", F(Facet::Event, 1), "The string \"true\" if the event is a key event."),
];

/// Realtime dimensions (plus `minutesAgo`).
pub const REALTIME_DIMENSIONS: &[&str] = &[
    "country",
    "countryId",
    "city",
    "cityId",
    "continent",
    "deviceCategory",
    "platform",
    "eventName",
    "unifiedScreenName",
];

/// Dimensions allowed in conversions reports.
pub const CONVERSIONS_DIMENSIONS: &[&str] = &[
    "campaignName",
    "continent",
    "country",
    "defaultChannelGroup",
    "deviceCategory",
    "medium",
    "platform",
    "primaryChannelGroup",
    "source",
    "sourceMedium",
    "sourcePlatform",
    "subcontinent",
];

/// Metric value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MType {
    /// Integer.
    Integer,
    /// Float.
    Float,
    /// Seconds.
    Seconds,
    /// Money in the report currency.
    Currency,
}

impl MType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "TYPE_INTEGER",
            Self::Float => "TYPE_FLOAT",
            Self::Seconds => "TYPE_SECONDS",
            Self::Currency => "TYPE_CURRENCY",
        }
    }
}

/// Report kinds a metric is valid in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Core reports only.
    Core,
    /// Core and realtime.
    CoreAndRealtime,
    /// Core and conversions.
    CoreAndConversions,
    /// Conversions only.
    Conversions,
}

/// A catalog metric.
#[derive(Debug)]
pub struct MetricDef {
    /// API name.
    pub api: &'static str,
    /// UI name.
    pub ui: &'static str,
    /// Description.
    pub desc: &'static str,
    /// Metadata category.
    pub category: &'static str,
    /// Value type.
    pub ty: MType,
    /// Older names that still work.
    pub deprecated: &'static [&'static str],
    /// Where it is valid.
    pub scope: Scope,
    /// Computes the value from summed quantities.
    pub eval: fn(&[f64]) -> f64,
}

/// `a / b`, or 0 when `b` is 0 (GA4 reports 0 for undefined ratios).
pub fn div(a: f64, b: f64) -> f64 {
    if b.abs() < 1e-12 { 0.0 } else { a / b }
}

use model::{
    ACTIVE_USERS as AU, AD_CLICKS, AD_COST, AD_IMPRESSIONS, ADD_TO_CARTS as ATC, CHECKOUTS,
    CONV_BY_CONVERSION, CONV_BY_INTERACTION, ENGAGED, ENGAGEMENT_SECONDS, EVENTS, ITEM_VIEWS,
    LEADS, NEW_USERS, PAGE_VIEWS, PURCHASES, REV_BY_CONVERSION, REV_BY_INTERACTION, REVENUE,
    SESSION_SECONDS, SESSIONS, TOTAL_USERS,
};

macro_rules! metric {
    ($api:expr, $ui:expr, $cat:expr, $ty:ident, $scope:ident, $dep:expr, $eval:expr, $desc:expr) => {
        MetricDef {
            api: $api,
            ui: $ui,
            desc: $desc,
            category: $cat,
            ty: MType::$ty,
            deprecated: $dep,
            scope: Scope::$scope,
            eval: $eval,
        }
    };
}

/// All standard metrics.
#[rustfmt::skip]
pub static METRICS: &[MetricDef] = &[
    metric!("activeUsers", "Active users", "User", Integer, CoreAndRealtime, &[], |q| q[AU], "The number of distinct users who visited your site or app."),
    metric!("newUsers", "New users", "User", Integer, Core, &[], |q| q[NEW_USERS].min(q[TOTAL_USERS]), "The number of users who interacted with your site or launched your app for the first time."),
    metric!("totalUsers", "Total users", "User", Integer, Core, &[], |q| q[TOTAL_USERS], "The number of distinct users who have logged at least one event."),
    metric!("sessions", "Sessions", "Session", Integer, Core, &[], |q| q[SESSIONS], "The number of sessions that began on your site or app."),
    metric!("engagedSessions", "Engaged sessions", "Session", Integer, Core, &[], |q| q[ENGAGED].min(q[SESSIONS]), "The number of sessions that lasted longer than 10 seconds, or had a key event, or had 2 or more screen views."),
    metric!("engagementRate", "Engagement rate", "Session", Float, Core, &[], |q| div(q[ENGAGED], q[SESSIONS]).min(1.0), "The percentage of engaged sessions (engaged sessions divided by sessions), returned as a fraction."),
    metric!("bounceRate", "Bounce rate", "Session", Float, Core, &[], |q| if q[SESSIONS] > 0.0 { 1.0 - div(q[ENGAGED], q[SESSIONS]).min(1.0) } else { 0.0 }, "The percentage of sessions that were not engaged, returned as a fraction."),
    metric!("averageSessionDuration", "Average session duration", "Session", Seconds, Core, &[], |q| div(q[SESSION_SECONDS], q[SESSIONS]), "The average duration (in seconds) of users' sessions."),
    metric!("userEngagementDuration", "User engagement", "User", Seconds, Core, &[], |q| q[ENGAGEMENT_SECONDS], "The total amount of time (in seconds) your website or app was in the foreground of users' devices."),
    metric!("sessionsPerUser", "Sessions per user", "Session", Float, Core, &[], |q| div(q[SESSIONS], q[AU]), "The average number of sessions per user."),
    metric!("screenPageViews", "Views", "Page / screen", Integer, CoreAndRealtime, &[], |q| q[PAGE_VIEWS], "The number of app screens or web pages your users viewed."),
    metric!("screenPageViewsPerSession", "Views per session", "Page / screen", Float, Core, &[], |q| div(q[PAGE_VIEWS], q[SESSIONS]), "The number of app screens or web pages your users viewed per session."),
    metric!("screenPageViewsPerUser", "Views per user", "Page / screen", Float, Core, &[], |q| div(q[PAGE_VIEWS], q[AU]), "The number of app screens or web pages your users viewed per active user."),
    metric!("eventCount", "Event count", "Event", Integer, CoreAndRealtime, &[], |q| q[EVENTS], "The count of events."),
    metric!("eventsPerSession", "Events per session", "Event", Float, Core, &[], |q| div(q[EVENTS], q[SESSIONS]), "The average number of events per session."),
    metric!("eventCountPerUser", "Event count per active user", "Event", Float, Core, &[], |q| div(q[EVENTS], q[AU]), "The average number of events per user."),
    metric!("keyEvents", "Key events", "Event", Integer, CoreAndRealtime, &["conversions"], |q| q[PURCHASES] + q[LEADS], "The count of key events."),
    metric!("sessionKeyEventRate", "Session key event rate", "Session", Float, Core, &["sessionConversionRate"], |q| div(q[PURCHASES] * 0.98 + q[LEADS] * 0.95, q[SESSIONS]).min(1.0), "The percentage of sessions in which any key event was triggered."),
    metric!("userKeyEventRate", "User key event rate", "User", Float, Core, &["userConversionRate"], |q| div(q[PURCHASES] * 0.95 + q[LEADS] * 0.93, q[AU]).min(1.0), "The percentage of users who triggered any key event."),
    metric!("transactions", "Transactions", "Ecommerce", Integer, Core, &[], |q| q[PURCHASES], "The count of transaction events with purchase revenue."),
    metric!("ecommercePurchases", "Ecommerce purchases", "Ecommerce", Integer, Core, &[], |q| q[PURCHASES], "The number of times users completed a purchase."),
    metric!("purchaseRevenue", "Purchase revenue", "Revenue", Currency, Core, &[], |q| q[REVENUE], "The sum of revenue from purchases minus refunded transaction revenue."),
    metric!("totalRevenue", "Total revenue", "Revenue", Currency, Core, &[], |q| q[REVENUE], "The sum of revenue from purchases, subscriptions, and advertising."),
    metric!("averagePurchaseRevenue", "Average purchase revenue", "Revenue", Currency, Core, &[], |q| div(q[REVENUE], q[PURCHASES]), "The average purchase revenue in the transaction group of events."),
    metric!("averagePurchaseRevenuePerUser", "Average purchase revenue per active user", "Revenue", Currency, Core, &[], |q| div(q[REVENUE], q[AU]), "The average purchase revenue per active user."),
    metric!("averageRevenuePerUser", "ARPU", "Revenue", Currency, Core, &[], |q| div(q[REVENUE], q[AU]), "Average revenue per active user."),
    metric!("totalPurchasers", "Total purchasers", "Ecommerce", Integer, Core, &[], |q| q[PURCHASES] * 0.93, "The number of users that logged purchase events."),
    metric!("firstTimePurchasers", "First time purchasers", "Ecommerce", Integer, Core, &[], |q| q[PURCHASES] * 0.58, "The number of users that completed their first purchase event."),
    metric!("purchaserRate", "Purchaser rate", "Ecommerce", Float, Core, &[], |q| div(q[PURCHASES] * 0.93, q[AU]).min(1.0), "The percentage of active users who made purchase transactions."),
    metric!("addToCarts", "Add to carts", "Ecommerce", Integer, Core, &[], |q| q[ATC], "The number of times users added items to their shopping carts."),
    metric!("checkouts", "Checkouts", "Ecommerce", Integer, Core, &[], |q| q[CHECKOUTS], "The number of times users started the checkout process."),
    metric!("itemsViewed", "Items viewed", "Ecommerce", Integer, Core, &[], |q| q[ITEM_VIEWS] * 1.3, "The number of units viewed for the item."),
    metric!("itemsAddedToCart", "Items added to cart", "Ecommerce", Integer, Core, &[], |q| q[ATC] * 1.15, "The number of units added to cart for the item."),
    metric!("itemsPurchased", "Items purchased", "Ecommerce", Integer, Core, &[], |q| q[PURCHASES] * 1.7, "The number of units for a single item included in purchase events."),
    metric!("itemRevenue", "Item revenue", "Revenue", Currency, Core, &[], |q| q[REVENUE] * 0.93, "The total revenue from purchases minus refunded transaction revenue from items only."),
    metric!("cartToViewRate", "Cart-to-view rate", "Ecommerce", Float, Core, &[], |q| div(q[ATC] * 0.75, q[ITEM_VIEWS] * 0.6).min(1.0), "The number of users who added a product to their cart divided by the number of users who viewed the same product."),
    metric!("purchaseToViewRate", "Purchase-to-view rate", "Ecommerce", Float, Core, &[], |q| div(q[PURCHASES] * 0.98, q[ITEM_VIEWS] * 0.6).min(1.0), "The number of users who purchased a product divided by the number of users who viewed the same product."),
    metric!("advertiserAdClicks", "Ads clicks", "Advertising", Integer, CoreAndConversions, &[], |q| q[AD_CLICKS], "Total number of times users have clicked on an ad to reach the property (linked Google Ads)."),
    metric!("advertiserAdCost", "Ads cost", "Advertising", Currency, CoreAndConversions, &[], |q| q[AD_COST], "The total amount you paid for your ads (linked Google Ads)."),
    metric!("advertiserAdImpressions", "Ads impressions", "Advertising", Integer, CoreAndConversions, &[], |q| q[AD_IMPRESSIONS], "The total number of impressions (linked Google Ads)."),
    metric!("advertiserAdCostPerClick", "Ads cost per click", "Advertising", Currency, CoreAndConversions, &[], |q| div(q[AD_COST], q[AD_CLICKS]), "Ad cost divided by ad clicks."),
    metric!("advertiserAdCostPerKeyEvent", "Cost per key event", "Advertising", Currency, Core, &["advertiserAdCostPerConversion"], |q| div(q[AD_COST], q[PURCHASES] + q[LEADS]), "Ad cost divided by key events."),
    metric!("returnOnAdSpend", "Return on ad spend", "Advertising", Float, Core, &[], |q| div(q[REVENUE], q[AD_COST]), "Total revenue divided by advertiser ad cost."),
    metric!("allConversionsByConversionDate", "All conversions (by conversion time)", "Attribution", Float, Conversions, &[], |q| q[CONV_BY_CONVERSION], "Attributed conversions, credited to the date of the conversion."),
    metric!("allConversionsByInteractionDate", "All conversions (by interaction time)", "Attribution", Float, Conversions, &[], |q| q[CONV_BY_INTERACTION], "Attributed conversions, credited to the date of the ad interaction."),
    metric!("totalRevenueByConversionDate", "Total revenue (by conversion time)", "Attribution", Currency, Conversions, &[], |q| q[REV_BY_CONVERSION], "Attributed revenue, credited to the date of the conversion."),
    metric!("totalRevenueByInteractionDate", "Total revenue (by interaction time)", "Attribution", Currency, Conversions, &[], |q| q[REV_BY_INTERACTION], "Attributed revenue, credited to the date of the ad interaction."),
    metric!("returnOnAdSpendByConversionDate", "ROAS (by conversion time)", "Attribution", Float, Conversions, &[], |q| div(q[REV_BY_CONVERSION], q[AD_COST]), "Attributed revenue by conversion date divided by ad cost."),
    metric!("returnOnAdSpendByInteractionDate", "ROAS (by interaction time)", "Attribution", Float, Conversions, &[], |q| div(q[REV_BY_INTERACTION], q[AD_COST]), "Attributed revenue by interaction date divided by ad cost."),
    metric!("advertiserAdCostPerAllConversionsByConversionDate", "Ads cost per conversion (by conversion time)", "Attribution", Currency, Conversions, &[], |q| div(q[AD_COST], q[CONV_BY_CONVERSION]), "Ad cost divided by conversions by conversion date."),
    metric!("advertiserAdCostPerAllConversionsByInteractionDate", "Ads cost per conversion (by interaction time)", "Attribution", Currency, Conversions, &[], |q| div(q[AD_COST], q[CONV_BY_INTERACTION]), "Ad cost divided by conversions by interaction date."),
];

/// A resolved metric.
#[derive(Debug, Clone, Copy)]
pub enum MetricKind {
    /// Catalog metric.
    Std(&'static MetricDef),
    /// Custom metric `n` of the property.
    Custom(usize),
}

/// The type name of a metric.
pub fn metric_type(kind: MetricKind, prop: &PropertyInfo) -> &'static str {
    match kind {
        MetricKind::Std(def) => def.ty.as_str(),
        MetricKind::Custom(i) => prop
            .custom_metrics
            .get(i)
            .map(|m| m.measurement_unit.metric_type())
            .unwrap_or("TYPE_STANDARD"),
    }
}

/// Evaluates a metric over summed quantities.
pub fn eval_metric(kind: MetricKind, q: &[f64]) -> f64 {
    let v = match kind {
        MetricKind::Std(def) => (def.eval)(q),
        MetricKind::Custom(i) => q.get(model::BASE_Q + i).copied().unwrap_or(0.0),
    };
    if v.is_finite() { v } else { 0.0 }
}

/// Rounds a value the way it is shown for its type.
pub fn round_for(type_name: &str, v: f64) -> f64 {
    match type_name {
        "TYPE_INTEGER" => v.round(),
        "TYPE_CURRENCY" | "TYPE_STANDARD" => (v * 100.0).round() / 100.0,
        _ => v,
    }
}

/// Formats a metric value as GA4 does on the wire (always a string).
pub fn format_value(type_name: &str, v: f64) -> String {
    let v = round_for(type_name, v);
    if !v.is_finite() || v == 0.0 {
        return "0".into();
    }
    if type_name == "TYPE_INTEGER" {
        return format!("{}", v as i64);
    }
    format!("{v}")
}

/// Resolves a dimension name for a property and report kind.
pub fn dimension(name: &str, prop: &PropertyInfo, mode: Mode) -> Option<DimKind> {
    if mode == Mode::Realtime && name == "minutesAgo" {
        return Some(DimKind::MinutesAgo);
    }
    match mode {
        Mode::Realtime if !REALTIME_DIMENSIONS.contains(&name) => return None,
        Mode::Conversions if !CONVERSIONS_DIMENSIONS.contains(&name) => return None,
        _ => {}
    }
    if let Some(def) = DIMENSIONS.iter().find(|d| d.api == name) {
        return Some(def.kind);
    }
    if mode != Mode::Core {
        return None;
    }
    let (prefix, param) = name.split_once(':')?;
    prop.custom_dimensions
        .iter()
        .position(|d| d.scope.api_prefix() == prefix && d.parameter_name == param)
        .map(|i| DimKind::Facet(Facet::Custom(i), 0))
}

/// Resolves a metric name (deprecated aliases included) for a property and report kind.
pub fn metric(name: &str, prop: &PropertyInfo, mode: Mode) -> Option<MetricKind> {
    let def = METRICS
        .iter()
        .find(|m| m.api == name || m.deprecated.contains(&name));
    if let Some(def) = def {
        let ok = match mode {
            Mode::Core => matches!(
                def.scope,
                Scope::Core | Scope::CoreAndRealtime | Scope::CoreAndConversions
            ),
            Mode::Realtime => def.scope == Scope::CoreAndRealtime,
            Mode::Conversions => {
                matches!(def.scope, Scope::Conversions | Scope::CoreAndConversions)
            }
        };
        return ok.then_some(MetricKind::Std(def));
    }
    if mode != Mode::Core {
        return None;
    }
    let param = name.strip_prefix("customEvent:")?;
    prop.custom_metrics
        .iter()
        .position(|m| m.parameter_name == param)
        .map(MetricKind::Custom)
}

/// Whether a metric name belongs to the conversions-only family (triggers conversions mode).
pub fn is_conversions_metric(name: &str) -> bool {
    METRICS
        .iter()
        .any(|m| m.api == name && m.scope == Scope::Conversions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_values() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 4).unwrap(); // a Sunday
        assert_eq!(TimeDim::Date.value(d, 0), "20260104");
        assert_eq!(TimeDim::DateHour.value(d, 7), "2026010407");
        assert_eq!(TimeDim::DayOfWeek.value(d, 0), "0");
        assert_eq!(TimeDim::DayOfWeekName.value(d, 0), "Sunday");
        assert_eq!(TimeDim::YearMonth.value(d, 0), "202601");
        // 2026-01-01 is a Thursday: Jan 1-3 are week 01, Sunday Jan 4 starts week 02.
        assert_eq!(TimeDim::Week.value(d, 0), "02");
        assert_eq!(
            TimeDim::Week.value(NaiveDate::from_ymd_opt(2026, 1, 3).unwrap(), 0),
            "01"
        );
        assert_eq!(TimeDim::IsoYearIsoWeek.value(d, 0), "202601");
    }

    #[test]
    fn formatting() {
        assert_eq!(format_value("TYPE_INTEGER", 41.6), "42");
        assert_eq!(format_value("TYPE_INTEGER", 0.2), "0");
        assert_eq!(format_value("TYPE_CURRENCY", 12.3456), "12.35");
        assert_eq!(format_value("TYPE_FLOAT", 0.5), "0.5");
        assert_eq!(format_value("TYPE_FLOAT", f64::NAN), "0");
    }

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for d in DIMENSIONS {
            assert!(seen.insert(d.api), "{}", d.api);
        }
        for m in METRICS {
            assert!(seen.insert(m.api), "{}", m.api);
            for dep in m.deprecated {
                assert!(seen.insert(dep), "{dep}");
            }
        }
    }
}
