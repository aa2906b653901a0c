//! Reads of a pool's chunks.
//!
//! A reader that goes on where it stopped (a restore, each of its two
//! decoding threads) reads whole [`BLOCK`]s through the process's block
//! cache ([`super::cache`]) and keeps the next [`DEPTH`] blocks of the
//! object being fetched, so that the store's per-request latency is paid
//! in parallel, not once per chunk. A read that jumps GETs just the bytes
//! it needs (unless the cache already has them); the places a read
//! announces ([`SegmentReader::will_need`]) are fetched at once, in
//! parallel. An object found gone (compacted, or uploaded by another host
//! since the last listing) makes the reader list the segment again before
//! it reports bytes missing.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStoreExt;
use tokio::task::JoinHandle;

use super::Inner;
use super::cache::{BLOCK, Got};
use super::io_err;
use super::layout::{Data, Listing, Name};
use super::runtime::{block_on, runtime};
use crate::store::SegmentReader;

/// Blocks fetched ahead of a reader that goes on.
const DEPTH: u64 = 8;
/// A read this close after the last one's end still counts as going on:
/// the two threads of a restore take turns on runs of chunks, so each
/// skips what the other reads.
const SEQ_SLACK: u64 = BLOCK;
/// Bytes of announced fetches a reader keeps at most (the oldest are
/// dropped first).
const FETCH_BYTES_MAX: u64 = 64 << 20;
/// Objects a read tries, listing again between them, before it reports
/// the bytes missing.
const TRIES: usize = 3;

/// An announced fetch under way.
struct Fetch {
    id: i64,
    start: u64,
    len: u64,
    task: JoinHandle<object_store::Result<Bytes>>,
}

pub(super) struct S3Reader {
    inner: Arc<Inner>,
    /// Bytes of segment `.0` from `.1`.
    window: Option<(i64, u64, Bytes)>,
    fetches: VecDeque<Fetch>,
    /// Where the last read ended.
    last: Option<(i64, u64)>,
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

    /// Takes an announced fetch that holds byte `at` of segment `id` into
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
                true
            }
            _ => false,
        }
    }

    /// Brings byte `at` of segment `id` (and up to `want` bytes after it)
    /// into the window: its block through the cache (and the next ones
    /// started) if `going_on` or cached, else a GET of just those bytes.
    ///
    /// An object that is gone or answers short is skipped and the
    /// segment listed again: bytes are reported missing only when a fresh
    /// listing holds no other copy of them.
    fn load(&mut self, id: i64, at: u64, want: u64, going_on: bool) -> io::Result<()> {
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
            let got = self.get(id, &d, at, want, going_on)?;
            match got {
                Some(()) => return Ok(()),
                None => {
                    gone.push(d.name());
                    l = self.inner.relist(id)?;
                    fresh = true;
                }
            }
        }
        Err(missing(id, &l, at))
    }

    /// One try of [`S3Reader::load`] on data object `d`; `None`: it is
    /// gone.
    fn get(&mut self, id: i64, d: &Data, at: u64, want: u64, going_on: bool) -> io::Result<Option<()>> {
        let inner = &self.inner;
        let path = inner.obj(id, d.name());
        let k = (at - d.start) / BLOCK;
        if going_on || inner.cache.has(id, d, k) {
            let slot = inner.cache.block(&inner.os, &path, id, d, k);
            if going_on {
                for j in 1..=DEPTH {
                    if (k + j) * BLOCK < d.len {
                        inner.cache.block(&inner.os, &path, id, d, k + j);
                    }
                }
            }
            return match slot.wait() {
                Got::Bytes(b) => {
                    self.window = Some((id, d.start + k * BLOCK, b));
                    Ok(Some(()))
                }
                Got::Gone => {
                    inner.cache.forget(id, d, k);
                    Ok(None)
                }
                Got::Failed(kind, msg) => {
                    inner.cache.forget(id, d, k);
                    Err(io::Error::new(kind, msg))
                }
            };
        }
        let len = want.min(d.end() - at);
        let range = (at - d.start)..(at - d.start + len);
        match block_on(inner.os.get_range(&path, range))? {
            Ok(bytes) if bytes.len() as u64 == len => {
                self.window = Some((id, at, bytes));
                Ok(Some(()))
            }
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_err(&format!("reading segment {id}"), e)),
        }
    }
}

impl SegmentReader for S3Reader {
    fn read_exact_at(&mut self, id: i64, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let going_on =
            matches!(self.last, Some((lid, end)) if lid == id && off >= end && off <= end + SEQ_SLACK);
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
            self.load(id, at, (buf.len() - done) as u64, going_on)?;
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
        let Some(d) = l.holding(off) else { return };
        let Ok(rt) = runtime() else { return };
        let len = len.min(d.end() - off);
        let os = self.inner.os.clone();
        let path = self.inner.obj(id, d.name());
        let range = (off - d.start)..(off - d.start + len);
        let task = rt.spawn(async move { os.get_range(&path, range).await });
        self.fetches.push_back(Fetch {
            id,
            start: off,
            len,
            task,
        });
        while self.fetches.iter().map(|f| f.len).sum::<u64>() > FETCH_BYTES_MAX {
            if let Some(f) = self.fetches.pop_front() {
                f.task.abort();
            }
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
