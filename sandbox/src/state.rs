//! Shared server state: the immutable fixture view plus the small mutable runtime (issued
//! tokens, revocations, faults, counters) behind one `std::sync::Mutex`.
//!
//! The lock is only ever taken for short, synchronous bookkeeping and never held across an
//! `.await`, so thousands of concurrent requests contend only briefly.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::SandboxConfig;
use crate::ga4::property::Registry;

/// Issued access tokens beyond this count trigger pruning of expired ones.
const TOKEN_PRUNE_THRESHOLD: usize = 50_000;

/// A grant as the server uses it.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Label used in counters and control-plane calls.
    pub name: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The OAuth client it belongs to.
    pub client_id: String,
    /// Full scope URLs.
    pub scopes: Vec<String>,
    /// GA4 property ids it may read.
    pub ga4_properties: Vec<String>,
    /// Whether the fixture declares it revoked.
    pub revoked_in_fixture: bool,
    /// Whether each refresh rotates the refresh token.
    pub rotate_refresh_token: bool,
}

/// A Meta token minted by the long-lived exchange: it reads what the exchanged token read.
#[derive(Debug, Clone)]
pub struct MintedMetaToken {
    /// Name of the fixture token it descends from.
    pub name: String,
    /// Ad accounts it may read.
    pub ad_accounts: Vec<String>,
    /// Expiry.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// One issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// Index into `Shared::grants`.
    pub grant: usize,
    /// Scopes granted to this token.
    pub scopes: Vec<String>,
    /// Natural expiry.
    pub expires_at: Instant,
    /// Set by `/__sandbox/tokens/expire`.
    pub force_expired: bool,
}

/// One injected fault.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// Id returned on creation.
    pub id: u64,
    /// Requests whose path starts with this prefix match.
    pub path_prefix: String,
    /// Optional HTTP method filter (upper case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Status to answer with; `None` only delays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Remaining matches; `None` means until cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// Value for `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Sleep before answering.
    pub delay_ms: u64,
    /// Overrides the default error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Overrides the `ErrorInfo.reason` of a Google error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The retry delay goes only in the body (`RetryInfo`), not in `Retry-After`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retry_in_body_only: bool,
}

/// What a matching fault asks the request to do.
#[derive(Debug, Clone)]
pub struct FaultHit {
    /// Status to answer with; `None` only delays.
    pub status: Option<u16>,
    /// Value for `Retry-After`.
    pub retry_after_secs: Option<u64>,
    /// Sleep before answering.
    pub delay_ms: u64,
    /// Message override.
    pub message: Option<String>,
    /// `ErrorInfo.reason` override.
    pub reason: Option<&'static str>,
    /// No `Retry-After` header: the delay is in the body only.
    pub retry_in_body_only: bool,
}

/// Request counters exposed at `/__sandbox/counters`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// Successful refresh-token grants, by grant name.
    pub token_refreshes: BTreeMap<String, u64>,
    /// Sum of `token_refreshes`.
    pub token_refreshes_total: u64,
    /// Successful Meta `fb_exchange_token` exchanges, by the name of the token exchanged.
    pub meta_exchanges: BTreeMap<String, u64>,
    /// Token requests answered with an OAuth error (faults excluded).
    pub token_failures: u64,
    /// Authenticated API requests that reached a handler, by resource.
    pub api_calls: BTreeMap<String, u64>,
    /// Sum of `api_calls`.
    pub api_calls_total: u64,
    /// The same requests by method, e.g. `analyticsdata.runReport`.
    pub api_calls_by_method: BTreeMap<String, u64>,
    /// Requests answered by an injected fault status.
    pub faulted: u64,
    /// Requests that were delayed by a fault (with or without a status).
    pub delayed: u64,
}

