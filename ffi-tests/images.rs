//! Image create / write / close / open / read / delete semantics.

use crate::common::*;
use std::ptr;
use sys::{sts_image_handle_t, sts_stat_t};

fn assert_flags(info: &sys::sts_image_info_t, set: u32, clear: u32, what: &str) {
    assert_eq!(
        info.imo_flags & set,
        set,
        "{what}: expected {} set, flags {}",
        flags_str(set),
        flags_str(info.imo_flags)
    );
    assert_eq!(
        info.imo_flags & clear,
        0,
        "{what}: expected {} clear, flags {}",
        flags_str(clear),
        flags_str(info.imo_flags)
    );
}

// ------------------------------------------------------------------ create

#[test]
fn create_image_sets_pending_and_busy_write() {
    let srv = Server::new();
    let t0 = now_ms();
    let ih = create(&srv.lsu(), &image_def("new", "20240102"));
    let info = prop(ih).unwrap();
    assert_flags(
        &info,
        c::II_PENDING | c::II_BUSY_WRITE,
        c::II_CREATED | c::II_COMPLETE | c::II_ABNORMAL | c::II_FILES_PENDING | c::II_FILES_CREATED,
        "new image",
    );
    assert_eq!(info.imo_size, 0);
    assert_eq!(info.imo_block_size as u64, c::BLOCK);
    assert_eq!(cstr(&info.imo_def.img_basename), "new");
    assert_eq!(cstr(&info.imo_def.img_date), "20240102");
    assert_eq!(cstr(&info.imo_lsu.sln_name), "default");
    assert_eq!(cstr(&info.imo_objid), "", "objid is empty until complete");
    assert_eq!(cstr(&info.imo_sha1), "", "sha1 is empty until complete");
    assert_eq!(info.imo_complete_ms, 0, "complete_ms is 0 until complete");
    assert!(
        info.imo_ctime_ms + 5_000 >= t0 && info.imo_ctime_ms <= now_ms() + 5_000,
        "ctime {} vs now {}",
        info.imo_ctime_ms,
        t0
    );
    close(ih, c::CLOSE_INCOMPLETE);
}

#[test]
fn create_image_is_visible_byname_as_pending_busy_write() {
    let srv = Server::new();
    let def = image_def("new", "");
    let ih = create(&srv.lsu(), &def);
    let info = must_prop_byname(&srv.lsu(), &def);
    assert_flags(
        &info,
        c::II_PENDING | c::II_BUSY_WRITE,
        c::II_COMPLETE | c::II_CREATED,
        "byname",
    );
    close(ih, c::CLOSE_INCOMPLETE);
}

#[test]
fn create_duplicate_image_is_eexist() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("dup", "d");
    let ih = create(&lsu, &def);
    assert_eq!(
        try_create(&lsu, &def).map(|_| ()),
        Err(c::EEXIST),
        "while the first is open"
    );
    write_all(ih, &seeded(1, 1024), 0);
    close(ih, c::CLOSE_INCOMPLETE);
    assert_eq!(
        try_create(&lsu, &def).map(|_| ()),
        Err(c::EEXIST),
        "pending image"
    );
    let ih = open(&lsu, &def, c::O_WRITE);
    close(ih, c::CLOSE_COMPLETE);
    assert_eq!(
        try_create(&lsu, &def).map(|_| ()),
        Err(c::EEXIST),
        "complete image"
    );
    // the failed creates changed nothing
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(info.imo_size, 1024);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&seeded(1, 1024)));
}

#[test]
fn same_basename_different_dates_are_distinct_images() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let d1 = seeded(1, 512);
    let d2 = seeded(2, 1024);
    let d3 = seeded(3, 1536);
    store_complete(&lsu, &image_def("b", "1"), &d1);
    store_complete(&lsu, &image_def("b", "2"), &d2);
    store_complete(&lsu, &image_def("b", ""), &d3);
    assert_bytes_eq(&read_image(&lsu, &image_def("b", "1")), &d1, "b/1");
    assert_bytes_eq(&read_image(&lsu, &image_def("b", "2")), &d2, "b/2");
    assert_bytes_eq(&read_image(&lsu, &image_def("b", "")), &d3, "b/''");
}

