//! Events: stored rows every process sees (the "stored, pulled" model of
//! seed 000, slide 24). Raising one is part of the transaction that does
//! the thing it reports. Readers poll the catalog; in-process raises wake
//! them at once through [`SIGNAL`], other processes' within the poll
//! interval.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::clock::now_ms;
use super::error::{Error, ErrorKind, Result};
use crate::catalog::{self, events::EventRow};

/// How often a waiter re-reads the catalog for other processes' changes.
const POLL: Duration = Duration::from_millis(50);

/// What an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// An asynchronous copy finished.
    AsyncDone = 1,
    /// An asynchronous delete finished.
    DeleteDone = 2,
    /// An LSU's label changed.
    Label = 3,
    /// An LSU's filesystem fell below its low-space threshold.
    LowSpace = 4,
}

impl EventKind {
    fn from_i64(v: i64) -> EventKind {
        match v {
            1 => EventKind::AsyncDone,
            2 => EventKind::DeleteDone,
            3 => EventKind::Label,
            _ => EventKind::LowSpace,
        }
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Cancelled,
    /// The process running it died before it finished.
    OwnerDied,
    Failed(ErrorKind),
}

impl Outcome {
    /// The stored form.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Cancelled => "cancelled",
            Outcome::OwnerDied => "died",
            Outcome::Failed(kind) => kind.name(),
        }
    }

    /// Reads the stored form.
    pub fn from_name(s: &str) -> Outcome {
        match s {
            "ok" => Outcome::Ok,
            "cancelled" => Outcome::Cancelled,
            "died" => Outcome::OwnerDied,
            other => Outcome::Failed(ErrorKind::from_name(other)),
        }
    }

    /// The outcome of a finished piece of work.
    pub fn of(r: &Result<()>) -> Outcome {
        match r {
            Ok(()) => Outcome::Ok,
            Err(Error::Cancelled) => Outcome::Cancelled,
            Err(e) => Outcome::Failed(e.kind()),
        }
    }
}

/// An event as delivered.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
    pub time_ms: u64,
    pub op_id: u64,
    pub op_name: String,
    pub outcome: Outcome,
    pub lsu: String,
    pub basename: String,
    pub date: String,
    pub bytes: u64,
    pub text: String,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        Event {
            id: r.id,
            kind: EventKind::from_i64(r.kind),
            time_ms: r.time_ms,
            op_id: r.op_id,
            op_name: r.op_name,
            outcome: Outcome::from_name(&r.outcome),
            lsu: r.lsu,
            basename: r.basename,
            date: r.date,
            bytes: r.bytes,
            text: r.text,
        }
    }
}

/// Generation counter bumped (and waiters woken) whenever this process
/// raises an event or finishes an operation.
static SIGNAL: (Mutex<u64>, Condvar) = (Mutex::new(0), Condvar::new());

/// Wakes this process's waiters (call after the commit that changed rows).
pub(crate) fn notify() {
    *SIGNAL.0.lock() += 1;
    SIGNAL.1.notify_all();
}

/// Sleeps until notified or for at most `max`.
pub(crate) fn wait_a_little(max: Duration) {
    let mut g = SIGNAL.0.lock();
    let seen = *g;
    let deadline = Instant::now() + max.min(POLL);
    while *g == seen {
        if SIGNAL.1.wait_until(&mut g, deadline).timed_out() {
            break;
        }
    }
}

/// Adds an event to the transaction `tx` (raised when it commits).
pub(crate) fn raise(tx: &catalog::Tx<'_>, kind: EventKind, mut row: EventRow) -> Result<u64> {
    row.kind = kind as i64;
    row.time_ms = now_ms();
    if row.outcome.is_empty() {
        row.outcome = Outcome::Ok.name().to_owned();
    }
    Ok(catalog::events::insert_event(tx, &row)?)
}

/// Up to `limit` events after id `after`, oldest first.
pub(crate) fn events_after(conn: &catalog::Conn, after: u64, limit: usize) -> Result<Vec<Event>> {
    let rows = catalog::events::events_after(conn, after, limit)?;
    Ok(rows.into_iter().map(Event::from).collect())
}

/// The first event after `after`, waiting up to `timeout` (None:
/// forever) for one to be raised here or by another process.
pub(crate) fn next_event(
    catalog: &Mutex<catalog::Conn>,
    after: u64,
    timeout: Option<Duration>,
) -> Result<Option<Event>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if let Some(e) = events_after(&catalog.lock(), after, 1)?.pop() {
            return Ok(Some(e));
        }
        let left = match deadline {
            None => POLL,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => return Ok(None),
            },
        };
        wait_a_little(left);
    }
}

/// Acknowledges an event for the whole server.
pub(crate) fn delete_event(conn: &mut catalog::Conn, id: u64) -> Result<()> {
    let tx = catalog::write_txn(conn)?;
    if !catalog::events::delete_event(&tx, id)? {
        return Err(Error::NoEvent(id));
    }
    Ok(tx.commit()?)
}
