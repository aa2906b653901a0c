//! Store, retrieve, delete and check_indexed over the archive engine.

use std::ffi::{c_char, c_int, c_long, c_void};
use std::sync::Arc;

use super::nvr::{self, fields_of};
use super::session::{Session, on_session};
use super::sys::{self, hc_long_t, hc_system_record_t, hcerr_t};
use super::{HcError, HcResult, err, err_msg, guard, put};
use crate::archive::value::Value;
use crate::engine::Error;
use crate::engine::archive::StoredObject;

/// The OID an `hc_oid *` names: its first 60 characters must be hex.
pub fn oid_arg(oid: *const sys::hc_oid) -> HcResult<String> {
    if oid.is_null() {
        return Err(err(sys::HCERR_INVALID_OID));
    }
    // SAFETY: an hc_oid is 61 readable chars; we read at most 60 and stop
    // at the first NUL.
    let a = unsafe { &*oid };
    let mut s = String::with_capacity(60);
    for &c in &a[..60] {
        let c = c as u8;
        if !c.is_ascii_hexdigit() {
            return Err(err_msg(sys::HCERR_INVALID_OID, "an OID is 60 hex digits"));
        }
        s.push(char::from(c.to_ascii_lowercase()));
    }
    Ok(s)
}

fn put_text(dst: &mut [c_char], s: &str) {
    dst.fill(0);
    let n = dst.len() - 1;
    for (d, b) in dst.iter_mut().zip(s.bytes().take(n)) {
        *d = b as c_char;
    }
}

/// Fills a system record.
pub fn record(rec: &mut hc_system_record_t, o: &StoredObject) {
    *rec = hc_system_record_t::default();
    put_text(&mut rec.oid, &o.oid);
    put_text(&mut rec.digest_algo, "sha1");
    put_text(&mut rec.data_digest, &o.sha1);
    rec.size = o.size as hc_long_t;
    rec.creation_time = o.ctime_ms as hc_long_t;
    rec.deleted_time = 0;
    rec.is_indexed = c_char::from(o.indexed);
}

fn user_fields(s: &Session, pubnvr: *mut c_void) -> HcResult<Vec<(String, crate::archive::SqlValue)>> {
    if pubnvr.is_null() {
        return Ok(Vec::new());
    }
    let n = nvr::nvr(pubnvr)?;
    fields_of(&n, &s.schema.schema)
}

