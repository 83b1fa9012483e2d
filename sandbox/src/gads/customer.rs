//! Google Ads customers: the fixture format ([`CustomerFixture`]), the metadata the sandbox
//! serves for each customer (declared or derived), the manager (MCC) hierarchy, and the
//! access rule of the API: a customer is reachable when the grant lists it, or when it is a
//! client (at any depth) of a manager the grant lists *and* `login-customer-id` names that
//! manager.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use super::error::AdsError;
use crate::SandboxConfig;
use crate::fixtures::Fixtures;
use crate::ga4::property::{PropertyInfo, Registry, currency_per_eur};
use crate::hash::{fnv, mix, range, unit};

/// Deepest manager hierarchy walked (fixtures may contain cycles; the walk also keeps a
/// visited set).
const MAX_DEPTH: i64 = 8;
/// Time zone of customers without declared or linked metadata.
const DEFAULT_TIME_ZONE: &str = "Europe/Warsaw";
/// Currency of customers without declared or linked metadata.
const DEFAULT_CURRENCY: &str = "EUR";

/// A declared Ads customer (optional metadata; any customer a grant lists works with
/// derived defaults). Values are checked when the fixture file is parsed.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "RawCustomerFixture")]
pub struct CustomerFixture {
    /// Ten digits, no dashes (dashes in the file are removed).
    pub id: String,
    /// `customer.descriptive_name`; default: the linked GA4 property's name, else
    /// `Customer <id>`.
    pub descriptive_name: Option<String>,
    /// ISO 4217 code; default: the linked GA4 property's currency, else EUR.
    pub currency_code: Option<String>,
    /// IANA zone; default: the linked GA4 property's zone, else Europe/Warsaw.
    pub time_zone: Option<String>,
    /// Whether this is a manager (MCC) account: no campaigns, no metrics, has clients.
    pub manager: bool,
    /// Client customer ids of a manager (reachable with `login-customer-id: <manager>`).
    pub clients: Vec<String>,
    /// `customer.test_account`.
    pub test_account: bool,
    /// `customer.status`: ENABLED (default), CANCELED, SUSPENDED or CLOSED. Anything but
    /// ENABLED answers 403 `CUSTOMER_NOT_ENABLED`.
    pub status: Option<String>,
    /// `customer_client.hidden` when listed under a manager.
    pub hidden: bool,
    /// Average daily clicks of a customer not linked to a GA4 property (linked customers
    /// follow the property's paid-search traffic instead).
    pub daily_clicks: Option<u32>,
    /// First day with data (`"YYYY-MM-DD"`); default: the linked property's creation
    /// date, else derived.
    pub start_date: Option<NaiveDate>,
}

/// The on-disk form of [`CustomerFixture`], before validation.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomerFixture {
    id: String,
    #[serde(default)]
    descriptive_name: Option<String>,
    #[serde(default)]
    currency_code: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    manager: bool,
    #[serde(default)]
    clients: Vec<String>,
    #[serde(default)]
    test_account: bool,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    daily_clicks: Option<u32>,
    #[serde(default)]
    start_date: Option<NaiveDate>,
}

