//! Optimized duplication and virtual images (stspi.h, "Optimized duplication
//! and virtual images"; seed 000, slides 11-16): stsp_open_target_server,
//! stsp_copy_extent, stsp_copy_image and stsp_include_in_image, with
//! STS_EXDEV and STS_EMODE of stsi.h.
//!
//! On one server, copies and virtual images must share stored extents: the
//! tests read lsu_used (logical bytes) and lsu_used_phys (stored bytes)
//! around each operation. Between servers the bytes are streamed: the copy
//! must be whole and independent of its source.
//!
//! Not tested here: copying to a second LSU of the same server. The C API
//! cannot create LSUs; the C harness covers it with the admin tool.

use crate::common::child::{isolated, spawn_role};
use crate::common::*;
use crate::roles::{DUP_BASES, dup_base_data, dup_base_name, dup_base_of};
use std::ptr;
use std::time::{Duration, Instant};
use sys::{
    sts_image_def_t, sts_image_handle_t, sts_image_info_t, sts_image_list_handle_t, sts_lsu_info_t,
    sts_lsu_list_handle_t, sts_lsu_t, sts_server_handle_t,
};

const MIB: u64 = 1 << 20;
const BLK: u64 = c::BLOCK;
/// Growth of lsu_used_phys allowed for an operation that must copy no
/// image byte.
const NO_COPY_SLACK: u64 = MIB;
/// bytescopied / bytesincluded before a call: out-parameters are written
/// only on STS_EOK.
const SENTINEL: u64 = 0xDEAD_BEEF_DEAD_BEEF;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A server handle closed on drop (target handles, second handles).
struct Sh(sts_server_handle_t);
impl Drop for Sh {
    fn drop(&mut self) {
        let _ = api().close_server(self.0);
    }
}

fn must_target(source: sts_server_handle_t, name: &str) -> Sh {
    Sh(open_target_server(source, name)
        .unwrap_or_else(|rc| panic!("stsp_open_target_server({name}) -> {}", code_name(rc))))
}

fn must_open_server(name: &str) -> Sh {
    Sh(open_server(name).unwrap_or_else(|rc| panic!("stsp_open_server({name}) -> {}", code_name(rc))))
}

/// A server name for a directory that does not exist yet (its parent does).
fn missing_server(dir: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let path = dir.path().join("b");
    let name = server_name_for(&path);
    (path, name)
}

fn stats(lsu: &sts_lsu_t) -> sts_lsu_info_t {
    lsu_info(lsu).unwrap_or_else(|rc| panic!("stsp_get_lsu_prop_byname -> {}", code_name(rc)))
}

/// A complete image of `len` bytes seeded from its name.
fn stored(lsu: &sts_lsu_t, name: &str, len: u64) -> (sts_image_def_t, Vec<u8>) {
    let def = image_def(name, "");
    let data = seeded(fnv1a(name), len as usize);
    store_complete(lsu, &def, &data);
    (def, data)
}

/// The image is complete (CREATED|COMPLETE, nothing else of the state
/// bits), has an object id and a completion time, and its size, SHA-1 and
/// bytes are exactly `want`.
fn assert_complete_image(lsu: &sts_lsu_t, def: &sts_image_def_t, want: &[u8], what: &str) {
    let info = prop_byname(lsu, def)
        .unwrap_or_else(|rc| panic!("{what}: stsp_get_image_prop_byname -> {}", code_name(rc)));
    let state =
        info.imo_flags & (c::II_PENDING | c::II_BUSY_WRITE | c::II_CREATED | c::II_COMPLETE | c::II_ABNORMAL);
    assert_eq!(
        state,
        c::II_CREATED | c::II_COMPLETE,
        "{what}: flags {}",
        flags_str(info.imo_flags)
    );
    assert_eq!(info.imo_size, want.len() as u64, "{what}: imo_size");
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(want), "{what}: imo_sha1");
    assert!(!cstr(&info.imo_objid).is_empty(), "{what}: empty imo_objid");
    assert_ne!(info.imo_complete_ms, 0, "{what}: imo_complete_ms is 0");
    assert_bytes_eq(&read_image(lsu, def), want, what);
}

/// lsu_used_phys did not grow (beyond NO_COPY_SLACK): no image byte was
/// stored again.
fn assert_no_bytes_copied(before: &sts_lsu_info_t, after: &sts_lsu_info_t, what: &str) {
    assert!(
        after.lsu_used_phys < before.lsu_used_phys + NO_COPY_SLACK,
        "{what}: lsu_used_phys grew from {} to {} (+{} bytes): image bytes were copied, not shared",
        before.lsu_used_phys,
        after.lsu_used_phys,
        after.lsu_used_phys.saturating_sub(before.lsu_used_phys)
    );
}

/// lsu_used, lsu_images and lsu_used_phys are back to `start` (combstore
/// frees deleted space in the delete call: STS_LSUF_STORAGE_FREED).
fn assert_stats_back(lsu: &sts_lsu_t, start: &sts_lsu_info_t, what: &str) {
    let now = stats(lsu);
    assert_eq!(now.lsu_used, start.lsu_used, "{what}: lsu_used");
    assert_eq!(now.lsu_images, start.lsu_images, "{what}: lsu_images");
    assert_ne!(
        now.lsu_flags & c::LSUF_FREED,
        0,
        "{what}: STS_LSUF_STORAGE_FREED not set (lsu_flags 0x{:x})",
        now.lsu_flags
    );
    assert_eq!(
        now.lsu_used_phys, start.lsu_used_phys,
        "{what}: lsu_used_phys not back to its start value (shared bytes leaked or counted twice)"
    );
}

/// Place src[from..from+len] at `to` in the expected image, growing it
/// with zeros (gaps read back as zeros).
fn place(img: &mut Vec<u8>, src: &[u8], from: u64, to: u64, len: u64) {
    let (from, to, len) = (from as usize, to as usize, len as usize);
    if img.len() < to + len {
        img.resize(to + len, 0);
    }
    img[to..to + len].copy_from_slice(&src[from..from + len]);
}

/// Read the complete image at random offsets and lengths and around each
/// of `edges` (where pieces of the image begin or end, usually inside a
/// stored extent), comparing with `want`.
fn assert_partial_reads(lsu: &sts_lsu_t, def: &sts_image_def_t, want: &[u8], edges: &[u64], what: &str) {
    let rh = open(lsu, def, c::O_READ);
    let size = want.len() as u64;
    let check = |off: u64, len: u64| {
        let got = read_at(rh, len, off)
            .unwrap_or_else(|rc| panic!("{what}: read {len} at {off}: {}", code_name(rc)));
        let end = (off + len).min(size) as usize;
        assert_bytes_eq(
            &got,
            &want[off as usize..end],
            &format!("{what}: read {len} at {off}"),
        );
    };
    for &e in edges {
        for (before, after) in [(1u64, 1u64), (3, 0), (0, 5), (7, 2), (0, 1)] {
            let off = e.saturating_sub(before * BLK).min(size);
            check(off, (before + after) * BLK);
        }
    }
    let mut rng = Rng(fnv1a(what));
    for _ in 0..150 {
        let off = rng.below(size / BLK + 1) * BLK;
        let len = (1 + rng.below(3000)) * BLK;
        check(off, len);
    }
    close(rh, 0);
}

/// copy_extent and include_in_image share their arguments, flags and
/// codes: the rules common to both run against both.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    CopyExtent,
    Include,
}
const BOTH: [Op; 2] = [Op::CopyExtent, Op::Include];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::CopyExtent => "stsp_copy_extent",
            Op::Include => "stsp_include_in_image",
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn raw(
        self,
        from: sts_image_handle_t,
        to: sts_image_handle_t,
        from_off: u64,
        to_off: u64,
        len: u64,
        flags: i32,
        n: *mut u64,
    ) -> i32 {
        match self {
            Op::CopyExtent => api().copy_extent(from, to, from_off, to_off, len, flags, n),
            Op::Include => api().include_in_image(from, to, from_off, to_off, len, flags, n),
        }
    }
}

/// One call: Ok(bytes reported) or Err(code); on an error the
/// out-parameter must be untouched.
fn xfer(
    op: Op,
    from: sts_image_handle_t,
    to: sts_image_handle_t,
    from_off: u64,
    to_off: u64,
    len: u64,
    flags: i32,
) -> Result<u64, i32> {
    let mut n = SENTINEL;
    match op.raw(from, to, from_off, to_off, len, flags, &mut n) {
        0 => Ok(n),
        rc => {
            assert_eq!(
                n,
                SENTINEL,
                "{} wrote its out-parameter on error {}",
                op.name(),
                code_name(rc)
            );
            Err(rc)
        }
    }
}

/// A call that must succeed; returns the bytes reported.
fn must_xfer(
    op: Op,
    from: sts_image_handle_t,
    to: sts_image_handle_t,
    from_off: u64,
    to_off: u64,
    len: u64,
    flags: i32,
) -> u64 {
    xfer(op, from, to, from_off, to_off, len, flags).unwrap_or_else(|rc| {
        panic!(
            "{}(from_offset {from_off}, to_offset {to_off}, len {len}, flags {flags:#x}) -> {}",
            op.name(),
            code_name(rc)
        )
    })
}

/// A call that must fail with `code`.
#[allow(clippy::too_many_arguments)]
fn expect_xfer(
    op: Op,
    from: sts_image_handle_t,
    to: sts_image_handle_t,
    from_off: u64,
    to_off: u64,
    len: u64,
    flags: i32,
    code: i32,
    what: &str,
) {
    let got = xfer(op, from, to, from_off, to_off, len, flags);
    if got != Err(code) {
        panic!(
            "{what}: {}(from_offset {from_off}, to_offset {to_off}, len {len}, flags {flags:#x})\n  expected {}\n       got {}",
            op.name(),
            code_name(code),
            match got {
                Ok(n) => format!("STS_EOK ({n} bytes)"),
                Err(rc) => code_name(rc),
            }
        );
    }
}

fn copy_image_rc(
    to_lsu: &sts_lsu_t,
    to_def: &sts_image_def_t,
    from_lsu: &sts_lsu_t,
    from_def: &sts_image_def_t,
) -> i32 {
    api().copy_image(to_lsu, to_def, from_lsu, from_def, 0)
}

fn is_listed(lsu: &sts_lsu_t, name: &str) -> bool {
    list_basenames(lsu).iter().any(|n| n == name)
}

// ---------------------------------------------------------------------------
// Server properties
// ---------------------------------------------------------------------------

