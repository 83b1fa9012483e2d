//! Anomalies: adding, listing, and the claim life cycle (open → claimed → processed, or back
//! to open after a failure, or failed after too many attempts).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Store, StoreError, now_ms};

/// How bad an anomaly is; more severe ones are claimed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Should be explained.
    Medium,
    /// Hurts the business.
    High,
    /// Drop everything.
    Critical,
}

impl Severity {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "{s:?} is not a severity: use low, medium, high or critical"
            )),
        }
    }
}

/// Where an anomaly is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a worker.
    Open,
    /// A worker has it until its claim lapses.
    Claimed,
    /// Done: recommendations written.
    Processed,
    /// Given up on after too many attempts (`last_error` says why).
    Failed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Claimed => "claimed",
            Status::Processed => "processed",
            Status::Failed => "failed",
        }
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Status::Open),
            "claimed" => Ok(Status::Claimed),
            "processed" => Ok(Status::Processed),
            "failed" => Ok(Status::Failed),
            _ => Err(format!(
                "{s:?} is not a status: use open, claimed, processed or failed"
            )),
        }
    }
}

/// An anomaly to add (what a detector found).
#[derive(Debug, Clone)]
pub struct NewAnomaly {
    /// The shop (`sources_shop.id`).
    pub shop_id: String,
    /// The source it was detected in: `ga4`, `gsc`, `google_ads`, `meta_ads` or `store`.
    pub source: String,
    /// The metric, e.g. `revenue`, `sessions`, `clicks`, `spend`.
    pub metric: String,
    /// First and last day of the anomaly.
    pub window: (NaiveDate, NaiveDate),
    /// First and last day of the baseline it was compared with.
    pub baseline: (NaiveDate, NaiveDate),
    /// The metric's value over the window.
    pub observed: f64,
    /// What the detector expected over the window.
    pub expected: f64,
    /// How bad.
    pub severity: Severity,
    /// Free text from the detector.
    pub note: Option<String>,
}

/// A stored anomaly.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// Id.
    pub id: i64,
    /// The shop.
    pub shop_id: String,
    /// Source it was detected in.
    pub source: String,
    /// Metric.
    pub metric: String,
    /// Anomaly window, inclusive.
    pub window: (NaiveDate, NaiveDate),
    /// Baseline, inclusive.
    pub baseline: (NaiveDate, NaiveDate),
    /// Observed over the window.
    pub observed: f64,
    /// Expected over the window.
    pub expected: f64,
    /// How bad.
    pub severity: Severity,
    /// Life-cycle state.
    pub status: Status,
    /// How many times a worker claimed it.
    pub attempts: i64,
    /// Current claimant.
    pub claimed_by: Option<String>,
    /// When the current claim lapses unless its worker extends it (ms since the epoch).
    pub claim_expires_ms: Option<i64>,
    /// Who processed it.
    pub processed_by: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Detector's note.
    pub note: Option<String>,
    /// When it was added (ms since the epoch).
    pub created_ms: i64,
}

impl Anomaly {
    /// Observed relative to expected, e.g. -0.32 for a 32 % drop (0 when nothing was expected).
    pub fn change(&self) -> f64 {
        if self.expected == 0.0 {
            0.0
        } else {
            self.observed / self.expected - 1.0
        }
    }
}

const COLUMNS: &str = "id, shop_id, source, metric, window_start, window_end, baseline_start, \
    baseline_end, observed, expected, severity, status, attempts, claimed_by, claim_expires_ms, \
    processed_by, last_error, note, created_ms";

/// Most severe first, then oldest.
const PRIORITY: &str = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 \
    WHEN 'medium' THEN 2 ELSE 3 END, id";

fn date(row: &AnyRow, column: &str) -> Result<NaiveDate, StoreError> {
    let text: String = row
        .try_get(column)
        .map_err(|e| StoreError::Invalid(format!("pipeline_anomaly.{column}: {e}")))?;
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|e| StoreError::Invalid(format!("pipeline_anomaly.{column} {text:?}: {e}")))
}

fn decode(row: &AnyRow) -> Result<Anomaly, StoreError> {
    let id: i64 = row
        .try_get("id")
        .map_err(|e| StoreError::Invalid(format!("pipeline_anomaly row: {e}")))?;
    decode_fields(row, id).map_err(|e| match e {
        StoreError::Invalid(m) => StoreError::Invalid(format!(
            "anomaly {id}: {m} (fix the row, or mark it failed)"
        )),
        other => other,
    })
}

