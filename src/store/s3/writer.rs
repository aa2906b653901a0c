//! A segment's writer on the object store: appends wait in memory and
//! leave as parts of a multipart upload while the writer goes on; a
//! sync completes the upload (or PUTs a short batch whole), and only
//! then are the bytes acknowledged.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use object_store::{MultipartUpload, ObjectStoreExt};
use tokio::task::JoinHandle;

use super::host_cache::Spool;
use super::layout::{Data, Name};
use super::runtime::{block_on, runtime};
use super::{Inner, PART, PARTS_IN_FLIGHT, io_err};
use crate::store::SegmentWriter;

/// A multipart upload of the bytes from the last sync, under way.
struct Upload {
    mp: Box<dyn MultipartUpload>,
    parts: VecDeque<JoinHandle<object_store::Result<()>>>,
}

pub(super) struct S3Writer {
    inner: Arc<Inner>,
    id: i64,
    epoch: u32,
    end: u64,
    /// The end of the bytes uploaded and acknowledged.
    synced: u64,
    /// Appended bytes not yet handed to an upload.
    buf: Vec<u8>,
    upload: Option<Upload>,
    /// An upload failed: everything since the last sync is lost, and
    /// this writer appends no more.
    failed: bool,
    /// The host cache's file of the object being uploaded
    /// (`super::host_cache`): the bytes that left for the store.
    spool: Option<Spool>,
}

impl fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "S3Writer(segment {} epoch {} at {})",
            self.id, self.epoch, self.end
        )
    }
}

impl S3Writer {
    pub fn new(inner: Arc<Inner>, id: i64, epoch: u32, end: u64) -> S3Writer {
        S3Writer {
            inner,
            id,
            epoch,
            end,
            synced: end,
            buf: Vec::new(),
            upload: None,
            failed: false,
            spool: None,
        }
    }

    /// Hands the object's next bytes, about to leave for the store, to
    /// the host cache's file (the first ones start it). Caching never
    /// fails a backup: a file that cannot be written is dropped.
    fn spool(&mut self, bytes: &Bytes, first: bool) {
        if first {
            self.spool = self.inner.host.as_ref().and_then(|h| h.spool(bytes.len() as u64));
        }
        if let Some(s) = self.spool.as_mut() {
            if s.write(bytes.clone()).is_err() {
                self.spool = None;
            }
        }
    }

    fn path(&self, start: u64) -> object_store::path::Path {
        self.inner.obj(
            self.id,
            Name::Data {
                start,
                epoch: self.epoch,
                piece: None,
            },
        )
    }

    fn lost(&mut self, e: io::Error) -> io::Error {
        self.failed = true;
        self.spool = None;
        self.abort();
        self.buf = Vec::new();
        e
    }

    /// Hands the first `PART` bytes of the buffer to the upload, starting
    /// one if none is under way; waits for the oldest part while too
    /// many are in flight.
    fn send_part(&mut self, part: Vec<u8>) -> io::Result<()> {
        let part = Bytes::from(part);
        self.spool(&part, self.upload.is_none());
        if self.upload.is_none() {
            let path = self.path(self.synced);
            let mp = block_on(self.inner.os.put_multipart(&path))?
                .map_err(|e| io_err(&format!("starting an upload of {path}"), e))?;
            self.upload = Some(Upload {
                mp,
                parts: VecDeque::new(),
            });
        }
        let rt = runtime()?;
        let up = self.upload.as_mut().expect("started above");
        let fut = up.mp.put_part(part.into());
        up.parts.push_back(rt.spawn(fut));
        while up.parts.len() > PARTS_IN_FLIGHT {
            let oldest = up.parts.pop_front().expect("non-empty");
            wait(oldest)?;
        }
        Ok(())
    }

    fn abort(&mut self) {
        if let Some(mut up) = self.upload.take() {
            if let Ok(rt) = runtime() {
                // best effort: an upload never completed is no object;
                // its parts are the store's to expire (docs/format.md)
                rt.spawn(async move {
                    for p in up.parts.drain(..) {
                        let _ = p.await;
                    }
                    let _ = up.mp.abort().await;
                });
            }
        }
    }
}

fn wait(part: JoinHandle<object_store::Result<()>>) -> io::Result<()> {
    match block_on(part)? {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(io_err("uploading a part", e)),
        Err(e) => Err(io::Error::other(format!("object store upload task: {e}"))),
    }
}

impl SegmentWriter for S3Writer {
    fn id(&self) -> i64 {
        self.id
    }

    fn end(&self) -> u64 {
        self.end
    }

    fn append(&mut self, data: &[u8]) -> io::Result<u64> {
        if self.failed {
            return Err(io::Error::other("an earlier upload to this segment failed"));
        }
        let off = self.end;
        self.buf.extend_from_slice(data);
        self.end += data.len() as u64;
        while self.buf.len() >= PART {
            let rest = self.buf.split_off(PART);
            let part = std::mem::replace(&mut self.buf, rest);
            if let Err(e) = self.send_part(part) {
                return Err(self.lost(e));
            }
        }
        Ok(off)
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("an earlier upload to this segment failed"));
        }
        if self.synced == self.end {
            return Ok(());
        }
        let start = self.synced;
        let r = match self.upload.take() {
            None => {
                let bytes = Bytes::from(std::mem::take(&mut self.buf));
                self.spool(&bytes, true);
                self.inner.put(&self.path(start), bytes)
            }
            Some(mut up) => {
                let last = Bytes::from(std::mem::take(&mut self.buf));
                self.spool(&last, false);
                let r = finish(&mut up, last);
                if r.is_err() {
                    // lost() aborts it
                    self.upload = Some(up);
                }
                r
            }
        };
        // every failure goes through lost(): nothing appended since the
        // last sync is acknowledged, ever
        let tag = match r {
            Ok(tag) => tag,
            Err(e) => return Err(self.lost(e)),
        };
        let d = Data {
            start,
            len: self.end - start,
            epoch: self.epoch,
            piece: None,
        };
        // the store holds the object: its file may now take its name
        if let (Some(host), Some(spool), Some(tag)) = (self.inner.host.as_ref(), self.spool.take(), &tag) {
            host.keep(spool, self.id, &d, tag);
        }
        self.inner.uploaded(self.id, d, tag.as_deref());
        self.synced = self.end;
        Ok(())
    }
}

/// Sends `last` as the upload's final part, waits for every part, and
/// completes the upload; the object's ETag, if the store gave one.
fn finish(up: &mut Upload, last: Bytes) -> io::Result<Option<String>> {
    if !last.is_empty() {
        let rt = runtime()?;
        up.parts.push_back(rt.spawn(up.mp.put_part(last.into())));
    }
    while let Some(p) = up.parts.pop_front() {
        wait(p)?;
    }
    block_on(up.mp.complete())?
        .map(|r| r.e_tag)
        .map_err(|e| io_err("completing an upload", e))
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        self.abort();
    }
}
