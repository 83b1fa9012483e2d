//! The audit trail: who got which shop's token, when — never the token. Events are queued and
//! written in batches by one task, so a token vend never waits for a database write; if the
//! queue is full (the store is down), events are dropped and counted, and vends go on.
//!
//! Refusals repeat when someone guesses (2,000 made-up leases, a loop of connections from a
//! uid that is not allowed): the first of a kind is written at once, the rest from the same uid
//! within [`AGGREGATE_WINDOW`] become one summary row (`… and N more`), so guessing cannot flood
//! the table. Every detail text passes [`redaction::text`] on the way to the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::{AuditEvent, Store};

const QUEUE: usize = 16_384;
const BATCH: usize = 500;
/// How long the writer waits for more events after the first before it writes a batch.
const LINGER: Duration = Duration::from_millis(50);
/// Repeated refusals of one kind from one uid within this window share one summary row.
pub const AGGREGATE_WINDOW: Duration = Duration::from_secs(60);

/// Outcomes that a guesser repeats and that are aggregated.
fn aggregated(event: &AuditEvent) -> bool {
    matches!(
        event.outcome.as_str(),
        "UnknownLease" | "NotPermitted" | "LeaseRevoked" | "LeaseExpired" | "WrongShop"
    )
}

struct Window {
    opened_ms: i64,
    more: u64,
    last: AuditEvent,
}

/// Folds repeated refusals into summary rows; everything else passes through.
#[derive(Default)]
pub struct Aggregator {
    open: HashMap<(Option<u32>, String, String), Window>,
}

impl Aggregator {
    /// Takes `event`; returns what to write now.
    pub fn push(&mut self, event: AuditEvent, out: &mut Vec<AuditEvent>) {
        if !aggregated(&event) {
            out.push(event);
            return;
        }
        let key = (event.peer_uid, event.action.clone(), event.outcome.clone());
        let window_ms = AGGREGATE_WINDOW.as_millis() as i64;
        match self.open.get_mut(&key) {
            Some(w) if event.at_ms - w.opened_ms < window_ms => {
                w.more += 1;
                w.last = event;
            }
            _ => {
                if let Some(w) = self.open.remove(&key) {
                    out.extend(summary(w));
                }
                self.open.insert(
                    key,
                    Window {
                        opened_ms: event.at_ms,
                        more: 0,
                        last: event.clone(),
                    },
                );
                out.push(event);
            }
        }
    }

    /// Closes windows older than [`AGGREGATE_WINDOW`] at `now_ms` (all of them with `None`),
    /// returning their summary rows.
    pub fn close(&mut self, now_ms: Option<i64>, out: &mut Vec<AuditEvent>) {
        let window_ms = AGGREGATE_WINDOW.as_millis() as i64;
        let expired: Vec<_> = self
            .open
            .iter()
            .filter(|(_, w)| now_ms.is_none_or(|n| n - w.opened_ms >= window_ms))
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            if let Some(w) = self.open.remove(&key) {
                out.extend(summary(w));
            }
        }
    }
}

fn summary(w: Window) -> Option<AuditEvent> {
    (w.more > 0).then(|| AuditEvent {
        detail: Some(format!(
            "and {} more like it from this uid within {} s (aggregated; the last at {} ms)",
            w.more,
            AGGREGATE_WINDOW.as_secs(),
            w.last.at_ms
        )),
        ..w.last
    })
}

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

