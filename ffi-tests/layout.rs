//! The C compiler's view of stsi.h (ffi-tests/c/layout.c, built with `cc`)
//! against the Rust view the plugin is built from (combstore::sys).

use crate::common::*;
use std::collections::BTreeSet;
use std::mem::{align_of, offset_of, size_of, size_of_val};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Build and run layout.c once; its output lines.
fn c_view() -> &'static Vec<String> {
    static OUT: OnceLock<Vec<String>> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::TempDir::new().unwrap();
        let exe = dir.path().join("layout");
        let root = PathBuf::from(ROOT);
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-DSTS_EXTERNAL_VENDOR"])
            .arg(format!("-I{}", root.join("include").display()))
            .arg(format!("-I{}", root.join("platforms/linux").display()))
            .arg(root.join("ffi-tests/c/layout.c"))
            .arg("-o")
            .arg(&exe)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cc}: {e} (a C compiler is required: make deps)"));
        assert!(
            out.status.success(),
            "{cc} failed on layout.c:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = Command::new(&exe).output().expect("run layout");
        assert!(run.status.success(), "layout exited {:?}", run.status);
        String::from_utf8(run.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    })
}

fn rust_view() -> Vec<String> {
    let mut v = Vec::new();
    macro_rules! s {
        ($t:ident) => {
            v.push(format!(
                "S {} {} {}",
                stringify!($t),
                size_of::<sys::$t>(),
                align_of::<sys::$t>()
            ))
        };
    }
    macro_rules! f {
        ($t:ident, $($f:ident),+) => {{
            let x: sys::$t = Default::default();
            $( v.push(format!("F {}.{} {} {}", stringify!($t), stringify!($f), offset_of!(sys::$t, $f), size_of_val(&x.$f))); )+
        }};
    }
    macro_rules! h {
        ($t:ident) => {
            v.push(format!("H {} {}", stringify!($t), size_of::<sys::$t>()))
        };
    }
    macro_rules! k {
        ($($k:ident),+ $(,)?) => { $( v.push(format!("K {} {}", stringify!($k), sys::$k as i64)); )+ };
    }
    s!(sts_plugin_info_t);
    f!(
        sts_plugin_info_t,
        pi_name,
        pi_vendor,
        pi_version,
        pi_api_version_min,
        pi_api_version_max,
        pi_api_version,
        pi_pad
    );
    s!(sts_cred_t);
    f!(sts_cred_t, sc_user, sc_secret);
    s!(sts_lsu_name_t);
    f!(sts_lsu_name_t, sln_name);
    s!(sts_lsu_t);
    f!(sts_lsu_t, sl_server_handle, sl_lsu_name);
    s!(sts_image_def_t);
    f!(sts_image_def_t, img_basename, img_date, img_flags, img_pad);
    s!(sts_stat_t);
    f!(sts_stat_t, ss_reserved);
    s!(sts_image_info_t);
    f!(
        sts_image_info_t,
        imo_flags,
        imo_block_size,
        imo_size,
        imo_ctime_ms,
        imo_mtime_ms,
        imo_complete_ms,
        imo_extent_count,
        imo_def,
        imo_lsu,
        imo_objid,
        imo_sha1
    );
    s!(sts_lsu_info_t);
    f!(
        sts_lsu_info_t,
        lsu_capacity,
        lsu_used,
        lsu_used_phys,
        lsu_images,
        lsu_flags,
        lsu_block_size,
        lsu_name,
        lsu_label
    );
    s!(sts_server_info_t);
    f!(
        sts_server_info_t,
        srv_server,
        srv_cap,
        srv_flags,
        srv_lsu_count,
        srv_block_size,
        srv_api_version
    );
    s!(sts_event_t);
    f!(
        sts_event_t,
        ev_id,
        ev_time_ms,
        ev_op_id,
        ev_bytes,
        ev_type,
        ev_status,
        ev_lsu,
        ev_image,
        ev_op_name,
        ev_text
    );
    h!(sts_server_handle_t);
    h!(sts_image_handle_t);
    h!(sts_lsu_list_handle_t);
    h!(sts_image_list_handle_t);
    h!(sts_evchannel_handle_t);
    k!(
        STS_VERSION,
        STS_VERSION_MIN,
        STS_VERSION_MAX,
        STS_BLOCK_SIZE,
        STS_MAX_SERVERNAME,
        STS_MAX_SERVER_DIR,
        STS_MAX_LSUNAME,
        STS_MAX_IMAGENAME,
        STS_MAX_DATE,
        STS_MAX_LABEL,
        STS_MAX_OBJID,
        STS_MAX_SHA1_HEX,
        STS_MAX_PLUGIN_STR,
        STS_MAX_OPNAME,
        STS_MAX_EVTEXT,
        STS_MAX_USER,
        STS_MAX_SECRET,
        STS_MAX_IO_SIZE,
        STS_MAX_IMAGE_META,
        STS_SRV_CAP_WORDS,
        STS_EOK,
        STS_EINVAL,
        STS_ENULL,
        STS_EHANDLE,
        STS_ENAME,
        STS_EALIGN,
        STS_ERANGE,
        STS_ETOOBIG,
        STS_EVERSION,
        STS_ENOT_INIT,
        STS_EMODE,
        STS_ENOT_MINE,
        STS_ENOSERVER,
        STS_ENOLSU,
        STS_ENOENT,
        STS_EEXIST,
        STS_EBUSY,
        STS_ECOMPLETE,
        STS_ENOTCOMPLETE,
        STS_EBROKEN,
        STS_ENO_MORE,
        STS_EAUTH,
        STS_ENOTSUP,
        STS_EXDEV,
        STS_ENOOP,
        STS_ECANCELED,
        STS_EOPFAILED,
        STS_ENOSPC,
        STS_EIO,
        STS_ECORRUPT,
        STS_EPREVIO,
        STS_ETIMEDOUT,
        STS_EINPROGRESS,
        STS_EINTERNAL,
        STS_ENOMEM,
        STS_II_IMAGE_PENDING,
        STS_II_BUSY_WRITE,
        STS_II_IMAGE_CREATED,
        STS_II_IMAGE_COMPLETE,
        STS_II_FILES_PENDING,
        STS_II_FILES_CREATED,
        STS_II_ABNORMAL,
        STS_O_READ,
        STS_O_WRITE,
        STS_CLOSEF_IH_INCOMPLETE,
        STS_CLOSEF_IH_COMPLETE,
        STS_TIMEOUT_NONE,
        STS_TIMEOUT_INFINITE,
        STS_EVT_ASYNC_DONE,
        STS_EVT_DELETE_DONE,
        STS_EVT_LABEL,
        STS_EVT_LOW_SPACE,
        STS_CX_APPEND,
        STS_CX_REMAINDER,
        STS_LSUF_DISK,
        STS_LSUF_STORAGE_NOT_FREED,
        STS_LSUF_STORAGE_FREED,
        STS_LSUF_STORAGE_FREED_DEFERRED,
        STS_LSUF_STORAGE_SHARED,
        STS_LSUF_DEDUP,
        STS_LSUF_COMPRESSED,
        STS_SRV_IMAGELIST,
        STS_SRV_IMAGE_COPY,
        STS_SRV_VIRTUAL_IMAGE,
        STS_SRV_EVENTS,
        STS_SRV_CRED,
        STS_SRV_DEDUP,
        STS_CAP_CLAIM,
        STS_CAP_OPEN_SERVER,
        STS_CAP_CLOSE_SERVER,
        STS_CAP_GET_SERVER_PROP,
        STS_CAP_GET_SERVER_PROP_BYNAME,
        STS_CAP_LSU_LIST,
        STS_CAP_GET_LSU_PROP_BYNAME,
        STS_CAP_CREATE_IMAGE,
        STS_CAP_WRITE_IMAGE,
        STS_CAP_FLUSH,
        STS_CAP_CLOSE_IMAGE,
        STS_CAP_OPEN_IMAGE,
        STS_CAP_READ_IMAGE,
        STS_CAP_DELETE_IMAGE,
        STS_CAP_IMAGE_LIST,
        STS_CAP_GET_IMAGE_PROP,
        STS_CAP_GET_IMAGE_PROP_BYNAME,
        STS_CAP_READ_IMAGE_META,
        STS_CAP_WRITE_IMAGE_META,
        STS_CAP_OPEN_TARGET_SERVER,
        STS_CAP_COPY_EXTENT,
        STS_CAP_COPY_IMAGE,
        STS_CAP_INCLUDE_IN_IMAGE,
        STS_CAP_ASYNC_COPY_IMAGE,
        STS_CAP_NAMED_ASYNC_COPY_IMAGE,
        STS_CAP_NAMED_ASYNC_WAIT,
        STS_CAP_NAMED_ASYNC_CANCEL,
        STS_CAP_EVCHANNEL,
        STS_CAP_LABEL_LSU,
    );
    let p = sys::STS_COMBSTORE_PREFIX;
    v.push(format!(
        "P STS_COMBSTORE_PREFIX {}",
        String::from_utf8_lossy(&p[..p.len() - 1])
    ));
    v
}

