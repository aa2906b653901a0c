//! 8. Deduplication and compression (issue 15): generation 1 and then
//!    generation 2 of the stream into a new, empty server, through the C
//!    entry points as every other figure: the physical bytes each adds
//!    (lsu_used_phys, and st_blocks on disk), next to whole-stream zstd -1
//!    and to borg's and restic's repository growth on the same two streams;
//!    ingest speed and CPU use of both generations; restore of the
//!    deduplicated generation 2 vs raw reads of the same bytes and vs borg.
//!
//! Until the engine deduplicates, generation 2 costs its full size and
//! physical equals logical: the figures say so, and become real when the
//! chunk store lands (the C API does not change).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::Ctx;
use crate::common;
use crate::contenders::{self, Ref, Source, Srv, def};
use crate::datagen;
use crate::peers::{Peer, RepoSize};
use crate::report::{Figure, Target};
use crate::sections::restore::{RANDOM_LEN, random_offsets};
use crate::util::{best_interleaved, cpu_secs, human_bytes, mb_per_s, physical_bytes, timed, warm};

const MB: f64 = 1e6;

/// What one plugin ingest took and added.
#[derive(Clone, Copy, Debug, Default)]
struct Ingested {
    secs: f64,
    /// CPU seconds (user + system, every thread of this process).
    cpu: f64,
    /// Change of lsu_used (logical) and lsu_used_phys of the LSU.
    used: u64,
    phys: u64,
    /// Change of st_blocks * 512 of segments/, and of segments/ plus
    /// catalog.db and its WAL (what the server holds on disk).
    segments: i64,
    store: i64,
}

impl Ingested {
    fn mbs(&self, len: u64) -> f64 {
        mb_per_s(len, self.secs)
    }

    fn cpus(&self) -> f64 {
        self.cpu / self.secs.max(1e-9)
    }

    /// Milliseconds of CPU per MB of stream.
    fn cpu_ms_per_mb(&self, len: u64) -> f64 {
        self.cpu * 1e3 / (len as f64 / MB)
    }

    fn json(&self, len: u64) -> serde_json::Value {
        json!({
            "seconds": self.secs, "mb_s": self.mbs(len), "cpu_seconds": self.cpu,
            "lsu_used_added": self.used, "lsu_used_phys_added": self.phys,
            "segments_added": self.segments, "segments_and_catalog_added": self.store,
        })
    }
}

/// st_blocks * 512 of a server's segments/ and catalog files (catalog.db,
/// -wal, -shm): what it stores, without its lock files and logs.
fn store_bytes(dir: &Path) -> u64 {
    let catalog: u64 = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("catalog.db"))
                .map(|e| physical_bytes(&e.path()))
                .sum()
        })
        .unwrap_or(0);
    physical_bytes(&dir.join("segments")) + catalog
}

/// Ingests `src` as `image` in 1 MiB writes (timed as every plugin ingest)
/// and measures what it added; checks the SHA-1 the plugin recorded.
fn ingest_measured(srv: &Srv, image: &str, src: &Source, sha1: &str) -> Ingested {
    let lsu = srv.lsu();
    let info0 = common::lsu_info(&lsu).expect("lsu info");
    let (segs0, store0) = (physical_bytes(&srv.segments()), store_bytes(&srv.dir));
    // SAFETY: sync(2) has no arguments.
    unsafe { libc::sync() };
    let cpu0 = cpu_secs();
    let (_, secs) = contenders::ingest(&lsu, image, src, 1 << 20);
    let cpu = cpu_secs() - cpu0;
    let info = common::lsu_info(&lsu).expect("lsu info");
    let recorded = common::must_prop_byname(&lsu, &def(image));
    assert_eq!(
        common::cstr(&recorded.imo_sha1),
        sha1,
        "SHA-1 the plugin recorded for {image}"
    );
    let diff = |a: u64, b: u64| a as i64 - b as i64;
    Ingested {
        secs,
        cpu,
        used: info.lsu_used.saturating_sub(info0.lsu_used),
        phys: info.lsu_used_phys.saturating_sub(info0.lsu_used_phys),
        segments: diff(physical_bytes(&srv.segments()), segs0),
        store: diff(store_bytes(&srv.dir), store0),
    }
}

