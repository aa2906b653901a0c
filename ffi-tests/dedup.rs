//! Deduplication and compression through the C entry points (issue 15):
//! nightly fulls of one client, a synthetic full built from deduplicated
//! images, and what deletes give back.

use crate::common::*;
use sys::sts_lsu_t;

/// A backup-like stream: 64 KiB stretches of incompressible bytes and of
/// log-like text, from `seed`.
fn stream(seed: u64, len: usize) -> Vec<u8> {
    let noise = seeded(seed, len);
    let mut out = Vec::with_capacity(len);
    for (i, piece) in noise.chunks(64 << 10).enumerate() {
        if i % 2 == 0 {
            out.extend_from_slice(piece);
        } else {
            out.extend(
                piece
                    .iter()
                    .enumerate()
                    .map(|(k, b)| b"2026-12-06 backup job 17: file ok\n"[k % 34] ^ (b & 1)),
            );
        }
    }
    out
}

/// The next night's full: `prev` with `n` small edits at unaligned places
/// (overwrites, insertions, deletions: what shifts the rest of the stream).
fn next_night(prev: &[u8], n: usize, seed: u64) -> Vec<u8> {
    let mut out = prev.to_vec();
    let mut x = seed | 1;
    for i in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = (x >> 24) as usize % (out.len() - 4096);
        match i % 3 {
            0 => out[at..at + 1000].iter_mut().for_each(|b| *b = b.wrapping_add(1)),
            1 => drop(out.splice(at..at, seeded(x, 333))),
            _ => drop(out.drain(at..at + 777)),
        }
    }
    out.truncate(out.len() / 512 * 512); // image I/O is in 512-byte blocks
    out
}

fn used(lsu: &sts_lsu_t) -> (u64, u64) {
    let i = lsu_info(lsu).unwrap_or_else(|rc| panic!("stsp_get_lsu_prop_byname -> {}", code_name(rc)));
    (i.lsu_used, i.lsu_used_phys)
}

#[test]
fn the_server_and_its_lsus_advertise_dedup_and_compression() {
    let srv = Server::new();
    let info = lsu_info(&srv.lsu()).unwrap();
    let want = c::LSUF_DEDUP | c::LSUF_COMPRESSED | c::LSUF_SHARED;
    assert_eq!(info.lsu_flags & want, want, "lsu_flags 0x{:x}", info.lsu_flags);
    let si = server_info(srv.sh).unwrap();
    assert_ne!(si.srv_flags & c::SRV_DEDUP, 0, "srv_flags 0x{:x}", si.srv_flags);
}

#[test]
fn nightly_fulls_of_one_client_store_only_what_changed() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let mut night = stream(0x5eed, 12 << 20);
    let mut fulls = Vec::new();
    let mut logical = 0;
    let mut phys_before = 0;
    for n in 0..4 {
        let def = image_def("client7_full", &format!("{}", 1_765_000_000 + n * 86_400));
        store_complete(&lsu, &def, &night);
        logical += night.len() as u64;
        let (used_now, phys_now) = used(&lsu);
        assert_eq!(used_now, logical, "lsu_used stays logical");
        let growth = phys_now - phys_before;
        if n == 0 {
            assert!(
                growth < night.len() as u64 * 4 / 5,
                "first full: {growth} stored for {} (compression)",
                night.len()
            );
        } else {
            // 20 edits each change at most a few chunks of <= 64 KiB
            assert!(
                growth < night.len() as u64 / 20,
                "full {n} added {growth} bytes for {} logical",
                night.len()
            );
        }
        phys_before = phys_now;
        fulls.push((def, night.clone()));
        night = next_night(&night, 20, n + 1);
    }
    for (def, data) in &fulls {
        assert_eq!(cstr(&must_prop_byname(&lsu, def).imo_sha1), sha1_hex(data));
        assert_bytes_eq(&read_image(&lsu, def), data, "a deduplicated full");
    }
    // Deleting the oldest full frees only what no later one shares.
    let (_, phys_all) = used(&lsu);
    assert_rc!(api().delete_image(&lsu, &fulls[0].0, 0), c::EOK);
    let (_, phys_after) = used(&lsu);
    assert!(
        phys_all - phys_after < phys_all / 10,
        "{phys_all} -> {phys_after}"
    );
    for (def, data) in &fulls[1..] {
        assert_bytes_eq(&read_image(&lsu, def), data, "a full after the oldest went");
    }
    for (def, _) in &fulls[1..] {
        assert_rc!(api().delete_image(&lsu, def, 0), c::EOK);
    }
    assert_eq!(used(&lsu), (0, 0), "nothing left charged");
}