fn compare(kinds: &[char]) {
    let pick = |lines: &[String]| -> BTreeSet<String> {
        lines
            .iter()
            .filter(|l| kinds.contains(&l.chars().next().unwrap()))
            .cloned()
            .collect()
    };
    let c = pick(c_view());
    let r = pick(&rust_view());
    let only_c: Vec<_> = c.difference(&r).collect();
    let only_r: Vec<_> = r.difference(&c).collect();
    assert!(
        only_c.is_empty() && only_r.is_empty(),
        "C and Rust disagree\n  C says:    {only_c:#?}\n  Rust says: {only_r:#?}"
    );
}

#[test]
fn c_and_rust_agree_on_every_struct_size_alignment_and_field_offset() {
    compare(&['S', 'F', 'H']);
}

#[test]
fn c_and_rust_agree_on_every_constant() {
    compare(&['K', 'P']);
}

#[test]
fn struct_sizes_are_the_pinned_sizes() {
    assert_eq!(size_of::<sys::sts_plugin_info_t>(), 208);
    assert_eq!(size_of::<sys::sts_cred_t>(), 320);
    assert_eq!(size_of::<sys::sts_lsu_name_t>(), 128);
    assert_eq!(size_of::<sys::sts_lsu_t>(), 136);
    assert_eq!(size_of::<sys::sts_image_def_t>(), 296);
    assert_eq!(size_of::<sys::sts_stat_t>(), 32);
    assert_eq!(size_of::<sys::sts_image_info_t>(), 584);
    assert_eq!(size_of::<sys::sts_lsu_info_t>(), 296);
    assert_eq!(size_of::<sys::sts_server_info_t>(), 1072);
    assert_eq!(size_of::<sys::sts_event_t>(), 848);
}

