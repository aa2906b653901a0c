//! Tests of `schema`: the file format, the factory schema, every error.

use super::*;

const MINIMAL: &str = r#"<metadataConfig><schema><namespace name="demo"><field name="title" type="string" length="64"/><field name="year" type="long"/></namespace></schema><tables><table name="demo_t"><column name="demo.title"/><column name="demo.year"/></table></tables></metadataConfig>"#;

fn parse(xml: &str) -> Schema {
    Schema::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

/// A schema whose `<schema>` body is `body` (starting on line 3).
fn with_body(body: &str, tables: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<metadataConfig>\n<schema>\n{body}\n</schema>\n{tables}\n</metadataConfig>\n"
    )
}

/// Parses `xml`, expecting an error on `line` whose message contains `text`.
fn fails(xml: &str, line: u32, text: &str) -> SchemaError {
    let err = match Schema::parse(xml) {
        Ok(_) => panic!("parsed, expected an error on line {line} about {text:?}:\n{xml}"),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert_eq!(err.line, line, "{shown}\n{xml}");
    assert!(shown.contains(text), "{shown:?} does not contain {text:?}");
    assert!(shown.starts_with(&format!("schema line {line}")), "{shown}");
    err
}

fn def(name: &str, ty: FieldType, length: Option<u32>, queryable: bool, writable: bool) -> FieldDef {
    FieldDef {
        name: name.into(),
        ty,
        length,
        queryable,
        writable,
    }
}

#[test]
fn minimal_example_parses() {
    let s = parse(MINIMAL);
    assert_eq!(s.len(), 2);
    assert!(!s.is_empty());
    assert_eq!(
        s.fields()[0],
        def("demo.title", FieldType::String, Some(64), true, true)
    );
    assert_eq!(s.fields()[1], def("demo.year", FieldType::Long, None, true, true));
    assert_eq!(s.field("demo.year").map(|f| f.ty), Some(FieldType::Long));
    assert_eq!(s.field("demo"), None);
    assert_eq!(s.field("title"), None);
    assert_eq!(s.index_of("demo.year"), Some(1));
    assert_eq!(
        s.tables(),
        &[Table {
            name: "demo_t".into(),
            columns: vec!["demo.title".into(), "demo.year".into()],
            automatic: false,
            line: 1
        }]
    );
    assert_eq!(s.table_of("demo.year").map(|t| t.name.as_str()), Some("demo_t"));
    assert_eq!(
        s.namespaces(),
        &[Namespace {
            name: "demo".into(),
            writable: true,
            extensible: true,
            line: 1
        }]
    );
    assert!(s.warnings().is_empty());
    // Through the trait the query translator uses.
    let fields: &dyn Fields = &s;
    assert_eq!(fields.field("demo.title").and_then(|f| f.length), Some(64));
    // Not a server schema: the system fields are missing.
    let err = s.check_server_fields().unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"the server needs field "system.object_id" (objectid)"#),
        "{err}"
    );
}

