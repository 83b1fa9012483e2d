//! Helpers for the servers' own tests: a connection that never leaves the process (for
//! building a server to inspect its tools), one pinned to a shop's integration account as a
//! lease would pin it, an in-process MCP client that calls every tool, and the golden
//! `tools/list` check every server keeps.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::UpstreamConfig;
use crate::credentials::{TokenProvider, TokenSource};
use crate::handler::ToolServer;
use crate::upstream::{HttpClient, Upstream};

/// A connection with a fixed dummy token; nothing is sent unless a tool is called.
pub fn offline_connection() -> crate::Connection {
    let config = UpstreamConfig {
        api_base: None,
        request_timeout: Duration::from_secs(5),
        max_retries: 0,
        quota_reserve: 20,
    };
    let http = HttpClient::new(&config, "test");
    let tokens = Arc::new(TokenProvider::new(
        TokenSource::Fixed(secrecy::SecretString::from("unused".to_owned())),
        http.clone(),
    ));
    let upstream = Upstream::new(http, tokens.clone(), &config);
    crate::Connection {
        upstream,
        tokens,
        tenant: "test".into(),
    }
}

/// A connection pinned to shop `shop-c` whose integration account is `account`, as a broker
/// lease pins it; upstream requests go to a closed local port, so a tool that reached the
/// network would fail with a connection error, not a refusal.
pub fn pinned_connection(account: broker_proto::Account) -> crate::Connection {
    let config = UpstreamConfig {
        api_base: url::Url::parse("http://127.0.0.1:9").ok(),
        request_timeout: Duration::from_secs(5),
        max_retries: 0,
        quota_reserve: 20,
    };
    let http = HttpClient::new(&config, "test");
    let tokens = Arc::new(TokenProvider::new(
        TokenSource::Pinned {
            token: secrecy::SecretString::from("pinned-test-token".to_owned()),
            shop_id: "shop-c".into(),
            account,
        },
        http.clone(),
    ));
    let upstream = Upstream::new(http, tokens.clone(), &config);
    crate::Connection {
        upstream,
        tokens,
        tenant: "shop-c".into(),
    }
}

/// Serves `server` in-process to an MCP client and calls every tool once with `arguments`;
/// returns each tool's name and result (a protocol error becomes an `Err` text).
pub async fn call_every_tool<S: ToolServer>(
    server: S,
    arguments: serde_json::Map<String, serde_json::Value>,
) -> Vec<(String, Result<rmcp::model::CallToolResult, String>)> {
    use rmcp::ServiceExt;
    let names: Vec<String> = server
        .router()
        .list_all()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let served = tokio::spawn(async move {
        if let Ok(running) = crate::Served(server).serve(ours).await {
            let _ = running.waiting().await;
        }
    });
    let mut results = Vec::new();
    match ().serve(theirs).await {
        Ok(client) => {
            for name in names {
                let params = rmcp::model::CallToolRequestParams::new(name.clone())
                    .with_arguments(arguments.clone());
                let result = client.call_tool(params).await.map_err(|e| e.to_string());
                results.push((name, result));
            }
            let _ = client.cancel().await;
        }
        Err(e) => results.push(("initialize".into(), Err(e.to_string()))),
    }
    served.abort();
    results
}

/// Calls every tool of `server` (pinned to shop `shop-c` by [`pinned_connection`]) with
/// `arguments` and checks each is refused before it runs, naming the shop and the missing
/// `noun`. Returns a failure message, if any.
pub async fn every_tool_refused<S: ToolServer>(
    server: S,
    arguments: serde_json::Value,
    noun: &str,
) -> Result<(), String> {
    let serde_json::Value::Object(arguments) = arguments else {
        return Err("arguments must be an object".into());
    };
    let results = call_every_tool(server, arguments).await;
    if results.len() < 2 {
        return Err(format!("too few tools called: {results:?}"));
    }
    for (tool, result) in results {
        let result = result.map_err(|e| format!("{tool}: protocol error {e}"))?;
        let text = format!("{:?}", result.content);
        if result.is_error != Some(true)
            || !text.contains(&format!("names no {noun}"))
            || !text.contains("shop-c")
        {
            return Err(format!("{tool} was not refused: {text}"));
        }
    }
    Ok(())
}

/// Every check on what `server` publishes, in the order a reviewer reads their failures: its
/// `tools/list` against the golden file at `golden` ([`check_golden`]), schemas every framework
/// converts ([`check_portable`]), no programmer's note in a description
/// ([`check_descriptions`]), and at most `budget` bytes ([`check_budget`]).
pub fn check_published<S: ToolServer>(
    server: &S,
    golden: &str,
    budget: usize,
) -> Result<(), String> {
    check_golden(server, golden)?;
    check_portable(server)?;
    check_descriptions(server)?;
    check_budget(server, budget).map(|_| ())
}

