//! Ad accounts: the `[[meta_ad_accounts]]` fixture (validated while parsing) and the resolved
//! [`Account`] every handler works with. Any `act_<digits>` a token lists works without a
//! fixture entry; missing values are derived from a hash of the id, or taken from the linked
//! GA4 property (time zone, currency) when `ga4_property` is set.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::SandboxConfig;
use crate::ga4::property::{PropertyInfo, currency_per_eur};
use crate::hash::{fnv, mix, range, unit};
use crate::state::Shared;

/// Time zone of accounts without one (and without a GA4 link).
pub const DEFAULT_TIME_ZONE: &str = "Europe/Warsaw";
/// Currency of accounts without one (and without a GA4 link).
pub const DEFAULT_CURRENCY: &str = "EUR";

/// A declared ad account (optional; any account a token lists works without one).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawAdAccountFixture")]
pub struct AdAccountFixture {
    /// `act_<digits>`.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// ISO 4217 currency (default: the linked GA4 property's, else EUR).
    pub currency: Option<String>,
    /// IANA time zone (default: the linked GA4 property's, else Europe/Warsaw).
    pub timezone_name: Option<String>,
    /// Meta's `account_status` (1 active, 2 disabled, 3 unsettled, 7, 8, 9, 100, 101).
    pub account_status: Option<u32>,
    /// Name of the owning Business Manager (default: the account name).
    pub business_name: Option<String>,
    /// GA4 property whose "Paid Social" sessions the account's link clicks follow.
    pub ga4_property: Option<String>,
    /// Average daily link clicks (ignored when `ga4_property` drives them).
    pub daily_link_clicks: Option<u32>,
    /// Average daily spend in the account currency (sets the cost scale).
    pub daily_spend: Option<f64>,
    /// Creation time; there is no data before it.
    pub created_time: Option<DateTime<Utc>>,
}

/// The TOML shape; [`AdAccountFixture`] is this after validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdAccountFixture {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    timezone_name: Option<String>,
    #[serde(default)]
    account_status: Option<u32>,
    #[serde(default)]
    business_name: Option<String>,
    #[serde(default)]
    ga4_property: Option<String>,
    #[serde(default)]
    daily_link_clicks: Option<u32>,
    #[serde(default)]
    daily_spend: Option<f64>,
    #[serde(default)]
    created_time: Option<DateTime<Utc>>,
}

impl TryFrom<RawAdAccountFixture> for AdAccountFixture {
    type Error = String;

    fn try_from(raw: RawAdAccountFixture) -> Result<Self, String> {
        let id = &raw.id;
        if account_digits(id).is_none() {
            return Err(format!(
                "meta_ad_accounts: id `{id}` must look like `act_<digits>`"
            ));
        }
        if let Some(c) = &raw.currency
            && (c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(format!(
                "meta_ad_accounts {id}: currency `{c}` must be three upper-case letters"
            ));
        }
        if let Some(tz) = &raw.timezone_name
            && tz.parse::<Tz>().is_err()
        {
            return Err(format!(
                "meta_ad_accounts {id}: `{tz}` is not an IANA time zone"
            ));
        }
        if let Some(s) = raw.account_status
            && !matches!(s, 1 | 2 | 3 | 7 | 8 | 9 | 100 | 101)
        {
            return Err(format!(
                "meta_ad_accounts {id}: account_status {s} is not one of Meta's (1, 2, 3, 7, 8, 9, 100, 101)"
            ));
        }
        if let Some(p) = &raw.ga4_property
            && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "meta_ad_accounts {id}: ga4_property must be a numeric property id"
            ));
        }
        if raw.daily_link_clicks == Some(0) {
            return Err(format!(
                "meta_ad_accounts {id}: daily_link_clicks must be positive"
            ));
        }
        if let Some(s) = raw.daily_spend
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!(
                "meta_ad_accounts {id}: daily_spend must be positive"
            ));
        }
        Ok(Self {
            id: raw.id,
            name: raw.name,
            currency: raw.currency,
            timezone_name: raw.timezone_name,
            account_status: raw.account_status,
            business_name: raw.business_name,
            ga4_property: raw.ga4_property,
            daily_link_clicks: raw.daily_link_clicks,
            daily_spend: raw.daily_spend,
            created_time: raw.created_time,
        })
    }
}

