//! The specialist teams: which sources look at an anomaly, and what each one reads through the
//! shop's own servers (window vs baseline, the breakdowns that matter, a daily series) and
//! concludes from it. Everything here is deterministic arithmetic over tool results; a model,
//! when configured, only rewords the conclusions.

use broker_proto::Provider;
use chrono::{Duration, NaiveDate};
use pipeline_store::{Anomaly, Evidence};
use serde::Serialize;
use serde_json::Value;

use crate::server_set::{ServerSet, SetError};

mod conclusion;
mod format;
mod ga4;
mod google_ads;
mod gsc;
mod meta_ads;

pub use conclusion::{Conclusion, conclude};
pub use format::{number, percent};

/// The teams that analyse an anomaly: its own source's first, then the related ones (a
/// revenue drop asks every source; a Search Console drop asks GA4 about organic traffic; an
/// ad platform's drop asks GA4 what reached the site).
pub fn teams_for(anomaly: &Anomaly) -> Vec<Provider> {
    let own: Option<Provider> = anomaly.source.parse().ok();
    let metric = anomaly.metric.to_ascii_lowercase();
    let business = [
        "revenue",
        "conversions",
        "purchases",
        "transactions",
        "orders",
        "sessions",
        "users",
        "traffic",
    ];
    let mut teams: Vec<Provider> = own.into_iter().collect();
    let related: &[Provider] = if business.iter().any(|m| metric.contains(m)) {
        &Provider::ALL
    } else {
        match own {
            Some(Provider::Gsc) => &[Provider::Ga4],
            Some(Provider::GoogleAds) | Some(Provider::MetaAds) => &[Provider::Ga4],
            Some(Provider::Ga4) => &[Provider::Gsc, Provider::GoogleAds, Provider::MetaAds],
            None => &Provider::ALL,
        }
    };
    for p in related {
        if !teams.contains(p) {
            teams.push(*p);
        }
    }
    teams
}

/// How a team's attempt ended badly.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The credentials are broken (revoked, expired, missing scope): the shop must reconnect.
    #[error("{0}")]
    Reconnect(String),
    /// A tool failed for another reason (upstream error, bad data).
    #[error("{0}")]
    Tool(String),
    /// The server is gone.
    #[error(transparent)]
    Set(#[from] SetError),
}

/// A result that does not decode (a field missing, renamed or of the wrong type) fails the
/// team like any other tool failure, with the tool and the field named.
impl From<String> for TeamError {
    fn from(why: String) -> Self {
        Self::Tool(why)
    }
}

/// The anomaly's dates: the window, the baseline, and the span a chart shows.
#[derive(Debug, Clone, Copy)]
pub struct Ranges {
    /// Anomaly window, inclusive.
    pub window: (NaiveDate, NaiveDate),
    /// Baseline, inclusive.
    pub baseline: (NaiveDate, NaiveDate),
    /// Chart span: from the baseline (or two weeks before the window) to three days after it.
    pub chart: (NaiveDate, NaiveDate),
}

impl Ranges {
    /// The ranges of `a`.
    pub fn of(a: &Anomaly) -> Ranges {
        let start = a.baseline.0.min(a.window.0 - Duration::days(14));
        Ranges {
            window: a.window,
            baseline: a.baseline,
            // A few days after the window show the recovery (or not) without reaching into
            // days whose data is still incomplete.
            chart: (start, a.window.1 + Duration::days(3)),
        }
    }

    /// Window length over baseline length: what a baseline total is scaled by to compare it
    /// with the window.
    pub fn scale(&self) -> f64 {
        days(self.window) / days(self.baseline)
    }
}

fn days(r: (NaiveDate, NaiveDate)) -> f64 {
    ((r.1 - r.0).num_days() + 1).max(1) as f64
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// One value of a breakdown and how it moved.
#[derive(Debug, Clone, Serialize)]
pub struct Contributor {
    /// The dimension value (channel, page, campaign, query, …).
    pub name: String,
    /// Its total over the window.
    pub window: f64,
    /// Its baseline total scaled to the window's length.
    pub expected: f64,
    /// `window - expected`.
    pub delta: f64,
    /// Its part of the total change (0..1 when it moved the same way as the total).
    pub share: f64,
}

/// The biggest movers of one breakdown.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// What it is broken down by, as people say it.
    pub dimension: String,
    /// Movers in the anomaly's direction, biggest first (at most 5).
    pub contributors: Vec<Contributor>,
}

/// A day of the chart.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The metric that day.
    pub value: f64,
}

/// What a team computed.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// The source.
    pub team: Provider,
    /// The account its server read.
    pub account: String,
    /// The metric this team measured, as people say it.
    pub metric: String,
    /// Total over the window.
    pub window_total: f64,
    /// Baseline total scaled to the window.
    pub expected_total: f64,
    /// `window_total / expected_total - 1`.
    pub change: f64,
    /// Breakdowns, in the order they matter.
    pub breakdowns: Vec<Breakdown>,
    /// Daily values over the chart span.
    pub series: Vec<Point>,
    /// The platform's other headline numbers over the same dates (ad platforms: spend,
    /// clicks, conversions and their value), so a finding can say what moved with the metric.
    pub measures: Vec<Measure>,
}

