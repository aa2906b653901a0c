//! Bad input, one class per test. Every test ends by proving that stored
//! data is unchanged (Fixture::assert_intact: the complete "keeper" image's
//! bytes, size, SHA-1 and metadata, the checkpointed "pending" image, and
//! the image list). Tests that pass closed, fabricated or wrong-kind handles
//! run in an isolated child process so a crash cannot take the suite down.

use crate::common::child::isolated;
use crate::common::*;
use std::ffi::c_void;
use std::ptr;
use sys::{
    sts_image_def_t, sts_image_handle_t, sts_image_info_t, sts_image_list_handle_t, sts_lsu_info_t,
    sts_lsu_list_handle_t, sts_lsu_name_t, sts_lsu_t, sts_server_handle_t, sts_server_info_t,
};

/// Every name-taking image call refuses `def` with `code`.
fn expect_def_rejected(fx: &Fixture, def: &sts_image_def_t, code: i32, what: &str) {
    let a = api();
    let lsu = fx.lsu();
    let sentinel: sts_image_handle_t = bogus(0x5151);
    let mut ih = sentinel;
    assert_rc!(a.create_image(&lsu, def, 0, &mut ih), code, "create_image {what}");
    assert_eq!(ih, sentinel, "create_image wrote the handle on error ({what})");
    for mode in [c::O_READ, c::O_WRITE] {
        assert_rc!(
            a.open_image(&lsu, def, mode, &mut ih),
            code,
            "open_image mode {mode} {what}"
        );
        assert_eq!(ih, sentinel, "open_image wrote the handle on error ({what})");
    }
    assert_rc!(a.delete_image(&lsu, def, 0), code, "delete_image {what}");
    let mut info = sts_image_info_t::default();
    info.imo_size = 0xdead;
    assert_rc!(
        a.get_image_prop_byname(&lsu, def, &mut info),
        code,
        "get_image_prop_byname {what}"
    );
    assert_eq!(
        info.imo_size, 0xdead,
        "get_image_prop_byname wrote info on error ({what})"
    );
}

/// Every LSU-taking call refuses `lsu` with `code`.
fn expect_lsu_rejected(fx: &Fixture, lsu: &sts_lsu_t, code: i32, what: &str) {
    let a = api();
    let mut ih: sts_image_handle_t = ptr::null_mut();
    assert_rc!(
        a.create_image(lsu, &image_def("fresh", ""), 0, &mut ih),
        code,
        "create_image {what}"
    );
    assert_rc!(
        a.open_image(lsu, &fx.keeper, c::O_READ, &mut ih),
        code,
        "open_image read {what}"
    );
    assert_rc!(
        a.open_image(lsu, &fx.pending, c::O_WRITE, &mut ih),
        code,
        "open_image write {what}"
    );
    assert_rc!(a.delete_image(lsu, &fx.keeper, 0), code, "delete_image {what}");
    assert_rc!(
        a.get_image_prop_byname(lsu, &fx.keeper, &mut sts_image_info_t::default()),
        code,
        "get_image_prop_byname {what}"
    );
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(lsu, &mut lh), code, "open_image_list {what}");
    assert_rc!(
        a.get_lsu_prop_byname(lsu, &mut sts_lsu_info_t::default()),
        code,
        "get_lsu_prop_byname {what}"
    );
    assert!(ih.is_null() && lh.is_null(), "handle written on error ({what})");
}

// ================================================================== NULL pointers

#[test]
fn null_server_name_and_out_params_are_enull() {
    let fx = Fixture::new();
    let a = api();
    let fresh = tempfile::TempDir::new().unwrap();
    let name = cstring(&server_name_for(fresh.path()));
    let mut sh: sts_server_handle_t = ptr::null_mut();
    assert_rc!(a.claim(ptr::null()), c::ENULL, "claim(NULL)");
    assert_rc!(
        a.open_server(ptr::null(), ptr::null(), &mut sh),
        c::ENULL,
        "open_server(NULL name)"
    );
    assert_rc!(
        a.open_server(name.as_ptr(), ptr::null(), ptr::null_mut()),
        c::ENULL,
        "open_server(sh NULL)"
    );
    assert!(
        dir_tree(fresh.path()).is_empty(),
        "open_server with NULL sh created a server (nothing may change)"
    );
    let mut info = sts_server_info_t::default();
    assert_rc!(
        a.get_server_prop_byname(ptr::null(), ptr::null(), &mut info),
        c::ENULL,
        "byname(NULL name)"
    );
    let fxname = cstring(&fx.srv.name);
    assert_rc!(
        a.get_server_prop_byname(fxname.as_ptr(), ptr::null(), ptr::null_mut()),
        c::ENULL,
        "byname(info NULL)"
    );
    assert_rc!(
        a.get_server_prop(ptr::null_mut(), &mut info),
        c::ENULL,
        "get_server_prop(NULL sh)"
    );
    assert_rc!(
        a.get_server_prop(fx.srv.sh, ptr::null_mut()),
        c::ENULL,
        "get_server_prop(info NULL)"
    );
    assert_rc!(a.close_server(ptr::null_mut()), c::ENULL, "close_server(NULL)");
    fx.assert_intact();
}

