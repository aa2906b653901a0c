//! A pool's catalog in PostgreSQL, shared by every host of the pool.
//!
//! One schema per pool (`COMBSTORE_PG_SCHEMA`, default `combstore`), so
//! one database can hold several pools (and the tests one each). Every
//! write transaction first takes a transaction-scoped advisory lock of
//! the schema (`pg_advisory_xact_lock`): writers on every host are
//! ordered exactly as SQLite's `BEGIN IMMEDIATE` orders the processes of
//! one host, so the catalog's read-then-write transactions stay free of
//! races without serializable isolation. Reads run outside transactions,
//! each statement on the latest committed state (READ COMMITTED).
//!
//! A PostgreSQL transaction whose statement failed is aborted as a whole
//! (SQLite's goes on): the backend remembers it, and a commit of an
//! aborted transaction is an error, never the silent rollback PostgreSQL
//! answers `COMMIT` with. A lost connection (a restarted server) is
//! reopened at the next statement outside a transaction; inside one the
//! transaction is lost and its statements fail ([`SqlKind::Io`]).

use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{Backend, Dialect, RowAccess, SqlError, SqlKind, SqlResult, ValRef};

/// How long a statement waits for a lock (another host's write
/// transaction) before it fails as [`SqlKind::Busy`].
const LOCK_TIMEOUT: Duration = crate::catalog::BUSY_TIMEOUT;
/// Statements prepared per connection before the cache starts afresh.
const STATEMENT_CACHE: usize = 256;
/// First key of the advisory lock every write transaction takes ("COMB");
/// the second is the hash of the pool's schema name.
const LOCK_SPACE: i32 = 0x434f_4d42;

/// Where a pool's catalog is: a libpq-style connection string (or URL),
/// the schema inside that database, and the certificates (PEM) that
/// alone are trusted to sign the server's TLS certificate (else the
/// system's trusted roots).
#[derive(Clone)]
pub struct PgTarget {
    pub url: String,
    pub schema: String,
    pub ca: Option<std::path::PathBuf>,
}

impl fmt::Debug for PgTarget {
    // The URL may hold a password: never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgTarget {{ schema: {:?}, ca: {:?} }}", self.schema, self.ca)
    }
}

/// The TLS every connection to the catalog offers (`sslmode` decides
/// whether it must be used: `require`, the default over TCP
/// ([`default_tls`]), fails without it; `prefer` uses it whenever the
/// server offers it; `disable` never asks).
/// The server's certificate is always verified, host name included (as
/// libpq's `verify-full`): against the certificates of `ca`, or the
/// system's trusted roots. A certificate that does not verify fails the
/// connection, never falls back to plain text.
fn tls(ca: Option<&std::path::Path>) -> SqlResult<MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |what: String| SqlError::new(SqlKind::Other, what);
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(format!("COMBSTORE_PG_CA {shown}: {e}")))?;
            if certs.is_empty() {
                return Err(bad(format!("COMBSTORE_PG_CA {shown}: no PEM certificate in it")));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| bad(format!("COMBSTORE_PG_CA {shown}: {e}")))?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Where option `opt` (`name=value`) is set in connection string `url`:
/// at its start or after `?`, `&` or white space (never inside another
/// value, a password say).
fn option_at(url: &str, opt: &str) -> Option<usize> {
    url.match_indices(opt)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || matches!(url.as_bytes()[i - 1], b'?' | b'&' | b' ' | b'\t'))
}

/// `url` with libpq's verifying `sslmode`s (`verify-ca`, `verify-full`)
/// as `require`: the client verifies every certificate anyway, and the
/// connection string parser knows only `disable`, `prefer`, `require`.
fn libpq_sslmodes(url: &str) -> String {
    let mut url = url.to_owned();
    for mode in ["sslmode=verify-full", "sslmode=verify-ca"] {
        while let Some(i) = option_at(&url, mode) {
            url.replace_range(i..i + mode.len(), "sslmode=require");
        }
    }
    url
}

