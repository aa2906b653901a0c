//! How a chunk is stored: zstd level 1, or raw when compressing does not
//! save at least 1/8 (docs/dedup-choices.md). Each chunk is compressed on
//! its own, so a read decompresses only the chunks it returns bytes of.

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

    /// The stored form of `raw`: compressed if that saves at least 1/8,
    /// else `raw` itself.
    pub fn compress<'a>(&'a mut self, raw: &'a [u8]) -> (Codec, &'a [u8]) {
        let Some(ctx) = &mut self.ctx else {
            return (Codec::Raw, raw);
        };
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
