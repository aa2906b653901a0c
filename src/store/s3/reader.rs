//! Reads of a pool's chunks: ranged GETs, with read-ahead for a reader
//! that goes on where it stopped and fetches started early for the places
//! a read announces ([`SegmentReader::will_need`]).
//!
//! A sequential reader's requests grow from [`AHEAD_MIN`] to
//! [`AHEAD_MAX`] bytes past what it asked for, and the next stretch is
//! fetched in the background while it decodes this one. A read that
//! jumps fetches only what it asks for. A missing object (compacted away,
//! or uploaded by another host since the last listing) makes the reader
//! list the segment again once before it reports missing bytes.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStoreExt;
use tokio::task::JoinHandle;

use super::Inner;
use super::io_err;
use super::layout::{Data, Listing, Name};
use super::runtime::{block_on, runtime};
use crate::store::SegmentReader;

/// What a sequential reader first reads past its request.
const AHEAD_MIN: u64 = 256 << 10;
/// At most this far.
const AHEAD_MAX: u64 = 8 << 20;
/// A read this close after the last one's end still counts as going on
/// (chunks are 4 KiB aligned, so sequential reads skip padding).
const SEQ_SLACK: u64 = 64 << 10;
/// Bytes of fetches under way a reader keeps at most (the oldest are
/// dropped first).
const FETCH_BYTES_MAX: u64 = 64 << 20;
/// Objects a read tries, listing again between them, before it reports
/// the bytes missing.
const TRIES: usize = 3;

struct Fetch {
    id: i64,
    /// The object it reads.
    d: Data,
    start: u64,
    len: u64,
    /// Read-ahead (dropped when the reader jumps), not announced.
    ahead: bool,
    task: JoinHandle<object_store::Result<Bytes>>,
}

pub(super) struct S3Reader {
    inner: Arc<Inner>,
    /// Bytes of segment `.0` from `.1`.
    window: Option<(i64, u64, Bytes)>,
    fetches: VecDeque<Fetch>,
    /// Where the last read ended.
    last: Option<(i64, u64)>,
    ahead: u64,
}

impl fmt::Debug for S3Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Reader({} fetches)", self.fetches.len())
    }
}

fn missing(id: i64, l: &Listing, at: u64) -> io::Error {
    if l.exists() {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "segment {id} has no stored bytes at {at} (it is {} long)",
                l.len()
            ),
        )
    } else {
        io::Error::new(io::ErrorKind::NotFound, format!("segment {id}"))
    }
}

impl S3Reader {
    pub fn new(inner: Arc<Inner>) -> S3Reader {
        S3Reader {
            inner,
            window: None,
            fetches: VecDeque::new(),
            last: None,
            ahead: 0,
        }
    }

    /// Copies what the window holds of `out` from `at`; how many bytes.
    fn copy_window(&self, id: i64, at: u64, out: &mut [u8]) -> usize {
        match &self.window {
            Some((wid, start, bytes)) if *wid == id && *start <= at && at < start + bytes.len() as u64 => {
                let from = (at - start) as usize;
                let n = out.len().min(bytes.len() - from);
                out[..n].copy_from_slice(&bytes[from..from + n]);
                n
            }
            _ => 0,
        }
    }

    /// Starts fetching `[start, start + len)` of data object `d`.
    fn start_fetch(&mut self, id: i64, d: &Data, start: u64, len: u64, ahead: bool) {
        let Ok(rt) = runtime() else { return };
        let os = self.inner.os.clone();
        let path = self.inner.obj(id, d.name());
        let range = (start - d.start)..(start - d.start + len);
        let task = rt.spawn(async move { os.get_range(&path, range).await });
        self.fetches.push_back(Fetch {
            id,
            d: *d,
            start,
            len,
            ahead,
            task,
        });
        while self.fetches.iter().map(|f| f.len).sum::<u64>() > FETCH_BYTES_MAX {
            if let Some(f) = self.fetches.pop_front() {
                f.task.abort();
            }
        }
    }

    /// After a jump, read-ahead fetches are of no use: dropped.
    fn drop_ahead(&mut self) {
        self.fetches.retain(|f| {
            if f.ahead {
                f.task.abort();
            }
            !f.ahead
        });
    }

