//! Engine behaviour through its Rust API (the C boundary has its own tests
//! in ffi-tests/).

use sha1::{Digest, Sha1};

use super::*;

fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn sha1_hex(b: &[u8]) -> String {
    Sha1::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A new server, on the chunk store the run asks for (server::test_store).
fn server() -> (tempfile::TempDir, Server) {
    super::test_store::server()
}

/// A new server on segment files, for tests that damage or inspect them.
fn server_on_files() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::open(&dir.path().join("srv")).unwrap();
    (dir, s)
}

fn name(n: &str) -> ImageName {
    ImageName::new(n, "1").unwrap()
}

fn read_all(s: &Server, n: &ImageName) -> Vec<u8> {
    let mut r = s.open_image("default", n).unwrap();
    let mut out = vec![0u8; r.size() as usize];
    let mut off = 0;
    while off < out.len() {
        let step = (out.len() - off).min(1 << 20).next_multiple_of(512);
        let mut buf = vec![0u8; step];
        let got = r.read(off as u64, &mut buf).unwrap();
        out[off..off + got].copy_from_slice(&buf[..got]);
        off += got;
    }
    out
}

#[test]
fn sequential_image_round_trips_with_sha1() {
    let (_d, s) = server();
    let bytes = data(1, 5 * (1 << 20) + 512 * 3);
    let mut w = s.create_image("default", &name("a")).unwrap();
    for (i, piece) in bytes.chunks(256 * 1024 + 512).enumerate() {
        let off = (i * (256 * 1024 + 512)) as u64;
        w.write(off, piece).unwrap();
    }
    assert_eq!(w.size(), bytes.len() as u64);
    w.close(true).unwrap();
    let info = s.image_info("default", &name("a")).unwrap();
    assert_eq!(info.state, ImageState::Complete);
    assert_eq!(info.sha1, sha1_hex(&bytes));
    assert_eq!(info.objid.len(), 60);
    assert_eq!(read_all(&s, &name("a")), bytes);
    let lsu = s.lsu_info("default").unwrap();
    assert_eq!(lsu.used, bytes.len() as u64);
    assert!(lsu.used_phys >= lsu.used);
}

#[test]
fn overwrites_and_holes_read_back_exactly() {
    let (_d, s) = server();
    let mut model = vec![0u8; 3 << 20];
    let mut w = s.create_image("default", &name("o")).unwrap();
    let writes: [(usize, usize, u64); 5] = [
        (0, 1 << 20, 1),
        (2 << 20, 1 << 20, 2),
        (512, 4096, 3),
        ((1 << 20) - 1024, 8192, 4),
        (0, 512, 5),
    ];
    for (k, &(off, len, seed)) in writes.iter().enumerate() {
        let d = data(seed, len);
        model[off..off + len].copy_from_slice(&d);
        w.write(off as u64, &d).unwrap();
        if k == 2 {
            w.flush().unwrap();
        }
    }
    w.close(true).unwrap();
    assert_eq!(read_all(&s, &name("o")), model);
    assert_eq!(
        s.image_info("default", &name("o")).unwrap().sha1,
        sha1_hex(&model)
    );
}

#[test]
fn checkpoint_restart_appends_and_hashes_whole_image() {
    let (_d, s) = server();
    let a = data(7, 3 << 20);
    let b = data(8, 2 << 20);
    let mut w = s.create_image("default", &name("c")).unwrap();
    w.write(0, &a).unwrap();
    w.close(false).unwrap();
    let info = s.image_info("default", &name("c")).unwrap();
    assert_eq!((info.state, info.size), (ImageState::Incomplete, a.len() as u64));
    assert!(matches!(
        s.open_image("default", &name("c")),
        Err(Error::NotComplete(_))
    ));
    let mut w = s.reopen_image("default", &name("c")).unwrap();
    assert!(matches!(
        s.reopen_image("default", &name("c")),
        Err(Error::Busy(_))
    ));
    w.write(a.len() as u64, &b).unwrap();
    w.close(true).unwrap();
    let whole = [a, b].concat();
    assert_eq!(read_all(&s, &name("c")), whole);
    assert_eq!(
        s.image_info("default", &name("c")).unwrap().sha1,
        sha1_hex(&whole)
    );
    assert!(matches!(
        s.reopen_image("default", &name("c")),
        Err(Error::Complete(_))
    ));
}

