//! Liveness across hosts (`store::liveness::Liveness` for a pool whose
//! catalog is in PostgreSQL): an owner is alive while a session holds its
//! advisory lock (`pg_advisory_lock` of `owner_key(schema, token)`),
//! which PostgreSQL drops when the session ends: the owner's process died
//! (at once), its host vanished (TCP keepalives: about 25 s), or the
//! session was lost. The instance's own lock is held on its catalog
//! connection ([`fence`]).
//!
//! An owner found dead is **buried** before anyone acts on what it owned:
//! one transaction takes its key (`pg_try_advisory_xact_lock`, which fails
//! while its session holds it) and records it in `dead_owners`, and
//! commits. The lock and the tombstone cannot come apart, so an owner
//! whose session comes back after that finds itself buried and stops
//! (`backend::postgres`, "fence"), whoever found it dead and whatever that
//! did next (recovery, a reopen or delete of its image, an audit). Dead
//! once seen dead: a question about an owner is itself the burial. The
//! questions go through a session of this instance's own, so they never
//! wait for the catalog's mutex.

use std::io;

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
    session: Mutex<Postgres>,
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
            session: Mutex::new(Postgres::connect(target)?),
        })
    }

    /// Buries `token` if no session holds its lock: true if it is dead
    /// (buried now or before).
    fn bury(&self, token: &str) -> crate::catalog::backend::SqlResult<bool> {
        let key = owner_key(&self.schema, token);
        let pg = self.session.lock();
        // the lock and the tombstone in one transaction (no retry inside)
        pg.begin_plain()?;
        let r = (|| {
            let mut got = false;
            pg.query(
                "SELECT pg_try_advisory_xact_lock(?1)",
                &[ValRef::Int(key)],
                &mut |r| {
                    got = r.value(0)? == ValRef::Int(1);
                    Ok(false)
                },
            )?;
            if got {
                pg.execute(
                    "INSERT INTO dead_owners (token, recovered_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    &[ValRef::Text(token), ValRef::Int(i(wall_ms()))],
                )?;
                pg.commit()?;
            } else {
                pg.rollback()?;
            }
            Ok(got)
        })();
        if r.is_err() {
            let _ = pg.rollback();
        }
        r
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
        if self.bury(token).map_err(io::Error::other)? {
            Ok(Some(Box::new(Buried)))
        } else {
            Ok(None)
        }
    }
}

/// Now, in ms since the epoch (for the tombstone's record only).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A buried owner: nothing to hold (the tombstone is for good; recovery's
/// transactions, ordered by the writers' lock, find its rows once).
#[derive(Debug)]
struct Buried;

impl DeadClaim for Buried {
    fn forget(self: Box<Self>) {}
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
/// recovery's transaction; a buried owner has its row already).
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
