//! Threads and processes using the plugin at once.

use crate::common::child::spawn_role;
use crate::common::*;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[test]
fn threads_writing_distinct_images_all_verify() {
    let srv = Server::new();
    let lsu = Shared(srv.lsu());
    std::thread::scope(|s| {
        for t in 0..6 {
            s.spawn(move || {
                let lsu = lsu;
                for i in 0..5 {
                    let name = format!("t{t}-{i}");
                    let data = data_for(&name);
                    let ih = create(&lsu.0, &image_def(&name, ""));
                    write_chunks(ih, &data, 0, 32 * 1024);
                    close(ih, c::CLOSE_COMPLETE);
                }
            });
        }
    });
    let names = list_basenames(&srv.lsu());
    assert_eq!(names.len(), 30);
    for name in names {
        let want = data_for(&name);
        let def = image_def(&name, "");
        assert_eq!(
            cstr(&must_prop_byname(&srv.lsu(), &def).imo_sha1),
            sha1_hex(&want),
            "{name}"
        );
        assert_bytes_eq(&read_image(&srv.lsu(), &def), &want, &name);
    }
}

#[test]
fn threads_sharing_one_write_handle_are_serialized() {
    let srv = Server::new();
    let def = image_def("shared", "");
    let ih = Shared(create(&srv.lsu(), &def));
    let data = seeded(5, 8 << 20);
    let chunk = 64 * 1024;
    let nchunks = data.len() / chunk;
    std::thread::scope(|s| {
        for t in 0..4 {
            let data = &data;
            s.spawn(move || {
                let ih = ih;
                for k in (t..nchunks).step_by(4) {
                    let off = k * chunk;
                    assert_rc!(
                        write_at(ih.0, &data[off..off + chunk], off as u64),
                        c::EOK,
                        "thread {t} chunk {k}"
                    );
                    if k % 16 == 0 {
                        assert_eq!(prop(ih.0).map(|_| ()), Ok(()));
                    }
                }
            });
        }
    });
    assert_eq!(prop(ih.0).unwrap().imo_size, data.len() as u64);
    close(ih.0, c::CLOSE_COMPLETE);
    assert_eq!(
        cstr(&must_prop_byname(&srv.lsu(), &def).imo_sha1),
        sha1_hex(&data)
    );
}

#[test]
fn threads_reading_one_image_concurrently_see_correct_bytes() {
    let srv = Server::new();
    let def = image_def("r", "");
    let data = seeded(6, 6 << 20);
    store_complete(&srv.lsu(), &def, &data);
    let shared = Shared(open(&srv.lsu(), &def, c::O_READ));
    let lsu = Shared(srv.lsu());
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let data = &data;
            s.spawn(move || {
                let (shared, lsu) = (shared, lsu);
                // own handle
                let own = open(&lsu.0, &image_def("r", ""), c::O_READ);
                let mut rng = Rng(t);
                for _ in 0..100 {
                    let off = rng.below(data.len() as u64 / 512) * 512;
                    let len = (1 + rng.below(256)) * 512;
                    let end = (off + len).min(data.len() as u64) as usize;
                    for h in [shared.0, own] {
                        let got = read_at(h, len, off).unwrap();
                        assert_bytes_eq(&got, &data[off as usize..end], &format!("thread {t} {len}@{off}"));
                    }
                }
                close(own, 0);
            });
        }
    });
    close(shared.0, 0);
}

