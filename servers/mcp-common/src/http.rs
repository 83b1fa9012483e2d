//! The HTTP client every upstream call and token request goes through, and the base-URL
//! rewriting of `--api-base`: a leaf that both [`crate::credentials`] and [`crate::upstream`]
//! use, so neither depends on the other for it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::cli::UpstreamConfig;
use crate::error::UpstreamError;
use oauth_refresh::error_chain;

pub use oauth_refresh::rebase;

/// The shared reqwest client, built on first use: building it loads the system's CA
/// certificates (a few milliseconds and about a megabyte), which a server that is started and
/// then only asked for `tools/list` never needs. rustls, timeouts, no redirects (an API
/// redirect would carry the bearer token elsewhere), an identifying user agent.
pub struct HttpClient {
    timeout: Duration,
    user_agent: String,
    client: OnceLock<reqwest::Client>,
}

impl HttpClient {
    /// A lazily built client for `config`; does no I/O.
    pub fn new(config: &UpstreamConfig, user_agent: &str) -> Arc<Self> {
        Arc::new(Self {
            timeout: config.request_timeout,
            user_agent: user_agent.to_owned(),
            client: OnceLock::new(),
        })
    }

    /// The most one upstream request may take (`--request-timeout`), retries included; also
    /// the budget of a whole tool call.
    pub fn budget(&self) -> Duration {
        self.timeout
    }

    /// The client (cheap to clone), building it on the first call.
    pub fn get(&self) -> Result<reqwest::Client, UpstreamError> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let built = reqwest::Client::builder()
            .user_agent(&self.user_agent)
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10).min(self.timeout))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| UpstreamError::Transport(error_chain(&e)))?;
        Ok(self.client.get_or_init(|| built).clone())
    }
}
