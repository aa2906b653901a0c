//! Segment write path: pwrite vs. stores through a shared map of
//! fallocated space, each followed by a durable sync, on the filesystem of
//! the current directory (or $COMBSTORE_BENCH_DIR).
//!
//! `cargo bench --bench write_modes` prints MB/s for both; docs/format.md
//! records the result and why pwrite was chosen.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::Instant;

const TOTAL: usize = 1 << 30;
const WRITE: usize = 1 << 20;

fn main() {
    let dir =
        std::env::var("COMBSTORE_BENCH_DIR").map_or_else(|_| std::env::current_dir().unwrap(), Into::into);
    let dir = tempfile::tempdir_in(dir).expect("temp dir");
    let buf: Vec<u8> = (0..WRITE).map(|i| (i * 31 % 251) as u8).collect();

    let path = dir.path().join("pwrite.seg");
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let t = Instant::now();
    for off in (0..TOTAL).step_by(WRITE) {
        f.write_all_at(&buf, off as u64).unwrap();
    }
    f.sync_data().unwrap();
    report("pwrite + fdatasync", t.elapsed().as_secs_f64());
    drop(f);
    std::fs::remove_file(&path).unwrap();

    let path = dir.path().join("mmap.seg");
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let t = Instant::now();
    // SAFETY: plain fallocate on an owned descriptor.
    let rc = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, TOTAL as i64) };
    assert_eq!(rc, 0, "fallocate");
    // SAFETY: the file is private to this benchmark and not truncated while mapped.
    let mut map = unsafe { memmap2::MmapMut::map_mut(&f).unwrap() };
    for off in (0..TOTAL).step_by(WRITE) {
        map[off..off + WRITE].copy_from_slice(&buf);
    }
    map.flush().unwrap();
    report("fallocate + mmap stores + msync", t.elapsed().as_secs_f64());
}

fn report(what: &str, secs: f64) {
    println!("{what:34} {:8.0} MB/s", TOTAL as f64 / secs / 1e6);
}
