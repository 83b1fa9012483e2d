//! `gsc-mcp` end to end: the real server binary over stdio against the sandbox's Search
//! Console API.

use std::collections::BTreeSet;

use berryboo_e2e::{
    BrokerProc, Client, Credentials, Sandbox, broker_server_command, call, connect, err, keyed, ok,
    server_command, shops, text,
};
use broker_proto::Provider;
use serde_json::{Value, json};

const ACME: &str = "sc-domain:acme-shop.example";

async fn gsc(sandbox: &Sandbox, creds: &Credentials, extra: &[&str]) -> Client {
    connect(server_command("gsc-mcp", sandbox, &creds.path(), extra))
        .await
        .expect("gsc-mcp starts")
}

async fn acme(sandbox: &Sandbox) -> (Credentials, Client) {
    let creds = Credentials::google("sandbox-refresh-gsc-only-e2e").expect("credentials file");
    let client = gsc(sandbox, &creds, &["--site-url", ACME]).await;
    (creds, client)
}

#[tokio::test]
async fn lists_eleven_read_only_tools() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let expected: BTreeSet<String> = [
        "list_properties",
        "get_site_details",
        "get_search_analytics",
        "get_performance_overview",
        "compare_search_periods",
        "get_search_by_page_query",
        "inspect_url",
        "batch_url_inspection",
        "check_indexing_issues",
        "get_sitemaps",
        "get_sitemap_details",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, expected);
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    );
    // Only the row tools publish an output schema (servers/gsc/src/report.rs says why); it
    // tells a reader that each row is an array in `columns` order.
    let with_schema: BTreeSet<&str> = tools
        .iter()
        .filter(|t| t.output_schema.is_some())
        .map(|t| t.name.as_ref())
        .collect();
    assert_eq!(
        with_schema,
        BTreeSet::from(["get_search_analytics", "get_search_by_page_query"])
    );
    for t in tools.iter().filter(|t| t.output_schema.is_some()) {
        let rows = &t.output_schema.as_ref().unwrap()["properties"]["rows"];
        assert!(
            rows["description"]
                .as_str()
                .is_some_and(|d| d.contains("`columns` order")),
            "{}: {rows}",
            t.name
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn properties_and_site_details() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let out = ok(&call(&client, "list_properties", json!({})).await.unwrap());
    let sites: Vec<&str> = out["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["site_url"].as_str())
        .collect();
    assert!(
        sites.contains(&ACME) && sites.contains(&"https://www.gsc-only.example/"),
        "{out}"
    );
    // Credentials that reach many properties: `contains` narrows the list.
    let some = call(&client, "list_properties", json!({"contains": "GSC-ONLY"}))
        .await
        .unwrap();
    assert_eq!(
        ok(&some)["sites"],
        json!([{"site_url": "https://www.gsc-only.example/", "permission_level": out["sites"].as_array().unwrap().iter().find(|s| s["site_url"] == "https://www.gsc-only.example/").unwrap()["permission_level"]}])
    );
    assert!(
        text(&some).starts_with(&format!(
            "1 of {} propert(ies) match \"gsc-only\"",
            sites.len()
        )),
        "{}",
        text(&some)
    );
    let d = ok(&call(&client, "get_site_details", json!({})).await.unwrap());
    assert_eq!(d["site_url"], ACME);
    assert_eq!(d["permission_level"], "siteOwner");
    assert!(d["sitemaps"].as_u64().unwrap() >= 1, "{d}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn search_analytics_pages_through_every_row() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let args = |limit: u32, start: u64| json!({"start_date": "28daysAgo", "end_date": "4daysAgo", "dimensions": ["query"], "row_limit": limit, "start_row": start});
    let all = ok(&call(&client, "get_search_analytics", args(25_000, 0))
        .await
        .unwrap());
    let total = keyed(&all);
    let total = total.as_array().unwrap().len();
    assert!(total > 150, "a real vocabulary: {total}");
    assert!(all.get("next_start_row").is_none());
    let mut paged = Vec::new();
    let mut start = 0;
    loop {
        let page = call(&client, "get_search_analytics", args(60, start))
            .await
            .unwrap();
        let out = ok(&page);
        paged.extend(keyed(&out).as_array().cloned().unwrap_or_default());
        match out["next_start_row"].as_u64() {
            Some(next) => {
                assert!(text(&page).contains(&format!("start_row={next}")));
                start = next;
            }
            None => break,
        }
    }
    assert_eq!(
        Value::Array(paged),
        keyed(&all),
        "pages add up to the whole, in order"
    );
    // Rows are sorted by clicks and keyed by the dimension's name.
    let clicks: Vec<f64> = keyed(&all)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["clicks"].as_f64().unwrap())
        .collect();
    assert!(clicks.windows(2).all(|w| w[0] >= w[1]));
    assert!(keyed(&all)[0]["query"].is_string());
    assert_eq!(
        all["start_date"], "2026-09-23",
        "relative dates resolved against the fixed today"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn filters_overview_and_comparison_agree_with_each_other() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let filtered = ok(&call(
        &client,
        "get_search_analytics",
        json!({"start_date": "14daysAgo", "end_date": "4daysAgo", "dimensions": ["country", "device"],
               "filters": [{"dimension": "country", "operator": "equals", "expression": "pol"}]}),
    )
    .await
    .unwrap());
    let rows = keyed(&filtered);
    let rows = rows.as_array().unwrap();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["country"] == "pol"),
        "{filtered}"
    );

    let overview = ok(&call(
        &client,
        "get_performance_overview",
        json!({"start_date": "14daysAgo", "end_date": "4daysAgo"}),
    )
    .await
    .unwrap());
    let daily: f64 = overview["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["clicks"].as_f64().unwrap())
        .sum();
    assert_eq!(overview["daily"].as_array().unwrap().len(), 11);
    assert_eq!(
        overview["totals"]["clicks"].as_f64().unwrap(),
        daily,
        "totals = sum of days"
    );

    let compare = call(
        &client,
        "compare_search_periods",
        json!({"period_a": {"start_date": "28daysAgo", "end_date": "15daysAgo"}, "period_b": {"start_date": "14daysAgo", "end_date": "4daysAgo"}, "dimension": "page", "limit": 10}),
    )
    .await
    .unwrap();
    let c = ok(&compare);
    let movers = c["movers"].as_array().unwrap();
    assert_eq!(movers.len(), 10);
    let changes: Vec<f64> = movers
        .iter()
        .map(|m| m["clicks_change"].as_f64().unwrap().abs())
        .collect();
    assert!(
        changes.windows(2).all(|w| w[0] >= w[1]),
        "biggest movers first: {changes:?}"
    );
    assert_eq!(c["period_b"]["totals"]["clicks"].as_f64().unwrap(), daily);
    assert!(text(&compare).contains("Biggest movers by page"));

    // By search appearance (grouped alone, as Search Console requires): each mover is a rich
    // result type, and the later period's totals are the same whatever the grouping.
    let compare = call(
        &client,
        "compare_search_periods",
        json!({"period_a": {"start_date": "28daysAgo", "end_date": "15daysAgo"}, "period_b": {"start_date": "14daysAgo", "end_date": "4daysAgo"}, "dimension": "searchAppearance"}),
    )
    .await
    .unwrap();
    let c = ok(&compare);
    assert_eq!(c["dimension"], "searchAppearance");
    let movers = c["movers"].as_array().unwrap();
    assert!(!movers.is_empty(), "{c}");
    assert!(
        movers
            .iter()
            .all(|m| m["searchAppearance"].as_str().is_some_and(
                |k| !k.is_empty() && k.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_')
            )),
        "{movers:?}"
    );
    assert_eq!(c["period_b"]["totals"]["clicks"].as_f64().unwrap(), daily);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn page_queries_inspection_indexing_issues_and_sitemaps() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let pages = ok(&call(&client, "get_search_analytics", json!({"start_date": "28daysAgo", "end_date": "4daysAgo", "dimensions": ["page"], "row_limit": 5})).await.unwrap());
    let top = keyed(&pages)[0]["page"].as_str().unwrap().to_owned();
    let by_page = ok(&call(
        &client,
        "get_search_by_page_query",
        json!({"page_url": top, "start_date": "28daysAgo", "end_date": "4daysAgo"}),
    )
    .await
    .unwrap());
    assert!(!keyed(&by_page).as_array().unwrap().is_empty());
    assert_eq!(
        by_page["columns"],
        json!(["query", "clicks", "impressions", "ctr", "position"])
    );

    let one = ok(&call(&client, "inspect_url", json!({"url": top}))
        .await
        .unwrap());
    assert!(
        one["inspection"]["inspectionResult"]["indexStatusResult"]["verdict"].is_string(),
        "{one}"
    );
    // A URL of another site is outside the property: said so, not "no access".
    let before = sandbox.counters().await.unwrap()["api_calls_total"].clone();
    let outside = err(&call(
        &client,
        "inspect_url",
        json!({"url": "https://other-shop.example/"}),
    )
    .await
    .unwrap());
    assert!(
        outside.contains("is not part of the Search Console property"),
        "{outside}"
    );
    assert_eq!(
        sandbox.counters().await.unwrap()["api_calls_total"],
        before,
        "nothing is asked upstream"
    );
    let urls: Vec<String> = keyed(&pages)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["page"].as_str().map(str::to_owned))
        .collect();
    let batch = ok(
        &call(&client, "batch_url_inspection", json!({"urls": urls}))
            .await
            .unwrap(),
    );
    assert_eq!(batch["results"].as_array().unwrap().len(), 5);
    assert_eq!(
        batch["summary"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        5
    );
    let issues = ok(
        &call(&client, "check_indexing_issues", json!({"top_pages": 30}))
            .await
            .unwrap(),
    );
    assert_eq!(issues["checked"], 30);
    for i in issues["issues"].as_array().unwrap() {
        assert_ne!(i["verdict"], "PASS");
        assert!(i["advice"].as_str().unwrap().len() > 20, "{i}");
    }

    let maps = ok(&call(&client, "get_sitemaps", json!({})).await.unwrap());
    let first = maps["sitemaps"][0]["path"].as_str().unwrap().to_owned();
    let detail = ok(&call(
        &client,
        "get_sitemap_details",
        json!({"sitemap_url": first}),
    )
    .await
    .unwrap());
    assert_eq!(detail["sitemaps"][0]["path"], first);
    let e = err(&call(
        &client,
        "get_sitemap_details",
        json!({"sitemap_url": "https://acme-shop.example/nope.xml"}),
    )
    .await
    .unwrap());
    assert!(
        e.contains("no such") || e.contains("not found") || e.contains("Search Console"),
        "{e}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_properties_dates_and_foreign_sites_are_explained() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let q =
        |site: &str| json!({"site_url": site, "start_date": "7daysAgo", "end_date": "4daysAgo"});
    let e = err(&call(
        &client,
        "get_search_analytics",
        q("https://www.gsc-only.example"),
    )
    .await
    .unwrap());
    assert!(e.contains("ends with '/'"), "{e}");
    let e = err(
        &call(&client, "get_search_analytics", q("acme-shop.example"))
            .await
            .unwrap(),
    );
    assert!(e.contains("sc-domain:acme-shop.example"), "{e}");
    let e = err(&call(
        &client,
        "get_search_analytics",
        q("sc-domain:someone-else.example"),
    )
    .await
    .unwrap());
    assert!(
        e.contains("No access to Search Console property sc-domain:someone-else.example"),
        "{e}"
    );
    let e = err(&call(
        &client,
        "get_search_analytics",
        json!({"start_date": "last week", "end_date": "today"}),
    )
    .await
    .unwrap());
    assert!(e.contains("start_date"), "{e}");
    let e = err(&call(
        &client,
        "get_search_analytics",
        json!({"start_date": "7daysAgo", "end_date": "today", "row_limit": 30000}),
    )
    .await
    .unwrap());
    assert!(e.contains("25000"), "{e}");
    let e = err(&call(
        &client,
        "get_search_analytics",
        json!({"start_date": "7daysAgo", "end_date": "today", "dimensions": ["keyword"]}),
    )
    .await
    .unwrap());
    assert!(e.contains("dimensions"), "the argument path is named: {e}");
    // Two periods share no dates: comparing by date would make every key new or gone, so the
    // schema does not offer it and the refusal lists what can be compared.
    let e = err(&call(
        &client,
        "compare_search_periods",
        json!({"period_a": {"start_date": "28daysAgo", "end_date": "15daysAgo"}, "period_b": {"start_date": "14daysAgo", "end_date": "4daysAgo"}, "dimension": "date"}),
    )
    .await
    .unwrap());
    assert!(
        e.contains("dimension") && e.contains("`searchAppearance`") && e.contains("`query`"),
        "{e}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_grant_without_the_webmasters_scope_says_so() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let client = gsc(&sandbox, &creds, &["--site-url", ACME]).await;
    let e = err(&call(&client, "list_properties", json!({})).await.unwrap());
    assert!(e.contains("scope"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn expired_revoked_credentials_and_rate_limits() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let q = json!({"start_date": "7daysAgo", "end_date": "yesterday", "dimensions": ["date"]});
    ok(&call(&client, "get_search_analytics", q.clone())
        .await
        .unwrap());
    sandbox.expire_tokens().await.unwrap();
    ok(&call(&client, "get_search_analytics", q.clone())
        .await
        .unwrap());
    assert_eq!(
        sandbox.refreshes("gsc-only").await.unwrap(),
        2,
        "one refresh after the 401"
    );

    // A short 429 is retried; one asking for longer than a call should hold is reported.
    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "status": 429, "count": 1, "retry_after_secs": 1}))
        .await
        .unwrap();
    ok(&call(&client, "get_search_analytics", q.clone())
        .await
        .unwrap());
    assert_eq!(sandbox.counters().await.unwrap()["faulted"], 1);
    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "status": 429, "count": 1, "retry_after_secs": 60}))
        .await
        .unwrap();
    let e = err(&call(&client, "get_search_analytics", q.clone())
        .await
        .unwrap());
    assert!(e.contains("429") || e.contains("rate limit"), "{e}");

    sandbox.revoke("gsc-only").await.unwrap();
    let e = err(&call(&client, "get_search_analytics", q).await.unwrap());
    assert!(e.contains("Reconnect"), "{e}");
    // The server stays up and keeps answering.
    let e = err(&call(&client, "list_properties", json!({})).await.unwrap());
    assert!(e.contains("Reconnect"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_broker_backed_shop_reads_its_own_property() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &url, "info", "").await.unwrap();
    let lease = broker.lease(shops::BLOOM, &[Provider::Gsc]).await.unwrap();
    let client = connect(broker_server_command(
        "gsc-mcp",
        &sandbox,
        &broker,
        shops::BLOOM,
        lease.lease.expose(),
    ))
    .await
    .unwrap();
    // The property comes from the integration: no site_url anywhere.
    let out = ok(&call(
        &client,
        "get_performance_overview",
        json!({"start_date": "28daysAgo", "end_date": "yesterday"}),
    )
    .await
    .unwrap());
    assert_eq!(out["site_url"], "sc-domain:bloom.example", "{out}");
    // Another shop's site is out of reach even though the grant behind it could read it, and
    // it is not listed.
    let e = err(
        &call(&client, "get_site_details", json!({"site_url": ACME}))
            .await
            .unwrap(),
    );
    assert!(
        e.contains(&format!("{ACME} is not this shop's")) && e.contains("sc-domain:bloom.example"),
        "{e}"
    );
    let sites = ok(&call(&client, "list_properties", json!({})).await.unwrap());
    let listed: Vec<&Value> = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["site_url"])
        .collect();
    assert_eq!(listed, [&json!("sc-domain:bloom.example")], "{sites}");
    client.cancel().await.unwrap();
}

