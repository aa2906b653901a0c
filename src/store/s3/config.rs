//! Where a pool's object store is and the key that opens it.
//!
//! A server directory that holds a `pool.conf` keeps its chunks in an
//! S3-compatible object store rather than in `segments/`. The file is
//! lines of `NAME=value` (blank lines and `#` comments allowed), the
//! same names as the environment variables that may supply the key
//! instead (`scripts/garage.sh` writes such a file as `s3.env`):
//!
//! | name | meaning |
//! |---|---|
//! | `COMBSTORE_S3_ENDPOINT` | `http://host:port` or `https://...` (required) |
//! | `COMBSTORE_S3_REGION` | the store's region (Garage: its `s3_region`; default `garage`) |
//! | `COMBSTORE_S3_BUCKET` | the bucket (required) |
//! | `COMBSTORE_S3_PREFIX` | folder of this pool in the bucket (default `combstore/<server uuid>`) |
//! | `COMBSTORE_S3_KEY_ID`, `COMBSTORE_S3_SECRET` | the access key; from the environment if the file has none |
//! | `COMBSTORE_S3_RETRY_SECONDS` | how long one request is retried before its error is returned (default 30) |
//! | `COMBSTORE_S3_PAYLOAD` | how an upload's bytes are checked on the way: `signed` (default) or `crc64` ([`Payload`]) |
//! | `COMBSTORE_S3_CACHE_MIB` | MiB of this host's cache of the data it uploaded lately, in the server directory (default 0: none; [`DEFAULT_CACHE_MIB`]) |
//!
//! A file holding a secret must be readable by its owner only (mode 0600
//! or 0400): otherwise the server refuses to open, naming the file, so a
//! secret never sits where other users can read it. The secret is never
//! logged, displayed or put into an error.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// The file in a server directory that makes it a pool.
pub const POOL_FILE: &str = "pool.conf";
/// MiB of a host's cache of what it uploaded lately, unless the pool file
/// says: none. The cache is worth its cost where reading back costs more
/// than writing a second copy to a local disk (a store across a WAN or in
/// a cloud, a duplication after every backup): every uploaded byte is
/// also written to a file, which took four streams into a pool on a
/// loopback Garage 1.10x the time, one stream 1.08x (CPU: copies into the
/// page cache), while a restore right after the backup from a store 100
/// MB/s and 20 ms away ran 7x as fast (docs/scale-out-research.md,
/// increment 8).
pub const DEFAULT_CACHE_MIB: u64 = 0;

/// How to reach a pool's object store.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// The pool's folder in the bucket, without slashes at either end;
    /// `None`: `combstore/<server uuid>`.
    pub prefix: Option<String>,
    pub key_id: String,
    pub secret: String,
    /// How long a failing request is retried (connection refused, 5xx).
    pub retry: Duration,
    pub payload: Payload,
    /// Bytes of the host cache (`super::host_cache`) at most; 0: none.
    pub cache_bytes: u64,
}

/// How the bytes of each upload are checked on their way to the store
/// (`COMBSTORE_S3_PAYLOAD`). Either way the store refuses a request
/// whose body does not match, and the upload fails (nothing is
/// acknowledged); chunks carry their own checksums besides, verified at
/// every read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// The request's signature covers a SHA-256 of its body (SigV4's
    /// signed payload): a body changed on the way is refused, by accident
    /// or by anyone in the path. Both ends hash every byte with SHA-256,
    /// about a tenth of the plugin's CPU on a pool's ingest. The default:
    /// every S3 store checks it.
    Signed,
    /// The body is unsigned and carries its CRC64-NVME
    /// (`x-amz-checksum-crc64nvme`), which the store must check (Garage 2
    /// does, and answers InvalidDigest): a body damaged on the way is
    /// refused, at a small fraction of SHA-256's cost. Chosen by the
    /// administrator, for a store known to check it (a store that ignores
    /// the header would check nothing), and over https:// only: against
    /// someone in the path who forges a body to its checksum, only TLS
    /// protects it (AWS's own SDKs send unsigned bodies over TLS alone).
    Crc64,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("key_id", &self.key_id)
            .field("secret", &"(hidden)")
            .field("retry", &self.retry)
            .field("payload", &self.payload)
            .field("cache_bytes", &self.cache_bytes)
            .finish()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Parses `NAME=value` lines; later lines win.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: expected NAME=value", n + 1));
        };
        let k = k.trim().trim_start_matches("export ").trim();
        if !k
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            // not a name: never shown (it may be a URL holding a password)
            return Err(format!("line {}: expected NAME=value", n + 1));
        }
        if !k.starts_with("COMBSTORE_") {
            return Err(format!("line {}: unknown name {k}", n + 1));
        }
        let v = v.trim().trim_matches('"');
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

