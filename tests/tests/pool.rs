//! The agent host's shop pool, in process, over the real broker, sandbox and server binaries:
//! one set per shop shared by concurrent callers, each set reading only its shop's data, idle
//! sets evicted, the cap enforced least-recently-used first, children reaped and leases revoked.

use std::sync::Arc;
use std::time::Duration;

use agent_host::pool::ShopPool;
use agent_host::server_set::SetConfig;
use berryboo_e2e::{BrokerProc, Sandbox, bin, full_shop_id, full_shops_seed, ok};
use broker_proto::Provider;
use serde_json::json;

fn alive(pid: u32) -> bool {
    // A reaped child has no /proc entry; a zombie would still show `State: Z`.
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

async fn gone(pids: &[u32]) -> bool {
    for _ in 0..100 {
        if pids.iter().all(|p| !alive(*p)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn the_pool_shares_evicts_caps_and_reaps() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &url, &full_shops_seed(3))
        .await
        .unwrap();
    let broker = BrokerProc::start(&sandbox, &url, "warn", "").await.unwrap();
    let config = Arc::new(SetConfig {
        broker_socket: broker.socket.clone(),
        servers_dir: bin("ga4-mcp").parent().unwrap().to_path_buf(),
        api_base: Some(sandbox.base.clone()),
        lease_ttl: agent_host::server_set::HOST_LEASE_TTL,
        child_log: "warn".into(),
        host_key: None,
        metrics: Default::default(),
    });
    let pool = ShopPool::new(
        config,
        Provider::ALL.to_vec(),
        // Nothing goes idle by the clock here (a busy machine may take seconds per step):
        // the test ends idle sets with `sweep_idle_for(ZERO)`.
        Duration::from_secs(3600),
        2,
    );
    let (shop0, shop1, shop2) = (full_shop_id(0), full_shop_id(1), full_shop_id(2));

    // Concurrent callers for one shop share one start.
    let (a, b) = tokio::join!(pool.get(&shop0), pool.get(&shop0));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(Arc::ptr_eq(&a, &b), "one set per shop");
    assert_eq!(a.pids().len(), 4, "all four servers");
    assert_eq!(a.providers().len(), 4);
    let out = ok(&a.call("get_property_details", json!({})).await.unwrap());
    assert_eq!(out["property_id"], "properties/326784853", "{out}");
    ok(&a.call("get_campaigns", json!({"limit": 1})).await.unwrap());
    let pids0 = a.pids();
    drop((a, b));

    let one = pool.get(&shop1).await.unwrap();
    let pids1 = one.pids();
    assert_eq!(pool.live().await, 2);
    drop(one);

    // A third shop over the cap of 2: the least recently used idle set (shop 0) ends.
    let two = pool.get(&shop2).await.unwrap();
    assert_eq!(pool.live().await, 2);
    assert!(gone(&pids0).await, "shop 0's children are reaped");
    assert!(pids1.iter().all(|p| alive(*p)), "shop 1 is kept");

    // A set in use is never evicted, however idle; the others go once idle long enough.
    pool.sweep().await;
    assert_eq!(pool.live().await, 2, "not idle for an hour yet");
    pool.sweep_idle_for(Duration::ZERO).await;
    assert_eq!(pool.live().await, 1, "only the set in use is left");
    assert!(gone(&pids1).await, "shop 1's children are reaped");
    let pids2 = two.pids();
    drop(two);
    pool.sweep_idle_for(Duration::ZERO).await;
    assert_eq!(pool.live().await, 0);
    assert!(gone(&pids2).await);

    // An unknown shop is the broker's message; asked again at once, the pool repeats it
    // without asking the broker, and asks again once the pause is over.
    let failure = |r: Result<_, agent_host::server_set::SetError>| match r {
        Ok(_) => panic!("a set for an unknown shop"),
        Err(e) => e.to_string(),
    };
    let e = failure(pool.get("no-such-shop").await);
    assert!(e.contains("no-such-shop") && !e.contains("next try"), "{e}");
    let again = failure(pool.get("no-such-shop").await);
    assert!(
        again.starts_with(&e) && again.contains("next try"),
        "{again}"
    );
    assert_eq!(pool.live().await, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let e = failure(pool.get("no-such-shop").await);
        if !e.contains("next try") {
            assert!(e.contains("no-such-shop"), "{e}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pool never tried again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every lease the pool took was revoked: 3 sets, one lease per server (4 each). The audit
    // trail is written behind the requests, so wait until its rows land.
    // Leases named by the successful events of `action` (a row may name several).
    let count = |events: &[serde_json::Value], action: &str| {
        events
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == "ok")
            .map(|e| e["lease_id"].as_str().unwrap_or("").split(',').count())
            .sum::<usize>()
    };
    let events = berryboo_e2e::audit_until(&sandbox, &url, |e| count(e, "lease_revoke") >= 12)
        .await
        .unwrap();
    assert_eq!(count(&events, "leases_create"), 12, "{events:?}");
    assert_eq!(count(&events, "lease_revoke"), 12, "{events:?}");
    pool.shutdown().await;
}
