//! The one `ServerHandler` every server uses: [`Served`] wraps a [`ToolServer`] (a struct with a
//! `#[tool_router]` impl) and adds what all four need — server info, a span per tool call with
//! `tenant`/`server`/`tool`/`request_id` that continues the caller's trace (`traceparent` in
//! the request's `_meta`), a timing log line, argument errors returned as
//! tool errors the model can read and correct, every result through the redaction step, and the
//! one-shop gate: under a lease whose
//! integration names no account, every call is refused before a tool runs.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorCode,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tracing::Instrument;

/// A server's tools and identity. Implemented by each server struct.
pub trait ToolServer: Clone + Send + Sync + 'static {
    /// Binary name, e.g. `ga4-mcp`.
    const NAME: &'static str;
    /// Human title, e.g. `Google Analytics 4`.
    const TITLE: &'static str;
    /// Version.
    const VERSION: &'static str;
    /// The router built by `#[tool_router]`, kept in a field (not rebuilt per call).
    fn router(&self) -> &ToolRouter<Self>;
    /// What the model should know before calling tools (the account in scope, conventions).
    fn instructions(&self) -> String;
    /// Who the data belongs to, for log spans (`shop id`, or `static` for a credentials file).
    fn tenant(&self) -> &str;
    /// Where the server's tokens come from and what it calls its account: under a lease, no
    /// tool runs unless the shop's integration names that account ([`crate::scope::gate`]).
    fn scope(
        &self,
    ) -> (
        &crate::credentials::TokenProvider,
        crate::scope::AccountKind,
    );
}

/// A tool router built on first use. Generating the JSON Schemas of a server's tools takes
/// about 2 ms and 1.5 MB (schemars); the MCP handshake needs neither, so spawn→ready does not
/// pay for them. (Building them on a helper thread during the handshake was measured slower on
/// two cores: it competes with the client for CPU.)
pub struct LazyRouter<S: 'static> {
    cell: Arc<OnceLock<ToolRouter<S>>>,
    build: fn() -> ToolRouter<S>,
}

impl<S: Send + Sync + 'static> LazyRouter<S> {
    /// A router that `build` (the `tool_router` function `#[tool_router]` generates) makes
    /// when first needed.
    pub fn new(build: fn() -> ToolRouter<S>) -> Self {
        Self {
            cell: Arc::new(OnceLock::new()),
            build,
        }
    }

    /// The router, every tool in it annotated as what every tool here is: read-only, not
    /// destructive, idempotent, and reaching an open world (the upstream API), its schemas as
    /// published ([`crate::schema::publish`]). A tool's own `#[tool(annotations(...))]` gives
    /// only its title.
    pub fn get(&self) -> &ToolRouter<S> {
        self.cell.get_or_init(|| {
            let mut router = (self.build)();
            for route in router.map.values_mut() {
                let hints = route.attr.annotations.get_or_insert_with(Default::default);
                hints.read_only_hint = Some(true);
                hints.destructive_hint = Some(false);
                hints.idempotent_hint = Some(true);
                hints.open_world_hint = Some(true);
                // Wrapped doc comments arrive with line breaks a model does not need.
                if let Some(description) = &mut route.attr.description
                    && description.contains('\n')
                {
                    *description = description.replace('\n', " ").into();
                }
                // What every framework's converter reads (crate::schema).
                route.attr.input_schema =
                    Arc::new(crate::schema::publish(&route.attr.input_schema));
                if let Some(output) = &route.attr.output_schema {
                    route.attr.output_schema =
                        Some(Arc::new(crate::schema::publish_output(output)));
                }
            }
            router
        })
    }
}

impl<S> Clone for LazyRouter<S> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell.clone(),
            build: self.build,
        }
    }
}

/// Every text of a result passes the redaction step before it leaves the process: an upstream
/// error may quote the bearer token, and the result goes to a model and maybe a log or a store.
fn redact_result(result: &mut CallToolResult) {
    for block in &mut result.content {
        if let ContentBlock::Text(t) = block
            && let std::borrow::Cow::Owned(clean) = redaction::text(&t.text)
        {
            t.text = clean;
        }
    }
    if let Some(v) = &mut result.structured_content {
        redaction::json(v);
    }
}

