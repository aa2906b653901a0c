//! The benchmark suite of issue 8: throughput, scale and memory of the
//! plugin measured through its C entry points (target/release/
//! libcombstore.so loaded with libloading, as a backup application loads
//! it), side by side in one run with the raw limit of the same machine,
//! reported as ratios.
//!
//!     make bench        # quick set (< 5 minutes)
//!     make bench-full   # larger sizes (1,000,000 images/objects, 4 GiB RSS test)
//!     cargo bench --bench suite -- [--quick|--full|--smoke] [--only SECTION,..] [--size-mib N] [--reps N] [--no-peers] [--keep]
//!
//! Sections: ingest, concurrent, restore, dup, dedup, catalog, memory, archive, pool
//! (pool: issue 16, needs an S3 store; `make bench` starts Garage).
//! Prints a table (figure, value, ratio, target, PASS/BELOW) and writes
//! bench/results/latest.json (a partial run, with --only, --size-mib,
//! --reps or --smoke, writes bench/results/partial.json). Child processes are this binary
//! re-executed with `--role NAME ARGS..` (roles.rs).

#[path = "../ffi-tests/common/mod.rs"]
#[allow(dead_code, unused_imports, clippy::all)]
mod common;
#[path = "suite/contenders.rs"]
mod contenders;
#[path = "suite/datagen.rs"]
mod datagen;
#[path = "suite/peers.rs"]
mod peers;
#[path = "suite/report.rs"]
mod report;
#[path = "suite/roles.rs"]
mod roles;
#[path = "suite/sections/mod.rs"]
mod sections;
#[path = "suite/util.rs"]
mod util;

use std::path::PathBuf;
use std::time::Instant;

use report::Figure;
use serde_json::json;
use util::{DropMode, GIB, MIB};

const SECTIONS: [&str; 10] = [
    "ingest",
    "concurrent",
    "restore",
    "dup",
    "dedup",
    "catalog",
    "catalog-pg",
    "memory",
    "archive",
    "pool",
];

/// Sizes of one run.
#[derive(Clone, Debug)]
pub struct Config {
    pub full: bool,
    pub seed: u64,
    /// The single stream (and the image restored and copied).
    pub stream_len: u64,
    /// Repetitions of each single-stream and restore measurement (best kept).
    pub reps: usize,
    /// Repetitions of each concurrent ingest measurement, and the bytes
    /// all writers of one together write.
    pub conc_reps: usize,
    pub conc_len: u64,
    /// 64 KiB random reads.
    pub random_reads: usize,
    /// Memory test: the small and the large image.
    pub rss_sizes: (u64, u64),
    /// Catalog scale: images prefilled in one LSU.
    pub catalog_images: u64,
    /// Images of the PostgreSQL vs SQLite catalog comparison (issue 16's
    /// 100,000 in the full set; its prefill on PostgreSQL takes about
    /// 2 ms an image, so the quick set has 20,000).
    pub pg_catalog_images: u64,
    /// create+close samples and get_image_prop_byname samples.
    pub create_samples: usize,
    pub byname_samples: usize,
    /// Archive: objects stored through hc_store_both_ez, objects prefilled for the query.
    pub hc_store: u64,
    pub hc_query_objects: u64,
    pub hc_queries: usize,
    pub peers: bool,
}

impl Config {
    fn quick() -> Config {
        Config {
            full: false,
            seed: 8,
            stream_len: 512 * MIB,
            reps: 3,
            conc_reps: 2,
            conc_len: 512 * MIB,
            random_reads: 2048,
            rss_sizes: (256 * MIB, GIB),
            catalog_images: 50_000,
            pg_catalog_images: 20_000,
            create_samples: 300,
            byname_samples: 2000,
            hc_store: 500,
            hc_query_objects: 20_000,
            hc_queries: 10,
            peers: true,
        }
    }

    /// Tiny sizes, to check that every section runs (seconds, not figures).
    fn smoke() -> Config {
        Config {
            stream_len: 32 * MIB,
            reps: 1,
            conc_reps: 1,
            conc_len: 32 * MIB,
            random_reads: 256,
            rss_sizes: (16 * MIB, 64 * MIB),
            catalog_images: 2000,
            pg_catalog_images: 2000,
            create_samples: 20,
            byname_samples: 100,
            hc_store: 50,
            hc_query_objects: 2000,
            hc_queries: 3,
            ..Config::quick()
        }
    }

