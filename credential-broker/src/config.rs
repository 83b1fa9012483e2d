//! Broker configuration: a TOML file (`--config FILE`), environment variables, and flags, in
//! that order of increasing precedence — except app secrets, which come only from the file or
//! the environment, never from argv (where `ps` would show them).
//!
//! ```toml
//! database = "sqlite:///var/lib/berryboo/shops.db"   # or BERRYBOO_DATABASE_URL
//! socket = "/run/berryboo/broker.sock"                # or BERRYBOO_BROKER_SOCKET
//! api_base = "http://127.0.0.1:8080"                  # or BERRYBOO_API_BASE (sandbox)
//! allowed_uids = [1001]          # who may connect (default: the broker's own uid)
//! admin_uids = [1001]            # who may create leases (default: the broker's own uid)
//! host_keys = ["sha256:…"]       # agent hosts in allowed_uids that may create leases with a
//!                                # key (`credential-broker host-key` makes one)
//! max_lease_ttl = "30d"
//! idle_timeout = "2m"            # close connections silent (or mid-frame) this long
//! integration_recheck = "30s"    # dashboard changes to an integration apply within this
//! metrics = "127.0.0.1:9464"     # Prometheus scrapes at /metrics (or `serve --metrics`)
//!
//! [google]                       # or BERRYBOO_GOOGLE_CLIENT_ID / _SECRET / _TOKEN_URI
//! client_id = "….apps.googleusercontent.com"
//! client_secret = "…"
//!
//! [meta]                         # or BERRYBOO_META_APP_ID / _SECRET
//! app_id = "…"
//! app_secret = "…"
//! graph_version = "v26.0"
//!
//! [integration_types]            # the dashboard's codes
//! ga4 = 201
//! google_ads = 202
//! meta_ads = 203
//! gsc = 204
//!
//! [refresh]
//! ahead = "10m"                  # refresh in the background this long before expiry
//! hard_window = "2m"             # closer than this, callers wait for the fresh token
//! meta_extend_ahead = "10d"      # extend Meta long-lived tokens this long before expiry
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use broker_proto::Provider;
use oauth_refresh::rebase;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

/// Google's token endpoint.
pub const GOOGLE_TOKEN_URI: &str = oauth_refresh::GOOGLE_TOKEN_URI;
const META_GRAPH: &str = "https://graph.facebook.com";

