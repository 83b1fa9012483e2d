//! The storage layer (`credential_broker::store`) against real databases.
//!
//! Every test is written once, as an `async fn(&TestDb)`, and the `suite!` macro runs it twice:
//! `sqlite::NAME` on a temporary file (always) and `postgres::NAME` on a fresh database created
//! on the server named by `TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`)
//! and dropped afterwards, also when the test fails. Without that variable the PostgreSQL tests
//! print `SKIPPED: TEST_POSTGRES_URL not set` and pass, unless `BERRYBOO_REQUIRE_ALL_TESTS=1`,
//! in which case they fail.
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo nextest run -p credential-broker
//! ```
//!
//! Shop ids are UUIDs throughout because the PostgreSQL schema (like the dashboard's) types
//! them so; SQLite stores the same text.

// The suite's bodies are plain `async fn`s shared by both backends' `#[tokio::test]`s, which
// clippy's allow-unwrap-in-tests does not recognise as tests.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use credential_broker::store::{
    AuditEvent, Backend, IntegrationStatus, LeaseRecord, Notification, ShopKeyRecord, Store,
    StoreError,
};
use serde_json::{Value, json};

const SHOP_A: &str = "cac9d883-015f-478e-a93f-32ef401582a3";
const SHOP_B: &str = "0b2a803b-8301-4692-8000-000000000002";
const SHOP_C: &str = "5d4c3b2a-1000-4000-8000-000000000003";
const GA4: i32 = 201;
const ADS: i32 = 202;

/// Generous bound for things that must happen "promptly"; only a hang reaches it.
const PROMPT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Databases

/// A database for one test: a temporary SQLite file, or a PostgreSQL database that is dropped
/// when this value is (including while a failing test unwinds).
struct TestDb {
    backend: Backend,
    url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDropGuard>,
}

struct PgDropGuard {
    admin_url: String,
    name: String,
}

impl Drop for PgDropGuard {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be unwinding, so the DROP runs on a
        // fresh runtime on its own thread.
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for DROP DATABASE");
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!(
                "warning: could not drop test database {}: {done:?}",
                self.name
            );
        }
    }
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("broker.db").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            _dir: Some(dir),
            _pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (after saying so) if none is configured.
    async fn postgres(test: &str) -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
            if std::env::var("BERRYBOO_REQUIRE_ALL_TESTS").as_deref() == Ok("1") {
                panic!("TEST_POSTGRES_URL not set but BERRYBOO_REQUIRE_ALL_TESTS=1 ({test})");
            }
            eprintln!("SKIPPED: TEST_POSTGRES_URL not set (postgres::{test})");
            return None;
        };
        let name = format!("berryboo_test_{:016x}", rand::random::<u64>());
        {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("connect to TEST_POSTGRES_URL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("CREATE DATABASE");
            conn.close().await.ok();
        }
        // From here on the database is dropped whatever happens.
        let guard = PgDropGuard {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(TestDb {
            backend: Backend::Postgres,
            url: url.to_string(),
            _dir: None,
            _pg: Some(guard),
        })
    }

    async fn open(&self) -> Store {
        Store::open(&self.url, true).await.expect("open store")
    }

    /// A migrated store.
    async fn migrated(&self) -> Store {
        let store = self.open().await;
        store.migrate().await.expect("migrate");
        store
    }

    /// Runs hand-written SQL (several statements allowed) outside the store, as another
    /// program (the dashboard, a DBA) would.
    async fn raw(&self, sql: &str) {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend {
            Backend::Sqlite => {
                // Creates the file if need be, as the dashboard's tooling would have.
                let options: sqlx::sqlite::SqliteConnectOptions =
                    self.url.parse().expect("SQLite URL");
                let mut c = sqlx::SqliteConnection::connect_with(&options.create_if_missing(true))
                    .await
                    .expect("connect");
                sqlx::raw_sql(sql).execute(&mut c).await.expect("raw SQL");
                c.close().await.ok();
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect");
                sqlx::raw_sql(sql).execute(&mut c).await.expect("raw SQL");
                c.close().await.ok();
            }
        }
    }

    /// One text value from hand-written SQL (PostgreSQL only).
    async fn pg_text(&self, sql: &str) -> Option<String> {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect");
        let v: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_optional(&mut c)
            .await
            .expect("query");
        c.close().await.ok();
        v
    }

    /// Returns once another session waits for an advisory lock in this database (PostgreSQL),
    /// or after a moment (SQLite, where waiting is not observable). Either way the caller's
    /// assertions hold whatever the timing; this only makes them meaningful.
    async fn until_a_locker_waits(&self) {
        match self.backend {
            Backend::Sqlite => tokio::time::sleep(Duration::from_millis(300)).await,
            Backend::Postgres => {
                let started = Instant::now();
                loop {
                    let waiting = self
                        .pg_text(
                            "SELECT count(*)::text FROM pg_locks l JOIN pg_database d \
                             ON d.oid = l.database WHERE d.datname = current_database() \
                             AND l.locktype = 'advisory' AND NOT l.granted",
                        )
                        .await;
                    if waiting.as_deref() != Some("0") {
                        return;
                    }
                    assert!(started.elapsed() < PROMPT, "the second locker never waited");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

/// Runs each listed `async fn(&TestDb)` on SQLite and on PostgreSQL.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::TestDb::sqlite();
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::TestDb::postgres(stringify!($name)).await else {
                        return;
                    };
                    super::$name(&db).await;
                }
            )*
        }
    };
}

