//! Ownership of what the hc_* API returns (issue 14, item 5): each of the
//! 74 declarations of include/hc.h and include/hcclient.h (72 functions,
//! 2 callback types) says who owns what it returns, every declared
//! function is exported, and a C program
//! (ffi-tests/c/hc_ownership.c, linked with -lhoneycomb) checks the
//! documented ownership with a counting allocator.

use crate::common::plugin_path;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// (function name, its preceding comment) for every function declaration.
fn declarations(header: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("include").join(header)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("HONEYCOMB_EXTERN ") {
            continue;
        }
        // a function, or a callback type: "typedef long (*name)(...)"
        let name = match line.split_once("(*") {
            Some((_, rest)) if line.contains("typedef") => rest.split(')').next().unwrap(),
            _ => line.split('(').next().unwrap().rsplit([' ', '*']).next().unwrap(),
        }
        .to_string();
        let mut comment = Vec::new();
        let mut j = i;
        if j > 0 && lines[j - 1].trim_end().ends_with("*/") {
            while j > 0 {
                j -= 1;
                comment.push(lines[j]);
                if lines[j].trim_start().starts_with("/*") {
                    break;
                }
            }
        }
        comment.reverse();
        out.push((name, comment.join("\n")));
    }
    out
}

#[test]
fn every_hc_declaration_documents_ownership_and_is_exported() {
    let mut all = Vec::new();
    for h in ["hc.h", "hcclient.h"] {
        all.extend(declarations(h));
    }
    assert_eq!(
        all.len(),
        74,
        "declarations: {:?}",
        all.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    let undocumented: Vec<&String> = all
        .iter()
        .filter(|(_, c)| !c.contains("Ownership:"))
        .map(|(n, _)| n)
        .collect();
    assert!(
        undocumented.is_empty(),
        "no \"Ownership:\" in the comment of {undocumented:?}"
    );
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(plugin_path())
        .output()
        .expect("nm (binutils) is required: make deps");
    let exported: BTreeSet<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect();
    let missing: Vec<&String> = all
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !n.contains("_data_") && !exported.contains(*n))
        .collect();
    assert!(missing.is_empty(), "declared but not exported: {missing:?}");
}

#[test]
fn documented_ownership_holds_under_a_counting_allocator() {
    let tmp = tempfile::TempDir::new().unwrap();
    let d = tmp.path();
    // link as an application does: -lhoneycomb, loading the SONAME
    for link in ["libhoneycomb.so", "libhoneycomb.so.1"] {
        std::os::unix::fs::symlink(plugin_path(), d.join(link)).unwrap();
    }
    let exe = d.join("hc_ownership");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{ROOT}/include"))
        .arg(format!("{ROOT}/ffi-tests/c/hc_ownership.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", d.display()))
        .arg("-lhoneycomb")
        .arg(format!("-Wl,-rpath,{}", d.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let srv = d.join("srv");
    let init = Command::new(env!("CARGO_BIN_EXE_combstore"))
        .arg("init")
        .arg(&srv)
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let run = Command::new(&exe).arg(&srv).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("ownership OK"),
        "{:?}\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
}
