//! Crash-point injection (docs/reliability.md, "Crash-point injection").
//!
//! The plugin and `combstore` built with the cargo feature `crash-points`
//! (into `target/crashpoints`) abort at the durability step named by
//! `COMBSTORE_CRASH_AT=name:N` (src/store/crash.rs), after making every
//! byte written but not yet synced garbage, as a power failure could. For
//! every point in the source, and for its 1st, 2nd, ... hit: a prelude
//! process (the normal plugin) stores images and is SIGKILLed with a
//! writer open; a script process (the crash plugin) opens the server -
//! recovery of the prelude - and runs a fixed sequence of every kind of
//! step until it aborts at the point; then a fresh process checks the
//! servers against the journals exactly as the crash torture does
//! (torture.rs): acknowledged images intact, the rest absent or in an
//! allowed pending state, catalog and segments consistent, no space lost.

use crate::common::child::say;
use crate::common::*;
use crate::torture::{self, DEFERRED, Op, Piece, Srv, WorkerArgs};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Hits tried per point: 1, 2, ... up to this, or until the script ends
/// without reaching the point again.
const MAX_HIT: u64 = 3;

/// Every `crash::point("name")` in src/, in order of appearance.
fn points_in_source() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for (i, _) in text.match_indices("crash::point(\"") {
                    let rest = &text[i + "crash::point(\"".len()..];
                    let name = &rest[..rest.find('"').unwrap()];
                    if !out.iter().any(|n| n == name) {
                        out.push(name.to_owned());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// The directory holding the crash-points build of the plugin and of
/// `combstore`: $COMBSTORE_CRASHPOINTS_DIR, or built here into
/// target/crashpoints (cargo does nothing when it is up to date).
fn crash_build() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(d) = std::env::var_os("COMBSTORE_CRASHPOINTS_DIR") {
            return PathBuf::from(d);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = root.join("target").join("crashpoints");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let t = Instant::now();
        let st = std::process::Command::new(cargo)
            .current_dir(root)
            .args([
                "build",
                "--release",
                "--lib",
                "--bins",
                "--features",
                "crash-points",
                "--target-dir",
            ])
            .arg(&target)
            .status()
            .expect("run cargo build --features crash-points");
        assert!(st.success(), "cargo build --features crash-points: {st:?}");
        println!("crash-points build: {:.1} s", t.elapsed().as_secs_f64());
        target.join("release")
    })
}

fn args_for(a: &Path, b: &Path, j: &Path, bin: &str, cycle: u64) -> Vec<String> {
    WorkerArgs {
        server_a: a.to_owned(),
        server_b: b.to_owned(),
        journals: j.to_owned(),
        combstore_bin: bin.to_owned(),
        cycle,
        proc: 0,
        seed: 0,
    }
    .to_args()
}

fn write(seed: u64, kib: u64) -> Piece {
    Piece::Write {
        seed,
        len: kib * 1024,
        io: 256 * 1024,
    }
}

