//! The pipeline's worker: one shop's batch at a time — its server set, each anomaly through
//! its teams (or the database alone), the evidence, findings, recommendations and
//! notifications it stores, and the claims it gives back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use broker_proto::{BrokerError, ErrorCode, Provider};
use pipeline_store::{Anomaly, Notification, NotificationKind, Recommendation, Store};
use serde_json::json;
use tracing::Instrument as _;

use super::notify;
use super::teams::{self, Reader, TeamError};
use crate::llm::LlmConfig;
use crate::server_set::{Credentials, ServerSet, SetConfig, SetError};

/// Why a team could not read its source for a shop.
#[derive(Debug, Clone)]
pub(super) enum Unavailable {
    /// No (active) integration, or one without its account: the shop should (finish) connect(ing)
    /// it.
    Missing(String),
    /// Credentials broken: the shop must reconnect.
    Broken(String),
    /// Something transient (token endpoint down, server crashed).
    Failed(String),
}

impl Unavailable {
    pub(super) fn of(e: &BrokerError) -> Unavailable {
        match e.code {
            ErrorCode::NoIntegration
            | ErrorCode::IntegrationInactive
            | ErrorCode::NoAccount
            | ErrorCode::UnknownShop => Unavailable::Missing(e.message.clone()),
            ErrorCode::ReconnectRequired | ErrorCode::MissingScope => {
                Unavailable::Broken(e.message.clone())
            }
            _ => Unavailable::Failed(e.message.clone()),
        }
    }

    pub(super) fn outcome(&self) -> &'static str {
        match self {
            Unavailable::Missing(_) => "skipped",
            Unavailable::Broken(_) => "broken",
            Unavailable::Failed(_) => "failed",
        }
    }

    pub(super) fn reason(&self) -> &str {
        match self {
            Unavailable::Missing(r) | Unavailable::Broken(r) | Unavailable::Failed(r) => r,
        }
    }
}

pub(super) struct Ctx {
    pub(super) store: Store,
    pub(super) config: Arc<SetConfig>,
    pub(super) worker: String,
    pub(super) max_attempts: i64,
    pub(super) retry_delay_ms: i64,
    pub(super) claim_ttl_ms: i64,
    pub(super) dashboard_url: String,
    pub(super) llm: Option<LlmConfig>,
    /// Percent of a source's quota the pipeline leaves for people.
    pub(super) quota_reserve: u8,
}

/// The most the pipeline waits for the broker's ledger before an anomaly.
const LEDGER_WAIT: Duration = Duration::from_secs(5);

/// The longest an anomaly is deferred for quota, from its creation (ms).
const MAX_DEFERRAL_MS: i64 = 48 * 3600 * 1000;

/// What happened to one shop's batch.
#[derive(Default)]
pub(super) struct ShopOutcome {
    /// The shop's name (or id), for progress lines.
    pub(super) client: String,
    /// How long the shop's lease and servers took to start (the per-shop overhead).
    pub(super) set_start: Option<Duration>,
    pub(super) processed: Vec<i64>,
    /// Anomalies whose claim another worker took over before this one finished.
    pub(super) lost: Vec<i64>,
    pub(super) failures: Vec<(i64, String)>,
    /// Anomalies put off because a source's quota is under the reserve, and why.
    pub(super) deferred: Vec<(i64, String)>,
    pub(super) recommendations: usize,
    pub(super) skipped: Vec<(String, Provider, String)>,
    pub(super) notifications: Vec<Notification>,
    pub(super) duplicate_notifications: usize,
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

impl Ctx {
    pub(super) async fn notify(
        &self,
        out: &mut ShopOutcome,
        shop: &str,
        client: &str,
        team: Provider,
        u: &Unavailable,
    ) {
        let kind = match u {
            Unavailable::Missing(_) => NotificationKind::Connect,
            Unavailable::Broken(_) => NotificationKind::Reconnect,
            Unavailable::Failed(_) => return,
        };
        let message = notify::Message {
            shop_id: shop,
            client,
            service: team.service_name(),
            kind,
            reason: u.reason(),
            day: notify::today(),
        };
        match notify::record(&self.store, message, &self.dashboard_url).await {
            Ok(Some(n)) => out.notifications.push(n),
            Ok(None) => out.duplicate_notifications += 1,
            Err(e) => tracing::warn!(shop, "cannot record a notification: {e}"),
        }
    }

