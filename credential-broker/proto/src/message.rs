//! The closed vocabulary: every [`Request`] a client may send, every [`Response`] the broker
//! gives, and their payloads.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::secret::secret_serde;
use crate::{
    BrokerError, HealthReport, HostKey, LeaseSecret, Provider, ProviderQuota, QuotaReading, ShopKey,
};

/// A shop key as an operator or the gateway sees it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopKeyInfo {
    /// `key_…`.
    pub key_id: String,
    /// The one shop it reaches.
    pub shop_id: String,
    /// The sources it may use.
    pub providers: Vec<Provider>,
    /// What the operator called it.
    pub label: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// An OAuth subject allowed to reach a shop through the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalInfo {
    /// Issuer URL.
    pub issuer: String,
    /// Subject.
    pub subject: String,
    /// The shop.
    pub shop_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Keys per [`Response::KeyList`].
pub const MAX_KEYS_PER_LIST: usize = 200;

/// A request to the broker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// First message of every connection.
    Hello {
        /// The client's [`PROTOCOL_VERSION`].
        version: u32,
    },
    /// Admin only: a lease for one shop and some providers.
    CreateLease {
        /// The shop (`sources_shop.id`).
        shop_id: String,
        /// Providers the lease may get tokens for.
        providers: Vec<Provider>,
        /// Lifetime in seconds (the broker caps it).
        ttl_secs: u64,
    },
    /// Ends a lease (admin, or whoever holds the secret).
    RevokeLease {
        /// The lease.
        lease: LeaseSecret,
    },
    /// Ends several leases at once (whoever holds their secrets; at most
    /// [`MAX_LEASES_PER_REQUEST`]): a server set's leases when it stops.
    RevokeLeases {
        /// The leases.
        leases: Vec<LeaseSecret>,
    },
    /// Admin only: ends the lease with this id (`lease_…`), e.g. one a crashed process held.
    RevokeLeaseId {
        /// The lease's id.
        lease_id: String,
    },
    /// Admin or a proven host: one lease per granted provider of one shop, so each server
    /// process can be handed a lease for its own provider only.
    CreateLeases {
        /// The shop (`sources_shop.id`).
        shop_id: String,
        /// Providers to lease, one lease each.
        providers: Vec<Provider>,
        /// Lifetime in seconds (the broker caps it).
        ttl_secs: u64,
    },
    /// Proves this connection belongs to an agent host (see [`HostKey`]); answered by
    /// [`Response::Host`], after which the connection may do what admins may with leases.
    ProveHost {
        /// The host key.
        key: HostKey,
    },
    /// An access token for `provider` of the lease's shop.
    GetToken {
        /// The lease.
        lease: LeaseSecret,
        /// Which provider.
        provider: Provider,
        /// The shop the caller serves; refused if the lease is for another shop.
        shop_id: String,
        /// The W3C `traceparent` of the call that needs the token: the broker continues that
        /// trace and writes its id into the audit row. Optional; a malformed value is ignored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traceparent: Option<String>,
    },
    /// The upstream refused (HTTP 401) a token this broker handed out, before its expiry
    /// (rotation, a password change, an early revocation). The broker drops that token and
    /// refreshes once for all callers, then answers with [`Response::Token`]; the token itself
    /// never travels back, only its [`token_fingerprint`].
    TokenRejected {
        /// The lease.
        lease: LeaseSecret,
        /// Which provider.
        provider: Provider,
        /// The shop the caller serves.
        shop_id: String,
        /// [`token_fingerprint`] of the refused token.
        fingerprint: String,
        /// As in [`Request::GetToken`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traceparent: Option<String>,
    },
    /// What a server saw of its upstream's quota for the lease's shop (the lease must cover
    /// `provider`); answered by [`Response::QuotaNoted`]. An older broker refuses it as a bad
    /// request, which servers ignore.
    ReportQuota {
        /// The lease.
        lease: LeaseSecret,
        /// Which provider.
        provider: Provider,
        /// The shop the caller serves.
        shop_id: String,
        /// The reading.
        reading: QuotaReading,
    },
    /// Admin or a proven host: the latest current quota readings of a shop, one per provider;
    /// answered by [`Response::Quotas`].
    Quotas {
        /// The shop.
        shop_id: String,
    },
    /// Admin only: refresh every active integration of one shop (or all) now, in integration
    /// id order, [`MAX_REFRESH_PER_REQUEST`] per request; answered by [`Response::Refreshed`].
    Refresh {
        /// Only this shop.
        shop_id: Option<String>,
        /// Continue after this integration id (the previous answer's `next`).
        after: Option<i64>,
    },
    /// Admin or a proven host: extends live leases to `ttl_secs` from now (capped). An agent
    /// host keeps its sets' short leases alive this way, so leases of a host that died end
    /// within one lifetime.
    RenewLeases {
        /// The leases (at most [`MAX_LEASES_PER_REQUEST`]).
        leases: Vec<LeaseSecret>,
        /// New lifetime from now, seconds.
        ttl_secs: u64,
    },
    /// Admin only: the live leases (of one shop, if given), [`MAX_LEASES_PER_LIST`] per
    /// request, newest first; answered by [`Response::LeaseList`].
    ListLeases {
        /// Only this shop.
        shop_id: Option<String>,
        /// Continue after this many leases (the previous answer's `next`).
        offset: Option<u64>,
    },
    /// Admin only: a shop key (answered by [`Response::KeyCreated`], the only time the key
    /// is ever shown).
    CreateKey {
        /// The shop.
        shop_id: String,
        /// The sources it may use (empty: all four).
        providers: Vec<Provider>,
        /// Lifetime in seconds.
        ttl_secs: u64,
        /// What the operator calls it.
        label: Option<String>,
    },
    /// Admin only: live keys (of one shop, if given), [`MAX_KEYS_PER_LIST`] per request,
    /// newest first.
    ListKeys {
        /// Only this shop.
        shop_id: Option<String>,
        /// Continue after this many keys (the previous answer's `next`).
        offset: Option<u64>,
    },
    /// Admin only: ends the key with this id (`key_…`).
    RevokeKey {
        /// The key's id.
        key_id: String,
    },
    /// Whoever holds a shop key: a lease for one provider of the key's shop (answered by
    /// [`Response::Lease`]), living no longer than the key. A server started with `--shop-id`
    /// and a key leases for itself this way, and again when its lease ends.
    LeaseByKey {
        /// The key.
        key: ShopKey,
        /// The shop the caller serves; refused if the key is for another.
        shop_id: String,
        /// The one provider.
        provider: Provider,
        /// Lifetime in seconds (capped by the broker and by the key's own expiry).
        ttl_secs: u64,
    },
    /// Admin or a proven host (the gateway): which shop and sources a presented key reaches;
    /// answered by [`Response::Key`], or `UnknownKey` for a key that is unknown, revoked or
    /// expired alike.
    CheckKey {
        /// The key a caller presented.
        key: ShopKey,
    },
    /// Admin only: lets (or, with `allowed: false`, stops) an OAuth subject reach a shop
    /// through the gateway; answered by [`Response::PrincipalSet`].
    SetPrincipal {
        /// The authorization server's issuer URL, as in the tokens' `iss`.
        issuer: String,
        /// The token's `sub`.
        subject: String,
        /// The shop.
        shop_id: String,
        /// Allow (true) or stop (false).
        allowed: bool,
    },
    /// Admin only: every subject and the shops it may reach.
    ListPrincipals,
    /// Admin or a proven host (the gateway): the shops an OAuth subject may reach.
    PrincipalShops {
        /// The token's `iss`.
        issuer: String,
        /// The token's `sub`.
        subject: String,
    },
    /// Liveness check.
    Ping,
    /// Admin only: integration health across shops (stale tokens, missing scopes,
    /// reconnections, expiring Meta tokens, coverage). Lists are cut to fit one frame;
    /// [`HealthReport::omitted`] says how much.
    Health {
        /// Flag tokens not refreshed for this many days.
        stale_days: u32,
    },
}

