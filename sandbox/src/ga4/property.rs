//! GA4 property metadata (declared in fixtures or derived from the id) and the per-property
//! "profile" of rates that drives the synthetic data.
//!
//! Everything here is a pure function of the fixture and the property id, so two sandboxes
//! loaded with the same fixture serve identical numbers.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::SandboxConfig;
use crate::fixtures::{CustomDimensionFixture, CustomMetricFixture, Fixtures};
use crate::hash::{fnv, mix, range, unit};

/// Time zone of properties without declared metadata.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Warsaw";
/// Currency of properties without declared metadata.
pub const DEFAULT_CURRENCY: &str = "EUR";

/// Rates and scales that shape one property's data.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Average daily sessions before seasonality.
    pub base_sessions: f64,
    /// Engagement rate (0-1).
    pub engagement_rate: f64,
    /// Page views per session.
    pub views_per_session: f64,
    /// Sessions per active user.
    pub sessions_per_user: f64,
    /// New users / active users.
    pub new_user_ratio: f64,
    /// Average session duration, seconds.
    pub avg_session_seconds: f64,
    /// `view_item` events per session.
    pub item_view_rate: f64,
    /// `add_to_cart` events per session.
    pub add_to_cart_rate: f64,
    /// `begin_checkout` events per session.
    pub checkout_rate: f64,
    /// Purchases per session.
    pub purchase_rate: f64,
    /// Average order value in EUR before currency conversion.
    pub order_value_eur: f64,
    /// `generate_lead` events per session.
    pub lead_rate: f64,
    /// Yearly growth (e.g. 0.1 = +10 %/year).
    pub trend: f64,
    /// Paid-search click-through rate.
    pub ctr: f64,
    /// Paid-search cost per click in EUR.
    pub cpc_eur: f64,
}

/// One GA4 property as the sandbox serves it.
#[derive(Debug, Clone)]
pub struct PropertyInfo {
    /// Numeric id.
    pub id: String,
    /// Stable hash of the id (seed of all data).
    pub hash: u64,
    /// Display name.
    pub display_name: String,
    /// Numeric account id.
    pub account_id: String,
    /// Account display name.
    pub account_name: String,
    /// Reporting time zone.
    pub tz: Tz,
    /// Time zone name as configured.
    pub time_zone: String,
    /// Currency code.
    pub currency: String,
    /// Currency units per EUR (money amounts are modelled in EUR).
    pub money: f64,
    /// Admin API industry category.
    pub industry: String,
    /// Creation time; no data exists before its date.
    pub create_time: DateTime<Utc>,
    /// Last update time.
    pub update_time: DateTime<Utc>,
    /// Linked Google Ads customer ids.
    pub ads_links: Vec<String>,
    /// Custom dimensions.
    pub custom_dimensions: Vec<CustomDimensionFixture>,
    /// Custom metrics.
    pub custom_metrics: Vec<CustomMetricFixture>,
    /// Country most visitors come from (derived from the time zone).
    pub home_country: Option<&'static str>,
    /// Data profile.
    pub profile: Profile,
    /// Scripted incidents on this property's traffic.
    pub incidents: Vec<crate::fixtures::IncidentFixture>,
}

/// The clock of one property: "today" and the minute of the day it is "now".
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Today in the property's time zone.
    pub today: NaiveDate,
    /// Minutes since local midnight.
    pub minute_of_day: u32,
}

impl PropertyInfo {
    /// Today and now for this property: `--today` at 12:00 local, or the real clock.
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

    /// The host name used in page locations, e.g. `www.acme-shop.example`.
    pub fn host_name(&self) -> String {
        let mut slug = String::new();
        for c in self.display_name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            format!("www.property-{}.example", self.id)
        } else {
            format!("www.{slug}.example")
        }
    }

    /// Whether Google Ads cost data flows into this property.
    pub fn has_ads(&self) -> bool {
        !self.ads_links.is_empty()
    }
}

/// All known properties.
#[derive(Debug, Default)]
pub struct Registry {
    map: HashMap<String, Arc<PropertyInfo>>,
}

impl Registry {
    /// Builds metadata for every declared property and every property named in a grant.
    pub fn build(fixtures: &Fixtures) -> Self {
        let mut map = HashMap::new();
        for declared in &fixtures.ga4_properties {
            map.insert(
                declared.id.clone(),
                Arc::new(build(&declared.id, Some(declared))),
            );
        }
        for grant in &fixtures.google_grants {
            for id in &grant.ga4_properties {
                map.entry(id.clone())
                    .or_insert_with(|| Arc::new(build(id, None)));
            }
        }
        for incident in &fixtures.incidents {
            let entry = map
                .entry(incident.ga4_property.clone())
                .or_insert_with(|| Arc::new(build(&incident.ga4_property, None)));
            Arc::make_mut(entry).incidents.push(incident.clone());
        }
        Self { map }
    }

    /// Looks up a property.
    pub fn get(&self, id: &str) -> Option<Arc<PropertyInfo>> {
        self.map.get(id).cloned()
    }
}