    /// Turns the broker's credential findings into client messages, whether or not an anomaly
    /// ran into them: a Meta token expiring soon → "Reconnect Meta Ads Before It Expires"
    /// (once per token: keyed by its expiry date), a grant the token endpoint refused →
    /// "Reconnect … Integration" (once per refusal: none if one went out since the broker
    /// found it, from here or from an anomaly that ran into it). So every `token_expiring` and
    /// `reconnect_required` of `credential-broker notifications` has its message in
    /// `agent-host notifications`. Returns the new messages (one already sent is not news).
    pub(super) async fn credential_warnings(
        &self,
        only_shop: Option<&str>,
    ) -> Result<Vec<Notification>, String> {
        let mut broker = self
            .config
            .broker()
            .await
            .map_err(|e| format!("cannot reach the credential broker: {e}"))?;
        // The stale-token list is not used here; u32::MAX keeps it empty.
        let health = broker
            .health(u32::MAX)
            .await
            .map_err(|e| format!("the credential broker's health report failed: {e}"))?;
        let cut: u64 = ["needs_reconnect", "meta_tokens_expiring"]
            .iter()
            .filter_map(|k| health.omitted.get(*k))
            .sum();
        if cut > 0 {
            // The report fits one frame; what was cut comes up on a later run once the
            // listed ones are fixed.
            tracing::warn!("{cut} credential findings did not fit the broker's health report");
        }
        let date = |rfc3339: &Option<String>| {
            rfc3339
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        let mut wanted = Vec::new();
        for item in &health.meta_tokens_expiring {
            let Some(expires) = date(&item.expires_at) else {
                continue;
            };
            let days = (expires - chrono::Utc::now()).num_days().max(0);
            let day = expires.format("%Y-%m-%d").to_string();
            let reason = format!(
                "Its access expires on {day} (in {days} day(s)), and {} does not let us renew it without you.",
                item.provider.service_name()
            );
            wanted.push((item, NotificationKind::Expiring, reason, day));
        }
        for item in &health.needs_reconnect {
            // One message per refusal, whichever path sends it (an anomaly that ran into it
            // sends one keyed by its own day): nothing if one went out since the refusal.
            let refused = date(&item.updated)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(notify::today);
            let sent = self
                .store
                .notified_since(
                    &item.shop_id,
                    item.provider.service_name(),
                    NotificationKind::Reconnect,
                    &refused,
                )
                .await
                .map_err(|e| format!("cannot read notifications: {e}"))?;
            if sent {
                continue;
            }
            let reason = BrokerError::reconnect_required(item.provider, &item.shop_id).message;
            wanted.push((item, NotificationKind::Reconnect, reason, notify::today()));
        }
        let mut new = Vec::new();
        for (item, kind, reason, day) in wanted {
            if only_shop.is_some_and(|s| s != item.shop_id) {
                continue;
            }
            let client = health
                .shop_names
                .get(&item.shop_id)
                .cloned()
                .unwrap_or_else(|| item.shop_id.clone());
            let message = notify::Message {
                shop_id: &item.shop_id,
                client: &client,
                service: item.provider.service_name(),
                kind,
                reason: &reason,
                day,
            };
            match notify::record(&self.store, message, &self.dashboard_url).await {
                Ok(Some(n)) => new.push(n),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot record a notification: {e}")),
            }
        }
        Ok(new)
    }

    /// Why each of `providers` is unusable, when the broker refused a lease for all of them
    /// (its error names only the first).
    pub(super) async fn why_each(
        &self,
        shop: &str,
        providers: &[Provider],
    ) -> HashMap<Provider, Unavailable> {
        let mut out = HashMap::new();
        for p in providers {
            let u = match self.config.broker().await {
                Err(e) => Unavailable::Failed(e.to_string()),
                Ok(mut broker) => match broker.create_lease(shop, &[*p], 60).await {
                    Err(e) => match e.broker_error() {
                        Some(be) => Unavailable::of(be),
                        None => Unavailable::Failed(e.to_string()),
                    },
                    Ok(grant) => {
                        // It became usable in between: nothing to record; try next run.
                        let _ = broker.revoke_lease(&grant.lease).await;
                        Unavailable::Failed("the integration changed while this run started".into())
                    }
                },
            };
            out.insert(*p, u);
        }
        out
    }

    pub(super) async fn give_back_all(
        &self,
        out: &mut ShopOutcome,
        anomalies: &[Anomaly],
        reason: &str,
        attempts: i64,
    ) {
        for a in anomalies {
            if let Err(e) = self
                .store
                .give_back(a.id, &self.worker, reason, attempts, self.retry_delay_ms)
                .await
            {
                tracing::warn!(anomaly = a.id, "cannot give the anomaly back: {e}");
            }
            out.failures.push((a.id, reason.to_owned()));
        }
    }

    pub(super) async fn process_shop(&self, shop: String, anomalies: Vec<Anomaly>) -> ShopOutcome {
        let client = self
            .store
            .shop_name(&shop)
            .await
            .unwrap_or_else(|| shop.clone());
        let mut out = ShopOutcome {
            client: client.clone(),
            ..ShopOutcome::default()
        };
        let needed: Vec<Provider> = Provider::ALL
            .into_iter()
            .filter(|p| anomalies.iter().any(|a| teams::teams_for(a).contains(p)))
            .collect();
        let mut unavailable: HashMap<Provider, Unavailable> = HashMap::new();
        let starting = Instant::now();
        let set = match ServerSet::start(
            self.config.clone(),
            Credentials::Broker {
                shop_id: shop.clone(),
            },
            &needed,
        )
        .await
        {
            Ok(set) => {
                out.set_start = Some(starting.elapsed());
                for m in &set.skipped {
                    unavailable.insert(m.provider, Unavailable::of(&m.error));
                }
                for (p, reason) in &set.failed {
                    // Servers fetch tokens lazily, so one that cannot start has an operational
                    // problem (binary, resources), not a client's: no email, the rest go on.
                    unavailable.insert(*p, Unavailable::Failed(reason.clone()));
                }
                Some(set)
            }
            Err(SetError::Broker(e)) => match e.broker_error() {
                Some(be) if be.code == ErrorCode::UnknownShop => {
                    let reason =
                        format!("unknown shop {shop}: no such shop in the dashboard database");
                    self.give_back_all(&mut out, &anomalies, &reason, 0).await;
                    return out;
                }
                Some(_) => {
                    unavailable = self.why_each(&shop, &needed).await;
                    if let Some(transient) = unavailable
                        .values()
                        .find(|u| matches!(u, Unavailable::Failed(_)))
                    {
                        // Not the shop's state but the broker's (internal error, token
                        // endpoint down): retry later instead of settling for less.
                        let reason = format!(
                            "the broker could not lease: {}",
                            first_line(transient.reason())
                        );
                        self.give_back_all(&mut out, &anomalies, &reason, self.max_attempts)
                            .await;
                        return out;
                    }
                    None
                }
                None => {
                    // The broker is unreachable: nothing about this shop is known; retry later.
                    let reason = e.to_string();
                    self.give_back_all(&mut out, &anomalies, &reason, self.max_attempts)
                        .await;
                    return out;
                }
            },
            Err(SetError::NoServer(_, reasons)) => {
                // No server started at all: an operational failure; retry these later rather
                // than settle for a database-only view.
                let reason = format!("no server could start: {reasons}");
                self.give_back_all(&mut out, &anomalies, &reason, self.max_attempts)
                    .await;
                return out;
            }
            Err(e) => {
                let reason = e.to_string();
                self.give_back_all(&mut out, &anomalies, &reason, self.max_attempts)
                    .await;
                return out;
            }
        };
        for (p, u) in &unavailable {
            tracing::warn!(shop = %shop, "skipping {}: {}", p.service_name(), first_line(u.reason()));
            out.skipped
                .push((client.clone(), *p, first_line(u.reason()).to_owned()));
            self.notify(&mut out, &shop, &client, *p, u).await;
        }
        // The broker's quota ledger, read before each anomaly: its readings are those of
        // every server of the shop (a chat's included), and change as this batch runs. A
        // ledger that cannot be read holds nothing back (the set just reached the broker;
        // the upstream still refuses what is over its quota), and says so.
        let mut ledger = match self.config.broker().await {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(shop = %shop, "the quota ledger cannot be read ({e}); this batch runs without it");
                None
            }
        };
        for a in &anomalies {
            if let Some((why, until_ms)) = self.quota_short(&mut ledger, a).await {
                match self.store.defer(a.id, &self.worker, &why, until_ms).await {
                    Ok(true) => out.deferred.push((a.id, why)),
                    Ok(false) => out.lost.push(a.id),
                    Err(e) => out.failures.push((a.id, format!("cannot defer it: {e}"))),
                }
                continue;
            }
            // Each anomaly is the root of a trace: its teams' tool calls, their upstream
            // requests and the broker's vends join it, and its evidence rows name it.
            let span = tracing::info_span!(
                "anomaly",
                otel.kind = "internal",
                otel.name = "anomaly",
                anomaly_id = a.id,
                shop = %a.shop_id,
                source = %a.source,
                metric = %a.metric,
            );
            match self
                .process_anomaly(a, set.as_ref(), &mut unavailable, &client, &mut out)
                .instrument(span)
                .await
            {
                Ok(true) => out.processed.push(a.id),
                Ok(false) => out.lost.push(a.id),
                Err(e) => {
                    let reason = format!("{e:#}");
                    let _ = self
                        .store
                        .give_back(
                            a.id,
                            &self.worker,
                            &reason,
                            self.max_attempts,
                            self.retry_delay_ms,
                        )
                        .await;
                    out.failures.push((a.id, reason));
                }
            }
        }
        if let Some(set) = set {
            set.shutdown().await;
        }
        out
    }