/// The broker's answer to one [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    /// Answer to `Hello`.
    Hello {
        /// The broker's protocol version.
        version: u32,
        /// The broker's build, for diagnostics.
        broker: String,
    },
    /// A lease was created.
    Lease(LeaseGrant),
    /// One lease per provider.
    Leases(LeaseSet),
    /// The host key was accepted for this connection.
    Host,
    /// Leases were revoked (answer to `RevokeLeases`).
    RevokedAll {
        /// Their ids (unknown secrets are left out).
        lease_ids: Vec<String>,
    },
    /// A lease was revoked.
    Revoked {
        /// Its id.
        lease_id: String,
    },
    /// An access token.
    Token(TokenGrant),
    /// Answer to `Refresh`.
    Refreshed {
        /// One line per integration refreshed.
        results: Vec<RefreshResult>,
        /// Ask again with `after: next` for the rest; `None` when done.
        next: Option<i64>,
    },
    /// Answer to `RenewLeases`.
    Renewed {
        /// The leases renewed (unknown, revoked or expired ones are left out).
        lease_ids: Vec<String>,
        /// Their new expiry, Unix seconds.
        expires_at: i64,
        /// Of the leases not renewed, those an admin revoked (the others expired or are
        /// unknown): a holder may replace an expired lease, never a revoked one.
        #[serde(default)]
        revoked: Vec<String>,
    },
    /// Answer to `ListLeases`.
    LeaseList {
        /// The leases.
        leases: Vec<LeaseInfo>,
        /// Ask again with `offset: next` for more; `None` when done.
        next: Option<u64>,
    },
    /// A key was created: shown this once.
    KeyCreated {
        /// What it is.
        info: ShopKeyInfo,
        /// The key.
        key: ShopKey,
    },
    /// Answer to `ListKeys`.
    KeyList {
        /// The keys.
        keys: Vec<ShopKeyInfo>,
        /// Ask again with `offset: next` for more; `None` when done.
        next: Option<u64>,
    },
    /// Answer to `RevokeKey`.
    KeyRevoked {
        /// Its id.
        key_id: String,
    },
    /// Answer to `CheckKey`: what the key reaches.
    Key(ShopKeyInfo),
    /// Answer to `SetPrincipal`: whether anything changed.
    PrincipalSet {
        /// False when it was already so.
        changed: bool,
    },
    /// Answer to `ListPrincipals`.
    Principals {
        /// One per (issuer, subject, shop).
        principals: Vec<PrincipalInfo>,
    },
    /// Answer to `PrincipalShops`.
    PrincipalShops {
        /// The shops, sorted; empty when the subject may reach none.
        shop_ids: Vec<String>,
    },
    /// Answer to `Ping`.
    Pong,
    /// Answer to `ReportQuota`.
    QuotaNoted,
    /// Answer to `Quotas`.
    Quotas {
        /// Current readings, one per provider that reported one.
        readings: Vec<ProviderQuota>,
    },
    /// Answer to `Health`.
    Health(Box<HealthReport>),
    /// The request failed.
    Error(BrokerError),
}