#[test]
fn null_lsu_list_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    let mut lh: sts_lsu_list_handle_t = ptr::null_mut();
    assert_rc!(
        a.open_lsu_list(ptr::null_mut(), &mut lh),
        c::ENULL,
        "open_lsu_list(NULL sh)"
    );
    assert_rc!(
        a.open_lsu_list(fx.srv.sh, ptr::null_mut()),
        c::ENULL,
        "open_lsu_list(lh NULL)"
    );
    assert_rc!(a.open_lsu_list(fx.srv.sh, &mut lh), c::EOK);
    let mut n = sts_lsu_name_t::default();
    assert_rc!(a.list_lsu(ptr::null_mut(), &mut n), c::ENULL, "list_lsu(NULL lh)");
    assert_rc!(a.list_lsu(lh, ptr::null_mut()), c::ENULL, "list_lsu(name NULL)");
    // the refused call consumed no entry
    assert_rc!(a.list_lsu(lh, &mut n), c::EOK);
    assert_eq!(cstr(&n.sln_name), "default");
    assert_rc!(
        a.close_lsu_list(ptr::null_mut()),
        c::ENULL,
        "close_lsu_list(NULL)"
    );
    assert_rc!(a.close_lsu_list(lh), c::EOK);
    fx.assert_intact();
}

#[test]
fn null_lsu_prop_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    assert_rc!(
        a.get_lsu_prop_byname(ptr::null(), &mut sts_lsu_info_t::default()),
        c::ENULL
    );
    assert_rc!(a.get_lsu_prop_byname(&fx.lsu(), ptr::null_mut()), c::ENULL);
    fx.assert_intact();
}

#[test]
fn null_create_image_args_are_enull_and_create_nothing() {
    let fx = Fixture::new();
    let a = api();
    let lsu = fx.lsu();
    let def = image_def("fresh", "");
    let mut ih: sts_image_handle_t = ptr::null_mut();
    assert_rc!(
        a.create_image(ptr::null(), &def, 0, &mut ih),
        c::ENULL,
        "lsu NULL"
    );
    assert_rc!(
        a.create_image(&lsu, ptr::null(), 0, &mut ih),
        c::ENULL,
        "def NULL"
    );
    assert_rc!(
        a.create_image(&lsu, &def, 0, ptr::null_mut()),
        c::ENULL,
        "ih NULL"
    );
    assert_eq!(
        prop_byname(&lsu, &def).map(|_| ()),
        Err(c::ENOENT),
        "create_image(ih NULL) created the image"
    );
    fx.assert_intact();
}

#[test]
fn null_write_image_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    let ih = open(&fx.lsu(), &fx.pending, c::O_WRITE);
    let buf = seeded(1, 512);
    let mut n = 0u64;
    assert_rc!(
        a.write_image(ptr::null_mut(), ptr::null(), buf.as_ptr().cast(), 512, 0, &mut n),
        c::ENULL,
        "ih NULL"
    );
    assert_rc!(
        a.write_image(ih, ptr::null(), ptr::null(), 512, 0, &mut n),
        c::ENULL,
        "buf NULL with len 512"
    );
    assert_rc!(
        a.write_image(ih, ptr::null(), buf.as_ptr().cast(), 512, 0, ptr::null_mut()),
        c::ENULL,
        "byteswritten NULL"
    );
    assert_eq!(
        prop(ih).unwrap().imo_size,
        fx.pending_data.len() as u64,
        "size changed"
    );
    close(ih, c::CLOSE_INCOMPLETE);
    fx.assert_intact();
}

#[test]
fn null_flush_and_close_image_handles_are_enull() {
    let fx = Fixture::new();
    let a = api();
    assert_rc!(a.flush(ptr::null_mut()), c::ENULL);
    assert_rc!(a.close_image(ptr::null_mut(), 0), c::ENULL);
    assert_rc!(a.close_image(ptr::null_mut(), c::CLOSE_COMPLETE), c::ENULL);
    fx.assert_intact();
}

#[test]
fn null_open_image_args_are_enull_and_open_nothing() {
    let fx = Fixture::new();
    let a = api();
    let lsu = fx.lsu();
    let mut ih: sts_image_handle_t = ptr::null_mut();
    assert_rc!(
        a.open_image(ptr::null(), &fx.keeper, c::O_READ, &mut ih),
        c::ENULL,
        "lsu NULL"
    );
    assert_rc!(
        a.open_image(&lsu, ptr::null(), c::O_READ, &mut ih),
        c::ENULL,
        "def NULL"
    );
    assert_rc!(
        a.open_image(&lsu, &fx.keeper, c::O_READ, ptr::null_mut()),
        c::ENULL,
        "ih NULL (read)"
    );
    assert_rc!(
        a.open_image(&lsu, &fx.pending, c::O_WRITE, ptr::null_mut()),
        c::ENULL,
        "ih NULL (write)"
    );
    // the refused write-open left no writer behind
    let p = must_prop_byname(&lsu, &fx.pending);
    assert_eq!(
        p.imo_flags & c::II_BUSY_WRITE,
        0,
        "pending image left BUSY_WRITE: {}",
        flags_str(p.imo_flags)
    );
    let wh = open(&lsu, &fx.pending, c::O_WRITE);
    close(wh, c::CLOSE_INCOMPLETE);
    fx.assert_intact();
}

#[test]
fn null_read_image_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
    let mut buf = vec![0u8; 512];
    let mut n = 0u64;
    assert_rc!(
        a.read_image(ptr::null_mut(), buf.as_mut_ptr().cast(), 512, 0, &mut n),
        c::ENULL,
        "ih NULL"
    );
    assert_rc!(
        a.read_image(rh, ptr::null_mut(), 512, 0, &mut n),
        c::ENULL,
        "buf NULL"
    );
    assert_rc!(
        a.read_image(rh, buf.as_mut_ptr().cast(), 512, 0, ptr::null_mut()),
        c::ENULL,
        "bytesread NULL"
    );
    close(rh, 0);
    fx.assert_intact();
}

#[test]
fn null_delete_image_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    assert_rc!(a.delete_image(ptr::null(), &fx.keeper, 0), c::ENULL);
    assert_rc!(a.delete_image(&fx.lsu(), ptr::null(), 0), c::ENULL);
    fx.assert_intact();
}

