//! Server credentials: a user name and a secret, checked when a client
//! (the plugin API) opens the server.
//!
//! The catalog keeps the user name and a salted, iterated hash of the
//! secret, never the secret: `pbkdf2-sha1$<iterations>$<salt hex>$<hash hex>`
//! (PBKDF2-HMAC-SHA1, RFC 8018, a 16-byte random salt, a 20-byte key).
//! The iteration count travels with the hash, so it can be raised later
//! without invalidating stored credentials.
//!
//! What credentials protect: the plugin API (`stsp_open_server`,
//! `stsp_open_target_server`, `stsp_get_server_prop_byname`) and the 5800
//! API, which has no way to pass credentials and so is refused on a
//! server that has them. They are not a substitute for the directory's
//! permissions (0700): a process of the owning user can read the files
//! directly, and the administrator's tool, which works on the files as
//! their owner, needs none.

use crate::logging::ServerLog;
use crate::{log_info, log_warn};
use sha1::Sha1;

use super::error::{Error, Result};
use super::shared::Shared;
use crate::catalog;

/// Longest user name in bytes (`sts_cred_t.sc_user` holds one more, NUL).
pub const MAX_USER: usize = 63;
/// Longest secret in bytes (`sts_cred_t.sc_secret` holds one more, NUL).
pub const MAX_SECRET: usize = 255;
/// PBKDF2 iterations for newly set credentials.
pub const ITERATIONS: u32 = 100_000;
const SCHEME: &str = "pbkdf2-sha1";
const SALT_LEN: usize = 16;
const KEY_LEN: usize = 20;

/// Credentials presented by a client.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub user: &'a str,
    pub secret: &'a [u8],
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, secret: <{} bytes> }}",
            self.user,
            self.secret.len()
        )
    }
}

/// Who is opening a server.
#[derive(Clone, Copy, Debug)]
pub enum Access<'a> {
    /// The administrator's tool and the engine's own users: the files'
    /// owner, no credentials checked.
    Owner,
    /// A client of the plugin API, with the credentials it passed (if any).
    Client(Option<Credentials<'a>>),
}

/// Checks a user name and secret against the rules for setting them.
///
/// # Errors
/// [`Error::Invalid`] naming the broken rule.
pub fn check_new(user: &str, secret: &[u8]) -> Result<()> {
    let bad = |why: &str| Err(Error::Invalid(why.to_owned()));
    if user.is_empty() || user.len() > MAX_USER {
        return bad(&format!("the user name must be 1 to {MAX_USER} bytes"));
    }
    if user.chars().any(char::is_control) {
        return bad("the user name contains a control character");
    }
    if secret.is_empty() || secret.len() > MAX_SECRET {
        return bad(&format!("the secret must be 1 to {MAX_SECRET} bytes"));
    }
    if secret.contains(&0) {
        return bad("the secret contains a NUL byte");
    }
    Ok(())
}

/// The stored form of `secret` with a fresh random salt.
pub fn hash_secret(secret: &[u8]) -> String {
    let mut salt = [0u8; SALT_LEN];
    crate::store::random_bytes(&mut salt);
    hash_with(secret, &salt, ITERATIONS)
}

fn hash_with(secret: &[u8], salt: &[u8], iterations: u32) -> String {
    let key = derive(secret, salt, iterations);
    format!(
        "{SCHEME}${iterations}${}${}",
        crate::store::hex(salt),
        crate::store::hex(&key)
    )
}

fn derive(secret: &[u8], salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    pbkdf2::pbkdf2_hmac::<Sha1>(secret, salt, iterations, &mut key);
    key
}

/// Whether `secret` matches the stored hash. A malformed stored hash
/// matches nothing.
pub fn verify_secret(stored: &str, secret: &[u8]) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [scheme, iterations, salt, key] = parts[..] else {
        return false;
    };
    let (Ok(iterations), Some(salt), Some(key)) = (iterations.parse::<u32>(), unhex(salt), unhex(key)) else {
        return false;
    };
    if scheme != SCHEME || iterations == 0 || key.len() != KEY_LEN {
        return false;
    }
    let got = derive(secret, &salt, iterations);
    // constant time: every byte compared whatever the first difference
    got.iter().zip(&key).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// Lets `access` in, or refuses it with [`Error::Auth`]: a server without
