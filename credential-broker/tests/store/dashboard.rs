//! Shops and integrations, as the dashboard writes them and the broker reads them.

use super::*;

pub async fn shops_and_integrations_round_trip(db: &TestDb) {
    let store = db.migrated().await;
    store.upsert_shop(SHOP_B, "zebra Outlet").await.unwrap();
    store.upsert_shop(SHOP_A, "Old name").await.unwrap();
    store.upsert_shop(SHOP_A, "Berry Shop").await.unwrap();
    store.upsert_shop(SHOP_C, "apple Store").await.unwrap();

    let names: Vec<String> = store
        .shops()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["apple Store", "Berry Shop", "zebra Outlet"]);
    let shop = store.shop(SHOP_A).await.unwrap().unwrap();
    assert_eq!(
        (shop.id.as_str(), shop.name.as_str()),
        (SHOP_A, "Berry Shop")
    );
    assert_eq!(
        store
            .shop("00000000-0000-4000-8000-000000000000")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.shop("not-a-uuid").await.unwrap(), None);

    let nested = json!({
        "token": "ya29.a0Af",
        "refresh_token": "1//0g-refresh",
        "expires_at": 1_760_000_000,
        "granted_scopes": "https://www.googleapis.com/auth/analytics.readonly openid",
        "property_id": "326784853",
        "extra": {
            "list": [1, 2.5, -3, true, null, "ż", {"deep": ["x", {"deeper": 18_446_744_073_709_551_615u64}]}],
            "empty_obj": {},
            "empty_list": [],
            "quote\"key": "line\nbreak \u{1F353}",
        },
    });
    let ga4 = store
        .insert_integration(SHOP_A, GA4, &nested, true, false)
        .await
        .unwrap();
    let inactive = store
        .insert_integration(SHOP_A, GA4, &json!({"token": "old"}), false, false)
        .await
        .unwrap();
    let deleted = store
        .insert_integration(SHOP_A, ADS, &json!({"customer_id": "1"}), true, true)
        .await
        .unwrap();
    let other = store
        .insert_integration(SHOP_B, GA4, &json!({"property_id": "9"}), true, false)
        .await
        .unwrap();

    let row = store.integration(ga4).await.unwrap().unwrap();
    assert_eq!(row.data, nested);
    assert_eq!((row.shop_id.as_str(), row.integration_type), (SHOP_A, GA4));
    assert!(row.active && !row.deleted);
    let now = chrono::Utc::now();
    for at in [row.created.unwrap(), row.updated.unwrap()] {
        assert!(
            (now - at).num_seconds().abs() < 60,
            "{at} is not about now ({now})"
        );
    }
    assert!(!store.integration(inactive).await.unwrap().unwrap().active);
    assert!(store.integration(deleted).await.unwrap().unwrap().deleted);
    assert_eq!(store.integration(i64::MAX).await.unwrap(), None);

    // All rows, inactive and deleted included: by shop, then type, then newest first.
    let all: Vec<i64> = store
        .integrations(None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let mut expected = vec![
        (SHOP_A, GA4, inactive),
        (SHOP_A, GA4, ga4),
        (SHOP_A, ADS, deleted),
    ];
    expected.push((SHOP_B, GA4, other));
    expected.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    assert_eq!(all, expected.iter().map(|e| e.2).collect::<Vec<_>>());
    let of_a: Vec<i64> = store
        .integrations(Some(SHOP_A))
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(of_a, [inactive, ga4, deleted]);
    assert!(store.integrations(Some(SHOP_C)).await.unwrap().is_empty());

    // The shop must exist (foreign key), and updates must find their row.
    assert!(
        store
            .insert_integration(
                "00000000-0000-4000-8000-000000000000",
                GA4,
                &json!({}),
                true,
                false
            )
            .await
            .is_err()
    );
    let err = store
        .set_integration_data(i64::MAX, &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IntegrationNotFound { .. }),
        "{err:?}"
    );
}

pub async fn integrations_of_is_newest_first(db: &TestDb) {
    let store = db.migrated().await;
    store.upsert_shop(SHOP_A, "Berry Shop").await.unwrap();
    store.upsert_shop(SHOP_B, "Other").await.unwrap();
    let first = store
        .insert_integration(SHOP_A, GA4, &json!({"n": 1}), true, false)
        .await
        .unwrap();
    let second = store
        .insert_integration(SHOP_A, GA4, &json!({"n": 2}), false, false)
        .await
        .unwrap();
    let third = store
        .insert_integration(SHOP_A, GA4, &json!({"n": 3}), true, true)
        .await
        .unwrap();
    store
        .insert_integration(SHOP_A, ADS, &json!({"n": 4}), true, false)
        .await
        .unwrap();
    store
        .insert_integration(SHOP_B, GA4, &json!({"n": 5}), true, false)
        .await
        .unwrap();

    let ids = |rows: Vec<credential_broker::store::IntegrationRow>| {
        rows.iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.integrations_of(SHOP_A, GA4).await.unwrap()),
        [third, second, first]
    );

    // The dashboard rewrites the oldest (a reconnect): it becomes the newest.
    store
        .set_integration_data(first, &json!({"n": 1, "reconnected": true}))
        .await
        .unwrap();
    let rows = store.integrations_of(SHOP_A, GA4).await.unwrap();
    assert_eq!(ids(rows.clone()), [first, third, second]);
    assert!(rows.windows(2).all(|w| w[0].updated >= w[1].updated));
    assert_eq!(rows[0].data, json!({"n": 1, "reconnected": true}));

    assert!(store.integrations_of(SHOP_B, ADS).await.unwrap().is_empty());
}
