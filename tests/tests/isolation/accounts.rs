//! One shop, one account: an integration without its account reads nothing; a running server follows a dropped account and a revoked lease.

use super::*;

#[tokio::test]
async fn an_integration_without_its_account_reads_nothing() {
    let (sandbox, _dir, db, broker) = agency().await;
    let mut client = broker.client().await.expect("client");

    for &(provider, chat, b_account, other, call) in AGENCY {
        // The broker grants no lease for C's provider, and says what to finish.
        let e = client
            .create_lease(SHOP_C, &[provider], 60)
            .await
            .expect_err("no account, no lease");
        let e = e.broker_error().expect("a broker refusal").clone();
        assert_eq!(e.code, ErrorCode::NoAccount, "{provider}: {}", e.message);
        assert_eq!(
            e.message,
            format!(
                "The {service} integration for shop {SHOP_C} has no {noun} selected.\nPlease finish connecting {service} in the dashboard.",
                service = provider.service_name(),
                noun = provider.account_noun()
            )
        );

        // A chat for C stops there: no server starts, nothing is read.
        let (code, text) = output(agent_host(
            &sandbox,
            &broker,
            &db,
            &[chat, "--shop-id", SHOP_C, "--ask", call],
        ))
        .await;
        assert_eq!(code, 1, "{chat} for C: {text}");
        assert!(
            text.contains("has no") && text.contains("selected"),
            "{text}"
        );
        assert!(!text.contains(other), "{chat} for C leaked {other}: {text}");

        // B, whose login reaches the other account too, reads only its own.
        let (code, text) = output(agent_host(
            &sandbox,
            &broker,
            &db,
            &[chat, "--shop-id", SHOP_B, "--ask", call],
        ))
        .await;
        // The refused call is a failed `--ask`: exit 1, the refusal on stderr.
        assert_eq!(code, 1, "{chat} for B: {text}");
        assert!(text.contains(b_account), "{chat} for B: {text}");
        assert!(
            text.contains(&format!("{other} is not this shop's")),
            "{chat} for B must refuse {other}: {text}"
        );
    }

    // Asking for all four at once: still nothing, with the first reason.
    let e = client
        .create_lease(SHOP_C, &Provider::ALL, 60)
        .await
        .expect_err("nothing to lease");
    assert_eq!(
        e.broker_error().map(|b| b.code),
        Some(ErrorCode::NoAccount),
        "{e}"
    );

    // Health lists each of C's integrations, and asks for attention.
    let (code, text) = output(agent_host(&sandbox, &broker, &db, &["health", "--json"])).await;
    assert_eq!(code, 1, "{text}");
    let report: Value = serde_json::from_str(&text).expect("health JSON");
    let missing: Vec<(String, String)> = report["missing_accounts"]
        .as_array()
        .expect("missing_accounts")
        .iter()
        .map(|i| {
            (
                i["shop_id"].as_str().unwrap_or("").to_owned(),
                i["provider"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for p in Provider::ALL {
        assert!(
            missing.contains(&(SHOP_C.to_owned(), p.as_str().to_owned())),
            "{p} of C in {missing:?}"
        );
    }
    assert!(
        missing.iter().all(|(shop, _)| shop == SHOP_C),
        "{missing:?}"
    );
    let (_, text) = output(agent_host(&sandbox, &broker, &db, &["health"])).await;
    assert!(
        text.contains("No account selected (grant nothing): 4"),
        "{text}"
    );

    // The pipeline treats it as a missing integration: a "connect" email, never a reconnect.
    add_revenue_anomaly(&sandbox, &broker, &db, SHOP_C).await;
    let (code, text) = output(agent_host(&sandbox, &broker, &db, &["pipeline"])).await;
    assert_eq!(code, 0, "{text}");
    for other in [
        "412345679",
        "sc-domain:acme-shop.example",
        "1112223334",
        "act_112",
    ] {
        assert!(
            !text.contains(other),
            "the pipeline for C read {other}: {text}"
        );
    }
    let (code, text) = output(agent_host(
        &sandbox,
        &broker,
        &db,
        &["notifications", "--shop", SHOP_C],
    ))
    .await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Connect Google Analytics to Enable AI Insights"),
        "{text}"
    );
    assert!(!text.contains("Reconnect"), "{text}");
}

#[tokio::test]
async fn a_running_server_follows_a_dropped_account_and_a_revoked_lease() {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &db, &agency_seed())
        .await
        .expect("seeded");
    // Changes apply within a second here (30 s by default) so the test need not wait long.
    let broker = BrokerProc::start(&sandbox, &db, "warn", "integration_recheck = \"1s\"\n")
        .await
        .expect("broker");
    let server = |binary: &str, lease: &str| {
        let mut cmd = berryboo_e2e::broker_server_command(binary, &sandbox, &broker, SHOP_B, lease);
        cmd.args(["--broker-recheck", "1"]);
        cmd
    };
    // Keeps calling `tool` until its result contains `expected`, within a minute.
    async fn until(client: &berryboo_e2e::Client, tool: &str, expected: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let r = berryboo_e2e::call(client, tool, json!({}))
                .await
                .expect("call");
            let text = berryboo_e2e::text(&r);
            if text.contains(expected) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{tool} never said {expected:?}; last: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The dashboard drops B's GA4 property while a session reads it: the session stops.
    let lease = broker.lease(SHOP_B, &[Provider::Ga4]).await.expect("lease");
    let ga4 = berryboo_e2e::connect(server("ga4-mcp", lease.lease.expose()))
        .await
        .expect("ga4-mcp");
    let before = berryboo_e2e::call(&ga4, "get_property_details", json!({}))
        .await
        .expect("call");
    assert!(berryboo_e2e::text(&before).contains("412345678"));
    let store = pipeline_store::Store::open(&db, false)
        .await
        .expect("store");
    store
        .execute_admin(&format!(
            "UPDATE importers_integration SET data = json_remove(data, '$.property_id') \
             WHERE shop_id = '{SHOP_B}' AND integration_type = 201"
        ))
        .await
        .expect("the dashboard drops the property");
    let refused = until(&ga4, "get_property_details", "has no property selected").await;
    assert!(!refused.contains("412345678"), "{refused}");
    ga4.cancel().await.expect("close");

    // An operator revokes a session's lease (its holder crashed, say): the session stops,
    // though its Meta token lives for weeks.
    let lease = broker
        .lease(SHOP_B, &[Provider::MetaAds])
        .await
        .expect("lease");
    let meta = berryboo_e2e::connect(server("meta-ads-mcp", lease.lease.expose()))
        .await
        .expect("meta-ads-mcp");
    let before = berryboo_e2e::call(&meta, "get_account_info", json!({}))
        .await
        .expect("call");
    assert!(
        berryboo_e2e::text(&before).contains("act_111"),
        "{}",
        berryboo_e2e::text(&before)
    );
    broker
        .client()
        .await
        .expect("client")
        .revoke_lease_id(&lease.lease_id)
        .await
        .expect("revoked");
    let refused = until(&meta, "get_account_info", "was revoked").await;
    assert!(!refused.contains("Acme Shop"), "{refused}");
    meta.cancel().await.expect("close");
}
