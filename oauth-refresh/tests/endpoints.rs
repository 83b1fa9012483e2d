//! Both token-endpoint calls against a local HTTP server that answers as Google's and Meta's
//! endpoints do: every answer a caller must tell apart (a token, a rotated refresh token, a
//! revoked grant, a refused client, a passing outage, anything else), and where the secrets
//! travel.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oauth_refresh::{GoogleClient, RefreshError, exchange_meta, refresh_google};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

/// What the endpoint saw: each request's query string and form body.
type Seen = Arc<Mutex<Vec<(Option<String>, String)>>>;

/// Google's token endpoint: the answer depends on the refresh token presented.
async fn google(State(seen): State<Seen>, RawQuery(q): RawQuery, body: String) -> Response {
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((q, body.clone()));
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "refresh_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let error = |status: StatusCode, code: &str| {
        (
            status,
            axum::Json(json!({"error": code, "error_description": format!("{code} said")})),
        )
            .into_response()
    };
    match token.as_str() {
        "good" => axum::Json(json!({"access_token": "ya29.fresh", "expires_in": 1800,
            "token_type": "Bearer", "scope": "a b"}))
        .into_response(),
        "rotating" => axum::Json(json!({"access_token": "ya29.r", "token_type": "Bearer",
            "refresh_token": "rotated-1"}))
        .into_response(),
        "revoked" => error(StatusCode::BAD_REQUEST, "invalid_grant"),
        "bad-client" => error(StatusCode::UNAUTHORIZED, "invalid_client"),
        "busy" => error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        "odd" => error(StatusCode::BAD_REQUEST, "invalid_scope"),
        _ => (StatusCode::OK, "<html>not json</html>").into_response(),
    }
}

/// Meta's `/oauth/access_token`: the answer depends on the token to extend.
async fn meta(State(seen): State<Seen>, RawQuery(q): RawQuery, body: String) -> Response {
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((q, body.clone()));
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "fb_exchange_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let error = |status: StatusCode, code: i64| {
        (
            status,
            axum::Json(
                json!({"error": {"message": format!("meta {code}"), "type": "OAuthException",
            "code": code, "error_subcode": 463}}),
            ),
        )
            .into_response()
    };
    match token.as_str() {
        "good" => axum::Json(json!({"access_token": "EAAB-long", "token_type": "bearer",
            "expires_in": 5_183_944}))
        .into_response(),
        "no-expiry" => axum::Json(json!({"access_token": "EAAB-x"})).into_response(),
        "expired" => error(StatusCode::BAD_REQUEST, 190),
        "bad-app" => error(StatusCode::BAD_REQUEST, 101),
        "throttled" => error(StatusCode::BAD_REQUEST, 17),
        "down" => error(StatusCode::INTERNAL_SERVER_ERROR, 2),
        _ => error(StatusCode::BAD_REQUEST, 100),
    }
}

async fn endpoint() -> (Url, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/token", axum::routing::post(google))
        .route("/v26.0/oauth/access_token", axum::routing::post(meta))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (Url::parse(&format!("http://{addr}/")).expect("url"), seen)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn google_answers_are_told_apart() {
    let (base, seen) = endpoint().await;
    let client = GoogleClient {
        client_id: "c.apps.googleusercontent.com".into(),
        client_secret: SecretString::from("client-secret-xyz"),
        token_uri: base.join("token").expect("url"),
    };
    let refresh = |t: &str| {
        let (http, client, token) = (http(), client.clone(), SecretString::from(t.to_owned()));
        async move { refresh_google(&http, &client, &token).await }
    };

    let ok = refresh("good").await.expect("a token");
    assert_eq!(ok.access_token.expose_secret(), "ya29.fresh");
    assert_eq!(ok.expires_in, Duration::from_secs(1800));
    assert!(ok.refresh_token.is_none());
    assert_eq!(ok.scopes, Some(vec!["a".to_owned(), "b".to_owned()]));
    let rotated = refresh("rotating").await.expect("a token");
    assert_eq!(
        rotated.expires_in,
        Duration::from_secs(3600),
        "default lifetime"
    );
    assert_eq!(
        rotated
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("rotated-1".to_owned())
    );

    let err = |r: Result<_, RefreshError>| r.err().expect("an error");
    assert!(
        matches!(err(refresh("revoked").await), RefreshError::InvalidGrant(d) if d.contains("invalid_grant said"))
    );
    assert!(matches!(
        err(refresh("bad-client").await),
        RefreshError::InvalidClient(_)
    ));
    let busy = err(refresh("busy").await);
    assert!(busy.is_transient(), "{busy}");
    assert!(
        matches!(err(refresh("odd").await), RefreshError::Refused(d) if d.contains("invalid_scope"))
    );
    assert!(
        err(refresh("garbage").await).is_transient(),
        "an unreadable answer is an outage"
    );

    // The secrets travel in the form body, never the URL.
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(!seen.is_empty());
    for (query, body) in &seen {
        assert!(query.is_none(), "{query:?}");
        assert!(body.contains("client_secret=client-secret-xyz"), "{body}");
    }
}

#[tokio::test]
async fn meta_answers_are_told_apart() {
    let (base, seen) = endpoint().await;
    let graph = base.join("v26.0").expect("url");
    let secret = SecretString::from("app-secret-abc");
    let exchange = |t: &str| {
        let (http, graph, secret, token) = (
            http(),
            graph.clone(),
            secret.clone(),
            SecretString::from(t.to_owned()),
        );
        async move { exchange_meta(&http, &graph, "1000000000000001", &secret, &token).await }
    };
    let ok = exchange("good").await.expect("a token");
    assert_eq!(ok.access_token.expose_secret(), "EAAB-long");
    assert_eq!(ok.expires_in, Duration::from_secs(5_183_944));
    let lasting = exchange("no-expiry").await.expect("a token");
    assert_eq!(
        lasting.expires_in,
        Duration::from_secs(60 * 24 * 3600),
        "60 days assumed"
    );

    let err = |r: Result<_, RefreshError>| r.err().expect("an error");
    assert!(
        matches!(err(exchange("expired").await), RefreshError::InvalidGrant(d) if d.contains("190/463"))
    );
    assert!(matches!(
        err(exchange("bad-app").await),
        RefreshError::InvalidClient(_)
    ));
    assert!(err(exchange("throttled").await).is_transient());
    assert!(err(exchange("down").await).is_transient());
    assert!(matches!(
        err(exchange("other").await),
        RefreshError::Refused(_)
    ));

    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (query, body) in &seen {
        assert!(query.is_none(), "secrets in the URL: {query:?}");
        assert!(
            body.contains("client_secret=app-secret-abc")
                && body.contains("grant_type=fb_exchange_token"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_outage() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let client = GoogleClient {
        client_id: "c".into(),
        client_secret: SecretString::from("s"),
        token_uri: Url::parse(&format!("http://127.0.0.1:{port}/token")).expect("url"),
    };
    let e = refresh_google(&http(), &client, &SecretString::from("good"))
        .await
        .err()
        .expect("an error");
    assert!(e.is_transient(), "{e}");
}

#[test]
fn rebase_keeps_the_path_and_query_under_the_base() {
    let real = Url::parse("https://oauth2.googleapis.com/token?x=1").expect("url");
    let base = Url::parse("http://127.0.0.1:9/prefix/").expect("url");
    assert_eq!(
        oauth_refresh::rebase(&real, Some(&base)).as_str(),
        "http://127.0.0.1:9/prefix/token?x=1"
    );
    assert_eq!(oauth_refresh::rebase(&real, None), real);
}
