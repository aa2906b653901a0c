//! Content-defined chunking: FastCDC v2020 (the `fastcdc` crate,
//! normalization level 1) with a 16 KiB average, 4 KiB minimum and
//! 64 KiB maximum (docs/dedup-choices.md has the measurements).
//!
//! A cut depends only on the bytes since the previous cut, so a stream
//! cut piece by piece gives the same chunks as cut whole, provided each
//! piece starts at a cut: the writer keeps the last chunk of a buffer (it
//! may end only because the buffer did) and cuts it again with the next
//! buffer's bytes behind it ([`Cuts::last_is_final`]).

use fastcdc::v2020::FastCDC;

/// Smallest chunk (but a stream's last).
pub const MIN: usize = 4 << 10;
/// Average chunk size the cut masks aim at.
pub const AVG: usize = 16 << 10;
/// Largest chunk: a cut is forced here.
pub const MAX: usize = 64 << 10;

/// The chunks of `data`, as (start, length), in order, covering it.
pub fn cuts(data: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    FastCDC::new(data, MIN, AVG, MAX).map(|c| (c.offset, c.length))
}

/// How a buffer's chunks split into those that are final and a tail that
/// must be cut again with the bytes that follow it.
#[derive(Debug, PartialEq, Eq)]
pub struct Cuts {
    /// Final chunks, as (start, length).
    pub chunks: Vec<(usize, usize)>,
    /// Where the tail to carry over starts (`data.len()` if none).
    pub carry_from: usize,
}

impl Cuts {
    /// Cuts `data`; unless `last_is_final`, the last chunk is not final
    /// (more bytes of the stream follow it) and is left as the tail.
    pub fn of(data: &[u8], last_is_final: bool) -> Cuts {
        let mut chunks: Vec<(usize, usize)> = cuts(data).collect();
        let mut carry_from = data.len();
        if !last_is_final {
            if let Some((start, _)) = chunks.pop() {
                carry_from = start;
            }
        }
        Cuts { chunks, carry_from }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn chunks_cover_the_data_within_the_size_bounds() {
        let data = noise(1 << 20, 1);
        let mut at = 0;
        let all: Vec<_> = cuts(&data).collect();
        for (i, &(start, len)) in all.iter().enumerate() {
            assert_eq!(start, at);
            assert!(len <= MAX);
            assert!(len >= MIN || i == all.len() - 1);
            at += len;
        }
        assert_eq!(at, data.len());
        let mean = data.len() / all.len();
        assert!((8 << 10..32 << 10).contains(&mean), "mean chunk {mean}");
    }

    #[test]
    fn cutting_piece_by_piece_with_carry_gives_the_whole_stream_cuts() {
        let data = noise(3 << 20, 2);
        let whole: Vec<_> = cuts(&data).collect();
        let mut pieced = Vec::new();
        let mut base = 0; // stream offset of buf[0]
        let mut buf: Vec<u8> = Vec::new();
        for piece in data.chunks(300_001) {
            buf.extend_from_slice(piece);
            let last = base + buf.len() == data.len();
            let c = Cuts::of(&buf, last);
            pieced.extend(c.chunks.iter().map(|&(s, l)| (base + s, l)));
            buf.drain(..c.carry_from);
            base += c.carry_from;
        }
        assert!(buf.is_empty());
        assert_eq!(pieced, whole);
    }

    #[test]
    fn an_insertion_changes_only_the_chunks_around_it() {
        let a = noise(2 << 20, 3);
        let mut b = a.clone();
        b.splice(700_000..700_000, [7u8; 100]);
        let set = |d: &[u8]| -> std::collections::HashSet<Vec<u8>> {
            cuts(d).map(|(s, l)| d[s..s + l].to_vec()).collect()
        };
        let (sa, sb) = (set(&a), set(&b));
        let new = sb.difference(&sa).count();
        assert!(new <= 3, "{new} new chunks after one insertion");
    }
}
