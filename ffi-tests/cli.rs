//! The administrator's tool, run as a user runs it: each command's output,
//! JSON parsed back, and exit status classes (0 ok, 2 usage, 3 damage
//! found, 4 not found, 5 other).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use combstore::engine::{ImageName, Server};

fn combstore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_combstore"))
        .args(args)
        .env_remove("COMBSTORE_SERVER")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = combstore(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args)).unwrap()
}

fn code(args: &[&str]) -> i32 {
    combstore(args).status.code().unwrap_or(-1)
}

/// A server with one complete image of `len` bytes (written through the
/// engine, as the plugin writes).
fn server_with_image(len: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    ok(&["init", path.to_str().unwrap()]);
    write_image(&path, "default", "client1_F1", "1700000000", len);
    (dir, path)
}

/// `len` incompressible bytes without repeats (xorshift), the same for
/// every call: stored raw and packed, so byte n of a server's only image
/// is byte 4096 + n of its only segment.
fn image_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes a complete image of `len` bytes ([`image_bytes`]).
fn write_image(path: &Path, lsu: &str, basename: &str, date: &str, len: usize) {
    let s = Server::open(path).unwrap();
    let mut w = s
        .create_image(lsu, &ImageName::new(basename, date).unwrap())
        .unwrap();
    let bytes = image_bytes(len);
    w.write(0, &bytes).unwrap();
    w.close(true).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn init_creates_a_server_and_refuses_a_foreign_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("srv");
    assert!(ok(&["init", s(&path)]).contains("created server"));
    assert!(ok(&["init", s(&path)]).contains("already"));
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let out = combstore(&["init", s(dir.path())]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "a foreign directory is refused, not \"not found\""
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
}

#[test]
fn lsu_commands_round_trip_through_json() {
    let (_d, path) = server_with_image(4096);
    ok(&[
        "-s",
        s(&path),
        "lsu",
        "create",
        "weekly",
        "--capacity",
        "2G",
        "--label",
        "weekly fulls",
    ]);
    let list = json(&["-s", s(&path), "lsu", "list", "--json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "weekly"]);
    let weekly = json(&["-s", s(&path), "lsu", "show", "weekly", "--json"]);
    assert_eq!(
        (weekly["capacity"].as_u64(), weekly["label"].as_str()),
        (Some(2 << 30), Some("weekly fulls"))
    );
    let default = json(&["-s", s(&path), "lsu", "show", "default", "--json"]);
    assert_eq!(
        (default["used"].as_u64(), default["images"].as_u64()),
        (Some(4096), Some(1))
    );
    ok(&["-s", s(&path), "lsu", "set", "weekly", "--label", "renamed"]);
    assert_eq!(
        json(&["-s", s(&path), "lsu", "show", "weekly", "--json"])["label"],
        "renamed"
    );
    assert_eq!(code(&["-s", s(&path), "lsu", "show", "nope"]), 4);
    assert_eq!(
        code(&["-s", s(&path), "lsu", "create", ".hidden"]),
        2,
        "reserved names are refused"
    );
}

#[test]
fn image_commands_list_show_and_delete() {
    let (_d, path) = server_with_image(8192);
    let list = json(&["-s", s(&path), "image", "list", "--json"]);
    let img = &list.as_array().unwrap()[0];
    assert_eq!(
        (
            img["basename"].as_str(),
            img["state"].as_str(),
            img["size"].as_u64()
        ),
        (Some("client1_F1"), Some("complete"), Some(8192))
    );
    let show = json(&[
        "-s",
        s(&path),
        "image",
        "show",
        "client1_F1",
        "--date",
        "1700000000",
        "--json",
    ]);
    assert_eq!(show["sha1"].as_str().unwrap().len(), 40);
    assert_eq!(show["objid"].as_str().unwrap().len(), 60);
    assert!(ok(&["-s", s(&path), "image", "list"]).contains("client1_F1"));
    assert_eq!(code(&["-s", s(&path), "image", "show", "nope"]), 4);
    ok(&[
        "-s",
        s(&path),
        "image",
        "delete",
        "client1_F1",
        "--date",
        "1700000000",
    ]);
    assert!(
        json(&["-s", s(&path), "image", "list", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Flips one bit of the byte at `off` of the server's (first) segment.
fn flip_segment_byte(path: &Path, off: u64) {
    use std::os::unix::fs::FileExt;
    let seg = std::fs::read_dir(path.join("segments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(seg)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[b[0] ^ 0x40], off).unwrap();
}

#[test]
fn verify_names_the_image_whose_segment_byte_was_flipped() {
    let (_d, path) = server_with_image(1 << 20);
    assert_eq!(code(&["-s", s(&path), "verify"]), 0);
    flip_segment_byte(&path, 4096 + 777);
    let out = combstore(&["-s", s(&path), "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("DAMAGED default/client1_F1@1700000000"));
    let report =
        serde_json::from_slice::<serde_json::Value>(&combstore(&["-s", s(&path), "verify", "--json"]).stdout)
            .unwrap();
    assert_eq!(report["damaged"][0]["basename"], "client1_F1");
}

#[test]
fn doctor_passes_a_sound_server_and_fails_a_tampered_catalog() {
    let (_d, path) = server_with_image(4096);
    let report = json(&["-s", s(&path), "doctor", "--json"]);
    assert_eq!(report["errors"], 0);
    let conn = rusqlite::Connection::open(path.join("catalog.db")).unwrap();
    conn.execute("UPDATE lsus SET used = used + 1 WHERE name = 'default'", [])
        .unwrap();
    drop(conn);
    let out = combstore(&["-s", s(&path), "doctor"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("LSU statistics differ"));
}

#[test]
fn stats_events_completions_and_usage_errors() {
    let (_d, path) = server_with_image(4096);
    let stats = json(&["-s", s(&path), "stats", "--json"]);
    assert_eq!(stats[0]["images"]["complete"], 1);
    // incompressible bytes: stored as they are, one chunk
    assert_eq!(stats[0]["used"], 4096);
    assert_eq!(stats[0]["deduplicated"], 4096);
    assert_eq!(stats[0]["used_phys"], 4096);
    write_image(&path, "default", "again", "1", 4096); // the same bytes
    let stats = json(&["-s", s(&path), "stats", "--json"]);
    assert_eq!(
        (
            &stats[0]["used"],
            &stats[0]["deduplicated"],
            &stats[0]["used_phys"]
        ),
        (
            &serde_json::json!(8192),
            &serde_json::json!(4096),
            &serde_json::json!(4096)
        )
    );
    assert_eq!(stats[0]["dedup_ratio"], 2.0);
    let text = ok(&["-s", s(&path), "stats"]);
    assert!(text.contains("DEDUPLICATED") && text.contains("2.00x"), "{text}");
    ok(&["-s", s(&path), "lsu", "set", "default", "--label", "L1"]);
    let events = json(&["-s", s(&path), "events", "--json"]);
    let first = &events[0];
    assert_eq!(
        (first["type"].as_str(), first["text"].as_str()),
        (Some("label"), Some("L1"))
    );
    assert!(ok(&["completions", "bash"]).contains("combstore"));
    assert_eq!(code(&["lsu", "list"]), 2, "no server named");
    assert_eq!(code(&["-s", "/nonexistent/dir", "lsu", "list"]), 4);
    assert_eq!(code(&["frobnicate"]), 2);
}

#[test]
fn cat_export_query_filters_remove_and_reclaim() {
    let (d, path) = server_with_image(10_240);
    let expected = image_bytes(10_240);
    let out = combstore(&[
        "-s",
        s(&path),
        "image",
        "cat",
        "client1_F1",
        "--date",
        "1700000000",
    ]);
    assert_eq!(out.stdout, expected);
    let file = d.path().join("export.bin");
    ok(&[
        "-s",
        s(&path),
        "image",
        "export",
        "client1_F1",
        s(&file),
        "--date",
        "1700000000",
    ]);
    assert_eq!(std::fs::read(&file).unwrap(), expected);
    // Complete images are archive objects: the query language finds them.
    let hits = ok(&[
        "-s",
        s(&path),
        "query",
        "ost.basename = 'client1_F1'",
        "--select",
        "ost.date,system.object_size",
    ]);
    assert!(hits.trim_end().ends_with("1700000000  10240"), "{hits}");
    assert_eq!(ok(&["-s", s(&path), "query", "ost.basename LIKE 'CLIENT%'"]), "");
    assert_eq!(
        code(&["-s", s(&path), "query", "ost.basename = "]),
        2,
        "a malformed query is a usage error"
    );
    // Filters.
    let by = |args: &[&str]| {
        json(&[&["-s", s(&path), "image", "list", "--json"], args].concat())
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(by(&["--name", "client?_*"]), 1);
    assert_eq!(by(&["--name", "other*"]), 0);
    assert_eq!(by(&["--state", "complete"]), 1);
    assert_eq!(by(&["--state", "writing"]), 0);
    assert_eq!(by(&["--since", "2000-01-01"]), 1);
    assert_eq!(by(&["--since", "2999-01-01"]), 0);
    // Removing an LSU with images needs --force, which deletes them properly.
    ok(&["-s", s(&path), "lsu", "create", "spare"]);
    ok(&["-s", s(&path), "lsu", "remove", "spare"]);
    ok(&["-s", s(&path), "lsu", "create", "spare"]);
    write_image(&path, "spare", "in_spare", "1", 8192);
    assert_eq!(code(&["-s", s(&path), "lsu", "remove", "spare"]), 6);
    assert!(ok(&["-s", s(&path), "lsu", "remove", "spare", "--force"]).contains("1 images deleted"));
    assert!(ok(&["-s", s(&path), "reclaim"]).starts_with("reclaimed"));
    assert_eq!(json(&["-s", s(&path), "doctor", "--json"])["errors"], 0);
}

#[test]
fn image_show_reports_sharing_and_deferred_reclaim_waits_for_reclaim() {
    let (_d, path) = server_with_image(1 << 20);
    let srv = Server::open(&path).unwrap();
    let src = ImageName::new("client1_F1", "1700000000").unwrap();
    srv.copy_image(
        "default",
        &ImageName::new("copy", "").unwrap(),
        &srv,
        "default",
        &src,
    )
    .unwrap();
    drop(srv);
    let show = json(&["-s", s(&path), "image", "show", "copy", "--json"]);
    assert_eq!(
        (show["shared_bytes"].as_u64(), show["own_bytes"].as_u64()),
        (Some(1 << 20), Some(0))
    );
    assert_eq!(
        show["flags"],
        serde_json::json!(["IMAGE_CREATED", "IMAGE_COMPLETE"])
    );
    ok(&["-s", s(&path), "lsu", "set", "default", "--reclaim", "deferred"]);
    assert_eq!(
        json(&["-s", s(&path), "lsu", "show", "default", "--json"])["reclaim"],
        "deferred"
    );
    ok(&["-s", s(&path), "image", "delete", "copy"]);
    ok(&[
        "-s",
        s(&path),
        "image",
        "delete",
        "client1_F1",
        "--date",
        "1700000000",
    ]);
    let doctor = json(&["-s", s(&path), "doctor", "--json"]);
    let findings = doctor["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["check"] == "freed ranges not yet punched"),
        "{doctor}"
    );
    assert!(ok(&["-s", s(&path), "reclaim"]).contains("(1048576 bytes)"));
    let doctor = json(&["-s", s(&path), "doctor", "--json"]);
    assert!(
        !doctor["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "freed ranges not yet punched")
    );
    assert_eq!(
        code(&["-s", s(&path), "lsu", "set", "default", "--reclaim", "later"]),
        2
    );
}

/// `init --user --password-file` and `credentials set|show|clear`: the
/// catalog keeps a salted hash, never the secret; bad secrets and user
/// names are usage errors (exit 2).
#[test]
fn credentials_commands_set_show_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "hunter2-secret\n").unwrap();
    assert_eq!(
        code(&["init", s(&path), "--user", "backup"]),
        2,
        "--user needs --password-file"
    );
    assert!(!path.exists());
    let out = ok(&["init", s(&path), "--user", "backup", "--password-file", s(&pw)]);
    assert!(
        out.contains("created server") && out.contains("\"backup\""),
        "{out}"
    );
    let show = json(&["-s", s(&path), "credentials", "show", "--json"]);
    assert_eq!(show, serde_json::json!({"required": true, "user": "backup"}));
    let mut stored = Vec::new();
    for f in ["catalog.db", "catalog.db-wal"] {
        stored.extend(std::fs::read(path.join(f)).unwrap_or_default());
    }
    assert!(
        !stored.windows(7).any(|w| w == b"hunter2"),
        "the secret is stored in clear"
    );
    assert!(
        stored.windows(12).any(|w| w == b"pbkdf2-sha1$"),
        "the hash is stored"
    );
    // the secret from stdin ("-"); empty is refused
    let mut child = Command::new(env!("CARGO_BIN_EXE_combstore"))
        .args([
            "-s",
            s(&path),
            "credentials",
            "set",
            "--user",
            "ops",
            "--password-file",
            "-",
        ])
        .env_remove("COMBSTORE_SERVER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"from stdin\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert!(ok(&["-s", s(&path), "credentials", "show"]).contains("\"ops\""));
    let set = |user: &str, file: &str| {
        code(&[
            "-s",
            s(&path),
            "credentials",
            "set",
            "--user",
            user,
            "--password-file",
            file,
        ])
    };
    assert_eq!(set("ops", "-"), 2, "empty secret (stdin closed)");
    std::fs::write(&pw, "x").unwrap();
    assert_eq!(set("", s(&pw)), 2, "empty user");
    assert_eq!(set("a\tb", s(&pw)), 2, "control character in the user name");
    assert!(
        ok(&["-s", s(&path), "credentials", "show"]).contains("\"ops\""),
        "refused sets changed nothing"
    );
    assert!(ok(&["-s", s(&path), "credentials", "clear"]).contains("removed"));
    let show = json(&["-s", s(&path), "credentials", "show", "--json"]);
    assert_eq!(show, serde_json::json!({"required": false, "user": null}));
    assert_eq!(
        code(&["-s", s(&dir.path().join("none")), "credentials", "show"]),
        4
    );
}

/// `combstore init` under umask 0: the parents it creates and the server
/// directory are 0700, every file 0600.
#[test]
fn init_creates_private_directories_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("srv");
    let st = Command::new("sh")
        .args([
            "-c",
            "umask 0 && exec \"$0\" init \"$1\"",
            env!("CARGO_BIN_EXE_combstore"),
            s(&path),
        ])
        .env_remove("COMBSTORE_SERVER")
        .status()
        .unwrap();
    assert!(st.success());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    for d in [dir.path().join("a"), dir.path().join("a/b"), path.clone()] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    let mut files = 0;
    for e in walk(&path) {
        let want = if e.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&e), want, "{}", e.display());
        files += usize::from(e.is_file());
    }
    assert!(files >= 2, "catalog and log at least");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// Runs `combstore args` with stdout a pipe whose reader is already gone
/// (`combstore ... | head -1` once head has exited): the first write
/// fails with EPIPE.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two new descriptors, each owned once below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_combstore"))
        .args(args)
        .env_remove("COMBSTORE_SERVER")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

/// Issue 14 item 7: a closed pipe ends the tool silently (killed by
/// SIGPIPE, as cat and git are), never with a panic and exit 101.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (_d, path) = server_with_image(1 << 20);
    for args in [
        &["-s", s(&path), "image", "list", "--json"][..],
        &["-s", s(&path), "image", "list"],
        &[
            "-s",
            s(&path),
            "image",
            "show",
            "client1_F1",
            "--date",
            "1700000000",
        ],
        &[
            "-s",
            s(&path),
            "image",
            "cat",
            "client1_F1",
            "--date",
            "1700000000",
        ],
        &["-s", s(&path), "lsu", "show", "default"],
        &["-s", s(&path), "verify"],
        &["completions", "bash"],
        &["--help"],
    ] {
        let out = into_closed_pipe(args);
        assert_eq!(
            (out.status.signal(), String::from_utf8_lossy(&out.stderr).as_ref()),
            (Some(libc::SIGPIPE), ""),
            "{args:?}: {:?}",
            out.status
        );
    }
}

/// Stores a 5800 archive object (through the engine, as hc_store does):
/// the server then has the archive's internal LSU too.
fn store_archive_object(path: &Path, bytes: &[u8]) -> String {
    let srv = Server::open(path).unwrap();
    let mut left = bytes;
    let mut read = |buf: &mut [u8]| {
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        left = &left[n..];
        Ok(n)
    };
    srv.store_object(&mut read, Vec::new()).unwrap().oid
}

/// Issue 14 item 8: `verify --image` finds the image in whichever LSU
/// holds it, archive objects or not; `--date` alone is a usage error.
#[test]
fn verify_one_image_beside_archive_objects() {
    let (_d, path) = server_with_image(8192);
    store_archive_object(&path, b"an archive object");
    let one = &[
        "-s",
        s(&path),
        "verify",
        "--image",
        "client1_F1",
        "--date",
        "1700000000",
        "--json",
    ];
    let report = json(one);
    assert_eq!(
        (report["images"].as_u64(), report["bytes"].as_u64()),
        (Some(1), Some(8192))
    );
    assert_eq!(
        json(&[&one[..7], &["--lsu", "default", "--json"]].concat())["images"],
        1
    );
    assert_eq!(
        code(&["-s", s(&path), "verify", "--image", "client1_F1", "--date", "1"]),
        4,
        "an image no LSU holds is not found"
    );
    assert_eq!(
        code(&["-s", s(&path), "verify", "--image", "client1_F1", "--lsu", "nope"]),
        4
    );
    let out = combstore(&["-s", s(&path), "verify", "--date", "1700000000"]);
    assert_eq!(out.status.code(), Some(2), "--date without --image");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--image"));
}

/// Runs `combstore args` with stdin a terminal (a pseudo-terminal) on
/// which `typed` was typed.
fn on_terminal(args: &[&str], typed: &str) -> Output {
    use std::io::Write;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two new descriptors, each owned once below.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0);
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut master = std::fs::File::from(master);
    master.write_all(typed.as_bytes()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_combstore"))
        .args(args)
        .env_remove("COMBSTORE_SERVER")
        .stdin(slave)
        .output()
        .unwrap()
}

fn lsu_images(path: &Path, lsu: &str) -> u64 {
    json(&["-s", s(path), "lsu", "show", lsu, "--json"])["images"]
        .as_u64()
        .unwrap()
}

/// Issue 14 items 9 and 10: `lsu remove` refuses a non-empty LSU with a
/// message that says so (exit 6), `--dry-run` lists and changes nothing,
/// `--force` asks on a terminal, and the default LSU is never removed.
#[test]
fn lsu_remove_refuses_asks_and_dry_runs() {
    let (_d, path) = server_with_image(4096);
    ok(&["-s", s(&path), "lsu", "create", "weekly"]);
    write_image(&path, "weekly", "w1", "1", 4096);
    write_image(&path, "weekly", "w2", "2", 8192);
    let out = combstore(&["-s", s(&path), "lsu", "remove", "weekly"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("holds 2 images") && !err.contains("open for writing"),
        "{err}"
    );

    let dry = ok(&["-s", s(&path), "lsu", "remove", "weekly", "--force", "--dry-run"]);
    assert!(
        dry.contains("would remove LSU weekly and delete 2 images"),
        "{dry}"
    );
    assert!(dry.contains("w1@1") && dry.contains("w2@2"), "{dry}");
    let out = combstore(&["-s", s(&path), "lsu", "remove", "weekly", "--dry-run"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("would refuse"));
    assert_eq!(out.status.code(), Some(6), "a dry run exits as the command would");
    assert_eq!(lsu_images(&path, "weekly"), 2, "a dry run changes nothing");

    let args = ["-s", s(&path), "lsu", "remove", "weekly", "--force"];
    let out = on_terminal(&args, "no\n");
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Type the LSU's name"));
    assert_eq!(lsu_images(&path, "weekly"), 2, "not confirmed: nothing deleted");
    let out = on_terminal(&args, "weekly\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 images deleted"));
    assert_eq!(code(&["-s", s(&path), "lsu", "show", "weekly"]), 4);
    // --yes skips the question on a terminal.
    ok(&["-s", s(&path), "lsu", "create", "daily"]);
    write_image(&path, "daily", "d1", "1", 4096);
    let out = on_terminal(
        &["-s", s(&path), "lsu", "remove", "daily", "--force", "--yes"],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("confirm"));

    for args in [
        &["-s", s(&path), "lsu", "remove", "default"][..],
        &["-s", s(&path), "lsu", "remove", "default", "--force"],
    ] {
        let out = combstore(args);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be removed"));
    }
    assert_eq!(lsu_images(&path, "default"), 1, "the refusal deleted nothing");
}

/// Issue 14 item 9: `image export` keeps an existing file unless --force,
/// and leaves no file at all (neither the destination nor a temporary
/// one) when the image turns out damaged.
#[test]
fn export_never_clobbers_and_never_leaves_a_partial_file() {
    let (d, path) = server_with_image(1 << 20);
    let expected = image_bytes(1 << 20);
    let out_dir = d.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let dest = out_dir.join("image.bin");
    std::fs::write(&dest, b"precious").unwrap();
    let export = |to: &Path, force: bool| {
        let mut args = vec!["-s", s(&path), "image", "export", "client1_F1", s(to)];
        if force {
            args.push("--force");
        }
        combstore(&args)
    };
    let out = export(&dest, false);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    assert_eq!(std::fs::read(&dest).unwrap(), b"precious");
    assert!(export(&dest, true).status.success());
    assert_eq!(std::fs::read(&dest).unwrap(), expected);

    flip_segment_byte(&path, 4096 + 700_000);
    let damaged = out_dir.join("damaged.bin");
    let out = export(&damaged, false);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["image.bin"], "nothing left of the damaged export");
    assert_eq!(export(&dest, true).status.code(), Some(3));
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        expected,
        "a failed --force keeps the old file"
    );
}

/// Issue 14 item 10: `image show NAME` without --date finds a unique
/// name; an ambiguous one is a usage error naming the dates.
#[test]
fn image_commands_without_date_take_the_only_image_of_that_name() {
    let (_d, path) = server_with_image(4096);
    let show = json(&["-s", s(&path), "image", "show", "client1_F1", "--json"]);
    assert_eq!(show["date"], "1700000000");
    assert_eq!(
        combstore(&["-s", s(&path), "image", "cat", "client1_F1"])
            .stdout
            .len(),
        4096
    );
    write_image(&path, "default", "client1_F1", "1800000000", 4096);
    write_image(&path, "default", "client1_F10", "1", 4096);
    let out = combstore(&["-s", s(&path), "image", "show", "client1_F1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1700000000, 1800000000") && err.contains("--date"),
        "{err}"
    );
    assert_eq!(
        json(&["-s", s(&path), "image", "show", "client1_F10", "--json"])["date"],
        "1"
    );
    assert_eq!(code(&["-s", s(&path), "image", "show", "client1_F"]), 4);
    ok(&[
        "-s",
        s(&path),
        "image",
        "delete",
        "client1_F1",
        "--date",
        "1800000000",
    ]);
    // delete never guesses: the only dated image needs its --date
    let out = combstore(&["-s", s(&path), "image", "delete", "client1_F1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--date 1700000000"));
    assert_eq!(lsu_images(&path, "default"), 2, "nothing deleted");
    ok(&[
        "-s",
        s(&path),
        "image",
        "delete",
        "client1_F1",
        "--date",
        "1700000000",
    ]);
    assert_eq!(lsu_images(&path, "default"), 1);
}

/// Issue 14 item 10: a server the user may not read is "permission
/// denied" (exit 5), not "not a combstore server" (exit 4).
#[test]
fn permission_denied_is_not_reported_as_no_server() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, path) = server_with_image(4096);
    let out = if unsafe { libc::geteuid() } == 0 {
        // root reads everything: run as nobody instead.
        let run = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_combstore"))
            .args(["-s", s(&path), "lsu", "list"])
            .env_remove("COMBSTORE_SERVER")
            .output();
        match run {
            Ok(out) => out,
            Err(e) => {
                eprintln!("skipped: running as root and setpriv (util-linux) failed: {e}");
                return;
            }
        }
    } else {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        let out = combstore(&["-s", s(&path), "lsu", "list"]);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        out
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("Permission denied") && !err.contains("not a combstore server"),
        "{err}"
    );
}

/// Issue 14 item 11: every --json prints one JSON document (`[]` for an
/// empty listing); query fields are typed; reclaim has --json; doctor
/// --json reports a catalog it cannot even open.
#[test]
fn json_output_is_one_document_per_command() {
    let (_d, path) = server_with_image(10_240);
    let srv = s(&path);
    // Empty listings are `[]`, never nothing.
    assert_eq!(ok(&["-s", srv, "events", "--json"]).trim(), "[]");
    assert_eq!(
        ok(&["-s", srv, "query", "ost.basename = 'none'", "--json"]).trim(),
        "[]"
    );
    assert_eq!(
        ok(&[
            "-s", srv, "image", "list", "--lsu", "default", "--name", "x", "--json"
        ])
        .trim(),
        "[]"
    );
    ok(&["-s", srv, "lsu", "set", "default", "--label", "L1"]);
    ok(&["-s", srv, "lsu", "set", "default", "--label", "L2"]);
    let events = json(&["-s", srv, "events", "--json"]);
    let labels: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["L1", "L2"]);
    let hits = json(&[
        "-s",
        srv,
        "query",
        "ost.basename = 'client1_F1'",
        "--select",
        "ost.date,system.object_size",
        "--json",
    ]);
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(
        hits[0]["fields"]["system.object_size"], 10_240,
        "a number, not a string"
    );
    assert_eq!(hits[0]["fields"]["ost.date"], "1700000000");
    assert_eq!(hits[0]["oid"].as_str().unwrap().len(), 60);
    assert_eq!(json(&["-s", srv, "reclaim", "--json"])["reclaimed_bytes"], 0);
    // Doubles: numbers, and NaN (which JSON cannot hold) its canonical
    // string, not null (null is "unset").
    for x in [2.5, f64::NAN] {
        let srv_e = Server::open(&path).unwrap();
        let mut once = Some(b"x".as_slice());
        let mut read = |buf: &mut [u8]| {
            Ok(once.take().map_or(0, |b| {
                buf[..1].copy_from_slice(b);
                1
            }))
        };
        let fields = vec![(
            "system.test.type_double".to_owned(),
            combstore::archive::SqlValue::Real(x),
        )];
        srv_e.store_object(&mut read, fields).unwrap();
    }
    let hits = json(&[
        "-s",
        srv,
        "query",
        "system.object_size = 1",
        "--select",
        "system.test.type_double",
        "--json",
    ]);
    let mut doubles: Vec<String> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["fields"]["system.test.type_double"].to_string())
        .collect();
    doubles.sort();
    assert_eq!(doubles, ["\"NaN\"", "2.5"], "{hits}");

    // A catalog whose tables are not what they should be (an SQL error,
    // not SQLite's corruption code): doctor still reports.
    {
        let c = rusqlite::Connection::open(path.join("catalog.db")).unwrap();
        c.execute_batch("ALTER TABLE images RENAME COLUMN size TO sz")
            .unwrap();
    }
    let out = combstore(&["-s", srv, "doctor", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["check"], "catalog readable", "{report}");
    {
        let c = rusqlite::Connection::open(path.join("catalog.db")).unwrap();
        c.execute_batch("ALTER TABLE images RENAME COLUMN sz TO size")
            .unwrap();
    }
    // A catalog that is not a database any more: doctor still reports.
    let mut bytes = std::fs::read(path.join("catalog.db")).unwrap();
    bytes[..100].fill(0xde);
    std::fs::write(path.join("catalog.db"), bytes).unwrap();
    let out = combstore(&["-s", srv, "doctor", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 1);
    assert_eq!(report["findings"][0]["severity"], "error");
    assert!(
        report["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("not a database")
    );
    let out = combstore(&["-s", srv, "doctor"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 error(s)"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("corruption"),
        "and on stderr"
    );
}

/// `events --follow --json` prints JSON lines: one object per line, each
/// as it comes.
#[test]
fn events_follow_prints_json_lines() {
    use std::io::BufRead;
    let (_d, path) = server_with_image(4096);
    ok(&["-s", s(&path), "lsu", "set", "default", "--label", "before"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_combstore"))
        .args(["-s", s(&path), "events", "--follow", "--json"])
        .env_remove("COMBSTORE_SERVER")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["text"], "before");
    ok(&["-s", s(&path), "lsu", "set", "default", "--label", "after"]);
    let second: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(second["text"], "after");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Issue 14 item 11: sizes parse exactly and refuse what the catalog
/// cannot store; a quota below what is stored is accepted with a
/// warning; --state and --low-space-pct are checked, and the threshold
/// reads back.
#[test]
fn settings_are_checked_and_read_back() {
    let (_d, path) = server_with_image(1 << 20);
    let srv = s(&path);
    let capacity = |size: &str| {
        let out = combstore(&["-s", srv, "lsu", "set", "default", "--capacity", size]);
        let shown = json(&["-s", srv, "lsu", "show", "default", "--json"])["capacity"].as_u64();
        (
            out.status.code(),
            shown,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code1, shown, _) = capacity("1.5G");
    assert_eq!((code1, shown), (Some(0), Some(1_610_612_736)));
    let (code1, shown, _) = capacity("2E");
    assert_eq!((code1, shown), (Some(0), Some(1 << 61)));
    for bad in ["99999999999999999999", "8E", "8192P", "1.2.3", ".", "12Q"] {
        let (code1, shown, err) = capacity(bad);
        assert_eq!((code1, shown), (Some(2), Some(1 << 61)), "{bad}: {err}");
    }
    let (code1, shown, err) = capacity("4K");
    assert_eq!((code1, shown), (Some(0), Some(4096)));
    assert!(
        err.contains("warning") && err.contains("more than its capacity"),
        "{err}"
    );
    let (_, _, err) = capacity("2M");
    assert!(!err.contains("warning"), "{err}");
    assert!(
        Server::open(&path)
            .unwrap()
            .set_lsu_capacity("default", u64::MAX)
            .is_err(),
        "the engine refuses what SQLite cannot store"
    );

    assert_eq!(code(&["-s", srv, "image", "list", "--state", "bogus"]), 2);
    assert_eq!(code(&["-s", srv, "image", "list", "--sort", "bogus"]), 2);
    assert_eq!(
        json(&["-s", srv, "lsu", "show", "default", "--json"])["low_space_pct"],
        10
    );
    ok(&["-s", srv, "lsu", "set", "default", "--low-space-pct", "15"]);
    assert_eq!(
        json(&["-s", srv, "lsu", "show", "default", "--json"])["low_space_pct"],
        15
    );
    assert_eq!(
        json(&["-s", srv, "lsu", "list", "--json"])[0]["low_space_pct"],
        15
    );
    assert!(ok(&["-s", srv, "lsu", "show", "default"]).contains("below 15% free"));
    assert_eq!(
        code(&[
            "-s",
            srv,
            "lsu",
            "set",
            "default",
            "--low-space-pct",
            "101",
            "--label",
            "x"
        ]),
        2
    );
    assert_eq!(
        json(&["-s", srv, "lsu", "show", "default", "--json"])["label"],
        "",
        "a refused set changes nothing"
    );
    let long = "L".repeat(128);
    assert_eq!(code(&["-s", srv, "lsu", "create", "half", "--label", &long]), 2);
    assert_eq!(
        code(&["-s", srv, "lsu", "show", "half"]),
        4,
        "a refused create creates nothing"
    );
    assert_eq!(
        code(&[
            "-s",
            srv,
            "lsu",
            "set",
            "default",
            "--capacity",
            "1G",
            "--label",
            "a\tb"
        ]),
        2
    );
    assert_eq!(
        json(&["-s", srv, "lsu", "show", "default", "--json"])["capacity"],
        2 << 20,
        "a refused set changes nothing"
    );
}

#[test]
fn init_pool_refuses_a_bad_pool_file_or_a_local_server_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.env");
    std::fs::write(&bad, "COMBSTORE_S3_BUCKET=b\n").unwrap();
    let dir = tmp.path().join("pool");
    let out = combstore(&["init", dir.to_str().unwrap(), "--pool", bad.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("COMBSTORE_S3_ENDPOINT is missing"));
    assert!(!dir.exists(), "a refused init left {}", dir.display());
    // a server whose chunks are in segment files cannot become a pool
    let good = tmp.path().join("good.env");
    std::fs::write(
        &good,
        "COMBSTORE_S3_ENDPOINT=http://127.0.0.1:9\nCOMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_KEY_ID=k\nCOMBSTORE_S3_SECRET=s\n",
    )
    .unwrap();
    let local = tmp.path().join("local");
    ok(&["init", local.to_str().unwrap()]);
    let out = combstore(&["init", local.to_str().unwrap(), "--pool", good.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!local.join("pool.conf").exists());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("=s"),
        "the secret was shown"
    );
}
