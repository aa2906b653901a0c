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
