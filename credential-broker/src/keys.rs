//! Shop keys (`bbk_…`): long-lived credentials that reach one shop's tools through the gateway.
//! Only their SHA-256 is stored. Every check reads the row (an indexed lookup), so a key revoked
//! through one broker is refused by every broker on the same database on the next check.

use std::time::Duration;

use broker_proto::{BrokerError, ErrorCode, PrincipalInfo, Provider, ShopKey, ShopKeyInfo};

use crate::leases::hash_secret;
use crate::store::{ShopKeyRecord, Store, StoreError};

/// The longest a key may live.
pub const MAX_KEY_TTL: Duration = Duration::from_secs(400 * 86_400);
/// The shortest a key may live.
pub const MIN_KEY_TTL: Duration = Duration::from_secs(60);

/// Creates, lists, revokes and checks shop keys.
pub struct KeyBook {
    store: Store,
}

fn internal(e: StoreError) -> BrokerError {
    tracing::error!("shop key store: {e}");
    BrokerError::new(
        ErrorCode::Internal,
        "the credential broker's store failed; see its log",
    )
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn new_key() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    format!(
        "bbk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn info(r: &ShopKeyRecord) -> ShopKeyInfo {
    ShopKeyInfo {
        key_id: r.id.clone(),
        shop_id: r.shop_id.clone(),
        providers: r
            .providers
            .iter()
            .filter_map(|p| p.parse::<Provider>().ok())
            .collect(),
        label: r.label.clone(),
        created_at: r.created_at,
        expires_at: r.expires_at,
    }
}

impl KeyBook {
    /// Keys in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// A new key for `shop_id` (which must exist) and `providers` (empty: all four).
    pub async fn create(
        &self,
        shop_id: &str,
        providers: &[Provider],
        ttl: Duration,
        label: Option<String>,
        created_by_uid: u32,
        now: i64,
    ) -> Result<(ShopKeyInfo, ShopKey), BrokerError> {
        if !(MIN_KEY_TTL..=MAX_KEY_TTL).contains(&ttl) {
            return Err(BrokerError::new(
                ErrorCode::BadRequest,
                format!(
                    "a shop key lives from {} seconds to {} days",
                    MIN_KEY_TTL.as_secs(),
                    MAX_KEY_TTL.as_secs() / 86_400
                ),
            ));
        }
        if let Some(l) = &label
            && (l.chars().count() > 200 || l.chars().any(char::is_control))
        {
            return Err(BrokerError::new(
                ErrorCode::BadRequest,
                "a key's label is at most 200 printable characters",
            ));
        }
        if self.store.shop(shop_id).await.map_err(internal)?.is_none() {
            return Err(BrokerError::new(
                ErrorCode::UnknownShop,
                format!("unknown shop {shop_id}: no such shop in the dashboard database"),
            ));
        }
        let providers: Vec<Provider> = if providers.is_empty() {
            Provider::ALL.to_vec()
        } else {
            let mut p = providers.to_vec();
            p.sort();
            p.dedup();
            p
        };
        let key = new_key();
        let record = ShopKeyRecord {
            id: format!("key_{}", random_hex(8)),
            key_hash: hash_secret(&key),
            shop_id: shop_id.to_owned(),
            providers: providers.iter().map(|p| p.as_str().to_owned()).collect(),
            label,
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            revoked_at: None,
            created_by_uid,
        };
        self.store
            .insert_shop_key(&record)
            .await
            .map_err(internal)?;
        redaction::learn(&key);
        Ok((info(&record), ShopKey::new(key)))
    }

    /// Live keys (of one shop), from `offset`, at most `limit`; and the offset of the rest.
    pub async fn list(
        &self,
        shop_id: Option<&str>,
        offset: usize,
        limit: usize,
        now: i64,
    ) -> Result<(Vec<ShopKeyInfo>, Option<u64>), BrokerError> {
        let all = self
            .store
            .live_shop_keys(shop_id, now)
            .await
            .map_err(internal)?;
        let page: Vec<ShopKeyInfo> = all.iter().skip(offset).take(limit).map(info).collect();
        let end = offset.saturating_add(page.len());
        Ok((page, (end < all.len()).then_some(end as u64)))
    }

    /// Ends key `id`.
    pub async fn revoke(&self, id: &str, now: i64) -> Result<(), BrokerError> {
        if self
            .store
            .revoke_shop_key(id, now)
            .await
            .map_err(internal)?
        {
            Ok(())
        } else {
            Err(BrokerError::new(
                ErrorCode::UnknownKey,
                format!("no live shop key {id}"),
            ))
        }
    }

    /// Notes that `lease_id` was made with key `key_id`.
    pub async fn link_lease(&self, lease_id: &str, key_id: &str) -> Result<(), BrokerError> {
        self.store
            .link_key_lease(lease_id, key_id)
            .await
            .map_err(internal)
    }

    /// What `key` reaches; one error for unknown, revoked and expired keys.
    pub async fn check(&self, key: &ShopKey, now: i64) -> Result<ShopKeyInfo, BrokerError> {
        let unknown = || {
            BrokerError::new(
                ErrorCode::UnknownKey,
                "unknown, revoked or expired shop key",
            )
        };
        // Only our own shape is ever looked up (and hashed): anything else is refused at once.
        if !key.expose().starts_with("bbk_") || key.expose().len() > 128 {
            return Err(unknown());
        }
        let record = self
            .store
            .shop_key_by_hash(&hash_secret(key.expose()))
            .await
            .map_err(internal)?
            .ok_or_else(unknown)?;
        if record.revoked_at.is_some() || record.expires_at <= now {
            return Err(unknown());
        }
        Ok(info(&record))
    }

    /// Lets (or stops) `subject` of `issuer` reach `shop_id` (which must exist to be added).
    pub async fn set_principal(
        &self,
        issuer: &str,
        subject: &str,
        shop_id: &str,
        allowed: bool,
        now: i64,
    ) -> Result<bool, BrokerError> {
        let bad = |what: &str| BrokerError::new(ErrorCode::BadRequest, what.to_owned());
        if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
            || issuer.len() > 500
            || issuer.chars().any(char::is_control)
        {
            return Err(bad(
                "the issuer is the authorization server's URL, as in the tokens' iss",
            ));
        }
        if subject.is_empty() || subject.len() > 500 || subject.chars().any(char::is_control) {
            return Err(bad(
                "the subject is the tokens' sub: 1 to 500 printable characters",
            ));
        }
        if !allowed {
            return self
                .store
                .remove_principal(issuer, subject, shop_id)
                .await
                .map_err(internal);
        }
        if self.store.shop(shop_id).await.map_err(internal)?.is_none() {
            return Err(BrokerError::new(
                ErrorCode::UnknownShop,
                format!("unknown shop {shop_id}: no such shop in the dashboard database"),
            ));
        }
        self.store
            .add_principal(issuer, subject, shop_id, now)
            .await
            .map_err(internal)
    }

    /// Every allowed (issuer, subject, shop).
    pub async fn principals(&self) -> Result<Vec<PrincipalInfo>, BrokerError> {
        Ok(self
            .store
            .principals()
            .await
            .map_err(internal)?
            .into_iter()
            .map(|(issuer, subject, shop_id, created_at)| PrincipalInfo {
                issuer,
                subject,
                shop_id,
                created_at,
            })
            .collect())
    }

    /// The shops `subject` of `issuer` may reach.
    pub async fn principal_shops(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<String>, BrokerError> {
        self.store
            .principal_shops(issuer, subject)
            .await
            .map_err(internal)
    }
}
