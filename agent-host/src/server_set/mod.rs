//! One shop's server set: leases from the credential broker, one MCP server process per
//! provider the shop has, an MCP client on each, the union of their tools.
//!
//! Least privilege for each child: the set never sees a token; each server gets a lease for its
//! own provider only (ga4-mcp cannot obtain the shop's Meta token), handed over on an inherited
//! socket (`--lease-fd N`) once the server made itself undumpable, never argv or the environment; and each child starts from a cleared
//! environment with an allow-list (`inherited`), so no database URL, model key, webhook secret
//! or app secret of the host reaches it. Dropping or shutting down the set revokes the leases
//! and ends the children; a child that dies is restarted once, after which its tools report a
//! clear error instead of hanging.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use broker_proto::client::BrokerClient;
use broker_proto::{HostKey, LeaseSecret, MissingProvider, Provider, ProviderAccount};
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::process::Command;
use tokio::sync::RwLock;
use tracing::Instrument as _;

mod lease;
mod spawn;

use lease::*;
use spawn::*;

/// How the servers get their credentials.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A lease from the broker for this shop.
    Broker {
        /// The shop.
        shop_id: String,
    },
    /// A static credentials file (no broker, no database).
    File(PathBuf),
}

/// Settings shared by every set.
#[derive(Debug, Clone)]
pub struct SetConfig {
    /// The broker's socket.
    pub broker_socket: PathBuf,
    /// Directory of the server binaries.
    pub servers_dir: PathBuf,
    /// Upstream base URL handed to the servers (the sandbox), if any.
    pub api_base: Option<String>,
    /// Lease lifetime.
    pub lease_ttl: Duration,
    /// `RUST_LOG` of the children.
    pub child_log: String,
    /// Proven to the broker before asking for leases, when the host's uid is only in
    /// `allowed_uids` ([`HostKey`]).
    pub host_key: Option<HostKey>,
    /// Where tool calls and live sets are counted (served only with `--metrics`).
    pub metrics: Arc<crate::metrics::HostMetrics>,
}

impl SetConfig {
    /// A connection to the broker that may create leases: the host key proven first when the
    /// host has one.
    pub async fn broker(&self) -> Result<BrokerClient, broker_proto::client::ClientError> {
        let mut broker = BrokerClient::connect(&self.broker_socket).await?;
        if let Some(key) = &self.host_key {
            broker.prove_host(key).await?;
        }
        Ok(broker)
    }
}

/// Why a set could not start or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// The broker refused the lease (unknown shop, no integration, …): its message is the
    /// guide's wording.
    #[error("{0}")]
    Broker(#[from] broker_proto::client::ClientError),
    /// No server of the set could start.
    #[error("no server could start for {0}: {1}")]
    NoServer(String, String),
    /// The shop's set failed to start moments ago: the same failure, until the pool tries
    /// again.
    #[error("{reason} (the next try is in {retry_in_secs} s)")]
    NotYet {
        /// The failure of the last start.
        reason: String,
        /// Seconds until the pool tries to start the set again.
        retry_in_secs: u64,
    },
    /// The shop's set could not start (shared by every caller that waited on that start).
    #[error(transparent)]
    StartFailed(Arc<SetError>),
    /// The server refused the call (e.g. arguments its schema does not accept): the caller's
    /// to correct; the server is fine.
    #[error("{service} refused the call: {}", error.message)]
    Rejected {
        /// Which service.
        service: &'static str,
        /// The server's JSON-RPC error.
        error: rmcp::ErrorData,
    },
    /// No tool of that name.
    #[error("no tool {0:?} in this session (/tools lists them)")]
    UnknownTool(String),
    /// The server behind the tool is gone.
    #[error("the {service} server stopped and could not be restarted: {reason}")]
    Unavailable {
        /// Which service.
        service: &'static str,
        /// Why.
        reason: String,
    },
    /// The set may no longer read the service: its lease was revoked, or the integration went
    /// away while the set lived.
    #[error("{service} is no longer available in this session: {reason}")]
    Ended {
        /// Which service.
        service: &'static str,
        /// Why.
        reason: String,
    },
}

/// The binary serving `provider`.
pub fn binary(provider: Provider) -> &'static str {
    match provider {
        Provider::Ga4 => "ga4-mcp",
        Provider::Gsc => "gsc-mcp",
        Provider::GoogleAds => "google-ads-mcp",
        Provider::MetaAds => "meta-ads-mcp",
    }
}