#[test]
fn server_advertises_duplication_and_virtual_images() {
    let srv = Server::new();
    let info = server_info(srv.sh).unwrap();
    for (name, bit) in [
        ("STS_CAP_OPEN_TARGET_SERVER", c::CAP_OPEN_TARGET_SERVER),
        ("STS_CAP_COPY_EXTENT", c::CAP_COPY_EXTENT),
        ("STS_CAP_COPY_IMAGE", c::CAP_COPY_IMAGE),
        ("STS_CAP_INCLUDE_IN_IMAGE", c::CAP_INCLUDE_IN_IMAGE),
    ] {
        assert!(
            cap_isset(&info.srv_cap, bit),
            "{name} (bit {bit}) not set: srv_cap {:08x?}",
            info.srv_cap
        );
    }
    assert_ne!(
        info.srv_flags & c::SRV_IMAGE_COPY,
        0,
        "STS_SRV_IMAGE_COPY not set: srv_flags 0x{:x}",
        info.srv_flags
    );
    assert_ne!(
        info.srv_flags & c::SRV_VIRTUAL_IMAGE,
        0,
        "STS_SRV_VIRTUAL_IMAGE not set: srv_flags 0x{:x}",
        info.srv_flags
    );
    let by = server_info_byname(&srv.name).unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert_eq!(by.srv_cap, info.srv_cap, "srv_cap by name");
    assert_eq!(by.srv_flags, info.srv_flags, "srv_flags by name");
}

#[test]
fn lsu_flags_say_storage_is_shared() {
    let srv = Server::new();
    let info = stats(&srv.lsu());
    assert_ne!(
        info.lsu_flags & c::LSUF_SHARED,
        0,
        "STS_LSUF_STORAGE_SHARED not set though copies share extents: lsu_flags 0x{:x}",
        info.lsu_flags
    );
    assert_ne!(
        info.lsu_flags & c::LSUF_DISK,
        0,
        "STS_LSUF_DISK: 0x{:x}",
        info.lsu_flags
    );
}

#[test]
fn target_handle_reports_the_target_server() {
    let srv = Server::new();
    let dir = tempfile::TempDir::new().unwrap();
    let (path, name) = missing_server(&dir);
    let th = must_target(srv.sh, &name);
    // created as stsp_open_server creates servers: a new server with "default"
    assert!(
        path.join("catalog.db").exists(),
        "target directory not made a server"
    );
    let info = server_info(th.0).unwrap_or_else(|rc| panic!("get_server_prop(target) -> {}", code_name(rc)));
    assert_eq!(cstr(&info.srv_server), name, "srv_server of the target handle");
    assert_eq!(info.srv_block_size as u64, BLK);
    assert_eq!(info.srv_lsu_count, 1);
    let src = server_info(srv.sh).unwrap();
    assert_eq!(info.srv_cap, src.srv_cap, "srv_cap through a target handle");
    assert_eq!(info.srv_flags, src.srv_flags, "srv_flags through a target handle");
    let oh = must_open_server(&name);
    assert_eq!(list_lsus(oh.0), vec!["default".to_string()]);
}

// ---------------------------------------------------------------------------
// stsp_open_target_server: what a target handle may do
// ---------------------------------------------------------------------------

fn target_handle_contract(same_dir: bool) {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 2 * MIB + 5 * BLK);
    let other = tempfile::TempDir::new().unwrap();
    let tname = if same_dir {
        srv.name.clone()
    } else {
        missing_server(&other).1
    };
    let th = must_target(srv.sh, &tname);
    assert_ne!(th.0, srv.sh, "target handle equals the source handle");
    let tl = lsu_t(th.0, "default");
    let a = api();

    // allowed: get_server_prop
    let info = server_info(th.0).unwrap_or_else(|rc| panic!("get_server_prop(target) -> {}", code_name(rc)));
    assert_eq!(cstr(&info.srv_server), tname);
    // allowed: create_image (then write and close through the image handle)
    let made = image_def("made", "");
    let mdata = seeded(0x3ade, (3 * MIB + 2 * BLK) as usize);
    let w = create(&tl, &made);
    write_all(w, &mdata, 0);
    close(w, c::CLOSE_COMPLETE);
    // allowed: open_image, for reading and for writing (checkpoint/restart)
    let r = open(&tl, &made, c::O_READ);
    assert_bytes_eq(&read_all(r), &mdata, "read through a target handle");
    close(r, 0);
    let pend = image_def("pend", "");
    let pdata = seeded(0x9e9d, 8192);
    let w = create(&tl, &pend);
    write_all(w, &pdata[..4096], 0);
    close(w, c::CLOSE_INCOMPLETE);
    let w = open(&tl, &pend, c::O_WRITE);
    write_all(w, &pdata[4096..], 4096);
    close(w, c::CLOSE_COMPLETE);
    // allowed: copy_image to the target
    let dup = image_def("dup", "");
    assert_rc!(
        copy_image_rc(&tl, &dup, &srv.lsu(), &sdef),
        c::EOK,
        "copy_image to a target handle"
    );

    // the target server's state, seen through an ordinary handle
    let oh = must_open_server(&tname);
    let ol = lsu_t(oh.0, "default");
    let names_before = list_images(&ol);
    let stats_before = stats(&ol);

    // everything else through the target handle: STS_EMODE, nothing written
    let mut lh: sts_lsu_list_handle_t = bogus(0x7001);
    assert_rc!(
        a.open_lsu_list(th.0, &mut lh),
        c::EMODE,
        "open_lsu_list(target handle)"
    );
    assert_eq!(
        lh,
        bogus(0x7001),
        "open_lsu_list wrote its out-parameter on error"
    );
    let mut li = sts_lsu_info_t {
        lsu_used: 0xdead,
        ..Default::default()
    };
    assert_rc!(
        a.get_lsu_prop_byname(&tl, &mut li),
        c::EMODE,
        "get_lsu_prop_byname(target handle)"
    );
    assert_eq!(
        li.lsu_used, 0xdead,
        "get_lsu_prop_byname wrote its out-parameter on error"
    );
    assert_rc!(
        a.delete_image(&tl, &made, 0),
        c::EMODE,
        "delete_image(target handle)"
    );
    assert_rc!(
        a.delete_image(&tl, &dup, 0),
        c::EMODE,
        "delete_image(target handle)"
    );
    let mut il: sts_image_list_handle_t = bogus(0x7002);
    assert_rc!(
        a.open_image_list(&tl, &mut il),
        c::EMODE,
        "open_image_list(target handle)"
    );
    assert_eq!(
        il,
        bogus(0x7002),
        "open_image_list wrote its out-parameter on error"
    );
    let mut ii = sts_image_info_t {
        imo_size: 0xdead,
        ..Default::default()
    };
    assert_rc!(
        a.get_image_prop_byname(&tl, &made, &mut ii),
        c::EMODE,
        "get_image_prop_byname(target handle)"
    );
    assert_eq!(
        ii.imo_size, 0xdead,
        "get_image_prop_byname wrote its out-parameter on error"
    );
    // a target handle is no source: not for open_target_server, not as
    // copy_image's from_lsu ("on an ordinary server handle")
    let mut t2: sts_server_handle_t = bogus(0x7003);
    let sname = cstring(&srv.name);
    assert_rc!(
        a.open_target_server(th.0, sname.as_ptr(), ptr::null(), &mut t2),
        c::EMODE,
        "open_target_server(source = a target handle)"
    );
    assert_eq!(
        t2,
        bogus(0x7003),
        "open_target_server wrote its out-parameter on error"
    );
    let back = image_def("back", "");
    assert_rc!(
        copy_image_rc(&srv.lsu(), &back, &tl, &made),
        c::EMODE,
        "copy_image(from_lsu on a target handle)"
    );

    // nothing changed
    assert_eq!(
        list_images(&ol),
        names_before,
        "images of the target server changed"
    );
    let stats_after = stats(&ol);
    assert_eq!(
        (
            stats_after.lsu_used,
            stats_after.lsu_used_phys,
            stats_after.lsu_images
        ),
        (
            stats_before.lsu_used,
            stats_before.lsu_used_phys,
            stats_before.lsu_images
        ),
        "target LSU statistics changed"
    );
    assert!(
        !is_listed(&srv.lsu(), "back"),
        "refused copy_image created its target"
    );
    assert_complete_image(&ol, &made, &mdata, "image made through the target handle");
    assert_complete_image(&ol, &pend, &pdata, "image restarted through the target handle");
    assert_complete_image(&ol, &dup, &sdata, "copy through the target handle");

    // allowed: close_server; the handle is then gone
    assert_rc!(a.close_server(th.0), c::EOK, "close_server(target handle)");
    assert_eq!(
        server_info(th.0).map(|_| ()),
        Err(c::EHANDLE),
        "target handle after close"
    );
    assert_rc!(
        a.close_server(th.0),
        c::EHANDLE,
        "second close of a target handle"
    );
    // the source handle is unaffected
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source");
}

#[test]
fn target_handle_on_the_same_directory_allows_only_its_calls() {
    target_handle_contract(true);
}

#[test]
fn target_handle_on_another_directory_allows_only_its_calls() {
    target_handle_contract(false);
}

#[test]
fn open_target_server_bad_arguments() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 4096);
    let a = api();
    let dir = tempfile::TempDir::new().unwrap();
    let (path, name) = missing_server(&dir);
    let n = cstring(&name);
    let untouched: sts_server_handle_t = bogus(0x7101);
    let mut th = untouched;
    assert_rc!(
        a.open_target_server(ptr::null_mut(), n.as_ptr(), ptr::null(), &mut th),
        c::ENULL,
        "source NULL"
    );
    assert_rc!(
        a.open_target_server(srv.sh, ptr::null(), ptr::null(), &mut th),
        c::ENULL,
        "target_name NULL"
    );
    assert_rc!(
        a.open_target_server(srv.sh, n.as_ptr(), ptr::null(), ptr::null_mut()),
        c::ENULL,
        "target_sh NULL"
    );
    for (bad, code) in [
        ("other:/tmp/x", c::ENOT_MINE),
        ("combstore:relative/dir", c::ENOSERVER),
        (
            &server_name_for(&dir.path().join("no/such/parent")) as &str,
            c::ENOSERVER,
        ),
    ] {
        assert_rc!(
            a.open_target_server(srv.sh, cstring(bad).as_ptr(), ptr::null(), &mut th),
            code,
            "target {bad}"
        );
    }
    // the source must be an open server handle
    let rh = open(&srv.lsu(), &sdef, c::O_READ);
    assert_rc!(
        a.open_target_server(rh.cast(), n.as_ptr(), ptr::null(), &mut th),
        c::EHANDLE,
        "source = an image handle"
    );
    close(rh, 0);
    let closed = srv.another_handle();
    assert_rc!(a.close_server(closed), c::EOK);
    assert_rc!(
        a.open_target_server(closed, n.as_ptr(), ptr::null(), &mut th),
        c::EHANDLE,
        "source closed"
    );
    assert_eq!(th, untouched, "target_sh written on error");
    assert!(
        !path.exists(),
        "a refused open_target_server created the target directory"
    );
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source");
}

// ---------------------------------------------------------------------------
// stsp_copy_image on one server: shared extents
// ---------------------------------------------------------------------------

#[test]
fn copy_image_on_one_server_is_a_complete_identical_image() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 5 * MIB + 3 * BLK);
    let cdef = image_def("copy", "20250102");
    assert_rc!(copy_image_rc(&lsu, &cdef, &lsu, &sdef), c::EOK);
    assert_complete_image(&lsu, &cdef, &sdata, "copy");
    let s = must_prop_byname(&lsu, &sdef);
    let t = must_prop_byname(&lsu, &cdef);
    assert_eq!(
        cstr(&t.imo_sha1),
        cstr(&s.imo_sha1),
        "copy's SHA-1 is the source's"
    );
    assert_eq!(cstr(&t.imo_def.img_date), "20250102", "copy keeps its own name");
    assert_complete_image(&lsu, &sdef, &sdata, "source after the copy");
    assert_eq!(list_basenames(&lsu), vec!["copy".to_string(), "src".to_string()]);
}

