//! The machine the tests run on: child processes, root, optional tools (skip or fail).

/// Process ids whose parent is `pid`, from `/proc/*/stat` (readable for every process, even
/// one that made itself undumpable, unlike `/proc/PID/task/*/children`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    // "pid (comm) state ppid …": comm may hold spaces, so split after ')'.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Whether this test runs as root (some tests switch to another uid, which needs it).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Says loudly that a test skipped, and why — or fails it where every test must run
/// (`BERRYBOO_REQUIRE_ALL_TESTS=1`, as in CI), so a skip never passes for green.
pub fn skip(msg: &str) {
    if std::env::var("BERRYBOO_REQUIRE_ALL_TESTS").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("\n*** {msg} ***\n");
}

/// Skips (returns false) when not root — see [`skip`].
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(&format!(
        "SKIPPED {test}: switching to another uid needs root"
    ));
    false
}

/// Whether the interpreter `python` runs and can `import` every module in `modules` (e.g.
/// `"mcp.client.sse, httpx2"`): what a test needs before it hands work to Python.
pub fn python_imports(python: impl AsRef<std::ffi::OsStr>, modules: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the official Python MCP SDK (tests/python/requirements.txt) is installed; when it
/// is not, `test` [`skip`]s.
pub fn python_sdk_available(test: &str) -> bool {
    let available = python_imports(
        "python3",
        "mcp.client.sse, mcp.client.streamable_http, mcp.client.auth, httpx2",
    );
    if !available {
        skip(&format!(
            "SKIPPED {test}: the `mcp` Python package is missing (pip install -r tests/python/requirements.txt)"
        ));
    }
    available
}
