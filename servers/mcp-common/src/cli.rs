//! Command-line flags every server shares, and their resolution into a checked [`CommonConfig`].
//!
//! Two stages, as in ripgrep: [`CommonArgs`] is what clap parsed (no I/O), [`CommonArgs::resolve`]
//! checks combinations and reads the few files it must (the HTTP key file), so a bad flag fails
//! before the server touches stdin/stdout or the network.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use secrecy::SecretString;
use url::Url;

use crate::secret_file::{self, SecretFileError};

pub use cli_kit::LogFormat;

/// Flags shared by `ga4-mcp`, `gsc-mcp`, `google-ads-mcp` and `meta-ads-mcp`.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Static credentials file: Google's `authorized_user` JSON (client_id, client_secret,
    /// refresh_token, optional token_uri). Must not be readable by group or others (chmod 600).
    #[arg(long, value_name = "FILE", env = "BERRYBOO_CREDENTIALS_PATH")]
    pub credentials_path: Option<PathBuf>,

    /// Serve this shop, with access tokens from the credential broker. The lease comes from
    /// the environment (BERRYBOO_LEASE) or an inherited descriptor (--lease-fd), never argv.
    #[arg(
        long,
        value_name = "ID",
        env = "BERRYBOO_SHOP_ID",
        conflicts_with = "credentials_path"
    )]
    pub shop_id: Option<String>,

    /// Credential broker socket (default: $XDG_RUNTIME_DIR/berryboo/broker.sock).
    #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
    pub broker_socket: Option<PathBuf>,

    /// Read the lease secret from this inherited file descriptor, e.g. `--lease-fd 3 3<lease`.
    #[arg(long, value_name = "N", conflicts_with = "key_fd")]
    pub lease_fd: Option<u32>,

    /// Read a shop key (`bbk_…`, `credential-broker key create`) from this inherited file
    /// descriptor, e.g. `--key-fd 3 3<shop.key`: the server leases for itself with it, and again
    /// whenever its lease ends, for as long as the key lives. (Or BERRYBOO_SHOP_KEY.)
    #[arg(long, value_name = "N")]
    pub key_fd: Option<u32>,

    /// Ask the broker again after this many seconds however long the token lives, so a revoked
    /// lease or a changed integration reaches this server.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub broker_recheck: u64,

    /// Replace the scheme and host of every upstream URL (APIs and token endpoint), keeping the
    /// real paths; point it at `upstream-sandbox` to work offline.
    #[arg(long, value_name = "URL", env = "BERRYBOO_API_BASE")]
    pub api_base: Option<Url>,

    /// Serve MCP over HTTP on ADDR (streamable HTTP at /mcp, legacy HTTP+SSE at /sse) instead
    /// of stdio; `--http` alone binds 127.0.0.1:8931. Any non-loopback address requires a
    /// bearer key.
    #[arg(long, value_name = "ADDR", env = "BERRYBOO_HTTP", num_args = 0..=1, default_missing_value = "127.0.0.1:8931")]
    pub http: Option<SocketAddr>,

    /// Bearer key HTTP clients must send (`Authorization: Bearer KEY`). Read from the
    /// environment only: a key on the command line would be visible to every user in `ps`.
    #[arg(
        long = "http-key",
        env = "BERRYBOO_HTTP_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub http_key: Option<String>,

    /// File holding the HTTP bearer key (first line; must be chmod 600).
    #[arg(long, value_name = "FILE", env = "BERRYBOO_HTTP_KEY_FILE")]
    pub http_key_file: Option<PathBuf>,

    /// Extra `Host` header value accepted over HTTP (repeatable), e.g. `mcp.example.com` or
    /// `mcp.example.com:8443`. Loopback names are always accepted on a loopback bind.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,

    /// Browser `Origin` accepted over HTTP (repeatable), e.g. `https://app.example.com`.
    /// Requests without an Origin header (non-browser clients) are always accepted.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// Serve `--http` on a loopback address without a bearer key. Without this flag a key is
    /// required: any local user could otherwise use the server's credentials.
    #[arg(long)]
    pub allow_unauthenticated: bool,

    /// Most MCP sessions held at once over HTTP (streamable and legacy SSE each); further
    /// clients get 503 until one ends or expires.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub http_max_sessions: u32,

    /// An HTTP session with no request for this many seconds is closed and its memory freed.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub http_idle_timeout: u64,

    /// Seconds an HTTP client may take to send a request's headers, and an idle keep-alive
    /// connection stays open (slow or parked connections give their slot back).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub http_header_timeout: u64,

    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "BERRYBOO_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// The most one upstream request may take, in seconds, its retries and their waits
    /// included: a hanging upstream costs a tool call this much, not once per retry.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout: u64,

    /// Retries of an upstream request after 429 or 5xx (with jittered backoff).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub max_retries: u32,

    /// Share of the upstream's quota kept for people, in percent: under it, results say how
    /// much is left and when it returns (the agent host's pipeline waits instead).
    #[arg(long, value_name = "PCT", default_value_t = crate::quota::DEFAULT_RESERVE_PCT, env = "BERRYBOO_QUOTA_RESERVE", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub quota_reserve: u8,
}

