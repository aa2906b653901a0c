//! stsp_init / stsp_terminate / stsp_claim / exported symbols.
//! Init state is process-global: everything that needs an uninitialized or
//! terminated plugin, or a failed init, runs in an isolated child process.

use crate::common::child::isolated;
use crate::common::*;
use std::ptr;
use sys::{sts_image_handle_t, sts_plugin_info_t, sts_server_handle_t, sts_server_info_t};

fn sentinel_info() -> sts_plugin_info_t {
    let mut i = sts_plugin_info_t::default();
    fill_unterminated(&mut i.pi_name, b'#');
    fill_unterminated(&mut i.pi_vendor, b'#');
    fill_unterminated(&mut i.pi_version, b'#');
    i.pi_api_version_min = 0xdead;
    i.pi_api_version_max = 0xdead;
    i.pi_api_version = 0xdead;
    i
}

fn assert_info_untouched(i: &sts_plugin_info_t) {
    assert!(
        i.pi_name.iter().all(|c| *c as u8 == b'#'),
        "pi_name written on error"
    );
    assert!(
        i.pi_version.iter().all(|c| *c as u8 == b'#'),
        "pi_version written on error"
    );
    assert_eq!(
        (i.pi_api_version_min, i.pi_api_version_max, i.pi_api_version),
        (0xdead, 0xdead, 0xdead),
        "versions written on error"
    );
}

#[test]
fn library_exports_every_stspi_h_entry_point() {
    let a = lib();
    let mut missing = Vec::new();
    for name in ENTRY_POINTS {
        let sym = format!("{name}\0");
        if unsafe { a.lib.get::<*const ()>(sym.as_bytes()) }.is_err() {
            missing.push(*name);
        }
    }
    // and the list above is complete: every STS_EXPORT in stspi.h
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/stspi.h")).unwrap();
    let mut declared = Vec::new();
    for part in header.split("STS_EXPORT").skip(1) {
        let upto = &part[..part.find('(').unwrap()];
        let name = upto.trim().rsplit([' ', '*']).next().unwrap().to_string();
        declared.push(name);
    }
    let mut listed: Vec<String> = ENTRY_POINTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    declared.sort();
    assert_eq!(
        listed, declared,
        "ENTRY_POINTS differs from the STS_EXPORT declarations of stspi.h"
    );
    assert!(
        missing.is_empty(),
        "not exported by {}: {missing:?}",
        a.path.display()
    );
}

#[test]
fn init_reports_name_vendor_version_and_api_range() {
    let a = api();
    let mut info = sentinel_info();
    assert_rc!(a.init(c::VERSION, &mut info), c::EOK);
    assert_eq!(cstr(&info.pi_name), "combstore");
    assert_eq!(cstr(&info.pi_vendor), "combstore project");
    assert_eq!(
        cstr(&info.pi_version),
        env!("CARGO_PKG_VERSION"),
        "pi_version is the plugin's version"
    );
    assert_eq!(info.pi_api_version_min, c::VERSION_MIN);
    assert_eq!(info.pi_api_version_max, c::VERSION_MAX);
    assert_eq!(
        info.pi_api_version,
        c::VERSION,
        "agreed version is the host's STS_VERSION"
    );
}

#[test]
fn init_again_returns_same_information() {
    let a = api();
    let mut first = sentinel_info();
    let mut second = sentinel_info();
    assert_rc!(a.init(c::VERSION, &mut first), c::EOK);
    assert_rc!(a.init(c::VERSION, &mut second), c::EOK);
    assert_eq!(cbytes(&first.pi_name), cbytes(&second.pi_name));
    assert_eq!(cbytes(&first.pi_vendor), cbytes(&second.pi_vendor));
    assert_eq!(cbytes(&first.pi_version), cbytes(&second.pi_version));
    assert_eq!(
        (
            first.pi_api_version_min,
            first.pi_api_version_max,
            first.pi_api_version
        ),
        (
            second.pi_api_version_min,
            second.pi_api_version_max,
            second.pi_api_version
        )
    );
}

#[test]
fn init_rejects_api_version_below_min_with_eversion() {
    isolated(
        "lifecycle::init_rejects_api_version_below_min_with_eversion",
        || {
            let a = lib();
            for v in [0, c::VERSION_MIN - 1] {
                let mut info = sentinel_info();
                assert_rc!(a.init(v, &mut info), c::EVERSION, "version {v}");
                assert_info_untouched(&info);
            }
            // a failed init does not initialize the plugin
            assert_rc!(a.claim(cstring("combstore:/x").as_ptr()), c::ENOT_INIT);
        },
    );
}

#[test]
fn init_rejects_api_version_above_max_with_eversion() {
    isolated(
        "lifecycle::init_rejects_api_version_above_max_with_eversion",
        || {
            let a = lib();
            for v in [c::VERSION_MAX + 1, u32::MAX] {
                let mut info = sentinel_info();
                assert_rc!(a.init(v, &mut info), c::EVERSION, "version {v}");
                assert_info_untouched(&info);
            }
            assert_rc!(a.claim(cstring("combstore:/x").as_ptr()), c::ENOT_INIT);
        },
    );
}

