//! The SHA-1 of an image's bytes, computed while they are written.
//!
//! SHA-1 costs about as much CPU per byte as everything else on the write
//! path together (copy, crc32c, `pwrite`), and it is strictly sequential.
//! So once an image passes one full chunk, its hashing moves to a thread of
//! its own: the writer hands each stored chunk buffer over and takes back
//! an empty one, and hashing of chunk *n* overlaps storing chunk *n+1* on a
//! second core. A few buffers circulate per writer ([`BUFFERS`]), so
//! memory stays bounded whatever the image size, and the bounded channel
//! makes a writer that outruns its hasher wait instead of queueing bytes.
//!
//! Small images (one chunk or less) are hashed inline: a thread would cost
//! more than it saves. Bytes that arrive out of order switch hashing off;
//! the image's SHA-1 is then computed by reading back at completion.

use std::thread::JoinHandle;

use crossbeam::channel::{Receiver, Sender, bounded};
use sha1::{Digest, Sha1};

use crate::catalog::MAX_CHUNK;
use crate::log_warn;
use crate::logging::ServerLog;

/// Chunk buffers in circulation per threaded hasher (the writer's current
/// one included): enough that neither side waits on buffers when both
/// keep up, few enough that a writer holds at most this many chunks.
const BUFFERS: usize = 3;

/// SHA-1 of a byte stream that must arrive in order from offset 0.
#[derive(Debug)]
pub(crate) struct StreamHash {
    /// Bytes hashed (or handed to the hashing thread) so far.
    upto: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    Inline(Sha1),
    Threaded(Worker),
    /// Bytes came out of order (or hashing never started): no digest.
    Off,
}

#[derive(Debug)]
struct Worker {
    /// Full chunks to hash, in order, each after the bytes to skip;
    /// dropping it ends the thread.
    work: Option<Sender<(usize, Vec<u8>)>>,
    /// Hashed buffers coming back for reuse.
    spare: Receiver<Vec<u8>>,
    /// Buffers allocated so far (at most [`BUFFERS`]).
    allocated: usize,
    thread: Option<JoinHandle<Sha1>>,
}

impl StreamHash {
    /// A stream starting at offset 0.
    pub(crate) fn new() -> StreamHash {
        StreamHash {
            upto: 0,
            state: State::Inline(Sha1::new()),
        }
    }

    /// No digest will be produced (a reopened image: its earlier bytes were
    /// not seen here).
    pub(crate) fn off() -> StreamHash {
        StreamHash {
            upto: 0,
            state: State::Off,
        }
    }

    /// Switches hashing off: the digest is then computed by reading back.
    pub(crate) fn stop(&mut self) {
        self.state = State::Off;
    }

    /// Takes `chunk`, the image's bytes at `off`, into the digest and
    /// returns an empty buffer (with room for a chunk) for the next one.
    /// Its first `skip` bytes were taken before (the writer's buffers
    /// start with the tail the chunker carried over) and are skipped.
    pub(crate) fn absorb(&mut self, off: u64, mut chunk: Vec<u8>, skip: usize, log: &ServerLog) -> Vec<u8> {
        let skip = skip.min(chunk.len());
        if off + skip as u64 != self.upto {
            self.stop();
        }
        self.upto = off + chunk.len() as u64;
        match &mut self.state {
            State::Off => {}
            State::Inline(h) if chunk.len() as u64 == MAX_CHUNK => match Worker::start(h.clone(), log) {
                Some(mut w) => {
                    let next = w.hand_over(skip, chunk);
                    self.state = State::Threaded(w);
                    return next.unwrap_or_else(|| {
                        self.stop();
                        chunk_buffer()
                    });
                }
                None => h.update(&chunk[skip..]),
            },
            State::Inline(h) => h.update(&chunk[skip..]),
            State::Threaded(w) => match w.hand_over(skip, chunk) {
                Some(next) => return next,
                None => {
                    log_warn!(log, "hashing thread ended early; the digest will be read back");
                    self.stop();
                    return chunk_buffer();
                }
            },
        }
        chunk.clear();
        chunk
    }

    /// The SHA-1 of bytes `0..size`, or `None` if they did not all arrive
    /// here in order (the caller then reads the image back).
    pub(crate) fn finish(self, size: u64) -> Option<[u8; 20]> {
        if self.upto != size {
            return None;
        }
        let h = match self.state {
            State::Off => return None,
            State::Inline(h) => h,
            State::Threaded(mut w) => w.join()?,
        };
        Some(h.finalize().into())
    }
}

