//! Tests of the engine run on the in-memory chunk store as well as on
//! segment files: a server directory registered here keeps its chunks in
//! one [`MemoryStore`](crate::store::memory::MemoryStore) for the life of
//! the test process (reopening the server finds them, as it would find
//! its files). `COMBSTORE_TEST_STORE=memory` registers every server the
//! shared test helpers create.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::store::ChunkStore;
use crate::store::memory::MemoryStore;

static STORES: Mutex<Option<HashMap<PathBuf, Arc<MemoryStore>>>> = Mutex::new(None);

/// Whether the test helpers should put their servers in memory.
pub fn memory_requested() -> bool {
    std::env::var("COMBSTORE_TEST_STORE").is_ok_and(|v| v == "memory")
}

/// Keeps the chunks of the server in `dir` in memory from now on.
pub fn use_memory(dir: &Path) {
    STORES
        .lock()
        .get_or_insert_with(HashMap::new)
        .entry(dir.join("segments"))
        .or_default();
}

/// A new server in a temporary directory for a test: its chunks in
/// memory if [`memory_requested`], else in segment files.
pub fn server() -> (tempfile::TempDir, super::Server) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    if memory_requested() {
        use_memory(&path);
    }
    let s = super::Server::open(&path).unwrap();
    (dir, s)
}

pub(crate) fn memory_for(seg_dir: &Path) -> Option<Arc<dyn ChunkStore>> {
    let stores = STORES.lock();
    let store = stores.as_ref()?.get(seg_dir)?.clone();
    Some(store)
}
