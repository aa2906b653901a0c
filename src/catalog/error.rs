//! Catalog errors: what the catalog's functions report, in the catalog's
//! own terms (it knows no engine type). The engine converts each variant
//! to the engine error of the same name (`engine::error`'s
//! `From<catalog::Error>`), so a caller sees exactly what it saw when the
//! catalog used the engine's type; the database's errors are classified
//! by each backend and mapped here once ([`From<SqlError>`]).

use std::fmt;
use std::io;

/// Catalog result.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything a catalog function can report.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An argument the catalog cannot store (an LSU that exists, a value
    /// past what SQLite holds, a chunk past `MAX_CHUNK`).
    Invalid(String),
    /// A length past a fixed limit.
    TooBig(String),
    /// The file is a catalog of another format.
    NoServer(String),
    /// No LSU of that name (or id).
    NoLsu(String),
    /// No image (or archive record) of that name.
    NoImage(String),
    /// The image (or running operation name) already exists.
    Exists(String),
    /// The LSU still holds images.
    NotEmpty(String),
    /// No space on the filesystem (the database is full, or ENOSPC/EDQUOT).
    NoSpace(String),
    /// An I/O error on a named object.
    Io { what: String, source: io::Error },
    /// Catalog rows (or the database file) failed verification.
    Corrupt(String),
    /// Another process held the database lock past the busy timeout.
    Timeout,
    /// Any other database error.
    Sql(SqlError),
}

pub use super::backend::SqlError;
use super::backend::SqlKind;

impl Error {
    /// Wraps an `io::Error` about `what`, turning ENOSPC/EDQUOT into [`Error::NoSpace`].
    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        let what = what.into();
        match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => Error::NoSpace(what),
            _ => Error::Io { what, source },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The same words as the engine error each variant becomes.
        match self {
            Error::Invalid(s) => write!(f, "invalid argument: {s}"),
            Error::TooBig(s) => write!(f, "too large: {s}"),
            Error::NoServer(s) => write!(f, "not a combstore server: {s}"),
            Error::NoLsu(s) => write!(f, "no such LSU: {s}"),
            Error::NoImage(s) => write!(f, "no such image: {s}"),
            Error::Exists(s) => write!(f, "image exists: {s}"),
            Error::NotEmpty(s) => write!(f, "not empty: {s}"),
            Error::NoSpace(s) => write!(f, "no space left: {s}"),
            Error::Io { what, source } => write!(f, "I/O error on {what}: {source}"),
            Error::Corrupt(s) => write!(f, "corruption: {s}"),
            Error::Timeout => write!(f, "catalog locked by another process for too long"),
            Error::Sql(e) => write!(f, "catalog error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Sql(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Error {
        match e.kind {
            SqlKind::Conversion => Error::Corrupt(format!("catalog row: {e}")),
            SqlKind::Busy => Error::Timeout,
            SqlKind::Full => Error::NoSpace("catalog".into()),
            SqlKind::Corrupt => Error::Corrupt(format!("catalog: {e}")),
            SqlKind::Io => Error::Io {
                what: "catalog".into(),
                source: io::Error::other(e.to_string()),
            },
            SqlKind::NoRows | SqlKind::Constraint | SqlKind::Other => Error::Sql(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_filesystem_is_no_space() {
        let full = io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(matches!(Error::io("f", full), Error::NoSpace(s) if s == "f"));
    }
}
