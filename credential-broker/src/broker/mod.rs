//! The dispatcher: one `match` over the closed [`Request`] set, with the peer's identity,
//! returning one [`Response`]. Every request is audited (who, which shop, which provider,
//! outcome — never a secret).

use std::sync::Arc;
use std::time::Duration;

use broker_proto::{
    BrokerError, ErrorCode, HostKey, MAX_FRAME_LEN, PROTOCOL_VERSION, Provider, Request, Response,
};

use crate::audit::{AuditSink, now_ms};
use crate::config::BrokerConfig;
use crate::leases::LeaseBook;
use crate::metrics::BrokerMetrics;
use crate::store::{AuditEvent, Store};
use crate::tokens::TokenService;
use tracing::Instrument as _;

mod grant;

/// Who is on the other end of a connection (from SO_PEERCRED), and what it proved.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// Effective uid.
    pub uid: u32,
    /// Process id, when the kernel reports it.
    pub pid: Option<i32>,
    /// The connection proved a host key ([`Request::ProveHost`]): it may create leases and
    /// read health like an admin, though its uid is only allowed.
    pub host: bool,
}

/// Everything a request may touch.
pub struct Broker {
    /// The checked configuration.
    pub config: Arc<BrokerConfig>,
    /// The store.
    pub store: Store,
    /// Leases.
    pub leases: LeaseBook,
    /// Shop keys for the gateway.
    pub keys: crate::keys::KeyBook,
    /// Tokens.
    pub tokens: Arc<TokenService>,
    /// Audit trail.
    pub audit: AuditSink,
    /// What an operator's Prometheus reads.
    pub metrics: Arc<BrokerMetrics>,
    /// What servers saw of their upstreams' quotas.
    pub quotas: crate::quota::QuotaBook,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `ga4,meta_ads`: providers as the audit trail names them.
fn names(providers: impl IntoIterator<Item = Provider>) -> String {
    providers
        .into_iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

impl Peer {
    /// (uid, pid) as a lease records its creator.
    fn holder(self) -> (u32, Option<u32>) {
        (self.uid, self.pid.and_then(|p| u32::try_from(p).ok()))
    }
}

impl Broker {
    /// Whether `peer` may connect at all.
    pub fn allowed(&self, peer: Peer) -> bool {
        self.config.allowed_uids.contains(&peer.uid) || self.is_admin(peer)
    }

    fn is_admin(&self, peer: Peer) -> bool {
        self.config.admin_uids.contains(&peer.uid)
    }

    /// Admins, and agent hosts that proved a host key, may create leases and read health.
    fn may_lease(&self, peer: Peer) -> bool {
        self.is_admin(peer) || peer.host
    }

    fn not_permitted(peer: Peer, what: &str) -> BrokerError {
        BrokerError::new(
            ErrorCode::NotPermitted,
            format!(
                "uid {} may not {what} (not in admin_uids, and no host key proven on this connection)",
                peer.uid
            ),
        )
    }

    /// Checks that `lease` is live, for `shop_id` and covers `provider` (noting the shop,
    /// provider and lease in `event`).
    async fn leased(
        &self,
        lease: &broker_proto::LeaseSecret,
        shop_id: &str,
        provider: Provider,
        event: &mut AuditEvent,
    ) -> Result<(), BrokerError> {
        event.shop_id = Some(shop_id.to_owned());
        event.provider = Some(provider.as_str().into());
        let l = self.leases.resolve(lease, now()).await?;
        event.lease_id = Some(l.id.clone());
        if l.shop_id != shop_id {
            return Err(BrokerError::new(
                ErrorCode::WrongShop,
                format!(
                    "lease {} is for shop {}, not shop {shop_id}: refusing to hand out another shop's token",
                    l.id, l.shop_id
                ),
            ));
        }
        if !l.providers.contains(&provider) {
            return Err(BrokerError::new(
                ErrorCode::WrongProvider,
                format!(
                    "lease {} does not cover {} (it covers: {})",
                    l.id,
                    provider.service_name(),
                    names(l.providers.iter().copied()).replace(',', ", ")
                ),
            ));
        }
        Ok(())
    }

    /// Answers one request (after the hello).
    pub async fn handle(&self, peer: Peer, request: Request) -> Response {
        let mut event = AuditEvent {
            at_ms: now_ms(),
            peer_uid: Some(peer.uid),
            peer_pid: peer.pid,
            action: String::new(),
            shop_id: None,
            provider: None,
            lease_id: None,
            outcome: String::new(),
            detail: None,
            trace_id: None,
        };
        let result = match request {
            Request::Hello { version } => {
                event.action = "hello".into();
                if version == PROTOCOL_VERSION {
                    Ok(Response::Hello {
                        version: PROTOCOL_VERSION,
                        broker: concat!("credential-broker/", env!("CARGO_PKG_VERSION")).into(),
                    })
                } else {
                    Err(BrokerError::new(
                        ErrorCode::UnsupportedVersion,
                        format!(
                            "protocol version {version} is not supported; this broker speaks {PROTOCOL_VERSION}"
                        ),
                    ))
                }
            }
            Request::Ping => {
                event.action = "ping".into();
                Ok(Response::Pong)
            }
            Request::Health { stale_days } => {
                event.action = "health".into();
                self.health(peer, stale_days).await
            }
            Request::CreateLease {
                shop_id,
                providers,
                ttl_secs,
            } => {
                event.action = "lease_create".into();
                event.shop_id = Some(shop_id.clone());
                event.provider = Some(names(providers.iter().copied()));
                self.create_lease(peer, &shop_id, &providers, ttl_secs)
                    .await
                    .map(|grant| {
                        event.lease_id = Some(grant.lease_id.clone());
                        event.detail = Some(format!(
                            "granted={} missing={}",
                            names(grant.granted.iter().copied()),
                            names(grant.missing.iter().map(|m| m.provider))
                        ));
                        Response::Lease(grant)
                    })
            }
            Request::CreateLeases {
                shop_id,
                providers,
                ttl_secs,
            } => {
                event.action = "leases_create".into();
                event.shop_id = Some(shop_id.clone());
                event.provider = Some(names(providers.iter().copied()));
                self.create_leases(peer, &shop_id, &providers, ttl_secs)
                    .await
                    .map(|set| {
                        event.lease_id = Some(
                            set.leases
                                .iter()
                                .map(|l| l.lease_id.as_str())
                                .collect::<Vec<_>>()
                                .join(","),
                        );
                        event.detail = Some(format!(
                            "granted={} missing={}",
                            names(set.leases.iter().map(|l| l.provider)),
                            names(set.missing.iter().map(|m| m.provider))
                        ));
                        Response::Leases(set)
                    })
            }
            Request::ProveHost { key } => {
                event.action = "host".into();
                self.prove_host(&key)
            }
            Request::RevokeLeases { leases } => {
                event.action = "lease_revoke".into();
                if leases.len() > broker_proto::MAX_LEASES_PER_REQUEST {
                    Err(BrokerError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "at most {} leases per request",
                            broker_proto::MAX_LEASES_PER_REQUEST
                        ),
                    ))
                } else {
                    self.leases
                        .revoke_secrets(&leases, now())
                        .await
                        .map(|lease_ids| {
                            event.lease_id = Some(lease_ids.join(","));
                            Response::RevokedAll { lease_ids }
                        })
                }
            }
            Request::RevokeLeaseId { lease_id } => {
                event.action = "lease_revoke".into();
                event.lease_id = Some(lease_id.clone());
                if self.is_admin(peer) {
                    self.leases
                        .revoke_id(&lease_id, now())
                        .await
                        .map(|()| Response::Revoked { lease_id })
                } else {
                    Err(Self::not_permitted(peer, "revoke leases by id"))
                }
            }
            Request::RevokeLease { lease } => {
                event.action = "lease_revoke".into();
                self.leases
                    .revoke_secret(&lease, now())
                    .await
                    .map(|lease_id| {
                        event.lease_id = Some(lease_id.clone());
                        Response::Revoked { lease_id }
                    })
            }
            Request::GetToken {
                lease,
                provider,
                shop_id,
                traceparent,
            } => {
                event.action = "token".into();
                let (span, trace_id) = vend_span("token", provider, traceparent.as_deref());
                async {
                    match self.leased(&lease, &shop_id, provider, &mut event).await {
                        Err(e) => {
                            self.metrics.vend(provider, Err(e.code), None);
                            Err(e)
                        }
                        Ok(()) => {
                            // Only a vend whose lease held names a trace: a guessed lease must
                            // not tie its refusals to someone's question.
                            event.trace_id = trace_id;
                            // Timed from the lease check on: refusals of guessed leases must not
                            // skew the latency of real vends.
                            let started = std::time::Instant::now();
                            let granted = self.tokens.token(&shop_id, provider).await;
                            if granted.is_ok()
                                && let Some(id) = &event.lease_id
                            {
                                self.leases.used(id, now());
                            }
                            self.metrics.vend(
                                provider,
                                granted.as_ref().map(drop).map_err(|e| e.code),
                                Some(started.elapsed()),
                            );
                            granted.map(Response::Token)
                        }
                    }
                }
                .instrument(span)
                .await
            }
            Request::TokenRejected {
                lease,
                provider,
                shop_id,
                fingerprint,
                traceparent,
            } => {
                event.action = "token_rejected".into();
                let (span, trace_id) =
                    vend_span("token_rejected", provider, traceparent.as_deref());
                async {
                    let well_formed = fingerprint.len() == 16
                        && fingerprint
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                    if well_formed {
                        event.detail = Some(format!("fingerprint={fingerprint}"));
                    }
                    let checked = if well_formed {
                        self.leased(&lease, &shop_id, provider, &mut event).await
                    } else {
                        Err(BrokerError::new(
                            ErrorCode::BadRequest,
                            "a token fingerprint is 16 lowercase hex digits (broker_proto::token_fingerprint)",
                        ))
                    };
                    match checked {
                        Err(e) => Err(e),
                        Ok(()) => {
                            event.trace_id = trace_id;
                            self.tokens
                                .rejected(&shop_id, provider, &fingerprint)
                                .await
                                .map(Response::Token)
                        }
                    }
                }
                .instrument(span)
                .await
            }
            Request::ReportQuota {
                lease,
                provider,
                shop_id,
                reading,
            } => {
                event.action = "quota".into();
                if !reading.is_valid() {
                    Err(BrokerError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "a quota reading is a percentage (0–100) of a limit named in at most {} letters, digits, spaces, '_', '.' or '-'",
                            broker_proto::MAX_LIMIT_NAME
                        ),
                    ))
                } else {
                    self.leased(&lease, &shop_id, provider, &mut event)
                        .await
                        .map(|()| {
                            self.quotas.note(&shop_id, provider, reading, now());
                            Response::QuotaNoted
                        })
                }
            }
            Request::Quotas { shop_id } => {
                event.action = "quotas".into();
                event.shop_id = Some(shop_id.clone());
                if self.may_lease(peer) {
                    Ok(Response::Quotas {
                        readings: self.quotas.of(&shop_id, now()),
                    })
                } else {
                    Err(Self::not_permitted(peer, "read quotas"))
                }
            }
            Request::RenewLeases { leases, ttl_secs } => {
                event.action = "lease_renew".into();
                if !self.may_lease(peer) {
                    Err(Self::not_permitted(peer, "renew leases"))
                } else if leases.len() > broker_proto::MAX_LEASES_PER_REQUEST {
                    Err(BrokerError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "at most {} leases per request",
                            broker_proto::MAX_LEASES_PER_REQUEST
                        ),
                    ))
                } else {
                    let ttl = Duration::from_secs(ttl_secs).min(self.config.max_lease_ttl);
                    let expires_at =
                        now().saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
                    self.leases
                        .renew_secrets(&leases, expires_at, now())
                        .await
                        .map(|(lease_ids, revoked)| {
                            event.lease_id = Some(lease_ids.join(","));
                            Response::Renewed {
                                lease_ids,
                                expires_at,
                                revoked,
                            }
                        })
                }
            }
            Request::CreateKey {
                shop_id,
                providers,
                ttl_secs,
                label,
            } => {
                event.action = "key_create".into();
                event.shop_id = Some(shop_id.clone());
                event.provider = Some(names(providers.iter().copied()));
                if self.is_admin(peer) {
                    self.keys
                        .create(
                            &shop_id,
                            &providers,
                            Duration::from_secs(ttl_secs),
                            label,
                            peer.uid,
                            now(),
                        )
                        .await
                        .map(|(info, key)| {
                            event.lease_id = Some(info.key_id.clone());
                            Response::KeyCreated { info, key }
                        })
                } else {
                    Err(Self::not_permitted(peer, "create shop keys"))
                }
            }
            Request::ListKeys { shop_id, offset } => {
                event.action = "key_list".into();
                event.shop_id = shop_id.clone();
                if self.is_admin(peer) {
                    self.keys
                        .list(
                            shop_id.as_deref(),
                            usize::try_from(offset.unwrap_or(0)).unwrap_or(usize::MAX),
                            broker_proto::MAX_KEYS_PER_LIST,
                            now(),
                        )
                        .await
                        .map(|(keys, next)| Response::KeyList { keys, next })
                } else {
                    Err(Self::not_permitted(peer, "list shop keys"))
                }
            }
            Request::RevokeKey { key_id } => {
                event.action = "key_revoke".into();
                event.lease_id = Some(key_id.clone());
                if self.is_admin(peer) {
                    self.keys.revoke(&key_id, now()).await.map(|()| {
                        // The leases made with the key were revoked with it.
                        self.leases.forget_cached();
                        Response::KeyRevoked { key_id }
                    })
                } else {
                    Err(Self::not_permitted(peer, "revoke shop keys"))
                }
            }
            Request::LeaseByKey {
                key,
                shop_id,
                provider,
                ttl_secs,
            } => {
                event.action = "lease_create".into();
                event.shop_id = Some(shop_id.clone());
                event.provider = Some(provider.as_str().into());
                self.lease_by_key(peer, &key, &shop_id, provider, ttl_secs, &mut event)
                    .await
                    .map(|grant| {
                        event.lease_id = Some(grant.lease_id.clone());
                        Response::Lease(grant)
                    })
            }
            Request::SetPrincipal {
                issuer,
                subject,
                shop_id,
                allowed,
            } => {
                event.action = if allowed {
                    "principal_add"
                } else {
                    "principal_remove"
                }
                .into();
                event.shop_id = Some(shop_id.clone());
                event.detail = Some(format!("{issuer} {subject}"));
                if !self.is_admin(peer) {
                    Err(Self::not_permitted(peer, "change principals"))
                } else {
                    self.keys
                        .set_principal(&issuer, &subject, &shop_id, allowed, now())
                        .await
                        .map(|changed| Response::PrincipalSet { changed })
                }
            }
            Request::ListPrincipals => {
                event.action = "principal_list".into();
                if self.is_admin(peer) {
                    self.keys
                        .principals()
                        .await
                        .map(|principals| Response::Principals { principals })
                } else {
                    Err(Self::not_permitted(peer, "list principals"))
                }
            }
            Request::PrincipalShops { issuer, subject } => {
                event.action = "principal_check".into();
                event.detail = Some(format!("{issuer} {subject}"));
                if self.may_lease(peer) {
                    self.keys
                        .principal_shops(&issuer, &subject)
                        .await
                        .map(|shop_ids| Response::PrincipalShops { shop_ids })
                } else {
                    Err(Self::not_permitted(peer, "check principals"))
                }
            }
            Request::CheckKey { key } => {
                event.action = "key_check".into();
                if self.may_lease(peer) {
                    self.keys.check(&key, now()).await.map(|info| {
                        event.shop_id = Some(info.shop_id.clone());
                        event.lease_id = Some(info.key_id.clone());
                        Response::Key(info)
                    })
                } else {
                    Err(Self::not_permitted(peer, "check shop keys"))
                }
            }
            Request::ListLeases { shop_id, offset } => {
                event.action = "lease_list".into();
                event.shop_id = shop_id.clone();
                if self.is_admin(peer) {
                    self.leases
                        .list(
                            shop_id.as_deref(),
                            usize::try_from(offset.unwrap_or(0)).unwrap_or(usize::MAX),
                            broker_proto::MAX_LEASES_PER_LIST,
                            now(),
                        )
                        .await
                        .map(|(leases, next)| Response::LeaseList { leases, next })
                } else {
                    Err(Self::not_permitted(peer, "list leases"))
                }
            }
            Request::Refresh { shop_id, after } => {
                event.action = "refresh_request".into();
                event.shop_id = shop_id.clone();
                if self.is_admin(peer) {
                    self.tokens
                        .refresh_page(
                            shop_id.as_deref(),
                            after,
                            broker_proto::MAX_REFRESH_PER_REQUEST,
                        )
                        .await
                        .map(|(results, next)| {
                            let failed = results.iter().filter(|r| r.error.is_some()).count();
                            event.detail =
                                Some(format!("refreshed={} failed={failed}", results.len()));
                            Response::Refreshed { results, next }
                        })
                } else {
                    Err(Self::not_permitted(peer, "refresh tokens"))
                }
            }
        };
        let response = match result {
            Ok(r) => {
                event.outcome = "ok".into();
                r
            }
            Err(mut e) => {
                event.outcome = format!("{:?}", e.code);
                // A message may carry a token endpoint's words, which may echo a secret.
                if let std::borrow::Cow::Owned(clean) = redaction::text(&e.message) {
                    e.message = clean;
                }
                Response::Error(e)
            }
        };
        // Pings and hellos are connection plumbing, not access to anyone's data; a renewal
        // every few seconds per set would bury the trail (its creation and end are there).
        // A gateway checks a caller's key on each of its requests (cached for a second): the
        // gateway audits the calls themselves; a refused key is recorded here. Servers report
        // quota after their calls and the pipeline reads it before each anomaly: the vends
        // and leases behind them are in the trail.
        let routine = matches!(event.action.as_str(), "ping" | "hello")
            || (matches!(
                event.action.as_str(),
                "lease_renew" | "key_check" | "principal_check" | "quota" | "quotas"
            ) && event.outcome == "ok");
        if !routine {
            self.audit.record(event);
        }
        response
    }

    async fn health(&self, peer: Peer, stale_days: u32) -> Result<Response, BrokerError> {
        if !self.may_lease(peer) {
            return Err(Self::not_permitted(peer, "read integration health"));
        }
        let mut report = crate::health::report(&self.store, &self.config, stale_days)
            .await
            .map_err(|e| {
                tracing::error!("store: {e}");
                BrokerError::new(
                    ErrorCode::Internal,
                    "the credential broker's store failed; see its log",
                )
            })?;
        // Leave room for the frame's envelope around the report.
        crate::health::fit(&mut report, MAX_FRAME_LEN - 1024, |r| {
            serde_json::to_vec(r).map(|v| v.len()).unwrap_or(usize::MAX)
        });
        Ok(Response::Health(Box::new(report)))
    }

    /// Checks a host key against the configured hashes.
    fn prove_host(&self, key: &HostKey) -> Result<Response, BrokerError> {
        if self.config.host_keys.is_empty() {
            return Err(BrokerError::new(
                ErrorCode::NotPermitted,
                "this broker accepts no host keys (host_keys in its config)",
            ));
        }
        let hash = crate::leases::hash_secret(key.expose());
        // Comparing digests, not keys: timing tells an attacker nothing about a key.
        if self.config.host_keys.contains(&hash) {
            Ok(Response::Host)
        } else {
            Err(BrokerError::new(
                ErrorCode::NotPermitted,
                "unknown host key: check the agent host's key against host_keys in the broker's config",
            ))
        }
    }
}

/// The span of a token request, continuing the caller's trace when it sent a well-formed
/// `traceparent` (checked by the W3C parser), and the trace id for the audit row: the caller's,
/// else the broker's own.
fn vend_span(
    action: &'static str,
    provider: Provider,
    traceparent: Option<&str>,
) -> (tracing::Span, Option<String>) {
    let span = tracing::info_span!(
        "vend",
        otel.kind = "server",
        otel.name = action,
        provider = provider.service_name(),
    );
    telemetry::propagate::follow(&span, traceparent);
    let trace_id = traceparent
        .and_then(telemetry::propagate::trace_id_in)
        .or_else(|| telemetry::propagate::trace_id(&span));
    (span, trace_id)
}
