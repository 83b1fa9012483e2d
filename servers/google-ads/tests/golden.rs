//! Pins `google-ads-mcp`'s `tools/list` to `tests/tools.golden.json` (regenerate with
//! `UPDATE_GOLDEN=1 cargo nextest run -p mcp-gads --test golden`).

use mcp_common::testing::{check_budget, check_golden, check_portable, offline_connection};

/// Most bytes the `tools/list` answer may take.
const BUDGET: usize = 5_672;

#[test]
fn tools_list_matches_the_golden_file() {
    let c = offline_connection();
    let api = mcp_gads::api::AdsApi::new(c.upstream, "v26".into(), None);
    let server = mcp_gads::AdsServer::new(api, None, None, c.tokens, c.tenant);
    if let Err(e) = check_golden(
        &server,
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools.golden.json"),
    ) {
        panic!("{e}");
    }
    if let Err(e) = check_portable(&server) {
        panic!("{e}");
    }
    // The size after the schema rework (issue 17), as a ceiling. Issue 15's target:
    // about 4,400 (half of the Python Google Ads server's about 8,800).
    if let Err(e) = check_budget(&server, BUDGET) {
        panic!("{e}");
    }
}
