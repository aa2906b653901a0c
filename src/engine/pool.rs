//! Making a server directory a pool (issue 16): the pool file that
//! `combstore init --pool` writes before the pool's first open, checked
//! first (store::s3::config has its names and rules).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use super::error::{Error, Result};
use crate::catalog::PgTarget;
use crate::store::s3::{POOL_FILE, config};

/// Makes `dir`, a server not created yet, a pool on the object store
/// `text` names (`NAME=value` lines; the key may be left to the
/// environment, which is checked too). A server that already has the
/// same pool file is left as it is.
///
/// # Errors
/// [`Error::Invalid`] for a malformed file or a missing key;
/// [`Error::Exists`] for a server with another pool file, or with its
/// chunks in segment files (a pool is a new server); I/O errors.
pub fn write_pool_file(dir: &Path, text: &str) -> Result<()> {
    let vars = config::parse(text).map_err(Error::Invalid)?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    config::S3Config::from_vars(&vars, env).map_err(Error::Invalid)?;
    target_of(&vars, env).map_err(Error::Invalid)?;
    let dest = dir.join(POOL_FILE);
    if dir.join(super::server::CATALOG_FILE).exists() {
        return match fs::read_to_string(&dest) {
            Ok(old) if old == text => Ok(()),
            Ok(_) => Err(Error::Exists(format!(
                "{} already has another pool file",
                dir.display()
            ))),
            Err(_) => Err(Error::Exists(format!(
                "{} is a server with its chunks on local disk; a pool is a new server",
                dir.display()
            ))),
        };
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir.display().to_string(), e))?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&dest)
        .map_err(|e| Error::io(dest.display().to_string(), e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(dest.display().to_string(), e))
}

/// Where the catalog of the pool in `dir` is, if the pool names one in
/// PostgreSQL (`COMBSTORE_PG_URL`, a libpq connection string or URL; or
/// `COMBSTORE_PG_SCHEMA` alone with the URL in the environment), with
/// `COMBSTORE_PG_CA` (file or environment) the CA certificates that sign
/// the server's TLS certificate. A file
/// holding the URL must be private (mode 0600 or 0400): it may hold a
/// password. None for a server whose catalog is its SQLite file.
///
/// # Errors
/// [`Error::Invalid`] for a malformed pool file or one readable by others;
/// I/O errors reading it.
pub fn catalog_target(dir: &Path) -> Result<Option<PgTarget>> {
    let path = dir.join(POOL_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
        Err(e) => return Err(Error::io(path.display().to_string(), e)),
    };
    let shown = path.display();
    let vars = config::parse(&text).map_err(|e| Error::Invalid(format!("{shown}: {e}")))?;
    if vars.get("COMBSTORE_PG_URL").is_some_and(|v| !v.is_empty()) {
        config::check_private(&path).map_err(|e| Error::Invalid(e.to_string()))?;
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    target_of(&vars, env).map_err(|e| Error::Invalid(format!("{shown}: {e}")))
}

/// The PostgreSQL catalog a pool file's names give, if any.
fn target_of(
    vars: &std::collections::BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<String>,
) -> std::result::Result<Option<PgTarget>, String> {
    let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
    let url = match (get("COMBSTORE_PG_URL"), get("COMBSTORE_PG_SCHEMA")) {
        (Some(url), _) => url,
        (None, Some(_)) => {
            env("COMBSTORE_PG_URL").ok_or("no COMBSTORE_PG_URL in the file or the environment")?
        }
        (None, None) => return Ok(None),
    };
    let schema = get("COMBSTORE_PG_SCHEMA").unwrap_or_else(|| "combstore".into());
    if !crate::catalog::valid_schema(&schema) {
        return Err(format!(
            "COMBSTORE_PG_SCHEMA {schema:?}: lower-case letters, digits and _, not starting with a digit"
        ));
    }
    // the CA may come from the environment as the URL may
    let ca = get("COMBSTORE_PG_CA")
        .or_else(|| env("COMBSTORE_PG_CA"))
        .map(std::path::PathBuf::from);
    if let Some(ca) = ca.as_ref().filter(|p| !p.is_absolute()) {
        return Err(format!("COMBSTORE_PG_CA {}: not an absolute path", ca.display()));
    }
    Ok(Some(PgTarget { url, schema, ca }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pool_file_names_its_catalog_and_the_ca_of_its_tls() {
        let none = |_: &str| None;
        assert!(
            target_of(&vars(&[]), none).unwrap().is_none(),
            "no catalog: SQLite"
        );
        let t = target_of(&vars(&[("COMBSTORE_PG_URL", "postgresql://h/db")]), none)
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.url.as_str(), t.schema.as_str(), t.ca),
            ("postgresql://h/db", "combstore", None)
        );
        let file = vars(&[
            ("COMBSTORE_PG_URL", "postgresql://h/db"),
            ("COMBSTORE_PG_CA", "/etc/ca.pem"),
        ]);
        let t = target_of(&file, none).unwrap().unwrap();
        assert_eq!(t.ca.as_deref(), Some(Path::new("/etc/ca.pem")));
        // the CA from the environment, as the URL may be
        let env = |k: &str| (k == "COMBSTORE_PG_CA").then(|| "/srv/ca.pem".to_string());
        let t = target_of(&vars(&[("COMBSTORE_PG_URL", "postgresql://h/db")]), env)
            .unwrap()
            .unwrap();
        assert_eq!(t.ca.as_deref(), Some(Path::new("/srv/ca.pem")));
        let t = target_of(&file, env).unwrap().unwrap();
        assert_eq!(
            t.ca.as_deref(),
            Some(Path::new("/etc/ca.pem")),
            "the file's first"
        );
        // a relative path would depend on the host's working directory
        let e = target_of(
            &vars(&[("COMBSTORE_PG_URL", "u"), ("COMBSTORE_PG_CA", "ca.pem")]),
            none,
        )
        .unwrap_err();
        assert!(e.contains("not an absolute path"), "{e}");
    }
}
