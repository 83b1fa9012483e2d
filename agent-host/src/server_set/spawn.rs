//! Starting one member: its command from a cleared environment and an allow-list, the lease
//! handed over on an inherited socket once the server is undumpable, the MCP handshake, and
//! the tool list every server of a binary shares.

use super::*;

/// Server settings a server of `provider` may inherit from the host, beside the system's
/// variables ([`crate::children::system_var`]). Everything else — database URLs, model keys,
/// webhook and app secrets, the host's own lease or key — stays behind.
pub(super) fn inherited(name: &str, provider: Provider, credentials: &Credentials) -> bool {
    // Settings every server reads the same way (the log format is the host's own:
    // `children::command`).
    if matches!(name, "BERRYBOO_TODAY" | "BERRYBOO_QUOTA_RESERVE") {
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
pub(super) const LEASE_HANDOVER: Duration = Duration::from_secs(30);

/// Hands `lease` to a just-started server over `ours`, its end of a socket pair: only after
/// the server said it is ready, which it does once it made itself undumpable, so the lease
/// never waits where another process of the same uid could copy it.
pub(super) async fn hand_over(
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
pub(super) fn command(
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
    cmd.envs(std::env::vars_os().filter(|(k, v)| {
        k.to_str().is_some_and(|k| {
            inherited(k, provider, credentials)
                // A reserve the servers would refuse must not stop every one of them.
                && (k != "BERRYBOO_QUOTA_RESERVE"
                    || v.to_str()
                        .and_then(|v| v.parse::<u8>().ok())
                        .is_some_and(|pct| pct <= 100))
        })
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

pub(super) async fn spawn(
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
    // On a task of its own: rmcp's service loop keeps the span it was started in for as long
    // as the server runs, and a server started for a call (the gateway's first, a restart)
    // must not hold that call's span open, unfinished and unexported, for the set's life.
    let handshake = |e: String| {
        format!(
            "{} did not complete the MCP handshake: {e}",
            binary(provider)
        )
    };
    let client = tokio::spawn(async move { ().serve(transport).await })
        .await
        .map_err(|e| handshake(e.to_string()))?
        .map_err(|e| handshake(e.to_string()))?;
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
pub(super) type ToolLists =
    std::sync::Mutex<HashMap<(PathBuf, Option<std::time::SystemTime>), Arc<[Tool]>>>;
pub(super) static TOOL_LISTS: std::sync::OnceLock<ToolLists> = std::sync::OnceLock::new();

pub(super) async fn tools_of(
    client: &Client,
    path: &Path,
    provider: Provider,
) -> Result<Arc<[Tool]>, String> {
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
