//! 1. Ingest, one stream; 2. ingest, concurrent.

use std::sync::Barrier;

use crate::common::{self, Shared, c};
use crate::contenders::{self, Source, def};
use crate::peers::{Kind, Peer};
use crate::report::{Figure, Target};
use crate::util::{best_interleaved, mb_per_s, physical_bytes};
use crate::{Ctx, roles};

fn delete(lsu: &combstore::sys::sts_lsu_t, image: &str) {
    crate::assert_rc!(
        common::api().delete_image(lsu, &def(image), 0),
        c::EOK,
        "delete {image}"
    );
}

pub fn single(ctx: &mut Ctx) {
    println!("1. ingest, one stream");
    let len = ctx.cfg.stream_len;
    let src = Source::file(&ctx.stream, 0, len);
    let lsu = ctx.srv().lsu();
    let ref_file = ctx.work.join("reference.bin");
    let reps = ctx.cfg.reps;
    let image = ctx.image.clone();
    let stream_sha1 = ctx.stream_sha1.clone();
    let best = best_interleaved(4, reps, |i, rep| match i {
        0 | 1 => {
            let (b, s, sha) = contenders::reference(&src, &ref_file, 1 << 20, i == 1);
            if i == 1 {
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
            let buf = if i == 2 { 1usize << 20 } else { 256 << 10 };
            // The first 1 MiB run's image stays, for restore and duplication.
            let name = if i == 2 && rep == 0 {
                image.clone()
            } else {
                format!("single_{buf}_{rep}")
            };
            let (b, s) = contenders::ingest(&lsu, &name, &src, buf);
            assert_eq!(b, len);
            let info = common::must_prop_byname(&lsu, &def(&name));
            assert_eq!(
                common::cstr(&info.imo_sha1),
                stream_sha1,
                "SHA-1 recorded by the plugin"
            );
            if name != image {
                delete(&lsu, &name);
            }
            (b, s)
        }
    });
    ctx.ref_a_mbs = best[0].0;
    ctx.single_mbs = best[2].0;
    ctx.single_secs = best[2].1;
    let mbs: Vec<f64> = best.iter().map(|b| b.0).collect();
    let (a, b, p1m, p256k) = (mbs[0], mbs[1], mbs[2], mbs[3]);
    ctx.add(Figure::new(
        "ingest.ref_a",
        "ingest: ref A write()+fsync",
        a,
        "MB/s",
    ));
    ctx.add(Figure::new("ingest.ref_b", "ingest: ref B = A + SHA-1", b, "MB/s").ratio(a, "ref A"));
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
    }
    ctx.note(format!(
        "ingest: best of {reps} runs each, interleaved in rotated order, sync before each; plugin = stsp_create_image + stsp_write_image + \
         stsp_close_image(COMPLETE) (durable, SHA-1 recorded and checked); the references write the same bytes \
         to a new file in 1 MiB write() calls"
    ));
    generation2(ctx);
    if ctx.cfg.peers {
        peers(ctx, p1m);
    } else {
        ctx.note("peers skipped (--no-peers or a partial run)".into());
    }
}

/// Generation 2 as a second image: throughput and the physical bytes it
/// adds (no deduplication yet: about its full size).
fn generation2(ctx: &mut Ctx) {
    let lsu = ctx.srv().lsu();
    let segs = ctx.srv().segments();
    let before = physical_bytes(&segs);
    let (b, s) = contenders::ingest(
        &lsu,
        "stream2",
        &Source::file(&ctx.gen2, 0, ctx.cfg.stream_len),
        1 << 20,
    );
    let added = physical_bytes(&segs) - before;
    ctx.add(Figure::new(
        "ingest.gen2",
        "ingest: generation 2 (5% edited), 1 MiB writes",
        mb_per_s(b, s),
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "ingest.gen2_phys",
            "ingest: generation 2 physical bytes added",
            added as f64 / 1e6,
            "MB",
        )
        .ratio(b as f64 / 1e6, "logical")
        .note("no deduplication yet: a second generation costs its full size"),
    );
    delete(&lsu, "stream2");
}

