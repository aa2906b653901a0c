//! The 5800 query language (HC-API-FACTS §4, seed 004): our own lexer,
//! parser, type checker and translator to SQL over the storage layout of
//! [`crate::archive`] (`archive_objects`, `object_fields`), in the dialect
//! of the catalog's database ([`Dialect`]: SQLite or PostgreSQL).
//!
//! Pure: no storage, no FFI. [`translate_for`] turns a WHERE expression
//! and a select list into a [`Plan`] for a dialect ([`translate`]: for
//! SQLite); [`Plan::bind`] adds a prepared statement's bindings and the
//! paging cookie and gives the complete SQL and its parameters:
//!
//! ```sql
//! SELECT o.oid[, fA.v_text, ...] FROM archive_objects o
//!   JOIN object_fields f1 ON f1.oid = o.oid AND f1.name = ?
//!   JOIN object_fields f2 ON f2.oid = o.oid AND f2.name = ?
//! WHERE (<expression over f1.v_int, f2.v_text, ...>) AND f1.oid > ?
//! ORDER BY f1.oid LIMIT ?          (o.oid when no field is joined)
//! ```
//!
//! The parameters are, in order: the joined fields' names, the WHERE
//! expression's values, the paging cookie (the last OID of the previous
//! page, "" first) and the page size. Pages are in OID order. The query's
//! `?` placeholders ([`Plan::placeholders`]) are resolved by `bind` from
//! the prepared statement's bindings 1..N.
//!
//! # Safety of the SQL
//! Nothing from the query reaches the SQL text: field names, literals,
//! bindings and even our own constants are bound parameters; the text is
//! built only from fixed keywords, operators, function names and `fN`
//! aliases. Comments (`--`, `/*`), `;` and unknown operator runs are
//! errors; forbidden words (SELECT, DROP, ...) fail at once.
//!
//! # Semantics
//! - Every field named in the WHERE expression or the select list is an
//!   INNER JOIN: an object lacking any of them does not match
//!   (`a IS NOT NULL OR b IS NOT NULL` needs both). A joined value is never
//!   NULL, so `field IS NULL` is always false and `field IS NOT NULL` true;
//!   `system.object_id IS NOT NULL` matches every (indexed) object. A
//!   query naming no field at all (`'a' = 'a'`) matches objects that have
//!   field rows, i.e. indexed ones.
//! - Comparisons: numbers with numbers, string/char with string/char
//!   (SQLite's BINARY collation: code-point order), binary/objectid bytewise,
//!   date/time/timestamp within their type. A string literal compared with
//!   an operand of another type is decoded into that type with
//!   [`Value::decode`] (`type_date = '2010-10-20'`, also `type_long = '5'`,
//!   as the original's string parameters were converted); a bad one is an
//!   error. Typed literals `{type '...'}` must match their operand's class.
//! - LIKE is case-sensitive: it is translated to GLOB (see
//!   [`like_to_glob`]), which needs no connection setting (the
//!   catalog's `PRAGMA case_sensitive_like` does not matter).
//! - `?` takes the type of what it is compared with; its binding is
//!   checked by [`Plan::bind`] (a string or char binding is accepted for a
//!   field of any type and decoded from its canonical form; long and
//!   double bindings are interchangeable; binary and objectid too).
//! - Functions (`{fn NAME(..)}` or bare `NAME(..)`): UCASE/UPPER, LCASE/
//!   LOWER (ASCII letters only: SQLite's upper/lower), ABS, LENGTH
//!   (characters of a string, bytes of a binary), SUBSTRING, LOCATE (0 when
//!   absent), LTRIM, RTRIM, CONCAT, CURDATE, CURTIME, NOW.
//!   TIMESTAMPADD/TIMESTAMPDIFF support SQL_TSI_FRAC_SECOND .. SQL_TSI_WEEK
//!   (fixed-length intervals); MONTH/QUARTER/YEAR are "not supported"
//!   errors. CURRENT_DATE and CURRENT_TIME are local (the process time
//!   zone), CURRENT_TIMESTAMP the instant. JDBC `{d ..}`, `{t ..}` and
//!   `{ts ..}` (read as UTC) literals are accepted, and `{escape 'c'}`
//!   after a LIKE pattern.
//! - Arithmetic `+ - * /` on numbers is supported as a convenience
//!   (the original passed it to its database).
//!
//! # PostgreSQL
//! The same plan in PostgreSQL's SQL gives the same rows
//! (`tests_catalog` runs every case on both): LIKE is PostgreSQL's own
//! (case-sensitive) with the pattern as written and its escape a
//! parameter (`ESCAPE ''`: none); text comparisons and UCASE/LCASE use
//! the "C" collation (code-point order, ASCII letters); `strpos`,
//! `greatest`, SQLite's `substr` mapped onto PostgreSQL's; `x / 0` is NULL
//! (`nullif`); a double field reads NaN as NULL, as SQLite stores it, and
//! is selected from `v_real`, which holds every double; CURRENT_DATE and
//! CURRENT_TIME use the session's time zone (PostgreSQL's `TimeZone`),
//! which each session of the catalog sets to the process's, as SQLite
//! uses (a zone the server does not know leaves the server's default). [`Plan::bind`] gives every `?` its value's type
//! (`CAST(? AS BIGINT)`, ...), since PostgreSQL infers parameter types
//! from context and some contexts fix none.
//!
//! # Errors
//! Every [`QueryError`] carries the character position (0-based, counted
//! in Unicode characters) of the offending token in the WHERE expression
//! (None for select-list and binding-count problems) and says what was
//! expected.

