//! What the deduplicating write path does to bytes before they are
//! stored, each behind a small type of its own: where a stream is cut
//! ([`cdc`]), what names a chunk ([`fingerprint`]) and how a chunk is
//! stored ([`codec`]). Plain functions of bytes: no catalog, no files.
//!
//! The choices (FastCDC v2020 at 16 KiB, keyed BLAKE3, zstd level 1 kept
//! raw unless it saves 1/8, chunks that look random kept raw untried)
//! were measured before they were made:
//! docs/dedup-choices.md.

pub mod cdc;
pub mod codec;
pub mod fingerprint;

pub use codec::{Codec, Compressor, Decompressor};
pub use fingerprint::Fingerprint;
