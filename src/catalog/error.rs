//! Catalog errors: what the catalog's functions report, in the catalog's
//! own terms (it knows no engine type). The engine converts each variant
//! to the engine error of the same name (`engine::error`'s
//! `From<catalog::Error>`), so a caller sees exactly what it saw when the
//! catalog used the engine's type; the database's errors are classified
//! here once ([`From<rusqlite::Error>`]).

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

/// A database error the catalog does not classify further: its text is
/// the database's own.
pub struct SqlError(rusqlite::Error);

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

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode;
        // The catalog never stores a value of another type, a NULL where a
        // value belongs, or an integer out of range: only damage does.
        if matches!(
            e,
            rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
        ) {
            return Error::Corrupt(format!("catalog row: {e}"));
        }
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) => Error::Timeout,
            Some(ErrorCode::DiskFull) => Error::NoSpace("catalog".into()),
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                Error::Corrupt(format!("catalog: {e}"))
            }
            Some(ErrorCode::SystemIoFailure) => Error::Io {
                what: "catalog".into(),
                source: io::Error::other(e.to_string()),
            },
            _ => Error::Sql(SqlError(e)),
        }
    }
}

// Transparent: the engine's `Error::Catalog` reads (Display and Debug) as
// the database error it wraps, as when it held that error itself.
impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for SqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn sqlite(code: std::ffi::c_int) -> Error {
        Error::from(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None))
    }

    #[test]
    fn sqlite_errors_are_classified_by_what_the_caller_can_do() {
        assert!(matches!(sqlite(ffi::SQLITE_BUSY), Error::Timeout));
        assert!(matches!(sqlite(ffi::SQLITE_FULL), Error::NoSpace(s) if s == "catalog"));
        assert!(matches!(sqlite(ffi::SQLITE_CORRUPT), Error::Corrupt(s) if s.starts_with("catalog: ")));
        assert!(matches!(sqlite(ffi::SQLITE_NOTADB), Error::Corrupt(_)));
        assert!(matches!(sqlite(ffi::SQLITE_IOERR), Error::Io { what, .. } if what == "catalog"));
        assert!(matches!(sqlite(ffi::SQLITE_CONSTRAINT), Error::Sql(_)));
        let e = Error::from(rusqlite::Error::InvalidColumnType(
            0,
            "x".into(),
            rusqlite::types::Type::Null,
        ));
        assert!(matches!(e, Error::Corrupt(s) if s.starts_with("catalog row: ")));
        let full = io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(matches!(Error::io("f", full), Error::NoSpace(s) if s == "f"));
    }
}
