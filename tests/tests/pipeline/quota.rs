//! Quota kept for people: a shop near its GA4 limit (or its Meta account's hourly budget) gets
//! its anomalies deferred, not its quota exhausted, while a chat on the same shop still gets
//! answers (and is told how much is left).

use super::*;

/// `agent-host chat-ga4` on `shop` with `script` on stdin: (exit code, stdout, stderr).
async fn chat(
    broker: &BrokerProc,
    sandbox: &Sandbox,
    shop: &str,
    script: &str,
) -> (i32, String, String) {
    chat_with("chat-ga4", broker, sandbox, shop, script).await
}

/// `agent-host KIND` (a chat) on `shop` with `script` on stdin.
async fn chat_with(
    kind: &str,
    broker: &BrokerProc,
    sandbox: &Sandbox,
    shop: &str,
    script: &str,
) -> (i32, String, String) {
    let (status, out, err) = scripted(chat_command(kind, sandbox, broker, shop), script).await;
    (status.code().unwrap_or(-1), out, err)
}

/// Waits, if the wall clock is within `margin` of the top of an hour, until that hour has
/// begun: the servers' readings of GA4's hourly tokens reset with it (the sandbox's own count
/// stays as the test set it), and a test about one hour's budget must not straddle two.
async fn clear_of_the_hour(margin: Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    let into_hour = now.as_secs() % 3600;
    if 3600 - into_hour < margin.as_secs() {
        tokio::time::sleep(Duration::from_secs(3600 - into_hour + 1)).await;
    }
}

async fn tokens_used(sandbox: &Sandbox, property: &str) -> u64 {
    sandbox
        .control_get(&format!("ga4/quota?property_id={property}"))
        .await
        .expect("quota")["used"]
        .as_u64()
        .expect("used")
}

