//! STS_E* status codes: the one place engine errors become C codes, and
//! the text `stsp_strerror` returns for each.

use std::ffi::{CStr, c_int};

use super::sys;
use crate::engine::Error;
use crate::engine::error::ErrorKind;

/// A non-OK status on its way to the C caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub c_int);

/// What every export body returns.
pub type FfiResult = Result<(), Status>;

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        if let Some(log) = crate::logging::current() {
            crate::log_debug!(log, "{e}");
        }
        Status(code_of(&e))
    }
}

/// The code for an engine error.
pub fn code_of(e: &Error) -> c_int {
    code_of_kind(e.kind())
}

/// The code for an error kind.
pub fn code_of_kind(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Invalid => sys::STS_EINVAL,
        ErrorKind::Name => sys::STS_ENAME,
        ErrorKind::Align => sys::STS_EALIGN,
        ErrorKind::Range => sys::STS_ERANGE,
        ErrorKind::TooBig => sys::STS_ETOOBIG,
        ErrorKind::NoServer => sys::STS_ENOSERVER,
        ErrorKind::NoLsu => sys::STS_ENOLSU,
        ErrorKind::NoImage => sys::STS_ENOENT,
        ErrorKind::Exists => sys::STS_EEXIST,
        ErrorKind::Busy => sys::STS_EBUSY,
        ErrorKind::Complete => sys::STS_ECOMPLETE,
        ErrorKind::NotComplete => sys::STS_ENOTCOMPLETE,
        ErrorKind::Broken => sys::STS_EBROKEN,
        ErrorKind::Mode => sys::STS_EMODE,
        ErrorKind::Auth => sys::STS_EAUTH,
        ErrorKind::CrossServer => sys::STS_EXDEV,
        ErrorKind::NoOp => sys::STS_ENOOP,
        ErrorKind::Cancelled => sys::STS_ECANCELED,
        ErrorKind::NoSpace => sys::STS_ENOSPC,
        ErrorKind::Io => sys::STS_EIO,
        ErrorKind::Corrupt => sys::STS_ECORRUPT,
        ErrorKind::PreviousIo => sys::STS_EPREVIO,
        ErrorKind::Timeout => sys::STS_ETIMEDOUT,
        ErrorKind::Running => sys::STS_EINPROGRESS,
    }
}