#[test]
fn factory_schema() {
    let s = Schema::factory();
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
    use FieldType::*;
    let want = [
        def("system.object_id", ObjectId, None, true, false),
        def("system.object_ctime", Long, None, true, false),
        def("system.object_layoutMapId", Long, None, true, false),
        def("system.object_size", Long, None, true, false),
        def("system.object_hash", Binary, Some(20), true, false),
        def("system.object_hash_alg", String, Some(4), true, false),
        def("system.test.type_long", Long, None, true, true),
        def("system.test.type_double", Double, None, true, true),
        def("system.test.type_string", String, Some(512), true, true),
        def("system.test.type_char", Char, Some(512), true, true),
        def("system.test.type_binary", Binary, Some(512), true, true),
        def("system.test.type_date", Date, None, true, true),
        def("system.test.type_time", Time, None, true, true),
        def("system.test.type_timestamp", Timestamp, None, true, true),
        def("filesystem.uid", Long, None, true, true),
        def("filesystem.gid", Long, None, true, true),
        def("filesystem.mode", Long, None, true, true),
        def("filesystem.mtime", Long, None, true, true),
        def("filesystem.mimetype", String, Some(256), true, true),
        def("ost.lsu", String, Some(127), true, false),
        def("ost.basename", String, Some(255), true, false),
        def("ost.date", String, Some(31), true, false),
    ];
    assert_eq!(s.fields(), &want);
    let ns: Vec<(&str, bool, bool)> = s
        .namespaces()
        .iter()
        .map(|n| (n.name.as_str(), n.writable, n.extensible))
        .collect();
    assert_eq!(
        ns,
        [
            ("system", false, false),
            ("system.test", true, false),
            ("filesystem", true, false),
            ("ost", false, false)
        ]
    );
    let tables: Vec<(&str, usize, bool)> = s
        .tables()
        .iter()
        .map(|t| (t.name.as_str(), t.columns.len(), t.automatic))
        .collect();
    assert_eq!(
        tables,
        [
            ("system", 5, false),
            ("filesystem", 5, false),
            ("ost", 3, false),
            ("system_test_type_long", 1, true),
            ("system_test_type_double", 1, true),
            ("system_test_type_string", 1, true),
            ("system_test_type_char", 1, true),
            ("system_test_type_binary", 1, true),
            ("system_test_type_date", 1, true),
            ("system_test_type_time", 1, true),
            ("system_test_type_timestamp", 1, true),
        ]
    );
    assert_eq!(s.table_of("system.object_id"), None);
    assert_eq!(
        s.table_of("system.object_hash").map(|t| t.name.as_str()),
        Some("system")
    );
    assert_eq!(s.check_server_fields(), Ok(()));
    assert_eq!(s.line_of("system.object_id"), Some(32));
    assert_eq!(
        FACTORY_XML.lines().nth(31).map(str::trim),
        Some(r#"<field name="object_id" type="objectid"/>"#)
    );
}

#[test]
fn defaults_and_flags() {
    let xml = with_body(
        r#"<namespace name="a" writable="false">
  <field name="s" type="string"/>
  <field name="c" type="char"/>
  <field name="bin" type="binary" length=" 8000 "/>
  <field name="hidden" type="double" queryable="false"/>
  <field name="old" type="date" indexable="FALSE"/>
  <field name="idx" type="time" indexed="true" queryable="true"/>
  <namespace name="b" extensible="false">
    <field name="x" type="timestamp"/>
  </namespace>
</namespace>
<field name="top" type="long"/>"#,
        "",
    );
    let s = parse(&xml);
    use FieldType::*;
    assert_eq!(
        s.fields(),
        &[
            def("a.s", String, Some(512), true, false),
            def("a.c", Char, Some(512), true, false),
            def("a.bin", Binary, Some(8000), true, false),
            def("a.hidden", Double, None, false, false),
            def("a.old", Date, None, false, false),
            def("a.idx", Time, None, true, false),
            // writable is not inherited: "a.b" is writable by default.
            def("a.b.x", Timestamp, None, true, true),
            def("top", Long, None, true, true),
        ]
    );
    assert_eq!(
        s.namespace("a.b").map(|n| (n.writable, n.extensible)),
        Some((true, false))
    );
    assert_eq!(
        s.namespace("a").map(|n| (n.writable, n.extensible, n.line)),
        Some((false, true, 4))
    );
    // Non-queryable fields get no table; every queryable one has exactly one.
    assert_eq!(s.table_of("a.hidden"), None);
    assert_eq!(s.table_of("a.old"), None);
    for f in s.fields() {
        let n = s.tables().iter().filter(|t| t.columns.contains(&f.name)).count();
        assert_eq!(n, usize::from(f.queryable), "{}", f.name);
    }
    assert_eq!(s.table_of("a.b.x").map(|t| t.name.as_str()), Some("a_b_x"));
    assert_eq!(
        s.table_of("top").map(|t| (t.name.as_str(), t.automatic, t.line)),
        Some(("top", true, 15))
    );
}

#[test]
fn utf8_names() {
    let xml = with_body(
        r#"<namespace name="ünïcödé">
  <field name="мне не вредит" type="string" length="32"/>
  <field name="我能吞下玻璃而不伤身体" type="string" length="32"/>
</namespace>"#,
        r#"<tables><table name="表"><column name="ünïcödé.мне не вредит"/><column name="ünïcödé.我能吞下玻璃而不伤身体"/></table></tables>"#,
    );
    let s = parse(&xml);
    assert_eq!(s.fields()[0].name, "ünïcödé.мне не вредит");
    assert_eq!(s.fields()[1].name, "ünïcödé.我能吞下玻璃而不伤身体");
    assert_eq!(s.tables()[0].name, "表");
    assert_eq!(s.tables().len(), 1);
}

#[test]
fn fs_views_doctype_comments_and_unknown_attributes() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE metadataConfig SYSTEM "st5800.dtd">
<!-- a comment -->
<metadataConfig>
  <schema>
    <namespace name="mp3" color="blue">
      <field name="artist" type="string" length="128" fulltext="yes"/>
      <field name="year" type="long" length="8"/>
    </namespace>
  </schema>
  <fsViews>
    <fsView name="byArtist" filename="${title}.mp3" namespace="mp3" fsattrs="true">
      <attribute name="artist" unset="unk"/>
      <anything>goes here</anything>
    </fsView>
  </fsViews>
</metadataConfig>"#;
    let s = parse(xml);
    assert_eq!(s.len(), 2);
    assert_eq!(
        s.warnings(),
        &[
            r#"schema line 6: namespace "mp3": unknown attribute "color" ignored"#.to_string(),
            r#"schema line 7: field "mp3.artist": unknown attribute "fulltext" ignored"#.to_string(),
            r#"schema line 8: field "mp3.year": length ignored for a long field"#.to_string(),
        ]
    );
}

