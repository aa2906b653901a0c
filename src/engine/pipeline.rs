//! Compressing one buffer's new chunks while the writer cuts the next.
//!
//! A first full is bound by CPU: per byte zstd -1 costs about 2.3 ns,
//! SHA-1 0.7, FastCDC 0.6 and BLAKE3 0.3. FastCDC's cuts are sequential,
//! and while a writer cut a buffer the second core had only SHA-1 to do.
//! So a writer hands each cut, fingerprinted and looked-up buffer (a
//! [`Batch`]) to a persistent helper thread and returns to its caller;
//! while the helper compresses the batch's new chunks, the writer fills,
//! cuts and fingerprints the next buffer, then compresses what the helper
//! has not claimed yet (chunks are claimed one at a time), takes the
//! helper's results and stores the batch's chunks, in order, itself.
//!
//! At most one batch is in flight, and it is stored (its new chunks are
//! then pending) before the next buffer's fingerprints are looked up, so
//! deduplication within a stream is exactly what it was without the
//! helper. The helper only compresses: every I/O and catalog step stays on
//! the writer's thread, so errors and the commit protocol are unchanged,
//! and a commit stores the batch in flight first. A helper that dies (a
//! panic, a bug) leaves its chunks to the writer, which compresses them.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam::channel::{Receiver, Sender, bounded};

use crate::chunking::{Codec, Compressor, Fingerprint};

/// Below this many bytes of new chunks a batch stays on the writer's
/// thread: handing it over costs more than it saves.
const SPLIT_MIN: usize = 256 << 10;

/// A cut buffer on its way to being stored.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The buffer, starting at image offset `off`.
    pub buf: Vec<u8>,
    pub off: u64,
    /// Leading bytes hashed with the buffer before (the carried tail).
    pub skip: usize,
    /// Its chunks, as (start, length), and their fingerprints.
    pub chunks: Vec<(usize, usize)>,
    pub fps: Vec<Fingerprint>,
    /// Indexes of the chunks to compress (first sightings the server lacks).
    pub fresh: Vec<usize>,
    /// The next position in `fresh` nobody has claimed.
    next: AtomicUsize,
}

impl Batch {
    pub(crate) fn new(
        buf: Vec<u8>,
        off: u64,
        skip: usize,
        chunks: Vec<(usize, usize)>,
        fps: Vec<Fingerprint>,
        fresh: Vec<usize>,
    ) -> Batch {
        Batch {
            buf,
            off,
            skip,
            chunks,
            fps,
            fresh,
            next: AtomicUsize::new(0),
        }
    }

    /// Compresses unclaimed fresh chunks with `c` until none is left,
    /// appending stored forms to `out`; returns (chunk index, codec, range
    /// in `out`) per chunk (a raw chunk's range is empty: its own bytes).
    fn compress_claimed(&self, c: &mut Compressor, out: &mut Vec<u8>) -> Done {
        let mut done = Vec::new();
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = self.fresh.get(k) else {
                return done;
            };
            let (s, l) = self.chunks[i];
            let (codec, stored) = c.compress(&self.buf[s..s + l]);
            if codec == Codec::Raw {
                done.push((i, codec, 0..0));
            } else {
                let a = out.len();
                out.extend_from_slice(stored);
                done.push((i, codec, a..out.len()));
            }
        }
    }
}

type Done = Vec<(usize, Codec, Range<usize>)>;

/// What the helper is given: a batch, its output buffer, and (tests) an
/// order to die.
struct Job {
    batch: Arc<Batch>,
    out: Vec<u8>,
    die: bool,
}

struct Helper {
    work: Sender<Job>,
    done: Receiver<(Done, Vec<u8>)>,
}

