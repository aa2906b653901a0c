//! Hostile queries through the C API (issue 6): SQL injection attempts in
//! literal values, `?` bindings, quoted field names (of fields whose names
//! really are SQL) and select lists; each is either refused with a
//! documented code (HCERR_BAD_REQUEST, the status text naming the
//! position) or means exactly what its literal text says, and the catalog
//! is intact afterwards. Then schema validation at session creation.

use std::ffi::CString;
use std::ptr::null_mut;

use crate::common::hc::*;
use crate::common::{self, Server};
use crate::hc::{Sess, cs, get, hc_oid_from, oid_of, ok, query, rc, retrieve, store};

macro_rules! need_hc {
    () => {
        if !common::hc::available() {
            eprintln!("hc_* API not exported; skipped");
            return;
        }
    };
}

/// Namespace `inj` of fields whose names are SQL, plus an unreachable
/// non-queryable one, added to the factory schema.
const INJ_NAMESPACE: &str = r#"<namespace name="inj">
  <field name="a'; DROP TABLE object_fields; --" type="string" length="64"/>
  <field name="b&quot; OR &quot;1&quot;=&quot;1" type="long"/>
  <field name="名前 ü" type="string" length="64"/>
  <field name="hidden" type="string" length="64" queryable="false"/>
</namespace>"#;

const FIELD_A: &str = "inj.a'; DROP TABLE object_fields; --";
const FIELD_B: &str = "inj.b\" OR \"1\"=\"1";
const FIELD_U: &str = "inj.名前 ü";

/// A server whose schema is the factory schema plus `extra`: namespaces,
/// then optionally `<tables>` and tables to add.
fn server_with_schema(extra: &str) -> Server {
    let srv = Server::new();
    let (fields, tables) = extra.split_once("<tables>").unwrap_or((extra, ""));
    let xml = combstore::archive::schema::FACTORY_XML
        .replace("</schema>", &format!("{fields}\n</schema>"))
        .replace("</tables>", &format!("{tables}\n</tables>"));
    std::fs::write(srv.path.join("metadata_config.xml"), xml).unwrap();
    srv
}

/// A session on `srv`, or the error code of creating it (the pointer must
/// then be NULL).
fn session(srv: &Server) -> Result<*mut hc_session_t, hcerr_t> {
    let host = cs(srv.path.to_str().unwrap());
    let mut s = std::ptr::dangling_mut::<hc_session_t>(); // not NULL: a failure must set NULL
    let r = unsafe { hc_session_create_ez(host.as_ptr().cast_mut(), -1, &mut s) };
    if r == HCERR_OK {
        Ok(s)
    } else {
        assert!(s.is_null(), "a failed session create sets *session to NULL");
        Err(r)
    }
}

/// One object per (mimetype, uid, type_string) value, with the injection
/// fields set too when the session's schema has them; returns their OIDs.
fn store_objects(s: &Sess, rows: &[(&str, i64, &str)], inj: bool) -> Vec<String> {
    rows.iter()
        .map(|(mime, uid, text)| {
            let n = s.nvr();
            let (m, t) = (cs(mime), cs(text));
            unsafe {
                ok(
                    hc_nvr_add_string(
                        n,
                        c"filesystem.mimetype".as_ptr().cast_mut(),
                        m.as_ptr().cast_mut(),
                    ),
                    "mime",
                );
                ok(
                    hc_nvr_add_long(n, c"filesystem.uid".as_ptr().cast_mut(), *uid),
                    "uid",
                );
                ok(
                    hc_nvr_add_string(
                        n,
                        c"system.test.type_string".as_ptr().cast_mut(),
                        t.as_ptr().cast_mut(),
                    ),
                    "text",
                );
                if inj {
                    for (field, value) in [(FIELD_A, *mime), (FIELD_U, *text)] {
                        let (f, v) = (cs(field), cs(value));
                        ok(
                            hc_nvr_add_string(n, f.as_ptr().cast_mut(), v.as_ptr().cast_mut()),
                            field,
                        );
                    }
                    let f = cs(FIELD_B);
                    ok(hc_nvr_add_long(n, f.as_ptr().cast_mut(), *uid), FIELD_B);
                }
            }
            let data = format!("object {uid}");
            let (r, rec) = store(s, data.as_bytes(), n);
            ok(r, "store");
            unsafe { hc_nvr_free(n) };
            oid_of(&rec)
        })
        .collect()
}