/// Writes `batch` (details redacted), retrying a busy store for a while; then clears it.
async fn write(store: &Store, batch: &mut Vec<AuditEvent>) {
    if batch.is_empty() {
        return;
    }
    for e in batch.iter_mut() {
        if let Some(d) = &e.detail
            && let std::borrow::Cow::Owned(r) = redaction::text(d)
        {
            e.detail = Some(r);
        }
    }
    let mut delay = Duration::from_millis(100);
    loop {
        match store.insert_audit(batch).await {
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

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The running writer.
pub struct AuditWriter {
    handle: tokio::task::JoinHandle<()>,
    stop: Arc<tokio::sync::Notify>,
}

impl AuditWriter {
    /// Writes what is queued and every open summary row, then ends — even while sinks live on
    /// (connections still open at shutdown hold them) — waiting at most `within`.
    pub async fn finish(self, within: Duration) {
        self.stop.notify_one();
        if tokio::time::timeout(within, self.handle).await.is_err() {
            tracing::warn!("the audit writer did not finish in {} s", within.as_secs());
        }
    }
}

/// Starts the writer; it runs until every sink is dropped or [`AuditWriter::finish`], then
/// flushes and ends.
pub fn start(store: Store) -> (AuditSink, AuditWriter) {
    let (tx, mut rx) = mpsc::channel::<AuditEvent>(QUEUE);
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = stop.clone();
    let handle = tokio::spawn(async move {
        let mut aggregator = Aggregator::default();
        let mut batch = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let open = tokio::select! {
                first = rx.recv() => match first {
                    Some(first) => {
                        aggregator.push(first, &mut batch);
                        // Linger a moment for more: a steady stream of vends then costs a
                        // few writes a second instead of one write (and one fsync) per vend.
                        let linger = tokio::time::sleep(LINGER);
                        tokio::pin!(linger);
                        let mut open = true;
                        while batch.len() < BATCH {
                            tokio::select! {
                                next = rx.recv() => match next {
                                    Some(e) => aggregator.push(e, &mut batch),
                                    None => {
                                        aggregator.close(None, &mut batch);
                                        open = false;
                                        break;
                                    }
                                },
                                _ = &mut linger => break,
                            }
                        }
                        open
                    }
                    None => {
                        aggregator.close(None, &mut batch);
                        false
                    }
                },
                _ = tick.tick() => {
                    aggregator.close(Some(now_ms()), &mut batch);
                    true
                }
                _ = stopping.notified() => {
                    rx.close();
                    while let Ok(e) = rx.try_recv() {
                        aggregator.push(e, &mut batch);
                    }
                    aggregator.close(None, &mut batch);
                    false
                }
            };
            write(&store, &mut batch).await;
            if !open {
                break;
            }
        }
    });
    (
        AuditSink {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        },
        AuditWriter { handle, stop },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_ms: i64, uid: u32, outcome: &str) -> AuditEvent {
        AuditEvent {
            at_ms,
            peer_uid: Some(uid),
            peer_pid: Some(7),
            action: "token".into(),
            shop_id: Some("s".into()),
            provider: Some("ga4".into()),
            lease_id: None,
            outcome: outcome.into(),
            detail: None,
            trace_id: None,
        }
    }

    #[test]
    fn two_thousand_guesses_are_two_rows() {
        let mut a = Aggregator::default();
        let mut out = Vec::new();
        for i in 0..2000 {
            a.push(event(1_000 + i, 1000, "UnknownLease"), &mut out);
        }
        // Other uids and successful vends are not folded together with them.
        a.push(event(1_500, 2000, "UnknownLease"), &mut out);
        a.push(event(1_600, 1000, "ok"), &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        a.close(Some(1_000 + 59_000), &mut out);
        assert_eq!(out.len(), 3, "the window is still open");
        a.close(Some(1_000 + 60_000), &mut out);
        assert_eq!(out.len(), 4, "{out:?}");
        let summary = &out[3];
        assert_eq!(summary.outcome, "UnknownLease");
        assert_eq!(summary.peer_uid, Some(1000));
        assert!(
            summary
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("and 1999 more")),
            "{summary:?}"
        );
        // A guess after the window opens a new one and is written at once.
        a.push(event(70_000, 1000, "UnknownLease"), &mut out);
        assert_eq!(out.len(), 5);
        a.close(None, &mut out);
        assert_eq!(out.len(), 5, "nothing folded into the new window yet");
    }
}
