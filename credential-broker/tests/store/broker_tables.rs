//! The broker's own tables: leases, audit, notifications, shop keys, principals, statuses; and connection errors.

use super::*;

pub async fn leases_insert_lookup_revoke_list(db: &TestDb) {
    let store = db.migrated().await;
    let now = 1_760_000_000;
    let lease = |id: &str, shop: &str, created_at: i64, expires_at: i64| LeaseRecord {
        id: id.into(),
        secret_hash: format!("hash-of-{id}"),
        shop_id: shop.into(),
        providers: vec!["ga4".into(), "gsc".into()],
        created_at,
        expires_at,
        revoked_at: None,
        created_by_uid: u32::MAX,
        created_by_pid: Some(u32::MAX),
    };
    let live = lease("L-live", SHOP_A, now - 10, now + 3600);
    let expired = lease("L-expired", SHOP_A, now - 7200, now - 1);
    let to_revoke = lease("L-revoke", SHOP_A, now - 5, now + 3600);
    let mut other_shop = lease("L-other", SHOP_B, now - 1, now + 60);
    other_shop.providers = vec!["meta_ads".into()];
    for l in [&live, &expired, &to_revoke, &other_shop] {
        store.insert_lease(l).await.unwrap();
    }

    assert_eq!(
        store.lease_by_hash("hash-of-L-live").await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(store.lease_by_hash("hash-of-nothing").await.unwrap(), None);
    // Secret hashes are unique, and providers must survive the comma join.
    let mut dup = lease("L-dup", SHOP_A, now, now + 1);
    dup.secret_hash = live.secret_hash.clone();
    assert!(store.insert_lease(&dup).await.is_err());
    let mut bad = lease("L-bad", SHOP_A, now, now + 1);
    bad.providers = vec!["ga4,gsc".into()];
    assert!(matches!(
        store.insert_lease(&bad).await,
        Err(StoreError::InvalidInput { .. })
    ));

    assert!(store.revoke_lease("L-revoke", now).await.unwrap());
    assert!(
        !store.revoke_lease("L-revoke", now + 1).await.unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_lease("L-unknown", now).await.unwrap());
    let revoked = store
        .lease_by_hash("hash-of-L-revoke")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(now));

    let ids = |v: Vec<LeaseRecord>| v.into_iter().map(|l| l.id).collect::<Vec<_>>();
    // Newest first; ended ones (expired, revoked) only on request.
    assert_eq!(
        ids(store.leases(None, false, now).await.unwrap()),
        ["L-other", "L-live"]
    );
    assert_eq!(
        ids(store.leases(None, true, now).await.unwrap()),
        ["L-other", "L-revoke", "L-live", "L-expired"]
    );
    assert_eq!(
        ids(store.leases(Some(SHOP_A), false, now).await.unwrap()),
        ["L-live"]
    );
    assert_eq!(
        ids(store.leases(Some(SHOP_A), true, now).await.unwrap()),
        ["L-revoke", "L-live", "L-expired"]
    );
    // Expiry is relative to the `now` given.
    assert!(
        store
            .leases(None, false, now + 7200)
            .await
            .unwrap()
            .is_empty()
    );
    let all = store.leases(Some(SHOP_B), true, now).await.unwrap();
    assert_eq!(all, [other_shop]);

    // Renewal extends live leases only: not revoked, expired or unknown ones.
    let renewed = store
        .renew_leases(
            &[
                "L-live".into(),
                "L-expired".into(),
                "L-revoke".into(),
                "L-unknown".into(),
            ],
            now + 60,
            now,
        )
        .await
        .unwrap();
    assert_eq!(renewed, ["L-live"]);
    let live = store
        .lease_by_hash("hash-of-L-live")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.expires_at, now + 60);
    let expired = store
        .lease_by_hash("hash-of-L-expired")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expired.expires_at, now - 1, "an ended lease stays ended");
}

