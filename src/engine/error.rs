//! Engine errors.
//!
//! Rules: every failure the engine can report is one variant here, named
//! for what the caller can do about it (fix an argument, wait, delete, give
//! up). I/O errors keep their `io::Error` and say which object failed.
//! Corruption is always reported as [`Error::Corrupt`], never as wrong
//! bytes. The C boundary maps each variant to exactly one STS_E* code in
//! `ffi::status`; nothing else in the crate chooses codes.

use std::fmt;
use std::io;

use crate::catalog;

/// Engine result.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in the engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An argument has a value no other variant names (flags, modes).
    Invalid(String),
    /// A name breaks the naming rules (see `engine::names`).
    Name(String),
    /// A length or offset is not a multiple of the block size.
    Align,
    /// An offset lies beyond the end of the object.
    Range(String),
    /// A length exceeds a fixed limit.
    TooBig(String),
    /// The directory is not (and cannot become) a server.
    NoServer(String),
    /// No LSU of that name.
    NoLsu(String),
    /// No image of that name, or it was deleted.
    NoImage(String),
    /// The image already exists.
    Exists(String),
    /// The image is open for writing by a live handle.
    Busy(String),
    /// The LSU still holds images (removing it needs them deleted first).
    NotEmpty(String),
    /// The server is in use by processes that must close first (an older
    /// combstore holding a format 1 server open: it is upgraded after).
    InUse(String),
    /// The image is complete and cannot be written.
    Complete(String),
    /// The image is not complete and cannot be read.
    NotComplete(String),
    /// The image was abnormally completed with damaged data.
    Broken(String),
    /// The handle's mode does not allow the operation.
    Mode(&'static str),
    /// Credentials do not match.
    Auth,
    /// The operation needs both images on one server.
    CrossServer(String),
    /// No asynchronous operation of that name (running, for cancel).
    NoOp(String),
    /// No event of that id.
    NoEvent(u64),
    /// The operation was cancelled.
    Cancelled,
    /// No space on the filesystem.
    NoSpace(String),
    /// An I/O error on a named object.
    Io { what: String, source: io::Error },
    /// Stored bytes or catalog rows failed verification.
    Corrupt(String),
    /// An earlier buffered write on this handle failed.
    PreviousIo,
    /// The catalog stayed locked by another process too long.
    Timeout,
    /// The asynchronous operation waited for is still running.
    Running(String),
    /// A catalog (SQLite) error other than busy, full, corrupt or I/O.
    Catalog(catalog::SqlError),
}

