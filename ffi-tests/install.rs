//! `make install` / `make uninstall` (issue 14, items 13 and 14), run on the
//! built plugin and CLI into temporary trees: every file in its place, the
//! library versioned with its SONAME and links, binaries stripped, pkg-config
//! files that link real programs (a 5800 one with -lhoneycomb and the
//! README's own C example with its own build line), man pages and
//! completions; uninstall leaves no file behind. Also: the release plugin
//! carries no fuzzing code.

use crate::common::plugin_path;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CLI: &str = env!("CARGO_BIN_EXE_combstore");

fn check(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `make <target> VAR=value...` in the repository, on the plugin and CLI
/// this test run built, never building (install does not depend on build).
fn make(target: &str, vars: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(ROOT).arg(target);
    cmd.arg(format!("PLUGIN={}", plugin_path().display()));
    cmd.arg(format!("CLI={CLI}"));
    for (k, v) in vars {
        cmd.arg(format!("{k}={}", v.display()));
    }
    // not a sub-make of a `make test` that may be running us
    for v in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CARGO"] {
        cmd.env_remove(v);
    }
    // `make install` must not run cargo: an unusable one proves it
    cmd.env("CARGO", "/nonexistent/cargo");
    check(&format!("make {target}"), cmd.output().expect("run make"))
}

/// Every file and symlink under `root`, relative, with "-> target" for links.
fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(format!("{rel} -> {}", std::fs::read_link(&p).unwrap().display()));
            } else if meta.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn readelf(args: &[&str], file: &Path) -> String {
    check(
        "readelf",
        Command::new("readelf")
            .args(args)
            .arg(file)
            .output()
            .expect("readelf (binutils) is required: make deps"),
    )
}

fn assert_stripped(file: &Path) {
    let sections = readelf(&["-S", "-W"], file);
    for s in [".symtab", ".debug_info", ".debug_line"] {
        assert!(
            !sections.contains(&format!(" {s} ")),
            "{} is not stripped: it has {s}",
            file.display()
        );
    }
    // 13.5 MB since issue 16 linked the S3 client (object_store, reqwest
    // and rustls with aws-lc: https to the object store); debug info
    // would add tens of MB
    let size = std::fs::metadata(file).unwrap().len();
    assert!(size < 16 << 20, "{} is {size} bytes", file.display());
}

/// The command names the CLI's help lists under "Commands:".
fn subcommands(path: &[&str]) -> Vec<String> {
    let help = check(
        "combstore --help",
        Command::new(CLI).args(path).arg("--help").output().unwrap(),
    );
    let mut names = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            inside = true;
        } else if inside && line.starts_with("  ") {
            let name = line.split_whitespace().next().unwrap().to_string();
            if name != "help" {
                names.push(name);
            }
        } else if inside {
            break;
        }
    }
    names
}

