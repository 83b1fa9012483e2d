//! Stdio with limits that answer: a message over [`MAX_MESSAGE`] bytes or nested deeper than
//! [`MAX_DEPTH`] gets a JSON-RPC error carrying its id (when one can be read from it) instead
//! of the silence a parser that gives up would leave the client waiting in.
//!
//! The server speaks to one end of an in-process pipe; a pump moves lines between it and the
//! real stdin/stdout, checking each incoming line first. Lines are whole JSON-RPC messages, so
//! the pump writes the server's lines and its own answers whole, never interleaved.

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Largest message read from stdin (tool arguments are a few KB).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// Deepest nesting of arrays and objects accepted (GA4 filters nest a handful of levels).
pub const MAX_DEPTH: usize = 64;
/// How much of an oversized message is kept to find its id.
const KEEP_FOR_ID: usize = 64 * 1024;

/// One line read from the client.
enum Line {
    /// A complete line within the limit.
    Whole(Vec<u8>),
    /// A line over the limit: its first bytes, and its full length.
    TooLong { head: Vec<u8>, len: usize },
}

/// Reads the next line (without its newline) of at most `max` bytes; a longer one is consumed
/// to its end and reported with its head. `None` at end of input.
async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut len = 0usize;
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(match (len, too_long) {
                (0, _) => None,
                (_, false) => Some(Line::Whole(line)),
                (_, true) => Some(Line::TooLong { head: line, len }),
            });
        }
        let (chunk, found) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        len += chunk.len();
        if len > max {
            too_long = true;
        }
        let room = if too_long { KEEP_FOR_ID } else { max };
        let take = chunk.len().min(room.saturating_sub(line.len()));
        line.extend_from_slice(&chunk[..take]);
        if too_long {
            line.truncate(KEEP_FOR_ID);
        }
        let consumed = found.unwrap_or(buf.len());
        reader.consume(consumed);
        if found.is_some() {
            return Ok(Some(if too_long {
                Line::TooLong { head: line, len }
            } else {
                Line::Whole(line)
            }));
        }
    }
}

/// The deepest nesting of arrays and objects in `json` (strings skipped).
fn depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The top-level `"id"` of a (possibly cut-off or too deep) JSON-RPC message: a number or a
/// string, read without parsing the whole message.
fn request_id(json: &[u8]) -> Option<Value> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let end = string_end(json, i)?;
                let is_id_key = depth == 1 && &json[i..=end] == b"\"id\"";
                i = end + 1;
                if is_id_key {
                    while json.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                        i += 1;
                    }
                    if json.get(i) != Some(&b':') {
                        continue;
                    }
                    i += 1;
                    while json.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                        i += 1;
                    }
                    return match json.get(i)? {
                        b'"' => {
                            let end = string_end(json, i)?;
                            serde_json::from_slice(&json[i..=end]).ok()
                        }
                        b'-' | b'0'..=b'9' => {
                            // An integer id only: a client never uses `1.5e3`, and reading
                            // part of one could name another pending request.
                            let end = json[i..]
                                .iter()
                                .position(|b| {
                                    !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                                })
                                .map_or(json.len(), |n| i + n);
                            serde_json::from_slice::<Value>(&json[i..end])
                                .ok()
                                .filter(|v| v.is_i64() || v.is_u64())
                        }
                        _ => None,
                    };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Index of the quote closing the string that starts at `start`.
fn string_end(json: &[u8], start: usize) -> Option<usize> {
    let mut escaped = false;
    for (n, &b) in json.iter().enumerate().skip(start + 1) {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return Some(n),
            _ => {}
        }
    }
    None
}

/// A JSON-RPC "invalid request" error for `id`, as one line.
fn refusal(id: Option<Value>, message: String) -> Vec<u8> {
    let mut line = json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(Value::Null),
        "error": {"code": -32600, "message": message},
    })
    .to_string()
    .into_bytes();
    line.push(b'\n');
    line
}

/// Checks one incoming line: `Ok` to pass it to the server, `Err` with the answer to send.
fn admit(line: Line) -> Result<Vec<u8>, Vec<u8>> {
    match line {
        Line::TooLong { head, len } => Err(refusal(
            request_id(&head),
            format!(
                "message of {len} bytes refused: at most {} MiB per message",
                MAX_MESSAGE >> 20
            ),
        )),
        Line::Whole(line) if depth(&line) > MAX_DEPTH => Err(refusal(
            request_id(&line),
            format!("message refused: nested deeper than {MAX_DEPTH} levels"),
        )),
        Line::Whole(line) => match super::jsonrpc::invalid_call(&line) {
            Some(answer) => {
                let mut answer = answer.to_string().into_bytes();
                answer.push(b'\n');
                Err(answer)
            }
            None => Ok(line),
        },
    }
}

