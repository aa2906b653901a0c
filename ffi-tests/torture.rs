//! Crash torture (docs/reliability.md, "Crash torture").
//!
//! Worker processes (the test binary re-executed with the role
//! `torture_worker`, two threads each) load the plugin and run a seeded
//! random workload through the C entry points: create/write/close complete
//! or incomplete, reopen and append, copy_image on one server and to a
//! second one, images built with include_in_image and copy_extent, delete
//! on an immediate and a deferred-reclaim LSU, `combstore reclaim`, and
//! extra server opens (recovery running beside live writers). The parent
//! SIGKILLs them at seeded random instants; then a fresh process (role
//! `torture_check`, the engine linked directly) opens both servers, which
//! runs recovery, and checks everything against the workers' journals.
//!
//! Journal: every worker appends one line per step to its own file with one
//! `write(2)` (a SIGKILL never loses a write that returned) - an intent line
//! before a step, an acknowledgement after the plugin returned success. The
//! checker trusts only what was acknowledged; everything else may be in
//! any state the step allows (`Allowed`).
//!
//! `COMBSTORE_TORTURE_KILLS=n` sets the number of kill points (30 by
//! default; `make torture` runs 240); `COMBSTORE_TORTURE_SEED=s` reruns
//! round `s` alone. Every round prints its seed.

use crate::common::child::{ChildProc, say, spawn_role_with};
use crate::common::*;
use combstore::engine::{self as eng, ImageName, ImageState};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kill points of one round (one fresh pair of servers).
const CYCLES: u64 = 5;
/// Worker processes per kill point, and threads per worker.
const PROCS: u64 = 2;
const THREADS: u64 = 2;
/// The LSU with the deferred reclaim policy (the other is "default").
pub const DEFERRED: &str = "deferred";

// ------------------------------------------------------------------ recipes

/// Bytes `skip..skip+len` of `seeded(seed, ..)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub seed: u64,
    pub skip: u64,
    pub len: u64,
}

/// The content of an image: its parts, concatenated. Any process can
/// rebuild an image's bytes from its journaled recipe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recipe(pub Vec<Part>);

impl Recipe {
    pub fn part(seed: u64, len: u64) -> Recipe {
        Recipe(vec![Part { seed, skip: 0, len }])
    }

    pub fn len(&self) -> u64 {
        self.0.iter().map(|p| p.len).sum()
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() as usize);
        for p in &self.0 {
            let all = seeded(p.seed, (p.skip + p.len) as usize);
            out.extend_from_slice(&all[p.skip as usize..]);
        }
        out
    }

    pub fn sha1(&self) -> String {
        sha1_hex(&self.bytes())
    }

    /// Bytes `from..from+len` as a recipe.
    pub fn range(&self, from: u64, len: u64) -> Recipe {
        let (end, mut at, mut out) = (from + len, 0, Vec::new());
        for p in &self.0 {
            let (a, b) = (at.max(from), (at + p.len).min(end));
            if a < b {
                out.push(Part {
                    seed: p.seed,
                    skip: p.skip + (a - at),
                    len: b - a,
                });
            }
            at += p.len;
        }
        Recipe(out)
    }

    pub fn then(&self, more: &Recipe) -> Recipe {
        Recipe(self.0.iter().chain(&more.0).copied().collect())
    }

    pub fn encode(&self) -> String {
        if self.0.is_empty() {
            return "-".into();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| format!("{}:{}:{}", p.seed, p.skip, p.len))
            .collect();
        parts.join(",")
    }

    pub fn decode(s: &str) -> Option<Recipe> {
        if s == "-" {
            return Some(Recipe::default());
        }
        let mut parts = Vec::new();
        for p in s.split(',') {
            let mut f = p.split(':').map(|x| x.parse::<u64>().ok());
            parts.push(Part {
                seed: f.next()??,
                skip: f.next()??,
                len: f.next()??,
            });
        }
        Some(Recipe(parts))
    }
}

// ------------------------------------------------------------------ journal

/// One worker's journal: lines appended with one write(2) each.
pub struct Journal(Mutex<std::fs::File>);

impl Journal {
    pub fn create(path: &Path) -> Journal {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("journal {}: {e}", path.display()));
        Journal(Mutex::new(f))
    }

    pub fn log(&self, line: String) {
        let mut f = self.0.lock().unwrap();
        f.write_all(format!("{line}\n").as_bytes())
            .expect("journal write");
    }
}

/// The journal file of worker `proc` in cycle `cycle`.
pub fn journal_path(dir: &Path, cycle: u64, proc: u64) -> PathBuf {
    dir.join(format!("c{cycle:04}-p{proc}.journal"))
}

// ------------------------------------------------------------------ model

/// A state an image may be found in after a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allowed {
    Absent,
    Complete {
        sha1: String,
        size: u64,
    },
    Incomplete {
        size: u64,
    },
    /// Abnormally completed with `min..=max` bytes committed.
    Aborted {
        min: u64,
        max: u64,
    },
}

