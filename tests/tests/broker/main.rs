//! `credential-broker` end to end: the real broker process on a real socket, the real sandbox
//! as Google's token endpoint, SQLite always and PostgreSQL when `TEST_POSTGRES_URL` is set.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use berryboo_e2e::{
    BrokerProc, META_APP_CONFIG, Sandbox, Scrape, TestPostgres, broker_cli, call, connect, err,
    ga4_broker_command, ok, scrape, shops,
};
use broker_proto::frame::{self, FrameDecoder};
use broker_proto::{ErrorCode, LeaseSecret, PROTOCOL_VERSION, Provider, Request, Response};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod metrics;
mod operator;
mod postgres;
mod socket;
mod tokens;

const NO_CONFIG: &str = "";

async fn sqlite_broker(sandbox: &Sandbox) -> (tempfile::TempDir, BrokerProc) {
    let (dir, url) = BrokerProc::sqlite_db(sandbox)
        .await
        .expect("migrated and seeded SQLite");
    let broker = BrokerProc::start(sandbox, &url, "info", NO_CONFIG)
        .await
        .expect("broker starts");
    (dir, broker)
}

fn code(e: &broker_proto::client::ClientError) -> ErrorCode {
    e.broker_error()
        .map(|b| b.code)
        .unwrap_or(ErrorCode::Internal)
}

async fn read_response(s: &mut tokio::net::UnixStream) -> Option<Response> {
    let mut decoder = FrameDecoder::default();
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(Some(body)) = decoder.next_frame() {
            return frame::decode(&body).ok();
        }
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        decoder.push(&buf[..n]);
    }
}
