//! Name-value records (NVRs) and the conversions between `hc_value_t`
//! and engine values.
//!
//! An NVR holds C values: strings and byte arrays in buffers from the
//! registered allocator, owned by the NVR and freed with it, so pointers
//! handed out stay valid until `hc_nvr_free`. It keeps the schema of the
//! session it was created for (and works after that session is freed).

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use parking_lot::Mutex;

use super::session::{SchemaC, hc_type};
use super::sys::{self, hc_long_t, hc_value_t, hcerr_t};
use super::{
    HcResult, NVRS, alloc, alloc_bytes, alloc_cstr, c_str, dealloc, err, err_msg, guard, lookup, put,
};
use crate::archive::calendar;
use crate::archive::value::Value;
use crate::archive::{FieldDef, FieldType};

/// One entry: the name and a C value whose pointers the entry owns.
pub struct Entry {
    pub name: CString,
    pub value: hc_value_t,
}

// SAFETY: the raw pointers inside `value` are owned by the entry and only
// touched under the NVR's mutex.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: the entry owns these buffers (from the allocator).
        unsafe { free_value(&self.value) }
    }
}

/// Frees the buffers a C value owns.
///
/// # Safety
/// The pointers in `v` (per its type) are NULL or from the allocator.
unsafe fn free_value(v: &hc_value_t) {
    // SAFETY: the union member matching the type is the one in use.
    unsafe {
        match v.hcv_type {
            sys::HC_STRING_TYPE | sys::HC_CHAR_TYPE => dealloc(v.hcv.hcv_string.cast()),
            sys::HC_BINARY_TYPE | sys::HC_OBJECTID_TYPE => dealloc(v.hcv.hcv_bytearray.bytes.cast()),
            _ => {}
        }
    }
}

/// A name-value record.
pub struct Nvr {
    pub schema: Arc<SchemaC>,
    pub entries: Mutex<Vec<Entry>>,
}

impl Nvr {
    pub fn new(schema: Arc<SchemaC>, cap: usize) -> Nvr {
        Nvr {
            schema,
            entries: Mutex::new(Vec::with_capacity(cap)),
        }
    }

    /// Adds (or replaces) an entry; takes ownership of the value's
    /// buffers only on success.
    pub fn add(&self, name: &str, mut v: hc_value_t) -> HcResult {
        let def = self.schema.schema.field(name).ok_or_else(|| {
            err_msg(
                sys::HCERR_ILLEGAL_VALUE_FOR_METADATA,
                format!("no field {name:?} in the schema"),
            )
        })?;
        if v.hcv_type != hc_type(def.ty) && v.hcv_type != sys::HC_STRING_TYPE {
            return Err(err_msg(
                sys::HCERR_ILLEGAL_VALUE_FOR_METADATA,
                format!("field {name:?} is of type {}", def.ty.name()),
            ));
        }
        // SAFETY: the member matching the type is the one in use.
        unsafe {
            match v.hcv_type {
                sys::HC_STRING_TYPE | sys::HC_CHAR_TYPE if v.hcv.hcv_string.is_null() => {
                    return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
                }
                sys::HC_BINARY_TYPE | sys::HC_OBJECTID_TYPE
                    if v.hcv.hcv_bytearray.len < 0
                        || (v.hcv.hcv_bytearray.len > 0 && v.hcv.hcv_bytearray.bytes.is_null()) =>
                {
                    return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
                }
                sys::HC_DATE_TYPE => {
                    let t = v.hcv.hcv_tm;
                    let mut d: libc::tm = std::mem::zeroed();
                    d.tm_year = t.tm_year;
                    d.tm_mon = t.tm_mon;
                    d.tm_mday = t.tm_mday;
                    v.hcv.hcv_tm = std::mem::transmute_copy(&d);
                }
                sys::HC_TIMESTAMP_TYPE => {
                    let ns = v.hcv.hcv_timespec.tv_nsec;
                    v.hcv.hcv_timespec.tv_nsec = ns - ns.rem_euclid(1_000_000);
                }
                _ => {}
            }
        }
        let entry = Entry {
            name: CString::new(name).map_err(|_| err(sys::HCERR_ILLEGAL_ARGUMENT))?,
            value: v,
        };
        let mut es = self.entries.lock();
        match es.iter_mut().find(|e| e.name.as_bytes() == name.as_bytes()) {
            Some(old) => *old = entry,
            None => es.push(entry),
        }
        Ok(())
    }

