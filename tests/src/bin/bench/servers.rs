//! Each MCP server: spawn to ready, idle memory, tool-call round trips.

use super::*;

pub(super) fn server_cases() -> Result<Vec<ServerCase>> {
    Ok(vec![
        ServerCase {
            binary: "ga4-mcp",
            credentials: Credentials::google("sandbox-refresh-acme-e2e")?,
            flags: &["--property-id", "326784853"],
            reset_every: None,
            calls: vec![
                ("get_property_details", json!({})),
                (
                    "run_report",
                    json!({"date_ranges": [{"start_date": "7daysAgo", "end_date": "yesterday"}], "dimensions": ["date"], "metrics": ["sessions"]}),
                ),
            ],
        },
        ServerCase {
            binary: "gsc-mcp",
            credentials: Credentials::google("sandbox-refresh-gsc-only-e2e")?,
            flags: &["--site-url", "sc-domain:acme-shop.example"],
            reset_every: None,
            calls: vec![(
                "get_search_analytics",
                json!({"start_date": "7daysAgo", "end_date": "yesterday", "dimensions": ["query"], "row_limit": 100}),
            )],
        },
        ServerCase {
            binary: "google-ads-mcp",
            credentials: Credentials::google("sandbox-refresh-ads-e2e")?,
            flags: &["--customer-id", "1234567890"],
            reset_every: None,
            calls: vec![(
                "search",
                json!({"query": "SELECT campaign.name, metrics.clicks, metrics.cost_micros FROM campaign WHERE segments.date DURING LAST_7_DAYS"}),
            )],
        },
        ServerCase {
            binary: "meta-ads-mcp",
            credentials: Credentials::meta("sandbox-meta-acme-e2e")?,
            flags: &["--ad-account-id", "act_111"],
            reset_every: Some(200),
            calls: vec![(
                "get_insights",
                json!({"level": "campaign", "date_preset": "last_7d"}),
            )],
        },
    ])
}

/// Spawn → ready, idle RSS and call round trips of one server.
pub(super) async fn server_bench(sandbox: &Sandbox, case: &ServerCase, args: &Args) -> Result<()> {
    let command = || server_command(case.binary, sandbox, &case.credentials.path(), case.flags);
    let name = case.binary;

    // Spawn → ready: process start plus the MCP initialize handshake.
    let mut startups = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let started = Instant::now();
        let client = ().serve(TokioChildProcess::new(command())?).await?;
        startups.push(started.elapsed());
        client.cancel().await?;
    }
    startups.sort();

    // Idle RSS after the handshake, then after the client has listed the tools (which builds
    // their schemas) — what a host that just connected holds.
    let transport = TokioChildProcess::new(command())?;
    let pid = transport.id().context("no child pid")?;
    let client = ().serve(transport).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = rss_kib(pid)?;
    let started = Instant::now();
    let tools = client.list_all_tools().await?;
    let first_list = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed_rss = rss_kib(pid)?;
    println!(
        "{name:<14} spawn→ready     median {}  p90 {}  (n={})",
        fmt(percentile(&startups, 0.5)),
        fmt(percentile(&startups, 0.9)),
        startups.len()
    );
    println!(
        "{name:<14} idle RSS        {:.1} MiB after the handshake, {:.1} MiB after tools/list",
        mib(idle_rss),
        mib(listed_rss)
    );
    println!(
        "{name:<14} first tools/list {} ({} tools; schemas are built on first use)",
        fmt(first_list),
        tools.len()
    );

    // Round trips through the server and the sandbox.
    for (tool, arguments) in &case.calls {
        for _ in 0..50 {
            ok(&call(&client, tool, arguments.clone()).await?);
        }
        let mut times = Vec::with_capacity(args.calls);
        for i in 0..args.calls {
            if let Some(n) = case.reset_every
                && i % n == 0
            {
                sandbox.control_post("reset", json!({})).await?;
            }
            let started = Instant::now();
            let r = call(&client, tool, arguments.clone()).await?;
            times.push(started.elapsed());
            ok(&r);
        }
        times.sort();
        println!(
            "{name:<14} tool call       {tool:<22} p50 {}  p99 {}  (n={})",
            fmt(percentile(&times, 0.5)),
            fmt(percentile(&times, 0.99)),
            times.len()
        );
    }
    let rss_after = rss_kib(pid)?;
    println!("{name:<14} RSS after the calls {:.1} MiB", mib(rss_after));
    client.cancel().await?;
    Ok(())
}
