//! A storage server: one directory holding the catalog, the segment files
//! and the owner locks, shared by every process that opens it.
//!
//! ```text
//! <dir>/catalog.db (+ -wal, -shm)   SQLite catalog
//! <dir>/segments/<id:016x>.seg      append-only segment files
//! <dir>/locks/<token>.lock          one per live server instance (flock)
//! <dir>/combstore.log               the plugin's log
//! ```

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::archive::{self, StoredObject};
use super::audit::{self, CheckReport, Reduction, Space, VerifyReport};
use super::clock::now_ms;
use super::cred::{self, Access, Credentials};
use super::error::{Error, Result};
use super::events::{self, Event, Outcome};
use super::image::{ImageInfo, ImageReader, ImageWriter};
use super::images;
pub use super::images::CANCEL_STEP;
use super::lsus;
pub use super::lsus::LsuInfo;
use super::names::{self, ImageName};
use super::ops;
use super::shared::Shared;
use crate::archive::SqlValue;
use crate::catalog::checkpoint::Checkpointer;
use crate::catalog::{self, ImageState};
use crate::logging::{Level, ServerLog};
use crate::store::ChunkStore;
use crate::store::liveness::Liveness;
use crate::store::lock::{self, LocalOwners, SetupLock};
use crate::store::s3;
use crate::store::segment::HEADER_LEN;
use crate::{log_info, log_warn};

pub(crate) const CATALOG_FILE: &str = "catalog.db";

/// An open server. Cheap to clone; all clones share one catalog
/// connection, one owner lock and one map cache.
#[derive(Clone, Debug)]
pub struct Server {
    pub(crate) shared: Arc<Shared>,
}

impl Server {
    /// Opens the server in `dir`, creating it if `dir` does not exist (its
    /// parent must), is empty, or holds only what a first open that died
    /// half-way left, then recovers what dead processes left. Any number
    /// of processes and threads may open (and so create) one server at
    /// once.
    ///
    /// # Errors
    /// [`Error::NoServer`] for a relative path, a missing parent or a
    /// foreign directory; I/O and catalog errors.
    pub fn open(dir: &Path) -> Result<Server> {
        Server::open_as(dir, &Access::Owner)
    }

    /// As [`Server::open`] for `access`: a client is admitted only if the
    /// server's credentials allow it (checked before recovery runs and
    /// before any lock is taken).
    ///
    /// # Errors
    /// [`Error::Auth`]; as [`Server::open`].
    pub fn open_as(dir: &Path, access: &Access<'_>) -> Result<Server> {
        let server = Server::open_unrecovered(dir, access, true)
            .and_then(|server| server.recover().map(|()| server))
            .inspect_err(|e| log_open_failure(dir, e))?;
        Ok(server)
    }

    /// Opens an existing server for inspection without running recovery,
    /// so that nothing in it changes (the administrator's read-only
    /// commands). Dead writers' images stay as they were found.
    ///
    /// # Errors
    /// As [`Server::open_existing`].
    pub fn inspect(dir: &Path) -> Result<Server> {
        Server::check_existing(dir)?;
        Server::open_unrecovered(dir, &Access::Owner, false).inspect_err(|e| log_open_failure(dir, e))
    }

