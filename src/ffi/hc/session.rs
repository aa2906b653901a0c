//! Sessions (a server directory opened with its schema) and the schema
//! accessors.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use parking_lot::Mutex;

use super::sys::{self, hc_long_t, hc_type_t, hcerr_t};
use super::{HcResult, SCHEMAS, SESSIONS, c_str, err, err_msg, guard, lookup, put, remove};
use crate::archive::FieldType;
use crate::archive::schema::{DEFAULT_LENGTH, Schema};
use crate::engine::Server;
use crate::engine::archive::DEFAULT_PORT;
use crate::engine::cred::Access;

/// A session's schema snapshot with C copies of the field names.
pub struct SchemaC {
    pub schema: Schema,
    pub names: Vec<CString>,
    /// Its handle value (the `hc_schema_t *` given out).
    pub id: Mutex<usize>,
}

/// An open session.
pub struct Session {
    pub server: Server,
    pub schema: Arc<SchemaC>,
    host: CString,
    port: i32,
    status: Mutex<(i32, CString)>,
}

impl Session {
    /// Records the outcome of an operation as the session's status
    /// (HTTP-style: 200, 400, 404, 500) and passes it on.
    pub fn record<T>(&self, res: HcResult<T>) -> HcResult<T> {
        let (code, text) = match &res {
            Ok(_) => (200, String::new()),
            Err(e) => (
                match e.code {
                    sys::HCERR_NO_SUCH_OBJECT => 404,
                    sys::HCERR_INTERNAL_SERVER_ERROR => 500,
                    _ => 400,
                },
                e.msg.clone(),
            ),
        };
        *self.status.lock() = (code, CString::new(text.replace('\0', " ")).unwrap_or_default());
        res
    }
}

/// The session behind a handle.
pub fn session(p: *mut c_void) -> HcResult<Arc<Session>> {
    lookup(&SESSIONS, p, sys::HCERR_NULL_SESSION, sys::HCERR_INVALID_SESSION)
        .inspect(|s| crate::logging::set_current(s.server.log()))
}

/// Runs an operation on a session and records its outcome as the status.
pub fn on_session(p: *mut c_void, body: impl FnOnce(&Session) -> HcResult) -> HcResult {
    let s = session(p)?;
    s.record(body(&s))
}

/// The C type of a schema type.
pub fn hc_type(t: FieldType) -> hc_type_t {
    match t {
        FieldType::Long => sys::HC_LONG_TYPE,
        FieldType::Double => sys::HC_DOUBLE_TYPE,
        FieldType::String => sys::HC_STRING_TYPE,
        FieldType::Char => sys::HC_CHAR_TYPE,
        FieldType::Binary => sys::HC_BINARY_TYPE,
        FieldType::Date => sys::HC_DATE_TYPE,
        FieldType::Time => sys::HC_TIME_TYPE,
        FieldType::Timestamp => sys::HC_TIMESTAMP_TYPE,
        FieldType::ObjectId => sys::HC_OBJECTID_TYPE,
    }
}

fn open(host: &[u8], port: i32) -> HcResult<Session> {
    let path = crate::engine::names::server_dir(host)
        .map_err(|e| err_msg(sys::HCERR_CONNECTION_FAILED, format!("host: {e}")))?;
    let dir = path.to_str().unwrap_or_default();
    if !path.is_absolute() {
        return Err(err_msg(
            sys::HCERR_CONNECTION_FAILED,
            format!("{dir:?}: the host must be an absolute server directory"),
        ));
    }
    let conn = |e: crate::engine::Error| err_msg(sys::HCERR_CONNECTION_FAILED, e.to_string());
    // the 5800 API cannot pass credentials: a server that has them refuses it
    let server = Server::open_existing_as(path, &Access::Client(None)).map_err(|e| match e {
        crate::engine::Error::Auth => err_msg(
            sys::HCERR_CONNECTION_FAILED,
            format!("{dir}: the server requires credentials, which the 5800 API cannot pass"),
        ),
        e => conn(e),
    })?;
    let want = if port == -1 { DEFAULT_PORT } else { port };
    let have = server.archive_port().map_err(conn)?;
    if want != have {
        return Err(err_msg(
            sys::HCERR_CONNECTION_FAILED,
            format!("{dir}: the server's archive port is {have}, not {want}"),
        ));
    }
    let schema = server
        .archive_schema()
        .map_err(|e| err_msg(sys::HCERR_INVALID_SCHEMA, e.to_string()))?;
    let names = schema
        .fields()
        .iter()
        .map(|f| CString::new(f.name.as_str()).unwrap_or_default())
        .collect();
    let schema = Arc::new(SchemaC {
        schema,
        names,
        id: Mutex::new(0),
    });
    Ok(Session {
        server,
        schema,
        host: CString::new(host).unwrap_or_default(),
        port: want,
        status: Mutex::new((200, CString::default())),
    })
}

