//! Reading and writing an integration's `data` JSON, the dashboard's format:
//! `token`, `refresh_token`, `expires_at` (RFC 3339 or epoch seconds), `granted_scopes` (a list
//! or a space-separated string), and the account (`property_id`, `customer_id`,
//! `login_customer_id`, `ad_account_id`, `property_url`). Keys the broker does not know are kept
//! as they are when it writes a refreshed token back.

use broker_proto::{Account, Provider};
use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use serde_json::{Map, Value};

/// The parts of `data` the broker uses.
pub struct IntegrationData {
    /// Current access token.
    pub token: Option<SecretString>,
    /// Refresh token (Google).
    pub refresh_token: Option<SecretString>,
    /// When `token` expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Granted scopes, if recorded.
    pub granted_scopes: Option<Vec<String>>,
    /// Account ids.
    pub account: Account,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses `expires_at`: RFC 3339, epoch seconds (number or numeric string), or
/// `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|s| Utc.timestamp_opt(s, 0).single()),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(secs) = s.parse::<i64>() {
                return Utc.timestamp_opt(secs, 0).single();
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        }
        _ => None,
    }
}

/// Reads `data`.
pub fn parse(data: &Value) -> IntegrationData {
    let get = |k: &str| data.get(k);
    let secret = |k: &str| text(get(k)).map(SecretString::from);
    let granted_scopes = match get("granted_scopes") {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(Value::String(s)) => Some(
            s.split([' ', ','])
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    };
    IntegrationData {
        token: secret("token").or_else(|| secret("access_token")),
        refresh_token: secret("refresh_token"),
        expires_at: get("expires_at").and_then(parse_time),
        granted_scopes,
        account: Account {
            property_id: text(get("property_id")),
            customer_id: text(get("customer_id")).map(|c| c.replace('-', "")),
            login_customer_id: text(get("login_customer_id")).map(|c| c.replace('-', "")),
            ad_account_id: text(get("ad_account_id")),
            property_url: text(get("property_url")),
        },
    }
}

/// True when `scopes` include the read access `provider` needs (or a broader one).
pub fn has_scope(provider: Provider, scopes: &[String]) -> bool {
    let accepted: &[&str] = match provider {
        Provider::Ga4 => &["analytics.readonly", "analytics", "analytics.edit"],
        Provider::Gsc => &["webmasters.readonly", "webmasters"],
        Provider::GoogleAds => &["adwords"],
        Provider::MetaAds => &["ads_read", "ads_management"],
    };
    scopes.iter().any(|s| {
        let short = s.trim().rsplit('/').next().unwrap_or("");
        accepted.contains(&short)
    })
}

/// `data` with a new access token (and rotated refresh token, if any); every other key kept.
pub fn with_token(
    data: &Value,
    token: &str,
    expires_at: DateTime<Utc>,
    rotated_refresh_token: Option<&str>,
) -> Value {
    let mut map = match data {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    map.insert("token".into(), Value::String(token.to_owned()));
    map.insert(
        "expires_at".into(),
        Value::String(expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    if let Some(rt) = rotated_refresh_token {
        map.insert("refresh_token".into(), Value::String(rt.to_owned()));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn reads_the_dashboard_format() {
        let d = parse(&json!({
            "token": "t", "refresh_token": "r", "expires_at": "2026-10-21T12:00:00+02:00",
            "granted_scopes": "https://www.googleapis.com/auth/analytics.readonly openid",
            "property_id": 326784853, "customer_id": "123-456-7890"
        }));
        assert_eq!(d.token.unwrap().expose_secret(), "t");
        assert_eq!(
            d.expires_at.unwrap().to_rfc3339(),
            "2026-10-21T10:00:00+00:00"
        );
        assert_eq!(d.account.property_id.as_deref(), Some("326784853"));
        assert_eq!(d.account.customer_id.as_deref(), Some("1234567890"));
        assert!(has_scope(
            Provider::Ga4,
            d.granted_scopes.as_deref().unwrap()
        ));
        assert!(!has_scope(
            Provider::Gsc,
            d.granted_scopes.as_deref().unwrap()
        ));
    }

    #[test]
    fn expiry_formats() {
        assert_eq!(
            parse_time(&json!(1_793_000_000)).unwrap().timestamp(),
            1_793_000_000
        );
        assert_eq!(
            parse_time(&json!("1793000000")).unwrap().timestamp(),
            1_793_000_000
        );
        assert!(parse_time(&json!("2026-10-21 12:00:00")).is_some());
        assert!(parse_time(&json!("soon")).is_none());
    }

    #[test]
    fn writing_keeps_unknown_keys() {
        let out = with_token(
            &json!({"token": "old", "refresh_token": "r", "custom": {"a": 1}}),
            "new",
            Utc.timestamp_opt(0, 0).unwrap(),
            None,
        );
        assert_eq!(
            out,
            json!({"token": "new", "refresh_token": "r", "custom": {"a": 1}, "expires_at": "1970-01-01T00:00:00Z"})
        );
        let rotated = with_token(&out, "n2", Utc.timestamp_opt(0, 0).unwrap(), Some("r2"));
        assert_eq!(rotated["refresh_token"], "r2");
    }

    #[test]
    fn list_scopes_and_meta_permissions() {
        let d = parse(&json!({"granted_scopes": ["ads_read", "business_management"]}));
        assert!(has_scope(
            Provider::MetaAds,
            d.granted_scopes.as_deref().unwrap()
        ));
        assert!(!has_scope(
            Provider::GoogleAds,
            d.granted_scopes.as_deref().unwrap()
        ));
    }
}