#[test]
fn delete_frees_space_and_name() {
    let (_d, s) = server();
    let before = s.lsu_info("default").unwrap();
    let mut w = s.create_image("default", &name("d")).unwrap();
    w.write(0, &data(3, 4 << 20)).unwrap();
    assert!(matches!(
        s.delete_image("default", &name("d")),
        Err(Error::Busy(_))
    ));
    w.close(true).unwrap();
    let mut r = s.open_image("default", &name("d")).unwrap();
    s.delete_image("default", &name("d")).unwrap();
    let after = s.lsu_info("default").unwrap();
    assert_eq!(
        (after.used, after.used_phys, after.images),
        (before.used, before.used_phys, before.images)
    );
    assert!(matches!(
        s.image_info("default", &name("d")),
        Err(Error::NoImage(_))
    ));
    // The open reader gets correct bytes from its verified chunk or NoImage.
    let mut buf = vec![0u8; 1 << 20];
    match r.read(2 << 20, &mut buf) {
        Err(Error::NoImage(_)) => {}
        Ok(_) => assert_eq!(buf, data(3, 4 << 20)[2 << 20..3 << 20]),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn abandoned_writer_leaves_committed_data_resumable() {
    let (_d, s) = server();
    let a = data(11, 2 << 20);
    let mut w = s.create_image("default", &name("x")).unwrap();
    w.write(0, &a).unwrap();
    w.flush().unwrap();
    w.abandon();
    drop(w);
    let info = s.image_info("default", &name("x")).unwrap();
    assert_eq!((info.state, info.size), (ImageState::Aborted, a.len() as u64));
    let w = s.reopen_image("default", &name("x")).unwrap();
    w.close(true).unwrap();
    assert_eq!(read_all(&s, &name("x")), a);
}

/// A writer commits as often as its chunk store asks
/// (`ChunkStore::commit_every`: an object store asks for fewer, larger
/// commits): what it wrote without a flush is in the catalog up to its
/// last commit, the size other processes see.
#[test]
fn writers_commit_as_often_as_their_store_asks() {
    use crate::store::memory::MemoryStore;
    // what a writer has not cut into chunks yet (up to a buffer) is not
    // committed: at 1 MiB, 3.5 MiB written commit at least 1 MiB
    for (every, seen) in [(Some(1u64 << 20), 1u64 << 20), (None, 0)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("srv");
        let store = match every {
            Some(b) => MemoryStore::new().with_commit_every(b),
            None => MemoryStore::new(),
        };
        super::test_store::use_memory_store(&path, std::sync::Arc::new(store));
        let s = Server::open(&path).unwrap();
        let bytes = data(21, 7 << 19);
        let mut w = s.create_image("default", &name("c")).unwrap();
        for (i, piece) in bytes.chunks(256 << 10).enumerate() {
            w.write((i << 18) as u64, piece).unwrap();
        }
        let size = s.image_info("default", &name("c")).unwrap().size;
        assert!(
            if seen == 0 { size == 0 } else { size >= seen },
            "every {every:?}: {size}"
        );
        w.close(true).unwrap();
        assert_eq!(read_all(&s, &name("c")), bytes);
    }
}

/// Simulates the process that owns `s` dying with `w` open: leaks the
/// writer and the server (no Drop runs) and drops the owner lock's flock
/// by removing its file.
fn die(s: Server, w: ImageWriter, path: &std::path::Path) {
    let token = s.shared.owner.token().to_owned();
    std::mem::forget(w);
    std::mem::forget(s);
    std::fs::remove_file(path.join("locks").join(format!("{token}.lock"))).unwrap();
}

/// A server at `path` whose writer of image "k" died after committing
/// 1 MiB (`data(5, ..)`), with `buffered` bytes more written but never
/// committed.
fn dead_writer_of_k(path: &std::path::Path, buffered: usize) {
    let s = Server::open(path).unwrap();
    let mut w = s.create_image("default", &name("k")).unwrap();
    w.write(0, &data(5, 1 << 20)).unwrap();
    w.flush().unwrap();
    if buffered > 0 {
        w.write(1 << 20, &data(6, buffered)).unwrap();
    }
    die(s, w, path);
}

/// A process that had the server open when a writer died sees the dead
/// writer's image as open would treat it: a plain image aborted, a copy
/// in progress (which recovery deletes) gone.
#[test]
fn a_dead_writers_copy_in_progress_is_gone_and_its_image_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    let seen = Server::open(&path).unwrap();
    let s = Server::open(&path).unwrap();
    let mut t = images::create(&s.shared, "default", &name("t"), true).unwrap();
    t.write(0, &data(7, 1 << 20)).unwrap();
    t.flush().unwrap();
    let mut k = s.create_image("default", &name("k")).unwrap();
    k.write(0, &data(8, 1 << 20)).unwrap();
    k.flush().unwrap();
    std::mem::forget(t);
    die(s, k, &path);
    assert!(matches!(
        seen.image_info("default", &name("t")),
        Err(Error::NoImage(_))
    ));
    assert!(matches!(
        seen.reopen_image("default", &name("t")),
        Err(Error::NoImage(_))
    ));
    assert_eq!(
        seen.image_info("default", &name("k")).unwrap().state,
        ImageState::Aborted
    );
    seen.recover().unwrap();
    assert!(
        !seen
            .list_images("default", None, 10)
            .unwrap()
            .contains(&name("t"))
    );
}

#[test]
fn recovery_completes_dead_writers_abnormally() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    dead_writer_of_k(&path, 1 << 20);
    let s2 = Server::open(&path).unwrap();
    let info = s2.image_info("default", &name("k")).unwrap();
    assert_eq!((info.state, info.size), (ImageState::Aborted, 1 << 20));
    let w = s2.reopen_image("default", &name("k")).unwrap();
    w.close(true).unwrap();
    assert_eq!(read_all(&s2, &name("k")), data(5, 1 << 20));
}

#[test]
fn inspect_leaves_a_dead_writers_image_as_found_and_open_recovers_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    dead_writer_of_k(&path, 0);
    let seen = Server::inspect(&path).unwrap();
    // reported as what it is (its writer is dead) ...
    assert_eq!(
        seen.image_info("default", &name("k")).unwrap().state,
        ImageState::Aborted
    );
    // ... while the catalog row stays as found
    let row = {
        let conn = seen.shared.catalog.lock();
        let lsu = crate::catalog::lsu(&conn, "default").unwrap();
        crate::catalog::image_by_name(&conn, lsu.id, &name("k"))
            .unwrap()
            .unwrap()
    };
    assert_eq!(row.state, ImageState::Writing);
    assert!(row.writer.is_some());
    drop(seen);
    let s2 = Server::open(&path).unwrap();
    assert_eq!(
        s2.image_info("default", &name("k")).unwrap().state,
        ImageState::Aborted
    );
}

