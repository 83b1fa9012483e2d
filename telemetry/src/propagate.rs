//! W3C trace context between processes: `traceparent` in an MCP request's `_meta` (the key
//! SEP-414 reserves), as an HTTP header, and as the one string a broker request carries. What
//! arrives is checked by the W3C parser: a malformed value is ignored, never an error, and never
//! continued. `tracestate` is neither read nor sent: it is vendors' free text, and what a remote
//! caller put there would otherwise reach Google's and Meta's front ends.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{Map, Value};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header and `_meta` key.
pub const TRACEPARENT: &str = "traceparent";

fn traceparent_of(cx: &opentelemetry::Context) -> Option<String> {
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

fn id_of(span_context: &SpanContext) -> Option<String> {
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// `span`'s context as a `traceparent` value; none outside a trace (no trace layer, or a
/// span that is not traced).
pub fn traceparent(span: &Span) -> Option<String> {
    traceparent_of(&span.context())
}

/// The trace id of `span` (32 hex digits), if it is in a trace.
pub fn trace_id(span: &Span) -> Option<String> {
    id_of(span.context().span().span_context())
}

/// The trace id of the innermost traced span this task is in (spans that are not traced, such
/// as a debug-level one inside a tool call, are looked through).
pub fn current_trace_id() -> Option<String> {
    id_of(opentelemetry::Context::current().span().span_context())
}

/// The trace id a well-formed `traceparent` names; none for anything else.
pub fn trace_id_in(traceparent: &str) -> Option<String> {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    id_of(
        TraceContextPropagator::new()
            .extract(&carrier)
            .span()
            .span_context(),
    )
}

/// Makes `span` (just created, not yet entered) continue the trace `traceparent` names.
/// Returns whether it did: a malformed value leaves `span` the root of a trace of its own.
pub fn follow(span: &Span, traceparent: Option<&str>) -> bool {
    let Some(traceparent) = traceparent else {
        return false;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    if !cx.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(cx).is_ok()
}

/// [`follow`] with an MCP request's `_meta`.
pub fn follow_meta(span: &Span, meta: &Map<String, Value>) -> bool {
    follow(span, meta.get(TRACEPARENT).and_then(Value::as_str))
}

/// [`follow`] with HTTP request headers.
pub fn follow_headers(span: &Span, headers: &http::HeaderMap) -> bool {
    follow(span, headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()))
}

/// Writes the current trace context into an MCP request's `_meta` (replacing any it had).
pub fn inject_current_meta(meta: &mut Map<String, Value>) {
    if let Some(tp) = traceparent_of(&opentelemetry::Context::current()) {
        meta.insert(TRACEPARENT.to_owned(), Value::String(tp));
    }
}

/// `span`'s context as HTTP headers: `traceparent`, when it is in a trace.
pub fn headers(span: &Span) -> Vec<(&'static str, String)> {
    traceparent(span)
        .map(|tp| (TRACEPARENT, tp))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_traceparent_names_a_trace() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id_in(good).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'; DROP TABLE x",
            "00-ya29.x.not-a-trace-id-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id_in(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn outside_a_trace_nothing_is_injected() {
        let span = Span::none();
        assert_eq!(traceparent(&span), None);
        let mut meta = Map::new();
        inject_current_meta(&mut meta);
        assert!(meta.is_empty());
        assert!(headers(&span).is_empty());
        assert!(!follow(&span, Some("garbage")));
        assert_eq!(current_trace_id(), None);
    }
}