/// The `sslmode` a connection string leaves unsaid is `require` over
/// TCP (the parser's default, `prefer`, lets a machine in the path
/// answer "no TLS" and then read the session, even ask for the password
/// in clear), `prefer` on a Unix socket (no TLS there, and no network).
fn default_tls(config: &mut postgres::Config, url: &str) {
    use postgres::config::{Host, SslMode};
    let said = option_at(url, "sslmode=").is_some();
    let tcp = config.get_hosts().iter().any(|h| matches!(h, Host::Tcp(_)));
    if !said && tcp {
        config.ssl_mode(SslMode::Require);
    }
}

/// Whether `s` may name a pool's schema: an unquoted SQL identifier of
/// lower-case letters, digits and `_` (it is spliced into `SET
/// search_path`, so nothing else may reach the SQL text).
pub fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// The writers' lock of a schema: (LOCK_SPACE, schema name).
const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2))";

/// A connection to a pool's PostgreSQL catalog.
pub struct Postgres {
    target: PgTarget,
    config: postgres::Config,
    tls: MakeRustlsConnect,
    client: RefCell<Option<Client>>,
    cache: RefCell<HashMap<String, Statement>>,
    /// A transaction is open.
    in_tx: Cell<bool>,
    /// A statement of the open transaction failed: it can only roll back.
    aborted: Cell<bool>,
    /// The owner whose lock this session holds ([`Backend::fence`]).
    fence: RefCell<Option<String>>,
    /// The next write transaction commits without waiting for its WAL
    /// to reach the disk ([`Backend::set_durable`]).
    lazy: Cell<bool>,
    /// The session holding the fence was lost and the owner could not be
    /// taken back: every statement fails from now on.
    lost: Cell<bool>,
    /// The process's time zone, which every session takes
    /// ([`process_time_zone`]).
    time_zone: Option<String>,
}

/// The process's time zone as the C library finds it, by name (an IANA
/// name such as `Europe/Paris`, or a POSIX `TZ` string): `TZ` (empty:
/// UTC), else the zone `/etc/localtime` links to, else `/etc/timezone`.
/// None if it cannot be told, or is not a plain name.
///
/// Why: the 5800 queries' CURRENT_DATE and CURRENT_TIME are local time,
/// the process's in SQLite (`'localtime'`); in PostgreSQL they are the
/// session's `TimeZone`, the server's default unless set. Each session
/// takes the process's, so both catalogs answer alike on every host.
pub fn process_time_zone() -> Option<String> {
    zone_from(
        std::env::var("TZ").ok().as_deref(),
        std::fs::read_link("/etc/localtime").ok().as_deref(),
        std::fs::read_to_string("/etc/timezone").ok().as_deref(),
    )
}

fn zone_from(tz: Option<&str>, link: Option<&std::path::Path>, etc_timezone: Option<&str>) -> Option<String> {
    // ".../zoneinfo/[posix/]Europe/Paris" -> "Europe/Paris"
    let named = |p: &std::path::Path| {
        let p = p.to_str()?;
        let name = &p[p.find("zoneinfo/")? + "zoneinfo/".len()..];
        Some(name.strip_prefix("posix/").unwrap_or(name).to_owned())
    };
    let name = match tz {
        Some("") => "UTC".to_owned(),
        Some(t) => {
            let t = t.strip_prefix(':').unwrap_or(t);
            if t.starts_with('/') {
                named(std::path::Path::new(t))?
            } else {
                t.to_owned()
            }
        }
        None => link
            .and_then(named)
            .or_else(|| etc_timezone.map(|s| s.trim().to_owned()))?,
    };
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-:.,<>".contains(&b));
    plain.then_some(name)
}

