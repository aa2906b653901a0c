//! End-to-end tests: translated queries run against the storage layout in
//! an in-memory SQLite database.

use crate::archive::SqlValue as S;
use rusqlite::Connection;

use super::sample::fields;
use super::tests::Rng;
use super::*;
use crate::archive::value::to_hex;

/// The two tables of the layout (as in catalog/schema.sql).
const TABLES: &str = "
CREATE TABLE archive_objects (
    oid      TEXT PRIMARY KEY,
    image_id INTEGER NOT NULL,
    ctime_ms INTEGER NOT NULL,
    indexed  INTEGER NOT NULL DEFAULT 0,
    pending  TEXT
);
CREATE TABLE object_fields (
    oid    TEXT NOT NULL,
    name   TEXT NOT NULL,
    v_int  INTEGER,
    v_real REAL,
    v_bits BLOB,
    v_text TEXT,
    v_blob BLOB
);
CREATE INDEX object_fields_oid ON object_fields (oid, name);
CREATE INDEX object_fields_int_oid ON object_fields (name, v_int, oid);
CREATE INDEX object_fields_real_oid ON object_fields (name, v_real, oid);
CREATE INDEX object_fields_text_oid ON object_fields (name, v_text, oid);
CREATE INDEX object_fields_blob_oid ON object_fields (name, v_blob, oid);
";

pub(super) fn oid_bytes(n: u8) -> Vec<u8> {
    let mut b = vec![0u8; 30];
    b[0] = 2;
    b[5] = n;
    b[29] = n.wrapping_mul(7);
    b
}

pub(super) fn oid(n: u8) -> String {
    to_hex(&oid_bytes(n))
}

/// Stores object `n` with `system.object_id` and the given fields (values
/// decoded from strings by the fields' types), as the storage does.
fn add(c: &Connection, n: u8, fields_: &[(&str, &str)]) {
    let f = fields();
    let id = oid(n);
    c.execute(
        "INSERT INTO archive_objects (oid, image_id, ctime_ms, indexed) VALUES (?1, 0, 0, 1)",
        [&id],
    )
    .unwrap();
    let mut rows = vec![("system.object_id".to_string(), Value::ObjectId(oid_bytes(n)))];
    for (name, text) in fields_ {
        let def = f.field(name).unwrap_or_else(|| panic!("{name}"));
        rows.push((name.to_string(), Value::decode(def.ty, text).unwrap()));
    }
    for (name, v) in rows {
        let col = v.ty().column();
        c.execute(
            &format!("INSERT INTO object_fields (oid, name, {col}) VALUES (?1, ?2, ?3)"),
            rusqlite::params![id, name, v.to_sql()],
        )
        .unwrap();
    }
}

/// The test objects: number and fields (as strings, decoded by the
/// fields' types); object 11 is stored but not indexed.
pub(super) fn objects() -> Vec<(u8, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            1,
            vec![
                ("title", "Alpha"),
                ("pages", "10"),
                ("system.test.type_double", "1.5"),
                ("system.test.type_date", "2010-10-20"),
                ("system.test.type_time", "22:10:29"),
                ("system.test.type_timestamp", "2006-10-26T12:00:00.000Z"),
                ("system.test.type_binary", "0102"),
                ("system.test.type_char", "abc"),
                ("system.test.type_string", "Hello World"),
                ("first", "x"),
            ],
        ),
        (
            2,
            vec![
                ("title", "alpha"),
                ("pages", "20"),
                ("system.test.type_date", "2011-01-01"),
                ("system.test.type_char", "ABC"),
                ("system.test.type_string", "a%b"),
            ],
        ),
        (
            3,
            vec![
                ("title", "Beta"),
                ("system.test.type_long", "5"),
                ("system.test.type_double", "3"),
            ],
        ),
        (
            4,
            vec![
                ("title", "gamma*?[x]"),
                ("pages", "30"),
                ("system.test.type_double", "-2"),
            ],
        ),
        (5, vec![("pages", "10")]),
        (6, vec![("title", "x' OR 1=1 --"), ("pages", "0")]),
        (7, vec![("title", "Ünïcode ✓"), ("a b", "space")]),
        (8, vec![("title", "x*y"), ("a b", "x*y")]),
        (9, vec![("title", "xzy"), ("a b", "x*y")]),
        (10, vec![("title", "xyz"), ("a b", "x%")]),
    ]
}