    /// Opens the catalog and takes an owner lock; `checkpoints` starts the
    /// background checkpointer (catalog::checkpoint).
    fn open_unrecovered(dir: &Path, access: &Access<'_>, checkpoints: bool) -> Result<Server> {
        if !dir.is_absolute() {
            return Err(Error::NoServer(format!(
                "{} is not an absolute path",
                dir.display()
            )));
        }
        check_real_len(dir)?;
        ensure_dir(dir)?;
        // The directory's setup and the catalog's creation happen under the
        // setup lock (store::lock::SetupLock): safe under any concurrency.
        let setup = SetupLock::acquire(dir, catalog::BUSY_TIMEOUT)
            .map_err(|e| Error::io(dir.display().to_string(), e))?
            .ok_or(Error::Timeout)?;
        check_ours(dir)?;
        let seg_dir = dir.join("segments");
        let lock_dir = dir.join("locks");
        for d in [&seg_dir, &lock_dir] {
            make_private_dir(d)?;
        }
        let log = ServerLog::open(dir);
        let catalog_path = dir.join(CATALOG_FILE);
        // A pool shared by several hosts names its catalog in PostgreSQL
        // (engine::pool); any other server's is the SQLite file here.
        let shared_catalog = super::pool::catalog_target(dir)?;
        let conn = match &shared_catalog {
            Some(target) => catalog::open_postgres(target.clone(), now_ms(), &crate::store::random_hex128())?,
            None => catalog::open_upgrading(
                &catalog_path,
                now_ms(),
                &crate::store::random_hex128(),
                |elsewhere| refuse_upgrade_under_others(dir, &lock_dir, elsewhere),
            )?,
        };
        drop(setup);
        cred::authorize(&conn, access, &log)?;
        let uuid = catalog::server_value(&conn, "uuid")?.unwrap_or_default();
        let owner: Box<dyn Liveness> = match &shared_catalog {
            // Liveness across hosts: advisory locks, this instance's own
            // held on the connection its commits go through (the fence).
            Some(target) => {
                let owners = catalog::PgOwners::start(target.clone())?;
                catalog::fence(&conn, owners.token())?;
                Box::new(owners)
            }
            None => Box::new(LocalOwners::acquire(&lock_dir).map_err(|e| Error::io("owner lock", e))?),
        };
        let checkpointer = if checkpoints && shared_catalog.is_none() {
            Some(Checkpointer::start(&catalog_path, log.clone())?)
        } else {
            None
        };
        let store = chunk_store_for(dir, &seg_dir, &uuid, &log)?;
        // Writers' chunk lookups go through a session of their own where
        // the catalog is in PostgreSQL (engine::finder), the tests'
        // catalogs there (catalog::test_pg) too.
        #[cfg(test)]
        let lookups_at = shared_catalog.or_else(|| catalog::test_pg::target(&catalog_path));
        #[cfg(not(test))]
        let lookups_at = shared_catalog;
        let finder = lookups_at.map(super::finder::Finder::start).transpose()?;
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            store,
            uuid,
            _checkpointer: checkpointer,
            catalog: Mutex::new(conn),
            finder,
            owner,
            idle: Mutex::new(Vec::new()),
            room: Default::default(),
            log,
        });
        let server = Server { shared };
        // The administrator's read-only commands open for inspection:
        // they would otherwise fill the log with opens.
        let level = if checkpoints { Level::Info } else { Level::Debug };
        let sh = &server.shared;
        crate::log_at!(
            sh.log,
            level,
            "opened server {} as owner {}",
            dir.display(),
            sh.owner.token()
        );
        Ok(server)
    }

    /// Opens an existing server; never creates one.
    ///
    /// # Errors
    /// [`Error::NoServer`] if `dir` holds no catalog; as [`Server::open`].
    pub fn open_existing(dir: &Path) -> Result<Server> {
        Server::open_existing_as(dir, &Access::Owner)
    }

    /// As [`Server::open_existing`] for `access` (see [`Server::open_as`]).
    ///
    /// # Errors
    /// [`Error::Auth`]; as [`Server::open_existing`].
    pub fn open_existing_as(dir: &Path, access: &Access<'_>) -> Result<Server> {
        Server::check_existing(dir)?;
        Server::open_as(dir, access)
    }

    /// Refuses a directory that is not a server (yet), saying why.
    ///
    /// # Errors
    /// [`Error::NoServer`] for a relative path, a missing directory or
    /// one without a catalog; [`Error::Io`] if it cannot be read
    /// (permission denied).
    fn check_existing(dir: &Path) -> Result<()> {
        let shown = dir.display();
        if !dir.is_absolute() {
            return Err(Error::NoServer(format!("{shown} is not an absolute path")));
        }
        if super::pool::catalog_target(dir)?.is_some() {
            return Ok(()); // a pool whose catalog is in PostgreSQL
        }
        let catalog = dir.join(CATALOG_FILE);
        match fs::metadata(&catalog) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(Error::NoServer(format!("{shown} holds no combstore catalog"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
                match fs::metadata(dir) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(Error::NoServer(format!("{shown} does not exist")))
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                        Err(Error::NoServer(format!("{shown} is not a directory")))
                    }
                    Err(e) => Err(Error::io(shown.to_string(), e)),
                    Ok(m) if !m.is_dir() => Err(Error::NoServer(format!("{shown} is not a directory"))),
                    Ok(_) => Err(Error::NoServer(format!(
                        "{shown} is not a combstore server (yet): create it with `combstore init {shown}`"
                    ))),
                }
            }
            // Permission denied and the like: say so, not "no server".
            Err(e) => Err(Error::io(catalog.display().to_string(), e)),
        }
    }

    /// The server directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// This server's log (`<dir>/combstore.log`).
    pub fn log(&self) -> &ServerLog {
        &self.shared.log
    }

    /// Completes abnormally the images of dead writers, cuts the tails of
    /// their segments, and frees queued dead chunk ranges. Runs on open;
    /// safe to run at any time and from several processes at once.
    ///
    /// # Errors
    /// I/O and catalog errors.
    pub fn recover(&self) -> Result<()> {
        let sh = &self.shared;
        let tokens = catalog::owner_tokens(&sh.catalog.lock())?;
        for token in tokens.iter().filter(|t| t.as_str() != sh.owner.token()) {
            let Some(dead) = sh
                .owner
                .claim_if_dead(token)
                .map_err(|e| Error::io("owner lock", e))?
            else {
                continue;
            };
            let mut conn = sh.catalog.lock();
            let tx = catalog::write_txn(&mut conn)?;
            let mut freed = Vec::new();
            for (id, writer, temporary) in catalog::writing_images(&tx)? {
                if writer != *token {
                    continue;
                }
                if temporary {
                    log_warn!(
                        sh.log,
                        "image #{id}: copy interrupted by the death of {token}; deleting it"
                    );
                    let chunks = catalog::delete_image_rows(&tx, id)?;
                    freed.extend(catalog::release_orphans(&tx, &chunks)?);
                    continue;
                }
                let needs = catalog::segment_needs(&tx, id)?;
                let state = if stored_bytes_present(sh.store.as_ref(), &needs) {
                    ImageState::Aborted
                } else {
                    ImageState::Broken
                };
                log_warn!(
                    sh.log,
                    "image #{id}: writer {token} vanished; abnormal completion -> {state:?}"
                );
                catalog::set_state(&tx, id, state, None, now_ms())?;
            }
            for (seg, end) in catalog::owned_segments(&tx, token)? {
                if let Err(e) = sh.store.remove_partial(seg) {
                    log_warn!(sh.log, "partial segment file {seg} of dead owner {token}: {e}");
                }
                let epoch = catalog::next_writer_epoch(&tx, seg)?;
                if let Err(e) = sh.store.adopt(seg, end, epoch) {
                    log_warn!(sh.log, "segment {seg} of dead owner {token}: {e}");
                }
            }
            crate::store::crash::point("recover.after_cut");
            catalog::release_segments(&tx, token)?;
            catalog::record_dead_owner(&tx, token, now_ms())?;
            let failed_ops = ops::fail_ops_of(&tx, token, &sh.log)?;
            tx.commit()?;
            drop(conn);
            crate::store::crash::point("recover.after_commit");
            dead.forget();
            if failed_ops > 0 {
                events::notify();
            }
            sh.punch(&freed)?;
        }
        // Housekeeping: a catalog too damaged to sweep still opens (verify
        // and doctor report the damage).
        if let Err(e) = sh.sweep() {
            log_warn!(sh.log, "reclaiming released chunks: {e}");
        }
        let pending = catalog::queued_free_ranges(&sh.catalog.lock(), false)?;
        sh.punch(&pending)?;
        // Healing: archive records whose indexing failed become queryable.
        match self.heal_index() {
            Ok(0) => {}
            Ok(n) => log_info!(
                sh.log,
                "indexed {n} archive records left unindexed (store index exceptions resolved)"
            ),
            Err(e) => log_warn!(sh.log, "healing the archive index: {e}"),
        }
        Ok(())
    }

    /// Names of all LSUs, in order.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn lsu_names(&self) -> Result<Vec<String>> {
        Ok(self
            .all_lsu_names()?
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect())
    }

    /// Names of all LSUs, the internal ones (names starting with '.', such
    /// as the archive's) included: for the administrator.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn all_lsu_names(&self) -> Result<Vec<String>> {
        lsus::all_names(&self.shared)
    }

    /// Creates an LSU (the administrator's configuration step).
    ///
    /// # Errors
    /// [`Error::Name`], [`Error::Invalid`] if it exists; catalog errors.
    pub fn create_lsu(&self, name: &str) -> Result<()> {
        if name.starts_with('.') {
            return Err(Error::Name(format!(
                "LSU names starting with '.' are reserved: {name}"
            )));
        }
        self.create_lsu_any(name)
    }

    pub(crate) fn create_lsu_any(&self, name: &str) -> Result<()> {
        lsus::create(&self.shared, name)
    }

    /// Sets an LSU's label (shown in its properties).
    ///
    /// # Errors
    /// [`Error::NoLsu`]; catalog errors.
    pub fn set_lsu_label(&self, name: &str, label: &str) -> Result<()> {
        names::check_lsu(name)?;
        names::check_label(label)?;
        let mut conn = self.shared.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let old = catalog::lsu(&tx, name)?.label;
        catalog::set_lsu_label(&tx, name, label)?;
        let row = catalog::events::EventRow {
            lsu: name.to_owned(),
            text: label.to_owned(),
            ..Default::default()
        };
        events::raise(&tx, events::EventKind::Label, row)?;
        tx.commit()?;
        drop(conn);
        log_info!(self.shared.log, "LSU {name}: label {old:?} -> {label:?}");
        events::notify();
        Ok(())
    }

    /// Removes an LSU. One that still holds images is refused unless
    /// `force`, which first deletes each image as `delete_image` does
    /// (images open for writing still refuse: [`Error::Busy`]). Returns
    /// the number of images deleted. The default LSU is never removed:
    /// every open of the server would create it again.
    ///
    /// # Errors
    /// [`Error::Invalid`] for the default LSU; [`Error::NotEmpty`];
    /// [`Error::Busy`]; [`Error::NoLsu`]; I/O and catalog errors.
    pub fn remove_lsu(&self, name: &str, force: bool) -> Result<u64> {
        names::check_lsu(name)?;
        if name == catalog::DEFAULT_LSU {
            return Err(Error::Invalid(format!(
                "LSU {name} cannot be removed: every server has it (opening the server creates it again)"
            )));
        }
        let mut deleted = 0;
        if force {
            loop {
                let page = self.list_images(name, None, 1000)?;
                if page.is_empty() {
                    break;
                }
                for image in &page {
                    self.delete_image(name, image)?;
                    deleted += 1;
                }
            }
        }
        let mut conn = self.shared.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        catalog::delete_lsu(&tx, name)?;
        tx.commit()?;
        drop(conn);
        log_info!(
            self.shared.log,
            "removed LSU {name} ({deleted} images deleted with it)"
        );
        Ok(deleted)
    }

    /// Runs space reclamation now: recovery (dead writers' tails cut,
    /// their temporary images deleted) and every queued free range
    /// punched. Returns the bytes the catalog stopped accounting for.
    ///
    /// # Errors
    /// I/O and catalog errors.
    pub fn reclaim(&self) -> Result<u64> {
        let queued: u64 = {
            let conn = self.shared.catalog.lock();
            catalog::pending_free_ranges(&conn)?
                .iter()
                .map(|r| crate::store::align_up(r.len))
                .sum()
        };
        let before = catalog::audit::accounted_bytes(&self.shared.catalog.lock())? + queued;
        self.recover()?;
        crate::store::crash::point("reclaim.after_recover");
        let all = catalog::pending_free_ranges(&self.shared.catalog.lock())?;
        self.shared.punch(&all)?;
        let after = catalog::audit::accounted_bytes(&self.shared.catalog.lock())?;
        let freed = before.saturating_sub(after);
        log_info!(self.shared.log, "reclaim: {freed} bytes freed");
        Ok(freed)
    }

    /// Sets whether space of deleted images is freed at delete
    /// (`deferred` false) or queued for [`Server::reclaim`] or the next
    /// open (true: deletes do no punching at all).
    ///
    /// # Errors
    /// [`Error::NoLsu`]; catalog errors.
    pub fn set_lsu_reclaim(&self, name: &str, deferred: bool) -> Result<()> {
        let mut conn = self.shared.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let old = catalog::lsu(&tx, name)?.reclaim;
        let new = if deferred { "deferred" } else { "immediate" };
        catalog::set_lsu_reclaim(&tx, name, new)?;
        tx.commit()?;
        log_info!(self.shared.log, "LSU {name}: reclaim {old} -> {new}");
        Ok(())
    }

    /// Bytes of an image shared with other images, and its own.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::NoImage`]; catalog errors.
    pub fn image_sharing(&self, lsu: &str, name: &ImageName) -> Result<(u64, u64)> {
        let conn = self.shared.catalog.lock();
        let lsu_row = catalog::lsu(&conn, lsu)?;
        let row = catalog::image_by_name(&conn, lsu_row.id, name)?
            .ok_or_else(|| Error::NoImage(name.to_string()))?;
        Ok(catalog::shared_and_own_bytes(&conn, row.id)?)
    }

    /// Sets an LSU's capacity quota in bytes (0 removes it: the capacity
    /// is then the filesystem's). Writers refuse chunks that would take
    /// the LSU's stored bytes past it (STS_ENOSPC); concurrent writers can
    /// overshoot it by at most one commit interval each.
    ///
    /// # Errors
    /// [`Error::NoLsu`]; catalog errors.
    pub fn set_lsu_capacity(&self, name: &str, capacity: u64) -> Result<()> {
        let mut conn = self.shared.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let old = catalog::lsu(&tx, name)?.capacity;
        catalog::set_lsu_capacity(&tx, name, capacity)?;
        tx.commit()?;
        let quota = |c: u64| {
            if c == 0 {
                "none".to_owned()
            } else {
                format!("{c} bytes")
            }
        };
        log_info!(
            self.shared.log,
            "LSU {name}: capacity quota {} -> {}",
            quota(old),
            quota(capacity)
        );
        Ok(())
    }

    /// Sets the free-space threshold (percent of the filesystem) below
    /// which the LSU raises a low-space event.
    ///
    /// # Errors
    /// [`Error::Invalid`] above 100; [`Error::NoLsu`]; catalog errors.
    pub fn set_low_space_pct(&self, name: &str, pct: u64) -> Result<()> {
        if pct > 100 {
            return Err(Error::Invalid(format!(
                "low-space threshold {pct}% is above 100%"
            )));
        }
        let mut conn = self.shared.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let (old, _, _) = catalog::events::low_space_state(&tx, catalog::lsu(&tx, name)?.id)?;
        catalog::events::set_low_space_pct(&tx, name, pct)?;
        tx.commit()?;
        log_info!(
            self.shared.log,
            "LSU {name}: low-space threshold {old}% -> {pct}%"
        );
        Ok(())
    }

    /// True if the image is open for writing by a live handle.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::NoImage`]; catalog errors.
    pub fn image_busy(&self, lsu: &str, name: &ImageName) -> Result<bool> {
        images::busy(&self.shared, lsu, name)
    }

    /// Properties of an LSU. Capacity is the filesystem's size unless a
    /// quota is configured.
    ///
    /// # Errors
    /// [`Error::NoLsu`]; I/O and catalog errors.
    pub fn lsu_info(&self, name: &str) -> Result<LsuInfo> {
        lsus::info(&self.shared, name)
    }

    /// Creates an image and opens it for writing.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::Exists`]; I/O and catalog errors.
    pub fn create_image(&self, lsu: &str, name: &ImageName) -> Result<ImageWriter> {
        images::create(&self.shared, lsu, name, false)
    }

    /// Reopens a pending image for writing (checkpoint/restart).
    ///
    /// # Errors
    /// [`Error::NoImage`], [`Error::Complete`], [`Error::Busy`],
    /// [`Error::Broken`]; catalog errors.
    pub fn reopen_image(&self, lsu: &str, name: &ImageName) -> Result<ImageWriter> {
        images::reopen(&self.shared, lsu, name)
    }

    /// Opens a complete image for reading.
    ///
    /// # Errors
    /// [`Error::NoImage`], [`Error::NotComplete`]; catalog errors.
    pub fn open_image(&self, lsu: &str, name: &ImageName) -> Result<ImageReader> {
        images::open(&self.shared, lsu, name)
    }

    /// Deletes an image; frees the stored bytes no other image refers to.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::NoImage`], [`Error::Busy`]; I/O and
    /// catalog errors. The image is intact after any error but a failure
    /// to punch freed space, which recovery retries.
    pub fn delete_image(&self, lsu: &str, name: &ImageName) -> Result<()> {
        images::delete(&self.shared, lsu, name)
    }

    /// Copies complete image `from_name` of `src` (another server or this
    /// one) to a new complete image `to_name` here, with the same size,
    /// SHA-1 and metadata. On one server the copy shares the source's
    /// extents in one transaction; otherwise bytes are streamed and the
    /// SHA-1 computed while copying must match. After an error the target
    /// does not exist.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::NoImage`], [`Error::NotComplete`],
    /// [`Error::Exists`], [`Error::Corrupt`]; I/O and catalog errors.
    pub fn copy_image(
        &self,
        to_lsu: &str,
        to_name: &ImageName,
        src: &Server,
        from_lsu: &str,
        from_name: &ImageName,
    ) -> Result<()> {
        self.copy_image_with(to_lsu, to_name, src, from_lsu, from_name, &|| false)
            .map(|_| ())
    }

    /// [`Server::copy_image`], checking `cancelled` before it starts and
    /// between every [`CANCEL_STEP`] bytes streamed; a cancelled copy
    /// leaves no target and returns [`Error::Cancelled`]. Returns the
    /// bytes that moved: 0 on one server (extents are shared); between
    /// servers, the stored form of the chunks the target lacked (the
    /// target deduplicates: chunks it holds are not sent).
    ///
    /// # Errors
    /// As [`Server::copy_image`]; [`Error::Cancelled`].
    pub fn copy_image_with(
        &self,
        to_lsu: &str,
        to_name: &ImageName,
        src: &Server,
        from_lsu: &str,
        from_name: &ImageName,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<u64> {
        images::copy(
            &self.shared,
            to_lsu,
            to_name,
            &src.shared,
            from_lsu,
            from_name,
            cancelled,
        )
    }

    /// Properties of a named image, as committed.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::NoImage`]; catalog errors.
    pub fn image_info(&self, lsu: &str, name: &ImageName) -> Result<ImageInfo> {
        images::info(&self.shared, lsu, name)
    }

    /// Up to `limit` image names of an LSU after `after`, in key order.
    ///
    /// # Errors
    /// [`Error::NoLsu`]; catalog errors.
    pub fn list_images(&self, lsu: &str, after: Option<&ImageName>, limit: usize) -> Result<Vec<ImageName>> {
        images::list(&self.shared, lsu, after, limit)
    }
}

