//! The end-to-end query cases of `tests_sqlite`, run through the catalog
//! (`catalog::open`, `catalog::archive::run_query`) on whichever database
//! the tests' catalogs are in: SQLite, or PostgreSQL with
//! `COMBSTORE_TEST_CATALOG=postgres` (`make test-scaleout`), each
//! translated for that catalog's dialect. Every case must give the same
//! rows on both; random queries are compared row for row with SQLite's.

use tempfile::TempDir;

use super::sample::fields;
use super::tests::Rng;
use super::tests_sqlite::{Gen, binding_cases, db, objects, oid, oid_bytes, query_cases, sample_binding};
use super::*;
use crate::archive::SqlValue as S;
use crate::catalog::{self, Conn};

/// A catalog holding [`objects`] (and object 11, not indexed), as the
/// storage writes them.
fn catalog_of(objs: &[(u8, Vec<(&str, Value)>)]) -> (TempDir, Conn) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = catalog::open(&dir.path().join("catalog.db"), 0, "u").unwrap();
    let tx = catalog::write_txn(&mut conn).unwrap();
    for (n, fs) in objs {
        let id = oid(*n);
        catalog::archive::insert_object(&tx, &id, 0, 0, "").unwrap();
        let mut rows = vec![(
            "system.object_id".to_string(),
            Value::ObjectId(oid_bytes(*n)).to_sql(),
        )];
        rows.extend(fs.iter().map(|(name, v)| (name.to_string(), v.to_sql())));
        catalog::archive::index_object(&tx, &id, &rows).unwrap();
    }
    catalog::archive::insert_object(&tx, &oid(11), 0, 0, "").unwrap();
    tx.commit().unwrap();
    (dir, conn)
}

fn catalog() -> (TempDir, Conn) {
    let f = fields();
    let objs: Vec<(u8, Vec<(&str, Value)>)> = objects()
        .into_iter()
        .map(|(n, fs)| {
            let fs = fs
                .into_iter()
                .map(|(name, text)| (name, Value::decode(f.field(name).unwrap().ty, text).unwrap()))
                .collect();
            (n, fs)
        })
        .collect();
    catalog_of(&objs)
}

/// Runs a query page by page on the catalog; every row: OID and selected
/// values.
fn run_paged(
    conn: &Conn,
    q: &str,
    selects: &[&str],
    bindings: &[(usize, Value)],
    page: u32,
) -> Result<Vec<(String, Vec<S>)>, QueryError> {
    let plan = translate_for(catalog::dialect(conn), q, selects, &fields())?;
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (sql, params) = plan.bind(bindings, &after, page)?;
        let rows = catalog::archive::run_query(conn, &sql, &params)
            .unwrap_or_else(|e| panic!("{q:?}: {e}\n{sql}\n{params:?}"));
        let full = rows.len() == page as usize;
        for mut row in rows {
            let S::Text(o) = row.remove(0) else {
                panic!("{q:?}: an OID that is not text")
            };
            after.clone_from(&o);
            out.push((o, row));
        }
        if !full {
            return Ok(out);
        }
    }
}

/// The object numbers a query returns; the same for every page size.
fn ids(conn: &Conn, q: &str, bindings: &[(usize, Value)]) -> Vec<u8> {
    let all = run_paged(conn, q, &[], bindings, 1000).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    let nums: Vec<u8> = all
        .iter()
        .map(|(o, _)| (1..=11).find(|n| oid(*n) == *o).unwrap())
        .collect();
    for page in [1, 3] {
        let paged = run_paged(conn, q, &[], bindings, page).unwrap();
        assert_eq!(paged, all, "{q:?} with pages of {page}");
    }
    nums
}

