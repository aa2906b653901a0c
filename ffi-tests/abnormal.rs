//! Abnormal completion: the writer's server handle is closed, or its process
//! dies, before stsp_close_image.

use crate::common::child::spawn_role;
use crate::common::*;
use std::time::Duration;

fn assert_abnormal(info: &sys::sts_image_info_t, what: &str) {
    let f = info.imo_flags;
    assert_eq!(
        f & c::II_BUSY_WRITE,
        0,
        "{what}: BUSY_WRITE still set ({})",
        flags_str(f)
    );
    assert_ne!(
        f & c::II_ABNORMAL,
        0,
        "{what}: ABNORMAL not set ({})",
        flags_str(f)
    );
    assert_ne!(f & c::II_PENDING, 0, "{what}: PENDING not set ({})", flags_str(f));
    assert_eq!(
        f & (c::II_COMPLETE | c::II_CREATED),
        0,
        "{what}: marked complete ({})",
        flags_str(f)
    );
}

#[test]
fn close_server_with_open_writer_completes_it_abnormally_keeping_flushed_data() {
    let mut srv = Server::new();
    let def = image_def("victim", "");
    let flushed = seeded(1, 3 << 20);
    let lost = seeded(2, 1 << 20);
    let ih = create(&srv.lsu(), &def);
    write_all(ih, &flushed, 0);
    flush(ih);
    write_all(ih, &lost, flushed.len() as u64); // may be lost
    srv.reopen();
    let info = must_prop_byname(&srv.lsu(), &def);
    assert_abnormal(&info, "after close_server");
    let mut all = flushed.clone();
    all.extend_from_slice(&lost);
    assert!(
        info.imo_size == flushed.len() as u64 || info.imo_size == all.len() as u64,
        "size {} is neither the flushed size {} nor the written size {}",
        info.imo_size,
        flushed.len(),
        all.len()
    );
    // the old write handle is gone
    assert_rc!(
        write_at(ih, &lost[..512], 0),
        c::EHANDLE,
        "write via a handle closed with its server"
    );
    // reopen for write and complete: the kept data reads back exactly
    let wh = open(&srv.lsu(), &def, c::O_WRITE);
    close(wh, c::CLOSE_COMPLETE);
    let got = read_image(&srv.lsu(), &def);
    assert_eq!(got.len() as u64, info.imo_size);
    assert_bytes_eq(&got, &all[..got.len()], "data kept by the abnormal completion");
}

#[test]
fn abnormal_flag_clears_when_image_is_reopened_and_closed() {
    let mut srv = Server::new();
    let def = image_def("victim", "");
    let ih = create(&srv.lsu(), &def);
    write_all(ih, &seeded(1, 4096), 0);
    flush(ih);
    srv.reopen();
    assert_abnormal(&must_prop_byname(&srv.lsu(), &def), "after close_server");
    let wh = open(&srv.lsu(), &def, c::O_WRITE);
    close(wh, c::CLOSE_INCOMPLETE);
    let info = must_prop_byname(&srv.lsu(), &def);
    assert_eq!(
        info.imo_flags & c::II_ABNORMAL,
        0,
        "ABNORMAL still set after reopen + close: {}",
        flags_str(info.imo_flags)
    );
    assert_ne!(
        info.imo_flags & c::II_PENDING,
        0,
        "checkpoint close keeps PENDING"
    );
    assert_eq!(info.imo_size, 4096);
}

#[test]
fn abnormally_completed_image_can_be_deleted() {
    let mut srv = Server::new();
    let def = image_def("victim", "");
    let ih = create(&srv.lsu(), &def);
    write_all(ih, &seeded(1, 4096), 0);
    flush(ih);
    srv.reopen();
    assert_rc!(api().delete_image(&srv.lsu(), &def, 0), c::EOK);
    assert_eq!(prop_byname(&srv.lsu(), &def).map(|_| ()), Err(c::ENOENT));
}

#[test]
fn close_server_completes_only_its_own_writers_abnormally() {
    let srv = Server::new();
    let sh2 = srv.another_handle();
    let lsu2 = lsu_t(sh2, "default");
    let mine = create(&srv.lsu(), &image_def("mine", ""));
    let theirs = create(&lsu2, &image_def("theirs", ""));
    write_all(theirs, &seeded(1, 4096), 0);
    flush(theirs);
    assert_rc!(api().close_server(sh2), c::EOK);
    // the image of the surviving handle is still being written
    let info = prop(mine).unwrap();
    assert_ne!(
        info.imo_flags & c::II_BUSY_WRITE,
        0,
        "the other handle's writer lost BUSY_WRITE"
    );
    write_all(mine, &seeded(2, 512), 0);
    close(mine, c::CLOSE_COMPLETE);
    assert_abnormal(
        &must_prop_byname(&srv.lsu(), &image_def("theirs", "")),
        "writer of the closed handle",
    );
}

