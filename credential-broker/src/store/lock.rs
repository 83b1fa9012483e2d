//! [`IntegrationLock`]: one refresher per integration at a time, across processes and (on
//! PostgreSQL) hosts.
//!
//! - PostgreSQL: a transaction holding `pg_advisory_xact_lock` on a key derived from the
//!   namespace `berryboo-refresh:` and the integration id. Lockers of other integrations are
//!   not blocked, and nothing the dashboard does is blocked (advisory locks lock no rows).
//! - SQLite: `BEGIN IMMEDIATE`, i.e. the database's single write lock. That serialises
//!   refreshers of *every* integration, and other writers on other connections wait (up to
//!   [`SQLITE_BUSY_TIMEOUT`](super::SQLITE_BUSY_TIMEOUT)) while a lock is held. Lockers in one
//!   process queue on an async mutex first, so they neither hold pooled connections nor time
//!   out in SQLite's busy handler while they wait.
//!
//! Either way the row is re-read after the lock is granted, so a waiter sees what the previous
//! holder committed. Dropping the lock rolls back (sqlx queues the ROLLBACK and flushes it when
//! the connection returns to the pool), which also releases the lock.
//!
//! While holding a lock on SQLite, write through the lock ([`IntegrationLock::set_integration_status`],
//! [`IntegrationLock::insert_notification`]), not through the [`Store`]: a write on another
//! connection would wait for the very lock its own task holds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::OwnedMutexGuard;
use tokio::time::{Instant, timeout_at};

use super::broker_tables::{INSERT_NOTIFICATION, UPSERT_STATUS};
use super::dashboard::{INTEGRATION_BY_ID, RawIntegration, SET_INTEGRATION_DATA};
use super::{
    IntegrationRow, IntegrationStatus, LOCK_WAIT, Notification, Pool, Store, StoreError, timestamp,
};

/// Takes the refresh lock of integration `$1`. The namespace keeps the key apart from any
/// other application's advisory locks on a shared server.
const PG_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('berryboo-refresh:' || $1::text, 0))";

/// Bounds the advisory-lock wait (and any row-lock wait in `commit_data`) for this
/// transaction only (`is_local` = true, i.e. `SET LOCAL`); PostgreSQL then fails with SQLSTATE
/// 55P03, reported as [`StoreError::LockTimeout`]. `set_config` rather than `SET` because it
/// takes the value as a bind parameter.
const PG_LOCK_TIMEOUT: &str = "SELECT set_config('lock_timeout', $1, true)";

/// Pause between attempts when SQLite reports the database busy, so an unexpected immediate
/// SQLITE_BUSY cannot turn the retry loop into a busy spin.
const SQLITE_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// A held refresh lock on one integration; see the module docs. Dropping it rolls back.
pub struct IntegrationLock {
    /// Declared before `_local` so that on drop the rollback is queued before the next
    /// in-process SQLite locker is let in.
    tx: LockTx,
    integration_id: i64,
    row: Option<IntegrationRow>,
    url: Arc<str>,
    _local: Option<OwnedMutexGuard<()>>,
}

enum LockTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl fmt::Debug for IntegrationLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrationLock")
            .field("integration_id", &self.integration_id)
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Takes the refresh lock of integration `id` (waiting up to [`LOCK_WAIT`]) and re-reads
    /// the row under it. See the module docs of `lock` for what is serialised on each backend.
    pub async fn lock_integration(&self, id: i64) -> Result<IntegrationLock, StoreError> {
        self.lock_integration_within(id, LOCK_WAIT).await
    }

    /// [`lock_integration`](Store::lock_integration) with a caller-chosen bound on the wait;
    /// past it, [`StoreError::LockTimeout`].
    #[tracing::instrument(level = "debug", skip(self), fields(backend = %self.backend()))]
    pub async fn lock_integration_within(
        &self,
        id: i64,
        wait: Duration,
    ) -> Result<IntegrationLock, StoreError> {
        const OP: &str = "lock integration";
        let deadline = Instant::now() + wait;
        let (mut tx, local) = match &self.inner.pool {
            Pool::Sqlite(pool) => {
                let local = timeout_at(deadline, self.inner.sqlite_lockers.clone().lock_owned())
                    .await
                    .map_err(|_| self.lock_timeout(id, wait))?;
                // Bounded by the deadline rather than by the busy handler alone: another
                // process may hold the write lock longer than SQLITE_BUSY_TIMEOUT (a slow token
                // endpoint), or much less than it. Abandoning a pending BEGIN is safe: sqlx
                // rolls back a BEGIN whose caller went away.
                let tx = loop {
                    match timeout_at(deadline, pool.begin_with("BEGIN IMMEDIATE")).await {
                        Ok(Ok(tx)) => break tx,
                        Ok(Err(e)) if is_sqlite_busy(&e) && Instant::now() < deadline => {
                            tokio::time::sleep(SQLITE_RETRY_PAUSE).await;
                        }
                        Ok(Err(e)) if !is_sqlite_busy(&e) => return Err(self.db_err(OP)(e)),
                        Ok(Err(_)) | Err(_) => return Err(self.lock_timeout(id, wait)),
                    }
                };
                (LockTx::Sqlite(tx), Some(local))
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(self.db_err(OP))?;
                // 0 would mean "wait forever", so at least 1 ms.
                let timeout = format!("{}ms", wait.as_millis().max(1));
                sqlx::query(PG_LOCK_TIMEOUT)
                    .bind(timeout)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err(OP))?;
                match sqlx::query(PG_LOCK).bind(id).execute(&mut *tx).await {
                    Ok(_) => {}
                    Err(e) if is_pg_lock_timeout(&e) => return Err(self.lock_timeout(id, wait)),
                    Err(e) => return Err(self.db_err(OP)(e)),
                }
                (LockTx::Postgres(tx), None)
            }
        };
        let raw = match &mut tx {
            LockTx::Sqlite(tx) => sqlx::query(INTEGRATION_BY_ID.sqlite)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .and_then(|row| row.as_ref().map(RawIntegration::decode).transpose()),
            LockTx::Postgres(tx) => sqlx::query(INTEGRATION_BY_ID.postgres)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .and_then(|row| row.as_ref().map(RawIntegration::decode).transpose()),
        }
        .map_err(self.db_err(OP))?;
        let row = raw.map(|r| r.parse(OP, &self.inner.url)).transpose()?;
        tracing::debug!(found = row.is_some(), "refresh lock taken");
        Ok(IntegrationLock {
            tx,
            integration_id: id,
            row,
            url: self.inner.url.clone(),
            _local: local,
        })
    }

    fn lock_timeout(&self, id: i64, waited: Duration) -> StoreError {
        StoreError::LockTimeout {
            integration_id: id,
            waited,
            url: self.inner.url.to_string(),
        }
    }
}

fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    // Extended result codes keep SQLITE_BUSY (5) in their low byte.
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

fn is_pg_lock_timeout(e: &sqlx::Error) -> bool {
    // 55P03 lock_not_available: lock_timeout expired.
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "55P03")
}

impl IntegrationLock {
    /// The integration's row as re-read under the lock; `None` if it no longer exists.
    pub fn row(&self) -> Option<&IntegrationRow> {
        self.row.as_ref()
    }

    /// The integration this lock is for.
    pub fn integration_id(&self) -> i64 {
        self.integration_id
    }

    /// Writes `data` (with `updated` = now) and commits, releasing the lock. Fails with
    /// [`StoreError::IntegrationNotFound`] (and rolls back) if the row no longer exists.
    pub async fn commit_data(mut self, data: &serde_json::Value) -> Result<(), StoreError> {
        const OP: &str = "commit integration data";
        let data = data.to_string();
        let id = self.integration_id;
        let done = match &mut self.tx {
            LockTx::Sqlite(tx) => sqlx::query(SET_INTEGRATION_DATA.sqlite)
                .bind(data)
                .bind(id)
                .bind(timestamp::format(Utc::now()))
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected()),
            LockTx::Postgres(tx) => sqlx::query(SET_INTEGRATION_DATA.postgres)
                .bind(data)
                .bind(id)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(self.db_err(OP))?;
        if done == 0 {
            return Err(StoreError::IntegrationNotFound {
                integration_id: id,
                url: self.url.to_string(),
            });
        }
        self.commit_inner(OP).await
    }

    /// Upserts the integration's status inside the locked transaction (kept only if the lock
    /// is then committed).
    pub async fn set_integration_status(
        &mut self,
        status: &IntegrationStatus,
    ) -> Result<(), StoreError> {
        const OP: &str = "set integration status (locked)";
        match &mut self.tx {
            LockTx::Sqlite(tx) => {
                super::broker_tables::bind_status!(sqlx::query(UPSERT_STATUS.sqlite), status)
                    .execute(&mut **tx)
                    .await
                    .map(|_| ())
            }
            LockTx::Postgres(tx) => {
                super::broker_tables::bind_status!(sqlx::query(UPSERT_STATUS.postgres), status)
                    .execute(&mut **tx)
                    .await
                    .map(|_| ())
            }
        }
        .map_err(self.db_err(OP))?;
        Ok(())
    }

    /// Records a notification inside the locked transaction (kept only if the lock is then
    /// committed).
    pub async fn insert_notification(&mut self, n: &Notification) -> Result<(), StoreError> {
        const OP: &str = "insert notification (locked)";
        match &mut self.tx {
            LockTx::Sqlite(tx) => super::broker_tables::bind_notification!(
                sqlx::query(INSERT_NOTIFICATION.sqlite),
                n,
            )
            .execute(&mut **tx)
            .await
            .map(|_| ()),
            LockTx::Postgres(tx) => super::broker_tables::bind_notification!(
                sqlx::query(INSERT_NOTIFICATION.postgres),
                n,
            )
            .execute(&mut **tx)
            .await
            .map(|_| ()),
        }
        .map_err(self.db_err(OP))?;
        Ok(())
    }

    /// Commits what was written through the lock (statuses, notifications) without changing
    /// `data`, releasing the lock.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.commit_inner("commit integration lock").await
    }

    /// Rolls back and releases the lock (what dropping does, but waiting for it and
    /// reporting failure).
    pub async fn release(self) -> Result<(), StoreError> {
        const OP: &str = "release integration lock";
        let url = self.url.clone();
        let err = |source| StoreError::Database {
            op: OP,
            url: url.to_string(),
            source,
        };
        match self.tx {
            LockTx::Sqlite(tx) => tx.rollback().await.map_err(err),
            LockTx::Postgres(tx) => tx.rollback().await.map_err(err),
        }
    }

    async fn commit_inner(self, op: &'static str) -> Result<(), StoreError> {
        let url = self.url.clone();
        let err = |source| StoreError::Database {
            op,
            url: url.to_string(),
            source,
        };
        match self.tx {
            LockTx::Sqlite(tx) => tx.commit().await.map_err(err),
            LockTx::Postgres(tx) => tx.commit().await.map_err(err),
        }
    }

    fn db_err(&self, op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Database {
            op,
            url: self.url.to_string(),
            source,
        }
    }
}
