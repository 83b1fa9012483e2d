//! Client notifications: the old system's two email templates ("Connect [Service] to Enable
//! AI Insights", "Reconnect [Service] Integration") and a warning before a token expires,
//! recorded once per shop, service, kind and day, and optionally POSTed to a webhook, signed
//! with HMAC-SHA256 and retried.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use pipeline_store::{NewNotification, Notification, NotificationKind, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};

/// Where the reconnect email sends the client (the guide's address).
pub const DEFAULT_DASHBOARD_URL: &str = "https://beryboo.pl/dashboard/integrations";

/// Renders the guide's template for `kind`: (subject, body). `reason` is why (the broker's
/// words): a grant that lacks a permission is said to, not blamed on an expired token; an
/// expiring token's reason says when.
pub fn render(
    kind: NotificationKind,
    service: &str,
    client: &str,
    dashboard_url: &str,
    reason: &str,
) -> (String, String) {
    let why = if reason.contains("lacks the") && reason.contains("permission") {
        "The connection lacks the read permission our analysis needs; please grant read access when you reconnect."
    } else {
        "This happens occasionally for security reasons (token expiration)."
    };
    match kind {
        NotificationKind::Connect => (
            format!("Connect {service} to Enable AI Insights"),
            format!(
                "Hi {client},

To enable AI-powered insights for {service}, please connect your account:

1. Log into your Beryboo dashboard
2. Go to Integrations → {service}
3. Click \"Connect {service}\"
4. Authorize access

This will allow our AI system to:
- Analyze your {service} data
- Generate personalized recommendations
- Detect anomalies and opportunities

The connection is secure and uses read-only access.

Best regards,
Beryboo Team
"
            ),
        ),
        NotificationKind::Reconnect => (
            format!("Reconnect {service} Integration"),
            format!(
                "Hi {client},

Your {service} integration needs to be reconnected to continue receiving AI insights.

{why}

Please visit: {dashboard_url}
And reconnect your {service} account.

Best regards,
Beryboo Team
"
            ),
        ),
        NotificationKind::Expiring => (
            format!("Reconnect {service} Before It Expires"),
            format!(
                "Hi {client},

Your {service} integration will stop working soon. {reason}

To keep receiving AI insights without a gap, please visit: {dashboard_url}
And reconnect your {service} account before then.

Best regards,
Beryboo Team
"
            ),
        ),
    }
}

/// Today (UTC) as a notification's day.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// What to tell one shop.
pub struct Message<'a> {
    /// The shop.
    pub shop_id: &'a str,
    /// Its name, for the greeting.
    pub client: &'a str,
    /// The service as users know it.
    pub service: &'a str,
    /// Which template.
    pub kind: NotificationKind,
    /// Why, in the broker's or server's words.
    pub reason: &'a str,
    /// The de-duplication day: today for what the pipeline ran into, the expiry date for an
    /// expiring token, the day the broker found a grant refused.
    pub day: String,
}

/// Records a notification unless the same (shop, service, kind, day) exists; None when it was
/// a duplicate.
pub async fn record(
    store: &Store,
    m: Message<'_>,
    dashboard_url: &str,
) -> Result<Option<Notification>, StoreError> {
    let (subject, body) = render(m.kind, m.service, m.client, dashboard_url, m.reason);
    store
        .notify(&NewNotification {
            shop_id: m.shop_id.to_owned(),
            service: m.service.to_owned(),
            kind: m.kind,
            day: m.day,
            reason: m.reason.to_owned(),
            subject,
            body,
        })
        .await
}

/// A webhook that receives notifications as JSON.
#[derive(Clone)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// Signs each body (`X-Berryboo-Signature: sha256=HEX`), if set.
    pub secret: Option<SecretString>,
}

/// Delivery attempts per notification within one run, and across runs.
const ATTEMPTS_PER_RUN: u32 = 3;
/// After this many failed attempts a notification is left for a person to look at.
pub const MAX_DELIVERY_ATTEMPTS: i64 = 9;

