//! Graph API authentication: the token comes from `Authorization: Bearer|OAuth <token>` or
//! the `access_token` query parameter (Meta accepts both), and is looked up among the fixture
//! tokens and the long-lived tokens minted by `fb_exchange_token`.
//!
//! Checks run in Meta's order: missing (2500 on `/me`, else 104), unknown (190), revoked
//! (190/460|458|467), expired (190/463). Expiry uses the real clock, like the exchange.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};

use super::error::GraphError;
use crate::state::Shared;

/// Who is calling, and what they may read.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Fixture token name (`meta-<index>` when unnamed).
    pub name: String,
    /// Ad accounts the token may read, in fixture order.
    pub ad_accounts: Vec<String>,
    /// Granted permissions; empty means all.
    pub permissions: Vec<String>,
}

impl Principal {
    /// Whether the token may read ad objects and insights.
    pub fn can_read_ads(&self) -> bool {
        self.permissions.is_empty()
            || self
                .permissions
                .iter()
                .any(|p| p == "ads_read" || p == "ads_management")
    }

    /// Whether the token lists `act_<id>`.
    pub fn sees(&self, account: &str) -> bool {
        self.ad_accounts.iter().any(|a| a == account)
    }
}

/// The presented token, if any (header first, then the query).
pub fn presented(headers: &HeaderMap, params: &[(String, String)]) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
                .then(|| token.trim().to_owned())
        })
        .filter(|t| !t.is_empty());
    from_header.or_else(|| {
        params
            .iter()
            .find(|(k, v)| k == "access_token" && !v.is_empty())
            .map(|(_, v)| v.clone())
    })
}

/// The label of fixture token `i`.
pub fn token_name(name: Option<&str>, index: usize) -> String {
    name.map(str::to_owned)
        .unwrap_or_else(|| format!("meta-{index}"))
}

/// Resolves a token to its principal, or the error Meta would answer.
pub fn authenticate(
    shared: &Shared,
    token: Option<&str>,
    me_path: bool,
    now: DateTime<Utc>,
) -> Result<Principal, GraphError> {
    let Some(token) = token else {
        return Err(if me_path {
            GraphError::missing_token_me()
        } else {
            GraphError::missing_token()
        });
    };
    let fixtures = &shared.config.fixtures.meta_tokens;
    let (principal, expires_at) = match fixtures
        .iter()
        .enumerate()
        .find(|(_, t)| t.access_token == token)
    {
        Some((i, t)) => (
            Principal {
                name: token_name(t.name.as_deref(), i),
                ad_accounts: t.ad_accounts.clone(),
                permissions: t.permissions.clone(),
            },
            t.expires_at,
        ),
        None => {
            let minted = shared.lock().meta_minted.get(token).cloned();
            let Some(m) = minted else {
                return Err(GraphError::invalid_token());
            };
            // A minted token reads what the exchanged fixture token read.
            let permissions = fixtures
                .iter()
                .enumerate()
                .find(|(i, t)| token_name(t.name.as_deref(), *i) == m.name)
                .map(|(_, t)| t.permissions.clone())
                .unwrap_or_default();
            (
                Principal {
                    name: m.name,
                    ad_accounts: m.ad_accounts,
                    permissions,
                },
                Some(m.expires_at),
            )
        }
    };
    if let Some(reason) = shared.lock().meta.revoked.get(&principal.name).copied() {
        return Err(GraphError::revoked(reason));
    }
    if let Some(at) = expires_at
        && at <= now
    {
        return Err(GraphError::expired(at, now));
    }
    Ok(principal)
}

