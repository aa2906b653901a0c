//! The blocks of pack objects a process has read lately, shared by all
//! its readers: the two threads a restore decodes on, and every other
//! reader of the pool, fetch each block once.
//!
//! A block is [`BLOCK`] bytes of a data object (aligned to the object's
//! start; the last one shorter), what a reader going on reads; a small
//! block is [`SMALL`] bytes, what a place announced ahead of a read (a
//! chunk shared with an older image) brings in, so that such places cost
//! a short GET each, all at once. A block asked for is fetched by one
//! ranged GET on the runtime; whoever asks for it meanwhile waits for
//! that GET rather than starting another. The cache holds at most
//! [`CACHE_BYTES`]; the least recently inserted blocks go first. Objects
//! never change under a name (layout), so a cached block is never stale:
//! at worst it is of an object deleted since, which no fresh listing
//! names any more.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::{Condvar, Mutex};

use super::layout::{Data, Name};
use super::runtime::runtime;

/// Bytes of a block: Garage serves a 4 MiB range in about the time of a
/// 1 MiB one (its cost is per request): a restore of 512 MiB from a pool
/// took 0.98 s with 4 MiB blocks, 1.36 s with 1 MiB ones.
pub(super) const BLOCK: u64 = 4 << 20;
/// Bytes of a small block.
pub(super) const SMALL: u64 = 256 << 10;
/// Bytes the cache holds at most (per process).
pub(super) const CACHE_BYTES: u64 = 64 << 20;

/// Segment, object, block size, block index.
type Key = (i64, Name, u64, u64);

/// How fetching a block ended.
#[derive(Clone, Debug)]
pub(super) enum Got {
    Bytes(Bytes),
    /// The object is not there (or shorter than listed): list again.
    Gone,
    /// The store failed (unreachable, refused, 5xx after retries).
    Failed(io::ErrorKind, String),
}

#[derive(Default)]
pub(super) struct Slot {
    got: Mutex<Option<Got>>,
    ready: Condvar,
}

impl Slot {
    /// Waits for the block's fetch to end.
    pub fn wait(&self) -> Got {
        let mut g = self.got.lock();
        while g.is_none() {
            self.ready.wait(&mut g);
        }
        g.clone().expect("set")
    }

    fn set(&self, got: Got) {
        *self.got.lock() = Some(got);
        self.ready.notify_all();
    }
}

#[derive(Default)]
pub(super) struct BlockCache {
    inner: Mutex<Blocks>,
}

#[derive(Default)]
struct Blocks {
    /// The process the slots were made in: a child the host forks
    /// (without exec) has none of the runtime's threads that would fill
    /// the ones still loading, so it starts afresh.
    pid: u32,
    slots: HashMap<Key, Arc<Slot>>,
    /// Keys in insertion order, with their blocks' lengths.
    order: VecDeque<(Key, u64)>,
    bytes: u64,
}

/// The range of the `size`-byte block `k` of `d`, relative to the object.
pub(super) fn block_range(d: &Data, size: u64, k: u64) -> (u64, u64) {
    let a = k * size;
    (a, (a + size).min(d.len))
}

impl BlockCache {
    /// The `size`-byte block of `d` holding object offset `rel`, if it is
    /// held or being fetched.
    pub fn find(&self, id: i64, d: &Data, size: u64, rel: u64) -> Option<Arc<Slot>> {
        self.blocks()
            .slots
            .get(&(id, d.name(), size, rel / size))
            .cloned()
    }

    /// The blocks, emptied first in a forked child.
    fn blocks(&self) -> parking_lot::MutexGuard<'_, Blocks> {
        let mut b = self.inner.lock();
        let pid = std::process::id();
        if b.pid != pid {
            *b = Blocks {
                pid,
                ..Blocks::default()
            };
        }
        b
    }

    /// The `size`-byte block `k` of data object `d` (at `path`) of
    /// segment `id`: the cached slot, or a new one whose fetch has
    /// started.
    pub fn block(
        &self,
        os: &Arc<dyn ObjectStore>,
        path: &object_store::path::Path,
        id: i64,
        d: &Data,
        size: u64,
        k: u64,
    ) -> Arc<Slot> {
        let key = (id, d.name(), size, k);
        let mut b = self.blocks();
        if let Some(s) = b.slots.get(&key) {
            return s.clone();
        }
        let slot = Arc::new(Slot::default());
        let (a, z) = block_range(d, size, k);
        match runtime() {
            Ok(rt) => {
                let (os, path, s) = (os.clone(), path.clone(), slot.clone());
                rt.spawn(async move {
                    let got = match os.get_range(&path, a..z).await {
                        Ok(bytes) if bytes.len() as u64 == z - a => Got::Bytes(bytes),
                        Ok(_) | Err(object_store::Error::NotFound { .. }) => Got::Gone,
                        Err(e) => {
                            let e = super::io_err(&format!("reading {path}"), e);
                            Got::Failed(e.kind(), e.to_string())
                        }
                    };
                    s.set(got);
                });
            }
            Err(e) => slot.set(Got::Failed(e.kind(), e.to_string())),
        }
        b.slots.insert(key, slot.clone());
        b.order.push_back((key, z - a));
        b.bytes += z - a;
        while b.bytes > CACHE_BYTES {
            let Some((old, len)) = b.order.pop_front() else {
                break;
            };
            b.slots.remove(&old);
            b.bytes = b.bytes.saturating_sub(len);
        }
        slot
    }

    /// Forgets the `size`-byte block `k` of `d` (its fetch failed: the
    /// next read tries again).
    pub fn forget(&self, id: i64, d: &Data, size: u64, k: u64) {
        let mut b = self.inner.lock();
        let key = (id, d.name(), size, k);
        if b.slots.remove(&key).is_some() {
            b.order.retain(|x| x.0 != key);
            let (a, z) = block_range(d, size, k);
            b.bytes = b.bytes.saturating_sub(z - a);
        }
    }
}