suite!(
    migrate_is_idempotent,
    check_dashboard_tables_names_what_is_missing,
    broker_runs_on_a_hand_made_dashboard_schema,
    shops_and_integrations_round_trip,
    integrations_of_is_newest_first,
    lock_serialises_lockers_in_one_process,
    lock_serialises_lockers_across_pools,
    lock_of_other_integrations,
    dropping_or_releasing_a_lock_rolls_back,
    lock_of_a_missing_integration,
    lock_wait_is_bounded,
    leases_insert_lookup_revoke_list,
    an_earlier_lease_table_is_upgraded,
    audit_batch_of_500_newest_first,
    notifications_newest_first,
    shop_keys_round_trip_and_revoke_their_leases,
    principals_add_list_remove,
    statuses_upsert,
    connect_errors_hide_the_password,
);

// ---------------------------------------------------------------------------------------------
// Helpers

fn token_data(token: &str) -> Value {
    json!({
        "token": token,
        "refresh_token": "1//refresh-secret",
        "expires_at": "2026-10-21T12:00:00Z",
        "granted_scopes": ["https://www.googleapis.com/auth/analytics.readonly"],
        "property_id": "326784853",
    })
}

async fn seed_shop_with_ga4(store: &Store) -> i64 {
    store.upsert_shop(SHOP_A, "Berry Shop").await.unwrap();
    store
        .insert_integration(SHOP_A, GA4, &token_data("ya29.v1"), true, false)
        .await
        .unwrap()
}

fn audit_event(i: i64, shop: Option<&str>) -> AuditEvent {
    AuditEvent {
        at_ms: 1_760_000_000_000 + i,
        peer_uid: (i % 2 == 0).then_some(1000 + i as u32),
        peer_pid: (i % 3 == 0).then_some(4000 + i as i32),
        action: "token".into(),
        shop_id: shop.map(str::to_owned),
        provider: (i % 2 == 0).then(|| "ga4".to_owned()),
        lease_id: Some(format!("lease-{i}")),
        outcome: if i % 5 == 0 { "denied" } else { "ok" }.into(),
        detail: (i % 5 == 0).then(|| format!("detail {i}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Schema

async fn migrate_is_idempotent(db: &TestDb) {
    // Two brokers starting at once on a new database must not trip over each other's DDL.
    let store = db.open().await;
    let other = db.open().await;
    let (a, b) = tokio::join!(store.migrate(), other.migrate());
    a.unwrap();
    b.unwrap();
    store.migrate().await.unwrap();
    other.migrate().await.unwrap();
    other.ensure_broker_tables().await.unwrap();
    store.check_dashboard_tables().await.unwrap();

    assert!(store.shops().await.unwrap().is_empty());
    assert!(store.integrations(None).await.unwrap().is_empty());
    assert!(store.leases(None, true, 0).await.unwrap().is_empty());
    assert!(store.audit(None, 10).await.unwrap().is_empty());
    assert!(store.notifications(None, 10).await.unwrap().is_empty());
    assert!(store.integration_statuses().await.unwrap().is_empty());

    // Data written before a re-migration survives it.
    let id = seed_shop_with_ga4(&store).await;
    store.migrate().await.unwrap();
    assert_eq!(
        store.integration(id).await.unwrap().unwrap().data,
        token_data("ya29.v1")
    );

    if db.backend == Backend::Postgres {
        let ty = db
            .pg_text(
                "SELECT data_type::text FROM information_schema.columns \
                 WHERE table_name = 'importers_integration' AND column_name = 'data'",
            )
            .await;
        assert_eq!(
            ty.as_deref(),
            Some("jsonb"),
            "migrate creates the dashboard's jsonb column"
        );
    }
}

async fn check_dashboard_tables_names_what_is_missing(db: &TestDb) {
    let store = db.open().await;
    let err = store.check_dashboard_tables().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MissingTable {
                table: "sources_shop",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("sources_shop"), "{text}");
    assert!(
        text.contains("run `credential-broker migrate --database URL`"),
        "{text}"
    );

    // The broker's own tables do not satisfy the check.
    store.ensure_broker_tables().await.unwrap();
    assert!(store.check_dashboard_tables().await.is_err());

    db.raw("CREATE TABLE sources_shop (id TEXT PRIMARY KEY, name TEXT NOT NULL)")
        .await;
    let err = store.check_dashboard_tables().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MissingTable {
                table: "importers_integration",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("importers_integration"), "{err}");

    // A table of that name that is not the dashboard's is named too.
    db.raw("CREATE TABLE importers_integration (id BIGINT PRIMARY KEY, shop_id TEXT)")
        .await;
    let err = store.check_dashboard_tables().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MissingColumn {
                column: "integration_type",
                ..
            }
        ),
        "{err:?}"
    );

    if db.backend == Backend::Sqlite {
        // `serve` opens without creating: a mistyped path fails and creates nothing.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typo.db");
        let err = Store::open(&format!("sqlite://{}", path.display()), false)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::DatabaseMissing { .. }), "{err:?}");
        assert!(
            err.to_string().contains("credential-broker migrate"),
            "{err}"
        );
        assert!(!path.exists());

        // `migrate` creates it, and its directory, readable by the owner only.
        let path = dir.path().join("new/dir/broker.db");
        let created = Store::open(&format!("sqlite:{}", path.display()), true)
            .await
            .unwrap();
        created.migrate().await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        // An in-memory database works and keeps its contents across pooled connections.
        let mem = Store::open("sqlite::memory:", false).await.unwrap();
        mem.migrate().await.unwrap();
        mem.upsert_shop(SHOP_A, "Memory").await.unwrap();
        let reads = (0..8).map(|_| mem.shops());
        for shops in futures::future::join_all(reads).await {
            assert_eq!(shops.unwrap().len(), 1);
        }
    }
}

