//! Image entry points and the image and image-list handle families.

use std::collections::VecDeque;
use std::ffi::{c_int, c_void};

use parking_lot::Mutex;

use super::args::{IO_LIMIT, image_def, image_name, in_bytes, in_ref, out_bytes, out_ref, put_str};
use super::boundary::{guard, guard_init};
use super::handles::{Table, id_of, ptr_of};
use super::server::{Child, disown, lsu_of, lsu_of_any};
use super::status::Status;
use super::sys;
use crate::engine::{Error, ImageInfo, ImageName, ImageReader, ImageState, ImageWriter, MAX_META, Server};

/// An open image: a writer or a reader.
pub enum Slot {
    /// Boxed, as is a reader: both hold buffers and caches of a few
    /// hundred bytes; a slot is a pointer.
    Writer(Box<ImageWriter>),
    Reader(Box<ImageReader>),
}

/// What an image handle holds. The slot is emptied by close.
pub struct ImageEntry {
    server_id: usize,
    /// The server's log: the C boundary's records for calls on this handle.
    log: crate::logging::ServerLog,
    slot: Mutex<Option<Slot>>,
}

impl ImageEntry {
    /// Abnormal completion of an open writer (its server was closed).
    pub fn abandon(&self) {
        if let Some(Slot::Writer(mut w)) = self.slot.lock().take() {
            w.abandon();
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Slot) -> Result<T, Status>) -> Result<T, Status> {
        let mut slot = self.slot.lock();
        f(slot.as_mut().ok_or(Status(sys::STS_EHANDLE))?)
    }
}

/// An image listing in progress: pages fetched by key.
pub struct ImageList {
    server_id: usize,
    server: Server,
    lsu: String,
    state: Mutex<ListState>,
}

#[derive(Default)]
struct ListState {
    page: VecDeque<ImageName>,
    last: Option<ImageName>,
    done: bool,
}

const LIST_PAGE: usize = 1000;

pub static IMAGES: Table<ImageEntry> = Table::new();
pub static IMAGE_LISTS: Table<ImageList> = Table::new();

fn image_of(ih: sys::sts_image_handle_t) -> Result<std::sync::Arc<ImageEntry>, Status> {
    image_by_id(id_of(ih)?)
}

/// The entry of an image handle value; its server's log becomes the
/// home of this call's records.
fn image_by_id(id: usize) -> Result<std::sync::Arc<ImageEntry>, Status> {
    let entry = IMAGES.get(id)?;
    crate::logging::set_current(&entry.log);
    Ok(entry)
}

fn register(server_id: usize, entry: &super::server::ServerEntry, slot: Slot) -> sys::sts_image_handle_t {
    let id = IMAGES.insert(ImageEntry {
        server_id,
        log: entry.server.log().clone(),
        slot: Mutex::new(Some(slot)),
    });
    entry.adopt(Child::Image(id));
    ptr_of(id)
}

/// STS_II_* flags of a state.
pub fn state_flags(state: ImageState) -> u32 {
    let f = match state {
        ImageState::Writing => sys::STS_II_IMAGE_PENDING | sys::STS_II_BUSY_WRITE,
        ImageState::Incomplete => sys::STS_II_IMAGE_PENDING,
        ImageState::Aborted => sys::STS_II_IMAGE_PENDING | sys::STS_II_ABNORMAL,
        ImageState::Broken => sys::STS_II_ABNORMAL,
        ImageState::Complete => sys::STS_II_IMAGE_CREATED | sys::STS_II_IMAGE_COMPLETE,
    };
    f as u32
}

