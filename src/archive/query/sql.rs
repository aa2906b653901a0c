//! The translated query: its SQL and how bindings become parameters.

use crate::archive::SqlValue;

use super::check::{Join, a_type, is_text, like_to_glob};
use super::{Dialect, FieldType, LikeSrc, Param, Placeholder, QueryError, QueryErrorKind, Value};

/// A column of the select list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectColumn {
    /// The field's qualified name (as the schema spells it).
    pub name: String,
    pub ty: FieldType,
    /// Its SQL, e.g. `f2.v_text`; read it back with `Value::from_sql(ty, ..)`.
    pub sql: String,
}

/// A translated query, ready to be bound and run page by page.
///
/// The SQL ([`Plan::sql`]) is fixed; its parameters, in order, are: the
/// name of each joined field ([`Plan::fields`]), the WHERE parameters
/// ([`Plan::where_params`], with the bindings of `?` resolved by
/// [`Plan::bind`]), then the paging cookie and the page size.
#[derive(Clone, Debug)]
pub struct Plan {
    dialect: Dialect,
    joins: Vec<Join>,
    where_sql: String,
    where_params: Vec<Param>,
    selects: Vec<SelectColumn>,
    placeholders: Vec<Placeholder>,
    sql: String,
}

impl Plan {
    pub(crate) fn new(
        dialect: Dialect,
        joins: Vec<Join>,
        where_sql: String,
        where_params: Vec<Param>,
        selects: Vec<SelectColumn>,
        placeholders: Vec<Placeholder>,
    ) -> Plan {
        let mut sql = String::from("SELECT o.oid");
        for s in &selects {
            sql.push_str(", ");
            sql.push_str(&s.sql);
        }
        sql.push_str(" FROM archive_objects o");
        for n in 1..=joins.len() {
            sql.push_str(&format!(
                " JOIN object_fields f{n} ON f{n}.oid = o.oid AND f{n}.name = ?"
            ));
        }
        sql.push_str(&format!(" WHERE ({where_sql})"));
        if joins.is_empty() {
            // A query naming no field still matches indexed objects only
            // (those with field rows), like any other.
            sql.push_str(" AND EXISTS (SELECT 1 FROM object_fields fx WHERE fx.oid = o.oid)");
        }
        // Page by the first joined field's oid (equal to o.oid by the join):
        // the value indexes end in oid, so for an equality on that field a
        // page is one index range (catalog/schema.sql).
        let key = if joins.is_empty() { "o.oid" } else { "f1.oid" };
        sql.push_str(&format!(" AND {key} > ? ORDER BY {key} LIMIT ?"));
        Plan {
            dialect,
            joins,
            where_sql,
            where_params,
            selects,
            placeholders,
            sql,
        }
    }

    /// The complete SQL statement (every value a `?`). In PostgreSQL's
    /// dialect [`Plan::bind`] gives each `?` the type of its value
    /// (`CAST(? AS BIGINT)`, ...): run the SQL `bind` returns.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The dialect the SQL is written in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The distinct fields the query joins, in alias order (`f1`, `f2`,
    /// ...): name and type. WHERE fields come first, in order of first
    /// appearance, then select-list fields not already used.
    pub fn fields(&self) -> Vec<(&str, FieldType)> {
        self.joins.iter().map(|j| (j.name.as_str(), j.ty)).collect()
    }

    /// The WHERE expression's SQL (over `fN.<column>`).
    pub fn where_sql(&self) -> &str {
        &self.where_sql
    }

    /// The WHERE expression's parameters, in the order of its `?`.
    pub fn where_params(&self) -> &[Param] {
        &self.where_params
    }

    /// The select list's columns, in order (after `o.oid`).
    pub fn selects(&self) -> &[SelectColumn] {
        &self.selects
    }

    /// The query's `?` placeholders, by number (index 0 is binding 1).
    pub fn placeholders(&self) -> &[Placeholder] {
        &self.placeholders
    }

