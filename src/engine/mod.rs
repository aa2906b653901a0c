//! The storage engine: plain Rust, no FFI types. The C boundary (`ffi`),
//! the administrator's tool and the tests all drive it through this API.

pub mod archive;
pub mod audit;
mod clock;
mod cores;
pub mod cred;
mod digest;
pub mod error;
pub mod events;
mod finder;
pub mod image;
mod images;
mod lsus;
pub mod names;
pub mod ops;
mod pipeline;
pub mod pool;
mod records;
mod reuse;
pub mod server;
mod shared;
mod space;
mod squeeze;

pub use crate::catalog::{DEFAULT_LSU, ImageState};
pub use audit::{CheckReport, Damaged, Finding, Reduction, Severity, VerifyReport};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventKind, Outcome};
pub use image::{BLOCK_SIZE, ImageInfo, ImageReader, ImageWriter, MAX_IO, MAX_META};
pub use names::ImageName;
pub use server::{LsuInfo, Server};

#[cfg(test)]
mod dedup_tests;
#[cfg(test)]
mod log_tests;
#[cfg(test)]
mod test_store;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upgrade_tests;
