//! Server sets for many shops at once: one set per shop, created on first use (concurrent
//! creations for one shop share one start), reused while in use, evicted after an idle time, and
//! capped — the least recently used idle set goes first when the cap is reached. A shop whose
//! set failed to start gets that failure back for [`RETRY_FAILED_START`] before the next try.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_proto::Provider;
use tokio::sync::{Mutex, OnceCell};

use crate::server_set::{Credentials, ServerSet, SetConfig, SetError};

/// How long a shop whose set could not start (no such shop, nothing connected, the broker
/// refusing) is answered with that failure before the pool tries again: a caller repeating
/// its request must not cost a broker request and four process starts every time, and an
/// operator's fix is still picked up within seconds.
pub const RETRY_FAILED_START: Duration = Duration::from_secs(5);

/// At most this many failed shops are remembered (the oldest are forgotten first).
const MAX_REMEMBERED_FAILURES: usize = 10_000;

/// A shop's set, or why it could not start: one outcome every concurrent caller shares (a
/// failed start is not tried again by each caller waiting on it).
type Started = Result<Arc<ServerSet>, Arc<SetError>>;

struct Entry {
    set: Arc<OnceCell<Started>>,
    last_used: Instant,
}

impl Entry {
    /// The running set, if its start succeeded.
    fn running(&self) -> Option<&Arc<ServerSet>> {
        self.set.get().and_then(|started| started.as_ref().ok())
    }
}

/// Server sets keyed by shop.
pub struct ShopPool {
    config: Arc<SetConfig>,
    providers: Vec<Provider>,
    idle: Duration,
    cap: usize,
    entries: Mutex<HashMap<String, Entry>>,
    /// Shops whose set failed to start: when, and why.
    failures: std::sync::Mutex<HashMap<String, (Instant, String)>>,
}

