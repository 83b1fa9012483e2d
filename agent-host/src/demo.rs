//! `agent-host demo`: the whole path — credentials → server → upstream API → MCP client — for
//! a few demo shops, offline. Starts `upstream-sandbox` with `examples/sandbox-fixtures.toml`,
//! then one `ga4-mcp` per shop over stdio, asks the questions an analyst's agent would, and
//! prints what the agent sees. One shop's grant is revoked and one lacks the Analytics scope,
//! to show the failure messages.
//!
//! Until the credential broker lands, each server gets a static `authorized_user` file for the
//! sandbox's fake grant, written mode 0600 into a private temporary directory that is removed
//! on exit.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::children::{ServerClient, result_text, sibling, start_listening};

/// The sandbox fixtures the demo runs on (the same file users can start the sandbox with).
const FIXTURES: &str = include_str!("../../examples/sandbox-fixtures.toml");
const CLIENT_ID: &str = "sandbox-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "sandbox-client-secret";

/// A demo shop: a grant declared in the fixtures and the GA4 property it reads.
struct DemoShop {
    name: &'static str,
    shop_id: &'static str,
    refresh_token: &'static str,
    property_id: &'static str,
}

const SHOPS: &[DemoShop] = &[
    DemoShop {
        name: "Acme Shop",
        shop_id: "acme",
        refresh_token: "sandbox-refresh-acme",
        property_id: "326784853",
    },
    DemoShop {
        name: "Bloom Florist",
        shop_id: "bloom",
        refresh_token: "sandbox-refresh-bloom",
        property_id: "412345678",
    },
    DemoShop {
        name: "Revoked Shop",
        shop_id: "revoked-shop",
        refresh_token: "sandbox-refresh-revoked-shop",
        property_id: "498765432",
    },
    DemoShop {
        name: "Search-only Shop",
        shop_id: "gsc-only",
        refresh_token: "sandbox-refresh-gsc-only",
        property_id: "498765433",
    },
];

/// `agent-host demo` flags.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The date the sandbox treats as today (YYYY-MM-DD); default: the real date.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
}

fn write_credentials(dir: &Path, shop: &DemoShop) -> Result<PathBuf> {
    let path = dir.join(format!("{}.json", shop.shop_id));
    let body = json!({
        "type": "authorized_user",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": shop.refresh_token,
    });
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(body.to_string().as_bytes())?;
    Ok(path)
}

fn heading(title: &str) {
    println!(
        "\n━━ {title} {}",
        "━".repeat(60usize.saturating_sub(title.chars().count()))
    );
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

async fn ask(client: &ServerClient, question: &str, tool: &str, args: Value) -> Result<bool> {
    println!("\n  {question}\n  → {tool}");
    let (is_error, text) = result_text(&client.call(tool, args).await?);
    if is_error {
        println!("  ✗ {}", text.trim());
    } else {
        print!("{}", indent(&text));
    }
    Ok(!is_error)
}

async fn demo_shop(ga4: &Path, api_base: &str, creds: &Path, shop: &DemoShop) -> Result<bool> {
    heading(&format!("{} (shop {})", shop.name, shop.shop_id));
    let mut cmd = Command::new(ga4);
    cmd.arg("--credentials-path")
        .arg(creds)
        .args(["--api-base", api_base, "--property-id", shop.property_id])
        .env("RUST_LOG", "error");
    let client = ServerClient::spawn(cmd).await?;
    println!("✓ Connected to GA4 property: {}", shop.property_id);
    println!("Shop: {}", shop.shop_id);
    println!("✓ Using static credentials (sandbox grant, file mode 0600)");
    println!("Available tools: {}", client.tool_names().await?.join(", "));

    let last_week = json!([
        {"start_date": "7daysAgo", "end_date": "yesterday", "name": "last_7_days"},
        {"start_date": "14daysAgo", "end_date": "8daysAgo", "name": "previous_7_days"}
    ]);
    let mut healthy = ask(
        &client,
        "Which property is this?",
        "get_property_details",
        json!({}),
    )
    .await?;
    if healthy {
        ask(
            &client,
            "How did sessions and revenue move by channel, week over week?",
            "run_report",
            json!({
                "date_ranges": last_week,
                "dimensions": ["sessionDefaultChannelGroup"],
                "metrics": ["sessions", "engagementRate", "purchaseRevenue"],
                "order_bys": [{"metric": {"metric_name": "sessions"}, "desc": true}],
                "limit": 8
            }),
        )
        .await?;
        ask(
            &client,
            "Where do visitors land (top 5 pages, last 28 days)?",
            "run_report",
            json!({
                "date_ranges": [{"start_date": "28daysAgo", "end_date": "yesterday"}],
                "dimensions": ["landingPage"],
                "metrics": ["sessions", "keyEvents"],
                "order_bys": [{"metric": {"metric_name": "sessions"}, "desc": true}],
                "limit": 5
            }),
        )
        .await?;
        healthy &= ask(
            &client,
            "Where does the checkout funnel leak?",
            "run_funnel_report",
            json!({"funnel_steps": [
                {"name": "Product view", "event": "view_item"},
                {"name": "Add to cart", "event": "add_to_cart"},
                {"name": "Checkout", "event": "begin_checkout"},
                {"name": "Purchase", "event": "purchase"}
            ]}),
        )
        .await?;
        ask(
            &client,
            "Anything noted on the timeline?",
            "list_property_annotations",
            json!({}),
        )
        .await?;
    }
    client.close().await?;
    Ok(healthy)
}

/// Runs the demo; exit code 0 when the healthy shops answered and the broken ones failed
/// with their messages.
pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    let ga4 = sibling("ga4-mcp")?;
    let sandbox_bin = sibling("upstream-sandbox")?;
    let work = tempfile::Builder::new()
        .prefix("berryboo-demo-")
        .tempdir()?;
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o700))?;
    let fixtures = work.path().join("sandbox-fixtures.toml");
    std::fs::write(&fixtures, FIXTURES)?;

    let mut cmd = Command::new(sandbox_bin);
    cmd.args(["--bind", "127.0.0.1:0", "--fixtures"])
        .arg(&fixtures)
        .env("RUST_LOG", "error");
    if let Some(today) = &args.today {
        cmd.args(["--today", today]);
    }
    let sandbox = start_listening(cmd)
        .await
        .context("cannot start upstream-sandbox")?;
    println!(
        "berryboo demo: offline, Google APIs emulated by upstream-sandbox at {}",
        sandbox.url
    );

    let mut outcomes = Vec::new();
    for shop in SHOPS {
        let creds = write_credentials(work.path(), shop)?;
        let healthy = demo_shop(&ga4, &sandbox.url, &creds, shop).await?;
        outcomes.push((shop, healthy));
    }
    heading("Summary");
    for (shop, healthy) in &outcomes {
        let mark = if *healthy { "✓" } else { "✗" };
        println!("{mark} {:<18} GA4 property {}", shop.name, shop.property_id);
    }
    let expected = outcomes
        .iter()
        .all(|(shop, healthy)| *healthy == matches!(shop.shop_id, "acme" | "bloom"));
    Ok(if expected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
