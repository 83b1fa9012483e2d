//! Helpers for the servers' own tests: a connection that never leaves the process (for
//! building a server to inspect its tools), and the golden `tools/list` check every server
//! keeps.

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