#[test]
fn length_errors() {
    let xml = with_body(
        r#"<namespace name="demo">
  <field name="ok" type="string" length="4000"/>
  <field name="c" type="char" length="8000"/>
  <field name="title" type="string" length="5000"/>
</namespace>"#,
        "",
    );
    let err = fails(&xml, 7, "");
    assert_eq!(
        err.to_string(),
        r#"schema line 7: field "demo.title": length 5000 exceeds the maximum 4000 for string"#
    );
    let cases = [
        (
            r#"<field name="f" type="char" length="8001"/>"#,
            "length 8001 exceeds the maximum 8000 for char",
        ),
        (
            r#"<field name="f" type="binary" length="99999999999999999999"/>"#,
            "exceeds the maximum 8000 for binary",
        ),
        (
            r#"<field name="f" type="binary" length="0"/>"#,
            "length 0 is too small for binary",
        ),
        (
            r#"<field name="f" type="string" length="-1"/>"#,
            r#"length "-1" is not a whole number"#,
        ),
        (
            r#"<field name="f" type="string" length="12abc"/>"#,
            r#"length "12abc" is not a whole number"#,
        ),
        (
            r#"<field name="f" type="string" length=""/>"#,
            r#"length "" is not a whole number"#,
        ),
    ];
    for (field, text) in cases {
        fails(&with_body(&format!("\n{field}"), ""), 5, text);
    }
}

