//! The broker's own tables: leases, the audit trail, notifications for shops, and integration
//! statuses. Their SQL is the same on both backends (both accept `$N` placeholders, and the
//! columns are TEXT/BIGINT, plus one boolean that sqlx maps to INTEGER on SQLite).

use sqlx::AssertSqlSafe;

use super::row::{DbRow, narrow};
use super::{
    AuditEvent, IntegrationStatus, LeaseRecord, Notification, Pool, Sql, Store, StoreError, on_pool,
};

/// Rows per multi-row INSERT of audit events: 10 parameters each keeps a statement far below
/// SQLite's (32,766) and PostgreSQL's (65,535) bind-parameter limits.
const AUDIT_ROWS_PER_STATEMENT: usize = 100;

const AUDIT_COLUMNS: &str =
    "at_ms, peer_uid, peer_pid, action, shop_id, provider, lease_id, outcome, detail, trace_id";

const INSERT_LEASE: Sql = Sql::both(
    "INSERT INTO broker_lease \
     (id, secret_hash, shop_id, providers, created_at, expires_at, revoked_at, created_by_uid, \
     created_by_pid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
);

const LEASE_BY_HASH: Sql = Sql::both(
    "SELECT id, secret_hash, shop_id, providers, created_at, expires_at, revoked_at, \
     created_by_uid, created_by_pid FROM broker_lease WHERE secret_hash = $1",
);

/// `$2` = include ended (expired or revoked) leases; `$3` = now.
const LEASES: Sql = Sql::both(
    "SELECT id, secret_hash, shop_id, providers, created_at, expires_at, revoked_at, \
     created_by_uid, created_by_pid FROM broker_lease \
     WHERE ($1 IS NULL OR shop_id = $1) \
       AND ($2 OR (revoked_at IS NULL AND expires_at > $3)) \
     ORDER BY created_at DESC, id",
);

/// Leases neither revoked nor expired at `$1`.
const LIVE_LEASES: Sql =
    Sql::both("SELECT count(*) FROM broker_lease WHERE revoked_at IS NULL AND expires_at > $1");

/// Extends a live lease: `$2` = new expiry, `$3` = now.
const RENEW_LEASE: Sql = Sql::both(
    "UPDATE broker_lease SET expires_at = $2 \
     WHERE id = $1 AND revoked_at IS NULL AND expires_at > $3",
);

const REVOKE_LEASE: Sql =
    Sql::both("UPDATE broker_lease SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL");

// Separate statements with and without a shop (rather than `$1 IS NULL OR shop_id = $1`) so
// PostgreSQL's cached generic plan can use the (shop_id, at_ms) index on a large table.
const AUDIT_ALL: Sql = Sql::both(
    "SELECT at_ms, peer_uid, peer_pid, action, shop_id, provider, lease_id, outcome, detail, \
     trace_id FROM broker_audit ORDER BY at_ms DESC, id DESC LIMIT $1",
);
const AUDIT_OF_SHOP: Sql = Sql::both(
    "SELECT at_ms, peer_uid, peer_pid, action, shop_id, provider, lease_id, outcome, detail, \
     trace_id FROM broker_audit WHERE shop_id = $1 ORDER BY at_ms DESC, id DESC LIMIT $2",
);
// The same of a table no broker has upgraded yet (no `trace_id`): the operator's `audit` may
// run after an upgrade and before the new broker first starts. (A different statement, not
// `SELECT *`: both drivers cache a statement's columns, which an upgrade would change.)
const AUDIT_ALL_UNTRACED: Sql = Sql::both(
    "SELECT at_ms, peer_uid, peer_pid, action, shop_id, provider, lease_id, outcome, detail, \
     CAST(NULL AS TEXT) AS trace_id FROM broker_audit ORDER BY at_ms DESC, id DESC LIMIT $1",
);
const AUDIT_OF_SHOP_UNTRACED: Sql = Sql::both(
    "SELECT at_ms, peer_uid, peer_pid, action, shop_id, provider, lease_id, outcome, detail, \
     CAST(NULL AS TEXT) AS trace_id FROM broker_audit WHERE shop_id = $1 \
     ORDER BY at_ms DESC, id DESC LIMIT $2",
);

