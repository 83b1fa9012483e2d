//! The schema: idempotent DDL per backend, and the checks `serve` runs before trusting a
//! database it did not create.
//!
//! `migrate` (for the embedded default) creates the dashboard's two tables if absent and the
//! broker's tables; `ensure_broker_tables` (run by `serve`) creates only `broker_*` tables and
//! never touches the dashboard's; `check_dashboard_tables` explains what to run when the
//! dashboard's tables are missing. Timestamps in `broker_*` tables are BIGINT unix seconds
//! (milliseconds for `broker_audit.at_ms`) so they read the same on both backends.

use super::{Pool, Store, StoreError};
use sqlx::AssertSqlSafe;

/// The dashboard's tables as SQLite stores them (the embedded default). `created`/`updated`
/// hold RFC 3339 text; SQLite has no boolean or JSON column types.
const SQLITE_DASHBOARD: &str = "
CREATE TABLE IF NOT EXISTS sources_shop (
    id   TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS importers_integration (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    shop_id          TEXT NOT NULL REFERENCES sources_shop (id),
    integration_type INTEGER NOT NULL,
    data             TEXT NOT NULL DEFAULT '{}',
    active           INTEGER NOT NULL DEFAULT 1,
    deleted          INTEGER NOT NULL DEFAULT 0,
    created          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- Only SQLite gets this index: on PostgreSQL the dashboard's own (Django) schema already
-- indexes shop_id, and migrate must not add objects to a schema it did not create.
CREATE INDEX IF NOT EXISTS importers_integration_shop_type
    ON importers_integration (shop_id, integration_type);
";

/// The dashboard's tables as the dashboard's PostgreSQL has them.
const PG_DASHBOARD: &str = "
CREATE TABLE IF NOT EXISTS sources_shop (
    id   uuid PRIMARY KEY,
    name varchar(255) NOT NULL
);
CREATE TABLE IF NOT EXISTS importers_integration (
    id               bigserial PRIMARY KEY,
    shop_id          uuid NOT NULL REFERENCES sources_shop (id),
    integration_type integer NOT NULL,
    data             jsonb NOT NULL DEFAULT '{}',
    active           boolean NOT NULL DEFAULT true,
    deleted          boolean NOT NULL DEFAULT false,
    created          timestamptz NOT NULL DEFAULT now(),
    updated          timestamptz NOT NULL DEFAULT now()
);
";

/// The broker's tables on SQLite. `INTEGER PRIMARY KEY` (exactly) makes the id the rowid.
const SQLITE_BROKER: &str = "
CREATE TABLE IF NOT EXISTS broker_lease (
    id             TEXT PRIMARY KEY NOT NULL,
    secret_hash    TEXT NOT NULL UNIQUE,
    shop_id        TEXT NOT NULL,
    providers      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    created_by_uid BIGINT NOT NULL,
    created_by_pid BIGINT
);
CREATE INDEX IF NOT EXISTS broker_lease_shop ON broker_lease (shop_id, created_at);
CREATE TABLE IF NOT EXISTS broker_shop_key (
    id             TEXT PRIMARY KEY NOT NULL,
    key_hash       TEXT NOT NULL UNIQUE,
    shop_id        TEXT NOT NULL,
    providers      TEXT NOT NULL,
    label          TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    created_by_uid BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS broker_shop_key_shop ON broker_shop_key (shop_id, created_at);
CREATE TABLE IF NOT EXISTS broker_key_lease (
    lease_id TEXT PRIMARY KEY NOT NULL,
    key_id   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS broker_key_lease_key ON broker_key_lease (key_id);
CREATE TABLE IF NOT EXISTS broker_principal (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    shop_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject, shop_id)
);
CREATE TABLE IF NOT EXISTS broker_audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms    BIGINT NOT NULL,
    peer_uid BIGINT,
    peer_pid BIGINT,
    action   TEXT NOT NULL,
    shop_id  TEXT,
    provider TEXT,
    lease_id TEXT,
    outcome  TEXT NOT NULL,
    detail   TEXT,
    trace_id TEXT
);
CREATE INDEX IF NOT EXISTS broker_audit_shop_at ON broker_audit (shop_id, at_ms);
CREATE INDEX IF NOT EXISTS broker_audit_at ON broker_audit (at_ms);
CREATE TABLE IF NOT EXISTS broker_notification (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at     BIGINT NOT NULL,
    shop_id        TEXT NOT NULL,
    integration_id BIGINT,
    kind           TEXT NOT NULL,
    service        TEXT NOT NULL,
    message        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS broker_notification_shop ON broker_notification (shop_id, created_at);
CREATE TABLE IF NOT EXISTS broker_integration_status (
    integration_id  BIGINT PRIMARY KEY NOT NULL,
    needs_reconnect INTEGER NOT NULL,
    reason          TEXT,
    updated_at      BIGINT NOT NULL
);
";

/// The broker's tables on PostgreSQL: the same columns; only the id generator and the
/// boolean type differ.
const PG_BROKER: &str = "
CREATE TABLE IF NOT EXISTS broker_lease (
    id             text PRIMARY KEY,
    secret_hash    text NOT NULL UNIQUE,
    shop_id        text NOT NULL,
    providers      text NOT NULL,
    created_at     bigint NOT NULL,
    expires_at     bigint NOT NULL,
    revoked_at     bigint,
    created_by_uid bigint NOT NULL,
    created_by_pid bigint
);
CREATE INDEX IF NOT EXISTS broker_lease_shop ON broker_lease (shop_id, created_at);
CREATE TABLE IF NOT EXISTS broker_shop_key (
    id             text PRIMARY KEY,
    key_hash       text NOT NULL UNIQUE,
    shop_id        text NOT NULL,
    providers      text NOT NULL,
    label          text,
    created_at     bigint NOT NULL,
    expires_at     bigint NOT NULL,
    revoked_at     bigint,
    created_by_uid bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS broker_shop_key_shop ON broker_shop_key (shop_id, created_at);
CREATE TABLE IF NOT EXISTS broker_key_lease (
    lease_id text PRIMARY KEY,
    key_id   text NOT NULL
);
CREATE INDEX IF NOT EXISTS broker_key_lease_key ON broker_key_lease (key_id);
CREATE TABLE IF NOT EXISTS broker_principal (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    shop_id    text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (issuer, subject, shop_id)
);
CREATE TABLE IF NOT EXISTS broker_audit (
    id       bigserial PRIMARY KEY,
    at_ms    bigint NOT NULL,
    peer_uid bigint,
    peer_pid bigint,
    action   text NOT NULL,
    shop_id  text,
    provider text,
    lease_id text,
    outcome  text NOT NULL,
    detail   text,
    trace_id text
);
CREATE INDEX IF NOT EXISTS broker_audit_shop_at ON broker_audit (shop_id, at_ms);
CREATE INDEX IF NOT EXISTS broker_audit_at ON broker_audit (at_ms);
CREATE TABLE IF NOT EXISTS broker_notification (
    id             bigserial PRIMARY KEY,
    created_at     bigint NOT NULL,
    shop_id        text NOT NULL,
    integration_id bigint,
    kind           text NOT NULL,
    service        text NOT NULL,
    message        text NOT NULL
);
CREATE INDEX IF NOT EXISTS broker_notification_shop ON broker_notification (shop_id, created_at);
CREATE TABLE IF NOT EXISTS broker_integration_status (
    integration_id  bigint PRIMARY KEY,
    needs_reconnect boolean NOT NULL,
    reason          text,
    updated_at      bigint NOT NULL
);
";

/// Two brokers starting together against one PostgreSQL would otherwise race their
/// `CREATE TABLE IF NOT EXISTS` (the loser fails on a duplicate catalog row), so DDL runs
/// under this transaction-scoped advisory lock.
const PG_DDL_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('berryboo-migrate', 0))";

/// The dashboard tables and the columns the broker reads from them.
const DASHBOARD_TABLES: [(&str, &[&str]); 2] = [
    ("sources_shop", &["id", "name"]),
    (
        "importers_integration",
        &[
            "id",
            "shop_id",
            "integration_type",
            "data",
            "active",
            "deleted",
            "created",
            "updated",
        ],
    ),
];

impl Store {
    /// Creates the dashboard's tables if they are absent, and the broker's tables. Idempotent;
    /// this is what `credential-broker migrate` runs.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.inner.pool {
            Pool::Sqlite(_) => {
                self.run_ddl("migrate", &[SQLITE_DASHBOARD, SQLITE_BROKER])
                    .await?
            }
            Pool::Postgres(_) => self.run_ddl("migrate", &[PG_DASHBOARD, PG_BROKER]).await?,
        }
        self.add_broker_columns().await
    }

    /// Creates only the `broker_*` tables (if absent). This is what `serve` runs: it never
    /// alters a schema it did not create.
    pub async fn ensure_broker_tables(&self) -> Result<(), StoreError> {
        match &self.inner.pool {
            Pool::Sqlite(_) => {
                self.run_ddl("create broker tables", &[SQLITE_BROKER])
                    .await?
            }
            Pool::Postgres(_) => self.run_ddl("create broker tables", &[PG_BROKER]).await?,
        }
        self.add_broker_columns().await
    }

    /// Fails with [`StoreError::MissingTable`] (which says to run `credential-broker migrate
    /// --database URL`) if `sources_shop` or `importers_integration` is absent, and with
    /// [`StoreError::MissingColumn`] if one lacks a column the broker reads.
    pub async fn check_dashboard_tables(&self) -> Result<(), StoreError> {
        const OP: &str = "check dashboard tables";
        for (table, columns) in DASHBOARD_TABLES {
            let present = self.columns_of(OP, table).await?;
            if present.is_empty() {
                return Err(StoreError::MissingTable {
                    table,
                    url: self.inner.url.to_string(),
                });
            }
            if let Some(column) = columns.iter().find(|c| !present.iter().any(|p| p == *c)) {
                return Err(StoreError::MissingColumn {
                    table,
                    column,
                    url: self.inner.url.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The columns of `table`, none if it is absent. Both queries resolve the table the way
    /// unqualified queries will (SQLite: the main schema; PostgreSQL: the search_path).
    pub(super) async fn columns_of(
        &self,
        op: &'static str,
        table: &str,
    ) -> Result<Vec<String>, StoreError> {
        match &self.inner.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                    .bind(table)
                    .fetch_all(pool)
                    .await
            }
            Pool::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT attname::text FROM pg_attribute \
                     WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                )
                .bind(table)
                .fetch_all(pool)
                .await
            }
        }
        .map_err(self.db_err(op))
    }

    /// Columns later versions added to the broker's own tables, added to tables an earlier
    /// version created.
    async fn add_broker_columns(&self) -> Result<(), StoreError> {
        const OP: &str = "add broker columns";
        // (table, column, SQLite type, PostgreSQL type)
        const ADDED: [(&str, &str, &str, &str); 2] = [
            ("broker_lease", "created_by_pid", "BIGINT", "bigint"),
            ("broker_audit", "trace_id", "TEXT", "text"),
        ];
        for (table, column, sqlite_type, pg_type) in ADDED {
            let present = self.columns_of(OP, table).await?;
            if present.iter().any(|c| c == column) {
                continue;
            }
            // Built from the constants above only.
            let added = match &self.inner.pool {
                Pool::Sqlite(pool) => sqlx::query(AssertSqlSafe(format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {sqlite_type}"
                )))
                .execute(pool)
                .await
                .map(drop),
                Pool::Postgres(pool) => sqlx::query(AssertSqlSafe(format!(
                    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {pg_type}"
                )))
                .execute(pool)
                .await
                .map(drop),
            };
            // Another process starting at the same moment may have added it first.
            if let Err(e) = added {
                let present = self.columns_of(OP, table).await?;
                if !present.iter().any(|c| c == column) {
                    return Err(self.db_err(OP)(e));
                }
            }
        }
        Ok(())
    }

    /// Runs `scripts` in one transaction, so a failure leaves no half-created schema
    /// (both backends have transactional DDL).
    async fn run_ddl(&self, op: &'static str, scripts: &[&'static str]) -> Result<(), StoreError> {
        match &self.inner.pool {
            Pool::Sqlite(pool) => {
                // IMMEDIATE takes the write lock up front, so a concurrent migrator waits in
                // the busy handler instead of failing on a lock upgrade.
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(self.db_err(op))?;
                for script in scripts {
                    sqlx::raw_sql(*script)
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(op))?;
                }
                tx.commit().await.map_err(self.db_err(op))?;
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(self.db_err(op))?;
                sqlx::query(PG_DDL_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err(op))?;
                for script in scripts {
                    sqlx::raw_sql(*script)
                        .execute(&mut *tx)
                        .await
                        .map_err(self.db_err(op))?;
                }
                tx.commit().await.map_err(self.db_err(op))?;
            }
        }
        tracing::info!(url = %self.inner.url, op, "schema is up to date");
        Ok(())
    }
}
