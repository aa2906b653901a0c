//! Shared harness for the FFI tests: loads the BUILT cdylib with libloading
//! and calls the `stsp_*` entry points exactly as a C host would.
//!
//! * The plugin is found through `COMBSTORE_PLUGIN`, else next to the test
//!   binary (target/<profile>/deps/ffi-HASH -> target/<profile>/libcombstore.so).
//! * `api()` loads it once (OnceLock) and calls `stsp_init(STS_VERSION)` once:
//!   init state is process-global and the tests run in parallel threads.
//!   Tests that must see an uninitialized or terminated plugin run in a
//!   child process (`isolated`), which uses `lib()` (loaded, not initialized).
//! * Every test builds its own server in a fresh TempDir (`Server::new`).
#![allow(dead_code)]
// The Api methods pass raw pointers straight to the C entry points: tests
// hand them NULL, dangling and forged pointers on purpose, to check the
// plugin's own argument checks. The error-code constants are cast to i32
// whatever integer type bindgen gives them (build.rs), so the casts stay.
#![allow(clippy::not_unsafe_ptr_arg_deref, clippy::unnecessary_cast)]

pub mod child;
pub mod hc;

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Once, OnceLock};

pub use combstore::sys;
use sys::{
    sts_cred_t, sts_evchannel_handle_t, sts_event_t, sts_image_def_t, sts_image_handle_t, sts_image_info_t,
    sts_image_list_handle_t, sts_lsu_info_t, sts_lsu_list_handle_t, sts_lsu_name_t, sts_lsu_t,
    sts_plugin_info_t, sts_server_handle_t, sts_server_info_t, sts_stat_t,
};

// ---------------------------------------------------------------------------
// Constants with the types the tests use (bindgen may emit them as u32 or i32).
// ---------------------------------------------------------------------------

pub mod c {
    use super::sys;
    pub const EOK: i32 = sys::STS_EOK as i32;
    pub const EINVAL: i32 = sys::STS_EINVAL as i32;
    pub const ENULL: i32 = sys::STS_ENULL as i32;
    pub const EHANDLE: i32 = sys::STS_EHANDLE as i32;
    pub const ENAME: i32 = sys::STS_ENAME as i32;
    pub const EALIGN: i32 = sys::STS_EALIGN as i32;
    pub const ERANGE: i32 = sys::STS_ERANGE as i32;
    pub const ETOOBIG: i32 = sys::STS_ETOOBIG as i32;
    pub const EVERSION: i32 = sys::STS_EVERSION as i32;
    pub const ENOT_INIT: i32 = sys::STS_ENOT_INIT as i32;
    pub const EMODE: i32 = sys::STS_EMODE as i32;
    pub const ENOT_MINE: i32 = sys::STS_ENOT_MINE as i32;
    pub const ENOSERVER: i32 = sys::STS_ENOSERVER as i32;
    pub const ENOLSU: i32 = sys::STS_ENOLSU as i32;
    pub const ENOENT: i32 = sys::STS_ENOENT as i32;
    pub const EEXIST: i32 = sys::STS_EEXIST as i32;
    pub const EBUSY: i32 = sys::STS_EBUSY as i32;
    pub const ECOMPLETE: i32 = sys::STS_ECOMPLETE as i32;
    pub const ENOTCOMPLETE: i32 = sys::STS_ENOTCOMPLETE as i32;
    pub const EBROKEN: i32 = sys::STS_EBROKEN as i32;
    pub const ENO_MORE: i32 = sys::STS_ENO_MORE as i32;
    pub const EAUTH: i32 = sys::STS_EAUTH as i32;
    pub const ENOTSUP: i32 = sys::STS_ENOTSUP as i32;
    pub const EXDEV: i32 = sys::STS_EXDEV as i32;
    pub const ENOOP: i32 = sys::STS_ENOOP as i32;
    pub const ECANCELED: i32 = sys::STS_ECANCELED as i32;
    pub const EOPFAILED: i32 = sys::STS_EOPFAILED as i32;
    pub const ENOSPC: i32 = sys::STS_ENOSPC as i32;
    pub const EIO: i32 = sys::STS_EIO as i32;
    pub const ECORRUPT: i32 = sys::STS_ECORRUPT as i32;
    pub const EPREVIO: i32 = sys::STS_EPREVIO as i32;
    pub const ETIMEDOUT: i32 = sys::STS_ETIMEDOUT as i32;
    pub const EINPROGRESS: i32 = sys::STS_EINPROGRESS as i32;
    pub const EINTERNAL: i32 = sys::STS_EINTERNAL as i32;
    pub const ENOMEM: i32 = sys::STS_ENOMEM as i32;

    /// Every error code of stsi.h with its name.
    pub const CODES: &[(&str, i32)] = &[
        ("STS_EOK", EOK),
        ("STS_EINVAL", EINVAL),
        ("STS_ENULL", ENULL),
        ("STS_EHANDLE", EHANDLE),
        ("STS_ENAME", ENAME),
        ("STS_EALIGN", EALIGN),
        ("STS_ERANGE", ERANGE),
        ("STS_ETOOBIG", ETOOBIG),
        ("STS_EVERSION", EVERSION),
        ("STS_ENOT_INIT", ENOT_INIT),
        ("STS_EMODE", EMODE),
        ("STS_ENOT_MINE", ENOT_MINE),
        ("STS_ENOSERVER", ENOSERVER),
        ("STS_ENOLSU", ENOLSU),
        ("STS_ENOENT", ENOENT),
        ("STS_EEXIST", EEXIST),
        ("STS_EBUSY", EBUSY),
        ("STS_ECOMPLETE", ECOMPLETE),
        ("STS_ENOTCOMPLETE", ENOTCOMPLETE),
        ("STS_EBROKEN", EBROKEN),
        ("STS_ENO_MORE", ENO_MORE),
        ("STS_EAUTH", EAUTH),
        ("STS_ENOTSUP", ENOTSUP),
        ("STS_EXDEV", EXDEV),
        ("STS_ENOOP", ENOOP),
        ("STS_ECANCELED", ECANCELED),
        ("STS_EOPFAILED", EOPFAILED),
        ("STS_ENOSPC", ENOSPC),
        ("STS_EIO", EIO),
        ("STS_ECORRUPT", ECORRUPT),
        ("STS_EPREVIO", EPREVIO),
        ("STS_ETIMEDOUT", ETIMEDOUT),
        ("STS_EINPROGRESS", EINPROGRESS),
        ("STS_EINTERNAL", EINTERNAL),
        ("STS_ENOMEM", ENOMEM),
    ];

    pub const VERSION: u32 = sys::STS_VERSION as u32;
    pub const VERSION_MIN: u32 = sys::STS_VERSION_MIN as u32;
    pub const VERSION_MAX: u32 = sys::STS_VERSION_MAX as u32;

    pub const BLOCK: u64 = sys::STS_BLOCK_SIZE as u64;
    pub const MAX_IO: u64 = sys::STS_MAX_IO_SIZE as u64;
    pub const MAX_META: u64 = sys::STS_MAX_IMAGE_META as u64;
    pub const MAX_SERVERNAME: usize = sys::STS_MAX_SERVERNAME as usize;
    pub const MAX_LSUNAME: usize = sys::STS_MAX_LSUNAME as usize;
    pub const MAX_IMAGENAME: usize = sys::STS_MAX_IMAGENAME as usize;
    pub const MAX_DATE: usize = sys::STS_MAX_DATE as usize;
    pub const MAX_LABEL: usize = sys::STS_MAX_LABEL as usize;
    pub const MAX_OPNAME: usize = sys::STS_MAX_OPNAME as usize;
    pub const MAX_EVTEXT: usize = sys::STS_MAX_EVTEXT as usize;
    pub const SRV_CAP_WORDS: usize = sys::STS_SRV_CAP_WORDS as usize;

    pub const II_PENDING: u32 = sys::STS_II_IMAGE_PENDING as u32;
    pub const II_BUSY_WRITE: u32 = sys::STS_II_BUSY_WRITE as u32;
    pub const II_CREATED: u32 = sys::STS_II_IMAGE_CREATED as u32;
    pub const II_COMPLETE: u32 = sys::STS_II_IMAGE_COMPLETE as u32;
    pub const II_FILES_PENDING: u32 = sys::STS_II_FILES_PENDING as u32;
    pub const II_FILES_CREATED: u32 = sys::STS_II_FILES_CREATED as u32;
    pub const II_ABNORMAL: u32 = sys::STS_II_ABNORMAL as u32;

    pub const O_READ: i32 = sys::STS_O_READ as i32;
    pub const O_WRITE: i32 = sys::STS_O_WRITE as i32;
    pub const CLOSE_INCOMPLETE: i32 = sys::STS_CLOSEF_IH_INCOMPLETE as i32;
    pub const CLOSE_COMPLETE: i32 = sys::STS_CLOSEF_IH_COMPLETE as i32;

