//! Unit tests: accepted queries with their SQL and parameters, every error
//! class with its position, bindings, injection attempts, garbage input.

use crate::archive::SqlValue as S;

use super::sample::{SampleFields, fields};
use super::*;
use crate::archive::FieldDef;

fn i(v: i64) -> Param {
    Param::Value(S::Integer(v))
}
fn r(v: f64) -> Param {
    Param::Value(S::Real(v))
}
fn t(s: &str) -> Param {
    Param::Value(S::Text(s.into()))
}
fn b(v: &[u8]) -> Param {
    Param::Value(S::Blob(v.to_vec()))
}
fn bind(number: usize) -> Param {
    Param::Binding { number }
}

const OID_HEX: &str = "0200004f75ee01094cc13e11dbbad000e08159832d000024d40200000000";

fn oid_bytes() -> Vec<u8> {
    (0..30)
        .map(|k| u8::from_str_radix(&OID_HEX[2 * k..2 * k + 2], 16).unwrap())
        .collect()
}

const NOW_DATE: &str = "(unixepoch(?, ?, ?) / ?)";
const NOW_TS: &str = "CAST(unixepoch(?, ?) * ? AS INTEGER)";

fn now_date() -> Vec<Param> {
    vec![t("now"), t("localtime"), t("start of day"), i(86_400)]
}
fn now_ts() -> Vec<Param> {
    vec![t("now"), t("subsec"), i(1000)]
}