#[test]
fn create_image_pendingflag_changes_nothing() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let mut ih: sts_image_handle_t = ptr::null_mut();
    assert_rc!(api().create_image(&lsu, &image_def("p1", ""), 1, &mut ih), c::EOK);
    let a = prop(ih).unwrap();
    close(ih, c::CLOSE_COMPLETE);
    let mut ih2: sts_image_handle_t = ptr::null_mut();
    assert_rc!(
        api().create_image(&lsu, &image_def("p0", ""), 0, &mut ih2),
        c::EOK
    );
    let b = prop(ih2).unwrap();
    close(ih2, c::CLOSE_COMPLETE);
    assert_eq!(a.imo_flags, b.imo_flags);
    let fa = must_prop_byname(&lsu, &image_def("p1", "")).imo_flags;
    let fb = must_prop_byname(&lsu, &image_def("p0", "")).imo_flags;
    assert_eq!(fa, fb);
}

#[test]
fn image_names_with_unicode_and_single_dots_are_valid() {
    let srv = Server::new();
    let lsu = srv.lsu();
    for (b, d) in [
        ("bäckup-日本", "2024-01-01T00:00"),
        (".hidden", ""),
        ("a.", "x."),
        ("a.b.c", "x.y"),
        ("a b", "c d"),
    ] {
        let data = seeded(fnv1a(b), 512);
        store_complete(&lsu, &image_def(b, d), &data);
        assert_bytes_eq(&read_image(&lsu, &image_def(b, d)), &data, b);
    }
}

#[test]
fn image_name_of_maximum_length_is_valid() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let base = "b".repeat(c::MAX_IMAGENAME - 1);
    let date = "d".repeat(c::MAX_DATE - 1);
    let def = image_def(&base, &date);
    store_complete(&lsu, &def, &seeded(1, 512));
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(cstr(&info.imo_def.img_basename), base);
    assert_eq!(cstr(&info.imo_def.img_date), date);
    assert_eq!(list_images(&lsu), vec![(base.into_bytes(), date.into_bytes())]);
}

// ------------------------------------------------------------------ write

#[test]
fn write_reports_byteswritten_equal_to_len() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("w", ""));
    for len in [512usize, 4096, 65536, 3 * 512] {
        let data = seeded(len as u64, len);
        let mut n = 0u64;
        assert_rc!(
            api().write_image(ih, ptr::null(), data.as_ptr().cast(), len as u64, 0, &mut n),
            c::EOK
        );
        assert_eq!(n, len as u64);
    }
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn write_accepts_null_and_non_null_stat() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("stat", "");
    let ih = create(&lsu, &def);
    let data = seeded(1, 1024);
    let stat = sts_stat_t {
        ss_reserved: [1, 2, 3, 4],
    };
    let mut n = 0u64;
    assert_rc!(
        api().write_image(ih, &stat, data.as_ptr().cast(), 512, 0, &mut n),
        c::EOK
    );
    assert_rc!(
        api().write_image(ih, ptr::null(), data[512..].as_ptr().cast(), 512, 512, &mut n),
        c::EOK
    );
    close(ih, c::CLOSE_COMPLETE);
    assert_bytes_eq(&read_image(&lsu, &def), &data, "stat image");
}

#[test]
fn write_of_zero_bytes_with_null_buffer_is_ok() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("z", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 1024), 0);
    let mut n = u64::MAX;
    assert_rc!(
        api().write_image(ih, ptr::null(), ptr::null(), 0, 0, &mut n),
        c::EOK
    );
    assert_eq!(n, 0, "byteswritten for len 0");
    assert_eq!(prop(ih).unwrap().imo_size, 1024, "size changed by an empty write");
    close(ih, c::CLOSE_COMPLETE);
    assert_bytes_eq(&read_image(&lsu, &def), &seeded(1, 1024), "data");
}

#[test]
fn image_size_on_write_handle_counts_unflushed_bytes() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("s", ""));
    let mut expect = 0u64;
    for i in 0..8u64 {
        write_all(ih, &seeded(i, 4096), i * 4096);
        expect += 4096;
        assert_eq!(prop(ih).unwrap().imo_size, expect, "after write {i}, no flush");
    }
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn image_size_byname_counts_flushed_bytes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("s", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 4096), 0);
    flush(ih);
    assert_eq!(must_prop_byname(&lsu, &def).imo_size, 4096, "after flush");
    write_all(ih, &seeded(2, 4096), 4096);
    let unflushed = must_prop_byname(&lsu, &def).imo_size;
    assert!(
        unflushed == 4096 || unflushed == 8192,
        "byname size {unflushed} is neither committed nor written size"
    );
    flush(ih);
    assert_eq!(must_prop_byname(&lsu, &def).imo_size, 8192, "after second flush");
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn image_size_is_highest_offset_plus_len() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("hi", ""));
    write_all(ih, &seeded(1, 512), 10 * 512);
    assert_eq!(prop(ih).unwrap().imo_size, 11 * 512);
    write_all(ih, &seeded(2, 1024), 0);
    assert_eq!(
        prop(ih).unwrap().imo_size,
        11 * 512,
        "a write below the end does not change the size"
    );
    write_all(ih, &seeded(3, 512), 20 * 512);
    assert_eq!(prop(ih).unwrap().imo_size, 21 * 512);
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn writes_at_block_offsets_in_any_order_read_back() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("ooo", "");
    let data = seeded(42, 257 * 512);
    let mut order: Vec<usize> = (0..257).collect();
    let mut rng = Rng(7);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let ih = create(&lsu, &def);
    for b in order {
        assert_rc!(
            write_at(ih, &data[b * 512..(b + 1) * 512], (b * 512) as u64),
            c::EOK
        );
    }
    close(ih, c::CLOSE_COMPLETE);
    assert_bytes_eq(&read_image(&lsu, &def), &data, "shuffled blocks");
}

