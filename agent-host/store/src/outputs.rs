//! What the pipeline writes per anomaly and team: the evidence it read and the
//! recommendation it made. Both are keyed by (anomaly, team[, label]) and upserted, so a
//! re-run after a lapsed claim replaces rows instead of adding duplicates.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms};

/// One tool call a team made and what came back.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The anomaly.
    pub anomaly_id: i64,
    /// The team (`ga4`, `gsc`, `google_ads`, `meta_ads`).
    pub team: String,
    /// What this evidence is, e.g. `window:sessionDefaultChannelGroup`.
    pub label: String,
    /// The shop whose servers answered.
    pub shop_id: String,
    /// The account the server read (property, site, customer, ad account).
    pub account: String,
    /// The tool.
    pub tool: String,
    /// Its arguments (JSON).
    pub arguments: serde_json::Value,
    /// Its structured result (JSON).
    pub result: serde_json::Value,
    /// The trace of the anomaly's processing (32 hex digits), which the tool call, its
    /// upstream requests and the broker's vends share.
    pub trace_id: Option<String>,
}

/// A team's conclusion about one anomaly.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// The anomaly.
    pub anomaly_id: i64,
    /// The team (`ga4`, `gsc`, `google_ads`, `meta_ads`, or `database` when no source could
    /// be read).
    pub team: String,
    /// The shop.
    pub shop_id: String,
    /// `analysed`, `skipped` (no integration) or `broken` (credentials need reconnecting).
    pub outcome: String,
    /// One line.
    pub summary: String,
    /// Findings with their numbers.
    pub findings: Vec<String>,
    /// What to do.
    pub recommendations: Vec<String>,
    /// The computed analysis (totals, contributors, daily series) as JSON, for reports.
    pub analysis: serde_json::Value,
    /// `analysis` (deterministic) or `model:NAME` when a model wrote the text.
    pub author: String,
    /// The worker that wrote it.
    pub worker: String,
}

fn json_column(row: &AnyRow, column: &str) -> Result<serde_json::Value, StoreError> {
    let text: String = row
        .try_get(column)
        .map_err(|e| StoreError::Invalid(format!("{column}: {e}")))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Invalid(format!("{column}: {e}")))
}

fn list_column(row: &AnyRow, column: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_value(json_column(row, column)?)
        .map_err(|e| StoreError::Invalid(format!("{column}: {e}")))
}