type Client = RunningService<RoleClient, ()>;

/// Puts a member's lease change back as pending if dropped before [`StillStale::settled`]:
/// a restart for a new lease whose call was dropped part-way is tried by the next call.
struct StillStale<'a>(Option<&'a AtomicBool>);

impl StillStale<'_> {
    /// The restart ran to its end (started or failed): nothing is pending any more.
    fn settled(mut self) {
        self.0 = None;
    }
}

impl Drop for StillStale<'_> {
    fn drop(&mut self) {
        if let Some(stale) = self.0 {
            stale.store(true, Ordering::SeqCst);
        }
    }
}

struct Member {
    provider: Provider,
    /// This server's lease (secret, id): for its own provider only. Replaced when the set
    /// recreates a lease that lapsed.
    lease: std::sync::Mutex<Option<(LeaseSecret, String)>>,
    tools: Arc<[Tool]>,
    /// The running server. Calls share it (an MCP client multiplexes requests, and the
    /// server answers them concurrently); a restart takes it exclusively.
    client: RwLock<Option<Client>>,
    /// Counts restarts, so of several calls that saw one server fail only the first restarts it.
    generation: AtomicU64,
    restarted: AtomicBool,
    pid: std::sync::atomic::AtomicU32,
    /// Why its tools no longer work (lease revoked, integration gone), once that is known.
    ended: std::sync::Mutex<Option<String>>,
    /// Its lease was replaced: the server restarts with the new one on the next call.
    stale: AtomicBool,
}

impl Member {
    fn lease(&self) -> Option<LeaseSecret> {
        lock(&self.lease).as_ref().map(|(secret, _)| secret.clone())
    }

    fn lease_id(&self) -> Option<String> {
        lock(&self.lease).as_ref().map(|(_, id)| id.clone())
    }

    fn ended(&self) -> Option<String> {
        lock(&self.ended).clone()
    }

