//! Machine facts, page-cache control, disk usage and timing helpers.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// Seconds taken by `f`, with its result.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

pub fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs.max(1e-9) / 1e6
}

/// Best (highest MB/s) of `reps` runs of each of `n` contenders, run
/// interleaved in an order rotated every repetition (so that drift on a
/// shared machine, and the position in the sequence, affect all alike),
/// with dirty pages written back (sync) before each run. `run(i, rep)`
/// returns the bytes moved and the seconds taken. Per contender: best
/// MB/s and the seconds of that run.
pub fn best_interleaved(
    n: usize,
    reps: usize,
    mut run: impl FnMut(usize, usize) -> (u64, f64),
) -> Vec<(f64, f64)> {
    let mut best = vec![(0.0f64, f64::MAX); n];
    for rep in 0..reps {
        for k in 0..n {
            let i = (rep + k) % n;
            // SAFETY: sync(2) has no arguments.
            unsafe { libc::sync() };
            let (bytes, secs) = run(i, rep);
            let mbs = mb_per_s(bytes, secs);
            if std::env::var_os("COMBSTORE_BENCH_VERBOSE").is_some() {
                println!("    contender {i} run {rep}: {mbs:.0} MB/s ({secs:.3} s)");
            }
            if mbs > best[i].0 {
                best[i] = (mbs, secs);
            }
        }
    }
    best
}

/// The filesystem holding `path`: "ext4 (/dev/vda on /)", from the
/// longest matching mount point in /proc/mounts.
pub fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let best = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| (f[0].to_owned(), f[1].replace("\\040", " "), f[2].to_owned()))
        })
        .filter(|(_, mnt, _)| path.starts_with(mnt))
        .max_by_key(|(_, mnt, _)| mnt.len());
    match best {
        Some((dev, mnt, fs)) => format!("{fs} ({dev} on {mnt})"),
        None => "unknown".into(),
    }
}

pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown".into(), |s| s.trim().to_owned())
}

/// CPU seconds (user + system) this process and its threads have used.
pub fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct we pass; zeroed is a valid start.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to an owned rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().into())
}

pub fn mem_total_mib() -> u64 {
    status_kib("/proc/meminfo", "MemTotal:") / 1024
}

/// A "Name:  123 kB" line of a /proc status-like file, in KiB.
pub fn status_kib(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Peak resident set size of this process so far, bytes.
pub fn vm_hwm() -> u64 {
    status_kib("/proc/self/status", "VmHWM:") * 1024
}

/// Output of a command's stdout, trimmed; None if it failed.
pub fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `git rev-parse HEAD`, plus "-dirty" when the worktree has changes.
pub fn git_revision() -> String {
    let Some(rev) = command_output("git", &["rev-parse", "HEAD"]) else {
        return "unknown".into();
    };
    match command_output("git", &["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if !s.is_empty() => format!("{rev}-dirty"),
        _ => rev,
    }
}

/// Every regular file under `path` (or `path` itself).
pub fn files_under(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if md.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        } else if md.is_file() {
            out.push(p);
        }
    }
    out
}

/// Bytes allocated on disk (st_blocks * 512) under `path`.
pub fn physical_bytes(path: &Path) -> u64 {
    files_under(path)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// Sum of file sizes under `path`.
pub fn logical_bytes(path: &Path) -> u64 {
    files_under(path)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// How caches are dropped before a cold-ish read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropMode {
    /// posix_fadvise(POSIX_FADV_DONTNEED) on the files read.
    Fadvise,
    /// That, plus `echo 1 > /proc/sys/vm/drop_caches` after sync.
    FadviseAndDropCaches,
}

impl DropMode {
    /// Whether this process may write /proc/sys/vm/drop_caches (tried once).
    pub fn probe() -> (DropMode, String) {
        match std::fs::write("/proc/sys/vm/drop_caches", "1") {
            Ok(()) => (
                DropMode::FadviseAndDropCaches,
                "posix_fadvise(DONTNEED) on the files read, and /proc/sys/vm/drop_caches = 1 (permitted)"
                    .into(),
            ),
            Err(e) => (
                DropMode::Fadvise,
                format!("posix_fadvise(DONTNEED) on the files read only (/proc/sys/vm/drop_caches: {e})"),
            ),
        }
    }

    /// Evicts the files under each path from the page cache (as far as the
    /// kernel agrees: clean pages only, so files are fdatasync'ed first).
    pub fn drop(self, paths: &[&Path]) {
        for p in paths.iter().flat_map(|p| files_under(p)) {
            if let Ok(f) = File::open(&p) {
                let _ = f.sync_data();
                // SAFETY: plain advice on an owned descriptor.
                unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            }
        }
        if self == DropMode::FadviseAndDropCaches {
            // SAFETY: sync(2) has no arguments.
            unsafe { libc::sync() };
            let _ = std::fs::write("/proc/sys/vm/drop_caches", "1");
        }
    }
}

/// Reads a file once so that it is in the page cache.
pub fn warm(path: &Path) {
    let mut f = File::open(path).expect("open for warming");
    let mut buf = vec![0u8; MIB as usize];
    while f.read(&mut buf).expect("read for warming") > 0 {}
}

/// Reads into `buf` until it is full or the file ends.
pub fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    got
}

/// p50 and p99 (nearest rank) of samples, which are sorted in place.
pub fn p50_p99(samples: &mut [f64]) -> (f64, f64) {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_by(f64::total_cmp);
    let rank = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    (rank(0.50), rank(0.99))
}

pub fn human_bytes(b: u64) -> String {
    if b >= GIB && b % GIB == 0 {
        format!("{} GiB", b / GIB)
    } else if b >= MIB {
        format!("{} MiB", b / MIB)
    } else {
        format!("{b} B")
    }
}