#[test]
fn gaps_read_back_as_zeros() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("gap", "");
    let a = seeded(1, 4096);
    let b = seeded(2, 4096);
    let ih = create(&lsu, &def);
    write_all(ih, &a, 0);
    write_all(ih, &b, 3 << 20);
    close(ih, c::CLOSE_COMPLETE);
    let mut want = vec![0u8; (3 << 20) + 4096];
    want[..4096].copy_from_slice(&a);
    want[3 << 20..].copy_from_slice(&b);
    assert_bytes_eq(&read_image(&lsu, &def), &want, "sparse image");
}

#[test]
fn gap_at_start_reads_as_zeros() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("lead", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 512), 8192);
    close(ih, c::CLOSE_COMPLETE);
    let got = read_image(&lsu, &def);
    assert_eq!(got.len(), 8192 + 512);
    assert!(got[..8192].iter().all(|b| *b == 0), "leading gap not zero");
    assert_eq!(&got[8192..], &seeded(1, 512)[..]);
}

#[test]
fn overwrite_before_completion_replaces_bytes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("ow", "");
    let mut want = seeded(1, 64 * 1024);
    let ih = create(&lsu, &def);
    write_all(ih, &want, 0);
    flush(ih);
    let patch = seeded(2, 8192);
    write_all(ih, &patch, 4096);
    want[4096..4096 + 8192].copy_from_slice(&patch);
    let patch2 = seeded(3, 512);
    write_all(ih, &patch2, 0); // unflushed overwrite of flushed data
    want[..512].copy_from_slice(&patch2);
    close(ih, c::CLOSE_COMPLETE);
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(info.imo_size, want.len() as u64);
    assert_eq!(
        cstr(&info.imo_sha1),
        sha1_hex(&want),
        "sha1 is of the final bytes"
    );
    assert_bytes_eq(&read_image(&lsu, &def), &want, "overwritten image");
}

#[test]
fn overwrite_spanning_old_end_extends_image() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("ext", "");
    let mut want = seeded(1, 8192);
    let ih = create(&lsu, &def);
    write_all(ih, &want, 0);
    let tail = seeded(2, 8192);
    write_all(ih, &tail, 4096);
    want.truncate(4096);
    want.extend_from_slice(&tail);
    close(ih, c::CLOSE_COMPLETE);
    assert_bytes_eq(&read_image(&lsu, &def), &want, "overlap");
}

#[test]
fn single_large_write_reads_back_in_other_chunk_sizes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("big", "");
    let data = seeded(77, 16 << 20);
    let ih = create(&lsu, &def);
    assert_rc!(write_at(ih, &data, 0), c::EOK);
    close(ih, c::CLOSE_COMPLETE);
    let rh = open(&lsu, &def, c::O_READ);
    for chunk in [3 * 512 * 1024 + 512, 16 << 20, 32 << 20] {
        assert_bytes_eq(
            &read_all_chunked(rh, chunk),
            &data,
            &format!("reads of {chunk} bytes"),
        );
    }
    // single blocks: every 1000th (not 32768 calls)
    for b in (0..(16u64 << 20) / 512).step_by(1000) {
        let got = read_at(rh, 512, b * 512).unwrap();
        assert_bytes_eq(
            &got,
            &data[(b * 512) as usize..(b * 512 + 512) as usize],
            &format!("block {b}"),
        );
    }
    close(rh, 0);
}

// ------------------------------------------------------------------ complete

