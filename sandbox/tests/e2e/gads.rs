//! Google Ads API over HTTP: listAccessibleCustomers, search (shape, paging past 10,000 rows,
//! totals), searchStream batches, googleAdsFields:search, GoogleAdsFailure errors, manager
//! access through login-customer-id, injected quota faults, and consistency with GA4.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::util::{ACME, Sandbox};

const CID: &str = "1234567890";
const MANAGER: &str = "9876543210";
const CLIENT: &str = "1112223334";

fn search_path(cid: &str) -> String {
    format!("/v26/customers/{cid}/googleAds:search")
}

fn stream_path(cid: &str) -> String {
    format!("/v26/customers/{cid}/googleAds:searchStream")
}

/// POSTs with optional extra headers; returns status, request-id header and body.
async fn call(
    sb: &Sandbox,
    path: &str,
    token: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (StatusCode, String, Value) {
    let mut req = sb.http.post(sb.url(path)).bearer_auth(token).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    let rid = r
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, rid, r.json().await.unwrap_or(Value::Null))
}

/// The first GoogleAdsFailure error of an error body.
fn failure(body: &Value) -> &Value {
    &body["error"]["details"][0]["errors"][0]
}

fn int(v: &Value) -> i64 {
    v.as_str()
        .expect("int64 values are strings")
        .parse()
        .expect("int64")
}

#[tokio::test]
async fn list_accessible_customers() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let r = sb
        .http
        .get(sb.url("/v26/customers:listAccessibleCustomers"))
        .bearer_auth(&token)
        .header("developer-token", "ignored-since-2026")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("request-id"));
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"resourceNames": ["customers/1234567890", "customers/9876543210"]})
    );
    let counters = sb.counters().await;
    assert_eq!(
        counters["api_calls_by_method"]["googleads.listAccessibleCustomers"],
        1
    );
    // POST is not the method.
    let r = sb
        .http
        .post(sb.url("/v26/customers:listAccessibleCustomers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    sb.stop().await;
}

#[tokio::test]
async fn search_rows_have_googles_shape() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let query = "SELECT campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, \
                 metrics.clicks, metrics.cost_micros, metrics.impressions, metrics.ctr, metrics.conversions, segments.date \
                 FROM campaign WHERE segments.date DURING LAST_7_DAYS ORDER BY segments.date, campaign.id";
    let (status, rid, v) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": query}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(rid.len(), 22);
    assert_eq!(
        v["fieldMask"],
        "campaign.id,campaign.name,campaign.status,campaign.advertisingChannelType,metrics.clicks,metrics.costMicros,metrics.impressions,metrics.ctr,metrics.conversions,segments.date"
    );
    assert!(v.get("nextPageToken").is_none());
    assert!(v.get("totalResultsCount").is_none(), "only when asked");
    assert!(int(&v["queryResourceConsumption"]) > 0);
    let rows = v["results"].as_array().unwrap();
    assert!(rows.len() >= 7 * 5, "{}", rows.len());
    let first = &rows[0];
    let rn = first["campaign"]["resourceName"].as_str().unwrap();
    assert_eq!(
        rn,
        format!(
            "customers/{CID}/campaigns/{}",
            first["campaign"]["id"].as_str().unwrap()
        )
    );
    assert_eq!(first["segments"]["date"], "2026-10-13");
    assert!(first["metrics"]["clicks"].is_string());
    assert!(first["metrics"]["costMicros"].is_string());
    assert!(first["metrics"]["ctr"].is_f64());
    assert!(first["metrics"]["conversions"].is_number());
    assert!(
        ["SEARCH", "PERFORMANCE_MAX", "SHOPPING", "DISPLAY", "VIDEO"].contains(
            &first["campaign"]["advertisingChannelType"]
                .as_str()
                .unwrap()
        )
    );
    // Stable across calls.
    let (_, _, again) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": query}),
        &[],
    )
    .await;
    assert_eq!(v["results"], again["results"]);
    // Totals by campaign equal the sum of days.
    let (_, _, totals) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "SELECT campaign.id, metrics.clicks FROM campaign WHERE segments.date DURING LAST_7_DAYS",
                "searchSettings": {"returnSummaryRow": true, "returnTotalResultsCount": true}}),
        &[],
    )
    .await;
    let by_day: i64 = rows.iter().map(|r| int(&r["metrics"]["clicks"])).sum();
    let by_campaign: i64 = totals["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| int(&r["metrics"]["clicks"]))
        .sum();
    assert_eq!(by_day, by_campaign);
    assert_eq!(int(&totals["summaryRow"]["metrics"]["clicks"]), by_day);
    assert_eq!(
        int(&totals["totalResultsCount"]),
        totals["results"].as_array().unwrap().len() as i64
    );
    // Zero metrics are still emitted for selected metrics; attributes-only lists all campaigns.
    let (_, _, all) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "SELECT campaign.name, campaign.status FROM campaign WHERE campaign.status IN ('PAUSED', 'REMOVED')"}),
        &[],
    )
    .await;
    assert_eq!(all["results"].as_array().unwrap().len(), 2, "{all}");
    let counters = sb.counters().await;
    assert_eq!(counters["api_calls"][format!("customers/{CID}")], 4);
    assert_eq!(counters["api_calls_by_method"]["googleads.search"], 4);
    sb.stop().await;
}