#[test]
fn corrupted_chunk_is_an_error_not_wrong_bytes() {
    use std::os::unix::fs::FileExt;
    let (d, s) = server_on_files();
    let mut w = s.create_image("default", &name("z")).unwrap();
    w.write(0, &data(9, 1 << 20)).unwrap();
    w.close(true).unwrap();
    let seg_dir = d.path().join("srv").join("segments");
    let seg = std::fs::read_dir(&seg_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let f = std::fs::OpenOptions::new().write(true).open(seg).unwrap();
    f.write_all_at(&[0xAB], 4096 + 1000).unwrap();
    let mut r = s.open_image("default", &name("z")).unwrap();
    let mut buf = vec![0u8; 4096];
    assert!(matches!(r.read(0, &mut buf), Err(Error::Corrupt(_))));
}

#[test]
fn metadata_is_independent_of_data_state() {
    let (_d, s) = server();
    let w = s.create_image("default", &name("m")).unwrap();
    w.write_meta(0, b"before").unwrap();
    w.close(true).unwrap();
    let r = s.open_image("default", &name("m")).unwrap();
    r.write_meta(10, b"after").unwrap();
    let mut buf = [0xffu8; 32];
    let n = r.read_meta(0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"before\0\0\0\0after");
    assert!(matches!(r.read_meta(16, &mut buf), Err(Error::Range(_))));
    assert_eq!(r.read_meta(15, &mut buf).unwrap(), 0);
    assert!(matches!(r.write_meta(MAX_META, b"x"), Err(Error::TooBig(_))));
}

#[test]
fn listing_pages_in_key_order() {
    let (_d, s) = server();
    for n in ["b", "a", "c"] {
        s.create_image("default", &name(n)).unwrap().close(false).unwrap();
    }
    let first = s.list_images("default", None, 2).unwrap();
    assert_eq!(first, vec![name("a"), name("b")]);
    let rest = s.list_images("default", first.last(), 2).unwrap();
    assert_eq!(rest, vec![name("c")]);
    assert!(matches!(s.list_images("nope", None, 2), Err(Error::NoLsu(_))));
}

#[test]
fn foreign_and_relative_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    assert!(matches!(Server::open(dir.path()), Err(Error::NoServer(_))));
    assert!(matches!(
        Server::open(std::path::Path::new("rel/dir")),
        Err(Error::NoServer(_))
    ));
    assert!(matches!(
        Server::open_existing(&dir.path().join("none")),
        Err(Error::NoServer(_))
    ));
}

#[test]
fn a_first_open_that_died_half_way_is_finished_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    for d in ["segments", "locks"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    std::fs::write(dir.path().join("combstore.log"), b"").unwrap();
    let s = Server::open(dir.path()).unwrap();
    assert_eq!(s.lsu_info("default").unwrap().images, 0);
}

fn stored(s: &Server, lsu: &str, n: &str, seed: u64, len: usize) -> Vec<u8> {
    let bytes = data(seed, len);
    let mut w = s.create_image(lsu, &name(n)).unwrap();
    w.write(0, &bytes).unwrap();
    w.close(true).unwrap();
    bytes
}

#[test]
fn same_server_copy_shares_extents_and_survives_source_delete() {
    let (_d, s) = server();
    s.create_lsu("second").unwrap();
    let bytes = stored(&s, "default", "src", 21, (3 << 20) + 4096);
    let phys = s.lsu_info("default").unwrap().used_phys;
    s.copy_image("second", &name("dup"), &s, "default", &name("src"))
        .unwrap();
    let dup = s.image_info("second", &name("dup")).unwrap();
    assert_eq!((dup.state, dup.size), (ImageState::Complete, bytes.len() as u64));
    assert_eq!(dup.sha1, sha1_hex(&bytes));
    assert_eq!(s.lsu_info("second").unwrap().used, bytes.len() as u64);
    assert_eq!(
        s.lsu_info("second").unwrap().used_phys,
        0,
        "shared bytes are charged once"
    );
    assert_eq!(s.lsu_info("default").unwrap().used_phys, phys);
    s.delete_image("default", &name("src")).unwrap();
    // The charge moves to the LSU that still refers to the bytes.
    assert_eq!(s.lsu_info("default").unwrap().used_phys, 0);
    assert_eq!(s.lsu_info("second").unwrap().used_phys, phys);
    let mut r = s.open_image("second", &name("dup")).unwrap();
    let mut out = vec![0u8; bytes.len()];
    assert_eq!(r.read(0, &mut out).unwrap(), bytes.len());
    assert_eq!(out, bytes);
    s.delete_image("second", &name("dup")).unwrap();
    assert_eq!(s.lsu_info("second").unwrap().used_phys, 0);
}

#[test]
fn partial_extent_copies_compose_exactly() {
    let (_d, s) = server();
    let a = stored(&s, "default", "a", 31, 3 << 20);
    let b = stored(&s, "default", "b", 32, 2 << 20);
    let mut ra = s.open_image("default", &name("a")).unwrap();
    let mut rb = s.open_image("default", &name("b")).unwrap();
    let mut w = s.create_image("default", &name("v")).unwrap();
    let mut model = vec![0u8; 4 << 20];
    // (source, from, to, len)
    let plan: [(bool, usize, usize, usize); 4] = [
        (true, 0, 0, 3 << 20),
        (false, 1536, 512 * 3, 512 * 7),
        (false, (1 << 20) - 512, (2 << 20) + 512, (1 << 20) + 512),
        (true, 4096, 3 << 20, 1 << 20),
    ];
    for (from_a, from, to, len) in plan {
        let (r, src) = if from_a { (&mut ra, &a) } else { (&mut rb, &b) };
        w.copy_from(r, from as u64, to as u64, len as u64, true).unwrap();
        model[to..to + len].copy_from_slice(&src[from..from + len]);
    }
    w.close(true).unwrap();
    let phys_before_delete = s.lsu_info("default").unwrap().used_phys;
    assert_eq!(
        phys_before_delete,
        (5 << 20) as u64,
        "the virtual image stored no bytes of its own"
    );
    s.delete_image("default", &name("a")).unwrap();
    s.delete_image("default", &name("b")).unwrap();
    assert_eq!(read_all(&s, &name("v")), model);
    assert_eq!(
        s.image_info("default", &name("v")).unwrap().sha1,
        sha1_hex(&model)
    );
    s.delete_image("default", &name("v")).unwrap();
    assert_eq!(s.lsu_info("default").unwrap().used_phys, 0);
}

