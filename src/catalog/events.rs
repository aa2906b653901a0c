//! SQL for events and asynchronous operations.

use super::backend::SqlResult;
use super::conn::{OptionalExtension, Row, params};

use super::{Conn, Error, Result, Tx, i, u};

/// One `events` row.
#[derive(Clone, Debug, Default)]
pub struct EventRow {
    pub id: u64,
    pub kind: i64,
    pub time_ms: u64,
    pub op_id: u64,
    pub op_name: String,
    pub outcome: String,
    pub lsu: String,
    pub basename: String,
    pub date: String,
    pub bytes: u64,
    pub text: String,
}

/// Stores an event (its `id` is ignored); returns the new id.
///
/// # Errors
/// Catalog errors.
pub fn insert_event(tx: &Tx<'_>, e: &EventRow) -> Result<u64> {
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO events (kind, time_ms, op_id, op_name, outcome, lsu, basename, date, bytes, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        )?
        .query_row(
            params![
                e.kind,
                i(e.time_ms),
                i(e.op_id),
                e.op_name,
                e.outcome,
                e.lsu,
                e.basename,
                e.date,
                i(e.bytes),
                e.text
            ],
            |r| r.get(0),
        )?;
    Ok(u(id))
}

/// Up to `limit` events with ids above `after`, oldest first.
///
/// # Errors
/// Catalog errors.
pub fn events_after(conn: &Conn, after: u64, limit: usize) -> Result<Vec<EventRow>> {
    let mut st = conn.prepare_cached(
        "SELECT id, kind, time_ms, op_id, op_name, outcome, lsu, basename, date, bytes, text FROM events
         WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = st
        .query_map(params![i(after), i(limit as u64)], |r| {
            Ok(EventRow {
                id: u(r.get(0)?),
                kind: r.get(1)?,
                time_ms: u(r.get(2)?),
                op_id: u(r.get(3)?),
                op_name: r.get(4)?,
                outcome: r.get(5)?,
                lsu: r.get(6)?,
                basename: r.get(7)?,
                date: r.get(8)?,
                bytes: u(r.get(9)?),
                text: r.get(10)?,
            })
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Deletes an event; false if there was none.
///
/// # Errors
/// Catalog errors.
pub fn delete_event(tx: &Tx<'_>, id: u64) -> Result<bool> {
    Ok(tx.execute("DELETE FROM events WHERE id = ?1", [i(id)])? > 0)
}

/// One `ops` row.
#[derive(Clone, Debug)]
pub struct OpRow {
    pub id: u64,
    pub name: Option<String>,
    pub kind: String,
    pub running: bool,
    pub outcome: String,
    pub owner: String,
    pub cancel: bool,
    pub lsu: String,
    pub basename: String,
    pub date: String,
}

const OP_COLS: &str = "id, name, kind, state, outcome, owner, cancel, lsu, basename, date";

fn op_from_row(r: &Row<'_>) -> SqlResult<OpRow> {
    Ok(OpRow {
        id: u(r.get(0)?),
        name: r.get(1)?,
        kind: r.get(2)?,
        running: r.get::<_, i64>(3)? == 0,
        outcome: r.get(4)?,
        owner: r.get(5)?,
        cancel: r.get::<_, i64>(6)? != 0,
        lsu: r.get(7)?,
        basename: r.get(8)?,
        date: r.get(9)?,
    })
}

/// Records a running operation; returns its id.
///
/// # Errors
/// [`Error::Exists`] if a running operation has the same name; catalog errors.
#[allow(clippy::too_many_arguments)]
pub fn insert_op(
    tx: &Tx<'_>,
    name: Option<&str>,
    kind: &str,
    owner: &str,
    lsu: &str,
    basename: &str,
    date: &str,
    now_ms: u64,
) -> Result<u64> {
    let r = tx.query_row(
        "INSERT INTO ops (name, kind, owner, lsu, basename, date, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         RETURNING id",
        params![name, kind, owner, lsu, basename, date, i(now_ms)],
        |r| r.get::<_, i64>(0),
    );
    match r {
        Err(e) if e.is_constraint() => Err(Error::Exists(format!(
            "a running operation is named {:?}",
            name.unwrap_or("")
        ))),
        Err(e) => Err(e.into()),
        Ok(id) => Ok(u(id)),
    }
}

/// The latest operation with this name.
///
/// # Errors
/// Catalog errors.
pub fn latest_op(conn: &Conn, name: &str) -> Result<Option<OpRow>> {
    let sql = format!("SELECT {OP_COLS} FROM ops WHERE name = ?1 ORDER BY id DESC LIMIT 1");
    Ok(conn.query_row(&sql, [name], op_from_row).optional()?)
}

/// The operation with this id.
///
/// # Errors
/// Catalog errors.
pub fn op_by_id(conn: &Conn, id: u64) -> Result<Option<OpRow>> {
    let sql = format!("SELECT {OP_COLS} FROM ops WHERE id = ?1");
    Ok(conn.query_row(&sql, [i(id)], op_from_row).optional()?)
}

/// Running operations of an owner.
///
/// # Errors
/// Catalog errors.
pub fn running_ops_of(conn: &Conn, owner: &str) -> Result<Vec<OpRow>> {
    let sql = format!("SELECT {OP_COLS} FROM ops WHERE owner = ?1 AND state = 0");
    let mut st = conn.prepare(&sql)?;
    let rows = st
        .query_map([owner], op_from_row)?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Asks the running operation `name` to stop; false if none runs.
///
/// # Errors
/// Catalog errors.
pub fn request_cancel(tx: &Tx<'_>, name: &str) -> Result<bool> {
    Ok(tx.execute("UPDATE ops SET cancel = 1 WHERE name = ?1 AND state = 0", [name])? > 0)
}

/// Marks an operation finished with its outcome.
///
/// # Errors
/// Catalog errors.
pub fn finish_op(tx: &Tx<'_>, id: u64, outcome: &str, now_ms: u64) -> Result<()> {
    tx.execute(
        "UPDATE ops SET state = 1, outcome = ?2, finished_ms = ?3 WHERE id = ?1",
        params![i(id), outcome, i(now_ms)],
    )?;
    Ok(())
}

/// An LSU's low-space threshold (percent) and whether it is below it.
///
/// # Errors
/// Catalog errors.
pub fn low_space_state(conn: &Conn, lsu_id: i64) -> Result<(u64, bool, String)> {
    Ok(conn
        .prepare_cached("SELECT low_space_pct, low_space, name FROM lsus WHERE id = ?1")?
        .query_row([lsu_id], |r| {
            Ok((u(r.get(0)?), r.get::<_, i64>(1)? != 0, r.get(2)?))
        })?)
}

/// Records whether an LSU is below its low-space threshold.
///
/// # Errors
/// Catalog errors.
pub fn set_low_space(tx: &Tx<'_>, lsu_id: i64, low: bool) -> Result<()> {
    tx.execute(
        "UPDATE lsus SET low_space = ?2 WHERE id = ?1",
        params![lsu_id, low],
    )?;
    Ok(())
}

/// Sets an LSU's low-space threshold in percent of its filesystem.
///
/// # Errors
/// [`Error::NoLsu`]; catalog errors.
pub fn set_low_space_pct(tx: &Tx<'_>, name: &str, pct: u64) -> Result<()> {
    match tx.execute(
        "UPDATE lsus SET low_space_pct = ?2 WHERE name = ?1",
        params![name, i(pct)],
    )? {
        0 => Err(Error::NoLsu(name.to_owned())),
        _ => Ok(()),
    }
}