    /// Why `a` must wait, and until when (ms): a source it reads has less quota left than the
    /// reserve, by the broker's ledger. None when every source has enough, or nothing is
    /// known (a broker that predates the ledger answers with an error: nothing to go by).
    pub(super) async fn quota_short(
        &self,
        ledger: &mut Option<broker_proto::client::BrokerClient>,
        a: &Anomaly,
    ) -> Option<(String, i64)> {
        let readings = self.ledger_of(ledger, &a.shop_id).await?;
        let needed = teams::teams_for(a);
        let short = readings
            .iter()
            .filter(|q| needed.contains(&q.provider) && q.reading.left_pct < self.quota_reserve)
            .min_by_key(|q| q.reading.left_pct)?;
        let now = chrono::Utc::now().timestamp();
        // An anomaly waits for quota two days at most: then it is worth what it costs.
        if chrono::Utc::now().timestamp_millis() - a.created_ms > MAX_DEFERRAL_MS {
            tracing::info!(
                anomaly = a.id,
                "{} quota under the reserve for two days: processing anyway",
                short.provider.service_name()
            );
            return None;
        }
        let resets = short
            .reading
            .resets_at
            .unwrap_or(now + 3600)
            .clamp(now + 60, now + broker_proto::MAX_RESET_SECS);
        let when = chrono::DateTime::from_timestamp(resets, 0).unwrap_or_default();
        let when = if short.provider == Provider::Ga4 {
            // GA4's days end at midnight Pacific time: say it as Google does.
            when.with_timezone(&chrono_tz::America::Los_Angeles)
                .format("%H:%M PT")
                .to_string()
        } else {
            when.format("%H:%M UTC").to_string()
        };
        Some((
            format!(
                "{} quota {} % left ({}), resets {when}",
                short.provider.service_name(),
                short.reading.left_pct,
                short.reading.limit
            ),
            resets.saturating_mul(1000),
        ))
    }