#[test]
fn whole_copy_in_order_reuses_source_sha1_and_bad_copies_change_nothing() {
    let (_d, s) = server();
    let a = stored(&s, "default", "a", 41, 3 << 20);
    let mut ra = s.open_image("default", &name("a")).unwrap();
    let mut w = s.create_image("default", &name("c")).unwrap();
    assert!(matches!(
        w.copy_from(&mut ra, 0, 0, 4 << 20, true),
        Err(Error::Range(_))
    ));
    assert!(matches!(
        w.copy_from(&mut ra, 100, 0, 512, true),
        Err(Error::Align)
    ));
    w.copy_from(&mut ra, 0, 0, 1 << 20, true).unwrap();
    w.copy_from(&mut ra, 1 << 20, 1 << 20, 2 << 20, true).unwrap();
    w.close(true).unwrap();
    assert_eq!(s.image_info("default", &name("c")).unwrap().sha1, sha1_hex(&a));
    assert_eq!(read_all(&s, &name("c")), a);
}

#[test]
fn cross_server_copies_stream_and_include_is_refused() {
    let (_d1, s1) = server();
    let (_d2, s2) = server();
    let a = stored(&s1, "default", "a", 51, (2 << 20) + 512);
    s2.copy_image("default", &name("a2"), &s1, "default", &name("a"))
        .unwrap();
    assert_eq!(s2.image_info("default", &name("a2")).unwrap().sha1, sha1_hex(&a));
    s1.delete_image("default", &name("a")).unwrap();
    assert_eq!(read_all(&s2, &name("a2")), a);
    let mut r = s2.open_image("default", &name("a2")).unwrap();
    let mut w = s1.create_image("default", &name("v")).unwrap();
    assert!(matches!(
        w.copy_from(&mut r, 0, 0, 512, true),
        Err(Error::CrossServer(_))
    ));
    w.copy_from(&mut r, 512, 0, 1 << 20, false).unwrap();
    w.close(true).unwrap();
    assert_eq!(read_all(&s1, &name("v")), a[512..512 + (1 << 20)]);
    assert!(matches!(
        s2.copy_image("default", &name("a2"), &s1, "default", &name("v")),
        Err(Error::Exists(_))
    ));
}

#[test]
fn recovery_deletes_an_interrupted_copy_and_frees_its_space() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    let s = Server::open(&path).unwrap();
    let before = s.lsu_info("default").unwrap();
    let mut w = images::create(&s.shared, "default", &name("copy"), true).unwrap();
    w.write(0, &data(61, 2 << 20)).unwrap();
    w.flush().unwrap();
    let token = s.shared.owner.token().to_owned();
    std::mem::forget(w);
    std::mem::forget(s);
    std::fs::remove_file(path.join("locks").join(format!("{token}.lock"))).unwrap();
    let s2 = Server::open(&path).unwrap();
    assert!(matches!(
        s2.image_info("default", &name("copy")),
        Err(Error::NoImage(_))
    ));
    let after = s2.lsu_info("default").unwrap();
    assert_eq!(
        (after.used, after.used_phys, after.images),
        (before.used, before.used_phys, before.images)
    );
}

#[test]
fn check_passes_on_a_healthy_server_with_shared_extents() {
    let (_d, s) = server();
    stored(&s, "default", "a", 71, 3 << 20);
    s.copy_image("default", &name("b"), &s, "default", &name("a"))
        .unwrap();
    s.delete_image("default", &name("a")).unwrap();
    let report = s.check().unwrap();
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
    let v = s.verify(None, None, &mut |_| {}).unwrap();
    assert_eq!((v.images, v.bytes, v.damaged.len()), (1, 3 << 20, 0));
}

#[test]
fn verify_names_exactly_the_damaged_image() {
    use std::os::unix::fs::FileExt;
    let (d, s) = server_on_files();
    stored(&s, "default", "good", 72, 1 << 20);
    let bad = stored(&s, "default", "bad", 73, 1 << 20);
    // Find the bad image's chunk and flip a byte in the middle of it.
    let seg_dir = d.path().join("srv").join("segments");
    let mut flipped = false;
    for entry in std::fs::read_dir(&seg_dir).unwrap() {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(entry.unwrap().path())
            .unwrap();
        let len = f.metadata().unwrap().len();
        let mut off = 4096;
        while off + 4096 <= len {
            let mut b = [0u8; 16];
            f.read_exact_at(&mut b, off).unwrap();
            if b == bad[..16] {
                f.write_all_at(&[b[5] ^ 0xff], off + 5).unwrap();
                flipped = true;
            }
            off += 4096;
        }
    }
    assert!(flipped);
    let v = s.verify(None, None, &mut |_| {}).unwrap();
    let names: Vec<_> = v.damaged.iter().map(|d| d.name.basename.as_str()).collect();
    assert_eq!(names, ["bad"]);
    assert_eq!(
        s.check().unwrap().errors(),
        0,
        "check reads no bytes; the catalog is consistent"
    );
}

