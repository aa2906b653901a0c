//! Lazily loaded hc_* entry points of the built cdylib (generated from the
//! bindgen view of include/hcclient.h): each wrapper looks its symbol up
//! once; a library without the hc_* API makes `available()` false, so the
//! stsp_* tests are unaffected.
#![allow(dead_code, clippy::too_many_arguments)]
// Each wrapper's safety contract is its C declaration's (include/hcclient.h).
#![allow(clippy::missing_safety_doc)]

use std::ffi::c_void;
use std::sync::OnceLock;

pub use combstore::hcsys::*;

fn lib() -> &'static libloading::Library {
    &super::lib().lib
}

/// Whether the library exports the hc_* API.
pub fn available() -> bool {
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| unsafe { lib().get::<*const c_void>(b"hc_init\0") }.is_ok())
}

fn sym<F: Copy>(name: &str) -> F {
    let n = format!("{name}\0");
    *unsafe { lib().get::<F>(n.as_bytes()) }.unwrap_or_else(|e| panic!("no {name}: {e}"))
}

/// hc_printf(fmt, s) with one string argument (a variadic call).
pub unsafe fn hc_printf_s(fmt: *const std::os::raw::c_char, s: *const std::os::raw::c_char) {
    let f: unsafe extern "C" fn(*const std::os::raw::c_char, ...) = sym("hc_printf");
    unsafe { f(fmt, s) }
}

/// hc_set_global_parameter(opt, hc_long_t).
pub unsafe fn hc_set_global_parameter_l(opt: hc_option, v: i64) -> hcerr_t {
    let f: unsafe extern "C" fn(hc_option, ...) -> hcerr_t = sym("hc_set_global_parameter");
    unsafe { f(opt, v) }
}

pub unsafe fn hc_init(arg1: allocator_t, arg2: deallocator_t, arg3: reallocator_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_init"));
    let f: unsafe extern "C" fn(allocator_t, deallocator_t, reallocator_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(arg1, arg2, arg3) }
}

pub unsafe fn hc_cleanup() -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_cleanup"));
    let f: unsafe extern "C" fn() -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f() }
}

pub unsafe fn hc_alloc(size: usize) -> *mut ::std::os::raw::c_void {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_alloc"));
    let f: unsafe extern "C" fn(usize) -> *mut ::std::os::raw::c_void = unsafe { std::mem::transmute(addr) };
    unsafe { f(size) }
}

pub unsafe fn hc_free(p: *mut ::std::os::raw::c_void) {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_free"));
    let f: unsafe extern "C" fn(*mut ::std::os::raw::c_void) = unsafe { std::mem::transmute(addr) };
    unsafe { f(p) }
}

pub unsafe fn hc_realloc(p: *mut ::std::os::raw::c_void, size: usize) -> *mut ::std::os::raw::c_void {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_realloc"));
    let f: unsafe extern "C" fn(*mut ::std::os::raw::c_void, usize) -> *mut ::std::os::raw::c_void =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(p, size) }
}

pub unsafe fn hc_set_debug_function(fn_: hc_debug_function_t) {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_set_debug_function"));
    let f: unsafe extern "C" fn(hc_debug_function_t) = unsafe { std::mem::transmute(addr) };
    unsafe { f(fn_) }
}

pub unsafe fn hc_set_debug_flags(flags: hc_long_t) {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_set_debug_flags"));
    let f: unsafe extern "C" fn(hc_long_t) = unsafe { std::mem::transmute(addr) };
    unsafe { f(flags) }
}

pub unsafe fn hcoa_get_platform_name(
    buf: *mut ::std::os::raw::c_char,
    len: ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hcoa_get_platform_name"));
    let f: unsafe extern "C" fn(*mut ::std::os::raw::c_char, ::std::os::raw::c_int) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(buf, len) }
}

pub unsafe fn hc_decode_hcerr(res: hcerr_t) -> *mut ::std::os::raw::c_char {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_decode_hcerr"));
    let f: unsafe extern "C" fn(hcerr_t) -> *mut ::std::os::raw::c_char =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(res) }
}

pub unsafe fn hc_get_last_error(errstr: *mut *mut ::std::os::raw::c_char) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_get_last_error"));
    let f: unsafe extern "C" fn(*mut *mut ::std::os::raw::c_char) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(errstr) }
}

