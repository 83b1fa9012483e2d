//! The Google Ads team: the metric by campaign with the headline measures (cost, clicks,
//! conversions, value), every page of each GAQL query, and the daily series.

use chrono::NaiveDate;
use serde_json::json;

use super::super::decode::{self, AdsPage, Row};
use super::{
    Analysis, Measure, Point, Ranges, Reader, TeamError, Totals, finish, with_measures, ymd,
};
use broker_proto::Provider;

/// Pages of one GAQL query the team reads at most (10,000 rows each).
const MAX_PAGES: usize = 50;

/// Every page of a GAQL query's rows. Google Ads leaves zero metrics out of a row, so the
/// answer's own column list (its field mask) must name every field in `fields`: then a field
/// missing from a row is a zero, not a renamed or dropped column.
async fn gaql(
    r: &mut Reader<'_>,
    label: &str,
    query: String,
    fields: &[&str],
) -> Result<Vec<Row>, TeamError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for page in 0..MAX_PAGES {
        let mut args = json!({"query": query, "max_rows": 10000});
        if let Some(t) = &token {
            args["page_token"] = json!(t);
        }
        let v = r.call(&format!("{label} #{page}"), "search", args).await?;
        let page: AdsPage = decode::result("search", &v)?;
        if !page.rows.is_empty()
            && let Some(lost) = fields
                .iter()
                .find(|f| !page.columns.iter().any(|c| c == *f))
        {
            return Err(TeamError::Tool(format!(
                "search: the answer has no column `{lost}` (its columns: {})",
                page.columns.join(", ")
            )));
        }
        out.extend(page.rows);
        match page.next_page_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
    Err(TeamError::Tool(format!(
        "search: more than {MAX_PAGES} pages of rows for {label}; the team reads no partial answer"
    )))
}

pub(super) async fn analyse(
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
        for row in gaql(r, &format!("campaigns {which}"), q, &selected).await? {
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
    for row in gaql(r, "daily", q, &["segments.date", field]).await? {
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
