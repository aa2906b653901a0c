//! Checkpoints off the commit path.
//!
//! In WAL mode SQLite copies committed pages from the WAL back into the
//! database file (a checkpoint). By default the commit that brings the WAL
//! past 1000 pages does it, inside the commit: measured in issue 8, about
//! one small image in thirty paid for writing 4 MB of pages and an fsync
//! of the database in its close, and those closes were the create+close
//! p99. Each server instance instead runs a thread that makes a PASSIVE
//! checkpoint (never waits for, nor blocks, readers and writers) every
//! [`INTERVAL`]; the commit path keeps SQLite's own checkpoint only as a
//! fallback at [`FALLBACK_PAGES`] of WAL, for a thread that falls behind
//! and for processes that run none (the administrator's read-only
//! commands). Checkpoints never change what the catalog says, only where
//! SQLite keeps it, so any process's checkpointer serves every process.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{self, RecvTimeoutError, Sender};
use rusqlite::{Connection, OpenFlags};

use super::Result;
use super::backend::sqlite::classify;
use crate::logging::ServerLog;

/// How often the checkpointer runs.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// WAL pages past which a commit checkpoints by itself
/// (`wal_autocheckpoint`; 64 MiB at SQLite's default 4 KiB page).
pub const FALLBACK_PAGES: u32 = 16384;

/// A running checkpointer; stops (and is joined) when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the catalog at `path` on its own connection;
    /// failures are logged to `log` (debug: the next one retries).
    ///
    /// # Errors
    /// Catalog errors opening the connection; I/O errors starting the thread.
    pub fn start(path: &Path, log: ServerLog) -> Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(classify)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(classify)?;
        let (stop, stopped) = channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("combstore-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if let Err(e) = checkpoint(&conn) {
                        crate::log_debug!(log, "background checkpoint: {e}");
                    }
                }
            })
            .map_err(|e| super::Error::io("checkpoint thread", e))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// One PASSIVE checkpoint.
fn checkpoint(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(classify)?;
    Ok(())
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_checkpoints_what_commits_leave_in_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let mut conn = crate::catalog::open(&path, 0, "u").unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let tx = crate::catalog::write_txn(&mut conn).unwrap();
        for _ in 0..200 {
            tx.execute("INSERT INTO t VALUES (zeroblob(4000))", []).unwrap();
        }
        tx.commit().unwrap();
        // the rows are in the WAL only until a checkpoint copies them
        let db_len = || std::fs::metadata(&path).unwrap().len();
        assert!(db_len() < 200 * 4000, "checkpointed by the commit itself");
        let cp = Checkpointer::start(&path, crate::logging::ServerLog::open(dir.path())).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while db_len() < 200 * 4000 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint within 20 s");
            std::thread::sleep(INTERVAL);
        }
        drop(cp); // stops and joins
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 200);
    }
}
