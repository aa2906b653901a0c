//! Type checking and translation of the expression tree to SQLite SQL.
//!
//! Every node becomes a [`Frag`]: SQL text, the parameters its `?` stand
//! for (in text order) and its type. Values never reach the SQL text:
//! literals, field names and even our own constants (time units, GLOB
//! escapes, date modifiers) are bound parameters. Fields become
//! `fN.<column>` of the N-th joined `object_fields` row.
//!
//! Typing (HC-API-FACTS §4 "Semantics"): operands must be of compatible
//! classes (numbers: long, double; text: string, char; bytes: binary,
//! objectid; date; time; timestamp). A plain string literal (or `N'..'`)
//! compared with a non-text operand is decoded into that operand's type
//! with [`Value::decode`] (so `type_date = '2010-10-20'` works, and
//! `type_long = '5'` too, as the original's bound string parameters did).
//! A `?` takes the type of what it is compared with.

use crate::archive::SqlValue;

use super::parser::{ArithOp, Current, Expr, Func, Interval, Kind};
use super::{Dialect, FieldType, Fields, Param, Placeholder, QueryError, QueryErrorKind, Value};

/// Longest `+ - * /` chain (each step nests one level in SQLite's tree).
const MAX_ARITH_CHAIN: usize = 32;
/// Deepest SQL expression tree we emit (SQLite's limit is 1000).
pub(crate) const MAX_SQL_DEPTH: usize = 500;
/// Longest WHERE SQL we emit (LOCATE's start argument appears twice, so
/// nested LOCATEs could otherwise grow it exponentially).
const MAX_SQL_LEN: usize = 1 << 20;

/// Operand classes: values of one class compare with each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Num,
    Text,
    Bytes,
    Date,
    Time,
    Timestamp,
}

fn class(t: FieldType) -> Class {
    match t {
        FieldType::Long | FieldType::Double => Class::Num,
        FieldType::String | FieldType::Char => Class::Text,
        FieldType::Binary | FieldType::ObjectId => Class::Bytes,
        FieldType::Date => Class::Date,
        FieldType::Time => Class::Time,
        FieldType::Timestamp => Class::Timestamp,
    }
}

pub(crate) fn is_text(t: FieldType) -> bool {
    class(t) == Class::Text
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    Null,
    Val(FieldType),
}

fn describe(ty: Ty) -> String {
    match ty {
        Ty::Bool => "a condition".into(),
        Ty::Null => "NULL".into(),
        Ty::Val(t) => format!("{} value", a_type(t)),
    }
}

/// A translated sub-expression.
#[derive(Clone, Debug)]
pub(crate) struct Frag {
    pub sql: String,
    pub params: Vec<Param>,
    pub ty: Ty,
    /// Depth of the SQL expression tree.
    pub depth: usize,
}

impl Frag {
    fn leaf(sql: &str, params: Vec<Param>, ty: Ty) -> Frag {
        Frag {
            sql: sql.to_string(),
            params,
            ty,
            depth: 1,
        }
    }

    fn value(v: &Value) -> Frag {
        Frag::leaf("?", vec![Param::Value(v.to_sql())], Ty::Val(v.ty()))
    }
}

/// A piece of a [`tpl`] template.
enum A {
    /// A sub-expression.
    F(Frag),
    /// A constant, bound as `?`.
    V(SqlValue),
    /// A parameter, bound as `?`.
    P(Param),
}

fn int(v: i64) -> A {
    A::V(SqlValue::Integer(v))
}

fn text(s: &str) -> A {
    A::V(SqlValue::Text(s.to_string()))
}

/// Fills each `{}` of `template` (our own SQL) with the next piece: a
/// fragment's SQL, or `?` for a constant or parameter; the parameters
/// follow the text order. A missing piece reads as NULL.
fn tpl(template: &str, pieces: Vec<A>, ty: Ty) -> Frag {
    let mut sql = String::with_capacity(template.len() + 16);
    let mut params = Vec::new();
    let mut depth = 0;
    let mut pieces = pieces.into_iter();
    let mut rest = template;
    while let Some(k) = rest.find("{}") {
        sql.push_str(&rest[..k]);
        match pieces.next() {
            Some(A::F(f)) => {
                sql.push_str(&f.sql);
                params.extend(f.params);
                depth = depth.max(f.depth);
            }
            Some(A::V(v)) => {
                sql.push('?');
                params.push(Param::Value(v));
            }
            Some(A::P(p)) => {
                sql.push('?');
                params.push(p);
            }
            None => sql.push_str("NULL"),
        }
        rest = &rest[k + 2..];
    }
    sql.push_str(rest);
    Frag {
        sql,
        params,
        ty,
        depth: depth + 1,
    }
}

/// A field joined into the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Join {
    pub name: String,
    pub ty: FieldType,
}

pub(crate) struct Checker<'a> {
    fields: &'a dyn Fields,
    dialect: Dialect,
    pub joins: Vec<Join>,
    /// Indexed by parameter number - 1.
    pub placeholders: Vec<Option<Placeholder>>,
}

fn err(kind: QueryErrorKind, pos: usize, message: impl Into<String>) -> QueryError {
    QueryError::new(kind, Some(pos), message)
}

fn type_err(pos: usize, message: impl Into<String>) -> QueryError {
    err(QueryErrorKind::Type, pos, message)
}

