//! Events and asynchronous operations (stspi.h, "Events and asynchronous
//! operations"; seed 000, part III, slide 22): stsp_open_evchannel,
//! stsp_get_event, stsp_delete_event, stsp_close_evchannel,
//! stsp_async_copy_image, stsp_named_async_copy_image,
//! stsp_named_async_wait, stsp_named_async_cancel, stsp_label_lsu and the
//! asynchronous stsp_delete_image, with sts_event_t, STS_EVT_*,
//! STS_TIMEOUT_*, STS_ENOOP, STS_ECANCELED and STS_EOPFAILED of stsi.h.
//!
//! Events are stored rows of a server's catalog: every test uses its own
//! server, so the events a channel delivers are the test's own. Copies
//! raise STS_EVT_ASYNC_DONE on the server they copy to (the server whose
//! catalog holds the operation: stsp_named_async_wait takes "the server
//! the operation copies to"); a target handle cannot open a channel
//! (STS_EMODE), so cross-server tests read the target's events through an
//! ordinary handle on the target directory.
//!
//! Long-running operations copy BIG bytes between two servers: the source
//! is one PIECE of seeded bytes repeated with stsp_copy_extent (shared
//! extents, so it costs one PIECE to store), while the copy to another
//! server streams every byte.
//!
//! Not tested here: STS_EVT_LOW_SPACE. Its threshold is set by the
//! administrator's tool, not through the C API; a C harness scenario
//! covers it.

use crate::common::child::spawn_role;
use crate::common::*;
use std::ffi::{CString, c_int};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use sys::{
    sts_evchannel_handle_t, sts_event_t, sts_image_def_t, sts_image_handle_t, sts_lsu_info_t, sts_lsu_t,
    sts_server_handle_t,
};

const MIB: u64 = 1 << 20;
/// Size of the copies that must still be running when the test acts.
const BIG: u64 = 256 * MIB;
/// The seeded bytes BIG sources are made of.
const PIECE: u64 = 16 * MIB;
/// How long an operation may take to finish and report.
const OP_WAIT: Duration = Duration::from_secs(60);
const OP_WAIT_MS: u32 = 60_000;
/// How long to listen to be sure no event comes.
const QUIET_MS: u32 = 300;
/// op_id before a call: written only on STS_EOK.
const OP_ID_SENTINEL: u64 = 0xDEAD_BEEF_DEAD_BEEF;

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

fn must_open_server(name: &str) -> Sh {
    Sh(open_server(name).unwrap_or_else(|rc| panic!("stsp_open_server({name}) -> {}", code_name(rc))))
}

fn must_target(source: sts_server_handle_t, name: &str) -> Sh {
    Sh(open_target_server(source, name)
        .unwrap_or_else(|rc| panic!("stsp_open_target_server({name}) -> {}", code_name(rc))))
}

/// Another server's directory: created by the first open (its parent
/// exists), removed with the TempDir.
struct Remote {
    _dir: tempfile::TempDir,
    path: PathBuf,
    name: String,
}