/// A configuration problem, reported before the broker starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A config file holding secrets is readable by others.
    #[error(
        "config {path} holds app secrets and is readable by group or others (mode {mode:04o}); run: chmod 600 {path}"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A required value is missing.
    #[error("{0}")]
    Missing(String),
    /// A value is invalid.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database: Option<String>,
    socket: Option<PathBuf>,
    api_base: Option<Url>,
    allowed_uids: Option<Vec<u32>>,
    admin_uids: Option<Vec<u32>>,
    host_keys: Option<Vec<String>>,
    max_lease_ttl: Option<String>,
    idle_timeout: Option<String>,
    integration_recheck: Option<String>,
    metrics: Option<std::net::SocketAddr>,
    google: Option<GoogleFile>,
    meta: Option<MetaFile>,
    integration_types: Option<BTreeMap<String, i32>>,
    refresh: Option<RefreshFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoogleFile {
    client_id: Option<String>,
    client_secret: Option<String>,
    token_uri: Option<Url>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaFile {
    app_id: Option<String>,
    app_secret: Option<String>,
    graph_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshFile {
    ahead: Option<String>,
    hard_window: Option<String>,
    meta_extend_ahead: Option<String>,
}

/// The Google OAuth client the broker refreshes with.
#[derive(Clone)]
pub struct GoogleApp {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
    /// Token endpoint (rebased onto `api_base` when set).
    pub token_uri: Url,
}

/// The Meta app used to extend long-lived tokens.
#[derive(Clone)]
pub struct MetaApp {
    /// App id.
    pub app_id: String,
    /// App secret.
    pub app_secret: SecretString,
    /// Versioned Graph API root, e.g. `https://graph.facebook.com/v26.0`.
    pub graph_base: Url,
}

/// Refresh timing.
#[derive(Debug, Clone, Copy)]
pub struct RefreshTiming {
    /// Background refresh starts this long before expiry.
    pub ahead: Duration,
    /// Closer than this to expiry, callers wait for a fresh token.
    pub hard_window: Duration,
    /// Meta tokens are extended this long before their expiry.
    pub meta_extend_ahead: Duration,
}

/// The checked configuration.
#[derive(Clone)]
pub struct BrokerConfig {
    /// Database URL.
    pub database: Option<String>,
    /// Socket path.
    pub socket: PathBuf,
    /// Uids that may connect.
    pub allowed_uids: Vec<u32>,
    /// Uids that may create leases.
    pub admin_uids: Vec<u32>,
    /// SHA-256 (hex) of the host keys that let a connection from an allowed (non-admin) uid
    /// create leases and read health: an agent host that proves one may mint leases, the
    /// servers it spawns (same uid, no key) may not.
    pub host_keys: Vec<String>,
    /// Longest lease.
    pub max_lease_ttl: Duration,
    /// A connection that sends nothing (or half a frame) for this long is closed.
    pub idle_timeout: Duration,
    /// How long a resolved (shop, provider) → integration answer is reused: changes in the
    /// dashboard (an account dropped, an integration deactivated) apply within this.
    pub integration_recheck: Duration,
    /// Google OAuth client, when configured.
    pub google: Option<GoogleApp>,
    /// Meta app, when configured.
    pub meta: Option<MetaApp>,
    /// Graph API root used for Meta even without an app (for messages).
    pub meta_graph_base: Url,
    /// `integration_type` code of each provider.
    pub integration_types: BTreeMap<Provider, i32>,
    /// Refresh timing.
    pub refresh: RefreshTiming,
    /// Where `serve` answers Prometheus scrapes at `/metrics` (`metrics` in the file, or
    /// `serve --metrics`); none unless asked for.
    pub metrics: Option<std::net::SocketAddr>,
}

impl BrokerConfig {
    /// The dashboard's integration type code for `provider`.
    pub fn type_code(&self, provider: Provider) -> i32 {
        self.integration_types
            .get(&provider)
            .copied()
            .unwrap_or(match provider {
                Provider::Ga4 => 201,
                Provider::GoogleAds => 202,
                Provider::MetaAds => 203,
                Provider::Gsc => 204,
            })
    }

    /// The provider of an integration type code, if it is one the broker serves.
    pub fn provider_of(&self, code: i32) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .find(|p| self.type_code(*p) == code)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Loads the configuration: `file` (if any), then env, then the given overrides.
pub fn load(
    file: Option<&Path>,
    database: Option<String>,
    socket: Option<PathBuf>,
) -> Result<BrokerConfig, ConfigError> {
    let parsed = match file {
        None => FileConfig::default(),
        Some(path) => {
            use std::os::unix::fs::PermissionsExt;
            let read_err = |source| ConfigError::Read {
                path: path.to_owned(),
                source,
            };
            let meta = std::fs::metadata(path).map_err(read_err)?;
            let text = std::fs::read_to_string(path).map_err(read_err)?;
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            let has_secrets = parsed
                .google
                .as_ref()
                .is_some_and(|g| g.client_secret.is_some())
                || parsed.meta.as_ref().is_some_and(|m| m.app_secret.is_some());
            let mode = meta.permissions().mode() & 0o777;
            if has_secrets && mode & 0o077 != 0 {
                return Err(ConfigError::TooOpen {
                    path: path.to_owned(),
                    mode,
                });
            }
            parsed
        }
    };
    let own_uid = nix::unistd::getuid().as_raw();
    let api_base = match env("BERRYBOO_API_BASE") {
        Some(b) => Some(
            Url::parse(&b)
                .map_err(|e| ConfigError::Invalid(format!("BERRYBOO_API_BASE {b:?}: {e}")))?,
        ),
        None => parsed.api_base.clone(),
    };

    let g = parsed.google.unwrap_or_default();
    let client_id = env("BERRYBOO_GOOGLE_CLIENT_ID").or(g.client_id);
    let client_secret = env("BERRYBOO_GOOGLE_CLIENT_SECRET").or(g.client_secret);
    let token_uri = match env("BERRYBOO_GOOGLE_TOKEN_URI") {
        Some(u) => Url::parse(&u)
            .map_err(|e| ConfigError::Invalid(format!("BERRYBOO_GOOGLE_TOKEN_URI {u:?}: {e}")))?,
        None => match g.token_uri {
            Some(u) => u,
            None => {
                Url::parse(GOOGLE_TOKEN_URI).map_err(|e| ConfigError::Invalid(e.to_string()))?
            }
        },
    };
    let google = match (client_id, client_secret) {
        (Some(client_id), Some(secret)) => Some(GoogleApp {
            client_id,
            client_secret: {
                redaction::learn_lasting(&secret);
                SecretString::from(secret)
            },
            token_uri: rebase(&token_uri, api_base.as_ref()),
        }),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Missing(
                "Google OAuth client: set both client id and secret (BERRYBOO_GOOGLE_CLIENT_ID and BERRYBOO_GOOGLE_CLIENT_SECRET, or [google] in the config file)".into(),
            ));
        }
    };

    let m = parsed.meta.unwrap_or_default();
    let version = m.graph_version.unwrap_or_else(|| "v26.0".to_owned());
    let graph_root = Url::parse(&format!("{META_GRAPH}/{version}"))
        .map_err(|e| ConfigError::Invalid(format!("meta graph_version {version:?}: {e}")))?;
    let meta_graph_base = rebase(&graph_root, api_base.as_ref());
    let meta = match (
        env("BERRYBOO_META_APP_ID").or(m.app_id),
        env("BERRYBOO_META_APP_SECRET").or(m.app_secret),
    ) {
        (Some(app_id), Some(secret)) => Some(MetaApp {
            app_id,
            app_secret: {
                redaction::learn_lasting(&secret);
                SecretString::from(secret)
            },
            graph_base: meta_graph_base.clone(),
        }),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Missing(
                "Meta app: set both app id and secret (BERRYBOO_META_APP_ID and BERRYBOO_META_APP_SECRET, or [meta])".into(),
            ));
        }
    };

    let mut integration_types = BTreeMap::new();
    for (name, code) in parsed.integration_types.unwrap_or_default() {
        let provider: Provider = name.parse().map_err(|e: broker_proto::UnknownProvider| {
            ConfigError::Invalid(format!("[integration_types]: {e}"))
        })?;
        integration_types.insert(provider, code);
    }

    let r = parsed.refresh.unwrap_or_default();
    let dur = |v: Option<String>, default: Duration, what: &str| -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(t) => cli_kit::parse_duration(&t)
                .map_err(|e| ConfigError::Invalid(format!("{what}: {e}"))),
        }
    };
    let refresh = RefreshTiming {
        ahead: dur(r.ahead, Duration::from_secs(600), "refresh.ahead")?,
        hard_window: dur(
            r.hard_window,
            Duration::from_secs(120),
            "refresh.hard_window",
        )?,
        meta_extend_ahead: dur(
            r.meta_extend_ahead,
            Duration::from_secs(10 * 86_400),
            "refresh.meta_extend_ahead",
        )?,
    };
    if refresh.hard_window > refresh.ahead {
        return Err(ConfigError::Invalid(
            "refresh.hard_window must not exceed refresh.ahead".into(),
        ));
    }

    let mut host_keys = Vec::new();
    for k in parsed.host_keys.unwrap_or_default() {
        let hex = k.trim().strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::Invalid(format!(
                "host_keys: {k:?} is not \"sha256:<64 hex digits>\" (`credential-broker host-key` prints one)"
            )));
        }
        host_keys.push(hex.to_ascii_lowercase());
    }

    Ok(BrokerConfig {
        metrics: parsed.metrics,
        database: database
            .or_else(|| env("BERRYBOO_DATABASE_URL"))
            .or(parsed.database),
        socket: socket
            .or_else(|| env("BERRYBOO_BROKER_SOCKET").map(PathBuf::from))
            .or(parsed.socket)
            .unwrap_or_else(broker_proto::default_socket_path),
        allowed_uids: parsed.allowed_uids.unwrap_or_else(|| vec![own_uid]),
        admin_uids: parsed.admin_uids.unwrap_or_else(|| vec![own_uid]),
        host_keys,
        max_lease_ttl: dur(
            parsed.max_lease_ttl,
            Duration::from_secs(30 * 86_400),
            "max_lease_ttl",
        )?,
        integration_recheck: dur(
            parsed.integration_recheck,
            Duration::from_secs(30),
            "integration_recheck",
        )?,
        idle_timeout: match dur(
            parsed.idle_timeout,
            Duration::from_secs(120),
            "idle_timeout",
        )? {
            d if d.is_zero() => {
                return Err(ConfigError::Invalid(
                    "idle_timeout must be at least 1s".into(),
                ));
            }
            d => d,
        },
        google,
        meta,
        meta_graph_base,
        integration_types,
        refresh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_configs_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.toml");
        std::fs::write(
            &path,
            "[google]\nclient_id = \"c\"\nclient_secret = \"s\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(Some(&path), None, None).err().expect("refused");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(Some(&path), None, None).is_ok());
    }

    #[test]
    fn type_codes_default_and_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.toml");
        std::fs::write(&path, "[integration_types]\nmeta_ads = 310\n").unwrap();
        let c = load(Some(&path), None, None).unwrap();
        assert_eq!(c.type_code(Provider::Ga4), 201);
        assert_eq!(c.type_code(Provider::MetaAds), 310);
        assert_eq!(c.provider_of(310), Some(Provider::MetaAds));
        assert_eq!(c.provider_of(203), None);
    }
}
