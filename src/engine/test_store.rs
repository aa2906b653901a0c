//! Tests of the engine run on the in-memory chunk store as well as on
//! segment files: a server directory registered here keeps its chunks in
//! one [`MemoryStore`](crate::store::memory::MemoryStore) for the life of
//! the test process (reopening the server finds them, as it would find
//! its files). `COMBSTORE_TEST_STORE=memory` registers every server the
//! shared test helpers create; `COMBSTORE_TEST_STORE=s3` makes each a
//! pool on the S3 store `make test-scaleout` starts.

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

/// Whether the test helpers should make their servers pools on the S3
/// store of `make test-scaleout` (`COMBSTORE_TEST_STORE=s3`).
pub fn s3_requested() -> bool {
    std::env::var("COMBSTORE_TEST_STORE").is_ok_and(|v| v == "s3")
}

/// Makes `dir` (not created yet) a pool on the test S3 store, under a
/// folder of its own.
pub fn use_s3(dir: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let c = crate::store::s3::tests::test_config();
    let text = format!(
        "COMBSTORE_S3_ENDPOINT={}\nCOMBSTORE_S3_REGION={}\nCOMBSTORE_S3_BUCKET={}\nCOMBSTORE_S3_PREFIX={}\nCOMBSTORE_S3_KEY_ID={}\nCOMBSTORE_S3_SECRET={}\n",
        c.endpoint,
        c.region,
        c.bucket,
        c.prefix.unwrap_or_default(),
        c.key_id,
        c.secret
    );
    std::fs::create_dir_all(dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(crate::store::s3::POOL_FILE))
        .unwrap();
    std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
}

/// Keeps the chunks of the server in `dir` in memory from now on.
pub fn use_memory(dir: &Path) {
    STORES
        .lock()
        .get_or_insert_with(HashMap::new)
        .entry(dir.join("segments"))
        .or_default();
}

/// Keeps the chunks of the server in `dir` in `store` from now on.
pub fn use_memory_store(dir: &Path, store: Arc<MemoryStore>) {
    STORES
        .lock()
        .get_or_insert_with(HashMap::new)
        .insert(dir.join("segments"), store);
}

/// A new server in a temporary directory for a test: its chunks in
/// memory if [`memory_requested`], else in segment files.
pub fn server() -> (tempfile::TempDir, super::Server) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    if memory_requested() {
        use_memory(&path);
    } else if s3_requested() {
        use_s3(&path);
    }
    let s = super::Server::open(&path).unwrap();
    (dir, s)
}

pub(crate) fn memory_for(seg_dir: &Path) -> Option<Arc<dyn ChunkStore>> {
    let stores = STORES.lock();
    let store = stores.as_ref()?.get(seg_dir)?.clone();
    Some(store)
}