/// Where the server speaks MCP.
#[derive(Debug)]
pub enum TransportConfig {
    /// JSON-RPC over stdin/stdout (the default; what MCP hosts launch).
    Stdio,
    /// Streamable HTTP and legacy HTTP+SSE on one listener.
    Http(HttpConfig),
}

/// Checked HTTP settings.
#[derive(Debug)]
pub struct HttpConfig {
    /// Address to bind.
    pub bind: SocketAddr,
    /// Bearer key, required for non-loopback binds.
    pub key: Option<SecretString>,
    /// Extra accepted `Host` values.
    pub allowed_hosts: Vec<String>,
    /// Accepted browser origins.
    pub allowed_origins: Vec<String>,
    /// Sessions held at once, per transport.
    pub max_sessions: usize,
    /// A session idle this long is closed.
    pub session_idle: Duration,
    /// Time to send request headers, and the idle keep-alive limit.
    pub header_timeout: Duration,
}

/// Upstream HTTP behaviour.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Replacement for the scheme and host of every upstream URL.
    pub api_base: Option<Url>,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Retries after 429/5xx.
    pub max_retries: u32,
    /// Percent of quota kept for people.
    pub quota_reserve: u8,
}

/// Where the server's credentials come from.
#[derive(Debug)]
pub enum CredentialsConfig {
    /// None configured (the server explains at start-up).
    None,
    /// A static credentials file.
    File(PathBuf),
    /// The credential broker, for one shop.
    Broker {
        /// The shop.
        shop_id: String,
        /// The broker's socket.
        socket: PathBuf,
        /// The lease, when one was given.
        lease: Option<broker_proto::LeaseSecret>,
        /// A shop key to lease with (at start when no lease was given, and whenever the lease
        /// ends).
        key: Option<broker_proto::ShopKey>,
        /// How long a token from the broker is used before asking again.
        recheck: Duration,
    },
}

/// The resolved, checked configuration of the shared part of a server.
#[derive(Debug)]
pub struct CommonConfig {
    /// Credential source.
    pub credentials: CredentialsConfig,
    /// Upstream HTTP settings.
    pub upstream: UpstreamConfig,
    /// Transport to serve on.
    pub transport: TransportConfig,
    /// Log format.
    pub log_format: LogFormat,
}