#[test]
fn close_complete_sets_created_complete_and_clears_pending_busy() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("c", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 4096), 0);
    close(ih, c::CLOSE_COMPLETE);
    let info = must_prop_byname(&lsu, &def);
    assert_flags(
        &info,
        c::II_CREATED | c::II_COMPLETE,
        c::II_PENDING | c::II_BUSY_WRITE | c::II_ABNORMAL,
        "complete image",
    );
    assert_eq!(info.imo_size, 4096);
}

#[test]
fn close_complete_records_sha1_of_the_bytes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let data = seeded(5, 3 * 1024 * 1024 + 512);
    let def = image_def("sha", "");
    store_complete(&lsu, &def, &data);
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&data));
    // same through a read handle
    let rh = open(&lsu, &def, c::O_READ);
    assert_eq!(cstr(&prop(rh).unwrap().imo_sha1), sha1_hex(&data));
    close(rh, 0);
}

#[test]
fn close_complete_sha1_covers_gap_zeros() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("sparse", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 512), 1 << 20);
    close(ih, c::CLOSE_COMPLETE);
    let mut want = vec![0u8; (1 << 20) + 512];
    want[1 << 20..].copy_from_slice(&seeded(1, 512));
    assert_eq!(cstr(&must_prop_byname(&lsu, &def).imo_sha1), sha1_hex(&want));
}

#[test]
fn empty_image_completes_with_sha1_of_nothing() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("empty", "");
    let ih = create(&lsu, &def);
    close(ih, c::CLOSE_COMPLETE);
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(info.imo_size, 0);
    assert_eq!(cstr(&info.imo_sha1), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_flags(&info, c::II_COMPLETE | c::II_CREATED, c::II_PENDING, "empty");
    let rh = open(&lsu, &def, c::O_READ);
    assert_eq!(read_at(rh, 512, 0).unwrap(), Vec::<u8>::new());
    close(rh, 0);
}

#[test]
fn close_complete_records_objid_of_60_lowercase_hex_digits() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("o", "");
    store_complete(&lsu, &def, &seeded(1, 512));
    let id = cstr(&must_prop_byname(&lsu, &def).imo_objid);
    assert_eq!(id.len(), 60, "objid {id:?}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "objid {id:?} is not lower-case hex"
    );
}

#[test]
fn objids_differ_between_images_even_with_equal_bytes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let data = seeded(1, 4096);
    store_complete(&lsu, &image_def("x", ""), &data);
    store_complete(&lsu, &image_def("y", ""), &data);
    let a = cstr(&must_prop_byname(&lsu, &image_def("x", "")).imo_objid);
    let b = cstr(&must_prop_byname(&lsu, &image_def("y", "")).imo_objid);
    assert!(!a.is_empty());
    assert_ne!(a, b, "two images share an object id");
}

#[test]
fn close_complete_sets_complete_time() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("t", "");
    let t0 = now_ms();
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 512), 0);
    close(ih, c::CLOSE_COMPLETE);
    let t1 = now_ms();
    let info = must_prop_byname(&lsu, &def);
    assert!(info.imo_complete_ms != 0, "imo_complete_ms not set");
    assert!(
        info.imo_complete_ms + 5_000 >= t0 && info.imo_complete_ms <= t1 + 5_000,
        "complete_ms {} not in [{t0}, {t1}]",
        info.imo_complete_ms
    );
    assert!(
        info.imo_complete_ms >= info.imo_ctime_ms,
        "complete before creation"
    );
    assert!(info.imo_mtime_ms >= info.imo_ctime_ms, "mtime before ctime");
}

#[test]
fn complete_image_with_data_refers_to_extents() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("e", "");
    store_complete(&lsu, &def, &seeded(1, 1 << 20));
    assert!(
        must_prop_byname(&lsu, &def).imo_extent_count >= 1,
        "extent_count 0 for a 1 MiB image"
    );
}

#[test]
fn reopen_complete_image_for_write_is_ecomplete() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("done", "");
    let data = seeded(1, 2048);
    store_complete(&lsu, &def, &data);
    assert_eq!(try_open(&lsu, &def, c::O_WRITE).map(|_| ()), Err(c::ECOMPLETE));
    let info = must_prop_byname(&lsu, &def);
    assert_flags(
        &info,
        c::II_COMPLETE,
        c::II_BUSY_WRITE | c::II_PENDING,
        "after refused reopen",
    );
    assert_bytes_eq(&read_image(&lsu, &def), &data, "unchanged");
}