pub(super) const INSERT_NOTIFICATION: Sql = Sql::both(
    "INSERT INTO broker_notification \
     (created_at, shop_id, integration_id, kind, service, message) \
     VALUES ($1, $2, $3, $4, $5, $6)",
);
const NOTIFICATIONS_ALL: Sql = Sql::both(
    "SELECT created_at, shop_id, integration_id, kind, service, message \
     FROM broker_notification ORDER BY created_at DESC, id DESC LIMIT $1",
);
const NOTIFICATIONS_OF_SHOP: Sql = Sql::both(
    "SELECT created_at, shop_id, integration_id, kind, service, message \
     FROM broker_notification WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
);

const NOTED_SINCE: Sql = Sql::both(
    "SELECT 1 FROM broker_notification \
     WHERE shop_id = $1 AND integration_id = $2 AND kind = $3 AND created_at >= $4 LIMIT 1",
);

pub(super) const UPSERT_STATUS: Sql = Sql::both(
    "INSERT INTO broker_integration_status (integration_id, needs_reconnect, reason, updated_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (integration_id) DO UPDATE SET needs_reconnect = excluded.needs_reconnect, \
     reason = excluded.reason, updated_at = excluded.updated_at",
);
const STATUSES: Sql = Sql::both(
    "SELECT integration_id, needs_reconnect, reason, updated_at \
     FROM broker_integration_status ORDER BY integration_id",
);
const STATUS_BY_ID: Sql = Sql::both(
    "SELECT integration_id, needs_reconnect, reason, updated_at \
     FROM broker_integration_status WHERE integration_id = $1",
);

/// Binds an [`IntegrationStatus`] to [`UPSERT_STATUS`]'s parameters (a macro so that it
/// expands against either backend's query type).
macro_rules! bind_status {
    ($query:expr, $s:expr $(,)?) => {{
        let s: &$crate::store::IntegrationStatus = $s;
        $query
            .bind(s.integration_id)
            .bind(s.needs_reconnect)
            .bind(s.reason.as_deref())
            .bind(s.updated_at)
    }};
}
pub(super) use bind_status;

/// Binds a [`Notification`] to [`INSERT_NOTIFICATION`]'s parameters.
macro_rules! bind_notification {
    ($query:expr, $n:expr $(,)?) => {{
        let n: &$crate::store::Notification = $n;
        $query
            .bind(n.created_at)
            .bind(n.shop_id.as_str())
            .bind(n.integration_id)
            .bind(n.kind.as_str())
            .bind(n.service.as_str())
            .bind(n.message.as_str())
    }};
}
pub(super) use bind_notification;