/// The dashboard's schema as it really is (PostgreSQL: `json` data, uuid shop ids, `integer`
/// ids, extra columns; SQLite: Django's naive timestamps), created by hand: the broker must
/// work on it without changing it.
async fn broker_runs_on_a_hand_made_dashboard_schema(db: &TestDb) {
    match db.backend {
        Backend::Postgres => {
            db.raw(&format!(
                "CREATE TABLE sources_shop (
                     id uuid PRIMARY KEY, name varchar(255) NOT NULL,
                     created timestamptz NOT NULL DEFAULT now());
                 CREATE TABLE importers_integration (
                     id serial PRIMARY KEY,
                     shop_id uuid NOT NULL REFERENCES sources_shop (id),
                     integration_type integer NOT NULL, data json NOT NULL,
                     active boolean NOT NULL, deleted boolean NOT NULL,
                     created timestamptz NOT NULL, updated timestamptz NOT NULL);
                 INSERT INTO sources_shop (id, name) VALUES ('{SHOP_A}', 'Berry Shop');
                 INSERT INTO importers_integration
                     (shop_id, integration_type, data, active, deleted, created, updated)
                 VALUES ('{SHOP_A}', {GA4},
                     '{{\"token\": \"ya29.dash\", \"refresh_token\": \"1//r\", \"nested\": {{\"a\": [1, 2]}}}}',
                     true, false, '2024-05-01 10:00:00+00', '2024-05-01 10:00:00+00');"
            ))
            .await;
        }
        Backend::Sqlite => {
            db.raw(&format!(
                "CREATE TABLE sources_shop (id varchar(36) PRIMARY KEY, name varchar(255) NOT NULL);
                 CREATE TABLE importers_integration (
                     id integer PRIMARY KEY AUTOINCREMENT,
                     shop_id varchar(36) NOT NULL REFERENCES sources_shop (id),
                     integration_type integer NOT NULL, data text NOT NULL,
                     active bool NOT NULL, deleted bool NOT NULL,
                     created datetime NOT NULL, updated datetime NOT NULL);
                 INSERT INTO sources_shop (id, name) VALUES ('{SHOP_A}', 'Berry Shop');
                 INSERT INTO importers_integration
                     (shop_id, integration_type, data, active, deleted, created, updated)
                 VALUES ('{SHOP_A}', {GA4},
                     '{{\"token\": \"ya29.dash\", \"refresh_token\": \"1//r\", \"nested\": {{\"a\": [1, 2]}}}}',
                     1, 0, '2024-05-01 10:00:00.123456', 'not a timestamp');"
            ))
            .await;
        }
    }
    let columns_before = describe_dashboard(db).await;

    let store = Store::open(&db.url, false).await.unwrap();
    store.check_dashboard_tables().await.unwrap();
    store.ensure_broker_tables().await.unwrap();
    store.ensure_broker_tables().await.unwrap();

    assert_eq!(
        store.shop(SHOP_A).await.unwrap().unwrap().name,
        "Berry Shop"
    );
    // Not a uuid: simply not found, no cast error.
    assert_eq!(store.shop("not-a-uuid").await.unwrap(), None);
    assert!(
        store
            .integrations_of("not-a-uuid", GA4)
            .await
            .unwrap()
            .is_empty()
    );

    let rows = store.integrations_of(SHOP_A, GA4).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.data["token"], "ya29.dash");
    assert_eq!(row.data["nested"], json!({"a": [1, 2]}));
    let may_2024 = "2024-05-01T10:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    match db.backend {
        Backend::Postgres => assert_eq!(row.updated, Some(may_2024)),
        Backend::Sqlite => {
            assert_eq!(
                row.created,
                Some(may_2024 + chrono::Duration::microseconds(123_456))
            );
            assert_eq!(row.updated, None, "garbage timestamps read as None");
        }
    }

    // Refresh-style write through the lock, and a dashboard-style write.
    let lock = store.lock_integration(row.id).await.unwrap();
    lock.commit_data(&token_data("ya29.refreshed"))
        .await
        .unwrap();
    assert_eq!(
        store.integration(row.id).await.unwrap().unwrap().data,
        token_data("ya29.refreshed")
    );
    store
        .set_integration_data(row.id, &token_data("ya29.reconnected"))
        .await
        .unwrap();
    let reread = store.integration(row.id).await.unwrap().unwrap();
    assert_eq!(reread.data, token_data("ya29.reconnected"));
    assert!(reread.updated.unwrap() > may_2024);

    // Seeding writes through the id column's own type.
    store.upsert_shop(SHOP_B, "Second").await.unwrap();
    let second = store
        .insert_integration(SHOP_B, ADS, &json!({"customer_id": "123"}), true, false)
        .await
        .unwrap();
    assert_eq!(
        store.integration(second).await.unwrap().unwrap().shop_id,
        SHOP_B
    );

    // The broker's tables work beside them.
    store
        .insert_audit(&[audit_event(1, Some(SHOP_A))])
        .await
        .unwrap();
    assert_eq!(store.audit(Some(SHOP_A), 5).await.unwrap().len(), 1);

    // And the dashboard's tables are exactly as they were.
    assert_eq!(describe_dashboard(db).await, columns_before);
}

