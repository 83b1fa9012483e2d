//! `google-ads-mcp` end to end: the real server binary over stdio against the sandbox's Google
//! Ads API (GAQL search, field metadata, manager accounts, GoogleAdsFailure errors).

use std::collections::BTreeSet;

use berryboo_e2e::{
    BrokerProc, Client, Credentials, Sandbox, call, connect, err, keyed, ok, server_command, shops,
    text,
};
use broker_proto::Provider;
use serde_json::{Value, json};

const CUSTOMER: &str = "1234567890";
const MANAGER: &str = "9876543210";
const CLIENT: &str = "1112223334";
const SEARCH_PATH: &str = "/v26/customers/1234567890/googleAds:search";

/// Keyword × day × device × network over 90 days: more rows than one Google page (10,000).
const BIG_QUERY: &str = "SELECT ad_group_criterion.keyword.text, segments.date, segments.device, \
    segments.ad_network_type, metrics.clicks, metrics.impressions FROM keyword_view \
    WHERE segments.date BETWEEN '2026-07-22' AND '2026-10-19'";

async fn ads(sandbox: &Sandbox, refresh_token: &str, extra: &[&str]) -> (Credentials, Client) {
    let creds = Credentials::google(refresh_token).expect("credentials file");
    let client = connect(server_command(
        "google-ads-mcp",
        sandbox,
        &creds.path(),
        extra,
    ))
    .await
    .expect("google-ads-mcp starts");
    (creds, client)
}

async fn acme(sandbox: &Sandbox) -> (Credentials, Client) {
    ads(
        sandbox,
        "sandbox-refresh-ads-e2e",
        &["--customer-id", "123-456-7890"],
    )
    .await
}

fn rows(out: &Value) -> Vec<Value> {
    keyed(out).as_array().cloned().expect("rows")
}