fn is_flexible(e: &Expr) -> bool {
    matches!(e.kind, Kind::Str(_) | Kind::Param(_) | Kind::Null)
}

const CONDITION: &str = "a condition (a comparison, LIKE, BETWEEN, IN or IS [NOT] NULL)";

impl<'a> Checker<'a> {
    pub(crate) fn new(fields: &'a dyn Fields, n_params: usize, dialect: Dialect) -> Checker<'a> {
        Checker {
            fields,
            dialect,
            joins: Vec::new(),
            placeholders: vec![None; n_params],
        }
    }

    /// The alias number (from 1) of a field, joining it on first use.
    /// `pos` is None for select-list entries.
    pub(crate) fn join(&mut self, name: &str, pos: Option<usize>) -> Result<(usize, FieldType), QueryError> {
        let where_ = |p: Option<usize>| match p {
            Some(_) => String::new(),
            None => " in the select list".to_string(),
        };
        let Some(def) = self.fields.field(name) else {
            return Err(QueryError::new(
                QueryErrorKind::UnknownField,
                pos,
                format!(
                    "unknown field {name:?}{}: expected a field of the schema",
                    where_(pos)
                ),
            ));
        };
        if !def.queryable {
            return Err(QueryError::new(
                QueryErrorKind::NotQueryable,
                pos,
                format!("field {:?}{} is not queryable", def.name, where_(pos)),
            ));
        }
        if let Some(i) = self.joins.iter().position(|j| j.name == def.name) {
            return Ok((i + 1, self.joins[i].ty));
        }
        self.joins.push(Join {
            name: def.name.clone(),
            ty: def.ty,
        });
        Ok((self.joins.len(), def.ty))
    }

    fn pg(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// In PostgreSQL, an expression that is always NULL (`- NULL`, `abs(NULL)`)
    /// as a NULL of type `want`: PostgreSQL types `- NULL` as a number,
    /// which then cannot meet a string as SQLite's NULL does.
    fn pg_null(&self, f: Frag, want: Option<FieldType>) -> Frag {
        if !self.pg() || f.ty != Ty::Null {
            return f;
        }
        match want {
            Some(t) => Frag::leaf(&format!("CAST(NULL AS {})", pg_type(t)), Vec::new(), Ty::Null),
            None => null_frag(),
        }
    }

    /// `(a <op> b ..)` comparing values of type `target`: in PostgreSQL
    /// text compares by code point (SQLite's BINARY) whatever the
    /// database's default collation, as the `v_text` column does.
    fn compare(&self, template: &str, mut fs: Vec<Frag>, target: Option<FieldType>) -> Frag {
        if self.pg()
            && target.is_some_and(is_text)
            && let Some(first) = fs.first_mut()
        {
            *first = tpl("({} COLLATE \"C\")", vec![A::F(first.clone())], first.ty);
        }
        tpl(template, fs.into_iter().map(A::F).collect(), Ty::Bool)
    }

    fn placeholder(&mut self, number: usize, pos: usize, ty: FieldType) -> Result<(), QueryError> {
        match self.placeholders.get_mut(number.wrapping_sub(1)) {
            Some(slot) => {
                *slot = Some(Placeholder { number, pos, ty });
                Ok(())
            }
            None => Err(err(
                QueryErrorKind::Syntax,
                pos,
                "internal error: parameter numbering",
            )),
        }
    }

    /// The WHERE expression: it must be a condition.
    pub(crate) fn condition(&mut self, e: &Expr) -> Result<Frag, QueryError> {
        let f = self.emit(e)?;
        if f.ty != Ty::Bool {
            return Err(type_err(
                e.pos,
                format!("expected {CONDITION}, found {}", describe(f.ty)),
            ));
        }
        if f.depth > MAX_SQL_DEPTH {
            return Err(err(
                QueryErrorKind::TooComplex,
                e.pos,
                "the query is too complex (expression too deep)",
            ));
        }
        Ok(f)
    }

    /// A leaf whose type comes from context: a string literal, `?`, NULL.
    /// `want` is the type of the operand it meets, if known.
    fn flexible(&mut self, e: &Expr, want: Option<FieldType>) -> Result<Frag, QueryError> {
        match (&e.kind, want) {
            (Kind::Str(s), Some(t)) if !is_text(t) => match Value::decode(t, s) {
                Ok(v) => Ok(Frag::value(&v)),
                Err(why) => Err(type_err(
                    e.pos,
                    format!(
                        "expected {} literal (the type of the operand it meets): {why}",
                        a_type(t)
                    ),
                )),
            },
            (Kind::Str(s), _) => Ok(Frag::value(&Value::String(s.clone()))),
            (Kind::Param(n), Some(t)) => {
                self.placeholder(*n, e.pos, t)?;
                Ok(Frag::leaf("?", vec![Param::Binding { number: *n }], Ty::Val(t)))
            }
            (Kind::Param(_), None) => Err(type_err(
                e.pos,
                "cannot tell the type of this '?': compare it with a field or a typed value",
            )),
            // PostgreSQL needs the type of a NULL whose context fixes none
            // (`length(NULL)`)
            (Kind::Null, Some(t)) if self.pg() => Ok(Frag::leaf(
                &format!("CAST(NULL AS {})", pg_type(t)),
                Vec::new(),
                Ty::Null,
            )),
            (Kind::Null, _) => Ok(Frag::leaf("NULL", Vec::new(), Ty::Null)),
            _ => self.emit(e),
        }
    }

    /// `emit`, letting a flexible leaf take type `want`.
    fn emit_as(&mut self, e: &Expr, want: FieldType) -> Result<Frag, QueryError> {
        if is_flexible(e) {
            self.flexible(e, Some(want))
        } else {
            self.emit(e)
        }
    }

    /// A value operand (not a condition) of an accepted class.
    fn value_of(&mut self, e: &Expr, want: FieldType, ok: &[Class], what: &str) -> Result<Frag, QueryError> {
        let f = self.emit_as(e, want)?;
        let f = self.pg_null(f, Some(want));
        match f.ty {
            Ty::Val(t) if ok.contains(&class(t)) => Ok(f),
            Ty::Null => Ok(f),
            ty => Err(type_err(
                e.pos,
                format!("{what}: expected {}, found {}", classes(ok), describe(ty)),
            )),
        }
    }

    /// Translates operands that must be mutually comparable; returns
    /// their fragments (in order) and their common type, if any.
    fn unify(&mut self, items: &[&Expr], what: &str) -> Result<(Vec<Frag>, Option<FieldType>), QueryError> {
        let mut frags: Vec<Option<Frag>> = vec![None; items.len()];
        let mut target: Option<(FieldType, usize)> = None;
        for (i, e) in items.iter().enumerate() {
            if is_flexible(e) {
                continue;
            }
            let f = self.emit(e)?;
            match f.ty {
                Ty::Bool => {
                    return Err(type_err(
                        e.pos,
                        format!("{what}: expected a value, found {}", describe(f.ty)),
                    ));
                }
                Ty::Null => {}
                Ty::Val(t) => match target {
                    None => target = Some((t, e.pos)),
                    Some((tt, tpos)) => {
                        if class(tt) != class(t) {
                            return Err(type_err(
                                e.pos,
                                format!(
                                    "{what}: expected {} (like the {} operand at position {tpos}), found {} value",
                                    classes(&[class(tt)]),
                                    tt.name(),
                                    a_type(t)
                                ),
                            ));
                        }
                        if tt == FieldType::Long && t == FieldType::Double {
                            target = Some((t, tpos));
                        }
                    }
                },
            }
            frags[i] = Some(f);
        }
        let mut target = target.map(|(t, _)| t);
        if target.is_none() && items.iter().any(|e| matches!(e.kind, Kind::Str(_))) {
            target = Some(FieldType::String);
        }
        for (i, e) in items.iter().enumerate() {
            frags[i] = match frags[i].take() {
                None => Some(self.flexible(e, target)?),
                Some(f) => Some(self.pg_null(f, target)),
            };
        }
        Ok((frags.into_iter().flatten().collect(), target))
    }

    pub(crate) fn emit(&mut self, e: &Expr) -> Result<Frag, QueryError> {
        let f = self.emit_node(e)?;
        if f.sql.len() > MAX_SQL_LEN || f.params.len() > super::MAX_PARAMS {
            return Err(err(
                QueryErrorKind::TooComplex,
                e.pos,
                "the query is too complex (its SQL is too large)",
            ));
        }
        Ok(f)
    }

    fn emit_node(&mut self, e: &Expr) -> Result<Frag, QueryError> {
        match &e.kind {
            Kind::Or(items) | Kind::And(items) => {
                let op = if matches!(e.kind, Kind::Or(_)) {
                    "OR"
                } else {
                    "AND"
                };
                let mut frags = Vec::with_capacity(items.len());
                for it in items {
                    frags.push(self.bool_operand(it, op)?);
                }
                Ok(balanced(frags, op, Ty::Bool))
            }
            Kind::Not(inner) => {
                let f = self.bool_operand(inner, "NOT")?;
                Ok(tpl("(NOT {})", vec![A::F(f)], Ty::Bool))
            }
            Kind::Cmp {
                op,
                op_pos,
                left,
                right,
            } => {
                let what = format!("comparison '{}' at position {op_pos}", op.sql());
                let (fs, target) = self.unify(&[left, right], &what)?;
                Ok(self.compare(&format!("({{}} {} {{}})", op.sql()), fs, target))
            }
            Kind::Between {
                negated,
                op_pos,
                expr,
                low,
                high,
            } => {
                let what = format!("BETWEEN at position {op_pos}");
                let (fs, target) = self.unify(&[expr, low, high], &what)?;
                let t = if *negated {
                    "({} NOT BETWEEN {} AND {})"
                } else {
                    "({} BETWEEN {} AND {})"
                };
                Ok(self.compare(t, fs, target))
            }
            Kind::In {
                negated,
                op_pos,
                expr,
                list,
            } => {
                let what = format!("IN at position {op_pos}");
                let mut items: Vec<&Expr> = vec![expr];
                items.extend(list.iter());
                let (fs, target) = self.unify(&items, &what)?;
                let not = if *negated { "NOT " } else { "" };
                let t = format!("({{}} {not}IN ({}))", vec!["{}"; list.len()].join(", "));
                Ok(self.compare(&t, fs, target))
            }
            Kind::IsNull {
                negated,
                op_pos,
                expr,
            } => {
                if matches!(expr.kind, Kind::Param(_)) {
                    return Err(type_err(
                        expr.pos,
                        "IS NULL cannot test a '?': compare it with a field instead",
                    ));
                }
                let f = self.flexible(expr, None)?;
                if f.ty == Ty::Bool {
                    return Err(type_err(
                        expr.pos,
                        format!("IS NULL at position {op_pos}: expected a value, found a condition"),
                    ));
                }
                let t = if *negated {
                    "({} IS NOT NULL)"
                } else {
                    "({} IS NULL)"
                };
                Ok(tpl(t, vec![A::F(f)], Ty::Bool))
            }
            Kind::Like {
                negated,
                op_pos,
                expr,
                pattern,
                escape,
            } => self.like(*negated, *op_pos, expr, pattern, escape.as_deref()),
            Kind::Concat(items) => {
                let mut frags = Vec::with_capacity(items.len());
                for it in items {
                    frags.push(self.value_of(it, FieldType::String, &[Class::Text], "'||'")?);
                }
                Ok(balanced(frags, "||", Ty::Val(FieldType::String)))
            }
            Kind::Arith { first, rest } => self.arith(e, first, rest),
            Kind::Neg(inner) => {
                let f = self.value_of(inner, FieldType::Double, &[Class::Num], "unary '-'")?;
                let ty = f.ty;
                Ok(tpl("(- {})", vec![A::F(f)], ty))
            }
            Kind::Call {
                func,
                name_pos,
                interval,
                args,
            } => self.call(*name_pos, *func, *interval, args),
            Kind::Current(c) => Ok(current(*c, self.dialect)),
            Kind::Attr(name) => {
                let (n, ty) = self.join(name, Some(e.pos))?;
                if ty == FieldType::Double && self.pg() {
                    // SQLite's REAL holds no NaN (the catalog stores NULL
                    // there, the bits in v_bits): PostgreSQL's NaN, which
                    // equals itself and exceeds every number, reads as NULL
                    // here too. nullif compares with =, under which NaN = NaN.
                    // The NaN is the translator's constant, no value of the
                    // query's, written as the catalog's index on this very
                    // expression is (object_fields_real_nn_oid,
                    // schema_pg.sql), which a parameter would not match.
                    return Ok(Frag::leaf(
                        &format!("nullif(f{n}.v_real, {PG_NAN})"),
                        Vec::new(),
                        Ty::Val(ty),
                    ));
                }
                Ok(Frag::leaf(
                    &format!("f{n}.{}", ty.column()),
                    Vec::new(),
                    Ty::Val(ty),
                ))
            }
            Kind::Str(_) | Kind::Param(_) | Kind::Null => self.flexible(e, None),
            Kind::Long(v) => Ok(Frag::value(&Value::Long(*v))),
            Kind::Double(v) => Ok(Frag::value(&Value::Double(*v))),
            Kind::Binary(b) => Ok(Frag::value(&Value::Binary(b.clone()))),
            Kind::Typed(ty, text) => match Value::decode(*ty, text) {
                Ok(v) => Ok(Frag::value(&v)),
                Err(why) => Err(type_err(
                    e.pos,
                    format!("invalid typed literal {{{} ...}}: {why}", ty.name()),
                )),
            },
        }
    }

    fn bool_operand(&mut self, e: &Expr, op: &str) -> Result<Frag, QueryError> {
        let f = self.emit(e)?;
        if f.ty != Ty::Bool {
            return Err(type_err(
                e.pos,
                format!("operand of {op}: expected {CONDITION}, found {}", describe(f.ty)),
            ));
        }
        Ok(f)
    }

    fn arith(&mut self, e: &Expr, first: &Expr, rest: &[(ArithOp, usize, Expr)]) -> Result<Frag, QueryError> {
        if rest.len() > MAX_ARITH_CHAIN {
            return Err(err(
                QueryErrorKind::TooComplex,
                e.pos,
                format!("more than {MAX_ARITH_CHAIN} arithmetic operators in a row"),
            ));
        }
        let mut items: Vec<&Expr> = vec![first];
        items.extend(rest.iter().map(|(_, _, x)| x));
        let what = match rest.first() {
            Some((op, pos, _)) => format!("arithmetic '{}' at position {pos}", op.sql()),
            None => "arithmetic".to_string(),
        };
        let (frags, target) = self.unify(&items, &what)?;
        if let Some(t) = target
            && class(t) != Class::Num
        {
            return Err(type_err(
                e.pos,
                format!("{what}: expected numbers, found {} value", a_type(t)),
            ));
        }
        let ty = target.map_or(Ty::Null, Ty::Val);
        let pg = self.pg();
        let mut frags = frags.into_iter().map(|f| {
            // NULL + NULL: PostgreSQL needs an operand type
            if pg && target.is_none() && f.sql == "NULL" {
                Frag::leaf("CAST(NULL AS BIGINT)", Vec::new(), Ty::Null)
            } else {
                f
            }
        });
        let mut acc = frags.next().unwrap_or_else(null_frag);
        for ((op, _, _), f) in rest.iter().zip(frags) {
            acc = if pg && op.sql() == "/" {
                // SQLite's x / 0 is NULL, PostgreSQL's an error
                tpl("({} / nullif({}, {}))", vec![A::F(acc), A::F(f), int(0)], ty)
            } else {
                tpl(&format!("({{}} {} {{}})", op.sql()), vec![A::F(acc), A::F(f)], ty)
            };
        }
        Ok(acc)
    }

    fn like(
        &mut self,
        negated: bool,
        op_pos: usize,
        expr: &Expr,
        pattern: &Expr,
        escape: Option<&Expr>,
    ) -> Result<Frag, QueryError> {
        let what = format!("LIKE at position {op_pos}");
        let x = self.value_of(expr, FieldType::String, &[Class::Text], &what)?;
        let esc = match escape {
            None => None,
            Some(Expr {
                kind: Kind::Str(s),
                pos,
            }) => {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => Some(LikeSrc::Text(c.to_string())),
                    _ => {
                        return Err(type_err(
                            *pos,
                            format!(
                                "the ESCAPE of LIKE must be one character, found {} characters",
                                s.chars().count()
                            ),
                        ));
                    }
                }
            }
            Some(Expr {
                kind: Kind::Param(n),
                pos,
            }) => {
                self.placeholder(*n, *pos, FieldType::String)?;
                Some(LikeSrc::Binding(*n))
            }
            Some(other) => {
                return Err(err(
                    QueryErrorKind::Unsupported,
                    other.pos,
                    "the ESCAPE of LIKE must be a one-character string literal or '?'",
                ));
            }
        };
        let pat = match &pattern.kind {
            Kind::Str(s) => Some(LikeSrc::Text(s.clone())),
            Kind::Typed(t, s) if is_text(*t) => Some(LikeSrc::Text(s.clone())),
            Kind::Param(n) => {
                self.placeholder(*n, pattern.pos, FieldType::String)?;
                Some(LikeSrc::Binding(*n))
            }
            _ => None,
        };
        if self.pg() {
            return self.like_pg(negated, x, pattern, pat, esc, &what);
        }
        let glob = if negated {
            "({} NOT GLOB {})"
        } else {
            "({} GLOB {})"
        };
        let Some(pat) = pat else {
            // A computed pattern: turned into a GLOB pattern by SQL (no
            // escape character then).
            let mut p = self.value_of(pattern, FieldType::String, &[Class::Text], &what)?;
            if esc.is_some() {
                return Err(err(
                    QueryErrorKind::Unsupported,
                    pattern.pos,
                    "LIKE ... ESCAPE needs a string literal or '?' as the pattern",
                ));
            }
            for (from, to) in GLOB_REPLACEMENTS {
                p = tpl(
                    "replace({}, {}, {})",
                    vec![A::F(p), text(from), text(to)],
                    Ty::Val(FieldType::String),
                );
            }
            return Ok(tpl(glob, vec![A::F(x), A::F(p)], Ty::Bool));
        };
        let param = match (pat, esc) {
            (LikeSrc::Text(p), None) => Param::Value(SqlValue::Text(
                like_to_glob(&p, None).map_err(|m| type_err(pattern.pos, m))?,
            )),
            (LikeSrc::Text(p), Some(LikeSrc::Text(e))) => Param::Value(SqlValue::Text(
                like_to_glob(&p, e.chars().next()).map_err(|m| type_err(pattern.pos, m))?,
            )),
            (pattern, escape) => Param::Like { pattern, escape },
        };
        Ok(tpl(glob, vec![A::F(x), A::P(param)], Ty::Bool))
    }

    /// LIKE in PostgreSQL: its own LIKE is case-sensitive, matches whole
    /// characters and takes the escape character as a parameter (`ESCAPE
    /// ''`: none), so the pattern goes as it is, checked as
    /// [`like_to_glob`] checks it (same errors as in SQLite).
    fn like_pg(
        &mut self,
        negated: bool,
        x: Frag,
        pattern: &Expr,
        pat: Option<LikeSrc>,
        esc: Option<LikeSrc>,
        what: &str,
    ) -> Result<Frag, QueryError> {
        let t = if negated {
            "({} NOT LIKE {} ESCAPE {})"
        } else {
            "({} LIKE {} ESCAPE {})"
        };
        let Some(pat) = pat else {
            let p = self.value_of(pattern, FieldType::String, &[Class::Text], what)?;
            if esc.is_some() {
                return Err(err(
                    QueryErrorKind::Unsupported,
                    pattern.pos,
                    "LIKE ... ESCAPE needs a string literal or '?' as the pattern",
                ));
            }
            return Ok(tpl(t, vec![A::F(x), A::F(p), text("")], Ty::Bool));
        };
        let escape = match &esc {
            None => A::V(SqlValue::Text(String::new())),
            Some(LikeSrc::Text(e)) => A::V(SqlValue::Text(e.clone())),
            Some(LikeSrc::Binding(n)) => A::P(Param::Binding { number: *n }),
        };
        let pattern_param = match (pat, esc) {
            (LikeSrc::Text(p), None) => {
                like_to_glob(&p, None).map_err(|m| type_err(pattern.pos, m))?;
                Param::Value(SqlValue::Text(p))
            }
            (LikeSrc::Text(p), Some(LikeSrc::Text(e))) => {
                like_to_glob(&p, e.chars().next()).map_err(|m| type_err(pattern.pos, m))?;
                Param::Value(SqlValue::Text(p))
            }
            (pattern, escape) => Param::Like { pattern, escape },
        };
        Ok(tpl(t, vec![A::F(x), A::P(pattern_param), escape], Ty::Bool))
    }

    fn call(
        &mut self,
        name_pos: usize,
        func: Func,
        interval: Option<(Interval, usize)>,
        args: &[Expr],
    ) -> Result<Frag, QueryError> {
        let arity = match func {
            Func::Ucase | Func::Lcase | Func::Abs | Func::Length | Func::Ltrim | Func::Rtrim => 1..=1,
            Func::Substring | Func::Locate => 2..=3,
            Func::Concat | Func::TimestampDiff | Func::TimestampAdd => 2..=2,
            Func::CurDate | Func::CurTime | Func::Now => 0..=0,
        };
        let name = func.name();
        if !arity.contains(&args.len()) {
            let n = if arity.start() == arity.end() {
                format!("{}", arity.start())
            } else {
                format!("{} or {}", arity.start(), arity.end())
            };
            return Err(type_err(
                name_pos,
                format!("{name} expects {n} argument(s), found {}", args.len()),
            ));
        }
        let txt = [Class::Text];
        let num = [Class::Num];
        let string = Ty::Val(FieldType::String);
        let long = Ty::Val(FieldType::Long);
        let f = match func {
            Func::Ucase | Func::Lcase | Func::Ltrim | Func::Rtrim => {
                let a = self.value_of(&args[0], FieldType::String, &txt, name)?;
                let t = match (func, self.dialect) {
                    (Func::Ucase, Dialect::Sqlite) => "upper({})",
                    (Func::Lcase, Dialect::Sqlite) => "lower({})",
                    // ASCII letters only, as SQLite's: the C collation's
                    (Func::Ucase, Dialect::Postgres) => "upper({} COLLATE \"C\")",
                    (Func::Lcase, Dialect::Postgres) => "lower({} COLLATE \"C\")",
                    (Func::Ltrim, _) => "ltrim({})",
                    _ => "rtrim({})",
                };
                tpl(t, vec![A::F(a)], string)
            }
            Func::Length => {
                let a = self.value_of(&args[0], FieldType::String, &[Class::Text, Class::Bytes], name)?;
                tpl("length({})", vec![A::F(a)], long)
            }
            Func::Abs => {
                let a = self.value_of(&args[0], FieldType::Double, &num, name)?;
                let ty = a.ty;
                tpl("abs({})", vec![A::F(a)], ty)
            }
            Func::Concat => {
                let a = self.value_of(&args[0], FieldType::String, &txt, name)?;
                let b = self.value_of(&args[1], FieldType::String, &txt, name)?;
                tpl("({} || {})", vec![A::F(a), A::F(b)], string)
            }
            Func::Substring if self.pg() => {
                let s = self.value_of(&args[0], FieldType::String, &txt, name)?;
                let y = self.value_of(&args[1], FieldType::Long, &num, name)?;
                let z = match args.get(2) {
                    Some(z) => Some(self.value_of(z, FieldType::Long, &num, name)?),
                    None => None,
                };
                substr_pg(s, y, z)
            }
            Func::Substring => {
                let mut parts = vec![A::F(self.value_of(&args[0], FieldType::String, &txt, name)?)];
                for a in &args[1..] {
                    parts.push(A::F(self.value_of(a, FieldType::Long, &num, name)?));
                }
                let t = if parts.len() == 2 {
                    "substr({}, {})"
                } else {
                    "substr({}, {}, {})"
                };
                tpl(t, parts, string)
            }
            Func::Locate => {
                let needle = self.value_of(&args[0], FieldType::String, &txt, name)?;
                let hay = self.value_of(&args[1], FieldType::String, &txt, name)?;
                let pg = self.pg();
                let (instr, max) = if pg {
                    ("strpos", "greatest")
                } else {
                    ("instr", "max")
                };
                match args.get(2) {
                    None => tpl(
                        &format!("{instr}({{}}, {{}})"),
                        vec![A::F(hay), A::F(needle)],
                        long,
                    ),
                    Some(st) => {
                        // The first match at or after `start` (below 1 counts
                        // as 1): instr within substr(hay, start), shifted
                        // back; 0 (not start - 1) when there is none.
                        let st = self.value_of(st, FieldType::Long, &num, name)?;
                        let st = tpl(&format!("{max}({{}}, {{}})"), vec![A::F(st), int(1)], long);
                        tpl(
                            &format!(
                                "coalesce(nullif({instr}(substr({{}}, {{}}), {{}}), {{}}) + {{}} - {{}}, {{}})"
                            ),
                            vec![
                                A::F(hay),
                                A::F(self.pg_int(st.clone())),
                                A::F(needle),
                                int(0),
                                A::F(st),
                                int(1),
                                int(0),
                            ],
                            long,
                        )
                    }
                }
            }
            Func::CurDate => current(Current::Date, self.dialect),
            Func::CurTime => current(Current::Time, self.dialect),
            Func::Now => current(Current::Timestamp, self.dialect),
            Func::TimestampDiff | Func::TimestampAdd => {
                let (iv, ipos) = interval.unwrap_or((Interval::Second, name_pos));
                let unit_ms: i64 = match iv {
                    Interval::FracSecond => 0,
                    Interval::Second => 1000,
                    Interval::Minute => 60_000,
                    Interval::Hour => 3_600_000,
                    Interval::Day => 86_400_000,
                    Interval::Week => 604_800_000,
                    Interval::Month | Interval::Quarter | Interval::Year => {
                        return Err(err(
                            QueryErrorKind::Unsupported,
                            ipos,
                            format!(
                                "{name} with a calendar interval (SQL_TSI_MONTH, SQL_TSI_QUARTER, SQL_TSI_YEAR) is \
                                 not supported: expected SQL_TSI_FRAC_SECOND, SQL_TSI_SECOND, SQL_TSI_MINUTE, \
                                 SQL_TSI_HOUR, SQL_TSI_DAY or SQL_TSI_WEEK"
                            ),
                        ));
                    }
                };
                let frac = iv == Interval::FracSecond;
                if func == Func::TimestampDiff {
                    // Whole intervals from a to b, truncated toward zero;
                    // fractional seconds are nanoseconds (ms precision).
                    let a = self.instant(&args[0], name)?;
                    let b = self.instant(&args[1], name)?;
                    let t = if frac {
                        "(({} - {}) * {})"
                    } else {
                        "(({} - {}) / {})"
                    };
                    let unit = if frac { 1_000_000 } else { unit_ms };
                    tpl(t, vec![A::F(b), A::F(a), int(unit)], long)
                } else {
                    let n = self.value_of(&args[0], FieldType::Long, &num, name)?;
                    if n.ty == Ty::Val(FieldType::Double) {
                        return Err(type_err(
                            args[0].pos,
                            format!("{name}: expected a long count, found a double"),
                        ));
                    }
                    let t = self.instant(&args[1], name)?;
                    let ts = Ty::Val(FieldType::Timestamp);
                    if frac {
                        tpl("({} + ({} / {}))", vec![A::F(t), A::F(n), int(1_000_000)], ts)
                    } else {
                        tpl("({} + ({} * {}))", vec![A::F(t), A::F(n), int(unit_ms)], ts)
                    }
                }
            }
        };
        Ok(f)
    }

    /// A number as the INTEGER PostgreSQL's substr takes (SQLite's takes
    /// any number, truncating a double): unchanged in SQLite.
    fn pg_int(&self, f: Frag) -> Frag {
        if !self.pg() {
            return f;
        }
        let ty = f.ty;
        tpl("CAST(trunc({}) AS INTEGER)", vec![A::F(f)], ty)
    }

    /// A timestamp or date operand of TIMESTAMPADD/DIFF, as ms since the
    /// epoch.
    fn instant(&mut self, e: &Expr, name: &str) -> Result<Frag, QueryError> {
        let f = self.value_of(e, FieldType::Timestamp, &[Class::Timestamp, Class::Date], name)?;
        if f.ty == Ty::Val(FieldType::Date) {
            return Ok(tpl(
                "({} * {})",
                vec![A::F(f), int(86_400_000)],
                Ty::Val(FieldType::Timestamp),
            ));
        }
        Ok(f)
    }
}

/// "a long", "an objectid", ...
pub(crate) fn a_type(t: FieldType) -> String {
    let article = if t == FieldType::ObjectId { "an" } else { "a" };
    format!("{article} {}", t.name())
}

fn null_frag() -> Frag {
    Frag::leaf("NULL", Vec::new(), Ty::Null)
}

fn classes(ok: &[Class]) -> String {
    let names: Vec<&str> = ok
        .iter()
        .map(|c| match c {
            Class::Num => "a number (long or double)",
            Class::Text => "a string or char value",
            Class::Bytes => "a binary or objectid value",
            Class::Date => "a date value",
            Class::Time => "a time value",
            Class::Timestamp => "a timestamp value",
        })
        .collect();
    names.join(" or ")
}

/// Joins fragments with an associative operator as a balanced tree, so a
/// chain of n operands nests only log2(n) levels in SQLite.
fn balanced(mut frags: Vec<Frag>, op: &str, ty: Ty) -> Frag {
    let t = format!("({{}} {op} {{}})");
    while frags.len() > 1 {
        let mut next = Vec::with_capacity(frags.len().div_ceil(2));
        let mut it = frags.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => next.push(tpl(&t, vec![A::F(a), A::F(b)], ty)),
                None => next.push(a),
            }
        }
        frags = next;
    }
    frags.pop().unwrap_or_else(null_frag)
}