/// Mutable state.
#[derive(Debug, Default)]
pub struct Runtime {
    /// Per grant: revoked now?
    pub revoked: Vec<bool>,
    /// Per grant: the refresh token that works now (differs from the fixture after rotation).
    pub refresh_tokens: Vec<String>,
    /// Per grant: how many times its refresh token was rotated.
    pub rotations: Vec<u64>,
    /// Issued access tokens.
    pub tokens: HashMap<String, IssuedToken>,
    /// Active faults, in creation order.
    pub faults: Vec<Fault>,
    /// Next fault id.
    pub next_fault_id: u64,
    /// Counters.
    pub counters: Counters,
    /// GA4 quota tokens consumed per property in the wall-clock hour `quota_hour`.
    pub quota_used: HashMap<String, u64>,
    /// The hour (since the epoch) `quota_used` counts: GA4's buckets refill as hours pass,
    /// whatever date the sandbox's data pretends it is.
    pub quota_hour: u64,
    /// Set by the control plane (`ga4/quota`): the counts stay as set, however the hour
    /// turns, until a reset (a test about one hour's budget must not see it refilled).
    pub quota_pinned: bool,
    /// Meta tokens minted by `fb_exchange_token`, on top of the fixture's.
    pub meta_minted: HashMap<String, MintedMetaToken>,
    /// Meta revocations, per-account usage and injected throttles.
    pub meta: crate::meta::MetaRuntime,
}

/// Everything a handler needs.
pub struct Shared {
    /// Start-up configuration.
    pub config: SandboxConfig,
    /// Resolved grants.
    pub grants: Vec<Grant>,
    /// Client id → secret.
    pub clients: HashMap<String, String>,
    /// GA4 property metadata.
    pub ga4: Registry,
    /// Search Console properties.
    pub gsc: crate::gsc::site::Registry,
    /// The OAuth authorization server: its signing key (made at start) and flows.
    pub authz: crate::authz::AuthServer,
    runtime: Mutex<Runtime>,
}

/// Cheap-to-clone handle used as axum state.
pub type AppState = Arc<Shared>;

impl Shared {
    /// Builds the state from a validated configuration.
    pub fn new(config: SandboxConfig) -> Self {
        let grants: Vec<Grant> = config
            .fixtures
            .google_grants
            .iter()
            .enumerate()
            .map(|(i, g)| Grant {
                name: g.label(i),
                refresh_token: g.refresh_token.clone(),
                client_id: g.client_id.clone(),
                scopes: g.scopes.clone(),
                ga4_properties: g.ga4_properties.clone(),
                revoked_in_fixture: g.revoked,
                rotate_refresh_token: g.rotate_refresh_token,
            })
            .collect();
        let clients = config
            .fixtures
            .google_clients
            .iter()
            .map(|c| (c.client_id.clone(), c.client_secret.clone()))
            .collect();
        let ga4 = Registry::build(&config.fixtures);
        let gsc = crate::gsc::site::Registry::build(&config.fixtures, &ga4);
        let runtime = Runtime {
            revoked: grants.iter().map(|g| g.revoked_in_fixture).collect(),
            refresh_tokens: grants.iter().map(|g| g.refresh_token.clone()).collect(),
            rotations: vec![0; grants.len()],
            next_fault_id: 1,
            ..Runtime::default()
        };
        Self {
            config,
            grants,
            clients,
            ga4,
            gsc,
            authz: crate::authz::AuthServer::new(),
            runtime: Mutex::new(runtime),
        }
    }

