//! The dashboard's tables: reading shops and integrations, and seeding them (for the demo, tests
//! and operators bootstrapping the embedded default).
//!
//! PostgreSQL queries cast every column to one type (`id::bigint`, `shop_id::text`,
//! `data::text`, `updated::timestamptz`) so that the dashboard's `json` or `jsonb`, uuid or text,
//! `integer` or `bigint` columns all decode alike, and compare shop ids as text so a non-uuid id
//! is simply not found instead of raising a cast error. Orderings are applied in Rust so both
//! backends order identically (collations and text timestamps would otherwise differ).

use std::cmp::Ordering;

use chrono::Utc;

use super::row::DbRow;
use super::{IntegrationRow, Pool, Shop, Sql, Store, StoreError, on_pool, timestamp};

/// The columns of an integration as each backend must return them.
macro_rules! sqlite_integration_select {
    () => {
        "SELECT id, CAST(shop_id AS TEXT) AS shop_id, integration_type, \
         CAST(data AS TEXT) AS data, active, deleted, \
         CAST(created AS TEXT) AS created, CAST(updated AS TEXT) AS updated \
         FROM importers_integration"
    };
}
macro_rules! pg_integration_select {
    () => {
        "SELECT id::bigint AS id, shop_id::text AS shop_id, \
         integration_type::integer AS integration_type, data::text AS data, \
         COALESCE(active, false) AS active, COALESCE(deleted, false) AS deleted, \
         created::timestamptz AS created, updated::timestamptz AS updated \
         FROM importers_integration"
    };
}

/// One integration by id; also the re-read under [`IntegrationLock`](super::IntegrationLock).
pub(super) const INTEGRATION_BY_ID: Sql = Sql::each(
    concat!(sqlite_integration_select!(), " WHERE id = $1"),
    concat!(pg_integration_select!(), " WHERE id = $1"),
);

const INTEGRATIONS_ALL: Sql = Sql::each(sqlite_integration_select!(), pg_integration_select!());

const INTEGRATIONS_OF_SHOP: Sql = Sql::each(
    concat!(sqlite_integration_select!(), " WHERE shop_id = $1"),
    concat!(pg_integration_select!(), " WHERE shop_id::text = $1"),
);

const INTEGRATIONS_OF_SHOP_TYPE: Sql = Sql::each(
    concat!(
        sqlite_integration_select!(),
        " WHERE shop_id = $1 AND integration_type = $2"
    ),
    concat!(
        pg_integration_select!(),
        " WHERE shop_id::text = $1 AND integration_type = $2"
    ),
);

const SHOP_BY_ID: Sql = Sql::each(
    "SELECT id, name FROM sources_shop WHERE id = $1",
    "SELECT id::text AS id, name::text AS name FROM sources_shop WHERE id::text = $1",
);

const SHOPS: Sql = Sql::each(
    "SELECT CAST(id AS TEXT) AS id, name FROM sources_shop",
    "SELECT id::text AS id, name::text AS name FROM sources_shop",
);

/// PostgreSQL cannot assign text to a uuid column implicitly, and the id column may be uuid or
/// text; `json_populate_record` over the table's own row type converts the text to whatever
/// type the column has.
const UPSERT_SHOP: Sql = Sql::each(
    "INSERT INTO sources_shop (id, name) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    "INSERT INTO sources_shop (id, name) \
     VALUES ((json_populate_record(NULL::sources_shop, json_build_object('id', $1::text))).id, $2) \
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
);

/// `$3::text::json` is assignable to both `json` and `jsonb` columns (PostgreSQL has an
/// assignment cast json → jsonb), so the dashboard's column type needs no detection.
const INSERT_INTEGRATION: Sql = Sql::each(
    "INSERT INTO importers_integration \
     (shop_id, integration_type, data, active, deleted, created, updated) \
     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    "INSERT INTO importers_integration \
     (shop_id, integration_type, data, active, deleted, created, updated) \
     VALUES ((json_populate_record(NULL::importers_integration, \
              json_build_object('shop_id', $1::text))).shop_id, \
             $2, $3::text::json, $4, $5, now(), now()) \
     RETURNING id::bigint",
);

/// `$3` (the SQLite timestamp) is only bound on SQLite; PostgreSQL uses its own clock.
pub(super) const SET_INTEGRATION_DATA: Sql = Sql::each(
    "UPDATE importers_integration SET data = $1, updated = $3 WHERE id = $2",
    // clock_timestamp(), not now(): under IntegrationLock the transaction began before the
    // wait for the lock, and `updated` should say when the data was written.
    "UPDATE importers_integration SET data = $1::text::json, updated = clock_timestamp() \
     WHERE id = $2",
);

