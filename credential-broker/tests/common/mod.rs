//! What the broker's integration tests share: a database per test — a temporary SQLite file,
//! or a fresh PostgreSQL database on the server named by `TEST_POSTGRES_URL`, dropped
//! afterwards also when the test fails — and the `suite!` macro that runs each test on both.
//!
//! Without `TEST_POSTGRES_URL` the PostgreSQL tests print `SKIPPED: TEST_POSTGRES_URL not set`
//! and pass, unless `BERRYBOO_REQUIRE_ALL_TESTS=1`, in which case they fail.

#![allow(dead_code)] // Each test binary uses its own part of this.

use std::time::{Duration, Instant};

use credential_broker::store::{Backend, Store};

/// A GA4 integration's `data` as the dashboard writes it, with its property picked, whose
/// access token expires in `expires_in` (negative: already expired).
pub fn ga4_data(
    token: &str,
    refresh_token: &str,
    expires_in: chrono::Duration,
) -> serde_json::Value {
    serde_json::json!({
        "token": token,
        "refresh_token": refresh_token,
        "expires_at": (chrono::Utc::now() + expires_in).to_rfc3339(),
        "granted_scopes": ["https://www.googleapis.com/auth/analytics.readonly"],
        "property_id": "326784853",
    })
}

/// Generous bound for things that must happen "promptly"; only a hang reaches it.
pub const PROMPT: Duration = Duration::from_secs(20);

/// A database for one test: a temporary SQLite file, or a PostgreSQL database that is dropped
/// when this value is (including while a failing test unwinds).
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
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
    pub fn sqlite() -> TestDb {
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
    pub async fn postgres(test: &str) -> Option<TestDb> {
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

    pub async fn open(&self) -> Store {
        Store::open(&self.url, true).await.expect("open store")
    }

    /// A migrated store.
    pub async fn migrated(&self) -> Store {
        let store = self.open().await;
        store.migrate().await.expect("migrate");
        store
    }

    /// Runs hand-written SQL (several statements allowed) outside the store, as another
    /// program (the dashboard, a DBA) would.
    pub async fn raw(&self, sql: &str) {
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
    pub async fn pg_text(&self, sql: &str) -> Option<String> {
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
    pub async fn until_a_locker_waits(&self) {
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
#[macro_export]
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
