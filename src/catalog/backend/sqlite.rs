//! The embedded default backend: one SQLite database file per server
//! (WAL, `synchronous=FULL`, a busy timeout, a statement cache).

use std::io;
use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ToSql};

use super::{Backend, Dialect, RowAccess, SqlError, SqlKind, SqlResult, ValRef};
use crate::catalog::checkpoint;

/// Prepared statements each connection keeps (more than the catalog's
/// distinct hot statements: with rusqlite's default of 16 a random
/// reader's two window queries were evicted between reads and parsed
/// again each time).
const STATEMENT_CACHE: usize = 128;

/// A connection to a SQLite catalog.
#[derive(Debug)]
pub struct Sqlite(pub(in crate::catalog) Connection);

impl Sqlite {
    /// Opens the database at `path` (created empty if missing, 0600) as
    /// every catalog connection is: WAL, full sync, busy timeout,
    /// statement cache, case-sensitive LIKE.
    pub fn open(path: &Path) -> std::result::Result<Sqlite, OpenError> {
        // SQLite creates a new database 0644 (less the umask) and gives the
        // -wal and -shm files the database's mode: creating it 0600 first
        // keeps all three private to the owner whatever the umask. Only a
        // new file: closing a descriptor of our own on an existing catalog
        // would drop every POSIX lock SQLite holds on it in this process
        // (another server instance's), and another process could then
        // checkpoint and delete the WAL under it.
        {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(OpenError::Io(e)),
                _ => {}
            }
        }
        let conn = Connection::open(path).map_err(classify)?;
        conn.busy_timeout(crate::catalog::BUSY_TIMEOUT)
            .map_err(classify)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(classify)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(classify)?;
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::FALLBACK_PAGES)
            .map_err(classify)?;
        // The archive query language's LIKE is case-sensitive (5800 semantics).
        conn.pragma_update(None, "case_sensitive_like", true)
            .map_err(classify)?;
        Ok(Sqlite(conn))
    }
}

/// Why [`Sqlite::open`] failed.
#[derive(Debug)]
pub enum OpenError {
    /// Creating the file.
    Io(io::Error),
    Sql(SqlError),
}

impl From<SqlError> for OpenError {
    fn from(e: SqlError) -> OpenError {
        OpenError::Sql(e)
    }
}

/// SQLite's errors, classified.
pub fn classify(e: rusqlite::Error) -> SqlError {
    let kind = match &e {
        rusqlite::Error::QueryReturnedNoRows => SqlKind::NoRows,
        // The catalog never stores a value of another type, a NULL where a
        // value belongs, or an integer out of range: only damage does.
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..)
        | rusqlite::Error::InvalidColumnIndex(..) => SqlKind::Conversion,
        _ => match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) => SqlKind::Busy,
            Some(ErrorCode::DiskFull) => SqlKind::Full,
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => SqlKind::Corrupt,
            Some(ErrorCode::SystemIoFailure) => SqlKind::Io,
            Some(ErrorCode::ConstraintViolation) => SqlKind::Constraint,
            _ => SqlKind::Other,
        },
    };
    SqlError::new(kind, e)
}

/// A bound value, as SQLite's own.
struct Bind<'a>(ValRef<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        value_ref(self.0).map(ToSqlOutput::Borrowed)
    }
}

fn value_ref(v: ValRef<'_>) -> rusqlite::Result<ValueRef<'_>> {
    Ok(match v {
        ValRef::Null => ValueRef::Null,
        ValRef::Int(i) => ValueRef::Integer(i),
        ValRef::Real(r) => ValueRef::Real(r),
        ValRef::Text(s) => ValueRef::Text(s.as_bytes()),
        ValRef::Blob(b) => ValueRef::Blob(b),
        ValRef::Ints(_) | ValRef::Blobs(_) => {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                "SQLite has no arrays: a statement for PostgreSQL's dialect bound one".into(),
            ));
        }
    })
}

fn binds<'a>(params: &'a [ValRef<'a>]) -> impl Iterator<Item = Bind<'a>> + 'a {
    params.iter().map(|v| Bind(*v))
}

struct Row<'r, 's>(&'r rusqlite::Row<'s>);

impl RowAccess for Row<'_, '_> {
    fn value(&self, idx: usize) -> SqlResult<ValRef<'_>> {
        Ok(match self.0.get_ref(idx).map_err(classify)? {
            ValueRef::Null => ValRef::Null,
            ValueRef::Integer(i) => ValRef::Int(i),
            ValueRef::Real(r) => ValRef::Real(r),
            ValueRef::Text(t) => ValRef::Text(
                std::str::from_utf8(t).map_err(|e| SqlError::conversion(format!("column {idx}: {e}")))?,
            ),
            ValueRef::Blob(b) => ValRef::Blob(b),
        })
    }

    fn width(&self) -> usize {
        self.0.as_ref().column_count()
    }
}

