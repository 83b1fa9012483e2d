//! Isolation fails closed, tried as an attacker and a careless operator would, with the real
//! broker, servers, agent host and sandbox:
//! - the agency case: one Google login and one Meta user reach two shops' accounts, and shop C's
//!   integrations name no account — C reads nothing (no lease, no token, no server call), health
//!   lists the integrations, the pipeline asks C to finish connecting them.

use std::process::Stdio;

use berryboo_e2e::{BrokerProc, Sandbox, bin};
use broker_proto::{ErrorCode, Provider};
use serde_json::Value;
use tokio::process::Command;

/// Shop B: every source with its account.
const SHOP_B: &str = "b0000000-0000-4000-8000-00000000000b";
/// Shop C: the same logins as B (an agency connected both), but no account selected anywhere.
const SHOP_C: &str = "c0000000-0000-4000-8000-00000000000c";

/// Each provider: (chat command, B's account, an account the same login reaches that is not
/// B's, a tool call that names that other account).
const AGENCY: &[(Provider, &str, &str, &str, &str)] = &[
    (
        Provider::Ga4,
        "chat-ga4",
        "412345678",
        "412345679",
        r#"/call get_property_details {"property_id": "412345679"}"#,
    ),
    (
        Provider::Gsc,
        "chat-gsc",
        "sc-domain:bloom.example",
        "sc-domain:acme-shop.example",
        r#"/call get_site_details {"site_url": "sc-domain:acme-shop.example"}"#,
    ),
    (
        Provider::GoogleAds,
        "chat-google-ads",
        "1234567890",
        "1112223334",
        r#"/call search {"customer_id": "1112223334", "login_customer_id": "9876543210", "query": "SELECT customer.id FROM customer"}"#,
    ),
    (
        Provider::MetaAds,
        "chat-meta-ads",
        "act_111",
        "act_112",
        r#"/call get_account_info {"account_id": "act_112"}"#,
    ),
];

fn agency_seed() -> String {
    let g = "https://www.googleapis.com/auth";
    let meta_expires = (chrono::Utc::now() + chrono::Duration::days(50))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        r#"
[[shops]]
id = "{SHOP_B}"
name = "Agency client B"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-bloom-e2e", property_id = "412345678", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "sc-domain:bloom.example", granted_scopes = ["{g}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", customer_id = "1234567890", granted_scopes = ["{g}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{SHOP_C}"
name = "Agency client C"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-bloom-e2e", granted_scopes = ["{g}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "", granted_scopes = ["{g}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", login_customer_id = "987-654-3210", granted_scopes = ["{g}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", granted_scopes = ["ads_read"] }}
"#
    )
}

async fn agency() -> (Sandbox, tempfile::TempDir, String, BrokerProc) {
    let sandbox = Sandbox::start().await.expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("shops.db").display());
    BrokerProc::prepare_with(&sandbox, &url, &agency_seed())
        .await
        .expect("seeded");
    let broker = BrokerProc::start(&sandbox, &url, "info", "")
        .await
        .expect("broker");
    (sandbox, dir, url, broker)
}

