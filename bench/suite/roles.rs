//! Child processes: this binary re-executed with `--role NAME ARGS..`,
//! talking one line at a time over stdin/stdout.
//!
//! - `ingest DIR IMAGE FILE OFF LEN`: open the server through C, print
//!   "ready", wait for "go", ingest LEN bytes of FILE at OFF in 1 MiB
//!   writes, print "done SECS".
//! - `rss-ingest DIR IMAGE LEN SEED [GENERATION]`: ingest LEN generated
//!   bytes of generation 1 (or GENERATION) in 1 MiB pieces, nothing held,
//!   and print "rss HWM_BEFORE HWM_AFTER SECS" (VmHWM of /proc/self/status).
//! - `restore DIR IMAGE`: read the image sequentially in 1 MiB reads,
//!   print "done BYTES SECS" (for profiling a restore alone).
//! - `list DIR`: list the default LSU through stsp_list_image; `small DIR
//!   N`: create, write 64 KiB and close N images (for profiling).
//! - `prefill-images DIR N` / `prefill-objects DIR N`: the engine's
//!   bulk prefill (Rust API, not the C entry points); print "prefilled N SECS".

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

use combstore::archive::SqlValue;
use combstore::archive::value::Value;
use combstore::engine::{ImageName, Server, archive};

use crate::common::{self, c};
use crate::contenders::{self, Source, Srv};
use crate::util::{timed, vm_hwm};

/// A running child role.
pub struct Child {
    proc: std::process::Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    role: String,
}

impl Child {
    pub fn spawn(role: &str, args: &[String]) -> Child {
        // /proc/self/exe stays this binary even if a build in the shared
        // target directory replaces the file meanwhile.
        let mut proc = Command::new("/proc/self/exe")
            .arg("--role")
            .arg(role)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn role {role}: {e}"));
        Child {
            stdin: proc.stdin.take().expect("stdin"),
            stdout: BufReader::new(proc.stdout.take().expect("stdout")),
            proc,
            role: role.into(),
        }
    }

    pub fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .expect("write to child");
    }

    /// The next line, which must start with `word`; its other fields.
    pub fn expect(&mut self, word: &str) -> Vec<String> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from child");
        let fields: Vec<String> = line.split_whitespace().map(String::from).collect();
        assert!(
            fields.first().map(String::as_str) == Some(word),
            "role {}: expected {word:?}, got {line:?} (see its stderr above)",
            self.role
        );
        fields[1..].to_vec()
    }

    pub fn finish(mut self) {
        drop(self.stdin);
        let st = self.proc.wait().expect("wait for child");
        assert!(st.success(), "role {} exited with {st}", self.role);
    }
}

/// Prefills `n` images or objects (role `prefill-images` or
/// `prefill-objects`) in the server at `dir` and records the time as
/// figure `key`, with `note` saying what was created and how.
pub fn prefill_figure(ctx: &mut crate::Ctx, objects: bool, dir: &Path, n: u64, key: &str, note: &str) {
    let (role, what) = if objects {
        ("prefill-objects", "objects")
    } else {
        ("prefill-images", "images")
    };
    let r = run_child(role, &[dir.display().to_string(), n.to_string()], "prefilled");
    let secs: f64 = r[1].parse().expect("prefill seconds");
    let label = format!(
        "{}: prefill {n} {what} (engine direct)",
        key.split('.').next().unwrap_or(key)
    );
    ctx.add(crate::report::Figure::new(key, &label, secs, "s").note(note));
}

/// Starts one `role` child per entry of `args`, waits until each is
/// ready, releases them together and returns the seconds until the last
/// is done (the roles that say "ready", wait for "go", then say "done").
pub fn released_together(role: &str, args: &[Vec<String>]) -> f64 {
    let mut kids: Vec<Child> = args.iter().map(|a| Child::spawn(role, a)).collect();
    for k in &mut kids {
        k.expect("ready");
    }
    let t = std::time::Instant::now();
    for k in &mut kids {
        k.say("go");
    }
    for k in &mut kids {
        k.expect("done");
    }
    let secs = t.elapsed().as_secs_f64();
    for k in kids {
        k.finish();
    }
    secs
}

/// Runs a role, returning the fields of its one result line.
pub fn run_child(role: &str, args: &[String], word: &str) -> Vec<String> {
    let mut c = Child::spawn(role, args);
    let r = c.expect(word);
    c.finish();
    r
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("role argument {i} missing or malformed in {args:?}"))
}