fn chunk_buffer() -> Vec<u8> {
    Vec::with_capacity(MAX_CHUNK as usize)
}

impl Worker {
    /// Starts a hashing thread continuing from `h`; `None` if the system
    /// refuses a thread (the caller then hashes inline).
    fn start(mut h: Sha1, log: &ServerLog) -> Option<Worker> {
        let (work, todo) = bounded::<(usize, Vec<u8>)>(BUFFERS - 1);
        let (back, spare) = bounded::<Vec<u8>>(BUFFERS);
        let thread = std::thread::Builder::new()
            .name("combstore-sha1".into())
            .spawn(move || {
                for (skip, mut chunk) in todo {
                    h.update(&chunk[skip..]);
                    chunk.clear();
                    // The writer may have stopped taking buffers back.
                    let _ = back.try_send(chunk);
                }
                h
            });
        match thread {
            Ok(t) => Some(Worker {
                work: Some(work),
                spare,
                allocated: 1,
                thread: Some(t),
            }),
            Err(e) => {
                log_warn!(log, "no hashing thread ({e}); hashing inline");
                None
            }
        }
    }

    /// Queues `chunk` (waiting while the hasher is [`BUFFERS`] behind) and
    /// returns an empty buffer; `None` if the thread is gone.
    fn hand_over(&mut self, skip: usize, chunk: Vec<u8>) -> Option<Vec<u8>> {
        self.work.as_ref()?.send((skip, chunk)).ok()?;
        if let Ok(b) = self.spare.try_recv() {
            return Some(b);
        }
        if self.allocated < BUFFERS {
            self.allocated += 1;
            return Some(chunk_buffer());
        }
        self.spare.recv().ok()
    }

    /// Waits for every queued chunk to be hashed.
    fn join(&mut self) -> Option<Sha1> {
        drop(self.work.take());
        self.thread.take()?.join().ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Ends the thread after what is queued; nobody waits for it.
        drop(self.work.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> ServerLog {
        ServerLog::with(
            std::path::Path::new("/nonexistent"),
            crate::logging::Filter::default(),
            0,
        )
    }

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn sha1(b: &[u8]) -> [u8; 20] {
        Sha1::digest(b).into()
    }

    #[test]
    fn in_order_chunks_give_the_sha1_of_the_stream_inline_and_threaded() {
        let c = MAX_CHUNK as usize;
        for sizes in [vec![100], vec![c], vec![c, c, c, c, c, 17], vec![c / 2, c, 5]] {
            let mut all = Vec::new();
            let mut h = StreamHash::new();
            let mut buf = chunk_buffer();
            for (i, n) in sizes.iter().enumerate() {
                buf.extend_from_slice(&pattern(*n, i as u8));
                all.extend_from_slice(&buf);
                let off = all.len() - buf.len();
                buf = h.absorb(off as u64, buf, 0, &log());
                assert!(buf.is_empty() && buf.capacity() >= *n.min(&c));
            }
            assert_eq!(h.finish(all.len() as u64), Some(sha1(&all)), "sizes {sizes:?}");
        }
    }

    #[test]
    fn a_gap_a_rewrite_or_a_short_stream_gives_no_digest() {
        let c = MAX_CHUNK as usize;
        let mut h = StreamHash::new();
        let b = h.absorb(0, pattern(c, 1), 0, &log());
        let _ = h.absorb(2 * c as u64, b, 0, &log());
        assert_eq!(h.finish(3 * c as u64), None);

        let mut h = StreamHash::new();
        let b = h.absorb(0, pattern(c, 1), 0, &log());
        let _ = h.absorb(0, b, 0, &log());
        assert_eq!(h.finish(c as u64), None);

        let mut h = StreamHash::new();
        let _ = h.absorb(0, pattern(10, 1), 0, &log());
        assert_eq!(h.finish(20), None);
        assert_eq!(StreamHash::off().finish(0), None);
    }

    #[test]
    fn a_stopped_or_dropped_threaded_hash_ends_its_thread() {
        let c = MAX_CHUNK as usize;
        let mut h = StreamHash::new();
        let mut b = h.absorb(0, pattern(c, 1), 0, &log());
        for i in 1..10u64 {
            b.extend_from_slice(&pattern(c, i as u8));
            b = h.absorb(i * c as u64, b, 0, &log());
        }
        drop(h);
        let mut h = StreamHash::new();
        let _ = h.absorb(0, pattern(c, 1), 0, &log());
        h.stop();
        assert_eq!(h.finish(c as u64), None);
    }
}
