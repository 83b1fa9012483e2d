//! The storage layer (`credential_broker::store`) against real databases.
//!
//! Every test is written once, as an `async fn(&TestDb)`, and the `suite!` macro runs it twice:
//! `sqlite::NAME` on a temporary file (always) and `postgres::NAME` on a fresh database created
//! on the server named by `TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`)
//! and dropped afterwards, also when the test fails. Without that variable the PostgreSQL tests
//! print `SKIPPED: TEST_POSTGRES_URL not set` and pass, unless `BERRYBOO_REQUIRE_ALL_TESTS=1`,
//! in which case they fail.
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo nextest run -p credential-broker
//! ```
//!
//! Shop ids are UUIDs throughout because the PostgreSQL schema (like the dashboard's) types
//! them so; SQLite stores the same text.

// The suite's bodies are plain `async fn`s shared by both backends' `#[tokio::test]`s, which
// clippy's allow-unwrap-in-tests does not recognise as tests.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use credential_broker::store::{
    AuditEvent, Backend, IntegrationStatus, LeaseRecord, Notification, ShopKeyRecord, Store,
    StoreError,
};
use serde_json::{Value, json};

mod broker_tables;
#[path = "../common/mod.rs"]
mod common;
mod dashboard;
mod lock;
mod schema;

use broker_tables::*;
use common::{PROMPT, TestDb};
use dashboard::*;
use lock::*;
use schema::*;

const SHOP_A: &str = "cac9d883-015f-478e-a93f-32ef401582a3";
const SHOP_B: &str = "0b2a803b-8301-4692-8000-000000000002";
const SHOP_C: &str = "5d4c3b2a-1000-4000-8000-000000000003";
const GA4: i32 = 201;
const ADS: i32 = 202;

suite!(
    migrate_is_idempotent,
    check_dashboard_tables_names_what_is_missing,
    broker_runs_on_a_hand_made_dashboard_schema,
    shops_and_integrations_round_trip,
    integrations_of_is_newest_first,
    lock_serialises_lockers_in_one_process,
    lock_serialises_lockers_across_pools,
    lock_of_other_integrations,
    dropping_or_releasing_a_lock_rolls_back,
    lock_of_a_missing_integration,
    lock_wait_is_bounded,
    leases_insert_lookup_revoke_list,
    an_earlier_lease_table_is_upgraded,
    an_audit_table_from_before_traces_reads_and_is_upgraded,
    audit_batch_of_500_newest_first,
    notifications_newest_first,
    shop_keys_round_trip_and_revoke_their_leases,
    principals_add_list_remove,
    statuses_upsert,
    connect_errors_hide_the_password,
);

// Helpers

fn token_data(token: &str) -> Value {
    json!({
        "token": token,
        "refresh_token": "1//refresh-secret",
        "expires_at": "2026-10-21T12:00:00Z",
        "granted_scopes": ["https://www.googleapis.com/auth/analytics.readonly"],
        "property_id": "326784853",
    })
}

async fn seed_shop_with_ga4(store: &Store) -> i64 {
    store.upsert_shop(SHOP_A, "Berry Shop").await.unwrap();
    store
        .insert_integration(SHOP_A, GA4, &token_data("ya29.v1"), true, false)
        .await
        .unwrap()
}

fn audit_event(i: i64, shop: Option<&str>) -> AuditEvent {
    AuditEvent {
        at_ms: 1_760_000_000_000 + i,
        peer_uid: (i % 2 == 0).then_some(1000 + i as u32),
        peer_pid: (i % 3 == 0).then_some(4000 + i as i32),
        action: "token".into(),
        shop_id: shop.map(str::to_owned),
        provider: (i % 2 == 0).then(|| "ga4".to_owned()),
        lease_id: Some(format!("lease-{i}")),
        outcome: if i % 5 == 0 { "denied" } else { "ok" }.into(),
        detail: (i % 5 == 0).then(|| format!("detail {i}")),
        trace_id: (i % 4 == 0).then(|| format!("{:032x}", i + 1)),
    }
}