#[test]
fn write_through_read_handle_is_emode() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("r", "");
    let data = seeded(1, 2048);
    store_complete(&lsu, &def, &data);
    let rh = open(&lsu, &def, c::O_READ);
    assert_rc!(write_at(rh, &seeded(2, 512), 0), c::EMODE);
    assert_rc!(write_at(rh, &seeded(2, 512), 2048), c::EMODE, "append");
    assert_rc!(api().flush(rh), c::EMODE, "flush on a read handle");
    close(rh, 0);
    assert_bytes_eq(&read_image(&lsu, &def), &data, "unchanged");
}

#[test]
fn read_through_write_handle_is_emode() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("w", ""));
    write_all(ih, &seeded(1, 4096), 0);
    assert_eq!(read_at(ih, 512, 0).map(|_| ()), Err(c::EMODE));
    close(ih, c::CLOSE_INCOMPLETE);
    let wh = open(&srv.lsu(), &image_def("w", ""), c::O_WRITE);
    assert_eq!(
        read_at(wh, 512, 0).map(|_| ()),
        Err(c::EMODE),
        "reopened write handle"
    );
    close(wh, c::CLOSE_INCOMPLETE);
}

// ------------------------------------------------------------------ checkpoint / restart

#[test]
fn close_incomplete_keeps_pending_and_clears_busy_write() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("ckpt", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 8192), 0);
    close(ih, c::CLOSE_INCOMPLETE);
    let info = must_prop_byname(&lsu, &def);
    assert_flags(
        &info,
        c::II_PENDING,
        c::II_BUSY_WRITE | c::II_COMPLETE | c::II_CREATED | c::II_ABNORMAL,
        "checkpointed",
    );
    assert_eq!(info.imo_size, 8192, "checkpoint is durable");
    assert_eq!(cstr(&info.imo_sha1), "");
}

#[test]
fn checkpoint_restart_appends_and_completes_whole_image() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("restart", "");
    let parts: Vec<Vec<u8>> = (0..4).map(|i| seeded(i, 100 * 1024 + 512 * i as usize)).collect();
    let mut want = Vec::new();
    let ih = create(&lsu, &def);
    write_all(ih, &parts[0], 0);
    want.extend_from_slice(&parts[0]);
    close(ih, c::CLOSE_INCOMPLETE);
    for p in &parts[1..] {
        let wh = open(&lsu, &def, c::O_WRITE);
        let info = prop(wh).unwrap();
        assert_flags(
            &info,
            c::II_PENDING | c::II_BUSY_WRITE,
            c::II_COMPLETE,
            "reopened for write",
        );
        assert_eq!(info.imo_size, want.len() as u64, "size at restart");
        write_all(wh, p, info.imo_size);
        want.extend_from_slice(p);
        close(wh, c::CLOSE_INCOMPLETE);
    }
    let wh = open(&lsu, &def, c::O_WRITE);
    close(wh, c::CLOSE_COMPLETE);
    let info = must_prop_byname(&lsu, &def);
    assert_flags(
        &info,
        c::II_COMPLETE | c::II_CREATED,
        c::II_PENDING | c::II_BUSY_WRITE,
        "completed after restarts",
    );
    assert_eq!(info.imo_size, want.len() as u64);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&want));
    assert_bytes_eq(&read_image(&lsu, &def), &want, "restarted image");
}

#[test]
fn restart_can_overwrite_earlier_checkpointed_data() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("rw", "");
    let mut want = seeded(1, 16384);
    let ih = create(&lsu, &def);
    write_all(ih, &want, 0);
    close(ih, c::CLOSE_INCOMPLETE);
    let wh = open(&lsu, &def, c::O_WRITE);
    let patch = seeded(2, 4096);
    write_all(wh, &patch, 8192);
    want[8192..12288].copy_from_slice(&patch);
    close(wh, c::CLOSE_COMPLETE);
    assert_bytes_eq(&read_image(&lsu, &def), &want, "patched after restart");
}

#[test]
fn open_read_of_pending_image_is_enotcomplete() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("p", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 1024), 0);
    assert_eq!(
        try_open(&lsu, &def, c::O_READ).map(|_| ()),
        Err(c::ENOTCOMPLETE),
        "while being written"
    );
    close(ih, c::CLOSE_INCOMPLETE);
    assert_eq!(
        try_open(&lsu, &def, c::O_READ).map(|_| ()),
        Err(c::ENOTCOMPLETE),
        "checkpointed"
    );
}