/// The digits of `act_<digits>`, if it is one.
pub fn account_digits(id: &str) -> Option<&str> {
    id.strip_prefix("act_")
        .filter(|d| !d.is_empty() && d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Rates shaping one account's delivery (all in EUR before currency conversion).
#[derive(Debug, Clone)]
pub struct Profile {
    /// Link clicks per impression.
    pub link_ctr: f64,
    /// All clicks per link click.
    pub clicks_per_link_click: f64,
    /// Cost per 1000 impressions, EUR.
    pub cpm_eur: f64,
    /// Landing page views per link click.
    pub lpv_rate: f64,
    /// Content views per landing page view.
    pub view_content_rate: f64,
    /// Add-to-carts per link click.
    pub add_to_cart_rate: f64,
    /// Checkouts per add-to-cart.
    pub checkout_rate: f64,
    /// Purchases per checkout.
    pub purchase_rate: f64,
    /// Average order value, EUR.
    pub order_value_eur: f64,
    /// Impressions per person and day.
    pub daily_frequency: f64,
    /// Reactions per impression.
    pub reaction_rate: f64,
    /// Video views per impression of a video ad.
    pub video_view_rate: f64,
}

/// One ad account as the sandbox serves it.
#[derive(Debug, Clone)]
pub struct Account {
    /// `act_<digits>`.
    pub id: String,
    /// The digits.
    pub digits: String,
    /// Seed of everything derived.
    pub hash: u64,
    /// Display name.
    pub name: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Currency units per EUR.
    pub money: f64,
    /// Decimal places of the currency (Meta's "offset": 100 for EUR, 1 for JPY).
    pub decimals: u32,
    /// Time zone.
    pub tz: Tz,
    /// Time zone name.
    pub timezone_name: String,
    /// `account_status`.
    pub status: u32,
    /// Business Manager id.
    pub business_id: String,
    /// Business Manager name.
    pub business_name: String,
    /// Linked GA4 property (drives link clicks).
    pub ga4: Option<Arc<PropertyInfo>>,
    /// Average daily link clicks without a GA4 link.
    pub daily_link_clicks: f64,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Delivery rates.
    pub profile: Profile,
}

/// "Today" and the minute of the day in an account's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Local date.
    pub today: NaiveDate,
    /// Minutes since local midnight (12:00 under `--today`).
    pub minute_of_day: u32,
}

impl Account {
    /// Resolves `act_<digits>` against the fixtures (declared or derived).
    pub fn resolve(shared: &Shared, id: &str) -> Option<Self> {
        let digits = account_digits(id)?.to_owned();
        let fixture = shared
            .config
            .fixtures
            .meta_ad_accounts
            .iter()
            .find(|a| a.id == id);
        let hash = fnv(id);
        let ga4 = fixture
            .and_then(|f| f.ga4_property.as_deref())
            .and_then(|p| shared.ga4.get(p));
        let name = fixture
            .and_then(|f| f.name.clone())
            .unwrap_or_else(|| format!("Ad account {digits}"));
        let timezone_name = fixture
            .and_then(|f| f.timezone_name.clone())
            .or_else(|| ga4.as_ref().map(|p| p.time_zone.clone()))
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
        // Validated while parsing; the fallback only covers a GA4 zone chrono-tz lacks.
        let tz: Tz = timezone_name.parse().unwrap_or(chrono_tz::Europe::Warsaw);
        let currency = fixture
            .and_then(|f| f.currency.clone())
            .or_else(|| ga4.as_ref().map(|p| p.currency.clone()))
            .unwrap_or_else(|| DEFAULT_CURRENCY.to_owned());
        let money = currency_per_eur(&currency).unwrap_or(1.0);
        let decimals = if matches!(
            currency.as_str(),
            "JPY" | "KRW" | "CLP" | "ISK" | "VND" | "TWD" | "HUF" | "PYG"
        ) {
            0
        } else {
            2
        };
        let created = fixture
            .and_then(|f| f.created_time)
            .unwrap_or_else(|| derived_created(hash));
        let mut profile = Profile {
            link_ctr: range(mix(&[hash, 11]), 0.008, 0.016),
            clicks_per_link_click: range(mix(&[hash, 12]), 1.35, 1.7),
            cpm_eur: range(mix(&[hash, 13]), 5.0, 11.0),
            lpv_rate: range(mix(&[hash, 14]), 0.72, 0.88),
            view_content_rate: range(mix(&[hash, 15]), 0.55, 0.8),
            add_to_cart_rate: range(mix(&[hash, 16]), 0.05, 0.09),
            checkout_rate: range(mix(&[hash, 17]), 0.38, 0.55),
            purchase_rate: range(mix(&[hash, 18]), 0.42, 0.6),
            order_value_eur: range(mix(&[hash, 19]), 40.0, 120.0),
            daily_frequency: range(mix(&[hash, 20]), 1.05, 1.25),
            reaction_rate: range(mix(&[hash, 21]), 0.002, 0.005),
            video_view_rate: range(mix(&[hash, 22]), 0.03, 0.07),
        };
        let daily_link_clicks = match (fixture.and_then(|f| f.daily_link_clicks), &ga4) {
            (_, Some(p)) => {
                p.profile.base_sessions
                    * super::model::PAID_SOCIAL_SHARE
                    * super::model::CLICKS_PER_SESSION
            }
            (Some(n), None) => f64::from(n),
            (None, None) => 120.0 + (mix(&[hash, 10]) % 780) as f64,
        };
        if let Some(spend) = fixture.and_then(|f| f.daily_spend) {
            // spend = clicks / ctr * cpm / 1000, solved for the CPM (in EUR).
            let impressions = daily_link_clicks / profile.link_ctr;
            profile.cpm_eur = spend / money / impressions.max(1.0) * 1000.0;
        }
        let business_name = fixture
            .and_then(|f| f.business_name.clone())
            .unwrap_or_else(|| name.clone());
        Some(Self {
            id: id.to_owned(),
            business_id: format!(
                "{}",
                100_000_000_000_000 + mix(&[hash, 2]) % 900_000_000_000_000
            ),
            digits,
            hash,
            name,
            currency,
            money,
            decimals,
            tz,
            timezone_name,
            status: fixture.and_then(|f| f.account_status).unwrap_or(1),
            business_name,
            ga4,
            daily_link_clicks,
            created,
            profile,
        })
    }

    /// Today and now for this account: `--today` at 12:00 local, or the real clock.
    pub fn clock(&self, config: &SandboxConfig) -> Clock {
        match config.today {
            Some(today) => Clock {
                today,
                minute_of_day: 12 * 60,
            },
            None => {
                let now = Utc::now().with_timezone(&self.tz);
                Clock {
                    today: now.date_naive(),
                    minute_of_day: now.hour() * 60 + now.minute(),
                }
            }
        }
    }

    /// The local date of the account's creation.
    pub fn created_date(&self) -> NaiveDate {
        self.created.with_timezone(&self.tz).date_naive()
    }

    /// `2026-10-01T09:30:00+0200`: Meta's timestamp format, in the account's zone.
    pub fn timestamp(&self, date: NaiveDate, minute_of_day: u32) -> String {
        let time = NaiveTime::from_num_seconds_from_midnight_opt((minute_of_day % 1440) * 60, 0)
            .unwrap_or_default();
        let local = date.and_time(time);
        let offset = self
            .tz
            .offset_from_utc_datetime(&local)
            .fix()
            .local_minus_utc();
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.unsigned_abs() / 60;
        format!(
            "{}{sign}{:02}{:02}",
            local.format("%Y-%m-%dT%H:%M:%S"),
            offset / 60,
            offset % 60
        )
    }

    /// Hours from UTC now (Meta's `timezone_offset_hours_utc`).
    pub fn offset_hours(&self) -> f64 {
        let secs = self
            .tz
            .offset_from_utc_datetime(&Utc::now().naive_utc())
            .fix()
            .local_minus_utc();
        f64::from(secs) / 3600.0
    }

    /// Minor units → the decimal string Meta prints for money (`"233.17"`).
    pub fn money_string(&self, minor: i64) -> String {
        if self.decimals == 0 {
            return minor.to_string();
        }
        let scale = 10i64.pow(self.decimals);
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let scale_u = scale.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale_u,
            abs % scale_u,
            width = self.decimals as usize
        )
    }

    /// Minor units per major unit (100 for EUR).
    pub fn minor_per_major(&self) -> f64 {
        10f64.powi(self.decimals as i32)
    }

    /// The ISO country most of the audience is in (from the time zone).
    pub fn home_country(&self) -> &'static str {
        match self.timezone_name.as_str() {
            "Europe/Warsaw" => "PL",
            "Europe/Berlin" => "DE",
            "Europe/London" => "GB",
            "Europe/Paris" => "FR",
            "Europe/Amsterdam" => "NL",
            "Europe/Prague" => "CZ",
            "Europe/Madrid" => "ES",
            "Europe/Rome" => "IT",
            "Europe/Vienna" => "AT",
            "Europe/Dublin" => "IE",
            "Europe/Stockholm" => "SE",
            "America/Toronto" => "CA",
            "Australia/Sydney" => "AU",
            tz if tz.starts_with("America/") => "US",
            _ => "PL",
        }
    }
}