#[test]
fn null_image_list_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    let lsu = fx.lsu();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(ptr::null(), &mut lh), c::ENULL, "lsu NULL");
    assert_rc!(a.open_image_list(&lsu, ptr::null_mut()), c::ENULL, "lh NULL");
    assert_rc!(a.open_image_list(&lsu, &mut lh), c::EOK);
    let mut d = sts_image_def_t::default();
    assert_rc!(
        a.list_image(ptr::null_mut(), &mut d),
        c::ENULL,
        "list_image(NULL lh)"
    );
    assert_rc!(
        a.list_image(lh, ptr::null_mut()),
        c::ENULL,
        "list_image(def NULL)"
    );
    assert_rc!(a.list_image(lh, &mut d), c::EOK);
    assert_eq!(
        cstr(&d.img_basename),
        "keeper",
        "the refused call consumed an entry"
    );
    assert_rc!(
        a.close_image_list(ptr::null_mut()),
        c::ENULL,
        "close_image_list(NULL)"
    );
    assert_rc!(a.close_image_list(lh), c::EOK);
    fx.assert_intact();
}

#[test]
fn null_image_prop_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    let lsu = fx.lsu();
    let rh = open(&lsu, &fx.keeper, c::O_READ);
    let mut info = sts_image_info_t::default();
    assert_rc!(
        a.get_image_prop(ptr::null_mut(), &mut info),
        c::ENULL,
        "get_image_prop(NULL ih)"
    );
    assert_rc!(
        a.get_image_prop(rh, ptr::null_mut()),
        c::ENULL,
        "get_image_prop(info NULL)"
    );
    assert_rc!(
        a.get_image_prop_byname(ptr::null(), &fx.keeper, &mut info),
        c::ENULL,
        "byname(lsu NULL)"
    );
    assert_rc!(
        a.get_image_prop_byname(&lsu, ptr::null(), &mut info),
        c::ENULL,
        "byname(def NULL)"
    );
    assert_rc!(
        a.get_image_prop_byname(&lsu, &fx.keeper, ptr::null_mut()),
        c::ENULL,
        "byname(info NULL)"
    );
    close(rh, 0);
    fx.assert_intact();
}

#[test]
fn null_meta_args_are_enull() {
    let fx = Fixture::new();
    let a = api();
    let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
    let mut buf = vec![0u8; 16];
    let mut n = 0u64;
    assert_rc!(
        a.read_image_meta(ptr::null_mut(), buf.as_mut_ptr().cast(), 4, 0, &mut n),
        c::ENULL,
        "read ih NULL"
    );
    assert_rc!(
        a.read_image_meta(rh, ptr::null_mut(), 4, 0, &mut n),
        c::ENULL,
        "read buf NULL"
    );
    assert_rc!(
        a.read_image_meta(rh, buf.as_mut_ptr().cast(), 4, 0, ptr::null_mut()),
        c::ENULL,
        "read bytesread NULL"
    );
    assert_rc!(
        a.write_image_meta(ptr::null_mut(), buf.as_ptr().cast(), 4, 0, &mut n),
        c::ENULL,
        "write ih NULL"
    );
    assert_rc!(
        a.write_image_meta(rh, ptr::null(), 4, 0, &mut n),
        c::ENULL,
        "write buf NULL"
    );
    assert_rc!(
        a.write_image_meta(rh, b"XXXX".as_ptr().cast(), 4, 0, ptr::null_mut()),
        c::ENULL,
        "write byteswritten NULL"
    );
    close(rh, 0);
    fx.assert_intact();
}

#[test]
fn null_server_handle_inside_lsu_is_refused() {
    let fx = Fixture::new();
    let a = api();
    let lsu = lsu_t(ptr::null_mut(), "default");
    // the header does not say whether a NULL handle inside sts_lsu_t is
    // STS_ENULL (a NULL pointer) or STS_EHANDLE (not a valid handle)
    let ok = |rc: i32| rc == c::ENULL || rc == c::EHANDLE;
    let mut ih: sts_image_handle_t = ptr::null_mut();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    let rcs = [
        (
            "create_image",
            a.create_image(&lsu, &image_def("fresh", ""), 0, &mut ih),
        ),
        ("open_image", a.open_image(&lsu, &fx.keeper, c::O_READ, &mut ih)),
        ("delete_image", a.delete_image(&lsu, &fx.keeper, 0)),
        (
            "get_image_prop_byname",
            a.get_image_prop_byname(&lsu, &fx.keeper, &mut sts_image_info_t::default()),
        ),
        ("open_image_list", a.open_image_list(&lsu, &mut lh)),
        (
            "get_lsu_prop_byname",
            a.get_lsu_prop_byname(&lsu, &mut sts_lsu_info_t::default()),
        ),
    ];
    for (f, rc) in rcs {
        assert!(
            ok(rc),
            "{f} with a NULL server handle in sts_lsu_t: {} (want ENULL or EHANDLE)",
            code_name(rc)
        );
    }
    fx.assert_intact();
}

// ================================================================== handles

#[test]
fn closed_image_handle_is_ehandle() {
    isolated("bad_input::closed_image_handle_is_ehandle", || {
        let fx = Fixture::new();
        let a = api();
        let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
        close(rh, 0);
        let wh = open(&fx.lsu(), &fx.pending, c::O_WRITE);
        close(wh, c::CLOSE_INCOMPLETE);
        for (what, h) in [("read", rh), ("write", wh)] {
            assert_eq!(
                read_at(h, 512, 0).map(|_| ()),
                Err(c::EHANDLE),
                "read via closed {what} handle"
            );
            assert_rc!(
                write_at(h, &[1u8; 512], 0),
                c::EHANDLE,
                "write via closed {what} handle"
            );
            assert_rc!(a.flush(h), c::EHANDLE, "flush via closed {what} handle");
            assert_eq!(
                prop(h).map(|_| ()),
                Err(c::EHANDLE),
                "get_image_prop via closed {what} handle"
            );
            assert_eq!(
                meta_read(h, 4, 0).map(|_| ()),
                Err(c::EHANDLE),
                "read_image_meta via closed {what} handle"
            );
            assert_rc!(
                meta_write(h, b"evil", 0),
                c::EHANDLE,
                "write_image_meta via closed {what} handle"
            );
        }
        fx.assert_intact();
    });
}