/// Quota errors Search Console sends as 403 are rate limits, not "no access": a per-minute
/// limit is waited out (its delay may come only in the body's RetryInfo) and the call
/// succeeds; a daily quota and an API not enabled in the OAuth client's project each get their
/// own message.
#[tokio::test]
async fn quota_403s_and_a_disabled_api_are_named_for_what_they_are() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let analytics =
        json!({"start_date": "28daysAgo", "end_date": "4daysAgo", "dimensions": ["query"]});
    ok(&call(&client, "get_search_analytics", analytics.clone())
        .await
        .unwrap());
    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "status": 403, "reason": "rateLimitExceeded",
                      "retry_after_secs": 1, "retry_in_body_only": true, "count": 1}))
        .await
        .unwrap();
    let before = sandbox.counters().await.unwrap()["faulted"]
        .as_u64()
        .unwrap();
    ok(&call(&client, "get_search_analytics", analytics.clone())
        .await
        .unwrap());
    assert_eq!(
        sandbox.counters().await.unwrap()["faulted"]
            .as_u64()
            .unwrap(),
        before + 1,
        "one 403 rate limit, waited out, then the answer"
    );

    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "status": 403, "reason": "quotaExceeded", "count": 1}))
        .await
        .unwrap();
    let daily = err(&call(&client, "get_search_analytics", analytics.clone())
        .await
        .unwrap());
    assert!(daily.contains("rate limit or quota reached"), "{daily}");
    assert!(!daily.contains("denied access"), "{daily}");

    sandbox
        .fault(json!({"path_prefix": "/webmasters/v3/sites/", "status": 403, "reason": "SERVICE_DISABLED", "count": 1}))
        .await
        .unwrap();
    let disabled = err(&call(&client, "get_search_analytics", analytics)
        .await
        .unwrap());
    assert!(disabled.contains("API is not enabled"), "{disabled}");
    assert!(
        disabled.contains("An operator must enable it"),
        "{disabled}"
    );
}

/// A tool that makes many upstream requests is bounded as a whole: each slow inspection is
/// within the request timeout, but thirty of them are not within the call's budget, and the
/// call says so instead of hanging on.
#[tokio::test]
async fn a_tool_call_is_bounded_as_a_whole() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-gsc-only-e2e").expect("credentials file");
    let client = gsc(
        &sandbox,
        &creds,
        &["--site-url", ACME, "--request-timeout", "2"],
    )
    .await;
    ok(&call(&client, "get_site_details", json!({})).await.unwrap());
    sandbox
        .fault(json!({"path_prefix": "/v1/urlInspection/", "delay_ms": 1500, "count": 1000}))
        .await
        .unwrap();
    let e = err(
        &call(&client, "check_indexing_issues", json!({"top_pages": 30}))
            .await
            .unwrap(),
    );
    assert!(
        e.contains("did not finish check_indexing_issues within 2 s"),
        "{e}"
    );
    // The session goes on.
    sandbox.clear_faults().await.unwrap();
    ok(&call(&client, "get_site_details", json!({})).await.unwrap());
}
