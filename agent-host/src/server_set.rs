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

/// How long one renewal may take: a broker that accepts but never answers (stopped, wedged)
/// must not stall the renewals until the leases lapse.
const RENEWAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Renews the members' leases every third of their lifetime while the set lives, so they stay
/// short: if the host dies (even by SIGKILL) they end within one `lease_ttl`.
///
/// A lease the broker did not renew was either revoked — its member's tools end, and it is
/// never replaced (that would undo the revocation) — or it expired (the broker was unreachable
/// or stopped for a whole lifetime): then a new lease is made and the member's server is
/// restarted with it on its next call, so a broker outage does not leave a long-lived set (a
/// chat, the gateway's pool) without tools. The broker says which (`Renewal::revoked`); no
/// clock on this side decides it.
fn keep_alive(
    config: Arc<SetConfig>,
    credentials: Credentials,
    members: Vec<Arc<Member>>,
    label: String,
) -> tokio::task::AbortHandle {
    let every = (config.lease_ttl / 3).max(Duration::from_secs(1));
    // After a failed renewal, try again soon: two missed turns would let the leases lapse.
    let soon = Duration::from_secs(1).min(every);
    tokio::spawn(async move {
        let mut client = None;
        let mut wait = every;
        loop {
            tokio::time::sleep(wait).await;
            wait = soon;
            let held: Vec<&Arc<Member>> = members
                .iter()
                .filter(|m| m.ended().is_none() && m.lease_id().is_some())
                .collect();
            if held.is_empty() {
                return;
            }
            if client.is_none() {
                match tokio::time::timeout(RENEWAL_TIMEOUT, config.broker()).await {
                    Ok(Ok(c)) => client = Some(c),
                    Ok(Err(e)) => {
                        tracing::warn!("{label}: cannot reach the broker to renew the leases: {e}");
                        continue;
                    }
                    Err(_) => {
                        tracing::warn!("{label}: the broker did not answer; renewing again soon");
                        continue;
                    }
                }
            }
            let Some(c) = client.as_mut() else { continue };
            let leases: Vec<LeaseSecret> = held.iter().filter_map(|m| m.lease()).collect();
            let renewal = match tokio::time::timeout(
                RENEWAL_TIMEOUT,
                c.renew_leases(&leases, config.lease_ttl.as_secs()),
            )
            .await
            {
                Ok(Ok(renewal)) => renewal,
                Ok(Err(e)) => {
                    tracing::warn!("{label}: cannot renew the leases: {e}");
                    client = None;
                    continue;
                }
                Err(_) => {
                    tracing::warn!("{label}: the broker did not answer the renewal in time");
                    client = None;
                    continue;
                }
            };
            wait = every;
            let mut expired = Vec::new();
            for m in held {
                let Some(id) = m.lease_id() else { continue };
                if renewal.renewed.contains(&id) {
                    continue;
                }
                if renewal.revoked.contains(&id) {
                    tracing::warn!(provider = %m.provider, lease = %id, "{label}: lease revoked; its tools end");
                    m.end("its lease was revoked".into());
                } else {
                    expired.push(m.clone());
                }
            }
            if expired.is_empty() {
                continue;
            }
            tracing::warn!(
                "{label}: {} leases expired while the broker was unreachable; replacing them",
                expired.len()
            );
            if !replace(&config, &credentials, &expired, &label).await {
                // Not now (the broker went away again): the next turn finds them expired still.
                client = None;
                wait = soon;
            }
        }
    })
    .abort_handle()
}

/// Whether the broker's refusal to lease is the shop's state (lasting), not a passing fault.
fn lasting(code: broker_proto::ErrorCode) -> bool {
    use broker_proto::ErrorCode as C;
    matches!(
        code,
        C::UnknownShop
            | C::NoIntegration
            | C::IntegrationInactive
            | C::MissingScope
            | C::NoAccount
            | C::ReconnectRequired
            | C::NotPermitted
    )
}