/// The dashboard tables' columns and types, to prove nothing altered them.
async fn describe_dashboard(db: &TestDb) -> String {
    match db.backend {
        Backend::Postgres => db
            .pg_text(
                "SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' \
                 ORDER BY table_name, column_name) FROM information_schema.columns \
                 WHERE table_name IN ('sources_shop', 'importers_integration')",
            )
            .await
            .unwrap(),
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let sql: Vec<String> = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE tbl_name IN \
                 ('sources_shop', 'importers_integration') ORDER BY name",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            sql.join(";")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shops and integrations

async fn shops_and_integrations_round_trip(db: &TestDb) {
    let store = db.migrated().await;
    store.upsert_shop(SHOP_B, "zebra Outlet").await.unwrap();
    store.upsert_shop(SHOP_A, "Old name").await.unwrap();
    store.upsert_shop(SHOP_A, "Berry Shop").await.unwrap();
    store.upsert_shop(SHOP_C, "apple Store").await.unwrap();

    let names: Vec<String> = store
        .shops()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["apple Store", "Berry Shop", "zebra Outlet"]);
    let shop = store.shop(SHOP_A).await.unwrap().unwrap();
    assert_eq!(
        (shop.id.as_str(), shop.name.as_str()),
        (SHOP_A, "Berry Shop")
    );
    assert_eq!(
        store
            .shop("00000000-0000-4000-8000-000000000000")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.shop("not-a-uuid").await.unwrap(), None);

    let nested = json!({
        "token": "ya29.a0Af",
        "refresh_token": "1//0g-refresh",
        "expires_at": 1_760_000_000,
        "granted_scopes": "https://www.googleapis.com/auth/analytics.readonly openid",
        "property_id": "326784853",
        "extra": {
            "list": [1, 2.5, -3, true, null, "ż", {"deep": ["x", {"deeper": 18_446_744_073_709_551_615u64}]}],
            "empty_obj": {},
            "empty_list": [],
            "quote\"key": "line\nbreak \u{1F353}",
        },
    });
    let ga4 = store
        .insert_integration(SHOP_A, GA4, &nested, true, false)
        .await
        .unwrap();
    let inactive = store
        .insert_integration(SHOP_A, GA4, &json!({"token": "old"}), false, false)
        .await
        .unwrap();
    let deleted = store
        .insert_integration(SHOP_A, ADS, &json!({"customer_id": "1"}), true, true)
        .await
        .unwrap();
    let other = store
        .insert_integration(SHOP_B, GA4, &json!({"property_id": "9"}), true, false)
        .await
        .unwrap();

    let row = store.integration(ga4).await.unwrap().unwrap();
    assert_eq!(row.data, nested);
    assert_eq!((row.shop_id.as_str(), row.integration_type), (SHOP_A, GA4));
    assert!(row.active && !row.deleted);
    let now = chrono::Utc::now();
    for at in [row.created.unwrap(), row.updated.unwrap()] {
        assert!(
            (now - at).num_seconds().abs() < 60,
            "{at} is not about now ({now})"
        );
    }
    assert!(!store.integration(inactive).await.unwrap().unwrap().active);
    assert!(store.integration(deleted).await.unwrap().unwrap().deleted);
    assert_eq!(store.integration(i64::MAX).await.unwrap(), None);

    // All rows, inactive and deleted included: by shop, then type, then newest first.
    let all: Vec<i64> = store
        .integrations(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let mut expected = vec![
        (SHOP_A, GA4, inactive),
        (SHOP_A, GA4, ga4),
        (SHOP_A, ADS, deleted),
    ];
    expected.push((SHOP_B, GA4, other));
    expected.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    assert_eq!(all, expected.iter().map(|e| e.2).collect::<Vec<_>>());
    let of_a: Vec<i64> = store
        .integrations(Some(SHOP_A))
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(of_a, [inactive, ga4, deleted]);
    assert!(store.integrations(Some(SHOP_C)).await.unwrap().is_empty());

    // The shop must exist (foreign key), and updates must find their row.
    assert!(
        store
            .insert_integration(
                "00000000-0000-4000-8000-000000000000",
                GA4,
                &json!({}),
                true,
                false
            )
            .await
            .is_err()
    );
    let err = store
        .set_integration_data(i64::MAX, &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IntegrationNotFound { .. }),
        "{err:?}"
    );
}

async fn integrations_of_is_newest_first(db: &TestDb) {
    let store = db.migrated().await;
    store.upsert_shop(SHOP_A, "Berry Shop").await.unwrap();
    store.upsert_shop(SHOP_B, "Other").await.unwrap();
    let first = store
        .insert_integration(SHOP_A, GA4, &json!({"n": 1}), true, false)
        .await
        .unwrap();
    let second = store
        .insert_integration(SHOP_A, GA4, &json!({"n": 2}), false, false)
        .await
        .unwrap();
    let third = store
        .insert_integration(SHOP_A, GA4, &json!({"n": 3}), true, true)
        .await
        .unwrap();
    store
        .insert_integration(SHOP_A, ADS, &json!({"n": 4}), true, false)
        .await
        .unwrap();
    store
        .insert_integration(SHOP_B, GA4, &json!({"n": 5}), true, false)
        .await
        .unwrap();

    let ids = |rows: Vec<credential_broker::store::IntegrationRow>| {
        rows.iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.integrations_of(SHOP_A, GA4).await.unwrap()),
        [third, second, first]
    );

    // The dashboard rewrites the oldest (a reconnect): it becomes the newest.
    store
        .set_integration_data(first, &json!({"n": 1, "reconnected": true}))
        .await
        .unwrap();
    let rows = store.integrations_of(SHOP_A, GA4).await.unwrap();
    assert_eq!(ids(rows.clone()), [first, third, second]);
    assert!(rows.windows(2).all(|w| w[0].updated >= w[1].updated));
    assert_eq!(rows[0].data, json!({"n": 1, "reconnected": true}));

    assert!(store.integrations_of(SHOP_B, ADS).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Refresh lock

async fn lock_serialises_lockers_in_one_process(db: &TestDb) {
    let store = db.migrated().await;
    lock_serialises(db, store.clone(), store).await;
}

async fn lock_serialises_lockers_across_pools(db: &TestDb) {
    // Two pools stand for two broker processes (or hosts) sharing the database.
    let store = db.migrated().await;
    let other = db.open().await;
    lock_serialises(db, store, other).await;
}

/// `first` holds the lock while `second` asks for it; `second` must get it only after
/// `first` committed, and must then see the committed data.
async fn lock_serialises(db: &TestDb, first: Store, second: Store) {
    let id = seed_shop_with_ga4(&first).await;
    let held = first.lock_integration(id).await.unwrap();
    assert_eq!(held.row().unwrap().data, token_data("ya29.v1"));
    assert_eq!(held.integration_id(), id);

    let (asking_tx, asking_rx) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        asking_tx.send(()).unwrap();
        let lock = second.lock_integration(id).await.unwrap();
        let granted_at = Instant::now();
        let data = lock.row().unwrap().data.clone();
        lock.release().await.unwrap();
        (granted_at, data)
    });
    asking_rx.await.unwrap();
    db.until_a_locker_waits().await;
    assert!(
        !waiter.is_finished(),
        "the second locker got the lock while the first held it"
    );

    let committing_at = Instant::now();
    held.commit_data(&token_data("ya29.v2")).await.unwrap();
    let (granted_at, seen) = tokio::time::timeout(PROMPT, waiter).await.unwrap().unwrap();
    assert!(
        granted_at > committing_at,
        "granted before the first holder committed"
    );
    assert_eq!(
        seen,
        token_data("ya29.v2"),
        "the waiter must re-read the committed row"
    );
}

