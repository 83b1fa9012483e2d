//! `agent-host pipeline`: the production job (the old `preprocess_and_route_anomalies`).
//!
//! Claims open anomalies in batches (several hosts can share one PostgreSQL: claims use
//! `SKIP LOCKED` and lapse when a worker dies), groups a batch by shop and works on up to
//! `--concurrency` shops at once. Per shop: one lease and server set for the sources its
//! anomalies need; per anomaly, each relevant team reads window vs baseline through the shop's
//! own servers, stores its evidence and writes findings and recommendations. A shop's missing
//! or broken integration never stops its other sources, and one shop never stops another:
//!
//! - some integrations → the others run; the skipped ones are named in warnings and rows;
//! - no integrations → a database-only analysis and a recommendation to connect sources;
//! - broken credentials → a reconnect notification; the shop's other sources go on.
//!
//! # Layout
//! - [`teams`]: routing, what each source's team reads and concludes;
//! - [`notify`]: the guide's email templates, the signed webhook;
//! - [`report`]: the HTML / Markdown / JSON report.

pub mod decode;
pub mod notify;
pub mod report;
pub mod teams;

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use broker_proto::{BrokerError, ErrorCode, Provider};
use futures::StreamExt;
use pipeline_store::{Anomaly, Notification, NotificationKind, Recommendation, Store};
use serde_json::json;

use crate::llm::LlmConfig;
use crate::server_set::{Credentials, ServerSet, SetConfig, SetError};
use teams::{Reader, TeamError};

/// `agent-host pipeline` flags.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// The database with the anomalies (`sqlite://PATH` or `postgres://…`); usually the
    /// dashboard's, which the broker reads too.
    #[arg(long, value_name = "URL", env = "BERRYBOO_DATABASE_URL")]
    pub database: String,
    /// Credential broker socket.
    #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
    pub broker_socket: Option<PathBuf>,
    /// Upstream base URL passed on to the servers (the sandbox).
    #[arg(long, value_name = "URL", env = "BERRYBOO_API_BASE")]
    pub api_base: Option<String>,
    /// Most anomalies this run claims.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Shops worked on at once (each holds one server set).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Only this shop's anomalies.
    #[arg(long, value_name = "ID")]
    pub shop: Option<String>,
    /// Write a report: `.html` (charts), `.md` or `.json`, by the file's extension.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// This worker's name in claims (default: host name and process id).
    #[arg(long, value_name = "NAME", env = "BERRYBOO_WORKER_ID")]
    pub worker_id: Option<String>,
    /// How long a claim lasts without a heartbeat (a dead worker's anomalies are taken again
    /// after this).
    #[arg(long, default_value = "5m", value_parser = cli_kit::parse_duration)]
    pub claim_ttl: Duration,
    /// Attempts before an anomaly is marked failed.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: i64,
    /// How long a failed anomaly waits before it may be claimed again.
    #[arg(long, default_value = "5m", value_parser = cli_kit::parse_duration)]
    pub retry_delay: Duration,
    /// POST each new notification here as JSON (signed with BERRYBOO_NOTIFY_WEBHOOK_SECRET).
    #[arg(long, value_name = "URL", env = "BERRYBOO_NOTIFY_WEBHOOK")]
    pub webhook: Option<String>,
    /// The dashboard page the reconnect email points to.
    #[arg(long, value_name = "URL", env = "BERRYBOO_DASHBOARD_URL", default_value = notify::DEFAULT_DASHBOARD_URL)]
    pub dashboard_url: String,
}

/// Why a team could not read its source for a shop.
#[derive(Debug, Clone)]
enum Unavailable {
    /// No (active) integration, or one without its account: the shop should (finish) connect(ing)
    /// it.
    Missing(String),
    /// Credentials broken: the shop must reconnect.
    Broken(String),
    /// Something transient (token endpoint down, server crashed).
    Failed(String),
}

impl Unavailable {
    fn of(e: &BrokerError) -> Unavailable {
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

    fn outcome(&self) -> &'static str {
        match self {
            Unavailable::Missing(_) => "skipped",
            Unavailable::Broken(_) => "broken",
            Unavailable::Failed(_) => "failed",
        }
    }

