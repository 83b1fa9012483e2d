//! A local OTLP/HTTP receiver (`POST /v1/traces`, protobuf, as the processes export), and the
//! switch that makes every process this harness starts export to it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, bail};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// `service.name` of the process that exported it.
    pub service: String,
    /// Its name.
    pub name: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, or empty for a root.
    pub parent_span_id: String,
    /// Its attributes, as text.
    pub attributes: HashMap<String, String>,
}

/// The receiver: every span posted to it.
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT` (the exporters append `/v1/traces`).
    pub endpoint: String,
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<SpanRecord> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .map(|a| text(a.value.as_ref().and_then(|v| v.value.as_ref())))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                out.push(SpanRecord {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|a| {
                            (
                                a.key.clone(),
                                text(a.value.as_ref().and_then(|v| v.value.as_ref())),
                            )
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

impl OtlpReceiver {
    /// Listens on a free loopback port.
    pub async fn start() -> Result<Self> {
        let spans: Arc<Mutex<Vec<SpanRecord>>> = Arc::default();
        let sink = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: bytes::Bytes| {
                let sink = sink.clone();
                async move {
                    match ExportTraceServiceRequest::decode(body) {
                        Ok(request) => {
                            sink.lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .extend(flatten(request));
                            (axum::http::StatusCode::OK, Vec::new())
                        }
                        Err(e) => (
                            axum::http::StatusCode::BAD_REQUEST,
                            e.to_string().into_bytes(),
                        ),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            endpoint,
            spans,
            task,
        })
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.spans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits (up to a minute) until `done` holds for the spans received.
    pub async fn until(&self, done: impl Fn(&[SpanRecord]) -> bool) -> Result<Vec<SpanRecord>> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let spans = self.spans();
            if done(&spans) {
                return Ok(spans);
            }
            if std::time::Instant::now() > deadline {
                bail!("the spans never got there; received: {spans:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes every sandbox and broker this harness starts from now on, from this test's
    /// thread, export to this receiver, in small, quick batches (the other tests of a binary
    /// run on threads of their own, under `cargo test` as under nextest).
    pub fn export_everything(&self) {
        EXPORT_TO.with(|to| *to.borrow_mut() = Some(self.endpoint.clone()));
    }
}

thread_local! {
    static EXPORT_TO: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The variables that make a process export to the receiver of
/// [`OtlpReceiver::export_everything`]; none unless this thread's test called it.
pub fn otel_env() -> Vec<(&'static str, String)> {
    EXPORT_TO.with(|to| match to.borrow().as_ref() {
        Some(endpoint) => vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50".into()),
        ],
        None => Vec::new(),
    })
}
