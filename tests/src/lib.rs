//! Harness for end-to-end tests and the bench: start the real `upstream-sandbox` and server
//! binaries, talk to them over real pipes and sockets, and drive the sandbox's control plane.
//!
//! Binaries are found next to the running executable (target/<profile>/, one level up from
//! deps/), as ripgrep's tests do, because `CARGO_BIN_EXE_*` only covers this package's own.

#![deny(missing_docs)]

mod broker;
mod chat;
mod fixtures;
mod host;
mod mcp;
mod metrics;
mod sandbox;
mod traces;

pub use broker::*;
pub use chat::*;
pub use fixtures::*;
pub use host::*;
pub use mcp::*;
pub use metrics::*;
pub use sandbox::*;
pub use traces::*;

/// The date every test's sandbox treats as today, so relative dates are deterministic.
pub const TODAY: &str = "2026-10-21";

/// OAuth client every test fixture declares.
pub const CLIENT_ID: &str = "sandbox-client.apps.googleusercontent.com";
/// Its secret.
pub const CLIENT_SECRET: &str = "sandbox-client-secret-e2e";
