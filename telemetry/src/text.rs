//! Text log lines without the fields that only name a span for OpenTelemetry (`otel.kind`,
//! `otel.name`, `otel.status_code`): a person reading stderr needs the tool and the shop, not
//! the exporter's bookkeeping.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// The text format's fields: the default ones, minus `otel.*`.
pub(crate) struct TextFields;

pub(crate) struct SkipOtel<'a>(DefaultVisitor<'a>);

fn shown(field: &Field) -> bool {
    !field.name().starts_with("otel.")
}

impl<'a> MakeVisitor<Writer<'a>> for TextFields {
    type Visitor = SkipOtel<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        SkipOtel(DefaultVisitor::new(target, true))
    }
}

impl Visit for SkipOtel<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if shown(field) {
            self.0.record_str(field, value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if shown(field) {
            self.0.record_error(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if shown(field) {
            self.0.record_debug(field, value);
        }
    }
}

impl VisitOutput<fmt::Result> for SkipOtel<'_> {
    fn finish(self) -> fmt::Result {
        self.0.finish()
    }
}

impl VisitFmt for SkipOtel<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        self.0.writer()
    }
}
