//! Each server's own log (src/logging.rs): what lands in which
//! `combstore.log`. Assertions look at INFO and higher lines only, so they
//! hold whatever `COMBSTORE_LOG` the tests run with (at `info` or above).

use std::path::Path;

use super::cred::{Access, Credentials};
use super::*;
use crate::logging::LOG_FILE;

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default()
}

/// Lines of `dir`'s log at `level` that contain `text`.
fn lines_with(dir: &Path, level: &str, text: &str) -> Vec<String> {
    log_of(dir)
        .lines()
        .filter(|l| l.contains(&format!(" {level} ")) && l.contains(text))
        .map(str::to_owned)
        .collect()
}

fn name(n: &str) -> ImageName {
    ImageName::new(n, "1").unwrap()
}

fn store(s: &Server, n: &str, len: usize) {
    let mut w = s.create_image("default", &name(n)).unwrap();
    w.write(0, &vec![7u8; len]).unwrap();
    w.close(true).unwrap();
}

#[test]
fn two_servers_in_one_process_each_log_to_their_own_file() {
    let d = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (d.path().join("a"), d.path().join("b"));
    let a = Server::open(&a_dir).unwrap();
    let b = Server::open(&b_dir).unwrap();
    store(&b, "only-b", 4096);
    b.delete_image("default", &name("only-b")).unwrap();
    b.create_lsu("lsu-of-b").unwrap();
    store(&a, "only-a", 4096);
    a.delete_image("default", &name("only-a")).unwrap();

    let a_opened = format!("opened server {}", a_dir.display());
    let b_opened = format!("opened server {}", b_dir.display());
    assert_eq!(
        lines_with(&a_dir, "INFO", &a_opened).len(),
        1,
        "{}",
        log_of(&a_dir)
    );
    assert_eq!(
        lines_with(&b_dir, "INFO", &b_opened).len(),
        1,
        "{}",
        log_of(&b_dir)
    );
    assert_eq!(lines_with(&b_dir, "INFO", "deleted image only-b").len(), 1);
    assert_eq!(lines_with(&b_dir, "INFO", "created LSU lsu-of-b").len(), 1);
    assert_eq!(lines_with(&a_dir, "INFO", "deleted image only-a").len(), 1);
    // nothing of one server in the other's file
    for (dir, other) in [(&a_dir, "b"), (&b_dir, "a")] {
        let log = log_of(dir);
        assert!(!log.contains(&format!("only-{other}")), "{log}");
        assert!(
            !log.contains(&format!("{}", d.path().join(other).display())),
            "{log}"
        );
    }
    drop((a, b));
}

#[test]
fn read_only_opens_do_not_log_at_info() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("srv");
    drop(Server::open(&dir).unwrap());
    let before = lines_with(&dir, "INFO", "opened server").len();
    assert_eq!(before, 1);
    for _ in 0..3 {
        let s = Server::inspect(&dir).unwrap();
        s.lsu_info("default").unwrap();
    }
    assert_eq!(
        lines_with(&dir, "INFO", "opened server").len(),
        before,
        "{}",
        log_of(&dir)
    );
}