/// An integration row as decoded, before its `data` text is parsed.
pub(super) struct RawIntegration {
    id: i64,
    shop_id: String,
    integration_type: i32,
    data: Option<String>,
    active: bool,
    deleted: bool,
    created: Option<chrono::DateTime<Utc>>,
    updated: Option<chrono::DateTime<Utc>>,
}

impl RawIntegration {
    pub(super) fn decode<R: DbRow>(row: &R) -> Result<RawIntegration, sqlx::Error> {
        Ok(RawIntegration {
            id: row.i64("id")?,
            shop_id: row.string("shop_id")?,
            integration_type: row.i32("integration_type")?,
            data: row.opt_string("data")?,
            active: row.bool("active")?,
            deleted: row.bool("deleted")?,
            created: row.timestamp("created")?,
            updated: row.timestamp("updated")?,
        })
    }

    /// Parses `data`. A parse failure reports only its position: the text holds tokens.
    pub(super) fn parse(self, op: &'static str, url: &str) -> Result<IntegrationRow, StoreError> {
        let data = match self.data.as_deref() {
            None => serde_json::Value::Null,
            Some(text) => serde_json::from_str(text).map_err(|e| StoreError::CorruptData {
                op,
                integration_id: self.id,
                line: e.line(),
                column: e.column(),
                url: url.to_owned(),
            })?,
        };
        Ok(IntegrationRow {
            id: self.id,
            shop_id: self.shop_id,
            integration_type: self.integration_type,
            data,
            active: self.active,
            deleted: self.deleted,
            created: self.created,
            updated: self.updated,
        })
    }
}

/// Newest `updated` first; rows without a readable `updated` last; ties by newest id.
fn newest_first(a: &IntegrationRow, b: &IntegrationRow) -> Ordering {
    match (a.updated, b.updated) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then(b.id.cmp(&a.id))
}

/// Case-insensitive by name (what an operator scanning a list expects), then exact, then id.
fn by_name(a: &Shop, b: &Shop) -> Ordering {
    a.name
        .to_lowercase()
        .cmp(&b.name.to_lowercase())
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.id.cmp(&b.id))
}

impl Store {
    /// The shop with this id, if any (a malformed id is simply not found).
    pub async fn shop(&self, id: &str) -> Result<Option<Shop>, StoreError> {
        const OP: &str = "read shop";
        on_pool!(self, SHOP_BY_ID, |pool, sql| {
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(self.db_err(OP))?;
            row.map(|r| decode_shop(&r))
                .transpose()
                .map_err(self.db_err(OP))
        })
    }