pub unsafe fn hc_session_create_ez(
    host: *mut ::std::os::raw::c_char,
    port: ::std::os::raw::c_int,
    sessionp: *mut *mut hc_session_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_session_create_ez"));
    let f: unsafe extern "C" fn(
        *mut ::std::os::raw::c_char,
        ::std::os::raw::c_int,
        *mut *mut hc_session_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(host, port, sessionp) }
}

pub unsafe fn hc_session_free(session: *mut hc_session_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_session_free"));
    let f: unsafe extern "C" fn(*mut hc_session_t) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session) }
}

pub unsafe fn hc_session_get_status(
    session: *mut hc_session_t,
    response_code: *mut i32,
    errstr: *mut *mut ::std::os::raw::c_char,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_session_get_status"));
    let f: unsafe extern "C" fn(*mut hc_session_t, *mut i32, *mut *mut ::std::os::raw::c_char) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, response_code, errstr) }
}

pub unsafe fn hc_session_get_schema(session: *mut hc_session_t, schema: *mut *mut hc_schema_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_session_get_schema"));
    let f: unsafe extern "C" fn(*mut hc_session_t, *mut *mut hc_schema_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, schema) }
}

pub unsafe fn hc_session_get_host(
    session: *mut hc_session_t,
    host: *mut *mut ::std::os::raw::c_char,
    port: *mut ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_session_get_host"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        *mut *mut ::std::os::raw::c_char,
        *mut ::std::os::raw::c_int,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, host, port) }
}

pub unsafe fn hc_session_get_archive(session: *mut hc_session_t, archive: *mut *mut hc_archive_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_session_get_archive"));
    let f: unsafe extern "C" fn(*mut hc_session_t, *mut *mut hc_archive_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, archive) }
}

pub unsafe fn hc_session_get_platform_result(
    session: *mut hc_session_t,
    connect_errno: *mut i32,
    platform_result: *mut i32,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_session_get_platform_result"));
    let f: unsafe extern "C" fn(*mut hc_session_t, *mut i32, *mut i32) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, connect_errno, platform_result) }
}

pub unsafe fn hc_schema_get_type(
    schema: *mut hc_schema_t,
    name: *mut ::std::os::raw::c_char,
    type_: *mut hc_type_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_schema_get_type"));
    let f: unsafe extern "C" fn(*mut hc_schema_t, *mut ::std::os::raw::c_char, *mut hc_type_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(schema, name, type_) }
}

pub unsafe fn hc_schema_get_length(
    schema: *mut hc_schema_t,
    name: *mut ::std::os::raw::c_char,
    length: *mut ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_schema_get_length"));
    let f: unsafe extern "C" fn(
        *mut hc_schema_t,
        *mut ::std::os::raw::c_char,
        *mut ::std::os::raw::c_int,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(schema, name, length) }
}

pub unsafe fn hc_schema_get_count(schema: *mut hc_schema_t, count: *mut hc_long_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_schema_get_count"));
    let f: unsafe extern "C" fn(*mut hc_schema_t, *mut hc_long_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(schema, count) }
}

pub unsafe fn hc_schema_get_type_at_index(
    schema: *mut hc_schema_t,
    index: hc_long_t,
    name: *mut *mut ::std::os::raw::c_char,
    type_: *mut hc_type_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_schema_get_type_at_index"));
    let f: unsafe extern "C" fn(
        *mut hc_schema_t,
        hc_long_t,
        *mut *mut ::std::os::raw::c_char,
        *mut hc_type_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(schema, index, name, type_) }
}

pub unsafe fn hc_decode_hc_type(type_: hc_type_t) -> *mut ::std::os::raw::c_char {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_decode_hc_type"));
    let f: unsafe extern "C" fn(hc_type_t) -> *mut ::std::os::raw::c_char =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(type_) }
}

pub unsafe fn hc_nvr_create(
    session: *mut hc_session_t,
    initsize: hc_long_t,
    nvrp: *mut *mut hc_nvr_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_create"));
    let f: unsafe extern "C" fn(*mut hc_session_t, hc_long_t, *mut *mut hc_nvr_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, initsize, nvrp) }
}