#[test]
fn administrative_changes_are_logged_with_what_changed_never_the_secret() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("srv");
    let s = Server::open(&dir).unwrap();
    s.create_lsu("tape").unwrap();
    s.set_lsu_capacity("tape", 1 << 30).unwrap();
    s.set_lsu_capacity("tape", 0).unwrap();
    s.set_lsu_label("tape", "offsite").unwrap();
    s.set_lsu_reclaim("tape", true).unwrap();
    s.set_low_space_pct("tape", 25).unwrap();
    let secret = b"s3cr3t-Passw0rd-xyz";
    s.set_credentials(Some(Credentials {
        user: "backup",
        secret,
    }))
    .unwrap();
    s.set_credentials(None).unwrap();
    s.remove_lsu("tape", true).unwrap();
    assert!(s.set_lsu_capacity("missing", 1).is_err());

    for want in [
        "created LSU tape",
        "LSU tape: capacity quota none -> 1073741824 bytes",
        "LSU tape: capacity quota 1073741824 bytes -> none",
        "LSU tape: label \"\" -> \"offsite\"",
        "LSU tape: reclaim immediate -> deferred",
        "LSU tape: low-space threshold 10% -> 25%",
        "credentials set for user \"backup\"",
        "credentials removed",
        "removed LSU tape (0 images deleted with it)",
    ] {
        assert_eq!(
            lines_with(&dir, "INFO", want).len(),
            1,
            "{want:?} in\n{}",
            log_of(&dir)
        );
    }
    let log = log_of(&dir);
    assert!(!log.contains("s3cr3t"), "{log}");
    assert!(
        !log.contains("missing"),
        "a refused change is not a change: {log}"
    );
}

#[test]
fn a_corrupt_read_and_verify_damage_leave_error_lines() {
    use std::os::unix::fs::FileExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("srv");
    let s = Server::open(&dir).unwrap();
    // Incompressible bytes without repeats: stored raw and packed, so
    // segment offset 4096 + n holds image byte n.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut w = s.create_image("default", &name("z")).unwrap();
    w.write(0, &noise).unwrap();
    w.close(true).unwrap();
    let seg = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let seg_id = i64::from_str_radix(seg.file_stem().unwrap().to_str().unwrap(), 16).unwrap();
    // 1 MiB into the image, past the 4 KiB segment header
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&[0xAB], 4096 + (1 << 20) + 5000).unwrap();

    let mut r = s.open_image("default", &name("z")).unwrap();
    let mut buf = vec![0u8; 8192];
    assert!(r.read(0, &mut buf).is_ok());
    assert!(matches!(
        r.read((1 << 20) + 4096, &mut buf),
        Err(Error::Corrupt(_))
    ));
    let id = r.image_key().1;
    let want = format!(
        "corrupt read: image default/z@1 (#{id}) at offset {}: chunk",
        (1 << 20) + 4096
    );
    let got = lines_with(&dir, "ERROR", &want);
    assert_eq!(got.len(), 1, "{want:?} in\n{}", log_of(&dir));
    assert!(
        got[0].contains(&format!("in segment {seg_id} fails its checksum")),
        "{}",
        got[0]
    );

    let report = s.verify(None, None, &mut |_| {}).unwrap();
    assert_eq!(report.damaged.len(), 1);
    assert_eq!(
        lines_with(&dir, "ERROR", "verify: image default/z@1 is damaged: at offset").len(),
        1
    );
    assert_eq!(
        lines_with(&dir, "ERROR", "verify: 1 images, ").len(),
        1,
        "{}",
        log_of(&dir)
    );
}

#[test]
fn failed_opens_are_logged_in_a_server_directory_only() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("srv");
    let s = Server::open(&dir).unwrap();
    s.set_credentials(Some(Credentials {
        user: "backup",
        secret: b"s3cr3t-Passw0rd-xyz",
    }))
    .unwrap();
    let wrong = Credentials {
        user: "backup",
        secret: b"guess-Passw0rd-123",
    };
    assert!(matches!(
        Server::open_as(&dir, &Access::Client(Some(wrong))),
        Err(Error::Auth)
    ));
    assert_eq!(
        lines_with(
            &dir,
            "WARN",
            "open refused: wrong credentials for user \"backup\""
        )
        .len(),
        1
    );
    let failed = format!("open of server {} failed: ", dir.display());
    assert_eq!(lines_with(&dir, "WARN", &failed).len(), 1, "{}", log_of(&dir));
    assert!(!log_of(&dir).contains("guess"));

    // a foreign directory gets no log file
    let foreign = d.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), b"mine").unwrap();
    assert!(Server::open(&foreign).is_err());
    assert!(Server::inspect(&foreign).is_err());
    assert!(!foreign.join(LOG_FILE).exists());
}
