//! Image handles: a writer that buffers, cuts the stream into chunks by
//! content, stores only chunks the server does not hold yet and commits
//! them, and a reader that verifies every chunk before returning its bytes.
//!
//! Commit protocol of a writer (docs/format.md, "Commit protocol"):
//! 1. each chunk is fingerprinted; a chunk the server holds already
//!    becomes a reference to it, a new one is compressed (or kept raw)
//!    and appended to the writer's segment with `pwrite` (a buffer's new
//!    chunks are compressed while the next buffer is cut, and appended
//!    when it is: engine::pipeline; a commit appends the buffer in flight
//!    first);
//! 2. at a commit point (every `ChunkStore::commit_every` bytes: 64 MiB
//!    on segment files, 256 MiB on an object store; flush, close) each
//!    segment written since the last commit is `fdatasync`ed;
//! 3. one catalog transaction inserts the chunks and extents, advances the
//!    segments' committed ends and sets the image's size.
//!
//! A crash before 3 leaves bytes no row refers to (cut or reused later); a
//! crash after 3 leaves rows whose bytes are durable. After any failed
//! write or sync the handle is poisoned: the error is returned once, then
//! [`Error::PreviousIo`]; fsync is never retried and trusted.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use sha1::{Digest, Sha1};

use super::clock::now_ms;
use super::digest::StreamHash;
use super::error::{Error, Result};
use super::finder::{Answer, PREFETCH};
use super::names::ImageName;
use super::pipeline::{Batch, Pipeline};
use super::reuse::Reuse;
use super::shared::{SEGMENT_TARGET, Shared};
use super::squeeze;
use crate::catalog::{
    self, ChunkRef, ExtentRow, ImageRow, ImageState, Inserted, MAX_CHUNK, NewChunk, NewExtent,
};
use crate::chunking::cdc::Cuts;
use crate::chunking::{Codec, Decompressor, Fingerprint};
use crate::store::checksum::BlockCrcs;
use crate::store::{SegmentReader, SegmentWriter};
use crate::{log_debug, log_error, log_info, log_warn};

/// Lengths and offsets of image I/O are multiples of this.
pub const BLOCK_SIZE: u64 = 512;
/// Longest single read or write.
pub const MAX_IO: u64 = 1 << 30;
/// Largest image metadata, in bytes.
pub const MAX_META: u64 = 8 << 20;

/// How far past a read its places are announced, on a store that asks
/// for every read's places (ChunkStore::announce_every_read).
const ANNOUNCE_AHEAD: u64 = 8 << 20;

/// Image properties.
#[derive(Clone, Debug)]
pub struct ImageInfo {
    pub name: ImageName,
    pub lsu: String,
    pub state: ImageState,
    pub size: u64,
    pub ctime_ms: u64,
    pub mtime_ms: u64,
    pub complete_ms: u64,
    pub extent_count: u64,
    pub objid: String,
    pub sha1: String,
}

impl ImageInfo {
    /// The properties of `row`. An image whose writer died and has not
    /// been recovered yet (by this process: recovery runs on open) is
    /// reported as what it is and what open allows: aborted (pending, not
    /// busy, abnormal; recovery may still find it broken), or, for a copy
    /// in progress, which recovery deletes, gone ([`Error::NoImage`]).
    ///
    /// # Errors
    /// [`Error::NoImage`] for a dead writer's copy; catalog errors.
    pub(crate) fn from_row(
        sh: &Shared,
        conn: &catalog::Conn,
        row: ImageRow,
        lsu: String,
    ) -> Result<ImageInfo> {
        let state = match row.state {
            ImageState::Writing if !sh.writer_alive(row.writer.as_deref())? => {
                if row.temporary {
                    return Err(Error::NoImage(format!("{} (an interrupted copy)", row.name)));
                }
                ImageState::Aborted
            }
            s => s,
        };
        Ok(ImageInfo {
            extent_count: catalog::extent_count(conn, row.id)?,
            name: row.name,
            lsu,
            state,
            size: row.size,
            ctime_ms: row.ctime_ms,
            mtime_ms: row.mtime_ms,
            complete_ms: row.complete_ms,
            objid: row.objid,
            sha1: row.sha1,
        })
    }
}

/// The highest end offset of image bytes: the catalog stores offsets and
/// sizes as SQLite (signed 64-bit) integers.
pub const MAX_END: u64 = i64::MAX as u64;

/// `off + len`, if it neither overflows nor passes [`MAX_END`].
fn end_within(off: u64, len: u64) -> Option<u64> {
    off.checked_add(len).filter(|end| *end <= MAX_END)
}

fn check_io(off: u64, len: u64) -> Result<()> {
    if off % BLOCK_SIZE != 0 || len % BLOCK_SIZE != 0 {
        return Err(Error::Align);
    }
    if len > MAX_IO {
        return Err(Error::TooBig(format!("{len} bytes in one call")));
    }
    end_within(off, len)
        .map(|_| ())
        .ok_or_else(|| Error::Range(format!("offset + length passes {MAX_END}")))
}

/// Info of image `id` as committed, for any handle.
fn info_by_id(sh: &Shared, id: i64) -> Result<ImageInfo> {
    let conn = sh.catalog.lock();
    let row = catalog::image_by_id(&conn, id)?.ok_or_else(|| Error::NoImage(format!("image #{id}")))?;
    let lsu = catalog::lsu_name(&conn, row.lsu_id)?;
    ImageInfo::from_row(sh, &conn, row, lsu)
}

/// Reads image metadata; returns bytes placed in `buf`.
fn read_meta(sh: &Shared, id: i64, off: u64, buf: &mut [u8]) -> Result<usize> {
    if buf.len() as u64 > MAX_META {
        return Err(Error::TooBig(format!("metadata read of {} bytes", buf.len())));
    }
    let conn = sh.catalog.lock();
    if catalog::image_by_id(&conn, id)?.is_none() {
        return Err(Error::NoImage(format!("image #{id}")));
    }
    let (n, size) = catalog::read_meta(&conn, id, off, buf)?;
    if off > size {
        return Err(Error::Range(format!(
            "metadata offset {off} beyond its size {size}"
        )));
    }
    Ok(n)
}

/// Writes image metadata, durably.
fn write_meta(sh: &Shared, id: i64, off: u64, data: &[u8]) -> Result<()> {
    if off
        .checked_add(data.len() as u64)
        .is_none_or(|end| end > MAX_META)
    {
        return Err(Error::TooBig(format!("metadata past {MAX_META} bytes")));
    }
    sh.ensure_room(data.len() as u64)?;
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    if catalog::image_by_id(&tx, id)?.is_none() {
        return Err(Error::NoImage(format!("image #{id}")));
    }
    catalog::write_meta(&tx, id, off, data)?;
    Ok(tx.commit()?)
}

/// A piece of the image written but not yet committed: `len` bytes at
/// `img_off`, which are one whole chunk.
#[derive(Debug)]
struct Pending {
    img_off: u64,
    len: u64,
    chunk: PendingChunk,
}

impl Pending {
    /// The row a stored chunk is to get (None for a chunk found recorded).
    fn new_chunk(&self, lsu_id: i64) -> Option<NewChunk<'_>> {
        match &self.chunk {
            PendingChunk::Stored {
                segment,
                seg_off,
                len,
                codec,
                crcs,
                fp,
            } => Some(NewChunk {
                segment: *segment,
                seg_off: *seg_off,
                len: *len,
                raw_len: self.len,
                codec: *codec as i64,
                fp: Some(fp.as_bytes()),
                crcs,
                lsu_id,
            }),
            PendingChunk::Held(_) | PendingChunk::Same(_) => None,
        }
    }
}

#[derive(Debug)]
enum PendingChunk {
    /// Stored by this writer: `len` stored bytes at `seg_off` in `segment`.
    Stored {
        segment: i64,
        seg_off: u64,
        len: u64,
        codec: Codec,
        /// Boxed: 260 bytes for what is at most 4 crcs of a 64 KiB chunk.
        crcs: Box<BlockCrcs>,
        fp: Fingerprint,
    },
    /// A chunk the server holds (found by fingerprint).
    Held(i64),
    /// The same bytes as the pending piece with this index.
    Same(usize),
}

/// Fingerprints a writer has found or stored, with their chunk ids; at
/// most this many (about 80 bytes each: 5 MiB, a GiB of chunks), then it
/// starts again.
const KNOWN_MAX: usize = if cfg!(test) { 256 } else { 1 << 16 };

/// An image open for writing.
#[derive(Debug)]
pub struct ImageWriter {
    sh: Arc<Shared>,
    id: i64,
    lsu_id: i64,
    /// Bytes stored between commits at most (the store's
    /// `commit_every`), so other processes see the image's size and a
    /// crash loses at most this much of what was not flushed.
    commit_every: u64,
    committed_size: u64,
    size: u64,
    /// Bytes not yet cut into chunks, at `buf_off`; after a cut, they
    /// start with the tail carried over to be cut again.
    buf: Vec<u8>,
    buf_off: u64,
    /// The carried tail, between taking it out of one buffer and putting
    /// it into the next.
    carry: Vec<u8>,
    seg: Option<Box<dyn SegmentWriter>>,
    retired: Vec<Box<dyn SegmentWriter>>,
    pending: Vec<Pending>,
    pending_bytes: u64,
    /// Stored bytes of the pending chunks this writer stored.
    pending_stored: u64,
    /// Fingerprint -> index in `pending` of chunks stored since the last commit.
    pending_fps: HashMap<Fingerprint, usize>,
    /// Fingerprint -> chunk id of chunks this writer may refer to: found
    /// live (or dead since it registered) or stored by it (the release
    /// protocol in catalog::release_orphans).
    known: HashMap<Fingerprint, i64>,
    /// The release epoch this writer registered at.
    pin: i64,
    /// The last segment range loaded into `known` after a found chunk:
    /// (segment, offset of the last chunk loaded).
    prefetched: Option<(i64, u64)>,
    /// Compression of the last cut buffer, overlapping the next one's
    /// filling and cutting (engine::pipeline); stored by [`Self::drain`].
    pipe: Pipeline,
    /// An empty buffer back from the hasher, for the next one to fill.
    spare: Option<Vec<u8>>,
    /// Bytes received from another server ([`ImageWriter::bytes_received`]).
    received: u64,
    hash: StreamHash,
    copied: CopiedFrom,
    /// Bytes the LSU's quota allowed at the last commit (None: no quota).
    room: Option<u64>,
    /// Time spent waiting for chunk lookups since the last commit (its
    /// debug log).
    lookups: std::time::Duration,
    failed: bool,
    closed: bool,
}

