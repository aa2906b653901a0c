//! The host's copy of the data objects its writers uploaded lately, on
//! the local disk, so that reading what was just written (a duplication
//! or a restore that follows the backup, on the same media server) does
//! not fetch it back from the object store.
//!
//! Write-through: a writer's bytes go to a temporary file as they leave
//! for the store, and the file takes the object's name only once the
//! store has completed the upload (an object that failed is never
//! there). Reads of a data object whose file is here are served from it;
//! anything else is fetched as before. Files are never trusted blindly:
//! each ends with a CRC32C of every [`PIECE`] of the object and a footer
//! naming its length, checked at every read, so a file cut short by a
//! crash or damaged on the disk is removed and the bytes fetched from
//! the store. No file is ever synced: the store holds the data, this is
//! only a copy. `combstore verify` reads past it (`S3Packs`'
//! [`crate::store::ChunkStore::store_reader`]): it checks what the store
//! holds.
//!
//! The cache lives in the server directory (`cache/<pool>/`, the pool
//! named by a hash of its bucket and folder, so a server directory
//! pointed at another pool never reads the first one's files) and is
//! shared by every process of the host: files are whole or absent
//! (renamed into place), and the processes that add files keep the
//! folder within its bound by removing the oldest. Objects never change
//! under a name (layout), so a file is never stale: at worst it is of an
//! object compacted since, whose name no fresh listing holds, and which
//! the bound removes in time.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::layout::Data;
use super::runtime::{block_on, runtime};

/// Bytes each CRC32C of a file covers: a read checks the pieces it
/// touches (a 4 MiB block, 64 of them).
pub(super) const PIECE: u64 = 64 << 10;
/// The file's last bytes: this magic and the object's length.
const MAGIC: &[u8; 8] = b"CMBSHC01";
const FOOTER: u64 = 16;
/// A file is not started while the server directory's filesystem has
/// less than this free: the cache never takes a host's last space.
const MIN_FREE: u64 = 1 << 30;
/// A temporary file unchanged for this long is a dead process's (a
/// writer adds to its file at least every part, 8 MiB).
const STALE: Duration = Duration::from_secs(3600);

/// The cache of one pool on one host.
#[derive(Debug)]
pub(super) struct HostCache {
    dir: PathBuf,
    /// Bytes the folder holds at most.
    max: u64,
}

/// A data object's file being written while the object uploads: each
/// part of the upload is written (and its pieces' CRC32Cs computed) on
/// the runtime's blocking threads, off the writer's thread, whose
/// copying into the page cache had cost one stream's ingest a seventh
/// of its speed.
#[derive(Debug)]
pub(super) struct Spool {
    path: PathBuf,
    file: Arc<File>,
    /// The writes under way, in object order: each part's pieces'
    /// CRC32Cs once written.
    parts: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    /// The CRC32Cs of the parts written before those.
    crcs: Vec<u8>,
    len: u64,
}

/// Parts a spool may have being written before its writer waits for the
/// oldest: a disk slower than the store holds the writer back rather
/// than letting parts pile up in memory.
const WRITES_IN_FLIGHT: usize = 4;

impl HostCache {
    /// The cache of the pool `pool` (its `s3://bucket/folder`) in server
    /// directory `server_dir`, holding at most `max` bytes; the folder is
    /// made if need be.
    ///
    /// # Errors
    /// If the folder cannot be made.
    pub fn open(server_dir: &Path, pool: &str, max: u64) -> io::Result<HostCache> {
        let tag = blake3::hash(pool.as_bytes()).to_hex();
        let dir = server_dir.join("cache").join(&tag.as_str()[..16]);
        fs::create_dir_all(&dir)?;
        Ok(HostCache { dir, max })
    }

    fn file(&self, id: i64, d: &Data) -> PathBuf {
        self.dir.join(format!("{id:016x}-{}", d.name().render()))
    }

    /// A new file for an object about to upload; `None` if the folder's
    /// filesystem is short of space or the file cannot be made (caching
    /// is never worth failing a backup for).
    pub fn spool(&self, expected: u64) -> Option<Spool> {
        if free_bytes(&self.dir).is_some_and(|f| f < MIN_FREE.saturating_add(expected)) || expected > self.max
        {
            return None;
        }
        let path = self.dir.join(format!(
            "tmp-{}-{}",
            std::process::id(),
            crate::store::random_hex128()
        ));
        let file = Arc::new(File::create(&path).ok()?);
        Some(Spool {
            path,
            file,
            parts: VecDeque::new(),
            crcs: Vec::new(),
            len: 0,
        })
    }

