//! Leases: the secret a server presents to get one shop's tokens.
//!
//! A lease secret is 32 random bytes (`bbl_` + base64url). The store keeps only its SHA-256, so
//! a database dump cannot be replayed against the socket. Every grant expires; revocation is the
//! clean-up step. Lookups are served from memory and re-checked against the store at most every
//! [`RECHECK`], so a lease revoked through another broker on the same PostgreSQL stops working
//! within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use broker_proto::{BrokerError, ErrorCode, LeaseSecret, Provider};
use sha2::{Digest, Sha256};

use crate::store::{LeaseRecord, Store, StoreError};

/// How long a cached lease is trusted before the store is asked again.
pub const RECHECK: Duration = Duration::from_secs(10);

/// A live lease.
#[derive(Debug, Clone)]
pub struct Lease {
    /// Non-secret id (`lease_…`).
    pub id: String,
    /// The shop it is for.
    pub shop_id: String,
    /// Providers it covers.
    pub providers: Vec<Provider>,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Revocation time, Unix seconds.
    pub revoked_at: Option<i64>,
}

struct Cached {
    lease: Lease,
    checked: Instant,
}

/// Creates, resolves, renews, lists and revokes leases.
pub struct LeaseBook {
    store: Store,
    by_hash: Mutex<HashMap<String, Cached>>,
    /// Lease id → when a token was last vended under it (Unix seconds), since this process
    /// started: for operators' `lease list`, not worth a write per vend.
    last_used: Mutex<HashMap<String, i64>>,
}

/// SHA-256 of a lease secret, hex.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "bbl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn new_id() -> String {
    let bytes: [u8; 8] = rand::random();
    let mut id = String::from("lease_");
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

fn from_record(r: &LeaseRecord) -> Lease {
    Lease {
        id: r.id.clone(),
        shop_id: r.shop_id.clone(),
        providers: r.providers.iter().filter_map(|p| p.parse().ok()).collect(),
        expires_at: r.expires_at,
        revoked_at: r.revoked_at,
    }
}

fn internal(e: StoreError) -> BrokerError {
    tracing::error!("lease store: {e}");
    BrokerError::new(
        ErrorCode::Internal,
        "the credential broker's store failed; see its log",
    )
}

