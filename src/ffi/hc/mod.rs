//! The 5800 ("Honeycomb") synchronous C client API (include/hc.h,
//! include/hcclient.h) over the archive engine (HC-API-FACTS.md).
//!
//! Same style as the stsp_* boundary: every export runs inside [`guard`]
//! (a panic becomes HCERR_PLATFORM_GENERAL_ERROR), handles are registry
//! values (never addresses) validated on entry, so a NULL, freed or
//! forged handle is a code, not undefined behaviour. Buffers handed to
//! the caller come from the allocator registered by `hc_init` (malloc by
//! default). The variadic entry points live in variadic.c.
//!
//! Files: `session` (sessions, schema), `nvr` (name-value records and
//! value conversions), `object` (store, retrieve, delete, check),
//! `query` (queries, prepared statements, result sets).

pub mod hcsys;

pub mod nvr;
pub mod object;
pub mod query;
pub mod session;

use super::boundary::catch;
use std::ffi::{CStr, c_char, c_long, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use hcsys::hcerr_t;

use super::handles::Table;
use crate::engine::Error;
use crate::engine::error::ErrorKind;

pub use hcsys as sys;

/// A failure on its way to the C caller: the code, and the text the
/// session's status reports.
#[derive(Clone, Debug)]
pub struct HcError {
    pub code: hcerr_t,
    pub msg: String,
}

pub type HcResult<T = ()> = Result<T, HcError>;

/// An error with the code's own name as its text.
pub fn err(code: hcerr_t) -> HcError {
    HcError {
        code,
        msg: decode(code).to_string_lossy().into_owned(),
    }
}

/// An error with a message.
pub fn err_msg(code: hcerr_t, msg: impl Into<String>) -> HcError {
    HcError {
        code,
        msg: msg.into(),
    }
}

impl From<Error> for HcError {
    fn from(e: Error) -> HcError {
        let code = match e.kind() {
            ErrorKind::Invalid | ErrorKind::Name | ErrorKind::Range | ErrorKind::TooBig => {
                sys::HCERR_BAD_REQUEST
            }
            ErrorKind::NoImage => sys::HCERR_NO_SUCH_OBJECT,
            ErrorKind::NoServer => sys::HCERR_CONNECTION_FAILED,
            ErrorKind::Cancelled => sys::HCERR_ABORTED_BY_CALLBACK,
            _ => sys::HCERR_INTERNAL_SERVER_ERROR,
        };
        err_msg(code, e.to_string())
    }
}

/// Runs an export body: panics become HCERR_PLATFORM_GENERAL_ERROR and
/// never unwind into C. Its records go to the log of the session's server
/// (set when the body looks its session up), else nowhere.
pub fn guard(name: &str, body: impl FnOnce() -> HcResult) -> hcerr_t {
    match catch(name, body) {
        (Some(Ok(())), _) => sys::HCERR_OK,
        (Some(Err(e)), log) => {
            if let Some(log) = &log {
                crate::log_debug!(log, "{name} -> {}: {}", e.code, e.msg);
            }
            let text = format!("{name}: {}", e.msg);
            debug_report(&text);
            set_last_error(text);
            e.code
        }
        (None, _) => sys::HCERR_PLATFORM_GENERAL_ERROR,
    }
}

/// As [`guard`] for exports returning a value (a pointer): `fallback` on
/// a panic.
pub fn guard_value<T>(name: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    catch(name, body).0.unwrap_or(fallback)
}

// ---------------------------------------------------------------------------
// Handle tables
// ---------------------------------------------------------------------------

pub static SESSIONS: Table<session::Session> = Table::new();
pub static SCHEMAS: Table<Arc<session::SchemaC>> = Table::new();
pub static NVRS: Table<nvr::Nvr> = Table::new();
pub static PSTMTS: Table<query::Pstmt> = Table::new();
pub static RSETS: Table<query::Rset> = Table::new();

/// The object behind an opaque handle: `null` for NULL, `invalid` for a
/// value that is not (or no longer) in `table`.
pub fn lookup<T>(table: &Table<T>, p: *mut c_void, null: hcerr_t, invalid: hcerr_t) -> HcResult<Arc<T>> {
    if p.is_null() {
        return Err(err(null));
    }
    table.get(p as usize).map_err(|_| err(invalid))
}

/// Unregisters an opaque handle, as [`lookup`].
pub fn remove<T>(table: &Table<T>, p: *mut c_void, null: hcerr_t, invalid: hcerr_t) -> HcResult<Arc<T>> {
    if p.is_null() {
        return Err(err(null));
    }
    table.remove(p as usize).map_err(|_| err(invalid))
}

/// Writes an out-pointer, or ILLEGAL_ARGUMENT if it is NULL.
///
/// # Safety
/// `p` is NULL or valid for writes of a `T`.
pub unsafe fn put<T>(p: *mut T, v: T) -> HcResult {
    if p.is_null() {
        return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
    }
    // SAFETY: per the contract; write does not drop the old contents.
    unsafe { p.write(v) };
    Ok(())
}

/// A required C string argument (ILLEGAL_ARGUMENT if NULL).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
pub unsafe fn c_str<'a>(p: *const c_char) -> HcResult<&'a CStr> {
    if p.is_null() {
        return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
    }
    // SAFETY: per the contract.
    Ok(unsafe { CStr::from_ptr(p) })
}

// ---------------------------------------------------------------------------
// Allocators (hc_init)
// ---------------------------------------------------------------------------

static ALLOCATOR: AtomicUsize = AtomicUsize::new(0);
static DEALLOCATOR: AtomicUsize = AtomicUsize::new(0);
static REALLOCATOR: AtomicUsize = AtomicUsize::new(0);
static INITED: AtomicUsize = AtomicUsize::new(0);

type AllocFn = unsafe extern "C" fn(usize) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type ReallocFn = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;

/// Allocates with the registered allocator (malloc by default).
pub fn alloc(size: usize) -> *mut c_void {
    let f = ALLOCATOR.load(Ordering::Acquire);
    if f == 0 {
        // SAFETY: malloc with any size is sound.
        unsafe { libc::malloc(size) }
    } else {
        // SAFETY: a function pointer registered by hc_init.
        let f: AllocFn = unsafe { std::mem::transmute::<usize, AllocFn>(f) };
        // SAFETY: the application's allocator, called as declared.
        unsafe { f(size) }
    }
}

/// Frees with the registered deallocator (free by default).
///
/// # Safety
/// `p` is NULL or came from [`alloc`] (or the application's allocator).
pub unsafe fn dealloc(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    let f = DEALLOCATOR.load(Ordering::Acquire);
    if f == 0 {
        // SAFETY: per the contract.
        unsafe { libc::free(p) }
    } else {
        // SAFETY: a function pointer registered by hc_init.
        let f: FreeFn = unsafe { std::mem::transmute::<usize, FreeFn>(f) };
        // SAFETY: per the contract.
        unsafe { f(p) }
    }
}

fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    let f = REALLOCATOR.load(Ordering::Acquire);
    if f == 0 {
        // SAFETY: p is NULL or from the allocator (the caller's contract).
        unsafe { libc::realloc(p, size) }
    } else {
        // SAFETY: a function pointer registered by hc_init.
        let f: ReallocFn = unsafe { std::mem::transmute::<usize, ReallocFn>(f) };
        // SAFETY: the application's reallocator, called as declared.
        unsafe { f(p, size) }
    }
}

