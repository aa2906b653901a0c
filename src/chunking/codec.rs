//! How a chunk is stored: zstd level 1, or raw when compressing does not
//! save at least 1/8 (docs/dedup-choices.md). Each chunk is compressed on
//! its own, so a read decompresses only the chunks it returns bytes of.
//! A chunk whose bytes look random (already compressed or encrypted data)
//! is stored raw without trying zstd, which would spend as much time on
//! it as on a chunk it shrinks ([`looks_random`]).

use std::fmt;

/// Stored form of a chunk; stored as an integer, never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Raw = 0,
    Zstd = 1,
}

impl Codec {
    /// From the stored integer.
    pub fn from_i64(v: i64) -> Option<Codec> {
        match v {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            _ => None,
        }
    }
}

/// zstd level for new chunks.
pub const LEVEL: i32 = 1;

/// A stored form that does not decode to its chunk.
#[derive(Debug)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Compresses chunks, reusing one context and one output buffer.
pub struct Compressor {
    ctx: Option<zstd::bulk::Compressor<'static>>,
    out: Vec<u8>,
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor").finish_non_exhaustive()
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

impl Compressor {
    /// A compressor (one that stores raw if zstd cannot start).
    pub fn new() -> Compressor {
        Compressor {
            ctx: zstd::bulk::Compressor::new(LEVEL).ok(),
            out: Vec::new(),
        }
    }

    /// The stored form of `raw`: compressed if that saves more than 1/8,
    /// else `raw` itself, which is also what a chunk that
    /// [`looks_random`] gets without zstd being tried.
    pub fn compress<'a>(&'a mut self, raw: &'a [u8]) -> (Codec, &'a [u8]) {
        let Some(ctx) = &mut self.ctx else {
            return (Codec::Raw, raw);
        };
        if looks_random(raw) {
            return (Codec::Raw, raw);
        }
        let room = raw.len() - raw.len() / 8;
        self.out.clear();
        self.out.reserve(room);
        // The buffer's capacity bounds the output: a chunk that does not
        // compress into it fails here and is stored raw.
        let mut dst = &mut self.out;
        match ctx.compress_to_buffer(raw, &mut dst) {
            Ok(n) if n < room => (Codec::Zstd, &self.out[..n]),
            _ => (Codec::Raw, raw),
        }
    }
}

/// Bytes per window [`looks_random`] tests on its own; a chunk shorter
/// than one is always tried.
const WINDOW: usize = 4096;
/// Runs of [`RUN`] bytes sampled per window, spread evenly over it.
const RUNS: usize = 16;
const RUN: usize = 32;
/// Bytes sampled per window.
const SAMPLES: usize = RUNS * RUN;
/// The largest sum of squared byte counts (of [`SAMPLES`] bytes over 256
/// values) that still passes for random bytes. Pearson's chi-square
/// against the uniform distribution is `sum(c^2) * 256 / SAMPLES -
/// SAMPLES`: 255 on average for random bytes, standard deviation 22.6;
/// the bar is 255 + 6 * 23 = 393, which random bytes pass but for about
/// one window in 16 million (the chi-square tail, heavier than a normal
/// one; zstd is then merely tried). Bytes skewed enough for
/// zstd's entropy coding to save 1/8 (7 bits of entropy per byte, e.g.
/// 128 values used evenly) give about 767, text several thousand.
const MAX_SQUARES: u32 = ((255 + 6 * 23 + SAMPLES) * SAMPLES / 256) as u32;

/// Whether every window of `raw` (its length split into windows of
/// 4-8 KiB) has its bytes spread over the 256 values as evenly as random
/// bytes are (a chi-square test of 512 sampled bytes per window, at 16
/// evenly spaced places). Such a chunk is compressed data, encrypted data or
/// noise, and zstd cannot save the 1/8 that keeps a chunk compressed,
/// unless the chunk repeats its own random bytes within it: those are
/// stored raw, a loss of space only. One window that is not random (text,
/// zeros, a header) is enough for the chunk to be tried, and ends the
/// test. In a profile of four streams into a pool it took 6% of what
/// compression took (0.8% of the machine's CPU).
pub fn looks_random(raw: &[u8]) -> bool {
    let windows = raw.len() / WINDOW;
    if windows == 0 {
        return false;
    }
    let len = raw.len() / windows;
    (0..windows).all(|w| {
        let window = &raw[w * len..(w + 1) * len];
        let step = window.len() / RUNS;
        let mut counts = [0u16; 256];
        for r in 0..RUNS {
            for &b in &window[r * step..r * step + RUN] {
                counts[usize::from(b)] += 1;
            }
        }
        let squares: u32 = counts.iter().map(|&c| u32::from(c) * u32::from(c)).sum();
        squares <= MAX_SQUARES
    })
}

/// Decodes stored chunks, reusing one context, made at the first zstd
/// chunk: making one costs more than decoding a small chunk (a restore's
/// profile showed 4% in `ZSTD_createDCtx` when readers made them per
/// read), so a `Decompressor` is cheap to make, default or move.
pub struct Decompressor {
    ctx: Option<zstd::bulk::Decompressor<'static>>,
}

impl fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressor").finish_non_exhaustive()
    }
}

impl Default for Decompressor {
    fn default() -> Self {
        Decompressor::new()
    }
}