/// `appsecret_proof` = HMAC-SHA256(app secret, `token`), hex.
pub fn appsecret_proof(app_secret: &str, token: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(token.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// When an app requires it (`require_appsecret_proof`), a call must prove the app secret with
/// the token it presents, as Meta's "Require App Secret" setting does (error #100 otherwise).
pub fn check_proof(
    shared: &Shared,
    token: Option<&str>,
    proof: Option<&str>,
) -> Result<(), GraphError> {
    let requiring: Vec<_> = shared
        .config
        .fixtures
        .meta_apps
        .iter()
        .filter(|a| a.require_appsecret_proof)
        .collect();
    let (Some(token), false) = (token, requiring.is_empty()) else {
        return Ok(());
    };
    match proof {
        None => Err(GraphError::new(
            100,
            "API calls from the server require an appsecret_proof argument",
        )),
        Some(p)
            if requiring
                .iter()
                .any(|a| appsecret_proof(&a.app_secret, token) == p) =>
        {
            Ok(())
        }
        Some(_) => Err(GraphError::new(
            100,
            "Invalid appsecret_proof provided in the API argument",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use crate::meta::error::Revocation;

    fn shared() -> Shared {
        let fixtures = crate::Fixtures::from_toml_str(
            r#"
[[meta_tokens]]
name = "acme"
access_token = "sandbox-meta-acme"
ad_accounts = ["act_111"]
permissions = ["ads_read"]

[[meta_tokens]]
access_token = "sandbox-meta-old"
expires_at = "2020-01-01T00:00:00Z"

[[meta_tokens]]
name = "pages"
access_token = "sandbox-meta-pages"
permissions = ["pages_show_list"]
"#,
        )
        .unwrap();
        Shared::new(SandboxConfig::new(fixtures))
    }

    #[test]
    fn token_sources() {
        let mut h = HeaderMap::new();
        let q = vec![("access_token".to_owned(), "q".to_owned())];
        assert_eq!(presented(&h, &q).as_deref(), Some("q"));
        h.insert(header::AUTHORIZATION, "Bearer  hdr ".parse().unwrap());
        assert_eq!(presented(&h, &q).as_deref(), Some("hdr"));
        h.insert(header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(presented(&h, &[]), None);
    }

    #[test]
    fn checks_in_metas_order() {
        let s = shared();
        let now = Utc::now();
        assert_eq!(authenticate(&s, None, true, now).unwrap_err().code, 2500);
        assert_eq!(authenticate(&s, None, false, now).unwrap_err().code, 104);
        let e = authenticate(&s, Some("nope"), false, now).unwrap_err();
        assert_eq!((e.code, e.subcode), (190, None));
        let e = authenticate(&s, Some("sandbox-meta-old"), false, now).unwrap_err();
        assert_eq!((e.code, e.subcode), (190, Some(463)));
        let p = authenticate(&s, Some("sandbox-meta-acme"), false, now).unwrap();
        assert!(p.can_read_ads() && p.sees("act_111") && !p.sees("act_112"));
        let p = authenticate(&s, Some("sandbox-meta-pages"), false, now).unwrap();
        assert!(!p.can_read_ads());
        // Minted tokens inherit the parent's permissions and expire on their own.
        s.lock().meta_minted.insert(
            "sandbox-meta-minted".into(),
            crate::state::MintedMetaToken {
                name: "pages".into(),
                ad_accounts: vec!["act_1".into()],
                expires_at: now - chrono::Duration::seconds(1),
            },
        );
        let e = authenticate(&s, Some("sandbox-meta-minted"), false, now).unwrap_err();
        assert_eq!((e.code, e.subcode), (190, Some(463)));
        if let Some(m) = s.lock().meta_minted.get_mut("sandbox-meta-minted") {
            m.expires_at = now + chrono::Duration::days(60);
        }
        let p = authenticate(&s, Some("sandbox-meta-minted"), false, now).unwrap();
        assert!(!p.can_read_ads() && p.sees("act_1"));
        s.lock()
            .meta
            .revoked
            .insert("acme".into(), Revocation::AppRemoved);
        let e = authenticate(&s, Some("sandbox-meta-acme"), false, now).unwrap_err();
        assert_eq!((e.code, e.subcode), (190, Some(458)));
    }
}