    fn full() -> Config {
        Config {
            full: true,
            stream_len: GIB,
            reps: 5,
            conc_reps: 3,
            conc_len: GIB,
            random_reads: 16384,
            rss_sizes: (GIB, 4 * GIB),
            catalog_images: 1_000_000,
            pg_catalog_images: 100_000,
            create_samples: 1000,
            byname_samples: 10_000,
            hc_store: 100_000,
            hc_query_objects: 1_000_000,
            hc_queries: 20,
            ..Config::quick()
        }
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "seed": self.seed,
            "stream_bytes": self.stream_len,
            "reps": self.reps,
            "concurrent_reps": self.conc_reps,
            "concurrent_bytes": self.conc_len,
            "random_reads_64k": self.random_reads,
            "rss_image_bytes": [self.rss_sizes.0, self.rss_sizes.1],
            "catalog_images": self.catalog_images,
            "pg_catalog_images": self.pg_catalog_images,
            "create_close_samples": self.create_samples,
            "byname_samples": self.byname_samples,
            "hc_store_objects": self.hc_store,
            "hc_query_objects": self.hc_query_objects,
            "hc_queries": self.hc_queries,
            "peers": self.peers,
        })
    }
}

/// State shared by the sections of one run.
pub struct Ctx {
    pub cfg: Config,
    pub work: PathBuf,
    pub drop: DropMode,
    pub figures: Vec<Figure>,
    pub notes: Vec<String>,
    /// Generation 1 of the stream, pre-generated once.
    pub stream: PathBuf,
    pub stream_sha1: String,
    /// The main server (work/main-server): the restore and duplication
    /// figures' image of the stream (sections::restore::fresh_pair).
    pub srv: Option<contenders::Srv>,
    /// Best single-stream plugin ingest (1 MiB writes): MB/s and seconds.
    pub single_mbs: f64,
    pub single_secs: f64,
    /// CPUs the best single 1 MiB ingest kept busy.
    pub single_cpus: f64,
    /// Best reference A and A64 (one writer), MB/s.
    pub ref_a_mbs: f64,
    pub ref_a64_mbs: f64,
    pub peers: Vec<peers::Peer>,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Ctx {
    pub fn srv(&self) -> &contenders::Srv {
        self.srv.as_ref().expect("the main server is open")
    }

    pub fn add(&mut self, f: Figure) {
        println!(
            "  {:<52} {}",
            f.label,
            f.value.map_or_else(
                || format!("skipped: {}", f.note),
                |v| format!("{v:.3} {}", f.unit)
            )
        );
        self.figures.push(f);
    }

    pub fn note(&mut self, n: String) {
        println!("  note: {n}");
        self.notes.push(n);
    }

    /// Drops the page cache of `paths` before a cold-ish read.
    pub fn cold(&self, paths: &[&std::path::Path]) {
        self.drop.drop(paths);
    }

    /// As [`Ctx::cold`] for the main server's segments and `others`,
    /// with the server closed and reopened around it, so that nothing the
    /// server holds open (descriptors, caches) outlives the drop.
    pub fn cold_server(&mut self, others: &[&std::path::Path]) {
        let dir = self.srv().dir.clone();
        self.srv = None;
        let mut paths = vec![dir.join("segments")];
        paths.extend(others.iter().map(|p| p.to_path_buf()));
        self.drop
            .drop(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>());
        self.srv = Some(contenders::Srv::open(&dir));
    }
}

/// Removes the work directory at the end (also after a panic).
struct WorkDir(PathBuf, bool);
impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("--role") {
        roles::run(&args[1..]);
        return;
    }
    let mut cfg = Config::quick();
    let mut only: Vec<String> = SECTIONS.iter().map(|s| s.to_string()).collect();
    let (mut keep, mut partial) = (false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => cfg = Config::quick(),
            "--full" => cfg = Config::full(),
            "--smoke" => {
                cfg = Config::smoke();
                partial = true;
            }
            "--keep" => keep = true,
            "--no-peers" => cfg.peers = false,
            "--only" => {
                only = it
                    .next()
                    .expect("--only SECTION,..")
                    .split(',')
                    .map(String::from)
                    .collect();
                partial = true;
                if let Some(bad) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    panic!("unknown section {bad}; sections: {}", SECTIONS.join(","));
                }
            }
            "--reps" => {
                cfg.reps = it.next().and_then(|s| s.parse().ok()).expect("--reps N");
                partial = true;
            }
            "--size-mib" => {
                cfg.stream_len = it
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .expect("--size-mib N")
                    * MIB;
                partial = true;
            }
            other if other.starts_with("--") => panic!("unknown option {other}"),
            _ => {} // a cargo bench filter
        }
    }
    if partial {
        cfg.peers &= only
            .iter()
            .any(|s| ["ingest", "restore", "dedup"].contains(&s.as_str()));
    }
    run(cfg, &only, keep, partial);
}

