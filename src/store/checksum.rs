//! Chunk checksums: one crc32c per [`CRC_BLOCK`] bytes of a chunk.
//!
//! A read verifies the blocks it touches, not the whole chunk: a 64 KiB
//! random read of a 1 MiB chunk then checksums (and, cold, faults in)
//! 64 KiB instead of 1 MiB. Every returned byte is still covered by a
//! verified checksum. In the catalog the list is a blob of little-endian
//! u32s, one per block, the last block possibly short.

/// Bytes covered by one checksum.
pub const CRC_BLOCK: u64 = 64 << 10;
/// Most blocks in a chunk (chunks are at most 1 MiB).
pub const MAX_BLOCKS: usize = 16;

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

    /// Whether the blocks of `chunk` (all its bytes) that overlap
    /// `[from, from + len)` match their checksums.
    pub fn verify(&self, chunk: &[u8], from: u64, len: u64) -> bool {
        let blocks = chunk.len().div_ceil(CRC_BLOCK as usize);
        if blocks != usize::from(self.n) || len == 0 {
            return len == 0 && blocks == usize::from(self.n);
        }
        let first = (from / CRC_BLOCK) as usize;
        let last = ((from + len - 1) / CRC_BLOCK) as usize;
        (first..=last.min(blocks - 1)).all(|b| {
            let start = b * CRC_BLOCK as usize;
            let end = (start + CRC_BLOCK as usize).min(chunk.len());
            crc32c::crc32c(&chunk[start..end]) == self.crcs[b]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            BlockCrcs::from_blob(&[0; 68], 17 * CRC_BLOCK),
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
    }
}
