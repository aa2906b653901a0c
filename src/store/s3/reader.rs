//! Reads of a pool's chunks.
//!
//! Reads go through the process's block cache ([`super::cache`]): blocks
//! of data objects, each fetched once by one ranged GET whoever asks for
//! it. A reader going on where it stopped (each of a
//! restore's two decoding threads) keeps the next [`DEPTH`] blocks of its
//! segment being fetched (on into the next data object), so that the
//! store's per-request latency is paid in parallel, not once per chunk;
//! the places a read announces ([`SegmentReader::will_need`]: every
//! read's and those of the next 8 MiB of its image, on this store, so the
//! chunks a deduplicated image shares with older ones) have their small
//! blocks fetched at once. Chunks an image uses again are not fetched
//! again: its reader keeps them (`engine::reuse`). A read that jumps to a
//! block nobody fetched GETs just the bytes it needs. An object found gone (compacted, or uploaded by
//! another host since the last listing) makes the reader list the
//! segment again before it reports bytes missing.

use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStoreExt;

use super::Inner;
use super::cache::{BLOCK, Got, SMALL, block_range};
use super::host_cache::HostCache;
use super::io_err;
use super::layout::{Data, Listing, Name};
use super::runtime::block_on;
use crate::store::SegmentReader;

/// Blocks fetched ahead of a reader that goes on. Restoring the
/// benchmark's 512 MiB image from Garage on loopback (`combstore image
/// cat`, five runs interleaved, median): 546 MB/s with 2, 608 with 3, 645
/// with 4; a second round gave 574 with 3, 509 with 4. No clear gain past
/// 3, which leaves room in the cache for four restores at once.
const DEPTH: u64 = 3;
/// A read at most this far past where the reader's stream reached goes
/// on from there: the two threads of a restore take turns on runs of
/// chunks, so each skips what the other reads.
const SEQ_SLACK: u64 = BLOCK;
/// Streams a reader follows at once (several may be in one segment).
const STREAMS: usize = 8;
/// Objects a read tries, listing again between them, before it reports
/// the bytes missing.
const TRIES: usize = 3;

/// How far each of a reader's streams (segment, offset) reached, the
/// one least recently gone on from first.
#[derive(Debug, Default)]
struct Streams(Vec<(i64, u64)>);

impl Streams {
    /// Whether a read at `off` of segment `id` goes on from one of the
    /// reader's streams; records how far that stream reaches after it.
    /// A read that goes on from none starts a stream of its own, in place
    /// of the one least recently gone on from: a restore of a second full
    /// reads on in two places of one segment at once (the first full's
    /// chunks and its own new ones), and a chunk read once, far from
    /// both, soon drops out.
    fn goes_on(&mut self, id: i64, off: u64, end: u64) -> bool {
        let on = self
            .0
            .iter()
            .position(|&(s, reach)| s == id && off >= reach && off <= reach + SEQ_SLACK);
        if let Some(i) = on {
            self.0.remove(i);
        } else if self.0.len() >= STREAMS {
            self.0.remove(0);
        }
        self.0.push((id, end));
        on.is_some()
    }
}

pub(super) struct S3Reader {
    inner: Arc<Inner>,
    /// Whether reads are served from the host cache where it holds the
    /// object (not for a verify: it checks the store).
    host: bool,
    /// Bytes of segment `.0` from `.1`.
    window: Option<(i64, u64, Bytes)>,
    streams: Streams,
}

impl fmt::Debug for S3Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Reader({:?})", self.streams)
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
    pub fn new(inner: Arc<Inner>, host: bool) -> S3Reader {
        S3Reader {
            inner,
            host,
            window: None,
            streams: Streams::default(),
        }
    }

    /// The host cache, if this reader reads from it.
    fn host(&self) -> Option<&HostCache> {
        self.inner.host.as_ref().filter(|_| self.host)
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

    /// Brings byte `at` of segment `id` (and up to `want` bytes after it)
    /// into the window.
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
            if self.get(id, &l, &d, at, want, going_on)? {
                return Ok(());
            }
            gone.push(d.name());
            l = self.inner.relist(id)?;
            fresh = true;
        }
        Err(missing(id, &l, at))
    }

    /// One try of [`S3Reader::load`] on data object `d`: through the
    /// cache if the reader goes on (its block, the next ones started) or
    /// a block holding `at` is cached or on its way, else a GET of just
    /// the bytes; false if `d` is gone.
    fn get(
        &mut self,
        id: i64,
        l: &Listing,
        d: &Data,
        at: u64,
        want: u64,
        going_on: bool,
    ) -> io::Result<bool> {
        let inner = &self.inner;
        let rel = at - d.start;
        let host = self.host();
        // (only an object whose ETag the listing knows: the file must be
        // of this object, not of another once under its name)
        if let (Some(h), Some(tag)) = (host, l.tag_of(d.name())) {
            // the block a reader going on reads, else just the bytes
            let (a, z) = if going_on {
                block_range(d, BLOCK, rel / BLOCK)
            } else {
                (rel, rel + want.min(d.len - rel))
            };
            if let Some(b) = h.read(id, d, tag, a, z) {
                self.window = Some((id, d.start + a, b));
                return Ok(true);
            }
        }
        let path = inner.obj(id, d.name());
        let cached = if going_on {
            let k = rel / BLOCK;
            // the stream's next blocks, on into the objects that follow
            // (else the places announced past the end of this one would
            // be fetched in small blocks, then again in big ones)
            let mut next = (d.start + (k + 1) * BLOCK).min(d.end());
            for _ in 0..DEPTH {
                let Some(n) = l.holding(next) else { break };
                let kn = (next - n.start) / BLOCK;
                // (an object the host holds is read from its file)
                if !host.is_some_and(|h| h.holds(id, &n)) {
                    inner
                        .cache
                        .block(&inner.os, &inner.obj(id, n.name()), id, &n, BLOCK, kn);
                }
                next = (n.start + (kn + 1) * BLOCK).min(n.end());
            }
            Some((BLOCK, inner.cache.block(&inner.os, &path, id, d, BLOCK, k)))
        } else {
            [BLOCK, SMALL]
                .into_iter()
                .find_map(|size| inner.cache.find(id, d, size, rel).map(|s| (size, s)))
        };
        if let Some((size, slot)) = cached {
            let k = rel / size;
            return match slot.wait() {
                Got::Bytes(b) => {
                    self.window = Some((id, d.start + k * size, b));
                    Ok(true)
                }
                Got::Gone => {
                    inner.cache.forget(id, d, size, k);
                    Ok(false)
                }
                Got::Failed(kind, msg) => {
                    inner.cache.forget(id, d, size, k);
                    Err(io::Error::new(kind, msg))
                }
            };
        }
        let len = want.min(d.end() - at);
        let range = rel..rel + len;
        match block_on(inner.os.get_range(&path, range))? {
            Ok(bytes) if bytes.len() as u64 == len => {
                self.window = Some((id, at, bytes));
                Ok(true)
            }
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io_err(&format!("reading segment {id}"), e)),
        }
    }
}

