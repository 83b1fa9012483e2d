//! `agent-host chat-ga4 | chat-gsc | chat-google-ads | chat-meta-ads`: an interactive session
//! with one shop's server for one source. With a model configured, questions go to the model
//! with the server's tools; without one, the session still lists and calls tools directly
//! (`/tools`, `/describe NAME`, `/call NAME {json}`, `/help`, `/quit`). Line editing and
//! history on a terminal; plain lines when stdin is not one (scriptable; EOF ends the session
//! with status 0). `--ask` answers one question and exits.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use broker_proto::Provider;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tracing::Instrument as _;

use crate::children::result_text;
use crate::llm::{Conversation, LlmConfig};
use crate::server_set::{Credentials, ServerSet, SetConfig, SetError};

/// `chat-*` flags.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// The shop (default: BERRYBOO_DEFAULT_SHOP_ID or the config file's default_shop_id).
    #[arg(long, value_name = "ID", conflicts_with = "credentials_path")]
    pub shop_id: Option<String>,
    /// Static credentials instead of the broker (no database needed).
    #[arg(long, value_name = "FILE")]
    pub credentials_path: Option<PathBuf>,
    /// Ask one question (or run one /command) and exit.
    #[arg(long, value_name = "QUESTION")]
    pub ask: Option<String>,
    /// Credential broker socket.
    #[arg(long, value_name = "PATH", env = "BERRYBOO_BROKER_SOCKET")]
    pub broker_socket: Option<PathBuf>,
    /// Upstream base URL passed on to the servers (the sandbox).
    #[arg(long, value_name = "URL", env = "BERRYBOO_API_BASE")]
    pub api_base: Option<String>,
    /// Lifetime of the session's leases, renewed every third of it while the session lives:
    /// if the session dies (even by SIGKILL), its leases end within this time.
    #[arg(long, default_value = "60s", value_parser = parse_lease_ttl)]
    pub lease_ttl: Duration,
}

/// `--lease-ttl`: a duration of at least 10 s, so a renewal every third of it has room to
/// retry before the leases lapse.
fn parse_lease_ttl(text: &str) -> Result<Duration, String> {
    let d = cli_kit::parse_duration(text)?;
    if d < Duration::from_secs(10) {
        return Err(format!(
            "{text} is too short for a lease renewed while the session lives; use 10s or more"
        ));
    }
    Ok(d)
}

const HELP: &str = "Commands: /tools  /describe NAME  /call NAME {json}  /help  /quit — anything else is a question for the model.";

fn connected_line(provider: Provider, set: &ServerSet) -> String {
    let account = set.account(provider);
    let id = match provider {
        Provider::Ga4 => account
            .and_then(|a| a.property_id.clone())
            .map(|p| format!("GA4 property: {p}")),
        Provider::Gsc => account
            .and_then(|a| a.property_url.clone())
            .map(|p| format!("Search Console property: {p}")),
        Provider::GoogleAds => account
            .and_then(|a| a.customer_id.clone())
            .map(|c| format!("Google Ads customer: {c}")),
        Provider::MetaAds => account
            .and_then(|a| a.ad_account_id.clone())
            .map(|a| format!("Meta ad account: {a}")),
    };
    format!(
        "✓ Connected to {}",
        id.unwrap_or_else(|| provider.service_name().to_owned())
    )
}

/// What handling one line came to.
enum Step {
    /// Go on.
    Next,
    /// The tool or the model failed (or the line could not be done), for this reason; the
    /// session goes on, `--ask` exits 1.
    Failed(String),
    /// `/quit`.
    Quit,
}

/// One line of input: a command or a question, each the root of a trace (a chat turn) that
/// its tool calls, their upstream requests and the broker's vends join.
async fn handle(
    line: &str,
    set: &ServerSet,
    conversation: &mut Option<Conversation>,
    out: &mut impl Write,
) -> Result<Step> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Step::Next);
    }
    let span = tracing::info_span!(
        "chat_turn",
        otel.kind = "internal",
        otel.name = "chat turn",
        command = line.starts_with('/'),
    );
    turn(line, set, conversation, out).instrument(span).await
}

