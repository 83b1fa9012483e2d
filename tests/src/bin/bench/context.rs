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

/// The Python peer of `server` from tests/python/peers/requirements.txt, as a pip requirement.
fn peer_of(server: &str) -> Option<String> {
    let list = include_str!("../../../python/peers/requirements.txt");
    list.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .find(|(ours, _)| *ours == server)
        .map(|(_, requirement)| requirement.trim().to_owned())
}

/// The peer's `tools/list` size in bytes (compact JSON) and tool count: the peer installed from
/// PyPI into a virtual environment of its own under target/bench-peers (once), started over
/// stdio by tests/python/peers/tools_list.py with that environment's interpreter.
fn peer_tools_list(requirement: &str) -> Result<(usize, usize)> {
    use std::process::Command;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-peers");
    let venv = root.join(requirement.replace(['=', '<', '>'], "_"));
    let python = venv.join("bin/python");
    if !python.exists() {
        std::fs::create_dir_all(&root)?;
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()?;
        anyhow::ensure!(made.success(), "python3 -m venv {} failed", venv.display());
        let installed = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                requirement,
            ])
            .status()?;
        if !installed.success() {
            let _ = std::fs::remove_dir_all(&venv);
            anyhow::bail!("pip install {requirement} failed");
        }
    }
    let package = requirement
        .split(['=', '<', '>'])
        .next()
        .unwrap_or(requirement);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/peers/tools_list.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(venv.join("bin").join(package))
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut fields = stdout.split_whitespace();
    match (
        fields.next().and_then(|b| b.parse().ok()),
        fields.next().and_then(|t| t.parse().ok()),
    ) {
        (Some(bytes), Some(tools)) if out.status.success() => Ok((bytes, tools)),
        _ => anyhow::bail!(
            "{requirement}: no tools/list ({})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
    }
}

/// Prints each server's `tools/list` size and its call's result size; with `peers`, also the
/// Python peer's `tools/list` and the ratio, measured in the same run.
pub(super) async fn context_bench(peers: bool) -> Result<()> {
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
        if peers && let Some(requirement) = peer_of(name) {
            match peer_tools_list(&requirement) {
                Ok((bytes, count)) => println!(
                    "{name:<14} peer     {requirement}: tools/list {bytes} B ({count} tools)  | ours/peer {:.2}",
                    list as f64 / bytes as f64
                ),
                Err(e) => println!("{name:<14} peer     {requirement}: not measured ({e})"),
            }
        }
        client.cancel().await?;
    }
    Ok(())
}
