//! The chunk store seam: where chunk bytes live.
//!
//! A store holds numbered **segments**: containers that writers append
//! chunks to (packed, one after another, after a [`HEADER_LEN`]-byte
//! header), that readers read back by (segment, offset, length), and whose
//! dead ranges are freed. The catalog decides everything else: which
//! segment ids exist, who appends to which, how far each one is committed,
//! which ranges hold live chunks. So a store knows no image, chunk or
//! catalog row, and the engine's protocols (sync before the catalog
//! commit, cut back to the committed end on adoption, free only what the
//! catalog has released) are the same on every store.
//!
//! Implementations: [`super::local::LocalSegments`] (segment files in the
//! server directory: the product), [`super::memory::MemoryStore`] (bytes
//! in memory, for the engine's tests, which run on both), and
//! [`super::s3::S3Packs`] (a pool's segments as objects in an
//! S3-compatible store: `sync` an upload, `free` a note or a compaction).

use std::collections::HashSet;
use std::fmt;
use std::io;

/// Bytes before the first chunk of a segment, on every store (the
/// catalog's segment rows start at this offset).
pub const HEADER_LEN: u64 = 4096;

/// What a store says about one segment, for the administrator's audits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentStat {
    /// Bytes from the start of the segment to its last byte.
    pub len: u64,
    /// Bytes the segment really occupies (freed ranges excluded).
    pub allocated: u64,
}

/// Bytes a writer stores between commits on segment files (and in
/// memory): an `fdatasync` every 64 MiB costs little (the suite's ref
/// A64 writes at several times the plugin's speed).
pub const COMMIT_EVERY: u64 = 64 << 20;

/// Numbered segments of chunk bytes. Every method may be called from many
/// threads at once; each segment has at most one writer (the catalog's
/// lease says which), but any number of readers.
pub trait ChunkStore: Send + Sync + fmt::Debug {
    /// Creates segment `id`, empty after its header, durably: after a
    /// crash it is whole or absent (a leftover is removed by
    /// [`ChunkStore::remove_partial`]).
    ///
    /// # Errors
    /// I/O errors; `AlreadyExists` if segment `id` is there.
    fn create(&self, id: i64) -> io::Result<Box<dyn SegmentWriter>>;

    /// Moves a segment the catalog does not know out of the way (kept for
    /// the administrator); returns where it went.
    ///
    /// # Errors
    /// I/O errors.
    fn set_aside(&self, id: i64) -> io::Result<String>;

    /// Opens segment `id` for appending after `committed_end`, first
    /// cutting (durably) anything a dead writer left past it. `epoch` is
    /// the catalog's, new for this adoption (catalog::next_writer_epoch): a store
    /// that cannot stop an earlier writer (an object store, written by
    /// other hosts) fences off what writers of older epochs upload later.
    ///
    /// # Errors
    /// I/O errors; `InvalidData` if the segment's header does not name `id`.
    fn adopt(&self, id: i64, committed_end: u64, epoch: u32) -> io::Result<Box<dyn SegmentWriter>>;

    /// Removes what a crash inside [`ChunkStore::create`] of `id` left.
    ///
    /// # Errors
    /// I/O errors other than nothing being there.
    fn remove_partial(&self, id: i64) -> io::Result<()>;

    /// A reader with its own state (open descriptors, read-ahead).
    fn reader(&self) -> Box<dyn SegmentReader>;

    /// A reader of what the store itself holds, past any copy kept on
    /// this host (a pool's host cache): what `verify` reads, so that it
    /// checks the store. The same as [`ChunkStore::reader`] for a store
    /// that keeps no such copy.
    fn store_reader(&self) -> Box<dyn SegmentReader> {
        self.reader()
    }

    /// Frees `len` bytes at `off` of segment `id`, rounded up to a whole
    /// number of 4096-byte blocks (the caller hands over only blocks no
    /// live chunk touches: `catalog` trims freed ranges so): afterwards
    /// they read as zeros (which fail any chunk's checksum) or not at all,
    /// at once (segment files, memory) or once the store compacts them
    /// (an object store compacts an object when a quarter of it is freed;
    /// until then it only notes the range). No catalog row refers to freed
    /// bytes either way. A missing segment is not an error.
    ///
    /// # Errors
    /// I/O errors.
    fn free(&self, id: i64, off: u64, len: u64) -> io::Result<()>;

    /// [`ChunkStore::free`] of each (segment, offset, length) of
    /// `ranges`, with one outcome per range: a store whose requests are
    /// dear (an object store) frees a segment's ranges together.
    fn free_many(&self, ranges: &[(i64, u64, u64)]) -> Vec<io::Result<()>> {
        ranges
            .iter()
            .map(|&(id, off, len)| {
                super::crash::point("punch.before_hole");
                self.free(id, off, len)
            })
            .collect()
    }

    /// Length and occupied bytes of segment `id`; `None` if it is absent.
    ///
    /// # Errors
    /// I/O errors other than absence.
    fn stat(&self, id: i64) -> io::Result<Option<SegmentStat>>;

    /// Checks segment `id`'s header.
    ///
    /// # Errors
    /// I/O errors; `InvalidData` naming what is wrong.
    fn check_header(&self, id: i64) -> io::Result<()>;

    /// Whether every read should announce its places
    /// ([`SegmentReader::will_need`]), not only a read that jumps: a store
    /// whose every request pays a round trip (an object store) fetches a
    /// sequential read's scattered places (chunks a deduplicated image
    /// shares with older ones) at once rather than one after the other.
    fn announce_every_read(&self) -> bool {
        false
    }