/// Whether a writer's image so far is exactly a prefix of one complete
/// image on the same server (shared extents, copied 0..n in order), so
/// that a whole copy can take the source's SHA-1 instead of reading back.
#[derive(Debug)]
enum CopiedFrom {
    Nothing,
    /// Bytes 0..size are those of image `image_id` of server `server`,
    /// which holds `source_size` bytes with SHA-1 `sha1`.
    Prefix {
        server: String,
        image_id: i64,
        size: u64,
        source_size: u64,
        sha1: String,
    },
    Mixed,
}

impl CopiedFrom {
    /// The state after `src`'s bytes `from..from + len` were copied to
    /// `to` (the whole target so far only if they continue a prefix);
    /// `src` holds `source_size` bytes with SHA-1 `sha1` (complete).
    fn then(
        self,
        src: &ImageReader,
        (source_size, sha1): (u64, String),
        from: u64,
        to: u64,
        len: u64,
    ) -> CopiedFrom {
        match self {
            CopiedFrom::Nothing if from == 0 && to == 0 => CopiedFrom::Prefix {
                server: src.sh.uuid.clone(),
                image_id: src.id,
                size: len,
                source_size,
                sha1,
            },
            CopiedFrom::Prefix {
                server,
                image_id,
                size: n,
                source_size,
                sha1,
            } if server == src.sh.uuid && image_id == src.id && from == n && to == n => CopiedFrom::Prefix {
                server,
                image_id,
                size: n + len,
                source_size,
                sha1,
            },
            _ => CopiedFrom::Mixed,
        }
    }

    /// The SHA-1 of a target of `size` bytes, if they are exactly its
    /// source's bytes (all of them: a copy of part of a source, from its
    /// start, has another SHA-1, which the crash torture caught being
    /// recorded).
    fn whole_source_sha1(&self, size: u64) -> Option<&str> {
        match self {
            CopiedFrom::Prefix {
                size: n,
                source_size,
                sha1,
                ..
            } if *n == size && *source_size == size => Some(sha1),
            _ => None,
        }
    }
}

impl ImageWriter {
    /// The log of the image's server.
    pub fn log(&self) -> &crate::logging::ServerLog {
        &self.sh.log
    }

    pub(crate) fn new(sh: Arc<Shared>, id: i64, lsu_id: i64, size: u64) -> ImageWriter {
        let (room, pin) = {
            let conn = sh.catalog.lock();
            (
                catalog::lsu_room(&conn, lsu_id).unwrap_or(None),
                // i64::MAX: no dead chunk is ever taken as a match
                catalog::image_pin(&conn, id).unwrap_or(i64::MAX),
            )
        };
        ImageWriter {
            commit_every: sh.store.commit_every(),
            sh,
            id,
            lsu_id,
            committed_size: size,
            size,
            buf: Vec::new(),
            buf_off: 0,
            carry: Vec::new(),
            seg: None,
            retired: Vec::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            pending_stored: 0,
            pending_fps: HashMap::new(),
            known: HashMap::new(),
            pin,
            prefetched: None,
            pipe: Pipeline::default(),
            spare: None,
            received: 0,
            // A reopened image's earlier bytes were not hashed here: the
            // SHA-1 is then computed by reading back at completion.
            hash: if size == 0 {
                StreamHash::new()
            } else {
                StreamHash::off()
            },
            copied: if size == 0 {
                CopiedFrom::Nothing
            } else {
                CopiedFrom::Mixed
            },
            room,
            lookups: std::time::Duration::ZERO,
            failed: false,
            closed: false,
        }
    }

    /// Size including bytes not yet committed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Identity of the image across handles and server instances.
    pub fn image_key(&self) -> (&str, i64) {
        (&self.sh.uuid, self.id)
    }

    /// Writes `data` at `off`. May return before the bytes are durable.
    ///
    /// # Errors
    /// [`Error::Align`], [`Error::TooBig`], [`Error::Range`] (nothing
    /// changed); I/O errors (the handle is then poisoned);
    /// [`Error::PreviousIo`] once poisoned.
    pub fn write(&mut self, off: u64, data: &[u8]) -> Result<()> {
        check_io(off, data.len() as u64)?;
        self.write_any(off, data)
    }

    /// [`ImageWriter::write`] without the block-size rule: archive objects
    /// hold any number of bytes.
    pub(crate) fn write_any(&mut self, off: u64, data: &[u8]) -> Result<()> {
        self.usable()?;
        if end_within(off, data.len() as u64).is_none() {
            return Err(Error::Range(format!("offset + length passes {MAX_END}")));
        }
        if data.is_empty() {
            return Ok(());
        }
        self.copied = CopiedFrom::Mixed;
        let r = self.store(off, data);
        self.poison_on_err(r)?;
        self.size = self.size.max(off + data.len() as u64);
        // Chunks in flight count as cut: commits fall where they did
        // before the pipeline, and so do the cuts they force.
        if self.pending_bytes + self.pipe.inflight_bytes() >= self.commit_every {
            // A cut where the commit falls (the committed size must end a
            // write, at a block boundary, for a resume after a crash): it
            // costs a chunk or two of dedup per commit, as cuts
            // realign on content within a chunk or two.
            let r = self.commit();
            self.poison_on_err(r)?;
        }
        Ok(())
    }

    /// Makes everything written durable and visible to other processes.
    ///
    /// # Errors
    /// I/O and catalog errors (the handle is then poisoned).
    pub fn flush(&mut self) -> Result<()> {
        self.usable()?;
        let r = self.commit();
        self.poison_on_err(r)
    }

    /// Properties, with the size including uncommitted bytes.
    ///
    /// # Errors
    /// [`Error::NoImage`]; catalog errors.
    pub fn info(&self) -> Result<ImageInfo> {
        let mut info = info_by_id(&self.sh, self.id)?;
        info.size = self.size;
        Ok(info)
    }

    /// Reads image metadata.
    ///
    /// # Errors
    /// As [`ImageReader::read_meta`].
    pub fn read_meta(&self, off: u64, buf: &mut [u8]) -> Result<usize> {
        read_meta(&self.sh, self.id, off, buf)
    }

    /// Writes image metadata.
    ///
    /// # Errors
    /// As [`ImageReader::write_meta`].
    pub fn write_meta(&self, off: u64, data: &[u8]) -> Result<()> {
        write_meta(&self.sh, self.id, off, data)
    }

    /// Closes the image complete (with system metadata) or incomplete.
    /// On error the image is left abnormally completed.
    ///
    /// # Errors
    /// I/O, catalog and [`Error::Corrupt`] errors; [`Error::PreviousIo`].
    pub fn close(mut self, complete: bool) -> Result<()> {
        let r = self.finish(complete);
        if r.is_err() {
            self.abandon();
        }
        r
    }

    /// Abnormal completion by the owning process (its server handle closed
    /// with the image open): commits what it can and leaves the image
    /// pending with the abnormal mark.
    pub fn abandon(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if !self.failed {
            if let Err(e) = self.commit() {
                log_warn!(self.sh.log, "image #{}: commit at abnormal close: {e}", self.id);
                self.failed = true;
            }
        }
        let r = self.set_state(ImageState::Aborted);
        if let Err(e) = r {
            log_warn!(
                self.sh.log,
                "image #{}: marking abnormal completion: {e}",
                self.id
            );
        }
        self.release_segments();
    }

    fn finish(&mut self, complete: bool) -> Result<()> {
        if complete {
            let oid = super::records::new_oid();
            let log = self.sh.log.clone();
            self.complete_inner(&oid, |tx, id, size, sha1| {
                super::records::record_image(tx, id, &oid, size, sha1)?;
                super::records::index_within(tx, &oid, &log).map(|_| ())
            })?;
            return Ok(());
        }
        self.usable()?;
        self.commit()?;
        self.set_state(ImageState::Incomplete)?;
        self.closed = true;
        self.release_segments();
        Ok(())
    }

