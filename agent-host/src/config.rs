//! Agent-host settings: flags and environment, plus an optional TOML file (`--config`) for the
//! model endpoint. The file may hold an API key, so it must not be readable by others.
//!
//! ```toml
//! default_shop_id = "cac9d883-015f-478e-a93f-32ef401582a3"
//! [llm]
//! base_url = "http://127.0.0.1:11434/v1"
//! model = "qwen2.5:14b"
//! api_key = "…"          # or BERRYBOO_LLM_API_KEY
//! ```

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFile {
    /// Shop used when `--shop-id` is omitted (after `BERRYBOO_DEFAULT_SHOP_ID`).
    pub default_shop_id: Option<String>,
    /// Model endpoint.
    pub llm: Option<LlmFile>,
}

/// `[llm]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmFile {
    /// OpenAI-compatible base URL.
    pub base_url: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// API key.
    pub api_key: Option<String>,
}

/// Reads `path` (refusing it if it holds a key and others can read it).
pub fn load(path: Option<&Path>) -> Result<HostFile> {
    let Some(path) = path else {
        return Ok(HostFile::default());
    };
    use std::os::unix::fs::PermissionsExt;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: HostFile =
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if file.llm.as_ref().is_some_and(|l| l.api_key.is_some()) && mode & 0o077 != 0 {
        bail!(
            "{} holds an API key and is readable by group or others (mode {mode:04o}); run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    Ok(file)
}