mod check;
mod lexer;
mod parser;
mod sql;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_catalog;
#[cfg(test)]
mod tests_sqlite;

use std::fmt;

use super::value::Value;
use super::{FieldType, Fields};
pub use crate::catalog::Dialect;

pub use check::{LikeSrc, like_to_glob};
pub use parser::MAX_NESTING;
pub use sql::{Plan, SelectColumn};

/// Most distinct fields one query may use (SQLite joins at most 64 tables).
pub const MAX_FIELDS: usize = 63;
/// Most parameters one query may need (SQLite allows 32766).
pub const MAX_PARAMS: usize = 30_000;

/// What kind of problem a [`QueryError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryErrorKind {
    /// Malformed query text: bad token, unexpected token, unterminated
    /// literal, comment, `;`.
    Syntax,
    /// A forbidden SQL word (SELECT, DELETE, DROP, ORDER, WHERE, ...).
    ForbiddenWord,
    /// A name that is not a field of the schema.
    UnknownField,
    /// A field that exists but is not queryable.
    NotQueryable,
    /// Incompatible operand types, a literal that does not decode as the
    /// type it is compared with, wrong argument count.
    Type,
    /// A reserved word, function, escape or interval we do not implement.
    Unsupported,
    /// Too deep, too many fields or parameters.
    TooComplex,
    /// At bind time: a missing binding, one of the wrong type, or one for
    /// a parameter the query does not have.
    Binding,
}

/// A query that cannot be translated or bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub kind: QueryErrorKind,
    /// Character offset (0-based) in the WHERE expression, when the
    /// problem is at a place in it.
    pub pos: Option<usize>,
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(kind: QueryErrorKind, pos: Option<usize>, message: impl Into<String>) -> QueryError {
        QueryError {
            kind,
            pos,
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "query error at position {p}: {}", self.message),
            None => write!(f, "query error: {}", self.message),
        }
    }
}

impl std::error::Error for QueryError {}

/// A `?` of the query: its number (from 1, in order of appearance), where
/// it is, and the type its binding must have (or decode to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    pub number: usize,
    pub pos: usize,
    pub ty: FieldType,
}

/// One parameter of the WHERE SQL, in the order of its `?` markers.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// A value known at translation time (literal or constant).
    Value(crate::archive::SqlValue),
    /// The binding of the n-th `?` (from 1), converted to its
    /// placeholder's type.
    Binding { number: usize },
    /// A LIKE pattern (as GLOB) built at bind time because the pattern or
    /// its escape character is a binding.
    Like {
        pattern: LikeSrc,
        escape: Option<LikeSrc>,
    },
}

/// Translates a 5800 WHERE expression and select list (qualified field
/// names, as given to `hc_query_ez`) against the schema `fields`, to
/// SQLite's SQL (as [`translate_for`] with [`Dialect::Sqlite`]).
///
/// # Errors
/// A [`QueryError`] with the position of the problem in `where_clause`.
pub fn translate(where_clause: &str, selects: &[&str], fields: &dyn Fields) -> Result<Plan, QueryError> {
    translate_for(Dialect::Sqlite, where_clause, selects, fields)
}

