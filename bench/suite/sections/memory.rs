//! 6. Memory: peak RSS (VmHWM) of a process ingesting a small and a large
//!    image; it must not grow with the image size. And of one ingesting
//!    generation 2 of the large image on top of its generation 1.

use crate::Ctx;
use crate::report::{Figure, Target};
use crate::roles::run_child;
use crate::util::{MIB, human_bytes, mb_per_s};

pub fn run(ctx: &mut Ctx) {
    let (small, large) = ctx.cfg.rss_sizes;
    println!("6. memory ({} vs {})", human_bytes(small), human_bytes(large));
    let dir = ctx.work.join("rss-server");
    let mut peaks = Vec::new();
    for (i, len) in [small, large].into_iter().enumerate() {
        let r = run_child(
            "rss-ingest",
            &[
                dir.display().to_string(),
                format!("rss{i}"),
                len.to_string(),
                ctx.cfg.seed.to_string(),
            ],
            "rss",
        );
        let num = |k: usize| r[k].parse::<f64>().expect("rss figure");
        let (before, after, secs) = (num(0), num(1), num(2));
        let mib = after / MIB as f64;
        let label = format!("memory: peak RSS ingesting {}", human_bytes(len));
        let f = Figure::new(&format!("memory.peak_rss_{i}"), &label, mib, "MiB").note(&format!(
            "VmHWM {:.1} MiB after loading the plugin and opening the server, {mib:.1} MiB at the end; \
             {:.0} MB/s including generation",
            before / MIB as f64,
            mb_per_s(len, secs)
        ));
        ctx.add(if i == 1 { f.target(Target::Below(128.0)) } else { f });
        peaks.push(after);
    }
    ctx.add(
        Figure::new(
            "memory.growth",
            "memory: peak RSS growth, large vs small image",
            peaks[1] / MIB as f64,
            "MiB",
        )
        .ratio(peaks[0] / MIB as f64, &format!("{} image", human_bytes(small)))
        .target(Target::AtMost(1.1)),
    );
    // Issue 15: generation 2 (mostly duplicate) of the large size, on top
    // of the large image of generation 1 in the same server (rss1), so
    // that deduplicating looks up every chunk against a filled index.
    let r = run_child(
        "rss-ingest",
        &[
            dir.display().to_string(),
            "rss2".into(),
            large.to_string(),
            ctx.cfg.seed.to_string(),
            "2".into(),
        ],
        "rss",
    );
    let num = |k: usize| r[k].parse::<f64>().expect("rss figure");
    let (before, after, secs) = (num(0), num(1), num(2));
    ctx.add(
        Figure::new(
            "memory.peak_rss_gen2",
            &format!("memory: peak RSS ingesting gen 2, {} on gen 1", human_bytes(large)),
            after / MIB as f64,
            "MiB",
        )
        .target(Target::Below(256.0))
        .note(&format!(
            "issue 15's ingest bound: generation 2 of the stream as a second image in the server holding the \
             {} image of generation 1; VmHWM {:.1} MiB after opening the server; {:.0} MB/s including generation",
            human_bytes(large),
            before / MIB as f64,
            mb_per_s(large, secs)
        )),
    );
    ctx.note(format!(
        "memory: each ingest in its own process (this binary, role rss-ingest), data generated on the fly in \
         1 MiB pieces (nothing held), 1 MiB stsp_write_image calls; this run {} vs {} (the issue's test is \
         1 GiB vs 4 GiB: make bench-full)",
        human_bytes(small),
        human_bytes(large),
    ));
    std::fs::remove_dir_all(&dir).expect("remove rss server");
}