async fn turn(
    line: &str,
    set: &ServerSet,
    conversation: &mut Option<Conversation>,
    out: &mut impl Write,
) -> Result<Step> {
    let Some(command) = line.strip_prefix('/') else {
        return Ok(match conversation {
            Some(c) => match c.ask(set, line, out).await {
                Ok(_) => Step::Next,
                Err(e) => Step::Failed(format!("{e:#}")),
            },
            None => Step::Failed(
                "No model is configured, so questions cannot be answered; use /tools and /call. Set BERRYBOO_LLM_BASE_URL and BERRYBOO_LLM_MODEL (e.g. an Ollama or vLLM endpoint) to ask in plain language.".into(),
            ),
        });
    };
    let (name, rest) = command
        .split_once(char::is_whitespace)
        .unwrap_or((command, ""));
    match name {
        "quit" | "exit" | "q" => return Ok(Step::Quit),
        "help" | "?" => writeln!(out, "{HELP}")?,
        "tools" => {
            for (provider, t) in set.tools() {
                let summary = t
                    .description
                    .as_deref()
                    .unwrap_or("")
                    .split('.')
                    .next()
                    .unwrap_or("")
                    .replace('\n', " ");
                writeln!(out, "  {:<34} {:<5} {summary}", t.name, provider.as_str())?;
            }
        }
        "describe" => match set.tool(rest.trim()) {
            Some((_, t)) => {
                writeln!(
                    out,
                    "{}\n\n{}",
                    t.name,
                    t.description.as_deref().unwrap_or("")
                )?;
                writeln!(
                    out,
                    "\nInput schema:\n{}",
                    serde_json::to_string_pretty(&*t.input_schema)?
                )?;
            }
            None => {
                return Ok(Step::Failed(format!(
                    "No tool {:?}; /tools lists them.",
                    rest.trim()
                )));
            }
        },
        "call" => {
            let rest = rest.trim();
            let (tool, json) = rest.split_once(char::is_whitespace).unwrap_or((rest, "{}"));
            let args: Value = match serde_json::from_str(json.trim()) {
                Ok(v) => v,
                Err(e) => {
                    return Ok(Step::Failed(format!(
                        "the arguments are not JSON ({e}); e.g. /call run_report {{\"date_ranges\": [{{\"start_date\": \"7daysAgo\", \"end_date\": \"yesterday\"}}], \"metrics\": [\"sessions\"]}}"
                    )));
                }
            };
            match set.call(tool, args).await {
                Ok(r) => {
                    let (is_error, text) = result_text(&r);
                    if is_error {
                        return Ok(Step::Failed(text.trim_end().to_owned()));
                    }
                    writeln!(out, "{}", text.trim_end())?;
                }
                Err(e) => return Ok(Step::Failed(e.to_string())),
            }
        }
        other => return Ok(Step::Failed(format!("Unknown command /{other}. {HELP}"))),
    }
    out.flush()?;
    Ok(Step::Next)
}

/// Handles `line` in an interactive session: a failure is said in the transcript and the
/// session goes on. False at `/quit`.
async fn converse(
    line: &str,
    set: &ServerSet,
    conversation: &mut Option<Conversation>,
    out: &mut impl Write,
) -> Result<bool> {
    match handle(line, set, conversation, out).await? {
        Step::Next => Ok(true),
        Step::Failed(why) => {
            writeln!(out, "✗ {why}")?;
            out.flush()?;
            Ok(true)
        }
        Step::Quit => Ok(false),
    }
}