/// The OIDs a query returns, sorted.
fn oids(s: &Sess, q: &str) -> Result<Vec<String>, hcerr_t> {
    let mut v: Vec<String> = query(s, q, &[], 2)?.into_iter().map(|r| r.0).collect();
    v.sort();
    Ok(v)
}

fn sorted(oids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = oids.iter().map(|o| (*o).clone()).collect();
    v.sort();
    v
}

/// A refused query: HCERR_BAD_REQUEST, and the session status says where.
#[track_caller]
fn refused(s: &Sess, q: &str, selects: &[&str], position: Option<usize>) {
    assert_eq!(
        query(s, q, selects, 5),
        Err(HCERR_BAD_REQUEST),
        "{q:?} {selects:?}"
    );
    let (code, text) = s.status();
    assert_eq!(code, 400, "{q:?}: {text}");
    if let Some(p) = position {
        assert!(text.contains(&format!("position {p}")), "{q:?}: {text}");
    }
}

/// Every object still there, with its data and metadata.
#[track_caller]
fn catalog_intact(s: &Sess, all: &[String], rows: &[(&str, i64, &str)]) {
    let mut want = all.to_vec();
    want.sort();
    assert_eq!(
        oids(s, "filesystem.uid >= 0").unwrap(),
        want,
        "every object still matches"
    );
    let got = query(
        s,
        "filesystem.uid >= 0",
        &["filesystem.mimetype", "filesystem.uid"],
        1,
    )
    .unwrap();
    for (oid, pairs) in got {
        let k = all.iter().position(|o| *o == oid).expect("a stored OID");
        assert_eq!(get(&pairs, "filesystem.mimetype").as_deref(), Some(rows[k].0));
        assert_eq!(get(&pairs, "filesystem.uid"), Some(rows[k].1.to_string()));
        let (r, data) = retrieve(s, &hc_oid_from(&oid));
        ok(r, "retrieve");
        assert_eq!(data, format!("object {}", rows[k].1).as_bytes());
    }
}

const ROWS: [(&str, i64, &str); 4] = [
    ("x' OR '1'='1", 1, "plain"),
    ("'; DROP TABLE objects; --", 2, "日本語 ' \" ; --"),
    ("plain", 3, "%' OR 1=1 --"),
    ("x", 4, "\\' OR \\'1"),
];

