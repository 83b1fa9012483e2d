//! Search Console over HTTP: sites, searchAnalytics.query (dimensions, filters, paging, data
//! states), sitemaps, URL Inspection, the v3 error envelope, scopes, counters and the link of
//! daily clicks to GA4's Google organic sessions.
//!
//! The shipped fixtures give acme and bloom only analytics scopes, so most tests start a
//! sandbox whose acme grant also has `webmasters.readonly` and whose bloom grant has
//! `webmasters` (see [`config`]).

use std::collections::{BTreeMap, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};
use upstream_sandbox::SandboxConfig;
use upstream_sandbox::fixtures::GoogleGrant;
use upstream_sandbox::gsc::{PermissionLevel, SiteFixture};

use crate::util::{ACME, CLIENT_ID, Sandbox, example_config};

const ACME_SITE: &str = "sc-domain:acme-shop.example";
const BLOOM_SITE: &str = "https://bloom-florist.example/";
const GSC_ONLY_SITE: &str = "https://www.gsc-only.example/";
const UNVERIFIED_SITE: &str = "https://legacy.gsc-only.example/";
const READONLY: &str = "https://www.googleapis.com/auth/webmasters.readonly";
const FULL: &str = "https://www.googleapis.com/auth/webmasters";

/// Example fixtures plus Search Console scopes on acme/bloom, an unverified site on the
/// gsc-only grant, and a grant that has the scope but no sites.
fn config() -> SandboxConfig {
    let mut c = example_config();
    let grants = &mut c.fixtures.google_grants;
    for g in grants.iter_mut() {
        match g.name.as_deref() {
            Some("acme") => g.scopes.push(READONLY.into()),
            Some("bloom") => g.scopes.push(FULL.into()),
            Some("gsc-only") => g.gsc_sites.push(UNVERIFIED_SITE.into()),
            _ => {}
        }
    }
    grants.push(GoogleGrant {
        name: Some("no-sites".into()),
        refresh_token: "sandbox-refresh-no-sites".into(),
        client_id: CLIENT_ID.into(),
        scopes: vec![READONLY.into()],
        ga4_properties: Vec::new(),
        gsc_sites: Vec::new(),
        ads_customers: Vec::new(),
        revoked: false,
        rotate_refresh_token: false,
    });
    c.fixtures.gsc_sites.push(SiteFixture {
        site_url: UNVERIFIED_SITE.into(),
        permission_level: PermissionLevel::SiteUnverifiedUser,
        daily_clicks: None,
        brand: Vec::new(),
        vertical: None,
        home_country: None,
        ga4_property: None,
        sitemaps: None,
        first_date: None,
    });
    c
}

async fn start() -> Sandbox {
    Sandbox::start_with(config()).await
}

/// A property or sitemap URL as one path segment.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn query_path(site: &str) -> String {
    format!("/webmasters/v3/sites/{}/searchAnalytics/query", enc(site))
}

fn rows(v: &Value) -> Vec<Value> {
    v.get("rows")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn totals(rows: &[Value]) -> (f64, f64) {
    rows.iter().fold((0.0, 0.0), |(c, i), r| {
        (
            c + r["clicks"].as_f64().expect("clicks"),
            i + r["impressions"].as_f64().expect("impressions"),
        )
    })
}

#[tokio::test]
async fn sites_list_and_get() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-gsc-only").await;
    let r = sb
        .http
        .get(sb.url("/webmasters/v3/sites"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"siteEntry": [
            {"siteUrl": GSC_ONLY_SITE, "permissionLevel": "siteOwner"},
            {"siteUrl": UNVERIFIED_SITE, "permissionLevel": "siteUnverifiedUser"},
        ]})
    );
    let (status, v) = sb
        .get(
            &format!("/webmasters/v3/sites/{}", enc(GSC_ONLY_SITE)),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!({"siteUrl": GSC_ONLY_SITE, "permissionLevel": "siteOwner"})
    );

    // No trailing slash, http instead of https, and another grant's site are all foreign.
    for other in [
        "https://www.gsc-only.example",
        "http://www.gsc-only.example/",
        ACME_SITE,
    ] {
        let (status, v) = sb
            .get(&format!("/webmasters/v3/sites/{}", enc(other)), &token)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{other}");
        assert_eq!(
            v["error"]["message"],
            format!(
                "User does not have sufficient permission for site '{other}'. See also: https://support.google.com/webmasters/answer/2451999."
            )
        );
    }

    // Domain properties: the colon may travel unencoded.
    let acme = sb.token("sandbox-refresh-acme").await;
    let (status, v) = sb
        .get("/webmasters/v3/sites/sc-domain:acme-shop.example", &acme)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["siteUrl"], ACME_SITE);

    // A grant without sites gets an empty object (no `siteEntry` key).
    let none = sb.token("sandbox-refresh-no-sites").await;
    let (status, v) = sb.get("/webmasters/v3/sites", &none).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({}));
    sb.stop().await;
}