/// A lease table made by an earlier version (no `created_by_pid`) gains the column, keeping
/// its rows, when the broker starts.
pub async fn an_earlier_lease_table_is_upgraded(db: &TestDb) {
    db.raw(
        "CREATE TABLE broker_lease (
             id TEXT PRIMARY KEY NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
             shop_id TEXT NOT NULL, providers TEXT NOT NULL, created_at BIGINT NOT NULL,
             expires_at BIGINT NOT NULL, revoked_at BIGINT, created_by_uid BIGINT NOT NULL);
         INSERT INTO broker_lease VALUES ('L-old', 'hash-old', 'shop', 'ga4', 1, 4000000000, NULL, 7);",
    )
    .await;
    let store = db.open().await;
    store.ensure_broker_tables().await.unwrap();
    store.ensure_broker_tables().await.unwrap();
    let old = store.lease_by_hash("hash-old").await.unwrap().unwrap();
    assert_eq!((old.created_by_uid, old.created_by_pid), (7, None));
}

/// An audit table made before traces (no `trace_id`): its trail reads as it is (the operator's
/// `audit` may run before the upgraded broker first starts), and starting adds the column.
pub async fn an_audit_table_from_before_traces_reads_and_is_upgraded(db: &TestDb) {
    // As the earlier version created it on each backend.
    let id = match db.backend {
        Backend::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "id bigserial PRIMARY KEY",
    };
    db.raw(&format!(
        "CREATE TABLE broker_audit (
             {id}, at_ms BIGINT NOT NULL, peer_uid BIGINT, peer_pid BIGINT,
             action TEXT NOT NULL, shop_id TEXT, provider TEXT, lease_id TEXT,
             outcome TEXT NOT NULL, detail TEXT);
         INSERT INTO broker_audit (at_ms, peer_uid, peer_pid, action, shop_id, provider,
             lease_id, outcome, detail) VALUES (5, 1000, 42, 'token', 'shop', 'ga4', 'L', 'ok', NULL);"
    ))
    .await;
    let store = db.open().await;
    let before = store.audit(None, 10).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(
        (before[0].action.as_str(), before[0].trace_id.as_deref()),
        ("token", None)
    );
    store.ensure_broker_tables().await.unwrap();
    store.insert_audit(&[audit_event(8, None)]).await.unwrap();
    let after = store.audit(None, 10).await.unwrap();
    assert_eq!(
        after[0],
        audit_event(8, None),
        "the new row keeps its trace"
    );
    assert_eq!(after[1].trace_id, None);
}

pub async fn audit_batch_of_500_newest_first(db: &TestDb) {
    let store = db.migrated().await;
    // Inserted out of time order, as a batching writer may.
    let events: Vec<AuditEvent> = (0..500)
        .rev()
        .map(|i| audit_event(i, Some(if i % 4 == 0 { SHOP_B } else { SHOP_A })))
        .collect();
    let started = Instant::now();
    store.insert_audit(&events).await.unwrap();
    assert!(started.elapsed() < PROMPT);
    store.insert_audit(&[]).await.unwrap();
    store
        .insert_audit(&[audit_event(1000, None)])
        .await
        .unwrap();

    let all = store.audit(None, 1000).await.unwrap();
    assert_eq!(all.len(), 501);
    assert_eq!(all[0], audit_event(1000, None));
    assert!(
        all.windows(2).all(|w| w[0].at_ms >= w[1].at_ms),
        "newest first"
    );
    let mut expected = events.clone();
    expected.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
    assert_eq!(&all[1..], &expected[..], "every field round-trips");

    let of_b = store.audit(Some(SHOP_B), 10).await.unwrap();
    assert_eq!(of_b.len(), 10);
    assert!(of_b.iter().all(|e| e.shop_id.as_deref() == Some(SHOP_B)));
    assert_eq!(of_b[0], audit_event(496, Some(SHOP_B)));
    assert_eq!(store.audit(Some(SHOP_C), 10).await.unwrap(), []);
    assert_eq!(store.audit(None, 3).await.unwrap().len(), 3);
    assert!(store.audit(None, -1).await.unwrap().is_empty());

    // The extremes of the peer fields survive.
    let mut edge = audit_event(2000, Some(SHOP_C));
    edge.peer_uid = Some(u32::MAX);
    edge.peer_pid = Some(i32::MAX);
    store
        .insert_audit(std::slice::from_ref(&edge))
        .await
        .unwrap();
    assert_eq!(store.audit(Some(SHOP_C), 1).await.unwrap(), [edge]);
}