    /// Every shop, ordered by name (case-insensitively).
    pub async fn shops(&self) -> Result<Vec<Shop>, StoreError> {
        const OP: &str = "list shops";
        let mut shops = on_pool!(self, SHOPS, |pool, sql| {
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(self.db_err(OP))?;
            rows.iter()
                .map(decode_shop)
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.db_err(OP))?
        });
        shops.sort_by(by_name);
        Ok(shops)
    }

    /// Every integration (of one shop, if given), including inactive and deleted ones,
    /// ordered by shop id, then type, then newest `updated` first.
    pub async fn integrations(
        &self,
        shop_id: Option<&str>,
    ) -> Result<Vec<IntegrationRow>, StoreError> {
        const OP: &str = "list integrations";
        let raw = match shop_id {
            None => on_pool!(self, INTEGRATIONS_ALL, |pool, sql| {
                decode_all(sqlx::query(sql).fetch_all(pool).await)
            }),
            Some(shop) => on_pool!(self, INTEGRATIONS_OF_SHOP, |pool, sql| {
                decode_all(sqlx::query(sql).bind(shop).fetch_all(pool).await)
            }),
        }
        .map_err(self.db_err(OP))?;
        let mut rows = self.parse_all(OP, raw)?;
        rows.sort_by(|a, b| {
            a.shop_id
                .cmp(&b.shop_id)
                .then(a.integration_type.cmp(&b.integration_type))
                .then_with(|| newest_first(a, b))
        });
        Ok(rows)
    }

    /// The shop's integrations of one type, including inactive and deleted ones, newest
    /// `updated` first (the row a vend should use is the first active, undeleted one).
    pub async fn integrations_of(
        &self,
        shop_id: &str,
        integration_type: i32,
    ) -> Result<Vec<IntegrationRow>, StoreError> {
        const OP: &str = "list integrations of shop";
        let raw = on_pool!(self, INTEGRATIONS_OF_SHOP_TYPE, |pool, sql| {
            decode_all(
                sqlx::query(sql)
                    .bind(shop_id)
                    .bind(integration_type)
                    .fetch_all(pool)
                    .await,
            )
        })
        .map_err(self.db_err(OP))?;
        let mut rows = self.parse_all(OP, raw)?;
        rows.sort_by(newest_first);
        Ok(rows)
    }

    /// One integration by id, whatever its state.
    pub async fn integration(&self, id: i64) -> Result<Option<IntegrationRow>, StoreError> {
        const OP: &str = "read integration";
        let raw = on_pool!(self, INTEGRATION_BY_ID, |pool, sql| {
            sqlx::query(sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .and_then(|row| row.as_ref().map(RawIntegration::decode).transpose())
        })
        .map_err(self.db_err(OP))?;
        raw.map(|r| r.parse(OP, &self.inner.url)).transpose()
    }

    /// Inserts the shop, or renames it if it exists. For seeding: on the dashboard's own
    /// database `sources_shop` has more required columns and this would fail.
    pub async fn upsert_shop(&self, id: &str, name: &str) -> Result<(), StoreError> {
        on_pool!(self, UPSERT_SHOP, |pool, sql| {
            sqlx::query(sql)
                .bind(id)
                .bind(name)
                .execute(pool)
                .await
                .map_err(self.db_err("upsert shop"))?;
        });
        Ok(())
    }

    /// Inserts an integration (created = updated = now) and returns its id. Fails if the shop
    /// does not exist (foreign key).
    pub async fn insert_integration(
        &self,
        shop_id: &str,
        integration_type: i32,
        data: &serde_json::Value,
        active: bool,
        deleted: bool,
    ) -> Result<i64, StoreError> {
        const OP: &str = "insert integration";
        let data = data.to_string();
        match &self.inner.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_scalar(INSERT_INTEGRATION.sqlite)
                    .bind(shop_id)
                    .bind(integration_type)
                    .bind(data)
                    .bind(active)
                    .bind(deleted)
                    .bind(timestamp::format(Utc::now()))
                    .fetch_one(pool)
                    .await
            }
            Pool::Postgres(pool) => {
                sqlx::query_scalar(INSERT_INTEGRATION.postgres)
                    .bind(shop_id)
                    .bind(integration_type)
                    .bind(data)
                    .bind(active)
                    .bind(deleted)
                    .fetch_one(pool)
                    .await
            }
        }
        .map_err(self.db_err(OP))
    }

    /// Replaces an integration's `data` and sets `updated` to now, as the dashboard does when a
    /// shop reconnects. Fails with [`StoreError::IntegrationNotFound`] if there is no such row.
    pub async fn set_integration_data(
        &self,
        id: i64,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        const OP: &str = "set integration data";
        let data = data.to_string();
        let done = match &self.inner.pool {
            Pool::Sqlite(pool) => sqlx::query(SET_INTEGRATION_DATA.sqlite)
                .bind(data)
                .bind(id)
                .bind(timestamp::format(Utc::now()))
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Pool::Postgres(pool) => sqlx::query(SET_INTEGRATION_DATA.postgres)
                .bind(data)
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(self.db_err(OP))?;
        if done == 0 {
            return Err(StoreError::IntegrationNotFound {
                integration_id: id,
                url: self.inner.url.to_string(),
            });
        }
        Ok(())
    }

    fn parse_all(
        &self,
        op: &'static str,
        raw: Vec<RawIntegration>,
    ) -> Result<Vec<IntegrationRow>, StoreError> {
        raw.into_iter()
            .map(|r| r.parse(op, &self.inner.url))
            .collect()
    }
}

fn decode_shop<R: DbRow>(row: &R) -> Result<Shop, sqlx::Error> {
    Ok(Shop {
        id: row.string("id")?,
        name: row.string("name")?,
    })
}

fn decode_all<R: DbRow>(
    rows: Result<Vec<R>, sqlx::Error>,
) -> Result<Vec<RawIntegration>, sqlx::Error> {
    rows?.iter().map(RawIntegration::decode).collect()
}
