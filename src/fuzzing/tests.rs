//! The fuzz targets without the fuzzer: every committed seed
//! (`fuzz/seeds/<target>/`), every committed regression input
//! (`fuzz/regressions/<target>/`, crashes the fuzzer found, kept after
//! the fix) and any crash a local fuzzing run left in
//! `fuzz/artifacts/<target>/` are replayed, then some pseudo-random inputs.

use std::path::Path;

use super::input::pattern;
use super::{api, damage, query};

/// Runs `run` on every input file of `target`; returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for kind in ["seeds", "regressions", "artifacts"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).expect("input file");
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!(
                    "fuzz input {} fails (replay: cargo fuzz run {target} {0})",
                    f.display()
                );
            }
            n += 1;
        }
    }
    n
}

fn random_inputs(run: fn(&[u8]), count: u64, len: usize) {
    for seed in 0..count {
        run(&pattern(seed, len));
    }
}

#[test]
fn query_target_replays_its_inputs() {
    assert!(
        replay("query", query::run) >= 10,
        "fuzz/seeds/query holds the seed corpus"
    );
    random_inputs(query::run, 300, 40);
}

#[test]
fn api_target_replays_its_inputs() {
    assert!(
        replay("api", api::run) >= 5,
        "fuzz/seeds/api holds the seed corpus"
    );
    random_inputs(api::run, 10, 200);
}

#[test]
fn damage_target_replays_its_inputs() {
    assert!(
        replay("damage", damage::run) >= 5,
        "fuzz/seeds/damage holds the seed corpus"
    );
    random_inputs(damage::run, 20, 40);
}
