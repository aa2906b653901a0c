//! 5. Catalog scale: N images in one LSU (prefilled by the engine
//!    directly), then through C: create+close latency of a small image,
//!    get_image_prop_byname latency, a full listing, the catalog's size.

use std::time::Instant;

use crate::Ctx;
use crate::common::{self, api, c, sys};
use crate::contenders::{Srv, def};
use crate::datagen::SplitMix;
use crate::report::{Figure, Target};
use crate::roles::{prefill_figure, prefilled_image};
use crate::sections::pool::write_pool_file;
use crate::util::{logical_bytes, p50_p99, read_full};

const SMALL: usize = 64 << 10;

const PREFILL_NOTE: &str = "created by the engine's Rust API (Server::prefill_empty_images: the rows of create + \
     close complete, archive records indexed, 10,000 images per transaction), not through C; everything after \
     it is through the C entry points";

pub fn run(ctx: &mut Ctx) {
    let n = ctx.cfg.catalog_images;
    println!("5. catalog scale ({n} images)");
    let dir = ctx.work.join("scale-server");
    prefill_figure(ctx, false, &dir, n, "catalog.prefill", PREFILL_NOTE);
    measure(ctx, &dir, n, "catalog");
    let size = logical_bytes(&dir.join("catalog.db")) + logical_bytes(&dir.join("catalog.db-wal"));
    let total = n + ctx.cfg.create_samples as u64;
    ctx.add(
        Figure::new(
            "catalog.size",
            &format!("catalog: catalog.db + WAL at {n} images"),
            size as f64 / 1e6,
            "MB",
        )
        .note(&format!("{} bytes per image", size / total)),
    );
    std::fs::remove_dir_all(&dir).expect("remove scale server");
}

/// The issue 16 comparison: the same figures at `ctx.cfg.pg_catalog_images`
/// images on two pools on the same object store, one with its catalog in
/// PostgreSQL (scripts/postgres.sh, loopback, fsync on), one in SQLite,
/// in this run. Skipped
/// without `COMBSTORE_PG_URL` and the S3 store (`make bench` starts both).
pub fn run_pg(ctx: &mut Ctx) {
    let n = ctx.cfg.pg_catalog_images;
    let Some(pool) = pool_text() else {
        println!("5b. catalog on PostgreSQL: skipped (no COMBSTORE_PG_URL or COMBSTORE_S3_*)");
        return;
    };
    println!("5b. catalog on PostgreSQL vs SQLite ({n} images)");
    // Both are pools on the same object store: only the catalog differs.
    let lite = ctx.work.join("scale-sqlite");
    let s3_only: String = pool
        .lines()
        .filter(|l| !l.starts_with("COMBSTORE_PG_"))
        .map(|l| format!("{l}\n"))
        .collect();
    write_pool_file(&lite, &s3_only);
    prefill_figure(ctx, false, &lite, n, "catalog_sqlite.prefill", PREFILL_NOTE);
    let (lite_p99, lite_rate) = measure(ctx, &lite, n, "catalog_sqlite");
    std::fs::remove_dir_all(&lite).expect("remove scale server");
    let pg = ctx.work.join("scale-pg");
    write_pool_file(&pg, &pool);
    prefill_figure(ctx, false, &pg, n, "catalog_pg.prefill", PREFILL_NOTE);
    let (pg_p99, pg_rate) = measure(ctx, &pg, n, "catalog_pg");
    ctx.add(
        Figure::new(
            "catalog_pg.create_close_p99_ratio",
            "catalog: create+close p99, PostgreSQL / SQLite",
            pg_p99 / lite_p99,
            "x",
        )
        .note(
            "same images, same run, both pools on the same Garage (only the catalog differs); PostgreSQL 15 on \
             loopback, fsync and synchronous_commit on",
        ),
    );
    ctx.add(Figure::new(
        "catalog_pg.list_rate_ratio",
        "catalog: list rate, PostgreSQL / SQLite",
        pg_rate / lite_rate,
        "x",
    ));
    std::fs::remove_dir_all(&pg).expect("remove pool dir");
}