/// (query, joined fields, WHERE SQL, WHERE params)
fn accepted() -> Vec<(&'static str, Vec<&'static str>, String, Vec<Param>)> {
    let tl = "system.test.type_long";
    let mut v: Vec<(&'static str, Vec<&'static str>, String, Vec<Param>)> = vec![
        ("system.test.type_long = 5", vec![tl], "(f1.v_int = ?)".into(), vec![i(5)]),
        ("pages != 3", vec!["pages"], "(f1.v_int <> ?)".into(), vec![i(3)]),
        ("pages <> 3.5", vec!["pages"], "(f1.v_int <> ?)".into(), vec![r(3.5)]),
        ("0 < pages", vec!["pages"], "(? < f1.v_int)".into(), vec![r(0.0)]),
        ("pages<=-7", vec!["pages"], "(f1.v_int <= ?)".into(), vec![i(-7)]),
        ("pages >= 007", vec!["pages"], "(f1.v_int >= ?)".into(), vec![r(7.0)]),
        ("pages > 1d", vec!["pages"], "(f1.v_int > ?)".into(), vec![r(1.0)]),
        ("pages > .5", vec!["pages"], "(f1.v_int > ?)".into(), vec![r(0.5)]),
        ("pages > 1.", vec!["pages"], "(f1.v_int > ?)".into(), vec![r(1.0)]),
        ("pages > -2.5E3", vec!["pages"], "(f1.v_int > ?)".into(), vec![r(-2500.0)]),
        ("pages > 2e+2D", vec!["pages"], "(f1.v_int > ?)".into(), vec![r(200.0)]),
        ("system.test.type_double = 5", vec!["system.test.type_double"], "(f1.v_real = ?)".into(), vec![i(5)]),
        ("system.test.type_long = '5'", vec![tl], "(f1.v_int = ?)".into(), vec![i(5)]),
        ("title = 'it''s'", vec!["title"], "(f1.v_text = ?)".into(), vec![t("it's")]),
        ("title = N'x'", vec!["title"], "(f1.v_text = ?)".into(), vec![t("x")]),
        ("title = 'line\nbreak\t'", vec!["title"], "(f1.v_text = ?)".into(), vec![t("line\nbreak\t")]),
        ("title = 'ünïcödé ✓'", vec!["title"], "(f1.v_text = ?)".into(), vec![t("ünïcödé ✓")]),
        ("\ttitle\r\n=\n''", vec!["title"], "(f1.v_text = ?)".into(), vec![t("")]),
        ("system.test.type_char = title", vec!["system.test.type_char", "title"], "(f1.v_text = f2.v_text)".into(), vec![]),
        ("\"a b\" = 'x'", vec!["a b"], "(f1.v_text = ?)".into(), vec![t("x")]),
        ("\"fir\\st\" = 'x'", vec!["first"], "(f1.v_text = ?)".into(), vec![t("x")]),
        ("ns.título = 'x'", vec!["ns.título"], "(f1.v_text = ?)".into(), vec![t("x")]),
        (
            "system.test.type_binary = x'0A0b0'",
            vec!["system.test.type_binary"],
            "(f1.v_blob = ?)".into(),
            vec![b(&[0x0a, 0x0b, 0x00])],
        ),
        ("system.test.type_binary = X''", vec!["system.test.type_binary"], "(f1.v_blob = ?)".into(), vec![b(&[])]),
        ("system.test.type_binary = '0a0b'", vec!["system.test.type_binary"], "(f1.v_blob = ?)".into(), vec![b(&[10, 11])]),
        (
            "system.test.type_binary = system.object_id",
            vec!["system.test.type_binary", "system.object_id"],
            "(f1.v_blob = f2.v_blob)".into(),
            vec![],
        ),
        ("system.test.type_date = '2010-10-20'", vec!["system.test.type_date"], "(f1.v_int = ?)".into(), vec![i(14902)]),
        ("{date '2010-10-20'} <= system.test.type_date", vec!["system.test.type_date"], "(? <= f1.v_int)".into(), vec![i(14902)]),
        ("{d '2010-10-20'} = system.test.type_date", vec!["system.test.type_date"], "(? = f1.v_int)".into(), vec![i(14902)]),
        ("system.test.type_time = '22:10:29'", vec!["system.test.type_time"], "(f1.v_int = ?)".into(), vec![i(79829)]),
        ("system.test.type_time > {t '22:10:29'}", vec!["system.test.type_time"], "(f1.v_int > ?)".into(), vec![i(79829)]),
        (
            "system.test.type_timestamp = {timestamp '2006-10-26T12:00:00.000Z'}",
            vec!["system.test.type_timestamp"],
            "(f1.v_int = ?)".into(),
            vec![i(1_161_864_000_000)],
        ),
        (
            "system.test.type_timestamp = {ts '2006-10-26 12:00:00'}",
            vec!["system.test.type_timestamp"],
            "(f1.v_int = ?)".into(),
            vec![i(1_161_864_000_000)],
        ),
        (
            "system.test.type_timestamp = '2006-10-26T12:00:00.000Z'",
            vec!["system.test.type_timestamp"],
            "(f1.v_int = ?)".into(),
            vec![i(1_161_864_000_000)],
        ),
        ("{long '7'} = pages", vec!["pages"], "(? = f1.v_int)".into(), vec![i(7)]),
        ("{double '1.5'} = pages", vec!["pages"], "(? = f1.v_int)".into(), vec![r(1.5)]),
        ("{string 'x'} = title", vec!["title"], "(? = f1.v_text)".into(), vec![t("x")]),
        ("{char 'y'} = title", vec!["title"], "(? = f1.v_text)".into(), vec![t("y")]),
        ("{binary '0a'} = system.test.type_binary", vec!["system.test.type_binary"], "(? = f1.v_blob)".into(), vec![b(&[10])]),
        ("title LIKE 'a%b_c*d?e[f]'", vec!["title"], "(f1.v_text GLOB ?)".into(), vec![t("a*b?c[*]d[?]e[[]f]")]),
        ("title NOT LIKE 'x!%%' ESCAPE '!'", vec!["title"], "(f1.v_text NOT GLOB ?)".into(), vec![t("x%*")]),
        ("title LIKE 'x!_!!' {escape '!'}", vec!["title"], "(f1.v_text GLOB ?)".into(), vec![t("x_!")]),
        ("title like {string 'a%'}", vec!["title"], "(f1.v_text GLOB ?)".into(), vec![t("a*")]),
        ("pages BETWEEN 1 AND 10", vec!["pages"], "(f1.v_int BETWEEN ? AND ?)".into(), vec![i(1), i(10)]),
        (
            "pages NOT BETWEEN ? AND ?",
            vec!["pages"],
            "(f1.v_int NOT BETWEEN ? AND ?)".into(),
            vec![bind(1), bind(2)],
        ),
        (
            "system.test.type_date BETWEEN '2010-10-20' AND {date '2010-10-25'}",
            vec!["system.test.type_date"],
            "(f1.v_int BETWEEN ? AND ?)".into(),
            vec![i(14902), i(14907)],
        ),
        ("\"first\" IN ('a', ?, 'c')", vec!["first"], "(f1.v_text IN (?, ?, ?))".into(), vec![t("a"), bind(1), t("c")]),
        ("pages NOT IN (1)", vec!["pages"], "(f1.v_int NOT IN (?))".into(), vec![i(1)]),
        ("title IS NULL", vec!["title"], "(f1.v_text IS NULL)".into(), vec![]),
        ("system.object_id IS NOT NULL", vec!["system.object_id"], "(f1.v_blob IS NOT NULL)".into(), vec![]),
        (
            "title IS NOT NULL OR pages IS NOT NULL",
            vec!["title", "pages"],
            "((f1.v_text IS NOT NULL) OR (f2.v_int IS NOT NULL))".into(),
            vec![],
        ),
        (
            "title = 'a' AND pages = 1 OR NOT title = 'b'",
            vec!["title", "pages"],
            "(((f1.v_text = ?) AND (f2.v_int = ?)) OR (NOT (f1.v_text = ?)))".into(),
            vec![t("a"), i(1), t("b")],
        ),
        (
            "(title = 'a' OR title = 'b') AND pages > 2",
            vec!["title", "pages"],
            "(((f1.v_text = ?) OR (f1.v_text = ?)) AND (f2.v_int > ?))".into(),
            vec![t("a"), t("b"), i(2)],
        ),
        (
            "pages = 1 OR pages = 2 OR pages = 3 OR pages = 4 OR pages = 5",
            vec!["pages"],
            "((((f1.v_int = ?) OR (f1.v_int = ?)) OR ((f1.v_int = ?) OR (f1.v_int = ?))) OR (f1.v_int = ?))".into(),
            vec![i(1), i(2), i(3), i(4), i(5)],
        ),
        ("NOT NOT pages = 1", vec!["pages"], "(NOT (NOT (f1.v_int = ?)))".into(), vec![i(1)]),
        ("title || 'x' = 'ax'", vec!["title"], "((f1.v_text || ?) = ?)".into(), vec![t("x"), t("ax")]),
        ("pages * 2 + 1 = ?", vec!["pages"], "(((f1.v_int * ?) + ?) = ?)".into(), vec![i(2), i(1), bind(1)]),
        ("pages -1 = 9", vec!["pages"], "((f1.v_int - ?) = ?)".into(), vec![i(1), i(9)]),
        ("pages - 1 / 2 = 9", vec!["pages"], "((f1.v_int - (? / ?)) = ?)".into(), vec![i(1), i(2), i(9)]),
        ("- pages < -5", vec!["pages"], "((- f1.v_int) < ?)".into(), vec![i(-5)]),
        ("{fn UCASE(title)} = 'A'", vec!["title"], "(upper(f1.v_text) = ?)".into(), vec![t("A")]),
        ("UPPER(title) = 'A'", vec!["title"], "(upper(f1.v_text) = ?)".into(), vec![t("A")]),
        ("{FN lcase(title)} = 'a'", vec!["title"], "(lower(f1.v_text) = ?)".into(), vec![t("a")]),
        ("{fn LTRIM(title)} = {fn RTRIM(?)}", vec!["title"], "(ltrim(f1.v_text) = rtrim(?))".into(), vec![bind(1)]),
        (
            "{fn LENGTH(system.test.type_binary)} > 2",
            vec!["system.test.type_binary"],
            "(length(f1.v_blob) > ?)".into(),
            vec![i(2)],
        ),
        ("{fn ABS(pages)} = 3", vec!["pages"], "(abs(f1.v_int) = ?)".into(), vec![i(3)]),
        (
            "{fn SUBSTRING(title, 2, 3)} = 'bc'",
            vec!["title"],
            "(substr(f1.v_text, ?, ?) = ?)".into(),
            vec![i(2), i(3), t("bc")],
        ),
        ("{fn LOCATE('b', title)} = 2", vec!["title"], "(instr(f1.v_text, ?) = ?)".into(), vec![t("b"), i(2)]),
        (
            "{fn LOCATE('b', title, 2)} = 3",
            vec!["title"],
            "(coalesce(nullif(instr(substr(f1.v_text, max(?, ?)), ?), ?) + max(?, ?) - ?, ?) = ?)".into(),
            vec![i(2), i(1), t("b"), i(0), i(2), i(1), i(1), i(0), i(3)],
        ),
        ("{fn CONCAT(title, 'x')} = 'ax'", vec!["title"], "((f1.v_text || ?) = ?)".into(), vec![t("x"), t("ax")]),
        (
            "system.test.type_date < CURRENT_DATE",
            vec!["system.test.type_date"],
            format!("(f1.v_int < {NOW_DATE})"),
            now_date(),
        ),
        (
            "system.test.type_timestamp <= CURRENT_TIMESTAMP",
            vec!["system.test.type_timestamp"],
            format!("(f1.v_int <= {NOW_TS})"),
            now_ts(),
        ),
        (
            "system.test.type_time <> CURRENT_TIME",
            vec!["system.test.type_time"],
            "(f1.v_int <> (unixepoch(?, ?) % ?))".into(),
            vec![t("now"), t("localtime"), i(86_400)],
        ),
        (
            "{fn TIMESTAMPADD(SQL_TSI_HOUR, 2, system.test.type_timestamp)} > {fn NOW()}",
            vec!["system.test.type_timestamp"],
            format!("((f1.v_int + (? * ?)) > {NOW_TS})"),
            [vec![i(2), i(3_600_000)], now_ts()].concat(),
        ),
        (
            "{fn TIMESTAMPDIFF(SQL_TSI_DAY, system.test.type_date, {date '2010-10-25'})} = 5",
            vec!["system.test.type_date"],
            "((((? * ?) - (f1.v_int * ?)) / ?) = ?)".into(),
            vec![i(14907), i(86_400_000), i(86_400_000), i(86_400_000), i(5)],
        ),
        (
            "{fn TIMESTAMPDIFF(SQL_TSI_FRAC_SECOND, ?, system.test.type_timestamp)} > 0",
            vec!["system.test.type_timestamp"],
            "(((f1.v_int - ?) * ?) > ?)".into(),
            vec![bind(1), i(1_000_000), r(0.0)],
        ),
        ("title = ?", vec!["title"], "(f1.v_text = ?)".into(), vec![bind(1)]),
        ("? < pages", vec!["pages"], "(? < f1.v_int)".into(), vec![bind(1)]),
        (
            "title LIKE ?",
            vec!["title"],
            "(f1.v_text GLOB ?)".into(),
            vec![Param::Like { pattern: LikeSrc::Binding(1), escape: None }],
        ),
        (
            "title LIKE 'a!%' ESCAPE ?",
            vec!["title"],
            "(f1.v_text GLOB ?)".into(),
            vec![Param::Like { pattern: LikeSrc::Text("a!%".into()), escape: Some(LikeSrc::Binding(1)) }],
        ),
        (
            "title LIKE \"a b\"",
            vec!["title", "a b"],
            "(f1.v_text GLOB replace(replace(replace(replace(replace(f2.v_text, ?, ?), ?, ?), ?, ?), ?, ?), ?, ?))"
                .into(),
            vec![t("["), t("[[]"), t("*"), t("[*]"), t("?"), t("[?]"), t("%"), t("*"), t("_"), t("?")],
        ),
        ("'abc' = 'abc'", vec![], "(? = ?)".into(), vec![t("abc"), t("abc")]),
        ("title = NULL", vec!["title"], "(f1.v_text = NULL)".into(), vec![]),
        ("NULL IS NULL", vec![], "(NULL IS NULL)".into(), vec![]),
    ];
    v.push((
        "system.object_id = '0200004f75ee01094cc13e11dbbad000e08159832d000024d40200000000'",
        vec!["system.object_id"],
        "(f1.v_blob = ?)".into(),
        vec![b(&oid_bytes())],
    ));
    v.push((
        "{objectid '0200004F75EE01094CC13E11DBBAD000E08159832D000024D40200000000'} = system.object_id",
        vec!["system.object_id"],
        "(? = f1.v_blob)".into(),
        vec![b(&oid_bytes())],
    ));
    v
}