pub async fn notifications_newest_first(db: &TestDb) {
    let store = db.migrated().await;
    let n = |at: i64, shop: &str, kind: &str| Notification {
        created_at: at,
        shop_id: shop.into(),
        integration_id: (kind == "reconnect_required").then_some(at),
        kind: kind.into(),
        service: "Google Analytics".into(),
        message: format!("{kind} for {shop}"),
    };
    let list = [
        n(100, SHOP_A, "reconnect_required"),
        n(300, SHOP_B, "token_expiring"),
        n(200, SHOP_A, "token_expiring"),
    ];
    for x in &list {
        store.insert_notification(x).await.unwrap();
    }
    assert_eq!(
        store.notifications(None, 10).await.unwrap(),
        [list[1].clone(), list[2].clone(), list[0].clone()]
    );
    assert_eq!(
        store.notifications(Some(SHOP_A), 10).await.unwrap(),
        [list[2].clone(), list[0].clone()]
    );
    assert_eq!(
        store.notifications(Some(SHOP_A), 1).await.unwrap(),
        [list[2].clone()]
    );
    assert!(
        store
            .notifications(Some(SHOP_C), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // "Noted since": the reconnect of integration 100 at 100, by shop, kind and time.
    assert!(
        store
            .noted_since(SHOP_A, 100, "reconnect_required", 100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .noted_since(SHOP_A, 100, "reconnect_required", 101)
            .await
            .unwrap()
    );
    assert!(
        !store
            .noted_since(SHOP_B, 100, "reconnect_required", 0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .noted_since(SHOP_A, 100, "token_expiring", 0)
            .await
            .unwrap()
    );
}

pub async fn shop_keys_round_trip_and_revoke_their_leases(db: &TestDb) {
    let store = db.migrated().await;
    let now = 1_760_000_000;
    let key = |id: &str, shop: &str, expires_at: i64| ShopKeyRecord {
        id: id.into(),
        key_hash: format!("hash-of-{id}"),
        shop_id: shop.into(),
        providers: vec!["ga4".into(), "meta_ads".into()],
        label: Some("Acme's desktop, ąę".into()),
        created_at: now - 10,
        expires_at,
        revoked_at: None,
        created_by_uid: u32::MAX,
    };
    let a = key("key_a", SHOP_A, now + 3600);
    let old = key("key_old", SHOP_A, now - 1);
    let b = key("key_b", SHOP_B, now + 60);
    for k in [&a, &old, &b] {
        store.insert_shop_key(k).await.unwrap();
    }
    assert_eq!(
        store.shop_key_by_hash("hash-of-key_a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.shop_key_by_hash("hash-of-nothing").await.unwrap(),
        None
    );
    let mut dup = key("key_dup", SHOP_A, now + 1);
    dup.key_hash = a.key_hash.clone();
    assert!(
        store.insert_shop_key(&dup).await.is_err(),
        "hashes are unique"
    );
    let mut bad = key("key_bad", SHOP_A, now + 1);
    bad.providers = vec!["ga4,gsc".into()];
    assert!(store.insert_shop_key(&bad).await.is_err());
    // Live keys only, newest first, of one shop or all.
    let ids = |keys: Vec<ShopKeyRecord>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.live_shop_keys(Some(SHOP_A), now).await.unwrap()),
        ["key_a"]
    );
    assert_eq!(store.live_shop_keys(None, now).await.unwrap().len(), 2);
    // A lease made with key_a ends with it; another lease does not.
    let lease = |id: &str| LeaseRecord {
        id: id.into(),
        secret_hash: format!("hash-of-{id}"),
        shop_id: SHOP_A.into(),
        providers: vec!["ga4".into()],
        created_at: now,
        expires_at: now + 3600,
        revoked_at: None,
        created_by_uid: 1,
        created_by_pid: None,
    };
    for l in ["L-by-key", "L-other"] {
        store.insert_lease(&lease(l)).await.unwrap();
    }
    store.link_key_lease("L-by-key", "key_a").await.unwrap();
    assert!(store.revoke_shop_key("key_a", now + 5).await.unwrap());
    assert!(
        !store.revoke_shop_key("key_a", now + 6).await.unwrap(),
        "once"
    );
    assert!(!store.revoke_shop_key("key_nothing", now).await.unwrap());
    assert_eq!(
        store
            .shop_key_by_hash("hash-of-key_a")
            .await
            .unwrap()
            .and_then(|k| k.revoked_at),
        Some(now + 5)
    );
    let revoked_at = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .lease_by_hash(&format!("hash-of-{id}"))
                .await
                .unwrap()
                .and_then(|l| l.revoked_at)
        }
    };
    assert_eq!(revoked_at("L-by-key").await, Some(now + 5));
    assert_eq!(revoked_at("L-other").await, None);
    assert!(
        store
            .live_shop_keys(Some(SHOP_A), now)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn principals_add_list_remove(db: &TestDb) {
    let store = db.migrated().await;
    let iss = "https://auth.example";
    assert!(store.add_principal(iss, "sub-1", SHOP_B, 10).await.unwrap());
    assert!(store.add_principal(iss, "sub-1", SHOP_A, 11).await.unwrap());
    assert!(
        !store.add_principal(iss, "sub-1", SHOP_A, 12).await.unwrap(),
        "once"
    );
    assert!(
        store
            .add_principal("https://other.example", "sub-1", SHOP_C, 13)
            .await
            .unwrap()
    );
    // Sorted; the same subject of another issuer is someone else.
    let mut want = vec![SHOP_A.to_owned(), SHOP_B.to_owned()];
    want.sort();
    assert_eq!(store.principal_shops(iss, "sub-1").await.unwrap(), want);
    assert!(
        store
            .principal_shops(iss, "sub-2")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.principals().await.unwrap().len(), 3);
    assert!(store.remove_principal(iss, "sub-1", SHOP_A).await.unwrap());
    assert!(!store.remove_principal(iss, "sub-1", SHOP_A).await.unwrap());
    assert_eq!(store.principal_shops(iss, "sub-1").await.unwrap(), [SHOP_B]);
}

pub async fn statuses_upsert(db: &TestDb) {
    let store = db.migrated().await;
    let s = |id: i64, needs: bool, reason: Option<&str>, at: i64| IntegrationStatus {
        integration_id: id,
        needs_reconnect: needs,
        reason: reason.map(str::to_owned),
        updated_at: at,
    };
    store
        .set_integration_status(&s(7, true, Some("invalid_grant"), 100))
        .await
        .unwrap();
    store
        .set_integration_status(&s(3, false, None, 100))
        .await
        .unwrap();
    assert_eq!(
        store.integration_statuses().await.unwrap(),
        [
            s(3, false, None, 100),
            s(7, true, Some("invalid_grant"), 100)
        ]
    );
    // The shop reconnected: the same row is replaced, not duplicated.
    store
        .set_integration_status(&s(7, false, None, 200))
        .await
        .unwrap();
    assert_eq!(
        store.integration_statuses().await.unwrap(),
        [s(3, false, None, 100), s(7, false, None, 200)]
    );
    assert_eq!(
        store.integration_status(7).await.unwrap(),
        Some(s(7, false, None, 200))
    );
    assert_eq!(store.integration_status(8).await.unwrap(), None);
}

pub async fn connect_errors_hide_the_password(db: &TestDb) {
    // Unknown schemes are refused by name, credentials masked.
    let err = Store::open("mysql://root:hunter2@db/shop", false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // Unparseable PostgreSQL URLs too.
    let err = Store::open("postgres://broker:hunter2@db:99999999/shop", false)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");

    if db.backend == Backend::Postgres {
        // A real connection failure (no such database) names the URL without its password.
        let mut url = url::Url::parse(&db.url).unwrap();
        url.set_password(Some("hunter2")).unwrap();
        url.set_path("/berryboo_no_such_database");
        let err = Store::open(url.as_str(), false).await.unwrap_err();
        assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("****") && text.contains("berryboo_no_such_database"),
            "{text}"
        );
    }
}