#[tokio::test]
async fn query_by_each_dimension() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = query_path(ACME_SITE);
    let body = |dims: Value| json!({"startDate": "2026-09-01", "endDate": "2026-09-28", "dimensions": dims, "rowLimit": 25000});
    let (status, total) = sb.post(&path, &token, &body(json!([]))).await;
    assert_eq!(status, StatusCode::OK, "{total}");
    assert_eq!(total["responseAggregationType"], "byProperty");
    let total_rows = rows(&total);
    assert_eq!(total_rows.len(), 1);
    assert!(
        total_rows[0].get("keys").is_none(),
        "no dimensions → no keys"
    );
    let (clicks, impressions) = totals(&total_rows);
    assert!(
        impressions > 10.0 * clicks && clicks > 1000.0,
        "{clicks} {impressions}"
    );
    let ctr = total_rows[0]["ctr"].as_f64().unwrap();
    assert!((ctr - clicks / impressions).abs() < 1e-12);
    let position = total_rows[0]["position"].as_f64().unwrap();
    assert!((1.0..50.0).contains(&position), "{position}");

    type Check = (&'static str, fn(&str) -> bool);
    let checks: [Check; 5] = [
        ("date", |k| k.len() == 10 && k.starts_with("2026-09-")),
        ("query", |k| !k.is_empty() && k == k.to_lowercase()),
        ("page", |k| k.starts_with("https://www.acme-shop.example/")),
        ("country", |k| {
            k.len() == 3 && k.bytes().all(|b| b.is_ascii_lowercase())
        }),
        ("device", |k| ["DESKTOP", "MOBILE", "TABLET"].contains(&k)),
    ];
    for (dim, valid) in checks {
        let (status, v) = sb
            .post(&path, &token, &body(json!([dim.to_uppercase()])))
            .await;
        assert_eq!(status, StatusCode::OK, "{dim}: {v}");
        let rs = rows(&v);
        assert!(!rs.is_empty(), "{dim}");
        for r in &rs {
            let key = r["keys"][0].as_str().unwrap();
            assert!(valid(key), "{dim}: {key}");
            assert!(r["clicks"].as_f64().unwrap() <= r["impressions"].as_f64().unwrap());
        }
        assert_eq!(
            totals(&rs),
            (clicks, impressions),
            "{dim} sums to the total"
        );
        let expected = if dim == "page" {
            "byPage"
        } else {
            "byProperty"
        };
        assert_eq!(v["responseAggregationType"], expected);
    }
    let (_, v) = sb.post(&path, &token, &body(json!(["date"]))).await;
    assert_eq!(rows(&v).len(), 28);
    let (_, v) = sb.post(&path, &token, &body(json!(["country"]))).await;
    assert_eq!(rows(&v)[0]["keys"][0], "pol", "home country leads");

    // Keys follow the request order.
    let (_, v) = sb
        .post(&path, &token, &body(json!(["device", "date"])))
        .await;
    let first = &rows(&v)[0];
    assert!(["DESKTOP", "MOBILE", "TABLET"].contains(&first["keys"][0].as_str().unwrap()));
    assert!(first["keys"][1].as_str().unwrap().starts_with("2026-09-"));

    // Search appearance: alone, product-style values.
    let (status, v) = sb
        .post(&path, &token, &body(json!(["searchAppearance"])))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let apps: HashSet<String> = rows(&v)
        .iter()
        .map(|r| r["keys"][0].as_str().unwrap().to_string())
        .collect();
    assert!(
        apps.contains("PRODUCT_SNIPPETS") && apps.contains("MERCHANT_LISTINGS"),
        "{apps:?}"
    );

    // Other search types are smaller and still consistent.
    let mut image = body(json!([]));
    image["type"] = json!("image");
    let (_, v) = sb.post(&path, &token, &image).await;
    let (img_clicks, img_imp) = totals(&rows(&v));
    assert!(img_clicks < clicks / 5.0 && img_imp > 0.0);
    sb.stop().await;
}