    /// The shop's readings from the broker's ledger, on `ledger` (reconnected once if it broke,
    /// dropped if that fails too, so one hiccup costs one reconnect, not the batch's checks).
    /// None when nothing can be known: no ledger, or a broker that predates it.
    async fn ledger_of(
        &self,
        ledger: &mut Option<broker_proto::client::BrokerClient>,
        shop_id: &str,
    ) -> Option<Vec<broker_proto::ProviderQuota>> {
        for attempt in 0..2 {
            let broker = ledger.as_mut()?;
            match tokio::time::timeout(LEDGER_WAIT, broker.quotas(shop_id)).await {
                Ok(Ok(readings)) => return Some(readings),
                // A broker that predates the ledger: nothing to go by.
                Ok(Err(broker_proto::client::ClientError::Broker(e)))
                    if e.code == broker_proto::ErrorCode::BadRequest =>
                {
                    return None;
                }
                failed => {
                    *ledger = None;
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "no answer in time".to_owned(),
                    };
                    if attempt == 1 {
                        tracing::warn!(shop = %shop_id, "the quota ledger cannot be read ({why}); this batch runs without it");
                        return None;
                    }
                    match self.config.broker().await {
                        Ok(b) => *ledger = Some(b),
                        Err(e) => {
                            tracing::warn!(shop = %shop_id, "the quota ledger cannot be read ({why}, then {e}); this batch runs without it");
                            return None;
                        }
                    }
                }
            }
        }
        None
    }

