//! Read-only maps of segment files: the one place the engine dereferences
//! memory the kernel maps from a file.
//!
//! Soundness argument. A map is created over the file's length at the time
//! of mapping, and callers only read ranges that a committed catalog row
//! refers to. Those bytes were synced before the row committed and are
//! never modified afterwards: segments are append-only, our own truncation
//! only cuts bytes beyond the segment's committed end (which no row refers
//! to), and hole punching only frees chunks that no row refers to any more
//! (a reader still holding a stale extent reads zeros there, which its
//! checksum check rejects). What no code of ours can prevent is another
//! program truncating a segment file under a live map: touching the lost
//! pages raises SIGBUS. That is the documented residual risk of mapping
//! (docs/format.md, "Assumptions"); everything short of it - bytes changed
//! or zeroed behind our back - is caught by the extent checksum.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use memmap2::{Mmap, MmapOptions};
use parking_lot::Mutex;

use super::segment::segment_path;

/// How many segment maps a server keeps open.
const MAX_MAPS: usize = 256;

/// Maps of the server's segments, shared by every reader in the process.
#[derive(Debug)]
pub struct MapCache {
    seg_dir: PathBuf,
    maps: Mutex<HashMap<i64, Arc<Mmap>>>,
}

impl MapCache {
    /// A cache for the segments in `seg_dir`.
    pub fn new(seg_dir: PathBuf) -> MapCache {
        MapCache {
            seg_dir,
            maps: Mutex::new(HashMap::new()),
        }
    }

    /// A map of segment `id` covering at least `[0, need_end)`.
    ///
    /// # Errors
    /// I/O errors; `UnexpectedEof` if the file is shorter than `need_end`
    /// (the catalog refers to bytes the file lacks: corruption).
    pub fn get(&self, id: i64, need_end: u64) -> io::Result<Arc<Mmap>> {
        if let Some(m) = self.maps.lock().get(&id) {
            if m.len() as u64 >= need_end {
                return Ok(Arc::clone(m));
            }
        }
        let file = File::open(segment_path(&self.seg_dir, id))?;
        let len = file.metadata()?.len();
        if len < need_end {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("segment {id} is {len} bytes, catalog needs {need_end}"),
            ));
        }
        let len = usize::try_from(len).map_err(|_| io::Error::other("segment too large to map"))?;
        // SAFETY: read-only map of a file opened read-only; see the module
        // docs for why the ranges we read are never modified while mapped.
        let map = unsafe { MmapOptions::new().len(len).map(&file)? };
        let map = Arc::new(map);
        let mut maps = self.maps.lock();
        if maps.len() >= MAX_MAPS {
            maps.clear();
        }
        maps.insert(id, Arc::clone(&map));
        Ok(map)
    }

    /// Asks the kernel to start reading `[off, off + len)` of segment `id`
    /// into the page cache now (`MADV_WILLNEED`), so a sequential reader
    /// finds its next chunks there instead of faulting them in one
    /// read-ahead window at a time. Advisory: failures are ignored.
    pub fn will_need(&self, id: i64, off: u64, len: u64) {
        let Ok(map) = self.get(id, off + len) else {
            return;
        };
        if let (Ok(off), Ok(len)) = (usize::try_from(off), usize::try_from(len)) {
            let _ = map.advise_range(memmap2::Advice::WillNeed, off, len);
        }
    }

    /// Drops the map of segment `id` (after it was removed).
    pub fn forget(&self, id: i64) {
        self.maps.lock().remove(&id);
    }
}
