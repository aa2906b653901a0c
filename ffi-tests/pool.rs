//! Pools (issue 16): a server whose chunks live in an S3-compatible
//! object store, created with `combstore init --pool` and used through the
//! C entry points and the administrator's tool. Needs Garage:
//! `make test-scaleout` (part of `make test`) starts one and exports its
//! `COMBSTORE_S3_*`; the tests are ignored otherwise.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::child::spawn_role;
use crate::common::*;

fn combstore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_combstore"))
        .args(args)
        .env_remove("COMBSTORE_SERVER")
        .output()
        .unwrap()
}

/// A pool file naming the test store, under a folder of its own, with
/// `mode`; `secret` replaces the real one if given.
fn pool_file(dir: &Path, mode: u32, secret: Option<&str>) -> PathBuf {
    let var = |k: &str| {
        std::env::var(k)
            .unwrap_or_else(|_| panic!("{k} is not set: run `make test-scaleout` (scripts/garage.sh)"))
    };
    let mut prefix = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut prefix))
        .unwrap();
    let text = format!(
        "# test pool\nCOMBSTORE_S3_ENDPOINT={}\nCOMBSTORE_S3_REGION={}\nCOMBSTORE_S3_BUCKET={}\n\
         COMBSTORE_S3_PREFIX=ffi/{:016x}\nCOMBSTORE_S3_KEY_ID={}\nCOMBSTORE_S3_SECRET={}\nCOMBSTORE_S3_RETRY_SECONDS=2\n",
        var("COMBSTORE_S3_ENDPOINT"),
        var("COMBSTORE_S3_REGION"),
        var("COMBSTORE_S3_BUCKET"),
        u64::from_le_bytes(prefix),
        var("COMBSTORE_S3_KEY_ID"),
        secret.map_or_else(|| var("COMBSTORE_S3_SECRET"), str::to_owned),
    );
    let path = dir.join("s3.env");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// [`pool_file`] naming the small bucket scripts/garage.sh makes beside
