//! The claim life cycle on SQLite and, when `TEST_POSTGRES_URL` is set, on a fresh PostgreSQL
//! database: concurrent claimers never share an anomaly, a lapsed claim is taken again, only
//! the claimant can finish, outputs and notifications are idempotent.

use std::collections::HashSet;

use chrono::NaiveDate;
use pipeline_store::{
    NewAnomaly, NewNotification, NotificationKind, Recommendation, Severity, Status, Store,
};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn anomaly(shop: &str, severity: Severity) -> NewAnomaly {
    NewAnomaly {
        shop_id: shop.into(),
        source: "ga4".into(),
        metric: "revenue".into(),
        window: (day("2026-10-14"), day("2026-10-20")),
        baseline: (day("2026-09-16"), day("2026-10-13")),
        observed: 700.0,
        expected: 1000.0,
        severity,
        note: None,
    }
}

/// A fresh database per test: a SQLite file, or a PostgreSQL database dropped afterwards.
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        Db {
            url,
            _dir: Some(dir),
            pg_drop: None,
        }
    }

    async fn postgres() -> Option<Db> {
        let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
            if std::env::var_os("BERRYBOO_REQUIRE_ALL_TESTS").is_some() {
                panic!("TEST_POSTGRES_URL is not set but BERRYBOO_REQUIRE_ALL_TESTS is");
            }
            eprintln!("SKIPPED: PostgreSQL claim tests (set TEST_POSTGRES_URL to run them)");
            return None;
        };
        let name = format!("pipeline_{}", uuid::Uuid::new_v4().simple());
        let store = Store::open(&admin, false)
            .await
            .expect("connect to TEST_POSTGRES_URL");
        store
            .execute_admin(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        store.close().await;
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .expect("url with a database");
        Some(Db {
            url: format!("{base}/{name}"),
            _dir: None,
            pg_drop: Some((admin, name)),
        })
    }

    async fn drop_pg(&self) {
        if let Some((admin, name)) = &self.pg_drop {
            let store = Store::open(admin, false).await.expect("connect");
            store
                .execute_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop database");
            store.close().await;
        }
    }
}

