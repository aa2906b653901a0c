//! Chunk bytes in an S3-compatible object store (issue 16's pools; Garage
//! in the tests): the third [`ChunkStore`].
//!
//! A segment is a folder of immutable objects ([`layout`] has their names
//! and the rules that read them): its header, then one data object per
//! [`SegmentWriter::sync`] holding the bytes appended since the last one
//! (the engine syncs at every commit point, at most every 64 MiB, so the
//! objects are the tens of MiB the store is good at). A sync above
//! [`PART`] bytes goes up as a multipart upload whose parts leave while
//! the writer goes on appending; the data is acknowledged (the sync
//! returns) only when the store has completed the upload. Reads are
//! ranged GETs: of whole 1 MiB blocks, several ahead, through a block
//! cache the process's readers share, for a reader going on; of just the
//! bytes needed for one that jumps ([`reader`], [`cache`]). Freed bytes are noted and an
//! object is compacted once a quarter of it is dead ([`S3Packs::free`]).
//!
//! The store never decides what is live: as on every store, the catalog
//! does, and hands over only ranges no live chunk touches.

mod cache;
pub mod config;
mod host_cache;
mod layout;
mod reader;
mod runtime;
mod writer;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use parking_lot::Mutex;

pub use config::{POOL_FILE, Payload, S3Config};
use layout::{Data, Listing, Name};
use runtime::block_on;

use super::chunk_store::{ChunkStore, HEADER_LEN, SegmentReader, SegmentStat, SegmentWriter};

/// Parts of a multipart upload (the last may be shorter). S3 needs 5 MiB
/// at least; 8 MiB keeps a writer's memory small.
pub const PART: usize = 8 << 20;
/// Parts one writer may have in flight before `append` waits for the
/// oldest: the writer's memory is bounded by `(PARTS_IN_FLIGHT + 1) *
/// PART` (32 MiB).
pub const PARTS_IN_FLIGHT: usize = 3;
/// Bytes a writer stores between commits on a pool, four times what it
/// stores on segment files: each commit completes an object (the writer
/// waits for its last parts to be uploaded) and writes the catalog
/// (round trips to PostgreSQL), and at 64 MiB those waits took a twelfth
/// of one stream's time (docs/scale-out-research.md, increment 7). An
/// object then holds up to 256 MiB of a writer's chunks.
pub const COMMIT_EVERY: u64 = 256 << 20;
/// An object is rewritten without its dead bytes once this fraction
/// (1/n) of it is dead; below, frees are only noted.
const COMPACT_AT: u64 = 4;

const MAGIC: &[u8; 8] = b"CMBS3P01";
/// Segment listings a process keeps at most (then it forgets them all).
const LISTINGS_MAX: usize = 4096;

/// A pool's segments in an object store.
#[derive(Clone)]
pub struct S3Packs {
    inner: Arc<Inner>,
}

struct Inner {
    os: Arc<dyn ObjectStore>,
    /// The pool's folder in the bucket (no slash at either end).
    root: String,
    /// `s3://bucket/root`, for messages.
    display: String,
    server_uuid: String,
    /// The last listing of each segment, updated by this process's
    /// uploads and refreshed whenever a read or a change needs it.
    listings: Mutex<HashMap<i64, Arc<Listing>>>,
    /// Blocks read lately, shared by the process's readers.
    cache: cache::BlockCache,
    /// The data objects this host uploaded lately, on its disk
    /// ([`S3Packs::with_host_cache`]).
    host: Option<host_cache::HostCache>,
}

impl fmt::Debug for S3Packs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Packs({})", self.inner.display)
    }
}

