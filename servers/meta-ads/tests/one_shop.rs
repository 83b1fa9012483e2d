//! Fail closed: under a lease whose integration names no Meta ad account, every tool is refused before
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
    let server = mcp_meta::MetaServer::new(
        mcp_meta::api::MetaApi::new(c.upstream, "v26.0".into()),
        None,
        c.tokens,
        c.tenant,
    );
    let arguments = serde_json::json!({"account_id": "act_112", "id": "act_112"});
    if let Err(e) = every_tool_refused(server, arguments, "Meta ad account").await {
        panic!("{e}");
    }
}