    /// Completes the image with object id `objid`, running `extra` inside
    /// the completing transaction (given the image id, size and SHA-1), so
    /// that whatever it records commits atomically with the completion.
    /// Returns the size and SHA-1. On error the image is left abandoned.
    pub(crate) fn complete_with(
        &mut self,
        objid: &str,
        extra: impl FnOnce(&catalog::Tx<'_>, i64, u64, &str) -> Result<()>,
    ) -> Result<(u64, String)> {
        let r = self.complete_inner(objid, extra);
        if r.is_err() {
            self.abandon();
        }
        r
    }

    fn complete_inner(
        &mut self,
        objid: &str,
        extra: impl FnOnce(&catalog::Tx<'_>, i64, u64, &str) -> Result<()>,
    ) -> Result<(u64, String)> {
        self.usable()?;
        self.emit_buf(true)?;
        let streamed = std::mem::replace(&mut self.hash, StreamHash::off()).finish(self.size);
        let sha1 = match (streamed, self.copied.whole_source_sha1(self.size)) {
            (Some(digest), _) => crate::store::hex(&digest),
            (None, Some(sha1)) => sha1.to_owned(),
            (None, None) => {
                // Reading back goes through the catalog's extents.
                self.commit()?;
                self.read_back_sha1()?
            }
        };
        let (id, size) = (self.id, self.size);
        self.commit_with(size, |tx| {
            catalog::set_complete(tx, id, objid, &sha1, now_ms())?;
            extra(tx, id, size, &sha1)
        })?;
        crate::store::crash::point("complete.after_commit");
        log_debug!(
            self.sh.log,
            "image #{} complete: {} bytes, sha1 {sha1}",
            self.id,
            self.size
        );
        self.closed = true;
        self.release_segments();
        Ok((self.size, sha1))
    }

    fn set_state(&self, state: ImageState) -> Result<()> {
        let mut conn = self.sh.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        catalog::set_state(&tx, self.id, state, None, now_ms())?;
        Ok(tx.commit()?)
    }

    fn read_back_sha1(&self) -> Result<String> {
        let mut reader = ImageReader::new(Arc::clone(&self.sh), self.id, self.size);
        let mut h = Sha1::new();
        let mut buf = vec![0u8; MAX_CHUNK as usize];
        let mut off = 0;
        while off < self.size {
            let n = reader.read(off, &mut buf)?;
            h.update(&buf[..n]);
            off += n as u64;
        }
        Ok(crate::store::hex(&h.finalize()))
    }

    /// After the writer's last transaction: gives its segments back and
    /// reclaims the dead chunks only it kept waiting (Shared::sweep).
    fn release_segments(&mut self) {
        let poisoned = self.failed;
        for seg in self.retired.drain(..).chain(self.seg.take()) {
            self.sh.return_segment(seg, poisoned);
        }
        if let Err(e) = self.sh.sweep() {
            log_warn!(self.sh.log, "image #{}: reclaiming released chunks: {e}", self.id);
        }
    }

    fn usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::PreviousIo);
        }
        if self.closed {
            return Err(Error::Invalid("image handle is closed".into()));
        }
        Ok(())
    }

    fn poison_on_err(&mut self, r: Result<()>) -> Result<()> {
        if let Err(e) = &r {
            // Only failures of stored bytes poison; a refused argument or
            // a vanished copy source leaves the handle usable.
            if matches!(
                e,
                Error::Io { .. } | Error::NoSpace(_) | Error::Catalog(_) | Error::Corrupt(_)
            ) {
                log_warn!(
                    self.sh.log,
                    "image #{}: write failed, handle poisoned: {e}",
                    self.id
                );
                self.failed = true;
            }
        }
        r
    }

    /// Copies `len` bytes of `src` at `from` to `to` in this image (holes
    /// included). On one server the extents are shared and no byte moves;
    /// between servers the bytes are streamed with one chunk of memory,
    /// unless `share_only`. Durable when it returns.
    ///
    /// # Errors
    /// [`Error::Align`], [`Error::Range`], [`Error::Invalid`] (same
    /// image), [`Error::CrossServer`] (`share_only` across servers),
    /// [`Error::NoImage`] (source deleted); I/O and catalog errors.
    pub fn copy_from(
        &mut self,
        src: &mut ImageReader,
        from: u64,
        to: u64,
        len: u64,
        share_only: bool,
    ) -> Result<()> {
        self.usable()?;
        if [from, to, len].iter().any(|v| v % BLOCK_SIZE != 0) {
            return Err(Error::Align);
        }
        let same_server = self.sh.uuid == src.sh.uuid;
        if same_server && self.id == src.id {
            return Err(Error::Invalid("source and target are the same image".into()));
        }
        if from.checked_add(len).is_none_or(|end| end > src.size) || end_within(to, len).is_none() {
            return Err(Error::Range(format!(
                "{len} bytes at {from} pass the source's end {}",
                src.size
            )));
        }
        if !same_server && share_only {
            return Err(Error::CrossServer(
                "a virtual image refers only to images on its own server".into(),
            ));
        }
        if len == 0 {
            return Ok(());
        }
        if same_server {
            let r = self.share(src, from, to, len);
            self.poison_on_err(r)
        } else {
            self.stream(src, from, to, len)
        }
    }

    /// Same-server copy: the target range refers to the source's chunks.
    fn share(&mut self, src: &ImageReader, from: u64, to: u64, len: u64) -> Result<()> {
        self.commit()?;
        let mut conn = self.sh.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let source = catalog::image_by_id(&tx, src.id)?
            .ok_or_else(|| Error::NoImage(format!("copy source image #{} was deleted", src.id)))?;
        if source.state != ImageState::Complete {
            return Err(Error::NotComplete(source.name.to_string()));
        }
        let pieces = catalog::extents_in_range(&tx, src.id, from, len)?;
        let touched = if to < self.committed_size {
            catalog::clear_range(&tx, self.id, to, to + len)?
        } else {
            Vec::new()
        };
        let moved: Vec<NewExtent> = pieces
            .iter()
            .map(|p| NewExtent {
                img_off: to + (p.img_off - from),
                ..*p
            })
            .collect();
        catalog::insert_extents(&tx, self.id, &moved)?;
        let freed = catalog::release_orphans(&tx, &touched)?;
        let size = self.size.max(to + len);
        catalog::set_size(&tx, self.id, size, now_ms())?;
        tx.commit()?;
        drop(conn);
        crate::store::crash::point("share.after_commit");
        self.copied = std::mem::replace(&mut self.copied, CopiedFrom::Mixed).then(
            src,
            (source.size, source.sha1),
            from,
            to,
            len,
        );
        self.hash.stop();
        self.size = size;
        self.committed_size = size;
        self.sh.punch(&freed)
    }

    /// Cross-server copy that moves only what the target lacks, as DD
    /// Boost and MSDP replication do: each whole format 2 chunk of the
    /// source range is looked up here by fingerprint and, if this server
    /// holds it, recorded as a reference; otherwise its stored
    /// (compressed) form is read from the source, verified there
    /// (checksums, decoding, fingerprint) and stored here as it is.
    /// Parts of chunks at the range's edges, format 1 chunks and holes
    /// pass through one buffer as bytes. [`ImageWriter::bytes_received`]
    /// counts what was moved. A target built this way from a whole
    /// source, in order, takes the source's SHA-1: its chunks are the
    /// source's, fingerprint for fingerprint.
    fn stream(&mut self, src: &mut ImageReader, from: u64, to: u64, len: u64) -> Result<()> {
        let copied = std::mem::replace(&mut self.copied, CopiedFrom::Mixed);
        let source = src.info()?;
        let r = self.stream_chunks(src, from, to, len);
        self.hash.stop();
        self.copied = copied.then(src, (source.size, source.sha1), from, to, len);
        let r = r.and_then(|()| self.flush());
        self.poison_on_err(r)
    }

    fn stream_chunks(&mut self, src: &mut ImageReader, from: u64, to: u64, len: u64) -> Result<()> {
        let end = from + len;
        let mut pos = from;
        while pos < end {
            let rows = src.extents_at(pos, WINDOW)?;
            let Some(last) = rows.last() else {
                return self.stream_bytes(src, pos, to + (pos - from), end - pos);
            };
            let window_end = if rows.len() == WINDOW {
                (last.img_off + last.len).min(end)
            } else {
                end
            };
            for e in &rows {
                if e.img_off >= window_end || pos >= window_end {
                    break;
                }
                if e.img_off + e.len <= pos {
                    continue;
                }
                if e.img_off > pos {
                    // a hole in the source: zeros
                    self.stream_bytes(src, pos, to + (pos - from), e.img_off - pos)?;
                    pos = e.img_off;
                }
                let b = window_end.min(e.img_off + e.len);
                let c = e.chunk;
                let whole = c.fp.is_some()
                    && pos == e.img_off
                    && b == e.img_off + e.len
                    && e.chunk_off == 0
                    && e.len == c.raw_len;
                if whole {
                    self.take_chunk(src, &c, to + (pos - from))?;
                } else {
                    self.stream_bytes(src, pos, to + (pos - from), b - pos)?;
                }
                pos = b;
            }
            if pos < window_end {
                self.stream_bytes(src, pos, to + (pos - from), window_end - pos)?;
                pos = window_end;
            }
        }
        Ok(())
    }

    /// Copies `len` bytes of `src` at `from` to `to` as bytes, through one
    /// buffer.
    fn stream_bytes(&mut self, src: &mut ImageReader, from: u64, to: u64, len: u64) -> Result<()> {
        let mut buf = vec![0u8; (len.min(MAX_CHUNK)) as usize];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(MAX_CHUNK) as usize;
            let got = src.read_any(from + done, &mut buf[..n])?;
            if got != n {
                return Err(Error::Range(format!(
                    "copy source ends at {}",
                    from + done + got as u64
                )));
            }
            self.write_any(to + done, &buf[..n])?;
            done += n as u64;
            self.received += n as u64;
        }
        Ok(())
    }

    /// Records source chunk `c` (whole, format 2) at image offset `at`:
    /// a reference if this server holds its fingerprint, else its stored
    /// form, moved.
    fn take_chunk(&mut self, src: &mut ImageReader, c: &ChunkRef, at: u64) -> Result<()> {
        let fp = Fingerprint(c.fp.expect("format 2 chunk"));
        self.emit_buf(true)?;
        self.resolve(&[fp])?;
        let chunk = if let Some(&i) = self.pending_fps.get(&fp) {
            PendingChunk::Same(i)
        } else if let Some(&id) = self.known.get(&fp) {
            PendingChunk::Held(id)
        } else {
            let (codec, stored) = src.stored_form(c)?;
            self.received += stored.len() as u64;
            self.store_new(fp, codec, &stored)?
        };
        self.pending.push(Pending {
            img_off: at,
            len: c.raw_len,
            chunk,
        });
        self.pending_bytes += c.raw_len;
        self.size = self.size.max(at + c.raw_len);
        if self.pending_bytes >= self.commit_every {
            self.commit()?;
        }
        Ok(())
    }

    /// Bytes this writer received from another server's images
    /// (cross-server copies): whole chunks it lacked, in their stored
    /// form, and the bytes of partial ones.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Buffers `data` at `off`, cutting and storing chunks each time the
    /// buffer fills ([`MAX_CHUNK`]). Every byte passes through the
    /// buffer, even from a caller's whole-buffer write: the cut buffer
    /// then goes to the hashing thread while the next one fills
    /// (engine::digest), and one memory copy costs far less than hashing
    /// on the caller's thread. A write that does not continue the buffered
    /// bytes ends them with a cut.
    fn store(&mut self, mut off: u64, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            if !self.buf.is_empty() && off != self.buf_off + self.buf.len() as u64 {
                self.emit_buf(true)?;
            }
            if self.buf.is_empty() {
                self.buf_off = off;
                self.buf.reserve_exact(MAX_CHUNK as usize);
            }
            let n = (MAX_CHUNK as usize - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            off += n as u64;
            data = &data[n..];
            if self.buf.len() as u64 == MAX_CHUNK {
                self.emit_buf(false)?;
            }
        }
        Ok(())
    }

    /// Cuts the buffer into chunks, fingerprints and looks them up, and
    /// starts compressing the new ones (engine::pipeline), after storing
    /// the batch before it; unless `last_is_final`, the last chunk (which
    /// may end only because the buffer did) stays buffered, to be cut
    /// again with the bytes that follow it, so that cuts depend on content
    /// alone (chunking::cdc). With `last_is_final` everything is stored
    /// when it returns, as a commit needs.
    fn emit_buf(&mut self, last_is_final: bool) -> Result<()> {
        if self.buf.is_empty() {
            return if last_is_final { self.drain() } else { Ok(()) };
        }
        let mut buf = std::mem::take(&mut self.buf);
        let cuts = Cuts::of(&buf, last_is_final);
        let fps = squeeze::fingerprints(&buf, &cuts.chunks, !self.pipe.helper_busy());
        // Asked before the batch before is stored, and answered while it
        // is (engine::finder: a round trip to a catalog in PostgreSQL);
        // that batch's new chunks are then pending when this one's fresh
        // ones are chosen: a chunk repeated in the next buffer is stored
        // once.
        let asked = self.ask(&fps);
        let r = self.drain().and_then(|()| self.answer(asked));
        if r.is_err() {
            buf.clear();
            self.buf = buf;
            return r;
        }
        // The chunks to store: first sightings the server lacks.
        let mut seen = std::collections::HashSet::new();
        let fresh: Vec<usize> = (0..fps.len())
            .filter(|&i| {
                let f = &fps[i];
                !self.pending_fps.contains_key(f) && !self.known.contains_key(f) && seen.insert(*f)
            })
            .collect();
        // Bytes before the carried tail's start were hashed with an
        // earlier buffer if this one began with a tail.
        let skip = self.carry.len();
        self.carry.clear();
        self.carry.extend_from_slice(&buf[cuts.carry_from..]);
        let off = self.buf_off;
        self.pipe
            .start(Batch::new(buf, off, skip, cuts.chunks, fps, fresh));
        self.buf = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(MAX_CHUNK as usize));
        self.buf_off = off + cuts.carry_from as u64;
        self.buf.extend_from_slice(&self.carry);
        if self.buf.is_empty() {
            self.carry.clear();
        }
        if last_is_final {
            self.drain()?;
        }
        Ok(())
    }

    /// Stores the batch in flight, if any: waits for its compression,
    /// puts its chunks in order and hands its buffer to the hasher. The
    /// caller was told its bytes were written, so a failure here poisons
    /// the handle whatever the error.
    fn drain(&mut self) -> Result<()> {
        let Some((batch, forms)) = self.pipe.finish() else {
            return Ok(());
        };
        let mut r = Ok(());
        for (i, (&(start, len), fp)) in batch.chunks.iter().zip(&batch.fps).enumerate() {
            let raw = &batch.buf[start..start + len];
            r = self.put_chunk(batch.off + start as u64, raw, *fp, forms.form(i, raw));
            if r.is_err() {
                break;
            }
        }
        self.pipe.recycle(forms);
        if let Err(e) = r {
            log_warn!(
                self.sh.log,
                "image #{}: storing written bytes failed, handle poisoned: {e}",
                self.id
            );
            self.failed = true;
            return Err(e);
        }
        self.spare = Some(self.hash.absorb(batch.off, batch.buf, batch.skip, &self.sh.log));
        Ok(())
    }

    /// Records `raw`, the image's bytes at `img_off`, as one chunk: a
    /// reference to the chunk the server holds under its fingerprint, or
    /// a new chunk stored (compressed where that pays) in the segment.
    /// `form`: its stored form if already compressed.
    fn put_chunk(
        &mut self,
        img_off: u64,
        raw: &[u8],
        fp: Fingerprint,
        form: Option<(Codec, &[u8])>,
    ) -> Result<()> {
        let chunk = if let Some(&i) = self.pending_fps.get(&fp) {
            PendingChunk::Same(i)
        } else if let Some(&id) = self.known.get(&fp) {
            PendingChunk::Held(id)
        } else {
            match form {
                Some((codec, stored)) => self.store_new(fp, codec, stored)?,
                None => {
                    // compressed here: the stored form borrows the compressor
                    let (codec, stored) = self.pipe.compress_one(raw);
                    let stored = stored.to_vec();
                    self.store_new(fp, codec, &stored)?
                }
            }
        };
        self.pending.push(Pending {
            img_off,
            len: raw.len() as u64,
            chunk,
        });
        self.pending_bytes += raw.len() as u64;
        Ok(())
    }

    /// Appends a new chunk's stored form to the writer's segment; returns
    /// it as pending.
    fn store_new(&mut self, fp: Fingerprint, codec: Codec, stored: &[u8]) -> Result<PendingChunk> {
        let stored_len = stored.len() as u64;
        if let Some(room) = self.room {
            if self.pending_stored + stored_len > room {
                return Err(Error::NoSpace("the LSU's capacity quota".into()));
            }
        }
        self.sh.ensure_room(stored_len)?;
        if self.seg.as_ref().is_some_and(|s| s.end() >= SEGMENT_TARGET) {
            self.retired.extend(self.seg.take());
        }
        if self.seg.is_none() {
            self.seg = Some(self.sh.lease_segment()?);
        }
        let seg = self.seg.as_mut().expect("segment leased above");
        let seg_off = seg
            .append(stored)
            .map_err(|e| Error::io(format!("segment {}", seg.id()), e))?;
        crate::store::crash::point("write.after_append");
        self.pending_fps.insert(fp, self.pending.len());
        self.pending_stored += stored_len;
        Ok(PendingChunk::Stored {
            segment: seg.id(),
            seg_off,
            len: stored_len,
            codec,
            crcs: Box::new(BlockCrcs::of(stored)),
            fp,
        })
    }

    /// Looks up the fingerprints of `fps` this writer does not know yet
    /// (engine::finder::find) and remembers the chunks it may refer to.
    fn resolve(&mut self, fps: &[Fingerprint]) -> Result<()> {
        let asked = self.ask(fps);
        self.answer(asked)
    }

    /// Sends [`Self::resolve`]'s question (None if there is nothing to
    /// ask), so that the writer can store the batch before while it is
    /// answered.
    fn ask(&mut self, fps: &[Fingerprint]) -> Option<Answer> {
        if self.known.len() + fps.len() + PREFETCH > KNOWN_MAX {
            // Starting again keeps what the batch in flight was told the
            // server holds (it refers to them when it is stored) and what
            // this buffer would find: neither is asked for again.
            let keep: std::collections::HashSet<&Fingerprint> =
                self.pipe.inflight_fps().iter().chain(fps).collect();
            self.known.retain(|fp, _| keep.contains(fp));
            self.prefetched = None;
        }
        let unknown: Vec<[u8; 32]> = fps
            .iter()
            .filter(|f| !self.known.contains_key(f) && !self.pending_fps.contains_key(f))
            .map(|f| f.0)
            .collect();
        if unknown.is_empty() {
            return None;
        }
        Some(self.sh.ask(unknown, self.pin, self.prefetched))
    }

    /// Waits for the answer to [`Self::ask`] and remembers what it found.
    fn answer(&mut self, asked: Option<Answer>) -> Result<()> {
        let Some(asked) = asked else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let found = asked.wait();
        self.lookups += started.elapsed();
        let found = found?;
        self.known.extend(found.chunks);
        self.prefetched = found.prefetched;
        Ok(())
    }

    fn remember(&mut self, fp: Fingerprint, id: i64) {
        if self.known.len() >= KNOWN_MAX {
            self.known.clear();
            self.prefetched = None;
        }
        self.known.insert(fp, id);
    }

    /// Steps 2 and 3 of the commit protocol for everything written.
    fn commit(&mut self) -> Result<()> {
        self.emit_buf(true)?;
        if self.pending.is_empty() && self.size == self.committed_size {
            return Ok(());
        }
        self.commit_with(self.size, |_| Ok(()))
    }

    /// Steps 2 and 3 of the commit protocol for the pending chunks,
    /// recording `size` as the image's size, with `also` run inside the
    /// committing transaction: a close records the image's last bytes
    /// and its completion with one catalog commit (one WAL sync) instead
    /// of two.
    fn commit_with(&mut self, size: u64, also: impl FnOnce(&catalog::Tx<'_>) -> Result<()>) -> Result<()> {
        let started = std::time::Instant::now();
        for seg in self.retired.iter_mut().chain(self.seg.as_mut()) {
            seg.sync()
                .map_err(|e| Error::io(format!("segment {}", seg.id()), e))?;
        }
        crate::store::crash::point("write.after_sync");
        let synced = started.elapsed();
        let mut conn = self.sh.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let mut end = self.committed_size;
        let mut touched = Vec::new();
        let mut ids: Vec<i64> = Vec::with_capacity(self.pending.len());
        let mut unrecorded = Vec::new();
        let mut stored_new = Vec::new();
        let mut healed = Vec::new();
        // The chunks no row has yet and the extents that overlap nothing
        // go several to a statement (a round trip each on PostgreSQL);
        // the rest one at a time, as before.
        let stored: Vec<NewChunk<'_>> = self
            .pending
            .iter()
            .filter_map(|p| p.new_chunk(self.lsu_id))
            .collect();
        let mut fresh = catalog::insert_new_chunks(&tx, &stored)?;
        // Those left out were recorded first, by another writer (concurrent
        // streams of similar clients store the same new chunks): found
        // with one lookup.
        let left: Vec<[u8; 32]> = stored
            .iter()
            .filter_map(|c| c.fp)
            .filter(|fp| !fresh.contains_key(*fp))
            .copied()
            .collect();
        let known = catalog::existing_chunks(&tx, &left)?;
        // chunks this commit recorded, for later copies of them
        let mut taken: HashMap<[u8; 32], i64> = HashMap::new();
        let mut plain: Vec<NewExtent> = Vec::new();
        for p in &self.pending {
            let chunk_id = match &p.chunk {
                PendingChunk::Stored {
                    fp, segment, seg_off, ..
                } => {
                    // the first of several pending copies takes the row;
                    // with the LSU an existing one is charged to (None:
                    // not known)
                    let (inserted, charged) = if let Some(id) = fresh.remove(fp.as_bytes()) {
                        taken.insert(*fp.as_bytes(), id);
                        (Inserted::New(id), None)
                    } else if let Some(&id) = taken.get(fp.as_bytes()) {
                        (Inserted::Existing(id), Some(self.lsu_id))
                    } else if let Some(h) = known.get(fp.as_bytes()) {
                        (Inserted::Existing(h.id), Some(h.lsu_id))
                    } else {
                        // damaged: repaired with these bytes
                        let c = p.new_chunk(self.lsu_id).expect("a stored chunk");
                        (catalog::insert_chunk(&tx, &c)?, None)
                    };
                    match inserted {
                        Inserted::New(id) => {
                            stored_new.push((*fp, id));
                            id
                        }
                        Inserted::Existing(id) => {
                            // Another writer recorded the same chunk first.
                            unrecorded.push((*segment, *seg_off, id, charged));
                            id
                        }
                        Inserted::Healed {
                            id,
                            segment,
                            seg_off,
                            lsu_id,
                        } => {
                            healed.push((segment, seg_off, id, lsu_id));
                            stored_new.push((*fp, id));
                            id
                        }
                    }
                }
                PendingChunk::Held(id) => *id,
                PendingChunk::Same(i) => ids[*i],
            };
            ids.push(chunk_id);
            let e = NewExtent {
                img_off: p.img_off,
                len: p.len,
                chunk_id,
                chunk_off: 0,
            };
            if p.img_off < end {
                // it may overwrite extents still waiting in `plain`
                catalog::insert_extents(&tx, self.id, &std::mem::take(&mut plain))?;
                touched.extend(catalog::overwrite_extent(&tx, self.id, &e)?);
            } else {
                plain.push(e);
            }
            end = end.max(p.img_off + p.len);
        }
        catalog::insert_extents(&tx, self.id, &plain)?;
        let mut freed = catalog::release_orphans(&tx, &touched)?;
        // A chunk revived by this commit (found dead, or repaired) is
        // charged to an LSU that refers to it. One charged to this
        // writer's LSU is: this commit's extent refers to it (or, if the
        // commit overwrote that extent again, release_orphans recharged
        // it as one of `touched`).
        let recharged = unrecorded
            .iter()
            .filter(|u| u.3 != Some(self.lsu_id))
            .map(|u| u.2)
            .chain(healed.iter().map(|h| h.2));
        for id in recharged {
            catalog::recharge(&tx, id)?;
        }
        for seg in &self.retired {
            catalog::advance_segment(&tx, seg.id(), seg.end(), true)?;
        }
        if let Some(seg) = &self.seg {
            catalog::advance_segment(&tx, seg.id(), seg.end(), seg.end() >= SEGMENT_TARGET)?;
        }
        // After the segments' ends advanced: the space of a duplicate
        // lies below them.
        let places = unrecorded
            .iter()
            .map(|&(segment, seg_off, ..)| (segment, seg_off, self.lsu_id))
            .chain(
                healed
                    .iter()
                    .map(|&(segment, seg_off, _, lsu_id)| (segment, seg_off, lsu_id)),
            );
        freed.extend(catalog::free_unrecorded(&tx, places.collect())?);
        if !self.pending.is_empty() || size != self.committed_size {
            catalog::set_size(&tx, self.id, size, now_ms())?;
        }
        also(&tx)?;
        tx.commit()?;
        drop(conn);
        crate::store::crash::point("write.after_commit");
        // Where a writer's time goes, for an administrator who asks
        // (COMBSTORE_LOG=combstore::engine::image=debug).
        log_debug!(
            self.sh.log,
            "image #{} commit of {} pieces: data durable in {:.1} ms, catalog {:.1} ms; waited {:.1} ms for lookups since the last commit",
            self.id,
            self.pending.len(),
            synced.as_secs_f64() * 1e3,
            (started.elapsed() - synced).as_secs_f64() * 1e3,
            self.lookups.as_secs_f64() * 1e3
        );
        self.lookups = std::time::Duration::ZERO;
        for (_, _, id, _) in healed {
            log_info!(
                self.sh.log,
                "repaired damaged chunk {id} with the same bytes written anew"
            );
        }
        self.pending.clear();
        self.pending_fps.clear();
        self.pending_bytes = 0;
        self.pending_stored = 0;
        self.committed_size = size;
        for (fp, id) in stored_new {
            self.remember(fp, id);
        }
        for seg in std::mem::take(&mut self.retired) {
            self.sh.return_segment(seg, false);
        }
        self.sh.punch(&freed)?;
        self.room = catalog::lsu_room(&self.sh.catalog.lock(), self.lsu_id)?;
        if let Err(e) = self.sh.check_low_space(self.lsu_id) {
            log_warn!(self.sh.log, "low-space check: {e}");
        }
        Ok(())
    }
}