#[test]
fn copy_image_on_one_server_adds_logical_bytes_not_stored_bytes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 5 * MIB + 3 * BLK);
    let before = stats(&lsu);
    assert_rc!(copy_image_rc(&lsu, &image_def("copy", ""), &lsu, &sdef), c::EOK);
    let after = stats(&lsu);
    assert_eq!(
        after.lsu_used,
        before.lsu_used + sdata.len() as u64,
        "lsu_used grows by the copy's size"
    );
    assert_eq!(after.lsu_images, before.lsu_images + 1, "lsu_images");
    assert_no_bytes_copied(&before, &after, "copy_image on one server");
    assert!(
        after.lsu_used_phys < after.lsu_used,
        "lsu_used_phys {} not below lsu_used {} with two images sharing one set of extents",
        after.lsu_used_phys,
        after.lsu_used
    );
}

#[test]
fn copy_on_one_server_survives_deleting_its_source() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let start = stats(&lsu);
    let (sdef, sdata) = stored(&lsu, "src", 5 * MIB + 3 * BLK);
    let alone = stats(&lsu);
    let cdef = image_def("copy", "");
    assert_rc!(copy_image_rc(&lsu, &cdef, &lsu, &sdef), c::EOK);
    assert_rc!(api().delete_image(&lsu, &sdef, 0), c::EOK, "delete the source");
    assert_complete_image(&lsu, &cdef, &sdata, "copy after its source was deleted");
    assert_partial_reads(
        &lsu,
        &cdef,
        &sdata,
        &[MIB, 2 * MIB + BLK],
        "copy after source delete",
    );
    let now = stats(&lsu);
    assert_eq!(now.lsu_used, start.lsu_used + sdata.len() as u64, "lsu_used");
    assert_eq!(now.lsu_images, start.lsu_images + 1, "lsu_images");
    // the shared bytes are still stored, and counted once
    assert_eq!(
        now.lsu_used_phys, alone.lsu_used_phys,
        "lsu_used_phys with only the copy left differs from the source alone"
    );
}

#[test]
fn deleting_source_and_copy_returns_lsu_statistics_to_start() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let start = stats(&lsu);
    let (sdef, sdata) = stored(&lsu, "src", 5 * MIB + 3 * BLK);
    let cdef = image_def("copy", "");
    assert_rc!(copy_image_rc(&lsu, &cdef, &lsu, &sdef), c::EOK);
    // the copy first this time: the source must keep its bytes
    assert_rc!(api().delete_image(&lsu, &cdef, 0), c::EOK);
    assert_complete_image(&lsu, &sdef, &sdata, "source after its copy was deleted");
    assert_rc!(api().delete_image(&lsu, &sdef, 0), c::EOK);
    assert_stats_back(&lsu, &start, "after deleting copy and source");
}

#[test]
fn copy_of_a_copy_shares_the_same_extents() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let start = stats(&lsu);
    let (sdef, sdata) = stored(&lsu, "src", 3 * MIB + 7 * BLK);
    let one = stats(&lsu);
    let (c1, c2) = (image_def("c1", ""), image_def("c2", ""));
    assert_rc!(copy_image_rc(&lsu, &c1, &lsu, &sdef), c::EOK);
    assert_rc!(copy_image_rc(&lsu, &c2, &lsu, &c1), c::EOK);
    assert_no_bytes_copied(&one, &stats(&lsu), "two generations of copies");
    assert_rc!(api().delete_image(&lsu, &sdef, 0), c::EOK);
    assert_rc!(api().delete_image(&lsu, &c1, 0), c::EOK);
    assert_complete_image(&lsu, &c2, &sdata, "copy of a copy, both ancestors deleted");
    assert_rc!(api().delete_image(&lsu, &c2, 0), c::EOK);
    assert_stats_back(&lsu, &start, "after deleting all three");
}

#[test]
fn target_handle_on_the_same_directory_shares_extents() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 4 * MIB + BLK);
    let before = stats(&lsu);
    let th = must_target(srv.sh, &srv.name);
    let cdef = image_def("copy", "");
    assert_rc!(copy_image_rc(&lsu_t(th.0, "default"), &cdef, &lsu, &sdef), c::EOK);
    let after = stats(&lsu);
    assert_eq!(after.lsu_used, before.lsu_used + sdata.len() as u64);
    assert_no_bytes_copied(
        &before,
        &after,
        "copy_image through a target handle on the same directory",
    );
    assert_complete_image(&lsu, &cdef, &sdata, "copy");
}

// ---------------------------------------------------------------------------
// stsp_copy_image between servers: streamed
// ---------------------------------------------------------------------------

#[test]
fn copy_image_across_servers_streams_an_identical_complete_copy() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 6 * MIB + 7 * BLK);
    let a_before = stats(&srv.lsu());
    let sinfo = must_prop_byname(&srv.lsu(), &sdef);
    let dir = tempfile::TempDir::new().unwrap();
    let (_, bname) = missing_server(&dir);
    let th = must_target(srv.sh, &bname);
    let cdef = image_def("copy", "20250103");
    assert_rc!(
        copy_image_rc(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef),
        c::EOK
    );
    // server B, through an ordinary handle
    let bh = must_open_server(&bname);
    let bl = lsu_t(bh.0, "default");
    assert_eq!(list_basenames(&bl), vec!["copy".to_string()]);
    assert_complete_image(&bl, &cdef, &sdata, "copy on server B");
    assert_eq!(
        cstr(&must_prop_byname(&bl, &cdef).imo_sha1),
        cstr(&sinfo.imo_sha1)
    );
    assert_partial_reads(&bl, &cdef, &sdata, &[MIB, 5 * MIB + 3 * BLK], "copy on server B");
    let b = stats(&bl);
    assert_eq!(b.lsu_used, sdata.len() as u64, "B's lsu_used");
    assert!(
        b.lsu_used_phys >= sdata.len() as u64,
        "B stores the bytes itself: lsu_used_phys {} < {}",
        b.lsu_used_phys,
        sdata.len()
    );
    // the source is untouched
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source on server A");
    let a_after = stats(&srv.lsu());
    assert_eq!(
        (a_after.lsu_used, a_after.lsu_used_phys, a_after.lsu_images),
        (a_before.lsu_used, a_before.lsu_used_phys, a_before.lsu_images),
        "server A's statistics changed"
    );
}

#[test]
fn cross_server_copy_survives_deleting_the_source() {
    let srv = Server::new();
    let start = stats(&srv.lsu());
    let (sdef, sdata) = stored(&srv.lsu(), "src", 3 * MIB + 5 * BLK);
    let dir = tempfile::TempDir::new().unwrap();
    let (_, bname) = missing_server(&dir);
    let th = must_target(srv.sh, &bname);
    let cdef = image_def("copy", "");
    assert_rc!(
        copy_image_rc(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef),
        c::EOK
    );
    assert_rc!(
        api().delete_image(&srv.lsu(), &sdef, 0),
        c::EOK,
        "delete the source on A"
    );
    assert_stats_back(&srv.lsu(), &start, "server A after deleting the source");
    let bh = must_open_server(&bname);
    assert_complete_image(
        &lsu_t(bh.0, "default"),
        &cdef,
        &sdata,
        "B's copy after A's source was deleted",
    );
}

#[test]
fn copy_image_to_another_server_through_an_ordinary_handle() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 2 * MIB + 9 * BLK);
    let b = Server::new();
    let cdef = image_def("copy", "");
    assert_rc!(copy_image_rc(&b.lsu(), &cdef, &srv.lsu(), &sdef), c::EOK);
    assert_complete_image(&b.lsu(), &cdef, &sdata, "copy on B");
    assert!(
        stats(&b.lsu()).lsu_used_phys >= sdata.len() as u64,
        "B holds the bytes"
    );
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source on A");
}

// ---------------------------------------------------------------------------
// stsp_copy_extent on one server
// ---------------------------------------------------------------------------

/// Three ranges covering 0..size, boundaries inside stored chunks.
fn three_ranges(size: u64) -> [(u64, u64); 3] {
    let a = 2 * MIB + 3 * BLK;
    let b = 3 * MIB + 700 * BLK;
    [(0, a), (a, b - a), (b, size - b)]
}

#[test]
fn copy_extent_whole_image_in_three_calls_has_the_source_sha1() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 5 * MIB);
    let size = sdata.len() as u64;
    let rh = open(&lsu, &sdef, c::O_READ);
    let before = stats(&lsu);
    // in order
    let t1 = image_def("inorder", "");
    let w = create(&lsu, &t1);
    for (off, len) in three_ranges(size) {
        let n = must_xfer(Op::CopyExtent, rh, w, off, off, len, 0);
        assert_eq!(n, len, "bytescopied for {len} bytes at {off}");
        assert_eq!(
            prop(w).unwrap().imo_size,
            off + len,
            "target size after copying up to {}",
            off + len
        );
    }
    close(w, c::CLOSE_COMPLETE);
    // in reverse order: the same bytes, so the same SHA-1
    let t2 = image_def("reverse", "");
    let w = create(&lsu, &t2);
    for (off, len) in three_ranges(size).into_iter().rev() {
        assert_eq!(must_xfer(Op::CopyExtent, rh, w, off, off, len, 0), len);
    }
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_no_bytes_copied(&before, &stats(&lsu), "copy_extent on one server");
    let sha = cstr(&must_prop_byname(&lsu, &sdef).imo_sha1);
    for t in [&t1, &t2] {
        assert_complete_image(&lsu, t, &sdata, &cstr(&t.img_basename));
        assert_eq!(
            cstr(&must_prop_byname(&lsu, t).imo_sha1),
            sha,
            "SHA-1 equals the source's"
        );
    }
    assert_partial_reads(
        &lsu,
        &t1,
        &sdata,
        &[2 * MIB + 3 * BLK, 3 * MIB + 700 * BLK],
        "in-order copy",
    );
}