/// The advisory lock key of owner `token` of a pool's `schema` (64 bits
/// of a hash: two live owners sharing one is as unlikely as two tokens).
pub fn owner_key(schema: &str, token: &str) -> i64 {
    let h = blake3::hash(format!("combstore owner {schema}/{token}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    i64::from_le_bytes(b)
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Postgres {{ {:?} }}", self.target)
    }
}

impl Postgres {
    /// Connects to `target`, creating its schema if needed.
    ///
    /// # Errors
    /// [`SqlKind::Io`] if the server cannot be reached or refuses the
    /// credentials (the server's words, never the password).
    pub fn connect(target: PgTarget) -> SqlResult<Postgres> {
        if !valid_schema(&target.schema) {
            return Err(SqlError::new(
                SqlKind::Other,
                format!(
                    "schema name {:?}: lower-case letters, digits and _ only",
                    target.schema
                ),
            ));
        }
        let url = libpq_sslmodes(&target.url);
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| SqlError::new(SqlKind::Other, format!("PostgreSQL connection string: {e}")))?;
        default_tls(&mut config, &url);
        let tls = tls(target.ca.as_deref())?;
        // A host that vanished is seen within about 25 s (research §3):
        // keepalives on both ends (the server's, set per session below,
        // end the session and so free the vanished owner's locks).
        config
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3)
            .application_name("combstore");
        let pg = Postgres {
            target,
            config,
            tls,
            client: RefCell::new(None),
            cache: RefCell::new(HashMap::new()),
            in_tx: Cell::new(false),
            aborted: Cell::new(false),
            fence: RefCell::new(None),
            lazy: Cell::new(false),
            lost: Cell::new(false),
            time_zone: process_time_zone(),
        };
        drop(pg.client()?);
        Ok(pg)
    }

    /// The connection, reopened if it was lost while no transaction was open.
    fn client(&self) -> SqlResult<RefMut<'_, Client>> {
        if self.lost.get() {
            return Err(lost_owner());
        }
        let mut slot = self.client.borrow_mut();
        let lost = slot.as_ref().is_none_or(Client::is_closed);
        if lost {
            if self.in_tx.get() {
                return Err(SqlError::new(
                    SqlKind::Io,
                    "the PostgreSQL connection was lost inside a transaction",
                ));
            }
            self.cache.borrow_mut().clear();
            let mut client = self.config.connect(self.tls.clone()).map_err(classify)?;
            let schema = &self.target.schema; // valid_schema: an identifier
            client
                .batch_execute(&format!(
                    "SET lock_timeout = '{}ms'; SET client_min_messages = warning; SET search_path TO {schema};
                     SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3",
                    LOCK_TIMEOUT.as_millis()
                ))
                .map_err(classify)?;
            if let Some(tz) = &self.time_zone {
                // process_time_zone says why; a zone this server does not
                // know leaves its default (docs/format.md)
                let _ = client.execute("SELECT set_config('TimeZone', $1, false)", &[tz]);
            }
            // The schema is made under the writers' lock (two hosts
            // creating it at once would otherwise collide), at the first
            // connection only: a reconnection may happen while this
            // process's catalog connection holds that lock (a question
            // about an owner asked inside a write transaction).
            if slot.is_none() {
                let mut tx = client.transaction().map_err(classify)?;
                tx.execute(LOCK_SQL, &[&LOCK_SPACE, &schema.as_str()])
                    .map_err(classify)?;
                tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                    .map_err(classify)?;
                tx.commit().map_err(classify)?;
            }
            if let Some(token) = self.fence.borrow().as_deref() {
                // The fence went with the old session: other hosts may
                // have found this owner dead meanwhile. Take its lock back
                // only if none holds it (recovering it) and none recorded
                // it recovered; otherwise this instance is dead to the pool.
                let key = owner_key(schema, token);
                let got: bool = client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                    .map_err(classify)?
                    .get(0);
                let recovered: bool = got
                    && client
                        .query_one(
                            "SELECT EXISTS (SELECT 1 FROM dead_owners WHERE token = $1)",
                            &[&token],
                        )
                        .map_err(classify)?
                        .get(0);
                if !got || recovered {
                    self.lost.set(true);
                    return Err(lost_owner());
                }
            }
            *slot = Some(client);
        }
        Ok(RefMut::map(slot, |c| c.as_mut().expect("just connected")))
    }

    fn statement(&self, client: &mut Client, sql: &str) -> SqlResult<Statement> {
        if let Some(st) = self.cache.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = client.prepare(&placeholders(sql)).map_err(classify)?;
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    /// Notes a failed statement inside a transaction.
    fn failed<T>(&self, r: SqlResult<T>) -> SqlResult<T> {
        if r.is_err() && self.in_tx.get() {
            self.aborted.set(true);
        }
        r
    }

    fn run<T>(
        &self,
        sql: &str,
        params: &[ValRef<'_>],
        f: impl Fn(&mut Client, &Statement, &[&(dyn ToSql + Sync)]) -> Result<T, postgres::Error>,
    ) -> SqlResult<T> {
        let r = self.once_more(|| {
            let mut client = self.client()?;
            let st = self.statement(&mut client, sql)?;
            let binds: Vec<Bind<'_>> = params.iter().map(|v| Bind(*v)).collect();
            let refs: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as &(dyn ToSql + Sync)).collect();
            f(&mut client, &st, &refs).map_err(classify)
        });
        self.failed(r)
    }

    /// Runs `attempt`, and once more if it failed because the connection
    /// had been lost (a restarted server, a terminated session: only a
    /// statement finds that out) while no transaction was open, so that
    /// the first statement after a reconnection is not an error of its
    /// own. Inside a transaction the transaction is lost: no retry.
    fn once_more<T>(&self, attempt: impl Fn() -> SqlResult<T>) -> SqlResult<T> {
        match attempt() {
            Err(e)
                if e.kind == SqlKind::Io
                    && !self.in_tx.get()
                    && !self.lost.get()
                    && self.client.borrow().as_ref().is_some_and(Client::is_closed) =>
            {
                attempt()
            }
            r => r,
        }
    }

    /// Starts a transaction that takes no lock of its own (its statements
    /// may), tracked as [`Backend::begin_write`]'s: no retry inside it,
    /// commit refused after a failed statement.
    pub fn begin_plain(&self) -> SqlResult<()> {
        self.once_more(|| {
            self.client()
                .and_then(|mut c| c.batch_execute("BEGIN").map_err(classify))
        })?;
        self.in_tx.set(true);
        self.aborted.set(false);
        Ok(())
    }
}

