//! Interoperability with the official MCP Python SDK (a client nobody here wrote), over stdio,
//! streamable HTTP and the legacy HTTP+SSE transport. `.ci/run` installs the SDK
//! (tests/python/requirements.txt); without it this test reports itself skipped on stderr, and
//! fails when `BERRYBOO_REQUIRE_ALL_TESTS=1` (CI) so a skip can never pass for green.

use std::process::Stdio;
use std::time::Duration;

use berryboo_e2e::{Credentials, Sandbox, bin, first_line, ga4_command};

#[tokio::test]
async fn official_python_sdk_talks_to_ga4_mcp() {
    if !berryboo_e2e::python_sdk_available("official_python_sdk_talks_to_ga4_mcp") {
        return;
    }
    let sandbox = Sandbox::start().await.unwrap();
    let creds = Credentials::google("sandbox-refresh-acme-e2e").unwrap();
    let mut http = ga4_command(
        &sandbox,
        &creds,
        &[
            "--property-id",
            "326784853",
            "--http",
            "127.0.0.1:0",
            "--allow-unauthenticated",
        ],
    )
    .stdout(Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let (line, _stdout) = first_line(http.stdout.take().unwrap(), Duration::from_secs(20))
        .await
        .unwrap();
    let base = line.strip_prefix("listening on ").unwrap().to_owned();
    let args = serde_json::json!([
        "--credentials-path",
        creds.path(),
        "--api-base",
        sandbox.base,
        "--property-id",
        "326784853"
    ]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/interop.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .env("GA4_MCP", bin("ga4-mcp"))
        .env("GA4_MCP_ARGS", args.to_string())
        .env("GA4_MCP_HTTP", &base)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("python finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python SDK interop failed:\n{stdout}\n{stderr}"
    );
    for transport in ["stdio: ok", "streamable-http: ok", "legacy-sse: ok"] {
        assert!(
            stdout.contains(transport),
            "missing {transport:?} in:\n{stdout}"
        );
    }
}
