//! LSU listing and stsp_get_lsu_prop_byname, including the statistics.

use crate::common::*;
use std::ptr;
use sys::{sts_lsu_info_t, sts_lsu_list_handle_t, sts_lsu_name_t};

#[test]
fn lsu_list_returns_default_then_eno_more() {
    let srv = Server::new();
    let a = api();
    let mut lh: sts_lsu_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_lsu_list(srv.sh, &mut lh), c::EOK);
    assert!(!lh.is_null());
    let mut n = sts_lsu_name_t::default();
    assert_rc!(a.list_lsu(lh, &mut n), c::EOK);
    assert_eq!(cstr(&n.sln_name), "default");
    // ENO_MORE leaves the name untouched, and stays ENO_MORE
    let mut n2 = sts_lsu_name_t::default();
    fill_unterminated(&mut n2.sln_name, b'#');
    assert_rc!(a.list_lsu(lh, &mut n2), c::ENO_MORE);
    assert!(
        n2.sln_name.iter().all(|c| *c as u8 == b'#'),
        "name written with ENO_MORE"
    );
    assert_rc!(a.list_lsu(lh, &mut n2), c::ENO_MORE, "second call after the end");
    assert_rc!(a.close_lsu_list(lh), c::EOK);
}

#[test]
fn lsu_prop_of_new_default_lsu() {
    let srv = Server::new();
    let info = lsu_info(&srv.lsu()).unwrap();
    assert_eq!(cstr(&info.lsu_name.sln_name), "default");
    assert_eq!(info.lsu_block_size as u64, c::BLOCK);
    assert!(info.lsu_capacity > 0, "lsu_capacity 0");
    assert_eq!(info.lsu_used, 0, "new LSU lsu_used");
    assert_eq!(info.lsu_images, 0, "new LSU lsu_images");
    assert!(info.lsu_used_phys <= info.lsu_capacity);
}

#[test]
fn lsu_prop_flags_say_disk_and_how_deleted_space_is_freed() {
    let srv = Server::new();
    let info = lsu_info(&srv.lsu()).unwrap();
    assert_ne!(
        info.lsu_flags & c::LSUF_DISK,
        0,
        "STS_LSUF_DISK not set: 0x{:x}",
        info.lsu_flags
    );
    let how = info.lsu_flags & (c::LSUF_NOT_FREED | c::LSUF_FREED | c::LSUF_FREED_DEFERRED);
    assert_eq!(
        how.count_ones(),
        1,
        "exactly one of STORAGE_NOT_FREED/FREED/FREED_DEFERRED expected: 0x{:x}",
        info.lsu_flags
    );
}

#[test]
fn lsu_prop_unknown_lsu_is_enolsu() {
    let srv = Server::new();
    let mut info = sts_lsu_info_t::default();
    info.lsu_used = 0xdead;
    assert_rc!(
        api().get_lsu_prop_byname(&srv.lsu_named("nosuch"), &mut info),
        c::ENOLSU
    );
    assert_eq!(info.lsu_used, 0xdead, "out-param written on error");
}

#[test]
fn lsu_prop_invalid_lsu_name_is_ename() {
    let srv = Server::new();
    for bad in ["", ".", "..", "a/b", "a\\b"] {
        assert_eq!(
            lsu_info(&srv.lsu_named(bad)).map(|_| ()),
            Err(c::ENAME),
            "{bad:?}"
        );
    }
}

#[test]
fn lsu_used_and_images_grow_with_flushed_writes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let base = lsu_info(&lsu).unwrap();
    let ih = create(&lsu, &image_def("grow", ""));
    let after_create = lsu_info(&lsu).unwrap();
    assert_eq!(
        after_create.lsu_images,
        base.lsu_images + 1,
        "a pending image counts as an image"
    );
    write_all(ih, &seeded(1, 1 << 20), 0);
    flush(ih);
    let s1 = lsu_info(&lsu).unwrap();
    assert_eq!(
        s1.lsu_used,
        base.lsu_used + (1 << 20),
        "lsu_used after 1 MiB flushed"
    );
    assert!(
        s1.lsu_used_phys > base.lsu_used_phys,
        "lsu_used_phys did not grow: {} -> {}",
        base.lsu_used_phys,
        s1.lsu_used_phys
    );
    write_all(ih, &seeded(2, 1 << 20), 1 << 20);
    flush(ih);
    let s2 = lsu_info(&lsu).unwrap();
    assert_eq!(
        s2.lsu_used,
        base.lsu_used + (2 << 20),
        "lsu_used after 2 MiB flushed"
    );
    assert!(
        s2.lsu_used_phys > s1.lsu_used_phys,
        "lsu_used_phys did not grow: {} -> {}",
        s1.lsu_used_phys,
        s2.lsu_used_phys
    );
    close(ih, c::CLOSE_COMPLETE);
    let s3 = lsu_info(&lsu).unwrap();
    assert_eq!(s3.lsu_used, base.lsu_used + (2 << 20));
    assert_eq!(s3.lsu_images, base.lsu_images + 1);
}

