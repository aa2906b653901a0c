//! Chunks a reader reading on will read again, kept decoded until their
//! last use, on a store whose every request pays a round trip (an object
//! store: `ChunkStore::announce_every_read`).
//!
//! Why: an image refers to a chunk again wherever its bytes repeat
//! (the same file twice in a backup, repeated blocks of a disk image).
//! Read back from an object store, each such place is a ranged GET far
//! behind the read, and the store's cost is per request (Garage reads
//! and checks a whole 1 MiB block of its own for a GET of 16 KiB): a
//! restore of the benchmark's 512 MiB image with 10% repeated blocks made
//! 711 GETs, 620 of them for places read before, and ran at 0.56x a raw
//! GET of the same bytes. The process's block cache (64 MiB) keeps too
//! little of an image to catch references spread over all of it.
//!
//! How: the reader looks [`HORIZON`] extents ahead of where it reads
//! (chunk ids only, one query per [`BATCH`] extents) and counts the
//! uses to come of each chunk. A chunk decoded while uses of it remain
//! ahead is kept, decoded and verified, until its last use passes;
//! a kept chunk is copied, neither fetched nor decoded again. The kept
//! bytes are bounded ([`KEEP_BYTES`]): past it a chunk is read again as
//! before. A reader that jumps starts afresh where it landed; a random
//! reader pays nothing (it never reads on far enough to look ahead).

use std::collections::HashMap;

use crate::engine::error::Result;

/// Extents a reader knows ahead of where it reads (16 KiB chunks: 4 GiB
/// of image; 16 bytes of counts each at most).
pub const HORIZON: usize = if cfg!(test) { 48 } else { 256 << 10 };
/// Extents one look-ahead query loads.
pub const BATCH: usize = if cfg!(test) { 8 } else { 4096 };
/// Batches past a read's end one look-ahead loads at most.
pub const GROW: usize = 2;
/// Most decoded bytes a reader keeps for later uses.
pub const KEEP_BYTES: u64 = if cfg!(test) { 256 << 10 } else { 64 << 20 };

/// One reader's look-ahead and kept chunks.
#[derive(Debug, Default)]
pub struct Reuse {
    /// Where counting started: extents before it are not counted.
    start: u64,
    /// Extents starting before this image offset are counted.
    ahead_to: u64,
    /// No extent starts at or after `ahead_to`.
    at_end: bool,
    /// Counted extents not yet read past.
    pending: usize,
    /// Uses to come of each counted chunk (extents not yet read past).
    uses: HashMap<i64, u32>,
    /// Decoded bytes of chunks with uses to come.
    kept: HashMap<i64, Vec<u8>>,
    kept_bytes: u64,
}

impl Reuse {
    /// Forgets everything; counting starts again at `pos` (a reader that
    /// jumped there).
    pub fn restart(&mut self, pos: u64) {
        *self = Reuse {
            start: pos,
            ahead_to: pos,
            ..Reuse::default()
        };
    }

    /// Counts the extents starting before `stop` (the end of a read) and
    /// up to [`GROW`] batches more while fewer than [`HORIZON`] are
    /// counted, so that the first read does not wait for the whole
    /// horizon: `load(from, limit)` gives the image's extents starting at
    /// or after `from`, in order, as (img_off, len, chunk id).
    pub fn look_ahead(
        &mut self,
        stop: u64,
        mut load: impl FnMut(u64, usize) -> Result<Vec<(u64, u64, i64)>>,
    ) -> Result<()> {
        let mut grow = GROW;
        while !self.at_end && (self.ahead_to < stop || (grow > 0 && self.pending + BATCH <= HORIZON)) {
            if self.ahead_to >= stop {
                grow -= 1;
            }
            let rows = load(self.ahead_to, BATCH)?;
            if rows.len() < BATCH {
                self.at_end = true;
            }
            for (img_off, len, chunk) in rows {
                *self.uses.entry(chunk).or_insert(0) += 1;
                self.pending += 1;
                self.ahead_to = img_off.saturating_add(len.max(1));
            }
        }
        Ok(())
    }

    /// The decoded bytes of `chunk`, if kept.
    pub fn kept(&self, chunk: i64) -> Option<&[u8]> {
        self.kept.get(&chunk).map(Vec::as_slice)
    }