const BIG_QUERY: &str = "SELECT ad_group_criterion.keyword.text, segments.date, segments.device, \
    segments.ad_network_type, metrics.clicks, metrics.impressions FROM keyword_view \
    WHERE segments.date BETWEEN '2026-07-22' AND '2026-10-19'";

#[tokio::test]
async fn search_pages_past_ten_thousand_rows() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let body = json!({"query": BIG_QUERY, "searchSettings": {"returnTotalResultsCount": true}});
    let (status, _, page1) = call(&sb, &search_path(CID), &token, &body, &[]).await;
    assert_eq!(status, StatusCode::OK, "{page1}");
    let total = int(&page1["totalResultsCount"]) as usize;
    assert!(total > 10_000, "{total}");
    assert_eq!(page1["results"].as_array().unwrap().len(), 10_000);
    let mut seen = page1["results"].as_array().unwrap().len();
    let mut token_value = page1["nextPageToken"]
        .as_str()
        .expect("more pages")
        .to_string();
    let mut clicks: i64 = page1["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| int(&r["metrics"]["clicks"]))
        .sum();
    let mut pages = 1;
    loop {
        let body = json!({"query": BIG_QUERY, "pageToken": token_value, "searchSettings": {"returnTotalResultsCount": true}});
        let (status, _, page) = call(&sb, &search_path(CID), &token, &body, &[]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let rows = page["results"].as_array().unwrap();
        assert!(rows.len() <= 10_000);
        seen += rows.len();
        clicks += rows
            .iter()
            .map(|r| int(&r["metrics"]["clicks"]))
            .sum::<i64>();
        pages += 1;
        match page["nextPageToken"].as_str() {
            Some(t) => token_value = t.to_string(),
            None => break,
        }
        assert!(pages < 20);
    }
    assert_eq!(seen, total);
    // The keyword rows add up to the customer's search-keyword clicks by date.
    let (_, _, kw_total) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "SELECT metrics.clicks FROM keyword_view WHERE segments.date BETWEEN '2026-07-22' AND '2026-10-19'",
                "searchSettings": {"returnSummaryRow": true}}),
        &[],
    )
    .await;
    assert_eq!(int(&kw_total["summaryRow"]["metrics"]["clicks"]), clicks);
    // A token only continues the query it came from; pageSize is gone since v17.
    let (status, _, v) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "SELECT campaign.id FROM campaign", "pageToken": page1["nextPageToken"]}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        failure(&v)["errorCode"]["requestError"],
        "INVALID_PAGE_TOKEN"
    );
    let (status, _, v) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": BIG_QUERY, "pageSize": 500}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        failure(&v)["errorCode"]["requestError"],
        "PAGE_SIZE_NOT_SUPPORTED"
    );
    sb.stop().await;
}