/// What the journals say about one image.
#[derive(Clone, Debug)]
pub struct Expect {
    pub allowed: Vec<Allowed>,
    /// Its content (a prefix of it while not complete).
    pub recipe: Recipe,
    /// The journal lines about it, for failure messages.
    pub history: Vec<String>,
}

/// (server tag "A" or "B", LSU, basename).
pub type Key = (String, String, String);

/// Every journaled image with the states it may be in.
#[derive(Debug, Default)]
pub struct Model {
    pub images: BTreeMap<Key, Expect>,
}

impl Model {
    /// Folds every journal of cycles before `before` in `dir`, in order.
    pub fn load(dir: &Path, before: u64) -> Model {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".journal") && n[1..5].parse::<u64>().is_ok_and(|c| c < before)
        });
        files.sort();
        let mut m = Model::default();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            // a line cut by the kill has no newline: it was never written whole
            for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
                m.apply(line.trim_end())
                    .unwrap_or_else(|e| panic!("{}: bad journal line {line:?}: {e}", f.display()));
            }
        }
        m
    }

    fn apply(&mut self, line: &str) -> Result<(), String> {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 4 {
            return Err("too few fields".into());
        }
        let key: Key = (f[1].into(), f[2].into(), f[3].into());
        let num = |i: usize| -> Result<u64, String> {
            f.get(i)
                .and_then(|s| s.parse().ok())
                .ok_or(format!("field {i} not a number"))
        };
        let recipe = |i: usize| {
            f.get(i)
                .and_then(|s| Recipe::decode(s))
                .ok_or(format!("field {i} not a recipe"))
        };
        let e = self.images.entry(key).or_insert_with(|| Expect {
            allowed: Vec::new(),
            recipe: Recipe::default(),
            history: Vec::new(),
        });
        e.history.push(line.to_owned());
        let closed = |kind: &str, sha1: &str, size: u64| match kind {
            "complete" => Ok(Allowed::Complete {
                sha1: sha1.to_owned(),
                size,
            }),
            "incomplete" => Ok(Allowed::Incomplete { size }),
            k => Err(format!("unknown close kind {k}")),
        };
        match f[0] {
            "begin" => {
                e.recipe = recipe(4)?;
                e.allowed = vec![
                    Allowed::Absent,
                    Allowed::Aborted {
                        min: 0,
                        max: e.recipe.len(),
                    },
                ];
            }
            "reopen" => {
                let size = num(5)?;
                let old = match f[4] {
                    "incomplete" => Allowed::Incomplete { size },
                    _ => Allowed::Aborted { min: size, max: size },
                };
                e.recipe = recipe(6)?;
                e.allowed = vec![
                    old,
                    Allowed::Aborted {
                        min: size,
                        max: e.recipe.len(),
                    },
                ];
            }
            "closing" => e.allowed.push(closed(f[4], f[5], num(6)?)?),
            "closed" => e.allowed = vec![closed(f[4], f[5], num(6)?)?],
            "copy" => {
                e.recipe = recipe(9)?;
                e.allowed = vec![
                    Allowed::Absent,
                    Allowed::Complete {
                        sha1: f[7].into(),
                        size: num(8)?,
                    },
                ];
            }
            "copied" => {
                e.allowed = vec![Allowed::Complete {
                    sha1: f[4].into(),
                    size: num(5)?,
                }]
            }
            "delete" => e.allowed.push(Allowed::Absent),
            "deleted" => e.allowed = vec![Allowed::Absent],
            v => return Err(format!("unknown verb {v}")),
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ operations

/// Which server an image is on: "A" (the one written) or "B" (the target
/// of cross-server copies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Srv {
    A,
    B,
}

impl Srv {
    fn tag(self) -> &'static str {
        match self {
            Srv::A => "A",
            Srv::B => "B",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum St {
    Complete,
    Incomplete,
    Aborted,
}

impl St {
    fn word(self) -> &'static str {
        match self {
            St::Complete => "complete",
            St::Incomplete => "incomplete",
            St::Aborted => "aborted",
        }
    }
}

/// An image a worker thread owns (only it touches the image).
#[derive(Clone, Debug)]
pub struct Item {
    pub srv: Srv,
    pub lsu: String,
    pub name: String,
    pub state: St,
    /// Its committed content.
    pub recipe: Recipe,
}

/// How a new image gets its bytes, step by step, appended in order.
#[derive(Clone, Debug)]
pub enum Piece {
    /// Written with stsp_write_image in calls of at most `io` bytes.
    Write { seed: u64, len: u64, io: u64 },
    /// include_in_image (or copy_extent) of `len` bytes at `from` of pool item `src`.
    Share {
        src: usize,
        from: u64,
        len: u64,
        include: bool,
    },
    /// stsp_flush.
    Flush,
    /// Rewrite the image's first `len` bytes with the same bytes (new
    /// chunks replace the old ones, which are freed).
    Rewrite { len: u64 },
}

/// One step of a workload.
#[derive(Clone, Debug)]
pub enum Op {
    New {
        lsu: String,
        pieces: Vec<Piece>,
        complete: bool,
    },
    Reopen {
        item: usize,
        pieces: Vec<Piece>,
        complete: bool,
    },
    Copy {
        item: usize,
        to: Srv,
        lsu: String,
    },
    Delete {
        item: usize,
    },
    Read {
        item: usize,
    },
    Reclaim,
    OpenServer,
}

/// A worker thread's context: open handles, journal, its images.
pub struct Ctx {
    pub sh_a: sys::sts_server_handle_t,
    pub sh_b: sys::sts_server_handle_t,
    pub th_b: sys::sts_server_handle_t,
    pub server_a: String,
    pub dir_a: String,
    pub combstore_bin: String,
    pub journal: Arc<Journal>,
    pub prefix: String,
    pub next: u64,
    pub pool: Vec<Item>,
}

fn ok(rc: i32, what: impl std::fmt::Display) {
    assert!(rc == c::EOK, "{what}: {}", code_name(rc));
}

impl Ctx {
    fn sh(&self, srv: Srv) -> sys::sts_server_handle_t {
        match srv {
            Srv::A => self.sh_a,
            Srv::B => self.sh_b,
        }
    }

    pub fn log(&self, verb: &str, it: (Srv, &str, &str), rest: &str) {
        self.journal.log(
            format!("{verb} {} {} {} {rest}", it.0.tag(), it.1, it.2)
                .trim_end()
                .to_owned(),
        );
    }

    pub fn new_name(&mut self) -> String {
        self.next += 1;
        format!("{}n{}", self.prefix, self.next)
    }

    /// The content `pieces` append to `base`.
    pub fn planned(&self, base: &Recipe, pieces: &[Piece]) -> Recipe {
        let mut r = base.clone();
        for p in pieces {
            r = match *p {
                Piece::Write { seed, len, .. } => r.then(&Recipe::part(seed, len)),
                Piece::Share { src, from, len, .. } => r.then(&self.pool[src].recipe.range(from, len)),
                Piece::Flush | Piece::Rewrite { .. } => r,
            };
        }
        r
    }

    /// Runs `pieces` on writer `ih` whose image holds `base` so far.
    pub fn fill(&self, ih: sys::sts_image_handle_t, base: &Recipe, pieces: &[Piece]) {
        let mut at = base.len();
        for p in pieces {
            match *p {
                Piece::Write { seed, len, io } => {
                    let data = seeded(seed, len as usize);
                    for (i, chunk) in data.chunks(io as usize).enumerate() {
                        ok(
                            write_at(ih, chunk, at + i as u64 * io),
                            format_args!("write at {at}"),
                        );
                    }
                    at += len;
                }
                Piece::Share {
                    src,
                    from,
                    len,
                    include,
                } => {
                    let s = &self.pool[src];
                    let rh = open(&lsu_t(self.sh(s.srv), &s.lsu), &image_def(&s.name, ""), c::O_READ);
                    let mut n = u64::MAX;
                    let rc = if include {
                        api().include_in_image(rh, ih, from, at, len, 0, &mut n)
                    } else {
                        api().copy_extent(rh, ih, from, at, len, 0, &mut n)
                    };
                    ok(rc, format_args!("share {len} bytes of {} at {from}", s.name));
                    assert_eq!(n, len, "bytes shared");
                    close(rh, 0);
                    at += len;
                }
                Piece::Flush => ok(api().flush(ih), "flush"),
                Piece::Rewrite { len } => {
                    let bytes = base.then(&self.planned(&Recipe::default(), pieces)).bytes();
                    let len = len.min(at);
                    ok(write_at(ih, &bytes[..len as usize], 0), "rewrite");
                }
            }
        }
    }

    /// Closes writer `ih` of `it` (content `recipe`), journaled.
    pub fn finish(
        &self,
        ih: sys::sts_image_handle_t,
        it: (Srv, &str, &str),
        recipe: &Recipe,
        complete: bool,
    ) {
        let (kind, flags) = if complete {
            ("complete", c::CLOSE_COMPLETE)
        } else {
            ("incomplete", c::CLOSE_INCOMPLETE)
        };
        let tail = format!("{kind} {} {}", recipe.sha1(), recipe.len());
        self.log("closing", it, &tail);
        ok(
            api().close_image(ih, flags),
            format_args!("close {kind} {}", it.2),
        );
        self.log("closed", it, &tail);
    }

    pub fn run(&mut self, op: Op) {
        match op {
            Op::New {
                lsu,
                pieces,
                complete,
            } => {
                let name = self.new_name();
                let recipe = self.planned(&Recipe::default(), &pieces);
                let it = (Srv::A, lsu.as_str(), name.as_str());
                self.log("begin", it, &recipe.encode());
                let ih = create(&lsu_t(self.sh_a, &lsu), &image_def(&name, ""));
                self.fill(ih, &Recipe::default(), &pieces);
                self.finish(ih, it, &recipe, complete);
                let state = if complete { St::Complete } else { St::Incomplete };
                self.pool.push(Item {
                    srv: Srv::A,
                    lsu,
                    name,
                    state,
                    recipe,
                });
            }
            Op::Reopen {
                item,
                pieces,
                complete,
            } => {
                let old = self.pool[item].clone();
                let recipe = self.planned(&old.recipe, &pieces);
                let it = (old.srv, old.lsu.as_str(), old.name.as_str());
                let rest = format!("{} {} {}", old.state.word(), old.recipe.len(), recipe.encode());
                self.log("reopen", it, &rest);
                let ih = open(
                    &lsu_t(self.sh(old.srv), &old.lsu),
                    &image_def(&old.name, ""),
                    c::O_WRITE,
                );
                self.fill(ih, &old.recipe, &pieces);
                self.finish(ih, it, &recipe, complete);
                let p = &mut self.pool[item];
                p.recipe = recipe;
                p.state = if complete { St::Complete } else { St::Incomplete };
            }
            Op::Copy { item, to, lsu } => {
                let src = self.pool[item].clone();
                let name = self.new_name();
                let it = (to, lsu.as_str(), name.as_str());
                let (sha1, size) = (src.recipe.sha1(), src.recipe.len());
                let rest = format!(
                    "{} {} {} {sha1} {size} {}",
                    src.srv.tag(),
                    src.lsu,
                    src.name,
                    src.recipe.encode()
                );
                self.log("copy", it, &rest);
                let target = if to == Srv::B { self.th_b } else { self.sh_a };
                let rc = api().copy_image(
                    &lsu_t(target, &lsu),
                    &image_def(&name, ""),
                    &lsu_t(self.sh(src.srv), &src.lsu),
                    &image_def(&src.name, ""),
                    0,
                );
                ok(rc, format_args!("copy_image {} -> {name}", src.name));
                self.log("copied", it, &format!("{sha1} {size}"));
                self.pool.push(Item {
                    srv: to,
                    lsu,
                    name,
                    state: St::Complete,
                    recipe: src.recipe,
                });
            }
            Op::Delete { item } => {
                let x = self.pool.remove(item);
                let it = (x.srv, x.lsu.as_str(), x.name.as_str());
                self.log("delete", it, "");
                let rc = api().delete_image(&lsu_t(self.sh(x.srv), &x.lsu), &image_def(&x.name, ""), 0);
                ok(rc, format_args!("delete {}", x.name));
                self.log("deleted", it, "");
            }
            Op::Read { item } => {
                let x = &self.pool[item];
                let got = read_image(&lsu_t(self.sh(x.srv), &x.lsu), &image_def(&x.name, ""));
                assert!(
                    sha1_hex(&got) == x.recipe.sha1(),
                    "{} reads back wrong bytes",
                    x.name
                );
            }
            Op::Reclaim => {
                let st = Command::new(&self.combstore_bin)
                    .args(["-s", &self.dir_a, "reclaim"])
                    .output()
                    .expect("run combstore reclaim");
                if st.status.signal() == Some(libc::SIGABRT) {
                    // a crash point in the reclaim process (crashpoints.rs): crash as it did
                    eprintln!("{}", String::from_utf8_lossy(&st.stderr));
                    std::process::abort();
                }
                assert!(st.status.success(), "combstore reclaim: {st:?}");
            }
            Op::OpenServer => {
                let sh =
                    open_server(&self.server_a).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
                ok(api().close_server(sh), "close_server");
            }
        }
    }
}

/// A random workload step for a thread owning `pool`.
fn random_op(rng: &mut Rng, pool: &[Item]) -> Op {
    let lsu = |rng: &mut Rng| if rng.below(5) < 3 { "default" } else { DEFERRED }.to_owned();
    let pick = |rng: &mut Rng, f: &dyn Fn(&Item) -> bool| -> Option<usize> {
        let c: Vec<usize> = (0..pool.len()).filter(|&i| f(&pool[i])).collect();
        (!c.is_empty()).then(|| c[rng.below(c.len() as u64) as usize])
    };
    let complete_a = |x: &Item| x.state == St::Complete && x.srv == Srv::A;
    let roll = if pool.len() > 10 { 70 } else { rng.below(100) };
    let op = match roll {
        0..=9 => pick(rng, &|x| x.state != St::Complete).map(|item| Op::Reopen {
            item,
            pieces: random_pieces(rng, pool, false),
            complete: rng.below(4) > 0,
        }),
        10..=19 => pick(rng, &complete_a).map(|item| Op::Copy {
            item,
            to: Srv::A,
            lsu: lsu(rng),
        }),
        20..=24 => pick(rng, &complete_a).map(|item| Op::Copy {
            item,
            to: Srv::B,
            lsu: "default".into(),
        }),
        25..=34 if pool.iter().any(complete_a) => Some(Op::New {
            lsu: lsu(rng),
            pieces: random_pieces(rng, pool, true),
            complete: rng.below(4) > 0,
        }),
        70..=84 => pick(rng, &|_| true).map(|item| Op::Delete { item }),
        85..=91 => pick(rng, &|x| x.state == St::Complete).map(|item| Op::Read { item }),
        92..=95 => Some(Op::OpenServer),
        96..=99 => Some(Op::Reclaim),
        _ => None,
    };
    op.unwrap_or_else(|| Op::New {
        lsu: lsu(rng),
        pieces: random_pieces(rng, pool, false),
        complete: rng.below(4) > 0,
    })
}

fn random_pieces(rng: &mut Rng, pool: &[Item], share: bool) -> Vec<Piece> {
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let sources: Vec<usize> = (0..pool.len())
            .filter(|&i| pool[i].state == St::Complete && pool[i].srv == Srv::A)
            .collect();
        if share && !sources.is_empty() && rng.below(3) > 0 {
            let src = sources[rng.below(sources.len() as u64) as usize];
            let blocks = pool[src].recipe.len() / 512;
            let from = rng.below(blocks) * 512;
            let len = (1 + rng.below(blocks - from / 512)) * 512;
            out.push(Piece::Share {
                src,
                from,
                len,
                include: rng.below(2) == 0,
            });
        } else {
            out.push(Piece::Write {
                // Half the writes draw from six seeds: images of every
                // worker and process share chunks (deduplication), and a
                // delete may release a chunk another writer just found.
                seed: if rng.below(2) == 0 {
                    rng.below(6)
                } else {
                    rng.next()
                },
                len: (1 + rng.below(2048)) * 512,
                io: (1 + rng.below(2048)) * 512,
            });
        }
        match rng.below(10) {
            0 | 1 => out.push(Piece::Flush),
            2 => out.push(Piece::Rewrite {
                len: (1 + rng.below(1024)) * 512,
            }),
            _ => {}
        }
    }
    out
}

// ------------------------------------------------------------------ roles

/// Worker arguments, as passed on the command line of the child.
pub struct WorkerArgs {
    pub server_a: PathBuf,
    pub server_b: PathBuf,
    pub journals: PathBuf,
    pub combstore_bin: String,
    pub cycle: u64,
    pub proc: u64,
    pub seed: u64,
}

impl WorkerArgs {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            self.server_a.display().to_string(),
            self.server_b.display().to_string(),
            self.journals.display().to_string(),
            self.combstore_bin.clone(),
            self.cycle.to_string(),
            self.proc.to_string(),
            self.seed.to_string(),
        ]
    }

    pub fn parse(a: &[String]) -> WorkerArgs {
        WorkerArgs {
            server_a: a[0].clone().into(),
            server_b: a[1].clone().into(),
            journals: a[2].clone().into(),
            combstore_bin: a[3].clone(),
            cycle: a[4].parse().unwrap(),
            proc: a[5].parse().unwrap(),
            seed: a[6].parse().unwrap(),
        }
    }
}