    /// Locks the runtime. A poisoned lock is recovered: the data stays consistent because
    /// every critical section is a few plain assignments.
    pub fn lock(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Grant index by name or by refresh token (the current one, after any rotation; the
    /// fixture's token also names the grant for the control plane).
    pub fn find_grant(&self, name: Option<&str>, refresh_token: Option<&str>) -> Option<usize> {
        let rt = self.lock();
        self.grants.iter().enumerate().position(|(i, g)| {
            name.is_some_and(|n| n == g.name)
                || refresh_token.is_some_and(|t| {
                    t == g.refresh_token || rt.refresh_tokens.get(i).is_some_and(|c| c == t)
                })
        })
    }

    /// Whether `refresh_token` is the one grant `grant` accepts now.
    pub fn refresh_token_current(&self, grant: usize, refresh_token: &str) -> bool {
        self.lock()
            .refresh_tokens
            .get(grant)
            .is_some_and(|c| c == refresh_token)
    }

    /// Rotates the grant's refresh token (when it rotates) and returns the new one.
    pub fn rotate(&self, grant: usize) -> Option<String> {
        let g = self.grants.get(grant).filter(|g| g.rotate_refresh_token)?;
        let mut rt = self.lock();
        let n = rt.rotations.get(grant).copied().unwrap_or(0) + 1;
        let new = format!("{}-rotated-{n}", g.refresh_token);
        if let Some(slot) = rt.refresh_tokens.get_mut(grant) {
            *slot = new.clone();
        }
        if let Some(count) = rt.rotations.get_mut(grant) {
            *count = n;
        }
        Some(new)
    }

    /// Issues a new access token for a grant and counts the refresh.
    pub fn issue_token(&self, grant: usize, scopes: Vec<String>) -> String {
        let token = format!(
            "ya29.sandbox.{}",
            crate::hash::hex(&rand::random::<[u8; 16]>())
        );
        let now = Instant::now();
        let expires_at = now
            .checked_add(self.config.token_ttl)
            .unwrap_or(now + Duration::from_secs(3600 * 24 * 365));
        let name = self
            .grants
            .get(grant)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        let mut rt = self.lock();
        if rt.tokens.len() >= TOKEN_PRUNE_THRESHOLD {
            rt.tokens
                .retain(|_, t| !t.force_expired && t.expires_at > now);
        }
        rt.tokens.insert(
            token.clone(),
            IssuedToken {
                grant,
                scopes,
                expires_at,
                force_expired: false,
            },
        );
        *rt.counters.token_refreshes.entry(name).or_insert(0) += 1;
        rt.counters.token_refreshes_total += 1;
        token
    }

    /// Takes the first matching fault (decrementing its count) for a request.
    pub fn take_fault(&self, method: &str, path: &str) -> Option<FaultHit> {
        let mut rt = self.lock();
        let index = rt.faults.iter().position(|f| {
            path.starts_with(&f.path_prefix)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.remaining != Some(0)
        })?;
        let fault = &mut rt.faults[index];
        let hit = FaultHit {
            status: fault.status,
            retry_after_secs: fault.retry_after_secs,
            delay_ms: fault.delay_ms,
            message: fault.message.clone(),
            reason: fault.reason,
            retry_in_body_only: fault.retry_in_body_only,
        };
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                rt.faults.remove(index);
            }
        }
        if hit.status.is_some() {
            rt.counters.faulted += 1;
        }
        if hit.delay_ms > 0 {
            rt.counters.delayed += 1;
        }
        Some(hit)
    }

    /// Counts one authenticated API call.
    pub fn count_api_call(&self, resource: &str, method: &str) {
        let mut rt = self.lock();
        *rt.counters
            .api_calls
            .entry(resource.to_string())
            .or_insert(0) += 1;
        rt.counters.api_calls_total += 1;
        *rt.counters
            .api_calls_by_method
            .entry(method.to_string())
            .or_insert(0) += 1;
    }

    /// GA4 quota tokens a property has used so far.
    pub fn quota_used(&self, property: &str) -> u64 {
        let mut rt = self.lock();
        refill(&mut rt);
        rt.quota_used.get(property).copied().unwrap_or(0)
    }

    /// Sets a property's used GA4 tokens (the control plane's `ga4/quota`).
    pub fn set_quota_used(&self, property: &str, used: u64) {
        let mut rt = self.lock();
        refill(&mut rt);
        rt.quota_pinned = true;
        rt.quota_used.insert(property.to_string(), used);
    }

    /// Adds GA4 quota tokens for a property and returns the new running total.
    pub fn consume_quota(&self, property: &str, tokens: u64) -> u64 {
        let mut rt = self.lock();
        refill(&mut rt);
        let used = rt.quota_used.entry(property.to_string()).or_insert(0);
        *used = used.saturating_add(tokens);
        *used
    }

    /// Restores the as-loaded state: counters, faults, issued tokens, runtime revocations
    /// and Meta usage/throttles are all cleared (fixture `revoked = true` stays revoked).
    pub fn reset(&self) {
        let mut rt = self.lock();
        let next_fault_id = rt.next_fault_id;
        *rt = Runtime {
            revoked: self.grants.iter().map(|g| g.revoked_in_fixture).collect(),
            refresh_tokens: self
                .grants
                .iter()
                .map(|g| g.refresh_token.clone())
                .collect(),
            rotations: vec![0; self.grants.len()],
            next_fault_id,
            ..Runtime::default()
        };
    }
}

/// Starts a new quota hour when the wall clock has moved on: every property's tokens return.
fn refill(rt: &mut Runtime) {
    let hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 3600);
    if rt.quota_hour != hour && !rt.quota_pinned {
        rt.quota_used.clear();
        rt.quota_hour = hour;
    }
}
