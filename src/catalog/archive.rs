//! SQL for archive objects (metadata records) and their indexed fields.

use super::backend::{Dialect, SqlResult, ValRef};
use super::conn::{FromCol, OptionalExtension, Row, ToVal, params, params_from_iter};

use super::{Conn, Error, Result, Tx, i, u};
use crate::archive::SqlValue;

/// One `archive_objects` row.
#[derive(Clone, Debug)]
pub struct ObjectRow {
    pub oid: String,
    pub image_id: i64,
    pub ctime_ms: u64,
    pub indexed: bool,
    pub pending: Option<String>,
}

fn object_from_row(r: &Row<'_>) -> SqlResult<ObjectRow> {
    Ok(ObjectRow {
        oid: r.get(0)?,
        image_id: r.get(1)?,
        ctime_ms: u(r.get(2)?),
        indexed: r.get::<_, i64>(3)? != 0,
        pending: r.get(4)?,
    })
}

/// Records a metadata record whose fields are still to be indexed.
///
/// # Errors
/// Catalog errors.
pub fn insert_object(tx: &Tx<'_>, oid: &str, image_id: i64, ctime_ms: u64, pending: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO archive_objects (oid, image_id, ctime_ms, indexed, pending) VALUES (?1, ?2, ?3, 0, ?4)",
        params![oid, image_id, i(ctime_ms), pending],
    )?;
    Ok(())
}

/// The record with this OID.
///
/// # Errors
/// Catalog errors.
pub fn object(conn: &Conn, oid: &str) -> Result<Option<ObjectRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT oid, image_id, ctime_ms, indexed, pending FROM archive_objects WHERE oid = ?1",
        )?
        .query_row([oid], object_from_row)
        .optional()?)
}

