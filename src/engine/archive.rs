//! Archive objects (the 5800 model, seed 004) over images: an object's
//! data is a complete image in the internal LSU `.archive`; each metadata
//! record (OID) is a row naming that image, so storeMetadata shares the
//! data (no copy) and the data goes with its last record.
//!
//! A store is all or nothing: the data image is temporary until the
//! transaction that completes it also inserts the record, so an OID exists
//! only for durable data. The record's fields are indexed (made
//! queryable) in the same transaction under a savepoint; if indexing
//! fails, only the savepoint rolls back and the store still succeeds with
//! `indexed = false` (a store index exception): the fields wait in the
//! record, and `check_indexed` or the next recovery indexes them.

use std::sync::Arc;

use sha1::{Digest, Sha1};

use super::clock::now_ms;
use super::error::{Error, Result};
use super::image::{ImageReader, ImageWriter};
use super::names::ImageName;
pub use super::records::{canonical_oid, new_oid};
use super::records::{decode_pending, encode_pending, index_rows, index_within, system_fields};
use super::shared::Shared;
use super::{images, lsus};
use crate::archive::value::Value;
use crate::archive::{FieldType, Fields, SqlValue};
use crate::catalog::{self, ImageState};

/// The internal LSU holding archive objects' data.
pub const ARCHIVE_LSU: &str = ".archive";

/// What a store returns (the system record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub oid: String,
    pub size: u64,
    pub ctime_ms: u64,
    /// SHA-1 of the data, 40 lower-case hex digits.
    pub sha1: String,
    pub indexed: bool,
}

/// Checks user fields against the schema: every name defined, writable,
/// and each value of the field's type and within its length.
///
/// # Errors
/// [`Error::Invalid`] naming the field and the problem.
pub fn check_fields(fields: &[(String, Value)], schema: &dyn Fields) -> Result<Vec<(String, SqlValue)>> {
    let mut out = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let def = schema
            .field(name)
            .ok_or_else(|| Error::Invalid(format!("no field {name:?} in the schema")))?;
        if !def.writable {
            return Err(Error::Invalid(format!("field {name:?} is not writable")));
        }
        value.check(def).map_err(|e| Error::Invalid(e.to_string()))?; // the message names the field
        out.push((name.clone(), value.to_sql()));
    }
    Ok(out)
}

/// The value of a stored field, typed by the schema (`None` for a field
/// the schema no longer defines).
pub fn typed(ty: FieldType, v: &SqlValue) -> Option<Value> {
    Value::from_sql(ty, v.clone()).ok()
}

/// Stores an object: data pulled from `read` (which fills the buffer
/// and returns the bytes placed, 0 at the end) with user `fields`
/// (already checked by [`check_fields`]). Memory stays bounded.
pub(crate) fn store_object(
    sh: &Arc<Shared>,
    read: &mut dyn FnMut(&mut [u8]) -> Result<usize>,
    fields: Vec<(String, SqlValue)>,
) -> Result<StoredObject> {
    ensure_archive_lsu(sh)?;
    let uid = crate::store::random_hex128();
    let mut w = images::create(sh, ARCHIVE_LSU, &ImageName::new(&uid, "")?, true)?;
    let stored = (|| {
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0u64;
        loop {
            let n = read(&mut buf)?;
            if n == 0 {
                break;
            }
            w.write_any(off, &buf[..n.min(buf.len())])?;
            off += n as u64;
        }
        Ok(())
    })();
    if let Err(e) = stored {
        drop(w);
        let _ = images::delete(sh, ARCHIVE_LSU, &ImageName::new(&uid, "")?);
        return Err(e);
    }
    let done = w.close_object(fields)?;
    Ok(done)
}

/// Creates a new record (new OID and ctime) for the data of `oid`,
/// with new user fields; the old record is unchanged.
pub(crate) fn store_metadata(
    sh: &Shared,
    oid: &str,
    fields: Vec<(String, SqlValue)>,
) -> Result<StoredObject> {
    let oid = canonical_oid(oid)?;
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    let rec = catalog::archive::object(&tx, &oid)?.ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
    let image = catalog::image_by_id(&tx, rec.image_id)?
        .ok_or_else(|| Error::Corrupt(format!("object {oid} names a missing image")))?;
    let new = new_oid();
    let ctime = now_ms();
    let mut all = system_fields(&new, ctime, image.size, &image.sha1);
    all.extend(fields);
    catalog::archive::insert_object(&tx, &new, image.id, ctime, &encode_pending(&all))?;
    let indexed = index_within(&tx, &new, &sh.log)?;
    tx.commit()?;
    drop(conn);
    Ok(StoredObject {
        oid: new,
        size: image.size,
        ctime_ms: ctime,
        sha1: image.sha1,
        indexed,
    })
}

