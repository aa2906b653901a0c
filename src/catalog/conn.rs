//! The catalog's connection and write transaction, as the layers above
//! hold them: thin wrappers of SQLite's (rusqlite's) own, so that no
//! database type appears above `src/catalog/`. Only catalog code reaches
//! the database through them (the methods below are private to the
//! catalog); everything else passes them to catalog functions.

use std::ops::Deref;

use rusqlite::{
    CachedStatement, Connection, Params, Row, Statement, ToSql, Transaction, TransactionBehavior,
};

use super::Result;

/// A connection to a server's catalog ([`super::open`]). A server
/// instance holds one behind a mutex.
#[derive(Debug)]
pub struct Conn(Connection);

/// A write transaction on a [`Conn`] ([`super::write_txn`], `BEGIN
/// IMMEDIATE`), rolled back if dropped uncommitted. It dereferences to its
/// connection, so every catalog function that takes a [`Conn`] takes a
/// transaction too (and reads inside it).
#[derive(Debug)]
pub struct Tx<'c> {
    tx: Transaction<'c>,
    conn: &'c Conn,
}

impl Conn {
    pub(super) fn new(conn: Connection) -> Conn {
        Conn(conn)
    }

    /// The SQLite connection itself, for tests that damage or inspect the
    /// catalog on purpose.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &Connection {
        &self.0
    }

    /// A connection a test or fuzz target opened and prepared itself (a
    /// catalog of an older format built by hand, an in-memory one).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn from_raw(conn: Connection) -> Conn {
        Conn(conn)
    }

    // SQLite's methods the catalog's functions use, private to the catalog.

    pub(super) fn execute<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.0.execute(sql, params)
    }

    pub(super) fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        self.0.execute_batch(sql)
    }

    pub(super) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.0.query_row(sql, params, f)
    }

    pub(super) fn prepare(&self, sql: &str) -> rusqlite::Result<Statement<'_>> {
        self.0.prepare(sql)
    }

    pub(super) fn prepare_cached(&self, sql: &str) -> rusqlite::Result<CachedStatement<'_>> {
        self.0.prepare_cached(sql)
    }

    pub(super) fn pragma_update<V: ToSql>(
        &self,
        schema_name: Option<&str>,
        pragma_name: &str,
        pragma_value: V,
    ) -> rusqlite::Result<()> {
        self.0.pragma_update(schema_name, pragma_name, pragma_value)
    }

    pub(super) fn last_insert_rowid(&self) -> i64 {
        self.0.last_insert_rowid()
    }
}

impl<'c> Tx<'c> {
    /// `BEGIN IMMEDIATE` on `conn`. `&mut`, as rusqlite's own
    /// `Connection::transaction_with_behavior`: transactions never nest.
    pub(super) fn begin(conn: &'c mut Conn) -> rusqlite::Result<Tx<'c>> {
        let conn: &'c Conn = conn;
        Ok(Tx {
            tx: Transaction::new_unchecked(&conn.0, TransactionBehavior::Immediate)?,
            conn,
        })
    }

    /// Commits.
    ///
    /// # Errors
    /// Catalog errors (the transaction is then rolled back).
    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
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
        Ok(self.execute_batch(&format!("ROLLBACK TO {name}"))?)
    }

    /// Closes savepoint `name`, keeping what was done since.
    ///
    /// # Errors
    /// Catalog errors.
    pub fn release(&self, name: &'static str) -> Result<()> {
        Ok(self.execute_batch(&format!("RELEASE {name}"))?)
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
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(names, ["a", "default"]);
    }
}