fn lost_owner() -> SqlError {
    SqlError::new(
        SqlKind::Io,
        "this server instance lost its PostgreSQL session, and with it its owner lock: \
         other hosts may have recovered its images; open the server again",
    )
}

/// SQLite's `?N` and `?` placeholders as PostgreSQL's `$N` (string
/// literals and quoted identifiers left as they are).
pub fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0u32;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    next += 1;
                    digits = next.to_string();
                }
                out.push('$');
                out.push_str(&digits);
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// PostgreSQL's errors, classified.
pub fn classify(e: postgres::Error) -> SqlError {
    let kind = match e.code() {
        Some(c) if c.code().starts_with("23") => SqlKind::Constraint,
        Some(c)
            if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::QUERY_CANCELED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            SqlKind::Busy
        }
        Some(c) if c.code().starts_with("53") => SqlKind::Full,
        Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => SqlKind::Corrupt,
        // connection failures, refused credentials, an administrator's
        // shutdown: the catalog cannot be reached
        Some(c)
            if c.code().starts_with("08") || c.code().starts_with("28") || c.code().starts_with("57P") =>
        {
            SqlKind::Io
        }
        Some(_) => SqlKind::Other,
        None if e.is_closed() || std::error::Error::source(&e).is_some() => SqlKind::Io,
        None => SqlKind::Other,
    };
    // The server's own words ("password authentication failed for user
    // ..."): postgres::Error shows only "db error" and keeps them inside.
    let text = match (e.as_db_error(), std::error::Error::source(&e)) {
        (Some(db), _) => format!("PostgreSQL: {} ({})", db.message(), db.code().code()),
        (None, Some(cause)) => format!("PostgreSQL: {e}: {cause}"),
        (None, None) => format!("PostgreSQL: {e}"),
    };
    SqlError::new(kind, text)
}

/// A bound value, converted to the type PostgreSQL inferred for its
/// placeholder (the catalog binds integers for BIGINT, BOOLEAN and
/// INTEGER alike).
#[derive(Debug)]
struct Bind<'a>(ValRef<'a>);

