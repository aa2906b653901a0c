//! The tokio runtime the S3 client needs, for a plugin whose callers are
//! plain threads.
//!
//! object_store's requests are futures; the plugin's callers (backup
//! applications' threads) block on them with [`block_on`]. Uploads of a
//! writer's parts run as tasks on the runtime's two workers (named
//! `combstore-s3`) while the writer goes on, which is what overlaps a
//! backup's chunking with its uploads. One runtime per process, made at
//! the first pool opened and kept for the life of the process, like the
//! helper threads of `engine::cores`. A child the host forks (without
//! exec) has none of the parent's threads, so it makes its own.

use std::future::Future;
use std::io;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::Runtime;

static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The process's runtime, made on first use.
///
/// # Errors
/// If the runtime's threads cannot be started.
pub(super) fn runtime() -> io::Result<Arc<Runtime>> {
    let mut rt = RUNTIME.lock();
    let pid = std::process::id();
    if let Some((p, r)) = rt.as_ref() {
        if *p == pid {
            return Ok(r.clone());
        }
    }
    let new = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("combstore-s3")
            .enable_all()
            .build()?,
    );
    if let Some((_, parent)) = rt.replace((pid, new.clone())) {
        // The parent's runtime in a forked child: its threads are not
        // here, so it must never be dropped (dropping joins them).
        std::mem::forget(parent);
    }
    Ok(new)
}

/// Runs `fut` to its end on this thread, with the runtime's I/O driver.
///
/// # Errors
/// If the runtime cannot be started.
pub(super) fn block_on<F: Future>(fut: F) -> io::Result<F::Output> {
    Ok(runtime()?.block_on(fut))
}