/// A pool file naming the S3 store and the PostgreSQL database of the
/// environment, under a prefix and a schema of its own.
fn pool_text() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let url = var("COMBSTORE_PG_URL")?;
    let tag = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Some(format!(
        "COMBSTORE_S3_ENDPOINT={}\nCOMBSTORE_S3_REGION={}\nCOMBSTORE_S3_BUCKET={}\nCOMBSTORE_S3_PREFIX=bench/{tag}-{nanos}\n\
         COMBSTORE_S3_KEY_ID={}\nCOMBSTORE_S3_SECRET={}\nCOMBSTORE_PG_URL={url}\nCOMBSTORE_PG_SCHEMA=bench_{tag}_{nanos}\n",
        var("COMBSTORE_S3_ENDPOINT")?,
        var("COMBSTORE_S3_REGION").unwrap_or_else(|| "garage".into()),
        var("COMBSTORE_S3_BUCKET")?,
        var("COMBSTORE_S3_KEY_ID")?,
        var("COMBSTORE_S3_SECRET")?,
    ))
}

/// Through C on the server in `dir` (`n` images prefilled): create+close
/// latency, lookup latency, a full listing. Returns (create+close p99 ms,
/// names listed per second).
fn measure(ctx: &mut Ctx, dir: &std::path::Path, n: u64, key: &str) -> (f64, f64) {
    let srv = Srv::open(dir);
    let lsu = srv.lsu();

    let mut payload = vec![0u8; SMALL];
    let mut f = std::fs::File::open(&ctx.stream).expect("stream");
    read_full(&mut f, &mut payload);
    let mut create_ms: Vec<f64> = (0..ctx.cfg.create_samples)
        .map(|i| {
            let t = Instant::now();
            let ih = common::create(&lsu, &def(&format!("small_{i}")));
            crate::assert_rc!(common::write_at(ih, &payload, 0), c::EOK, "small write");
            common::close(ih, c::CLOSE_COMPLETE);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let (p50, create_p99) = p50_p99(&mut create_ms);
    let p99 = create_p99;
    let at = format!("at {n} images");
    ctx.add(Figure::new(
        &format!("{key}.create_close_p50"),
        &format!("{key}: create+write 64 KiB+close p50 {at}"),
        p50,
        "ms",
    ));
    ctx.add(
        Figure::new(
            &format!("{key}.create_close_p99"),
            &format!("{key}: create+write 64 KiB+close p99 {at}"),
            p99,
            "ms",
        )
        .target(Target::Below(5.0)),
    );

    let mut r = SplitMix(ctx.cfg.seed ^ 0x6279_6e61);
    let mut byname_ms: Vec<f64> = (0..ctx.cfg.byname_samples)
        .map(|_| {
            let (base, date) = prefilled_image(r.below(n));
            let d = common::image_def(&base, &date);
            let mut info = sys::sts_image_info_t::default();
            let t = Instant::now();
            let rc = api().get_image_prop_byname(&lsu, &d, &mut info);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            crate::assert_rc!(rc, c::EOK, "get_image_prop_byname {base}");
            ms
        })
        .collect();
    let (p50, p99) = p50_p99(&mut byname_ms);
    ctx.add(Figure::new(
        &format!("{key}.byname_p50"),
        &format!("{key}: get_image_prop_byname p50 {at}"),
        p50,
        "ms",
    ));
    ctx.add(Figure::new(
        &format!("{key}.byname_p99"),
        &format!("{key}: get_image_prop_byname p99 {at}"),
        p99,
        "ms",
    ));

    let t = Instant::now();
    let mut lh: sys::sts_image_list_handle_t = std::ptr::null_mut();
    crate::assert_rc!(api().open_image_list(&lsu, &mut lh), c::EOK, "open_image_list");
    let mut d = sys::sts_image_def_t::default();
    let mut listed = 0u64;
    loop {
        match api().list_image(lh, &mut d) {
            0 => listed += 1,
            rc if rc == c::ENO_MORE => break,
            rc => panic!("stsp_list_image -> {}", common::code_name(rc)),
        }
    }
    crate::assert_rc!(api().close_image_list(lh), c::EOK, "close_image_list");
    let list_secs = t.elapsed().as_secs_f64();
    let total = n + ctx.cfg.create_samples as u64;
    assert_eq!(listed, total, "listed names");
    ctx.add(Figure::new(
        &format!("{key}.list_time"),
        &format!("{key}: full list of {total} names"),
        list_secs,
        "s",
    ));
    ctx.add(
        Figure::new(
            &format!("{key}.list_rate"),
            &format!("{key}: full list rate"),
            total as f64 / list_secs,
            "names/s",
        )
        .target(Target::AtLeast(500_000.0))
        .note("the issue's target is 1,000,000 names in < 2 s, i.e. >= 500,000 names/s"),
    );
    drop(srv);
    (create_p99, total as f64 / list_secs)
}
