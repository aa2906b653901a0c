//! 3. Restore: sequential 1 MiB reads and random 64 KiB reads of the
//!    stream's image vs the same reads of the raw stream file, both
//!    cold-ish; peers' restores.

use crate::Ctx;
use crate::contenders::{self, Ref, Source};
use crate::datagen::SplitMix;
use crate::report::{Figure, Target};
use crate::util::{best_interleaved, mb_per_s, warm};

pub const RANDOM_LEN: usize = 64 << 10;

/// A raw copy of the stream (write() + fsync) and an image of it (1 MiB
/// writes), written one after the other the first time this is called,
/// so that neither is fresher than the other in caches below the guest
/// (a VM host's); the stream file itself, every ingest's input, is.
pub fn fresh_pair(ctx: &mut Ctx) -> (std::path::PathBuf, String) {
    let raw = ctx.work.join("fresh-raw.bin");
    let image = "fresh1".to_owned();
    if !raw.exists() {
        let src = Source::file(&ctx.stream, 0, ctx.cfg.stream_len);
        contenders::reference(&src, &raw, 1 << 20, Ref::A);
        contenders::ingest(&ctx.srv().lsu(), &image, &src, 1 << 20);
    }
    (raw, image)
}

/// The random reads' offsets: `n` 4 KiB-aligned starts of [`RANDOM_LEN`]
/// reads inside `len` bytes, the same for every contender.
pub fn random_offsets(seed: u64, len: u64, n: usize) -> Vec<u64> {
    let mut r = SplitMix(seed ^ 0x7261_6e64);
    let slots = (len - RANDOM_LEN as u64) / 4096;
    (0..n).map(|_| r.below(slots) * 4096).collect()
}

pub fn run(ctx: &mut Ctx) {
    println!("3. restore");
    let len = ctx.cfg.stream_len;
    let (stream, image) = fresh_pair(ctx);
    let sha = contenders::image_sha1(&ctx.srv().lsu(), &image);
    assert_eq!(
        sha, ctx.stream_sha1,
        "the image read back differs from the stream"
    );

    let best = best_interleaved(2, ctx.cfg.reps, |i, _| {
        ctx.cold_server(&[&stream]);
        if i == 0 {
            contenders::raw_read(&stream, 1 << 20)
        } else {
            let (b, s) = contenders::restore(&ctx.srv().lsu(), &image, 1 << 20, |_| ());
            assert_eq!(b, len, "restored length");
            (b, s)
        }
    });
    let (raw, plugin) = (best[0].0, best[1].0);
    ctx.add(Figure::new(
        "restore.raw_seq",
        "restore: raw file, sequential 1 MiB read()",
        raw,
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "restore.plugin_seq",
            "restore: plugin, sequential 1 MiB reads",
            plugin,
            "MB/s",
        )
        .ratio(raw, "raw")
        .target(Target::AtLeast(0.9)),
    );

    let offsets = random_offsets(ctx.cfg.seed, len, ctx.cfg.random_reads);
    let bytes = (offsets.len() * RANDOM_LEN) as u64;
    let best = best_interleaved(2, ctx.cfg.reps, |i, _| {
        ctx.cold_server(&[&stream]);
        let secs = if i == 0 {
            contenders::raw_random(&stream, &offsets, RANDOM_LEN)
        } else {
            contenders::restore_random(&ctx.srv().lsu(), &image, &offsets, RANDOM_LEN)
        };
        (bytes, secs)
    });
    let (raw_r, plugin_r) = (best[0].0, best[1].0);
    ctx.add(Figure::new(
        "restore.raw_random",
        "restore: raw file, random 64 KiB pread()",
        raw_r,
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "restore.plugin_random",
            "restore: plugin, random 64 KiB reads",
            plugin_r,
            "MB/s",
        )
        .ratio(raw_r, "raw")
        .target(Target::AtLeast(0.8)),
    );
    ctx.note(format!(
        "restore: a raw copy of the stream (write() + fsync) and an image of it (1 MiB writes) written one \
         after the other first; best of {} runs, interleaved, each cold-ish (segment files and raw file dropped \
         from the page cache first; a VM host's cache below is out of reach); random: {} reads at the same 4 KiB-aligned offsets for both; the image read back was \
         checked against the stream's SHA-1 (untimed)",
        ctx.cfg.reps,
        offsets.len()
    ));

    let peers = std::mem::take(&mut ctx.peers);
    for p in &peers {
        let prog = p.kind.program();
        ctx.cold(&[&p.repo]);
        match p.restore(1) {
            Ok((b, s)) if b == len => {
                let mbs = mb_per_s(b, s);
                let label = format!(
                    "restore: {prog} ({})",
                    if prog == "borg" {
                        "extract --stdout"
                    } else {
                        "dump"
                    }
                );
                ctx.add(Figure::new(&format!("restore.{prog}"), &label, mbs, "MB/s"));
                let f = Figure::new(
                    &format!("restore.plugin_vs_{prog}"),
                    &format!("restore: plugin vs {prog}"),
                    plugin,
                    "MB/s",
                )
                .ratio(mbs, prog);
                ctx.add(if prog == "borg" {
                    f.target(Target::AtLeast(3.0))
                } else {
                    f
                });
            }
            Ok((b, _)) => ctx.add(Figure::skipped(
                &format!("restore.{prog}"),
                prog,
                &format!("restored {b} bytes, not {len}"),
            )),
            Err(why) => ctx.add(Figure::skipped(&format!("restore.{prog}"), prog, &why)),
        }
    }
    ctx.peers = peers;
    warm(&ctx.stream);
}
