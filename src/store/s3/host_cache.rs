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
//! naming its length and the ETag the store gave it, checked at every
//! read against the file and against the ETag the reader's listing holds
//! for the object, so a file cut short by a crash, damaged on the disk,
//! or of another object under the same name (a segment made anew under
//! an id used before) is not read: the bytes are fetched from the store,
//! and a file that does not check is removed. No file is ever synced:
//! the store holds the data, this is only a copy. `combstore verify`
//! reads past it (`S3Packs`'
//! [`crate::store::ChunkStore::store_reader`]): it checks what the store
//! holds.
//!
//! The cache lives in the server directory (`cache/<pool>/`, the pool
//! named by a hash of the store's endpoint, bucket and folder) and is
//! shared by every process of the host: files are whole or absent
//! (renamed into place), and the processes that add files keep the
//! folder within its bound by removing the oldest.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::layout::Data;
use super::runtime::{block_on, runtime};

/// Bytes each CRC32C of a file covers: a read checks the pieces it
/// touches (a 4 MiB block, 64 of them).
pub(super) const PIECE: u64 = 64 << 10;
/// The file's last bytes: this magic, the object's length (u64 LE), the
/// ETag's length (u64 LE) and the ETag, padded with zeros to [`TAG_MAX`].
const MAGIC: &[u8; 8] = b"CMBSHC02";
const TAG_MAX: usize = 104;
const FOOTER: u64 = 24 + TAG_MAX as u64;
/// No part is added while the server directory's filesystem has less
/// than this free besides it: the cache never takes a host's last space.
const MIN_FREE: u64 = 1 << 30;
/// A temporary file unchanged for this long is a dead process's (a
/// writer adds a part to its file every 8 MiB it stores; one idle for
/// an hour loses its file, and its object is simply not cached).
const STALE: Duration = Duration::from_secs(3600);
/// Bytes kept between two scans of the folder, at most (and a sixteenth
/// of the bound): the folder may pass its bound by as much meanwhile.
const TRIM_EVERY: u64 = 64 << 20;

/// The cache of one pool on one host.
#[derive(Debug)]
pub(super) struct HostCache {
    dir: PathBuf,
    /// Bytes the folder holds at most.
    max: u64,
    /// Bytes this process kept since it last scanned the folder.
    unscanned: AtomicU64,
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
    /// The cache's bound: an object larger is not kept.
    max: u64,
}

/// Parts a spool may have being written before its writer waits for the
/// oldest: a disk slower than the store holds the writer back rather
/// than letting parts pile up in memory.
const WRITES_IN_FLIGHT: usize = 4;

/// The folder of pool `pool`'s cache in `server_dir`.
fn folder(server_dir: &Path, pool: &str) -> PathBuf {
    let tag = blake3::hash(pool.as_bytes()).to_hex();
    server_dir.join("cache").join(&tag.as_str()[..16])
}

impl HostCache {
    /// The cache of the pool `pool` (its endpoint, bucket and folder) in
    /// server directory `server_dir`, holding at most `max` bytes; the
    /// folder is made if need be.
    ///
    /// # Errors
    /// If the folder cannot be made.
    pub fn open(server_dir: &Path, pool: &str, max: u64) -> io::Result<HostCache> {
        let dir = folder(server_dir, pool);
        fs::create_dir_all(&dir)?;
        Ok(HostCache {
            dir,
            max,
            unscanned: AtomicU64::new(0),
        })
    }

    /// Removes the folder of pool `pool`'s cache, if there is one (the
    /// cache was turned off: files left there would go stale).
    pub fn remove(server_dir: &Path, pool: &str) {
        let _ = fs::remove_dir_all(folder(server_dir, pool));
    }

    fn file(&self, id: i64, d: &Data) -> PathBuf {
        self.dir.join(format!("{id:016x}-{}", d.name().render()))
    }

    /// Removes every file of segment `id` (made anew, or set aside).
    pub fn forget_segment(&self, id: i64) {
        let prefix = format!("{id:016x}-");
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// A new file for an object about to upload, whose first part is
    /// `first` bytes; `None` if the folder's filesystem is short of
    /// space or the file cannot be made (caching is never worth failing a
    /// backup for).
    pub fn spool(&self, first: u64) -> Option<Spool> {
        if !room(&self.dir, first) || first > self.max {
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
            max: self.max,
        })
    }

