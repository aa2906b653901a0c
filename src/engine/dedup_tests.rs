//! Deduplication and compression through the engine (issue 15): what a
//! second full stores, the chunk release protocol's race, and reads of
//! shared chunks.

use super::*;

/// A new server, on the chunk store the run asks for (server::test_store).
fn server() -> (tempfile::TempDir, Server) {
    super::test_store::server()
}

fn name(n: &str) -> ImageName {
    ImageName::new(n, "1").unwrap()
}

/// Half incompressible noise, half repetitive text, in 64 KiB stretches.
fn stream(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let text = (x >> 7) % 2 == 0;
        for i in 0..(64 << 10) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push(if text {
                b"log line 42 ok\n"[i % 15] ^ ((x >> 60) as u8 & 1)
            } else {
                x as u8
            });
        }
    }
    out.truncate(len);
    out
}

/// `base` with `n` unaligned edits: overwrites, insertions and deletions.
fn edited(base: &[u8], n: usize, seed: u64) -> Vec<u8> {
    let mut out = base.to_vec();
    let mut x = seed | 1;
    for i in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = (x >> 20) as usize % (out.len() - 1000);
        match i % 3 {
            0 => out[at..at + 300].iter_mut().for_each(|b| *b ^= 0x5a),
            1 => {
                out.splice(at..at, (0..777).map(|k| k as u8));
            }
            _ => {
                out.drain(at..at + 555);
            }
        }
    }
    out
}

fn write(s: &Server, lsu: &str, n: &str, bytes: &[u8]) {
    let mut w = s.create_image(lsu, &name(n)).unwrap();
    for (i, piece) in bytes.chunks(256 << 10).enumerate() {
        w.write_any((i * (256 << 10)) as u64, piece).unwrap();
    }
    w.close(true).unwrap();
}

fn read(s: &Server, lsu: &str, n: &str) -> Vec<u8> {
    let mut r = s.open_image(lsu, &name(n)).unwrap();
    let mut out = vec![0u8; r.size() as usize];
    let mut off = 0;
    while off < out.len() {
        let got = r
            .read_any(
                off as u64,
                &mut out[off..(off + (1 << 20)).min(r.size() as usize)],
            )
            .unwrap();
        off += got;
    }
    out
}

fn phys(s: &Server, lsu: &str) -> u64 {
    s.lsu_info(lsu).unwrap().used_phys
}

/// Writes `gen1` and then `gen2` as images full-1 and full-2; returns
/// the bytes full-1 stored and those full-2 added (`used_phys`).
fn two_fulls(s: &Server, gen1: &[u8], gen2: &[u8]) -> (u64, u64) {
    write(s, "default", "full-1", gen1);
    let after1 = phys(s, "default");
    write(s, "default", "full-2", gen2);
    (after1, phys(s, "default") - after1)
}

#[test]
fn a_second_full_stores_only_what_changed_and_both_read_back() {
    let (_d, s) = server();
    let gen1 = stream(1, 8 << 20);
    let gen2 = edited(&gen1, 12, 7);
    let (after1, growth) = two_fulls(&s, &gen1, &gen2);
    assert!(
        after1 < gen1.len() as u64 * 3 / 4,
        "compressed: {after1} of {}",
        gen1.len()
    );
    // 12 edits touch at most ~3 chunks of <= 64 KiB each
    assert!(growth < 12 * 3 * (64 << 10), "gen 2 added {growth} bytes");
    assert!(growth < gen2.len() as u64 / 5, "gen 2 added {growth} bytes");
    assert_eq!(read(&s, "default", "full-1"), gen1);
    assert_eq!(read(&s, "default", "full-2"), gen2);
    let info = s.image_info("default", &name("full-2")).unwrap();
    assert_eq!(
        info.sha1,
        crate::hex::encode(&<sha1::Sha1 as sha1::Digest>::digest(&gen2))
    );
    assert_eq!(s.check().unwrap().errors(), 0);
}

/// 512 chunks, an edit in every eight: the writer's memory of chunks the
/// server holds (256 in tests) starts again several times, with a batch
/// in flight while the next buffer is looked up; only the edits' chunks
/// are stored (about 0.9 MB for this stream; each edit touches two or
/// three chunks of 16 KiB on average, compressed).
#[test]
fn a_second_full_past_the_writers_memory_stores_only_its_edits() {
    let (_d, s) = server();
    let gen1 = stream(2, 8 << 20);
    let gen2 = edited(&gen1, 64, 5);
    let (_, growth) = two_fulls(&s, &gen1, &gen2);
    assert!(growth < 64 * 2 * (16 << 10), "gen 2 added {growth} bytes");
    assert_eq!(read(&s, "default", "full-2"), gen2);
}

