//! Fuzz target `query`: the 5800 query translator (`archive::query`) on
//! arbitrary text, against a sample schema, checking more than "no panic".
//!
//! Input: the WHERE expression, optionally followed by a NUL byte and a
//! comma-separated select list (any text: field names are attacker input
//! too). For every input:
//! - an error's position lies inside the query (or at its end);
//! - translating twice gives the same SQL and parameters;
//! - the SQL contains no quote, `;` or comment, and every word of it is a
//!   keyword, function, table, `fN` alias or column of the fixed templates,
//!   and its only number is the `1` of `SELECT 1`: no value, field name or
//!   other text from the query reaches the SQL text;
//! - the joined fields (the first parameters) exist in the schema and are
//!   queryable, without repeats; the select columns are joined fields;
//! - with bindings, the SQL has exactly as many `?` as parameters, and it
//!   prepares and runs on a catalog holding a few objects, returning OIDs
//!   in ascending order, at most a page of them.

use std::cell::RefCell;
use std::collections::HashSet;

use rusqlite::Connection;

use crate::archive::query::{Plan, sample, translate};
use crate::archive::value::Value;
use crate::archive::{FieldType, Fields, SqlValue};
use crate::catalog::Conn;

const KEYWORDS: &[&str] = &[
    "SELECT", "FROM", "JOIN", "ON", "AND", "OR", "NOT", "WHERE", "EXISTS", "ORDER", "BY", "LIMIT", "IS",
    "NULL", "IN", "BETWEEN", "GLOB", "CAST", "AS", "INTEGER",
];
const FUNCTIONS: &[&str] = &[
    "abs",
    "coalesce",
    "instr",
    "length",
    "lower",
    "ltrim",
    "max",
    "nullif",
    "replace",
    "rtrim",
    "substr",
    "upper",
    "unixepoch",
];
const NAMES: &[&str] = &["o", "fx", "archive_objects", "object_fields", "o.oid", "fx.oid"];
const COLUMNS: &[&str] = &["oid", "name", "v_int", "v_real", "v_text", "v_blob", "v_bits"];
const PAGE: u32 = 2;
const OBJECTS: u8 = 3;

/// Runs one input. Panics when a property does not hold.
pub fn run(data: &[u8]) {
    let (query, selects) = match data.iter().position(|&b| b == 0) {
        Some(k) => (&data[..k], Some(&data[k + 1..])),
        None => (data, None),
    };
    let query = String::from_utf8_lossy(query);
    let selects = selects.map(String::from_utf8_lossy);
    let selects: Vec<&str> = match &selects {
        Some(s) => s.split(',').collect(),
        None => vec!["system.test.type_string"],
    };
    let fields = sample::fields();
    let plan = match translate(&query, &selects, &fields) {
        Ok(plan) => plan,
        Err(e) => {
            let chars = query.chars().count();
            assert!(
                e.pos.is_none_or(|p| p <= chars),
                "{e}: position past the end ({chars} characters) of {query:?}"
            );
            return;
        }
    };
    let again = translate(&query, &selects, &fields).expect("translates the second time");
    assert_eq!(plan.sql(), again.sql(), "{query:?}");
    assert_eq!(
        format!("{:?}", plan.where_params()),
        format!("{:?}", again.where_params())
    );
    check_sql(plan.sql(), &query);
    check_fields(&plan, &fields, &query);
    for v in bindings() {
        let b: Vec<(usize, Value)> = (1..=plan.placeholders().len()).map(|i| (i, v.clone())).collect();
        if let Ok((sql, params)) = plan.bind(&b, "", PAGE) {
            check_runs(&sql, &params, &query);
        }
    }
}

/// Values bound to every `?`: each type, and text that would be SQL if
/// it were pasted into the statement.
fn bindings() -> Vec<Value> {
    vec![
        Value::Long(7),
        Value::Double(1.5),
        Value::String("2010-10-20".into()),
        Value::String("x' OR '1'='1".into()),
        Value::Char("'; DROP TABLE object_fields; --".into()),
        Value::Binary(vec![1, 2]),
    ]
}

