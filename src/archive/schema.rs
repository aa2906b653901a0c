//! The 5800 metadata schema: the XML metadata configuration file of a
//! server directory (HC-API-FACTS §3) parsed into field definitions,
//! namespaces and tables.
//!
//! ```xml
//! <metadataConfig>
//!   <schema>
//!     <namespace name="demo" writable="true" extensible="true">
//!       <field name="title" type="string" length="64" queryable="true"/>
//!     </namespace>
//!   </schema>
//!   <fsViews>...</fsViews>            <!-- WebDAV views: parsed, ignored -->
//!   <tables>
//!     <table name="demo_t"><column name="demo.title"/></table>
//!   </tables>
//! </metadataConfig>
//! ```
//!
//! Every problem is a [`SchemaError`] naming the line, e.g.
//! `schema line 7: field "demo.title": length 5000 exceeds the maximum 4000 for string`.
//! Attributes the format does not define are ignored, as the 5800 server
//! ignores them, and reported by [`Schema::warnings`].

use std::collections::HashMap;
use std::fmt;

use roxmltree::{Document, Node, ParsingOptions};

use super::{FieldDef, FieldType, Fields};

/// The default schema of a new server directory: the 5800 factory schema
/// (`system`, `system.test`, `filesystem`) plus the `ost` namespace of
/// images written through the stsp_* API.
pub const FACTORY_XML: &str = include_str!("factory_schema.xml");

/// Default length of string, char and binary fields.
pub use super::value::DEFAULT_LENGTH;
/// Maximum length of a string field (characters).
pub const MAX_STRING_LENGTH: u32 = 4000;
/// Maximum length of a char or binary field (bytes).
pub const MAX_BYTES_LENGTH: u32 = 8000;
/// Bytes a table row may use.
pub const ROW_BUDGET: u32 = 8080;
/// Bytes every row of a table uses before its columns.
pub const ROW_OVERHEAD: u32 = 78;
/// Bytes each column uses besides its value.
pub const COLUMN_OVERHEAD: u32 = 2;
/// Most columns a table may have.
pub const MAX_COLUMNS: usize = 254;

/// The field every object has and no table needs.
pub const OBJECT_ID_FIELD: &str = "system.object_id";

/// Most XML nodes a schema file may have (bounds memory on hostile input).
const NODES_LIMIT: u32 = 1_000_000;

/// A problem in a schema file, with the line (1-based) it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    pub line: u32,
    /// Column (1-based, in characters) of the element or attribute at
    /// fault. Only malformed XML shows it in the message, where the
    /// position within the line matters.
    pub column: Option<u32>,
    pub message: String,
    /// Whether the file is not well-formed XML (rather than a schema that
    /// breaks the format's rules).
    pub malformed_xml: bool,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(col) if self.malformed_xml => {
                write!(f, "schema line {}, column {}: {}", self.line, col, self.message)
            }
            _ => write!(f, "schema line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for SchemaError {}

/// A namespace of the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    /// Qualified name, e.g. "system.test".
    pub name: String,
    /// Whether stores may set this namespace's own fields (not inherited).
    pub writable: bool,
    /// Whether a later schema may add fields or namespaces to it.
    pub extensible: bool,
    pub line: u32,
}

/// A table: queryable fields the catalog keeps together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// Qualified field names, in declaration order.
    pub columns: Vec<String>,
    /// True for the table of a queryable field that no `<table>` lists.
    pub automatic: bool,
    /// Line of the `<table>` element, or of the field for automatic ones.
    pub line: u32,
}

/// A parsed metadata schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    fields: Vec<FieldDef>,
    field_lines: Vec<u32>,
    by_name: HashMap<String, usize>,
    namespaces: Vec<Namespace>,
    tables: Vec<Table>,
    /// Field name -> index in `tables`.
    table_of: HashMap<String, usize>,
    warnings: Vec<String>,
    schema_line: u32,
}

impl Fields for Schema {
    fn field(&self, name: &str) -> Option<&FieldDef> {
        Schema::field(self, name)
    }
}

