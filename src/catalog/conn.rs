//! The catalog's connection and write transaction, as the layers above
//! hold them, over whichever database [`Backend`] the server uses, so
//! that no database type appears above `src/catalog/`. Only catalog code
//! reaches the database through them (the statement methods below are
//! private to the catalog); everything else passes them to catalog
//! functions. The statement API keeps the shape of rusqlite's (the
//! catalog's SQL was written against it): `execute`, `query_row`,
//! `prepare_cached(..)?.query_map(..)`, rows read with `r.get(i)`.

use std::cell::Cell;
use std::ops::Deref;

use super::Result;
use super::backend::{Backend, Dialect, RowAccess, SqlError, SqlKind, SqlResult, ValRef};

/// A connection to a server's catalog ([`super::open`]). A server
/// instance holds one behind a mutex.
#[derive(Debug)]
pub struct Conn(Box<dyn Backend>);

/// A write transaction on a [`Conn`] ([`super::write_txn`]), rolled back
/// if dropped uncommitted. It dereferences to its connection, so every
/// catalog function that takes a [`Conn`] takes a transaction too (and
/// reads inside it).
#[derive(Debug)]
pub struct Tx<'c> {
    conn: &'c Conn,
    done: Cell<bool>,
}

impl Conn {
    pub(super) fn new(backend: Box<dyn Backend>) -> Conn {
        Conn(backend)
    }

    /// The SQLite connection itself, for tests that damage or inspect the
    /// catalog on purpose (panics on another database).
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &rusqlite::Connection {
        &self
            .0
            .as_any()
            .downcast_ref::<super::backend::sqlite::Sqlite>()
            .expect("a SQLite catalog")
            .0
    }

    /// The catalog's statements for tests that damage or inspect it on
    /// purpose, on whichever database it is.
    #[cfg(test)]
    pub(crate) fn sql(&self) -> TestSql<'_> {
        TestSql(self)
    }

    /// A SQLite connection a test or fuzz target opened and prepared
    /// itself (a catalog of an older format built by hand, an in-memory one).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn from_raw(conn: rusqlite::Connection) -> Conn {
        Conn(Box::new(super::backend::sqlite::Sqlite(conn)))
    }

    /// The SQL this connection's database speaks.
    pub(super) fn dialect(&self) -> Dialect {
        self.0.dialect()
    }

    pub(super) fn backend(&self) -> &dyn Backend {
        &*self.0
    }

    pub(super) fn execute<P: Params>(&self, sql: &str, params: P) -> SqlResult<usize> {
        self.0.execute(sql, &params.vals())
    }

    pub(super) fn execute_batch(&self, sql: &str) -> SqlResult<()> {
        self.0.batch(sql)
    }

    pub(super) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> SqlResult<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> SqlResult<T>,
    {
        let mut f = Some(f);
        let mut out = None;
        self.0.query(sql, &params.vals(), &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(&Row(r))?);
            }
            Ok(false)
        })?;
        out.ok_or_else(no_rows)
    }

    /// A statement to run (backends cache what they prepare).
    pub(super) fn prepare(&self, sql: &str) -> SqlResult<Stmt<'_>> {
        Ok(Stmt {
            conn: self,
            sql: sql.to_owned(),
        })
    }

    pub(super) fn prepare_cached(&self, sql: &str) -> SqlResult<Stmt<'_>> {
        self.prepare(sql)
    }
}

/// [`Conn::sql`].
#[cfg(test)]
pub(crate) struct TestSql<'c>(&'c Conn);

#[cfg(test)]
impl<'c> TestSql<'c> {
    pub(crate) fn execute<P: Params>(&self, sql: &str, params: P) -> SqlResult<usize> {
        self.0.execute(sql, params)
    }

    pub(crate) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> SqlResult<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> SqlResult<T>,
    {
        self.0.query_row(sql, params, f)
    }

    pub(crate) fn prepare(&self, sql: &str) -> SqlResult<Stmt<'c>> {
        self.0.prepare(sql)
    }
}

/// A statement of a connection.
pub(crate) struct Stmt<'a> {
    conn: &'a Conn,
    sql: String,
}

fn no_rows() -> SqlError {
    SqlError::new(SqlKind::NoRows, "query returned no rows")
}