impl Drop for ImageWriter {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// Checks chunk `c`'s `stored` bytes against their crc32cs, decodes them
/// into `out` (the chunk's length exactly) and checks the result against
/// the chunk's fingerprint; the error says what failed.
/// Why reading a chunk's stored bytes failed: "is missing bytes" when
/// the store lacks them (a cut or removed segment: damage), "cannot be
/// read" for any other I/O error (descriptors exhausted, a device error
/// that may pass), which says nothing of the chunk itself.
pub(crate) fn read_why(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::NotFound => format!("is missing bytes: {e}"),
        _ => format!("{NOT_READ}: {e}"),
    }
}

/// How [`read_why`] begins a failure that is no damage.
const NOT_READ: &str = "cannot be read";

/// Whether a chunk failure's reason (`read_why`, `decode_chunk`) is
/// damage to the chunk, to be flagged (catalog::mark_damaged), rather
/// than an I/O error that may pass: a sound chunk flagged would be moved
/// by the next backup that holds its bytes.
pub(crate) fn is_damage(why: &str) -> bool {
    !why.starts_with(NOT_READ)
}

fn decode_chunk(
    dec: &mut Decompressor,
    c: &ChunkRef,
    stored: &[u8],
    out: &mut [u8],
) -> std::result::Result<(), String> {
    let codec = Codec::from_i64(c.codec).ok_or_else(|| format!("has unknown codec {}", c.codec))?;
    if out.len() as u64 != c.raw_len || c.raw_len > MAX_CHUNK || stored.len() as u64 != c.len {
        return Err(format!("has length {} ({} stored)", c.raw_len, c.len));
    }
    if !c.crcs.verify_blocks(c.len, 0, stored) {
        return Err("fails its checksum".into());
    }
    dec.decode(codec, stored, out)
        .map_err(|err| format!("does not decode: {err}"))?;
    match c.fp.map(Fingerprint) {
        Some(fp) if !fp.matches(out) => Err("does not match its fingerprint".into()),
        _ => Ok(()),
    }
}

