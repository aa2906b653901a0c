//! Making a server directory a pool (issue 16): the pool file that
//! `combstore init --pool` writes before the pool's first open, checked
//! first (store::s3::config has its names and rules).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use super::error::{Error, Result};
use crate::store::s3::{POOL_FILE, config};

/// Makes `dir`, a server not created yet, a pool on the object store
/// `text` names (`NAME=value` lines; the key may be left to the
/// environment, which is checked too). A server that already has the
/// same pool file is left as it is.
///
/// # Errors
/// [`Error::Invalid`] for a malformed file or a missing key;
/// [`Error::Exists`] for a server with another pool file, or with its
/// chunks in segment files (a pool is a new server); I/O errors.
pub fn write_pool_file(dir: &Path, text: &str) -> Result<()> {
    let vars = config::parse(text).map_err(Error::Invalid)?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    config::S3Config::from_vars(&vars, env).map_err(Error::Invalid)?;
    let dest = dir.join(POOL_FILE);
    if dir.join(super::server::CATALOG_FILE).exists() {
        return match fs::read_to_string(&dest) {
            Ok(old) if old == text => Ok(()),
            Ok(_) => Err(Error::Exists(format!(
                "{} already has another pool file",
                dir.display()
            ))),
            Err(_) => Err(Error::Exists(format!(
                "{} is a server with its chunks on local disk; a pool is a new server",
                dir.display()
            ))),
        };
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir.display().to_string(), e))?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&dest)
        .map_err(|e| Error::io(dest.display().to_string(), e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(dest.display().to_string(), e))
}
