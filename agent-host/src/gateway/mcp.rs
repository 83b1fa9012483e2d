//! The MCP side: each request's tools are its caller's shop's, from the pool.

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tracing::Instrument as _;

use super::Caller;
use crate::pool::ShopPool;
use crate::server_set::SetError;

/// The MCP side: each request's tools are its caller's shop's, from the pool.
#[derive(Clone)]
pub(super) struct Gateway {
    pub(super) pool: Arc<ShopPool>,
}

pub(super) fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        // Admission runs before every MCP request; without its verdict nothing is served.
        .ok_or_else(|| ErrorData::internal_error("request not admitted", None))
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new("berryboo-gateway", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("berryboo shop gateway (read-only marketing data)".into());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(implementation)
            .with_instructions(
                "Read-only marketing data of one shop: its Google Analytics 4, Search Console, \
                 Google Ads and Meta Ads accounts, as its credential allows. Tools default to \
                 the shop's own accounts.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller(&context)?;
        let set = self.pool.get(&caller.shop_id).await.map_err(|e| {
            ErrorData::internal_error(
                redaction::text(&format!("the shop's tools are not available: {e}")).into_owned(),
                None,
            )
        })?;
        let tools = set
            .tools()
            .into_iter()
            .filter(|(p, _)| caller.providers.contains(p))
            .map(|(_, t)| t.clone())
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(&context)?;
        let started = Instant::now();
        let tool = request.name.to_string();
        // Each call is a trace of its own, or the caller's: `traceparent` in its `_meta`
        // (SEP-414), else in the HTTP request's headers.
        // Before the shop's tools are known: any plain name, a caller's odd one as `unknown`.
        let label = telemetry::span_label(&tool, true);
        let span = tracing::info_span!(
            "gateway_call",
            otel.kind = "server",
            otel.name = %format_args!("tools/call {label}"),
            shop = %caller.shop_id,
            tool = label,
        );
        let followed = telemetry::propagate::follow_meta(&span, &context.meta)
            || request
                .meta
                .as_ref()
                .is_some_and(|meta| telemetry::propagate::follow_meta(&span, meta));
        if !followed && let Some(parts) = context.extensions.get::<axum::http::request::Parts>() {
            telemetry::propagate::follow_headers(&span, &parts.headers);
        }
        let outcome = async {
            let set = self
                .pool
                .get(&caller.shop_id)
                .await
                .map_err(|e| Failure::Text(format!("the shop's tools are not available: {e}")))?;
            match set.tool(&tool) {
                Some((p, _)) if caller.providers.contains(&p) => {}
                _ => {
                    return Err(Failure::Text(format!(
                        "no tool {tool:?} for this credential (tools/list shows them)"
                    )));
                }
            }
            let arguments =
                serde_json::Value::Object(request.arguments.clone().unwrap_or_default());
            // A caller that hung up (or cancelled) frees its server for the next call.
            tokio::select! {
                result = set.call(&tool, arguments) => result.map_err(|e| match e {
                    // The server's own refusal (bad arguments) goes back as it is.
                    SetError::Rejected { error, .. } => Failure::Rejected(error),
                    e => Failure::Text(e.to_string()),
                }),
                () = context.ct.cancelled() => Err(Failure::Text("the caller went away".to_owned())),
            }
        }
        .instrument(span.clone())
        .await;
        let (result, status) = match outcome {
            Ok(r) => {
                let status = if r.is_error == Some(true) {
                    "tool_error"
                } else {
                    "ok"
                };
                (Ok(r), status)
            }
            Err(Failure::Rejected(mut error)) => {
                error.message = redaction::text(&error.message).into_owned().into();
                (Err(error), "rejected")
            }
            Err(Failure::Text(why)) => (
                Ok(CallToolResult::error(vec![ContentBlock::text(
                    redaction::text(&why).into_owned(),
                )])),
                "failed",
            ),
        };
        let _in_trace = span.enter();
        tracing::info!(
            target: "audit",
            key = ?caller.key_id,
            shop = %caller.shop_id,
            tool = %tool,
            outcome = status,
            duration_ms = started.elapsed().as_millis() as u64,
            "gateway call"
        );
        result.map(Into::into)
    }
}

/// Why a call did not produce the tool's result.
enum Failure {
    /// The server refused the call with a JSON-RPC error, passed back as it is.
    Rejected(ErrorData),
    /// Anything else, as a tool error the model can read.
    Text(String),
}