impl Server {
    /// Benchmarks only: records `n` chunk rows with random fingerprints
    /// (seeded by `seed`) in the chunk index, as if `n` distinct chunks
    /// were stored, so that ingest can be measured against an index of
    /// that size. The rows name one byte each of a sealed segment that
    /// has no file, are referenced by nothing and are charged to LSU
    /// `lsu`; `check` reports them as leaked. Never for a server whose
    /// data matters. Returns the rows added.
    ///
    /// # Errors
    /// [`Error::NoLsu`]; catalog errors.
    pub fn prefill_chunk_index(&self, lsu: &str, n: u64, seed: u64) -> Result<u64> {
        const BATCH: u64 = 1 << 20;
        let sh = &self.shared;
        let (lsu_id, segment) = {
            let mut conn = sh.catalog.lock();
            let tx = catalog::write_txn(&mut conn)?;
            let lsu_id = catalog::lsu(&tx, lsu)?.id;
            let segment = catalog::new_segment(&tx, sh.owner.token(), HEADER_LEN, now_ms())?;
            catalog::advance_segment(&tx, segment, HEADER_LEN + n, true)?;
            catalog::release_segment(&tx, segment)?;
            tx.commit()?;
            (lsu_id, segment)
        };
        let mut x = seed | 1;
        let mut next = move || {
            // splitmix64
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut done = 0;
        while done < n {
            let k = (n - done).min(BATCH);
            let mut fps: Vec<[u8; 32]> = (0..k)
                .map(|_| {
                    let mut f = [0u8; 32];
                    for part in f.chunks_mut(8) {
                        part.copy_from_slice(&next().to_le_bytes());
                    }
                    f
                })
                .collect();
            fps.sort_unstable();
            let mut conn = sh.catalog.lock();
            let tx = catalog::write_txn(&mut conn)?;
            catalog::prefill_chunks(&tx, segment, HEADER_LEN + done, lsu_id, &fps)?;
            tx.commit()?;
            done += k;
        }
        Ok(done)
    }
}

impl Server {
    /// Checks a copy request as `copy_image` would, records it as a running
    /// operation, and starts it on the worker pool. Returns its id; its end
    /// is an `AsyncDone` event.
    ///
    /// # Errors
    /// The request's errors ([`Error::NoLsu`], [`Error::Exists`],
    /// [`Error::NoImage`], [`Error::NotComplete`], [`Error::Name`],
    /// [`Error::Exists`] for a running operation of that name).
    pub fn start_copy(
        &self,
        to_lsu: &str,
        to_name: &ImageName,
        src: &Server,
        from_lsu: &str,
        from_name: &ImageName,
        op_name: Option<&str>,
    ) -> Result<u64> {
        ops::start_copy(
            &self.shared,
            to_lsu,
            to_name,
            &src.shared,
            from_lsu,
            from_name,
            op_name,
        )
    }

