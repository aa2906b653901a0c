//! Issue 16: a pool on the S3 store `make bench` starts (scripts/garage.sh
//! run exports its COMBSTORE_S3_*), against raw uploads and downloads of
//! the same bytes to the same Garage with the same client crate
//! (object_store: multipart PUT in 8 MiB parts, 4 in flight per stream;
//! one streaming GET), and against the embedded default measured earlier
//! in the same run. Skipped, with a note, when no store is configured.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt};

use crate::Ctx;
use crate::contenders::{self, Source, Srv};
use crate::datagen;
use crate::report::{Figure, Target};
use crate::roles;
use crate::util::best_interleaved;

const PART: usize = 8 << 20;
const IN_FLIGHT: usize = 4;

struct Store {
    vars: Vec<(String, String)>,
    os: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
}

/// The store of the environment's `COMBSTORE_S3_*` with its pools'
/// payloads signed (`COMBSTORE_S3_PAYLOAD=signed`, the default) or,
/// with `crc64`, unsigned and carrying their CRC64-NVME; the raw uploads
/// use the client the pools do, whatever the endpoint's scheme.
fn store(crc64: bool) -> Option<Store> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("COMBSTORE_S3_") && k != "COMBSTORE_S3_PREFIX" && k != "COMBSTORE_S3_PAYLOAD"
        })
        .collect();
    vars.push((
        "COMBSTORE_S3_PAYLOAD".into(),
        if crc64 { "crc64" } else { "signed" }.into(),
    ));
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let endpoint = get("COMBSTORE_S3_ENDPOINT")?;
    let mut builder = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_region(get("COMBSTORE_S3_REGION").unwrap_or_else(|| "garage".into()))
        .with_bucket_name(get("COMBSTORE_S3_BUCKET")?)
        .with_access_key_id(get("COMBSTORE_S3_KEY_ID")?)
        .with_secret_access_key(get("COMBSTORE_S3_SECRET")?)
        .with_unsigned_payload(crc64)
        .with_client_options(ClientOptions::new().with_allow_http(endpoint.starts_with("http://")));
    if crc64 {
        builder = builder.with_checksum_algorithm(object_store::aws::Checksum::CRC64NVME);
    }
    let os = builder.build().expect("object store client");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    Some(Store {
        vars,
        os: Arc::new(os),
        rt,
    })
}

/// Uploads `len` bytes of `file` from `off` as one multipart object;
/// the file is read in the timed loop, as the plugin reads its input.
async fn put_part_of(os: Arc<dyn ObjectStore>, path: ObjPath, file: PathBuf, off: u64, len: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(&file).expect("stream file");
    let mut up = os.put_multipart(&path).await.expect("start upload");
    let mut parts = std::collections::VecDeque::new();
    let mut at = 0;
    while at < len {
        let n = PART.min((len - at) as usize);
        let mut buf = vec![0u8; n];
        f.read_exact_at(&mut buf, off + at).expect("read stream");
        parts.push_back(tokio::spawn(up.put_part(buf.into())));
        if parts.len() >= IN_FLIGHT {
            parts.pop_front().unwrap().await.unwrap().expect("part");
        }
        at += n as u64;
    }
    for p in parts {
        p.await.unwrap().expect("part");
    }
    up.complete().await.expect("complete upload");
}

