//! Turning C arguments into Rust values: NULL checks, bounded strings,
//! names, slices. Every raw pointer the exports receive is read here and
//! nowhere else, so each `unsafe` block has one argued contract: the
//! caller passed a pointer that is NULL or valid for the documented size.

use std::ffi::{c_char, c_void};

use super::status::Status;
use super::sys;
use crate::engine::{ImageName, MAX_IO};

fn err(code: i32) -> Status {
    Status(code)
}

/// Borrows a required input struct.
///
/// # Safety
/// `p` is NULL or points to a valid `T` for the call's duration.
pub unsafe fn in_ref<'a, T>(p: *const T) -> Result<&'a T, Status> {
    // SAFETY: per this function's contract.
    unsafe { p.as_ref() }.ok_or(err(sys::STS_ENULL))
}

/// Checks a required out-pointer; the caller writes it only on success.
///
/// # Safety
/// `p` is NULL or valid for writes of a `T` for the call's duration.
pub unsafe fn out_ref<'a, T>(p: *mut T) -> Result<&'a mut T, Status> {
    // SAFETY: per this function's contract.
    unsafe { p.as_mut() }.ok_or(err(sys::STS_ENULL))
}

/// Reads a NUL-terminated C string of at most `max - 1` bytes.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string, or to at least `max`
/// readable bytes.
pub unsafe fn c_string<'a>(p: *const c_char, max: usize) -> Result<&'a [u8], Status> {
    if p.is_null() {
        return Err(err(sys::STS_ENULL));
    }
    // SAFETY: strnlen reads at most `max` bytes and stops at the first NUL;
    // per the contract those bytes are readable.
    let n = unsafe { libc::strnlen(p, max) };
    if n >= max {
        return Err(err(sys::STS_ENAME));
    }
    // SAFETY: the n bytes before the NUL were just read by strnlen.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) })
}

/// The string in a fixed C array: up to the first NUL, which must exist,
/// as UTF-8.
pub fn array_str(arr: &[c_char]) -> Result<&str, Status> {
    std::str::from_utf8(array_bytes(arr)?).map_err(|_| err(sys::STS_ENAME))
}

/// The bytes in a fixed C array up to the first NUL, which must exist
/// (any bytes: secrets need not be UTF-8).
pub fn array_bytes(arr: &[c_char]) -> Result<&[u8], Status> {
    // SAFETY: c_char and u8 have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts(arr.as_ptr().cast::<u8>(), arr.len()) };
    let n = bytes.iter().position(|&b| b == 0).ok_or(err(sys::STS_ENAME))?;
    Ok(&bytes[..n])
}

/// Copies `s` into a fixed C array, truncated to leave room for the NUL,
/// zero-filling the rest.
pub fn put_str(dst: &mut [c_char], s: &str) {
    dst.fill(0);
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, &b) in dst.iter_mut().zip(&s.as_bytes()[..n]) {
        *d = b as c_char;
    }
}

/// The image name in an `sts_image_def_t` (img_flags must be 0).
pub fn image_name(def: &sys::sts_image_def_t) -> Result<ImageName, Status> {
    let basename = array_str(&def.img_basename)?;
    let date = array_str(&def.img_date)?;
    let name = ImageName::new(basename, date)?;
    if def.img_flags != 0 {
        return Err(err(sys::STS_EINVAL));
    }
    Ok(name)
}

/// An `sts_image_def_t` naming `name`.
pub fn image_def(name: &ImageName) -> sys::sts_image_def_t {
    let mut def = sys::sts_image_def_t::default();
    put_str(&mut def.img_basename, &name.basename);
    put_str(&mut def.img_date, &name.date);
    def
}

/// Borrows `len` input bytes (NULL allowed only for `len == 0`). Lengths
/// over the I/O limit are refused before any slice is formed.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for the call's duration.
pub unsafe fn in_bytes<'a>(p: *const c_void, len: u64, limit: u64) -> Result<&'a [u8], Status> {
    if len > limit {
        return Err(err(sys::STS_ETOOBIG));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(err(sys::STS_ENULL));
    }
    // SAFETY: per the contract; len <= limit <= MAX_IO fits in isize.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len as usize) })
}

/// Borrows `len` output bytes, as [`in_bytes`].
///
/// # Safety
/// `p` is NULL or valid for writes of `len` bytes for the call's duration,
/// and not aliased by any other argument.
pub unsafe fn out_bytes<'a>(p: *mut c_void, len: u64, limit: u64) -> Result<&'a mut [u8], Status> {
    if len > limit {
        return Err(err(sys::STS_ETOOBIG));
    }
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(err(sys::STS_ENULL));
    }
    // SAFETY: per the contract; len <= limit <= MAX_IO fits in isize.
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len as usize) })
}

/// The I/O limit for image reads and writes.
pub const IO_LIMIT: u64 = MAX_IO;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_without_nul_is_a_bad_name() {
        let arr = [b'a' as c_char; 8];
        assert_eq!(array_str(&arr), Err(Status(sys::STS_ENAME)));
        let mut arr = [0 as c_char; 8];
        put_str(&mut arr, "abcdefghij");
        assert_eq!(array_str(&arr), Ok("abcdefg"));
    }

    #[test]
    fn null_and_oversize_are_refused_before_use() {
        // SAFETY: NULL and a never-read dangling pointer with a refused length.
        unsafe {
            assert_eq!(
                in_bytes(std::ptr::null(), 512, IO_LIMIT),
                Err(Status(sys::STS_ENULL))
            );
            assert_eq!(in_bytes(std::ptr::null(), 0, IO_LIMIT).map(<[u8]>::len), Ok(0));
            let p = std::ptr::NonNull::<u8>::dangling().as_ptr().cast::<c_void>();
            assert_eq!(
                in_bytes(p, IO_LIMIT + 512, IO_LIMIT),
                Err(Status(sys::STS_ETOOBIG))
            );
        }
    }
}
