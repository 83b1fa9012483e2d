//! The Search Console team: clicks or impressions by query and page across the two periods,
//! and the daily series.

use serde_json::json;

use super::super::decode::{self, GscComparison, GscOverview, Row};
use super::{Analysis, Point, Ranges, Reader, TeamError, Totals, finish, ymd};
use broker_proto::Provider;

pub(super) async fn analyse(
    r: &mut Reader<'_>,
    ranges: &Ranges,
    metric: &str,
) -> Result<Analysis, TeamError> {
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
