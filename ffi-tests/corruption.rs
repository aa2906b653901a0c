//! Corruption: bytes of a closed server's segment files and catalog are
//! flipped, zeroed, truncated or removed, then the server is opened again.
//!
//! What must hold: opening never crashes (a damaged catalog gives a
//! documented code); a read of a damaged range gives STS_ECORRUPT, never
//! other bytes; every undamaged range of every image still reads back
//! exactly; `combstore verify` names exactly the damaged images (images
//! sharing a damaged chunk through a copy included) and exits 3.
//!
//! The test finds which chunk belongs to which image in the catalog
//! (read-only), so each case damages exactly the images it means to.

use crate::common::*;
use crate::diskfull::run_combstore;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// `combstore verify --json`: exit code and the basenames it names damaged.
fn verify(dir: &Path) -> (i32, BTreeSet<String>) {
    verify_or_refusal(dir).unwrap_or_else(|err| panic!("verify refused the server: {err}"))
}

/// As [`verify`], or Err(its message) if it refuses a catalog it cannot
/// read at all (then with the damage exit status, 3).
fn verify_or_refusal(dir: &Path) -> Result<(i32, BTreeSet<String>), String> {
    let (code, out, err) = run_combstore(dir, &["verify", "--json"]);
    if out.is_empty() {
        assert_eq!(code, 3, "verify printed nothing: {err}");
        assert!(
            err.contains("corrupt"),
            "verify refused the catalog but not as damage: {err}"
        );
        return Err(err);
    }
    let report: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("verify --json (exit {code}): {e}\nstdout {out}\nstderr {err}"));
    let names = report["damaged"]
        .as_array()
        .expect("damaged list")
        .iter()
        .map(|d| d["basename"].as_str().unwrap().to_owned())
        .collect();
    Ok((code, names))
}

fn assert_verify_names(dir: &Path, want: &[&str]) {
    let (code, names) = verify(dir);
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want, "images verify names damaged");
    assert_eq!(code, if want.is_empty() { 0 } else { 3 }, "verify's exit status");
}

/// One stored chunk of an image: where its bytes are.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    img_off: u64,
    len: u64,
    segment: i64,
    seg_off: u64,
    id: i64,
}