    /// Checks a delete request, then deletes in the background; its end is
    /// a `DeleteDone` event.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::NoImage`], [`Error::Busy`]; catalog errors.
    pub fn start_delete(&self, lsu: &str, name: &ImageName) -> Result<u64> {
        ops::start_delete(&self.shared, lsu, name)
    }

    /// Waits up to `timeout` (None: forever) for the latest operation named
    /// `name` to finish; returns how it ended.
    ///
    /// # Errors
    /// [`Error::NoOp`]; [`Error::Running`] if still running after `timeout`;
    /// catalog errors.
    pub fn wait_op(&self, name: &str, timeout: Option<Duration>) -> Result<Outcome> {
        ops::wait_op(&self.shared, name, timeout, &|| self.recover())
    }

    /// Asks the running operation named `name` to stop.
    ///
    /// # Errors
    /// [`Error::NoOp`] if none of that name runs; catalog errors.
    pub fn cancel_op(&self, name: &str) -> Result<()> {
        ops::cancel_op(&self.shared, name)
    }
}

impl Server {
    /// Stores an object: data pulled from `read` (which fills the buffer
    /// and returns the bytes placed, 0 at the end) with user `fields`
    /// (already checked by [`archive::check_fields`]). Memory stays bounded.
    ///
    /// # Errors
    /// Errors of `read` (the store is then abandoned and leaves nothing);
    /// I/O and catalog errors.
    pub fn store_object(
        &self,
        read: &mut dyn FnMut(&mut [u8]) -> Result<usize>,
        fields: Vec<(String, SqlValue)>,
    ) -> Result<StoredObject> {
        archive::store_object(&self.shared, read, fields)
    }