/// A flag combination or flag value that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The HTTP key was given in argv.
    #[error(
        "refusing --http-key on the command line: it would be visible to every local user in `ps`. \
         Set BERRYBOO_HTTP_KEY in the environment or use --http-key-file FILE"
    )]
    KeyInArgv,
    /// Both key sources given.
    #[error("give the HTTP key once: BERRYBOO_HTTP_KEY or --http-key-file, not both")]
    KeyTwice,
    /// Non-loopback bind without a key.
    #[error(
        "--http {0} is not a loopback address, so a bearer key is required: set BERRYBOO_HTTP_KEY \
         or --http-key-file FILE (clients then send `Authorization: Bearer KEY`)"
    )]
    KeyRequired(SocketAddr),
    /// A loopback bind without a key and without `--allow-unauthenticated`.
    #[error(
        "--http without a bearer key would let every local user use these credentials: set \
         BERRYBOO_HTTP_KEY or --http-key-file FILE (clients then send `Authorization: Bearer KEY`), \
         or pass --allow-unauthenticated to serve this loopback address without one"
    )]
    KeyMissing,
    /// The key is too short to be a key.
    #[error("the HTTP bearer key must be at least 16 characters")]
    KeyTooShort,
    /// The key file could not be read.
    #[error("HTTP key file: {0}")]
    KeyFile(#[from] SecretFileError),
    /// HTTP-only flags without --http.
    #[error(
        "--http-key, --http-key-file, --allowed-host, --allowed-origin and --allow-unauthenticated only apply with --http ADDR"
    )]
    HttpFlagsWithoutHttp,
    /// The API base URL cannot be a base.
    #[error("--api-base {0} must be an http:// or https:// URL")]
    BadApiBase(Url),
    /// An origin without scheme.
    #[error("--allowed-origin {0} must include a scheme, e.g. https://app.example.com")]
    BadOrigin(String),
    /// `--shop-id` without a lease.
    #[error(
        "--shop-id {0} needs a lease or a shop key from the credential broker: set BERRYBOO_LEASE or pass \
         --lease-fd N (an admin creates one with `credential-broker lease create --shop {0} --providers …`), \
         or set BERRYBOO_SHOP_KEY or pass --key-fd N for a key that lasts months \
         (`credential-broker key create --shop {0}`)"
    )]
    NoLease(String),
    /// The lease descriptor could not be read.
    #[error("--lease-fd {fd}: {source}")]
    LeaseFd {
        /// The descriptor.
        fd: u32,
        /// Why.
        source: std::io::Error,
    },
    /// Broker flags without a shop.
    #[error("--broker-socket and --lease-fd only apply with --shop-id")]
    BrokerFlagsWithoutShop,
}

