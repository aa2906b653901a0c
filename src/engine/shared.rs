//! The state a server shares with the image handles opened through it
//! ([`Shared`]), and what they all do with it: lease and return segments,
//! check for room, raise low-space events, reclaim and punch dead chunks.
//! Image handles and everything above them build on this module; it builds on
//! the clock, errors, [`events`], [`space`](super::space) and the crate's
//! catalog and store.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::clock::now_ms;
use super::error::{Error, Result};
use super::events;
use super::finder::{self, Answer, Finder};
use super::space::{Room, fs_space};
use crate::catalog::checkpoint::Checkpointer;
use crate::catalog::{self, FreeRange};
use crate::log_warn;
use crate::logging::ServerLog;
use crate::store::liveness::Liveness;
use crate::store::segment::HEADER_LEN;
use crate::store::{ChunkStore, SegmentWriter};

/// A segment is sealed (never appended again) once it reaches this size.
pub const SEGMENT_TARGET: u64 = 1 << 30;
/// State shared by a server and the image handles opened through it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    /// Where chunk bytes live (segment files in `segments/`; in memory
    /// for some of the engine's tests).
    pub store: Arc<dyn ChunkStore>,
    pub uuid: String,
    /// Background checkpoints (none for inspection); stopped before the
    /// catalog connection closes.
    pub _checkpointer: Option<Checkpointer>,
    pub catalog: Mutex<catalog::Conn>,
    /// A pool's catalog in PostgreSQL: the thread answering writers'
    /// chunk lookups on a session of its own ([`Shared::ask`]).
    pub finder: Option<Finder>,
    /// Who is alive: this instance's token and everyone else's
    /// (`store::liveness`: lock files, or a pool's advisory locks).
    pub owner: Box<dyn Liveness>,
    /// Segments this instance owns and no writer is appending to.
    pub idle: Mutex<Vec<Box<dyn SegmentWriter>>>,
    /// Bytes [`Shared::ensure_room`] may grant before asking the
    /// filesystem again.
    pub room: Room,
    /// This server's own log (`<dir>/combstore.log`).
    pub log: ServerLog,
}

impl Shared {
    /// Whether the owner of `writer` (a token) lives: this instance, or a
    /// process holding its owner lock.
    pub fn writer_alive(&self, writer: Option<&str>) -> Result<bool> {
        match writer {
            None => Ok(false),
            Some(w) if w == self.owner.token() => Ok(true),
            Some(w) => self.owner.is_alive(w).map_err(|e| Error::io("owner lock", e)),
        }
    }

    /// Looks up the chunks of `unknown` for a writer (arguments as
    /// [`finder::find`]'s): answered later by the finder thread if the
    /// catalog is in PostgreSQL (engine::finder says why), else at once on
    /// the catalog's connection (SQLite answers in microseconds).
    pub fn ask(&self, unknown: Vec<[u8; 32]>, pin: i64, prefetched: Option<(i64, u64)>) -> Answer {
        match &self.finder {
            Some(f) => f.ask(unknown, pin, prefetched),
            None => Answer::Ready(finder::find(&self.catalog.lock(), &unknown, pin, prefetched)),
        }
    }

    /// Takes a segment to append to: an idle one of ours, an unowned one
    /// with room, or a new one.
    pub fn lease_segment(&self) -> Result<Box<dyn SegmentWriter>> {
        if let Some(seg) = self.idle.lock().pop() {
            return Ok(seg);
        }
        let mut conn = self.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        if let Some((id, end)) = catalog::claim_segment(&tx, self.owner.token(), SEGMENT_TARGET)? {
            let epoch = catalog::next_writer_epoch(&tx, id)?;
            match self.store.adopt(id, end, epoch) {
                Ok(seg) => {
                    tx.commit()?;
                    return Ok(seg);
                }
                Err(e) => {
                    // Leave it unclaimed (rolled back) for verify to report;
                    // mark it sealed so no one tries again.
                    log_warn!(self.log, "segment {id} cannot be adopted: {e}");
                    catalog::advance_segment(&tx, id, end, true)?;
                    catalog::release_segment(&tx, id)?;
                    tx.commit()?;
                    return self.new_segment(&mut conn);
                }
            }
        }
        drop(tx);
        self.new_segment(&mut conn)
    }

