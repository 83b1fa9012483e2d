//! One shop's server set: a lease from the credential broker, one MCP server process per
//! provider the shop has, an MCP client on each, the union of their tools.
//!
//! The set never sees a token: it hands each child the lease in its environment (never argv),
//! and the child gets short-lived tokens from the broker. Dropping or shutting down the set
//! revokes the lease and ends the children; a child that dies is restarted once, after which
//! its tools report a clear error instead of hanging.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use broker_proto::client::BrokerClient;
use broker_proto::{LeaseSecret, MissingProvider, Provider, ProviderAccount};
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::process::Command;
use tokio::sync::Mutex;

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

struct Member {
    provider: Provider,
    tools: Arc<[Tool]>,
    client: Mutex<Option<Client>>,
    restarted: AtomicBool,
    pid: std::sync::atomic::AtomicU32,
}

/// A shop's running servers.
pub struct ServerSet {
    label: String,
    credentials: Credentials,
    config: Arc<SetConfig>,
    lease: Option<LeaseSecret>,
    /// The lease's id (for logs), when brokered.
    pub lease_id: Option<String>,
    /// Accounts each provider reads.
    pub accounts: Vec<ProviderAccount>,
    /// Providers asked for that the shop lacks, with the broker's reason.
    pub skipped: Vec<MissingProvider>,
    /// Providers whose server failed to start, with the reason.
    pub failed: Vec<(Provider, String)>,
    members: Vec<Arc<Member>>,
    by_tool: HashMap<String, usize>,
    closed: AtomicBool,
}

fn command(
    config: &SetConfig,
    credentials: &Credentials,
    lease: Option<&LeaseSecret>,
    provider: Provider,
) -> Command {
    let mut cmd = Command::new(config.servers_dir.join(binary(provider)));
    match credentials {
        Credentials::Broker { shop_id } => {
            cmd.args(["--shop-id", shop_id])
                .arg("--broker-socket")
                .arg(&config.broker_socket);
        }
        Credentials::File(path) => {
            cmd.arg("--credentials-path").arg(path);
        }
    }
    if let Some(base) = &config.api_base {
        cmd.args(["--api-base", base]);
    }
    if let Some(lease) = lease {
        // The environment, never argv: argv is world-readable in /proc.
        cmd.env("BERRYBOO_LEASE", lease.expose());
    }
    cmd.env("RUST_LOG", &config.child_log)
        .env_remove("BERRYBOO_CREDENTIALS_PATH")
        .env_remove("BERRYBOO_SHOP_ID")
        .env_remove("BERRYBOO_HTTP");
    cmd
}

async fn spawn(
    config: &SetConfig,
    credentials: &Credentials,
    lease: Option<&LeaseSecret>,
    provider: Provider,
) -> Result<(Client, Arc<[Tool]>, u32), String> {
    let transport = TokioChildProcess::new(command(config, credentials, lease, provider))
        .map_err(|e| format!("cannot start {}: {e}", binary(provider)))?;
    let pid = transport.id().unwrap_or(0);
    let client = ().serve(transport).await.map_err(|e| {
        format!(
            "{} did not complete the MCP handshake: {e}",
            binary(provider)
        )
    })?;
    let tools = tools_of(
        &client,
        &config.servers_dir.join(binary(provider)),
        provider,
    )
    .await?;
    Ok((client, tools, pid))
}

/// Tool lists by server binary (and its modification time). Every server of one binary lists
/// the same tools, and a set keeps them for its life, so sets share one parsed copy: with a
/// hundred sets that is tens of MiB of schemas held once instead of a hundred times.
type ToolLists = std::sync::Mutex<HashMap<(PathBuf, Option<std::time::SystemTime>), Arc<[Tool]>>>;
static TOOL_LISTS: std::sync::OnceLock<ToolLists> = std::sync::OnceLock::new();

async fn tools_of(client: &Client, path: &Path, provider: Provider) -> Result<Arc<[Tool]>, String> {
    let key = (
        path.to_path_buf(),
        std::fs::metadata(path).and_then(|m| m.modified()).ok(),
    );
    let lists = TOOL_LISTS.get_or_init(Default::default);
    let cached = lists
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned();
    if let Some(tools) = cached {
        return Ok(tools);
    }
    let tools: Arc<[Tool]> = client
        .list_all_tools()
        .await
        .map_err(|e| format!("{} did not list its tools: {e}", binary(provider)))?
        .into();
    // Sets starting together all miss; keep whichever list arrived first.
    Ok(lists
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_insert(tools)
        .clone())
}

