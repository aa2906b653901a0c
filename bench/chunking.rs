//! Issue 15's choices measured before any engine work: the content-defined
//! chunker and its average chunk size, the chunk fingerprint, the codec and
//! its keep-raw threshold, on the benchmark suite's own streams
//! (bench/suite/datagen.rs, seed 8, generations 1 and 2).
//!
//!     make bench-chunking
//!     cargo bench --bench chunking -- [--size-mib N] [--reps N] [--codec-avg-kib K]
//!     cargo bench --bench chunking -- --write-streams DIR [--size-mib N]   # for chunking_peers.sh
//!
//! Single-threaded, best of `--reps` (3) for every speed. Prints one table
//! and writes bench/results/chunking.json; docs/dedup-choices.md reads it.

#[path = "suite/datagen.rs"]
#[allow(dead_code)]
mod datagen;

use std::collections::HashSet;
use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use fastcdc::v2020::FastCDC;
use serde_json::json;
use sha1::Digest as _;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// The suite's seed (bench/suite.rs, `Config::quick`).
const SEED: u64 = 8;
/// Average chunk sizes tried; min = avg/4, max = avg*4 (the spread of the
/// crate's examples/v2020.rs, and of borg's default 512 KiB-2 MiB-8 MiB);
/// normalization level 1, the crate's default.
const AVERAGES: [usize; 4] = [16 * KIB, 32 * KIB, 64 * KIB, 128 * KIB];
/// A plausible chunk-index row: a 32-byte fingerprint and ~24 bytes of
/// location (segment, offset, stored length, flags, reference count).
const INDEX_ROW: f64 = 56.0;
/// Key of the keyed BLAKE3 fingerprint (a store would keep a per-server key).
const KEY: [u8; 32] = *b"combstore chunk fingerprint key.";

struct Args {
    size: usize,
    reps: usize,
    codec_avg: usize,
    /// Only write gen1.bin and gen2.bin into this directory (for
    /// bench/chunking_peers.sh) and exit.
    write_streams: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        size: 256 * MIB,
        reps: 3,
        // The average docs/dedup-choices.md picks.
        codec_avg: 16 * KIB,
        write_streams: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = || -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--size-mib" => a.size = num() * MIB,
            "--reps" => a.reps = num().max(1),
            "--codec-avg-kib" => a.codec_avg = num() * KIB,
            "--write-streams" => a.write_streams = it.next(),
            // cargo bench passes --bench to harness = false targets
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn generation(g: u8, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut s = datagen::Stream::new(SEED, g, len as u64);
    for piece in out.chunks_mut(MIB) {
        assert_eq!(s.fill(piece), piece.len());
    }
    out
}

/// Seconds of the fastest of `reps` runs of `f`.
fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn cuts(data: &[u8], avg: usize) -> Vec<(usize, usize)> {
    FastCDC::new(data, avg / 4, avg, avg * 4)
        .map(|c| (c.offset, c.length))
        .collect()
}

fn fingerprint(chunk: &[u8]) -> [u8; 32] {
    *blake3::keyed_hash(&KEY, chunk).as_bytes()
}

/// A plain Gear chunker for comparison: the `gearhash` crate's SIMD
/// `next_match` (AVX2/SSE4.2 where present), no cut before `avg/4` (the
/// hash restarted on the 64 bytes before that point, so cuts depend on
/// content only), a forced cut at `avg*4`, and the top log2(avg) bits of
/// the hash as the mask (no normalization, unlike FastCDC).
fn gear_cuts(data: &[u8], avg: usize) -> Vec<(usize, usize)> {
    let (min, max) = (avg / 4, avg * 4);
    let mask = u64::MAX << (64 - avg.trailing_zeros());
    let mut h = gearhash::Hasher::default();
    let mut out = Vec::with_capacity(data.len() / avg + 1);
    let mut off = 0;
    while off < data.len() {
        let start = off + min;
        let end = (off + max).min(data.len());
        let cut = if start >= end {
            end
        } else {
            h.set_hash(0);
            h.update(&data[start - 64..start]);
            h.next_match(&data[start..end], mask).map_or(end, |n| start + n)
        };
        out.push((off, cut - off));
        off = cut;
    }
    out
}

/// Bytes of gen 1 in chunks seen earlier in gen 1, and the bytes and
/// chunks of gen 2 seen in neither generation before.
fn dedup(g1: &[u8], c1: &[(usize, usize)], g2: &[u8], c2: &[(usize, usize)]) -> (usize, usize, usize) {
    assert_eq!(
        c1.iter().map(|c| c.1).sum::<usize>(),
        g1.len(),
        "chunks cover gen 1"
    );
    assert_eq!(
        c2.iter().map(|c| c.1).sum::<usize>(),
        g2.len(),
        "chunks cover gen 2"
    );
    let mut seen = HashSet::with_capacity(c1.len() + c2.len());
    let g1_dup = c1
        .iter()
        .filter(|&&(o, n)| !seen.insert(fingerprint(&g1[o..o + n])))
        .map(|c| c.1)
        .sum();
    let new: Vec<usize> = c2
        .iter()
        .filter(|&&(o, n)| seen.insert(fingerprint(&g2[o..o + n])))
        .map(|c| c.1)
        .collect();
    (g1_dup, new.iter().sum(), new.len())
}

#[derive(Clone, Copy, PartialEq)]
enum Codec {
    Zstd(i32),
    /// The engine's own: zstd -1, chunks whose bytes look random kept raw
    /// untried (`combstore::chunking::codec::looks_random`).
    Engine,
    Lz4,
}

impl Codec {
    fn name(self) -> String {
        match self {
            Codec::Zstd(l) => format!("zstd -{l}"),
            Codec::Engine => "zstd -1, random skipped".into(),
            Codec::Lz4 => "lz4 (lz4_flex)".into(),
        }
    }
}

/// Compresses chunks one at a time with a reused context.
struct Compressor {
    zstd: Option<zstd::bulk::Compressor<'static>>,
    engine: Option<combstore::chunking::Compressor>,
    out: Vec<u8>,
}

impl Compressor {
    fn new(codec: Codec) -> Compressor {
        Compressor {
            zstd: match codec {
                Codec::Zstd(l) => Some(zstd::bulk::Compressor::new(l).expect("zstd context")),
                Codec::Engine | Codec::Lz4 => None,
            },
            engine: (codec == Codec::Engine).then(combstore::chunking::Compressor::new),
            out: Vec::with_capacity(2 * MIB),
        }
    }

