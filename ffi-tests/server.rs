//! stsp_open_server / stsp_close_server / stsp_get_server_prop(_byname).

use crate::common::*;
use std::ptr;
use sys::{
    sts_image_handle_t, sts_image_list_handle_t, sts_lsu_list_handle_t, sts_server_handle_t,
    sts_server_info_t,
};

#[test]
fn open_server_in_empty_dir_creates_server_with_default_lsu() {
    let srv = Server::new();
    assert!(
        !srv.tree().is_empty(),
        "no server files were created in the empty directory"
    );
    assert_eq!(list_lsus(srv.sh), vec!["default".to_string()]);
    let info = lsu_info(&srv.lsu()).unwrap_or_else(|rc| panic!("default LSU: {}", code_name(rc)));
    assert_eq!(cstr(&info.lsu_name.sln_name), "default");
}

#[test]
fn open_server_creates_missing_dir_when_parent_exists() {
    let srv = Server::new_in_missing_dir();
    assert!(srv.path.is_dir(), "server directory was not created");
    assert_eq!(list_lsus(srv.sh), vec!["default".to_string()]);
}

#[test]
fn open_server_with_missing_parent_is_enoserver() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("no-parent").join("srv");
    assert_eq!(
        open_server(&server_name_for(&path)).map(|_| ()),
        Err(c::ENOSERVER)
    );
    assert!(
        !dir.path().join("no-parent").exists(),
        "the missing parent was created"
    );
}

#[test]
fn open_server_on_foreign_nonempty_dir_is_enoserver_and_leaves_it_alone() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not a combstore server").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let before = dir_tree(dir.path());
    assert_eq!(
        open_server(&server_name_for(dir.path())).map(|_| ()),
        Err(c::ENOSERVER)
    );
    assert_eq!(
        dir_tree(dir.path()),
        before,
        "files were added to a foreign directory"
    );
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"not a combstore server"
    );
    let mut info = sts_server_info_t::default();
    assert_rc!(
        api().get_server_prop_byname(
            cstring(&server_name_for(dir.path())).as_ptr(),
            ptr::null(),
            &mut info
        ),
        c::ENOSERVER
    );
}

#[test]
fn open_server_on_regular_file_is_enoserver() {
    let dir = tempfile::TempDir::new().unwrap();
    let f = dir.path().join("file");
    std::fs::write(&f, b"x").unwrap();
    assert_eq!(open_server(&server_name_for(&f)).map(|_| ()), Err(c::ENOSERVER));
    assert_eq!(std::fs::read(&f).unwrap(), b"x");
}

#[test]
fn open_server_relative_path_is_enoserver() {
    let rel = format!("combstore-ffi-relative-{}", std::process::id());
    for name in [
        format!("combstore:{rel}"),
        format!("combstore:./{rel}"),
        "combstore:".to_string(),
    ] {
        assert_eq!(open_server(&name).map(|_| ()), Err(c::ENOSERVER), "{name}");
    }
    assert!(
        !std::path::Path::new(&rel).exists(),
        "a relative server directory was created in the cwd"
    );
}

#[test]
fn open_server_foreign_name_is_enot_mine() {
    assert_eq!(open_server("other:/tmp/x").map(|_| ()), Err(c::ENOT_MINE));
}

#[test]
fn open_server_name_too_long_is_ename() {
    let mut n = String::from("combstore:/tmp/");
    while n.len() < c::MAX_SERVERNAME {
        n.push('a');
    }
    assert_eq!(open_server(&n).map(|_| ()), Err(c::ENAME));
}

#[test]
fn open_server_accepts_null_cred_and_writes_handle() {
    let dir = tempfile::TempDir::new().unwrap();
    let name = cstring(&server_name_for(dir.path()));
    let mut sh: sts_server_handle_t = ptr::null_mut();
    assert_rc!(api().open_server(name.as_ptr(), ptr::null(), &mut sh), c::EOK);
    assert!(!sh.is_null());
    assert_rc!(api().close_server(sh), c::EOK);
}

#[test]
fn reopened_server_keeps_its_images() {
    let mut srv = Server::new();
    let def = image_def("kept", "d1");
    let data = seeded(1, 200 * 1024);
    store_complete(&srv.lsu(), &def, &data);
    srv.reopen();
    let info = must_prop_byname(&srv.lsu(), &def);
    assert_eq!(info.imo_size, data.len() as u64);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&data));
    assert_bytes_eq(&read_image(&srv.lsu(), &def), &data, "after reopen");
}

#[test]
fn two_handles_to_one_server_see_the_same_images() {
    let srv = Server::new();
    let sh2 = srv.another_handle();
    assert_ne!(sh2, srv.sh, "two open handles have the same value");
    let lsu2 = lsu_t(sh2, "default");
    let data = seeded(2, 8192);
    store_complete(&srv.lsu(), &image_def("a", ""), &data);
    assert_bytes_eq(
        &read_image(&lsu2, &image_def("a", "")),
        &data,
        "via second handle",
    );
    assert_rc!(api().close_server(sh2), c::EOK);
    // the first handle still works
    assert_bytes_eq(
        &read_image(&srv.lsu(), &image_def("a", "")),
        &data,
        "via first handle",
    );
}

