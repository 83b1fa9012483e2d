//! The anomaly pipeline's own tables, on SQLite (the embedded default) or PostgreSQL
//! (production, shared by every agent host), behind one API: [`Store`].
//!
//! - `pipeline_anomaly`: detected anomalies and their claims (who works on one, until when);
//! - `pipeline_evidence`: what a team read through the shop's servers, per anomaly and team;
//! - `pipeline_recommendation`: a team's findings and recommendations, one row per anomaly and
//!   team (idempotent: a re-run replaces, never duplicates);
//! - `pipeline_notification`: what to tell a shop (connect / reconnect a service), one per
//!   shop, service, kind and day.
//!
//! # Claims
//! Several agent hosts may run `pipeline` against one PostgreSQL. [`Store::claim`] takes open
//! anomalies with `FOR UPDATE SKIP LOCKED` (SQLite has one writer, so its plain `UPDATE …
//! RETURNING` is already atomic) and stamps them with the worker and a deadline. A worker
//! extends its deadline while it works; a dead worker's claims lapse and are taken again.
//! [`Store::finish`] only succeeds for the current claimant, so an anomaly ends `processed`
//! exactly once even if a slow worker's claim was taken over.
//!
//! This crate never touches the dashboard's tables except to read a shop's display name, and
//! never the broker's: tokens stay with the broker. Every text and JSON it stores passes the
//! redaction step first ([`redaction`]): evidence holds what upstreams said, and an upstream
//! may echo a token.

#![deny(missing_docs)]

mod anomalies;
mod notifications;
mod outputs;
mod schema;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

pub use anomalies::{Anomaly, NewAnomaly, Severity, Status};
pub use notifications::{NewNotification, Notification, NotificationKind};
pub use outputs::{Evidence, Recommendation};

/// `text` through the redaction step, for storing.
fn clean(text: &str) -> String {
    redaction::text(text).into_owned()
}

/// `value` through the redaction step, serialised for storing.
fn clean_json(value: &serde_json::Value) -> String {
    if !redaction::json_needs(value) {
        return value.to_string();
    }
    let mut value = value.clone();
    redaction::json(&mut value);
    value.to_string()
}

/// What went wrong talking to the database. Messages name the URL without its password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither `sqlite:` nor `postgres://`.
    #[error(
        "{0}: unsupported database URL; use sqlite://PATH (the embedded default) or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    /// The driver failed.
    #[error("{op} on {url}: {source}")]
    Database {
        /// What was being done.
        op: &'static str,
        /// The URL, password masked.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored value could not be understood (hand-edited row?).
    #[error("{0}")]
    Invalid(String),
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A pool to the pipeline's database. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `url` with any password masked: in the userinfo, or a `password=` / `sslpassword=` query
/// parameter (both of which the PostgreSQL driver accepts).
fn redact(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_owned();
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("****"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret =
                    k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
                (
                    k.into_owned(),
                    if secret {
                        "****".into()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

impl Store {
    /// Opens `url` (`sqlite://PATH`, `sqlite::memory:`, `postgres://…`). With
    /// `create_if_missing`, a SQLite file (and its directory) is created, mode 0600.
    pub async fn open(url: &str, create_if_missing: bool) -> Result<Store, StoreError> {
        install_default_drivers();
        let shown = redact(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(shown));
        };
        let mut connect = url.to_owned();
        if backend == Backend::Sqlite && create_if_missing && !url.contains("memory") {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            create_sqlite_file(std::path::Path::new(path)).map_err(|e| StoreError::Database {
                op: "create the database file",
                url: shown.clone(),
                source: sqlx::Error::Io(e),
            })?;
        }
        if backend == Backend::Sqlite && !connect.contains('?') {
            // A missing file is an error (a typo must not start an empty pipeline).
            connect.push_str("?mode=rw");
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(std::time::Duration::from_secs(15))
            .connect(&connect)
            .await
            .map_err(|source| StoreError::Database {
                op: "open",
                url: shown.clone(),
                source,
            })?;
        Ok(Store {
            pool,
            backend,
            url: shown,
        })
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL, password masked.
    pub fn display_url(&self) -> &str {
        &self.url
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn err(&self, op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Database {
            op,
            url: self.url.clone(),
            source,
        }
    }

    /// The shop's name from the dashboard's `sources_shop`, if that table is there and has the
    /// shop. Emails greet the client by it.
    pub async fn shop_name(&self, shop_id: &str) -> Option<String> {
        let row = sqlx::query("SELECT name FROM sources_shop WHERE CAST(id AS TEXT) = $1")
            .bind(shop_id)
            .fetch_optional(&self.pool)
            .await
            .ok()??;
        row.try_get::<String, _>(0).ok()
    }
}

fn create_sqlite_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

impl Store {
    /// Runs one statement outside any transaction (e.g. `CREATE DATABASE` for tests and
    /// set-up scripts).
    pub async fn execute_admin(&self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await
            .map_err(self.err("execute"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_show() {
        assert_eq!(
            super::redact("postgres://u:hunter2@h/db"),
            "postgres://u:****@h/db"
        );
        let shown = super::redact("postgres://u@h/db?sslmode=require&password=hunter2");
        assert!(
            !shown.contains("hunter2") && shown.contains("sslmode=require"),
            "{shown}"
        );
        assert_eq!(
            super::redact("sqlite:///tmp/a b.db"),
            "sqlite:///tmp/a b.db"
        );
    }
}