/// SQL text never carries anything from the query.
fn assert_clean_sql(sql: &str) {
    for bad in ["'", "\"", "--", "/*", "*/", ";"] {
        assert!(!sql.contains(bad), "{bad:?} in SQL {sql}");
    }
}

#[test]
fn accepted_queries_translate_to_expected_sql_and_params() {
    let f = fields();
    let cases = accepted();
    assert!(cases.len() > 80, "{}", cases.len());
    let mut failures = Vec::new();
    for (q, joined, sql, params) in cases {
        let plan = match translate(q, &[], &f) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{q:?}: {e}"));
                continue;
            }
        };
        let names: Vec<&str> = plan.fields().iter().map(|(n, _)| *n).collect();
        if plan.where_sql() != sql || plan.where_params() != &params[..] || names != joined {
            failures.push(format!(
                "{q:?}:\n  got  {} {:?} {names:?}\n  want {sql} {params:?} {joined:?}",
                plan.where_sql(),
                plan.where_params()
            ));
            continue;
        }
        assert_clean_sql(plan.sql());
        let mut expect_sql = String::from("SELECT o.oid FROM archive_objects o");
        for n in 1..=joined.len() {
            expect_sql.push_str(&format!(
                " JOIN object_fields f{n} ON f{n}.oid = o.oid AND f{n}.name = ?"
            ));
        }
        expect_sql.push_str(&format!(" WHERE ({sql})"));
        if joined.is_empty() {
            expect_sql.push_str(" AND EXISTS (SELECT 1 FROM object_fields fx WHERE fx.oid = o.oid)");
        }
        let key = if joined.is_empty() { "o.oid" } else { "f1.oid" };
        expect_sql.push_str(&format!(" AND {key} > ? ORDER BY {key} LIMIT ?"));
        assert_eq!(plan.sql(), expect_sql, "{q:?}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Bindings that fit each placeholder type.
fn sample_binding(ty: FieldType) -> Value {
    match ty {
        FieldType::Long => Value::Long(1),
        FieldType::Double => Value::Double(1.0),
        FieldType::String => Value::String("!".into()),
        FieldType::Char => Value::Char("c".into()),
        FieldType::Binary => Value::Binary(vec![1]),
        FieldType::Date => Value::Date(1),
        FieldType::Time => Value::Time(1),
        FieldType::Timestamp => Value::Timestamp(1),
        FieldType::ObjectId => Value::ObjectId(vec![0; 30]),
    }
}

#[test]
fn bound_sql_has_one_param_per_marker() {
    let f = fields();
    for (q, ..) in accepted() {
        let plan = translate(q, &["title", "pages"], &f).unwrap();
        let bindings: Vec<(usize, Value)> = plan
            .placeholders()
            .iter()
            .map(|p| (p.number, sample_binding(p.ty)))
            .collect();
        let (sql, params) = plan
            .bind(&bindings, "", 10)
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
        assert_eq!(sql.matches('?').count(), params.len(), "{q:?}: {sql}");
        assert_eq!(params[params.len() - 2], S::Text(String::new()));
        assert_eq!(params[params.len() - 1], S::Integer(10));
        let names: Vec<S> = plan
            .fields()
            .iter()
            .map(|(n, _)| S::Text(n.to_string()))
            .collect();
        assert_eq!(&params[..names.len()], &names[..], "{q:?}");
    }
}

#[test]
fn select_list_joins_and_columns() {
    let f = fields();
    let plan = translate(
        "pages > 1",
        &["title", "pages", "title", "system.test.type_binary"],
        &f,
    )
    .unwrap();
    assert_eq!(
        plan.fields(),
        vec![
            ("pages", FieldType::Long),
            ("title", FieldType::String),
            ("system.test.type_binary", FieldType::Binary)
        ]
    );
    let cols: Vec<(&str, &str)> = plan
        .selects()
        .iter()
        .map(|c| (c.name.as_str(), c.sql.as_str()))
        .collect();
    assert_eq!(
        cols,
        vec![
            ("title", "f2.v_text"),
            ("pages", "f1.v_int"),
            ("title", "f2.v_text"),
            ("system.test.type_binary", "f3.v_blob")
        ]
    );
    assert_eq!(
        plan.sql(),
        "SELECT o.oid, f2.v_text, f1.v_int, f2.v_text, f3.v_blob FROM archive_objects o \
         JOIN object_fields f1 ON f1.oid = o.oid AND f1.name = ? \
         JOIN object_fields f2 ON f2.oid = o.oid AND f2.name = ? \
         JOIN object_fields f3 ON f3.oid = o.oid AND f3.name = ? \
         WHERE ((f1.v_int > ?)) AND f1.oid > ? ORDER BY f1.oid LIMIT ?"
    );
    let (_, params) = plan.bind(&[], "ab", 3).unwrap();
    assert_eq!(
        params,
        vec![
            S::Text("pages".into()),
            S::Text("title".into()),
            S::Text("system.test.type_binary".into()),
            S::Integer(1),
            S::Text("ab".into()),
            S::Integer(3)
        ]
    );
    let e = translate("pages > 1", &["nosuch"], &f).unwrap_err();
    assert_eq!((e.kind, e.pos), (QueryErrorKind::UnknownField, None));
    assert!(e.message.contains("select list"), "{e}");
    let e = translate("pages > 1", &["notes"], &f).unwrap_err();
    assert_eq!((e.kind, e.pos), (QueryErrorKind::NotQueryable, None));
    let e = translate("pages > 1", &[""], &f).unwrap_err();
    assert_eq!(e.kind, QueryErrorKind::UnknownField);
}

/// (query, kind, position, part of the message)
fn rejected() -> Vec<(String, QueryErrorKind, Option<usize>, &'static str)> {
    use QueryErrorKind::*;
    let deep = format!(
        "{}title = 'a'{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let nots = format!("{}title = 'a'", "NOT ".repeat(MAX_NESTING + 1));
    let minus = format!("{}pages = 1", "- ".repeat(MAX_NESTING + 1));
    let arith = format!("pages{} = 1", " + 1".repeat(40));
    let rows: Vec<(&str, QueryErrorKind, Option<usize>, &str)> = vec![
        ("", Syntax, Some(0), "empty query"),
        ("   ", Syntax, Some(3), "empty query"),
        ("title = 'abc", Syntax, Some(12), "unterminated string"),
        ("title = x'abc", Syntax, Some(13), "unterminated string"),
        ("\"title = 'a'", Syntax, Some(12), "unterminated quoted name"),
        ("\"ti\ntle\" = 'a'", Syntax, Some(3), "line break"),
        ("\"\" = 'a'", Syntax, Some(0), "empty quoted name"),
        ("\"abc\\", Syntax, Some(5), "after '\\'"),
        ("title = 'a' --comment", Syntax, Some(12), "comments"),
        ("title = 'a' /* x */", Syntax, Some(12), "comments"),
        ("title = 'a' */", Syntax, Some(12), "comments"),
        ("title = 'a'; DROP TABLE object_fields", Syntax, Some(11), "';'"),
        ("title == 'a'", Syntax, Some(6), "unknown operator '=='"),
        ("title => 'a'", Syntax, Some(6), "unknown operator '=>'"),
        (
            "title = 'a' & pages = 1",
            Syntax,
            Some(12),
            "unknown operator '&'",
        ),
        ("title = 'a' AND", Syntax, Some(15), "expected an expression"),
        ("title = ", Syntax, Some(8), "expected an expression"),
        ("(title = 'a'", Syntax, Some(12), "expected ')'"),
        (
            "title = 'a')",
            Syntax,
            Some(11),
            "expected AND, OR or the end of the query",
        ),
        ("pages = 1 = 2", Syntax, Some(10), "expected AND, OR"),
        ("title = 'a' {escape 'x'}", Syntax, Some(12), "expected AND, OR"),
        (
            "pages = 99999999999999999999",
            Syntax,
            Some(8),
            "out of the range",
        ),
        ("pages = 12abc", Syntax, Some(10), "malformed number"),
        ("pages = 1e", Syntax, Some(9), "exponent"),
        ("pages = 1.2.3", Syntax, Some(11), "malformed number"),
        ("title = x'zz'", Syntax, Some(10), "hex digit"),
        ("title € 'a'", Syntax, Some(6), "only ASCII"),
        ("title = 'a' AND # = 1", Syntax, Some(16), "unknown operator"),
        ("title = 'a' \u{0c}", Syntax, Some(12), "unexpected character"),
        ("title = \\'a'", Syntax, Some(8), "unexpected character"),
        ("ns. = 1", Syntax, Some(3), "expected a name after"),
        ("title IN ()", Syntax, Some(10), "expected an expression"),
        ("title IN 'a'", Syntax, Some(9), "'(' after IN"),
        ("title IN ('a' 'b')", Syntax, Some(14), "',' or ')'"),
        (
            "pages BETWEEN 1 OR 2",
            Syntax,
            Some(16),
            "expected AND (of BETWEEN",
        ),
        ("title IS 'a'", Syntax, Some(9), "NULL or NOT NULL"),
        ("title IS NOT 5", Syntax, Some(13), "expected NULL"),
        ("pages = -", Syntax, Some(9), "expected an expression"),
        ("pages = --1", Syntax, Some(8), "comments"),
        ("{fn UCASE(title} = 'a'", Syntax, Some(15), "',' or ')'"),
        ("{fn UCASE(title) = 'a'", Syntax, Some(17), "'}' closing {fn"),
        (
            "{date 5} = system.test.type_date",
            Syntax,
            Some(6),
            "string literal after '{date'",
        ),
        ("{escape '!'} = title", Syntax, Some(0), "must follow a LIKE"),
        (
            "{ts '2006-10-26'} = system.test.type_timestamp",
            Syntax,
            Some(4),
            "JDBC timestamp",
        ),
        (
            "{fn TIMESTAMPADD(2, system.test.type_timestamp)} > 0",
            Syntax,
            Some(17),
            "an interval",
        ),
        ("SELECT * FROM x", ForbiddenWord, Some(0), "'SELECT'"),
        ("title = 'a' OR DROP = 1", ForbiddenWord, Some(15), "'DROP'"),
        ("title = 'a' UNION SELECT", ForbiddenWord, Some(12), "'UNION'"),
        ("title = 'a' oR sElEcT = 1", ForbiddenWord, Some(15), "'SELECT'"),
        ("delete = 1", ForbiddenWord, Some(0), "'DELETE'"),
        ("title = 'a' ORDER BY title", ForbiddenWord, Some(12), "'ORDER'"),
        ("where = 1", ForbiddenWord, Some(0), "'WHERE'"),
        ("do = 1", ForbiddenWord, Some(0), "'DO'"),
        ("create = 1", ForbiddenWord, Some(0), "'CREATE'"),
        ("insert = 1", ForbiddenWord, Some(0), "'INSERT'"),
        ("update = 1", ForbiddenWord, Some(0), "'UPDATE'"),
        ("nosuch = 1", UnknownField, Some(0), "\"nosuch\""),
        (
            "\"a; DROP TABLE objects\" = 1",
            UnknownField,
            Some(0),
            "a; DROP TABLE objects",
        ),
        (
            "title = 'a' AND ns.nope = 2",
            UnknownField,
            Some(16),
            "\"ns.nope\"",
        ),
        ("select.x = 1", UnknownField, Some(0), "\"select.x\""),
        ("système.título = 'x'", UnknownField, Some(0), "système.título"),
        ("notes = 'x'", NotQueryable, Some(0), "not queryable"),
        (
            "title = 'a' OR \"notes\" LIKE 'x'",
            NotQueryable,
            Some(15),
            "\"notes\"",
        ),
        ("first = 'x'", Unsupported, Some(0), "(\"first\")"),
        ("date = 'x'", Unsupported, Some(0), "'DATE'"),
        ("year = 5", Unsupported, Some(0), "'YEAR'"),
        ("title = 'a' AND TRUE", Unsupported, Some(16), "'TRUE'"),
        ("UCASE = 'a'", Unsupported, Some(0), "expected '(' after it"),
        (
            "{DATE '2010-10-20'} = system.test.type_date",
            Unsupported,
            Some(1),
            "unsupported escape",
        ),
        (
            "{fn FOO(title)} = 'x'",
            Unsupported,
            Some(4),
            "unsupported function FOO",
        ),
        (
            "{fn SQRT(pages)} = 1",
            Unsupported,
            Some(4),
            "unsupported function SQRT",
        ),
        ("{oops 'x'} = title", Unsupported, Some(1), "unsupported escape"),
        (
            "{fn TIMESTAMPDIFF(SQL_TSI_MONTH, system.test.type_timestamp, CURRENT_TIMESTAMP)} > 1",
            Unsupported,
            Some(18),
            "not supported",
        ),
        (
            "title LIKE 'a' ESCAPE title",
            Unsupported,
            Some(22),
            "ESCAPE of LIKE",
        ),
        (
            "title LIKE \"a b\" ESCAPE '!'",
            Unsupported,
            Some(11),
            "ESCAPE needs",
        ),
        ("title", Type, Some(0), "expected a condition"),
        ("title = 'a' AND pages", Type, Some(16), "expected a condition"),
        ("NOT pages", Type, Some(4), "expected a condition"),
        ("title = 5", Type, Some(8), "expected a string or char value"),
        ("5 = title", Type, Some(4), "expected a number"),
        ("pages = 'abc'", Type, Some(8), "expected a long literal"),
        ("system.test.type_date = '2010-13-45'", Type, Some(24), "date"),
        (
            "system.test.type_date = {time '10:00:00'}",
            Type,
            Some(24),
            "expected a date value",
        ),
        (
            "system.test.type_date = system.test.type_time",
            Type,
            Some(24),
            "found a time value",
        ),
        ("system.object_id = '0a0b'", Type, Some(19), "objectid"),
        ("{date 'nope'} IS NULL", Type, Some(0), "invalid typed literal"),
        ("{objectid 'abc'} IS NULL", Type, Some(0), "invalid typed literal"),
        ("(pages = 1) = (pages = 2)", Type, Some(0), "found a condition"),
        ("? = ?", Type, Some(0), "cannot tell the type"),
        ("? IS NULL", Type, Some(0), "IS NULL cannot test"),
        ("title LIKE 5", Type, Some(11), "expected a string or char"),
        ("pages LIKE 'a'", Type, Some(0), "expected a string or char"),
        (
            "title LIKE 'a!' ESCAPE '!'",
            Type,
            Some(11),
            "ends with the escape",
        ),
        (
            "title LIKE 'a!b' ESCAPE '!'",
            Type,
            Some(11),
            "invalid escape sequence",
        ),
        ("title LIKE 'a' ESCAPE 'ab'", Type, Some(22), "one character"),
        ("title LIKE 'a' ESCAPE ''", Type, Some(22), "one character"),
        (
            "{fn UCASE(title, title)} = 'A'",
            Type,
            Some(4),
            "expects 1 argument",
        ),
        ("{fn SUBSTRING(title)} = 'A'", Type, Some(4), "expects 2 or 3"),
        ("{fn ABS(title)} = 1", Type, Some(8), "expected a number"),
        ("title || pages = 'a'", Type, Some(9), "expected a string or char"),
        ("pages + title = 1", Type, Some(8), "expected a number"),
        ("title + 1 = 1", Type, Some(8), "expected a string or char value"),
        (
            "{fn TIMESTAMPADD(SQL_TSI_DAY, 1.5, system.test.type_timestamp)} > 0",
            Type,
            Some(30),
            "long count",
        ),
        (
            "{fn TIMESTAMPDIFF(SQL_TSI_DAY, pages, CURRENT_TIMESTAMP)} > 0",
            Type,
            Some(31),
            "timestamp",
        ),
        ("pages IN (1, 'a')", Type, Some(13), "expected a long literal"),
        ("pages BETWEEN 'a' AND 3", Type, Some(14), "long"),
        (deep.leak(), TooComplex, Some(MAX_NESTING), "nested"),
        (nots.leak(), TooComplex, Some(4 * MAX_NESTING), "nested"),
        (minus.leak(), TooComplex, Some(2 * MAX_NESTING), "nested"),
        (arith.leak(), TooComplex, Some(0), "arithmetic"),
    ];
    rows.into_iter()
        .map(|(q, k, p, m)| (q.to_string(), k, p, m))
        .collect()
}

#[test]
fn rejected_queries_report_kind_and_position() {
    let f = fields();
    let mut failures = Vec::new();
    for (q, kind, pos, msg) in rejected() {
        let e = match translate(&q, &[], &f) {
            Ok(p) => {
                failures.push(format!("{q:?} translated: {}", p.sql()));
                continue;
            }
            Err(e) => e,
        };
        if (e.kind, e.pos) != (kind, pos) || !e.message.contains(msg) {
            failures.push(format!(
                "{q:?}: got {:?} {e}; want {kind:?} {pos:?} {msg:?}",
                e.kind
            ));
        }
        assert!(
            e.to_string()
                .contains(&format!("at position {}", e.pos.unwrap_or(0))),
            "{e}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn positions_count_characters_not_bytes() {
    let f = fields();
    // 'é' and '✓' are 2 and 3 bytes long in UTF-8, one character each.
    let e = translate("title = 'é✓' AND nope = 1", &[], &f).unwrap_err();
    assert_eq!((e.kind, e.pos), (QueryErrorKind::UnknownField, Some(17)));
}

#[test]
fn too_many_fields() {
    let defs: Vec<FieldDef> = (0..70)
        .map(|k| FieldDef {
            name: format!("f.x{k}"),
            ty: FieldType::Long,
            length: None,
            queryable: true,
            writable: true,
        })
        .collect();
    let many = SampleFields(defs);
    let q: Vec<String> = (0..MAX_FIELDS).map(|k| format!("f.x{k} = 1")).collect();
    translate(&q.join(" AND "), &[], &many).unwrap();
    let e = translate(&q.join(" AND "), &["f.x69"], &many).unwrap_err();
    assert_eq!(e.kind, QueryErrorKind::TooComplex);
    let q: Vec<String> = (0..=MAX_FIELDS).map(|k| format!("f.x{k} = 1")).collect();
    assert_eq!(
        translate(&q.join(" AND "), &[], &many).unwrap_err().kind,
        QueryErrorKind::TooComplex
    );
}

#[test]
fn too_many_params() {
    let f = fields();
    let list: Vec<String> = (0..MAX_PARAMS).map(|k| k.to_string()).collect();
    let q = format!(
        "pages IN (0{})",
        list.iter().map(|s| format!(",{}", s.len())).collect::<String>()
    );
    assert_eq!(
        translate(&q, &[], &f).unwrap_err().kind,
        QueryErrorKind::TooComplex
    );
    // A long OR chain is fine: it nests log2(n) levels.
    let q: Vec<String> = (0..2000).map(|k| format!("pages = {}", k + 1)).collect();
    let plan = translate(&q.join(" OR "), &[], &f).unwrap();
    assert_eq!(plan.where_params().len(), 2000);
}

#[test]
fn bindings_are_checked_and_converted() {
    use QueryErrorKind::Binding;
    let f = fields();
    let p = translate("pages = ?", &[], &f).unwrap();
    assert_eq!(
        p.placeholders(),
        &[Placeholder {
            number: 1,
            pos: 8,
            ty: FieldType::Long
        }]
    );
    let param = |plan: &Plan, b: &[(usize, Value)]| -> Result<S, QueryError> {
        let (_, params) = plan.bind(b, "", 5)?;
        Ok(params[params.len() - 3].clone())
    };
    // Missing, out of range, wrong type.
    let e = p.bind(&[], "", 5).unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, Some(8)));
    assert!(e.message.contains("no value is bound to parameter 1"), "{e}");
    let e = p
        .bind(&[(1, Value::Long(1)), (2, Value::Long(2))], "", 5)
        .unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, None));
    let e = p.bind(&[(0, Value::Long(1))], "", 5).unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, None));
    let e = p.bind(&[(1, Value::Date(3))], "", 5).unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, Some(8)));
    assert!(
        e.message.contains("expects a long") && e.message.contains("bound to a date"),
        "{e}"
    );
    let e = p.bind(&[(1, Value::String("abc".into()))], "", 5).unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, Some(8)));
    // Conversions; a later binding of the same number replaces the earlier.
    assert_eq!(param(&p, &[(1, Value::Long(4))]).unwrap(), S::Integer(4));
    assert_eq!(param(&p, &[(1, Value::Double(4.5))]).unwrap(), S::Real(4.5));
    assert_eq!(
        param(&p, &[(1, Value::String("15".into()))]).unwrap(),
        S::Integer(15)
    );
    assert_eq!(
        param(&p, &[(1, Value::Long(4)), (1, Value::Long(6))]).unwrap(),
        S::Integer(6)
    );

    let p = translate("title = ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::Char("x".into()))]).unwrap(),
        S::Text("x".into())
    );
    assert_eq!(
        param(&p, &[(1, Value::String("x".into()))]).unwrap(),
        S::Text("x".into())
    );
    assert_eq!(p.bind(&[(1, Value::Long(1))], "", 1).unwrap_err().kind, Binding);
    let p = translate("system.test.type_char = ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::String("x".into()))]).unwrap(),
        S::Text("x".into())
    );

    let p = translate("system.test.type_date = ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::String("2010-10-20".into()))]).unwrap(),
        S::Integer(14902)
    );
    assert_eq!(param(&p, &[(1, Value::Date(14902))]).unwrap(), S::Integer(14902));
    let e = p
        .bind(&[(1, Value::String("20-10-2010x".into()))], "", 1)
        .unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, Some(24)));
    assert_eq!(
        p.bind(&[(1, Value::Timestamp(5))], "", 1).unwrap_err().kind,
        Binding
    );
    let p = translate("system.test.type_time = ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::Char("22:10:29".into()))]).unwrap(),
        S::Integer(79829)
    );
    let p = translate("system.test.type_timestamp = ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::String("2006-10-26T12:00:00.000Z".into()))]).unwrap(),
        S::Integer(1_161_864_000_000)
    );
    let p = translate("system.object_id = ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::String(OID_HEX.into()))]).unwrap(),
        S::Blob(oid_bytes())
    );
    assert_eq!(
        param(&p, &[(1, Value::Binary(vec![1]))]).unwrap(),
        S::Blob(vec![1])
    );
    let p = translate("system.test.type_binary = ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::String("b0a".into()))]).unwrap(),
        S::Blob(vec![0xb0, 0xa0])
    );
    let p = translate("system.test.type_double = ?", &[], &f).unwrap();
    assert_eq!(param(&p, &[(1, Value::Long(2))]).unwrap(), S::Integer(2));
    assert_eq!(
        param(&p, &[(1, Value::String("1.5".into()))]).unwrap(),
        S::Real(1.5)
    );

    // LIKE patterns and escapes bound at run time.
    let p = translate("title LIKE ?", &[], &f).unwrap();
    assert_eq!(
        param(&p, &[(1, Value::String("a%[_".into()))]).unwrap(),
        S::Text("a*[[]?".into())
    );
    assert_eq!(p.bind(&[(1, Value::Long(1))], "", 1).unwrap_err().kind, Binding);
    let p = translate("title LIKE ? ESCAPE ?", &[], &f).unwrap();
    assert_eq!(
        param(
            &p,
            &[(1, Value::String("a!%".into())), (2, Value::Char("!".into()))]
        )
        .unwrap(),
        S::Text("a%".into())
    );
    let e = p
        .bind(
            &[(1, Value::String("a".into())), (2, Value::String("!!".into()))],
            "",
            1,
        )
        .unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, Some(20)));
    let e = p
        .bind(
            &[(1, Value::String("a!x".into())), (2, Value::String("!".into()))],
            "",
            1,
        )
        .unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, Some(11)));
    let e = p.bind(&[(1, Value::String("a".into()))], "", 1).unwrap_err();
    assert_eq!((e.kind, e.pos), (Binding, Some(20)));
}

