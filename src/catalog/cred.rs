//! The server's credentials: two rows of the `server` table, `cred_user`
//! and `cred_hash` (see engine::cred for the hash format). Absent rows
//! mean the server requires no credentials.

use super::conn::params;

use super::{Conn, Result};
use super::{server_value, write_txn};

/// The user name and stored hash, if the server has credentials.
///
/// # Errors
/// Catalog errors.
pub fn credentials(conn: &Conn) -> Result<Option<(String, String)>> {
    let user = server_value(conn, "cred_user")?;
    let hash = server_value(conn, "cred_hash")?;
    Ok(user.zip(hash))
}

/// Sets (`Some`) or removes (`None`) the credentials, both rows in one
/// transaction.
///
/// # Errors
/// Catalog errors.
pub fn set_credentials(conn: &mut Conn, cred: Option<(&str, &str)>) -> Result<()> {
    let tx = write_txn(conn)?;
    tx.execute("DELETE FROM server WHERE key IN ('cred_user', 'cred_hash')", [])?;
    if let Some((user, hash)) = cred {
        tx.execute(
            "INSERT INTO server (key, value) VALUES ('cred_user', ?1), ('cred_hash', ?2)",
            params![user, hash],
        )?;
    }
    tx.commit()?;
    Ok(())
}
