//! Server and LSU entry points, and the server handle family.

use std::ffi::{c_char, c_int};
use std::sync::Arc;

use parking_lot::Mutex;

use super::args::{self, array_str, in_ref, out_ref, put_str};
use super::boundary::{api_version, guard, guard_init};
use super::handles::{Table, id_of, ptr_of};
use super::image::{IMAGE_LISTS, IMAGES};
use super::plugin::server_path;
use super::status::{FfiResult, Status};
use super::sys;
use crate::engine::cred::{Access, Credentials};
use crate::engine::{LsuInfo, Server};

/// What a server handle holds.
pub struct ServerEntry {
    pub server: Server,
    /// Opened by stsp_open_target_server: only a few calls accept it.
    target: bool,
    /// Handles opened through this server, closed with it.
    children: Mutex<std::collections::HashSet<Child>>,
}

/// A handle opened through a server.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    Image(usize),
    LsuList(usize),
    ImageList(usize),
    EvChannel(usize),
}

impl ServerEntry {
    pub fn adopt(&self, child: Child) {
        self.children.lock().insert(child);
    }

    pub fn disown(&self, child: Child) {
        self.children.lock().remove(&child);
    }

    /// Closes every child handle; open writers complete abnormally.
    fn close_children(&self) {
        let children: Vec<Child> = self.children.lock().drain().collect();
        for c in children {
            match c {
                Child::Image(id) => {
                    if let Ok(img) = IMAGES.remove(id) {
                        img.abandon();
                    }
                }
                Child::LsuList(id) => drop(LSU_LISTS.remove(id)),
                Child::ImageList(id) => drop(IMAGE_LISTS.remove(id)),
                Child::EvChannel(id) => drop(super::events::EVCHANNELS.remove(id)),
            }
        }
    }
}

/// A snapshot of LSU names being listed.
pub struct LsuList {
    server_id: usize,
    names: Vec<String>,
    pos: Mutex<usize>,
}

pub static SERVERS: Table<ServerEntry> = Table::new();
pub static LSU_LISTS: Table<LsuList> = Table::new();

/// Closes every server handle (stsp_terminate).
pub fn close_all_servers() {
    for entry in SERVERS.drain() {
        entry.close_children();
    }
}

/// Forgets a closed child of server `server_id` (if that is still open).
pub fn disown(server_id: usize, child: Child) {
    if let Ok(entry) = SERVERS.get(server_id) {
        entry.disown(child);
    }
}

/// The server entry behind an ordinary (not target) handle.
pub fn server_of(sh: sys::sts_server_handle_t) -> Result<(usize, Arc<ServerEntry>), Status> {
    let (id, entry) = server_of_any(sh)?;
    if entry.target {
        return Err(Status(sys::STS_EMODE));
    }
    Ok((id, entry))
}

/// The server entry behind any server handle, target handles included
/// (for the calls stsp_open_target_server allows).
pub fn server_of_any(sh: sys::sts_server_handle_t) -> Result<(usize, Arc<ServerEntry>), Status> {
    let id = id_of(sh)?;
    let entry = SERVERS.get(id)?;
    // this call's records (the C boundary's) go to this server's log
    crate::logging::set_current(entry.server.log());
    Ok((id, entry))
}

/// The server entry and LSU name of an `sts_lsu_t` on an ordinary handle.
///
/// # Safety
/// `lsu` is NULL or points to a valid `sts_lsu_t`.
pub unsafe fn lsu_of(lsu: *const sys::sts_lsu_t) -> Result<(usize, Arc<ServerEntry>, String), Status> {
    // SAFETY: per this function's contract.
    let (id, entry, name) = unsafe { lsu_of_any(lsu) }?;
    if entry.target {
        return Err(Status(sys::STS_EMODE));
    }
    Ok((id, entry, name))
}

