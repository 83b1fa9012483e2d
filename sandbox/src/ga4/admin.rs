//! GA4 Admin API emulation: account summaries, property, Google Ads links, custom
//! dimensions/metrics (v1beta) and reporting data annotations (v1alpha), with Google's
//! `pageSize` / `pageToken` / `nextPageToken` paging.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::property::{Clock, PropertyInfo};
use crate::google::rpc::ApiError;
use crate::hash::{fnv, hex, mix, unhex};

/// Default page size of list methods.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Maximum page size of list methods.
pub const MAX_PAGE_SIZE: usize = 200;

/// One page of a list.
pub struct Page<T> {
    /// Items on this page.
    pub items: Vec<T>,
    /// Token for the next page.
    pub next: Option<String>,
}

/// Pages `items` using Google's `pageSize` / `pageToken` semantics. Tokens are opaque and
/// bound to the list they came from (`kind`).
pub fn paginate<T: Clone>(
    items: &[T],
    page_size: Option<&str>,
    page_token: Option<&str>,
    kind: &str,
) -> Result<Page<T>, ApiError> {
    let size = match page_size.map(str::trim).filter(|s| !s.is_empty()) {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 0 => {
                return Err(ApiError::invalid_argument(format!(
                    "page_size must be non-negative, but was {n}."
                )));
            }
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) => usize::try_from(n)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
            Err(_) => {
                return Err(ApiError::invalid_argument(format!(
                    "Invalid value at 'page_size' (TYPE_INT32), \"{s}\""
                )));
            }
        },
    };
    let offset = match page_token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => decode_token(token, kind)
            .ok_or_else(|| ApiError::invalid_argument(format!("Invalid page token: {token}")))?,
    };
    let end = offset.saturating_add(size).min(items.len());
    let page = items
        .get(offset.min(items.len())..end)
        .unwrap_or(&[])
        .to_vec();
    let next = (end < items.len()).then(|| encode_token(end, kind));
    Ok(Page { items: page, next })
}

fn encode_token(offset: usize, kind: &str) -> String {
    hex(format!("{kind}:{offset}").as_bytes())
}

fn decode_token(token: &str, kind: &str) -> Option<usize> {
    let text = String::from_utf8(unhex(token)?).ok()?;
    let (k, offset) = text.split_once(':')?;
    if k != kind {
        return None;
    }
    offset.parse().ok()
}

/// RFC 3339 with milliseconds and `Z`, as the Admin API prints timestamps.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn with_next(mut body: Map<String, Value>, next: Option<String>) -> Value {
    if let Some(token) = next {
        body.insert("nextPageToken".into(), json!(token));
    }
    Value::Object(body)
}

