//! Pins the `tools/list` output (names, descriptions, input and output schemas, annotations)
//! to `tests/tools.golden.json`, so any change to what models see is a reviewed diff.
//! Regenerate with `UPDATE_GOLDEN=1 cargo nextest run -p mcp-ga4 --test golden`.

use std::sync::Arc;
use std::time::Duration;

use mcp_common::ToolServer;
use mcp_common::cli::UpstreamConfig;
use mcp_common::credentials::{TokenProvider, TokenSource};
use mcp_common::upstream::{HttpClient, Upstream};
use mcp_ga4::Ga4Server;
use mcp_ga4::api::Ga4Api;

#[test]
fn tools_list_matches_the_golden_file() {
    let config = UpstreamConfig {
        api_base: None,
        request_timeout: Duration::from_secs(5),
        max_retries: 0,
    };
    let http = HttpClient::new(&config, "golden");
    let tokens = Arc::new(TokenProvider::new(
        TokenSource::Fixed(secrecy::SecretString::from("unused".to_owned())),
        http.clone(),
    ));
    let server = Ga4Server::new(
        Ga4Api::new(Upstream::new(http, tokens.clone(), &config)),
        None,
        tokens,
        "golden".into(),
    );
    let mut tools = server.router().list_all();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let actual = serde_json::to_string_pretty(&tools).expect("json") + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools.golden.json");
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(path, &actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        expected == actual,
        "tools/list changed; review and regenerate with UPDATE_GOLDEN=1 (diff {path} against the new output)\n{actual}"
    );
}