impl Stmt<'_> {
    pub(crate) fn execute<P: Params>(&mut self, params: P) -> SqlResult<usize> {
        self.conn.0.execute(&self.sql, &params.vals())
    }

    /// The first row's value; [`SqlKind::NoRows`] if there is none.
    pub(crate) fn query_row<T, P, F>(&mut self, params: P, f: F) -> SqlResult<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> SqlResult<T>,
    {
        self.conn.query_row(&self.sql, params, f)
    }

    /// Every row's value, in order (each `Ok` unless `f` failed on it).
    pub(crate) fn query_map<T, P, F>(
        &mut self,
        params: P,
        mut f: F,
    ) -> SqlResult<std::vec::IntoIter<SqlResult<T>>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> SqlResult<T>,
    {
        let mut out = Vec::new();
        self.conn.0.query(&self.sql, &params.vals(), &mut |r| {
            out.push(f(&Row(r)));
            Ok(true)
        })?;
        Ok(out.into_iter())
    }

    /// Calls `f` on each row as it comes (nothing collected).
    pub(crate) fn for_each<P, F>(&mut self, params: P, mut f: F) -> SqlResult<()>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> SqlResult<()>,
    {
        self.conn.0.query(&self.sql, &params.vals(), &mut |r| {
            f(&Row(r))?;
            Ok(true)
        })
    }
}

/// One result row.
pub(crate) struct Row<'a>(&'a dyn RowAccess);

impl Row<'_> {
    /// Column `idx` as a `T` ([`SqlKind::Conversion`] if it holds another type).
    pub(crate) fn get<I: ColIndex, T: FromCol>(&self, idx: I) -> SqlResult<T> {
        let idx = idx.index();
        T::from_col(self.0.value(idx)?).map_err(|e| SqlError::conversion(format!("column {idx}: {e}")))
    }

    /// Number of columns.
    pub(crate) fn width(&self) -> usize {
        self.0.width()
    }

    /// Column `idx` as it is.
    pub(crate) fn value(&self, idx: usize) -> SqlResult<ValRef<'_>> {
        self.0.value(idx)
    }
}

/// A column's index (a trait, as rusqlite's `RowIndex`, so that `r.get(0)`
/// infers `usize` and `r.get::<_, T>(0)` reads).
pub(crate) trait ColIndex {
    fn index(self) -> usize;
}

impl ColIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// A Rust value read from a column.
pub(crate) trait FromCol: Sized {
    fn from_col(v: ValRef<'_>) -> std::result::Result<Self, String>;
}

fn wrong<T>(want: &str, v: ValRef<'_>) -> std::result::Result<T, String> {
    Err(format!("{want} expected, found {v:?}"))
}

impl FromCol for i64 {
    fn from_col(v: ValRef<'_>) -> std::result::Result<i64, String> {
        match v {
            ValRef::Int(i) => Ok(i),
            v => wrong("integer", v),
        }
    }
}

impl FromCol for bool {
    fn from_col(v: ValRef<'_>) -> std::result::Result<bool, String> {
        match v {
            ValRef::Int(i) => Ok(i != 0),
            v => wrong("integer", v),
        }
    }
}

impl FromCol for f64 {
    fn from_col(v: ValRef<'_>) -> std::result::Result<f64, String> {
        match v {
            ValRef::Real(r) => Ok(r),
            #[allow(clippy::cast_precision_loss)]
            ValRef::Int(i) => Ok(i as f64),
            v => wrong("real", v),
        }
    }
}

impl FromCol for String {
    fn from_col(v: ValRef<'_>) -> std::result::Result<String, String> {
        match v {
            ValRef::Text(t) => Ok(t.to_owned()),
            v => wrong("text", v),
        }
    }
}

impl FromCol for Vec<u8> {
    fn from_col(v: ValRef<'_>) -> std::result::Result<Vec<u8>, String> {
        match v {
            ValRef::Blob(b) => Ok(b.to_vec()),
            v => wrong("blob", v),
        }
    }
}

impl<T: FromCol> FromCol for Option<T> {
    fn from_col(v: ValRef<'_>) -> std::result::Result<Option<T>, String> {
        match v {
            ValRef::Null => Ok(None),
            v => T::from_col(v).map(Some),
        }
    }
}

/// A Rust value bound to a statement.
pub(crate) trait ToVal {
    fn to_val(&self) -> ValRef<'_>;
}

impl ToVal for i64 {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Int(*self)
    }
}

impl ToVal for i32 {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Int(i64::from(*self))
    }
}

impl ToVal for u32 {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Int(i64::from(*self))
    }
}

impl ToVal for bool {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Int(i64::from(*self))
    }
}

impl ToVal for f64 {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Real(*self)
    }
}

impl ToVal for str {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Text(self)
    }
}

impl ToVal for String {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Text(self)
    }
}

impl ToVal for [u8] {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Blob(self)
    }
}

impl ToVal for Vec<u8> {
    fn to_val(&self) -> ValRef<'_> {
        ValRef::Blob(self)
    }
}

impl<T: ToVal + ?Sized> ToVal for &T {
    fn to_val(&self) -> ValRef<'_> {
        (**self).to_val()
    }
}

impl<T: ToVal> ToVal for Option<T> {
    fn to_val(&self) -> ValRef<'_> {
        match self {
            Some(v) => v.to_val(),
            None => ValRef::Null,
        }
    }
}