fn store(
    session: *mut c_void,
    reader: sys::read_from_data_source,
    stream: *mut c_void,
    pubnvr: *mut c_void,
    out: *mut hc_system_record_t,
) -> HcResult {
    on_session(session, |s| {
        let reader = reader.ok_or_else(|| err(sys::HCERR_ILLEGAL_ARGUMENT))?;
        if out.is_null() {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        let fields = user_fields(s, pubnvr)?;
        let mut failure: Option<HcError> = None;
        let mut read = |buf: &mut [u8]| -> crate::engine::Result<usize> {
            let want = buf.len().min(c_long::MAX as usize) as c_long;
            // SAFETY: the application's callback with a buffer of `want`
            // writable bytes.
            let got = unsafe { reader(stream, buf.as_mut_ptr().cast(), want) };
            if got < 0 {
                failure = Some(err_msg(
                    sys::HCERR_ABORTED_BY_CALLBACK,
                    "the data source cancelled the store",
                ));
                return Err(Error::Invalid("aborted by callback".into()));
            }
            if got > want {
                failure = Some(err_msg(
                    sys::HCERR_IO_ERR,
                    format!("the data source returned {got} for a buffer of {want} bytes"),
                ));
                return Err(Error::Invalid("bad read".into()));
            }
            Ok(got as usize)
        };
        let stored = s.server.store_object(&mut read, fields);
        let o = match (stored, failure) {
            (_, Some(e)) => return Err(e),
            (r, None) => r?,
        };
        // SAFETY: checked non-NULL; writable per the caller's contract.
        record(unsafe { &mut *out }, &o);
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_store_both_ez(
    session: *mut sys::hc_session_t,
    data_source_reader: sys::read_from_data_source,
    stream: *mut c_void,
    pubnvr: *mut sys::hc_nvr_t,
    system_record: *mut hc_system_record_t,
) -> hcerr_t {
    guard("hc_store_both_ez", || {
        store(session, data_source_reader, stream, pubnvr, system_record)
    })
}

/// With one local cell, cell 0 is a plain store; others do not exist.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_store_both_cell_ez(
    session: *mut sys::hc_session_t,
    cellid: c_int,
    data_source_reader: sys::read_from_data_source,
    stream: *mut c_void,
    pubnvr: *mut sys::hc_nvr_t,
    system_record: *mut hc_system_record_t,
) -> hcerr_t {
    guard("hc_store_both_cell_ez", || {
        if cellid != 0 {
            super::session::session(session)?;
            return Err(err_msg(sys::HCERR_ILLEGAL_ARGUMENT, format!("no cell {cellid}")));
        }
        store(session, data_source_reader, stream, pubnvr, system_record)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_store_metadata_ez(
    session: *mut sys::hc_session_t,
    oid: *mut sys::hc_oid,
    pubnvr: *mut sys::hc_nvr_t,
    system_record: *mut hc_system_record_t,
) -> hcerr_t {
    guard("hc_store_metadata_ez", || {
        on_session(session, |s| {
            // Read before the output is written: callers pass &rec.oid, &rec.
            let oid = oid_arg(oid)?;
            if system_record.is_null() {
                return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
            }
            let fields = user_fields(s, pubnvr)?;
            let o = s.server.store_metadata(&oid, fields)?;
            // SAFETY: checked non-NULL.
            record(unsafe { &mut *system_record }, &o);
            Ok(())
        })
    })
}

fn retrieve(
    session: *mut c_void,
    writer: sys::write_to_data_destination,
    stream: *mut c_void,
    oid: *const sys::hc_oid,
    range: Option<(hc_long_t, hc_long_t)>,
) -> HcResult {
    on_session(session, |s| {
        let oid = oid_arg(oid)?;
        let writer = writer.ok_or_else(|| err(sys::HCERR_ILLEGAL_ARGUMENT))?;
        let (first, last) = match range {
            None => (0, None),
            Some((first, last)) => {
                if first < -1 || last < -1 || (first >= 0 && last >= 0 && last < first) {
                    return Err(err_msg(
                        sys::HCERR_ILLEGAL_ARGUMENT,
                        format!("bad byte range {first}..{last}"),
                    ));
                }
                match (first, last) {
                    (-1, -1) => (0, None),
                    (-1, l) => (0, Some(l as u64)),
                    (f, -1) => (f as u64, None),
                    (f, l) => (f as u64, Some(l as u64)),
                }
            }
        };
        let mut failure: Option<HcError> = None;
        let mut write = |buf: &[u8]| -> crate::engine::Result<()> {
            let n = buf.len() as c_long;
            // SAFETY: the application's callback with n readable bytes (it
            // may not write them; the pointer is ours for the call).
            let got = unsafe { writer(stream, buf.as_ptr().cast_mut().cast(), n) };
            if got != n {
                failure = Some(err_msg(
                    sys::HCERR_CLIENT_GAVE_UP,
                    format!("the data destination took {got} of {n} bytes"),
                ));
                return Err(Error::Invalid("client gave up".into()));
            }
            Ok(())
        };
        let res = s.server.retrieve_object(&oid, first, last, &mut write);
        match (res, failure) {
            (_, Some(e)) => Err(e),
            (r, None) => Ok(r?),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_retrieve_ez(
    session: *mut sys::hc_session_t,
    data_writer: sys::write_to_data_destination,
    stream: *mut c_void,
    oid: *mut sys::hc_oid,
) -> hcerr_t {
    guard("hc_retrieve_ez", || {
        retrieve(session, data_writer, stream, oid, None)
    })
}

/// Bytes firstbyte..=lastbyte; lastbyte -1 means to the end; firstbyte -1
/// means from 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_range_retrieve_ez(
    session: *mut sys::hc_session_t,
    data_writer: sys::write_to_data_destination,
    stream: *mut c_void,
    oid: *mut sys::hc_oid,
    firstbyte: hc_long_t,
    lastbyte: hc_long_t,
) -> hcerr_t {
    guard("hc_range_retrieve_ez", || {
        retrieve(session, data_writer, stream, oid, Some((firstbyte, lastbyte)))
    })
}

/// A new NVR with every field of an object (system and user) the
/// session's schema defines, typed by it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_retrieve_metadata_ez(
    session: *mut sys::hc_session_t,
    oid: *mut sys::hc_oid,
    nvrp: *mut *mut sys::hc_nvr_t,
) -> hcerr_t {
    guard("hc_retrieve_metadata_ez", || {
        on_session(session, |s| {
            let oid = oid_arg(oid)?;
            if nvrp.is_null() {
                return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
            }
            let fields = s.server.object_fields(&oid)?;
            let n = nvr::Nvr::new(Arc::clone(&s.schema), fields.len());
            for (name, v) in fields {
                let Some(def) = s.schema.schema.field(&name) else {
                    continue;
                };
                let Ok(v) = Value::from_sql(def.ty, v) else {
                    crate::log_warn!(
                        s.server.log(),
                        "object {oid}: field {name} does not have the schema's type"
                    );
                    continue;
                };
                n.add_value(&name, &v)?;
            }
            let p = super::NVRS.insert(n) as *mut c_void;
            // SAFETY: checked non-NULL.
            unsafe { put(nvrp, p) }
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_delete_ez(session: *mut sys::hc_session_t, oid: *mut sys::hc_oid) -> hcerr_t {
    guard("hc_delete_ez", || {
        on_session(session, |s| {
            let oid = oid_arg(oid)?;
            Ok(s.server.delete_object(&oid)?)
        })
    })
}

/// -1 already indexed, 1 indexed by this call, 0 still not.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_check_indexed_ez(
    session: *mut sys::hc_session_t,
    oid: *mut sys::hc_oid,
    result: *mut c_int,
) -> hcerr_t {
    guard("hc_check_indexed_ez", || {
        on_session(session, |s| {
            let oid = oid_arg(oid)?;
            if result.is_null() {
                return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
            }
            let r = s.server.check_indexed(&oid)?;
            // SAFETY: checked non-NULL.
            unsafe { put(result, r) }
        })
    })
}