#[test]
fn queries_return_the_matching_objects_in_the_catalog() {
    let (_dir, conn) = catalog();
    let mut failures = Vec::new();
    for (q, mut want) in query_cases() {
        want.sort_by_key(|n| oid(*n));
        let got = ids(&conn, &q, &[]);
        if got != want {
            failures.push(format!("{q:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn prepared_statement_bindings_in_the_catalog() {
    let (_dir, conn) = catalog();
    let mut failures = Vec::new();
    for (q, b, mut want) in binding_cases() {
        want.sort_by_key(|n| oid(*n));
        let got = ids(&conn, q, &b);
        if got != want {
            failures.push(format!("{q:?} {b:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A bad LIKE escape from a binding is refused before any SQL runs.
    let e = run_paged(
        &conn,
        "title LIKE 'x' ESCAPE ?",
        &[],
        &[(1, Value::String("!!".into()))],
        10,
    )
    .unwrap_err();
    assert_eq!(e.kind, QueryErrorKind::Binding);
}

#[test]
fn select_list_values_read_back_from_the_catalog() {
    let (_dir, conn) = catalog();
    let rows = run_paged(&conn, "pages > 15", &["title", "pages"], &[], 1).unwrap();
    assert_eq!(
        rows,
        vec![
            (oid(2), vec![S::Text("alpha".into()), S::Integer(20)]),
            (oid(4), vec![S::Text("gamma*?[x]".into()), S::Integer(30)]),
        ]
    );
    let selects = [
        "system.test.type_date",
        "system.object_id",
        "system.test.type_double",
        "system.test.type_binary",
    ];
    let plan = translate_for(catalog::dialect(&conn), "pages = 10", &selects, &fields()).unwrap();
    let rows = run_paged(&conn, "pages = 10", &selects, &[], 10).unwrap();
    assert_eq!(rows.len(), 1);
    let vals: Vec<Value> = plan
        .selects()
        .iter()
        .zip(rows[0].1.iter())
        .map(|(col, v)| Value::from_sql(col.ty, v.clone()).unwrap())
        .collect();
    assert_eq!(
        vals,
        vec![
            Value::Date(14902),
            Value::ObjectId(oid_bytes(1)),
            Value::Double(1.5),
            Value::Binary(vec![1, 2]),
        ]
    );
}

/// Doubles SQLite's REAL cannot hold (NaN, -0.0) read back exactly, and
/// compare as in SQLite: NaN as NULL (matching nothing, not even IS NOT
/// NULL), -0.0 as 0.
#[test]
fn nan_and_negative_zero_in_the_catalog() {
    let d = |x: f64| vec![("system.test.type_double", Value::Double(x))];
    let (_dir, conn) = catalog_of(&[(1, d(f64::NAN)), (2, d(-0.0)), (3, d(1.0))]);
    for (q, want) in [
        ("system.test.type_double IS NOT NULL", vec![2, 3]),
        ("system.test.type_double = 0", vec![2]),
        ("system.test.type_double >= 0", vec![2, 3]),
        ("system.test.type_double > 1e300", vec![]),
        ("system.test.type_double < 1e300", vec![2, 3]),
        ("NOT (system.test.type_double < 5)", vec![]),
        ("system.object_id IS NOT NULL", vec![1, 2, 3]),
    ] {
        let mut want = want;
        want.sort_by_key(|n| oid(*n));
        assert_eq!(ids(&conn, q, &[]), want, "{q}");
    }
    let rows = run_paged(
        &conn,
        "system.object_id IS NOT NULL",
        &["system.test.type_double"],
        &[],
        10,
    )
    .unwrap();
    let got: Vec<(String, u64)> = rows
        .into_iter()
        .map(
            |(o, v)| match Value::from_sql(FieldType::Double, v[0].clone()).unwrap() {
                Value::Double(x) => (o, x.to_bits()),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    let mut want = vec![
        (oid(1), f64::NAN.to_bits()),
        (oid(2), (-0.0f64).to_bits()),
        (oid(3), 1.0f64.to_bits()),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn injection_leaves_the_catalog_alone() {
    let (_dir, conn) = catalog();
    let before = run_paged(&conn, "system.object_id IS NOT NULL", &["title"], &[], 100).unwrap();
    for q in [
        "title = 'x''; DROP TABLE object_fields; --'",
        "title = 'a' OR 1=1 --",
        "title = {string ''') OR 1=1 OR (''' }",
        "title IN ('a'') OR (''1''=''1')",
        "title LIKE '%'' OR ''1''=''1'",
        "title LIKE '%\\'",
    ] {
        match run_paged(&conn, q, &[], &[], 100) {
            Ok(rows) => assert!(rows.is_empty(), "{q:?} matched {rows:?}"),
            Err(e) => assert!(e.pos.is_some(), "{q:?}: {e}"),
        }
    }
    let rows = run_paged(
        &conn,
        "title = ?",
        &[],
        &[(1, Value::String("x'; DROP TABLE object_fields; --".into()))],
        5,
    );
    assert!(rows.unwrap().is_empty());
    let after = run_paged(&conn, "system.object_id IS NOT NULL", &["title"], &[], 100).unwrap();
    assert_eq!(before, after);
}

/// Random well-formed queries: whatever translates runs on the catalog's
/// database and returns the rows the same query returns in SQLite.
#[test]
fn random_queries_give_sqlites_rows() {
    let (_dir, conn) = catalog();
    let lite = db();
    let dialect = catalog::dialect(&conn);
    let f = fields();
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let (mut ran, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for _ in 0..3000 {
        let q = Gen { rng: &mut rng }.cond(3);
        let Ok(plan) = translate_for(dialect, &q, &["title"], &f) else {
            assert!(
                translate(&q, &["title"], &f).is_err(),
                "{q:?} refused in {dialect:?} only"
            );
            refused += 1;
            continue;
        };
        let b: Vec<(usize, Value)> = plan
            .placeholders()
            .iter()
            .map(|p| (p.number, sample_binding(p.ty)))
            .collect();
        let (sql, params) = plan.bind(&b, "", 50).unwrap_or_else(|e| panic!("{q:?}: {e}"));
        let got = catalog::archive::run_query(&conn, &sql, &params)
            .unwrap_or_else(|e| panic!("{q:?}: {e}\n{sql}\n{params:?}"));
        let plan = translate(&q, &["title"], &f).unwrap();
        let (sql, params) = plan.bind(&b, "", 50).unwrap();
        let mut st = lite.prepare(&sql).unwrap();
        let want: Vec<Vec<S>> = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok(vec![r.get::<_, S>(0)?, r.get::<_, S>(1)?])
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        if got != want {
            failures.push(format!("{q:?}:\n  got  {got:?}\n  want {want:?}"));
        }
        ran += 1;
    }
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran > 300 && refused > 300, "ran {ran}, refused {refused}");
}

/// In PostgreSQL, a comparison of a double field is one range of the
/// index on the expression it compares (`nullif(v_real, NaN)`), as an
/// integer's or a text's is of its column's (SQLite: tests_sqlite).
#[test]
fn a_double_comparison_is_an_index_range_in_postgresql_too() {
    let (_d, conn) = catalog();
    if catalog::dialect(&conn) != Dialect::Postgres {
        return; // PostgreSQL's plans (COMBSTORE_TEST_CATALOG=postgres)
    }
    // a handful of rows: the planner would scan them all otherwise
    catalog::archive::run_query(&conn, "SELECT set_config('enable_seqscan', 'off', false)", &[]).unwrap();
    for q in ["system.test.type_double = 2.5", "system.test.type_double > 1.0"] {
        let plan = translate_for(Dialect::Postgres, q, &[], &fields()).unwrap();
        let (sql, params) = plan.bind(&[], "", 100).unwrap();
        let steps: Vec<String> = catalog::archive::run_query(&conn, &format!("EXPLAIN {sql}"), &params)
            .unwrap()
            .into_iter()
            .map(|mut r| match r.remove(0) {
                S::Text(t) => t,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            steps.iter().any(|s| s.contains("object_fields_real_nn_oid")),
            "{q}:\n{}",
            steps.join("\n")
        );
    }
}
