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

    // The 5800 ("Honeycomb") client API: include/hcclient.h (and hc.h).
    for f in [
        "include/hc.h",
        "include/hcclient.h",
        "include/hchost.h",
        "src/ffi/hc/variadic.c",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let hc = bindgen::Builder::default()
        .header(include.join("hcclient.h").to_string_lossy())
        .clang_arg(format!("-I{}", include.display()))
        .allowlist_function("hc_.*")
        .allowlist_function("hcoa_get_platform_name")
        .allowlist_type("hc_.*")
        .allowlist_type("hcerr_t")
        .allowlist_type("read_from_data_source")
        .allowlist_type("write_to_data_destination")
        .allowlist_type("(de|re)?allocator_t")
        .allowlist_var("HC.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(true)
        .generate_comments(false)
        .generate()
        .expect("bindgen could not parse include/hcclient.h");
    hc.write_to_file(out.join("hc_sys.rs"))
        .expect("write bindgen output");

    // Variadic entry points (hc_printf, hc_set_global_parameter) cannot be
    // defined in stable Rust: a small C file forwards them to Rust.
    cc::Build::new()
        .file(root.join("src/ffi/hc/variadic.c"))
        .include(&include)
        .warnings(true)
        .compile("combstore_hc_variadic");
    // rustc's version script exports only Rust symbols; a second one
    // (merged by the linker) exports the C-defined entry points, and
    // --undefined pulls them out of the static library.
    let script = out.join("hc_variadic.map");
    std::fs::write(&script, "{ global: hc_printf; hc_set_global_parameter; };\n")
        .expect("write version script");
    for sym in ["hc_printf", "hc_set_global_parameter"] {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--undefined={sym}");
    }
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        script.display()
    );

    // The library is installed as $(LIBDIR)/libhoneycomb.so.1.x.y (Makefile,
    // `make install`; the same file is the plugin): programs linked with
    // -lhoneycomb (pkg-config honeycomb or combstore) record this name and
    // load it through the libhoneycomb.so.1 link. The major number changes
    // only when the C ABI breaks; `make install` checks its HC_SOVERSION.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhoneycomb.so.1");
}