fn remote() -> Remote {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let path = dir.path().join("b");
    let name = server_name_for(&path);
    Remote {
        _dir: dir,
        path,
        name,
    }
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

fn is_listed(lsu: &sts_lsu_t, name: &str) -> bool {
    list_basenames(lsu).iter().any(|n| n == name)
}

/// The image is complete, with exactly `size` bytes and SHA-1 `sha1`.
fn assert_complete(lsu: &sts_lsu_t, def: &sts_image_def_t, size: u64, sha1: &str, what: &str) {
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
    assert_eq!(info.imo_size, size, "{what}: imo_size");
    assert_eq!(cstr(&info.imo_sha1), sha1, "{what}: imo_sha1");
}

/// Complete, with exactly these bytes (read back).
fn assert_complete_bytes(lsu: &sts_lsu_t, def: &sts_image_def_t, want: &[u8], what: &str) {
    assert_complete(lsu, def, want.len() as u64, &sha1_hex(want), what);
    assert_bytes_eq(&read_image(lsu, def), want, what);
}

/// No image of that name exists any more.
fn assert_gone(lsu: &sts_lsu_t, def: &sts_image_def_t, what: &str) {
    let name = cstr(&def.img_basename);
    assert_eq!(
        prop_byname(lsu, def).map(|i| flags_str(i.imo_flags)),
        Err(c::ENOENT),
        "{what}: {name} still exists"
    );
    assert!(!is_listed(lsu, &name), "{what}: {name} still listed");
}

/// SHA-1 of an image's bytes, read back in 16 MiB calls.
fn sha1_of_image(lsu: &sts_lsu_t, def: &sts_image_def_t) -> (u64, String) {
    use sha1::Digest;
    let rh = open(lsu, def, c::O_READ);
    let mut h = sha1::Sha1::new();
    let mut off = 0u64;
    loop {
        let got = read_at(rh, PIECE, off).unwrap_or_else(|rc| panic!("read at {off}: {}", code_name(rc)));
        h.update(&got);
        off += got.len() as u64;
        if (got.len() as u64) < PIECE {
            break;
        }
    }
    close(rh, 0);
    (off, h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn piece() -> &'static [u8] {
    static P: OnceLock<Vec<u8>> = OnceLock::new();
    P.get_or_init(|| seeded(0xb16_b16, PIECE as usize))
}

/// SHA-1 of a BIG source: PIECE repeated.
fn big_sha1() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| {
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        for _ in 0..BIG / PIECE {
            h.update(piece());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// A complete BIG image made of one stored PIECE (plus the piece image
/// "<name>-piece"), checked to have the expected SHA-1.
fn big_source(lsu: &sts_lsu_t, name: &str) -> sts_image_def_t {
    let piece_def = image_def(&format!("{name}-piece"), "");
    store_complete(lsu, &piece_def, piece());
    let def = image_def(name, "");
    let rh = open(lsu, &piece_def, c::O_READ);
    let w = create(lsu, &def);
    for i in 0..BIG / PIECE {
        let mut n = 0u64;
        assert_rc!(
            api().copy_extent(rh, w, 0, 0, PIECE, c::CX_APPEND, &mut n),
            c::EOK,
            "build the big source: piece {i}"
        );
        assert_eq!(n, PIECE, "bytescopied");
    }
    close(rh, 0);
    close(w, c::CLOSE_COMPLETE);
    assert_complete(lsu, &def, BIG, big_sha1(), "big source");
    def
}

/// Bytes in the files under `dir`.
fn tree_bytes(dir: &Path) -> u64 {
    dir_tree(dir)
        .iter()
        .filter_map(|p| std::fs::metadata(dir.join(p)).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Wait until the files under `dir` hold `grow` bytes more than `base`
/// (a copy to that server is under way), while `still_running` holds.
fn wait_for_progress(dir: &Path, base: u64, grow: u64, still_running: impl Fn() -> bool) {
    let deadline = Instant::now() + OP_WAIT;
    while tree_bytes(dir) < base + grow {
        assert!(
            still_running(),
            "the copy finished before {grow} bytes reached {}: cannot act on it in flight",
            dir.display()
        );
        assert!(
            Instant::now() < deadline,
            "no {grow} bytes reached {} within {OP_WAIT:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn label(lsu: &sts_lsu_t, text: &str) -> i32 {
    let s = cstring(text);
    api().label_lsu(lsu, s.as_ptr())
}

fn must_label(lsu: &sts_lsu_t, text: &str) {
    assert_rc!(label(lsu, text), c::EOK, "stsp_label_lsu({text:?})");
}

fn label_of(lsu: &sts_lsu_t) -> String {
    cstr(&stats(lsu).lsu_label)
}

/// No event arrives on the channel within `ms`.
fn assert_quiet(evc: &Evc, ms: u32, what: &str) {
    match evc.get(ms) {
        Err(rc) if rc == c::ENO_MORE => {}
        Ok(e) => panic!("{what}: unexpected event {}", ev_str(&e)),
        Err(rc) => panic!("{what}: stsp_get_event -> {}", code_name(rc)),
    }
}

fn is_label(e: &sts_event_t, text: &str) -> bool {
    e.ev_type == c::EVT_LABEL && cstr(&e.ev_text) == text
}

fn is_done_of_op(e: &sts_event_t, op_id: u64) -> bool {
    e.ev_type == c::EVT_ASYNC_DONE && e.ev_op_id == op_id
}

fn is_done_of_named(e: &sts_event_t, name: &str) -> bool {
    e.ev_type == c::EVT_ASYNC_DONE && cstr(&e.ev_op_name) == name
}

/// stsp_async_copy_image(.., flags 0, &op_id): Ok(op_id) or Err(code) with
/// op_id untouched.
fn async_copy(
    to_lsu: &sts_lsu_t,
    to_def: &sts_image_def_t,
    from_lsu: &sts_lsu_t,
    from_def: &sts_image_def_t,
) -> Result<u64, i32> {
    let mut id = OP_ID_SENTINEL;
    match api().async_copy_image(to_lsu, to_def, from_lsu, from_def, 0, &mut id) {
        0 => Ok(id),
        rc => {
            assert_eq!(id, OP_ID_SENTINEL, "op_id written on {}", code_name(rc));
            Err(rc)
        }
    }
}

/// An STS_EVT_ASYNC_DONE event names the target and reports success and
/// its size.
fn assert_done_ok(e: &sts_event_t, to_def: &sts_image_def_t, size: u64, what: &str) {
    let s = ev_str(e);
    assert_eq!(e.ev_type, c::EVT_ASYNC_DONE, "{what}: {s}");
    assert_eq!(e.ev_status, c::EOK, "{what}: ev_status: {s}");
    assert_eq!(cstr(&e.ev_lsu.sln_name), "default", "{what}: ev_lsu: {s}");
    assert_eq!(
        cbytes(&e.ev_image.img_basename),
        cbytes(&to_def.img_basename),
        "{what}: ev_image basename: {s}"
    );
    assert_eq!(
        cbytes(&e.ev_image.img_date),
        cbytes(&to_def.img_date),
        "{what}: ev_image date: {s}"
    );
    assert_eq!(e.ev_bytes, size, "{what}: ev_bytes: {s}");
}

/// ev_time_ms is between `before` and `after` (ms since the epoch), give
/// or take a second of clock granularity.
fn assert_time_between(e: &sts_event_t, before: u64, after: u64, what: &str) {
    assert!(
        e.ev_time_ms + 1000 >= before && e.ev_time_ms <= after + 1000,
        "{what}: ev_time_ms {} not within [{before}, {after}]",
        e.ev_time_ms
    );
}

/// Bad names for operations (and their reasons).
fn bad_op_names() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", b"".to_vec()),
        ("slash", b"a/b".to_vec()),
        ("backslash", b"a\\b".to_vec()),
        ("dot-dot", b"..".to_vec()),
        ("dot-dot inside", b"v1..2".to_vec()),
        ("dot", b".".to_vec()),
        ("control character", b"tab\there".to_vec()),
        ("newline", b"line\n".to_vec()),
        ("invalid UTF-8", vec![b'o', 0xff, 0xfe, b'p']),
        ("STS_MAX_OPNAME bytes", vec![b'o'; c::MAX_OPNAME]),
        ("far too long", vec![b'o'; 4 * c::MAX_OPNAME]),
    ]
}

// ---------------------------------------------------------------------------
// Server properties
// ---------------------------------------------------------------------------

#[test]
fn server_advertises_events_and_asynchronous_operations() {
    let srv = Server::new();
    let info = server_info(srv.sh).unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    for (name, bit) in [
        ("STS_CAP_ASYNC_COPY_IMAGE", c::CAP_ASYNC_COPY_IMAGE),
        ("STS_CAP_NAMED_ASYNC_COPY_IMAGE", c::CAP_NAMED_ASYNC_COPY_IMAGE),
        ("STS_CAP_NAMED_ASYNC_WAIT", c::CAP_NAMED_ASYNC_WAIT),
        ("STS_CAP_NAMED_ASYNC_CANCEL", c::CAP_NAMED_ASYNC_CANCEL),
        ("STS_CAP_EVCHANNEL", c::CAP_EVCHANNEL),
        ("STS_CAP_LABEL_LSU", c::CAP_LABEL_LSU),
    ] {
        assert!(
            cap_isset(&info.srv_cap, bit),
            "{name} (bit {bit}) not set: srv_cap {:08x?}",
            info.srv_cap
        );
    }
    assert_ne!(
        info.srv_flags & c::SRV_EVENTS,
        0,
        "STS_SRV_EVENTS not set: srv_flags 0x{:x}",
        info.srv_flags
    );
    let by = server_info_byname(&srv.name).unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert_eq!(by.srv_cap, info.srv_cap, "srv_cap by name");
    assert_eq!(by.srv_flags, info.srv_flags, "srv_flags by name");
}

// ---------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------

#[test]
fn event_stored_before_a_channel_opens_is_delivered() {
    let srv = Server::new();
    let before = now_ms();
    must_label(&srv.lsu(), "stored first");
    let after = now_ms();
    let evc = Evc::open(srv.sh);
    let e = evc
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("the stored event is not delivered: {}", code_name(rc)));
    assert!(is_label(&e, "stored first"), "{}", ev_str(&e));
    assert_eq!(cstr(&e.ev_lsu.sln_name), "default", "ev_lsu: {}", ev_str(&e));
    assert_eq!(e.ev_status, c::EOK, "ev_status: {}", ev_str(&e));
    assert_time_between(&e, before, after, "label event");
    assert_quiet(&evc, c::TIMEOUT_NONE, "after the only event");
}

#[test]
fn events_come_oldest_first_and_each_channel_keeps_its_own_position() {
    let srv = Server::new();
    let a = Evc::open(srv.sh);
    must_label(&srv.lsu(), "one");
    must_label(&srv.lsu(), "two");
    let first = a
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert!(is_label(&first, "one"), "oldest first: {}", ev_str(&first));
    // a channel opened now (on another handle) starts at the oldest stored event
    let h2 = srv.another_handle();
    let h2 = Sh(h2);
    let b = Evc::open(h2.0);
    must_label(&srv.lsu(), "three");
    let got_a: Vec<sts_event_t> = a.drain();
    let got_b: Vec<sts_event_t> = b.drain();
    let texts = |v: &[sts_event_t]| v.iter().map(|e| cstr(&e.ev_text)).collect::<Vec<_>>();
    assert_eq!(texts(&got_a), ["two", "three"], "channel A after reading one");
    assert_eq!(texts(&got_b), ["one", "two", "three"], "channel B from the start");
    // the same events: the same ids; unique ids
    assert_eq!(got_b[0].ev_id, first.ev_id, "ids differ between channels");
    assert_eq!(got_b[1].ev_id, got_a[0].ev_id, "ids differ between channels");
    assert_eq!(got_b[2].ev_id, got_a[1].ev_id, "ids differ between channels");
    let mut ids: Vec<u64> = got_b.iter().map(|e| e.ev_id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "event ids are not unique: {ids:?}");
}

#[test]
fn two_channels_each_see_the_same_event() {
    let srv = Server::new();
    let a = Evc::open(srv.sh);
    let b = Evc::open(srv.sh);
    assert_ne!(a.0, b.0, "two channels share a handle value");
    must_label(&srv.lsu(), "seen twice");
    let ea = a
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("channel A: {}", code_name(rc)));
    let eb = b
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("channel B: {}", code_name(rc)));
    assert!(is_label(&ea, "seen twice"), "A: {}", ev_str(&ea));
    assert!(is_label(&eb, "seen twice"), "B: {}", ev_str(&eb));
    assert_eq!(ea.ev_id, eb.ev_id, "one event, two ids");
    assert_quiet(&a, c::TIMEOUT_NONE, "A after the event");
    assert_quiet(&b, c::TIMEOUT_NONE, "B after the event");
}

#[test]
fn get_event_with_timeout_none_and_nothing_pending_is_eno_more_at_once() {
    let srv = Server::new();
    let evc = Evc::open(srv.sh);
    let t = Instant::now();
    assert_eq!(evc.get(c::TIMEOUT_NONE).map(|e| ev_str(&e)), Err(c::ENO_MORE));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "STS_TIMEOUT_NONE waited {:?}",
        t.elapsed()
    );
    // and again after the channel has delivered everything there was
    must_label(&srv.lsu(), "x");
    assert!(evc.get(c::TIMEOUT_NONE).is_ok(), "the label event");
    let t = Instant::now();
    assert_eq!(evc.get(c::TIMEOUT_NONE).map(|e| ev_str(&e)), Err(c::ENO_MORE));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "STS_TIMEOUT_NONE waited {:?}",
        t.elapsed()
    );
}

#[test]
fn get_event_with_a_timeout_waits_about_that_long_then_eno_more() {
    let srv = Server::new();
    let evc = Evc::open(srv.sh);
    let t = Instant::now();
    assert_eq!(evc.get(200).map(|e| ev_str(&e)), Err(c::ENO_MORE));
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(150),
        "a 200 ms timeout returned after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "a 200 ms timeout took {waited:?}"
    );
}

#[test]
fn event_raised_by_another_thread_during_a_wait_is_delivered_before_the_timeout() {
    let srv = Server::new();
    let evc = Evc::open(srv.sh);
    let lsu = Shared(srv.lsu());
    let t = Instant::now();
    let raiser = std::thread::spawn(move || {
        let lsu = lsu;
        std::thread::sleep(Duration::from_millis(300));
        must_label(&lsu.0, "while waiting");
    });
    let e = evc
        .get(20_000)
        .unwrap_or_else(|rc| panic!("get_event(20 s) while another thread raises: {}", code_name(rc)));
    let waited = t.elapsed();
    raiser.join().unwrap();
    assert!(is_label(&e, "while waiting"), "{}", ev_str(&e));
    assert!(
        waited >= Duration::from_millis(250),
        "delivered after {waited:?}, before it was raised"
    );
    assert!(
        waited < Duration::from_secs(10),
        "delivered only after {waited:?} (raised at 300 ms)"
    );
}

#[test]
fn get_event_with_infinite_timeout_returns_when_an_event_arrives() {
    let srv = Server::new();
    let ch = Evc::open(srv.sh);
    let evc = Shared(ch.0);
    std::mem::forget(ch); // closed below, after the waiting thread is done
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let evc = evc;
        let r = get_event(evc.0, c::TIMEOUT_INFINITE);
        let _ = tx.send(r.map(|e| (e.ev_type, cstr(&e.ev_text))));
    });
    std::thread::sleep(Duration::from_millis(200));
    must_label(&srv.lsu(), "forever");
    let got = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("STS_TIMEOUT_INFINITE: not woken 20 s after the event");
    assert_eq!(got, Ok((c::EVT_LABEL, "forever".to_string())));
    assert_rc!(api().close_evchannel(evc.0), c::EOK);
}

