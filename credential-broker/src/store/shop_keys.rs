//! `broker_shop_key`: long-lived keys that reach one shop's tools through the gateway. Like
//! leases, only a key's SHA-256 is stored; unlike leases, they last months and every check reads
//! the row, so a revocation through one broker is seen by every broker on the database at once.
//! `broker_principal`: which shops an OAuth subject (issuer and subject) may reach.

use super::row::{DbRow, narrow};
use super::{ShopKeyRecord, Sql, Store, StoreError, on_pool};

const INSERT: Sql = Sql::both(
    "INSERT INTO broker_shop_key \
     (id, key_hash, shop_id, providers, label, created_at, expires_at, revoked_at, created_by_uid) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
);
const BY_HASH: Sql = Sql::both(
    "SELECT id, key_hash, shop_id, providers, label, created_at, expires_at, revoked_at, \
     created_by_uid FROM broker_shop_key WHERE key_hash = $1",
);
/// `$2` = now: live keys only.
const LIVE: Sql = Sql::both(
    "SELECT id, key_hash, shop_id, providers, label, created_at, expires_at, revoked_at, \
     created_by_uid FROM broker_shop_key \
     WHERE ($1 IS NULL OR shop_id = $1) AND revoked_at IS NULL AND expires_at > $2 \
     ORDER BY created_at DESC, id",
);
const ADD_PRINCIPAL: Sql = Sql::both(
    "INSERT INTO broker_principal (issuer, subject, shop_id, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (issuer, subject, shop_id) DO NOTHING",
);
const REMOVE_PRINCIPAL: Sql =
    Sql::both("DELETE FROM broker_principal WHERE issuer = $1 AND subject = $2 AND shop_id = $3");
const PRINCIPAL_SHOPS: Sql = Sql::both(
    "SELECT shop_id FROM broker_principal WHERE issuer = $1 AND subject = $2 ORDER BY shop_id",
);
const PRINCIPALS: Sql = Sql::both(
    "SELECT issuer, subject, shop_id, created_at FROM broker_principal \
     ORDER BY issuer, subject, shop_id",
);

const REVOKE: Sql =
    Sql::both("UPDATE broker_shop_key SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL");
const LINK_LEASE: Sql =
    Sql::both("INSERT INTO broker_key_lease (lease_id, key_id) VALUES ($1, $2)");
/// Ends the live leases made with key `$1`, at `$2`.
const REVOKE_KEY_LEASES: Sql = Sql::both(
    "UPDATE broker_lease SET revoked_at = $2 WHERE revoked_at IS NULL \
     AND id IN (SELECT lease_id FROM broker_key_lease WHERE key_id = $1)",
);

fn decode<R: DbRow>(row: &R) -> Result<ShopKeyRecord, sqlx::Error> {
    Ok(ShopKeyRecord {
        id: row.string("id")?,
        key_hash: row.string("key_hash")?,
        shop_id: row.string("shop_id")?,
        providers: row
            .string("providers")?
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        label: row.opt_string("label")?,
        created_at: row.i64("created_at")?,
        expires_at: row.i64("expires_at")?,
        revoked_at: row.opt_i64("revoked_at")?,
        created_by_uid: narrow(row.i64("created_by_uid")?, "created_by_uid")?,
    })
}

impl Store {
    /// Stores a new key. Fails on a duplicate id or hash, or a provider name that is empty or
    /// contains a comma.
    pub async fn insert_shop_key(&self, key: &ShopKeyRecord) -> Result<(), StoreError> {
        if let Some(bad) = key
            .providers
            .iter()
            .find(|p| p.is_empty() || p.contains(','))
        {
            return Err(StoreError::InvalidInput {
                op: "insert shop key",
                reason: format!("provider name {bad:?} is empty or contains a comma"),
            });
        }
        let providers = key.providers.join(",");
        on_pool!(self, INSERT, |pool, sql| {
            sqlx::query(sql)
                .bind(key.id.as_str())
                .bind(key.key_hash.as_str())
                .bind(key.shop_id.as_str())
                .bind(providers.as_str())
                .bind(key.label.as_deref())
                .bind(key.created_at)
                .bind(key.expires_at)
                .bind(key.revoked_at)
                .bind(i64::from(key.created_by_uid))
                .execute(pool)
                .await
                .map_err(self.db_err("insert shop key"))?;
        });
        Ok(())
    }