impl CommonArgs {
    /// Checks the flags. `http_key_source` is where clap found `--http-key` (argv or env), so a
    /// key typed on the command line can be refused.
    pub fn resolve(
        self,
        http_key_source: Option<ValueSource>,
    ) -> Result<CommonConfig, ConfigError> {
        if http_key_source == Some(ValueSource::CommandLine) {
            return Err(ConfigError::KeyInArgv);
        }
        if let Some(base) = &self.api_base
            && (!matches!(base.scheme(), "http" | "https") || base.host_str().is_none())
        {
            return Err(ConfigError::BadApiBase(base.clone()));
        }
        let transport = match self.http {
            None => {
                if self.http_key.is_some()
                    || self.allow_unauthenticated
                    || self.http_key_file.is_some()
                    || !self.allowed_hosts.is_empty()
                    || !self.allowed_origins.is_empty()
                {
                    // The env var alone is harmless (a shared environment may set it for
                    // several servers); explicit flags without --http are a mistake.
                    if http_key_source != Some(ValueSource::EnvVariable)
                        || self.http_key_file.is_some()
                        || self.allow_unauthenticated
                        || !self.allowed_hosts.is_empty()
                        || !self.allowed_origins.is_empty()
                    {
                        return Err(ConfigError::HttpFlagsWithoutHttp);
                    }
                }
                TransportConfig::Stdio
            }
            Some(bind) => {
                let key = match (self.http_key, &self.http_key_file) {
                    (Some(_), Some(_)) => return Err(ConfigError::KeyTwice),
                    (Some(k), None) => Some(SecretString::from(k.trim().to_owned())),
                    (None, Some(path)) => Some(secret_file::read_secret_line(path)?),
                    (None, None) => None,
                };
                if let Some(k) = &key {
                    use secrecy::ExposeSecret;
                    if k.expose_secret().chars().count() < 16 {
                        return Err(ConfigError::KeyTooShort);
                    }
                    redaction::learn_lasting(k.expose_secret());
                }
                if key.is_none() && !bind.ip().is_loopback() {
                    return Err(ConfigError::KeyRequired(bind));
                }
                if key.is_none() && !self.allow_unauthenticated {
                    return Err(ConfigError::KeyMissing);
                }
                for origin in &self.allowed_origins {
                    if origin != "null" && !origin.contains("://") {
                        return Err(ConfigError::BadOrigin(origin.clone()));
                    }
                }
                TransportConfig::Http(HttpConfig {
                    bind,
                    key,
                    allowed_hosts: self.allowed_hosts,
                    allowed_origins: self.allowed_origins,
                    max_sessions: self.http_max_sessions as usize,
                    session_idle: Duration::from_secs(self.http_idle_timeout),
                    header_timeout: Duration::from_secs(self.http_header_timeout),
                })
            }
        };
        let credentials = match (self.credentials_path, self.shop_id) {
            (Some(path), _) => CredentialsConfig::File(path),
            (None, Some(shop_id)) => {
                let lease = match self.lease_fd {
                    Some(fd) => read_lease_fd(fd)?,
                    None if self.key_fd.is_some() => String::new(),
                    None => std::env::var("BERRYBOO_LEASE").unwrap_or_default(),
                };
                let key = match self.key_fd {
                    Some(fd) => read_lease_fd(fd)?,
                    None => std::env::var("BERRYBOO_SHOP_KEY").unwrap_or_default(),
                };
                let (lease, key) = (lease.trim(), key.trim());
                if lease.is_empty() && key.is_empty() {
                    return Err(ConfigError::NoLease(shop_id));
                }
                CredentialsConfig::Broker {
                    shop_id: shop_id.trim().to_owned(),
                    socket: self
                        .broker_socket
                        .unwrap_or_else(broker_proto::default_socket_path),
                    lease: (!lease.is_empty())
                        .then(|| broker_proto::LeaseSecret::new(lease.to_owned())),
                    key: (!key.is_empty()).then(|| broker_proto::ShopKey::new(key.to_owned())),
                    recheck: Duration::from_secs(self.broker_recheck),
                }
            }
            (None, None) => CredentialsConfig::None,
        };
        if !matches!(credentials, CredentialsConfig::Broker { .. })
            && (self.lease_fd.is_some() || self.key_fd.is_some())
        {
            return Err(ConfigError::BrokerFlagsWithoutShop);
        }
        Ok(CommonConfig {
            credentials,
            upstream: UpstreamConfig {
                api_base: self.api_base,
                request_timeout: Duration::from_secs(self.request_timeout),
                max_retries: self.max_retries,
                quota_reserve: self.quota_reserve,
            },
            transport,
            log_format: self.log_format,
        })
    }
}

/// Longest lease a descriptor may carry (a lease is ~50 bytes).
const MAX_LEASE_LEN: usize = 4096;

/// Reads the lease from inherited descriptor `fd`, then closes it so nothing this process
/// starts could inherit it.
///
/// The agent host passes a socket: this process says it is ready (it made itself undumpable
/// first, see `run_main`) and only then is the lease sent, so the lease never waits where
/// another process of the same uid could copy it (`/proc/PID/fd/N` cannot open a socket). A
/// pipe or a file (`--lease-fd 3 3<lease`) is read as it is.
fn read_lease_fd(fd: u32) -> Result<String, ConfigError> {
    use nix::errno::Errno;
    use nix::sys::socket::{MsgFlags, recv, send};
    let failed = |source: std::io::Error| ConfigError::LeaseFd { fd, source };
    if fd <= 2 {
        return Err(failed(std::io::Error::other(
            "descriptors 0-2 carry the MCP session and logs; use 3 or more",
        )));
    }
    let raw = i32::try_from(fd).map_err(|_| failed(std::io::Error::other("no such descriptor")))?;
    let lease = match send(raw, b"r", MsgFlags::empty()) {
        Ok(_) => {
            let mut lease = Vec::new();
            let mut buf = [0u8; 512];
            loop {
                match recv(raw, &mut buf, MsgFlags::empty()) {
                    Ok(0) => break,
                    Ok(n) => lease.extend_from_slice(&buf[..n]),
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(failed(e.into())),
                }
                if lease.len() > MAX_LEASE_LEN {
                    return Err(failed(std::io::Error::other("more than a lease arrived")));
                }
            }
            String::from_utf8(lease)
                .map_err(|_| failed(std::io::Error::other("the lease is not text")))?
        }
        // Not a socket: a pipe or a file. /proc/self/fd/N opens it without unsafe code.
        Err(Errno::ENOTSOCK) => {
            std::fs::read_to_string(format!("/proc/self/fd/{fd}")).map_err(failed)?
        }
        Err(e) => return Err(failed(e.into())),
    };
    let _ = nix::unistd::close(raw);
    Ok(lease)
}