impl Error {
    /// Wraps an `io::Error` about `what`, turning ENOSPC/EDQUOT into [`Error::NoSpace`].
    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        let what = what.into();
        match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => Error::NoSpace(what),
            // a pool's object store full (store::s3)
            _ if source.kind() == io::ErrorKind::StorageFull => Error::NoSpace(format!("{what}: {source}")),
            _ => Error::Io { what, source },
        }
    }

    /// The error's kind: stable, storable (async operation outcomes are
    /// catalog rows), and what the C boundary maps to a code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Name(_) => ErrorKind::Name,
            Error::Align => ErrorKind::Align,
            Error::Range(_) => ErrorKind::Range,
            Error::TooBig(_) => ErrorKind::TooBig,
            Error::NoServer(_) => ErrorKind::NoServer,
            Error::NoLsu(_) => ErrorKind::NoLsu,
            Error::NoImage(_) | Error::NoEvent(_) => ErrorKind::NoImage,
            Error::Exists(_) => ErrorKind::Exists,
            // The C API has no code of its own for it: STS_EBUSY.
            Error::Busy(_) | Error::NotEmpty(_) | Error::InUse(_) => ErrorKind::Busy,
            Error::Complete(_) => ErrorKind::Complete,
            Error::NotComplete(_) => ErrorKind::NotComplete,
            Error::Broken(_) => ErrorKind::Broken,
            Error::Mode(_) => ErrorKind::Mode,
            Error::Auth => ErrorKind::Auth,
            Error::CrossServer(_) => ErrorKind::CrossServer,
            Error::NoOp(_) => ErrorKind::NoOp,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::NoSpace(_) => ErrorKind::NoSpace,
            Error::Io { .. } | Error::Catalog(_) => ErrorKind::Io,
            Error::Corrupt(_) => ErrorKind::Corrupt,
            Error::PreviousIo => ErrorKind::PreviousIo,
            Error::Timeout => ErrorKind::Timeout,
            Error::Running(_) => ErrorKind::Running,
        }
    }

    /// True if retrying the same call later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Error::Busy(_) | Error::InUse(_) | Error::Timeout | Error::NoSpace(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(s) => write!(f, "invalid argument: {s}"),
            Error::Name(s) => write!(f, "invalid name: {s}"),
            Error::Align => write!(f, "length or offset is not a multiple of the block size"),
            Error::Range(s) => write!(f, "offset out of range: {s}"),
            Error::TooBig(s) => write!(f, "too large: {s}"),
            Error::NoServer(s) => write!(f, "not a combstore server: {s}"),
            Error::NoLsu(s) => write!(f, "no such LSU: {s}"),
            Error::NoImage(s) => write!(f, "no such image: {s}"),
            Error::Exists(s) => write!(f, "image exists: {s}"),
            Error::Busy(s) => write!(f, "image is open for writing: {s}"),
            Error::NotEmpty(s) => write!(f, "not empty: {s}"),
            Error::InUse(s) => write!(f, "in use: {s}"),
            Error::Complete(s) => write!(f, "image is complete: {s}"),
            Error::NotComplete(s) => write!(f, "image is not complete: {s}"),
            Error::Broken(s) => write!(f, "image is broken: {s}"),
            Error::Mode(s) => write!(f, "not allowed in this handle's mode: {s}"),
            Error::Auth => write!(f, "credentials do not match"),
            Error::CrossServer(s) => write!(f, "images are on different servers: {s}"),
            Error::NoOp(s) => write!(f, "no asynchronous operation named {s:?}"),
            Error::NoEvent(id) => write!(f, "no event #{id}"),
            Error::Cancelled => write!(f, "cancelled"),
            Error::NoSpace(s) => write!(f, "no space left: {s}"),
            Error::Io { what, source } => write!(f, "I/O error on {what}: {source}"),
            Error::Corrupt(s) => write!(f, "corruption: {s}"),
            Error::PreviousIo => write!(f, "an earlier write on this handle failed"),
            Error::Timeout => write!(f, "catalog locked by another process for too long"),
            Error::Running(s) => write!(f, "asynchronous operation {s:?} is still running"),
            Error::Catalog(e) => write!(f, "catalog error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Catalog(e) => Some(e),
            _ => None,
        }
    }
}

impl From<catalog::Error> for Error {
    /// Each catalog error becomes the engine error of the same name (the
    /// catalog classified SQLite's errors: busy, full, corrupt, I/O).
    fn from(e: catalog::Error) -> Error {
        match e {
            catalog::Error::Invalid(s) => Error::Invalid(s),
            catalog::Error::TooBig(s) => Error::TooBig(s),
            catalog::Error::NoServer(s) => Error::NoServer(s),
            catalog::Error::NoLsu(s) => Error::NoLsu(s),
            catalog::Error::NoImage(s) => Error::NoImage(s),
            catalog::Error::Exists(s) => Error::Exists(s),
            catalog::Error::NotEmpty(s) => Error::NotEmpty(s),
            catalog::Error::NoSpace(s) => Error::NoSpace(s),
            catalog::Error::Io { what, source } => Error::Io { what, source },
            catalog::Error::Corrupt(s) => Error::Corrupt(s),
            catalog::Error::Timeout => Error::Timeout,
            catalog::Error::Sql(e) => Error::Catalog(e),
        }
    }
}