async fn life_cycle(url: &str) {
    let store = Store::open(url, true).await.expect("open");
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate twice");
    let mut ids = Vec::new();
    for i in 0..40 {
        let sev = if i % 10 == 0 {
            Severity::Critical
        } else {
            Severity::Medium
        };
        ids.push(
            store
                .add_anomaly(&anomaly(&format!("shop-{}", i % 7), sev))
                .await
                .expect("add"),
        );
    }

    // Four workers claim concurrently: every anomaly goes to exactly one of them.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim(&format!("w{w}"), 3, 60_000, None, 3)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|a| a.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.expect("worker") {
            assert!(seen.insert(id), "anomaly {id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 40);

    // Only the claimant finishes; a second finish is refused.
    let first = store.anomaly(ids[0]).await.expect("read").expect("exists");
    let owner = first.claimed_by.clone().expect("claimed");
    assert!(!store.finish(ids[0], "someone-else").await.expect("finish"));
    assert!(store.finish(ids[0], &owner).await.expect("finish"));
    assert!(!store.finish(ids[0], &owner).await.expect("finish again"));
    assert_eq!(
        store
            .anomaly(ids[0])
            .await
            .expect("read")
            .expect("exists")
            .status,
        Status::Processed
    );

    // A claim that lapses is taken again by another worker, and the old claimant can no
    // longer finish it.
    let lapsing = store
        .add_anomaly(&anomaly("shop-x", Severity::High))
        .await
        .expect("add");
    let got = store
        .claim("dead", 1, -1, Some("shop-x"), 3)
        .await
        .expect("claim");
    assert_eq!(got.iter().map(|a| a.id).collect::<Vec<_>>(), vec![lapsing]);
    let again = store
        .claim("alive", 5, 60_000, Some("shop-x"), 3)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert!(!store.finish(lapsing, "dead").await.expect("finish"));
    assert!(store.finish(lapsing, "alive").await.expect("finish"));

    // A failed attempt gives the anomaly back; the last allowed attempt fails it.
    let flaky = store
        .add_anomaly(&anomaly("shop-y", Severity::Low))
        .await
        .expect("add");
    store
        .claim("w", 1, 60_000, Some("shop-y"), 2)
        .await
        .expect("claim");
    assert_eq!(
        store
            .give_back(flaky, "w", "boom", 2, 0)
            .await
            .expect("give back"),
        Some(Status::Open)
    );
    store
        .claim("w", 1, 60_000, Some("shop-y"), 2)
        .await
        .expect("claim");
    assert_eq!(
        store
            .give_back(flaky, "w", "boom", 2, 0)
            .await
            .expect("give back"),
        Some(Status::Failed)
    );
    assert!(
        store
            .claim("w", 1, 60_000, Some("shop-y"), 2)
            .await
            .expect("claim")
            .is_empty()
    );

    // A given-back anomaly waits out its retry delay; an operator's reopen clears it.
    let delayed = store
        .add_anomaly(&anomaly("shop-d", Severity::Low))
        .await
        .expect("add");
    store
        .claim("w", 1, 60_000, Some("shop-d"), 3)
        .await
        .expect("claim");
    assert_eq!(
        store
            .give_back(delayed, "w", "broker down", 3, 60_000)
            .await
            .expect("give back"),
        Some(Status::Open)
    );
    assert!(
        store
            .claim("w", 1, 60_000, Some("shop-d"), 3)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.reopen(&[delayed]).await.expect("reopen"), 1);
    assert_eq!(
        store
            .claim("w", 1, 60_000, Some("shop-d"), 3)
            .await
            .expect("claim")
            .len(),
        1
    );

    // Claims that lapsed too often are failed, not retried forever.
    let doomed = store
        .add_anomaly(&anomaly("shop-z", Severity::Low))
        .await
        .expect("add");
    store
        .claim("w", 1, -1, Some("shop-z"), 1)
        .await
        .expect("claim");
    assert_eq!(store.fail_exhausted(1).await.expect("fail"), 1);
    let d = store.anomaly(doomed).await.expect("read").expect("exists");
    assert_eq!(d.status, Status::Failed);
    assert!(d.last_error.expect("reason").contains("never finished"));

    // A badly written row (by a detector's SQL) is failed with the reason; the queue goes on.
    let bad = store
        .add_anomaly(&anomaly("shop-bad", Severity::Low))
        .await
        .expect("add");
    store
        .execute_admin(&format!(
            "UPDATE pipeline_anomaly SET window_start = '2026-13-45' WHERE id = {bad}"
        ))
        .await
        .expect("corrupt");
    let good = store
        .add_anomaly(&anomaly("shop-bad", Severity::Low))
        .await
        .expect("add");
    let got = store
        .claim("w", 10, 60_000, Some("shop-bad"), 3)
        .await
        .expect("claim");
    assert_eq!(got.iter().map(|a| a.id).collect::<Vec<_>>(), vec![good]);
    // It is now among the failed ones, and reading it names the row and the problem.
    let failed = store
        .anomalies(Some("shop-bad"), Some(Status::Failed), 10)
        .await
        .expect_err("the failed row is still unreadable");
    assert!(
        failed.to_string().contains(&format!(
            "anomaly {bad}: pipeline_anomaly.window_start \"2026-13-45\""
        )),
        "{failed}"
    );
    assert!(
        store
            .anomalies(Some("shop-bad"), Some(Status::Claimed), 10)
            .await
            .expect("list")
            .len()
            == 1
    );

    // Recommendations are one per anomaly and team, however often they are written.
    for summary in ["first", "second"] {
        store
            .put_recommendation(&Recommendation {
                anomaly_id: ids[0],
                team: "ga4".into(),
                shop_id: "shop-0".into(),
                outcome: "analysed".into(),
                summary: summary.into(),
                findings: vec!["a finding".into()],
                recommendations: vec!["do this".into()],
                analysis: serde_json::json!({"total": 1}),
                author: "analysis".into(),
                worker: owner.clone(),
            })
            .await
            .expect("put");
    }
    let recs = store
        .recommendations(Some(ids[0]), None)
        .await
        .expect("read");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].summary, "second");
    assert_eq!(recs[0].findings, vec!["a finding".to_owned()]);

    // Evidence of processed anomalies can be pruned; recommendations stay.
    store
        .put_evidence(&pipeline_store::Evidence {
            anomaly_id: ids[0],
            team: "ga4".into(),
            label: "daily".into(),
            shop_id: "shop-0".into(),
            account: "326784853".into(),
            tool: "run_report".into(),
            arguments: serde_json::json!({}),
            result: serde_json::json!({"rows": []}),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        })
        .await
        .expect("evidence");
    let stored = store
        .evidence(Some(ids[0]), None)
        .await
        .expect("read evidence");
    assert_eq!(
        stored[0].trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        "the trace id round-trips"
    );
    assert_eq!(
        store.prune_evidence(0).await.expect("prune"),
        0,
        "nothing that old"
    );
    assert_eq!(store.prune_evidence(i64::MAX).await.expect("prune"), 1);
    assert!(
        store
            .evidence(Some(ids[0]), None)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .recommendations(Some(ids[0]), None)
            .await
            .expect("read")
            .len(),
        1
    );

    // Notifications: one per shop, service, kind and day.
    let n = NewNotification {
        shop_id: "shop-0".into(),
        service: "Google Analytics".into(),
        kind: NotificationKind::Reconnect,
        day: "2026-10-21".into(),
        reason: "revoked".into(),
        subject: "Reconnect Google Analytics Integration".into(),
        body: "…".into(),
    };
    assert!(store.notify(&n).await.expect("notify").is_some());
    assert!(store.notify(&n).await.expect("notify").is_none());
    let next_day = NewNotification {
        day: "2026-10-22".into(),
        ..n.clone()
    };
    assert!(store.notify(&next_day).await.expect("notify").is_some());
    let connect = NewNotification {
        kind: NotificationKind::Connect,
        ..n
    };
    let stored = store.notify(&connect).await.expect("notify").expect("new");
    assert_eq!(
        store
            .notifications(Some("shop-0"), 10)
            .await
            .expect("list")
            .len(),
        3
    );
    assert_eq!(store.undelivered(3).await.expect("undelivered").len(), 3);
    // One host at a time delivers a notification; a failed attempt lets go of it.
    assert!(store.lock_delivery(stored.id, 60_000).await.expect("lock"));
    assert!(
        !store.lock_delivery(stored.id, 60_000).await.expect("lock"),
        "held by another host"
    );
    store
        .delivery(stored.id, Some("webhook answered 503"))
        .await
        .expect("failed attempt");
    assert!(
        store
            .lock_delivery(stored.id, 60_000)
            .await
            .expect("lock again")
    );
    store.delivery(stored.id, None).await.expect("delivered");
    assert!(
        !store.lock_delivery(stored.id, 60_000).await.expect("lock"),
        "delivered ones stay delivered"
    );
    assert_eq!(store.undelivered(3).await.expect("undelivered").len(), 2);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_on_sqlite() {
    let db = Db::sqlite();
    life_cycle(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_on_postgres() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    life_cycle(&db.url).await;
    db.drop_pg().await;
}

#[tokio::test]
async fn a_missing_sqlite_file_is_an_error_not_an_empty_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("typo.db").display());
    let err = Store::open(&url, false).await.expect_err("must fail");
    assert!(err.to_string().contains("typo.db"), "{err}");
    assert!(!dir.path().join("typo.db").exists());
}