fn decode_fields(row: &AnyRow, id: i64) -> Result<Anomaly, StoreError> {
    let get = |e: sqlx::Error| StoreError::Invalid(format!("pipeline_anomaly row: {e}"));
    let severity: String = row.try_get("severity").map_err(get)?;
    let status: String = row.try_get("status").map_err(get)?;
    Ok(Anomaly {
        id,
        shop_id: row.try_get("shop_id").map_err(get)?,
        source: row.try_get("source").map_err(get)?,
        metric: row.try_get("metric").map_err(get)?,
        window: (date(row, "window_start")?, date(row, "window_end")?),
        baseline: (date(row, "baseline_start")?, date(row, "baseline_end")?),
        observed: row.try_get("observed").map_err(get)?,
        expected: row.try_get("expected").map_err(get)?,
        severity: severity.parse().map_err(StoreError::Invalid)?,
        status: status.parse().map_err(StoreError::Invalid)?,
        attempts: row.try_get("attempts").map_err(get)?,
        claimed_by: row.try_get("claimed_by").map_err(get)?,
        claim_expires_ms: row.try_get("claim_expires_ms").map_err(get)?,
        processed_by: row.try_get("processed_by").map_err(get)?,
        last_error: row.try_get("last_error").map_err(get)?,
        note: row.try_get("note").map_err(get)?,
        created_ms: row.try_get("created_ms").map_err(get)?,
    })
}

fn decode_all(rows: &[AnyRow]) -> Result<Vec<Anomaly>, StoreError> {
    let mut out = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|a| (std::cmp::Reverse(a.severity), a.id));
    Ok(out)
}

impl Store {
    /// Adds an anomaly (status open) and returns its id.
    pub async fn add_anomaly(&self, a: &NewAnomaly) -> Result<i64, StoreError> {
        let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let row = sqlx::query(
            "INSERT INTO pipeline_anomaly (shop_id, source, metric, window_start, window_end, \
             baseline_start, baseline_end, observed, expected, severity, note, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(&a.shop_id)
        .bind(&a.source)
        .bind(&a.metric)
        .bind(day(a.window.0))
        .bind(day(a.window.1))
        .bind(day(a.baseline.0))
        .bind(day(a.baseline.1))
        .bind(a.observed)
        .bind(a.expected)
        .bind(a.severity.as_str())
        .bind(a.note.clone())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("add anomaly"))?;
        row.try_get(0).map_err(self.err("add anomaly"))
    }

