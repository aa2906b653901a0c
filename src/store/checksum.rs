//! Chunk checksums: one crc32c per [`CRC_BLOCK`] bytes of a chunk.
//!
//! A read verifies the blocks it touches, not the whole chunk, and must
//! read all of them from disk: every returned byte is covered by a
//! verified checksum. The block size trades read amplification against
//! catalog space. Issue 8 measured cold random 64 KiB reads at 4 KiB-
//! aligned offsets, reading the covering blocks of a raw file: 0.75x of
//! the plain reads' speed with 64 KiB blocks (128 KiB read for most of
//! them), 0.9x with 16 KiB blocks. A 16 KiB block costs 4 bytes of catalog
//! per 16 KiB stored (256 bytes per full chunk, 0.025%). In the catalog
//! the list is a blob of little-endian u32s, one per block, the last block
//! possibly short.

/// Bytes covered by one checksum.
pub const CRC_BLOCK: u64 = 16 << 10;
/// Most blocks in a chunk (chunks are at most 1 MiB).
pub const MAX_BLOCKS: usize = 64;

/// The checksums of one chunk's blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockCrcs {
    n: u8,
    crcs: [u32; MAX_BLOCKS],
}

impl BlockCrcs {
    /// Checksums of `bytes` (at most `MAX_BLOCKS * CRC_BLOCK` of them).
    ///
    /// # Panics
    /// If `bytes` is longer than a chunk may be (a caller bug).
    pub fn of(bytes: &[u8]) -> BlockCrcs {
        let mut out = BlockCrcs {
            n: 0,
            crcs: [0; MAX_BLOCKS],
        };
        for (i, block) in bytes.chunks(CRC_BLOCK as usize).enumerate() {
            out.crcs[i] = crc32c::crc32c(block);
            out.n += 1;
        }
        out
    }

    /// The catalog form: `4 * blocks` bytes.
    pub fn to_blob(&self) -> Vec<u8> {
        self.crcs[..usize::from(self.n)]
            .iter()
            .flat_map(|c| c.to_le_bytes())
            .collect()
    }

    /// Parses the catalog form for a chunk of `len` bytes; `None` if the
    /// blob does not hold exactly one checksum per block (a damaged row,
    /// which then fails every read of the chunk).
    pub fn from_blob(blob: &[u8], len: u64) -> Option<BlockCrcs> {
        let n = usize::try_from(len.div_ceil(CRC_BLOCK)).ok()?;
        if n > MAX_BLOCKS || blob.len() != 4 * n {
            return None;
        }
        let mut out = BlockCrcs {
            n: n as u8,
            crcs: [0; MAX_BLOCKS],
        };
        for (c, b) in out.crcs.iter_mut().zip(blob.chunks_exact(4)) {
            *c = u32::from_le_bytes(b.try_into().expect("4 bytes"));
        }
        Some(out)
    }

    /// A list no chunk matches (for a row whose blob is unreadable).
    pub fn unmatchable() -> BlockCrcs {
        BlockCrcs {
            n: 0,
            crcs: [0; MAX_BLOCKS],
        }
    }

    /// The block-aligned stretch of a chunk of `chunk_len` bytes that a
    /// read of `[from, from + len)` must verify: from the start of its
    /// first block to the end of its last (or of the chunk).
    pub fn blocks_around(chunk_len: u64, from: u64, len: u64) -> (u64, u64) {
        let start = from / CRC_BLOCK * CRC_BLOCK;
        let end = (from + len).div_ceil(CRC_BLOCK) * CRC_BLOCK;
        (start, end.min(chunk_len).max(start))
    }