impl Decompressor {
    /// A decompressor (no zstd context yet).
    pub fn new() -> Decompressor {
        Decompressor { ctx: None }
    }

    /// Decodes `stored` (in form `codec`) into `out`, which must be the
    /// chunk's length exactly.
    ///
    /// # Errors
    /// [`DecodeError`] if the stored bytes do not decode to exactly
    /// `out.len()` bytes.
    pub fn decode(&mut self, codec: Codec, stored: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
        match codec {
            Codec::Raw if stored.len() == out.len() => {
                out.copy_from_slice(stored);
                Ok(())
            }
            Codec::Raw => Err(DecodeError(format!(
                "raw chunk of {} bytes stored as {}",
                out.len(),
                stored.len()
            ))),
            Codec::Zstd => {
                if self.ctx.is_none() {
                    self.ctx = Some(
                        zstd::bulk::Decompressor::new()
                            .map_err(|e| DecodeError(format!("no zstd context: {e}")))?,
                    );
                }
                let ctx = self.ctx.as_mut().expect("made above");
                match ctx.decompress_to_buffer(stored, out) {
                    Ok(n) if n == out.len() => Ok(()),
                    Ok(n) => Err(DecodeError(format!("decodes to {n} bytes, not {}", out.len()))),
                    Err(e) => Err(DecodeError(format!("zstd: {e}"))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_chunks_shrink_and_come_back() {
        let raw: Vec<u8> = (0..20_000u32).map(|i| (i % 17) as u8).collect();
        let mut c = Compressor::new();
        let (codec, stored) = c.compress(&raw);
        assert_eq!(codec, Codec::Zstd);
        assert!(stored.len() < raw.len() / 2);
        let stored = stored.to_vec();
        let mut out = vec![0; raw.len()];
        Decompressor::new().decode(codec, &stored, &mut out).unwrap();
        assert_eq!(out, raw);
    }

    #[test]
    fn incompressible_chunks_stay_raw() {
        let mut x = 9u64;
        let raw: Vec<u8> = (0..20_000)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                (x >> 33) as u8
            })
            .collect();
        let mut c = Compressor::new();
        let (codec, stored) = c.compress(&raw);
        assert_eq!(codec, Codec::Raw);
        assert_eq!(stored, &raw[..]);
    }

    /// `n` bytes from a 64-bit LCG seeded with `seed` (its high bits).
    fn noise(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect()
    }

    fn text(n: usize) -> Vec<u8> {
        let line = b"2026-12-07T13:51:15Z combstore[4242]: image 17 closed complete, 65536 bytes\n";
        line.iter().copied().cycle().take(n).collect()
    }

    #[test]
    fn random_chunks_are_recognized_at_every_size_and_seed() {
        for seed in 0..2000u64 {
            let n = 4096 + (seed as usize * 977) % (60 * 1024);
            assert!(looks_random(&noise(seed, n)), "seed {seed}, {n} bytes");
        }
        // the largest chunk, and lengths past it (nothing panics)
        for n in [64 * 1024, 64 * 1024 + 1, 1 << 20, 8191, 8192, 8193] {
            assert!(looks_random(&noise(n as u64, n)), "{n} bytes");
        }
    }

    #[test]
    fn chunks_with_any_window_that_is_not_random_are_tried() {
        assert!(!looks_random(&text(16 * 1024)));
        assert!(!looks_random(&vec![0u8; 16 * 1024]));
        // shorter than a window: always tried
        assert!(!looks_random(&noise(1, 4095)));
        // 6 bits per byte: zstd's entropy coding saves a quarter
        let six: Vec<u8> = noise(2, 16 * 1024).iter().map(|b| b & 63).collect();
        assert!(!looks_random(&six));
        assert_eq!(Compressor::new().compress(&six).0, Codec::Zstd);
        // 7 bits per byte, which zstd can no longer save 1/8 of, is still tried
        let seven: Vec<u8> = noise(3, 16 * 1024).iter().map(|b| b & 127).collect();
        assert!(!looks_random(&seven));
        // three random windows and one of text: tried, and it pays
        let mut mixed = noise(4, 12 * 1024);
        mixed.extend(text(4 * 1024));
        assert!(!looks_random(&mixed));
        let mut c = Compressor::new();
        let (codec, stored) = c.compress(&mixed);
        assert_eq!(codec, Codec::Zstd);
        let stored = stored.to_vec();
        let mut out = vec![0; mixed.len()];
        Decompressor::new().decode(codec, &stored, &mut out).unwrap();
        assert_eq!(out, mixed);
    }

    #[test]
    fn damaged_stored_forms_are_errors_not_panics() {
        let raw = vec![5u8; 10_000];
        let mut c = Compressor::new();
        let stored = c.compress(&raw).1.to_vec();
        let mut d = Decompressor::new();
        let mut out = vec![0; raw.len()];
        for cut in [0, 1, stored.len() / 2, stored.len() - 1] {
            assert!(d.decode(Codec::Zstd, &stored[..cut], &mut out).is_err());
        }
        let mut flipped = stored.clone();
        flipped[stored.len() / 2] ^= 0x55;
        let _ = d.decode(Codec::Zstd, &flipped, &mut out); // any result, no panic
        let mut short = vec![0; raw.len() - 1];
        assert!(d.decode(Codec::Zstd, &stored, &mut short).is_err());
        assert!(d.decode(Codec::Raw, &raw[..10], &mut out).is_err());
    }
}
