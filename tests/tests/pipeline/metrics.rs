//! `pipeline --metrics`: anomalies and live shop sets scraped while a run is under way.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_anomalies_and_sets_are_scraped_while_it_runs() {
    let (sandbox, _dir, db, broker) = shops().await;
    add(&db, &broker, &sandbox, FULL, "ga4", "revenue").await;
    add(&db, &broker, &sandbox, NO_META, "ga4", "sessions").await;
    // FULL's GA4 reports hang; NO_META's answer at once.
    sandbox
        .fault(json!({"path_prefix": "/v1beta/properties/326784853", "delay_ms": 120_000, "count": 100}))
        .await
        .expect("fault");
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("address").to_string()
    };
    let mut run = agent_host(
        &db,
        &broker,
        &sandbox,
        &["pipeline", "--concurrency", "2", "--metrics", &addr],
    );
    let _run = run
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pipeline");
    let endpoint = format!("http://{addr}/metrics");
    let anomalies = "berryboo_anomalies_total";
    let started = std::time::Instant::now();
    let m = loop {
        // Until the endpoint is up and NO_META's anomaly is done while FULL's still waits.
        if let Ok(m) = berryboo_e2e::scrape(&endpoint).await
            && m.get(anomalies, &[("outcome", "processed")]) == Some(1.0)
            && m.get("berryboo_shop_sets", &[]) == Some(1.0)
        {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never showed one anomaly processed while the other's set lived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(m.types.get(anomalies).map(String::as_str), Some("counter"));
    assert_eq!(
        m.get(anomalies, &[("outcome", "claimed")]),
        Some(2.0),
        "{}",
        m.text
    );
    // NO_META's set ended with its anomaly; FULL's lives while its report hangs.
    assert_eq!(m.get("berryboo_shop_sets", &[]), Some(1.0), "{}", m.text);
    assert!(
        m.sum("berryboo_tool_calls_total") >= 1.0,
        "NO_META's team called tools: {}",
        m.text
    );
    for (shop, accounts) in ACCOUNTS {
        assert!(!m.text.contains(shop), "a shop id in the metrics");
        for a in *accounts {
            assert!(!m.text.contains(a), "an account in the metrics");
        }
    }
}
