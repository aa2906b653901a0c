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

use sha1::{Digest, Sha1};

use super::clock::now_ms;
use super::error::{Error, Result};
use super::image::ImageWriter;
use super::names::ImageName;
use super::server::Server;
use crate::archive::value::Value;
use crate::archive::{FieldType, Fields, SqlValue};
use crate::catalog::{self, ImageState};
use crate::logging::ServerLog;

/// The internal LSU holding archive objects' data.
pub const ARCHIVE_LSU: &str = ".archive";

/// Test hook: with `COMBSTORE_FAULT_INDEX=1` in the environment, indexing
/// fails as a failing index insert would, so store index exceptions can
/// be tested end to end.
const FAULT_INDEX_ENV: &str = "COMBSTORE_FAULT_INDEX";

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

/// A new OID: 30 bytes as 60 lower-case hex digits, laid out as the
/// 5800's (version 2, external, cell 0, a random 16-byte UID at bytes
/// 5..21, layout map 0, type 2 = metadata record).
pub fn new_oid() -> String {
    let mut b = [0u8; 30];
    b[0] = 2;
    crate::store::random_bytes(&mut b[5..21]);
    b[25] = 2;
    crate::store::hex(&b)
}

/// Decodes an OID (case-insensitive hex) to its canonical form.
///
/// # Errors
/// [`Error::Invalid`] unless it is 60 hex digits.
pub fn canonical_oid(oid: &str) -> Result<String> {
    if oid.len() != 60 || !oid.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::Invalid(format!("{oid:?} is not an OID (60 hex digits)")));
    }
    Ok(oid.to_ascii_lowercase())
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|k| u8::from_str_radix(&s[2 * k..2 * k + 2], 16).ok())
        .collect()
}

/// The system fields of a record.
fn system_fields(oid: &str, ctime_ms: u64, size: u64, sha1: &str) -> Vec<(String, SqlValue)> {
    vec![
        ("system.object_id".into(), SqlValue::Blob(unhex(oid))),
        ("system.object_ctime".into(), SqlValue::Integer(ctime_ms as i64)),
        ("system.object_layoutMapId".into(), SqlValue::Integer(0)),
        ("system.object_size".into(), SqlValue::Integer(size as i64)),
        ("system.object_hash".into(), SqlValue::Blob(unhex(sha1))),
        ("system.object_hash_alg".into(), SqlValue::Text("sha1".into())),
    ]
}