/// A copy of `bytes` plus a NUL, from the registered allocator.
pub fn alloc_cstr(bytes: &[u8]) -> HcResult<*mut c_char> {
    let p = alloc(bytes.len() + 1).cast::<u8>();
    if p.is_null() {
        return Err(err(sys::HCERR_OOM));
    }
    // SAFETY: p has room for len + 1 bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
    }
    Ok(p.cast())
}

/// A copy of `bytes` (at least one byte allocated), from the registered
/// allocator.
pub fn alloc_bytes(bytes: &[u8]) -> HcResult<*mut u8> {
    let p = alloc(bytes.len().max(1)).cast::<u8>();
    if p.is_null() {
        return Err(err(sys::HCERR_OOM));
    }
    // SAFETY: p has room for len bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    Ok(p)
}

/// Marks the library initialised with the default allocators, if
/// `hc_init` never ran (session creation does this).
pub fn ensure_init() {
    INITED.store(1, Ordering::Release);
}

// ---------------------------------------------------------------------------
// Debugging
// ---------------------------------------------------------------------------

static DEBUG_FLAGS: AtomicI64 = AtomicI64::new(0);
static DEBUG_FUNCTION: AtomicUsize = AtomicUsize::new(0);
static LOW_SPEED_TIME: AtomicI64 = AtomicI64::new(800);

