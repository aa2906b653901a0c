//! Fuzz target `api`: random sequences of engine calls on two servers,
//! each with two LSUs, checked call by call against a model that predicts
//! every outcome: image states, contents, metadata and error kinds.
//!
//! Calls: create, write (sometimes misaligned), flush, close complete or
//! incomplete, drop a writer (abnormal completion), reopen, open a reader
//! and read from it (also after its image was deleted), image info,
//! delete, copy_image (shared on one server, streamed between two),
//! copy_from (shared, streamed, or share-only across servers), metadata
//! writes and reads, reclaim, the LSU reclaim policy, listing, and
//! reopening a server (recovery). At the end every handle is dropped,
//! every image compared with the model, `Server::check` and
//! `Server::verify` must find nothing, and the same holds after both
//! servers are reopened.
//!
//! A wrong outcome panics with the calls that led to it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha1::{Digest, Sha1};

use super::Scratch;
use super::input::{Input, pattern};
use crate::engine::{ErrorKind, ImageName, ImageReader, ImageState, ImageWriter, Result, Server};

const SERVERS: usize = 2;
const LSUS: [&str; 2] = ["default", "b"];
const NAMES: usize = 4;
const MAX_OPS: usize = 50;
const BLOCK: u64 = crate::engine::BLOCK_SIZE;
/// Offsets up to 64 KiB, lengths up to 16 KiB: small images, fast runs.
const OFF_BLOCKS: u64 = 128;
const LEN_BLOCKS: u64 = 33;
const MAX_READERS: usize = 4;

type Key = (usize, usize, usize);

struct Img {
    state: ImageState,
    bytes: Vec<u8>,
    meta: Vec<u8>,
    /// Changes when an image of this key is deleted and made again.
    generation: u64,
}

struct Writer {
    key: Key,
    w: ImageWriter,
}

struct Reader {
    key: Key,
    generation: u64,
    r: ImageReader,
    snapshot: Vec<u8>,
}

struct World {
    dirs: Vec<PathBuf>,
    servers: Vec<Server>,
    model: BTreeMap<Key, Img>,
    writers: Vec<Writer>,
    readers: Vec<Reader>,
    generations: u64,
    log: Vec<String>,
    /// Last, so it is removed after the servers and handles are dropped.
    _scratch: Scratch,
}

/// Runs one input. Panics when the engine and the model disagree.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mut world = World::new();
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        world.step(&mut input);
    }
    world.finish();
}

fn name(n: usize) -> ImageName {
    ImageName::new(&format!("img{n}"), "1").expect("valid name")
}

fn sha1_hex(b: &[u8]) -> String {
    crate::store::hex(&Sha1::digest(b))
}

fn put(buf: &mut Vec<u8>, off: usize, data: &[u8]) {
    if buf.len() < off + data.len() {
        buf.resize(off + data.len(), 0);
    }
    buf[off..off + data.len()].copy_from_slice(data);
}

/// `len` bytes at `off` of `bytes`, zeros past its end.
fn slice_of(bytes: &[u8], off: usize, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    if off < bytes.len() {
        let n = len.min(bytes.len() - off);
        out[..n].copy_from_slice(&bytes[off..off + n]);
    }
    out
}

impl World {
    fn new() -> World {
        let scratch = Scratch::new("api");
        let dirs: Vec<PathBuf> = (0..SERVERS)
            .map(|i| scratch.path().join(format!("s{i}")))
            .collect();
        let servers: Vec<Server> = dirs
            .iter()
            .map(|d| {
                let s = Server::open(d).expect("new server");
                s.create_lsu(LSUS[1]).expect("second LSU");
                s
            })
            .collect();
        World {
            dirs,
            servers,
            model: BTreeMap::new(),
            writers: Vec::new(),
            readers: Vec::new(),
            generations: 0,
            log: Vec::new(),
            _scratch: scratch,
        }
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!("model mismatch: {what}\ncalls:\n  {}", self.log.join("\n  "));
    }

