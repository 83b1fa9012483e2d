//! Checking a tool's arguments and building its API request: property spellings, the rows a
//! query may ask for, inspection URLs inside the property, filter groups.

use mcp_common::params::{Checked, bad};
use serde::Serialize;
use serde_json::{Value, json};

use crate::params::{Filter, Operator};

/// Rows a query returns when the call names no `row_limit`.
pub(crate) const DEFAULT_ROWS: u32 = 100;
/// The most rows one Search Analytics request returns.
pub(crate) const MAX_ROWS: u32 = 25_000;

/// Why `url` cannot be inspected in the property `site`, if it cannot: Google answers such a
/// request with a 403 that reads like missing access. A domain property (`sc-domain:`) holds its
/// domain and every subdomain over http and https; a URL-prefix property holds what starts with
/// its prefix.
pub(crate) fn outside_property(site: &str, url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok();
    let inside = match (site.strip_prefix("sc-domain:"), &parsed) {
        (_, None) => false,
        (Some(domain), Some(u)) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| {
                    let h = h.to_ascii_lowercase();
                    h == domain || h.ends_with(&format!(".{domain}"))
                })
        }
        (None, Some(u)) => url::Url::parse(site)
            .ok()
            .is_some_and(|prefix| u.as_str().starts_with(prefix.as_str())),
    };
    (!inside).then(|| {
        format!(
            "{url} is not part of the Search Console property {site}: a property inspects only its own URLs (sc-domain: covers the domain and its subdomains; a URL-prefix property only URLs under its prefix). Pass a full URL under {site}."
        )
    })
}

/// Checks a property's spelling; the API treats `http://`/`https://`, `www.` and the trailing
/// slash as different properties, so guessing would read the wrong one.
pub(crate) fn check_site(site: &str) -> Checked<String> {
    let s = site.trim();
    if let Some(domain) = s.strip_prefix("sc-domain:") {
        if domain.is_empty() || domain.contains('/') {
            return bad(format!(
                "site_url {site:?}: a domain property is sc-domain:example.com (no scheme, no path)"
            ));
        }
        return Ok(s.to_owned());
    }
    if s.starts_with("https://") || s.starts_with("http://") {
        if !s.ends_with('/') {
            return bad(format!(
                "site_url {site:?}: a URL-prefix property ends with '/' exactly as registered, e.g. {s}/ (call list_properties to see the exact spelling)"
            ));
        }
        return Ok(s.to_owned());
    }
    bad(format!(
        "site_url {site:?} is not a Search Console property: use sc-domain:{site} (domain property) or https://{site}/ (URL prefix); list_properties shows the exact spelling"
    ))
}

pub(crate) fn row_limit(given: Option<u32>) -> Checked<u32> {
    match given {
        None => Ok(DEFAULT_ROWS),
        Some(0) => bad("row_limit must be at least 1"),
        Some(n) if n > MAX_ROWS => bad(format!(
            "row_limit {n} is above the API's maximum of {MAX_ROWS}; page with start_row"
        )),
        Some(n) => Ok(n),
    }
}

pub(crate) fn filter_groups(filters: &[Filter]) -> Vec<Value> {
    if filters.is_empty() {
        return Vec::new();
    }
    let list: Vec<Value> = filters
        .iter()
        .map(|f| {
            json!({
                "dimension": f.dimension.as_str(),
                "operator": serde_json::to_value(f.operator.unwrap_or(Operator::Contains)).unwrap_or(Value::Null),
                "expression": f.expression,
            })
        })
        .collect();
    vec![json!({ "groupType": "and", "filters": list })]
}

pub(crate) fn enum_str<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Dimension;

    #[test]
    fn inspection_stays_inside_the_property() {
        let domain = "sc-domain:acme-shop.example";
        for inside in [
            "https://acme-shop.example/",
            "http://www.acme-shop.example/p?x=1",
            "https://SHOP.Acme-Shop.example/a",
        ] {
            assert_eq!(outside_property(domain, inside), None, "{inside}");
        }
        for outside in [
            "https://other.example/",
            "https://evilacme-shop.example/",
            "ftp://acme-shop.example/",
            "acme-shop.example/page",
        ] {
            let why = outside_property(domain, outside).expect(outside);
            assert!(why.contains("is not part of"), "{why}");
        }
        let prefix = "https://www.acme-shop.example/shop/";
        assert_eq!(
            outside_property(prefix, "https://www.acme-shop.example/shop/item"),
            None
        );
        assert!(outside_property(prefix, "https://www.acme-shop.example/blog/").is_some());
        assert!(outside_property(prefix, "http://www.acme-shop.example/shop/item").is_some());
    }

    #[test]
    fn property_spellings_are_checked_with_a_suggestion() {
        assert_eq!(
            check_site("sc-domain:example.com").unwrap(),
            "sc-domain:example.com"
        );
        assert_eq!(
            check_site("https://www.example.com/").unwrap(),
            "https://www.example.com/"
        );
        assert!(
            check_site("https://www.example.com")
                .unwrap_err()
                .0
                .contains("ends with '/'")
        );
        assert!(
            check_site("example.com")
                .unwrap_err()
                .0
                .contains("sc-domain:example.com")
        );
        assert!(check_site("sc-domain:https://x/").is_err());
    }

    #[test]
    fn filters_become_one_and_group() {
        let f = vec![Filter {
            dimension: Dimension::Country,
            operator: Some(Operator::Equals),
            expression: "pol".into(),
        }];
        assert_eq!(
            filter_groups(&f),
            vec![
                json!({"groupType": "and", "filters": [{"dimension": "country", "operator": "equals", "expression": "pol"}]})
            ]
        );
        assert!(filter_groups(&[]).is_empty());
    }

    #[test]
    fn row_limits() {
        assert_eq!(row_limit(None), Ok(100));
        assert!(row_limit(Some(0)).is_err());
        assert!(row_limit(Some(25_001)).is_err());
    }
}