/// `INSERT … VALUES ($1, …, $9), ($10, …)` for `rows` audit events on PostgreSQL, or with
/// anonymous `?` placeholders on SQLite (which looks up each numbered name by a linear scan, so
/// numbered placeholders make a 900-value statement quadratic). Built from constants only;
/// every value is bound.
fn audit_insert_sql(rows: usize, numbered: bool) -> String {
    let mut sql = format!("INSERT INTO broker_audit ({AUDIT_COLUMNS}) VALUES ");
    let per_row = AUDIT_COLUMNS.split(',').count();
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..per_row {
            if c > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(r * per_row + c + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Providers are stored comma-joined, so a name must be non-empty and comma-free to survive
/// the round trip.
fn join_providers(providers: &[String]) -> Result<String, StoreError> {
    if let Some(bad) = providers.iter().find(|p| p.is_empty() || p.contains(',')) {
        return Err(StoreError::InvalidInput {
            op: "insert lease",
            reason: format!("provider name {bad:?} is empty or contains a comma"),
        });
    }
    Ok(providers.join(","))
}

fn decode_lease<R: DbRow>(row: &R) -> Result<LeaseRecord, sqlx::Error> {
    Ok(LeaseRecord {
        id: row.string("id")?,
        secret_hash: row.string("secret_hash")?,
        shop_id: row.string("shop_id")?,
        providers: row
            .string("providers")?
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: row.i64("created_at")?,
        expires_at: row.i64("expires_at")?,
        revoked_at: row.opt_i64("revoked_at")?,
        created_by_uid: narrow(row.i64("created_by_uid")?, "created_by_uid")?,
        created_by_pid: row
            .opt_i64("created_by_pid")?
            .map(|v| narrow(v, "created_by_pid"))
            .transpose()?,
    })
}

fn decode_audit<R: DbRow>(row: &R) -> Result<AuditEvent, sqlx::Error> {
    Ok(AuditEvent {
        at_ms: row.i64("at_ms")?,
        peer_uid: row
            .opt_i64("peer_uid")?
            .map(|v| narrow(v, "peer_uid"))
            .transpose()?,
        peer_pid: row
            .opt_i64("peer_pid")?
            .map(|v| narrow(v, "peer_pid"))
            .transpose()?,
        action: row.string("action")?,
        shop_id: row.opt_string("shop_id")?,
        provider: row.opt_string("provider")?,
        lease_id: row.opt_string("lease_id")?,
        outcome: row.string("outcome")?,
        detail: row.opt_string("detail")?,
        trace_id: row.opt_string("trace_id")?,
    })
}

fn decode_notification<R: DbRow>(row: &R) -> Result<Notification, sqlx::Error> {
    Ok(Notification {
        created_at: row.i64("created_at")?,
        shop_id: row.string("shop_id")?,
        integration_id: row.opt_i64("integration_id")?,
        kind: row.string("kind")?,
        service: row.string("service")?,
        message: row.string("message")?,
    })
}

fn decode_status<R: DbRow>(row: &R) -> Result<IntegrationStatus, sqlx::Error> {
    Ok(IntegrationStatus {
        integration_id: row.i64("integration_id")?,
        needs_reconnect: row.bool("needs_reconnect")?,
        reason: row.opt_string("reason")?,
        updated_at: row.i64("updated_at")?,
    })
}

/// Decodes every row with `f`.
fn decode_rows<R, T>(
    rows: Result<Vec<R>, sqlx::Error>,
    f: fn(&R) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    rows?.iter().map(f).collect()
}

impl Store {
    /// Stores a new lease. Fails on a duplicate id or secret hash, or a provider name that is
    /// empty or contains a comma.
    pub async fn insert_lease(&self, lease: &LeaseRecord) -> Result<(), StoreError> {
        let providers = join_providers(&lease.providers)?;
        on_pool!(self, INSERT_LEASE, |pool, sql| {
            sqlx::query(sql)
                .bind(lease.id.as_str())
                .bind(lease.secret_hash.as_str())
                .bind(lease.shop_id.as_str())
                .bind(providers.as_str())
                .bind(lease.created_at)
                .bind(lease.expires_at)
                .bind(lease.revoked_at)
                .bind(i64::from(lease.created_by_uid))
                .bind(lease.created_by_pid.map(i64::from))
                .execute(pool)
                .await
                .map_err(self.db_err("insert lease"))?;
        });
        Ok(())
    }

    /// Stores several leases in one transaction (one write instead of one per lease: a shop's
    /// set asks for one lease per server).
    pub async fn insert_leases(&self, leases: &[LeaseRecord]) -> Result<(), StoreError> {
        on_pool!(self, INSERT_LEASE, |pool, sql| {
            let mut tx = pool.begin().await.map_err(self.db_err("insert leases"))?;
            for lease in leases {
                let providers = join_providers(&lease.providers)?;
                sqlx::query(sql)
                    .bind(lease.id.as_str())
                    .bind(lease.secret_hash.as_str())
                    .bind(lease.shop_id.as_str())
                    .bind(providers.as_str())
                    .bind(lease.created_at)
                    .bind(lease.expires_at)
                    .bind(lease.revoked_at)
                    .bind(i64::from(lease.created_by_uid))
                    .bind(lease.created_by_pid.map(i64::from))
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err("insert leases"))?;
            }
            tx.commit().await.map_err(self.db_err("insert leases"))?;
        });
        Ok(())
    }

    /// The lease whose secret hashes to `secret_hash`, whatever its state (the caller checks
    /// expiry and revocation, so it can say which one applies).
    pub async fn lease_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        on_pool!(self, LEASE_BY_HASH, |pool, sql| {
            sqlx::query(sql)
                .bind(secret_hash)
                .fetch_optional(pool)
                .await
                .and_then(|row| row.as_ref().map(decode_lease).transpose())
        })
        .map_err(self.db_err("look up lease"))
    }

    /// Leases (of one shop, if given), newest first. Unless `include_ended`, only those neither
    /// revoked nor expired at `now` (unix seconds).
    pub async fn leases(
        &self,
        shop_id: Option<&str>,
        include_ended: bool,
        now: i64,
    ) -> Result<Vec<LeaseRecord>, StoreError> {
        on_pool!(self, LEASES, |pool, sql| {
            decode_rows(
                sqlx::query(sql)
                    .bind(shop_id)
                    .bind(include_ended)
                    .bind(now)
                    .fetch_all(pool)
                    .await,
                decode_lease,
            )
        })
        .map_err(self.db_err("list leases"))
    }

    /// How many leases are live (neither revoked nor expired) at `now` (unix seconds).
    pub async fn live_lease_count(&self, now: i64) -> Result<i64, StoreError> {
        on_pool!(self, LIVE_LEASES, |pool, sql| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(now)
                .fetch_one(pool)
                .await
        })
        .map_err(self.db_err("count live leases"))
    }

    /// Marks the lease revoked at `at`. `false` if it is unknown or already revoked.
    pub async fn revoke_lease(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let affected = on_pool!(self, REVOKE_LEASE, |pool, sql| {
            sqlx::query(sql)
                .bind(id)
                .bind(at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("revoke lease"))?;
        Ok(affected > 0)
    }

    /// Sets the expiry of the live leases `ids` to `expires_at`, in one transaction; returns
    /// the ids that were live (at `now`) and so renewed.
    pub async fn renew_leases(
        &self,
        ids: &[String],
        expires_at: i64,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(self, RENEW_LEASE, |pool, sql| {
            let mut tx = pool.begin().await.map_err(self.db_err("renew leases"))?;
            let mut renewed = Vec::new();
            for id in ids {
                let n = sqlx::query(sql)
                    .bind(id.as_str())
                    .bind(expires_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err("renew leases"))?
                    .rows_affected();
                if n > 0 {
                    renewed.push(id.clone());
                }
            }
            tx.commit().await.map_err(self.db_err("renew leases"))?;
            Ok::<_, StoreError>(renewed)
        })
    }

    /// Revokes the leases `ids` in one transaction; returns how many were live.
    pub async fn revoke_leases(&self, ids: &[String], at: i64) -> Result<u64, StoreError> {
        let affected = on_pool!(self, REVOKE_LEASE, |pool, sql| {
            let mut tx = pool.begin().await.map_err(self.db_err("revoke leases"))?;
            let mut affected = 0;
            for id in ids {
                affected += sqlx::query(sql)
                    .bind(id.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.db_err("revoke leases"))?
                    .rows_affected();
            }
            tx.commit().await.map_err(self.db_err("revoke leases"))?;
            affected
        });
        Ok(affected)
    }

    /// Appends audit events in one transaction (multi-row INSERTs of up to 100 rows each), so
    /// a batch is stored entirely or not at all.
    pub async fn insert_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        const OP: &str = "insert audit events";
        if events.is_empty() {
            return Ok(());
        }
        macro_rules! insert_chunks {
            ($pool:expr, $numbered:expr) => {{
                // The statement for a full chunk is built once and reused (and so prepared once).
                let full_sql =
                    audit_insert_sql(AUDIT_ROWS_PER_STATEMENT.min(events.len()), $numbered);
                let mut tx = $pool.begin().await.map_err(self.db_err(OP))?;
                for chunk in events.chunks(AUDIT_ROWS_PER_STATEMENT) {
                    let sql = if chunk.len() == AUDIT_ROWS_PER_STATEMENT.min(events.len()) {
                        full_sql.clone()
                    } else {
                        audit_insert_sql(chunk.len(), $numbered)
                    };
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for e in chunk {
                        query = query
                            .bind(e.at_ms)
                            .bind(e.peer_uid.map(i64::from))
                            .bind(e.peer_pid.map(i64::from))
                            .bind(e.action.as_str())
                            .bind(e.shop_id.as_deref())
                            .bind(e.provider.as_deref())
                            .bind(e.lease_id.as_deref())
                            .bind(e.outcome.as_str())
                            .bind(e.detail.as_deref())
                            .bind(e.trace_id.as_deref());
                    }
                    query.execute(&mut *tx).await.map_err(self.db_err(OP))?;
                }
                tx.commit().await.map_err(self.db_err(OP))?;
            }};
        }
        match &self.inner.pool {
            Pool::Sqlite(pool) => insert_chunks!(pool, false),
            Pool::Postgres(pool) => insert_chunks!(pool, true),
        }
        Ok(())
    }

    /// Audit events (of one shop, if given), newest first, at most `limit` (negative = 0).
    pub async fn audit(
        &self,
        shop_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let limit = limit.max(0);
        let traced = self
            .columns_of("read audit events", "broker_audit")
            .await?
            .iter()
            .any(|c| c == "trace_id");
        let (all, of_shop) = if traced {
            (AUDIT_ALL, AUDIT_OF_SHOP)
        } else {
            (AUDIT_ALL_UNTRACED, AUDIT_OF_SHOP_UNTRACED)
        };
        match shop_id {
            None => on_pool!(self, all, |pool, sql| {
                decode_rows(
                    sqlx::query(sql).bind(limit).fetch_all(pool).await,
                    decode_audit,
                )
            }),
            Some(shop) => on_pool!(self, of_shop, |pool, sql| {
                decode_rows(
                    sqlx::query(sql)
                        .bind(shop)
                        .bind(limit)
                        .fetch_all(pool)
                        .await,
                    decode_audit,
                )
            }),
        }
        .map_err(self.db_err("read audit events"))
    }

    /// Records a notification for a shop. While holding an
    /// [`IntegrationLock`](super::IntegrationLock) on SQLite, use the lock's method instead.
    pub async fn insert_notification(&self, n: &Notification) -> Result<(), StoreError> {
        on_pool!(self, INSERT_NOTIFICATION, |pool, sql| {
            bind_notification!(sqlx::query(sql), n)
                .execute(pool)
                .await
                .map_err(self.db_err("insert notification"))?;
        });
        Ok(())
    }

    /// Notifications (of one shop, if given), newest first, at most `limit` (negative = 0).
    pub async fn notifications(
        &self,
        shop_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let limit = limit.max(0);
        match shop_id {
            None => on_pool!(self, NOTIFICATIONS_ALL, |pool, sql| {
                decode_rows(
                    sqlx::query(sql).bind(limit).fetch_all(pool).await,
                    decode_notification,
                )
            }),
            Some(shop) => on_pool!(self, NOTIFICATIONS_OF_SHOP, |pool, sql| {
                decode_rows(
                    sqlx::query(sql)
                        .bind(shop)
                        .bind(limit)
                        .fetch_all(pool)
                        .await,
                    decode_notification,
                )
            }),
        }
        .map_err(self.db_err("read notifications"))
    }

    /// Whether a notification of `kind` about the integration was recorded at or after
    /// `since` (unix seconds): keeps a warning once per token across broker restarts.
    pub async fn noted_since(
        &self,
        shop_id: &str,
        integration_id: i64,
        kind: &str,
        since: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, NOTED_SINCE, |pool, sql| {
            sqlx::query(sql)
                .bind(shop_id)
                .bind(integration_id)
                .bind(kind)
                .bind(since)
                .fetch_optional(pool)
                .await
                .map(|row| row.is_some())
        })
        .map_err(self.db_err("read notifications"))
    }

    /// Inserts or replaces the broker's status of an integration. While holding an
    /// [`IntegrationLock`](super::IntegrationLock) on SQLite, use the lock's method instead.
    pub async fn set_integration_status(&self, s: &IntegrationStatus) -> Result<(), StoreError> {
        on_pool!(self, UPSERT_STATUS, |pool, sql| {
            bind_status!(sqlx::query(sql), s)
                .execute(pool)
                .await
                .map_err(self.db_err("set integration status"))?;
        });
        Ok(())
    }

    /// Every integration status, by integration id.
    pub async fn integration_statuses(&self) -> Result<Vec<IntegrationStatus>, StoreError> {
        on_pool!(self, STATUSES, |pool, sql| {
            decode_rows(sqlx::query(sql).fetch_all(pool).await, decode_status)
        })
        .map_err(self.db_err("list integration statuses"))
    }

    /// The status of one integration, if the broker has recorded one.
    pub async fn integration_status(
        &self,
        integration_id: i64,
    ) -> Result<Option<IntegrationStatus>, StoreError> {
        on_pool!(self, STATUS_BY_ID, |pool, sql| {
            sqlx::query(sql)
                .bind(integration_id)
                .fetch_optional(pool)
                .await
                .and_then(|row| row.as_ref().map(decode_status).transpose())
        })
        .map_err(self.db_err("read integration status"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_sql_numbers_every_placeholder() {
        assert_eq!(
            audit_insert_sql(2, true),
            format!(
                "INSERT INTO broker_audit ({AUDIT_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10), \
                 ($11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            )
        );
        assert_eq!(
            audit_insert_sql(2, false),
            format!(
                "INSERT INTO broker_audit ({AUDIT_COLUMNS}) VALUES \
                 (?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
        );
    }

    #[test]
    fn providers_must_survive_the_comma_join() {
        assert_eq!(
            join_providers(&["ga4".into(), "gsc".into()]).unwrap(),
            "ga4,gsc"
        );
        assert!(join_providers(&["ga4,gsc".into()]).is_err());
        assert!(join_providers(&[String::new()]).is_err());
    }
}
