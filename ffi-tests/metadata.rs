//! stsp_read_image_meta / stsp_write_image_meta.

use crate::common::*;

fn meta_all(ih: sys::sts_image_handle_t) -> Vec<u8> {
    meta_read(ih, c::MAX_META, 0).unwrap_or_else(|rc| panic!("read_image_meta: {}", code_name(rc)))
}

#[test]
fn new_image_has_empty_metadata() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_eq!(meta_read(ih, 4096, 0).unwrap(), Vec::<u8>::new());
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_written_before_data_reads_back_after_complete() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    let ih = create(&lsu, &def);
    assert_rc!(meta_write(ih, b"before any data", 0), c::EOK);
    let data = seeded(1, 8192);
    write_all(ih, &data, 0);
    close(ih, c::CLOSE_COMPLETE);
    let rh = open(&lsu, &def, c::O_READ);
    assert_eq!(meta_all(rh), b"before any data");
    assert_bytes_eq(&read_all(rh), &data, "data unaffected by metadata");
    close(rh, 0);
}

#[test]
fn meta_written_during_data_reads_back() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    let ih = create(&lsu, &def);
    write_all(ih, &seeded(1, 4096), 0);
    assert_rc!(meta_write(ih, b"in the middle", 0), c::EOK);
    write_all(ih, &seeded(2, 4096), 4096);
    assert_eq!(
        meta_all(ih),
        b"in the middle",
        "readable through the write handle"
    );
    close(ih, c::CLOSE_COMPLETE);
    let rh = open(&lsu, &def, c::O_READ);
    assert_eq!(meta_all(rh), b"in the middle");
    close(rh, 0);
}

#[test]
fn meta_writable_after_complete_through_read_handle() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    let data = seeded(3, 64 * 1024);
    store_complete(&lsu, &def, &data);
    let before = must_prop_byname(&lsu, &def);
    let rh = open(&lsu, &def, c::O_READ);
    assert_rc!(meta_write(rh, b"after completion", 0), c::EOK);
    close(rh, 0);
    let rh = open(&lsu, &def, c::O_READ);
    assert_eq!(meta_all(rh), b"after completion");
    assert_bytes_eq(&read_all(rh), &data, "data");
    close(rh, 0);
    let after = must_prop_byname(&lsu, &def);
    assert_eq!(after.imo_size, before.imo_size, "metadata changed imo_size");
    assert_eq!(
        cbytes(&after.imo_sha1),
        cbytes(&before.imo_sha1),
        "metadata changed the SHA-1"
    );
    assert_eq!(after.imo_flags, before.imo_flags, "metadata changed the flags");
}

#[test]
fn meta_written_before_checkpoint_survives_restart() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    let ih = create(&lsu, &def);
    assert_rc!(meta_write(ih, b"checkpointed meta", 0), c::EOK);
    close(ih, c::CLOSE_INCOMPLETE);
    let wh = open(&lsu, &def, c::O_WRITE);
    assert_eq!(meta_all(wh), b"checkpointed meta");
    close(wh, c::CLOSE_COMPLETE);
}

#[test]
fn meta_is_durable_and_visible_to_other_handles_at_once() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    store_complete(&lsu, &def, &seeded(1, 512));
    let h1 = open(&lsu, &def, c::O_READ);
    let sh2 = srv.another_handle();
    let h2 = open(&lsu_t(sh2, "default"), &def, c::O_READ);
    assert_rc!(meta_write(h1, b"shared view", 0), c::EOK);
    assert_eq!(meta_all(h2), b"shared view");
    close(h1, 0);
    close(h2, 0);
    assert_rc!(api().close_server(sh2), c::EOK);
}

