//! GA4 Admin API over HTTP: account summaries (with paging), property, Google Ads links, custom definitions, annotations.

use reqwest::StatusCode;
use serde_json::json;

use crate::util::{ACME, Sandbox, example_config};

#[tokio::test]
async fn account_summaries_group_properties() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-bloom").await;
    let (status, v) = sb.get("/v1beta/accountSummaries", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!({"accountSummaries": [{
            "name": "accountSummaries/2000", "account": "accounts/2000", "displayName": "Bloom",
            "propertySummaries": [
                {"property": "properties/412345678", "displayName": "Bloom Florist - Web", "propertyType": "PROPERTY_TYPE_ORDINARY", "parent": "accounts/2000"},
                {"property": "properties/412345679", "displayName": "Bloom Florist - Wholesale", "propertyType": "PROPERTY_TYPE_ORDINARY", "parent": "accounts/2000"}]}]})
    );
    sb.stop().await;
}

#[tokio::test]
async fn account_summaries_page() {
    let mut config = example_config();
    // One grant spanning three accounts (two declared, one derived).
    config.fixtures.google_grants[0].ga4_properties =
        vec![ACME.into(), "412345678".into(), "777".into()];
    let sb = Sandbox::start_with(config).await;
    let token = sb.token("sandbox-refresh-acme").await;
    let mut names = Vec::new();
    let mut path = "/v1beta/accountSummaries?pageSize=1".to_string();
    for _ in 0..5 {
        let (status, v) = sb.get(&path, &token).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let page = v["accountSummaries"].as_array().unwrap();
        assert_eq!(page.len(), 1);
        names.push(page[0]["account"].as_str().unwrap().to_string());
        match v["nextPageToken"].as_str() {
            Some(t) => path = format!("/v1beta/accountSummaries?pageSize=1&pageToken={t}"),
            None => break,
        }
    }
    assert_eq!(names.len(), 3);
    assert_eq!(names[0], "accounts/1000");
    let (status, _) = sb
        .get("/v1beta/accountSummaries?pageToken=bogus", &token)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn property_and_child_resources() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, p) = sb.get(&format!("/v1beta/properties/{ACME}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["name"], format!("properties/{ACME}"));
    assert_eq!(p["parent"], "accounts/1000");
    assert_eq!(p["account"], "accounts/1000");
    assert_eq!(p["displayName"], "Acme Shop");
    assert_eq!(p["timeZone"], "Europe/Warsaw");
    assert_eq!(p["currencyCode"], "PLN");
    assert_eq!(p["createTime"], "2021-03-04T10:11:12.000Z");
    assert_eq!(p["serviceLevel"], "GOOGLE_ANALYTICS_STANDARD");

    let (status, links) = sb
        .get(&format!("/v1beta/properties/{ACME}/googleAdsLinks"), &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let link = &links["googleAdsLinks"][0];
    assert!(
        link["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("properties/{ACME}/googleAdsLinks/"))
    );
    assert_eq!(link["customerId"], "1234567890");
    assert_eq!(link["canManageClients"], false);

    let (status, dims) = sb
        .get(
            &format!("/v1beta/properties/{ACME}/customDimensions?pageSize=1"),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dims["customDimensions"][0]["parameterName"], "shoe_size");
    assert_eq!(dims["customDimensions"][0]["scope"], "EVENT");
    let next = dims["nextPageToken"].as_str().unwrap();
    let (_, dims2) = sb
        .get(
            &format!("/v1beta/properties/{ACME}/customDimensions?pageSize=1&pageToken={next}"),
            &token,
        )
        .await;
    assert_eq!(
        dims2["customDimensions"][0]["parameterName"],
        "loyalty_tier"
    );
    assert!(dims2.get("nextPageToken").is_none());

    let (status, metrics) = sb
        .get(&format!("/v1beta/properties/{ACME}/customMetrics"), &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metrics["customMetrics"][0]["measurementUnit"], "STANDARD");
    assert_eq!(metrics["customMetrics"][1]["measurementUnit"], "CURRENCY");

    let (status, notes) = sb
        .get(
            &format!("/v1alpha/properties/{ACME}/reportingDataAnnotations"),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let notes = notes["reportingDataAnnotations"].as_array().unwrap();
    assert!(notes.len() >= 3);
    assert!(notes.iter().any(|n| n.get("annotationDateRange").is_some()));
    assert!(notes.iter().any(|n| n["annotationDate"]["year"] == 2026));
    sb.stop().await;
}

#[tokio::test]
async fn empty_lists_are_empty_objects() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-bloom").await;
    let (status, v) = sb
        .get("/v1beta/properties/412345679/googleAdsLinks", &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, json!({}));
    sb.stop().await;
}
