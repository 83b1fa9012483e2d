//! What a model reads (issue 15): each server's `tools/list` and the result of a fixed call
//! per server, as compact JSON bytes — the whole `result` of the JSON-RPC answer (content and
//! structured content) — against the sandbox with the examples' fixtures and a fixed today.

use super::*;

/// The examples' OAuth client secret (`examples/sandbox-fixtures.toml`).
const EXAMPLES_SECRET: &str = "sandbox-client-secret";

/// One server and the call issue 15 measures on it.
struct Case {
    server: &'static str,
    flags: Vec<&'static str>,
    credentials: Credentials,
    tool: &'static str,
    arguments: Value,
}

fn cases() -> Result<Vec<Case>> {
    let google = || Credentials::google_of(EXAMPLES_SECRET, "sandbox-refresh-demo-acme");
    Ok(vec![
        Case {
            server: "ga4-mcp",
            flags: vec![],
            credentials: google()?,
            tool: "run_report",
            arguments: json!({"property_id": "326784853",
                   "date_ranges": [{"start_date": "2026-09-01", "end_date": "2026-10-20"}],
                   "dimensions": ["date", "sessionDefaultChannelGroup"],
                   "metrics": ["sessions", "totalRevenue"], "limit": 100}),
        },
        Case {
            server: "gsc-mcp",
            flags: vec![],
            credentials: google()?,
            tool: "get_search_analytics",
            arguments: json!({"site_url": "sc-domain:acme-shop.example", "start_date": "2026-09-21",
                   "end_date": "2026-10-20", "dimensions": ["query"], "row_limit": 100}),
        },
        Case {
            server: "google-ads-mcp",
            flags: vec!["--customer-id", "1234567890"],
            credentials: google()?,
            tool: "search",
            arguments: json!({"query": "SELECT campaign.name, segments.date, metrics.clicks, metrics.cost_micros, metrics.conversions FROM campaign WHERE segments.date DURING LAST_7_DAYS"}),
        },
        Case {
            server: "meta-ads-mcp",
            flags: vec!["--ad-account-id", "act_111"],
            credentials: Credentials::meta("sandbox-meta-acme")?,
            tool: "get_insights",
            arguments: json!({"level": "campaign", "date_preset": "last_7d"}),
        },
    ])
}

/// Prints each server's `tools/list` size and its call's result size.
pub(super) async fn context_bench() -> Result<()> {
    let fixtures = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sandbox-fixtures.toml"),
    )?;
    let sandbox = Sandbox::start_with(&fixtures, &[]).await?;
    for Case {
        server: name,
        flags,
        credentials,
        tool,
        arguments,
    } in cases()?
    {
        let client = ()
            .serve(TokioChildProcess::new(server_command(
                name,
                &sandbox,
                &credentials.path(),
                &flags,
            ))?)
            .await?;
        let tools = client.list_tools(Default::default()).await?;
        let list = serde_json::to_vec(&tools)?.len();
        let result = call(&client, tool, arguments).await?;
        ok(&result);
        let answer = serde_json::to_vec(&result)?.len();
        println!(
            "{name:<14} context  tools/list {list} B ({} tools)  | {tool} result {answer} B",
            tools.tools.len()
        );
        client.cancel().await?;
    }
    Ok(())
}