/// Odd ranges inside and across 1 MiB chunks, a gap, overlapping
/// overwrites: the target is exactly the composition.
fn odd_ranges(op: Op) {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 5 * MIB + 3 * BLK);
    let rh = open(&lsu, &sdef, c::O_READ);
    let before = stats(&lsu);
    let tdef = image_def("odd", "");
    let w = create(&lsu, &tdef);
    let pieces: [(u64, u64, u64); 7] = [
        (3 * BLK, 0, 7 * BLK),                          // inside chunk 0
        (MIB - 2 * BLK, 7 * BLK, 5 * BLK),              // across the chunk 0/1 boundary
        (3 * MIB + 11 * BLK, MIB, BLK),                 // leaves a gap of zeros before it
        (0, MIB + BLK, 2 * MIB + 3 * BLK),              // several chunks, unaligned to them
        (4 * MIB + 9 * BLK, MIB + 100 * BLK, 50 * BLK), // overwrites the middle of the previous
        (5 * MIB, 2 * BLK, 3 * BLK),                    // the source's short last chunk, over piece 1
        (5 * MIB + 2 * BLK, 4 * MIB, BLK),              // the source's last block, after a gap
    ];
    let mut want = Vec::new();
    let mut edges = Vec::new();
    for (from, to, len) in pieces {
        let n = must_xfer(op, rh, w, from, to, len, 0);
        assert_eq!(
            n,
            len,
            "{}: bytes reported for {len} at {from} -> {to}",
            op.name()
        );
        place(&mut want, &sdata, from, to, len);
        edges.extend([to, to + len]);
        assert_eq!(
            prop(w).unwrap().imo_size,
            want.len() as u64,
            "target size after {from} -> {to}"
        );
    }
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_no_bytes_copied(&before, &stats(&lsu), &format!("{} on one server", op.name()));
    assert_complete_image(&lsu, &tdef, &want, "composed target");
    assert_partial_reads(&lsu, &tdef, &want, &edges, "composed target");
    // still right once the source is gone
    assert_rc!(api().delete_image(&lsu, &sdef, 0), c::EOK);
    assert_complete_image(&lsu, &tdef, &want, "composed target after deleting the source");
    assert_partial_reads(
        &lsu,
        &tdef,
        &want,
        &edges,
        "composed target after deleting the source",
    );
}

#[test]
fn copy_extent_odd_ranges_inside_chunks_compose_exactly() {
    odd_ranges(Op::CopyExtent);
}

#[test]
fn include_odd_ranges_inside_chunks_compose_exactly() {
    odd_ranges(Op::Include);
}

/// STS_CX_APPEND: to_offset is ignored; the bytes go at the target's size.
fn append_ignores_to_offset(op: Op) {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 3 * MIB + 2 * BLK);
    let rh = open(&lsu, &sdef, c::O_READ);
    let tdef = image_def("t", "");
    let w = create(&lsu, &tdef);
    let own = seeded(0x0a11, 2 * BLK as usize);
    write_all(w, &own, 0);
    flush(w);
    let mut want = own.clone();
    // (from, to_offset that must be ignored, len)
    for (from, to_off, len) in [
        (4096, 1u64 << 40, 8192),
        (MIB - BLK, 0, MIB + 2 * BLK),
        (3 * MIB, 512 * BLK, 2 * BLK),
    ] {
        let at = want.len() as u64;
        let n = must_xfer(op, rh, w, from, to_off, len, c::CX_APPEND);
        assert_eq!(n, len, "{} APPEND: bytes reported", op.name());
        place(&mut want, &sdata, from, at, len);
        assert_eq!(
            prop(w).unwrap().imo_size,
            want.len() as u64,
            "size after APPEND with to_offset {to_off}"
        );
    }
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(&lsu, &tdef, &want, "appended target");
}

#[test]
fn copy_extent_append_ignores_to_offset() {
    append_ignores_to_offset(Op::CopyExtent);
}

#[test]
fn include_append_ignores_to_offset() {
    append_ignores_to_offset(Op::Include);
}

/// STS_CX_REMAINDER: len is ignored; all of the source from from_offset on.
fn remainder_ignores_len(op: Op) {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 3 * MIB + 5 * BLK);
    let size = sdata.len() as u64;
    let rh = open(&lsu, &sdef, c::O_READ);
    let tdef = image_def("t", "");
    let w = create(&lsu, &tdef);
    let mut want = Vec::new();
    // (from, to, len that must be ignored)
    for (from, to, len) in [
        (5 * BLK, 0, BLK),
        (2 * MIB + 3 * BLK, 4 * MIB, 1u64 << 40), // would be STS_ERANGE if not ignored
        (size - BLK, 64 * BLK, 0),
    ] {
        let n = must_xfer(op, rh, w, from, to, len, c::CX_REMAINDER);
        assert_eq!(
            n,
            size - from,
            "{} REMAINDER from {from}: bytes reported",
            op.name()
        );
        place(&mut want, &sdata, from, to, size - from);
    }
    assert_eq!(prop(w).unwrap().imo_size, want.len() as u64);
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(&lsu, &tdef, &want, "REMAINDER target");
}

#[test]
fn copy_extent_remainder_ignores_len() {
    remainder_ignores_len(Op::CopyExtent);
}

#[test]
fn include_remainder_ignores_len() {
    remainder_ignores_len(Op::Include);
}

/// STS_CX_APPEND | STS_CX_REMAINDER: to_offset and len both ignored.
fn append_and_remainder(op: Op) {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 2 * MIB + 3 * BLK);
    let size = sdata.len() as u64;
    let rh = open(&lsu, &sdef, c::O_READ);
    let tdef = image_def("t", "");
    let w = create(&lsu, &tdef);
    let own = seeded(0xb07, 4096);
    write_all(w, &own, 0);
    let mut want = own.clone();
    for from in [9 * BLK, 0, size - 2 * BLK] {
        let at = want.len() as u64;
        let n = must_xfer(op, rh, w, from, 1 << 40, 1 << 41, c::CX_APPEND | c::CX_REMAINDER);
        assert_eq!(n, size - from, "{} APPEND|REMAINDER from {from}", op.name());
        place(&mut want, &sdata, from, at, size - from);
    }
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(&lsu, &tdef, &want, "APPEND|REMAINDER target");
    // appending the whole source to an empty image is a copy: same SHA-1
    let whole = image_def("whole", "");
    let rh = open(&lsu, &sdef, c::O_READ);
    let w = create(&lsu, &whole);
    assert_eq!(
        must_xfer(op, rh, w, 0, 0, 0, c::CX_APPEND | c::CX_REMAINDER),
        size
    );
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(&lsu, &whole, &sdata, "whole source appended to an empty image");
}

#[test]
fn copy_extent_append_and_remainder_together() {
    append_and_remainder(Op::CopyExtent);
}

#[test]
fn include_append_and_remainder_together() {
    append_and_remainder(Op::Include);
}

/// Own writes (some unflushed) before, between and over copied ranges.
fn interleaved_with_writes(op: Op) {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 2 * MIB + 3 * BLK);
    let rh = open(&lsu, &sdef, c::O_READ);
    let tdef = image_def("t", "");
    let w = create(&lsu, &tdef);
    let mut want = Vec::new();
    let own1 = seeded(1, 3 * BLK as usize);
    write_all(w, &own1, 0); // not flushed: APPEND must still land after it
    want.extend_from_slice(&own1);
    let at = want.len() as u64;
    assert_eq!(
        must_xfer(op, rh, w, 7 * BLK, 0, MIB + BLK, c::CX_APPEND),
        MIB + BLK
    );
    place(&mut want, &sdata, 7 * BLK, at, MIB + BLK);
    let own2 = seeded(2, 2 * BLK as usize);
    let at = want.len() as u64;
    write_all(w, &own2, at);
    place(&mut want, &own2, 0, at, own2.len() as u64);
    // copied bytes over own bytes, own bytes over copied bytes
    assert_eq!(must_xfer(op, rh, w, MIB, BLK, 2 * BLK, 0), 2 * BLK);
    place(&mut want, &sdata, MIB, BLK, 2 * BLK);
    let own3 = seeded(3, BLK as usize);
    write_all(w, &own3, 4096);
    place(&mut want, &own3, 0, 4096, BLK);
    assert_eq!(
        prop(w).unwrap().imo_size,
        want.len() as u64,
        "size through the write handle"
    );
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(&lsu, &tdef, &want, "interleaved target");
    assert_partial_reads(
        &lsu,
        &tdef,
        &want,
        &[BLK, 3 * BLK, 4096, MIB + 4 * BLK],
        "interleaved target",
    );
}

#[test]
fn copy_extent_interleaves_with_write_image() {
    interleaved_with_writes(Op::CopyExtent);
}

#[test]
fn include_interleaves_with_write_image() {
    interleaved_with_writes(Op::Include);
}

#[test]
fn copy_extent_and_include_len_may_exceed_max_io_size() {
    // a sparse source just over STS_MAX_IO_SIZE: a gap, then 1 MiB of data
    let srv = Server::new();
    let lsu = srv.lsu();
    let sdef = image_def("sparse", "");
    let tail = seeded(0x5a, MIB as usize);
    let w = create(&lsu, &sdef);
    assert_rc!(write_at(w, &tail, c::MAX_IO), c::EOK);
    close(w, c::CLOSE_COMPLETE);
    let size = c::MAX_IO + MIB;
    let want_sha = {
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        let zeros = vec![0u8; MIB as usize];
        for _ in 0..(c::MAX_IO / MIB) {
            h.update(&zeros);
        }
        h.update(&tail);
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        cstr(&must_prop_byname(&lsu, &sdef).imo_sha1),
        want_sha,
        "source SHA-1"
    );
    let rh = open(&lsu, &sdef, c::O_READ);
    for op in BOTH {
        let tdef = image_def(&format!("big-{op:?}"), "");
        let w = create(&lsu, &tdef);
        let n = xfer(op, rh, w, 0, 0, size, 0).unwrap_or_else(|rc| {
            panic!(
                "{} of {size} bytes (> STS_MAX_IO_SIZE): {}",
                op.name(),
                code_name(rc)
            )
        });
        assert_eq!(n, size, "{}: bytes reported", op.name());
        close(w, c::CLOSE_COMPLETE);
        let info = must_prop_byname(&lsu, &tdef);
        assert_eq!(info.imo_size, size, "{}: target size", op.name());
        assert_eq!(cstr(&info.imo_sha1), want_sha, "{}: target SHA-1", op.name());
        let th = open(&lsu, &tdef, c::O_READ);
        assert_bytes_eq(
            &read_at(th, 2 * MIB, c::MAX_IO - MIB).unwrap()[MIB as usize..],
            &tail,
            "tail",
        );
        assert!(
            read_at(th, MIB, 300 * MIB).unwrap().iter().all(|b| *b == 0),
            "gap reads as zeros"
        );
        close(th, 0);
    }
    close(rh, 0);
}

/// The call is durable when it returns: a writer killed right after it
/// leaves an (abnormally completed) image that holds the copied bytes.
fn durable_when_it_returns(op: Op) {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 3 * MIB + 5 * BLK);
    let len = 2 * MIB + 3 * BLK;
    let tname = format!("t-{op:?}");
    let opname = format!("{op:?}");
    let lens = len.to_string();
    let mut p = spawn_role("dup_xfer_then_hang", &[&srv.name, &opname, "src", &tname, &lens]);
    let n = p.expect("DONE", Duration::from_secs(120));
    assert_eq!(n, lens, "bytes reported in the child");
    p.kill9();
    let mut srv = srv;
    srv.reopen(); // recovery: the writer is dead
    let tdef = image_def(&tname, "");
    let info = must_prop_byname(&srv.lsu(), &tdef);
    assert_eq!(
        info.imo_size,
        len,
        "{}: size kept after the writer died",
        op.name()
    );
    let w = open(&srv.lsu(), &tdef, c::O_WRITE);
    close(w, c::CLOSE_COMPLETE);
    assert_complete_image(
        &srv.lsu(),
        &tdef,
        &sdata[..len as usize],
        "target kept after the writer died",
    );
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source");
}

