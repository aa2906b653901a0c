//! Stored bytes: the chunk store seam ([`chunk_store::ChunkStore`]) and
//! its implementations (append-only segment files: [`local`], over
//! [`segment`] and [`read`]; a pool's objects in an S3-compatible store:
//! [`s3`]; bytes in memory for tests: [`memory`]), and
//! the per-process owner locks that tell live writers from dead ones.
//!
//! Nothing here knows about images or the catalog; the engine decides what
//! to append and records where it went.

pub mod checksum;
pub mod chunk_store;
pub mod crash;
pub mod liveness;
pub mod local;
pub mod lock;
pub mod memory;
pub mod read;
pub mod s3;
pub mod segment;

pub use chunk_store::{ChunkStore, SegmentReader, SegmentStat, SegmentWriter};

/// Chunks start at multiples of this inside a segment, so freeing a dead
/// chunk with hole punching returns whole filesystem blocks.
pub const CHUNK_ALIGN: u64 = 4096;

/// Rounds `n` up to [`CHUNK_ALIGN`].
pub fn align_up(n: u64) -> u64 {
    n.div_ceil(CHUNK_ALIGN) * CHUNK_ALIGN
}

/// Fills `buf` with bytes from the OS random source.
///
/// # Panics
/// If the kernel's random source fails, which Linux does not do once booted.
pub fn random_bytes(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("read /dev/urandom");
}

/// A random 128-bit value as 32 lower-case hex digits.
pub fn random_hex128() -> String {
    let mut b = [0u8; 16];
    random_bytes(&mut b);
    hex(&b)
}

/// Lower-case hex (`crate::hex::encode`), for the store and the engine.
pub use crate::hex::encode as hex;