/// Translates a 5800 WHERE expression and select list (qualified field
/// names, as given to `hc_query_ez`) against the schema `fields`, to the
/// SQL of `dialect`: that of the catalog connection the query will run on
/// (`catalog::dialect`). Both dialects give the same rows.
///
/// # Errors
/// A [`QueryError`] with the position of the problem in `where_clause`
/// (the same errors in both dialects).
pub fn translate_for(
    dialect: Dialect,
    where_clause: &str,
    selects: &[&str],
    fields: &dyn Fields,
) -> Result<Plan, QueryError> {
    let toks = lexer::tokenize(where_clause)?;
    let n_params = toks
        .iter()
        .filter(|t| matches!(t.tok, lexer::Tok::Param(_)))
        .count();
    let expr = parser::parse(toks)?;
    let mut ck = check::Checker::new(fields, n_params, dialect);
    let frag = ck.condition(&expr)?;
    let mut columns = Vec::with_capacity(selects.len());
    for name in selects {
        let (n, ty) = ck.join(name, None)?;
        columns.push(SelectColumn {
            name: ck.joins[n - 1].name.clone(),
            ty,
            sql: select_sql(dialect, ty, n),
        });
    }
    if ck.joins.len() > MAX_FIELDS {
        return Err(QueryError::new(
            QueryErrorKind::TooComplex,
            Some(0),
            format!(
                "the query uses {} fields; at most {MAX_FIELDS} are allowed",
                ck.joins.len()
            ),
        ));
    }
    if frag.params.len() + ck.joins.len() + 2 > MAX_PARAMS {
        return Err(QueryError::new(
            QueryErrorKind::TooComplex,
            Some(0),
            format!("the query needs more than {MAX_PARAMS} parameters"),
        ));
    }
    let mut placeholders = Vec::with_capacity(n_params);
    for (i, p) in ck.placeholders.into_iter().enumerate() {
        match p {
            Some(p) => placeholders.push(p),
            None => {
                return Err(QueryError::new(
                    QueryErrorKind::Type,
                    Some(0),
                    format!("cannot tell the type of parameter {}", i + 1),
                ));
            }
        }
    }
    Ok(sql::Plan::new(
        dialect,
        ck.joins,
        frag.sql,
        frag.params,
        columns,
        placeholders,
    ))
}

/// The SQL reading a selected field of type `ty` from join `n`: in
/// SQLite a double's exact bits (`v_bits`) where REAL cannot hold it, in
/// PostgreSQL its DOUBLE PRECISION column, which holds every double.
fn select_sql(dialect: Dialect, ty: FieldType, n: usize) -> String {
    match (dialect, ty) {
        (Dialect::Postgres, FieldType::Double) => format!("f{n}.v_real"),
        _ => ty.select_sql(n),
    }
}

/// Fuzzing entry: translates arbitrary bytes (lossily as UTF-8) against
/// a sample schema and, when that works, binds a few values. Never panics;
/// returns whether the query translated. Tests and the fuzzers only.
#[cfg(any(test, feature = "fuzzing"))]
pub fn fuzz_translate(data: &[u8]) -> bool {
    let query = String::from_utf8_lossy(data);
    let fields = sample::fields();
    let Ok(plan) = translate(&query, &["system.test.type_string"], &fields) else {
        return false;
    };
    let samples = [
        Value::Long(7),
        Value::String("2010-10-20".into()),
        Value::Double(1.5),
        Value::Binary(vec![1, 2]),
    ];
    for v in &samples {
        let b: Vec<(usize, Value)> = (1..=plan.placeholders().len()).map(|i| (i, v.clone())).collect();
        let _ = plan.bind(&b, "", 10);
    }
    true
}

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod sample {
    //! A small schema (system fields, the factory `system.test` fields, one
    //! non-queryable field) for fuzzing and tests.
    use super::super::{FieldDef, FieldType, Fields};

    pub struct SampleFields(pub Vec<FieldDef>);

    impl Fields for SampleFields {
        fn field(&self, name: &str) -> Option<&FieldDef> {
            self.0.iter().find(|f| f.name == name)
        }
    }

    pub fn fields() -> SampleFields {
        let f = |name: &str, ty: FieldType, queryable: bool| FieldDef {
            name: name.to_string(),
            ty,
            length: match ty {
                FieldType::String | FieldType::Char | FieldType::Binary => Some(512),
                _ => None,
            },
            queryable,
            writable: !name.starts_with("system.") || name.starts_with("system.test."),
        };
        SampleFields(vec![
            f("system.object_id", FieldType::ObjectId, true),
            f("system.object_ctime", FieldType::Long, true),
            f("system.object_size", FieldType::Long, true),
            f("system.object_hash", FieldType::Binary, true),
            f("system.object_hash_alg", FieldType::String, true),
            f("system.test.type_long", FieldType::Long, true),
            f("system.test.type_double", FieldType::Double, true),
            f("system.test.type_string", FieldType::String, true),
            f("system.test.type_char", FieldType::Char, true),
            f("system.test.type_binary", FieldType::Binary, true),
            f("system.test.type_date", FieldType::Date, true),
            f("system.test.type_time", FieldType::Time, true),
            f("system.test.type_timestamp", FieldType::Timestamp, true),
            f("title", FieldType::String, true),
            f("pages", FieldType::Long, true),
            f("first", FieldType::String, true),
            f("a b", FieldType::String, true),
            f("ns.título", FieldType::String, true),
            f("notes", FieldType::String, false),
        ])
    }
}