#[test]
fn the_same_bytes_in_another_lsu_are_stored_once_and_charged_once() {
    let (_d, s) = server();
    s.create_lsu("second").unwrap();
    let bytes = stream(2, 3 << 20);
    write(&s, "default", "a", &bytes);
    write(&s, "second", "a", &bytes);
    let (p1, p2) = (phys(&s, "default"), phys(&s, "second"));
    assert!(p1 > 0);
    assert_eq!(p2, 0, "every chunk is charged to the LSU that stored it first");
    assert_eq!(
        s.lsu_info("second").unwrap().used,
        bytes.len() as u64,
        "logical stays logical"
    );
    s.delete_image("default", &name("a")).unwrap();
    assert_eq!(phys(&s, "default"), 0);
    assert_eq!(
        phys(&s, "second"),
        p1,
        "the charge moves to the LSU still using the chunks"
    );
    assert_eq!(read(&s, "second", "a"), bytes);
    s.delete_image("second", &name("a")).unwrap();
    assert_eq!(phys(&s, "second"), 0);
    assert_eq!(s.space().unwrap().chunks, 0);
    assert_eq!(s.check().unwrap().errors(), 0);
}

#[test]
fn repeats_inside_one_image_and_unaligned_writes_read_back() {
    let (_d, s) = server();
    let block = stream(3, 200 << 10);
    let mut bytes = Vec::new();
    for _ in 0..10 {
        bytes.extend_from_slice(&block);
        bytes.extend_from_slice(&[9u8; 1234]);
    }
    let mut w = s.create_image("default", &name("r")).unwrap();
    // odd-sized pieces, then an overwrite in the middle, then a gap
    let mut off = 0;
    for piece in bytes.chunks(77_777) {
        w.write_any(off, piece).unwrap();
        off += piece.len() as u64;
    }
    w.write_any(500_000, &[1u8; 10_000]).unwrap();
    bytes[500_000..510_000].fill(1);
    let end = bytes.len() as u64;
    w.write_any(end + 100_000, &block[..5000]).unwrap();
    bytes.resize(bytes.len() + 100_000, 0);
    bytes.extend_from_slice(&block[..5000]);
    w.close(true).unwrap();
    assert_eq!(read(&s, "default", "r"), bytes);
    assert!(
        phys(&s, "default") < 2 * block.len() as u64,
        "{}",
        phys(&s, "default")
    );
    assert_eq!(s.check().unwrap().errors(), 0);
}

#[test]
fn a_writer_that_found_a_chunk_keeps_it_when_its_last_image_goes() {
    // The release protocol's race: writer W finds chunks by fingerprint,
    // then the only image holding them is deleted before W commits.
    let (_d, s) = server();
    let bytes = stream(4, 2 << 20);
    write(&s, "default", "old", &bytes);
    let mut w = s.create_image("default", &name("new")).unwrap();
    w.write_any(0, &bytes).unwrap(); // found, not stored; not committed yet
    s.delete_image("default", &name("old")).unwrap();
    assert!(
        s.shared
            .catalog
            .lock()
            .sql()
            .query_row("SELECT count(*) FROM chunks WHERE dead IS NOT NULL", [], |r| r
                .get::<_, i64>(0))
            .unwrap()
            > 0,
        "released chunks wait (a writer is open)"
    );
    // A reclaim now must not take what W is about to refer to.
    s.reclaim().unwrap();
    w.close(true).unwrap();
    assert_eq!(read(&s, "default", "new"), bytes);
    s.reclaim().unwrap();
    assert_eq!(read(&s, "default", "new"), bytes);
    assert_eq!(s.check().unwrap().errors(), 0);
    let v = s.verify(None, None, &mut |_| {}).unwrap();
    assert!(v.damaged.is_empty());
}

#[test]
fn a_writer_never_takes_a_chunk_released_before_it_opened() {
    let (_d, s) = server();
    let bytes = stream(5, 1 << 20);
    write(&s, "default", "old", &bytes);
    let keep_open = s.create_image("default", &name("pin")).unwrap(); // holds released chunks dead
    s.delete_image("default", &name("old")).unwrap();
    // Registered after the release: must store the bytes again (the dead
    // chunk may be reclaimed the moment `keep_open` closes).
    let mut w = s.create_image("default", &name("late")).unwrap();
    w.write_any(0, &bytes).unwrap();
    keep_open.close(true).unwrap(); // sweeps: the dead chunks go now
    w.close(true).unwrap();
    assert_eq!(read(&s, "default", "late"), bytes);
    s.reclaim().unwrap();
    assert_eq!(read(&s, "default", "late"), bytes);
    assert_eq!(s.check().unwrap().errors(), 0);
    assert_eq!(dead_chunks(&s), 0);
}

