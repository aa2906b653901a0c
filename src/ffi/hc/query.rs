//! Queries, prepared statements and result sets over the query
//! translator (`archive::query`): pages are fetched transparently with
//! `Plan::bind`'s paging cookie (the last OID of the previous page).

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use crate::archive::SqlValue;
use parking_lot::Mutex;

use super::nvr::{self, days_of, ms_of};
use super::session::Session;
use super::sys::{self, hc_long_t, hcerr_t};
use super::{HcResult, PSTMTS, RSETS, c_str, err, err_msg, guard, lookup, put, remove};
use crate::archive::query::{Plan, translate_for};
use crate::archive::value::Value;

/// A prepared statement: the query and its bindings by number.
pub struct Pstmt {
    session: Arc<Session>,
    query: String,
    bindings: Mutex<Vec<(usize, Value)>>,
}

struct Paging {
    after: String,
    rows: VecDeque<Vec<SqlValue>>,
    done: bool,
    integrity: i64,
}

/// A result set.
pub struct Rset {
    session: Arc<Session>,
    plan: Plan,
    bindings: Vec<(usize, Value)>,
    page: u32,
    selects: bool,
    paging: Mutex<Paging>,
}

impl Rset {
    /// Fetches the next page.
    fn fetch(&self, p: &mut Paging) -> HcResult {
        let (sql, params) = self
            .plan
            .bind(&self.bindings, &p.after, self.page)
            .map_err(|e| err_msg(sys::HCERR_BAD_REQUEST, e.to_string()))?;
        let rows = self.session.server.run_object_query(&sql, &params)?;
        let t = self.session.server.query_integrity_time()? as i64;
        p.integrity = p.integrity.min(t);
        if rows.len() < self.page as usize {
            p.done = true;
        }
        if let Some(SqlValue::Text(last)) = rows.last().and_then(|r| r.first()) {
            p.after = last.clone();
        }
        p.rows.extend(rows);
        Ok(())
    }
}

fn selects_of<'a>(selects: *mut sys::hc_string_t, n: c_int) -> HcResult<Option<Vec<&'a str>>> {
    if selects.is_null() {
        return Ok(None);
    }
    if n < 1 {
        return Err(err(sys::HCERR_MISSING_SELECT_CLAUSE));
    }
    let mut out = Vec::with_capacity((n as usize).min(64)); // not n: no allocation failure (abort)
    for i in 0..n as usize {
        // SAFETY: the array holds n strings (caller's contract).
        let s = unsafe { c_str(*selects.add(i))? };
        out.push(
            s.to_str()
                .map_err(|_| err_msg(sys::HCERR_BAD_REQUEST, "a select name is not UTF-8"))?,
        );
    }
    Ok(Some(out))
}