/// Runs a chat session for `provider`.
pub async fn run(
    provider: Provider,
    args: ChatArgs,
    file: &crate::config::HostFile,
) -> Result<ExitCode> {
    let credentials = match (&args.shop_id, &args.credentials_path) {
        (_, Some(path)) => Credentials::File(path.clone()),
        (Some(shop), None) => Credentials::Broker {
            shop_id: shop.clone(),
        },
        (None, None) => match std::env::var("BERRYBOO_DEFAULT_SHOP_ID")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| file.default_shop_id.clone())
        {
            Some(shop) => Credentials::Broker { shop_id: shop },
            None => {
                eprintln!(
                    "No shop: pass --shop-id ID (or set BERRYBOO_DEFAULT_SHOP_ID), or --credentials-path FILE."
                );
                return Ok(ExitCode::from(2));
            }
        },
    };
    let config = Arc::new(SetConfig {
        broker_socket: args
            .broker_socket
            .clone()
            .unwrap_or_else(broker_proto::default_socket_path),
        servers_dir: crate::children::servers_dir()?,
        api_base: args.api_base.clone(),
        lease_ttl: args.lease_ttl,
        child_log: "error".into(),
        host_key: file.host_key.clone(),
        metrics: Default::default(),
    });
    let set = match ServerSet::start(config, credentials.clone(), &[provider]).await {
        Ok(set) => set,
        Err(SetError::Broker(e)) => {
            // The guide's message ("No Google Analytics integration found for shop …").
            println!("{e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut out = std::io::stdout();
    writeln!(out, "{}", connected_line(provider, &set))?;
    match &credentials {
        Credentials::Broker { shop_id } => {
            writeln!(out, "Shop: {shop_id}")?;
            writeln!(
                out,
                "✓ Using dynamic OAuth credentials from the credential broker ({})",
                set.lease_ids.join(", ")
            )?;
        }
        Credentials::File(path) => {
            writeln!(out, "✓ Using static credentials from {}", path.display())?
        }
    }
    let names: Vec<String> = set
        .tools()
        .into_iter()
        .map(|(_, t)| t.name.to_string())
        .collect();
    writeln!(out, "Available tools: {}", names.join(", "))?;

    let llm = LlmConfig::resolve(file.llm.as_ref());
    let mut conversation = match &llm {
        Some(c) => {
            let system = format!(
                "You are an analyst for one online shop. Answer with numbers from the {} tools you are given; say which dates and filters you used. {}",
                provider.service_name(),
                connected_line(provider, &set).trim_start_matches("✓ ")
            );
            Some(Conversation::new(c, &set, &system)?)
        }
        None => {
            writeln!(
                out,
                "No model configured: set BERRYBOO_LLM_BASE_URL and BERRYBOO_LLM_MODEL to ask questions; meanwhile {HELP}"
            )?;
            None
        }
    };

    let result = session(&set, &mut conversation, args.ask.as_deref(), &mut out).await;
    set.shutdown().await;
    result
}

async fn session(
    set: &ServerSet,
    conversation: &mut Option<Conversation>,
    ask: Option<&str>,
    out: &mut impl Write,
) -> Result<ExitCode> {
    if let Some(q) = ask {
        // One question for a script: the answer on stdout, a failure on stderr and exit 1.
        return Ok(match handle(q, set, conversation, out).await? {
            Step::Failed(why) => {
                out.flush()?;
                eprintln!("agent-host: {}", redaction::text(&why));
                ExitCode::from(1)
            }
            Step::Next | Step::Quit => ExitCode::SUCCESS,
        });
    }
    if std::io::stdin().is_terminal() {
        let mut editor = rustyline::DefaultEditor::new()?;
        loop {
            // rustyline blocks; keep the runtime's other tasks (child I/O) running meanwhile.
            let line = tokio::task::block_in_place(|| editor.readline("> "));
            match line {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    if !converse(&line, set, conversation, out).await? {
                        break;
                    }
                }
                Err(
                    rustyline::error::ReadlineError::Interrupted
                    | rustyline::error::ReadlineError::Eof,
                ) => break,
                Err(e) => return Err(e.into()),
            }
        }
    } else {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            if !converse(&line, set, conversation, out).await? {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lease_ttls_leave_room_to_renew() {
        use super::parse_lease_ttl;
        assert_eq!(
            parse_lease_ttl("8h").ok().map(|d| d.as_secs()),
            Some(28_800)
        );
        assert!(parse_lease_ttl("5s").is_err_and(|e| e.contains("too short")));
        assert!(parse_lease_ttl("8 hours").is_err());
    }
}
