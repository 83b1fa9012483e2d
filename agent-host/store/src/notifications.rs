//! What to tell a shop: connect a service it lacks, reconnect one whose grant broke, or
//! reconnect one whose token is about to expire. At most one notification per shop, service,
//! kind and day (a unique key), however many anomalies or workers run into the same problem.

use std::fmt;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Store, StoreError, now_ms};

/// What a notification asks of the shop: the old system's guide's two templates, and the
/// warning its monitoring section asks for ("automatic client notifications for expired
/// tokens").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The shop has not connected the service.
    Connect,
    /// The service's grant was revoked, expired or lacks a scope.
    Reconnect,
    /// The service's token expires soon (Meta's long-lived tokens last about 60 days and
    /// cannot be refreshed without the client): reconnect before it breaks. Its `day` is the
    /// expiry date, so one token is warned about once.
    Expiring,
}

impl NotificationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Connect => "connect",
            NotificationKind::Reconnect => "reconnect",
            NotificationKind::Expiring => "expiring",
        }
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// The shop.
    pub shop_id: String,
    /// The service as users know it ("Google Analytics").
    pub service: String,
    /// Which message.
    pub kind: NotificationKind,
    /// The day it counts for (`YYYY-MM-DD`, UTC): the de-duplication key.
    pub day: String,
    /// What the pipeline ran into (the broker's or server's message).
    pub reason: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered body.
    pub body: String,
}

/// A stored notification.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// The shop.
    pub shop_id: String,
    /// The service.
    pub service: String,
    /// Which message.
    pub kind: String,
    /// Its day.
    pub day: String,
    /// Why.
    pub reason: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// When a webhook accepted it (ms since the epoch).
    pub delivered_ms: Option<i64>,
    /// Webhook attempts so far.
    pub delivery_attempts: i64,
    /// The last webhook failure.
    pub delivery_error: Option<String>,
}

const COLUMNS: &str = "id, shop_id, service, kind, day, reason, subject, body, delivered_ms, \
    delivery_attempts, delivery_error";

fn decode(row: &AnyRow) -> Result<Notification, StoreError> {
    let get = |e: sqlx::Error| StoreError::Invalid(format!("pipeline_notification: {e}"));
    Ok(Notification {
        id: row.try_get("id").map_err(get)?,
        shop_id: row.try_get("shop_id").map_err(get)?,
        service: row.try_get("service").map_err(get)?,
        kind: row.try_get("kind").map_err(get)?,
        day: row.try_get("day").map_err(get)?,
        reason: row.try_get("reason").map_err(get)?,
        subject: row.try_get("subject").map_err(get)?,
        body: row.try_get("body").map_err(get)?,
        delivered_ms: row.try_get("delivered_ms").map_err(get)?,
        delivery_attempts: row.try_get("delivery_attempts").map_err(get)?,
        delivery_error: row.try_get("delivery_error").map_err(get)?,
    })
}

impl Store {
    /// Records a notification unless the same one (shop, service, kind, day) exists; returns
    /// the new row, or None when it was a duplicate.
    pub async fn notify(&self, n: &NewNotification) -> Result<Option<Notification>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO pipeline_notification (shop_id, service, kind, day, reason, subject, \
             body, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (shop_id, service, kind, day) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(&n.shop_id)
        .bind(&n.service)
        .bind(n.kind.as_str())
        .bind(&n.day)
        .bind(crate::clean(&n.reason))
        .bind(crate::clean(&n.subject))
        .bind(crate::clean(&n.body))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("record notification"))?;
        row.as_ref().map(decode).transpose()
    }

    /// Whether the shop was sent a `kind` notification about `service` for `day` or later
    /// (`YYYY-MM-DD` sorts as text): one reconnect message per refused grant, whichever path
    /// sent it.
    pub async fn notified_since(
        &self,
        shop_id: &str,
        service: &str,
        kind: NotificationKind,
        day: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM pipeline_notification WHERE shop_id = $1 AND service = $2 \
             AND kind = $3 AND day >= $4 LIMIT 1",
        )
        .bind(shop_id)
        .bind(service)
        .bind(kind.as_str())
        .bind(day)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("read notifications"))?;
        Ok(row.is_some())
    }

    /// Notifications, newest first, optionally of one shop.
    pub async fn notifications(
        &self,
        shop_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pipeline_notification WHERE ($1 = '' OR shop_id = $1) \
             ORDER BY id DESC LIMIT $2"
        )))
        .bind(shop_id.unwrap_or(""))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read notifications"))?;
        rows.iter().map(decode).collect()
    }

    /// Notifications no webhook has accepted yet, tried fewer than `max_attempts` times.
    pub async fn undelivered(&self, max_attempts: i64) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pipeline_notification WHERE delivered_ms IS NULL \
             AND delivery_attempts < $1 ORDER BY id"
        )))
        .bind(max_attempts)
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read undelivered notifications"))?;
        rows.iter().map(decode).collect()
    }

    /// Takes notification `id` for delivery for `hold_ms`, unless it was delivered or another
    /// worker holds it: with several hosts on one database, each notification is POSTed by
    /// one of them.
    pub async fn lock_delivery(&self, id: i64, hold_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let taken = sqlx::query(
            "UPDATE pipeline_notification SET delivery_lock_ms = $2 WHERE id = $1 \
             AND delivered_ms IS NULL AND (delivery_lock_ms IS NULL OR delivery_lock_ms < $3)",
        )
        .bind(id)
        .bind(now.saturating_add(hold_ms))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(self.err("lock notification"))?;
        Ok(taken.rows_affected() == 1)
    }

    /// Records a webhook attempt: delivered, or the error (and lets go of the lock).
    pub async fn delivery(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        let delivered = error.is_none().then(now_ms);
        sqlx::query(
            "UPDATE pipeline_notification SET delivery_attempts = delivery_attempts + 1, \
             delivered_ms = $2, delivery_error = $3, delivery_lock_ms = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(delivered)
        .bind(error.map(crate::clean))
        .execute(&self.pool)
        .await
        .map_err(self.err("record delivery"))?;
        Ok(())
    }
}