/// An object store error as an I/O error. Only a missing object is
/// `NotFound` (which a read may report as missing bytes, i.e. damage);
/// everything else (refused connections, timeouts, 5xx, a full store) is
/// `Other`, never taken for damage.
pub(super) fn io_err(what: &str, e: object_store::Error) -> io::Error {
    let kind = match e {
        // a bucket that is not there is the configuration's fault, not
        // missing bytes: never taken for damage
        ref e if e.to_string().contains("NoSuchBucket") => io::ErrorKind::Other,
        // a full store (a bucket quota) is "no space", whatever the
        // status it comes with (Garage and Ceph answer 403)
        ref e if full(&e.to_string()) => io::ErrorKind::StorageFull,
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
            io::ErrorKind::PermissionDenied
        }
        // a refused key reaches us as the store's answer, not a variant
        ref e if refused(&e.to_string()) => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("object store, {what}: {e}"))
}

/// Whether an error's text is the store being full: a bucket's quota
/// (Garage: "quota is reached"; Ceph, MinIO: QuotaExceeded) or S3's
/// 507/InsufficientStorage.
fn full(text: &str) -> bool {
    [
        "quota is reached",
        "QuotaExceeded",
        "InsufficientStorage",
        "507 Insufficient Storage",
    ]
    .iter()
    .any(|c| text.contains(c))
}

/// Whether an error's text is the store refusing the key (S3's 403 with
/// AccessDenied, InvalidAccessKeyId or SignatureDoesNotMatch; Garage says
/// "Forbidden").
fn refused(text: &str) -> bool {
    text.contains("403 Forbidden")
        || ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"]
            .iter()
            .any(|c| text.contains(c))
}

