//! The run's report, per shop and anomaly: what the detector saw, a chart of the metric around
//! the window, and each team's findings and recommendations. HTML (inline SVG, no scripts, no
//! external assets), Markdown (a sparkline instead of the chart) or JSON, by file extension.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use pipeline_store::{Anomaly, Recommendation, Store};
use serde::Serialize;
use serde_json::Value;

use super::teams::{number, percent};

/// One anomaly with what the teams said.
#[derive(Serialize)]
pub struct Entry {
    /// The shop's name (or id).
    pub shop_name: String,
    /// The anomaly.
    pub anomaly: Anomaly,
    /// Per team.
    pub recommendations: Vec<Recommendation>,
}

/// Loads anomalies `ids` and their recommendations, grouped by shop name.
pub async fn load(store: &Store, ids: &[i64]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for id in ids {
        let Some(anomaly) = store.anomaly(*id).await? else {
            continue;
        };
        let shop_name = store
            .shop_name(&anomaly.shop_id)
            .await
            .unwrap_or_else(|| anomaly.shop_id.clone());
        let recommendations = store.recommendations(Some(*id), None).await?;
        out.push(Entry {
            shop_name,
            anomaly,
            recommendations,
        });
    }
    out.sort_by(|a, b| {
        (a.shop_name.as_str(), b.anomaly.severity, a.anomaly.id).cmp(&(
            b.shop_name.as_str(),
            a.anomaly.severity,
            b.anomaly.id,
        ))
    });
    Ok(out)
}

/// Writes the report of anomalies `ids` to `path` (format by extension: html, md, json).
pub async fn write(store: &Store, ids: &[i64], path: &Path) -> Result<()> {
    let entries = load(store, ids).await?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = match ext.as_str() {
        "json" => serde_json::to_string_pretty(&serde_json::json!({
            "generated_at": chrono::Utc::now().to_rfc3339(),
            "anomalies": entries,
        }))?,
        "md" | "markdown" => markdown(&entries),
        _ => html(&entries),
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    // What the teams quoted from upstreams passed the redaction step when it was stored; the
    // report goes through it once more as a whole, whatever it was built from.
    std::fs::write(path, redaction::text(&text).as_bytes())?;
    Ok(())
}

/// What to chart for an anomaly.
struct Chart {
    label: String,
    points: Vec<(String, f64)>,
    /// The baseline's average day, drawn as a dashed line.
    baseline_per_day: Option<f64>,
}

/// The daily series to chart: the anomaly's own source team's, else the first team's.
fn series(e: &Entry) -> Option<Chart> {
    let mut recs: Vec<&Recommendation> = e
        .recommendations
        .iter()
        .filter(|r| r.outcome == "analysed")
        .collect();
    recs.sort_by_key(|r| r.team != e.anomaly.source);
    recs.into_iter().find_map(|r| {
        let points: Vec<(String, f64)> = r
            .analysis
            .get("series")?
            .as_array()?
            .iter()
            .filter_map(|p| {
                Some((
                    p.get("date")?.as_str()?.to_owned(),
                    p.get("value")?.as_f64()?,
                ))
            })
            .collect();
        let metric = r
            .analysis
            .get("metric")
            .and_then(Value::as_str)
            .unwrap_or("");
        let days = ((e.anomaly.window.1 - e.anomaly.window.0).num_days() + 1).max(1) as f64;
        let baseline_per_day = r
            .analysis
            .get("expected_total")
            .and_then(Value::as_f64)
            .map(|t| t / days);
        (!points.is_empty()).then(|| Chart {
            label: format!("{} {metric}", service_of(&r.team)),
            points,
            baseline_per_day,
        })
    })
}

fn service_of(team: &str) -> &str {
    match team.parse::<broker_proto::Provider>() {
        Ok(p) => p.service_name(),
        Err(_) => "Shop database",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart with the anomaly window shaded and, if given, the baseline's average day
/// dashed.
pub fn svg(
    points: &[(String, f64)],
    window: (&str, &str),
    label: &str,
    baseline_per_day: Option<f64>,
) -> String {
    let (w, h, pad) = (680.0, 200.0, 36.0);
    let max = points
        .iter()
        .map(|p| p.1)
        .chain(baseline_per_day)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v / max;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        esc(label)
    );
    let inside: Vec<usize> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.0.as_str() >= window.0 && p.0.as_str() <= window.1)
        .map(|(i, _)| i)
        .collect();
    if let (Some(first), Some(last)) = (inside.first(), inside.last()) {
        let half = (w - 2.0 * pad) / n / 2.0;
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{pad}" width="{:.1}" height="{:.1}" fill="#fde2e1"/>"##,
            x(*first) - half,
            x(*last) - x(*first) + 2.0 * half,
            h - 2.0 * pad
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{pad}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#999"/>"##,
        h - pad,
        w - pad
    );
    if let Some(b) = baseline_per_day {
        let _ = write!(
            s,
            r##"<line x1="{pad}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#6b7280" stroke-dasharray="5 4"/>"##,
            y(b),
            w - pad
        );
    }
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{}"/>"##,
        line.join(" ")
    );
    let text = |s: &mut String, x: f64, y: f64, anchor: &str, t: &str| {
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{y:.1}" font-size="11" font-family="sans-serif" fill="#555" text-anchor="{anchor}">{}</text>"##,
            esc(t)
        );
    };
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        text(&mut s, pad, h - pad + 16.0, "start", &first.0);
        text(&mut s, w - pad, h - pad + 16.0, "end", &last.0);
    }
    text(
        &mut s,
        pad,
        pad - 8.0,
        "start",
        &format!("{label} (max {})", number(max)),
    );
    let legend = if baseline_per_day.is_some() {
        "shaded: anomaly window · dashed: baseline average"
    } else {
        "shaded: anomaly window"
    };
    text(&mut s, w - pad, pad - 8.0, "end", legend);
    s.push_str("</svg>");
    s
}