    /// The compressed size of `chunk` (the bytes stay in `self.out`).
    fn compress(&mut self, chunk: &[u8]) -> usize {
        self.out.clear();
        if let Some(e) = &mut self.engine {
            // a chunk kept raw is reported at its own size (never pays)
            return match e.compress(chunk) {
                (combstore::chunking::Codec::Zstd, stored) => {
                    self.out.extend_from_slice(stored);
                    stored.len()
                }
                _ => chunk.len(),
            };
        }
        match &mut self.zstd {
            Some(z) => z.compress_to_buffer(chunk, &mut self.out).expect("zstd"),
            None => {
                self.out
                    .resize(lz4_flex::block::get_maximum_output_size(chunk.len()), 0);
                let n = lz4_flex::block::compress_into(chunk, &mut self.out).expect("lz4");
                self.out.truncate(n);
                n
            }
        }
    }
}

/// Kept compressed only when that saves at least 1/8 of the chunk.
fn pays(raw: usize, compressed: usize) -> bool {
    compressed <= raw - raw / 8
}

/// Stored size of `chunk`: compressed when that pays, else raw.
fn stored(c: &mut Compressor, chunk: &[u8]) -> usize {
    let n = c.compress(chunk);
    if pays(chunk.len(), n) { n } else { chunk.len() }
}

/// A fingerprint function (returns one byte of the digest, so none is optimized away).
type HashFn = fn(&[u8]) -> u8;

struct CountingWriter(usize);

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn cpu() -> (String, bool) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown".into(), |m| m.trim().to_string());
    let sha_ni = info
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "sha_ni"));
    (model, sha_ni)
}

fn git_rev() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".into(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
        )
}

/// The rows every chunker gets: speed, chunk count and mean, gen 1's
/// duplicate bytes, gen 2's growth (`dedup`: gen 1 duplicate bytes, gen 2
/// new bytes, gen 2 new chunks).
fn dedup_rows(
    table: &mut Table,
    name: &str,
    len: usize,
    secs: f64,
    chunks: usize,
    dedup: (usize, usize, usize),
) {
    let (g1_dup, g2_new, g2_new_chunks) = dedup;
    let mean = len as f64 / chunks as f64;
    table.row(
        format!("{name}: chunking gen 1"),
        format!("{:.0} MB/s", mbps(len, secs)),
        "",
    );
    table.row(
        format!("{name}: chunks in gen 1"),
        chunks.to_string(),
        format!("mean {:.1} KiB", mean / KIB as f64),
    );
    table.row(
        format!("{name}: gen 1 duplicate bytes"),
        mb(g1_dup),
        pct(g1_dup, len),
    );
    table.row(
        format!("{name}: gen 2 growth, raw"),
        mb(g2_new),
        format!("{}, {g2_new_chunks} new chunks", pct(g2_new, len)),
    );
}