/// `agent-host ARGS` against the agency's broker, database and sandbox.
fn agent_host(sandbox: &Sandbox, broker: &BrokerProc, db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("agent-host"));
    cmd.args(args)
        .env("BERRYBOO_DATABASE_URL", db)
        .env("BERRYBOO_BROKER_SOCKET", &broker.socket)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_LLM_BASE_URL")
        .env_remove("BERRYBOO_LLM_MODEL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn output(mut cmd: Command) -> (i32, String) {
    let out = cmd.output().await.expect("runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn an_integration_without_its_account_reads_nothing() {
    let (sandbox, _dir, db, broker) = agency().await;
    let mut client = broker.client().await.expect("client");

    for &(provider, chat, b_account, other, call) in AGENCY {
        // The broker grants no lease for C's provider, and says what to finish.
        let e = client
            .create_lease(SHOP_C, &[provider], 60)
            .await
            .expect_err("no account, no lease");
        let e = e.broker_error().expect("a broker refusal").clone();
        assert_eq!(e.code, ErrorCode::NoAccount, "{provider}: {}", e.message);
        assert_eq!(
            e.message,
            format!(
                "The {service} integration for shop {SHOP_C} has no {noun} selected.\nPlease finish connecting {service} in the dashboard.",
                service = provider.service_name(),
                noun = provider.account_noun()
            )
        );

        // A chat for C stops there: no server starts, nothing is read.
        let (code, text) = output(agent_host(
            &sandbox,
            &broker,
            &db,
            &[chat, "--shop-id", SHOP_C, "--ask", call],
        ))
        .await;
        assert_eq!(code, 1, "{chat} for C: {text}");
        assert!(
            text.contains("has no") && text.contains("selected"),
            "{text}"
        );
        assert!(!text.contains(other), "{chat} for C leaked {other}: {text}");

        // B, whose login reaches the other account too, reads only its own.
        let (code, text) = output(agent_host(
            &sandbox,
            &broker,
            &db,
            &[chat, "--shop-id", SHOP_B, "--ask", call],
        ))
        .await;
        assert_eq!(code, 0, "{chat} for B: {text}");
        assert!(text.contains(b_account), "{chat} for B: {text}");
        assert!(
            text.contains(&format!("{other} is not this shop's")),
            "{chat} for B must refuse {other}: {text}"
        );
    }

    // Asking for all four at once: still nothing, with the first reason.
    let e = client
        .create_lease(SHOP_C, &Provider::ALL, 60)
        .await
        .expect_err("nothing to lease");
    assert_eq!(
        e.broker_error().map(|b| b.code),
        Some(ErrorCode::NoAccount),
        "{e}"
    );

    // Health lists each of C's integrations, and asks for attention.
    let (code, text) = output(agent_host(&sandbox, &broker, &db, &["health", "--json"])).await;
    assert_eq!(code, 1, "{text}");
    let report: Value = serde_json::from_str(&text).expect("health JSON");
    let missing: Vec<(String, String)> = report["missing_accounts"]
        .as_array()
        .expect("missing_accounts")
        .iter()
        .map(|i| {
            (
                i["shop_id"].as_str().unwrap_or("").to_owned(),
                i["provider"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for p in Provider::ALL {
        assert!(
            missing.contains(&(SHOP_C.to_owned(), p.as_str().to_owned())),
            "{p} of C in {missing:?}"
        );
    }
    assert!(
        missing.iter().all(|(shop, _)| shop == SHOP_C),
        "{missing:?}"
    );
    let (_, text) = output(agent_host(&sandbox, &broker, &db, &["health"])).await;
    assert!(
        text.contains("No account selected (grant nothing): 4"),
        "{text}"
    );

    // The pipeline treats it as a missing integration: a "connect" email, never a reconnect.
    let (code, text) = output(agent_host(
        &sandbox,
        &broker,
        &db,
        &[
            "anomaly",
            "add",
            "--shop",
            SHOP_C,
            "--source",
            "ga4",
            "--metric",
            "revenue",
            "--window",
            "2026-10-08..2026-10-14",
            "--baseline",
            "2026-09-10..2026-10-07",
            "--observed",
            "700",
            "--expected",
            "1000",
            "--severity",
            "high",
        ],
    ))
    .await;
    assert_eq!(code, 0, "{text}");
    let (code, text) = output(agent_host(&sandbox, &broker, &db, &["pipeline"])).await;
    assert_eq!(code, 0, "{text}");
    for other in [
        "412345679",
        "sc-domain:acme-shop.example",
        "1112223334",
        "act_112",
    ] {
        assert!(
            !text.contains(other),
            "the pipeline for C read {other}: {text}"
        );
    }
    let (code, text) = output(agent_host(
        &sandbox,
        &broker,
        &db,
        &["notifications", "--shop", SHOP_C],
    ))
    .await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Connect Google Analytics to Enable AI Insights"),
        "{text}"
    );
    assert!(!text.contains("Reconnect"), "{text}");
}