/// A creation time between 2019-01-01 and 2022-12-31, stable per id.
fn derived_created(hash: u64) -> DateTime<Utc> {
    let start = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default();
    let day = start + Duration::days((mix(&[hash, 3]) % 1460) as i64);
    let secs = (unit(mix(&[hash, 4])) * 86_399.0) as u32;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or_default();
    Utc.from_utc_datetime(&day.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fixtures;

    fn shared(toml: &str) -> Shared {
        let fixtures = Fixtures::from_toml_str(toml).unwrap();
        Shared::new(SandboxConfig::new(fixtures))
    }

    #[test]
    fn fixture_validation_rejects_bad_values() {
        for bad in [
            "id = \"111\"",
            "id = \"act_1\"\ncurrency = \"eur\"",
            "id = \"act_1\"\ntimezone_name = \"Mars/Olympus\"",
            "id = \"act_1\"\naccount_status = 5",
            "id = \"act_1\"\nga4_property = \"properties/1\"",
            "id = \"act_1\"\ndaily_spend = -3.0",
            "id = \"act_1\"\nbogus = 1",
        ] {
            let text = format!("[[meta_ad_accounts]]\n{bad}\n");
            assert!(Fixtures::from_toml_str(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn declared_and_derived_accounts() {
        let s = shared(
            "[[meta_ad_accounts]]\nid = \"act_1\"\nname = \"Shop\"\ncurrency = \"JPY\"\ntimezone_name = \"Europe/London\"\naccount_status = 2\n",
        );
        let a = Account::resolve(&s, "act_1").unwrap();
        assert_eq!(
            (a.name.as_str(), a.currency.as_str(), a.status),
            ("Shop", "JPY", 2)
        );
        assert_eq!(a.money_string(1234), "1234");
        assert_eq!(a.home_country(), "GB");
        let b = Account::resolve(&s, "act_2").unwrap();
        assert_eq!(b.name, "Ad account 2");
        assert_eq!(b.currency, DEFAULT_CURRENCY);
        assert_eq!(b.money_string(23317), "233.17");
        assert_eq!(b.money_string(5), "0.05");
        assert!((120.0..900.0).contains(&b.daily_link_clicks));
        assert!(Account::resolve(&s, "act_x").is_none());
        assert!(Account::resolve(&s, "123").is_none());
    }

    #[test]
    fn timestamps_use_the_account_zone() {
        let s = shared("[[meta_ad_accounts]]\nid = \"act_1\"\ntimezone_name = \"Europe/Warsaw\"\n");
        let a = Account::resolve(&s, "act_1").unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        assert_eq!(a.timestamp(d, 9 * 60 + 30), "2026-10-01T09:30:00+0200");
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(a.timestamp(d, 0), "2026-12-01T00:00:00+0100");
    }
}