async fn lock_of_other_integrations(db: &TestDb) {
    let store = db.migrated().await;
    let a = seed_shop_with_ga4(&store).await;
    let b = store
        .insert_integration(SHOP_A, ADS, &json!({"n": "b"}), true, false)
        .await
        .unwrap();
    let held_a = store.lock_integration(a).await.unwrap();
    match db.backend {
        Backend::Postgres => {
            // Advisory locks are per integration: b is granted while a is held, and both
            // commits land.
            let other = db.open().await;
            let held_b = tokio::time::timeout(PROMPT, other.lock_integration(b))
                .await
                .expect("locking b must not wait for a")
                .unwrap();
            held_b.commit_data(&json!({"n": "b2"})).await.unwrap();
            held_a.commit_data(&token_data("ya29.a2")).await.unwrap();
        }
        Backend::Sqlite => {
            // Documented: SQLite's lock is the database's write lock, so b waits for a.
            let other = store.clone();
            let waiter = tokio::spawn(async move {
                let lock = other.lock_integration(b).await.unwrap();
                lock.commit_data(&json!({"n": "b2"})).await.unwrap();
            });
            db.until_a_locker_waits().await;
            assert!(!waiter.is_finished());
            held_a.commit_data(&token_data("ya29.a2")).await.unwrap();
            tokio::time::timeout(PROMPT, waiter).await.unwrap().unwrap();
        }
    }
    assert_eq!(
        store.integration(a).await.unwrap().unwrap().data,
        token_data("ya29.a2")
    );
    assert_eq!(
        store.integration(b).await.unwrap().unwrap().data,
        json!({"n": "b2"})
    );
}

async fn dropping_or_releasing_a_lock_rolls_back(db: &TestDb) {
    let store = db.migrated().await;
    let id = seed_shop_with_ga4(&store).await;
    let status = IntegrationStatus {
        integration_id: id,
        needs_reconnect: true,
        reason: Some("invalid_grant".into()),
        updated_at: 1_760_000_000,
    };
    let notice = Notification {
        created_at: 1_760_000_000,
        shop_id: SHOP_A.into(),
        integration_id: Some(id),
        kind: "reconnect_required".into(),
        service: "Google Analytics".into(),
        message: "Please reconnect your Google Analytics account in the dashboard.".into(),
    };

    // Dropped: nothing written through it stays, and the lock is free again.
    let mut lock = store.lock_integration(id).await.unwrap();
    lock.set_integration_status(&status).await.unwrap();
    lock.insert_notification(&notice).await.unwrap();
    drop(lock);
    let again = tokio::time::timeout(PROMPT, store.lock_integration(id))
        .await
        .expect("a dropped lock must be released")
        .unwrap();
    assert_eq!(again.row().unwrap().data, token_data("ya29.v1"));
    assert!(store.integration_statuses().await.unwrap().is_empty());
    assert!(store.notifications(None, 10).await.unwrap().is_empty());

    // Released: the same.
    let mut lock = again;
    lock.set_integration_status(&status).await.unwrap();
    lock.release().await.unwrap();
    assert!(store.integration_statuses().await.unwrap().is_empty());

    // Committed without new data: what was written through the lock stays; data unchanged.
    let mut lock = tokio::time::timeout(PROMPT, store.lock_integration(id))
        .await
        .unwrap()
        .unwrap();
    lock.set_integration_status(&status).await.unwrap();
    lock.insert_notification(&notice).await.unwrap();
    lock.commit().await.unwrap();
    assert_eq!(store.integration_statuses().await.unwrap(), [status]);
    assert_eq!(
        store.notifications(Some(SHOP_A), 10).await.unwrap(),
        [notice]
    );
    assert_eq!(
        store.integration(id).await.unwrap().unwrap().data,
        token_data("ya29.v1")
    );

    // And the lock is free once more.
    tokio::time::timeout(PROMPT, store.lock_integration(id))
        .await
        .unwrap()
        .unwrap()
        .release()
        .await
        .unwrap();
}