/// Parses argv into `T` and resolves its [`CommonArgs`] (found through `common`), so every
/// server applies the same argv rules.
pub fn parse<T>(
    common: impl FnOnce(&mut T) -> &mut CommonArgs,
) -> Result<(T, CommonConfig), clap::Error>
where
    T: clap::Parser,
{
    let matches = T::command().get_matches();
    let source = matches.value_source("http_key");
    let mut parsed = T::from_arg_matches(&matches)?;
    let args = common(&mut parsed).clone();
    match args.resolve(source) {
        Ok(config) => Ok((parsed, config)),
        Err(e) => Err(T::command().error(clap::error::ErrorKind::ArgumentConflict, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    fn resolve(args: &[&str]) -> Result<CommonConfig, ConfigError> {
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .expect("clap parse")
            .common
            .resolve(None)
    }

    #[test]
    fn stdio_is_the_default() {
        let c = resolve(&[]).expect("resolve");
        assert!(matches!(c.transport, TransportConfig::Stdio));
        assert_eq!(c.upstream.max_retries, 3);
    }

    #[test]
    fn bare_http_binds_loopback() {
        let c = resolve(&["--http", "--allow-unauthenticated"]).expect("resolve");
        let TransportConfig::Http(h) = c.transport else {
            panic!("http expected")
        };
        assert_eq!(h.bind.to_string(), "127.0.0.1:8931");
    }

    #[test]
    fn loopback_http_without_a_key_must_say_so() {
        let e = resolve(&["--http", "127.0.0.1:0"]).expect_err("a key or the flag");
        assert!(matches!(e, ConfigError::KeyMissing), "{e}");
        assert!(e.to_string().contains("--allow-unauthenticated"), "{e}");
        let c = resolve(&["--http", "127.0.0.1:0", "--allow-unauthenticated"]).expect("resolve");
        assert!(matches!(
            c.transport,
            TransportConfig::Http(HttpConfig {
                key: None,
                max_sessions: 256,
                ..
            })
        ));
        // Never beyond loopback.
        let e = resolve(&["--http", "0.0.0.0:0", "--allow-unauthenticated"]).expect_err("no");
        assert!(matches!(e, ConfigError::KeyRequired(_)), "{e}");
        let e = resolve(&["--allow-unauthenticated"]).expect_err("only with --http");
        assert!(matches!(e, ConfigError::HttpFlagsWithoutHttp), "{e}");
    }

    #[test]
    fn public_http_needs_a_key() {
        let e = resolve(&["--http", "0.0.0.0:8080"]).expect_err("must fail");
        assert!(matches!(e, ConfigError::KeyRequired(_)), "{e}");
        assert!(e.to_string().contains("BERRYBOO_HTTP_KEY"));
    }

    #[test]
    fn key_on_the_command_line_is_refused() {
        let cli =
            Cli::try_parse_from(["x", "--http", "0.0.0.0:1", "--http-key", "k"]).expect("parse");
        let e = cli
            .common
            .resolve(Some(ValueSource::CommandLine))
            .expect_err("must fail");
        assert!(matches!(e, ConfigError::KeyInArgv));
    }

    #[test]
    fn short_keys_are_refused() {
        let cli = Cli::try_parse_from(["x", "--http", "0.0.0.0:1", "--http-key", "short"])
            .expect("parse");
        let e = cli
            .common
            .resolve(Some(ValueSource::EnvVariable))
            .expect_err("must fail");
        assert!(matches!(e, ConfigError::KeyTooShort));
    }

    #[test]
    fn http_flags_need_http() {
        let e = resolve(&["--allowed-host", "a.example"]).expect_err("must fail");
        assert!(matches!(e, ConfigError::HttpFlagsWithoutHttp));
    }

    #[test]
    fn api_base_must_be_http() {
        let e = resolve(&["--api-base", "file:///etc"]).expect_err("must fail");
        assert!(matches!(e, ConfigError::BadApiBase(_)));
    }

    #[test]
    fn origins_need_a_scheme() {
        let e = resolve(&[
            "--http",
            "127.0.0.1:0",
            "--allow-unauthenticated",
            "--allowed-origin",
            "app.example.com",
        ])
        .expect_err("must fail");
        assert!(matches!(e, ConfigError::BadOrigin(_)));
    }

    #[test]
    fn shop_mode_reads_the_lease_from_an_inherited_descriptor() {
        use std::io::{Seek, Write};
        use std::os::fd::IntoRawFd;
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(b"bbl_lease-from-fd\n").expect("write");
        file.rewind().expect("rewind");
        // The server reads the descriptor, then closes it: hand ownership over.
        let raw = file.into_raw_fd();
        let fd = raw.to_string();
        let c = resolve(&[
            "--shop-id",
            "shop-1",
            "--lease-fd",
            &fd,
            "--broker-socket",
            "/tmp/x.sock",
        ])
        .expect("resolve");
        let CredentialsConfig::Broker {
            shop_id,
            socket,
            lease,
            ..
        } = c.credentials
        else {
            panic!("broker mode")
        };
        assert_eq!(shop_id, "shop-1");
        assert_eq!(socket.to_str(), Some("/tmp/x.sock"));
        assert_eq!(
            lease.map(|l| l.expose().to_owned()).as_deref(),
            Some("bbl_lease-from-fd")
        );
        assert!(
            !std::path::Path::new(&format!("/proc/self/fd/{raw}")).exists(),
            "the descriptor is closed once read"
        );
    }

    #[test]
    fn shop_mode_reads_a_shop_key_from_an_inherited_descriptor() {
        use std::io::{Seek, Write};
        use std::os::fd::IntoRawFd;
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(b"bbk_key-from-fd\n").expect("write");
        file.rewind().expect("rewind");
        let raw = file.into_raw_fd();
        let fd = raw.to_string();
        let c = resolve(&["--shop-id", "shop-1", "--key-fd", &fd]).expect("resolve");
        let CredentialsConfig::Broker { lease, key, .. } = c.credentials else {
            panic!("broker mode")
        };
        assert!(lease.is_none(), "the key leases for itself");
        assert_eq!(
            key.map(|k| k.expose().to_owned()).as_deref(),
            Some("bbk_key-from-fd")
        );
        assert!(
            !std::path::Path::new(&format!("/proc/self/fd/{raw}")).exists(),
            "the descriptor is closed once read"
        );
        assert!(
            Cli::try_parse_from(["x", "--shop-id", "s", "--lease-fd", "3", "--key-fd", "4"])
                .is_err()
        );
        let e = resolve(&["--key-fd", "3"]).expect_err("a key needs a shop");
        assert!(matches!(e, ConfigError::BrokerFlagsWithoutShop));
    }

    #[test]
    fn shop_mode_without_a_lease_says_how_to_get_one() {
        if std::env::var_os("BERRYBOO_LEASE").is_some() {
            return; // the environment provides one; nothing to check here
        }
        if std::env::var_os("BERRYBOO_SHOP_KEY").is_some() {
            return;
        }
        let e = resolve(&["--shop-id", "shop-1"]).expect_err("no lease");
        assert!(
            e.to_string()
                .contains("credential-broker lease create --shop shop-1")
                && e.to_string()
                    .contains("credential-broker key create --shop shop-1"),
            "{e}"
        );
    }

    #[test]
    fn broker_flags_need_a_shop_and_exclude_static_files() {
        let e = resolve(&["--lease-fd", "3"]).expect_err("must fail");
        assert!(matches!(e, ConfigError::BrokerFlagsWithoutShop));
        assert!(Cli::try_parse_from(["x", "--shop-id", "s", "--credentials-path", "f"]).is_err());
    }

    #[test]
    fn retries_are_bounded() {
        assert!(Cli::try_parse_from(["x", "--max-retries", "11"]).is_err());
    }
}