#[test]
fn injection_in_values_and_names_means_its_literal_text() {
    need_hc!();
    let s = Sess::new();
    let o = store_objects(&s, &ROWS, false);
    // Literal values holding SQL match exactly the object storing them.
    for (q, want) in [
        ("filesystem.mimetype = 'x'' OR ''1''=''1'", vec![&o[0]]),
        ("filesystem.mimetype = '''; DROP TABLE objects; --'", vec![&o[1]]),
        ("system.test.type_string = '日本語 '' \" ; --'", vec![&o[1]]),
        ("system.test.type_string = '%'' OR 1=1 --'", vec![&o[2]]),
        ("system.test.type_string = '\\'' OR \\''1'", vec![&o[3]]),
        ("system.test.type_string LIKE '%''%'", vec![&o[1], &o[2], &o[3]]),
        (
            "filesystem.mimetype LIKE 'x%' AND filesystem.uid = 1",
            vec![&o[0]],
        ),
        ("\"filesystem.mimetype\" = 'plain'", vec![&o[2]]),
        ("filesystem.mimetype = 'X'' OR ''1''=''1'", vec![]),
    ] {
        assert_eq!(oids(&s, q).unwrap(), sorted(&want), "{q}");
    }
    // Closing the literal early is legal query text that means what it
    // says: a comparison OR a constant condition, over objects having the
    // field.
    assert_eq!(
        oids(&s, "filesystem.mimetype = 'x' OR '1'='1'").unwrap(),
        sorted(&o.iter().collect::<Vec<_>>())
    );
    // Statement separators, comments, SQL words and unknown or quoted
    // names are refused, with the position of the offending token.
    for (q, position) in [
        ("filesystem.mimetype = ''; DROP TABLE objects; --'", 24),
        ("filesystem.uid = 1 -- AND filesystem.uid = 2", 19),
        ("filesystem.uid = 1 /* */", 19),
        ("filesystem.uid = 1 UNION SELECT oid FROM archive_objects", 19),
        ("filesystem.uid IN (SELECT v_int FROM object_fields)", 19),
        ("filesystem.uid = 1) OR (1=1", 18),
        ("\"a; DROP\" = 1", 0),
        ("\"filesystem.uid\\\" = 1 OR \\\"x\" = 1", 0),
        ("object_fields.v_int = 1", 0),
        ("filesystem.uid = 1 OR 1=1; DELETE FROM archive_objects", 25),
    ] {
        refused(&s, q, &[], Some(position));
    }
    // Select lists holding SQL are refused.
    for sel in [
        "filesystem.mimetype FROM archive_objects; --",
        "*",
        "oid",
        "f1.v_text",
        "filesystem.mimetype, filesystem.uid",
        "\"filesystem.uid\"",
    ] {
        refused(&s, "filesystem.uid = 1", &[sel], None);
        assert!(s.status().1.contains("select"), "{sel:?}: {}", s.status().1);
    }
    catalog_intact(&s, &o, &ROWS);
}

/// Binds `value` as a string to the only `?` of `q` and runs it.
fn with_string(s: &Sess, q: &str, value: &str) -> Result<Vec<String>, hcerr_t> {
    let mut ps = null_mut();
    let qc = cs(q);
    ok(
        unsafe { hc_pstmt_create(s.s, qc.as_ptr().cast_mut(), &mut ps) },
        "pstmt",
    );
    let v = CString::new(value).unwrap();
    ok(
        unsafe { hc_pstmt_set_string(ps, 1, v.as_ptr().cast_mut()) },
        "bind",
    );
    let mut rs = null_mut();
    let r = unsafe { hc_pstmt_query_ez(ps, null_mut(), 0, 2, &mut rs) };
    ok(unsafe { hc_pstmt_free(ps) }, "free");
    if r != HCERR_OK {
        return Err(r);
    }
    let mut v: Vec<String> = crate::hc::drain(rs).into_iter().map(|r| r.0).collect();
    ok(unsafe { hc_qrs_free(rs) }, "qrs_free");
    v.sort();
    Ok(v)
}

#[test]
fn injection_in_bound_strings_means_its_literal_text() {
    need_hc!();
    let s = Sess::new();
    let o = store_objects(&s, &ROWS, false);
    let eq = "filesystem.mimetype = ?";
    for (q, value, want) in [
        (eq, "x' OR '1'='1", vec![&o[0]]),
        (eq, "'; DROP TABLE objects; --", vec![&o[1]]),
        (eq, "' OR 1=1 --", vec![]),
        (eq, "plain' OR 'a'='a", vec![]),
        ("system.test.type_string = ?", "日本語 ' \" ; --", vec![&o[1]]),
        ("filesystem.mimetype LIKE ?", "%' OR '1'='1", vec![&o[0]]),
        ("filesystem.mimetype LIKE ?", "x'%", vec![&o[0]]),
        ("filesystem.mimetype LIKE ?", "%' OR 'a'='a", vec![]),
        (
            "filesystem.mimetype <> ?",
            "') OR ('1'='1",
            sorted(&o.iter().collect::<Vec<_>>()).iter().collect(),
        ),
    ] {
        assert_eq!(
            with_string(&s, q, value).unwrap(),
            sorted(&want),
            "{q} <- {value:?}"
        );
    }
    // A string bound to a long field must decode as a long.
    assert_eq!(
        with_string(&s, "filesystem.uid = ?", "2").unwrap(),
        vec![o[1].clone()]
    );
    for bad in ["1 OR 1=1", "1; DROP TABLE objects", "0x1", "1 --"] {
        assert_eq!(
            with_string(&s, "filesystem.uid = ?", bad),
            Err(HCERR_BAD_REQUEST),
            "{bad:?}"
        );
        assert!(s.status().1.contains("parameter 1"), "{bad:?}: {}", s.status().1);
    }
    catalog_intact(&s, &o, &ROWS);
}