fn check_sql(sql: &str, query: &str) {
    for bad in ["'", "\"", "`", "[", ";", "--", "/*", "\\"] {
        assert!(!sql.contains(bad), "{bad:?} in the SQL of {query:?}: {sql}");
    }
    let words = sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
    let alias = |a: &str| {
        let n = a.strip_prefix('f').filter(|n| !n.starts_with('0'));
        n.and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=crate::archive::query::MAX_FIELDS).contains(&n))
    };
    for w in words.filter(|w| !w.is_empty()) {
        let alias_column = match w.split_once('.') {
            Some((a, col)) => alias(a) && COLUMNS.contains(&col),
            None => alias(w),
        };
        let ok =
            KEYWORDS.contains(&w) || FUNCTIONS.contains(&w) || NAMES.contains(&w) || alias_column || w == "1";
        assert!(ok, "{w:?} in the SQL of {query:?}: {sql}");
    }
    let other = sql
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " _.(),?=<>|+-*/%".contains(*c)));
    assert!(other.is_none(), "{other:?} in the SQL of {query:?}: {sql}");
}

fn check_fields(plan: &Plan, fields: &dyn Fields, query: &str) {
    let mut seen = HashSet::new();
    for (name, ty) in plan.fields() {
        let def = fields
            .field(name)
            .unwrap_or_else(|| panic!("{name:?} joined for {query:?}"));
        assert!(def.queryable, "non-queryable {name:?} joined for {query:?}");
        assert_eq!(def.ty, ty, "type of {name:?}");
        assert!(seen.insert(name), "{name:?} joined twice for {query:?}");
    }
    for col in plan.selects() {
        let joined = plan.fields().iter().position(|(n, _)| *n == col.name);
        let n = joined.unwrap_or_else(|| panic!("select {:?} not joined for {query:?}", col.name));
        assert_eq!(col.sql, col.ty.select_sql(n + 1), "{query:?}");
    }
}

fn check_runs(sql: &str, params: &[SqlValue], query: &str) {
    let marks = sql.matches('?').count();
    assert_eq!(marks, params.len(), "{query:?}: {sql}");
    CATALOG.with(|c| {
        let conn = c.borrow();
        let rows = crate::catalog::archive::run_query(&conn, sql, params)
            .unwrap_or_else(|e| panic!("{query:?} translated to SQL that fails: {e}\n{sql}\n{params:?}"));
        assert!(rows.len() <= PAGE as usize, "{query:?}: more than a page");
        let oids: Vec<&SqlValue> = rows.iter().map(|r| &r[0]).collect();
        for pair in oids.windows(2) {
            let (SqlValue::Text(a), SqlValue::Text(b)) = (pair[0], pair[1]) else {
                panic!("{query:?}: OIDs are not text: {oids:?}");
            };
            assert!(a < b, "{query:?}: OIDs out of order: {oids:?}");
        }
    });
}

thread_local! {
    /// An in-memory catalog with a few indexed objects holding every
    /// field of the sample schema.
    static CATALOG: RefCell<Conn> = RefCell::new(Conn::from_raw(sample_catalog()));
}

fn sample_catalog() -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory catalog");
    conn.execute_batch(include_str!("../catalog/schema.sql"))
        .expect("catalog schema");
    conn.pragma_update(None, "case_sensitive_like", true)
        .expect("pragma");
    let fields = sample::fields();
    for k in 1..=OBJECTS {
        let mut oid = vec![0u8; 30];
        oid[0] = 2;
        oid[5] = k;
        let hex = crate::archive::value::to_hex(&oid);
        conn.execute(
            "INSERT INTO archive_objects (oid, image_id, ctime_ms, indexed) VALUES (?1, 0, 0, 1)",
            [&hex],
        )
        .expect("object row");
        for def in &fields.0 {
            let n = i64::from(k);
            let v = match def.ty {
                FieldType::Long => Value::Long(n * 5 - 7),
                FieldType::Double => Value::Double(n as f64 * 1.5),
                FieldType::String => Value::String(format!("Alpha{n}%_é")),
                FieldType::Char => Value::Char(format!("c{n}")),
                FieldType::Binary => Value::Binary(vec![n as u8, 2]),
                FieldType::Date => Value::Date(14_900 + n),
                FieldType::Time => Value::Time(3600 * n),
                FieldType::Timestamp => Value::Timestamp(1_287_532_800_000 + n),
                FieldType::ObjectId => Value::ObjectId(oid.clone()),
            };
            conn.execute(
                &format!(
                    "INSERT INTO object_fields (oid, name, {}) VALUES (?1, ?2, ?3)",
                    def.ty.column()
                ),
                rusqlite::params![hex, def.name, v.to_sql()],
            )
            .expect("field row");
        }
    }
    conn
}