#[test]
fn copy_extent_is_durable_when_it_returns() {
    durable_when_it_returns(Op::CopyExtent);
}

#[test]
fn include_is_durable_when_it_returns() {
    durable_when_it_returns(Op::Include);
}

// ---------------------------------------------------------------------------
// stsp_copy_extent between servers: streamed
// ---------------------------------------------------------------------------

#[test]
fn copy_extent_across_servers_through_a_target_handle_streams_identical_bytes() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 5 * MIB);
    let size = sdata.len() as u64;
    let a_before = stats(&srv.lsu());
    let dir = tempfile::TempDir::new().unwrap();
    let (_, bname) = missing_server(&dir);
    let th = must_target(srv.sh, &bname);
    let tl = lsu_t(th.0, "default");
    let rh = open(&srv.lsu(), &sdef, c::O_READ);
    // whole image in three calls
    let whole = image_def("whole", "");
    let w = create(&tl, &whole);
    for (off, len) in three_ranges(size) {
        assert_eq!(
            must_xfer(Op::CopyExtent, rh, w, off, off, len, 0),
            len,
            "bytescopied at {off}"
        );
    }
    close(w, c::CLOSE_COMPLETE);
    // odd pieces, APPEND and REMAINDER
    let odd = image_def("odd", "");
    let w = create(&tl, &odd);
    let mut want = Vec::new();
    let mut covered = vec![false; 0]; // blocks of "odd" holding copied bytes (not gap zeros)
    for (from, to, len, flags) in [
        (3 * BLK, 0, 7 * BLK, 0),
        (MIB - 2 * BLK, 7 * BLK, 5 * BLK, 0),
        (2 * MIB + 11 * BLK, MIB + BLK, MIB + 3 * BLK, 0),
        (BLK, 4 * BLK, 2 * BLK, 0),
        (4 * MIB + 5 * BLK, 1 << 40, 3 * BLK, c::CX_APPEND),
        (size - 9 * BLK, 0, 1 << 40, c::CX_APPEND | c::CX_REMAINDER),
    ] {
        let at = if flags & c::CX_APPEND != 0 {
            want.len() as u64
        } else {
            to
        };
        let n = if flags & c::CX_REMAINDER != 0 {
            size - from
        } else {
            len
        };
        assert_eq!(
            must_xfer(Op::CopyExtent, rh, w, from, to, len, flags),
            n,
            "bytescopied from {from}"
        );
        place(&mut want, &sdata, from, at, n);
        covered.resize(want.len() / BLK as usize, false);
        covered[(at / BLK) as usize..((at + n) / BLK) as usize].fill(true);
    }
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    let bh = must_open_server(&bname);
    let bl = lsu_t(bh.0, "default");
    assert_complete_image(&bl, &whole, &sdata, "whole image copied extent by extent to B");
    assert_eq!(
        cstr(&must_prop_byname(&bl, &whole).imo_sha1),
        cstr(&must_prop_byname(&srv.lsu(), &sdef).imo_sha1),
        "SHA-1 equals the source's"
    );
    assert_complete_image(&bl, &odd, &want, "odd pieces copied to B");
    // B holds the streamed bytes itself (seeded bytes do not compress);
    // the odd pieces are the same bytes again, stored once.
    let b_phys = stats(&bl).lsu_used_phys;
    assert!(
        b_phys >= size,
        "B must hold the streamed bytes itself: lsu_used_phys {b_phys} < {size}"
    );
    let a_after = stats(&srv.lsu());
    assert_eq!(
        (a_after.lsu_used, a_after.lsu_used_phys, a_after.lsu_images),
        (a_before.lsu_used, a_before.lsu_used_phys, a_before.lsu_images),
        "server A changed"
    );
    // B's images do not depend on A's
    assert_rc!(api().delete_image(&srv.lsu(), &sdef, 0), c::EOK);
    assert_complete_image(&bl, &whole, &sdata, "B's copy after A's source was deleted");
    assert_complete_image(&bl, &odd, &want, "B's pieces after A's source was deleted");
}

#[test]
fn copy_extent_across_servers_through_an_ordinary_handle() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 3 * MIB + 3 * BLK);
    let b = Server::new();
    let rh = open(&srv.lsu(), &sdef, c::O_READ);
    let tdef = image_def("t", "");
    let w = create(&b.lsu(), &tdef);
    let mut want = Vec::new();
    for (from, to, len) in [
        (0, 0, MIB + 3 * BLK),
        (2 * MIB + 5 * BLK, MIB + 3 * BLK, 9 * BLK),
        (5 * BLK, 2 * BLK, 4 * BLK),
        (MIB, 3 * MIB, MIB + 3 * BLK),
    ] {
        assert_eq!(must_xfer(Op::CopyExtent, rh, w, from, to, len, 0), len);
        place(&mut want, &sdata, from, to, len);
    }
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(&b.lsu(), &tdef, &want, "pieces copied to B");
    assert_partial_reads(
        &b.lsu(),
        &tdef,
        &want,
        &[2 * BLK, 6 * BLK, MIB + 3 * BLK, 3 * MIB],
        "B",
    );
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source");
}

// ---------------------------------------------------------------------------
// stsp_include_in_image: virtual (synthetic) images
// ---------------------------------------------------------------------------

struct Synthetic {
    full: sts_image_def_t,
    incr1: sts_image_def_t,
    incr2: sts_image_def_t,
    synth: sts_image_def_t,
    want: Vec<u8>,
    edges: Vec<u64>,
    /// LSU statistics with the three sources stored, before the synthetic.
    sources_only: sts_lsu_info_t,
}

/// A full of 4 MiB, incr1 overwriting blocks in the middle (inside and
/// across chunks), incr2 appending; the synthetic full refers to all three.
fn build_synthetic(lsu: &sts_lsu_t) -> Synthetic {
    let (full, fdata) = stored(lsu, "full", 4 * MIB);
    let (incr1, i1) = stored(lsu, "incr1", MIB + 6 * BLK);
    let (incr2, i2) = stored(lsu, "incr2", MIB + 4 * BLK);
    let sources_only = stats(lsu);
    let synth = image_def("synthetic", "20250104");
    let (fr, r1, r2) = (
        open(lsu, &full, c::O_READ),
        open(lsu, &incr1, c::O_READ),
        open(lsu, &incr2, c::O_READ),
    );
    let w = create(lsu, &synth);
    let mut want = Vec::new();
    let mut edges = Vec::new();
    // the full, whole
    assert_eq!(
        must_xfer(Op::Include, fr, w, 0, 0, 0, c::CX_REMAINDER),
        4 * MIB,
        "include the full"
    );
    place(&mut want, &fdata, 0, 0, 4 * MIB);
    // incr1 over the middle, starting inside a chunk
    let at = MIB + 3 * BLK;
    assert_eq!(
        must_xfer(Op::Include, r1, w, 0, at, i1.len() as u64, 0),
        i1.len() as u64,
        "include incr1"
    );
    place(&mut want, &i1, 0, at, i1.len() as u64);
    edges.extend([at, at + i1.len() as u64]);
    // a few blocks of incr2 over the middle too
    assert_eq!(
        must_xfer(Op::Include, r2, w, 4 * BLK, 3 * MIB - BLK, 3 * BLK, 0),
        3 * BLK
    );
    place(&mut want, &i2, 4 * BLK, 3 * MIB - BLK, 3 * BLK);
    edges.extend([3 * MIB - BLK, 3 * MIB + 2 * BLK]);
    // incr2 appended
    let at = want.len() as u64;
    assert_eq!(
        must_xfer(Op::Include, r2, w, 0, 0, 0, c::CX_APPEND | c::CX_REMAINDER),
        i2.len() as u64,
        "append incr2"
    );
    place(&mut want, &i2, 0, at, i2.len() as u64);
    edges.extend([at, MIB, 2 * MIB, 4 * MIB + MIB]);
    assert_eq!(
        prop(w).unwrap().imo_size,
        want.len() as u64,
        "synthetic size while building"
    );
    close(w, c::CLOSE_COMPLETE);
    for h in [fr, r1, r2] {
        close(h, 0);
    }
    Synthetic {
        full,
        incr1,
        incr2,
        synth,
        want,
        edges,
        sources_only,
    }
}

#[test]
fn include_builds_a_synthetic_full_from_a_full_and_two_incrementals() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let s = build_synthetic(&lsu);
    let after = stats(&lsu);
    assert_no_bytes_copied(&s.sources_only, &after, "building the synthetic full");
    assert_eq!(
        after.lsu_used,
        s.sources_only.lsu_used + s.want.len() as u64,
        "lsu_used grows by the synthetic's size"
    );
    assert_complete_image(&lsu, &s.synth, &s.want, "synthetic full");
    assert_eq!(
        cstr(&must_prop_byname(&lsu, &s.synth).imo_sha1),
        sha1_hex(&s.want),
        "imo_sha1 is the SHA-1 of the composition"
    );
    assert_partial_reads(&lsu, &s.synth, &s.want, &s.edges, "synthetic full");
}

#[test]
fn synthetic_full_survives_deleting_its_sources() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let start = stats(&lsu);
    let s = build_synthetic(&lsu);
    let built = stats(&lsu);
    for d in [&s.full, &s.incr1, &s.incr2] {
        assert_rc!(
            api().delete_image(&lsu, d, 0),
            c::EOK,
            "delete {}",
            cstr(&d.img_basename)
        );
    }
    assert_eq!(list_basenames(&lsu), vec!["synthetic".to_string()]);
    assert_complete_image(&lsu, &s.synth, &s.want, "synthetic full without its sources");
    assert_partial_reads(
        &lsu,
        &s.synth,
        &s.want,
        &s.edges,
        "synthetic full without its sources",
    );
    let now = stats(&lsu);
    assert_eq!(now.lsu_used, start.lsu_used + s.want.len() as u64, "lsu_used");
    assert!(
        now.lsu_used_phys <= built.lsu_used_phys,
        "deleting sources raised lsu_used_phys: {} > {}",
        now.lsu_used_phys,
        built.lsu_used_phys
    );
    assert!(
        now.lsu_used_phys >= s.want.len() as u64 - 2 * 4096,
        "lsu_used_phys {} cannot hold the synthetic's {} bytes",
        now.lsu_used_phys,
        s.want.len()
    );
    assert_rc!(api().delete_image(&lsu, &s.synth, 0), c::EOK);
    assert_stats_back(&lsu, &start, "after deleting the synthetic too");
}