    /// Creates a new record (new OID and ctime) for the data of `oid`,
    /// with new user fields; the old record is unchanged.
    ///
    /// # Errors
    /// [`Error::Invalid`] (not an OID), [`Error::NoImage`]; catalog errors.
    pub fn store_metadata(&self, oid: &str, fields: Vec<(String, SqlValue)>) -> Result<StoredObject> {
        archive::store_metadata(&self.shared, oid, fields)
    }

    /// The system record of an object.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NoImage`]; catalog errors.
    pub fn object_record(&self, oid: &str) -> Result<StoredObject> {
        archive::object_record(&self.shared, oid)
    }

    /// Streams bytes `first..=last` (None: to the end) of an object's data
    /// to `write`, one chunk of memory at a time, verified as read.
    ///
    /// # Errors
    /// [`Error::NoImage`]; [`Error::Corrupt`]; errors of `write`.
    pub fn retrieve_object(
        &self,
        oid: &str,
        first: u64,
        last: Option<u64>,
        write: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        archive::retrieve_object(&self.shared, oid, first, last, write)
    }

    /// Every field of a record (system and user), as stored.
    ///
    /// # Errors
    /// [`Error::NoImage`]; catalog errors.
    pub fn object_fields(&self, oid: &str) -> Result<Vec<(String, SqlValue)>> {
        archive::object_fields(&self.shared, oid)
    }

