//! Fail closed: under a lease whose integration names no Meta ad account, every tool is refused before it
//! runs — whatever account the call names — so a token that reaches other shops' accounts (one
//! agency login) reads none of them.

use mcp_common::Account;
use mcp_common::testing::{call_every_tool, pinned_connection};

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
    let serde_json::Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    let results = call_every_tool(server, arguments).await;
    assert!(results.len() > 1, "{results:?}");
    for (tool, result) in results {
        let result = result.unwrap_or_else(|e| panic!("{tool}: protocol error {e}"));
        assert_eq!(result.is_error, Some(true), "{tool} must be refused");
        let text = format!("{:?}", result.content);
        assert!(
            text.contains("names no Meta ad account") && text.contains("shop-c"),
            "{tool}: {text}"
        );
    }
}
