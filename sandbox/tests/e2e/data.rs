//! GA4 Data API over HTTP: runReport shape and paging, date ranges, realtime, batch, metadata, conversions, funnels, concurrency.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::util::{ACME, Sandbox, num, run_report_body};

fn rows(v: &Value) -> &Vec<Value> {
    v["rows"].as_array().expect("rows")
}

#[tokio::test]
async fn run_report_shape() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let r = sb
        .http
        .post(sb.url(&format!("/v1beta/properties/{ACME}:runReport")))
        .bearer_auth(&token)
        .json(&json!({
            "dateRanges": [{"startDate": "2026-09-01", "endDate": "2026-09-30"}],
            "dimensions": [{"name": "date"}, {"name": "deviceCategory"}],
            "metrics": [{"name": "sessions"}, {"name": "engagementRate"}, {"name": "averageSessionDuration"},
                        {"name": "purchaseRevenue"}, {"name": "customEvent:loyalty_points"}, {"name": "conversions"}],
            "orderBys": [{"dimension": {"dimensionName": "date"}}, {"metric": {"metricName": "sessions"}, "desc": true}],
            "metricAggregations": ["TOTAL"],
            "returnPropertyQuota": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["kind"], "analyticsData#runReport");
    assert_eq!(
        v["dimensionHeaders"],
        json!([{"name": "date"}, {"name": "deviceCategory"}])
    );
    let types: Vec<&str> = v["metricHeaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "TYPE_INTEGER",
            "TYPE_FLOAT",
            "TYPE_SECONDS",
            "TYPE_CURRENCY",
            "TYPE_STANDARD",
            "TYPE_INTEGER"
        ]
    );
    assert_eq!(v["metricHeaders"][5]["name"], "conversions");
    assert_eq!(v["rowCount"], 90);
    assert_eq!(
        v["metadata"],
        json!({"currencyCode": "PLN", "timeZone": "Europe/Warsaw"})
    );
    assert!(
        v["propertyQuota"]["tokensPerDay"]["remaining"]
            .as_i64()
            .unwrap()
            > 0
    );
    let first = &rows(&v)[0];
    assert_eq!(first["dimensionValues"][0]["value"], "20260901");
    for cell in first["metricValues"].as_array().unwrap() {
        assert!(cell["value"].is_string());
    }
    // Rows sorted by date, then sessions descending within a date.
    assert!(
        num(&rows(&v)[0]["metricValues"][0]["value"])
            >= num(&rows(&v)[1]["metricValues"][0]["value"])
    );
    // Totals roughly equal the sum of rows.
    let sum: f64 = rows(&v)
        .iter()
        .map(|r| num(&r["metricValues"][0]["value"]))
        .sum();
    let total = num(&v["totals"][0]["metricValues"][0]["value"]);
    assert!((sum - total).abs() <= 90.0, "{sum} vs {total}");
    // Deterministic: a second call is byte-identical apart from quota.
    let mut again: Value = sb
        .post(&format!("/v1beta/properties/{ACME}:runReport"), &token, &json!({
            "dateRanges": [{"startDate": "2026-09-01", "endDate": "2026-09-30"}],
            "dimensions": [{"name": "date"}, {"name": "deviceCategory"}],
            "metrics": [{"name": "sessions"}, {"name": "engagementRate"}, {"name": "averageSessionDuration"},
                        {"name": "purchaseRevenue"}, {"name": "customEvent:loyalty_points"}, {"name": "conversions"}],
            "orderBys": [{"dimension": {"dimensionName": "date"}}, {"metric": {"metricName": "sessions"}, "desc": true}],
            "metricAggregations": ["TOTAL"],
        }))
        .await
        .1;
    let mut v = v;
    v.as_object_mut().unwrap().remove("propertyQuota");
    again.as_object_mut().unwrap().remove("propertyQuota");
    assert_eq!(v, again);
    sb.stop().await;
}

#[tokio::test]
async fn paging_is_consistent() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = format!("/v1beta/properties/{ACME}:runReport");
    let body = |limit: Value, offset: Value| {
        json!({
            "dateRanges": [{"startDate": "30daysAgo", "endDate": "yesterday"}],
            "dimensions": [{"name": "pagePath"}],
            "metrics": [{"name": "screenPageViews"}],
            "limit": limit, "offset": offset,
        })
    };
    let (_, all) = sb.post(&path, &token, &body(json!(1000), json!(0))).await;
    let total = all["rowCount"].as_u64().unwrap() as usize;
    assert!(total >= 20, "{total}");
    let mut collected = Vec::new();
    let mut offset = 0;
    while offset < total {
        let (status, page) = sb
            .post(&path, &token, &body(json!("7"), json!(offset.to_string())))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["rowCount"].as_u64().unwrap() as usize, total);
        let got = rows(&page);
        assert!(got.len() <= 7);
        collected.extend(got.iter().cloned());
        offset += got.len();
    }
    assert_eq!(&collected, rows(&all));
    sb.stop().await;
}