/// SQLite's `substr(s, y[, z])` in PostgreSQL, whose `substr(s, p, l)`
/// returns the characters at positions p .. p + l - 1 that exist (l >= 0).
/// SQLite's is that window too, once its arguments are mapped: a start
/// below 0 counts from the end (`y + length + 1`), and a negative length
/// takes the |z| characters before the start (`start + z`, `|z|`); a
/// double argument is truncated, as SQLite's integer conversion does.
fn substr_pg(s: Frag, y: Frag, z: Option<Frag>) -> Frag {
    let string = Ty::Val(FieldType::String);
    let ty = y.ty;
    let y = tpl("trunc({})", vec![A::F(y)], ty);
    let start = tpl(
        "CASE WHEN {} < {} THEN {} + char_length({}) + {} ELSE {} END",
        vec![
            A::F(y.clone()),
            int(0),
            A::F(y.clone()),
            A::F(s.clone()),
            int(1),
            A::F(y),
        ],
        Ty::Val(FieldType::Long),
    );
    match z {
        None => tpl(
            "substr({}, CAST({} AS INTEGER))",
            vec![A::F(s), A::F(start)],
            string,
        ),
        Some(z) => {
            let ty = z.ty;
            let z = tpl("trunc({})", vec![A::F(z)], ty);
            tpl(
                "substr({}, CAST({} + least({}, {}) AS INTEGER), CAST(abs({}) AS INTEGER))",
                vec![A::F(s), A::F(start), A::F(z.clone()), int(0), A::F(z)],
                string,
            )
        }
    }
}