type DebugFn = unsafe extern "C" fn(*const c_char, ...);

/// Reports an error to the application's debug function when debug flag
/// 1 (errors) is set.
fn debug_report(msg: &str) {
    let f = DEBUG_FUNCTION.load(Ordering::Acquire);
    if f == 0 || DEBUG_FLAGS.load(Ordering::Acquire) & 1 == 0 {
        return;
    }
    let Ok(text) = std::ffi::CString::new(msg.replace('\0', " ")) else {
        return;
    };
    // SAFETY: a function pointer registered by hc_set_debug_function.
    let f: DebugFn = unsafe { std::mem::transmute::<usize, DebugFn>(f) };
    // SAFETY: a printf-style function called with "%s" and a C string.
    unsafe { f(c"%s".as_ptr(), text.as_ptr()) };
}

// ---------------------------------------------------------------------------
// hc.h exports
// ---------------------------------------------------------------------------

/// Registers the allocators (NULL for any of them: the C library's).
/// Repeat calls return HCERR_OK and replace them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_init(
    a: sys::allocator_t,
    d: sys::deallocator_t,
    r: sys::reallocator_t,
) -> hcerr_t {
    guard("hc_init", || {
        ALLOCATOR.store(a.map_or(0, |f| f as usize), Ordering::Release);
        DEALLOCATOR.store(d.map_or(0, |f| f as usize), Ordering::Release);
        REALLOCATOR.store(r.map_or(0, |f| f as usize), Ordering::Release);
        INITED.store(1, Ordering::Release);
        Ok(())
    })
}

