//! Event channels, asynchronous copies and operations, LSU labels.

use std::ffi::{c_char, c_int};
use std::time::Duration;

use parking_lot::Mutex;

use super::args::{self, image_def, out_ref, put_str};
use super::boundary::{guard, guard_init};
use super::handles::{Table, id_of, ptr_of};
use super::image::copy_args;
use super::server::{Child, disown, lsu_of, server_of, server_of_any};
use super::status::{Status, code_of_kind};
use super::sys;
use crate::engine::{Event, EventKind, ImageName, Outcome, Server};

/// An open event channel: a cursor over the server's events.
pub struct EvChannel {
    server_id: usize,
    server: Server,
    cursor: Mutex<u64>,
}

pub static EVCHANNELS: Table<EvChannel> = Table::new();

/// The STS code an outcome reports.
fn outcome_code(o: Outcome) -> c_int {
    match o {
        Outcome::Ok => sys::STS_EOK,
        Outcome::Cancelled => sys::STS_ECANCELED,
        Outcome::OwnerDied => sys::STS_EOPFAILED,
        Outcome::Failed(kind) => code_of_kind(kind),
    }
}

fn event_out(e: &Event) -> sys::sts_event_t {
    let mut ev = sys::sts_event_t::default();
    ev.ev_id = e.id;
    ev.ev_time_ms = e.time_ms;
    ev.ev_op_id = e.op_id;
    ev.ev_bytes = e.bytes;
    ev.ev_type = match e.kind {
        EventKind::AsyncDone => sys::STS_EVT_ASYNC_DONE,
        EventKind::DeleteDone => sys::STS_EVT_DELETE_DONE,
        EventKind::Label => sys::STS_EVT_LABEL,
        EventKind::LowSpace => sys::STS_EVT_LOW_SPACE,
    } as u32;
    ev.ev_status = outcome_code(e.outcome);
    put_str(&mut ev.ev_lsu.sln_name, &e.lsu);
    ev.ev_image = image_def(&ImageName {
        basename: e.basename.clone(),
        date: e.date.clone(),
    });
    put_str(&mut ev.ev_op_name, &e.op_name);
    put_str(&mut ev.ev_text, &e.text);
    ev
}

fn timeout(ms: u32) -> Option<Duration> {
    (ms != sys::STS_TIMEOUT_INFINITE as u32).then(|| Duration::from_millis(u64::from(ms)))
}

/// An operation name argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn op_name<'a>(p: *const c_char) -> Result<&'a str, Status> {
    // SAFETY: per this function's contract.
    let bytes = unsafe { args::c_string(p, sys::STS_MAX_OPNAME as usize) }?;
    let name = std::str::from_utf8(bytes).map_err(|_| Status(sys::STS_ENAME))?;
    crate::engine::names::check_op(name)?;
    Ok(name)
}