#[test]
fn fields_named_like_sql_are_only_names() {
    need_hc!();
    let srv = server_with_schema(INJ_NAMESPACE);
    let s = Sess::on(srv);
    let o = store_objects(&s, &ROWS, true);
    let quoted = |f: &str| format!("\"{}\"", f.replace('\\', "\\\\").replace('"', "\\\""));
    for (q, want) in [
        (format!("{} = 'plain'", quoted(FIELD_A)), vec![&o[2]]),
        (
            format!("{} = '''; DROP TABLE objects; --'", quoted(FIELD_A)),
            vec![&o[1]],
        ),
        (format!("{} = 2", quoted(FIELD_B)), vec![&o[1]]),
        (format!("{} >= 3", quoted(FIELD_B)), vec![&o[2], &o[3]]),
        (format!("{} = '日本語 '' \" ; --'", quoted(FIELD_U)), vec![&o[1]]),
    ] {
        assert_eq!(oids(&s, &q).unwrap(), sorted(&want), "{q}");
    }
    // Selected by their SQL-like names, they come back under those names.
    let rows = query(&s, "filesystem.uid = 2", &[FIELD_A, FIELD_B, FIELD_U], 1).unwrap();
    assert_eq!(rows.len(), 1);
    let p = &rows[0].1;
    assert_eq!(get(p, FIELD_A).as_deref(), Some(ROWS[1].0));
    assert_eq!(get(p, FIELD_B).as_deref(), Some("2"));
    assert_eq!(get(p, FIELD_U).as_deref(), Some(ROWS[1].2));
    // A name differing by one character, or the non-queryable field.
    refused(
        &s,
        &format!("{} = 1", quoted("inj.b\" OR \"1\"=\"2")),
        &[],
        Some(0),
    );
    refused(&s, "inj.hidden = 'x'", &[], Some(0));
    refused(&s, "filesystem.uid = 1", &["inj.hidden"], None);
    catalog_intact(&s, &o, &ROWS);
}

