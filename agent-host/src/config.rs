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

/// The config file, and the host key read at start-up.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFile {
    /// Shop used when `--shop-id` is omitted (after `BERRYBOO_DEFAULT_SHOP_ID`).
    pub default_shop_id: Option<String>,
    /// Model endpoint.
    pub llm: Option<LlmFile>,
    /// The host key from `--host-key-fd` (never from this file: a file the host can read, its
    /// servers can read too).
    #[serde(skip)]
    pub host_key: Option<broker_proto::HostKey>,
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

/// Reads the host key from inherited descriptor `fd` and closes it (so no child inherits it);
/// descriptor 0 (systemd's `StandardInput=file:…`) is replaced by /dev/null instead. Call it
/// before anything else opens a descriptor (the async runtime does): a number the operator
/// named must still be the one the parent handed over.
pub fn read_host_key(fd: i32) -> Result<broker_proto::HostKey> {
    if fd == 1 || fd == 2 || fd < 0 {
        bail!("--host-key-fd {fd}: use 0 (stdin) or a descriptor of 3 or more");
    }
    // Read through the descriptor itself: re-opening it by its /proc path would check the
    // permissions of a root-owned key file (or pipe) again, as this process's uid.
    let text = if fd == 0 {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("--host-key-fd 0: cannot read the host key from stdin")?;
        let null = std::fs::File::open("/dev/null").context("cannot open /dev/null")?;
        nix::unistd::dup2_stdin(&null).context("cannot detach stdin from the host key")?;
        text
    } else {
        let mut file = inherited(fd)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text)
            .with_context(|| format!("--host-key-fd {fd}: cannot read the host key"))?;
        // Dropping the file closes the descriptor.
        text
    };
    let key = text.lines().next().unwrap_or("").trim();
    if key.is_empty() {
        bail!("--host-key-fd {fd}: empty (expected the key `credential-broker host-key` printed)");
    }
    redaction::learn_lasting(key);
    Ok(broker_proto::HostKey::new(key.to_owned()))
}

/// Takes ownership of inherited descriptor `fd` (≥ 3), after checking that it is open.
#[allow(unsafe_code)]
fn inherited(fd: i32) -> Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // An open descriptor has an entry here; a number nobody handed over has none.
    std::fs::symlink_metadata(format!("/proc/self/fd/{fd}"))
        .with_context(|| format!("--host-key-fd {fd}: no such open descriptor"))?;
    // SAFETY: the descriptor is open (checked above) and was inherited: `read_host_key` runs
    // before this process opens any descriptor of its own (see its docs), so nothing else in
    // the process owns it, and the returned file becomes its only owner.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}