pub unsafe fn hc_nvr_free(nvr: *mut hc_nvr_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_free"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr) }
}

pub unsafe fn hc_nvr_add_value(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: hc_value_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_value"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, hc_value_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_long(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: hc_long_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_long"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, hc_long_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_double(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: hc_double_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_double"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, hc_double_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_string(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: hc_string_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_string"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, hc_string_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_char(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: hc_string_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_char"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, hc_string_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_binary(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    size: ::std::os::raw::c_int,
    bytes: *mut ::std::os::raw::c_uchar,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_binary"));
    let f: unsafe extern "C" fn(
        *mut hc_nvr_t,
        *mut ::std::os::raw::c_char,
        ::std::os::raw::c_int,
        *mut ::std::os::raw::c_uchar,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, size, bytes) }
}

pub unsafe fn hc_nvr_add_date(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut tm,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_date"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut tm) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_time(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: time_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_time"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, time_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_timestamp(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut timespec,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_timestamp"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut timespec) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_add_from_string(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut ::std::os::raw::c_char,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_add_from_string"));
    let f: unsafe extern "C" fn(
        *mut hc_nvr_t,
        *mut ::std::os::raw::c_char,
        *mut ::std::os::raw::c_char,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_get_count(nvr: *mut hc_nvr_t, count: *mut hc_long_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_count"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut hc_long_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, count) }
}

pub unsafe fn hc_nvr_get_value_at_index(
    nvr: *mut hc_nvr_t,
    index: hc_long_t,
    name: *mut *mut ::std::os::raw::c_char,
    value: *mut hc_value_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_value_at_index"));
    let f: unsafe extern "C" fn(
        *mut hc_nvr_t,
        hc_long_t,
        *mut *mut ::std::os::raw::c_char,
        *mut hc_value_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, index, name, value) }
}

pub unsafe fn hc_nvr_get_string(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut hc_string_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_string"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut hc_string_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_get_long(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut hc_long_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_long"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut hc_long_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_get_double(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut hc_double_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_double"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut hc_double_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_get_binary(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    size: *mut ::std::os::raw::c_int,
    bytes: *mut *mut ::std::os::raw::c_uchar,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_binary"));
    let f: unsafe extern "C" fn(
        *mut hc_nvr_t,
        *mut ::std::os::raw::c_char,
        *mut ::std::os::raw::c_int,
        *mut *mut ::std::os::raw::c_uchar,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, size, bytes) }
}

pub unsafe fn hc_nvr_get_date(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut tm,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_date"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut tm) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_get_time(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut time_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_time"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut time_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_get_timestamp(
    nvr: *mut hc_nvr_t,
    name: *mut ::std::os::raw::c_char,
    value: *mut timespec,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_get_timestamp"));
    let f: unsafe extern "C" fn(*mut hc_nvr_t, *mut ::std::os::raw::c_char, *mut timespec) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, name, value) }
}

pub unsafe fn hc_nvr_create_from_string_arrays(
    session: *mut hc_session_t,
    nvrp: *mut *mut hc_nvr_t,
    names: *mut *mut ::std::os::raw::c_char,
    values: *mut *mut ::std::os::raw::c_char,
    nitems: hc_long_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_create_from_string_arrays"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        *mut *mut hc_nvr_t,
        *mut *mut ::std::os::raw::c_char,
        *mut *mut ::std::os::raw::c_char,
        hc_long_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, nvrp, names, values, nitems) }
}

pub unsafe fn hc_nvr_convert_to_string_arrays(
    nvr: *mut hc_nvr_t,
    namesp: *mut *mut *mut ::std::os::raw::c_char,
    valuesp: *mut *mut *mut ::std::os::raw::c_char,
    nitemsp: *mut ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_nvr_convert_to_string_arrays"));
    let f: unsafe extern "C" fn(
        *mut hc_nvr_t,
        *mut *mut *mut ::std::os::raw::c_char,
        *mut *mut *mut ::std::os::raw::c_char,
        *mut ::std::os::raw::c_int,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(nvr, namesp, valuesp, nitemsp) }
}