/// Every code with its name and meaning, as `stsp_strerror` reports it.
pub const MESSAGES: &[(c_int, &CStr)] = &[
    (sys::STS_EOK, c"STS_EOK: success"),
    (
        sys::STS_EINVAL,
        c"STS_EINVAL: invalid argument (flags, mode or reserved field)",
    ),
    (sys::STS_ENULL, c"STS_ENULL: a required pointer is NULL"),
    (
        sys::STS_EHANDLE,
        c"STS_EHANDLE: handle unknown, closed, or of the wrong kind",
    ),
    (sys::STS_ENAME, c"STS_ENAME: invalid name"),
    (
        sys::STS_EALIGN,
        c"STS_EALIGN: length or offset not a multiple of STS_BLOCK_SIZE",
    ),
    (sys::STS_ERANGE, c"STS_ERANGE: offset beyond the end"),
    (sys::STS_ETOOBIG, c"STS_ETOOBIG: length over the limit"),
    (sys::STS_EVERSION, c"STS_EVERSION: API version not supported"),
    (
        sys::STS_ENOT_INIT,
        c"STS_ENOT_INIT: stsp_init has not been called",
    ),
    (
        sys::STS_EMODE,
        c"STS_EMODE: not allowed in the handle's open mode",
    ),
    (sys::STS_ENOT_MINE, c"STS_ENOT_MINE: not a combstore server name"),
    (
        sys::STS_ENOSERVER,
        c"STS_ENOSERVER: no combstore server in that directory",
    ),
    (sys::STS_ENOLSU, c"STS_ENOLSU: no such LSU"),
    (sys::STS_ENOENT, c"STS_ENOENT: no such image"),
    (sys::STS_EEXIST, c"STS_EEXIST: image exists"),
    (sys::STS_EBUSY, c"STS_EBUSY: image is open for writing elsewhere"),
    (
        sys::STS_ECOMPLETE,
        c"STS_ECOMPLETE: image is complete and cannot be written",
    ),
    (
        sys::STS_ENOTCOMPLETE,
        c"STS_ENOTCOMPLETE: image is not complete and cannot be read",
    ),
    (
        sys::STS_EBROKEN,
        c"STS_EBROKEN: image is broken; it can only be deleted",
    ),
    (sys::STS_ENO_MORE, c"STS_ENO_MORE: no more entries"),
    (sys::STS_EAUTH, c"STS_EAUTH: credentials do not match"),
    (sys::STS_ENOTSUP, c"STS_ENOTSUP: not supported"),
    (sys::STS_EXDEV, c"STS_EXDEV: the images are on different servers"),
    (
        sys::STS_ENOOP,
        c"STS_ENOOP: no asynchronous operation of that name",
    ),
    (sys::STS_ECANCELED, c"STS_ECANCELED: the operation was cancelled"),
    (
        sys::STS_EOPFAILED,
        c"STS_EOPFAILED: the asynchronous operation failed",
    ),
    (sys::STS_ENOSPC, c"STS_ENOSPC: no space left"),
    (sys::STS_EIO, c"STS_EIO: I/O error"),
    (
        sys::STS_ECORRUPT,
        c"STS_ECORRUPT: stored data failed verification",
    ),
    (
        sys::STS_EPREVIO,
        c"STS_EPREVIO: an earlier write on this handle failed; close it",
    ),
    (
        sys::STS_ETIMEDOUT,
        c"STS_ETIMEDOUT: catalog locked by another process too long",
    ),
    (
        sys::STS_EINPROGRESS,
        c"STS_EINPROGRESS: the asynchronous operation is still running",
    ),
    (sys::STS_EINTERNAL, c"STS_EINTERNAL: internal error"),
    (sys::STS_ENOMEM, c"STS_ENOMEM: out of memory"),
];

/// The message for `code`.
pub fn message(code: c_int) -> &'static CStr {
    MESSAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(c"STS_E?: unknown error code", |(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_named() {
        let mut seen = std::collections::HashSet::new();
        for (code, msg) in MESSAGES {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(msg.to_str().unwrap().starts_with("STS_E"));
        }
        assert_eq!(message(12345), c"STS_E?: unknown error code");
    }

    #[test]
    fn every_error_kind_has_a_code_and_a_stable_name() {
        for kind in ErrorKind::ALL {
            let code = code_of_kind(kind);
            assert!(MESSAGES.iter().any(|(c, _)| *c == code), "{kind:?} -> {code}");
            assert_eq!(ErrorKind::from_name(kind.name()), kind);
        }
    }

    #[test]
    fn every_engine_error_has_a_documented_code() {
        use std::io;
        let errors = [
            Error::Invalid(String::new()),
            Error::Name(String::new()),
            Error::Align,
            Error::Range(String::new()),
            Error::TooBig(String::new()),
            Error::NoServer(String::new()),
            Error::NoLsu(String::new()),
            Error::NoImage(String::new()),
            Error::Exists(String::new()),
            Error::Busy(String::new()),
            Error::Complete(String::new()),
            Error::NotComplete(String::new()),
            Error::Broken(String::new()),
            Error::Mode(""),
            Error::Auth,
            Error::CrossServer(String::new()),
            Error::NoSpace(String::new()),
            Error::io("x", io::Error::other("y")),
            Error::io("x", io::Error::from_raw_os_error(libc::ENOSPC)),
            Error::Corrupt(String::new()),
            Error::PreviousIo,
            Error::Timeout,
            Error::Running(String::new()),
        ];
        for e in &errors {
            let code = code_of(e);
            assert_ne!(code, sys::STS_EINTERNAL, "{e:?}");
            assert!(MESSAGES.iter().any(|(c, _)| *c == code), "{e:?} -> {code}");
        }
        assert_eq!(code_of(&errors[18]), sys::STS_ENOSPC);
    }
}