impl ToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            ValRef::Null => Ok(IsNull::Yes),
            ValRef::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer bound as {ty}").into()),
            },
            ValRef::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                _ => Err(format!("a double bound as {ty}").into()),
            },
            ValRef::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => s.to_sql(ty, out),
                _ => Err(format!("text bound as {ty}").into()),
            },
            ValRef::Blob(b) => match *ty {
                Type::BYTEA => b.to_sql(ty, out),
                _ => Err(format!("a blob bound as {ty}").into()),
            },
            ValRef::Ints(a) => match *ty {
                Type::INT8_ARRAY => a.to_sql(ty, out),
                _ => Err(format!("an integer array bound as {ty}").into()),
            },
            ValRef::Blobs(a) => match *ty {
                Type::BYTEA_ARRAY => a.to_sql(ty, out),
                _ => Err(format!("a blob array bound as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

struct Row<'r>(&'r postgres::Row);

impl RowAccess for Row<'_> {
    fn value(&self, idx: usize) -> SqlResult<ValRef<'_>> {
        let r = self.0;
        let col = r
            .columns()
            .get(idx)
            .ok_or_else(|| SqlError::conversion(format!("no column {idx}")))?;
        let bad = |e: postgres::Error| SqlError::conversion(format!("column {idx}: {e}"));
        Ok(match *col.type_() {
            Type::INT8 => r
                .try_get::<_, Option<i64>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, ValRef::Int),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, |v| ValRef::Int(v.into())),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, |v| ValRef::Int(v.into())),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, |v| ValRef::Int(v.into())),
            Type::FLOAT8 => r
                .try_get::<_, Option<f64>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, ValRef::Real),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, |v| ValRef::Real(v.into())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => r
                .try_get::<_, Option<&str>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, ValRef::Text),
            Type::BYTEA => r
                .try_get::<_, Option<&[u8]>>(idx)
                .map_err(bad)?
                .map_or(ValRef::Null, ValRef::Blob),
            ref t => return Err(SqlError::conversion(format!("column {idx} of type {t}"))),
        })
    }

    fn width(&self) -> usize {
        self.0.len()
    }
}

