//! 7. Archive API (hc_*): stores of small objects with metadata through
//!    hc_store_both_ez (objects/s), and hc_query_ez selecting 1% of M
//!    objects (latency).

use std::ffi::{CString, c_char, c_long, c_void};
use std::ptr::null_mut;
use std::time::Instant;

use crate::Ctx;
use crate::common::hc::*;
use crate::contenders::Srv;
use crate::report::Figure;
use crate::roles::prefill_figure;
use crate::util::{p50_p99, read_full};

const OBJECT: usize = 4096;

#[track_caller]
fn ok(code: hcerr_t, what: &str) {
    assert_eq!(code, HCERR_OK, "{what} -> hcerr {code}");
}

/// The reader hc_store_both_ez pulls an object's data from.
struct Src<'a>(&'a [u8]);

unsafe extern "C" fn reader(stream: *mut c_void, buf: *mut c_char, n: c_long) -> c_long {
    // SAFETY: `stream` is the &mut Src passed to hc_store_both_ez below,
    // `buf` has room for `n` bytes (the API's contract).
    let src = unsafe { &mut *stream.cast::<Src<'_>>() };
    let k = src.0.len().min(n.max(0) as usize);
    unsafe { std::ptr::copy_nonoverlapping(src.0.as_ptr(), buf.cast(), k) };
    src.0 = &src.0[k..];
    k as c_long
}

fn cs(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

pub fn run(ctx: &mut Ctx) {
    let (n, m) = (ctx.cfg.hc_store, ctx.cfg.hc_query_objects);
    println!("7. archive API ({n} stores, query over {m} objects)");
    let dir = ctx.work.join("archive-server");
    let srv = Srv::open(&dir);
    ok(unsafe { hc_init(None, None, None) }, "hc_init");
    let host = cs(dir.to_str().expect("utf-8 path"));
    let mut s = null_mut();
    ok(
        unsafe { hc_session_create_ez(host.as_ptr().cast_mut(), -1, &mut s) },
        "hc_session_create_ez",
    );

    let mut data = vec![0u8; n as usize * OBJECT];
    let mut f = std::fs::File::open(&ctx.stream).expect("stream");
    read_full(&mut f, &mut data);
    let names = [
        "filesystem.uid",
        "filesystem.gid",
        "filesystem.mode",
        "filesystem.mtime",
        "filesystem.mimetype",
    ]
    .map(cs);
    let mime = cs("application/octet-stream");
    let t = Instant::now();
    for i in 0..n {
        let mut nvr = null_mut();
        ok(unsafe { hc_nvr_create(s, 5, &mut nvr) }, "hc_nvr_create");
        let longs = [(i % 100) as i64, (i % 7) as i64, 0o644, 1_700_000_000 + i as i64];
        for (name, v) in names.iter().zip(longs) {
            ok(
                unsafe { hc_nvr_add_long(nvr, name.as_ptr().cast_mut(), v) },
                "hc_nvr_add_long",
            );
        }
        ok(
            unsafe { hc_nvr_add_string(nvr, names[4].as_ptr().cast_mut(), mime.as_ptr().cast_mut()) },
            "hc_nvr_add_string",
        );
        let at = i as usize * OBJECT;
        let mut src = Src(&data[at..at + OBJECT]);
        let mut rec = hc_system_record_t::default();
        ok(
            unsafe { hc_store_both_ez(s, Some(reader), (&raw mut src).cast(), nvr, &mut rec) },
            "hc_store_both_ez",
        );
        assert_eq!(rec.size, OBJECT as i64, "stored size");
        ok(unsafe { hc_nvr_free(nvr) }, "hc_nvr_free");
    }
    let secs = t.elapsed().as_secs_f64();
    ctx.add(
        Figure::new("archive.store_rate", &format!("archive: hc_store_both_ez of {n} 4 KiB objects"), n as f64 / secs, "objects/s")
            .note("5 metadata fields each (filesystem.uid/gid/mode/mtime/mimetype); each store durable and indexed when it returns"),
    );

    prefill_figure(
        ctx,
        true,
        &dir,
        m,
        "archive.prefill",
        "created by the engine's Rust API (Server::prefill_empty_images in the .archive LSU: empty data, the \
         same five fields, indexed, 10,000 per transaction), not through C",
    );

    let mut lat = Vec::new();
    let mut rows_seen = 0u64;
    for q in 0..ctx.cfg.hc_queries {
        let v = (q * 37 % 100) as u64;
        let expect =
            (0..m).filter(|i| i % 100 == v).count() as u64 + (0..n).filter(|i| i % 100 == v).count() as u64;
        let query = cs(&format!("filesystem.uid = {v}"));
        let t = Instant::now();
        let mut rs = null_mut();
        ok(
            unsafe { hc_query_ez(s, query.as_ptr().cast_mut(), null_mut(), 0, 5000, &mut rs) },
            "hc_query_ez",
        );
        let mut rows = 0u64;
        loop {
            let mut oid: hc_oid = [0; 61];
            let mut fin = 0;
            ok(
                unsafe { hc_qrs_next_ez(rs, &mut oid, null_mut(), &mut fin) },
                "hc_qrs_next_ez",
            );
            if fin == 1 {
                break;
            }
            rows += 1;
        }
        ok(unsafe { hc_qrs_free(rs) }, "hc_qrs_free");
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(rows, expect, "rows of {query:?}");
        rows_seen += rows;
    }
    let (p50, _) = p50_p99(&mut lat);
    let max = lat[lat.len() - 1];
    let total = m + n;
    let per = rows_seen / ctx.cfg.hc_queries as u64;
    ctx.add(
        Figure::new(
            "archive.query_p50",
            &format!("archive: hc_query_ez 1% of {total} objects, p50"),
            p50,
            "ms",
        )
        .note(&format!(
            "query filesystem.uid = V, {per} OIDs per query fetched to the end (5000 per fetch); {} queries",
            lat.len()
        )),
    );
    ctx.add(Figure::new(
        "archive.query_max",
        &format!("archive: hc_query_ez 1% of {total} objects, max"),
        max,
        "ms",
    ));
    ok(unsafe { hc_session_free(s) }, "hc_session_free");
    drop(srv);
    std::fs::remove_dir_all(&dir).expect("remove archive server");
}
