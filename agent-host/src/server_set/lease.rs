//! The set's leases while it lives: renewed every third of their lifetime, never replaced when
//! the broker revoked them, replaced (and the member restarted) when they lapsed in an outage;
//! revoked when the set ends.

use super::*;

/// How long one renewal may take: a broker that accepts but never answers (stopped, wedged)
/// must not stall the renewals until the leases lapse.
pub(super) const RENEWAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Renews the members' leases every third of their lifetime while the set lives, so they stay
/// short: if the host dies (even by SIGKILL) they end within one `lease_ttl`.
///
/// A lease the broker did not renew was either revoked — its member's tools end, and it is
/// never replaced (that would undo the revocation) — or it expired (the broker was unreachable
/// or stopped for a whole lifetime): then a new lease is made and the member's server is
/// restarted with it on its next call, so a broker outage does not leave a long-lived set (a
/// chat, the gateway's pool) without tools. The broker says which (`Renewal::revoked`); no
/// clock on this side decides it.
pub(super) fn keep_alive(
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
pub(super) fn lasting(code: broker_proto::ErrorCode) -> bool {
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
pub(super) async fn replace(
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

/// Revokes `leases` in one request, logging (not failing) when that is not possible.
pub(super) async fn revoke(socket: &Path, leases: &[LeaseSecret], label: &str) {
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
