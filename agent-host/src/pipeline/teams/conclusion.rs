//! From an analysis to a conclusion: plain arithmetic on the window, the expectation and the
//! movers (a model, when configured, only rewords the result).

use broker_proto::Provider;
use pipeline_store::Anomaly;

use super::format::{number, percent};
use super::{Analysis, ymd};

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
