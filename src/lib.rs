//! combstore: an OpenStorage (stsp_*) plugin over an embedded engine of
//! append-only segment files and a SQLite catalog.
//!
//! Layers, each depending only on those below it:
//! - [`ffi`] (private): the C boundary, `extern "C"` exports only;
//! - [`engine`]: the safe Rust API (servers, LSUs, images);
//! - `catalog`: every SQL statement (rusqlite);
//! - `store`: segment files, read maps, owner locks.
//!
//! docs/architecture.md and docs/format.md describe the design and the
//! on-disk format.

pub mod archive;
pub mod catalog;
pub mod chunking;
pub mod engine;
mod ffi;
pub mod hex;
// The fuzz targets' bodies: for fuzz/ (feature "fuzzing") and unit tests,
// never in the shipped library.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod logging;
pub mod store;

pub use ffi::hcsys;
pub use ffi::status;
pub use ffi::sys;