/// Opens a session on the server directory `host`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_session_create_ez(
    host: *mut c_char,
    port: i32,
    sessionp: *mut *mut sys::hc_session_t,
) -> hcerr_t {
    guard("hc_session_create_ez", || {
        // SAFETY: sessionp is NULL or writable (caller's contract).
        unsafe { put(sessionp, std::ptr::null_mut())? };
        // SAFETY: host is NULL or a C string.
        let host = unsafe { c_str(host)? };
        super::ensure_init();
        let s = open(host.to_bytes(), port)?;
        let schema = Arc::clone(&s.schema);
        let sid = SCHEMAS.insert(Arc::clone(&schema));
        *schema.id.lock() = sid;
        let id = SESSIONS.insert(s);
        // SAFETY: checked above.
        unsafe { put(sessionp, id as *mut sys::hc_session_t) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_session_free(session: *mut sys::hc_session_t) -> hcerr_t {
    guard("hc_session_free", || {
        let s = remove(
            &SESSIONS,
            session,
            sys::HCERR_NULL_SESSION,
            sys::HCERR_INVALID_SESSION,
        )?;
        let sid = *s.schema.id.lock();
        let _ = SCHEMAS.remove(sid);
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_session_get_status(
    session: *mut sys::hc_session_t,
    response_code: *mut i32,
    errstr: *mut *mut c_char,
) -> hcerr_t {
    guard("hc_session_get_status", || {
        let s = super::session::session(session)?;
        let st = s.status.lock();
        // SAFETY: out-pointers are NULL or writable. The text stays valid
        // until the next operation on the session replaces it.
        unsafe {
            put(response_code, st.0)?;
            put(errstr, st.1.as_ptr().cast_mut())
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_session_get_schema(
    session: *mut sys::hc_session_t,
    schema: *mut *mut sys::hc_schema_t,
) -> hcerr_t {
    guard("hc_session_get_schema", || {
        let s = super::session::session(session)?;
        let id = *s.schema.id.lock();
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(schema, id as *mut sys::hc_schema_t) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_session_get_host(
    session: *mut sys::hc_session_t,
    host: *mut *mut c_char,
    port: *mut i32,
) -> hcerr_t {
    guard("hc_session_get_host", || {
        let s = super::session::session(session)?;
        // SAFETY: out-pointers are NULL or writable; the host string is
        // owned by the session.
        unsafe {
            put(host, s.host.as_ptr().cast_mut())?;
            put(port, s.port)
        }
    })
}

/// The archive is the session itself (only `hcoa_*` calls would use it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_session_get_archive(
    session: *mut sys::hc_session_t,
    archive: *mut *mut sys::hc_archive_t,
) -> hcerr_t {
    guard("hc_session_get_archive", || {
        super::session::session(session)?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(archive, session) }
    })
}

/// An embedded engine has no connection: 0 and 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_session_get_platform_result(
    session: *mut sys::hc_session_t,
    connect_errno: *mut i32,
    platform_result: *mut i32,
) -> hcerr_t {
    guard("hc_session_get_platform_result", || {
        super::session::session(session)?;
        // SAFETY: out-pointers are NULL or writable.
        unsafe {
            put(connect_errno, 0)?;
            put(platform_result, 0)
        }
    })
}

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

// The handle table holds an Arc per entry; the schema is an Arc of its own
// because sessions share it with the table.
#[allow(clippy::redundant_allocation)]
fn schema_of(p: *mut c_void) -> HcResult<Arc<Arc<SchemaC>>> {
    lookup(&SCHEMAS, p, sys::HCERR_INVALID_SCHEMA, sys::HCERR_INVALID_SCHEMA)
}

fn field_of(sch: &SchemaC, name: *mut c_char) -> HcResult<&crate::archive::FieldDef> {
    // SAFETY: name is NULL or a C string.
    let name = unsafe { c_str(name)? };
    if sch.schema.is_empty() {
        return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
    }
    let name = name
        .to_str()
        .map_err(|_| err(sys::HCERR_ILLEGAL_VALUE_FOR_METADATA))?;
    sch.schema.field(name).ok_or_else(|| {
        err_msg(
            sys::HCERR_ILLEGAL_VALUE_FOR_METADATA,
            format!("no field {name:?}"),
        )
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_schema_get_type(
    schema: *mut sys::hc_schema_t,
    name: *mut c_char,
    ty: *mut hc_type_t,
) -> hcerr_t {
    guard("hc_schema_get_type", || {
        let sch = schema_of(schema)?;
        let f = field_of(&sch, name)?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(ty, hc_type(f.ty)) }
    })
}

/// Declared length of a string, char or binary field; -1 for the others.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_schema_get_length(
    schema: *mut sys::hc_schema_t,
    name: *mut c_char,
    length: *mut i32,
) -> hcerr_t {
    guard("hc_schema_get_length", || {
        let sch = schema_of(schema)?;
        let f = field_of(&sch, name)?;
        let len = match f.ty {
            FieldType::String | FieldType::Char | FieldType::Binary => {
                f.length.unwrap_or(DEFAULT_LENGTH) as i32
            }
            _ => -1,
        };
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(length, len) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_schema_get_count(
    schema: *mut sys::hc_schema_t,
    count: *mut hc_long_t,
) -> hcerr_t {
    guard("hc_schema_get_count", || {
        let sch = schema_of(schema)?;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(count, sch.schema.len() as hc_long_t) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_schema_get_type_at_index(
    schema: *mut sys::hc_schema_t,
    index: hc_long_t,
    name: *mut *mut c_char,
    ty: *mut hc_type_t,
) -> hcerr_t {
    guard("hc_schema_get_type_at_index", || {
        let sch = schema_of(schema)?;
        let i = usize::try_from(index)
            .ok()
            .filter(|&i| i < sch.schema.len())
            .ok_or_else(|| err(sys::HCERR_ILLEGAL_ARGUMENT))?;
        // SAFETY: out-pointers are NULL or writable; the name is owned by
        // the schema.
        unsafe {
            put(name, sch.names[i].as_ptr().cast_mut())?;
            put(ty, hc_type(sch.schema.fields()[i].ty))
        }
    })
}