#[test]
fn check_finds_leaks_dangling_references_and_wrong_statistics() {
    let (_d, s) = server();
    stored(&s, "default", "a", 74, 2 << 20);
    {
        let conn = s.shared.catalog.lock();
        // An extent row removed: its chunk is leaked and the image shrinks.
        conn.sql()
            .execute("DELETE FROM extents WHERE img_off = 0", [])
            .unwrap();
        conn.sql()
            .execute("INSERT INTO extents VALUES (999, 0, 512, 424242, 0)", [])
            .unwrap();
        conn.sql().execute("UPDATE lsus SET used = used + 1", []).unwrap();
    }
    let report = s.check().unwrap();
    let checks: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.check.as_str())
        .collect();
    for expected in [
        "chunk no extent refers to (leaked space)",
        "extent names a missing chunk",
        "extent of a missing image",
        "LSU statistics differ from the rows",
    ] {
        assert!(checks.contains(&expected), "{expected} not in {checks:?}");
    }
}

fn next_event(s: &Server, after: u64) -> Event {
    s.next_event(after, Some(std::time::Duration::from_secs(20)))
        .unwrap()
        .expect("an event within 20 s")
}

#[test]
fn label_raises_an_event_that_delete_acknowledges() {
    let (_d, s) = server();
    s.set_lsu_label("default", "weekly").unwrap();
    let e = next_event(&s, 0);
    assert_eq!(
        (e.kind, e.lsu.as_str(), e.text.as_str()),
        (EventKind::Label, "default", "weekly")
    );
    assert_eq!(s.lsu_info("default").unwrap().label, "weekly");
    assert!(
        s.next_event(e.id, Some(std::time::Duration::ZERO))
            .unwrap()
            .is_none()
    );
    s.delete_event(e.id).unwrap();
    assert!(matches!(s.delete_event(e.id), Err(Error::NoEvent(_))));
    assert!(
        s.next_event(0, Some(std::time::Duration::ZERO))
            .unwrap()
            .is_none()
    );
}

#[test]
fn named_async_copy_finishes_with_an_event_and_a_verified_target() {
    let (_d1, s1) = server();
    let (_d2, s2) = server();
    let a = stored(&s1, "default", "a", 81, (3 << 20) + 512);
    let id = s2
        .start_copy("default", &name("a2"), &s1, "default", &name("a"), Some("dup-a"))
        .unwrap();
    assert_eq!(
        s2.wait_op("dup-a", Some(std::time::Duration::from_secs(30)))
            .unwrap(),
        Outcome::Ok
    );
    let e = next_event(&s2, 0);
    assert_eq!(
        (e.kind, e.op_id, e.op_name.as_str(), e.outcome),
        (EventKind::AsyncDone, id, "dup-a", Outcome::Ok)
    );
    assert_eq!((e.basename.as_str(), e.bytes), ("a2", a.len() as u64));
    assert_eq!(read_all(&s2, &name("a2")), a);
    // Argument errors are synchronous and start nothing.
    assert!(matches!(
        s2.start_copy("default", &name("a2"), &s1, "default", &name("a"), None),
        Err(Error::Exists(_))
    ));
    assert!(matches!(
        s2.start_copy("default", &name("b"), &s1, "default", &name("zz"), None),
        Err(Error::NoImage(_))
    ));
    assert!(matches!(s2.wait_op("nope", None), Err(Error::NoOp(_))));
    assert!(
        matches!(s2.cancel_op("dup-a"), Err(Error::NoOp(_))),
        "a finished op cannot be cancelled"
    );
}

#[test]
fn a_cancelled_stream_copy_leaves_no_target_and_no_space() {
    let (_d1, s1) = server();
    let (_d2, s2) = server();
    stored(&s1, "default", "big", 82, 40 << 20);
    let before = s2.lsu_info("default").unwrap();
    let calls = std::cell::Cell::new(0);
    let cancel_after_first_step = || {
        calls.set(calls.get() + 1);
        calls.get() > 2
    };
    let r = s2.copy_image_with(
        "default",
        &name("big2"),
        &s1,
        "default",
        &name("big"),
        &cancel_after_first_step,
    );
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert!(matches!(
        s2.image_info("default", &name("big2")),
        Err(Error::NoImage(_))
    ));
    let after = s2.lsu_info("default").unwrap();
    assert_eq!(
        (after.used, after.used_phys, after.images),
        (before.used, before.used_phys, before.images)
    );
}

#[test]
fn async_delete_reports_its_end() {
    let (_d, s) = server();
    stored(&s, "default", "old", 83, 1 << 20);
    let id = s.start_delete("default", &name("old")).unwrap();
    let e = next_event(&s, 0);
    assert_eq!(
        (e.kind, e.op_id, e.outcome, e.basename.as_str()),
        (EventKind::DeleteDone, id, Outcome::Ok, "old")
    );
    assert!(matches!(
        s.image_info("default", &name("old")),
        Err(Error::NoImage(_))
    ));
    assert!(matches!(
        s.start_delete("default", &name("old")),
        Err(Error::NoImage(_))
    ));
}

#[test]
fn operations_of_a_dead_process_are_failed_by_recovery() {
    let (_d, s) = server();
    {
        let mut conn = s.shared.catalog.lock();
        let tx = crate::catalog::write_txn(&mut conn).unwrap();
        crate::catalog::events::insert_op(&tx, Some("orphan"), "copy", "deadbeef", "default", "x", "", 1)
            .unwrap();
        tx.commit().unwrap();
    }
    // The dead owner has no lock file: the waiter runs recovery itself.
    assert_eq!(
        s.wait_op("orphan", Some(std::time::Duration::from_secs(5)))
            .unwrap(),
        Outcome::OwnerDied
    );
    let e = next_event(&s, 0);
    assert_eq!(
        (e.kind, e.op_name.as_str(), e.outcome),
        (EventKind::AsyncDone, "orphan", Outcome::OwnerDied)
    );
}

