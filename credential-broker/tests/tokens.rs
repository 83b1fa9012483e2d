//! `TokenService` on a real store (SQLite always, PostgreSQL with `TEST_POSTGRES_URL`) against a
//! local Google token endpoint: which token is served in each refresh window, one refresh for
//! many waiting callers, a rotated refresh token committed first, `invalid_grant` versus a lost
//! race, backoff after an outage, and the reason a (shop, provider) resolves to nothing.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use broker_proto::{ErrorCode, Provider};
use credential_broker::config::{self, BrokerConfig, GoogleApp};
use credential_broker::integration;
use credential_broker::metrics::BrokerMetrics;
use credential_broker::store::{Backend, Store};
use credential_broker::tokens::TokenService;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;

use common::{PROMPT, TestDb, ga4_data};

const SHOP: &str = "cac9d883-015f-478e-a93f-32ef401582a3";
const OTHER_SHOP: &str = "0b2a803b-8301-4692-8000-000000000002";

/// What the token endpoint has been asked, by refresh token.
#[derive(Clone, Default)]
struct Endpoint {
    calls: Arc<Mutex<HashMap<String, u32>>>,
    /// The store the dashboard writes to, for the race: on `rt-race` the endpoint first
    /// reconnects the integration (a new refresh token), then refuses the old one.
    dashboard: Arc<Mutex<Option<(Store, i64)>>>,
}

impl Endpoint {
    fn calls(&self, refresh_token: &str) -> u32 {
        self.calls
            .lock()
            .unwrap()
            .get(refresh_token)
            .copied()
            .unwrap_or(0)
    }
}

async fn token_endpoint(State(ep): State<Endpoint>, body: String) -> Response {
    let rt = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "refresh_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let n = {
        let mut calls = ep.calls.lock().unwrap();
        let n = calls.entry(rt.clone()).or_default();
        *n += 1;
        *n
    };
    let refused = |code: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": code, "error_description": "Token has been expired or revoked."}),
            ),
        )
            .into_response()
    };
    match rt.as_str() {
        "rt-good" => axum::Json(json!({"access_token": format!("ya29.fresh-{n}"),
            "expires_in": 3600, "token_type": "Bearer"}))
        .into_response(),
        "rt-short" => axum::Json(json!({"access_token": format!("ya29.short-{n}"),
            "expires_in": 300, "token_type": "Bearer"}))
        .into_response(),
        "rt-rotating" => axum::Json(json!({"access_token": "ya29.after-rotation",
            "expires_in": 3600, "token_type": "Bearer", "refresh_token": "rt-rotated"}))
        .into_response(),
        "rt-revoked" => refused("invalid_grant"),
        "rt-race" => {
            let dashboard = ep.dashboard.lock().unwrap().clone();
            if let Some((store, id)) = dashboard {
                let row = store.integration(id).await.unwrap().unwrap();
                let mut data = row.data.clone();
                data["refresh_token"] = json!("rt-good");
                store.set_integration_data(id, &data).await.unwrap();
            }
            refused("invalid_grant")
        }
        "rt-busy" => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "temporarily_unavailable"})),
        )
            .into_response(),
        _ => refused("invalid_request"),
    }
}

/// A store with one shop, its token service, and the endpoint it refreshes at.
struct Fixture {
    store: Store,
    tokens: Arc<TokenService>,
    endpoint: Endpoint,
    audit: credential_broker::audit::AuditWriter,
    _dir: tempfile::TempDir,
}

async fn fixture(db: &TestDb) -> Fixture {
    let endpoint = Endpoint::default();
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token_endpoint))
        .with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let mut config: BrokerConfig =
        config::load(None, Some(db.url.clone()), Some(dir.path().join("b.sock"))).unwrap();
    // Whatever the environment says: this endpoint, and no Meta app.
    config.meta = None;
    config.google = Some(GoogleApp {
        client_id: "client.apps.googleusercontent.com".into(),
        client_secret: SecretString::from("client-secret".to_owned()),
        token_uri: format!("http://{addr}/token").parse().unwrap(),
    });
    let store = db.migrated().await;
    store.upsert_shop(SHOP, "Berry Shop").await.unwrap();
    store.upsert_shop(OTHER_SHOP, "Other Shop").await.unwrap();
    let (sink, writer) = credential_broker::audit::start(store.clone());
    let http = credential_broker::daemon::http_client().unwrap();
    let tokens = TokenService::new(
        store.clone(),
        Arc::new(config),
        http,
        sink,
        Arc::new(BrokerMetrics::default()),
    );
    Fixture {
        store,
        tokens,
        endpoint,
        audit: writer,
        _dir: dir,
    }
}

