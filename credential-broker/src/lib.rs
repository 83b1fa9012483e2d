//! `credential-broker`: the only process that ever holds shops' refresh tokens. Servers get
//! short-lived access tokens for one shop over a Unix socket, under leases.
//!
//! # Layout
//! - [`daemon`]: what the command line (`cli/`, a separate binary target) starts: the store,
//!   the socket server, `refresh --direct`.
//! - [`server`]: the socket (0700 dir, 0600 socket, peer uid check, frames).
//! - [`broker`]: the dispatcher over the closed request set.
//! - [`leases`]: lease secrets, hashed at rest, cached, expiring.
//! - [`keys`]: shop keys for the gateway, hashed at rest, checked against the row every time.
//! - [`tokens`]: resolution, caching and single-flight refresh of access tokens.
//! - [`integration`]: the dashboard's `data` JSON.
//! - [`store`]: SQLite / PostgreSQL.
//! - [`audit`]: batched audit trail.
//! - [`config`]: file, env and flags.
//! - [`metrics`]: what an operator's Prometheus reads (`serve --metrics`).

#![deny(missing_docs)]

pub mod audit;
pub mod broker;
pub mod config;
pub mod daemon;
pub mod health;
pub mod integration;
pub mod keys;
pub mod leases;
pub mod metrics;
pub mod quota;
pub mod server;
pub mod store;
pub mod tokens;

/// No core dumps and no ptrace from same-uid processes: the broker's memory holds every
/// shop's refresh tokens (ssh-agent does the same from the first line of `main`). Runs before
/// logging is set up, so a failure goes straight to stderr.
pub fn harden() {
    if let Err(e) = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0) {
        eprintln!("credential-broker: cannot disable core dumps: {e}");
    }
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        eprintln!("credential-broker: cannot mark the process undumpable: {e}");
    }
}
