//! HTTP admission: `Host` and `Origin` checks against DNS rebinding, and the bearer key.
//!
//! A browser page on a hostile site can resolve its own name to 127.0.0.1 and then talk to a
//! loopback server; it cannot forge `Host`, and it always sends `Origin`. So on a loopback bind
//! only loopback `Host` values (plus `--allowed-host`) pass, and a present `Origin` must be a
//! loopback origin or one of `--allowed-origin`. Non-loopback binds always require the key.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};

use crate::cli::HttpConfig;

/// The admission rules of one listener.
pub struct Guard {
    loopback_bind: bool,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    key: Option<SecretString>,
}

impl Guard {
    /// Rules for `config`.
    pub fn new(config: &HttpConfig) -> Self {
        Self {
            loopback_bind: config.bind.ip().is_loopback(),
            allowed_hosts: config
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allowed_origins: config
                .allowed_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            key: config.key.clone(),
        }
    }

    fn host_ok(&self, host: Option<&str>) -> bool {
        let Some(host) = host.map(str::to_ascii_lowercase) else {
            // HTTP/1.1 requires Host; without one we cannot tell where the request was aimed.
            return false;
        };
        if self
            .allowed_hosts
            .iter()
            .any(|a| *a == host || *a == strip_port(&host))
        {
            return true;
        }
        if self.loopback_bind {
            return is_loopback_name(strip_port(&host));
        }
        // A non-loopback bind always has a key, which a rebinding page cannot know; without
        // --allowed-host we accept any Host there.
        self.allowed_hosts.is_empty()
    }

    fn origin_ok(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin.map(str::to_ascii_lowercase) else {
            return true;
        };
        if self
            .allowed_origins
            .iter()
            .any(|a| origin_matches(a, &origin))
        {
            return true;
        }
        let Some((_, rest)) = origin.split_once("://") else {
            return false;
        };
        is_loopback_name(strip_port(rest))
    }

    fn key_ok(&self, headers: &HeaderMap) -> bool {
        let Some(key) = &self.key else { return true };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .unwrap_or("");
        constant_time_eq(presented.trim().as_bytes(), key.expose_secret().as_bytes())
    }
}

/// The credential of an `Authorization: Bearer …` value (the scheme is case-insensitive).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Middleware: refuse requests that fail a rule, with a message that says which.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    // HTTP/2 carries the host in the `:authority` pseudo-header (the request URI), not `Host`;
    // only without a `Host` header at all does the URI's authority count (an unreadable or
    // repeated `Host` is refused, never replaced by something else).
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (None, _) => authority.as_deref(),
        (Some(h), None) => h.to_str().ok(),
        (Some(_), Some(_)) => None,
    };
    if !guard.host_ok(host) {
        tracing::warn!(
            host = host.unwrap_or("-"),
            "refused request: Host not allowed"
        );
        return (
            StatusCode::FORBIDDEN,
            "Host not allowed (DNS rebinding protection); add it with --allowed-host",
        )
            .into_response();
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !guard.origin_ok(origin) {
        tracing::warn!(
            origin = origin.unwrap_or("-"),
            "refused request: Origin not allowed"
        );
        return (
            StatusCode::FORBIDDEN,
            "Origin not allowed; add it with --allowed-origin",
        )
            .into_response();
    }
    if !guard.key_ok(headers) {
        tracing::warn!("refused request: missing or wrong bearer key");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer key: send Authorization: Bearer <key>",
        )
            .into_response();
    }
    next.run(request).await
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:8080
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `https://app.example.com` matches any port of that origin; `:*` too; an explicit port only
/// itself. Both lowercase.
pub fn origin_matches(allowed: &str, origin: &str) -> bool {
    if allowed == origin {
        return true;
    }
    let allowed = allowed.trim_end_matches(":*");
    match origin.strip_prefix(allowed) {
        Some(rest) => {
            rest.is_empty()
                || (rest.starts_with(':')
                    && !allowed.ends_with(']')
                    && rest[1..].chars().all(|c| c.is_ascii_digit()))
        }
        None => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(bind: &str, key: Option<&str>, hosts: &[&str], origins: &[&str]) -> Guard {
        Guard::new(&HttpConfig {
            bind: bind.parse().expect("addr"),
            key: key.map(|k| SecretString::from(k.to_owned())),
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            max_sessions: 4,
            session_idle: std::time::Duration::from_secs(60),
            header_timeout: std::time::Duration::from_secs(30),
        })
    }

    #[test]
    fn loopback_bind_accepts_only_loopback_hosts() {
        let g = guard("127.0.0.1:8000", None, &[], &[]);
        assert!(g.host_ok(Some("127.0.0.1:8000")));
        assert!(g.host_ok(Some("localhost:8000")));
        assert!(g.host_ok(Some("[::1]:8000")));
        assert!(!g.host_ok(Some("evil.example:8000")));
        assert!(!g.host_ok(Some("127.0.0.1.evil.example")));
        assert!(!g.host_ok(None));
    }

    #[test]
    fn allowed_hosts_extend_the_list() {
        let g = guard("127.0.0.1:8000", None, &["mcp.example.com"], &[]);
        assert!(g.host_ok(Some("mcp.example.com:8000")));
        assert!(g.host_ok(Some("localhost")));
    }

    #[test]
    fn origins_must_be_loopback_or_allowed() {
        let g = guard("127.0.0.1:8000", None, &[], &["https://app.example.com"]);
        assert!(g.origin_ok(None));
        assert!(g.origin_ok(Some("http://localhost:3000")));
        assert!(g.origin_ok(Some("https://app.example.com")));
        assert!(g.origin_ok(Some("https://app.example.com:8443")));
        assert!(!g.origin_ok(Some("https://app.example.com.evil.example")));
        assert!(!g.origin_ok(Some("https://evil.example")));
        assert!(!g.origin_ok(Some("null")));
    }

    #[test]
    fn key_is_compared_exactly() {
        let g = guard("0.0.0.0:8000", Some("0123456789abcdef"), &[], &[]);
        let mut h = HeaderMap::new();
        assert!(!g.key_ok(&h));
        h.insert(
            header::AUTHORIZATION,
            "Bearer 0123456789abcdeX".parse().expect("hv"),
        );
        assert!(!g.key_ok(&h));
        h.insert(
            header::AUTHORIZATION,
            "Bearer 0123456789abcdef".parse().expect("hv"),
        );
        assert!(g.key_ok(&h));
    }
}
