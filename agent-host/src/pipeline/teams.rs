//! The specialist teams: which sources look at an anomaly, and what each one reads through the
//! shop's own servers (window vs baseline, the breakdowns that matter, a daily series) and
//! concludes from it. Everything here is deterministic arithmetic over tool results; a model,
//! when configured, only rewords the conclusions.

use broker_proto::Provider;
use chrono::{Duration, NaiveDate};
use pipeline_store::{Anomaly, Evidence};
use serde::Serialize;
use serde_json::{Value, json};

use super::decode::{self, AdsPage, Ga4Report, GscComparison, GscOverview, MetaPage, Row};
use crate::server_set::{ServerSet, SetError};

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
                })??;
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
        Provider::Ga4 => ga4(reader, &ranges, &metric).await,
        Provider::Gsc => gsc(reader, &ranges, &metric).await,
        Provider::GoogleAds => google_ads(reader, &ranges, &metric).await,
        Provider::MetaAds => meta_ads(reader, &ranges, &metric).await,
    }
}

type Totals = std::collections::BTreeMap<String, (f64, f64)>;

async fn ga4(r: &mut Reader<'_>, ranges: &Ranges, metric: &str) -> Result<Analysis, TeamError> {
    let (name, label) = if metric.contains("revenue") || metric.contains("value") {
        ("purchaseRevenue", "revenue")
    } else if metric.contains("transaction")
        || metric.contains("order")
        || metric.contains("purchase")
    {
        ("transactions", "transactions")
    } else if metric.contains("conversion") || metric.contains("key") {
        ("keyEvents", "key events")
    } else if metric.contains("user") {
        ("totalUsers", "users")
    } else {
        ("sessions", "sessions")
    };
    let dims = [
        ("sessionDefaultChannelGroup", "channel"),
        ("deviceCategory", "device"),
        ("landingPage", "landing page"),
    ];
    let mut raw = Vec::new();
    let mut total = (0.0, 0.0);
    for (i, (dim, dim_label)) in dims.iter().enumerate() {
        let args = json!({
            "date_ranges": [
                {"start_date": ymd(ranges.window.0), "end_date": ymd(ranges.window.1), "name": "anomaly"},
                {"start_date": ymd(ranges.baseline.0), "end_date": ymd(ranges.baseline.1), "name": "baseline"}
            ],
            "dimensions": [dim],
            "metrics": [name],
            "order_bys": [{"metric": {"metric_name": name}, "desc": true}],
            "limit": 500
        });
        let v = r.call(&format!("by {dim}"), "run_report", args).await?;
        let report: Ga4Report = decode::result("run_report", &v)?;
        let mut totals = Totals::new();
        for row in &report.rows {
            let key = decode::text("run_report", row, dim)?.to_owned();
            let value = decode::number("run_report", row, name)?;
            let e = totals.entry(key).or_default();
            match decode::text("run_report", row, "dateRange")? {
                "anomaly" => e.0 += value,
                "baseline" => e.1 += value,
                other => {
                    return Err(TeamError::Tool(format!(
                        "run_report: a row of date range {other:?}, asked for anomaly and baseline"
                    )));
                }
            }
        }
        if i == 0 {
            // Every session has exactly one channel group: their sum is the total.
            total = totals
                .values()
                .fold((0.0, 0.0), |s, v| (s.0 + v.0, s.1 + v.1));
        }
        raw.push((*dim_label, totals));
    }
    let series_args = json!({
        "date_ranges": [{"start_date": ymd(ranges.chart.0), "end_date": ymd(ranges.chart.1)}],
        "dimensions": ["date"],
        "metrics": [name],
        "order_bys": [{"dimension": {"dimension_name": "date"}}],
        "limit": 1000
    });
    let v = r.call("daily", "run_report", series_args).await?;
    let report: Ga4Report = decode::result("run_report", &v)?;
    let series = report
        .rows
        .iter()
        .map(|row| {
            let d = decode::text("run_report", row, "date")?;
            let date = NaiveDate::parse_from_str(d, "%Y%m%d")
                .map_err(|_| format!("run_report: date {d:?} is not YYYYMMDD"))?;
            Ok(Point {
                date: ymd(date),
                value: decode::number("run_report", row, name)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let scale = ranges.scale();
    Ok(finish(Provider::Ga4, r, label, total, raw, scale, series))
}

async fn gsc(r: &mut Reader<'_>, ranges: &Ranges, metric: &str) -> Result<Analysis, TeamError> {
    let key = if metric.contains("impression") {
        "impressions"
    } else {
        "clicks"
    };
    let mut raw = Vec::new();
    let mut total = (0.0, 0.0);
    for (dim, dim_label) in [("query", "query"), ("page", "page")] {
        let args = json!({
            "period_a": {"start_date": ymd(ranges.baseline.0), "end_date": ymd(ranges.baseline.1)},
            "period_b": {"start_date": ymd(ranges.window.0), "end_date": ymd(ranges.window.1)},
            "dimension": dim,
            "limit": 100
        });
        const TOOL: &str = "compare_search_periods";
        let v = r.call(&format!("compare by {dim}"), TOOL, args).await?;
        let comparison: GscComparison = decode::result(TOOL, &v)?;
        // A period without data has no totals row at all; one with data names every total.
        let side = |totals: &Row| -> Result<f64, String> {
            if totals.is_empty() {
                Ok(0.0)
            } else {
                decode::number(TOOL, totals, key)
            }
        };
        total = (
            side(&comparison.period_b.totals)?,
            side(&comparison.period_a.totals)?,
        );
        let mut totals = Totals::new();
        for m in &comparison.movers {
            let name = decode::text(TOOL, m, dim)?.to_owned();
            let a = decode::number(TOOL, m, &format!("{key}_a"))?;
            let b = decode::number(TOOL, m, &format!("{key}_b"))?;
            totals.insert(name, (b, a));
        }
        raw.push((dim_label, totals));
    }
    let v = r
        .call(
            "daily",
            "get_performance_overview",
            json!({"start_date": ymd(ranges.chart.0), "end_date": ymd(ranges.chart.1)}),
        )
        .await?;
    const OVERVIEW: &str = "get_performance_overview";
    let overview: GscOverview = decode::result(OVERVIEW, &v)?;
    let series = overview
        .daily
        .iter()
        .map(|d| {
            Ok(Point {
                date: decode::text(OVERVIEW, d, "date")?.to_owned(),
                value: decode::number(OVERVIEW, d, key)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let scale = ranges.scale();
    Ok(finish(Provider::Gsc, r, key, total, raw, scale, series))
}

/// Every page of a GAQL query's rows.
async fn gaql(r: &mut Reader<'_>, label: &str, query: String) -> Result<Vec<Row>, TeamError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for page in 0..50 {
        let mut args = json!({"query": query, "max_rows": 10000});
        if let Some(t) = &token {
            args["page_token"] = json!(t);
        }
        let v = r.call(&format!("{label} #{page}"), "search", args).await?;
        let page: AdsPage = decode::result("search", &v)?;
        out.extend(page.rows);
        match page.next_page_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(out)
}

async fn google_ads(
    r: &mut Reader<'_>,
    ranges: &Ranges,
    metric: &str,
) -> Result<Analysis, TeamError> {
    let (field, label, divisor) = if metric.contains("spend") || metric.contains("cost") {
        ("metrics.cost_micros", "cost", 1e6)
    } else if metric.contains("revenue") || metric.contains("value") {
        ("metrics.conversions_value", "conversion value", 1.0)
    } else if metric.contains("conversion")
        || metric.contains("purchase")
        || metric.contains("transaction")
        || metric.contains("order")
    {
        ("metrics.conversions", "conversions", 1.0)
    } else if metric.contains("impression") {
        ("metrics.impressions", "impressions", 1.0)
    } else {
        ("metrics.clicks", "clicks", 1.0)
    };
    let between = |r: (NaiveDate, NaiveDate)| {
        format!("segments.date BETWEEN '{}' AND '{}'", ymd(r.0), ymd(r.1))
    };
    // Every headline field in the same query: the breakdown uses `field`, the findings the rest.
    let headline = [
        ("metrics.cost_micros", "cost", 1e6),
        ("metrics.clicks", "clicks", 1.0),
        ("metrics.conversions", "conversions", 1.0),
        ("metrics.conversions_value", "conversion value", 1.0),
    ];
    let mut selected: Vec<&str> = headline.iter().map(|h| h.0).collect();
    if !selected.contains(&field) {
        selected.push(field);
    }
    let mut campaigns = Totals::new();
    let mut measures = vec![(0.0, 0.0); headline.len()];
    for (which, range) in [("window", ranges.window), ("baseline", ranges.baseline)] {
        let q = format!(
            "SELECT campaign.id, campaign.name, {} FROM campaign WHERE {}",
            selected.join(", "),
            between(range)
        );
        for row in gaql(r, &format!("campaigns {which}"), q).await? {
            let name = decode::text("search", &row, "campaign.name")?.to_owned();
            // Google Ads leaves zero metrics out of its rows (proto3 JSON).
            let value = decode::number_or_zero("search", &row, field)? / divisor;
            let e = campaigns.entry(name).or_default();
            let m = if which == "window" {
                e.0 += value;
                0
            } else {
                e.1 += value;
                1
            };
            for ((f, _, div), total) in headline.iter().zip(measures.iter_mut()) {
                let v = decode::number_or_zero("search", &row, f)? / div;
                if m == 0 {
                    total.0 += v;
                } else {
                    total.1 += v;
                }
            }
        }
    }
    let total = campaigns
        .values()
        .fold((0.0, 0.0), |s, v| (s.0 + v.0, s.1 + v.1));
    let q = format!(
        "SELECT segments.date, {field} FROM campaign WHERE {}",
        between(ranges.chart)
    );
    let mut by_day = std::collections::BTreeMap::<String, f64>::new();
    for row in gaql(r, "daily", q).await? {
        let d = decode::text("search", &row, "segments.date")?;
        *by_day.entry(d.to_owned()).or_default() +=
            decode::number_or_zero("search", &row, field)? / divisor;
    }
    let series = by_day
        .into_iter()
        .map(|(date, value)| Point { date, value })
        .collect();
    let scale = ranges.scale();
    let measures = headline
        .iter()
        .zip(measures)
        .map(|((_, label, _), (w, b))| Measure {
            metric: (*label).to_owned(),
            window: w,
            expected: b * scale,
        })
        .collect();
    Ok(with_measures(
        finish(
            Provider::GoogleAds,
            r,
            label,
            total,
            vec![("campaign", campaigns)],
            scale,
            series,
        ),
        measures,
    ))
}

fn with_measures(mut a: Analysis, measures: Vec<Measure>) -> Analysis {
    a.measures = measures;
    a
}

/// A Meta insights row's value of `key`: a plain field, or the purchase entry of an
/// `actions`/`action_values` list (Meta lists one purchase under several action types, and
/// leaves the list out when there were none).
fn meta_value(row: &Row, key: &str) -> Result<f64, String> {
    const TOOL: &str = "get_insights";
    match key {
        "purchases" | "purchase value" => {
            let list = if key == "purchases" {
                "actions"
            } else {
                "action_values"
            };
            let entries: Vec<&Row> = match row.get(list) {
                None => return Ok(0.0),
                Some(Value::Array(entries)) => {
                    entries.iter().filter_map(Value::as_object).collect()
                }
                Some(other) => return Err(format!("{TOOL}: `{list}` is not a list: {other}")),
            };
            for wanted in ["omni_purchase", "purchase"] {
                for entry in &entries {
                    if decode::text(TOOL, entry, "action_type")? == wanted {
                        return decode::number(TOOL, entry, "value");
                    }
                }
            }
            Ok(0.0)
        }
        _ => decode::number(TOOL, row, key),
    }
}

/// Every page of an insights request.
async fn insights(r: &mut Reader<'_>, label: &str, mut args: Value) -> Result<Vec<Row>, TeamError> {
    let mut out = Vec::new();
    for page in 0..50 {
        let v = r
            .call(&format!("{label} #{page}"), "get_insights", args.clone())
            .await?;
        let page: MetaPage = decode::result("get_insights", &v)?;
        out.extend(page.rows);
        match page.next_after {
            Some(after) if !after.is_empty() => args["after"] = json!(after),
            _ => break,
        }
    }
    Ok(out)
}

async fn meta_ads(
    r: &mut Reader<'_>,
    ranges: &Ranges,
    metric: &str,
) -> Result<Analysis, TeamError> {
    let key = if metric.contains("spend") || metric.contains("cost") {
        "spend"
    } else if metric.contains("revenue") || metric.contains("value") {
        "purchase value"
    } else if metric.contains("conversion")
        || metric.contains("purchase")
        || metric.contains("transaction")
        || metric.contains("order")
    {
        "purchases"
    } else if metric.contains("impression") {
        "impressions"
    } else {
        "clicks"
    };
    let fields = [
        "campaign_id",
        "campaign_name",
        "spend",
        "impressions",
        "clicks",
        "actions",
        "action_values",
    ];
    let range = |r: (NaiveDate, NaiveDate)| json!({"since": ymd(r.0), "until": ymd(r.1)});
    let headline = ["spend", "clicks", "purchases", "purchase value"];
    let mut measures = [(0.0, 0.0); 4];
    let mut campaigns = Totals::new();
    for (which, span) in [("window", ranges.window), ("baseline", ranges.baseline)] {
        let args =
            json!({"level": "campaign", "time_range": range(span), "fields": fields, "limit": 500});
        for row in insights(r, &format!("campaigns {which}"), args).await? {
            let name = decode::text("get_insights", &row, "campaign_name")?.to_owned();
            let e = campaigns.entry(name).or_default();
            let window = which == "window";
            let v = meta_value(&row, key)?;
            if window {
                e.0 += v;
            } else {
                e.1 += v;
            }
            for (m, t) in headline.iter().zip(measures.iter_mut()) {
                let v = meta_value(&row, m)?;
                if window {
                    t.0 += v;
                } else {
                    t.1 += v;
                }
            }
        }
    }
    let total = campaigns
        .values()
        .fold((0.0, 0.0), |s, v| (s.0 + v.0, s.1 + v.1));
    let args = json!({
        "level": "account", "time_range": range(ranges.chart), "time_increment": "1",
        "fields": ["spend", "impressions", "clicks", "actions", "action_values"], "limit": 500
    });
    let series = insights(r, "daily", args)
        .await?
        .iter()
        .map(|row| {
            Ok(Point {
                date: decode::text("get_insights", row, "date_start")?.to_owned(),
                value: meta_value(row, key)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let scale = ranges.scale();
    let measures = headline
        .iter()
        .zip(measures)
        .map(|(m, (w, b))| Measure {
            metric: (*m).to_owned(),
            window: w,
            expected: b * scale,
        })
        .collect();
    Ok(with_measures(
        finish(
            Provider::MetaAds,
            r,
            key,
            total,
            vec![("campaign", campaigns)],
            scale,
            series,
        ),
        measures,
    ))
}

/// Formats a number for people (thousands separators, one decimal below 100).
pub fn number(x: f64) -> String {
    let rounded = if x.abs() >= 100.0 {
        x.round()
    } else {
        (x * 10.0).round() / 10.0
    };
    let s = if rounded.fract() == 0.0 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    };
    // Thousands separators make numbers in findings readable at a glance.
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `+12.3%` / `-41.0%`.
pub fn percent(change: f64) -> String {
    format!("{:+.1}%", change * 100.0)
}

/// What a team concluded: a summary, findings with their numbers, and recommendations.
pub struct Conclusion {
    /// One line.
    pub summary: String,
    /// Findings.
    pub findings: Vec<String>,
    /// What to do.
    pub recommendations: Vec<String>,
}

/// Changes smaller than this are "no material change".
const MATERIAL: f64 = 0.05;

/// Findings and recommendations from `analysis`, deterministically.
pub fn conclude(anomaly: &Anomaly, a: &Analysis) -> Conclusion {
    let service = a.team.service_name();
    let (w0, w1) = anomaly.window;
    let drop = anomaly.observed < anomaly.expected;
    let moved = a.change.abs() >= MATERIAL && (a.change < 0.0) == drop;
    let mut findings = vec![format!(
        "{service} {}: {} from {} to {} vs {} expected from the baseline ({}).",
        a.metric,
        number(a.window_total),
        ymd(w0),
        ymd(w1),
        number(a.expected_total),
        percent(a.change)
    )];
    let others: Vec<String> = a
        .measures
        .iter()
        .filter(|m| m.metric != a.metric)
        .map(|m| {
            let change = if m.expected == 0.0 {
                0.0
            } else {
                m.window / m.expected - 1.0
            };
            format!(
                "{} {} vs {} ({})",
                m.metric,
                number(m.window),
                number(m.expected),
                percent(change)
            )
        })
        .collect();
    if !others.is_empty() {
        findings.push(format!("Over the same days: {}.", others.join("; ")));
    }
    let mut recommendations = Vec::new();
    if !moved {
        let summary = format!(
            "{service} {} moved {} — no material change in the {} direction; not where the {} change came from.",
            a.metric,
            percent(a.change),
            if drop { "downward" } else { "upward" },
            anomaly.metric
        );
        findings.push(summary.clone());
        return Conclusion {
            summary,
            findings,
            recommendations,
        };
    }
    for b in &a.breakdowns {
        // Movers with a sliver of the change are noise, not findings.
        for c in b.contributors.iter().filter(|c| c.share >= 0.02).take(3) {
            findings.push(format!(
                "{} {}: {} vs {} expected ({}), {:.0}% of the change.",
                capitalise(&b.dimension),
                quote(&c.name),
                number(c.window),
                number(c.expected),
                percent(if c.expected == 0.0 {
                    0.0
                } else {
                    c.window / c.expected - 1.0
                }),
                c.share * 100.0
            ));
        }
    }
    let top = |dimension: &str| {
        a.breakdowns
            .iter()
            .find(|b| b.dimension == dimension)
            .and_then(|b| b.contributors.first())
    };
    let verb = if drop { "lost" } else { "gained" };
    match a.team {
        Provider::Ga4 => {
            let channels = a
                .breakdowns
                .iter()
                .find(|b| b.dimension == "channel")
                .map_or(&[][..], |b| b.contributors.as_slice());
            // Every big channel down by about the total's rate: the site or its tracking, not
            // a channel, changed.
            let across_the_board = drop
                && channels.len() >= 3
                && channels.first().is_some_and(|c| c.share < 0.6)
                && channels.iter().take(3).all(|c| {
                    c.expected > 0.0
                        && (0.6..1.6).contains(&((c.window / c.expected - 1.0) / a.change))
                });
            if across_the_board {
                recommendations.push(format!(
                    "Every large channel fell by about the same rate ({}): that points to the site or its tracking rather than to one channel — check uptime, the GA4 tag and consent banner changes for these dates.",
                    percent(a.change)
                ));
            } else if let Some(c) = top("channel") {
                let n = &c.name;
                let part = portion(c.share, drop);
                recommendations.push(if !drop {
                    format!("{n} drove {part}: find what changed there (campaign, mention, ranking) and put more behind it while it lasts.")
                } else if n.contains("Paid") || n.contains("Cross-network") || n.contains("Display") {
                    format!("{n} accounts for {part}: check the ad platforms' budgets, bids, disapprovals and tracking for these dates (see the Google Ads and Meta Ads findings).")
                } else if n.contains("Organic Search") {
                    format!("Organic Search accounts for {part}: check Search Console for lost queries and pages, and for indexing problems.")
                } else if n.contains("Email") {
                    format!("Email accounts for {part}: check whether a newsletter or automation stopped sending.")
                } else {
                    format!("Look into {n}: it accounts for {part}.")
                });
            }
            if let Some(c) = top("device")
                && c.share > 0.5
                && drop
            {
                recommendations.push(format!(
                    "{} visitors account for {:.0}% of the drop: test the {} experience end to end (page speed, checkout, payment).",
                    capitalise(&c.name),
                    c.share * 100.0,
                    c.name
                ));
            }
            if let Some(c) = top("landing page") {
                recommendations.push(format!(
                    "Landing page {} {verb} {} {}: {}.",
                    quote(&c.name),
                    number(c.delta.abs()),
                    if a.metric == "revenue" { "in revenue" } else { a.metric.as_str() },
                    if drop {
                        "make sure it loads, is indexed, is in stock and that campaigns still link to it"
                    } else {
                        "see what sends visitors there and whether the rest of the funnel keeps up"
                    }
                ));
            }
        }
        Provider::Gsc => {
            if let Some(c) = top("query") {
                recommendations.push(format!(
                    "Search {} for {} went from {} to {}: {}.",
                    a.metric,
                    quote(&c.name),
                    number(c.expected),
                    number(c.window),
                    if drop {
                        "check which page ranks for it and whether its position fell (get_search_by_page_query), then inspect that page (inspect_url)"
                    } else {
                        "make sure the page that ranks for it converts"
                    }
                ));
            }
            if let Some(c) = top("page") {
                recommendations.push(format!(
                    "Page {} {verb} {} {}: {}.",
                    c.name,
                    number(c.delta.abs()),
                    a.metric,
                    if drop {
                        "check it for indexing problems, removed content or a changed title"
                    } else {
                        "keep it fresh and link to it from related pages"
                    }
                ));
            }
        }
        Provider::GoogleAds | Provider::MetaAds => {
            if let Some(c) = top("campaign") {
                recommendations.push(format!(
                    "{service} campaign {}: {} {} vs {} expected. {}",
                    quote(&c.name),
                    a.metric,
                    number(c.window),
                    number(c.expected),
                    if drop {
                        "Check its budget, bids, status, audience and any disapprovals in these dates."
                    } else {
                        "If returns held up, consider raising its budget; if not, cap it."
                    }
                ));
            }
        }
    }
    let summary = match a
        .breakdowns
        .iter()
        .find_map(|b| b.contributors.first().map(|c| (b, c)))
    {
        Some((b, c)) => format!(
            "{service} {} {} ({}); biggest contributor: {} {} ({:.0}% of the change).",
            a.metric,
            if drop { "fell" } else { "rose" },
            percent(a.change),
            b.dimension,
            quote(&c.name),
            c.share * 100.0
        ),
        None => format!(
            "{service} {} {} ({}).",
            a.metric,
            if drop { "fell" } else { "rose" },
            percent(a.change)
        ),
    };
    Conclusion {
        summary,
        findings,
        recommendations,
    }
}

/// "64% of the drop", or "more than the whole drop (119%) …" when others moved the other way.
fn portion(share: f64, drop: bool) -> String {
    let what = if drop { "drop" } else { "rise" };
    if share > 1.0 {
        format!(
            "more than the whole {what} ({:.0}%; other channels moved the other way)",
            share * 100.0
        )
    } else {
        format!("{:.0}% of the {what}", share * 100.0)
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn quote(s: &str) -> String {
    format!("“{s}”")
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
