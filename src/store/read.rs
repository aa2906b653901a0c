//! Reading segment files: `pread` through descriptors each reader opens
//! for itself.
//!
//! Why not read through memory maps (what the design started with, and
//! what this module did until issue 8 measured it):
//!
//! - **Speed.** Cold faults on a map read synchronously around the
//!   faulting page: sequential restores ran at 0.65x and random 64 KiB
//!   reads at 0.6x of `read()` of a raw file. Advising the map
//!   (`MADV_RANDOM`, then `MADV_WILLNEED` of exactly the blocks a read
//!   touches) brought both to the speed of `pread`, no further: the copy
//!   out of the page cache is the same either way.
//! - **Memory.** Every page a reader touched stayed mapped until the map
//!   was dropped: restoring a 512 MiB image left 520 MiB resident in the
//!   host process, and the OOM killer counts mapped file pages. `pread`
//!   leaves nothing mapped.
//! - **Safety.** A segment truncated under a live map by another program
//!   raises SIGBUS in the host; `pread` returns a short read, which
//!   becomes `Error::Corrupt`.
//!
//! Each reader opens its own descriptors (at most [`MAX_OPEN`], most
//! recently used kept), so the kernel keeps read-ahead state per reader:
//! a sequential restore gets the device's read-ahead window, a random
//! reader gets exactly what it asks for, and two restores of images in the
//! same segment do not look random to each other. The read-ahead size is
//! the administrator's (`/sys/block/*/queue/read_ahead_kb`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::segment::segment_path;

/// Most segments one reader keeps open.
pub const MAX_OPEN: usize = 4;

/// The segment descriptors of one reader.
#[derive(Debug)]
pub struct SegmentReads {
    seg_dir: PathBuf,
    /// Open segments, most recently used last.
    open: Vec<(i64, File)>,
}

impl SegmentReads {
    /// A reader of the segments in `seg_dir`; opens nothing yet.
    pub fn new(seg_dir: &Path) -> SegmentReads {
        SegmentReads {
            seg_dir: seg_dir.to_path_buf(),
            open: Vec::new(),
        }
    }

    /// Reads exactly `buf.len()` bytes at `off` of segment `id`.
    ///
    /// # Errors
    /// I/O errors; `NotFound` if the segment is gone; `UnexpectedEof` if
    /// the file ends first (the catalog refers to bytes the file lacks).
    pub fn read_exact_at(&mut self, id: i64, off: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file(id)?.read_exact_at(buf, off)
    }

    /// Starts reading `len` bytes at `off` of segment `id` into the page
    /// cache without waiting (`POSIX_FADV_WILLNEED`): the reads of a
    /// random access that needs several places then overlap on the
    /// device. Advice: errors are ignored (the read reports its own).
    pub fn will_need(&mut self, id: i64, off: u64, len: u64) {
        use std::os::fd::AsRawFd;
        let (Ok(off), Ok(len)) = (libc::off_t::try_from(off), libc::off_t::try_from(len)) else {
            return;
        };
        if let Ok(f) = self.file(id) {
            // SAFETY: a valid open descriptor; the call reads no memory of ours.
            unsafe { libc::posix_fadvise(f.as_raw_fd(), off, len, libc::POSIX_FADV_WILLNEED) };
        }
    }

    fn file(&mut self, id: i64) -> io::Result<&File> {
        match self.open.iter().position(|(s, _)| *s == id) {
            Some(i) => {
                let last = self.open.len() - 1;
                self.open[i..].rotate_left(1);
                debug_assert_eq!(self.open[last].0, id);
            }
            None => {
                let f = File::open(segment_path(&self.seg_dir, id))?;
                if self.open.len() >= MAX_OPEN {
                    self.open.remove(0);
                }
                self.open.push((id, f));
            }
        }
        Ok(&self.open.last().expect("just placed").1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::segment::SegmentFile;

    #[test]
    fn reads_across_segments_keep_a_few_open_and_report_missing_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut offs = Vec::new();
        for id in 1..=6 {
            let mut s = SegmentFile::create(dir.path(), id, "u").unwrap();
            offs.push(s.append(&[id as u8; 5000]).unwrap());
        }
        let mut r = SegmentReads::new(dir.path());
        let mut b = [0u8; 5000];
        for round in 0..2 {
            for id in 1..=6i64 {
                r.read_exact_at(id, offs[id as usize - 1], &mut b).unwrap();
                assert!(b.iter().all(|&x| x == id as u8), "segment {id}, round {round}");
                assert!(r.open.len() <= MAX_OPEN);
                assert_eq!(r.open.last().unwrap().0, id, "most recent last");
            }
        }
        r.read_exact_at(6, offs[5], &mut b).unwrap();
        r.read_exact_at(3, offs[2], &mut b).unwrap();
        let order: Vec<i64> = r.open.iter().map(|(s, _)| *s).collect();
        assert_eq!(order, vec![4, 5, 6, 3], "least recently used dropped first");
        let e = r.read_exact_at(2, offs[1] + 1, &mut b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "past the end");
        let e = r.read_exact_at(9, 0, &mut b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
