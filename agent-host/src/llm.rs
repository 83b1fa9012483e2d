//! The model side of a chat: any OpenAI-compatible chat-completions endpoint with tool calls
//! (OpenAI, Ollama, vLLM, llama.cpp server) through `async-openai`. The shop's tools are
//! offered as functions; tool calls run through the shop's server set; the answer streams back.
//! Tool rounds per question and tool-result size sent to the model are bounded.

use std::io::Write;

use anyhow::{Context, Result};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestToolMessageArgs,
    ChatCompletionRequestUserMessageArgs, ChatCompletionTool, ChatCompletionTools,
    CreateChatCompletionRequestArgs, FunctionCall, FunctionObject,
};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::children::result_text;
use crate::server_set::ServerSet;

/// Tool rounds per question before the model must answer.
pub const MAX_TOOL_ROUNDS: usize = 8;
/// Characters of one tool result sent to the model; longer results are cut with a note.
pub const MAX_TOOL_RESULT_CHARS: usize = 24_000;

/// Where the model is.
#[derive(Clone)]
pub struct LlmConfig {
    /// Base URL of the OpenAI-compatible API, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key, when the endpoint needs one.
    pub api_key: Option<SecretString>,
}

impl LlmConfig {
    /// From `BERRYBOO_LLM_BASE_URL`, `BERRYBOO_LLM_MODEL`, `BERRYBOO_LLM_API_KEY` (each
    /// overriding the config file's `[llm]` values); `None` without a base URL and model.
    pub fn resolve(file: Option<&crate::config::LlmFile>) -> Option<Self> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let base_url =
            env("BERRYBOO_LLM_BASE_URL").or_else(|| file.and_then(|f| f.base_url.clone()))?;
        let model = env("BERRYBOO_LLM_MODEL").or_else(|| file.and_then(|f| f.model.clone()))?;
        let api_key = env("BERRYBOO_LLM_API_KEY")
            .or_else(|| file.and_then(|f| f.api_key.clone()))
            .inspect(|k| redaction::learn_lasting(k))
            .map(SecretString::from);
        Some(Self {
            base_url,
            model,
            api_key,
        })
    }
}

/// A conversation with the model about one shop.
pub struct Conversation {
    client: Client<OpenAIConfig>,
    base_url: String,
    model: String,
    messages: Vec<ChatCompletionRequestMessage>,
    tools: Vec<ChatCompletionTools>,
}

fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_TOOL_RESULT_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_TOOL_RESULT_CHARS).collect();
    format!(
        "{cut}\n[… cut at {MAX_TOOL_RESULT_CHARS} characters; ask for fewer rows or page with the tool's paging arguments]"
    )
}

fn compact(args: &str) -> String {
    let one_line: String = args.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        format!("{}…", one_line.chars().take(119).collect::<String>())
    } else {
        one_line
    }
}