/// `GET /v1beta/accountSummaries`.
pub fn account_summaries(
    props: &[&PropertyInfo],
    page_size: Option<&str>,
    page_token: Option<&str>,
) -> Result<Value, ApiError> {
    let mut accounts: Vec<(String, String, Vec<&PropertyInfo>)> = Vec::new();
    for p in props {
        match accounts.iter_mut().find(|(id, ..)| *id == p.account_id) {
            Some(a) => a.2.push(p),
            None => accounts.push((p.account_id.clone(), p.account_name.clone(), vec![p])),
        }
    }
    let numeric = |s: &str| (s.len(), s.to_string());
    accounts.sort_by_key(|a| numeric(&a.0));
    let summaries: Vec<Value> = accounts
        .iter_mut()
        .map(|(id, name, props)| {
            props.sort_by_key(|p| numeric(&p.id));
            json!({
                "name": format!("accountSummaries/{id}"),
                "account": format!("accounts/{id}"),
                "displayName": name,
                "propertySummaries": props.iter().map(|p| json!({
                    "property": format!("properties/{}", p.id),
                    "displayName": p.display_name,
                    "propertyType": "PROPERTY_TYPE_ORDINARY",
                    "parent": format!("accounts/{id}"),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let page = paginate(&summaries, page_size, page_token, "accountSummaries")?;
    let mut body = Map::new();
    if !page.items.is_empty() {
        body.insert("accountSummaries".into(), Value::Array(page.items));
    }
    Ok(with_next(body, page.next))
}

/// The Admin API `Property` resource (field order as Google prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyJson<'a> {
    name: String,
    property_type: &'static str,
    create_time: String,
    update_time: String,
    parent: String,
    display_name: &'a str,
    industry_category: &'a str,
    time_zone: &'a str,
    currency_code: &'a str,
    service_level: &'static str,
    account: String,
}

/// `GET /v1beta/properties/{id}`.
pub fn property(p: &PropertyInfo) -> PropertyJson<'_> {
    PropertyJson {
        name: format!("properties/{}", p.id),
        property_type: "PROPERTY_TYPE_ORDINARY",
        create_time: timestamp(p.create_time),
        update_time: timestamp(p.update_time),
        parent: format!("accounts/{}", p.account_id),
        display_name: &p.display_name,
        industry_category: &p.industry,
        time_zone: &p.time_zone,
        currency_code: &p.currency,
        service_level: "GOOGLE_ANALYTICS_STANDARD",
        account: format!("accounts/{}", p.account_id),
    }
}

fn resource_number(p: &PropertyInfo, salt: &str, i: usize) -> u64 {
    1_000_000_000 + mix(&[p.hash, fnv(salt), i as u64]) % 9_000_000_000
}

fn list_body(key: &str, page: Page<Value>) -> Value {
    let mut body = Map::new();
    if !page.items.is_empty() {
        body.insert(key.into(), Value::Array(page.items));
    }
    with_next(body, page.next)
}

/// `GET /v1beta/properties/{id}/googleAdsLinks`.
pub fn google_ads_links(
    p: &PropertyInfo,
    size: Option<&str>,
    token: Option<&str>,
) -> Result<Value, ApiError> {
    let items: Vec<Value> = p
        .ads_links
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let created = p.create_time + chrono::Duration::days(20 + i as i64 * 45);
            json!({
                "name": format!("properties/{}/googleAdsLinks/{}", p.id, resource_number(p, customer, i)),
                "customerId": customer,
                "canManageClients": false,
                "adsPersonalizationEnabled": true,
                "createTime": timestamp(created),
                "updateTime": timestamp(created),
                "creatorEmailAddress": "sandbox-admin@example.com",
            })
        })
        .collect();
    Ok(list_body(
        "googleAdsLinks",
        paginate(&items, size, token, "googleAdsLinks")?,
    ))
}

/// `GET /v1beta/properties/{id}/customDimensions`.
pub fn custom_dimensions(
    p: &PropertyInfo,
    size: Option<&str>,
    token: Option<&str>,
) -> Result<Value, ApiError> {
    let items: Vec<Value> = p
        .custom_dimensions
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut o = Map::new();
            o.insert(
                "name".into(),
                json!(format!(
                    "properties/{}/customDimensions/{}",
                    p.id,
                    resource_number(p, &d.parameter_name, i)
                )),
            );
            o.insert("parameterName".into(), json!(d.parameter_name));
            o.insert("displayName".into(), json!(d.display_name));
            if let Some(desc) = d.description.as_deref().filter(|s| !s.is_empty()) {
                o.insert("description".into(), json!(desc));
            }
            o.insert("scope".into(), json!(d.scope.as_str()));
            Value::Object(o)
        })
        .collect();
    Ok(list_body(
        "customDimensions",
        paginate(&items, size, token, "customDimensions")?,
    ))
}

/// `GET /v1beta/properties/{id}/customMetrics`.
pub fn custom_metrics(
    p: &PropertyInfo,
    size: Option<&str>,
    token: Option<&str>,
) -> Result<Value, ApiError> {
    let items: Vec<Value> = p
        .custom_metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut o = Map::new();
            o.insert(
                "name".into(),
                json!(format!(
                    "properties/{}/customMetrics/{}",
                    p.id,
                    resource_number(p, &m.parameter_name, i)
                )),
            );
            o.insert("parameterName".into(), json!(m.parameter_name));
            o.insert("displayName".into(), json!(m.display_name));
            if let Some(desc) = m.description.as_deref().filter(|s| !s.is_empty()) {
                o.insert("description".into(), json!(desc));
            }
            o.insert("measurementUnit".into(), json!(m.measurement_unit.as_str()));
            o.insert("scope".into(), json!(m.scope.as_str()));
            Value::Object(o)
        })
        .collect();
    Ok(list_body(
        "customMetrics",
        paginate(&items, size, token, "customMetrics")?,
    ))
}