#[test]
fn two_writers_storing_the_same_new_chunks_record_them_once() {
    let (_d, s) = server();
    let bytes = stream(6, 1 << 20);
    let mut a = s.create_image("default", &name("a")).unwrap();
    let mut b = s.create_image("default", &name("b")).unwrap();
    a.write_any(0, &bytes).unwrap();
    b.write_any(0, &bytes).unwrap(); // neither committed: both store
    a.close(true).unwrap();
    b.close(true).unwrap(); // finds a's rows at commit; its copy is freed
    let chunks = s.space().unwrap().chunks;
    assert!(chunks < 120, "{chunks} chunks for 1 MiB");
    assert_eq!(read(&s, "default", "a"), bytes);
    assert_eq!(read(&s, "default", "b"), bytes);
    assert!(phys(&s, "default") <= bytes.len() as u64);
    assert_eq!(s.check().unwrap().errors(), 0);
    let queued = crate::catalog::pending_free_ranges(&s.shared.catalog.lock()).unwrap();
    assert!(
        queued.is_empty(),
        "the copy's space punched and forgotten: {queued:?}"
    );
}

/// Chunks waiting, dead, to be reclaimed.
fn dead_chunks(s: &Server) -> i64 {
    let conn = s.shared.catalog.lock();
    conn.sql()
        .query_row("SELECT count(*) FROM chunks WHERE dead IS NOT NULL", [], |r| {
            r.get(0)
        })
        .unwrap()
}

/// A writer of LSU "second" stores chunks that a writer of "default"
/// records first; "default"'s image is deleted while the second writer is
/// open (its chunks wait, dead). The second writer's commit finds them
/// dead, revives them and charges them to "second", which alone refers to
/// them.
#[test]
fn chunks_another_lsu_recorded_first_and_released_are_revived_and_charged_to_the_writer() {
    let (_d, s) = server();
    s.create_lsu("second").unwrap();
    let bytes = stream(31, 1 << 20);
    let mut b = s.create_image("second", &name("b")).unwrap();
    b.write_any(0, &bytes).unwrap(); // stored, not committed
    write(&s, "default", "a", &bytes);
    s.delete_image("default", &name("a")).unwrap();
    assert!(dead_chunks(&s) > 0, "a's chunks wait while a writer is open");
    b.close(true).unwrap();
    assert_eq!(read(&s, "second", "b"), bytes);
    assert_eq!(phys(&s, "default"), 0, "default refers to nothing any more");
    assert!(phys(&s, "second") > 0);
    assert!(phys(&s, "second") <= bytes.len() as u64, "b's copies freed");
    assert_eq!(
        s.check().unwrap().errors(),
        0,
        "every chunk charged to an LSU that refers to it"
    );
    s.shared.sweep().unwrap();
    assert_eq!(read(&s, "second", "b"), bytes, "revived: not reclaimed");
}