#[tokio::test]
async fn two_date_ranges_add_date_range_dimension() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, v) = sb
        .post(
            &format!("/v1beta/properties/{ACME}:runReport"),
            &token,
            &json!({
                "dateRanges": [
                    {"startDate": "28daysAgo", "endDate": "yesterday", "name": "current"},
                    {"startDate": "56daysAgo", "endDate": "29daysAgo"}],
                "dimensions": [{"name": "sessionDefaultChannelGroup"}],
                "metrics": [{"name": "sessions"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["dimensionHeaders"][1]["name"], "dateRange");
    let names: std::collections::BTreeSet<&str> = rows(&v)
        .iter()
        .map(|r| r["dimensionValues"][1]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["current", "date_range_1"]
    );
    sb.stop().await;
}

#[tokio::test]
async fn realtime_report() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = format!("/v1beta/properties/{ACME}:runRealtimeReport");
    let (status, v) = sb
        .post(&path, &token, &json!({
            "dimensions": [{"name": "minutesAgo"}],
            "metrics": [{"name": "activeUsers"}, {"name": "screenPageViews"}],
            "orderBys": [{"dimension": {"dimensionName": "minutesAgo", "orderType": "NUMERIC"}}],
        }))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["kind"], "analyticsData#runRealtimeReport");
    assert!(v.get("metadata").is_none());
    assert_eq!(rows(&v)[0]["dimensionValues"][0]["value"], "00");
    assert!(rows(&v).len() <= 30 && rows(&v).len() >= 25);
    let (status, v2) = sb
        .post(&path, &token, &json!({"dimensions": [{"name": "minutesAgo"}], "metrics": [{"name": "activeUsers"}, {"name": "screenPageViews"}],
            "orderBys": [{"dimension": {"dimensionName": "minutesAgo", "orderType": "NUMERIC"}}]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v, v2, "realtime is deterministic with --today");
    let (status, v) = sb
        .post(
            &path,
            &token,
            &json!({"dimensions": [{"name": "country"}], "metrics": [{"name": "activeUsers"}],
            "minuteRanges": [{"startMinutesAgo": 4, "endMinutesAgo": 0}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&v)[0]["dimensionValues"][0]["value"], "Poland");
    // Core-only names and fields are rejected.
    let (status, v) = sb
        .post(&path, &token, &json!({"metrics": [{"name": "sessions"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("sessions"));
    let (status, _) = sb
        .post(&path, &token, &json!({"metrics": [{"name": "activeUsers"}], "dateRanges": [{"startDate": "today", "endDate": "today"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn batch_run_reports() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = format!("/v1beta/properties/{ACME}:batchRunReports");
    let (status, v) = sb
        .post(&path, &token, &json!({"requests": [run_report_body(), {
            "dateRanges": [{"startDate": "7daysAgo", "endDate": "yesterday"}],
            "dimensions": [{"name": "country"}], "metrics": [{"name": "activeUsers"}], "limit": 3}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["kind"], "analyticsData#batchRunReports");
    let reports = v["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["kind"], "analyticsData#runReport");
    assert_eq!(rows(&reports[1]).len(), 3);
    let six: Vec<Value> = (0..6).map(|_| run_report_body()).collect();
    let (status, _) = sb.post(&path, &token, &json!({"requests": six})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut foreign = run_report_body();
    foreign["property"] = json!("properties/412345678");
    let (status, _) = sb
        .post(&path, &token, &json!({"requests": [foreign]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn metadata_lists_supported_fields() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, v) = sb
        .get(&format!("/v1beta/properties/{ACME}/metadata"), &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["name"], format!("properties/{ACME}/metadata"));
    let dims: Vec<&str> = v["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["apiName"].as_str().unwrap())
        .collect();
    assert!(
        dims.contains(&"date")
            && dims.contains(&"sessionSourceMedium")
            && dims.contains(&"customEvent:shoe_size")
    );
    assert!(dims.contains(&"customUser:loyalty_tier"));
    let metrics = v["metrics"].as_array().unwrap();
    let key = metrics
        .iter()
        .find(|m| m["apiName"] == "keyEvents")
        .unwrap();
    assert_eq!(key["deprecatedApiNames"], json!(["conversions"]));
    assert!(
        metrics
            .iter()
            .any(|m| m["apiName"] == "customEvent:loyalty_points" && m["customDefinition"] == true)
    );
    let (status, universal) = sb.get("/v1beta/properties/0/metadata", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(universal["name"], "properties/0/metadata");
    assert!(
        !universal["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["apiName"] == "customEvent:shoe_size")
    );
    sb.stop().await;
}

#[tokio::test]
async fn conversions_report_v1alpha() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = format!("/v1alpha/properties/{ACME}:runReport");
    let (status, v) = sb
        .post(
            &path,
            &token,
            &json!({
            "dateRanges": [{"startDate": "30daysAgo", "endDate": "yesterday"}],
            "dimensions": [{"name": "sessionSourceMedium"}],
            "metrics": [{"name": "advertiserAdCost"}],
            "conversionSpec": {"conversionActions": [], "attributionModel": "DATA_DRIVEN"}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "session-scoped dims are not allowed: {v}"
    );
    let (status, v) = sb
        .post(&path, &token, &json!({
            "dateRanges": [{"startDate": "30daysAgo", "endDate": "yesterday"}],
            "dimensions": [{"name": "defaultChannelGroup"}],
            "metrics": [{"name": "allConversionsByInteractionDate"}, {"name": "totalRevenueByConversionDate"},
                        {"name": "advertiserAdCost"}, {"name": "returnOnAdSpendByInteractionDate"}],
            "conversionSpec": {"conversionActions": ["conversionActions/purchase"], "attributionModel": "LAST_CLICK"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let paid = rows(&v)
        .iter()
        .find(|r| r["dimensionValues"][0]["value"] == "Paid Search")
        .unwrap();
    assert!(num(&paid["metricValues"][2]["value"]) > 0.0);
    let organic = rows(&v)
        .iter()
        .find(|r| r["dimensionValues"][0]["value"] == "Organic Search")
        .unwrap();
    assert_eq!(organic["metricValues"][2]["value"], "0");
    assert!(num(&organic["metricValues"][0]["value"]) > 0.0);
    sb.stop().await;
}

#[tokio::test]
async fn funnel_report_v1alpha() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, v) = sb
        .post(&format!("/v1alpha/properties/{ACME}:runFunnelReport"), &token, &json!({
            "dateRanges": [{"startDate": "30daysAgo", "endDate": "yesterday"}],
            "funnel": {"steps": [
                {"name": "First visit", "filterExpression": {"funnelEventFilter": {"eventName": "first_visit"}}},
                {"name": "Viewed product", "filterExpression": {"funnelEventFilter": {"eventName": "view_item"}}},
                {"name": "Purchase", "filterExpression": {"orGroup": {"expressions": [
                    {"funnelEventFilter": {"eventName": "purchase"}},
                    {"funnelEventFilter": {"eventName": "in_app_purchase"}}]}}}]},
            "funnelBreakdown": {"breakdownDimension": {"name": "deviceCategory"}, "limit": 2},
        }))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["kind"], "analyticsData#runFunnelReport");
    let table = &v["funnelTable"];
    assert_eq!(
        table["dimensionHeaders"],
        json!([{"name": "funnelStepName"}, {"name": "deviceCategory"}])
    );
    assert_eq!(
        table["metricHeaders"][1]["name"],
        "funnelStepCompletionRate"
    );
    let rows = rows(table);
    assert_eq!(rows.len(), 3 * 3);
    assert_eq!(rows[0]["dimensionValues"][0]["value"], "1. First visit");
    assert_eq!(rows[0]["dimensionValues"][1]["value"], "RESERVED_TOTAL");
    let users: Vec<f64> = rows
        .iter()
        .filter(|r| r["dimensionValues"][1]["value"] == "RESERVED_TOTAL")
        .map(|r| num(&r["metricValues"][0]["value"]))
        .collect();
    assert!(
        users[0] >= users[1] && users[1] >= users[2] && users[2] > 0.0,
        "{users:?}"
    );
    assert!(v["funnelVisualization"]["rows"].as_array().unwrap().len() == 3 * 2);
    sb.stop().await;
}

#[tokio::test]
async fn many_concurrent_requests() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..300 {
        let http = sb.http.clone();
        let url = sb.url(&format!("/v1beta/properties/{ACME}:runReport"));
        let token = token.clone();
        set.spawn(async move {
            let body = json!({"dateRanges": [{"startDate": format!("{}daysAgo", 1 + i % 20), "endDate": "yesterday"}],
                              "dimensions": [{"name": "country"}], "metrics": [{"name": "sessions"}]});
            http.post(url).bearer_auth(token).json(&body).send().await.map(|r| r.status())
        });
    }
    let mut ok = 0;
    while let Some(result) = set.join_next().await {
        if matches!(result, Ok(Ok(StatusCode::OK))) {
            ok += 1;
        }
    }
    assert_eq!(ok, 300);
    assert_eq!(
        sb.counters().await["api_calls"][format!("properties/{ACME}")],
        300
    );
    sb.stop().await;
}
