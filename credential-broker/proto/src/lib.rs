//! The credential broker's protocol, shared by the broker, the MCP servers and the agent host.
//!
//! One Unix socket; on it, frames of a 4-byte big-endian length and a JSON body, at most
//! [`MAX_FRAME_LEN`] bytes (checked before the body is buffered). The first exchange is a
//! [`Request::Hello`] carrying [`PROTOCOL_VERSION`]; after it a connection carries any number of
//! request/response pairs, in order. The message set is closed: [`Request`] and [`Response`]
//! are the whole vocabulary, and every failure is a typed [`ErrorCode`].
//!
//! Secrets on the wire (lease secrets, access tokens) are `SecretString`s on both ends: never
//! printed by `Debug`, never logged.
//!
//! # Layout
//! - `message`: [`Request`], [`Response`] and their payloads.
//! - `provider`: [`Provider`]; `secret`: [`LeaseSecret`], [`HostKey`], [`ShopKey`] (never
//!   printed) and [`token_fingerprint`].
//! - `health`: [`HealthReport`]; `error`: [`ErrorCode`] and [`BrokerError`]; `quota`:
//!   [`QuotaReading`], what servers see of their upstreams' quotas.
//! - [`frame`]: encoding and decoding frames and messages (sans-IO, fuzzed by property tests).
//! - [`client`]: an async client over the socket; [`blocking`]: a revoke for clean-up paths.

#![deny(missing_docs)]

pub mod blocking;
pub mod client;
mod error;
pub mod frame;
mod health;
mod message;
mod provider;
mod quota;
mod secret;

pub use error::{BrokerError, ErrorCode};
pub use health::{HealthItem, HealthReport};
pub use message::*;
pub use provider::{Provider, UnknownProvider};
pub use quota::{MAX_LIMIT_NAME, MAX_RESET_SECS, ProviderQuota, QuotaReading};
pub use secret::{HostKey, LeaseSecret, ShopKey, token_fingerprint};

/// Version spoken by this build. A broker answers a `Hello` with another version by
/// [`ErrorCode::UnsupportedVersion`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Most leases one `RevokeLeases` may name.
pub const MAX_LEASES_PER_REQUEST: usize = 64;

/// Largest frame body either side accepts. Tokens are at most a few KB; anything bigger is a
/// bug or an attack and is refused before it is buffered.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// A Meta token expiring within this many days is reported ([`HealthReport`]), warned about
/// (`token_expiring`) and its shop asked to reconnect before it breaks.
pub const META_EXPIRY_WARNING_DAYS: i64 = 10;

/// The socket used when none is configured: `$XDG_RUNTIME_DIR/berryboo/broker.sock`, else
/// `/tmp/berryboo-<uid>/broker.sock`.
pub fn default_socket_path() -> std::path::PathBuf {
    use std::os::unix::fs::MetadataExt;
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => std::path::PathBuf::from(dir).join("berryboo/broker.sock"),
        _ => {
            // The owner of /proc/self is this process's uid; no libc call needed.
            let uid = std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(0);
            std::path::PathBuf::from(format!("/tmp/berryboo-{uid}/broker.sock"))
        }
    }
}