/// Global teardown. The allocators are kept, and later sessions still work.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_cleanup() -> hcerr_t {
    guard("hc_cleanup", || Ok(()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_alloc(size: usize) -> *mut c_void {
    guard_value("hc_alloc", std::ptr::null_mut(), || {
        ensure_init();
        alloc(size)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_free(p: *mut c_void) {
    guard_value("hc_free", (), || {
        ensure_init();
        // SAFETY: the caller passes NULL or a pointer from hc_alloc.
        unsafe { dealloc(p) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_realloc(p: *mut c_void, size: usize) -> *mut c_void {
    guard_value("hc_realloc", std::ptr::null_mut(), || {
        ensure_init();
        realloc(p, size)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_set_debug_function(f: sys::hc_debug_function_t) {
    guard_value("hc_set_debug_function", (), || {
        DEBUG_FUNCTION.store(f.map_or(0, |f| f as usize), Ordering::Release);
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_set_debug_flags(flags: sys::hc_long_t) {
    guard_value("hc_set_debug_flags", (), || {
        DEBUG_FLAGS.store(flags, Ordering::Release);
    })
}

/// HCOPT_LOW_SPEED_TIME for hc_set_global_parameter (variadic.c): kept,
/// though an embedded engine never stalls on a network.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn combstore_hc_set_low_speed_time(seconds: c_long) -> hcerr_t {
    guard("hc_set_global_parameter", || {
        if seconds < 0 {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        LOW_SPEED_TIME.store(seconds, Ordering::Release);
        Ok(())
    })
}

/// "<sysname> Release <release> Version <version>".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcoa_get_platform_name(buf: *mut c_char, len: i32) -> hcerr_t {
    guard("hcoa_get_platform_name", || {
        if buf.is_null() || len < 1 {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        // SAFETY: utsname is plain data; uname fills it.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: a valid out-pointer.
        if unsafe { libc::uname(&mut u) } != 0 {
            return Err(err(sys::HCERR_PLATFORM_GENERAL_ERROR));
        }
        // SAFETY: uname NUL-terminates every member.
        let f = |a: &[c_char]| {
            unsafe { CStr::from_ptr(a.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        };
        let text = format!(
            "{} Release {} Version {}",
            f(&u.sysname),
            f(&u.release),
            f(&u.version)
        );
        if text.len() + 1 > len as usize {
            return Err(err(sys::HCERR_BUFFER_OVERFLOW));
        }
        // SAFETY: buf holds len >= text.len() + 1 bytes (caller's contract).
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, text.len());
            *buf.add(text.len()) = 0;
        }
        Ok(())
    })
}

/// Every hcerr_t with its name.
const NAMES: &[&CStr] = &[
    c"HCERR_OK",
    c"HCERR_NOT_INITED",
    c"HCERR_ALREADY_INITED",
    c"HCERR_INIT_FAILED",
    c"HCERR_OOM",
    c"HCERR_NOT_YET_IMPLEMENTED",
    c"HCERR_SESSION_CREATE_FAILED",
    c"HCERR_ADD_HEADER_FAILED",
    c"HCERR_IO_ERR",
    c"HCERR_FAILOVER_OCCURRED",
    c"HCERR_CAN_CALL_AGAIN",
    c"HCERR_GET_RESPONSE_CODE_FAILED",
    c"HCERR_CONNECTION_FAILED",
    c"HCERR_BAD_REQUEST",
    c"HCERR_NO_SUCH_OBJECT",
    c"HCERR_INTERNAL_SERVER_ERROR",
    c"HCERR_FAILED_GETTING_FDSET",
    c"HCERR_FAILED_CHECKING_FDSET",
    c"HCERR_MISSING_SELECT_CLAUSE",
    c"HCERR_URL_TOO_LONG",
    c"HCERR_COULD_NOT_OPEN_FILE",
    c"HCERR_FAILED_TO_WRITE_TO_FILE",
    c"HCERR_NULL_SESSION",
    c"HCERR_NULL_ARCHIVE",
    c"HCERR_INVALID_ARCHIVE",
    c"HCERR_INVALID_SESSION",
    c"HCERR_INVALID_OID",
    c"HCERR_NULL_HANDLE",
    c"HCERR_INVALID_HANDLE",
    c"HCERR_INVALID_SCHEMA",
    c"HCERR_INVALID_RESULT_SET",
    c"HCERR_INVALID_NVR",
    c"HCERR_WRONG_HANDLE_FOR_OPERATION",
    c"HCERR_HANDLE_IN_WRONG_STATE_FOR_OPERATION",
    c"HCERR_READ_PAST_LAST_RESULT",
    c"HCERR_XML_PARSE_ERROR",
    c"HCERR_XML_MALFORMED_XML",
    c"HCERR_XML_EXPECTED_LT",
    c"HCERR_XML_INVALID_ELEMENT_TAG",
    c"HCERR_XML_MALFORMED_START_ELEMENT",
    c"HCERR_XML_MALFORMED_END_ELEMENT",
    c"HCERR_XML_BAD_ATTRIBUTE_NAME",
    c"HCERR_XML_BUFFER_OVERFLOW",
    c"HCERR_BUFFER_OVERFLOW",
    c"HCERR_OUT_OF_MEMORY",
    c"HCERR_NO_SUCH_TYPE",
    c"HCERR_ILLEGAL_VALUE_FOR_METADATA",
    c"HCERR_NO_SUCH_ATTRIBUTE",
    c"HCERR_NO_MORE_ATTRIBUTES",
    c"HCERR_FAILED_GETTING_SILO_DATA",
    c"HCERR_PLATFORM_NOT_INITED",
    c"HCERR_PLATFORM_ALREADY_INITED",
    c"HCERR_PLATFORM_INIT_FAILED",
    c"HCERR_PLATFORM_HEADER_TOO_LONG",
    c"HCERR_PLATFORM_TOO_LATE_FOR_HEADERS",
    c"HCERR_PLATFORM_NOT_ALLOWED_FOR_GET",
    c"HCERR_FAILED_TO_GET_SYSTEM_RECORD",
    c"HCERR_PARTIAL_FILE",
    c"HCERR_ABORTED_BY_CALLBACK",
    c"HCERR_PLATFORM_GENERAL_ERROR",
    c"HCERR_ILLEGAL_ARGUMENT",
    c"HCERR_CLIENT_GAVE_UP",
];

fn decode(code: hcerr_t) -> &'static CStr {
    NAMES.get(code as usize).copied().unwrap_or(c"UNKNOWN ERROR")
}

thread_local! {
    /// The text of this thread's last failed call (`hc_get_last_error`).
    static LAST_ERROR: std::cell::RefCell<std::ffi::CString> = std::cell::RefCell::new(std::ffi::CString::default());
}

fn set_last_error(text: String) {
    let text = std::ffi::CString::new(text.replace('\0', " ")).unwrap_or_default();
    // try_with: never panics, not even while the thread's locals are torn
    // down (this runs outside the panic guard's catch_unwind)
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = text);
}

/// The reason for this thread's last failed call (see hcclient.h).
/// Through guard_value, not guard: a failure here must not replace the text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_get_last_error(errstr: *mut *mut c_char) -> hcerr_t {
    guard_value("hc_get_last_error", sys::HCERR_PLATFORM_GENERAL_ERROR, || {
        if errstr.is_null() {
            return sys::HCERR_ILLEGAL_ARGUMENT;
        }
        let p = LAST_ERROR.with(|e| e.borrow().as_ptr().cast_mut());
        // SAFETY: checked non-NULL; writable by the caller's contract. The
        // text lives in this thread's LAST_ERROR until it is next replaced.
        unsafe { *errstr = p };
        sys::HCERR_OK
    })
}

/// The enumerator's name as a static string, or "UNKNOWN ERROR".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_decode_hcerr(res: hcerr_t) -> *mut c_char {
    guard_value("hc_decode_hcerr", c"UNKNOWN ERROR".as_ptr().cast_mut(), || {
        decode(res).as_ptr().cast_mut()
    })
}

const UNKNOWN_TYPE: &CStr = c"<hc_decode_hc_type:UNKNOWN TYPE>";

/// The type's name ("string", "long", ...) as a static string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_decode_hc_type(t: sys::hc_type_t) -> *mut c_char {
    guard_value("hc_decode_hc_type", UNKNOWN_TYPE.as_ptr().cast_mut(), || {
        let s = match t {
            sys::HC_STRING_TYPE => c"string",
            sys::HC_LONG_TYPE => c"long",
            sys::HC_DOUBLE_TYPE => c"double",
            sys::HC_BYTE_TYPE => c"byte",
            sys::HC_CHAR_TYPE => c"char",
            sys::HC_BINARY_TYPE => c"binary",
            sys::HC_DATE_TYPE => c"date",
            sys::HC_TIME_TYPE => c"time",
            sys::HC_TIMESTAMP_TYPE => c"timestamp",
            sys::HC_OBJECTID_TYPE => c"objectid",
            _ => UNKNOWN_TYPE,
        };
        s.as_ptr().cast_mut()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_named_in_order() {
        assert_eq!(NAMES.len(), sys::HCERR_CLIENT_GAVE_UP as usize + 1);
        assert_eq!(decode(sys::HCERR_NO_SUCH_OBJECT), c"HCERR_NO_SUCH_OBJECT");
        assert_eq!(decode(sys::HCERR_ILLEGAL_ARGUMENT), c"HCERR_ILLEGAL_ARGUMENT");
        assert_eq!(decode(9999), c"UNKNOWN ERROR");
    }

    /// Every hc_* export (and internal helper export) runs its body inside
    /// the panic boundary.
    #[test]
    fn every_hc_export_passes_through_the_panic_guard() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi/hc");
        let mut exports = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices(concat!("#[unsafe(", "no_mangle)]")) {
                exports += 1;
                let body = &text[i..];
                let sig = body.find("extern \"C\" fn ").expect("an exported fn");
                let open = sig + body[sig..].find(" {\n").unwrap();
                let first = body[open..].lines().nth(1).unwrap_or("");
                assert!(
                    first.contains("guard(") || first.contains("guard_value("),
                    "{}: export at byte {i} does not start with the panic guard: {first:?}",
                    path.display()
                );
            }
        }
        assert_eq!(exports, 72, "every hc_* export is checked");
    }

    #[test]
    fn c_layouts_match_the_facts() {
        assert_eq!(std::mem::size_of::<sys::hc_system_record_t>(), 152);
        assert_eq!(std::mem::offset_of!(sys::hc_system_record_t, is_indexed), 145);
        assert_eq!(std::mem::offset_of!(sys::hc_system_record_t, size), 120);
        assert_eq!(std::mem::size_of::<sys::hc_value_t>(), 64);
        assert_eq!(std::mem::offset_of!(sys::hc_value_t, hcv), 8);
    }
}