    /// Its tools stop working with `reason`; the server is stopped once no call uses it (in
    /// the background: the renewal of the others must not wait for a long tool call).
    fn end(self: &Arc<Self>, reason: String) {
        *lock(&self.ended) = Some(reason);
        let member = self.clone();
        tokio::spawn(async move {
            if let Some(client) = member.client.write().await.take() {
                let _ = client.cancel().await;
            }
        });
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A shop's running servers.
pub struct ServerSet {
    label: String,
    credentials: Credentials,
    config: Arc<SetConfig>,
    /// The leases' ids (for logs), one per provider, when brokered.
    pub lease_ids: Vec<String>,
    /// Accounts each provider reads.
    pub accounts: Vec<ProviderAccount>,
    /// Providers asked for that the shop lacks, with the broker's reason.
    pub skipped: Vec<MissingProvider>,
    /// Providers whose server failed to start, with the reason.
    pub failed: Vec<(Provider, String)>,
    members: Vec<Arc<Member>>,
    by_tool: HashMap<String, usize>,
    closed: AtomicBool,
    /// The task renewing the leases while the set lives.
    renewal: Option<tokio::task::AbortHandle>,
}

/// Lifetime of the leases a host holds for its sets (renewed while the set lives).
pub const HOST_LEASE_TTL: Duration = Duration::from_secs(60);

impl ServerSet {
    /// Starts the servers of `providers` for `credentials`. With the broker, a lease is created
    /// first (an error carries the guide's message when the shop has none of them); providers
    /// the shop lacks are skipped with a warning; servers start concurrently.
    pub async fn start(
        config: Arc<SetConfig>,
        credentials: Credentials,
        providers: &[Provider],
    ) -> Result<Self, SetError> {
        let (label, granted, accounts, skipped) = match &credentials {
            Credentials::Broker { shop_id } => {
                let set = config
                    .broker()
                    .await?
                    .create_leases(shop_id, providers, config.lease_ttl.as_secs())
                    .await?;
                for m in &set.missing {
                    tracing::info!(shop = %shop_id, provider = %m.provider, "skipping: {}", m.error.message.replace('\n', " "));
                }
                let accounts = set
                    .leases
                    .iter()
                    .map(|l| ProviderAccount {
                        provider: l.provider,
                        account: l.account.clone(),
                    })
                    .collect();
                let granted: Vec<(Provider, Option<LeaseSecret>, Option<String>)> = set
                    .leases
                    .into_iter()
                    .map(|l| (l.provider, Some(l.lease), Some(l.lease_id)))
                    .collect();
                (format!("shop {shop_id}"), granted, accounts, set.missing)
            }
            Credentials::File(path) => (
                format!("credentials {}", path.display()),
                providers.iter().map(|p| (*p, None, None)).collect(),
                Vec::new(),
                Vec::new(),
            ),
        };
        let lease_ids: Vec<String> = granted.iter().filter_map(|g| g.2.clone()).collect();
        let started = futures::future::join_all(
            granted
                .iter()
                .map(|(p, lease, _)| spawn(&config, &credentials, lease.as_ref(), *p)),
        )
        .await;
        let mut members = Vec::new();
        let mut failed = Vec::new();
        let mut by_tool = HashMap::new();
        let mut unstarted = Vec::new();
        for ((provider, lease, lease_id), result) in granted.into_iter().zip(started) {
            match result {
                Ok((client, tools, pid)) => {
                    let index = members.len();
                    for t in tools.iter() {
                        by_tool.insert(t.name.to_string(), index);
                    }
                    members.push(Arc::new(Member {
                        provider,
                        lease: std::sync::Mutex::new(lease.zip(lease_id)),
                        tools,
                        client: RwLock::new(Some(client)),
                        generation: AtomicU64::new(0),
                        restarted: AtomicBool::new(false),
                        pid: std::sync::atomic::AtomicU32::new(pid),
                        ended: std::sync::Mutex::new(None),
                        stale: AtomicBool::new(false),
                    }));
                }
                Err(reason) => {
                    tracing::warn!(%provider, "{label}: {reason}");
                    failed.push((provider, reason));
                    unstarted.extend(lease);
                }
            }
        }
        // A lease whose server never started has nobody to use it.
        if !unstarted.is_empty() {
            revoke(&config.broker_socket, &unstarted, &label).await;
        }
        let leased = members.iter().any(|m| m.lease_id().is_some());
        let renewal = leased.then(|| {
            keep_alive(
                config.clone(),
                credentials.clone(),
                members.clone(),
                label.clone(),
            )
        });
        let set = Self {
            label,
            credentials,
            config,
            lease_ids,
            accounts,
            skipped,
            failed,
            members,
            by_tool,
            closed: AtomicBool::new(false),
            renewal,
        };
        // Counted until dropped.
        set.config.metrics.set_started();
        if set.members.is_empty() {
            let reasons = set
                .failed
                .iter()
                .map(|(p, r)| format!("{p}: {r}"))
                .collect::<Vec<_>>()
                .join("; ");
            let label = set.label.clone();
            set.shutdown().await;
            return Err(SetError::NoServer(label, reasons));
        }
        Ok(set)
    }

    /// Providers with a running server.
    pub fn providers(&self) -> Vec<Provider> {
        self.members.iter().map(|m| m.provider).collect()
    }

    /// Every tool, with the provider serving it.
    pub fn tools(&self) -> Vec<(Provider, &Tool)> {
        self.members
            .iter()
            .flat_map(|m| m.tools.iter().map(move |t| (m.provider, t)))
            .collect()
    }

    /// A tool by name.
    pub fn tool(&self, name: &str) -> Option<(Provider, &Tool)> {
        let m = &self.members[*self.by_tool.get(name)?];
        m.tools
            .iter()
            .find(|t| t.name == name)
            .map(|t| (m.provider, t))
    }

    /// The account `provider` reads, when the broker said.
    pub fn account(&self, provider: Provider) -> Option<&broker_proto::Account> {
        self.accounts
            .iter()
            .find(|a| a.provider == provider)
            .map(|a| &a.account)
    }

    /// Process ids of the children (for tests and diagnostics).
    pub fn pids(&self) -> Vec<u32> {
        self.members
            .iter()
            .map(|m| m.pid.load(Ordering::Relaxed))
            .filter(|p| *p != 0)
            .collect()
    }

    /// Calls `tool` with `arguments`. Calls share the running server; a server that died is
    /// restarted once (after that its tools fail fast with [`SetError::Unavailable`]), and
    /// a call the server refuses (bad arguments) is the caller's [`SetError::Rejected`], not a
    /// reason to restart anything. The call is a span of the caller's trace (a chat turn, a
    /// gateway request, an anomaly), whose context travels to the server in the request's
    /// `_meta`.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<CallToolResult, SetError> {
        // Only a tool a server lists becomes a label: a caller cannot mint series.
        let server = self
            .by_tool
            .get(tool)
            .map(|&i| binary(self.members[i].provider));
        // Counted when dropped: a call whose caller hung up or timed out counts as cancelled.
        let mut counted = CountedCall {
            set: self,
            server,
            tool,
            started: std::time::Instant::now(),
            outcome: "cancelled",
        };
        let label = telemetry::span_label(tool, server.is_some());
        let span = tracing::info_span!(
            "mcp_call",
            otel.kind = "client",
            otel.name = %format_args!("tools/call {label}"),
            otel.status_code = tracing::field::Empty,
            server = server.unwrap_or("unknown"),
            tool = label,
        );
        let result = self
            .call_uncounted(tool, arguments)
            .instrument(span.clone())
            .await;
        if !matches!(&result, Ok(r) if r.is_error != Some(true)) {
            span.record("otel.status_code", "ERROR");
        }
        counted.outcome = match &result {
            Ok(r) if r.is_error == Some(true) => "tool_error",
            Ok(_) => "ok",
            Err(SetError::Rejected { .. }) => "rejected",
            Err(SetError::Ended { .. }) => "ended",
            // A listed tool with arguments that are not an object.
            Err(SetError::UnknownTool(_)) if server.is_some() => "rejected",
            Err(SetError::UnknownTool(_)) => "unknown_tool",
            Err(_) => "unavailable",
        };
        result
    }

    async fn call_uncounted(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<CallToolResult, SetError> {
        let index = *self
            .by_tool
            .get(tool)
            .ok_or_else(|| SetError::UnknownTool(tool.to_owned()))?;
        let member = &self.members[index];
        let service = member.provider.service_name();
        // Shut down (leases revoked, servers reaped): a late call must not start a server
        // with a lease that no longer holds.
        if self.closed.load(Ordering::SeqCst) {
            return Err(SetError::Ended {
                service,
                reason: "the session ended".into(),
            });
        }
        if let Some(reason) = member.ended() {
            return Err(SetError::Ended { service, reason });
        }
        let Value::Object(arguments) = arguments else {
            return Err(SetError::UnknownTool(format!(
                "{tool} (arguments must be a JSON object)"
            )));
        };
        let mut params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let mut meta = rmcp::model::RequestMetaObject::new();
        telemetry::propagate::inject_current_meta(&mut meta);
        if !meta.is_empty() {
            params.meta = Some(meta);
        }
        let answer = |result: Result<CallToolResult, rmcp::ServiceError>| match result {
            Ok(r) => Ok(r),
            Err(rmcp::ServiceError::McpError(error)) => Err(SetError::Rejected { service, error }),
            Err(e) => Err(SetError::Unavailable {
                service,
                reason: e.to_string(),
            }),
        };

        // The common case: the server runs, and this call shares it with any others.
        let failed_generation = {
            let slot = member.client.read().await;
            // Ended while this call waited for a restart.
            if let Some(reason) = member.ended() {
                return Err(SetError::Ended { service, reason });
            }
            match slot.as_ref() {
                Some(client) if !member.stale.load(Ordering::SeqCst) => {
                    let generation = member.generation.load(Ordering::SeqCst);
                    match client.call_tool(params.clone()).await {
                        Ok(r) => return Ok(r),
                        Err(rmcp::ServiceError::McpError(error)) => {
                            return Err(SetError::Rejected { service, error });
                        }
                        Err(e) => {
                            tracing::warn!(%service, "{}: server call failed ({e}); restarting it once", self.label);
                            Some(generation)
                        }
                    }
                }
                _ => None,
            }
        };

        // Something to change first: a replaced lease, a dead or missing server. Every step
        // below leaves the member as it found it if this call is dropped part-way (its caller
        // hung up): the flags change only once the new server is in place.
        let mut slot = member.client.write().await;
        if let Some(reason) = member.ended() {
            return Err(SetError::Ended { service, reason });
        }
        if member.stale.swap(false, Ordering::SeqCst) {
            // Its lease was replaced: the server restarts with the new one (not counted as a
            // crash restart). Until it runs, the lease change stays pending.
            let pending = StillStale(Some(&member.stale));
            if let Some(old) = slot.take() {
                let _ = old.cancel().await;
            }
            let started = spawn(
                &self.config,
                &self.credentials,
                member.lease().as_ref(),
                member.provider,
            )
            .await;
            // A failed start leaves no server: the next call gets the one crash restart.
            pending.settled();
            let (client, _tools, pid) =
                started.map_err(|reason| SetError::Unavailable { service, reason })?;
            // Ended (lease revoked) while it started: it serves nothing.
            if let Some(reason) = member.ended() {
                let _ = client.cancel().await;
                return Err(SetError::Ended { service, reason });
            }
            member.pid.store(pid, Ordering::Relaxed);
            member.generation.fetch_add(1, Ordering::SeqCst);
            *slot = Some(client);
        }
        let restarted_since =
            failed_generation.is_some_and(|g| g != member.generation.load(Ordering::SeqCst));
        if slot.is_some() && (failed_generation.is_none() || restarted_since) {
            // Another call restarted it meanwhile (or the lease change just did): use it.
            let slot = slot.downgrade();
            let Some(client) = slot.as_ref() else {
                return Err(SetError::Unavailable {
                    service,
                    reason: "it stopped".into(),
                });
            };
            return answer(client.call_tool(params).await);
        }
        if member.restarted.load(Ordering::SeqCst) {
            *slot = None;
            return Err(SetError::Unavailable {
                service,
                reason: "it stopped again after one restart".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = spawn(
            &self.config,
            &self.credentials,
            member.lease().as_ref(),
            member.provider,
        )
        .await;
        // The one restart is spent once it was tried, whatever came of it.
        member.restarted.store(true, Ordering::SeqCst);
        match started {
            Ok((client, _tools, pid)) => {
                member.pid.store(pid, Ordering::Relaxed);
                member.generation.fetch_add(1, Ordering::SeqCst);
                *slot = Some(client);
                // Ended (lease revoked) while it started: it serves nothing.
                if let Some(reason) = member.ended() {
                    if let Some(client) = slot.take() {
                        let _ = client.cancel().await;
                    }
                    return Err(SetError::Ended { service, reason });
                }
                let slot = slot.downgrade();
                let Some(client) = slot.as_ref() else {
                    return Err(SetError::Unavailable {
                        service,
                        reason: "it stopped".into(),
                    });
                };
                answer(client.call_tool(params).await)
            }
            Err(reason) => {
                *slot = None;
                Err(SetError::Unavailable { service, reason })
            }
        }
    }

    fn leases(&self) -> Vec<LeaseSecret> {
        self.members.iter().filter_map(|m| m.lease()).collect()
    }

    /// Revokes the leases and ends the children (waiting for them to exit).
    pub async fn shutdown(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(r) = &self.renewal {
            r.abort();
        }
        revoke(&self.config.broker_socket, &self.leases(), &self.label).await;
        // Closes each child's stdin, waits briefly, then kills: reaped either way, all at once.
        futures::future::join_all(self.members.iter().map(|m| async move {
            if let Some(client) = m.client.write().await.take() {
                let _ = client.cancel().await;
            }
        }))
        .await;
    }
}

/// One tool call, counted in the set's metrics when it ends however it ends.
struct CountedCall<'a> {
    set: &'a ServerSet,
    server: Option<&'static str>,
    tool: &'a str,
    started: std::time::Instant,
    outcome: &'static str,
}

impl Drop for CountedCall<'_> {
    fn drop(&mut self) {
        self.set.config.metrics.tool_call(
            self.server,
            self.tool,
            self.outcome,
            self.started.elapsed(),
        );
    }
}

impl Drop for ServerSet {
    fn drop(&mut self) {
        self.config.metrics.set_ended();
        // Panics, early returns: the leases still end. (The children are killed when their
        // transports drop.)
        if let Some(r) = &self.renewal {
            r.abort();
        }
        let leases = self.leases();
        if !self.closed.swap(true, Ordering::SeqCst)
            && !leases.is_empty()
            && let Err(e) = broker_proto::blocking::revoke_all(&self.config.broker_socket, &leases)
        {
            tracing::warn!("{}: cannot revoke the leases on drop: {e}", self.label);
        }
    }
}