#[test]
fn double_close_of_image_handle_is_ehandle() {
    isolated("bad_input::double_close_of_image_handle_is_ehandle", || {
        let fx = Fixture::new();
        let a = api();
        let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
        close(rh, 0);
        assert_rc!(a.close_image(rh, 0), c::EHANDLE, "second close of a read handle");
        let wh = open(&fx.lsu(), &fx.pending, c::O_WRITE);
        close(wh, c::CLOSE_INCOMPLETE);
        assert_rc!(
            a.close_image(wh, c::CLOSE_COMPLETE),
            c::EHANDLE,
            "second close of a write handle"
        );
        // the second close must not have completed the pending image
        fx.assert_intact();
    });
}

#[test]
fn closed_server_handle_is_ehandle() {
    isolated("bad_input::closed_server_handle_is_ehandle", || {
        let fx = Fixture::new();
        let a = api();
        let sh = fx.srv.another_handle();
        assert_rc!(a.close_server(sh), c::EOK);
        assert_rc!(
            a.get_server_prop(sh, &mut sts_server_info_t::default()),
            c::EHANDLE,
            "get_server_prop"
        );
        let mut ll: sts_lsu_list_handle_t = ptr::null_mut();
        assert_rc!(a.open_lsu_list(sh, &mut ll), c::EHANDLE, "open_lsu_list");
        expect_lsu_rejected(&fx, &lsu_t(sh, "default"), c::EHANDLE, "closed server handle");
        assert_rc!(a.close_server(sh), c::EHANDLE, "double close_server");
        fx.assert_intact();
    });
}

#[test]
fn closed_list_handles_are_ehandle() {
    isolated("bad_input::closed_list_handles_are_ehandle", || {
        let fx = Fixture::new();
        let a = api();
        let mut ll: sts_lsu_list_handle_t = ptr::null_mut();
        assert_rc!(a.open_lsu_list(fx.srv.sh, &mut ll), c::EOK);
        assert_rc!(a.close_lsu_list(ll), c::EOK);
        assert_rc!(
            a.list_lsu(ll, &mut sts_lsu_name_t::default()),
            c::EHANDLE,
            "list_lsu after close"
        );
        assert_rc!(a.close_lsu_list(ll), c::EHANDLE, "double close_lsu_list");
        let mut il: sts_image_list_handle_t = ptr::null_mut();
        assert_rc!(a.open_image_list(&fx.lsu(), &mut il), c::EOK);
        assert_rc!(a.close_image_list(il), c::EOK);
        assert_rc!(
            a.list_image(il, &mut sts_image_def_t::default()),
            c::EHANDLE,
            "list_image after close"
        );
        assert_rc!(a.close_image_list(il), c::EHANDLE, "double close_image_list");
        fx.assert_intact();
    });
}

#[test]
fn fabricated_handles_are_ehandle() {
    isolated("bad_input::fabricated_handles_are_ehandle", || {
        let fx = Fixture::new();
        let a = api();
        let junk: u64 = 0x1234_5678_9abc_def0;
        // values no call of this process returned (the plugin's own handles
        // must not be among them: that would be a valid handle, not a bogus one)
        let values = [
            1usize,
            7,
            0xdead_beef_0000,
            usize::MAX & !7,
            &junk as *const u64 as usize,
        ];
        for v in values {
            assert_ne!(
                v, fx.srv.sh as usize,
                "test bug: fabricated value is a live handle"
            );
            let ih: sts_image_handle_t = bogus(v);
            assert_eq!(
                read_at(ih, 512, 0).map(|_| ()),
                Err(c::EHANDLE),
                "read_image({v:#x})"
            );
            assert_rc!(write_at(ih, &[0u8; 512], 0), c::EHANDLE, "write_image({v:#x})");
            assert_rc!(a.flush(ih), c::EHANDLE, "flush({v:#x})");
            assert_eq!(prop(ih).map(|_| ()), Err(c::EHANDLE), "get_image_prop({v:#x})");
            assert_eq!(
                meta_read(ih, 4, 0).map(|_| ()),
                Err(c::EHANDLE),
                "read_image_meta({v:#x})"
            );
            assert_rc!(meta_write(ih, b"evil", 0), c::EHANDLE, "write_image_meta({v:#x})");
            assert_rc!(a.close_image(ih, 0), c::EHANDLE, "close_image({v:#x})");
            let sh: sts_server_handle_t = bogus(v);
            assert_rc!(
                a.get_server_prop(sh, &mut sts_server_info_t::default()),
                c::EHANDLE,
                "get_server_prop({v:#x})"
            );
            let mut ll: sts_lsu_list_handle_t = ptr::null_mut();
            assert_rc!(a.open_lsu_list(sh, &mut ll), c::EHANDLE, "open_lsu_list({v:#x})");
            expect_lsu_rejected(
                &fx,
                &lsu_t(sh, "default"),
                c::EHANDLE,
                &format!("server handle {v:#x}"),
            );
            assert_rc!(a.close_server(sh), c::EHANDLE, "close_server({v:#x})");
            let ll: sts_lsu_list_handle_t = bogus(v);
            assert_rc!(
                a.list_lsu(ll, &mut sts_lsu_name_t::default()),
                c::EHANDLE,
                "list_lsu({v:#x})"
            );
            assert_rc!(a.close_lsu_list(ll), c::EHANDLE, "close_lsu_list({v:#x})");
            let il: sts_image_list_handle_t = bogus(v);
            assert_rc!(
                a.list_image(il, &mut sts_image_def_t::default()),
                c::EHANDLE,
                "list_image({v:#x})"
            );
            assert_rc!(a.close_image_list(il), c::EHANDLE, "close_image_list({v:#x})");
        }
        fx.assert_intact();
    });
}

