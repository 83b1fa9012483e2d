//! The Prometheus `/metrics` endpoint of berryboo's long-running processes: the credential
//! broker (`serve --metrics`), and the agent host's gateway and pipeline. Each process keeps its
//! own [`Registry`] of counters, gauges and histograms (prometheus-client); this crate serves
//! it in the Prometheus text format.
//!
//! Whoever reaches the port can scrape, so a scrape must cost the process nothing it cannot
//! afford, however many arrive: HTTP/1 only, at most [`MAX_CONNECTIONS`] at once, 5 s to send
//! the headers and 60 s per connection, and the [`BeforeScrape`] hook (values counted in a
//! database) runs at most once per [`HOOK_INTERVAL`], one at a time, bounded by
//! [`HOOK_TIMEOUT`]; scrapes in between read what it counted last. Loopback by default (one
//! port per process: [`BROKER_ADDR`], [`GATEWAY_ADDR`], [`PIPELINE_ADDR`]); another address is the operator's choice and is logged as a warning.
//! An address that is taken does not stop the process: metrics are not worth an outage, so the
//! endpoint says so and keeps trying. Accepted connections get `TCP_NODELAY`.

#![deny(missing_docs)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use prometheus_client;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Where the broker's `--metrics` without an address listens.
pub const BROKER_ADDR: &str = "127.0.0.1:9464";
/// Where the gateway's `--metrics` without an address listens (on the broker's host too, so
/// not the broker's port).
pub const GATEWAY_ADDR: &str = "127.0.0.1:9465";
/// Where the pipeline's `--metrics` without an address listens.
pub const PIPELINE_ADDR: &str = "127.0.0.1:9466";
/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// The hook runs at most this often, however often the endpoint is scraped.
pub const HOOK_INTERVAL: Duration = Duration::from_secs(5);
/// The hook is given up after this long (the values it set last stay).
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one connection is served (kept-alive scrapes included).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Pause before binding a taken address again.
const RETRY_BIND: Duration = Duration::from_secs(10);

/// Work done before a scrape for values read from elsewhere (e.g. live leases counted in the
/// database): it sets gauges the registry then encodes.
pub type BeforeScrape = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A running endpoint; it stops (its connections too) when dropped.
#[derive(Debug)]
pub struct Endpoint {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Scrape {
    registry: Arc<Registry>,
    hook: Option<Hook>,
}

#[derive(Clone)]
struct Hook {
    run: BeforeScrape,
    /// When it last ran; held while it runs, so concurrent scrapes wait for one run.
    last: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

/// Serves `registry` at `http://ADDR/metrics` until the returned [`Endpoint`] is dropped. Logs
/// `metrics on http://ADDR/metrics` once listening; if `addr` is taken, logs an error and
/// tries again every 10 s.
pub fn serve(addr: SocketAddr, registry: Arc<Registry>, before: Option<BeforeScrape>) -> Endpoint {
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "metrics on {addr}, not a loopback address: anyone who reaches it can read the numbers (no shop, no secret); firewall it"
        );
    }
    let scrape = scrape_state(registry, before);
    let task = tokio::spawn(async move {
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return accept_loop(listener, scrape).await,
                Err(e) => {
                    tracing::error!(
                        "cannot serve metrics on {addr}: {e}; trying again in {} s",
                        RETRY_BIND.as_secs()
                    );
                    tokio::time::sleep(RETRY_BIND).await;
                }
            }
        }
    });
    Endpoint { task }
}

/// [`serve`] on a listener already bound (tests, and callers that must know the port first).
pub fn serve_listener(
    listener: TcpListener,
    registry: Arc<Registry>,
    before: Option<BeforeScrape>,
) -> Endpoint {
    let scrape = scrape_state(registry, before);
    Endpoint {
        task: tokio::spawn(accept_loop(listener, scrape)),
    }
}

fn scrape_state(registry: Arc<Registry>, before: Option<BeforeScrape>) -> Scrape {
    Scrape {
        registry,
        hook: before.map(|run| Hook {
            run,
            last: Arc::default(),
        }),
    }
}

async fn accept_loop(listener: TcpListener, scrape: Scrape) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("metrics on http://{addr}/metrics");
    }
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(scrape);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    // Owned here: dropping the endpoint (aborting this task) ends every connection too.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: pause instead of spinning.
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        // A scrape's headers and body must not wait for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(slot);
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn metrics(State(scrape): State<Scrape>) -> Response {
    if let Some(hook) = &scrape.hook {
        let mut last = hook.last.lock().await;
        if last.is_none_or(|at| at.elapsed() >= HOOK_INTERVAL) {
            if tokio::time::timeout(HOOK_TIMEOUT, (hook.run)())
                .await
                .is_err()
            {
                tracing::warn!(
                    "metrics: counting took over {} s; serving the last counts",
                    HOOK_TIMEOUT.as_secs()
                );
            }
            *last = Some(Instant::now());
        }
    }
    let mut body = String::new();
    match prometheus_text::encode(&mut body, &scrape.registry) {
        Ok(()) => (
            [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;

    use super::*;

    #[tokio::test]
    async fn scrapes_read_the_registry_and_run_the_hook_at_most_once_per_interval() {
        let mut registry = Registry::default();
        let calls: Counter = Counter::default();
        let live: Gauge<i64, AtomicI64> = Gauge::default();
        registry.register("berryboo_test_calls", "Calls.", calls.clone());
        registry.register("berryboo_test_live", "Live things.", live.clone());
        calls.inc_by(3);
        let runs = Arc::new(AtomicU32::new(0));
        let (hook_live, hook_runs) = (live.clone(), runs.clone());
        let before: BeforeScrape = Arc::new(move || {
            let (live, runs) = (hook_live.clone(), hook_runs.clone());
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                live.set(7);
            })
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let endpoint = serve_listener(listener, Arc::new(registry), Some(before));
        let url = format!("http://{addr}/metrics");
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(
            response.headers()["content-type"],
            prometheus_text::CONTENT_TYPE
        );
        let text = response.text().await.unwrap();
        assert!(
            text.contains("# TYPE berryboo_test_calls_total counter\n"),
            "{text}"
        );
        assert!(text.contains("berryboo_test_calls_total 3\n"), "{text}");
        assert!(text.contains("berryboo_test_live 7\n"), "{text}");
        // Forty more scrapes within the interval: the hook does not run again.
        for _ in 0..40 {
            assert!(reqwest::get(&url).await.unwrap().status().is_success());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            reqwest::get(format!("http://{addr}/other"))
                .await
                .unwrap()
                .status(),
            404
        );
        drop(endpoint);
        // Dropped: nothing answers any more (the listener closes with the task).
        let started = Instant::now();
        while reqwest::get(&url).await.is_ok() {
            assert!(started.elapsed() < Duration::from_secs(20), "still serving");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_taken_address_is_retried_not_fatal() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let endpoint = serve(addr, Arc::new(Registry::default()), None);
        tokio::task::yield_now().await;
        assert!(!endpoint.task.is_finished(), "it keeps trying");
        drop(endpoint);
    }
}
