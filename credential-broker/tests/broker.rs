//! `Broker::handle` on a real store (SQLite always, PostgreSQL with `TEST_POSTGRES_URL`): every
//! request kind, who may send it (a server's uid, an agent host that proved its key, an admin),
//! what each answers, and that the audit trail records every request without a secret.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use broker_proto::{
    ErrorCode, HostKey, LeaseSecret, PROTOCOL_VERSION, Provider, Request, Response, ShopKey,
};
use credential_broker::audit::AuditWriter;
use credential_broker::broker::{Broker, Peer};
use credential_broker::config;
use credential_broker::keys::KeyBook;
use credential_broker::leases::{LeaseBook, hash_secret};
use credential_broker::metrics::BrokerMetrics;
use credential_broker::tokens::TokenService;
use secrecy::ExposeSecret;

#[path = "common/mod.rs"]
mod common;

use common::{TestDb, ga4_data};

const SHOP: &str = "cac9d883-015f-478e-a93f-32ef401582a3";
const OTHER_SHOP: &str = "0b2a803b-8301-4692-8000-000000000002";
const HOST_KEY: &str = "bbh_test-host-key-0123456789";
const ADMIN: Peer = Peer {
    uid: 1000,
    pid: Some(10),
    host: false,
};
/// An allowed uid: what the servers an agent host spawns run as.
const SERVER: Peer = Peer {
    uid: 2000,
    pid: Some(20),
    host: false,
};
/// The same uid on a connection that proved the host key.
const HOST: Peer = Peer {
    uid: 2000,
    pid: Some(21),
    host: true,
};

struct Fixture {
    broker: Broker,
    audit: AuditWriter,
    _dir: tempfile::TempDir,
}

async fn fixture(db: &TestDb) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        config::load(None, Some(db.url.clone()), Some(dir.path().join("b.sock"))).unwrap();
    config.admin_uids = vec![ADMIN.uid];
    config.allowed_uids = vec![ADMIN.uid, SERVER.uid];
    config.host_keys = vec![hash_secret(HOST_KEY)];
    // Whatever the environment says: no OAuth client, no Meta app (nothing is refreshed here).
    config.google = None;
    config.meta = None;
    let config = Arc::new(config);
    let store = db.migrated().await;
    for shop in [SHOP, OTHER_SHOP] {
        store.upsert_shop(shop, "Shop").await.unwrap();
        store
            .insert_integration(
                shop,
                config.type_code(Provider::Ga4),
                &ga4_data(
                    &format!("ya29.token-of-{shop}"),
                    "1//refresh-secret",
                    chrono::Duration::hours(1),
                ),
                true,
                false,
            )
            .await
            .unwrap();
    }
    let (sink, audit) = credential_broker::audit::start(store.clone());
    let metrics = Arc::new(BrokerMetrics::default());
    let http = credential_broker::daemon::http_client().unwrap();
    let tokens = TokenService::new(
        store.clone(),
        config.clone(),
        http,
        sink.clone(),
        metrics.clone(),
    );
    let broker = Broker {
        config,
        leases: LeaseBook::new(store.clone()),
        keys: KeyBook::new(store.clone()),
        store,
        tokens,
        audit: sink,
        metrics,
        quotas: Default::default(),
    };
    Fixture {
        broker,
        audit,
        _dir: dir,
    }
}

impl Fixture {
    async fn ask(&self, peer: Peer, request: Request) -> Response {
        self.broker.handle(peer, request).await
    }