    /// Runs every team on `a`; Ok(false) if the claim was lost before it finished.
    pub(super) async fn process_anomaly(
        &self,
        a: &Anomaly,
        set: Option<&ServerSet>,
        unavailable: &mut HashMap<Provider, Unavailable>,
        client: &str,
        out: &mut ShopOutcome,
    ) -> Result<bool> {
        let mut rows = Vec::new();
        let mut evidence = Vec::new();
        let mut analysed = 0;
        for team in teams::teams_for(a) {
            let Some(set) = set.filter(|_| !unavailable.contains_key(&team)) else {
                let u = unavailable.get(&team);
                let reason = first_line(u.map_or("no server", Unavailable::reason));
                rows.push(self.not_analysed(
                    a,
                    team,
                    u.map_or("failed", Unavailable::outcome),
                    format!("{} not analysed: {reason}", team.service_name()),
                ));
                continue;
            };
            let mut reader = Reader::new(set, a, team);
            let (outcome, summary) = match teams::analyse(&mut reader, a).await {
                Ok(analysis) => {
                    evidence.append(&mut reader.evidence);
                    rows.push(self.analysed(a, team, &analysis).await?);
                    analysed += 1;
                    continue;
                }
                Err(TeamError::Reconnect(message)) => {
                    let u = Unavailable::Broken(message);
                    let reason = first_line(u.reason()).to_owned();
                    out.skipped.push((client.to_owned(), team, reason.clone()));
                    self.notify(out, &a.shop_id, client, team, &u).await;
                    unavailable.insert(team, u);
                    (
                        "broken",
                        format!("{} not analysed: {reason}", team.service_name()),
                    )
                }
                Err(TeamError::Tool(message)) => (
                    "failed",
                    format!(
                        "{} could not be read: {}",
                        team.service_name(),
                        first_line(&message)
                    ),
                ),
                Err(TeamError::Set(e)) => {
                    unavailable.insert(team, Unavailable::Failed(e.to_string()));
                    (
                        "failed",
                        format!("{} could not be read: {e}", team.service_name()),
                    )
                }
            };
            rows.push(self.not_analysed(a, team, outcome, summary));
        }
        // The anomaly is about its own source: without it there is no explanation, only
        // context. A passing failure there (5xx, timeout, quota, a token in trouble) sends it
        // back for a later run, never to `processed`. (A broken grant or a missing integration
        // is the shop's state, not a passing failure: that is answered, with a notification.)
        let own: Option<Provider> = a.source.parse().ok();
        if let Some(row) = rows
            .iter()
            .find(|r| Some(r.team.as_str()) == own.map(|p| p.as_str()) && r.outcome == "failed")
        {
            anyhow::bail!("its own source failed ({}); retrying later", row.summary);
        }
        if analysed == 0 {
            // A database-only view is the answer when the shop lacks sources or its grants are
            // broken, not when a source failed for a passing reason: then try again later.
            if let Some(row) = rows.iter().find(|r| r.outcome == "failed") {
                anyhow::bail!("no source could be read ({}); retrying later", row.summary);
            }
            rows.push(database_only(a, unavailable, &self.worker));
        }
        // A worker whose claim lapsed must not overwrite what the new claimant writes.
        if self
            .store
            .extend_claims(&self.worker, &[a.id], self.claim_ttl_ms)
            .await?
            == 0
        {
            return Ok(false);
        }
        for e in &evidence {
            self.store.put_evidence(e).await?;
        }
        out.recommendations += rows
            .iter()
            .filter(|r| r.outcome == "analysed" || r.team == "database")
            .count();
        for r in &rows {
            self.store.put_recommendation(r).await?;
        }
        Ok(self.store.finish(a.id, &self.worker).await?)
    }

    /// A team's row when it could not read its source.
    pub(super) fn not_analysed(
        &self,
        a: &Anomaly,
        team: Provider,
        outcome: &str,
        summary: String,
    ) -> Recommendation {
        Recommendation {
            anomaly_id: a.id,
            team: team.as_str().to_owned(),
            shop_id: a.shop_id.clone(),
            outcome: outcome.to_owned(),
            summary,
            findings: Vec::new(),
            recommendations: Vec::new(),
            analysis: json!(null),
            author: "analysis".into(),
            worker: self.worker.clone(),
        }
    }