/// Every one of these schema files is refused when a session is created.
#[test]
fn invalid_schemas_refuse_sessions() {
    need_hc!();
    let long_strings: String = (0..3)
        .map(|i| format!(r#"<field name="s{i}" type="string" length="4000"/>"#))
        .collect();
    for (what, extra) in [
        (
            "unknown type",
            r#"<namespace name="n"><field name="f" type="integer"/></namespace>"#.to_string(),
        ),
        (
            "string too long",
            r#"<namespace name="n"><field name="f" type="string" length="4001"/></namespace>"#.into(),
        ),
        (
            "binary too long",
            r#"<namespace name="n"><field name="f" type="binary" length="8001"/></namespace>"#.into(),
        ),
        (
            "length not a number",
            r#"<namespace name="n"><field name="f" type="char" length="1; DROP"/></namespace>"#.into(),
        ),
        (
            "field declared twice",
            r#"<namespace name="n"><field name="f" type="long"/><field name="f" type="long"/></namespace>"#
                .into(),
        ),
        (
            "dotted field name",
            r#"<namespace name="n"><field name="a.b" type="long"/></namespace>"#.into(),
        ),
        (
            "empty name",
            r#"<namespace name="n"><field name="" type="long"/></namespace>"#.into(),
        ),
        (
            "control character",
            "<namespace name=\"n\"><field name=\"a&#9;b\" type=\"long\"/></namespace>".into(),
        ),
        (
            "system namespace redeclared",
            r#"<namespace name="system"><field name="x" type="long"/></namespace>"#.into(),
        ),
        (
            "row budget",
            format!(
                r#"<namespace name="n">{long_strings}</namespace><tables><table name="big"><column name="n.s0"/><column name="n.s1"/><column name="n.s2"/></table>"#
            ),
        ),
        (
            "table of an unknown field",
            r#"<namespace name="n"><field name="f" type="long"/></namespace><tables><table name="t"><column name="n.g"/></table>"#.into(),
        ),
        ("not XML", "<namespace name=\"n\"><field".into()),
    ] {
        let srv = server_with_schema(&extra);
        assert_eq!(session(&srv), Err(HCERR_INVALID_SCHEMA), "{what}");
    }
    let srv = Server::new();
    let xml =
        combstore::archive::schema::FACTORY_XML.replace(r#"<field name="object_size" type="long"/>"#, "");
    std::fs::write(srv.path.join("metadata_config.xml"), xml).unwrap();
    assert_eq!(session(&srv), Err(HCERR_INVALID_SCHEMA), "system field missing");
    // Fixing the file makes the next session work.
    std::fs::write(
        srv.path.join("metadata_config.xml"),
        combstore::archive::schema::FACTORY_XML,
    )
    .unwrap();
    let sh = session(&srv).expect("the factory schema");
    ok(unsafe { hc_session_free(sh) }, "free");
}

/// A valid custom schema as sessions see it, and stores checked against it.
#[test]
fn custom_schema_through_the_c_api() {
    need_hc!();
    let srv = server_with_schema(INJ_NAMESPACE);
    let s = Sess::on(srv);
    let mut sch = null_mut();
    ok(unsafe { hc_session_get_schema(s.s, &mut sch) }, "schema");
    for (name, want, len) in [
        (FIELD_A, HC_STRING_TYPE, 64),
        (FIELD_B, HC_LONG_TYPE, -1),
        (FIELD_U, HC_STRING_TYPE, 64),
    ] {
        let c = cs(name);
        let (mut ty, mut l) = (0, 0);
        ok(
            unsafe { hc_schema_get_type(sch, c.as_ptr().cast_mut(), &mut ty) },
            name,
        );
        ok(
            unsafe { hc_schema_get_length(sch, c.as_ptr().cast_mut(), &mut l) },
            name,
        );
        assert_eq!((ty, l), (want, len), "{name}");
    }
    // Values are checked against the schema when stored.
    let n = s.nvr();
    let too_long = cs(&"é".repeat(65));
    let f = cs(FIELD_U);
    ok(
        unsafe { hc_nvr_add_string(n, f.as_ptr().cast_mut(), too_long.as_ptr().cast_mut()) },
        "added",
    );
    rc(
        store(&s, b"x", n).0,
        HCERR_BAD_REQUEST,
        "65 characters in a string(64)",
    );
    unsafe { hc_nvr_free(n) };
    let n = s.nvr();
    let mut ty = 0;
    let sysf = cs("system.object_size");
    ok(
        unsafe { hc_schema_get_type(sch, sysf.as_ptr().cast_mut(), &mut ty) },
        "system field",
    );
    rc(
        unsafe { hc_nvr_add_long(n, sysf.as_ptr().cast_mut(), 5) },
        HCERR_OK,
        "the adder does not check writability",
    );
    rc(
        store(&s, b"x", n).0,
        HCERR_BAD_REQUEST,
        "system fields are not writable",
    );
    unsafe { hc_nvr_free(n) };
    assert!(
        oids(&s, "system.object_size >= 0").unwrap().is_empty(),
        "refused stores store nothing"
    );
}