#[test]
fn injection_through_values_stays_a_value() {
    let f = fields();
    for (q, value) in [
        ("title = 'x'' OR 1=1 --'", "x' OR 1=1 --"),
        (
            "title = 'x''; DROP TABLE object_fields; --'",
            "x'; DROP TABLE object_fields; --",
        ),
        ("title = '/* comment */'", "/* comment */"),
        ("title = '\" OR \"\"=\"'", "\" OR \"\"=\""),
        ("title = N'x'' OR ''1''=''1'", "x' OR '1'='1"),
        (
            "title = {string 'a'' UNION SELECT oid FROM archive_objects --'}",
            "a' UNION SELECT oid FROM archive_objects --",
        ),
    ] {
        let plan = translate(q, &[], &f).unwrap_or_else(|e| panic!("{q:?}: {e}"));
        assert_eq!(plan.where_sql(), "(f1.v_text = ?)", "{q:?}");
        assert_eq!(plan.where_params(), &[t(value)], "{q:?}");
        assert_clean_sql(plan.sql());
    }
    // Bound values never reach the SQL text either.
    let plan = translate("title = ?", &[], &f).unwrap();
    let (sql, params) = plan
        .bind(&[(1, Value::String("x' OR 1=1 --".into()))], "' OR 1=1 --", 1)
        .unwrap();
    assert_clean_sql(&sql);
    assert_eq!(params[1], S::Text("x' OR 1=1 --".into()));
    assert_eq!(params[2], S::Text("' OR 1=1 --".into()));
}