    /// A team's row from its analysis: computed findings, and recommendations the model
    /// rewrites when one is configured (the computed ones stay if it fails).
    pub(super) async fn analysed(
        &self,
        a: &Anomaly,
        team: Provider,
        analysis: &teams::Analysis,
    ) -> Result<Recommendation> {
        let mut c = teams::conclude(a, analysis);
        let mut author = "analysis".to_owned();
        if let Some(llm) = &self.llm {
            match self.reword(llm, a, &c).await {
                Ok(text) => {
                    c.recommendations = text;
                    author = format!("model:{}", llm.model);
                }
                Err(e) => tracing::warn!(
                    anomaly = a.id,
                    "model failed, keeping the computed text: {e:#}"
                ),
            }
        }
        Ok(Recommendation {
            anomaly_id: a.id,
            team: team.as_str().to_owned(),
            shop_id: a.shop_id.clone(),
            outcome: "analysed".into(),
            summary: c.summary,
            findings: c.findings,
            recommendations: c.recommendations,
            analysis: serde_json::to_value(analysis)?,
            author,
            worker: self.worker.clone(),
        })
    }

    /// The model's recommendations from the computed findings (one per line).
    pub(super) async fn reword(
        &self,
        llm: &LlmConfig,
        a: &Anomaly,
        c: &teams::Conclusion,
    ) -> Result<Vec<String>> {
        let system = "You are a senior e-commerce marketing analyst. From the findings given, write 2 to 4 concrete recommendations for the shop, one per line, no numbering, each citing the numbers that support it. Use only the numbers given.";
        let user = json!({
            "anomaly": {"metric": a.metric, "source": a.source, "window": [a.window.0, a.window.1],
                        "baseline": [a.baseline.0, a.baseline.1], "observed": a.observed, "expected": a.expected},
            "summary": c.summary, "findings": c.findings, "computed_recommendations": c.recommendations,
        })
        .to_string();
        // The endpoint's client has no timeout of its own; a hung model must not hold claims.
        let text = tokio::time::timeout(
            Duration::from_secs(60),
            crate::llm::complete(llm, system, &user),
        )
        .await
        .map_err(|_| anyhow::anyhow!("the model did not answer in 60 s"))??;
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                l.trim()
                    .trim_start_matches(['-', '*', '•'])
                    .trim()
                    .to_owned()
            })
            .filter(|l| !l.is_empty())
            .collect();
        anyhow::ensure!(!lines.is_empty(), "the model returned no recommendations");
        Ok(lines)
    }
}

/// Scenario 2 (or every source broken): what the database alone says, and what to connect.
pub(super) fn database_only(
    a: &Anomaly,
    unavailable: &HashMap<Provider, Unavailable>,
    worker: &str,
) -> Recommendation {
    let (w0, w1) = a.window;
    let mut findings = vec![format!(
        "The detector measured {} {} from {w0} to {w1} against {} expected ({}), severity {}.",
        a.metric,
        teams::number(a.observed),
        teams::number(a.expected),
        teams::percent(a.change()),
        a.severity
    )];
    let mut missing = Vec::new();
    let mut broken = Vec::new();
    for p in Provider::ALL {
        match unavailable.get(&p) {
            Some(Unavailable::Missing(_)) => missing.push(p.service_name()),
            Some(Unavailable::Broken(r)) => {
                broken.push(p.service_name());
                findings.push(format!("{}: {}", p.service_name(), first_line(r)));
            }
            Some(Unavailable::Failed(r)) => {
                findings.push(format!("{}: {}", p.service_name(), first_line(r)))
            }
            None => {}
        }
    }
    let mut recommendations = Vec::new();
    if !broken.is_empty() {
        recommendations.push(format!(
            "Reconnect {} in the dashboard: the grant was revoked or expired, so this anomaly could not be traced.",
            broken.join(", ")
        ));
    }
    if !missing.is_empty() {
        recommendations.push(format!(
            "Connect {} in the dashboard so the next anomaly can be traced to channels, queries and campaigns.",
            missing.join(", ")
        ));
    }
    recommendations.push(format!(
        "Meanwhile, check the shop's own records for {w0} to {w1}: orders and refunds, stock-outs, price changes, site outages and tracking changes."
    ));
    Recommendation {
        anomaly_id: a.id,
        team: "database".into(),
        shop_id: a.shop_id.clone(),
        outcome: "analysed".into(),
        summary: format!(
            "{} {} ({}); no marketing source could be read, so this is the database's view only.",
            a.metric,
            if a.observed < a.expected {
                "fell"
            } else {
                "rose"
            },
            teams::percent(a.change())
        ),
        findings,
        recommendations,
        analysis: json!({"observed": a.observed, "expected": a.expected, "change": a.change()}),
        author: "analysis".into(),
        worker: worker.to_owned(),
    }
}
