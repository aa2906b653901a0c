//! Splitting CPU work in two: this thread does one half while a
//! persistent helper thread does the other.
//!
//! Restores decode chunks on two threads and mostly-duplicate ingests
//! fingerprint on two (image::ImageReader::decode_batch,
//! engine::squeeze), a megabyte or so at a time. A thread spawned for
//! each megabyte started late on this 2-core VM: in a restore's profile
//! the spawned thread did a quarter of the decoding where it should have
//! done half. So the helpers are made once per process (a `rayon-core`
//! pool of one thread per core but the caller's, at most 7, named
//! `combstore-cpu`; one on a 1-CPU machine) and shared by every reader and
//! writer: concurrent streams share them rather than multiply threads. A
//! forked child of the host works alone (the threads stayed with the
//! parent). The threads live as long as the process, like the
//! asynchronous operations' workers.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

/// The pool, and the process it was made in.
static POOL: OnceLock<Option<(rayon_core::ThreadPool, u32)>> = OnceLock::new();

fn pool() -> Option<&'static rayon_core::ThreadPool> {
    let (pool, pid) = POOL
        .get_or_init(|| {
            let spare = std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1));
            rayon_core::ThreadPoolBuilder::new()
                .num_threads(spare.clamp(1, 7))
                .thread_name(|_| "combstore-cpu".into())
                .build()
                .ok()
                .map(|p| (p, std::process::id()))
        })
        .as_ref()?;
    // A child forked (without exec) by a host after the pool was made
    // has none of its threads: work handed to them would never run.
    (*pid == std::process::id()).then_some(pool)
}

/// Runs `mine` on this thread and `theirs` on a helper (or on this
/// thread after `mine` if there is none); returns both results once both
/// are done. A panic in `theirs` is returned as `Err`, not propagated.
pub(crate) fn both<A, B, RA, RB>(mine: A, theirs: B) -> (RA, std::thread::Result<RB>)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let Some(pool) = pool() else {
        let a = mine();
        return (a, catch_unwind(AssertUnwindSafe(theirs)));
    };
    let mut b = None;
    let a = pool.in_place_scope(|s| {
        s.spawn(|_| b = Some(catch_unwind(AssertUnwindSafe(theirs))));
        mine()
    });
    (a, b.unwrap_or_else(|| Err(Box::new("the helper did not run"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_and_a_panicking_one_is_an_error() {
        let data: Vec<u64> = (0..1000).collect();
        let (lo, hi) = data.split_at(500);
        let (a, b) = both(|| lo.iter().sum::<u64>(), || hi.iter().sum::<u64>());
        assert_eq!(a + b.unwrap(), 499_500);
        let (a, b) = both(|| 1, || -> u32 { panic!("a test") });
        assert_eq!(a, 1);
        assert!(b.is_err());
    }
}