/// Checks that `server`'s `tools/list` answer, as compact JSON (what a host sends its model,
/// every chat turn), takes at most `budget` bytes: growing it is a reviewed decision (issue 15).
pub fn check_budget<S: ToolServer>(server: &S, budget: usize) -> Result<usize, String> {
    let mut list = rmcp::model::ListToolsResult::with_all_items(server.router().list_all());
    // Measured as `bench --only context` measures it, and as a host on a protocol before
    // 2026-07-28 receives it: without the `"resultType":"complete",` rmcp adds for newer peers.
    list.result_type = None;
    let size = serde_json::to_vec(&list).map_err(|e| e.to_string())?.len();
    if size <= budget {
        Ok(size)
    } else {
        Err(format!(
            "tools/list is {size} bytes, over its budget of {budget}: make it smaller, or raise the budget in this test as a reviewed decision"
        ))
    }
}

/// Checks that every tool's input schema is in the subset every agent framework converts
/// ([`crate::schema`]): no `$ref` (a recursive type), no array without an item type, no type
/// list, no `additionalProperties`, and an object that declares at least one property (strict
/// modes refuse an open empty object, google-genai's MCP adapter refuses
/// `additionalProperties: false`). tests/python/frameworks.py runs the converters themselves.
pub fn check_portable<S: ToolServer>(server: &S) -> Result<(), String> {
    let mut problems = Vec::new();
    for tool in server.router().list_all() {
        let schema = serde_json::Value::Object((*tool.input_schema).clone());
        let text = schema.to_string();
        if crate::schema::has_ref(&schema) {
            problems.push(format!("{}: a $ref (a recursive type)", tool.name));
        }
        for path in crate::schema::untyped_arrays(&schema) {
            problems.push(format!("{}: untyped array at {path}", tool.name));
        }
        if text.contains("\"type\":[") {
            problems.push(format!("{}: a type list", tool.name));
        }
        if text.contains("\"additionalProperties\"") {
            problems.push(format!("{}: additionalProperties", tool.name));
        }
        if schema["properties"]
            .as_object()
            .is_none_or(|p| p.is_empty())
        {
            problems.push(format!("{}: declares no property", tool.name));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "tool schemas agent frameworks cannot convert:\n{}",
            problems.join("\n")
        ))
    }
}

/// Phrases that mark a note for this code's readers, not for a model: a type's `///` doc that
/// schemars published where a field of that type has no doc of its own. Narrow on purpose, so
/// model-facing words (GA4's `itemVariant`, "invariant") do not trip it.
const PROGRAMMER_NOTES: [&str; 8] = [
    "said once",
    "said in `",
    "variant's doc",
    "serde",
    "schemars",
    "rustdoc",
    "doc comment",
    "`///`",
];

/// The descriptions in `tool` (a tool as JSON: its own and every one in its schemas) that read
/// as a programmer's note ([`PROGRAMMER_NOTES`]), each with the phrase that marks it.
pub fn programmer_notes(tool: &serde_json::Value) -> Vec<(String, &'static str)> {
    fn walk(v: &serde_json::Value, found: &mut Vec<(String, &'static str)>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(d)) = map.get("description") {
                    let lower = d.to_lowercase();
                    if let Some(note) = PROGRAMMER_NOTES.iter().find(|n| lower.contains(*n)) {
                        found.push((d.clone(), note));
                    }
                }
                map.values().for_each(|child| walk(child, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|child| walk(child, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(tool, &mut found);
    found
}

/// Checks that no description in `server`'s `tools/list`, and nothing in its instructions, is a
/// note for programmers ([`programmer_notes`]): such notes are `//` comments in the servers.
pub fn check_descriptions<S: ToolServer>(server: &S) -> Result<(), String> {
    let mut problems = Vec::new();
    for tool in server.router().list_all() {
        let json = serde_json::to_value(&tool).map_err(|e| e.to_string())?;
        for (description, note) in programmer_notes(&json) {
            problems.push(format!(
                "{}: \"{description}\" reads as a programmer's note ({note})",
                tool.name
            ));
        }
    }
    let instructions = serde_json::json!({"description": server.instructions()});
    for (text, note) in programmer_notes(&instructions) {
        problems.push(format!(
            "instructions: \"{text}\" read as a programmer's note ({note})"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Compares `server`'s `tools/list` with the JSON file at `path`; with `UPDATE_GOLDEN=1` it
/// rewrites the file instead. Returns the mismatch as an error message.
pub fn check_golden<S: ToolServer>(server: &S, path: &str) -> Result<(), String> {
    let mut tools = server.router().list_all();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let actual = serde_json::to_string_pretty(&tools).map_err(|e| e.to_string())? + "\n";
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        return std::fs::write(path, &actual).map_err(|e| e.to_string());
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "tools/list changed; review it and regenerate {path} with UPDATE_GOLDEN=1.\nNew output:\n{actual}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::programmer_notes;

    #[test]
    fn a_type_doc_published_as_a_description_is_found_at_any_depth() {
        let tool = json!({
            "description": "Rows by clicks.",
            "inputSchema": {"properties": {"filters": {"items": {"properties": {"dimension": {
                "description": "Dimensions to group by. The formats are said once, in `dimensions`.",
                "enum": ["query"]
            }}}}}}
        });
        let found = programmer_notes(&tool);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, "said once");
    }

    #[test]
    fn model_facing_words_that_contain_a_marker_pass() {
        let tool = json!({
            "description": "Item variants by itemVariant; an invariant holds; the values are said in the result.",
            "inputSchema": {"properties": {}}
        });
        assert_eq!(programmer_notes(&tool), Vec::<(String, &str)>::new());
    }
}
