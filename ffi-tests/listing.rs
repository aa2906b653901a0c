//! stsp_open_image_list / stsp_list_image / stsp_close_image_list.

use crate::common::*;
use std::collections::HashSet;
use std::ptr;
use sys::{sts_image_def_t, sts_image_list_handle_t};

#[test]
fn image_list_of_empty_lsu_is_eno_more_at_once() {
    let srv = Server::new();
    let a = api();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(&srv.lsu(), &mut lh), c::EOK);
    let mut d = sts_image_def_t::default();
    fill_unterminated(&mut d.img_basename, b'#');
    assert_rc!(a.list_image(lh, &mut d), c::ENO_MORE);
    assert!(
        d.img_basename.iter().all(|c| *c as u8 == b'#'),
        "def written with ENO_MORE"
    );
    assert_rc!(a.list_image(lh, &mut d), c::ENO_MORE, "again");
    assert_rc!(a.close_image_list(lh), c::EOK);
}

#[test]
fn image_list_orders_by_basename_then_date_bytewise() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let names: &[(&str, &str)] = &[
        ("b", ""),
        ("a", "2"),
        ("a", "10"),
        ("B", "x"),
        ("a", ""),
        ("ab", ""),
        ("a-b", ""),
        ("é", "1"), // 0xC3 0xA9: after every ASCII byte
        ("z", "2024-12-31"),
        ("z", "2024-01-01"),
        ("a b", ""),
    ];
    for (b, d) in names {
        store_complete(&lsu, &image_def(b, d), &[]);
    }
    let mut want: Vec<(Vec<u8>, Vec<u8>)> = names
        .iter()
        .map(|(b, d)| (b.as_bytes().to_vec(), d.as_bytes().to_vec()))
        .collect();
    want.sort();
    let got = list_images(&lsu);
    let show = |v: &Vec<(Vec<u8>, Vec<u8>)>| -> Vec<String> {
        v.iter()
            .map(|(b, d)| format!("{}/{}", String::from_utf8_lossy(b), String::from_utf8_lossy(d)))
            .collect()
    };
    assert_eq!(show(&got), show(&want));
}

#[test]
fn image_list_includes_images_in_every_state() {
    let srv = Server::new();
    let lsu = srv.lsu();
    store_complete(&lsu, &image_def("complete", ""), &seeded(1, 512));
    let ih = create(&lsu, &image_def("checkpointed", ""));
    close(ih, c::CLOSE_INCOMPLETE);
    let open_writer = create(&lsu, &image_def("writing", ""));
    assert_eq!(list_basenames(&lsu), vec!["checkpointed", "complete", "writing"]);
    close(open_writer, c::CLOSE_COMPLETE);
}

#[test]
fn image_list_returns_clean_defs() {
    let srv = Server::new();
    let lsu = srv.lsu();
    store_complete(&lsu, &image_def("n", "d"), &[]);
    let a = api();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(&lsu, &mut lh), c::EOK);
    let mut d = sts_image_def_t::default();
    fill_unterminated(&mut d.img_basename, b'#');
    fill_unterminated(&mut d.img_date, b'#');
    d.img_flags = 0xffff;
    assert_rc!(a.list_image(lh, &mut d), c::EOK);
    assert_eq!(cstr(&d.img_basename), "n");
    assert_eq!(cstr(&d.img_date), "d");
    assert_eq!(d.img_flags, 0, "img_flags of a listed def");
    assert_rc!(a.close_image_list(lh), c::EOK);
}

#[test]
fn image_list_with_more_than_1000_images_pages_through_all() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let n = 1100;
    let mut want = Vec::new();
    // created in a scrambled order
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng(3);
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for i in order {
        let name = format!("img-{i:05}");
        let ih = create(&lsu, &image_def(&name, ""));
        close(ih, c::CLOSE_INCOMPLETE);
    }
    for i in 0..n {
        want.push(format!("img-{i:05}"));
    }
    let got = list_basenames(&lsu);
    assert_eq!(got.len(), n, "number of images listed");
    assert_eq!(got, want);
}

#[test]
fn image_list_changes_while_listing_never_repeat_a_name() {
    let srv = Server::new();
    let lsu = srv.lsu();
    for i in 0..60 {
        let ih = create(&lsu, &image_def(&format!("n{i:03}"), ""));
        close(ih, c::CLOSE_INCOMPLETE);
    }
    let a = api();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(&lsu, &mut lh), c::EOK);
    let mut seen = Vec::new();
    let mut step = 0;
    loop {
        let mut d = sts_image_def_t::default();
        let rc = a.list_image(lh, &mut d);
        if rc == c::ENO_MORE {
            break;
        }
        assert_rc!(rc, c::EOK);
        seen.push(cstr(&d.img_basename));
        step += 1;
        if step == 20 {
            // delete some behind and ahead, create some behind and ahead
            for i in [5, 10, 30, 40, 55] {
                assert_rc!(
                    a.delete_image(&lsu, &image_def(&format!("n{i:03}"), ""), 0),
                    c::EOK
                );
            }
            for name in ["m000", "n0105", "n045x", "zzz"] {
                let ih = create(&lsu, &image_def(name, ""));
                close(ih, c::CLOSE_INCOMPLETE);
            }
        }
        assert!(seen.len() < 1000, "list does not end");
    }
    assert_rc!(a.close_image_list(lh), c::EOK);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a name appeared twice: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "listing left (basename, date) order");
    // images untouched by the changes all appear
    for i in 0..60 {
        if ![5, 10, 30, 40, 55].contains(&i) {
            let n = format!("n{i:03}");
            assert!(seen.contains(&n), "{n} missing from the listing");
        }
    }
}

#[test]
fn image_list_unknown_lsu_is_enolsu() {
    let srv = Server::new();
    let mut lh: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(
        api().open_image_list(&srv.lsu_named("nosuch"), &mut lh),
        c::ENOLSU
    );
    assert!(lh.is_null(), "out-param written on error");
}

#[test]
fn two_image_lists_are_independent() {
    let srv = Server::new();
    let lsu = srv.lsu();
    for n in ["a", "b", "c"] {
        store_complete(&lsu, &image_def(n, ""), &[]);
    }
    let a = api();
    let mut l1: sts_image_list_handle_t = ptr::null_mut();
    let mut l2: sts_image_list_handle_t = ptr::null_mut();
    assert_rc!(a.open_image_list(&lsu, &mut l1), c::EOK);
    assert_rc!(a.open_image_list(&lsu, &mut l2), c::EOK);
    assert_ne!(l1, l2);
    let mut d = sts_image_def_t::default();
    assert_rc!(a.list_image(l1, &mut d), c::EOK);
    assert_rc!(a.list_image(l1, &mut d), c::EOK);
    assert_eq!(cstr(&d.img_basename), "b");
    assert_rc!(a.list_image(l2, &mut d), c::EOK);
    assert_eq!(cstr(&d.img_basename), "a", "second list starts at the beginning");
    assert_rc!(a.close_image_list(l1), c::EOK);
    assert_rc!(a.list_image(l2, &mut d), c::EOK);
    assert_eq!(
        cstr(&d.img_basename),
        "b",
        "closing one list does not affect the other"
    );
    assert_rc!(a.close_image_list(l2), c::EOK);
}