#[test]
fn second_writer_is_ebusy() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("busy", "");
    let ih = create(&lsu, &def);
    assert_eq!(
        try_open(&lsu, &def, c::O_WRITE).map(|_| ()),
        Err(c::EBUSY),
        "while the creating handle is open"
    );
    close(ih, c::CLOSE_INCOMPLETE);
    let wh = open(&lsu, &def, c::O_WRITE);
    assert_eq!(
        try_open(&lsu, &def, c::O_WRITE).map(|_| ()),
        Err(c::EBUSY),
        "while a reopened handle is open"
    );
    // also through another server handle of this process
    let sh2 = srv.another_handle();
    assert_eq!(
        try_open(&lsu_t(sh2, "default"), &def, c::O_WRITE).map(|_| ()),
        Err(c::EBUSY),
        "via another server handle"
    );
    assert_rc!(api().close_server(sh2), c::EOK);
    close(wh, c::CLOSE_INCOMPLETE);
}

#[test]
fn delete_while_open_for_writing_is_ebusy() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("busy", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 4096), 0);
    flush(ih);
    assert_rc!(api().delete_image(&lsu, &def, 0), c::EBUSY);
    // image intact and still writable through the handle
    write_all(ih, &seeded(2, 4096), 4096);
    close(ih, c::CLOSE_COMPLETE);
    let mut want = seeded(1, 4096);
    want.extend_from_slice(&seeded(2, 4096));
    assert_bytes_eq(&read_image(&lsu, &def), &want, "after refused delete");
}

// ------------------------------------------------------------------ read

fn stored(srv: &Server, name: &str, len: usize) -> (sys::sts_image_def_t, Vec<u8>) {
    let def = image_def(name, "");
    let data = seeded(fnv1a(name), len);
    store_complete(&srv.lsu(), &def, &data);
    (def, data)
}

/// More extents than a reader loads at once (4096, engine::image::WINDOW):
/// 5,000 pieces of 512 bytes, each followed by a 512-byte hole, read back
/// whole in 1 MiB reads (the reader moves window by window), at random
/// (it jumps), and backwards.
#[test]
fn an_image_of_more_extents_than_a_reader_window_reads_back_exactly() {
    let srv = Server::new();
    let def = image_def("many_extents", "");
    let pieces = 5000usize;
    let mut model = vec![0u8; pieces * 1024];
    let ih = create(&srv.lsu(), &def);
    for k in 0..pieces {
        let d = seeded(k as u64 + 1, 512);
        model[k * 1024..k * 1024 + 512].copy_from_slice(&d);
        assert_rc!(write_at(ih, &d, (k * 1024) as u64), c::EOK, "write piece {k}");
    }
    close(ih, c::CLOSE_COMPLETE);
    let info = must_prop_byname(&srv.lsu(), &def);
    assert_eq!(
        info.imo_size as usize,
        model.len() - 512,
        "ends with the last piece"
    );
    model.truncate(model.len() - 512);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&model));

    let rh = open(&srv.lsu(), &def, c::O_READ);
    assert!(read_all(rh) == model, "sequential 1 MiB reads");
    let mut x = 17u64;
    for k in 0..300 {
        let off = if k < 100 {
            model.len() - 4096 * (k + 1) // backwards
        } else {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % (model.len() / 512 - 8) * 512
        };
        let got = read_at(rh, 4096, off as u64).unwrap();
        assert!(got[..] == model[off..off + 4096], "4 KiB read at {off}");
    }
    close(rh, 0);
}

#[test]
fn read_is_short_at_end_of_image() {
    let srv = Server::new();
    let (def, data) = stored(&srv, "short", 3 * 512);
    let rh = open(&srv.lsu(), &def, c::O_READ);
    let got = read_at(rh, 4096, 1024).unwrap();
    assert_eq!(got.len(), 512, "bytesread at the end");
    assert_eq!(&got[..], &data[1024..]);
    close(rh, 0);
}

#[test]
fn read_at_offset_equal_to_size_returns_zero_bytes() {
    let srv = Server::new();
    let (def, _) = stored(&srv, "end", 4096);
    let rh = open(&srv.lsu(), &def, c::O_READ);
    let mut buf = vec![0x5Au8; 512];
    let mut n = u64::MAX;
    assert_rc!(
        api().read_image(rh, buf.as_mut_ptr().cast(), 512, 4096, &mut n),
        c::EOK
    );
    assert_eq!(n, 0);
    assert!(buf.iter().all(|b| *b == 0x5A), "buffer written beyond bytesread");
    close(rh, 0);
}

#[test]
fn read_beyond_size_is_erange() {
    let srv = Server::new();
    let (def, _) = stored(&srv, "beyond", 4096);
    let rh = open(&srv.lsu(), &def, c::O_READ);
    for off in [4096 + 512, 1 << 30, u64::MAX - 511] {
        assert_eq!(read_at(rh, 512, off).map(|_| ()), Err(c::ERANGE), "offset {off}");
    }
    close(rh, 0);
}

