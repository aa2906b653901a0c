//! Segment files: append-only containers of chunk bytes.
//!
//! Layout (docs/format.md has the byte diagram): a 4096-byte header, then
//! chunks, each starting at a multiple of [`super::CHUNK_ALIGN`]. The file
//! holds no per-chunk header: the catalog row (segment, offset, length,
//! crc32c) is the only index, and the catalog commit is the commit point.
//!
//! Writes use `pwrite` into the page cache, then `fdatasync` before the
//! catalog row that refers to them commits. We do not write through a
//! shared writable map: a store into a map of sparse or unallocated space
//! on a full filesystem raises SIGBUS in the host, while `pwrite` returns
//! ENOSPC. Reading is `store::read` (pread too).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{CHUNK_ALIGN, align_up};

/// Bytes before the first chunk (every store's).
pub use super::chunk_store::HEADER_LEN;
/// First eight bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"CMBSEG01";
/// Segment format version written in the header.
pub const VERSION: u32 = 1;

/// Path of segment `id` under the server's `segments/` directory.
pub fn segment_path(seg_dir: &Path, id: i64) -> PathBuf {
    seg_dir.join(format!("{id:016x}.seg"))
}

/// Where [`SegmentFile::create`] writes segment `id`'s header before
/// linking the file into place.
pub fn partial_path(seg_dir: &Path, id: i64) -> PathBuf {
    seg_dir.join(format!("{id:016x}.seg.new"))
}