#[test]
fn name_and_type_errors() {
    let cases = [
        (
            r#"<field name="f" type="int"/>"#,
            r#"field "f": unknown type "int" (expected long, double"#,
        ),
        (r#"<field name="f" type="byte"/>"#, r#"unknown type "byte""#),
        (r#"<field name="f"/>"#, r#"field "f": no type attribute"#),
        (r#"<field type="long"/>"#, "<field> has no name attribute"),
        (r#"<field name="" type="long"/>"#, r#"field name "" is empty"#),
        (
            r#"<field name="a.b" type="long"/>"#,
            r#"field name "a.b" contains '.'"#,
        ),
        (
            r#"<field name=" a" type="long"/>"#,
            "begins or ends with whitespace",
        ),
        (
            r#"<field name="a&#9;b" type="long"/>"#,
            "contains a control character",
        ),
        (
            r#"<namespace name="x.y"/>"#,
            r#"namespace name "x.y" contains '.'"#,
        ),
        (r#"<namespace/>"#, "<namespace> has no name attribute"),
        (
            r#"<namespace name="n" writable="yes"/>"#,
            r#"namespace "n": writable="yes" must be "true" or "false""#,
        ),
        (
            r#"<field name="f" type="long" queryable="1"/>"#,
            r#"queryable="1" must be"#,
        ),
        (
            r#"<field name="f" type="long" queryable="true" indexable="false"/>"#,
            r#"field "f": indexable="false" contradicts queryable="true""#,
        ),
        (
            r#"<field name="f" type="long"><x/></field>"#,
            r#"field "f": a field cannot contain elements"#,
        ),
        (
            r#"<table name="t"/>"#,
            "unexpected <table> in <schema> (expected namespace or field)",
        ),
        (
            r#"<namespace name="n"><tables/></namespace>"#,
            r#"unexpected <tables> in namespace "n""#,
        ),
        (r#"hello"#, r#"unexpected text "hello" inside <schema>"#),
    ];
    for (body, text) in cases {
        fails(&with_body(&format!("\n{body}"), ""), 5, text);
    }
    // Type names are matched without regard to case.
    let s = parse(&with_body(r#"<field name="f" type="Long"/>"#, ""));
    assert_eq!(s.fields()[0].ty, FieldType::Long);
}

#[test]
fn duplicate_names() {
    let ns = |body: &str| with_body(&format!("<namespace name=\"d\">\n{body}\n</namespace>"), "");
    fails(
        &ns("<field name=\"a\" type=\"long\"/>\n<field name=\"a\" type=\"double\"/>"),
        6,
        r#"field "d.a" is declared twice (first at line 5)"#,
    );
    fails(
        &ns("<namespace name=\"n\"/>\n<namespace name=\"n\"/>"),
        6,
        r#"namespace "d.n" is declared twice (first at line 5)"#,
    );
    fails(
        &ns("<field name=\"n\" type=\"long\"/>\n<namespace name=\"n\"/>"),
        6,
        r#"namespace "d.n": the name is already a field (line 5)"#,
    );
    // The same name in different namespaces is fine.
    let s = parse(&ns(
        "<namespace name=\"x\"><field name=\"a\" type=\"long\"/></namespace><field name=\"a\" type=\"long\"/>",
    ));
    assert_eq!(
        s.fields().iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["d.x.a", "d.a"]
    );
    // A top-level field and a namespace share one name space too.
    fails(
        &with_body("<field name=\"d\" type=\"long\"/>\n<namespace name=\"d\"/>", ""),
        5,
        r#"namespace "d": the name is already a field (line 4)"#,
    );
}

#[test]
fn table_errors() {
    let body = r#"<namespace name="d">
  <field name="a" type="long"/>
  <field name="b" type="string" length="4000"/>
  <field name="hidden" type="long" queryable="false"/>
  <field name="c" type="char" length="10"/>
</namespace>"#;
    let t = |tables: &str| with_body(body, &format!("<tables>\n{tables}\n</tables>"));
    // The tables start on line 12.
    fails(
        &t(r#"<table name="t"><column name="d.zz"/></table>"#),
        12,
        r#"table "t": column "d.zz" is not a field"#,
    );
    fails(
        &t(r#"<table name="t"><column name="a"/></table>"#),
        12,
        r#"column "a" is not a field"#,
    );
    fails(
        &t(r#"<table name="t"><column name="d.hidden"/></table>"#),
        12,
        r#"table "t": column "d.hidden" is not queryable"#,
    );
    fails(
        &t(
            "<table name=\"t\"><column name=\"d.a\"/></table>\n<table name=\"u\">\n<column name=\"d.a\"/></table>",
        ),
        14,
        r#"table "u": column "d.a" is already in table "t" (line 12)"#,
    );
    fails(
        &t(r#"<table name="t"><column name="d.a"/><column name="d.a"/></table>"#),
        12,
        r#"column "d.a" is already in this table"#,
    );
    fails(
        &t(
            "<table name=\"t\"><column name=\"d.a\"/></table>\n<table name=\"t\"><column name=\"d.c\"/></table>",
        ),
        13,
        r#"table "t" is declared twice (first at line 12)"#,
    );
    fails(
        &t(r#"<table name="t"></table>"#),
        12,
        r#"table "t" has no columns"#,
    );
    fails(
        &t(r#"<table><column name="d.a"/></table>"#),
        12,
        "<table> has no name attribute",
    );
    fails(
        &t(r#"<table name="t"><column/></table>"#),
        12,
        r#"table "t": <column> has no name attribute"#,
    );
    fails(
        &t(r#"<table name="t"><field name="d.a"/></table>"#),
        12,
        r#"table "t": unexpected <field>"#,
    );
    fails(&t(r#"<view name="t"/>"#), 12, "unexpected <view> in <tables>");
    // 78 + 2*2 + 8000 + 8 = 8090 bytes.
    let err = fails(
        &t(r#"<table name="big"><column name="d.b"/><column name="d.a"/></table>"#),
        12,
        r#"table "big": a row needs 8090 bytes"#,
    );
    assert!(err.to_string().ends_with("more than the 8080 allowed"), "{err}");
    // 78 + 2*2 + 8000 + 10 = 8092 -> too big; without d.a: 8080 fits exactly.
    fails(
        &t(r#"<table name="big"><column name="d.b"/><column name="d.c"/></table>"#),
        12,
        "8092 bytes",
    );
    let s = parse(&t(r#"<table name="big"><column name="d.b"/></table>"#));
    assert_eq!(s.table_of("d.a").map(|t| t.name.as_str()), Some("d_a"));
    assert_eq!(s.table_of("d.c").map(|t| t.automatic), Some(true));
}

#[test]
fn column_limit_and_automatic_name_collisions() {
    let fields: String = (0..255)
        .map(|i| format!("<field name=\"f{i}\" type=\"date\"/>"))
        .collect();
    let columns: String = (0..255).map(|i| format!("<column name=\"n.f{i}\"/>")).collect();
    let xml = with_body(
        &format!("<namespace name=\"n\">{fields}</namespace>"),
        &format!("<tables>\n<table name=\"t\">{columns}</table></tables>"),
    );
    fails(&xml, 7, "has 255 columns, more than the 254");
    // Declared tables named like a field's automatic table.
    let s = parse(&with_body(
        r#"<namespace name="a"><field name="b" type="long"/><field name="c" type="long"/><field name="x" type="long"/></namespace>"#,
        r#"<tables><table name="a_b"><column name="a.c"/></table><table name="a_b_2"><column name="a.x"/></table></tables>"#,
    ));
    assert_eq!(s.table_of("a.b").map(|t| t.name.as_str()), Some("a_b_3"));
}

#[test]
fn document_structure_errors() {
    fails(
        "<schema/>",
        1,
        "the root element is <schema>; a schema file's is <metadataConfig>",
    );
    fails(
        "<metadataConfig>\n<tables/>\n</metadataConfig>",
        1,
        "<metadataConfig> has no <schema> element",
    );
    fails(
        "<metadataConfig>\n<schema/>\n<schema/>\n</metadataConfig>",
        3,
        "a second <schema> (the first is at line 2)",
    );
    fails(
        "<metadataConfig>\n<schema/>\n<indexes/>\n</metadataConfig>",
        3,
        "unexpected <indexes> in <metadataConfig>",
    );
    fails(
        "<metadataConfig>\n<schema/>\ntext\n</metadataConfig>",
        3,
        r#"unexpected text "text" inside <metadataConfig>"#,
    );
    // An empty schema is valid.
    assert!(parse("<metadataConfig><schema/></metadataConfig>").is_empty());
}

#[test]
fn malformed_xml_names_line_and_column() {
    let err = fails(
        "<metadataConfig>\n<schema>\n  <field name=\"a\" type=\"long\">\n</schema>\n</metadataConfig>",
        4,
        "malformed XML",
    );
    assert!(err.malformed_xml);
    assert_eq!(err.column, Some(1));
    assert!(
        err.to_string()
            .starts_with("schema line 4, column 1: malformed XML: "),
        "{err}"
    );
    assert!(!err.to_string().contains(" at 4:"), "{err}");
    fails("", 1, "malformed XML");
    fails("<metadataConfig><schema>", 1, "malformed XML");
    let err = fails(
        "<metadataConfig>\n<schema><field name=\"a\" name=\"b\"/></schema></metadataConfig>",
        2,
        "malformed XML",
    );
    assert_eq!(
        err.to_string(),
        "schema line 2, column 25: malformed XML: attribute 'name' is already defined"
    );
    fails(
        "<metadataConfig>\n\n<schema>&undefined;</schema></metadataConfig>",
        3,
        "malformed XML",
    );
    fails("not xml at all", 1, "malformed XML");
    // Semantic errors show the line only.
    let err = fails(
        &with_body(r#"<field name="f" type="int"/>"#, ""),
        4,
        "unknown type",
    );
    assert!(err.column.is_some() && !err.malformed_xml);
    assert!(!err.to_string().contains("column"), "{err}");
}

#[test]
fn server_fields_are_checked() {
    let bad = FACTORY_XML.replace(
        r#"<field name="object_size" type="long"/>"#,
        r#"<field name="object_size" type="double"/>"#,
    );
    let s = parse(&bad);
    let err = s.check_server_fields().unwrap_err();
    assert_eq!(err.line, s.line_of("system.object_size").unwrap());
    assert!(
        err.to_string()
            .contains(r#"field "system.object_size" must be declared as long"#),
        "{err}"
    );
    let writable = FACTORY_XML.replace(r#"name="ost" writable="false""#, r#"name="ost""#);
    assert!(parse(&writable).check_server_fields().is_err());
    // Adding the user's own namespaces keeps it a server schema.
    let more = FACTORY_XML.replace(
        "</schema>",
        "<namespace name=\"demo\"><field name=\"x\" type=\"long\"/></namespace></schema>",
    );
    let s = parse(&more);
    assert_eq!(s.check_server_fields(), Ok(()));
    assert_eq!(s.fields().last().map(|f| f.name.as_str()), Some("demo.x"));
}

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let sources = [FACTORY_XML, MINIMAL];
    let alphabet: Vec<char> = "<>/=\"' &;!?-[]abcdefmnstx.0123456789\n\t\u{e9}\u{6f22}"
        .chars()
        .collect();
    for round in 0..3000 {
        let src = sources[round % 2];
        let chars: Vec<char> = src.chars().collect();
        let mut text: Vec<char> = match round % 3 {
            // A truncation.
            0 => chars[..rng.below(chars.len() + 1)].to_vec(),
            // Random edits.
            1 => {
                let mut c = chars.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(c.len());
                    match rng.below(3) {
                        0 if !c.is_empty() => {
                            c.remove(at);
                        }
                        1 => c.insert(at, alphabet[rng.below(alphabet.len())]),
                        _ if !c.is_empty() => c[at] = alphabet[rng.below(alphabet.len())],
                        _ => {}
                    }
                }
                c
            }
            // Pure noise.
            _ => (0..rng.below(200))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
        };
        if round % 7 == 0 {
            text.reverse();
        }
        let xml: String = text.into_iter().collect();
        match Schema::parse(&xml) {
            Ok(s) => {
                let _ = s.check_server_fields();
            }
            Err(e) => {
                assert!(e.line >= 1, "{e}");
                assert!(!e.message.is_empty());
            }
        }
    }
}

#[test]
fn deep_nesting_is_no_problem() {
    let depth = 5_000;
    let mut xml = String::from("<metadataConfig><schema>");
    for i in 0..depth {
        xml.push_str(&format!("<namespace name=\"n{i}\">"));
    }
    xml.push_str("<field name=\"leaf\" type=\"long\"/>");
    xml.push_str(&"</namespace>".repeat(depth));
    xml.push_str("</schema></metadataConfig>");
    match Schema::parse(&xml) {
        Ok(s) => {
            assert_eq!(s.namespaces().len(), depth);
            assert!(s.fields()[0].name.ends_with(".n4999.leaf"));
        }
        // The XML parser may refuse such depth; it must say so, not crash.
        Err(e) => assert!(e.malformed_xml, "{e}"),
    }
}
