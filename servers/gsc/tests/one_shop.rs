//! Fail closed: under a lease whose integration names no Search Console property, every tool is refused before
//! it runs — whatever account the call names — so a token that reaches other shops' accounts
//! (one agency login) reads none of them.

use mcp_common::Account;
use mcp_common::testing::{every_tool_refused, pinned_connection};

#[tokio::test]
async fn a_lease_without_its_account_reads_nothing() {
    // The row names another provider's account, as a half-finished dashboard row can.
    let c = pinned_connection(Account {
        property_id: Some("326784853".into()),
        ..Account::default()
    });
    let server = mcp_gsc::GscServer::new(
        mcp_gsc::api::GscApi::new(c.upstream),
        None,
        c.tokens,
        c.tenant,
        None,
    );
    let arguments = serde_json::json!({"site_url": "sc-domain:bloom.example"});
    if let Err(e) = every_tool_refused(server, arguments, "Search Console property").await {
        panic!("{e}");
    }
}