fn peers(ctx: &mut Ctx, plugin_mbs: f64) {
    for (kind, need) in [(Kind::Borg, 3.0), (Kind::Restic, 5.0)] {
        let prog = kind.program();
        let label = format!("ingest: plugin 1 MiB vs {prog}");
        let measured = Peer::set_up(kind, &ctx.work).and_then(|p| {
            let secs = p.backup(&ctx.stream)?;
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
                        .target(Target::AtLeast(need)),
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
    let len = ctx.cfg.stream_len;
    let part = len / n as u64 / (1 << 20) * (1 << 20);
    let lsu = Shared(ctx.srv().lsu());
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
    for i in 0..n {
        delete(&ctx.srv().lsu(), &format!("conc{n}_{i}"));
    }
    (part * n as u64, secs)
}

/// Reference A with `n` writer threads, each its own file.
fn ref_threads(ctx: &Ctx, n: usize) -> (u64, f64) {
    let len = ctx.cfg.stream_len;
    let part = len / n as u64 / (1 << 20) * (1 << 20);
    let gate = Barrier::new(n + 1);
    let start = std::thread::scope(|s| {
        for i in 0..n {
            let src = Source::file(&ctx.stream, i as u64 * part, part);
            let dst = ctx.work.join(format!("reference{i}.bin"));
            let gate = &gate;
            s.spawn(move || {
                gate.wait();
                contenders::reference(&src, &dst, 1 << 20, false)
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
    let len = ctx.cfg.stream_len;
    let part = len / n as u64 / (1 << 20) * (1 << 20);
    let dir = ctx.srv().dir.clone();
    let mut kids: Vec<roles::Child> = (0..n)
        .map(|i| {
            roles::Child::spawn(
                "ingest",
                &[
                    dir.display().to_string(),
                    format!("proc{n}_{i}"),
                    ctx.stream.display().to_string(),
                    (i as u64 * part).to_string(),
                    part.to_string(),
                ],
            )
        })
        .collect();
    for k in &mut kids {
        k.expect("ready");
    }
    let t = std::time::Instant::now();
    for k in &mut kids {
        k.say("go");
    }
    for k in &mut kids {
        k.expect("done");
    }
    let secs = t.elapsed().as_secs_f64();
    for k in kids {
        k.finish();
    }
    for i in 0..n {
        delete(&ctx.srv().lsu(), &format!("proc{n}_{i}"));
    }
    (part * n as u64, secs)
}

pub fn concurrent(ctx: &mut Ctx) {
    println!("2. ingest, concurrent");
    let single = ctx.single_mbs;
    let ref_single = ctx.ref_a_mbs;
    for (n, procs) in [(2, false), (4, false), (8, false), (2, true)] {
        let best = best_interleaved(2, ctx.cfg.conc_reps, |i, _| match (i, procs) {
            (0, _) => ref_threads(ctx, n),
            (_, false) => plugin_threads(ctx, n),
            (_, true) => plugin_processes(ctx, n),
        });
        let (r, p) = (best[0].0, best[1].0);
        let (what, key) = if procs {
            (format!("{n} processes"), format!("p{n}"))
        } else {
            (format!("{n} threads"), format!("t{n}"))
        };
        let label = format!("concurrent ingest: plugin, {what}");
        ctx.add(
            Figure::new(&format!("concurrent.plugin_{key}"), &label, p, "MB/s")
                .ratio(single, "plugin 1 stream")
                .target(Target::AtLeast(1.6)),
        );
        ctx.add(
            Figure::new(&format!("concurrent.plugin_{key}_vs_a"), &label, p, "MB/s")
                .ratio(r, &format!("ref A {n} writers")),
        );
        if !procs {
            ctx.add(
                Figure::new(
                    &format!("concurrent.ref_a_{n}"),
                    &format!("concurrent ingest: ref A, {n} writers"),
                    r,
                    "MB/s",
                )
                .ratio(ref_single, "ref A 1 writer"),
            );
        }
    }
    ctx.note(
        "concurrent: the stream split in n parts, each written by its own writer to its own image; threads share \
         one server handle (stsp_open_server once); processes each open their own; ref A = n threads writing \
         n files with write() + fsync; aggregate MB/s from the common start to the last close; best of \
         the runs, interleaved"
            .into(),
    );
}
