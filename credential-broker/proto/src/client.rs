//! A small async client for the broker socket: connect, say hello, then request/response.
//! Used by the MCP servers (tokens) and the agent host and CLI (leases).

use std::path::{Path, PathBuf};

use futures::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::frame::{self, FrameError};
use crate::{
    BrokerError, HealthReport, HostKey, LeaseGrant, LeaseSecret, LeaseSet, PROTOCOL_VERSION,
    Provider, Request, Response, ShopKey, ShopKeyInfo, TokenGrant,
};

/// Why a broker call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached.
    #[error(
        "cannot connect to the credential broker at {path}: {source}; is `credential-broker serve` running?"
    )]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The connection broke or carried garbage.
    #[error("credential broker connection: {0}")]
    Frame(#[from] FrameError),
    /// The broker answered with an error.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The broker answered with a message of the wrong kind.
    #[error("credential broker answered {0} to {1}")]
    Unexpected(&'static str, &'static str),
}

impl ClientError {
    /// The broker's error, when the broker answered.
    pub fn broker_error(&self) -> Option<&BrokerError> {
        match self {
            Self::Broker(e) => Some(e),
            _ => None,
        }
    }
}

fn kind(r: &Response) -> &'static str {
    match r {
        Response::Hello { .. } => "hello",
        Response::Lease(_) => "lease",
        Response::Leases(_) => "leases",
        Response::Host => "host",
        Response::Revoked { .. } => "revoked",
        Response::RevokedAll { .. } => "revoked_all",
        Response::Token(_) => "token",
        Response::Pong => "pong",
        Response::QuotaNoted => "quota_noted",
        Response::Quotas { .. } => "quotas",
        Response::Refreshed { .. } => "refreshed",
        Response::Renewed { .. } => "renewed",
        Response::LeaseList { .. } => "lease_list",
        Response::Health(_) => "health",
        Response::KeyCreated { .. } => "key_created",
        Response::KeyList { .. } => "key_list",
        Response::KeyRevoked { .. } => "key_revoked",
        Response::Key(_) => "key",
        Response::PrincipalSet { .. } => "principal_set",
        Response::Principals { .. } => "principals",
        Response::PrincipalShops { .. } => "principal_shops",
        Response::Error(_) => "error",
    }
}

/// One connection to the broker.
pub struct BrokerClient {
    framed: Framed<UnixStream, LengthDelimitedCodec>,
    /// The broker refused a request for its `traceparent` (a broker older than trace context
    /// knows no such field): this connection sends none again.
    traceless: bool,
}

