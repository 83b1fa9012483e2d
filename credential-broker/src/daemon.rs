//! The daemon's entry points for the command line: opening the store, serving the socket, and
//! refreshing in the database without a running broker (`refresh --direct`).

use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::audit;
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::keys::KeyBook;
use crate::leases::LeaseBook;
use crate::metrics::BrokerMetrics;
use crate::server;
use crate::store::Store;
use crate::tokens::TokenService;

/// Opens the configured database (`create`: make a SQLite file that does not exist yet).
pub async fn open(config: &BrokerConfig, create: bool) -> Result<Store> {
    let url = config.database.as_deref().context("no database: pass --database URL or set BERRYBOO_DATABASE_URL (sqlite://PATH or postgres://…)")?;
    Ok(Store::open(url, create).await?)
}

/// The HTTP client for token endpoints: no redirects (a token request must not be
/// forwarded), 30 s per request.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!(
            "berryboo-credential-broker/",
            env!("CARGO_PKG_VERSION")
        ))
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")
}

/// `serve`: the daemon, until SIGINT or SIGTERM; audit rows are flushed before it returns.
pub async fn serve(config: BrokerConfig) -> Result<()> {
    let store = open(&config, false).await?;
    store.check_dashboard_tables().await?;
    store.ensure_broker_tables().await?;
    if config.google.is_none() {
        tracing::warn!(
            "no Google OAuth client configured: Google tokens are served while valid but cannot be refreshed (set BERRYBOO_GOOGLE_CLIENT_ID/SECRET)"
        );
    }
    let listener = server::bind(&config.socket, &config.allowed_uids)?;
    let config = Arc::new(config);
    let metrics = Arc::new(BrokerMetrics::default());
    let (sink, writer) = audit::start(store.clone());
    let tokens = TokenService::new(
        store.clone(),
        config.clone(),
        http_client()?,
        sink.clone(),
        metrics.clone(),
    );
    let broker = Arc::new(Broker {
        metrics,
        quotas: Default::default(),
        config: config.clone(),
        store: store.clone(),
        leases: LeaseBook::new(store.clone()),
        keys: KeyBook::new(store.clone()),
        tokens,
        audit: sink,
    });
    tracing::info!(socket = %config.socket.display(), allowed_uids = ?config.allowed_uids, admin_uids = ?config.admin_uids, "credential broker serving");
    let endpoint = config
        .metrics
        .map(|addr| serve_metrics(addr, &broker.metrics, &broker.tokens, &store));
    let sweeper = {
        let broker = broker.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            let mut minutes = 0u64;
            loop {
                tick.tick().await;
                broker.leases.evict_expired(Utc::now().timestamp());
                // At start and hourly: an idle shop's Meta token must not lapse unnoticed.
                if minutes.is_multiple_of(60)
                    && let Err(e) = broker.tokens.sweep_meta_expiry().await
                {
                    tracing::error!("cannot look at expiring Meta tokens: {}", e.message);
                }
                minutes += 1;
            }
        })
    };
    server::serve(broker.clone(), listener, cli_kit::shutdown_signal()).await;
    sweeper.abort();
    // Before the final audit flush: no scrape competes with it for the store.
    drop(endpoint);
    let _ = std::fs::remove_file(&config.socket);
    drop(broker);
    // Connections still open hold sinks: end the writer explicitly, after it flushed.
    writer.finish(std::time::Duration::from_secs(10)).await;
    tracing::info!("credential broker stopped");
    Ok(())
}

/// `refresh --direct`: refreshes in the database with this process's own OAuth clients.
pub async fn refresh_direct(
    config: &BrokerConfig,
    shop: Option<&str>,
) -> Result<Vec<broker_proto::RefreshResult>> {
    let store = open(config, false).await?;
    store.ensure_broker_tables().await?;
    let (sink, writer) = audit::start(store.clone());
    let tokens = TokenService::new(
        store.clone(),
        Arc::new(config.clone()),
        http_client()?,
        sink,
        Arc::new(BrokerMetrics::default()),
    );
    let results = tokens
        .refresh_now(shop)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    drop(tokens);
    writer.finish(std::time::Duration::from_secs(60)).await;
    Ok(results)
}

/// Serves `metrics` at `http://addr/metrics`; live leases and integrations needing
/// reconnection are counted in the store before a scrape (at most every few seconds, however
/// often it is scraped).
fn serve_metrics(
    addr: std::net::SocketAddr,
    metrics: &Arc<BrokerMetrics>,
    tokens: &Arc<TokenService>,
    store: &Store,
) -> metrics_endpoint::Endpoint {
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let (metrics, tokens, store) = (metrics.clone(), tokens.clone(), store.clone());
    let before: metrics_endpoint::BeforeScrape = Arc::new(move || {
        let (metrics, tokens, store) = (metrics.clone(), tokens.clone(), store.clone());
        Box::pin(async move {
            match store.live_lease_count(Utc::now().timestamp()).await {
                Ok(n) => {
                    metrics.live_leases.set(n);
                }
                Err(e) => tracing::warn!("cannot count live leases for metrics: {e}"),
            }
            match tokens.needing_reconnection().await {
                Ok(n) => {
                    metrics
                        .needing_reconnection
                        .set(i64::try_from(n).unwrap_or(i64::MAX));
                }
                Err(e) => tracing::warn!(
                    "cannot count integrations needing reconnection: {}",
                    e.message
                ),
            }
        })
    });
    metrics_endpoint::serve(addr, Arc::new(registry), Some(before))
}