/// Opens both servers and gives each of `threads` threads its context,
/// with the images of earlier cycles it owns (by a hash of the name).
pub fn contexts(w: &WorkerArgs, procs: u64, threads: u64) -> Vec<Ctx> {
    let name_a = server_name_for(&w.server_a);
    let name_b = server_name_for(&w.server_b);
    let sh_a = open_server(&name_a).unwrap_or_else(|rc| panic!("open_server A: {}", code_name(rc)));
    let sh_b = open_server(&name_b).unwrap_or_else(|rc| panic!("open_server B: {}", code_name(rc)));
    let th_b = open_target_server(sh_a, &name_b)
        .unwrap_or_else(|rc| panic!("open_target_server: {}", code_name(rc)));
    let journal = Arc::new(Journal::create(&journal_path(&w.journals, w.cycle, w.proc)));
    let mut ctxs: Vec<Ctx> = (0..threads)
        .map(|t| Ctx {
            sh_a,
            sh_b,
            th_b,
            server_a: name_a.clone(),
            dir_a: w.server_a.display().to_string(),
            combstore_bin: w.combstore_bin.clone(),
            journal: journal.clone(),
            prefix: format!("c{}p{}t{t}", w.cycle, w.proc),
            next: 0,
            pool: Vec::new(),
        })
        .collect();
    let slots = procs * threads;
    for ((srv, lsu, name), e) in Model::load(&w.journals, w.cycle).images {
        let slot = fnv1a(&name) % slots;
        if slot / threads != w.proc {
            continue;
        }
        let srv = if srv == "A" { Srv::A } else { Srv::B };
        let ctx = &mut ctxs[(slot % threads) as usize];
        let Ok(info) = prop_byname(&lsu_t(ctx.sh(srv), &lsu), &image_def(&name, "")) else {
            continue; // absent
        };
        let f = info.imo_flags;
        let state = if f & c::II_COMPLETE != 0 {
            St::Complete
        } else if f & c::II_PENDING == 0 || f & c::II_BUSY_WRITE != 0 {
            continue; // broken (the checker has failed the run already)
        } else if f & c::II_ABNORMAL != 0 {
            St::Aborted
        } else {
            St::Incomplete
        };
        ctx.pool.push(Item {
            srv,
            lsu,
            name,
            state,
            recipe: e.recipe.range(0, info.imo_size),
        });
    }
    ctxs
}