fn date_json(d: NaiveDate) -> Value {
    json!({"year": d.year(), "month": d.month(), "day": d.day()})
}

/// `GET /v1alpha/properties/{id}/reportingDataAnnotations`: a few deterministic annotations
/// placed relative to the property's "today".
pub fn annotations(
    p: &PropertyInfo,
    clock: Clock,
    size: Option<&str>,
    token: Option<&str>,
) -> Result<Value, ApiError> {
    let ago = |days: u64, salt: u64| {
        let jitter = mix(&[p.hash, salt]) % 4;
        clock
            .today
            .checked_sub_days(Days::new(days + jitter))
            .unwrap_or(clock.today)
    };
    let specs: [(&str, &str, &str, Value, bool); 4] = [
        (
            "Data collection change",
            "Consent mode v2 enabled; modelled conversions may shift slightly.",
            "PURPLE",
            json!({"annotationDate": date_json(ago(75, 1))}),
            true,
        ),
        (
            "Autumn sale campaign",
            "Sitewide -20% promotion promoted via paid social and the newsletter.",
            "ORANGE",
            json!({"annotationDateRange": {"startDate": date_json(ago(40, 2)), "endDate": date_json(ago(26, 2))}}),
            false,
        ),
        (
            "Site release: one-page checkout",
            "New one-page checkout rolled out to all visitors.",
            "BLUE",
            json!({"annotationDate": date_json(ago(12, 3))}),
            false,
        ),
        (
            "Newsletter: product launch",
            "Launch newsletter sent to the full subscriber list.",
            "GREEN",
            json!({"annotationDate": date_json(ago(5, 4))}),
            false,
        ),
    ];
    let items: Vec<Value> = specs
        .iter()
        .enumerate()
        .map(|(i, (title, desc, color, when, system))| {
            let mut o = Map::new();
            o.insert(
                "name".into(),
                json!(format!(
                    "properties/{}/reportingDataAnnotations/{}",
                    p.id,
                    resource_number(p, title, i)
                )),
            );
            o.insert("title".into(), json!(title));
            o.insert("description".into(), json!(desc));
            o.insert("color".into(), json!(color));
            if let Value::Object(w) = when {
                for (k, v) in w {
                    o.insert(k.clone(), v.clone());
                }
            }
            if *system {
                o.insert("systemGenerated".into(), json!(true));
            }
            Value::Object(o)
        })
        .collect();
    Ok(list_body(
        "reportingDataAnnotations",
        paginate(&items, size, token, "reportingDataAnnotations")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_walks_all_items() {
        let items: Vec<u32> = (0..7).collect();
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let page = paginate(&items, Some("3"), token.as_deref(), "x").unwrap();
            seen.extend(page.items);
            match page.next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(paginate(&items, Some("-1"), None, "x").is_err());
        assert!(paginate(&items, None, Some("garbage"), "x").is_err());
        let other = paginate(&items, Some("3"), None, "y")
            .unwrap()
            .next
            .unwrap();
        assert!(paginate(&items, None, Some(&other), "x").is_err());
        assert_eq!(
            paginate(&items, Some("1000"), None, "x")
                .unwrap()
                .items
                .len(),
            7
        );
        assert_eq!(
            paginate(&items, Some("abc"), None, "x")
                .err()
                .unwrap()
                .status,
            "INVALID_ARGUMENT"
        );
    }
}
