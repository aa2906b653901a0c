//! Naming rules for LSUs and images.
//!
//! Names become catalog keys and appear in logs and admin output, never in
//! file paths; the rules still forbid path-like names ('/', '\\', "..") so
//! that no future layout can be steered outside the server directory, and
//! control characters so that listings stay printable.

use super::error::{Error, Result};

/// Longest LSU name in bytes (the C array holds one more byte for NUL).
pub const MAX_LSU_NAME: usize = 127;
/// Longest image basename in bytes.
pub const MAX_BASENAME: usize = 255;
/// Longest image date in bytes.
pub const MAX_DATE: usize = 31;

/// An image's identity inside an LSU: the catalog's key
/// (`catalog::ImageName`, which knows no naming rule); [`ImageName::new`]
/// is the only way the engine makes one from outside input.
pub use crate::catalog::ImageName;

impl ImageName {
    /// Validates both parts.
    ///
    /// # Errors
    /// [`Error::Name`] when either part breaks the rules.
    pub fn new(basename: &str, date: &str) -> Result<ImageName> {
        check(basename, MAX_BASENAME, false, "image basename")?;
        check(date, MAX_DATE, true, "image date")?;
        Ok(ImageName {
            basename: basename.to_owned(),
            date: date.to_owned(),
        })
    }
}

/// Validates an LSU name.
///
/// # Errors
/// [`Error::Name`] when it breaks the rules.
pub fn check_lsu(name: &str) -> Result<()> {
    check(name, MAX_LSU_NAME, false, "LSU name")
}

/// Longest LSU label in bytes.
pub const MAX_LABEL: usize = 127;

/// Validates an LSU label: at most [`MAX_LABEL`] bytes, no control
/// characters.
///
/// # Errors
/// [`Error::Name`] when it breaks the rules.
pub fn check_label(label: &str) -> Result<()> {
    if label.len() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(Error::Name(format!(
            "a label is at most {MAX_LABEL} bytes without control characters"
        )));
    }
    Ok(())
}

/// Longest asynchronous operation name in bytes.
pub const MAX_OP_NAME: usize = 127;

/// Validates an asynchronous operation's name.
///
/// # Errors
/// [`Error::Name`] when it breaks the rules.
pub fn check_op(name: &str) -> Result<()> {
    check(name, MAX_OP_NAME, false, "operation name")
}

/// Longest server directory path in bytes, also once symbolic links are
/// resolved: the SQLite catalog's unix VFS handles paths of up to 512
/// bytes, and "/catalog.db-journal" must still fit.
pub const MAX_SERVER_DIR: usize = 480;

/// The server directory a client names (the part of a server name after
/// "combstore:", or a 5800 session's host): valid UTF-8, at most
/// [`MAX_SERVER_DIR`] bytes, without control characters and, if
/// absolute, without "." or ".." components, so that the name says
/// plainly which directory it is. (It must be absolute,
/// which [`Server::open`](super::Server::open) checks: STS_ENOSERVER.) The
/// directory itself may be reached through symbolic links (the
/// administrator's choice); inside it the engine opens only names of its
/// own, never one taken from an argument.
///
/// # Errors
/// [`Error::Name`] for bytes breaking the rules.
pub fn server_dir(bytes: &[u8]) -> Result<&std::path::Path> {
    let s = from_bytes(bytes, "server directory")?;
    let bad = |why: &str| Err(Error::Name(format!("server directory {s:?}: {why}")));
    if s.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if s.len() > MAX_SERVER_DIR {
        return bad(&format!("longer than {MAX_SERVER_DIR} bytes"));
    }
    if s.starts_with('/') && s.split('/').any(|c| c == "." || c == "..") {
        return bad("has a \".\" or \"..\" component");
    }
    Ok(std::path::Path::new(s))
}

/// Validates raw bytes (already cut at NUL) as a name.
///
/// # Errors
/// [`Error::Name`] for invalid UTF-8 or any rule broken.
pub fn from_bytes<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| Error::Name(format!("{what} is not valid UTF-8")))
}

fn check(name: &str, max: usize, may_be_empty: bool, what: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::Name(format!("{what} {name:?}: {why}")));
    if name.is_empty() {
        return if may_be_empty { Ok(()) } else { bad("empty") };
    }
    if name.len() > max {
        return bad(&format!("longer than {max} bytes"));
    }
    if name == "." {
        return bad("is \".\"");
    }
    if name.contains("..") {
        return bad("contains \"..\"");
    }
    if name.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        return bad("contains '/', '\\' or a control character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_backup_style_names() {
        assert!(ImageName::new("client1_1700000000_C1_F1", "1700000000").is_ok());
        assert!(ImageName::new("a.b-c d", "").is_ok());
        assert!(check_lsu("default").is_ok());
    }

    #[test]
    fn server_directories_are_plain_absolute_paths() {
        for good in ["/srv/backup", "/", "/a b/c.d/..e/f..", "/srv/backup/"] {
            assert_eq!(server_dir(good.as_bytes()).unwrap(), std::path::Path::new(good));
        }
        for bad in [
            &b"/srv/../etc"[..],
            b"/srv/..",
            b"/./srv",
            b"/srv/.",
            b"/a\nb",
            b"/\xff",
            b"/a\x7fb",
        ] {
            assert!(matches!(server_dir(bad), Err(Error::Name(_))), "{bad:?}");
        }
        let at_limit = format!("/{}", "d".repeat(MAX_SERVER_DIR - 1));
        assert!(server_dir(at_limit.as_bytes()).is_ok());
        let over = format!("{at_limit}d");
        assert!(matches!(server_dir(over.as_bytes()), Err(Error::Name(_))));
        // relative paths pass here; the open refuses them (STS_ENOSERVER)
        for rel in ["./srv", "../srv", "srv", ""] {
            assert_eq!(server_dir(rel.as_bytes()).unwrap(), std::path::Path::new(rel));
        }
    }

    #[test]
    fn rejects_each_bad_class() {
        for bad in ["", ".", "..", "a/b", "a\\b", "x..y", "tab\there", "nul\0x"] {
            assert!(matches!(ImageName::new(bad, ""), Err(Error::Name(_))), "{bad:?}");
        }
        assert!(matches!(
            ImageName::new(&"x".repeat(MAX_BASENAME + 1), ""),
            Err(Error::Name(_))
        ));
        assert!(ImageName::new(&"x".repeat(MAX_BASENAME), "").is_ok());
        assert!(matches!(ImageName::new("ok", "../x"), Err(Error::Name(_))));
        assert!(matches!(check_lsu(""), Err(Error::Name(_))));
        assert!(matches!(from_bytes(&[0xff, 0xfe], "x"), Err(Error::Name(_))));
    }
}