fn include_across_servers(b_lsu: &sts_lsu_t, srv: &Server) {
    let (sdef, sdata) = stored(&srv.lsu(), "full", 2 * MIB + 3 * BLK);
    let (bdef, bdata) = (image_def("b-src", ""), seeded(0xb5, 64 * 1024));
    store_complete(b_lsu, &bdef, &bdata);
    let tdef = image_def("t", "");
    let own = seeded(0x0e, 8192);
    let w = create(b_lsu, &tdef);
    write_all(w, &own, 0);
    flush(w);
    let rh = open(&srv.lsu(), &sdef, c::O_READ);
    let before = stats(b_lsu);
    for (from, to, len, flags) in [
        (0, 0, BLK, 0),
        (MIB, 8192, MIB, 0),
        (0, 0, 0, c::CX_APPEND | c::CX_REMAINDER),
    ] {
        expect_xfer(
            Op::Include,
            rh,
            w,
            from,
            to,
            len,
            flags,
            c::EXDEV,
            "include from server A into server B",
        );
        assert_eq!(
            prop(w).unwrap().imo_size,
            own.len() as u64,
            "target size after EXDEV"
        );
    }
    // the other way: from B into an image on A
    let br = open(b_lsu, &bdef, c::O_READ);
    let aw = create(&srv.lsu(), &image_def("a-t", ""));
    expect_xfer(
        Op::Include,
        br,
        aw,
        0,
        0,
        BLK,
        0,
        c::EXDEV,
        "include from server B into server A",
    );
    assert_eq!(prop(aw).unwrap().imo_size, 0);
    close(aw, c::CLOSE_INCOMPLETE);
    close(br, 0);
    let after = stats(b_lsu);
    assert_eq!(
        (after.lsu_used, after.lsu_used_phys, after.lsu_images),
        (before.lsu_used, before.lsu_used_phys, before.lsu_images),
        "server B changed"
    );
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(b_lsu, &tdef, &own, "target after EXDEV");
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source after EXDEV");
}

#[test]
fn include_across_servers_through_a_target_handle_is_exdev() {
    let srv = Server::new();
    let dir = tempfile::TempDir::new().unwrap();
    let (_, bname) = missing_server(&dir);
    let th = must_target(srv.sh, &bname);
    // B's images are read back through an ordinary handle (a target handle
    // cannot get image properties); they are created through the target
    let bh = must_open_server(&bname);
    let tl = lsu_t(th.0, "default");
    let (sdef, sdata) = stored(&srv.lsu(), "full", 2 * MIB + 3 * BLK);
    let tdef = image_def("t", "");
    let own = seeded(0x0e, 8192);
    let w = create(&tl, &tdef);
    write_all(w, &own, 0);
    flush(w);
    let rh = open(&srv.lsu(), &sdef, c::O_READ);
    let bl = lsu_t(bh.0, "default");
    let before = stats(&bl);
    for (from, to, len, flags) in [
        (0, 0, BLK, 0),
        (MIB, 8192, MIB, 0),
        (0, 0, 0, c::CX_APPEND | c::CX_REMAINDER),
    ] {
        expect_xfer(
            Op::Include,
            rh,
            w,
            from,
            to,
            len,
            flags,
            c::EXDEV,
            "include into a target-handle image",
        );
        assert_eq!(
            prop(w).unwrap().imo_size,
            own.len() as u64,
            "target size after EXDEV"
        );
    }
    let after = stats(&bl);
    assert_eq!(
        (after.lsu_used, after.lsu_used_phys),
        (before.lsu_used, before.lsu_used_phys)
    );
    close(w, c::CLOSE_COMPLETE);
    close(rh, 0);
    assert_complete_image(&bl, &tdef, &own, "target after EXDEV");
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source after EXDEV");
}

#[test]
fn include_across_servers_through_ordinary_handles_is_exdev() {
    let srv = Server::new();
    let b = Server::new();
    include_across_servers(&b.lsu(), &srv);
}

#[test]
fn include_between_two_handles_on_one_directory_shares_extents() {
    // "one server" is one directory, whatever handles the images came from
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "full", 3 * MIB + 3 * BLK);
    let before = stats(&lsu);
    let th = must_target(srv.sh, &srv.name);
    let second = Sh(srv.another_handle());
    let rh = open(&lsu, &sdef, c::O_READ);
    for (name, via) in [("via-target", th.0), ("via-second", second.0)] {
        let tdef = image_def(name, "");
        let w = create(&lsu_t(via, "default"), &tdef);
        assert_eq!(
            must_xfer(Op::Include, rh, w, 0, 0, 0, c::CX_REMAINDER),
            sdata.len() as u64,
            "{name}"
        );
        close(w, c::CLOSE_COMPLETE);
        assert_complete_image(&lsu, &tdef, &sdata, name);
    }
    close(rh, 0);
    assert_no_bytes_copied(
        &before,
        &stats(&lsu),
        "include through other handles on one directory",
    );
}

// ---------------------------------------------------------------------------
// Bad input to copy_extent / include_in_image: refused, nothing changes
// ---------------------------------------------------------------------------

/// A server with a complete source (open for reading) and a pending target
/// (open for writing, 8 KiB written and flushed).
struct Scene {
    srv: Server,
    src: sts_image_def_t,
    src_data: Vec<u8>,
    rh: sts_image_handle_t,
    tgt: sts_image_def_t,
    tgt_data: Vec<u8>,
    th: sts_image_handle_t,
}

struct Snap {
    tgt_size: u64,
    src: sts_image_info_t,
    lsu: sts_lsu_info_t,
}

impl Scene {
    fn new() -> Scene {
        let srv = Server::new();
        let lsu = srv.lsu();
        let (src, src_data) = stored(&lsu, "source", 2 * MIB + 3 * BLK);
        let rh = open(&lsu, &src, c::O_READ);
        let tgt = image_def("target", "");
        let tgt_data = seeded(0x7a, 8192);
        let th = create(&lsu, &tgt);
        write_all(th, &tgt_data, 0);
        flush(th);
        Scene {
            srv,
            src,
            src_data,
            rh,
            tgt,
            tgt_data,
            th,
        }
    }

    fn lsu(&self) -> sts_lsu_t {
        self.srv.lsu()
    }

    fn size(&self) -> u64 {
        self.src_data.len() as u64
    }

    fn snap(&self) -> Snap {
        Snap {
            tgt_size: prop(self.th).expect("target prop").imo_size,
            src: must_prop_byname(&self.lsu(), &self.src),
            lsu: stats(&self.lsu()),
        }
    }

    /// Target size, source properties and LSU statistics as in `s`.
    fn assert_same(&self, s: &Snap, what: &str) {
        assert_eq!(
            prop(self.th).unwrap().imo_size,
            s.tgt_size,
            "{what}: target size changed"
        );
        let src = must_prop_byname(&self.lsu(), &self.src);
        assert_eq!(
            (src.imo_size, src.imo_flags, cstr(&src.imo_sha1)),
            (s.src.imo_size, s.src.imo_flags, cstr(&s.src.imo_sha1)),
            "{what}: source changed"
        );
        let l = stats(&self.lsu());
        assert_eq!(
            (l.lsu_used, l.lsu_used_phys, l.lsu_images),
            (s.lsu.lsu_used, s.lsu.lsu_used_phys, s.lsu.lsu_images),
            "{what}: LSU statistics changed"
        );
    }

    /// Close both handles; the target holds exactly its own 8 KiB and the
    /// source reads back whole.
    fn finish(self) {
        close(self.rh, 0);
        self.finish_target();
        assert_complete_image(
            &self.lsu(),
            &self.src,
            &self.src_data,
            "source after refused calls",
        );
    }

    fn finish_target(&self) {
        close(self.th, c::CLOSE_COMPLETE);
        assert_complete_image(
            &self.lsu(),
            &self.tgt,
            &self.tgt_data,
            "target after refused calls",
        );
    }
}

#[test]
fn unaligned_offsets_or_length_are_ealign() {
    let sc = Scene::new();
    let snap = sc.snap();
    for op in BOTH {
        for (fo, to, len, flags) in [
            (100, 0, BLK, 0),
            (0, 100, BLK, 0),
            (0, 0, 100, 0),
            (BLK - 1, 0, BLK, 0),
            (0, MIB + 1, BLK, 0),
            (0, 0, MIB + 511, 0),
            (513, 0, 0, c::CX_REMAINDER),
            (7, 0, BLK, c::CX_APPEND),
        ] {
            expect_xfer(op, sc.rh, sc.th, fo, to, len, flags, c::EALIGN, "unaligned");
            sc.assert_same(&snap, &format!("{} unaligned {fo}/{to}/{len}", op.name()));
        }
    }
    sc.finish();
}

#[test]
fn source_range_past_its_end_is_erange() {
    let sc = Scene::new();
    let size = sc.size();
    let snap = sc.snap();
    for op in BOTH {
        for (fo, len, flags) in [
            (0, size + BLK, 0),
            (size - BLK, 2 * BLK, 0),
            (size, BLK, 0),
            (size + BLK, BLK, 0),
            (1 << 40, BLK, 0),
            (u64::MAX - (BLK - 1), 2 * BLK, 0), // from_offset + len overflows
            (size + BLK, 0, c::CX_REMAINDER),   // from_offset itself past the end
        ] {
            expect_xfer(
                op,
                sc.rh,
                sc.th,
                fo,
                0,
                len,
                flags,
                c::ERANGE,
                "source range past its end",
            );
            sc.assert_same(&snap, &format!("{} range {fo}+{len}", op.name()));
        }
    }
    sc.finish();
}

#[test]
fn write_handle_as_source_is_emode() {
    let sc = Scene::new();
    let lsu = sc.lsu();
    // a new image open for writing, and a pending image reopened for writing
    let wsrc = create(&lsu, &image_def("writing", ""));
    write_all(wsrc, &seeded(3, 4096), 0);
    flush(wsrc);
    let pdef = image_def("pending", "");
    let p = create(&lsu, &pdef);
    write_all(p, &seeded(4, 4096), 0);
    close(p, c::CLOSE_INCOMPLETE);
    let psrc = open(&lsu, &pdef, c::O_WRITE);
    let snap = sc.snap();
    for op in BOTH {
        for (what, src) in [
            ("new image open for writing", wsrc),
            ("pending image reopened", psrc),
        ] {
            for flags in [0, c::CX_APPEND | c::CX_REMAINDER] {
                expect_xfer(
                    op,
                    src,
                    sc.th,
                    0,
                    0,
                    BLK,
                    flags,
                    c::EMODE,
                    &format!("source: {what}"),
                );
                sc.assert_same(&snap, &format!("{} from a write handle ({what})", op.name()));
            }
        }
    }
    close(wsrc, c::CLOSE_INCOMPLETE);
    close(psrc, c::CLOSE_INCOMPLETE);
    for (name, len) in [("writing", 4096u64), ("pending", 4096)] {
        let info = must_prop_byname(&lsu, &image_def(name, ""));
        assert_eq!(info.imo_size, len, "{name} changed");
        assert_eq!(info.imo_flags & c::II_COMPLETE, 0, "{name} completed");
    }
    sc.finish();
}