    fn new_segment(&self, conn: &mut catalog::Conn) -> Result<Box<dyn SegmentWriter>> {
        let tx = catalog::write_txn(conn)?;
        let id = catalog::new_segment(&tx, self.owner.token(), HEADER_LEN, now_ms())?;
        tx.commit()?;
        crate::store::crash::point("segment.after_row");
        let created = match self.store.create(id) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A segment no catalog row names: the catalog lost it
                // (rolled back, WAL lost). Keep it aside for the
                // administrator.
                self.store.set_aside(id).and_then(|aside| {
                    log_warn!(self.log, "segment {id} unknown to the catalog; moved to {aside}");
                    self.store.create(id)
                })
            }
            r => r,
        };
        created.map_err(|e| Error::io(format!("segment {id}"), e))
    }

    /// Returns a segment after a writer is done with it. Its bytes up to
    /// its end must be committed (or it must be `poisoned`).
    pub fn return_segment(&self, seg: Box<dyn SegmentWriter>, poisoned: bool) {
        if !poisoned && seg.end() < SEGMENT_TARGET {
            self.idle.lock().push(seg);
            return;
        }
        // Release it. A failed writer's bytes past the committed end are
        // cut now, while the segment is still ours, rather than left
        // allocated until another writer adopts it (which would cut them).
        let id = seg.id();
        drop(seg);
        let mut conn = self.catalog.lock();
        let r = catalog::write_txn(&mut conn).and_then(|tx| {
            if poisoned {
                let owned = catalog::owned_segments(&tx, self.owner.token())?;
                if let Some(&(_, end)) = owned.iter().find(|(s, _)| *s == id) {
                    let epoch = catalog::next_writer_epoch(&tx, id)?;
                    if let Err(e) = self.store.adopt(id, end, epoch) {
                        log_warn!(self.log, "cutting segment {id} back to {end}: {e}");
                    }
                }
            }
            catalog::release_segment(&tx, id)?;
            tx.commit()
        });
        if let Err(e) = r {
            log_warn!(self.log, "releasing segment {id}: {e}");
        }
    }

    /// Refuses ([`Error::NoSpace`]) to store `bytes` more if the server's
    /// filesystem would then keep less than the catalog's reserve free
    /// (see [`Room::ensure`]). Nothing is written.
    pub fn ensure_room(&self, bytes: u64) -> Result<()> {
        if !self.store.on_server_filesystem() {
            return Ok(()); // a pool: the object store answers "full" itself
        }
        self.room.ensure(&self.dir, bytes)
    }

    /// Raises a low-space event when the LSU's filesystem has fallen below
    /// its threshold since the last check (once per crossing).
    pub fn check_low_space(&self, lsu_id: i64) -> Result<()> {
        if !self.store.on_server_filesystem() {
            return Ok(()); // a pool's local filesystem holds no chunk
        }
        let (pct, was_low, name) = catalog::events::low_space_state(&self.catalog.lock(), lsu_id)?;
        let (total, avail) = fs_space(&self.dir)?;
        let low = total > 0 && u128::from(avail) * 100 < u128::from(total) * u128::from(pct);
        if low == was_low {
            return Ok(());
        }
        let mut conn = self.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        catalog::events::set_low_space(&tx, lsu_id, low)?;
        if low {
            let text = format!("{avail} of {total} bytes free, below the {pct}% threshold");
            let row = catalog::events::EventRow {
                lsu: name,
                bytes: avail,
                text,
                ..Default::default()
            };
            events::raise(&tx, events::EventKind::LowSpace, row)?;
        }
        tx.commit()?;
        drop(conn);
        events::notify();
        Ok(())
    }

    /// Reclaims the dead chunks no writer can refer to any more
    /// (catalog::sweep_dead) and punches their space, unless their LSU
    /// defers reclaim. Cheap when no chunk is dead; called when a writer
    /// closes and after deletes.
    pub fn sweep(&self) -> Result<()> {
        let mut conn = self.catalog.lock();
        if !catalog::any_dead(&conn)? {
            return Ok(());
        }
        let tx = catalog::write_txn(&mut conn)?;
        let freed = catalog::sweep_dead(&tx)?;
        tx.commit()?;
        if freed.is_empty() {
            return Ok(());
        }
        let ids: std::collections::HashSet<i64> = freed.iter().map(|r| r.id).collect();
        let now: Vec<FreeRange> = catalog::queued_free_ranges(&conn, false)?
            .into_iter()
            .filter(|r| ids.contains(&r.id))
            .collect();
        drop(conn);
        crate::store::crash::point("sweep.after_commit");
        self.punch(&now)
    }

    /// Punches queued free ranges and forgets them.
    pub fn punch(&self, ranges: &[FreeRange]) -> Result<()> {
        if ranges.is_empty() {
            return Ok(());
        }
        let mut done = Vec::with_capacity(ranges.len());
        let places: Vec<(i64, u64, u64)> = ranges.iter().map(|r| (r.segment, r.seg_off, r.len)).collect();
        for (r, outcome) in ranges.iter().zip(self.store.free_many(&places)) {
            match outcome {
                Ok(()) => done.push(*r),
                Err(e) => log_warn!(self.log, "punching segment {} at {}: {e}", r.segment, r.seg_off),
            }
        }
        crate::store::crash::point("punch.before_forget");
        let mut conn = self.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        catalog::forget_free_ranges(&tx, &done)?;
        Ok(tx.commit()?)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let token = self.owner.token().to_owned();
        let conn = self.catalog.get_mut();
        let r = catalog::write_txn(conn).and_then(|tx| {
            catalog::release_segments(&tx, &token)?;
            tx.commit()
        });
        if let Err(e) = r {
            log_warn!(self.log, "releasing segments at close: {e}");
        }
    }
}