#[test]
fn wrong_kind_handles_are_ehandle() {
    isolated("bad_input::wrong_kind_handles_are_ehandle", || {
        let fx = Fixture::new();
        let a = api();
        let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
        let mut ll: sts_lsu_list_handle_t = ptr::null_mut();
        assert_rc!(a.open_lsu_list(fx.srv.sh, &mut ll), c::EOK);
        let mut il: sts_image_list_handle_t = ptr::null_mut();
        assert_rc!(a.open_image_list(&fx.lsu(), &mut il), c::EOK);
        let sh = fx.srv.sh;
        // a server handle used as an image handle, and so on
        assert_eq!(
            read_at(sh.cast(), 512, 0).map(|_| ()),
            Err(c::EHANDLE),
            "server handle as image handle"
        );
        assert_rc!(
            write_at(ll.cast(), &[0u8; 512], 0),
            c::EHANDLE,
            "lsu list handle as image handle"
        );
        assert_eq!(
            prop(il.cast()).map(|_| ()),
            Err(c::EHANDLE),
            "image list handle as image handle"
        );
        assert_rc!(
            a.get_server_prop(rh.cast(), &mut sts_server_info_t::default()),
            c::EHANDLE,
            "image handle as server handle"
        );
        assert_rc!(
            a.get_lsu_prop_byname(
                &sts_lsu_t {
                    sl_server_handle: il.cast(),
                    sl_lsu_name: lsu_name("default")
                },
                &mut sts_lsu_info_t::default()
            ),
            c::EHANDLE,
            "image list handle in sts_lsu_t"
        );
        assert_rc!(
            a.list_lsu(il.cast(), &mut sts_lsu_name_t::default()),
            c::EHANDLE,
            "image list as lsu list"
        );
        assert_rc!(
            a.list_image(ll.cast(), &mut sts_image_def_t::default()),
            c::EHANDLE,
            "lsu list as image list"
        );
        assert_rc!(
            a.close_image(sh.cast(), 0),
            c::EHANDLE,
            "close_image(server handle)"
        );
        assert_rc!(
            a.close_server(rh.cast()),
            c::EHANDLE,
            "close_server(image handle)"
        );
        assert_rc!(
            a.close_lsu_list(il.cast()),
            c::EHANDLE,
            "close_lsu_list(image list)"
        );
        assert_rc!(
            a.close_image_list(ll.cast()),
            c::EHANDLE,
            "close_image_list(lsu list)"
        );
        // the real handles survived the confusion
        assert_eq!(read_at(rh, 512, 0).unwrap(), &fx.data[..512]);
        assert_eq!(server_info(sh).map(|_| ()), Ok(()));
        assert_rc!(a.close_lsu_list(ll), c::EOK);
        assert_rc!(a.close_image_list(il), c::EOK);
        close(rh, 0);
        fx.assert_intact();
    });
}

// ================================================================== names

#[test]
fn unterminated_basename_is_ename() {
    let fx = Fixture::new();
    let mut d = image_def("", "");
    fill_unterminated(&mut d.img_basename, b'k');
    expect_def_rejected(&fx, &d, c::ENAME, "basename without NUL");
    // "keeper" followed by non-NUL bytes to the end of the array
    let mut d = image_def("", "20240101");
    fill_unterminated(&mut d.img_basename, b'x');
    for (i, b) in b"keeper".iter().enumerate() {
        d.img_basename[i] = *b as _;
    }
    expect_def_rejected(&fx, &d, c::ENAME, "keeper... without NUL");
    fx.assert_intact();
}

#[test]
fn unterminated_date_is_ename() {
    let fx = Fixture::new();
    let mut d = image_def("keeper", "");
    fill_unterminated(&mut d.img_date, b'2');
    expect_def_rejected(&fx, &d, c::ENAME, "date without NUL");
    fx.assert_intact();
}

#[test]
fn unterminated_lsu_name_is_ename() {
    let fx = Fixture::new();
    let mut lsu = fx.lsu();
    fill_unterminated(&mut lsu.sl_lsu_name.sln_name, b'd');
    expect_lsu_rejected(&fx, &lsu, c::ENAME, "lsu name without NUL");
    fx.assert_intact();
}

#[test]
fn basename_with_slash_is_ename() {
    let fx = Fixture::new();
    for n in ["a/b", "/", "keeper/", "/keeper", "x/../keeper"] {
        expect_def_rejected(&fx, &image_def(n, ""), c::ENAME, n);
    }
    fx.assert_intact();
}

#[test]
fn basename_with_backslash_is_ename() {
    let fx = Fixture::new();
    for n in ["a\\b", "\\", "keeper\\"] {
        expect_def_rejected(&fx, &image_def(n, ""), c::ENAME, n);
    }
    fx.assert_intact();
}

#[test]
fn basename_with_control_character_is_ename() {
    let fx = Fixture::new();
    for n in ["a\nb", "\x01", "keeper\x1f", "\tkeeper", "a\rb", "a\x7fb"] {
        expect_def_rejected(&fx, &image_def(n, ""), c::ENAME, &format!("{n:?}"));
    }
    fx.assert_intact();
}

#[test]
fn basename_containing_dotdot_is_ename() {
    let fx = Fixture::new();
    for n in ["..", "a..b", "..keeper", "keeper.."] {
        expect_def_rejected(&fx, &image_def(n, ""), c::ENAME, n);
    }
    fx.assert_intact();
}