#[test]
fn a_synthetic_full_from_deduplicated_images_stores_nothing_new() {
    let srv = Server::new();
    let lsu = srv.lsu();
    let base = stream(0xbea5, 6 << 20);
    let incr = next_night(&base, 10, 3);
    let (bdef, idef) = (image_def("full", ""), image_def("incr", ""));
    store_complete(&lsu, &bdef, &base);
    store_complete(&lsu, &idef, &incr);
    let (_, phys) = used(&lsu);
    // synthetic: the first 4 MiB of the full, then the incremental's rest
    let cut = 4 << 20;
    let mut want = base[..cut].to_vec();
    want.extend_from_slice(&incr[cut..incr.len() / 512 * 512]);
    let sdef = image_def("synthetic", "");
    let to = create(&lsu, &sdef);
    let from_b = open(&lsu, &bdef, c::O_READ);
    let from_i = open(&lsu, &idef, c::O_READ);
    let mut n = 0u64;
    assert_rc!(
        api().include_in_image(from_b, to, 0, 0, cut as u64, 0, &mut n),
        c::EOK
    );
    let rest = (want.len() - cut) as u64;
    assert_rc!(
        api().include_in_image(from_i, to, cut as u64, cut as u64, rest, 0, &mut n),
        c::EOK
    );
    close(from_b, 0);
    close(from_i, 0);
    close(to, c::CLOSE_COMPLETE);
    assert_eq!(used(&lsu).1, phys, "the synthetic full refers to stored chunks");
    assert_rc!(api().delete_image(&lsu, &bdef, 0), c::EOK);
    assert_rc!(api().delete_image(&lsu, &idef, 0), c::EOK);
    assert_bytes_eq(
        &read_image(&lsu, &sdef),
        &want,
        "synthetic full after its sources went",
    );
    assert_eq!(cstr(&must_prop_byname(&lsu, &sdef).imo_sha1), sha1_hex(&want));
}

#[test]
fn a_copy_to_a_second_server_sends_only_the_chunks_it_lacks() {
    let a = Server::new();
    let b = Server::new();
    let (la, lb) = (a.lsu(), b.lsu());
    let gen1 = stream(0xd0b, 8 << 20);
    let gen2 = next_night(&gen1, 12, 9);
    let (d1, d2) = (image_def("night", "1"), image_def("night", "2"));
    store_complete(&la, &d1, &gen1);
    store_complete(&la, &d2, &gen2);
    // the target is B, through a target handle of A's session
    let th = open_target_server(a.sh, &b.name).unwrap();
    let tl = lsu_t(th, "default");
    assert_rc!(
        api().copy_image(&tl, &d1, &la, &d1, 0),
        c::EOK,
        "copy the first full to B"
    );
    let (_, after1) = used(&lb);
    // the second full, asynchronously: its event says what was sent
    let evc = Evc::open(b.sh);
    assert_rc!(named_copy(&tl, &d2, &la, &d2, "second-full"), c::EOK);
    let (rc, st) = named_wait(b.sh, "second-full", 60_000);
    assert_eq!((rc, st), (c::EOK, c::EOK));
    let (_, after2) = used(&lb);
    assert!(
        after2 - after1 < gen2.len() as u64 / 10,
        "B grew {} for the second full",
        after2 - after1
    );
    let (done, _) = evc.wait_for(std::time::Duration::from_secs(60), "ASYNC_DONE", |e| {
        e.ev_type == c::EVT_ASYNC_DONE
    });
    let text = cstr(&done.ev_text);
    let sent: u64 = text
        .rsplit_once("; ")
        .and_then(|(_, t)| t.strip_suffix(" bytes sent"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("event text: {text}"));
    assert!(
        sent < gen2.len() as u64 / 10,
        "{sent} bytes sent for the second full"
    );
    assert_rc!(api().close_server(th), c::EOK);
    for (def, data) in [(&d1, &gen1), (&d2, &gen2)] {
        assert_bytes_eq(&read_image(&lb, def), data, "copied full on B");
        assert_eq!(cstr(&must_prop_byname(&lb, def).imo_sha1), sha1_hex(data));
    }
}