#[tokio::test]
async fn search_stream_batches_and_wrapped_errors() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, rid, v) = call(
        &sb,
        &stream_path(CID),
        &token,
        &json!({"query": BIG_QUERY, "summaryRowSetting": "SUMMARY_ROW_WITH_RESULTS"}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let batches = v.as_array().expect("an array of batches");
    assert!(batches.len() >= 3, "two result batches and a summary");
    let (summary, results) = batches.split_last().unwrap();
    let mut rows = 0;
    let mut clicks = 0;
    for (i, b) in results.iter().enumerate() {
        let n = b["results"].as_array().unwrap().len();
        assert!(n <= 10_000 && n > 0);
        rows += n;
        clicks += b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| int(&r["metrics"]["clicks"]))
            .sum::<i64>();
        assert_eq!(b["requestId"], rid.as_str());
        assert_eq!(
            b["fieldMask"],
            "adGroupCriterion.keyword.text,segments.date,segments.device,segments.adNetworkType,metrics.clicks,metrics.impressions"
        );
        assert_eq!(
            b.get("queryResourceConsumption").is_some(),
            i == results.len() - 1,
            "consumption only in the last batch"
        );
    }
    assert!(rows > 10_000);
    assert!(summary.get("results").is_none());
    assert_eq!(int(&summary["summaryRow"]["metrics"]["clicks"]), clicks);
    // Errors from searchStream are wrapped in an array too.
    let (status, _, v) = call(
        &sb,
        &stream_path(CID),
        &token,
        &json!({"query": "SELECT campaign.nme FROM campaign"}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let e = &v.as_array().expect("array-wrapped error")[0];
    assert_eq!(failure(e)["errorCode"]["queryError"], "UNRECOGNIZED_FIELD");
    // Empty results: one batch without results.
    let (status, _, v) = call(
        &sb,
        &stream_path(CID),
        &token,
        &json!({"query": "SELECT campaign.id FROM campaign WHERE campaign.id = 1"}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert!(v[0].get("results").is_none());
    sb.stop().await;
}

#[tokio::test]
async fn google_ads_fields_search() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, _, v) = call(
        &sb,
        "/v26/googleAdsFields:search",
        &token,
        &json!({"query": "SELECT name, category, data_type, selectable, filterable, sortable, selectable_with WHERE name LIKE 'campaign.%' ORDER BY name"}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let rows = v["results"].as_array().unwrap();
    assert_eq!(int(&v["totalResultsCount"]) as usize, rows.len());
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let id = rows.iter().find(|r| r["name"] == "campaign.id").unwrap();
    assert_eq!(id["resourceName"], "googleAdsFields/campaign.id");
    assert_eq!(id["category"], "ATTRIBUTE");
    assert_eq!(id["dataType"], "INT64");
    assert_eq!(id["selectable"], true);
    assert!(
        id["selectableWith"]
            .as_array()
            .unwrap()
            .contains(&json!("metrics.clicks"))
    );
    // Every field the metadata lists is accepted by search.
    let (_, _, metrics) = call(
        &sb,
        "/v26/googleAdsFields:search",
        &token,
        &json!({"query": "SELECT name WHERE category = METRIC AND name IN ('metrics.clicks', 'metrics.ctr')"}),
        &[],
    )
    .await;
    assert_eq!(metrics["results"].as_array().unwrap().len(), 2);
    let (status, _, _) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": format!("SELECT {} FROM campaign WHERE segments.date DURING YESTERDAY", names.join(", "))}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r = sb
        .http
        .get(sb.url("/v26/googleAdsFields/metrics.cost_micros"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["dataType"], "INT64");
    sb.stop().await;
}

#[tokio::test]
async fn query_errors_name_the_problem() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let cases: &[(&str, &str, &str)] = &[
        (
            "SELECT campaign.nme FROM campaign",
            "queryError",
            "UNRECOGNIZED_FIELD",
        ),
        (
            "SELECT campaign.id, segments.date FROM campaign WHERE segments.date DURING LAST_90_DAYS",
            "queryError",
            "INVALID_VALUE_WITH_DURING_OPERATOR",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE",
            "queryError",
            "UNEXPECTED_END_OF_QUERY",
        ),
        (
            "SELECT ad_group.name FROM campaign",
            "queryError",
            "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
        ),
        (
            "SELECT campaign.id, segments.week FROM campaign WHERE segments.week = '2026-10-14'",
            "queryError",
            "MISALIGNED_DATE_FOR_FILTER",
        ),
        (
            "SELECT campaign.id, segments.date FROM campaign",
            "queryError",
            "EXPECTED_FILTERS_ON_DATE_RANGE",
        ),
        (
            "SELECT customer_client.id, metrics.clicks FROM customer_client",
            "queryError",
            "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
        ),
        ("", "fieldError", "REQUIRED"),
    ];
    for (query, category, code) in cases {
        let (status, rid, v) = call(
            &sb,
            &search_path(CID),
            &token,
            &json!({"query": query}),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
        let d = &v["error"]["details"][0];
        assert_eq!(
            d["@type"],
            "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
        );
        assert_eq!(d["requestId"], rid.as_str());
        assert_eq!(d["errors"][0]["errorCode"][category], *code, "{query}: {v}");
    }
    let (_, _, v) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "SELECT campaign.nme FROM campaign"}),
        &[],
    )
    .await;
    assert_eq!(
        failure(&v)["message"],
        "Unrecognized field in the query: 'campaign.nme'."
    );
    assert_eq!(failure(&v)["trigger"]["stringValue"], "campaign.nme");
    let (_, _, v) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_90_DAYS"}),
        &[],
    )
    .await;
    assert!(
        failure(&v)["message"]
            .as_str()
            .unwrap()
            .contains("LAST_90_DAYS")
    );
    // Unknown body fields are a front-end error (no GoogleAdsFailure).
    let (status, _, v) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "x", "colour": 1}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("colour"));
    sb.stop().await;
}

