//! The plain records the store reads and writes: the dashboard's shops and integrations, and the
//! broker's leases, audit events, notifications and integration statuses.
//!
//! Units: lease, notification and status times are unix seconds; [`AuditEvent::at_ms`] is unix
//! milliseconds. [`IntegrationRow`]'s `Debug` lists only the keys of `data`, never its values,
//! because `data` holds the shop's OAuth tokens.

use std::fmt;

use chrono::{DateTime, Utc};

/// A row of the dashboard's `sources_shop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    /// The shop's id (a UUID in the dashboard, compared as text).
    pub id: String,
    /// Its display name.
    pub name: String,
}

/// A row of the dashboard's `importers_integration`: one connected account of one shop.
#[derive(Clone, PartialEq)]
pub struct IntegrationRow {
    /// Primary key.
    pub id: i64,
    /// The shop it belongs to, as text.
    pub shop_id: String,
    /// Which service (e.g. 201 = Google Analytics).
    pub integration_type: i32,
    /// Tokens and account ids (`token`, `refresh_token`, `expires_at`, `property_id`, …).
    pub data: serde_json::Value,
    /// Whether the dashboard considers it connected.
    pub active: bool,
    /// Soft-deletion flag.
    pub deleted: bool,
    /// When it was created; `None` if missing or unreadable.
    pub created: Option<DateTime<Utc>>,
    /// When it was last written; `None` if missing or unreadable.
    pub updated: Option<DateTime<Utc>>,
}

impl fmt::Debug for IntegrationRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys say what is present (useful when debugging a missing `refresh_token`)
        // without printing a single token.
        let keys: Vec<&str> = match &self.data {
            serde_json::Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("IntegrationRow")
            .field("id", &self.id)
            .field("shop_id", &self.shop_id)
            .field("integration_type", &self.integration_type)
            .field("data_keys", &keys)
            .field("active", &self.active)
            .field("deleted", &self.deleted)
            .field("created", &self.created)
            .field("updated", &self.updated)
            .finish()
    }
}

/// A row of `broker_lease`: the right to fetch one shop's access tokens for some providers
/// until `expires_at`. Only a hash of the lease secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Public lease id (shown to operators, used to revoke).
    pub id: String,
    /// Hash of the secret the client presents.
    pub secret_hash: String,
    /// The one shop the lease is for.
    pub shop_id: String,
    /// Provider names (`ga4`, `gsc`, …); stored comma-separated, so they may not contain commas.
    pub providers: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, once revoked.
    pub revoked_at: Option<i64>,
    /// Uid of the peer that asked for the lease.
    pub created_by_uid: u32,
    /// Pid of the peer that asked for the lease, when the socket told.
    pub created_by_pid: Option<u32>,
}

/// A row of `broker_shop_key`: a long-lived key that reaches one shop's tools through the
/// gateway (or lets a local server lease for itself). Only the key's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopKeyRecord {
    /// Public key id (`key_…`: shown to operators, used to revoke).
    pub id: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The one shop the key reaches.
    pub shop_id: String,
    /// Provider names it may use (`ga4`, …).
    pub providers: Vec<String>,
    /// What the operator called it.
    pub label: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, once revoked.
    pub revoked_at: Option<i64>,
    /// Uid of the admin who created it.
    pub created_by_uid: u32,
}

/// A row of `broker_audit`: who asked for what, when, and how it ended. Never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Peer uid from the socket's credentials.
    pub peer_uid: Option<u32>,
    /// Peer pid from the socket's credentials.
    pub peer_pid: Option<i32>,
    /// What was asked, e.g. `token`, `lease_create`.
    pub action: String,
    /// The shop concerned.
    pub shop_id: Option<String>,
    /// The provider concerned.
    pub provider: Option<String>,
    /// The lease used or created.
    pub lease_id: Option<String>,
    /// How it ended, e.g. `ok`, `denied`.
    pub outcome: String,
    /// Free text (an error's wording; never a secret).
    pub detail: Option<String>,
    /// The W3C trace (32 hex digits) of the request, when the caller sent a well-formed
    /// `traceparent`: the question this vend served.
    pub trace_id: Option<String>,
}

/// A row of `broker_notification`: something the shop must be told, e.g. to reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Unix seconds.
    pub created_at: i64,
    /// The shop to tell.
    pub shop_id: String,
    /// The integration concerned.
    pub integration_id: Option<i64>,
    /// e.g. `reconnect_required`, `token_expiring`.
    pub kind: String,
    /// The service as the shop knows it, e.g. `Google Analytics`.
    pub service: String,
    /// The text to show.
    pub message: String,
}

/// A row of `broker_integration_status`: the broker's verdict on an integration, kept apart
/// from the dashboard's row so the broker never changes what the dashboard's columns mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationStatus {
    /// The integration (`importers_integration.id`).
    pub integration_id: i64,
    /// The refresh token was refused (`invalid_grant`); the shop must reconnect.
    pub needs_reconnect: bool,
    /// Why, in words (never a token).
    pub reason: Option<String>,
    /// Unix seconds.
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_debug_hides_token_values() {
        let row = IntegrationRow {
            id: 7,
            shop_id: "s".into(),
            integration_type: 201,
            data: serde_json::json!({"token": "ya29.SECRET", "refresh_token": "1//SECRET2"}),
            active: true,
            deleted: false,
            created: None,
            updated: None,
        };
        let shown = format!("{row:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("refresh_token"), "{shown}");
    }
}