    pub const CX_APPEND: i32 = sys::STS_CX_APPEND as i32;
    pub const CX_REMAINDER: i32 = sys::STS_CX_REMAINDER as i32;

    pub const TIMEOUT_NONE: u32 = sys::STS_TIMEOUT_NONE as u32;
    pub const TIMEOUT_INFINITE: u32 = sys::STS_TIMEOUT_INFINITE as u32;

    pub const EVT_ASYNC_DONE: u32 = sys::STS_EVT_ASYNC_DONE as u32;
    pub const EVT_DELETE_DONE: u32 = sys::STS_EVT_DELETE_DONE as u32;
    pub const EVT_LABEL: u32 = sys::STS_EVT_LABEL as u32;
    pub const EVT_LOW_SPACE: u32 = sys::STS_EVT_LOW_SPACE as u32;

    pub const LSUF_DISK: u32 = sys::STS_LSUF_DISK as u32;
    pub const LSUF_NOT_FREED: u32 = sys::STS_LSUF_STORAGE_NOT_FREED as u32;
    pub const LSUF_FREED: u32 = sys::STS_LSUF_STORAGE_FREED as u32;
    pub const LSUF_FREED_DEFERRED: u32 = sys::STS_LSUF_STORAGE_FREED_DEFERRED as u32;
    pub const LSUF_SHARED: u32 = sys::STS_LSUF_STORAGE_SHARED as u32;
    pub const LSUF_DEDUP: u32 = sys::STS_LSUF_DEDUP as u32;
    pub const LSUF_COMPRESSED: u32 = sys::STS_LSUF_COMPRESSED as u32;

    pub const SRV_IMAGELIST: u32 = sys::STS_SRV_IMAGELIST as u32;
    pub const SRV_IMAGE_COPY: u32 = sys::STS_SRV_IMAGE_COPY as u32;
    pub const SRV_VIRTUAL_IMAGE: u32 = sys::STS_SRV_VIRTUAL_IMAGE as u32;
    pub const SRV_EVENTS: u32 = sys::STS_SRV_EVENTS as u32;
    pub const SRV_CRED: u32 = sys::STS_SRV_CRED as u32;
    pub const SRV_DEDUP: u32 = sys::STS_SRV_DEDUP as u32;

    pub const CAP_OPEN_TARGET_SERVER: usize = sys::STS_CAP_OPEN_TARGET_SERVER as usize;
    pub const CAP_COPY_EXTENT: usize = sys::STS_CAP_COPY_EXTENT as usize;
    pub const CAP_COPY_IMAGE: usize = sys::STS_CAP_COPY_IMAGE as usize;
    pub const CAP_INCLUDE_IN_IMAGE: usize = sys::STS_CAP_INCLUDE_IN_IMAGE as usize;
    pub const CAP_ASYNC_COPY_IMAGE: usize = sys::STS_CAP_ASYNC_COPY_IMAGE as usize;
    pub const CAP_NAMED_ASYNC_COPY_IMAGE: usize = sys::STS_CAP_NAMED_ASYNC_COPY_IMAGE as usize;
    pub const CAP_NAMED_ASYNC_WAIT: usize = sys::STS_CAP_NAMED_ASYNC_WAIT as usize;
    pub const CAP_NAMED_ASYNC_CANCEL: usize = sys::STS_CAP_NAMED_ASYNC_CANCEL as usize;
    pub const CAP_EVCHANNEL: usize = sys::STS_CAP_EVCHANNEL as usize;
    pub const CAP_LABEL_LSU: usize = sys::STS_CAP_LABEL_LSU as usize;
}

/// "STS_EBUSY (25)" for messages; unknown numbers are shown as such.
pub fn code_name(rc: i32) -> String {
    match c::CODES.iter().find(|(_, v)| *v == rc) {
        Some((n, v)) => format!("{n} ({v})"),
        None => format!("<unknown code {rc}>"),
    }
}

