//! The OAuth token endpoint: refresh grant success, HTTP Basic client auth, Google's error bodies, scope narrowing.

use reqwest::StatusCode;
use serde_json::Value;

use crate::util::{CLIENT_ID, CLIENT_SECRET, Sandbox};

async fn token_call(sb: &Sandbox, form: &[(&str, &str)]) -> (StatusCode, String, Value) {
    let r = sb
        .http
        .post(sb.url("/token"))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = r.status();
    let ct = r.headers()["content-type"]
        .to_str()
        .expect("ascii header")
        .to_string();
    (status, ct, r.json().await.expect("json body"))
}

#[tokio::test]
async fn refresh_grant_success_has_google_shape() {
    let sb = Sandbox::start().await;
    let (status, ct, body) = token_call(
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sandbox-refresh-acme"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/json; charset=UTF-8");
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("ya29.sandbox."), "{token}");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    // The acme grant holds several scopes (space-separated, as Google sends them).
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "https://www.googleapis.com/auth/analytics.readonly"),
        "{body}"
    );
    assert!(
        body.get("refresh_token").is_none(),
        "Google does not rotate refresh tokens"
    );
    // Legacy path works too.
    let r = sb
        .http
        .post(sb.url("/oauth2/v4/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sandbox-refresh-acme"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    sb.stop().await;
}

#[tokio::test]
async fn basic_auth_is_accepted() {
    let sb = Sandbox::start().await;
    let r = sb
        .http
        .post(sb.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sandbox-refresh-bloom"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "https://www.googleapis.com/auth/analytics");
    let r = sb
        .http
        .post(sb.url("/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sandbox-refresh-bloom"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    sb.stop().await;
}

#[tokio::test]
async fn oauth_errors_match_google() {
    let sb = Sandbox::start().await;
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "nope"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "sandbox-refresh-revoked-shop"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        ),
        (
            // A refresh token issued to another client.
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "sandbox-refresh-other-client"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "sandbox-refresh-acme"),
                ("client_id", "who.apps.googleusercontent.com"),
                ("client_secret", CLIENT_SECRET),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "sandbox-refresh-acme"),
                ("client_id", CLIENT_ID),
                ("client_secret", "wrong"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unauthorized",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: refresh_token",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type: authorization_code",
        ),
    ];
    for (form, status, error, description) in cases {
        let (got, ct, body) = token_call(&sb, &form).await;
        assert_eq!(got, status, "{form:?}: {body}");
        assert_eq!(ct, "application/json; charset=UTF-8");
        assert_eq!(body["error"], error, "{form:?}");
        assert_eq!(body["error_description"], description, "{form:?}");
    }
    // JSON bodies are not accepted.
    let r = sb
        .http
        .post(sb.url("/token"))
        .json(&serde_json::json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn scope_may_narrow_but_not_widen() {
    let sb = Sandbox::start().await;
    let base = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "sandbox-refresh-bloom"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let mut widen = base.to_vec();
    widen.push(("scope", "https://www.googleapis.com/auth/adwords"));
    let (status, _, body) = token_call(&sb, &widen).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");
    let mut same = base.to_vec();
    same.push(("scope", "https://www.googleapis.com/auth/analytics"));
    let (status, _, body) = token_call(&sb, &same).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], "https://www.googleapis.com/auth/analytics");
    sb.stop().await;
}

#[tokio::test]
async fn rotating_grants_hand_out_a_new_refresh_token_and_retire_the_old() {
    let text = r#"
[[google_clients]]
client_id = "sandbox-client.apps.googleusercontent.com"
client_secret = "sandbox-client-secret"

[[google_grants]]
name = "rotating"
refresh_token = "sandbox-refresh-rotating"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["analytics.readonly"]
rotate_refresh_token = true
"#;
    let mut config = crate::util::example_config();
    config.fixtures = upstream_sandbox::Fixtures::from_toml_str(text).expect("fixtures");
    let sb = Sandbox::start_with(config).await;
    let form = |rt: &'static str| {
        [
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", rt),
        ]
    };
    let (status, _, body) = token_call(&sb, &form("sandbox-refresh-rotating")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["refresh_token"], "sandbox-refresh-rotating-rotated-1");
    // The presented token is retired.
    let (status, _, body) = token_call(&sb, &form("sandbox-refresh-rotating")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _, body) = token_call(&sb, &form("sandbox-refresh-rotating-rotated-1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["refresh_token"], "sandbox-refresh-rotating-rotated-2");
    let grants: Value = sb
        .http
        .get(sb.url("/__sandbox/grants"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        grants["grants"][0]["refresh_token"],
        "sandbox-refresh-rotating-rotated-2"
    );
    assert_eq!(grants["grants"][0]["rotations"], 2);
}

#[tokio::test]
async fn meta_long_lived_exchange() {
    let text = r#"
[[meta_apps]]
app_id = "1234"
app_secret = "sandbox-meta-app-secret"

[[meta_tokens]]
name = "acme"
access_token = "sandbox-meta-acme"
ad_accounts = ["act_111"]

[[meta_tokens]]
name = "old"
access_token = "sandbox-meta-old"
expires_at = "2020-01-01T00:00:00Z"
"#;
    let mut config = crate::util::example_config();
    config.fixtures = upstream_sandbox::Fixtures::from_toml_str(text).expect("fixtures");
    let sb = Sandbox::start_with(config).await;
    let exchange = |secret: &'static str, token: &'static str| {
        let sb = &sb;
        async move {
            let r = sb
                .http
                .post(sb.url("/v26.0/oauth/access_token"))
                .form(&[
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", "1234"),
                    ("client_secret", secret),
                    ("fb_exchange_token", token),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = exchange("sandbox-meta-app-secret", "sandbox-meta-acme").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 5_183_944);
    let minted = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(minted, "sandbox-meta-acme");
    let (status, body) = exchange("wrong", "sandbox-meta-acme").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], 1);
    assert_eq!(body["error"]["type"], "OAuthException");
    let (_, body) = exchange("sandbox-meta-app-secret", "sandbox-meta-old").await;
    assert_eq!(body["error"]["code"], 190);
    assert_eq!(body["error"]["error_subcode"], 463);
    let (_, body) = exchange("sandbox-meta-app-secret", "nonsense").await;
    assert_eq!(body["error"]["code"], 190);
    let counters: Value = sb
        .http
        .get(sb.url("/__sandbox/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["meta_exchanges"]["acme"], 1);
}
