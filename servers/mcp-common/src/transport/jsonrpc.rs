//! Requests rmcp would misanswer: `tools/call` whose `params` or `arguments` is not an object
//! fails rmcp's typed parse, which it reports as -32601 (method not found). A client that sent
//! `"arguments": "x"` deserves -32602 (invalid params) saying what to send instead.

use serde_json::{Value, json};

/// The JSON-RPC error answering `message` when it is a `tools/call` with malformed params;
/// `None` for everything else (which goes on to the server).
pub fn invalid_call(message: &[u8]) -> Option<Value> {
    // Most messages are not tool calls: skip the parse for them.
    if !message
        .windows(b"tools/call".len())
        .any(|w| w == b"tools/call")
    {
        return None;
    }
    let request: Value = serde_json::from_slice(message).ok()?;
    if request.get("method")? != "tools/call" {
        return None;
    }
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let problem = match request.get("params") {
        None => Some("params are missing: send {\"name\": …, \"arguments\": {…}}".to_owned()),
        Some(Value::Object(params)) => match params.get("arguments") {
            None | Some(Value::Null) | Some(Value::Object(_)) => None,
            Some(other) => Some(format!(
                "`arguments` must be an object of the tool's parameters, not {}",
                kind(other)
            )),
        },
        Some(other) => Some(format!("params must be an object, not {}", kind(other))),
    }?;
    Some(json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": -32602, "message": format!("Invalid params: {problem}")},
    }))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_malformed_tool_calls_are_answered_here() {
        let call = |params: &str| {
            format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{params}}}"#)
        };
        for bad in [
            r#"{"name":"t","arguments":"x"}"#,
            r#"{"name":"t","arguments":[1]}"#,
            r#"{"name":"t","arguments":3}"#,
            r#""x""#,
        ] {
            let answer = invalid_call(call(bad).as_bytes()).expect(bad);
            assert_eq!(answer["error"]["code"], -32602, "{bad}");
            assert_eq!(answer["id"], 7, "{bad}");
        }
        for fine in [
            r#"{"name":"t","arguments":{}}"#,
            r#"{"name":"t"}"#,
            r#"{"name":"t","arguments":null}"#,
        ] {
            assert!(invalid_call(call(fine).as_bytes()).is_none(), "{fine}");
        }
        assert!(invalid_call(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).is_none());
        assert!(invalid_call(b"not json tools/call").is_none());
    }
}