    /// Takes a fetch under way that holds byte `at` of segment `id` into
    /// the window; false if there is none, or it failed (the caller then
    /// reads directly, and reports that read's error).
    fn take_fetch(&mut self, id: i64, at: u64) -> bool {
        let Some(i) = self
            .fetches
            .iter()
            .position(|f| f.id == id && f.start <= at && at < f.start + f.len)
        else {
            return false;
        };
        let f = self.fetches.remove(i).expect("found");
        match block_on(f.task) {
            Ok(Ok(Ok(bytes))) if bytes.len() as u64 == f.len => {
                self.window = Some((id, f.start, bytes));
                // a reader going on: the next stretch while it decodes this
                let next = f.start + f.len;
                if self.ahead > 0 && next < f.d.end() {
                    let n = self.ahead.min(f.d.end() - next);
                    self.start_fetch(id, &f.d, next, n, true);
                }
                true
            }
            _ => false,
        }
    }

    /// Reads `[at, at + want + ahead)` of the object holding `at`
    /// directly into the window (then starts on the next stretch if the
    /// reader is sequential).
    ///
    /// An object that is gone (compacted or set aside since the listing)
    /// or answers short is skipped and the segment listed again: the
    /// bytes are reported missing only when a fresh listing holds no
    /// other copy of them.
    fn fetch(&mut self, id: i64, at: u64, want: u64, sequential: bool) -> io::Result<()> {
        let mut l = self.inner.listing(id)?;
        let mut fresh = false;
        let mut gone: Vec<Name> = Vec::new();
        for _ in 0..TRIES + 1 {
            let Some(d) = l.holding_but(at, &gone) else {
                if fresh {
                    return Err(missing(id, &l, at));
                }
                l = self.inner.relist(id)?;
                fresh = true;
                continue;
            };
            let len = want.saturating_add(self.ahead).min(d.end() - at);
            let path = self.inner.obj(id, d.name());
            let range = (at - d.start)..(at - d.start + len);
            match block_on(self.inner.os.get_range(&path, range))? {
                Ok(bytes) if bytes.len() as u64 == len => {
                    self.window = Some((id, at, bytes));
                    let next = at + len;
                    if sequential && next < d.end() {
                        let n = self.ahead.min(d.end() - next);
                        self.start_fetch(id, &d, next, n, true);
                    }
                    return Ok(());
                }
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {
                    gone.push(d.name());
                    l = self.inner.relist(id)?;
                    fresh = true;
                }
                Err(e) => return Err(io_err(&format!("reading segment {id}"), e)),
            }
        }
        Err(missing(id, &l, at))
    }
}

impl SegmentReader for S3Reader {
    fn read_exact_at(&mut self, id: i64, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let sequential =
            matches!(self.last, Some((lid, end)) if lid == id && off >= end && off <= end + SEQ_SLACK);
        self.ahead = if sequential {
            (self.ahead * 2).clamp(AHEAD_MIN, AHEAD_MAX)
        } else {
            self.drop_ahead();
            0
        };
        let mut done = 0;
        while done < buf.len() {
            let at = off + done as u64;
            let n = self.copy_window(id, at, &mut buf[done..]);
            if n > 0 {
                done += n;
                continue;
            }
            if self.take_fetch(id, at) {
                continue;
            }
            self.fetch(id, at, (buf.len() - done) as u64, sequential)?;
        }
        self.last = Some((id, off + buf.len() as u64));
        Ok(())
    }

    fn will_need(&mut self, id: i64, off: u64, len: u64) {
        let end = off.saturating_add(len);
        let in_window = matches!(&self.window, Some((wid, start, b)) if *wid == id && *start <= off && end <= start + b.len() as u64);
        let fetching = self
            .fetches
            .iter()
            .any(|f| f.id == id && f.start <= off && end <= f.start + f.len);
        if in_window || fetching || len == 0 {
            return;
        }
        let Some(l) = self.inner.listings.lock().get(&id).cloned() else {
            return;
        };
        if let Some(d) = l.holding(off) {
            let len = len.min(d.end() - off);
            self.start_fetch(id, &d, off, len, false);
        }
    }
}

impl Drop for S3Reader {
    fn drop(&mut self) {
        for f in self.fetches.drain(..) {
            f.task.abort();
        }
    }
}