#[test]
fn basename_exactly_dot_is_ename() {
    let fx = Fixture::new();
    expect_def_rejected(&fx, &image_def(".", ""), c::ENAME, ".");
    fx.assert_intact();
}

#[test]
fn empty_basename_is_ename() {
    let fx = Fixture::new();
    expect_def_rejected(&fx, &image_def("", ""), c::ENAME, "empty basename");
    expect_def_rejected(
        &fx,
        &image_def("", "20240101"),
        c::ENAME,
        "empty basename with a date",
    );
    fx.assert_intact();
}

#[test]
fn non_utf8_basename_is_ename() {
    let fx = Fixture::new();
    let bad: &[&[u8]] = &[
        b"\xff",
        b"keeper\xff",
        b"\xc3\x28",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xe2\x82",
        b"\xf8\x88\x80\x80\x80",
    ];
    for b in bad {
        expect_def_rejected(&fx, &image_def_bytes(b, b""), c::ENAME, &format!("{b:x?}"));
    }
    fx.assert_intact();
}

#[test]
fn date_with_invalid_characters_is_ename() {
    let fx = Fixture::new();
    let bad: &[&[u8]] = &[
        b"2024/01/01",
        b"..",
        b".",
        b"a\\b",
        b"\n",
        b"20240101\x01",
        b"\xff",
        b"x..y",
    ];
    for b in bad {
        expect_def_rejected(
            &fx,
            &image_def_bytes(b"keeper", b),
            c::ENAME,
            &format!("date {b:x?}"),
        );
    }
    fx.assert_intact();
}

#[test]
fn invalid_lsu_names_are_ename() {
    let fx = Fixture::new();
    let bad: &[&[u8]] = &[
        b"",
        b".",
        b"..",
        b"de/fault",
        b"default/",
        b"\\",
        b"default\n",
        b"\xff",
        b"a..b",
    ];
    for b in bad {
        let mut lsu = fx.lsu();
        set_cstr(&mut lsu.sl_lsu_name.sln_name, b);
        expect_lsu_rejected(&fx, &lsu, c::ENAME, &format!("lsu {b:x?}"));
    }
    fx.assert_intact();
}

#[test]
fn server_name_too_long_is_ename() {
    let fx = Fixture::new();
    let a = api();
    let long = format!("{}/{}", fx.srv.name, "x".repeat(c::MAX_SERVERNAME));
    let n = cstring(&long);
    let mut sh: sts_server_handle_t = ptr::null_mut();
    assert_rc!(a.claim(n.as_ptr()), c::ENAME, "claim");
    assert_rc!(
        a.open_server(n.as_ptr(), ptr::null(), &mut sh),
        c::ENAME,
        "open_server"
    );
    assert_rc!(
        a.get_server_prop_byname(n.as_ptr(), ptr::null(), &mut sts_server_info_t::default()),
        c::ENAME,
        "byname"
    );
    fx.assert_intact();
}

// ================================================================== other argument classes

#[test]
fn nonzero_img_flags_is_einval() {
    let fx = Fixture::new();
    let a = api();
    let lsu = fx.lsu();
    for flags in [1u32, 0x8000_0000, 0xffff_ffff] {
        let mut fresh = image_def("fresh", "");
        fresh.img_flags = flags;
        let mut ih: sts_image_handle_t = ptr::null_mut();
        assert_rc!(
            a.create_image(&lsu, &fresh, 0, &mut ih),
            c::EINVAL,
            "create_image img_flags {flags:#x}"
        );
        let mut k = fx.keeper;
        k.img_flags = flags;
        assert_rc!(
            a.delete_image(&lsu, &k, 0),
            c::EINVAL,
            "delete_image img_flags {flags:#x}"
        );
        assert_rc!(
            a.get_image_prop_byname(&lsu, &k, &mut sts_image_info_t::default()),
            c::EINVAL,
            "get_image_prop_byname img_flags {flags:#x}"
        );
    }
    assert_eq!(
        prop_byname(&lsu, &image_def("fresh", "")).map(|_| ()),
        Err(c::ENOENT),
        "refused create created an image"
    );
    fx.assert_intact();
}

#[test]
fn unaligned_write_is_ealign() {
    let fx = Fixture::new();
    let ih = open(&fx.lsu(), &fx.pending, c::O_WRITE);
    let buf = seeded(1, 4096);
    for (len, off) in [
        (100usize, 0u64),
        (513, 0),
        (511, 0),
        (512, 100),
        (512, 511),
        (1024, 1),
        (512, 1024 + 256),
    ] {
        assert_rc!(
            write_at(ih, &buf[..len], off),
            c::EALIGN,
            "write len {len} at {off}"
        );
    }
    assert_eq!(
        prop(ih).unwrap().imo_size,
        fx.pending_data.len() as u64,
        "refused writes changed the size"
    );
    close(ih, c::CLOSE_INCOMPLETE);
    fx.assert_intact();
}

#[test]
fn unaligned_read_is_ealign() {
    let fx = Fixture::new();
    let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
    for (len, off) in [(100u64, 0u64), (513, 0), (512, 100), (512, 1), (1000, 1000)] {
        assert_eq!(
            read_at(rh, len, off).map(|_| ()),
            Err(c::EALIGN),
            "read len {len} at {off}"
        );
    }
    close(rh, 0);
    fx.assert_intact();
}