const REPORT: &str = "/call run_report {\"date_ranges\": [{\"start_date\": \"7daysAgo\", \"end_date\": \"yesterday\"}], \"metrics\": [\"sessions\"]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_near_its_ga4_quota_is_deferred_while_its_chat_still_answers() {
    clear_of_the_hour(Duration::from_secs(150)).await;
    let (sandbox, _dir, db, broker) = shops().await;
    // Full Shop's property has used 13,000 of its 14,000 tokens per project per hour: 7 % left.
    sandbox
        .control_post(
            "ga4/quota",
            json!({"property_id": "326784853", "used": 13_000}),
        )
        .await
        .expect("quota");

    // A person asks first: answered, and told how much is left and when it returns.
    let (code, out, err) = chat(&broker, &sandbox, FULL, REPORT).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("rows 1–"), "the report answered: {out}");
    assert!(
        out.contains("has 7 % of its tokensPerProjectPerHour left, resets "),
        "{out}"
    );

    // The chat's server told the broker; the operator reads its ledger.
    let ledger = broker
        .cli(&["quota", "--shop", FULL, "--json"])
        .await
        .expect("credential-broker quota");
    let readings: Value = serde_json::from_slice(&ledger.stdout).expect("JSON");
    assert_eq!(readings[0]["provider"], "ga4", "{readings}");
    assert_eq!(readings[0]["reading"]["left_pct"], 7, "{readings}");
    assert_eq!(readings[0]["reading"]["limit"], "tokensPerProjectPerHour");

    let deferred_ga4 = add(&db, &broker, &sandbox, FULL, "ga4", "sessions").await;
    let deferred_gsc = add(&db, &broker, &sandbox, FULL, "gsc", "clicks").await;
    // Another shop: its property has its own quota, which its first anomaly reads as
    // plentiful, so its second goes ahead too.
    let elsewhere = add(&db, &broker, &sandbox, NO_META, "ga4", "sessions").await;
    let elsewhere_too = add(&db, &broker, &sandbox, NO_META, "ga4", "revenue").await;
    let before = tokens_used(&sandbox, "326784853").await;
    let (code, out, err) = output(agent_host(
        &db,
        &broker,
        &sandbox,
        &["pipeline", "--concurrency", "1"],
    ))
    .await;
    assert_eq!(code, 0, "deferring is no failure: {out}\n{err}");
    assert_eq!(
        tokens_used(&sandbox, "326784853").await,
        before,
        "the pipeline spent none of what was left"
    );
    assert_eq!(summary(&out, "processed"), 2, "{out}");
    assert_eq!(summary(&out, "deferred"), 2, "{out}");
    for id in [deferred_ga4, deferred_gsc] {
        let line = format!(
            "anomaly {id}: deferred: Google Analytics quota 7 % left (tokensPerProjectPerHour), resets "
        );
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&line) && l.ends_with(" PT")),
            "{line}…PT in {out}"
        );
    }

    // Deferred, not failed: open, the attempt not counted, saying why.
    let store = Store::open(&db, false).await.expect("store");
    for id in [deferred_ga4, deferred_gsc] {
        let a = store.anomaly(id).await.expect("read").expect("anomaly");
        assert_eq!(a.status, Status::Open, "{a:?}");
        assert_eq!(a.attempts, 0, "{a:?}");
        assert!(
            a.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("Google Analytics quota 7 % left")),
            "{a:?}"
        );
    }
    for id in [elsewhere, elsewhere_too] {
        assert_eq!(
            store
                .anomaly(id)
                .await
                .expect("read")
                .expect("anomaly")
                .status,
            Status::Processed,
            "another shop's property has its own quota"
        );
    }
    // A second run finds nothing due: the deferred wait for their reset.
    let (code, out, _) = output(agent_host(&db, &broker, &sandbox, &["pipeline"])).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(": 0 anomalies claimed") && !out.contains("deferred"),
        "{out}"
    );

    // What was left is the person's: their next questions are answered.
    let (code, out, err) = chat(&broker, &sandbox, FULL, &REPORT.repeat(3)).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.matches("rows 1–").count(), 3, "{out}");
    assert!(!out.contains("RESOURCE_EXHAUSTED"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_property_is_refused_as_google_does_and_says_when_it_returns() {
    clear_of_the_hour(Duration::from_secs(150)).await;
    let (sandbox, _dir, db, broker) = shops().await;
    sandbox
        .control_post(
            "ga4/quota",
            json!({"property_id": "326784853", "used": 14_000}),
        )
        .await
        .expect("quota");
    let (code, out, err) = chat(&broker, &sandbox, FULL, REPORT).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Exhausted property tokens per hour for a project per property"),
        "the upstream's own words: {out}"
    );
    // The pipeline learns it from the broker's ledger and waits, rather than failing on it.
    let id = add(&db, &broker, &sandbox, FULL, "ga4", "sessions").await;
    let (code, out, err) = output(agent_host(&db, &broker, &sandbox, &["pipeline"])).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "anomaly {id}: deferred: Google Analytics quota 0 % left"
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_account_near_its_hourly_budget_is_deferred_from_its_usage_headers() {
    let (sandbox, _dir, db, broker) = shops().await;
    // 270 of the hour's 300 insights calls made: Meta's headers say 91 % used after one more.
    sandbox
        .control_post(
            "meta/usage",
            json!({"ad_account": "act_111", "insights": 270}),
        )
        .await
        .expect("usage");
    let (code, out, err) = chat_with(
        "chat-meta-ads",
        &broker,
        &sandbox,
        FULL,
        "/call get_insights {\"level\": \"campaign\", \"date_preset\": \"last_7d\"}\n",
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Quota: Meta Ads has 9 % of its ads_insights call_count left"),
        "{out}"
    );
    let id = add(&db, &broker, &sandbox, FULL, "meta_ads", "spend").await;
    let (code, out, err) = output(agent_host(&db, &broker, &sandbox, &["pipeline"])).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "anomaly {id}: deferred: Meta Ads quota 9 % left (ads_insights call_count), resets "
        )) && out.contains(" UTC"),
        "{out}"
    );
    let usage = sandbox.control_get("meta/usage").await.expect("usage");
    assert_eq!(
        usage["usage"]["act_111"]["ads_insights"], 271,
        "the pipeline made no insights call: {usage}"
    );
}
