//! LSUs as the catalog holds them: their names, creation and properties.
//! Free functions over [`Shared`], which the server's methods and the
//! modules built on them (operations, archive objects, audits) call.

use std::path::Path;

use super::clock::now_ms;
use super::error::Result;
use super::names;
use super::shared::Shared;
use super::space::fs_space;
use crate::catalog;
use crate::log_info;

/// LSU properties.
#[derive(Clone, Debug)]
pub struct LsuInfo {
    pub name: String,
    pub label: String,
    /// Space of deleted images is punched at delete (`false`) or left
    /// queued for `reclaim` or the next open (`true`).
    pub deferred_reclaim: bool,
    pub capacity: u64,
    pub used: u64,
    pub used_phys: u64,
    pub images: u64,
    /// Free space threshold (percent of the filesystem) below which the
    /// LSU raises a low-space event.
    pub low_space_pct: u64,
}

/// Names of all LSUs, internal ones included, in order.
pub(crate) fn all_names(sh: &Shared) -> Result<Vec<String>> {
    Ok(catalog::lsus(&sh.catalog.lock())?
        .into_iter()
        .map(|l| l.name)
        .collect())
}

/// Creates an LSU; names starting with '.' (internal LSUs) included.
pub(crate) fn create(sh: &Shared, name: &str) -> Result<()> {
    names::check_lsu(name)?;
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    catalog::create_lsu(&tx, name, now_ms())?;
    tx.commit()?;
    log_info!(sh.log, "created LSU {name}");
    Ok(())
}

/// Properties of an LSU (see [`LsuInfo`]).
pub(crate) fn info(sh: &Shared, name: &str) -> Result<LsuInfo> {
    names::check_lsu(name)?;
    let row = catalog::lsu(&sh.catalog.lock(), name)?;
    let capacity = if row.capacity > 0 {
        row.capacity
    } else if sh.store.on_server_filesystem() {
        fs_capacity(&sh.dir)?
    } else {
        // A pool without a quota: no capacity to ask an object store for
        // (it answers "full" itself, STS_ENOSPC); the largest storable.
        POOL_CAPACITY
    };
    Ok(LsuInfo {
        deferred_reclaim: row.reclaim == "deferred",
        name: row.name,
        label: row.label,
        capacity,
        used: row.used,
        used_phys: row.used_phys,
        images: row.images,
        low_space_pct: row.low_space_pct,
    })
}

/// The capacity an LSU of a pool reports when it has no quota.
pub const POOL_CAPACITY: u64 = i64::MAX as u64;

fn fs_capacity(dir: &Path) -> Result<u64> {
    Ok(fs_space(dir)?.0)
}