#[tokio::test]
async fn filters() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = query_path(ACME_SITE);
    let q = |filters: Value| {
        json!({"startDate": "2026-09-01", "endDate": "2026-09-28", "dimensions": ["query"], "rowLimit": 25000,
               "dimensionFilterGroups": [{"groupType": "and", "filters": filters}]})
    };
    let (_, all) = sb.post(&path, &token, &q(json!([]))).await;
    let (_, brand) = sb
        .post(
            &path,
            &token,
            &q(json!([{"dimension": "query", "operator": "contains", "expression": "acme"}])),
        )
        .await;
    let (_, generic) = sb
        .post(
            &path,
            &token,
            &q(json!([{"dimension": "query", "operator": "notContains", "expression": "acme"}])),
        )
        .await;
    let (a, b, g) = (
        totals(&rows(&all)),
        totals(&rows(&brand)),
        totals(&rows(&generic)),
    );
    assert_eq!((b.0 + g.0, b.1 + g.1), a, "brand + non-brand = all");
    assert!(b.0 > g.0 * 0.2, "brand traffic is a big share of clicks");
    assert!(
        rows(&brand)
            .iter()
            .all(|r| r["keys"][0].as_str().unwrap().contains("acme"))
    );

    let (status, v) = sb
        .post(
            &path,
            &token,
            &q(json!([
                {"dimension": "query", "operator": "includingRegex", "expression": "^(how|what|are) "},
                {"dimension": "country", "operator": "equals", "expression": "pol"},
                {"dimension": "device", "operator": "notEquals", "expression": "TABLET"},
                {"dimension": "page", "operator": "contains", "expression": "/blogs/"}
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["responseAggregationType"], "byPage",
        "page filter → byPage"
    );
    let rs = rows(&v);
    assert!(!rs.is_empty());
    assert!(rs.iter().all(|r| {
        let k = r["keys"][0].as_str().unwrap();
        k.starts_with("how ") || k.starts_with("what ") || k.starts_with("are ")
    }));
    let (_, v) = sb
        .post(
            &path,
            &token,
            &q(json!([{"dimension": "query", "operator": "excludingRegex", "expression": "."}])),
        )
        .await;
    assert!(v.get("rows").is_none(), "no rows → no `rows` key: {v}");
    assert_eq!(v["responseAggregationType"], "byProperty");
    sb.stop().await;
}

#[tokio::test]
async fn paging_to_the_end() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-gsc-only").await;
    let path = query_path(GSC_ONLY_SITE);
    let body = |start: usize, limit: usize| {
        json!({"startDate": "2026-10-01", "endDate": "2026-10-14", "dimensions": ["query", "page"],
               "startRow": start, "rowLimit": limit})
    };
    let (_, everything) = sb.post(&path, &token, &body(0, 25000)).await;
    let everything = rows(&everything);
    assert!(
        everything.len() > 1000 && everything.len() < 25000,
        "{}",
        everything.len()
    );
    let mut paged = Vec::new();
    let mut start = 0;
    loop {
        let (status, v) = sb.post(&path, &token, &body(start, 500)).await;
        assert_eq!(status, StatusCode::OK);
        let page = rows(&v);
        let n = page.len();
        paged.extend(page);
        if n < 500 {
            break;
        }
        start += 500;
    }
    assert_eq!(paged, everything, "pages concatenate to the full result");
    let keys: HashSet<String> = paged.iter().map(|r| r["keys"].to_string()).collect();
    assert_eq!(keys.len(), paged.len(), "no duplicates");
    for w in paged.windows(2) {
        let c = |r: &Value| {
            (
                r["clicks"].as_f64().unwrap(),
                r["impressions"].as_f64().unwrap(),
            )
        };
        assert!(c(&w[0]) >= c(&w[1]), "clicks, then impressions, descending");
    }
    let (_, past) = sb.post(&path, &token, &body(everything.len(), 500)).await;
    assert!(past.get("rows").is_none());
    // Default rowLimit is 1000.
    let (_, v) = sb
        .post(&path, &token, &json!({"startDate": "2026-10-01", "endDate": "2026-10-14", "dimensions": ["query", "page"]}))
        .await;
    assert_eq!(rows(&v).len(), 1000);
    sb.stop().await;
}

#[tokio::test]
async fn data_state_final_all_and_hourly() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = query_path(ACME_SITE);
    let body = |state: Option<&str>, dims: Value| {
        let mut b = json!({"startDate": "2026-10-01", "endDate": "2026-10-20", "dimensions": dims});
        if let Some(s) = state {
            b["dataState"] = json!(s);
        }
        b
    };
    let dates = |v: &Value| -> Vec<String> {
        let mut d: Vec<String> = rows(v)
            .iter()
            .map(|r| r["keys"][0].as_str().unwrap().to_string())
            .collect();
        d.sort();
        d
    };
    // --today is 2026-10-20: final data ends three days earlier.
    let (_, v) = sb.post(&path, &token, &body(None, json!(["date"]))).await;
    assert_eq!(dates(&v).last().map(String::as_str), Some("2026-10-17"));
    assert!(v.get("metadata").is_none());
    let (_, v) = sb
        .post(&path, &token, &body(Some("all"), json!(["date"])))
        .await;
    assert_eq!(dates(&v).last().map(String::as_str), Some("2026-10-20"));
    assert_eq!(
        v["metadata"],
        json!({"first_incomplete_date": "2026-10-18"})
    );
    let (_, v) = sb
        .post(&path, &token, &body(Some("all"), json!(["query"])))
        .await;
    assert!(v.get("metadata").is_none(), "only when grouped by date");

    let (status, v) = sb
        .post(&path, &token, &body(Some("HOURLY_ALL"), json!(["HOUR"])))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let hours = dates(&v);
    assert_eq!(
        hours.first().map(String::as_str),
        Some("2026-10-11T00:00:00-07:00"),
        "10 days of hours"
    );
    assert_eq!(
        hours.last().map(String::as_str),
        Some("2026-10-20T08:00:00-07:00"),
        "a few hours' delay"
    );
    assert_eq!(
        v["metadata"],
        json!({"first_incomplete_hour": "2026-10-18T00:00:00-07:00"})
    );
    let (status, v) = sb
        .post(&path, &token, &body(Some("all"), json!(["hour"])))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    sb.stop().await;
}