#[test]
fn delete_event_removes_it_for_every_channel() {
    let srv = Server::new();
    let h2 = Sh(srv.another_handle());
    let a = Evc::open(srv.sh);
    let b = Evc::open(h2.0);
    must_label(&srv.lsu(), "ack me");
    must_label(&srv.lsu(), "keep me");
    let e = a
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert!(is_label(&e, "ack me"), "{}", ev_str(&e));
    assert_rc!(api().delete_event(a.0, e.ev_id), c::EOK, "stsp_delete_event");
    // B had not read it: it skips it now
    let texts = |v: Vec<sts_event_t>| v.iter().map(|e| cstr(&e.ev_text)).collect::<Vec<_>>();
    assert_eq!(texts(b.drain()), ["keep me"], "channel B after the delete");
    // a new channel never sees it
    let c2 = Evc::open(srv.sh);
    assert_eq!(texts(c2.drain()), ["keep me"], "a new channel after the delete");
    assert_eq!(texts(a.drain()), ["keep me"], "channel A after the delete");
    // nor after the server is reopened (the delete is stored)
    drop((a, b, c2));
    drop(h2);
    let mut srv = srv;
    srv.reopen();
    assert_eq!(
        texts(Evc::open(srv.sh).drain()),
        ["keep me"],
        "after close and reopen"
    );
}

#[test]
fn delete_of_an_unknown_or_already_deleted_event_is_enoent() {
    let srv = Server::new();
    let evc = Evc::open(srv.sh);
    must_label(&srv.lsu(), "first");
    must_label(&srv.lsu(), "second");
    let e = evc
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert_rc!(api().delete_event(evc.0, e.ev_id), c::EOK);
    assert_rc!(api().delete_event(evc.0, e.ev_id), c::ENOENT, "second delete");
    for id in [e.ev_id.wrapping_add(1_000_000), u64::MAX, u64::MAX / 3] {
        assert_rc!(api().delete_event(evc.0, id), c::ENOENT, "unknown id {id}");
    }
    // the other event is still there for every channel
    let fresh = Evc::open(srv.sh);
    let left = fresh.drain();
    assert_eq!(left.len(), 1, "{:?}", left.iter().map(ev_str).collect::<Vec<_>>());
    assert!(is_label(&left[0], "second"), "{}", ev_str(&left[0]));
}

#[test]
fn closed_unknown_or_wrong_kind_channel_is_ehandle() {
    let srv = Server::new();
    let a = api();
    must_label(&srv.lsu(), "pending");
    let evc = Evc::open(srv.sh);
    let h = evc.0;
    assert_rc!(a.close_evchannel(h), c::EOK, "close");
    std::mem::forget(evc);
    let ih: sts_image_handle_t = create(&srv.lsu(), &image_def("img", ""));
    for (what, bad) in [
        ("closed channel", h),
        ("fabricated handle", bogus::<sys::sts_evchannel_s>(0x5eed_0e01)),
        ("server handle", srv.sh.cast()),
        ("image handle", ih.cast()),
    ] {
        assert_eq!(
            get_event(bad, c::TIMEOUT_NONE).map(|e| ev_str(&e)),
            Err(c::EHANDLE),
            "get_event({what})"
        );
        assert_eq!(
            get_event(bad, 50).map(|e| ev_str(&e)),
            Err(c::EHANDLE),
            "get_event({what}, 50 ms)"
        );
        assert_rc!(a.delete_event(bad, 1), c::EHANDLE, "delete_event({what})");
        assert_rc!(a.close_evchannel(bad), c::EHANDLE, "close_evchannel({what})");
    }
    // the handles of the other kinds are still good
    close(ih, c::CLOSE_COMPLETE);
    assert!(
        server_info(srv.sh).is_ok(),
        "the server handle passed as a channel was closed"
    );
    // the stored event was not deleted by any of this
    let fresh = Evc::open(srv.sh);
    let e = fresh
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert!(is_label(&e, "pending"), "{}", ev_str(&e));
}

#[test]
fn channel_closed_with_its_server_handle_is_ehandle() {
    let srv = Server::new();
    let h2 = srv.another_handle();
    let evc = Evc::open(h2);
    must_label(&srv.lsu(), "x");
    assert_rc!(api().close_server(h2), c::EOK);
    assert_eq!(
        evc.get(c::TIMEOUT_NONE).map(|e| ev_str(&e)),
        Err(c::EHANDLE),
        "get_event on a channel of a closed server handle"
    );
    assert_rc!(api().delete_event(evc.0, 1), c::EHANDLE);
    assert_rc!(api().close_evchannel(evc.0), c::EHANDLE);
    std::mem::forget(evc);
}

#[test]
fn null_pointers_are_enull_and_change_nothing() {
    let srv = Server::new();
    let a = api();
    assert_rc!(
        a.open_evchannel(srv.sh, ptr::null_mut()),
        c::ENULL,
        "open_evchannel(sh, NULL)"
    );
    let mut evc: sts_evchannel_handle_t = bogus(0x5151);
    assert_rc!(
        a.open_evchannel(ptr::null_mut(), &mut evc),
        c::ENULL,
        "open_evchannel(NULL, &evc)"
    );
    assert_eq!(evc, bogus(0x5151), "open_evchannel wrote evc on ENULL");
    let ch = Evc::open(srv.sh);
    must_label(&srv.lsu(), "not consumed");
    assert_rc!(
        a.get_event(ch.0, c::TIMEOUT_NONE, ptr::null_mut()),
        c::ENULL,
        "get_event(evc, NONE, NULL)"
    );
    assert_rc!(
        a.get_event(ch.0, 100, ptr::null_mut()),
        c::ENULL,
        "get_event(evc, 100, NULL)"
    );
    assert_eq!(
        get_event(ptr::null_mut(), c::TIMEOUT_NONE).map(|e| ev_str(&e)),
        Err(c::ENULL),
        "get_event(NULL, ..)"
    );
    assert_rc!(
        a.delete_event(ptr::null_mut(), 1),
        c::ENULL,
        "delete_event(NULL, ..)"
    );
    assert_rc!(
        a.close_evchannel(ptr::null_mut()),
        c::ENULL,
        "close_evchannel(NULL)"
    );
    // nothing changed: the event is still the channel's next
    let e = ch
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("the event after ENULL calls: {}", code_name(rc)));
    assert!(is_label(&e, "not consumed"), "{}", ev_str(&e));
}

#[test]
fn open_evchannel_on_a_target_or_closed_handle_is_refused() {
    let srv = Server::new();
    let r = remote();
    let a = api();
    for (what, tname) in [
        ("another directory", r.name.clone()),
        ("the same directory", srv.name.clone()),
    ] {
        let th = must_target(srv.sh, &tname);
        let mut evc: sts_evchannel_handle_t = bogus(0x5152);
        assert_rc!(
            a.open_evchannel(th.0, &mut evc),
            c::EMODE,
            "open_evchannel(target handle on {what})"
        );
        assert_eq!(evc, bogus(0x5152), "open_evchannel wrote evc on EMODE");
    }
    let h2 = srv.another_handle();
    assert_rc!(a.close_server(h2), c::EOK);
    let mut evc: sts_evchannel_handle_t = bogus(0x5153);
    assert_rc!(
        a.open_evchannel(h2, &mut evc),
        c::EHANDLE,
        "open_evchannel(closed handle)"
    );
    assert_eq!(evc, bogus(0x5153), "open_evchannel wrote evc on EHANDLE");
    assert_rc!(
        a.open_evchannel(bogus(0x5eed_0e02), &mut evc),
        c::EHANDLE,
        "open_evchannel(fabricated handle)"
    );
}

#[test]
fn events_are_visible_to_another_process() {
    let srv = Server::new();
    must_label(&srv.lsu(), "from the parent");
    let mine = Evc::open(srv.sh)
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    let mut p = spawn_role("ev_reader", &[&srv.name]);
    let n = p.expect("DRAINED", Duration::from_secs(60));
    let t = p.transcript();
    assert_eq!(n, "1", "the child sees {n} stored events\n{t}");
    assert!(
        t.contains(&format!("@@EVENT@@ {}", ev_str(&mine))),
        "the child does not see the parent's event as the parent does ({})\n{t}",
        ev_str(&mine)
    );
    // an event raised while the child waits reaches it too
    p.send("WAIT");
    std::thread::sleep(Duration::from_millis(200));
    must_label(&srv.lsu(), "live from the parent");
    let live = p.expect("LIVE", Duration::from_secs(60));
    assert!(
        live.contains("type=STS_EVT_LABEL (3)") && live.contains("text=\"live from the parent\""),
        "the child's get_event(10 s) while the parent raises: {live}"
    );
    p.wait_success(Duration::from_secs(60));
}

#[test]
fn events_survive_close_server_and_reopen() {
    let mut srv = Server::new();
    must_label(&srv.lsu(), "durable");
    let id = Evc::open(srv.sh)
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("{}", code_name(rc)))
        .ev_id;
    srv.reopen();
    let evc = Evc::open(srv.sh);
    let e = evc
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("the event after reopen: {}", code_name(rc)));
    assert!(is_label(&e, "durable"), "{}", ev_str(&e));
    assert_eq!(e.ev_id, id, "the event's id changed across reopen");
    assert_rc!(api().delete_event(evc.0, id), c::EOK, "delete after reopen");
}

// ---------------------------------------------------------------------------
// stsp_label_lsu
// ---------------------------------------------------------------------------

#[test]
fn label_is_readable_in_the_lsu_properties() {
    let mut srv = Server::new();
    let text = "Weekly fulls, site B \u{e9}";
    must_label(&srv.lsu(), text);
    assert_eq!(label_of(&srv.lsu()), text, "lsu_label");
    // seen through another handle, and a new label replaces it
    let h2 = Sh(srv.another_handle());
    assert_eq!(
        label_of(&lsu_t(h2.0, "default")),
        text,
        "lsu_label via another handle"
    );
    let longest = "L".repeat(c::MAX_LABEL - 1);
    must_label(&srv.lsu(), &longest);
    assert_eq!(label_of(&lsu_t(h2.0, "default")), longest, "longest label");
    drop(h2);
    srv.reopen();
    assert_eq!(label_of(&srv.lsu()), longest, "lsu_label after reopen");
    // an empty label (no byte breaks the rules) clears it
    must_label(&srv.lsu(), "");
    assert_eq!(label_of(&srv.lsu()), "", "lsu_label after an empty label");
}

