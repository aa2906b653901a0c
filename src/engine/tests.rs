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

fn server() -> (tempfile::TempDir, Server) {
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
    assert_eq!(info.objid.len(), 32);
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
    assert_eq!(
        (info.state, info.size),
        (ImageState::Incomplete, a.len() as u64)
    );
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
    assert_eq!(
        (info.state, info.size),
        (ImageState::Aborted, a.len() as u64)
    );
    let w = s.reopen_image("default", &name("x")).unwrap();
    w.close(true).unwrap();
    assert_eq!(read_all(&s, &name("x")), a);
}

#[test]
fn recovery_completes_dead_writers_abnormally() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    let s = Server::open(&path).unwrap();
    let mut w = s.create_image("default", &name("k")).unwrap();
    w.write(0, &data(5, 1 << 20)).unwrap();
    w.flush().unwrap();
    w.write(1 << 20, &data(6, 1 << 20)).unwrap(); // buffered, never committed
    // Simulate the process dying: leak the writer and the server (no
    // Drop runs) and drop the owner lock's flock by removing the file.
    let token = s.shared.owner.token().to_owned();
    std::mem::forget(w);
    std::mem::forget(s);
    std::fs::remove_file(path.join("locks").join(format!("{token}.lock"))).unwrap();
    let s2 = Server::open(&path).unwrap();
    let info = s2.image_info("default", &name("k")).unwrap();
    assert_eq!((info.state, info.size), (ImageState::Aborted, 1 << 20));
    let w = s2.reopen_image("default", &name("k")).unwrap();
    w.close(true).unwrap();
    assert_eq!(read_all(&s2, &name("k")), data(5, 1 << 20));
}

#[test]
fn corrupted_chunk_is_an_error_not_wrong_bytes() {
    use std::os::unix::fs::FileExt;
    let (d, s) = server();
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
    assert!(matches!(
        r.write_meta(MAX_META, b"x"),
        Err(Error::TooBig(_))
    ));
}

#[test]
fn listing_pages_in_key_order() {
    let (_d, s) = server();
    for n in ["b", "a", "c"] {
        s.create_image("default", &name(n))
            .unwrap()
            .close(false)
            .unwrap();
    }
    let first = s.list_images("default", None, 2).unwrap();
    assert_eq!(first, vec![name("a"), name("b")]);
    let rest = s.list_images("default", first.last(), 2).unwrap();
    assert_eq!(rest, vec![name("c")]);
    assert!(matches!(
        s.list_images("nope", None, 2),
        Err(Error::NoLsu(_))
    ));
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
