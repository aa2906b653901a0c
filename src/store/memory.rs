//! A chunk store in memory: segments are byte vectors. Nothing survives
//! the process, so it is no product store; the engine's tests run on it as
//! well as on segment files, which proves the engine asks of a store only
//! what [`ChunkStore`] says (and nothing of files).
//!
//! It frees whole 4096-byte blocks as hole punching does (zeroing them and
//! no longer counting them as allocated) and zeroes the rest of a freed
//! range, so the space audits mean the same here.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::chunk_store::{ChunkStore, HEADER_LEN, SegmentReader, SegmentStat, SegmentWriter};

const BLOCK: u64 = 4096;
const MAGIC: &[u8; 8] = b"CMBMEM01";

#[derive(Debug, Default)]
struct Segment {
    bytes: Vec<u8>,
    /// Indexes of the freed whole blocks.
    freed: BTreeSet<u64>,
}

type Shared = Arc<Mutex<Segment>>;

/// Segments held in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    segments: Arc<Mutex<HashMap<i64, Shared>>>,
    /// Segments set aside (the catalog did not know them), by name.
    aside: Mutex<Vec<String>>,
    /// Answers `announce_every_read` as an object store does.
    announces: bool,
    /// Answers `commit_every` with this instead of the default.
    commit_every: Option<u64>,
    /// Bytes its readers have read.
    read_bytes: Arc<AtomicU64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store that asks for every read's places, as an object
    /// store does (`ChunkStore::announce_every_read`): the engine's
    /// readers then behave as on a pool.
    pub fn like_object_store() -> MemoryStore {
        MemoryStore {
            announces: true,
            ..MemoryStore::default()
        }
    }

    /// The same store answering `commit_every` with `bytes`.
    #[must_use]
    pub fn with_commit_every(self, bytes: u64) -> MemoryStore {
        MemoryStore {
            commit_every: Some(bytes),
            ..self
        }
    }

    /// Bytes its readers have read so far.
    pub fn read_bytes(&self) -> u64 {
        self.read_bytes.load(Ordering::Relaxed)
    }

    fn get(&self, id: i64) -> io::Result<Shared> {
        self.segments
            .lock()
            .get(&id)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("segment {id}")))
    }
}

fn header(id: i64) -> Vec<u8> {
    let mut h = vec![0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[16..24].copy_from_slice(&id.to_le_bytes());
    h
}

impl ChunkStore for MemoryStore {
    fn create(&self, id: i64) -> io::Result<Box<dyn SegmentWriter>> {
        let mut segs = self.segments.lock();
        if segs.contains_key(&id) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("segment {id}"),
            ));
        }
        let seg = Arc::new(Mutex::new(Segment {
            bytes: header(id),
            freed: BTreeSet::new(),
        }));
        segs.insert(id, seg.clone());
        Ok(Box::new(MemoryWriter { id, seg }))
    }

    fn set_aside(&self, id: i64) -> io::Result<String> {
        let seg = self.segments.lock().remove(&id);
        let name = format!("segment {id} (set aside)");
        if seg.is_some() {
            self.aside.lock().push(name.clone());
        }
        Ok(name)
    }

    fn adopt(&self, id: i64, committed_end: u64, _epoch: u32) -> io::Result<Box<dyn SegmentWriter>> {
        self.check_header(id)?;
        let seg = self.get(id)?;
        {
            let mut s = seg.lock();
            let end = usize::try_from(committed_end.max(HEADER_LEN)).unwrap_or(usize::MAX);
            if s.bytes.len() > end {
                s.bytes.truncate(end);
                let first_gone = (end as u64).div_ceil(BLOCK);
                s.freed.retain(|&b| b < first_gone);
            }
        }
        Ok(Box::new(MemoryWriter { id, seg }))
    }

    fn remove_partial(&self, _id: i64) -> io::Result<()> {
        // creation is one step under the map's lock: nothing is ever partial
        Ok(())
    }

    fn reader(&self) -> Box<dyn SegmentReader> {
        Box::new(MemoryReader {
            segments: self.segments.clone(),
            read_bytes: self.read_bytes.clone(),
        })
    }

    fn announce_every_read(&self) -> bool {
        self.announces
    }

    fn commit_every(&self) -> u64 {
        self.commit_every
            .unwrap_or(crate::store::chunk_store::COMMIT_EVERY)
    }

    fn free(&self, id: i64, off: u64, len: u64) -> io::Result<()> {
        let Ok(seg) = self.get(id) else { return Ok(()) };
        let mut s = seg.lock();
        let size = s.bytes.len() as u64;
        let len = len.div_ceil(BLOCK).saturating_mul(BLOCK);
        let (start, end) = (off.min(size), off.saturating_add(len).min(size));
        let (Ok(a), Ok(b)) = (usize::try_from(start), usize::try_from(end)) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "range beyond memory"));
        };
        s.bytes[a..b].fill(0);
        // whole blocks inside the range, as FALLOC_FL_PUNCH_HOLE frees them
        // (the segment's last block counts whole when the range runs to it)
        let first = start.div_ceil(BLOCK);
        let last = if end == size {
            end.div_ceil(BLOCK)
        } else {
            end / BLOCK
        };
        s.freed.extend(first..last);
        Ok(())
    }

    fn stat(&self, id: i64) -> io::Result<Option<SegmentStat>> {
        let Ok(seg) = self.get(id) else { return Ok(None) };
        let s = seg.lock();
        let len = s.bytes.len() as u64;
        Ok(Some(SegmentStat {
            len,
            allocated: (len.div_ceil(BLOCK) - s.freed.len() as u64) * BLOCK,
        }))
    }

    fn check_header(&self, id: i64) -> io::Result<()> {
        let seg = self.get(id)?;
        let s = seg.lock();
        if s.bytes.get(..24) == Some(&header(id)[..24]) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("segment {id}: bad header"),
            ))
        }
    }

    fn strays(&self, known: &HashSet<i64>) -> Vec<String> {
        let mut out: Vec<String> = self
            .segments
            .lock()
            .keys()
            .filter(|id| !known.contains(id))
            .map(|id| format!("segment {id}"))
            .chain(self.aside.lock().iter().cloned())
            .collect();
        out.sort();
        out
    }
}

#[derive(Debug)]
struct MemoryWriter {
    id: i64,
    seg: Shared,
}

impl SegmentWriter for MemoryWriter {
    fn id(&self) -> i64 {
        self.id
    }

    fn end(&self) -> u64 {
        self.seg.lock().bytes.len() as u64
    }

    fn append(&mut self, data: &[u8]) -> io::Result<u64> {
        let mut s = self.seg.lock();
        let off = s.bytes.len() as u64;
        s.bytes.extend_from_slice(data);
        Ok(off)
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct MemoryReader {
    segments: Arc<Mutex<HashMap<i64, Shared>>>,
    read_bytes: Arc<AtomicU64>,
}

impl SegmentReader for MemoryReader {
    fn read_exact_at(&mut self, id: i64, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let Some(seg) = self.segments.lock().get(&id).cloned() else {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("segment {id}")));
        };
        let s = seg.lock();
        let start = usize::try_from(off).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| s.bytes.get(start..end))
        {
            Some(b) => {
                buf.copy_from_slice(b);
                self.read_bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("segment {id} ends before {off}+{}", buf.len()),
            )),
        }
    }
}
