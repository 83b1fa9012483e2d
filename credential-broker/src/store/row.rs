//! [`DbRow`]: reading a column by name the same way from a SQLite or a PostgreSQL row, so each
//! record is decoded by one function for both backends.
//!
//! The SQL is written so that both backends return the same column types (PostgreSQL casts to
//! `bigint`/`integer`/`text`); timestamps are the one place the backends differ, which
//! [`DbRow::timestamp`] hides.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::timestamp;

/// Column access shared by [`SqliteRow`] and [`PgRow`].
pub(crate) trait DbRow {
    fn i64(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_i64(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn i32(&self, col: &str) -> Result<i32, sqlx::Error>;
    fn string(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_string(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn bool(&self, col: &str) -> Result<bool, sqlx::Error>;
    /// A dashboard timestamp; `None` when NULL or, on SQLite, unreadable text.
    fn timestamp(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

/// The accessors whose decoding is the same for both row types.
macro_rules! common_accessors {
    () => {
        fn i64(&self, col: &str) -> Result<i64, sqlx::Error> {
            self.try_get(col)
        }
        fn opt_i64(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
            self.try_get(col)
        }
        fn i32(&self, col: &str) -> Result<i32, sqlx::Error> {
            self.try_get(col)
        }
        fn string(&self, col: &str) -> Result<String, sqlx::Error> {
            self.try_get(col)
        }
        fn opt_string(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
            self.try_get(col)
        }
        fn bool(&self, col: &str) -> Result<bool, sqlx::Error> {
            self.try_get(col)
        }
    };
}

impl DbRow for SqliteRow {
    common_accessors!();

    fn timestamp(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        // The SQL casts the column to TEXT, so any stored type arrives as text (or NULL).
        let text: Option<String> = self.try_get(col)?;
        Ok(text.as_deref().and_then(timestamp::parse_lenient))
    }
}

impl DbRow for PgRow {
    common_accessors!();

    fn timestamp(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        // The SQL casts the column to timestamptz, so PostgreSQL has already validated it.
        self.try_get(col)
    }
}

/// Converts a stored `BIGINT` into a narrower Rust integer, failing like a decode error (the
/// value is a number, never a secret, so it may be named).
pub(crate) fn narrow<T: TryFrom<i64>>(value: i64, col: &str) -> Result<T, sqlx::Error> {
    T::try_from(value).map_err(|_| {
        sqlx::Error::Decode(format!("column `{col}` holds {value}, which is out of range").into())
    })
}
