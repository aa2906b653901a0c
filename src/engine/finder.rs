//! Writers' chunk lookups by fingerprint, answered while the writer
//! stores its previous batch.
//!
//! A writer looks up each cut buffer's new fingerprints before it
//! compresses them (engine::image, `emit_buf`). In SQLite that takes
//! microseconds. With a pool's catalog in PostgreSQL it is a round trip:
//! about a millisecond alone, several when the host's cores are busy
//! compressing and uploading, once per MiB of every stream. So there a
//! [`Finder`] thread asks on a session of its own and the writer, which
//! sent the question first, stores the batch before and only then waits
//! for the answer: the round trip overlaps its work instead of adding to
//! it. The session holds no fence (catalog::owners): lookups only read,
//! and only commits, on the catalog's session, need one.

use std::thread::JoinHandle;

use crossbeam::channel::{Receiver, Sender, bounded, unbounded};

use super::error::{Error, Result};
use crate::catalog::{self, Conn, PgTarget};
use crate::chunking::Fingerprint;

/// Chunks loaded after a chunk found by fingerprint (16 MiB of a full at
/// 16 KiB chunks).
pub(crate) const PREFETCH: usize = if cfg!(test) { 16 } else { 1024 };

/// What a lookup found: chunks a writer may refer to, and how far the
/// segment it last found a chunk in was loaded.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub chunks: Vec<(Fingerprint, i64)>,
    /// (segment, offset of the last chunk loaded).
    pub prefetched: Option<(i64, u64)>,
}

/// Looks up `unknown` on `conn` for a writer registered at release epoch
/// `pin` that loaded segment `prefetched.0` up to `prefetched.1` already:
/// chunks found live, or dead only since `pin` (catalog::release_orphans
/// says why that is safe and an older dead one is not). A chunk found
/// where no earlier lookup led brings the chunks stored after it in its
/// segment along ([`catalog::chunks_after`]): a second full meets its
/// first's chunks in the order they were stored.
///
/// # Errors
/// Catalog errors.
pub(crate) fn find(
    conn: &Conn,
    unknown: &[[u8; 32]],
    pin: i64,
    mut prefetched: Option<(i64, u64)>,
) -> Result<Found> {
    let usable = |h: &catalog::ChunkHit| !h.damaged && h.dead.is_none_or(|d| d > pin);
    let mut chunks = Vec::new();
    for h in catalog::chunks_by_fps(conn, unknown)? {
        // A damaged chunk is stored anew (and repaired by the commit).
        if !usable(&h) {
            continue;
        }
        chunks.push((Fingerprint(h.fp), h.id));
        let seen = prefetched.is_some_and(|(seg, upto)| seg == h.segment && h.seg_off <= upto);
        if !seen {
            let after = catalog::chunks_after(conn, h.segment, h.seg_off, PREFETCH)?;
            let upto = after.last().map_or(h.seg_off, |a| a.seg_off);
            chunks.extend(
                after
                    .iter()
                    .filter(|a| usable(a))
                    .map(|a| (Fingerprint(a.fp), a.id)),
            );
            prefetched = Some((h.segment, upto));
        }
    }
    Ok(Found { chunks, prefetched })
}

/// A lookup's answer: given at once, or coming from the [`Finder`].
#[derive(Debug)]
pub(crate) enum Answer {
    Ready(Result<Found>),
    Later(Receiver<Result<Found>>),
}

impl Answer {
    /// Waits for the answer.
    ///
    /// # Errors
    /// The lookup's; [`Error::Io`] if the finder thread is gone.
    pub(crate) fn wait(self) -> Result<Found> {
        match self {
            Answer::Ready(r) => r,
            Answer::Later(rx) => rx.recv().unwrap_or_else(|_| {
                Err(Error::io(
                    "chunk lookup",
                    std::io::Error::other("the lookup thread ended"),
                ))
            }),
        }
    }
}

struct Ask {
    unknown: Vec<[u8; 32]>,
    pin: i64,
    prefetched: Option<(i64, u64)>,
    reply: Sender<Result<Found>>,
}

/// A thread answering one process's writers' lookups, in the order
/// asked, on a session to the catalog in PostgreSQL opened at the first
/// question (a server opened to look, never to write, opens none).
#[derive(Debug)]
pub(crate) struct Finder {
    work: Option<Sender<Ask>>,
    thread: Option<JoinHandle<()>>,
}

impl Finder {
    /// A finder of the catalog at `target`.
    ///
    /// # Errors
    /// [`Error::Io`] if the thread cannot be started.
    pub(crate) fn start(target: PgTarget) -> Result<Finder> {
        let (work, asks) = unbounded::<Ask>();
        let thread = std::thread::Builder::new()
            .name("combstore-find".into())
            .spawn(move || serve(&target, &asks))
            .map_err(|e| Error::io("starting the chunk lookup thread", e))?;
        Ok(Finder {
            work: Some(work),
            thread: Some(thread),
        })
    }

    /// Sends a lookup (arguments as [`find`]'s); the answer comes later.
    pub(crate) fn ask(&self, unknown: Vec<[u8; 32]>, pin: i64, prefetched: Option<(i64, u64)>) -> Answer {
        let (reply, rx) = bounded(1);
        let ask = Ask {
            unknown,
            pin,
            prefetched,
            reply,
        };
        match self.work.as_ref().map(|w| w.send(ask)) {
            Some(Ok(())) => Answer::Later(rx),
            _ => Answer::Ready(Err(Error::io(
                "chunk lookup",
                std::io::Error::other("the lookup thread ended"),
            ))),
        }
    }
}

/// The finder thread: answers until every sender is gone. A session
/// that fails to open is tried again at the next question (the catalog's
/// backend reopens a lost one by itself).
fn serve(target: &PgTarget, asks: &Receiver<Ask>) {
    let mut session: Option<Conn> = None;
    for ask in asks {
        if session.is_none() {
            match catalog::connect_postgres(target.clone()) {
                Ok(conn) => session = Some(conn),
                Err(e) => {
                    let _ = ask.reply.send(Err(e.into()));
                    continue;
                }
            }
        }
        let conn = session.as_ref().expect("opened above");
        // a writer that gave up waiting dropped its receiver: fine
        let _ = ask.reply.send(find(conn, &ask.unknown, ask.pin, ask.prefetched));
    }
}

impl Drop for Finder {
    fn drop(&mut self) {
        drop(self.work.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
