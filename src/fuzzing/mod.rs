//! Bodies of the cargo-fuzz targets in `fuzz/fuzz_targets/` (docs/reliability.md,
//! "Fuzzing"). They live in the library so that an ordinary test
//! (`fuzzing::tests`) replays the committed seeds and every saved crash
//! without the fuzzer or a nightly toolchain. Not part of the API.
//!
//! Each `run` takes the fuzzer's bytes and panics when a property fails;
//! every input is valid (the decoders read zeros past the end).
//!
//! - [`api::run`]: engine call sequences against a model;
//! - [`query::run`]: the query translator's safety properties;
//! - [`damage::run`]: opening and reading a server whose files were damaged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub mod api;
pub mod damage;
mod input;
pub mod query;
#[cfg(test)]
mod tests;

/// Makes the engine's logging a no-op for the whole process (the fuzzers
/// open thousands of servers; each would otherwise log to its file).
pub fn quiet() {
    crate::logging::disable();
}

/// A private scratch directory, removed when dropped: under
/// `$COMBSTORE_FUZZ_DIR`, else `/dev/shm` (syncs cost nothing there), else
/// the system's temporary directory.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::var_os("COMBSTORE_FUZZ_DIR")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
            .unwrap_or_else(std::env::temp_dir);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut dir = base.join(format!("combstore-fuzz-{tag}-{}-{n}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_err() {
            dir = std::env::temp_dir().join(format!("combstore-fuzz-{tag}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        }
        Scratch(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