/// the main one (a 24 MiB quota: a full store).
fn small_pool_file(dir: &Path) -> PathBuf {
    let path = pool_file(dir, 0o600, None);
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("COMBSTORE_S3_BUCKET=") {
                "COMBSTORE_S3_BUCKET=combstore-small\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn init_pool(dir: &Path, pool: &Path) -> Output {
    combstore(&["init", dir.to_str().unwrap(), "--pool", pool.to_str().unwrap()])
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn a_pool_takes_backups_copies_and_deletes_through_the_c_api_and_keeps_no_chunk_on_local_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pool");
    let out = init_pool(&dir, &pool_file(tmp.path(), 0o600, None));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = std::fs::metadata(dir.join("pool.conf"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let name = server_name_for(&dir);
    let sh = open_server(&name).unwrap_or_else(|rc| panic!("stsp_open_server -> {}", code_name(rc)));
    let lsu = lsu_t(sh, "default");
    // two nights of one client: the second mostly the first's chunks
    let night1 = seeded(0x9001, 20 << 20);
    let mut night2 = night1.clone();
    night2[5 << 20..(5 << 20) + 4096].fill(7);
    let d1 = image_def("host1_full", "1765000000");
    let d2 = image_def("host1_full", "1765086400");
    store_complete(&lsu, &d1, &night1);
    let (_, phys1) = {
        let i = lsu_info(&lsu).unwrap();
        (i.lsu_used, i.lsu_used_phys)
    };
    store_complete(&lsu, &d2, &night2);
    let phys2 = lsu_info(&lsu).unwrap().lsu_used_phys;
    // the local disk holds no chunk: no capacity of its to report (and a
    // full local disk refuses nothing); the object store answers "full"
    assert_eq!(lsu_info(&lsu).unwrap().lsu_capacity, i64::MAX as u64);
    assert!(
        phys2 - phys1 < 1 << 20,
        "the second night stored {} bytes",
        phys2 - phys1
    );
    // a server-side copy, then the first night deleted
    let dc = image_def("host1_copy", "1765000000");
    assert_rc!(
        api().copy_image(&lsu, &dc, &lsu, &d1, 0),
        c::EOK,
        "stsp_copy_image"
    );
    assert_rc!(api().delete_image(&lsu, &d1, 0), c::EOK, "stsp_delete_image");
    assert_rc!(api().close_server(sh), c::EOK, "stsp_close_server");

    // a new handle (recovery runs) reads everything back
    let sh = open_server(&name).unwrap();
    let lsu = lsu_t(sh, "default");
    assert!(read_image(&lsu, &d2) == night2, "night 2 differs");
    assert!(read_image(&lsu, &dc) == night1, "the copy differs");
    assert_rc!(api().close_server(sh), c::EOK, "stsp_close_server");

    // no chunk on local disk: the segments folder is empty
    let local = std::fs::read_dir(dir.join("segments")).unwrap().count();
    assert_eq!(local, 0, "segment files in a pool's directory");
    // the administrator's tool works on the pool
    let out = combstore(&["--server", dir.to_str().unwrap(), "verify"]);
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for cmd in ["doctor", "reclaim", "stats"] {
        let out = combstore(&["--server", dir.to_str().unwrap(), cmd]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{cmd}: {text}");
    }
    let out = combstore(&["--server", dir.to_str().unwrap(), "image", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("host1_copy") && !listed.contains("1765000000\thost1_full"),
        "{listed}"
    );
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn a_wrong_secret_or_a_readable_pool_file_fails_at_open_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    // a pool file others can read is refused by init, nothing created
    let dir = tmp.path().join("open");
    let out = init_pool(&dir, &pool_file(tmp.path(), 0o600, None));
    assert!(out.status.success());
    std::fs::set_permissions(dir.join("pool.conf"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let rc = open_server(&server_name_for(&dir)).unwrap_err();
    assert_eq!(rc, c::EINVAL, "{}", code_name(rc));
    let log = std::fs::read_to_string(dir.join("combstore.log")).unwrap_or_default();
    assert!(log.contains("chmod 600"), "{log}");

    // init with a wrong secret: refused, nothing left behind
    let dir = tmp.path().join("wrong");
    let out = init_pool(&dir, &pool_file(tmp.path(), 0o600, Some("wrong-secret-123")));
    assert!(!out.status.success(), "init with a wrong secret succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Forbidden") || err.contains("denied"), "{err}");
    assert!(!err.contains("wrong-secret-123"), "the secret was shown: {err}");
    assert!(!dir.exists(), "a refused init left {}", dir.display());

    // a pool whose key was changed since: stsp_open_server fails, the
    // reason (never the secret) in the server's log
    let dir = tmp.path().join("changed");
    assert!(
        init_pool(&dir, &pool_file(tmp.path(), 0o600, None))
            .status
            .success()
    );
    let wrong = pool_file(tmp.path(), 0o600, Some("wrong-secret-123"));
    std::fs::copy(&wrong, dir.join("pool.conf")).unwrap();
    let rc = open_server(&server_name_for(&dir)).unwrap_err();
    assert_eq!(rc, c::EIO, "{}", code_name(rc));
    let log = std::fs::read_to_string(dir.join("combstore.log")).unwrap_or_default();
    assert!(!log.contains("wrong-secret-123"), "the secret was logged");
    assert!(log.contains("403 Forbidden"), "the refusal is not logged: {log}");
}

/// Writes `data` at `from` in 1 MiB calls until one fails, then closes the
/// image complete: while the store or the catalog is down (`what`), the
/// close must not succeed, and one of the two must be `STS_EIO`.
fn backup_refused_with_eio(wh: sys::sts_image_handle_t, data: &[u8], from: usize, what: &str) {
    backup_refused_with(wh, data, from, what, c::EIO);
}

/// [`backup_refused_with_eio`] with `code` the error one of the two must be.
fn backup_refused_with(wh: sys::sts_image_handle_t, data: &[u8], from: usize, what: &str, code: i32) {
    let mut write_rc = c::EOK;
    for (i, piece) in data.chunks(1 << 20).enumerate() {
        write_rc = write_at(wh, piece, (from + (i << 20)) as u64);
        if write_rc != c::EOK {
            break;
        }
    }
    let close_rc = api().close_image(wh, c::CLOSE_COMPLETE);
    assert_ne!(close_rc, c::EOK, "a backup closed complete while {what}");
    assert!(
        [write_rc, close_rc].contains(&code),
        "write {} close {}",
        code_name(write_rc),
        code_name(close_rc)
    );
}

/// Runs `scripts/<script>.sh CMD DIR` on the server `make test-scaleout`
/// runs (its directory in `dir_var`).
fn service(script: &str, dir_var: &str, cmd: &str) {
    let dir = std::env::var(dir_var).unwrap_or_else(|_| panic!("{dir_var}: run `make test-scaleout`"));
    let st = Command::new(format!("{}/scripts/{script}.sh", env!("CARGO_MANIFEST_DIR")))
        .args([cmd, &dir])
        .status()
        .unwrap();
    assert!(st.success(), "{script}.sh {cmd}");
}

fn garage(cmd: &str) {
    service("garage", "COMBSTORE_GARAGE_DIR", cmd);
}

fn postgres(cmd: &str) {
    service("postgres", "COMBSTORE_PG_DIR", cmd);
}

/// Resumes a stopped server (`garage` or `postgres`) when dropped unless
/// it was resumed (`.1`), so that a failing assertion does not leave it
/// stopped for the tests after.
struct Resume(fn(&str), bool);
impl Drop for Resume {
    fn drop(&mut self) {
        if !self.1 {
            (self.0)("resume");
        }
    }
}

/// Stops the shared Garage: `make test-scaleout` runs it alone
/// (`--exact`), after the other pool tests.
#[test]
#[ignore = "needs Garage, alone: make test-scaleout"]
fn garage_down_fails_writes_and_reads_with_eio_loses_nothing_acknowledged_and_the_pool_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pool");
    // retries for 2 s (COMBSTORE_S3_RETRY_SECONDS), then the error
    assert!(
        init_pool(&dir, &pool_file(tmp.path(), 0o600, None))
            .status
            .success()
    );
    let name = server_name_for(&dir);
    let sh = open_server(&name).unwrap();
    let lsu = lsu_t(sh, "default");
    let a = seeded(0xa11, 12 << 20);
    let da = image_def("host2_full", "1765000000");
    store_complete(&lsu, &da, &a);
    let reader = open(&lsu, &da, c::O_READ);

    garage("stop");
    let mut up = Resume(garage, false);
    // a backup while the store is down: never acknowledged complete
    let db = image_def("host2_full", "1765086400");
    let b = seeded(0xb22, 20 << 20);
    let wh = create(&lsu, &db);
    backup_refused_with_eio(wh, &b, 0, "its store was down");
    // a restore while the store is down: an I/O error, never damage
    let rc = read_at(reader, 1 << 20, 4 << 20).unwrap_err();
    assert_eq!(rc, c::EIO, "{}", code_name(rc));
    assert_rc!(api().close_image(reader, 0), c::EOK, "stsp_close_image");

    garage("resume");
    up.1 = true;
    // everything acknowledged is there; the pool takes the next backup
    assert!(read_image(&lsu, &da) == a, "image A differs after the outage");
    let dc = image_def("host2_full", "1765172800");
    store_complete(&lsu, &dc, &b);
    assert!(read_image(&lsu, &dc) == b, "the backup after the outage differs");
    assert_rc!(api().close_server(sh), c::EOK, "stsp_close_server");
    // nothing was flagged damaged by the outage
    let out = combstore(&["--server", dir.to_str().unwrap(), "verify"]);
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "needs Garage: make test-scaleout"]
fn a_full_object_store_fails_the_backup_with_enospc_keeps_what_is_stored_and_takes_more_after_a_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pool");
    let out = init_pool(&dir, &small_pool_file(tmp.path()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let name = server_name_for(&dir);
    let sh = open_server(&name).unwrap();
    let lsu = lsu_t(sh, "default");
    let first = seeded(0xf011, 12 << 20);
    let d1 = image_def("host3_full", "1765000000");
    store_complete(&lsu, &d1, &first);
    // 20 MiB more does not fit in the 24 MiB quota
    let d2 = image_def("host3_full", "1765086400");
    let wh = create(&lsu, &d2);
    let big = seeded(0xf022, 20 << 20);
    backup_refused_with(wh, &big, 0, "past the quota", c::ENOSPC);
    // what was stored is intact
    assert!(read_image(&lsu, &d1) == first, "the first image differs");
    // deleting it makes room (compaction deletes its objects)
    assert_rc!(api().delete_image(&lsu, &d1, 0), c::EOK, "stsp_delete_image");
    let _ = api().delete_image(&lsu, &d2, 0);
    let d3 = image_def("host3_full", "1765172800");
    let next = seeded(0xf033, 8 << 20);
    // the store's usage counters catch up within moments
    let mut stored = false;
    for _ in 0..50 {
        let ih = create(&lsu, &d3);
        let ok = next
            .chunks(1 << 20)
            .enumerate()
            .all(|(i, p)| write_at(ih, p, (i << 20) as u64) == c::EOK);
        if ok && api().close_image(ih, c::CLOSE_COMPLETE) == c::EOK {
            stored = true;
            break;
        }
        let _ = api().close_image(ih, 0);
        let _ = api().delete_image(&lsu, &d3, 0);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(stored, "no room after the delete");
    assert!(read_image(&lsu, &d3) == next);
    assert_rc!(api().close_server(sh), c::EOK, "stsp_close_server");
}

/// A pool file for several hosts: the test store under a folder of its
/// own and the catalog in a PostgreSQL schema of its own (`make
/// test-scaleout` exports `COMBSTORE_PG_URL`); `pg_url` replaces the real
/// connection string if given.
fn shared_pool_file(dir: &Path, pg_url: Option<&str>) -> PathBuf {
    let path = pool_file(dir, 0o600, None);
    let url = pg_url.map_or_else(
        || std::env::var("COMBSTORE_PG_URL").expect("COMBSTORE_PG_URL: run `make test-scaleout`"),
        str::to_owned,
    );
    let mut schema = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut schema))
        .unwrap();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "COMBSTORE_PG_URL={url}\nCOMBSTORE_PG_SCHEMA=pool_{:016x}\n",
        u64::from_le_bytes(schema)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

fn flags_of(lsu: &sys::sts_lsu_t, def: &sys::sts_image_def_t) -> u32 {
    must_prop_byname(lsu, def).imo_flags
}

#[test]
#[ignore = "needs Garage and PostgreSQL: make test-scaleout"]
fn two_hosts_share_one_pool_and_one_recovers_the_backup_of_the_other_killed_mid_write() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = shared_pool_file(tmp.path(), None);
    // two media servers: two directories (local state of their own), one
    // pool file; the second joins the pool the first created
    let (dir_a, dir_b) = (tmp.path().join("host-a"), tmp.path().join("host-b"));
    for d in [&dir_a, &dir_b] {
        let out = init_pool(d, &pool);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        !dir_a.join("catalog.db").exists(),
        "a shared pool has no local catalog"
    );
    let (name_a, name_b) = (server_name_for(&dir_a), server_name_for(&dir_b));
    let sh_a = open_server(&name_a).unwrap_or_else(|rc| panic!("host A: {}", code_name(rc)));
    let sh_b = open_server(&name_b).unwrap_or_else(|rc| panic!("host B: {}", code_name(rc)));
    let (lsu_a, lsu_b) = (lsu_t(sh_a, "default"), lsu_t(sh_b, "default"));

    // what host A stores, host B lists and reads, and dedups against
    let night1 = seeded(0x7001, 12 << 20);
    let d1 = image_def("client_full", "1765000000");
    store_complete(&lsu_a, &d1, &night1);
    assert!(read_image(&lsu_b, &d1) == night1, "host B reads host A's image");
    let phys = lsu_info(&lsu_b).unwrap().lsu_used_phys;
    let d2 = image_def("client_full", "1765086400");
    store_complete(&lsu_b, &d2, &night1);
    let phys2 = lsu_info(&lsu_a).unwrap().lsu_used_phys;
    assert!(
        phys2 - phys < 1 << 20,
        "host B stored {} bytes again",
        phys2 - phys
    );

    // a backup process of host A, alive: busy to host B, whose recovery
    // leaves it alone
    let len = (3 << 20) + 512;
    let mut child = spawn_role("kill_writer", &[&name_a, "killed", "77", &len.to_string()]);
    child.expect("READY", std::time::Duration::from_secs(120));
    let dk = image_def("killed", "");
    assert_ne!(
        flags_of(&lsu_b, &dk) & c::II_BUSY_WRITE,
        0,
        "a live writer on host A"
    );
    let sh_b2 = open_server(&name_b).unwrap();
    assert_ne!(
        flags_of(&lsu_t(sh_b2, "default"), &dk) & c::II_BUSY_WRITE,
        0,
        "host B's recovery took a live writer of host A"
    );
    assert_rc!(api().close_server(sh_b2), c::EOK);
    assert_eq!(
        try_open(&lsu_b, &dk, c::O_WRITE).map(|_| ()),
        Err(c::EBUSY),
        "host B opened host A's live image for writing"
    );
    // host B goes on writing while host A's writer lives, then A's dies
    let d3 = image_def("other_client", "1765000000");
    let other = seeded(0x7003, 5 << 20);
    store_complete(&lsu_b, &d3, &other);
    child.kill9();

    // host B's next open recovers it: abnormal, its flushed bytes kept
    let sh_b3 = open_server(&name_b).unwrap();
    let lsu_b3 = lsu_t(sh_b3, "default");
    let info = must_prop_byname(&lsu_b3, &dk);
    assert_eq!(
        info.imo_flags & c::II_BUSY_WRITE,
        0,
        "{}",
        flags_str(info.imo_flags)
    );
    assert_ne!(
        info.imo_flags & c::II_ABNORMAL,
        0,
        "{}",
        flags_str(info.imo_flags)
    );
    assert_eq!(info.imo_size, len as u64, "flushed data kept");
    // resumed on host B, completed, read whole on host A
    let wh = open(&lsu_b3, &dk, c::O_WRITE);
    let more = seeded(78, 4096);
    write_all(wh, &more, len as u64);
    close(wh, c::CLOSE_COMPLETE);
    let mut want = seeded(77, len);
    want.extend_from_slice(&more);
    assert!(
        read_image(&lsu_a, &dk) == want,
        "the resumed image, read on host A"
    );
    assert!(read_image(&lsu_a, &d3) == other, "host B's image, read on host A");
    for sh in [sh_a, sh_b, sh_b3] {
        assert_rc!(api().close_server(sh), c::EOK);
    }
    // the administrator's tool on either host sees one pool
    let out = combstore(&["--server", dir_a.to_str().unwrap(), "verify"]);
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "needs Garage and PostgreSQL: make test-scaleout"]
fn a_wrong_postgresql_password_fails_at_open_with_eio_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::env::var("COMBSTORE_PG_URL").expect("COMBSTORE_PG_URL: run `make test-scaleout`");
    // postgresql://user:password@host:port/db
    let (head, tail) = good.split_once('@').unwrap();
    let user = head.rsplit_once(':').unwrap().0;
    let bad = format!("{user}:not-the-password@{tail}");
    let pool = shared_pool_file(tmp.path(), Some(&bad));
    let dir = tmp.path().join("host");
    let out = init_pool(&dir, &pool);
    assert!(!out.status.success(), "init with a wrong password succeeded");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(
        !text.contains("not-the-password"),
        "the password was shown: {text}"
    );
    assert!(!dir.exists(), "init left {}", dir.display());
    // a pool file put in place by hand: the C API's open fails with EIO
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&pool, dir.join("pool.conf")).unwrap();
    assert_eq!(open_server(&server_name_for(&dir)).map(|_| ()), Err(c::EIO));
    let log = std::fs::read_to_string(dir.join("combstore.log")).unwrap_or_default();
    assert!(
        !log.contains("not-the-password"),
        "the password was logged: {log}"
    );
    assert!(!dir.join("catalog.db").exists());
}

#[test]
#[ignore = "needs Garage and PostgreSQL: make test-scaleout"]
fn a_postgresql_certificate_no_trusted_ca_signed_fails_at_open_with_eio_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // a CA of its own, which did not sign the test server's certificate
    let other = tmp.path().join("other-ca.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=another CA", "-keyout"])
        .arg(tmp.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other)
        .output()
        .expect("openssl (scripts/postgres.sh installs it)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let pool = shared_pool_file(tmp.path(), None);
    let mut text = std::fs::read_to_string(&pool).unwrap();
    text.push_str(&format!("COMBSTORE_PG_CA={}\n", other.display()));
    std::fs::write(&pool, text).unwrap();
    let dir = tmp.path().join("host");
    let out = init_pool(&dir, &pool);
    assert!(
        !out.status.success(),
        "init trusted a certificate no trusted CA signed"
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("certificate"), "{text}");
    assert!(!dir.exists(), "init left {}", dir.display());
    // a pool file put in place by hand: the C API's open fails with EIO,
    // the reason in the server's log
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&pool, dir.join("pool.conf")).unwrap();
    assert_eq!(open_server(&server_name_for(&dir)).map(|_| ()), Err(c::EIO));
    let log = std::fs::read_to_string(dir.join("combstore.log")).unwrap_or_default();
    assert!(log.contains("certificate"), "{log}");
    assert!(!dir.join("catalog.db").exists());
}

#[test]
#[ignore = "needs Garage and PostgreSQL, alone: make test-scaleout"]
fn postgresql_restarted_during_writes_fails_them_with_eio_loses_nothing_acknowledged_and_the_pool_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("host");
    assert!(
        init_pool(&dir, &shared_pool_file(tmp.path(), None))
            .status
            .success()
    );
    let name = server_name_for(&dir);
    let sh = open_server(&name).unwrap();
    let lsu = lsu_t(sh, "default");
    let a = seeded(0xa31, 12 << 20);
    let da = image_def("host3_full", "1765000000");
    store_complete(&lsu, &da, &a);

    // a backup half written and flushed (acknowledged) when the catalog
    // goes down: the rest is never acknowledged complete
    let db = image_def("host3_full", "1765086400");
    let b = seeded(0xb32, 12 << 20);
    let half = 6 << 20;
    let wh = create(&lsu, &db);
    write_all(wh, &b[..half], 0);
    flush(wh);
    postgres("stop");
    let mut up = Resume(postgres, false);
    backup_refused_with_eio(wh, &b[half..], half, "its catalog was down");
    // a restore while the catalog is down: right bytes or EIO, never others
    let reader = try_open(&lsu, &da, c::O_READ);
    if let Ok(reader) = reader {
        match read_at(reader, 1 << 20, 4 << 20) {
            Ok(got) => assert!(
                got == a[1 << 20..5 << 20],
                "wrong bytes while the catalog was down"
            ),
            Err(rc) => assert_eq!(rc, c::EIO, "{}", code_name(rc)),
        }
        let _ = api().close_image(reader, 0);
    } else {
        assert_eq!(reader.map(|_| ()), Err(c::EIO));
    }

    postgres("resume");
    up.1 = true;
    // the same handle goes on: what was acknowledged is there, and the
    // next backup is taken
    assert!(read_image(&lsu, &da) == a, "image A differs after the restart");
    let dc = image_def("host3_full", "1765172800");
    store_complete(&lsu, &dc, &b);
    assert!(read_image(&lsu, &dc) == b, "the backup after the restart differs");
    assert_rc!(api().close_server(sh), c::EOK, "stsp_close_server");
    // the backup of the outage: not complete, its acknowledged half kept
    let sh = open_server(&name).unwrap();
    let lsu = lsu_t(sh, "default");
    let info = must_prop_byname(&lsu, &db);
    assert_eq!(
        info.imo_flags & c::II_COMPLETE,
        0,
        "{}",
        flags_str(info.imo_flags)
    );
    assert!(
        info.imo_size >= half as u64,
        "acknowledged bytes lost: size {}",
        info.imo_size
    );
    // resumed and completed: the acknowledged half is the first half
    let wh = open(&lsu, &db, c::O_WRITE);
    write_all(wh, &b[half..], half as u64);
    close(wh, c::CLOSE_COMPLETE);
    assert!(read_image(&lsu, &db) == b, "the resumed backup differs");
    assert_rc!(api().close_server(sh), c::EOK, "stsp_close_server");
    let out = combstore(&["--server", dir.to_str().unwrap(), "verify"]);
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "needs Garage and PostgreSQL, alone: make test-scaleout"]
fn a_host_whose_catalog_session_was_lost_and_recovered_by_another_commits_nothing_more() {
    cut_off_host_commits_nothing_more(false);
}

