//! JSON log lines that carry the trace id of the span they were logged in, as a top-level
//! `trace_id` field, so a log search and a trace search find the same question.

use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt as _;
use tracing::dispatcher::WeakDispatch;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The installed dispatcher. Inside an event the current dispatcher reads as none (tracing
/// does not re-enter itself), so the formatter asks this one for a span's trace context.
static DISPATCH: OnceLock<WeakDispatch> = OnceLock::new();

pub(crate) fn remember(dispatch: &tracing::Dispatch) {
    let _ = DISPATCH.set(dispatch.downgrade());
}

/// Wraps a JSON event formatter: `{"trace_id":"…",` and then its fields.
pub(crate) struct WithTraceId<F>(F);

impl<F> WithTraceId<F> {
    pub(crate) fn new(inner: F) -> Self {
        Self(inner)
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let trace_id = DISPATCH
            .get()
            .and_then(WeakDispatch::upgrade)
            .and_then(|dispatch| trace_of(&dispatch, event));
        let Some(trace_id) = trace_id else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => {
                write!(writer, "{{\"trace_id\":\"{trace_id}\",")?;
                writer.write_str(rest)
            }
            None => writer.write_str(&line),
        }
    }
}

/// The trace of the innermost span around `event` that is in one. Asked of the registry, not
/// of the log line's context: that one holds only the spans `RUST_LOG` lets through, and a
/// warning under `RUST_LOG=warn` still belongs to its tool call's trace.
fn trace_of(dispatch: &tracing::Dispatch, event: &tracing::Event<'_>) -> Option<String> {
    let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
    let id = match event.parent() {
        Some(id) => id.clone(),
        None if event.is_contextual() => dispatch.current_span().id()?.clone(),
        None => return None,
    };
    let span = registry.span(&id)?;
    span.scope().find_map(|s| {
        let cx = tracing_opentelemetry::get_otel_context(&s.id(), dispatch)?;
        let span_context = cx.span().span_context().clone();
        span_context
            .is_valid()
            .then(|| span_context.trace_id().to_string())
    })
}