#[test]
fn label_raises_an_evt_label_event() {
    let srv = Server::new();
    let evc = Evc::open(srv.sh);
    let before = now_ms();
    must_label(&srv.lsu(), "Monthly");
    let after = now_ms();
    let (e, skipped) = evc.wait_for(Duration::from_secs(10), "STS_EVT_LABEL", |e| {
        e.ev_type == c::EVT_LABEL
    });
    assert!(
        skipped.is_empty(),
        "other events first: {:?}",
        skipped.iter().map(ev_str).collect::<Vec<_>>()
    );
    assert_eq!(cstr(&e.ev_lsu.sln_name), "default", "ev_lsu: {}", ev_str(&e));
    assert_eq!(cstr(&e.ev_text), "Monthly", "ev_text: {}", ev_str(&e));
    assert_eq!(e.ev_status, c::EOK, "ev_status: {}", ev_str(&e));
    assert_time_between(&e, before, after, "label event");
    // one event per call
    must_label(&srv.lsu(), "Monthly");
    let next = evc
        .get(c::TIMEOUT_NONE)
        .unwrap_or_else(|rc| panic!("second label: {}", code_name(rc)));
    assert!(is_label(&next, "Monthly"), "{}", ev_str(&next));
    assert_ne!(next.ev_id, e.ev_id, "two label calls, one event id");
    assert_quiet(&evc, c::TIMEOUT_NONE, "after two labels");
}

#[test]
fn bad_labels_are_ename_and_change_nothing() {
    let srv = Server::new();
    must_label(&srv.lsu(), "good");
    let evc = Evc::open(srv.sh);
    evc.drain();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("SOH", b"a\x01b".to_vec()),
        ("newline", b"two\nlines".to_vec()),
        ("tab", b"tab\there".to_vec()),
        ("escape", b"\x1b[31mred".to_vec()),
        ("DEL", b"del\x7f".to_vec()),
        ("STS_MAX_LABEL bytes", vec![b'L'; c::MAX_LABEL]),
        ("far too long", vec![b'L'; 10 * c::MAX_LABEL]),
    ];
    // no NUL within the first STS_MAX_LABEL bytes (one further on, so a
    // plugin that looks further still stops)
    let mut unterminated = vec![b'U'; c::MAX_LABEL];
    unterminated.extend_from_slice(b"tail");
    cases.push(("unterminated within STS_MAX_LABEL", unterminated));
    for (what, bytes) in cases {
        let s = CString::new(bytes).unwrap();
        assert_rc!(api().label_lsu(&srv.lsu(), s.as_ptr()), c::ENAME, "label: {what}");
        assert_eq!(
            label_of(&srv.lsu()),
            "good",
            "label changed by a refused call ({what})"
        );
    }
    assert_quiet(&evc, QUIET_MS, "refused labels");
}

#[test]
fn label_of_an_unknown_lsu_is_enolsu_and_a_bad_lsu_name_ename() {
    let srv = Server::new();
    let evc = Evc::open(srv.sh);
    assert_rc!(label(&srv.lsu_named("nosuch"), "x"), c::ENOLSU, "unknown LSU");
    let mut bad = srv.lsu();
    set_cstr(&mut bad.sl_lsu_name.sln_name, b"a/b");
    assert_rc!(label(&bad, "x"), c::ENAME, "LSU name with '/'");
    fill_unterminated(&mut bad.sl_lsu_name.sln_name, b'n');
    assert_rc!(label(&bad, "x"), c::ENAME, "unterminated LSU name");
    assert_eq!(label_of(&srv.lsu()), "", "the default LSU got a label");
    assert_quiet(&evc, QUIET_MS, "refused labels");
}

#[test]
fn label_through_a_target_handle_is_emode() {
    let srv = Server::new();
    let r = remote();
    let evc = Evc::open(srv.sh);
    for (what, tname) in [
        ("another directory", r.name.clone()),
        ("the same directory", srv.name.clone()),
    ] {
        let th = must_target(srv.sh, &tname);
        assert_rc!(
            label(&lsu_t(th.0, "default"), "via target"),
            c::EMODE,
            "label through a target handle on {what}"
        );
    }
    assert_eq!(label_of(&srv.lsu()), "", "source LSU labelled");
    let bh = must_open_server(&r.name);
    assert_eq!(label_of(&lsu_t(bh.0, "default")), "", "target LSU labelled");
    assert_quiet(&evc, QUIET_MS, "refused labels (source server)");
    assert_quiet(
        &Evc::open(bh.0),
        c::TIMEOUT_NONE,
        "refused labels (target server)",
    );
}

#[test]
fn label_null_or_closed_arguments_are_refused() {
    let srv = Server::new();
    let a = api();
    let text = cstring("x");
    assert_rc!(a.label_lsu(ptr::null(), text.as_ptr()), c::ENULL, "NULL lsu");
    assert_rc!(a.label_lsu(&srv.lsu(), ptr::null()), c::ENULL, "NULL label");
    assert_rc!(
        a.label_lsu(&lsu_t(ptr::null_mut(), "default"), text.as_ptr()),
        c::ENULL,
        "NULL server handle"
    );
    let h2 = srv.another_handle();
    assert_rc!(a.close_server(h2), c::EOK);
    assert_rc!(
        a.label_lsu(&lsu_t(h2, "default"), text.as_ptr()),
        c::EHANDLE,
        "closed server handle"
    );
    assert_rc!(
        a.label_lsu(&lsu_t(bogus(0x5eed_0e03), "default"), text.as_ptr()),
        c::EHANDLE,
        "fabricated server handle"
    );
    assert_eq!(label_of(&srv.lsu()), "");
    assert_quiet(&Evc::open(srv.sh), c::TIMEOUT_NONE, "refused labels");
}

// ---------------------------------------------------------------------------
// stsp_async_copy_image
// ---------------------------------------------------------------------------

#[test]
fn async_copy_on_one_server_raises_async_done_and_the_copy_verifies() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 3 * MIB + 5 * c::BLOCK);
    let evc = Evc::open(srv.sh);
    let cdef = image_def("copy", "20250101");
    let id = async_copy(&srv.lsu(), &cdef, &srv.lsu(), &sdef)
        .unwrap_or_else(|rc| panic!("stsp_async_copy_image -> {}", code_name(rc)));
    assert_ne!(id, OP_ID_SENTINEL, "op_id not written");
    let (e, _) = evc.wait_for(OP_WAIT, &format!("ASYNC_DONE of op {id}"), |e| {
        is_done_of_op(e, id)
    });
    assert_done_ok(&e, &cdef, sdata.len() as u64, "async copy on one server");
    assert_eq!(cstr(&e.ev_op_name), "", "an unnamed operation's ev_op_name");
    assert_complete_bytes(&srv.lsu(), &cdef, &sdata, "async copy");
    assert_complete_bytes(&srv.lsu(), &sdef, &sdata, "source");
    // exactly one event for the operation
    let dups: Vec<String> = evc
        .drain()
        .iter()
        .filter(|e| is_done_of_op(e, id))
        .map(ev_str)
        .collect();
    assert!(dups.is_empty(), "more than one ASYNC_DONE for op {id}: {dups:#?}");
}

#[test]
fn async_copy_across_servers_through_a_target_handle_raises_async_done_on_the_target() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 4 * MIB + 3 * c::BLOCK);
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let cdef = image_def("copy", "");
    let id = async_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef)
        .unwrap_or_else(|rc| panic!("stsp_async_copy_image -> {}", code_name(rc)));
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    let evc = Evc::open(bh.0);
    let (e, _) = evc.wait_for(
        OP_WAIT,
        &format!("ASYNC_DONE of op {id} on the target server"),
        |e| is_done_of_op(e, id),
    );
    assert_done_ok(&e, &cdef, sdata.len() as u64, "async copy across servers");
    assert_complete_bytes(&bl, &cdef, &sdata, "copy on the target server");
    assert_eq!(
        cstr(&must_prop_byname(&bl, &cdef).imo_sha1),
        cstr(&must_prop_byname(&srv.lsu(), &sdef).imo_sha1),
        "the copy's SHA-1 is the source's"
    );
    assert_complete_bytes(&srv.lsu(), &sdef, &sdata, "source");
}

#[test]
fn async_copy_to_another_server_through_an_ordinary_handle() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 2 * MIB);
    let r = remote();
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    let evc = Evc::open(bh.0);
    let cdef = image_def("copy", "x");
    let id = async_copy(&bl, &cdef, &srv.lsu(), &sdef)
        .unwrap_or_else(|rc| panic!("async copy -> {}", code_name(rc)));
    let (e, _) = evc.wait_for(OP_WAIT, &format!("ASYNC_DONE of op {id}"), |e| {
        is_done_of_op(e, id)
    });
    assert_done_ok(&e, &cdef, sdata.len() as u64, "async copy via an ordinary handle");
    assert_complete_bytes(&bl, &cdef, &sdata, "copy");
}