impl Backend for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &str, params: &[ValRef<'_>]) -> SqlResult<usize> {
        let mut st = self.0.prepare_cached(sql).map_err(classify)?;
        st.execute(rusqlite::params_from_iter(binds(params)))
            .map_err(classify)
    }

    fn query(
        &self,
        sql: &str,
        params: &[ValRef<'_>],
        row: &mut dyn FnMut(&dyn RowAccess) -> SqlResult<bool>,
    ) -> SqlResult<()> {
        let mut st = self.0.prepare_cached(sql).map_err(classify)?;
        let mut rows = st
            .query(rusqlite::params_from_iter(binds(params)))
            .map_err(classify)?;
        while let Some(r) = rows.next().map_err(classify)? {
            if !row(&Row(r))? {
                break;
            }
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> SqlResult<()> {
        self.0.execute_batch(sql).map_err(classify)
    }

    fn begin_write(&self) -> SqlResult<()> {
        self.0.execute_batch("BEGIN IMMEDIATE").map_err(classify)
    }

    fn commit(&self) -> SqlResult<()> {
        self.0.execute_batch("COMMIT").map_err(classify)
    }

    fn rollback(&self) -> SqlResult<()> {
        if self.0.is_autocommit() {
            return Ok(());
        }
        self.0.execute_batch("ROLLBACK").map_err(classify)
    }

    fn set_durable(&self, durable: bool) -> SqlResult<()> {
        let mode = if durable { "FULL" } else { "NORMAL" };
        self.0.pragma_update(None, "synchronous", mode).map_err(classify)
    }

    #[cfg(test)]
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

// Tests and fuzz targets that build SQLite databases by hand bind and
// read the archive's SQL values as SQLite's own `Value`s.

#[cfg(any(test, feature = "fuzzing"))]
impl ToSql for crate::archive::SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use crate::catalog::conn::ToVal;
        value_ref(self.to_val()).map(ToSqlOutput::Borrowed)
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl rusqlite::types::FromSql for crate::archive::SqlValue {
    fn column_result(value: ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        use crate::archive::SqlValue;
        use rusqlite::types::Value;
        Ok(match Value::column_result(value)? {
            Value::Null => SqlValue::Null,
            Value::Integer(i) => SqlValue::Integer(i),
            Value::Real(r) => SqlValue::Real(r),
            Value::Text(s) => SqlValue::Text(s),
            Value::Blob(b) => SqlValue::Blob(b),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Error;
    use rusqlite::ffi;

    fn sqlite(code: std::ffi::c_int) -> Error {
        Error::from(classify(rusqlite::Error::SqliteFailure(
            ffi::Error::new(code),
            None,
        )))
    }

    #[test]
    fn sqlite_errors_are_classified_by_what_the_caller_can_do() {
        assert!(matches!(sqlite(ffi::SQLITE_BUSY), Error::Timeout));
        assert!(matches!(sqlite(ffi::SQLITE_FULL), Error::NoSpace(s) if s == "catalog"));
        assert!(matches!(sqlite(ffi::SQLITE_CORRUPT), Error::Corrupt(s) if s.starts_with("catalog: ")));
        assert!(matches!(sqlite(ffi::SQLITE_NOTADB), Error::Corrupt(_)));
        assert!(matches!(sqlite(ffi::SQLITE_IOERR), Error::Io { what, .. } if what == "catalog"));
        assert!(matches!(sqlite(ffi::SQLITE_CONSTRAINT), Error::Sql(_)));
        let e = Error::from(classify(rusqlite::Error::InvalidColumnType(
            0,
            "x".into(),
            rusqlite::types::Type::Null,
        )));
        assert!(matches!(e, Error::Corrupt(s) if s.starts_with("catalog row: ")));
    }

    #[test]
    fn an_array_bound_to_sqlite_is_an_error_not_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::open(&dir.path().join("t.db")).unwrap();
        db.batch("CREATE TABLE t (v)").unwrap();
        for v in [ValRef::Ints(&[1, 2]), ValRef::Blobs(&[b"a"])] {
            let e = db.execute("INSERT INTO t VALUES (?1)", &[v]).unwrap_err();
            assert!(e.to_string().contains("no arrays"), "{e}");
        }
        db.execute("INSERT INTO t VALUES (?1)", &[ValRef::Int(3)])
            .unwrap();
        let mut n = 0;
        db.query("SELECT count(*) FROM t", &[], &mut |r| {
            n = match r.value(0)? {
                ValRef::Int(n) => n,
                v => panic!("{v:?}"),
            };
            Ok(false)
        })
        .unwrap();
        assert_eq!(n, 1, "nothing of the refused statements stored");
    }
}
