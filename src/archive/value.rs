//! Typed metadata values and their canonical strings.

use super::FieldType;

/// A metadata value of one of the schema's types.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Long(i64),
    Double(f64),
    String(String),
    Char(String),
    Binary(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i64),
    /// Seconds since midnight.
    Time(i64),
    /// Milliseconds since the epoch, UTC.
    Timestamp(i64),
    /// The 30 bytes of an OID.
    ObjectId(Vec<u8>),
}

impl Value {
    /// The value's type.
    pub fn ty(&self) -> FieldType {
        match self {
            Value::Long(_) => FieldType::Long,
            Value::Double(_) => FieldType::Double,
            Value::String(_) => FieldType::String,
            Value::Char(_) => FieldType::Char,
            Value::Binary(_) => FieldType::Binary,
            Value::Date(_) => FieldType::Date,
            Value::Time(_) => FieldType::Time,
            Value::Timestamp(_) => FieldType::Timestamp,
            Value::ObjectId(_) => FieldType::ObjectId,
        }
    }

    /// The value as stored in its `object_fields` column (and as a bound
    /// SQL parameter).
    pub fn to_sql(&self) -> rusqlite::types::Value {
        use rusqlite::types::Value as V;
        match self {
            Value::Long(v) | Value::Date(v) | Value::Time(v) | Value::Timestamp(v) => V::Integer(*v),
            Value::Double(v) => V::Real(*v),
            Value::String(s) | Value::Char(s) => V::Text(s.clone()),
            Value::Binary(b) | Value::ObjectId(b) => V::Blob(b.clone()),
        }
    }
}