#[test]
fn async_copy_returns_before_a_large_copy_finishes() {
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let cdef = image_def("big-copy", "");
    let t0 = Instant::now();
    let id = async_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef)
        .unwrap_or_else(|rc| panic!("async copy -> {}", code_name(rc)));
    let returned = t0.elapsed();
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    let evc = Evc::open(bh.0);
    let (e, _) = evc.wait_for(OP_WAIT, &format!("ASYNC_DONE of op {id}"), |e| {
        is_done_of_op(e, id)
    });
    let done = t0.elapsed();
    assert!(
        returned * 2 < done,
        "stsp_async_copy_image took {returned:?} of a {done:?} copy: it does not return at once"
    );
    assert_done_ok(&e, &cdef, BIG, "large async copy");
    assert_complete(&bl, &cdef, BIG, big_sha1(), "large async copy");
}

#[test]
fn several_async_copies_in_flight_get_distinct_ids_and_all_complete() {
    let srv = Server::new();
    let evc = Evc::open(srv.sh);
    let mut ops = Vec::new();
    for i in 0..6 {
        let (sdef, sdata) = stored(&srv.lsu(), &format!("src-{i}"), (i + 1) * MIB / 2);
        let cdef = image_def(&format!("copy-{i}"), "");
        let id = async_copy(&srv.lsu(), &cdef, &srv.lsu(), &sdef)
            .unwrap_or_else(|rc| panic!("async copy {i} -> {}", code_name(rc)));
        ops.push((id, cdef, sdata));
    }
    let mut ids: Vec<u64> = ops.iter().map(|o| o.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ops.len(), "op ids are not unique: {ids:?}");
    let mut seen = std::collections::BTreeMap::new();
    let deadline = Instant::now() + OP_WAIT;
    while seen.len() < ops.len() {
        assert!(
            Instant::now() < deadline,
            "ASYNC_DONE only for ops {:?}",
            seen.keys()
        );
        match evc.get(1000) {
            Ok(e) if e.ev_type == c::EVT_ASYNC_DONE => {
                assert!(
                    seen.insert(e.ev_op_id, e).is_none(),
                    "two ASYNC_DONE events for op {}",
                    e.ev_op_id
                );
            }
            Ok(_) => {}
            Err(rc) if rc == c::ENO_MORE => {}
            Err(rc) => panic!("get_event -> {}", code_name(rc)),
        }
    }
    for (id, cdef, sdata) in &ops {
        let e = seen
            .get(id)
            .unwrap_or_else(|| panic!("no ASYNC_DONE for op {id}; got {:?}", seen.keys()));
        assert_done_ok(e, cdef, sdata.len() as u64, &format!("op {id}"));
        assert_complete_bytes(&srv.lsu(), cdef, sdata, &cstr(&cdef.img_basename));
    }
}

#[test]
fn async_copy_argument_errors_are_synchronous_with_no_event_and_no_copy() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, sdata) = stored(&lsu, "src", MIB);
    let (edef, edata) = stored(&lsu, "exists", 64 * 1024);
    let pdef = image_def("pending", "");
    let w = create(&lsu, &pdef);
    write_all(w, &seeded(3, 8192), 0);
    close(w, c::CLOSE_INCOMPLETE);
    let busy = image_def("busy", "");
    let bw = create(&lsu, &busy);
    write_all(bw, &seeded(4, 4096), 0);
    let evc = Evc::open(srv.sh);
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let tl = lsu_t(th.0, "default");
    let new = image_def("new", "");
    let mut bad_name = image_def("x", "");
    set_cstr(&mut bad_name.img_basename, b"a/b");
    let mut flagged = image_def("src", "");
    flagged.img_flags = 1;
    for (what, to_lsu, to_def, from_lsu, from_def, want) in [
        ("existing target", lsu, edef, lsu, sdef, c::EEXIST),
        (
            "missing source",
            lsu,
            new,
            lsu,
            image_def("nosuch", ""),
            c::ENOENT,
        ),
        (
            "missing source, target server",
            tl,
            new,
            lsu,
            image_def("nosuch", ""),
            c::ENOENT,
        ),
        ("pending source", lsu, new, lsu, pdef, c::ENOTCOMPLETE),
        ("source open for writing", lsu, new, lsu, busy, c::ENOTCOMPLETE),
        (
            "pending source, target server",
            tl,
            new,
            lsu,
            pdef,
            c::ENOTCOMPLETE,
        ),
        (
            "unknown target LSU",
            srv.lsu_named("nosuch"),
            new,
            lsu,
            sdef,
            c::ENOLSU,
        ),
        (
            "unknown source LSU",
            lsu,
            new,
            srv.lsu_named("nosuch"),
            sdef,
            c::ENOLSU,
        ),
        ("bad target name", lsu, bad_name, lsu, sdef, c::ENAME),
        ("bad source name", lsu, new, lsu, bad_name, c::ENAME),
        ("img_flags on the source", lsu, new, lsu, flagged, c::EINVAL),
        ("source on a target handle", lsu, new, tl, sdef, c::EMODE),
    ] {
        assert_eq!(
            async_copy(&to_lsu, &to_def, &from_lsu, &from_def),
            Err(want),
            "stsp_async_copy_image: {what}"
        );
    }
    let mut id = OP_ID_SENTINEL;
    assert_rc!(
        api().async_copy_image(&lsu, &new, &lsu, &sdef, 1, &mut id),
        c::EINVAL,
        "flags 1"
    );
    assert_eq!(id, OP_ID_SENTINEL, "op_id written on EINVAL");
    // no event, no copy, and the images are as they were
    assert_quiet(&evc, QUIET_MS, "refused async copies");
    assert!(!is_listed(&lsu, "new"), "a refused copy created its target");
    let bh = must_open_server(&r.name);
    assert!(
        list_images(&lsu_t(bh.0, "default")).is_empty(),
        "a refused copy wrote to the target server"
    );
    assert_quiet(&Evc::open(bh.0), QUIET_MS, "refused async copies (target server)");
    assert_complete_bytes(&lsu, &edef, &edata, "existing target");
    assert_complete_bytes(&lsu, &sdef, &sdata, "source");
    close(bw, c::CLOSE_COMPLETE);
}

#[test]
fn async_copy_null_or_closed_arguments_are_refused() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, _) = stored(&lsu, "src", 64 * 1024);
    let new = image_def("new", "");
    let evc = Evc::open(srv.sh);
    let a = api();
    let mut id = OP_ID_SENTINEL;
    assert_rc!(
        a.async_copy_image(&lsu, &new, &lsu, &sdef, 0, ptr::null_mut()),
        c::ENULL,
        "NULL op_id"
    );
    assert_rc!(
        a.async_copy_image(ptr::null(), &new, &lsu, &sdef, 0, &mut id),
        c::ENULL,
        "NULL to_lsu"
    );
    assert_rc!(
        a.async_copy_image(&lsu, ptr::null(), &lsu, &sdef, 0, &mut id),
        c::ENULL,
        "NULL to_def"
    );
    assert_rc!(
        a.async_copy_image(&lsu, &new, ptr::null(), &sdef, 0, &mut id),
        c::ENULL,
        "NULL from_lsu"
    );
    assert_rc!(
        a.async_copy_image(&lsu, &new, &lsu, ptr::null(), 0, &mut id),
        c::ENULL,
        "NULL from_def"
    );
    let h2 = srv.another_handle();
    assert_rc!(a.close_server(h2), c::EOK);
    let closed = lsu_t(h2, "default");
    assert_rc!(
        a.async_copy_image(&closed, &new, &lsu, &sdef, 0, &mut id),
        c::EHANDLE,
        "closed target"
    );
    assert_rc!(
        a.async_copy_image(&lsu, &new, &closed, &sdef, 0, &mut id),
        c::EHANDLE,
        "closed source"
    );
    assert_eq!(id, OP_ID_SENTINEL, "op_id written on an error");
    assert_quiet(&evc, QUIET_MS, "refused async copies");
    assert!(!is_listed(&lsu, "new"), "a refused copy created its target");
}

// ---------------------------------------------------------------------------
// stsp_named_async_copy_image, stsp_named_async_wait
// ---------------------------------------------------------------------------

#[test]
fn named_copy_wait_returns_eok_and_its_event_names_the_operation() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 3 * MIB);
    let cdef = image_def("copy", "20250102");
    assert_rc!(
        named_copy(&srv.lsu(), &cdef, &srv.lsu(), &sdef, "nightly-1"),
        c::EOK
    );
    assert_eq!(
        named_wait(srv.sh, "nightly-1", OP_WAIT_MS),
        (c::EOK, c::EOK),
        "wait (rc, op_status)"
    );
    // finished: the copy is there, and a wait without timeout says so again
    assert_complete_bytes(&srv.lsu(), &cdef, &sdata, "named copy");
    assert_eq!(
        named_wait(srv.sh, "nightly-1", c::TIMEOUT_NONE),
        (c::EOK, c::EOK),
        "wait(STS_TIMEOUT_NONE) after it finished"
    );
    let evc = Evc::open(srv.sh);
    let (e, _) = evc.wait_for(Duration::from_secs(10), "ASYNC_DONE of nightly-1", |e| {
        is_done_of_named(e, "nightly-1")
    });
    assert_done_ok(&e, &cdef, sdata.len() as u64, "named copy");
    let dups: Vec<String> = evc
        .drain()
        .iter()
        .filter(|e| is_done_of_named(e, "nightly-1"))
        .map(ev_str)
        .collect();
    assert!(
        dups.is_empty(),
        "more than one ASYNC_DONE for nightly-1: {dups:#?}"
    );
}