#[test]
fn server_prop_reports_name_block_size_api_version_and_lsu_count() {
    let srv = Server::new();
    let info = server_info(srv.sh).unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert_eq!(cstr(&info.srv_server), srv.name);
    assert_eq!(info.srv_block_size as u64, c::BLOCK);
    assert_eq!(info.srv_api_version, c::VERSION);
    assert!(info.srv_lsu_count >= 1, "srv_lsu_count {}", info.srv_lsu_count);
    assert_eq!(
        info.srv_lsu_count as usize,
        list_lsus(srv.sh).len(),
        "srv_lsu_count != LSUs listed"
    );
}

#[test]
fn server_prop_cap_bits_set_for_every_implemented_entry_point() {
    let srv = Server::new();
    let info = server_info(srv.sh).unwrap();
    let implemented = [
        ("STS_CAP_CLAIM", sys::STS_CAP_CLAIM as usize),
        ("STS_CAP_OPEN_SERVER", sys::STS_CAP_OPEN_SERVER as usize),
        ("STS_CAP_CLOSE_SERVER", sys::STS_CAP_CLOSE_SERVER as usize),
        ("STS_CAP_GET_SERVER_PROP", sys::STS_CAP_GET_SERVER_PROP as usize),
        (
            "STS_CAP_GET_SERVER_PROP_BYNAME",
            sys::STS_CAP_GET_SERVER_PROP_BYNAME as usize,
        ),
        ("STS_CAP_LSU_LIST", sys::STS_CAP_LSU_LIST as usize),
        (
            "STS_CAP_GET_LSU_PROP_BYNAME",
            sys::STS_CAP_GET_LSU_PROP_BYNAME as usize,
        ),
        ("STS_CAP_CREATE_IMAGE", sys::STS_CAP_CREATE_IMAGE as usize),
        ("STS_CAP_WRITE_IMAGE", sys::STS_CAP_WRITE_IMAGE as usize),
        ("STS_CAP_FLUSH", sys::STS_CAP_FLUSH as usize),
        ("STS_CAP_CLOSE_IMAGE", sys::STS_CAP_CLOSE_IMAGE as usize),
        ("STS_CAP_OPEN_IMAGE", sys::STS_CAP_OPEN_IMAGE as usize),
        ("STS_CAP_READ_IMAGE", sys::STS_CAP_READ_IMAGE as usize),
        ("STS_CAP_DELETE_IMAGE", sys::STS_CAP_DELETE_IMAGE as usize),
        ("STS_CAP_IMAGE_LIST", sys::STS_CAP_IMAGE_LIST as usize),
        ("STS_CAP_GET_IMAGE_PROP", sys::STS_CAP_GET_IMAGE_PROP as usize),
        (
            "STS_CAP_GET_IMAGE_PROP_BYNAME",
            sys::STS_CAP_GET_IMAGE_PROP_BYNAME as usize,
        ),
        ("STS_CAP_READ_IMAGE_META", sys::STS_CAP_READ_IMAGE_META as usize),
        ("STS_CAP_WRITE_IMAGE_META", sys::STS_CAP_WRITE_IMAGE_META as usize),
    ];
    let missing: Vec<&str> = implemented
        .iter()
        .filter(|(_, b)| !cap_isset(&info.srv_cap, *b))
        .map(|(n, _)| *n)
        .collect();
    assert!(
        missing.is_empty(),
        "capability bits not set for implemented calls: {missing:?} (srv_cap {:08x?})",
        info.srv_cap
    );
}

#[test]
fn server_prop_cap_bits_clear_for_entry_points_not_exported() {
    let srv = Server::new();
    let info = server_info(srv.sh).unwrap();
    let optional = [
        (
            sys::STS_CAP_OPEN_TARGET_SERVER as usize,
            "stsp_open_target_server",
        ),
        (sys::STS_CAP_COPY_EXTENT as usize, "stsp_copy_extent"),
        (sys::STS_CAP_COPY_IMAGE as usize, "stsp_copy_image"),
        (sys::STS_CAP_INCLUDE_IN_IMAGE as usize, "stsp_include_in_image"),
        (sys::STS_CAP_ASYNC_COPY_IMAGE as usize, "stsp_async_copy_image"),
        (
            sys::STS_CAP_NAMED_ASYNC_COPY_IMAGE as usize,
            "stsp_named_async_copy_image",
        ),
        (sys::STS_CAP_NAMED_ASYNC_WAIT as usize, "stsp_named_async_wait"),
        (
            sys::STS_CAP_NAMED_ASYNC_CANCEL as usize,
            "stsp_named_async_cancel",
        ),
        (sys::STS_CAP_EVCHANNEL as usize, "stsp_open_evchannel"),
        (sys::STS_CAP_LABEL_LSU as usize, "stsp_label_lsu"),
    ];
    for (bit, sym) in optional {
        let exported = unsafe { api().lib.get::<*const ()>(format!("{sym}\0").as_bytes()) }.is_ok();
        if !exported {
            assert!(
                !cap_isset(&info.srv_cap, bit),
                "capability bit {bit} set but {sym} is not exported"
            );
        }
    }
    // bits beyond the last STS_CAP_* have no meaning and stay clear
    for bit in (sys::STS_CAP_LABEL_LSU as usize + 1)..(32 * c::SRV_CAP_WORDS) {
        assert!(
            !cap_isset(&info.srv_cap, bit),
            "undefined capability bit {bit} set"
        );
    }
}