/// PostgreSQL's type of values of type `t` (as stored in `object_fields`).
pub(crate) fn pg_type(t: FieldType) -> &'static str {
    match t.column() {
        "v_int" => "BIGINT",
        "v_real" => "DOUBLE PRECISION",
        "v_text" => "TEXT",
        _ => "BYTEA",
    }
}

fn current(c: Current, dialect: Dialect) -> Frag {
    if dialect == Dialect::Postgres {
        return current_pg(c);
    }
    match c {
        // The local calendar date, as days since 1970-01-01.
        Current::Date => tpl(
            "(unixepoch({}, {}, {}) / {})",
            vec![text("now"), text("localtime"), text("start of day"), int(86_400)],
            Ty::Val(FieldType::Date),
        ),
        // The local time of day, as seconds since midnight.
        Current::Time => tpl(
            "(unixepoch({}, {}) % {})",
            vec![text("now"), text("localtime"), int(86_400)],
            Ty::Val(FieldType::Time),
        ),
        // The instant, as ms since the epoch (UTC).
        Current::Timestamp => tpl(
            "CAST(unixepoch({}, {}) * {} AS INTEGER)",
            vec![text("now"), text("subsec"), int(1000)],
            Ty::Val(FieldType::Timestamp),
        ),
    }
}