impl ServerSet {
    /// Starts the servers of `providers` for `credentials`. With the broker, a lease is created
    /// first (an error carries the guide's message when the shop has none of them); providers
    /// the shop lacks are skipped with a warning; servers start concurrently.
    pub async fn start(
        config: Arc<SetConfig>,
        credentials: Credentials,
        providers: &[Provider],
    ) -> Result<Self, SetError> {
        let (label, lease, lease_id, granted, accounts, skipped) = match &credentials {
            Credentials::Broker { shop_id } => {
                let mut broker = BrokerClient::connect(&config.broker_socket).await?;
                let grant = broker
                    .create_lease(shop_id, providers, config.lease_ttl.as_secs())
                    .await?;
                for m in &grant.missing {
                    tracing::info!(shop = %shop_id, provider = %m.provider, "skipping: {}", m.error.message.replace('\n', " "));
                }
                (
                    format!("shop {shop_id}"),
                    Some(grant.lease),
                    Some(grant.lease_id),
                    grant.granted,
                    grant.accounts,
                    grant.missing,
                )
            }
            Credentials::File(path) => (
                format!("credentials {}", path.display()),
                None,
                None,
                providers.to_vec(),
                Vec::new(),
                Vec::new(),
            ),
        };
        let started = futures::future::join_all(
            granted
                .iter()
                .map(|p| spawn(&config, &credentials, lease.as_ref(), *p)),
        )
        .await;
        let mut members = Vec::new();
        let mut failed = Vec::new();
        let mut by_tool = HashMap::new();
        for (provider, result) in granted.into_iter().zip(started) {
            match result {
                Ok((client, tools, pid)) => {
                    let index = members.len();
                    for t in tools.iter() {
                        by_tool.insert(t.name.to_string(), index);
                    }
                    members.push(Arc::new(Member {
                        provider,
                        tools,
                        client: Mutex::new(Some(client)),
                        restarted: AtomicBool::new(false),
                        pid: std::sync::atomic::AtomicU32::new(pid),
                    }));
                }
                Err(reason) => {
                    tracing::warn!(%provider, "{label}: {reason}");
                    failed.push((provider, reason));
                }
            }
        }
        let set = Self {
            label,
            credentials,
            config,
            lease,
            lease_id,
            accounts,
            skipped,
            failed,
            members,
            by_tool,
            closed: AtomicBool::new(false),
        };
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

    /// Calls `tool` with `arguments`. A server that died is restarted once; after that its
    /// tools fail fast with [`SetError::Unavailable`].
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<CallToolResult, SetError> {
        let index = *self
            .by_tool
            .get(tool)
            .ok_or_else(|| SetError::UnknownTool(tool.to_owned()))?;
        let member = &self.members[index];
        let service = member.provider.service_name();
        let Value::Object(arguments) = arguments else {
            return Err(SetError::UnknownTool(format!(
                "{tool} (arguments must be a JSON object)"
            )));
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let mut slot = member.client.lock().await;
        if let Some(client) = slot.as_ref() {
            match client.call_tool(params.clone()).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::warn!(%service, "{}: server call failed ({e}); restarting it once", self.label)
                }
            }
        }
        if member.restarted.swap(true, Ordering::SeqCst) {
            *slot = None;
            return Err(SetError::Unavailable {
                service,
                reason: "it stopped again after one restart".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        match spawn(
            &self.config,
            &self.credentials,
            self.lease.as_ref(),
            member.provider,
        )
        .await
        {
            Ok((client, _tools, pid)) => {
                member.pid.store(pid, Ordering::Relaxed);
                let result = client.call_tool(params).await;
                *slot = Some(client);
                result.map_err(|e| SetError::Unavailable {
                    service,
                    reason: e.to_string(),
                })
            }
            Err(reason) => {
                *slot = None;
                Err(SetError::Unavailable { service, reason })
            }
        }
    }

    /// Revokes the lease and ends the children (waiting for them to exit).
    pub async fn shutdown(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(lease) = &self.lease {
            match BrokerClient::connect(&self.config.broker_socket).await {
                Ok(mut b) => {
                    if let Err(e) = b.revoke_lease(lease).await {
                        tracing::warn!("{}: cannot revoke the lease: {e}", self.label);
                    }
                }
                Err(e) => tracing::warn!(
                    "{}: cannot reach the broker to revoke the lease: {e}",
                    self.label
                ),
            }
        }
        // Closes each child's stdin, waits briefly, then kills: reaped either way, all at once.
        futures::future::join_all(self.members.iter().map(|m| async move {
            if let Some(client) = m.client.lock().await.take() {
                let _ = client.cancel().await;
            }
        }))
        .await;
    }
}

impl Drop for ServerSet {
    fn drop(&mut self) {
        // Panics, early returns: the lease still ends. (The children are killed when their
        // transports drop.)
        if !self.closed.swap(true, Ordering::SeqCst)
            && let Some(lease) = &self.lease
            && let Err(e) = broker_proto::blocking::revoke(&self.config.broker_socket, lease)
        {
            tracing::warn!("{}: cannot revoke the lease on drop: {e}", self.label);
        }
    }
}