impl SegmentReader for S3Reader {
    fn read_exact_at(&mut self, id: i64, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = off.saturating_add(buf.len() as u64);
        let going_on = self.streams.goes_on(id, off, end);
        let mut done = 0;
        while done < buf.len() {
            let at = off + done as u64;
            let n = self.copy_window(id, at, &mut buf[done..]);
            if n > 0 {
                done += n;
                continue;
            }
            self.load(id, at, (buf.len() - done) as u64, going_on)?;
        }
        Ok(())
    }

    fn will_need(&mut self, id: i64, off: u64, len: u64) {
        let Some(l) = self.inner.listings.lock().get(&id).cloned() else {
            return;
        };
        let inner = &self.inner;
        let host = self.host();
        // whether the host holds the object last looked at
        let mut held: Option<(Name, bool)> = None;
        let mut at = off;
        let end = off.saturating_add(len);
        while at < end {
            let Some(d) = l.holding(at) else { return };
            let rel = at - d.start;
            let k = rel / SMALL;
            let on_host = match held {
                Some((name, h)) if name == d.name() => h,
                _ => {
                    let h = host.is_some_and(|h| h.holds(id, &d));
                    held = Some((d.name(), h));
                    h
                }
            };
            // a place a stream of this process is already bringing in
            // (its big block) needs nothing more, nor one the host holds
            if inner.cache.find(id, &d, BLOCK, rel).is_none() && !on_host {
                let path = inner.obj(id, d.name());
                inner.cache.block(&inner.os, &path, id, &d, SMALL, k);
            }
            at = (d.start + (k + 1) * SMALL).min(d.end());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_goes_on_in_several_places_of_a_segment_and_forgets_one_off_reads() {
        let mut st = Streams::default();
        let (m, far) = (1 << 20, 64 << 20);
        assert!(!st.goes_on(1, 0, m), "a first read starts a stream");
        assert!(st.goes_on(1, m, 2 * m));
        // a second full: its own new chunks far on in the same segment...
        assert!(!st.goes_on(1, 100 * far, 100 * far + m));
        assert!(st.goes_on(1, 100 * far + m, 100 * far + 2 * m));
        // ...between runs of the first full's chunks, each going on
        assert!(
            st.goes_on(1, 2 * m + SEQ_SLACK, 3 * m + SEQ_SLACK),
            "within the slack"
        );
        assert!(st.goes_on(1, 100 * far + 2 * m, 100 * far + 3 * m));
        // a read behind a stream goes on from none
        assert!(!st.goes_on(1, m / 2, m / 2 + 10));
        // one-off reads elsewhere push out the least recently gone on from
        for k in 1..=STREAMS as u64 - 3 {
            assert!(!st.goes_on(1, k * far, k * far + 10));
        }
        assert_eq!(st.0.len(), STREAMS);
        assert!(
            st.goes_on(1, 3 * m + SEQ_SLACK, 4 * m + SEQ_SLACK),
            "the first full's stream is kept"
        );
        assert!(
            st.goes_on(1, 100 * far + 3 * m, 100 * far + 4 * m),
            "and the second's"
        );
        assert!(
            !st.goes_on(1, 50 * far, 50 * far + 10),
            "one more pushes out the oldest one-off"
        );
        assert!(!st.goes_on(1, m / 2 + 10, m), "the read behind was pushed out");
        assert!(st.goes_on(1, 4 * m + SEQ_SLACK, 5 * m + SEQ_SLACK));
        assert!(
            !st.goes_on(1, 6 * m + 2 * SEQ_SLACK, 7 * m + 2 * SEQ_SLACK),
            "past the slack: a jump"
        );
    }
}