    /// Adds an engine value (allocating its C buffers).
    pub fn add_value(&self, name: &str, v: &Value) -> HcResult {
        let c = value_to_c(v)?;
        self.add(name, c).inspect_err(|_| {
            // SAFETY: c's buffers were just allocated and not taken.
            unsafe { free_value(&c) }
        })
    }
}

/// The NVR behind a handle.
pub fn nvr(p: *mut c_void) -> HcResult<Arc<Nvr>> {
    lookup(&NVRS, p, sys::HCERR_INVALID_NVR, sys::HCERR_INVALID_NVR)
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

fn zero_value(ty: sys::hc_type_t) -> hc_value_t {
    let mut v = hc_value_t::default();
    v.hcv_type = ty;
    v
}

/// A C value for an engine value; strings and bytes are allocated.
pub fn value_to_c(v: &Value) -> HcResult<hc_value_t> {
    let mut c = zero_value(super::session::hc_type(v.ty()));
    match v {
        Value::Long(x) => c.hcv.hcv_long = *x,
        Value::Double(x) => c.hcv.hcv_double = *x,
        Value::String(s) | Value::Char(s) => c.hcv.hcv_string = alloc_cstr(s.as_bytes())?,
        Value::Binary(b) | Value::ObjectId(b) => {
            c.hcv.hcv_bytearray = sys::hc_bytearray_t {
                len: b.len() as c_int,
                bytes: alloc_bytes(b)?,
            }
        }
        Value::Date(days) => {
            let civ = calendar::civil_from_days(*days);
            let mut t = sys::tm::default();
            t.tm_year = (civ.year - 1900) as c_int;
            t.tm_mon = civ.month as c_int - 1;
            t.tm_mday = civ.day as c_int;
            c.hcv.hcv_tm = t;
        }
        Value::Time(secs) => {
            c.hcv.hcv_timespec = sys::timespec {
                tv_sec: *secs,
                tv_nsec: 0,
            }
        }
        Value::Timestamp(ms) => {
            c.hcv.hcv_timespec = sys::timespec {
                tv_sec: ms.div_euclid(1000),
                tv_nsec: ms.rem_euclid(1000) * 1_000_000,
            }
        }
    }
    Ok(c)
}

/// Text of a C string value: UTF-8, else read as Latin-1.
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Days since the epoch of a `struct tm` date.
pub fn days_of(t: &sys::tm) -> Result<i64, String> {
    let month = u32::try_from(t.tm_mon + 1).ok().filter(|m| (1..=12).contains(m));
    let day = u32::try_from(t.tm_mday).ok();
    month
        .zip(day)
        .and_then(|(m, d)| calendar::days_from_civil(i64::from(t.tm_year) + 1900, m, d))
        .ok_or_else(|| {
            format!(
                "invalid date (tm_year {}, tm_mon {}, tm_mday {})",
                t.tm_year, t.tm_mon, t.tm_mday
            )
        })
}

/// Milliseconds since the epoch of a timespec.
pub fn ms_of(t: &sys::timespec) -> i64 {
    t.tv_sec
        .saturating_mul(1000)
        .saturating_add(t.tv_nsec / 1_000_000)
}

/// The engine value of a C value meant for a field of type `ty`: a
/// STRING value is decoded from its canonical form for a field of any
/// other type.
///
/// # Safety
/// The value's pointers are valid for its type (the NVR checked them).
pub unsafe fn c_to_value(v: &hc_value_t, ty: FieldType) -> Result<Value, String> {
    // SAFETY: the member matching the type is the one in use; pointers
    // valid per the contract.
    unsafe {
        Ok(match v.hcv_type {
            sys::HC_STRING_TYPE | sys::HC_CHAR_TYPE => {
                let bytes = std::ffi::CStr::from_ptr(v.hcv.hcv_string).to_bytes();
                if v.hcv_type == sys::HC_CHAR_TYPE {
                    Value::Char(text_of(bytes))
                } else {
                    let s = std::str::from_utf8(bytes)
                        .map_err(|_| "the string is not valid UTF-8".to_string())?;
                    match ty {
                        FieldType::String => Value::String(s.to_owned()),
                        FieldType::Char => Value::Char(s.to_owned()),
                        _ => Value::decode(ty, s).map_err(|e| e.to_string())?,
                    }
                }
            }
            sys::HC_LONG_TYPE => Value::Long(v.hcv.hcv_long),
            sys::HC_DOUBLE_TYPE => Value::Double(v.hcv.hcv_double),
            sys::HC_BINARY_TYPE | sys::HC_OBJECTID_TYPE => {
                let a = v.hcv.hcv_bytearray;
                let b = if a.len > 0 {
                    std::slice::from_raw_parts(a.bytes, a.len as usize).to_vec()
                } else {
                    Vec::new()
                };
                if v.hcv_type == sys::HC_BINARY_TYPE {
                    Value::Binary(b)
                } else {
                    Value::ObjectId(b)
                }
            }
            sys::HC_DATE_TYPE => Value::Date(days_of(&v.hcv.hcv_tm)?),
            sys::HC_TIME_TYPE => Value::Time(v.hcv.hcv_timespec.tv_sec),
            sys::HC_TIMESTAMP_TYPE => Value::Timestamp(ms_of(&v.hcv.hcv_timespec)),
            t => return Err(format!("unsupported value type {t}")),
        })
    }
}

/// The user fields of an NVR as engine values checked against `schema`
/// (by [`crate::engine::archive::check_fields`]): BAD_REQUEST naming the
/// field otherwise.
pub fn fields_of(
    n: &Nvr,
    schema: &crate::archive::schema::Schema,
) -> HcResult<Vec<(String, crate::archive::SqlValue)>> {
    let mut out = Vec::new();
    for e in n.entries.lock().iter() {
        let name = e.name.to_string_lossy().into_owned();
        let def: &FieldDef = schema
            .field(&name)
            .ok_or_else(|| err_msg(sys::HCERR_BAD_REQUEST, format!("no field {name:?} in the schema")))?;
        // SAFETY: the NVR checked the value's pointers when it was added.
        let v = unsafe { c_to_value(&e.value, def.ty) }
            .map_err(|m| err_msg(sys::HCERR_BAD_REQUEST, format!("field {name:?}: {m}")))?;
        out.push((name, v));
    }
    crate::engine::archive::check_fields(&out, schema)
        .map_err(|e| err_msg(sys::HCERR_BAD_REQUEST, e.to_string()))
}

/// The value of a name in `add_from_string` form, by the field type.
fn parse_from_string(def: &FieldDef, s: &str) -> HcResult<Value> {
    let bad = |m: String| err_msg(sys::HCERR_XML_MALFORMED_XML, format!("field {:?}: {m}", def.name));
    match def.ty {
        FieldType::Long => {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("{s:?} is not a long (digits only)")));
            }
            Value::decode(def.ty, s).map_err(|e| bad(e.to_string()))
        }
        FieldType::Double => {
            let t = s.trim_start();
            t.parse::<f64>()
                .map(Value::Double)
                .or_else(|_| Value::decode(def.ty, t))
                .map_err(|_| bad(format!("{s:?} is not a double")))
        }
        FieldType::Binary | FieldType::ObjectId => Value::decode(def.ty, s)
            .map_err(|e| err_msg(sys::HCERR_XML_PARSE_ERROR, format!("field {:?}: {e}", def.name))),
        _ => Value::decode(def.ty, s).map_err(|e| bad(e.to_string())),
    }
}

