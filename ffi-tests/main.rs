//! FFI integration tests: load the built cdylib (target/<profile>/libcombstore.so
//! or $COMBSTORE_PLUGIN) with libloading and call the stsp_* entry points as
//! a C host would, checking every rule of include/stspi.h and include/stsi.h.

#[macro_use]
pub mod common;
mod roles;

mod abnormal;
mod bad_input;
mod concurrency;
mod corruption;
mod crashpoints;
mod dedup;
mod diskfull;
mod dup;
mod events;
mod hc;
mod hc_ownership;
mod hc_query;
mod headers;
mod hostile;
mod images;
mod install;
mod integrity;
mod layout;
mod lifecycle;
mod listing;
mod logging;
mod lsu;
mod metadata;
mod pool;
mod server;
mod torture;

/// Host of the child-process roles (roles.rs). In a child started by
/// `common::child::spawn_role` it runs the requested role; run normally it
/// proves the mechanism works: a child started with the "echo" role must
/// answer with its arguments and exit successfully.
#[test]
fn role_host() {
    if let Some((role, args)) = common::child::role_args() {
        roles::run(&role, &args);
        return;
    }
    let mut p = common::child::spawn_role("echo", &["hello", "world"]);
    let got = p.expect("ECHO", std::time::Duration::from_secs(60));
    assert_eq!(got, "hello world");
    p.wait_success(std::time::Duration::from_secs(60));
}