/// Role `crash_prelude` [WorkerArgs]: complete images on both LSUs, an
/// incomplete one, then a writer left open with flushed bytes and an
/// unflushed tail in its segment, on each of two server instances; READY;
/// hangs until killed.
pub fn prelude(args: &[String]) {
    let w = WorkerArgs::parse(args);
    let mut ctx = torture::contexts(&w, 1, 1).remove(0);
    for (lsu, complete) in [("default", true), (DEFERRED, true), ("default", false)] {
        ctx.run(Op::New {
            lsu: lsu.into(),
            pieces: vec![write(1, 1536), Piece::Flush, write(2, 512)],
            complete,
        });
    }
    let second = open_server(&ctx.server_a).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let mut open = Vec::new();
    for (i, sh) in [ctx.sh_a, second].into_iter().enumerate() {
        let name = ctx.new_name();
        let pieces = [
            write(10 + i as u64, 1024),
            Piece::Flush,
            write(20 + i as u64, 1536),
        ];
        let recipe = ctx.planned(&torture::Recipe::default(), &pieces);
        ctx.log("begin", (Srv::A, "default", &name), &recipe.encode());
        let ih = create(&lsu_t(sh, "default"), &image_def(&name, ""));
        ctx.fill(ih, &torture::Recipe::default(), &pieces);
        open.push(ih);
    }
    say("READY", "");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Role `crash_script` [WorkerArgs]: every kind of step in a fixed order
/// (run with COMBSTORE_CRASH_AT set, it aborts at the selected point).
pub fn script(args: &[String]) {
    // an abort must not leave a core file behind
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    let w = WorkerArgs::parse(args);
    let mut ctx = torture::contexts(&w, 1, 1).remove(0);
    let find = |ctx: &torture::Ctx, f: &dyn Fn(&torture::Item) -> bool| {
        (0..ctx.pool.len())
            .find(|&i| f(&ctx.pool[i]))
            .expect("no such image in the pool")
    };
    // written, flushed, rewritten at the start (its first chunk freed), completed
    ctx.run(Op::New {
        lsu: "default".into(),
        pieces: vec![
            write(31, 1536),
            Piece::Flush,
            write(32, 1024),
            Piece::Rewrite { len: 256 * 1024 },
        ],
        complete: true,
    });
    let first_name = ctx.pool[ctx.pool.len() - 1].name.clone();
    let first = ctx.pool.len() - 1;
    // the prelude's aborted image resumed, its incomplete one too
    let aborted = find(&ctx, &|x| x.state == torture::St::Aborted);
    ctx.run(Op::Reopen {
        item: aborted,
        pieces: vec![write(33, 300)],
        complete: true,
    });
    let incomplete = find(&ctx, &|x| x.state == torture::St::Incomplete);
    ctx.run(Op::Reopen {
        item: incomplete,
        pieces: vec![write(34, 200)],
        complete: false,
    });
    // two writers at once: the second needs a new segment
    let name = ctx.new_name();
    let pieces = [write(35, 1100)];
    let recipe = ctx.planned(&torture::Recipe::default(), &pieces);
    let it = (Srv::A, DEFERRED, name.as_str());
    ctx.log("begin", it, &recipe.encode());
    let ih = create(&lsu_t(ctx.sh_a, DEFERRED), &image_def(&name, ""));
    ctx.fill(ih, &torture::Recipe::default(), &pieces);
    ctx.run(Op::New {
        lsu: DEFERRED.into(),
        pieces: vec![write(36, 700)],
        complete: true,
    });
    ctx.finish(ih, it, &recipe, true);
    // a same-server copy, a virtual image, a cross-server copy
    ctx.run(Op::Copy {
        item: first,
        to: Srv::A,
        lsu: DEFERRED.into(),
    });
    ctx.run(Op::New {
        lsu: "default".into(),
        pieces: vec![
            Piece::Share {
                src: first,
                from: 512 * 1024,
                len: 1024 * 1024,
                include: true,
            },
            write(37, 64),
            Piece::Share {
                src: first,
                from: 0,
                len: 4096,
                include: false,
            },
        ],
        complete: true,
    });
    let virtual_image = ctx.pool.len() - 1;
    // a delete while a writer is open that stores the same bytes again:
    // the released chunks wait (dead) for the writer; its close sweeps
    let name = ctx.new_name();
    let pieces = [write(37, 64), write(38, 300)];
    let recipe = ctx.planned(&torture::Recipe::default(), &pieces);
    let it = (Srv::A, "default", name.as_str());
    ctx.log("begin", it, &recipe.encode());
    let ih = create(&lsu_t(ctx.sh_a, "default"), &image_def(&name, ""));
    ctx.fill(ih, &torture::Recipe::default(), &pieces[..1]);
    ctx.run(Op::Delete { item: virtual_image });
    ctx.fill(ih, &torture::Recipe::part(37, 64 * 1024), &pieces[1..]);
    ctx.finish(ih, it, &recipe, true);
    ctx.run(Op::Copy {
        item: first,
        to: Srv::B,
        lsu: "default".into(),
    });
    ctx.run(Op::Read { item: first });
    // deletes: immediate (punched now) and deferred (punched by reclaim)
    let copy_b = find(&ctx, &|x| x.srv == Srv::B);
    ctx.run(Op::Delete { item: copy_b });
    let deferred = find(&ctx, &|x| x.lsu == DEFERRED && x.state == torture::St::Complete);
    ctx.run(Op::Delete { item: deferred });
    ctx.run(Op::Reclaim);
    let first = find(&ctx, &|x| x.name == first_name);
    ctx.run(Op::Delete { item: first });
    let deferred = find(&ctx, &|x| x.lsu == DEFERRED);
    ctx.run(Op::Delete { item: deferred });
    ctx.run(Op::OpenServer);
    ctx.run(Op::Reclaim);
    say("SCRIPT-DONE", "");
}

/// One crash: prelude, script aborting at `point`'s `hit`th hit, check.
/// Ok(false) when the script ended without reaching that hit.
fn crash_at(point: &str, hit: u64) -> Result<bool, String> {
    let tmp = tempfile::TempDir::new().unwrap();
    let bin = torture::combstore_bin();
    let (a, b, j) = torture::setup(tmp.path(), &bin);
    let mut pre = torture::spawn_group("crash_prelude", &args_for(&a, &b, &j, &bin, 0), &[]);
    pre.expect("READY", Duration::from_secs(120));
    torture::kill_group(&mut pre);

    let dir = crash_build();
    let plugin = dir.join("libcombstore.so");
    let crash_bin = dir.join("combstore").display().to_string();
    let spec = format!("{point}:{hit}");
    let env = [
        ("COMBSTORE_PLUGIN", plugin.to_str().unwrap()),
        (combstore::store::crash::ENV, spec.as_str()),
    ];
    let mut p = torture::spawn_group("crash_script", &args_for(&a, &b, &j, &crash_bin, 1), &env);
    let st = p.wait(Duration::from_secs(300));
    let out = p.transcript();
    let reached = match st.and_then(|s| s.signal()) {
        Some(libc::SIGABRT) => {
            let want = format!("combstore: crash point {point} (hit {hit})");
            if !out.contains(&want) {
                return Err(format!("{spec}: aborted without \"{want}\":\n{out}"));
            }
            true
        }
        _ if st.is_some_and(|s| s.success()) && out.contains("@@SCRIPT-DONE@@") => false,
        _ => return Err(format!("{spec}: script ended {st:?}:\n{out}")),
    };
    match torture::run_checker(&j, &a, &b) {
        Ok(_) => Ok(reached),
        Err(e) => {
            let kept = tmp.keep();
            Err(format!("{spec} (servers kept in {}):\n  {e}", kept.display()))
        }
    }
}

#[test]
fn every_crash_point_leaves_a_recoverable_server() {
    let started = Instant::now();
    let points = points_in_source();
    assert!(
        points.len() >= 10,
        "found only {points:?} in src/: crash::point calls missing?"
    );
    crash_build();
    let mut failures = Vec::new();
    let mut crashes = 0;
    for point in &points {
        for hit in 1..=MAX_HIT {
            match crash_at(point, hit) {
                Ok(true) => crashes += 1,
                Ok(false) if hit == 1 => failures.push(format!("{point}: the script never reaches it")),
                Ok(false) => break,
                Err(e) => failures.push(e),
            }
        }
    }
    println!(
        "crash points: {} points, {crashes} crashes checked in {:.1} s",
        points.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