#[test]
fn threads_racing_to_create_one_name_exactly_one_wins() {
    let srv = Server::new();
    let lsu = Shared(srv.lsu());
    let wins: Vec<Vec<String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(move || {
                    let lsu = lsu;
                    let mut won = Vec::new();
                    for i in 0..40 {
                        let name = format!("race-{i:03}");
                        match try_create(&lsu.0, &image_def(&name, "")) {
                            Ok(ih) => {
                                close(ih, c::CLOSE_COMPLETE);
                                won.push(name);
                            }
                            Err(rc) => {
                                assert_eq!(rc, c::EEXIST, "create {name}: {}", code_name(rc))
                            }
                        }
                    }
                    won
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut count: HashMap<String, usize> = HashMap::new();
    for w in wins.iter().flatten() {
        *count.entry(w.clone()).or_default() += 1;
    }
    assert_eq!(count.len(), 40, "every name created once");
    assert!(count.values().all(|n| *n == 1), "a name created twice: {count:?}");
    assert_eq!(list_images(&srv.lsu()).len(), 40);
}

#[test]
fn threads_deleting_while_others_read_never_see_wrong_bytes() {
    let srv = Server::new();
    let lsu = Shared(srv.lsu());
    let names: Vec<String> = (0..12).map(|i| format!("d{i:02}")).collect();
    for n in &names {
        store_complete(&lsu.0, &image_def(n, ""), &data_for(n));
    }
    std::thread::scope(|s| {
        let names = &names;
        s.spawn(move || {
            let lsu = lsu;
            for n in names.iter().step_by(2) {
                assert_rc!(
                    api().delete_image(&lsu.0, &image_def(n, ""), 0),
                    c::EOK,
                    "delete {n}"
                );
                // rewrite the freed space with other bytes
                let other = format!("{n}-new");
                store_complete(&lsu.0, &image_def(&other, ""), &data_for(&other));
            }
        });
        for _ in 0..2 {
            s.spawn(move || {
                let lsu = lsu;
                for n in names {
                    let want = data_for(n);
                    let ih = match try_open(&lsu.0, &image_def(n, ""), c::O_READ) {
                        Ok(h) => h,
                        Err(rc) => {
                            assert_eq!(rc, c::ENOENT, "open {n}: {}", code_name(rc));
                            continue;
                        }
                    };
                    let mut off = 0u64;
                    loop {
                        match read_at(ih, 16 * 1024, off) {
                            Ok(got) => {
                                assert_bytes_eq(
                                    &got,
                                    &want[off as usize..off as usize + got.len()],
                                    &format!("{n} at {off}"),
                                );
                                if got.len() < 16 * 1024 {
                                    break;
                                }
                                off += got.len() as u64;
                            }
                            Err(rc) if rc == c::ENOENT => break,
                            Err(rc) => panic!("read {n} at {off}: {}", code_name(rc)),
                        }
                    }
                    assert_rc!(api().close_image(ih, 0), c::EOK);
                }
            });
        }
    });
}

#[test]
fn other_process_flushed_writes_are_visible_and_it_holds_the_writer() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let def = image_def("coop", "");
    let (len_a, len_b) = (1usize << 20, 512 * 1024);
    let mut p = spawn_role(
        "coop_writer",
        &[
            &srv.name,
            "coop",
            "21",
            &len_a.to_string(),
            "22",
            &len_b.to_string(),
        ],
    );
    p.expect("READY", Duration::from_secs(120));
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(info.imo_size, len_a as u64, "flushed size from the other process");
    assert_eq!(
        info.imo_flags & (c::II_PENDING | c::II_BUSY_WRITE),
        c::II_PENDING | c::II_BUSY_WRITE,
        "{}",
        flags_str(info.imo_flags)
    );
    assert_eq!(
        lsu_info(&lsu).unwrap().lsu_used,
        len_a as u64,
        "lsu_used includes the other writer's flushed data"
    );
    assert_eq!(
        try_open(&lsu, &def, c::O_WRITE).map(|_| ()),
        Err(c::EBUSY),
        "write-open while another process writes"
    );
    assert_eq!(
        try_open(&lsu, &def, c::O_READ).map(|_| ()),
        Err(c::ENOTCOMPLETE),
        "read-open of the pending image"
    );
    assert_rc!(
        api().delete_image(&lsu, &def, 0),
        c::EBUSY,
        "delete while another process writes"
    );
    p.send("GO");
    p.expect("DONE", Duration::from_secs(120));
    p.wait_success(Duration::from_secs(60));
    let mut want = seeded(21, len_a);
    want.extend_from_slice(&seeded(22, len_b));
    let info = must_prop_byname(&lsu, &def);
    assert_eq!(
        info.imo_flags & (c::II_COMPLETE | c::II_PENDING | c::II_BUSY_WRITE | c::II_ABNORMAL),
        c::II_COMPLETE,
        "{}",
        flags_str(info.imo_flags)
    );
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&want));
    assert_bytes_eq(
        &read_image(&lsu, &def),
        &want,
        "image written by the other process",
    );
}

