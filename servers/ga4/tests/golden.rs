//! Pins the `tools/list` output (names, descriptions, input and output schemas, annotations)
//! to `tests/tools.golden.json`, so any change to what models see is a reviewed diff.
//! Regenerate with `UPDATE_GOLDEN=1 cargo nextest run -p mcp-ga4 --test golden`.

use mcp_common::testing::{check_published, offline_connection};

/// Most bytes the `tools/list` answer may take: today's size, so growth is a reviewed change.
const BUDGET: usize = 27_367;

/// Issue 15's ceiling: half of analytics-mcp 0.8.0's 55,792 B, as `bench --only context --peers`
/// measures it. A `BUDGET` above it fails the build.
const TARGET: usize = 55_792 / 2;
const _: () = assert!(BUDGET <= TARGET);

#[test]
fn tools_list_matches_the_golden_file() {
    let c = offline_connection();
    let server = mcp_ga4::Ga4Server::new(
        mcp_ga4::api::Ga4Api::new(c.upstream),
        None,
        c.tokens,
        c.tenant,
    );
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools.golden.json");
    if let Err(e) = check_published(&server, golden, BUDGET) {
        panic!("{e}");
    }
}