#[test]
fn named_copy_wait_with_infinite_timeout_returns_when_it_finishes() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 2 * MIB);
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let cdef = image_def("copy", "");
    assert_rc!(
        named_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef, "forever"),
        c::EOK
    );
    let sh = Shared(th.0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sh = sh;
        let _ = tx.send(named_wait(sh.0, "forever", c::TIMEOUT_INFINITE));
    });
    let got = rx
        .recv_timeout(OP_WAIT)
        .expect("wait(STS_TIMEOUT_INFINITE) did not return within 60 s");
    assert_eq!(got, (c::EOK, c::EOK), "wait (rc, op_status)");
    let bh = must_open_server(&r.name);
    assert_complete_bytes(&lsu_t(bh.0, "default"), &cdef, &sdata, "copy");
}

#[test]
fn named_wait_on_a_running_copy_is_etimedout() {
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let cdef = image_def("big-copy", "");
    assert_rc!(
        named_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef, "slow"),
        c::EOK
    );
    assert_eq!(
        named_wait(th.0, "slow", c::TIMEOUT_NONE),
        (c::EINPROGRESS, OP_STATUS_SENTINEL),
        "wait(STS_TIMEOUT_NONE) on a running copy: (rc, op_status untouched)"
    );
    let t = Instant::now();
    let (rc, st) = named_wait(th.0, "slow", 100);
    let waited = t.elapsed();
    assert_eq!(
        (rc, st),
        (c::EINPROGRESS, OP_STATUS_SENTINEL),
        "wait(100 ms) on a running copy"
    );
    assert!(
        waited >= Duration::from_millis(75),
        "a 100 ms wait returned after {waited:?}"
    );
    // through an ordinary handle on the target directory, until it ends
    let bh = must_open_server(&r.name);
    assert_eq!(
        named_wait(bh.0, "slow", OP_WAIT_MS),
        (c::EOK, c::EOK),
        "wait until done"
    );
    assert_complete(
        &lsu_t(bh.0, "default"),
        &cdef,
        BIG,
        big_sha1(),
        "large named copy",
    );
}

#[test]
fn named_wait_on_an_unknown_name_is_enoop() {
    let srv = Server::new();
    assert_eq!(
        named_wait(srv.sh, "never-started", c::TIMEOUT_NONE),
        (c::ENOOP, OP_STATUS_SENTINEL),
        "wait(STS_TIMEOUT_NONE)"
    );
    assert_eq!(
        named_wait(srv.sh, "never-started", 100),
        (c::ENOOP, OP_STATUS_SENTINEL),
        "wait(100 ms)"
    );
    // names are exact: a finished "op-1" does not answer for "op-10" or "OP-1"
    let (sdef, _) = stored(&srv.lsu(), "src", 64 * 1024);
    assert_rc!(
        named_copy(&srv.lsu(), &image_def("c", ""), &srv.lsu(), &sdef, "op-1"),
        c::EOK
    );
    assert_eq!(named_wait(srv.sh, "op-1", OP_WAIT_MS), (c::EOK, c::EOK));
    for other in ["op-10", "OP-1", "op-"] {
        assert_eq!(
            named_wait(srv.sh, other, c::TIMEOUT_NONE),
            (c::ENOOP, OP_STATUS_SENTINEL),
            "wait({other:?})"
        );
    }
}

#[test]
fn named_operations_belong_to_the_server_they_copy_to() {
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let cdef = image_def("big-copy", "");
    assert_rc!(
        named_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef, "over-there"),
        c::EOK
    );
    // the source server has no operation of that name
    assert_eq!(
        named_wait(srv.sh, "over-there", c::TIMEOUT_NONE),
        (c::ENOOP, OP_STATUS_SENTINEL),
        "wait through the source server"
    );
    assert_rc!(
        named_cancel(srv.sh, "over-there"),
        c::ENOOP,
        "cancel through the source server"
    );
    // the target server has (a target handle or an ordinary handle on it)
    let bh = must_open_server(&r.name);
    assert_eq!(
        named_wait(bh.0, "over-there", c::TIMEOUT_NONE),
        (c::EINPROGRESS, OP_STATUS_SENTINEL),
        "wait through an ordinary handle on the target"
    );
    assert_eq!(
        named_wait(th.0, "over-there", OP_WAIT_MS),
        (c::EOK, c::EOK),
        "wait through the target handle"
    );
    assert_complete(&lsu_t(bh.0, "default"), &cdef, BIG, big_sha1(), "copy");
}

#[test]
fn named_copy_under_a_running_name_is_eexist() {
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let (small, _) = stored(&srv.lsu(), "small", 64 * 1024);
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let tl = lsu_t(th.0, "default");
    let cdef = image_def("big-copy", "");
    assert_rc!(named_copy(&tl, &cdef, &srv.lsu(), &sdef, "busy-name"), c::EOK);
    assert_eq!(
        named_wait(th.0, "busy-name", c::TIMEOUT_NONE),
        (c::EINPROGRESS, OP_STATUS_SENTINEL),
        "the first copy is running"
    );
    let other = image_def("other", "");
    assert_rc!(
        named_copy(&tl, &other, &srv.lsu(), &small, "busy-name"),
        c::EEXIST,
        "a second copy under the running name"
    );
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    assert_eq!(
        named_wait(bh.0, "busy-name", OP_WAIT_MS),
        (c::EOK, c::EOK),
        "the first copy"
    );
    assert_complete(&bl, &cdef, BIG, big_sha1(), "the first copy");
    assert_gone(&bl, &other, "the refused second copy");
    let evc = Evc::open(bh.0);
    let done: Vec<sts_event_t> = evc
        .drain()
        .into_iter()
        .filter(|e| is_done_of_named(e, "busy-name"))
        .collect();
    assert_eq!(
        done.len(),
        1,
        "ASYNC_DONE events for busy-name: {:#?}",
        done.iter().map(ev_str).collect::<Vec<_>>()
    );
    assert_done_ok(&done[0], &cdef, BIG, "the first copy");
}

#[test]
fn named_op_name_may_be_reused_after_it_finished_and_wait_follows_the_latest() {
    let srv = Server::new();
    let (small, sdata) = stored(&srv.lsu(), "small", MIB);
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let tl = lsu_t(th.0, "default");
    let first = image_def("first", "");
    assert_rc!(named_copy(&tl, &first, &srv.lsu(), &small, "again"), c::EOK);
    assert_eq!(
        named_wait(th.0, "again", OP_WAIT_MS),
        (c::EOK, c::EOK),
        "the first op"
    );
    // reuse: allowed once the first finished
    let second = image_def("second", "");
    assert_rc!(
        named_copy(&tl, &second, &srv.lsu(), &sdef, "again"),
        c::EOK,
        "the name again after the first op finished"
    );
    // wait now follows the second (running) op, not the finished first
    assert_eq!(
        named_wait(th.0, "again", c::TIMEOUT_NONE),
        (c::EINPROGRESS, OP_STATUS_SENTINEL),
        "wait on the reused name while the second op runs"
    );
    assert_rc!(named_cancel(th.0, "again"), c::EOK, "cancel the second op");
    assert_eq!(
        named_wait(th.0, "again", OP_WAIT_MS),
        (c::ECANCELED, c::ECANCELED),
        "wait follows the latest op"
    );
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    assert_complete_bytes(&bl, &first, &sdata, "the first op's copy");
    assert_gone(&bl, &second, "the cancelled second op's copy");
}

#[test]
fn bad_op_names_are_ename_with_no_copy_and_no_event() {
    let srv = Server::new();
    let (sdef, sdata) = stored(&srv.lsu(), "src", 64 * 1024);
    let evc = Evc::open(srv.sh);
    let a = api();
    for (what, bytes) in bad_op_names() {
        let n = CString::new(bytes).unwrap();
        let cdef = image_def("copy", "");
        assert_rc!(
            a.named_async_copy_image(&srv.lsu(), &cdef, &srv.lsu(), &sdef, 0, n.as_ptr()),
            c::ENAME,
            "named copy, op name: {what}"
        );
        let mut st: c_int = OP_STATUS_SENTINEL;
        assert_rc!(
            a.named_async_wait(srv.sh, n.as_ptr(), c::TIMEOUT_NONE, &mut st),
            c::ENAME,
            "wait, op name: {what}"
        );
        assert_eq!(st, OP_STATUS_SENTINEL, "op_status written on ENAME ({what})");
        assert_rc!(
            a.named_async_cancel(srv.sh, n.as_ptr()),
            c::ENAME,
            "cancel, op name: {what}"
        );
    }
    assert!(
        !is_listed(&srv.lsu(), "copy"),
        "a refused named copy created its target"
    );
    assert_quiet(&evc, QUIET_MS, "refused named copies");
    // the longest name allowed works
    let longest = "o".repeat(c::MAX_OPNAME - 1);
    let cdef = image_def("copy", "");
    assert_rc!(
        named_copy(&srv.lsu(), &cdef, &srv.lsu(), &sdef, &longest),
        c::EOK,
        "longest op name"
    );
    assert_eq!(
        named_wait(srv.sh, &longest, OP_WAIT_MS),
        (c::EOK, c::EOK),
        "longest op name"
    );
    assert_complete_bytes(&srv.lsu(), &cdef, &sdata, "copy under the longest name");
    let (e, _) = evc.wait_for(Duration::from_secs(10), "ASYNC_DONE of the longest name", |e| {
        e.ev_type == c::EVT_ASYNC_DONE
    });
    assert_eq!(cstr(&e.ev_op_name), longest, "ev_op_name: {}", ev_str(&e));
}

