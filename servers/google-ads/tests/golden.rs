//! Pins `google-ads-mcp`'s `tools/list` to `tests/tools.golden.json` (regenerate with
//! `UPDATE_GOLDEN=1 cargo nextest run -p mcp-gads --test golden`).

use mcp_common::testing::{check_published, offline_connection};

/// Most bytes the `tools/list` answer may take: today's size, so growth is a reviewed change.
const BUDGET: usize = 4_440;

/// Issue 15's ceiling: half of google-ads-mcp 0.0.5's 8,886 B, as `bench --only context --peers`
/// measures it. A `BUDGET` above it fails the build.
const TARGET: usize = 8_886 / 2;
const _: () = assert!(BUDGET <= TARGET);

#[test]
fn tools_list_matches_the_golden_file() {
    let c = offline_connection();
    let api = mcp_gads::api::AdsApi::new(c.upstream, "v26".into(), None);
    let server = mcp_gads::AdsServer::new(api, None, None, c.tokens, c.tenant);
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools.golden.json");
    if let Err(e) = check_published(&server, golden, BUDGET) {
        panic!("{e}");
    }
}
