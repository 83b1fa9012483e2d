//! Typed errors of the sandbox library (fixture loading and validation).
//!
//! HTTP-level failures are not errors of this kind: they are answered to the client in the
//! upstream's own wire format (see `google::rpc`) and never leave the request handler.

use std::path::PathBuf;

/// Everything that can go wrong before the sandbox starts serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The fixtures file could not be read.
    #[error("cannot read fixtures file {}", path.display())]
    Read {
        /// The path that was read.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The fixtures file is not valid TOML or does not match the schema (typos included).
    #[error("fixtures do not parse")]
    Parse(#[from] toml::de::Error),
    /// The fixtures parse but contradict themselves or look unsafe.
    #[error("fixture {location}: {problem}")]
    Invalid {
        /// Where the problem is, e.g. `google_grants[2].client_id`.
        location: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl Error {
    pub(crate) fn invalid(location: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            location: location.into(),
            problem: problem.into(),
        }
    }
}