#[tokio::test]
async fn lists_googles_three_read_only_tools() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "get_resource_metadata",
            "list_accessible_customers",
            "search"
        ]
        .map(String::from)
        .into()
    );
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.read_only_hint, Some(true), "{}", t.name);
        assert!(t.output_schema.is_some(), "{}", t.name);
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn customers_metadata_and_a_built_query() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;

    let out = ok(&call(&client, "list_accessible_customers", json!({}))
        .await
        .unwrap());
    let customers = out["customers"].as_array().unwrap();
    let ids: BTreeSet<&str> = customers
        .iter()
        .filter_map(|c| c["customer.id"].as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from([CUSTOMER, MANAGER]), "{out}");
    let acme = customers
        .iter()
        .find(|c| c["customer.id"] == CUSTOMER)
        .unwrap();
    assert_eq!(acme["customer.descriptive_name"], "Acme Shop");
    assert_eq!(acme["customer.currency_code"], "PLN");
    let manager = customers
        .iter()
        .find(|c| c["customer.id"] == MANAGER)
        .unwrap();
    assert_eq!(manager["customer.manager"], true, "{manager}");
    // `contains` matches a name (case-insensitive) or an id written with dashes.
    for needle in ["SHOP", "123-456-7890"] {
        let some = ok(&call(
            &client,
            "list_accessible_customers",
            json!({"contains": needle}),
        )
        .await
        .unwrap());
        let ids: Vec<&str> = some["customers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["customer.id"].as_str())
            .collect();
        assert_eq!(ids, [CUSTOMER], "{needle}: {some}");
    }

    let meta = ok(&call(
        &client,
        "get_resource_metadata",
        json!({"resource_name": "campaign"}),
    )
    .await
    .unwrap());
    let selectable: Vec<&str> = meta["selectable"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(selectable.contains(&"campaign.name"), "{meta}");
    assert!(
        meta["selectable_with"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "metrics.clicks"),
        "{meta}"
    );
    let e = err(&call(
        &client,
        "get_resource_metadata",
        json!({"resource_name": "campaing"}),
    )
    .await
    .unwrap());
    assert!(e.contains("no resource \"campaing\""), "{e}");

    // resource + fields + conditions + orderings + limit, without writing GAQL.
    let out = ok(&call(
        &client,
        "search",
        json!({
            "resource": "campaign",
            "fields": ["campaign.name", "metrics.clicks", "metrics.cost_micros"],
            "conditions": ["segments.date DURING LAST_30_DAYS"],
            "orderings": ["metrics.clicks DESC"],
            "limit": 3
        }),
    )
    .await
    .unwrap());
    assert_eq!(out["customer_id"], CUSTOMER);
    assert!(out["query"].as_str().unwrap().contains("LIMIT 3"), "{out}");
    let r = rows(&out);
    assert!(!r.is_empty() && r.len() <= 3, "{out}");
    let clicks: Vec<i64> = r
        .iter()
        .map(|row| row["metrics.clicks"].as_i64().expect("clicks as a number"))
        .collect();
    assert!(clicks.windows(2).all(|w| w[0] >= w[1]), "{clicks:?}");
    assert!(r[0]["campaign.name"].is_string(), "{out}");
    assert!(r[0]["metrics.cost_micros"].is_i64(), "{out}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn search_pages_past_one_google_page_with_its_cursor() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let mut args = json!({"query": BIG_QUERY, "max_rows": 10000});
    let mut all = 0usize;
    let mut total = None;
    let mut calls = 0;
    loop {
        let out = ok(&call(&client, "search", args.clone()).await.unwrap());
        calls += 1;
        let n = rows(&out).len();
        assert!(n <= 10_000);
        all += n;
        total = total.or(out["total_rows"].as_u64());
        match out["next_page_token"].as_str() {
            Some(t) => args["page_token"] = json!(t),
            None => break,
        }
        assert!(calls < 20, "paging terminates");
    }
    let total = total.expect("total on the first page") as usize;
    assert!(total > 10_000, "{total}");
    assert_eq!(all, total, "every row once");
    assert!(calls >= 2);

    // Smaller slices of one Google page: the same rows, in the same order.
    let first = ok(&call(
        &client,
        "search",
        json!({"query": BIG_QUERY, "max_rows": 1000}),
    )
    .await
    .unwrap());
    assert_eq!(rows(&first).len(), 1000);
    let token = first["next_page_token"].as_str().unwrap();
    let second = ok(&call(
        &client,
        "search",
        json!({"query": BIG_QUERY, "max_rows": 1000, "page_token": token}),
    )
    .await
    .unwrap());
    let both = ok(&call(
        &client,
        "search",
        json!({"query": BIG_QUERY, "max_rows": 2000}),
    )
    .await
    .unwrap());
    let (first, second, both) = (rows(&first), rows(&second), rows(&both));
    let joined: Vec<&Value> = first.iter().chain(&second).collect();
    assert_eq!(joined, both.iter().collect::<Vec<_>>());

    // Default slice: 200 rows, and the text says how to go on.
    let r = call(&client, "search", json!({"query": BIG_QUERY}))
        .await
        .unwrap();
    assert_eq!(rows(&ok(&r)).len(), 200);
    assert!(text(&r).contains("page_token"), "{}", text(&r));

    // A cursor belongs to its query.
    let e = err(&call(
        &client,
        "search",
        json!({"query": "SELECT campaign.name FROM campaign", "page_token": token}),
    )
    .await
    .unwrap());
    assert!(e.contains("page_token"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn query_and_permission_errors_say_what_to_do() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let e = err(&call(
        &client,
        "search",
        json!({"query": "SELECT campaign.colour FROM campaign"}),
    )
    .await
    .unwrap());
    assert!(
        e.contains("Google Ads rejected the query")
            && e.contains("campaign.colour")
            && e.contains("get_resource_metadata"),
        "{e}"
    );
    let e = err(&call(
        &client,
        "search",
        json!({"query": "SELECT customer.id FROM customer", "customer_id": "2345678901"}),
    )
    .await
    .unwrap());
    assert!(
        e.contains("No access to Google Ads customer 2345678901")
            && e.contains("USER_PERMISSION_DENIED"),
        "{e}"
    );
    // A client of a manager: refused directly, readable through the manager.
    let q = json!({"query": "SELECT customer.descriptive_name, customer.currency_code FROM customer", "customer_id": "111-222-3334"});
    let e = err(&call(&client, "search", q.clone()).await.unwrap());
    assert!(e.contains("login_customer_id"), "{e}");
    let mut through = q.clone();
    through["login_customer_id"] = json!(MANAGER);
    let out = ok(&call(&client, "search", through).await.unwrap());
    assert_eq!(out["customer_id"], CLIENT);
    assert_eq!(rows(&out)[0]["customer.descriptive_name"], "Acme Outlet");
    assert_eq!(rows(&out)[0]["customer.currency_code"], "EUR");
    // The manager's own metrics are refused by Google, and the reason is passed on.
    let e = err(&call(
        &client,
        "search",
        json!({"query": "SELECT metrics.clicks FROM customer WHERE segments.date DURING LAST_7_DAYS", "customer_id": MANAGER}),
    )
    .await
    .unwrap());
    assert!(e.starts_with("Google Ads"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn malformed_arguments_are_tool_errors_and_the_server_survives() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let cases = [
        (json!({}), "either query"),
        (
            json!({"query": "SELECT campaign.name FROM campaign", "resource": "campaign"}),
            "either query",
        ),
        (json!({"resource": "campaign"}), "fields"),
        (
            json!({"query": "SELECT campaign.name FROM campaign", "customer_id": "12345"}),
            "customer_id",
        ),
        (
            json!({"query": "SELECT campaign.name FROM campaign", "max_rows": 0}),
            "max_rows",
        ),
        (
            json!({"query": "SELECT campaign.name FROM campaign", "max_rows": "lots"}),
            "max_rows",
        ),
        (
            json!({"query": "SELECT campaign.name FROM campaign", "customerId": CUSTOMER}),
            "customerId",
        ),
        (
            json!({"query": "SELECT campaign.name FROM campaign", "page_token": "not-a-token"}),
            "page_token",
        ),
    ];
    for (args, expected) in cases {
        let e = err(&call(&client, "search", args.clone()).await.unwrap());
        assert!(e.contains(expected), "{args} → {e}");
    }
    let e = err(&call(
        &client,
        "get_resource_metadata",
        json!({"resource_name": "campaign; DROP"}),
    )
    .await
    .unwrap());
    assert!(e.contains("not a resource name"), "{e}");
    ok(&call(
        &client,
        "search",
        json!({"query": "SELECT customer.id FROM customer"}),
    )
    .await
    .unwrap());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn without_a_default_customer_the_tool_says_how_to_find_one() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = ads(&sandbox, "sandbox-refresh-ads-e2e", &[]).await;
    let e = err(&call(
        &client,
        "search",
        json!({"query": "SELECT customer.id FROM customer"}),
    )
    .await
    .unwrap());
    assert!(
        e.contains("customer_id is required") && e.contains("list_accessible_customers"),
        "{e}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn expired_revoked_and_unscoped_credentials() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let q = json!({"query": "SELECT customer.id FROM customer"});
    ok(&call(&client, "search", q.clone()).await.unwrap());
    sandbox.expire_tokens().await.unwrap();
    ok(&call(&client, "search", q.clone()).await.unwrap());
    assert_eq!(
        sandbox.refreshes("ads").await.unwrap(),
        2,
        "one refresh after the 401"
    );
    sandbox.revoke("ads").await.unwrap();
    let e = err(&call(&client, "search", q.clone()).await.unwrap());
    assert!(e.contains("Reconnect the Google Ads integration"), "{e}");
    client.cancel().await.unwrap();

    // A Google grant without the adwords scope.
    let (_c, client) = ads(
        &sandbox,
        "sandbox-refresh-gsc-only-e2e",
        &["--customer-id", CUSTOMER],
    )
    .await;
    let e = err(&call(&client, "search", q).await.unwrap());
    assert!(e.contains("scope"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn quota_errors_are_retried_or_reported_with_the_wait() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = acme(&sandbox).await;
    let q = json!({"query": "SELECT customer.id FROM customer"});
    sandbox
        .fault(
            json!({"path_prefix": SEARCH_PATH, "status": 429, "count": 1, "retry_after_secs": 1}),
        )
        .await
        .unwrap();
    ok(&call(&client, "search", q.clone()).await.unwrap());
    assert_eq!(sandbox.counters().await.unwrap()["faulted"], 1);

    // A wait longer than a tool call should hold is reported, with the time to retry.
    sandbox
        .fault(
            json!({"path_prefix": SEARCH_PATH, "status": 429, "count": 1, "retry_after_secs": 45}),
        )
        .await
        .unwrap();
    let e = err(&call(&client, "search", q).await.unwrap());
    assert!(
        e.contains("quota") && e.contains("Retry in about 45 s"),
        "{e}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn broker_backed_shops_read_their_own_customer_only() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &url, "info", "").await.unwrap();
    let q = json!({"query": "SELECT customer.id, customer.descriptive_name FROM customer"});

    let lease = broker
        .lease(shops::ADS, &[Provider::GoogleAds])
        .await
        .unwrap();
    let client = connect(berryboo_e2e::broker_server_command(
        "google-ads-mcp",
        &sandbox,
        &broker,
        shops::ADS,
        lease.lease.expose(),
    ))
    .await
    .unwrap();
    let out = ok(&call(&client, "search", q.clone()).await.unwrap());
    assert_eq!(out["customer_id"], CUSTOMER, "the integration's customer");
    // The grant also reaches the manager; this shop's server does not.
    let mut other = q.clone();
    other["customer_id"] = json!(MANAGER);
    let e = err(&call(&client, "search", other).await.unwrap());
    assert!(
        e.contains(&format!("{MANAGER} is not this shop's")) && e.contains(CUSTOMER),
        "{e}"
    );
    let listed = ok(&call(&client, "list_accessible_customers", json!({}))
        .await
        .unwrap());
    let ids: Vec<&Value> = listed["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["customer.id"])
        .collect();
    assert_eq!(ids, [&json!(CUSTOMER)], "{listed}");
    client.cancel().await.unwrap();

    // The client shop's integration names the manager: no login_customer_id in the call.
    let lease = broker
        .lease(shops::ADS_CLIENT, &[Provider::GoogleAds])
        .await
        .unwrap();
    let client = connect(berryboo_e2e::broker_server_command(
        "google-ads-mcp",
        &sandbox,
        &broker,
        shops::ADS_CLIENT,
        lease.lease.expose(),
    ))
    .await
    .unwrap();
    let out = ok(&call(&client, "search", q).await.unwrap());
    assert_eq!(out["customer_id"], CLIENT);
    assert_eq!(rows(&out)[0]["customer.descriptive_name"], "Acme Outlet");
    // Listed too, although only its manager is directly accessible.
    let listed = ok(&call(&client, "list_accessible_customers", json!({}))
        .await
        .unwrap());
    assert_eq!(listed["customers"].as_array().unwrap().len(), 1);
    assert_eq!(listed["customers"][0]["customer.id"], CLIENT, "{listed}");
    assert_eq!(
        listed["customers"][0]["customer.descriptive_name"], "Acme Outlet",
        "{listed}"
    );
    client.cancel().await.unwrap();
}

/// Versions before v25 need a developer token on every request: without one the server says
/// so at start (exit 2), instead of failing each call.
#[tokio::test]
async fn an_old_api_version_without_a_developer_token_is_refused_at_start() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-ads-e2e").unwrap();
    let out = server_command(
        "google-ads-mcp",
        &sandbox,
        &creds.path(),
        &["--api-version", "v24"],
    )
    .env_remove("BERRYBOO_GOOGLE_ADS_DEVELOPER_TOKEN")
    .stdin(std::process::Stdio::null())
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("requires a developer token"), "{stderr}");
    assert!(stderr.contains("v25 or later"), "{stderr}");

    // With one, every request carries it: the sandbox refuses v24 calls without it, as Google
    // does (DEVELOPER_TOKEN_PARAMETER_MISSING).
    let mut cmd = server_command(
        "google-ads-mcp",
        &sandbox,
        &creds.path(),
        &["--api-version", "v24", "--customer-id", CUSTOMER],
    );
    cmd.env("BERRYBOO_GOOGLE_ADS_DEVELOPER_TOKEN", "sandbox-dev-token");
    let client = connect(cmd).await.unwrap();
    let out = ok(&call(
        &client,
        "search",
        json!({"query": "SELECT campaign.name FROM campaign"}),
    )
    .await
    .unwrap());
    assert!(!rows(&out).is_empty(), "{out}");
    client.cancel().await.unwrap();
}

/// Google may answer the field service with a shorter page than the query matches: the
/// metadata is the same whole whether it came in one page or in many.
#[tokio::test]
async fn resource_metadata_follows_the_field_services_pages() {
    let whole = Sandbox::start().await.unwrap();
    let paged = Sandbox::start_with(berryboo_e2e::FIXTURES, &["--ads-fields-page-size", "4"])
        .await
        .unwrap();
    let mut answers = Vec::new();
    for sandbox in [&whole, &paged] {
        let (_c, client) = acme(sandbox).await;
        let meta = ok(&call(
            &client,
            "get_resource_metadata",
            json!({"resource_name": "campaign"}),
        )
        .await
        .unwrap());
        client.cancel().await.unwrap();
        answers.push(meta);
    }
    let selectable = answers[0]["selectable"].as_array().map_or(0, Vec::len);
    assert!(selectable > 8, "{}", answers[0]);
    assert_eq!(answers[0], answers[1], "paged metadata differs");
    let calls = |counters: &Value| {
        counters["api_calls_by_method"]["googleads.googleAdsFields.search"]
            .as_u64()
            .unwrap_or(0)
    };
    assert_eq!(
        calls(&whole.counters().await.unwrap()),
        2,
        "one page per query"
    );
    assert!(
        calls(&paged.counters().await.unwrap()) > (selectable / 4) as u64,
        "every page read"
    );
}