#[test]
fn named_copy_argument_errors_are_synchronous_with_no_operation() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, _) = stored(&lsu, "src", 64 * 1024);
    let (edef, edata) = stored(&lsu, "exists", 4096);
    let pdef = image_def("pending", "");
    let w = create(&lsu, &pdef);
    write_all(w, &seeded(3, 8192), 0);
    close(w, c::CLOSE_INCOMPLETE);
    let evc = Evc::open(srv.sh);
    let new = image_def("new", "");
    for (what, to_def, from_def, want) in [
        ("existing target", edef, sdef, c::EEXIST),
        ("missing source", new, image_def("nosuch", ""), c::ENOENT),
        ("pending source", new, pdef, c::ENOTCOMPLETE),
    ] {
        let op = format!("op-{want}");
        assert_rc!(
            named_copy(&lsu, &to_def, &lsu, &from_def, &op),
            want,
            "named copy: {what}"
        );
        // no operation of that name came of it
        assert_eq!(
            named_wait(srv.sh, &op, c::TIMEOUT_NONE),
            (c::ENOOP, OP_STATUS_SENTINEL),
            "wait after a refused named copy ({what})"
        );
        assert_rc!(
            named_cancel(srv.sh, &op),
            c::ENOOP,
            "cancel after a refused named copy ({what})"
        );
    }
    let n = cstring("flagged");
    assert_rc!(
        api().named_async_copy_image(&lsu, &new, &lsu, &sdef, 1, n.as_ptr()),
        c::EINVAL,
        "flags 1"
    );
    assert_eq!(
        named_wait(srv.sh, "flagged", c::TIMEOUT_NONE),
        (c::ENOOP, OP_STATUS_SENTINEL)
    );
    assert_quiet(&evc, QUIET_MS, "refused named copies");
    assert!(!is_listed(&lsu, "new"), "a refused copy created its target");
    assert_complete_bytes(&lsu, &edef, &edata, "existing target");
}

#[test]
fn named_null_or_closed_arguments_are_refused() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (sdef, _) = stored(&lsu, "src", 64 * 1024);
    let a = api();
    let name = cstring("op");
    let cdef = image_def("copy", "");
    assert_rc!(
        a.named_async_copy_image(&lsu, &cdef, &lsu, &sdef, 0, ptr::null()),
        c::ENULL,
        "named copy, NULL op_name"
    );
    assert_rc!(
        a.named_async_copy_image(ptr::null(), &cdef, &lsu, &sdef, 0, name.as_ptr()),
        c::ENULL,
        "named copy, NULL to_lsu"
    );
    assert!(!is_listed(&lsu, "copy"), "a refused copy created its target");
    // a finished operation to wait for
    assert_rc!(named_copy(&lsu, &cdef, &lsu, &sdef, "op"), c::EOK);
    assert_eq!(named_wait(srv.sh, "op", OP_WAIT_MS), (c::EOK, c::EOK));
    let mut st: c_int = OP_STATUS_SENTINEL;
    assert_rc!(
        a.named_async_wait(srv.sh, name.as_ptr(), c::TIMEOUT_NONE, ptr::null_mut()),
        c::ENULL,
        "wait, NULL op_status"
    );
    assert_rc!(
        a.named_async_wait(srv.sh, ptr::null(), c::TIMEOUT_NONE, &mut st),
        c::ENULL,
        "wait, NULL op_name"
    );
    assert_rc!(
        a.named_async_wait(ptr::null_mut(), name.as_ptr(), c::TIMEOUT_NONE, &mut st),
        c::ENULL,
        "wait, NULL server handle"
    );
    assert_rc!(
        a.named_async_cancel(srv.sh, ptr::null()),
        c::ENULL,
        "cancel, NULL op_name"
    );
    assert_rc!(
        a.named_async_cancel(ptr::null_mut(), name.as_ptr()),
        c::ENULL,
        "cancel, NULL handle"
    );
    let h2 = srv.another_handle();
    assert_rc!(a.close_server(h2), c::EOK);
    assert_rc!(
        a.named_async_wait(h2, name.as_ptr(), c::TIMEOUT_NONE, &mut st),
        c::EHANDLE,
        "wait, closed handle"
    );
    assert_rc!(
        a.named_async_cancel(h2, name.as_ptr()),
        c::EHANDLE,
        "cancel, closed handle"
    );
    assert_rc!(
        a.named_async_copy_image(
            &lsu_t(h2, "default"),
            &image_def("c2", ""),
            &lsu,
            &sdef,
            0,
            name.as_ptr()
        ),
        c::EHANDLE,
        "named copy, closed target handle"
    );
    assert_eq!(st, OP_STATUS_SENTINEL, "op_status written on an error");
}

#[test]
fn named_wait_from_another_process() {
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let mut p = spawn_role("ev_op_waiter", &[&r.name, "shared-wait", &OP_WAIT_MS.to_string()]);
    p.expect("READY", Duration::from_secs(60));
    let cdef = image_def("big-copy", "");
    assert_rc!(
        named_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef, "shared-wait"),
        c::EOK
    );
    p.send("GO");
    let got = p.expect("WAITED", OP_WAIT + Duration::from_secs(30));
    assert_eq!(
        got,
        format!("{} {}", c::EOK, c::EOK),
        "the child's wait (rc op_status)\n{}",
        p.transcript()
    );
    p.wait_success(Duration::from_secs(60));
    assert_eq!(
        named_wait(th.0, "shared-wait", c::TIMEOUT_NONE),
        (c::EOK, c::EOK),
        "the parent's wait"
    );
    let bh = must_open_server(&r.name);
    assert_complete(&lsu_t(bh.0, "default"), &cdef, BIG, big_sha1(), "copy");
}

#[test]
fn named_copy_whose_source_is_deleted_midway_fails_or_completes_whole() {
    // reads of a deleted image give correct bytes or STS_ENOENT: the copy
    // either completes with the source's bytes, or fails (STS_EOPFAILED,
    // op_status STS_ENOENT) and leaves no target
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let base = tree_bytes(&r.path);
    let cdef = image_def("big-copy", "");
    assert_rc!(
        named_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef, "orphaned"),
        c::EOK
    );
    wait_for_progress(&r.path, base, PIECE, || {
        named_wait(th.0, "orphaned", c::TIMEOUT_NONE).0 == c::EINPROGRESS
    });
    assert_rc!(
        api().delete_image(&srv.lsu(), &sdef, 0),
        c::EOK,
        "delete the source midway"
    );
    let (rc, st) = named_wait(th.0, "orphaned", OP_WAIT_MS);
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    let (e, _) = Evc::open(bh.0).wait_for(Duration::from_secs(10), "ASYNC_DONE of orphaned", |e| {
        is_done_of_named(e, "orphaned")
    });
    assert_eq!(
        e.ev_status,
        st,
        "the event's ev_status vs the wait's op_status: {}",
        ev_str(&e)
    );
    if (rc, st) == (c::EOK, c::EOK) {
        assert_complete(
            &bl,
            &cdef,
            BIG,
            big_sha1(),
            "copy whose source was deleted midway",
        );
    } else {
        assert_eq!(
            (rc, st),
            (c::EOPFAILED, c::ENOENT),
            "wait after the source was deleted midway: {} op_status {}",
            code_name(rc),
            code_name(st)
        );
        assert_gone(&bl, &cdef, "failed copy");
        assert_eq!(stats(&bl).lsu_used, 0, "target lsu_used after the failed copy");
    }
}

// ---------------------------------------------------------------------------
// stsp_named_async_cancel
// ---------------------------------------------------------------------------

#[test]
fn cancel_stops_a_large_cross_server_copy_and_frees_its_space() {
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let sinfo = must_prop_byname(&srv.lsu(), &sdef);
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    let (rdef, rdata) = stored(&bl, "resident", 3 * MIB);
    let start = stats(&bl);
    let base = tree_bytes(&r.path);
    let cdef = image_def("big-copy", "");
    assert_rc!(
        named_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef, "stop-me"),
        c::EOK
    );
    // act once the copy is under way
    wait_for_progress(&r.path, base, PIECE, || {
        named_wait(th.0, "stop-me", c::TIMEOUT_NONE).0 == c::EINPROGRESS
    });
    assert_rc!(named_cancel(th.0, "stop-me"), c::EOK, "cancel a running copy");
    assert_eq!(
        named_wait(bh.0, "stop-me", OP_WAIT_MS),
        (c::ECANCELED, c::ECANCELED),
        "wait after cancel (rc, op_status)"
    );
    let evc = Evc::open(bh.0);
    let (e, _) = evc.wait_for(Duration::from_secs(10), "ASYNC_DONE of stop-me", |e| {
        is_done_of_named(e, "stop-me")
    });
    assert_eq!(e.ev_status, c::ECANCELED, "ev_status: {}", ev_str(&e));
    assert_eq!(
        cbytes(&e.ev_image.img_basename),
        b"big-copy",
        "ev_image: {}",
        ev_str(&e)
    );
    // no target remains, its space is freed
    assert_gone(&bl, &cdef, "cancelled copy");
    for (b, d) in list_images(&bl) {
        let info = must_prop_byname(&bl, &image_def_bytes(&b, &d));
        assert!(
            b == b"resident" || info.imo_flags & c::II_COMPLETE == 0,
            "{} lists as complete after the cancel",
            String::from_utf8_lossy(&b)
        );
    }
    let now = stats(&bl);
    assert_eq!(
        now.lsu_used, start.lsu_used,
        "target lsu_used not back to its start value"
    );
    assert_eq!(
        now.lsu_used_phys, start.lsu_used_phys,
        "target lsu_used_phys not back to its start value"
    );
    assert_eq!(now.lsu_images, start.lsu_images, "target lsu_images");
    assert_complete_bytes(&bl, &rdef, &rdata, "image already on the target");
    let s = must_prop_byname(&srv.lsu(), &sdef);
    assert_eq!(cstr(&s.imo_sha1), cstr(&sinfo.imo_sha1), "source SHA-1");
    assert_eq!(
        named_cancel(th.0, "stop-me"),
        c::ENOOP,
        "cancel again, after it ended"
    );
}