impl S3Config {
    /// The pool configuration of server directory `dir`, if it has one;
    /// the key from the environment when the file names none.
    ///
    /// # Errors
    /// `InvalidInput` naming what is wrong with the file (missing or
    /// unknown names, a secret readable by others); I/O errors.
    pub fn of_server(dir: &Path) -> io::Result<Option<S3Config>> {
        let path = dir.join(POOL_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let vars = parse(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        if vars.contains_key("COMBSTORE_S3_SECRET") {
            check_private(&path)?;
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        S3Config::from_vars(&vars, env)
            .map(Some)
            .map_err(|e| invalid(format!("{}: {e}", path.display())))
    }

    /// A configuration from the file's names, falling back to `env` for
    /// the key.
    ///
    /// # Errors
    /// What is missing or malformed.
    pub fn from_vars(
        vars: &BTreeMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<S3Config, String> {
        const KNOWN: [&str; 12] = [
            // the pool's shared catalog: engine::pool::catalog_target
            "COMBSTORE_PG_URL",
            "COMBSTORE_PG_SCHEMA",
            "COMBSTORE_PG_CA",
            "COMBSTORE_S3_ENDPOINT",
            "COMBSTORE_S3_REGION",
            "COMBSTORE_S3_BUCKET",
            "COMBSTORE_S3_PREFIX",
            "COMBSTORE_S3_KEY_ID",
            "COMBSTORE_S3_SECRET",
            "COMBSTORE_S3_RETRY_SECONDS",
            "COMBSTORE_S3_PAYLOAD",
            "COMBSTORE_S3_CACHE_MIB",
        ];
        if let Some(k) = vars.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(format!("unknown name {k}"));
        }
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let need = |k: &str| get(k).ok_or_else(|| format!("{k} is missing"));
        let endpoint = need("COMBSTORE_S3_ENDPOINT")?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err("COMBSTORE_S3_ENDPOINT must start with http:// or https://".into());
        }
        let (key_id, secret) = match (get("COMBSTORE_S3_KEY_ID"), get("COMBSTORE_S3_SECRET")) {
            (Some(k), Some(s)) => (k, s),
            (None, None) => (
                env("COMBSTORE_S3_KEY_ID").ok_or("no COMBSTORE_S3_KEY_ID in the file or the environment")?,
                env("COMBSTORE_S3_SECRET").ok_or("no COMBSTORE_S3_SECRET in the file or the environment")?,
            ),
            _ => return Err("COMBSTORE_S3_KEY_ID and COMBSTORE_S3_SECRET go together".into()),
        };
        let prefix = get("COMBSTORE_S3_PREFIX").map(|p| p.trim_matches('/').to_owned());
        if prefix
            .as_ref()
            .is_some_and(|p| p.is_empty() || p.split('/').any(|s| s.is_empty() || s == "." || s == ".."))
        {
            return Err("COMBSTORE_S3_PREFIX must be folder names separated by single slashes".into());
        }
        let retry = match get("COMBSTORE_S3_RETRY_SECONDS") {
            None => 30,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|&n| (1..=3600).contains(&n))
                .ok_or("COMBSTORE_S3_RETRY_SECONDS must be 1 to 3600")?,
        };
        let payload = match get("COMBSTORE_S3_PAYLOAD").as_deref() {
            None | Some("signed") => Payload::Signed,
            Some("crc64") => Payload::Crc64,
            Some(_) => return Err("COMBSTORE_S3_PAYLOAD must be signed or crc64".into()),
        };
        let cache_mib = match get("COMBSTORE_S3_CACHE_MIB") {
            None => DEFAULT_CACHE_MIB,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|&n| n <= 1 << 30)
                .ok_or("COMBSTORE_S3_CACHE_MIB must be 0 to 1073741824")?,
        };
        Ok(S3Config {
            endpoint,
            region: get("COMBSTORE_S3_REGION").unwrap_or_else(|| "garage".into()),
            bucket: need("COMBSTORE_S3_BUCKET")?,
            prefix,
            key_id,
            secret,
            retry: Duration::from_secs(retry),
            payload,
            cache_bytes: cache_mib << 20,
        })
    }
}