#[test]
fn read_of_zero_bytes_is_ok() {
    let srv = Server::new();
    let (def, _) = stored(&srv, "zero", 4096);
    let rh = open(&srv.lsu(), &def, c::O_READ);
    assert_eq!(read_at(rh, 0, 512).unwrap().len(), 0);
    close(rh, 0);
}

#[test]
fn reads_at_random_offsets_match() {
    let srv = Server::new();
    let (def, data) = stored(&srv, "rand", 5 * 1024 * 1024 + 1536);
    let rh = open(&srv.lsu(), &def, c::O_READ);
    let blocks = data.len() as u64 / 512;
    let mut rng = Rng(99);
    for i in 0..300 {
        let off = rng.below(blocks + 1) * 512;
        let len = rng.below(600) * 512;
        let got =
            read_at(rh, len, off).unwrap_or_else(|rc| panic!("read {i}: {len} at {off}: {}", code_name(rc)));
        let end = (off + len).min(data.len() as u64) as usize;
        assert_bytes_eq(
            &got,
            &data[off as usize..end],
            &format!("read {i}: {len} at {off}"),
        );
    }
    close(rh, 0);
}

#[test]
fn many_read_handles_share_an_image() {
    let srv = Server::new();
    let (def, data) = stored(&srv, "shared", 256 * 1024);
    let hs: Vec<_> = (0..8).map(|_| open(&srv.lsu(), &def, c::O_READ)).collect();
    for (i, h) in hs.iter().enumerate() {
        let off = (i * 4096) as u64;
        assert_eq!(
            read_at(*h, 4096, off).unwrap(),
            &data[off as usize..off as usize + 4096]
        );
    }
    for h in &hs[..4] {
        close(*h, 0);
    }
    for h in &hs[4..] {
        assert_bytes_eq(&read_all(*h), &data, "remaining handle");
        close(*h, 0);
    }
}

#[test]
fn get_image_prop_on_read_handle_matches_byname() {
    let srv = Server::new();
    let (def, data) = stored(&srv, "p", 8192);
    let rh = open(&srv.lsu(), &def, c::O_READ);
    let a = prop(rh).unwrap();
    let b = must_prop_byname(&srv.lsu(), &def);
    assert_eq!(a.imo_flags, b.imo_flags);
    assert_eq!(a.imo_size, data.len() as u64);
    assert_eq!(a.imo_size, b.imo_size);
    assert_eq!(cbytes(&a.imo_sha1), cbytes(&b.imo_sha1));
    assert_eq!(cbytes(&a.imo_objid), cbytes(&b.imo_objid));
    assert_eq!(a.imo_complete_ms, b.imo_complete_ms);
    assert_eq!(a.imo_ctime_ms, b.imo_ctime_ms);
    close(rh, 0);
}

// ------------------------------------------------------------------ delete

#[test]
fn deleted_image_has_no_properties() {
    let srv = Server::new();
    let (def, _) = stored(&srv, "gone", 4096);
    assert_rc!(api().delete_image(&srv.lsu(), &def, 0), c::EOK);
    assert_eq!(prop_byname(&srv.lsu(), &def).map(|_| ()), Err(c::ENOENT));
}

#[test]
fn deleted_image_is_not_listed() {
    let srv = Server::new();
    let (def, _) = stored(&srv, "gone", 4096);
    stored(&srv, "kept", 512);
    assert_rc!(api().delete_image(&srv.lsu(), &def, 0), c::EOK);
    assert_eq!(list_basenames(&srv.lsu()), vec!["kept".to_string()]);
}

#[test]
fn deleted_image_cannot_be_opened() {
    let srv = Server::new();
    let (def, _) = stored(&srv, "gone", 4096);
    assert_rc!(api().delete_image(&srv.lsu(), &def, 0), c::EOK);
    assert_eq!(try_open(&srv.lsu(), &def, c::O_READ).map(|_| ()), Err(c::ENOENT));
    assert_eq!(try_open(&srv.lsu(), &def, c::O_WRITE).map(|_| ()), Err(c::ENOENT));
    assert_rc!(
        api().delete_image(&srv.lsu(), &def, 0),
        c::ENOENT,
        "second delete"
    );
}