/// "PENDING|BUSY_WRITE" for messages.
pub fn flags_str(f: u32) -> String {
    let names = [
        (c::II_PENDING, "PENDING"),
        (c::II_BUSY_WRITE, "BUSY_WRITE"),
        (c::II_CREATED, "CREATED"),
        (c::II_COMPLETE, "COMPLETE"),
        (c::II_FILES_PENDING, "FILES_PENDING"),
        (c::II_FILES_CREATED, "FILES_CREATED"),
        (c::II_ABNORMAL, "ABNORMAL"),
    ];
    let mut parts: Vec<String> = names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let known: u32 = names.iter().map(|(b, _)| b).fold(0, |a, b| a | b);
    if f & !known != 0 {
        parts.push(format!("0x{:x}", f & !known));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

/// Assert that an entry point returned the expected STS code.
#[macro_export]
macro_rules! assert_rc {
    ($call:expr, $expected:expr) => {{
        let rc: i32 = $call;
        let exp: i32 = $expected;
        if rc != exp {
            panic!(
                "{}\n  expected {}\n       got {}",
                stringify!($call),
                $crate::common::code_name(exp),
                $crate::common::code_name(rc)
            );
        }
    }};
    ($call:expr, $expected:expr, $($fmt:tt)+) => {{
        let rc: i32 = $call;
        let exp: i32 = $expected;
        if rc != exp {
            panic!(
                "{}: {}\n  expected {}\n       got {}",
                format!($($fmt)+),
                stringify!($call),
                $crate::common::code_name(exp),
                $crate::common::code_name(rc)
            );
        }
    }};
}

// ---------------------------------------------------------------------------
// Function-pointer types, as declared in include/stspi.h.
// ---------------------------------------------------------------------------

pub type FnInit = unsafe extern "C" fn(u32, *mut sts_plugin_info_t) -> c_int;
pub type FnTerminate = unsafe extern "C" fn() -> c_int;
pub type FnClaim = unsafe extern "C" fn(*const c_char) -> c_int;
pub type FnStrerror = unsafe extern "C" fn(c_int) -> *const c_char;
pub type FnOpenServer =
    unsafe extern "C" fn(*const c_char, *const sts_cred_t, *mut sts_server_handle_t) -> c_int;
pub type FnCloseServer = unsafe extern "C" fn(sts_server_handle_t) -> c_int;
pub type FnGetServerProp = unsafe extern "C" fn(sts_server_handle_t, *mut sts_server_info_t) -> c_int;
pub type FnGetServerPropByname =
    unsafe extern "C" fn(*const c_char, *const sts_cred_t, *mut sts_server_info_t) -> c_int;
pub type FnOpenLsuList = unsafe extern "C" fn(sts_server_handle_t, *mut sts_lsu_list_handle_t) -> c_int;
pub type FnListLsu = unsafe extern "C" fn(sts_lsu_list_handle_t, *mut sts_lsu_name_t) -> c_int;
pub type FnCloseLsuList = unsafe extern "C" fn(sts_lsu_list_handle_t) -> c_int;
pub type FnGetLsuPropByname = unsafe extern "C" fn(*const sts_lsu_t, *mut sts_lsu_info_t) -> c_int;
pub type FnCreateImage =
    unsafe extern "C" fn(*const sts_lsu_t, *const sts_image_def_t, c_int, *mut sts_image_handle_t) -> c_int;
pub type FnWriteImage =
    unsafe extern "C" fn(sts_image_handle_t, *const sts_stat_t, *const c_void, u64, u64, *mut u64) -> c_int;
pub type FnFlush = unsafe extern "C" fn(sts_image_handle_t) -> c_int;
pub type FnCloseImage = unsafe extern "C" fn(sts_image_handle_t, c_int) -> c_int;
pub type FnOpenImage =
    unsafe extern "C" fn(*const sts_lsu_t, *const sts_image_def_t, c_int, *mut sts_image_handle_t) -> c_int;
pub type FnReadImage = unsafe extern "C" fn(sts_image_handle_t, *mut c_void, u64, u64, *mut u64) -> c_int;
pub type FnDeleteImage = unsafe extern "C" fn(*const sts_lsu_t, *const sts_image_def_t, c_int) -> c_int;
pub type FnOpenImageList = unsafe extern "C" fn(*const sts_lsu_t, *mut sts_image_list_handle_t) -> c_int;
pub type FnListImage = unsafe extern "C" fn(sts_image_list_handle_t, *mut sts_image_def_t) -> c_int;
pub type FnCloseImageList = unsafe extern "C" fn(sts_image_list_handle_t) -> c_int;
pub type FnGetImageProp = unsafe extern "C" fn(sts_image_handle_t, *mut sts_image_info_t) -> c_int;
pub type FnGetImagePropByname =
    unsafe extern "C" fn(*const sts_lsu_t, *const sts_image_def_t, *mut sts_image_info_t) -> c_int;
pub type FnReadImageMeta = unsafe extern "C" fn(sts_image_handle_t, *mut c_void, u64, u64, *mut u64) -> c_int;
pub type FnWriteImageMeta =
    unsafe extern "C" fn(sts_image_handle_t, *const c_void, u64, u64, *mut u64) -> c_int;
pub type FnOpenTargetServer = unsafe extern "C" fn(
    sts_server_handle_t,
    *const c_char,
    *const sts_cred_t,
    *mut sts_server_handle_t,
) -> c_int;
pub type FnCopyExtent =
    unsafe extern "C" fn(sts_image_handle_t, sts_image_handle_t, u64, u64, u64, c_int, *mut u64) -> c_int;
pub type FnCopyImage = unsafe extern "C" fn(
    *const sts_lsu_t,
    *const sts_image_def_t,
    *const sts_lsu_t,
    *const sts_image_def_t,
    c_int,
) -> c_int;
pub type FnIncludeInImage =
    unsafe extern "C" fn(sts_image_handle_t, sts_image_handle_t, u64, u64, u64, c_int, *mut u64) -> c_int;
pub type FnOpenEvchannel = unsafe extern "C" fn(sts_server_handle_t, *mut sts_evchannel_handle_t) -> c_int;
pub type FnGetEvent = unsafe extern "C" fn(sts_evchannel_handle_t, u32, *mut sts_event_t) -> c_int;
pub type FnDeleteEvent = unsafe extern "C" fn(sts_evchannel_handle_t, u64) -> c_int;
pub type FnCloseEvchannel = unsafe extern "C" fn(sts_evchannel_handle_t) -> c_int;
pub type FnAsyncCopyImage = unsafe extern "C" fn(
    *const sts_lsu_t,
    *const sts_image_def_t,
    *const sts_lsu_t,
    *const sts_image_def_t,
    c_int,
    *mut u64,
) -> c_int;
pub type FnNamedAsyncCopyImage = unsafe extern "C" fn(
    *const sts_lsu_t,
    *const sts_image_def_t,
    *const sts_lsu_t,
    *const sts_image_def_t,
    c_int,
    *const c_char,
) -> c_int;
pub type FnNamedAsyncWait =
    unsafe extern "C" fn(sts_server_handle_t, *const c_char, u32, *mut c_int) -> c_int;
pub type FnNamedAsyncCancel = unsafe extern "C" fn(sts_server_handle_t, *const c_char) -> c_int;
pub type FnLabelLsu = unsafe extern "C" fn(*const sts_lsu_t, *const c_char) -> c_int;

/// Compile-time proof that the pointer types above are exactly the
/// prototypes bindgen generated from include/stspi.h. Generic and never
/// instantiated, so it is type-checked but never code-generated (no link
/// dependency on the symbols).
#[allow(unused_variables, clippy::extra_unused_type_parameters)]
fn _prototypes_match_stspi_h<T>() {
    let f: FnInit = sys::stsp_init;
    let f: FnTerminate = sys::stsp_terminate;
    let f: FnClaim = sys::stsp_claim;
    let f: FnStrerror = sys::stsp_strerror;
    let f: FnOpenServer = sys::stsp_open_server;
    let f: FnCloseServer = sys::stsp_close_server;
    let f: FnGetServerProp = sys::stsp_get_server_prop;
    let f: FnGetServerPropByname = sys::stsp_get_server_prop_byname;
    let f: FnOpenLsuList = sys::stsp_open_lsu_list;
    let f: FnListLsu = sys::stsp_list_lsu;
    let f: FnCloseLsuList = sys::stsp_close_lsu_list;
    let f: FnGetLsuPropByname = sys::stsp_get_lsu_prop_byname;
    let f: FnCreateImage = sys::stsp_create_image;
    let f: FnWriteImage = sys::stsp_write_image;
    let f: FnFlush = sys::stsp_flush;
    let f: FnCloseImage = sys::stsp_close_image;
    let f: FnOpenImage = sys::stsp_open_image;
    let f: FnReadImage = sys::stsp_read_image;
    let f: FnDeleteImage = sys::stsp_delete_image;
    let f: FnOpenImageList = sys::stsp_open_image_list;
    let f: FnListImage = sys::stsp_list_image;
    let f: FnCloseImageList = sys::stsp_close_image_list;
    let f: FnGetImageProp = sys::stsp_get_image_prop;
    let f: FnGetImagePropByname = sys::stsp_get_image_prop_byname;
    let f: FnReadImageMeta = sys::stsp_read_image_meta;
    let f: FnWriteImageMeta = sys::stsp_write_image_meta;
    let f: FnOpenTargetServer = sys::stsp_open_target_server;
    let f: FnCopyExtent = sys::stsp_copy_extent;
    let f: FnCopyImage = sys::stsp_copy_image;
    let f: FnIncludeInImage = sys::stsp_include_in_image;
    let f: FnOpenEvchannel = sys::stsp_open_evchannel;
    let f: FnGetEvent = sys::stsp_get_event;
    let f: FnDeleteEvent = sys::stsp_delete_event;
    let f: FnCloseEvchannel = sys::stsp_close_evchannel;
    let f: FnAsyncCopyImage = sys::stsp_async_copy_image;
    let f: FnNamedAsyncCopyImage = sys::stsp_named_async_copy_image;
    let f: FnNamedAsyncWait = sys::stsp_named_async_wait;
    let f: FnNamedAsyncCancel = sys::stsp_named_async_cancel;
    let f: FnLabelLsu = sys::stsp_label_lsu;
}

/// Every entry point declared in include/stspi.h.
pub const ENTRY_POINTS: &[&str] = &[
    "stsp_init",
    "stsp_terminate",
    "stsp_claim",
    "stsp_strerror",
    "stsp_open_server",
    "stsp_close_server",
    "stsp_get_server_prop",
    "stsp_get_server_prop_byname",
    "stsp_open_lsu_list",
    "stsp_list_lsu",
    "stsp_close_lsu_list",
    "stsp_get_lsu_prop_byname",
    "stsp_create_image",
    "stsp_write_image",
    "stsp_flush",
    "stsp_close_image",
    "stsp_open_image",
    "stsp_read_image",
    "stsp_delete_image",
    "stsp_open_image_list",
    "stsp_list_image",
    "stsp_close_image_list",
    "stsp_get_image_prop",
    "stsp_get_image_prop_byname",
    "stsp_read_image_meta",
    "stsp_write_image_meta",
    "stsp_open_target_server",
    "stsp_copy_extent",
    "stsp_copy_image",
    "stsp_include_in_image",
    "stsp_open_evchannel",
    "stsp_get_event",
    "stsp_delete_event",
    "stsp_close_evchannel",
    "stsp_async_copy_image",
    "stsp_named_async_copy_image",
    "stsp_named_async_wait",
    "stsp_named_async_cancel",
    "stsp_label_lsu",
];

/// Entry points the loader resolves optionally (added with optimized
/// duplication, then with events and asynchronous operations): a library
/// without them still loads and runs every other test; calling one that is
/// missing panics with "symbol missing".
pub const OPTIONAL_ENTRY_POINTS: &[&str] = &[
    "stsp_open_target_server",
    "stsp_copy_extent",
    "stsp_copy_image",
    "stsp_include_in_image",
    "stsp_open_evchannel",
    "stsp_get_event",
    "stsp_delete_event",
    "stsp_close_evchannel",
    "stsp_async_copy_image",
    "stsp_named_async_copy_image",
    "stsp_named_async_wait",
    "stsp_named_async_cancel",
    "stsp_label_lsu",
];

// ---------------------------------------------------------------------------
// Loader
// ---------------------------------------------------------------------------

pub struct Api {
    pub lib: libloading::Library,
    pub path: PathBuf,
    pub stsp_init: FnInit,
    pub stsp_terminate: FnTerminate,
    pub stsp_claim: FnClaim,
    pub stsp_strerror: FnStrerror,
    pub stsp_open_server: FnOpenServer,
    pub stsp_close_server: FnCloseServer,
    pub stsp_get_server_prop: FnGetServerProp,
    pub stsp_get_server_prop_byname: FnGetServerPropByname,
    pub stsp_open_lsu_list: FnOpenLsuList,
    pub stsp_list_lsu: FnListLsu,
    pub stsp_close_lsu_list: FnCloseLsuList,
    pub stsp_get_lsu_prop_byname: FnGetLsuPropByname,
    pub stsp_create_image: FnCreateImage,
    pub stsp_write_image: FnWriteImage,
    pub stsp_flush: FnFlush,
    pub stsp_close_image: FnCloseImage,
    pub stsp_open_image: FnOpenImage,
    pub stsp_read_image: FnReadImage,
    pub stsp_delete_image: FnDeleteImage,
    pub stsp_open_image_list: FnOpenImageList,
    pub stsp_list_image: FnListImage,
    pub stsp_close_image_list: FnCloseImageList,
    pub stsp_get_image_prop: FnGetImageProp,
    pub stsp_get_image_prop_byname: FnGetImagePropByname,
    pub stsp_read_image_meta: FnReadImageMeta,
    pub stsp_write_image_meta: FnWriteImageMeta,
    // optional (see OPTIONAL_ENTRY_POINTS): None when not exported
    pub stsp_open_target_server: Option<FnOpenTargetServer>,
    pub stsp_copy_extent: Option<FnCopyExtent>,
    pub stsp_copy_image: Option<FnCopyImage>,
    pub stsp_include_in_image: Option<FnIncludeInImage>,
    pub stsp_open_evchannel: Option<FnOpenEvchannel>,
    pub stsp_get_event: Option<FnGetEvent>,
    pub stsp_delete_event: Option<FnDeleteEvent>,
    pub stsp_close_evchannel: Option<FnCloseEvchannel>,
    pub stsp_async_copy_image: Option<FnAsyncCopyImage>,
    pub stsp_named_async_copy_image: Option<FnNamedAsyncCopyImage>,
    pub stsp_named_async_wait: Option<FnNamedAsyncWait>,
    pub stsp_named_async_cancel: Option<FnNamedAsyncCancel>,
    pub stsp_label_lsu: Option<FnLabelLsu>,
}

/// Where the built cdylib is.
pub fn plugin_path() -> PathBuf {
    if let Some(p) = std::env::var_os("COMBSTORE_PLUGIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/ffi-HASH -> target/<profile>/libcombstore.so
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in target/<profile>/deps");
    profile_dir.join("libcombstore.so")
}

static API: OnceLock<Api> = OnceLock::new();
static INIT: Once = Once::new();

fn load() -> Api {
    let path = plugin_path();
    let lib = unsafe { libloading::Library::new(&path) }.unwrap_or_else(|e| {
        panic!(
            "cannot load plugin {}: {e} (build it: cargo build --release --lib)",
            path.display()
        )
    });
    macro_rules! sym {
        ($name:ident) => {{
            let s: libloading::Symbol<'_, _> =
                unsafe { lib.get(concat!(stringify!($name), "\0").as_bytes()) }.unwrap_or_else(|e| {
                    panic!(
                        "plugin {} does not export {}: {e}",
                        path.display(),
                        stringify!($name)
                    )
                });
            *s
        }};
    }
    macro_rules! opt_sym {
        ($name:ident) => {{
            let s: Option<libloading::Symbol<'_, _>> =
                unsafe { lib.get(concat!(stringify!($name), "\0").as_bytes()) }.ok();
            s.map(|s| *s)
        }};
    }
    Api {
        stsp_init: sym!(stsp_init),
        stsp_terminate: sym!(stsp_terminate),
        stsp_claim: sym!(stsp_claim),
        stsp_strerror: sym!(stsp_strerror),
        stsp_open_server: sym!(stsp_open_server),
        stsp_close_server: sym!(stsp_close_server),
        stsp_get_server_prop: sym!(stsp_get_server_prop),
        stsp_get_server_prop_byname: sym!(stsp_get_server_prop_byname),
        stsp_open_lsu_list: sym!(stsp_open_lsu_list),
        stsp_list_lsu: sym!(stsp_list_lsu),
        stsp_close_lsu_list: sym!(stsp_close_lsu_list),
        stsp_get_lsu_prop_byname: sym!(stsp_get_lsu_prop_byname),
        stsp_create_image: sym!(stsp_create_image),
        stsp_write_image: sym!(stsp_write_image),
        stsp_flush: sym!(stsp_flush),
        stsp_close_image: sym!(stsp_close_image),
        stsp_open_image: sym!(stsp_open_image),
        stsp_read_image: sym!(stsp_read_image),
        stsp_delete_image: sym!(stsp_delete_image),
        stsp_open_image_list: sym!(stsp_open_image_list),
        stsp_list_image: sym!(stsp_list_image),
        stsp_close_image_list: sym!(stsp_close_image_list),
        stsp_get_image_prop: sym!(stsp_get_image_prop),
        stsp_get_image_prop_byname: sym!(stsp_get_image_prop_byname),
        stsp_read_image_meta: sym!(stsp_read_image_meta),
        stsp_write_image_meta: sym!(stsp_write_image_meta),
        stsp_open_target_server: opt_sym!(stsp_open_target_server),
        stsp_copy_extent: opt_sym!(stsp_copy_extent),
        stsp_copy_image: opt_sym!(stsp_copy_image),
        stsp_include_in_image: opt_sym!(stsp_include_in_image),
        stsp_open_evchannel: opt_sym!(stsp_open_evchannel),
        stsp_get_event: opt_sym!(stsp_get_event),
        stsp_delete_event: opt_sym!(stsp_delete_event),
        stsp_close_evchannel: opt_sym!(stsp_close_evchannel),
        stsp_async_copy_image: opt_sym!(stsp_async_copy_image),
        stsp_named_async_copy_image: opt_sym!(stsp_named_async_copy_image),
        stsp_named_async_wait: opt_sym!(stsp_named_async_wait),
        stsp_named_async_cancel: opt_sym!(stsp_named_async_cancel),
        stsp_label_lsu: opt_sym!(stsp_label_lsu),
        path,
        lib,
    }
}

/// The loaded plugin, NOT initialized by this call (for lifecycle tests
/// running in a child process).
pub fn lib() -> &'static Api {
    API.get_or_init(load)
}

/// The loaded plugin, initialized once per process with STS_VERSION.
pub fn api() -> &'static Api {
    let a = lib();
    INIT.call_once(|| {
        let mut info = sts_plugin_info_t::default();
        assert_rc!(
            a.init(c::VERSION, &mut info),
            c::EOK,
            "stsp_init(STS_VERSION) in the shared loader"
        );
    });
    a
}

/// Thin call wrappers: the same arguments as the C prototypes. Raw pointers
/// are passed through untouched, so tests can pass NULL or garbage exactly
/// as a C host could.
#[allow(clippy::too_many_arguments)]
impl Api {
    pub fn init(&self, v: u32, info: *mut sts_plugin_info_t) -> i32 {
        unsafe { (self.stsp_init)(v, info) }
    }
    pub fn terminate(&self) -> i32 {
        unsafe { (self.stsp_terminate)() }
    }
    pub fn claim(&self, name: *const c_char) -> i32 {
        unsafe { (self.stsp_claim)(name) }
    }
    pub fn strerror(&self, code: i32) -> *const c_char {
        unsafe { (self.stsp_strerror)(code) }
    }
    pub fn open_server(
        &self,
        name: *const c_char,
        cred: *const sts_cred_t,
        sh: *mut sts_server_handle_t,
    ) -> i32 {
        unsafe { (self.stsp_open_server)(name, cred, sh) }
    }
    pub fn close_server(&self, sh: sts_server_handle_t) -> i32 {
        unsafe { (self.stsp_close_server)(sh) }
    }
    pub fn get_server_prop(&self, sh: sts_server_handle_t, info: *mut sts_server_info_t) -> i32 {
        unsafe { (self.stsp_get_server_prop)(sh, info) }
    }
    pub fn get_server_prop_byname(
        &self,
        name: *const c_char,
        cred: *const sts_cred_t,
        info: *mut sts_server_info_t,
    ) -> i32 {
        unsafe { (self.stsp_get_server_prop_byname)(name, cred, info) }
    }
    pub fn open_lsu_list(&self, sh: sts_server_handle_t, lh: *mut sts_lsu_list_handle_t) -> i32 {
        unsafe { (self.stsp_open_lsu_list)(sh, lh) }
    }
    pub fn list_lsu(&self, lh: sts_lsu_list_handle_t, name: *mut sts_lsu_name_t) -> i32 {
        unsafe { (self.stsp_list_lsu)(lh, name) }
    }
    pub fn close_lsu_list(&self, lh: sts_lsu_list_handle_t) -> i32 {
        unsafe { (self.stsp_close_lsu_list)(lh) }
    }
    pub fn get_lsu_prop_byname(&self, lsu: *const sts_lsu_t, info: *mut sts_lsu_info_t) -> i32 {
        unsafe { (self.stsp_get_lsu_prop_byname)(lsu, info) }
    }
    pub fn create_image(
        &self,
        lsu: *const sts_lsu_t,
        def: *const sts_image_def_t,
        pending: i32,
        ih: *mut sts_image_handle_t,
    ) -> i32 {
        unsafe { (self.stsp_create_image)(lsu, def, pending, ih) }
    }
    pub fn write_image(
        &self,
        ih: sts_image_handle_t,
        stat: *const sts_stat_t,
        buf: *const c_void,
        len: u64,
        off: u64,
        n: *mut u64,
    ) -> i32 {
        unsafe { (self.stsp_write_image)(ih, stat, buf, len, off, n) }
    }
    pub fn flush(&self, ih: sts_image_handle_t) -> i32 {
        unsafe { (self.stsp_flush)(ih) }
    }
    pub fn close_image(&self, ih: sts_image_handle_t, flags: i32) -> i32 {
        unsafe { (self.stsp_close_image)(ih, flags) }
    }
    pub fn open_image(
        &self,
        lsu: *const sts_lsu_t,
        def: *const sts_image_def_t,
        mode: i32,
        ih: *mut sts_image_handle_t,
    ) -> i32 {
        unsafe { (self.stsp_open_image)(lsu, def, mode, ih) }
    }
    pub fn read_image(
        &self,
        ih: sts_image_handle_t,
        buf: *mut c_void,
        len: u64,
        off: u64,
        n: *mut u64,
    ) -> i32 {
        unsafe { (self.stsp_read_image)(ih, buf, len, off, n) }
    }
    pub fn delete_image(&self, lsu: *const sts_lsu_t, def: *const sts_image_def_t, asyncflag: i32) -> i32 {
        unsafe { (self.stsp_delete_image)(lsu, def, asyncflag) }
    }
    pub fn open_image_list(&self, lsu: *const sts_lsu_t, lh: *mut sts_image_list_handle_t) -> i32 {
        unsafe { (self.stsp_open_image_list)(lsu, lh) }
    }
    pub fn list_image(&self, lh: sts_image_list_handle_t, def: *mut sts_image_def_t) -> i32 {
        unsafe { (self.stsp_list_image)(lh, def) }
    }
    pub fn close_image_list(&self, lh: sts_image_list_handle_t) -> i32 {
        unsafe { (self.stsp_close_image_list)(lh) }
    }
    pub fn get_image_prop(&self, ih: sts_image_handle_t, info: *mut sts_image_info_t) -> i32 {
        unsafe { (self.stsp_get_image_prop)(ih, info) }
    }
    pub fn get_image_prop_byname(
        &self,
        lsu: *const sts_lsu_t,
        def: *const sts_image_def_t,
        info: *mut sts_image_info_t,
    ) -> i32 {
        unsafe { (self.stsp_get_image_prop_byname)(lsu, def, info) }
    }
    pub fn read_image_meta(
        &self,
        ih: sts_image_handle_t,
        buf: *mut c_void,
        len: u64,
        off: u64,
        n: *mut u64,
    ) -> i32 {
        unsafe { (self.stsp_read_image_meta)(ih, buf, len, off, n) }
    }
    pub fn write_image_meta(
        &self,
        ih: sts_image_handle_t,
        buf: *const c_void,
        len: u64,
        off: u64,
        n: *mut u64,
    ) -> i32 {
        unsafe { (self.stsp_write_image_meta)(ih, buf, len, off, n) }
    }

    /// An optional entry point, or a clear failure when the plugin lacks it.
    fn need<F: Copy>(&self, f: Option<F>, name: &str) -> F {
        f.unwrap_or_else(|| {
            panic!(
                "symbol missing: plugin {} does not export {name}",
                self.path.display()
            )
        })
    }
    pub fn open_target_server(
        &self,
        source: sts_server_handle_t,
        name: *const c_char,
        cred: *const sts_cred_t,
        target: *mut sts_server_handle_t,
    ) -> i32 {
        let f = self.need(self.stsp_open_target_server, "stsp_open_target_server");
        unsafe { f(source, name, cred, target) }
    }
    pub fn copy_extent(
        &self,
        from: sts_image_handle_t,
        to: sts_image_handle_t,
        from_off: u64,
        to_off: u64,
        len: u64,
        flags: i32,
        n: *mut u64,
    ) -> i32 {
        let f = self.need(self.stsp_copy_extent, "stsp_copy_extent");
        unsafe { f(from, to, from_off, to_off, len, flags, n) }
    }
    pub fn copy_image(
        &self,
        to_lsu: *const sts_lsu_t,
        to_def: *const sts_image_def_t,
        from_lsu: *const sts_lsu_t,
        from_def: *const sts_image_def_t,
        flags: i32,
    ) -> i32 {
        let f = self.need(self.stsp_copy_image, "stsp_copy_image");
        unsafe { f(to_lsu, to_def, from_lsu, from_def, flags) }
    }
    pub fn include_in_image(
        &self,
        from: sts_image_handle_t,
        to: sts_image_handle_t,
        from_off: u64,
        to_off: u64,
        len: u64,
        flags: i32,
        n: *mut u64,
    ) -> i32 {
        let f = self.need(self.stsp_include_in_image, "stsp_include_in_image");
        unsafe { f(from, to, from_off, to_off, len, flags, n) }
    }
    pub fn open_evchannel(&self, sh: sts_server_handle_t, evc: *mut sts_evchannel_handle_t) -> i32 {
        let f = self.need(self.stsp_open_evchannel, "stsp_open_evchannel");
        unsafe { f(sh, evc) }
    }
    pub fn get_event(&self, evc: sts_evchannel_handle_t, timeout_ms: u32, ev: *mut sts_event_t) -> i32 {
        let f = self.need(self.stsp_get_event, "stsp_get_event");
        unsafe { f(evc, timeout_ms, ev) }
    }
    pub fn delete_event(&self, evc: sts_evchannel_handle_t, ev_id: u64) -> i32 {
        let f = self.need(self.stsp_delete_event, "stsp_delete_event");
        unsafe { f(evc, ev_id) }
    }
    pub fn close_evchannel(&self, evc: sts_evchannel_handle_t) -> i32 {
        let f = self.need(self.stsp_close_evchannel, "stsp_close_evchannel");
        unsafe { f(evc) }
    }
    pub fn async_copy_image(
        &self,
        to_lsu: *const sts_lsu_t,
        to_def: *const sts_image_def_t,
        from_lsu: *const sts_lsu_t,
        from_def: *const sts_image_def_t,
        flags: i32,
        op_id: *mut u64,
    ) -> i32 {
        let f = self.need(self.stsp_async_copy_image, "stsp_async_copy_image");
        unsafe { f(to_lsu, to_def, from_lsu, from_def, flags, op_id) }
    }
    pub fn named_async_copy_image(
        &self,
        to_lsu: *const sts_lsu_t,
        to_def: *const sts_image_def_t,
        from_lsu: *const sts_lsu_t,
        from_def: *const sts_image_def_t,
        flags: i32,
        op_name: *const c_char,
    ) -> i32 {
        let f = self.need(self.stsp_named_async_copy_image, "stsp_named_async_copy_image");
        unsafe { f(to_lsu, to_def, from_lsu, from_def, flags, op_name) }
    }
    pub fn named_async_wait(
        &self,
        sh: sts_server_handle_t,
        op_name: *const c_char,
        timeout_ms: u32,
        op_status: *mut c_int,
    ) -> i32 {
        let f = self.need(self.stsp_named_async_wait, "stsp_named_async_wait");
        unsafe { f(sh, op_name, timeout_ms, op_status) }
    }
    pub fn named_async_cancel(&self, sh: sts_server_handle_t, op_name: *const c_char) -> i32 {
        let f = self.need(self.stsp_named_async_cancel, "stsp_named_async_cancel");
        unsafe { f(sh, op_name) }
    }
    pub fn label_lsu(&self, lsu: *const sts_lsu_t, label: *const c_char) -> i32 {
        let f = self.need(self.stsp_label_lsu, "stsp_label_lsu");
        unsafe { f(lsu, label) }
    }
}

// ---------------------------------------------------------------------------
// Strings and struct builders
// ---------------------------------------------------------------------------

/// Copy `s` into a C char array, NUL-terminated (panics if it does not fit).
pub fn set_cstr(dst: &mut [c_char], s: &[u8]) {
    assert!(
        s.len() < dst.len(),
        "{} bytes do not fit a {}-byte C array",
        s.len(),
        dst.len()
    );
    dst.fill(0);
    for (d, b) in dst.iter_mut().zip(s) {
        *d = *b as c_char;
    }
}

/// Fill a C char array completely with `b` (no NUL anywhere).
pub fn fill_unterminated(dst: &mut [c_char], b: u8) {
    dst.fill(b as c_char);
}

/// The bytes of a C char array up to its first NUL (or all of it).
pub fn cbytes(src: &[c_char]) -> Vec<u8> {
    src.iter().map(|c| *c as u8).take_while(|b| *b != 0).collect()
}

/// A C char array as a String (lossy).
pub fn cstr(src: &[c_char]) -> String {
    String::from_utf8_lossy(&cbytes(src)).into_owned()
}

pub fn cstring(s: &str) -> CString {
    CString::new(s).expect("no NUL in test string")
}

pub fn image_def(basename: &str, date: &str) -> sts_image_def_t {
    image_def_bytes(basename.as_bytes(), date.as_bytes())
}

pub fn image_def_bytes(basename: &[u8], date: &[u8]) -> sts_image_def_t {
    let mut d = sts_image_def_t::default();
    set_cstr(&mut d.img_basename, basename);
    set_cstr(&mut d.img_date, date);
    d
}

pub fn lsu_name(name: &str) -> sts_lsu_name_t {
    let mut n = sts_lsu_name_t::default();
    set_cstr(&mut n.sln_name, name.as_bytes());
    n
}

pub fn lsu_t(sh: sts_server_handle_t, name: &str) -> sts_lsu_t {
    sts_lsu_t {
        sl_server_handle: sh,
        sl_lsu_name: lsu_name(name),
    }
}

/// A handle value this process never got from the plugin.
pub fn bogus<T>(v: usize) -> *mut T {
    v as *mut T
}

/// Send/Sync wrapper for handles and lsu structs moved into threads
/// (the contract: any handle may be used from any thread).
#[derive(Clone, Copy)]
pub struct Shared<T>(pub T);
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

/// Deterministic pseudo-random bytes (splitmix64).
pub fn seeded(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    while out.len() < len {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A small deterministic PRNG for random offsets.
pub struct Rng(pub u64);
impl Rng {
    #[allow(clippy::should_implement_trait)] // an endless stream, not an Iterator
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The content of an image derived from its name alone (so any process can
/// verify any image): 4 KiB .. 400 KiB of seeded bytes.
pub fn data_for(name: &str) -> Vec<u8> {
    let h = fnv1a(name);
    let len = (1 + (h % 100) as usize) * 4096;
    seeded(h, len)
}

pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    let d = sha1::Sha1::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

pub fn server_name_for(path: &Path) -> String {
    format!("combstore:{}", path.display())
}

/// An open server in a fresh temporary directory; closed on drop.
pub struct Server {
    pub sh: sts_server_handle_t,
    pub name: String,
    pub path: PathBuf,
    pub open: bool,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// A server created in a fresh, empty temporary directory.
    #[allow(clippy::new_without_default)] // creates a directory: not a default value
    pub fn new() -> Server {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let path = dir.path().to_path_buf();
        Self::open_at(dir, path)
    }

    /// A server created in a directory that does not exist yet (its parent does).
    pub fn new_in_missing_dir() -> Server {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let path = dir.path().join("srv");
        Self::open_at(dir, path)
    }

    /// A server opened (created if new) at `path`, inside `dir`, which is
    /// removed on drop.
    pub fn open_at(dir: tempfile::TempDir, path: PathBuf) -> Server {
        let name = server_name_for(&path);
        let sh =
            open_server(&name).unwrap_or_else(|rc| panic!("stsp_open_server({name}) -> {}", code_name(rc)));
        Server {
            sh,
            name,
            path,
            open: true,
            dir,
        }
    }

    pub fn lsu(&self) -> sts_lsu_t {
        lsu_t(self.sh, "default")
    }

    pub fn lsu_named(&self, name: &str) -> sts_lsu_t {
        lsu_t(self.sh, name)
    }

    /// Close the handle (asserting EOK).
    pub fn close(&mut self) {
        if self.open {
            self.open = false;
            assert_rc!(api().close_server(self.sh), c::EOK, "stsp_close_server");
        }
    }

    /// Close and open again (a new handle, recovery runs).
    pub fn reopen(&mut self) {
        self.close();
        self.sh =
            open_server(&self.name).unwrap_or_else(|rc| panic!("reopen {}: {}", self.name, code_name(rc)));
        self.open = true;
    }

    /// A second, independent handle to the same server (caller closes it).
    pub fn another_handle(&self) -> sts_server_handle_t {
        open_server(&self.name).unwrap_or_else(|rc| panic!("second open {}: {}", self.name, code_name(rc)))
    }

    /// Files and directories under the server directory (relative paths).
    pub fn tree(&self) -> Vec<PathBuf> {
        dir_tree(&self.path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.open {
            let _ = api().close_server(self.sh);
        }
    }
}

pub fn dir_tree(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
                if p.is_dir() {
                    walk(root, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

pub fn open_server(name: &str) -> Result<sts_server_handle_t, i32> {
    let n = cstring(name);
    let mut sh: sts_server_handle_t = ptr::null_mut();
    match api().open_server(n.as_ptr(), ptr::null(), &mut sh) {
        0 => {
            assert!(!sh.is_null(), "stsp_open_server returned EOK and a NULL handle");
            Ok(sh)
        }
        rc => Err(rc),
    }
}

/// stsp_open_target_server(source, name, NULL, &target).
pub fn open_target_server(source: sts_server_handle_t, name: &str) -> Result<sts_server_handle_t, i32> {
    let n = cstring(name);
    let mut sh: sts_server_handle_t = ptr::null_mut();
    match api().open_target_server(source, n.as_ptr(), ptr::null(), &mut sh) {
        0 => {
            assert!(
                !sh.is_null(),
                "stsp_open_target_server returned EOK and a NULL handle"
            );
            Ok(sh)
        }
        rc => Err(rc),
    }
}

pub fn server_info(sh: sts_server_handle_t) -> Result<sts_server_info_t, i32> {
    let mut info = sts_server_info_t::default();
    match api().get_server_prop(sh, &mut info) {
        0 => Ok(info),
        rc => Err(rc),
    }
}

pub fn server_info_byname(name: &str) -> Result<sts_server_info_t, i32> {
    let n = cstring(name);
    let mut info = sts_server_info_t::default();
    match api().get_server_prop_byname(n.as_ptr(), ptr::null(), &mut info) {
        0 => Ok(info),
        rc => Err(rc),
    }
}

/// STS_CAP_ISSET(cap, bit).
pub fn cap_isset(cap: &[u32], bit: usize) -> bool {
    (cap[bit / 32] >> (bit % 32)) & 1 == 1
}

pub fn lsu_info(lsu: &sts_lsu_t) -> Result<sts_lsu_info_t, i32> {
    let mut info = sts_lsu_info_t::default();
    match api().get_lsu_prop_byname(lsu, &mut info) {
        0 => Ok(info),
        rc => Err(rc),
    }
}

pub fn list_lsus(sh: sts_server_handle_t) -> Vec<String> {
    let a = api();
    let mut lh: sts_lsu_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_lsu_list(sh, &mut lh), c::EOK);
    let mut out = Vec::new();
    loop {
        let mut n = sts_lsu_name_t::default();
        match a.list_lsu(lh, &mut n) {
            0 => out.push(cstr(&n.sln_name)),
            rc if rc == c::ENO_MORE => break,
            rc => panic!("stsp_list_lsu -> {}", code_name(rc)),
        }
        assert!(out.len() < 100_000, "LSU list never ends");
    }
    assert_rc!(a.close_lsu_list(lh), c::EOK);
    out
}

/// All image names of an LSU in listing order: (basename, date) bytes.
pub fn list_images(lsu: &sts_lsu_t) -> Vec<(Vec<u8>, Vec<u8>)> {
    let a = api();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(lsu, &mut lh), c::EOK, "stsp_open_image_list");
    let mut out = Vec::new();
    loop {
        let mut d = sts_image_def_t::default();
        match a.list_image(lh, &mut d) {
            0 => out.push((cbytes(&d.img_basename), cbytes(&d.img_date))),
            rc if rc == c::ENO_MORE => break,
            rc => panic!("stsp_list_image -> {}", code_name(rc)),
        }
        assert!(out.len() < 1_000_000, "image list never ends");
    }
    assert_rc!(a.close_image_list(lh), c::EOK);
    out
}

pub fn list_basenames(lsu: &sts_lsu_t) -> Vec<String> {
    list_images(lsu)
        .into_iter()
        .map(|(b, _)| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------

pub fn try_create(lsu: &sts_lsu_t, def: &sts_image_def_t) -> Result<sts_image_handle_t, i32> {
    let mut ih: sts_image_handle_t = ptr::null_mut();
    match api().create_image(lsu, def, 0, &mut ih) {
        0 => {
            assert!(!ih.is_null(), "stsp_create_image returned EOK and a NULL handle");
            Ok(ih)
        }
        rc => Err(rc),
    }
}

pub fn create(lsu: &sts_lsu_t, def: &sts_image_def_t) -> sts_image_handle_t {
    try_create(lsu, def).unwrap_or_else(|rc| {
        panic!(
            "stsp_create_image({:?}) -> {}",
            cstr(&def.img_basename),
            code_name(rc)
        )
    })
}

pub fn try_open(lsu: &sts_lsu_t, def: &sts_image_def_t, mode: i32) -> Result<sts_image_handle_t, i32> {
    let mut ih: sts_image_handle_t = ptr::null_mut();
    match api().open_image(lsu, def, mode, &mut ih) {
        0 => {
            assert!(!ih.is_null(), "stsp_open_image returned EOK and a NULL handle");
            Ok(ih)
        }
        rc => Err(rc),
    }
}

pub fn open(lsu: &sts_lsu_t, def: &sts_image_def_t, mode: i32) -> sts_image_handle_t {
    try_open(lsu, def, mode).unwrap_or_else(|rc| {
        panic!(
            "stsp_open_image({:?}, mode {mode}) -> {}",
            cstr(&def.img_basename),
            code_name(rc)
        )
    })
}

/// One stsp_write_image call; on EOK checks byteswritten == len.
pub fn write_at(ih: sts_image_handle_t, data: &[u8], offset: u64) -> i32 {
    let mut n: u64 = u64::MAX;
    let rc = api().write_image(
        ih,
        ptr::null(),
        data.as_ptr().cast(),
        data.len() as u64,
        offset,
        &mut n,
    );
    if rc == c::EOK {
        assert_eq!(
            n,
            data.len() as u64,
            "byteswritten != len for a write of {} bytes at {offset}",
            data.len()
        );
    }
    rc
}

/// Write all of `data` at `offset` in `chunk`-byte calls (asserting EOK).
pub fn write_chunks(ih: sts_image_handle_t, data: &[u8], offset: u64, chunk: usize) {
    let mut done = 0usize;
    while done < data.len() {
        let end = (done + chunk).min(data.len());
        assert_rc!(
            write_at(ih, &data[done..end], offset + done as u64),
            c::EOK,
            "write {} bytes at {}",
            end - done,
            offset + done as u64
        );
        done = end;
    }
}

pub fn write_all(ih: sts_image_handle_t, data: &[u8], offset: u64) {
    write_chunks(ih, data, offset, 1 << 20);
}

/// Writes `data` at `offset` and flushes; the first failure's code. A
/// writer stores its last full buffer at the next call (engine::pipeline),
/// so an error storing it may come from either.
pub fn write_and_flush(ih: sts_image_handle_t, data: &[u8], offset: u64) -> i32 {
    match write_at(ih, data, offset) {
        c::EOK => api().flush(ih),
        rc => rc,
    }
}

pub fn flush(ih: sts_image_handle_t) {
    assert_rc!(api().flush(ih), c::EOK, "stsp_flush");
}

pub fn close(ih: sts_image_handle_t, flags: i32) {
    assert_rc!(
        api().close_image(ih, flags),
        c::EOK,
        "stsp_close_image(flags {flags})"
    );
}

/// One stsp_read_image call.
pub fn read_at(ih: sts_image_handle_t, len: u64, offset: u64) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0xA5u8; len as usize];
    let mut n: u64 = u64::MAX;
    match api().read_image(ih, buf.as_mut_ptr().cast(), len, offset, &mut n) {
        0 => {
            assert!(n <= len, "bytesread {n} > len {len}");
            buf.truncate(n as usize);
            Ok(buf)
        }
        rc => Err(rc),
    }
}

/// Read the whole image through a read handle, in `chunk`-byte calls,
/// until a short or empty read.
pub fn read_all_chunked(ih: sts_image_handle_t, chunk: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let got = read_at(ih, chunk, out.len() as u64)
            .unwrap_or_else(|rc| panic!("stsp_read_image at {} -> {}", out.len(), code_name(rc)));
        let n = got.len() as u64;
        out.extend_from_slice(&got);
        if n < chunk {
            break;
        }
    }
    out
}

pub fn read_all(ih: sts_image_handle_t) -> Vec<u8> {
    read_all_chunked(ih, 1 << 20)
}

pub fn prop(ih: sts_image_handle_t) -> Result<sts_image_info_t, i32> {
    let mut info = sts_image_info_t::default();
    match api().get_image_prop(ih, &mut info) {
        0 => Ok(info),
        rc => Err(rc),
    }
}

pub fn prop_byname(lsu: &sts_lsu_t, def: &sts_image_def_t) -> Result<sts_image_info_t, i32> {
    let mut info = sts_image_info_t::default();
    match api().get_image_prop_byname(lsu, def, &mut info) {
        0 => Ok(info),
        rc => Err(rc),
    }
}

pub fn must_prop_byname(lsu: &sts_lsu_t, def: &sts_image_def_t) -> sts_image_info_t {
    prop_byname(lsu, def).unwrap_or_else(|rc| {
        panic!(
            "stsp_get_image_prop_byname({:?}) -> {}",
            cstr(&def.img_basename),
            code_name(rc)
        )
    })
}

/// create + write + close complete.
pub fn store_complete(lsu: &sts_lsu_t, def: &sts_image_def_t, data: &[u8]) {
    let ih = create(lsu, def);
    write_all(ih, data, 0);
    close(ih, c::CLOSE_COMPLETE);
}

/// open read + read all + close.
pub fn read_image(lsu: &sts_lsu_t, def: &sts_image_def_t) -> Vec<u8> {
    let ih = open(lsu, def, c::O_READ);
    let data = read_all(ih);
    close(ih, 0);
    data
}

pub fn meta_write(ih: sts_image_handle_t, data: &[u8], offset: u64) -> i32 {
    let mut n: u64 = u64::MAX;
    let rc = api().write_image_meta(ih, data.as_ptr().cast(), data.len() as u64, offset, &mut n);
    if rc == c::EOK {
        assert_eq!(n, data.len() as u64, "meta byteswritten != len");
    }
    rc
}

pub fn meta_read(ih: sts_image_handle_t, len: u64, offset: u64) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0xA5u8; len as usize];
    let mut n: u64 = u64::MAX;
    match api().read_image_meta(ih, buf.as_mut_ptr().cast(), len, offset, &mut n) {
        0 => {
            assert!(n <= len, "meta bytesread {n} > len {len}");
            buf.truncate(n as usize);
            Ok(buf)
        }
        rc => Err(rc),
    }
}

/// Compare two byte strings and describe the first difference.
pub fn assert_bytes_eq(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    panic!(
        "{what}: {} bytes read, {} expected; first difference at {:?} (sha1 got {} want {})",
        got.len(),
        want.len(),
        first,
        sha1_hex(got),
        sha1_hex(want)
    );
}

/// Now, ms since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

// ---------------------------------------------------------------------------
// A server holding one complete "keeper" image (with metadata) whose bytes,
// size, SHA-1 and metadata are checked after every bad-input call: bad
// input never changes stored data.
// ---------------------------------------------------------------------------

pub struct Fixture {
    pub srv: Server,
    pub keeper: sts_image_def_t,
    pub data: Vec<u8>,
    pub meta: Vec<u8>,
    pub pending: sts_image_def_t,
    pub pending_data: Vec<u8>,
}

impl Fixture {
    /// "keeper" (complete, 3 blocks + meta) and "pending" (closed incomplete, 2 blocks).
    #[allow(clippy::new_without_default)] // creates a server: not a default value
    pub fn new() -> Fixture {
        let srv = Server::new();
        let lsu = srv.lsu();
        let keeper = image_def("keeper", "20240101");
        let data = seeded(0x4b, 3 * 512 + 4096);
        let meta = b"keeper metadata".to_vec();
        let ih = create(&lsu, &keeper);
        write_all(ih, &data, 0);
        assert_rc!(meta_write(ih, &meta, 0), c::EOK);
        close(ih, c::CLOSE_COMPLETE);
        let pending = image_def("pending", "");
        let pending_data = seeded(0x50, 1024);
        let ih = create(&lsu, &pending);
        write_all(ih, &pending_data, 0);
        close(ih, c::CLOSE_INCOMPLETE);
        Fixture {
            srv,
            keeper,
            data,
            meta,
            pending,
            pending_data,
        }
    }

    pub fn lsu(&self) -> sts_lsu_t {
        self.srv.lsu()
    }

    /// Stored data is unchanged: both images listed, properties, bytes,
    /// SHA-1 and metadata as written.
    pub fn assert_intact(&self) {
        let lsu = self.lsu();
        let names = list_basenames(&lsu);
        assert_eq!(
            names,
            vec!["keeper".to_string(), "pending".to_string()],
            "image list changed"
        );
        let info = must_prop_byname(&lsu, &self.keeper);
        assert_eq!(info.imo_size, self.data.len() as u64, "keeper size changed");
        assert_eq!(cstr(&info.imo_sha1), sha1_hex(&self.data), "keeper sha1 changed");
        assert_eq!(
            info.imo_flags & (c::II_COMPLETE | c::II_PENDING | c::II_BUSY_WRITE),
            c::II_COMPLETE,
            "keeper flags changed: {}",
            flags_str(info.imo_flags)
        );
        let ih = open(&lsu, &self.keeper, c::O_READ);
        assert_bytes_eq(&read_all(ih), &self.data, "keeper bytes");
        assert_eq!(
            meta_read(ih, 4096, 0).unwrap(),
            self.meta,
            "keeper metadata changed"
        );
        close(ih, 0);
        let p = must_prop_byname(&lsu, &self.pending);
        assert_eq!(p.imo_size, self.pending_data.len() as u64, "pending size changed");
        assert_eq!(
            p.imo_flags & (c::II_COMPLETE | c::II_PENDING | c::II_BUSY_WRITE),
            c::II_PENDING,
            "pending flags changed: {}",
            flags_str(p.imo_flags)
        );
    }
}

// ---------------------------------------------------------------------------
// Events and asynchronous operations (events.rs and its child roles)
// ---------------------------------------------------------------------------

/// "STS_EVT_LABEL (3)" for messages.
pub fn evt_name(t: u32) -> String {
    let n = match t {
        x if x == c::EVT_ASYNC_DONE => "STS_EVT_ASYNC_DONE",
        x if x == c::EVT_DELETE_DONE => "STS_EVT_DELETE_DONE",
        x if x == c::EVT_LABEL => "STS_EVT_LABEL",
        x if x == c::EVT_LOW_SPACE => "STS_EVT_LOW_SPACE",
        _ => "<unknown event type>",
    };
    format!("{n} ({t})")
}

/// One event on one line, for messages and for child-process reports.
pub fn ev_str(e: &sts_event_t) -> String {
    format!(
        "id={} type={} status={} op_id={} op_name={:?} lsu={:?} image={:?}/{:?} bytes={} text={:?} time_ms={}",
        e.ev_id,
        evt_name(e.ev_type),
        code_name(e.ev_status),
        e.ev_op_id,
        cstr(&e.ev_op_name),
        cstr(&e.ev_lsu.sln_name),
        cstr(&e.ev_image.img_basename),
        cstr(&e.ev_image.img_date),
        e.ev_bytes,
        cstr(&e.ev_text),
        e.ev_time_ms
    )
}

/// An event channel, closed on drop (errors ignored: tests that close it
/// themselves assert the code).
pub struct Evc(pub sts_evchannel_handle_t);

impl Evc {
    /// stsp_open_evchannel(sh, &evc), asserting EOK and a non-NULL handle.
    pub fn open(sh: sts_server_handle_t) -> Evc {
        let mut evc: sts_evchannel_handle_t = ptr::null_mut();
        assert_rc!(api().open_evchannel(sh, &mut evc), c::EOK, "stsp_open_evchannel");
        assert!(
            !evc.is_null(),
            "stsp_open_evchannel returned EOK and a NULL handle"
        );
        Evc(evc)
    }

    /// One stsp_get_event call.
    pub fn get(&self, timeout_ms: u32) -> Result<sts_event_t, i32> {
        get_event(self.0, timeout_ms)
    }

    /// Every event available now (STS_TIMEOUT_NONE until STS_ENO_MORE).
    pub fn drain(&self) -> Vec<sts_event_t> {
        let mut out = Vec::new();
        loop {
            match self.get(c::TIMEOUT_NONE) {
                Ok(e) => out.push(e),
                Err(rc) if rc == c::ENO_MORE => return out,
                Err(rc) => panic!("stsp_get_event(STS_TIMEOUT_NONE) -> {}", code_name(rc)),
            }
            assert!(out.len() < 100_000, "the channel never runs dry");
        }
    }

    /// The next event for which `pred` holds, waiting up to `timeout`
    /// in all; the events skipped on the way are returned with it. Panics
    /// with everything seen if none arrives in time.
    pub fn wait_for(
        &self,
        timeout: std::time::Duration,
        what: &str,
        pred: impl Fn(&sts_event_t) -> bool,
    ) -> (sts_event_t, Vec<sts_event_t>) {
        let deadline = std::time::Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // at least 1 ms: 0 would be STS_TIMEOUT_NONE, which is fine too
            let ms = left.as_millis().clamp(1, u32::MAX as u128 - 1) as u32;
            match self.get(ms) {
                Ok(e) if pred(&e) => return (e, skipped),
                Ok(e) => skipped.push(e),
                Err(rc) if rc == c::ENO_MORE => {
                    if std::time::Instant::now() >= deadline {
                        let seen: Vec<String> = skipped.iter().map(ev_str).collect();
                        panic!("no event {what} within {timeout:?}; events seen: {seen:#?}");
                    }
                }
                Err(rc) => panic!("stsp_get_event({ms} ms) waiting for {what} -> {}", code_name(rc)),
            }
        }
    }
}

impl Drop for Evc {
    fn drop(&mut self) {
        if let Some(f) = api().stsp_close_evchannel {
            let _ = unsafe { f(self.0) };
        }
    }
}

/// One stsp_get_event call into a sentinel-filled event; on an error the
/// event must be untouched (out-parameters are written only on STS_EOK).
pub fn get_event(evc: sts_evchannel_handle_t, timeout_ms: u32) -> Result<sts_event_t, i32> {
    let mut e = sentinel_event();
    match api().get_event(evc, timeout_ms, &mut e) {
        0 => Ok(e),
        rc => {
            assert_event_untouched(&e, &format!("stsp_get_event -> {}", code_name(rc)));
            Err(rc)
        }
    }
}

/// An event filled with a recognizable pattern.
pub fn sentinel_event() -> sts_event_t {
    let mut e = sts_event_t::default();
    e.ev_id = 0x5e5e_5e5e_5e5e_5e5e;
    e.ev_time_ms = 0x5e5e_5e5e_5e5e_5e5e;
    e.ev_op_id = 0x5e5e_5e5e_5e5e_5e5e;
    e.ev_bytes = 0x5e5e_5e5e_5e5e_5e5e;
    e.ev_type = 0x5e5e_5e5e;
    e.ev_status = 0x5e5e_5e5e;
    fill_unterminated(&mut e.ev_lsu.sln_name, 0x5e);
    fill_unterminated(&mut e.ev_image.img_basename, 0x5e);
    fill_unterminated(&mut e.ev_op_name, 0x5e);
    fill_unterminated(&mut e.ev_text, 0x5e);
    e
}

pub fn assert_event_untouched(e: &sts_event_t, what: &str) {
    let s = sentinel_event();
    let same = e.ev_id == s.ev_id
        && e.ev_time_ms == s.ev_time_ms
        && e.ev_op_id == s.ev_op_id
        && e.ev_bytes == s.ev_bytes
        && e.ev_type == s.ev_type
        && e.ev_status == s.ev_status
        && e.ev_lsu.sln_name == s.ev_lsu.sln_name
        && e.ev_image.img_basename == s.ev_image.img_basename
        && e.ev_op_name == s.ev_op_name
        && e.ev_text == s.ev_text;
    assert!(same, "{what}: the event out-parameter was written: {}", ev_str(e));
}

/// Sentinel for op_status: out-parameters are written only when the call
/// says the operation finished.
pub const OP_STATUS_SENTINEL: i32 = 0x0bad_0bad;

/// stsp_named_async_wait(sh, name, timeout_ms, &op_status): (code, op_status
/// or OP_STATUS_SENTINEL when untouched).
pub fn named_wait(sh: sts_server_handle_t, name: &str, timeout_ms: u32) -> (i32, i32) {
    let n = cstring(name);
    let mut st: c_int = OP_STATUS_SENTINEL;
    let rc = api().named_async_wait(sh, n.as_ptr(), timeout_ms, &mut st);
    (rc, st)
}

/// stsp_named_async_cancel(sh, name).
pub fn named_cancel(sh: sts_server_handle_t, name: &str) -> i32 {
    let n = cstring(name);
    api().named_async_cancel(sh, n.as_ptr())
}

/// stsp_named_async_copy_image(to, to_def, from, from_def, 0, name).
pub fn named_copy(
    to_lsu: &sts_lsu_t,
    to_def: &sts_image_def_t,
    from_lsu: &sts_lsu_t,
    from_def: &sts_image_def_t,
    name: &str,
) -> i32 {
    let n = cstring(name);
    api().named_async_copy_image(to_lsu, to_def, from_lsu, from_def, 0, n.as_ptr())
}
