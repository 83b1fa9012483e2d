//! `agent-host demo`: the embedded default end to end, offline. It starts `upstream-sandbox`
//! (standing in for Google) with `examples/sandbox-fixtures.toml`, creates a SQLite shop
//! database seeded with `examples/demo-shops.toml` (what the dashboard would have stored), starts
//! `credential-broker` on a private socket, and then, per shop: asks the broker for a lease,
//! spawns `ga4-mcp` for that shop with the lease in its environment (never argv), asks the
//! questions an analyst's agent would, prints what the agent sees, and revokes the lease.
//!
//! The demo never touches a token: the broker alone reads the shop database and refreshes; the
//! servers get short-lived access tokens over the socket. One shop's grant is revoked at
//! "Google" and one has no GA4 integration, to show those messages.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use broker_proto::Provider;
use broker_proto::client::BrokerClient;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::children::{ServerClient, result_text, sibling, start_listening};

/// The sandbox fixtures and demo shops the demo runs on (the same files users can start the
/// sandbox and seed a database with).
const FIXTURES: &str = include_str!("../../examples/sandbox-fixtures.toml");
const SHOPS: &str = include_str!("../../examples/demo-shops.toml");
/// The sandbox's OAuth client (fake; the broker refreshes with it).
const CLIENT_ID: &str = "sandbox-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "sandbox-client-secret";

/// A demo shop and what the demo expects of it.
struct DemoShop {
    name: &'static str,
    shop_id: &'static str,
    healthy: bool,
}

const DEMO_SHOPS: &[DemoShop] = &[
    DemoShop {
        name: "Acme Shop",
        shop_id: "cac9d883-015f-478e-a93f-32ef401582a3",
        healthy: true,
    },
    DemoShop {
        name: "Bloom Florist",
        shop_id: "6f1f8a57-1c5e-4e53-9d1a-2b0b7d2c9e41",
        healthy: true,
    },
    DemoShop {
        name: "Revoked Shop",
        shop_id: "9b2c4d6e-8f10-4a12-b314-c516d718e920",
        healthy: false,
    },
    DemoShop {
        name: "Search-only Shop",
        shop_id: "d4e5f6a7-b8c9-4dab-8cde-f0123456789a",
        healthy: false,
    },
];

/// `agent-host demo` flags.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The date the sandbox treats as today (YYYY-MM-DD); default: the real date.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
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

/// Runs `credential-broker` with `args` to completion.
async fn broker_command(broker: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let out = Command::new(broker)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .output()
        .await?;
    if !out.status.success() {
        bail!(
            "credential-broker {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Starts `credential-broker serve` and waits until its socket answers.
async fn start_broker(
    broker: &Path,
    database: &str,
    socket: &Path,
    env: &[(&str, &str)],
) -> Result<Child> {
    let mut child = Command::new(broker)
        .args(["serve", "--database", database, "--socket"])
        .arg(socket)
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start credential-broker")?;
    for _ in 0..500 {
        if BrokerClient::connect(socket).await.is_ok() {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            bail!("credential-broker exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!(
        "credential-broker did not open {} in 10 s",
        socket.display()
    )
}

async fn demo_shop(ga4: &Path, api_base: &str, socket: &Path, shop: &DemoShop) -> Result<bool> {
    heading(&format!("{} (shop {})", shop.name, shop.shop_id));
    let mut admin = BrokerClient::connect(socket).await?;
    let grant = match admin
        .create_lease(shop.shop_id, &[Provider::Ga4], 600)
        .await
    {
        Ok(g) => g,
        Err(e) => {
            // The guide's message, e.g. "No Google Analytics integration found for shop …".
            println!("{e}");
            return Ok(false);
        }
    };
    let mut cmd = Command::new(ga4);
    cmd.args(["--shop-id", shop.shop_id, "--api-base", api_base])
        .arg("--broker-socket")
        .arg(socket)
        .env("BERRYBOO_LEASE", grant.lease.expose())
        .env("RUST_LOG", "error");
    let client = ServerClient::spawn(cmd).await?;
    println!("✓ Started ga4-mcp for shop {}", shop.shop_id);
    println!(
        "✓ Using a credential-broker lease ({}, GA4 only, expires in 10 min)",
        grant.lease_id
    );
    println!("Available tools: {}", client.tool_names().await?.join(", "));

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
                "date_ranges": [
                    {"start_date": "7daysAgo", "end_date": "yesterday", "name": "last_7_days"},
                    {"start_date": "14daysAgo", "end_date": "8daysAgo", "name": "previous_7_days"}
                ],
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
    // The clean-up step the old system did with `rm /tmp/...`.
    admin.revoke_lease(&grant.lease).await?;
    println!("\n✓ Lease {} revoked", grant.lease_id);
    Ok(healthy)
}

/// Runs the demo; exit code 0 when the healthy shops answered and the others failed with
/// their messages.
pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    let ga4 = sibling("ga4-mcp")?;
    let sandbox_bin = sibling("upstream-sandbox")?;
    let broker_bin = sibling("credential-broker")?;
    let work = tempfile::Builder::new()
        .prefix("berryboo-demo-")
        .tempdir()?;
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o700))?;
    let fixtures = work.path().join("sandbox-fixtures.toml");
    std::fs::write(&fixtures, FIXTURES)?;
    let seed = work.path().join("demo-shops.toml");
    std::fs::write(&seed, SHOPS)?;

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
        "berryboo demo: offline; Google's APIs are emulated by upstream-sandbox at {}",
        sandbox.url
    );

    let database = format!("sqlite://{}", work.path().join("shops.db").display());
    let socket: PathBuf = work.path().join("run/broker.sock");
    let env = [
        ("BERRYBOO_GOOGLE_CLIENT_ID", CLIENT_ID),
        ("BERRYBOO_GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
        ("BERRYBOO_API_BASE", sandbox.url.as_str()),
    ];
    broker_command(&broker_bin, &["migrate", "--database", &database], &env).await?;
    broker_command(
        &broker_bin,
        &[
            "seed",
            "--database",
            &database,
            "--file",
            &seed.display().to_string(),
        ],
        &env,
    )
    .await?;
    let _broker = start_broker(&broker_bin, &database, &socket, &env).await?;
    println!(
        "credential-broker: SQLite shop database seeded with {} demo shops, socket {}",
        DEMO_SHOPS.len(),
        socket.display()
    );

    let mut outcomes = Vec::new();
    for shop in DEMO_SHOPS {
        let healthy = demo_shop(&ga4, &sandbox.url, &socket, shop).await?;
        outcomes.push((shop, healthy));
    }
    heading("Summary");
    for (shop, healthy) in &outcomes {
        let mark = if *healthy { "✓" } else { "✗" };
        println!("{mark} {:<18} {}", shop.name, shop.shop_id);
    }
    let expected = outcomes
        .iter()
        .all(|(shop, healthy)| *healthy == shop.healthy);
    Ok(if expected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
