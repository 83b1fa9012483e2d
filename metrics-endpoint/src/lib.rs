//! The Prometheus `/metrics` endpoint of berryboo's long-running processes: the credential
//! broker (`serve --metrics`), and the agent host's gateway and pipeline. Each process keeps its
//! own [`Registry`] of counters, gauges and histograms (prometheus-client); this crate serves
//! it in the Prometheus text format.
//!
//! Loopback by default ([`DEFAULT_ADDR`]): the numbers name no shop and hold no secret, but
//! who may read them is the operator's choice, made by giving another address. Accepted
//! connections get `TCP_NODELAY`, so a scrape on a kept-alive connection is not held back by
//! Nagle's algorithm.

#![deny(missing_docs)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
pub use prometheus_client;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

/// Where `--metrics` without an address listens.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9464";

/// Work done before each scrape, for values read from elsewhere (e.g. live leases counted in
/// the database): it sets gauges the registry then encodes.
pub type BeforeScrape = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A listening endpoint; it stops when dropped.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// The address it listens on (the real port when `:0` was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Scrape {
    registry: Arc<Registry>,
    before: Option<BeforeScrape>,
}

/// Serves `registry` at `http://ADDR/metrics` until the returned [`Endpoint`] is dropped, and
/// logs `metrics on http://ADDR/metrics` (with the bound port).
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    before: Option<BeforeScrape>,
) -> std::io::Result<Endpoint> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(Scrape { registry, before });
    let listener = listener.tap_io(|tcp| {
        // A scrape's headers and body must not wait for the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("the metrics endpoint stopped: {e}");
        }
    });
    tracing::info!("metrics on http://{addr}/metrics");
    Ok(Endpoint { addr, task })
}

async fn metrics(State(scrape): State<Scrape>) -> Response {
    if let Some(before) = &scrape.before {
        before().await;
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
    use std::sync::atomic::AtomicI64;

    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;

    use super::*;

    #[tokio::test]
    async fn a_scrape_reads_the_registry_after_the_before_hook() {
        let mut registry = Registry::default();
        let calls: Counter = Counter::default();
        let live: Gauge<i64, AtomicI64> = Gauge::default();
        registry.register("berryboo_test_calls", "Calls.", calls.clone());
        registry.register("berryboo_test_live", "Live things.", live.clone());
        calls.inc_by(3);
        let hook_live = live.clone();
        let before: BeforeScrape = Arc::new(move || {
            let live = hook_live.clone();
            Box::pin(async move {
                live.set(7);
            })
        });
        let endpoint = serve(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(registry),
            Some(before),
        )
        .await
        .unwrap();
        let url = format!("http://{}/metrics", endpoint.addr());
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
        assert_eq!(live.get(), 7);
        assert_eq!(
            reqwest::get(format!("http://{}/other", endpoint.addr()))
                .await
                .unwrap()
                .status(),
            404
        );
        drop(endpoint);
    }
}
