//! Asynchronous operations: copies and deletes that run on a pool of
//! worker threads in this process, recorded as catalog rows so any process
//! can wait for or cancel them by name.
//!
//! Invariants: an operation row is finished exactly once, in the same
//! transaction that raises its event; a worker that panics still finishes
//! its operation (as failed); an operation whose process dies is finished
//! as `OwnerDied` by the next recovery (never resumed, so never done
//! twice), and a cross-server copy's half-written target is deleted there
//! (it is marked temporary until complete).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam::channel::{Sender, unbounded};

use super::clock::now_ms;
use super::error::{Error, Result};
use super::events::{self, EventKind, Outcome};
use super::names::{self, ImageName};
use super::shared::Shared;
use super::{images, lsus};
use crate::catalog::{self, ImageState, events::EventRow};
use crate::logging::ServerLog;
use crate::{log_info, log_warn};

/// Worker threads per process.
const WORKERS: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

fn submit(job: Job, log: &ServerLog) {
    static POOL: OnceLock<Sender<Job>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (tx, rx) = unbounded::<Job>();
        for n in 0..WORKERS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("combstore-op-{n}"))
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                });
            if let Err(e) = spawned {
                log_warn!(log, "starting operation worker {n}: {e}");
            }
        }
        tx
    });
    if let Err(e) = pool.send(job) {
        // No worker can run it; run it here rather than lose it.
        (e.into_inner())();
    }
}

fn kind_event(kind: &str) -> EventKind {
    if kind == "delete" {
        EventKind::DeleteDone
    } else {
        EventKind::AsyncDone
    }
}

/// Finishes every running operation of a dead owner (part of recovery).
pub(crate) fn fail_ops_of(tx: &catalog::Tx<'_>, owner: &str, log: &ServerLog) -> Result<usize> {
    let ops = catalog::events::running_ops_of(tx, owner)?;
    for op in &ops {
        log_warn!(log, "operation #{} ({}) died with its process", op.id, op.kind);
        finish_in(tx, op, Outcome::OwnerDied, 0, "the process running it died")?;
    }
    Ok(ops.len())
}

fn finish_in(
    tx: &catalog::Tx<'_>,
    op: &catalog::events::OpRow,
    outcome: Outcome,
    bytes: u64,
    text: &str,
) -> Result<()> {
    catalog::events::finish_op(tx, op.id, outcome.name(), now_ms())?;
    let row = EventRow {
        op_id: op.id,
        op_name: op.name.clone().unwrap_or_default(),
        outcome: outcome.name().to_owned(),
        lsu: op.lsu.clone(),
        basename: op.basename.clone(),
        date: op.date.clone(),
        bytes,
        text: text.to_owned(),
        ..EventRow::default()
    };
    events::raise(tx, kind_event(&op.kind), row)?;
    Ok(())
}

/// Checks a copy request, records it as a running operation and starts
/// it on the worker pool; returns its id.
pub(crate) fn start_copy(
    sh: &Arc<Shared>,
    to_lsu: &str,
    to_name: &ImageName,
    src: &Arc<Shared>,
    from_lsu: &str,
    from_name: &ImageName,
    op_name: Option<&str>,
) -> Result<u64> {
    if let Some(n) = op_name {
        names::check_op(n)?;
    }
    lsus::info(sh, to_lsu)?;
    match images::info(sh, to_lsu, to_name) {
        Ok(_) => return Err(Error::Exists(to_name.to_string())),
        Err(Error::NoImage(_)) => {}
        Err(e) => return Err(e),
    }
    if images::info(src, from_lsu, from_name)?.state != ImageState::Complete {
        return Err(Error::NotComplete(from_name.to_string()));
    }
    let id = record_op(sh, op_name, "copy", to_lsu, to_name)?;
    let (me, src) = (Arc::clone(sh), Arc::clone(src));
    let (to_lsu, to_name, from_lsu, from_name) = (
        to_lsu.to_owned(),
        to_name.clone(),
        from_lsu.to_owned(),
        from_name.clone(),
    );
    submit(
        Box::new(move || {
            let cancelled = || cancel_requested(&me, id);
            let r = catch_unwind(AssertUnwindSafe(|| {
                images::copy(&me, &to_lsu, &to_name, &src, &from_lsu, &from_name, &cancelled)
            }))
            .unwrap_or_else(|_| Err(Error::Invalid("internal error in a copy".into())));
            let bytes = if r.is_ok() {
                images::info(&me, &to_lsu, &to_name).map_or(0, |i| i.size)
            } else {
                0
            };
            let text = match &r {
                Ok(sent) => format!("copied {from_name} to {to_name}; {sent} bytes sent"),
                Err(e) => format!("copy of {from_name} to {to_name}: {e}"),
            };
            let r = r.map(|_| ());
            finish_op(&me, id, Outcome::of(&r), bytes, &text);
        }),
        &sh.log,
    );
    Ok(id)
}