/// Fields to index, as stored in `archive_objects.pending`. A double is
/// kept as the integer of its IEEE bits (tag "d"): exact for every value,
/// NaN and -0.0 included, whatever parses the text. Records written
/// before issue 14 hold doubles as JSON numbers (tag "r"), which
/// serde_json's `float_roundtrip` parser reads back exactly.
fn encode_pending(fields: &[(String, SqlValue)]) -> String {
    let items: Vec<serde_json::Value> = fields
        .iter()
        .map(|(n, v)| match v {
            SqlValue::Integer(x) => serde_json::json!([n, "i", x]),
            SqlValue::Real(x) => serde_json::json!([n, "d", x.to_bits()]),
            SqlValue::Text(x) => serde_json::json!([n, "t", x]),
            SqlValue::Blob(x) => serde_json::json!([n, "b", crate::store::hex(x)]),
            SqlValue::Null => serde_json::json!([n, "n", null]),
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

fn decode_pending(s: &str) -> Result<Vec<(String, SqlValue)>> {
    let bad = || Error::Corrupt(format!("archive record's pending fields: {s:.80}"));
    let v: serde_json::Value = serde_json::from_str(s).map_err(|_| bad())?;
    let mut out = Vec::new();
    for item in v.as_array().ok_or_else(bad)? {
        let (Some(name), Some(kind)) = (item[0].as_str(), item[1].as_str()) else {
            return Err(bad());
        };
        let value = match kind {
            "i" => SqlValue::Integer(item[2].as_i64().ok_or_else(bad)?),
            "d" => SqlValue::Real(f64::from_bits(item[2].as_u64().ok_or_else(bad)?)),
            "r" => SqlValue::Real(item[2].as_f64().ok_or_else(bad)?),
            "t" => SqlValue::Text(item[2].as_str().ok_or_else(bad)?.to_owned()),
            "b" => SqlValue::Blob(unhex(item[2].as_str().ok_or_else(bad)?)),
            _ => SqlValue::Null,
        };
        out.push((name.to_owned(), value));
    }
    Ok(out)
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

impl Server {
    /// Stores an object: data pulled from `read` (which fills the buffer
    /// and returns the bytes placed, 0 at the end) with user `fields`
    /// (already checked by [`check_fields`]). Memory stays bounded.
    ///
    /// # Errors
    /// Errors of `read` (the store is then abandoned and leaves nothing);
    /// I/O and catalog errors.
    pub fn store_object(
        &self,
        read: &mut dyn FnMut(&mut [u8]) -> Result<usize>,
        fields: Vec<(String, SqlValue)>,
    ) -> Result<StoredObject> {
        self.ensure_archive_lsu()?;
        let uid = crate::store::random_hex128();
        let mut w = self.create_temporary_image(ARCHIVE_LSU, &ImageName::new(&uid, "")?)?;
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
            let _ = self.delete_image(ARCHIVE_LSU, &ImageName::new(&uid, "")?);
            return Err(e);
        }
        let done = w.close_object(fields)?;
        Ok(done)
    }

    /// Creates a new record (new OID and ctime) for the data of `oid`,
    /// with new user fields; the old record is unchanged.
    ///
    /// # Errors
    /// [`Error::Invalid`] (not an OID), [`Error::NoImage`]; catalog errors.
    pub fn store_metadata(&self, oid: &str, fields: Vec<(String, SqlValue)>) -> Result<StoredObject> {
        let oid = canonical_oid(oid)?;
        let sh = &self.shared;
        let mut conn = sh.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        let rec =
            catalog::archive::object(&tx, &oid)?.ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
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
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NoImage`]; catalog errors.
    pub fn object_record(&self, oid: &str) -> Result<StoredObject> {
        let oid = canonical_oid(oid)?;
        let conn = self.shared.catalog.lock();
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
        let oid = canonical_oid(oid)?;
        let (image_id, size) = {
            let conn = self.shared.catalog.lock();
            let rec = catalog::archive::object(&conn, &oid)?
                .ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
            let image = catalog::image_by_id(&conn, rec.image_id)?
                .ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
            if image.state != ImageState::Complete {
                return Err(Error::NotComplete(format!("object {oid}")));
            }
            (image.id, image.size)
        };
        let end = last.map_or(size, |l| l.saturating_add(1).min(size));
        let mut reader = super::image::ImageReader::new(std::sync::Arc::clone(&self.shared), image_id, size);
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
    ///
    /// # Errors
    /// [`Error::NoImage`]; catalog errors.
    pub fn object_fields(&self, oid: &str) -> Result<Vec<(String, SqlValue)>> {
        let oid = canonical_oid(oid)?;
        let conn = self.shared.catalog.lock();
        let rec =
            catalog::archive::object(&conn, &oid)?.ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
        match (rec.indexed, rec.pending) {
            (false, Some(p)) => decode_pending(&p),
            _ => Ok(catalog::archive::fields(&conn, &oid)?),
        }
    }

    /// Deletes a record; its data goes when no record names it any more.
    ///
    /// # Errors
    /// [`Error::NoImage`]; catalog errors.
    pub fn delete_object(&self, oid: &str) -> Result<()> {
        let oid = canonical_oid(oid)?;
        let (image, last) = {
            let mut conn = self.shared.catalog.lock();
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
                self.delete_image(&lsu, &image.name)?;
            }
        }
        Ok(())
    }

    /// Makes a record queryable if it is not yet: -1 already indexed,
    /// 1 indexed by this call, 0 still not indexed.
    ///
    /// # Errors
    /// [`Error::NoImage`]; catalog errors.
    pub fn check_indexed(&self, oid: &str) -> Result<i32> {
        let oid = canonical_oid(oid)?;
        let rec = catalog::archive::object(&self.shared.catalog.lock(), &oid)?
            .ok_or_else(|| Error::NoImage(format!("object {oid}")))?;
        if rec.indexed {
            return Ok(-1);
        }
        Ok(if self.index_object(&oid).is_ok() { 1 } else { 0 })
    }

    /// Indexes every record still waiting (recovery's healing pass);
    /// returns how many were indexed.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn heal_index(&self) -> Result<usize> {
        let waiting = catalog::archive::unindexed(&self.shared.catalog.lock(), 10_000)?;
        Ok(waiting
            .iter()
            .filter(|r| self.index_object(&r.oid).is_ok())
            .count())
    }

    /// Time (ms) before which every store index exception is resolved:
    /// the ctime of the oldest unresolved one, or now if there is none.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn query_integrity_time(&self) -> Result<u64> {
        let oldest = catalog::archive::unindexed(&self.shared.catalog.lock(), 1)?;
        Ok(oldest.first().map_or_else(now_ms, |r| r.ctime_ms))
    }

    /// Runs SQL built by the query translator with its parameters.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn run_object_query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>> {
        Ok(catalog::archive::run_query(
            &self.shared.catalog.lock(),
            sql,
            params,
        )?)
    }

    fn index_object(&self, oid: &str) -> Result<()> {
        let mut conn = self.shared.catalog.lock();
        let tx = catalog::write_txn(&mut conn)?;
        index_rows(&tx, oid)?;
        Ok(tx.commit()?)
    }

    fn ensure_archive_lsu(&self) -> Result<()> {
        match self.create_lsu_any(ARCHIVE_LSU) {
            Ok(()) | Err(Error::Invalid(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Makes record `oid` queryable: its pending fields become index rows.
fn index_rows(tx: &catalog::Tx<'_>, oid: &str) -> Result<()> {
    if std::env::var_os(FAULT_INDEX_ENV).is_some_and(|v| v == "1") {
        return Err(Error::Io {
            what: "index (injected fault)".into(),
            source: std::io::Error::other("injected"),
        });
    }
    let Some(rec) = catalog::archive::object(tx, oid)? else {
        return Ok(());
    };
    if rec.indexed {
        return Ok(());
    }
    let fields = decode_pending(rec.pending.as_deref().unwrap_or("[]"))?;
    Ok(catalog::archive::index_object(tx, oid, &fields)?)
}

/// Indexes record `oid` inside the transaction that stores it, under a
/// savepoint: if indexing fails, only its rows roll back and the store
/// still commits, unindexed (a store index exception, which
/// `check_indexed` and the background heal resolve later). One commit
/// then makes an object both durable and queryable. Returns whether it
/// was indexed.
///
/// # Errors
/// Only if the savepoint itself cannot be opened or closed (the enclosing
/// transaction is then unusable and must not commit).
pub(crate) fn index_within(tx: &catalog::Tx<'_>, oid: &str, log: &ServerLog) -> Result<bool> {
    tx.savepoint("index_object")?;
    let r = index_rows(tx, oid);
    if let Err(e) = &r {
        crate::log_warn!(log, "object {oid} stored unindexed (store index exception): {e}");
        tx.rollback_to("index_object")?;
    }
    tx.release("index_object")?;
    Ok(r.is_ok())
}

/// Records a complete stsp image as an archive object (inside the
/// transaction that completes it): system fields plus `ost.lsu`,
/// `ost.basename` and `ost.date`.
pub(crate) fn record_image(
    tx: &catalog::Tx<'_>,
    image_id: i64,
    oid: &str,
    size: u64,
    sha1: &str,
) -> Result<()> {
    let image =
        catalog::image_by_id(tx, image_id)?.ok_or_else(|| Error::NoImage(format!("image #{image_id}")))?;
    let lsu = catalog::lsu_name(tx, image.lsu_id)?;
    let ctime = now_ms();
    let mut all = system_fields(oid, ctime, size, sha1);
    all.push(("ost.lsu".into(), SqlValue::Text(lsu)));
    all.push(("ost.basename".into(), SqlValue::Text(image.name.basename)));
    all.push(("ost.date".into(), SqlValue::Text(image.name.date)));
    Ok(catalog::archive::insert_object(
        tx,
        oid,
        image_id,
        ctime,
        &encode_pending(&all),
    )?)
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

impl Server {
    /// The server's metadata schema, read from its schema file; a server
    /// without one gets the factory schema written there first.
    ///
    /// # Errors
    /// [`Error::Invalid`] with the schema error (line and problem) for a
    /// bad file; I/O errors.
    pub fn archive_schema(&self) -> Result<crate::archive::schema::Schema> {
        use crate::archive::schema::{FACTORY_XML, Schema};
        let path = self.dir().join(SCHEMA_FILE);
        let xml = match std::fs::read_to_string(&path) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let tmp = self.dir().join(format!("{SCHEMA_FILE}.tmp"));
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
    ///
    /// # Errors
    /// Catalog errors.
    pub fn archive_port(&self) -> Result<i32> {
        let v = catalog::server_value(&self.shared.catalog.lock(), "hc_port")?;
        Ok(v.and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_PORT))
    }
}

impl Server {
    /// Bulk prefill for the catalog-scale benchmarks (bench/suite): one
    /// complete, empty image per item, named `item.0` in `lsu`, with its
    /// archive record (system fields plus `item.1`, already checked by
    /// [`check_fields`]) indexed. Items are committed in transactions of
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
        if lsu == ARCHIVE_LSU {
            self.ensure_archive_lsu()?;
        }
        let sha1 = empty_sha1();
        let sh = &self.shared;
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
}