/// ▁▂▃▄▅▆▇█ of the series, for Markdown.
pub fn sparkline(points: &[(String, f64)]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let span = (max - min).max(f64::EPSILON);
    points
        .iter()
        .map(|p| BARS[(((p.1 - min) / span) * 7.0).round().clamp(0.0, 7.0) as usize])
        .collect()
}

/// What a person must do, first: reconnect broken grants, connect missing sources, look at
/// sources that could not be read. One line per shop and service (and kind), in that order.
fn to_do(entries: &[Entry]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut lines: Vec<(u8, String)> = Vec::new();
    for e in entries {
        for r in &e.recommendations {
            let service = service_of(&r.team);
            let (rank, line) = match r.outcome.as_str() {
                "broken" => (0, format!("Reconnect {service} for {}", e.shop_name)),
                "skipped" => (1, format!("Connect {service} for {}", e.shop_name)),
                "failed" => (
                    2,
                    format!(
                        "{service} could not be read for {}: {}",
                        e.shop_name,
                        r.summary
                            .split_once(": ")
                            .map_or(r.summary.as_str(), |(_, why)| why)
                    ),
                ),
                _ => continue,
            };
            if seen.insert((rank, e.shop_name.clone(), r.team.clone())) {
                lines.push((rank, line));
            }
        }
    }
    lines.sort();
    lines.into_iter().map(|(_, l)| l).collect()
}

fn by_shop(entries: &[Entry]) -> BTreeMap<&str, Vec<&Entry>> {
    let mut m: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        m.entry(e.shop_name.as_str()).or_default().push(e);
    }
    m
}

fn headline(a: &Anomaly) -> String {
    format!(
        "{} {} in {} — {} vs {} expected ({}), {} to {}",
        a.severity,
        a.metric,
        service_of(&a.source),
        number(a.observed),
        number(a.expected),
        percent(a.change()),
        a.window.0,
        a.window.1
    )
}