pub unsafe fn hc_store_both_ez(
    session: *mut hc_session_t,
    data_source_reader: read_from_data_source,
    stream: *mut ::std::os::raw::c_void,
    pubnvr: *mut hc_nvr_t,
    system_record: *mut hc_system_record_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_store_both_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        read_from_data_source,
        *mut ::std::os::raw::c_void,
        *mut hc_nvr_t,
        *mut hc_system_record_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, data_source_reader, stream, pubnvr, system_record) }
}

pub unsafe fn hc_store_both_cell_ez(
    session: *mut hc_session_t,
    cellid: ::std::os::raw::c_int,
    data_source_reader: read_from_data_source,
    stream: *mut ::std::os::raw::c_void,
    pubnvr: *mut hc_nvr_t,
    system_record: *mut hc_system_record_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_store_both_cell_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        ::std::os::raw::c_int,
        read_from_data_source,
        *mut ::std::os::raw::c_void,
        *mut hc_nvr_t,
        *mut hc_system_record_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, cellid, data_source_reader, stream, pubnvr, system_record) }
}

pub unsafe fn hc_store_metadata_ez(
    session: *mut hc_session_t,
    oid: *mut hc_oid,
    pubnvr: *mut hc_nvr_t,
    system_record: *mut hc_system_record_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_store_metadata_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        *mut hc_oid,
        *mut hc_nvr_t,
        *mut hc_system_record_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, oid, pubnvr, system_record) }
}

pub unsafe fn hc_retrieve_ez(
    session: *mut hc_session_t,
    data_writer: write_to_data_destination,
    stream: *mut ::std::os::raw::c_void,
    oid: *mut hc_oid,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_retrieve_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        write_to_data_destination,
        *mut ::std::os::raw::c_void,
        *mut hc_oid,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, data_writer, stream, oid) }
}

pub unsafe fn hc_range_retrieve_ez(
    session: *mut hc_session_t,
    data_writer: write_to_data_destination,
    stream: *mut ::std::os::raw::c_void,
    oid: *mut hc_oid,
    firstbyte: hc_long_t,
    lastbyte: hc_long_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_range_retrieve_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        write_to_data_destination,
        *mut ::std::os::raw::c_void,
        *mut hc_oid,
        hc_long_t,
        hc_long_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, data_writer, stream, oid, firstbyte, lastbyte) }
}

pub unsafe fn hc_retrieve_metadata_ez(
    session: *mut hc_session_t,
    oid: *mut hc_oid,
    nvrp: *mut *mut hc_nvr_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_retrieve_metadata_ez"));
    let f: unsafe extern "C" fn(*mut hc_session_t, *mut hc_oid, *mut *mut hc_nvr_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, oid, nvrp) }
}

pub unsafe fn hc_delete_ez(session: *mut hc_session_t, oid: *mut hc_oid) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_delete_ez"));
    let f: unsafe extern "C" fn(*mut hc_session_t, *mut hc_oid) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, oid) }
}

pub unsafe fn hc_check_indexed_ez(
    session: *mut hc_session_t,
    oid: *mut hc_oid,
    result: *mut ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_check_indexed_ez"));
    let f: unsafe extern "C" fn(*mut hc_session_t, *mut hc_oid, *mut ::std::os::raw::c_int) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, oid, result) }
}

pub unsafe fn hc_query_ez(
    session: *mut hc_session_t,
    query: hc_string_t,
    selects: *mut hc_string_t,
    n_selects: ::std::os::raw::c_int,
    results_per_fetch: ::std::os::raw::c_int,
    rsetp: *mut *mut hc_query_result_set_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_query_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        hc_string_t,
        *mut hc_string_t,
        ::std::os::raw::c_int,
        ::std::os::raw::c_int,
        *mut *mut hc_query_result_set_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, query, selects, n_selects, results_per_fetch, rsetp) }
}

pub unsafe fn hc_pstmt_create(
    session: *mut hc_session_t,
    query: hc_string_t,
    pstmtp: *mut *mut hc_pstmt_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_create"));
    let f: unsafe extern "C" fn(*mut hc_session_t, hc_string_t, *mut *mut hc_pstmt_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(session, query, pstmtp) }
}

pub unsafe fn hc_pstmt_free(pstmt: *mut hc_pstmt_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_free"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt) }
}

pub unsafe fn hc_pstmt_set_string(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    value: hc_string_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_string"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t, ::std::os::raw::c_int, hc_string_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, value) }
}