#[test]
fn structs_have_no_implicit_padding() {
    // per struct: the fields, in offset order, tile [0, sizeof) exactly
    let lines = c_view();
    let mut sizes = std::collections::BTreeMap::new();
    let mut fields: std::collections::BTreeMap<String, Vec<(usize, usize, String)>> = Default::default();
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w[0] {
            "S" => {
                sizes.insert(w[1].to_string(), w[2].parse::<usize>().unwrap());
            }
            "F" => {
                let (s, f) = w[1].split_once('.').unwrap();
                fields.entry(s.to_string()).or_default().push((
                    w[2].parse().unwrap(),
                    w[3].parse().unwrap(),
                    f.to_string(),
                ));
            }
            _ => {}
        }
    }
    for (s, size) in &sizes {
        let mut fs = fields.get(s).cloned().unwrap_or_default();
        fs.sort();
        let mut at = 0;
        for (off, sz, f) in &fs {
            assert_eq!(*off, at, "{s}: implicit padding before {f} ({at}..{off})");
            at = off + sz;
        }
        assert_eq!(at, *size, "{s}: implicit tail padding ({at}..{size})");
    }
}

/// The structs (with their fields) and numeric constants declared in stsi.h.
fn header_declarations() -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let text = std::fs::read_to_string(format!("{ROOT}/include/stsi.h")).unwrap();
    // strip /* */ comments
    let mut src = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("/*") {
        src.push_str(&rest[..i]);
        let j = rest[i..].find("*/").expect("unterminated comment") + i + 2;
        src.push(' ');
        rest = &rest[j..];
    }
    src.push_str(rest);
    let mut structs = Vec::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find("typedef struct {") {
        let body_start = i + "typedef struct {".len();
        let close = rest[body_start..].find('}').unwrap() + body_start;
        let body = &rest[body_start..close];
        let name_end = rest[close..].find(';').unwrap() + close;
        let name = rest[close + 1..name_end].trim().to_string();
        let fields = body
            .split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                let d = d.split('[').next().unwrap().trim();
                d.rsplit(|c: char| c.is_whitespace() || c == '*')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        structs.push((name, fields));
        rest = &rest[name_end..];
    }
    let mut consts = Vec::new();
    for line in src.lines() {
        let l = line.trim_start();
        let Some(def) = l.strip_prefix("#define ") else {
            continue;
        };
        let def = def.trim_start();
        let name_len = def
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(def.len());
        let (name, value) = def.split_at(name_len);
        if value.starts_with('(') {
            continue; // function-like macro: the name is immediately followed by '('
        }
        let value = value.trim();
        if value.is_empty() || value.starts_with('"') || !name.starts_with("STS_") {
            continue;
        }
        if value.starts_with(|c: char| c.is_ascii_digit() || c == '(') {
            consts.push(name.to_string());
        }
    }
    (structs, consts)
}