fn name_str<'a>(name: *mut c_char) -> HcResult<&'a str> {
    // SAFETY: name is NULL or a C string (caller's contract).
    let n = unsafe { c_str(name)? };
    n.to_str().map_err(|_| err(sys::HCERR_ILLEGAL_VALUE_FOR_METADATA))
}

// ---------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------

/// Registers a new NVR for a session's schema.
pub fn create(schema: Arc<SchemaC>, cap: usize) -> *mut c_void {
    NVRS.insert(Nvr::new(schema, cap)) as *mut c_void
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_create(
    session: *mut sys::hc_session_t,
    initsize: hc_long_t,
    nvrp: *mut *mut sys::hc_nvr_t,
) -> hcerr_t {
    guard("hc_nvr_create", || {
        let s = super::session::session(session)?;
        if nvrp.is_null() || initsize < 0 {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        let cap = if initsize == 0 {
            100
        } else {
            initsize.min(10_000) as usize
        };
        let p = create(Arc::clone(&s.schema), cap);
        // SAFETY: checked non-NULL.
        unsafe { put(nvrp, p) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_free(nvr: *mut sys::hc_nvr_t) -> hcerr_t {
    guard("hc_nvr_free", || {
        super::remove(&NVRS, nvr, sys::HCERR_INVALID_NVR, sys::HCERR_INVALID_NVR).map(drop)
    })
}

/// Adds a value, taking ownership of its string or byte buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_value(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: hc_value_t,
) -> hcerr_t {
    guard("hc_nvr_add_value", || {
        let n = super::nvr::nvr(nvr)?;
        n.add(name_str(name)?, value)
    })
}

fn add_copy(nvr: *mut c_void, name: *mut c_char, v: impl FnOnce() -> HcResult<Value>) -> HcResult {
    let n = super::nvr::nvr(nvr)?;
    let name = name_str(name)?;
    n.add_value(name, &v()?)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_long(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: hc_long_t,
) -> hcerr_t {
    guard("hc_nvr_add_long", || {
        add_copy(nvr, name, || Ok(Value::Long(value)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_double(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: f64,
) -> hcerr_t {
    guard("hc_nvr_add_double", || {
        add_copy(nvr, name, || Ok(Value::Double(value)))
    })
}

fn add_text(nvr: *mut c_void, name: *mut c_char, value: *mut c_char, ty: sys::hc_type_t) -> HcResult {
    let n = super::nvr::nvr(nvr)?;
    let name = name_str(name)?;
    // SAFETY: value is NULL or a C string.
    let s = unsafe { c_str(value)? };
    let mut c = zero_value(ty);
    c.hcv.hcv_string = alloc_cstr(s.to_bytes())?;
    n.add(name, c).inspect_err(|_| {
        // SAFETY: the copy was not taken.
        unsafe { free_value(&c) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_string(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut c_char,
) -> hcerr_t {
    guard("hc_nvr_add_string", || {
        add_text(nvr, name, value, sys::HC_STRING_TYPE)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_char(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut c_char,
) -> hcerr_t {
    guard("hc_nvr_add_char", || {
        add_text(nvr, name, value, sys::HC_CHAR_TYPE)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_binary(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    size: c_int,
    bytes: *mut u8,
) -> hcerr_t {
    guard("hc_nvr_add_binary", || {
        add_copy(nvr, name, || {
            if size < 1 || bytes.is_null() {
                return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
            }
            // SAFETY: bytes holds size bytes (caller's contract).
            Ok(Value::Binary(
                unsafe { std::slice::from_raw_parts(bytes, size as usize) }.to_vec(),
            ))
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_date(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut sys::tm,
) -> hcerr_t {
    guard("hc_nvr_add_date", || {
        let n = super::nvr::nvr(nvr)?;
        let name = name_str(name)?;
        // SAFETY: value is NULL or a valid tm.
        let t = unsafe { value.as_ref() }.ok_or_else(|| err(sys::HCERR_ILLEGAL_ARGUMENT))?;
        let mut c = zero_value(sys::HC_DATE_TYPE);
        c.hcv.hcv_tm = *t;
        n.add(name, c)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_time(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: sys::time_t,
) -> hcerr_t {
    guard("hc_nvr_add_time", || {
        let n = super::nvr::nvr(nvr)?;
        let mut c = zero_value(sys::HC_TIME_TYPE);
        c.hcv.hcv_timespec = sys::timespec {
            tv_sec: value,
            tv_nsec: 0,
        };
        n.add(name_str(name)?, c)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_timestamp(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut sys::timespec,
) -> hcerr_t {
    guard("hc_nvr_add_timestamp", || {
        let n = super::nvr::nvr(nvr)?;
        let name = name_str(name)?;
        // SAFETY: value is NULL or a valid timespec.
        let t = unsafe { value.as_ref() }.ok_or_else(|| err(sys::HCERR_ILLEGAL_ARGUMENT))?;
        let mut c = zero_value(sys::HC_TIMESTAMP_TYPE);
        c.hcv.hcv_timespec = *t;
        n.add(name, c)
    })
}

fn add_from_string(n: &Nvr, name: *mut c_char, value: *mut c_char) -> HcResult {
    let name = name_str(name)?;
    // SAFETY: value is NULL or a C string.
    let s = unsafe { c_str(value)? };
    let def = n.schema.schema.field(name).ok_or_else(|| {
        err_msg(
            sys::HCERR_ILLEGAL_VALUE_FOR_METADATA,
            format!("no field {name:?} in the schema"),
        )
    })?;
    let v = match def.ty {
        FieldType::String => Value::String(text_of(s.to_bytes())),
        FieldType::Char => Value::Char(text_of(s.to_bytes())),
        _ => {
            let text = s.to_str().map_err(|_| err(sys::HCERR_XML_MALFORMED_XML))?;
            parse_from_string(def, text)?
        }
    };
    n.add_value(name, &v)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_from_string(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut c_char,
) -> hcerr_t {
    guard("hc_nvr_add_from_string", || {
        add_from_string(&*super::nvr::nvr(nvr)?, name, value)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_count(nvr: *mut sys::hc_nvr_t, count: *mut hc_long_t) -> hcerr_t {
    guard("hc_nvr_get_count", || {
        let n = super::nvr::nvr(nvr)?;
        let c = n.entries.lock().len() as hc_long_t;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(count, c) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_value_at_index(
    nvr: *mut sys::hc_nvr_t,
    index: hc_long_t,
    name: *mut *mut c_char,
    value: *mut hc_value_t,
) -> hcerr_t {
    guard("hc_nvr_get_value_at_index", || {
        let n = super::nvr::nvr(nvr)?;
        if index < 0 {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        let es = n.entries.lock();
        let e = es
            .get(index as usize)
            .ok_or_else(|| err(sys::HCERR_NO_MORE_ATTRIBUTES))?;
        // SAFETY: out-pointers are NULL or writable; the pointers given
        // out stay owned by the NVR.
        unsafe {
            if !name.is_null() {
                put(name, e.name.as_ptr().cast_mut())?;
            }
            put(value, e.value)
        }
    })
}

/// The entry for `name`, if its type is one of `types`.
fn get_entry<T>(
    nvr: *mut c_void,
    name: *mut c_char,
    types: &[sys::hc_type_t],
    f: impl FnOnce(&hc_value_t) -> T,
) -> HcResult<T> {
    let n = super::nvr::nvr(nvr)?;
    let name = name_str(name)?;
    let es = n.entries.lock();
    let e = es
        .iter()
        .find(|e| e.name.as_bytes() == name.as_bytes())
        .ok_or_else(|| err_msg(sys::HCERR_NO_SUCH_ATTRIBUTE, format!("no value for {name:?}")))?;
    if !types.contains(&e.value.hcv_type) {
        return Err(err(sys::HCERR_ILLEGAL_VALUE_FOR_METADATA));
    }
    Ok(f(&e.value))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_string(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut sys::hc_string_t,
) -> hcerr_t {
    guard("hc_nvr_get_string", || {
        // SAFETY: the member matching the checked type.
        let p = get_entry(nvr, name, &[sys::HC_STRING_TYPE, sys::HC_CHAR_TYPE], |v| unsafe {
            v.hcv.hcv_string
        })?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(value, p) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_long(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut hc_long_t,
) -> hcerr_t {
    guard("hc_nvr_get_long", || {
        // SAFETY: the member matching the checked type.
        let x = get_entry(nvr, name, &[sys::HC_LONG_TYPE], |v| unsafe { v.hcv.hcv_long })?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(value, x) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_double(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut f64,
) -> hcerr_t {
    guard("hc_nvr_get_double", || {
        // SAFETY: the member matching the checked type.
        let x = get_entry(nvr, name, &[sys::HC_DOUBLE_TYPE], |v| unsafe { v.hcv.hcv_double })?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(value, x) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_binary(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    size: *mut c_int,
    bytes: *mut *mut u8,
) -> hcerr_t {
    guard("hc_nvr_get_binary", || {
        let types = [sys::HC_BINARY_TYPE, sys::HC_OBJECTID_TYPE];
        // SAFETY: the member matching the checked type.
        let a = get_entry(nvr, name, &types, |v| unsafe { v.hcv.hcv_bytearray })?;
        // SAFETY: out-pointers are NULL or writable.
        unsafe {
            put(size, a.len)?;
            put(bytes, a.bytes)
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_date(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut sys::tm,
) -> hcerr_t {
    guard("hc_nvr_get_date", || {
        // SAFETY: the member matching the checked type.
        let t = get_entry(nvr, name, &[sys::HC_DATE_TYPE], |v| unsafe { v.hcv.hcv_tm })?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(value, t) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_time(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut sys::time_t,
) -> hcerr_t {
    guard("hc_nvr_get_time", || {
        // SAFETY: the member matching the checked type.
        let t = get_entry(nvr, name, &[sys::HC_TIME_TYPE], |v| unsafe {
            v.hcv.hcv_timespec.tv_sec
        })?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(value, t) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_get_timestamp(
    nvr: *mut sys::hc_nvr_t,
    name: *mut c_char,
    value: *mut sys::timespec,
) -> hcerr_t {
    guard("hc_nvr_get_timestamp", || {
        // SAFETY: the member matching the checked type.
        let t = get_entry(nvr, name, &[sys::HC_TIMESTAMP_TYPE], |v| unsafe {
            v.hcv.hcv_timespec
        })?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(value, t) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_create_from_string_arrays(
    session: *mut sys::hc_session_t,
    nvrp: *mut *mut sys::hc_nvr_t,
    names: *mut *mut c_char,
    values: *mut *mut c_char,
    nitems: hc_long_t,
) -> hcerr_t {
    guard("hc_nvr_create_from_string_arrays", || {
        let s = super::session::session(session)?;
        if nvrp.is_null() || nitems < 0 || (nitems > 0 && (names.is_null() || values.is_null())) {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        // capacity as hc_nvr_create caps it: a huge nitems must not make
        // the allocation fail (an abort) before the arrays are read
        let n = Nvr::new(Arc::clone(&s.schema), (nitems as usize).min(10_000));
        for i in 0..nitems as usize {
            // SAFETY: both arrays hold nitems pointers (caller's contract).
            let (name, value) = unsafe { (*names.add(i), *values.add(i)) };
            add_from_string(&n, name, value).map_err(|e| match e.code {
                sys::HCERR_XML_MALFORMED_XML => err_msg(sys::HCERR_ILLEGAL_ARGUMENT, e.msg),
                _ => e,
            })?;
        }
        let p = NVRS.insert(n) as *mut c_void;
        // SAFETY: checked non-NULL.
        unsafe { put(nvrp, p) }
    })
}

/// C's `"%.17G"` of a double (1.23 -> "1.2299999999999999").
pub fn g17(x: f64) -> String {
    if x.is_nan() {
        return "NAN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "INF".into() } else { "-INF".into() };
    }
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    let e = format!("{x:.16e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}E{sign}{:02}", trim(mant), exp.abs())
    } else {
        trim(&format!("{x:.*}", (16 - exp) as usize))
    }
}

/// The C-side string form of a value (FACTS §1.4).
fn string_form(v: &hc_value_t) -> HcResult<Vec<u8>> {
    // SAFETY: the member matching the type is in use; pointers owned by
    // the NVR.
    unsafe {
        Ok(match v.hcv_type {
            sys::HC_STRING_TYPE | sys::HC_CHAR_TYPE => {
                std::ffi::CStr::from_ptr(v.hcv.hcv_string).to_bytes().to_vec()
            }
            sys::HC_DOUBLE_TYPE => g17(v.hcv.hcv_double).into_bytes(),
            sys::HC_LONG_TYPE => v.hcv.hcv_long.to_string().into_bytes(),
            _ => {
                let ty = match v.hcv_type {
                    sys::HC_BINARY_TYPE => FieldType::Binary,
                    sys::HC_OBJECTID_TYPE => FieldType::ObjectId,
                    sys::HC_DATE_TYPE => FieldType::Date,
                    sys::HC_TIME_TYPE => FieldType::Time,
                    _ => FieldType::Timestamp,
                };
                c_to_value(v, ty)
                    .map_err(|m| err_msg(sys::HCERR_ILLEGAL_VALUE_FOR_METADATA, m))?
                    .canonical()
                    .into_bytes()
            }
        })
    }
}

/// Consumes the NVR into two arrays of strings from the allocator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_convert_to_string_arrays(
    nvr: *mut sys::hc_nvr_t,
    namesp: *mut *mut *mut c_char,
    valuesp: *mut *mut *mut c_char,
    nitemsp: *mut c_int,
) -> hcerr_t {
    guard("hc_nvr_convert_to_string_arrays", || {
        super::nvr::nvr(nvr)?;
        if namesp.is_null() || valuesp.is_null() || nitemsp.is_null() {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        let n = super::remove(&NVRS, nvr, sys::HCERR_INVALID_NVR, sys::HCERR_INVALID_NVR)?;
        let es = n.entries.lock();
        let mut pairs = Vec::with_capacity(es.len());
        for e in es.iter() {
            pairs.push((e.name.as_bytes().to_vec(), string_form(&e.value)?));
        }
        let size = pairs.len().max(1) * std::mem::size_of::<*mut c_char>();
        let names = alloc(size).cast::<*mut c_char>();
        let values = alloc(size).cast::<*mut c_char>();
        let free_all = |k: usize| {
            // SAFETY: the first k slots of each array were filled by us.
            unsafe {
                for i in 0..k {
                    dealloc((*names.add(i)).cast());
                    dealloc((*values.add(i)).cast());
                }
                dealloc(names.cast());
                dealloc(values.cast());
            }
        };
        if names.is_null() || values.is_null() {
            free_all(0);
            return Err(err(sys::HCERR_OOM));
        }
        for (i, (name, value)) in pairs.iter().enumerate() {
            let (a, b) = (alloc_cstr(name), alloc_cstr(value));
            // SAFETY: slot i of arrays sized for pairs.len().
            unsafe {
                *names.add(i) = *a.as_ref().unwrap_or(&std::ptr::null_mut());
                *values.add(i) = *b.as_ref().unwrap_or(&std::ptr::null_mut());
            }
            if a.is_err() || b.is_err() {
                free_all(i + 1);
                return Err(err(sys::HCERR_OOM));
            }
        }
        // SAFETY: out-pointers checked non-NULL.
        unsafe {
            *namesp = names;
            *valuesp = values;
            *nitemsp = pairs.len() as c_int;
        }
        Ok(())
    })
}

/// `hc_nvr_add_byte` (defined by the original, in no header).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_nvr_add_byte(
    _nvr: *mut sys::hc_nvr_t,
    _name: *mut c_char,
    _value: sys::hc_byte_t,
) -> hcerr_t {
    guard("hc_nvr_add_byte", || {
        Err(err(sys::HCERR_ILLEGAL_VALUE_FOR_METADATA))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn g17_is_printf_percent_17g() {
        // glibc's printf("%.17G", 1.23) is "1.23" (the 18th digit rounds up).
        assert_eq!(super::g17(1.23), "1.23");
        assert_eq!(super::g17(0.1), "0.10000000000000001");
        assert_eq!(super::g17(1.0 / 3.0), "0.33333333333333331");
        assert_eq!(super::g17(0.5), "0.5");
        assert_eq!(super::g17(1e20), "1E+20");
        assert_eq!(super::g17(-1.5e-7), "-1.4999999999999999E-07");
        assert_eq!(super::g17(100.0), "100");
    }
}