    /// Checks an outcome against the prediction (`Ok(())` or an error kind).
    #[track_caller]
    fn expect<T>(&self, what: &str, got: Result<T>, want: std::result::Result<(), ErrorKind>) -> Option<T> {
        match (got, want) {
            (Ok(v), Ok(())) => Some(v),
            (Err(e), Err(k)) if e.kind() == k => None,
            (Ok(_), Err(k)) => self.fail(&format!("{what}: succeeded, expected {k:?}")),
            (Err(e), want) => self.fail(&format!("{what}: {e} ({:?}), expected {want:?}", e.kind())),
        }
    }

    fn key(&self, input: &mut Input<'_>) -> Key {
        (input.below(SERVERS), input.below(LSUS.len()), input.below(NAMES))
    }

    fn state(&self, key: Key) -> Option<ImageState> {
        self.model.get(&key).map(|i| i.state)
    }

    /// An offset and length: whole blocks, or now and then misaligned.
    fn io_range(input: &mut Input<'_>, off_blocks: u64) -> (u64, u64, bool) {
        let mut off = u64::from(input.byte()) % off_blocks * BLOCK;
        let mut len = u64::from(input.byte()) % LEN_BLOCKS * BLOCK;
        let misaligned = input.one_in(16);
        if misaligned {
            if input.byte() % 2 == 0 {
                off += 1 + u64::from(input.byte()) % (BLOCK - 1);
            } else {
                len += 1 + u64::from(input.byte()) % (BLOCK - 1);
            }
        }
        (off, len, misaligned)
    }

    fn step(&mut self, input: &mut Input<'_>) {
        match input.byte() % 18 {
            0 | 1 => self.create(input),
            2..=4 => self.write(input),
            5 => self.flush(input),
            6 => self.close(input),
            7 => self.abandon(input),
            8 => self.reopen(input),
            9 => self.open_reader(input),
            10 => self.read(input),
            11 => self.info(input),
            12 => self.delete(input),
            13 => self.copy_image(input),
            14 => self.copy_from(input),
            15 => self.meta(input),
            16 => self.server_op(input),
            _ => self.list(input),
        }
    }

    fn create(&mut self, input: &mut Input<'_>) {
        let key = self.key(input);
        let (s, l, n) = key;
        self.log.push(format!("create {key:?}"));
        let want = if self.model.contains_key(&key) {
            Err(ErrorKind::Exists)
        } else {
            Ok(())
        };
        let got = self.servers[s].create_image(LSUS[l], &name(n));
        if let Some(w) = self.expect("create", got, want) {
            self.generations += 1;
            self.model.insert(
                key,
                Img {
                    state: ImageState::Writing,
                    bytes: Vec::new(),
                    meta: Vec::new(),
                    generation: self.generations,
                },
            );
            self.writers.push(Writer { key, w });
        }
    }

    fn writer(&self, input: &mut Input<'_>) -> Option<usize> {
        let i = input.below(usize::MAX >> 1);
        (!self.writers.is_empty()).then(|| i % self.writers.len())
    }

    fn write(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.writer(input) else { return };
        let (off, len, misaligned) = Self::io_range(input, OFF_BLOCKS);
        let seed = u64::from(input.u32());
        let key = self.writers[i].key;
        self.log
            .push(format!("write {key:?} off {off} len {len} seed {seed}"));
        let data = pattern(seed, len as usize);
        let got = self.writers[i].w.write(off, &data);
        let want = if misaligned { Err(ErrorKind::Align) } else { Ok(()) };
        if self.expect("write", got, want).is_some() && len > 0 {
            let img = self.model.get_mut(&key).expect("writer's image");
            put(&mut img.bytes, off as usize, &data);
        }
        self.check_writer_size(i, "write");
    }

    fn check_writer_size(&self, i: usize, after: &str) {
        let size = self.model[&self.writers[i].key].bytes.len() as u64;
        if self.writers[i].w.size() != size {
            self.fail(&format!(
                "writer size {} after {after}, model {size}",
                self.writers[i].w.size()
            ));
        }
    }