/// A whole format 2 chunk a read decodes: its image offset and its range
/// of the caller's buffer.
#[derive(Debug)]
struct Decode {
    chunk: ChunkRef,
    img_off: u64,
    out: std::ops::Range<usize>,
}

/// Most stored bytes of one run of a read's chunks (one `pread`, one
/// claim by a decoding thread): small enough that a 1 MiB read makes
/// several, so both threads stay busy to its end.
const RUN_MAX: u64 = 64 << 10;

/// Below this many bytes a read's chunks are decoded on the caller's
/// thread alone: a thread costs tens of microseconds. Small in unit
/// tests, whose windows are tiny, so that they decode on two threads too.
const DECODE_SPLIT_MIN: usize = if cfg!(test) { 8 << 10 } else { 256 << 10 };

/// A run of chunks next to each other in a segment, and their ranges of
/// the caller's buffer.
type Run<'a> = (&'a [Decode], Vec<&'a mut [u8]>);

/// Where a read failed: image offset, the chunk if one is to blame, why.
type Failure = (u64, Option<ChunkRef>, String);

/// One decoding thread's tools: its decompressor, its own segment
/// descriptors (made at first use), the stored bytes of its run.
#[derive(Debug, Default)]
struct Lane {
    dec: Decompressor,
    segs: Option<Box<dyn SegmentReader>>,
    stored: Vec<u8>,
}

impl Lane {
    fn ready(&mut self, store: &Arc<dyn crate::store::ChunkStore>, from_store: bool) -> &mut Lane {
        if self.segs.is_none() {
            self.segs = Some(if from_store {
                store.store_reader()
            } else {
                store.reader()
            });
        }
        self
    }

    /// Reads the run `chunks` with one `pread` (chunk by chunk if that
    /// fails, to name the one that cannot be read), then checks and
    /// decodes each into its range of `outs`; the first failure stops it.
    fn decode_run(&mut self, chunks: &[Decode], outs: &mut [&mut [u8]]) -> Option<Failure> {
        let segs = self.segs.as_mut()?;
        let first = &chunks[0].chunk;
        let total: u64 = chunks.iter().map(|d| d.chunk.len).sum();
        let fail = |d: &Decode, o: &mut [u8], why: String| {
            o.fill(0);
            Some((
                d.img_off,
                Some(d.chunk).filter(|_| is_damage(&why)),
                format!("chunk {} in segment {} {why}", d.chunk.id, d.chunk.segment),
            ))
        };
        if chunks.iter().any(|d| d.chunk.len > MAX_CHUNK) {
            let (k, d) = chunks.iter().enumerate().find(|(_, d)| d.chunk.len > MAX_CHUNK)?;
            return fail(d, &mut outs[k][..], format!("has stored length {}", d.chunk.len));
        }
        if self.stored.len() < total as usize {
            self.stored.resize(total as usize, 0);
        }
        let whole = segs.read_exact_at(first.segment, first.seg_off, &mut self.stored[..total as usize]);
        let mut at = 0usize;
        for (d, o) in chunks.iter().zip(outs.iter_mut()) {
            let c = &d.chunk;
            let len = c.len as usize;
            if let Err(err) = &whole {
                // The run failed (a cut file?): this chunk alone.
                if let Err(e) = segs.read_exact_at(c.segment, c.seg_off, &mut self.stored[at..at + len]) {
                    let why = if chunks.len() > 1 {
                        format!("{} (with the chunks around it: {err})", read_why(&e))
                    } else {
                        read_why(&e)
                    };
                    return fail(d, o, why);
                }
            }
            if let Err(why) = decode_chunk(&mut self.dec, c, &self.stored[at..at + len], o) {
                return fail(d, o, why);
            }
            at += len;
        }
        None
    }
}