#[test]
fn write_longer_than_max_io_is_etoobig() {
    let fx = Fixture::new();
    let ih = open(&fx.lsu(), &fx.pending, c::O_WRITE);
    // a real (lazily zeroed) buffer, so a plugin that reads it anyway stays defined
    let big = vec![0u8; (c::MAX_IO + c::BLOCK) as usize];
    assert_rc!(write_at(ih, &big, 0), c::ETOOBIG);
    drop(big);
    assert_eq!(prop(ih).unwrap().imo_size, fx.pending_data.len() as u64);
    close(ih, c::CLOSE_INCOMPLETE);
    fx.assert_intact();
}

#[test]
fn read_longer_than_max_io_is_etoobig() {
    let fx = Fixture::new();
    let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
    let mut big = vec![0u8; (c::MAX_IO + c::BLOCK) as usize];
    let mut n = 0x5151u64;
    assert_rc!(
        api().read_image(
            rh,
            big.as_mut_ptr().cast::<c_void>(),
            c::MAX_IO + c::BLOCK,
            0,
            &mut n
        ),
        c::ETOOBIG
    );
    assert_eq!(n, 0x5151, "bytesread written on error");
    drop(big);
    close(rh, 0);
    fx.assert_intact();
}

#[test]
fn read_past_end_is_erange() {
    let fx = Fixture::new();
    let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
    let mut buf = vec![0x77u8; 512];
    let mut n = 0x5151u64;
    let off = fx.data.len() as u64 + 512;
    assert_rc!(
        api().read_image(rh, buf.as_mut_ptr().cast(), 512, off, &mut n),
        c::ERANGE
    );
    assert_eq!(n, 0x5151, "bytesread written on error");
    assert!(buf.iter().all(|b| *b == 0x77), "buffer written on error");
    close(rh, 0);
    fx.assert_intact();
}

#[test]
fn write_offset_plus_len_overflow_is_erange() {
    let fx = Fixture::new();
    let ih = open(&fx.lsu(), &fx.pending, c::O_WRITE);
    let buf = seeded(1, 1024);
    assert_rc!(
        write_at(ih, &buf[..512], u64::MAX - 511),
        c::ERANGE,
        "512 at 2^64-512"
    );
    assert_rc!(write_at(ih, &buf, u64::MAX - 511), c::ERANGE, "1024 at 2^64-512");
    assert_rc!(
        write_at(ih, &buf, u64::MAX - 1023),
        c::ERANGE,
        "1024 at 2^64-1024 (ends exactly at 2^64)"
    );
    assert_eq!(
        prop(ih).unwrap().imo_size,
        fx.pending_data.len() as u64,
        "refused write changed the size"
    );
    close(ih, c::CLOSE_INCOMPLETE);
    fx.assert_intact();
}

#[test]
fn write_open_of_complete_image_is_ecomplete() {
    let fx = Fixture::new();
    let mut ih: sts_image_handle_t = bogus(0x5151);
    assert_rc!(
        api().open_image(&fx.lsu(), &fx.keeper, c::O_WRITE, &mut ih),
        c::ECOMPLETE
    );
    assert_eq!(ih, bogus(0x5151), "handle written on error");
    fx.assert_intact();
}

#[test]
fn read_open_of_pending_image_is_enotcomplete() {
    let fx = Fixture::new();
    assert_eq!(
        try_open(&fx.lsu(), &fx.pending, c::O_READ).map(|_| ()),
        Err(c::ENOTCOMPLETE)
    );
    fx.assert_intact();
}

#[test]
fn unknown_lsu_is_enolsu() {
    let fx = Fixture::new();
    for name in ["nosuch", "Default", "default2", "defaul"] {
        expect_lsu_rejected(&fx, &fx.srv.lsu_named(name), c::ENOLSU, name);
    }
    fx.assert_intact();
}

#[test]
fn unknown_image_is_enoent() {
    let fx = Fixture::new();
    for (b, d) in [
        ("nosuch", ""),
        ("keeper", ""),
        ("keeper", "20240102"),
        ("Keeper", "20240101"),
    ] {
        let def = image_def(b, d);
        for mode in [c::O_READ, c::O_WRITE] {
            assert_eq!(
                try_open(&fx.lsu(), &def, mode).map(|_| ()),
                Err(c::ENOENT),
                "open {b}/{d} mode {mode}"
            );
        }
        assert_rc!(
            api().delete_image(&fx.lsu(), &def, 0),
            c::ENOENT,
            "delete {b}/{d}"
        );
        assert_eq!(
            prop_byname(&fx.lsu(), &def).map(|_| ()),
            Err(c::ENOENT),
            "byname {b}/{d}"
        );
    }
    fx.assert_intact();
}

#[test]
fn unclaimed_server_name_is_enot_mine() {
    let fx = Fixture::new();
    let a = api();
    let foreign = cstring(&fx.srv.name.replacen("combstore:", "other:", 1));
    let mut sh: sts_server_handle_t = ptr::null_mut();
    assert_rc!(a.claim(foreign.as_ptr()), c::ENOT_MINE);
    assert_rc!(
        a.open_server(foreign.as_ptr(), ptr::null(), &mut sh),
        c::ENOT_MINE
    );
    assert!(sh.is_null());
    assert_rc!(
        a.get_server_prop_byname(foreign.as_ptr(), ptr::null(), &mut sts_server_info_t::default()),
        c::ENOT_MINE
    );
    fx.assert_intact();
}

#[test]
fn bad_open_mode_is_einval() {
    let fx = Fixture::new();
    for mode in [0, 3, 4, -1, 0x100, c::O_READ | 0x10] {
        for def in [&fx.keeper, &fx.pending] {
            assert_eq!(
                try_open(&fx.lsu(), def, mode).map(|_| ()),
                Err(c::EINVAL),
                "mode {mode:#x} on {}",
                cstr(&def.img_basename)
            );
        }
    }
    let p = must_prop_byname(&fx.lsu(), &fx.pending);
    assert_eq!(p.imo_flags & c::II_BUSY_WRITE, 0, "refused open left BUSY_WRITE");
    fx.assert_intact();
}

