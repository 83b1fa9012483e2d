//! `ga4-mcp` end to end: the real server binary over stdio, against the real sandbox binary.

use std::collections::BTreeSet;

use berryboo_e2e::{
    Client, Credentials, Sandbox, call, connect, err, ga4_command, keyed, ok, text,
};
use serde_json::{Value, json};

const ACME: &str = "326784853";

async fn acme(sandbox: &Sandbox, creds: &Credentials) -> Client {
    connect(ga4_command(sandbox, creds, &["--property-id", ACME]))
        .await
        .expect("ga4-mcp starts")
}

fn last_week() -> Value {
    json!([{"start_date": "7daysAgo", "end_date": "yesterday"}])
}

#[tokio::test]
async fn lists_the_nine_read_only_tools() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    let info = client.peer_info().expect("initialize result");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("ga4-mcp")
    );
    assert!(info.instructions.as_deref().unwrap_or("").contains(ACME));
    let tools = client.list_all_tools().await.unwrap();
    let names: BTreeSet<_> = tools.iter().map(|t| t.name.to_string()).collect();
    let expected: BTreeSet<_> = [
        "get_account_summaries",
        "get_property_details",
        "list_google_ads_links",
        "list_property_annotations",
        "get_custom_dimensions_and_metrics",
        "run_report",
        "run_realtime_report",
        "run_funnel_report",
        "run_conversions_report",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, expected);
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.read_only_hint, Some(true), "{}", t.name);
        assert!(t.output_schema.is_some(), "{} has an output schema", t.name);
        assert!(
            t.description.as_deref().unwrap_or("").len() > 60,
            "{} has a real description",
            t.name
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn admin_tools_read_the_property() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;

    let accounts = ok(&call(&client, "get_account_summaries", json!({}))
        .await
        .unwrap());
    assert_eq!(accounts["accounts"][0]["account_id"], "1000");
    assert_eq!(
        accounts["accounts"][0]["properties"][0]["property_id"],
        ACME
    );
    assert_eq!(
        accounts["accounts"][0]["properties"][0]["display_name"],
        "Acme Shop"
    );

    let details = call(&client, "get_property_details", json!({}))
        .await
        .unwrap();
    let d = ok(&details);
    assert_eq!(d["property_id"], format!("properties/{ACME}"));
    assert_eq!(d["property"]["timeZone"], "Europe/Warsaw");
    assert_eq!(d["property"]["currencyCode"], "PLN");
    assert!(text(&details).contains("Acme Shop"));

    // `properties/ID` and a bare number both work.
    let links = ok(&call(
        &client,
        "list_google_ads_links",
        json!({"property_id": format!("properties/{ACME}")}),
    )
    .await
    .unwrap());
    assert_eq!(links["items"][0]["customerId"], "1234567890");
    let links = ok(&call(
        &client,
        "list_google_ads_links",
        json!({"property_id": 326784853u64}),
    )
    .await
    .unwrap());
    assert_eq!(links["items"].as_array().map(Vec::len), Some(1));

    let notes = ok(&call(&client, "list_property_annotations", json!({}))
        .await
        .unwrap());
    assert!(
        notes["items"].as_array().is_some_and(|a| !a.is_empty()),
        "{notes}"
    );

    let custom = ok(
        &call(&client, "get_custom_dimensions_and_metrics", json!({}))
            .await
            .unwrap(),
    );
    assert_eq!(
        custom["custom_dimensions"][0]["api_name"],
        "customEvent:shoe_size"
    );
    assert_eq!(
        custom["custom_metrics"][0]["api_name"],
        "customEvent:loyalty_points"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn run_report_resolves_relative_dates_and_types_values() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    let r = call(
        &client,
        "run_report",
        json!({
            "date_ranges": last_week(),
            "dimensions": ["date"],
            "metrics": ["sessions", "engagementRate"],
            "order_bys": [{"dimension": {"dimension_name": "date"}}]
        }),
    )
    .await
    .unwrap();
    let out = ok(&r);
    let rows = keyed(&out);
    let rows = rows.as_array().expect("rows");
    let dates: Vec<&str> = rows.iter().filter_map(|r| r["date"].as_str()).collect();
    // TODAY is 2026-10-21: 7daysAgo..yesterday is the 14th..20th.
    assert_eq!(
        dates,
        [
            "20261014", "20261015", "20261016", "20261017", "20261018", "20261019", "20261020"
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r["sessions"].as_i64().is_some_and(|s| s > 0)),
        "{out}"
    );
    assert!(rows.iter().all(|r| {
        r["engagementRate"]
            .as_f64()
            .is_some_and(|e| (0.0..=1.0).contains(&e))
    }));
    assert_eq!(out["row_count"], 7);
    assert!(out.get("next_offset").is_none());
    assert_eq!(out["metric_types"]["sessions"], "TYPE_INTEGER");
    assert_eq!(
        out["columns"],
        json!(["date", "sessions", "engagementRate"])
    );
    let t = text(&r);
    assert!(t.contains("rows 1–7 of 7") && t.contains("20261014"), "{t}");

    // Same question, same numbers: the data are deterministic.
    let again = ok(&call(
        &client,
        "run_report",
        json!({"date_ranges": last_week(), "dimensions": ["date"], "metrics": ["sessions", "engagementRate"], "order_bys": [{"dimension": {"dimension_name": "date"}}]}),
    )
    .await
    .unwrap());
    assert_eq!(keyed(&again), keyed(&out));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn run_report_pages_without_losing_rows() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    let args = |limit: Option<u64>, offset: u64| {
        let mut a = json!({
            "date_ranges": [{"start_date": "28daysAgo", "end_date": "yesterday"}],
            "dimensions": ["date", "deviceCategory"],
            "metrics": ["sessions"],
            "order_bys": [{"dimension": {"dimension_name": "date"}}, {"dimension": {"dimension_name": "deviceCategory"}}],
            "offset": offset
        });
        if let Some(l) = limit {
            a["limit"] = json!(l);
        }
        a
    };
    let all = ok(&call(&client, "run_report", args(Some(1000), 0))
        .await
        .unwrap());
    let total = all["row_count"].as_u64().expect("row_count");
    assert!(total > 30, "enough rows to page: {total}");
    let mut paged = Vec::new();
    let mut offset = 0;
    let mut pages = 0;
    loop {
        let page = call(&client, "run_report", args(Some(25), offset))
            .await
            .unwrap();
        let out = ok(&page);
        assert_eq!(out["row_count"].as_u64(), Some(total));
        paged.extend(keyed(&out).as_array().cloned().unwrap_or_default());
        pages += 1;
        match out["next_offset"].as_u64() {
            Some(next) => {
                assert!(
                    text(&page).contains(&format!("offset={next}")),
                    "the text says how to get more"
                );
                offset = next;
            }
            None => break,
        }
        assert!(pages < 100);
    }
    assert_eq!(paged.len() as u64, total);
    assert_eq!(Value::Array(paged), keyed(&all));
    // Without a limit the tool pages at 100 rows, never silently.
    let default = ok(&call(&client, "run_report", args(None, 0)).await.unwrap());
    assert_eq!(
        keyed(&default).as_array().map(Vec::len),
        Some(100.min(total as usize))
    );
    assert_eq!(
        default["next_offset"].as_u64(),
        (total > 100).then_some(100)
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn two_date_ranges_filters_and_totals() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    let out = ok(&call(
        &client,
        "run_report",
        json!({
            "date_ranges": [
                {"start_date": "7daysAgo", "end_date": "yesterday", "name": "this_week"},
                {"start_date": "14daysAgo", "end_date": "8daysAgo", "name": "last_week"}
            ],
            "dimensions": ["sessionDefaultChannelGroup"],
            "metrics": ["sessions"],
            "dimension_filter": {"filter": {"field_name": "sessionDefaultChannelGroup", "in_list_filter": {"values": ["Organic Search", "Direct"]}}},
            "metric_aggregations": ["TOTAL"]
        }),
    )
    .await
    .unwrap());
    let rows = keyed(&out);
    let rows = rows.as_array().expect("rows");
    let ranges: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r["dateRange"].as_str())
        .collect();
    assert_eq!(ranges, BTreeSet::from(["last_week", "this_week"]), "{out}");
    let channels: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r["sessionDefaultChannelGroup"].as_str())
        .collect();
    assert_eq!(channels, BTreeSet::from(["Direct", "Organic Search"]));
    assert!(
        !out["totals"].as_array().expect("totals").is_empty(),
        "{out}"
    );

    // The same filter as text (what the schema publishes) reads the same rows.
    let mut as_text = json!({
        "date_ranges": [
            {"start_date": "7daysAgo", "end_date": "yesterday", "name": "this_week"},
            {"start_date": "14daysAgo", "end_date": "8daysAgo", "name": "last_week"}
        ],
        "dimensions": ["sessionDefaultChannelGroup"],
        "metrics": ["sessions"],
        "dimension_filter": "sessionDefaultChannelGroup IN ('organic search', 'DIRECT')",
        "metric_aggregations": ["TOTAL"]
    });
    let text_out = ok(&call(&client, "run_report", as_text.clone()).await.unwrap());
    assert_eq!(keyed(&text_out), keyed(&out), "{text_out}");
    assert_eq!(text_out["totals"], out["totals"]);
    // Nesting, negation and a metric filter, in one line each.
    as_text["dimension_filter"] = json!(
        "(sessionDefaultChannelGroup = 'Direct' OR sessionDefaultChannelGroup BEGINS_WITH 'Organic') AND NOT sessionDefaultChannelGroup CONTAINS 'Paid'"
    );
    as_text["metric_filter"] = json!("sessions >= 1");
    let nested = ok(&call(&client, "run_report", as_text.clone()).await.unwrap());
    let nested_rows = keyed(&nested);
    let channels: BTreeSet<&str> = nested_rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["sessionDefaultChannelGroup"].as_str())
        .collect();
    assert!(
        !channels.is_empty()
            && channels.is_subset(&BTreeSet::from([
                "Direct",
                "Organic Search",
                "Organic Social",
                "Organic Shopping",
                "Organic Video"
            ])),
        "{nested}"
    );
    // A filter that does not parse is the model's to fix: where, and what was expected.
    as_text["dimension_filter"] = json!("sessionDefaultChannelGroup = Direct");
    let e = err(&call(&client, "run_report", as_text).await.unwrap());
    assert!(
        e.contains("dimension_filter")
            && e.contains("expected a quoted value")
            && e.contains("position 30"),
        "{e}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn realtime_funnel_and_conversions_reports() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;

    let rt = ok(&call(
        &client,
        "run_realtime_report",
        json!({"dimensions": ["country"], "metrics": ["activeUsers"]}),
    )
    .await
    .unwrap());
    assert!(keyed(&rt).as_array().is_some_and(|r| !r.is_empty()), "{rt}");

    let funnel = call(
        &client,
        "run_funnel_report",
        json!({"funnel_steps": [
            {"name": "View", "event": "view_item"},
            {"name": "Cart", "event": "add_to_cart"},
            {"name": "Purchase", "event": "purchase"}
        ], "date_ranges": last_week()}),
    )
    .await
    .unwrap();
    let f = ok(&funnel);
    let steps = keyed(&f["funnel_table"]);
    let steps = steps.as_array().expect("funnel rows");
    assert!(steps.len() >= 3, "{f}");
    let users: Vec<f64> = steps
        .iter()
        .take(3)
        .filter_map(|r| r["activeUsers"].as_f64())
        .collect();
    assert!(
        users.windows(2).all(|w| w[0] >= w[1]),
        "funnels narrow: {users:?}"
    );
    assert!(text(&funnel).contains("Purchase"));

    // A step as a filter: an event name condition is an event step, other conditions match
    // fields; the same funnel by event names and by filters has the same counts.
    let by_filter = ok(&call(
        &client,
        "run_funnel_report",
        json!({"funnel_steps": [
            {"name": "View", "filter": "eventName = 'view_item'"},
            {"name": "Cart", "filter": "eventName = 'add_to_cart'"},
            {"name": "Purchase", "event": "purchase"}
        ], "date_ranges": last_week()}),
    )
    .await
    .unwrap());
    assert_eq!(by_filter["funnel_table"], f["funnel_table"], "{by_filter}");
    let narrowed = ok(&call(
        &client,
        "run_funnel_report",
        json!({"funnel_steps": [
            {"name": "Product page", "filter": "eventName = 'page_view' AND pagePath BEGINS_WITH '/products/'"},
            {"name": "Purchase", "event": "purchase"}
        ], "date_ranges": last_week()}),
    )
    .await
    .unwrap());
    assert!(
        keyed(&narrowed["funnel_table"])
            .as_array()
            .is_some_and(|r| r.len() >= 2),
        "{narrowed}"
    );
    let e = err(&call(
        &client,
        "run_funnel_report",
        json!({"funnel_steps": [{"event": "view_item", "filter": "eventName = 'x'"}]}),
    )
    .await
    .unwrap());
    assert!(
        e.contains("funnel_steps[0] must set exactly one of event"),
        "{e}"
    );

    let conv = ok(&call(
        &client,
        "run_conversions_report",
        json!({
            "date_ranges": last_week(),
            "dimensions": ["defaultChannelGroup"],
            "metrics": ["advertiserAdCost", "allConversionsByConversionDate"],
            "conversion_spec": {"conversion_actions": [], "attribution_model": "DATA_DRIVEN"}
        }),
    )
    .await
    .unwrap());
    assert!(
        keyed(&conv).as_array().is_some_and(|r| !r.is_empty()),
        "{conv}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn unknown_metric_is_named_with_a_suggestion() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    let r = call(
        &client,
        "run_report",
        json!({"date_ranges": last_week(), "metrics": ["pageViews"]}),
    )
    .await
    .unwrap();
    let e = err(&r);
    assert!(e.contains("pageViews"), "{e}");
    assert!(e.contains("screenPageViews"), "suggests the real name: {e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_property_outside_the_grant_is_refused_clearly() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    // 412345678 belongs to another grant (bloom).
    let r = call(
        &client,
        "run_report",
        json!({"property_id": "412345678", "date_ranges": last_week(), "metrics": ["sessions"]}),
    )
    .await
    .unwrap();
    let e = err(&r);
    assert!(
        e.contains("No access to Google Analytics property 412345678"),
        "{e}"
    );
    assert!(e.contains("get_account_summaries"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_grant_without_the_analytics_scope_says_so() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-gsc-only-e2e").unwrap();
    let client = connect(ga4_command(&sandbox, &creds, &[])).await.unwrap();
    let e = err(&call(&client, "get_account_summaries", json!({}))
        .await
        .unwrap());
    assert!(e.contains("scope"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn expired_access_tokens_are_refreshed_transparently() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    assert_eq!(
        sandbox.counters().await.unwrap()["token_refreshes"]["acme"],
        1,
        "the token is cached"
    );
    sandbox.expire_tokens().await.unwrap();
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    assert_eq!(
        sandbox.counters().await.unwrap()["token_refreshes"]["acme"],
        2,
        "one refresh after the 401"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_revoked_grant_asks_to_reconnect() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    sandbox.revoke("acme").await.unwrap();
    let e = err(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    assert!(
        e.contains("Reconnect the Google Analytics integration"),
        "{e}"
    );
    // The server stays up and keeps answering.
    let e = err(&call(
        &client,
        "run_report",
        json!({"date_ranges": last_week(), "metrics": ["sessions"]}),
    )
    .await
    .unwrap());
    assert!(e.contains("Reconnect"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    sandbox
        .fault(json!({"path_prefix": format!("/v1beta/properties/{ACME}:runReport"), "status": 429, "count": 2, "retry_after_secs": 1}))
        .await
        .unwrap();
    let r = call(
        &client,
        "run_report",
        json!({"date_ranges": last_week(), "metrics": ["sessions"]}),
    )
    .await
    .unwrap();
    ok(&r);
    let counters = sandbox.counters().await.unwrap();
    assert_eq!(counters["faulted"], 2, "{counters}");

    // A 503 that outlasts the retries becomes a clear tool error.
    sandbox
        .fault(json!({"path_prefix": format!("/v1beta/properties/{ACME}:runReport"), "status": 503, "count": 10}))
        .await
        .unwrap();
    let e = err(&call(
        &client,
        "run_report",
        json!({"date_ranges": last_week(), "metrics": ["sessions"]}),
    )
    .await
    .unwrap());
    assert!(e.contains("503") && e.contains("attempt"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn malformed_arguments_are_tool_errors_and_the_server_survives() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = acme(&sandbox, &creds).await;
    let cases = [
        json!({"metrics": ["sessions"]}),
        json!({"date_ranges": "last week", "metrics": ["sessions"]}),
        json!({"date_ranges": last_week(), "metrics": ["sessions"], "limit": -5}),
        json!({"date_ranges": last_week(), "metrics": ["sessions"], "bogus": 1}),
        json!({"date_ranges": [{"start_date": "last tuesday", "end_date": "today"}], "metrics": ["sessions"]}),
        json!({"date_ranges": last_week(), "metrics": ["sessions"], "property_id": "UA-1234-1"}),
    ];
    for args in cases {
        let e = err(&call(&client, "run_report", args.clone()).await.unwrap());
        assert!(!e.is_empty(), "{args}");
    }
    let unknown = call(&client, "no_such_tool", json!({})).await;
    assert!(unknown.is_err(), "unknown tools are protocol errors");
    ok(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn without_a_default_property_the_tool_says_how_to_find_one() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = connect(ga4_command(&sandbox, &creds, &[])).await.unwrap();
    let e = err(&call(&client, "get_property_details", json!({}))
        .await
        .unwrap());
    assert!(
        e.contains("property_id is required") && e.contains("get_account_summaries"),
        "{e}"
    );
    client.cancel().await.unwrap();
}

/// A GA4 API that is not enabled in the OAuth client's project is the operator's to fix, and
/// said so: not "no access to the property".
#[tokio::test]
async fn a_disabled_api_is_not_called_missing_access() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = connect(ga4_command(
        &sandbox,
        &creds,
        &["--property-id", "326784853"],
    ))
    .await
    .unwrap();
    sandbox
        .fault(json!({"path_prefix": "/v1beta/properties/", "status": 403, "reason": "SERVICE_DISABLED", "count": 1}))
        .await
        .unwrap();
    let e = err(&call(
        &client,
        "run_report",
        json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "metrics": ["sessions"]}),
    )
    .await
    .unwrap());
    assert!(e.contains("API is not enabled"), "{e}");
    assert!(!e.contains("No access"), "{e}");
    client.cancel().await.unwrap();
}