/// Removes dashes and checks for exactly ten digits.
pub fn normalize_id(id: &str) -> Option<String> {
    let digits: String = id.chars().filter(|c| *c != '-').collect();
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

impl TryFrom<RawCustomerFixture> for CustomerFixture {
    type Error = String;

    fn try_from(raw: RawCustomerFixture) -> Result<Self, String> {
        let id = normalize_id(&raw.id).ok_or_else(|| {
            format!(
                "ads_customers id `{}` must be a 10-digit Google Ads customer id",
                raw.id
            )
        })?;
        if let Some(tz) = &raw.time_zone
            && tz.parse::<Tz>().is_err()
        {
            return Err(format!(
                "ads_customers {id}: `{tz}` is not an IANA time zone"
            ));
        }
        if let Some(code) = &raw.currency_code
            && (code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(format!(
                "ads_customers {id}: currency_code must be three upper-case letters"
            ));
        }
        if let Some(status) = &raw.status
            && !["ENABLED", "CANCELED", "SUSPENDED", "CLOSED"].contains(&status.as_str())
        {
            return Err(format!(
                "ads_customers {id}: status must be ENABLED, CANCELED, SUSPENDED or CLOSED"
            ));
        }
        if !raw.manager && !raw.clients.is_empty() {
            return Err(format!(
                "ads_customers {id}: only a manager (manager = true) has clients"
            ));
        }
        if raw.daily_clicks == Some(0) {
            return Err(format!("ads_customers {id}: daily_clicks must be positive"));
        }
        let mut clients = Vec::with_capacity(raw.clients.len());
        for c in &raw.clients {
            let client = normalize_id(c).ok_or_else(|| {
                format!("ads_customers {id}: client `{c}` must be a 10-digit customer id")
            })?;
            if client == id {
                return Err(format!(
                    "ads_customers {id}: a manager cannot be its own client"
                ));
            }
            clients.push(client);
        }
        Ok(Self {
            id,
            descriptive_name: raw.descriptive_name,
            currency_code: raw.currency_code,
            time_zone: raw.time_zone,
            manager: raw.manager,
            clients,
            test_account: raw.test_account,
            status: raw.status,
            hidden: raw.hidden,
            daily_clicks: raw.daily_clicks,
            start_date: raw.start_date,
        })
    }
}

/// The GA4 property a customer is linked to, and the customer's share of the property's
/// paid Google traffic (a property may link several customers).
#[derive(Debug, Clone)]
pub struct Link {
    /// The property.
    pub prop: Arc<PropertyInfo>,
    /// Share in (0, 1].
    pub share: f64,
}

/// One customer as served.
#[derive(Debug, Clone)]
pub struct CustomerInfo {
    /// Ten digits.
    pub id: String,
    /// Seed of all its data.
    pub hash: u64,
    /// `descriptive_name`.
    pub name: String,
    /// Currency code.
    pub currency: String,
    /// Currency units per EUR (money is modelled in EUR).
    pub money: f64,
    /// IANA zone name.
    pub time_zone: String,
    /// Parsed zone.
    pub tz: Tz,
    /// Manager account.
    pub manager: bool,
    /// Test account.
    pub test_account: bool,
    /// `customer.status`.
    pub status: &'static str,
    /// `customer_client.hidden`.
    pub hidden: bool,
    /// Direct clients (managers only).
    pub clients: Vec<String>,
    /// GA4 link, if any.
    pub link: Option<Link>,
    /// First day with data.
    pub data_start: NaiveDate,
    /// Average daily clicks when not linked.
    pub base_clicks: f64,
    /// Average cost per click, EUR.
    pub cpc_eur: f64,
    /// Average order value, EUR.
    pub aov_eur: f64,
    /// Shop host name for landing pages.
    pub host: String,
    /// Brand word used in brand keywords.
    pub brand: String,
}

/// "Today" and the minute of the day it is "now", in a customer's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Today.
    pub today: NaiveDate,
    /// Minutes since local midnight.
    pub minute_of_day: u32,
}

impl CustomerInfo {
    /// `--today` at 12:00, or the real clock in the customer's zone.
    pub fn clock(&self, config: &SandboxConfig) -> Clock {
        match config.today {
            Some(today) => Clock {
                today,
                minute_of_day: 12 * 60,
            },
            None => {
                let now: DateTime<Tz> = Utc::now().with_timezone(&self.tz);
                Clock {
                    today: now.date_naive(),
                    minute_of_day: now.hour() * 60 + now.minute(),
                }
            }
        }
    }

    /// `customers/<id>`.
    pub fn resource_name(&self) -> String {
        format!("customers/{}", self.id)
    }
}

/// All customers the sandbox knows: declared ones, ones named by a grant, and clients of
/// declared managers.
#[derive(Debug, Default)]
pub struct Directory {
    map: HashMap<String, Arc<CustomerInfo>>,
}

impl Directory {
    /// Builds the directory from the fixtures and the GA4 registry (for links).
    pub fn build(fixtures: &Fixtures, ga4: &Registry) -> Self {
        let declared: HashMap<&str, &CustomerFixture> = fixtures
            .ads_customers
            .iter()
            .map(|c| (c.id.as_str(), c))
            .collect();
        let mut ids: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut add = |id: String, ids: &mut Vec<String>| {
            if seen.insert(id.clone()) {
                ids.push(id);
            }
        };
        for c in &fixtures.ads_customers {
            add(c.id.clone(), &mut ids);
            for client in &c.clients {
                add(client.clone(), &mut ids);
            }
        }
        for g in &fixtures.google_grants {
            for c in &g.ads_customers {
                if let Some(id) = normalize_id(c) {
                    add(id, &mut ids);
                }
            }
        }
        let map = ids
            .into_iter()
            .map(|id| {
                let info = build_one(&id, declared.get(id.as_str()).copied(), fixtures, ga4);
                (id, Arc::new(info))
            })
            .collect();
        Self { map }
    }

    /// Looks a customer up.
    pub fn get(&self, id: &str) -> Option<Arc<CustomerInfo>> {
        self.map.get(id).cloned()
    }

