//! Disk full: a server on a small tmpfs (mounted by the test; skipped with a
//! printed reason when mounting is not permitted) is filled through the C
//! entry points until writes fail.
//!
//! What must hold: the failing call returns STS_ENOSPC (never STS_EINTERNAL),
//! every later call on that handle STS_EPREVIO and its close a failure; the
//! image ends pending and abnormal (or does not exist); every image completed
//! before reads back byte for byte with its SHA-1; the catalog stays
//! consistent (`combstore doctor`); lsu_used is the sum of the images' sizes,
//! lsu_capacity the filesystem's size, lsu_used_phys what the chunks occupy
//! (never more than the filesystem holds); after deleting images, writing
//! succeeds again.

use crate::common::child::isolated;
use crate::common::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A tmpfs of a fixed size mounted on a fresh temporary directory,
/// unmounted on drop (lazily if something still holds it open).
pub struct Tmpfs {
    dir: Option<tempfile::TempDir>,
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` bytes, or returns why it cannot.
    pub fn mount(size: u64) -> Result<Tmpfs, String> {
        let dir = tempfile::TempDir::new().map_err(|e| format!("tempdir: {e}"))?;
        let path = dir.path().to_path_buf();
        let target = CString::new(path.as_os_str().as_bytes()).unwrap();
        let opts = CString::new(format!("size={size},mode=0700")).unwrap();
        // SAFETY: every pointer is a valid NUL-terminated string.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        if rc != 0 {
            return Err(format!(
                "mount -t tmpfs -o size={size} on {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(Tmpfs { dir: Some(dir), path })
    }

    /// (total, available) bytes, as statvfs reports them.
    pub fn space(&self) -> (u64, u64) {
        statvfs(&self.path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        unsafe {
            if libc::umount2(target.as_ptr(), 0) != 0 {
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
            }
        }
        drop(self.dir.take());
    }
}

/// (f_blocks * f_frsize, f_bavail * f_frsize) of the filesystem holding `p`.
pub fn statvfs(p: &Path) -> (u64, u64) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: valid path and writable out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    assert_eq!(
        rc,
        0,
        "statvfs {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
    // SAFETY: initialized on success.
    let st = unsafe { st.assume_init() };
    (st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)
}

/// The administrator's tool next to the plugin (target/<profile>/combstore).
pub fn combstore_bin() -> PathBuf {
    plugin_path().with_file_name("combstore")
}

/// `combstore -s DIR ARGS...`: (exit code, stdout, stderr).
pub fn run_combstore(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(combstore_bin())
        .arg("-s")
        .arg(dir)
        .args(args)
        .env_remove("COMBSTORE_SERVER")
        .output()
        .expect("run combstore");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Mounts a tmpfs of `size` bytes or prints why the test is skipped.
fn small_fs(test: &str, size: u64) -> Option<Tmpfs> {
    match Tmpfs::mount(size) {
        Ok(t) => Some(t),
        Err(why) => {
            println!("SKIPPED {test}: cannot mount a small filesystem ({why}); run as root");
            None
        }
    }
}

/// A server in a new directory on `fs`. The plugin's log file stays out of
/// it: the first server a process opens chooses the log file, so a
/// throwaway server on the ordinary temporary filesystem is opened first.
fn server_on(fs: &Tmpfs) -> Server {
    drop(Server::new());
    let dir = tempfile::TempDir::new_in(&fs.path).expect("tempdir on the small filesystem");
    let path = dir.path().join("srv");
    Server::open_at(dir, path)
}

/// An image stored complete, with the bytes it holds.
struct Kept {
    def: sys::sts_image_def_t,
    data: Vec<u8>,
}

/// Where and how filling the filesystem stopped.
struct Failure {
    /// Image being written when the first error came.
    def: sys::sts_image_def_t,
    /// Call that failed first ("create", "write", "flush", "close") and its code.
    call: &'static str,
    rc: i32,
    /// True if the image was created (so it must be in an allowed state).
    created: bool,
}

const PIECE: usize = 256 << 10;

/// How the images that fill the filesystem are written, so that the first
/// failure comes from a different call.
#[derive(Clone, Copy)]
enum Mode {
    /// 2 MiB images: a write that fills the 1 MiB chunk buffer fails.
    Write,
    /// 2 MiB images, flushed after every piece: a flush fails.
    Flush,
    /// 512 KiB images, buffered until the close: a close fails.
    Close,
}

impl Mode {
    fn image_size(self) -> usize {
        match self {
            Mode::Write | Mode::Flush => 2 << 20,
            Mode::Close => 512 << 10,
        }
    }
}

/// Stores complete images (written in `PIECE` calls) until a call fails.
fn fill(lsu: &sys::sts_lsu_t, prefix: &str, mode: Mode) -> (Vec<Kept>, Failure) {
    let mut kept = Vec::new();
    for i in 0..1000u64 {
        let def = image_def(&format!("{prefix}{i:03}"), "20240101");
        let data = seeded(fnv1a(prefix) ^ i, mode.image_size());
        let ih = match try_create(lsu, &def) {
            Ok(ih) => ih,
            Err(rc) => {
                return (
                    kept,
                    Failure {
                        def,
                        call: "create",
                        rc,
                        created: false,
                    },
                );
            }
        };
        let mut fail = None;
        for (n, piece) in data.chunks(PIECE).enumerate() {
            let rc = write_at(ih, piece, (n * PIECE) as u64);
            if rc != c::EOK {
                fail = Some(("write", rc));
                break;
            }
            if matches!(mode, Mode::Flush) {
                let rc = api().flush(ih);
                if rc != c::EOK {
                    fail = Some(("flush", rc));
                    break;
                }
            }
        }
        if let Some((call, rc)) = fail {
            check_poisoned(ih, rc, call);
            return (
                kept,
                Failure {
                    def,
                    call,
                    rc,
                    created: true,
                },
            );
        }
        let rc = api().close_image(ih, c::CLOSE_COMPLETE);
        if rc != c::EOK {
            assert_rc!(
                api().close_image(ih, c::CLOSE_COMPLETE),
                c::EHANDLE,
                "a failed close ({}) closes the handle all the same",
                code_name(rc)
            );
            return (
                kept,
                Failure {
                    def,
                    call: "close",
                    rc,
                    created: true,
                },
            );
        }
        kept.push(Kept { def, data });
    }
    panic!("1000 images fit on a small filesystem");
}

/// After `call` failed with `rc` on write handle `ih`: every later call on
/// the handle is STS_EPREVIO, the close too, and it closes the handle.
fn check_poisoned(ih: sys::sts_image_handle_t, rc: i32, call: &str) {
    println!("first failure: {call} -> {}", code_name(rc));
    assert_rc!(
        write_at(ih, &[0u8; 512], 0),
        c::EPREVIO,
        "write after the failed {call}"
    );
    assert_rc!(api().flush(ih), c::EPREVIO, "flush after the failed {call}");
    assert_rc!(
        api().close_image(ih, c::CLOSE_COMPLETE),
        c::EPREVIO,
        "close after the failed {call}"
    );
    assert_rc!(
        api().close_image(ih, c::CLOSE_COMPLETE),
        c::EHANDLE,
        "the failed close closed the handle"
    );
}

/// Every kept image: listed complete with its size and SHA-1; reads back.
fn check_kept(lsu: &sys::sts_lsu_t, kept: &[Kept]) {
    for k in kept {
        let name = cstr(&k.def.img_basename);
        let info = must_prop_byname(lsu, &k.def);
        assert_eq!(
            info.imo_flags & (c::II_COMPLETE | c::II_PENDING | c::II_ABNORMAL),
            c::II_COMPLETE,
            "{name}: {}",
            flags_str(info.imo_flags)
        );
        assert_eq!(info.imo_size, k.data.len() as u64, "{name}: size");
        assert_eq!(cstr(&info.imo_sha1), sha1_hex(&k.data), "{name}: recorded SHA-1");
        assert_bytes_eq(&read_image(lsu, &k.def), &k.data, &format!("{name} read back"));
    }
}

/// The image whose writing failed is pending and abnormal (its committed
/// bytes kept, resumable), or broken, or was never created.
fn check_failed_image(lsu: &sys::sts_lsu_t, f: &Failure) {
    let name = cstr(&f.def.img_basename);
    match prop_byname(lsu, &f.def) {
        Err(rc) => {
            assert!(!f.created, "{name} was created but is gone: {}", code_name(rc));
            assert_eq!(rc, c::ENOENT, "{name}: {}", code_name(rc));
        }
        Ok(info) => {
            let fl = info.imo_flags;
            assert_eq!(
                fl & (c::II_COMPLETE | c::II_BUSY_WRITE),
                0,
                "{name}: {}",
                flags_str(fl)
            );
            assert_ne!(fl & c::II_ABNORMAL, 0, "{name}: not abnormal: {}", flags_str(fl));
            assert!(info.imo_size <= 2 << 20, "{name}: size {}", info.imo_size);
        }
    }
}

/// lsu_used is the sum of the listed images' sizes, lsu_images their
/// number, lsu_capacity the filesystem's size; lsu_used_phys covers the
/// complete images and never exceeds what the filesystem holds.
fn check_lsu_truthful(srv: &Server, kept: &[Kept]) {
    let lsu = srv.lsu();
    let info = lsu_info(&lsu).unwrap_or_else(|rc| panic!("stsp_get_lsu_prop_byname -> {}", code_name(rc)));
    let names = list_images(&lsu);
    let mut sum = 0;
    for (b, d) in &names {
        sum += must_prop_byname(&lsu, &image_def_bytes(b, d)).imo_size;
    }
    assert_eq!(info.lsu_used, sum, "lsu_used vs the images' sizes");
    assert_eq!(info.lsu_images, names.len() as u64, "lsu_images vs the listing");
    let (total, avail) = statvfs(&srv.path);
    assert_eq!(info.lsu_capacity, total, "lsu_capacity vs the filesystem's size");
    let kept_bytes: u64 = kept.iter().map(|k| k.data.len() as u64).sum();
    assert!(
        info.lsu_used_phys >= kept_bytes,
        "lsu_used_phys {} < the complete images' {kept_bytes} bytes",
        info.lsu_used_phys
    );
    assert!(
        info.lsu_used_phys <= total - avail,
        "lsu_used_phys {} > the {} bytes in use on the filesystem",
        info.lsu_used_phys,
        total - avail
    );
}

/// `combstore doctor` finds no error-level inconsistency.
fn doctor_clean(path: &Path) {
    let (code, out, err) = run_combstore(path, &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("doctor --json (exit {code}): {e}\n{out}\n{err}"));
    assert_eq!(
        (code, &report["errors"]),
        (0, &serde_json::json!(0)),
        "doctor: {report:#}"
    );
}

fn run_fill_delete_refill(test: &str, mode: Mode) {
    let Some(fs) = small_fs(test, 16 << 20) else {
        return;
    };
    let mut srv = server_on(&fs);
    let lsu = srv.lsu();
    let (kept, failure) = fill(&lsu, "img", mode);
    println!(
        "{test}: {} images stored, then {} -> {}; fs {:?}",
        kept.len(),
        failure.call,
        code_name(failure.rc),
        fs.space()
    );
    assert!(kept.len() >= 3, "only {} images fit in 16 MiB", kept.len());
    assert_rc!(
        failure.rc,
        c::ENOSPC,
        "the first failing call ({}) on a full filesystem",
        failure.call
    );
    check_kept(&lsu, &kept);
    check_failed_image(&lsu, &failure);
    check_lsu_truthful(&srv, &kept);
    // After a reopen (recovery runs) nothing changed.
    srv.reopen();
    let lsu = srv.lsu();
    check_kept(&lsu, &kept);
    check_failed_image(&lsu, &failure);
    check_lsu_truthful(&srv, &kept);
    // Deleting images makes room: a new image of the same size fits.
    let before = lsu_info(&lsu).unwrap();
    if failure.created {
        assert_rc!(
            api().delete_image(&lsu, &failure.def, 0),
            c::EOK,
            "delete the failed image"
        );
    }
    let (gone, kept) = kept.split_at(2);
    for k in gone {
        assert_rc!(
            api().delete_image(&lsu, &k.def, 0),
            c::EOK,
            "delete {}",
            cstr(&k.def.img_basename)
        );
    }
    let after = lsu_info(&lsu).unwrap();
    let freed: u64 = gone.iter().map(|k| k.data.len() as u64).sum();
    assert!(
        after.lsu_used_phys + freed <= before.lsu_used_phys,
        "deleting freed {} bytes, not {freed}",
        before.lsu_used_phys - after.lsu_used_phys
    );
    let def = image_def("again", "20240102");
    let data = seeded(99, 2 * mode.image_size());
    store_complete(&lsu, &def, &data);
    let mut kept: Vec<Kept> = kept
        .iter()
        .map(|k| Kept {
            def: k.def,
            data: k.data.clone(),
        })
        .collect();
    kept.push(Kept { def, data });
    check_kept(&lsu, &kept);
    check_lsu_truthful(&srv, &kept);
    srv.close();
    doctor_clean(&srv.path);
}

#[test]
fn full_filesystem_write_gives_enospc_and_deleting_makes_room() {
    run_fill_delete_refill(
        "diskfull::full_filesystem_write_gives_enospc_and_deleting_makes_room",
        Mode::Write,
    );
}

#[test]
fn full_filesystem_flush_gives_enospc_and_deleting_makes_room() {
    run_fill_delete_refill(
        "diskfull::full_filesystem_flush_gives_enospc_and_deleting_makes_room",
        Mode::Flush,
    );
}

#[test]
fn full_filesystem_close_gives_enospc_and_deleting_makes_room() {
    run_fill_delete_refill(
        "diskfull::full_filesystem_close_gives_enospc_and_deleting_makes_room",
        Mode::Close,
    );
}

/// Fills the filesystem holding `path` with a file of that name until
/// writing fails with ENOSPC (as another program would); returns its size.
fn fill_with_file(path: &Path) -> u64 {
    let f = std::fs::File::create(path).unwrap();
    let mut len = 0u64;
    for block in [64 << 10, 4096] {
        let buf = vec![0x55u8; block];
        loop {
            match f.write_all_at(&buf, len) {
                Ok(()) => len += block as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    f.set_len(len).unwrap();
    len
}

#[test]
fn full_catalog_gives_enospc_and_nothing_is_lost() {
    // Another program fills the filesystem, the catalog's reserve included:
    // then SQLite's own writes (WAL growth) fail too.
    let test = "diskfull::full_catalog_gives_enospc_and_nothing_is_lost";
    let Some(fs) = small_fs(test, 16 << 20) else {
        return;
    };
    let mut srv = server_on(&fs);
    let lsu = srv.lsu();
    let mut kept = Vec::new();
    for (i, name) in ["one", "two"].into_iter().enumerate() {
        let def = image_def(name, "");
        let data = seeded(70 + i as u64, 1 << 20);
        store_complete(&lsu, &def, &data);
        kept.push(Kept { def, data });
    }
    let open_def = image_def("open", "");
    let flushed = seeded(80, 512 << 10);
    let wh = create(&lsu, &open_def);
    write_all(wh, &flushed, 0);
    flush(wh);
    let filler = fs.path.join("filler");
    fill_with_file(&filler);
    println!("{test}: filesystem after the filler: {:?}", fs.space());

    // Data and metadata are refused before anything is written.
    assert_rc!(
        write_and_flush(wh, &seeded(81, 1 << 20), flushed.len() as u64),
        c::ENOSPC,
        "a write on a full filesystem"
    );
    let rc = api().close_image(wh, c::CLOSE_COMPLETE);
    assert_rc!(rc, c::EPREVIO, "close after the failed write");
    let rh = open(&lsu, &kept[0].def, c::O_READ);
    assert_rc!(
        meta_write(rh, &[7u8; 4096], 0),
        c::ENOSPC,
        "metadata on a full filesystem"
    );
    close(rh, 0);
    // Catalog changes fail with STS_ENOSPC once SQLite cannot grow its WAL.
    let mut created = Vec::new();
    let mut first_err = None;
    for i in 0..200 {
        let def = image_def(&format!("empty{i:03}"), "");
        match try_create(&lsu, &def) {
            Ok(ih) => {
                let rc = api().close_image(ih, c::CLOSE_INCOMPLETE);
                assert!(
                    rc == c::EOK || rc == c::ENOSPC,
                    "close incomplete: {}",
                    code_name(rc)
                );
                created.push(def);
            }
            Err(rc) => {
                first_err = Some(rc);
                break;
            }
        }
    }
    let rc = first_err.expect("200 image rows fit in a full catalog");
    assert_rc!(rc, c::ENOSPC, "creating an image when the catalog cannot grow");
    check_kept(&lsu, &kept);

    // The other program's file goes: everything works again, nothing lost.
    std::fs::remove_file(&filler).unwrap();
    srv.reopen();
    let lsu = srv.lsu();
    check_kept(&lsu, &kept);
    let info = must_prop_byname(&lsu, &open_def);
    assert_eq!(
        info.imo_flags & (c::II_PENDING | c::II_ABNORMAL | c::II_BUSY_WRITE | c::II_COMPLETE),
        c::II_PENDING | c::II_ABNORMAL,
        "the writer that failed: {}",
        flags_str(info.imo_flags)
    );
    assert_eq!(info.imo_size, flushed.len() as u64, "its flushed bytes are kept");
    let wh = open(&lsu, &open_def, c::O_WRITE);
    close(wh, c::CLOSE_COMPLETE);
    assert_bytes_eq(
        &read_image(&lsu, &open_def),
        &flushed,
        "the failed writer's flushed bytes",
    );
    for def in &created {
        assert_rc!(
            api().delete_image(&lsu, def, 0),
            c::EOK,
            "delete {}",
            cstr(&def.img_basename)
        );
    }
    let def = image_def("after", "");
    let data = seeded(90, 2 << 20);
    store_complete(&lsu, &def, &data);
    kept.push(Kept { def, data });
    check_kept(&lsu, &kept);
    let mut all = kept;
    all.push(Kept {
        def: open_def,
        data: flushed,
    });
    check_lsu_truthful(&srv, &all);
    srv.close();
    doctor_clean(&srv.path);
}

#[test]
fn failed_append_gives_back_what_it_wrote() {
    // A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) stops a chunk's
    // pwrite part way, as a full filesystem does: the partial chunk must not
    // stay allocated in the segment (on a full filesystem nothing else would
    // free it until another writer adopts the segment).
    isolated("diskfull::failed_append_gives_back_what_it_wrote", || {
        let srv = Server::new();
        let ih = create(&srv.lsu(), &image_def("limited", ""));
        write_all(ih, &seeded(5, 1 << 20), 0);
        flush(ih);
        let segs = std::fs::read_dir(srv.path.join("segments")).unwrap();
        let seg = segs.map(|e| e.unwrap().path()).next().expect("a segment file");
        let committed = std::fs::metadata(&seg).unwrap().len();
        assert_eq!(committed, 4096 + (1 << 20), "segment header + one chunk");
        let rc = with_file_size_limit(committed + (300 << 10), || {
            write_and_flush(ih, &seeded(6, 1 << 20), 1 << 20)
        });
        assert!(rc == c::EIO || rc == c::ENOSPC, "{}", code_name(rc));
        assert_eq!(
            std::fs::metadata(&seg).unwrap().len(),
            committed,
            "the failed chunk's bytes stayed in the segment"
        );
        assert_rc!(api().close_image(ih, c::CLOSE_COMPLETE), c::EPREVIO);
    });
}

/// Runs `f` with RLIMIT_FSIZE at `limit` bytes and SIGXFSZ ignored.
fn with_file_size_limit<T>(limit: u64, f: impl FnOnce() -> T) -> T {
    // SAFETY: plain libc calls on valid, initialized structures; the test
    // runs in its own process (isolated), so the limit affects no other test.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut old = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut old), 0);
        let lim = libc::rlimit {
            rlim_cur: limit,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
        let r = f();
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &old), 0);
        r
    }
}

// ---------------------------------------------------------------------------
// Space runs out in the middle of a deduplicating write (issue 15): the
// image mixes bytes the server holds already (references, no new space)
// with new bytes (stored).
// ---------------------------------------------------------------------------

/// Pieces of a mixed image.
const MIX: usize = 512 << 10;

/// `n` pieces of `MIX` bytes: even ones are `base`'s bytes (duplicates),
/// odd ones new bytes from `seed`.
fn mixed(base: &[u8], seed: u64, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * MIX);
    for i in 0..n {
        if i % 2 == 0 {
            let at = (i * MIX) % base.len();
            out.extend_from_slice(&base[at..at + MIX]);
        } else {
            out.extend_from_slice(&seeded(seed ^ i as u64, MIX));
        }
    }
    out
}

/// Writes `data` at 0 in `MIX` pieces, flushing after every `flush_every`
/// pieces; the first failure: (piece, call, code).
fn write_mixed(
    ih: sys::sts_image_handle_t,
    data: &[u8],
    flush_every: usize,
) -> Option<(usize, &'static str, i32)> {
    for (i, piece) in data.chunks(MIX).enumerate() {
        let rc = write_at(ih, piece, (i * MIX) as u64);
        if rc != c::EOK {
            return Some((i, "write", rc));
        }
        if (i + 1) % flush_every == 0 {
            let rc = api().flush(ih);
            if rc != c::EOK {
                return Some((i, "flush", rc));
            }
        }
    }
    None
}

/// The image whose write failed: pending and abnormal, not complete nor
/// busy, its size what was committed (a multiple of `step` bytes, before
/// the failing piece). Returns the size.
fn check_abnormal(lsu: &sys::sts_lsu_t, def: &sys::sts_image_def_t, failed_piece: usize, step: usize) -> u64 {
    let info = must_prop_byname(lsu, def);
    let fl = info.imo_flags;
    assert_eq!(
        fl & (c::II_PENDING | c::II_ABNORMAL | c::II_COMPLETE | c::II_BUSY_WRITE),
        c::II_PENDING | c::II_ABNORMAL,
        "the image whose write failed: {}",
        flags_str(fl)
    );
    assert_eq!(
        info.imo_size % step as u64,
        0,
        "size {} is not what was flushed",
        info.imo_size
    );
    assert!(
        info.imo_size <= (failed_piece * MIX) as u64,
        "size {} includes the failing piece {failed_piece}",
        info.imo_size
    );
    info.imo_size
}

/// After space returned: the failed image is resumed where its committed
/// bytes end and completed; it reads back whole (its committed references
/// to duplicates included) with its SHA-1.
fn resume_and_complete(lsu: &sys::sts_lsu_t, def: &sys::sts_image_def_t, data: &[u8], size: u64) {
    let wh = open(lsu, def, c::O_WRITE);
    write_all(wh, &data[size as usize..], size);
    close(wh, c::CLOSE_COMPLETE);
    let info = must_prop_byname(lsu, def);
    assert_eq!(info.imo_size, data.len() as u64);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(data), "the resumed image's SHA-1");
    assert_bytes_eq(&read_image(lsu, def), data, "the resumed image");
}

#[test]
fn full_filesystem_in_the_middle_of_a_deduplicating_write() {
    let test = "diskfull::full_filesystem_in_the_middle_of_a_deduplicating_write";
    let Some(fs) = small_fs(test, 16 << 20) else {
        return;
    };
    let mut srv = server_on(&fs);
    let lsu = srv.lsu();
    let base = Kept {
        def: image_def("base", ""),
        data: seeded(0xba5e, 4 << 20),
    };
    let other = Kept {
        def: image_def("other", ""),
        data: seeded(0x07e4, 1 << 20),
    };
    for k in [&base, &other] {
        store_complete(&lsu, &k.def, &k.data);
    }
    // Another program leaves 1.25 MiB beyond the catalog's reserve: the
    // mixed image's first new bytes fit, its later ones do not.
    let (total, avail) = fs.space();
    let reserve = (4 << 20) + total / 1024;
    let filler = fs.path.join("filler");
    let fill = (avail - reserve - (5 << 18)) / 4096 * 4096;
    let f = std::fs::File::create(&filler).unwrap();
    let block = vec![0x55u8; 1 << 20];
    let mut at = 0;
    while at < fill {
        let n = (fill - at).min(block.len() as u64) as usize;
        f.write_all_at(&block[..n], at).unwrap();
        at += n as u64;
    }
    drop(f);
    println!("{test}: filesystem after the filler: {:?}", fs.space());

    let def = image_def("mixed", "");
    let data = mixed(&base.data, 0x3e3e, 8);
    let ih = create(&lsu, &def);
    // flushed after each pair of pieces: the write that fills the
    // writer's 1 MiB buffer stores its chunks
    let (piece, call, rc) = write_mixed(ih, &data, 2).expect("4 MiB of new bytes fit in 1.25 MiB");
    println!("{test}: piece {piece}: {call} -> {}", code_name(rc));
    assert_rc!(rc, c::ENOSPC, "{call} of piece {piece} on a full filesystem");
    assert!(
        piece >= 2,
        "failed at piece {piece}, before any new bytes were stored"
    );
    check_poisoned(ih, rc, call);
    let size = check_abnormal(&lsu, &def, piece, 2 * MIX);
    let kept = [base, other];
    check_kept(&lsu, &kept);
    check_lsu_truthful(&srv, &kept);

    // The other program's file goes: the failed image resumes and
    // completes, a new mixed image is stored, everything reads back.
    std::fs::remove_file(&filler).unwrap();
    srv.reopen();
    let lsu = srv.lsu();
    check_kept(&lsu, &kept);
    assert_eq!(check_abnormal(&lsu, &def, piece, 2 * MIX), size, "after recovery");
    resume_and_complete(&lsu, &def, &data, size);
    let again = Kept {
        def: image_def("again", ""),
        data: mixed(&kept[0].data, 0xa9a9, 6),
    };
    store_complete(&lsu, &again.def, &again.data);
    check_kept(&lsu, &[Kept { def, data }, again]);
    check_kept(&lsu, &kept);
    // base and other hold distinct bytes; the mixed images add their new
    // halves (2 + 1.5 MiB) and refer to base's bytes for the rest
    check_lsu_truthful(&srv, &kept);
    let info = lsu_info(&lsu).unwrap();
    let logical = (4 + 1 + 4 + 3) << 20;
    let distinct = ((4 + 1 + 2) << 20) + (3 << 19);
    assert_eq!(info.lsu_used, logical, "lsu_used is logical");
    assert!(
        info.lsu_used_phys >= distinct && info.lsu_used_phys + (2 << 20) < logical,
        "lsu_used_phys {} for {distinct} distinct bytes of {logical}",
        info.lsu_used_phys
    );
    srv.close();
    doctor_clean(&srv.path);
}

/// Every segment file is exactly as long as its committed bytes (a closed
/// server: no writer appends).
fn segments_end_at_their_committed_bytes(dir: &Path) {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("catalog.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = db.prepare("SELECT id, committed_end FROM segments").unwrap();
    let segs: Vec<(i64, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(!segs.is_empty());
    for (id, end) in segs {
        let len = std::fs::metadata(dir.join("segments").join(format!("{id:016x}.seg")))
            .unwrap()
            .len();
        assert_eq!(
            len, end as u64,
            "segment {id}: bytes past its committed end stayed"
        );
    }
}

#[test]
fn file_size_limit_in_the_middle_of_a_deduplicating_write() {
    // RLIMIT_FSIZE stops the segment's growth part way through the new
    // bytes of a mixed image, as a full filesystem does (without a mount).
    isolated(
        "diskfull::file_size_limit_in_the_middle_of_a_deduplicating_write",
        || {
            let mut srv = Server::new();
            let lsu = srv.lsu();
            let base = Kept {
                def: image_def("base", ""),
                data: seeded(0xba5e, 2 << 20),
            };
            let other = Kept {
                def: image_def("other", ""),
                data: seeded(0x07e4, 512 << 10),
            };
            for k in [&base, &other] {
                store_complete(&lsu, &k.def, &k.data);
            }
            let segs: Vec<PathBuf> = std::fs::read_dir(srv.path.join("segments"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            assert_eq!(segs.len(), 1, "{segs:?}");
            let committed = std::fs::metadata(&segs[0]).unwrap().len();

            let def = image_def("mixed", "");
            let data = mixed(&base.data, 0x3e3e, 8);
            let ih = create(&lsu, &def);
            // flushed after every piece: the appends fail while being synced
            let failure = with_file_size_limit(committed + (768 << 10), || write_mixed(ih, &data, 1));
            let (piece, call, rc) = failure.expect("2 MiB of new bytes passed a 768 KiB limit");
            println!("piece {piece}: {call} -> {}", code_name(rc));
            assert!(
                rc == c::EIO || rc == c::ENOSPC,
                "{call} of piece {piece}: {}",
                code_name(rc)
            );
            assert!(
                piece >= 2,
                "failed at piece {piece}, before any new bytes were stored"
            );
            check_poisoned(ih, rc, call);
            let size = check_abnormal(&lsu, &def, piece, MIX);
            assert!(
                size >= 2 * MIX as u64,
                "nothing committed before the limit: {size}"
            );
            let kept = [base, other];
            check_kept(&lsu, &kept);
            srv.close();
            segments_end_at_their_committed_bytes(&srv.path);

            // The limit is gone: the failed image resumes, a new one is stored.
            srv.reopen();
            let lsu = srv.lsu();
            resume_and_complete(&lsu, &def, &data, size);
            let again = Kept {
                def: image_def("again", ""),
                data: mixed(&kept[0].data, 0xa9a9, 6),
            };
            store_complete(&lsu, &again.def, &again.data);
            check_kept(&lsu, &kept);
            check_kept(&lsu, &[again]);
            srv.close();
            doctor_clean(&srv.path);
        },
    );
}
