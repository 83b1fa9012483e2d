//! W3C trace context between processes: `traceparent` (and `tracestate`) in an MCP request's
//! `_meta` (the keys SEP-414 reserves), as HTTP headers, and as the one string a broker request
//! carries. What arrives is checked by the W3C parser: a malformed value is ignored, never an
//! error, and never continued.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{Map, Value};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header and `_meta` key.
pub const TRACEPARENT: &str = "traceparent";
/// The vendor-specific companion of [`TRACEPARENT`].
pub const TRACESTATE: &str = "tracestate";

fn carrier_of(span: &Span) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    }
    carrier
}

/// `span`'s context as a `traceparent` value; none outside a trace (no trace layer, or a
/// span that is disabled).
pub fn traceparent(span: &Span) -> Option<String> {
    carrier_of(span).remove(TRACEPARENT)
}

/// The trace id of `span` (32 hex digits), if it is in a trace.
pub fn trace_id(span: &Span) -> Option<String> {
    let cx = span.context();
    let span_context = cx.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The trace id a well-formed `traceparent` names; none for anything else.
pub fn trace_id_in(traceparent: &str) -> Option<String> {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    let span_context = cx.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Makes `span` (just created, not yet entered) continue the trace `traceparent` names.
/// Returns whether it did: a malformed value leaves `span` the root of a trace of its own.
pub fn follow(span: &Span, traceparent: Option<&str>, tracestate: Option<&str>) -> bool {
    let Some(traceparent) = traceparent else {
        return false;
    };
    let mut carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    if let Some(state) = tracestate {
        carrier.insert(TRACESTATE.to_owned(), state.to_owned());
    }
    let cx = TraceContextPropagator::new().extract(&carrier);
    if !cx.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(cx).is_ok()
}

/// [`follow`] with the keys of an MCP request's `_meta`.
pub fn follow_meta(span: &Span, meta: &Map<String, Value>) -> bool {
    follow(
        span,
        meta.get(TRACEPARENT).and_then(Value::as_str),
        meta.get(TRACESTATE).and_then(Value::as_str),
    )
}

/// [`follow`] with HTTP request headers.
pub fn follow_headers(span: &Span, headers: &http::HeaderMap) -> bool {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    follow(span, get(TRACEPARENT), get(TRACESTATE))
}

/// Writes `span`'s context into an MCP request's `_meta` (replacing any it had).
pub fn inject_meta(span: &Span, meta: &mut Map<String, Value>) {
    for (key, value) in carrier_of(span) {
        meta.insert(key, Value::String(value));
    }
}

/// `span`'s context as HTTP headers (`traceparent`, and `tracestate` when it has one).
pub fn headers(span: &Span) -> Vec<(&'static str, String)> {
    let mut carrier = carrier_of(span);
    [TRACEPARENT, TRACESTATE]
        .into_iter()
        .filter_map(|name| carrier.remove(name).map(|v| (name, v)))
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
            "00-ya29.a0AfH6SMBx_not_a_trace_id_at_all-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id_in(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn outside_a_trace_nothing_is_injected() {
        let span = Span::none();
        assert_eq!(traceparent(&span), None);
        let mut meta = Map::new();
        inject_meta(&span, &mut meta);
        assert!(meta.is_empty());
        assert!(headers(&span).is_empty());
        assert!(!follow(&span, Some("garbage"), None));
    }
}