impl ToVal for ValRef<'_> {
    fn to_val(&self) -> ValRef<'_> {
        *self
    }
}

/// A statement's parameters: `params![a, b]`, `[x]`, `[]`, or
/// [`params_from_iter`].
pub(crate) trait Params {
    fn vals(&self) -> Vec<ValRef<'_>>;
}

impl Params for [&dyn ToVal; 0] {
    fn vals(&self) -> Vec<ValRef<'_>> {
        Vec::new()
    }
}

impl Params for &[&dyn ToVal] {
    fn vals(&self) -> Vec<ValRef<'_>> {
        self.iter().map(|v| v.to_val()).collect()
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToVal> Params for [T; $n] {
            fn vals(&self) -> Vec<ValRef<'_>> {
                self.iter().map(ToVal::to_val).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8);

/// Parameters from an iterator of values.
pub(super) struct ParamsFromIter<T>(Vec<T>);

pub(super) fn params_from_iter<T: ToVal>(iter: impl IntoIterator<Item = T>) -> ParamsFromIter<T> {
    ParamsFromIter(iter.into_iter().collect())
}

impl<T: ToVal> Params for ParamsFromIter<T> {
    fn vals(&self) -> Vec<ValRef<'_>> {
        self.0.iter().map(ToVal::to_val).collect()
    }
}

/// `params![a, b, ..]`: a statement's parameters of mixed types.
macro_rules! params {
    () => { &[] as &[&dyn $crate::catalog::conn::ToVal] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::catalog::conn::ToVal),+] as &[&dyn $crate::catalog::conn::ToVal] };
}
pub(super) use params;

/// `params!` for tests outside the catalog ([`Conn::sql`]).
#[cfg(test)]
macro_rules! test_params {
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::catalog::conn::ToVal),+] as &[&dyn $crate::catalog::conn::ToVal] };
}
#[cfg(test)]
pub(crate) use test_params;

/// `.optional()` on a single-row result: no row is `None`.
pub(super) trait OptionalExtension<T> {
    fn optional(self) -> SqlResult<Option<T>>;
}

impl<T> OptionalExtension<T> for SqlResult<T> {
    fn optional(self) -> SqlResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind == SqlKind::NoRows => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<'c> Tx<'c> {
    /// Starts a write transaction on `conn`. `&mut`: transactions never nest.
    pub(super) fn begin(conn: &'c mut Conn) -> SqlResult<Tx<'c>> {
        let conn: &'c Conn = conn;
        conn.0.begin_write()?;
        Ok(Tx {
            conn,
            done: Cell::new(false),
        })
    }

    /// Commits.
    ///
    /// # Errors
    /// Catalog errors (the transaction is then rolled back).
    pub fn commit(self) -> Result<()> {
        self.conn.0.commit()?;
        self.done.set(true);
        Ok(())
    }

    /// Opens savepoint `name` (fixed text, an SQL identifier).
    ///
    /// # Errors
    /// Catalog errors.
    pub fn savepoint(&self, name: &'static str) -> Result<()> {
        Ok(self.execute_batch(&format!("SAVEPOINT {name}"))?)
    }

    /// Undoes everything since savepoint `name` (which stays open).
    ///
    /// # Errors
    /// Catalog errors.
    pub fn rollback_to(&self, name: &'static str) -> Result<()> {
        Ok(self.execute_batch(&format!("ROLLBACK TO SAVEPOINT {name}"))?)
    }

    /// Closes savepoint `name`, keeping what was done since.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn release(&self, name: &'static str) -> Result<()> {
        Ok(self.execute_batch(&format!("RELEASE SAVEPOINT {name}"))?)
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done.get() {
            // Nothing to report to: a failed rollback leaves the
            // connection's next statement to fail.
            let _ = self.conn.0.rollback();
        }
    }
}

impl Deref for Tx<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::super::{open, write_txn};

    #[test]
    fn a_savepoint_rolls_back_alone_and_a_dropped_transaction_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("catalog.db"), 0, "u").unwrap();
        let add = |conn: &super::Conn, name: &str| {
            conn.execute("INSERT INTO lsus (name, created_ms) VALUES (?1, 0)", [name])
                .unwrap();
        };
        let tx = write_txn(&mut conn).unwrap();
        add(&tx, "a");
        tx.savepoint("s").unwrap();
        add(&tx, "b");
        tx.rollback_to("s").unwrap();
        tx.release("s").unwrap();
        tx.commit().unwrap();
        let tx = write_txn(&mut conn).unwrap();
        add(&tx, "c");
        drop(tx);
        let names: Vec<String> = conn
            .prepare("SELECT name FROM lsus ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<super::SqlResult<_>>()
            .unwrap();
        assert_eq!(names, ["a", "default"]);
    }
}