fn html(entries: &[Entry]) -> String {
    let mut s = String::from(
        r#"<!doctype html><html lang="en"><meta charset="utf-8"><title>berryboo anomaly report</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #eee;padding-bottom:.2em;margin-top:2em}
.anomaly{border:1px solid #e5e7eb;border-radius:8px;padding:1em 1.2em;margin:1.2em 0}
.sev-critical,.sev-high{border-left:6px solid #dc2626}.sev-medium{border-left:6px solid #f59e0b}.sev-low{border-left:6px solid #9ca3af}
.team{margin:.8em 0}.team h4{margin:.2em 0}.muted{color:#6b7280}.outcome{font-size:.8em;padding:.1em .5em;border-radius:4px;background:#eef}
.outcome.skipped,.outcome.failed{background:#f3f4f6}.outcome.broken{background:#fee2e2}ul{margin:.3em 0}</style>
<h1>Anomaly report</h1>"#,
    );
    let _ = write!(
        s,
        r#"<p class="muted">{} anomalies, generated {}</p>"#,
        entries.len(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let todo = to_do(entries);
    if !todo.is_empty() {
        s.push_str("<h2>What needs doing</h2><ul>");
        for line in &todo {
            let _ = write!(s, "<li>{}</li>", esc(line));
        }
        s.push_str("</ul>");
    }
    for (shop, list) in by_shop(entries) {
        let _ = write!(s, "<h2>{}</h2>", esc(shop));
        for e in list {
            let a = &e.anomaly;
            let _ = write!(
                s,
                r#"<section class="anomaly sev-{}"><h3>{}</h3><p class="muted">anomaly {} · baseline {} to {}</p>"#,
                a.severity,
                esc(&headline(a)),
                a.id,
                a.baseline.0,
                a.baseline.1
            );
            if let Some(c) = series(e) {
                let (w0, w1) = (a.window.0.to_string(), a.window.1.to_string());
                s.push_str(&svg(&c.points, (&w0, &w1), &c.label, c.baseline_per_day));
            }
            for r in &e.recommendations {
                let _ = write!(
                    s,
                    r#"<div class="team"><h4>{} <span class="outcome {}">{}</span></h4><p>{}</p>"#,
                    esc(service_of(&r.team)),
                    esc(&r.outcome),
                    esc(&r.outcome),
                    esc(&r.summary)
                );
                for (title, items) in [
                    ("Findings", &r.findings),
                    ("Recommendations", &r.recommendations),
                ] {
                    if !items.is_empty() {
                        let _ = write!(s, "<strong>{title}</strong><ul>");
                        for i in items.iter() {
                            let _ = write!(s, "<li>{}</li>", esc(i));
                        }
                        s.push_str("</ul>");
                    }
                }
                if r.author != "analysis" {
                    let _ = write!(s, r#"<p class="muted">written by {}</p>"#, esc(&r.author));
                }
                s.push_str("</div>");
            }
            s.push_str("</section>");
        }
    }
    s.push_str("</html>\n");
    s
}

/// Text from shops, upstream data or a model, made inert in Markdown (renderers pass HTML
/// through).
fn md(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn markdown(entries: &[Entry]) -> String {
    let mut s = format!(
        "# Anomaly report\n\n{} anomalies, generated {}\n",
        entries.len(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let todo = to_do(entries);
    if !todo.is_empty() {
        s.push_str("\n## What needs doing\n\n");
        for line in &todo {
            let _ = writeln!(s, "- {}", md(line));
        }
    }
    for (shop, list) in by_shop(entries) {
        let _ = write!(s, "\n## {}\n", md(shop));
        for e in list {
            let a = &e.anomaly;
            let _ = write!(
                s,
                "\n### {}\n\nAnomaly {} · baseline {} to {}\n",
                md(&headline(a)),
                a.id,
                a.baseline.0,
                a.baseline.1
            );
            if let Some(c) = series(e) {
                let _ = write!(
                    s,
                    "\n`{}` {}, {} to {}\n",
                    sparkline(&c.points),
                    c.label,
                    c.points.first().map_or("", |p| p.0.as_str()),
                    c.points.last().map_or("", |p| p.0.as_str())
                );
            }
            for r in &e.recommendations {
                let _ = write!(
                    s,
                    "\n**{}** ({}) — {}\n",
                    service_of(&r.team),
                    r.outcome,
                    md(&r.summary)
                );
                for f in &r.findings {
                    let _ = write!(s, "\n- {}", md(f));
                }
                for rec in &r.recommendations {
                    let _ = write!(s, "\n- **Do:** {}", md(rec));
                }
                if !r.findings.is_empty() || !r.recommendations.is_empty() {
                    s.push('\n');
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_shade_the_window_and_escape_labels() {
        let points: Vec<(String, f64)> = (1..=20)
            .map(|d| {
                (
                    format!("2026-10-{d:02}"),
                    if (10..=14).contains(&d) { 40.0 } else { 100.0 },
                )
            })
            .collect();
        let svg = svg(
            &points,
            ("2026-10-10", "2026-10-14"),
            "GA4 <sessions>",
            Some(100.0),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<rect"), "{svg}");
        assert!(svg.contains("stroke-dasharray"), "{svg}");
        assert!(svg.contains("&lt;sessions&gt;"));
        assert_eq!(sparkline(&points[8..15]), "█▁▁▁▁▁█");
    }
}