#[test]
#[ignore = "needs Garage and PostgreSQL, alone: make test-scaleout"]
fn a_host_whose_catalog_session_was_lost_and_whose_image_another_reopened_commits_nothing_more() {
    cut_off_host_commits_nothing_more(true);
}

/// Host A writes an image and flushes; every combstore session is ended
/// (a network partition, an administrator's pg_terminate_backend), so to
/// the pool host A's owner is dead; host B takes the image over: by its
/// recovery at open, or (`by_reopen`, B open all along) by reopening the
/// image for writing, which finds its writer dead. Host A must commit
/// nothing more: its connection comes back, but its owner was buried.
fn cut_off_host_commits_nothing_more(by_reopen: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let pool = shared_pool_file(tmp.path(), None);
    let (dir_a, dir_b) = (tmp.path().join("host-a"), tmp.path().join("host-b"));
    for d in [&dir_a, &dir_b] {
        assert!(init_pool(d, &pool).status.success());
    }
    let sh_a = open_server(&server_name_for(&dir_a)).unwrap();
    let lsu_a = lsu_t(sh_a, "default");
    let early_b = by_reopen.then(|| open_server(&server_name_for(&dir_b)).unwrap());
    let dx = image_def("cut_off", "");
    let x = seeded(0xc41, 8 << 20);
    let wh = create(&lsu_a, &dx);
    write_all(wh, &x[..4 << 20], 0);
    flush(wh);
    let url = std::env::var("COMBSTORE_PG_URL").unwrap();
    let out = Command::new("psql")
        .args([
            &url,
            "-qtAc",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = 'combstore' AND pid <> pg_backend_pid()",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sh_b = early_b.unwrap_or_else(|| open_server(&server_name_for(&dir_b)).unwrap());
    let lsu_b = lsu_t(sh_b, "default");
    if !by_reopen {
        // host B's open recovered host A's image
        let info = must_prop_byname(&lsu_b, &dx);
        assert_ne!(
            info.imo_flags & c::II_ABNORMAL,
            0,
            "{}",
            flags_str(info.imo_flags)
        );
        assert_eq!(info.imo_size, 4 << 20, "flushed data kept");
    }
    // host B takes the image over for writing (B's own session was ended
    // too: its first call may meet the closed connection)
    let wh_b = try_open(&lsu_b, &dx, c::O_WRITE)
        .or_else(|_| try_open(&lsu_b, &dx, c::O_WRITE))
        .unwrap_or_else(|rc| panic!("host B reopens: {}", code_name(rc)));
    // host A's writer must not commit over what host B took over
    backup_refused_with_eio(wh, &x[4 << 20..], 4 << 20, "its host was taken over");
    // and the instance is dead to the pool: its connection comes back
    // (the first try may meet the closed one, the second reconnects) but
    // finds its owner buried, so nothing new is written through it
    for k in 0..2 {
        let rc = try_create(&lsu_a, &image_def(&format!("after_cut_{k}"), "")).map(|_| ());
        assert_eq!(rc, Err(c::EIO), "try {k}");
    }
    assert_eq!(
        prop_byname(&lsu_b, &image_def("after_cut_1", "")).map(|_| ()),
        Err(c::ENOENT)
    );
    let info = must_prop_byname(&lsu_b, &dx);
    assert_eq!(info.imo_size, 4 << 20, "the cut-off host committed more");
    assert_eq!(
        info.imo_flags & c::II_COMPLETE,
        0,
        "{}",
        flags_str(info.imo_flags)
    );
    // host B completes it; a new handle on host A is a live owner again
    write_all(wh_b, &x[4 << 20..], 4 << 20);
    close(wh_b, c::CLOSE_COMPLETE);
    let _ = api().close_server(sh_a);
    let sh_a = open_server(&server_name_for(&dir_a)).unwrap();
    assert!(
        read_image(&lsu_t(sh_a, "default"), &dx) == x,
        "host A reads the image host B completed"
    );
    for sh in [sh_a, sh_b] {
        assert_rc!(api().close_server(sh), c::EOK);
    }
}