#[test]
fn read_handle_as_target_is_ecomplete() {
    let sc = Scene::new();
    let lsu = sc.lsu();
    let (ddef, ddata) = stored(&lsu, "done", 64 * 1024);
    let dh = open(&lsu, &ddef, c::O_READ);
    let snap = sc.snap();
    for op in BOTH {
        for (fo, to, len, flags) in [(0, 0, BLK, 0), (0, 0, 0, c::CX_APPEND | c::CX_REMAINDER)] {
            expect_xfer(
                op,
                sc.rh,
                dh,
                fo,
                to,
                len,
                flags,
                c::ECOMPLETE,
                "target is a read handle",
            );
            sc.assert_same(&snap, &format!("{} into a read handle", op.name()));
        }
    }
    close(dh, 0);
    assert_complete_image(&lsu, &ddef, &ddata, "complete image used as target");
    sc.finish();
}

#[test]
fn same_handle_as_source_and_target_is_einval() {
    // stspi.h: "The same image as from_image gives STS_EINVAL". The same
    // handle is also a write handle as source (EMODE) or a read handle as
    // target (ECOMPLETE); the same-image rule is the one that names the
    // mistake, so it is the one expected.
    let sc = Scene::new();
    let snap = sc.snap();
    for op in BOTH {
        expect_xfer(
            op,
            sc.rh,
            sc.rh,
            0,
            0,
            BLK,
            0,
            c::EINVAL,
            "same read handle twice",
        );
        sc.assert_same(&snap, &format!("{} read handle twice", op.name()));
        expect_xfer(
            op,
            sc.th,
            sc.th,
            0,
            8192,
            BLK,
            0,
            c::EINVAL,
            "same write handle twice",
        );
        expect_xfer(
            op,
            sc.th,
            sc.th,
            0,
            0,
            0,
            c::CX_APPEND | c::CX_REMAINDER,
            c::EINVAL,
            "same write handle twice",
        );
        sc.assert_same(&snap, &format!("{} write handle twice", op.name()));
    }
    sc.finish();
}

#[test]
fn two_handles_on_one_image_as_source_and_target_is_einval() {
    // Two handles on one image can only be two read handles (a second
    // writer is STS_EBUSY): "the same image as from_image" again.
    let sc = Scene::new();
    let rh2 = open(&sc.lsu(), &sc.src, c::O_READ);
    let snap = sc.snap();
    for op in BOTH {
        expect_xfer(
            op,
            sc.rh,
            rh2,
            0,
            0,
            BLK,
            0,
            c::EINVAL,
            "two read handles on the source",
        );
        expect_xfer(
            op,
            rh2,
            sc.rh,
            BLK,
            0,
            BLK,
            c::CX_APPEND,
            c::EINVAL,
            "two read handles on the source",
        );
        sc.assert_same(&snap, &format!("{} two handles on one image", op.name()));
    }
    close(rh2, 0);
    sc.finish();
}

#[test]
fn unknown_flag_bits_are_einval() {
    let sc = Scene::new();
    let snap = sc.snap();
    for op in BOTH {
        for flags in [
            0x4,
            0x8,
            0x100,
            0x4 | c::CX_APPEND,
            0x8 | c::CX_REMAINDER,
            i32::MIN,
            -1,
        ] {
            expect_xfer(op, sc.rh, sc.th, 0, 0, BLK, flags, c::EINVAL, "unknown flag bits");
            sc.assert_same(&snap, &format!("{} flags {flags:#x}", op.name()));
        }
    }
    sc.finish();
}

#[test]
fn null_out_parameter_or_handles_are_enull() {
    let sc = Scene::new();
    let snap = sc.snap();
    for op in BOTH {
        assert_rc!(
            op.raw(sc.rh, sc.th, 0, 0, BLK, 0, ptr::null_mut()),
            c::ENULL,
            "{}: bytescopied NULL",
            op.name()
        );
        assert_rc!(
            op.raw(
                sc.rh,
                sc.th,
                0,
                0,
                0,
                c::CX_APPEND | c::CX_REMAINDER,
                ptr::null_mut()
            ),
            c::ENULL,
            "{}: bytescopied NULL with APPEND|REMAINDER",
            op.name()
        );
        sc.assert_same(&snap, &format!("{} NULL bytescopied", op.name()));
        expect_xfer(
            op,
            ptr::null_mut(),
            sc.th,
            0,
            0,
            BLK,
            0,
            c::ENULL,
            "from_image NULL",
        );
        expect_xfer(
            op,
            sc.rh,
            ptr::null_mut(),
            0,
            0,
            BLK,
            0,
            c::ENULL,
            "to_image NULL",
        );
        sc.assert_same(&snap, &format!("{} NULL handles", op.name()));
    }
    sc.finish();
}

#[test]
fn closed_or_fabricated_handles_are_ehandle() {
    isolated("dup::closed_or_fabricated_handles_are_ehandle", || {
        let sc = Scene::new();
        let lsu = sc.lsu();
        let closed_r = open(&lsu, &sc.src, c::O_READ);
        close(closed_r, 0);
        let closed_w = create(&lsu, &image_def("closed", ""));
        write_all(closed_w, &[7u8; 512], 0);
        close(closed_w, c::CLOSE_INCOMPLETE);
        // handles closed with their server handle
        let oh = sc.srv.another_handle();
        let ol = lsu_t(oh, "default");
        let orphan_r = open(&ol, &sc.src, c::O_READ);
        let orphan_w = create(&ol, &image_def("orphan", ""));
        assert_rc!(api().close_server(oh), c::EOK);
        let snap = sc.snap();
        let bogus_h: sts_image_handle_t = bogus(0x5eed_0001);
        for op in BOTH {
            for (what, from, to) in [
                ("closed read handle as source", closed_r, sc.th),
                ("closed write handle as target", sc.rh, closed_w),
                ("source closed with its server", orphan_r, sc.th),
                ("target closed with its server", sc.rh, orphan_w),
                ("fabricated source", bogus_h, sc.th),
                ("fabricated target", sc.rh, bogus_h),
                ("server handle as source", sc.srv.sh.cast(), sc.th),
                ("server handle as target", sc.rh, sc.srv.sh.cast()),
            ] {
                expect_xfer(op, from, to, 0, 0, BLK, 0, c::EHANDLE, what);
                sc.assert_same(&snap, &format!("{}: {what}", op.name()));
            }
        }
        sc.finish();
    });
}

#[test]
fn deleted_source_is_enoent() {
    let sc = Scene::new();
    let lsu = sc.lsu();
    assert_rc!(
        api().delete_image(&lsu, &sc.src, 0),
        c::EOK,
        "delete the source while open for reading"
    );
    let tgt_size = prop(sc.th).unwrap().imo_size;
    let before = stats(&lsu);
    for op in BOTH {
        for (fo, len, flags) in [(0, BLK, 0), (MIB, MIB, 0), (0, 0, c::CX_REMAINDER)] {
            expect_xfer(
                op,
                sc.rh,
                sc.th,
                fo,
                8192,
                len,
                flags,
                c::ENOENT,
                "source deleted",
            );
            assert_eq!(
                prop(sc.th).unwrap().imo_size,
                tgt_size,
                "{}: target size changed",
                op.name()
            );
        }
    }
    let after = stats(&lsu);
    assert_eq!(
        (after.lsu_used, after.lsu_used_phys),
        (before.lsu_used, before.lsu_used_phys)
    );
    close(sc.rh, 0);
    sc.finish_target();
}

// ---------------------------------------------------------------------------
// Bad input to copy_image: refused, nothing created or changed
// ---------------------------------------------------------------------------

#[test]
fn copy_image_onto_an_existing_name_is_eexist() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", MIB + 3 * BLK);
    let (edef, edata) = stored(&lsu, "exists", 64 * 1024);
    let pdef = image_def("pending", "");
    let pdata = seeded(0x9, 4096);
    let p = create(&lsu, &pdef);
    write_all(p, &pdata, 0);
    close(p, c::CLOSE_INCOMPLETE);
    let before = stats(&lsu);
    assert_rc!(
        copy_image_rc(&lsu, &edef, &lsu, &sdef),
        c::EEXIST,
        "onto a complete image"
    );
    assert_rc!(
        copy_image_rc(&lsu, &pdef, &lsu, &sdef),
        c::EEXIST,
        "onto a pending image"
    );
    assert_rc!(
        copy_image_rc(&lsu, &sdef, &lsu, &sdef),
        c::EEXIST,
        "onto the source itself"
    );
    // across servers, through a target handle
    let b = Server::new();
    store_complete(&b.lsu(), &edef, &edata);
    let th = must_target(srv.sh, &b.name);
    assert_rc!(
        copy_image_rc(&lsu_t(th.0, "default"), &edef, &lsu, &sdef),
        c::EEXIST,
        "onto an image of another server"
    );
    let after = stats(&lsu);
    assert_eq!(
        (after.lsu_used, after.lsu_used_phys, after.lsu_images),
        (before.lsu_used, before.lsu_used_phys, before.lsu_images)
    );
    assert_complete_image(&lsu, &edef, &edata, "existing image");
    assert_complete_image(&b.lsu(), &edef, &edata, "existing image on B");
    assert_eq!(list_basenames(&b.lsu()), vec!["exists".to_string()]);
    let pi = must_prop_byname(&lsu, &pdef);
    assert_eq!(pi.imo_size, pdata.len() as u64, "pending image size");
    assert_eq!(
        pi.imo_flags & (c::II_PENDING | c::II_COMPLETE),
        c::II_PENDING,
        "pending image flags"
    );
    assert_complete_image(&lsu, &sdef, &sdata, "source");
}

#[test]
fn copy_image_of_an_incomplete_source_is_enotcomplete() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let pdef = image_def("pending", "");
    let p = create(&lsu, &pdef);
    write_all(p, &seeded(1, 8192), 0);
    close(p, c::CLOSE_INCOMPLETE);
    let wdef = image_def("writing", "");
    let w = create(&lsu, &wdef);
    write_all(w, &seeded(2, 8192), 0);
    flush(w);
    let dir = tempfile::TempDir::new().unwrap();
    let (_, bname) = missing_server(&dir);
    let th = must_target(srv.sh, &bname);
    let before = stats(&lsu);
    for (what, src) in [("pending source", &pdef), ("source open for writing", &wdef)] {
        assert_rc!(
            copy_image_rc(&lsu, &image_def("copy", ""), &lsu, src),
            c::ENOTCOMPLETE,
            "{what}"
        );
        assert_rc!(
            copy_image_rc(&lsu_t(th.0, "default"), &image_def("copy", ""), &lsu, src),
            c::ENOTCOMPLETE,
            "{what}, to another server"
        );
    }
    assert!(
        !is_listed(&lsu, "copy"),
        "a refused copy_image created its target"
    );
    let after = stats(&lsu);
    assert_eq!(
        (after.lsu_used, after.lsu_images),
        (before.lsu_used, before.lsu_images)
    );
    let bh = must_open_server(&bname);
    assert!(
        list_basenames(&lsu_t(bh.0, "default")).is_empty(),
        "target created on B"
    );
    // the sources are unchanged, and the writer still writes
    write_all(w, &seeded(3, 4096), 8192);
    close(w, c::CLOSE_COMPLETE);
    assert_eq!(must_prop_byname(&lsu, &wdef).imo_size, 8192 + 4096);
    assert_eq!(must_prop_byname(&lsu, &pdef).imo_size, 8192);
}

