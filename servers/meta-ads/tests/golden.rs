//! Pins `meta-ads-mcp`'s `tools/list` to `tests/tools.golden.json` (regenerate with
//! `UPDATE_GOLDEN=1 cargo nextest run -p mcp-meta --test golden`).

use mcp_common::testing::{check_published, offline_connection};

/// Most bytes the `tools/list` answer may take: today's size, so growth is a reviewed change.
const BUDGET: usize = 14_113;

/// Issue 15's ceiling: a fifth of Pipeboard's meta-ads-mcp 1.0.128's 100,472 B, as `bench --only
/// context --peers` measures it. A `BUDGET` above it fails the build.
const TARGET: usize = 100_472 / 5;
const _: () = assert!(BUDGET <= TARGET);

#[test]
fn tools_list_matches_the_golden_file() {
    let c = offline_connection();
    let server = mcp_meta::MetaServer::new(
        mcp_meta::api::MetaApi::new(c.upstream, "v26.0".into()),
        None,
        c.tokens,
        c.tenant,
    );
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools.golden.json");
    if let Err(e) = check_published(&server, golden, BUDGET) {
        panic!("{e}");
    }
}
