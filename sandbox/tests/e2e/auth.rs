//! Bearer authentication, scopes, property permissions, 4xx envelopes and routing of unknown paths/methods.

use reqwest::StatusCode;
use serde_json::json;

use crate::util::{ACME, Sandbox, run_report_body};

const INVALID: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

#[tokio::test]
async fn missing_and_invalid_tokens_get_401() {
    let sb = Sandbox::start().await;
    let path = format!("/v1beta/properties/{ACME}:runReport");
    let r = sb
        .http
        .post(sb.url(&path))
        .json(&run_report_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(body["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");
    assert_eq!(body["error"]["details"][0]["domain"], "googleapis.com");
    assert_eq!(
        body["error"]["details"][0]["metadata"]["service"],
        "analyticsdata.googleapis.com"
    );
    assert_eq!(
        body["error"]["details"][0]["metadata"]["method"],
        "google.analytics.data.v1beta.BetaAnalyticsData.RunReport"
    );

    let r = sb
        .http
        .post(sb.url(&path))
        .bearer_auth("ya29.sandbox.nope")
        .json(&run_report_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], INVALID);
    assert_eq!(
        body["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_EXPIRED"
    );

    // The access_token query parameter is an alternative to the header.
    let token = sb.token("sandbox-refresh-acme").await;
    let r = sb
        .http
        .post(sb.url(&format!("{path}?access_token={token}")))
        .json(&run_report_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    sb.stop().await;
}

#[tokio::test]
async fn insufficient_scope_gets_403() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-gsc-only").await;
    let (status, body) = sb
        .post(
            &format!("/v1beta/properties/{ACME}:runReport"),
            &token,
            &run_report_body(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        body["error"]["message"],
        "Request had insufficient authentication scopes."
    );
    assert_eq!(
        body["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    );
    let (status, body) = sb.get("/v1beta/accountSummaries", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["details"][0]["metadata"]["service"],
        "analyticsadmin.googleapis.com"
    );
    sb.stop().await;
}

#[tokio::test]
async fn foreign_property_gets_ga4_message() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    for id in ["412345678", "999"] {
        let (status, body) = sb
            .post(
                &format!("/v1beta/properties/{id}:runReport"),
                &token,
                &run_report_body(),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], 403);
        assert_eq!(
            body["error"]["message"],
            "User does not have sufficient permissions for this property. To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id."
        );
    }
    let (status, body) = sb.get("/v1beta/properties/412345678", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["message"],
        "The caller does not have permission"
    );
    sb.stop().await;
}

#[tokio::test]
async fn bad_requests_read_like_google() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    let path = format!("/v1beta/properties/{ACME}:runReport");
    let (status, body) = sb
        .post(&path, &token, &json!({"dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}], "metrics": [{"name": "pageViews"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "Field pageViews is not a valid metric. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
    );
    let (status, body) = sb
        .post(&path, &token, &json!({"dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}], "dimensions": [{"name": "pagepath"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Field pagepath is not a valid dimension.")
    );

    let r = sb
        .http
        .post(sb.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"dateRanges\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON payload received.")
    );

    let (status, body) = sb.post(&path, &token, &json!({"dateRangez": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        "Invalid JSON payload received. Unknown name \"dateRangez\": Cannot find field."
    );

    let (status, _) = sb
        .post(&path, &token, &json!({"dateRanges": [{"startDate": "today", "endDate": "7daysAgo"}], "metrics": [{"name": "sessions"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = sb
        .post(&path, &token, &json!({"dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}], "metrics": [{"name": "sessions"}], "limit": "-5"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let sb = Sandbox::start().await;
    let token = sb.token("sandbox-refresh-acme").await;
    for path in ["/v1beta/properties/1:nope", "/nothing/here", "/v1/whatever"] {
        let r = sb
            .http
            .get(sb.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=UTF-8"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["status"], "NOT_FOUND");
    }
    let r = sb
        .http
        .get(sb.url(&format!("/v1beta/properties/{ACME}:runReport")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    // Percent-encoded colon routes the same.
    let (status, _) = sb
        .post(
            &format!("/v1beta/properties/{ACME}%3ArunReport"),
            &token,
            &run_report_body(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Unknown query parameters are rejected like Google does.
    let (status, body) = sb.get("/v1beta/accountSummaries?foo=1", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown name \"foo\"")
    );
    sb.stop().await;
}