    /// How many bytes an image's writer stores between two commits at
    /// most ([`COMMIT_EVERY`] unless the store asks otherwise). Each
    /// commit waits for the data to be durable (an `fdatasync`, or an
    /// object completed on an object store) and then writes the catalog,
    /// while the writer stands still; what a crash can lose of an image
    /// not flushed is below it.
    fn commit_every(&self) -> u64 {
        COMMIT_EVERY
    }

    /// Whether chunk bytes take room on the server directory's
    /// filesystem (segment files; memory, which tests treat so), which
    /// the engine then checks before storing them and reports as the
    /// LSU's capacity; false for a store that answers "full" itself (an
    /// object store's quota) and has no capacity to ask.
    fn on_server_filesystem(&self) -> bool {
        true
    }

    /// Names of what the store holds that is no segment of `known`
    /// (stray files), for `combstore check`.
    fn strays(&self, known: &HashSet<i64>) -> Vec<String>;
}

/// A segment one writer appends to.
pub trait SegmentWriter: Send + fmt::Debug {
    /// The segment's id (the catalog's).
    fn id(&self) -> i64;

    /// Offset just past the last appended byte.
    fn end(&self) -> u64;

    /// Appends `data` right after the last byte; returns its offset. Not
    /// durable until [`SegmentWriter::sync`]; may wait in memory until then.
    ///
    /// # Errors
    /// I/O errors (ENOSPC among them); after one, everything appended since
    /// the last sync must be treated as lost.
    fn append(&mut self, data: &[u8]) -> io::Result<u64>;

    /// Makes every appended byte durable.
    ///
    /// # Errors
    /// I/O errors; after one, the bytes appended since the last sync must
    /// be treated as lost.
    fn sync(&mut self) -> io::Result<()>;
}

/// Reads of stored chunks by one reader.
pub trait SegmentReader: Send + fmt::Debug {
    /// Reads exactly `buf.len()` bytes at `off` of segment `id`.
    ///
    /// # Errors
    /// I/O errors; `NotFound` if the segment is gone; `UnexpectedEof` if
    /// it ends first (the catalog refers to bytes the store lacks).
    fn read_exact_at(&mut self, id: i64, off: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Tells the store that `len` bytes at `off` of segment `id` will be
    /// read soon: a read that needs bytes from several places announces
    /// them all first, so that a store on a disk fetches them at once
    /// rather than one after the other. Advice only; the default ignores
    /// it.
    fn will_need(&mut self, id: i64, off: u64, len: u64) {
        let _ = (id, off, len);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The contract every store keeps, run on each implementation.

    use super::*;
    use crate::store::local::LocalSegments;
    use crate::store::memory::MemoryStore;

    /// The contract, on a store with no segments 1 to 3 yet.
    pub(crate) fn contract(store: &dyn ChunkStore) {
        let mut w = store.create(1).unwrap();
        assert_eq!(store.create(1).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!((w.id(), w.end()), (1, HEADER_LEN));
        let a = w.append(&[7u8; 10_000]).unwrap();
        let b = w.append(&[8u8; 5]).unwrap();
        assert_eq!(
            (a, b, w.end()),
            (HEADER_LEN, HEADER_LEN + 10_000, HEADER_LEN + 10_005)
        );
        w.sync().unwrap();
        let mut r = store.reader();
        let mut buf = [0u8; 5];
        r.read_exact_at(1, b, &mut buf).unwrap();
        assert_eq!(buf, [8u8; 5]);
        let mut past = [0u8; 6];
        assert_eq!(
            r.read_exact_at(1, b, &mut past).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert_eq!(
            r.read_exact_at(9, 0, &mut buf).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        store.check_header(1).unwrap();
        let before = store.stat(1).unwrap().unwrap();
        assert_eq!(before.len, HEADER_LEN + 10_005);
        assert!(before.allocated >= 3 * 4096, "{before:?}");
        // freeing the whole blocks of the first chunk returns them and
        // zeroes them
        store.free(1, a, 8192).unwrap();
        let after = store.stat(1).unwrap().unwrap();
        assert_eq!(after.len, before.len);
        assert!(
            after.allocated <= before.allocated - 4096,
            "{before:?} -> {after:?}"
        );
        // freed bytes read as zeros or not at all (an object store
        // compacts them away)
        let mut freed = vec![1u8; 8192];
        match r.read_exact_at(1, a, &mut freed) {
            Ok(()) => assert!(freed.iter().all(|&x| x == 0)),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}"),
        }
        r.read_exact_at(1, b, &mut buf).unwrap();
        assert_eq!(buf, [8u8; 5], "the live chunk after a freed one");
        store.free(77, 0, 4096).unwrap();
        // a writer that died: adoption cuts what it left past the commit
        w.append(&[9u8; 3000]).unwrap();
        drop(w);
        let w = store.adopt(1, HEADER_LEN + 10_005, 1).unwrap();
        assert_eq!(w.end(), HEADER_LEN + 10_005);
        assert_eq!(store.stat(1).unwrap().unwrap().len, HEADER_LEN + 10_005);
        assert!(store.adopt(2, HEADER_LEN, 1).is_err());
        assert_eq!(store.stat(2).unwrap(), None);
        // strays: what the catalog does not know, and what was set aside
        let w2 = store.create(2).unwrap();
        drop(w2);
        let known: HashSet<i64> = [1].into();
        assert_eq!(store.strays(&known).len(), 1);
        store.set_aside(2).unwrap();
        assert_eq!(store.stat(2).unwrap(), None);
        assert!(
            !store.strays(&known).is_empty(),
            "set-aside segments stay visible"
        );
        store.create(2).unwrap();
        store.remove_partial(3).unwrap();
    }

    #[test]
    fn segment_files_keep_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        contract(&LocalSegments::new(dir.path(), "u"));
    }

    #[test]
    fn memory_keeps_the_contract() {
        contract(&MemoryStore::new());
    }
}