#[test]
fn two_processes_and_this_one_write_and_read_one_server_at_once() {
    let srv = Server::new();
    let count = 15;
    let cs = count.to_string();
    let mut kids: Vec<_> = ["c1", "c2"]
        .iter()
        .map(|pfx| spawn_role("mixed", &[&srv.name, pfx, &cs]))
        .collect();
    // this process writes and verifies too, concurrently
    crate::roles::mixed_body(&srv.lsu(), "p", count);
    for k in kids.iter_mut() {
        k.expect("VERIFIED", Duration::from_secs(300));
        k.wait_success(Duration::from_secs(120));
    }
    let all = list_basenames(&srv.lsu());
    assert_eq!(all.len(), 3 * count, "images listed: {all:?}");
    for name in &all {
        let def = image_def(name, "");
        let want = data_for(name);
        let info = must_prop_byname(&srv.lsu(), &def);
        assert_ne!(info.imo_flags & c::II_COMPLETE, 0, "{name} not complete");
        assert_eq!(cstr(&info.imo_sha1), sha1_hex(&want), "{name}");
        assert_bytes_eq(&read_image(&srv.lsu(), &def), &want, name);
    }
    assert_eq!(lsu_info(&srv.lsu()).unwrap().lsu_images, 3 * count as u64);
}

#[test]
fn processes_racing_to_create_one_name_exactly_one_wins() {
    let srv = Server::new();
    let n = 30;
    let ns = n.to_string();
    let mut kids: Vec<_> = (0..3)
        .map(|_| spawn_role("race_creator", &[&srv.name, &ns]))
        .collect();
    for k in kids.iter_mut() {
        k.expect("STARTED", Duration::from_secs(120));
    }
    for k in kids.iter_mut() {
        k.send("GO");
    }
    let mut winners: HashMap<String, usize> = HashMap::new();
    for k in kids.iter_mut() {
        for w in k.collect("WON") {
            *winners.entry(w).or_default() += 1;
        }
        k.wait_success(Duration::from_secs(120));
    }
    let twice: Vec<_> = winners.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "created by more than one process: {twice:?}");
    let listed: HashSet<String> = list_basenames(&srv.lsu()).into_iter().collect();
    let won: HashSet<String> = winners.keys().cloned().collect();
    assert_eq!(won.len(), n, "names created");
    assert_eq!(listed, won);
}

/// Issue 14: six backup jobs starting together on a fresh server
/// directory. Every first open succeeds: none sees a half-created
/// directory as foreign (STS_ENOSERVER) or times out on the catalog's
/// creation within milliseconds (STS_ETIMEDOUT).
#[test]
fn processes_opening_new_servers_at_once_all_succeed() {
    let base = tempfile::TempDir::new().expect("tempdir");
    let servers: Vec<String> = (0..10)
        .map(|i| format!("combstore:{}", base.path().join(format!("srv{i}")).display()))
        .collect();
    let args: Vec<&str> = servers.iter().map(String::as_str).collect();
    let mut kids: Vec<_> = (0..6).map(|_| spawn_role("first_opener", &args)).collect();
    for k in kids.iter_mut() {
        k.expect("STARTED", Duration::from_secs(120));
    }
    for k in kids.iter_mut() {
        k.send("GO");
    }
    let mut results = Vec::new();
    for k in kids.iter_mut() {
        results.extend(k.collect("RESULT"));
        k.wait_success(Duration::from_secs(120));
    }
    let failed: Vec<_> = results.iter().filter(|r| !r.starts_with("OK ")).collect();
    assert!(failed.is_empty(), "failed first opens: {failed:?}");
    assert_eq!(results.len(), 60);
}