/// credentials admits every client (whatever it passes); one with
/// credentials admits a client whose user name and secret both match.
///
/// # Errors
/// [`Error::Auth`]; catalog errors.
pub fn authorize(conn: &catalog::Conn, access: &Access<'_>, log: &ServerLog) -> Result<()> {
    let Access::Client(given) = access else {
        return Ok(());
    };
    let Some((user, hash)) = catalog::cred::credentials(conn)? else {
        return Ok(());
    };
    let Some(given) = given else {
        log_warn!(
            log,
            "open refused: the server requires credentials and none were given"
        );
        return Err(Error::Auth);
    };
    // the hash is computed even for a wrong user, so timing does not tell
    // whether the user name was right
    let secret_ok = verify_secret(&hash, given.secret);
    if given.user != user || !secret_ok {
        log_warn!(log, "open refused: wrong credentials for user {:?}", given.user);
        return Err(Error::Auth);
    }
    Ok(())
}

/// The user name clients must present, if the server has credentials.
pub(crate) fn credentials_user(sh: &Shared) -> Result<Option<String>> {
    Ok(catalog::cred::credentials(&sh.catalog.lock())?.map(|(user, _)| user))
}

/// Sets the credentials clients must present from now on; `None` removes
/// them.
pub(crate) fn set_credentials(sh: &Shared, cred: Option<Credentials<'_>>) -> Result<()> {
    let stored = match cred {
        Some(c) => {
            check_new(c.user, c.secret)?;
            Some((c.user, hash_secret(c.secret)))
        }
        None => None,
    };
    let mut conn = sh.catalog.lock();
    catalog::cred::set_credentials(&mut conn, stored.as_ref().map(|(u, h)| (*u, h.as_str())))?;
    log_info!(
        sh.log,
        "credentials {}",
        stored.map_or("removed".to_owned(), |(u, _)| format!("set for user {u:?}"))
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6070 test vectors for PBKDF2-HMAC-SHA1.
    #[test]
    fn pbkdf2_sha1_matches_rfc_6070() {
        let cases: [(&[u8], &[u8], u32, &str); 3] = [
            (
                b"password",
                b"salt",
                1,
                "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            ),
            (
                b"password",
                b"salt",
                2,
                "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957",
            ),
            (
                b"password",
                b"salt",
                4096,
                "4b007901b765489abead49d926f721d065a429c1",
            ),
        ];
        for (p, s, c, want) in cases {
            assert_eq!(crate::store::hex(&derive(p, s, c)), want, "c = {c}");
        }
    }

    #[test]
    fn stored_hash_verifies_only_its_secret() {
        let h = hash_with(b"s3cret", b"0123456789abcdef", 3);
        assert!(h.starts_with("pbkdf2-sha1$3$30313233"), "{h}");
        assert!(verify_secret(&h, b"s3cret"));
        assert!(!verify_secret(&h, b"s3cre"));
        assert!(!verify_secret(&h, b"s3cret\n"));
        assert!(!verify_secret(&h, b""));
        let a = hash_secret(b"x");
        let b = hash_secret(b"x");
        assert_ne!(a, b, "fresh salt each time");
        assert!(verify_secret(&a, b"x") && verify_secret(&b, b"x"));
    }

    #[test]
    fn malformed_stored_hashes_match_nothing() {
        let good = hash_with(b"x", b"salt", 2);
        let key = good.rsplit('$').next().unwrap().to_owned();
        for bad in [
            String::new(),
            "pbkdf2-sha1".into(),
            format!("pbkdf2-sha1$0$73616c74${key}"),
            format!("pbkdf2-sha1$x$73616c74${key}"),
            format!("pbkdf2-sha1$2$7361g74${key}"),
            format!("pbkdf2-sha1$2$73616c74${}", &key[..38]),
            format!("md5$2$73616c74${key}"),
            format!("{good}$extra"),
        ] {
            assert!(!verify_secret(&bad, b"x"), "{bad:?}");
        }
        assert!(verify_secret(&good, b"x"));
    }

    #[test]
    fn new_credentials_follow_the_rules() {
        assert!(check_new("backup", b"pw").is_ok());
        assert!(check_new(&"u".repeat(MAX_USER), &[b'p'; MAX_SECRET]).is_ok());
        for (user, secret) in [
            ("", &b"pw"[..]),
            (&"u".repeat(MAX_USER + 1), b"pw"),
            ("a\nb", b"pw"),
            ("backup", b""),
            ("backup", &[b'p'; MAX_SECRET + 1]),
            ("backup", b"p\0w"),
        ] {
            assert!(
                matches!(check_new(user, secret), Err(Error::Invalid(_))),
                "{user:?}"
            );
        }
    }
}
