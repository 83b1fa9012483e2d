//! The schema: migrations, the dashboard's tables as the broker finds them.

use super::*;

pub async fn migrate_is_idempotent(db: &TestDb) {
    // Two brokers starting at once on a new database must not trip over each other's DDL.
    let store = db.open().await;
    let other = db.open().await;
    let (a, b) = tokio::join!(store.migrate(), other.migrate());
    a.unwrap();
    b.unwrap();
    store.migrate().await.unwrap();
    other.migrate().await.unwrap();
    other.ensure_broker_tables().await.unwrap();
    store.check_dashboard_tables().await.unwrap();

    assert!(store.shops().await.unwrap().is_empty());
    assert!(store.integrations(None).await.unwrap().is_empty());
    assert!(store.leases(None, true, 0).await.unwrap().is_empty());
    assert!(store.audit(None, 10).await.unwrap().is_empty());
    assert!(store.notifications(None, 10).await.unwrap().is_empty());
    assert!(store.integration_statuses().await.unwrap().is_empty());

    // Data written before a re-migration survives it.
    let id = seed_shop_with_ga4(&store).await;
    store.migrate().await.unwrap();
    assert_eq!(
        store.integration(id).await.unwrap().unwrap().data,
        token_data("ya29.v1")
    );

    if db.backend == Backend::Postgres {
        let ty = db
            .pg_text(
                "SELECT data_type::text FROM information_schema.columns \
                 WHERE table_name = 'importers_integration' AND column_name = 'data'",
            )
            .await;
        assert_eq!(
            ty.as_deref(),
            Some("jsonb"),
            "migrate creates the dashboard's jsonb column"
        );
    }
}

pub async fn check_dashboard_tables_names_what_is_missing(db: &TestDb) {
    let store = db.open().await;
    let err = store.check_dashboard_tables().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MissingTable {
                table: "sources_shop",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("sources_shop"), "{text}");
    assert!(
        text.contains("run `credential-broker migrate --database URL`"),
        "{text}"
    );

    // The broker's own tables do not satisfy the check.
    store.ensure_broker_tables().await.unwrap();
    assert!(store.check_dashboard_tables().await.is_err());

    db.raw("CREATE TABLE sources_shop (id TEXT PRIMARY KEY, name TEXT NOT NULL)")
        .await;
    let err = store.check_dashboard_tables().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MissingTable {
                table: "importers_integration",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("importers_integration"), "{err}");

    // A table of that name that is not the dashboard's is named too.
    db.raw("CREATE TABLE importers_integration (id BIGINT PRIMARY KEY, shop_id TEXT)")
        .await;
    let err = store.check_dashboard_tables().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MissingColumn {
                column: "integration_type",
                ..
            }
        ),
        "{err:?}"
    );

    if db.backend == Backend::Sqlite {
        // `serve` opens without creating: a mistyped path fails and creates nothing.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typo.db");
        let err = Store::open(&format!("sqlite://{}", path.display()), false)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::DatabaseMissing { .. }), "{err:?}");
        assert!(
            err.to_string().contains("credential-broker migrate"),
            "{err}"
        );
        assert!(!path.exists());

        // `migrate` creates it, and its directory, readable by the owner only.
        let path = dir.path().join("new/dir/broker.db");
        let created = Store::open(&format!("sqlite:{}", path.display()), true)
            .await
            .unwrap();
        created.migrate().await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        // An in-memory database works and keeps its contents across pooled connections.
        let mem = Store::open("sqlite::memory:", false).await.unwrap();
        mem.migrate().await.unwrap();
        mem.upsert_shop(SHOP_A, "Memory").await.unwrap();
        let reads = (0..8).map(|_| mem.shops());
        for shops in futures::future::join_all(reads).await {
            assert_eq!(shops.unwrap().len(), 1);
        }
    }
}