/// `streams` uploads at once, each a 1/streams of the stream file.
fn raw_put(s: &Store, file: &Path, len: u64, streams: usize, tag: &str) -> (u64, f64) {
    let part = len / streams as u64 / (1 << 20) * (1 << 20);
    let t = std::time::Instant::now();
    s.rt.block_on(async {
        let tasks: Vec<_> = (0..streams)
            .map(|i| {
                let path = ObjPath::from(format!("bench/raw/{tag}-{i}"));
                tokio::spawn(put_part_of(
                    s.os.clone(),
                    path,
                    file.to_path_buf(),
                    i as u64 * part,
                    part,
                ))
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    (part * streams as u64, t.elapsed().as_secs_f64())
}

/// One streaming GET of an object.
fn raw_get(s: &Store, path: &str) -> (u64, f64) {
    let t = std::time::Instant::now();
    let bytes = s.rt.block_on(async {
        let mut st = s.os.get(&ObjPath::from(path)).await.expect("get").into_stream();
        let mut n = 0u64;
        while let Some(b) = st.next().await {
            n += b.expect("body").len() as u64;
        }
        n
    });
    (bytes, t.elapsed().as_secs_f64())
}

/// Best MB/s of a GET of `raw_obj` and of a restore of `image` from the
/// pool in `dir` (1 MiB reads), interleaved.
fn restore_vs_get(ctx: &Ctx, s: &Store, raw_obj: &str, dir: &Path, image: &str) -> (f64, f64) {
    let best = best_interleaved(2, ctx.cfg.reps, |i, _| {
        if i == 0 {
            raw_get(s, raw_obj)
        } else {
            let srv = Srv::open(dir);
            contenders::restore(&srv.lsu(), image, 1 << 20, |_| ())
        }
    });
    (best[0].0, best[1].0)
}

/// A new pool in `dir`, under a folder of its own in the bucket.
fn new_pool(s: &Store, dir: &Path) {
    new_pool_with(s, dir, None);
}

/// [`new_pool`], with its catalog in a new schema of the PostgreSQL
/// database at `pg_url` if given (a pool several hosts share; its CA
/// comes from the environment's `COMBSTORE_PG_CA`).
fn new_pool_with(s: &Store, dir: &Path, pg_url: Option<&str>) {
    let _ = std::fs::remove_dir_all(dir);
    let mut text: String = s.vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    text.push_str(&format!(
        "COMBSTORE_S3_PREFIX=bench/pool-{}-{}\n",
        std::process::id(),
        dir.file_name().unwrap().to_string_lossy()
    ));
    if let Some(url) = pg_url {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        text.push_str(&format!(
            "COMBSTORE_PG_URL={url}\nCOMBSTORE_PG_SCHEMA=bench_pool_{}_{nanos}\n",
            std::process::id()
        ));
    }
    write_pool_file(dir, &text);
}

/// MiB of the host cache of the bench's cached pool: the whole stream.
const CACHE_MIB: u64 = 4096;

/// Adds `line` to `dir`'s pool file.
fn append_pool_line(dir: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("pool.conf"))
        .expect("pool.conf");
    std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()).expect("pool.conf");
}

/// Makes `dir` and writes `text` as its pool file (0600: it holds secrets).
pub fn write_pool_file(dir: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).expect("pool dir");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("pool.conf"))
        .expect("pool.conf");
    std::io::Write::write_all(&mut f, text.as_bytes()).expect("pool.conf");
}

