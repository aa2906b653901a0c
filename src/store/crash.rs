//! Crash-point injection, for proving the order of the durability steps.
//!
//! [`point`] marks a step (after a data write, after a sync, after a
//! catalog commit, between punches...). Without the cargo feature
//! `crash-points` it compiles to nothing. With it, a process whose
//! environment names the point in `COMBSTORE_CRASH_AT` (`name`, or
//! `name:N` for its Nth hit in this process, counting from 1) writes
//! `combstore: crash point NAME (hit N)` to stderr and aborts there, as
//! if the machine had stopped at that instant (docs/reliability.md,
//! "Crash-point injection"; ffi-tests/crashpoints.rs runs every point).
//!
//! A process abort keeps everything already written in the page cache,
//! which a power failure would not. So that the crash also proves the
//! sync-before-commit order, the segment layer reports through [`synced`]
//! how far each segment file is durable, and before aborting the crash
//! overwrites every byte written past that with 0xEE: whatever the catalog
//! committed must lie in synced bytes, or its checksum fails afterwards.

/// Environment variable naming the point to crash at (`name` or `name:N`).
pub const ENV: &str = "COMBSTORE_CRASH_AT";

/// A durability step named `name`: aborts the process here if
/// `COMBSTORE_CRASH_AT` selects it (feature `crash-points` only).
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// Records that `file`'s first `len` bytes are durable (it was synced).
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn synced(_file: &std::fs::File, _len: u64) {}

#[cfg(feature = "crash-points")]
static DURABLE: std::sync::Mutex<std::collections::BTreeMap<std::path::PathBuf, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Records that `file`'s first `len` bytes are durable (it was synced).
#[cfg(feature = "crash-points")]
pub fn synced(file: &std::fs::File, len: u64) {
    use std::os::fd::AsRawFd;
    if let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
        if let Ok(mut d) = DURABLE.lock() {
            d.insert(path, len);
        }
    }
}

/// What a power failure would do: bytes written past the synced length of
/// each file this process synced become garbage.
#[cfg(feature = "crash-points")]
fn lose_unsynced() {
    use std::os::unix::fs::FileExt;
    let Ok(d) = DURABLE.lock() else { return };
    for (path, &durable) in d.iter() {
        let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) else {
            continue;
        };
        let len = f.metadata().map_or(0, |m| m.len());
        let junk = vec![0xEEu8; 1 << 20];
        let mut off = durable;
        while off < len {
            let n = (len - off).min(junk.len() as u64) as usize;
            if f.write_all_at(&junk[..n], off).is_err() {
                break;
            }
            off += n as u64;
        }
    }
}

/// A durability step named `name`: aborts the process here if
/// `COMBSTORE_CRASH_AT` selects it (feature `crash-points` only).
#[cfg(feature = "crash-points")]
pub fn point(name: &str) {
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    let target = TARGET.get_or_init(|| parse(&std::env::var(ENV).ok()?));
    let Some((want, nth)) = target else { return };
    if want != name {
        return;
    }
    let hit = HITS.fetch_add(1, Ordering::SeqCst) + 1;
    if hit == *nth {
        let _ = writeln!(std::io::stderr(), "combstore: crash point {name} (hit {hit})");
        lose_unsynced();
        std::process::abort();
    }
}

/// `name` or `name:N` (N >= 1) -> (name, N); anything else selects nothing.
#[cfg_attr(not(feature = "crash-points"), allow(dead_code))]
fn parse(spec: &str) -> Option<(String, u64)> {
    let (name, nth) = match spec.rsplit_once(':') {
        Some((name, n)) => (name, n.parse().ok().filter(|n| *n >= 1)?),
        None => (spec, 1),
    };
    (!name.is_empty()).then(|| (name.to_owned(), nth))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn specs_parse_to_a_name_and_a_hit_number() {
        assert_eq!(parse("write.after_sync"), Some(("write.after_sync".into(), 1)));
        assert_eq!(parse("punch.after_hole:3"), Some(("punch.after_hole".into(), 3)));
        assert_eq!(parse("x:0"), None);
        assert_eq!(parse("x:y"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse(":2"), None);
    }

    #[test]
    fn without_a_selected_point_nothing_happens() {
        // Not selected (the test process does not name it): returns.
        super::point("crash.test.never_selected");
    }
}