pub unsafe fn hc_pstmt_set_char(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    value: hc_string_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_char"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t, ::std::os::raw::c_int, hc_string_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, value) }
}

pub unsafe fn hc_pstmt_set_double(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    value: hc_double_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_double"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t, ::std::os::raw::c_int, hc_double_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, value) }
}

pub unsafe fn hc_pstmt_set_long(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    value: hc_long_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_long"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t, ::std::os::raw::c_int, hc_long_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, value) }
}

pub unsafe fn hc_pstmt_set_date(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    value: *mut tm,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_date"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t, ::std::os::raw::c_int, *mut tm) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, value) }
}

pub unsafe fn hc_pstmt_set_time(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    value: time_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_time"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t, ::std::os::raw::c_int, time_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, value) }
}

pub unsafe fn hc_pstmt_set_timestamp(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    value: *mut timespec,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_timestamp"));
    let f: unsafe extern "C" fn(*mut hc_pstmt_t, ::std::os::raw::c_int, *mut timespec) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, value) }
}

pub unsafe fn hc_pstmt_set_binary(
    pstmt: *mut hc_pstmt_t,
    which: ::std::os::raw::c_int,
    bytes: *mut ::std::os::raw::c_uchar,
    len: ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_set_binary"));
    let f: unsafe extern "C" fn(
        *mut hc_pstmt_t,
        ::std::os::raw::c_int,
        *mut ::std::os::raw::c_uchar,
        ::std::os::raw::c_int,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, which, bytes, len) }
}

pub unsafe fn hc_pstmt_query_ez(
    pstmt: *mut hc_pstmt_t,
    selects: *mut hc_string_t,
    n_selects: ::std::os::raw::c_int,
    results_per_fetch: ::std::os::raw::c_int,
    rsetp: *mut *mut hc_query_result_set_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_pstmt_query_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_pstmt_t,
        *mut hc_string_t,
        ::std::os::raw::c_int,
        ::std::os::raw::c_int,
        *mut *mut hc_query_result_set_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(pstmt, selects, n_selects, results_per_fetch, rsetp) }
}

pub unsafe fn hc_qrs_next_ez(
    rset: *mut hc_query_result_set_t,
    oid: *mut hc_oid,
    nvrp: *mut *mut hc_nvr_t,
    finishedp: *mut ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_qrs_next_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_query_result_set_t,
        *mut hc_oid,
        *mut *mut hc_nvr_t,
        *mut ::std::os::raw::c_int,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(rset, oid, nvrp, finishedp) }
}

pub unsafe fn hc_qrs_is_query_complete(
    rset: *mut hc_query_result_set_t,
    completep: *mut ::std::os::raw::c_int,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_qrs_is_query_complete"));
    let f: unsafe extern "C" fn(*mut hc_query_result_set_t, *mut ::std::os::raw::c_int) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(rset, completep) }
}

pub unsafe fn hc_qrs_get_query_integrity_time(
    rset: *mut hc_query_result_set_t,
    timep: *mut hc_long_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_qrs_get_query_integrity_time"));
    let f: unsafe extern "C" fn(*mut hc_query_result_set_t, *mut hc_long_t) -> hcerr_t =
        unsafe { std::mem::transmute(addr) };
    unsafe { f(rset, timep) }
}

pub unsafe fn hc_qrs_free(rset: *mut hc_query_result_set_t) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_qrs_free"));
    let f: unsafe extern "C" fn(*mut hc_query_result_set_t) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(rset) }
}

pub unsafe fn hc_query_holds_ez(
    session: *mut hc_session_t,
    query: hc_string_t,
    max: ::std::os::raw::c_int,
    rsetp: *mut *mut hc_query_result_set_t,
) -> hcerr_t {
    static F: OnceLock<usize> = OnceLock::new();
    let addr = *F.get_or_init(|| sym::<usize>("hc_query_holds_ez"));
    let f: unsafe extern "C" fn(
        *mut hc_session_t,
        hc_string_t,
        ::std::os::raw::c_int,
        *mut *mut hc_query_result_set_t,
    ) -> hcerr_t = unsafe { std::mem::transmute(addr) };
    unsafe { f(session, query, max, rsetp) }
}
