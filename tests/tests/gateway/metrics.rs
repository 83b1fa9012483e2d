//! `gateway --metrics`: tool calls and live shop sets, scraped as Prometheus would.

use super::*;

/// A loopback port nothing listens on right now.
fn free_port() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_and_shop_sets_are_scraped() {
    let Setup {
        sandbox,
        broker,
        dir: _dir,
        ..
    } = setup().await;
    let key = create_key(&broker, shops::ACME, &["--providers", "ga4"]).await;
    let addr = free_port();
    let metrics_flag = format!("--metrics={addr}");
    let g = gateway_with(&broker, &sandbox, &[std::ffi::OsStr::new(&metrics_flag)]).await;
    let endpoint = format!("http://{addr}/metrics");

    let call = |name: &str, arguments: Value| {
        rpc(
            &g,
            "/mcp",
            Some(&key),
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
    };
    let (status, _, body) = call("get_property_details", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["result"]["isError"] != true, "{body}");
    // Another shop's property: the tool answers with an error the model reads.
    let (_, _, body) = call("get_property_details", json!({"property_id": "999"})).await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    // The endpoint binds in the background: scrape until it answers with both calls.
    let started = std::time::Instant::now();
    let m = loop {
        if let Ok(m) = scrape(&endpoint).await
            && m.sum("berryboo_tool_calls_total") >= 2.0
        {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the metrics endpoint never showed the calls"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let calls = "berryboo_tool_calls_total";
    assert_eq!(m.types.get(calls).map(String::as_str), Some("counter"));
    let ga4 = |tool: &str, outcome: &str| {
        m.get(
            calls,
            &[("server", "ga4-mcp"), ("tool", tool), ("outcome", outcome)],
        )
    };
    assert_eq!(ga4("get_property_details", "ok"), Some(1.0), "{}", m.text);
    assert_eq!(
        ga4("get_property_details", "tool_error"),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(
        m.get(
            "berryboo_tool_call_duration_seconds_count",
            &[("server", "ga4-mcp"), ("tool", "get_property_details")]
        ),
        Some(2.0)
    );
    assert_eq!(m.get("berryboo_shop_sets", &[]), Some(1.0), "{}", m.text);
    // Nothing of the shop, the key or a token.
    assert!(!m.text.contains(shops::ACME));
    assert!(!m.text.contains(&key) && !m.text.contains("ya29."));
}