#[test]
fn meta_gap_reads_as_zeros() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_rc!(meta_write(ih, b"head", 0), c::EOK);
    assert_rc!(meta_write(ih, b"tail", 1000), c::EOK);
    let got = meta_all(ih);
    assert_eq!(
        got.len(),
        1004,
        "metadata size is offset + len of the highest write"
    );
    assert_eq!(&got[..4], b"head");
    assert!(got[4..1000].iter().all(|b| *b == 0), "gap not zero");
    assert_eq!(&got[1000..], b"tail");
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_first_write_at_offset_leaves_leading_zeros() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_rc!(meta_write(ih, b"x", 77), c::EOK);
    let got = meta_all(ih);
    assert_eq!(got.len(), 78);
    assert!(got[..77].iter().all(|b| *b == 0));
    assert_eq!(got[77], b'x');
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_offsets_and_lengths_need_no_alignment() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    let blob = seeded(5, 10_007);
    assert_rc!(meta_write(ih, &blob[..3], 0), c::EOK);
    assert_rc!(meta_write(ih, &blob[3..], 3), c::EOK);
    assert_eq!(meta_read(ih, 13, 1).unwrap(), &blob[1..14]);
    assert_eq!(meta_read(ih, 999, 5001).unwrap(), &blob[5001..6000]);
    assert_eq!(meta_all(ih), blob);
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_overwrite_replaces_bytes_and_keeps_size() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_rc!(meta_write(ih, b"0123456789", 0), c::EOK);
    assert_rc!(meta_write(ih, b"abc", 2), c::EOK);
    assert_eq!(meta_all(ih), b"01abc56789");
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_read_is_short_at_end_and_empty_at_end() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_rc!(meta_write(ih, b"0123456789", 0), c::EOK);
    assert_eq!(meta_read(ih, 100, 6).unwrap(), b"6789", "short read at the end");
    assert_eq!(meta_read(ih, 100, 10).unwrap(), b"", "read at offset == size");
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_read_beyond_size_is_erange() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_eq!(
        meta_read(ih, 10, 1).map(|_| ()),
        Err(c::ERANGE),
        "empty metadata, offset 1"
    );
    assert_rc!(meta_write(ih, b"0123456789", 0), c::EOK);
    assert_eq!(
        meta_read(ih, 10, 11).map(|_| ()),
        Err(c::ERANGE),
        "offset 11 of 10"
    );
    assert_eq!(
        meta_read(ih, 10, u64::MAX).map(|_| ()),
        Err(c::ERANGE),
        "offset u64::MAX"
    );
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_write_past_max_is_etoobig_and_changes_nothing() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_rc!(meta_write(ih, b"keep", 0), c::EOK);
    assert_rc!(
        meta_write(ih, b"xy", c::MAX_META - 1),
        c::ETOOBIG,
        "offset + len = MAX + 1"
    );
    assert_rc!(meta_write(ih, b"x", c::MAX_META), c::ETOOBIG, "offset = MAX");
    assert_rc!(
        meta_write(ih, b"x", u64::MAX),
        c::ETOOBIG,
        "offset u64::MAX (overflow)"
    );
    let big = vec![7u8; c::MAX_META as usize + 1];
    assert_rc!(meta_write(ih, &big, 0), c::ETOOBIG, "len = MAX + 1");
    assert_eq!(meta_all(ih), b"keep", "metadata changed by a refused write");
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_write_up_to_exactly_max_is_ok() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_rc!(meta_write(ih, b"z", c::MAX_META - 1), c::EOK);
    let all = meta_all(ih);
    assert_eq!(all.len() as u64, c::MAX_META);
    assert_eq!(all[all.len() - 1], b'z');
    assert!(all[..all.len() - 1].iter().all(|b| *b == 0));
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_read_len_over_max_is_etoobig() {
    let srv = Server::new();
    let ih = create(&srv.lsu(), &image_def("m", ""));
    assert_rc!(meta_write(ih, b"abc", 0), c::EOK);
    assert_eq!(meta_read(ih, c::MAX_META + 1, 0).map(|_| ()), Err(c::ETOOBIG));
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn meta_of_deleted_image_is_enoent() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    store_complete(&lsu, &def, &seeded(1, 512));
    let rh = open(&lsu, &def, c::O_READ);
    assert_rc!(meta_write(rh, b"abc", 0), c::EOK);
    assert_rc!(api().delete_image(&lsu, &def, 0), c::EOK);
    assert_rc!(
        meta_write(rh, b"def", 0),
        c::ENOENT,
        "write_image_meta after delete"
    );
    assert_eq!(
        meta_read(rh, 3, 0).map(|_| ()),
        Err(c::ENOENT),
        "read_image_meta after delete"
    );
    close(rh, 0);
}

#[test]
fn delete_removes_metadata() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    let ih = create(&lsu, &def);
    assert_rc!(meta_write(ih, b"old metadata", 0), c::EOK);
    close(ih, c::CLOSE_COMPLETE);
    assert_rc!(api().delete_image(&lsu, &def, 0), c::EOK);
    let ih = create(&lsu, &def);
    assert_eq!(
        meta_read(ih, 100, 0).unwrap(),
        b"",
        "a recreated image has the old metadata"
    );
    close(ih, c::CLOSE_COMPLETE);
}

#[test]
fn large_metadata_round_trips() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("m", "");
    let blob = seeded(9, 3 * 1024 * 1024 + 17);
    let ih = create(&lsu, &def);
    assert_rc!(meta_write(ih, &blob, 0), c::EOK);
    close(ih, c::CLOSE_COMPLETE);
    let rh = open(&lsu, &def, c::O_READ);
    assert_bytes_eq(&meta_all(rh), &blob, "3 MiB metadata");
    close(rh, 0);
}