    /// The error code of an answer that must be an error.
    async fn refused(&self, peer: Peer, request: Request) -> ErrorCode {
        match self.ask(peer, request).await {
            Response::Error(e) => e.code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    async fn lease(&self, peer: Peer, providers: Vec<Provider>) -> LeaseSecret {
        match self
            .ask(
                peer,
                Request::CreateLease {
                    shop_id: SHOP.into(),
                    providers,
                    ttl_secs: 600,
                },
            )
            .await
        {
            Response::Lease(grant) => grant.lease,
            other => panic!("no lease: {other:?}"),
        }
    }
}

async fn hello_and_ping(db: &TestDb) {
    let f = fixture(db).await;
    assert!(matches!(
        f.ask(SERVER, Request::Hello { version: PROTOCOL_VERSION }).await,
        Response::Hello { version, .. } if version == PROTOCOL_VERSION
    ));
    assert_eq!(
        f.refused(
            SERVER,
            Request::Hello {
                version: PROTOCOL_VERSION + 1
            }
        )
        .await,
        ErrorCode::UnsupportedVersion
    );
    assert!(matches!(f.ask(SERVER, Request::Ping).await, Response::Pong));
}

async fn a_lease_reads_its_shop_and_provider_only(db: &TestDb) {
    let f = fixture(db).await;
    let lease = f.lease(ADMIN, vec![Provider::Ga4]).await;
    let get = |shop: &str, provider: Provider| Request::GetToken {
        lease: lease.clone(),
        provider,
        shop_id: shop.into(),
        traceparent: None,
    };
    match f.ask(SERVER, get(SHOP, Provider::Ga4)).await {
        Response::Token(grant) => {
            assert_eq!(
                grant.access_token.expose_secret(),
                format!("ya29.token-of-{SHOP}")
            );
            assert_eq!(grant.account.property_id.as_deref(), Some("326784853"));
        }
        other => panic!("no token: {other:?}"),
    }
    assert_eq!(
        f.refused(SERVER, get(OTHER_SHOP, Provider::Ga4)).await,
        ErrorCode::WrongShop
    );
    assert_eq!(
        f.refused(SERVER, get(SHOP, Provider::MetaAds)).await,
        ErrorCode::WrongProvider
    );
    // A server reporting a refused token it does not hold changes nothing for the others.
    let reported = f
        .ask(
            SERVER,
            Request::TokenRejected {
                lease: lease.clone(),
                provider: Provider::Ga4,
                shop_id: OTHER_SHOP.into(),
                fingerprint: "0000000000000000".into(),
                traceparent: None,
            },
        )
        .await;
    assert!(
        matches!(reported, Response::Error(ref e) if e.code == ErrorCode::WrongShop),
        "{reported:?}"
    );
    // Revoked by its holder: nothing more.
    assert!(matches!(
        f.ask(
            SERVER,
            Request::RevokeLease {
                lease: lease.clone()
            }
        )
        .await,
        Response::Revoked { .. }
    ));
    assert_eq!(
        f.refused(SERVER, get(SHOP, Provider::Ga4)).await,
        ErrorCode::LeaseRevoked
    );
    let unknown = LeaseSecret::new("bbl_never-issued".into());
    assert_eq!(
        f.refused(
            SERVER,
            Request::GetToken {
                lease: unknown,
                provider: Provider::Ga4,
                shop_id: SHOP.into(),
                traceparent: None,
            }
        )
        .await,
        ErrorCode::UnknownLease
    );
}

async fn what_a_server_uid_may_not_ask(db: &TestDb) {
    let f = fixture(db).await;
    let lease = f.lease(ADMIN, vec![Provider::Ga4]).await;
    let key = ShopKey::new("bbk_not-a-real-key".into());
    // Admins and proven hosts only.
    let host_or_admin = [
        Request::CreateLease {
            shop_id: SHOP.into(),
            providers: vec![Provider::Ga4],
            ttl_secs: 60,
        },
        Request::CreateLeases {
            shop_id: SHOP.into(),
            providers: vec![Provider::Ga4],
            ttl_secs: 60,
        },
        Request::RenewLeases {
            leases: vec![lease.clone()],
            ttl_secs: 60,
        },
        Request::Health { stale_days: 30 },
        Request::PrincipalShops {
            issuer: "https://idp.example".into(),
            subject: "alice".into(),
        },
        Request::CheckKey { key: key.clone() },
    ];
    // Admins only, a proven host included.
    let admin_only = [
        Request::RevokeLeaseId {
            lease_id: "l1".into(),
        },
        Request::ListLeases {
            shop_id: None,
            offset: None,
        },
        Request::CreateKey {
            shop_id: SHOP.into(),
            providers: vec![Provider::Ga4],
            ttl_secs: 3600,
            label: None,
        },
        Request::ListKeys {
            shop_id: None,
            offset: None,
        },
        Request::RevokeKey {
            key_id: "k1".into(),
        },
        Request::SetPrincipal {
            issuer: "https://idp.example".into(),
            subject: "alice".into(),
            shop_id: SHOP.into(),
            allowed: true,
        },
        Request::ListPrincipals,
        Request::Refresh {
            shop_id: Some(SHOP.into()),
            after: None,
        },
    ];
    for r in host_or_admin.iter().chain(&admin_only) {
        assert_eq!(
            f.refused(SERVER, r.clone()).await,
            ErrorCode::NotPermitted,
            "{r:?}"
        );
    }
    for r in &admin_only {
        assert_eq!(
            f.refused(HOST, r.clone()).await,
            ErrorCode::NotPermitted,
            "{r:?}"
        );
    }
    for r in &host_or_admin {
        if let Response::Error(e) = f.ask(HOST, r.clone()).await {
            assert_ne!(e.code, ErrorCode::NotPermitted, "{r:?}: {}", e.message);
        }
    }
}

async fn a_host_proves_its_key(db: &TestDb) {
    let f = fixture(db).await;
    assert!(matches!(
        f.ask(
            SERVER,
            Request::ProveHost {
                key: HostKey::new(HOST_KEY.into())
            }
        )
        .await,
        Response::Host
    ));
    assert_eq!(
        f.refused(
            SERVER,
            Request::ProveHost {
                key: HostKey::new("bbh_guessed".into())
            }
        )
        .await,
        ErrorCode::NotPermitted
    );
}

async fn leases_are_created_listed_renewed_and_revoked(db: &TestDb) {
    let f = fixture(db).await;
    match f
        .ask(
            HOST,
            Request::CreateLease {
                shop_id: SHOP.into(),
                providers: vec![Provider::Ga4, Provider::MetaAds],
                ttl_secs: 600,
            },
        )
        .await
    {
        Response::Lease(grant) => {
            assert_eq!(grant.granted, [Provider::Ga4]);
            assert_eq!(grant.missing.len(), 1);
            assert_eq!(grant.missing[0].provider, Provider::MetaAds);
            assert_eq!(grant.missing[0].error.code, ErrorCode::NoIntegration);
        }
        other => panic!("{other:?}"),
    }
    let set = match f
        .ask(
            HOST,
            Request::CreateLeases {
                shop_id: SHOP.into(),
                providers: vec![Provider::Ga4],
                ttl_secs: 600,
            },
        )
        .await
    {
        Response::Leases(set) => set,
        other => panic!("{other:?}"),
    };
    assert_eq!(set.leases.len(), 1);
    let one = set.leases[0].lease.clone();
    let listed = match f
        .ask(
            ADMIN,
            Request::ListLeases {
                shop_id: Some(SHOP.into()),
                offset: None,
            },
        )
        .await
    {
        Response::LeaseList { leases, .. } => leases,
        other => panic!("{other:?}"),
    };
    assert_eq!(listed.len(), 2);
    assert!(matches!(
        f.ask(
            HOST,
            Request::RenewLeases {
                leases: vec![one.clone()],
                ttl_secs: 1200
            }
        )
        .await,
        Response::Renewed { ref lease_ids, .. } if lease_ids.len() == 1
    ));
    assert!(matches!(
        f.ask(
            ADMIN,
            Request::RevokeLeaseId {
                lease_id: set.leases[0].lease_id.clone()
            }
        )
        .await,
        Response::Revoked { .. }
    ));
    let too_many = vec![one.clone(); broker_proto::MAX_LEASES_PER_REQUEST + 1];
    assert_eq!(
        f.refused(SERVER, Request::RevokeLeases { leases: too_many })
            .await,
        ErrorCode::BadRequest
    );
    assert!(matches!(
        f.ask(SERVER, Request::RevokeLeases { leases: vec![one] })
            .await,
        Response::RevokedAll { .. }
    ));
    // Health for a proven host; the refresh an admin asks for.
    assert!(matches!(
        f.ask(HOST, Request::Health { stale_days: 30 }).await,
        Response::Health(ref r) if r.shops == 2
    ));
    match f
        .ask(
            ADMIN,
            Request::Refresh {
                shop_id: Some(SHOP.into()),
                after: None,
            },
        )
        .await
    {
        // No Google client is configured here: the result says so instead of a token.
        Response::Refreshed { results, .. } => {
            assert_eq!(results.len(), 1);
            assert_eq!(results[0].shop_id, SHOP);
            let error = results[0]
                .error
                .as_ref()
                .expect("no Google client, no refresh");
            assert_eq!(error.code, ErrorCode::Unavailable, "{}", error.message);
            assert!(
                error.message.contains("no Google OAuth client"),
                "{}",
                error.message
            );
        }
        other => panic!("{other:?}"),
    }
}

async fn shop_keys_and_principals(db: &TestDb) {
    let f = fixture(db).await;
    let (info, key) = match f
        .ask(
            ADMIN,
            Request::CreateKey {
                shop_id: SHOP.into(),
                providers: vec![Provider::Ga4],
                ttl_secs: 86_400,
                label: Some("claude desktop".into()),
            },
        )
        .await
    {
        Response::KeyCreated { info, key } => (info, key),
        other => panic!("{other:?}"),
    };
    assert!(key.expose().starts_with("bbk_"));
    assert!(matches!(
        f.ask(HOST, Request::CheckKey { key: key.clone() }).await,
        Response::Key(ref i) if i.key_id == info.key_id && i.shop_id == SHOP
    ));
    let by_key = |shop: &str, provider: Provider| Request::LeaseByKey {
        key: key.clone(),
        shop_id: shop.into(),
        provider,
        ttl_secs: 600,
    };
    assert!(matches!(
        f.ask(SERVER, by_key(SHOP, Provider::Ga4)).await,
        Response::Lease(ref g) if g.granted == [Provider::Ga4]
    ));
    assert_eq!(
        f.refused(SERVER, by_key(OTHER_SHOP, Provider::Ga4)).await,
        ErrorCode::WrongShop
    );
    assert_eq!(
        f.refused(SERVER, by_key(SHOP, Provider::Gsc)).await,
        ErrorCode::WrongProvider
    );
    assert!(matches!(
        f.ask(ADMIN, Request::ListKeys { shop_id: None, offset: None }).await,
        Response::KeyList { ref keys, .. } if keys.len() == 1
    ));
    assert!(matches!(
        f.ask(
            ADMIN,
            Request::RevokeKey {
                key_id: info.key_id.clone()
            }
        )
        .await,
        Response::KeyRevoked { .. }
    ));
    let gone = f
        .refused(HOST, Request::CheckKey { key: key.clone() })
        .await;
    assert_eq!(gone, ErrorCode::UnknownKey);
    assert_eq!(
        f.refused(SERVER, by_key(SHOP, Provider::Ga4)).await,
        gone,
        "a revoked key leases nothing"
    );

    let set = |allowed: bool| Request::SetPrincipal {
        issuer: "https://idp.example".into(),
        subject: "alice".into(),
        shop_id: SHOP.into(),
        allowed,
    };
    assert!(matches!(
        f.ask(ADMIN, set(true)).await,
        Response::PrincipalSet { changed: true }
    ));
    assert!(matches!(
        f.ask(ADMIN, set(true)).await,
        Response::PrincipalSet { changed: false }
    ));
    assert!(matches!(
        f.ask(ADMIN, Request::ListPrincipals).await,
        Response::Principals { ref principals } if principals.len() == 1
    ));
    let shops = Request::PrincipalShops {
        issuer: "https://idp.example".into(),
        subject: "alice".into(),
    };
    assert!(matches!(
        f.ask(HOST, shops.clone()).await,
        Response::PrincipalShops { ref shop_ids } if shop_ids == &[SHOP.to_owned()]
    ));
    assert!(matches!(
        f.ask(ADMIN, set(false)).await,
        Response::PrincipalSet { changed: true }
    ));
    assert!(matches!(
        f.ask(HOST, shops).await,
        Response::PrincipalShops { ref shop_ids } if shop_ids.is_empty()
    ));
}

/// A well-formed W3C trace context, as a server's tool call sends it.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn every_request_is_audited_without_its_secrets(db: &TestDb) {
    let f = fixture(db).await;
    let lease = f.lease(ADMIN, vec![Provider::Ga4]).await;
    f.ask(
        SERVER,
        Request::GetToken {
            lease: lease.clone(),
            provider: Provider::Ga4,
            shop_id: SHOP.into(),
            traceparent: Some(TRACEPARENT.into()),
        },
    )
    .await;
    // A refused request names no trace, however well-formed its context: a guessed or
    // misused lease must not tie its refusals to someone's question.
    f.refused(
        SERVER,
        Request::GetToken {
            lease: lease.clone(),
            provider: Provider::Ga4,
            shop_id: OTHER_SHOP.into(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        },
    )
    .await;
    f.refused(SERVER, Request::ListPrincipals).await;
    let Fixture { broker, audit, .. } = f;
    let store = broker.store.clone();
    drop(broker);
    audit.finish(common::PROMPT).await;
    let events = store.audit(None, 100).await.unwrap();
    let actions: Vec<(&str, &str)> = events
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert_eq!(actions[0].0, "lease_create");
    assert_eq!(actions[1], ("token", "ok"));
    assert_eq!(actions[2], ("token", "WrongShop"));
    assert_eq!(actions[3].1, "NotPermitted");
    let traces: Vec<Option<&str>> = events.iter().rev().map(|e| e.trace_id.as_deref()).collect();
    assert_eq!(
        traces,
        [None, Some("4bf92f3577b34da6a3ce929d0e0e4736"), None, None],
        "the vend's row names the caller's trace; nothing else does"
    );
    let all = format!("{events:?}");
    assert!(!all.contains(lease.expose()), "a lease secret in the audit");
    assert!(!all.contains("ya29."), "a token in the audit");
    assert!(!all.contains("refresh-secret"));
    assert!(
        events.iter().all(|e| e.peer_uid.is_some()),
        "who asked is always recorded"
    );
}

suite!(
    hello_and_ping,
    a_lease_reads_its_shop_and_provider_only,
    what_a_server_uid_may_not_ask,
    a_host_proves_its_key,
    leases_are_created_listed_renewed_and_revoked,
    shop_keys_and_principals,
    every_request_is_audited_without_its_secrets,
);