    /// Claims held by workers other than `worker` (of `shop_id`, if given): how many, and when
    /// the last of them lapses (ms since the epoch). A run reports these: they may be a dead
    /// worker's, which another run takes over once they lapse.
    pub async fn foreign_claims(
        &self,
        worker: &str,
        shop_id: Option<&str>,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), MAX(claim_expires_ms) FROM pipeline_anomaly \
             WHERE status = 'claimed' AND claimed_by <> $1 AND ($2 = '' OR shop_id = $2)",
        )
        .bind(worker)
        .bind(shop_id.unwrap_or(""))
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("count other workers' claims"))?;
        let count: i64 = row
            .try_get(0)
            .map_err(self.err("count other workers' claims"))?;
        let until: Option<i64> = row
            .try_get(1)
            .map_err(self.err("count other workers' claims"))?;
        Ok((count, until))
    }

    /// Anomalies, most severe first, optionally of one shop and/or status.
    pub async fn anomalies(
        &self,
        shop_id: Option<&str>,
        status: Option<Status>,
        limit: i64,
    ) -> Result<Vec<Anomaly>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pipeline_anomaly WHERE ($1 = '' OR shop_id = $1) \
             AND ($2 = '' OR status = $2) ORDER BY {PRIORITY} LIMIT $3"
        )))
        .bind(shop_id.unwrap_or(""))
        .bind(status.map(Status::as_str).unwrap_or(""))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("list anomalies"))?;
        decode_all(&rows)
    }

    /// One anomaly.
    pub async fn anomaly(&self, id: i64) -> Result<Option<Anomaly>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pipeline_anomaly WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("read anomaly"))?;
        row.as_ref().map(decode).transpose()
    }

    /// Claims up to `limit` anomalies for `worker` until `ttl_ms` from now: open ones, and
    /// claimed ones whose claim lapsed (their worker died), that have been attempted fewer
    /// than `max_attempts` times; most severe first. Concurrent workers never get the same
    /// anomaly (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time).
    pub async fn claim(
        &self,
        worker: &str,
        limit: i64,
        ttl_ms: i64,
        shop_id: Option<&str>,
        max_attempts: i64,
    ) -> Result<Vec<Anomaly>, StoreError> {
        // A batch of nothing but unreadable rows (failed on the way) must not end the run
        // while readable ones wait behind it.
        loop {
            let (claimed, taken) = self
                .claim_once(worker, limit, ttl_ms, shop_id, max_attempts)
                .await?;
            if !claimed.is_empty() || taken == 0 {
                return Ok(claimed);
            }
        }
    }

    /// One claim: the readable anomalies, and how many rows were taken.
    async fn claim_once(
        &self,
        worker: &str,
        limit: i64,
        ttl_ms: i64,
        shop_id: Option<&str>,
        max_attempts: i64,
    ) -> Result<(Vec<Anomaly>, usize), StoreError> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let now = now_ms();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "UPDATE pipeline_anomaly SET status = 'claimed', claimed_by = $1, \
             claim_expires_ms = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM pipeline_anomaly \
               WHERE (status = 'open' OR (status = 'claimed' AND claim_expires_ms < $3)) \
               AND (retry_after_ms IS NULL OR retry_after_ms <= $3) \
               AND attempts < $4 AND ($5 = '' OR shop_id = $5) \
               ORDER BY {PRIORITY} LIMIT $6 {lock}) \
             RETURNING {COLUMNS}"
        )))
        .bind(worker)
        .bind(now.saturating_add(ttl_ms))
        .bind(now)
        .bind(max_attempts)
        .bind(shop_id.unwrap_or(""))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("claim anomalies"))?;
        // A row a detector wrote badly (a date that is not one, an unknown severity) must not
        // block the queue: it is failed with the reason and the rest go on.
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            match decode(row) {
                Ok(a) => claimed.push(a),
                Err(e) => {
                    let id: i64 = row.try_get("id").map_err(self.err("claim anomalies"))?;
                    tracing::warn!(anomaly = id, "unreadable anomaly failed: {e}");
                    sqlx::query(
                        "UPDATE pipeline_anomaly SET status = 'failed', claimed_by = NULL, \
                         claim_expires_ms = NULL, last_error = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(format!("unreadable row: {e}"))
                    .execute(&self.pool)
                    .await
                    .map_err(self.err("fail unreadable anomaly"))?;
                }
            }
        }
        claimed.sort_by_key(|a| (std::cmp::Reverse(a.severity), a.id));
        Ok((claimed, rows.len()))
    }

    /// Pushes `worker`'s claims on `ids` out to `ttl_ms` from now (a heartbeat). Returns how
    /// many it still holds.
    pub async fn extend_claims(
        &self,
        worker: &str,
        ids: &[i64],
        ttl_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut held = 0;
        for id in ids {
            held += sqlx::query(
                "UPDATE pipeline_anomaly SET claim_expires_ms = $1 \
                 WHERE id = $2 AND status = 'claimed' AND claimed_by = $3",
            )
            .bind(now_ms().saturating_add(ttl_ms))
            .bind(*id)
            .bind(worker)
            .execute(&self.pool)
            .await
            .map_err(self.err("extend claims"))?
            .rows_affected();
        }
        Ok(held)
    }

    /// Marks anomaly `id` processed by `worker`. False if `worker` no longer holds the claim
    /// (it lapsed and another worker took it): that worker will finish it instead.
    pub async fn finish(&self, id: i64, worker: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pipeline_anomaly SET status = 'processed', processed_by = $2, \
             processed_ms = $3, claimed_by = NULL, claim_expires_ms = NULL, last_error = NULL \
             WHERE id = $1 AND status = 'claimed' AND claimed_by = $2",
        )
        .bind(id)
        .bind(worker)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(self.err("finish anomaly"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives anomaly `id` back after a failed attempt: open again but not claimable for
    /// `retry_delay_ms` (so a run does not retry what it just failed, and a broken dependency
    /// is not hammered), or failed once it has been attempted `max_attempts` times. Returns
    /// the new status (None if `worker` had lost it).
    pub async fn give_back(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        max_attempts: i64,
        retry_delay_ms: i64,
    ) -> Result<Option<Status>, StoreError> {
        let row = sqlx::query(
            "UPDATE pipeline_anomaly SET \
             status = CASE WHEN attempts >= $3 THEN 'failed' ELSE 'open' END, \
             last_error = $4, claimed_by = NULL, claim_expires_ms = NULL, retry_after_ms = $5 \
             WHERE id = $1 AND status = 'claimed' AND claimed_by = $2 RETURNING status",
        )
        .bind(id)
        .bind(worker)
        .bind(max_attempts)
        .bind(crate::clean(error))
        .bind(now_ms().saturating_add(retry_delay_ms.max(0)))
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err("give back anomaly"))?;
        match row {
            None => Ok(None),
            Some(row) => {
                let status: String = row.try_get(0).map_err(self.err("give back anomaly"))?;
                status.parse().map(Some).map_err(StoreError::Invalid)
            }
        }
    }

    /// Puts anomaly `id` off until `until_ms` without counting the attempt: its source's quota
    /// is under the reserve kept for people, which is no fault of the anomaly's. `why` is kept
    /// as its last note. Returns whether `worker` still held it.
    pub async fn defer(
        &self,
        id: i64,
        worker: &str,
        why: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pipeline_anomaly SET status = 'open', claimed_by = NULL, \
             claim_expires_ms = NULL, \
             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, last_error = $3, \
             retry_after_ms = $4 WHERE id = $1 AND status = 'claimed' AND claimed_by = $2",
        )
        .bind(id)
        .bind(worker)
        .bind(crate::clean(why))
        .bind(until_ms)
        .execute(&self.pool)
        .await
        .map_err(self.err("defer anomaly"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Hands `worker`'s unfinished claims on `ids` back untouched (the worker is stopping):
    /// open again at once, and the interrupted attempt does not count. Returns how many.
    pub async fn release_claims(&self, worker: &str, ids: &[i64]) -> Result<u64, StoreError> {
        let mut n = 0;
        for id in ids {
            n += sqlx::query(
                "UPDATE pipeline_anomaly SET status = 'open', claimed_by = NULL, \
                 claim_expires_ms = NULL, attempts = attempts - 1 \
                 WHERE id = $1 AND status = 'claimed' AND claimed_by = $2",
            )
            .bind(*id)
            .bind(worker)
            .execute(&self.pool)
            .await
            .map_err(self.err("release claims"))?
            .rows_affected();
        }
        Ok(n)
    }

    /// Fails anomalies whose claims lapsed `max_attempts` times (their workers kept dying on
    /// them), so they stop being retried and show up in the summary. Returns how many.
    pub async fn fail_exhausted(&self, max_attempts: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE pipeline_anomaly SET status = 'failed', claimed_by = NULL, \
             claim_expires_ms = NULL, last_error = 'claimed ' || CAST(attempts AS TEXT) || \
             ' times by workers that never finished it' \
             WHERE status = 'claimed' AND claim_expires_ms < $1 AND attempts >= $2",
        )
        .bind(now_ms())
        .bind(max_attempts)
        .execute(&self.pool)
        .await
        .map_err(self.err("fail exhausted anomalies"))?;
        Ok(done.rows_affected())
    }

    /// Puts anomalies back to open with no attempts (an operator's retry); one a worker is
    /// working on right now is left alone.
    pub async fn reopen(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let mut n = 0;
        for id in ids {
            n += sqlx::query(
                "UPDATE pipeline_anomaly SET status = 'open', attempts = 0, claimed_by = NULL, \
                 claim_expires_ms = NULL, retry_after_ms = NULL, processed_by = NULL, \
                 processed_ms = NULL, last_error = NULL WHERE id = $1 \
                 AND NOT (status = 'claimed' AND claim_expires_ms > $2)",
            )
            .bind(*id)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(self.err("reopen anomaly"))?
            .rows_affected();
        }
        Ok(n)
    }
}