#[tokio::test]
async fn errors_use_the_v3_envelope() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = query_path(ACME_SITE);
    let ok_body = json!({"startDate": "2026-09-01", "endDate": "2026-09-02"});

    // A site of another grant.
    let (status, v) = sb.post(&query_path(GSC_ONLY_SITE), &token, &ok_body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let message = "User does not have sufficient permission for site 'https://www.gsc-only.example/'. See also: https://support.google.com/webmasters/answer/2451999.";
    assert_eq!(
        v,
        json!({"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED",
                         "errors": [{"message": message, "domain": "global", "reason": "forbidden"}]}})
    );

    let bad_requests = [
        json!({"endDate": "2026-09-02"}),
        json!({"startDate": "2026-9-1", "endDate": "2026-09-02"}),
        json!({"startDate": "2026-09-03", "endDate": "2026-09-02"}),
        json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "rowLimit": 30000}),
        json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "startRow": -5}),
        json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "dimensions": ["page"], "aggregationType": "byProperty"}),
        json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "aggregationType": "BY_PROPERTY",
               "dimensionFilterGroups": [{"filters": [{"dimension": "page", "operator": "contains", "expression": "/x"}]}]}),
        json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "dimensions": ["keyword"]}),
        json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "type": "shopping"}),
        json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "unknownField": 1}),
    ];
    for body in bad_requests {
        let (status, v) = sb.post(&path, &token, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT", "{body}");
        assert_eq!(v["error"]["errors"][0]["reason"], "badRequest", "{body}");
    }
    let (_, v) = sb.post(&path, &token, &json!({})).await;
    assert_eq!(
        v["error"]["message"],
        "startDate field is required.\nendDate field is required."
    );
    let (_, v) = sb
        .post(
            &path,
            &token,
            &json!({"startDate": "2026-09-01", "endDate": "2026-09-02", "rowLimit": 30000}),
        )
        .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[1, 25000]"),
        "{v}"
    );

    // No token; a token without any Search Console scope.
    let r = sb
        .http
        .post(sb.url(&path))
        .json(&ok_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["errors"][0]["reason"], "required");
    assert_eq!(v["error"]["errors"][0]["location"], "Authorization");
    assert_eq!(v["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");
    let plain = Sandbox::start().await;
    let analytics_only = plain.token("sandbox-refresh-acme").await;
    let (status, v) = plain.post(&path, &analytics_only, &ok_body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        v["error"]["message"],
        "Request had insufficient authentication scopes."
    );
    assert_eq!(
        v["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    );
    assert_eq!(
        v["error"]["details"][0]["metadata"]["service"],
        "searchconsole.googleapis.com"
    );
    assert_eq!(v["error"]["errors"][0]["reason"], "insufficientPermissions");
    plain.stop().await;

    // An unverified site is listed but has no data.
    let gsc = sb.token("sandbox-refresh-gsc-only").await;
    let (status, v) = sb.post(&query_path(UNVERIFIED_SITE), &gsc, &ok_body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["errors"][0]["reason"], "forbidden");

    // Wrong method; unknown path.
    let r = sb
        .http
        .get(sb.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    let (status, _) = sb.get("/webmasters/v3/sites/x/nothing", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sb.stop().await;
}

#[tokio::test]
async fn sitemaps_list_get_submit_delete() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-gsc-only").await;
    let base = format!("/webmasters/v3/sites/{}/sitemaps", enc(GSC_ONLY_SITE));
    let (status, v) = sb.get(&base, &token).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let list = v["sitemap"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let index = &list[0];
    assert_eq!(
        index["path"],
        "https://www.gsc-only.example/sitemap_index.xml"
    );
    assert_eq!(index["isSitemapsIndex"], true);
    assert_eq!(index["isPending"], false);
    assert_eq!(index["type"], "sitemap");
    assert!(index["warnings"].is_string() && index["errors"].is_string());
    assert!(index["lastSubmitted"].as_str().unwrap().ends_with('Z'));
    assert!(
        index["lastDownloaded"]
            .as_str()
            .unwrap()
            .starts_with("2026-10-")
    );
    assert_eq!(index["contents"][0]["type"], "web");
    assert!(
        index["contents"][0]["submitted"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 10
    );
    assert_eq!(list[1]["type"], "rssFeed");

    let r = sb
        .http
        .get(sb.url(&base))
        .query(&[(
            "sitemapIndex",
            "https://www.gsc-only.example/sitemap_index.xml",
        )])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let children: Value = r.json().await.unwrap();
    let children = children["sitemap"].as_array().unwrap().clone();
    assert_eq!(children.len(), 4);
    let child = children[0]["path"].as_str().unwrap();
    assert_eq!(child, "https://www.gsc-only.example/sitemap_products_1.xml");

    let (status, v) = sb.get(&format!("{base}/{}", enc(child)), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["path"], child);
    let (status, v) = sb
        .get(
            &format!("{base}/{}", enc("https://www.gsc-only.example/nope.xml")),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["errors"][0]["reason"], "notFound");

    // Submitting needs the full `webmasters` scope.
    let feed = format!(
        "{base}/{}",
        enc("https://www.gsc-only.example/sitemap_new.xml")
    );
    let r = sb
        .http
        .put(sb.url(&feed))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    );

    let bloom = sb.token("sandbox-refresh-bloom").await;
    let bloom_base = format!("/webmasters/v3/sites/{}/sitemaps", enc(BLOOM_SITE));
    let (status, v) = sb.get(&bloom_base, &bloom).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v["sitemap"][0]["path"],
        "https://bloom-florist.example/sitemap.xml"
    );
    let submit = format!(
        "{bloom_base}/{}",
        enc("https://bloom-florist.example/sitemap_extra.xml")
    );
    let r = sb
        .http
        .put(sb.url(&submit))
        .bearer_auth(&bloom)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let outside = format!(
        "{bloom_base}/{}",
        enc("https://elsewhere.example/sitemap.xml")
    );
    let r = sb
        .http
        .put(sb.url(&outside))
        .bearer_auth(&bloom)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let delete = format!(
        "{bloom_base}/{}",
        enc("https://bloom-florist.example/sitemap.xml")
    );
    let r = sb
        .http
        .delete(sb.url(&delete))
        .bearer_auth(&bloom)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = sb
        .http
        .delete(sb.url(&submit))
        .bearer_auth(&bloom)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "never submitted");
    sb.stop().await;
}

#[tokio::test]
async fn url_inspection() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = "/v1/urlInspection/index:inspect";
    let inspect = |url: &str, site: &str| json!({"inspectionUrl": url, "siteUrl": site, "languageCode": "en-US"});

    let (status, v) = sb
        .post(
            path,
            &token,
            &inspect("https://www.acme-shop.example/", ACME_SITE),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let r = &v["inspectionResult"];
    assert!(r["inspectionResultLink"].as_str().unwrap().starts_with(
        "https://search.google.com/search-console/inspect?resource_id=sc-domain%3Aacme-shop.example"
    ));
    let s = &r["indexStatusResult"];
    assert_eq!(s["verdict"], "PASS");
    assert_eq!(s["coverageState"], "Submitted and indexed");
    assert_eq!(s["robotsTxtState"], "ALLOWED");
    assert_eq!(s["indexingState"], "INDEXING_ALLOWED");
    assert_eq!(s["pageFetchState"], "SUCCESSFUL");
    assert_eq!(s["googleCanonical"], "https://www.acme-shop.example/");
    assert_eq!(s["crawledAs"], "MOBILE");
    assert_eq!(
        s["sitemap"][0],
        "https://www.acme-shop.example/sitemap_pages_1.xml"
    );
    assert!(s["lastCrawlTime"].as_str().unwrap().starts_with("2026-"));
    assert_eq!(r["mobileUsabilityResult"]["verdict"], "VERDICT_UNSPECIFIED");

    // A product page with search traffic has rich results.
    let page_path = query_path(ACME_SITE);
    let (_, pages) = sb
        .post(&page_path, &token, &json!({"startDate": "2026-09-01", "endDate": "2026-09-28", "dimensions": ["page"],
               "dimensionFilterGroups": [{"filters": [{"dimension": "page", "operator": "contains", "expression": "/products/"}]}]}))
        .await;
    let product = rows(&pages)[0]["keys"][0].as_str().unwrap().to_string();
    let (_, v) = sb.post(path, &token, &inspect(&product, ACME_SITE)).await;
    assert_eq!(
        v["inspectionResult"]["richResultsResult"]["detectedItems"][0]["richResultType"],
        "Product snippets"
    );

    // A realistic mix of states over unknown URLs.
    let mut states = BTreeMap::new();
    for i in 0..120 {
        let url = format!("https://www.acme-shop.example/pages/archive-{i}");
        let (status, v) = sb.post(path, &token, &inspect(&url, ACME_SITE)).await;
        assert_eq!(status, StatusCode::OK);
        let s = &v["inspectionResult"]["indexStatusResult"];
        *states
            .entry(format!("{} / {}", s["verdict"], s["coverageState"]))
            .or_insert(0) += 1;
    }
    assert!(states.len() >= 6, "{states:?}");
    for (url, coverage) in [
        (
            "https://www.acme-shop.example/cart",
            "Blocked by robots.txt",
        ),
        (
            "https://www.acme-shop.example/search?q=boots",
            "Excluded by ‘noindex’ tag",
        ),
        ("http://acme-shop.example/", "Page with redirect"),
        (
            "https://www.acme-shop.example/collections/sneakers?utm_source=x",
            "Alternate page with proper canonical tag",
        ),
    ] {
        let (_, v) = sb.post(path, &token, &inspect(url, ACME_SITE)).await;
        assert_eq!(
            v["inspectionResult"]["indexStatusResult"]["coverageState"], coverage,
            "{url}"
        );
    }

    // Outside the property, or a property of someone else: Google's 403 (v1: no errors[]).
    let denied = "You do not own this site, or the inspected URL is not part of this property.";
    for (url, site) in [
        ("https://www.other-shop.example/", ACME_SITE),
        ("https://www.gsc-only.example/", GSC_ONLY_SITE),
    ] {
        let (status, v) = sb.post(path, &token, &inspect(url, site)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(
            v,
            json!({"error": {"code": 403, "message": denied, "status": "PERMISSION_DENIED"}})
        );
    }
    let gsc = sb.token("sandbox-refresh-gsc-only").await;
    // URL-prefix properties: scheme and host must match the prefix exactly.
    for url in [
        "http://www.gsc-only.example/a",
        "https://gsc-only.example/a",
    ] {
        let (status, _) = sb.post(path, &gsc, &inspect(url, GSC_ONLY_SITE)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
    }
    let (status, v) = sb.post(path, &token, &json!({"siteUrl": ACME_SITE})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].get("errors").is_none());
    sb.stop().await;
}

#[tokio::test]
async fn counters_and_faults() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let body = json!({"startDate": "2026-09-01", "endDate": "2026-09-02"});
    sb.post(&query_path(ACME_SITE), &token, &body).await;
    sb.get("/webmasters/v3/sites", &token).await;
    sb.post(
        "/v1/urlInspection/index:inspect",
        &token,
        &json!({"inspectionUrl": "https://www.acme-shop.example/", "siteUrl": ACME_SITE}),
    )
    .await;
    let c = sb.counters().await;
    assert_eq!(
        c["api_calls_by_method"]["searchconsole.searchanalytics.query"],
        1
    );
    assert_eq!(c["api_calls_by_method"]["searchconsole.sites.list"], 1);
    assert_eq!(
        c["api_calls_by_method"]["searchconsole.urlInspection.index.inspect"],
        1
    );
    assert_eq!(c["api_calls"][ACME_SITE], 2);
    assert_eq!(c["api_calls"]["sites"], 1);

    let (status, _) = sb
        .control(
            reqwest::Method::POST,
            "/__sandbox/faults",
            Some(json!({"path_prefix": "/webmasters/v3/sites/sc-domain:acme-shop.example", "status": 503, "count": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = sb.post(&query_path(ACME_SITE), &token, &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["error"]["status"], "UNAVAILABLE");
    let (status, _) = sb.post(&query_path(ACME_SITE), &token, &body).await;
    assert_eq!(status, StatusCode::OK);
    sb.stop().await;
}

/// Daily web clicks follow the GA4 property's google / organic sessions (clicks run a
/// little above sessions, as in real accounts).
#[tokio::test]
async fn clicks_track_ga4_organic_sessions() {
    let sb = start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, ga4) = sb
        .post(
            &format!("/v1beta/properties/{ACME}:runReport"),
            &token,
            &json!({
                "dateRanges": [{"startDate": "2026-08-01", "endDate": "2026-09-30"}],
                "dimensions": [{"name": "date"}],
                "metrics": [{"name": "sessions"}],
                "dimensionFilter": {"andGroup": {"expressions": [
                    {"filter": {"fieldName": "sessionSource", "stringFilter": {"value": "google"}}},
                    {"filter": {"fieldName": "sessionMedium", "stringFilter": {"value": "organic"}}}
                ]}},
                "limit": 100
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ga4}");
    let mut sessions = BTreeMap::new();
    for r in ga4["rows"].as_array().unwrap() {
        let d = r["dimensionValues"][0]["value"].as_str().unwrap();
        let day = format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]);
        let s: f64 = r["metricValues"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        sessions.insert(day, s);
    }
    let (_, gsc) = sb
        .post(
            &query_path(ACME_SITE),
            &token,
            &json!({"startDate": "2026-08-01", "endDate": "2026-09-30", "dimensions": ["date"]}),
        )
        .await;
    let mut ratios = Vec::new();
    for r in rows(&gsc) {
        let day = r["keys"][0].as_str().unwrap();
        let clicks = r["clicks"].as_f64().unwrap();
        ratios.push(clicks / sessions[day]);
    }
    assert_eq!(ratios.len(), 61);
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    assert!((0.95..1.3).contains(&mean), "mean clicks/sessions {mean}");
    assert!(ratios.iter().all(|r| (0.7..1.6).contains(r)), "{ratios:?}");
    sb.stop().await;
}
