//! Hostile input (issue 9): a table-driven pass over EVERY stsp_* export
//! (the table must name exactly the functions include/stspi.h declares)
//! with each hostile class that applies to it:
//!
//! * huge lengths and offsets that overflow (len near 2^64, offset + len
//!   past 2^64, metadata at and past its limit);
//! * overlapping arguments (an out-parameter over the input it is
//!   computed from, one buffer for metadata write and read, copies within
//!   one image);
//! * names exactly at their length limit (must work and round-trip
//!   byte-exact) and one byte beyond (STS_ENAME);
//! * non-UTF-8 bytes in server names, LSU names, image basenames and dates,
//!   labels, operation names and credentials;
//! * ".." and absolute paths and '/' in names, and server names with "."
//!   or ".." components or relative paths;
//! * dangling, double-closed and fabricated handles.
//!
//! The pass runs in a child process whose working directory is an empty
//! directory, with every server inside one fresh parent directory; at the
//! end the parent holds only the servers it named, each server directory
//! only the engine's own file names, and the working directory nothing.
//! The other tests here: files are private whatever the umask, and
//! credentials (STS_EAUTH, STS_SRV_CRED).

use crate::common::child::isolated;
use crate::common::*;
use std::collections::BTreeSet;
use std::ffi::{CString, c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;
use sys::{
    sts_cred_t, sts_evchannel_handle_t, sts_event_t, sts_image_def_t, sts_image_handle_t, sts_image_info_t,
    sts_image_list_handle_t, sts_lsu_info_t, sts_lsu_list_handle_t, sts_lsu_name_t, sts_lsu_t,
    sts_plugin_info_t, sts_server_handle_t, sts_server_info_t,
};

// ====================================================================== fixtures

/// The environment every table entry works in: servers under `root`.
struct Env {
    root: PathBuf,
    /// The working directory of the process (must stay empty).
    cwd: PathBuf,
    srv: PathBuf,
    name: String,
    sh: sts_server_handle_t,
    /// A second server (target of cross-server copies).
    tgt_name: String,
    /// Complete, with metadata.
    keeper: sts_image_def_t,
    data: Vec<u8>,
    /// Closed incomplete.
    pending: sts_image_def_t,
    /// An LSU whose name is exactly MAX_LSUNAME - 1 bytes (created by the
    /// administrator's engine API, the only way LSUs are made).
    long_lsu: String,
}

impl Env {
    fn new(root: &Path) -> Env {
        let cwd = root.join("cwd");
        std::fs::create_dir(&cwd).unwrap();
        std::env::set_current_dir(&cwd).unwrap();
        let srv = root.join("srv");
        let name = server_name_for(&srv);
        let long_lsu = "L".repeat(c::MAX_LSUNAME - 1);
        cli(&["init", srv.to_str().unwrap()]);
        cli(&["-s", srv.to_str().unwrap(), "lsu", "create", &long_lsu]);
        let sh = open_server_or_panic(&name);
        let lsu = lsu_t(sh, "default");
        let keeper = image_def("keeper", "20240101");
        let data = seeded(0x4b, 64 * 1024);
        let ih = create(&lsu, &keeper);
        write_all(ih, &data, 0);
        assert_rc!(meta_write(ih, b"keeper metadata", 0), c::EOK);
        close(ih, c::CLOSE_COMPLETE);
        let pending = image_def("pending", "");
        let ih = create(&lsu, &pending);
        write_all(ih, &seeded(0x50, 2048), 0);
        close(ih, c::CLOSE_INCOMPLETE);
        Env {
            tgt_name: server_name_for(&root.join("tgt")),
            root: root.to_owned(),
            cwd,
            srv,
            name,
            sh,
            keeper,
            data,
            pending,
            long_lsu,
        }
    }

    fn lsu(&self) -> sts_lsu_t {
        lsu_t(self.sh, "default")
    }

    /// The keeper is still complete with its bytes.
    fn assert_keeper_intact(&self) {
        let info = must_prop_byname(&self.lsu(), &self.keeper);
        assert_eq!(info.imo_size, self.data.len() as u64, "keeper size");
        assert_eq!(cstr(&info.imo_sha1), sha1_hex(&self.data), "keeper sha1");
        assert_bytes_eq(&read_image(&self.lsu(), &self.keeper), &self.data, "keeper bytes");
    }
}

/// Runs the administrator's tool (a process of its own: LSUs and
/// credentials are set outside the plugin API), asserting success.
fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_combstore"))
        .args(args)
        .env_remove("COMBSTORE_SERVER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "combstore {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn c_bytes(b: &[u8]) -> CString {
    CString::new(b).expect("no NUL in test bytes")
}

/// A fresh write handle on a new image `base` of the default LSU.
fn new_writer(env: &Env, base: &str) -> sts_image_handle_t {
    create(&env.lsu(), &image_def(base, ""))
}

/// An image def whose basename array is entirely `b` (no NUL: one beyond
/// the limit) or whose date array is.
fn def_unterminated_basename() -> sts_image_def_t {
    let mut d = image_def("x", "");
    fill_unterminated(&mut d.img_basename, b'b');
    d
}

fn def_unterminated_date() -> sts_image_def_t {
    let mut d = image_def("x", "");
    fill_unterminated(&mut d.img_date, b'7');
    d
}

/// Image names every name-taking call must refuse with STS_ENAME: path
/// forms, non-UTF-8 (lone continuation byte, overlong '/', a UTF-16
/// surrogate, a truncated sequence) and one byte beyond each limit.
fn bad_defs() -> Vec<(String, sts_image_def_t)> {
    let mut v: Vec<(String, sts_image_def_t)> = [
        &b"../../etc/passwd"[..],
        b"/etc/passwd",
        b"/",
        b"..",
        b".",
        b"a/b",
        b"a\\b",
        b"x..",
        b"\x80",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"abc\xe2\x82",
        b"\xff\xfe",
        b"tab\there",
        b"del\x7f",
    ]
    .iter()
    .map(|b| (format!("basename {b:x?}"), image_def_bytes(b, b"")))
    .collect();
    for date in [&b"../1"[..], b"/1", b"\xff", b"1\n"] {
        v.push((format!("date {date:x?}"), image_def_bytes(b"ok", date)));
    }
    v.push((
        "basename of MAX_IMAGENAME bytes".into(),
        def_unterminated_basename(),
    ));
    v.push(("date of MAX_DATE bytes".into(), def_unterminated_date()));
    v
}

/// LSU names every LSU-taking call must refuse with STS_ENAME.
fn bad_lsu_names() -> Vec<(String, sts_lsu_name_t)> {
    let mut v: Vec<(String, sts_lsu_name_t)> = [
        &b"../default"[..],
        b"/default",
        b"/",
        b"..",
        b".",
        b"de/fault",
        b"\xff",
        b"\xc0\xae\xc0\xae",
        b"default\n",
    ]
    .iter()
    .map(|b| {
        let mut n = sts_lsu_name_t::default();
        set_cstr(&mut n.sln_name, b);
        (format!("LSU {b:x?}"), n)
    })
    .collect();
    let mut n = sts_lsu_name_t::default();
    fill_unterminated(&mut n.sln_name, b'L');
    v.push(("LSU name of MAX_LSUNAME bytes".into(), n));
    v
}

/// Server names refused before anything is touched on disk, with their
/// codes: ".." and "." components (which would name another directory
/// than they appear to), control characters, non-UTF-8, a directory one
/// byte over STS_MAX_SERVER_DIR, a name over STS_MAX_SERVERNAME, other
/// plugins' names.
fn bad_server_names(env: &Env) -> Vec<(Vec<u8>, i32)> {
    let root = env.root.as_os_str().as_bytes();
    let with = |suffix: &[u8]| -> Vec<u8> {
        let mut v = b"combstore:".to_vec();
        v.extend_from_slice(root);
        v.extend_from_slice(suffix);
        v
    };
    let mut over = b"combstore:".to_vec();
    over.extend_from_slice(root);
    over.push(b'/');
    over.resize(c::MAX_SERVERNAME, b'o');
    let (at_limit, _) = name_at_limit(&env.root);
    vec![
        (format!("{at_limit}s").into_bytes(), c::ENAME),
        (with(b"/srv/../escape"), c::ENAME),
        (with(b"/../escape"), c::ENAME),
        (with(b"/srv/.."), c::ENAME),
        (with(b"/./escape"), c::ENAME),
        (with(b"/esc\nape"), c::ENAME),
        (with(b"/esc\x7fape"), c::ENAME),
        (with(b"/\xffescape"), c::ENAME),
        (with(b"/\xc0\xafescape"), c::ENAME),
        (over, c::ENAME),
        (vec![b'c'; 64 * 1024], c::ENAME),
        (b"Combstore:/escape".to_vec(), c::ENOT_MINE),
        (b"combstore".to_vec(), c::ENOT_MINE),
        (b"".to_vec(), c::ENOT_MINE),
    ]
}

/// The longest server directory path (STS_MAX_SERVER_DIR, a limit of the
/// SQLite catalog, below STS_MAX_SERVERNAME).
const MAX_DIR: usize = sys::STS_MAX_SERVER_DIR as usize;

/// A directory under `root` (components of 200 bytes) whose path leaves
/// 2..=202 bytes to MAX_DIR, created.
fn deep_dir(root: &Path) -> PathBuf {
    let mut path = root.join("deep");
    while MAX_DIR - path.as_os_str().len() > 202 {
        path.push("d".repeat(200));
    }
    std::fs::create_dir_all(&path).unwrap();
    path
}

/// A server name whose directory path is exactly MAX_DIR bytes (under
/// `root`, parents created), and that directory.
fn name_at_limit(root: &Path) -> (String, PathBuf) {
    let mut path = deep_dir(root);
    path.push("s".repeat(MAX_DIR - path.as_os_str().len() - 1));
    assert_eq!(path.as_os_str().len(), MAX_DIR);
    (server_name_for(&path), path)
}

fn server_name_of(sh: sts_server_handle_t) -> String {
    cstr(&server_info(sh).expect("get_server_prop").srv_server)
}

// ====================================================================== the table

/// One hostile pass per export, in the order of include/stspi.h, except
/// stsp_terminate, which closes everything and so runs last.
type Pass = (&'static str, fn(&Env));
const TABLE: &[Pass] = &[
    ("stsp_init", h_init),
    ("stsp_claim", h_claim),
    ("stsp_strerror", h_strerror),
    ("stsp_open_server", h_open_server),
    ("stsp_close_server", h_close_server),
    ("stsp_get_server_prop", h_get_server_prop),
    ("stsp_get_server_prop_byname", h_get_server_prop_byname),
    ("stsp_open_lsu_list", h_open_lsu_list),
    ("stsp_list_lsu", h_list_lsu),
    ("stsp_close_lsu_list", h_close_lsu_list),
    ("stsp_get_lsu_prop_byname", h_get_lsu_prop_byname),
    ("stsp_create_image", h_create_image),
    ("stsp_write_image", h_write_image),
    ("stsp_flush", h_flush),
    ("stsp_close_image", h_close_image),
    ("stsp_open_image", h_open_image),
    ("stsp_read_image", h_read_image),
    ("stsp_delete_image", h_delete_image),
    ("stsp_open_image_list", h_open_image_list),
    ("stsp_list_image", h_list_image),
    ("stsp_close_image_list", h_close_image_list),
    ("stsp_get_image_prop", h_get_image_prop),
    ("stsp_get_image_prop_byname", h_get_image_prop_byname),
    ("stsp_open_target_server", h_open_target_server),
    ("stsp_copy_extent", h_copy_extent),
    ("stsp_copy_image", h_copy_image),
    ("stsp_include_in_image", h_include_in_image),
    ("stsp_open_evchannel", h_open_evchannel),
    ("stsp_get_event", h_get_event),
    ("stsp_delete_event", h_delete_event),
    ("stsp_close_evchannel", h_close_evchannel),
    ("stsp_async_copy_image", h_async_copy_image),
    ("stsp_named_async_copy_image", h_named_async_copy_image),
    ("stsp_named_async_wait", h_named_async_wait),
    ("stsp_named_async_cancel", h_named_async_cancel),
    ("stsp_label_lsu", h_label_lsu),
    ("stsp_read_image_meta", h_read_image_meta),
    ("stsp_write_image_meta", h_write_image_meta),
    ("stsp_terminate", h_terminate),
];

/// The names include/stspi.h declares with STS_EXPORT.
fn header_exports() -> BTreeSet<String> {
    let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/stspi.h")).unwrap();
    h.split("STS_EXPORT")
        .skip(1)
        .filter_map(|decl| {
            let i = decl.find("stsp_")?;
            let rest = &decl[i..];
            Some(rest[..rest.find('(')?].to_owned())
        })
        .collect()
}

#[test]
fn table_covers_every_export_of_the_header() {
    let header = header_exports();
    assert_eq!(
        header.len(),
        ENTRY_POINTS.len(),
        "header vs ENTRY_POINTS: {header:?}"
    );
    let table: BTreeSet<String> = TABLE.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(table.len(), TABLE.len(), "an export appears twice in TABLE");
    assert_eq!(
        table, header,
        "TABLE must name exactly the exports of include/stspi.h"
    );
    assert_eq!(TABLE.last().unwrap().0, "stsp_terminate", "terminate runs last");
    for name in &header {
        assert!(
            unsafe { api().lib.get::<*const c_void>(format!("{name}\0").as_bytes()) }.is_ok(),
            "{name} is not exported by the plugin"
        );
    }
}

/// Runs the whole table in a child process (its cwd changes; a crash
/// fails this test instead of the suite), then checks what is on disk.
#[test]
fn hostile_pass_over_every_export_touches_nothing_outside_the_server() {
    isolated(
        "hostile::hostile_pass_over_every_export_touches_nothing_outside_the_server",
        || {
            let root = tempfile::TempDir::new().unwrap();
            let env = Env::new(root.path());
            for (name, run) in TABLE {
                eprintln!("hostile: {name}");
                run(&env);
            }
            assert_only_server_files(&env);
        },
    );
}

/// After the pass: `root` holds cwd (empty), srv, tgt, deep (the
/// at-limit server and its parents) and lnk (a link into deep); every
/// server directory holds only the engine's own names.
fn assert_only_server_files(env: &Env) {
    let top: BTreeSet<String> = std::fs::read_dir(&env.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = ["cwd", "deep", "lnk", "srv", "tgt"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(top, want, "entries of the parent directory");
    assert_eq!(dir_tree(&env.cwd), Vec::<PathBuf>::new(), "the working directory");
    let (_, deep_srv) = name_at_limit(&env.root);
    for dir in [env.srv.clone(), env.root.join("tgt"), deep_srv] {
        for p in dir_tree(&dir) {
            assert!(
                is_engine_name(&p),
                "{}: unexpected entry {}",
                dir.display(),
                p.display()
            );
        }
    }
}

/// Names the engine creates in a server directory (docs/format.md).
fn is_engine_name(p: &Path) -> bool {
    let s = p.to_string_lossy();
    let hex_file = |dir: &str, digits: usize, ext: &str| {
        s.strip_prefix(dir)
            .and_then(|r| r.strip_suffix(ext))
            .is_some_and(|h| h.len() == digits && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    matches!(
        s.as_ref(),
        "catalog.db" | "catalog.db-wal" | "catalog.db-shm" | "segments" | "locks" | "combstore.log"
    ) || s == "metadata_config.xml"
        || s == "combstore.log.1"
        || hex_file("segments/", 16, ".seg")
        || hex_file("locks/", 32, ".lock")
}

// ====================================================================== lifecycle

fn h_init(env: &Env) {
    let a = api();
    for v in [0u32, u32::MAX, c::VERSION_MAX + 1] {
        let mut info = sts_plugin_info_t::default();
        info.pi_pad = 0x5151;
        assert_rc!(a.init(v, &mut info), c::EVERSION, "init({v})");
        assert_eq!(info.pi_pad, 0x5151, "info written on error");
    }
    // the earlier initialization stays in force
    assert_eq!(server_name_of(env.sh), env.name);
}

fn open_server_or_panic(name: &str) -> sts_server_handle_t {
    open_server(name).unwrap_or_else(|rc| panic!("open {name}: {}", code_name(rc)))
}

fn h_claim(env: &Env) {
    let a = api();
    // claiming looks at the prefix and the length only; the open applies
    // the directory rules
    for (name, code) in bad_server_names(env) {
        let n = c_bytes(&name);
        let code = if code == c::ENOT_MINE || name.len() >= c::MAX_SERVERNAME {
            code
        } else {
            c::EOK
        };
        assert_rc!(
            a.claim(n.as_ptr()),
            code,
            "claim {:?}",
            String::from_utf8_lossy(&name)
        );
    }
    let (at_limit, _) = name_at_limit(&env.root);
    assert_rc!(a.claim(cstring(&at_limit).as_ptr()), c::EOK, "claim at the limit");
    let mut longest = b"combstore:/".to_vec();
    longest.resize(c::MAX_SERVERNAME - 1, b'a');
    assert_rc!(
        a.claim(c_bytes(&longest).as_ptr()),
        c::EOK,
        "claim of STS_MAX_SERVERNAME - 1 bytes"
    );
    // a relative path is claimed (it is ours) and refused by the open
    assert_rc!(a.claim(c"combstore:relative".as_ptr()), c::EOK);
}

fn h_strerror(_: &Env) {
    let a = api();
    for code in [i32::MIN, -1, 12345, i32::MAX] {
        let p = a.strerror(code);
        assert!(!p.is_null(), "strerror({code}) is NULL");
        let s = unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap();
        assert_eq!(s, "STS_E?: unknown error code", "strerror({code})");
    }
    let s = unsafe { std::ffi::CStr::from_ptr(a.strerror(c::EAUTH)) }
        .to_str()
        .unwrap();
    assert!(s.starts_with("STS_EAUTH"), "{s}");
}

// ====================================================================== servers

/// Every bad server name refused by `call` with its code, nothing created.
/// `creates`: the call creates missing servers (a missing one is
/// STS_ENOSERVER otherwise, before its path is looked at).
fn expect_server_names_refused(env: &Env, what: &str, creates: bool, call: impl Fn(*const c_char) -> i32) {
    let link = env.root.join("lnk");
    if !link.exists() {
        std::os::unix::fs::symlink(deep_dir(&env.root), &link).unwrap();
    }
    let before = dir_tree(&env.root);
    for (name, code) in bad_server_names(env) {
        let n = c_bytes(&name);
        assert_rc!(
            call(n.as_ptr()),
            code,
            "{what} {:?}",
            String::from_utf8_lossy(&name)
        );
    }
    // a short path through a symbolic link whose real path is over the
    // limit (SQLite opens the real path)
    let real_len = std::fs::canonicalize(&link).unwrap().as_os_str().len();
    let via_link = link.join("x".repeat(MAX_DIR + 1 - real_len - 1));
    assert!(via_link.as_os_str().len() < MAX_DIR);
    let n = cstring(&server_name_for(&via_link));
    let code = if creates { c::ENAME } else { c::ENOSERVER };
    assert_rc!(
        call(n.as_ptr()),
        code,
        "{what} through a link to a long real path"
    );
    assert!(!via_link.exists());
    // a relative path names no server (and creates nothing in the cwd)
    assert_rc!(
        call(c"combstore:relative".as_ptr()),
        c::ENOSERVER,
        "{what} relative"
    );
    assert_rc!(call(c"combstore:../escape".as_ptr()), c::ENOSERVER, "{what} ../");
    assert_eq!(
        dir_tree(&env.root),
        before,
        "{what}: a refused name changed the disk"
    );
}

fn h_open_server(env: &Env) {
    let a = api();
    expect_server_names_refused(env, "open_server", true, |n| {
        let mut sh: sts_server_handle_t = bogus(0x5151);
        let rc = a.open_server(n, ptr::null(), &mut sh);
        assert_eq!(sh, bogus(0x5151), "handle written on error");
        rc
    });
    // exactly at the limit: created, and named back byte for byte
    let (name, path) = name_at_limit(&env.root);
    let sh = open_server_or_panic(&name);
    assert_eq!(server_name_of(sh), name);
    assert!(path.join("catalog.db").is_file());
    assert_rc!(a.close_server(sh), c::EOK);
    // credentials on a server without them: ignored, but their strings
    // must be terminated; the secret may be any bytes
    let n = cstring(&env.name);
    let mut cred = sts_cred_t::default();
    set_cstr(&mut cred.sc_user, b"anyone");
    set_cstr(&mut cred.sc_secret, b"\xff\xfe not UTF-8");
    let mut sh: sts_server_handle_t = ptr::null_mut();
    assert_rc!(
        a.open_server(n.as_ptr(), &cred, &mut sh),
        c::EOK,
        "non-UTF-8 secret"
    );
    assert_rc!(a.close_server(sh), c::EOK);
    let mut bad = [cred, cred, cred];
    fill_unterminated(&mut bad[0].sc_secret, b's');
    fill_unterminated(&mut bad[1].sc_user, b'u');
    set_cstr(&mut bad[2].sc_user, b"\xff");
    for (cr, what) in bad
        .iter()
        .zip(["unterminated secret", "unterminated user", "non-UTF-8 user"])
    {
        assert_rc!(a.open_server(n.as_ptr(), cr, &mut sh), c::ENAME, "{what}");
    }
}

fn h_close_server(env: &Env) {
    let a = api();
    let sh = open_server_or_panic(&env.name);
    expect_double_close("close_server", sh, |h| a.close_server(h), bogus(usize::MAX));
    for h in [usize::MAX / 2, 1 << 40] {
        assert_rc!(a.close_server(bogus(h)), c::EHANDLE, "fabricated {h:#x}");
    }
    // a handle of another kind
    let ih = open(&env.lsu(), &env.keeper, c::O_READ);
    assert_rc!(a.close_server(ih.cast()), c::EHANDLE, "image handle");
    close(ih, 0);
}

/// `call` on a server handle that was closed and on a fabricated one:
/// STS_EHANDLE both times.
fn expect_dead_server_handles(env: &Env, what: &str, mut call: impl FnMut(sts_server_handle_t) -> i32) {
    let sh = open_server_or_panic(&env.name);
    assert_rc!(api().close_server(sh), c::EOK);
    assert_rc!(call(sh), c::EHANDLE, "{what}: closed server handle");
    assert_rc!(
        call(bogus(usize::MAX)),
        c::EHANDLE,
        "{what}: fabricated server handle"
    );
}

/// A handle from `open` closes once (EOK), then STS_EHANDLE, as does a
/// fabricated one.
fn expect_double_close<H: Copy>(what: &str, h: H, close: impl Fn(H) -> i32, fabricated: H) {
    assert_rc!(close(h), c::EOK, "{what}");
    assert_rc!(close(h), c::EHANDLE, "{what}: double close");
    assert_rc!(close(fabricated), c::EHANDLE, "{what}: fabricated");
}

fn h_get_server_prop(env: &Env) {
    let a = api();
    assert_eq!(
        server_name_of(env.sh),
        env.name,
        "srv_server names the server exactly"
    );
    let mut info = sts_server_info_t::default();
    info.srv_lsu_count = 0x5151;
    expect_dead_server_handles(env, "get_server_prop", |sh| a.get_server_prop(sh, &mut info));
    assert_eq!(info.srv_lsu_count, 0x5151);
}

fn h_get_server_prop_byname(env: &Env) {
    let a = api();
    expect_server_names_refused(env, "get_server_prop_byname", false, |n| {
        let mut info = sts_server_info_t::default();
        a.get_server_prop_byname(n, ptr::null(), &mut info)
    });
    // never creates: a missing directory, even one whose parent exists
    let missing = server_name_for(&env.root.join("missing"));
    assert_eq!(server_info_byname(&missing).map(|_| ()), Err(c::ENOSERVER));
    assert!(!env.root.join("missing").exists());
    let (name, _) = name_at_limit(&env.root);
    assert_eq!(cstr(&server_info_byname(&name).unwrap().srv_server), name);
}

// ====================================================================== LSUs

fn h_open_lsu_list(env: &Env) {
    let mut lh: sts_lsu_list_handle_t = ptr::null_mut();
    expect_dead_server_handles(env, "open_lsu_list", |sh| api().open_lsu_list(sh, &mut lh));
    assert!(lh.is_null());
}

fn h_list_lsu(env: &Env) {
    let a = api();
    // the at-limit LSU name comes back byte for byte (internal LSUs never)
    let names = list_lsus(env.sh);
    assert_eq!(names, vec![env.long_lsu.clone(), "default".to_owned()]);
    let mut lh: sts_lsu_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_lsu_list(env.sh, &mut lh), c::EOK);
    assert_rc!(a.close_lsu_list(lh), c::EOK);
    let mut n = sts_lsu_name_t::default();
    assert_rc!(a.list_lsu(lh, &mut n), c::EHANDLE, "closed list");
    assert_rc!(
        a.list_lsu(env.sh.cast(), &mut n),
        c::EHANDLE,
        "server handle as list"
    );
}

fn h_close_lsu_list(env: &Env) {
    let a = api();
    let mut lh: sts_lsu_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_lsu_list(env.sh, &mut lh), c::EOK);
    expect_double_close("close_lsu_list", lh, |h| a.close_lsu_list(h), bogus(usize::MAX));
}

fn h_get_lsu_prop_byname(env: &Env) {
    let a = api();
    for (what, n) in bad_lsu_names() {
        let lsu = sts_lsu_t {
            sl_server_handle: env.sh,
            sl_lsu_name: n,
        };
        let mut info = sts_lsu_info_t::default();
        info.lsu_images = 0x5151;
        assert_rc!(a.get_lsu_prop_byname(&lsu, &mut info), c::ENAME, "{what}");
        assert_eq!(info.lsu_images, 0x5151);
    }
    let info = lsu_info(&lsu_t(env.sh, &env.long_lsu)).expect("at-limit LSU");
    assert_eq!(cstr(&info.lsu_name.sln_name), env.long_lsu);
    // internal LSUs are not the plugin API's
    assert_eq!(lsu_info(&lsu_t(env.sh, ".archive")).map(|_| ()), Err(c::ENOLSU));
}

// ====================================================================== images

/// Every name-taking image call refuses every bad def with STS_ENAME and
/// creates nothing.
fn expect_defs_refused(env: &Env, lsu: &sts_lsu_t) {
    let a = api();
    let before = list_images(lsu);
    for (what, def) in bad_defs() {
        let mut ih: sts_image_handle_t = bogus(0x5151);
        assert_rc!(a.create_image(lsu, &def, 0, &mut ih), c::ENAME, "create {what}");
        for mode in [c::O_READ, c::O_WRITE] {
            assert_rc!(a.open_image(lsu, &def, mode, &mut ih), c::ENAME, "open {what}");
        }
        assert_eq!(ih, bogus(0x5151));
        assert_rc!(a.delete_image(lsu, &def, 0), c::ENAME, "delete {what}");
        assert_rc!(a.delete_image(lsu, &def, 1), c::ENAME, "async delete {what}");
        let mut info = sts_image_info_t::default();
        assert_rc!(
            a.get_image_prop_byname(lsu, &def, &mut info),
            c::ENAME,
            "prop {what}"
        );
    }
    assert_eq!(list_images(lsu), before, "a refused name created an image");
    env.assert_keeper_intact();
}

fn h_create_image(env: &Env) {
    let a = api();
    expect_defs_refused(env, &env.lsu());
    expect_defs_refused(env, &lsu_t(env.sh, &env.long_lsu));
    // names exactly at the limits work and come back byte for byte,
    // multi-byte UTF-8 included (254 bytes of 2-byte characters + 1)
    let long_base = "b".repeat(c::MAX_IMAGENAME - 1);
    let long_date = "9".repeat(c::MAX_DATE - 1);
    let utf8_base = format!("{}x", "é".repeat((c::MAX_IMAGENAME - 2) / 2));
    assert_eq!(utf8_base.len(), c::MAX_IMAGENAME - 1);
    let lsu = lsu_t(env.sh, &env.long_lsu);
    for (base, date) in [(&long_base, &long_date), (&utf8_base, &String::new())] {
        let def = image_def(base, date);
        let mut ih: sts_image_handle_t = ptr::null_mut();
        // pendingflag is a hint: any value
        assert_rc!(
            a.create_image(&lsu, &def, i32::MIN, &mut ih),
            c::EOK,
            "at-limit create"
        );
        write_all(ih, &seeded(7, 512), 0);
        close(ih, c::CLOSE_COMPLETE);
        let info = must_prop_byname(&lsu, &def);
        assert_eq!(cbytes(&info.imo_def.img_basename), base.as_bytes());
        assert_eq!(cbytes(&info.imo_def.img_date), date.as_bytes());
        assert_eq!(cbytes(&info.imo_lsu.sln_name), env.long_lsu.as_bytes());
    }
    let listed = list_images(&lsu);
    assert!(
        listed.contains(&(long_base.into_bytes(), long_date.into_bytes())),
        "{listed:?}"
    );
    assert!(listed.contains(&(utf8_base.into_bytes(), Vec::new())));
}

fn h_write_image(env: &Env) {
    let a = api();
    let ih = new_writer(env, "w_huge");
    let buf = seeded(3, 4096);
    let mut n = 0x5151u64;
    // huge lengths are refused before the buffer is touched (NULL too)
    for len in [u64::MAX, u64::MAX - 511, 1 << 63, c::MAX_IO + c::BLOCK] {
        assert_rc!(
            a.write_image(ih, ptr::null(), ptr::null(), len, 0, &mut n),
            c::ETOOBIG,
            "len {len:#x} with NULL buf"
        );
        assert_rc!(
            a.write_image(ih, ptr::null(), buf.as_ptr().cast(), len, 0, &mut n),
            c::ETOOBIG,
            "len {len:#x}"
        );
    }
    // offsets whose end passes 2^64, or 2^63 (the catalog's integers)
    for off in [
        u64::MAX - 511,
        u64::MAX - 4095,
        !511u64,
        1 << 63,
        (1 << 63) - 4096,
    ] {
        assert_rc!(
            a.write_image(ih, ptr::null(), buf.as_ptr().cast(), 4096, off, &mut n),
            c::ERANGE,
            "4096 at {off:#x}"
        );
    }
    assert_eq!(n, 0x5151, "byteswritten written on error");
    assert_eq!(prop(ih).unwrap().imo_size, 0, "refused writes changed the size");
    // byteswritten overlapping the input: the bytes stored are those the
    // call was given (the count is written after they were taken)
    let mut alias = seeded(4, 1024);
    let want = alias.clone();
    let p = alias.as_mut_ptr();
    assert_rc!(
        a.write_image(ih, ptr::null(), p.cast(), 1024, 0, p.cast::<u64>()),
        c::EOK
    );
    assert_eq!(u64::from_ne_bytes(alias[..8].try_into().unwrap()), 1024);
    close(ih, c::CLOSE_COMPLETE);
    assert_bytes_eq(
        &read_image(&env.lsu(), &image_def("w_huge", "")),
        &want,
        "aliased write",
    );
}

fn h_flush(env: &Env) {
    let a = api();
    let ih = new_writer(env, "f_closed");
    close(ih, c::CLOSE_INCOMPLETE);
    assert_rc!(a.flush(ih), c::EHANDLE, "closed");
    assert_rc!(a.flush(bogus(usize::MAX)), c::EHANDLE, "fabricated");
    assert_rc!(a.flush(env.sh.cast()), c::EHANDLE, "server handle");
    let rh = open(&env.lsu(), &env.keeper, c::O_READ);
    assert_rc!(a.flush(rh), c::EMODE, "read handle");
    close(rh, 0);
}

fn h_close_image(env: &Env) {
    let a = api();
    let ih = new_writer(env, "c_flags");
    for flags in [i32::MIN, i32::MAX, -1, 4] {
        assert_rc!(a.close_image(ih, flags), c::EINVAL, "flags {flags:#x}");
    }
    assert_rc!(
        write_at(ih, &seeded(1, 512), 0),
        c::EOK,
        "handle stays open after EINVAL"
    );
    close(ih, c::CLOSE_COMPLETE);
    assert_rc!(a.close_image(ih, c::CLOSE_COMPLETE), c::EHANDLE, "double close");
    assert_rc!(a.close_image(bogus(usize::MAX), 0), c::EHANDLE, "fabricated");
}

fn h_open_image(env: &Env) {
    let a = api();
    // an invalid mode is refused whatever the image's state
    for (def, mode) in [env.keeper, env.pending]
        .into_iter()
        .flat_map(|d| [i32::MIN, i32::MAX, -1, 0, 3].map(|m| (d, m)))
    {
        let mut ih: sts_image_handle_t = ptr::null_mut();
        assert_rc!(
            a.open_image(&env.lsu(), &def, mode, &mut ih),
            c::EINVAL,
            "mode {mode}"
        );
        assert!(ih.is_null());
    }
}

fn h_read_image(env: &Env) {
    let a = api();
    let rh = open(&env.lsu(), &env.keeper, c::O_READ);
    let size = env.data.len() as u64;
    let mut buf = vec![0x77u8; 8192];
    let mut n = 0x5151u64;
    for len in [u64::MAX, u64::MAX - 511, 1 << 63, c::MAX_IO + c::BLOCK] {
        assert_rc!(
            a.read_image(rh, ptr::null_mut(), len, 0, &mut n),
            c::ETOOBIG,
            "len {len:#x}"
        );
    }
    for off in [u64::MAX - 511, 1 << 63, size + 512] {
        assert_rc!(
            a.read_image(rh, buf.as_mut_ptr().cast(), 4096, off, &mut n),
            c::ERANGE,
            "at {off:#x}"
        );
    }
    assert_eq!(n, 0x5151);
    assert!(buf.iter().all(|b| *b == 0x77), "buffer written on error");
    // at the end: 0 bytes; a read straddling the end: short
    assert_eq!(read_at(rh, 4096, size).unwrap().len(), 0);
    assert_eq!(
        read_at(rh, 8192, size - 4096).unwrap(),
        env.data[env.data.len() - 4096..]
    );
    // bytesread overlapping the buffer: the bytes first, then the count
    let p = buf.as_mut_ptr();
    assert_rc!(a.read_image(rh, p.cast(), 4096, 0, p.cast::<u64>()), c::EOK);
    assert_eq!(u64::from_ne_bytes(buf[..8].try_into().unwrap()), 4096);
    assert_eq!(buf[8..4096], env.data[8..4096]);
    close(rh, 0);
}

fn h_delete_image(env: &Env) {
    // names: expect_defs_refused covers both delete modes; here a delete
    // of an image whose name is at the limit works
    let def = image_def(&"d".repeat(c::MAX_IMAGENAME - 1), &"1".repeat(c::MAX_DATE - 1));
    let ih = create(&env.lsu(), &def);
    close(ih, c::CLOSE_INCOMPLETE);
    assert_rc!(api().delete_image(&env.lsu(), &def, 0), c::EOK);
    assert_eq!(prop_byname(&env.lsu(), &def).map(|_| ()), Err(c::ENOENT));
}

fn h_open_image_list(env: &Env) {
    let a = api();
    for (what, n) in bad_lsu_names() {
        let lsu = sts_lsu_t {
            sl_server_handle: env.sh,
            sl_lsu_name: n,
        };
        let mut lh: sts_image_list_handle_t = ptr::null_mut();
        assert_rc!(a.open_image_list(&lsu, &mut lh), c::ENAME, "{what}");
        assert!(lh.is_null());
    }
}

fn h_list_image(env: &Env) {
    let a = api();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(&env.lsu(), &mut lh), c::EOK);
    assert_rc!(a.close_image_list(lh), c::EOK);
    let mut def = image_def("untouched", "");
    assert_rc!(a.list_image(lh, &mut def), c::EHANDLE, "closed list");
    assert_rc!(
        a.list_image(env.sh.cast(), &mut def),
        c::EHANDLE,
        "server handle as list"
    );
    assert_eq!(cstr(&def.img_basename), "untouched");
}

fn h_close_image_list(env: &Env) {
    let a = api();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(&env.lsu(), &mut lh), c::EOK);
    expect_double_close(
        "close_image_list",
        lh,
        |h| a.close_image_list(h),
        bogus(usize::MAX),
    );
}

fn h_get_image_prop(env: &Env) {
    let a = api();
    let rh = open(&env.lsu(), &env.keeper, c::O_READ);
    close(rh, 0);
    let mut info = sts_image_info_t::default();
    assert_rc!(a.get_image_prop(rh, &mut info), c::EHANDLE, "closed");
    assert_rc!(
        a.get_image_prop(env.sh.cast(), &mut info),
        c::EHANDLE,
        "server handle"
    );
    assert_rc!(
        a.get_image_prop(bogus(usize::MAX), &mut info),
        c::EHANDLE,
        "fabricated"
    );
}

fn h_get_image_prop_byname(env: &Env) {
    let a = api();
    // the out-parameter overlapping the name it is looked up by: a caller
    // refreshing its sts_image_info_t in place
    let mut info = sts_image_info_t::default();
    info.imo_def = env.keeper;
    let p: *mut sts_image_info_t = &mut info;
    // SAFETY: p points to `info`, alive for the call
    let def_ptr: *const sts_image_def_t = unsafe { &raw const (*p).imo_def };
    assert_rc!(a.get_image_prop_byname(&env.lsu(), def_ptr, p), c::EOK);
    assert_eq!(cstr(&info.imo_def.img_basename), "keeper");
    assert_eq!(info.imo_size, env.data.len() as u64);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&env.data));
}

// ====================================================================== metadata

fn h_read_image_meta(env: &Env) {
    let a = api();
    let rh = open(&env.lsu(), &env.keeper, c::O_READ);
    let mut buf = vec![0x77u8; 64];
    let mut n = 0x5151u64;
    for len in [u64::MAX, c::MAX_META + 1] {
        assert_rc!(
            a.read_image_meta(rh, ptr::null_mut(), len, 0, &mut n),
            c::ETOOBIG,
            "len {len:#x}"
        );
    }
    for off in [u64::MAX, u64::MAX - 1, 1 << 63, 16] {
        assert_rc!(
            a.read_image_meta(rh, buf.as_mut_ptr().cast(), 64, off, &mut n),
            c::ERANGE,
            "at {off:#x}"
        );
    }
    assert_eq!(n, 0x5151);
    assert!(buf.iter().all(|b| *b == 0x77));
    close(rh, 0);
}

fn h_write_image_meta(env: &Env) {
    let a = api();
    let ih = new_writer(env, "meta_limits");
    let mut n = 0x5151u64;
    let one = [0x42u8];
    for (len, off) in [
        (u64::MAX, 0u64),
        (c::MAX_META + 1, 0),
        (1, c::MAX_META),
        (1, u64::MAX),
        (2, u64::MAX - 1),
        (u64::MAX, 1),
    ] {
        assert_rc!(
            a.write_image_meta(ih, one.as_ptr().cast(), len, off, &mut n),
            c::ETOOBIG,
            "{len:#x} at {off:#x}"
        );
    }
    assert_eq!(n, 0x5151);
    assert_eq!(
        meta_read(ih, 16, 0).map(|v| v.len()),
        Ok(0),
        "refused writes stored metadata"
    );
    // the last byte of the allowed range: works, gap reads as zeros
    assert_rc!(meta_write(ih, &one, c::MAX_META - 1), c::EOK, "last byte");
    assert_eq!(meta_read(ih, 1, c::MAX_META - 1).unwrap(), one);
    assert_eq!(meta_read(ih, 4, c::MAX_META - 5).unwrap(), [0, 0, 0, 0]);
    // one buffer for both calls: write from it, read back into it
    let mut buf = seeded(9, 4096);
    let want = buf.clone();
    assert_rc!(
        a.write_image_meta(ih, buf.as_ptr().cast(), 4096, 100, &mut n),
        c::EOK
    );
    buf.fill(0);
    assert_rc!(
        a.read_image_meta(ih, buf.as_mut_ptr().cast(), 4096, 100, &mut n),
        c::EOK
    );
    assert_eq!((n, &buf), (4096, &want));
    // byteswritten overlapping the input
    let p = buf.as_mut_ptr();
    assert_rc!(a.write_image_meta(ih, p.cast(), 64, 0, p.cast::<u64>()), c::EOK);
    assert_eq!(meta_read(ih, 64, 0).unwrap(), want[..64]);
    close(ih, c::CLOSE_INCOMPLETE);
}

// ====================================================================== duplication

fn h_open_target_server(env: &Env) {
    let a = api();
    expect_server_names_refused(env, "open_target_server", true, |n| {
        let mut t: sts_server_handle_t = ptr::null_mut();
        a.open_target_server(env.sh, n, ptr::null(), &mut t)
    });
    let n = cstring(&env.tgt_name);
    let mut t: sts_server_handle_t = ptr::null_mut();
    expect_dead_server_handles(env, "open_target_server (source)", |sh| {
        a.open_target_server(sh, n.as_ptr(), ptr::null(), &mut t)
    });
    assert!(!env.root.join("tgt").exists(), "a refused target was created");
}

/// The classes shared by stsp_copy_extent and stsp_include_in_image.
fn copy_ranges(
    env: &Env,
    what: &str,
    call: impl Fn(sts_image_handle_t, sts_image_handle_t, u64, u64, u64, i32, *mut u64) -> i32,
) {
    let src = open(&env.lsu(), &env.keeper, c::O_READ);
    let dst = new_writer(env, &format!("{what}_target"));
    let size = env.data.len() as u64;
    let mut n = 0x5151u64;
    for (from, to, len) in [
        (0u64, 0u64, !511u64),
        (0, 0, size + 512),
        (!511u64, 0, 512),
        (size - 512, 0, !511u64),
        (0, !511u64, 512),
        (0, u64::MAX - 4095, 4096),
        (0, 1 << 63, 512),
        (0, (1 << 63) - 512, 512),
    ] {
        assert_rc!(
            call(src, dst, from, to, len, 0, &mut n),
            c::ERANGE,
            "{what} {from:#x} -> {to:#x} len {len:#x}"
        );
    }
    for flags in [i32::MIN, -1, 4] {
        assert_rc!(
            call(src, dst, 0, 0, 512, flags, &mut n),
            c::EINVAL,
            "{what} flags {flags:#x}"
        );
    }
    // within one image: the same handle on both sides
    assert_rc!(
        call(dst, dst, 0, 512, 512, 0, &mut n),
        c::EINVAL,
        "{what} same handle"
    );
    assert_eq!(n, 0x5151);
    assert_eq!(
        prop(dst).unwrap().imo_size,
        0,
        "refused copies changed the target"
    );
    // the whole source, exactly
    assert_rc!(
        call(src, dst, 0, 0, size, 0, &mut n),
        c::EOK,
        "{what} whole source"
    );
    assert_eq!(n, size);
    close(dst, c::CLOSE_COMPLETE);
    close(src, 0);
    let got = read_image(&env.lsu(), &image_def(&format!("{what}_target"), ""));
    assert_bytes_eq(&got, &env.data, what);
}

fn h_copy_extent(env: &Env) {
    let a = api();
    copy_ranges(env, "copy_extent", |f, t, fo, to, l, fl, n| {
        a.copy_extent(f, t, fo, to, l, fl, n)
    });
}

fn h_include_in_image(env: &Env) {
    let a = api();
    copy_ranges(env, "include", |f, t, fo, to, l, fl, n| {
        a.include_in_image(f, t, fo, to, l, fl, n)
    });
}

/// Names refused on either side of a copy, and a copy of an image onto
/// itself.
fn expect_copy_defs_refused(env: &Env, what: &str, call: impl Fn(&sts_image_def_t, &sts_image_def_t) -> i32) {
    let before = list_images(&env.lsu());
    for (w, def) in bad_defs() {
        assert_rc!(call(&def, &env.keeper), c::ENAME, "{what} to {w}");
        assert_rc!(call(&image_def("fresh", ""), &def), c::ENAME, "{what} from {w}");
    }
    assert_rc!(call(&env.keeper, &env.keeper), c::EEXIST, "{what} onto itself");
    assert_eq!(list_images(&env.lsu()), before);
    env.assert_keeper_intact();
}

fn h_copy_image(env: &Env) {
    let a = api();
    let lsu = env.lsu();
    expect_copy_defs_refused(env, "copy_image", |to, from| {
        a.copy_image(&lsu, to, &lsu, from, 0)
    });
    for flags in [i32::MIN, -1, 1] {
        assert_rc!(
            a.copy_image(&lsu, &image_def("fresh", ""), &lsu, &env.keeper, flags),
            c::EINVAL,
            "flags {flags:#x}"
        );
    }
    // to a target server (the one directory besides srv under root)
    let t = open_target_server(env.sh, &env.tgt_name).expect("target server");
    let long = image_def(&"c".repeat(c::MAX_IMAGENAME - 1), &"2".repeat(c::MAX_DATE - 1));
    assert_rc!(
        a.copy_image(&lsu_t(t, "default"), &long, &lsu, &env.keeper, 0),
        c::EOK
    );
    assert_rc!(a.close_server(t), c::EOK);
    let tsh = open_server_or_panic(&env.tgt_name);
    assert_bytes_eq(
        &read_image(&lsu_t(tsh, "default"), &long),
        &env.data,
        "cross-server copy",
    );
    assert_rc!(a.close_server(tsh), c::EOK);
}

// ====================================================================== events and operations

fn open_evc(sh: sts_server_handle_t) -> sts_evchannel_handle_t {
    let mut evc: sts_evchannel_handle_t = ptr::null_mut();
    assert_rc!(api().open_evchannel(sh, &mut evc), c::EOK);
    evc
}

fn h_open_evchannel(env: &Env) {
    let mut evc: sts_evchannel_handle_t = ptr::null_mut();
    expect_dead_server_handles(env, "open_evchannel", |sh| api().open_evchannel(sh, &mut evc));
    assert!(evc.is_null());
}

fn h_get_event(env: &Env) {
    let a = api();
    // two events are stored (the labels below raise one each), so even
    // the longest timeouts return at once
    for label in [c"for get_event 1", c"for get_event 2"] {
        assert_rc!(a.label_lsu(&env.lsu(), label.as_ptr()), c::EOK);
    }
    let evc = open_evc(env.sh);
    for timeout in [c::TIMEOUT_INFINITE, u32::MAX - 1] {
        let mut ev = sts_event_t::default();
        assert_rc!(a.get_event(evc, timeout, &mut ev), c::EOK, "timeout {timeout:#x}");
    }
    assert_rc!(a.close_evchannel(evc), c::EOK);
    let mut ev = sentinel_event();
    assert_rc!(a.get_event(evc, 0, &mut ev), c::EHANDLE, "closed channel");
    assert_rc!(
        a.get_event(env.sh.cast(), 0, &mut ev),
        c::EHANDLE,
        "server handle"
    );
    assert_event_untouched(&ev, "get_event on error");
}

fn h_delete_event(env: &Env) {
    let a = api();
    let evc = open_evc(env.sh);
    for id in [0u64, u64::MAX, i64::MAX as u64, 1 << 63] {
        assert_rc!(a.delete_event(evc, id), c::ENOENT, "event {id:#x}");
    }
    assert_rc!(a.close_evchannel(evc), c::EOK);
    assert_rc!(a.delete_event(evc, 1), c::EHANDLE, "closed channel");
}

fn h_close_evchannel(env: &Env) {
    let a = api();
    expect_double_close(
        "close_evchannel",
        open_evc(env.sh),
        |h| a.close_evchannel(h),
        bogus(usize::MAX),
    );
}

fn h_async_copy_image(env: &Env) {
    let a = api();
    let lsu = env.lsu();
    expect_copy_defs_refused(env, "async_copy_image", |to, from| {
        let mut id = 0x5151u64;
        let rc = a.async_copy_image(&lsu, to, &lsu, from, 0, &mut id);
        assert_eq!(id, 0x5151, "op id written on error");
        rc
    });
}

/// Operation names refused with STS_ENAME by every call taking one.
fn bad_op_names() -> Vec<Vec<u8>> {
    vec![
        b"".to_vec(),
        b"../op".to_vec(),
        b"/op".to_vec(),
        b"o/p".to_vec(),
        b"..".to_vec(),
        b"\xff".to_vec(),
        b"\xc0\xaf".to_vec(),
        b"op\n".to_vec(),
        vec![b'o'; c::MAX_OPNAME],
        vec![b'o'; 1 << 20],
    ]
}

fn long_op() -> String {
    "o".repeat(c::MAX_OPNAME - 1)
}

fn h_named_async_copy_image(env: &Env) {
    let a = api();
    let lsu = env.lsu();
    let before = list_images(&lsu);
    for name in bad_op_names() {
        let n = c_bytes(&name);
        assert_rc!(
            a.named_async_copy_image(&lsu, &image_def("fresh", ""), &lsu, &env.keeper, 0, n.as_ptr()),
            c::ENAME,
            "op name {:?}",
            String::from_utf8_lossy(&name[..name.len().min(40)])
        );
    }
    assert_eq!(list_images(&lsu), before);
    expect_copy_defs_refused(env, "named_async_copy_image", |to, from| {
        a.named_async_copy_image(&lsu, to, &lsu, from, 0, c"named".as_ptr())
    });
    // a name exactly at the limit: started, then waited for below
    assert_rc!(
        named_copy(&lsu, &image_def("named_copy", ""), &lsu, &env.keeper, &long_op()),
        c::EOK
    );
}

fn h_named_async_wait(env: &Env) {
    let a = api();
    for name in bad_op_names() {
        let n = c_bytes(&name);
        let mut st = OP_STATUS_SENTINEL;
        assert_rc!(
            a.named_async_wait(env.sh, n.as_ptr(), 0, &mut st),
            c::ENAME,
            "op name"
        );
        assert_eq!(st, OP_STATUS_SENTINEL);
    }
    // the at-limit name started above; a huge timeout returns when it ends
    assert_eq!(
        named_wait(env.sh, &long_op(), c::TIMEOUT_INFINITE),
        (c::EOK, c::EOK)
    );
    assert_eq!(
        named_wait(env.sh, &long_op(), u32::MAX - 1),
        (c::EOK, c::EOK),
        "finished: at once"
    );
    assert_bytes_eq(
        &read_image(&env.lsu(), &image_def("named_copy", "")),
        &env.data,
        "named copy",
    );
}

fn h_named_async_cancel(env: &Env) {
    let a = api();
    for name in bad_op_names() {
        let n = c_bytes(&name);
        assert_rc!(a.named_async_cancel(env.sh, n.as_ptr()), c::ENAME, "op name");
    }
    // the at-limit name's operation has finished: nothing to cancel
    assert_eq!(named_cancel(env.sh, &long_op()), c::ENOOP);
    assert_rc!(a.named_async_cancel(bogus(usize::MAX), c"x".as_ptr()), c::EHANDLE);
}

fn h_label_lsu(env: &Env) {
    let a = api();
    let lsu = lsu_t(env.sh, &env.long_lsu);
    let label_before = cstr(&lsu_info(&lsu).unwrap().lsu_label);
    for label in [
        b"\xff".to_vec(),
        b"\xed\xa0\x80".to_vec(),
        b"line\nbreak".to_vec(),
        b"del\x7f".to_vec(),
        vec![b'l'; c::MAX_LABEL],
        vec![b'l'; 1 << 20],
    ] {
        let l = c_bytes(&label);
        assert_rc!(
            a.label_lsu(&lsu, l.as_ptr()),
            c::ENAME,
            "label {} bytes",
            label.len()
        );
    }
    assert_eq!(cstr(&lsu_info(&lsu).unwrap().lsu_label), label_before);
    // exactly at the limit, multi-byte characters included ("/.." is just text)
    let at_limit = format!("/..{}", "€".repeat((c::MAX_LABEL - 1 - 3) / 3));
    let at_limit = format!("{at_limit}{}", "x".repeat(c::MAX_LABEL - 1 - at_limit.len()));
    assert_eq!(at_limit.len(), c::MAX_LABEL - 1);
    assert_rc!(a.label_lsu(&lsu, cstring(&at_limit).as_ptr()), c::EOK);
    assert_eq!(cstr(&lsu_info(&lsu).unwrap().lsu_label), at_limit);
}

// ====================================================================== terminate (last)

fn h_terminate(env: &Env) {
    let a = api();
    let rh = open(&env.lsu(), &env.keeper, c::O_READ);
    assert_rc!(a.terminate(), c::EOK);
    assert_rc!(a.terminate(), c::EOK, "terminate twice");
    let mut info = sts_server_info_t::default();
    assert_rc!(
        a.get_server_prop(env.sh, &mut info),
        c::ENOT_INIT,
        "after terminate"
    );
    assert_rc!(
        a.close_image(rh, 0),
        c::EHANDLE,
        "image handle closed by terminate"
    );
    let mut pi = sts_plugin_info_t::default();
    assert_rc!(a.init(c::VERSION, &mut pi), c::EOK, "init again");
    // every handle was closed by terminate; values are never reused
    assert_rc!(
        a.get_server_prop(env.sh, &mut info),
        c::EHANDLE,
        "server handle after terminate"
    );
    assert_rc!(a.get_image_prop(rh, &mut sts_image_info_t::default()), c::EHANDLE);
    let sh = open_server_or_panic(&env.name);
    assert_ne!(sh, env.sh, "handle value reused");
    assert_rc!(a.close_server(sh), c::EOK);
}

// ====================================================================== privacy

/// Every directory under `dir` is 0700 and every file 0600 (permission
/// bits; symbolic links excluded).
fn assert_private(dir: &Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = 0;
    for rel in std::iter::once(PathBuf::new()).chain(dir_tree(dir)) {
        let p = dir.join(&rel);
        let m = std::fs::symlink_metadata(&p).unwrap();
        let mode = m.permissions().mode() & 0o7777;
        let want = if m.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{}: mode {mode:o}, want {want:o}", p.display());
        seen += 1;
    }
    seen
}

/// With umask 0, everything the plugin creates (server directories,
/// catalog and its WAL and shared-memory files, segments, owner locks,
/// the log, the archive schema file) is private to the owner: 0700/0600.
#[test]
fn files_the_plugin_creates_are_private_whatever_the_umask() {
    isolated(
        "hostile::files_the_plugin_creates_are_private_whatever_the_umask",
        || {
            // SAFETY: umask only sets the process's file creation mask.
            unsafe { libc::umask(0) };
            let root = tempfile::TempDir::new().unwrap();
            // a control: with umask 0 an ordinary file is created 0666
            std::fs::write(root.path().join("control"), b"x").unwrap();
            let mode = std::fs::metadata(root.path().join("control")).unwrap();
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
                0o666
            );
            let srv = root.path().join("srv");
            let sh = open_server_or_panic(&server_name_for(&srv));
            let lsu = lsu_t(sh, "default");
            let def = image_def("private", "");
            let ih = create(&lsu, &def);
            write_all(ih, &seeded(1, 3 << 20), 0);
            assert_rc!(meta_write(ih, b"meta", 0), c::EOK);
            close(ih, c::CLOSE_COMPLETE);
            assert_rc!(api().label_lsu(&lsu, c"an event".as_ptr()), c::EOK);
            // a target server, created by a copy
            let tgt = root.path().join("tgt");
            let t = open_target_server(sh, &server_name_for(&tgt)).unwrap();
            assert_rc!(
                api().copy_image(&lsu_t(t, "default"), &def, &lsu, &def, 0),
                c::EOK
            );
            // the archive API writes the schema file
            if crate::common::hc::available() {
                let host = cstring(srv.to_str().unwrap());
                let mut s = ptr::null_mut();
                let rc =
                    unsafe { crate::common::hc::hc_session_create_ez(host.as_ptr().cast_mut(), -1, &mut s) };
                assert_eq!(rc, crate::common::hc::HCERR_OK, "hc session");
                unsafe { crate::common::hc::hc_session_free(s) };
                assert!(srv.join("metadata_config.xml").is_file());
            }
            // while open: WAL, shared memory and lock files exist
            for f in ["catalog.db", "catalog.db-wal", "catalog.db-shm", "combstore.log"] {
                assert!(srv.join(f).is_file(), "{f} exists while the server is open");
            }
            assert!(std::fs::read_dir(srv.join("segments")).unwrap().count() > 0);
            assert!(std::fs::read_dir(srv.join("locks")).unwrap().count() > 0);
            let n = assert_private(&srv) + assert_private(&tgt);
            assert!(n >= 12, "{n} entries checked");
            assert_rc!(api().close_server(t), c::EOK);
            assert_rc!(api().close_server(sh), c::EOK);
            assert_private(&srv);
            assert_private(&tgt);
        },
    );
}

// ====================================================================== credentials

fn cred(user: &[u8], secret: &[u8]) -> sts_cred_t {
    let mut c = sts_cred_t::default();
    set_cstr(&mut c.sc_user, user);
    set_cstr(&mut c.sc_secret, secret);
    c
}

fn open_with(name: &str, cred: Option<&sts_cred_t>) -> Result<sts_server_handle_t, i32> {
    let n = cstring(name);
    let mut sh: sts_server_handle_t = ptr::null_mut();
    match api().open_server(n.as_ptr(), cred.map_or(ptr::null(), |c| c), &mut sh) {
        0 => Ok(sh),
        rc => Err(rc),
    }
}

fn byname_with(name: &str, cred: Option<&sts_cred_t>) -> Result<sts_server_info_t, i32> {
    let n = cstring(name);
    let mut info = sts_server_info_t::default();
    match api().get_server_prop_byname(n.as_ptr(), cred.map_or(ptr::null(), |c| c), &mut info) {
        0 => Ok(info),
        rc => Err(rc),
    }
}

fn lock_files(srv: &Path) -> usize {
    std::fs::read_dir(srv.join("locks")).unwrap().count()
}

/// A server configured with credentials (combstore init --user
/// --password-file) admits a client only with the right user name and
/// secret: STS_EAUTH otherwise, before anything is locked or recovered;
/// STS_SRV_CRED tells a host it needs them; changing or clearing them
/// applies to later opens, not to open handles.
#[test]
fn credentials_gate_open_server() {
    let root = tempfile::TempDir::new().unwrap();
    let srv = root.path().join("srv");
    let pw = root.path().join("pw");
    std::fs::write(&pw, b"s3cret \xff\n").unwrap(); // any bytes; one newline dropped
    let out = cli(&[
        "init",
        srv.to_str().unwrap(),
        "--user",
        "backup",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(out.contains("backup"), "{out}");
    let name = server_name_for(&srv);
    let right = cred(b"backup", b"s3cret \xff");
    let wrong = [
        ("no credentials", None),
        ("wrong secret", Some(cred(b"backup", b"s3cret"))),
        ("secret with the newline", Some(cred(b"backup", b"s3cret \xff\n"))),
        ("longer secret", Some(cred(b"backup", b"s3cret \xffx"))),
        ("empty secret", Some(cred(b"backup", b""))),
        ("wrong user", Some(cred(b"Backup", b"s3cret \xff"))),
        ("empty user", Some(cred(b"", b"s3cret \xff"))),
    ];
    for (what, c) in &wrong {
        assert_eq!(
            open_with(&name, c.as_ref()).map(|_| ()),
            Err(c::EAUTH),
            "open: {what}"
        );
        assert_eq!(
            byname_with(&name, c.as_ref()).map(|_| ()),
            Err(c::EAUTH),
            "byname: {what}"
        );
    }
    assert_eq!(lock_files(&srv), 0, "a refused open left a lock file");
    let mut bad = right;
    fill_unterminated(&mut bad.sc_secret, b's');
    assert_eq!(
        open_with(&name, Some(&bad)).map(|_| ()),
        Err(c::ENAME),
        "unterminated secret"
    );
    // the right credentials
    let sh = open_with(&name, Some(&right)).expect("right credentials");
    let info = server_info(sh).unwrap();
    assert_ne!(info.srv_flags & c::SRV_CRED, 0, "STS_SRV_CRED set");
    assert_ne!(
        byname_with(&name, Some(&right)).unwrap().srv_flags & c::SRV_CRED,
        0
    );
    // a target handle checks the target's credentials
    let other = Server::new();
    let n = cstring(&name);
    let mut t: sts_server_handle_t = ptr::null_mut();
    assert_rc!(
        api().open_target_server(other.sh, n.as_ptr(), ptr::null(), &mut t),
        c::EAUTH
    );
    assert_rc!(
        api().open_target_server(other.sh, n.as_ptr(), &right, &mut t),
        c::EOK
    );
    assert_rc!(api().close_server(t), c::EOK);
    assert_eq!(
        server_info(other.sh).unwrap().srv_flags & c::SRV_CRED,
        0,
        "no credentials, no flag"
    );
    // the archive API cannot pass credentials: refused
    if crate::common::hc::available() {
        let host = cstring(srv.to_str().unwrap());
        let mut s = ptr::null_mut();
        let rc = unsafe { crate::common::hc::hc_session_create_ez(host.as_ptr().cast_mut(), -1, &mut s) };
        assert_eq!(rc, crate::common::hc::HCERR_CONNECTION_FAILED, "hc session");
        assert!(s.is_null());
    }
    // new credentials: later opens need them; the open handle keeps working
    std::fs::write(&pw, b"n3w").unwrap();
    cli(&[
        "-s",
        srv.to_str().unwrap(),
        "credentials",
        "set",
        "--user",
        "ops",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert_eq!(
        open_with(&name, Some(&right)).map(|_| ()),
        Err(c::EAUTH),
        "old credentials"
    );
    let sh2 = open_with(&name, Some(&cred(b"ops", b"n3w"))).expect("new credentials");
    let ih = create(&lsu_t(sh, "default"), &image_def("after_change", ""));
    close(ih, c::CLOSE_COMPLETE);
    assert_rc!(api().close_server(sh2), c::EOK);
    // cleared: every client is admitted, whatever it passes
    cli(&["-s", srv.to_str().unwrap(), "credentials", "clear"]);
    for c in [None, Some(cred(b"x", b"y"))] {
        let h = open_with(&name, c.as_ref()).expect("no credentials required");
        assert_eq!(server_info(h).unwrap().srv_flags & c::SRV_CRED, 0);
        assert_rc!(api().close_server(h), c::EOK);
    }
    assert_rc!(api().close_server(sh), c::EOK);
}

// ====================================================================== the 5800 API

mod hc_hostile {
    use super::*;
    use crate::common::hc::*;
    use std::ffi::c_long;

    /// A session on a fresh server under `root` (made by the CLI).
    fn session(root: &Path) -> *mut hc_session_t {
        let srv = root.join("srv");
        cli(&["init", srv.to_str().unwrap()]);
        let host = cstring(srv.to_str().unwrap());
        let mut s = ptr::null_mut();
        assert_eq!(
            unsafe { hc_session_create_ez(host.as_ptr().cast_mut(), -1, &mut s) },
            HCERR_OK
        );
        s
    }

    unsafe extern "C" fn reader(stream: *mut c_void, buf: *mut c_char, n: c_long) -> c_long {
        let src = unsafe { &mut *stream.cast::<&[u8]>() };
        let k = src.len().min(n as usize);
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), buf.cast::<u8>(), k) };
        *src = &src[k..];
        k as c_long
    }

    unsafe extern "C" fn writer(stream: *mut c_void, buf: *mut c_char, n: c_long) -> c_long {
        let out = unsafe { &mut *stream.cast::<Vec<u8>>() };
        out.extend_from_slice(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), n as usize) });
        n
    }

    fn store(s: *mut hc_session_t, data: &[u8]) -> hc_oid {
        let mut src: &[u8] = data;
        let mut rec = hc_system_record_t::default();
        let rc =
            unsafe { hc_store_both_ez(s, Some(reader), (&raw mut src).cast(), ptr::null_mut(), &mut rec) };
        assert_eq!(rc, HCERR_OK, "store");
        rec.oid
    }

    fn range(s: *mut hc_session_t, oid: &hc_oid, a: i64, b: i64) -> Result<Vec<u8>, hcerr_t> {
        let mut out = Vec::new();
        let rc = unsafe {
            hc_range_retrieve_ez(
                s,
                Some(writer),
                (&raw mut out).cast(),
                oid as *const _ as *mut _,
                a,
                b,
            )
        };
        if rc == HCERR_OK { Ok(out) } else { Err(rc) }
    }

    /// Hosts naming a directory by "." or "..", with control characters,
    /// non-UTF-8, over STS_MAX_SERVER_DIR, or relative connect to nothing
    /// and create nothing, even when they would lead to a real server.
    #[test]
    fn hosts_breaking_the_server_name_rules_connect_nowhere() {
        if !available() {
            return;
        }
        let root = tempfile::TempDir::new().unwrap();
        let s = session(root.path());
        unsafe { hc_session_free(s) };
        let r = root.path().as_os_str().as_bytes();
        let with = |suffix: &[u8]| [r, suffix].concat();
        let mut long = with(b"/");
        long.resize(MAX_DIR + 1, b'h');
        let before = dir_tree(root.path());
        for host in [
            with(b"/srv/../srv"),
            with(b"/./srv"),
            with(b"/srv/."),
            with(b"/x/.."),
            with(b"/srv\n"),
            with(b"/\xffsrv"),
            long,
            b"srv".to_vec(),
            b"../srv".to_vec(),
            b"".to_vec(),
        ] {
            let h = c_bytes(&host);
            let mut s = bogus::<hc_session_t>(0x5151);
            let rc = unsafe { hc_session_create_ez(h.as_ptr().cast_mut(), -1, &mut s) };
            assert_eq!(
                rc,
                HCERR_CONNECTION_FAILED,
                "host {:?}",
                String::from_utf8_lossy(&host)
            );
            assert!(s.is_null(), "*sessionp is NULL after a failure");
        }
        assert_eq!(dir_tree(root.path()), before, "a refused host changed the disk");
    }

    /// Range retrieve with byte positions at the extremes of hc_long_t:
    /// past-the-end ranges are clipped, inverted or negative ones refused.
    #[test]
    fn range_retrieve_with_huge_and_negative_positions() {
        if !available() {
            return;
        }
        let root = tempfile::TempDir::new().unwrap();
        let s = session(root.path());
        let data = seeded(5, 100);
        let oid = store(s, &data);
        assert_eq!(range(s, &oid, 0, i64::MAX).unwrap(), data, "0..MAX");
        assert_eq!(range(s, &oid, 99, i64::MAX).unwrap(), data[99..], "last byte");
        assert_eq!(range(s, &oid, 90, -1).unwrap(), data[90..], "to the end");
        assert_eq!(range(s, &oid, -1, 10).unwrap(), data[..11], "-1: from the start");
        for (a, b) in [
            (i64::MIN, -1),
            (-2, 10),
            (i64::MIN, i64::MAX),
            (10, i64::MIN),
            (10, 5),
            (i64::MAX, 0),
        ] {
            assert_eq!(range(s, &oid, a, b), Err(HCERR_ILLEGAL_ARGUMENT), "({a}, {b})");
        }
        // starting past the end: no bytes, whatever the end
        for (a, b) in [(100, 200), (i64::MAX, i64::MAX), (i64::MAX - 1, -1)] {
            assert_eq!(range(s, &oid, a, b), Ok(Vec::new()), "({a}, {b})");
        }
        unsafe { hc_session_free(s) };
    }

    /// Non-UTF-8 bytes in field names and values: refused with a
    /// documented code (or kept as Latin-1 text for char fields), never
    /// stored as something else.
    #[test]
    fn non_utf8_field_names_and_values() {
        if !available() {
            return;
        }
        let root = tempfile::TempDir::new().unwrap();
        let s = session(root.path());
        let mut n = ptr::null_mut();
        assert_eq!(unsafe { hc_nvr_create(s, 0, &mut n) }, HCERR_OK);
        let name = c_bytes(b"filesystem.\xffmimetype");
        let value = c_bytes(b"text/plain");
        let rc = unsafe { hc_nvr_add_string(n, name.as_ptr().cast_mut(), value.as_ptr().cast_mut()) };
        assert_eq!(rc, HCERR_ILLEGAL_VALUE_FOR_METADATA, "non-UTF-8 field name");
        let rc = unsafe { hc_nvr_add_from_string(n, name.as_ptr().cast_mut(), value.as_ptr().cast_mut()) };
        assert_eq!(
            rc, HCERR_ILLEGAL_VALUE_FOR_METADATA,
            "non-UTF-8 field name (from string)"
        );
        let name = c_bytes(b"filesystem.mimetype");
        let bad = c_bytes(b"text/\xff\xfe");
        let rc = unsafe { hc_nvr_add_string(n, name.as_ptr().cast_mut(), bad.as_ptr().cast_mut()) };
        assert_eq!(rc, HCERR_OK, "a string value is taken as given");
        // ... and refused by the store, which stores nothing
        let mut src: &[u8] = b"data";
        let mut rec = hc_system_record_t::default();
        let rc = unsafe { hc_store_both_ez(s, Some(reader), (&raw mut src).cast(), n, &mut rec) };
        assert_eq!(rc, HCERR_BAD_REQUEST, "store with a non-UTF-8 string value");
        let q = cstring("system.object_id IS NOT NULL");
        let mut rs = ptr::null_mut();
        assert_eq!(
            unsafe { hc_query_ez(s, q.as_ptr().cast_mut(), ptr::null_mut(), 0, 10, &mut rs) },
            HCERR_OK
        );
        let (mut oid, mut fin): (hc_oid, i32) = ([0; 61], 0);
        assert_eq!(
            unsafe { hc_qrs_next_ez(rs, &mut oid, ptr::null_mut(), &mut fin) },
            HCERR_OK
        );
        assert_eq!(fin, 1, "nothing was stored");
        unsafe { hc_qrs_free(rs) };
        unsafe { hc_nvr_free(n) };
        unsafe { hc_session_free(s) };
    }

    /// One array for both names and values (each field's value is its own
    /// name) works; a count far beyond the arrays stops at the first bad
    /// item instead of reserving memory for it (which would abort the
    /// host).
    #[test]
    fn string_arrays_aliased_and_huge_counts() {
        if !available() {
            return;
        }
        isolated(
            "hostile::hc_hostile::string_arrays_aliased_and_huge_counts",
            || {
                let root = tempfile::TempDir::new().unwrap();
                let s = session(root.path());
                let field = cstring("filesystem.mimetype");
                let mut arr = [field.as_ptr().cast_mut()];
                let mut n = ptr::null_mut();
                let rc = unsafe {
                    hc_nvr_create_from_string_arrays(s, &mut n, arr.as_mut_ptr(), arr.as_mut_ptr(), 1)
                };
                assert_eq!(rc, HCERR_OK, "aliased names and values");
                let mut v: hc_string_t = ptr::null_mut();
                assert_eq!(
                    unsafe { hc_nvr_get_string(n, field.as_ptr().cast_mut(), &mut v) },
                    HCERR_OK
                );
                assert_eq!(unsafe { std::ffi::CStr::from_ptr(v) }, field.as_c_str());
                unsafe { hc_nvr_free(n) };
                let unknown = cstring("no.such.field");
                let mut arr = [unknown.as_ptr().cast_mut()];
                for count in [1i64 << 40, i64::MAX] {
                    let mut n = ptr::null_mut();
                    let rc = unsafe {
                        hc_nvr_create_from_string_arrays(s, &mut n, arr.as_mut_ptr(), arr.as_mut_ptr(), count)
                    };
                    assert_eq!(rc, HCERR_ILLEGAL_VALUE_FOR_METADATA, "count {count:#x}");
                    assert!(n.is_null());
                }
                let mut rs = ptr::null_mut();
                let mut selects = [ptr::null_mut::<c_char>()];
                let q = cstring("system.object_id IS NOT NULL");
                let rc = unsafe {
                    hc_query_ez(
                        s,
                        q.as_ptr().cast_mut(),
                        selects.as_mut_ptr(),
                        i32::MAX,
                        10,
                        &mut rs,
                    )
                };
                assert_eq!(rc, HCERR_ILLEGAL_ARGUMENT, "i32::MAX selects, the first NULL");
                unsafe { hc_session_free(s) };
            },
        );
    }
}