impl ShopPool {
    /// A pool starting sets of `providers`, evicting sets idle for `idle`, holding at most `cap`.
    pub fn new(
        config: Arc<SetConfig>,
        providers: Vec<Provider>,
        idle: Duration,
        cap: usize,
    ) -> Self {
        Self {
            config,
            providers,
            idle,
            cap: cap.max(1),
            entries: Mutex::new(HashMap::new()),
            failures: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, String)>> {
        // Plain inserts and removals: a poisoned map is still consistent.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shop's last start failure, while it is recent enough to repeat.
    fn recent_failure(&self, shop_id: &str) -> Option<SetError> {
        let failures = self.failures();
        let (at, reason) = failures.get(shop_id)?;
        let left = RETRY_FAILED_START.checked_sub(at.elapsed())?;
        Some(SetError::NotYet {
            reason: reason.clone(),
            retry_in_secs: left.as_secs().max(1),
        })
    }

    fn remember_failure(&self, shop_id: &str, error: &SetError) {
        let mut failures = self.failures();
        if failures.len() >= MAX_REMEMBERED_FAILURES {
            failures.retain(|_, (at, _)| at.elapsed() < RETRY_FAILED_START);
        }
        if failures.len() < MAX_REMEMBERED_FAILURES {
            failures.insert(shop_id.to_owned(), (Instant::now(), error.to_string()));
        }
    }

    /// The shop's set, starting it if needed.
    pub async fn get(&self, shop_id: &str) -> Result<Arc<ServerSet>, SetError> {
        if let Some(failed) = self.recent_failure(shop_id) {
            return Err(failed);
        }
        let cell = {
            let mut entries = self.entries.lock().await;
            let evicted = self.evict(&mut entries, shop_id, self.idle);
            drop(entries);
            for set in evicted {
                set.shutdown().await;
            }
            let mut entries = self.entries.lock().await;
            let entry = entries.entry(shop_id.to_owned()).or_insert_with(|| Entry {
                set: Arc::new(OnceCell::new()),
                last_used: Instant::now(),
            });
            entry.last_used = Instant::now();
            entry.set.clone()
        };
        let started = cell
            .get_or_init(|| async {
                ServerSet::start(
                    self.config.clone(),
                    Credentials::Broker {
                        shop_id: shop_id.to_owned(),
                    },
                    &self.providers,
                )
                .await
                .map(Arc::new)
                .map_err(Arc::new)
            })
            .await
            .clone();
        let mut entries = self.entries.lock().await;
        let result = started.map_err(SetError::StartFailed);
        match &result {
            // The failed cell goes (unless a newer start already replaced it), remembered under
            // the same lock: after the pause, the next caller tries again.
            Err(e) => {
                if entries
                    .get(shop_id)
                    .is_some_and(|en| Arc::ptr_eq(&en.set, &cell))
                {
                    entries.remove(shop_id);
                    self.remember_failure(shop_id, e);
                }
                return result;
            }
            // Idle time counts from when the caller got the set, not from when it asked: a
            // slow start must not make a set look idle the moment it is ready.
            Ok(_) => {
                if let Some(e) = entries.get_mut(shop_id) {
                    e.last_used = Instant::now();
                }
                self.failures().remove(shop_id);
            }
        }
        result
    }

    /// Sets to end: idle too long, and beyond the cap the least recently used (never `keep`,
    /// never one still in use elsewhere).
    fn evict(
        &self,
        entries: &mut HashMap<String, Entry>,
        keep: &str,
        idle: Duration,
    ) -> Vec<Arc<ServerSet>> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut take = |entries: &mut HashMap<String, Entry>, shop: &str| {
            if let Some(e) = entries.remove(shop)
                && let Some(set) = e.running()
            {
                out.push(set.clone());
            }
        };
        let idle: Vec<String> = entries
            .iter()
            .filter(|(shop, e)| {
                shop.as_str() != keep && now.duration_since(e.last_used) >= idle && in_use(e) == 0
            })
            .map(|(shop, _)| shop.clone())
            .collect();
        for shop in idle {
            take(entries, &shop);
        }
        // Room for `keep` when it is new; a sweep (no `keep`) only trims down to the cap.
        let limit = if keep.is_empty() || entries.contains_key(keep) {
            self.cap
        } else {
            self.cap - 1
        };
        while entries.len() > limit {
            let lru = entries
                .iter()
                .filter(|(_, e)| in_use(e) == 0)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(shop, _)| shop.clone());
            match lru {
                Some(shop) => take(entries, &shop),
                None => break,
            }
        }
        out
    }

    /// Ends every set.
    pub async fn shutdown(&self) {
        let sets: Vec<Arc<ServerSet>> = self
            .entries
            .lock()
            .await
            .drain()
            .filter_map(|(_, e)| e.running().cloned())
            .collect();
        futures::future::join_all(sets.iter().map(|s| s.shutdown())).await;
    }

    /// Shops with a live set.
    pub async fn live(&self) -> usize {
        self.entries
            .lock()
            .await
            .values()
            .filter(|e| e.running().is_some())
            .count()
    }

    /// Runs the eviction now (a periodic task calls this).
    pub async fn sweep(&self) {
        self.sweep_idle_for(self.idle).await;
    }

    /// Ends the sets not in use that have been idle for `idle` or more (and any beyond the
    /// cap): [`ShopPool::sweep`] with another idle time, e.g. zero to end every idle set now.
    pub async fn sweep_idle_for(&self, idle: Duration) {
        let evicted = {
            let mut entries = self.entries.lock().await;
            self.evict(&mut entries, "", idle)
        };
        for set in evicted {
            set.shutdown().await;
        }
    }
}

/// Holders of the set besides the pool: a caller still running with it, or one between
/// getting the cell and the set (its start under way or just done).
fn in_use(e: &Entry) -> usize {
    let waiting = Arc::strong_count(&e.set).saturating_sub(1);
    let running = e
        .running()
        .map(|s| Arc::strong_count(s).saturating_sub(1))
        .unwrap_or(0);
    waiting + running
}