async fn lock_of_a_missing_integration(db: &TestDb) {
    let store = db.migrated().await;
    let lock = store.lock_integration(424_242).await.unwrap();
    assert!(lock.row().is_none());
    let err = lock.commit_data(&json!({"token": "x"})).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::IntegrationNotFound {
            integration_id: 424_242,
            ..
        }
    ));
    // The failed commit rolled back and freed the lock.
    tokio::time::timeout(PROMPT, store.lock_integration(424_242))
        .await
        .unwrap()
        .unwrap()
        .release()
        .await
        .unwrap();
}

async fn lock_wait_is_bounded(db: &TestDb) {
    let store = db.migrated().await;
    let other = db.open().await;
    let id = seed_shop_with_ga4(&store).await;
    let held = store.lock_integration(id).await.unwrap();
    let wait = Duration::from_millis(300);
    // The same pool (SQLite: the in-process queue) and another pool (SQLite: BEGIN IMMEDIATE
    // against the busy handler; PostgreSQL: lock_timeout) both give up after `wait`, well
    // before SQLite's 5 s busy timeout.
    for contender in [&store, &other] {
        let started = Instant::now();
        let err = contender
            .lock_integration_within(id, wait)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::LockTimeout { integration_id, .. } if integration_id == id),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
    held.release().await.unwrap();
    // The abandoned attempts left nothing locked behind them.
    for contender in [&other, &store] {
        let lock = tokio::time::timeout(PROMPT, contender.lock_integration(id))
            .await
            .unwrap()
            .unwrap();
        lock.commit_data(&token_data("ya29.after")).await.unwrap();
    }
    assert_eq!(
        store.integration(id).await.unwrap().unwrap().data,
        token_data("ya29.after")
    );
}

// ---------------------------------------------------------------------------------------------
// Broker tables

async fn leases_insert_lookup_revoke_list(db: &TestDb) {
    let store = db.migrated().await;
    let now = 1_760_000_000;
    let lease = |id: &str, shop: &str, created_at: i64, expires_at: i64| LeaseRecord {
        id: id.into(),
        secret_hash: format!("hash-of-{id}"),
        shop_id: shop.into(),
        providers: vec!["ga4".into(), "gsc".into()],
        created_at,
        expires_at,
        revoked_at: None,
        created_by_uid: u32::MAX,
        created_by_pid: Some(u32::MAX),
    };
    let live = lease("L-live", SHOP_A, now - 10, now + 3600);
    let expired = lease("L-expired", SHOP_A, now - 7200, now - 1);
    let to_revoke = lease("L-revoke", SHOP_A, now - 5, now + 3600);
    let mut other_shop = lease("L-other", SHOP_B, now - 1, now + 60);
    other_shop.providers = vec!["meta_ads".into()];
    for l in [&live, &expired, &to_revoke, &other_shop] {
        store.insert_lease(l).await.unwrap();
    }

    assert_eq!(
        store.lease_by_hash("hash-of-L-live").await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(store.lease_by_hash("hash-of-nothing").await.unwrap(), None);
    // Secret hashes are unique, and providers must survive the comma join.
    let mut dup = lease("L-dup", SHOP_A, now, now + 1);
    dup.secret_hash = live.secret_hash.clone();
    assert!(store.insert_lease(&dup).await.is_err());
    let mut bad = lease("L-bad", SHOP_A, now, now + 1);
    bad.providers = vec!["ga4,gsc".into()];
    assert!(matches!(
        store.insert_lease(&bad).await,
        Err(StoreError::InvalidInput { .. })
    ));

    assert!(store.revoke_lease("L-revoke", now).await.unwrap());
    assert!(
        !store.revoke_lease("L-revoke", now + 1).await.unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_lease("L-unknown", now).await.unwrap());
    let revoked = store
        .lease_by_hash("hash-of-L-revoke")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(now));

    let ids = |v: Vec<LeaseRecord>| v.into_iter().map(|l| l.id).collect::<Vec<_>>();
    // Newest first; ended ones (expired, revoked) only on request.
    assert_eq!(
        ids(store.leases(None, false, now).await.unwrap()),
        ["L-other", "L-live"]
    );
    assert_eq!(
        ids(store.leases(None, true, now).await.unwrap()),
        ["L-other", "L-revoke", "L-live", "L-expired"]
    );
    assert_eq!(
        ids(store.leases(Some(SHOP_A), false, now).await.unwrap()),
        ["L-live"]
    );
    assert_eq!(
        ids(store.leases(Some(SHOP_A), true, now).await.unwrap()),
        ["L-revoke", "L-live", "L-expired"]
    );
    // Expiry is relative to the `now` given.
    assert!(
        store
            .leases(None, false, now + 7200)
            .await
            .unwrap()
            .is_empty()
    );
    let all = store.leases(Some(SHOP_B), true, now).await.unwrap();
    assert_eq!(all, [other_shop]);

    // Renewal extends live leases only: not revoked, expired or unknown ones.
    let renewed = store
        .renew_leases(
            &[
                "L-live".into(),
                "L-expired".into(),
                "L-revoke".into(),
                "L-unknown".into(),
            ],
            now + 60,
            now,
        )
        .await
        .unwrap();
    assert_eq!(renewed, ["L-live"]);
    let live = store
        .lease_by_hash("hash-of-L-live")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.expires_at, now + 60);
    let expired = store
        .lease_by_hash("hash-of-L-expired")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expired.expires_at, now - 1, "an ended lease stays ended");
}