/// Moves messages between `input`/`output` (the process's stdin/stdout) and `server` (one end
/// of an in-process pipe the MCP service speaks on) until either side ends.
pub async fn pump<I, O, S>(input: I, output: O, server: S)
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (from_server, mut to_server) = tokio::io::split(server);
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = out_rx.recv().await {
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let answers = out_tx.clone();
    let reader = tokio::spawn(async move {
        let mut input = BufReader::new(input);
        loop {
            let line = match next_line(&mut input, MAX_MESSAGE).await {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => break,
            };
            match admit(line) {
                Ok(mut line) => {
                    line.push(b'\n');
                    if to_server.write_all(&line).await.is_err() {
                        break;
                    }
                }
                Err(answer) => {
                    tracing::info!("refused a stdio message (over a limit, or malformed params)");
                    if answers.send(answer).await.is_err() {
                        break;
                    }
                }
            }
        }
        // End of input ends the session, as it would without the pump.
        let _ = to_server.shutdown().await;
    });
    let mut lines = BufReader::new(from_server);
    loop {
        let mut line = Vec::new();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if out_tx.send(line).await.is_err() {
                    break;
                }
            }
        }
    }
    reader.abort();
    drop(out_tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_from_the_top_level_only() {
        assert_eq!(
            request_id(br#"{"jsonrpc":"2.0","params":{"id":9},"id":7,"method":"x"}"#),
            Some(json!(7))
        );
        assert_eq!(
            request_id(br#"{"id" : "req-\"1\"", "method": "tools/call", "params": {"arguments": {"a": [[[["#),
            Some(json!("req-\"1\""))
        );
        assert_eq!(request_id(br#"{"method":"x","params":{"x":"#), None);
        assert_eq!(request_id(br#"{"params":{"id":3}}"#), None);
        assert_eq!(request_id(br#"{"id":1.5e3,"method":"x"}"#), None);
        assert_eq!(request_id(br#"{"id":-4,"method":"x"}"#), Some(json!(-4)));
    }

    #[test]
    fn depth_skips_strings() {
        assert_eq!(depth(br#"{"a":[1,{"b":"[[[[{{{"}]}"#), 3);
        assert_eq!(depth(b"[[[]]]"), 3);
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_measured() {
        let mut input = format!("{}\n{{\"ok\":1}}\n", "x".repeat(100)).into_bytes();
        input.extend_from_slice(b"tail-without-newline");
        let mut reader = BufReader::with_capacity(16, &input[..]);
        match next_line(&mut reader, 50).await.ok().flatten() {
            Some(Line::TooLong { head, len }) => {
                assert_eq!(len, 100);
                assert_eq!(head.len(), 100.min(KEEP_FOR_ID));
            }
            _ => panic!("too long"),
        }
        assert!(
            matches!(next_line(&mut reader, 50).await.ok().flatten(), Some(Line::Whole(l)) if l == b"{\"ok\":1}")
        );
        assert!(
            matches!(next_line(&mut reader, 50).await.ok().flatten(), Some(Line::Whole(l)) if l == b"tail-without-newline")
        );
        assert!(next_line(&mut reader, 50).await.ok().flatten().is_none());
    }

    #[test]
    fn deep_and_large_messages_get_an_answer_with_their_id() {
        let deep = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{{\"arguments\":{}1{}}}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let answer = admit(Line::Whole(deep.into_bytes())).expect_err("refused");
        let answer: Value = serde_json::from_slice(&answer).expect("json");
        assert_eq!(answer["id"], 42);
        assert_eq!(answer["error"]["code"], -32600);
        let answer = admit(Line::TooLong {
            head: br#"{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"arguments":{"x":"aaaa"#.to_vec(),
            len: 9_000_000,
        })
        .expect_err("refused");
        let answer: Value = serde_json::from_slice(&answer).expect("json");
        assert_eq!(answer["id"], "big");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("9000000 bytes")
        );
        assert!(admit(Line::Whole(b"{\"id\":1}".to_vec())).is_ok());
    }
}
