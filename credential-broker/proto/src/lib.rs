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
//! - [`Request`], [`Response`] and their payloads: this file.
//! - [`frame`]: encoding and decoding frames and messages (sans-IO, fuzzed by property tests).
//! - [`client`]: an async client over the socket; [`blocking`]: a revoke for clean-up paths.

#![deny(missing_docs)]

pub mod blocking;
pub mod client;
pub mod frame;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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

/// An upstream data source a lease can cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Google Analytics 4.
    Ga4,
    /// Google Search Console.
    Gsc,
    /// Google Ads.
    GoogleAds,
    /// Meta (Facebook/Instagram) Ads.
    MetaAds,
}

impl Provider {
    /// All providers, in display order.
    pub const ALL: [Provider; 4] = [
        Provider::Ga4,
        Provider::Gsc,
        Provider::GoogleAds,
        Provider::MetaAds,
    ];

    /// The name used on the command line and in JSON: `ga4`, `gsc`, `google_ads`, `meta_ads`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Ga4 => "ga4",
            Provider::Gsc => "gsc",
            Provider::GoogleAds => "google_ads",
            Provider::MetaAds => "meta_ads",
        }
    }

    /// The product name users know, as the dashboard and the old system's messages say it.
    pub fn service_name(self) -> &'static str {
        match self {
            Provider::Ga4 => "Google Analytics",
            Provider::Gsc => "Google Search Console",
            Provider::GoogleAds => "Google Ads",
            Provider::MetaAds => "Meta Ads",
        }
    }

    /// What the integration's account is called in the dashboard: the thing a client picks
    /// after signing in (`"property"`, `"customer account"`, `"ad account"`).
    pub fn account_noun(self) -> &'static str {
        match self {
            Provider::Ga4 | Provider::Gsc => "property",
            Provider::GoogleAds => "customer account",
            Provider::MetaAds => "ad account",
        }
    }

    /// The read scope (or Meta permission) the integration must have been granted.
    pub fn required_scope(self) -> &'static str {
        match self {
            Provider::Ga4 => "analytics.readonly",
            Provider::Gsc => "webmasters.readonly",
            Provider::GoogleAds => "adwords",
            Provider::MetaAds => "ads_read",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: use ga4, gsc, google_ads or meta_ads")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "ga4" | "google_analytics" => Ok(Provider::Ga4),
            "gsc" | "search_console" | "google_search_console" => Ok(Provider::Gsc),
            "google_ads" | "ads" => Ok(Provider::GoogleAds),
            "meta_ads" | "meta" | "facebook_ads" => Ok(Provider::MetaAds),
            _ => Err(UnknownProvider(s.to_owned())),
        }
    }
}

/// Serialises a `SecretString` (secrecy deliberately does not): only for the socket, which is
/// the one place these values are meant to travel.
mod secret_serde {
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

/// A short, non-secret fingerprint of an access token (16 hex digits of its SHA-256), by which
/// a server names a token the upstream refused without sending the token back.
pub fn token_fingerprint(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
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

/// What went wrong, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame or message could not be understood.
    BadRequest,
    /// `Hello` with a version this broker does not speak, or a request before `Hello`.
    UnsupportedVersion,
    /// The peer may not make this request (not an admin uid).
    NotPermitted,
    /// No such shop.
    UnknownShop,
    /// The shop has no integration for the provider.
    NoIntegration,
    /// The integration exists but is inactive or deleted.
    IntegrationInactive,
    /// The integration lacks the required scope/permission.
    MissingScope,
    /// The integration names no account (property, site, customer, ad account): the client
    /// has not finished connecting it, so it grants nothing.
    NoAccount,
    /// The grant was revoked or expired: the shop must reconnect.
    ReconnectRequired,
    /// The lease expired.
    LeaseExpired,
    /// The lease was revoked.
    LeaseRevoked,
    /// No such lease.
    UnknownLease,
    /// A shop key that is unknown, revoked or expired (one answer for all three, so a guesser
    /// learns nothing).
    UnknownKey,
    /// The lease does not cover this provider.
    WrongProvider,
    /// The lease is for another shop.
    WrongShop,
    /// The upstream refused the stored token and the broker could not replace it (a Meta
    /// token without an app configured to renew it, or one refused again right after its
    /// replacement).
    TokenRejected,
    /// The token endpoint is unreachable or failing; retry later.
    Unavailable,
    /// A broker bug or store failure.
    Internal,
}

/// Integration health: what an operator should look at. Never holds a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthReport {
    /// Shops in the database.
    pub shops: u64,
    /// Active integrations per provider (`ga4`, `gsc`, …).
    pub counts_by_type: BTreeMap<String, u64>,
    /// Integrations not refreshed for the requested number of days.
    pub stale_tokens: Vec<HealthItem>,
    /// Integrations granted without the read scope their provider needs.
    pub missing_scopes: Vec<HealthItem>,
    /// Integrations whose grant was revoked or expired.
    pub needs_reconnect: Vec<HealthItem>,
    /// Integrations without their account (no property, site, customer or ad account
    /// selected): they grant nothing until the client finishes connecting them.
    #[serde(default)]
    pub missing_accounts: Vec<HealthItem>,
    /// Meta tokens expiring within [`META_EXPIRY_WARNING_DAYS`] (that the broker cannot
    /// extend: with a Meta app it extends them first).
    pub meta_tokens_expiring: Vec<HealthItem>,
    /// Per provider, the shops without it.
    pub shops_without: BTreeMap<String, Vec<String>>,
    /// Per list (`stale_tokens`, `shops_without.meta_ads`, …), items cut to fit a frame.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub omitted: BTreeMap<String, u64>,
    /// The names of the shops the lists mention, by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shop_names: BTreeMap<String, String>,
}