#[tokio::test]
async fn access_rules_and_auth_errors() {
    let sb = Sandbox::start().await;
    let acme = sb.token("sandbox-refresh-acme").await;
    let q = json!({"query": "SELECT customer.id, customer.descriptive_name, customer.currency_code FROM customer"});
    // A customer not on the grant.
    let (status, _, v) = call(&sb, &search_path("2345678901"), &acme, &q, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        failure(&v)["errorCode"]["authorizationError"],
        "USER_PERMISSION_DENIED"
    );
    assert!(
        failure(&v)["message"]
            .as_str()
            .unwrap()
            .contains("'login-customer-id' header")
    );
    // Malformed id.
    let (status, _, v) = call(&sb, &search_path("123-456-7890"), &acme, &q, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        failure(&v)["errorCode"]["requestError"],
        "INVALID_CUSTOMER_ID"
    );
    // A client of the manager: denied without login-customer-id, allowed with it.
    let (status, _, v) = call(&sb, &search_path(CLIENT), &acme, &q, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        failure(&v)["errorCode"]["authorizationError"],
        "USER_PERMISSION_DENIED"
    );
    let (status, _, v) = call(
        &sb,
        &search_path(CLIENT),
        &acme,
        &q,
        &[("login-customer-id", CID)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, _, v) = call(
        &sb,
        &search_path(CLIENT),
        &acme,
        &q,
        &[("login-customer-id", MANAGER)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["results"][0]["customer"]["descriptiveName"],
        "Acme Outlet"
    );
    assert_eq!(v["results"][0]["customer"]["id"], CLIENT);
    // The manager lists its hierarchy but refuses metrics.
    let (status, _, v) = call(
        &sb,
        &search_path(MANAGER),
        &acme,
        &json!({"query": "SELECT customer_client.client_customer, customer_client.level, customer_client.manager, customer_client.descriptive_name FROM customer_client ORDER BY customer_client.level"}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1]["customerClient"]["clientCustomer"],
        format!("customers/{CLIENT}")
    );
    assert_eq!(rows[1]["customerClient"]["level"], "1");
    assert_eq!(rows[0]["customerClient"]["manager"], true);
    let (status, _, v) = call(
        &sb,
        &search_path(MANAGER),
        &acme,
        &json!({"query": "SELECT metrics.clicks FROM customer WHERE segments.date DURING YESTERDAY"}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        failure(&v)["errorCode"]["queryError"],
        "REQUESTED_METRICS_FOR_MANAGER"
    );
    // A token without the adwords scope.
    let bloom = sb.token("sandbox-refresh-bloom").await;
    let (status, _, v) = call(&sb, &search_path(CID), &bloom, &q, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        v["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    );
    // No token, a bogus token, an expired token.
    let r = sb
        .http
        .post(sb.url(&search_path(CID)))
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        failure(&v)["errorCode"]["authenticationError"],
        "OAUTH_TOKEN_HEADER_INVALID"
    );
    let (status, _, v) = call(&sb, &search_path(CID), "ya29.sandbox.nope", &q, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        failure(&v)["errorCode"]["authenticationError"],
        "OAUTH_TOKEN_INVALID"
    );
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/tokens/expire",
            Some(json!({"name": "acme"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, v) = call(&sb, &search_path(CID), &acme, &q, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        failure(&v)["errorCode"]["authenticationError"],
        "OAUTH_TOKEN_EXPIRED"
    );
    // Sunset versions.
    let acme = sb.token("sandbox-refresh-acme").await;
    let (status, _, v) = call(
        &sb,
        "/v22/customers/1234567890/googleAds:search",
        &acme,
        &q,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        failure(&v)["errorCode"]["requestError"],
        "UNSUPPORTED_VERSION"
    );
    // v23 and v24 still need the developer token; v25 on ignore it.
    let (status, _, v) = call(
        &sb,
        "/v23/customers/1234567890/googleAds:search",
        &acme,
        &q,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        failure(&v)["errorCode"]["requestError"],
        "DEVELOPER_TOKEN_PARAMETER_MISSING"
    );
    assert_eq!(
        failure(&v)["message"],
        "developer-token parameter is missing."
    );
    let (status, _, v) = call(
        &sb,
        "/v24/customers/1234567890/googleAds:search",
        &acme,
        &q,
        &[("developer-token", "sandbox-dev-token")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _, v) = call(
        &sb,
        "/v25/customers/1234567890/googleAds:search",
        &acme,
        &q,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    sb.stop().await;
}

#[tokio::test]
async fn injected_429_answers_a_quota_error() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = search_path(CID);
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/faults",
            Some(json!({"path_prefix": path, "status": 429, "count": 1, "retry_after_secs": 7})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let q = json!({"query": "SELECT customer.id FROM customer"});
    let r = sb
        .http
        .post(sb.url(&path))
        .bearer_auth(&token)
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "7");
    assert!(r.headers().contains_key("request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    let e = failure(&v);
    assert_eq!(e["errorCode"]["quotaError"], "RESOURCE_EXHAUSTED");
    assert_eq!(e["details"]["quotaErrorDetails"]["retryDelay"], "7s");
    assert!(e["details"]["quotaErrorDetails"]["rateScope"].is_string());
    assert!(v["error"]["details"][0]["requestId"].is_string());
    let (status, _, _) = call(&sb, &path, &token, &q, &[]).await;
    assert_eq!(status, StatusCode::OK, "the fault was used up");
    sb.stop().await;
}

#[tokio::test]
async fn daily_clicks_follow_ga4_google_cpc_sessions() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, ga4) = sb
        .post(
            &format!("/v1beta/properties/{ACME}:runReport"),
            &token,
            &json!({
                "dateRanges": [{"startDate": "2026-09-20", "endDate": "2026-10-19"}],
                "dimensions": [{"name": "date"}],
                "metrics": [{"name": "sessions"}],
                "dimensionFilter": {"filter": {"fieldName": "sessionSourceMedium", "stringFilter": {"value": "google / cpc"}}},
                "limit": 100,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ga4}");
    let sessions: HashMap<String, f64> = ga4["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["dimensionValues"][0]["value"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["metricValues"][0]["value"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(sessions.len(), 30);
    let (status, _, ads) = call(
        &sb,
        &search_path(CID),
        &token,
        &json!({"query": "SELECT segments.date, metrics.clicks FROM customer WHERE segments.date BETWEEN '2026-09-20' AND '2026-10-19'"}),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ads}");
    let rows = ads["results"].as_array().unwrap();
    assert_eq!(rows.len(), 30);
    for r in rows {
        let day = r["segments"]["date"].as_str().unwrap().replace('-', "");
        let clicks = int(&r["metrics"]["clicks"]) as f64;
        let s = sessions[&day];
        assert!(
            (clicks / s - 1.0).abs() <= 0.2,
            "{day}: {clicks} Ads clicks vs {s} GA4 google/cpc sessions"
        );
    }
    sb.stop().await;
}