/// combstore.1 and one combstore-<path>.1 per command, from --help.
fn expected_man_pages() -> BTreeSet<String> {
    fn walk(path: Vec<String>, out: &mut BTreeSet<String>) {
        let mut name = String::from("combstore");
        for p in &path {
            name.push('-');
            name.push_str(p);
        }
        out.insert(format!("usr/local/share/man/man1/{name}.1"));
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        for sub in subcommands(&args) {
            let mut p = path.clone();
            p.push(sub);
            walk(p, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(Vec::new(), &mut out);
    out
}

#[test]
fn staged_install_puts_every_file_in_place_stripped_and_uninstall_removes_them() {
    let stage = tempfile::TempDir::new().unwrap();
    let d = stage.path();
    make("install", &[("DESTDIR", d)]);

    let mut want: BTreeSet<String> = [
        "usr/openv/lib/ost-plugins/libstspicombstore.so",
        "usr/local/lib/libhoneycomb.so.1.0.0",
        "usr/local/lib/libhoneycomb.so.1 -> libhoneycomb.so.1.0.0",
        "usr/local/lib/libhoneycomb.so -> libhoneycomb.so.1",
        "usr/local/lib/pkgconfig/honeycomb.pc",
        "usr/local/lib/pkgconfig/combstore.pc",
        "usr/local/bin/combstore",
        "usr/local/include/combstore/stspi.h",
        "usr/local/include/combstore/stsi.h",
        "usr/local/include/combstore/stsplat.h",
        "usr/local/include/combstore/hc.h",
        "usr/local/include/combstore/hcclient.h",
        "usr/local/include/combstore/hchost.h",
        "usr/local/share/bash-completion/completions/combstore",
        "usr/local/share/zsh/site-functions/_combstore",
        "usr/local/share/fish/vendor_completions.d/combstore.fish",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let pages = expected_man_pages();
    assert!(pages.len() > 20, "{pages:?}");
    assert!(pages.contains("usr/local/share/man/man1/combstore-lsu-create.1"));
    want.extend(pages.iter().cloned());
    assert_eq!(tree(d), want, "installed files");

    // the library: a real file, versioned SONAME, its links resolve to it
    let lib = d.join("usr/local/lib/libhoneycomb.so.1.0.0");
    assert!(readelf(&["-d"], &lib).contains("Library soname: [libhoneycomb.so.1]"));
    assert_eq!(
        std::fs::canonicalize(d.join("usr/local/lib/libhoneycomb.so")).unwrap(),
        std::fs::canonicalize(&lib).unwrap()
    );
    let plugin = d.join("usr/openv/lib/ost-plugins/libstspicombstore.so");
    for f in [&lib, &plugin, &d.join("usr/local/bin/combstore")] {
        assert_stripped(f);
    }
    // stripped, the exports are all still there
    let dynsym = check(
        "nm -D",
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(&plugin)
            .output()
            .unwrap(),
    );
    for sym in [
        "stsp_init",
        "stsp_open_server",
        "hc_session_create_ez",
        "hc_printf",
    ] {
        assert!(dynsym.contains(&format!(" T {sym}\n")), "{sym} not exported");
    }
    // the installed CLI runs; man pages are roff for their command
    let v = check(
        "combstore --version",
        Command::new(d.join("usr/local/bin/combstore"))
            .arg("--version")
            .output()
            .unwrap(),
    );
    assert!(v.starts_with("combstore "), "{v}");
    let page = std::fs::read_to_string(d.join("usr/local/share/man/man1/combstore-lsu-create.1")).unwrap();
    assert!(page.contains(".TH combstore-lsu-create 1"), "{page}");
    assert!(page.contains("capacity"));
    for (f, marker) in [
        (
            "usr/local/share/bash-completion/completions/combstore",
            "complete -F",
        ),
        (
            "usr/local/share/zsh/site-functions/_combstore",
            "#compdef combstore",
        ),
        (
            "usr/local/share/fish/vendor_completions.d/combstore.fish",
            "complete -c combstore",
        ),
    ] {
        let text = std::fs::read_to_string(d.join(f)).unwrap();
        assert!(text.contains(marker), "{f} lacks {marker:?}");
    }
    let pc = std::fs::read_to_string(d.join("usr/local/lib/pkgconfig/honeycomb.pc")).unwrap();
    assert!(
        pc.contains("libdir=/usr/local/lib") && pc.contains("Libs: -L${libdir} -lhoneycomb"),
        "{pc}"
    );

    make("uninstall", &[("DESTDIR", d)]);
    assert_eq!(tree(d), BTreeSet::new(), "left behind by make uninstall");
}

/// A 5800 application: stores an object, reads it back, compares.
const HC_PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
#include <hcclient.h>

static const char data[] = "stored through -lhoneycomb";
static size_t pos;
static char back[64];
static size_t got;

static long reader(void *stream, char *buf, long n)
{
    size_t left = sizeof data - 1 - pos;
    (void)stream;
    if ((size_t)n > left) n = (long)left;
    memcpy(buf, data + pos, (size_t)n);
    pos += (size_t)n;
    return n;
}

static long writer(void *stream, char *buf, long n)
{
    (void)stream;
    if (got + (size_t)n > sizeof back) return -1;
    memcpy(back + got, buf, (size_t)n);
    got += (size_t)n;
    return n;
}

int main(int argc, char **argv)
{
    hc_session_t *s = NULL;
    hc_system_record_t rec;
    hcerr_t e;
    if (argc != 2) return 2;
    if ((e = hc_session_create_ez(argv[1], 8080, &s)) != HCERR_OK) {
        printf("create: %s\n", hc_decode_hcerr(e));
        return 1;
    }
    if ((e = hc_store_both_ez(s, reader, NULL, NULL, &rec)) != HCERR_OK) {
        printf("store: %s\n", hc_decode_hcerr(e));
        return 1;
    }
    if ((e = hc_retrieve_ez(s, writer, NULL, &rec.oid)) != HCERR_OK) {
        printf("retrieve: %s\n", hc_decode_hcerr(e));
        return 1;
    }
    hc_session_free(s);
    if (got != sizeof data - 1 || memcmp(back, data, got) != 0) return 1;
    printf("OK %s %ld\n", rec.oid, (long)rec.size);
    return 0;
}
"#;

/// `sh -c script` in `dir` with the installed tree's pkg-config files
/// first; its stdout.
fn sh(what: &str, dir: &Path, prefix: &Path, script: &str) -> String {
    check(
        what,
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap(),
    )
}

/// The README's "Using the plugin from C" section: its C block and its
/// build line (the indented line starting with `cc `).
fn readme_example() -> (String, String) {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme
        .find("\n## Using the plugin from C")
        .expect("README section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let code = section
        .split("```c\n")
        .nth(1)
        .and_then(|r| r.split("```\n").next())
        .expect("a ```c block")
        .to_string();
    let line = section
        .lines()
        .find(|l| l.trim_start().starts_with("cc ") && l.starts_with("    "))
        .expect("an indented `cc ...` build line")
        .trim()
        .to_string();
    (code, line)
}

#[test]
fn installed_library_links_through_pkg_config_a_5800_program_and_the_readme_example() {
    let tmp = tempfile::TempDir::new().unwrap();
    let prefix = tmp.path().join("prefix");
    make(
        "install",
        &[("PREFIX", &prefix), ("PLUGINDIR", &tmp.path().join("plugins"))],
    );
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let lib = prefix.join("lib");

    // a 5800 application, strict C99, linked with -lhoneycomb via pkg-config
    std::fs::write(work.join("hcapp.c"), HC_PROGRAM).unwrap();
    sh(
        "build the 5800 program",
        &work,
        &prefix,
        "cc -std=c99 -Wall -Wextra -Werror -pedantic -o hcapp hcapp.c $(pkg-config --cflags --libs honeycomb)",
    );
    let needed = readelf(&["-d"], &work.join("hcapp"));
    assert!(needed.contains("Shared library: [libhoneycomb.so.1]"), "{needed}");
    let srv = tmp.path().join("srv");
    check(
        "installed combstore init",
        Command::new(prefix.join("bin/combstore"))
            .arg("init")
            .arg(&srv)
            .output()
            .unwrap(),
    );
    let out = check(
        "run the 5800 program",
        Command::new(work.join("hcapp"))
            .arg(&srv)
            .env("LD_LIBRARY_PATH", &lib)
            .output()
            .unwrap(),
    );
    assert!(out.starts_with("OK ") && out.trim_end().ends_with(" 26"), "{out}");
    // it loaded the installed library, not another one
    let maps = check(
        "ldd",
        Command::new("ldd")
            .arg(work.join("hcapp"))
            .env("LD_LIBRARY_PATH", &lib)
            .output()
            .unwrap(),
    );
    assert!(
        maps.contains(&format!(
            "libhoneycomb.so.1 => {}/libhoneycomb.so.1",
            lib.display()
        )),
        "{maps}"
    );

    // the README example: the README's code is docs/examples/backup.c, and
    // the README's build line builds it
    let (code, line) = readme_example();
    let file = std::fs::read_to_string(Path::new(ROOT).join("docs/examples/backup.c")).unwrap();
    assert_eq!(
        code, file,
        "README's C example differs from docs/examples/backup.c"
    );
    std::fs::write(work.join("backup.c"), &code).unwrap();
    sh("the README's build line", &work, &prefix, &line);
    sh(
        "the README example, strictly",
        &work,
        &prefix,
        "cc -std=c99 -Wall -Wextra -Werror -pedantic -o backup-strict backup.c $(pkg-config --cflags --libs combstore)",
    );
    let bsrv = tmp.path().join("backup-srv");
    let out = check(
        "run the README example",
        Command::new(work.join("backup"))
            .arg(&bsrv)
            .env("LD_LIBRARY_PATH", &lib)
            .output()
            .unwrap(),
    );
    assert!(
        out.contains("wrote, read back and deleted 1048576 bytes"),
        "{out}"
    );
    assert!(bsrv.join("combstore.log").exists() || bsrv.is_dir());
}

#[test]
fn the_shipped_plugin_and_cli_carry_no_fuzzing_code() {
    let cli = PathBuf::from(CLI);
    for f in [plugin_path(), cli] {
        let bytes = std::fs::read(&f).unwrap();
        // mangled (symbols) and demangled (debug info) paths of the module
        for needle in [
            &b"combstore7fuzzing"[..],
            b"combstore::fuzzing",
            b"fuzz_translate",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} contains {}",
                f.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}
