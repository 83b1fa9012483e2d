//! The refresh lock: one refresher per integration, in one process and across pools.

use super::*;

pub async fn lock_serialises_lockers_in_one_process(db: &TestDb) {
    let store = db.migrated().await;
    lock_serialises(db, store.clone(), store).await;
}

pub async fn lock_serialises_lockers_across_pools(db: &TestDb) {
    // Two pools stand for two broker processes (or hosts) sharing the database.
    let store = db.migrated().await;
    let other = db.open().await;
    lock_serialises(db, store, other).await;
}

/// `first` holds the lock while `second` asks for it; `second` must get it only after
/// `first` committed, and must then see the committed data.
pub async fn lock_serialises(db: &TestDb, first: Store, second: Store) {
    let id = seed_shop_with_ga4(&first).await;
    let held = first.lock_integration(id).await.unwrap();
    assert_eq!(held.row().unwrap().data, token_data("ya29.v1"));
    assert_eq!(held.integration_id(), id);

    let (asking_tx, asking_rx) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        asking_tx.send(()).unwrap();
        let lock = second.lock_integration(id).await.unwrap();
        let granted_at = Instant::now();
        let data = lock.row().unwrap().data.clone();
        lock.release().await.unwrap();
        (granted_at, data)
    });
    asking_rx.await.unwrap();
    db.until_a_locker_waits().await;
    assert!(
        !waiter.is_finished(),
        "the second locker got the lock while the first held it"
    );

    let committing_at = Instant::now();
    held.commit_data(&token_data("ya29.v2")).await.unwrap();
    let (granted_at, seen) = tokio::time::timeout(PROMPT, waiter).await.unwrap().unwrap();
    assert!(
        granted_at > committing_at,
        "granted before the first holder committed"
    );
    assert_eq!(
        seen,
        token_data("ya29.v2"),
        "the waiter must re-read the committed row"
    );
}

pub async fn lock_of_other_integrations(db: &TestDb) {
    let store = db.migrated().await;
    let a = seed_shop_with_ga4(&store).await;
    let b = store
        .insert_integration(SHOP_A, ADS, &json!({"n": "b"}), true, false)
        .await
        .unwrap();
    let held_a = store.lock_integration(a).await.unwrap();
    match db.backend {
        Backend::Postgres => {
            // Advisory locks are per integration: b is granted while a is held, and both
            // commits land.
            let other = db.open().await;
            let held_b = tokio::time::timeout(PROMPT, other.lock_integration(b))
                .await
                .expect("locking b must not wait for a")
                .unwrap();
            held_b.commit_data(&json!({"n": "b2"})).await.unwrap();
            held_a.commit_data(&token_data("ya29.a2")).await.unwrap();
        }
        Backend::Sqlite => {
            // Documented: SQLite's lock is the database's write lock, so b waits for a.
            let other = store.clone();
            let waiter = tokio::spawn(async move {
                let lock = other.lock_integration(b).await.unwrap();
                lock.commit_data(&json!({"n": "b2"})).await.unwrap();
            });
            db.until_a_locker_waits().await;
            assert!(!waiter.is_finished());
            held_a.commit_data(&token_data("ya29.a2")).await.unwrap();
            tokio::time::timeout(PROMPT, waiter).await.unwrap().unwrap();
        }
    }
    assert_eq!(
        store.integration(a).await.unwrap().unwrap().data,
        token_data("ya29.a2")
    );
    assert_eq!(
        store.integration(b).await.unwrap().unwrap().data,
        json!({"n": "b2"})
    );
}

pub async fn dropping_or_releasing_a_lock_rolls_back(db: &TestDb) {
    let store = db.migrated().await;
    let id = seed_shop_with_ga4(&store).await;
    let status = IntegrationStatus {
        integration_id: id,
        needs_reconnect: true,
        reason: Some("invalid_grant".into()),
        updated_at: 1_760_000_000,
    };
    let notice = Notification {
        created_at: 1_760_000_000,
        shop_id: SHOP_A.into(),
        integration_id: Some(id),
        kind: "reconnect_required".into(),
        service: "Google Analytics".into(),
        message: "Please reconnect your Google Analytics account in the dashboard.".into(),
    };

    // Dropped: nothing written through it stays, and the lock is free again.
    let mut lock = store.lock_integration(id).await.unwrap();
    lock.set_integration_status(&status).await.unwrap();
    lock.insert_notification(&notice).await.unwrap();
    drop(lock);
    let again = tokio::time::timeout(PROMPT, store.lock_integration(id))
        .await
        .expect("a dropped lock must be released")
        .unwrap();
    assert_eq!(again.row().unwrap().data, token_data("ya29.v1"));
    assert!(store.integration_statuses().await.unwrap().is_empty());
    assert!(store.notifications(None, 10).await.unwrap().is_empty());

    // Released: the same.
    let mut lock = again;
    lock.set_integration_status(&status).await.unwrap();
    lock.release().await.unwrap();
    assert!(store.integration_statuses().await.unwrap().is_empty());

    // Committed without new data: what was written through the lock stays; data unchanged.
    let mut lock = tokio::time::timeout(PROMPT, store.lock_integration(id))
        .await
        .unwrap()
        .unwrap();
    lock.set_integration_status(&status).await.unwrap();
    lock.insert_notification(&notice).await.unwrap();
    lock.commit().await.unwrap();
    assert_eq!(store.integration_statuses().await.unwrap(), [status]);
    assert_eq!(
        store.notifications(Some(SHOP_A), 10).await.unwrap(),
        [notice]
    );
    assert_eq!(
        store.integration(id).await.unwrap().unwrap().data,
        token_data("ya29.v1")
    );

    // And the lock is free once more.
    tokio::time::timeout(PROMPT, store.lock_integration(id))
        .await
        .unwrap()
        .unwrap()
        .release()
        .await
        .unwrap();
}

pub async fn lock_of_a_missing_integration(db: &TestDb) {
    let store = db.migrated().await;
    let lock = store.lock_integration(424_242).await.unwrap();
    assert!(lock.row().is_none());
    let err = lock.commit_data(&json!({"token": "x"})).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::IntegrationNotFound {
            integration_id: 424_242,
            ..
        }
    ));
    // The failed commit rolled back and freed the lock.
    tokio::time::timeout(PROMPT, store.lock_integration(424_242))
        .await
        .unwrap()
        .unwrap()
        .release()
        .await
        .unwrap();
}

pub async fn lock_wait_is_bounded(db: &TestDb) {
    let store = db.migrated().await;
    let other = db.open().await;
    let id = seed_shop_with_ga4(&store).await;
    let held = store.lock_integration(id).await.unwrap();
    let wait = Duration::from_millis(300);
    // The same pool (SQLite: the in-process queue) and another pool (SQLite: BEGIN IMMEDIATE
    // against the busy handler; PostgreSQL: lock_timeout) both give up after `wait`, well
    // before SQLite's 5 s busy timeout.
    for contender in [&store, &other] {
        let started = Instant::now();
        let err = contender
            .lock_integration_within(id, wait)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::LockTimeout { integration_id, .. } if integration_id == id),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
    held.release().await.unwrap();
    // The abandoned attempts left nothing locked behind them.
    for contender in [&other, &store] {
        let lock = tokio::time::timeout(PROMPT, contender.lock_integration(id))
            .await
            .unwrap()
            .unwrap();
        lock.commit_data(&token_data("ya29.after")).await.unwrap();
    }
    assert_eq!(
        store.integration(id).await.unwrap().unwrap().data,
        token_data("ya29.after")
    );
}