fn run(cfg: Config, only: &[String], keep: bool, partial: bool) {
    let started = Instant::now();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work_root = std::env::var_os("COMBSTORE_BENCH_DIR")
        .map_or_else(|| manifest.join("target").join("bench-work"), PathBuf::from);
    let work = work_root.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create bench work dir");
    let guard = WorkDir(work.clone(), keep);
    let fs = util::filesystem_of(&work);
    let repo_fs = util::filesystem_of(&manifest);
    let (drop_mode, drop_text) = DropMode::probe();
    println!(
        "combstore bench ({} set): work dir {} on {fs}",
        if cfg.full { "full" } else { "quick" },
        work.display()
    );
    if fs != repo_fs {
        println!("  warning: the repository is on {repo_fs}");
    }
    println!("  plugin {}", common::plugin_path().display());
    println!("  cold-ish reads: {drop_text}");
    common::api();

    let mut ctx = Ctx {
        cfg,
        work: work.clone(),
        drop: drop_mode,
        figures: Vec::new(),
        notes: vec![format!("cold-ish reads: {drop_text}")],
        stream: work.join("stream-gen1.bin"),
        stream_sha1: String::new(),
        srv: None,
        single_mbs: 0.0,
        single_secs: 0.0,
        single_cpus: 0.0,
        ref_a_mbs: 0.0,
        ref_a64_mbs: 0.0,
        peers: Vec::new(),
        extra: serde_json::Map::new(),
    };
    let wants = |s: &str| only.iter().any(|o| o == s);
    type Section = fn(&mut Ctx);
    let plan: [(&str, bool, Section); 12] = [
        ("prepare", true, sections::prepare),
        (
            "ingest",
            ["ingest", "concurrent", "restore", "dup", "dedup"]
                .iter()
                .any(|s| wants(s)),
            sections::ingest::single,
        ),
        ("concurrent", wants("concurrent"), sections::ingest::concurrent),
        ("restore", wants("restore"), sections::restore::run),
        ("dup", wants("dup"), sections::dup::run),
        ("dedup", wants("dedup"), sections::dedup::run),
        ("close", true, |ctx: &mut Ctx| ctx.srv = None),
        ("catalog", wants("catalog"), sections::scale::run),
        ("catalog-pg", wants("catalog-pg"), sections::scale::run_pg),
        ("memory", wants("memory"), sections::memory::run),
        ("archive", wants("archive"), sections::archive::run),
        ("pool", wants("pool"), sections::pool::run),
    ];
    let mut took = serde_json::Map::new();
    for (name, run, f) in plan {
        if run {
            let (_, secs) = util::timed(|| f(&mut ctx));
            println!("  ({name}: {secs:.1} s)");
            took.insert(name.into(), json!(secs));
        }
    }
    ctx.extra
        .insert("section_seconds".into(), serde_json::Value::Object(took));
    let elapsed = started.elapsed().as_secs_f64();

    println!();
    print!("{}", report::table(&ctx.figures));
    for f in ctx.figures.iter().filter(|f| !f.note.is_empty()) {
        println!("  * {}: {}", f.label, f.note);
    }
    for n in &ctx.notes {
        println!("  * {n}");
    }
    let below = ctx.figures.iter().filter(|f| f.result() == "BELOW").count();
    let pass = ctx.figures.iter().filter(|f| f.result() == "PASS").count();
    println!("{pass} PASS, {below} BELOW target; {elapsed:.0} s");

    let doc = json!({
        "suite": "combstore bench (issue 8)",
        "mode": if ctx.cfg.full { "full" } else { "quick" },
        "partial": partial,
        "sections": only,
        "date": util::command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "git": util::git_revision(),
        "elapsed_s": elapsed,
        "machine": {
            "cores": util::cores(),
            "cpu": util::cpu_model(),
            "mem_mib": util::mem_total_mib(),
            "kernel": util::kernel(),
            "filesystem": fs,
        },
        "config": ctx.cfg.json(),
        "notes": ctx.notes,
        "figures": ctx.figures.iter().map(Figure::json).collect::<Vec<_>>(),
        "details": ctx.extra,
    });
    let out =
        manifest
            .join("bench")
            .join("results")
            .join(if partial { "partial.json" } else { "latest.json" });
    std::fs::create_dir_all(out.parent().unwrap()).expect("bench/results");
    let tmp = out.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&doc).unwrap() + "\n").expect("write results");
    std::fs::rename(&tmp, &out).expect("rename results");
    println!("wrote {}", out.display());
    drop(ctx);
    drop(guard);
}
