//! Liveness across hosts (`store::liveness::Liveness` for a pool whose
//! catalog is in PostgreSQL): an owner is alive while a session holds its
//! advisory lock (`pg_advisory_lock` of `owner_key(schema, token)`),
//! which PostgreSQL drops when the session ends: the owner's process died
//! (at once), its host vanished (TCP keepalives: about 25 s), or the
//! session was lost. The instance's own lock is held on its catalog
//! connection ([`fence`]); the questions about others' are asked on a
//! second session of its own, so they never wait for the catalog's mutex
//! and a claim of a dead owner is held there while recovery runs.

use std::io;
use std::sync::Arc;

use parking_lot::Mutex;

use super::backend::postgres::{PgTarget, Postgres, owner_key};
use super::backend::{Backend, ValRef};
use super::conn::params;
use super::{Conn, Result, Tx, i};
use crate::store::liveness::{DeadClaim, Liveness};

/// [`Liveness`] by PostgreSQL advisory locks.
#[derive(Debug)]
pub struct PgOwners {
    token: String,
    schema: String,
    session: Arc<Mutex<Postgres>>,
}

impl PgOwners {
    /// A fresh owner token of the pool `target` names, and the session
    /// its questions about other owners go through. The token is alive
    /// once [`fence`] holds its lock on the catalog connection.
    ///
    /// # Errors
    /// Catalog errors connecting.
    pub fn start(target: PgTarget) -> Result<PgOwners> {
        let schema = target.schema.clone();
        Ok(PgOwners {
            token: crate::store::random_hex128(),
            schema,
            session: Arc::new(Mutex::new(Postgres::connect(target)?)),
        })
    }

    /// Takes `key`'s lock on the owners' session if it is free.
    fn try_lock(&self, key: i64) -> io::Result<bool> {
        let pg = self.session.lock();
        let mut got = false;
        pg.query("SELECT pg_try_advisory_lock(?1)", &[ValRef::Int(key)], &mut |r| {
            got = r.value(0)? == ValRef::Int(1);
            Ok(false)
        })
        .map_err(io::Error::other)?;
        Ok(got)
    }
}

impl Liveness for PgOwners {
    fn token(&self) -> &str {
        &self.token
    }

    fn claim_if_dead(&self, token: &str) -> io::Result<Option<Box<dyn DeadClaim>>> {
        if token == self.token {
            return Ok(None);
        }
        let key = owner_key(&self.schema, token);
        if !self.try_lock(key)? {
            return Ok(None);
        }
        Ok(Some(Box::new(PgClaim {
            key,
            session: Arc::clone(&self.session),
        })))
    }
}

/// A dead owner's advisory lock, held by the owners' session.
#[derive(Debug)]
struct PgClaim {
    key: i64,
    session: Arc<Mutex<Postgres>>,
}

impl DeadClaim for PgClaim {
    fn forget(self: Box<Self>) {}
}

impl Drop for PgClaim {
    fn drop(&mut self) {
        // A lost session dropped it already.
        let _ = self
            .session
            .lock()
            .execute("SELECT pg_advisory_unlock(?1)", &[ValRef::Int(self.key)]);
    }
}

/// Holds owner `token`'s lock on `conn`, the connection its commits go
/// through ([`Backend::fence`]): if that session is lost, the owner is
/// dead to every host, and `conn` fails from then on unless it can take
/// the lock back before anyone recovered the owner.
///
/// # Errors
/// Catalog errors.
pub fn fence(conn: &Conn, token: &str) -> Result<()> {
    Ok(conn.backend().fence(token)?)
}

/// Records that recovery took over dead owner `token`'s leftovers (in
/// recovery's transaction).
///
/// # Errors
/// Catalog errors.
pub fn record_dead_owner(tx: &Tx<'_>, token: &str, now_ms: u64) -> Result<()> {
    tx.execute(
        "INSERT INTO dead_owners (token, recovered_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![token, i(now_ms)],
    )?;
    Ok(())
}