#[test]
fn cancel_of_an_unknown_or_finished_operation_is_enoop() {
    let srv = Server::new();
    assert_rc!(named_cancel(srv.sh, "never-started"), c::ENOOP, "unknown name");
    let (sdef, sdata) = stored(&srv.lsu(), "src", MIB);
    let cdef = image_def("copy", "");
    assert_rc!(named_copy(&srv.lsu(), &cdef, &srv.lsu(), &sdef, "quick"), c::EOK);
    assert_eq!(named_wait(srv.sh, "quick", OP_WAIT_MS), (c::EOK, c::EOK));
    assert_rc!(named_cancel(srv.sh, "quick"), c::ENOOP, "finished operation");
    // the finished copy stays, and so does its result
    assert_complete_bytes(&srv.lsu(), &cdef, &sdata, "finished copy");
    assert_eq!(
        named_wait(srv.sh, "quick", c::TIMEOUT_NONE),
        (c::EOK, c::EOK),
        "result after the cancel"
    );
}

#[test]
fn cancel_from_another_process() {
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let th = must_target(srv.sh, &r.name);
    let mut p = spawn_role("ev_op_canceller", &[&r.name, "remote-stop"]);
    p.expect("READY", Duration::from_secs(60));
    let cdef = image_def("big-copy", "");
    assert_rc!(
        named_copy(&lsu_t(th.0, "default"), &cdef, &srv.lsu(), &sdef, "remote-stop"),
        c::EOK
    );
    p.send("GO");
    let got = p.expect("CANCELLED", Duration::from_secs(60));
    assert_eq!(got, c::EOK.to_string(), "the child's cancel\n{}", p.transcript());
    p.wait_success(Duration::from_secs(60));
    assert_eq!(
        named_wait(th.0, "remote-stop", OP_WAIT_MS),
        (c::ECANCELED, c::ECANCELED),
        "wait after another process cancelled"
    );
    let bh = must_open_server(&r.name);
    let bl = lsu_t(bh.0, "default");
    assert_gone(&bl, &cdef, "copy cancelled by another process");
    assert_eq!(stats(&bl).lsu_used, 0, "target lsu_used");
    let (e, _) = Evc::open(bh.0).wait_for(Duration::from_secs(10), "ASYNC_DONE of remote-stop", |e| {
        is_done_of_named(e, "remote-stop")
    });
    assert_eq!(e.ev_status, c::ECANCELED, "{}", ev_str(&e));
}

// ---------------------------------------------------------------------------
// stsp_delete_image with asyncflag
// ---------------------------------------------------------------------------

#[test]
fn async_delete_raises_delete_done_and_the_image_goes() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (kdef, kdata) = stored(&lsu, "keep", MIB);
    let start = stats(&lsu);
    let def = image_def("old", "20240101");
    let data = seeded(0x01d, (2 * MIB) as usize);
    store_complete(&lsu, &def, &data);
    let evc = Evc::open(srv.sh);
    assert_rc!(api().delete_image(&lsu, &def, 1), c::EOK, "asynchronous delete");
    let (e, _) = evc.wait_for(OP_WAIT, "STS_EVT_DELETE_DONE", |e| {
        e.ev_type == c::EVT_DELETE_DONE
    });
    let s = ev_str(&e);
    assert_eq!(e.ev_status, c::EOK, "ev_status: {s}");
    assert_eq!(cstr(&e.ev_lsu.sln_name), "default", "ev_lsu: {s}");
    assert_eq!(cbytes(&e.ev_image.img_basename), b"old", "ev_image: {s}");
    assert_eq!(cbytes(&e.ev_image.img_date), b"20240101", "ev_image date: {s}");
    // done: the image is gone and its space freed
    assert_gone(&lsu, &def, "after STS_EVT_DELETE_DONE");
    let now = stats(&lsu);
    assert_eq!(
        (now.lsu_used, now.lsu_used_phys, now.lsu_images),
        (start.lsu_used, start.lsu_used_phys, start.lsu_images),
        "LSU statistics after the asynchronous delete"
    );
    assert_complete_bytes(&lsu, &kdef, &kdata, "the other image");
    assert_quiet(&evc, QUIET_MS, "after the one DELETE_DONE");
}

#[test]
fn async_delete_argument_errors_are_synchronous_with_no_event() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let (kdef, kdata) = stored(&lsu, "keep", 64 * 1024);
    let busy = image_def("busy", "");
    let w = create(&lsu, &busy);
    let first = seeded(5, 8192);
    write_all(w, &first, 0);
    flush(w);
    let evc = Evc::open(srv.sh);
    let mut bad = image_def("x", "");
    set_cstr(&mut bad.img_basename, b"..");
    let mut flagged = kdef;
    flagged.img_flags = 1;
    for (what, l, d, want) in [
        ("unknown image", lsu, image_def("nosuch", ""), c::ENOENT),
        ("image open for writing", lsu, busy, c::EBUSY),
        ("unknown LSU", srv.lsu_named("nosuch"), kdef, c::ENOLSU),
        ("bad name", lsu, bad, c::ENAME),
        ("img_flags", lsu, flagged, c::EINVAL),
    ] {
        assert_rc!(api().delete_image(&l, &d, 1), want, "asynchronous delete: {what}");
    }
    let th = must_target(srv.sh, &srv.name);
    assert_rc!(
        api().delete_image(&lsu_t(th.0, "default"), &kdef, 1),
        c::EMODE,
        "asynchronous delete through a target handle"
    );
    assert_rc!(api().delete_image(&lsu, ptr::null(), 1), c::ENULL, "NULL def");
    assert_rc!(api().delete_image(ptr::null(), &kdef, 1), c::ENULL, "NULL lsu");
    assert_quiet(&evc, QUIET_MS, "refused asynchronous deletes");
    // nothing was deleted: the writer goes on, the other image is whole
    let more = seeded(6, 4096);
    write_all(w, &more, first.len() as u64);
    close(w, c::CLOSE_COMPLETE);
    let mut want = first.clone();
    want.extend_from_slice(&more);
    assert_complete_bytes(&lsu, &busy, &want, "image that was open for writing");
    assert_complete_bytes(&lsu, &kdef, &kdata, "the other image");
}

// ---------------------------------------------------------------------------
// Process death
// ---------------------------------------------------------------------------

#[test]
fn operations_of_a_killed_process_end_failed_with_an_event_never_lost_or_redone() {
    const OPS: usize = 3;
    let srv = Server::new();
    let sdef = big_source(&srv.lsu(), "big");
    let r = remote();
    let mut p = spawn_role(
        "ev_copies_then_hang",
        &[&srv.name, &r.name, "big", "op", &OPS.to_string()],
    );
    p.expect("STARTED", Duration::from_secs(60));
    p.kill9();
    // a process that opens the target server now finds every operation ended
    let check = |round: &str| -> usize {
        let bh = must_open_server(&r.name);
        let bl = lsu_t(bh.0, "default");
        let events: Vec<sts_event_t> = Evc::open(bh.0).drain();
        let mut succeeded = 0u64;
        let mut failed = 0;
        for i in 0..OPS {
            let name = format!("op-{i}");
            let (rc, st) = named_wait(bh.0, &name, c::TIMEOUT_NONE);
            assert!(
                (rc, st) == (c::EOPFAILED, c::EOPFAILED) || (rc, st) == (c::EOK, c::EOK),
                "{round}: wait({name}) after its process died: {} op_status {}",
                code_name(rc),
                code_name(st)
            );
            let done: Vec<&sts_event_t> = events.iter().filter(|e| is_done_of_named(e, &name)).collect();
            assert_eq!(
                done.len(),
                1,
                "{round}: ASYNC_DONE events for {name}: {:#?}",
                done.iter().map(|e| ev_str(e)).collect::<Vec<_>>()
            );
            assert_eq!(
                done[0].ev_status,
                st,
                "{round}: {name}'s event vs its wait: {}",
                ev_str(done[0])
            );
            let cdef = image_def(&format!("op-copy-{i}"), "");
            if rc == c::EOK {
                succeeded += BIG;
                assert_complete(&bl, &cdef, BIG, big_sha1(), &format!("{round}: copy of {name}"));
            } else {
                failed += 1;
                assert_gone(&bl, &cdef, &format!("{round}: half copy of failed {name}"));
            }
        }
        // nothing else lists as complete; lsu_used counts what is listed
        let mut sizes = 0;
        for (b, d) in list_images(&bl) {
            let info = must_prop_byname(&bl, &image_def_bytes(&b, &d));
            let name = String::from_utf8_lossy(&b).into_owned();
            assert!(
                info.imo_flags & c::II_COMPLETE == 0 || name.starts_with("op-copy-"),
                "{round}: unexpected complete image {name}"
            );
            sizes += info.imo_size;
        }
        assert_eq!(
            stats(&bl).lsu_used,
            sizes,
            "{round}: lsu_used vs the listed images"
        );
        assert_eq!(
            sizes, succeeded,
            "{round}: images left besides the successful copies"
        );
        failed
    };
    let failed = check("first open after the kill");
    assert!(
        failed > 0,
        "every copy finished before the kill ({OPS} x {BIG} bytes): cannot test the crash"
    );
    // opening again changes nothing: no second event, no retry
    assert_eq!(
        check("second open"),
        failed,
        "failed operations changed on the second open"
    );
    // the source verifies
    assert_complete(&srv.lsu(), &sdef, BIG, big_sha1(), "source");
    assert_eq!(
        sha1_of_image(&srv.lsu(), &sdef),
        (BIG, big_sha1().to_string()),
        "source bytes"
    );
}
