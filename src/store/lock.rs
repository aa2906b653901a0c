//! Owner locks: how one process learns whether another is still alive.
//!
//! Every open server instance picks a random token and holds an exclusive
//! `flock` on `locks/<token>.lock` for its whole life. Catalog rows that
//! belong to a writer (an image being written, a segment being appended)
//! carry that token. The kernel drops the lock when the process dies, at
//! any instant, so "can I take the lock?" answers "is the owner dead?"
//! without trusting pids or clocks.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::liveness::{DeadClaim, Liveness};

/// The lock this server instance holds while it lives.
#[derive(Debug)]
pub struct OwnerLock {
    token: String,
    path: PathBuf,
    _file: File,
}

impl OwnerLock {
    /// Creates and locks a fresh token file in `dir`.
    ///
    /// # Errors
    /// I/O errors creating or locking the file.
    pub fn acquire(dir: &Path) -> io::Result<OwnerLock> {
        let token = super::random_hex128();
        let path = lock_path(dir, &token);
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        if !try_flock(&file)? {
            return Err(io::Error::other("fresh owner lock is already held"));
        }
        Ok(OwnerLock {
            token,
            path,
            _file: file,
        })
    }

    /// The token catalog rows carry for this owner.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// An exclusive `flock` on a server directory itself, held while an open
/// prepares the directory and opens (or creates) the catalog. The first
/// open of a new server is then, to every other process, either not
/// started or finished: none sees a half-created directory (which would
/// look foreign) or races another through the catalog's creation (where
/// SQLite answers "busy" at once, without waiting). Held only for the
/// setup; the kernel drops it if the process dies.
#[derive(Debug)]
pub struct SetupLock {
    _dir: File,
}

impl SetupLock {
    /// Takes the lock on the existing directory `dir`, waiting up to
    /// `timeout`; `None` if another holder kept it that long.
    ///
    /// # Errors
    /// I/O errors opening or locking the directory.
    pub fn acquire(dir: &Path, timeout: Duration) -> io::Result<Option<SetupLock>> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            if try_flock(&file)? {
                return Ok(Some(SetupLock { _dir: file }));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// [`Liveness`] by owner lock files in a server's `locks/` directory:
/// the owners of one host.
#[derive(Debug)]
pub struct LocalOwners {
    dir: PathBuf,
    owner: OwnerLock,
}

impl LocalOwners {
    /// Takes a fresh owner lock in `dir`.
    ///
    /// # Errors
    /// As [`OwnerLock::acquire`].
    pub fn acquire(dir: &Path) -> io::Result<LocalOwners> {
        Ok(LocalOwners {
            dir: dir.to_owned(),
            owner: OwnerLock::acquire(dir)?,
        })
    }
}

impl Liveness for LocalOwners {
    fn token(&self) -> &str {
        self.owner.token()
    }

    fn claim_if_dead(&self, token: &str) -> io::Result<Option<Box<dyn DeadClaim>>> {
        if token == self.token() {
            return Ok(None);
        }
        Ok(claim_if_dead(&self.dir, token)?.map(|d| Box::new(d) as Box<dyn DeadClaim>))
    }
}

impl DeadClaim for DeadOwner {
    fn forget(self: Box<Self>) {
        DeadOwner::forget(*self);
    }
}

/// A dead owner's lock, held while its leftovers are recovered.
#[derive(Debug)]
pub struct DeadOwner {
    path: PathBuf,
    _file: Option<File>,
}

impl DeadOwner {
    /// Removes the dead owner's lock file (after recovery committed).
    pub fn forget(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Returns `Some` if the owner of `token` is dead (its lock file is
/// missing or can be locked), holding its lock so no one else recovers it
/// at the same time; `None` if it is alive.
///
/// # Errors
/// I/O errors other than a missing file.
pub fn claim_if_dead(dir: &Path, token: &str) -> io::Result<Option<DeadOwner>> {
    let path = lock_path(dir, token);
    match OpenOptions::new().write(true).open(&path) {
        Ok(file) => {
            if try_flock(&file)? {
                Ok(Some(DeadOwner {
                    path,
                    _file: Some(file),
                }))
            } else {
                Ok(None)
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(DeadOwner { path, _file: None })),
        Err(e) => Err(e),
    }
}

/// True if the owner of `token` is alive right now.
///
/// # Errors
/// I/O errors other than a missing file.
pub fn is_alive(dir: &Path, token: &str) -> io::Result<bool> {
    Ok(claim_if_dead(dir, token)?.is_none())
}

fn lock_path(dir: &Path, token: &str) -> PathBuf {
    dir.join(format!("{token}.lock"))
}

fn try_flock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on a valid, owned descriptor; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_lock_excludes_a_second_holder_until_dropped() {
        let d = tempfile::tempdir().unwrap();
        let first = SetupLock::acquire(d.path(), Duration::ZERO).unwrap().unwrap();
        assert!(
            SetupLock::acquire(d.path(), Duration::from_millis(30))
                .unwrap()
                .is_none()
        );
        drop(first);
        assert!(SetupLock::acquire(d.path(), Duration::ZERO).unwrap().is_some());
    }

    #[test]
    fn live_owner_is_alive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let owner = OwnerLock::acquire(dir.path()).unwrap();
        let token = owner.token().to_owned();
        assert!(is_alive(dir.path(), &token).unwrap());
        drop(owner);
        assert!(!is_alive(dir.path(), &token).unwrap());
    }

    #[test]
    fn a_claimed_dead_owner_cannot_be_claimed_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "feed");
        File::create(&path).unwrap();
        let first = claim_if_dead(dir.path(), "feed").unwrap();
        assert!(first.is_some());
        assert!(claim_if_dead(dir.path(), "feed").unwrap().is_none());
        first.unwrap().forget();
        assert!(!path.exists());
    }
}