impl S3Packs {
    /// Connects to the store `cfg` names, for the server `server_uuid`,
    /// and checks that the key can list the pool's folder: wrong
    /// credentials, a wrong bucket or an unreachable store fail here,
    /// before anything is written.
    ///
    /// # Errors
    /// `PermissionDenied` for a refused key; other I/O errors.
    pub fn open(cfg: &S3Config, server_uuid: &str) -> io::Result<S3Packs> {
        let root = cfg
            .prefix
            .clone()
            .unwrap_or_else(|| format!("combstore/{server_uuid}"));
        let retry = RetryConfig {
            max_retries: 10,
            retry_timeout: cfg.retry,
            ..Default::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(&cfg.endpoint)
            .with_region(&cfg.region)
            .with_bucket_name(&cfg.bucket)
            .with_access_key_id(&cfg.key_id)
            .with_secret_access_key(&cfg.secret)
            .with_retry(retry)
            .with_unsigned_payload(cfg.payload == Payload::Crc64);
        if cfg.payload == Payload::Crc64 {
            builder = builder.with_checksum_algorithm(object_store::aws::Checksum::CRC64NVME);
        }
        let os = builder
            // (allow_http is a client option: set here, not on the builder,
            // which with_client_options would override)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(cfg.endpoint.starts_with("http://"))
                    .with_connect_timeout(std::time::Duration::from_secs(5))
                    .with_timeout(std::time::Duration::from_secs(120)),
            )
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("object store: {e}")))?;
        let packs = S3Packs {
            inner: Arc::new(Inner {
                os: Arc::new(os),
                display: format!("s3://{}/{root}", cfg.bucket),
                root,
                server_uuid: server_uuid.to_owned(),
                listings: Mutex::new(HashMap::new()),
                cache: Default::default(),
                host: None,
            }),
        };
        // one listing request proves endpoint, bucket and key
        let probe = packs.inner.path("seg");
        block_on(packs.inner.os.list_with_delimiter(Some(&probe)))?
            .map_err(|e| io_err(&format!("opening {}", packs.inner.display), e))?;
        Ok(packs)
    }

    /// This store, keeping a copy of each data object its writers upload
    /// in `server_dir`'s cache folder, `max_bytes` at most ([`host_cache`]:
    /// reads of what this host wrote lately are served from it), unless
    /// `max_bytes` is 0, when the folder of this pool's cache is removed
    /// (a cache turned off is not left to go stale). `endpoint` names the
    /// store, with the bucket and folder, for the folder's name.
    ///
    /// # Errors
    /// If the cache folder cannot be made.
    pub fn with_host_cache(
        mut self,
        server_dir: &std::path::Path,
        endpoint: &str,
        max_bytes: u64,
    ) -> io::Result<S3Packs> {
        let pool = format!("{endpoint} {}", self.inner.display);
        if max_bytes == 0 {
            host_cache::HostCache::remove(server_dir, &pool);
            return Ok(self);
        }
        let cache = host_cache::HostCache::open(server_dir, &pool, max_bytes)?;
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.host = Some(cache),
            None => return Err(io::Error::other("the store is in use already")),
        }
        Ok(self)
    }

    /// Where the pool's objects are (`s3://bucket/prefix`).
    pub fn location(&self) -> &str {
        &self.inner.display
    }

    /// Frees `ranges` (offset, length) of segment `id` with one listing
    /// before and one after, however many there are (a sweep after a
    /// delete frees hundreds): each object a range touches gets a free
    /// note (all uploaded at once) or, once a quarter of it is dead, is
    /// compacted. Lists again up to `tries` times when another process
    /// compacts the same object first.
    fn free_segment(&self, id: i64, ranges: &[(u64, u64)], tries: u32) -> io::Result<()> {
        let inner = &self.inner;
        let l = inner.relist(id)?;
        if !l.exists() {
            return Ok(());
        }
        let freed = layout::merge(
            ranges
                .iter()
                .map(|&(off, len)| (off, off.saturating_add(len.div_ceil(4096).saturating_mul(4096)))),
        );
        let touched: Vec<Data> = l
            .valid()
            .filter(|d| d.start > 0 && freed.iter().any(|&r| layout::overlap(r, (d.start, d.end())) > 0))
            .collect();
        let mut notes = Vec::new();
        for d in &touched {
            let here: Vec<(u64, u64)> = freed
                .iter()
                .map(|&(a, b)| (a.max(d.start), b.min(d.end())))
                .filter(|r| r.1 > r.0)
                .collect();
            let dead = layout::merge(l.notes_in(d).into_iter().chain(here.iter().copied()));
            let dead_bytes: u64 = dead.iter().map(|&r| layout::overlap(r, (d.start, d.end()))).sum();
            if dead_bytes * COMPACT_AT < d.len {
                notes.extend(here);
                continue;
            }
            if !inner.compact(id, &l, d, &dead)? {
                // another process compacted it first: list again and free
                // the ranges in what is there now
                if tries == 0 {
                    return Err(io::Error::other(format!(
                        "segment {id}: compaction kept losing races"
                    )));
                }
                return self.free_segment(id, ranges, tries - 1);
            }
        }
        let puts = notes.iter().map(|&(a, b)| {
            let path = inner.obj(id, Name::Free { off: a, len: b - a });
            let os = inner.os.clone();
            async move {
                os.put(&path, Bytes::new().into())
                    .await
                    .map_err(|e| io_err(&format!("writing {path}"), e))
            }
        });
        block_on(futures_util::future::try_join_all(puts))??;
        // Notes are spent once no data object holds their bytes. One that
        // still does stays: a second compactor racing this one may have
        // copied those bytes into a piece of its own, which the note
        // leaves dead for the next compaction.
        let l = inner.relist(id)?;
        let mut spent = false;
        for &(o, n) in &l.frees {
            if !l
                .valid()
                .any(|d| layout::overlap((o, o.saturating_add(n)), (d.start, d.end())) > 0)
            {
                inner.delete(&inner.obj(id, Name::Free { off: o, len: n }))?;
                spent = true;
            }
        }
        if spent {
            inner.relist(id)?;
        }
        Ok(())
    }
}

fn header(id: i64, uuid: &str) -> Vec<u8> {
    let mut h = vec![0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&id.to_le_bytes());
    let u = uuid.as_bytes();
    let n = u.len().min(64);
    h[16..16 + n].copy_from_slice(&u[..n]);
    h
}

