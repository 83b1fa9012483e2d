//! Shared helpers: start a sandbox on a free port, get tokens, call endpoints.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;
use upstream_sandbox::{Fixtures, SandboxConfig};

pub const CLIENT_ID: &str = "sandbox-client.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
pub const ACME: &str = "326784853";

pub fn example_fixtures_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sandbox-fixtures.toml")
}

pub fn example_config() -> SandboxConfig {
    let fixtures = Fixtures::load(example_fixtures_path()).expect("example fixtures load");
    SandboxConfig {
        fixtures,
        today: chrono::NaiveDate::from_ymd_opt(2026, 10, 20),
        token_ttl: Duration::from_secs(3600),
        ads_fields_page_size: upstream_sandbox::gads::FIELDS_MAX_PAGE,
    }
}

pub struct Sandbox {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Sandbox {
    pub async fn start() -> Self {
        Self::start_with(example_config()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(upstream_sandbox::run(listener, config, async move {
            let _ = stopped.await;
        }));
        Sandbox {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Exchanges a refresh token; returns (status, body).
    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .expect("token request");
        let status = r.status();
        (status, r.json().await.expect("token json"))
    }

    pub async fn token(&self, refresh_token: &str) -> String {
        let (status, body) = self.refresh(refresh_token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("post");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("control");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn counters(&self) -> Value {
        self.control(reqwest::Method::GET, "/__sandbox/counters", None)
            .await
            .1
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task).await;
            assert!(
                matches!(result, Ok(Ok(Ok(())))),
                "server did not stop cleanly"
            );
        }
    }
}

pub fn run_report_body() -> Value {
    serde_json::json!({
        "dateRanges": [{"startDate": "28daysAgo", "endDate": "yesterday"}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": "sessions"}, {"name": "engagementRate"}],
    })
}

pub fn num(v: &Value) -> f64 {
    v.as_str()
        .expect("wire values are strings")
        .parse()
        .expect("numeric")
}
