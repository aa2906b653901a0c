//! 1. Ingest, one stream; 2. ingest, concurrent.

use std::sync::Barrier;

use crate::common::{self, Shared};
use crate::contenders::{self, Ref, Source, Srv, def};
use crate::peers::{Kind, Peer};
use crate::report::{Figure, Target};
use crate::util::{best_interleaved, cores, cpu_secs, human_bytes, mb_per_s};
use crate::{Ctx, roles};

pub fn single(ctx: &mut Ctx) {
    println!("1. ingest, one stream");
    let len = ctx.cfg.stream_len;
    let src = Source::file(&ctx.stream, 0, len);
    let ref_file = ctx.work.join("reference.bin");
    let run_dir = ctx.work.join("ingest-run");
    let reps = ctx.cfg.reps;
    let stream_sha1 = ctx.stream_sha1.clone();
    let refs = [Ref::A, Ref::B, Ref::A64];
    // CPU seconds per wall second of each 1 MiB plugin run (SHA-1 on the
    // writer's hashing thread included, and reading the input file)
    let mut cpus_1m: Vec<(f64, f64)> = Vec::new();
    let best = best_interleaved(5, reps, |i, rep| match i {
        0..3 => {
            let (b, s, sha) = contenders::reference(&src, &ref_file, 1 << 20, refs[i]);
            if refs[i] == Ref::B {
                assert_eq!(
                    sha.as_deref(),
                    Some(stream_sha1.as_str()),
                    "reference B hashed other bytes"
                );
            }
            std::fs::remove_file(&ref_file).expect("remove reference file");
            (b, s)
        }
        _ => {
            let buf = if i == 3 { 1usize << 20 } else { 256 << 10 };
            let name = format!("single_{buf}_{rep}");
            // Generation 1 into an empty server, every run: a server that
            // already holds the stream would deduplicate it (issue 15).
            let srv = Srv::open(&run_dir);
            let lsu = srv.lsu();
            let cpu0 = cpu_secs();
            let (b, s) = contenders::ingest(&lsu, &name, &src, buf);
            if i == 3 {
                cpus_1m.push((s, (cpu_secs() - cpu0) / s));
            }
            assert_eq!(b, len);
            let info = common::must_prop_byname(&lsu, &def(&name));
            assert_eq!(
                common::cstr(&info.imo_sha1),
                stream_sha1,
                "SHA-1 recorded by the plugin"
            );
            drop(srv);
            std::fs::remove_dir_all(&run_dir).expect("remove the ingest run's server");
            (b, s)
        }
    });
    ctx.ref_a_mbs = best[0].0;
    ctx.ref_a64_mbs = best[2].0;
    ctx.single_mbs = best[3].0;
    ctx.single_secs = best[3].1;
    ctx.single_cpus = cpus_1m
        .iter()
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map_or(0.0, |c| c.1);
    let mbs: Vec<f64> = best.iter().map(|b| b.0).collect();
    let (a, b, a64, p1m, p256k) = (mbs[0], mbs[1], mbs[2], mbs[3], mbs[4]);
    ctx.add(Figure::new(
        "ingest.ref_a",
        "ingest: ref A write()+fsync",
        a,
        "MB/s",
    ));
    ctx.add(Figure::new("ingest.ref_b", "ingest: ref B = A + SHA-1", b, "MB/s").ratio(a, "ref A"));
    ctx.add(
        Figure::new(
            "ingest.ref_a64",
            "ingest: ref A64 = A, fdatasync every 64 MiB",
            a64,
            "MB/s",
        )
        .ratio(a, "ref A"),
    );
    for (key, label, v) in [("1m", "1 MiB", p1m), ("256k", "256 KiB", p256k)] {
        ctx.add(
            Figure::new(
                &format!("ingest.plugin_{key}"),
                &format!("ingest: plugin, {label} writes"),
                v,
                "MB/s",
            )
            .ratio(b, "ref B")
            .target(Target::AtLeast(0.9)),
        );
        ctx.add(
            Figure::new(
                &format!("ingest.plugin_{key}_vs_a"),
                &format!("ingest: plugin, {label} writes"),
                v,
                "MB/s",
            )
            .ratio(a, "ref A")
            .target(Target::AtLeast(0.7)),
        );
        ctx.add(
            Figure::new(
                &format!("ingest.plugin_{key}_vs_a64"),
                &format!("ingest: plugin, {label} writes"),
                v,
                "MB/s",
            )
            .ratio(a64, "ref A64"),
        );
    }
    ctx.add(
        Figure::new(
            "ingest.plugin_1m_cpus",
            "ingest: plugin, 1 MiB writes, CPU use",
            ctx.single_cpus,
            "CPUs",
        )
        .note(
            "CPU seconds (user + system, all threads: the writer, its SHA-1 thread, reading the input file) \
             per second of the best 1 MiB run",
        ),
    );
    ctx.note(format!(
        "ingest: best of {reps} runs each, interleaved in rotated order, sync before each; plugin = stsp_create_image + stsp_write_image + \
         stsp_close_image(COMPLETE) (durable, SHA-1 recorded and checked), each run into a new, empty server \
         (generation 1: nothing stored to deduplicate against); the references write the same bytes \
         to a new file in 1 MiB write() calls; A64 is not in the issue: it syncs as often as the plugin \
         commits, which on this machine is faster than one fsync at the end"
    ));
    if ctx.cfg.peers {
        peers(ctx, p1m);
    } else {
        ctx.note("peers skipped (--no-peers or a partial run)".into());
    }
}