impl Helper {
    fn spawn() -> Option<Helper> {
        let (work, todo) = bounded::<Job>(1);
        let (back, done) = bounded(1);
        std::thread::Builder::new()
            .name("combstore-zstd".into())
            .spawn(move || {
                let mut c = Compressor::new();
                for Job { batch, mut out, die } in todo {
                    assert!(!die, "helper told to die (a test)");
                    out.clear();
                    let d = batch.compress_claimed(&mut c, &mut out);
                    // The writer takes the buffer back once it is alone.
                    drop(batch);
                    if back.send((d, out)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Helper { work, done })
    }
}

/// The stored forms of some of a batch's chunks.
#[derive(Debug, Default)]
pub(crate) struct Forms {
    /// Per chunk index: the codec, and for a compressed chunk which
    /// output holds it where (a raw chunk is its own bytes).
    at: Vec<Option<(Codec, usize, Range<usize>)>>,
    out: [Vec<u8>; 2],
}

impl Forms {
    /// The stored form of chunk `i`, whose bytes are `raw`, if it was
    /// compressed here.
    pub(crate) fn form<'a>(&'a self, i: usize, raw: &'a [u8]) -> Option<(Codec, &'a [u8])> {
        match self.at.get(i)? {
            Some((Codec::Raw, ..)) => Some((Codec::Raw, raw)),
            Some((c, w, r)) => Some((*c, &self.out[*w][r.clone()])),
            None => None,
        }
    }
}

/// A writer's compression: its own compressor, the helper thread (started
/// at the first batch worth it) and the batch in flight.
#[derive(Default)]
pub(crate) struct Pipeline {
    mine: Compressor,
    helper: Option<Helper>,
    /// The batch in flight, and whether the helper has it.
    inflight: Option<(Arc<Batch>, bool)>,
    /// Image bytes of the chunks in flight.
    inflight_bytes: u64,
    /// Output buffers, reused: the writer's, and the helper's while home.
    outs: [Vec<u8>; 2],
    /// Tests: the helper panics at its next batch.
    kill_helper: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("helper", &self.helper.is_some())
            .field("inflight_bytes", &self.inflight_bytes)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Whether the helper is compressing a batch (a batch with little new
    /// in it stays with the writer: the helper is then idle).
    pub(crate) fn helper_busy(&self) -> bool {
        self.inflight.as_ref().is_some_and(|(_, sent)| *sent)
    }

    /// The fingerprints of the batch in flight (none if none is).
    pub(crate) fn inflight_fps(&self) -> &[Fingerprint] {
        self.inflight.as_ref().map_or(&[], |(b, _)| &b.fps[..])
    }

    /// Image bytes of the chunks in flight (cut, not stored yet).
    pub(crate) fn inflight_bytes(&self) -> u64 {
        self.inflight_bytes
    }

    /// The stored form of one chunk, on this thread.
    pub(crate) fn compress_one<'a>(&'a mut self, raw: &'a [u8]) -> (Codec, &'a [u8]) {
        self.mine.compress(raw)
    }

    /// Tests: the helper panics at its next batch.
    #[cfg(test)]
    pub(crate) fn kill_helper(&mut self) {
        self.kill_helper = true;
    }

    /// Starts compressing `b` (the batch before it must have been taken
    /// with [`Pipeline::finish`]).
    pub(crate) fn start(&mut self, b: Batch) {
        debug_assert!(self.inflight.is_none(), "one batch in flight");
        self.inflight_bytes = b.chunks.iter().map(|&(_, l)| l as u64).sum();
        let work: usize = b.fresh.iter().map(|&i| b.chunks[i].1).sum();
        let b = Arc::new(b);
        let mut sent = false;
        if work >= SPLIT_MIN && b.fresh.len() >= 2 {
            if self.helper.is_none() {
                self.helper = Helper::spawn();
            }
            if let Some(h) = &self.helper {
                let job = Job {
                    batch: Arc::clone(&b),
                    out: std::mem::take(&mut self.outs[1]),
                    die: std::mem::take(&mut self.kill_helper),
                };
                sent = h.work.send(job).is_ok();
                if !sent {
                    self.helper = None;
                }
            }
        }
        self.inflight = Some((b, sent));
    }

    /// Compresses what is left of the batch in flight, waits for the
    /// helper, and returns the batch with its chunks' stored forms (none
    /// for chunks a dead helper had claimed: the caller compresses them).
    pub(crate) fn finish(&mut self) -> Option<(Batch, Forms)> {
        let (b, sent) = self.inflight.take()?;
        self.inflight_bytes = 0;
        let mut out0 = std::mem::take(&mut self.outs[0]);
        out0.clear();
        let mine = b.compress_claimed(&mut self.mine, &mut out0);
        let mut forms = Forms {
            at: vec![None; b.chunks.len()],
            out: [out0, Vec::new()],
        };
        for (i, codec, r) in mine {
            forms.at[i] = Some((codec, 0, r));
        }
        if sent {
            match self.helper.as_ref().map(|h| h.done.recv()) {
                Some(Ok((theirs, out1))) => {
                    forms.out[1] = out1;
                    for (i, codec, r) in theirs {
                        forms.at[i] = Some((codec, 1, r));
                    }
                }
                _ => self.helper = None,
            }
        }
        let batch = Arc::try_unwrap(b).unwrap_or_else(|shared| {
            // Only if a dead helper still held it: copy it out.
            Batch::new(
                shared.buf.clone(),
                shared.off,
                shared.skip,
                shared.chunks.clone(),
                shared.fps.clone(),
                shared.fresh.clone(),
            )
        });
        Some((batch, forms))
    }

    /// Takes back the output buffers of `forms` for the next batches.
    pub(crate) fn recycle(&mut self, forms: Forms) {
        let [a, b] = forms.out;
        self.outs[0] = a;
        if b.capacity() > 0 {
            self.outs[1] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(n: usize) -> Vec<u8> {
        let mut x = 7u64;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if (i >> 14) % 2 == 0 {
                    x as u8
                } else {
                    (i % 7) as u8
                }
            })
            .collect()
    }

    fn batch(buf: Vec<u8>) -> Batch {
        let chunks: Vec<_> = crate::chunking::cdc::cuts(&buf).collect();
        let fps = chunks
            .iter()
            .map(|&(s, l)| Fingerprint::of(&buf[s..s + l]))
            .collect();
        let fresh = (0..chunks.len()).collect();
        Batch::new(buf, 0, 0, chunks, fps, fresh)
    }

    fn expected(b: &Batch) -> Vec<(Codec, Vec<u8>)> {
        let mut c = Compressor::new();
        b.chunks
            .iter()
            .map(|&(s, l)| {
                let (codec, stored) = c.compress(&b.buf[s..s + l]);
                (codec, stored.to_vec())
            })
            .collect()
    }

    fn check(p: &mut Pipeline, buf: Vec<u8>, dead_helper: bool) {
        let b = batch(buf);
        let want = expected(&b);
        p.start(b);
        let (b, forms) = p.finish().unwrap();
        assert!(!p.helper_busy());
        for (i, &(s, l)) in b.chunks.iter().enumerate() {
            let raw = &b.buf[s..s + l];
            match forms.form(i, raw) {
                Some((codec, stored)) => assert_eq!((codec, stored.to_vec()), want[i]),
                None => assert!(dead_helper, "chunk {i} has no form"),
            }
        }
        p.recycle(forms);
    }

    #[test]
    fn every_fresh_chunk_gets_the_form_one_thread_gives_it() {
        let mut p = Pipeline::default();
        for _ in 0..3 {
            check(&mut p, noisy(1 << 20), false);
        }
        assert!(p.helper.is_some());
        check(&mut p, noisy(10_000), false);
    }

    #[test]
    fn a_dead_helper_leaves_its_chunks_to_the_writer() {
        let mut p = Pipeline::default();
        check(&mut p, noisy(1 << 20), false);
        p.kill_helper();
        check(&mut p, noisy(1 << 20), true);
        assert!(p.helper.is_none(), "a dead helper is dropped");
        // the next batch starts a new one
        check(&mut p, noisy(1 << 20), false);
        assert!(p.helper.is_some());
    }
}