    /// The customer itself (level 0) and every client below it (level 1, 2, …), breadth
    /// first, each once.
    pub fn hierarchy(&self, root: &str) -> Vec<(Arc<CustomerInfo>, i64)> {
        let mut out = Vec::new();
        let mut visited = HashSet::new();
        let mut queue = VecDeque::from([(root.to_string(), 0i64)]);
        while let Some((id, level)) = queue.pop_front() {
            if !visited.insert(id.clone()) {
                continue;
            }
            let Some(info) = self.get(&id) else { continue };
            if info.manager && level < MAX_DEPTH {
                for client in &info.clients {
                    queue.push_back((client.clone(), level + 1));
                }
            }
            out.push((info, level));
        }
        out
    }

    /// Applies the API's access rule; returns the customer on success.
    pub fn authorize(
        &self,
        grant_customers: &[String],
        customer_id: &str,
        login_customer_id: Option<&str>,
    ) -> Result<Arc<CustomerInfo>, AdsError> {
        let direct: Vec<String> = grant_customers
            .iter()
            .filter_map(|c| normalize_id(c))
            .collect();
        let allowed = match login_customer_id {
            None => direct.iter().any(|c| c == customer_id),
            Some(login) => {
                direct.iter().any(|c| c == login)
                    && self
                        .hierarchy(login)
                        .iter()
                        .any(|(c, _)| c.id == customer_id)
            }
        };
        let info = self
            .get(customer_id)
            .filter(|_| allowed)
            .ok_or_else(AdsError::user_permission_denied)?;
        if info.status != "ENABLED" {
            return Err(AdsError::authorization(
                "CUSTOMER_NOT_ENABLED",
                "The customer account can't be accessed because it is not yet enabled or has been deactivated.",
            ));
        }
        Ok(info)
    }
}

fn build_one(
    id: &str,
    declared: Option<&CustomerFixture>,
    fixtures: &Fixtures,
    ga4: &Registry,
) -> CustomerInfo {
    let hash = fnv(&format!("gads:{id}"));
    let manager = declared.is_some_and(|d| d.manager);
    let link = if manager {
        None
    } else {
        find_link(id, fixtures, ga4)
    };
    let prop = link.as_ref().map(|l| l.prop.clone());
    let dashed = format!(
        "{}-{}-{}",
        id.get(0..3).unwrap_or(""),
        id.get(3..6).unwrap_or(""),
        id.get(6..).unwrap_or("")
    );
    let name = declared
        .and_then(|d| d.descriptive_name.clone())
        .or_else(|| prop.as_ref().map(|p| p.display_name.clone()))
        .unwrap_or_else(|| {
            if manager {
                format!("Manager {dashed}")
            } else {
                format!("Customer {dashed}")
            }
        });
    let currency = declared
        .and_then(|d| d.currency_code.clone())
        .or_else(|| prop.as_ref().map(|p| p.currency.clone()))
        .unwrap_or_else(|| DEFAULT_CURRENCY.to_string());
    let time_zone = declared
        .and_then(|d| d.time_zone.clone())
        .or_else(|| prop.as_ref().map(|p| p.time_zone.clone()))
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string());
    // Validated when the fixture was parsed; fall back defensively anyway.
    let tz: Tz = time_zone.parse().unwrap_or(chrono_tz::Europe::Warsaw);
    let status = match declared.and_then(|d| d.status.as_deref()) {
        Some("CANCELED") => "CANCELED",
        Some("SUSPENDED") => "SUSPENDED",
        Some("CLOSED") => "CLOSED",
        _ => "ENABLED",
    };
    let data_start = declared
        .and_then(|d| d.start_date)
        .or_else(|| prop.as_ref().map(|p| p.create_time.date_naive()))
        .unwrap_or_else(|| {
            let base = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default();
            base + chrono::Duration::days((mix(&[hash, 1]) % 1400) as i64)
        });
    let host = prop
        .as_ref()
        .map(|p| p.host_name())
        .unwrap_or_else(|| format!("www.{}.example", slug(&name, id)));
    CustomerInfo {
        id: id.to_string(),
        hash,
        money: currency_per_eur(&currency).unwrap_or(1.0),
        currency,
        time_zone,
        tz,
        manager,
        test_account: declared.is_some_and(|d| d.test_account),
        status,
        hidden: declared.is_some_and(|d| d.hidden),
        clients: declared.map(|d| d.clients.clone()).unwrap_or_default(),
        data_start,
        base_clicks: declared
            .and_then(|d| d.daily_clicks)
            .map(f64::from)
            .unwrap_or_else(|| 120.0 + (mix(&[hash, 2]) % 900) as f64),
        cpc_eur: prop
            .as_ref()
            .map(|p| p.profile.cpc_eur)
            .unwrap_or_else(|| range(mix(&[hash, 3]), 0.2, 0.9)),
        aov_eur: prop
            .as_ref()
            .map(|p| p.profile.order_value_eur)
            .unwrap_or_else(|| range(mix(&[hash, 4]), 40.0, 120.0)),
        host,
        brand: brand(&name),
        name,
        link,
    }
}

