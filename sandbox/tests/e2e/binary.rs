//! The built `upstream-sandbox` binary: first stdout line, SIGTERM shutdown, exit code 2 on bad fixtures.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::util::example_fixtures_path;

#[tokio::test]
async fn binary_prints_address_first_and_stops_on_sigterm() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_upstream-sandbox"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--today",
            "2026-10-20",
            "--fixtures",
        ])
        .arg(example_fixtures_path())
        .env("RUST_LOG", "info")
        .env_remove("SANDBOX_BIND")
        .env_remove("SANDBOX_TODAY")
        .env_remove("SANDBOX_TOKEN_TTL")
        .env_remove("SANDBOX_FIXTURES")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sandbox binary");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("first line in time")
        .expect("read")
        .expect("a line");
    let base = first.strip_prefix("listening on ").expect("address line");
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);

    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sandbox-refresh-acme"),
            ("client_id", crate::util::CLIENT_ID),
            ("client_secret", crate::util::CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);

    // SIGTERM the process we started (by its pid) and expect a clean exit.
    let pid = child.id().expect("pid");
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    // Nothing but the address goes to stdout.
    assert_eq!(lines.next_line().await.unwrap(), None);
}

#[tokio::test]
async fn binary_exits_2_on_bad_fixtures() {
    let dir = std::env::temp_dir().join(format!("sandbox-bad-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[[google_clients]]\nclient_id = 'a'\nclient_sekret = 'b'\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_upstream-sandbox"))
        .arg("--fixtures")
        .arg(&file)
        .env_remove("SANDBOX_BIND")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("client_sekret"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
