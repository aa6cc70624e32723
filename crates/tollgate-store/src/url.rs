//! Ledger URLs (`metering.ledger` in the configuration, `--ledger` on the command line).
//!
//! One string names both the kind of store and where it is, so the same setting works for the
//! embedded SQLite ledger of a single node and, later, a shared PostgreSQL ledger.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Why a ledger URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The string is not a ledger URL tollgate understands.
    #[error("invalid ledger URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
}

/// A parsed ledger URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An embedded SQLite file. Relative paths are relative to the working directory.
    Sqlite { path: PathBuf },
    /// A PostgreSQL connection string, kept verbatim (`postgres://user:pass@host/db`).
    /// Parsed so configurations can name it already; opening it is not supported yet.
    Postgres { url: String },
}

impl StoreUrl {
    /// The URL with any password replaced by `***`, for messages and logs.
    pub fn redacted(&self) -> String {
        self.to_string()
    }
}

/// Shows the URL as a user would write it, never with a PostgreSQL password (it ends up in
/// logs and error messages).
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            StoreUrl::Postgres { url } => f.write_str(&redact_password(url)),
        }
    }
}

impl FromStr for StoreUrl {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_store_url(s)
    }
}

/// Parse a ledger URL.
///
/// Accepted forms:
/// - `sqlite://tollgate.db` (relative), `sqlite:///var/lib/tollgate.db` (absolute),
///   `sqlite:tollgate.db`;
/// - a bare path (`tollgate.db`, `/var/lib/tollgate.db`), treated as SQLite;
/// - `postgres://…` and `postgresql://…` (parsed, but [`crate::open`] refuses them for now).
///
/// Anything that looks like another scheme (`mysql://…`, `sqlit:x.db`) is an error rather than
/// a file name, so a typo does not silently create a ledger file with a strange name.
pub fn parse_store_url(s: &str) -> Result<StoreUrl, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: s.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(invalid("the URL is empty"));
    }
    match split_scheme(trimmed) {
        None => Ok(StoreUrl::Sqlite {
            path: PathBuf::from(trimmed),
        }),
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    Err(invalid("no file path after `sqlite:`"))
                } else {
                    Ok(StoreUrl::Sqlite {
                        path: PathBuf::from(path),
                    })
                }
            }
            "postgres" | "postgresql" => match rest.strip_prefix("//") {
                Some(after) if !after.is_empty() => Ok(StoreUrl::Postgres {
                    url: trimmed.to_owned(),
                }),
                _ => Err(invalid(
                    "a PostgreSQL URL looks like postgres://user@host/database",
                )),
            },
            other => Err(invalid(&format!(
                "unsupported scheme `{other}` (use sqlite://PATH or postgres://HOST/DB)"
            ))),
        },
    }
}

/// Split `scheme:rest` when the string starts with something that can only be a URL scheme.
///
/// A scheme must be at least two characters, so a Windows drive letter (`C:\ledger.db`) stays
/// a path.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let scheme_like = scheme.len() >= 2
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_like.then_some((scheme, rest))
}

/// Replace the password of `scheme://user:password@host…` by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.split_once(':') {
        Some((user, _password)) => {
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(p: &str) -> StoreUrl {
        StoreUrl::Sqlite {
            path: PathBuf::from(p),
        }
    }

    #[test]
    fn sqlite_forms() {
        assert_eq!(
            parse_store_url("sqlite://tollgate.db"),
            Ok(sqlite("tollgate.db"))
        );
        assert_eq!(
            parse_store_url("sqlite://./data/tollgate.db"),
            Ok(sqlite("./data/tollgate.db"))
        );
        assert_eq!(
            parse_store_url("sqlite:///var/lib/tollgate.db"),
            Ok(sqlite("/var/lib/tollgate.db"))
        );
        assert_eq!(
            parse_store_url("sqlite:relative.db"),
            Ok(sqlite("relative.db"))
        );
        assert_eq!(
            parse_store_url("SQLite:relative.db"),
            Ok(sqlite("relative.db"))
        );
        assert_eq!(parse_store_url("tollgate.db"), Ok(sqlite("tollgate.db")));
        assert_eq!(
            parse_store_url("/abs/tollgate.db"),
            Ok(sqlite("/abs/tollgate.db"))
        );
        assert_eq!(parse_store_url("C:\\x\\t.db"), Ok(sqlite("C:\\x\\t.db")));
    }

    #[test]
    fn display_round_trips_sqlite() {
        for s in [
            "sqlite://tollgate.db",
            "sqlite:///abs/path.db",
            "sqlite://./t.db",
        ] {
            let url = parse_store_url(s).unwrap();
            assert_eq!(url.to_string(), s);
            assert_eq!(parse_store_url(&url.to_string()), Ok(url));
        }
        assert_eq!(
            parse_store_url("sqlite:rel.db").unwrap().to_string(),
            "sqlite://rel.db"
        );
    }

    #[test]
    fn postgres_parses_and_hides_password() {
        let url = parse_store_url("postgres://meter:s3cret@db.internal:5432/tollgate").unwrap();
        assert_eq!(
            url,
            StoreUrl::Postgres {
                url: "postgres://meter:s3cret@db.internal:5432/tollgate".into()
            }
        );
        assert_eq!(
            url.to_string(),
            "postgres://meter:***@db.internal:5432/tollgate"
        );
        assert!(!url.redacted().contains("s3cret"));
        let url = parse_store_url("postgresql://db/tollgate").unwrap();
        assert_eq!(url.to_string(), "postgresql://db/tollgate");
        assert!(parse_store_url("postgres://").is_err());
        assert!(parse_store_url("postgres:db").is_err());
    }

    #[test]
    fn other_schemes_and_empty_are_errors_naming_the_url() {
        for s in [
            "mysql://x/y",
            "sqlit:x.db",
            "redis://localhost",
            "",
            "  ",
            "sqlite://",
        ] {
            let err = parse_store_url(s).unwrap_err();
            let StoreError::InvalidUrl { url, .. } = &err;
            assert_eq!(url, s);
            assert!(err.to_string().contains(&format!("`{s}`")), "{err}");
        }
        let err = parse_store_url("mysql://x/y").unwrap_err().to_string();
        assert!(err.contains("unsupported scheme `mysql`"), "{err}");
    }
}