    /// Makes `spool` the file of data object `d` of segment `id`, whose
    /// upload the store has completed, then keeps the folder within its
    /// bound. A spool that does not hold exactly the object is dropped.
    pub fn keep(&self, spool: Spool, id: i64, d: &Data) {
        let to = self.file(id, d);
        if spool.finish(d.len, &to).is_ok() {
            self.trim();
        }
    }

    /// Bytes `[a, z)` of data object `d` of segment `id`, if its file is
    /// here and its pieces check; a file that does not check is removed.
    pub fn read(&self, id: i64, d: &Data, a: u64, z: u64) -> Option<Bytes> {
        if a >= z || z > d.len {
            return None;
        }
        let path = self.file(id, d);
        let file = File::open(&path).ok()?;
        match checked_range(&file, d.len, a, z) {
            Ok(b) => Some(b),
            Err(_) => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Whether data object `d` of segment `id` has a file here (which
    /// a read still checks).
    pub fn holds(&self, id: i64, d: &Data) -> bool {
        self.file(id, d).exists()
    }

    /// Removes the oldest files while the folder holds more than its
    /// bound, and dead processes' temporary files.
    fn trim(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut files = Vec::new();
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            let mtime = m.modified().unwrap_or(now);
            let temporary = e.file_name().to_string_lossy().starts_with("tmp-");
            if temporary {
                if now.duration_since(mtime).is_ok_and(|age| age > STALE) {
                    let _ = fs::remove_file(e.path());
                }
                continue;
            }
            files.push((mtime, m.len(), e.path()));
        }
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.max {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(len);
            }
        }
    }

    /// The folder, for tests.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Spool {
    /// Adds the object's next bytes (a part of its upload: every part but
    /// the last a whole number of pieces), written meanwhile.
    ///
    /// # Errors
    /// If the bytes before were not a whole number of pieces, the runtime
    /// cannot be had or an earlier part could not be written (the caller
    /// then drops the spool).
    pub fn write(&mut self, bytes: Bytes) -> io::Result<()> {
        if self.len % PIECE != 0 {
            return Err(io::Error::other("a part after a short one"));
        }
        let (file, at) = (self.file.clone(), self.len);
        self.len += bytes.len() as u64;
        let write = runtime()?.spawn_blocking(move || {
            file.write_all_at(&bytes, at)?;
            Ok(bytes
                .chunks(PIECE as usize)
                .flat_map(|p| crc32c::crc32c(p).to_le_bytes())
                .collect())
        });
        self.parts.push_back(write);
        while self.parts.len() > WRITES_IN_FLIGHT {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest write under way and keeps its CRC32Cs.
    fn wait_oldest(&mut self) -> io::Result<()> {
        if let Some(part) = self.parts.pop_front() {
            let crcs = block_on(part)?.map_err(io::Error::other)??;
            self.crcs.extend(crcs);
        }
        Ok(())
    }

    /// Waits for the parts' writes, writes the CRCs and the footer and
    /// renames the file to `to`, if it holds `len` bytes.
    fn finish(mut self, len: u64, to: &Path) -> io::Result<()> {
        if self.len != len {
            return Err(io::Error::other("the spool missed some of the object"));
        }
        while !self.parts.is_empty() {
            self.wait_oldest()?;
        }
        let mut tail = std::mem::take(&mut self.crcs);
        tail.extend_from_slice(MAGIC);
        tail.extend_from_slice(&len.to_le_bytes());
        self.file.write_all_at(&tail, len)?;
        fs::rename(&self.path, to)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // a spool renamed into place is no longer at `path`
        let _ = fs::remove_file(&self.path);
    }
}

/// Reads bytes `[a, z)` of the object of length `len` that `file` holds,
/// checking every piece they touch.
fn checked_range(file: &File, len: u64, a: u64, z: u64) -> io::Result<Bytes> {
    let pieces = len.div_ceil(PIECE);
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    if file.metadata()?.len() != len + 4 * pieces + FOOTER {
        return Err(bad("length"));
    }
    let mut footer = [0u8; FOOTER as usize];
    file.read_exact_at(&mut footer, len + 4 * pieces)?;
    if &footer[..8] != MAGIC || footer[8..] != len.to_le_bytes() {
        return Err(bad("footer"));
    }
    let (p0, p1) = (a / PIECE, z.div_ceil(PIECE));
    let mut crcs = vec![0u8; 4 * (p1 - p0) as usize];
    file.read_exact_at(&mut crcs, len + 4 * p0)?;
    let from = p0 * PIECE;
    let mut buf = vec![0u8; (len.min(p1 * PIECE) - from) as usize];
    file.read_exact_at(&mut buf, from)?;
    for (piece, want) in buf.chunks(PIECE as usize).zip(crcs.chunks_exact(4)) {
        if crc32c::crc32c(piece).to_le_bytes() != want {
            return Err(bad("checksum"));
        }
    }
    Ok(Bytes::from(buf).slice((a - from) as usize..(z - from) as usize))
}

/// Bytes free to unprivileged users on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` room for the one
    // struct statvfs writes; it is read only if the call succeeded.
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn data(start: u64, len: u64) -> Data {
        Data {
            start,
            len,
            epoch: 1,
            piece: None,
        }
    }

    /// Keeps `bytes` as object `d`, spooled in `writes` parts (whole
    /// pieces each but the last, as an upload's parts are).
    fn put(c: &HostCache, id: i64, d: &Data, bytes: &[u8], writes: usize) {
        let mut s = c.spool(bytes.len() as u64).expect("room");
        let part = bytes.len().div_ceil(writes).next_multiple_of(PIECE as usize);
        for part in bytes.chunks(part) {
            s.write(Bytes::copy_from_slice(part)).unwrap();
        }
        c.keep(s, id, d);
    }

    #[test]
    fn objects_kept_read_back_in_any_range_and_others_are_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let c = HostCache::open(tmp.path(), "s3://b/p", 64 << 20).unwrap();
        let len = 3 * PIECE as usize + 1234;
        let bytes = object(len, 7);
        let d = data(4096, len as u64);
        put(&c, 5, &d, &bytes, 7);
        for (a, z) in [
            (0, len),
            (1, 2),
            (PIECE as usize - 1, PIECE as usize + 1),
            (len - 10, len),
        ] {
            assert_eq!(c.read(5, &d, a as u64, z as u64).unwrap(), &bytes[a..z]);
        }
        assert!(c.read(5, &d, 0, len as u64 + 1).is_none(), "past the object");
        assert!(c.read(6, &d, 0, 1).is_none(), "another segment");
        assert!(
            c.read(5, &data(4096 + len as u64, 10), 0, 1).is_none(),
            "another object"
        );
        let other = HostCache::open(tmp.path(), "s3://b/other", 64 << 20).unwrap();
        assert!(other.read(5, &d, 0, 1).is_none(), "another pool's cache");
    }

    #[test]
    fn damaged_or_short_files_are_removed_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let c = HostCache::open(tmp.path(), "s3://b/p", 64 << 20).unwrap();
        let bytes = object(200_000, 1);
        let d = data(4096, bytes.len() as u64);
        put(&c, 1, &d, &bytes, 3);
        let path = c.file(1, &d);
        // one flipped byte in the second piece: a read touching it fails,
        // and the file goes
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[bytes[70_000] ^ 1], 70_000).unwrap();
        assert_eq!(
            c.read(1, &d, 0, 100).unwrap(),
            &bytes[..100],
            "the first piece still checks"
        );
        assert!(c.read(1, &d, 69_000, 71_000).is_none());
        assert!(!path.exists());
        // a file cut short (a crash before the footer) is not read
        put(&c, 1, &d, &bytes, 1);
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(150_000).unwrap();
        assert!(c.read(1, &d, 0, 10).is_none());
        assert!(!path.exists());
    }

    #[test]
    fn a_spool_that_missed_bytes_or_was_dropped_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let c = HostCache::open(tmp.path(), "s3://b/p", 64 << 20).unwrap();
        let bytes = object(10_000, 2);
        let d = data(4096, 20_000);
        put(&c, 1, &d, &bytes, 2); // half the object
        assert!(c.read(1, &d, 0, 10).is_none());
        drop(c.spool(10).unwrap());
        assert_eq!(fs::read_dir(c.dir()).unwrap().count(), 0, "no file left behind");
        // a part after a short one is refused (the pieces would not line up)
        let mut s = c.spool(10).unwrap();
        s.write(Bytes::from_static(b"short")).unwrap();
        assert!(s.write(Bytes::from_static(b"more")).is_err());
    }

    #[test]
    fn the_folder_keeps_within_its_bound_oldest_out_first() {
        let tmp = tempfile::tempdir().unwrap();
        let len = 100_000usize;
        let per = len as u64 + 4 * (len as u64).div_ceil(PIECE) + FOOTER;
        let c = HostCache::open(tmp.path(), "s3://b/p", 3 * per).unwrap();
        let ds: Vec<Data> = (0..5).map(|k| data(4096 + k * len as u64, len as u64)).collect();
        for (k, d) in ds.iter().enumerate() {
            put(&c, 9, d, &object(len, k as u8), 2);
            // distinct modification times, oldest first
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + k as u64);
            File::options()
                .write(true)
                .open(c.file(9, d))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let held: Vec<bool> = ds.iter().map(|d| c.read(9, d, 0, 1).is_some()).collect();
        assert_eq!(held, [false, false, true, true, true]);
        assert!(
            c.spool(3 * per + 1).is_none(),
            "an object larger than the bound is not spooled"
        );
    }
}
