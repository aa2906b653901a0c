//! The product's chunk store: segment files in the server's `segments/`
//! directory ([`super::segment`] writes them, [`super::read`] reads them).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::chunk_store::{ChunkStore, SegmentReader, SegmentStat, SegmentWriter};
use super::read::SegmentReads;
use super::segment::{self, SegmentFile};

/// Segment files under one directory, headed with the server's uuid.
#[derive(Debug)]
pub struct LocalSegments {
    dir: PathBuf,
    server_uuid: String,
}

impl LocalSegments {
    /// The segments in `dir` (which must exist) of the server `server_uuid`.
    pub fn new(dir: &Path, server_uuid: &str) -> LocalSegments {
        LocalSegments {
            dir: dir.to_path_buf(),
            server_uuid: server_uuid.to_owned(),
        }
    }
}

impl ChunkStore for LocalSegments {
    fn create(&self, id: i64) -> io::Result<Box<dyn SegmentWriter>> {
        Ok(Box::new(SegmentFile::create(&self.dir, id, &self.server_uuid)?))
    }

    fn set_aside(&self, id: i64) -> io::Result<String> {
        let path = segment::segment_path(&self.dir, id);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let aside = path.with_extension(format!("seg.stray-{stamp}"));
        fs::rename(&path, &aside)?;
        Ok(aside.display().to_string())
    }

    fn adopt(&self, id: i64, committed_end: u64, _epoch: u32) -> io::Result<Box<dyn SegmentWriter>> {
        // a dead writer's process is gone (its owner lock is free): no
        // fence is needed on one host's files
        Ok(Box::new(SegmentFile::adopt(&self.dir, id, committed_end)?))
    }

    fn remove_partial(&self, id: i64) -> io::Result<()> {
        segment::remove_partial(&self.dir, id)
    }

    fn reader(&self) -> Box<dyn SegmentReader> {
        Box::new(SegmentReads::new(&self.dir))
    }

    fn free(&self, id: i64, off: u64, len: u64) -> io::Result<()> {
        segment::punch_hole(&self.dir, id, off, len)
    }

    fn stat(&self, id: i64) -> io::Result<Option<SegmentStat>> {
        match fs::metadata(segment::segment_path(&self.dir, id)) {
            Ok(m) => Ok(Some(SegmentStat {
                len: m.len(),
                allocated: m.blocks() * 512,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn check_header(&self, id: i64) -> io::Result<()> {
        fs::File::open(segment::segment_path(&self.dir, id)).and_then(|f| segment::check_header(&f, id))
    }

    fn strays(&self, known: &HashSet<i64>) -> Vec<String> {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<String> = dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.strip_suffix(".seg")
                    .and_then(|h| i64::from_str_radix(h, 16).ok())
                    .is_none_or(|id| !known.contains(&id))
            })
            .collect();
        out.sort();
        out
    }
}

impl SegmentWriter for SegmentFile {
    fn id(&self) -> i64 {
        SegmentFile::id(self)
    }

    fn end(&self) -> u64 {
        SegmentFile::end(self)
    }

    fn append(&mut self, data: &[u8]) -> io::Result<u64> {
        self.append_packed(data)
    }

    fn sync(&mut self) -> io::Result<()> {
        SegmentFile::sync(self)
    }
}

impl SegmentReader for SegmentReads {
    fn read_exact_at(&mut self, id: i64, off: u64, buf: &mut [u8]) -> io::Result<()> {
        SegmentReads::read_exact_at(self, id, off, buf)
    }

    fn will_need(&mut self, id: i64, off: u64, len: u64) {
        SegmentReads::will_need(self, id, off, len);
    }
}