/// The first GA4 property (in fixture order) that links the customer, with the customer's
/// share among that property's links.
fn find_link(id: &str, fixtures: &Fixtures, ga4: &Registry) -> Option<Link> {
    let declared = fixtures
        .ga4_properties
        .iter()
        .find(|p| p.google_ads_links.iter().any(|l| l == id))?;
    let prop = ga4.get(&declared.id)?;
    let weight = |c: &str| 0.6 + 0.8 * unit(mix(&[fnv(c), 7]));
    let total: f64 = declared.google_ads_links.iter().map(|c| weight(c)).sum();
    let share = if total > 0.0 { weight(id) / total } else { 1.0 };
    Some(Link { prop, share })
}

fn slug(name: &str, id: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        format!("shop-{id}")
    } else {
        s
    }
}

/// The brand word of a shop name (`Acme Shop` → `acme`).
fn brand(name: &str) -> String {
    let word: String = name
        .split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if word.is_empty() { "shop".into() } else { word }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = r#"
[[google_clients]]
client_id = "c"
client_secret = "s"

[[google_grants]]
name = "g"
refresh_token = "r"
client_id = "c"
ads_customers = ["123-456-7890", "9876543210"]

[[ga4_properties]]
id = "326784853"
display_name = "Acme Shop"
currency_code = "PLN"
google_ads_links = ["1234567890"]

[[ads_customers]]
id = "9876543210"
manager = true
clients = ["1112223334", "5556667778"]

[[ads_customers]]
id = "5556667778"
manager = true
clients = ["9990001112", "9876543210"]

[[ads_customers]]
id = "1112223334"
descriptive_name = "Client One"
status = "ENABLED"
"#;

    fn dir() -> (Directory, Fixtures) {
        let f = Fixtures::from_toml_str(FIX).unwrap();
        let reg = Registry::build(&f);
        (Directory::build(&f, &reg), f)
    }

    #[test]
    fn derived_defaults_follow_the_linked_property() {
        let (d, _) = dir();
        let acme = d.get("1234567890").unwrap();
        assert_eq!(acme.name, "Acme Shop");
        assert_eq!(acme.currency, "PLN");
        assert_eq!(acme.brand, "acme");
        assert!(acme.link.is_some());
        assert_eq!(acme.host, "www.acme-shop.example");
        let client = d.get("9990001112").unwrap();
        assert_eq!(client.name, "Customer 999-000-1112");
        assert_eq!(client.currency, "EUR");
        assert!(client.link.is_none());
    }

    #[test]
    fn hierarchy_is_breadth_first_and_cycle_safe() {
        let (d, _) = dir();
        let h: Vec<(String, i64)> = d
            .hierarchy("9876543210")
            .into_iter()
            .map(|(c, l)| (c.id.clone(), l))
            .collect();
        assert_eq!(
            h,
            vec![
                ("9876543210".into(), 0),
                ("1112223334".into(), 1),
                ("5556667778".into(), 1),
                ("9990001112".into(), 2),
            ]
        );
    }

    #[test]
    fn access_rules() {
        let (d, f) = dir();
        let grant = &f.google_grants[0].ads_customers;
        assert!(d.authorize(grant, "1234567890", None).is_ok());
        let denied = d.authorize(grant, "1112223334", None).unwrap_err();
        assert_eq!(
            denied.code().as_deref(),
            Some("authorizationError:USER_PERMISSION_DENIED")
        );
        assert!(d.authorize(grant, "1112223334", Some("9876543210")).is_ok());
        assert!(d.authorize(grant, "9990001112", Some("9876543210")).is_ok());
        assert!(
            d.authorize(grant, "1112223334", Some("1234567890"))
                .is_err()
        );
        assert!(
            d.authorize(grant, "1112223334", Some("5556667778"))
                .is_err()
        );
        assert!(d.authorize(grant, "0000000000", None).is_err());
    }

    #[test]
    fn fixture_validation() {
        let bad = |extra: &str| {
            let text = format!("[[ads_customers]]\n{extra}\n");
            Fixtures::from_toml_str(&text).is_err()
        };
        assert!(bad("id = \"12\""));
        assert!(bad("id = \"1234567890\"\ntime_zone = \"Mars/Base\""));
        assert!(bad("id = \"1234567890\"\ncurrency_code = \"pln\""));
        assert!(bad("id = \"1234567890\"\nclients = [\"1112223334\"]"));
        assert!(bad("id = \"1234567890\"\nstatus = \"ACTIVE\""));
        assert!(bad("id = \"1234567890\"\ncolour = \"red\""));
        assert!(!bad(
            "id = \"123-456-7890\"\nstart_date = \"2024-01-01\"\ndaily_clicks = 50"
        ));
        assert!(bad("id = \"1234567890\"\nstart_date = \"2024-13-01\""));
    }
}