/// Role `torture_worker` [WorkerArgs]: runs random steps on THREADS
/// threads until killed; any failed call prints FAIL and exits 3.
pub fn worker(args: &[String]) {
    let w = WorkerArgs::parse(args);
    let ctxs = contexts(&w, PROCS, THREADS);
    say("STARTED", "");
    let threads: Vec<_> = ctxs
        .into_iter()
        .enumerate()
        .map(|(t, mut ctx)| {
            let mut rng = Rng(w.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9));
            std::thread::spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    loop {
                        let op = random_op(&mut rng, &ctx.pool);
                        ctx.run(op);
                    }
                }));
                let Err(e) = r;
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                say("FAIL", &msg);
                std::process::exit(3);
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

unsafe impl Send for Ctx {}

/// Role `torture_check` [journals, server A, server B]: opens both servers
/// with the engine (recovery runs) and checks them against the journals.
/// Reports CHECKED <summary> or FAIL <problems>.
pub fn checker(args: &[String]) {
    let journals = PathBuf::from(&args[0]);
    let model = Model::load(&journals, u64::MAX);
    let mut problems = Vec::new();
    let mut summary = Vec::new();
    for (tag, dir) in [("A", &args[1]), ("B", &args[2])] {
        match check_server(tag, Path::new(dir), &model) {
            Ok(s) => summary.push(s),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        say("CHECKED", &summary.join("; "));
    } else {
        say("FAIL", &problems.join(" | "));
    }
}

/// Filesystem metadata st_blocks may count beyond the data blocks (ext4
/// extent-tree blocks): one block per file plus one per 128 chunks.
fn metadata_slack(s: &eng::audit::Space) -> u64 {
    4096 * (s.files + s.chunks / 128 + 1)
}

fn check_server(tag: &str, dir: &Path, model: &Model) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let srv = eng::Server::open(dir).map_err(|e| vec![format!("{tag}: open: {e}")])?;
    let mut found = BTreeMap::new();
    let lsus = srv.lsu_names().map_err(|e| vec![e.to_string()])?;
    for lsu in &lsus {
        let mut after: Option<ImageName> = None;
        loop {
            let page = srv
                .list_images(lsu, after.as_ref(), 500)
                .map_err(|e| vec![e.to_string()])?;
            for n in &page {
                let info = srv.image_info(lsu, n).map_err(|e| vec![e.to_string()])?;
                found.insert((tag.to_owned(), lsu.clone(), n.basename.clone()), info);
            }
            if page.len() < 500 {
                break;
            }
            after = page.last().cloned();
        }
    }
    let mut counts = BTreeMap::new();
    for (key, info) in &found {
        *counts.entry(format!("{:?}", info.state)).or_insert(0) += 1;
        let Some(e) = model.images.get(key) else {
            problems.push(format!(
                "{key:?} exists ({:?}) but no journal names it",
                info.state
            ));
            continue;
        };
        let fits = e.allowed.iter().any(|a| match a {
            Allowed::Absent => false,
            Allowed::Complete { sha1, size } => {
                info.state == ImageState::Complete && info.sha1 == *sha1 && info.size == *size
            }
            Allowed::Incomplete { size } => info.state == ImageState::Incomplete && info.size == *size,
            Allowed::Aborted { min, max } => {
                info.state == ImageState::Aborted && (*min..=*max).contains(&info.size)
            }
        });
        if !fits {
            problems.push(format!(
                "{key:?} is {:?} with {} bytes, sha1 {:?}; allowed {:?}; journal: {:?}",
                info.state, info.size, info.sha1, e.allowed, e.history
            ));
        }
    }
    for (key, e) in model.images.iter().filter(|(k, _)| k.0 == tag) {
        if !found.contains_key(key) && !e.allowed.contains(&Allowed::Absent) {
            problems.push(format!(
                "{key:?} is missing; allowed {:?}; journal: {:?}",
                e.allowed, e.history
            ));
        }
    }
    // every stored byte re-read: chunk checksums, and each complete image's
    // bytes against its recorded SHA-1 (matched with the journal's above)
    match srv.verify(None, None, &mut |_| {}) {
        Ok(v) => problems.extend(
            v.damaged
                .iter()
                .map(|d| format!("{tag}: damaged {}/{}: {}", d.lsu, d.name, d.reason)),
        ),
        Err(e) => problems.push(format!("{tag}: verify: {e}")),
    }
    // catalog vs itself and the segments (SQLite integrity check included)
    let findings = |srv: &eng::Server, allow_queued: bool, problems: &mut Vec<String>| match srv.check() {
        Ok(r) => {
            for f in r.findings.iter().filter(|f| f.severity != eng::Severity::Info) {
                if !(allow_queued && f.check == "freed ranges not yet punched") {
                    problems.push(format!(
                        "{tag}: check: {:?} {}: {}",
                        f.severity, f.check, f.detail
                    ));
                }
            }
        }
        Err(e) => problems.push(format!("{tag}: check: {e}")),
    };
    findings(&srv, true, &mut problems);
    let space = |srv: &eng::Server, problems: &mut Vec<String>| -> eng::audit::Space {
        let s = srv.space().unwrap_or_else(|e| panic!("{tag}: space: {e}"));
        let floor = s.headers + s.accounted;
        // Packed chunks: a block holding the end of a live chunk stays
        // allocated when its other bytes are freed.
        let ceiling = s.headers + s.occupied + s.queued + metadata_slack(&s);
        if s.tails != 0 {
            problems.push(format!(
                "{tag}: {} bytes past committed ends after recovery: {s:?}",
                s.tails
            ));
        }
        if s.allocated < floor || s.allocated > ceiling {
            problems.push(format!(
                "{tag}: segment files allocate {} bytes; want {floor}..={} ({s:?})",
                s.allocated, ceiling
            ));
        }
        s
    };
    let before = space(&srv, &mut problems);
    // reclaim punches the deferred LSU's queue: then nothing is left over
    if let Err(e) = srv.reclaim() {
        problems.push(format!("{tag}: reclaim: {e}"));
    }
    let after = space(&srv, &mut problems);
    if after.queued != 0 {
        problems.push(format!(
            "{tag}: {} bytes still queued after reclaim",
            after.queued
        ));
    }
    findings(&srv, false, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(format!(
        "{tag}: {counts:?}, allocated {} (queued {}) -> {} = headers {} + chunks {} + {}",
        before.allocated,
        before.queued,
        after.allocated,
        after.headers,
        after.accounted,
        after.allocated - after.headers - after.accounted
    ))
}

// ------------------------------------------------------------------ parent

/// The `combstore` binary of this build.
pub fn combstore_bin() -> String {
    env!("CARGO_BIN_EXE_combstore").to_owned()
}

/// Runs `combstore args`, asserting success.
pub fn combstore(bin: &str, args: &[&str]) {
    let out = Command::new(bin).args(args).output().expect("run combstore");
    assert!(out.status.success(), "combstore {args:?}: {out:?}");
}

/// Two fresh servers (A with LSUs default and deferred, B) and a journal
/// directory under `root`.
pub fn setup(root: &Path, bin: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (a, b, j) = (root.join("a"), root.join("b"), root.join("journal"));
    std::fs::create_dir_all(&j).unwrap();
    combstore(bin, &["init", a.to_str().unwrap()]);
    combstore(
        bin,
        &[
            "-s",
            a.to_str().unwrap(),
            "lsu",
            "create",
            DEFERRED,
            "--reclaim",
            "deferred",
        ],
    );
    combstore(bin, &["init", b.to_str().unwrap()]);
    (a, b, j)
}

/// Spawns a child role in a process group of its own, so that a SIGKILL
/// to the group also ends the `combstore reclaim` it may be running.
pub fn spawn_group(role: &str, args: &[String], env: &[(&str, &str)]) -> ChildProc {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn_role_with(role, &args, |cmd| {
        cmd.process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
    })
}

/// SIGKILLs child `p`'s process group; returns how it ended (killed or not).
pub fn kill_group(p: &mut ChildProc) -> std::process::ExitStatus {
    let pid = p.child.id() as i32;
    // SAFETY: kill(2) on the process group this test created for the child.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    p.wait(Duration::from_secs(60))
        .expect("killed child did not exit")
}

/// Runs the checker in a fresh process; Ok(summary) or Err(report).
pub fn run_checker(j: &Path, a: &Path, b: &Path) -> Result<String, String> {
    let args = [
        j.display().to_string(),
        a.display().to_string(),
        b.display().to_string(),
    ];
    let mut p = spawn_group("torture_check", &args, &[]);
    let st = p.wait(Duration::from_secs(600));
    let out = p.transcript();
    let line = |m: &str| {
        out.lines()
            .find_map(|l| l.split_once(&format!("@@{m}@@ ")).map(|x| x.1.to_owned()))
    };
    match (st.map(|s| s.success()), line("CHECKED"), line("FAIL")) {
        (Some(true), Some(s), None) => Ok(s),
        (_, _, Some(f)) => Err(f.replace(" | ", "\n  ")),
        _ => Err(format!("checker ended {st:?}:\n{out}")),
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng(a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

/// One round: fresh servers, `cycles` kill points. Err(report) names the
/// seed and keeps the servers for inspection.
fn round(seed: u64, cycles: u64) -> Result<(), String> {
    let tmp = tempfile::TempDir::new().unwrap();
    round_in(tmp.path(), seed, cycles).map_err(|e| {
        let kept = tmp.keep();
        format!(
            "torture seed {seed} (rerun: COMBSTORE_TORTURE_SEED={seed}; servers and journals kept in {}): {e}",
            kept.display()
        )
    })
}

fn round_in(root: &Path, seed: u64, cycles: u64) -> Result<(), String> {
    let bin = combstore_bin();
    let (a, b, j) = setup(root, &bin);
    for cycle in 0..cycles {
        let cseed = mix(seed, cycle);
        let mut rng = Rng(cseed);
        let (d0, d1) = (5 + rng.below(296), rng.below(150));
        let t0 = Instant::now();
        let mut procs: Vec<ChildProc> = (0..PROCS)
            .map(|proc| {
                let w = WorkerArgs {
                    server_a: a.clone(),
                    server_b: b.clone(),
                    journals: j.clone(),
                    combstore_bin: bin.clone(),
                    cycle,
                    proc,
                    seed: mix(cseed, proc),
                };
                spawn_group("torture_worker", &w.to_args(), &[])
            })
            .collect();
        std::thread::sleep(Duration::from_millis(d0));
        let st0 = kill_group(&mut procs[0]);
        std::thread::sleep(Duration::from_millis(d1));
        let st1 = kill_group(&mut procs[1]);
        let killed_ms = t0.elapsed().as_millis();
        for (p, st) in procs.iter().zip([st0, st1]) {
            if st.signal() != Some(libc::SIGKILL) {
                return Err(format!(
                    "cycle {cycle}: a worker ended by itself ({st:?}):\n{}",
                    p.transcript()
                ));
            }
        }
        match run_checker(&j, &a, &b) {
            Ok(s) => {
                println!("torture seed {seed} cycle {cycle}: killed at {d0}+{d1} ms ({killed_ms} ms): {s}")
            }
            Err(e) => return Err(format!("cycle {cycle}, after kills at {d0}+{d1} ms:\n  {e}")),
        }
    }
    Ok(())
}

#[test]
fn crash_torture() {
    let started = Instant::now();
    let seeds: Vec<u64> = match env_u64("COMBSTORE_TORTURE_SEED") {
        Some(s) => vec![s],
        None => {
            let kills = env_u64("COMBSTORE_TORTURE_KILLS").unwrap_or(30);
            let base = now_ms().wrapping_mul(0x2545_F491_4F6C_DD1D) >> 16;
            (0..kills.div_ceil(CYCLES)).map(|i| base + i).collect()
        }
    };
    println!(
        "torture: {} round(s) of {CYCLES} kill points, seeds {seeds:?}",
        seeds.len()
    );
    let mut failures = Vec::new();
    for &seed in &seeds {
        if let Err(e) = round(seed, CYCLES) {
            println!("{e}");
            failures.push(e);
        }
    }
    println!(
        "torture: {} kill points in {:.1} s, {} failed round(s)",
        seeds.len() as u64 * CYCLES,
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Found by the crash torture: a second server instance opened in a
/// process that already has the server open must not disturb the first
/// instance's catalog connection. (Opening and closing catalog.db with a
/// file descriptor of our own drops every POSIX lock SQLite holds on it in
/// this process; another process closing the catalog then believes it is
/// the last user, checkpoints and deletes the WAL, and every later commit
/// of the first instance goes to the deleted file: acknowledged images
/// vanish.)
#[test]
fn a_second_open_in_one_process_keeps_the_first_instances_commits() {
    let srv = Server::new();
    let bin = combstore_bin();
    let dir = srv.path.display().to_string();
    store_complete(&srv.lsu(), &image_def("before", ""), &seeded(1, 64 * 1024));
    let second = srv.another_handle();
    assert_rc!(api().close_server(second), c::EOK);
    // another process opens and closes the catalog
    combstore(&bin, &["-s", &dir, "stats"]);
    store_complete(&srv.lsu(), &image_def("after", ""), &seeded(2, 64 * 1024));
    // a fresh process must see both
    for name in ["before", "after"] {
        combstore(&bin, &["-s", &dir, "image", "show", name]);
    }
}
