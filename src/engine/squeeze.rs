//! The CPU-heavy part of storing a buffer of new bytes, spread over two
//! threads: fingerprinting its chunks and compressing the new ones.
//!
//! A writer cuts its 1 MiB buffer into chunks on its own thread (cuts
//! are sequential), then fingerprints them and compresses those the
//! server lacks, half on a scoped helper thread, half on its own; the
//! image's SHA-1 runs on a third (engine::digest). Compression is most of
//! the cost of new data (docs/dedup-choices.md: zstd -1 at ~440 MB/s
//! against BLAKE3's ~3,200), so on two cores this nearly halves the time
//! a first full spends per buffer. Small batches stay on one thread: a
//! thread costs tens of microseconds.

use std::ops::Range;

use crate::chunking::{Codec, Compressor, Fingerprint};

/// Below this many bytes of work a batch stays on the caller's thread.
const SPLIT_MIN: usize = 256 << 10;

/// The fingerprints of `buf`'s chunks (`(start, len)` each), in order.
pub(crate) fn fingerprints(buf: &[u8], chunks: &[(usize, usize)]) -> Vec<Fingerprint> {
    let of = |cs: &[(usize, usize)]| -> Vec<Fingerprint> {
        cs.iter().map(|&(s, l)| Fingerprint::of(&buf[s..s + l])).collect()
    };
    if buf.len() < SPLIT_MIN || chunks.len() < 2 {
        return of(chunks);
    }
    let (a, b) = chunks.split_at(chunks.len() / 2);
    std::thread::scope(|sc| {
        let other = sc.spawn(|| of(b));
        let mut out = of(a);
        match other.join() {
            Ok(rest) => out.extend(rest),
            // A panic there is a bug; do its share here instead.
            Err(_) => out.extend(of(b)),
        }
        out
    })
}

/// Two compressors, one per thread, reused buffer after buffer.
#[derive(Debug, Default)]
pub(crate) struct Squeezer {
    mine: Compressor,
    helper: Compressor,
}

/// Stored forms of some of a buffer's chunks.
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

impl Squeezer {
    /// The stored form of one chunk, on this thread.
    pub(crate) fn compress_one<'a>(&'a mut self, raw: &'a [u8]) -> (Codec, &'a [u8]) {
        self.mine.compress(raw)
    }

    /// Stored forms of `buf`'s chunks numbered in `which` (indexes into
    /// `chunks`).
    pub(crate) fn compress(&mut self, buf: &[u8], chunks: &[(usize, usize)], which: &[usize]) -> Forms {
        let mut forms = Forms {
            at: vec![None; chunks.len()],
            ..Forms::default()
        };
        let bytes: usize = which.iter().map(|&i| chunks[i].1).sum();
        let run =
            |c: &mut Compressor, ids: &[usize], out: &mut Vec<u8>| -> Vec<(usize, Codec, Range<usize>)> {
                ids.iter()
                    .map(|&i| {
                        let (s, l) = chunks[i];
                        let (codec, stored) = c.compress(&buf[s..s + l]);
                        if codec == Codec::Raw {
                            (i, codec, 0..0) // the chunk's own bytes: no copy
                        } else {
                            let a = out.len();
                            out.extend_from_slice(stored);
                            (i, codec, a..out.len())
                        }
                    })
                    .collect()
            };
        let (mut o0, mut o1) = (Vec::new(), Vec::new());
        let results = if bytes < SPLIT_MIN || which.len() < 2 {
            vec![(0, run(&mut self.mine, which, &mut o0))]
        } else {
            let (a, b) = which.split_at(which.len() / 2);
            let (mine, helper) = (&mut self.mine, &mut self.helper);
            std::thread::scope(|sc| {
                let other = sc.spawn(|| run(helper, b, &mut o1));
                let first = run(mine, a, &mut o0);
                match other.join() {
                    Ok(second) => vec![(0, first), (1, second)],
                    // A panic there is a bug; those chunks are then
                    // compressed one by one by the writer.
                    Err(_) => vec![(0, first)],
                }
            })
        };
        forms.out = [o0, o1];
        for (w, list) in results {
            for (i, codec, r) in list {
                forms.at[i] = Some((codec, w, r));
            }
        }
        forms
    }
}
