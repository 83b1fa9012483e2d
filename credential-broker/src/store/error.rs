//! [`StoreError`]: every way the storage layer can fail, with the operation and the database
//! (its URL with any password replaced) attached.
//!
//! Nothing here ever carries an integration's `data`: that JSON holds OAuth tokens, so a JSON
//! parse failure keeps only the line and column, and SQL never has values formatted into it
//! (they are bound), so driver messages cannot echo them either.

use std::path::PathBuf;
use std::time::Duration;

/// An error from [`Store`](super::Store) or [`IntegrationLock`](super::IntegrationLock).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error(
        "unsupported database URL `{url}`: expected `sqlite://PATH`, `sqlite::memory:`, \
         `postgres://…` or `postgresql://…`"
    )]
    UnsupportedUrl {
        /// The URL, password replaced.
        url: String,
    },

    /// The URL has the right scheme but the driver could not parse it.
    #[error("invalid database URL `{url}`: {source}")]
    InvalidUrl {
        /// The URL, password replaced.
        url: String,
        /// The driver's reason.
        #[source]
        source: sqlx::Error,
    },

    /// A SQLite file that does not exist was opened without `create_if_missing` (what `serve`
    /// does, so that a mistyped path fails instead of starting on an empty database).
    #[error(
        "SQLite database `{path}` does not exist; create it with \
         `credential-broker migrate --database {url}`"
    )]
    DatabaseMissing {
        /// The file that was looked for.
        path: PathBuf,
        /// The URL as given.
        url: String,
    },

    /// A filesystem step around opening SQLite (creating its directory, restricting its mode).
    #[error("{op} `{path}`: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The first connection could not be opened.
    #[error("cannot connect to `{url}`: {source}")]
    Connect {
        /// The URL, password replaced.
        url: String,
        /// The driver's reason.
        #[source]
        source: sqlx::Error,
    },

    /// One of the dashboard's tables is absent; `serve` does not create schemas it does not
    /// own.
    #[error(
        "table `{table}` is missing from `{url}`; run `credential-broker migrate --database URL` \
         to create it"
    )]
    MissingTable {
        /// The table that is absent.
        table: &'static str,
        /// The URL, password replaced.
        url: String,
    },

    /// A dashboard table exists but lacks a column the broker reads.
    #[error(
        "table `{table}` in `{url}` has no column `{column}`; it is not the dashboard's schema \
         (run `credential-broker migrate --database URL` on a new database)"
    )]
    MissingColumn {
        /// The table.
        table: &'static str,
        /// The column that is absent.
        column: &'static str,
        /// The URL, password replaced.
        url: String,
    },

    /// A statement failed.
    #[error("{op} failed on `{url}`: {source}")]
    Database {
        /// The store operation, e.g. `insert lease`.
        op: &'static str,
        /// The URL, password replaced.
        url: String,
        /// The driver's error (messages only; values are bound, never formatted into SQL).
        #[source]
        source: sqlx::Error,
    },

    /// Another refresher held the integration's lock for longer than the store waits.
    #[error(
        "timed out after {waited:?} waiting for the refresh lock of integration {integration_id} on `{url}`"
    )]
    LockTimeout {
        /// The integration.
        integration_id: i64,
        /// How long the store waited.
        waited: Duration,
        /// The URL, password replaced.
        url: String,
    },

    /// An update addressed an integration row that does not exist (any more).
    #[error("integration {integration_id} not found in `{url}`")]
    IntegrationNotFound {
        /// The integration.
        integration_id: i64,
        /// The URL, password replaced.
        url: String,
    },

    /// An integration's `data` column is not valid JSON. Only the position is kept: the
    /// parser's message could quote the text, and the text holds tokens.
    #[error(
        "{op}: `data` of integration {integration_id} in `{url}` is not valid JSON \
         (line {line}, column {column})"
    )]
    CorruptData {
        /// The store operation.
        op: &'static str,
        /// The integration.
        integration_id: i64,
        /// Where parsing stopped.
        line: usize,
        /// Where parsing stopped.
        column: usize,
        /// The URL, password replaced.
        url: String,
    },

    /// A value the caller passed cannot be stored faithfully.
    #[error("{op}: {reason}")]
    InvalidInput {
        /// The store operation.
        op: &'static str,
        /// What is wrong with the value (never the value of a secret).
        reason: String,
    },
}
