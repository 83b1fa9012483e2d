//! The audit trail: who got which shop's token, when — never the token. Events are queued and
//! written in batches by one task, so a token vend never waits for a database write; if the
//! queue is full (the store is down), events are dropped and counted, and vends go on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::{AuditEvent, Store};

const QUEUE: usize = 16_384;
const BATCH: usize = 500;

/// Where components send audit events.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditEvent>,
    dropped: Arc<AtomicU64>,
}

impl AuditSink {
    /// Queues `event` without waiting.
    pub fn record(&self, event: AuditEvent) {
        if self.tx.try_send(event).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "audit queue full or closed; dropping audit events"
                );
            }
        }
    }

    /// Events dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Starts the writer; it runs until every sink is dropped, then flushes and ends.
pub fn start(store: Store) -> (AuditSink, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<AuditEvent>(QUEUE);
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let mut delay = Duration::from_millis(100);
            loop {
                match store.insert_audit(&batch).await {
                    Ok(()) => break,
                    // On SQLite a refresh holds the write lock during its HTTP call; wait it out.
                    Err(e) if delay < Duration::from_secs(30) => {
                        tracing::warn!("audit write failed, retrying: {e}");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                    Err(e) => {
                        tracing::error!(lost = batch.len(), "audit write failed: {e}");
                        break;
                    }
                }
            }
            batch.clear();
        }
    });
    (
        AuditSink {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        },
        handle,
    )
}