#[test]
fn layout_program_covers_every_struct_field_and_constant_of_stsi_h() {
    let (structs, consts) = header_declarations();
    assert!(
        structs.len() >= 10,
        "parsed only {} structs from stsi.h",
        structs.len()
    );
    let c: BTreeSet<String> = c_view().iter().cloned().collect();
    let has = |prefix: &str| c.iter().any(|l| l.starts_with(prefix));
    let mut missing = Vec::new();
    for (s, fields) in &structs {
        if !has(&format!("S {s} ")) {
            missing.push(format!("struct {s}"));
        }
        for f in fields {
            if !has(&format!("F {s}.{f} ")) {
                missing.push(format!("field {s}.{f}"));
            }
        }
    }
    for k in &consts {
        if !has(&format!("K {k} ")) {
            missing.push(format!("constant {k}"));
        }
    }
    assert!(
        missing.is_empty(),
        "ffi-tests/c/layout.c does not print: {missing:#?}"
    );
}

#[test]
fn cap_isset_helper_matches_the_c_macro() {
    // the server-prop tests read srv_cap with common::cap_isset; it must
    // answer exactly as STS_CAP_ISSET does in C for the same bitmap
    let cap: [u32; 8] = [0x8000_0001, 0x0000_0002, 0, 0xffff_ffff, 0, 0, 0, 0x4000_0000];
    let rust: String = (0..256)
        .filter(|b| cap_isset(&cap, *b))
        .map(|b| format!(" {b}"))
        .collect();
    let c_line = c_view()
        .iter()
        .find(|l| l.starts_with("C"))
        .expect("layout.c prints the C line");
    assert_eq!(c_line, &format!("C{rust}"));
}