#[test]
fn injection_through_names_and_words_fails() {
    use QueryErrorKind::*;
    let f = fields();
    for (q, kind) in [
        ("\"a; DROP TABLE objects\" = 1", UnknownField),
        ("\"title\\\" OR 1=1 --\" = 'x'", UnknownField),
        ("\"title' OR '1'='1\" = 'x'", UnknownField),
        ("\"f1.v_text\" = 'x'", UnknownField),
        ("o.oid > ''", UnknownField),
        ("title = 'a' OR 1=1 --", Syntax),
        ("title = 'a' OR 1=1 /*", Syntax),
        ("title = 'a'/**/OR/**/1=1", Syntax),
        ("title = 'a'; DELETE FROM archive_objects", Syntax),
        ("title = 'a' OR EXISTS (SELECT 1)", ForbiddenWord),
        ("title = 'a' OR EXISTS (1)", Unsupported),
        ("title IN (SELECT oid FROM archive_objects)", ForbiddenWord),
        (
            "title = 'a' OR title = (select title from object_fields)",
            ForbiddenWord,
        ),
        ("1 = 1 UNION SELECT", ForbiddenWord),
        ("title = 'a' AND sqlite_version() = 'x'", Syntax),
        ("title = char(39)", Unsupported),
        ("title = 'a' COLLATE NOCASE", Syntax),
        ("title GLOB 'a*'", Syntax),
        ("title = 'a' OR 1 = 1 LIMIT 1", ForbiddenWord),
        ("pragma = 1", ForbiddenWord),
        ("ATTACH = 1", ForbiddenWord),
    ] {
        let e = match translate(q, &[], &f) {
            Ok(p) => panic!("{q:?} translated: {}", p.sql()),
            Err(e) => e,
        };
        assert_eq!(e.kind, kind, "{q:?}: {e}");
        assert!(e.pos.is_some(), "{q:?}");
    }
    // Through the select list.
    let e = translate("title = 'a'", &["title; DROP TABLE object_fields"], &f).unwrap_err();
    assert_eq!(e.kind, UnknownField);
    // Literal text that looks like comments is just text.
    let plan = translate("title = '--' AND title <> '/*' AND title LIKE '%;%'", &[], &f).unwrap();
    assert_eq!(plan.where_params(), &[t("--"), t("/*"), t("*;*")]);
    assert_clean_sql(plan.sql());
}

