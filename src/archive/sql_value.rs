//! A value in its SQL form: what a field value is stored as, a bound
//! parameter of a translated query, a column of its result.
//!
//! The archive's own type (it has no storage; the catalog binds it to and
//! reads it from SQLite, `catalog::archive`), so that nothing above the
//! catalog names the database library's types. Its variants are SQLite's
//! storage classes.

/// One SQL value (a SQLite storage class).
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// A signed 64-bit integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl SqlValue {
    /// The storage class's name: `Null`, `Integer`, `Real`, `Text`, `Blob`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SqlValue::Null => "Null",
            SqlValue::Integer(_) => "Integer",
            SqlValue::Real(_) => "Real",
            SqlValue::Text(_) => "Text",
            SqlValue::Blob(_) => "Blob",
        }
    }
}
