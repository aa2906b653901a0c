//! Stored bytes that were damaged on disk are never returned as data
//! ("Every byte returned has passed its extent checksum; damaged extents
//! give STS_ECORRUPT and no bytes").

use crate::common::*;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

fn is_catalog(path: &std::path::Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    if name.ends_with("-wal") || name.ends_with("-shm") || name.ends_with("-journal") {
        return true;
    }
    let mut head = [0u8; 16];
    match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => &head == b"SQLite format 3\0",
        Err(_) => false,
    }
}

#[test]
fn damaged_segment_bytes_give_ecorrupt_never_wrong_bytes() {
    let mut srv = Server::new();
    let def = image_def("victim", "");
    let data = seeded(31, 2 << 20);
    store_complete(&srv.lsu(), &def, &data);
    srv.close();
    // damage every non-catalog file of at least 64 KiB: one byte in every 4 KiB
    let mut damaged: Vec<PathBuf> = Vec::new();
    for rel in srv.tree() {
        let p = srv.path.join(&rel);
        if !p.is_file() || is_catalog(&p) || p.metadata().unwrap().len() < 64 * 1024 {
            continue;
        }
        let len = p.metadata().unwrap().len();
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let mut off = 4096 + 1234;
        while off < len {
            let mut b = [0u8; 1];
            f.seek(SeekFrom::Start(off)).unwrap();
            f.read_exact(&mut b).unwrap();
            b[0] ^= 0x5a;
            f.seek(SeekFrom::Start(off)).unwrap();
            f.write_all(&b).unwrap();
            off += 4096;
        }
        damaged.push(rel);
    }
    assert!(
        !damaged.is_empty(),
        "no data (segment) files found to damage in {:?}",
        srv.tree()
    );
    srv.reopen();
    let rh = open(&srv.lsu(), &def, c::O_READ);
    let mut corrupt = 0;
    for off in (0..data.len() as u64).step_by(64 * 1024) {
        match read_at(rh, 64 * 1024, off) {
            Ok(got) => assert_bytes_eq(
                &got,
                &data[off as usize..off as usize + got.len()],
                &format!("read at {off} of a damaged image"),
            ),
            Err(rc) if rc == c::ECORRUPT => corrupt += 1,
            Err(rc) => panic!(
                "read at {off} of a damaged image: {} (want EOK with correct bytes or ECORRUPT)",
                code_name(rc)
            ),
        }
    }
    assert!(
        corrupt > 0,
        "every read succeeded although {damaged:?} were damaged every 4 KiB"
    );
    close(rh, 0);
}