/// A child process writes 2 MiB + 512, flushes, and is SIGKILLed.
fn start_killed_writer(srv: &Server, name: &str, seed: u64, len: usize) -> crate::common::child::ChildProc {
    let seed_s = seed.to_string();
    let len_s = len.to_string();
    let mut p = spawn_role("kill_writer", &[&srv.name, name, &seed_s, &len_s]);
    p.expect("READY", Duration::from_secs(120));
    p
}

#[test]
fn killed_writer_process_is_busy_while_alive() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("child", "");
    let len = (2 << 20) + 512;
    let mut p = start_killed_writer(&srv, "child", 11, len);
    let info = must_prop_byname(&lsu, &def);
    assert_ne!(
        info.imo_flags & c::II_BUSY_WRITE,
        0,
        "live writer in another process: {}",
        flags_str(info.imo_flags)
    );
    assert_eq!(
        info.imo_size, len as u64,
        "flushed size seen from another process"
    );
    assert_eq!(
        try_open(&lsu, &def, c::O_WRITE).map(|_| ()),
        Err(c::EBUSY),
        "second writer while the child lives"
    );
    assert_rc!(
        api().delete_image(&lsu, &def, 0),
        c::EBUSY,
        "delete while the child writes"
    );
    // a new open of the server must not steal a live writer's image
    let sh2 = srv.another_handle();
    let info = must_prop_byname(&lsu_t(sh2, "default"), &def);
    assert_ne!(
        info.imo_flags & c::II_BUSY_WRITE,
        0,
        "recovery completed a live writer: {}",
        flags_str(info.imo_flags)
    );
    assert_eq!(
        info.imo_flags & c::II_ABNORMAL,
        0,
        "recovery marked a live writer ABNORMAL"
    );
    assert_rc!(api().close_server(sh2), c::EOK);
    p.kill9();
}

#[test]
fn killed_writer_process_is_completed_abnormally_on_next_open() {
    let mut srv = Server::new();
    srv.close();
    let def = image_def("child", "");
    let len = (2 << 20) + 512;
    let mut p = start_killed_writer(&srv, "child", 12, len);
    p.kill9();
    srv.reopen();
    let lsu = srv.lsu();
    let info = must_prop_byname(&lsu, &def);
    assert_abnormal(&info, "after the writer was killed");
    assert_eq!(info.imo_size, len as u64, "flushed data kept");
    // restart: append and complete; the whole image is correct
    let wh = open(&lsu, &def, c::O_WRITE);
    let more = seeded(13, 4096);
    write_all(wh, &more, len as u64);
    close(wh, c::CLOSE_COMPLETE);
    let mut want = seeded(12, len);
    want.extend_from_slice(&more);
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(
        info.imo_flags & (c::II_ABNORMAL | c::II_PENDING | c::II_BUSY_WRITE),
        0,
        "{}",
        flags_str(info.imo_flags)
    );
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&want));
    assert_bytes_eq(&read_image(&lsu, &def), &want, "restarted after kill");
}

#[test]
fn killed_writer_releases_the_image_for_a_new_writer() {
    // "STS_EBUSY: open for writing by another handle or process (still alive)"
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("child", "");
    let mut p = start_killed_writer(&srv, "child", 14, 8192);
    p.kill9();
    // the server handle opened before the kill is still in use
    let wh = try_open(&lsu, &def, c::O_WRITE)
        .unwrap_or_else(|rc| panic!("open for write after the writer died: {}", code_name(rc)));
    close(wh, c::CLOSE_COMPLETE);
    assert_bytes_eq(
        &read_image(&lsu, &def),
        &seeded(14, 8192),
        "dead writer's flushed data",
    );
}