    /// The key whose hash is `key_hash`, whatever its state (the caller checks expiry and
    /// revocation).
    pub async fn shop_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ShopKeyRecord>, StoreError> {
        on_pool!(self, BY_HASH, |pool, sql| {
            sqlx::query(sql)
                .bind(key_hash)
                .fetch_optional(pool)
                .await
                .and_then(|row| row.as_ref().map(decode).transpose())
        })
        .map_err(self.db_err("look up shop key"))
    }

    /// Keys neither revoked nor expired at `now` (of one shop, if given), newest first.
    pub async fn live_shop_keys(
        &self,
        shop_id: Option<&str>,
        now: i64,
    ) -> Result<Vec<ShopKeyRecord>, StoreError> {
        on_pool!(self, LIVE, |pool, sql| {
            sqlx::query(sql)
                .bind(shop_id)
                .bind(now)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(decode).collect())
        })
        .map_err(self.db_err("list shop keys"))
    }

    /// Marks the key revoked at `at`, and every live lease made with it. `false` if the key is
    /// unknown or already revoked.
    pub async fn revoke_shop_key(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let affected = on_pool!(self, REVOKE, |pool, sql| {
            sqlx::query(sql)
                .bind(id)
                .bind(at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("revoke shop key"))?;
        on_pool!(self, REVOKE_KEY_LEASES, |pool, sql| {
            sqlx::query(sql)
                .bind(id)
                .bind(at)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(self.db_err("revoke a key's leases"))?;
        Ok(affected > 0)
    }

    /// Notes that lease `lease_id` was made with key `key_id` (revoking the key ends it).
    pub async fn link_key_lease(&self, lease_id: &str, key_id: &str) -> Result<(), StoreError> {
        on_pool!(self, LINK_LEASE, |pool, sql| {
            sqlx::query(sql)
                .bind(lease_id)
                .bind(key_id)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(self.db_err("link a lease to its key"))?;
        Ok(())
    }

    /// Lets `subject` of `issuer` reach `shop_id`; false if it already could.
    pub async fn add_principal(
        &self,
        issuer: &str,
        subject: &str,
        shop_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let added = on_pool!(self, ADD_PRINCIPAL, |pool, sql| {
            sqlx::query(sql)
                .bind(issuer)
                .bind(subject)
                .bind(shop_id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("add principal"))?;
        Ok(added > 0)
    }

    /// Stops `subject` of `issuer` from reaching `shop_id`; false if it could not.
    pub async fn remove_principal(
        &self,
        issuer: &str,
        subject: &str,
        shop_id: &str,
    ) -> Result<bool, StoreError> {
        let removed = on_pool!(self, REMOVE_PRINCIPAL, |pool, sql| {
            sqlx::query(sql)
                .bind(issuer)
                .bind(subject)
                .bind(shop_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("remove principal"))?;
        Ok(removed > 0)
    }

    /// The shops `subject` of `issuer` may reach.
    pub async fn principal_shops(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(self, PRINCIPAL_SHOPS, |pool, sql| {
            sqlx::query(sql)
                .bind(issuer)
                .bind(subject)
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(|r| r.string("shop_id")).collect())
        })
        .map_err(self.db_err("read principal"))
    }

    /// Every (issuer, subject, shop, created) allowed.
    pub async fn principals(&self) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        on_pool!(self, PRINCIPALS, |pool, sql| {
            sqlx::query(sql).fetch_all(pool).await.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.string("issuer")?,
                            r.string("subject")?,
                            r.string("shop_id")?,
                            r.i64("created_at")?,
                        ))
                    })
                    .collect()
            })
        })
        .map_err(self.db_err("list principals"))
    }
}
