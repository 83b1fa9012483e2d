//! The authorization server's code flow: registration, PKCE, codes that work once, rotating
//! refresh tokens, and the refusals a client must get without being redirected.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::util::Sandbox;

const REDIRECT: &str = "http://127.0.0.1:4999/callback";
const RESOURCE: &str = "https://gateway.example";
const VERIFIER: &str = "a-verifier-that-is-long-enough-for-pkce-0123456789";

fn challenge(verifier: &str) -> String {
    B64.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn register(sb: &Sandbox, metadata: Value) -> (StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url("/oauth/register"))
        .json(&metadata)
        .send()
        .await
        .expect("register");
    (r.status(), r.json().await.expect("json"))
}

/// `/oauth/authorize` with `extra` on top of a valid request; the status and, for a
/// redirect, the query of its `Location`.
async fn authorize(
    sb: &Sandbox,
    client_id: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Vec<(String, String)>) {
    let challenge = challenge(VERIFIER);
    let mut query: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", "st-1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
    ];
    for (k, v) in extra {
        query.retain(|(q, _)| q != k);
        if !v.is_empty() {
            query.push((k, v));
        }
    }
    let r = no_redirects()
        .get(sb.url("/oauth/authorize"))
        .query(&query)
        .send()
        .await
        .expect("authorize");
    let status = r.status();
    let params = r
        .headers()
        .get("location")
        .map(|l| {
            let url = url::Url::parse(l.to_str().expect("ascii")).expect("a URL");
            assert!(url.as_str().starts_with(REDIRECT), "{url}");
            url.query_pairs().into_owned().collect()
        })
        .unwrap_or_default();
    (status, params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn token_call(sb: &Sandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = sb
        .http
        .post(sb.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .expect("token");
    (r.status(), r.json().await.expect("json"))
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&B64.decode(payload).expect("base64url")).expect("claims")
}

#[tokio::test]
async fn metadata_names_every_endpoint_of_the_code_flow() {
    let sb = Sandbox::start().await;
    let m: Value = sb
        .http
        .get(sb.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(m["issuer"], sb.base);
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("registration_endpoint", "/oauth/register"),
        ("jwks_uri", "/oauth/jwks"),
    ] {
        assert_eq!(m[field], sb.url(path), "{field}");
    }
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test]
async fn a_public_client_gets_a_token_for_the_resource_once_per_code() {
    let sb = Sandbox::start().await;
    let (status, client) = register(
        &sb,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"], "client_name": "t"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    assert!(client.get("client_secret").is_none(), "{client}");
    let id = client["client_id"].as_str().expect("client_id");

    // The port of a loopback redirect may change (RFC 8252); the rest may not.
    let (status, params) = authorize(
        &sb,
        id,
        &[("redirect_uri", "http://127.0.0.1:4999/callback")],
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(param(&params, "state"), Some("st-1"));
    assert_eq!(param(&params, "iss"), Some(sb.base.as_str()));
    let code = param(&params, "code").expect("a code").to_owned();

    let exchange = |verifier: &'static str, code: String| {
        let sb = &sb;
        async move {
            token_call(
                sb,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", id),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier),
                    ("resource", RESOURCE),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange(
        "another-verifier-that-is-long-enough-for-pkce-01234",
        code.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant", "{body}");

    let (status, body) = exchange(VERIFIER, code.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = claims(body["access_token"].as_str().expect("access_token"));
    assert_eq!(c["aud"], RESOURCE);
    assert_eq!(
        c["sub"], "owner@acme-shop.example",
        "the first fixture user"
    );
    assert_eq!(c["iss"], sb.base);
    assert_eq!(c["client_id"], id);
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();

    // Refresh rotates: the new token works, the spent one does not.
    let (status, body) = token_call(
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().expect("token"))["aud"],
        RESOURCE
    );
    let rotated = body["refresh_token"].as_str().expect("rotated").to_owned();
    assert_ne!(rotated, refresh);
    let refresh_with = |token: String| {
        let sb = &sb;
        async move {
            token_call(
                sb,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", id),
                    ("refresh_token", &token),
                ],
            )
            .await
        }
    };

    // A replayed code is refused and revokes the chain it started.
    let (status, body) = exchange(VERIFIER, code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = refresh_with(rotated).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "a replayed code must revoke its refresh tokens"
    );

    // A spent refresh token shown again revokes its chain too (it was stolen or replayed).
    let (_, params) = authorize(&sb, id, &[]).await;
    let (status, body) = exchange(VERIFIER, param(&params, "code").expect("code").to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, body) = refresh_with(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let live = body["refresh_token"].as_str().expect("rotated").to_owned();
    let (status, body) = refresh_with(first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = refresh_with(live).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "reusing a spent refresh token must revoke the live one"
    );
}

#[tokio::test]
async fn a_confidential_client_authenticates_the_way_it_registered() {
    let sb = Sandbox::start().await;
    let (status, client) = register(&sb, json!({"redirect_uris": [REDIRECT]})).await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
    let id = client["client_id"].as_str().expect("id");
    let secret = client["client_secret"].as_str().expect("secret");
    let (_, params) = authorize(&sb, id, &[("login_hint", "manager@agency.example")]).await;
    let code = param(&params, "code").expect("code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    // The secret in the body is not how this client registered.
    let mut in_body = form.to_vec();
    in_body.extend([("client_id", id), ("client_secret", secret)]);
    let (status, body) = token_call(&sb, &in_body).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let r = sb
        .http
        .post(sb.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    let c = claims(body["access_token"].as_str().expect("token"));
    assert_eq!(
        c["sub"], "manager@agency.example",
        "login_hint picks the user"
    );
    assert!(
        body.get("refresh_token").is_none(),
        "it did not register refresh_token"
    );
}

#[tokio::test]
async fn bad_authorization_requests_are_refused_before_or_by_the_redirect() {
    let sb = Sandbox::start().await;
    let (status, body) = register(&sb, json!({"redirect_uris": ["http://evil.example/cb"]})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri"))
    );
    let (status, body) = register(
        &sb,
        json!({"redirect_uris": [REDIRECT], "grant_types": ["password"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_metadata"))
    );
    let (_, client) = register(
        &sb,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let id = client["client_id"].as_str().expect("id");

    // Never redirected: an unknown client, a redirect URI it did not register.
    let (status, params) = authorize(&sb, "sbx-unknown", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(params.is_empty());
    let (status, params) = authorize(
        &sb,
        id,
        &[("redirect_uri", "http://127.0.0.1:4999/elsewhere")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(params.is_empty());

    // Redirected with the error: no PKCE, plain PKCE, no resource, an unknown user.
    for (extra, error) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("resource", "")], "invalid_target"),
        (vec![("login_hint", "nobody@example")], "access_denied"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
    ] {
        let (status, params) = authorize(&sb, id, &extra).await;
        assert_eq!(status, StatusCode::FOUND, "{extra:?}");
        assert_eq!(param(&params, "error"), Some(error), "{extra:?}");
        assert_eq!(param(&params, "state"), Some("st-1"));
        assert!(param(&params, "code").is_none());
    }
}