pub(super) fn db() -> Connection {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(TABLES).unwrap();
    for (n, fields_) in objects() {
        add(&c, n, &fields_);
    }
    // A stored object whose fields are not indexed yet: never matches.
    c.execute(
        "INSERT INTO archive_objects (oid, image_id, ctime_ms, indexed) VALUES (?1, 0, 0, 0)",
        [oid(11)],
    )
    .unwrap();
    c
}

/// Runs a query page by page; every row: OID and selected values.
fn run_paged(
    c: &Connection,
    q: &str,
    selects: &[&str],
    bindings: &[(usize, Value)],
    page: u32,
) -> Result<Vec<(String, Vec<S>)>, QueryError> {
    let plan = translate(q, selects, &fields())?;
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (sql, params) = plan.bind(bindings, &after, page)?;
        let mut st = c.prepare(&sql).unwrap_or_else(|e| panic!("{q:?}: {e}\n{sql}"));
        let n = selects.len();
        let rows: Vec<(String, Vec<S>)> = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                let mut vals = Vec::with_capacity(n);
                for k in 0..n {
                    vals.push(r.get::<_, S>(k + 1)?);
                }
                Ok((r.get::<_, String>(0)?, vals))
            })
            .unwrap_or_else(|e| panic!("{q:?}: {e}"))
            .collect::<rusqlite::Result<_>>()
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
        let full = rows.len() == page as usize;
        if let Some((last, _)) = rows.last() {
            after = last.clone();
        }
        out.extend(rows);
        if !full {
            return Ok(out);
        }
    }
}

/// The object numbers a query returns; the same for every page size.
fn ids(c: &Connection, q: &str, bindings: &[(usize, Value)]) -> Vec<u8> {
    let all = run_paged(c, q, &[], bindings, 1000).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    let nums: Vec<u8> = all
        .iter()
        .map(|(o, _)| (1..=11).find(|n| oid(*n) == *o).unwrap())
        .collect();
    for page in [1, 2, 3] {
        let paged = run_paged(c, q, &[], bindings, page).unwrap();
        assert_eq!(paged, all, "{q:?} with pages of {page}");
    }
    nums
}