#[test]
fn a_wrong_fingerprint_row_fails_reads_instead_of_returning_other_bytes() {
    let (_d, s) = server();
    let a = stream(8, 256 << 10);
    let b = stream(9, 256 << 10);
    write(&s, "default", "a", &a);
    write(&s, "default", "b", &b);
    {
        // Damage: one of a's chunk rows gets another fingerprint.
        let conn = s.shared.catalog.lock();
        let (ca, cb): (i64, i64) = conn
            .sql()
            .query_row(
                "SELECT (SELECT min(chunk_id) FROM extents e JOIN images i ON i.id = e.image_id WHERE i.basename = 'a'),
                        (SELECT min(chunk_id) FROM extents e JOIN images i ON i.id = e.image_id WHERE i.basename = 'b')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        conn.sql()
            .execute(
                "UPDATE chunks SET fp = (SELECT fp FROM chunks WHERE id = ?1) WHERE id = ?2",
                [ca, cb],
            )
            .unwrap_err(); // the fingerprint index is unique: two rows cannot share one
        let other: Vec<u8> = (0..32u8).map(|k| k.wrapping_mul(37) ^ 0x5a).collect();
        conn.sql()
            .execute(
                "UPDATE chunks SET fp = ?2 WHERE id = ?1",
                crate::catalog::test_params![ca, other],
            )
            .unwrap();
    }
    let mut r = s.open_image("default", &name("a")).unwrap();
    let mut buf = vec![0u8; 4096];
    assert!(matches!(r.read(0, &mut buf), Err(Error::Corrupt(_))));
    assert_eq!(buf, vec![0u8; 4096], "no unverified byte returned");
    assert_eq!(read(&s, "default", "b"), b);
    // A writer storing a's bytes again cannot be matched to the damaged row.
    write(&s, "default", "a2", &a);
    assert_eq!(read(&s, "default", "a2"), a);
}

#[test]
fn archive_objects_with_the_same_data_are_stored_once() {
    let (_d, s) = server();
    let data = stream(10, 300 << 10);
    let put = |s: &Server| {
        let mut at = 0;
        s.store_object(
            &mut |buf: &mut [u8]| {
                let n = (data.len() - at).min(buf.len());
                buf[..n].copy_from_slice(&data[at..at + n]);
                at += n;
                Ok(n)
            },
            Vec::new(),
        )
        .unwrap()
    };
    put(&s);
    let one = phys(&s, archive::ARCHIVE_LSU);
    put(&s);
    let two = phys(&s, archive::ARCHIVE_LSU);
    assert!(one > 0);
    assert_eq!(one, two, "the second object's data is the first's chunks");
}

#[test]
fn a_copy_to_another_server_sends_only_the_chunks_it_lacks() {
    let (d, a) = server();
    let b = Server::open(&d.path().join("b")).unwrap();
    let gen1 = stream(11, 6 << 20);
    let mut gen2 = edited(&gen1, 10, 3);
    gen2.truncate(gen2.len() / 512 * 512); // stsp images are whole blocks
    write(&a, "default", "g1", &gen1);
    let a1 = phys(&a, "default");
    write(&a, "default", "g2", &gen2);
    let copy = |from: &str, to: &str| {
        b.copy_image_with("default", &name(to), &a, "default", &name(from), &|| false)
            .unwrap()
    };
    let sent1 = copy("g1", "g1");
    assert_eq!(
        sent1, a1,
        "the first copy sends every chunk, compressed as stored"
    );
    assert_eq!(phys(&b, "default"), a1);
    let sent2 = copy("g2", "g2");
    assert!(
        sent2 < gen2.len() as u64 / 10,
        "the second full sent {sent2} bytes"
    );
    assert_eq!(phys(&b, "default"), phys(&a, "default"), "B stores what A stores");
    assert_eq!(copy("g2", "g2-again"), 0, "nothing is sent twice");
    for n in ["g1", "g2", "g2-again"] {
        let want = if n == "g1" { &gen1 } else { &gen2 };
        assert_eq!(&read(&b, "default", n), want, "{n}");
    }
    let sha = |s: &Server, n: &str| s.image_info("default", &name(n)).unwrap().sha1;
    assert_eq!(sha(&b, "g2-again"), sha(&a, "g2"));
    assert_eq!(
        sha(&b, "g2"),
        crate::hex::encode(&<sha1::Sha1 as sha1::Digest>::digest(&gen2))
    );
    assert_eq!(b.check().unwrap().errors(), 0);
    // a partial range (copy_extent) moves whole chunks inside it and the
    // bytes of the chunks at its edges
    let mut w = b.create_image("default", &name("part")).unwrap();
    let mut r = a.open_image("default", &name("g1")).unwrap();
    w.copy_from(&mut r, 1 << 20, 0, 2 << 20, false).unwrap();
    assert!(
        w.bytes_received() < 200 << 10,
        "{} bytes for a range B holds",
        w.bytes_received()
    );
    w.close(true).unwrap();
    assert_eq!(read(&b, "default", "part"), gen1[1 << 20..3 << 20]);
}

#[test]
fn a_prefilled_index_changes_nothing_a_writer_stores_or_reads() {
    let (_d, s) = server();
    assert_eq!(s.prefill_chunk_index("default", 5000, 7).unwrap(), 5000);
    assert_eq!(s.space().unwrap().chunks, 5000);
    let bytes = stream(12, 1 << 20);
    write(&s, "default", "a", &bytes);
    write(&s, "default", "b", &bytes);
    assert_eq!(read(&s, "default", "b"), bytes);
    assert_eq!(
        s.space().unwrap().chunks - 5000,
        s.shared
            .catalog
            .lock()
            .sql()
            .query_row("SELECT count(DISTINCT chunk_id) FROM extents", [], |r| r
                .get::<_, i64>(0))
            .unwrap() as u64
    );
}

/// (offset, length, fingerprint) of image `n`'s extents, in order.
fn chunk_map(s: &Server, n: &str) -> Vec<(i64, i64, Vec<u8>)> {
    let conn = s.shared.catalog.lock();
    let mut st = conn
        .sql()
        .prepare(
            "SELECT e.img_off, e.len, c.fp FROM extents e JOIN chunks c ON c.id = e.chunk_id
             JOIN images i ON i.id = e.image_id WHERE i.basename = ?1 ORDER BY e.img_off",
        )
        .unwrap();
    st.query_map([n], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn write_sizes_from_one_byte_to_three_mib_give_the_same_chunks_and_space() {
    // Repeats within a buffer and across the next (the pipeline's batch
    // in flight) must each be stored once, whatever the write size.
    let mut bytes = stream(21, 3 << 20);
    let block = stream(22, 300 << 10);
    for _ in 0..4 {
        bytes.extend_from_slice(&block);
    }
    bytes.extend_from_slice(&stream(23, (2 << 20) + 777));
    let mut seen = None;
    for size in [1, 4095, 512, 64 << 10, (1 << 20) + 512, 3 << 20] {
        let (_d, s) = server();
        let mut w = s.create_image("default", &name("w")).unwrap();
        for (i, piece) in bytes.chunks(size).enumerate() {
            w.write_any((i * size) as u64, piece).unwrap();
        }
        w.close(true).unwrap();
        assert_eq!(read(&s, "default", "w"), bytes, "write size {size}");
        let got = (chunk_map(&s, "w"), phys(&s, "default"), s.space().unwrap().chunks);
        assert!(
            got.1 < (bytes.len() - 3 * block.len()) as u64,
            "repeats stored once"
        );
        match &seen {
            None => seen = Some(got),
            Some(first) => assert!(*first == got, "write size {size} cut or stored differently"),
        }
        assert_eq!(s.check().unwrap().errors(), 0);
    }
}

#[test]
fn a_failure_storing_an_earlier_buffer_surfaces_on_the_next_call_and_poisons() {
    let (_d, s) = server();
    s.create_lsu("small").unwrap();
    s.set_lsu_capacity("small", 5 << 20).unwrap();
    let mut w = s.create_image("small", &name("big")).unwrap();
    let bytes = stream(31, 16 << 20);
    // Noise does not compress: the quota runs out within 16 MiB.
    let mut failed_at = None;
    for (i, piece) in bytes.chunks(1 << 20).enumerate() {
        if let Err(e) = w.write_any((i << 20) as u64, piece) {
            assert!(matches!(e, Error::NoSpace(_)), "{e}");
            failed_at = Some(i);
            break;
        }
    }
    let failed_at = failed_at.expect("the quota refused a write");
    assert!(failed_at < 15);
    // poisoned: every later call says so, and nothing more is stored
    let used = phys(&s, "small");
    assert!(matches!(w.write_any(16 << 20, &[1; 512]), Err(Error::PreviousIo)));
    assert!(matches!(w.flush(), Err(Error::PreviousIo)));
    assert!(matches!(w.close(true), Err(Error::PreviousIo)));
    assert_eq!(phys(&s, "small"), used);
    assert_eq!(s.check().unwrap().errors(), 0);
}

#[test]
fn a_close_or_drop_right_after_a_write_stores_everything_written() {
    let (_d, s) = server();
    let bytes = stream(41, (5 << 20) + 4096);
    let mut w = s.create_image("default", &name("c")).unwrap();
    w.write_any(0, &bytes).unwrap();
    w.close(true).unwrap();
    assert_eq!(read(&s, "default", "c"), bytes);
    let info = s.image_info("default", &name("c")).unwrap();
    assert_eq!(info.size, bytes.len() as u64);
    assert_eq!(
        info.sha1,
        crate::hex::encode(&<sha1::Sha1 as sha1::Digest>::digest(&bytes))
    );
    // a handle dropped without close commits what it was given
    let mut w = s.create_image("default", &name("d")).unwrap();
    w.write_any(0, &bytes[..3 << 20]).unwrap();
    drop(w);
    let info = s.image_info("default", &name("d")).unwrap();
    assert_eq!(info.size, 3 << 20);
    // a flush makes them visible while the handle stays open
    let mut w = s.create_image("default", &name("e")).unwrap();
    w.write_any(0, &bytes[..(2 << 20) + 512]).unwrap();
    w.flush().unwrap();
    assert_eq!(s.image_info("default", &name("e")).unwrap().size, (2 << 20) + 512);
    w.close(true).unwrap();
    assert_eq!(read(&s, "default", "e"), &bytes[..(2 << 20) + 512]);
    assert_eq!(s.check().unwrap().errors(), 0);
}

/// The chunks image `n` names, in image order: (id, segment, seg_off, len).
fn chunk_places(s: &Server, n: &str) -> Vec<(i64, i64, i64, i64)> {
    let conn = s.shared.catalog.lock();
    let mut st = conn
        .sql()
        .prepare(
            "SELECT c.id, c.segment_id, c.seg_off, c.len FROM extents e JOIN images i ON i.id = e.image_id
             JOIN chunks c ON c.id = e.chunk_id WHERE i.basename = ?1 ORDER BY e.img_off",
        )
        .unwrap();
    st.query_map([n], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn flagged(s: &Server, id: i64) -> bool {
    let conn = s.shared.catalog.lock();
    conn.sql()
        .query_row(
            "SELECT damaged IS NOT NULL FROM chunks WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
}

/// Inverts one byte of a segment file of the server in `dir`.
fn flip_segment_byte(dir: &std::path::Path, segment: i64, off: u64) {
    use std::os::unix::fs::FileExt;
    let seg = crate::store::segment::segment_path(&dir.join("segments"), segment);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(seg)
        .unwrap();
    let mut byte = [0u8];
    f.read_exact_at(&mut byte, off).unwrap();
    f.write_all_at(&[!byte[0]], off).unwrap();
}

fn damaged_names(s: &Server) -> Vec<String> {
    let v = s.verify(None, None, &mut |_| {}).unwrap();
    let mut names: Vec<String> = v.damaged.iter().map(|d| d.name.basename.clone()).collect();
    names.sort();
    names
}

#[test]
fn a_damaged_chunk_is_flagged_and_the_next_backup_of_its_bytes_repairs_every_image_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let s = Server::open(&d.path().join("srv")).unwrap();
    let a = stream(20, 1 << 20);
    let other = stream(21, 256 << 10);
    write(&s, "default", "a", &a);
    write(&s, "default", "b", &a); // shares every chunk of a
    write(&s, "default", "other", &other);
    let (id, segment, seg_off, _) = chunk_places(&s, "a")[3];
    flip_segment_byte(&d.path().join("srv"), segment, seg_off as u64 + 7);

    assert_eq!(
        damaged_names(&s),
        ["a", "b"],
        "every image naming the chunk, no other"
    );
    assert!(flagged(&s, id), "verify's failed read flags the chunk");
    // The next backup of the same bytes is not referred to the damaged
    // chunk: it stores the bytes anew, and the flagged row is repaired.
    write(&s, "default", "c", &a);
    assert_eq!(read(&s, "default", "c"), a);
    assert!(!flagged(&s, id), "repaired");
    assert_eq!(chunk_places(&s, "a")[3].0, id, "same row, same id");
    assert_ne!(chunk_places(&s, "a")[3].2, seg_off, "at the new bytes");
    assert_eq!(read(&s, "default", "a"), a);
    assert_eq!(read(&s, "default", "b"), a);
    assert_eq!(read(&s, "default", "other"), other);
    assert!(damaged_names(&s).is_empty());
    assert_eq!(
        s.check().unwrap().errors(),
        0,
        "space accounting after the repair"
    );
    // Everything goes when the images do.
    for n in ["a", "b", "c", "other"] {
        s.delete_image("default", &name(n)).unwrap();
    }
    assert_eq!(phys(&s, "default"), 0);
    assert_eq!(s.check().unwrap().errors(), 0);
}

#[test]
fn a_damaged_chunk_row_is_repaired_without_freeing_the_chunk_its_damage_points_at() {
    let (_d, s) = server();
    let a = stream(22, 512 << 10);
    let other = stream(23, 512 << 10);
    write(&s, "default", "a", &a);
    write(&s, "default", "other", &other);
    // Damage: a chunk row of a now says its bytes are where other's
    // biggest chunk is.
    let (victim, ..) = chunk_places(&s, "a")[2];
    let (_, seg, off, _) = chunk_places(&s, "other").into_iter().max_by_key(|c| c.3).unwrap();
    s.shared
        .catalog
        .lock()
        .sql()
        .execute(
            "UPDATE chunks SET segment_id = ?1, seg_off = ?2 WHERE id = ?3",
            [seg, off, victim],
        )
        .unwrap();
    let mut r = s.open_image("default", &name("a")).unwrap();
    let mut buf = vec![0u8; a.len()];
    assert!(matches!(r.read_any(0, &mut buf), Err(Error::Corrupt(_))));
    assert!(flagged(&s, victim));
    write(&s, "default", "a2", &a);
    assert!(!flagged(&s, victim));
    assert_eq!(read(&s, "default", "a"), a);
    assert_eq!(read(&s, "default", "a2"), a);
    assert_eq!(
        read(&s, "default", "other"),
        other,
        "the chunk the damaged row pointed at is intact"
    );
    assert!(damaged_names(&s).is_empty());
}

/// Damages chunk `id`'s row: its checksums no longer match its bytes.
fn damage_crcs(s: &Server, id: i64) {
    let conn = s.shared.catalog.lock();
    let len: i64 = conn
        .sql()
        .query_row("SELECT length(crcs) FROM chunks WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    let zeros = vec![0u8; usize::try_from(len).unwrap()];
    conn.sql()
        .execute(
            "UPDATE chunks SET crcs = ?2 WHERE id = ?1",
            crate::catalog::test_params![id, zeros],
        )
        .unwrap();
}

fn read_fails(s: &Server, lsu: &str, n: &str) -> bool {
    let mut r = s.open_image(lsu, &name(n)).unwrap();
    let mut buf = vec![0u8; r.size() as usize];
    matches!(r.read_any(0, &mut buf), Err(Error::Corrupt(_)))
}

#[test]
fn a_repaired_chunk_is_charged_to_the_lsu_that_refers_to_it() {
    let (_d, s) = server();
    s.create_lsu("second").unwrap();
    let bytes = stream(30, 512 << 10);
    write(&s, "default", "a", &bytes);
    let victim = chunk_places(&s, "a")[1].0;
    damage_crcs(&s, victim);
    assert!(read_fails(&s, "default", "a"));
    assert!(flagged(&s, victim));
    // A writer of the other LSU is open when "a" goes: a's chunks wait,
    // dead, charged to "default"; the writer stores the damaged one anew.
    let mut w = s.create_image("second", &name("b")).unwrap();
    s.delete_image("default", &name("a")).unwrap();
    for (i, piece) in bytes.chunks(64 << 10).enumerate() {
        w.write_any((i * (64 << 10)) as u64, piece).unwrap();
    }
    w.close(true).unwrap();
    assert!(!flagged(&s, victim), "repaired");
    assert_eq!(read(&s, "second", "b"), bytes);
    assert_eq!(phys(&s, "default"), 0, "default refers to nothing any more");
    assert!(phys(&s, "second") > 0);
    assert_eq!(
        s.check().unwrap().errors(),
        0,
        "every chunk charged to an LSU that refers to it"
    );
}

#[test]
fn a_reader_whose_window_predates_a_repair_reads_the_repaired_bytes() {
    let d = tempfile::tempdir().unwrap();
    let s = Server::open(&d.path().join("srv")).unwrap();
    let bytes = stream(31, 512 << 10);
    write(&s, "default", "a", &bytes);
    let (victim, segment, seg_off, _) = chunk_places(&s, "a")[2];
    // This reader's window holds the chunk's place from now on.
    let mut stale = s.open_image("default", &name("a")).unwrap();
    stale.read_any(0, &mut [0u8; 512]).unwrap();
    flip_segment_byte(&d.path().join("srv"), segment, seg_off as u64 + 3);
    assert!(read_fails(&s, "default", "a"), "another reader finds the damage");
    write(&s, "default", "b", &bytes); // repairs it
    assert!(!flagged(&s, victim));
    let mut got = vec![0u8; bytes.len()];
    let n = stale
        .read_any(0, &mut got)
        .expect("read again from the repaired row");
    assert_eq!(n, bytes.len());
    assert!(got == bytes);
}

#[test]
fn verify_flags_every_damaged_chunk_of_an_image_not_only_its_first() {
    let (_d, s) = server();
    let bytes = stream(32, 3 << 20);
    write(&s, "default", "a", &bytes);
    let places = chunk_places(&s, "a");
    let victims = [places[1].0, places[3].0, places[places.len() - 2].0];
    for v in victims {
        damage_crcs(&s, v);
    }
    assert_eq!(damaged_names(&s), ["a"]);
    for v in victims {
        assert!(flagged(&s, v), "chunk {v} flagged");
    }
    // The next full repairs all three.
    write(&s, "default", "b", &bytes);
    assert_eq!(read(&s, "default", "a"), bytes);
    assert!(damaged_names(&s).is_empty());
}

#[test]
fn only_damage_flags_a_chunk_not_an_io_error_that_may_pass() {
    use std::io::{Error as IoError, ErrorKind};
    for (kind, damage) in [
        (ErrorKind::UnexpectedEof, true),
        (ErrorKind::NotFound, true),
        (ErrorKind::Other, false),
        (ErrorKind::OutOfMemory, false),
        (ErrorKind::PermissionDenied, false),
    ] {
        let why = super::image::read_why(&IoError::new(kind, "x"));
        assert_eq!(super::image::is_damage(&why), damage, "{kind:?}: {why}");
    }
    for why in [
        "fails its checksum",
        "does not decode: x",
        "does not match its fingerprint",
    ] {
        assert!(super::image::is_damage(why));
    }
}

/// A pool whose uploads carry their CRC64-NVME instead of a signature
/// stores and reads back like any, deduplicates, and its log warns once
/// per open that over http nothing stops anyone in the path.
#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_a_pool_with_crc64_payloads_round_trips_and_warns_over_http() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("srv");
    super::test_store::use_s3(&dir);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(crate::store::s3::POOL_FILE))
        .unwrap();
    std::io::Write::write_all(&mut f, b"COMBSTORE_S3_PAYLOAD=crc64\n").unwrap();
    let s = Server::open(&dir).unwrap();
    let gen1 = stream(33, 3 << 20);
    let gen2 = edited(&gen1, 4, 9);
    let (_, growth) = two_fulls(&s, &gen1, &gen2);
    assert!(growth < gen2.len() as u64 / 5);
    drop(s);
    let s = Server::open(&dir).unwrap();
    assert_eq!(read(&s, "default", "full-1"), gen1);
    assert_eq!(read(&s, "default", "full-2"), gen2);
    let log = std::fs::read_to_string(dir.join(crate::logging::LOG_FILE)).unwrap();
    let warned = log
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("COMBSTORE_S3_PAYLOAD=crc64 over http"))
        .count();
    assert_eq!(warned, 2, "one warning per open:\n{log}");
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_pool_objects_missing_or_corrupted_are_named_by_verify_and_repaired_by_the_next_backup() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("srv");
    super::test_store::use_s3(&dir);
    let s = Server::open(&dir).unwrap();
    let a = stream(30, 1 << 20);
    let b = stream(31, 1 << 20);
    let other = stream(32, 256 << 10);
    // each image's close uploads its chunks as an object of their own
    write(&s, "default", "a", &a);
    write(&s, "default", "b", &b);
    write(&s, "default", "other", &other);
    let (ida, sega, offa, _) = chunk_places(&s, "a")[3];
    let (idb, segb, offb, _) = chunk_places(&s, "b")[2];
    let uuid = s.shared.uuid.clone();
    crate::store::s3::tests::damage_object(&dir, &uuid, sega, offa as u64, true);
    crate::store::s3::tests::damage_object(&dir, &uuid, segb, offb as u64 + 5, false);

    let err = s
        .open_image("default", &name("a"))
        .unwrap()
        .read_any(0, &mut vec![0u8; 1 << 20]);
    assert!(matches!(err, Err(Error::Corrupt(_))), "{err:?}");
    assert_eq!(
        damaged_names(&s),
        ["a", "b"],
        "exactly the images whose objects are damaged"
    );
    assert_eq!(
        (flagged(&s, ida), flagged(&s, idb)),
        (true, true),
        "both chunks flagged"
    );
    assert_eq!(read(&s, "default", "other"), other);
    // the next backups of the same bytes store them anew
    write(&s, "default", "a2", &a);
    write(&s, "default", "b2", &b);
    assert_eq!(read(&s, "default", "a"), a);
    assert_eq!(read(&s, "default", "b"), b);
    assert!(damaged_names(&s).is_empty());
    assert_eq!(s.check().unwrap().errors(), 0);
}

/// A pool host with a cache (COMBSTORE_S3_CACHE_MIB) reads the images it
/// wrote from its disk, even an object the store has lost, but a verify
/// checks the store itself and names the image.
#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_a_host_cache_serves_reads_but_verify_checks_the_store() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("srv");
    super::test_store::use_s3(&dir);
    let conf = dir.join(crate::store::s3::POOL_FILE);
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("COMBSTORE_S3_CACHE_MIB=64\n");
    std::fs::write(&conf, text).unwrap();
    let s = Server::open(&dir).unwrap();
    let a = stream(33, 1 << 20);
    let b = stream(34, 256 << 10);
    write(&s, "default", "a", &a);
    write(&s, "default", "b", &b);
    assert!(dir.join("cache").is_dir());
    let (_, sega, offa, _) = chunk_places(&s, "a")[3];
    let uuid = s.shared.uuid.clone();
    crate::store::s3::tests::damage_object(&dir, &uuid, sega, offa as u64, true);
    assert_eq!(read(&s, "default", "a"), a, "read from the host's copy");
    assert_eq!(damaged_names(&s), ["a"], "the store lost a's object");
    assert_eq!(read(&s, "default", "b"), b);
}

/// On a store whose every request pays a round trip (an object store), a
/// reader reading on fetches a chunk its image uses again once and copies
/// it at the later uses (engine::reuse); reads that jump, reads of parts
/// of chunks and a budget smaller than the repeats read the same bytes.
#[test]
fn an_image_read_on_an_object_store_fetches_its_repeated_chunks_once() {
    use crate::store::memory::MemoryStore;
    let blocks: Vec<Vec<u8>> = (0..4).map(|k| stream(20 + k, 128 << 10)).collect();
    let order = [0, 1, 0, 2, 1, 0, 3, 2, 0, 1, 3, 3, 0, 2, 1, 0];
    let bytes: Vec<u8> = order.iter().flat_map(|&k| blocks[k].clone()).collect();
    let mut fetched = Vec::new();
    for announces in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("srv");
        let store = std::sync::Arc::new(if announces {
            MemoryStore::like_object_store()
        } else {
            MemoryStore::new()
        });
        super::test_store::use_memory_store(&path, store.clone());
        let s = Server::open(&path).unwrap();
        write(&s, "default", "r", &bytes);
        let before = store.read_bytes();
        let mut r = s.open_image("default", &name("r")).unwrap();
        let mut back = vec![0u8; bytes.len()];
        for (k, piece) in back.chunks_mut(64 << 10).enumerate() {
            assert_eq!(r.read(k as u64 * (64 << 10), piece).unwrap(), piece.len());
        }
        assert!(back == bytes, "read in order (announces: {announces})");
        fetched.push(store.read_bytes() - before);
        // jumps, back and forth, and reads of parts of chunks
        for &(off, len) in &[
            (300_000u64, 70_001usize),
            (10_000, 200_000),
            (0, 512),
            (1_600_000, 168_000),
            (90_000, 400_000),
        ] {
            let mut buf = vec![0u8; len];
            let n = r.read_any(off, &mut buf).unwrap();
            assert!(
                n > 0 && buf[..n] == bytes[off as usize..off as usize + n],
                "{off}+{len}"
            );
        }
        drop(r);
        assert_eq!(s.check().unwrap().errors(), 0);
    }
    // fetched without and with keeping: unique bytes are a quarter
    assert!(fetched[1] * 4 < fetched[0] * 3, "{fetched:?}");
}
