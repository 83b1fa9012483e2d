//! Scraping a `/metrics` endpoint and reading its samples, as Prometheus would.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

/// One scrape: every sample by metric name and sorted labels, and the `# TYPE` of each family.
#[derive(Debug, Default)]
pub struct Scrape {
    /// `(name, labels)` → value.
    pub samples: BTreeMap<(String, Vec<(String, String)>), f64>,
    /// Family name → `counter`, `gauge`, `histogram`, ….
    pub types: BTreeMap<String, String>,
    /// The text as served.
    pub text: String,
}

impl Scrape {
    /// The value of `name` with exactly `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut key: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        key.sort();
        self.samples.get(&(name.to_owned(), key)).copied()
    }

    /// The sum of `name` over all its label sets (0 when there is none).
    pub fn sum(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, v)| v)
            .sum()
    }
}

/// GETs `url` and parses the Prometheus text format (version 0.0.4); fails on a line that is
/// not a comment, a blank or `name{label="value",…} value`.
pub async fn scrape(url: &str) -> Result<Scrape> {
    let response = reqwest::get(url)
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("GET {url}: {status}: {text}");
    }
    if !content_type.starts_with("text/plain; version=0.0.4") {
        bail!("GET {url}: content-type {content_type:?} is not Prometheus text");
    }
    parse(&text)
}

/// Parses Prometheus text.
pub fn parse(text: &str) -> Result<Scrape> {
    let mut out = Scrape {
        text: text.to_owned(),
        ..Scrape::default()
    };
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').context("a # TYPE line")?;
            out.types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .with_context(|| format!("no value in {line:?}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().with_context(|| format!("value of {line:?}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .with_context(|| format!("labels of {line:?}"))?;
                let mut labels = Vec::new();
                for pair in body.split(',').filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once('=')
                        .with_context(|| format!("label in {line:?}"))?;
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .with_context(|| format!("quoted label value in {line:?}"))?;
                    labels.push((k.to_owned(), v.to_owned()));
                }
                labels.sort();
                (name, labels)
            }
        };
        let valid_name = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !name.is_empty();
        if !valid_name {
            bail!("metric name {name:?} in {line:?}");
        }
        out.samples.insert((name.to_owned(), labels), value);
    }
    Ok(out)
}