    fn flush(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.writer(input) else { return };
        self.log.push(format!("flush {:?}", self.writers[i].key));
        let got = self.writers[i].w.flush();
        self.expect("flush", got, Ok(()));
        let key = self.writers[i].key;
        let info = self.servers[key.0].image_info(LSUS[key.1], &name(key.2));
        let info = self.expect("info after flush", info, Ok(())).expect("checked");
        if info.size != self.model[&key].bytes.len() as u64 || info.state != ImageState::Writing {
            self.fail(&format!("after flush: {:?} size {}", info.state, info.size));
        }
    }

    fn close(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.writer(input) else { return };
        let complete = input.byte() % 2 == 0;
        let Writer { key, w } = self.writers.swap_remove(i);
        self.log.push(format!("close {key:?} complete {complete}"));
        self.expect("close", w.close(complete), Ok(()));
        let img = self.model.get_mut(&key).expect("writer's image");
        img.state = if complete {
            ImageState::Complete
        } else {
            ImageState::Incomplete
        };
        self.check_info(key);
    }

    fn abandon(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.writer(input) else { return };
        let Writer { key, w } = self.writers.swap_remove(i);
        self.log.push(format!("drop writer {key:?}"));
        drop(w);
        self.model.get_mut(&key).expect("writer's image").state = ImageState::Aborted;
        self.check_info(key);
    }

    fn reopen(&mut self, input: &mut Input<'_>) {
        let key = self.key(input);
        self.log.push(format!("reopen {key:?}"));
        let want = match self.state(key) {
            None => Err(ErrorKind::NoImage),
            Some(ImageState::Writing) => Err(ErrorKind::Busy),
            Some(ImageState::Complete) => Err(ErrorKind::Complete),
            Some(ImageState::Broken) => Err(ErrorKind::Broken),
            Some(_) => Ok(()),
        };
        let got = self.servers[key.0].reopen_image(LSUS[key.1], &name(key.2));
        if let Some(w) = self.expect("reopen", got, want) {
            let img = self.model.get_mut(&key).expect("reopened image");
            img.state = ImageState::Writing;
            if w.size() != img.bytes.len() as u64 {
                self.fail(&format!("reopened size {}", w.size()));
            }
            self.writers.push(Writer { key, w });
        }
    }

    fn want_readable(&self, key: Key) -> std::result::Result<(), ErrorKind> {
        match self.state(key) {
            None => Err(ErrorKind::NoImage),
            Some(ImageState::Complete) => Ok(()),
            Some(_) => Err(ErrorKind::NotComplete),
        }
    }

    fn open_reader(&mut self, input: &mut Input<'_>) {
        let key = self.key(input);
        self.log.push(format!("open reader {key:?}"));
        let got = self.servers[key.0].open_image(LSUS[key.1], &name(key.2));
        if let Some(r) = self.expect("open_image", got, self.want_readable(key)) {
            let img = &self.model[&key];
            if r.size() != img.bytes.len() as u64 {
                self.fail(&format!("reader size {}", r.size()));
            }
            if self.readers.len() == MAX_READERS {
                self.readers.remove(0);
            }
            let (generation, snapshot) = (img.generation, img.bytes.clone());
            self.readers.push(Reader {
                key,
                generation,
                r,
                snapshot,
            });
        }
    }