impl Inner {
    fn path(&self, rel: &str) -> ObjPath {
        ObjPath::from(format!("{}/{rel}", self.root))
    }

    fn seg_folder(&self, id: i64) -> String {
        format!("seg/{id:016x}")
    }

    fn obj(&self, id: i64, name: Name) -> ObjPath {
        self.path(&format!("{}/{}", self.seg_folder(id), name.render()))
    }

    /// PUTs `bytes` as `path`; the object's ETag, if the store gave one.
    fn put(&self, path: &ObjPath, bytes: Bytes) -> io::Result<Option<String>> {
        block_on(self.os.put(path, bytes.into()))?
            .map(|r| r.e_tag)
            .map_err(|e| io_err(&format!("writing {path}"), e))
    }

    fn delete(&self, path: &ObjPath) -> io::Result<()> {
        match block_on(self.os.delete(path))? {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_err(&format!("deleting {path}"), e)),
        }
    }

    fn get_range(&self, path: &ObjPath, range: std::ops::Range<u64>) -> io::Result<Bytes> {
        block_on(self.os.get_range(path, range))?.map_err(|e| io_err(&format!("reading {path}"), e))
    }

    /// Lists segment `id` afresh and remembers the listing.
    fn relist(&self, id: i64) -> io::Result<Arc<Listing>> {
        let prefix = self.path(&self.seg_folder(id));
        let metas = self.list_all(&prefix)?;
        let mut listing = Listing::from_names(
            metas
                .iter()
                .filter_map(|m| Some((m.location.filename()?, m.size))),
        );
        for m in &metas {
            if let (Some(name), Some(tag)) = (m.location.filename().and_then(Name::parse), &m.e_tag) {
                listing.tag(name, tag);
            }
        }
        let listing = Arc::new(listing);
        let mut ls = self.listings.lock();
        if ls.len() >= LISTINGS_MAX {
            ls.clear();
        }
        ls.insert(id, listing.clone());
        Ok(listing)
    }

    /// Every object under `prefix`. A folder listing has no reason to
    /// answer "not found": one that does (a wrong bucket, a proxy) is an
    /// error of the store, never missing bytes.
    fn list_all(&self, prefix: &ObjPath) -> io::Result<Vec<object_store::ObjectMeta>> {
        block_on(self.os.list(Some(prefix)).try_collect())?.map_err(|e| {
            let e = io_err(&format!("listing {prefix}"), e);
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::other(e.to_string())
            } else {
                e
            }
        })
    }

    /// The remembered listing of segment `id`, or a fresh one.
    fn listing(&self, id: i64) -> io::Result<Arc<Listing>> {
        if let Some(l) = self.listings.lock().get(&id) {
            return Ok(l.clone());
        }
        self.relist(id)
    }

    /// Notes an object this process has just uploaded (with its ETag,
    /// if the store gave one).
    fn uploaded(&self, id: i64, d: Data, e_tag: Option<&str>) {
        let mut ls = self.listings.lock();
        if let Some(l) = ls.get_mut(&id) {
            let l = Arc::make_mut(l);
            l.add(d);
            if let Some(tag) = e_tag {
                l.tag(d.name(), tag);
            }
        }
    }

    fn forget(&self, id: i64) {
        self.listings.lock().remove(&id);
    }

    /// Deletes data object `d` of segment `id`, first marking the
    /// segment's end if `d` ended it (so that its length never shrinks).
    fn drop_data(&self, id: i64, l: &Listing, d: &Data, keep_to: u64) -> io::Result<()> {
        if d.end() >= l.len() && keep_to < d.end() {
            self.put(&self.obj(id, Name::End { end: d.end() }), Bytes::new())?;
        }
        self.delete(&self.obj(id, d.name()))
    }

    /// Rewrites `d` without the `dead` ranges (compaction): each live run
    /// is uploaded as a new piece (a name never used before), then `d`
    /// goes. False if `d` is no longer there as listed (another process
    /// compacted it first): nothing done.
    fn compact(&self, id: i64, l: &Listing, d: &Data, dead: &[(u64, u64)]) -> io::Result<bool> {
        let runs = layout::live_runs(d.start, d.end(), dead);
        if runs.is_empty() {
            self.drop_data(id, l, d, d.start)?;
            return Ok(true);
        }
        let bytes = match self.get_range(&self.obj(id, d.name()), 0..d.len) {
            Ok(b) if b.len() as u64 == d.len => b,
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        for &(a, b) in &runs {
            let mut r = [0u8; 4];
            super::random_bytes(&mut r);
            let name = Name::Data {
                start: a,
                epoch: d.epoch,
                piece: Some(u32::from_le_bytes(r)),
            };
            let piece = bytes.slice((a - d.start) as usize..(b - d.start) as usize);
            self.put(&self.obj(id, name), piece)?;
        }
        let last = runs.last().map_or(d.start, |r| r.1);
        self.drop_data(id, l, d, last)?;
        Ok(true)
    }
}