/// The system record of an object.
pub(crate) fn object_record(sh: &Shared, oid: &str) -> Result<StoredObject> {
    let oid = canonical_oid(oid)?;
    let conn = sh.catalog.lock();
    let rec =
        catalog::archive::object(&conn, &oid)?.ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
    let image = catalog::image_by_id(&conn, rec.image_id)?
        .ok_or_else(|| Error::Corrupt(format!("object {oid} names a missing image")))?;
    Ok(StoredObject {
        oid,
        size: image.size,
        ctime_ms: rec.ctime_ms,
        sha1: image.sha1,
        indexed: rec.indexed,
    })
}

/// Streams bytes `first..=last` (None: to the end) of an object's data
/// to `write`, one chunk of memory at a time, verified as read.
pub(crate) fn retrieve_object(
    sh: &Arc<Shared>,
    oid: &str,
    first: u64,
    last: Option<u64>,
    write: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let oid = canonical_oid(oid)?;
    let (image_id, size) = {
        let conn = sh.catalog.lock();
        let rec =
            catalog::archive::object(&conn, &oid)?.ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
        let image = catalog::image_by_id(&conn, rec.image_id)?
            .ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
        if image.state != ImageState::Complete {
            return Err(Error::NotComplete(format!("object {oid}")));
        }
        (image.id, image.size)
    };
    let end = last.map_or(size, |l| l.saturating_add(1).min(size));
    let mut reader = ImageReader::new(Arc::clone(sh), image_id, size);
    let mut buf = vec![0u8; 1 << 20];
    let mut off = first.min(end);
    while off < end {
        let n = ((end - off) as usize).min(buf.len());
        let got = reader.read_any(off, &mut buf[..n])?;
        if got == 0 {
            break;
        }
        write(&buf[..got])?;
        off += got as u64;
    }
    Ok(())
}

/// Every field of a record (system and user), as stored.
pub(crate) fn object_fields(sh: &Shared, oid: &str) -> Result<Vec<(String, SqlValue)>> {
    let oid = canonical_oid(oid)?;
    let conn = sh.catalog.lock();
    let rec =
        catalog::archive::object(&conn, &oid)?.ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
    match (rec.indexed, rec.pending) {
        (false, Some(p)) => decode_pending(&p),
        _ => Ok(catalog::archive::fields(&conn, &oid)?),
    }
}

/// Deletes a record; its data goes when no record names it any more.
pub(crate) fn delete_object(sh: &Shared, oid: &str) -> Result<()> {
    let oid = canonical_oid(oid)?;
    let (image, last) = {
        let mut conn = sh.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let image_id = catalog::archive::delete_object(&tx, &oid)?;
        let last = catalog::archive::objects_of_image(&tx, image_id)?.is_empty();
        let image = catalog::image_by_id(&tx, image_id)?;
        let lsu = match &image {
            Some(i) => Some(catalog::lsu_name(&tx, i.lsu_id)?),
            None => None,
        };
        tx.commit()?;
        (image.zip(lsu), last)
    };
    // Only archive data goes with its last record; a stsp image stays
    // an image (its owner deletes it through stsp_delete_image).
    if let (Some((image, lsu)), true) = (image, last) {
        if lsu == ARCHIVE_LSU {
            images::delete(sh, &lsu, &image.name)?;
        }
    }
    Ok(())
}

/// Makes a record queryable if it is not yet: -1 already indexed,
/// 1 indexed by this call, 0 still not indexed.
pub(crate) fn check_indexed(sh: &Shared, oid: &str) -> Result<i32> {
    let oid = canonical_oid(oid)?;
    let rec = catalog::archive::object(&sh.catalog.lock(), &oid)?
        .ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
    if rec.indexed {
        return Ok(-1);
    }
    Ok(if index_object(sh, &oid).is_ok() { 1 } else { 0 })
}

/// Indexes every record still waiting (recovery's healing pass);
/// returns how many were indexed.
pub(crate) fn heal_index(sh: &Shared) -> Result<usize> {
    let waiting = catalog::archive::unindexed(&sh.catalog.lock(), 10_000)?;
    Ok(waiting
        .iter()
        .filter(|r| index_object(sh, &r.oid).is_ok())
        .count())
}

/// Time (ms) before which every store index exception is resolved:
/// the ctime of the oldest unresolved one, or now if there is none.
pub(crate) fn query_integrity_time(sh: &Shared) -> Result<u64> {
    let oldest = catalog::archive::unindexed(&sh.catalog.lock(), 1)?;
    Ok(oldest.first().map_or_else(now_ms, |r| r.ctime_ms))
}

