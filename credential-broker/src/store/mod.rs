//! The shop database: the dashboard's `sources_shop` and `importers_integration` plus the
//! broker's own `broker_*` tables, on SQLite (the embedded default) or PostgreSQL (production)
//! behind one API, [`Store`].
//!
//! # Layout
//! - this file: [`Store::open`], the backend switch and the helpers every query uses;
//! - `schema`: the per-backend DDL, `migrate`, `ensure_broker_tables`, `check_dashboard_tables`;
//! - `dashboard`: shops and integrations (reads, and seeding for the embedded default);
//! - `lock`: [`IntegrationLock`], the cross-process refresh lock;
//! - `broker_tables`: leases, audit, notifications, integration statuses;
//! - `shop_keys`: the gateway's long-lived shop keys (hashed);
//! - `records`: the plain record types; `row`: column decoding shared by both backends;
//! - `timestamp`, `dburl`, `error`: text timestamps, URL redaction, [`StoreError`].
//!
//! # The dashboard's schema, unchanged
//! On PostgreSQL the dashboard may have `json` or `jsonb` data and uuid or text ids. Reads
//! therefore cast (`data::text`, `shop_id::text = $1`, `id::bigint`), and writes cast to the
//! column's own type (`$1::text::json` is assignable to `json` and `jsonb`; shop ids go through
//! `json_populate_record` so they take the id column's type, whatever it is). `serve` only ever
//! creates the `broker_*` tables.
//!
//! # Secrets
//! `importers_integration.data` holds OAuth tokens. It is always bound, never formatted into SQL
//! (sqlx logs statement text), and it never appears in a [`StoreError`] or a log line.

mod broker_tables;
mod dashboard;
mod dburl;
mod error;
mod lock;
mod records;
mod row;
mod schema;
mod shop_keys;
mod timestamp;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection};

pub use error::StoreError;
pub use lock::IntegrationLock;
pub use records::{
    AuditEvent, IntegrationRow, IntegrationStatus, LeaseRecord, Notification, Shop, ShopKeyRecord,
};

/// SQLite waits this long for another connection's write lock before failing with "database is
/// locked".
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Store::lock_integration`] waits for another refresher of the same integration
/// (or, on SQLite, of any integration) before giving up with [`StoreError::LockTimeout`].
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// SQLite connections: WAL lets readers run beside the one writer; more than a few only adds
/// threads (each SQLite connection has a worker thread) on a 2-core host.
const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// PostgreSQL connections per broker: enough for concurrent vends, refresh locks and audit
/// flushes without crowding a shared server's `max_connections`.
const PG_MAX_CONNECTIONS: u32 = 10;

/// How long a query waits for a pooled connection before failing instead of hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(15);

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file (or `sqlite::memory:`), the embedded default.
    Sqlite,
    /// PostgreSQL, e.g. the dashboard's own database.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A connection pool to the shop database. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The URL with any password masked: what errors and logs show.
    url: Arc<str>,
    /// SQLite's refresh lock is the database's write lock, so lockers in this process are
    /// queued here first; otherwise each would hold a pooled connection while spinning in
    /// SQLite's busy handler, and could starve every other query of connections.
    sqlite_lockers: Arc<tokio::sync::Mutex<()>>,
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("url", &self.inner.url)
            .finish()
    }
}

/// One statement's text for each backend (identical for most `broker_*` queries: both accept
/// `$N` placeholders).
#[derive(Clone, Copy)]
struct Sql {
    sqlite: &'static str,
    postgres: &'static str,
}

impl Sql {
    /// The same text on both backends.
    const fn both(sql: &'static str) -> Sql {
        Sql {
            sqlite: sql,
            postgres: sql,
        }
    }

    /// Different text per backend.
    const fn each(sqlite: &'static str, postgres: &'static str) -> Sql {
        Sql { sqlite, postgres }
    }
}

/// Runs `$body` with `$pool` bound to the store's pool and `$sql` to the backend's text of
/// `$stmt`. The body is expanded once per backend, so it is type-checked against each
/// backend's own pool and row types.
macro_rules! on_pool {
    ($store:expr, $stmt:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match &$store.inner.pool {
            $crate::store::Pool::Sqlite($pool) => {
                let $sql = $stmt.sqlite;
                $body
            }
            $crate::store::Pool::Postgres($pool) => {
                let $sql = $stmt.postgres;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

impl Store {
    /// Opens `url`: `sqlite://PATH` (also `sqlite:PATH`, `sqlite::memory:`) or
    /// `postgres://…`/`postgresql://…`.
    ///
    /// `create_if_missing` creates the SQLite file (mode 0600: it will hold refresh tokens) and
    /// its directory; `migrate` passes `true`, `serve` passes `false` so that a mistyped path
    /// fails with [`StoreError::DatabaseMissing`] instead of starting on an empty database.
    /// SQLite runs in WAL mode with foreign keys on and a 5 s busy timeout.
    pub async fn open(url: &str, create_if_missing: bool) -> Result<Store, StoreError> {
        let shown = dburl::redact(url);
        let pool = match dburl::backend_of(url) {
            Some(Backend::Sqlite) => {
                Pool::Sqlite(open_sqlite(url, &shown, create_if_missing).await?)
            }
            Some(Backend::Postgres) => Pool::Postgres(open_postgres(url, &shown).await?),
            None => return Err(StoreError::UnsupportedUrl { url: shown }),
        };
        tracing::debug!(url = %shown, "opened shop database");
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                url: shown.into(),
                sqlite_lockers: Arc::new(tokio::sync::Mutex::new(())),
            }),
        })
    }

    /// Which backend this store talks to.
    pub fn backend(&self) -> Backend {
        match self.inner.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database URL with any password masked, as errors show it.
    pub fn display_url(&self) -> &str {
        &self.inner.url
    }

    /// Closes every pooled connection, waiting for checked-out ones to come back. Useful
    /// before a process exits, and for tests that drop their database afterwards.
    pub async fn close(&self) {
        match &self.inner.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Maps a driver error of operation `op` to [`StoreError::Database`].
    fn db_err(&self, op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Database {
            op,
            url: self.inner.url.to_string(),
            source,
        }
    }
}

/// `true` for the URL forms sqlx treats as an in-memory database.
fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

async fn open_sqlite(
    url: &str,
    shown: &str,
    create_if_missing: bool,
) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|source| StoreError::InvalidUrl {
        url: shown.to_owned(),
        source,
    })?;
    let memory = is_sqlite_memory(url);
    if !memory {
        prepare_sqlite_file(options.get_filename(), shown, create_if_missing).await?;
    }
    let options = options
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    // `synchronous` stays at sqlx's default FULL: a rotated refresh token must be on disk
    // before the new access token is handed out, even across a power loss.
    let mut pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    if memory {
        // An in-memory database lives only while a connection to it is open, so one is kept
        // open for the pool's lifetime.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    pool.connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            url: shown.to_owned(),
            source,
        })
}