/// The chunks of image `basename` in image order (read-only catalog access).
fn chunks_of(dir: &Path, basename: &str) -> Vec<Chunk> {
    let db = Connection::open_with_flags(dir.join("catalog.db"), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = db
        .prepare(
            "SELECT e.img_off, e.len, c.segment_id, c.seg_off, c.id FROM images i
             JOIN extents e ON e.image_id = i.id JOIN chunks c ON c.id = e.chunk_id
             WHERE i.basename = ?1 ORDER BY e.img_off",
        )
        .unwrap();
    let rows = st
        .query_map([basename], |r| {
            Ok(Chunk {
                img_off: r.get::<_, i64>(0)? as u64,
                len: r.get::<_, i64>(1)? as u64,
                segment: r.get(2)?,
                seg_off: r.get::<_, i64>(3)? as u64,
                id: r.get(4)?,
            })
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    assert!(!rows.is_empty(), "no chunks for {basename}");
    rows
}

fn segment_file(dir: &Path, id: i64) -> PathBuf {
    dir.join("segments").join(format!("{id:016x}.seg"))
}

fn rw(p: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap()
}

fn flip_byte(p: &Path, off: u64) {
    let f = rw(p);
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[b[0] ^ 0x10], off).unwrap();
}

fn zero_range(p: &Path, off: u64, len: usize) {
    rw(p).write_all_at(&vec![0u8; len], off).unwrap();
}

fn truncate(p: &Path, len: u64) {
    rw(p).set_len(len).unwrap();
}

/// Runs SQL on a closed server's catalog, as damage no SQLite check sees
/// (a flipped bit inside a row's value).
fn tamper(dir: &Path, sql: &str) {
    let db = Connection::open(dir.join("catalog.db")).unwrap();
    let n = db.execute(sql, []).unwrap();
    assert!(n > 0, "{sql}: no row changed");
}

const BS: u64 = 64 << 10;

/// Three complete images written one after the other (so their chunks lie
/// in one segment in order), and a same-server copy of the first.
struct Scene {
    srv: Server,
    images: Vec<(&'static str, Vec<u8>)>,
}

impl Scene {
    fn new(with_copy: bool) -> Scene {
        let mut srv = Server::new();
        let lsu = srv.lsu();
        let mut images = vec![
            ("alpha", seeded(0xa1, 3 << 20)),
            ("bravo", seeded(0xb2, 2 << 20)),
            ("charlie", seeded(0xc3, 3 << 19)),
        ];
        for (name, data) in &images {
            store_complete(&lsu, &image_def(name, ""), data);
        }
        if with_copy {
            let (from, to) = (image_def("alpha", ""), image_def("alpha_copy", ""));
            assert_rc!(api().copy_image(&lsu, &to, &lsu, &from, 0), c::EOK, "copy alpha");
            images.push(("alpha_copy", images[0].1.clone()));
        }
        srv.close();
        assert!(
            std::fs::metadata(srv.path.join("catalog.db-wal")).map_or(true, |m| m.len() == 0),
            "the catalog's WAL was not checkpointed at close"
        );
        Scene { srv, images }
    }

    fn dir(&self) -> &Path {
        &self.srv.path
    }

    /// Reopens the server and checks every image's reads against `bad`
    /// (see [`check_images`]).
    fn check_reads(&mut self, bad: &[Bad]) {
        self.srv.reopen();
        check_images(&self.srv.lsu(), &self.images, bad);
        self.srv.close();
    }
}

type Range = std::ops::Range<u64>;

/// Damage to one image, in image offsets: a read touching `must` has to
/// fail; one inside `may` but not `must` may fail or return the right bytes
/// (a checksum may cover more than the damaged bytes).
struct Bad {
    image: &'static str,
    must: Range,
    may: Range,
}

/// The image offsets of a damage that makes the whole image unreadable.
const WHOLE: Range = 0..u64::MAX;

/// `must` is the whole image, which may also refuse to open (STS_ECORRUPT).
fn whole(image: &'static str) -> Bad {
    Bad {
        image,
        must: WHOLE,
        may: WHOLE,
    }
}

/// Damaged bytes `must` within chunk `c` of `image`.
fn within(image: &'static str, c: &Chunk, must: Range) -> Bad {
    Bad {
        image,
        must,
        may: c.img_off..c.img_off + c.len,
    }
}

/// All of chunk `c` of `image` damaged.
fn chunk(image: &'static str, c: &Chunk) -> Bad {
    within(image, c, c.img_off..c.img_off + c.len)
}

fn overlaps(r: &Range, off: u64, len: u64) -> bool {
    r.start < off + len && off < r.end
}

/// Reads every image in BS pieces: a piece overlapping a `must` range gives
/// STS_ECORRUPT, one overlapping only a `may` range gives STS_ECORRUPT or
/// exactly the bytes written, every other piece exactly the bytes written.
fn check_images(lsu: &sys::sts_lsu_t, images: &[(&str, Vec<u8>)], bad: &[Bad]) {
    for (name, data) in images {
        let mine: Vec<&Bad> = bad.iter().filter(|b| b.image == *name).collect();
        let ih = match try_open(lsu, &image_def(name, ""), c::O_READ) {
            Ok(ih) => ih,
            Err(rc) if rc == c::ECORRUPT && mine.iter().any(|b| b.must == WHOLE) => continue,
            Err(rc) => panic!("open {name} for reading: {}", code_name(rc)),
        };
        for off in (0..data.len() as u64).step_by(BS as usize) {
            let must = mine.iter().any(|b| overlaps(&b.must, off, BS));
            let may = mine.iter().any(|b| overlaps(&b.may, off, BS));
            match read_at(ih, BS, off) {
                Ok(got) => {
                    let want = &data[off as usize..(off + BS).min(data.len() as u64) as usize];
                    assert_bytes_eq(&got, want, &format!("{name} at {off}"));
                    assert!(!must, "{name} at {off}: a damaged range read back correctly");
                }
                Err(rc) if rc == c::ECORRUPT && may => {}
                Err(rc) => panic!(
                    "{name} at {off} (damaged: {must}): {} (want {})",
                    code_name(rc),
                    if must { "ECORRUPT" } else { "the bytes" }
                ),
            }
        }
        close(ih, 0);
    }
}

#[test]
fn flipped_segment_byte_fails_its_range_and_verify_names_the_image() {
    let mut s = Scene::new(false);
    let ch = chunks_of(s.dir(), "alpha")[1];
    flip_byte(&segment_file(s.dir(), ch.segment), ch.seg_off + 12345);
    let at = ch.img_off + 12345;
    s.check_reads(&[within("alpha", &ch, at..at + 1)]);
    assert_verify_names(s.dir(), &["alpha"]);
}

#[test]
fn zeroed_segment_range_fails_its_range_and_verify_names_the_image() {
    let mut s = Scene::new(false);
    let ch = chunks_of(s.dir(), "bravo")[0];
    zero_range(&segment_file(s.dir(), ch.segment), ch.seg_off + 8192, 8192);
    let at = ch.img_off + 8192;
    s.check_reads(&[within("bravo", &ch, at..at + 8192)]);
    assert_verify_names(s.dir(), &["bravo"]);
}

#[test]
fn truncated_segment_fails_the_lost_bytes_and_verify_names_their_image() {
    let mut s = Scene::new(false);
    let chunks = chunks_of(s.dir(), "charlie");
    let last = *chunks.last().unwrap();
    // seeded bytes do not compress: the chunk is stored raw, byte for byte
    let cut = last.len / 2;
    truncate(&segment_file(s.dir(), last.segment), last.seg_off + cut);
    let lost = [within(
        "charlie",
        &last,
        last.img_off + cut..last.img_off + last.len,
    )];
    s.check_reads(&lost);
    assert_verify_names(s.dir(), &["charlie"]);
    // A new image is written after the cut (the segment is adopted by a
    // writer again); the damaged one stays damaged, the others intact.
    s.srv.reopen();
    let data = seeded(0xd4, 1 << 20);
    store_complete(&s.srv.lsu(), &image_def("delta", ""), &data);
    s.images.push(("delta", data));
    s.srv.close();
    s.check_reads(&lost);
    assert_verify_names(s.dir(), &["charlie"]);
}

#[test]
fn removed_segment_file_fails_every_image_in_it() {
    let mut s = Scene::new(false);
    let seg = chunks_of(s.dir(), "alpha")[0].segment;
    for name in ["bravo", "charlie"] {
        assert!(chunks_of(s.dir(), name).iter().all(|c| c.segment == seg));
    }
    std::fs::remove_file(segment_file(s.dir(), seg)).unwrap();
    s.check_reads(&[whole("alpha"), whole("bravo"), whole("charlie")]);
    assert_verify_names(s.dir(), &["alpha", "bravo", "charlie"]);
}

#[test]
fn damaged_shared_chunk_fails_the_image_and_its_copy() {
    let mut s = Scene::new(true);
    let orig = chunks_of(s.dir(), "alpha");
    let copy = chunks_of(s.dir(), "alpha_copy");
    assert_eq!(
        orig.iter().map(|c| c.id).collect::<Vec<_>>(),
        copy.iter().map(|c| c.id).collect::<Vec<_>>(),
        "the copy shares the original's chunks"
    );
    let ch = orig[2];
    flip_byte(&segment_file(s.dir(), ch.segment), ch.seg_off + ch.len - 1);
    let at = ch.img_off + ch.len - 1;
    s.check_reads(&[
        within("alpha", &ch, at..at + 1),
        within("alpha_copy", &ch, at..at + 1),
    ]);
    assert_verify_names(s.dir(), &["alpha", "alpha_copy"]);
}

#[test]
fn a_new_backup_of_the_same_bytes_repairs_a_damaged_shared_chunk() {
    let mut s = Scene::new(true);
    let ch = chunks_of(s.dir(), "alpha")[2];
    flip_byte(&segment_file(s.dir(), ch.segment), ch.seg_off + ch.len - 1);
    // verify finds the damage and flags the chunk.
    assert_verify_names(s.dir(), &["alpha", "alpha_copy"]);
    // The next full of the same client, through the C entry points: its
    // copy of that chunk is stored anew rather than referred to the
    // damaged one, and it repairs the chunk every image shares.
    s.srv.reopen();
    let alpha = s.images[0].1.clone();
    store_complete(&s.srv.lsu(), &image_def("alpha_again", ""), &alpha);
    s.srv.close();
    s.images.push(("alpha_again", alpha));
    let after = chunks_of(s.dir(), "alpha");
    assert_eq!(after[2].id, ch.id, "the same chunk row");
    assert_ne!(
        (after[2].segment, after[2].seg_off),
        (ch.segment, ch.seg_off),
        "now at the new bytes"
    );
    s.check_reads(&[]);
    assert_verify_names(s.dir(), &[]);
}

// ---------------------------------------------------------------------------
// Catalog values damaged (what a flipped bit inside a row does: SQLite's
// structure checks cannot see it).
// ---------------------------------------------------------------------------

/// Damages one chunk row of `image` with `sql` (`?` is the chunk id), then
/// checks reads against `bad(chunk)` and that verify names `image` alone.
fn damaged_row(image: &'static str, nth: usize, sql: &str, bad: impl Fn(&Chunk) -> Bad) {
    let mut s = Scene::new(false);
    let ch = chunks_of(s.dir(), image)[nth];
    tamper(s.dir(), &sql.replace('?', &ch.id.to_string()));
    s.check_reads(&[bad(&ch)]);
    assert_verify_names(s.dir(), &[image]);
}

#[test]
fn catalog_chunk_checksums_changed() {
    let s = Scene::new(false);
    let db = Connection::open(s.dir().join("catalog.db")).unwrap();
    // One crc32c per chunk ("crc") or a blob of one per block ("crcs").
    let col: String = db
        .query_row(
            "SELECT name FROM pragma_table_info('chunks') WHERE name LIKE 'crc%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop((db, s));
    let sql = match col.as_str() {
        "crc" => "UPDATE chunks SET crc = (crc + 1) % 4294967296 WHERE id = ?",
        _ => "UPDATE chunks SET crcs = zeroblob(length(crcs)) WHERE id = ?",
    };
    damaged_row("alpha", 0, sql, |c| chunk("alpha", c));
}

#[test]
fn catalog_chunk_offset_moved_onto_another_images_bytes() {
    let s = Scene::new(false);
    let other = chunks_of(s.dir(), "alpha")[0];
    drop(s);
    damaged_row(
        "bravo",
        1,
        &format!("UPDATE chunks SET seg_off = {} WHERE id = ?", other.seg_off),
        |c| chunk("bravo", c),
    );
}

#[test]
fn catalog_chunk_offset_negative() {
    damaged_row(
        "charlie",
        0,
        "UPDATE chunks SET seg_off = -4096 WHERE id = ?",
        |c| chunk("charlie", c),
    );
}

#[test]
fn catalog_chunk_length_huge() {
    damaged_row(
        "bravo",
        0,
        "UPDATE chunks SET len = 9000000000000000000 WHERE id = ?",
        |c| chunk("bravo", c),
    );
}

#[test]
fn catalog_chunk_length_shorter_than_its_extent() {
    damaged_row("alpha", 2, "UPDATE chunks SET len = 4096 WHERE id = ?", |c| {
        chunk("alpha", c)
    });
}

#[test]
fn catalog_extent_offset_past_its_chunk() {
    damaged_row(
        "bravo",
        1,
        "UPDATE extents SET chunk_off = 1048576 WHERE chunk_id = ?",
        |c| chunk("bravo", c),
    );
}

#[test]
fn catalog_extent_longer_than_its_chunk() {
    // The extent now also claims 8 KiB from past its chunk's end, which
    // the next extent holds: reads of those bytes fail (the map is
    // damaged; neither claim is taken), the rest reads back.
    damaged_row(
        "alpha",
        0,
        "UPDATE extents SET len = len + 8192 WHERE chunk_id = ?",
        |c| Bad {
            image: "alpha",
            must: c.img_off + c.len..c.img_off + c.len + 8192,
            may: c.img_off + c.len..c.img_off + c.len + 8192,
        },
    );
}

#[test]
fn catalog_chunk_value_of_the_wrong_type() {
    damaged_row(
        "charlie",
        1,
        "UPDATE chunks SET seg_off = 'not a number' WHERE id = ?",
        |_| whole("charlie"),
    );
}

#[test]
fn catalog_chunk_row_missing() {
    damaged_row("alpha", 1, "DELETE FROM chunks WHERE id = ?", |_| whole("alpha"));
}

// ---------------------------------------------------------------------------
// Catalog file damaged (SQLite rejects it) or rolled back (WAL lost).
// ---------------------------------------------------------------------------

/// Opening the server gives `want` (never a crash, never STS_EINTERNAL).
fn open_gives(dir: &Path, want: i32) {
    match open_server(&server_name_for(dir)) {
        Ok(sh) => {
            assert_rc!(api().close_server(sh), c::EOK);
            assert_eq!(c::EOK, want, "stsp_open_server of a damaged catalog succeeded");
        }
        Err(rc) => assert_rc!(rc, want, "stsp_open_server of a damaged catalog"),
    }
}

/// `combstore verify` and `doctor` refuse a catalog SQLite rejects with
/// the damage class (3) and say why.
fn tools_refuse(dir: &Path) {
    for cmd in ["verify", "doctor"] {
        let (code, _, err) = run_combstore(dir, &[cmd]);
        assert_eq!(code, 3, "combstore {cmd} on a damaged catalog: {err}");
        assert!(err.contains("corrupt"), "combstore {cmd}: {err}");
    }
}

#[test]
fn catalog_header_overwritten_gives_ecorrupt_at_open() {
    let s = Scene::new(false);
    let db = s.dir().join("catalog.db");
    rw(&db).write_all_at(b"this is no database file", 0).unwrap();
    open_gives(s.dir(), c::ECORRUPT);
    tools_refuse(s.dir());
}

/// (page size, first byte of the b-tree page of `table`'s root).
fn root_page_offset(dir: &Path, table: &str) -> u64 {
    let db = Connection::open_with_flags(dir.join("catalog.db"), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let page: i64 = db.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let root: i64 = db
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = ?1",
            [table],
            |r| r.get(0),
        )
        .unwrap();
    assert!(root > 1, "{table} has no root page of its own");
    ((root - 1) * page) as u64
}

#[test]
fn catalog_extent_page_damaged_fails_every_read_and_verify_names_every_image() {
    let mut s = Scene::new(false);
    let off = root_page_offset(s.dir(), "extents");
    rw(&s.dir().join("catalog.db"))
        .write_all_at(&[0x6b], off)
        .unwrap(); // no b-tree page type
    s.check_reads(&[whole("alpha"), whole("bravo"), whole("charlie")]);
    assert_verify_names(s.dir(), &["alpha", "bravo", "charlie"]);
}

#[test]
fn catalog_truncated_gives_ecorrupt_never_wrong_bytes() {
    let mut s = Scene::new(false);
    let db = s.dir().join("catalog.db");
    let len = std::fs::metadata(&db).unwrap().len();
    truncate(&db, len / 2);
    match open_server(&s.srv.name) {
        Err(rc) => {
            assert_rc!(rc, c::ECORRUPT, "stsp_open_server of a truncated catalog");
            tools_refuse(s.dir());
            println!("truncated catalog: open gives ECORRUPT");
        }
        Ok(sh) => {
            s.srv.sh = sh;
            s.srv.open = true;
            println!("truncated catalog: opens; reads give the bytes or ECORRUPT");
            let all: Vec<Bad> = s.images.iter().map(|(n, _)| whole(n)).collect();
            check_images(&s.srv.lsu(), &s.images, &all);
        }
    }
}

/// Copies the server's files but `skip` (the catalog's WAL or shared
/// memory index) to a new directory, as a crash that lost it leaves them,
/// and opens the copy.
fn open_copy(from: &Path, skip: &str) -> Server {
    let to = tempfile::TempDir::new().unwrap();
    for rel in dir_tree(from) {
        let (src, dst) = (from.join(&rel), to.path().join(&rel));
        if src.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else if !rel.ends_with(skip) && !rel.starts_with("locks") {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
    let path = to.path().to_path_buf();
    Server::open_at(to, path)
}

/// Three images checkpointed into catalog.db, then two more written by
/// concurrent writers (so the second opens a new segment) and committed to
/// the WAL only; returns the scene with the server still open.
fn scene_with_wal_only_images() -> Scene {
    let mut s = Scene::new(false);
    s.srv.reopen();
    let lsu = s.srv.lsu();
    let (d, e) = (seeded(0xd4, 1 << 20), seeded(0xe5, 1 << 20));
    let wd = create(&lsu, &image_def("delta", ""));
    let we = create(&lsu, &image_def("echo", ""));
    write_all(wd, &d, 0);
    write_all(we, &e, 0);
    // stored before either closes (a writer stores its last buffer at its
    // next call), so each holds a segment
    flush(wd);
    flush(we);
    close(wd, c::CLOSE_COMPLETE);
    close(we, c::CLOSE_COMPLETE);
    let segs: BTreeSet<i64> = ["delta", "echo"]
        .iter()
        .flat_map(|n| chunks_of(s.dir(), n))
        .map(|c| c.segment)
        .collect();
    assert_eq!(segs.len(), 2, "concurrent writers append to separate segments");
    s.images.push(("delta", d));
    s.images.push(("echo", e));
    s
}

#[test]
fn catalog_wal_lost_rolls_back_to_the_checkpoint_and_writing_still_works() {
    let s = scene_with_wal_only_images();
    let mut srv = open_copy(s.dir(), "catalog.db-wal");
    let lsu = srv.lsu();
    check_images(&lsu, &s.images[..3], &[]);
    for name in ["delta", "echo"] {
        assert_rc!(
            prop_byname(&lsu, &image_def(name, ""))
                .map(|_| 0)
                .unwrap_or_else(|rc| rc),
            c::ENOENT,
            "{name}, committed only to the lost WAL"
        );
    }
    // Two concurrent writers again: segment files the rolled-back catalog
    // does not know must not stop them.
    let (f, g) = (seeded(0xf6, 1 << 20), seeded(0x07, 1 << 20));
    let wf = create(&lsu, &image_def("foxtrot", ""));
    let wg = create(&lsu, &image_def("golf", ""));
    write_all(wf, &f, 0);
    write_all(wg, &g, 0);
    close(wf, c::CLOSE_COMPLETE);
    close(wg, c::CLOSE_COMPLETE);
    let mut images: Vec<(&str, Vec<u8>)> = s.images[..3].to_vec();
    images.push(("foxtrot", f));
    images.push(("golf", g));
    check_images(&lsu, &images, &[]);
    srv.close();
    assert_verify_names(&srv.path, &[]);
}

#[test]
fn catalog_shm_lost_keeps_every_committed_image() {
    let s = scene_with_wal_only_images();
    let mut srv = open_copy(s.dir(), "catalog.db-shm");
    check_images(&srv.lsu(), &s.images, &[]);
    srv.close();
    assert_verify_names(&srv.path, &[]);
}

#[test]
fn damaged_segment_header_leaves_images_readable_and_writing_works() {
    let mut s = Scene::new(false);
    let seg = chunks_of(s.dir(), "alpha")[0].segment;
    flip_byte(&segment_file(s.dir(), seg), 3); // the magic
    s.check_reads(&[]);
    s.srv.reopen();
    let data = seeded(0xd4, 2 << 20);
    store_complete(&s.srv.lsu(), &image_def("delta", ""), &data);
    s.images.push(("delta", data));
    s.srv.close();
    s.check_reads(&[]);
    assert!(
        chunks_of(s.dir(), "delta").iter().all(|c| c.segment != seg),
        "a segment with a damaged header was appended to"
    );
    assert_verify_names(s.dir(), &[]);
    let (code, out, _) = run_combstore(s.dir(), &["doctor"]);
    assert_eq!(code, 3, "doctor reports the damaged header: {out}");
    assert!(out.contains("segment header"), "{out}");
}

/// Every b-tree of the catalog (table or index) in turn gets a root page
/// SQLite must reject. Opening gives STS_EOK or STS_ECORRUPT; when it
/// opens, every image reads back exactly or fails with STS_ECORRUPT, and
/// verify names exactly the images that failed.
#[test]
fn every_catalog_btree_damaged_in_turn_never_crashes_nor_returns_wrong_bytes() {
    let probe = Scene::new(false);
    let db = Connection::open_with_flags(probe.dir().join("catalog.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let trees: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE rootpage > 1 ORDER BY rootpage")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    drop((db, probe));
    assert!(trees.len() >= 10, "b-trees: {trees:?}");
    let mut outcomes = Vec::new();
    for tree in &trees {
        let s = Scene::new(false);
        let off = root_page_offset(s.dir(), tree);
        rw(&s.dir().join("catalog.db"))
            .write_all_at(&[0x6b], off)
            .unwrap();
        let failed = match open_server(&s.srv.name) {
            Err(rc) => {
                assert_rc!(rc, c::ECORRUPT, "open with b-tree {tree} damaged");
                tools_refuse(s.dir());
                outcomes.push(format!("{tree}: open ECORRUPT"));
                continue;
            }
            Ok(sh) => {
                let lsu = lsu_t(sh, "default");
                let failed = unreadable_images(&lsu, &s.images, tree);
                assert_rc!(api().close_server(sh), c::EOK);
                failed
            }
        };
        // verify names exactly the images that failed and reports the
        // catalog's damage (SQLite's integrity check) with the damage
        // exit, or, when it cannot even list the images, refuses the
        // catalog as damaged.
        let verdict = match verify_or_refusal(s.dir()) {
            Ok((code, named)) => {
                assert_eq!(named, failed, "{tree}: verify vs the images that failed to read");
                assert_eq!(code, 3, "{tree}: verify's exit on a damaged catalog");
                let (_, out, _) = run_combstore(s.dir(), &["verify", "--json"]);
                let report: serde_json::Value = serde_json::from_str(&out).unwrap();
                let catalog = report["catalog"].as_array().expect("catalog findings");
                assert!(
                    !catalog.is_empty(),
                    "{tree}: verify does not report the damaged catalog"
                );
                "verify names them and the catalog's damage"
            }
            Err(_) => "verify refuses the catalog",
        };
        outcomes.push(format!("{tree}: {} images unreadable, {verdict}", failed.len()));
    }
    println!("{outcomes:#?}");
}

/// The images that cannot be read through (all-or-nothing per image here:
/// the damage is in the catalog); asserts no read returns wrong bytes and
/// every error is STS_ECORRUPT.
fn unreadable_images(lsu: &sys::sts_lsu_t, images: &[(&str, Vec<u8>)], what: &str) -> BTreeSet<String> {
    let mut failed = BTreeSet::new();
    for (name, data) in images {
        let ih = match try_open(lsu, &image_def(name, ""), c::O_READ) {
            Ok(ih) => ih,
            Err(rc) => {
                assert_rc!(rc, c::ECORRUPT, "{what}: open {name}");
                failed.insert(name.to_string());
                continue;
            }
        };
        for off in (0..data.len() as u64).step_by(1 << 20) {
            match read_at(ih, 1 << 20, off) {
                Ok(got) => assert_bytes_eq(&got, &data[off as usize..off as usize + got.len()], name),
                Err(rc) => {
                    assert_rc!(rc, c::ECORRUPT, "{what}: read {name} at {off}");
                    failed.insert(name.to_string());
                }
            }
        }
        close(ih, 0);
    }
    failed
}

// ---------------------------------------------------------------------------
// A chunk shared by deduplication (issue 15): images written independently
// that hold the same bytes refer to one stored chunk; damage to it must
// fail exactly the images that name it, and only where they name it.
// ---------------------------------------------------------------------------

/// The stored form of chunk `id` (0 raw, 1 zstd) and its stored bytes in
/// the segment (fewer than the chunk's own when compressed), read-only.
fn stored_form(dir: &Path, id: i64) -> (i64, u64) {
    let db = Connection::open_with_flags(dir.join("catalog.db"), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    db.query_row("SELECT codec, len FROM chunks WHERE id = ?1", [id], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
    })
    .unwrap()
}

fn down512(n: u64) -> u64 {
    n / 512 * 512
}

fn up512(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

/// Image `name` (holding `data`) names the damaged chunk at `bad` (image
/// ranges): every read touching one of them fails with STS_ECORRUPT
/// (whole, first, last and middle 512-byte blocks, and the whole image),
/// every byte outside the 512-byte blocks they touch reads back exactly.
fn check_damaged_around(lsu: &sys::sts_lsu_t, name: &str, data: &[u8], bad: &[Range]) {
    assert!(!bad.is_empty(), "{name} names the damaged chunk nowhere");
    let ih = open(lsu, &image_def(name, ""), c::O_READ);
    let size = data.len() as u64;
    let mut spans: Vec<Range> = bad.iter().map(|r| down512(r.start)..up512(r.end)).collect();
    spans.sort_by_key(|r| r.start);
    for r in &spans {
        let mid = down512((r.start + r.end) / 2);
        for (off, len) in [
            (r.start, r.end - r.start),
            (r.start, 512),
            (r.end - 512, 512),
            (mid, 512),
        ] {
            assert_rc!(
                read_at(ih, len, off).map(|_| 0).unwrap_or_else(|rc| rc),
                c::ECORRUPT,
                "{name}: {len} bytes at {off}, touching the damaged chunk {r:?}"
            );
        }
    }
    assert_rc!(
        read_at(ih, up512(size), 0).map(|_| 0).unwrap_or_else(|rc| rc),
        c::ECORRUPT,
        "{name}: the whole image"
    );
    // Everything else, in pieces of at most 1 MiB.
    let mut from = 0;
    for r in spans.iter().chain(std::iter::once(&(size..size))) {
        let mut off = from;
        while off < r.start {
            let len = (r.start - off).min(1 << 20);
            let got = read_at(ih, len, off)
                .unwrap_or_else(|rc| panic!("{name}: {len} bytes at {off} (undamaged): {}", code_name(rc)));
            let end = (off + len).min(size);
            assert_bytes_eq(
                &got,
                &data[off as usize..end as usize],
                &format!("{name} at {off}"),
            );
            off += len;
        }
        from = from.max(r.end);
    }
    close(ih, 0);
}

/// Three images written independently through the C API: alpha and bravo
/// hold the same `shared` bytes (at different offsets, between bytes of
/// their own), charlie none of them. One chunk the first two share is
/// damaged in its segment.
fn shared_chunk_damaged(shared: &[u8], want_codec: i64) {
    let mut srv = Server::new();
    let lsu = srv.lsu();
    let (a_at, b_at) = (768usize << 10, 320usize << 10);
    let alpha = [&seeded(0xa1, a_at)[..], shared, &seeded(0xa2, 512 << 10)].concat();
    let bravo = [&seeded(0xb1, b_at)[..], shared, &seeded(0xb2, 704 << 10)].concat();
    let charlie = seeded(0xc3, 3 << 19);
    let images: Vec<(&'static str, Vec<u8>)> = vec![("alpha", alpha), ("bravo", bravo), ("charlie", charlie)];
    for (name, data) in &images {
        store_complete(&lsu, &image_def(name, ""), data);
    }
    srv.close();
    let (a, b, ch) = (
        chunks_of(srv.path.as_path(), "alpha"),
        chunks_of(srv.path.as_path(), "bravo"),
        chunks_of(srv.path.as_path(), "charlie"),
    );
    let b_ids: BTreeSet<i64> = b.iter().map(|c| c.id).collect();
    let common: Vec<Chunk> = a.iter().filter(|c| b_ids.contains(&c.id)).copied().collect();
    println!(
        "alpha {} chunks, bravo {}, {} shared",
        a.len(),
        b.len(),
        common.len()
    );
    assert!(
        common.len() >= 4,
        "alpha and bravo share {} chunks: no deduplication",
        common.len()
    );
    let shared_len = shared.len() as u64;
    for c in &common {
        assert!(
            c.img_off >= a_at as u64 && c.img_off + c.len <= a_at as u64 + shared_len,
            "alpha shares bytes outside the shared run: {c:?}"
        );
    }
    assert!(
        ch.iter()
            .all(|c| !b_ids.contains(&c.id) && a.iter().all(|x| x.id != c.id)),
        "charlie shares a chunk with alpha or bravo"
    );
    let victim = common[common.len() / 2];
    let (codec, stored) = stored_form(&srv.path, victim.id);
    assert_eq!(codec, want_codec, "the damaged chunk's stored form");
    if codec == 0 {
        assert_eq!(stored, victim.len);
    } else {
        assert!(stored < victim.len, "compressed: {stored} of {}", victim.len);
    }
    // a byte inside its stored bytes (not past them, in the next chunk's)
    flip_byte(
        &segment_file(&srv.path, victim.segment),
        victim.seg_off + stored / 2,
    );
    let ranges = |chunks: &[Chunk]| -> Vec<Range> {
        chunks
            .iter()
            .filter(|c| c.id == victim.id)
            .map(|c| c.img_off..c.img_off + c.len)
            .collect()
    };
    let (bad_a, bad_b) = (ranges(&a), ranges(&b));
    assert_eq!(
        bad_b,
        bad_a
            .iter()
            .map(|r| r.start - (a_at - b_at) as u64..r.end - (a_at - b_at) as u64)
            .collect::<Vec<_>>(),
        "bravo names the chunk where it holds the same bytes"
    );

    srv.reopen();
    let lsu = srv.lsu();
    check_damaged_around(&lsu, "alpha", &images[0].1, &bad_a);
    check_damaged_around(&lsu, "bravo", &images[1].1, &bad_b);
    assert_bytes_eq(
        &read_image(&lsu, &image_def("charlie", "")),
        &images[2].1,
        "charlie, which shares nothing",
    );
    // The 64 KiB sweep of every image: the damage is exactly the chunk.
    let bad: Vec<Bad> = [("alpha", &bad_a), ("bravo", &bad_b)]
        .into_iter()
        .flat_map(|(name, rs)| {
            rs.iter().map(move |r| Bad {
                image: name,
                must: r.clone(),
                may: r.clone(),
            })
        })
        .collect();
    check_images(&lsu, &images, &bad);
    srv.close();
    assert_verify_names(&srv.path, &["alpha", "bravo"]);
}

#[test]
fn damaged_chunk_shared_by_dedup_fails_every_image_naming_it_and_no_other() {
    // seeded bytes do not compress: the shared chunks are stored raw
    shared_chunk_damaged(&seeded(0x5eed, 256 << 10), 0);
}

#[test]
fn damaged_compressed_chunk_shared_by_dedup_fails_every_image_naming_it_and_no_other() {
    // log-like text with a little noise: the shared chunks are compressed
    let noise = seeded(0x7e47, 256 << 10);
    let text: Vec<u8> = noise
        .iter()
        .enumerate()
        .map(|(k, b)| b"2026-12-06 backup job 17: file ok\n"[k % 34] ^ (b & 1))
        .collect();
    shared_chunk_damaged(&text, 1);
}