/// PostgreSQL's NaN of a double field's value, as the catalog's index on
/// `nullif(v_real, NaN)` is written (schema_pg.sql).
pub(crate) const PG_NAN: &str = "'NaN'::double precision";

/// [`current`] in PostgreSQL: the statement's instant (SQLite's `'now'`
/// is the statement's too); local time is the session's time zone
/// (PostgreSQL's `TimeZone`), which every session of the catalog sets to
/// the process's (catalog::backend::postgres::process_time_zone), as
/// SQLite's `'localtime'` is the process's.
/// `extract(epoch from <timestamp without time zone>)` reads the local
/// wall-clock time as if it were UTC, as SQLite's `unixepoch(..,
/// 'localtime')` does.
fn current_pg(c: Current) -> Frag {
    let local = "CAST(floor(extract(epoch from CAST(statement_timestamp() AS TIMESTAMP))) AS BIGINT)";
    match c {
        Current::Date => tpl(
            &format!("({local} / {{}})"),
            vec![int(86_400)],
            Ty::Val(FieldType::Date),
        ),
        Current::Time => tpl(
            &format!("({local} % {{}})"),
            vec![int(86_400)],
            Ty::Val(FieldType::Time),
        ),
        Current::Timestamp => tpl(
            "CAST(floor(extract(epoch from statement_timestamp()) * {}) AS BIGINT)",
            vec![int(1000)],
            Ty::Val(FieldType::Timestamp),
        ),
    }
}

