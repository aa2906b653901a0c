//! Archive records (the 5800 model's metadata records, seed 004) as the
//! catalog keeps them: OIDs, the system fields of a record, the pending
//! form of fields waiting to be indexed, and indexing inside the
//! transaction that stores a record. Below [`image`](super::image),
//! whose completion records a stsp image as an archive object, and
//! below [`archive`](super::archive), which stores and reads objects.

use super::clock::now_ms;
use super::error::{Error, Result};
use crate::archive::SqlValue;
use crate::catalog;
use crate::logging::ServerLog;

/// Test hook: with `COMBSTORE_FAULT_INDEX=1` in the environment, indexing
/// fails as a failing index insert would, so store index exceptions can
/// be tested end to end.
const FAULT_INDEX_ENV: &str = "COMBSTORE_FAULT_INDEX";

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
pub(crate) fn system_fields(oid: &str, ctime_ms: u64, size: u64, sha1: &str) -> Vec<(String, SqlValue)> {
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
pub(crate) fn encode_pending(fields: &[(String, SqlValue)]) -> String {
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

pub(crate) fn decode_pending(s: &str) -> Result<Vec<(String, SqlValue)>> {
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

/// Makes record `oid` queryable: its pending fields become index rows.
pub(crate) fn index_rows(tx: &catalog::Tx<'_>, oid: &str) -> Result<()> {
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