/// As [`lsu_of`], also accepting target handles.
///
/// # Safety
/// `lsu` is NULL or points to a valid `sts_lsu_t`.
pub unsafe fn lsu_of_any(lsu: *const sys::sts_lsu_t) -> Result<(usize, Arc<ServerEntry>, String), Status> {
    // SAFETY: per this function's contract.
    let lsu = unsafe { in_ref(lsu) }?;
    let (id, entry) = server_of_any(lsu.sl_server_handle)?;
    let name = array_str(&lsu.sl_lsu_name.sln_name)?;
    crate::engine::names::check_lsu(name)?;
    if name.starts_with('.') {
        return Err(Status(sys::STS_ENOLSU)); // internal LSUs are not the plugin API's
    }
    Ok((id, entry, name.to_owned()))
}

/// Opens the server a C name denotes.
///
/// # Safety
/// `server_name` is NULL or NUL-terminated; `cred` is NULL or valid.
unsafe fn open_named(
    server_name: *const c_char,
    cred: *const sys::sts_cred_t,
    create: bool,
) -> Result<Server, Status> {
    // SAFETY: per this function's contract.
    let name = unsafe { args::c_string(server_name, sys::STS_MAX_SERVERNAME as usize) }?;
    let dir = server_path(name)?;
    // SAFETY: NULL or valid, per the contract.
    let cred = match unsafe { cred.as_ref() } {
        Some(c) => Some(Credentials {
            user: array_str(&c.sc_user)?,
            secret: args::array_bytes(&c.sc_secret)?,
        }),
        None => None,
    };
    let access = Access::Client(cred);
    Ok(if create {
        Server::open_as(dir, &access)?
    } else {
        Server::open_existing_as(dir, &access)?
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_open_server(
    server_name: *const c_char,
    cred: *const sys::sts_cred_t,
    sh: *mut sys::sts_server_handle_t,
) -> c_int {
    guard_init("stsp_open_server", || {
        // SAFETY: per this function's contract.
        let sh = unsafe { out_ref(sh) }?;
        // SAFETY: per this function's contract.
        let server = unsafe { open_named(server_name, cred, true) }?;
        *sh = ptr_of(SERVERS.insert(ServerEntry {
            server,
            target: false,
            children: Mutex::default(),
        }));
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_open_target_server(
    source_sh: sys::sts_server_handle_t,
    target_name: *const c_char,
    cred: *const sys::sts_cred_t,
    target_sh: *mut sys::sts_server_handle_t,
) -> c_int {
    guard_init("stsp_open_target_server", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(target_sh) }?;
        server_of(source_sh)?;
        // SAFETY: per this function's contract.
        let server = unsafe { open_named(target_name, cred, true) }?;
        *out = ptr_of(SERVERS.insert(ServerEntry {
            server,
            target: true,
            children: Mutex::default(),
        }));
        Ok(())
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_close_server(sh: sys::sts_server_handle_t) -> c_int {
    guard("stsp_close_server", || {
        let entry = SERVERS.remove(id_of(sh)?)?;
        entry.close_children();
        Ok(())
    })
}

fn server_info(server: &Server, info: &mut sys::sts_server_info_t) -> FfiResult {
    let mut si = sys::sts_server_info_t::default();
    let name = format!("combstore:{}", server.dir().display());
    put_str(&mut si.srv_server, &name);
    for bit in 0..=sys::STS_CAP_LABEL_LSU {
        si.srv_cap[(bit / 32) as usize] |= 1 << (bit % 32);
    }
    si.srv_flags = (sys::STS_SRV_IMAGELIST
        | sys::STS_SRV_IMAGE_COPY
        | sys::STS_SRV_VIRTUAL_IMAGE
        | sys::STS_SRV_EVENTS
        | sys::STS_SRV_DEDUP) as u32;
    if server.credentials_user()?.is_some() {
        si.srv_flags |= sys::STS_SRV_CRED as u32;
    }
    si.srv_lsu_count = u32::try_from(server.lsu_names()?.len()).unwrap_or(u32::MAX);
    si.srv_block_size = sys::STS_BLOCK_SIZE as u32;
    si.srv_api_version = api_version();
    *info = si;
    Ok(())
}

/// See include/stspi.h.
///
/// # Safety
/// `info` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_get_server_prop(
    sh: sys::sts_server_handle_t,
    info: *mut sys::sts_server_info_t,
) -> c_int {
    guard_init("stsp_get_server_prop", || {
        // SAFETY: per this function's contract.
        let info = unsafe { out_ref(info) }?;
        let (_, entry) = server_of_any(sh)?;
        server_info(&entry.server, info)
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_get_server_prop_byname(
    server_name: *const c_char,
    cred: *const sys::sts_cred_t,
    info: *mut sys::sts_server_info_t,
) -> c_int {
    guard_init("stsp_get_server_prop_byname", || {
        // SAFETY: per this function's contract.
        let info = unsafe { out_ref(info) }?;
        // SAFETY: per this function's contract.
        let server = unsafe { open_named(server_name, cred, false) }?;
        server_info(&server, info)
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `lh` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_open_lsu_list(
    sh: sys::sts_server_handle_t,
    lh: *mut sys::sts_lsu_list_handle_t,
) -> c_int {
    guard_init("stsp_open_lsu_list", || {
        // SAFETY: per this function's contract.
        let lh = unsafe { out_ref(lh) }?;
        let (server_id, entry) = server_of(sh)?;
        let names = entry.server.lsu_names()?;
        let id = LSU_LISTS.insert(LsuList {
            server_id,
            names,
            pos: Mutex::new(0),
        });
        entry.adopt(Child::LsuList(id));
        *lh = ptr_of(id);
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `name` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_list_lsu(
    lh: sys::sts_lsu_list_handle_t,
    name: *mut sys::sts_lsu_name_t,
) -> c_int {
    guard_init("stsp_list_lsu", || {
        // SAFETY: per this function's contract.
        let name = unsafe { out_ref(name) }?;
        let list = LSU_LISTS.get(id_of(lh)?)?;
        let mut pos = list.pos.lock();
        let next = list.names.get(*pos).ok_or(Status(sys::STS_ENO_MORE))?;
        let mut out = sys::sts_lsu_name_t::default();
        put_str(&mut out.sln_name, next);
        *pos += 1;
        *name = out;
        Ok(())
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_close_lsu_list(lh: sys::sts_lsu_list_handle_t) -> c_int {
    guard("stsp_close_lsu_list", || {
        let id = id_of(lh)?;
        let list = LSU_LISTS.remove(id)?;
        disown(list.server_id, Child::LsuList(id));
        Ok(())
    })
}

fn lsu_info(l: &LsuInfo) -> sys::sts_lsu_info_t {
    let mut info = sys::sts_lsu_info_t::default();
    info.lsu_capacity = l.capacity;
    info.lsu_used = l.used;
    info.lsu_used_phys = l.used_phys;
    info.lsu_images = l.images;
    let freed = if l.deferred_reclaim {
        sys::STS_LSUF_STORAGE_FREED_DEFERRED
    } else {
        sys::STS_LSUF_STORAGE_FREED
    };
    info.lsu_flags = (sys::STS_LSUF_DISK
        | freed
        | sys::STS_LSUF_STORAGE_SHARED
        | sys::STS_LSUF_DEDUP
        | sys::STS_LSUF_COMPRESSED) as u32;
    info.lsu_block_size = sys::STS_BLOCK_SIZE as u32;
    put_str(&mut info.lsu_name.sln_name, &l.name);
    put_str(&mut info.lsu_label, &l.label);
    info
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_get_lsu_prop_byname(
    lsu: *const sys::sts_lsu_t,
    info: *mut sys::sts_lsu_info_t,
) -> c_int {
    guard_init("stsp_get_lsu_prop_byname", || {
        // SAFETY: per this function's contract.
        let info = unsafe { out_ref(info) }?;
        // SAFETY: per this function's contract.
        let (_, entry, name) = unsafe { lsu_of(lsu) }?;
        *info = lsu_info(&entry.server.lsu_info(&name)?);
        Ok(())
    })
}
