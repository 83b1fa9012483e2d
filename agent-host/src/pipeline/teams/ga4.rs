//! The GA4 team: the metric by channel, device and landing page, window against baseline,
//! and its daily series.

use chrono::NaiveDate;
use serde_json::json;

use super::super::decode::{self, Ga4Report};
use super::{Analysis, Point, Ranges, Reader, TeamError, Totals, finish, ymd};
use broker_proto::Provider;

pub(super) async fn analyse(
    r: &mut Reader<'_>,
    ranges: &Ranges,
    metric: &str,
) -> Result<Analysis, TeamError> {
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
