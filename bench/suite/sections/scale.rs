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
use crate::util::{logical_bytes, p50_p99, read_full};

const SMALL: usize = 64 << 10;

pub fn run(ctx: &mut Ctx) {
    let n = ctx.cfg.catalog_images;
    println!("5. catalog scale ({n} images)");
    let dir = ctx.work.join("scale-server");
    prefill_figure(
        ctx,
        false,
        &dir,
        n,
        "catalog.prefill",
        "created by the engine's Rust API (Server::prefill_empty_images: the rows of create + close complete, \
         archive records indexed, 10,000 images per transaction), not through C; everything after it is \
         through the C entry points",
    );
    let srv = Srv::open(&dir);
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
    let (p50, p99) = p50_p99(&mut create_ms);
    let at = format!("at {n} images");
    ctx.add(Figure::new(
        "catalog.create_close_p50",
        &format!("catalog: create+write 64 KiB+close p50 {at}"),
        p50,
        "ms",
    ));
    ctx.add(
        Figure::new(
            "catalog.create_close_p99",
            &format!("catalog: create+write 64 KiB+close p99 {at}"),
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
        "catalog.byname_p50",
        &format!("catalog: get_image_prop_byname p50 {at}"),
        p50,
        "ms",
    ));
    ctx.add(Figure::new(
        "catalog.byname_p99",
        &format!("catalog: get_image_prop_byname p99 {at}"),
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
        "catalog.list_time",
        &format!("catalog: full list of {total} names"),
        list_secs,
        "s",
    ));
    ctx.add(
        Figure::new(
            "catalog.list_rate",
            "catalog: full list rate",
            total as f64 / list_secs,
            "names/s",
        )
        .target(Target::AtLeast(500_000.0))
        .note("the issue's target is 1,000,000 names in < 2 s, i.e. >= 500,000 names/s"),
    );
    let size = logical_bytes(&dir.join("catalog.db")) + logical_bytes(&dir.join("catalog.db-wal"));
    ctx.add(
        Figure::new(
            "catalog.size",
            &format!("catalog: catalog.db + WAL {at}"),
            size as f64 / 1e6,
            "MB",
        )
        .note(&format!("{} bytes per image", size / total)),
    );
    drop(srv);
    std::fs::remove_dir_all(&dir).expect("remove scale server");
}