#[test]
fn like_to_glob_maps_wildcards_and_escapes() {
    assert_eq!(like_to_glob("", None).unwrap(), "");
    assert_eq!(like_to_glob("%", None).unwrap(), "*");
    assert_eq!(like_to_glob("a_b%c", None).unwrap(), "a?b*c");
    assert_eq!(like_to_glob("*?[]^", None).unwrap(), "[*][?][[]]^");
    assert_eq!(like_to_glob("\\%", None).unwrap(), "\\*");
    assert_eq!(like_to_glob("\\%\\_\\\\", Some('\\')).unwrap(), "%_\\");
    assert_eq!(like_to_glob("é_ü", Some('é')).unwrap(), "_ü");
    assert!(like_to_glob("a\\", Some('\\')).is_err());
    assert!(like_to_glob("\\a", Some('\\')).is_err());
}

/// A tiny deterministic generator (xorshift64*).
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PIECES: &[&str] = &[
    "title",
    "pages",
    "\"first\"",
    "system.object_id",
    "system.test.type_date",
    "system.test.type_binary",
    "notes",
    "nosuch",
    "ns.título",
    "'a'",
    "'%a_'",
    "''''",
    "N'x'",
    "x'0a'",
    "x'",
    "'",
    "\"",
    "\\",
    "5",
    "-3",
    "007",
    "1.5e3",
    "1e",
    ".5",
    "99999999999999999999",
    "?",
    "=",
    "<>",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "||",
    "+",
    "-",
    "*",
    "/",
    "--",
    "/*",
    "*/",
    ";",
    "(",
    ")",
    ",",
    "{",
    "}",
    "{fn",
    "UCASE(",
    "LOCATE(",
    "fn",
    "date",
    "timestamp",
    "'2010-10-20'",
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "ESCAPE",
    "'!'",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "SELECT",
    "DROP",
    "FIRST",
    "CURRENT_DATE",
    "CURRENT_TIMESTAMP",
    "TIMESTAMPDIFF(",
    "SQL_TSI_DAY",
    "{escape",
    "{d",
    "{ts",
    " ",
    "\n",
    "é",
    "€",
    "\u{0}",
    "\u{7f}",
    "𝄞",
    ".",
    "..",
    "ns.",
    "system.",
    "#",
    "&&",
    "=>",
];

