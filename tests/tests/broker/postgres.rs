//! Brokers on PostgreSQL: two brokers refresh once; leases, refresh and reconnect.

use super::*;

#[tokio::test]
async fn two_brokers_on_one_postgres_refresh_once() {
    let Some(pg) = TestPostgres::create("two_brokers_on_one_postgres_refresh_once") else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    BrokerProc::prepare(&sandbox, &pg.url).await.unwrap();
    let a = BrokerProc::start(&sandbox, &pg.url, "info", NO_CONFIG)
        .await
        .unwrap();
    let b = BrokerProc::start(&sandbox, &pg.url, "info", NO_CONFIG)
        .await
        .unwrap();
    // A lease made through one broker works through the other: they share the database.
    let lease = a.lease(shops::ACME, &[Provider::Ga4]).await.unwrap().lease;
    let mut tasks = Vec::new();
    for broker in [&a, &b] {
        for _ in 0..10 {
            let socket = broker.socket.clone();
            let lease = lease.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = broker_proto::client::BrokerClient::connect(&socket)
                    .await
                    .unwrap();
                for _ in 0..10 {
                    c.get_token(&lease, Provider::Ga4, shops::ACME)
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        sandbox.refreshes("acme").await.unwrap(),
        1,
        "two brokers, one refresh"
    );
}

#[tokio::test]
async fn postgres_store_serves_leases_refresh_and_reconnect() {
    let Some(pg) = TestPostgres::create("postgres_store_serves_leases_refresh_and_reconnect")
    else {
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    BrokerProc::prepare(&sandbox, &pg.url).await.unwrap();
    let broker = BrokerProc::start(&sandbox, &pg.url, "info", NO_CONFIG)
        .await
        .unwrap();
    let rot = broker
        .lease(shops::ROTATING, &[Provider::Ga4])
        .await
        .unwrap();
    let mut c = broker.client().await.unwrap();
    c.get_token(&rot.lease, Provider::Ga4, shops::ROTATING)
        .await
        .unwrap();
    assert_eq!(
        sandbox.grant("rotating").await.unwrap()["refresh_token"],
        "sandbox-refresh-rotating-e2e-rotated-1"
    );
    let bloom = broker.lease(shops::BLOOM, &[Provider::Ga4]).await.unwrap();
    sandbox.revoke("bloom").await.unwrap();
    let e = c
        .get_token(&bloom.lease, Provider::Ga4, shops::BLOOM)
        .await
        .unwrap_err();
    assert_eq!(code(&e), ErrorCode::ReconnectRequired);
    let out = broker_cli(&sandbox, &["health", "--database", &pg.url, "--json"])
        .await
        .unwrap();
    let health: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        health["needs_reconnect"][0]["shop_id"],
        shops::BLOOM,
        "{health}"
    );
}
