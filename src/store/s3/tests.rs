//! The S3 pack store against a real Garage (`make test-scaleout` starts
//! one and exports its `s3.env`; `make test` runs these too). Each test
//! works under a folder of its own in the bucket.

use std::collections::{BTreeMap, HashSet};
use std::io;

use super::*;
use crate::store::chunk_store::tests::contract;

/// The test store's configuration from the environment, under a new
/// folder. Panics (failing the test) if Garage was not started.
pub(crate) fn test_config() -> S3Config {
    let vars: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("COMBSTORE_S3_"))
        .collect();
    assert!(
        vars.contains_key("COMBSTORE_S3_ENDPOINT"),
        "these tests need an S3 store: run them with `make test-scaleout` (scripts/garage.sh)"
    );
    let mut c = S3Config::from_vars(&vars, |_| None).expect("COMBSTORE_S3_* from scripts/garage.sh");
    c.prefix = Some(format!("test/{}", crate::store::random_hex128()));
    c
}

fn packs() -> S3Packs {
    S3Packs::open(&test_config(), "uuid-of-test").unwrap()
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_packs_keep_the_contract() {
    contract(&packs());
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_packs_keep_the_contract_with_crc64_payloads() {
    let mut cfg = test_config();
    cfg.payload = Payload::Crc64;
    contract(&S3Packs::open(&cfg, "uuid-of-test").unwrap());
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_large_syncs_go_up_in_parts_and_read_back_from_another_host() {
    large_syncs_go_up_in_parts(Payload::Signed);
}

/// Multipart uploads with each part's CRC64-NVME (the store checks
/// every part and completes the upload).
#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_large_syncs_go_up_in_parts_with_crc64_payloads() {
    large_syncs_go_up_in_parts(Payload::Crc64);
}

fn large_syncs_go_up_in_parts(payload: Payload) {
    let mut cfg = test_config();
    cfg.payload = payload;
    let a = S3Packs::open(&cfg, "uuid-of-test").unwrap();
    let mut w = a.create(5).unwrap();
    let data: Vec<u8> = (0..(3 * PART + 12345))
        .map(|i| (i * 7 + i / 4096) as u8)
        .collect();
    let off = w.append(&data[..1000]).unwrap();
    w.append(&data[1000..]).unwrap();
    w.sync().unwrap();
    // a second host: its own client, no listing cached
    let mut cfg = test_config();
    cfg.prefix = Some(a.inner.root.clone());
    let b = S3Packs::open(&cfg, "uuid-of-test").unwrap();
    let mut r = b.reader();
    let mut back = vec![0u8; data.len()];
    // sequentially, in chunk-sized reads (read-ahead at work)
    for (i, piece) in back.chunks_mut(100_000).enumerate() {
        r.read_exact_at(5, off + (i * 100_000) as u64, piece).unwrap();
    }
    assert!(back == data, "sequential read differs");
    // announced, then read out of order
    let places = [(3 * PART as u64, 5000u64), (17, 300), (PART as u64 - 10, 20)];
    for &(o, n) in &places {
        r.will_need(5, off + o, n);
    }
    for &(o, n) in places.iter().rev() {
        let mut got = vec![0u8; n as usize];
        r.read_exact_at(5, off + o, &mut got).unwrap();
        assert_eq!(got, data[o as usize..(o + n) as usize]);
    }
    assert_eq!(b.stat(5).unwrap().unwrap().len, off + data.len() as u64);
    // the object holding it all is one upload
    let l = b.inner.relist(5).unwrap();
    assert_eq!(l.data.len(), 2, "{l:?}");
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_a_cut_off_writer_cannot_overwrite_what_its_successor_committed() {
    let s = packs();
    let mut dead = s.create(1).unwrap();
    dead.append(&[1u8; 5000]).unwrap();
    dead.sync().unwrap();
    let committed = dead.end();
    // the old writer appends on, unaware that it lost its lease ...
    dead.append(&[2u8; 3000]).unwrap();
    // ... another host adopts at the committed end and commits its own
    let mut next = s.adopt(1, committed, 1).unwrap();
    let at = next.append(&[3u8; 3000]).unwrap();
    assert_eq!(at, committed);
    next.sync().unwrap();
    // the old writer's late upload lands after
    dead.sync().unwrap();
    let mut r = s.reader();
    let mut got = [0u8; 3000];
    r.read_exact_at(1, at, &mut got).unwrap();
    assert_eq!(got, [3u8; 3000], "the successor's bytes");
    // and the next adoption clears the late upload away
    drop(next);
    s.adopt(1, committed + 3000, 2).unwrap();
    let l = s.inner.relist(1).unwrap();
    assert_eq!(l.garbage().count(), 0, "{l:?}");
    assert_eq!(s.stat(1).unwrap().unwrap().len, committed + 3000);
    // a catalog epoch the segment's objects already passed (a catalog
    // restored from an older backup) is raised past them
    let w = s.adopt(1, committed + 3000, 1).unwrap();
    drop(w);
    assert_eq!(s.inner.relist(1).unwrap().max_epoch(), 3);
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_frees_are_noted_then_compacted_and_live_bytes_stay() {
    let s = packs();
    let mut w = s.create(2).unwrap();
    // 16 chunks of 4 KiB in one object
    let chunks: Vec<u64> = (0..16u8).map(|i| w.append(&[i + 1; 4096]).unwrap()).collect();
    w.sync().unwrap();
    let before = s.stat(2).unwrap().unwrap();
    // one chunk of 16 dead: only a note
    s.free(2, chunks[3], 4096).unwrap();
    let l = s.inner.relist(2).unwrap();
    assert_eq!((l.frees.len(), l.data.len()), (1, 2), "{l:?}");
    assert_eq!(s.stat(2).unwrap().unwrap().allocated, before.allocated - 4096);
    // four dead: a quarter, compacted
    for i in [0, 7, 15] {
        s.free(2, chunks[i], 4096).unwrap();
    }
    let l = s.inner.relist(2).unwrap();
    assert!(l.frees.is_empty(), "notes spent: {l:?}");
    let after = s.stat(2).unwrap().unwrap();
    assert_eq!(after.len, before.len, "the length stays (end mark)");
    assert_eq!(after.allocated, before.allocated - 4 * 4096);
    let mut r = s.reader();
    let dead: HashSet<usize> = [0, 3, 7, 15].into();
    for (i, &off) in chunks.iter().enumerate() {
        let mut got = [0u8; 4096];
        match r.read_exact_at(2, off, &mut got) {
            Ok(()) => assert_eq!(got, [i as u8 + 1; 4096], "chunk {i}"),
            Err(e) => {
                assert!(dead.contains(&i), "live chunk {i}: {e}");
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            }
        }
    }
    // everything dead: the objects go, the length stays
    for (i, &off) in chunks.iter().enumerate() {
        if !dead.contains(&i) {
            s.free(2, off, 4096).unwrap();
        }
    }
    let st = s.stat(2).unwrap().unwrap();
    assert_eq!((st.len, st.allocated), (before.len, HEADER_LEN));
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_a_wrong_key_or_bucket_fails_at_open_and_writes_nothing() {
    let good = test_config();
    let mut bad = good.clone();
    bad.secret = "not-the-secret".into();
    bad.retry = std::time::Duration::from_secs(1);
    let e = S3Packs::open(&bad, "u").unwrap_err();
    assert!(!e.to_string().contains("not-the-secret"), "{e}");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    let mut bad = good.clone();
    bad.bucket = "no-such-bucket".into();
    bad.retry = std::time::Duration::from_secs(1);
    assert!(S3Packs::open(&bad, "u").is_err());
    let mut bad = good.clone();
    bad.endpoint = "http://127.0.0.1:9".into();
    bad.retry = std::time::Duration::from_secs(1);
    let e = S3Packs::open(&bad, "u").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Other, "{e}");
    let s = S3Packs::open(&good, "u").unwrap();
    assert!(s.strays(&HashSet::new()).is_empty());
}

/// Damage for the engine's tests: the data object of segment `id` of
/// the pool in server directory `dir` that holds byte `off` is deleted
/// (`delete`) or has that byte inverted, as a faulty store or a careless
/// administrator would.
pub(crate) fn damage_object(dir: &std::path::Path, uuid: &str, id: i64, off: u64, delete: bool) {
    let cfg = S3Config::of_server(dir).unwrap().expect("a pool");
    let p = S3Packs::open(&cfg, uuid).unwrap();
    let l = p.inner.relist(id).unwrap();
    let d = l.holding(off).expect("an object holds the byte");
    let path = p.inner.obj(id, d.name());
    if delete {
        p.inner.delete(&path).unwrap();
        return;
    }
    let mut v = p.inner.get_range(&path, 0..d.len).unwrap().to_vec();
    v[(off - d.start) as usize] ^= 0xff;
    p.inner.put(&path, v.into()).unwrap();
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_a_reader_with_an_old_listing_and_two_compactors_at_once_still_find_every_live_byte() {
    let a = packs();
    let mut cfg = test_config();
    cfg.prefix = Some(a.inner.root.clone());
    let b = S3Packs::open(&cfg, "uuid-of-test").unwrap();
    let c = S3Packs::open(&cfg, "uuid-of-test").unwrap();
    let mut w = a.create(3).unwrap();
    let chunks: Vec<u64> = (0..32u8).map(|i| w.append(&[i + 1; 4096]).unwrap()).collect();
    w.sync().unwrap();
    // a reads once: its listing names the whole object
    let mut r = a.reader();
    let mut got = [0u8; 4096];
    r.read_exact_at(3, chunks[0], &mut got).unwrap();
    // two other hosts free different halves' dead chunks at once, each
    // crossing the compaction threshold on the same object
    let dead: HashSet<usize> = (0..32).filter(|i| i % 4 != 1).collect();
    std::thread::scope(|s| {
        for (host, parity) in [(&b, 0), (&c, 1)] {
            let (chunks, dead) = (&chunks, &dead);
            s.spawn(move || {
                for (i, &off) in chunks.iter().enumerate() {
                    if dead.contains(&i) && i % 2 == parity {
                        host.free(3, off, 4096).unwrap();
                    }
                }
            });
        }
    });
    // a, with its old listing, reads every live chunk right, sequentially
    // and after a jump
    for i in (0..32).filter(|i| !dead.contains(i)).chain([29, 1, 13]) {
        r.read_exact_at(3, chunks[i], &mut got)
            .unwrap_or_else(|e| panic!("live chunk {i}: {e}"));
        assert_eq!(got, [i as u8 + 1; 4096], "chunk {i}");
    }
    let st = a.stat(3).unwrap().unwrap();
    assert_eq!(st.len, chunks[31] + 4096, "length kept");
    // compacted, though racing compactors may each have kept a copy of
    // some live runs (a bounded duplicate: at most the object once more)
    assert!(st.allocated < HEADER_LEN + 32 * 4096, "{st:?}: compacted");
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn s3_a_host_reads_what_it_uploaded_from_its_cache_and_verify_reads_the_store() {
    let server_dir = tempfile::tempdir().unwrap();
    let s = packs()
        .with_host_cache(server_dir.path(), "http://test", 64 << 20)
        .unwrap();
    let mut w = s.create(6).unwrap();
    let big: Vec<u8> = (0..2 * PART + 777).map(|i| (i * 13 + i / 999) as u8).collect();
    let small = vec![9u8; 5000];
    let at_big = w.append(&big).unwrap();
    w.sync().unwrap(); // a multipart upload
    let at_small = w.append(&small).unwrap();
    w.sync().unwrap(); // a single PUT
    let files = |dir: &std::path::Path| -> usize {
        walk(dir)
            .iter()
            .filter(|p| !p.to_string_lossy().contains("tmp-"))
            .count()
    };
    assert_eq!(files(server_dir.path()), 2, "a file per data object");
    let read = |r: &mut Box<dyn SegmentReader>, at: u64, n: usize| -> io::Result<Vec<u8>> {
        let mut got = vec![0u8; n];
        r.read_exact_at(6, at, &mut got).map(|()| got)
    };
    // the store loses the big object behind the pool's back: this host
    // still reads it, from its cache, but a verify's reader does not
    let l = s.inner.relist(6).unwrap();
    let d = l.holding(at_big).unwrap();
    s.inner.delete(&s.inner.obj(6, d.name())).unwrap();
    let mut r = s.reader();
    assert!(read(&mut r, at_big, big.len()).unwrap() == big, "from the cache");
    assert_eq!(
        read(&mut r, at_big + PART as u64 + 5, 100).unwrap(),
        &big[PART + 5..PART + 105]
    );
    let e = read(&mut s.store_reader(), at_big, 100).unwrap_err();
    assert!(
        matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::NotFound),
        "{e}"
    );
    // a damaged cache file is not read: the store's bytes are, and the
    // file goes
    let cached: Vec<_> = walk(server_dir.path())
        .into_iter()
        .filter(|p| {
            p.to_string_lossy()
                .ends_with(&l.holding(at_small).unwrap().name().render())
        })
        .collect();
    assert_eq!(cached.len(), 1);
    let f = std::fs::OpenOptions::new().write(true).open(&cached[0]).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[0u8], 10).unwrap();
    assert_eq!(read(&mut s.reader(), at_small, small.len()).unwrap(), small);
    assert!(!cached[0].exists());
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