fn peers(ctx: &mut Ctx, plugin_mbs: f64) {
    for (kind, need) in [(Kind::Borg, 3.0), (Kind::Restic, 5.0)] {
        let prog = kind.program();
        let label = format!("ingest: plugin 1 MiB vs {prog}");
        let measured = Peer::set_up(kind, &ctx.work).and_then(|mut p| {
            let secs = p.backup(&ctx.stream, 1)?;
            p.gen1_repo = Some(p.repo_size());
            Ok((p, secs))
        });
        match measured {
            Ok((p, secs)) => {
                let mbs = mb_per_s(ctx.cfg.stream_len, secs);
                ctx.add(
                    Figure::new(
                        &format!("ingest.{prog}"),
                        &format!("ingest: {prog} (stdin)"),
                        mbs,
                        "MB/s",
                    )
                    .note(&p.note()),
                );
                ctx.add(
                    Figure::new(&format!("ingest.plugin_vs_{prog}"), &label, plugin_mbs, "MB/s")
                        .ratio(mbs, prog)
                        .target(Target::AtLeast(need))
                        .note(&format!(
                            "generation 1 into an empty server vs {prog} storing generation 1 into an empty \
                             repository (issue 8's and issue 15's generation 1 target)"
                        )),
                );
                ctx.peers.push(p);
            }
            Err(why) => {
                println!("  {prog} skipped: {why}");
                ctx.add(Figure::skipped(&format!("ingest.plugin_vs_{prog}"), &label, &why));
            }
        }
    }
}

/// Each of `n` writers ingests its 1/n of the stream (from its own offset
/// of the stream file) in 1 MiB writes; all start together. Aggregate MB/s.
fn plugin_threads(ctx: &Ctx, n: usize) -> (u64, f64) {
    let len = ctx.cfg.conc_len;
    let part = len / n as u64 / (1 << 20) * (1 << 20);
    // A new, empty server each run (a server holding the stream would
    // deduplicate it); one handle shared by the threads.
    let dir = ctx.work.join("conc-run");
    let srv = Srv::open(&dir);
    let lsu = Shared(srv.lsu());
    let gate = Barrier::new(n + 1);
    let start = std::thread::scope(|s| {
        for i in 0..n {
            let src = Source::file(&ctx.stream, i as u64 * part, part);
            let (gate, lsu) = (&gate, &lsu);
            s.spawn(move || {
                gate.wait();
                contenders::ingest(&lsu.0, &format!("conc{n}_{i}"), &src, 1 << 20)
            });
        }
        gate.wait();
        // The clock starts when every writer is released; scope joins them all.
        std::time::Instant::now()
    });
    let secs = start.elapsed().as_secs_f64();
    drop(srv);
    std::fs::remove_dir_all(&dir).expect("remove the concurrent run's server");
    (part * n as u64, secs)
}