/// An image open for reading (complete images), or a writer's read-back.
///
/// The reader holds a window of the image's extent map, not all of it, so
/// its memory does not grow with the image: an image of at most
/// [`WINDOW`] extents (4 GiB in 1 MiB chunks) is loaded whole at the first
/// read; a larger one [`WINDOW`] extents at a time as a sequential reader
/// moves on, and [`JUMP_WINDOW`] at a time where a reader jumps (growing
/// again as it reads on from there).
/// Complete images never change, and image ids are never reused, so a
/// window loaded late shows the bytes one loaded at open would have; a
/// window loaded after the image was deleted is refused
/// ([`Error::NoImage`]). The one thing that moves under a window is a
/// damaged chunk repaired by a backup of the same bytes (same row, new
/// place): a read that fails on a chunk whose row has moved since is read
/// again from a fresh window ([`ImageReader::read_any`]).
#[derive(Debug)]
pub struct ImageReader {
    sh: Arc<Shared>,
    id: i64,
    size: u64,
    /// Every extent that overlaps `[win_from, win_to)`, in image order.
    window: Vec<ExtentRow>,
    /// Ranges of the window two extents claim (a damaged map): reads of
    /// them fail rather than pick one.
    overlaps: Vec<(u64, u64)>,
    win_from: u64,
    win_to: u64,
    /// Extents the last window load asked for.
    win_limit: usize,
    /// Set when a failed chunk turned out to have been repaired (moved)
    /// since the window was loaded: the read is tried again.
    moved: std::cell::Cell<bool>,
    /// Where the last read ended: a read elsewhere is a jump, whose
    /// places are announced to the store first (`advise`).
    next_off: u64,
    /// This reader's segment descriptors (its own read-ahead state).
    segs: Box<dyn SegmentReader>,
    /// Whole checksum blocks around a read that covers part of one; a
    /// format 2 chunk's stored bytes.
    scratch: Vec<u8>,
    /// The last format 2 chunk read in part, decoded and verified: (id,
    /// its bytes).
    decoded: Option<(i64, Vec<u8>)>,
    /// Stored bytes read ahead: (segment, offset, bytes).
    span: Option<(i64, u64, Vec<u8>)>,
    /// The two threads that read and decode a read's whole chunks.
    lanes: [Lane; 2],
    decompressor: Decompressor,
    /// Chunks this reader will read again, kept (on a store whose
    /// requests pay a round trip; super::reuse).
    reuse: Option<Reuse>,
    /// Reads what the store itself holds, past any copy on this host
    /// ([`ImageReader::reading_the_store`]).
    from_store: bool,
}

/// Extents a reader loads at a time while reading on (about 320 bytes
/// each). Tiny in unit tests, so that every test image spans windows.
pub const WINDOW: usize = if cfg!(test) { 5 } else { 4096 };
/// Most stored bytes a reader reads with one `pread` (a run of chunks
/// next to each other in a segment).
pub const SPAN_MAX: u64 = 1 << 20;
/// Extents a reader loads where it jumps to (random reads of a large
/// image): 256 KiB of format 2 chunks of the average 16 KiB (at least
/// 64 KiB: 4 KiB or more each but the last), 16 MiB of format 1 ones. A
/// read that needs more loads the next window, four times larger, and so
/// on up to [`WINDOW`] while it reads on. A window of 256 cost a query of
/// 256 rows for nearly every random 64 KiB read of 16 KiB chunks, and 32
/// still spent a quarter of a random read's CPU turning rows into extents.
pub const JUMP_WINDOW: usize = if cfg!(test) { 2 } else { 16 };

impl ImageReader {
    pub(crate) fn new(sh: Arc<Shared>, id: i64, size: u64) -> ImageReader {
        let segs = sh.store.reader();
        let reuse = sh.store.announce_every_read().then(Reuse::default);
        ImageReader {
            sh,
            id,
            size,
            window: Vec::new(),
            overlaps: Vec::new(),
            win_from: 0,
            win_to: 0,
            next_off: 0,
            win_limit: WINDOW,
            moved: std::cell::Cell::new(false),
            segs,
            scratch: Vec::new(),
            decoded: None,
            span: None,
            lanes: Default::default(),
            decompressor: Decompressor::new(),
            reuse,
            from_store: false,
        }
    }

    /// This reader, reading what the store itself holds rather than a
    /// copy the host keeps (a pool's host cache): what a verify checks.
    pub(crate) fn reading_the_store(mut self) -> ImageReader {
        self.segs = self.sh.store.store_reader();
        self.from_store = true;
        self
    }

    /// Size of the image.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Identity of the image across handles and server instances.
    pub fn image_key(&self) -> (&str, i64) {
        (&self.sh.uuid, self.id)
    }

    /// The log of the image's server.
    pub fn log(&self) -> &crate::logging::ServerLog {
        &self.sh.log
    }

    /// Reads at `off` into `buf`; returns bytes read (short only at the end).
    ///
    /// # Errors
    /// [`Error::Align`], [`Error::TooBig`], [`Error::Range`];
    /// [`Error::Corrupt`] if a chunk fails its checksum or is missing;
    /// [`Error::NoImage`] if the image was deleted under the reader.
    pub fn read(&mut self, off: u64, buf: &mut [u8]) -> Result<usize> {
        check_io(off, buf.len() as u64)?;
        self.read_any(off, buf)
    }

    /// [`ImageReader::read`] without the block-size rule (archive objects).
    /// A read that failed on a chunk repaired since this reader loaded its
    /// window (catalog::insert_chunk's `Healed`: same row, new place) is
    /// read again once from a fresh window.
    pub(crate) fn read_any(&mut self, off: u64, buf: &mut [u8]) -> Result<usize> {
        let r = self.read_once(off, buf);
        if r.is_err() {
            // Whatever the failed read counted as read past, the next read
            // (this one again, say) starts the reader's look-ahead afresh.
            self.next_off = u64::MAX;
        }
        match r {
            Err(Error::Corrupt(_)) if self.moved.take() => {
                self.win_from = u64::MAX;
                self.win_to = u64::MAX;
                self.span = None;
                self.read_once(off, buf)
            }
            r => r,
        }
    }

    fn read_once(&mut self, off: u64, buf: &mut [u8]) -> Result<usize> {
        if off > self.size {
            return Err(Error::Range(format!(
                "offset {off} beyond image size {}",
                self.size
            )));
        }
        let n = (buf.len() as u64).min(self.size - off) as usize;
        let out = &mut buf[..n];
        let end = off + n as u64;
        if let Some(reuse) = &mut self.reuse {
            if off != self.next_off {
                reuse.restart(off);
            }
            let (sh, id) = (&self.sh, self.id);
            reuse.look_ahead(end, |from, limit| {
                Ok(catalog::extent_chunks_from(&sh.catalog.lock(), id, from, limit)?)
            })?;
        }
        let mut pos = off;
        while pos < end {
            if pos < self.win_from || pos >= self.win_to {
                self.load_window(pos)?;
            }
            let stop = end.min(self.win_to);
            if self.sh.store.announce_every_read() {
                // this read's places and those of the next ANNOUNCE_AHEAD
                // bytes of the window: a store whose requests pay a round
                // trip fetches them while this read decodes
                self.advise(pos, stop.saturating_add(ANNOUNCE_AHEAD).min(self.win_to));
            } else if off != self.next_off {
                self.advise(pos, stop);
            }
            if let Some(&(a, _)) = self.overlaps.iter().find(|(a, b)| *a < stop && *b > pos) {
                out.fill(0);
                return Err(self.damaged(a.max(pos), None, "two extents claim the same image bytes".into()));
            }
            let mut idx = self.window.partition_point(|e| e.img_off + e.len <= pos);
            // Whole format 2 chunks of this window: read and decoded in
            // runs, on two threads (decode_batch).
            let mut batch: Vec<Decode> = Vec::new();
            // Extents read past (image offset, chunk), for self.reuse.
            let mut passed: Vec<(u64, i64)> = Vec::new();
            while pos < stop {
                let at = (pos - off) as usize;
                match self.window.get(idx).copied() {
                    Some(e) if e.img_off <= pos => {
                        let upto = stop.min(e.img_off + e.len);
                        let from = e.chunk_off + (pos - e.img_off);
                        let len = (upto - pos) as usize;
                        let c = e.chunk;
                        if upto == e.img_off + e.len {
                            passed.push((e.img_off, c.id));
                        }
                        let kept = self.reuse.as_ref().and_then(|r| r.kept(c.id));
                        if let Some(bytes) = kept.filter(|b| from == 0 && b.len() == len) {
                            out[at..at + len].copy_from_slice(bytes);
                        } else if c.fp.is_some() || c.codec != Codec::Raw as i64 {
                            if from == 0 && len as u64 == c.raw_len && c.raw_len <= MAX_CHUNK {
                                batch.push(Decode {
                                    chunk: c,
                                    img_off: pos,
                                    out: at..at + len,
                                });
                            } else if let Err(err) =
                                self.copy_addressed(idx, from, &mut out[at..at + len], stop)
                            {
                                // The chunks queued before it come first.
                                self.decode_batch(out, &batch)?;
                                return Err(err);
                            }
                        } else if let Err(err) = self.copy_chunk(&e, from, &mut out[at..at + len]) {
                            self.decode_batch(out, &batch)?;
                            return Err(err);
                        }
                        pos = upto;
                        idx += 1;
                    }
                    next => {
                        let upto = next.map_or(stop, |e| e.img_off.min(stop));
                        out[at..(upto - off) as usize].fill(0);
                        pos = upto;
                    }
                }
            }
            self.decode_batch(out, &batch)?;
            if let Some(reuse) = &mut self.reuse {
                for d in &batch {
                    reuse.offer(d.chunk.id, &out[d.out.clone()]);
                }
                for (img_off, chunk) in passed {
                    reuse.passed(img_off, chunk);
                }
            }
        }
        self.next_off = end;
        Ok(n)
    }