/// Refuses a file holding a secret that users other than its owner may
/// read or write.
///
/// # Errors
/// `PermissionDenied` naming the file and its mode.
pub fn check_private(path: &Path) -> io::Result<()> {
    let mode = fs::metadata(path)?.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} holds a secret but has mode {mode:04o}; it must be readable by its owner only (chmod 600)",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_payload_check_is_signed_unless_crc64_is_asked_for() {
        let payload = |text: &str| S3Config::from_vars(&parse(text).unwrap(), |_| None).map(|c| c.payload);
        let keys = "COMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_KEY_ID=k\nCOMBSTORE_S3_SECRET=s\n";
        let http = format!("COMBSTORE_S3_ENDPOINT=http://127.0.0.1:39000\n{keys}");
        let https = format!("COMBSTORE_S3_ENDPOINT=https://s3.example\n{keys}");
        assert_eq!(payload(&http), Ok(Payload::Signed));
        assert_eq!(payload(&https), Ok(Payload::Signed));
        assert_eq!(
            payload(&format!("{http}COMBSTORE_S3_PAYLOAD=crc64\n")),
            Ok(Payload::Crc64)
        );
        assert_eq!(
            payload(&format!("{https}COMBSTORE_S3_PAYLOAD=signed\n")),
            Ok(Payload::Signed)
        );
        assert_eq!(
            payload(&format!("{https}COMBSTORE_S3_PAYLOAD=md5\n")),
            Err("COMBSTORE_S3_PAYLOAD must be signed or crc64".to_string())
        );
    }

    const FILE: &str = "# a pool\nCOMBSTORE_S3_ENDPOINT=http://127.0.0.1:39000\nexport COMBSTORE_S3_BUCKET=\"b\"\n\nCOMBSTORE_S3_KEY_ID=GK1\nCOMBSTORE_S3_SECRET=s3cr3t\n";

    #[test]
    fn a_file_gives_a_config_and_never_shows_its_secret() {
        let c = S3Config::from_vars(&parse(FILE).unwrap(), |_| None).unwrap();
        assert_eq!(
            (c.endpoint.as_str(), c.bucket.as_str(), c.region.as_str()),
            ("http://127.0.0.1:39000", "b", "garage")
        );
        assert_eq!(
            (c.key_id.as_str(), c.secret.as_str(), c.prefix.as_deref()),
            ("GK1", "s3cr3t", None)
        );
        assert_eq!(c.retry, Duration::from_secs(30));
        assert_eq!(c.cache_bytes, 0, "no host cache unless asked for");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let cached = format!("{FILE}COMBSTORE_S3_CACHE_MIB=512\n");
        let c = S3Config::from_vars(&parse(&cached).unwrap(), |_| None).unwrap();
        assert_eq!(c.cache_bytes, 512 << 20);
    }

    #[test]
    fn the_key_may_come_from_the_environment_and_bad_files_say_why() {
        let vars = parse(
            "COMBSTORE_S3_ENDPOINT=https://s3.example\nCOMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_PREFIX=/a/b/\n",
        )
        .unwrap();
        let env = |k: &str| Some(format!("env-{k}"));
        let c = S3Config::from_vars(&vars, env).unwrap();
        assert_eq!(
            (c.key_id.as_str(), c.prefix.as_deref()),
            ("env-COMBSTORE_S3_KEY_ID", Some("a/b"))
        );
        let err = S3Config::from_vars(&vars, |_| None).unwrap_err();
        assert!(err.contains("COMBSTORE_S3_KEY_ID"), "{err}");
        for (text, why) in [
            ("COMBSTORE_S3_BUCKET=b", "ENDPOINT is missing"),
            ("COMBSTORE_S3_ENDPOINT=ftp://x\nCOMBSTORE_S3_BUCKET=b", "http://"),
            (
                "COMBSTORE_S3_ENDPOINT=http://x\nCOMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_KEY_ID=k",
                "go together",
            ),
            (
                "COMBSTORE_S3_ENDPOINT=http://x\nCOMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_PREFIX=a//b",
                "PREFIX",
            ),
            (
                "COMBSTORE_S3_ENDPOINT=http://x\nCOMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_RETRY_SECONDS=0",
                "RETRY",
            ),
            (
                "COMBSTORE_S3_ENDPOINT=http://x\nCOMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_CACHE_MIB=-1",
                "CACHE_MIB",
            ),
            (
                "COMBSTORE_S3_ENDPOINT=http://x\nCOMBSTORE_S3_BUCKET=b\nCOMBSTORE_S3_CACHE_MIB=4G",
                "CACHE_MIB",
            ),
            ("COMBSTORE_S3_ENDPOINTS=http://x", "unknown name"),
        ] {
            let err = parse(text)
                .and_then(|v| S3Config::from_vars(&v, |_| Some("k".into())))
                .unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert!(parse("PATH=/bin").unwrap_err().contains("unknown name"));
        assert!(parse("garbage").unwrap_err().contains("NAME=value"));
    }

    #[test]
    fn a_secret_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(POOL_FILE);
        fs::write(&path, FILE).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = S3Config::of_server(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            err.to_string().contains("0644") && !err.to_string().contains("s3cr3t"),
            "{err}"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(S3Config::of_server(dir.path()).unwrap().unwrap().secret, "s3cr3t");
        assert_eq!(S3Config::of_server(&dir.path().join("none")).unwrap(), None);
    }
}