/// One integration that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthItem {
    /// The shop.
    pub shop_id: String,
    /// The provider.
    pub provider: Provider,
    /// The integration's row id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<i64>,
    /// When it was last updated (RFC 3339): for stale tokens, the last refresh; for those that
    /// need reconnection, when the token endpoint refused the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// The scope it lacks, for missing scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    /// When the token expires (RFC 3339), for expiring Meta tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl HealthReport {
    /// Items that need attention (counting those cut from the lists).
    pub fn problems(&self) -> u64 {
        let listed = self.stale_tokens.len()
            + self.missing_scopes.len()
            + self.needs_reconnect.len()
            + self.missing_accounts.len()
            + self.meta_tokens_expiring.len();
        let cut: u64 = [
            "stale_tokens",
            "missing_scopes",
            "needs_reconnect",
            "missing_accounts",
            "meta_tokens_expiring",
        ]
        .iter()
        .filter_map(|k| self.omitted.get(*k))
        .sum();
        listed as u64 + cut
    }

    /// Cuts every list to at most `max` items, recording what was cut in `omitted`.
    pub fn truncate(&mut self, max: usize) {
        let mut cut = |name: String, len: usize| {
            if len > max {
                *self.omitted.entry(name).or_default() += (len - max) as u64;
            }
        };
        for (name, list) in [
            ("stale_tokens", &mut self.stale_tokens),
            ("missing_scopes", &mut self.missing_scopes),
            ("needs_reconnect", &mut self.needs_reconnect),
            ("missing_accounts", &mut self.missing_accounts),
            ("meta_tokens_expiring", &mut self.meta_tokens_expiring),
        ] {
            cut(name.to_owned(), list.len());
            list.truncate(max);
        }
        for (provider, shops) in &mut self.shops_without {
            cut(format!("shops_without.{provider}"), shops.len());
            shops.truncate(max);
        }
        // Names only of the shops still listed.
        let listed: std::collections::BTreeSet<&String> = [
            &self.stale_tokens,
            &self.missing_scopes,
            &self.needs_reconnect,
            &self.missing_accounts,
            &self.meta_tokens_expiring,
        ]
        .into_iter()
        .flatten()
        .map(|i| &i.shop_id)
        .chain(self.shops_without.values().flatten())
        .collect();
        let keep: std::collections::BTreeSet<String> = listed.into_iter().cloned().collect();
        self.shop_names.retain(|id, _| keep.contains(id));
    }

    /// The report for people; `stale_days` is the threshold it was made with.
    pub fn to_text(&self, stale_days: u32) -> String {
        use std::fmt::Write as _;
        let mut s = format!(
            "{} shop(s); active integrations by type: {}\n",
            self.shops,
            self.counts_by_type
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let names = &self.shop_names;
        let shop = |id: &str| match names.get(id) {
            Some(name) => format!("{name} ({id})"),
            None => id.to_owned(),
        };
        let day = |rfc3339: &Option<String>| {
            rfc3339
                .as_deref()
                .map(|t| t.get(..10).unwrap_or(t).to_owned())
        };
        let mut section = |title: &str, key: &str, items: &[HealthItem]| {
            let more = self.omitted.get(key).copied().unwrap_or(0);
            let _ = writeln!(s, "\n{title}: {}", items.len() as u64 + more);
            for i in items {
                let detail = match key {
                    "stale_tokens" => day(&i.updated).map(|d| format!(" — last refreshed {d}")),
                    "needs_reconnect" => day(&i.updated).map(|d| format!(" — grant refused {d}")),
                    "missing_scopes" => i
                        .required
                        .as_ref()
                        .map(|r| format!(" — lacks the {r} permission; reconnect and grant it")),
                    "meta_tokens_expiring" => day(&i.expires_at).map(|d| format!(" — expires {d}")),
                    "missing_accounts" => {
                        Some(format!(" — no {} selected", i.provider.account_noun()))
                    }
                    _ => None,
                };
                let _ = writeln!(
                    s,
                    "  {} {}{}",
                    shop(&i.shop_id),
                    i.provider.service_name(),
                    detail.unwrap_or_default()
                );
            }
            if more > 0 {
                let _ = writeln!(s, "  … and {more} more");
            }
        };
        section(
            &format!("Tokens not refreshed in {stale_days} days"),
            "stale_tokens",
            &self.stale_tokens,
        );
        section("Missing scopes", "missing_scopes", &self.missing_scopes);
        section(
            "Need reconnection",
            "needs_reconnect",
            &self.needs_reconnect,
        );
        section(
            "No account selected (grant nothing)",
            "missing_accounts",
            &self.missing_accounts,
        );
        section(
            &format!("Meta tokens expiring within {META_EXPIRY_WARNING_DAYS} days"),
            "meta_tokens_expiring",
            &self.meta_tokens_expiring,
        );
        let _ = writeln!(s, "\nShops without each integration:");
        for (p, list) in &self.shops_without {
            let more = self
                .omitted
                .get(&format!("shops_without.{p}"))
                .copied()
                .unwrap_or(0);
            let _ = writeln!(s, "  {p:<11} {}", list.len() as u64 + more);
            const SHOWN: usize = 10;
            for id in list.iter().take(SHOWN) {
                let _ = writeln!(s, "    {}", shop(id));
            }
            let hidden = (list.len().saturating_sub(SHOWN)) as u64 + more;
            if hidden > 0 {
                let _ = writeln!(s, "    … and {hidden} more (--json lists them)");
            }
        }
        s
    }
}