    /// Makes `spool` the file of data object `d` of segment `id`, whose
    /// upload the store has completed with ETag `tag`, then keeps the
    /// folder within its bound. A spool that does not hold exactly the
    /// object is dropped.
    pub fn keep(&self, spool: Spool, id: i64, d: &Data, tag: &str) {
        let to = self.file(id, d);
        if spool.finish(d.len, tag.trim_matches('"'), &to).is_ok() {
            let kept = self.unscanned.fetch_add(d.len, Ordering::Relaxed) + d.len;
            if kept >= TRIM_EVERY.min(self.max / 16) {
                self.unscanned.store(0, Ordering::Relaxed);
                self.trim();
            }
        }
    }

    /// Bytes `[a, z)` of data object `d` of segment `id`, whose ETag is
    /// `tag`, if its file is here and checks; a file that does not check
    /// (another object's, under the same name, among them) is removed.
    /// (`d` may be shorter than the object the file holds: an adoption
    /// cut it.)
    pub fn read(&self, id: i64, d: &Data, tag: &str, a: u64, z: u64) -> Option<Bytes> {
        if a >= z || z > d.len {
            return None;
        }
        let path = self.file(id, d);
        let file = File::open(&path).ok()?;
        match checked_range(&file, d.len, tag.trim_matches('"'), a, z) {
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
    /// bound (temporary files count, as they take room), and dead
    /// processes' temporary files.
    fn trim(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut files = Vec::new();
        let mut total: u64 = 0;
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            let mtime = m.modified().unwrap_or(now);
            if e.file_name().to_string_lossy().starts_with("tmp-") {
                if now.duration_since(mtime).is_ok_and(|age| age > STALE) {
                    let _ = fs::remove_file(e.path());
                } else {
                    total = total.saturating_add(m.len());
                }
                continue;
            }
            total = total.saturating_add(m.len());
            files.push((mtime, m.len(), e.path()));
        }
        files.sort();
        for (_, len, path) in files {
            if total <= self.max {
                break;
            }
            // gone already (another process trimming): it counts as gone
            match fs::remove_file(&path) {
                Ok(()) => total = total.saturating_sub(len),
                Err(e) if e.kind() == io::ErrorKind::NotFound => total = total.saturating_sub(len),
                Err(_) => {}
            }
        }
    }

    /// The folder, for tests.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Whether the filesystem of `dir` has room for `n` more bytes besides
/// [`MIN_FREE`] (unknown: yes).
fn room(dir: &Path, n: u64) -> bool {
    free_bytes(dir).is_none_or(|f| f >= MIN_FREE.saturating_add(n))
}

impl Spool {
    /// Adds the object's next bytes (a part of its upload: every part but
    /// the last a whole number of pieces), written meanwhile.
    ///
    /// # Errors
    /// If the bytes before were not a whole number of pieces, the object
    /// outgrew the cache's bound or the filesystem's room, the runtime
    /// cannot be had or an earlier part could not be written (the caller
    /// then drops the spool).
    pub fn write(&mut self, bytes: Bytes) -> io::Result<()> {
        if self.len % PIECE != 0 {
            return Err(io::Error::other("a part after a short one"));
        }
        let n = bytes.len() as u64;
        if self.len.saturating_add(n) > self.max
            || (self.len > 0 && !room(self.path.parent().unwrap_or(&self.path), n))
        {
            return Err(io::Error::other("no room in the cache"));
        }
        let (file, at) = (self.file.clone(), self.len);
        self.len += n;
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

    /// Waits for the parts' writes, writes the CRCs and the footer
    /// (naming ETag `tag`) and renames the file to `to`, if it holds
    /// `len` bytes.
    fn finish(mut self, len: u64, tag: &str, to: &Path) -> io::Result<()> {
        if self.len != len || tag.len() > TAG_MAX {
            return Err(io::Error::other("the spool missed some of the object"));
        }
        while !self.parts.is_empty() {
            self.wait_oldest()?;
        }
        let mut tail = std::mem::take(&mut self.crcs);
        tail.extend_from_slice(MAGIC);
        tail.extend_from_slice(&len.to_le_bytes());
        tail.extend_from_slice(&(tag.len() as u64).to_le_bytes());
        tail.extend_from_slice(tag.as_bytes());
        tail.resize(tail.len() + TAG_MAX - tag.len(), 0);
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

/// Reads bytes `[a, z)` of the first `want` bytes of the object that
/// `file` holds, checking the file's length and its footer (ETag `tag`)
/// and every piece the bytes touch.
fn checked_range(file: &File, want: u64, tag: &str, a: u64, z: u64) -> io::Result<Bytes> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let size = file.metadata()?.len();
    let mut footer = [0u8; FOOTER as usize];
    file.read_exact_at(
        &mut footer,
        size.checked_sub(FOOTER).ok_or_else(|| bad("length"))?,
    )?;
    let word = |i: usize| u64::from_le_bytes(footer[i..i + 8].try_into().expect("8 bytes"));
    let (len, tag_len) = (word(8), word(16));
    if &footer[..8] != MAGIC || tag_len > TAG_MAX as u64 {
        return Err(bad("footer"));
    }
    let pieces = len.div_ceil(PIECE);
    if want > len || len.checked_add(4 * pieces).and_then(|n| n.checked_add(FOOTER)) != Some(size) {
        return Err(bad("length"));
    }
    if &footer[24..24 + tag_len as usize] != tag.as_bytes() {
        return Err(bad("another object's"));
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
    const TAG: &str = "\"etag-1\"";

    fn put(c: &HostCache, id: i64, d: &Data, bytes: &[u8], writes: usize) {
        let mut s = c.spool(bytes.len() as u64).expect("room");
        let part = bytes.len().div_ceil(writes).next_multiple_of(PIECE as usize);
        for part in bytes.chunks(part) {
            s.write(Bytes::copy_from_slice(part)).unwrap();
        }
        c.keep(s, id, d, TAG);
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
            assert_eq!(c.read(5, &d, TAG, a as u64, z as u64).unwrap(), &bytes[a..z]);
        }
        assert!(c.read(5, &d, TAG, 0, len as u64 + 1).is_none(), "past the object");
        assert!(c.read(6, &d, TAG, 0, 1).is_none(), "another segment");
        assert!(
            c.read(5, &data(4096 + len as u64, 10), TAG, 0, 1).is_none(),
            "another object"
        );
        let other = HostCache::open(tmp.path(), "s3://b/other", 64 << 20).unwrap();
        assert!(other.read(5, &d, TAG, 0, 1).is_none(), "another pool's cache");
        // an adoption cut the object short: its first bytes still read
        let cut = data(4096, len as u64 - 2000);
        assert_eq!(c.read(5, &cut, TAG, 0, 100).unwrap(), &bytes[..100]);
        assert!(
            c.read(5, &cut, TAG, 0, len as u64 - 1999).is_none(),
            "past the cut"
        );
        // the same name, another object (a segment made anew): not read,
        // and the file goes
        assert!(c.read(5, &d, "\"etag-2\"", 0, 1).is_none());
        assert!(c.read(5, &d, TAG, 0, 1).is_none(), "removed");
        put(&c, 5, &d, &bytes, 2);
        assert!(c.read(5, &d, TAG, 0, 1).is_some());
        c.forget_segment(5);
        assert!(
            c.read(5, &d, TAG, 0, 1).is_none(),
            "a segment made anew forgets its files"
        );
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
            c.read(1, &d, TAG, 0, 100).unwrap(),
            &bytes[..100],
            "the first piece still checks"
        );
        assert!(c.read(1, &d, TAG, 69_000, 71_000).is_none());
        assert!(!path.exists());
        // a file cut short (a crash before the footer) is not read
        put(&c, 1, &d, &bytes, 1);
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(150_000).unwrap();
        assert!(c.read(1, &d, TAG, 0, 10).is_none());
        assert!(!path.exists());
    }

    #[test]
    fn a_spool_that_missed_bytes_or_was_dropped_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let c = HostCache::open(tmp.path(), "s3://b/p", 64 << 20).unwrap();
        let bytes = object(10_000, 2);
        let d = data(4096, 20_000);
        put(&c, 1, &d, &bytes, 2); // half the object
        assert!(c.read(1, &d, TAG, 0, 10).is_none());
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
        // (at most 64 MiB between scans: a bound of 3 objects scans at each)
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
        let held: Vec<bool> = ds.iter().map(|d| c.read(9, d, TAG, 0, 1).is_some()).collect();
        assert_eq!(held, [false, false, true, true, true]);
        assert!(
            c.spool(3 * per + 1).is_none(),
            "an object larger than the bound is not spooled"
        );
    }
}
