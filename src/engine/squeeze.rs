//! Fingerprinting a buffer's chunks, on one thread or two.
//!
//! BLAKE3 is cheap (~0.3 ns a byte), but a whole buffer of it on the
//! writer's thread is still worth halving when the other core is idle:
//! unless the compressing helper (engine::pipeline) has a batch, half the
//! chunks go to a helper thread (engine::cores). While it has one, a
//! second thread would only take turns with it. Small batches stay on
//! one thread: handing work over costs microseconds.

use crate::chunking::Fingerprint;

/// Below this many bytes of work a batch stays on the caller's thread.
const SPLIT_MIN: usize = 256 << 10;

/// The fingerprints of `buf`'s chunks (`(start, len)` each), in order;
/// on two threads if `split` and the batch is large enough.
pub(crate) fn fingerprints(buf: &[u8], chunks: &[(usize, usize)], split: bool) -> Vec<Fingerprint> {
    let of = |cs: &[(usize, usize)]| -> Vec<Fingerprint> {
        cs.iter().map(|&(s, l)| Fingerprint::of(&buf[s..s + l])).collect()
    };
    if !split || buf.len() < SPLIT_MIN || chunks.len() < 2 {
        return of(chunks);
    }
    let (a, b) = chunks.split_at(chunks.len() / 2);
    let (mut out, rest) = super::cores::both(|| of(a), || of(b));
    match rest {
        Ok(rest) => out.extend(rest),
        // A panic there is a bug; do its share here instead.
        Err(_) => out.extend(of(b)),
    }
    out
}
