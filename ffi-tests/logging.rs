//! The plugin's log through the C entry points: each open server writes
//! its own `combstore.log`, and nothing ever reaches the host's stderr.

use crate::common::*;
use std::path::Path;
use std::process::Command;

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("combstore.log")).unwrap_or_default()
}

fn count(log: &str, level: &str, text: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(&format!(" {level} ")) && l.contains(text))
        .count()
}

/// Stores and deletes an image, and makes two calls that fail.
fn some_activity(srv: &Server, basename: &str) {
    let lsu = srv.lsu();
    let def = image_def(basename, "1");
    store_complete(&lsu, &def, &seeded(1, 64 << 10));
    assert_rc!(api().delete_image(&lsu, &def, 0), c::EOK, "stsp_delete_image");
    assert_eq!(try_open(&lsu, &def, c::O_READ).map(|_| ()), Err(c::ENOENT));
    let missing = lsu_t(srv.sh, "no-such-lsu");
    assert!(try_create(&missing, &def).is_err());
}

#[test]
fn two_servers_opened_through_the_c_api_each_log_to_their_own_file() {
    let a = Server::new();
    let b = Server::new();
    some_activity(&b, "only-b");
    some_activity(&a, "only-a");
    let (la, lb) = (log_of(&a.path), log_of(&b.path));
    assert_eq!(
        count(&la, "INFO", &format!("opened server {}", a.path.display())),
        1,
        "{la}"
    );
    assert_eq!(
        count(&lb, "INFO", &format!("opened server {}", b.path.display())),
        1,
        "{lb}"
    );
    assert_eq!(count(&la, "INFO", "deleted image only-a@1"), 1, "{la}");
    assert_eq!(count(&lb, "INFO", "deleted image only-b@1"), 1, "{lb}");
    assert!(
        !la.contains("only-b") && !la.contains(&b.path.display().to_string()),
        "{la}"
    );
    assert!(
        !lb.contains("only-a") && !lb.contains(&a.path.display().to_string()),
        "{lb}"
    );
}

const CHILD_ENV: &str = "COMBSTORE_FFI_LOG_CHILD";
const CHILD_TEST: &str = "logging::an_invalid_combstore_log_writes_nothing_to_stderr";

/// The host's stderr stays empty whatever `COMBSTORE_LOG` holds: the
/// plugin runs in a child process with an invalid value, opening two
/// servers, failing calls and a failing open; the parent captures the
/// child's stderr. The value is ignored: records are written at `info`.
#[test]
fn an_invalid_combstore_log_writes_nothing_to_stderr() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let dir = Path::new(&dir);
        let a = Server::open_at(tempfile::TempDir::new().unwrap(), dir.join("a"));
        let b = Server::open_at(tempfile::TempDir::new().unwrap(), dir.join("b"));
        some_activity(&a, "img");
        some_activity(&b, "img");
        // a failing open of a foreign directory, and a missing one
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        assert!(open_server(&server_name_for(dir)).is_err());
        assert!(open_server(&server_name_for(&dir.join("x/y"))).is_err());
        return;
    }
    for value in ["trace=verbose", "debug,=x", "loud!!", "combstore::=info"] {
        let dir = tempfile::TempDir::new().unwrap();
        let out = Command::new("/proc/self/exe")
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("COMBSTORE_LOG", value)
            .output()
            .expect("running the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child failed with COMBSTORE_LOG={value:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "the plugin wrote to the host's stderr with COMBSTORE_LOG={value:?}"
        );
        for srv in ["a", "b"] {
            let log = log_of(&dir.path().join(srv));
            assert_eq!(count(&log, "INFO", "deleted image img@1"), 1, "{value:?}: {log}");
            // the invalid value fell back to info: no debug records
            assert!(!log.contains(" DEBUG "), "{value:?}: {log}");
        }
    }
}

/// With `COMBSTORE_LOG=debug`, the C boundary's records of a failed call
/// go to the log of the server the call's handle named.
#[test]
fn the_c_boundarys_records_go_to_the_server_the_call_named() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let dir = Path::new(&dir);
        let a = Server::open_at(tempfile::TempDir::new().unwrap(), dir.join("a"));
        let b = Server::open_at(tempfile::TempDir::new().unwrap(), dir.join("b"));
        let def = image_def("absent", "1");
        assert_eq!(try_open(&b.lsu(), &def, c::O_READ).map(|_| ()), Err(c::ENOENT));
        drop(a);
        return;
    }
    let dir = tempfile::TempDir::new().unwrap();
    let out = Command::new("/proc/self/exe")
        .args([
            "--exact",
            "logging::the_c_boundarys_records_go_to_the_server_the_call_named",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .env("COMBSTORE_LOG", "debug")
        .output()
        .expect("running the child");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let (la, lb) = (log_of(&dir.path().join("a")), log_of(&dir.path().join("b")));
    let want = format!("stsp_open_image -> {}", c::ENOENT);
    assert_eq!(count(&lb, "DEBUG", &want), 1, "{lb}");
    assert_eq!(count(&la, "DEBUG", "stsp_open_image"), 0, "{la}");
}
