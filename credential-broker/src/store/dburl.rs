//! Database URLs: which backend a URL names, and the form of it that may appear in errors and
//! logs (any password replaced by `****`).

use super::Backend;

/// What replaces a password in a URL shown to people.
const MASK: &str = "****";

/// The backend a URL names by its scheme, or `None` for any other scheme.
pub(crate) fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

/// `url` with its password (in the userinfo or a `password=` query parameter) replaced, for
/// error messages and logs.
pub(crate) fn redact(url: &str) -> String {
    // SQLite URLs are file paths and carry no credentials; showing them verbatim (not
    // re-encoded by a URL parser) lets the operator recognise the path they typed.
    if url.starts_with("sqlite:") {
        return url.to_owned();
    }
    match ::url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have credentials, which then have none to hide.
                let _ = parsed.set_password(Some(MASK));
            }
            if parsed.query().is_some() {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let secret = k.eq_ignore_ascii_case("password")
                            || k.eq_ignore_ascii_case("sslpassword");
                        let v = if secret {
                            MASK.to_owned()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        // Unparseable: hide everything that could be userinfo rather than guess.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                format!("{}{MASK}{}", &url[..start + 3], &url[at..])
            }
            _ if url.contains('@') || url.contains("password") => "<unparseable URL>".to_owned(),
            _ => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_select_backends() {
        assert_eq!(backend_of("sqlite://a.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite:a.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("postgresql://h/db"), Some(Backend::Postgres));
        assert_eq!(backend_of("mysql://h/db"), None);
        assert_eq!(backend_of("/var/lib/x.db"), None);
    }

    #[test]
    fn passwords_are_masked() {
        let shown = redact("postgres://broker:hunter2@db.internal:5432/shop?sslmode=require");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("broker:****@db.internal:5432/shop"),
            "{shown}"
        );
        assert!(shown.contains("sslmode=require"), "{shown}");

        let shown = redact("postgresql://db/shop?user=broker&password=hunter2");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("user=broker"), "{shown}");

        // An invalid port makes the URL unparseable; the userinfo must still disappear.
        let shown = redact("postgres://broker:hunter2@db:99999999/shop");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "postgres://****@db:99999999/shop");
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        assert_eq!(
            redact("sqlite:///var/lib/broker.db"),
            "sqlite:///var/lib/broker.db"
        );
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact("postgres://db/shop"), "postgres://db/shop");
    }
}