    /// Deletes a record; its data goes when no record names it any more.
    ///
    /// # Errors
    /// [`Error::NoImage`]; catalog errors.
    pub fn delete_object(&self, oid: &str) -> Result<()> {
        archive::delete_object(&self.shared, oid)
    }

    /// Makes a record queryable if it is not yet: -1 already indexed,
    /// 1 indexed by this call, 0 still not indexed.
    ///
    /// # Errors
    /// [`Error::NoImage`]; catalog errors.
    pub fn check_indexed(&self, oid: &str) -> Result<i32> {
        archive::check_indexed(&self.shared, oid)
    }

    /// Indexes every record still waiting (recovery's healing pass);
    /// returns how many were indexed.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn heal_index(&self) -> Result<usize> {
        archive::heal_index(&self.shared)
    }

    /// Time (ms) before which every store index exception is resolved:
    /// the ctime of the oldest unresolved one, or now if there is none.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn query_integrity_time(&self) -> Result<u64> {
        archive::query_integrity_time(&self.shared)
    }

    /// The SQL dialect of the server's catalog: what the query translator
    /// must emit for [`Server::run_object_query`]
    /// (`archive::query::translate_for`).
    pub fn catalog_dialect(&self) -> crate::catalog::Dialect {
        crate::catalog::dialect(&self.shared.catalog.lock())
    }

    /// Runs SQL built by the query translator with its parameters.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn run_object_query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>> {
        archive::run_object_query(&self.shared, sql, params)
    }

    /// The server's metadata schema, read from its schema file; a server
    /// without one gets the factory schema written there first.
    ///
    /// # Errors
    /// [`Error::Invalid`] with the schema error (line and problem) for a
    /// bad file; I/O errors.
    pub fn archive_schema(&self) -> Result<crate::archive::schema::Schema> {
        archive::archive_schema(&self.shared)
    }

    /// The port archive sessions must name (server setting `hc_port`).
    ///
    /// # Errors
    /// Catalog errors.
    pub fn archive_port(&self) -> Result<i32> {
        archive::archive_port(&self.shared)
    }

    /// Bulk prefill for the catalog-scale benchmarks (bench/suite): one
    /// complete, empty image per item, named `item.0` in `lsu`, with its
    /// archive record (system fields plus `item.1`, already checked by
    /// [`archive::check_fields`]) indexed. Items are committed in transactions of
    /// `batch`: the rows a create and close complete of each would leave,
    /// without their per-image syncs. Not for applications.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::Exists`]; catalog errors (the batches
    /// committed before stay).
    pub fn prefill_empty_images(
        &self,
        lsu: &str,
        items: impl IntoIterator<Item = (ImageName, Vec<(String, SqlValue)>)>,
        batch: usize,
    ) -> Result<u64> {
        archive::prefill_empty_images(&self.shared, lsu, items, batch)
    }
}

