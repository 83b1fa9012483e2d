//! The agent frameworks that reuse MCP servers accept every tool as the four servers serve it
//! (issue 17): tests/python/frameworks.py runs the OpenAI Agents SDK, google-genai, pydantic-ai
//! and LangChain converters over each server's live `tools/list` over stdio, then calls tools
//! through two frameworks with strict-mode arguments. `.ci/run` installs the
//! pinned frameworks into tests/python/.venv; without them this test reports itself skipped,
//! and fails under `BERRYBOO_REQUIRE_ALL_TESTS=1` (CI).

use std::path::PathBuf;
use std::time::Duration;

use berryboo_e2e::{Credentials, Sandbox, TODAY, bin, python_imports};
use serde_json::{Value, json};

fn frameworks_python() -> Option<PathBuf> {
    let python = std::env::var_os("BERRYBOO_FRAMEWORKS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/python/.venv/bin/python"
            ))
        });
    let ready = python_imports(
        &python,
        "agents, google.genai, pydantic_ai, langchain_mcp_adapters",
    );
    ready.then_some(python)
}

fn server(
    name: &str,
    creds: &Credentials,
    sandbox: &Sandbox,
    flags: &[&str],
    tools: &[&str],
    calls: Value,
) -> Value {
    let mut args = vec![
        "--credentials-path".to_owned(),
        creds.path().display().to_string(),
        "--api-base".to_owned(),
        sandbox.base.clone(),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    json!({"name": name, "command": bin(name), "args": args, "tools": tools, "calls": calls})
}

#[tokio::test]
async fn agent_frameworks_accept_every_tool_schema() {
    let Some(python) = frameworks_python() else {
        berryboo_e2e::skip(
            "SKIPPED agent_frameworks_accept_every_tool_schema: the frameworks are not installed \
             (python3 -m venv tests/python/.venv && tests/python/.venv/bin/pip install -r tests/python/frameworks-requirements.txt)",
        );
        return;
    };
    let sandbox = Sandbox::start().await.unwrap();
    let google = Credentials::google("sandbox-refresh-all-e2e").unwrap();
    let meta = Credentials::meta("sandbox-meta-acme-e2e").unwrap();
    let servers = json!([
        server(
            "ga4-mcp",
            &google,
            &sandbox,
            &["--property-id", "326784853"],
            &[
                "get_account_summaries",
                "get_custom_dimensions_and_metrics",
                "get_property_details",
                "list_google_ads_links",
                "list_property_annotations",
                "run_conversions_report",
                "run_funnel_report",
                "run_realtime_report",
                "run_report"
            ],
            // The filters are text: what a model writes for Google's recursive FilterExpression.
            json!([
                {"tool": "run_report", "arguments": {
                    "date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}],
                    "dimensions": ["sessionDefaultChannelGroup"], "metrics": ["sessions"],
                    "dimension_filter": "sessionDefaultChannelGroup IN ('Organic Search', 'Direct') OR sessionDefaultChannelGroup NOT CONTAINS 'paid'"}},
                {"tool": "run_funnel_report", "arguments": {"funnel_steps": [
                    {"name": "Product page", "filter": "eventName = 'page_view' AND pagePath BEGINS_WITH '/products/'"},
                    {"name": "Purchase", "event": "purchase"}]}},
                {"tool": "get_account_summaries", "arguments": {}}
            ])
        ),
        server(
            "gsc-mcp",
            &google,
            &sandbox,
            &["--site-url", "sc-domain:acme-shop.example"],
            &[
                "batch_url_inspection",
                "check_indexing_issues",
                "compare_search_periods",
                "get_performance_overview",
                "get_search_analytics",
                "get_search_by_page_query",
                "get_site_details",
                "get_sitemap_details",
                "get_sitemaps",
                "inspect_url",
                "list_properties"
            ],
            json!([
                {"tool": "get_search_analytics", "arguments": {
                    "start_date": "2026-09-21", "end_date": "2026-10-20", "dimensions": ["query"]}},
                {"tool": "list_properties", "arguments": {"contains": "acme"}},
                {"tool": "compare_search_periods", "arguments": {
                    "period_a": {"start_date": "2026-09-01", "end_date": "2026-09-30"},
                    "period_b": {"start_date": "2026-10-01", "end_date": "2026-10-20"}}}
            ])
        ),
        server(
            "google-ads-mcp",
            &google,
            &sandbox,
            &["--customer-id", "1234567890"],
            &[
                "get_resource_metadata",
                "list_accessible_customers",
                "search"
            ],
            json!([
                {"tool": "search", "arguments": {
                    "query": "SELECT campaign.name, metrics.clicks FROM campaign WHERE segments.date DURING LAST_7_DAYS"}},
                {"tool": "search", "arguments": {
                    "resource": "campaign", "fields": ["campaign.name", "metrics.cost_micros"],
                    "conditions": ["segments.date DURING LAST_30_DAYS"]}},
                {"tool": "list_accessible_customers", "arguments": {}}
            ])
        ),
        server(
            "meta-ads-mcp",
            &meta,
            &sandbox,
            &["--ad-account-id", "act_111"],
            &[
                "get_account_info",
                "get_ad_accounts",
                "get_ad_creatives",
                "get_ad_details",
                "get_ads",
                "get_adset_details",
                "get_adsets",
                "get_campaign_details",
                "get_campaigns",
                "get_creative_details",
                "get_insights"
            ],
            json!([
                {"tool": "get_insights", "arguments": {"level": "campaign", "date_preset": "last_7d"}},
                {"tool": "get_campaigns", "arguments": {}},
                {"tool": "get_account_info", "arguments": {}}
            ])
        ),
    ]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/frameworks.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .env("SERVERS", servers.to_string())
        .env("BERRYBOO_TODAY", TODAY)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), out)
        .await
        .expect("the framework checks finish")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "framework checks failed:\n{stdout}\n{stderr}"
    );
    for name in ["ga4-mcp", "gsc-mcp", "google-ads-mcp", "meta-ads-mcp"] {
        assert!(
            stdout.contains(&format!("{name}: ")),
            "{name} was not checked:\n{stdout}"
        );
    }
    assert!(stdout.contains("frameworks: ok"), "{stdout}");
}
