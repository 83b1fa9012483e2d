//! The Meta Ads team: the metric by campaign with the headline measures (spend, clicks,
//! purchases, purchase value), every page of insights, and the daily series.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::super::decode::{self, MetaPage, Row};
use super::{
    Analysis, Measure, Point, Ranges, Reader, TeamError, Totals, finish, with_measures, ymd,
};
use broker_proto::Provider;

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
                // The server sends an actions list as a map of action type to value.
                Some(Value::Object(by_type)) => {
                    for wanted in ["omni_purchase", "purchase"] {
                        if by_type.contains_key(wanted) {
                            return decode::number(TOOL, by_type, wanted);
                        }
                    }
                    return Ok(0.0);
                }
                Some(Value::Array(entries)) => entries
                    .iter()
                    .map(|e| {
                        e.as_object().ok_or_else(|| {
                            format!("{TOOL}: an entry of `{list}` is not an object: {e}")
                        })
                    })
                    .collect::<Result<_, String>>()?,
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

/// Pages of one insights request the team reads at most.
const MAX_PAGES: usize = 50;

/// Every page of an insights request.
async fn insights(r: &mut Reader<'_>, label: &str, mut args: Value) -> Result<Vec<Row>, TeamError> {
    let mut out = Vec::new();
    for page in 0..MAX_PAGES {
        let v = r
            .call(&format!("{label} #{page}"), "get_insights", args.clone())
            .await?;
        let page: MetaPage = decode::result("get_insights", &v)?;
        out.extend(page.rows);
        match page.next_after {
            Some(after) if !after.is_empty() => args["after"] = json!(after),
            _ => return Ok(out),
        }
    }
    Err(TeamError::Tool(format!(
        "get_insights: more than {MAX_PAGES} pages of rows for {label}; the team reads no partial answer"
    )))
}

pub(super) async fn analyse(
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