    /// Keeps the decoded (and verified) `bytes` of `chunk` if a use of it
    /// remains after the one that read them, and there is room.
    pub fn offer(&mut self, chunk: i64, bytes: &[u8]) {
        let more = self.uses.get(&chunk).is_some_and(|&n| n > 1);
        if more && !self.kept.contains_key(&chunk) && self.kept_bytes + bytes.len() as u64 <= KEEP_BYTES {
            self.kept_bytes += bytes.len() as u64;
            self.kept.insert(chunk, bytes.to_vec());
        }
    }

    /// The reader read past the extent at `img_off` (of `chunk`): one use
    /// fewer; a chunk with none left is let go.
    pub fn passed(&mut self, img_off: u64, chunk: i64) {
        if img_off < self.start || img_off >= self.ahead_to {
            return; // never counted
        }
        self.pending = self.pending.saturating_sub(1);
        if let Some(n) = self.uses.get_mut(&chunk) {
            *n -= 1;
            if *n == 0 {
                self.uses.remove(&chunk);
                if let Some(b) = self.kept.remove(&chunk) {
                    self.kept_bytes -= b.len() as u64;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image's extents as the catalog gives them: 10-byte extents
    /// over the chunk ids of `chunks`.
    fn loader(chunks: &[i64]) -> impl FnMut(u64, usize) -> Result<Vec<(u64, u64, i64)>> + '_ {
        |from, limit| {
            Ok(chunks
                .iter()
                .enumerate()
                .map(|(k, &c)| (k as u64 * 10, 10, c))
                .filter(|e| e.0 >= from)
                .take(limit)
                .collect())
        }
    }

    #[test]
    fn keeps_a_chunk_until_its_last_use_and_no_longer() {
        let image = [1, 2, 1, 3, 1, 4];
        let mut r = Reuse::default();
        r.look_ahead(10, loader(&image)).unwrap();
        // chunk 1 read at 0: two more uses ahead, kept
        r.offer(1, b"one");
        r.offer(2, b"two");
        assert_eq!(r.kept(1), Some(&b"one"[..]));
        assert_eq!(r.kept(2), None, "chunk 2 is used once");
        for (k, &c) in image.iter().enumerate() {
            r.passed(k as u64 * 10, c);
            if k < 4 {
                assert!(r.kept(1).is_some(), "still to be read at 40 (after {k})");
            }
        }
        assert_eq!(r.kept(1), None, "let go after its last use");
        assert_eq!(r.kept_bytes, 0);
        assert!(r.uses.is_empty());
    }

    #[test]
    fn looks_ahead_only_so_far_and_counts_only_what_it_loaded() {
        // HORIZON + 8 extents of chunk 7
        let image = [7i64; HORIZON + 8];
        let mut r = Reuse::default();
        r.look_ahead(10, loader(&image)).unwrap();
        assert_eq!(r.pending, 3 * BATCH, "the read's batch and GROW more");
        for _ in 0..HORIZON {
            r.look_ahead(20, loader(&image)).unwrap();
        }
        assert_eq!(r.pending, HORIZON, "no further than the horizon");
        assert_eq!(r.uses[&7], HORIZON as u32);
        // reading past 8 extents lets the last batch in
        for k in 0..8 {
            r.passed(k * 10, 7);
        }
        r.look_ahead(90, loader(&image)).unwrap();
        assert_eq!(r.ahead_to, image.len() as u64 * 10, "all counted");
        assert_eq!(r.uses[&7], HORIZON as u32);
        // an extent never counted (before the start) changes nothing
        let mut j = Reuse::default();
        j.restart(55);
        j.look_ahead(60, loader(&image)).unwrap();
        let before = j.uses[&7];
        j.passed(50, 7);
        assert_eq!(j.uses[&7], before, "the extent at 50 starts before the restart");
    }

    #[test]
    fn keeps_no_more_than_its_budget() {
        let image = [1, 2, 1, 2, 2];
        let mut r = Reuse::default();
        r.look_ahead(10, loader(&image)).unwrap();
        let big = vec![0u8; KEEP_BYTES as usize - 10];
        r.offer(1, &big);
        r.offer(2, &[0u8; 11]);
        assert!(r.kept(1).is_some());
        assert_eq!(r.kept(2), None, "over the budget: read again later");
        r.passed(0, 1);
        r.passed(10, 2);
        r.passed(20, 1);
        assert_eq!(r.kept_bytes, 0, "chunk 1's last use let its bytes go");
        r.offer(2, &[0u8; 11]);
        assert!(r.kept(2).is_some(), "room again, and chunk 2 is used twice more");
    }
}
