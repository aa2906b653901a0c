//! The panic boundary every export passes through, and the init state.
//!
//! Since Rust 1.81 a panic unwinding out of an `extern "C"` function
//! aborts the host process; [`guard`] turns it into STS_EINTERNAL instead.
//! `panic = "unwind"` is kept in every profile so `catch_unwind` works.

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::logging::ServerLog;
use std::sync::atomic::{AtomicU32, Ordering};

use super::status::{FfiResult, Status};
use super::sys;

/// API version agreed by stsp_init; 0 before init and after terminate.
static API_VERSION: AtomicU32 = AtomicU32::new(0);

/// Runs `body`, catching any panic, for every guard of both C APIs. The
/// body's handle lookups choose the server log its records go to
/// ([`crate::logging::set_current`]; none before it runs): a caught
/// panic is logged there as an internal error. Returns the body's value
/// (`None` after a panic) and that log.
pub fn catch<T>(name: &str, body: impl FnOnce() -> T) -> (Option<T>, Option<ServerLog>) {
    drop(crate::logging::take_current());
    let r = catch_unwind(AssertUnwindSafe(body));
    let log = crate::logging::take_current();
    match r {
        Ok(v) => (Some(v), log),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if let Some(log) = &log {
                crate::log_error!(log, "{name}: internal error caught at the C boundary: {msg}");
            }
            (None, log)
        }
    }
}

/// Runs an export body: catches panics, checks nothing else. Its records
/// go to the log of the server its handle named, else nowhere.
pub fn guard(name: &str, body: impl FnOnce() -> FfiResult) -> c_int {
    match catch(name, body) {
        (Some(Ok(())), _) => sys::STS_EOK,
        (Some(Err(Status(code))), log) => {
            if let Some(log) = log {
                crate::log_debug!(log, "{name} -> {code}");
            }
            code
        }
        (None, _) => sys::STS_EINTERNAL,
    }
}

/// As [`guard`], after checking that stsp_init was called.
pub fn guard_init(name: &str, body: impl FnOnce() -> FfiResult) -> c_int {
    guard(name, || {
        if API_VERSION.load(Ordering::Acquire) == 0 {
            return Err(Status(sys::STS_ENOT_INIT));
        }
        body()
    })
}

/// Records the agreed API version (stsp_init).
pub fn set_initialized(version: u32) {
    API_VERSION.store(version, Ordering::Release);
}

/// The agreed API version, 0 if not initialized.
pub fn api_version() -> u32 {
    API_VERSION.load(Ordering::Acquire)
}