#[test]
fn low_space_is_raised_once_per_crossing() {
    let (_d, s) = server();
    s.set_low_space_pct("default", 100).unwrap();
    stored(&s, "default", "a", 84, 1 << 20);
    stored(&s, "default", "b", 85, 1 << 20);
    if !s.shared.store.on_server_filesystem() {
        // a pool: no filesystem of its chunks to fall low
        let none = s.next_event(0, Some(std::time::Duration::ZERO)).unwrap();
        assert!(none.is_none(), "{none:?}");
        return;
    }
    let e = next_event(&s, 0);
    assert_eq!(
        (e.kind, e.lsu.as_str(), e.outcome),
        (EventKind::LowSpace, "default", Outcome::Ok)
    );
    assert!(e.bytes > 0);
    assert!(
        s.next_event(e.id, Some(std::time::Duration::ZERO))
            .unwrap()
            .is_none(),
        "raised once"
    );
    assert!(matches!(
        s.set_low_space_pct("default", 101),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn a_capacity_quota_refuses_writes_past_it_and_reports_it() {
    let (_d, s) = server();
    s.create_lsu("small").unwrap();
    s.set_lsu_capacity("small", 3 << 20).unwrap();
    assert_eq!(s.lsu_info("small").unwrap().capacity, 3 << 20);
    let mut w = s.create_image("small", &name("fits")).unwrap();
    w.write(0, &data(91, 2 << 20)).unwrap();
    w.close(true).unwrap();
    let mut w = s.create_image("small", &name("too-big")).unwrap();
    // The last buffer is stored by the next call (engine::pipeline).
    let r = w.write(0, &data(92, 2 << 20)).and_then(|()| w.flush());
    assert!(matches!(r, Err(Error::NoSpace(_))), "{r:?}");
    drop(w);
    // what the failed writer appended past the committed end is cut at
    // once, not left allocated until another writer adopts its segment
    assert_eq!(s.space().unwrap().tails, 0);
    s.delete_image("small", &name("too-big")).unwrap();
    s.delete_image("small", &name("fits")).unwrap();
    let mut w = s.create_image("small", &name("after")).unwrap();
    w.write(0, &data(93, 2 << 20)).unwrap();
    w.close(true).unwrap();
    assert!(matches!(s.set_lsu_capacity("nope", 1), Err(Error::NoLsu(_))));
}

fn query_oids(s: &Server, q: &str) -> Vec<String> {
    let schema = crate::archive::schema::Schema::factory();
    let plan = crate::archive::query::translate_for(s.catalog_dialect(), q, &[], &schema).unwrap();
    let (sql, params) = plan.bind(&[], "", 1000).unwrap();
    s.run_object_query(&sql, &params)
        .unwrap()
        .into_iter()
        .map(|row| match &row[0] {
            crate::archive::SqlValue::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn complete_images_are_queryable_archive_objects() {
    let (_d, s) = server();
    let bytes = stored(&s, "default", "client1_F1", 101, 1 << 20);
    let info = s.image_info("default", &name("client1_F1")).unwrap();
    assert_eq!(info.objid.len(), 60);
    assert_eq!(
        query_oids(&s, "ost.basename = 'client1_F1'"),
        vec![info.objid.clone()]
    );
    assert_eq!(
        query_oids(&s, &format!("system.object_size = {}", bytes.len())),
        vec![info.objid.clone()]
    );
    assert!(
        query_oids(&s, "ost.basename LIKE 'CLIENT%'").is_empty(),
        "LIKE is case-sensitive"
    );
    // The image's data is retrievable by OID.
    let mut got = Vec::new();
    s.retrieve_object(&info.objid, 10, Some(25), &mut |b| {
        got.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    assert_eq!(got, bytes[10..=25]);
    // Deleting the image deletes its record.
    s.delete_image("default", &name("client1_F1")).unwrap();
    assert!(query_oids(&s, "ost.basename = 'client1_F1'").is_empty());
    assert!(matches!(s.object_record(&info.objid), Err(Error::NoImage(_))));
}

#[test]
fn archive_objects_store_share_and_go_with_their_last_record() {
    use crate::archive::value::Value;
    let (_d, s) = server();
    let data_bytes = data(102, 3_000_001); // not a block multiple
    let mut at = 0;
    let mut reader = |buf: &mut [u8]| {
        let n = (data_bytes.len() - at).min(buf.len()).min(70_000);
        buf[..n].copy_from_slice(&data_bytes[at..at + n]);
        at += n;
        Ok(n)
    };
    let fields = vec![(
        "system.test.type_string".to_owned(),
        Value::String("hello".into()).to_sql(),
    )];
    let rec = s.store_object(&mut reader, fields).unwrap();
    assert_eq!(
        (rec.size, rec.sha1.clone(), rec.indexed),
        (data_bytes.len() as u64, sha1_hex(&data_bytes), true)
    );
    assert_eq!(
        query_oids(&s, "system.test.type_string = 'hello'"),
        vec![rec.oid.clone()]
    );
    let rec2 = s.store_metadata(&rec.oid, vec![]).unwrap();
    assert_ne!(rec2.oid, rec.oid);
    assert_eq!((rec2.size, &rec2.sha1), (rec.size, &rec.sha1));
    let phys = s.lsu_info(crate::engine::archive::ARCHIVE_LSU).unwrap().used_phys;
    assert!(phys > 0);
    s.delete_object(&rec.oid).unwrap();
    assert!(matches!(s.delete_object(&rec.oid), Err(Error::NoImage(_))));
    let mut all = Vec::new();
    s.retrieve_object(&rec2.oid, 0, None, &mut |b| {
        all.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    assert_eq!(all, data_bytes, "the data stays while a record names it");
    assert_eq!(s.check_indexed(&rec2.oid).unwrap(), -1);
    s.delete_object(&rec2.oid).unwrap();
    assert_eq!(
        s.lsu_info(crate::engine::archive::ARCHIVE_LSU).unwrap().used_phys,
        0,
        "data freed"
    );
    assert!(
        s.lsu_names().unwrap().iter().all(|n| !n.starts_with('.')),
        "the archive LSU is internal"
    );
}

#[test]
fn a_new_server_gets_the_factory_schema_file_and_bad_files_are_named() {
    let (d, s) = server();
    let schema = s.archive_schema().unwrap();
    assert!(schema.field("system.object_size").is_some());
    assert!(
        d.path()
            .join("srv")
            .join(crate::engine::archive::SCHEMA_FILE)
            .is_file()
    );
    assert_eq!(s.archive_port().unwrap(), 8080);
    std::fs::write(
        d.path().join("srv").join(crate::engine::archive::SCHEMA_FILE),
        "<metadataConfig><schema>",
    )
    .unwrap();
    let e = s.archive_schema().unwrap_err().to_string();
    assert!(e.contains("line"), "{e}");
}

#[test]
fn recovery_heals_records_left_unindexed() {
    let (_d, s) = server();
    stored(&s, "default", "img", 111, 4096);
    let oid = s.image_info("default", &name("img")).unwrap().objid;
    // Undo the indexing, as a failed index transaction leaves a record.
    {
        let conn = s.shared.catalog.lock();
        let pending = r#"[["ost.basename","t","img"]]"#;
        conn.sql()
            .execute("DELETE FROM object_fields WHERE oid = ?1", [&oid])
            .unwrap();
        conn.sql()
            .execute(
                "UPDATE archive_objects SET indexed = 0, pending = ?2 WHERE oid = ?1",
                [&oid, pending],
            )
            .unwrap();
    }
    assert!(query_oids(&s, "ost.basename = 'img'").is_empty());
    assert!(s.query_integrity_time().unwrap() > 0);
    s.recover().unwrap();
    assert_eq!(query_oids(&s, "ost.basename = 'img'"), vec![oid.clone()]);
    assert_eq!(s.check_indexed(&oid).unwrap(), -1);
}

#[test]
fn prefill_empty_images_leaves_what_create_and_close_leave() {
    use crate::archive::SqlValue;
    let (_d, s) = server();
    let names: Vec<ImageName> = (0..5).map(|i| name(&format!("pre{i}"))).collect();
    let items = names.iter().map(|n| {
        let f = [
            ("ost.lsu", "default"),
            ("ost.basename", n.basename.as_str()),
            ("ost.date", "1"),
        ];
        (
            n.clone(),
            f.map(|(k, v)| (k.to_owned(), SqlValue::Text(v.to_owned())))
                .to_vec(),
        )
    });
    assert_eq!(
        s.prefill_empty_images("default", items, 2).unwrap(),
        5,
        "in batches of 2"
    );
    assert_eq!(s.list_images("default", None, 10).unwrap(), names);
    let info = s.image_info("default", &names[3]).unwrap();
    assert_eq!((info.state, info.size), (ImageState::Complete, 0));
    assert_eq!(info.sha1, archive::empty_sha1());
    assert_eq!(s.check_indexed(&info.objid).unwrap(), -1, "indexed");
    assert_eq!(query_oids(&s, "ost.basename = 'pre3'"), vec![info.objid.clone()]);
    assert!(read_all(&s, &names[3]).is_empty());
    assert_eq!(s.lsu_info("default").unwrap().images, 5);
    // A name taken: the batch holding it rolls back, earlier batches stay.
    let again = vec![(name("pre5"), vec![]), (name("pre0"), vec![])];
    assert!(matches!(
        s.prefill_empty_images("default", again, 10),
        Err(Error::Exists(_))
    ));
    assert_eq!(s.lsu_info("default").unwrap().images, 5);
    s.delete_image("default", &names[0]).unwrap();
    assert_eq!(s.lsu_info("default").unwrap().images, 4);
}

#[test]
fn room_checks_grant_a_bounded_credit_and_refuse_what_would_eat_the_reserve() {
    let (_d, s) = server();
    let sh = &s.shared;
    if !sh.store.on_server_filesystem() {
        // a pool (COMBSTORE_TEST_STORE=s3): the local filesystem holds no
        // chunk, so nothing is refused for it, and the LSU has no capacity
        // but the largest storable
        sh.ensure_room(u64::MAX / 2).unwrap();
        assert_eq!(
            s.lsu_info("default").unwrap().capacity,
            super::lsus::POOL_CAPACITY
        );
        return;
    }
    sh.ensure_room(4096).unwrap();
    let credit = *sh.room.credit.lock();
    let (total, avail) = space::fs_space(&sh.dir).unwrap();
    let slack = avail.saturating_sub(4096 + space::catalog_reserve(total));
    assert!(credit <= space::ROOM_MAX, "credit {credit}");
    assert!(
        credit <= slack / space::ROOM_SHARE + 1,
        "credit {credit} of slack {slack}"
    );
    if credit >= 8192 {
        sh.ensure_room(4096).unwrap();
        assert_eq!(*sh.room.credit.lock(), credit - 4096, "spent from the credit");
    }
    // more than the filesystem has: refused, and the credit is gone
    let e = sh.ensure_room(u64::MAX / 2).unwrap_err();
    assert!(matches!(e, Error::NoSpace(_)), "{e}");
    assert_eq!(*sh.room.credit.lock(), 0);
}

/// An image of many extents with holes, read through windows of the
/// extent map (WINDOW and JUMP_WINDOW are tiny in unit tests):
/// sequentially with several read sizes, backwards and at random; then
/// deleted under a reader, whose next window is refused.
#[test]
fn readers_page_through_the_extent_map_in_windows() {
    use super::image::{JUMP_WINDOW, WINDOW};
    let (_d, s) = server();
    let size = 40 * 8192 + 512;
    let mut model = vec![0u8; size];
    let mut w = s.create_image("default", &name("win")).unwrap();
    // 40 pieces of 3 KiB every 8 KiB (a hole after each), then a tail
    for k in 0..40 {
        let d = data(k as u64 + 100, 3072);
        let off = k * 8192 + (k % 3) * 512;
        model[off..off + 3072].copy_from_slice(&d);
        w.write(off as u64, &d).unwrap();
        w.flush().unwrap(); // one chunk, one extent each
    }
    let tail = data(99, 512);
    model[size - 512..].copy_from_slice(&tail);
    w.write((size - 512) as u64, &tail).unwrap();
    w.close(true).unwrap();
    const { assert!(41 > 4 * WINDOW && WINDOW > JUMP_WINDOW, "the test spans windows") };

    for step in [512usize, 4096, 8192 * 3, size.next_multiple_of(512)] {
        let mut r = s.open_image("default", &name("win")).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; step];
        while got.len() < size {
            let n = r.read(got.len() as u64, &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == model, "sequential reads of {step} bytes");
    }
    let mut r = s.open_image("default", &name("win")).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut rng = 7u64;
    for k in 0..200 {
        let off = if k < 80 {
            (size / 512 - 1 - k) * 512 // backwards
        } else {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) as usize % (size / 512) * 512
        };
        let n = r.read(off as u64, &mut buf).unwrap();
        assert!(buf[..n] == model[off..off + n], "read at {off}");
    }

    let mut r = s.open_image("default", &name("win")).unwrap();
    r.read(0, &mut buf).unwrap();
    s.delete_image("default", &name("win")).unwrap();
    let mut seen = 0;
    let e = loop {
        match r.read(seen, &mut buf) {
            Ok(n) => seen += n as u64,
            Err(e) => break e,
        }
        assert!(seen < size as u64, "read the whole deleted image");
    };
    assert!(matches!(e, Error::NoImage(_)), "{e}");
}

#[test]
fn archive_doubles_are_stored_bit_exactly() {
    use crate::archive::value::Value;
    let (_d, s) = server();
    for x in [376.86291232399077, -0.0, f64::NAN, 5e-324, -f64::MAX, 0.1] {
        let mut done = false;
        let mut reader = |buf: &mut [u8]| {
            if done {
                return Ok(0);
            }
            done = true;
            buf[0] = 7;
            Ok(1)
        };
        let fields = vec![("system.test.type_double".to_owned(), Value::Double(x).to_sql())];
        let rec = s.store_object(&mut reader, fields).unwrap();
        let got = s.object_fields(&rec.oid).unwrap();
        let v = got.iter().find(|(n, _)| n == "system.test.type_double").unwrap();
        match crate::engine::archive::typed(crate::archive::FieldType::Double, &v.1) {
            Some(Value::Double(y)) => assert_eq!(y.to_bits(), x.to_bits(), "{x:e}"),
            other => panic!("{x:e}: {other:?}"),
        }
    }
}

#[test]
fn the_chunk_store_the_run_asks_for_holds_the_chunks() {
    let (d, s) = server();
    let mut w = s.create_image("default", &name("where")).unwrap();
    w.write(0, &data(5, 1 << 20)).unwrap();
    w.close(true).unwrap();
    assert_eq!(read_all(&s, &name("where")), data(5, 1 << 20));
    let files = std::fs::read_dir(d.path().join("srv").join("segments"))
        .unwrap()
        .count();
    let elsewhere = super::test_store::memory_requested() || super::test_store::s3_requested();
    assert_eq!(
        files == 0,
        elsewhere,
        "{files} segment files; memory or S3 store: {elsewhere}"
    );
    assert!(s.space().unwrap().allocated > 1 << 19);
}

#[test]
fn a_copy_of_the_start_of_a_source_records_its_own_sha1() {
    // the crash torture caught a copy of a source's first bytes recorded
    // with the whole source's SHA-1
    let (_d, s) = server();
    let a = stored(&s, "default", "a", 41, 1 << 20);
    let (_d2, other) = server();
    let half = 512 << 10;
    // on one server the extents are shared; to another the bytes stream
    for (target, srv) in [("p", &s), ("q", &other)] {
        let mut r = s.open_image("default", &name("a")).unwrap();
        let mut w = srv.create_image("default", &name(target)).unwrap();
        w.copy_from(&mut r, 0, 0, half as u64, false).unwrap();
        w.close(true).unwrap();
        let info = srv.image_info("default", &name(target)).unwrap();
        assert_eq!(
            (info.size, info.sha1),
            (half as u64, sha1_hex(&a[..half])),
            "{target}"
        );
        // the whole source, in two pieces, in order: the source's SHA-1
        let whole = format!("{target}-whole");
        let mut w = srv.create_image("default", &name(&whole)).unwrap();
        w.copy_from(&mut r, 0, 0, half as u64, false).unwrap();
        w.copy_from(&mut r, half as u64, half as u64, half as u64, false)
            .unwrap();
        w.close(true).unwrap();
        assert_eq!(
            srv.image_info("default", &name(&whole)).unwrap().sha1,
            sha1_hex(&a)
        );
        let v = srv.verify(None, None, &mut |_| {}).unwrap();
        assert!(v.damaged.is_empty(), "{:?}", v.damaged);
    }
}