#[test]
fn lsu_used_is_sum_of_image_sizes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let sizes = [0usize, 512, 4096, 100 * 1024, 3 * 512];
    for (i, s) in sizes.iter().enumerate() {
        store_complete(&lsu, &image_def(&format!("i{i}"), ""), &seeded(i as u64, *s));
    }
    // a sparse image counts its logical size
    let ih = create(&lsu, &image_def("sparse", ""));
    write_all(ih, &seeded(99, 512), 1 << 20);
    close(ih, c::CLOSE_COMPLETE);
    let info = lsu_info(&lsu).unwrap();
    let total: u64 = sizes.iter().map(|s| *s as u64).sum::<u64>() + (1 << 20) + 512;
    assert_eq!(info.lsu_used, total);
    assert_eq!(info.lsu_images, sizes.len() as u64 + 1);
}

#[test]
fn lsu_stats_return_after_delete() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let base = lsu_info(&lsu).unwrap();
    let def = image_def("temp", "");
    store_complete(&lsu, &def, &seeded(5, 2 << 20));
    let full = lsu_info(&lsu).unwrap();
    assert_eq!(full.lsu_used, base.lsu_used + (2 << 20));
    assert_rc!(api().delete_image(&lsu, &def, 0), c::EOK);
    let after = lsu_info(&lsu).unwrap();
    assert_eq!(after.lsu_used, base.lsu_used, "lsu_used after delete");
    assert_eq!(after.lsu_images, base.lsu_images, "lsu_images after delete");
    if after.lsu_flags & c::LSUF_FREED != 0 {
        assert!(
            after.lsu_used_phys <= base.lsu_used_phys,
            "STS_LSUF_STORAGE_FREED yet lsu_used_phys {} after delete > {} before the image",
            after.lsu_used_phys,
            base.lsu_used_phys
        );
    } else if after.lsu_flags & c::LSUF_FREED_DEFERRED != 0 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = lsu_info(&lsu).unwrap();
            if now.lsu_used_phys <= base.lsu_used_phys {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "deferred free never happened: phys {}",
                now.lsu_used_phys
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    } else {
        assert!(after.lsu_used_phys >= base.lsu_used_phys);
    }
}

#[test]
fn lsu_prop_through_second_server_handle_sees_flushed_writes() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("x", ""));
    write_all(ih, &seeded(4, 256 * 1024), 0);
    flush(ih);
    let sh2 = srv.another_handle();
    let info = lsu_info(&lsu_t(sh2, "default")).unwrap();
    assert_eq!(info.lsu_used, 256 * 1024);
    assert_eq!(info.lsu_images, 1);
    assert_rc!(api().close_server(sh2), c::EOK);
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn writers_commit_at_least_every_64_mib_without_flush() {
    // "lsu_used and lsu_used_phys include data committed by writers still
    // writing (committed at least every 64 MiB and at each flush)"
    let srv = Server::new();
    let def = image_def("stream", "");
    let ih = create(&srv.lsu(), &def);
    for i in 0..72u64 {
        // distinct bytes per MiB: repeated ones would be stored once
        assert_rc!(
            write_at(ih, &seeded(8 + i, 1 << 20), i << 20),
            c::EOK,
            "write {i}"
        );
    }
    // seen through another server handle, as committed
    let sh2 = srv.another_handle();
    let lsu2 = lsu_t(sh2, "default");
    let info = lsu_info(&lsu2).unwrap();
    assert!(
        info.lsu_used >= 64 << 20,
        "lsu_used {} after 72 MiB written without flush",
        info.lsu_used
    );
    assert!(
        info.lsu_used_phys >= 64 << 20,
        "lsu_used_phys {} after 72 MiB written without flush",
        info.lsu_used_phys
    );
    let size = must_prop_byname(&lsu2, &def).imo_size;
    assert!(
        (64 << 20..=72 << 20).contains(&size),
        "committed image size {size}"
    );
    assert_rc!(api().close_server(sh2), c::EOK);
    close(ih, c::CLOSE_COMPLETE);
}
