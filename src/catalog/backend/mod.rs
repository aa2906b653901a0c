//! The catalog's database seam: what the catalog's SQL needs of a
//! database, as one object-safe trait ([`Backend`]) over neutral values
//! ([`ValRef`]) and rows ([`RowAccess`]). SQLite ([`sqlite`]) is the
//! embedded default; a new database is a new implementation here, and the
//! catalog's functions (`catalog::*`) branch on its [`Dialect`] only where
//! the SQL itself differs. Nothing of this module leaves `src/catalog/`.
//!
//! The catalog's SQL text is written once, in SQLite's spelling with
//! numbered `?N` (or plain `?`) placeholders; a backend rewrites what its
//! database spells otherwise. Values are only ever bound, never spliced.

pub(super) mod postgres;
pub(super) mod sqlite;

use std::fmt;

/// Which SQL a backend speaks, for the few statements spelled differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a statement or read from a row, borrowed. Integers
/// and booleans are `Int` (the catalog stores flags as 0/1), doubles
/// `Real`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
    /// An array of integers (`BIGINT[]`), bound only, and only where the
    /// [`Dialect`] has arrays (PostgreSQL): one statement then carries a
    /// whole commit's rows (`unnest`) or a whole buffer's lookups
    /// (`= ANY`). SQLite refuses it.
    Ints(&'a [i64]),
    /// An array of blobs (`BYTEA[]`), as [`ValRef::Ints`].
    Blobs(&'a [&'a [u8]]),
}

impl<'a> ValRef<'a> {
    /// The bytes of a blob (None for any other value).
    pub fn as_blob(self) -> Option<&'a [u8]> {
        match self {
            ValRef::Blob(b) => Some(b),
            _ => None,
        }
    }
}

/// One row of a result, column by column (0-based).
pub trait RowAccess {
    /// Column `idx`'s value.
    ///
    /// # Errors
    /// [`SqlKind::Conversion`] if there is no such column or its type is
    /// none of [`ValRef`]'s.
    fn value(&self, idx: usize) -> SqlResult<ValRef<'_>>;
    /// Number of columns.
    fn width(&self) -> usize;
}

/// What the catalog's SQL needs of a database connection. Methods take
/// `&self`: a connection is used by one thread at a time (the server
/// holds its catalog connection behind a mutex), and a transaction's
/// statements run while it is open.
pub trait Backend: Send + fmt::Debug {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; the number of rows it changed.
    fn execute(&self, sql: &str, params: &[ValRef<'_>]) -> SqlResult<usize>;
    /// Runs one statement, calling `row` for each result row until it
    /// returns false.
    fn query(
        &self,
        sql: &str,
        params: &[ValRef<'_>],
        row: &mut dyn FnMut(&dyn RowAccess) -> SqlResult<bool>,
    ) -> SqlResult<()>;
    /// Runs statements without parameters, separated by `;`.
    fn batch(&self, sql: &str) -> SqlResult<()>;
    /// Starts a write transaction, ordered after every other writer's
    /// (SQLite: `BEGIN IMMEDIATE`; a server database: a transaction-scoped
    /// lock every writer takes first).
    fn begin_write(&self) -> SqlResult<()>;
    fn commit(&self) -> SqlResult<()>;
    /// Rolls back the open transaction, if one is open.
    fn rollback(&self) -> SqlResult<()>;
    /// Whether commits wait until they are durable (the default) or only
    /// until another process can see them (`catalog::commit_lazily`).
    fn set_durable(&self, durable: bool) -> SqlResult<()>;
    /// Ties this connection to the life of owner `token` where liveness
    /// lives in the database (`catalog::PgOwners`): the owner's lock is
    /// held on this connection, so a commit can only go through while the
    /// owner is alive to every host. Nothing to do where it does not
    /// (SQLite: lock files).
    fn fence(&self, _token: &str) -> SqlResult<()> {
        Ok(())
    }
    /// The backend itself, for tests that inspect or damage a database of
    /// a known kind on purpose.
    #[cfg(test)]
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Database errors, classified by what the catalog does about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlKind {
    /// A query that must return a row returned none.
    NoRows,
    /// A uniqueness (or other) constraint refused the statement.
    Constraint,
    /// Another connection held a lock past the timeout.
    Busy,
    /// The database has no room.
    Full,
    /// The database's own checks found it damaged.
    Corrupt,
    /// The database could not read or write its files, or reach its server.
    Io,
    /// A value of another type (or NULL) where a row should hold one: only
    /// damage puts one there.
    Conversion,
    Other,
}

/// A database error: its kind, and the database's own words.
pub struct SqlError {
    pub kind: SqlKind,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Result of a backend call.
pub type SqlResult<T> = std::result::Result<T, SqlError>;

impl SqlError {
    pub fn new(kind: SqlKind, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SqlError {
        SqlError {
            kind,
            source: source.into(),
        }
    }

    /// A column that does not hold what the catalog reads from it.
    pub fn conversion(what: impl fmt::Display) -> SqlError {
        SqlError::new(SqlKind::Conversion, format!("catalog column: {what}"))
    }

    pub fn is_constraint(&self) -> bool {
        self.kind == SqlKind::Constraint
    }
}

// Transparent: the engine's `Error::Catalog` reads (Display and Debug) as
// the database error it wraps.
impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl fmt::Debug for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl std::error::Error for SqlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}