impl Fixture {
    async fn ga4(&self, data: Value) -> i64 {
        let code = config::load(None, None, None)
            .map(|c| c.type_code(Provider::Ga4))
            .unwrap_or(201);
        self.store
            .insert_integration(SHOP, code, &data, true, false)
            .await
            .unwrap()
    }

    async fn stored(&self, id: i64) -> integration::IntegrationData {
        integration::parse(&self.store.integration(id).await.unwrap().unwrap().data)
    }

    async fn token(&self) -> Result<String, broker_proto::BrokerError> {
        self.tokens
            .token(SHOP, Provider::Ga4)
            .await
            .map(|g| g.access_token.expose_secret().to_owned())
    }
}

/// Polls `done` until it holds; fails after [`PROMPT`] (only a hang gets there).
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PROMPT, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_fresh_token_is_served_without_asking_google(db: &TestDb) {
    let f = fixture(db).await;
    f.ga4(ga4_data(
        "ya29.stored",
        "rt-good",
        chrono::Duration::hours(1),
    ))
    .await;
    for _ in 0..3 {
        assert_eq!(f.token().await.unwrap(), "ya29.stored");
    }
    assert_eq!(f.endpoint.calls("rt-good"), 0);
}

async fn a_token_inside_the_ahead_window_is_served_while_it_is_refreshed(db: &TestDb) {
    let f = fixture(db).await;
    // `rt-short` tokens live five minutes: past `ahead` (10 min), outside `hard_window` (2 min).
    let id = f
        .ga4(ga4_data(
            "ya29.old",
            "rt-short",
            chrono::Duration::seconds(-1),
        ))
        .await;
    // Nothing cached and the stored token expired: the first caller waits for a refresh.
    assert_eq!(f.token().await.unwrap(), "ya29.short-1");
    assert_eq!(f.endpoint.calls("rt-short"), 1);
    // Cached and inside the ahead window: served at once, refreshed behind the caller's back.
    assert_eq!(
        f.token().await.unwrap(),
        "ya29.short-1",
        "the caller does not wait"
    );
    until("a background refresh", || f.endpoint.calls("rt-short") >= 2).await;
    // The refresh commits to the store, then to the cache callers read: wait for the cache.
    let started = Instant::now();
    loop {
        let served = f.token().await.unwrap();
        if served != "ya29.short-1" {
            assert!(served.starts_with("ya29.short-"), "{served}");
            break;
        }
        assert!(
            started.elapsed() < PROMPT,
            "the fresh token was never served"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stored = f.stored(id).await.token.unwrap();
    assert_ne!(stored.expose_secret(), "ya29.short-1", "stored too");
}

async fn callers_of_an_expired_token_wait_for_one_refresh(db: &TestDb) {
    let f = fixture(db).await;
    f.ga4(ga4_data(
        "ya29.old",
        "rt-good",
        chrono::Duration::seconds(-30),
    ))
    .await;
    let calls = (0..8).map(|_| f.token());
    let tokens = futures::future::join_all(calls).await;
    for t in tokens {
        assert_eq!(t.unwrap(), "ya29.fresh-1");
    }
    assert_eq!(f.endpoint.calls("rt-good"), 1, "single flight");
}

async fn a_rotated_refresh_token_is_stored_before_the_token_is_handed_out(db: &TestDb) {
    let f = fixture(db).await;
    let id = f
        .ga4(ga4_data(
            "ya29.old",
            "rt-rotating",
            chrono::Duration::seconds(-1),
        ))
        .await;
    // While the database refuses every write, the rotated token must not be handed out: Google
    // has already retired the old refresh token, so a token whose successor is not stored
    // would strand the integration.
    db.raw(match db.backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_writes BEFORE UPDATE ON importers_integration \
             BEGIN SELECT RAISE(ABORT, 'read-only for this test'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'read-only for this test'; END $$; \
             CREATE TRIGGER refuse_writes BEFORE UPDATE ON importers_integration \
             FOR EACH ROW EXECUTE FUNCTION refuse_writes();"
        }
    })
    .await;
    let e = f.token().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Internal, "{}", e.message);
    assert_eq!(f.endpoint.calls("rt-rotating"), 1);
    db.raw(match db.backend {
        Backend::Sqlite => "DROP TRIGGER refuse_writes;",
        Backend::Postgres => "DROP TRIGGER refuse_writes ON importers_integration;",
    })
    .await;
    assert_eq!(f.token().await.unwrap(), "ya29.after-rotation");
    let stored = f.stored(id).await;
    assert_eq!(stored.refresh_token.unwrap().expose_secret(), "rt-rotated");
    assert_eq!(stored.token.unwrap().expose_secret(), "ya29.after-rotation");
    // Keys the broker does not know are kept.
    let row = f.store.integration(id).await.unwrap().unwrap();
    assert_eq!(row.data["property_id"], "326784853");
}