impl Server {
    /// [`Reduction`](audit::Reduction) of every LSU, by name, internal LSUs included. Reads
    /// every chunk row once.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn reduction(&self) -> Result<Vec<(String, Reduction)>> {
        audit::reduction(&self.shared)
    }

    /// Consistency of the catalog with itself and with the segment files:
    /// every extent names an existing chunk range, every chunk is referred
    /// to and lies inside its segment's committed bytes, nothing overlaps,
    /// LSU statistics equal the rows, segment files exist with valid
    /// headers and hold every chunk. Reads no image bytes; changes nothing.
    ///
    /// # Errors
    /// Catalog errors that prevent checking at all.
    pub fn check(&self) -> Result<CheckReport> {
        audit::check(&self.shared)
    }

    /// Space taken by the segment files against the catalog's accounting
    /// (see [`Space`](audit::Space)). Reads no image bytes; changes nothing.
    ///
    /// # Errors
    /// Catalog errors; I/O errors other than a missing segment file.
    pub fn space(&self) -> Result<Space> {
        audit::space(&self.shared)
    }

    /// Re-reads every stored byte of the images in scope (one LSU, one
    /// image, in `lsu` or in every LSU that holds it, or all), checking
    /// each chunk's checksum and each complete image's SHA-1; `progress`
    /// is told the bytes read so far. Changes no data; flags damaged chunks
    /// so new backups store them anew. The catalog also
    /// gets SQLite's integrity check: damage there is reported
    /// ([`VerifyReport::catalog`](audit::VerifyReport::catalog)) even when every image still reads back,
    /// since the server may no longer open.
    ///
    /// # Errors
    /// [`Error::NoLsu`], [`Error::NoImage`]; catalog errors (a catalog too
    /// damaged to list its images).
    pub fn verify(
        &self,
        lsu: Option<&str>,
        image: Option<&ImageName>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport> {
        audit::verify(&self.shared, lsu, image, progress)
    }
}

impl Server {
    /// Up to `limit` events after id `after`, oldest first.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        events::events_after(&self.shared.catalog.lock(), after, limit)
    }

    /// The first event after `after`, waiting up to `timeout` (None:
    /// forever) for one to be raised here or by another process.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn next_event(&self, after: u64, timeout: Option<Duration>) -> Result<Option<Event>> {
        events::next_event(&self.shared.catalog, after, timeout)
    }

    /// Acknowledges an event for the whole server.
    ///
    /// # Errors
    /// [`Error::NoEvent`]; catalog errors.
    pub fn delete_event(&self, id: u64) -> Result<()> {
        events::delete_event(&mut self.shared.catalog.lock(), id)
    }
}

impl Server {
    /// The user name clients must present, if the server has credentials.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn credentials_user(&self) -> Result<Option<String>> {
        cred::credentials_user(&self.shared)
    }

    /// Sets the credentials clients must present from now on (handles
    /// already open stay open); `None` removes them.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a user name or secret breaking the rules
    /// ([`cred::check_new`]); catalog errors.
    pub fn set_credentials(&self, cred: Option<Credentials<'_>>) -> Result<()> {
        cred::set_credentials(&self.shared, cred)
    }
}

fn stored_bytes_present(store: &dyn ChunkStore, needs: &[(i64, u64)]) -> bool {
    needs
        .iter()
        .all(|&(seg, end)| matches!(store.stat(seg), Ok(Some(s)) if s.len >= end))
}

/// The chunk store of the server in `dir`: a pool's object store if the
/// directory holds a pool file (store::s3::config), else segment files in
/// `seg_dir`, unless a test of the engine asked for memory
/// ([`super::test_store::use_memory`]).
///
/// # Errors
/// [`Error::Invalid`] for a malformed or world-readable pool file; an
/// object store that refuses the key or cannot be reached is
/// [`Error::Io`] naming it (nothing has been written to it).
fn chunk_store_for(dir: &Path, seg_dir: &Path, uuid: &str, log: &ServerLog) -> Result<Arc<dyn ChunkStore>> {
    #[cfg(test)]
    if let Some(store) = super::test_store::memory_for(seg_dir) {
        return Ok(store);
    }
    let pool_file = dir.join(s3::POOL_FILE);
    match s3::S3Config::of_server(dir) {
        Ok(Some(cfg)) => {
            if cfg.payload == s3::Payload::Crc64 && cfg.endpoint.starts_with("http://") {
                log_warn!(
                    log,
                    "{}: COMBSTORE_S3_PAYLOAD=crc64 over http: uploads are checked for damage, but nothing stops anyone in the path from changing them (use https, or signed)",
                    pool_file.display()
                );
            }
            let packs = s3::S3Packs::open(&cfg, uuid)
                .map_err(|e| Error::io(format!("the pool's object store ({})", cfg.endpoint), e))?
                .with_host_cache(dir, &cfg.endpoint, cfg.cache_bytes)
                .map_err(|e| Error::io(format!("{}'s cache folder", dir.display()), e))?;
            Ok(Arc::new(packs))
        }
        Ok(None) => Ok(Arc::new(crate::store::local::LocalSegments::new(seg_dir, uuid))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::io(pool_file.display().to_string(), e))
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Err(Error::Invalid(e.to_string()))
        }
        Err(e) => Err(Error::io(pool_file.display().to_string(), e)),
    }
}