    fn read(&mut self, input: &mut Input<'_>) {
        let i = input.below(MAX_READERS);
        let (off, len, misaligned) = Self::io_range(input, OFF_BLOCKS + 2);
        let Some(rd) = self.readers.get_mut(i) else { return };
        let key = rd.key;
        let deleted = self.model.get(&key).is_none_or(|m| m.generation != rd.generation);
        let size = rd.snapshot.len() as u64;
        let mut buf = vec![0xA5u8; len as usize];
        let got = rd.r.read(off, &mut buf);
        let snapshot = slice_of(&rd.snapshot, off as usize, len as usize);
        self.log
            .push(format!("read {key:?} off {off} len {len} (deleted: {deleted})"));
        let want = if misaligned {
            Err(ErrorKind::Align)
        } else if off > size {
            Err(ErrorKind::Range)
        } else {
            Ok(())
        };
        let got = match got {
            Err(e) if deleted && e.kind() == ErrorKind::NoImage && want.is_ok() => return,
            other => other,
        };
        if let Some(n) = self.expect("read", got, want) {
            let expect_n = len.min(size - off) as usize;
            if n != expect_n || buf[..n] != snapshot[..n] {
                self.fail(&format!(
                    "read returned {n} bytes (want {expect_n}), or wrong bytes"
                ));
            }
        }
    }

    /// Image info and busy flag against the model.
    fn check_info(&self, key: Key) {
        let (s, l, n) = key;
        let got = self.servers[s].image_info(LSUS[l], &name(n));
        let want = if self.model.contains_key(&key) {
            Ok(())
        } else {
            Err(ErrorKind::NoImage)
        };
        let Some(info) = self.expect("image_info", got, want) else {
            return;
        };
        let img = &self.model[&key];
        if info.state != img.state {
            self.fail(&format!("{key:?} is {:?}, model {:?}", info.state, img.state));
        }
        if img.state != ImageState::Writing && info.size != img.bytes.len() as u64 {
            self.fail(&format!("{key:?} size {} != {}", info.size, img.bytes.len()));
        }
        if img.state == ImageState::Complete && info.sha1 != sha1_hex(&img.bytes) {
            self.fail(&format!(
                "{key:?} SHA-1 {} != {}",
                info.sha1,
                sha1_hex(&img.bytes)
            ));
        }
        let busy = self.servers[s].image_busy(LSUS[l], &name(n));
        let busy = self.expect("image_busy", busy, Ok(())).expect("checked");
        if busy != (img.state == ImageState::Writing) {
            self.fail(&format!("{key:?} busy {busy} in state {:?}", img.state));
        }
    }

    fn info(&mut self, input: &mut Input<'_>) {
        let key = self.key(input);
        self.log.push(format!("info {key:?}"));
        self.check_info(key);
    }

    fn delete(&mut self, input: &mut Input<'_>) {
        let key = self.key(input);
        self.log.push(format!("delete {key:?}"));
        let want = match self.state(key) {
            None => Err(ErrorKind::NoImage),
            Some(ImageState::Writing) => Err(ErrorKind::Busy),
            Some(_) => Ok(()),
        };
        let got = self.servers[key.0].delete_image(LSUS[key.1], &name(key.2));
        if self.expect("delete", got, want).is_some() {
            self.model.remove(&key);
        }
    }

    fn copy_image(&mut self, input: &mut Input<'_>) {
        let (to, from) = (self.key(input), self.key(input));
        self.log.push(format!("copy_image {from:?} -> {to:?}"));
        let want = self.want_readable(from).and_then(|()| {
            if self.model.contains_key(&to) {
                Err(ErrorKind::Exists)
            } else {
                Ok(())
            }
        });
        let got = self.servers[to.0].copy_image(
            LSUS[to.1],
            &name(to.2),
            &self.servers[from.0],
            LSUS[from.1],
            &name(from.2),
        );
        if self.expect("copy_image", got, want).is_some() {
            let src = &self.model[&from];
            let (bytes, meta) = (src.bytes.clone(), src.meta.clone());
            self.generations += 1;
            let generation = self.generations;
            self.model.insert(
                to,
                Img {
                    state: ImageState::Complete,
                    bytes,
                    meta,
                    generation,
                },
            );
            self.check_info(to);
        }
    }