    fn reason(&self) -> &str {
        match self {
            Unavailable::Missing(r) | Unavailable::Broken(r) | Unavailable::Failed(r) => r,
        }
    }
}

struct Ctx {
    store: Store,
    config: Arc<SetConfig>,
    worker: String,
    max_attempts: i64,
    retry_delay_ms: i64,
    claim_ttl_ms: i64,
    dashboard_url: String,
    llm: Option<LlmConfig>,
}

/// What happened to one shop's batch.
#[derive(Default)]
struct ShopOutcome {
    /// The shop's name (or id), for progress lines.
    client: String,
    /// How long the shop's lease and servers took to start (the per-shop overhead).
    set_start: Option<Duration>,
    processed: Vec<i64>,
    /// Anomalies whose claim another worker took over before this one finished.
    lost: Vec<i64>,
    failures: Vec<(i64, String)>,
    recommendations: usize,
    skipped: Vec<(String, Provider, String)>,
    notifications: Vec<Notification>,
    duplicate_notifications: usize,
}

/// The run's totals.
#[derive(Default)]
struct Summary {
    /// Claims handed back unfinished when the run was interrupted.
    released: u64,
    shops: usize,
    claimed: usize,
    /// Server sets started, and their start times summed.
    sets: (usize, Duration),
    /// Claims other workers hold (maybe dead ones), and when the last lapses (ms).
    foreign: (i64, Option<i64>),
    /// Why the broker's credential findings could not be turned into messages.
    credential_check: Option<String>,
    outcome: ShopOutcome,
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

impl Ctx {
    async fn notify(
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
    async fn credential_warnings(
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
    async fn why_each(&self, shop: &str, providers: &[Provider]) -> HashMap<Provider, Unavailable> {
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

    async fn give_back_all(
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

    async fn process_shop(&self, shop: String, anomalies: Vec<Anomaly>) -> ShopOutcome {
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
        for a in &anomalies {
            match self
                .process_anomaly(a, set.as_ref(), &mut unavailable, &client, &mut out)
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

    /// Runs every team on `a`; Ok(false) if the claim was lost before it finished.
    async fn process_anomaly(
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
    fn not_analysed(
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
    async fn analysed(
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
    async fn reword(
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
fn database_only(
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

/// Installs SIGINT and SIGTERM handlers now (so a signal at any point of the run is seen) and
/// returns a flag that turns true at the first: the run then stops claiming, abandons the shops
/// in flight and hands their anomalies back. A second signal ends the process at once.
fn stop_on_signals() -> tokio::sync::watch::Receiver<bool> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if tx.send_replace(true) {
                    std::process::exit(130);
                }
            }
        }),
        // No handlers: the default action ends the process; the flag just stays false (the
        // sender must live, or waiting on it would report a stop).
        _ => tokio::spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await
        }),
    };
    rx
}

fn default_worker() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}

/// Progress on a terminal, log lines otherwise.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(show: bool) -> Self {
        if !show || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} anomalies {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Progress(Some(bar))
    }

    fn claimed(&self, n: usize) {
        if let Some(b) = &self.0 {
            b.inc_length(n as u64);
        }
    }

    fn shop_done(&self, o: &ShopOutcome) {
        let shop = &o.client;
        let n = o.processed.len() + o.lost.len() + o.failures.len();
        match &self.0 {
            Some(b) => {
                b.inc(n as u64);
                b.set_message(format!("(last: {shop})"));
            }
            None => eprintln!(
                "pipeline: {shop}: {} processed, {} recommendations, {} failed{}",
                o.processed.len(),
                o.recommendations,
                o.failures.len(),
                if o.skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", skipped {}",
                        o.skipped
                            .iter()
                            .map(|(_, p, _)| p.service_name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// Runs the pipeline; exit status 0 when every claimed anomaly was processed, 1 when some
/// failed (the summary says why), 2 when the run itself could not start.
pub async fn run(args: PipelineArgs, file: &crate::config::HostFile) -> Result<ExitCode> {
    run_with(args, file, true).await.map(|(code, _)| code)
}

/// The ids the run processed, for callers that report on them (the demo).
pub async fn run_with(
    args: PipelineArgs,
    file: &crate::config::HostFile,
    show_progress: bool,
) -> Result<(ExitCode, Vec<i64>)> {
    let store = Store::open(&args.database, false).await?;
    store.migrate().await?;
    let broker_socket = args
        .broker_socket
        .clone()
        .unwrap_or_else(broker_proto::default_socket_path);
    let ttl_ms = i64::try_from(args.claim_ttl.as_millis()).unwrap_or(i64::MAX);
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        config: Arc::new(SetConfig {
            broker_socket,
            servers_dir: crate::children::servers_dir()?,
            api_base: args.api_base.clone(),
            // Renewed while the shop's set lives: a killed run's leases end within a minute.
            lease_ttl: crate::server_set::HOST_LEASE_TTL,
            child_log: "error".into(),
            host_key: file.host_key.clone(),
        }),
        worker: args.worker_id.clone().unwrap_or_else(default_worker),
        max_attempts: args.max_attempts,
        retry_delay_ms: i64::try_from(args.retry_delay.as_millis()).unwrap_or(i64::MAX),
        claim_ttl_ms: ttl_ms,
        dashboard_url: args.dashboard_url.clone(),
        llm: LlmConfig::resolve(file.llm.as_ref()),
    });
    let exhausted = store.fail_exhausted(args.max_attempts).await?;
    if exhausted > 0 {
        tracing::warn!("{exhausted} anomalies failed: their workers kept dying on them");
    }
    let started = Instant::now();
    let progress = Progress::new(show_progress);
    let mut summary = Summary::default();
    let batch_size = (usize::from(args.concurrency) * 4).max(8);
    let mut stop = stop_on_signals();
    let mut interrupted = false;
    while summary.claimed < args.limit && !interrupted && !*stop.borrow() {
        let want = (args.limit - summary.claimed).min(batch_size);
        let batch = store
            .claim(
                &ctx.worker,
                want as i64,
                ttl_ms,
                args.shop.as_deref(),
                args.max_attempts,
            )
            .await?;
        if batch.is_empty() {
            break;
        }
        summary.claimed += batch.len();
        progress.claimed(batch.len());
        let ids: Vec<i64> = batch.iter().map(|a| a.id).collect();
        let heartbeat = {
            let (store, worker, ids) = (store.clone(), ctx.worker.clone(), ids.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis((ttl_ms / 3).max(50) as u64)).await;
                    if let Err(e) = store.extend_claims(&worker, &ids, ttl_ms).await {
                        tracing::warn!("cannot extend claims: {e}");
                    }
                }
            })
        };
        // Group by shop, keeping the claim order (most severe first).
        let mut groups: Vec<(String, Vec<Anomaly>)> = Vec::new();
        for a in batch {
            match groups.iter_mut().find(|(s, _)| *s == a.shop_id) {
                Some((_, list)) => list.push(a),
                None => groups.push((a.shop_id.clone(), vec![a])),
            }
        }
        summary.shops += groups.len();
        let mut work = futures::stream::iter(groups)
            .map(|(shop, list)| {
                let ctx = ctx.clone();
                async move { ctx.process_shop(shop, list).await }
            })
            .buffer_unordered(usize::from(args.concurrency));
        loop {
            let o = tokio::select! {
                next = work.next() => match next {
                    Some(o) => o,
                    None => break,
                },
                _ = stop.wait_for(|stopping| *stopping) => {
                    interrupted = true;
                    break;
                }
            };
            progress.shop_done(&o);
            if let Some(d) = o.set_start {
                summary.sets.0 += 1;
                summary.sets.1 += d;
            }
            let t = &mut summary.outcome;
            t.processed.extend(o.processed);
            t.lost.extend(o.lost);
            t.failures.extend(o.failures);
            t.recommendations += o.recommendations;
            t.skipped.extend(o.skipped);
            t.notifications.extend(o.notifications);
            t.duplicate_notifications += o.duplicate_notifications;
        }
        heartbeat.abort();
        if interrupted {
            // Dropping the in-flight shops revokes their leases and kills their servers; what
            // they had not finished goes back to the queue as if never claimed.
            drop(work);
            let released = store.release_claims(&ctx.worker, &ids).await?;
            summary.released = released;
            break;
        }
    }
    progress.finish();
    summary.foreign = store
        .foreign_claims(&ctx.worker, args.shop.as_deref())
        .await
        .unwrap_or((0, None));
    // A signal between batches (or during a claim that found nothing) stops the run too.
    interrupted |= *stop.borrow();
    if !interrupted {
        match ctx.credential_warnings(args.shop.as_deref()).await {
            Ok(new) => summary.outcome.notifications.extend(new),
            Err(e) => {
                tracing::warn!("{e}");
                summary.credential_check = Some(e);
            }
        }
    }
    let delivered = match &args.webhook {
        Some(url) if !interrupted => {
            let hook = notify::Webhook {
                url: url.clone(),
                secret: std::env::var("BERRYBOO_NOTIFY_WEBHOOK_SECRET")
                    .ok()
                    .inspect(|s| redaction::learn_lasting(s))
                    .map(secrecy::SecretString::from),
            };
            Some(notify::deliver(&store, &hook).await?)
        }
        _ => None,
    };
    print_summary(&summary, started.elapsed(), &ctx.worker, delivered);
    if let Some(path) = &args.report
        && summary.outcome.processed.is_empty()
    {
        // Keep the last useful report (a timer runs the pipeline every few minutes).
        println!(
            "Report: {} kept (nothing processed this run)",
            path.display()
        );
    } else if let Some(path) = &args.report {
        let ids = &summary.outcome.processed;
        report::write(&store, ids, path)
            .await
            .with_context(|| format!("cannot write the report {}", path.display()))?;
        println!("Report: {}", path.display());
    }
    let code = if interrupted {
        ExitCode::from(130)
    } else if summary.outcome.failures.is_empty() && summary.credential_check.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    Ok((code, summary.outcome.processed.clone()))
}

fn print_summary(s: &Summary, elapsed: Duration, worker: &str, delivered: Option<(usize, usize)>) {
    let o = &s.outcome;
    println!(
        "Pipeline ({worker}): {} anomalies claimed for {} shops in {:.1} s",
        s.claimed,
        s.shops,
        elapsed.as_secs_f64()
    );
    println!("  processed        {}", o.processed.len());
    if s.sets.0 > 0 {
        println!(
            "  server sets      {} started, {:.0} ms each on average (lease, servers, handshakes)",
            s.sets.0,
            s.sets.1.as_secs_f64() * 1000.0 / s.sets.0 as f64
        );
    }
    println!("  recommendations  {}", o.recommendations);
    let mut skipped: BTreeMap<(String, &str), String> = BTreeMap::new();
    for (shop, p, why) in &o.skipped {
        skipped
            .entry((shop.clone(), p.service_name()))
            .or_insert_with(|| why.clone());
    }
    println!("  skipped sources  {}", skipped.len());
    for ((shop, service), why) in &skipped {
        println!("    {shop}: {service} — {}", redaction::text(why));
    }
    let count = |kind: NotificationKind| {
        o.notifications
            .iter()
            .filter(|n| n.kind == kind.as_str())
            .count()
    };
    println!(
        "  notifications    {} new ({} connect, {} reconnect, {} expiring), {} already sent today{}",
        o.notifications.len(),
        count(NotificationKind::Connect),
        count(NotificationKind::Reconnect),
        count(NotificationKind::Expiring),
        o.duplicate_notifications,
        match delivered {
            Some((ok, failed)) => format!("; webhook: {ok} delivered, {failed} failed"),
            None => String::new(),
        }
    );
    if !o.lost.is_empty() {
        println!(
            "  taken over       {} (claims lapsed; another worker finished them)",
            o.lost.len()
        );
    }
    if s.released > 0 {
        println!(
            "  interrupted      {} claimed anomalies handed back unprocessed",
            s.released
        );
    }
    if let (n @ 1.., until) = s.foreign {
        println!(
            "  held elsewhere   {n} anomalies claimed by other workers (a dead worker's claims lapse{}; a later run takes them over)",
            until
                .map(|t| format!(" by {}", crate::anomalies::local_time(t)))
                .unwrap_or_default()
        );
    }
    if let Some(why) = &s.credential_check {
        println!(
            "  credential check failed: {}",
            redaction::text(first_line(why))
        );
    }
    println!("  failures         {}", o.failures.len());
    for (id, why) in &o.failures {
        println!("    anomaly {id}: {}", redaction::text(first_line(why)));
    }
}
