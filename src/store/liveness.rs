//! The liveness seam: whether the owner a token names (a server instance,
//! the writer of catalog rows) is still alive, asked without trusting pids
//! or clocks. [`Liveness`] is implemented by owner lock files on one host
//! (`store::lock::LocalOwners`, `flock`: the embedded default) and by
//! PostgreSQL advisory locks for a pool shared by several hosts
//! (`catalog::PgOwners`). A newcomer implements this trait; the engine
//! only asks it.

use std::fmt;
use std::io;

/// The owners of one server, as seen by one server instance.
pub trait Liveness: Send + Sync + fmt::Debug {
    /// This instance's own token, which the rows it owns carry. It is
    /// alive for as long as this value lives.
    fn token(&self) -> &str;

    /// `Some` if the owner of `token` is dead, holding its lock so no
    /// other instance (on any host) recovers it at the same time; `None`
    /// if it is alive. Never `Some` for [`Liveness::token`].
    ///
    /// # Errors
    /// I/O errors (the lock's medium cannot be asked).
    fn claim_if_dead(&self, token: &str) -> io::Result<Option<Box<dyn DeadClaim>>>;

    /// True if the owner of `token` is alive right now.
    ///
    /// # Errors
    /// As [`Liveness::claim_if_dead`].
    fn is_alive(&self, token: &str) -> io::Result<bool> {
        if token == self.token() {
            return Ok(true);
        }
        Ok(self.claim_if_dead(token)?.is_none())
    }
}

/// A dead owner's lock, held while its leftovers are recovered; dropping
/// it releases the lock.
pub trait DeadClaim: Send + fmt::Debug {
    /// Recovery committed: the dead owner's lock can go for good.
    fn forget(self: Box<Self>);
}
