//! Fuzz target `damage`: a server whose files were truncated, altered,
//! zeroed or removed is opened (with recovery, or inspected), listed,
//! read, checked, verified and written to.
//!
//! Two small servers are built once per process and kept in memory: one
//! closed cleanly, one copied while a writer was open (a crash snapshot:
//! a live WAL, a dead owner's lock file, a segment to adopt). Each input
//! picks one, writes it to a scratch directory, applies up to eight edits
//! to its files and then:
//! - nothing panics, whatever was damaged;
//! - with only segment files (or lock and schema files) damaged, every
//!   read of a complete image returns its original bytes or an error,
//!   never other bytes: each chunk carries a checksum;
//! - with the catalog damaged, SQLite notices only some changes (it has
//!   no checksums), so an image may read back differently; then
//!   `Server::check` or `Server::verify` must report the damage (verify
//!   recomputes the SHA-1 of every complete image).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::Scratch;
use super::input::{Input, pattern};
use crate::engine::{ImageName, Server};

const MAX_EDITS: u8 = 8;

struct Template {
    /// Every file of the server directory but the log, by relative path.
    files: Vec<(PathBuf, Vec<u8>)>,
    /// The complete images: LSU, name, bytes.
    images: Vec<(&'static str, ImageName, Vec<u8>)>,
}

fn name(n: &str) -> ImageName {
    ImageName::new(n, "1").expect("valid name")
}

/// Runs one input. Panics when a property does not hold.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let t = &templates()[input.byte() as usize % 2];
    let scratch = Scratch::new("damage");
    let dir = scratch.path().join("srv");
    for (rel, bytes) in &t.files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("inside the server")).expect("scratch dirs");
        std::fs::write(&path, bytes).expect("scratch file");
    }
    let mut catalog_damaged = false;
    let mut edits = Vec::new();
    for _ in 0..=input.byte() % MAX_EDITS {
        if input.one_in(3) {
            catalog_damaged = true;
            edits.push(row_edit(&dir.join("catalog.db"), &mut input));
            continue;
        }
        let (rel, _) = &t.files[input.below(t.files.len())];
        catalog_damaged |= rel.starts_with("catalog.db");
        edits.push(edit(&dir.join(rel), &mut input));
    }
    let inspect = input.one_in(4);
    let opened = if inspect {
        Server::inspect(&dir)
    } else {
        Server::open(&dir)
    };
    let Ok(server) = opened else { return };
    let wrong = read_images(&server, t);
    let (check_errors, damaged) = audit(&server);
    if !wrong.is_empty() {
        assert!(
            catalog_damaged,
            "{wrong:?} read back wrong bytes after segment damage: {edits:?}"
        );
        let reported = check_errors > 0 || wrong.iter().all(|w| damaged.contains(w));
        assert!(
            reported,
            "{wrong:?} read back wrong and neither check nor verify reports it (verify: {damaged:?}): {edits:?}"
        );
    }
    for lsu in server.lsu_names().unwrap_or_default() {
        let _ = server.list_images(&lsu, None, 100);
    }
    if !inspect {
        write_more(&server, catalog_damaged, &edits);
    }
}

/// Applies one edit to `path`; returns what it did.
fn edit(path: &Path, input: &mut Input<'_>) -> String {
    let Ok(mut bytes) = std::fs::read(path) else {
        return format!("{}: gone", path.display());
    };
    let len = bytes.len();
    let at = if len == 0 { 0 } else { input.u32() as usize % len };
    let what = match input.byte() % 8 {
        0 => {
            bytes.truncate(at);
            "truncate"
        }
        1 => {
            let _ = std::fs::remove_file(path);
            return format!("{}: removed", path.display());
        }
        2 => {
            let n = usize::from(input.u16() % 4096).min(len - at);
            bytes[at..at + n].fill(0);
            "zero"
        }
        3 => {
            let n = usize::from(input.byte() % 64).min(len - at);
            let seed = u64::from(input.u16());
            bytes[at..at + n].copy_from_slice(&pattern(seed, n));
            "scribble"
        }
        4 => {
            bytes.extend_from_slice(&pattern(u64::from(input.byte()), usize::from(input.byte()) * 16));
            "append"
        }
        _ => {
            if let Some(b) = bytes.get_mut(at) {
                *b ^= input.byte() | 1;
            }
            "flip"
        }
    };
    std::fs::write(path, &bytes).expect("rewriting a scratch file");
    format!("{}: {what} at {at} of {len}", path.display())
}

/// Catalog tables a row edit may change.
const TABLES: [&str; 9] = [
    "images",
    "extents",
    "chunks",
    "segments",
    "free_ranges",
    "lsus",
    "image_meta",
    "server",
    "archive_objects",
];