#[test]
fn server_prop_flags_advertise_image_list_and_no_credentials() {
    let srv = Server::new();
    let info = server_info(srv.sh).unwrap();
    assert_ne!(
        info.srv_flags & c::SRV_IMAGELIST,
        0,
        "STS_SRV_IMAGELIST not set though images can be listed"
    );
    // STS_SRV_IMAGE_COPY and STS_SRV_VIRTUAL_IMAGE are required by dup.rs,
    // STS_SRV_EVENTS by events.rs, since stspi.h declares those entry points
    // a server created without credentials does not require them
    assert_eq!(
        info.srv_flags & c::SRV_CRED,
        0,
        "srv_flags 0x{:x}",
        info.srv_flags
    );
}

#[test]
fn server_prop_byname_matches_open_server_prop() {
    let srv = Server::new();
    let a = server_info(srv.sh).unwrap();
    let b = server_info_byname(&srv.name).unwrap_or_else(|rc| panic!("{}", code_name(rc)));
    assert_eq!(cbytes(&a.srv_server), cbytes(&b.srv_server));
    assert_eq!(a.srv_cap, b.srv_cap);
    assert_eq!(a.srv_flags, b.srv_flags);
    assert_eq!(a.srv_lsu_count, b.srv_lsu_count);
    assert_eq!(a.srv_block_size, b.srv_block_size);
    assert_eq!(a.srv_api_version, b.srv_api_version);
}

#[test]
fn server_prop_byname_does_not_create_a_server() {
    let dir = tempfile::TempDir::new().unwrap();
    let missing = dir.path().join("srv");
    assert_eq!(
        server_info_byname(&server_name_for(&missing)).map(|_| ()),
        Err(c::ENOSERVER),
        "missing dir"
    );
    assert!(!missing.exists(), "get_server_prop_byname created the directory");
    assert_eq!(
        server_info_byname(&server_name_for(dir.path())).map(|_| ()),
        Err(c::ENOSERVER),
        "empty dir"
    );
    assert!(
        dir_tree(dir.path()).is_empty(),
        "get_server_prop_byname created files in an empty dir"
    );
}

#[test]
fn server_prop_byname_foreign_name_is_enot_mine() {
    assert_eq!(server_info_byname("nfs:/x").map(|_| ()), Err(c::ENOT_MINE));
}

#[test]
fn server_prop_byname_relative_path_is_enoserver() {
    assert_eq!(
        server_info_byname("combstore:relative/dir").map(|_| ()),
        Err(c::ENOSERVER)
    );
}

#[test]
fn close_server_closes_its_image_and_list_handles() {
    let mut srv = Server::new();
    let lsu = srv.lsu();
    let a = api();
    store_complete(&lsu, &image_def("done", ""), &seeded(3, 4096));
    let rh: sts_image_handle_t = open(&lsu, &image_def("done", ""), c::O_READ);
    let wh: sts_image_handle_t = create(&lsu, &image_def("writing", ""));
    let mut ll: sts_lsu_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_lsu_list(srv.sh, &mut ll), c::EOK);
    let mut il: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(&lsu, &mut il), c::EOK);
    srv.close();
    assert_eq!(
        read_at(rh, 512, 0).map(|_| ()),
        Err(c::EHANDLE),
        "read handle after close_server"
    );
    assert_rc!(
        write_at(wh, &[0u8; 512], 0),
        c::EHANDLE,
        "write handle after close_server"
    );
    assert_rc!(a.list_lsu(ll, &mut Default::default()), c::EHANDLE);
    assert_rc!(a.list_image(il, &mut Default::default()), c::EHANDLE);
    assert_rc!(a.close_image(rh, 0), c::EHANDLE);
    assert_rc!(a.close_image(wh, c::CLOSE_COMPLETE), c::EHANDLE);
    assert_rc!(a.close_lsu_list(ll), c::EHANDLE);
    assert_rc!(a.close_image_list(il), c::EHANDLE);
}

#[test]
fn closing_one_server_handle_leaves_the_other_working() {
    let srv = Server::new();
    let sh2 = srv.another_handle();
    let lsu2 = lsu_t(sh2, "default");
    let ih = create(&lsu2, &image_def("via2", ""));
    let sh3 = srv.another_handle();
    assert_rc!(api().close_server(sh3), c::EOK);
    // the image handle of the other server handle is unaffected
    write_all(ih, &seeded(9, 4096), 0);
    close(ih, c::CLOSE_COMPLETE);
    assert_rc!(api().close_server(sh2), c::EOK);
    assert_eq!(
        must_prop_byname(&srv.lsu(), &image_def("via2", "")).imo_size,
        4096
    );
}