/// A typed error with a message meant for people (the old system's wording where it had one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{message}")]
pub struct BrokerError {
    /// The kind.
    pub code: ErrorCode,
    /// What happened and what to do.
    pub message: String,
}

impl BrokerError {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// "The Google Analytics integration for shop X has no property selected. Please finish
    /// connecting Google Analytics in the dashboard." — an integration without its account
    /// grants nothing.
    pub fn no_account(provider: Provider, shop_id: &str) -> Self {
        let service = provider.service_name();
        Self::new(
            ErrorCode::NoAccount,
            format!(
                "The {service} integration for shop {shop_id} has no {} selected.\nPlease finish connecting {service} in the dashboard.",
                provider.account_noun()
            ),
        )
    }

    /// "No Google Analytics integration found for shop X. Please connect your Google Analytics
    /// account in the dashboard." — the old system's wording, which users and scripts know.
    pub fn no_integration(provider: Provider, shop_id: &str) -> Self {
        let service = provider.service_name();
        Self::new(
            ErrorCode::NoIntegration,
            format!(
                "No {service} integration found for shop {shop_id}.\nPlease connect your {service} account in the dashboard."
            ),
        )
    }

    /// "The Google Analytics authorization for shop X was revoked or has expired. Please
    /// reconnect …": the token endpoint refused the grant (`invalid_grant`).
    pub fn reconnect_required(provider: Provider, shop_id: &str) -> Self {
        let service = provider.service_name();
        Self::new(
            ErrorCode::ReconnectRequired,
            format!(
                "The {service} authorization for shop {shop_id} was revoked or has expired.\nPlease reconnect your {service} account in the dashboard."
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse_and_print() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert_eq!("Google-Ads".parse::<Provider>(), Ok(Provider::GoogleAds));
        assert!("bing".parse::<Provider>().is_err());
    }

    #[test]
    fn health_reports_cut_to_size_and_still_count_everything() {
        let item = |shop: &str| HealthItem {
            shop_id: shop.into(),
            provider: Provider::Ga4,
            integration_id: Some(1),
            updated: None,
            required: None,
            expires_at: None,
        };
        let mut r = HealthReport {
            shops: 3,
            needs_reconnect: vec![item("a"), item("b"), item("c")],
            shops_without: [(
                "meta_ads".to_owned(),
                vec!["a".into(), "b".into(), "c".into()],
            )]
            .into(),
            shop_names: [
                ("a".to_owned(), "Acme".to_owned()),
                ("z".to_owned(), "Gone".to_owned()),
            ]
            .into(),
            ..HealthReport::default()
        };
        assert_eq!(r.problems(), 3);
        r.truncate(1);
        assert_eq!(
            r.shop_names.keys().collect::<Vec<_>>(),
            ["a"],
            "names only of shops still listed"
        );
        assert_eq!(r.needs_reconnect.len(), 1);
        assert_eq!(r.problems(), 3, "cut items still count");
        assert_eq!(r.omitted["shops_without.meta_ads"], 2);
        let text = r.to_text(30);
        assert!(
            text.contains("Need reconnection: 3\n  Acme (a) Google Analytics\n  … and 2 more"),
            "{text}"
        );
        assert!(
            text.contains("meta_ads    3\n    Acme (a)\n    … and 2 more"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["needs_reconnect"][0]["integration_id"], 1);
        assert!(json["needs_reconnect"][0].get("updated").is_none());
    }

    #[test]
    fn the_guides_wording_for_missing_integrations() {
        assert_eq!(
            BrokerError::no_integration(Provider::Ga4, "non-existent-uuid").message,
            "No Google Analytics integration found for shop non-existent-uuid.\nPlease connect your Google Analytics account in the dashboard."
        );
    }

    #[test]
    fn an_integration_without_its_account_names_what_to_finish() {
        assert_eq!(
            BrokerError::no_account(Provider::Ga4, "shop-c").message,
            "The Google Analytics integration for shop shop-c has no property selected.\nPlease finish connecting Google Analytics in the dashboard."
        );
        assert!(
            BrokerError::no_account(Provider::MetaAds, "s")
                .message
                .contains("has no ad account selected")
        );
        let blank = Account {
            property_id: Some("  ".into()),
            ad_account_id: Some("act_1".into()),
            ..Account::default()
        };
        assert_eq!(blank.id_for(Provider::Ga4), None, "blank is no account");
        assert_eq!(blank.id_for(Provider::Gsc), None);
        assert_eq!(blank.id_for(Provider::MetaAds), Some("act_1"));
        let of = |p: Provider, id: &str| {
            let mut a = Account::default();
            match p {
                Provider::Ga4 => a.property_id = Some(id.into()),
                Provider::Gsc => a.property_url = Some(id.into()),
                Provider::GoogleAds => a.customer_id = Some(id.into()),
                Provider::MetaAds => a.ad_account_id = Some(id.into()),
            }
            a.id_for(p).map(str::to_owned)
        };
        for (p, good) in [
            (Provider::Ga4, "326784853"),
            (Provider::Ga4, "properties/326784853"),
            (Provider::Gsc, "sc-domain:acme-shop.example"),
            (Provider::Gsc, "https://www.example.com/"),
            (Provider::GoogleAds, "1234567890"),
            (Provider::MetaAds, "act_111"),
            (Provider::MetaAds, "111"),
        ] {
            assert_eq!(of(p, good).as_deref(), Some(good), "{p} {good}");
        }
        for (p, bad) in [
            (Provider::Ga4, "0"),
            (Provider::Ga4, "properties/"),
            (Provider::Ga4, "GA-12"),
            (Provider::Gsc, "0"),
            (Provider::Gsc, "sc-domain:"),
            (Provider::Gsc, "https://"),
            (Provider::GoogleAds, "123"),
            (Provider::GoogleAds, "0000000000"),
            (Provider::MetaAds, "act_"),
            (Provider::MetaAds, "act_0"),
        ] {
            assert_eq!(of(p, bad), None, "{p} {bad:?} names no account");
        }
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let lease = LeaseSecret::new("bbl_very-secret-lease-value".into());
        let r = Request::GetToken {
            lease,
            provider: Provider::Ga4,
            shop_id: "s".into(),
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