    fn copy_from(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.writer(input) else { return };
        let from_key = self.key(input);
        let share_only = input.one_in(3);
        let (from, len, _) = Self::io_range(input, OFF_BLOCKS / 4);
        let (to, _, _) = Self::io_range(input, OFF_BLOCKS);
        let to_key = self.writers[i].key;
        self.log.push(format!(
            "copy_from {from_key:?} {from}+{len} -> {to_key:?} at {to} share_only {share_only}"
        ));
        let got = self.servers[from_key.0].open_image(LSUS[from_key.1], &name(from_key.2));
        let Some(mut src) = self.expect("open copy source", got, self.want_readable(from_key)) else {
            return;
        };
        let src_bytes = self.model[&from_key].bytes.clone();
        let want = if [from, to, len].iter().any(|v| v % BLOCK != 0) {
            Err(ErrorKind::Align)
        } else if from + len > src_bytes.len() as u64 {
            Err(ErrorKind::Range)
        } else if share_only && from_key.0 != to_key.0 {
            Err(ErrorKind::CrossServer)
        } else {
            Ok(())
        };
        let got = self.writers[i].w.copy_from(&mut src, from, to, len, share_only);
        if self.expect("copy_from", got, want).is_some() && len > 0 {
            let piece = slice_of(&src_bytes, from as usize, len as usize);
            let img = self.model.get_mut(&to_key).expect("writer's image");
            put(&mut img.bytes, to as usize, &piece);
        }
        self.check_writer_size(i, "copy_from");
    }

    /// Metadata written or read through a writer or a reader.
    fn meta(&mut self, input: &mut Input<'_>) {
        let through_writer = input.byte() % 2 == 0;
        let which = input.below(8);
        let write = input.byte() % 2 == 0;
        let off = u64::from(input.byte() % 64) * 8;
        let len = usize::from(input.byte() % 64) * 3;
        let seed = u64::from(input.u16());
        let (key, alive, result) = if through_writer {
            let Some(wr) = self.writers.get(which % self.writers.len().max(1)) else {
                return;
            };
            let mut buf = vec![0u8; len];
            let r = if write {
                wr.w.write_meta(off, &pattern(seed, len)).map(|()| (0, buf))
            } else {
                wr.w.read_meta(off, &mut buf).map(|n| (n, buf))
            };
            (wr.key, true, r)
        } else {
            let Some(rd) = self.readers.get(which % self.readers.len().max(1)) else {
                return;
            };
            let alive = self
                .model
                .get(&rd.key)
                .is_some_and(|m| m.generation == rd.generation);
            let mut buf = vec![0u8; len];
            let r = if write {
                rd.r.write_meta(off, &pattern(seed, len)).map(|()| (0, buf))
            } else {
                rd.r.read_meta(off, &mut buf).map(|n| (n, buf))
            };
            (rd.key, alive, r)
        };
        self.log.push(format!(
            "meta {key:?} write {write} off {off} len {len} seed {seed}"
        ));
        if !alive {
            self.expect("metadata of a deleted image", result, Err(ErrorKind::NoImage));
            return;
        }
        let meta = &self.model[&key].meta;
        let want = if !write && off as usize > meta.len() {
            Err(ErrorKind::Range)
        } else {
            Ok(())
        };
        let Some((n, buf)) = self.expect("metadata", result, want) else {
            return;
        };
        if write {
            let m = &mut self.model.get_mut(&key).expect("alive").meta;
            if m.len() < off as usize {
                m.resize(off as usize, 0);
            }
            put(m, off as usize, &pattern(seed, len));
        } else {
            let expect = &meta[off as usize..meta.len().min(off as usize + len)];
            if buf[..n] != *expect {
                self.fail(&format!("metadata read {n} bytes, want {}", expect.len()));
            }
        }
    }

    fn server_op(&mut self, input: &mut Input<'_>) {
        let s = input.below(SERVERS);
        match input.byte() % 4 {
            0 => {
                self.log.push(format!("reclaim server {s}"));
                let got = self.servers[s].reclaim();
                self.expect("reclaim", got, Ok(()));
            }
            1 => {
                let (l, deferred) = (input.below(LSUS.len()), input.byte() % 2 == 0);
                self.log
                    .push(format!("server {s} LSU {l} deferred reclaim {deferred}"));
                let got = self.servers[s].set_lsu_reclaim(LSUS[l], deferred);
                self.expect("set_lsu_reclaim", got, Ok(()));
            }
            _ => self.restart(s),
        }
    }