/// Removes the partial file a crash inside [`SegmentFile::create`] may have
/// left (recovery does this for the segments of a dead owner).
///
/// # Errors
/// I/O errors other than a missing file.
pub fn remove_partial(seg_dir: &Path, id: i64) -> io::Result<()> {
    match fs::remove_file(partial_path(seg_dir, id)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A segment this process appends to.
#[derive(Debug)]
pub struct SegmentFile {
    id: i64,
    file: File,
    /// Offset just past the last appended byte (buffered ones included).
    end: u64,
    /// Packed appends not yet written, which start at `end - pack.len()`.
    pack: Vec<u8>,
    /// The end at the last sync (or creation, or adoption).
    synced_end: u64,
}

/// Packed appends are gathered up to this many bytes per `pwrite`: one
/// system call per 16 KiB chunk cost more than the copy.
pub const PACK_WRITE: usize = 256 << 10;

impl SegmentFile {
    /// Creates segment `id` with its header, durably (file and directory).
    /// The header is written and synced under a temporary name
    /// ([`partial_path`]) and then linked into place, so that a crash at any
    /// instant leaves the segment file whole or absent, never without its
    /// header (recovery removes a leftover partial file: [`remove_partial`]).
    ///
    /// # Errors
    /// I/O errors; `AlreadyExists` if the file is there.
    pub fn create(seg_dir: &Path, id: i64, server_uuid: &str) -> io::Result<SegmentFile> {
        let path = segment_path(seg_dir, id);
        let partial = partial_path(seg_dir, id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        super::crash::point("segment.before_header");
        file.write_all_at(&encode_header(id, server_uuid), 0)?;
        file.sync_all()?;
        super::crash::point("segment.before_link");
        // link, unlike rename, fails if the name exists (AlreadyExists)
        let linked = fs::hard_link(&partial, &path);
        let _ = fs::remove_file(&partial);
        linked?;
        File::open(seg_dir)?.sync_all()?;
        super::crash::synced(&file, HEADER_LEN);
        Ok(SegmentFile {
            id,
            file,
            end: HEADER_LEN,
            pack: Vec::new(),
            synced_end: HEADER_LEN,
        })
    }

    /// Opens segment `id` for appending after `committed_end`, cutting any
    /// tail a dead writer left beyond it (no catalog row refers to it).
    ///
    /// # Errors
    /// I/O errors; `InvalidData` if the header does not name segment `id`.
    pub fn adopt(seg_dir: &Path, id: i64, committed_end: u64) -> io::Result<SegmentFile> {
        let path = segment_path(seg_dir, id);
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        check_header(&file, id)?;
        let end = committed_end.max(HEADER_LEN);
        if file.metadata()?.len() > end {
            file.set_len(end)?;
            file.sync_all()?;
        }
        super::crash::synced(&file, end);
        Ok(SegmentFile {
            id,
            file,
            end,
            pack: Vec::new(),
            synced_end: end,
        })
    }

    /// Segment id (the catalog's).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Offset just past the last appended byte.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Offset the next chunk will start at.
    pub fn next_offset(&self) -> u64 {
        align_up(self.end)
    }

    /// Appends `data` as one chunk; returns its offset. Not yet durable.
    ///
    /// # Errors
    /// I/O errors (ENOSPC among them). The segment's end is unchanged on error.
    pub fn append(&mut self, data: &[u8]) -> io::Result<u64> {
        self.write_pack()?;
        let off = self.next_offset();
        debug_assert_eq!(off % CHUNK_ALIGN, 0);
        if let Err(e) = self.file.write_all_at(data, off) {
            // Give back what a partial write took (on a full filesystem it
            // would otherwise stay allocated until the segment is adopted).
            let _ = self.file.set_len(self.end);
            return Err(e);
        }
        self.end = off + data.len() as u64;
        start_writeback(&self.file, off, data.len() as u64);
        Ok(off)
    }

    /// Appends `data` right after the last byte (no alignment: format 2
    /// chunks are packed); returns its offset. The bytes may wait in
    /// memory until [`PACK_WRITE`] bytes gather or [`SegmentFile::sync`].
    ///
    /// # Errors
    /// I/O errors of writing what had gathered (ENOSPC among them).
    pub fn append_packed(&mut self, data: &[u8]) -> io::Result<u64> {
        let off = self.end;
        self.pack.extend_from_slice(data);
        self.end += data.len() as u64;
        if self.pack.len() >= PACK_WRITE {
            self.write_pack()?;
        }
        Ok(off)
    }

    /// Writes the gathered packed appends. On error everything appended
    /// since the last sync is given back (the file is cut there: on a full
    /// filesystem nothing else would free it until another writer adopts
    /// the segment) and the caller must treat it as lost.
    fn write_pack(&mut self) -> io::Result<()> {
        if self.pack.is_empty() {
            return Ok(());
        }
        let at = self.end - self.pack.len() as u64;
        let r = self.file.write_all_at(&self.pack, at);
        let len = self.pack.len() as u64;
        self.pack.clear();
        if let Err(e) = r {
            let _ = self.file.set_len(self.synced_end);
            self.end = self.synced_end;
            return Err(e);
        }
        start_writeback(&self.file, at, len);
        Ok(())
    }

    /// Makes every appended byte durable (`fdatasync`, which also syncs the
    /// file size).
    ///
    /// # Errors
    /// I/O errors. After one, the appended bytes must be treated as lost.
    pub fn sync(&mut self) -> io::Result<()> {
        self.write_pack()?;
        self.file.sync_data()?;
        self.synced_end = self.end;
        super::crash::synced(&self.file, self.end);
        Ok(())
    }
}

/// Asks the kernel to start writing `[off, off+len)` back now, without
/// waiting, so the `fdatasync` at the next commit finds little left to do
/// and the writer does not stall on a burst of dirty pages. Advisory: an
/// error here is ignored; `sync` reports real failures.
fn start_writeback(file: &File, off: u64, len: u64) {
    let (Ok(off), Ok(len)) = (i64::try_from(off), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range on a valid, owned descriptor; no memory involved.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), off, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Frees `len` bytes at `off` in segment `id` (hole punching). Reads of the
/// range then return zeros, which fail any non-zero chunk's checksum.
///
/// # Errors
/// I/O errors; a missing file is not an error (nothing to free).
pub fn punch_hole(seg_dir: &Path, id: i64, off: u64, len: u64) -> io::Result<()> {
    let file = match OpenOptions::new().write(true).open(segment_path(seg_dir, id)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = align_up(len);
    let (off, len) = (i64::try_from(off), i64::try_from(len));
    let (Ok(off), Ok(len)) = (off, len) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "range beyond i64"));
    };
    // SAFETY: fallocate on a valid, owned descriptor; no memory is involved.
    let rc = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off,
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Removes a segment file that no catalog row refers to.
///
/// # Errors
/// I/O errors other than a missing file.
pub fn remove(seg_dir: &Path, id: i64) -> io::Result<()> {
    match fs::remove_file(segment_path(seg_dir, id)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn encode_header(id: i64, server_uuid: &str) -> Vec<u8> {
    let mut h = vec![0u8; HEADER_LEN as usize];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&id.to_le_bytes());
    let uuid = server_uuid.as_bytes();
    let n = uuid.len().min(32);
    h[24..24 + n].copy_from_slice(&uuid[..n]);
    let crc = crc32c::crc32c(&h[..56]);
    h[56..60].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks that `file` starts with a valid header for segment `id`.
///
/// # Errors
/// `InvalidData` on a bad magic, version, checksum or id.
pub fn check_header(file: &File, id: i64) -> io::Result<()> {
    let mut h = [0u8; 64];
    file.read_exact_at(&mut h, 0)?;
    let bad = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("segment {id}: {why}"),
        ))
    };
    if h[0..8] != MAGIC {
        return bad("bad magic");
    }
    if u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")) != VERSION {
        return bad("unknown version");
    }
    if u32::from_le_bytes(h[56..60].try_into().expect("4 bytes")) != crc32c::crc32c(&h[..56]) {
        return bad("header checksum mismatch");
    }
    if i64::from_le_bytes(h[16..24].try_into().expect("8 bytes")) != id {
        return bad("header names another segment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_aligns_chunks_and_adopt_cuts_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SegmentFile::create(dir.path(), 7, "u").unwrap();
        assert_eq!(s.append(&[1u8; 100]).unwrap(), HEADER_LEN);
        assert_eq!(s.append(&[2u8; 10]).unwrap(), HEADER_LEN + CHUNK_ALIGN);
        s.sync().unwrap();
        let committed = HEADER_LEN + 100;
        drop(s);
        let s = SegmentFile::adopt(dir.path(), 7, committed).unwrap();
        assert_eq!(s.end(), committed);
        let len = fs::metadata(segment_path(dir.path(), 7)).unwrap().len();
        assert_eq!(len, committed);
    }

    #[test]
    fn create_links_a_whole_file_and_a_partial_one_is_removable() {
        let dir = tempfile::tempdir().unwrap();
        SegmentFile::create(dir.path(), 5, "u").unwrap();
        assert!(
            !partial_path(dir.path(), 5).exists(),
            "partial file left after create"
        );
        let f = File::open(segment_path(dir.path(), 5)).unwrap();
        check_header(&f, 5).unwrap();
        let e = SegmentFile::create(dir.path(), 5, "u").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        // what a crash before the link leaves behind
        fs::write(partial_path(dir.path(), 6), b"").unwrap();
        remove_partial(dir.path(), 6).unwrap();
        assert!(!partial_path(dir.path(), 6).exists());
        remove_partial(dir.path(), 6).unwrap();
    }

    #[test]
    fn header_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        SegmentFile::create(dir.path(), 3, "u").unwrap();
        assert!(SegmentFile::adopt(dir.path(), 4, 0).is_err());
        let f = OpenOptions::new()
            .write(true)
            .open(segment_path(dir.path(), 3))
            .unwrap();
        f.write_all_at(b"X", 0).unwrap();
        assert!(SegmentFile::adopt(dir.path(), 3, 0).is_err());
    }

    #[test]
    fn punched_range_reads_zero() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SegmentFile::create(dir.path(), 1, "u").unwrap();
        let off = s.append(&[9u8; 8192]).unwrap();
        s.sync().unwrap();
        punch_hole(dir.path(), 1, off, 8192).unwrap();
        let f = File::open(segment_path(dir.path(), 1)).unwrap();
        let mut b = [1u8; 8192];
        f.read_exact_at(&mut b, off).unwrap();
        assert!(b.iter().all(|&x| x == 0));
    }
}