/// Checks a delete request, then deletes in the background; returns the
/// operation's id.
pub(crate) fn start_delete(sh: &Arc<Shared>, lsu: &str, name: &ImageName) -> Result<u64> {
    let info = images::info(sh, lsu, name)?;
    if info.state == ImageState::Writing && images::busy(sh, lsu, name)? {
        return Err(Error::Busy(name.to_string()));
    }
    let id = record_op(sh, None, "delete", lsu, name)?;
    let me = Arc::clone(sh);
    let (lsu, name) = (lsu.to_owned(), name.clone());
    submit(
        Box::new(move || {
            let r = catch_unwind(AssertUnwindSafe(|| images::delete(&me, &lsu, &name)))
                .unwrap_or_else(|_| Err(Error::Invalid("internal error in a delete".into())));
            let text = match &r {
                Ok(()) => format!("deleted {name}"),
                Err(e) => format!("deleting {name}: {e}"),
            };
            finish_op(&me, id, Outcome::of(&r), 0, &text);
        }),
        &sh.log,
    );
    Ok(id)
}

/// Waits up to `timeout` for the latest operation named `name` to finish;
/// `recover` runs when the process running it has died.
pub(crate) fn wait_op(
    sh: &Shared,
    name: &str,
    timeout: Option<Duration>,
    recover: &dyn Fn() -> Result<()>,
) -> Result<Outcome> {
    names::check_op(name)?;
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let op = catalog::events::latest_op(&sh.catalog.lock(), name)?
            .ok_or_else(|| Error::NoOp(name.to_owned()))?;
        if !op.running {
            return Ok(Outcome::from_name(&op.outcome));
        }
        if op.owner != sh.owner.token() && !sh.owner.is_alive(&op.owner).map_err(|e| Error::io("lock", e))? {
            recover()?;
            continue;
        }
        let left = match deadline {
            None => Duration::from_millis(50),
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => return Err(Error::Running(name.to_owned())),
            },
        };
        events::wait_a_little(left);
    }
}

/// Asks the running operation named `name` to stop.
pub(crate) fn cancel_op(sh: &Shared, name: &str) -> Result<()> {
    names::check_op(name)?;
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    if !catalog::events::request_cancel(&tx, name)? {
        return Err(Error::NoOp(name.to_owned()));
    }
    tx.commit()?;
    log_info!(sh.log, "cancellation of operation {name:?} requested");
    Ok(())
}

fn record_op(sh: &Shared, name: Option<&str>, kind: &str, lsu: &str, target: &ImageName) -> Result<u64> {
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    let id = catalog::events::insert_op(
        &tx,
        name,
        kind,
        sh.owner.token(),
        lsu,
        &target.basename,
        &target.date,
        now_ms(),
    )?;
    tx.commit()?;
    Ok(id)
}

fn cancel_requested(sh: &Shared, id: u64) -> bool {
    catalog::events::op_by_id(&sh.catalog.lock(), id).is_ok_and(|op| op.is_some_and(|op| op.cancel))
}

/// Records an operation's end and raises its event. Retries while the
/// catalog is busy: an operation must not stay running forever.
fn finish_op(sh: &Shared, id: u64, outcome: Outcome, bytes: u64, text: &str) {
    for attempt in 0..10 {
        let r = (|| {
            let mut conn = sh.catalog.lock();
            let tx = catalog::write_txn(&mut conn)?;
            let op = catalog::events::op_by_id(&tx, id)?.ok_or_else(|| Error::NoOp(format!("#{id}")))?;
            if op.running {
                finish_in(&tx, &op, outcome, bytes, text)?;
            }
            Ok::<_, Error>(tx.commit()?)
        })();
        match r {
            Ok(()) => {
                events::notify();
                return;
            }
            Err(e) => {
                log_warn!(
                    sh.log,
                    "recording the end of operation #{id} (attempt {attempt}): {e}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}