/// See include/stspi.h.
///
/// # Safety
/// `evc` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_open_evchannel(
    sh: sys::sts_server_handle_t,
    evc: *mut sys::sts_evchannel_handle_t,
) -> c_int {
    guard_init("stsp_open_evchannel", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(evc) }?;
        let (server_id, entry) = server_of(sh)?;
        let id = EVCHANNELS.insert(EvChannel {
            server_id,
            server: entry.server.clone(),
            cursor: Mutex::new(0),
        });
        entry.adopt(Child::EvChannel(id));
        *out = ptr_of(id);
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `ev` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_get_event(
    evc: sys::sts_evchannel_handle_t,
    timeout_ms: sys::sts_uint32_t,
    ev: *mut sys::sts_event_t,
) -> c_int {
    guard_init("stsp_get_event", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(ev) }?;
        let ch = EVCHANNELS.get(id_of(evc)?)?;
        crate::logging::set_current(ch.server.log());
        let mut cursor = ch.cursor.lock();
        let e = ch
            .server
            .next_event(*cursor, timeout(timeout_ms))?
            .ok_or(Status(sys::STS_ENO_MORE))?;
        *cursor = e.id;
        *out = event_out(&e);
        Ok(())
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_delete_event(evc: sys::sts_evchannel_handle_t, ev_id: sys::sts_uint64_t) -> c_int {
    guard_init("stsp_delete_event", || {
        let ch = EVCHANNELS.get(id_of(evc)?)?;
        crate::logging::set_current(ch.server.log());
        Ok(ch.server.delete_event(ev_id)?)
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_close_evchannel(evc: sys::sts_evchannel_handle_t) -> c_int {
    guard("stsp_close_evchannel", || {
        let id = id_of(evc)?;
        let ch = EVCHANNELS.remove(id)?;
        disown(ch.server_id, Child::EvChannel(id));
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_async_copy_image(
    to_lsu: *const sys::sts_lsu_t,
    to_def: *const sys::sts_image_def_t,
    from_lsu: *const sys::sts_lsu_t,
    from_def: *const sys::sts_image_def_t,
    flags: c_int,
    op_id: *mut sys::sts_uint64_t,
) -> c_int {
    guard_init("stsp_async_copy_image", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(op_id) }?;
        // SAFETY: per this function's contract.
        let a = unsafe { copy_args(to_lsu, to_def, from_lsu, from_def, flags) }?;
        *out = a.to.server.start_copy(
            &a.to_lsu,
            &a.to_name,
            &a.from.server,
            &a.from_lsu,
            &a.from_name,
            None,
        )?;
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_named_async_copy_image(
    to_lsu: *const sys::sts_lsu_t,
    to_def: *const sys::sts_image_def_t,
    from_lsu: *const sys::sts_lsu_t,
    from_def: *const sys::sts_image_def_t,
    flags: c_int,
    op_name: *const c_char,
) -> c_int {
    guard_init("stsp_named_async_copy_image", || {
        // SAFETY: per this function's contract.
        let a = unsafe { copy_args(to_lsu, to_def, from_lsu, from_def, flags) }?;
        // SAFETY: per this function's contract.
        let name = unsafe { self::op_name(op_name) }?;
        a.to.server.start_copy(
            &a.to_lsu,
            &a.to_name,
            &a.from.server,
            &a.from_lsu,
            &a.from_name,
            Some(name),
        )?;
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_named_async_wait(
    sh: sys::sts_server_handle_t,
    op_name: *const c_char,
    timeout_ms: sys::sts_uint32_t,
    op_status: *mut c_int,
) -> c_int {
    guard_init("stsp_named_async_wait", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(op_status) }?;
        let (_, entry) = server_of_any(sh)?;
        // SAFETY: per this function's contract.
        let name = unsafe { self::op_name(op_name) }?;
        let outcome = entry.server.wait_op(name, timeout(timeout_ms))?;
        *out = outcome_code(outcome);
        match outcome {
            Outcome::Ok => Ok(()),
            Outcome::Cancelled => Err(Status(sys::STS_ECANCELED)),
            Outcome::OwnerDied | Outcome::Failed(_) => Err(Status(sys::STS_EOPFAILED)),
        }
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `op_name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_named_async_cancel(
    sh: sys::sts_server_handle_t,
    op_name: *const c_char,
) -> c_int {
    guard_init("stsp_named_async_cancel", || {
        let (_, entry) = server_of_any(sh)?;
        // SAFETY: per this function's contract.
        let name = unsafe { self::op_name(op_name) }?;
        Ok(entry.server.cancel_op(name)?)
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_label_lsu(lsu: *const sys::sts_lsu_t, label: *const c_char) -> c_int {
    guard_init("stsp_label_lsu", || {
        // SAFETY: per this function's contract.
        let bytes = unsafe { args::c_string(label, sys::STS_MAX_LABEL as usize) }?;
        let label = std::str::from_utf8(bytes).map_err(|_| Status(sys::STS_ENAME))?;
        // SAFETY: per this function's contract.
        let (_, entry, lsu) = unsafe { lsu_of(lsu) }?;
        Ok(entry.server.set_lsu_label(&lsu, label)?)
    })
}
