//! The credential broker: its process, its command line, waiting on its audit and notifications, and a throwaway PostgreSQL database.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::*;

/// Runs `credential-broker` with `args` and the sandbox's OAuth client in the environment.
pub async fn broker_cli(sandbox: &Sandbox, args: &[&str]) -> Result<std::process::Output> {
    Ok(Command::new(bin("credential-broker"))
        .args(args)
        .env("BERRYBOO_GOOGLE_CLIENT_ID", CLIENT_ID)
        .env("BERRYBOO_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
        .env("BERRYBOO_API_BASE", &sandbox.base)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await?)
}

/// The broker's audit trail of `database` (as `audit --json`) once `done` holds for it. Audit
/// rows are written behind the requests, in batches: a test waits for the rows it expects, up
/// to a minute, and gets the last trail read either way so its own assertion explains a miss.
pub async fn audit_until(
    sandbox: &Sandbox,
    database: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>> {
    cli_list_until(
        sandbox,
        &["audit", "--database", database, "--json", "--limit", "5000"],
        done,
    )
    .await
}

/// The broker's notifications of `database` (as `notifications --json`) once `done` holds for
/// them: the broker records some in the background (its sweep of expiring Meta tokens).
pub async fn notifications_until(
    sandbox: &Sandbox,
    database: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>> {
    cli_list_until(
        sandbox,
        &[
            "notifications",
            "--database",
            database,
            "--json",
            "--limit",
            "1000",
        ],
        done,
    )
    .await
}

/// The JSON list `credential-broker ARGS` prints, once `done` holds for it (up to a minute).
async fn cli_list_until(
    sandbox: &Sandbox,
    args: &[&str],
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = broker_cli(sandbox, args).await?;
        anyhow::ensure!(
            out.status.success(),
            "{} failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
        if done(&list) || std::time::Instant::now() >= deadline {
            return Ok(list);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A PostgreSQL database created for one test and dropped after it, when
/// `TEST_POSTGRES_URL` is set. Without it, [`TestPostgres::create`] returns `None` after a loud
/// line on stderr — or panics when `BERRYBOO_REQUIRE_ALL_TESTS=1` (CI), so a skip never
/// passes for green.
pub struct TestPostgres {
    admin_url: String,
    name: String,
    /// URL of the fresh database.
    pub url: String,
}

impl TestPostgres {
    /// A fresh, empty database, or `None` (skip) without PostgreSQL.
    pub fn create(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
            skip(&format!(
                "SKIPPED {test} on PostgreSQL: TEST_POSTGRES_URL is not set"
            ));
            return None;
        };
        let name = format!("berryboo_e2e_{:016x}", rand::random::<u64>());
        let out = std::process::Command::new("psql")
            .arg(&admin_url)
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "CREATE DATABASE failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("TEST_POSTGRES_URL must end with /DATABASE"),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.admin_url)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A running `credential-broker serve` on a private socket, killed on drop.
pub struct BrokerProc {
    child: Child,
    dir: tempfile::TempDir,
    /// Its socket.
    pub socket: PathBuf,
    /// Its database URL.
    pub database: String,
    /// Everything it wrote to stderr so far (drained by a task).
    pub logs: std::sync::Arc<std::sync::Mutex<String>>,
    rust_log: String,
}

impl BrokerProc {
    /// A migrated and seeded SQLite database in a temp dir; returns (dir, url).
    pub async fn sqlite_db(sandbox: &Sandbox) -> Result<(tempfile::TempDir, String)> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("shops.db").display());
        Self::prepare(sandbox, &url).await?;
        Ok((dir, url))
    }

    /// A broker serving a fresh [`BrokerProc::sqlite_db`], logging warnings; the directory
    /// holds its database and goes with it.
    pub async fn with_sqlite(sandbox: &Sandbox) -> Result<(tempfile::TempDir, Self)> {
        let (dir, url) = Self::sqlite_db(sandbox).await?;
        Ok((dir, Self::start(sandbox, &url, "warn", "").await?))
    }

    /// Migrates `url` and seeds it with [`broker_seed`].
    pub async fn prepare(sandbox: &Sandbox, url: &str) -> Result<()> {
        Self::prepare_with(sandbox, url, &broker_seed()).await
    }

    /// Migrates `url` and seeds it with `seed` (TOML, the `seed` command's format).
    pub async fn prepare_with(sandbox: &Sandbox, url: &str, seed: &str) -> Result<()> {
        let seed_dir = tempfile::tempdir()?;
        let seed_path = seed_dir.path().join("seed.toml");
        std::fs::write(&seed_path, seed)?;
        for args in [
            vec!["migrate", "--database", url],
            vec![
                "seed",
                "--database",
                url,
                "--file",
                seed_path.to_str().unwrap_or(""),
            ],
        ] {
            let out = broker_cli(sandbox, &args).await?;
            if !out.status.success() {
                bail!(
                    "credential-broker {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(())
    }

    /// Starts `serve` on `database` with the sandbox as Google, `rust_log` as its filter and
    /// `config` (TOML) as its config file.
    pub async fn start(
        sandbox: &Sandbox,
        database: &str,
        rust_log: &str,
        config: &str,
    ) -> Result<Self> {
        Self::start_at(sandbox, database, rust_log, config, tempfile::tempdir()?).await
    }

    /// [`BrokerProc::start`] with its socket at `dir/run/broker.sock` (a test may prepare the
    /// directory's permissions first).
    pub async fn start_at(
        sandbox: &Sandbox,
        database: &str,
        rust_log: &str,
        config: &str,
        dir: tempfile::TempDir,
    ) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let socket = dir.path().join("run/broker.sock");
        let config_path = dir.path().join("broker.toml");
        std::fs::write(&config_path, config)?;
        std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600))?;
        let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let child = Self::launch(sandbox, database, rust_log, &socket, &config_path, &logs).await?;
        Ok(Self {
            child,
            dir,
            socket,
            database: database.to_owned(),
            logs,
            rust_log: rust_log.to_owned(),
        })
    }

    /// Stops it (SIGKILL: no goodbye to anyone), leaving its socket path and database.
    pub async fn stop(&mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Starts it again on the same socket, database and config (after [`BrokerProc::stop`]).
    pub async fn start_again(&mut self, sandbox: &Sandbox) -> Result<()> {
        let config_path = self.dir.path().join("broker.toml");
        self.child = Self::launch(
            sandbox,
            &self.database,
            &self.rust_log,
            &self.socket,
            &config_path,
            &self.logs,
        )
        .await?;
        Ok(())
    }

    async fn launch(
        sandbox: &Sandbox,
        database: &str,
        rust_log: &str,
        socket: &Path,
        config_path: &Path,
        logs: &std::sync::Arc<std::sync::Mutex<String>>,
    ) -> Result<Child> {
        let mut child = Command::new(bin("credential-broker"))
            .args(["serve", "--database", database, "--socket"])
            .arg(socket)
            .arg("--config")
            .arg(config_path)
            .env("BERRYBOO_GOOGLE_CLIENT_ID", CLIENT_ID)
            .env("BERRYBOO_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
            .env("BERRYBOO_API_BASE", &sandbox.base)
            .env("RUST_LOG", rust_log)
            .envs(crate::otel_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start credential-broker (run `cargo build` first)")?;
        if let Some(stderr) = child.stderr.take() {
            let sink = logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut l) = sink.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if broker_proto::client::BrokerClient::connect(socket)
                .await
                .is_ok()
            {
                return Ok(child);
            }
            if let Ok(Some(status)) = child.try_wait() {
                let l = logs.lock().map(|l| l.clone()).unwrap_or_default();
                bail!("credential-broker exited with {status}: {l}");
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "credential-broker did not open {} in 20 s",
                    socket.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `credential-broker ARGS --socket <its socket>` (an admin's command through this broker):
    /// its output, whatever the exit status.
    pub async fn cli(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(Command::new(bin("credential-broker"))
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await?)
    }

    /// A connected client.
    pub async fn client(&self) -> Result<broker_proto::client::BrokerClient> {
        Ok(broker_proto::client::BrokerClient::connect(&self.socket).await?)
    }

    /// A lease for `shop` and `providers` (1 hour).
    pub async fn lease(
        &self,
        shop: &str,
        providers: &[broker_proto::Provider],
    ) -> Result<broker_proto::LeaseGrant> {
        Ok(self
            .client()
            .await?
            .create_lease(shop, providers, 3600)
            .await?)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The private directory it runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The `ga4-mcp` command for a broker-backed shop: lease in the environment, never argv.
pub fn ga4_broker_command(
    sandbox: &Sandbox,
    broker: &BrokerProc,
    shop: &str,
    lease: &str,
) -> Command {
    broker_server_command("ga4-mcp", sandbox, broker, shop, lease)
}

/// The command of server `binary` for a broker-backed shop: lease in the environment, never
/// argv; the account comes from the shop's integration.
pub fn broker_server_command(
    binary: &str,
    sandbox: &Sandbox,
    broker: &BrokerProc,
    shop: &str,
    lease: &str,
) -> Command {
    let mut cmd = Command::new(bin(binary));
    cmd.args(["--shop-id", shop, "--api-base", &sandbox.base])
        .arg("--broker-socket")
        .arg(&broker.socket)
        .env("BERRYBOO_LEASE", lease)
        .env("BERRYBOO_TODAY", TODAY)
        .env("RUST_LOG", "warn")
        .env_remove("BERRYBOO_CREDENTIALS_PATH")
        .env_remove("BERRYBOO_HTTP_KEY");
    cmd
}