/// One headline number, window vs scaled baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    /// What it is.
    pub metric: String,
    /// Window total.
    pub window: f64,
    /// Baseline total scaled to the window.
    pub expected: f64,
}

/// Longest a team waits for one tool call (upstream retries included).
const TOOL_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// Calls tools for one team and keeps each answer as evidence.
pub struct Reader<'a> {
    set: &'a ServerSet,
    anomaly_id: i64,
    team: Provider,
    shop_id: &'a str,
    account: String,
    /// What was read.
    pub evidence: Vec<Evidence>,
}

impl<'a> Reader<'a> {
    /// A reader for `team` of `set`.
    pub fn new(set: &'a ServerSet, anomaly: &'a Anomaly, team: Provider) -> Self {
        let account = set
            .account(team)
            .map(|a| {
                [
                    &a.property_id,
                    &a.property_url,
                    &a.customer_id,
                    &a.ad_account_id,
                ]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
            })
            .unwrap_or_default();
        Reader {
            set,
            anomaly_id: anomaly.id,
            team,
            shop_id: &anomaly.shop_id,
            account,
            evidence: Vec::new(),
        }
    }

    async fn call(
        &mut self,
        label: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<Value, TeamError> {
        // The servers bound each upstream request; this bounds a server that stops answering.
        let result =
            tokio::time::timeout(TOOL_CALL_TIMEOUT, self.set.call(tool, arguments.clone()))
                .await
                .map_err(|_| {
                    TeamError::Tool(format!(
                        "{tool} did not answer in {} s",
                        TOOL_CALL_TIMEOUT.as_secs()
                    ))
                })?
                .map_err(|e| match e {
                    // The server refused this one call: the team fails, the server is fine.
                    SetError::Rejected { error, .. } => {
                        TeamError::Tool(format!("{tool}: {}", error.message))
                    }
                    e => TeamError::Set(e),
                })?;
        let text = || {
            result
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        if result.is_error == Some(true) {
            let message = text();
            // The broker's and servers' wording for broken grants ("…revoked or has expired.
            // Please reconnect…", "reconnect it and grant ads_read").
            let lower = message.to_ascii_lowercase();
            return Err(if lower.contains("reconnect") {
                TeamError::Reconnect(message)
            } else {
                TeamError::Tool(format!("{tool}: {message}"))
            });
        }
        let value = result.structured_content.clone().unwrap_or(Value::Null);
        self.evidence.push(Evidence {
            anomaly_id: self.anomaly_id,
            team: self.team.as_str().to_owned(),
            label: label.to_owned(),
            shop_id: self.shop_id.to_owned(),
            account: self.account.clone(),
            tool: tool.to_owned(),
            arguments,
            result: value.clone(),
            trace_id: telemetry::propagate::current_trace_id(),
        });
        Ok(value)
    }
}

/// Movers in the direction of the total change, biggest first.
fn breakdown(dimension: &str, totals: &Totals, scale: f64, total_delta: f64) -> Breakdown {
    let mut contributors: Vec<Contributor> = totals
        .iter()
        .map(|(name, (window, baseline))| {
            let expected = baseline * scale;
            let delta = window - expected;
            Contributor {
                name: name.clone(),
                window: *window,
                expected,
                delta,
                share: if total_delta == 0.0 {
                    0.0
                } else {
                    delta / total_delta
                },
            }
        })
        .filter(|c| c.delta * total_delta > 0.0)
        .collect();
    contributors.sort_by(|a, b| b.delta.abs().total_cmp(&a.delta.abs()));
    contributors.truncate(5);
    Breakdown {
        dimension: dimension.to_owned(),
        contributors,
    }
}

fn finish(
    team: Provider,
    reader: &Reader<'_>,
    metric: &str,
    (window_total, baseline_total): (f64, f64),
    raw: Vec<(&str, Totals)>,
    scale: f64,
    mut series: Vec<Point>,
) -> Analysis {
    let expected_total = baseline_total * scale;
    let delta = window_total - expected_total;
    series.sort_by(|a, b| a.date.cmp(&b.date));
    Analysis {
        team,
        account: reader.account.clone(),
        metric: metric.to_owned(),
        window_total,
        expected_total,
        change: if expected_total == 0.0 {
            0.0
        } else {
            window_total / expected_total - 1.0
        },
        breakdowns: raw
            .into_iter()
            .map(|(dim, totals)| breakdown(dim, &totals, scale, delta))
            .collect(),
        series,
        measures: Vec::new(),
    }
}

/// Reads and analyses `team`'s data for `anomaly`.
pub async fn analyse(reader: &mut Reader<'_>, anomaly: &Anomaly) -> Result<Analysis, TeamError> {
    let ranges = Ranges::of(anomaly);
    let metric = anomaly.metric.to_ascii_lowercase();
    match reader.team {
        Provider::Ga4 => ga4::analyse(reader, &ranges, &metric).await,
        Provider::Gsc => gsc::analyse(reader, &ranges, &metric).await,
        Provider::GoogleAds => google_ads::analyse(reader, &ranges, &metric).await,
        Provider::MetaAds => meta_ads::analyse(reader, &ranges, &metric).await,
    }
}

type Totals = std::collections::BTreeMap<String, (f64, f64)>;

fn with_measures(mut a: Analysis, measures: Vec<Measure>) -> Analysis {
    a.measures = measures;
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(-1234.4), "-1,234");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(0.0), "0");
        assert_eq!(percent(-0.416), "-41.6%");
    }

    fn anomaly(observed: f64, expected: f64) -> Anomaly {
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date");
        Anomaly {
            id: 1,
            shop_id: "s".into(),
            source: "ga4".into(),
            metric: "revenue".into(),
            window: (day("2026-10-11"), day("2026-10-17")),
            baseline: (day("2026-09-13"), day("2026-10-10")),
            observed,
            expected,
            severity: pipeline_store::Severity::High,
            status: pipeline_store::Status::Claimed,
            attempts: 1,
            claimed_by: None,
            claim_expires_ms: None,
            processed_by: None,
            last_error: None,
            note: None,
            created_ms: 0,
        }
    }

    /// A GA4 analysis whose channels moved from `baseline` (scaled) to `window`.
    fn ga4(channels: &[(&str, f64, f64)]) -> Analysis {
        let mut t = Totals::new();
        for (name, window, expected) in channels {
            t.insert((*name).into(), (*window, *expected));
        }
        let (w, e) = t.values().fold((0.0, 0.0), |s, v| (s.0 + v.0, s.1 + v.1));
        Analysis {
            team: Provider::Ga4,
            account: "326784853".into(),
            metric: "revenue".into(),
            window_total: w,
            expected_total: e,
            change: w / e - 1.0,
            breakdowns: vec![breakdown("channel", &t, 1.0, w - e)],
            series: Vec::new(),
            measures: Vec::new(),
        }
    }

    #[test]
    fn one_channel_falling_is_named_with_its_share_and_what_to_check() {
        let a = ga4(&[
            ("Organic Search", 400.0, 1000.0),
            ("Direct", 1000.0, 1000.0),
            ("Email", 300.0, 300.0),
        ]);
        let c = conclude(&anomaly(1700.0, 2300.0), &a);
        assert!(
            c.summary.contains("fell (-26.1%)")
                && c.summary.contains("“Organic Search” (100% of the change)"),
            "{}",
            c.summary
        );
        assert!(
            c.findings.iter().any(|f| f
                == "Channel “Organic Search”: 400 vs 1,000 expected (-60.0%), 100% of the change."),
            "{:?}",
            c.findings
        );
        assert!(
            c.recommendations[0]
                .starts_with("Organic Search accounts for 100% of the drop: check Search Console"),
            "{:?}",
            c.recommendations
        );
    }

    #[test]
    fn more_than_the_whole_drop_is_said_so() {
        let a = ga4(&[
            ("Organic Search", 400.0, 1000.0),
            ("Direct", 1300.0, 1000.0),
            ("Email", 300.0, 300.0),
        ]);
        let c = conclude(&anomaly(2000.0, 2300.0), &a);
        assert!(
            c.recommendations[0]
                .contains("more than the whole drop (200%; other channels moved the other way)"),
            "{:?}",
            c.recommendations
        );
    }

    #[test]
    fn every_channel_falling_alike_points_at_the_site() {
        let a = ga4(&[
            ("Organic Search", 700.0, 1000.0),
            ("Direct", 690.0, 1000.0),
            ("Paid Search", 360.0, 500.0),
        ]);
        let c = conclude(&anomaly(1750.0, 2500.0), &a);
        assert!(
            c.recommendations[0]
                .starts_with("Every large channel fell by about the same rate (-30.0%)"),
            "{:?}",
            c.recommendations
        );
    }

    #[test]
    fn no_material_change_says_it_is_not_the_cause() {
        let a = ga4(&[
            ("Organic Search", 1010.0, 1000.0),
            ("Direct", 990.0, 1000.0),
        ]);
        let c = conclude(&anomaly(1400.0, 2000.0), &a);
        assert!(c.summary.contains("no material change in the downward direction; not where the revenue change came from"), "{}", c.summary);
        assert!(c.recommendations.is_empty());
    }

    #[test]
    fn breakdowns_keep_movers_in_the_anomalys_direction() {
        let mut t = Totals::new();
        t.insert("Paid Search".into(), (400.0, 4000.0)); // expected 1000 at scale 0.25
        t.insert("Direct".into(), (300.0, 1200.0)); // expected 300: flat
        t.insert("Email".into(), (150.0, 400.0)); // expected 100: up
        let b = breakdown("channel", &t, 0.25, -550.0);
        assert_eq!(b.contributors.len(), 1);
        assert_eq!(b.contributors[0].name, "Paid Search");
        assert!((b.contributors[0].share - 600.0 / 550.0).abs() < 1e-9);
    }
}