impl Schema {
    /// Parses a schema file.
    pub fn parse(xml: &str) -> Result<Schema, SchemaError> {
        let opts = ParsingOptions {
            allow_dtd: true,
            nodes_limit: NODES_LIMIT,
            ..ParsingOptions::default()
        };
        let doc = Document::parse_with_options(xml, opts).map_err(xml_error)?;
        Parser::new(&doc).run()
    }

    /// The default schema ([`FACTORY_XML`]).
    pub fn factory() -> Schema {
        // FACTORY_XML is part of the program, and the tests parse it.
        Schema::parse(FACTORY_XML).expect("the built-in factory schema parses")
    }

    /// Every field, in declaration order (the order of
    /// `hc_schema_get_type_at_index`).
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// The field with this qualified name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }

    /// Position of a field in [`Schema::fields`].
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The line a field is declared on.
    pub fn line_of(&self, name: &str) -> Option<u32> {
        self.index_of(name).map(|i| self.field_lines[i])
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every namespace, in declaration order (parents before children).
    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }

    /// The namespace with this qualified name.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    /// The declared tables in file order, then the automatic ones in field
    /// order.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// The table holding a field (none for non-queryable fields and
    /// `system.object_id`).
    pub fn table_of(&self, field: &str) -> Option<&Table> {
        self.table_of.get(field).map(|&i| &self.tables[i])
    }