#[test]
fn killed_writer_with_damaged_data_leaves_a_broken_image_that_can_only_be_deleted() {
    // "If its stored data is found damaged, STS_II_IMAGE_PENDING is cleared
    // too: the image is broken and can only be deleted (STS_EBROKEN)."
    let mut srv = Server::new();
    srv.close();
    let def = image_def("child", "");
    let mut p = start_killed_writer(&srv, "child", 15, 1 << 20);
    p.kill9();
    // damage: cut every non-catalog file of the server back to 4 KiB
    let mut cut = Vec::new();
    for rel in srv.tree() {
        let path = srv.path.join(&rel);
        if path.is_file() && !crate::integrity::is_catalog(&path) && path.metadata().unwrap().len() > 4096 {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(4096)
                .unwrap();
            cut.push(rel);
        }
    }
    assert!(!cut.is_empty(), "no data files to damage in {:?}", srv.tree());
    srv.reopen();
    let lsu = srv.lsu();
    let info = must_prop_byname(&lsu, &def);
    let f = info.imo_flags;
    assert_eq!(
        f & c::II_PENDING,
        0,
        "damaged image still PENDING (resumable): {}",
        flags_str(f)
    );
    assert_eq!(f & (c::II_BUSY_WRITE | c::II_COMPLETE), 0, "{}", flags_str(f));
    assert_ne!(f & c::II_ABNORMAL, 0, "ABNORMAL not set: {}", flags_str(f));
    assert_eq!(
        try_open(&lsu, &def, c::O_WRITE).map(|_| ()),
        Err(c::EBROKEN),
        "write-open of a broken image"
    );
    let r = try_open(&lsu, &def, c::O_READ).map(|_| ());
    assert!(
        r == Err(c::EBROKEN) || r == Err(c::ENOTCOMPLETE),
        "read-open of a broken image: {r:?} (want EBROKEN or ENOTCOMPLETE)"
    );
    assert_rc!(
        api().delete_image(&lsu, &def, 0),
        c::EOK,
        "a broken image can be deleted"
    );
    assert_eq!(prop_byname(&lsu, &def).map(|_| ()), Err(c::ENOENT));
}

fn allocated_bytes(root: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    dir_tree(root)
        .iter()
        .map(|r| root.join(r))
        .filter(|p| p.is_file())
        .map(|p| p.metadata().map(|m| m.blocks() * 512).unwrap_or(0))
        .sum()
}

#[test]
fn recovery_reclaims_space_of_a_killed_writers_unflushed_bytes() {
    // "Opening runs recovery: images whose writer process is gone are
    // completed abnormally ... and unreferenced segment space is reclaimed."
    let mut srv = Server::new();
    srv.close();
    let def = image_def("child", "");
    let flushed = 1usize << 20;
    let unflushed = 24usize << 20;
    let base = allocated_bytes(&srv.path);
    let mut p = spawn_role(
        "kill_writer",
        &[
            &srv.name,
            "child",
            "16",
            &flushed.to_string(),
            &unflushed.to_string(),
        ],
    );
    p.expect("READY", Duration::from_secs(120));
    let before = allocated_bytes(&srv.path);
    p.kill9();
    srv.reopen();
    let after = allocated_bytes(&srv.path);
    let info = must_prop_byname(&srv.lsu(), &def);
    eprintln!("allocated bytes: empty {base}, writer killed {before}, after recovery {after}");
    assert_abnormal(&info, "killed writer");
    if before >= base + (16 << 20) {
        assert!(
            after + (16 << 20) <= before,
            "unflushed bytes not reclaimed: {before} bytes allocated before recovery, {after} after \
             (image size {})",
            info.imo_size
        );
    } else {
        // the plugin kept the unflushed bytes off disk: nothing to reclaim
        assert!(
            after <= before + (1 << 20),
            "recovery allocated space: {before} -> {after}"
        );
    }
    // whatever the image kept reads back as written
    let wh = open(&srv.lsu(), &def, c::O_WRITE);
    close(wh, c::CLOSE_COMPLETE);
    let got = read_image(&srv.lsu(), &def);
    let mut all = seeded(16, flushed);
    all.extend_from_slice(&seeded(17, unflushed));
    assert!(
        got.len() >= flushed,
        "flushed bytes lost: {} < {flushed}",
        got.len()
    );
    assert_bytes_eq(&got, &all[..got.len()], "kept bytes");
}

/// Issue 14: a process that had the server open before the writer died
/// (so ran no recovery since) must not see the dead writer's image as
/// BUSY_WRITE while stsp_open_image would let it write: properties tell
/// whether the writer lives, as open does.
#[test]
fn killed_writer_is_not_busy_to_a_process_that_had_the_server_open() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("child", "");
    let mut p = start_killed_writer(&srv, "child", 15, 8192);
    assert_ne!(
        must_prop_byname(&lsu, &def).imo_flags & c::II_BUSY_WRITE,
        0,
        "busy while the writer lives"
    );
    p.kill9();
    assert_abnormal(&must_prop_byname(&lsu, &def), "prop_byname after the kill");
    // and what open allows agrees
    let wh = try_open(&lsu, &def, c::O_WRITE)
        .unwrap_or_else(|rc| panic!("open for write after the writer died: {}", code_name(rc)));
    assert_ne!(
        must_prop_byname(&lsu, &def).imo_flags & c::II_BUSY_WRITE,
        0,
        "busy again with a live writer"
    );
    close(wh, c::CLOSE_INCOMPLETE);
}
