//! Images as the catalog holds them: created, reopened, opened, deleted,
//! copied (extents shared on one server, bytes streamed between two),
//! listed and described. Free functions over [`Shared`]; the server's
//! methods of the same names call them, and so do the operations
//! ([`ops`](super::ops)), archive objects and audits built on images.

use std::sync::Arc;

use super::clock::now_ms;
use super::error::{Error, Result};
use super::image::{ImageInfo, ImageReader, ImageWriter, MAX_META};
use super::names::ImageName;
use super::records;
use super::shared::Shared;
use crate::catalog::{self, ImageState};
use crate::{log_info, log_warn};

/// A streamed copy checks for cancellation (and commits) this often.
pub const CANCEL_STEP: u64 = 16 << 20;

/// True if the image is open for writing by a live handle.
pub(crate) fn busy(sh: &Shared, lsu: &str, name: &ImageName) -> Result<bool> {
    let writer = {
        let conn = sh.catalog.lock();
        let lsu_row = catalog::lsu(&conn, lsu)?;
        catalog::image_by_name(&conn, lsu_row.id, name)?
            .ok_or_else(|| Error::NoImage(name.to_string()))?
            .writer
    };
    sh.writer_alive(writer.as_deref())
}

/// Creates an image and opens it for writing. A `temporary` one is for a
/// copy or archive store in progress: marked temporary in the creating
/// transaction, so a crash at any instant leaves nothing recovery does not
/// delete.
pub(crate) fn create(sh: &Arc<Shared>, lsu: &str, name: &ImageName, temporary: bool) -> Result<ImageWriter> {
    let mut conn = sh.catalog.lock();
    // No data is acknowledged yet: see catalog::commit_lazily.
    let (lsu_id, id) = catalog::commit_lazily(&mut conn, |tx| {
        let lsu_row = catalog::lsu(tx, lsu)?;
        let id = catalog::insert_image_as(tx, lsu_row.id, name, sh.owner.token(), now_ms(), temporary)?;
        Ok::<_, Error>((lsu_row.id, id))
    })?;
    drop(conn); // ImageWriter::new reads the catalog
    Ok(ImageWriter::new(Arc::clone(sh), id, lsu_id, 0))
}

/// Reopens a pending image for writing.
pub(crate) fn reopen(sh: &Arc<Shared>, lsu: &str, name: &ImageName) -> Result<ImageWriter> {
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    let lsu_row = catalog::lsu(&tx, lsu)?;
    let row =
        catalog::image_by_name(&tx, lsu_row.id, name)?.ok_or_else(|| Error::NoImage(name.to_string()))?;
    match row.state {
        ImageState::Complete => return Err(Error::Complete(name.to_string())),
        ImageState::Broken => return Err(Error::Broken(name.to_string())),
        ImageState::Writing if sh.writer_alive(row.writer.as_deref())? => {
            return Err(Error::Busy(name.to_string()));
        }
        // a dead writer's copy in progress is recovery's to delete
        _ if row.temporary => return Err(Error::NoImage(format!("{name} (an interrupted copy)"))),
        _ => {}
    }
    catalog::set_state(&tx, row.id, ImageState::Writing, Some(sh.owner.token()), now_ms())?;
    tx.commit()?;
    drop(conn); // ImageWriter::new reads the catalog
    Ok(ImageWriter::new(Arc::clone(sh), row.id, lsu_row.id, row.size))
}

/// Opens a complete image for reading.
pub(crate) fn open(sh: &Arc<Shared>, lsu: &str, name: &ImageName) -> Result<ImageReader> {
    let conn = sh.catalog.lock();
    let lsu_row = catalog::lsu(&conn, lsu)?;
    let row =
        catalog::image_by_name(&conn, lsu_row.id, name)?.ok_or_else(|| Error::NoImage(name.to_string()))?;
    if row.state != ImageState::Complete {
        return Err(Error::NotComplete(name.to_string()));
    }
    drop(conn);
    Ok(ImageReader::new(Arc::clone(sh), row.id, row.size))
}

/// Deletes an image; frees the stored bytes no other image refers to.
pub(crate) fn delete(sh: &Shared, lsu: &str, name: &ImageName) -> Result<()> {
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    let lsu_row = catalog::lsu(&tx, lsu)?;
    let row =
        catalog::image_by_name(&tx, lsu_row.id, name)?.ok_or_else(|| Error::NoImage(name.to_string()))?;
    if row.state == ImageState::Writing && sh.writer_alive(row.writer.as_deref())? {
        return Err(Error::Busy(name.to_string()));
    }
    let chunks = catalog::delete_image_rows(&tx, row.id)?;
    let freed = catalog::release_orphans(&tx, &chunks)?;
    tx.commit()?;
    drop(conn);
    crate::store::crash::point("delete.after_commit");
    log_info!(
        sh.log,
        "deleted image {name} from LSU {lsu}; {} ranges freed",
        freed.len()
    );
    if lsu_row.reclaim != "deferred" {
        sh.punch(&freed)?;
    } // else left queued in free_ranges for reclaim or the next open
    sh.sweep()
}