    /// Things in the file that were ignored (unknown attributes, a length
    /// on a type without one), one message each, formatted like errors.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Checks that the fields the server fills in itself are declared as
    /// in the factory schema (same type and length, not writable): the
    /// `system` fields every object has and the `ost` fields of stsp_*
    /// images. A server directory's schema must pass this; [`Schema::parse`]
    /// alone accepts any valid schema.
    pub fn check_server_fields(&self) -> Result<(), SchemaError> {
        let factory = Schema::factory();
        for want in factory.fields().iter().filter(|f| !f.writable) {
            let err = |line: u32, message: String| SchemaError {
                line,
                column: None,
                message,
                malformed_xml: false,
            };
            let Some(have) = self.field(&want.name) else {
                return Err(err(
                    self.schema_line,
                    format!(
                        "the server needs field {:?} ({}), which is not declared",
                        want.name,
                        describe(want)
                    ),
                ));
            };
            if have.ty != want.ty || have.length != want.length || have.writable || !have.queryable {
                return Err(err(
                    self.line_of(&want.name).unwrap_or(self.schema_line),
                    format!(
                        "field {:?} must be declared as {}, queryable, in a namespace that is not writable",
                        want.name,
                        describe(want)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// "string(64)", "long".
fn describe(f: &FieldDef) -> String {
    match f.length {
        Some(n) => format!("{}({n})", f.ty.name()),
        None => f.ty.name().to_string(),
    }
}

fn xml_error(e: roxmltree::Error) -> SchemaError {
    let pos = e.pos();
    // roxmltree's messages say " at LINE:COL"; ours says it first.
    let message = e.to_string().replace(&format!(" at {}:{}", pos.row, pos.col), "");
    SchemaError {
        line: pos.row,
        column: Some(pos.col),
        message: format!("malformed XML: {message}"),
        malformed_xml: true,
    }
}

/// Bytes a column of this field uses in a table row (its value; the
/// 2-byte column overhead comes on top). An objectid is part of the row
/// overhead, as the 5800 rules count it.
pub fn column_size(def: &FieldDef) -> u32 {
    let len = def.length.unwrap_or(DEFAULT_LENGTH);
    match def.ty {
        FieldType::String => len.saturating_mul(2),
        FieldType::Char | FieldType::Binary => len,
        FieldType::Long | FieldType::Double | FieldType::Timestamp => 8,
        FieldType::Date | FieldType::Time => 4,
        FieldType::ObjectId => 0,
    }
}

fn has_length(ty: FieldType) -> bool {
    matches!(ty, FieldType::String | FieldType::Char | FieldType::Binary)
}

struct Parser<'a, 'input> {
    doc: &'a Document<'input>,
    fields: Vec<FieldDef>,
    field_lines: Vec<u32>,
    by_name: HashMap<String, usize>,
    namespaces: Vec<Namespace>,
    namespace_lines: HashMap<String, u32>,
    tables: Vec<Table>,
    table_lines: HashMap<String, u32>,
    table_of: HashMap<String, usize>,
    warnings: Vec<String>,
}

type Res<T> = Result<T, SchemaError>;

impl<'a, 'input> Parser<'a, 'input> {
    fn new(doc: &'a Document<'input>) -> Self {
        Parser {
            doc,
            fields: Vec::new(),
            field_lines: Vec::new(),
            by_name: HashMap::new(),
            namespaces: Vec::new(),
            namespace_lines: HashMap::new(),
            tables: Vec::new(),
            table_lines: HashMap::new(),
            table_of: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    fn pos(&self, at: usize) -> (u32, u32) {
        let p = self.doc.text_pos_at(at);
        (p.row, p.col)
    }

    fn line(&self, node: Node) -> u32 {
        self.pos(node.range().start).0
    }

    fn err(&self, node: Node, message: String) -> SchemaError {
        let (line, col) = self.pos(node.range().start);
        SchemaError {
            line,
            column: Some(col),
            message,
            malformed_xml: false,
        }
    }

    fn attr_err(&self, node: Node, attr: &str, message: String) -> SchemaError {
        let at = node
            .attributes()
            .find(|a| a.name() == attr)
            .map_or(node.range().start, |a| a.range().start);
        let (line, col) = self.pos(at);
        SchemaError {
            line,
            column: Some(col),
            message,
            malformed_xml: false,
        }
    }

    fn warn(&mut self, node: Node, message: String) {
        let line = self.line(node);
        self.warnings.push(format!("schema line {line}: {message}"));
    }

    /// Element children of `node`, refusing text other than whitespace.
    fn elements(&self, node: Node<'a, 'input>) -> Res<Vec<Node<'a, 'input>>> {
        let mut out = Vec::new();
        for child in node.children() {
            if child.is_element() {
                out.push(child);
            } else if child.is_text() {
                let text = child.text().unwrap_or("").trim();
                if !text.is_empty() {
                    let shown: String = text.chars().take(40).collect();
                    // Point at the text itself, not the whitespace before it.
                    let raw = self.doc.input_text().get(child.range()).unwrap_or("");
                    let (line, col) = self.pos(child.range().start + (raw.len() - raw.trim_start().len()));
                    return Err(SchemaError {
                        line,
                        column: Some(col),
                        message: format!("unexpected text {shown:?} inside <{}>", node.tag_name().name()),
                        malformed_xml: false,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Warns about attributes outside `known`.
    fn known_attributes(&mut self, node: Node, what: &str, known: &[&str]) {
        for attr in node.attributes() {
            if !known.contains(&attr.name()) {
                let line = self.pos(attr.range().start).0;
                self.warnings.push(format!(
                    "schema line {line}: {what}: unknown attribute {:?} ignored",
                    attr.name()
                ));
            }
        }
    }

    fn bool_attr(&self, node: Node, what: &str, attr: &str, default: bool) -> Res<bool> {
        match node.attribute(attr) {
            None => Ok(default),
            Some(v) if v.trim().eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.trim().eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(self.attr_err(
                node,
                attr,
                format!("{what}: {attr}={v:?} must be \"true\" or \"false\""),
            )),
        }
    }

    /// A namespace, field or table name: required, non-empty, no dots (for
    /// namespaces and fields), no control characters, no surrounding
    /// whitespace.
    fn name_attr(&self, node: Node<'a, 'input>, kind: &str, dotted_ok: bool) -> Res<&'a str> {
        let Some(name) = node.attribute("name") else {
            return Err(self.err(node, format!("<{kind}> has no name attribute")));
        };
        let problem = if name.is_empty() {
            Some("is empty")
        } else if !dotted_ok && name.contains('.') {
            Some("contains '.' (nest namespaces instead)")
        } else if name.chars().any(char::is_control) {
            Some("contains a control character")
        } else if name.trim() != name {
            Some("begins or ends with whitespace")
        } else {
            None
        };
        match problem {
            Some(p) => Err(self.attr_err(node, "name", format!("{kind} name {name:?} {p}"))),
            None => Ok(name),
        }
    }

    fn run(mut self) -> Res<Schema> {
        let root = self.doc.root_element();
        if root.tag_name().name() != "metadataConfig" {
            return Err(self.err(
                root,
                format!(
                    "the root element is <{}>; a schema file's is <metadataConfig>",
                    root.tag_name().name()
                ),
            ));
        }
        let mut schema = None;
        let mut fs_views = None;
        let mut tables = None;
        for child in self.elements(root)? {
            let slot = match child.tag_name().name() {
                "schema" => &mut schema,
                "fsViews" => &mut fs_views,
                "tables" => &mut tables,
                other => {
                    return Err(self.err(
                        child,
                        format!(
                            "unexpected <{other}> in <metadataConfig> (expected schema, fsViews, tables)"
                        ),
                    ));
                }
            };
            if let Some(first) = slot.replace(child) {
                let first_line = self.line(first);
                return Err(self.err(
                    child,
                    format!(
                        "a second <{}> (the first is at line {first_line})",
                        child.tag_name().name()
                    ),
                ));
            }
        }
        let Some(schema) = schema else {
            return Err(self.err(root, "<metadataConfig> has no <schema> element".into()));
        };
        self.schema(schema)?;
        // fsViews (WebDAV views) mean nothing to this API.
        if let Some(tables) = tables {
            self.tables(tables)?;
        }
        self.automatic_tables();
        for i in 0..self.tables.len() {
            self.check_budget(i)?;
        }
        let schema_line = self.line(schema);
        Ok(Schema {
            fields: self.fields,
            field_lines: self.field_lines,
            by_name: self.by_name,
            namespaces: self.namespaces,
            tables: self.tables,
            table_of: self.table_of,
            warnings: self.warnings,
            schema_line,
        })
    }

    /// Walks `<schema>` in document order with an explicit stack (no
    /// recursion, whatever the nesting depth).
    fn schema(&mut self, schema: Node<'a, 'input>) -> Res<()> {
        // (element, qualified name of its namespace, that namespace's writable flag)
        let mut stack: Vec<(Node<'a, 'input>, String, bool)> = Vec::new();
        for child in self.elements(schema)?.into_iter().rev() {
            stack.push((child, String::new(), true));
        }
        while let Some((node, prefix, writable)) = stack.pop() {
            match node.tag_name().name() {
                "namespace" => {
                    let name = self.name_attr(node, "namespace", false)?;
                    let qualified = if prefix.is_empty() {
                        name.to_string()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    let what = format!("namespace {qualified:?}");
                    self.known_attributes(node, &what, &["name", "writable", "extensible"]);
                    let ns_writable = self.bool_attr(node, &what, "writable", true)?;
                    let extensible = self.bool_attr(node, &what, "extensible", true)?;
                    self.claim_name(node, &qualified, "namespace")?;
                    let line = self.line(node);
                    self.namespace_lines.insert(qualified.clone(), line);
                    self.namespaces.push(Namespace {
                        name: qualified.clone(),
                        writable: ns_writable,
                        extensible,
                        line,
                    });
                    for child in self.elements(node)?.into_iter().rev() {
                        stack.push((child, qualified.clone(), ns_writable));
                    }
                }
                "field" => self.field(node, &prefix, writable)?,
                other => {
                    let parent = if prefix.is_empty() {
                        "<schema>".to_string()
                    } else {
                        format!("namespace {prefix:?}")
                    };
                    return Err(self.err(
                        node,
                        format!("unexpected <{other}> in {parent} (expected namespace or field)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses a qualified name already used by a field or namespace.
    fn claim_name(&self, node: Node, qualified: &str, kind: &str) -> Res<()> {
        let previous = if let Some(&i) = self.by_name.get(qualified) {
            Some(("field", self.field_lines[i]))
        } else {
            self.namespace_lines
                .get(qualified)
                .map(|&line| ("namespace", line))
        };
        match previous {
            Some((prev_kind, line)) if prev_kind == kind => Err(self.err(
                node,
                format!("{kind} {qualified:?} is declared twice (first at line {line})"),
            )),
            Some((prev_kind, line)) => Err(self.err(
                node,
                format!("{kind} {qualified:?}: the name is already a {prev_kind} (line {line})"),
            )),
            None => Ok(()),
        }
    }

    fn field(&mut self, node: Node<'a, 'input>, prefix: &str, writable: bool) -> Res<()> {
        let name = self.name_attr(node, "field", false)?;
        let qualified = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let what = format!("field {qualified:?}");
        self.known_attributes(
            node,
            &what,
            &["name", "type", "length", "queryable", "indexed", "indexable"],
        );
        if let Some(child) = self.elements(node)?.first() {
            return Err(self.err(*child, format!("{what}: a field cannot contain elements")));
        }
        let Some(type_name) = node.attribute("type") else {
            return Err(self.err(node, format!("{what}: no type attribute")));
        };
        let Some(ty) = FieldType::from_name(&type_name.trim().to_ascii_lowercase()) else {
            return Err(self.attr_err(
                node,
                "type",
                format!(
                    "{what}: unknown type {type_name:?} (expected long, double, string, char, binary, date, time, \
                     timestamp or objectid)"
                ),
            ));
        };
        let length = match (has_length(ty), node.attribute("length")) {
            (false, None) => None,
            (false, Some(_)) => {
                self.warn(node, format!("{what}: length ignored for a {} field", ty.name()));
                None
            }
            (true, None) => Some(DEFAULT_LENGTH),
            (true, Some(text)) => Some(self.length(node, &what, ty, text)?),
        };
        // queryable, and its synonyms indexed and indexable: given more
        // than once, they must agree.
        let mut queryable: Option<(bool, &str)> = None;
        for attr in ["queryable", "indexed", "indexable"] {
            if node.attribute(attr).is_none() {
                continue;
            }
            let value = self.bool_attr(node, &what, attr, true)?;
            match queryable {
                Some((prev, prev_attr)) if prev != value => {
                    return Err(self.attr_err(
                        node,
                        attr,
                        format!("{what}: {attr}=\"{value}\" contradicts {prev_attr}=\"{prev}\""),
                    ));
                }
                _ => queryable = Some((value, attr)),
            }
        }
        let queryable = queryable.is_none_or(|(q, _)| q);
        self.claim_name(node, &qualified, "field")?;
        let line = self.line(node);
        self.by_name.insert(qualified.clone(), self.fields.len());
        self.fields.push(FieldDef {
            name: qualified,
            ty,
            length,
            queryable,
            writable,
        });
        self.field_lines.push(line);
        Ok(())
    }

    fn length(&self, node: Node, what: &str, ty: FieldType, text: &str) -> Res<u32> {
        let t = text.trim();
        let bad = |message: String| self.attr_err(node, "length", format!("{what}: {message}"));
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("length {text:?} is not a whole number")));
        }
        let max = if ty == FieldType::String {
            MAX_STRING_LENGTH
        } else {
            MAX_BYTES_LENGTH
        };
        let length = t.parse::<u64>().unwrap_or(u64::MAX);
        if length == 0 {
            return Err(bad(format!(
                "length 0 is too small for {} (at least 1)",
                ty.name()
            )));
        }
        if length > u64::from(max) {
            return Err(bad(format!(
                "length {t} exceeds the maximum {max} for {}",
                ty.name()
            )));
        }
        Ok(length as u32)
    }

    fn tables(&mut self, tables: Node<'a, 'input>) -> Res<()> {
        for table in self.elements(tables)? {
            if table.tag_name().name() != "table" {
                return Err(self.err(
                    table,
                    format!(
                        "unexpected <{}> in <tables> (expected table)",
                        table.tag_name().name()
                    ),
                ));
            }
            let name = self.name_attr(table, "table", true)?;
            let what = format!("table {name:?}");
            self.known_attributes(table, &what, &["name"]);
            if let Some(line) = self.table_lines.get(name) {
                return Err(self.err(table, format!("{what} is declared twice (first at line {line})")));
            }
            let index = self.tables.len();
            let mut columns = Vec::new();
            for column in self.elements(table)? {
                if column.tag_name().name() != "column" {
                    return Err(self.err(
                        column,
                        format!(
                            "{what}: unexpected <{}> (expected column)",
                            column.tag_name().name()
                        ),
                    ));
                }
                self.known_attributes(column, &format!("{what}: column"), &["name"]);
                let Some(field) = column.attribute("name") else {
                    return Err(self.err(column, format!("{what}: <column> has no name attribute")));
                };
                let Some(def) = self.by_name.get(field).map(|&i| &self.fields[i]) else {
                    return Err(self.attr_err(
                        column,
                        "name",
                        format!("{what}: column {field:?} is not a field of the schema"),
                    ));
                };
                if !def.queryable {
                    return Err(self.attr_err(
                        column,
                        "name",
                        format!("{what}: column {field:?} is not queryable, and only queryable fields go in tables"),
                    ));
                }
                if let Some(&other) = self.table_of.get(field) {
                    let previous = if other == index {
                        "this table".to_string()
                    } else {
                        format!(
                            "table {:?} (line {})",
                            self.tables[other].name, self.tables[other].line
                        )
                    };
                    return Err(self.attr_err(
                        column,
                        "name",
                        format!("{what}: column {field:?} is already in {previous}"),
                    ));
                }
                self.table_of.insert(field.to_string(), index);
                columns.push(field.to_string());
            }
            if columns.is_empty() {
                return Err(self.err(table, format!("{what} has no columns")));
            }
            if columns.len() > MAX_COLUMNS {
                return Err(self.err(
                    table,
                    format!(
                        "{what} has {} columns, more than the {MAX_COLUMNS} a table may have",
                        columns.len()
                    ),
                ));
            }
            let line = self.line(table);
            self.table_lines.insert(name.to_string(), line);
            self.tables.push(Table {
                name: name.to_string(),
                columns,
                automatic: false,
                line,
            });
        }
        Ok(())
    }

    /// A table of its own for each queryable field no table lists, named
    /// after the field with dots as underscores (and a numeric suffix if
    /// that name is taken).
    fn automatic_tables(&mut self) {
        for i in 0..self.fields.len() {
            let def = &self.fields[i];
            if !def.queryable || def.name == OBJECT_ID_FIELD || self.table_of.contains_key(&def.name) {
                continue;
            }
            let base = def.name.replace('.', "_");
            let mut name = base.clone();
            let mut n = 2;
            while self.table_lines.contains_key(&name) {
                name = format!("{base}_{n}");
                n += 1;
            }
            let field = def.name.clone();
            let line = self.field_lines[i];
            self.table_lines.insert(name.clone(), line);
            self.table_of.insert(field.clone(), self.tables.len());
            self.tables.push(Table {
                name,
                columns: vec![field],
                automatic: true,
                line,
            });
        }
    }

    fn check_budget(&self, index: usize) -> Res<()> {
        let table = &self.tables[index];
        let values: u64 = table
            .columns
            .iter()
            .filter_map(|c| self.by_name.get(c))
            .map(|&i| u64::from(column_size(&self.fields[i])))
            .sum();
        let overhead = u64::from(ROW_OVERHEAD) + u64::from(COLUMN_OVERHEAD) * table.columns.len() as u64;
        let total = values + overhead;
        if total > u64::from(ROW_BUDGET) {
            let what = if table.automatic {
                format!("field {:?} (in a table of its own)", table.columns[0])
            } else {
                format!("table {:?}", table.name)
            };
            return Err(SchemaError {
                line: table.line,
                column: None,
                message: format!(
                    "{what}: a row needs {total} bytes ({ROW_OVERHEAD} + {COLUMN_OVERHEAD} per column for {} columns \
                     + {values} for the values), more than the {ROW_BUDGET} allowed",
                    table.columns.len()
                ),
                malformed_xml: false,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