struct Table(Vec<[String; 3]>);

impl Table {
    fn row(&mut self, figure: impl Into<String>, value: impl Into<String>, note: impl Into<String>) {
        self.0.push([figure.into(), value.into(), note.into()]);
    }
    fn print(&self) {
        let w: Vec<usize> = (0..3)
            .map(|i| self.0.iter().map(|r| r[i].len()).max().unwrap_or(0).max(6))
            .collect();
        let line = |r: [&str; 3]| {
            println!(
                "| {:w0$} | {:>w1$} | {:w2$} |",
                r[0],
                r[1],
                r[2],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            )
        };
        line(["figure", "value", "note"]);
        println!(
            "|{}|{}|{}|",
            "-".repeat(w[0] + 2),
            "-".repeat(w[1] + 2),
            "-".repeat(w[2] + 2)
        );
        for r in &self.0 {
            line([&r[0], &r[1], &r[2]]);
        }
    }
}

fn mb(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn pct(part: usize, whole: usize) -> String {
    format!("{:.2}% of logical", 100.0 * part as f64 / whole as f64)
}

fn main() {
    let a = args();
    if let Some(dir) = &a.write_streams {
        for g in [1, 2] {
            let path = std::path::Path::new(dir).join(format!("gen{g}.bin"));
            let sha1 = datagen::to_file(&path, SEED, g, a.size as u64).expect("write stream");
            println!("{} {sha1}", path.display());
        }
        return;
    }
    let (model, sha_ni) = cpu();
    println!(
        "chunking bench: {} MiB per generation, seed {SEED}, best of {}, single thread; CPU {model}, sha_ni {}",
        a.size / MIB,
        a.reps,
        if sha_ni { "present" } else { "absent" }
    );
    let t = Instant::now();
    let g1 = generation(1, a.size);
    let g2 = generation(2, a.size);
    let st = datagen::stats(SEED, a.size as u64);
    println!(
        "generated both generations in {:.1} s: {} blocks of 64 KiB, {} text, {} repeats, {} edited in gen 2",
        t.elapsed().as_secs_f64(),
        st.blocks,
        st.text_blocks,
        st.repeated_blocks,
        st.edited_blocks
    );
    let len = g1.len();
    let mut table = Table(Vec::new());
    let mut j_chunkers = Vec::new();

    // Chunker: speed, chunk count, dedup within gen 1 and gen 2 growth.
    let mut z1 = Compressor::new(Codec::Zstd(1));
    for avg in AVERAGES {
        let k = avg / KIB;
        let secs = best(a.reps, || FastCDC::new(&g1, avg / 4, avg, avg * 4).count());
        let c1 = cuts(&g1, avg);
        let c2 = cuts(&g2, avg);
        let mut seen = HashSet::with_capacity(c1.len() + c2.len());
        let (mut g1_dup, mut g1_stored_z1) = (0, 0);
        for &(off, n) in &c1 {
            let chunk = &g1[off..off + n];
            if seen.insert(fingerprint(chunk)) {
                g1_stored_z1 += stored(&mut z1, chunk);
            } else {
                g1_dup += n;
            }
        }
        let (mut g2_new, mut g2_new_chunks, mut g2_new_z1) = (0, 0, 0);
        for &(off, n) in &c2 {
            let chunk = &g2[off..off + n];
            if seen.insert(fingerprint(chunk)) {
                g2_new += n;
                g2_new_chunks += 1;
                g2_new_z1 += stored(&mut z1, chunk);
            }
        }
        let mean = len as f64 / c1.len() as f64;
        let rows_tib = (1u64 << 40) as f64 / mean;
        let index_gib = rows_tib * INDEX_ROW / (1u64 << 30) as f64;
        let name = format!("fastcdc v2020 {k} KiB ({}-{} KiB)", k / 4, k * 4);
        dedup_rows(
            &mut table,
            &name,
            len,
            secs,
            c1.len(),
            (g1_dup, g2_new, g2_new_chunks),
        );
        table.row(
            format!("{name}: gen 2 growth, zstd -1"),
            mb(g2_new_z1),
            pct(g2_new_z1, len),
        );
        table.row(
            format!("{name}: gen 1 physical, dedup + zstd -1"),
            mb(g1_stored_z1),
            format!("{:.3} physical/logical", g1_stored_z1 as f64 / len as f64),
        );
        table.row(
            format!("{name}: index for 1 TiB unique"),
            format!("{index_gib:.2} GiB"),
            format!("{:.1} M rows x {INDEX_ROW} B", rows_tib / 1e6),
        );
        j_chunkers.push(json!({
            "chunker": "fastcdc v2020",
            "avg": avg, "min": avg / 4, "max": avg * 4,
            "chunking_mb_s": mbps(len, secs),
            "gen1_chunks": c1.len(),
            "gen1_mean_chunk": mean,
            "gen1_duplicate_bytes": g1_dup,
            "gen2_growth_bytes": g2_new,
            "gen2_growth_chunks": g2_new_chunks,
            "gen2_growth_zstd1_bytes": g2_new_z1,
            "gen1_physical_dedup_zstd1_bytes": g1_stored_z1,
            "index_rows_per_tib": rows_tib,
            "index_bytes_per_tib": rows_tib * INDEX_ROW,
        }));
    }

    // The comparison chunker at 64 KiB and at the pick.
    let mut gear_avgs = vec![64 * KIB];
    if a.codec_avg != 64 * KIB {
        gear_avgs.insert(0, a.codec_avg);
    }
    for avg in gear_avgs {
        let k = avg / KIB;
        let secs = best(a.reps, || gear_cuts(&g1, avg).len());
        let c1 = gear_cuts(&g1, avg);
        let c2 = gear_cuts(&g2, avg);
        let (g1_dup, g2_new, g2_new_chunks) = dedup(&g1, &c1, &g2, &c2);
        let mean = len as f64 / c1.len() as f64;
        let name = format!("gearhash {k} KiB ({}-{} KiB)", k / 4, k * 4);
        dedup_rows(
            &mut table,
            &name,
            len,
            secs,
            c1.len(),
            (g1_dup, g2_new, g2_new_chunks),
        );
        j_chunkers.push(json!({
            "chunker": "gearhash (SIMD Gear, min/max, no normalization)",
            "avg": avg, "min": avg / 4, "max": avg * 4,
            "chunking_mb_s": mbps(len, secs),
            "gen1_chunks": c1.len(),
            "gen1_mean_chunk": mean,
            "gen1_duplicate_bytes": g1_dup,
            "gen2_growth_bytes": g2_new,
            "gen2_growth_chunks": g2_new_chunks,
        }));
    }

    // Fingerprints over gen 1 in 64 KiB-average chunks (and at the codec's
    // average size when it differs).
    let hashes: [(&str, HashFn); 3] = [
        ("keyed BLAKE3", |c| blake3::keyed_hash(&KEY, c).as_bytes()[0]),
        ("SHA-256 (sha2)", |c| sha2::Sha256::digest(c)[0]),
        ("SHA-1 (sha1, today's image digest)", |c| sha1::Sha1::digest(c)[0]),
    ];
    let mut j_hashes = Vec::new();
    let mut hash_avgs = vec![64 * KIB];
    if a.codec_avg != 64 * KIB {
        hash_avgs.push(a.codec_avg);
    }
    for avg in hash_avgs {
        let chunks: Vec<&[u8]> = cuts(&g1, avg).iter().map(|&(o, n)| &g1[o..o + n]).collect();
        for (name, h) in &hashes {
            let secs = best(a.reps, || chunks.iter().fold(0u8, |acc, c| acc ^ h(c)));
            let note = if name.starts_with("SHA") && sha_ni {
                "sha_ni present"
            } else {
                ""
            };
            table.row(
                format!("fingerprint {name}, {} KiB chunks", avg / KIB),
                format!("{:.0} MB/s", mbps(len, secs)),
                note,
            );
            j_hashes.push(json!({ "hash": name, "chunk_avg": avg, "mb_s": mbps(len, secs) }));
        }
    }

    // Codecs on gen 1's unique chunks at the chosen average size.
    let cc = cuts(&g1, a.codec_avg);
    let mut seen = HashSet::new();
    let unique: Vec<&[u8]> = cc
        .iter()
        .map(|&(o, n)| &g1[o..o + n])
        .filter(|c| seen.insert(fingerprint(c)))
        .collect();
    let unique_bytes: usize = unique.iter().map(|c| c.len()).sum();
    let k = a.codec_avg / KIB;
    let mut j_codecs = Vec::new();
    for codec in [
        Codec::Zstd(1),
        Codec::Engine,
        Codec::Zstd(2),
        Codec::Zstd(3),
        Codec::Lz4,
    ] {
        let mut c = Compressor::new(codec);
        let secs = best(a.reps, || unique.iter().map(|ch| c.compress(ch)).sum::<usize>());
        // The stored forms, for the ratio and the decompression timing.
        let mut kept: Vec<(Vec<u8>, usize)> = Vec::new();
        let (mut stored_bytes, mut raw_chunks, mut compressed_all) = (0, 0, 0);
        for ch in &unique {
            let n = c.compress(ch);
            compressed_all += n;
            if pays(ch.len(), n) {
                stored_bytes += n;
                kept.push((c.out.clone(), ch.len()));
            } else {
                stored_bytes += ch.len();
                raw_chunks += 1;
            }
        }
        let kept_raw: usize = kept.iter().map(|k| k.1).sum();
        let mut out = vec![0u8; a.codec_avg * 4];
        let mut dz = zstd::bulk::Decompressor::new().expect("zstd dctx");
        let dsecs = best(a.reps, || {
            let mut total = 0;
            for (comp, n) in &kept {
                total += match codec {
                    Codec::Zstd(_) | Codec::Engine => {
                        dz.decompress_to_buffer(comp, &mut out[..*n]).expect("unzstd")
                    }
                    Codec::Lz4 => lz4_flex::block::decompress_into(comp, &mut out[..*n]).expect("unlz4"),
                };
            }
            assert_eq!(total, kept_raw);
            total
        });
        let name = format!("{} on {k} KiB chunks", codec.name());
        table.row(
            format!("{name}: compress"),
            format!("{:.0} MB/s", mbps(unique_bytes, secs)),
            "",
        );
        table.row(
            format!("{name}: decompress"),
            format!("{:.0} MB/s", mbps(kept_raw, dsecs)),
            "output bytes of the chunks kept compressed",
        );
        table.row(
            format!("{name}: stored/unique, raw unless saves 1/8"),
            format!("{:.3}", stored_bytes as f64 / unique_bytes as f64),
            format!(
                "{raw_chunks} of {} chunks raw; all compressed {:.3}",
                unique.len(),
                compressed_all as f64 / unique_bytes as f64
            ),
        );
        table.row(
            format!("{name}: gen 1 physical/logical, dedup + codec"),
            format!("{:.3}", stored_bytes as f64 / len as f64),
            format!("{} of {} unique", mb(stored_bytes), mb(unique_bytes)),
        );
        j_codecs.push(json!({
            "codec": codec.name(), "chunk_avg": a.codec_avg,
            "compress_mb_s": mbps(unique_bytes, secs),
            "decompress_mb_s": mbps(kept_raw, dsecs),
            "unique_chunks": unique.len(), "unique_bytes": unique_bytes,
            "stored_bytes": stored_bytes, "raw_chunks": raw_chunks,
            "compressed_all_bytes": compressed_all,
        }));
    }

    // Whole-stream zstd -1 (issue 15's gen 1 physical/logical target).
    let mut sink = CountingWriter(0);
    let t = Instant::now();
    zstd::stream::copy_encode(&g1[..], &mut sink, 1).expect("zstd stream");
    let whole_secs = t.elapsed().as_secs_f64();
    table.row(
        "whole stream zstd -1: gen 1 physical/logical",
        format!("{:.3}", sink.0 as f64 / len as f64),
        format!("{}, {:.0} MB/s (one run)", mb(sink.0), mbps(len, whole_secs)),
    );

    println!();
    table.print();

    let report = json!({
        "bench": "chunking",
        "git": git_rev(),
        "cpu": model, "sha_ni": sha_ni,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "seed": SEED, "size": len, "reps": a.reps,
        "index_row_bytes": INDEX_ROW,
        "keep_raw_unless_saves": "1/8",
        "chunkers": j_chunkers,
        "fingerprints": j_hashes,
        "codecs": j_codecs,
        "whole_stream_zstd1": { "physical": sink.0, "logical": len, "mb_s": mbps(len, whole_secs) },
    });
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/results/chunking.json");
    std::fs::write(path, serde_json::to_string_pretty(&report).unwrap() + "\n").expect("write results");
    println!("\nwrote {path}");
}