/// A lease table made by an earlier version (no `created_by_pid`) gains the column, keeping
/// its rows, when the broker starts.
async fn an_earlier_lease_table_is_upgraded(db: &TestDb) {
    db.raw(
        "CREATE TABLE broker_lease (
             id TEXT PRIMARY KEY NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
             shop_id TEXT NOT NULL, providers TEXT NOT NULL, created_at BIGINT NOT NULL,
             expires_at BIGINT NOT NULL, revoked_at BIGINT, created_by_uid BIGINT NOT NULL);
         INSERT INTO broker_lease VALUES ('L-old', 'hash-old', 'shop', 'ga4', 1, 4000000000, NULL, 7);",
    )
    .await;
    let store = db.open().await;
    store.ensure_broker_tables().await.unwrap();
    store.ensure_broker_tables().await.unwrap();
    let old = store.lease_by_hash("hash-old").await.unwrap().unwrap();
    assert_eq!((old.created_by_uid, old.created_by_pid), (7, None));
}

async fn audit_batch_of_500_newest_first(db: &TestDb) {
    let store = db.migrated().await;
    // Inserted out of time order, as a batching writer may.
    let events: Vec<AuditEvent> = (0..500)
        .rev()
        .map(|i| audit_event(i, Some(if i % 4 == 0 { SHOP_B } else { SHOP_A })))
        .collect();
    let started = Instant::now();
    store.insert_audit(&events).await.unwrap();
    assert!(started.elapsed() < PROMPT);
    store.insert_audit(&[]).await.unwrap();
    store
        .insert_audit(&[audit_event(1000, None)])
        .await
        .unwrap();

    let all = store.audit(None, 1000).await.unwrap();
    assert_eq!(all.len(), 501);
    assert_eq!(all[0], audit_event(1000, None));
    assert!(
        all.windows(2).all(|w| w[0].at_ms >= w[1].at_ms),
        "newest first"
    );
    let mut expected = events.clone();
    expected.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
    assert_eq!(&all[1..], &expected[..], "every field round-trips");

    let of_b = store.audit(Some(SHOP_B), 10).await.unwrap();
    assert_eq!(of_b.len(), 10);
    assert!(of_b.iter().all(|e| e.shop_id.as_deref() == Some(SHOP_B)));
    assert_eq!(of_b[0], audit_event(496, Some(SHOP_B)));
    assert_eq!(store.audit(Some(SHOP_C), 10).await.unwrap(), []);
    assert_eq!(store.audit(None, 3).await.unwrap().len(), 3);
    assert!(store.audit(None, -1).await.unwrap().is_empty());

    // The extremes of the peer fields survive.
    let mut edge = audit_event(2000, Some(SHOP_C));
    edge.peer_uid = Some(u32::MAX);
    edge.peer_pid = Some(i32::MAX);
    store
        .insert_audit(std::slice::from_ref(&edge))
        .await
        .unwrap();
    assert_eq!(store.audit(Some(SHOP_C), 1).await.unwrap(), [edge]);
}

