//! Pins `gsc-mcp`'s `tools/list` to `tests/tools.golden.json` (regenerate with
//! `UPDATE_GOLDEN=1 cargo nextest run -p mcp-gsc --test golden`).

use mcp_common::testing::{check_published, offline_connection};

/// Most bytes the `tools/list` answer may take: today's size, so growth is a reviewed change.
const BUDGET: usize = 10_619;

/// Issue 15's ceiling: half of mcp-search-console 0.4.1's 21,409 B, as `bench --only context
/// --peers` measures it. A `BUDGET` above it fails the build.
const TARGET: usize = 21_409 / 2;
const _: () = assert!(BUDGET <= TARGET);

#[test]
fn tools_list_matches_the_golden_file() {
    let c = offline_connection();
    let server = mcp_gsc::GscServer::new(
        mcp_gsc::api::GscApi::new(c.upstream),
        None,
        c.tokens,
        c.tenant,
        None,
    );
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools.golden.json");
    if let Err(e) = check_published(&server, golden, BUDGET) {
        panic!("{e}");
    }
}
