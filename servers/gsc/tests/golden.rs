//! Pins `gsc-mcp`'s `tools/list` to `tests/tools.golden.json` (regenerate with
//! `UPDATE_GOLDEN=1 cargo nextest run -p mcp-gsc --test golden`).

use mcp_common::testing::{check_golden, offline_connection};

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
    if let Err(e) = check_golden(
        &server,
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools.golden.json"),
    ) {
        panic!("{e}");
    }
}