impl Store {
    /// Stores (or replaces) one piece of evidence.
    pub async fn put_evidence(&self, e: &Evidence) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pipeline_evidence (anomaly_id, team, label, shop_id, account, tool, \
             arguments, result, created_ms, trace_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (anomaly_id, team, label) DO UPDATE SET shop_id = excluded.shop_id, \
             account = excluded.account, tool = excluded.tool, arguments = excluded.arguments, \
             result = excluded.result, created_ms = excluded.created_ms, \
             trace_id = excluded.trace_id",
        )
        .bind(e.anomaly_id)
        .bind(&e.team)
        .bind(&e.label)
        .bind(&e.shop_id)
        .bind(&e.account)
        .bind(&e.tool)
        .bind(crate::clean_json(&e.arguments))
        .bind(crate::clean_json(&e.result))
        .bind(now_ms())
        .bind(e.trace_id.as_deref())
        .execute(&self.pool)
        .await
        .map_err(self.err("store evidence"))?;
        Ok(())
    }

    /// The evidence of an anomaly (every team), or of every anomaly of a shop.
    pub async fn evidence(
        &self,
        anomaly_id: Option<i64>,
        shop_id: Option<&str>,
    ) -> Result<Vec<Evidence>, StoreError> {
        let rows = sqlx::query(
            "SELECT anomaly_id, team, label, shop_id, account, tool, arguments, result, \
             trace_id FROM pipeline_evidence WHERE ($1 < 0 OR anomaly_id = $1) \
             AND ($2 = '' OR shop_id = $2) ORDER BY anomaly_id, team, label",
        )
        .bind(anomaly_id.unwrap_or(-1))
        .bind(shop_id.unwrap_or(""))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read evidence"))?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| StoreError::Invalid(format!("pipeline_evidence: {e}"));
                Ok(Evidence {
                    anomaly_id: row.try_get("anomaly_id").map_err(get)?,
                    team: row.try_get("team").map_err(get)?,
                    label: row.try_get("label").map_err(get)?,
                    shop_id: row.try_get("shop_id").map_err(get)?,
                    account: row.try_get("account").map_err(get)?,
                    tool: row.try_get("tool").map_err(get)?,
                    arguments: json_column(row, "arguments")?,
                    result: json_column(row, "result")?,
                    trace_id: row.try_get("trace_id").map_err(get)?,
                })
            })
            .collect()
    }

    /// Deletes the evidence of anomalies processed before `before_ms` (their recommendations,
    /// with the findings and numbers, stay). Returns how many rows went.
    pub async fn prune_evidence(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM pipeline_evidence WHERE anomaly_id IN (SELECT id FROM pipeline_anomaly \
             WHERE status = 'processed' AND processed_ms < $1)",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await
        .map_err(self.err("prune evidence"))?
        .rows_affected())
    }

    /// Stores (or replaces) a team's recommendation for an anomaly.
    pub async fn put_recommendation(&self, r: &Recommendation) -> Result<(), StoreError> {
        let list = |v: &Vec<String>| crate::clean_json(&serde_json::Value::from(v.clone()));
        sqlx::query(
            "INSERT INTO pipeline_recommendation (anomaly_id, team, shop_id, outcome, summary, \
             findings, recommendations, analysis, author, worker, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (anomaly_id, team) DO UPDATE SET shop_id = excluded.shop_id, \
             outcome = excluded.outcome, summary = excluded.summary, \
             findings = excluded.findings, recommendations = excluded.recommendations, \
             analysis = excluded.analysis, author = excluded.author, worker = excluded.worker, \
             created_ms = excluded.created_ms",
        )
        .bind(r.anomaly_id)
        .bind(&r.team)
        .bind(&r.shop_id)
        .bind(&r.outcome)
        .bind(crate::clean(&r.summary))
        .bind(list(&r.findings))
        .bind(list(&r.recommendations))
        .bind(crate::clean_json(&r.analysis))
        .bind(&r.author)
        .bind(&r.worker)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(self.err("store recommendation"))?;
        Ok(())
    }

    /// Recommendations of one anomaly, or of all anomalies of a shop, by anomaly and team.
    pub async fn recommendations(
        &self,
        anomaly_id: Option<i64>,
        shop_id: Option<&str>,
    ) -> Result<Vec<Recommendation>, StoreError> {
        let rows = sqlx::query(
            "SELECT anomaly_id, team, shop_id, outcome, summary, findings, recommendations, \
             analysis, author, worker FROM pipeline_recommendation \
             WHERE ($1 < 0 OR anomaly_id = $1) AND ($2 = '' OR shop_id = $2) \
             ORDER BY anomaly_id, team",
        )
        .bind(anomaly_id.unwrap_or(-1))
        .bind(shop_id.unwrap_or(""))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err("read recommendations"))?;
        rows.iter()
            .map(|row| {
                let get =
                    |e: sqlx::Error| StoreError::Invalid(format!("pipeline_recommendation: {e}"));
                Ok(Recommendation {
                    anomaly_id: row.try_get("anomaly_id").map_err(get)?,
                    team: row.try_get("team").map_err(get)?,
                    shop_id: row.try_get("shop_id").map_err(get)?,
                    outcome: row.try_get("outcome").map_err(get)?,
                    summary: row.try_get("summary").map_err(get)?,
                    findings: list_column(row, "findings")?,
                    recommendations: list_column(row, "recommendations")?,
                    analysis: json_column(row, "analysis")?,
                    author: row.try_get("author").map_err(get)?,
                    worker: row.try_get("worker").map_err(get)?,
                })
            })
            .collect()
    }
}