/// The records of one data image.
///
/// # Errors
/// Catalog errors.
pub fn objects_of_image(conn: &Conn, image_id: i64) -> Result<Vec<ObjectRow>> {
    let mut st = conn.prepare_cached(
        "SELECT oid, image_id, ctime_ms, indexed, pending FROM archive_objects WHERE image_id = ?1",
    )?;
    let rows = st
        .query_map([image_id], object_from_row)?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Writes a record's field rows and marks it indexed.
///
/// # Errors
/// Catalog errors.
pub fn index_object(tx: &Tx<'_>, oid: &str, fields: &[(String, SqlValue)]) -> Result<()> {
    tx.execute("DELETE FROM object_fields WHERE oid = ?1", [oid])?;
    let mut rows: Vec<[SqlValue; 7]> = Vec::with_capacity(fields.len());
    for (name, v) in fields {
        let (mut a, mut b, mut c, mut d) = (SqlValue::Null, SqlValue::Null, SqlValue::Null, SqlValue::Null);
        let mut bits = SqlValue::Null;
        match v {
            SqlValue::Integer(_) => a = v.clone(),
            SqlValue::Real(x) => {
                b = v.clone();
                // SQLite stores NaN as NULL and -0.0 as 0: keep the exact bits
                if x.is_nan() || (*x == 0.0 && x.is_sign_negative()) {
                    bits = SqlValue::Blob(x.to_le_bytes().to_vec());
                }
            }
            SqlValue::Text(_) => c = v.clone(),
            SqlValue::Blob(_) => d = v.clone(),
            SqlValue::Null => continue,
        }
        rows.push([
            SqlValue::Text(oid.to_owned()),
            SqlValue::Text(name.clone()),
            a,
            b,
            c,
            d,
            bits,
        ]);
    }
    // several rows to a statement (a round trip each on PostgreSQL)
    let mut rest = &rows[..];
    for n in super::batch_sizes(rows.len()) {
        let (now, later) = rest.split_at(n);
        rest = later;
        let mut st = tx.prepare_cached(&format!(
            "INSERT INTO object_fields (oid, name, v_int, v_real, v_text, v_blob, v_bits) VALUES {}",
            super::values_list(7, n)
        ))?;
        st.execute(params_from_iter(
            now.iter().flat_map(|r| r.iter().map(ToVal::to_val)),
        ))?;
    }
    tx.execute(
        "UPDATE archive_objects SET indexed = 1, pending = NULL WHERE oid = ?1",
        [oid],
    )?;
    Ok(())
}

/// A record's indexed field rows: (name, value of its set column; for a
/// double REAL cannot hold, its 8-byte `v_bits`).
///
/// # Errors
/// Catalog errors.
pub fn fields(conn: &Conn, oid: &str) -> Result<Vec<(String, SqlValue)>> {
    // The set column of each row, in the order the fields were written
    // (PostgreSQL's coalesce needs one type: the five come back apart).
    let mut st = conn.prepare_cached(match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT name, v_int, v_bits, v_real, v_text, v_blob FROM object_fields WHERE oid = ?1 ORDER BY rowid"
        }
        Dialect::Postgres => {
            "SELECT name, v_int, v_bits, v_real, v_text, v_blob FROM object_fields WHERE oid = ?1 ORDER BY seq"
        }
    })?;
    let rows = st
        .query_map([oid], |r| {
            let mut v = SqlValue::Null;
            for k in 1..=5 {
                v = r.get(k)?;
                if v != SqlValue::Null {
                    break;
                }
            }
            Ok((r.get(0)?, v))
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Deletes a record and its fields; returns its data image id.
///
/// # Errors
/// [`Error::NoImage`] if there is no such record; catalog errors.
pub fn delete_object(tx: &Tx<'_>, oid: &str) -> Result<i64> {
    let image_id: Option<i64> = tx
        .query_row(
            "DELETE FROM archive_objects WHERE oid = ?1 RETURNING image_id",
            [oid],
            |r| r.get(0),
        )
        .optional()?;
    let image_id = image_id.ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
    tx.execute("DELETE FROM object_fields WHERE oid = ?1", [oid])?;
    Ok(image_id)
}

/// Deletes every record of a data image (the image itself is going).
///
/// # Errors
/// Catalog errors.
pub fn delete_objects_of_image(tx: &Tx<'_>, image_id: i64) -> Result<()> {
    tx.execute(
        "DELETE FROM object_fields WHERE oid IN (SELECT oid FROM archive_objects WHERE image_id = ?1)",
        [image_id],
    )?;
    tx.execute("DELETE FROM archive_objects WHERE image_id = ?1", [image_id])?;
    Ok(())
}

/// Up to `limit` records not yet indexed, oldest first.
///
/// # Errors
/// Catalog errors.
pub fn unindexed(conn: &Conn, limit: usize) -> Result<Vec<ObjectRow>> {
    let mut st = conn.prepare_cached(
        "SELECT oid, image_id, ctime_ms, indexed, pending FROM archive_objects WHERE indexed = 0
         ORDER BY ctime_ms LIMIT ?1",
    )?;
    let rows = st
        .query_map([i(limit as u64)], object_from_row)?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Runs a translated query (SQL built only from fixed text and `?`
/// placeholders by `archive::query`) with its bound parameters; returns
/// each row's values.
///
/// # Errors
/// Catalog errors.
pub fn run_query(conn: &Conn, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>> {
    let mut st = conn.prepare(sql)?;
    let rows = st
        .query_map(params_from_iter(params.iter()), |r| {
            (0..r.width())
                .map(|k| r.get::<_, SqlValue>(k))
                .collect::<SqlResult<Vec<_>>>()
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

// The archive's SQL values bind and read as the catalog's own values.

impl ToVal for SqlValue {
    fn to_val(&self) -> ValRef<'_> {
        match self {
            SqlValue::Null => ValRef::Null,
            SqlValue::Integer(i) => ValRef::Int(*i),
            SqlValue::Real(r) => ValRef::Real(*r),
            SqlValue::Text(s) => ValRef::Text(s),
            SqlValue::Blob(b) => ValRef::Blob(b),
        }
    }
}

impl FromCol for SqlValue {
    fn from_col(v: ValRef<'_>) -> std::result::Result<SqlValue, String> {
        Ok(match v {
            ValRef::Null => SqlValue::Null,
            ValRef::Int(i) => SqlValue::Integer(i),
            ValRef::Real(r) => SqlValue::Real(r),
            ValRef::Text(s) => SqlValue::Text(s.to_owned()),
            ValRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            ValRef::Ints(_) | ValRef::Blobs(_) => return Err("an array, which no column holds".into()),
        })
    }
}