fn run_query(
    s: &Arc<Session>,
    query: &str,
    bindings: Vec<(usize, Value)>,
    selects: *mut sys::hc_string_t,
    n_selects: c_int,
    results_per_fetch: c_int,
    rsetp: *mut *mut sys::hc_query_result_set_t,
) -> HcResult {
    if rsetp.is_null() || results_per_fetch < 1 {
        return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
    }
    let sel = selects_of(selects, n_selects)?;
    let names = sel.clone().unwrap_or_default();
    let plan = translate_for(s.server.catalog_dialect(), query, &names, &s.schema.schema)
        .map_err(|e| err_msg(sys::HCERR_BAD_REQUEST, e.to_string()))?;
    let rs = Rset {
        session: Arc::clone(s),
        plan,
        bindings,
        page: results_per_fetch as u32,
        selects: sel.is_some(),
        paging: Mutex::new(Paging {
            after: String::new(),
            rows: VecDeque::new(),
            done: false,
            integrity: i64::MAX,
        }),
    };
    // The first page now, so errors surface from the query call.
    rs.fetch(&mut rs.paging.lock())?;
    let id = RSETS.insert(rs);
    // SAFETY: checked non-NULL.
    unsafe { put(rsetp, id as *mut c_void) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_query_ez(
    session: *mut sys::hc_session_t,
    query: sys::hc_string_t,
    selects: *mut sys::hc_string_t,
    n_selects: c_int,
    results_per_fetch: c_int,
    rsetp: *mut *mut sys::hc_query_result_set_t,
) -> hcerr_t {
    guard("hc_query_ez", || {
        let s = super::session::session(session)?;
        let res = (|| {
            // SAFETY: query is NULL or a C string.
            let q = unsafe { c_str(query)? };
            let q = q
                .to_str()
                .map_err(|_| err_msg(sys::HCERR_BAD_REQUEST, "the query is not UTF-8"))?;
            run_query(&s, q, Vec::new(), selects, n_selects, results_per_fetch, rsetp)
        })();
        s.record(res)
    })
}

/// Legal holds are a compliance feature we do not have.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_query_holds_ez(
    session: *mut sys::hc_session_t,
    _query: sys::hc_string_t,
    _max: c_int,
    _rsetp: *mut *mut sys::hc_query_result_set_t,
) -> hcerr_t {
    guard("hc_query_holds_ez", || {
        super::session::session(session)?;
        Err(err(sys::HCERR_NOT_YET_IMPLEMENTED))
    })
}

fn pstmt(p: *mut c_void) -> HcResult<Arc<Pstmt>> {
    lookup(&PSTMTS, p, sys::HCERR_NULL_HANDLE, sys::HCERR_INVALID_HANDLE)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_create(
    session: *mut sys::hc_session_t,
    query: sys::hc_string_t,
    pstmtp: *mut *mut sys::hc_pstmt_t,
) -> hcerr_t {
    guard("hc_pstmt_create", || {
        let s = super::session::session(session)?;
        // SAFETY: query is NULL or a C string.
        let q = unsafe { c_str(query)? };
        if pstmtp.is_null() {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        let id = PSTMTS.insert(Pstmt {
            session: s,
            query: q.to_string_lossy().into_owned(),
            bindings: Mutex::new(Vec::new()),
        });
        // SAFETY: checked non-NULL.
        unsafe { put(pstmtp, id as *mut c_void) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_free(p: *mut sys::hc_pstmt_t) -> hcerr_t {
    guard("hc_pstmt_free", || {
        remove(&PSTMTS, p, sys::HCERR_NULL_HANDLE, sys::HCERR_INVALID_HANDLE).map(drop)
    })
}

fn bind(p: *mut c_void, which: c_int, v: impl FnOnce() -> HcResult<Value>) -> HcResult {
    let ps = pstmt(p)?;
    if which < 1 {
        return Err(err_msg(
            sys::HCERR_ILLEGAL_ARGUMENT,
            format!("binding index {which}: they start at 1"),
        ));
    }
    let v = v()?;
    let mut b = ps.bindings.lock();
    b.retain(|(n, _)| *n != which as usize);
    b.push((which as usize, v));
    Ok(())
}

fn text(value: *mut c_char) -> HcResult<String> {
    // SAFETY: value is NULL or a C string.
    let s = unsafe { c_str(value)? };
    Ok(match s.to_str() {
        Ok(t) => t.to_owned(),
        Err(_) => s.to_bytes().iter().map(|&b| char::from(b)).collect(),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_string(
    p: *mut sys::hc_pstmt_t,
    which: c_int,
    value: sys::hc_string_t,
) -> hcerr_t {
    guard("hc_pstmt_set_string", || {
        bind(p, which, || Ok(Value::String(text(value)?)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_char(
    p: *mut sys::hc_pstmt_t,
    which: c_int,
    value: sys::hc_string_t,
) -> hcerr_t {
    guard("hc_pstmt_set_char", || {
        bind(p, which, || Ok(Value::Char(text(value)?)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_double(p: *mut sys::hc_pstmt_t, which: c_int, value: f64) -> hcerr_t {
    guard("hc_pstmt_set_double", || {
        bind(p, which, || Ok(Value::Double(value)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_long(
    p: *mut sys::hc_pstmt_t,
    which: c_int,
    value: hc_long_t,
) -> hcerr_t {
    guard("hc_pstmt_set_long", || bind(p, which, || Ok(Value::Long(value))))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_date(
    p: *mut sys::hc_pstmt_t,
    which: c_int,
    value: *mut sys::tm,
) -> hcerr_t {
    guard("hc_pstmt_set_date", || {
        bind(p, which, || {
            // SAFETY: value is NULL or a valid tm.
            let t = unsafe { value.as_ref() }.ok_or_else(|| err(sys::HCERR_ILLEGAL_ARGUMENT))?;
            days_of(t)
                .map(Value::Date)
                .map_err(|m| err_msg(sys::HCERR_ILLEGAL_ARGUMENT, m))
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_time(
    p: *mut sys::hc_pstmt_t,
    which: c_int,
    value: sys::time_t,
) -> hcerr_t {
    guard("hc_pstmt_set_time", || bind(p, which, || Ok(Value::Time(value))))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_timestamp(
    p: *mut sys::hc_pstmt_t,
    which: c_int,
    value: *mut sys::timespec,
) -> hcerr_t {
    guard("hc_pstmt_set_timestamp", || {
        bind(p, which, || {
            // SAFETY: value is NULL or a valid timespec.
            let t = unsafe { value.as_ref() }.ok_or_else(|| err(sys::HCERR_ILLEGAL_ARGUMENT))?;
            Ok(Value::Timestamp(ms_of(t)))
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_set_binary(
    p: *mut sys::hc_pstmt_t,
    which: c_int,
    bytes: *mut u8,
    len: c_int,
) -> hcerr_t {
    guard("hc_pstmt_set_binary", || {
        bind(p, which, || {
            if len < 1 || bytes.is_null() {
                return Err(err(sys::HCERR_BAD_REQUEST));
            }
            // SAFETY: bytes holds len bytes (caller's contract).
            Ok(Value::Binary(
                unsafe { std::slice::from_raw_parts(bytes, len as usize) }.to_vec(),
            ))
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_pstmt_query_ez(
    p: *mut sys::hc_pstmt_t,
    selects: *mut sys::hc_string_t,
    n_selects: c_int,
    results_per_fetch: c_int,
    rsetp: *mut *mut sys::hc_query_result_set_t,
) -> hcerr_t {
    guard("hc_pstmt_query_ez", || {
        let ps = pstmt(p)?;
        let bindings = ps.bindings.lock().clone();
        let res = run_query(
            &ps.session,
            &ps.query,
            bindings,
            selects,
            n_selects,
            results_per_fetch,
            rsetp,
        );
        ps.session.record(res)
    })
}

fn rset(p: *mut c_void) -> HcResult<Arc<Rset>> {
    lookup(
        &RSETS,
        p,
        sys::HCERR_INVALID_RESULT_SET,
        sys::HCERR_INVALID_RESULT_SET,
    )
}

/// The NVR of a select row: system.object_id, then the selected fields.
fn row_nvr(rs: &Rset, oid: &str, row: Vec<SqlValue>) -> HcResult<*mut c_void> {
    let s = &rs.session;
    let n = nvr::Nvr::new(Arc::clone(&s.schema), row.len());
    let oid_bytes = crate::engine::archive::canonical_oid(oid).ok().map(|o| {
        (0..30)
            .map(|k| u8::from_str_radix(&o[2 * k..2 * k + 2], 16).unwrap_or(0))
            .collect()
    });
    if let Some(b) = oid_bytes {
        n.add_value("system.object_id", &Value::ObjectId(b))?;
    }
    for (col, v) in rs.plan.selects().iter().zip(row.into_iter().skip(1)) {
        let v = Value::from_sql(col.ty, v)
            .map_err(|e| err_msg(sys::HCERR_INTERNAL_SERVER_ERROR, e.to_string()))?;
        n.add_value(&col.name, &v)?;
    }
    Ok(super::NVRS.insert(n) as *mut c_void)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_qrs_next_ez(
    rset: *mut sys::hc_query_result_set_t,
    oid: *mut sys::hc_oid,
    nvrp: *mut *mut sys::hc_nvr_t,
    finishedp: *mut c_int,
) -> hcerr_t {
    guard("hc_qrs_next_ez", || {
        let rs = super::query::rset(rset)?;
        if oid.is_null() || finishedp.is_null() {
            return Err(err(sys::HCERR_ILLEGAL_ARGUMENT));
        }
        let res = (|| {
            let mut p = rs.paging.lock();
            if p.rows.is_empty() && !p.done {
                rs.fetch(&mut p)?;
            }
            let Some(mut row) = p.rows.pop_front() else {
                // SAFETY: checked non-NULL.
                unsafe {
                    *finishedp = 1;
                    if !nvrp.is_null() {
                        *nvrp = std::ptr::null_mut();
                    }
                }
                return Ok(());
            };
            drop(p);
            let o = match row.first() {
                Some(SqlValue::Text(t)) => t.clone(),
                _ => return Err(err(sys::HCERR_INTERNAL_SERVER_ERROR)),
            };
            // SAFETY: hc_oid is 61 writable chars.
            let out = unsafe { &mut *oid };
            out.fill(0);
            for (d, b) in out.iter_mut().zip(o.bytes().take(60)) {
                *d = b as c_char;
            }
            let n = if rs.selects {
                let p = row_nvr(&rs, &o, std::mem::take(&mut row))?;
                if nvrp.is_null() {
                    let _ = super::NVRS.remove(p as usize);
                    std::ptr::null_mut()
                } else {
                    p
                }
            } else {
                std::ptr::null_mut()
            };
            // SAFETY: checked non-NULL.
            unsafe {
                if !nvrp.is_null() {
                    *nvrp = n;
                }
                *finishedp = 0;
            }
            Ok(())
        })();
        rs.session.record(res)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_qrs_is_query_complete(
    rset: *mut sys::hc_query_result_set_t,
    completep: *mut c_int,
) -> hcerr_t {
    guard("hc_qrs_is_query_complete", || {
        let rs = super::query::rset(rset)?;
        let t = rs.paging.lock().integrity;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(completep, c_int::from(t > 0)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_qrs_get_query_integrity_time(
    rset: *mut sys::hc_query_result_set_t,
    timep: *mut hc_long_t,
) -> hcerr_t {
    guard("hc_qrs_get_query_integrity_time", || {
        let rs = super::query::rset(rset)?;
        let t = rs.paging.lock().integrity;
        // SAFETY: out-pointer is NULL or writable.
        unsafe { put(timep, t) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn hc_qrs_free(rset: *mut sys::hc_query_result_set_t) -> hcerr_t {
    guard("hc_qrs_free", || {
        remove(
            &RSETS,
            rset,
            sys::HCERR_INVALID_RESULT_SET,
            sys::HCERR_INVALID_RESULT_SET,
        )
        .map(drop)
    })
}