async fn a_token_an_upstream_refused_is_replaced_once(db: &TestDb) {
    let f = fixture(db).await;
    f.ga4(ga4_data(
        "ya29.stored",
        "rt-good",
        chrono::Duration::hours(1),
    ))
    .await;
    let served = f.token().await.unwrap();
    let refused = broker_proto::token_fingerprint(&served);
    // Every server that saw it refused reports it: one refresh serves them all.
    let reports = (0..4).map(|_| f.tokens.rejected(SHOP, Provider::Ga4, &refused));
    for grant in futures::future::join_all(reports).await {
        assert_eq!(grant.unwrap().access_token.expose_secret(), "ya29.fresh-1");
    }
    assert_eq!(f.endpoint.calls("rt-good"), 1);
    assert_eq!(f.token().await.unwrap(), "ya29.fresh-1");
    // The replacement refused at once too: an error, not a refresh per report.
    let again = broker_proto::token_fingerprint("ya29.fresh-1");
    let e = f
        .tokens
        .rejected(SHOP, Provider::Ga4, &again)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenRejected, "{}", e.message);
    assert_eq!(f.endpoint.calls("rt-good"), 1);
    // A server's word never marks the integration.
    assert!(f.store.integration_statuses().await.unwrap().is_empty());
}

async fn invalid_grant_marks_the_integration_for_reconnection(db: &TestDb) {
    let f = fixture(db).await;
    let id = f
        .ga4(ga4_data(
            "ya29.old",
            "rt-revoked",
            chrono::Duration::seconds(-1),
        ))
        .await;
    let e = f.token().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ReconnectRequired);
    assert_eq!(
        e.message,
        format!(
            "The Google Analytics authorization for shop {SHOP} was revoked or has expired.\nPlease reconnect your Google Analytics account in the dashboard."
        )
    );
    let statuses = f.store.integration_statuses().await.unwrap();
    assert!(
        statuses
            .iter()
            .any(|s| s.integration_id == id && s.needs_reconnect),
        "{statuses:?}"
    );
    let notes = f.store.notifications(Some(SHOP), 10).await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "reconnect_required");
    // Asked again: the mark answers, the token endpoint is not asked twice.
    assert_eq!(
        f.token().await.unwrap_err().code,
        ErrorCode::ReconnectRequired
    );
    assert_eq!(f.endpoint.calls("rt-revoked"), 1);
    // The endpoint echoed the refresh token: nothing of it reaches the caller, the shop's
    // message, the status row or the audit trail.
    assert!(!e.message.contains("rt-revoked"), "{}", e.message);
    assert!(!notes[0].message.contains("rt-revoked"));
    assert!(!format!("{statuses:?}").contains("rt-revoked"));
    let Fixture {
        store,
        tokens,
        audit,
        ..
    } = f;
    drop(tokens);
    audit.finish(PROMPT).await;
    let audit = format!("{:?}", store.audit(None, 100).await.unwrap());
    assert!(audit.contains("revoked"), "{audit}");
    assert!(!audit.contains("rt-revoked"), "{audit}");
}

/// The calls after the first fall inside the first backoff (5 s), which the "retry in" of each
/// answer shows: a second request to the endpoint would mean there was none.
async fn an_outage_backs_off_instead_of_hammering(db: &TestDb) {
    let f = fixture(db).await;
    f.ga4(ga4_data(
        "ya29.old",
        "rt-busy",
        chrono::Duration::seconds(-1),
    ))
    .await;
    for _ in 0..3 {
        let e = f.token().await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Unavailable, "{}", e.message);
        assert!(e.message.contains("retry in"), "{}", e.message);
    }
    assert_eq!(
        f.endpoint.calls("rt-busy"),
        1,
        "backed off after one failure"
    );
    assert!(
        f.store.integration_statuses().await.unwrap().is_empty(),
        "an outage is no reason to reconnect"
    );
}

