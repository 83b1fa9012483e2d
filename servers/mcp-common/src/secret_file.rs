//! Reading files that hold secrets: refuse any that group or others can read (the old system's
//! "600 rule"), so a leaked permission is caught before the secret is used.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

/// Why a secret file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Group or others may read it.
    #[error(
        "{path} is readable by group or others (mode {mode:04o}); it holds a secret, so run: chmod 600 {path}"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Nothing in it.
    #[error("{path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a secret file after checking its permissions.
pub fn read_checked(path: &Path) -> Result<String, SecretFileError> {
    let read_err = |source| SecretFileError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(read_err)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    fs::read_to_string(path).map_err(read_err)
}

/// Reads the first line of a secret file as a secret.
pub fn read_secret_line(path: &Path) -> Result<SecretString, SecretFileError> {
    let text = read_checked(path)?;
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(SecretFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(SecretString::from(line.to_owned()))
}

/// Shows at most the first and last four characters of a secret, for logs.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 12 {
        return "****".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;

    fn file_with(mode: u32, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        let mut f = fs::File::create(&path).expect("create");
        f.write_all(text.as_bytes()).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        (dir, path)
    }

    #[test]
    fn refuses_group_readable_files() {
        let (_d, path) = file_with(0o640, "k");
        let e = read_checked(&path).expect_err("must refuse");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        assert!(e.to_string().contains("0640"), "{e}");
    }

    #[test]
    fn reads_private_files() {
        let (_d, path) = file_with(0o600, "  the-key-0123456789  \nignored\n");
        assert_eq!(
            read_secret_line(&path).expect("read").expose_secret(),
            "the-key-0123456789"
        );
    }

    #[test]
    fn empty_files_are_an_error() {
        let (_d, path) = file_with(0o600, "\n");
        assert!(matches!(
            read_secret_line(&path),
            Err(SecretFileError::Empty { .. })
        ));
    }

    #[test]
    fn redaction_keeps_at_most_eight_characters() {
        assert_eq!(redact("ya29.abcdefghijklmnop"), "ya29…mnop");
        assert_eq!(redact("short"), "****");
    }
}
