//! `serve --metrics`: what an operator's Prometheus scrapes from the broker.

use super::*;

/// The address the broker logged for its metrics endpoint.
async fn metrics_url(broker: &BrokerProc) -> String {
    let started = std::time::Instant::now();
    loop {
        let logs = broker.logs.lock().map(|l| l.clone()).unwrap_or_default();
        if let Some(at) = logs.rfind("metrics on http://") {
            let rest = &logs[at + "metrics on ".len()..];
            return rest.split_whitespace().next().unwrap_or("").to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no metrics address in the log:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn vends_refreshes_leases_and_connections_are_scraped() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &url, "info", "metrics = \"127.0.0.1:0\"\n")
        .await
        .unwrap();
    let endpoint = metrics_url(&broker).await;
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let lease = broker
        .lease(shops::ACME, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    let mut c = broker.client().await.unwrap();
    for _ in 0..2 {
        c.get_token(&lease, Provider::Ga4, shops::ACME)
            .await
            .unwrap();
    }
    let e = c
        .get_token(&lease, Provider::MetaAds, shops::ACME)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::WrongProvider);
    // A revoked grant, found by the operator's forced refresh.
    let bloom = broker
        .lease(shops::BLOOM, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    sandbox.revoke("bloom").await.unwrap();
    let results = c.refresh(Some(shops::BLOOM), None).await.unwrap().0;
    assert!(
        results
            .iter()
            .any(|r| r.provider == Provider::Ga4 && r.error.is_some()),
        "{results:?}"
    );

    let m = scrape(&endpoint).await.unwrap();
    let vends = "berryboo_broker_token_vends_total";
    assert_eq!(m.types.get(vends).map(String::as_str), Some("counter"));
    assert_eq!(
        m.get(vends, &[("provider", "ga4"), ("outcome", "ok")]),
        Some(2.0)
    );
    assert_eq!(
        m.get(
            vends,
            &[("provider", "meta_ads"), ("outcome", "wrong_provider")]
        ),
        Some(1.0)
    );
    let latency = "berryboo_broker_token_vend_duration_seconds";
    assert_eq!(m.types.get(latency).map(String::as_str), Some("histogram"));
    assert_eq!(
        m.get(&format!("{latency}_count"), &[("provider", "ga4")]),
        Some(2.0)
    );
    assert_eq!(
        m.get(
            &format!("{latency}_bucket"),
            &[("provider", "ga4"), ("le", "+Inf")]
        ),
        Some(2.0)
    );
    // The first vend refreshed the seed's expired token, the second came from memory.
    let refreshes = "berryboo_broker_token_refreshes_total";
    assert_eq!(
        m.get(
            refreshes,
            &[
                ("provider", "ga4"),
                ("outcome", "refreshed"),
                ("reason", "due")
            ]
        ),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(
        m.get(
            "berryboo_broker_token_cache_hits_total",
            &[("provider", "ga4")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            refreshes,
            &[
                ("provider", "ga4"),
                ("outcome", "revoked"),
                ("reason", "forced")
            ]
        ),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(
        m.get(
            "berryboo_broker_invalid_grants_total",
            &[("provider", "ga4")]
        ),
        Some(1.0)
    );
    assert_eq!(m.get("berryboo_broker_live_leases", &[]), Some(2.0));
    assert_eq!(
        m.get(
            "berryboo_broker_invalid_grants_total",
            &[("provider", "meta_ads")]
        ),
        Some(0.0),
        "an expired Meta token is no refused grant"
    );
    // The same count `health` lists (the revoked one among them), read before each scrape.
    let health = || async {
        let out = broker_cli(
            &sandbox,
            &["health", "--database", &broker.database, "--json"],
        )
        .await
        .unwrap();
        let health: Value = serde_json::from_slice(&out.stdout).unwrap();
        health["needs_reconnect"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let started = std::time::Instant::now();
    loop {
        let listed = health().await;
        assert!(
            listed.iter().any(|i| i["shop_id"] == shops::BLOOM),
            "{listed:?}"
        );
        let m = scrape(&endpoint).await.unwrap();
        if m.get("berryboo_broker_integrations_needing_reconnection", &[])
            == Some(listed.len() as f64)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the gauge never matched health's {} ({})",
            listed.len(),
            m.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        m.get("berryboo_broker_connections", &[]).unwrap_or(0.0) >= 1.0,
        "this test's connection is open"
    );
    // No shop, no lease, no token, no refresh token.
    for shop in [shops::ACME, shops::BLOOM] {
        assert!(!m.text.contains(shop), "a shop id in the metrics");
    }
    assert!(!m.text.contains(lease.expose()) && !m.text.contains("ya29."));
    assert!(!m.text.contains("sandbox-refresh") && !m.text.contains("sandbox-meta"));

    // Labels: providers, outcomes, reasons and buckets only.
    for (_, labels) in m.samples.keys() {
        for (k, v) in labels {
            match k.as_str() {
                "provider" => assert!(
                    ["ga4", "gsc", "google_ads", "meta_ads"].contains(&v.as_str()),
                    "{v}"
                ),
                "outcome" | "reason" => assert!(
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{v}"
                ),
                "le" => assert!(v == "+Inf" || v.parse::<f64>().is_ok(), "{v}"),
                other => panic!("unexpected label {other}={v}"),
            }
        }
    }

    // Revoked leases and a closed connection leave the gauges.
    c.revoke_leases(&[lease, bloom]).await.unwrap();
    drop(c);
    scrape_until(&endpoint, "no live lease, no connection", |m| {
        m.get("berryboo_broker_live_leases", &[]) == Some(0.0)
            && m.get("berryboo_broker_connections", &[]) == Some(0.0)
    })
    .await;
}

/// Scrapes `endpoint` until `done` holds for what it read (the counts from the store are
/// refreshed at most every few seconds); fails after 30 s.
async fn scrape_until(endpoint: &str, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let started = std::time::Instant::now();
    loop {
        if let Ok(m) = scrape(endpoint).await
            && done(&m)
        {
            return m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never scraped: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_taken_metrics_address_is_logged_and_retried_while_the_broker_serves() {
    let sandbox = Sandbox::start().await.unwrap();
    let (_dir, url) = BrokerProc::sqlite_db(&sandbox).await.unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let broker = BrokerProc::start(&sandbox, &url, "info", &format!("metrics = \"{addr}\"\n"))
        .await
        .expect("the broker serves though its metrics address is taken");
    let lease = broker
        .lease(shops::ACME, &[Provider::Ga4])
        .await
        .unwrap()
        .lease;
    let mut c = broker.client().await.unwrap();
    c.get_token(&lease, Provider::Ga4, shops::ACME)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while !broker
        .logs
        .lock()
        .map(|l| l.contains(&format!("cannot serve metrics on {addr}")))
        .unwrap_or(false)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no error logged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Freed: the endpoint takes it on its next try.
    drop(taken);
    let m = scrape_until(
        &format!("http://{addr}/metrics"),
        "the freed address",
        |m| {
            m.get(
                "berryboo_broker_token_vends_total",
                &[("provider", "ga4"), ("outcome", "ok")],
            ) == Some(1.0)
        },
    )
    .await;
    assert!(m.types.contains_key("berryboo_broker_live_leases"));
}