#[test]
fn init_null_info_is_enull() {
    isolated("lifecycle::init_null_info_is_enull", || {
        let a = lib();
        assert_rc!(a.init(c::VERSION, ptr::null_mut()), c::ENULL);
        let mut info = sts_plugin_info_t::default();
        assert_rc!(a.init(c::VERSION, &mut info), c::EOK);
    });
}

#[test]
fn calls_before_init_return_enot_init() {
    isolated("lifecycle::calls_before_init_return_enot_init", || {
        let a = lib();
        let dir = tempfile::TempDir::new().unwrap();
        let name = cstring(&server_name_for(dir.path()));
        assert_rc!(a.claim(name.as_ptr()), c::ENOT_INIT);
        let mut sh: sts_server_handle_t = ptr::null_mut();
        assert_rc!(a.open_server(name.as_ptr(), ptr::null(), &mut sh), c::ENOT_INIT);
        assert!(sh.is_null(), "out-param written on error");
        let mut info = sts_server_info_t::default();
        assert_rc!(
            a.get_server_prop_byname(name.as_ptr(), ptr::null(), &mut info),
            c::ENOT_INIT
        );
        // nothing was created on disk
        assert!(
            dir_tree(dir.path()).is_empty(),
            "open_server before init created files"
        );
        // strerror works at any time; terminate is EOK also when not initialized
        assert!(!a.strerror(c::EOK).is_null());
        assert_rc!(a.terminate(), c::EOK);
        // and init then makes the same calls work
        let mut pi = sts_plugin_info_t::default();
        assert_rc!(a.init(c::VERSION, &mut pi), c::EOK);
        assert_rc!(a.claim(name.as_ptr()), c::EOK);
    });
}

#[test]
fn calls_after_terminate_return_enot_init() {
    isolated("lifecycle::calls_after_terminate_return_enot_init", || {
        let a = lib();
        let dir = tempfile::TempDir::new().unwrap();
        let name = cstring(&server_name_for(dir.path()));
        let mut pi = sts_plugin_info_t::default();
        assert_rc!(a.init(c::VERSION, &mut pi), c::EOK);
        assert_rc!(a.claim(name.as_ptr()), c::EOK);
        assert_rc!(a.terminate(), c::EOK);
        assert_rc!(a.claim(name.as_ptr()), c::ENOT_INIT);
        let mut sh: sts_server_handle_t = ptr::null_mut();
        assert_rc!(a.open_server(name.as_ptr(), ptr::null(), &mut sh), c::ENOT_INIT);
        let mut info = sts_server_info_t::default();
        assert_rc!(
            a.get_server_prop_byname(name.as_ptr(), ptr::null(), &mut info),
            c::ENOT_INIT
        );
        assert_rc!(a.terminate(), c::EOK, "second terminate");
        assert_rc!(a.init(c::VERSION, &mut pi), c::EOK, "init after terminate");
        assert_rc!(a.open_server(name.as_ptr(), ptr::null(), &mut sh), c::EOK);
        assert_rc!(a.close_server(sh), c::EOK);
    });
}

#[test]
fn terminate_closes_open_handles_and_completes_writers_abnormally() {
    isolated(
        "lifecycle::terminate_closes_open_handles_and_completes_writers_abnormally",
        || {
            let a = lib();
            let mut pi = sts_plugin_info_t::default();
            assert_rc!(a.init(c::VERSION, &mut pi), c::EOK);
            let dir = tempfile::TempDir::new().unwrap();
            let name = server_name_for(dir.path());
            let sh = open_server(&name).unwrap();
            let lsu = lsu_t(sh, "default");
            let def = image_def("img", "");
            let flushed = seeded(7, 64 * 1024);
            let ih: sts_image_handle_t = create(&lsu, &def);
            write_all(ih, &flushed, 0);
            flush(ih);
            assert_rc!(a.terminate(), c::EOK);
            assert_rc!(a.init(c::VERSION, &mut pi), c::EOK);
            // handles are never reused: the old ones stay invalid after re-init
            assert_rc!(
                a.get_server_prop(sh, &mut sts_server_info_t::default()),
                c::EHANDLE
            );
            assert_rc!(write_at(ih, &flushed[..512], 0), c::EHANDLE);
            assert_rc!(a.close_server(sh), c::EHANDLE);
            let sh2 = open_server(&name).unwrap();
            let lsu2 = lsu_t(sh2, "default");
            let info = must_prop_byname(&lsu2, &def);
            assert_eq!(
                info.imo_flags & c::II_BUSY_WRITE,
                0,
                "BUSY_WRITE still set: {}",
                flags_str(info.imo_flags)
            );
            assert_ne!(
                info.imo_flags & c::II_ABNORMAL,
                0,
                "ABNORMAL not set: {}",
                flags_str(info.imo_flags)
            );
            assert_ne!(
                info.imo_flags & c::II_PENDING,
                0,
                "PENDING not set: {}",
                flags_str(info.imo_flags)
            );
            assert_eq!(info.imo_size, flushed.len() as u64, "flushed data kept");
            assert_rc!(a.close_server(sh2), c::EOK);
        },
    );
}

