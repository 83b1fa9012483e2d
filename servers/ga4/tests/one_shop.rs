//! Fail closed: under a lease whose integration names no Google Analytics property, every tool is refused before
//! it runs — whatever account the call names — so a token that reaches other shops' accounts
//! (one agency login) reads none of them.

use mcp_common::Account;
use mcp_common::testing::{every_tool_refused, pinned_connection};

#[tokio::test]
async fn a_lease_without_its_account_reads_nothing() {
    // The row names another provider's account, as a half-finished dashboard row can.
    let c = pinned_connection(Account {
        customer_id: Some("1234567890".into()),
        ..Account::default()
    });
    let server = mcp_ga4::Ga4Server::new(
        mcp_ga4::api::Ga4Api::new(c.upstream),
        None,
        c.tokens,
        c.tenant,
    );
    let arguments = serde_json::json!({"property_id": "412345678", "account_id": "act_111"});
    if let Err(e) = every_tool_refused(server, arguments, "Google Analytics property").await {
        panic!("{e}");
    }
}
