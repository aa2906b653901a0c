//! The 5800 ("Honeycomb") archive model over the engine (seed 004,
//! shared/HC-API-FACTS.md): objects with OIDs, system and user metadata
//! checked against a schema, and a query language.
//!
//! Pure parts, no storage: `schema` (the XML metadata schema, field
//! definitions, the factory default), `value` (typed values and their
//! canonical strings), `query` (the query language: parse, check against
//! a schema, translate to SQLite with bound parameters only).
//!
//! Storage layout the query translator targets (created by the catalog):
//!
//! ```sql
//! archive_objects(oid TEXT PRIMARY KEY, ...)      -- one row per metadata record (OID)
//! object_fields(oid TEXT, name TEXT,              -- one row per field value of an object,
//!               v_int INTEGER, v_real REAL,       -- system fields included; exactly one
//!               v_text TEXT, v_blob BLOB,         -- v_* column is set, by the field's type
//!               v_bits BLOB)                      -- exact bits of a double REAL cannot hold
//! ```
//!
//! Column per type (see [`FieldType::column`]): long, date (days since
//! 1970-01-01), time (seconds since midnight), timestamp (ms since the
//! epoch, UTC) -> `v_int`; double -> `v_real`; string, char -> `v_text`;
//! binary, objectid (30 bytes) -> `v_blob`.
//!
//! Doubles are stored exactly: SQLite keeps a REAL's 8 bytes as they are,
//! except NaN (it stores NULL) and -0.0 (stored as the integer 0, read
//! back as +0.0). For those two `v_bits` also holds the value's IEEE bits
//! (8 bytes, little-endian) and `v_real` the value comparisons should see
//! (NULL, 0.0); a double is read back as `coalesce(v_bits, v_real)` and
//! [`value::Value::from_sql`] turns an 8-byte blob into its double.

pub mod calendar;
pub mod query;
pub mod schema;
mod sql_value;
pub mod value;

pub use sql_value::SqlValue;

/// Types of metadata fields (the 5800 schema's `type` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    Long,
    Double,
    String,
    Char,
    Binary,
    Date,
    Time,
    Timestamp,
    ObjectId,
}

impl FieldType {
    /// The schema file's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Long => "long",
            FieldType::Double => "double",
            FieldType::String => "string",
            FieldType::Char => "char",
            FieldType::Binary => "binary",
            FieldType::Date => "date",
            FieldType::Time => "time",
            FieldType::Timestamp => "timestamp",
            FieldType::ObjectId => "objectid",
        }
    }

    /// The type a schema file names.
    pub fn from_name(name: &str) -> Option<FieldType> {
        [
            FieldType::Long,
            FieldType::Double,
            FieldType::String,
            FieldType::Char,
            FieldType::Binary,
            FieldType::Date,
            FieldType::Time,
            FieldType::Timestamp,
            FieldType::ObjectId,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    /// The SQL that reads a value of this type from the `object_fields`
    /// row joined as `f<join>` (a select list's column): its column, or for
    /// a double `coalesce(fN.v_bits, fN.v_real)`, exact (module docs).
    pub fn select_sql(self, join: usize) -> String {
        match self {
            FieldType::Double => format!("coalesce(f{join}.v_bits, f{join}.v_real)"),
            _ => format!("f{join}.{}", self.column()),
        }
    }

    /// The `object_fields` column holding values of this type.
    pub fn column(self) -> &'static str {
        match self {
            FieldType::Long | FieldType::Date | FieldType::Time | FieldType::Timestamp => "v_int",
            FieldType::Double => "v_real",
            FieldType::String | FieldType::Char => "v_text",
            FieldType::Binary | FieldType::ObjectId => "v_blob",
        }
    }
}

/// One field of a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// Qualified name, e.g. "system.object_size" or "demo.title".
    pub name: String,
    pub ty: FieldType,
    /// Declared length for string (characters), char and binary (bytes);
    /// None for the other types.
    pub length: Option<u32>,
    pub queryable: bool,
    /// False when its namespace is not writable (e.g. `system`).
    pub writable: bool,
}

/// Looks fields up by qualified name (implemented by `schema::Schema`).
pub trait Fields {
    fn field(&self, name: &str) -> Option<&FieldDef>;
}