/// Reference A with `n` writer threads, each its own file.
fn ref_threads(ctx: &Ctx, n: usize, how: Ref) -> (u64, f64) {
    let len = ctx.cfg.conc_len;
    let part = len / n as u64 / (1 << 20) * (1 << 20);
    let gate = Barrier::new(n + 1);
    let start = std::thread::scope(|s| {
        for i in 0..n {
            let src = Source::file(&ctx.stream, i as u64 * part, part);
            let dst = ctx.work.join(format!("reference{i}.bin"));
            let gate = &gate;
            s.spawn(move || {
                gate.wait();
                contenders::reference(&src, &dst, 1 << 20, how)
            });
        }
        gate.wait();
        std::time::Instant::now()
    });
    let secs = start.elapsed().as_secs_f64();
    for i in 0..n {
        std::fs::remove_file(ctx.work.join(format!("reference{i}.bin"))).expect("remove reference file");
    }
    (part * n as u64, secs)
}

/// Two processes (this binary, role "ingest"), each its own server handle
/// and image, released together.
fn plugin_processes(ctx: &Ctx, n: usize) -> (u64, f64) {
    let len = ctx.cfg.conc_len;
    let part = len / n as u64 / (1 << 20) * (1 << 20);
    // A new, empty server each run, created here before the children open it.
    let dir = ctx.work.join("conc-run");
    drop(Srv::open(&dir));
    let args: Vec<Vec<String>> = (0..n)
        .map(|i| {
            vec![
                dir.display().to_string(),
                format!("proc{n}_{i}"),
                ctx.stream.display().to_string(),
                (i as u64 * part).to_string(),
                part.to_string(),
            ]
        })
        .collect();
    let secs = roles::released_together("ingest", &args);
    std::fs::remove_dir_all(&dir).expect("remove the concurrent run's server");
    (part * n as u64, secs)
}

pub fn concurrent(ctx: &mut Ctx) {
    println!("2. ingest, concurrent");
    let single = ctx.single_mbs;
    if ctx.single_cpus > 0.0 {
        // One stream already keeps `single_cpus` busy (its hashing thread
        // overlaps its writes): n streams can gain at most cores / that.
        let ceiling = cores() as f64 / ctx.single_cpus;
        ctx.add(
            Figure::new(
                "concurrent.cpu_ceiling",
                &format!("concurrent ingest: CPU ceiling on {} cores", cores()),
                ceiling,
                "x 1 stream",
            )
            .note(
                "cores / CPU use of one stream: the most n streams could gain over one if the CPU were the only limit",
            ),
        );
    }
    for n in [2, 4, 8] {
        // References, plugin threads, and for 2 writers plugin processes.
        let k = if n == 2 { 4 } else { 3 };
        let best = best_interleaved(k, ctx.cfg.conc_reps, |i, _| match i {
            0 => ref_threads(ctx, n, Ref::A),
            1 => ref_threads(ctx, n, Ref::A64),
            2 => plugin_threads(ctx, n),
            _ => plugin_processes(ctx, n),
        });
        let (a, a64) = (best[0].0, best[1].0);
        for (i, what, key) in [(2, "threads", "t"), (3, "processes", "p")] {
            let Some(&(p, _)) = best.get(i) else { continue };
            let label = format!("concurrent ingest: plugin, {n} {what}");
            ctx.add(
                Figure::new(&format!("concurrent.plugin_{key}{n}"), &label, p, "MB/s")
                    .ratio(single, "plugin 1 stream")
                    .target(Target::AtLeast(1.6)),
            );
            for (r, name) in [(a, "ref A"), (a64, "ref A64")] {
                ctx.add(
                    Figure::new(
                        &format!("concurrent.plugin_{key}{n}_vs_{}", &name[4..]),
                        &label,
                        p,
                        "MB/s",
                    )
                    .ratio(r, &format!("{name} {n} writers")),
                );
            }
        }
        for (r, r1, name) in [(a, ctx.ref_a_mbs, "A"), (a64, ctx.ref_a64_mbs, "A64")] {
            ctx.add(
                Figure::new(
                    &format!("concurrent.ref_{name}_{n}"),
                    &format!("concurrent ingest: ref {name}, {n} writers"),
                    r,
                    "MB/s",
                )
                .ratio(r1, &format!("ref {name} 1 writer")),
            );
        }
    }
    ctx.note(format!(
        "concurrent: the first {} of the stream split in n parts, each written by its own writer to its own \
         image, in a new, empty server each run; threads share one server handle (stsp_open_server once); processes each open their own; ref A \
         (A64) = n threads writing n files with write() + fsync (every 64 MiB); 2 processes are compared with \
         the 2-writer references; aggregate MB/s from the common start to the last \
         close; best of {} runs, interleaved",
        human_bytes(ctx.cfg.conc_len),
        ctx.cfg.conc_reps
    ));
}