#[test]
fn bad_close_flags_on_write_handle_is_einval_and_handle_stays_open() {
    let fx = Fixture::new();
    let a = api();
    let lsu = fx.lsu();
    let ih = open(&lsu, &fx.pending, c::O_WRITE);
    for flags in [2, 3, -1, 0x100, i32::MIN] {
        assert_rc!(a.close_image(ih, flags), c::EINVAL, "close flags {flags:#x}");
    }
    // still open: still BUSY_WRITE, writable, and a second writer is refused
    let info = prop(ih).unwrap_or_else(|rc| panic!("handle closed by a refused close: {}", code_name(rc)));
    assert_ne!(
        info.imo_flags & c::II_BUSY_WRITE,
        0,
        "BUSY_WRITE cleared by a refused close"
    );
    assert_eq!(try_open(&lsu, &fx.pending, c::O_WRITE).map(|_| ()), Err(c::EBUSY));
    let more = seeded(2, 512);
    write_all(ih, &more, fx.pending_data.len() as u64);
    close(ih, c::CLOSE_COMPLETE);
    let mut want = fx.pending_data.clone();
    want.extend_from_slice(&more);
    assert_bytes_eq(
        &read_image(&lsu, &fx.pending),
        &want,
        "pending image completed after refused closes",
    );
    // keeper untouched (pending is complete now, so check keeper alone)
    let info = must_prop_byname(&lsu, &fx.keeper);
    assert_eq!(cstr(&info.imo_sha1), sha1_hex(&fx.data));
    assert_bytes_eq(&read_image(&lsu, &fx.keeper), &fx.data, "keeper");
}

#[test]
fn bad_close_flags_on_read_handle_is_einval_and_handle_stays_open() {
    let fx = Fixture::new();
    let a = api();
    let rh = open(&fx.lsu(), &fx.keeper, c::O_READ);
    // "For a read handle, 0."
    for flags in [c::CLOSE_COMPLETE, 2, -1] {
        assert_rc!(
            a.close_image(rh, flags),
            c::EINVAL,
            "close read handle with flags {flags:#x}"
        );
    }
    assert_eq!(
        read_at(rh, 512, 0).unwrap(),
        &fx.data[..512],
        "handle closed by a refused close"
    );
    close(rh, 0);
    fx.assert_intact();
}

#[test]
fn out_params_are_untouched_on_error() {
    let fx = Fixture::new();
    let a = api();
    let lsu = fx.lsu();
    let s: sts_image_handle_t = bogus(0x5151);
    let mut ih = s;
    assert_rc!(a.create_image(&lsu, &fx.keeper, 0, &mut ih), c::EEXIST);
    assert_eq!(ih, s, "create_image EEXIST wrote ih");
    assert_rc!(
        a.open_image(&lsu, &image_def("nosuch", ""), c::O_READ, &mut ih),
        c::ENOENT
    );
    assert_eq!(ih, s, "open_image ENOENT wrote ih");
    let mut info = sts_image_info_t::default();
    info.imo_flags = 0xabcd;
    assert_rc!(
        a.get_image_prop_byname(&lsu, &image_def("nosuch", ""), &mut info),
        c::ENOENT
    );
    assert_eq!(info.imo_flags, 0xabcd, "get_image_prop_byname ENOENT wrote info");
    let wh = open(&lsu, &fx.pending, c::O_WRITE);
    let mut n = 0x5151u64;
    assert_rc!(
        a.write_image(wh, ptr::null(), [0u8; 100].as_ptr().cast(), 100, 0, &mut n),
        c::EALIGN
    );
    assert_eq!(n, 0x5151, "write_image EALIGN wrote byteswritten");
    close(wh, c::CLOSE_INCOMPLETE);
    let rh = open(&lsu, &fx.keeper, c::O_READ);
    let mut buf = [0x77u8; 8];
    assert_rc!(
        a.read_image_meta(rh, buf.as_mut_ptr().cast(), 8, 1 << 20, &mut n),
        c::ERANGE
    );
    assert_eq!(n, 0x5151, "read_image_meta ERANGE wrote bytesread");
    assert_eq!(buf, [0x77u8; 8], "read_image_meta ERANGE wrote the buffer");
    close(rh, 0);
    let mut sh: sts_server_handle_t = bogus(0x5151);
    assert_rc!(
        a.open_server(cstring("combstore:relative").as_ptr(), ptr::null(), &mut sh),
        c::ENOSERVER
    );
    assert_eq!(sh, bogus(0x5151), "open_server ENOSERVER wrote sh");
    fx.assert_intact();
}

// ================================================================== strerror

#[test]
fn strerror_names_every_error_code() {
    let a = api();
    for (name, code) in c::CODES {
        let p = a.strerror(*code);
        assert!(!p.is_null(), "stsp_strerror({code}) is NULL");
        let s = unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned();
        assert!(
            s.contains(name),
            "stsp_strerror({code}) = {s:?} does not name {name}"
        );
        assert!(
            s.len() > name.len(),
            "stsp_strerror({code}) = {s:?} has no meaning"
        );
        // static: the same pointer every time
        assert_eq!(
            a.strerror(*code),
            p,
            "stsp_strerror({code}) is not a static string"
        );
    }
}

#[test]
fn strerror_of_unknown_codes_is_the_unknown_string() {
    let a = api();
    for code in [-1, -60, 11, 19, 37, 45, 59, 62, 1000, i32::MIN, i32::MAX] {
        let p = a.strerror(code);
        assert!(!p.is_null(), "stsp_strerror({code}) is NULL");
        let s = unsafe { std::ffi::CStr::from_ptr(p) }
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(s, "STS_E?: unknown error code", "stsp_strerror({code})");
    }
}