async fn a_token_still_valid_is_served_through_an_outage(db: &TestDb) {
    let f = fixture(db).await;
    // Inside the hard window but not expired: the refresh fails, the token still works.
    f.ga4(ga4_data(
        "ya29.last",
        "rt-busy",
        chrono::Duration::seconds(60),
    ))
    .await;
    assert_eq!(f.token().await.unwrap(), "ya29.last");
    assert_eq!(f.token().await.unwrap(), "ya29.last");
    assert_eq!(f.endpoint.calls("rt-busy"), 1);
}

async fn resolution_names_what_is_missing(db: &TestDb) {
    let f = fixture(db).await;
    let code = |r: Result<_, broker_proto::BrokerError>| r.map(drop).unwrap_err().code;
    assert_eq!(
        code(
            f.tokens
                .token("5d4c3b2a-1000-4000-8000-00000000000f", Provider::Ga4)
                .await
        ),
        ErrorCode::UnknownShop
    );
    let e = f.tokens.token(OTHER_SHOP, Provider::Ga4).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NoIntegration);
    assert_eq!(
        e.message,
        format!(
            "No Google Analytics integration found for shop {OTHER_SHOP}.\nPlease connect your Google Analytics account in the dashboard."
        )
    );
    let ga4 = config::load(None, None, None)
        .map(|c| c.type_code(Provider::Ga4))
        .unwrap_or(201);
    let cases = [
        (
            // No property picked: grants nothing.
            json!({"token": "ya29.x", "refresh_token": "rt-good",
                   "granted_scopes": ["https://www.googleapis.com/auth/analytics.readonly"]}),
            true,
            ErrorCode::NoAccount,
        ),
        (
            json!({"token": "ya29.x", "refresh_token": "rt-good", "property_id": "326784853",
                   "granted_scopes": ["openid", "email"]}),
            true,
            ErrorCode::MissingScope,
        ),
        (
            ga4_data("ya29.x", "rt-good", chrono::Duration::hours(1)),
            false,
            ErrorCode::IntegrationInactive,
        ),
    ];
    for (i, (data, active, expected)) in cases.into_iter().enumerate() {
        // A shop per case: a resolution is remembered for a moment.
        let shop = format!("5d4c3b2a-1000-4000-8000-00000000001{i}");
        f.store.upsert_shop(&shop, "case").await.unwrap();
        f.store
            .insert_integration(&shop, ga4, &data, active, false)
            .await
            .unwrap();
        let e = f.tokens.token(&shop, Provider::Ga4).await.unwrap_err();
        assert_eq!(e.code, expected, "{}", e.message);
    }
    assert_eq!(f.endpoint.calls("rt-good"), 0, "nothing was refreshed");
}

suite!(
    a_fresh_token_is_served_without_asking_google,
    a_token_inside_the_ahead_window_is_served_while_it_is_refreshed,
    callers_of_an_expired_token_wait_for_one_refresh,
    a_rotated_refresh_token_is_stored_before_the_token_is_handed_out,
    a_token_an_upstream_refused_is_replaced_once,
    invalid_grant_marks_the_integration_for_reconnection,
    an_outage_backs_off_instead_of_hammering,
    a_token_still_valid_is_served_through_an_outage,
    resolution_names_what_is_missing,
);

/// PostgreSQL only: there the dashboard writes an integration without the broker's advisory
/// lock, so a reconnect can land while a refresh with the old refresh token is in flight (on
/// SQLite the refresh holds the database's write lock, so it cannot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_changed_mid_refresh_is_a_lost_race_not_a_revocation() {
    let Some(db) = TestDb::postgres("lost_race").await else {
        return;
    };
    let f = fixture(&db).await;
    let id = f
        .ga4(ga4_data(
            "ya29.old",
            "rt-race",
            chrono::Duration::seconds(-1),
        ))
        .await;
    *f.endpoint.dashboard.lock().unwrap() = Some((db.open().await, id));
    assert_eq!(
        f.token().await.unwrap(),
        "ya29.fresh-1",
        "retried with the new refresh token"
    );
    assert_eq!(f.endpoint.calls("rt-race"), 1);
    assert_eq!(f.endpoint.calls("rt-good"), 1);
    assert!(f.store.integration_statuses().await.unwrap().is_empty());
    assert!(
        f.store
            .notifications(Some(SHOP), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