impl BrokerClient {
    /// Connects to `socket` and completes the hello.
    pub async fn connect(socket: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|source| ClientError::Connect {
                path: socket.to_owned(),
                source,
            })?;
        let mut client = Self {
            framed: Framed::new(stream, frame::codec()),
            traceless: false,
        };
        match client
            .call(&Request::Hello {
                version: PROTOCOL_VERSION,
            })
            .await?
        {
            Response::Hello { .. } => Ok(client),
            // A refused peer gets one error frame explaining why before the close.
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "hello")),
        }
    }

    /// Sends one request and waits for its response. A broker error is returned as
    /// `Ok(Response::Error)`; the typed helpers below turn it into `ClientError::Broker`.
    pub async fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        self.framed
            .send(frame::encode(request)?)
            .await
            .map_err(FrameError::Frame)?;
        let body = self
            .framed
            .next()
            .await
            .ok_or(FrameError::Closed)?
            .map_err(FrameError::Frame)?;
        Ok(frame::decode(&body)?)
    }

    /// Sends `request` with `traceparent`, unless this connection learnt that the broker does
    /// not take one; a broker that refuses it as a bad request (it predates the field) is asked
    /// again without, so mixing versions during an upgrade costs traces, never tokens.
    async fn call_traced(
        &mut self,
        traceparent: Option<String>,
        request: impl Fn(Option<String>) -> Request,
    ) -> Result<Response, ClientError> {
        let traceparent = traceparent.filter(|_| !self.traceless);
        let traced = traceparent.is_some();
        let answer = self.call(&request(traceparent)).await?;
        let bad_request = |r: &Response| matches!(r, Response::Error(e) if e.code == crate::ErrorCode::BadRequest);
        if !(traced && bad_request(&answer)) {
            return Ok(answer);
        }
        let again = self.call(&request(None)).await?;
        if !bad_request(&again) {
            self.traceless = true;
        }
        Ok(again)
    }

    /// An access token for `provider` of `shop_id` under `lease`.
    pub async fn get_token(
        &mut self,
        lease: &LeaseSecret,
        provider: Provider,
        shop_id: &str,
    ) -> Result<TokenGrant, ClientError> {
        self.get_token_in_trace(lease, provider, shop_id, None)
            .await
    }

    /// [`Self::get_token`] for a call in the trace `traceparent` names (W3C).
    pub async fn get_token_in_trace(
        &mut self,
        lease: &LeaseSecret,
        provider: Provider,
        shop_id: &str,
        traceparent: Option<String>,
    ) -> Result<TokenGrant, ClientError> {
        let request = |traceparent| Request::GetToken {
            lease: lease.clone(),
            provider,
            shop_id: shop_id.to_owned(),
            traceparent,
        };
        match self.call_traced(traceparent, request).await? {
            Response::Token(t) => Ok(t),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "get_token")),
        }
    }

    /// Reports that the upstream refused `rejected_token` (a token this broker handed out)
    /// and gets its replacement.
    pub async fn token_rejected(
        &mut self,
        lease: &LeaseSecret,
        provider: Provider,
        shop_id: &str,
        rejected_token: &str,
    ) -> Result<TokenGrant, ClientError> {
        self.token_rejected_in_trace(lease, provider, shop_id, rejected_token, None)
            .await
    }

    /// [`Self::token_rejected`] for a call in the trace `traceparent` names (W3C).
    pub async fn token_rejected_in_trace(
        &mut self,
        lease: &LeaseSecret,
        provider: Provider,
        shop_id: &str,
        rejected_token: &str,
        traceparent: Option<String>,
    ) -> Result<TokenGrant, ClientError> {
        let fingerprint = crate::token_fingerprint(rejected_token);
        let request = |traceparent| Request::TokenRejected {
            lease: lease.clone(),
            provider,
            shop_id: shop_id.to_owned(),
            fingerprint: fingerprint.clone(),
            traceparent,
        };
        match self.call_traced(traceparent, request).await? {
            Response::Token(t) => Ok(t),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "token_rejected")),
        }
    }

    /// Tells the broker what the upstream said of the shop's quota for `provider`.
    pub async fn report_quota(
        &mut self,
        lease: &LeaseSecret,
        provider: Provider,
        shop_id: &str,
        reading: crate::QuotaReading,
    ) -> Result<(), ClientError> {
        let request = Request::ReportQuota {
            lease: lease.clone(),
            provider,
            shop_id: shop_id.to_owned(),
            reading,
        };
        match self.call(&request).await? {
            Response::QuotaNoted => Ok(()),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "report_quota")),
        }
    }

    /// Admin or proven host: the shop's current quota readings, one per provider.
    pub async fn quotas(
        &mut self,
        shop_id: &str,
    ) -> Result<Vec<crate::ProviderQuota>, ClientError> {
        match self
            .call(&Request::Quotas {
                shop_id: shop_id.to_owned(),
            })
            .await?
        {
            Response::Quotas { readings } => Ok(readings),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "quotas")),
        }
    }

    /// Admin or proven host: extends `leases` to `ttl_secs` from now; returns what was
    /// renewed, until when, and which were revoked.
    pub async fn renew_leases(
        &mut self,
        leases: &[LeaseSecret],
        ttl_secs: u64,
    ) -> Result<crate::Renewal, ClientError> {
        let request = Request::RenewLeases {
            leases: leases.to_vec(),
            ttl_secs,
        };
        match self.call(&request).await? {
            Response::Renewed {
                lease_ids,
                expires_at,
                revoked,
            } => Ok(crate::Renewal {
                renewed: lease_ids,
                expires_at,
                revoked,
            }),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "renew_leases")),
        }
    }

    /// Admin: a shop key for `shop_id` and `providers` (empty: all), living `ttl_secs`.
    pub async fn create_key(
        &mut self,
        shop_id: &str,
        providers: &[Provider],
        ttl_secs: u64,
        label: Option<&str>,
    ) -> Result<(ShopKeyInfo, ShopKey), ClientError> {
        let request = Request::CreateKey {
            shop_id: shop_id.to_owned(),
            providers: providers.to_vec(),
            ttl_secs,
            label: label.map(str::to_owned),
        };
        match self.call(&request).await? {
            Response::KeyCreated { info, key } => Ok((info, key)),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "create_key")),
        }
    }

    /// Admin: every live key (of `shop_id`, if given), newest first, all pages.
    pub async fn list_keys(
        &mut self,
        shop_id: Option<&str>,
    ) -> Result<Vec<ShopKeyInfo>, ClientError> {
        let mut all = Vec::new();
        let mut offset = None;
        loop {
            let request = Request::ListKeys {
                shop_id: shop_id.map(str::to_owned),
                offset,
            };
            match self.call(&request).await? {
                Response::KeyList { keys, next } => {
                    all.extend(keys);
                    match next {
                        Some(n) => offset = Some(n),
                        None => return Ok(all),
                    }
                }
                Response::Error(e) => return Err(e.into()),
                other => return Err(ClientError::Unexpected(kind(&other), "list_keys")),
            }
        }
    }

    /// Admin: ends the key `key_id`.
    pub async fn revoke_key(&mut self, key_id: &str) -> Result<(), ClientError> {
        match self
            .call(&Request::RevokeKey {
                key_id: key_id.to_owned(),
            })
            .await?
        {
            Response::KeyRevoked { .. } => Ok(()),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "revoke_key")),
        }
    }

    /// A lease for `provider` of `shop_id` under a shop key.
    pub async fn lease_by_key(
        &mut self,
        key: &ShopKey,
        shop_id: &str,
        provider: Provider,
        ttl_secs: u64,
    ) -> Result<LeaseGrant, ClientError> {
        let request = Request::LeaseByKey {
            key: key.clone(),
            shop_id: shop_id.to_owned(),
            provider,
            ttl_secs,
        };
        match self.call(&request).await? {
            Response::Lease(grant) => Ok(grant),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "lease_by_key")),
        }
    }

    /// Admin: lets (or stops) `subject` of `issuer` reach `shop_id`; whether anything changed.
    pub async fn set_principal(
        &mut self,
        issuer: &str,
        subject: &str,
        shop_id: &str,
        allowed: bool,
    ) -> Result<bool, ClientError> {
        let request = Request::SetPrincipal {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            shop_id: shop_id.to_owned(),
            allowed,
        };
        match self.call(&request).await? {
            Response::PrincipalSet { changed } => Ok(changed),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "set_principal")),
        }
    }

    /// Admin: every allowed (issuer, subject, shop).
    pub async fn list_principals(&mut self) -> Result<Vec<crate::PrincipalInfo>, ClientError> {
        match self.call(&Request::ListPrincipals).await? {
            Response::Principals { principals } => Ok(principals),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "list_principals")),
        }
    }

    /// Admin or proven host: the shops `subject` of `issuer` may reach.
    pub async fn principal_shops(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<String>, ClientError> {
        let request = Request::PrincipalShops {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        };
        match self.call(&request).await? {
            Response::PrincipalShops { shop_ids } => Ok(shop_ids),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "principal_shops")),
        }
    }

    /// Admin or proven host: what a presented shop key reaches.
    pub async fn check_key(&mut self, key: &ShopKey) -> Result<ShopKeyInfo, ClientError> {
        match self.call(&Request::CheckKey { key: key.clone() }).await? {
            Response::Key(info) => Ok(info),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "check_key")),
        }
    }

    /// Admin: every live lease (of `shop_id`, if given), newest first.
    pub async fn list_leases(
        &mut self,
        shop_id: Option<&str>,
    ) -> Result<Vec<crate::LeaseInfo>, ClientError> {
        let mut all = Vec::new();
        let mut offset = None;
        loop {
            let request = Request::ListLeases {
                shop_id: shop_id.map(str::to_owned),
                offset,
            };
            match self.call(&request).await? {
                Response::LeaseList { leases, next } => {
                    all.extend(leases);
                    match next {
                        Some(n) => offset = Some(n),
                        None => return Ok(all),
                    }
                }
                Response::Error(e) => return Err(e.into()),
                other => return Err(ClientError::Unexpected(kind(&other), "list_leases")),
            }
        }
    }

    /// Admin: refreshes one page of integrations (of `shop_id`, or all) after integration id
    /// `after`; returns the results and where to continue.
    pub async fn refresh(
        &mut self,
        shop_id: Option<&str>,
        after: Option<i64>,
    ) -> Result<(Vec<crate::RefreshResult>, Option<i64>), ClientError> {
        let request = Request::Refresh {
            shop_id: shop_id.map(str::to_owned),
            after,
        };
        match self.call(&request).await? {
            Response::Refreshed { results, next } => Ok((results, next)),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "refresh")),
        }
    }

    /// Admin: a lease for `shop_id`.
    pub async fn create_lease(
        &mut self,
        shop_id: &str,
        providers: &[Provider],
        ttl_secs: u64,
    ) -> Result<LeaseGrant, ClientError> {
        let request = Request::CreateLease {
            shop_id: shop_id.to_owned(),
            providers: providers.to_vec(),
            ttl_secs,
        };
        match self.call(&request).await? {
            Response::Lease(l) => Ok(l),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "create_lease")),
        }
    }

    /// Admin or proven host: one lease per granted provider of `shop_id`.
    pub async fn create_leases(
        &mut self,
        shop_id: &str,
        providers: &[Provider],
        ttl_secs: u64,
    ) -> Result<LeaseSet, ClientError> {
        let request = Request::CreateLeases {
            shop_id: shop_id.to_owned(),
            providers: providers.to_vec(),
            ttl_secs,
        };
        match self.call(&request).await? {
            Response::Leases(l) => Ok(l),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "create_leases")),
        }
    }

    /// Proves this connection belongs to an agent host (see [`HostKey`]).
    pub async fn prove_host(&mut self, key: &HostKey) -> Result<(), ClientError> {
        match self.call(&Request::ProveHost { key: key.clone() }).await? {
            Response::Host => Ok(()),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "prove_host")),
        }
    }

    /// Admin: ends the lease with id `lease_id`; returns it.
    pub async fn revoke_lease_id(&mut self, lease_id: &str) -> Result<String, ClientError> {
        match self
            .call(&Request::RevokeLeaseId {
                lease_id: lease_id.to_owned(),
            })
            .await?
        {
            Response::Revoked { lease_id } => Ok(lease_id),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "revoke_lease_id")),
        }
    }

    /// Admin: integration health across shops.
    pub async fn health(&mut self, stale_days: u32) -> Result<HealthReport, ClientError> {
        match self.call(&Request::Health { stale_days }).await? {
            Response::Health(h) => Ok(*h),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "health")),
        }
    }

    /// Ends several leases in one request; returns the ids revoked.
    pub async fn revoke_leases(
        &mut self,
        leases: &[LeaseSecret],
    ) -> Result<Vec<String>, ClientError> {
        match self
            .call(&Request::RevokeLeases {
                leases: leases.to_vec(),
            })
            .await?
        {
            Response::RevokedAll { lease_ids } => Ok(lease_ids),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "revoke_leases")),
        }
    }

    /// Ends a lease; returns its id.
    pub async fn revoke_lease(&mut self, lease: &LeaseSecret) -> Result<String, ClientError> {
        match self
            .call(&Request::RevokeLease {
                lease: lease.clone(),
            })
            .await?
        {
            Response::Revoked { lease_id } => Ok(lease_id),
            Response::Error(e) => Err(e.into()),
            other => Err(ClientError::Unexpected(kind(&other), "revoke_lease")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broker from before trace context: it refuses any request naming `traceparent` as a
    /// message it does not know, as `deny_unknown_fields` makes it, and answers the rest.
    async fn old_broker(
        listener: tokio::net::UnixListener,
        seen: std::sync::Arc<std::sync::Mutex<Vec<bool>>>,
    ) {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut framed = Framed::new(stream, frame::codec());
        while let Some(Ok(body)) = framed.next().await {
            let text = String::from_utf8_lossy(&body).into_owned();
            let answer = if text.contains("\"hello\"") {
                Response::Hello {
                    version: PROTOCOL_VERSION,
                    broker: "credential-broker/old".into(),
                }
            } else if text.contains("traceparent") {
                seen.lock().expect("lock").push(true);
                Response::Error(BrokerError::new(
                    crate::ErrorCode::BadRequest,
                    "not a known message (line 1, column 200)",
                ))
            } else {
                seen.lock().expect("lock").push(false);
                Response::Token(TokenGrant {
                    access_token: secrecy::SecretString::from("ya29.old".to_owned()),
                    expires_at: 0,
                    provider: Provider::Ga4,
                    shop_id: "s".into(),
                    account: crate::Account::default(),
                    appsecret_proof: None,
                })
            };
            framed
                .send(frame::encode(&answer).expect("encode"))
                .await
                .expect("send");
        }
    }

    #[tokio::test]
    async fn an_older_broker_gets_asked_again_without_the_trace_and_then_never_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        tokio::spawn(old_broker(listener, seen.clone()));
        let mut client = BrokerClient::connect(&path).await.expect("hello");
        let lease = LeaseSecret::new("bbl_test".into());
        let tp = || Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
        for _ in 0..2 {
            client
                .get_token_in_trace(&lease, Provider::Ga4, "s", tp())
                .await
                .expect("a token all the same");
        }
        client
            .token_rejected_in_trace(&lease, Provider::Ga4, "s", "ya29.old", tp())
            .await
            .expect("a replacement all the same");
        assert_eq!(
            *seen.lock().expect("lock"),
            [true, false, false, false],
            "one refused request with the trace, then none carried it"
        );
    }
}