    /// Whether `bytes`, the stretch of a chunk of `chunk_len` bytes that
    /// starts at the block boundary `start` and ends at a block boundary or
    /// at the chunk's end, match their blocks' checksums.
    pub fn verify_blocks(&self, chunk_len: u64, start: u64, bytes: &[u8]) -> bool {
        let blocks = chunk_len.div_ceil(CRC_BLOCK);
        let end = start + bytes.len() as u64;
        if blocks != u64::from(self.n)
            || bytes.is_empty()
            || start % CRC_BLOCK != 0
            || end > chunk_len
            || (end % CRC_BLOCK != 0 && end != chunk_len)
        {
            return false;
        }
        let first = (start / CRC_BLOCK) as usize;
        bytes
            .chunks(CRC_BLOCK as usize)
            .zip(&self.crcs[first..usize::from(self.n)])
            .all(|(block, &crc)| crc32c::crc32c(block) == crc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl BlockCrcs {
        /// Whether the blocks of `chunk` (all its bytes) that overlap
        /// `[from, from + len)` match their checksums: what a reader's
        /// check comes to.
        fn verify(&self, chunk: &[u8], from: u64, len: u64) -> bool {
            let chunk_len = chunk.len() as u64;
            let (start, end) = Self::blocks_around(chunk_len, from, len);
            len > 0
                && end <= chunk_len
                && self.verify_blocks(chunk_len, start, &chunk[start as usize..end as usize])
        }
    }

    #[test]
    fn blob_round_trip_and_block_count_rules() {
        let bytes: Vec<u8> = (0..(3 * CRC_BLOCK as usize + 100))
            .map(|i| (i % 253) as u8)
            .collect();
        let c = BlockCrcs::of(&bytes);
        let blob = c.to_blob();
        assert_eq!(blob.len(), 16);
        assert_eq!(BlockCrcs::from_blob(&blob, bytes.len() as u64), Some(c));
        assert_eq!(
            BlockCrcs::from_blob(&blob, 3 * CRC_BLOCK),
            None,
            "one block short"
        );
        assert_eq!(BlockCrcs::from_blob(&blob[..12], bytes.len() as u64), None);
        assert_eq!(BlockCrcs::from_blob(&[], 1), None);
        assert_eq!(
            BlockCrcs::from_blob(&[0; 4 * (MAX_BLOCKS + 1)], (MAX_BLOCKS as u64 + 1) * CRC_BLOCK),
            None,
            "too many blocks"
        );
    }

    #[test]
    fn verify_checks_exactly_the_blocks_a_range_touches() {
        let mut bytes: Vec<u8> = (0..(4 * CRC_BLOCK as usize)).map(|i| (i % 251) as u8).collect();
        let c = BlockCrcs::of(&bytes);
        assert!(c.verify(&bytes, 0, bytes.len() as u64));
        bytes[2 * CRC_BLOCK as usize + 7] ^= 1; // damage block 2
        assert!(!c.verify(&bytes, 0, bytes.len() as u64));
        assert!(c.verify(&bytes, 0, 2 * CRC_BLOCK), "blocks 0-1 untouched");
        assert!(c.verify(&bytes, 3 * CRC_BLOCK, CRC_BLOCK));
        assert!(!c.verify(&bytes, 2 * CRC_BLOCK - 1, 2), "straddles into block 2");
        assert!(!c.verify(&bytes, 2 * CRC_BLOCK + 100, 1));
        assert!(!BlockCrcs::unmatchable().verify(&bytes, 0, 1));
        assert!(
            !c.verify(&bytes[..CRC_BLOCK as usize], 0, 1),
            "wrong chunk length"
        );
        assert!(!c.verify(&bytes, 0, 0), "an empty range proves nothing");
    }

    #[test]
    fn verify_blocks_wants_whole_blocks_of_the_right_chunk() {
        let len = 3 * CRC_BLOCK + 100;
        let mut bytes: Vec<u8> = (0..len as usize).map(|i| (i % 249) as u8).collect();
        let c = BlockCrcs::of(&bytes);
        let b = CRC_BLOCK as usize;
        assert!(c.verify_blocks(len, 0, &bytes));
        assert!(c.verify_blocks(len, CRC_BLOCK, &bytes[b..2 * b]));
        assert!(
            c.verify_blocks(len, 3 * CRC_BLOCK, &bytes[3 * b..]),
            "short last block"
        );
        assert!(!c.verify_blocks(len, 1, &bytes[1..b + 1]), "unaligned start");
        assert!(!c.verify_blocks(len, 0, &bytes[..b + 1]), "unaligned end");
        assert!(!c.verify_blocks(len, 0, &[]), "empty");
        assert!(!c.verify_blocks(len + 1, 0, &bytes), "wrong chunk length");
        assert!(
            !c.verify_blocks(len, 2 * CRC_BLOCK, &bytes[..2 * b]),
            "past the end"
        );
        bytes[b + 5] ^= 0x80;
        assert!(!c.verify_blocks(len, CRC_BLOCK, &bytes[b..2 * b]));
        assert!(c.verify_blocks(len, 2 * CRC_BLOCK, &bytes[2 * b..]));
        assert_eq!(
            BlockCrcs::blocks_around(len, CRC_BLOCK + 100, 10),
            (CRC_BLOCK, 2 * CRC_BLOCK)
        );
        assert_eq!(
            BlockCrcs::blocks_around(len, 3 * CRC_BLOCK + 1, 99),
            (3 * CRC_BLOCK, len)
        );
    }
}
