//! Fail closed: under a lease whose integration names no Google Ads customer, every tool is refused before
//! it runs — whatever account the call names — so a token that reaches other shops' accounts
//! (one agency login) reads none of them.

use mcp_common::Account;
use mcp_common::testing::{every_tool_refused, pinned_connection};

#[tokio::test]
async fn a_lease_without_its_account_reads_nothing() {
    // The row names another provider's account, as a half-finished dashboard row can.
    let c = pinned_connection(Account {
        login_customer_id: Some("9876543210".into()),
        ..Account::default()
    });
    let server = mcp_gads::AdsServer::new(
        mcp_gads::api::AdsApi::new(c.upstream, "v26".into(), None),
        None,
        None,
        c.tokens,
        c.tenant,
    );
    let arguments =
        serde_json::json!({"customer_id": "1112223334", "login_customer_id": "9876543210"});
    if let Err(e) = every_tool_refused(server, arguments, "Google Ads customer").await {
        panic!("{e}");
    }
}