impl Conversation {
    /// A conversation offering `set`'s tools, starting with `system`.
    pub fn new(config: &LlmConfig, set: &ServerSet, system: &str) -> Result<Self> {
        let mut c = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        if let Some(k) = &config.api_key {
            c = c.with_api_key(k.expose_secret());
        }
        let tools = set
            .tools()
            .into_iter()
            .map(|(_, t)| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.name.to_string(),
                        description: t.description.as_ref().map(|d| d.to_string()),
                        parameters: Some(Value::Object((*t.input_schema).clone())),
                        strict: None,
                    },
                })
            })
            .collect();
        let system = ChatCompletionRequestSystemMessageArgs::default()
            .content(system)
            .build()?
            .into();
        Ok(Self {
            client: Client::with_config(c),
            base_url: config.base_url.clone(),
            model: config.model.clone(),
            messages: vec![system],
            tools,
        })
    }

    /// Answers `question`, streaming the answer to `out` and tool calls (compact) to `out`.
    pub async fn ask(
        &mut self,
        set: &ServerSet,
        question: &str,
        out: &mut impl Write,
    ) -> Result<String> {
        self.messages.push(
            ChatCompletionRequestUserMessageArgs::default()
                .content(question)
                .build()?
                .into(),
        );
        for _ in 0..MAX_TOOL_ROUNDS {
            let request = CreateChatCompletionRequestArgs::default()
                .model(self.model.clone())
                .messages(self.messages.clone())
                .tools(self.tools.clone())
                .build()?;
            let mut stream = self
                .client
                .chat()
                .create_stream(request)
                .await
                .map_err(|e| failed(e, &self.base_url, "the model endpoint refused the request"))?;
            let mut text = String::new();
            // index → (id, name, arguments), assembled from streamed fragments.
            let mut calls: Vec<(String, String, String)> = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk =
                    chunk.map_err(|e| failed(e, &self.base_url, "the model's stream broke off"))?;
                for choice in chunk.choices {
                    if let Some(content) = choice.delta.content {
                        write!(out, "{content}")?;
                        out.flush()?;
                        text.push_str(&content);
                    }
                    for call in choice.delta.tool_calls.unwrap_or_default() {
                        let i = call.index as usize;
                        if calls.len() <= i {
                            calls.resize(i + 1, Default::default());
                        }
                        if let Some(id) = call.id {
                            calls[i].0 = id;
                        }
                        if let Some(f) = call.function {
                            if let Some(name) = f.name {
                                calls[i].1.push_str(&name);
                            }
                            if let Some(args) = f.arguments {
                                calls[i].2.push_str(&args);
                            }
                        }
                    }
                }
            }
            if calls.is_empty() {
                writeln!(out)?;
                self.messages.push(assistant(Some(text.clone()), None));
                return Ok(text);
            }
            let tool_calls = calls
                .iter()
                .map(|(id, name, args)| {
                    ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                        id: id.clone(),
                        function: FunctionCall {
                            name: name.clone(),
                            arguments: args.clone(),
                        },
                    })
                })
                .collect();
            self.messages.push(assistant(
                (!text.is_empty()).then_some(text),
                Some(tool_calls),
            ));
            for (id, name, args) in calls {
                let arguments: Value =
                    serde_json::from_str(if args.trim().is_empty() { "{}" } else { &args })
                        .unwrap_or(Value::Null);
                let (is_error, result) = match set.call(&name, arguments).await {
                    Ok(r) => result_text(&r),
                    Err(e) => (true, e.to_string()),
                };
                writeln!(
                    out,
                    "  ⚙ {name}({}) → {}",
                    compact(&args),
                    if is_error { "error" } else { "ok" }
                )?;
                let content = if is_error {
                    format!("Tool error: {result}")
                } else {
                    clip(&result)
                };
                self.messages.push(
                    ChatCompletionRequestToolMessageArgs::default()
                        .content(content)
                        .tool_call_id(id)
                        .build()?
                        .into(),
                );
            }
        }
        writeln!(
            out,
            "\n(stopped after {MAX_TOOL_ROUNDS} tool rounds; ask a narrower question)"
        )?;
        Ok(String::new())
    }
}

#[allow(deprecated)]
fn assistant(
    text: Option<String>,
    tool_calls: Option<Vec<ChatCompletionMessageToolCalls>>,
) -> ChatCompletionRequestMessage {
    ChatCompletionRequestAssistantMessage {
        content: text.map(Into::into),
        refusal: None,
        name: None,
        audio: None,
        tool_calls,
        function_call: None,
    }
    .into()
}

/// One answer to `user` under `system`, with no tools (the pipeline's recommendation writer).
pub async fn complete(config: &LlmConfig, system: &str, user: &str) -> Result<String> {
    let mut c = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
    if let Some(k) = &config.api_key {
        c = c.with_api_key(k.expose_secret());
    }
    let request = CreateChatCompletionRequestArgs::default()
        .model(config.model.clone())
        .messages(vec![
            ChatCompletionRequestSystemMessageArgs::default()
                .content(system)
                .build()?
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content(clip(user))
                .build()?
                .into(),
        ])
        .build()?;
    let response = Client::with_config(c)
        .chat()
        .create(request)
        .await
        .map_err(|e| failed(e, &config.base_url, "the model endpoint failed"))?;
    response
        .choices
        .into_iter()
        .find_map(|choice| choice.message.content)
        .filter(|text| !text.trim().is_empty())
        .context("the model returned no text")
}

/// `e` in words: "unreachable" when no connection to `base_url` could be made (nothing
/// listens, DNS, a timeout), else `what` with the endpoint's own error.
fn failed(
    e: async_openai::error::OpenAIError,
    base_url: &str,
    what: &'static str,
) -> anyhow::Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut unreachable = false;
    let mut root = e.to_string();
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<reqwest::Error>()
            && (r.is_connect() || r.is_timeout())
        {
            unreachable = true;
        }
        root = c.to_string();
        cause = c.source();
    }
    if unreachable {
        anyhow::anyhow!(
            "the model at {base_url} is unreachable ({root}); check BERRYBOO_LLM_BASE_URL and that the model server is running"
        )
    } else {
        anyhow::Error::new(e).context(what)
    }
}
