//! `agent-host` binary: parse flags, set up logging (stderr), run the subcommand, exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The host holds lease secrets for many shops (and maybe a host key): its own servers, of
    // the same uid, must not read its memory or trace it, and it leaves no core dump.
    agent_host::harden();
    let cli = agent_host::Cli::parse();
    cli_kit::quiet_when_stdout_closes();
    // Before the runtime opens its own descriptors (and before any child exists to inherit it).
    let host_key = match cli
        .host_key_fd
        .map(agent_host::config::read_host_key)
        .transpose()
    {
        Ok(key) => key,
        Err(e) => {
            eprintln!("agent-host: {e:#}");
            return ExitCode::from(2);
        }
    };
    // The demo prints what it skipped and why itself; its warnings would only repeat that.
    let default = match cli.command {
        agent_host::Command::Demo(_) => "error",
        _ => "warn",
    };
    // Dropped after the runtime: the last spans are sent before exit.
    let _telemetry = telemetry::init("agent-host", cli.log_format, default);
    agent_host::children::log_as(cli.log_format);
    // The gateway only moves requests between sockets and its shops' server processes, which
    // do the work: on one thread, a request's hops between tasks (HTTP, rmcp's service, the
    // server's client) cost no wakeups across threads — a third less added latency, p99
    // under 1 ms (`bench --only gateway`), for about 5 % fewer calls a second at full load.
    let runtime = match cli.command {
        agent_host::Command::Gateway(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent-host: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(agent_host::run(cli, host_key)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agent-host: {}", redaction::text(&cli_kit::said_once(&e)));
            ExitCode::from(2)
        }
    }
}