/// HMAC-SHA256 of `body` under `secret`, hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Delivers every undelivered notification; returns (delivered, failed).
pub async fn deliver(store: &Store, hook: &Webhook) -> Result<(usize, usize), StoreError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| StoreError::Invalid(format!("webhook client: {e}")))?;
    let (mut ok, mut failed) = (0, 0);
    for n in store.undelivered(MAX_DELIVERY_ATTEMPTS).await? {
        // Another host may be delivering it; the lock outlasts one notification's retries.
        if !store.lock_delivery(n.id, 120_000).await? {
            continue;
        }
        let mut body = serde_json::json!({
            "id": n.id, "shop_id": n.shop_id, "service": n.service, "kind": n.kind,
            "day": n.day, "reason": n.reason, "subject": n.subject, "body": n.body,
        });
        redaction::json(&mut body);
        let body = body.to_string();
        let mut last_error = None;
        let mut unreachable = false;
        for attempt in 0..ATTEMPTS_PER_RUN {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            let mut request = client
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("x-berryboo-delivery", n.id.to_string());
            if let Some(secret) = &hook.secret {
                request = request.header(
                    "x-berryboo-signature",
                    format!(
                        "sha256={}",
                        signature(secret.expose_secret(), body.as_bytes())
                    ),
                );
            }
            match request.body(body.clone()).send().await {
                Ok(r) if r.status().is_success() => {
                    last_error = None;
                    break;
                }
                Ok(r) => {
                    last_error = Some(format!("webhook answered {}", r.status()));
                    // A 4xx other than 408/429 will not get better by retrying now.
                    if r.status().is_client_error()
                        && r.status() != reqwest::StatusCode::TOO_MANY_REQUESTS
                        && r.status() != reqwest::StatusCode::REQUEST_TIMEOUT
                    {
                        break;
                    }
                }
                // Without the URL: it often carries the receiver's secret.
                Err(e) => {
                    unreachable = true;
                    last_error = Some(format!("webhook unreachable: {}", e.without_url()));
                }
            }
        }
        store.delivery(n.id, last_error.as_deref()).await?;
        match last_error {
            None => ok += 1,
            Some(e) => {
                tracing::warn!(notification = n.id, "{e}");
                failed += 1;
            }
        }
        if unreachable {
            // The rest would wait out the same timeouts; they go out on a later run.
            break;
        }
    }
    Ok((ok, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_the_guides() {
        let (subject, body) = render(
            NotificationKind::Reconnect,
            "Google Analytics",
            "Acme Shop",
            DEFAULT_DASHBOARD_URL,
            "The Google Analytics authorization for shop X was revoked or has expired.",
        );
        assert!(body.contains("(token expiration)"), "{body}");
        assert_eq!(subject, "Reconnect Google Analytics Integration");
        assert!(body.starts_with(
            "Hi Acme Shop,\n\nYour Google Analytics integration needs to be reconnected"
        ));
        assert!(body.contains("Please visit: https://beryboo.pl/dashboard/integrations\nAnd reconnect your Google Analytics account."));
        let (_, scope) = render(
            NotificationKind::Reconnect,
            "Google Analytics",
            "Acme Shop",
            DEFAULT_DASHBOARD_URL,
            "The Google Analytics integration of shop X lacks the https://www.googleapis.com/auth/analytics.readonly permission.",
        );
        assert!(scope.contains("lacks the read permission"), "{scope}");
        assert!(!scope.contains("token expiration"), "{scope}");
        let (subject, body) = render(
            NotificationKind::Connect,
            "Meta Ads",
            "Bloom",
            DEFAULT_DASHBOARD_URL,
            "No Meta Ads integration found",
        );
        assert_eq!(subject, "Connect Meta Ads to Enable AI Insights");
        assert!(body.contains("2. Go to Integrations → Meta Ads\n3. Click \"Connect Meta Ads\""));
        assert!(body.ends_with("Best regards,\nBeryboo Team\n"));
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