impl Backend for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &str, params: &[ValRef<'_>]) -> SqlResult<usize> {
        let n = self.run(sql, params, |c, st, p| c.execute(st, p))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn query(
        &self,
        sql: &str,
        params: &[ValRef<'_>],
        row: &mut dyn FnMut(&dyn RowAccess) -> SqlResult<bool>,
    ) -> SqlResult<()> {
        // Rows are fetched whole before `row` sees any: the connection is
        // free again while the caller works on them.
        let rows = self.run(sql, params, |c, st, p| c.query(st, p))?;
        for r in &rows {
            if !row(&Row(r))? {
                break;
            }
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> SqlResult<()> {
        let r = self.once_more(|| {
            self.client()
                .and_then(|mut c| c.batch_execute(sql).map_err(classify))
        });
        if r.is_ok() && self.in_tx.get() && sql.trim_start().starts_with("ROLLBACK TO") {
            // the savepoint undid the failure
            self.aborted.set(false);
        }
        self.failed(r)
    }

    fn begin_write(&self) -> SqlResult<()> {
        // One round trip: the transaction, its durability, the writers'
        // lock (the schema is an identifier: valid_schema).
        let lazy = if self.lazy.get() {
            "SET LOCAL synchronous_commit TO off; "
        } else {
            ""
        };
        let sql = format!(
            "BEGIN; {lazy}SELECT pg_advisory_xact_lock({LOCK_SPACE}, hashtext('{}'))",
            self.target.schema
        );
        let r = self.once_more(|| {
            self.client()
                .and_then(|mut c| c.batch_execute(&sql).map_err(classify))
        });
        self.in_tx.set(true);
        self.aborted.set(false);
        if let Err(e) = r {
            let _ = self.rollback(); // BEGIN may have gone through
            return Err(e);
        }
        Ok(())
    }

    fn commit(&self) -> SqlResult<()> {
        if self.aborted.get() {
            return Err(SqlError::new(
                SqlKind::Other,
                "commit of a transaction a failed statement aborted",
            ));
        }
        let r = self
            .client()
            .and_then(|mut c| c.batch_execute("COMMIT").map_err(classify));
        if r.is_ok() {
            self.in_tx.set(false);
        }
        self.failed(r)
    }

    fn rollback(&self) -> SqlResult<()> {
        if !self.in_tx.get() {
            return Ok(());
        }
        let lost = self.client.borrow().as_ref().is_none_or(Client::is_closed);
        let r = if lost {
            Ok(()) // the server rolled it back with the connection
        } else {
            self.client()
                .and_then(|mut c| c.batch_execute("ROLLBACK").map_err(classify))
        };
        self.in_tx.set(false);
        self.aborted.set(false);
        r
    }

    fn set_durable(&self, durable: bool) -> SqlResult<()> {
        // taken up by the next write transaction (SET LOCAL: its own only)
        self.lazy.set(!durable);
        Ok(())
    }

    fn fence(&self, token: &str) -> SqlResult<()> {
        let key = owner_key(&self.target.schema, token);
        let got: bool = self
            .client()?
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .map_err(classify)?
            .get(0);
        if !got {
            return Err(SqlError::new(
                SqlKind::Other,
                "a fresh owner token's lock is held already",
            ));
        }
        *self.fence.borrow_mut() = Some(token.to_owned());
        Ok(())
    }

    #[cfg(test)]
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(placeholders("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
        assert_eq!(placeholders("x IN (?, ?, ?)"), "x IN ($1, $2, $3)");
        assert_eq!(
            placeholders("'?1' = ?2 AND \"a?\" = ?"),
            "'?1' = $2 AND \"a?\" = $1"
        );
    }

    /// Whether the session of `pg` is encrypted, as the server sees it.
    fn encrypted(pg: &Postgres) -> bool {
        pg.client()
            .unwrap()
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .unwrap()
            .get(0)
    }

    #[test]
    #[ignore = "needs the PostgreSQL of make test-scaleout (TLS on, its CA in COMBSTORE_PG_CA)"]
    fn tls_is_used_when_offered_and_the_server_certificate_is_always_verified() {
        let url = std::env::var("COMBSTORE_PG_URL").expect("COMBSTORE_PG_URL");
        let ca = std::path::PathBuf::from(std::env::var("COMBSTORE_PG_CA").expect("COMBSTORE_PG_CA"));
        let sep = if url.contains('?') { '&' } else { '?' };
        let connect = |url: String, ca: Option<&std::path::Path>| {
            Postgres::connect(PgTarget {
                url,
                schema: "tls_test".into(),
                ca: ca.map(Into::into),
            })
        };
        // the default (require over TCP), prefer, require, and libpq's
        // verify-full and verify-ca: TLS
        for mode in [
            "",
            "sslmode=prefer",
            "sslmode=require",
            "sslmode=verify-full",
            "sslmode=verify-ca",
        ] {
            let u = if mode.is_empty() {
                url.clone()
            } else {
                format!("{url}{sep}{mode}")
            };
            assert!(encrypted(&connect(u, Some(&ca)).unwrap()), "{mode}");
        }
        assert!(!encrypted(
            &connect(format!("{url}{sep}sslmode=disable"), Some(&ca)).unwrap()
        ));
        // a certificate that does not verify is refused, never a fall
        // back to plain text: signed by none of the system's roots...
        for mode in ["sslmode=prefer", "sslmode=require"] {
            let e = connect(format!("{url}{sep}{mode}"), None).unwrap_err();
            assert_eq!(e.kind, SqlKind::Io, "{mode}: {e}");
            assert!(e.to_string().contains("certificate"), "{mode}: {e}");
        }
        // ...or naming another host (the test certificate names 127.0.0.1)
        let e = connect(url.replace("127.0.0.1", "localhost"), Some(&ca)).unwrap_err();
        assert!(e.to_string().contains("not valid for name \"localhost\""), "{e}");
        // a CA file that holds no certificate, or is missing
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let e = connect(url.clone(), Some(&junk)).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let e = connect(url.clone(), Some(&dir.path().join("none.pem"))).unwrap_err();
        assert!(e.to_string().contains("none.pem"), "{e}");
    }

    #[test]
    fn tls_is_required_over_tcp_unless_the_connection_string_says_otherwise() {
        use postgres::config::SslMode;
        let mode = |url: &str| {
            let url = libpq_sslmodes(url);
            let mut c: postgres::Config = url.parse().unwrap();
            default_tls(&mut c, &url);
            c.get_ssl_mode()
        };
        assert_eq!(mode("postgresql://u:p@db.example:5432/x"), SslMode::Require);
        assert_eq!(mode("host=db.example user=u dbname=x"), SslMode::Require);
        assert_eq!(mode("postgresql://u:p@db/x?sslmode=prefer"), SslMode::Prefer);
        assert_eq!(mode("host=db sslmode=disable user=u"), SslMode::Disable);
        assert_eq!(
            mode("postgresql://u:p@db/x?application_name=c&sslmode=verify-full"),
            SslMode::Require
        );
        assert_eq!(mode("host=db sslmode=verify-ca"), SslMode::Require);
        // a Unix socket has no TLS to require
        assert_eq!(mode("host=/run/postgresql user=u dbname=x"), SslMode::Prefer);
        // an option's name inside a value (a password) is no option
        assert_eq!(
            libpq_sslmodes("postgresql://u:xsslmode=verify-full@db/x"),
            "postgresql://u:xsslmode=verify-full@db/x"
        );
        assert_eq!(mode("host=db password=asslmode=prefer user=u"), SslMode::Require);
    }

    #[test]
    fn the_process_time_zone_is_found_as_the_c_library_finds_it() {
        let link = std::path::Path::new("/usr/share/zoneinfo/Europe/Paris");
        let posix = std::path::Path::new("/usr/share/zoneinfo/posix/Asia/Tokyo");
        assert_eq!(
            zone_from(Some("America/New_York"), Some(link), None).as_deref(),
            Some("America/New_York")
        );
        assert_eq!(
            zone_from(Some(":Europe/Berlin"), None, None).as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            zone_from(Some("/usr/share/zoneinfo/Asia/Tokyo"), None, None).as_deref(),
            Some("Asia/Tokyo")
        );
        assert_eq!(zone_from(Some(""), Some(link), None).as_deref(), Some("UTC"));
        assert_eq!(
            zone_from(None, Some(link), Some("Etc/UTC\n")).as_deref(),
            Some("Europe/Paris")
        );
        assert_eq!(zone_from(None, Some(posix), None).as_deref(), Some("Asia/Tokyo"));
        assert_eq!(
            zone_from(None, None, Some("Etc/UTC\n")).as_deref(),
            Some("Etc/UTC")
        );
        assert_eq!(zone_from(None, None, None), None);
        assert_eq!(zone_from(Some("UTC'; DROP SCHEMA x; --"), None, None), None);
        assert_eq!(
            zone_from(None, Some(std::path::Path::new("/etc/elsewhere")), None),
            None
        );
    }

    /// Each session takes the process's time zone, whatever the server's
    /// default: the 5800 queries' CURRENT_DATE then agrees with SQLite's.
    #[test]
    #[ignore = "needs the PostgreSQL of make test-scaleout (TLS on, its CA in COMBSTORE_PG_CA)"]
    fn tls_sessions_take_the_process_time_zone() {
        let target = PgTarget {
            url: std::env::var("COMBSTORE_PG_URL").expect("COMBSTORE_PG_URL"),
            schema: "tz_test".into(),
            ca: std::env::var_os("COMBSTORE_PG_CA").map(Into::into),
        };
        let show = |pg: &Postgres| -> String {
            pg.client()
                .unwrap()
                .query_one("SHOW TimeZone", &[])
                .unwrap()
                .get(0)
        };
        for zone in ["America/New_York", "Asia/Tokyo"] {
            let mut pg = Postgres::connect(target.clone()).unwrap();
            pg.time_zone = Some(zone.into());
            // a new session (the first one predates the zone)
            *pg.client.borrow_mut() = None;
            assert_eq!(show(&pg), zone);
        }
        // one the server does not know leaves its default, and a session
        let mut pg = Postgres::connect(target).unwrap();
        let default = show(&pg);
        pg.time_zone = Some("Nowhere/Atlantis".into());
        *pg.client.borrow_mut() = None;
        assert_eq!(show(&pg), default);
    }

    #[test]
    fn only_plain_identifiers_name_a_schema() {
        assert!(valid_schema("combstore"));
        assert!(valid_schema("t_12"));
        for bad in ["", "A", "1a", "a;b", "a b", "a\"", &"a".repeat(64)] {
            assert!(!valid_schema(bad), "{bad}");
        }
    }
}