    /// Drops every handle of server `s` (writers complete abnormally) and
    /// opens it again, which runs recovery.
    fn restart(&mut self, s: usize) {
        self.log.push(format!("restart server {s}"));
        self.readers.retain(|r| r.key.0 != s);
        let (gone, kept): (Vec<Writer>, Vec<Writer>) = std::mem::take(&mut self.writers)
            .into_iter()
            .partition(|w| w.key.0 == s);
        self.writers = kept;
        for wr in gone {
            self.model.get_mut(&wr.key).expect("writer's image").state = ImageState::Aborted;
        }
        drop(self.servers.remove(s));
        match Server::open(&self.dirs[s]) {
            Ok(server) => self.servers.insert(s, server),
            Err(e) => self.fail(&format!("reopening server {s}: {e}")),
        }
    }

    fn list(&mut self, input: &mut Input<'_>) {
        let (s, l) = (input.below(SERVERS), input.below(LSUS.len()));
        self.log.push(format!("list server {s} LSU {l}"));
        let got = self.servers[s].list_images(LSUS[l], None, 100);
        let names = self.expect("list_images", got, Ok(())).expect("checked");
        let want: Vec<ImageName> = self
            .model
            .keys()
            .filter(|k| k.0 == s && k.1 == l)
            .map(|k| name(k.2))
            .collect();
        if names != want {
            self.fail(&format!("listed {names:?}, model {want:?}"));
        }
    }

    fn finish(mut self) {
        self.log.push("finish: drop all handles".into());
        self.readers.clear();
        for wr in std::mem::take(&mut self.writers) {
            self.model.get_mut(&wr.key).expect("writer's image").state = ImageState::Aborted;
        }
        self.check_all("at the end");
        for s in 0..SERVERS {
            self.restart(s);
        }
        self.check_all("after reopening");
    }

    fn check_all(&self, when: &str) {
        for s in 0..SERVERS {
            for l in 0..LSUS.len() {
                for n in 0..NAMES {
                    self.check_info((s, l, n));
                }
            }
            for (key, img) in self.model.range((s, 0, 0)..(s + 1, 0, 0)) {
                if img.state == ImageState::Complete {
                    let got = self.servers[s].open_image(LSUS[key.1], &name(key.2));
                    let mut r = self
                        .expect("open for the final read", got, Ok(()))
                        .expect("checked");
                    let mut buf = vec![0u8; img.bytes.len().next_multiple_of(BLOCK as usize)];
                    let got = r.read(0, &mut buf);
                    let n = self.expect("final read", got, Ok(())).expect("checked");
                    if buf[..n] != img.bytes[..] {
                        self.fail(&format!("{key:?} reads back wrong {when}"));
                    }
                }
            }
            let server = &self.servers[s];
            for (l, lsu) in LSUS.iter().enumerate() {
                let info = self
                    .expect("lsu_info", server.lsu_info(lsu), Ok(()))
                    .expect("checked");
                let used: u64 = self
                    .model
                    .iter()
                    .filter(|(k, _)| k.0 == s && k.1 == l)
                    .map(|(_, i)| i.bytes.len() as u64)
                    .sum();
                if info.used != used {
                    self.fail(&format!(
                        "server {s} LSU {lsu} uses {} bytes, model {used} {when}",
                        info.used
                    ));
                }
            }
            let report = self.expect("check", server.check(), Ok(())).expect("checked");
            if report.errors() > 0 {
                self.fail(&format!("server {s} check {when}: {:?}", report.findings));
            }
            let report = server.verify(None, None, &mut |_| {});
            let report = self.expect("verify", report, Ok(())).expect("checked");
            if !report.damaged.is_empty() {
                self.fail(&format!("server {s} verify {when}: {:?}", report.damaged));
            }
        }
    }
}