/// The `ServerHandler` over a [`ToolServer`].
#[derive(Clone)]
pub struct Served<S>(pub S);

impl<S: ToolServer> ServerHandler for Served<S> {
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new(S::NAME, S::VERSION);
        implementation.title = Some(S::TITLE.to_owned());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(implementation)
            .with_instructions(self.0.instructions())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.0.router().list_all()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.0.router().get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = request.name.to_string();
        let known = self.0.router().has_route(&tool);
        // A name no tool has is the caller's text: it goes to no span, only to the refusal.
        let label = telemetry::span_label(&tool, known);
        let span = tracing::info_span!(
            "tool_call",
            otel.kind = "server",
            otel.name = %format_args!("tools/call {label}"),
            tenant = self.0.tenant(),
            server = S::NAME,
            tool = label,
            request_id = %context.id,
        );
        // rmcp moves a request's `_meta` into the context; a caller may have put it in either.
        if !telemetry::propagate::follow_meta(&span, &context.meta)
            && let Some(meta) = &request.meta
        {
            telemetry::propagate::follow_meta(&span, meta);
        }
        async move {
            let started = Instant::now();
            let (tokens, kind) = self.0.scope();
            if known && let Err(refusal) = crate::scope::gate(tokens, kind).await {
                tracing::info!("tool call refused: {refusal}");
                return Ok(CallToolResult::error(vec![ContentBlock::text(refusal)]).into());
            }
            // However many upstream requests a tool makes, a hanging upstream costs the call at
            // most this much.
            let budget = tokens.call_budget();
            let call = self.0.router().call(ToolCallContext::new(&self.0, request, context));
            let Ok(outcome) = tokio::time::timeout(budget, call).await else {
                tracing::warn!(budget_s = budget.as_secs(), "tool call exceeded its time budget");
                return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                    "{} did not finish {tool} within {} s (--request-timeout). Retry, or ask for less data (a shorter date range, fewer rows or URLs).",
                    S::TITLE,
                    budget.as_secs()
                ))])
                .into());
            };
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            match outcome {
                Ok(mut response) => {
                    if let CallToolResponse::Complete(r) = &mut response {
                        redact_result(r);
                        // Under the reserve, the reader learns how much is left and until when.
                        if r.is_error != Some(true)
                            && let Some(note) =
                                tokens.quota_note(S::TITLE.trim_end_matches(" (read-only)"))
                        {
                            r.content.push(ContentBlock::text(note));
                        }
                    }
                    let failure = match &response {
                        CallToolResponse::Complete(r) if r.is_error == Some(true) => r
                            .content
                            .iter()
                            .find_map(|c| c.as_text())
                            .map(|t| t.text.lines().next().unwrap_or("").to_owned()),
                        _ => None,
                    };
                    match failure {
                        // What the model was told, for the operator too (already redacted).
                        Some(why) => tracing::info!(elapsed_ms, is_error = true, "tool call finished: {why}"),
                        None => tracing::info!(elapsed_ms, is_error = false, "tool call finished"),
                    }
                    Ok(response)
                }
                // Bad arguments are the model's to fix: say so in a tool result it can read,
                // as the 2025-11-25 spec recommends, instead of an opaque protocol error.
                Err(e) if known && e.code == ErrorCode::INVALID_PARAMS => {
                    tracing::info!(elapsed_ms, "tool call refused: invalid arguments");
                    Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                        "Invalid arguments for {tool}: {}. Check the tool's input schema and call again.",
                        redaction::text(&e.message)
                    ))])
                    .into())
                }
                Err(mut e) => {
                    e.message = redaction::text(&e.message).into_owned().into();
                    if let Some(data) = &mut e.data {
                        redaction::json(data);
                    }
                    tracing::warn!(elapsed_ms, code = e.code.0, "tool call failed: {}", e.message);
                    Err(e)
                }
            }
        }
        .instrument(span)
        .await
    }
}