#[test]
fn copy_image_with_flags_is_einval() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", MIB);
    let cdef = image_def("copy", "");
    for flags in [1, 2, 3, 0x100, -1, i32::MIN] {
        assert_rc!(
            api().copy_image(&lsu, &cdef, &lsu, &sdef, flags),
            c::EINVAL,
            "flags {flags:#x}"
        );
        assert!(
            !is_listed(&lsu, "copy"),
            "copy_image with flags {flags:#x} created its target"
        );
    }
    assert_complete_image(&lsu, &sdef, &sdata, "source");
}

#[test]
fn copy_image_from_a_missing_source_is_enoent() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (gone, _) = stored(&lsu, "gone", 8192);
    assert_rc!(api().delete_image(&lsu, &gone, 0), c::EOK);
    let before = stats(&lsu);
    let cdef = image_def("copy", "");
    assert_rc!(
        copy_image_rc(&lsu, &cdef, &lsu, &image_def("never", "")),
        c::ENOENT,
        "never existed"
    );
    assert_rc!(copy_image_rc(&lsu, &cdef, &lsu, &gone), c::ENOENT, "deleted");
    assert_rc!(
        copy_image_rc(&lsu, &cdef, &lsu, &image_def("gone", "other-date")),
        c::ENOENT,
        "other date"
    );
    let b = Server::new();
    assert_rc!(
        copy_image_rc(&b.lsu(), &cdef, &lsu, &gone),
        c::ENOENT,
        "deleted, to another server"
    );
    assert!(
        list_basenames(&lsu).is_empty(),
        "images listed after refused copies"
    );
    assert!(list_basenames(&b.lsu()).is_empty(), "target created on B");
    let after = stats(&lsu);
    assert_eq!(
        (after.lsu_used, after.lsu_images),
        (before.lsu_used, before.lsu_images)
    );
}

#[test]
fn copy_image_null_arguments_are_enull() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 8192);
    let cdef = image_def("copy", "");
    let a = api();
    assert_rc!(
        a.copy_image(ptr::null(), &cdef, &lsu, &sdef, 0),
        c::ENULL,
        "to_lsu NULL"
    );
    assert_rc!(
        a.copy_image(&lsu, ptr::null(), &lsu, &sdef, 0),
        c::ENULL,
        "to_def NULL"
    );
    assert_rc!(
        a.copy_image(&lsu, &cdef, ptr::null(), &sdef, 0),
        c::ENULL,
        "from_lsu NULL"
    );
    assert_rc!(
        a.copy_image(&lsu, &cdef, &lsu, ptr::null(), 0),
        c::ENULL,
        "from_def NULL"
    );
    assert_eq!(list_basenames(&lsu), vec!["src".to_string()]);
    assert_complete_image(&lsu, &sdef, &sdata, "source");
}

#[test]
fn copy_image_bad_names_and_lsus_are_refused() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", 8192);
    let cdef = image_def("copy", "");
    let mut flagged = image_def("copy", "");
    flagged.img_flags = 1;
    let mut src_flagged = sdef;
    src_flagged.img_flags = 1;
    let nolsu = srv.lsu_named("nosuch");
    let badlsu = srv.lsu_named("a/b");
    let cases: [(
        &str,
        &sts_lsu_t,
        &sts_image_def_t,
        &sts_lsu_t,
        &sts_image_def_t,
        i32,
    ); 9] = [
        ("to_def a/b", &lsu, &image_def("a/b", ""), &lsu, &sdef, c::ENAME),
        ("to_def ..", &lsu, &image_def("..", ""), &lsu, &sdef, c::ENAME),
        ("to_def empty", &lsu, &image_def("", ""), &lsu, &sdef, c::ENAME),
        ("from_def empty", &lsu, &cdef, &lsu, &image_def("", ""), c::ENAME),
        ("to_def img_flags", &lsu, &flagged, &lsu, &sdef, c::EINVAL),
        ("from_def img_flags", &lsu, &cdef, &lsu, &src_flagged, c::EINVAL),
        ("to_lsu unknown", &nolsu, &cdef, &lsu, &sdef, c::ENOLSU),
        ("from_lsu unknown", &lsu, &cdef, &nolsu, &sdef, c::ENOLSU),
        ("to_lsu bad name", &badlsu, &cdef, &lsu, &sdef, c::ENAME),
    ];
    for (what, tl, td, fl, fd, code) in cases {
        assert_rc!(copy_image_rc(tl, td, fl, fd), code, "{what}");
    }
    assert_eq!(list_basenames(&lsu), vec!["src".to_string()]);
    assert_complete_image(&lsu, &sdef, &sdata, "source");
}

#[test]
fn copy_image_closed_server_handles_are_ehandle() {
    isolated("dup::copy_image_closed_server_handles_are_ehandle", || {
        let srv = Server::new();
        let lsu = srv.lsu();
        let (sdef, sdata) = stored(&lsu, "src", 8192);
        let b = Server::new();
        let th = open_target_server(srv.sh, &b.name).unwrap_or_else(|rc| panic!("{}", code_name(rc)));
        assert_rc!(api().close_server(th), c::EOK);
        let closed = srv.another_handle();
        assert_rc!(api().close_server(closed), c::EOK);
        let cdef = image_def("copy", "");
        assert_rc!(
            copy_image_rc(&lsu_t(th, "default"), &cdef, &lsu, &sdef),
            c::EHANDLE,
            "closed target handle"
        );
        assert_rc!(
            copy_image_rc(&lsu_t(closed, "default"), &cdef, &lsu, &sdef),
            c::EHANDLE,
            "closed to_lsu handle"
        );
        assert_rc!(
            copy_image_rc(&lsu, &cdef, &lsu_t(closed, "default"), &sdef),
            c::EHANDLE,
            "closed from_lsu handle"
        );
        let rh = open(&lsu, &sdef, c::O_READ);
        assert_rc!(
            copy_image_rc(&lsu_t(rh.cast(), "default"), &cdef, &lsu, &sdef),
            c::EHANDLE,
            "image handle as to_lsu"
        );
        close(rh, 0);
        assert_eq!(list_basenames(&lsu), vec!["src".to_string()]);
        assert!(list_basenames(&b.lsu()).is_empty());
        assert_complete_image(&lsu, &sdef, &sdata, "source");
    });
}

// ---------------------------------------------------------------------------
// Processes copying and deleting shared images at once
// ---------------------------------------------------------------------------

#[test]
fn processes_copying_and_deleting_shared_images_keep_every_image_whole() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let start = stats(&lsu);
    for k in 0..DUP_BASES {
        store_complete(&lsu, &image_def(&dup_base_name(k), ""), &dup_base_data(k));
    }
    let bases = stats(&lsu);
    // each child deletes one base half-way (the other may be copying it)
    let mut ps: Vec<_> = [("a", "0"), ("b", "1")]
        .iter()
        .map(|(prefix, victim)| spawn_role("dup_churn", &[&srv.name, prefix, "40", victim]))
        .collect();
    for p in &mut ps {
        p.expect("STARTED", Duration::from_secs(60));
    }
    for p in &mut ps {
        p.send("GO");
    }
    for p in &mut ps {
        p.expect("DONE", Duration::from_secs(300));
        p.wait_success(Duration::from_secs(60));
    }
    let names = list_basenames(&lsu);
    for k in [0, 1] {
        assert!(
            !names.iter().any(|n| *n == dup_base_name(k)),
            "deleted base {k} still listed"
        );
    }
    let mut total = 0u64;
    for name in &names {
        let k = dup_base_of(name).unwrap_or_else(|| panic!("unexpected image {name}"));
        let want = dup_base_data(k);
        assert_complete_image(&lsu, &image_def(name, ""), &want, name);
        total += want.len() as u64;
    }
    assert!(names.len() > 2, "only {} images left: {names:?}", names.len());
    let now = stats(&lsu);
    assert_eq!(
        now.lsu_used, total,
        "lsu_used is the sum of the remaining images' sizes"
    );
    assert_eq!(now.lsu_images, names.len() as u64, "lsu_images");
    assert!(
        now.lsu_used_phys <= bases.lsu_used_phys,
        "copies stored bytes: lsu_used_phys {} > {} with the bases alone",
        now.lsu_used_phys,
        bases.lsu_used_phys
    );
    for name in &names {
        assert_rc!(
            api().delete_image(&lsu, &image_def(name, ""), 0),
            c::EOK,
            "delete {name}"
        );
    }
    assert_stats_back(&lsu, &start, "after deleting everything");
}

// ---------------------------------------------------------------------------
// A cross-server copy killed half-way
// ---------------------------------------------------------------------------

/// Bytes in the files of `dir` (a server's segments).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn killed_cross_server_copy_leaves_no_complete_target() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "big", 64 * MIB);
    let dir = tempfile::TempDir::new().unwrap();
    let (bpath, bname) = missing_server(&dir);
    let mut p = spawn_role("dup_copy_image", &[&srv.name, &bname, "big", "big-copy"]);
    p.expect("COPYING", Duration::from_secs(60));
    // kill once some of the bytes reached B's segments, long before all did
    let segs = bpath.join("segments");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if dir_bytes(&segs) >= 8 * MIB {
            break;
        }
        assert!(
            !p.transcript().contains("@@COPIED@@"),
            "the copy returned before 8 MiB reached {}\n{}",
            segs.display(),
            p.transcript()
        );
        assert!(
            Instant::now() < deadline,
            "no bytes reached {} within 60 s",
            segs.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    p.kill9();
    assert!(
        !p.transcript().contains("@@COPIED@@"),
        "the copy finished before the kill; cannot test the crash\n{}",
        p.transcript()
    );
    // B after recovery: nothing named like the target is complete
    let bh = must_open_server(&bname);
    let bl = lsu_t(bh.0, "default");
    let mut sizes = 0;
    let mut leftover = false;
    for (b, d) in list_images(&bl) {
        let name = String::from_utf8_lossy(&b).into_owned();
        let def = image_def_bytes(&b, &d);
        let info = must_prop_byname(&bl, &def);
        sizes += info.imo_size;
        if name.contains("big-copy") {
            assert_eq!(
                info.imo_flags & c::II_COMPLETE,
                0,
                "{name} is complete after its copier was killed ({})",
                flags_str(info.imo_flags)
            );
            assert!(
                try_open(&bl, &def, c::O_READ).is_err(),
                "{name} opens for reading"
            );
            leftover |= name == "big-copy" && d.is_empty();
        }
    }
    assert_eq!(
        stats(&bl).lsu_used,
        sizes,
        "B's lsu_used is the sum of its images' sizes"
    );
    // the source still verifies
    assert_complete_image(&srv.lsu(), &sdef, &sdata, "source after the killed copy");
    // and the copy can be done again (after removing what the crash left)
    let cdef = image_def("big-copy", "");
    if leftover {
        assert_rc!(
            api().delete_image(&bl, &cdef, 0),
            c::EOK,
            "delete the killed copy's leftover"
        );
    }
    let th = must_target(srv.sh, &bname);
    assert_rc!(
        copy_image_rc(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef),
        c::EOK,
        "copy again"
    );
    assert_complete_image(&bl, &cdef, &sdata, "copy redone after the crash");
}
