//! `meta-ads-mcp` end to end: the real server binary over stdio against the sandbox's Meta
//! Marketing API.

use std::collections::BTreeSet;
use std::process::Stdio;

use berryboo_e2e::{
    BrokerProc, Client, Credentials, META_APP_CONFIG, Sandbox, broker_server_command, call,
    connect, err, keyed, ok, server_command, shops,
};
use broker_proto::Provider;
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

async fn meta(sandbox: &Sandbox, token: &str, extra: &[&str]) -> (Credentials, Client) {
    let creds = Credentials::meta(token).expect("credentials file");
    let client = connect(server_command(
        "meta-ads-mcp",
        sandbox,
        &creds.path(),
        extra,
    ))
    .await
    .expect("meta-ads-mcp starts");
    (creds, client)
}

#[tokio::test]
async fn lists_eleven_read_only_tools() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = meta(&sandbox, "sandbox-meta-acme-e2e", &[]).await;
    let names: BTreeSet<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    let expected: BTreeSet<String> = [
        "get_ad_accounts",
        "get_account_info",
        "get_campaigns",
        "get_campaign_details",
        "get_adsets",
        "get_adset_details",
        "get_ads",
        "get_ad_details",
        "get_ad_creatives",
        "get_creative_details",
        "get_insights",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, expected);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn accounts_objects_and_paging() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = meta(
        &sandbox,
        "sandbox-meta-acme-e2e",
        &["--ad-account-id", "act_111"],
    )
    .await;
    let accounts = ok(&call(&client, "get_ad_accounts", json!({})).await.unwrap());
    let ids: BTreeSet<&str> = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from(["act_111", "act_112"]));
    let info = ok(&call(&client, "get_account_info", json!({})).await.unwrap());
    assert_eq!(info["object"]["name"], "Acme Shop");
    assert!(info["object"]["currency"].is_string());

    let all = ok(&call(&client, "get_campaigns", json!({"limit": 500}))
        .await
        .unwrap());
    let total = all["items"].as_array().unwrap().len();
    assert!(total >= 4, "{all}");
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = json!({"limit": 3});
        if let Some(a) = &after {
            args["after"] = json!(a);
        }
        let page = ok(&call(&client, "get_campaigns", args).await.unwrap());
        paged.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => break,
        }
        assert!(paged.len() <= total);
    }
    assert_eq!(Value::Array(paged), all["items"]);
    let active = ok(&call(
        &client,
        "get_campaigns",
        json!({"effective_status": ["ACTIVE"], "limit": 500}),
    )
    .await
    .unwrap());
    assert!(
        active["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["effective_status"] == "ACTIVE")
    );
    // Each list offers only its edge's delivery states: an ad's state on campaigns is refused
    // with the valid ones, not passed on to fail upstream.
    let tools = client.list_all_tools().await.unwrap();
    let states = |tool: &str| {
        let t = tools.iter().find(|t| t.name == tool).unwrap();
        serde_json::to_string(&t.input_schema).unwrap()
    };
    assert!(!states("get_campaigns").contains("ADSET_PAUSED"));
    assert!(states("get_ads").contains("ADSET_PAUSED"));
    assert!(!states("get_ad_creatives").contains("effective_status"));
    let refused = berryboo_e2e::text(
        &call(
            &client,
            "get_campaigns",
            json!({"effective_status": ["ADSET_PAUSED"]}),
        )
        .await
        .unwrap(),
    );
    assert!(
        refused.contains("Invalid arguments for get_campaigns"),
        "{refused}"
    );
    ok(&call(
        &client,
        "get_ads",
        json!({"effective_status": ["ADSET_PAUSED"]}),
    )
    .await
    .unwrap());

    let campaign = all["items"][0]["id"].as_str().unwrap().to_owned();
    let detail = ok(
        &call(&client, "get_campaign_details", json!({"id": campaign}))
            .await
            .unwrap(),
    );
    assert_eq!(detail["object"]["id"], campaign);
    let adsets = ok(&call(&client, "get_adsets", json!({"limit": 5}))
        .await
        .unwrap());
    let adset = adsets["items"][0]["id"].as_str().unwrap().to_owned();
    ok(&call(
        &client,
        "get_adset_details",
        json!({"id": adset, "fields": ["id", "name", "targeting"]}),
    )
    .await
    .unwrap());
    let ads = ok(&call(&client, "get_ads", json!({"limit": 5})).await.unwrap());
    let ad = ads["items"][0]["id"].as_str().unwrap().to_owned();
    ok(&call(&client, "get_ad_details", json!({"id": ad}))
        .await
        .unwrap());
    let creatives = ok(&call(&client, "get_ad_creatives", json!({"limit": 5}))
        .await
        .unwrap());
    let creative = creatives["items"][0]["id"].as_str().unwrap().to_owned();
    ok(
        &call(&client, "get_creative_details", json!({"id": creative}))
            .await
            .unwrap(),
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn insights_by_level_day_breakdown_and_range() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = meta(
        &sandbox,
        "sandbox-meta-acme-e2e",
        &["--ad-account-id", "act_111"],
    )
    .await;
    let account = ok(
        &call(&client, "get_insights", json!({"date_preset": "last_7d"}))
            .await
            .unwrap(),
    );
    let row = &keyed(&account)[0];
    assert!(
        row["spend"].is_number() && row["impressions"].is_number(),
        "numbers as numbers: {row}"
    );
    let by_campaign = ok(&call(
        &client,
        "get_insights",
        json!({"date_preset": "last_7d", "level": "campaign", "limit": 500}),
    )
    .await
    .unwrap());
    let spend: f64 = keyed(&by_campaign)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["spend"].as_f64().unwrap())
        .sum();
    assert!(
        (spend - row["spend"].as_f64().unwrap()).abs() < 0.05 * spend.max(1.0),
        "campaigns add up to the account"
    );
    let daily = ok(&call(
        &client,
        "get_insights",
        json!({"date_preset": "last_7d", "time_increment": "1"}),
    )
    .await
    .unwrap());
    assert_eq!(keyed(&daily).as_array().unwrap().len(), 7);
    let ages = ok(&call(
        &client,
        "get_insights",
        json!({"date_preset": "last_7d", "breakdowns": ["age"]}),
    )
    .await
    .unwrap());
    assert!(keyed(&ages).as_array().unwrap().len() > 1 && keyed(&ages)[0]["age"].is_string());
    let range = ok(&call(
        &client,
        "get_insights",
        json!({"time_range": {"since": "2026-10-01", "until": "2026-10-07"}}),
    )
    .await
    .unwrap());
    assert_eq!(keyed(&range)[0]["date_start"], "2026-10-01");
    let e = err(
        &call(&client, "get_insights", json!({"time_increment": "weekly"}))
            .await
            .unwrap(),
    );
    assert!(e.contains("time_increment"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn token_and_permission_errors_say_what_to_do() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = meta(&sandbox, "sandbox-meta-acme-e2e", &[]).await;
    let e = err(
        &call(&client, "get_campaigns", json!({"account_id": "act_999"}))
            .await
            .unwrap(),
    );
    assert!(
        e.contains("act_999") && e.contains("get_ad_accounts"),
        "{e}"
    );
    let e = err(&call(&client, "get_campaigns", json!({})).await.unwrap());
    assert!(e.contains("account_id is required"), "{e}");
    client.cancel().await.unwrap();

    let (_c, expired) = meta(
        &sandbox,
        "sandbox-meta-expired-e2e",
        &["--ad-account-id", "act_111"],
    )
    .await;
    let e = err(&call(&expired, "get_account_info", json!({})).await.unwrap());
    assert!(e.contains("Reconnect Meta Ads"), "{e}");
    expired.cancel().await.unwrap();

    let (_c, pages) = meta(
        &sandbox,
        "sandbox-meta-pages-only-e2e",
        &["--ad-account-id", "act_111"],
    )
    .await;
    let e = err(&call(&pages, "get_campaigns", json!({})).await.unwrap());
    assert!(e.contains("ads_read"), "{e}");
    pages.cancel().await.unwrap();
}

#[tokio::test]
async fn rate_limits_are_waited_out_or_reported_with_the_wait() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = meta(
        &sandbox,
        "sandbox-meta-acme-e2e",
        &["--ad-account-id", "act_111"],
    )
    .await;
    // A short throttle is retried transparently.
    sandbox.control_post("meta/throttle", json!({"ad_account": "act_111", "code": 17, "count": 1, "estimated_time_to_regain_access": 0})).await.unwrap();
    ok(&call(&client, "get_campaigns", json!({})).await.unwrap());
    // A long one is reported with when to retry, without holding the call open.
    sandbox.control_post("meta/throttle", json!({"ad_account": "act_111", "code": 80004, "count": 10, "estimated_time_to_regain_access": 7})).await.unwrap();
    let e = err(&call(&client, "get_campaigns", json!({})).await.unwrap());
    assert!(e.contains("rate limit") && e.contains("7 min"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_token_never_reaches_logs() {
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::meta("sandbox-meta-acme-e2e").unwrap();
    let mut cmd = server_command(
        "meta-ads-mcp",
        &sandbox,
        &creds.path(),
        &["--ad-account-id", "act_111"],
    );
    cmd.env("RUST_LOG", "trace");
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = stderr.unwrap();
    let logs = tokio::spawn(async move {
        let mut all = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut all).await;
        all
    });
    let client = ().serve(transport).await.unwrap();
    ok(
        &call(&client, "get_insights", json!({"date_preset": "yesterday"}))
            .await
            .unwrap(),
    );
    let _ = call(&client, "get_campaigns", json!({"account_id": "act_999"}))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let logs = logs.await.unwrap();
    assert!(logs.contains("tool_call"), "trace logging on");
    assert!(
        !logs.contains("sandbox-meta-acme-e2e"),
        "the token leaked into the logs"
    );
}

#[tokio::test]
async fn a_token_revoked_mid_session_asks_to_reconnect() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_c, client) = meta(
        &sandbox,
        "sandbox-meta-acme-e2e",
        &["--ad-account-id", "act_111"],
    )
    .await;
    ok(&call(&client, "get_account_info", json!({})).await.unwrap());
    sandbox
        .control_post(
            "meta/revoke",
            json!({"name": "meta-acme", "reason": "password_changed"}),
        )
        .await
        .unwrap();
    let e = err(&call(&client, "get_campaigns", json!({})).await.unwrap());
    assert!(e.contains("Reconnect Meta Ads"), "{e}");
    assert!(
        !e.contains("sandbox-meta-acme-e2e"),
        "no token in errors: {e}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_broker_backed_shop_reads_its_own_ad_account() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_db, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &url, "info", META_APP_CONFIG)
        .await
        .unwrap();
    let lease = broker
        .lease(shops::META, &[Provider::MetaAds])
        .await
        .unwrap();
    let client = connect(broker_server_command(
        "meta-ads-mcp",
        &sandbox,
        &broker,
        shops::META,
        lease.lease.expose(),
    ))
    .await
    .unwrap();
    // The ad account comes from the integration: no account_id anywhere.
    let out = ok(&call(&client, "get_account_info", json!({})).await.unwrap());
    assert_eq!(out["object"]["id"], "act_111", "{out}");
    ok(
        &call(&client, "get_insights", json!({"date_preset": "last_7d"}))
            .await
            .unwrap(),
    );

    // The token also reaches act_112 (another shop's): the server does not.
    let accounts = ok(&call(&client, "get_ad_accounts", json!({})).await.unwrap());
    let ids: Vec<&Value> = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, [&json!("act_111")], "{accounts}");
    let e = err(
        &call(&client, "get_campaigns", json!({"account_id": "act_112"}))
            .await
            .unwrap(),
    );
    assert!(e.contains("act_112 is not this shop's"), "{e}");
    // Object ids are global: one of act_112's campaigns is refused by its owner.
    let (_c, unscoped) = meta(&sandbox, "sandbox-meta-expiring-e2e", &[]).await;
    let other = ok(&call(
        &unscoped,
        "get_campaigns",
        json!({"account_id": "act_112", "limit": 1}),
    )
    .await
    .unwrap());
    let foreign = other["items"][0]["id"].as_str().unwrap().to_owned();
    unscoped.cancel().await.unwrap();
    for (tool, args) in [
        ("get_campaign_details", json!({"id": foreign})),
        ("get_insights", json!({"object_id": foreign})),
    ] {
        let e = err(&call(&client, tool, args).await.unwrap());
        assert!(
            e.contains(&format!(
                "{foreign} does not belong to this shop's ad account act_111"
            )),
            "{tool}: {e}"
        );
    }
    let own = ok(&call(&client, "get_campaigns", json!({"limit": 1}))
        .await
        .unwrap());
    let own = own["items"][0]["id"].as_str().unwrap().to_owned();
    ok(&call(&client, "get_campaign_details", json!({"id": own}))
        .await
        .unwrap());
    ok(&call(&client, "get_insights", json!({"object_id": own}))
        .await
        .unwrap());
    client.cancel().await.unwrap();
}

/// A Meta app with "Require App Secret": calls carry the `appsecret_proof` the broker computes
/// for the token it vends (the app secret never leaves the broker); without a broker-held
/// secret, the app refuses the call with Meta's error #100.
#[tokio::test]
async fn an_app_that_requires_appsecret_proof_gets_it_from_the_broker() {
    let fixtures = berryboo_e2e::FIXTURES.replace(
        "app_secret = \"sandbox-meta-app-secret-e2e\"\n",
        "app_secret = \"sandbox-meta-app-secret-e2e\"\nrequire_appsecret_proof = true\n",
    );
    assert_ne!(
        fixtures,
        berryboo_e2e::FIXTURES,
        "the fixture names the app"
    );
    let sandbox = Sandbox::start_with(&fixtures, &[]).await.unwrap();
    let (_db, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    for (config, works) in [(META_APP_CONFIG, true), ("", false)] {
        let broker = BrokerProc::start(&sandbox, &url, "warn", config)
            .await
            .unwrap();
        let lease = broker
            .lease(shops::META, &[Provider::MetaAds])
            .await
            .unwrap();
        let client = connect(broker_server_command(
            "meta-ads-mcp",
            &sandbox,
            &broker,
            shops::META,
            lease.lease.expose(),
        ))
        .await
        .unwrap();
        let answer = call(&client, "get_account_info", json!({})).await.unwrap();
        if works {
            assert_eq!(ok(&answer)["object"]["id"], "act_111");
        } else {
            let e = err(&answer);
            assert!(e.contains("appsecret_proof"), "{e}");
        }
        client.cancel().await.unwrap();
    }
}
