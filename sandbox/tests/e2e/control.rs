//! The /__sandbox control plane: faults, revocation, token expiry, TTL, counters and reset.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::util::{ACME, Sandbox, run_report_body};

#[tokio::test]
async fn fault_429_with_retry_after_then_success() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = format!("/v1beta/properties/{ACME}:runReport");
    let (status, v) = sb
        .control(
            Method::POST,
            "/__sandbox/faults",
            Some(json!({"path_prefix": path, "status": 429, "count": 2, "retry_after_secs": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["id"].as_u64().is_some());
    for _ in 0..2 {
        let r = sb
            .http
            .post(sb.url(&path))
            .bearer_auth(&token)
            .json(&run_report_body())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=UTF-8"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(body["error"]["code"], 429);
        assert_eq!(
            body["error"]["details"][0]["metadata"]["service"],
            "analyticsdata.googleapis.com"
        );
    }
    let (status, _) = sb.post(&path, &token, &run_report_body()).await;
    assert_eq!(status, StatusCode::OK, "count is respected");
    let counters = sb.counters().await;
    assert_eq!(counters["faulted"], 2);
    assert_eq!(
        counters["api_calls"][format!("properties/{ACME}")],
        1,
        "faulted requests never reach the handler"
    );
    sb.stop().await;
}

#[tokio::test]
async fn unlimited_faults_delays_and_clearing() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    sb.control(
        Method::POST,
        "/__sandbox/faults",
        Some(json!({"path_prefix": "/v1beta/accountSummaries", "status": 503})),
    )
    .await;
    for _ in 0..3 {
        let (status, v) = sb.get("/v1beta/accountSummaries", &token).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(v["error"]["status"], "UNAVAILABLE");
    }
    let (_, listed) = sb.control(Method::GET, "/__sandbox/faults", None).await;
    assert_eq!(listed["faults"].as_array().unwrap().len(), 1);
    let (_, cleared) = sb.control(Method::DELETE, "/__sandbox/faults", None).await;
    assert_eq!(cleared["cleared"], 1);
    let (status, _) = sb.get("/v1beta/accountSummaries", &token).await;
    assert_eq!(status, StatusCode::OK);

    // Delay only: the request still succeeds, just later.
    sb.control(
        Method::POST,
        "/__sandbox/faults",
        Some(json!({"path_prefix": "/v1beta/", "delay_ms": 300, "count": 1})),
    )
    .await;
    let started = Instant::now();
    let (status, _) = sb.get("/v1beta/accountSummaries", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/faults",
            Some(json!({"path_prefix": "nope", "status": 500})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/faults",
            Some(json!({"path_prefix": "/x", "status": 500, "bogus": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn token_endpoint_faults_use_oauth_bodies() {
    let sb = Sandbox::start().await;
    sb.control(
        Method::POST,
        "/__sandbox/faults",
        Some(json!({"path_prefix": "/token", "status": 503, "count": 1, "retry_after_secs": 2})),
    )
    .await;
    let (status, body) = sb.refresh("sandbox-refresh-acme").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "temporarily_unavailable");
    let (status, _) = sb.refresh("sandbox-refresh-acme").await;
    assert_eq!(status, StatusCode::OK);
    sb.stop().await;
}

#[tokio::test]
async fn revoke_kills_refresh_and_live_tokens() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = format!("/v1beta/properties/{ACME}:runReport");
    assert_eq!(
        sb.post(&path, &token, &run_report_body()).await.0,
        StatusCode::OK
    );
    let (status, v) = sb
        .control(
            Method::POST,
            "/__sandbox/grants/revoke",
            Some(json!({"name": "acme"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["revoked"], "acme");
    let (status, body) = sb.post(&path, &token, &run_report_body()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    let (status, body) = sb.refresh("sandbox-refresh-acme").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // By refresh token works too; unknown grants are 404.
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/grants/revoke",
            Some(json!({"refresh_token": "sandbox-refresh-bloom"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/grants/revoke",
            Some(json!({"name": "nobody"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Restore brings it back.
    sb.control(
        Method::POST,
        "/__sandbox/grants/restore",
        Some(json!({"name": "acme"})),
    )
    .await;
    assert_eq!(sb.refresh("sandbox-refresh-acme").await.0, StatusCode::OK);
    sb.stop().await;
}

#[tokio::test]
async fn expire_forces_a_refresh() {
    let sb = Sandbox::start().await;
    let acme = sb.token("sandbox-refresh-acme").await;
    let bloom = sb.token("sandbox-refresh-bloom").await;
    let (_, v) = sb
        .control(
            Method::POST,
            "/__sandbox/tokens/expire",
            Some(json!({"name": "acme"})),
        )
        .await;
    assert_eq!(v["expired"], 1);
    let (status, body) = sb.get("/v1beta/accountSummaries", &acme).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_EXPIRED"
    );
    assert_eq!(
        sb.get("/v1beta/accountSummaries", &bloom).await.0,
        StatusCode::OK
    );
    let fresh = sb.token("sandbox-refresh-acme").await;
    assert_eq!(
        sb.get("/v1beta/accountSummaries", &fresh).await.0,
        StatusCode::OK
    );
    // No body expires everything.
    let (_, v) = sb
        .control(Method::POST, "/__sandbox/tokens/expire", None)
        .await;
    assert_eq!(v["expired"], 2);
    assert_eq!(
        sb.get("/v1beta/accountSummaries", &bloom).await.0,
        StatusCode::UNAUTHORIZED
    );
    sb.stop().await;
}

#[tokio::test]
async fn tokens_expire_after_ttl() {
    let mut config = crate::util::example_config();
    config.token_ttl = Duration::from_millis(300);
    let sb = Sandbox::start_with(config).await;
    let token = sb.token("sandbox-refresh-acme").await;
    assert_eq!(
        sb.get("/v1beta/accountSummaries", &token).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        sb.get("/v1beta/accountSummaries", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    sb.stop().await;
}

#[tokio::test]
async fn counters_and_reset() {
    let sb = Sandbox::start().await;
    let acme = sb.token("sandbox-refresh-acme").await;
    sb.token("sandbox-refresh-acme").await;
    let bloom = sb.token("sandbox-refresh-bloom").await;
    let _ = sb.refresh("sandbox-refresh-revoked-shop").await;
    sb.post(
        &format!("/v1beta/properties/{ACME}:runReport"),
        &acme,
        &run_report_body(),
    )
    .await;
    sb.get(&format!("/v1beta/properties/{ACME}/metadata"), &acme)
        .await;
    sb.post(
        "/v1beta/properties/412345678:runReport",
        &acme,
        &run_report_body(),
    )
    .await; // 403, still counted
    sb.get("/v1beta/accountSummaries", &bloom).await;
    sb.get("/v1beta/accountSummaries", "unknown-token").await; // 401, not counted
    let c = sb.counters().await;
    assert_eq!(c["token_refreshes"], json!({"acme": 2, "bloom": 1}));
    assert_eq!(c["token_refreshes_total"], 3);
    assert_eq!(c["token_failures"], 1);
    assert_eq!(
        c["api_calls"],
        json!({"accountSummaries": 1, "properties/326784853": 2, "properties/412345678": 1})
    );
    assert_eq!(c["api_calls_total"], 4);
    assert_eq!(c["api_calls_by_method"]["analyticsdata.runReport"], 2);
    assert_eq!(c["faulted"], 0);

    sb.control(
        Method::POST,
        "/__sandbox/grants/revoke",
        Some(json!({"name": "bloom"})),
    )
    .await;
    sb.control(
        Method::POST,
        "/__sandbox/faults",
        Some(json!({"path_prefix": "/v1beta/", "status": 500})),
    )
    .await;
    let (status, _) = sb.control(Method::POST, "/__sandbox/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    let c = sb.counters().await;
    assert_eq!(c["api_calls_total"], 0);
    assert_eq!(c["token_refreshes_total"], 0);
    // Issued tokens are gone, runtime revocations undone, faults cleared.
    assert_eq!(
        sb.get("/v1beta/accountSummaries", &acme).await.0,
        StatusCode::UNAUTHORIZED
    );
    let bloom = sb.token("sandbox-refresh-bloom").await;
    assert_eq!(
        sb.get("/v1beta/accountSummaries", &bloom).await.0,
        StatusCode::OK
    );
    // Fixture revocations stay.
    assert_eq!(
        sb.refresh("sandbox-refresh-revoked-shop").await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, _) = sb.control(Method::GET, "/__sandbox/health", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sb.control(Method::GET, "/__sandbox/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sb.stop().await;
}
