//! How every berryboo process logs and traces.
//!
//! - Log lines go to stderr (stdout carries results, or JSON-RPC for a stdio server), every
//!   line through the redaction step; `RUST_LOG` filters them; colour only for a person at a
//!   terminal. `--log-format json` lines carry the `trace_id` of the span they were logged in.
//! - Traces: the spans that name an `otel.kind` (a chat turn, a gateway request, an anomaly, a
//!   tool call, an upstream request, a broker vend) become OpenTelemetry spans, whatever
//!   `RUST_LOG` says. Their context travels as W3C `traceparent` ([`propagate`]): in an MCP
//!   request's `_meta`, on each upstream request, in the broker's token requests.
//! - Export: OTLP over HTTP/protobuf when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, named by `OTEL_SERVICE_NAME` or the binary.
//!   Unset, nothing is sampled or exported, but trace ids still travel, so the logs, the
//!   broker's audit rows and the pipeline's evidence of one question share one id.

#![deny(missing_docs)]

mod json;
pub mod propagate;
mod text;

use std::time::Duration;

pub use cli_kit::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

/// The variables that turn export on. Either, set and not empty.
pub const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// How long exiting waits for the last spans to reach the collector: a collector that is down
/// must not hold up every process's exit (a host stopping its servers waits for each).
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

/// Keeps the exporter of a process that traces; dropping it sends the spans still queued (at
/// most [`FLUSH_AT_EXIT`]). Hold it in `main` until the process ends.
#[must_use = "dropping the guard at once stops the export"]
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Telemetry {
    /// Whether spans are exported (an OTLP endpoint is set).
    pub fn exporting(&self) -> bool {
        self.exporting
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if self.exporting {
            let _ = self.provider.shutdown_with_timeout(FLUSH_AT_EXIT);
        }
    }
}

/// A name a caller chose (a tool's) as part of a span's name or attribute: itself when it is a
/// plain identifier of at most 64 characters and `known`, else `unknown`, so callers can mint
/// neither long nor many distinct names in an operator's traces.
pub fn span_label(name: &str, known: bool) -> &str {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if known && plain { name } else { "unknown" }
}

/// `endpoint` as it may be shown or handed on: scheme, host and port only (a collector's key
/// may ride in its user, path or query).
pub fn endpoint_origin(endpoint: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "an unparsable URL".to_owned(),
    }
}

/// Whether this environment asks for export, and where to (for a message).
pub fn export_endpoint() -> Option<String> {
    if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    ENDPOINT_VARS
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
}

/// Installs the global subscriber: log lines (filtered by `RUST_LOG`, else `default_filter`)
/// and the trace layer, exporting when [`export_endpoint`] says so. `service` names the
/// process unless `OTEL_SERVICE_NAME` does. Later calls install nothing and return a guard
/// that exports nothing.
pub fn init(service: &'static str, format: LogFormat, default_filter: &str) -> Telemetry {
    let (provider, exporting, problem) = tracer_provider(service);
    let tracer = provider.tracer(service);
    // Only the spans that say what they are to OpenTelemetry (`otel.kind`), never events:
    // an event's text is redacted on the way to stderr, not on the way to a collector.
    let traced = FilterFn::new(|meta| meta.is_span() && meta.fields().field("otel.kind").is_some());
    let traces = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(traced);
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let colour = format == LogFormat::Text
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(redaction::MakeRedacted(std::io::stderr))
        .with_ansi(colour);
    let lines = match format {
        LogFormat::Text => lines.fmt_fields(text::TextFields).boxed(),
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .event_format(json::WithTraceId::new(
                tracing_subscriber::fmt::format().json().flatten_event(true),
            ))
            .boxed(),
    }
    .with_filter(filter);
    let dispatch = tracing::Dispatch::new(Registry::default().with(traces).with(lines));
    json::remember(&dispatch);
    let installed = tracing::dispatcher::set_global_default(dispatch).is_ok();
    if let Some(problem) = problem {
        tracing::warn!("traces are not exported: {problem}");
    } else if exporting && installed {
        tracing::debug!("exporting traces over OTLP/HTTP");
    }
    Telemetry {
        provider,
        exporting: exporting && installed,
    }
}

/// The provider: with an OTLP exporter when asked for (and buildable), else one that samples
/// nothing it starts itself (it still continues a sampled parent's trace, so ids travel).
fn tracer_provider(service: &'static str) -> (SdkTracerProvider, bool, Option<String>) {
    let resource = || {
        let builder = opentelemetry_sdk::Resource::builder();
        if std::env::var("OTEL_SERVICE_NAME").is_ok_and(|s| !s.is_empty()) {
            builder.build()
        } else {
            builder.with_service_name(service).build()
        }
    };
    let quiet = || {
        SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
            .with_resource(resource())
            .build()
    };
    if export_endpoint().is_none() {
        return (quiet(), false, None);
    }
    if let Ok(protocol) = std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        && protocol != "http/protobuf"
    {
        return (
            quiet(),
            false,
            Some(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf is supported"
            )),
        );
    }
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    // Two retries, backing off 100 to 400 ms: a collector's blip is ridden out, one that is
    // down costs the export thread under a second per batch.
    let retries = opentelemetry_otlp::RetryPolicy::recommended()
        .with_max_retries(2)
        .with_max_delay(Duration::from_millis(400));
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_retry_policy(retries)
        .build()
    {
        Ok(exporter) => (
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource())
                .build(),
            true,
            None,
        ),
        // The exporter's errors quote the endpoint: show its origin only.
        Err(e) => {
            let mut problem = e.to_string();
            for var in ENDPOINT_VARS {
                if let Ok(raw) = std::env::var(var)
                    && !raw.is_empty()
                {
                    problem = problem.replace(&raw, &endpoint_origin(&raw));
                }
            }
            (quiet(), false, Some(problem))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_labels_are_listed_plain_names_only() {
        assert_eq!(span_label("run_report", true), "run_report");
        assert_eq!(span_label("run_report", false), "unknown");
        assert_eq!(span_label("", true), "unknown");
        assert_eq!(span_label(&"a".repeat(65), true), "unknown");
        assert_eq!(span_label("run report\nDROP", true), "unknown");
        assert_eq!(span_label("ya29.a0Af/x+y=", true), "unknown");
    }

    #[test]
    fn an_endpoint_is_shown_by_its_origin() {
        assert_eq!(
            endpoint_origin("https://user:secret@collector:4318/v1/otlp/KEY?api_key=k"),
            "https://collector:4318"
        );
        assert_eq!(endpoint_origin("http://127.0.0.1"), "http://127.0.0.1");
        assert_eq!(endpoint_origin("::nonsense"), "an unparsable URL");
    }
}