/// What a [`Request::RenewLeases`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewal {
    /// The leases renewed.
    pub renewed: Vec<String>,
    /// Their new expiry, Unix seconds.
    pub expires_at: i64,
    /// Of the others, those an admin revoked.
    pub revoked: Vec<String>,
}

/// Leases per [`Response::LeaseList`] (one frame holds them easily).
pub const MAX_LEASES_PER_LIST: usize = 200;

/// A live lease, as an operator sees it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseInfo {
    /// `lease_…`.
    pub lease_id: String,
    /// The shop.
    pub shop_id: String,
    /// What it covers.
    pub providers: Vec<Provider>,
    /// Uid of the process that created it.
    pub holder_uid: u32,
    /// Pid of the process that created it, when known.
    pub holder_pid: Option<u32>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Last token vended under it since this broker started, Unix seconds.
    pub last_used_at: Option<i64>,
}

/// Integrations refreshed per [`Request::Refresh`]: each may call a token endpoint, so a page
/// stays short enough to answer within a client's patience.
pub const MAX_REFRESH_PER_REQUEST: usize = 25;

/// What refreshing one integration gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshResult {
    /// `importers_integration.id`.
    pub integration_id: i64,
    /// The shop.
    pub shop_id: String,
    /// The provider.
    pub provider: Provider,
    /// When the token now expires (Unix seconds); `None` for a token that does not expire
    /// (a Meta system-user token) or when the refresh failed.
    pub expires_at: Option<i64>,
    /// The stored token stays as it was: nothing here can renew it (a Meta token without a
    /// Meta app to extend it), so it lapses at `expires_at` unless the shop reconnects.
    #[serde(default)]
    pub kept: bool,
    /// Why it failed, if it did.
    pub error: Option<BrokerError>,
}

/// A new lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseGrant {
    /// The secret to present in `GetToken`. Shown once.
    pub lease: LeaseSecret,
    /// A non-secret id for logs and audit.
    pub lease_id: String,
    /// The shop.
    pub shop_id: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Providers the shop has a usable integration for.
    pub granted: Vec<Provider>,
    /// Providers asked for that the shop lacks, and why.
    pub missing: Vec<MissingProvider>,
    /// The account of each granted provider (property, customer, ad account, site) — not
    /// secret, so whoever starts the servers can say what they read without a token.
    #[serde(default)]
    pub accounts: Vec<ProviderAccount>,
}