#[test]
fn close_functions_after_terminate_return_ehandle_not_enot_init() {
    // "except stsp_init, stsp_strerror and the close functions, STS_ENOT_INIT":
    // after terminate the handles are closed, so closing them is STS_EHANDLE
    isolated(
        "lifecycle::close_functions_after_terminate_return_ehandle_not_enot_init",
        || {
            let a = lib();
            let mut pi = sts_plugin_info_t::default();
            assert_rc!(a.init(c::VERSION, &mut pi), c::EOK);
            let dir = tempfile::TempDir::new().unwrap();
            let sh = open_server(&server_name_for(dir.path())).unwrap();
            let lsu = lsu_t(sh, "default");
            let ih: sts_image_handle_t = create(&lsu, &image_def("img", ""));
            let mut ll: sys::sts_lsu_list_handle_t = ptr::null_mut();
            assert_rc!(a.open_lsu_list(sh, &mut ll), c::EOK);
            let mut il: sys::sts_image_list_handle_t = ptr::null_mut();
            assert_rc!(a.open_image_list(&lsu, &mut il), c::EOK);
            assert_rc!(a.terminate(), c::EOK);
            assert_rc!(a.close_image(ih, c::CLOSE_COMPLETE), c::EHANDLE, "close_image");
            assert_rc!(a.close_image_list(il), c::EHANDLE, "close_image_list");
            assert_rc!(a.close_lsu_list(ll), c::EHANDLE, "close_lsu_list");
            assert_rc!(a.close_server(sh), c::EHANDLE, "close_server");
        },
    );
}

#[test]
fn claim_accepts_combstore_prefix() {
    let a = api();
    for n in [
        "combstore:/some/where",
        "combstore:/",
        "combstore:relative",
        "combstore:",
    ] {
        assert_rc!(a.claim(cstring(n).as_ptr()), c::EOK, "{n}");
    }
}

#[test]
fn claim_rejects_foreign_name_with_enot_mine() {
    let a = api();
    for n in [
        "",
        "combstore",
        "other:/x",
        "xcombstore:/x",
        " combstore:/x",
        "/combstore:/x",
        "dd:combstore:/x",
    ] {
        assert_rc!(a.claim(cstring(n).as_ptr()), c::ENOT_MINE, "{n:?}");
    }
}

#[test]
fn claim_null_is_enull() {
    assert_rc!(api().claim(ptr::null()), c::ENULL);
}

#[test]
fn claim_name_longer_than_max_servername_is_ename() {
    let a = api();
    // STS_MAX_SERVERNAME - 1 bytes is the longest name; one more is too long
    let mut n = String::from("combstore:/");
    while n.len() < c::MAX_SERVERNAME {
        n.push('a');
    }
    assert_eq!(n.len(), c::MAX_SERVERNAME);
    assert_rc!(a.claim(cstring(&n).as_ptr()), c::ENAME);
    let long = format!("{n}{}", "b".repeat(5000));
    assert_rc!(a.claim(cstring(&long).as_ptr()), c::ENAME);
}

#[test]
fn claim_accepts_name_of_exactly_max_length() {
    let mut n = String::from("combstore:/");
    while n.len() < c::MAX_SERVERNAME - 1 {
        n.push('a');
    }
    assert_rc!(api().claim(cstring(&n).as_ptr()), c::EOK);
}

#[test]
fn claim_does_not_touch_disk() {
    let dir = tempfile::TempDir::new().unwrap();
    let target = dir.path().join("not-created");
    assert_rc!(api().claim(cstring(&server_name_for(&target)).as_ptr()), c::EOK);
    assert!(!target.exists(), "stsp_claim created the server directory");
    assert!(dir_tree(dir.path()).is_empty());
}

#[test]
fn handle_values_are_never_reused_within_the_process() {
    let srv = Server::new();
    let lsu = srv.lsu();
    store_complete(&lsu, &image_def("r", ""), &seeded(1, 512));
    let mut seen = std::collections::HashSet::new();
    seen.insert(srv.sh as usize);
    for i in 0..100 {
        let ih = open(&lsu, &image_def("r", ""), c::O_READ);
        assert!(
            seen.insert(ih as usize),
            "image handle value {:#x} reused (round {i})",
            ih as usize
        );
        close(ih, 0);
        let sh = srv.another_handle();
        assert!(
            seen.insert(sh as usize),
            "server handle value {:#x} reused (round {i})",
            sh as usize
        );
        assert_rc!(api().close_server(sh), c::EOK);
        let mut il: sys::sts_image_list_handle_t = ptr::null_mut();
        assert_rc!(api().open_image_list(&lsu, &mut il), c::EOK);
        assert!(
            seen.insert(il as usize),
            "list handle value {:#x} reused (round {i})",
            il as usize
        );
        assert_rc!(api().close_image_list(il), c::EOK);
    }
}