/// New leases for `expired` members; each member's server is restarted with its new lease on
/// its next call. A provider the broker no longer grants ends with the broker's reason. False
/// when the broker could not be asked or failed in passing (try again later).
async fn replace(
    config: &SetConfig,
    credentials: &Credentials,
    expired: &[Arc<Member>],
    label: &str,
) -> bool {
    let Credentials::Broker { shop_id } = credentials else {
        return true;
    };
    let providers: Vec<Provider> = expired.iter().map(|m| m.provider).collect();
    let asked = tokio::time::timeout(RENEWAL_TIMEOUT, async {
        config
            .broker()
            .await?
            .create_leases(shop_id, &providers, config.lease_ttl.as_secs())
            .await
    })
    .await;
    let set = match asked {
        Err(_) => return false,
        Ok(Ok(set)) => set,
        Ok(Err(e)) => match e.broker_error() {
            Some(refusal) if lasting(refusal.code) => {
                for m in expired {
                    m.end(refusal.message.replace('\n', " "));
                }
                return true;
            }
            _ => {
                tracing::warn!("{label}: cannot replace the leases: {e}");
                return false;
            }
        },
    };
    let mut complete = true;
    for missing in &set.missing {
        if let Some(m) = expired.iter().find(|m| m.provider == missing.provider) {
            if lasting(missing.error.code) {
                m.end(missing.error.message.replace('\n', " "));
            } else {
                complete = false;
            }
        }
    }
    for lease in set.leases {
        if let Some(m) = expired.iter().find(|m| m.provider == lease.provider) {
            tracing::info!(provider = %m.provider, lease = %lease.lease_id, "{label}: new lease; the server restarts with it on its next call");
            *lock(&m.lease) = Some((lease.lease, lease.lease_id));
            m.stale.store(true, Ordering::SeqCst);
        }
    }
    complete
}

/// Server settings a server of `provider` may inherit from the host, beside the system's
/// variables ([`crate::children::system_var`]). Everything else — database URLs, model keys,
/// webhook and app secrets, the host's own lease or key — stays behind.
fn inherited(name: &str, provider: Provider, credentials: &Credentials) -> bool {
    // Settings every server reads the same way.
    if matches!(name, "BERRYBOO_LOG_FORMAT" | "BERRYBOO_TODAY") {
        return true;
    }
    let per_server: &[&str] = match provider {
        Provider::GoogleAds => &[
            "BERRYBOO_GOOGLE_ADS_API_VERSION",
            // Google Ads' developer token is the Ads server's to send; nobody else's.
            "BERRYBOO_GOOGLE_ADS_DEVELOPER_TOKEN",
        ],
        Provider::MetaAds => &["BERRYBOO_META_GRAPH_VERSION"],
        Provider::Ga4 | Provider::Gsc => &[],
    };
    if per_server.contains(&name) {
        return true;
    }
    // With static credentials the user's own account defaults apply; under a lease the shop's
    // integration names the account.
    let account_defaults: &[&str] = match provider {
        Provider::Ga4 => &["BERRYBOO_GA4_PROPERTY_ID"],
        Provider::Gsc => &["BERRYBOO_GSC_SITE_URL"],
        Provider::GoogleAds => &[
            "BERRYBOO_GOOGLE_ADS_CUSTOMER_ID",
            "BERRYBOO_GOOGLE_ADS_LOGIN_CUSTOMER_ID",
        ],
        Provider::MetaAds => &["BERRYBOO_META_AD_ACCOUNT_ID"],
    };
    matches!(credentials, Credentials::File(_)) && account_defaults.contains(&name)
}

/// How long a starting server may take to ask for its lease.
const LEASE_HANDOVER: Duration = Duration::from_secs(30);