#[test]
fn garbage_never_panics() {
    let f = fields();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ok = 0;
    for _ in 0..30_000 {
        let n = 1 + rng.below(14);
        let mut q = String::new();
        for _ in 0..n {
            if rng.below(6) == 0 {
                q.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'));
            } else {
                q.push_str(rng.pick(PIECES));
            }
            if rng.below(2) == 0 {
                q.push(' ');
            }
        }
        if let Ok(plan) = translate(&q, &["title"], &f) {
            ok += 1;
            assert_clean_sql(plan.sql());
            let bindings: Vec<(usize, Value)> = plan
                .placeholders()
                .iter()
                .map(|p| (p.number, sample_binding(p.ty)))
                .collect();
            let (sql, params) = plan
                .bind(&bindings, "", 1)
                .unwrap_or_else(|e| panic!("{q:?}: {e}"));
            assert_eq!(sql.matches('?').count(), params.len());
        } else if let Err(e) = translate(&q, &[], &f) {
            if let Some(p) = e.pos {
                assert!(p <= q.chars().count(), "{q:?}: {e}");
            }
        }
    }
    assert!(ok > 0, "no garbage query translated");
    // Random bytes, through the fuzzing entry.
    for _ in 0..20_000 {
        let n = rng.below(40);
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        fuzz_translate(&bytes);
    }
    // Mutations of valid queries.
    for (q, ..) in accepted() {
        let chars: Vec<char> = q.chars().collect();
        for k in 0..chars.len() {
            let cut: String = chars[..k].iter().collect();
            let _ = translate(&cut, &[], &f);
            let mut dropped = chars.clone();
            dropped.remove(k);
            let _ = translate(&dropped.iter().collect::<String>(), &[], &f);
        }
    }
}

#[test]
fn nested_functions_cannot_blow_up_the_sql() {
    let f = fields();
    let mut q = String::from("1");
    for _ in 0..30 {
        q = format!("{{fn LOCATE('a', title, {q})}}");
    }
    let e = translate(&format!("{q} = 1"), &[], &f).unwrap_err();
    assert_eq!(e.kind, QueryErrorKind::TooComplex, "{e}");
    // A few levels are fine.
    let mut q = String::from("1");
    for _ in 0..5 {
        q = format!("{{fn LOCATE('a', title, {q})}}");
    }
    translate(&format!("{q} = 1"), &[], &f).unwrap();
}