#[test]
fn delete_with_async_flag_returns_eok_and_the_image_goes() {
    // the deletion runs in the background (events.rs checks its
    // STS_EVT_DELETE_DONE event); the image must be gone soon after
    let srv = Server::new();
    let (def, _) = stored(&srv, "async", 64 * 1024);
    assert_rc!(api().delete_image(&srv.lsu(), &def, 1), c::EOK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while prop_byname(&srv.lsu(), &def).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "image still there 30 s after an asynchronous delete"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(prop_byname(&srv.lsu(), &def).map(|_| ()), Err(c::ENOENT));
    assert!(list_images(&srv.lsu()).is_empty());
}

#[test]
fn delete_unknown_image_is_enoent() {
    let srv = Server::new();
    assert_rc!(
        api().delete_image(&srv.lsu(), &image_def("never", ""), 0),
        c::ENOENT
    );
}

#[test]
fn delete_of_checkpointed_pending_image_works() {
    let srv = Server::new();
    let def = image_def("pend", "");
    let ih = create(&srv.lsu(), &def);
    write_all(ih, &seeded(1, 4096), 0);
    close(ih, c::CLOSE_INCOMPLETE);
    assert_rc!(api().delete_image(&srv.lsu(), &def, 0), c::EOK);
    assert_eq!(prop_byname(&srv.lsu(), &def).map(|_| ()), Err(c::ENOENT));
}

#[test]
fn delete_leaves_other_images_intact() {
    let srv = Server::new();
    let (d1, data1) = stored(&srv, "one", 64 * 1024);
    let (d2, _) = stored(&srv, "two", 64 * 1024);
    let (d3, data3) = stored(&srv, "three", 64 * 1024);
    assert_rc!(api().delete_image(&srv.lsu(), &d2, 0), c::EOK);
    assert_bytes_eq(&read_image(&srv.lsu(), &d1), &data1, "one");
    assert_bytes_eq(&read_image(&srv.lsu(), &d3), &data3, "three");
}

#[test]
fn recreated_image_after_delete_is_new_and_empty() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (def, _) = stored(&srv, "again", 64 * 1024);
    let old = cstr(&must_prop_byname(&lsu, &def).imo_objid);
    assert_rc!(api().delete_image(&lsu, &def, 0), c::EOK);
    let ih = create(&lsu, &def);
    let info = prop(ih).unwrap();
    assert_eq!(info.imo_size, 0, "recreated image has old bytes");
    assert_flags(
        &info,
        c::II_PENDING | c::II_BUSY_WRITE,
        c::II_COMPLETE,
        "recreated",
    );
    let data = seeded(2, 1024);
    write_all(ih, &data, 0);
    close(ih, c::CLOSE_COMPLETE);
    assert_bytes_eq(&read_image(&lsu, &def), &data, "recreated");
    assert_ne!(
        cstr(&must_prop_byname(&lsu, &def).imo_objid),
        old,
        "object id reused"
    );
}

#[test]
fn delete_while_reader_open_gives_correct_bytes_or_enoent() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (def, data) = stored(&srv, "reading", 4 << 20);
    let rh = open(&lsu, &def, c::O_READ);
    assert_eq!(read_at(rh, 4096, 0).unwrap(), &data[..4096]);
    assert_rc!(api().delete_image(&lsu, &def, 0), c::EOK);
    // reuse the space with other data, to catch readers seeing stale extents
    let (_, other) = stored(&srv, "other", 4 << 20);
    let mut ok = 0;
    let mut gone = 0;
    for b in (0..(4u64 << 20)).step_by(64 * 1024) {
        match read_at(rh, 64 * 1024, b) {
            Ok(got) => {
                let range = b as usize..b as usize + 64 * 1024;
                assert!(
                    got.len() != range.len() || got[..] != other[range.clone()],
                    "read at {b} after delete returned the bytes of the image written since \
                     (stale extents pointing at reused space)"
                );
                assert!(
                    got.is_empty() || got.iter().any(|x| *x != 0),
                    "read at {b} after delete returned {} zero bytes instead of the data or STS_ENOENT",
                    got.len()
                );
                assert_bytes_eq(
                    &got,
                    &data[b as usize..b as usize + 64 * 1024],
                    &format!("read at {b} after delete"),
                );
                ok += 1;
            }
            Err(rc) if rc == c::ENOENT => gone += 1,
            Err(rc) => panic!(
                "read at {b} after delete: {} (only EOK or ENOENT allowed)",
                code_name(rc)
            ),
        }
    }
    match prop(rh) {
        Ok(_) => {}
        Err(rc) => assert_eq!(rc, c::ENOENT, "get_image_prop after delete: {}", code_name(rc)),
    }
    assert_eq!(ok + gone, 64);
    close(rh, 0);
    assert_eq!(prop_byname(&lsu, &def).map(|_| ()), Err(c::ENOENT));
}