    /// Announces to the store the places in segments that the window's
    /// extents over `[pos, stop)` occupy, if there are several: a random
    /// read of 64 KiB touches four or five chunks, often in two or three
    /// places (a deduplicated full refers to its predecessors' chunks),
    /// and read one after the other from a cold disk each place cost a
    /// full device round trip. Sequential reads skip this on segment files
    /// (the kernel's read-ahead already runs ahead of them), not on a
    /// store that asks for it (an object store: ChunkStore::announce_every_read).
    fn advise(&mut self, pos: u64, stop: u64) {
        let mut places: Vec<(i64, u64, u64)> = Vec::new();
        let mut idx = self.window.partition_point(|e| e.img_off + e.len <= pos);
        while let Some(e) = self.window.get(idx) {
            if e.img_off >= stop {
                break;
            }
            let c = e.chunk;
            if self.reuse.as_ref().is_some_and(|r| r.kept(c.id).is_some()) {
                idx += 1;
                continue; // read from memory
            }
            let (a, b) = if c.fp.is_some() || c.codec != Codec::Raw as i64 {
                (c.seg_off, c.seg_off.saturating_add(c.len))
            } else {
                let from = e.chunk_off + (pos.max(e.img_off) - e.img_off);
                let to = e.chunk_off + (stop.min(e.img_off + e.len) - e.img_off);
                (c.seg_off.saturating_add(from), c.seg_off.saturating_add(to))
            };
            match places.last_mut() {
                Some(p) if p.0 == c.segment && p.2 == a => p.2 = b,
                _ => places.push((c.segment, a, b)),
            }
            idx += 1;
        }
        if places.len() < 2 {
            return; // one place: the read itself is one request
        }
        for (segment, a, b) in places {
            self.segs.will_need(segment, a, b.saturating_sub(a));
        }
    }