impl ChunkStore for S3Packs {
    fn create(&self, id: i64) -> io::Result<Box<dyn SegmentWriter>> {
        let inner = &self.inner;
        if !inner.relist(id)?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("segment {id} in {}", inner.display),
            ));
        }
        let head = Data {
            start: 0,
            len: HEADER_LEN,
            epoch: 0,
            piece: None,
        };
        // a segment made anew under an id used before (a catalog that
        // lost it) has none of the old one's objects: nor does the cache
        if let Some(h) = &inner.host {
            h.forget_segment(id);
        }
        let tag = inner.put(&inner.obj(id, head.name()), header(id, &inner.server_uuid).into())?;
        inner.uploaded(id, head, tag.as_deref());
        Ok(Box::new(writer::S3Writer::new(inner.clone(), id, 0, HEADER_LEN)))
    }

    fn set_aside(&self, id: i64) -> io::Result<String> {
        let inner = &self.inner;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let aside = format!("aside/{id:016x}-{stamp}");
        let prefix = inner.path(&inner.seg_folder(id));
        let mut metas = inner.list_all(&prefix)?;
        // the header last, so that a set-aside cut short still shows the
        // folder as a segment (and create refuses a folder with anything)
        metas.sort_by_key(|m| {
            m.location.filename()
                == Some(
                    &Name::Data {
                        start: 0,
                        epoch: 0,
                        piece: None,
                    }
                    .render(),
                )
        });
        for m in &metas {
            let Some(name) = m.location.filename() else {
                continue;
            };
            let to = inner.path(&format!("{aside}/{name}"));
            block_on(inner.os.copy(&m.location, &to))?
                .map_err(|e| io_err(&format!("copying {}", m.location), e))?;
        }
        for m in &metas {
            inner.delete(&m.location)?;
        }
        inner.forget(id);
        if let Some(h) = &inner.host {
            h.forget_segment(id);
        }
        Ok(format!("{}/{aside}", inner.display))
    }

    fn adopt(&self, id: i64, committed_end: u64, epoch: u32) -> io::Result<Box<dyn SegmentWriter>> {
        self.check_header(id)?;
        let inner = &self.inner;
        let l = inner.relist(id)?;
        // The catalog's epoch is unique to this adoption. One not above
        // what the segment's objects name (a catalog restored from an
        // older backup) is raised past them.
        let epoch = if epoch > l.max_epoch() {
            epoch
        } else {
            l.max_epoch().checked_add(1).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("segment {id}: epochs exhausted"),
                )
            })?
        };
        // The fence first: from here on nothing an older epoch uploads
        // past the committed end is the segment's, however late it lands.
        inner.put(
            &inner.obj(
                id,
                Name::Adopt {
                    epoch,
                    end: committed_end,
                },
            ),
            Bytes::new(),
        )?;
        let l = inner.relist(id)?;
        // Then what is past it goes (garbage now; deleting it is tidiness).
        for d in l.garbage().collect::<Vec<_>>() {
            inner.delete(&inner.obj(id, d.name()))?;
        }
        for &(off, len) in l.frees.iter().filter(|&&(off, _)| off >= committed_end) {
            inner.delete(&inner.obj(id, Name::Free { off, len }))?;
        }
        inner.relist(id)?;
        Ok(Box::new(writer::S3Writer::new(
            inner.clone(),
            id,
            epoch,
            committed_end,
        )))
    }

    fn remove_partial(&self, _id: i64) -> io::Result<()> {
        // creation is one PUT: a segment has its header or nothing
        Ok(())
    }

    fn reader(&self) -> Box<dyn SegmentReader> {
        Box::new(reader::S3Reader::new(self.inner.clone(), true))
    }

    fn store_reader(&self) -> Box<dyn SegmentReader> {
        Box::new(reader::S3Reader::new(self.inner.clone(), false))
    }

    fn free(&self, id: i64, off: u64, len: u64) -> io::Result<()> {
        self.free_segment(id, &[(off, len)], 3)
    }

    fn free_many(&self, ranges: &[(i64, u64, u64)]) -> Vec<io::Result<()>> {
        let mut by_segment: std::collections::BTreeMap<i64, Vec<(u64, u64)>> = Default::default();
        for &(id, off, len) in ranges {
            by_segment.entry(id).or_default().push((off, len));
        }
        let outcome: HashMap<i64, Result<(), (io::ErrorKind, String)>> = by_segment
            .iter()
            .map(|(&id, rs)| {
                super::crash::point("punch.before_hole");
                (
                    id,
                    self.free_segment(id, rs, 3)
                        .map_err(|e| (e.kind(), e.to_string())),
                )
            })
            .collect();
        ranges
            .iter()
            .map(|(id, ..)| match &outcome[id] {
                Ok(()) => Ok(()),
                Err((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
            })
            .collect()
    }

    fn stat(&self, id: i64) -> io::Result<Option<SegmentStat>> {
        let l = self.inner.relist(id)?;
        Ok(l.exists().then(|| SegmentStat {
            len: l.len(),
            allocated: l.allocated(),
        }))
    }

    fn check_header(&self, id: i64) -> io::Result<()> {
        let inner = &self.inner;
        let path = inner.obj(
            id,
            Name::Data {
                start: 0,
                epoch: 0,
                piece: None,
            },
        );
        let got = inner.get_range(&path, 0..16)?;
        let want = header(id, &inner.server_uuid);
        if got.len() == 16 && got[..] == want[..16] {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("segment {id} in {}: bad header", inner.display),
            ))
        }
    }

    fn announce_every_read(&self) -> bool {
        true
    }

    fn commit_every(&self) -> u64 {
        COMMIT_EVERY
    }

    fn on_server_filesystem(&self) -> bool {
        false
    }

    fn strays(&self, known: &HashSet<i64>) -> Vec<String> {
        let inner = &self.inner;
        let mut out = Vec::new();
        for folder in ["seg", "aside"] {
            let Ok(Ok(list)) = block_on(inner.os.list_with_delimiter(Some(&inner.path(folder)))) else {
                out.push(format!("{}/{folder}: cannot be listed", inner.display));
                continue;
            };
            for p in list.common_prefixes {
                let Some(name) = p.filename() else { continue };
                let ours = folder == "seg"
                    && name.len() == 16
                    && i64::from_str_radix(name, 16).is_ok_and(|id| known.contains(&id));
                if !ours {
                    out.push(format!("{folder}/{name}"));
                }
            }
            for o in list.objects {
                out.push(o.location.to_string());
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
pub(crate) mod tests;
