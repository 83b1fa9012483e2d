//! The progress bar of a pipeline run (only on a terminal): claims, shops done, failures.

use std::io::IsTerminal;

use super::worker::ShopOutcome;

/// Progress on a terminal, log lines otherwise.
pub(super) struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub(super) fn new(show: bool) -> Self {
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

    pub(super) fn claimed(&self, n: usize) {
        if let Some(b) = &self.0 {
            b.inc_length(n as u64);
        }
    }

    pub(super) fn shop_done(&self, o: &ShopOutcome) {
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

    pub(super) fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