/// Queries over [`objects`] and the objects they match.
pub(super) fn query_cases() -> Vec<(String, Vec<u8>)> {
    let objectid = format!("system.object_id = '{}'", oid(3));
    let objectid_typed = format!("system.object_id = {{objectid '{}'}}", oid(3).to_uppercase());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "system.object_id IS NOT NULL",
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        ),
        ("'a' = 'a'", vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        (
            "CURRENT_TIME >= {time '00:00:00'}",
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        ),
        // Implicit INNER JOIN of every field named.
        ("title IS NOT NULL OR pages IS NOT NULL", vec![1, 2, 4, 6]),
        ("title IS NULL", vec![]),
        ("pages IS NULL OR pages = 10", vec![1, 5]),
        // LIKE is case-sensitive; GLOB metacharacters are literal.
        ("title LIKE 'a%'", vec![2]),
        ("title LIKE 'A%'", vec![1]),
        ("title NOT LIKE 'a%'", vec![1, 3, 4, 6, 7, 8, 9, 10]),
        ("title LIKE '_lpha'", vec![1, 2]),
        ("title LIKE 'gamma*%'", vec![4]),
        ("title LIKE '%[x]'", vec![4]),
        ("title LIKE '%?%'", vec![4]),
        ("title LIKE 'x*y'", vec![8]),
        ("title LIKE '%'", vec![1, 2, 3, 4, 6, 7, 8, 9, 10]),
        ("title LIKE 'Ünï%✓'", vec![7]),
        ("title LIKE 'Ünï_ode _'", vec![7]),
        ("system.test.type_string LIKE 'a!%b' ESCAPE '!'", vec![2]),
        ("system.test.type_string LIKE 'a!%%' {escape '!'}", vec![2]),
        ("system.test.type_string LIKE 'a!_%' ESCAPE '!'", vec![]),
        ("title LIKE \"a b\"", vec![8, 10]),
        ("{fn LCASE(title)} LIKE 'alpha'", vec![1, 2]),
        // BETWEEN, IN.
        ("pages BETWEEN 10 AND 20", vec![1, 2, 5]),
        ("pages NOT BETWEEN 10 AND 20", vec![4, 6]),
        ("pages IN (10, 30)", vec![1, 4, 5]),
        ("pages NOT IN (10, 30)", vec![2, 6]),
        ("title IN ('Beta', 'xzy', 'nope')", vec![3, 9]),
        // Typed values and string literals decoded by the field's type.
        ("system.test.type_date = '2010-10-20'", vec![1]),
        ("{date '2011-01-01'} = system.test.type_date", vec![2]),
        ("system.test.type_date < {d '2011-01-01'}", vec![1]),
        (
            "system.test.type_date BETWEEN '2010-01-01' AND '2010-12-31'",
            vec![1],
        ),
        ("system.test.type_time = '22:10:29'", vec![1]),
        ("system.test.type_time > {time '22:00:00'}", vec![1]),
        (
            "system.test.type_timestamp = {timestamp '2006-10-26T12:00:00.000Z'}",
            vec![1],
        ),
        (
            "system.test.type_timestamp = {ts '2006-10-26 12:00:00.000'}",
            vec![1],
        ),
        ("system.test.type_timestamp > '2006-10-26T11:59:59.999Z'", vec![1]),
        ("system.test.type_binary = x'0102'", vec![1]),
        ("system.test.type_binary = '0102'", vec![1]),
        ("system.test.type_binary > x'01'", vec![1]),
        (&objectid, vec![3]),
        (&objectid_typed, vec![3]),
        ("system.test.type_long = '5'", vec![3]),
        // Numbers of both types compare numerically.
        ("system.test.type_double > -1", vec![1, 3]),
        ("system.test.type_double = -2", vec![4]),
        ("system.test.type_double > '1.0'", vec![1, 3]),
        ("system.test.type_double = 3", vec![3]),
        ("pages > 9.5", vec![1, 2, 4, 5]),
        ("pages = 10.0", vec![1, 5]),
        // BINARY collation: code-point order.
        ("system.test.type_char > 'AB'", vec![1, 2]),
        ("system.test.type_char < 'a'", vec![2]),
        ("title >= 'a'", vec![2, 4, 6, 7, 8, 9, 10]),
        // Functions and operators.
        ("{fn UCASE(title)} = 'ALPHA'", vec![1, 2]),
        ("{fn LENGTH(title)} = 4", vec![3]),
        ("{fn LENGTH(title)} = 9", vec![7]),
        ("{fn LENGTH(system.test.type_binary)} = 2", vec![1]),
        ("{fn LOCATE('a', title, 3)} = 5", vec![1, 2, 4]),
        ("{fn LOCATE('a', title)} = 1", vec![2]),
        ("{fn LOCATE('a', title, -4)} = 1", vec![2]),
        ("{fn SUBSTRING(title, 2, 3)} = 'lph'", vec![1, 2]),
        ("{fn SUBSTRING(title, 6)} = '*?[x]'", vec![4]),
        // SQLite's substr: from the end, before the start, truncated.
        ("{fn SUBSTRING(title, -3, 2)} = 'ph'", vec![1, 2]),
        ("{fn SUBSTRING(title, -4)} = 'lpha'", vec![1, 2]),
        ("{fn SUBSTRING(title, -40, 39)} = 'Alph'", vec![1]),
        ("{fn SUBSTRING(title, 0, 2)} = 'A'", vec![1]),
        ("{fn SUBSTRING(title, 0)} = 'Beta'", vec![3]),
        ("{fn SUBSTRING(title, 3, -2)} = 'Al'", vec![1]),
        ("{fn SUBSTRING(title, -1, -2)} = 'ph'", vec![1, 2]),
        (
            "{fn SUBSTRING(title, 0, -2)} = ''",
            vec![1, 2, 3, 4, 6, 7, 8, 9, 10],
        ),
        ("{fn SUBSTRING(title, 2.9, 1.9)} = 'l'", vec![1, 2]),
        ("{fn LOCATE('a', title, 2.5)} = 5.5", vec![1, 2]),
        ("pages / 0 IS NULL", vec![1, 2, 4, 5, 6]),
        ("pages / 0.0 IS NULL", vec![1, 2, 4, 5, 6]),
        ("{fn UCASE('é')} = 'é'", vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ("'B' < 'a'", vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ("title || NULL IS NULL", vec![1, 2, 3, 4, 6, 7, 8, 9, 10]),
        ("title = - NULL OR pages = 30", vec![4]),
        ("title || '!' = 'Beta!'", vec![3]),
        ("{fn CONCAT(title, '!')} = 'Beta!'", vec![3]),
        ("{fn ABS(system.test.type_double)} = 2", vec![4]),
        (
            "{fn LTRIM('  x')} = {fn RTRIM('x  ')}",
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        ),
        ("pages * 2 = 40", vec![2]),
        ("pages -1 = 9", vec![1, 5]),
        ("pages / 3 = 3", vec![1, 5]),
        ("- pages = -30", vec![4]),
        (
            "{fn TIMESTAMPDIFF(SQL_TSI_HOUR, {timestamp '2006-10-26T10:00:00.000Z'}, system.test.type_timestamp)} = 2",
            vec![1],
        ),
        (
            "{fn TIMESTAMPDIFF(SQL_TSI_DAY, system.test.type_date, {date '2010-10-25'})} = 5",
            vec![1],
        ),
        (
            "{fn TIMESTAMPADD(SQL_TSI_DAY, 1, system.test.type_timestamp)} = {timestamp '2006-10-27T12:00:00.000Z'}",
            vec![1],
        ),
        ("system.test.type_date < CURRENT_DATE", vec![1, 2]),
        ("system.test.type_date > CURRENT_DATE", vec![]),
        ("system.test.type_timestamp < CURRENT_TIMESTAMP", vec![1]),
        ("system.test.type_timestamp > {fn NOW()}", vec![]),
        // Quoted names, Unicode, injection-shaped values.
        ("\"a b\" = 'space'", vec![7]),
        ("\"first\" = 'x'", vec![1]),
        ("title = 'Ünïcode ✓'", vec![7]),
        ("title = 'x'' OR 1=1 --'", vec![6]),
        ("title = 'x'' OR 1=1 --' OR title = 'Beta'", vec![3, 6]),
        (
            "NOT (title = 'Alpha' OR title LIKE 'x%') AND pages >= 0",
            vec![2, 4],
        ),
    ];
    cases.into_iter().map(|(q, want)| (q.to_string(), want)).collect()
}

#[test]
fn queries_return_the_matching_objects() {
    let c = db();
    let mut failures = Vec::new();
    for (q, mut want) in query_cases() {
        let q = q.as_str();
        want.sort_by_key(|n| oid(*n));
        let got = ids(&c, q, &[]);
        if got != want {
            failures.push(format!("{q:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A query, its bindings and the objects of [`objects`] it matches.
pub(super) type BindingCase = (&'static str, Vec<(usize, Value)>, Vec<u8>);

/// Queries with `?` over [`objects`].
pub(super) fn binding_cases() -> Vec<BindingCase> {
    let s = |x: &str| Value::String(x.into());
    vec![
        ("pages > ?", vec![(1, Value::Long(15))], vec![2, 4]),
        ("pages > ?", vec![(1, s("15"))], vec![2, 4]),
        ("pages > ?", vec![(1, Value::Double(9.5))], vec![1, 2, 4, 5]),
        ("title = ?", vec![(1, Value::Char("Beta".into()))], vec![3]),
        ("title = ?", vec![(1, s("x' OR 1=1 --"))], vec![6]),
        ("title = ?", vec![(1, s("' OR ''='"))], vec![]),
        ("title LIKE ?", vec![(1, s("a%"))], vec![2]),
        ("title LIKE ?", vec![(1, s("x*y"))], vec![8]),
        (
            "\"a b\" LIKE ? ESCAPE ?",
            vec![(1, s("x!%")), (2, s("!"))],
            vec![10],
        ),
        ("title LIKE 'x!%' ESCAPE ?", vec![(1, s("!"))], vec![]),
        ("system.test.type_date = ?", vec![(1, s("2010-10-20"))], vec![1]),
        (
            "system.test.type_date = ?",
            vec![(1, Value::Date(14975))],
            vec![2],
        ),
        ("system.test.type_time = ?", vec![(1, s("22:10:29"))], vec![1]),
        (
            "system.test.type_timestamp = ?",
            vec![(1, s("2006-10-26T12:00:00.000Z"))],
            vec![1],
        ),
        (
            "system.test.type_binary = ?",
            vec![(1, Value::Binary(vec![1, 2]))],
            vec![1],
        ),
        ("system.object_id = ?", vec![(1, s(&oid(4)))], vec![4]),
        (
            "system.object_id = ?",
            vec![(1, Value::ObjectId(oid_bytes(5)))],
            vec![5],
        ),
        (
            "pages BETWEEN ? AND ?",
            vec![(2, Value::Long(20)), (1, Value::Long(10))],
            vec![1, 2, 5],
        ),
        (
            "pages IN (?, ?, 30)",
            vec![(1, Value::Long(0)), (2, Value::Long(20))],
            vec![2, 4, 6],
        ),
        ("{fn UCASE(?)} = {fn UCASE(title)}", vec![(1, s("beta"))], vec![3]),
    ]
}

#[test]
fn prepared_statement_bindings() {
    let c = db();
    let mut failures = Vec::new();
    for (q, b, mut want) in binding_cases() {
        want.sort_by_key(|n| oid(*n));
        let got = ids(&c, q, &b);
        if got != want {
            failures.push(format!("{q:?} {b:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let e = run_paged(&c, "pages > ?", &[], &[], 10).unwrap_err();
    assert_eq!((e.kind, e.pos), (QueryErrorKind::Binding, Some(8)));
    let e = run_paged(&c, "pages > ?", &[], &[(1, Value::Date(1))], 10).unwrap_err();
    assert_eq!((e.kind, e.pos), (QueryErrorKind::Binding, Some(8)));
}

#[test]
fn select_list_values_and_implicit_join() {
    let c = db();
    let rows = run_paged(&c, "pages > 15", &["title", "pages"], &[], 1).unwrap();
    assert_eq!(
        rows,
        vec![
            (oid(2), vec![S::Text("alpha".into()), S::Integer(20)]),
            (oid(4), vec![S::Text("gamma*?[x]".into()), S::Integer(30)]),
        ]
    );
    // Object 5 has pages but no title: a selected field joins too.
    let rows = run_paged(&c, "pages = 10", &["title"], &[], 10).unwrap();
    assert_eq!(rows, vec![(oid(1), vec![S::Text("Alpha".into())])]);
    // Values read back with their types.
    let plan = translate(
        "pages = 10",
        &["system.test.type_date", "system.object_id"],
        &fields(),
    )
    .unwrap();
    let rows = run_paged(
        &c,
        "pages = 10",
        &["system.test.type_date", "system.object_id"],
        &[],
        10,
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    let vals: Vec<Value> = plan
        .selects()
        .iter()
        .zip(rows[0].1.iter())
        .map(|(col, v)| Value::from_sql(col.ty, v.clone()).unwrap())
        .collect();
    assert_eq!(vals, vec![Value::Date(14902), Value::ObjectId(oid_bytes(1))]);
}

#[test]
fn paging_cookie_continues_after_the_last_oid() {
    let c = db();
    let plan = translate("system.object_id IS NOT NULL", &[], &fields()).unwrap();
    let page = |after: &str| -> Vec<String> {
        let (sql, params) = plan.bind(&[], after, 3).unwrap();
        let mut st = c.prepare(&sql).unwrap();
        st.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut all: Vec<String> = (1..=10).map(oid).collect();
    all.sort();
    assert_eq!(page(""), all[..3]);
    assert_eq!(page(&all[2]), all[3..6]);
    assert_eq!(page(&all[8]), all[9..]);
    assert!(page(&all[9]).is_empty());
}

#[test]
fn injection_leaves_the_database_alone() {
    let c = db();
    let count = |c: &Connection| -> (i64, i64) {
        let a = c
            .query_row("SELECT count(*) FROM archive_objects", [], |r| r.get(0))
            .unwrap();
        let b = c
            .query_row("SELECT count(*) FROM object_fields", [], |r| r.get(0))
            .unwrap();
        (a, b)
    };
    let before = count(&c);
    for q in [
        "title = 'x''; DROP TABLE object_fields; --'",
        "title = 'a' OR 1=1 --",
        "title = 'a'; DELETE FROM archive_objects",
        "\"a; DROP TABLE archive_objects\" = 1",
        "title = 'a' /* */ OR 1 = 1",
        "title = {string ''') OR 1=1 OR (''' }",
        "title IN ('a'') OR (''1''=''1')",
        "title LIKE '%'' OR ''1''=''1'",
    ] {
        match run_paged(&c, q, &[], &[], 100) {
            Ok(rows) => assert!(rows.is_empty(), "{q:?} matched {rows:?}"),
            Err(e) => assert!(e.pos.is_some(), "{q:?}: {e}"),
        }
    }
    let rows = run_paged(
        &c,
        "title = ?",
        &[],
        &[(1, Value::String("x'; DROP TABLE object_fields; --".into()))],
        5,
    );
    assert!(rows.unwrap().is_empty());
    assert_eq!(count(&c), before);
}

/// SQLite's own LIKE (made case-sensitive) is the oracle for the GLOB
/// translation of LIKE patterns.
#[test]
fn like_to_glob_agrees_with_sqlite_like() {
    let c = Connection::open_in_memory().unwrap();
    c.pragma_update(None, "case_sensitive_like", true).unwrap();
    let mut like = c.prepare("SELECT ?1 LIKE ?2").unwrap();
    let mut like_esc = c.prepare("SELECT ?1 LIKE ?2 ESCAPE ?3").unwrap();
    let mut glob = c.prepare("SELECT ?1 GLOB ?2").unwrap();
    let alphabet = [
        "a", "A", "b", "%", "_", "*", "?", "[", "]", "^", "-", "!", "é", "\\", "x",
    ];
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut compared = 0;
    for _ in 0..40_000 {
        let word =
            |rng: &mut Rng, n: usize| (0..rng.below(n)).map(|_| rng.pick(&alphabet)).collect::<String>();
        let s = word(&mut rng, 7);
        let p = word(&mut rng, 6);
        let esc = [None, Some('!'), Some('\\'), Some('a')][rng.below(4)];
        let Ok(g) = like_to_glob(&p, esc) else { continue };
        let want: bool = match esc {
            None => like.query_row((&s, &p), |r| r.get(0)).unwrap(),
            Some(e) => like_esc.query_row((&s, &p, e.to_string()), |r| r.get(0)).unwrap(),
        };
        let got: bool = glob.query_row((&s, &g), |r| r.get(0)).unwrap();
        assert_eq!(got, want, "{s:?} LIKE {p:?} ESCAPE {esc:?} vs GLOB {g:?}");
        compared += 1;
        // Also through the replace() chain used for computed patterns.
        if esc.is_none() {
            let via_sql: bool = c
                .query_row(
                    "SELECT ?1 GLOB replace(replace(replace(replace(replace(?2, '[', '[[]'), '*', '[*]'), \
                     '?', '[?]'), '%', '*'), '_', '?')",
                    (&s, &p),
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(via_sql, want, "{s:?} LIKE {p:?} via replace()");
        }
    }
    assert!(compared > 20_000, "{compared}");
}

/// Generates random well-formed queries; whatever translates must
/// prepare and run in SQLite.
pub(super) struct Gen<'a> {
    pub(super) rng: &'a mut Rng,
}

impl Gen<'_> {
    fn value(&mut self, depth: usize) -> String {
        let leaf = [
            "title",
            "pages",
            "\"first\"",
            "\"a b\"",
            "system.test.type_long",
            "system.test.type_double",
            "system.test.type_char",
            "system.test.type_binary",
            "system.test.type_date",
            "system.test.type_time",
            "system.test.type_timestamp",
            "system.object_id",
            "'a'",
            "'%b_'",
            "''''",
            "N'n'",
            "x'0a0B'",
            "5",
            "-3",
            "0",
            "2.5",
            "-1e3",
            "?",
            "NULL",
            "'2010-10-20'",
            "'22:10:29'",
            "'2006-10-26T12:00:00.000Z'",
            "{date '2010-10-20'}",
            "{time '01:02:03'}",
            "{timestamp '2006-10-26T12:00:00.000Z'}",
            "{long '9'}",
            "{double '1.5'}",
            "{string 's'}",
            "{char 'c'}",
            "{binary '0a'}",
            "CURRENT_DATE",
            "CURRENT_TIME",
            "CURRENT_TIMESTAMP",
            "{fn NOW()}",
        ];
        if depth == 0 || self.rng.below(3) > 0 {
            return self.rng.pick(&leaf).to_string();
        }
        let a = self.value(depth - 1);
        let b = self.value(depth - 1);
        match self.rng.below(12) {
            0 => format!("{a} || {b}"),
            1 => format!("{a} + {b}"),
            2 => format!("{a} * {b} - {b}"),
            3 => format!("{a} / {b}"),
            4 => format!("- {a}"),
            5 => format!("({a})"),
            6 => format!(
                "{{fn {}({a})}}",
                self.rng
                    .pick(&["UCASE", "LCASE", "ABS", "LENGTH", "LTRIM", "RTRIM"])
            ),
            7 => format!("{{fn SUBSTRING({a}, {b}, 2)}}"),
            8 => format!("{{fn LOCATE({a}, {b}, 2)}}"),
            9 => format!("{{fn CONCAT({a}, {b})}}"),
            10 => format!("{{fn TIMESTAMPDIFF(SQL_TSI_MINUTE, {a}, {b})}}"),
            _ => format!("{{fn TIMESTAMPADD(SQL_TSI_FRAC_SECOND, {a}, {b})}}"),
        }
    }

    pub(super) fn cond(&mut self, depth: usize) -> String {
        let a = self.value(2);
        let b = self.value(2);
        if depth > 0 && self.rng.below(2) == 0 {
            let x = self.cond(depth - 1);
            let y = self.cond(depth - 1);
            return match self.rng.below(4) {
                0 => format!("{x} AND {y}"),
                1 => format!("{x} OR {y}"),
                2 => format!("NOT ({x})"),
                _ => format!("({x}) AND NOT {y}"),
            };
        }
        match self.rng.below(9) {
            0 => format!(
                "{a} {} {b}",
                self.rng.pick(&["=", "<>", "!=", "<", "<=", ">", ">="])
            ),
            1 => format!("{a} LIKE {b}"),
            2 => format!("{a} NOT LIKE {b} ESCAPE '!'"),
            3 => format!("{a} BETWEEN {b} AND {}", self.value(1)),
            4 => format!("{a} NOT IN ({b}, {}, 5)", self.value(1)),
            5 => format!("{a} IS NULL"),
            6 => format!("{a} IS NOT NULL"),
            7 => format!("{a} IN ({b})"),
            _ => format!("{a} = {b}"),
        }
    }
}

pub(super) fn sample_binding(ty: FieldType) -> Value {
    match ty {
        FieldType::Long => Value::Long(3),
        FieldType::Double => Value::Double(2.5),
        FieldType::String | FieldType::Char => Value::String("a%".into()),
        FieldType::Binary | FieldType::ObjectId => Value::Binary(vec![1, 2]),
        FieldType::Date => Value::String("2010-10-20".into()),
        FieldType::Time => Value::Time(60),
        FieldType::Timestamp => Value::Timestamp(1_161_864_000_000),
    }
}

#[test]
fn every_translated_query_runs() {
    let c = db();
    let f = fields();
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let (mut ran, mut refused) = (0, 0);
    for _ in 0..6000 {
        let q = Gen { rng: &mut rng }.cond(3);
        let plan = match translate(&q, &["title"], &f) {
            Ok(p) => p,
            Err(e) => {
                assert!(e.pos.is_some_and(|p| p <= q.chars().count()), "{q:?}: {e}");
                refused += 1;
                continue;
            }
        };
        let b: Vec<(usize, Value)> = plan
            .placeholders()
            .iter()
            .map(|p| (p.number, sample_binding(p.ty)))
            .collect();
        let (sql, params) = plan.bind(&b, "", 50).unwrap_or_else(|e| panic!("{q:?}: {e}"));
        let mut st = c.prepare(&sql).unwrap_or_else(|e| panic!("{q:?}: {e}\n{sql}"));
        let rows = st.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(0));
        let mut n = 0;
        for r in rows.unwrap_or_else(|e| panic!("{q:?}: {e}")) {
            r.unwrap_or_else(|e| panic!("{q:?}: {e}"));
            n += 1;
        }
        assert!(n <= 10);
        ran += 1;
    }
    assert!(ran > 500 && refused > 500, "ran {ran}, refused {refused}");
}

#[test]
fn limits_stay_within_sqlite() {
    let c = db();
    let f = fields();
    // Deepest nesting the parser allows, with a condition at each level.
    let mut q = String::from("title = 'a'");
    for _ in 0..MAX_NESTING / 2 - 1 {
        q = format!("NOT (pages = 1 OR {q})");
    }
    assert!(run_paged(&c, &q, &[], &[], 10).is_ok());
    let mut q = String::from("pages");
    for _ in 0..MAX_NESTING - 1 {
        q = format!("{{fn ABS({q} + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1)}}");
    }
    match translate(&format!("{q} > 0"), &[], &f) {
        Ok(_) => {
            run_paged(&c, &format!("{q} > 0"), &[], &[], 10).unwrap();
        }
        Err(e) => assert_eq!(e.kind, QueryErrorKind::TooComplex),
    }
    // A long IN list and a long OR chain.
    let list: Vec<String> = (0..5000).map(|k| k.to_string()).collect();
    assert_eq!(ids(&c, &format!("pages IN ({})", list.join(", ")), &[]).len(), 5);
    let ors: Vec<String> = (0..3000).map(|k| format!("pages = {k}")).collect();
    assert_eq!(ids(&c, &ors.join(" OR "), &[]).len(), 5);
}

/// The real catalog schema (catalog/schema.sql) runs translated queries.
#[test]
fn real_catalog_schema() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(include_str!("../../catalog/schema.sql")).unwrap();
    add(&c, 1, &[("title", "Alpha"), ("pages", "10")]);
    add(&c, 2, &[("title", "alpha")]);
    assert_eq!(ids(&c, "title LIKE 'a%'", &[]), vec![2]);
    assert_eq!(ids(&c, "title IS NOT NULL AND pages IS NOT NULL", &[]), vec![1]);
    // The catalog makes LIKE case-sensitive too; GLOB does not care.
    c.pragma_update(None, "case_sensitive_like", false).unwrap();
    assert_eq!(ids(&c, "title LIKE 'a%'", &[]), vec![2]);
}

/// Against the real catalog schema: a page of an equality query is one
/// range of the value index, with no sort of every match (the value
/// indexes end in the oid; catalog/schema.sql).
#[test]
fn an_equality_query_page_is_one_index_range() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = crate::catalog::open(&dir.path().join("catalog.db"), 0, "u").unwrap();
    if crate::catalog::dialect(&catalog) != Dialect::Sqlite {
        return; // SQLite's query plans (COMBSTORE_TEST_CATALOG=postgres)
    }
    let c = catalog.raw();
    for (q, index) in [
        ("pages = 10", "object_fields_int_oid"),
        ("title = 'Alpha'", "object_fields_text_oid"),
    ] {
        let plan = translate(q, &[], &fields()).unwrap();
        let (sql, params) = plan.bind(&[], "", 100).unwrap();
        let steps: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(params), |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            steps.iter().any(|s| s.contains(index) && s.contains("oid>?")),
            "{q}: {steps:?}"
        );
        assert!(!steps.iter().any(|s| s.contains("TEMP B-TREE")), "{q}: {steps:?}");
    }
}
