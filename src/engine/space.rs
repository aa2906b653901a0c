//! Room for chunk bytes on the server's filesystem: the catalog's reserve
//! and the credit a passing check grants ([`Room`]).

use std::path::Path;

use parking_lot::Mutex;

use super::error::{Error, Result};

/// Free space writers leave on the server's filesystem for the catalog:
/// when image data has filled it, abnormal completions and the deletes
/// that make room again must still commit. 4 MiB plus 1/1024 of the
/// filesystem (a delete's catalog transaction is well under 1/4096 of the
/// image's size).
pub fn catalog_reserve(fs_total: u64) -> u64 {
    (4 << 20) + fs_total / 1024
}

/// [`Room::ensure`] grants at most this share of the free space
/// beyond the catalog's reserve before asking the filesystem again.
pub const ROOM_SHARE: u64 = 16;
/// ... and at most this many bytes.
pub const ROOM_MAX: u64 = 64 << 20;

/// A server instance's credit of room on its filesystem.
#[derive(Debug, Default)]
pub(crate) struct Room {
    /// Bytes [`Room::ensure`] may grant before asking the filesystem again.
    pub credit: Mutex<u64>,
}

impl Room {
    /// Refuses ([`Error::NoSpace`]) to store `bytes` more if the filesystem
    /// would then keep less than [`catalog_reserve`] free. Nothing is written.
    ///
    /// Asking the filesystem (`statfs`) for every 1 MiB chunk showed in the
    /// write path's profile, so a check that passes grants this instance a
    /// credit of [`ROOM_SHARE`]th of the free space beyond the reserve (at
    /// most [`ROOM_MAX`]), spent without asking again. Credits shrink as
    /// the filesystem fills: near the reserve every chunk asks. Up to
    /// `ROOM_SHARE` writing processes' credits together stay within the
    /// free space, and so outside the catalog's reserve.
    pub fn ensure(&self, dir: &Path, bytes: u64) -> Result<()> {
        {
            let mut credit = self.credit.lock();
            if *credit >= bytes {
                *credit -= bytes;
                return Ok(());
            }
        }
        let (total, avail) = fs_space(dir)?;
        let reserve = catalog_reserve(total);
        let Some(slack) = avail.checked_sub(bytes.saturating_add(reserve)) else {
            *self.credit.lock() = 0;
            return Err(Error::NoSpace(format!(
                "filesystem: {avail} bytes free, {bytes} to store and {reserve} kept for the catalog"
            )));
        };
        *self.credit.lock() = (slack / ROOM_SHARE).min(ROOM_MAX);
        Ok(())
    }
}

/// The filesystem's total and available bytes.
pub(crate) fn fs_space(dir: &Path) -> Result<(u64, u64)> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c =
        CString::new(dir.as_os_str().as_bytes()).map_err(|_| Error::Invalid("path contains NUL".into()))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` points to writable
    // memory of the right type; statvfs fills it on success.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(Error::io("statvfs", std::io::Error::last_os_error()));
    }
    // SAFETY: rc == 0, so statvfs initialized `st`.
    let st = unsafe { st.assume_init() };
    Ok((st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize))
}