    /// The complete SQL and its parameters for one page: `bindings` are
    /// the prepared statement's values by number (1..N; a later entry for
    /// the same number replaces an earlier one), `after_oid` the last OID
    /// of the previous page ("" for the first page), `page_size` the most
    /// rows to return. The last two parameters are `after_oid` and
    /// `page_size`, so a pager may also bind once and replace just those.
    ///
    /// # Errors
    /// [`QueryErrorKind::Binding`]: a `?` without a binding, a binding
    /// whose type does not fit (a string or char is decoded for a non-text
    /// parameter; long and double are interchangeable; so are binary and
    /// objectid), or a binding for a number the query does not have.
    pub fn bind(
        &self,
        bindings: &[(usize, Value)],
        after_oid: &str,
        page_size: u32,
    ) -> Result<(String, Vec<SqlValue>), QueryError> {
        let n = self.placeholders.len();
        let mut bound: Vec<Option<&Value>> = vec![None; n];
        for (number, v) in bindings {
            match bound.get_mut(number.wrapping_sub(1)) {
                Some(slot) => *slot = Some(v),
                None => {
                    return Err(QueryError::new(
                        QueryErrorKind::Binding,
                        None,
                        format!("binding {number} has no '?' in the query: expected 1..={n}"),
                    ));
                }
            }
        }
        let get = |number: usize| -> Result<(&Placeholder, &Value), QueryError> {
            let ph = self.placeholders.get(number.wrapping_sub(1)).ok_or_else(|| {
                QueryError::new(
                    QueryErrorKind::Binding,
                    None,
                    format!("internal error: no parameter {number}"),
                )
            })?;
            match bound.get(number - 1).copied().flatten() {
                Some(v) => Ok((ph, v)),
                None => Err(QueryError::new(
                    QueryErrorKind::Binding,
                    Some(ph.pos),
                    format!(
                        "no value is bound to parameter {number}: expected {} value",
                        a_type(ph.ty)
                    ),
                )),
            }
        };
        // Every placeholder must be bound, even one a LIKE would reach
        // only through its pattern.
        for ph in &self.placeholders {
            get(ph.number)?;
        }
        let mut params = Vec::with_capacity(self.joins.len() + self.where_params.len() + 2);
        params.extend(self.joins.iter().map(|j| SqlValue::Text(j.name.clone())));
        for p in &self.where_params {
            params.push(match p {
                Param::Value(v) => v.clone(),
                Param::Binding { number } => {
                    let (ph, v) = get(*number)?;
                    coerce(v, ph.ty).map_err(|m| binding_err(ph, v, &m))?
                }
                Param::Like { pattern, escape } => {
                    let text = |src: &LikeSrc| -> Result<(String, usize), QueryError> {
                        match src {
                            LikeSrc::Text(s) => Ok((s.clone(), 0)),
                            LikeSrc::Binding(number) => {
                                let (ph, v) = get(*number)?;
                                match v {
                                    Value::String(s) | Value::Char(s) => Ok((s.clone(), ph.pos)),
                                    _ => Err(binding_err(ph, v, "LIKE needs a string or char")),
                                }
                            }
                        }
                    };
                    let (pat, pat_pos) = text(pattern)?;
                    let esc = match escape {
                        None => None,
                        Some(src) => {
                            let (e, pos) = text(src)?;
                            let mut it = e.chars();
                            match (it.next(), it.next()) {
                                (Some(c), None) => Some(c),
                                _ => {
                                    return Err(QueryError::new(
                                        QueryErrorKind::Binding,
                                        Some(pos),
                                        format!(
                                            "the ESCAPE of LIKE must be one character, found {:?}",
                                            e.chars().take(20).collect::<String>()
                                        ),
                                    ));
                                }
                            }
                        }
                    };
                    let glob = like_to_glob(&pat, esc)
                        .map_err(|m| QueryError::new(QueryErrorKind::Binding, Some(pat_pos), m))?;
                    match self.dialect {
                        Dialect::Sqlite => SqlValue::Text(glob),
                        // PostgreSQL's LIKE takes the pattern as it is
                        // (checked above), its escape a parameter of its own
                        Dialect::Postgres => SqlValue::Text(pat),
                    }
                }
            });
        }
        params.push(SqlValue::Text(after_oid.to_string()));
        params.push(SqlValue::Integer(i64::from(page_size)));
        let sql = match self.dialect {
            Dialect::Sqlite => self.sql.clone(),
            Dialect::Postgres => typed_placeholders(&self.sql, &params),
        };
        Ok((sql, params))
    }
}

fn binding_err(ph: &Placeholder, v: &Value, why: &str) -> QueryError {
    QueryError::new(
        QueryErrorKind::Binding,
        Some(ph.pos),
        format!(
            "parameter {} expects {} value (or its canonical string), but is bound to {}: {why}",
            ph.number,
            a_type(ph.ty),
            a_type(v.ty())
        ),
    )
}

/// A binding as the SQL value a parameter of type `want` takes.
fn coerce(v: &Value, want: FieldType) -> Result<SqlValue, String> {
    use FieldType as T;
    let same_class = match (want, v.ty()) {
        (T::Long | T::Double, T::Long | T::Double) => true,
        (T::Binary | T::ObjectId, T::Binary | T::ObjectId) => true,
        (w, t) => w == t || (is_text(w) && is_text(t)),
    };
    if same_class {
        return Ok(v.to_sql());
    }
    match v {
        Value::String(s) | Value::Char(s) => match Value::decode(want, s) {
            Ok(d) => Ok(d.to_sql()),
            Err(e) => Err(e.to_string()),
        },
        _ => Err("the types are incompatible".into()),
    }
}

/// PostgreSQL infers a parameter's type from its context, and some
/// contexts fix none (`length(?)`, `? || ?`) or the wrong one (`v_int >
/// ?` bound to a double): every `?` of `sql` (the translator's own text,
/// which has no string literal) becomes `CAST(? AS <type>)`, the type of
/// its value in `params` (a NULL stays untyped).
fn typed_placeholders(sql: &str, params: &[SqlValue]) -> String {
    let mut out = String::with_capacity(sql.len() + params.len() * 24);
    let mut params = params.iter();
    for c in sql.chars() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let ty = match params.next() {
            Some(SqlValue::Integer(_)) => "BIGINT",
            Some(SqlValue::Real(_)) => "DOUBLE PRECISION",
            Some(SqlValue::Text(_)) => "TEXT",
            Some(SqlValue::Blob(_)) => "BYTEA",
            Some(SqlValue::Null) | None => {
                out.push('?');
                continue;
            }
        };
        out.push_str("CAST(? AS ");
        out.push_str(ty);
        out.push(')');
    }
    out
}