/// Runs SQL built by the query translator with its parameters.
pub(crate) fn run_object_query(sh: &Shared, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>> {
    Ok(catalog::archive::run_query(&sh.catalog.lock(), sql, params)?)
}

fn index_object(sh: &Shared, oid: &str) -> Result<()> {
    let mut conn = sh.catalog.lock();
    let tx = catalog::write_txn(&mut conn)?;
    index_rows(&tx, oid)?;
    Ok(tx.commit()?)
}

fn ensure_archive_lsu(sh: &Shared) -> Result<()> {
    match lsus::create(sh, ARCHIVE_LSU) {
        Ok(()) | Err(Error::Invalid(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

impl ImageWriter {
    /// Completes an archive object's data and records it: the record is
    /// inserted and indexed in the completing transaction.
    pub(crate) fn close_object(mut self, fields: Vec<(String, SqlValue)>) -> Result<StoredObject> {
        let oid = new_oid();
        let ctime = now_ms();
        let mut indexed = false;
        let log = self.log().clone();
        let (size, sha1) = self.complete_with(&oid, |tx, id, size, sha1| {
            let mut all = system_fields(&oid, ctime, size, sha1);
            all.extend(fields);
            catalog::archive::insert_object(tx, &oid, id, ctime, &encode_pending(&all))?;
            indexed = index_within(tx, &oid, &log)?;
            Ok(())
        })?;
        drop(self);
        Ok(StoredObject {
            oid,
            size,
            ctime_ms: ctime,
            sha1,
            indexed,
        })
    }
}

/// SHA-1 of nothing (a 0-byte object's hash).
pub fn empty_sha1() -> String {
    crate::store::hex(&Sha1::digest([]))
}

/// Writes a new file of the server directory, 0600 whatever the umask
/// (a leftover of the same name is replaced, not reused with its mode).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

/// The schema file in a server directory (the 5800 XML format).
pub const SCHEMA_FILE: &str = "metadata_config.xml";
/// The port sessions must name (the 5800's default), unless configured.
pub const DEFAULT_PORT: i32 = 8080;

/// The server's metadata schema, read from its schema file; a server
/// without one gets the factory schema written there first.
pub(crate) fn archive_schema(sh: &Shared) -> Result<crate::archive::schema::Schema> {
    use crate::archive::schema::{FACTORY_XML, Schema};
    let path = sh.dir.join(SCHEMA_FILE);
    let xml = match std::fs::read_to_string(&path) {
        Ok(x) => x,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = sh.dir.join(format!("{SCHEMA_FILE}.tmp"));
            write_private(&tmp, FACTORY_XML.as_bytes())
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| Error::io(path.display().to_string(), e))?;
            FACTORY_XML.to_owned()
        }
        Err(e) => return Err(Error::io(path.display().to_string(), e)),
    };
    let schema = Schema::parse(&xml).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    schema
        .check_server_fields()
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    Ok(schema)
}

/// The port archive sessions must name (server setting `hc_port`).
pub(crate) fn archive_port(sh: &Shared) -> Result<i32> {
    let v = catalog::server_value(&sh.catalog.lock(), "hc_port")?;
    Ok(v.and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_PORT))
}

/// Bulk prefill for the catalog-scale benchmarks (bench/suite): one
/// complete, empty image per item, named `item.0` in `lsu`, with its
/// archive record (system fields plus `item.1`, already checked by
/// [`check_fields`]) indexed. Items are committed in transactions of
/// `batch`: the rows a create and close complete of each would leave,
/// without their per-image syncs. Not for applications.
pub(crate) fn prefill_empty_images(
    sh: &Shared,
    lsu: &str,
    items: impl IntoIterator<Item = (ImageName, Vec<(String, SqlValue)>)>,
    batch: usize,
) -> Result<u64> {
    if lsu == ARCHIVE_LSU {
        ensure_archive_lsu(sh)?;
    }
    let sha1 = empty_sha1();
    let mut items = items.into_iter().peekable();
    let mut count = 0u64;
    while items.peek().is_some() {
        let mut conn = sh.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let lsu_id = catalog::lsu(&tx, lsu)?.id;
        for (name, fields) in items.by_ref().take(batch.max(1)) {
            let now = now_ms();
            let id = catalog::insert_image(&tx, lsu_id, &name, sh.owner.token(), now)?;
            let oid = new_oid();
            catalog::set_complete(&tx, id, &oid, &sha1, now)?;
            let mut all = system_fields(&oid, now, 0, &sha1);
            all.extend(fields);
            catalog::archive::insert_object(&tx, &oid, id, now, &encode_pending(&all))?;
            catalog::archive::index_object(&tx, &oid, &all)?;
            count += 1;
        }
        tx.commit()?;
    }
    Ok(count)
}
