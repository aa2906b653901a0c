//! 4. Duplication: stsp_copy_image on one server (time, physical bytes
//!    added) and to a second server directory vs `cp` of the raw file.

use std::fs::File;
use std::process::Command;

use crate::Ctx;
use crate::common::{self, api, c};
use crate::contenders::{Srv, def};
use crate::report::{Figure, Target};
use crate::util::{mb_per_s, physical_bytes, timed, warm};

pub fn run(ctx: &mut Ctx) {
    println!("4. duplication");
    // The restore figures' image (written to the main server right after
    // a raw copy of the stream) is the one copied, here and to a second server.
    let (raw, image) = super::restore::fresh_pair(ctx);
    let lsu = ctx.srv().lsu();
    let segs = ctx.srv().segments();
    let catalog = ctx.srv().dir.clone();
    let (seg0, all0) = (physical_bytes(&segs), physical_bytes(&catalog));
    let phys0 = common::lsu_info(&lsu).expect("lsu info").lsu_used_phys;
    // The first copy is kept for the checks; more copies (deleted again)
    // give a best-of time like every other figure: one copy is one catalog
    // commit, whose sync time swings with the neighbours' I/O.
    let (rc, mut secs) = timed(|| api().copy_image(&lsu, &def("fresh1_copy"), &lsu, &def(&image), 0));
    crate::assert_rc!(rc, c::EOK, "same-server stsp_copy_image");
    let seg_added = physical_bytes(&segs).saturating_sub(seg0);
    let all_added = physical_bytes(&catalog).saturating_sub(all0);
    let phys_added = common::lsu_info(&lsu).expect("lsu info").lsu_used_phys - phys0;
    for k in 1..ctx.cfg.reps {
        let name = format!("fresh1_copy_{k}");
        let (rc, s) = timed(|| api().copy_image(&lsu, &def(&name), &lsu, &def(&image), 0));
        crate::assert_rc!(rc, c::EOK, "same-server stsp_copy_image");
        secs = secs.min(s);
        crate::contenders::delete(&lsu, &name);
    }
    let copy = common::must_prop_byname(&lsu, &def("fresh1_copy"));
    assert_eq!(common::cstr(&copy.imo_sha1), ctx.stream_sha1, "the copy's SHA-1");
    ctx.add(
        Figure::new(
            "dup.same_server_time",
            "dup: copy_image same server, time",
            secs * 1e3,
            "ms",
        )
        .ratio(ctx.single_secs * 1e3, "write time")
        .target(Target::AtMost(0.01))
        .note(&format!(
            "best of {} copies of the restore figures' image of the stream, each one catalog transaction \
             (extents shared, no bytes copied)",
            ctx.cfg.reps.max(1)
        )),
    );
    ctx.add(
        Figure::new(
            "dup.same_server_phys",
            "dup: copy_image same server, segment bytes added",
            seg_added as f64 / (1 << 20) as f64,
            "MiB",
        )
        .target(Target::Below(1.0))
        .note(&format!(
            "st_blocks*512 of segments/ before and after; lsu_used_phys grew by {phys_added} bytes; \
                 the whole server directory (catalog and WAL included) by {all_added} bytes"
        )),
    );

    let dir2 = ctx.work.join("second-server");
    drop(Srv::open(&dir2));
    ctx.cold_server(&[&raw]);
    let lsu = ctx.srv().lsu();
    let target = common::open_target_server(ctx.srv().sh, &common::server_name_for(&dir2))
        .unwrap_or_else(|rc| panic!("stsp_open_target_server -> {}", common::code_name(rc)));
    let to = common::lsu_t(target, "default");
    let (rc, secs) = timed(|| api().copy_image(&to, &def("fresh1_x"), &lsu, &def(&image), 0));
    crate::assert_rc!(rc, c::EOK, "cross-server stsp_copy_image");
    api().close_server(target);
    let len = ctx.cfg.stream_len;
    let copy_mbs = mb_per_s(len, secs);

    ctx.cold_server(&[&raw]);
    let dst = ctx.work.join("cp-copy.bin");
    let (_, cp_secs) = timed(|| {
        let st = Command::new("cp").arg(&raw).arg(&dst).status().expect("run cp");
        assert!(st.success(), "cp failed");
        File::open(&dst)
            .and_then(|f| f.sync_all())
            .expect("fsync the copy");
    });
    std::fs::remove_file(&dst).expect("remove cp copy");
    let cp_mbs = mb_per_s(len, cp_secs);
    ctx.add(Figure::new(
        "dup.cp",
        "dup: cp of the raw file + fsync",
        cp_mbs,
        "MB/s",
    ));
    ctx.add(
        Figure::new(
            "dup.cross_server",
            "dup: copy_image to a second server",
            copy_mbs,
            "MB/s",
        )
        .ratio(cp_mbs, "cp")
        .note(
            "the image and raw copy of the restore figures, both cold-ish; the plugin's copy is durable and \
             SHA-1-checked when it returns",
        ),
    );
    std::fs::remove_dir_all(&dir2).expect("remove second server");
    warm(&ctx.stream);
}