/// Hands `lease` to a just-started server over `ours`, its end of a socket pair: only after
/// the server said it is ready, which it does once it made itself undumpable, so the lease
/// never waits where another process of the same uid could copy it.
async fn hand_over(
    ours: std::os::unix::net::UnixStream,
    lease: &LeaseSecret,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ours.set_nonblocking(true)?;
    let mut ours = tokio::net::UnixStream::from_std(ours)?;
    let mut ready = [0u8; 1];
    tokio::time::timeout(LEASE_HANDOVER, ours.read_exact(&mut ready))
        .await
        .map_err(|_| std::io::Error::other("it did not ask for its lease in time"))??;
    ours.write_all(lease.expose().as_bytes()).await?;
    ours.shutdown().await
}

/// The server's command, and the socket pair its lease will travel on (when leased): (ours,
/// theirs). Theirs is handed to the child by [`spawn`].
#[allow(clippy::type_complexity)]
fn command(
    config: &SetConfig,
    credentials: &Credentials,
    leased: bool,
    provider: Provider,
) -> std::io::Result<(
    Command,
    Option<(std::os::unix::net::UnixStream, std::os::fd::OwnedFd)>,
)> {
    // The system's variables (children::command), the server settings a user may set for all
    // servers, and nothing else of the host's.
    let mut cmd = crate::children::command(config.servers_dir.join(binary(provider)));
    cmd.envs(std::env::vars_os().filter(|(k, _)| {
        k.to_str()
            .is_some_and(|k| inherited(k, provider, credentials))
    }))
    .env("RUST_LOG", &config.child_log);
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
    let mut pair = None;
    if leased {
        // An inherited socket, never argv (world-readable in /proc) or the environment.
        use std::os::fd::AsRawFd;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let theirs = std::os::fd::OwnedFd::from(theirs);
        cmd.arg("--lease-fd").arg(theirs.as_raw_fd().to_string());
        pair = Some((ours, theirs));
    }
    Ok((cmd, pair))
}

async fn spawn(
    config: &SetConfig,
    credentials: &Credentials,
    lease: Option<&LeaseSecret>,
    provider: Provider,
) -> Result<(Client, Arc<[Tool]>, u32), String> {
    let path = config.servers_dir.join(binary(provider));
    let cannot = |e: std::io::Error| format!("cannot start {}: {e}", path.display());
    let (cmd, pair) = command(config, credentials, lease.is_some(), provider).map_err(cannot)?;
    // The child's end is inheritable only while this child is spawned, under the spawn lock:
    // no other child started meanwhile can inherit it (both ends are close-on-exec otherwise).
    let (transport, ours) = crate::children::spawning(|| -> std::io::Result<_> {
        let ours = match &pair {
            Some((ours, theirs)) => {
                nix::fcntl::fcntl(
                    theirs,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                )
                .map_err(std::io::Error::from)?;
                Some(ours.try_clone()?)
            }
            None => None,
        };
        let transport = TokioChildProcess::new(cmd);
        // Closes our copy of the child's end (the child has its own now).
        drop(pair);
        Ok((transport?, ours))
    })
    .map_err(cannot)?;
    if let (Some(ours), Some(lease)) = (ours, lease) {
        hand_over(ours, lease)
            .await
            .map_err(|e| format!("{} did not take its lease: {e}", binary(provider)))?;
    }
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
    /// reason to restart anything.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<CallToolResult, SetError> {
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
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
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

/// Revokes `leases` in one request, logging (not failing) when that is not possible.
async fn revoke(socket: &Path, leases: &[LeaseSecret], label: &str) {
    if leases.is_empty() {
        return;
    }
    match BrokerClient::connect(socket).await {
        Ok(mut b) => {
            if let Err(e) = b.revoke_leases(leases).await {
                tracing::warn!("{label}: cannot revoke the leases: {e}");
            }
        }
        Err(e) => tracing::warn!("{label}: cannot reach the broker to revoke the leases: {e}"),
    }
}

impl Drop for ServerSet {
    fn drop(&mut self) {
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