async fn notifications_newest_first(db: &TestDb) {
    let store = db.migrated().await;
    let n = |at: i64, shop: &str, kind: &str| Notification {
        created_at: at,
        shop_id: shop.into(),
        integration_id: (kind == "reconnect_required").then_some(at),
        kind: kind.into(),
        service: "Google Analytics".into(),
        message: format!("{kind} for {shop}"),
    };
    let list = [
        n(100, SHOP_A, "reconnect_required"),
        n(300, SHOP_B, "token_expiring"),
        n(200, SHOP_A, "token_expiring"),
    ];
    for x in &list {
        store.insert_notification(x).await.unwrap();
    }
    assert_eq!(
        store.notifications(None, 10).await.unwrap(),
        [list[1].clone(), list[2].clone(), list[0].clone()]
    );
    assert_eq!(
        store.notifications(Some(SHOP_A), 10).await.unwrap(),
        [list[2].clone(), list[0].clone()]
    );
    assert_eq!(
        store.notifications(Some(SHOP_A), 1).await.unwrap(),
        [list[2].clone()]
    );
    assert!(
        store
            .notifications(Some(SHOP_C), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // "Noted since": the reconnect of integration 100 at 100, by shop, kind and time.
    assert!(
        store
            .noted_since(SHOP_A, 100, "reconnect_required", 100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .noted_since(SHOP_A, 100, "reconnect_required", 101)
            .await
            .unwrap()
    );
    assert!(
        !store
            .noted_since(SHOP_B, 100, "reconnect_required", 0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .noted_since(SHOP_A, 100, "token_expiring", 0)
            .await
            .unwrap()
    );
}

async fn shop_keys_round_trip_and_revoke_their_leases(db: &TestDb) {
    let store = db.migrated().await;
    let now = 1_760_000_000;
    let key = |id: &str, shop: &str, expires_at: i64| ShopKeyRecord {
        id: id.into(),
        key_hash: format!("hash-of-{id}"),
        shop_id: shop.into(),
        providers: vec!["ga4".into(), "meta_ads".into()],
        label: Some("Acme's desktop, ąę".into()),
        created_at: now - 10,
        expires_at,
        revoked_at: None,
        created_by_uid: u32::MAX,
    };
    let a = key("key_a", SHOP_A, now + 3600);
    let old = key("key_old", SHOP_A, now - 1);
    let b = key("key_b", SHOP_B, now + 60);
    for k in [&a, &old, &b] {
        store.insert_shop_key(k).await.unwrap();
    }
    assert_eq!(
        store.shop_key_by_hash("hash-of-key_a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.shop_key_by_hash("hash-of-nothing").await.unwrap(),
        None
    );
    let mut dup = key("key_dup", SHOP_A, now + 1);
    dup.key_hash = a.key_hash.clone();
    assert!(
        store.insert_shop_key(&dup).await.is_err(),
        "hashes are unique"
    );
    let mut bad = key("key_bad", SHOP_A, now + 1);
    bad.providers = vec!["ga4,gsc".into()];
    assert!(store.insert_shop_key(&bad).await.is_err());
    // Live keys only, newest first, of one shop or all.
    let ids = |keys: Vec<ShopKeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.live_shop_keys(Some(SHOP_A), now).await.unwrap()),
        ["key_a"]
    );
    assert_eq!(store.live_shop_keys(None, now).await.unwrap().len(), 2);
    // A lease made with key_a ends with it; another lease does not.
    let lease = |id: &str| LeaseRecord {
        id: id.into(),
        secret_hash: format!("hash-of-{id}"),
        shop_id: SHOP_A.into(),
        providers: vec!["ga4".into()],
        created_at: now,
        expires_at: now + 3600,
        revoked_at: None,
        created_by_uid: 1,
        created_by_pid: None,
    };
    for l in ["L-by-key", "L-other"] {
        store.insert_lease(&lease(l)).await.unwrap();
    }
    store.link_key_lease("L-by-key", "key_a").await.unwrap();
    assert!(store.revoke_shop_key("key_a", now + 5).await.unwrap());
    assert!(
        !store.revoke_shop_key("key_a", now + 6).await.unwrap(),
        "once"
    );
    assert!(!store.revoke_shop_key("key_nothing", now).await.unwrap());
    assert_eq!(
        store
            .shop_key_by_hash("hash-of-key_a")
            .await
            .unwrap()
            .and_then(|k| k.revoked_at),
        Some(now + 5)
    );
    let revoked_at = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .lease_by_hash(&format!("hash-of-{id}"))
                .await
                .unwrap()
                .and_then(|l| l.revoked_at)
        }
    };
    assert_eq!(revoked_at("L-by-key").await, Some(now + 5));
    assert_eq!(revoked_at("L-other").await, None);
    assert!(
        store
            .live_shop_keys(Some(SHOP_A), now)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn principals_add_list_remove(db: &TestDb) {
    let store = db.migrated().await;
    let iss = "https://auth.example";
    assert!(store.add_principal(iss, "sub-1", SHOP_B, 10).await.unwrap());
    assert!(store.add_principal(iss, "sub-1", SHOP_A, 11).await.unwrap());
    assert!(
        !store.add_principal(iss, "sub-1", SHOP_A, 12).await.unwrap(),
        "once"
    );
    assert!(
        store
            .add_principal("https://other.example", "sub-1", SHOP_C, 13)
            .await
            .unwrap()
    );
    // Sorted; the same subject of another issuer is someone else.
    let mut want = vec![SHOP_A.to_owned(), SHOP_B.to_owned()];
    want.sort();
    assert_eq!(store.principal_shops(iss, "sub-1").await.unwrap(), want);
    assert!(
        store
            .principal_shops(iss, "sub-2")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.principals().await.unwrap().len(), 3);
    assert!(store.remove_principal(iss, "sub-1", SHOP_A).await.unwrap());
    assert!(!store.remove_principal(iss, "sub-1", SHOP_A).await.unwrap());
    assert_eq!(store.principal_shops(iss, "sub-1").await.unwrap(), [SHOP_B]);
}

async fn statuses_upsert(db: &TestDb) {
    let store = db.migrated().await;
    let s = |id: i64, needs: bool, reason: Option<&str>, at: i64| IntegrationStatus {
        integration_id: id,
        needs_reconnect: needs,
        reason: reason.map(str::to_owned),
        updated_at: at,
    };
    store
        .set_integration_status(&s(7, true, Some("invalid_grant"), 100))
        .await
        .unwrap();
    store
        .set_integration_status(&s(3, false, None, 100))
        .await
        .unwrap();
    assert_eq!(
        store.integration_statuses().await.unwrap(),
        [
            s(3, false, None, 100),
            s(7, true, Some("invalid_grant"), 100)
        ]
    );
    // The shop reconnected: the same row is replaced, not duplicated.
    store
        .set_integration_status(&s(7, false, None, 200))
        .await
        .unwrap();
    assert_eq!(
        store.integration_statuses().await.unwrap(),
        [s(3, false, None, 100), s(7, false, None, 200)]
    );
    assert_eq!(
        store.integration_status(7).await.unwrap(),
        Some(s(7, false, None, 200))
    );
    assert_eq!(store.integration_status(8).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Errors

async fn connect_errors_hide_the_password(db: &TestDb) {
    // Unknown schemes are refused by name, credentials masked.
    let err = Store::open("mysql://root:hunter2@db/shop", false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // Unparseable PostgreSQL URLs too.
    let err = Store::open("postgres://broker:hunter2@db:99999999/shop", false)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");

    if db.backend == Backend::Postgres {
        // A real connection failure (no such database) names the URL without its password.
        let mut url = url::Url::parse(&db.url).unwrap();
        url.set_password(Some("hunter2")).unwrap();
        url.set_path("/berryboo_no_such_database");
        let err = Store::open(url.as_str(), false).await.unwrap_err();
        assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("****") && text.contains("berryboo_no_such_database"),
            "{text}"
        );
    }
}