/// Changes or deletes one row of a catalog table through SQL: damage
/// SQLite cannot notice (a flipped bit inside a record, a lost row).
fn row_edit(catalog: &Path, input: &mut Input<'_>) -> String {
    let table = TABLES[input.below(TABLES.len())];
    let (pick, delete, k) = (input.below(64), input.one_in(8), input.below(1 << 12));
    let value = match input.byte() % 6 {
        0 => SqlValue::Null,
        1 => SqlValue::Integer(i64::from(input.u16() as i16)),
        2 => SqlValue::Integer(if input.byte() % 2 == 0 { i64::MAX } else { i64::MIN }),
        3 => SqlValue::Text(String::from_utf8_lossy(&pattern(u64::from(input.byte()), 4)).into_owned()),
        4 => SqlValue::Blob(pattern(u64::from(input.byte()), usize::from(input.byte() % 16))),
        _ => SqlValue::Integer(i64::from(input.u32())),
    };
    let relative = matches!(value, SqlValue::Integer(_)) && input.one_in(2);
    let Ok(conn) = Connection::open(catalog) else {
        return format!("{table}: no catalog");
    };
    let (key, cols) = if table == "extents" {
        ("(image_id, img_off)", "image_id, img_off")
    } else {
        ("rowid", "rowid")
    };
    let columns: Vec<String> = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    let Some(column) = columns.get(pick % columns.len().max(1)) else {
        return format!("{table}: unreadable");
    };
    let row = format!(
        "{key} = (SELECT {cols} FROM {table} ORDER BY {cols} LIMIT 1 OFFSET ?2 % max(1, (SELECT count(*) FROM {table})))"
    );
    let sql = match (delete, relative) {
        (true, _) => format!("DELETE FROM {table} WHERE ?1 IS ?1 AND {row}"),
        (false, true) => format!("UPDATE {table} SET {column} = {column} + ?1 WHERE {row}"),
        (false, false) => format!("UPDATE {table} SET {column} = ?1 WHERE {row}"),
    };
    let done = conn.execute(&sql, rusqlite::params![value, k as i64]);
    format!("{sql} [{value:?}, {k}] -> {done:?}")
}

/// Reads every complete image of the template; returns those that read
/// back successfully but differently.
fn read_images(server: &Server, t: &Template) -> Vec<ImageName> {
    let mut wrong = Vec::new();
    for (lsu, name, original) in &t.images {
        let Ok(mut r) = server.open_image(lsu, name) else {
            continue;
        };
        let mut buf = vec![0u8; (r.size() as usize).next_multiple_of(512).min(1 << 20)];
        if let Ok(n) = r.read(0, &mut buf) {
            if buf[..n] != original[..] {
                wrong.push(name.clone());
            }
        }
    }
    wrong
}

/// Errors of `check` and the images `verify` names (an error of either
/// counts as a report).
fn audit(server: &Server) -> (usize, Vec<ImageName>) {
    let errors = server.check().map_or(1, |r| r.errors());
    match server.verify(None, None, &mut |_| {}) {
        Ok(report) => (errors, report.damaged.into_iter().map(|d| d.name).collect()),
        Err(_) => (errors + 1, Vec::new()),
    }
}

/// A damaged server still either stores a new image correctly or refuses.
fn write_more(server: &Server, catalog_damaged: bool, edits: &[String]) {
    let name = name("after");
    let bytes = pattern(99, 8192);
    let Ok(mut w) = server.create_image("default", &name) else {
        return;
    };
    if w.write(0, &bytes).is_err() || w.close(true).is_err() {
        return;
    }
    let Ok(mut r) = server.open_image("default", &name) else {
        return;
    };
    let mut buf = vec![0u8; bytes.len()];
    if let Ok(n) = r.read(0, &mut buf) {
        assert!(
            catalog_damaged || buf[..n] == bytes[..],
            "a new image read back wrong on a server with damaged segments: {edits:?}"
        );
    }
}

fn templates() -> &'static [Template; 2] {
    static T: OnceLock<[Template; 2]> = OnceLock::new();
    T.get_or_init(|| [build(false), build(true)])
}

/// Builds a small server: a complete image of three chunks with a hole
/// between two of them and metadata, its copy, a virtual image sharing
/// part of it, an incomplete image, a deleted image whose space is still
/// queued (deferred reclaim); with `live`, files are copied while an
/// image is open for writing.
fn build(live: bool) -> Template {
    let scratch = Scratch::new("damage-template");
    let dir = scratch.path().join("srv");
    let s = Server::open(&dir).expect("template server");
    s.create_lsu("b").expect("LSU b");
    s.set_lsu_reclaim("b", true).expect("deferred reclaim");
    let full = {
        let mut b = pattern(1, 16384);
        b[4096..8192].fill(0);
        b
    };
    let mut w = s.create_image("default", &name("full")).expect("create");
    for (a, z) in [(0, 4096), (12288, 16384), (8192, 12288)] {
        w.write(a as u64, &full[a..z]).expect("write");
        w.flush().expect("flush");
    }
    w.close(true).expect("close");
    let mut r = s.open_image("default", &name("full")).expect("open");
    r.write_meta(0, b"template metadata").expect("metadata");
    s.copy_image("b", &name("copy"), &s, "default", &name("full"))
        .expect("copy");
    let mut virt = full[4096..12288].to_vec();
    virt.extend_from_slice(&pattern(2, 4096));
    let mut w = s.create_image("b", &name("virt")).expect("create");
    w.copy_from(&mut r, 4096, 0, 8192, true).expect("include");
    w.write(8192, &virt[8192..]).expect("write");
    w.close(true).expect("close");
    let mut w = s.create_image("b", &name("gone")).expect("create");
    w.write(0, &pattern(3, 8192)).expect("write");
    w.close(true).expect("close");
    s.delete_image("b", &name("gone")).expect("delete");
    let mut w = s.create_image("default", &name("inc")).expect("create");
    w.write(0, &pattern(4, 4096)).expect("write");
    w.close(false).expect("close");
    drop(r);
    let open_writer = live.then(|| {
        let mut w = s.create_image("default", &name("open")).expect("create");
        w.write(0, &pattern(5, 4096)).expect("write");
        w.flush().expect("flush");
        w.write(4096, &pattern(6, 4096)).expect("write");
        w
    });
    if !live {
        drop(s);
    }
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files);
    drop(open_writer);
    Template {
        files,
        images: vec![
            ("default", name("full"), full.clone()),
            ("b", name("copy"), full),
            ("b", name("virt"), virt),
        ],
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("template dir").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if e.file_name() != "combstore.log" {
            let rel = path.strip_prefix(root).expect("inside").to_owned();
            out.push((rel, std::fs::read(&path).expect("template file")));
        }
    }
}