/// Best MB/s of 4 raw uploads at once and of [`pool_processes`]' 4
/// streams into pool `pool-<tag>`, interleaved, as many runs as the one
/// stream's figures (not the concurrent section's fewer: these pairs
/// take seconds, and Garage, PostgreSQL and both processes sharing the
/// cores make single runs vary by a tenth).
fn four_streams(ctx: &Ctx, s: &Store, tag: &str, pg_url: Option<&str>) -> (f64, f64) {
    let dir = ctx.work.join(format!("pool-{tag}"));
    let best = best_interleaved(2, ctx.cfg.reps, |i, rep| {
        if i == 0 {
            raw_put(
                s,
                &ctx.stream,
                ctx.cfg.stream_len,
                4,
                &format!("four-{tag}-{rep}"),
            )
        } else {
            pool_processes(ctx, s, &dir, 4, pg_url)
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    (best[0].0, best[1].0)
}

/// A plugin ingest's figure against the raw PUT measured with it.
fn ingest_figure(id: &str, label: &str, mbs: f64, raw: f64) -> Figure {
    Figure::new(id, label, mbs, "MB/s")
        .ratio(raw, "raw PUT")
        .target(Target::AtLeast(0.7))
}

/// Two processes, each `streams / 2` writers of its share, released
/// together, into a new pool (its catalog in PostgreSQL at `pg_url` if
/// given: what two hosts would share).
fn pool_processes(ctx: &Ctx, s: &Store, dir: &Path, streams: usize, pg_url: Option<&str>) -> (u64, f64) {
    let len = ctx.cfg.stream_len;
    let per = streams / 2;
    let part = len / 2 / (1 << 20) * (1 << 20);
    new_pool_with(s, dir, pg_url);
    drop(Srv::open(dir));
    let args: Vec<Vec<String>> = (0..2)
        .map(|i| {
            vec![
                dir.display().to_string(),
                format!("pool{streams}_{i}"),
                ctx.stream.display().to_string(),
                (i as u64 * part).to_string(),
                part.to_string(),
                per.to_string(),
            ]
        })
        .collect();
    let secs = roles::released_together("ingest", &args);
    (part / per as u64 * per as u64 * 2, secs)
}

/// The link [`far_restores`] reaches the store through:
/// bench/slow-link.py on a free port, stopped when dropped.
struct SlowLink {
    child: std::process::Child,
    endpoint: String,
}

impl SlowLink {
    /// A link of [`FAR_MBPS`] and [`FAR_DELAY_MS`] each way to the store
    /// `s` names (on this machine); `None` if it cannot be started.
    fn start(s: &Store) -> Option<SlowLink> {
        let endpoint = s
            .vars
            .iter()
            .find(|(k, _)| k == "COMBSTORE_S3_ENDPOINT")?
            .1
            .clone();
        let target = endpoint.rsplit(':').next()?.trim_end_matches('/').to_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/slow-link.py");
        let child = std::process::Command::new("python3")
            .arg(script)
            .args([
                port.to_string(),
                target,
                FAR_MBPS.to_string(),
                FAR_DELAY_MS.to_string(),
            ])
            .spawn()
            .ok()?;
        let link = SlowLink {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(link);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// MB/s each way of the far store's link, and its delay each way (ms).
const FAR_MBPS: u64 = 100;
const FAR_DELAY_MS: u64 = 10;

/// A restore right after the backup from a pool whose store is far away
/// (reached through a [`SlowLink`]), without and with the host cache:
/// each pool is ingested once, then the two restores run interleaved.
fn far_restores(ctx: &mut Ctx, s: &Store) {
    let Some(link) = SlowLink::start(s) else {
        ctx.add(Figure::skipped(
            "pool.restore_far_cached",
            "pool: restore right after the backup, far store, host cache",
            "bench/slow-link.py could not be started (python3)",
        ));
        return;
    };
    let len = ctx.cfg.stream_len;
    let far = |name: &str, cached: bool| {
        let d = ctx.work.join(name);
        new_pool(s, &d);
        append_pool_line(&d, &format!("COMBSTORE_S3_ENDPOINT={}", link.endpoint));
        if cached {
            append_pool_line(&d, &format!("COMBSTORE_S3_CACHE_MIB={CACHE_MIB}"));
        }
        let srv = Srv::open(&d);
        contenders::ingest(&srv.lsu(), "pool1", &Source::file(&ctx.stream, 0, len), 1 << 20);
        d
    };
    let dirs = [far("pool-far", false), far("pool-far-cached", true)];
    let best = best_interleaved(2, ctx.cfg.reps, |i, _| {
        let srv = Srv::open(&dirs[i]);
        contenders::restore(&srv.lsu(), "pool1", 1 << 20, |_| ())
    });
    drop(link);
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    ctx.add(Figure::new(
        "pool.restore_far",
        "pool: restore right after the backup, far store (100 MB/s, 20 ms)",
        best[0].0,
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "pool.restore_far_cached",
            "pool: the same, from the host cache (opt-in)",
            best[1].0,
            "MB/s",
        )
        .ratio(best[0].0, "no cache"),
    );
}

pub fn run(ctx: &mut Ctx) {
    println!("9. pool: chunk data in an S3 object store (issue 16)");
    let Some(s) = store(false) else {
        ctx.add(Figure::skipped(
            "pool.ingest",
            "pool: ingest",
            "no S3 store (COMBSTORE_S3_ENDPOINT); `make bench` starts Garage",
        ));
        return;
    };
    let len = ctx.cfg.stream_len;
    let stream = ctx.stream.clone();
    let dir = ctx.work.join("pool-run");
    // 1 stream: raw multipart PUT vs the plugin into a new pool
    let best = best_interleaved(2, ctx.cfg.reps, |i, rep| {
        if i == 0 {
            raw_put(&s, &stream, len, 1, &format!("one-{rep}"))
        } else {
            new_pool(&s, &dir);
            let srv = Srv::open(&dir);
            let r = contenders::ingest(&srv.lsu(), "pool1", &Source::file(&stream, 0, len), 1 << 20);
            drop(srv);
            r
        }
    });
    let (raw1, pool1) = (best[0].0, best[1].0);
    ctx.add(Figure::new(
        "pool.raw_put",
        "pool: raw multipart PUT, 1 stream (object_store)",
        raw1,
        "MB/s",
    ));
    ctx.add(ingest_figure(
        "pool.ingest",
        "pool: plugin ingest into a pool, 1 stream",
        pool1,
        raw1,
    ));
    // the same into a pool whose catalog is in PostgreSQL (what several
    // hosts share): every catalog statement is a round trip
    if let Ok(url) = std::env::var("COMBSTORE_PG_URL") {
        let pg_dir = ctx.work.join("pool-pg");
        let best = best_interleaved(2, ctx.cfg.reps, |i, rep| {
            if i == 0 {
                raw_put(&s, &stream, len, 1, &format!("one-pg-{rep}"))
            } else {
                new_pool_with(&s, &pg_dir, Some(&url));
                let srv = Srv::open(&pg_dir);
                let r = contenders::ingest(&srv.lsu(), "pool1", &Source::file(&stream, 0, len), 1 << 20);
                drop(srv);
                r
            }
        });
        ctx.add(ingest_figure(
            "pool.ingest_pg",
            "pool: ingest, catalog in PostgreSQL, 1 stream",
            best[1].0,
            best[0].0,
        ));
        let _ = std::fs::remove_dir_all(&pg_dir);
    }
    if ctx.single_mbs > 0.0 {
        ctx.add(
            Figure::new(
                "pool.ingest_vs_local",
                "pool: ingest vs the embedded default (segment files)",
                pool1,
                "MB/s",
            )
            .ratio(ctx.single_mbs, "local"),
        );
    }

    // restore of the last pool's image vs a GET of the last raw object
    let raw_obj = format!("bench/raw/one-{}-0", ctx.cfg.reps - 1);
    let (rawg, poolr) = restore_vs_get(ctx, &s, &raw_obj, &dir, "pool1");
    ctx.add(Figure::new(
        "pool.raw_get",
        "pool: raw GET of the object (streaming)",
        rawg,
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "pool.restore",
            "pool: plugin restore from a pool, 1 MiB reads",
            poolr,
            "MB/s",
        )
        .ratio(rawg, "raw GET")
        .target(Target::AtLeast(0.7)),
    );

    // generation 2 into the same pool (most of its chunks are generation
    // 1's, in generation 1's objects), restored vs the same raw GET
    let gen2 = ctx.work.join("stream-gen2.bin");
    if !gen2.exists() {
        datagen::to_file(&gen2, ctx.cfg.seed, 2, len).expect("write generation 2");
    }
    let srv = Srv::open(&dir);
    contenders::ingest(&srv.lsu(), "pool1_gen2", &Source::file(&gen2, 0, len), 1 << 20);
    drop(srv);
    let (rawg2, gen2r) = restore_vs_get(ctx, &s, &raw_obj, &dir, "pool1_gen2");
    ctx.add(
        Figure::new(
            "pool.restore_gen2",
            "pool: restore of generation 2 (deduplicated against 1)",
            gen2r,
            "MB/s",
        )
        .ratio(rawg2, "raw GET")
        .target(Target::AtLeast(0.7)),
    );

    // the host cache (opt-in): what writing every uploaded byte to a
    // local file too costs one stream's ingest, against the default
    // measured alongside
    let cached_dir = ctx.work.join("pool-cached");
    let best = best_interleaved(2, ctx.cfg.reps, |i, _| {
        let d = if i == 0 { &dir } else { &cached_dir };
        new_pool(&s, d);
        if i == 1 {
            append_pool_line(d, &format!("COMBSTORE_S3_CACHE_MIB={CACHE_MIB}"));
        }
        let srv = Srv::open(d);
        let r = contenders::ingest(&srv.lsu(), "pool1", &Source::file(&stream, 0, len), 1 << 20);
        drop(srv);
        r
    });
    let _ = std::fs::remove_dir_all(&cached_dir);
    ctx.add(
        Figure::new(
            "pool.ingest_cached",
            "pool: ingest, 1 stream, with the host cache (opt-in)",
            best[1].0,
            "MB/s",
        )
        .ratio(best[0].0, "no cache"),
    );
    // and where it pays: a restore right after the backup from a store
    // far away, from the store and from the host cache
    far_restores(ctx, &s);

    // 4 streams from 2 processes vs 4 raw uploads at once
    let (raw4, pool4) = four_streams(ctx, &s, "conc", None);
    ctx.add(Figure::new(
        "pool.raw_put4",
        "pool: raw multipart PUT, 4 streams at once",
        raw4,
        "MB/s",
    ));
    ctx.add(ingest_figure(
        "pool.ingest4",
        "pool: plugin ingest, 4 streams from 2 processes",
        pool4,
        raw4,
    ));
    // the same with the catalog in PostgreSQL: the two processes stand
    // for two hosts sharing one pool, every commit ordered by the
    // catalog's lock; then with the payload check https pools use
    if let Ok(url) = std::env::var("COMBSTORE_PG_URL") {
        let (raw, pool) = four_streams(ctx, &s, "conc-pg", Some(&url));
        ctx.add(ingest_figure(
            "pool.ingest4_pg",
            "pool: ingest, 4 streams from 2 processes, catalog in PostgreSQL",
            pool,
            raw,
        ));
        let c = store(true).expect("the store above");
        let (raw, pool) = four_streams(ctx, &c, "conc-crc", Some(&url));
        ctx.add(ingest_figure(
            "pool.ingest4_pg_crc64",
            "pool: the same, payloads with CRC64 (opt-in)",
            pool,
            raw,
        ));
    }
    ctx.note(format!(
        "pool: Garage {} on loopback (single node, scripts/garage.sh), the same {} stream; raw = object_store, \
         8 MiB parts, {IN_FLIGHT} in flight per stream, the file read in the timed loop; a new pool (empty, so nothing \
         deduplicates against earlier runs) for every plugin ingest; best of {} runs, interleaved",
        std::env::var("GARAGE_VERSION").unwrap_or_else(|_| "2.5.0".into()),
        crate::util::human_bytes(len),
        ctx.cfg.reps,
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
