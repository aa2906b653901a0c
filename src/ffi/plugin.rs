//! stsp_init, stsp_terminate, stsp_claim, stsp_strerror.

use std::ffi::{c_char, c_int};

use super::args::{self, out_ref, put_str};
use super::boundary::{self, guard, guard_init};
use super::server::close_all_servers;
use super::status::{Status, message};
use super::sys;

/// See include/stspi.h.
///
/// # Safety
/// `info` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_init(
    host_api_version: sys::sts_uint32_t,
    info: *mut sys::sts_plugin_info_t,
) -> c_int {
    guard("stsp_init", || {
        // SAFETY: per this function's contract.
        let info = unsafe { out_ref(info) }?;
        let (min, max) = (sys::STS_VERSION_MIN as u32, sys::STS_VERSION_MAX as u32);
        if !(min..=max).contains(&host_api_version) {
            return Err(Status(sys::STS_EVERSION));
        }
        let mut pi = sys::sts_plugin_info_t::default();
        put_str(&mut pi.pi_name, "combstore");
        put_str(&mut pi.pi_vendor, "combstore project");
        put_str(&mut pi.pi_version, env!("CARGO_PKG_VERSION"));
        pi.pi_api_version_min = min;
        pi.pi_api_version_max = max;
        pi.pi_api_version = host_api_version;
        boundary::set_initialized(host_api_version);
        *info = pi;
        Ok(())
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_terminate() -> c_int {
    guard("stsp_terminate", || {
        close_all_servers();
        boundary::set_initialized(0);
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `server_name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_claim(server_name: *const c_char) -> c_int {
    guard_init("stsp_claim", || {
        // SAFETY: per this function's contract.
        let name = unsafe { args::c_string(server_name, sys::STS_MAX_SERVERNAME as usize) }?;
        claimed(name).map(|_| ())
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_strerror(code: c_int) -> *const c_char {
    std::panic::catch_unwind(|| message(code)) // a table lookup, guarded all the same
        .unwrap_or(c"STS_EINTERNAL: internal error")
        .as_ptr()
}

// the C header and the engine agree on the server directory limit
const _: () = assert!(sys::STS_MAX_SERVER_DIR as usize == crate::engine::names::MAX_SERVER_DIR);

/// The part of a server name after "combstore:" (STS_ENOT_MINE if it has
/// another prefix). Claiming looks no further.
fn claimed(name: &[u8]) -> Result<&[u8], Status> {
    let prefix = &sys::STS_COMBSTORE_PREFIX[..sys::STS_COMBSTORE_PREFIX.len() - 1];
    name.strip_prefix(prefix).ok_or(Status(sys::STS_ENOT_MINE))
}

/// The directory a claimed server name denotes (rules:
/// [`crate::engine::names::server_dir`]).
pub fn server_path(name: &[u8]) -> Result<&std::path::Path, Status> {
    Ok(crate::engine::names::server_dir(claimed(name)?)?)
}