pub fn run(args: &[String]) {
    let role = args.first().map_or("", String::as_str);
    let args = &args[1..];
    match role {
        "ingest" => {
            // DIR IMAGE FILE OFF LEN [STREAMS]: STREAMS writers (threads,
            // images IMAGE_i) of LEN/STREAMS each, released together
            let srv = Srv::open(Path::new(&args[0]));
            let (off, len): (u64, u64) = (arg(args, 3), arg(args, 4));
            let streams: u64 = if args.len() > 5 { arg(args, 5) } else { 1 };
            let part = len / streams / (1 << 20) * (1 << 20);
            let lsu = crate::common::Shared(srv.lsu());
            println!("ready");
            let mut go = String::new();
            std::io::stdin().read_line(&mut go).expect("read go");
            let t = std::time::Instant::now();
            if streams == 1 {
                contenders::ingest(
                    &lsu.0,
                    &args[1],
                    &Source::file(Path::new(&args[2]), off, len),
                    1 << 20,
                );
            } else {
                std::thread::scope(|s| {
                    for i in 0..streams {
                        let src = Source::file(Path::new(&args[2]), off + i * part, part);
                        let (lsu, image) = (&lsu, format!("{}_{i}", args[1]));
                        s.spawn(move || contenders::ingest(&lsu.0, &image, &src, 1 << 20));
                    }
                });
            }
            println!("done {}", t.elapsed().as_secs_f64());
        }
        "rss-ingest" => {
            let srv = Srv::open(Path::new(&args[0]));
            let before = vm_hwm();
            let src = Source::Gen {
                seed: arg(args, 3),
                generation: if args.len() > 4 { arg(args, 4) } else { 1 },
                len: arg(args, 2),
            };
            let (_, secs) = contenders::ingest(&srv.lsu(), &args[1], &src, 1 << 20);
            println!("rss {before} {} {secs}", vm_hwm());
        }
        "restore" => {
            let srv = Srv::open(Path::new(&args[0]));
            let (bytes, secs) = contenders::restore(&srv.lsu(), &args[1], 1 << 20, |_| ());
            println!("done {bytes} {secs}");
        }
        "random" | "raw-random" => {
            // DIR IMAGE SEED LEN N, or FILE SEED LEN N: the restore
            // section's random reads alone (for profiling)
            let k = usize::from(role == "random");
            let offsets = crate::sections::restore::random_offsets(
                arg(args, k + 1),
                arg(args, k + 2),
                arg(args, k + 3),
            );
            let len = crate::sections::restore::RANDOM_LEN;
            let secs = if k == 1 {
                let srv = Srv::open(Path::new(&args[0]));
                contenders::restore_random(&srv.lsu(), &args[1], &offsets, len)
            } else {
                contenders::raw_random(Path::new(&args[0]), &offsets, len)
            };
            println!("done {secs}");
        }
        "list" => {
            let srv = Srv::open(Path::new(&args[0]));
            let (names, secs) = timed(|| common::list_images(&srv.lsu()).len());
            println!("done {names} {secs}");
        }
        "small" => {
            let srv = Srv::open(Path::new(&args[0]));
            let payload = vec![7u8; 64 << 10];
            let n: usize = arg(args, 1);
            let (_, secs) = timed(|| {
                for i in 0..n {
                    let ih = common::create(&srv.lsu(), &contenders::def(&format!("small_{i}")));
                    crate::assert_rc!(common::write_at(ih, &payload, 0), c::EOK, "small write");
                    common::close(ih, c::CLOSE_COMPLETE);
                }
            });
            println!("done {n} {secs}");
        }
        "prefill-chunks" => {
            // the chunk index of a server that stores N distinct chunks
            let server = Server::open(Path::new(&args[0])).expect("open server (engine)");
            let n: u64 = arg(args, 1);
            let t = std::time::Instant::now();
            let done = server
                .prefill_chunk_index("default", n, 0x10_000_000)
                .expect("prefill chunk index");
            println!("prefilled {} {}", t.elapsed().as_secs_f64(), done);
        }
        "prefill-images" => prefill(args, false),
        "prefill-objects" => prefill(args, true),
        _ => panic!("unknown role {role:?}"),
    }
}

/// Prefilled names and fields: images `client{i%1000}_{ts}_C1_F1` with
/// their `ost.*` fields as a close complete records them; objects with
/// five filesystem.* fields, filesystem.uid = i % 100 (what the archive
/// query selects).
fn prefill(args: &[String], objects: bool) {
    let server = Server::open(Path::new(&args[0])).expect("open server (engine)");
    let n: u64 = arg(args, 1);
    let schema = server.archive_schema().expect("archive schema");
    let item = |i: u64| -> (ImageName, Vec<(String, SqlValue)>) {
        if objects {
            let fields = [
                ("filesystem.uid", Value::Long((i % 100) as i64)),
                ("filesystem.gid", Value::Long((i % 7) as i64)),
                ("filesystem.mode", Value::Long(0o644)),
                ("filesystem.mtime", Value::Long(1_700_000_000 + i as i64)),
                (
                    "filesystem.mimetype",
                    Value::String("application/octet-stream".into()),
                ),
            ]
            .map(|(k, v)| (k.to_owned(), v));
            let checked = archive::check_fields(&fields, &schema).expect("fields fit the factory schema");
            (
                ImageName::new(&format!("{:032x}", u128::from(i) * 0x9E37_79B9), "").unwrap(),
                checked,
            )
        } else {
            let (base, date) = prefilled_image(i);
            let fields = vec![
                ("ost.lsu".to_owned(), SqlValue::Text("default".into())),
                ("ost.basename".to_owned(), SqlValue::Text(base.clone())),
                ("ost.date".to_owned(), SqlValue::Text(date.clone())),
            ];
            (ImageName::new(&base, &date).unwrap(), fields)
        }
    };
    let lsu = if objects { archive::ARCHIVE_LSU } else { "default" };
    let (count, secs) = timed(|| {
        server
            .prefill_empty_images(lsu, (0..n).map(item), 10_000)
            .expect("prefill")
    });
    assert_eq!(count, n);
    println!("prefilled {count} {secs}");
}

/// The name of prefilled image `i` (as `prefill` makes it).
pub fn prefilled_image(i: u64) -> (String, String) {
    (
        format!("client{}_{}_C1_F1", i % 1000, 1_600_000_000 + i),
        (1_600_000_000 + i).to_string(),
    )
}
