//! Every public header (include/*.h, platforms/linux/stsplat.h) compiles on
//! its own, all together, and after system headers, as C89, C99, C11 and
//! C++ with -Wall -Wextra -Werror -pedantic, and the 5800 structures keep
//! their ABI sizes in every mode (issue 14, item 4).

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

const HEADERS: &[&str] = &["stsplat.h", "stsi.h", "stspi.h", "hchost.h", "hc.h", "hcclient.h"];
const C_STDS: &[&str] = &["c89", "c99", "c11", "c17", "gnu89", "gnu99"];
const CXX_STDS: &[&str] = &["c++98", "c++11", "c++17"];

/// The ABI every mode must see: hc_value_t 64 bytes with its union at 8,
/// hc_system_record_t 152 bytes (x86_64), checked by the compiler itself
/// (a negative array size fails; C89-compatible, no static_assert).
const HC_ABI_CHECKS: &str = "
typedef char hc_value_size_is_64[sizeof(hc_value_t) == 64 ? 1 : -1];
typedef char hc_value_union_at_8[offsetof(hc_value_t, hcv) == 8 ? 1 : -1];
typedef char hc_timespec_is_16[sizeof(struct timespec) == 16 ? 1 : -1];
typedef char hc_system_record_is_152[sizeof(hc_system_record_t) == 152 ? 1 : -1];
";

/// One translation unit: `prelude` (system headers first, or nothing),
/// the given public headers, and a body.
fn unit(prelude: &[&str], headers: &[&str], body: &str) -> String {
    let mut s = String::new();
    for p in prelude {
        s.push_str(&format!("#include <{p}>\n"));
    }
    for h in headers {
        s.push_str(&format!("#include <{h}>\n"));
    }
    s.push_str(body);
    s.push_str("\nint main(void) { return 0; }\n");
    s
}

/// Compiles `src` (as C or C++ per `std`) with the strict flags; the
/// compiler's complaint, if any.
fn compile(dir: &Path, name: &str, src: &str, std: &str) -> Result<(), String> {
    let cxx = std.contains("++");
    let path = dir.join(format!("{name}.{}", if cxx { "cc" } else { "c" }));
    std::fs::write(&path, src).unwrap();
    let compiler = if cxx {
        std::env::var("CXX").unwrap_or_else(|_| "c++".into())
    } else {
        std::env::var("CC").unwrap_or_else(|_| "cc".into())
    };
    let root = PathBuf::from(ROOT);
    let out = Command::new(&compiler)
        .arg(format!("-std={std}"))
        .args([
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            "-DSTS_EXTERNAL_VENDOR",
        ])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(format!("-I{}", root.join("platforms/linux").display()))
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {compiler}: {e} (a C and C++ compiler are required: make deps)")
        });
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{compiler} -std={std} {name}:\n{src}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn all_modes(cases: &[(String, String)]) {
    let dir = tempfile::TempDir::new().unwrap();
    let mut failures = Vec::new();
    for std in C_STDS.iter().chain(CXX_STDS) {
        for (name, src) in cases {
            if let Err(e) = compile(dir.path(), name, src, std) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} compilations failed:\n{}",
        failures.len(),
        cases.len() * (C_STDS.len() + CXX_STDS.len()),
        failures.join("\n")
    );
}

#[test]
fn every_public_header_compiles_alone_in_every_mode() {
    let cases: Vec<(String, String)> = HEADERS
        .iter()
        .map(|h| (h.replace('.', "_"), unit(&[], &[h], "")))
        .collect();
    all_modes(&cases);
}

#[test]
fn all_public_headers_compile_together_and_after_system_headers() {
    let all: Vec<&str> = HEADERS.to_vec();
    let rev: Vec<&str> = HEADERS.iter().rev().copied().collect();
    let sys = ["stdio.h", "stdlib.h", "string.h", "time.h", "stddef.h"];
    let cases = vec![
        ("all".to_string(), unit(&[], &all, "")),
        ("all_reversed".to_string(), unit(&[], &rev, "")),
        // A system header first fixes glibc's feature level before ours
        // are seen: hc_value_t's struct timespec must still be complete.
        (
            "after_system_headers".to_string(),
            unit(&sys, &["hcclient.h", "stspi.h"], ""),
        ),
        (
            "hc_abi".to_string(),
            unit(&["stddef.h"], &["hcclient.h"], HC_ABI_CHECKS),
        ),
        (
            "hc_abi_after_stdio".to_string(),
            unit(&["stdio.h", "stddef.h"], &["hcclient.h"], HC_ABI_CHECKS),
        ),
    ];
    all_modes(&cases);
}
