//! Generates the Rust view of the C contract (include/stspi.h) with bindgen,
//! so the FFI layer uses exactly the C layouts and signatures: no struct is
//! mirrored by hand.

use std::env;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let include = root.join("include");
    let platform = root.join("platforms").join("linux");
    for f in ["include/stspi.h", "include/stsi.h", "platforms/linux/stsplat.h"] {
        println!("cargo:rerun-if-changed={f}");
    }

    let bindings = bindgen::Builder::default()
        .header(include.join("stspi.h").to_string_lossy())
        .clang_arg(format!("-I{}", include.display()))
        .clang_arg(format!("-I{}", platform.display()))
        .clang_arg("-DSTS_EXTERNAL_VENDOR")
        .allowlist_function("stsp_.*")
        .allowlist_type("sts_.*")
        .allowlist_var("STS_.*")
        .blocklist_type("sts_static_assert_.*")
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(true)
        .generate_comments(false)
        .generate()
        .expect("bindgen could not parse include/stspi.h (is libclang-dev installed? `make deps`)");

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("stspi_sys.rs"))
        .expect("write bindgen output");
}
