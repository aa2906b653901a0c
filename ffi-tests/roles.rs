//! What child processes do (see common::child::spawn_role). Each role talks
//! to the parent with "@@MARKER@@ ..." lines on stdout and lines on stdin.

use crate::common::child::say;
use crate::common::*;
use std::io::BufRead;

pub fn run(role: &str, args: &[String]) {
    match role {
        "echo" => say("ECHO", &args.join(" ")),
        "kill_writer" => kill_writer(args),
        "coop_writer" => coop_writer(args),
        "mixed" => mixed(args),
        "race_creator" => race_creator(args),
        "first_opener" => first_opener(args),
        "dup_churn" => dup_churn(args),
        "dup_copy_image" => dup_copy_image(args),
        "dup_xfer_then_hang" => dup_xfer_then_hang(args),
        "ev_reader" => ev_reader(args),
        "ev_op_waiter" => ev_op_waiter(args),
        "ev_op_canceller" => ev_op_canceller(args),
        "ev_copies_then_hang" => ev_copies_then_hang(args),
        "torture_worker" => crate::torture::worker(args),
        "torture_check" => crate::torture::checker(args),
        "crash_prelude" => crate::crashpoints::prelude(args),
        "crash_script" => crate::crashpoints::script(args),
        other => panic!("unknown role {other}"),
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T
where
    T::Err: std::fmt::Debug,
{
    args[i]
        .parse()
        .unwrap_or_else(|e| panic!("role arg {i} ({:?}): {e:?}", args[i]))
}

/// [server, basename, seed, len, (unflushed)]: create, write len seeded bytes,
/// flush, optionally write `unflushed` more bytes, report READY, then hang
/// until killed.
fn kill_writer(args: &[String]) {
    let (server, base, seed, len): (String, String, u64, usize) =
        (arg(args, 0), arg(args, 1), arg(args, 2), arg(args, 3));
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let lsu = lsu_t(sh, "default");
    let ih = create(&lsu, &image_def(&base, ""));
    write_chunks(ih, &seeded(seed, len), 0, 256 * 1024);
    flush(ih);
    // optional: more bytes written after the flush and never flushed
    if let Some(extra) = args.get(4) {
        let extra: usize = extra.parse().unwrap();
        write_chunks(ih, &seeded(seed + 1, extra), len as u64, 1 << 20);
    }
    say("READY", &format!("{len}"));
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// [server, basename, seed_a, len_a, seed_b, len_b]: create, write A, flush,
/// READY; on stdin "GO": write B after A, close complete, DONE.
fn coop_writer(args: &[String]) {
    let server: String = arg(args, 0);
    let base: String = arg(args, 1);
    let (seed_a, len_a, seed_b, len_b): (u64, usize, u64, usize) =
        (arg(args, 2), arg(args, 3), arg(args, 4), arg(args, 5));
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let lsu = lsu_t(sh, "default");
    let ih = create(&lsu, &image_def(&base, ""));
    write_all(ih, &seeded(seed_a, len_a), 0);
    flush(ih);
    say("READY", "");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "GO", "unexpected command");
    write_all(ih, &seeded(seed_b, len_b), len_a as u64);
    close(ih, c::CLOSE_COMPLETE);
    assert_rc!(api().close_server(sh), c::EOK);
    say("DONE", "");
}

/// [server, prefix, count]: write `count` images named prefix-NNN with
/// data_for(name), complete them, then verify every complete image of the
/// LSU (also those of other processes). Reports VERIFIED <n>.
pub fn mixed(args: &[String]) {
    let server: String = arg(args, 0);
    let prefix: String = arg(args, 1);
    let count: usize = arg(args, 2);
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let lsu = lsu_t(sh, "default");
    mixed_body(&lsu, &prefix, count);
    assert_rc!(api().close_server(sh), c::EOK);
}

pub fn mixed_body(lsu: &sys::sts_lsu_t, prefix: &str, count: usize) -> usize {
    for i in 0..count {
        let name = format!("{prefix}-{i:03}");
        let data = data_for(&name);
        let ih = create(lsu, &image_def(&name, ""));
        write_chunks(ih, &data, 0, 64 * 1024);
        close(ih, c::CLOSE_COMPLETE);
        // read our own image straight back
        assert_bytes_eq(&read_image(lsu, &image_def(&name, "")), &data, &name);
    }
    let mut verified = 0;
    for (b, d) in list_images(lsu) {
        let name = String::from_utf8(b.clone()).unwrap();
        let def = image_def_bytes(&b, &d);
        let info = match prop_byname(lsu, &def) {
            Ok(i) => i,
            Err(rc) => panic!("listed image {name} has no properties: {}", code_name(rc)),
        };
        if info.imo_flags & c::II_COMPLETE == 0 {
            continue; // another process is still writing it
        }
        let want = data_for(&name);
        assert_eq!(cstr(&info.imo_sha1), sha1_hex(&want), "sha1 of {name}");
        assert_bytes_eq(&read_image(lsu, &def), &want, &name);
        verified += 1;
    }
    say("VERIFIED", &verified.to_string());
    verified
}

/// [server, count]: try to create race-000 .. race-<count-1>; report WON for
/// each created; EEXIST is the only acceptable failure.
fn race_creator(args: &[String]) {
    let server: String = arg(args, 0);
    let count: usize = arg(args, 1);
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let lsu = lsu_t(sh, "default");
    say("STARTED", "");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    for i in 0..count {
        let name = format!("race-{i:03}");
        match try_create(&lsu, &image_def(&name, "")) {
            Ok(ih) => {
                say("WON", &name);
                close(ih, c::CLOSE_COMPLETE);
            }
            Err(rc) if rc == c::EEXIST => {}
            Err(rc) => panic!("create {name}: {}", code_name(rc)),
        }
    }
    assert_rc!(api().close_server(sh), c::EOK);
    say("DONE", "");
}

/// [server...]: after GO, open and close each server in turn, reporting
/// RESULT "OK <server>" or "FAILED <server>: <code>" for each.
fn first_opener(args: &[String]) {
    say("STARTED", "");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    for server in args {
        match open_server(server) {
            Ok(sh) => {
                assert_rc!(api().close_server(sh), c::EOK);
                say("RESULT", &format!("OK {server}"));
            }
            Err(rc) => say("RESULT", &format!("FAILED {server}: {}", code_name(rc))),
        }
    }
    say("DONE", "");
}

// ------------------------------------------------------------------ dup.rs

/// Shared images of the duplication churn: "base-of-<k>"; every copy of
/// one is named "...-of-<k>", so any process can verify any image.
pub const DUP_BASES: usize = 4;

pub fn dup_base_name(k: usize) -> String {
    format!("base-of-{k}")
}

pub fn dup_base_data(k: usize) -> Vec<u8> {
    seeded(0xba5e_0000 + k as u64, (k + 1) * (1 << 20) + 512 * (k + 3))
}

/// The base an image's bytes come from, by its name.
pub fn dup_base_of(name: &str) -> Option<usize> {
    name.rsplit_once("-of-")
        .and_then(|(_, k)| k.parse().ok())
        .filter(|k| *k < DUP_BASES)
}

/// [server, prefix, rounds, victim]: STARTED; on stdin GO: `rounds` times
/// copy_image a base or another process's copy to "<prefix>-NNN-of-<k>"
/// (the source may vanish under a concurrent delete: STS_ENOENT), verify
/// the copy, and now and then delete one of this process's copies;
/// half-way, delete base <victim>. Reports DONE <copies kept>.
fn dup_churn(args: &[String]) {
    let server: String = arg(args, 0);
    let prefix: String = arg(args, 1);
    let rounds: usize = arg(args, 2);
    let victim: usize = arg(args, 3);
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let lsu = lsu_t(sh, "default");
    say("STARTED", "");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "GO", "unexpected command");
    let mut rng = Rng(fnv1a(&prefix));
    let mut mine: Vec<String> = Vec::new();
    let mine_prefix = format!("{prefix}-");
    for i in 0..rounds {
        if i == rounds / 2 {
            let def = image_def(&dup_base_name(victim), "");
            assert_rc!(api().delete_image(&lsu, &def, 0), c::EOK, "delete base {victim}");
        }
        // a base, or (every third round) a copy made by the other process
        let mut src = dup_base_name(rng.below(DUP_BASES as u64) as usize);
        if i % 3 == 2 {
            let others: Vec<String> = list_basenames(&lsu)
                .into_iter()
                .filter(|n| !n.starts_with("base-") && !n.starts_with(&mine_prefix))
                .collect();
            if !others.is_empty() {
                src = others[rng.below(others.len() as u64) as usize].clone();
            }
        }
        let k = dup_base_of(&src).unwrap_or_else(|| panic!("source {src} has no base"));
        let name = format!("{prefix}-{i:03}-of-{k}");
        let rc = api().copy_image(&lsu, &image_def(&name, ""), &lsu, &image_def(&src, ""), 0);
        match rc {
            0 => {
                let want = dup_base_data(k);
                let info = must_prop_byname(&lsu, &image_def(&name, ""));
                assert_eq!(
                    cstr(&info.imo_sha1),
                    sha1_hex(&want),
                    "sha1 of {name} (copy of {src})"
                );
                assert_bytes_eq(&read_image(&lsu, &image_def(&name, "")), &want, &name);
                mine.push(name);
            }
            rc if rc == c::ENOENT => {} // deleted by the other process meanwhile
            rc => panic!("copy_image {src} -> {name}: {}", code_name(rc)),
        }
        if i % 2 == 1 && mine.len() > 2 {
            let gone = mine.remove(rng.below(mine.len() as u64) as usize);
            assert_rc!(
                api().delete_image(&lsu, &image_def(&gone, ""), 0),
                c::EOK,
                "delete {gone}"
            );
        }
    }
    assert_rc!(api().close_server(sh), c::EOK);
    say("DONE", &mine.len().to_string());
}

/// [source server, target server, source, target]: open the target server
/// through stsp_open_target_server, report COPYING, copy_image, report
/// COPIED <code>, then hang until killed.
fn dup_copy_image(args: &[String]) {
    let (server, target, src, dst): (String, String, String, String) =
        (arg(args, 0), arg(args, 1), arg(args, 2), arg(args, 3));
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let th =
        open_target_server(sh, &target).unwrap_or_else(|rc| panic!("open_target_server: {}", code_name(rc)));
    say("COPYING", "");
    let rc = api().copy_image(
        &lsu_t(th, "default"),
        &image_def(&dst, ""),
        &lsu_t(sh, "default"),
        &image_def(&src, ""),
        0,
    );
    say("COPIED", &code_name(rc));
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// [server, CopyExtent|Include, source, target, len]: create the target,
/// copy (or include) the source's first len bytes into it, report
/// DONE <bytes>, then hang until killed (no flush, no close).
fn dup_xfer_then_hang(args: &[String]) {
    let (server, op, src, dst, len): (String, String, String, String, u64) = (
        arg(args, 0),
        arg(args, 1),
        arg(args, 2),
        arg(args, 3),
        arg(args, 4),
    );
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let lsu = lsu_t(sh, "default");
    let rh = open(&lsu, &image_def(&src, ""), c::O_READ);
    let w = create(&lsu, &image_def(&dst, ""));
    let mut n = u64::MAX;
    let rc = match op.as_str() {
        "CopyExtent" => api().copy_extent(rh, w, 0, 0, len, 0, &mut n),
        "Include" => api().include_in_image(rh, w, 0, 0, len, 0, &mut n),
        other => panic!("unknown op {other}"),
    };
    assert_rc!(rc, c::EOK, "{op} of {len} bytes");
    say("DONE", &n.to_string());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

// ------------------------------------------------------------------ events.rs

fn read_command(expected: &str) {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), expected, "unexpected command");
}

/// [server]: open the server and a channel, report EVENT <ev_str> for every
/// stored event, then DRAINED <n>; on stdin WAIT: one stsp_get_event with
/// a 10 s timeout, reported as LIVE <ev_str> or LIVE <code>.
fn ev_reader(args: &[String]) {
    let server: String = arg(args, 0);
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let evc = Evc::open(sh);
    let stored = evc.drain();
    for e in &stored {
        say("EVENT", &ev_str(e));
    }
    say("DRAINED", &stored.len().to_string());
    read_command("WAIT");
    match evc.get(10_000) {
        Ok(e) => say("LIVE", &ev_str(&e)),
        Err(rc) => say("LIVE", &code_name(rc)),
    }
    drop(evc);
    assert_rc!(api().close_server(sh), c::EOK);
}

/// [server, op name, timeout ms]: open the server, READY; on stdin GO:
/// stsp_named_async_wait, reported as WAITED <code> <op_status> (numbers;
/// op_status is OP_STATUS_SENTINEL when untouched).
fn ev_op_waiter(args: &[String]) {
    let (server, op, timeout): (String, String, u32) = (arg(args, 0), arg(args, 1), arg(args, 2));
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    say("READY", "");
    read_command("GO");
    let (rc, st) = named_wait(sh, &op, timeout);
    say("WAITED", &format!("{rc} {st}"));
    assert_rc!(api().close_server(sh), c::EOK);
}

/// [server, op name]: open the server, READY; on stdin GO:
/// stsp_named_async_cancel, reported as CANCELLED <code> (a number).
fn ev_op_canceller(args: &[String]) {
    let (server, op): (String, String) = (arg(args, 0), arg(args, 1));
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    say("READY", "");
    read_command("GO");
    let rc = named_cancel(sh, &op);
    say("CANCELLED", &rc.to_string());
    assert_rc!(api().close_server(sh), c::EOK);
}

/// [source server, target server, source image, prefix, count]: open the
/// target through stsp_open_target_server, start `count` named copies
/// "<prefix>-<i>" of the source to "<prefix>-copy-<i>", report STARTED,
/// then hang until killed.
fn ev_copies_then_hang(args: &[String]) {
    let (server, target, src, prefix, count): (String, String, String, String, usize) = (
        arg(args, 0),
        arg(args, 1),
        arg(args, 2),
        arg(args, 3),
        arg(args, 4),
    );
    let sh = open_server(&server).unwrap_or_else(|rc| panic!("open_server: {}", code_name(rc)));
    let th =
        open_target_server(sh, &target).unwrap_or_else(|rc| panic!("open_target_server: {}", code_name(rc)));
    for i in 0..count {
        assert_rc!(
            named_copy(
                &lsu_t(th, "default"),
                &image_def(&format!("{prefix}-copy-{i}"), ""),
                &lsu_t(sh, "default"),
                &image_def(&src, ""),
                &format!("{prefix}-{i}"),
            ),
            c::EOK,
            "named copy {i}"
        );
    }
    say("STARTED", &count.to_string());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