fn build(id: &str, declared: Option<&crate::fixtures::Ga4PropertyFixture>) -> PropertyInfo {
    let hash = fnv(id);
    let account_id = declared
        .and_then(|d| d.account_id.clone())
        .unwrap_or_else(|| (100_000 + mix(&[hash, 1]) % 900_000).to_string());
    let display_name = declared
        .and_then(|d| d.display_name.clone())
        .unwrap_or_else(|| format!("Property {id}"));
    let account_name = declared
        .and_then(|d| d.account_name.clone())
        .unwrap_or_else(|| format!("Account {account_id}"));
    let time_zone = declared
        .and_then(|d| d.time_zone.clone())
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string());
    // Fixture validation already checked the zone; fall back defensively anyway.
    let tz: Tz = time_zone.parse().unwrap_or(chrono_tz::Europe::Warsaw);
    let currency = declared
        .and_then(|d| d.currency_code.clone())
        .unwrap_or_else(|| DEFAULT_CURRENCY.to_string());
    let money = currency_per_eur(&currency).unwrap_or(1.0);
    let create_time = declared
        .and_then(|d| d.create_time)
        .unwrap_or_else(|| derived_create_time(hash));
    let update_time = create_time
        + Duration::days(30 + (mix(&[hash, 3]) % 600) as i64)
        + Duration::seconds((mix(&[hash, 4]) % 86_400) as i64);
    let profile = Profile {
        base_sessions: declared
            .and_then(|d| d.daily_sessions)
            .map(f64::from)
            .unwrap_or_else(|| 800.0 + (mix(&[hash, 10]) % 5200) as f64),
        engagement_rate: range(mix(&[hash, 11]), 0.55, 0.72),
        views_per_session: range(mix(&[hash, 12]), 2.6, 4.8),
        sessions_per_user: range(mix(&[hash, 13]), 1.12, 1.38),
        new_user_ratio: range(mix(&[hash, 14]), 0.62, 0.8),
        avg_session_seconds: range(mix(&[hash, 15]), 95.0, 240.0),
        item_view_rate: range(mix(&[hash, 16]), 0.55, 0.95),
        add_to_cart_rate: range(mix(&[hash, 17]), 0.07, 0.14),
        checkout_rate: range(mix(&[hash, 18]), 0.03, 0.055),
        purchase_rate: range(mix(&[hash, 19]), 0.009, 0.028),
        order_value_eur: range(mix(&[hash, 20]), 38.0, 115.0),
        lead_rate: range(mix(&[hash, 21]), 0.003, 0.012),
        trend: range(mix(&[hash, 22]), -0.04, 0.22),
        ctr: range(mix(&[hash, 23]), 0.025, 0.075),
        cpc_eur: range(mix(&[hash, 24]), 0.18, 0.85),
    };
    let industry = declared
        .and_then(|d| d.industry_category.clone())
        .unwrap_or_else(|| "SHOPPING".to_string());
    PropertyInfo {
        id: id.to_string(),
        hash,
        display_name,
        account_id,
        account_name,
        home_country: home_country(&time_zone),
        tz,
        time_zone,
        currency,
        money,
        industry,
        create_time,
        update_time,
        ads_links: declared
            .map(|d| d.google_ads_links.clone())
            .unwrap_or_default(),
        custom_dimensions: declared
            .map(|d| d.custom_dimensions.clone())
            .unwrap_or_default(),
        custom_metrics: declared
            .map(|d| d.custom_metrics.clone())
            .unwrap_or_default(),
        profile,
        incidents: Vec::new(),
    }
}

/// A creation time between 2019-01-01 and 2022-12-31, stable per id.
fn derived_create_time(hash: u64) -> DateTime<Utc> {
    let start = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default();
    let day = start + Duration::days((mix(&[hash, 2]) % 1460) as i64);
    let secs = (unit(mix(&[hash, 5])) * 86_399.0) as u32;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or_default();
    Utc.from_utc_datetime(&day.and_time(time))
        + Duration::milliseconds((mix(&[hash, 6]) % 1000) as i64)
}

/// Currency units per EUR (fixed, plausible rates; unknown codes yield `None`).
pub fn currency_per_eur(code: &str) -> Option<f64> {
    Some(match code {
        "EUR" => 1.0,
        "PLN" => 4.3,
        "USD" => 1.08,
        "GBP" => 0.85,
        "CHF" => 0.95,
        "CZK" => 25.0,
        "HUF" => 390.0,
        "RON" => 4.97,
        "SEK" => 11.5,
        "NOK" => 11.7,
        "DKK" => 7.46,
        "JPY" => 160.0,
        "CAD" => 1.47,
        "AUD" => 1.63,
        "UAH" => 44.0,
        "BGN" => 1.96,
        "TRY" => 35.0,
        _ => return None,
    })
}

fn home_country(time_zone: &str) -> Option<&'static str> {
    Some(match time_zone {
        "Europe/Warsaw" => "Poland",
        "Europe/Berlin" => "Germany",
        "Europe/London" => "United Kingdom",
        "Europe/Paris" => "France",
        "Europe/Amsterdam" => "Netherlands",
        "Europe/Prague" => "Czechia",
        "Europe/Madrid" => "Spain",
        "Europe/Rome" => "Italy",
        "Europe/Kiev" | "Europe/Kyiv" => "Ukraine",
        "Europe/Stockholm" => "Sweden",
        "Europe/Dublin" => "Ireland",
        "Europe/Vienna" => "Austria",
        "America/Toronto" => "Canada",
        "Australia/Sydney" => "Australia",
        tz if tz.starts_with("America/") && !tz.contains("Toronto") => "United States",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_metadata_is_stable() {
        let a = build("326784853", None);
        let b = build("326784853", None);
        assert_eq!(a.account_id, b.account_id);
        assert_eq!(a.create_time, b.create_time);
        assert_eq!(a.time_zone, DEFAULT_TIME_ZONE);
        assert_eq!(a.currency, DEFAULT_CURRENCY);
        assert!((800.0..6000.0).contains(&a.profile.base_sessions));
        assert_ne!(build("1", None).account_id, a.account_id);
    }

    #[test]
    fn host_names_are_slugs() {
        let mut p = build("5", None);
        p.display_name = "Acme Shop!".into();
        assert_eq!(p.host_name(), "www.acme-shop.example");
    }
}