/// Where a LIKE pattern or escape character comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum LikeSrc {
    /// Known when the query is translated.
    Text(String),
    /// The binding of the n-th `?` (from 1).
    Binding(usize),
}

/// `replace(p, from, to)` steps turning a LIKE pattern (no escape) into a
/// GLOB pattern, in order: first escape GLOB's own metacharacters, then
/// map LIKE's wildcards (see [`like_to_glob`]).
const GLOB_REPLACEMENTS: [(&str, &str); 5] =
    [("[", "[[]"), ("*", "[*]"), ("?", "[?]"), ("%", "*"), ("_", "?")];

/// A LIKE pattern as an equivalent GLOB pattern.
///
/// LIKE (case-sensitive, as on the 5800): `%` matches any run of
/// characters, `_` exactly one, and the escape character (if any) makes the
/// next `%`, `_` or escape character literal; everything else matches
/// itself. GLOB (always case-sensitive, BINARY): `*` any run, `?` one
/// character, `[...]` a set; everything else, including `]`, matches
/// itself. So `%` -> `*`, `_` -> `?`, the three GLOB metacharacters
/// `*`, `?`, `[` -> the one-character sets `[*]`, `[?]`, `[[]`, and every
/// other character (escaped `%`/`_`/escape included) is copied. Both
/// operators compare whole characters, so the two patterns accept the
/// same strings (checked against SQLite's LIKE in the tests).
///
/// As in Derby, an escape character followed by anything other than `%`,
/// `_` or itself, or ending the pattern, is an error.
pub fn like_to_glob(pattern: &str, escape: Option<char>) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(n) if n == '%' || n == '_' || Some(n) == escape => push_glob_literal(&mut out, n),
                Some(n) => {
                    return Err(format!(
                        "invalid escape sequence in LIKE pattern: {c:?} followed by {n:?} (expected %, _ or {c:?})"
                    ));
                }
                None => return Err(format!("LIKE pattern ends with the escape character {c:?}")),
            }
            continue;
        }
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            c => push_glob_literal(&mut out, c),
        }
    }
    Ok(out)
}

fn push_glob_literal(out: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            out.push('[');
            out.push(c);
            out.push(']');
        }
        c => out.push(c),
    }
}