/// Kinds of [`Error`], with stable names (stored in the catalog).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Name,
    Align,
    Range,
    TooBig,
    NoServer,
    NoLsu,
    NoImage,
    Exists,
    Busy,
    Complete,
    NotComplete,
    Broken,
    Mode,
    Auth,
    CrossServer,
    NoOp,
    Cancelled,
    NoSpace,
    Io,
    Corrupt,
    PreviousIo,
    Timeout,
    Running,
}

impl ErrorKind {
    /// Every kind, for table-driven code and tests.
    pub const ALL: [ErrorKind; 24] = [
        ErrorKind::Invalid,
        ErrorKind::Name,
        ErrorKind::Align,
        ErrorKind::Range,
        ErrorKind::TooBig,
        ErrorKind::NoServer,
        ErrorKind::NoLsu,
        ErrorKind::NoImage,
        ErrorKind::Exists,
        ErrorKind::Busy,
        ErrorKind::Complete,
        ErrorKind::NotComplete,
        ErrorKind::Broken,
        ErrorKind::Mode,
        ErrorKind::Auth,
        ErrorKind::CrossServer,
        ErrorKind::NoOp,
        ErrorKind::Cancelled,
        ErrorKind::NoSpace,
        ErrorKind::Io,
        ErrorKind::Corrupt,
        ErrorKind::PreviousIo,
        ErrorKind::Timeout,
        ErrorKind::Running,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::Name => "name",
            ErrorKind::Align => "align",
            ErrorKind::Range => "range",
            ErrorKind::TooBig => "too_big",
            ErrorKind::NoServer => "no_server",
            ErrorKind::NoLsu => "no_lsu",
            ErrorKind::NoImage => "no_image",
            ErrorKind::Exists => "exists",
            ErrorKind::Busy => "busy",
            ErrorKind::Complete => "complete",
            ErrorKind::NotComplete => "not_complete",
            ErrorKind::Broken => "broken",
            ErrorKind::Mode => "mode",
            ErrorKind::Auth => "auth",
            ErrorKind::CrossServer => "cross_server",
            ErrorKind::NoOp => "no_op",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::NoSpace => "no_space",
            ErrorKind::Io => "io",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::PreviousIo => "previous_io",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Running => "running",
        }
    }

    /// The kind with a stored name (unknown names read as `Io`).
    pub fn from_name(name: &str) -> ErrorKind {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .unwrap_or(ErrorKind::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_errors_become_the_engine_errors_of_the_same_name() {
        let s = || "x".to_string();
        let cases = [
            (catalog::Error::Invalid(s()), ErrorKind::Invalid),
            (catalog::Error::TooBig(s()), ErrorKind::TooBig),
            (catalog::Error::NoServer(s()), ErrorKind::NoServer),
            (catalog::Error::NoLsu(s()), ErrorKind::NoLsu),
            (catalog::Error::NoImage(s()), ErrorKind::NoImage),
            (catalog::Error::Exists(s()), ErrorKind::Exists),
            (catalog::Error::NotEmpty(s()), ErrorKind::Busy),
            (catalog::Error::NoSpace(s()), ErrorKind::NoSpace),
            (catalog::Error::io(s(), io::Error::other("eio")), ErrorKind::Io),
            (catalog::Error::Corrupt(s()), ErrorKind::Corrupt),
            (catalog::Error::Timeout, ErrorKind::Timeout),
        ];
        for (c, kind) in cases {
            let (text, debug) = (c.to_string(), format!("{c:?}"));
            let e = Error::from(c);
            assert_eq!((e.kind(), e.to_string()), (kind, text));
            assert_eq!(format!("{e:?}"), debug, "the variant of the same name");
        }
        // Any other database error: Error::Catalog, reported as I/O.
        let dir = tempfile::tempdir().unwrap();
        let conn = catalog::open(&dir.path().join("catalog.db"), 0, "u").unwrap();
        let e = Error::from(catalog::archive::run_query(&conn, "SELECT nope", &[]).unwrap_err());
        assert!(matches!(e, Error::Catalog(_)), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().starts_with("catalog error: "), "{e}");
    }
}