/// The dashboard's schema as it really is (PostgreSQL: `json` data, uuid shop ids, `integer`
/// ids, extra columns; SQLite: Django's naive timestamps), created by hand: the broker must
/// work on it without changing it.
pub async fn broker_runs_on_a_hand_made_dashboard_schema(db: &TestDb) {
    match db.backend {
        Backend::Postgres => {
            db.raw(&format!(
                "CREATE TABLE sources_shop (
                     id uuid PRIMARY KEY, name varchar(255) NOT NULL,
                     created timestamptz NOT NULL DEFAULT now());
                 CREATE TABLE importers_integration (
                     id serial PRIMARY KEY,
                     shop_id uuid NOT NULL REFERENCES sources_shop (id),
                     integration_type integer NOT NULL, data json NOT NULL,
                     active boolean NOT NULL, deleted boolean NOT NULL,
                     created timestamptz NOT NULL, updated timestamptz NOT NULL);
                 INSERT INTO sources_shop (id, name) VALUES ('{SHOP_A}', 'Berry Shop');
                 INSERT INTO importers_integration
                     (shop_id, integration_type, data, active, deleted, created, updated)
                 VALUES ('{SHOP_A}', {GA4},
                     '{{\"token\": \"ya29.dash\", \"refresh_token\": \"1//r\", \"nested\": {{\"a\": [1, 2]}}}}',
                     true, false, '2024-05-01 10:00:00+00', '2024-05-01 10:00:00+00');"
            ))
            .await;
        }
        Backend::Sqlite => {
            db.raw(&format!(
                "CREATE TABLE sources_shop (id varchar(36) PRIMARY KEY, name varchar(255) NOT NULL);
                 CREATE TABLE importers_integration (
                     id integer PRIMARY KEY AUTOINCREMENT,
                     shop_id varchar(36) NOT NULL REFERENCES sources_shop (id),
                     integration_type integer NOT NULL, data text NOT NULL,
                     active bool NOT NULL, deleted bool NOT NULL,
                     created datetime NOT NULL, updated datetime NOT NULL);
                 INSERT INTO sources_shop (id, name) VALUES ('{SHOP_A}', 'Berry Shop');
                 INSERT INTO importers_integration
                     (shop_id, integration_type, data, active, deleted, created, updated)
                 VALUES ('{SHOP_A}', {GA4},
                     '{{\"token\": \"ya29.dash\", \"refresh_token\": \"1//r\", \"nested\": {{\"a\": [1, 2]}}}}',
                     1, 0, '2024-05-01 10:00:00.123456', 'not a timestamp');"
            ))
            .await;
        }
    }
    let columns_before = describe_dashboard(db).await;

    let store = Store::open(&db.url, false).await.unwrap();
    store.check_dashboard_tables().await.unwrap();
    store.ensure_broker_tables().await.unwrap();
    store.ensure_broker_tables().await.unwrap();

    assert_eq!(
        store.shop(SHOP_A).await.unwrap().unwrap().name,
        "Berry Shop"
    );
    // Not a uuid: simply not found, no cast error.
    assert_eq!(store.shop("not-a-uuid").await.unwrap(), None);
    assert!(
        store
            .integrations_of("not-a-uuid", GA4)
            .await
            .unwrap()
            .is_empty()
    );

    let rows = store.integrations_of(SHOP_A, GA4).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.data["token"], "ya29.dash");
    assert_eq!(row.data["nested"], json!({"a": [1, 2]}));
    let may_2024 = "2024-05-01T10:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    match db.backend {
        Backend::Postgres => assert_eq!(row.updated, Some(may_2024)),
        Backend::Sqlite => {
            assert_eq!(
                row.created,
                Some(may_2024 + chrono::Duration::microseconds(123_456))
            );
            assert_eq!(row.updated, None, "garbage timestamps read as None");
        }
    }

    // Refresh-style write through the lock, and a dashboard-style write.
    let lock = store.lock_integration(row.id).await.unwrap();
    lock.commit_data(&token_data("ya29.refreshed"))
        .await
        .unwrap();
    assert_eq!(
        store.integration(row.id).await.unwrap().unwrap().data,
        token_data("ya29.refreshed")
    );
    store
        .set_integration_data(row.id, &token_data("ya29.reconnected"))
        .await
        .unwrap();
    let reread = store.integration(row.id).await.unwrap().unwrap();
    assert_eq!(reread.data, token_data("ya29.reconnected"));
    assert!(reread.updated.unwrap() > may_2024);

    // Seeding writes through the id column's own type.
    store.upsert_shop(SHOP_B, "Second").await.unwrap();
    let second = store
        .insert_integration(SHOP_B, ADS, &json!({"customer_id": "123"}), true, false)
        .await
        .unwrap();
    assert_eq!(
        store.integration(second).await.unwrap().unwrap().shop_id,
        SHOP_B
    );

    // The broker's tables work beside them.
    store
        .insert_audit(&[audit_event(1, Some(SHOP_A))])
        .await
        .unwrap();
    assert_eq!(store.audit(Some(SHOP_A), 5).await.unwrap().len(), 1);

    // And the dashboard's tables are exactly as they were.
    assert_eq!(describe_dashboard(db).await, columns_before);
}

/// The dashboard tables' columns and types, to prove nothing altered them.
pub async fn describe_dashboard(db: &TestDb) -> String {
    match db.backend {
        Backend::Postgres => db
            .pg_text(
                "SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' \
                 ORDER BY table_name, column_name) FROM information_schema.columns \
                 WHERE table_name IN ('sources_shop', 'importers_integration')",
            )
            .await
            .unwrap(),
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let sql: Vec<String> = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE tbl_name IN \
                 ('sources_shop', 'importers_integration') ORDER BY name",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            sql.join(";")
        }
    }
}
