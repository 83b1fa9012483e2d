//! The secrets that travel on the socket — lease secrets, host keys, shop keys — as types that
//! never print themselves, and the fingerprint by which an access token is named instead.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Serialises a `SecretString` (secrecy deliberately does not): only for the socket, which is
/// the one place these values are meant to travel.
pub(crate) mod secret_serde {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose_secret())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}

/// The secret that lets its holder get access tokens for one shop. Never printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseSecret(#[serde(with = "secret_serde")] SecretString);

impl LeaseSecret {
    /// Wraps a secret string.
    pub fn new(secret: String) -> Self {
        Self(SecretString::from(secret))
    }

    /// The secret, for hashing by the broker or handing to a child process.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for LeaseSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LeaseSecret(****)")
    }
}

/// The secret an agent host proves itself with when its uid is only in `allowed_uids`: with it
/// the connection may create leases and read health, as an admin's may. Kept from the servers
/// the host spawns (same uid) by never touching a file or environment they can read. Never
/// printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostKey(#[serde(with = "secret_serde")] SecretString);

impl HostKey {
    /// Wraps a key.
    pub fn new(key: String) -> Self {
        Self(SecretString::from(key))
    }

    /// The key, for hashing by the broker.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostKey(****)")
    }
}

/// A shop key (`bbk_…`): reaches one shop's tools through the gateway for months. Never
/// printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShopKey(#[serde(with = "secret_serde")] SecretString);

impl ShopKey {
    /// Wraps a key.
    pub fn new(key: String) -> Self {
        Self(SecretString::from(key))
    }

    /// The key, for hashing or sending to the broker.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ShopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShopKey(****)")
    }
}

/// A short, non-secret fingerprint of an access token (16 hex digits of its SHA-256), by which
/// a server names a token the upstream refused without sending the token back.
pub fn token_fingerprint(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