/// Copies complete image `from_name` of `src` (another server or this
/// one) to a new complete image `to_name` here, checking `cancelled`
/// between every [`CANCEL_STEP`] bytes streamed; returns the bytes that
/// moved. After an error the target does not exist.
pub(crate) fn copy(
    sh: &Arc<Shared>,
    to_lsu: &str,
    to_name: &ImageName,
    src: &Arc<Shared>,
    from_lsu: &str,
    from_name: &ImageName,
    cancelled: &dyn Fn() -> bool,
) -> Result<u64> {
    if cancelled() {
        return Err(Error::Cancelled);
    }
    if sh.uuid == src.uuid {
        return share(sh, to_lsu, to_name, from_lsu, from_name).map(|()| 0);
    }
    let mut reader = open(src, from_lsu, from_name)?;
    let source = reader.info()?;
    let mut meta = vec![0u8; MAX_META as usize];
    let meta_len = reader.read_meta(0, &mut meta)?;
    let mut writer = create(sh, to_lsu, to_name, true)?;
    let copied = (|| {
        let mut off = 0;
        while off < source.size {
            if cancelled() {
                return Err(Error::Cancelled);
            }
            let n = (source.size - off).min(CANCEL_STEP);
            writer.copy_from(&mut reader, off, off, n, false)?;
            off += n;
        }
        writer.write_meta(0, &meta[..meta_len])
    })();
    let sent = writer.bytes_received();
    let closed = match copied {
        Ok(()) => writer.close(true),
        Err(e) => {
            drop(writer); // abandoned, so the cleanup below may delete it
            Err(e)
        }
    };
    let result = closed.and_then(|()| {
        crate::store::crash::point("stream.after_close");
        let target = info(sh, to_lsu, to_name)?;
        if target.sha1 == source.sha1 {
            Ok(())
        } else {
            Err(Error::Corrupt(format!(
                "copy of {from_name} has SHA-1 {} but the source has {}",
                target.sha1, source.sha1
            )))
        }
    });
    if result.is_err() {
        if let Err(e) = delete(sh, to_lsu, to_name) {
            log_warn!(sh.log, "removing failed copy {to_name}: {e}");
        }
    } else {
        log_info!(
            sh.log,
            "copied {from_name} ({} bytes) from another server to {to_name}: {sent} bytes sent",
            source.size
        );
    }
    result.map(|()| sent)
}

/// Copies an image on one server by sharing its extents, in one
/// transaction.
fn share(
    sh: &Shared,
    to_lsu: &str,
    to_name: &ImageName,
    from_lsu: &str,
    from_name: &ImageName,
) -> Result<()> {
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    let from_lsu_row = catalog::lsu(&tx, from_lsu)?;
    let source = catalog::image_by_name(&tx, from_lsu_row.id, from_name)?
        .ok_or_else(|| Error::NoImage(from_name.to_string()))?;
    if source.state != ImageState::Complete {
        return Err(Error::NotComplete(from_name.to_string()));
    }
    let to_lsu_row = catalog::lsu(&tx, to_lsu)?;
    let now = now_ms();
    let id = catalog::insert_image(&tx, to_lsu_row.id, to_name, sh.owner.token(), now)?;
    catalog::copy_all_extents(&tx, source.id, id)?;
    catalog::copy_meta(&tx, source.id, id)?;
    catalog::set_size(&tx, id, source.size, now)?;
    let oid = records::new_oid();
    catalog::set_complete(&tx, id, &oid, &source.sha1, now)?;
    records::record_image(&tx, id, &oid, source.size, &source.sha1)?;
    records::index_within(&tx, &oid, &sh.log)?;
    tx.commit()?;
    drop(conn);
    crate::store::crash::point("copy.after_commit");
    log_info!(sh.log, "copied {from_name} to {to_name} by sharing its extents");
    Ok(())
}

/// Properties of a named image, as committed.
pub(crate) fn info(sh: &Shared, lsu: &str, name: &ImageName) -> Result<ImageInfo> {
    let conn = sh.catalog.lock();
    let lsu_row = catalog::lsu(&conn, lsu)?;
    let row =
        catalog::image_by_name(&conn, lsu_row.id, name)?.ok_or_else(|| Error::NoImage(name.to_string()))?;
    ImageInfo::from_row(sh, &conn, row, lsu_row.name)
}

/// Up to `limit` image names of an LSU after `after`, in key order.
pub(crate) fn list(
    sh: &Shared,
    lsu: &str,
    after: Option<&ImageName>,
    limit: usize,
) -> Result<Vec<ImageName>> {
    let conn = sh.catalog.lock();
    let lsu_row = catalog::lsu(&conn, lsu)?;
    Ok(catalog::list_images(&conn, lsu_row.id, after, limit)?)
}