/// A format 1 catalog is upgraded (catalog::open) only when no other
/// server instance has the server open: any that has is an older
/// combstore (a newer one would have upgraded it), which goes on writing
/// format 1 rows (chunks without `raw_len`, which format 2 reads as
/// damage), reading format 2 chunks as raw bytes (a compressed chunk's
/// first bytes pass their checksum), and freeing chunks outside the
/// release protocol. [`Error::InUse`] until they have closed. An open
/// one is seen by its live owner lock or, in the instant between its
/// dropping the setup lock and taking an owner lock, by its catalog
/// connection (`catalog_open_elsewhere`, catalog::open_elsewhere).
fn refuse_upgrade_under_others(dir: &Path, lock_dir: &Path, catalog_open_elsewhere: bool) -> Result<()> {
    let entries = fs::read_dir(lock_dir).map_err(|e| Error::io(lock_dir.display().to_string(), e))?;
    let mut alive = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(lock_dir.display().to_string(), e))?;
        let name = entry.file_name();
        let Some(token) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else {
            continue;
        };
        if lock::is_alive(lock_dir, token).map_err(|e| Error::io("owner lock", e))? {
            alive += 1;
        }
    }
    if alive == 0 && !catalog_open_elsewhere {
        return Ok(());
    }
    // A process that opened the catalog but has not taken its owner lock
    // yet (it dropped the setup lock an instant ago) counts as one.
    let alive = alive.max(1);
    Err(Error::InUse(format!(
        "server {} is open by {alive} process(es) of an older combstore (catalog format 1): \
         it is upgraded to format 2 by the first open after they close",
        dir.display()
    )))
}

fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.parent().unwrap_or(Path::new("/"));
            if !parent.is_dir() {
                return Err(Error::NoServer(format!(
                    "parent of {} does not exist",
                    dir.display()
                )));
            }
            make_private_dir(dir)
        }
        Err(e) => Err(Error::io(dir.display().to_string(), e)),
        Ok(m) if !m.is_dir() => Err(Error::NoServer(format!("{} is not a directory", dir.display()))),
        Ok(_) => Ok(()),
    }
}

/// What an open may leave in a server directory before its catalog
/// exists (a first open that died half-way): such a directory is still
/// ours to finish; anything else makes it foreign.
fn setup_leftover(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    // a pool file is written before the pool's first open (combstore init --pool)
    matches!(name.as_ref(), "segments" | "locks" | s3::POOL_FILE) || name.starts_with("combstore.log")
}

/// Refuses ([`Error::NoServer`]) a directory that holds no catalog and
/// something besides what a first open creates before its catalog.
/// Called under the setup lock, so no other open is half-way through.
fn check_ours(dir: &Path) -> Result<()> {
    // A pool whose catalog is in PostgreSQL has no catalog file here.
    if dir.join(CATALOG_FILE).exists() || super::pool::catalog_target(dir)?.is_some() {
        return Ok(());
    }
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
        if !setup_leftover(&entry.file_name()) {
            return Err(Error::NoServer(format!(
                "{} is not empty and holds no combstore catalog",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Refuses ([`Error::Name`]) a directory whose path, or real path with
/// symbolic links resolved (what SQLite opens), is longer than
/// [`names::MAX_SERVER_DIR`] bytes. A directory not created yet counts
/// with its parent's real path.
fn check_real_len(dir: &Path) -> Result<()> {
    let real = fs::canonicalize(dir).ok().or_else(|| {
        let parent = fs::canonicalize(dir.parent()?).ok()?;
        Some(parent.join(dir.file_name()?))
    });
    let len = real
        .as_deref()
        .unwrap_or(dir)
        .as_os_str()
        .len()
        .max(dir.as_os_str().len());
    if len > names::MAX_SERVER_DIR {
        return Err(Error::Name(format!(
            "{}: the server directory's path (symbolic links resolved) is longer than {} bytes",
            dir.display(),
            names::MAX_SERVER_DIR
        )));
    }
    Ok(())
}

fn make_private_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(Error::io(dir.display().to_string(), e))
        }
        _ => Ok(()),
    }
}

/// Records why an open of `dir` failed in `<dir>/combstore.log`, when
/// `dir` is a combstore server directory (it holds the catalog, or an open
/// began creating it); never in a foreign or missing directory.
fn log_open_failure(dir: &Path, e: &Error) {
    if dir.is_absolute() && (dir.join(CATALOG_FILE).is_file() || dir.join("locks").is_dir()) {
        crate::log_warn!(
            ServerLog::open(dir),
            "open of server {} failed: {e}",
            dir.display()
        );
    }
}