/// A database a version without traces migrated: `migrate` (four at once) adds `trace_id` to
/// its evidence table, keeps its rows, and the new column is written and read.
async fn evidence_from_before_traces(url: &str) {
    let store = Store::open(url, true).await.expect("open");
    store
        .execute_admin(
            "CREATE TABLE pipeline_evidence (anomaly_id BIGINT NOT NULL, team TEXT NOT NULL, \
             label TEXT NOT NULL, shop_id TEXT NOT NULL, account TEXT NOT NULL, \
             tool TEXT NOT NULL, arguments TEXT NOT NULL, result TEXT NOT NULL, \
             created_ms BIGINT NOT NULL, PRIMARY KEY (anomaly_id, team, label)); \
             INSERT INTO pipeline_evidence VALUES (7, 'ga4', 'old', 'shop-0', '1', \
             'run_report', '{}', '{}', 1)",
        )
        .await
        .expect("the old table");
    // Several hosts start at once after the upgrade: each migrates, none fails.
    let others = [
        Store::open(url, false).await.expect("open"),
        Store::open(url, false).await.expect("open"),
        Store::open(url, false).await.expect("open"),
    ];
    let (a, b, c, d) = tokio::join!(
        store.migrate(),
        others[0].migrate(),
        others[1].migrate(),
        others[2].migrate()
    );
    for migrated in [a, b, c, d] {
        migrated.expect("every concurrent migrator succeeds");
    }
    for other in others {
        other.close().await;
    }
    store.migrate().await.expect("and again");
    let old = store.evidence(Some(7), None).await.expect("read");
    assert_eq!(old.len(), 1, "the old row is kept");
    assert_eq!(old[0].trace_id, None);
    store
        .put_evidence(&pipeline_store::Evidence {
            anomaly_id: 7,
            team: "ga4".into(),
            label: "new".into(),
            shop_id: "shop-0".into(),
            account: "1".into(),
            tool: "run_report".into(),
            arguments: serde_json::json!({}),
            result: serde_json::json!({}),
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
        })
        .await
        .expect("write with a trace");
    let both = store.evidence(Some(7), None).await.expect("read");
    assert_eq!(
        both.iter()
            .map(|e| e.trace_id.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("0af7651916cd43dd8448eb211c80319c"), None],
        "ordered by label: new, old"
    );
    store.close().await;
}

#[tokio::test]
async fn an_evidence_table_from_before_traces_gains_the_column_on_sqlite() {
    let db = Db::sqlite();
    evidence_from_before_traces(&db.url).await;
}

#[tokio::test]
async fn an_evidence_table_from_before_traces_gains_the_column_on_postgres() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    evidence_from_before_traces(&db.url).await;
    db.drop_pg().await;
}