impl LeaseBook {
    /// A book over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            by_hash: Mutex::new(HashMap::new()),
            last_used: Mutex::new(HashMap::new()),
        }
    }

    /// Creates a lease; returns the secret (shown once) and the lease.
    pub async fn create(
        &self,
        shop_id: &str,
        providers: &[Provider],
        ttl: Duration,
        now: i64,
        created_by: (u32, Option<u32>),
    ) -> Result<(LeaseSecret, Lease), BrokerError> {
        let secret = new_secret();
        let record = LeaseRecord {
            id: new_id(),
            secret_hash: hash_secret(&secret),
            shop_id: shop_id.to_owned(),
            providers: providers.iter().map(|p| p.as_str().to_owned()).collect(),
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            revoked_at: None,
            created_by_uid: created_by.0,
            created_by_pid: created_by.1,
        };
        self.store.insert_lease(&record).await.map_err(internal)?;
        let lease = from_record(&record);
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                record.secret_hash,
                Cached {
                    lease: lease.clone(),
                    checked: Instant::now(),
                },
            );
        Ok((LeaseSecret::new(secret), lease))
    }

    /// Creates one lease per provider of `providers`, for `shop_id`, in one write; returns the
    /// secrets (shown once) and leases, in order.
    pub async fn create_each(
        &self,
        shop_id: &str,
        providers: &[Provider],
        ttl: Duration,
        now: i64,
        created_by: (u32, Option<u32>),
    ) -> Result<Vec<(LeaseSecret, Lease)>, BrokerError> {
        let mut made = Vec::new();
        let mut records = Vec::new();
        for p in providers {
            let secret = new_secret();
            let record = LeaseRecord {
                id: new_id(),
                secret_hash: hash_secret(&secret),
                shop_id: shop_id.to_owned(),
                providers: vec![p.as_str().to_owned()],
                created_at: now,
                expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
                revoked_at: None,
                created_by_uid: created_by.0,
                created_by_pid: created_by.1,
            };
            made.push((LeaseSecret::new(secret), from_record(&record)));
            records.push(record);
        }
        self.store.insert_leases(&records).await.map_err(internal)?;
        let mut map = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        for (record, (_, lease)) in records.into_iter().zip(&made) {
            map.insert(
                record.secret_hash,
                Cached {
                    lease: lease.clone(),
                    checked: Instant::now(),
                },
            );
        }
        Ok(made)
    }

    /// The live lease for `secret`, or why there is none.
    pub async fn resolve(&self, secret: &LeaseSecret, now: i64) -> Result<Lease, BrokerError> {
        let hash = hash_secret(secret.expose());
        let cached = {
            let map = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
            map.get(&hash)
                .filter(|c| c.checked.elapsed() < RECHECK)
                .map(|c| c.lease.clone())
        };
        let lease = match cached {
            Some(l) => l,
            None => {
                let record = self.store.lease_by_hash(&hash).await.map_err(internal)?;
                let Some(record) = record else {
                    return Err(BrokerError::new(
                        ErrorCode::UnknownLease,
                        "unknown lease: it was never issued by this broker's database (check BERRYBOO_LEASE)",
                    ));
                };
                let lease = from_record(&record);
                self.by_hash
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(
                        hash,
                        Cached {
                            lease: lease.clone(),
                            checked: Instant::now(),
                        },
                    );
                lease
            }
        };
        if lease.revoked_at.is_some() {
            return Err(BrokerError::new(
                ErrorCode::LeaseRevoked,
                format!("lease {} was revoked; ask for a new one", lease.id),
            ));
        }
        if lease.expires_at <= now {
            return Err(BrokerError::new(
                ErrorCode::LeaseExpired,
                format!("lease {} has expired; ask for a new one", lease.id),
            ));
        }
        Ok(lease)
    }

    /// The ids of the leases `secrets` name (unknown secrets are skipped).
    /// The ids of the leases behind `secrets` (unknown ones left out), and of those among
    /// them that were revoked.
    async fn ids_of(
        &self,
        secrets: &[LeaseSecret],
    ) -> Result<(Vec<String>, Vec<String>), BrokerError> {
        let (mut ids, mut revoked) = (Vec::new(), Vec::new());
        for secret in secrets {
            if let Some(record) = self
                .store
                .lease_by_hash(&hash_secret(secret.expose()))
                .await
                .map_err(internal)?
            {
                if record.revoked_at.is_some() {
                    revoked.push(record.id.clone());
                }
                ids.push(record.id);
            }
        }
        Ok((ids, revoked))
    }

    /// Drops every cached lookup, so the next use of any lease reads its row: after a shop
    /// key's leases were revoked in the store (rare), they end here at once instead of at the
    /// next periodic recheck.
    pub fn forget_cached(&self) {
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Notes a token vended under lease `id` at `now`.
    pub fn used(&self, id: &str, now: i64) {
        let mut map = self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(id) {
            Some(at) => *at = now,
            None => {
                map.insert(id.to_owned(), now);
            }
        }
    }

    /// Extends the live leases among `secrets` to expire at `expires_at`, in one write;
    /// unknown, revoked and expired ones are left as they are. Returns the ids renewed, and
    /// the ids of those that were revoked (the rest of the unrenewed expired or are unknown).
    pub async fn renew_secrets(
        &self,
        secrets: &[LeaseSecret],
        expires_at: i64,
        now: i64,
    ) -> Result<(Vec<String>, Vec<String>), BrokerError> {
        let (ids, revoked) = self.ids_of(secrets).await?;
        let renewed = self
            .store
            .renew_leases(&ids, expires_at, now)
            .await
            .map_err(internal)?;
        let mut map = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        for cached in map.values_mut().filter(|c| renewed.contains(&c.lease.id)) {
            cached.lease.expires_at = expires_at;
        }
        Ok((renewed, revoked))
    }

    /// The live leases (of `shop_id`, if given) at `now`, newest first, `limit` after the
    /// first `offset`; and the offset to continue from, if more are left.
    pub async fn list(
        &self,
        shop_id: Option<&str>,
        offset: usize,
        limit: usize,
        now: i64,
    ) -> Result<(Vec<broker_proto::LeaseInfo>, Option<u64>), BrokerError> {
        let records = self
            .store
            .leases(shop_id, false, now)
            .await
            .map_err(internal)?;
        let last_used = self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let page: Vec<_> = records
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| broker_proto::LeaseInfo {
                lease_id: r.id.clone(),
                shop_id: r.shop_id.clone(),
                providers: r.providers.iter().filter_map(|p| p.parse().ok()).collect(),
                holder_uid: r.created_by_uid,
                holder_pid: r.created_by_pid,
                created_at: r.created_at,
                expires_at: r.expires_at,
                last_used_at: last_used.get(&r.id).copied(),
            })
            .collect();
        let seen = offset.saturating_add(page.len());
        let next = (records.len() > seen).then_some(seen as u64);
        Ok((page, next))
    }

    /// Revokes the lease with `secret`. Returns its id.
    pub async fn revoke_secret(
        &self,
        secret: &LeaseSecret,
        now: i64,
    ) -> Result<String, BrokerError> {
        let hash = hash_secret(secret.expose());
        let record = self
            .store
            .lease_by_hash(&hash)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                BrokerError::new(ErrorCode::UnknownLease, "unknown lease: nothing to revoke")
            })?;
        self.revoke_id(&record.id, now).await?;
        Ok(record.id)
    }

    /// Revokes the leases with `secrets` in one write (a server set ends all its servers'
    /// leases at once). Unknown secrets are skipped. Returns the ids revoked.
    pub async fn revoke_secrets(
        &self,
        secrets: &[LeaseSecret],
        now: i64,
    ) -> Result<Vec<String>, BrokerError> {
        let (ids, _) = self.ids_of(secrets).await?;
        self.store
            .revoke_leases(&ids, now)
            .await
            .map_err(internal)?;
        let mut map = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
        for cached in map.values_mut().filter(|c| ids.contains(&c.lease.id)) {
            cached.lease.revoked_at = Some(now);
        }
        Ok(ids)
    }

    /// Revokes the lease `id` (admin).
    pub async fn revoke_id(&self, id: &str, now: i64) -> Result<(), BrokerError> {
        let changed = self.store.revoke_lease(id, now).await.map_err(internal)?;
        let known = {
            let mut map = self.by_hash.lock().unwrap_or_else(PoisonError::into_inner);
            let mut known = false;
            for cached in map.values_mut().filter(|c| c.lease.id == id) {
                cached.lease.revoked_at = Some(now);
                known = true;
            }
            known
        };
        if !changed
            && !known
            && self
                .store
                .leases(None, true, now)
                .await
                .map_err(internal)?
                .iter()
                .all(|l| l.id != id)
        {
            return Err(BrokerError::new(
                ErrorCode::UnknownLease,
                format!("no lease {id}"),
            ));
        }
        Ok(())
    }

    /// Drops expired entries from the in-memory cache.
    pub fn evict_expired(&self, now: i64) {
        self.by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, c| c.lease.expires_at > now && c.lease.revoked_at.is_none());
        let live: std::collections::HashSet<String> = self
            .by_hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|c| c.lease.id.clone())
            .collect();
        self.last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| live.contains(id));
    }
}

/// Shared handle.
pub type Leases = Arc<LeaseBook>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("bbl_") && a.len() == 4 + 43, "{a}");
        assert_eq!(hash_secret("x").len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert!(new_id().starts_with("lease_"));
    }
}