/// Bytes that whole-stream zstd level 1 makes of the file, and seconds
/// (one thread, the `zstd` crate's streaming encoder).
fn zstd_level1(path: &Path) -> (u64, f64) {
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Count(0);
    let f = File::open(path).expect("open generation 1");
    let ((), secs) = timed(|| zstd::stream::copy_encode(f, &mut out, 1).expect("zstd -1"));
    (out.0, secs)
}

/// Closes the server, drops its segments and `others` from the page
/// cache, reopens it (as Ctx::cold_server does for the main server).
fn cold(ctx: &Ctx, srv: &mut Option<Srv>, dir: &Path, others: &[&Path]) {
    *srv = None;
    let mut paths = vec![dir.join("segments")];
    paths.extend(others.iter().map(|p| p.to_path_buf()));
    ctx.drop
        .drop(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    *srv = Some(Srv::open(dir));
}

pub fn run(ctx: &mut Ctx) {
    println!("8. deduplication and compression (issue 15)");
    let len = ctx.cfg.stream_len;
    let (seed, reps) = (ctx.cfg.seed, ctx.cfg.reps);
    let mb = |b: u64| b as f64 / MB;
    let logical = mb(len);

    // Generation 2 as a file too, so that every contender reads both
    // generations the same way (page-cached file, 1 MiB reads).
    let gen2 = ctx.work.join("stream-gen2.bin");
    let (gen2_sha1, gen2_secs) = timed(|| datagen::to_file(&gen2, seed, 2, len).expect("write generation 2"));

    // What compressing generation 1 whole, without deduplication, achieves.
    let (zstd_bytes, zstd_secs) = zstd_level1(&ctx.stream);
    let zstd_ratio = zstd_bytes as f64 / len as f64;

    // Plugin: generation 1 then 2 into a new, empty server, against ref
    // A64 writing generation 2 to a file; the last run's server and file
    // (written one right after the other) are kept for the restore figures.
    let dir = ctx.work.join("dedup-server");
    let raw2 = ctx.work.join("raw-gen2.bin");
    let (src1, src2) = (Source::file(&ctx.stream, 0, len), Source::file(&gen2, 0, len));
    let mut runs: Vec<(Ingested, Ingested)> = Vec::new();
    let mut a64 = 0.0f64;
    for rep in 0..reps {
        let last = rep + 1 == reps;
        for k in 0..2 {
            if (rep + k) % 2 == 0 {
                // SAFETY: sync(2) has no arguments.
                unsafe { libc::sync() };
                let (b, s, _) = contenders::reference(&src2, &raw2, 1 << 20, Ref::A64);
                a64 = a64.max(mb_per_s(b, s));
                if !last {
                    std::fs::remove_file(&raw2).expect("remove reference file");
                }
            } else {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).expect("remove dedup server");
                }
                let srv = Srv::open(&dir);
                let g1 = ingest_measured(&srv, "gen1", &src1, &ctx.stream_sha1);
                let g2 = ingest_measured(&srv, "gen2", &src2, &gen2_sha1);
                if std::env::var_os("COMBSTORE_BENCH_VERBOSE").is_some() {
                    println!(
                        "    run {rep}: gen 1 {:.0} MB/s, {} B phys; gen 2 {:.0} MB/s, {} B phys",
                        g1.mbs(len),
                        g1.phys,
                        g2.mbs(len),
                        g2.phys
                    );
                }
                runs.push((g1, g2));
            }
        }
    }
    // lsu_used stays logical (issue 15): say so where it does not.
    for (i, (a, b)) in runs.iter().enumerate() {
        if (a.used, b.used) != (len, len) {
            ctx.note(format!(
                "dedup: run {i}: lsu_used grew by {} and {} bytes for images of {len} bytes each",
                a.used, b.used
            ));
        }
    }
    // Speeds: the best run of each generation; bytes: the largest of the
    // runs (the same unless the engine's layout varies).
    let best = |f: fn(&(Ingested, Ingested)) -> Ingested| {
        runs.iter()
            .map(f)
            .min_by(|a, b| a.secs.total_cmp(&b.secs))
            .expect("runs")
    };
    let (g1, g2) = (best(|r| r.0), best(|r| r.1));
    let worst = |f: fn(&(Ingested, Ingested)) -> i64| runs.iter().map(f).max().expect("runs");
    let g1_phys = worst(|r| r.0.phys as i64) as u64;
    let g1_segs = worst(|r| r.0.segments);
    let g1_store = worst(|r| r.0.store);
    let g2_phys = worst(|r| r.1.phys as i64) as u64;
    let g2_segs = worst(|r| r.1.segments);
    let g2_store = worst(|r| r.1.store);

    // Generation 1: physical / logical against whole-stream zstd -1.
    ctx.add(
        Figure::new(
            "dedup.gen1_zstd1",
            "dedup: gen 1, whole-stream zstd -1",
            mb(zstd_bytes),
            "MB",
        )
        .ratio(logical, "logical")
        .note(&format!(
            "generation 1 compressed whole by the zstd crate at level 1 (one thread, streaming), no \
             deduplication: the bar for the plugin's generation 1; {:.0} MB/s",
            mb_per_s(len, zstd_secs)
        )),
    );
    ctx.add(
        Figure::new(
            "dedup.gen1_phys",
            "dedup: gen 1 physical, plugin lsu_used_phys",
            mb(g1_phys),
            "MB",
        )
        .ratio(logical, "logical")
        .target(Target::AtMost(zstd_ratio))
        .note(&format!(
            "generation 1 into a new, empty server: growth of the LSU's lsu_used_phys \
             (stsp_get_lsu_prop_byname); the target is whole-stream zstd -1's physical/logical; \
             physical/logical {:.4} (plugin) vs {zstd_ratio:.4} (zstd -1)",
            g1_phys as f64 / len as f64
        )),
    );
    ctx.add(
        Figure::new(
            "dedup.gen1_segments",
            "dedup: gen 1 physical, plugin segments/ on disk",
            g1_segs as f64 / MB,
            "MB",
        )
        .ratio(logical, "logical")
        .target(Target::AtMost(zstd_ratio))
        .note(&format!(
            "the same ingest: growth of st_blocks * 512 of the server's segments/ (what the disk lost, \
             whatever the catalog says), physical/logical {:.4}; with catalog.db and its WAL: {:.1} MB",
            g1_segs as f64 / len as f64,
            g1_store as f64 / MB
        )),
    );

    // Ingest speed and CPU of both generations. Ref A64 writes the same
    // amount whichever generation's bytes: the bar is the best of its runs
    // here and in the ingest section (on a shared machine one section's
    // three runs can all be slow, which would flatter the plugin).
    let a64_here = a64;
    let a64 = a64_here.max(ctx.ref_a64_mbs);
    ctx.add(
        Figure::new("dedup.ref_a64", "dedup: ref A64, best of this run", a64, "MB/s").note(&format!(
            "write() + fdatasync every 64 MiB of the stream's bytes: best of the runs here (generation 2, \
             interleaved with the plugin's: {a64_here:.0} MB/s) and of the ingest section's (generation 1: \
             {:.0} MB/s)",
            ctx.ref_a64_mbs
        )),
    );
    ctx.add(
        Figure::new(
            "dedup.gen1_ingest",
            "dedup: plugin, gen 1 ingest (empty server)",
            g1.mbs(len),
            "MB/s",
        )
        .ratio(a64, "ref A64")
        .note(
            "the targets of generation 1 against borg and restic are on ingest: plugin 1 MiB vs borg/restic",
        ),
    );
    ctx.add(
        Figure::new(
            "dedup.gen1_cpus",
            "dedup: plugin, gen 1 ingest, CPU use",
            g1.cpus(),
            "CPUs",
        )
        .note(&format!(
            "CPU seconds (user + system, all threads of the bench process, reading the input included) from \
                 stsp_create_image to stsp_close_image's return, per second of the best run; {:.2} ms of CPU per MB",
            g1.cpu_ms_per_mb(len)
        )),
    );
    ctx.add(
        Figure::new(
            "dedup.gen2_ingest",
            "dedup: plugin, gen 2 ingest (on gen 1)",
            g2.mbs(len),
            "MB/s",
        )
        .ratio(a64, "ref A64")
        .target(Target::AtLeast(0.7))
        .note(
            "generation 2 (mostly duplicate) as a second image in the server holding generation 1, \
                 read from its page-cached file; ref A64: see its own line",
        ),
    );
    ctx.add(
        Figure::new(
            "dedup.gen2_cpus",
            "dedup: plugin, gen 2 ingest, CPU use",
            g2.cpus(),
            "CPUs",
        )
        .note(&format!(
            "as for generation 1; {:.2} ms of CPU per MB",
            g2.cpu_ms_per_mb(len)
        )),
    );

    // Generation 2's growth, and the peers' on the same two streams.
    ctx.add(
        Figure::new(
            "dedup.gen2_growth",
            "dedup: gen 2 growth, plugin lsu_used_phys",
            mb(g2_phys),
            "MB",
        )
        .ratio(logical, "logical")
        .note("growth of lsu_used_phys from generation 1 to generations 1 + 2"),
    );
    ctx.add(
        Figure::new(
            "dedup.gen2_growth_disk",
            "dedup: gen 2 growth, plugin on disk",
            g2_store as f64 / MB,
            "MB",
        )
        .ratio(logical, "logical")
        .note(&format!(
            "growth of st_blocks * 512 of segments/ + catalog.db and its WAL (segments/ alone: {:.1} MB): \
             what the peers' repository growth is compared with",
            g2_segs as f64 / MB
        )),
    );
    let mut peers = std::mem::take(&mut ctx.peers);
    let mut peer_json = serde_json::Map::new();
    let mut peer_gen2: Vec<(String, f64)> = Vec::new();
    for (prog, growth_need, ingest_need) in [("borg", 0.5, Some(5.0)), ("restic", 0.6, None)] {
        let Some(p) = peers.iter_mut().find(|p| p.kind.program() == prog) else {
            let why = "peer not measured (not installed, failed, --no-peers or a partial run without ingest)";
            ctx.add(Figure::skipped(
                &format!("dedup.gen2_growth_vs_{prog}"),
                &format!("dedup: gen 2 growth, plugin vs {prog}"),
                why,
            ));
            ctx.add(Figure::skipped(
                &format!("dedup.gen2_ingest_vs_{prog}"),
                &format!("dedup: gen 2 ingest, plugin vs {prog}"),
                why,
            ));
            continue;
        };
        match peer_generation2(p, &gen2) {
            Ok((secs, base, after)) => {
                if Some(base.allocated) != p.gen1_repo.map(|r| r.allocated) {
                    ctx.note(format!(
                        "dedup: {prog}'s repository changed between storing generation 1 and generation 2 \
                         (restores only read it): {:?} then {base:?}; growth is counted from the latter",
                        p.gen1_repo
                    ));
                }
                let growth = after.allocated as i64 - base.allocated as i64;
                let apparent = after.apparent as i64 - base.apparent as i64;
                let mbs = mb_per_s(len, secs);
                peer_gen2.push((prog.to_owned(), mbs));
                ctx.add(
                    Figure::new(
                        &format!("dedup.{prog}_gen2_growth"),
                        &format!("dedup: gen 2 growth, {prog} repository"),
                        growth as f64 / MB,
                        "MB",
                    )
                    .ratio(logical, "logical")
                    .note(&format!(
                        "{}; st_blocks * 512 of the repository after generation 2 minus after generation 1 \
                         (apparent sizes, as du -sb: {:.1} MB; repository after generation 1: {:.1} MB)",
                        p.version,
                        apparent as f64 / MB,
                        base.allocated as f64 / MB
                    )),
                );
                ctx.add(
                    Figure::new(
                        &format!("dedup.gen2_growth_vs_{prog}"),
                        &format!("dedup: gen 2 growth, plugin vs {prog}"),
                        g2_store as f64 / MB,
                        "MB",
                    )
                    .ratio(growth as f64 / MB, prog)
                    .target(Target::AtMost(growth_need)),
                );
                ctx.add(Figure::new(
                    &format!("dedup.{prog}_gen2_ingest"),
                    &format!("dedup: {prog}, gen 2 ingest (stdin)"),
                    mbs,
                    "MB/s",
                ));
                let f = Figure::new(
                    &format!("dedup.gen2_ingest_vs_{prog}"),
                    &format!("dedup: gen 2 ingest, plugin vs {prog}"),
                    g2.mbs(len),
                    "MB/s",
                )
                .ratio(mbs, &format!("{prog} gen 2"));
                ctx.add(match ingest_need {
                    Some(n) => f.target(Target::AtLeast(n)),
                    None => f,
                });
                peer_json.insert(
                    prog.into(),
                    json!({
                        "version": p.version,
                        "gen1_repo_allocated": base.allocated, "gen1_repo_apparent": base.apparent,
                        "gen2_repo_allocated": after.allocated, "gen2_repo_apparent": after.apparent,
                        "gen2_backup_seconds": secs,
                    }),
                );
            }
            Err(why) => {
                println!("  {prog} generation 2 skipped: {why}");
                ctx.add(Figure::skipped(
                    &format!("dedup.gen2_growth_vs_{prog}"),
                    &format!("dedup: gen 2 growth, plugin vs {prog}"),
                    &why,
                ));
                ctx.add(Figure::skipped(
                    &format!("dedup.gen2_ingest_vs_{prog}"),
                    &format!("dedup: gen 2 ingest, plugin vs {prog}"),
                    &why,
                ));
            }
        }
    }

    // Restore of the deduplicated generation 2 (the last run's server),
    // against the raw copy of the same bytes written in the same run.
    let mut srv = Some(Srv::open(&dir));
    let lsu = || srv.as_ref().expect("dedup server").lsu();
    assert_eq!(
        contenders::image_sha1(&lsu(), "gen2"),
        gen2_sha1,
        "generation 2 read back differs from the stream"
    );
    let best = best_interleaved(2, reps, |i, _| {
        cold(ctx, &mut srv, &dir, &[&raw2]);
        if i == 0 {
            contenders::raw_read(&raw2, 1 << 20)
        } else {
            let lsu = srv.as_ref().expect("dedup server").lsu();
            let (b, s) = contenders::restore(&lsu, "gen2", 1 << 20, |_| ());
            assert_eq!(b, len, "restored length");
            (b, s)
        }
    });
    let (raw_seq, plugin_seq) = (best[0].0, best[1].0);
    let offsets = random_offsets(seed, len, ctx.cfg.random_reads);
    let bytes = (offsets.len() * RANDOM_LEN) as u64;
    let best = best_interleaved(2, reps, |i, _| {
        cold(ctx, &mut srv, &dir, &[&raw2]);
        let secs = if i == 0 {
            contenders::raw_random(&raw2, &offsets, RANDOM_LEN)
        } else {
            let lsu = srv.as_ref().expect("dedup server").lsu();
            contenders::restore_random(&lsu, "gen2", &offsets, RANDOM_LEN)
        };
        (bytes, secs)
    });
    let (raw_rand, plugin_rand) = (best[0].0, best[1].0);
    ctx.add(Figure::new(
        "dedup.restore_raw_seq",
        "dedup: gen 2 raw file, sequential 1 MiB read()",
        raw_seq,
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "dedup.restore_seq",
            "dedup: gen 2 restore, plugin, sequential 1 MiB",
            plugin_seq,
            "MB/s",
        )
        .ratio(raw_seq, "raw")
        .target(Target::AtLeast(0.8)),
    );
    ctx.add(Figure::new(
        "dedup.restore_raw_random",
        "dedup: gen 2 raw file, random 64 KiB pread()",
        raw_rand,
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "dedup.restore_random",
            "dedup: gen 2 restore, plugin, random 64 KiB",
            plugin_rand,
            "MB/s",
        )
        .ratio(raw_rand, "raw")
        .target(Target::AtLeast(0.6)),
    );
    for p in &peers {
        let prog = p.kind.program();
        if !peer_json.contains_key(prog) {
            continue; // generation 2 not stored
        }
        ctx.cold(&[&p.repo]);
        let what = if prog == "borg" {
            "extract --stdout"
        } else {
            "dump"
        };
        match p.restore(2) {
            Ok((b, s)) if b == len => {
                let mbs = mb_per_s(b, s);
                ctx.add(Figure::new(
                    &format!("dedup.{prog}_restore"),
                    &format!("dedup: gen 2 restore, {prog} ({what})"),
                    mbs,
                    "MB/s",
                ));
                let f = Figure::new(
                    &format!("dedup.restore_vs_{prog}"),
                    &format!("dedup: gen 2 restore, plugin vs {prog}"),
                    plugin_seq,
                    "MB/s",
                )
                .ratio(mbs, prog);
                ctx.add(if prog == "borg" {
                    f.target(Target::AtLeast(5.0))
                } else {
                    f
                });
            }
            Ok((b, _)) => ctx.add(Figure::skipped(
                &format!("dedup.{prog}_restore"),
                &format!("dedup: gen 2 restore, {prog}"),
                &format!("restored {b} bytes, not {len}"),
            )),
            Err(why) => ctx.add(Figure::skipped(
                &format!("dedup.{prog}_restore"),
                &format!("dedup: gen 2 restore, {prog}"),
                &why,
            )),
        }
    }
    ctx.peers = peers;

    // The index at 10 million chunks (about 200 GB of unique data at the
    // mean chunk size): prefilled by the engine directly, then generation
    // 1 and the mostly-duplicate generation 2 through the C entry points.
    let big = ctx.work.join("dedup-10m");
    if big.exists() {
        std::fs::remove_dir_all(&big).expect("remove 10m server");
    }
    let n_index: u64 = 10_000_000;
    drop(Srv::open(&big));
    let r = crate::roles::run_child(
        "prefill-chunks",
        &[big.display().to_string(), n_index.to_string()],
        "prefilled",
    );
    let prefill_secs: f64 = r[0].parse().expect("prefill seconds");
    // The restore figures above dropped the page cache: the inputs must be
    // read from memory again, as in the empty-index runs (otherwise this
    // measures the disk reading them).
    warm(&ctx.stream);
    warm(&gen2);
    let (b1, b2) = {
        let srv = Srv::open(&big);
        let b1 = ingest_measured(&srv, "gen1", &src1, &ctx.stream_sha1);
        let b2 = ingest_measured(&srv, "gen2", &src2, &gen2_sha1);
        (b1, b2)
    };
    ctx.add(
        Figure::new(
            "dedup.prefill_10m_chunks",
            "dedup: prefill 10 million index rows (engine direct)",
            prefill_secs,
            "s",
        )
        .note(&format!(
            "dedup: {n_index} chunk rows with random fingerprints recorded by Server::prefill_chunk_index \
             (the engine's Rust API, not the C entry points: sorted batches of 2^20 rows); generation 1 \
             and 2 (their files read into the page cache again first) then written through stsp_* into \
             that server"
        )),
    );
    ctx.add(
        Figure::new(
            "dedup.gen1_ingest_10m",
            "dedup: gen 1 ingest, 10 million chunks indexed",
            b1.mbs(len),
            "MB/s",
        )
        .ratio(g1.mbs(len), "empty index"),
    );
    ctx.add(
        Figure::new(
            "dedup.ingest_10m_chunks",
            "dedup: gen 2 ingest, 10 million chunks indexed",
            b2.mbs(len),
            "MB/s",
        )
        .ratio(g2.mbs(len), "empty index")
        .target(Target::AtLeast(0.8)),
    );
    if let Ok(meta) = std::fs::metadata(big.join("catalog.db")) {
        ctx.note(format!(
            "dedup: catalog.db at 10 million chunks: {} ({} bytes)",
            human_bytes(meta.len()),
            meta.len()
        ));
    }
    std::fs::remove_dir_all(&big).ok();
    ctx.note(format!(
        "dedup: generation 2 written to a file too ({:.1} s, untimed), read like generation 1 by every \
         contender; {reps} runs, each a new, empty server given generation 1 then generation 2 as two \
         images (1 MiB stsp_write_image calls, sync before each), alternating with ref A64 writing \
         generation 2; speeds are the best run's, bytes the largest run's; borg and restic store \
         generation 2 (stdin) into the repositories holding their generation 1 from the ingest figures; \
         restore: the last run's server and ref A64 file, cold-ish as the restore figures, {} random reads \
         at the same offsets; generation 2 read back checked against its SHA-1 (untimed)",
        gen2_secs,
        offsets.len()
    ));
    ctx.extra.insert(
        "dedup".into(),
        json!({
            "logical_bytes": len,
            "gen2_sha1": gen2_sha1,
            "zstd1_bytes": zstd_bytes,
            "zstd1_seconds": zstd_secs,
            "ref_a64_mb_s": a64,
            "ref_a64_here_mb_s": a64_here,
            "runs": runs.iter().map(|(a, b)| json!({"gen1": a.json(len), "gen2": b.json(len)})).collect::<Vec<_>>(),
            "peers": peer_json,
            "restore_mb_s": {"raw_seq": raw_seq, "plugin_seq": plugin_seq, "raw_random": raw_rand, "plugin_random": plugin_rand},
        }),
    );

    drop(srv);
    std::fs::remove_dir_all(&dir).expect("remove dedup server");
    for f in [&raw2, &gen2] {
        std::fs::remove_file(f).expect("remove generation 2 file");
    }
    warm(&ctx.stream);
}

/// The peer stores generation 2 on top of its generation 1: seconds, its
/// repository's size just before and just after.
fn peer_generation2(p: &Peer, gen2: &Path) -> Result<(f64, RepoSize, RepoSize), String> {
    p.gen1_repo.ok_or("generation 1 not stored")?;
    let base = p.repo_size();
    let secs = p.backup(gen2, 2)?;
    Ok((secs, base, p.repo_size()))
}