fn image_info(i: &ImageInfo) -> sys::sts_image_info_t {
    let mut info = sys::sts_image_info_t::default();
    info.imo_flags = state_flags(i.state);
    info.imo_block_size = sys::STS_BLOCK_SIZE as u32;
    info.imo_size = i.size;
    info.imo_ctime_ms = i.ctime_ms;
    info.imo_mtime_ms = i.mtime_ms;
    info.imo_complete_ms = i.complete_ms;
    info.imo_extent_count = i.extent_count;
    info.imo_def = image_def(&i.name);
    put_str(&mut info.imo_lsu.sln_name, &i.lsu);
    put_str(&mut info.imo_objid, &i.objid);
    put_str(&mut info.imo_sha1, &i.sha1);
    info
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_create_image(
    lsu: *const sys::sts_lsu_t,
    def: *const sys::sts_image_def_t,
    _pendingflag: c_int,
    ih: *mut sys::sts_image_handle_t,
) -> c_int {
    guard_init("stsp_create_image", || {
        // SAFETY: per this function's contract (each helper's).
        let (ih, def) = unsafe { (out_ref(ih)?, in_ref(def)?) };
        // SAFETY: as above.
        let (server_id, entry, lsu) = unsafe { lsu_of_any(lsu) }?;
        let name = image_name(def)?;
        let w = entry.server.create_image(&lsu, &name)?;
        *ih = register(server_id, &entry, Slot::Writer(Box::new(w)));
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_open_image(
    lsu: *const sys::sts_lsu_t,
    def: *const sys::sts_image_def_t,
    mode: c_int,
    ih: *mut sys::sts_image_handle_t,
) -> c_int {
    guard_init("stsp_open_image", || {
        // SAFETY: per this function's contract (each helper's).
        let (ih, def) = unsafe { (out_ref(ih)?, in_ref(def)?) };
        // SAFETY: as above.
        let (server_id, entry, lsu) = unsafe { lsu_of_any(lsu) }?;
        let name = image_name(def)?;
        let slot = match mode {
            m if m == sys::STS_O_READ => Slot::Reader(Box::new(entry.server.open_image(&lsu, &name)?)),
            m if m == sys::STS_O_WRITE => Slot::Writer(Box::new(entry.server.reopen_image(&lsu, &name)?)),
            _ => return Err(Status(sys::STS_EINVAL)),
        };
        *ih = register(server_id, &entry, slot);
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_write_image(
    ih: sys::sts_image_handle_t,
    _stat: *const sys::sts_stat_t,
    buf: *const c_void,
    len: sys::sts_uint64_t,
    offset: sys::sts_uint64_t,
    byteswritten: *mut sys::sts_uint64_t,
) -> c_int {
    guard_init("stsp_write_image", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(byteswritten) }?;
        let img = image_of(ih)?;
        // SAFETY: per this function's contract.
        let data = unsafe { in_bytes(buf, len, IO_LIMIT) }?;
        img.with(|slot| match slot {
            Slot::Writer(w) => Ok(w.write(offset, data)?),
            Slot::Reader(_) => Err(Error::Mode("write on a read handle").into()),
        })?;
        *out = len;
        Ok(())
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_flush(ih: sys::sts_image_handle_t) -> c_int {
    guard_init("stsp_flush", || {
        image_of(ih)?.with(|slot| match slot {
            Slot::Writer(w) => Ok(w.flush()?),
            Slot::Reader(_) => Err(Error::Mode("flush on a read handle").into()),
        })
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_close_image(ih: sys::sts_image_handle_t, flags: c_int) -> c_int {
    guard("stsp_close_image", || {
        let id = id_of(ih)?;
        let img = image_by_id(id)?;
        let complete = {
            let slot = img.slot.lock();
            match slot.as_ref() {
                Some(Slot::Writer(_)) if flags == sys::STS_CLOSEF_IH_COMPLETE => true,
                Some(Slot::Writer(_)) if flags == sys::STS_CLOSEF_IH_INCOMPLETE => false,
                Some(Slot::Reader(_)) if flags == 0 => false,
                Some(_) => return Err(Status(sys::STS_EINVAL)),
                None => return Err(Status(sys::STS_EHANDLE)),
            }
        };
        let img = IMAGES.remove(id)?;
        disown(img.server_id, Child::Image(id));
        let slot = img.slot.lock().take();
        match slot {
            Some(Slot::Writer(w)) => Ok(w.close(complete)?),
            Some(Slot::Reader(_)) => Ok(()),
            None => Err(Status(sys::STS_EHANDLE)),
        }
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_read_image(
    ih: sys::sts_image_handle_t,
    buf: *mut c_void,
    len: sys::sts_uint64_t,
    offset: sys::sts_uint64_t,
    bytesread: *mut sys::sts_uint64_t,
) -> c_int {
    guard_init("stsp_read_image", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(bytesread) }?;
        let img = image_of(ih)?;
        // SAFETY: per this function's contract.
        let dst = unsafe { out_bytes(buf, len, IO_LIMIT) }?;
        let n = img.with(|slot| match slot {
            Slot::Reader(r) => Ok(r.read(offset, dst)?),
            Slot::Writer(_) => Err(Error::Mode("read on a write handle").into()),
        })?;
        *out = n as u64;
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_delete_image(
    lsu: *const sys::sts_lsu_t,
    def: *const sys::sts_image_def_t,
    asyncflag: c_int,
) -> c_int {
    guard_init("stsp_delete_image", || {
        // SAFETY: per this function's contract (each helper's).
        let def = unsafe { in_ref(def) }?;
        // SAFETY: as above.
        let (_, entry, lsu) = unsafe { lsu_of(lsu) }?;
        let name = image_name(def)?;
        if asyncflag != 0 {
            entry.server.start_delete(&lsu, &name)?;
            return Ok(());
        }
        Ok(entry.server.delete_image(&lsu, &name)?)
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_open_image_list(
    lsu: *const sys::sts_lsu_t,
    lh: *mut sys::sts_image_list_handle_t,
) -> c_int {
    guard_init("stsp_open_image_list", || {
        // SAFETY: per this function's contract.
        let lh = unsafe { out_ref(lh) }?;
        // SAFETY: as above.
        let (server_id, entry, lsu) = unsafe { lsu_of(lsu) }?;
        entry.server.lsu_info(&lsu)?; // the LSU must exist
        let list = ImageList {
            server_id,
            server: entry.server.clone(),
            lsu,
            state: Mutex::default(),
        };
        let id = IMAGE_LISTS.insert(list);
        entry.adopt(Child::ImageList(id));
        *lh = ptr_of(id);
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `def` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_list_image(
    lh: sys::sts_image_list_handle_t,
    def: *mut sys::sts_image_def_t,
) -> c_int {
    guard_init("stsp_list_image", || {
        // SAFETY: per this function's contract.
        let def = unsafe { out_ref(def) }?;
        let list = IMAGE_LISTS.get(id_of(lh)?)?;
        crate::logging::set_current(list.server.log());
        let mut st = list.state.lock();
        if st.page.is_empty() && !st.done {
            let page = list.server.list_images(&list.lsu, st.last.as_ref(), LIST_PAGE)?;
            st.done = page.len() < LIST_PAGE;
            st.last = page.last().cloned();
            st.page = page.into();
        }
        let next = st.page.pop_front().ok_or(Status(sys::STS_ENO_MORE))?;
        *def = image_def(&next);
        Ok(())
    })
}

/// See include/stspi.h.
#[unsafe(no_mangle)]
pub extern "C" fn stsp_close_image_list(lh: sys::sts_image_list_handle_t) -> c_int {
    guard("stsp_close_image_list", || {
        let id = id_of(lh)?;
        let list = IMAGE_LISTS.remove(id)?;
        disown(list.server_id, Child::ImageList(id));
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `info` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_get_image_prop(
    ih: sys::sts_image_handle_t,
    info: *mut sys::sts_image_info_t,
) -> c_int {
    guard_init("stsp_get_image_prop", || {
        // SAFETY: per this function's contract.
        let info = unsafe { out_ref(info) }?;
        let i = image_of(ih)?.with(|slot| match slot {
            Slot::Writer(w) => Ok(w.info()?),
            Slot::Reader(r) => Ok(r.info()?),
        })?;
        *info = image_info(&i);
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_get_image_prop_byname(
    lsu: *const sys::sts_lsu_t,
    def: *const sys::sts_image_def_t,
    info: *mut sys::sts_image_info_t,
) -> c_int {
    guard_init("stsp_get_image_prop_byname", || {
        // `info` may overlap `def` (a caller refreshing an sts_image_info_t
        // in place passes &info.imo_def): the name is copied out of `def`
        // before any reference to `info` exists.
        if info.is_null() {
            return Err(Status(sys::STS_ENULL));
        }
        // SAFETY: per this function's contract (each helper's).
        let def = unsafe { in_ref(def) }?;
        // SAFETY: as above.
        let (_, entry, lsu) = unsafe { lsu_of(lsu) }?;
        let name = image_name(def)?;
        let value = image_info(&entry.server.image_info(&lsu, &name)?);
        // SAFETY: non-NULL and valid for writes per the contract.
        *unsafe { out_ref(info) }? = value;
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_read_image_meta(
    ih: sys::sts_image_handle_t,
    buf: *mut c_void,
    len: sys::sts_uint64_t,
    offset: sys::sts_uint64_t,
    bytesread: *mut sys::sts_uint64_t,
) -> c_int {
    guard_init("stsp_read_image_meta", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(bytesread) }?;
        let img = image_of(ih)?;
        // SAFETY: per this function's contract.
        let dst = unsafe { out_bytes(buf, len, MAX_META) }?;
        let n = img.with(|slot| match slot {
            Slot::Writer(w) => Ok(w.read_meta(offset, dst)?),
            Slot::Reader(r) => Ok(r.read_meta(offset, dst)?),
        })?;
        *out = n as u64;
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_write_image_meta(
    ih: sys::sts_image_handle_t,
    buf: *const c_void,
    len: sys::sts_uint64_t,
    offset: sys::sts_uint64_t,
    byteswritten: *mut sys::sts_uint64_t,
) -> c_int {
    guard_init("stsp_write_image_meta", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(byteswritten) }?;
        let img = image_of(ih)?;
        // SAFETY: per this function's contract.
        let data = unsafe { in_bytes(buf, len, MAX_META) }?;
        img.with(|slot| match slot {
            Slot::Writer(w) => Ok(w.write_meta(offset, data)?),
            Slot::Reader(r) => Ok(r.write_meta(offset, data)?),
        })?;
        *out = len;
        Ok(())
    })
}

/// Shared by stsp_copy_extent and stsp_include_in_image; returns the bytes
/// copied.
fn copy_between(
    from: sys::sts_image_handle_t,
    to: sys::sts_image_handle_t,
    from_offset: u64,
    to_offset: u64,
    len: u64,
    flags: c_int,
    share_only: bool,
) -> Result<u64, Status> {
    let known = sys::STS_CX_APPEND | sys::STS_CX_REMAINDER;
    let (from_id, to_id) = (id_of(from)?, id_of(to)?);
    let (src, dst) = (image_by_id(from_id)?, image_by_id(to_id)?);
    if flags & !known != 0 || from_id == to_id {
        return Err(Status(sys::STS_EINVAL));
    }
    // Lock the two handles in handle order, so two opposite copies wait
    // for each other instead of deadlocking.
    let (mut from_slot, mut to_slot) = if from_id < to_id {
        let f = src.slot.lock();
        (f, dst.slot.lock())
    } else {
        let t = dst.slot.lock();
        (src.slot.lock(), t)
    };
    fn key(slot: &Option<Slot>) -> Option<(&str, i64)> {
        match slot {
            Some(Slot::Reader(r)) => Some(r.image_key()),
            Some(Slot::Writer(w)) => Some(w.image_key()),
            None => None,
        }
    }
    if key(&from_slot).is_some() && key(&from_slot) == key(&to_slot) {
        return Err(Status(sys::STS_EINVAL));
    }
    let reader = match from_slot.as_mut() {
        Some(Slot::Reader(r)) => r,
        Some(Slot::Writer(_)) => return Err(Error::Mode("copy source must be a read handle").into()),
        None => return Err(Status(sys::STS_EHANDLE)),
    };
    let writer = match to_slot.as_mut() {
        Some(Slot::Writer(w)) => w,
        Some(Slot::Reader(_)) => return Err(Error::Complete("copy target is a complete image".into()).into()),
        None => return Err(Status(sys::STS_EHANDLE)),
    };
    let to_offset = if flags & sys::STS_CX_APPEND != 0 {
        writer.size()
    } else {
        to_offset
    };
    let len = if flags & sys::STS_CX_REMAINDER != 0 {
        reader
            .size()
            .checked_sub(from_offset)
            .ok_or(Status(sys::STS_ERANGE))?
    } else {
        len
    };
    writer.copy_from(reader, from_offset, to_offset, len, share_only)?;
    Ok(len)
}

/// See include/stspi.h.
///
/// # Safety
/// `bytescopied` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_copy_extent(
    from_image: sys::sts_image_handle_t,
    to_image: sys::sts_image_handle_t,
    from_offset: sys::sts_uint64_t,
    to_offset: sys::sts_uint64_t,
    len: sys::sts_uint64_t,
    flags: c_int,
    bytescopied: *mut sys::sts_uint64_t,
) -> c_int {
    guard_init("stsp_copy_extent", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(bytescopied) }?;
        *out = copy_between(from_image, to_image, from_offset, to_offset, len, flags, false)?;
        Ok(())
    })
}

/// See include/stspi.h.
///
/// # Safety
/// `bytesincluded` is NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_include_in_image(
    from_image: sys::sts_image_handle_t,
    to_image: sys::sts_image_handle_t,
    from_offset: sys::sts_uint64_t,
    to_offset: sys::sts_uint64_t,
    len: sys::sts_uint64_t,
    flags: c_int,
    bytesincluded: *mut sys::sts_uint64_t,
) -> c_int {
    guard_init("stsp_include_in_image", || {
        // SAFETY: per this function's contract.
        let out = unsafe { out_ref(bytesincluded) }?;
        *out = copy_between(from_image, to_image, from_offset, to_offset, len, flags, true)?;
        Ok(())
    })
}

/// The parsed arguments of the copy_image family.
pub struct CopyArgs {
    pub to: std::sync::Arc<super::server::ServerEntry>,
    pub to_lsu: String,
    pub to_name: ImageName,
    pub from: std::sync::Arc<super::server::ServerEntry>,
    pub from_lsu: String,
    pub from_name: ImageName,
}

/// Checks the arguments stsp_copy_image and its asynchronous forms share.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
pub unsafe fn copy_args(
    to_lsu: *const sys::sts_lsu_t,
    to_def: *const sys::sts_image_def_t,
    from_lsu: *const sys::sts_lsu_t,
    from_def: *const sys::sts_image_def_t,
    flags: c_int,
) -> Result<CopyArgs, Status> {
    // SAFETY: per this function's contract (each helper's).
    let (to_def, from_def) = unsafe { (in_ref(to_def)?, in_ref(from_def)?) };
    // SAFETY: as above.
    let (_, to, to_lsu) = unsafe { lsu_of_any(to_lsu) }?;
    // SAFETY: as above.
    let (_, from, from_lsu) = unsafe { lsu_of(from_lsu) }?;
    let (to_name, from_name) = (image_name(to_def)?, image_name(from_def)?);
    if flags != 0 {
        return Err(Status(sys::STS_EINVAL));
    }
    Ok(CopyArgs {
        to,
        to_lsu,
        to_name,
        from,
        from_lsu,
        from_name,
    })
}

/// See include/stspi.h.
///
/// # Safety
/// Pointers are NULL or valid as the header documents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stsp_copy_image(
    to_lsu: *const sys::sts_lsu_t,
    to_def: *const sys::sts_image_def_t,
    from_lsu: *const sys::sts_lsu_t,
    from_def: *const sys::sts_image_def_t,
    flags: c_int,
) -> c_int {
    guard_init("stsp_copy_image", || {
        // SAFETY: per this function's contract.
        let a = unsafe { copy_args(to_lsu, to_def, from_lsu, from_def, flags) }?;
        Ok(a.to
            .server
            .copy_image(&a.to_lsu, &a.to_name, &a.from.server, &a.from_lsu, &a.from_name)?)
    })
}