/// Leases for one shop, one per provider (the answer to [`Request::CreateLeases`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSet {
    /// The shop.
    pub shop_id: String,
    /// Expiry of every lease, Unix seconds.
    pub expires_at: i64,
    /// One lease per granted provider.
    pub leases: Vec<ProviderLease>,
    /// Providers asked for that the shop lacks, and why.
    pub missing: Vec<MissingProvider>,
}

/// A lease that covers one provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderLease {
    /// The provider, the only one the lease covers.
    pub provider: Provider,
    /// The secret. Shown once.
    pub lease: LeaseSecret,
    /// A non-secret id for logs and audit.
    pub lease_id: String,
    /// The account the provider reads (not secret).
    pub account: Account,
}

/// The account a granted provider reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAccount {
    /// The provider.
    pub provider: Provider,
    /// Its account ids.
    pub account: Account,
}

/// A provider a lease could not cover.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingProvider {
    /// The provider.
    pub provider: Provider,
    /// Why.
    pub error: BrokerError,
}

/// An access token and the account it reaches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenGrant {
    /// Bearer token for the upstream API.
    #[serde(with = "secret_serde")]
    pub access_token: SecretString,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// The provider.
    pub provider: Provider,
    /// The shop.
    pub shop_id: String,
    /// The integration's account ids, defaults for the tools.
    pub account: Account,
    /// Meta: `appsecret_proof` for this token (HMAC-SHA256 of it under the app secret, hex),
    /// when the broker holds the Meta app's secret; sent with every Graph call. The app secret
    /// itself never leaves the broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appsecret_proof: Option<String>,
}

/// Account ids stored with an integration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// GA4 property id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_id: Option<String>,
    /// Google Ads customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Google Ads manager (MCC) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_customer_id: Option<String>,
    /// Meta ad account id (`act_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_account_id: Option<String>,
    /// Search Console property (`sc-domain:…` or a URL prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_url: Option<String>,
}

impl Account {
    /// The account `provider` reads, when the integration names one in that provider's form: a
    /// GA4 property number (`123`, `properties/123`), a Search Console property
    /// (`sc-domain:example.com`, `https://www.example.com/`), a 10-digit Google Ads customer, a
    /// Meta ad account (`act_123` or `123`). Anything else — empty, `0`, `act_` — names none.
    pub fn id_for(&self, provider: Provider) -> Option<&str> {
        let id = match provider {
            Provider::Ga4 => &self.property_id,
            Provider::Gsc => &self.property_url,
            Provider::GoogleAds => &self.customer_id,
            Provider::MetaAds => &self.ad_account_id,
        };
        let id = id.as_deref().map(str::trim)?;
        let number = |s: &str| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.bytes().any(|b| b != b'0')
        };
        let well_formed = match provider {
            Provider::Ga4 => number(id.strip_prefix("properties/").unwrap_or(id)),
            Provider::Gsc => match id.strip_prefix("sc-domain:") {
                Some(domain) => domain.contains('.') && !domain.contains(['/', ' ']),
                None => {
                    (id.starts_with("https://") || id.starts_with("http://"))
                        && id.ends_with('/')
                        && id.split("://").nth(1).is_some_and(|h| h.len() > 1)
                }
            },
            Provider::GoogleAds => id.len() == 10 && number(id),
            Provider::MetaAds => number(id.strip_prefix("act_").unwrap_or(id)),
        };
        well_formed.then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_debug_printed() {
        let lease = LeaseSecret::new("bbl_very-secret-lease-value".into());
        let r = Request::GetToken {
            lease,
            provider: Provider::Ga4,
            shop_id: "s".into(),
            traceparent: None,
        };
        let debug = format!("{r:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        let grant = TokenGrant {
            access_token: SecretString::from("ya29.sandbox.secret-token".to_owned()),
            expires_at: 0,
            provider: Provider::Ga4,
            shop_id: "s".into(),
            account: Account::default(),
            appsecret_proof: None,
        };
        assert!(!format!("{grant:?}").contains("secret-token"));
    }

    #[test]
    fn requests_round_trip_as_tagged_json() {
        let r = Request::CreateLease {
            shop_id: "s".into(),
            providers: vec![Provider::Ga4, Provider::MetaAds],
            ttl_secs: 60,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"op":"create_lease","shop_id":"s","providers":["ga4","meta_ads"],"ttl_secs":60}"#
        );
        assert!(matches!(
            serde_json::from_str::<Request>(&json).unwrap(),
            Request::CreateLease { .. }
        ));
        assert!(serde_json::from_str::<Request>(r#"{"op":"drop_tables"}"#).is_err());
        assert!(
            serde_json::from_str::<Request>(r#"{"op":"hello","version":1,"extra":1}"#).is_err()
        );
    }
}