/// Checks that the SQLite file exists, or creates it (and its directory) owner-only.
async fn prepare_sqlite_file(
    path: &Path,
    shown: &str,
    create_if_missing: bool,
) -> Result<(), StoreError> {
    let io_err = |op: &'static str| {
        move |source| StoreError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    };
    match tokio::fs::metadata(path).await {
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                // Not fatal (the operator may share it with a group on purpose), but the file
                // holds every shop's refresh tokens, so say so.
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{:o}", meta.permissions().mode() & 0o777),
                    "SQLite database is readable by other users; it holds refresh tokens (chmod 600 it)"
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !create_if_missing {
                return Err(StoreError::DatabaseMissing {
                    path: path.to_owned(),
                    url: shown.to_owned(),
                });
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(io_err("cannot create directory for"))?;
            }
            // Created here rather than by SQLite so it is 0600 from the first byte; SQLite
            // gives its -wal and -shm files the same mode. An empty file is a valid empty
            // database.
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .await
            {
                Ok(_) => Ok(()),
                // Another process created it meanwhile: fine, it exists now.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(io_err("cannot create SQLite database")(e)),
            }
        }
        Err(e) => Err(io_err("cannot inspect SQLite database")(e)),
    }
}

async fn open_postgres(url: &str, shown: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|source| StoreError::InvalidUrl {
            url: shown.to_owned(),
            source,
        })?
        // Lets a DBA tell the broker's connections from the dashboard's in pg_stat_activity.
        .application_name("credential-broker");
    let connect_err = |source| StoreError::Connect {
        url: shown.to_owned(),
        source,
    };
    // One direct connection first: the pool retries a refused connection until its acquire
    // timeout and then reports only "pool timed out", which hides why (wrong host, port,
    // database, password) from the operator.
    let probe = options.connect().await.map_err(connect_err)?;
    // Closing the probe politely is not worth an error if it fails; the pool connects anew.
    let _ = probe.close().await;
    PgPoolOptions::new()
        .max_connections(PG_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(connect_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rest of the broker shares one `Store` between tasks and holds locks across awaits
    /// in spawned tasks.
    #[test]
    fn handles_are_shareable() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        fn sendable<T: Send + 'static>() {}
        shareable::<Store>();
        sendable::<IntegrationLock>();
        sendable::<StoreError>();
    }
}
