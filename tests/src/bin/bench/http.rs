//! Each MCP server over HTTP as hosts call it: one kept-alive connection, Nagle left on at the
//! client's end (delayed ACKs on, like Node's fetch), both protocol revisions; the same call
//! over stdio taken in turn with it, so the two are measured under the same load.

use rmcp::model::ProtocolVersion;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt};

use super::*;

/// One server's HTTP round trips for its first call, next to stdio's.
pub(super) async fn http_bench(sandbox: &Sandbox, case: &ServerCase, args: &Args) -> Result<()> {
    let name = case.binary;
    let (tool, arguments) = &case.calls[0];
    let mut http_flags = case.flags.to_vec();
    http_flags.extend(["--http", "127.0.0.1:0", "--allow-unauthenticated"]);
    let mut server = server_command(name, sandbox, &case.credentials.path(), &http_flags)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = server.stdout.take().context("stdout")?;
    let (line, _) = berryboo_e2e::first_line(stdout, Duration::from_secs(20)).await?;
    let url = format!(
        "{}/mcp",
        line.strip_prefix("listening on ")
            .context("listening line")?
    );
    let stdio = ()
        .serve(TokioChildProcess::new(server_command(
            name,
            sandbox,
            &case.credentials.path(),
            case.flags,
        ))?)
        .await?;
    let host_like = reqwest::Client::builder().tcp_nodelay(false).build()?;
    for (label, revision) in [
        ("2025-11-25", None),
        ("2026-07-28", Some(ProtocolVersion::V_2026_07_28)),
    ] {
        let transport = StreamableHttpClientTransport::with_client(
            host_like.clone(),
            StreamableHttpClientTransportConfig::with_uri(url.clone()),
        );
        let client = match revision {
            None => ().serve(transport).await?,
            Some(v) => {
                ().serve_with_lifecycle(
                    transport,
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![v],
                    },
                )
                .await?
            }
        };
        if case.reset_every.is_some() {
            sandbox.control_post("reset", json!({})).await?;
        }
        for _ in 0..50 {
            ok(&call(&client, tool, arguments.clone()).await?);
            ok(&call(&stdio, tool, arguments.clone()).await?);
        }
        let (mut over_http, mut over_stdio) = (Vec::new(), Vec::new());
        for i in 0..args.calls {
            // Two calls an iteration.
            if let Some(n) = case.reset_every
                && i % (n / 2).max(1) == 0
            {
                sandbox.control_post("reset", json!({})).await?;
            }
            let started = Instant::now();
            ok(&call(&client, tool, arguments.clone()).await?);
            over_http.push(started.elapsed());
            let started = Instant::now();
            ok(&call(&stdio, tool, arguments.clone()).await?);
            over_stdio.push(started.elapsed());
        }
        over_http.sort();
        over_stdio.sort();
        let (http_p50, stdio_p50) = (percentile(&over_http, 0.5), percentile(&over_stdio, 0.5));
        println!(
            "{name:<14} HTTP {label} {tool:<22} p50 {}  p99 {}  | stdio p50 {}  p99 {}  | HTTP adds {} at p50  (n={})",
            fmt(http_p50),
            fmt(percentile(&over_http, 0.99)),
            fmt(stdio_p50),
            fmt(percentile(&over_stdio, 0.99)),
            fmt(http_p50.saturating_sub(stdio_p50)),
            over_http.len()
        );
        client.cancel().await?;
    }
    stdio.cancel().await?;
    Ok(())
}
