//! Stored bytes that were damaged on disk are never returned as data
//! ("Every byte returned has passed its extent checksum; damaged extents
//! give STS_ECORRUPT and no bytes").

use crate::common::child::isolated;
use crate::common::*;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

pub fn is_catalog(path: &std::path::Path) -> bool {
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

#[test]
fn write_error_is_reported_then_eprevio_and_the_image_is_completed_abnormally() {
    // A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes the plugin's
    // data writes fail with EFBIG once the limit is reached: the failing
    // buffered data is reported by a later write/flush/close as STS_EIO or
    // STS_ENOSPC, then STS_EPREVIO by every later call on the handle; the
    // close closes the handle all the same and leaves an abnormal completion
    // that kept the flushed data.
    isolated(
        "integrity::write_error_is_reported_then_eprevio_and_the_image_is_completed_abnormally",
        || {
            let mut srv = Server::new();
            let lsu = srv.lsu();
            let def = image_def("limited", "");
            let flushed = seeded(41, 1 << 20);
            let ih = create(&lsu, &def);
            write_all(ih, &flushed, 0);
            flush(ih);
            let old = unsafe {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let mut old = std::mem::zeroed::<libc::rlimit>();
                assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut old), 0);
                let lim = libc::rlimit {
                    rlim_cur: 3 << 20,
                    rlim_max: old.rlim_max,
                };
                assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
                old
            };
            let mut first_err = None;
            for i in 1..64u64 {
                // distinct bytes: repeated ones would be stored once
                let rc = write_at(ih, &seeded(42 + i, 1 << 20), i << 20);
                if rc != c::EOK {
                    first_err = Some((i, rc));
                    break;
                }
            }
            let rc_flush = if first_err.is_none() {
                api().flush(ih)
            } else {
                c::EPREVIO
            };
            unsafe {
                assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &old), 0);
            }
            let first = match first_err {
                Some((_, rc)) => rc,
                None => rc_flush,
            };
            assert!(
                first == c::EIO || first == c::ENOSPC,
                "first error after the file-size limit: {} (want EIO or ENOSPC); writes: {first_err:?}",
                code_name(first)
            );
            // every later call on the handle: EPREVIO
            assert_rc!(
                write_at(ih, &seeded(42, 512), 0),
                c::EPREVIO,
                "write after the error"
            );
            assert_rc!(api().flush(ih), c::EPREVIO, "flush after the error");
            assert_rc!(
                api().close_image(ih, c::CLOSE_COMPLETE),
                c::EPREVIO,
                "close after the error"
            );
            assert_rc!(
                api().close_image(ih, c::CLOSE_COMPLETE),
                c::EHANDLE,
                "the failed close closed the handle"
            );
            let info = must_prop_byname(&lsu, &def);
            let f = info.imo_flags;
            assert_eq!(f & (c::II_COMPLETE | c::II_BUSY_WRITE), 0, "{}", flags_str(f));
            assert_ne!(
                f & c::II_ABNORMAL,
                0,
                "not an abnormal completion: {}",
                flags_str(f)
            );
            assert!(
                info.imo_size >= flushed.len() as u64,
                "flushed data lost: size {}",
                info.imo_size
            );
            srv.reopen();
            let wh = open(&srv.lsu(), &def, c::O_WRITE);
            close(wh, c::CLOSE_COMPLETE);
            let got = read_image(&srv.lsu(), &def);
            assert_bytes_eq(
                &got[..flushed.len()],
                &flushed,
                "flushed data after the write error",
            );
        },
    );
}