    /// Reads, checks and decodes the chunks of `batch` into their ranges
    /// of `out`, in runs (chunks next to each other in a segment, at most
    /// [`RUN_MAX`] stored bytes, one `pread` each) that two threads claim
    /// one at a time: the scoped helper when there is enough to do.
    /// Decoding and fingerprint checks are most of a restore's CPU, and
    /// reading the runs on both threads leaves no serial part but the
    /// extent map's window. Chunks cost very differently (compressed or
    /// raw), hence claims rather than halves.
    fn decode_batch(&mut self, out: &mut [u8], batch: &[Decode]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // The batch's runs, each with its chunks' ranges of `out`.
        let mut runs: Vec<Mutex<Option<Run<'_>>>> = Vec::new();
        let mut rest = &mut out[..];
        let mut done = 0;
        let mut i = 0;
        while i < batch.len() {
            let first = &batch[i].chunk;
            let mut end = first.seg_off.saturating_add(first.len);
            let mut j = i + 1;
            while let Some(d) = batch.get(j) {
                let c = &d.chunk;
                if c.segment != first.segment || c.seg_off != end || end - first.seg_off + c.len > RUN_MAX {
                    break;
                }
                end += c.len;
                j += 1;
            }
            let mut outs = Vec::with_capacity(j - i);
            for d in &batch[i..j] {
                let (_, tail) = std::mem::take(&mut rest).split_at_mut(d.out.start - done);
                let (mine, tail) = tail.split_at_mut(d.out.len());
                outs.push(mine);
                rest = tail;
                done = d.out.end;
            }
            runs.push(Mutex::new(Some((&batch[i..j], outs))));
            i = j;
        }
        let next = AtomicUsize::new(0);
        let run = |lane: &mut Lane| -> Option<Failure> {
            let mut failed: Option<Failure> = None;
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(slot) = runs.get(k) else {
                    return failed;
                };
                let Some((chunks, mut outs)) = slot.lock().take() else {
                    continue;
                };
                if failed.as_ref().is_some_and(|f| f.0 < chunks[0].img_off) {
                    continue; // an earlier chunk failed: the read fails
                }
                if let Some(f) = lane.decode_run(chunks, &mut outs) {
                    failed = Some(f);
                }
            }
        };
        let bytes: usize = batch.iter().map(|d| d.out.len()).sum();
        let store = &self.sh.store;
        let [mine, helper] = &mut self.lanes;
        let failed = if bytes < DECODE_SPLIT_MIN || runs.len() < 2 {
            run(mine.ready(store, self.from_store))
        } else {
            let helper = helper.ready(store, self.from_store);
            let mine = mine.ready(store, self.from_store);
            let (first, second) = super::cores::both(|| run(mine), || run(helper));
            let second =
                second.unwrap_or_else(|_| Some((0, None, "could not be decoded (internal error)".into())));
            // The failure at the lowest image offset is reported; the
            // other's chunk is flagged all the same.
            match (first, second) {
                (Some(a), Some(b)) => {
                    let (low, high) = if a.0 <= b.0 { (a, b) } else { (b, a) };
                    if let Some(c) = &high.1 {
                        self.flag_damaged(c);
                    }
                    Some(low)
                }
                (a, b) => a.or(b),
            }
        };
        match failed {
            None => Ok(()),
            Some((img_off, chunk, what)) => Err(self.damaged(img_off, chunk.as_ref(), what)),
        }
    }

    /// Loads the window of the extent map that starts at `pos` (see the
    /// type's docs).
    fn load_window(&mut self, pos: u64) -> Result<()> {
        let first = self.win_to == 0;
        let (from, limit) = if first {
            (0, WINDOW)
        } else if pos == self.win_to {
            // Reading on: windows grow back to WINDOW after a jump.
            (pos, self.win_limit.saturating_mul(4).clamp(JUMP_WINDOW, WINDOW))
        } else {
            (pos, JUMP_WINDOW)
        };
        self.win_limit = limit;
        let conn = self.sh.catalog.lock();
        let rows = catalog::extents_from(&conn, self.id, from, limit)?;
        // After the extents: a delete that committed before they were read
        // is seen here (a delete removes image and extents together).
        if catalog::image_by_id(&conn, self.id)?.is_none() {
            return Err(Error::NoImage(format!("image #{} was deleted", self.id)));
        }
        drop(conn);
        self.win_from = from;
        self.win_to = match rows.last() {
            Some(last) if rows.len() == limit => last.img_off + last.len,
            _ => u64::MAX, // no extent beyond: the rest is a hole
        };
        self.overlaps.clear();
        let mut reach = 0;
        for e in &rows {
            let end = e.img_off + e.len;
            if e.img_off < reach {
                self.overlaps.push((e.img_off, end.min(reach)));
            }
            reach = reach.max(end);
        }
        self.window = rows;
        Ok(())
    }

    /// Properties as committed.
    ///
    /// # Errors
    /// [`Error::NoImage`] if deleted; catalog errors.
    pub fn info(&self) -> Result<ImageInfo> {
        info_by_id(&self.sh, self.id)
    }

    /// Up to `limit` extents that end after `pos`, in image order.
    fn extents_at(&self, pos: u64, limit: usize) -> Result<Vec<ExtentRow>> {
        let conn = self.sh.catalog.lock();
        let rows = catalog::extents_from(&conn, self.id, pos, limit)?;
        if catalog::image_by_id(&conn, self.id)?.is_none() {
            return Err(Error::NoImage(format!("image #{} was deleted", self.id)));
        }
        Ok(rows)
    }

    /// The stored form of format 2 chunk `c` of this image, to be moved
    /// to another server as it is: read, checked against its crc32cs,
    /// decoded and checked against its fingerprint first.
    fn stored_form(&mut self, c: &ChunkRef) -> Result<(Codec, Vec<u8>)> {
        let checked = (|| -> std::result::Result<(Codec, Vec<u8>), String> {
            let codec = Codec::from_i64(c.codec).ok_or_else(|| format!("has unknown codec {}", c.codec))?;
            if c.len > MAX_CHUNK || c.raw_len > MAX_CHUNK {
                return Err(format!("has length {} ({} stored)", c.raw_len, c.len));
            }
            let mut stored = vec![0u8; c.len as usize];
            self.segs
                .read_exact_at(c.segment, c.seg_off, &mut stored)
                .map_err(|e| read_why(&e))?;
            if !c.crcs.verify_blocks(c.len, 0, &stored) {
                return Err("fails its checksum".into());
            }
            let mut raw = vec![0u8; c.raw_len as usize];
            self.decompressor
                .decode(codec, &stored, &mut raw)
                .map_err(|e| format!("does not decode: {e}"))?;
            match c.fp.map(Fingerprint) {
                Some(fp) if !fp.matches(&raw) => Err("does not match its fingerprint".into()),
                _ => Ok((codec, stored)),
            }
        })();
        checked.map_err(|why| {
            let chunk = Some(c).filter(|_| is_damage(&why));
            self.damaged(0, chunk, format!("chunk {} in segment {} {why}", c.id, c.segment))
        })
    }

    /// Reads metadata at any byte offset; returns bytes placed in `buf`.
    ///
    /// # Errors
    /// [`Error::TooBig`], [`Error::Range`], [`Error::NoImage`]; catalog errors.
    pub fn read_meta(&self, off: u64, buf: &mut [u8]) -> Result<usize> {
        read_meta(&self.sh, self.id, off, buf)
    }

    /// Writes metadata at any byte offset (allowed on complete images).
    ///
    /// # Errors
    /// [`Error::TooBig`], [`Error::NoImage`]; catalog errors.
    pub fn write_meta(&self, off: u64, data: &[u8]) -> Result<()> {
        write_meta(&self.sh, self.id, off, data)
    }

    /// Copies `out.len()` bytes of `e`'s chunk, from chunk offset `from`,
    /// into `out` and verifies the checksum blocks they touch: a read of
    /// whole blocks goes straight into `out`, a read of part of a block
    /// reads the blocks around it into `scratch` (store::read says why
    /// there are no maps).
    ///
    /// Copy first, verify after: the only change our own processes make to
    /// committed bytes is punching a chunk freed by a delete, and a punched
    /// range reads as zeros, which fail the checksum. On any failure `out`
    /// is zeroed: no unverified byte is returned.
    fn copy_chunk(&mut self, e: &ExtentRow, from: u64, out: &mut [u8]) -> Result<()> {
        let c = e.chunk;
        let len = out.len() as u64;
        if from.checked_add(len).is_none_or(|end| end > c.raw_len) {
            // Only a damaged catalog row has an extent reach past its chunk.
            return Err(self.damaged(
                e.img_off,
                None,
                format!(
                    "an extent reaches past the {} bytes of chunk {} in segment {}",
                    c.raw_len, c.id, c.segment
                ),
            ));
        }
        let (start, end) = BlockCrcs::blocks_around(c.len, from, len);
        let read = if (start, end) == (from, from + len) {
            self.segs
                .read_exact_at(c.segment, c.seg_off + from, out)
                .map(|()| c.crcs.verify_blocks(c.len, from, out))
        } else {
            self.scratch.resize((end - start) as usize, 0);
            let r = self
                .segs
                .read_exact_at(c.segment, c.seg_off + start, &mut self.scratch);
            let at = (from - start) as usize;
            out.copy_from_slice(&self.scratch[at..at + out.len()]);
            r.map(|()| c.crcs.verify_blocks(c.len, start, &self.scratch))
        };
        let why = match read {
            Ok(true) => return Ok(()),
            Ok(false) => "fails its checksum".to_owned(),
            Err(err) => read_why(&err),
        };
        out.fill(0);
        let img_off = e.img_off + (from - e.chunk_off);
        let chunk = Some(&c).filter(|_| is_damage(&why));
        Err(self.damaged(
            img_off,
            chunk,
            format!("chunk {} in segment {} {why}", c.id, c.segment),
        ))
    }

    /// [`ImageReader::copy_chunk`] for a format 2 chunk (at most 64 KiB),
    /// the window's extent `idx`: its stored bytes are checked against
    /// their crc32cs, decoded, and the result checked against the chunk's
    /// fingerprint, so the bytes returned are the bytes the chunk was
    /// stored under that name, whatever happened to the row or the file.
    /// A chunk read whole is decoded straight into `out`; one read in part
    /// is decoded aside and kept for the next read of it. The stored bytes
    /// come from one `pread` of the run of chunks the read needs that lie
    /// next to each other in the segment (`read_end`: where the caller's
    /// read ends in the image), as a full's chunks do.
    fn copy_addressed(&mut self, idx: usize, from: u64, out: &mut [u8], read_end: u64) -> Result<()> {
        let e = self.window[idx];
        let c = e.chunk;
        let fail = |me: &mut Self, out: &mut [u8], why: String| {
            out.fill(0);
            let img_off = e.img_off + from.saturating_sub(e.chunk_off);
            let chunk = Some(&c).filter(|_| is_damage(&why));
            Err(me.damaged(
                img_off,
                chunk,
                format!("chunk {} in segment {} {why}", c.id, c.segment),
            ))
        };
        if from
            .checked_add(out.len() as u64)
            .is_none_or(|end| end > c.raw_len)
        {
            // Only a damaged catalog row has an extent reach past its chunk.
            return fail(
                self,
                out,
                format!("is {} bytes: an extent reaches past it", c.raw_len),
            );
        }
        if let Some((id, bytes)) = &self.decoded {
            if *id == c.id {
                let from = from as usize;
                out.copy_from_slice(&bytes[from..from + out.len()]);
                return Ok(());
            }
        }
        if let Some(bytes) = self.reuse.as_ref().and_then(|r| r.kept(c.id)) {
            if bytes.len() as u64 == c.raw_len {
                let from = from as usize;
                out.copy_from_slice(&bytes[from..from + out.len()]);
                return Ok(());
            }
        }
        let whole = from == 0 && out.len() as u64 == c.raw_len;
        if let Err(why) = self.load_span(idx, read_end) {
            return fail(self, out, why);
        }
        let r = if whole {
            let r = self.decode_into(&c, out);
            if let (Ok(()), Some(reuse)) = (&r, &mut self.reuse) {
                reuse.offer(c.id, out);
            }
            r
        } else {
            // Reuse the last chunk's buffer (it is replaced either way).
            let mut raw = self.decoded.take().map(|(_, v)| v).unwrap_or_default();
            raw.resize(usize::try_from(c.raw_len).unwrap_or(0), 0);
            let r = self.decode_into(&c, &mut raw);
            if r.is_ok() {
                let f = from as usize;
                out.copy_from_slice(&raw[f..f + out.len()]);
                if let Some(reuse) = &mut self.reuse {
                    reuse.offer(c.id, &raw);
                }
                self.decoded = Some((c.id, raw));
            }
            r
        };
        match r {
            Ok(()) => Ok(()),
            Err(why) => fail(self, out, why),
        }
    }

    /// Makes `span` hold the stored bytes of the window's extent `idx`,
    /// reading them with the stored bytes of the following extents up to
    /// `read_end` whose chunks follow in the same segment (at most
    /// [`SPAN_MAX`] bytes).
    fn load_span(&mut self, idx: usize, read_end: u64) -> std::result::Result<(), String> {
        let c = self.window[idx].chunk;
        if c.len > MAX_CHUNK {
            return Err(format!("has stored length {}", c.len));
        }
        if self.span.as_ref().is_some_and(|(seg, start, b)| {
            *seg == c.segment && c.seg_off >= *start && c.seg_off + c.len <= *start + b.len() as u64
        }) {
            return Ok(());
        }
        let mut end = c.seg_off + c.len;
        for e in &self.window[idx + 1..] {
            let n = e.chunk;
            if e.img_off >= read_end
                || n.segment != c.segment
                || n.seg_off != end
                || n.len > MAX_CHUNK
                || end - c.seg_off + n.len > SPAN_MAX
            {
                break;
            }
            end += n.len;
        }
        let (_, _, mut buf) = self.span.take().unwrap_or_default();
        buf.resize((end - c.seg_off) as usize, 0);
        match self.segs.read_exact_at(c.segment, c.seg_off, &mut buf) {
            Ok(()) => {
                self.span = Some((c.segment, c.seg_off, buf));
                Ok(())
            }
            Err(err) if end > c.seg_off + c.len => {
                // The run failed (a cut file?): this chunk alone.
                buf.truncate(c.len as usize);
                self.segs
                    .read_exact_at(c.segment, c.seg_off, &mut buf)
                    .map_err(|e| format!("{} (with the chunks after it: {err})", read_why(&e)))?;
                self.span = Some((c.segment, c.seg_off, buf));
                Ok(())
            }
            Err(err) => Err(read_why(&err)),
        }
    }

    /// Checks and decodes chunk `c`, whose stored bytes `span` holds, into
    /// `out` (its length exactly); the error says what failed.
    fn decode_into(&mut self, c: &ChunkRef, out: &mut [u8]) -> std::result::Result<(), String> {
        let (_, start, buf) = self.span.as_ref().ok_or("was not read")?;
        let at = (c.seg_off - start) as usize;
        decode_chunk(&mut self.decompressor, c, &buf[at..at + c.len as usize], out)
    }

    /// Flags chunk `c` damaged (catalog::mark_damaged), logging it.
    fn flag_damaged(&self, c: &ChunkRef) {
        let conn = self.sh.catalog.lock();
        self.flag_with(&conn, c);
    }

    fn flag_with(&self, conn: &catalog::Conn, c: &ChunkRef) {
        match catalog::mark_damaged(conn, c.id, c.segment, c.seg_off) {
            Ok(true) => log_warn!(
                self.sh.log,
                "chunk {} flagged damaged: new backups store its bytes anew and repair it",
                c.id
            ),
            Ok(false) => {}
            Err(e) => log_warn!(self.sh.log, "chunk {} could not be flagged damaged: {e}", c.id),
        }
    }

    /// A read at image offset `off` failed: the image was deleted under
    /// us, or its data is damaged (logged as an error). A damaged `chunk`
    /// is flagged so that no new backup refers to it
    /// (catalog::mark_damaged).
    fn damaged(&self, off: u64, chunk: Option<&ChunkRef>, what: String) -> Error {
        let conn = self.sh.catalog.lock();
        let row = catalog::image_by_id(&conn, self.id);
        if let Ok(None) = row {
            return Error::NoImage(format!("image #{} was deleted", self.id));
        }
        if chunk.is_none() && what.contains(NOT_READ) {
            // No damage: an I/O error that may pass (a disk's EIO, an
            // object store that does not answer). The read fails as an
            // I/O error (STS_EIO), not as corruption: nothing is wrong
            // with the image, and the same read may succeed later.
            drop(conn);
            log_warn!(
                self.sh.log,
                "read failed: image #{} at offset {off}: {what}",
                self.id
            );
            return Error::Io {
                what: format!("image #{} at offset {off}", self.id),
                source: std::io::Error::other(what),
            };
        }
        if let Some(c) = chunk {
            match catalog::chunk_place(&conn, c.id) {
                // Repaired since this reader loaded its window (a backup
                // stored the same bytes anew): read again from the row.
                Ok(Some(place)) if place != (c.segment, c.seg_off) => self.moved.set(true),
                _ => self.flag_with(&conn, c),
            }
        }
        let image = match row {
            Ok(Some(r)) => {
                let lsu = catalog::lsu_name(&conn, r.lsu_id).unwrap_or_default();
                format!("image {lsu}/{} (#{})", r.name, self.id)
            }
            _ => format!("image #{}", self.id),
        };
        drop(conn);
        log_error!(self.sh.log, "corrupt read: {image} at offset {off}: {what}");
        Error::Corrupt(what)
    }
}
