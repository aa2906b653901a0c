//! The catalog: every row that says what exists and where its bytes are,
//! in SQLite (WAL, synchronous=FULL but for [`commit_lazily`], checkpoints
//! on a thread: [`checkpoint`]). All SQL of the crate lives here.
//!
//! A committed catalog transaction is the commit point of every engine
//! operation. Writers always use `BEGIN IMMEDIATE` ([`write_txn`]) so two
//! processes never deadlock upgrading read locks; the busy timeout turns a
//! stuck peer into [`Error::Timeout`] instead of a hang.

pub mod archive;
pub mod audit;
mod backend;
pub mod checkpoint;
pub(crate) mod conn;
pub mod cred;
mod error;
pub mod events;
mod owners;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use backend::{SqlResult, ValRef};
use conn::{OptionalExtension, Row, params, params_from_iter};

use crate::store::checksum::BlockCrcs;
use crate::store::segment::HEADER_LEN;
pub use backend::Dialect;
pub use backend::postgres::{PgTarget, valid_schema};
#[cfg(test)]
pub(crate) use conn::test_params;
pub use conn::{Conn, Tx};
pub use error::{Error, Result, SqlError};
pub use owners::{PgOwners, fence, record_dead_owner};

/// Catalog format written in `server.format`: 2 since issue 15's
/// content-addressed chunks. An open turns a format 1 catalog into format
/// 2 in place ([`open`]); older binaries then refuse it.
pub const FORMAT: &str = "2";
/// The format before content-addressed chunks.
const FORMAT_1: &str = "1";
/// The LSU every new server has.
pub const DEFAULT_LSU: &str = "default";
/// Longest chunk (and so longest extent) in bytes. Extent lookups by range
/// rely on it: an extent overlapping `[a, b)` starts after `a - MAX_CHUNK`.
pub const MAX_CHUNK: u64 = 1 << 20;
/// How long a transaction waits for another process's lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// An image's identity inside an LSU: the key of its `images` row. The
/// engine validates names (`engine::names`, `ImageName::new`); the
/// catalog stores and returns them as they are.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageName {
    pub basename: String,
    pub date: String,
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.date.is_empty() {
            write!(f, "{}", self.basename)
        } else {
            write!(f, "{}@{}", self.basename, self.date)
        }
    }
}

/// Where an image is in its life. Stored as an integer; never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageState {
    /// Open for writing by the owner in `images.writer`.
    Writing = 0,
    /// Closed incomplete (checkpoint); may be reopened for writing.
    Incomplete = 1,
    /// Writer vanished before close; committed data intact; resumable.
    Aborted = 2,
    /// Writer vanished and the committed data is damaged; delete only.
    Broken = 3,
    /// Closed complete; read-only forever.
    Complete = 4,
}

impl ImageState {
    fn from_i64(v: i64) -> Result<ImageState> {
        Ok(match v {
            0 => ImageState::Writing,
            1 => ImageState::Incomplete,
            2 => ImageState::Aborted,
            3 => ImageState::Broken,
            4 => ImageState::Complete,
            _ => return Err(Error::Corrupt(format!("image state {v}"))),
        })
    }
}

/// One `images` row.
#[derive(Clone, Debug)]
pub struct ImageRow {
    pub id: i64,
    pub lsu_id: i64,
    pub name: ImageName,
    pub state: ImageState,
    pub size: u64,
    pub ctime_ms: u64,
    pub mtime_ms: u64,
    pub complete_ms: u64,
    pub objid: String,
    pub sha1: String,
    pub writer: Option<String>,
    /// A copy (or archive store) in progress: recovery deletes it, not
    /// completes it, if its writer dies.
    pub temporary: bool,
}

/// One `lsus` row.
#[derive(Clone, Debug)]
pub struct LsuRow {
    pub id: i64,
    pub name: String,
    pub label: String,
    /// 'immediate' or 'deferred'.
    pub reclaim: String,
    pub capacity: u64,
    pub used: u64,
    pub used_phys: u64,
    pub images: u64,
    /// Free space threshold (percent of the filesystem) for low-space events.
    pub low_space_pct: u64,
}

/// A chunk's location, stored form and checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    pub id: i64,
    pub segment: i64,
    pub seg_off: u64,
    /// Stored bytes in the segment.
    pub len: u64,
    pub crcs: BlockCrcs,
    /// Bytes of the chunk itself (`len` unless compressed).
    pub raw_len: u64,
    /// Stored form (`chunking::Codec` as an integer).
    pub codec: i64,
    /// Fingerprint of the raw bytes (format 2 chunks).
    pub fp: Option<[u8; 32]>,
}

/// A chunk to record (format 2).
#[derive(Clone, Copy, Debug)]
pub struct NewChunk<'a> {
    pub segment: i64,
    pub seg_off: u64,
    /// Stored bytes.
    pub len: u64,
    pub raw_len: u64,
    pub codec: i64,
    pub fp: Option<&'a [u8; 32]>,
    pub crcs: &'a BlockCrcs,
    pub lsu_id: i64,
}

/// What [`insert_chunk`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new row with this id.
    New(i64),
    /// A chunk with the same fingerprint was recorded first (by another
    /// writer): this id, revived if it was dead. The bytes just stored
    /// are not recorded; [`free_unrecorded`] queues them.
    Existing(i64),
    /// The chunk recorded under the same fingerprint was found damaged
    /// ([`mark_damaged`]): its row (this id, so every extent naming it)
    /// now points at the bytes just stored, which match the fingerprint.
    /// The damaged bytes were at `seg_off` of `segment`: [`free_unrecorded`]
    /// queues the space there that no row records.
    Healed {
        id: i64,
        segment: i64,
        seg_off: u64,
        lsu_id: i64,
    },
}

impl Inserted {
    /// The chunk id either way.
    pub fn id(self) -> i64 {
        match self {
            Inserted::New(id) | Inserted::Existing(id) | Inserted::Healed { id, .. } => id,
        }
    }
}

/// One extent of an image, with its chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtentRow {
    pub img_off: u64,
    pub len: u64,
    pub chunk_off: u64,
    pub chunk: ChunkRef,
}

/// An extent to record: image range -> chunk range.
#[derive(Clone, Copy, Debug)]
pub struct NewExtent {
    pub img_off: u64,
    pub len: u64,
    pub chunk_id: i64,
    pub chunk_off: u64,
}

/// Dead bytes in a segment waiting to be punched.
#[derive(Clone, Copy, Debug)]
pub struct FreeRange {
    pub id: i64,
    pub segment: i64,
    pub seg_off: u64,
    pub len: u64,
}

pub(crate) fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The SQL dialect of the database behind `conn`: what SQL built above
/// the catalog (the archive query translator, `archive::query`) must
/// speak to run on it through [`archive::run_query`].
pub fn dialect(conn: &Conn) -> Dialect {
    conn.dialect()
}

/// Opens (creating if needed) the catalog at `path` and applies the schema.
///
/// # Errors
/// Catalog errors; [`Error::NoServer`] if the file is another format.
pub fn open(path: &Path, now_ms: u64, uuid: &str) -> Result<Conn> {
    open_upgrading(path, now_ms, uuid, |_| Ok::<(), Error>(()))
}

/// As [`open`]; a format 1 catalog is upgraded only if `may_upgrade`
/// allows it (run inside the write transaction of the upgrade, told
/// whether another process has the catalog open: [`open_elsewhere`]),
/// else the open fails with its error and the catalog stays format 1.
///
/// # Errors
/// As [`open`]; `may_upgrade`'s (its error type, the caller's, takes
/// catalog errors).
pub fn open_upgrading<E: From<Error>>(
    path: &Path,
    now_ms: u64,
    uuid: &str,
    may_upgrade: impl FnOnce(bool) -> std::result::Result<(), E>,
) -> std::result::Result<Conn, E> {
    #[cfg(test)]
    if let Some(target) = test_pg::target(path) {
        drop(connect(path)?); // the file a server's directory is known by
        return Ok(open_postgres(target, now_ms, uuid)?);
    }
    let mut conn = connect(path)?;
    let mut elsewhere = false;
    if stored_format(&conn)?.as_deref() == Some(FORMAT_1) {
        // Whether another process has the catalog open is seen only
        // without a connection of ours (open_elsewhere says why).
        drop(conn);
        elsewhere = open_elsewhere(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        conn = connect(path)?;
    }
    let tx = write_txn(&mut conn)?;
    // Columns first: the schema's indexes name them.
    add_missing_columns(&tx)?;
    tx.execute_batch(include_str!("schema.sql"))
        .map_err(Error::from)?;
    if server_value(&tx, "format")?.as_deref() == Some(FORMAT_1) {
        may_upgrade(elsewhere)?;
        upgrade_from_1(&tx)?;
    }
    first_rows(tx, now_ms, uuid)?;
    Ok(check_format(conn)?)
}

/// Opens (creating if needed) a pool's catalog in PostgreSQL and applies
/// its schema (`schema_pg.sql`, under the writers' lock).
///
/// # Errors
/// Catalog errors ([`Error::Io`] if the database cannot be reached or
/// refuses the credentials); [`Error::NoServer`] if the schema holds a
/// catalog of another format.
pub fn open_postgres(target: PgTarget, now_ms: u64, uuid: &str) -> Result<Conn> {
    let mut conn = Conn::new(Box::new(backend::postgres::Postgres::connect(target)?));
    let tx = write_txn(&mut conn)?;
    tx.execute_batch(include_str!("schema_pg.sql"))?;
    first_rows(tx, now_ms, uuid)?;
    check_format(conn)
}

/// A further session to the catalog in PostgreSQL at `target`, which
/// [`open_postgres`] opened already (no schema set up, no format check).
///
/// # Errors
/// As [`open_postgres`]'s connection.
pub fn connect_postgres(target: PgTarget) -> Result<Conn> {
    Ok(Conn::new(Box::new(backend::postgres::Postgres::connect(target)?)))
}

/// The rows a new catalog starts with (none changed in an existing one),
/// committed with `tx`.
fn first_rows(tx: Tx<'_>, now_ms: u64, uuid: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO server (key, value) VALUES ('format', ?1), ('uuid', ?2), ('created_ms', ?3),
           ('epoch', '0') ON CONFLICT DO NOTHING",
        params![FORMAT, uuid, now_ms.to_string()],
    )?;
    tx.execute(
        "INSERT INTO lsus (name, created_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![DEFAULT_LSU, i(now_ms)],
    )?;
    tx.commit()
}

/// `conn` if its catalog is of this binary's format.
fn check_format(conn: Conn) -> Result<Conn> {
    let format = server_value(&conn, "format")?;
    if format.as_deref() != Some(FORMAT) {
        return Err(Error::NoServer(format!(
            "catalog format {format:?}, expected {FORMAT}"
        )));
    }
    Ok(conn)
}

/// `COMBSTORE_TEST_CATALOG=postgres` (`make test-scaleout`): every
/// catalog the tests open by path is a schema of its own in the
/// PostgreSQL database `COMBSTORE_PG_URL` names, the same schema for the
/// same path (a reopened server finds its catalog). The SQLite file is
/// still created, empty: a server directory is known by it.
#[cfg(test)]
pub(crate) mod test_pg {
    use super::PgTarget;
    use std::path::Path;

    pub fn requested() -> bool {
        std::env::var("COMBSTORE_TEST_CATALOG").is_ok_and(|v| v == "postgres")
    }

    pub fn target(path: &Path) -> Option<PgTarget> {
        if !requested() {
            return None;
        }
        let url = std::env::var("COMBSTORE_PG_URL").expect("COMBSTORE_PG_URL (scripts/postgres.sh run)");
        let hash = blake3::hash(path.as_os_str().as_encoded_bytes()).to_hex();
        Some(PgTarget {
            url,
            schema: format!("t{}", &hash[..20]),
            ca: std::env::var_os("COMBSTORE_PG_CA").map(Into::into),
        })
    }
}

/// A connection to the SQLite catalog at `path` (created empty if
/// missing, 0600: [`backend::sqlite::Sqlite::open`]).
fn connect(path: &Path) -> Result<Conn> {
    use backend::sqlite::{OpenError, Sqlite};
    match Sqlite::open(path) {
        Ok(db) => Ok(Conn::new(Box::new(db))),
        Err(OpenError::Io(e)) => Err(Error::io(path.display().to_string(), e)),
        Err(OpenError::Sql(e)) => Err(e.into()),
    }
}

/// The catalog's `format`, or None while it has no `server` table (new).
fn stored_format(conn: &Conn) -> Result<Option<String>> {
    let has: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'server')",
        [],
        |r| r.get(0),
    )?;
    if has {
        server_value(conn, "format")
    } else {
        Ok(None)
    }
}

/// Whether another process has the SQLite database at `path` open, seen
/// the way SQLite itself decides whether it is the first to open one:
/// every connection to a WAL database holds a shared lock on the
/// "dead man switch" byte of its `-shm` file for as long as it is open
/// (`unixLockSharedMemory` in sqlite3.c), and `F_GETLK` for a write lock
/// on that byte reports another process's.
///
/// Call it only while this process has no connection to the database:
/// closing the descriptor it opens drops every POSIX lock this process
/// holds on the `-shm` file, its connections' included. An upgrade needs
/// it: a format 1 process that opened the catalog under the setup lock
/// but has not yet taken its owner lock is seen only this way.
///
/// # Errors
/// I/O errors other than a missing `-shm` file (no connection then).
pub fn open_elsewhere(path: &Path) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    let file = match std::fs::OpenOptions::new().read(true).write(true).open(&shm) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    /// UNIX_SHM_DMS in sqlite3.c: (22 + SQLITE_SHM_NLOCK) * 4 + SQLITE_SHM_NLOCK.
    const DMS_BYTE: libc::off_t = (22 + 8) * 4 + 8;
    // SAFETY: an all-zero flock is a valid value of the plain C struct.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = DMS_BYTE;
    lock.l_len = 1;
    // SAFETY: `file` is an open descriptor for the call's duration and
    // `lock` a valid flock F_GETLK reads and overwrites.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(i32::from(lock.l_type) != libc::F_UNLCK)
}

/// Columns added to tables after servers with the table existed (the
/// schema's `CREATE TABLE IF NOT EXISTS` leaves an existing table as it
/// is): (table, column, declaration).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    // issue 14: exact doubles (archive module docs)
    ("object_fields", "v_bits", "BLOB"),
    // issue 15: content-addressed chunks (format 2)
    ("chunks", "raw_len", "INTEGER NOT NULL DEFAULT 0"),
    ("chunks", "codec", "INTEGER NOT NULL DEFAULT 0"),
    ("chunks", "fp", "BLOB"),
    ("chunks", "dead", "INTEGER"),
    ("chunks", "damaged", "INTEGER"),
    ("images", "pin", "INTEGER NOT NULL DEFAULT 0"),
    // issue 16: adoption epochs (a pool's fence against cut-off writers)
    ("segments", "epoch", "INTEGER NOT NULL DEFAULT 0"),
];

/// Turns a format 1 catalog (its columns already added) into format 2:
/// its chunks are raw (`raw_len` = `len`, no fingerprint, so never a
/// dedup match), and the space triggers are replaced by format 2's,
/// which charge a format 1 chunk as before (aligned) and a format 2
/// chunk its stored bytes. Images stay readable and deletable; new data
/// is chunked. One transaction: an interrupted upgrade leaves format 1.
fn upgrade_from_1(tx: &Tx<'_>) -> Result<()> {
    tx.execute_batch(
        "UPDATE chunks SET raw_len = len WHERE raw_len = 0;
         DROP TRIGGER IF EXISTS chunks_ins;
         DROP TRIGGER IF EXISTS chunks_del;
         DROP TRIGGER IF EXISTS chunks_move;",
    )?;
    tx.execute_batch(include_str!("schema.sql"))?;
    tx.execute("UPDATE server SET value = ?1 WHERE key = 'format'", [FORMAT])?;
    Ok(())
}

fn add_missing_columns(tx: &Tx<'_>) -> Result<()> {
    for (table, column, decl) in ADDED_COLUMNS {
        let table_exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )?;
        if !table_exists {
            continue; // a new catalog: the schema creates it whole
        }
        let have: i64 = tx.query_row(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
            params![table, column],
            |r| r.get(0),
        )?;
        if have == 0 {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    Ok(())
}

/// Starts a write transaction that takes the database write lock at once.
///
/// # Errors
/// [`Error::Timeout`] if another process holds the lock past the timeout.
pub fn write_txn(conn: &mut Conn) -> Result<Tx<'_>> {
    Ok(Tx::begin(conn)?)
}

/// Runs `f` in a write transaction committed with `synchronous=NORMAL`:
/// the commit does not wait for the WAL to reach the disk. It is durable
/// at once against a crash of the process, and against power loss once
/// any later commit of any process is (every other commit waits for the
/// WAL, which holds this one's pages before its own). Only for commits
/// that acknowledge no data: an image's creation, whose bytes only a
/// later, durable commit can make count.
///
/// # Errors
/// As `f` (whose error type, the caller's, takes catalog errors); catalog errors.
pub fn commit_lazily<T, E: From<Error>>(
    conn: &mut Conn,
    f: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    conn.backend().set_durable(false).map_err(Error::from)?;
    let done = write_txn(conn).map_err(E::from).and_then(|tx| {
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    });
    // Back to durable commits before anything else can commit on `conn`
    // (the caller holds it); failing that, the connection is unusable.
    conn.backend().set_durable(true).map_err(Error::from)?;
    done
}

/// A `server` table value.
///
/// # Errors
/// Catalog errors.
pub fn server_value(conn: &Conn, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM server WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

// ---------------------------------------------------------------- LSUs

fn lsu_from_row(r: &Row<'_>) -> SqlResult<LsuRow> {
    Ok(LsuRow {
        id: r.get(0)?,
        name: r.get(1)?,
        label: r.get(2)?,
        capacity: u(r.get(3)?),
        used: u(r.get(4)?),
        used_phys: u(r.get(5)?),
        images: u(r.get(6)?),
        reclaim: r.get(7)?,
        low_space_pct: u(r.get(8)?),
    })
}

/// The LSU named `name`.
///
/// # Errors
/// [`Error::NoLsu`]; catalog errors.
pub fn lsu(conn: &Conn, name: &str) -> Result<LsuRow> {
    conn.query_row(
        "SELECT id, name, label, capacity, used, used_phys, images, reclaim, low_space_pct FROM lsus WHERE name = ?1",
        [name],
        lsu_from_row,
    )
    .optional()?
    .ok_or_else(|| Error::NoLsu(name.to_owned()))
}

/// The name of LSU `id`.
///
/// # Errors
/// [`Error::NoLsu`]; catalog errors.
pub fn lsu_name(conn: &Conn, id: i64) -> Result<String> {
    conn.prepare_cached("SELECT name FROM lsus WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::NoLsu(format!("#{id}")))
}

/// All LSUs in name order.
///
/// # Errors
/// Catalog errors.
pub fn lsus(conn: &Conn) -> Result<Vec<LsuRow>> {
    let mut st = conn.prepare(
        "SELECT id, name, label, capacity, used, used_phys, images, reclaim, low_space_pct FROM lsus ORDER BY name",
    )?;
    let rows = st.query_map([], lsu_from_row)?.collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Creates an LSU.
///
/// # Errors
/// [`Error::Invalid`] if it exists; catalog errors.
pub fn create_lsu(tx: &Tx<'_>, name: &str, now_ms: u64) -> Result<()> {
    match tx.execute(
        "INSERT INTO lsus (name, created_ms) VALUES (?1, ?2)",
        params![name, i(now_ms)],
    ) {
        Err(e) if e.is_constraint() => Err(Error::Invalid(format!("LSU {name} exists"))),
        r => r.map(|_| ()).map_err(Error::from),
    }
}

/// Sets an LSU's reclaim policy ('immediate' or 'deferred').
///
/// # Errors
/// [`Error::NoLsu`]; catalog errors.
pub fn set_lsu_reclaim(tx: &Tx<'_>, name: &str, policy: &str) -> Result<()> {
    match tx.execute(
        "UPDATE lsus SET reclaim = ?2 WHERE name = ?1",
        params![name, policy],
    )? {
        0 => Err(Error::NoLsu(name.to_owned())),
        _ => Ok(()),
    }
}

/// Bytes of an image's extents whose chunks another image also refers to,
/// and bytes only it refers to.
///
/// # Errors
/// Catalog errors.
pub fn shared_and_own_bytes(conn: &Conn, image_id: i64) -> Result<(u64, u64)> {
    let (shared, own): (i64, i64) = conn.query_row(
        "SELECT CAST(coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM extents o WHERE o.chunk_id = e.chunk_id
                 AND o.image_id <> e.image_id) THEN e.len ELSE 0 END), 0) AS BIGINT),
                CAST(coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM extents o WHERE o.chunk_id = e.chunk_id
                 AND o.image_id <> e.image_id) THEN 0 ELSE e.len END), 0) AS BIGINT)
         FROM extents e WHERE e.image_id = ?1",
        [image_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((u(shared), u(own)))
}

/// Deletes an LSU that holds no images.
///
/// # Errors
/// [`Error::NotEmpty`] if it holds images; [`Error::NoLsu`]; catalog errors.
pub fn delete_lsu(tx: &Tx<'_>, name: &str) -> Result<()> {
    let row = lsu(tx, name)?;
    let images: i64 = tx.query_row("SELECT count(*) FROM images WHERE lsu_id = ?1", [row.id], |r| {
        r.get(0)
    })?;
    if images > 0 {
        return Err(Error::NotEmpty(format!("LSU {name} holds {images} images")));
    }
    tx.execute("DELETE FROM lsus WHERE id = ?1", [row.id])?;
    Ok(())
}

/// Sets an LSU's capacity quota in bytes (0: the filesystem's size).
///
/// # Errors
/// [`Error::Invalid`] past `i64::MAX` (what SQLite stores); [`Error::NoLsu`];
/// catalog errors.
pub fn set_lsu_capacity(tx: &Tx<'_>, name: &str, capacity: u64) -> Result<()> {
    if i64::try_from(capacity).is_err() {
        return Err(Error::Invalid(format!(
            "capacity {capacity} bytes is larger than the largest storable, {} bytes",
            i64::MAX
        )));
    }
    match tx.execute(
        "UPDATE lsus SET capacity = ?2 WHERE name = ?1",
        params![name, i(capacity)],
    )? {
        0 => Err(Error::NoLsu(name.to_owned())),
        _ => Ok(()),
    }
}

/// Bytes an LSU may still store under its quota (None: no quota).
///
/// # Errors
/// Catalog errors.
pub fn lsu_room(conn: &Conn, lsu_id: i64) -> Result<Option<u64>> {
    let (capacity, used): (i64, i64) = conn
        .prepare_cached("SELECT capacity, used_phys FROM lsus WHERE id = ?1")?
        .query_row([lsu_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((capacity > 0).then(|| u(capacity).saturating_sub(u(used))))
}

/// Sets an LSU's label.
///
/// # Errors
/// [`Error::NoLsu`]; catalog errors.
pub fn set_lsu_label(tx: &Tx<'_>, name: &str, label: &str) -> Result<()> {
    match tx.execute("UPDATE lsus SET label = ?2 WHERE name = ?1", params![name, label])? {
        0 => Err(Error::NoLsu(name.to_owned())),
        _ => Ok(()),
    }
}

// -------------------------------------------------------------- images

const IMAGE_COLS: &str = "id, lsu_id, basename, date, state, size, ctime_ms, mtime_ms, complete_ms, objid, sha1, writer, temporary";

fn image_from_row(r: &Row<'_>) -> SqlResult<(ImageRow, i64)> {
    let state: i64 = r.get(4)?;
    Ok((
        ImageRow {
            id: r.get(0)?,
            lsu_id: r.get(1)?,
            name: ImageName {
                basename: r.get(2)?,
                date: r.get(3)?,
            },
            state: ImageState::Writing,
            size: u(r.get(5)?),
            ctime_ms: u(r.get(6)?),
            mtime_ms: u(r.get(7)?),
            complete_ms: u(r.get(8)?),
            objid: r.get(9)?,
            sha1: r.get(10)?,
            writer: r.get(11)?,
            temporary: r.get::<_, i64>(12)? != 0,
        },
        state,
    ))
}

fn finish_image(row: Option<(ImageRow, i64)>) -> Result<Option<ImageRow>> {
    match row {
        None => Ok(None),
        Some((mut img, state)) => {
            img.state = ImageState::from_i64(state)?;
            Ok(Some(img))
        }
    }
}

/// The image `name` in LSU `lsu_id`, if any.
///
/// # Errors
/// Catalog errors.
pub fn image_by_name(conn: &Conn, lsu_id: i64, name: &ImageName) -> Result<Option<ImageRow>> {
    let sql = format!("SELECT {IMAGE_COLS} FROM images WHERE lsu_id = ?1 AND basename = ?2 AND date = ?3");
    finish_image(
        conn.query_row(&sql, params![lsu_id, name.basename, name.date], image_from_row)
            .optional()?,
    )
}

/// The image with row id `id`, if it still exists.
///
/// # Errors
/// Catalog errors.
pub fn image_by_id(conn: &Conn, id: i64) -> Result<Option<ImageRow>> {
    // a reader asks at every window it loads: cached
    let sql = format!("SELECT {IMAGE_COLS} FROM images WHERE id = ?1");
    finish_image(
        conn.prepare_cached(&sql)?
            .query_row([id], image_from_row)
            .optional()?,
    )
}

/// Creates an image row in state Writing owned by `writer`.
///
/// # Errors
/// [`Error::Exists`]; catalog errors.
pub fn insert_image(tx: &Tx<'_>, lsu_id: i64, name: &ImageName, writer: &str, now_ms: u64) -> Result<i64> {
    insert_image_as(tx, lsu_id, name, writer, now_ms, false)
}

/// As [`insert_image`]; `temporary` marks a copy in progress from the
/// start (recovery deletes it if its writer dies), in the same statement, so no crash can
/// leave it unmarked.
///
/// # Errors
/// [`Error::Exists`]; catalog errors.
pub fn insert_image_as(
    tx: &Tx<'_>,
    lsu_id: i64,
    name: &ImageName,
    writer: &str,
    now_ms: u64,
    temporary: bool,
) -> Result<i64> {
    let r = tx.query_row(
        "INSERT INTO images (lsu_id, basename, date, state, ctime_ms, mtime_ms, writer, temporary, pin)
         VALUES (?1, ?2, ?3, 0, ?4, ?4, ?5, ?6,
                 (SELECT CAST(value AS BIGINT) FROM server WHERE key = 'epoch')) RETURNING id",
        params![lsu_id, name.basename, name.date, i(now_ms), writer, temporary],
        |r| r.get(0),
    );
    match r {
        Err(e) if e.is_constraint() => Err(Error::Exists(name.to_string())),
        r => Ok(r?),
    }
}

/// Sets an image's state and writer (a new writer registers at the
/// current release epoch: [`release_orphans`]).
///
/// # Errors
/// Catalog errors.
pub fn set_state(tx: &Tx<'_>, id: i64, state: ImageState, writer: Option<&str>, now_ms: u64) -> Result<()> {
    tx.execute(
        "UPDATE images SET state = ?2, writer = ?3, mtime_ms = ?4,
           pin = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN pin ELSE (SELECT CAST(value AS BIGINT) FROM server WHERE key = 'epoch') END
         WHERE id = ?1",
        params![id, state as i64, writer, i(now_ms)],
    )?;
    Ok(())
}

/// Records completion and system metadata.
///
/// # Errors
/// Catalog errors.
pub fn set_complete(tx: &Tx<'_>, id: i64, objid: &str, sha1: &str, now_ms: u64) -> Result<()> {
    tx.execute(
        "UPDATE images SET state = 4, writer = NULL, temporary = 0, objid = ?2, sha1 = ?3, complete_ms = ?4,
         mtime_ms = ?4 WHERE id = ?1",
        params![id, objid, sha1, i(now_ms)],
    )?;
    Ok(())
}

/// Sets an image's size.
///
/// # Errors
/// Catalog errors.
pub fn set_size(tx: &Tx<'_>, id: i64, size: u64, now_ms: u64) -> Result<()> {
    tx.execute(
        "UPDATE images SET size = ?2, mtime_ms = ?3 WHERE id = ?1",
        params![id, i(size), i(now_ms)],
    )?;
    Ok(())
}

/// Up to `limit` image names of an LSU after `after`, in key order.
///
/// # Errors
/// Catalog errors.
pub fn list_images(
    conn: &Conn,
    lsu_id: i64,
    after: Option<&ImageName>,
    limit: usize,
) -> Result<Vec<ImageName>> {
    let row = |r: &Row<'_>| {
        Ok(ImageName {
            basename: r.get(0)?,
            date: r.get(1)?,
        })
    };
    // The row-value comparison lets SQLite seek the (lsu_id, basename,
    // date) index to the page's start: each page costs its own rows, so a
    // full listing is linear in the number of images, not quadratic.
    let rows = match after {
        Some(n) => conn
            .prepare_cached(LIST_AFTER)?
            .query_map(params![lsu_id, n.basename, n.date, i(limit as u64)], row)?
            .collect::<SqlResult<Vec<_>>>()?,
        None => conn
            .prepare_cached(
                "SELECT basename, date FROM images WHERE lsu_id = ?1 ORDER BY basename, date LIMIT ?2",
            )?
            .query_map(params![lsu_id, i(limit as u64)], row)?
            .collect::<SqlResult<Vec<_>>>()?,
    };
    Ok(rows)
}

/// One page of an LSU's image names after a given name.
const LIST_AFTER: &str = "SELECT basename, date FROM images WHERE lsu_id = ?1 AND (basename, date) > (?2, ?3)
     ORDER BY basename, date LIMIT ?4";

/// Images left in state Writing, with their writer tokens and whether
/// they are temporary.
///
/// # Errors
/// Catalog errors.
pub fn writing_images(conn: &Conn) -> Result<Vec<(i64, String, bool)>> {
    let mut st = conn.prepare("SELECT id, writer, temporary FROM images WHERE writer IS NOT NULL")?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0)))?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Deletes an image row, its extents and metadata; returns the chunk ids
/// its extents named (candidates for release).
///
/// # Errors
/// Catalog errors.
pub fn delete_image_rows(tx: &Tx<'_>, id: i64) -> Result<Vec<i64>> {
    let chunks = {
        let mut st = tx.prepare("SELECT DISTINCT chunk_id FROM extents WHERE image_id = ?1")?;
        st.query_map([id], |r| r.get(0))?
            .collect::<SqlResult<Vec<i64>>>()?
    };
    tx.execute("DELETE FROM extents WHERE image_id = ?1", [id])?;
    tx.execute("DELETE FROM image_meta WHERE image_id = ?1", [id])?;
    archive::delete_objects_of_image(tx, id)?;
    tx.execute("DELETE FROM images WHERE id = ?1", [id])?;
    Ok(chunks)
}

// ----------------------------------------------------- chunks, extents

/// Records a chunk, or finds the one already recorded under its
/// fingerprint ([`Inserted`]).
///
/// # Errors
/// [`Error::Invalid`] if longer than [`MAX_CHUNK`]; catalog errors.
pub fn insert_chunk(tx: &Tx<'_>, c: &NewChunk<'_>) -> Result<Inserted> {
    if c.len == 0 || c.len > MAX_CHUNK || c.raw_len == 0 || c.raw_len > MAX_CHUNK {
        return Err(Error::Invalid(format!(
            "chunk length {} ({} stored)",
            c.raw_len, c.len
        )));
    }
    let fp = c.fp.map(|f| &f[..]);
    let id: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO chunks (segment_id, seg_off, len, crcs, lsu_id, raw_len, codec, fp)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (fp) DO NOTHING RETURNING id",
        )?
        .query_row(
            params![
                c.segment,
                i(c.seg_off),
                i(c.len),
                c.crcs.to_blob(),
                c.lsu_id,
                i(c.raw_len),
                c.codec,
                fp
            ],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = id {
        return Ok(Inserted::New(id));
    }
    if let Some((id, segment, seg_off, lsu_id)) = heal_chunk(tx, c, fp)? {
        return Ok(Inserted::Healed {
            id,
            segment,
            seg_off,
            lsu_id,
        });
    }
    let id: i64 = tx
        .prepare_cached("UPDATE chunks SET dead = NULL WHERE fp = ?1 RETURNING id")?
        .query_row([fp], |r| r.get(0))?;
    Ok(Inserted::Existing(id))
}

/// Repairs the damaged chunk recorded under `fp`, if there is one: its
/// row is replaced by one for `c`'s bytes under the same id (the space
/// triggers move `used_phys` from the old stored length to the new), so
/// every image naming it reads again. Returns the id, where the damaged
/// row said its bytes were, and the LSU it is charged to.
fn heal_chunk(tx: &Tx<'_>, c: &NewChunk<'_>, fp: Option<&[u8]>) -> Result<Option<(i64, i64, u64, i64)>> {
    let old: Option<(i64, i64, i64, i64)> = tx
        .prepare_cached(
            "SELECT id, lsu_id, segment_id, seg_off FROM chunks WHERE fp = ?1 AND damaged IS NOT NULL",
        )?
        .query_row([fp], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((id, lsu_id, old_segment, old_off)) = old else {
        return Ok(None);
    };
    tx.prepare_cached("DELETE FROM chunks WHERE id = ?1")?
        .execute([id])?;
    tx.prepare_cached(
        "INSERT INTO chunks (id, segment_id, seg_off, len, crcs, lsu_id, raw_len, codec, fp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        c.segment,
        i(c.seg_off),
        i(c.len),
        c.crcs.to_blob(),
        lsu_id,
        i(c.raw_len),
        c.codec,
        fp
    ])?;
    Ok(Some((id, old_segment, u(old_off), lsu_id)))
}

/// Flags chunk `id`, stored at `seg_off` of `segment`, as damaged (a read
/// found its stored bytes failing their checksums, their fingerprint or
/// their decoding, or missing): lookups stop matching it, so new backups
/// store the bytes anew instead of referring to bytes that cannot be
/// read, and the first that does repairs it ([`insert_chunk`]). The
/// location must match: a row repaired since the failed read stays sound.
/// Format 1 chunks (no fingerprint, never matched) are left as they are.
/// True if the row was flagged now.
///
/// # Errors
/// Catalog errors.
pub fn mark_damaged(conn: &Conn, id: i64, segment: i64, seg_off: u64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE chunks SET damaged = 1
             WHERE id = ?1 AND segment_id = ?2 AND seg_off = ?3 AND fp IS NOT NULL AND damaged IS NULL",
        )?
        .execute(params![id, segment, i(seg_off)])?;
    Ok(n == 1)
}

/// Where chunk `id` is stored now: (segment, offset), or None if it is
/// gone.
///
/// # Errors
/// Catalog errors.
pub fn chunk_place(conn: &Conn, id: i64) -> Result<Option<(i64, u64)>> {
    Ok(conn
        .prepare_cached("SELECT segment_id, seg_off FROM chunks WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, u(r.get(1)?))))
        .optional()?)
}

/// A chunk found by its fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkHit {
    pub fp: [u8; 32],
    pub id: i64,
    /// Its release epoch if it is dead (unreferenced, waiting to be reclaimed).
    pub dead: Option<i64>,
    pub segment: i64,
    pub seg_off: u64,
    /// Flagged by [`mark_damaged`]: not to be referred to.
    pub damaged: bool,
    /// The LSU its stored bytes are charged to.
    pub lsu_id: i64,
}

fn hit_from_row(r: &Row<'_>) -> SqlResult<Option<ChunkHit>> {
    let fp: Vec<u8> = r.get(0)?;
    Ok(fp.try_into().ok().map(|fp| ChunkHit {
        fp,
        id: r.get(1).unwrap_or(0),
        dead: r.get(2).unwrap_or(None),
        segment: r.get(3).unwrap_or(0),
        seg_off: u(r.get(4).unwrap_or(0)),
        damaged: r.get(5).unwrap_or(true),
        lsu_id: r.get(6).unwrap_or(0),
    }))
}

/// Fingerprints looked up per statement by [`chunks_by_fps`].
pub const FPS_PER_QUERY: usize = 64;

/// The chunks recorded under any of `fps` (in no particular order; a
/// fingerprint without a chunk is absent): a writer resolves a whole
/// buffer's chunks at once. On PostgreSQL one statement (`= ANY` of an
/// array: one round trip), on SQLite one per [`FPS_PER_QUERY`].
///
/// # Errors
/// Catalog errors.
pub fn chunks_by_fps(conn: &Conn, fps: &[[u8; 32]]) -> Result<Vec<ChunkHit>> {
    let mut out = Vec::new();
    if conn.dialect() == Dialect::Postgres {
        for group in fps.chunks(ARRAY_ROWS) {
            let group: Vec<&[u8]> = group.iter().map(|f| &f[..]).collect();
            let mut st = conn.prepare_cached(
                "SELECT fp, id, dead, segment_id, seg_off, damaged IS NOT NULL, lsu_id FROM chunks WHERE fp = ANY(?1::bytea[])",
            )?;
            for r in st.query_map([ValRef::Blobs(&group)], hit_from_row)? {
                out.extend(r?);
            }
        }
        return Ok(out);
    }
    for group in fps.chunks(FPS_PER_QUERY) {
        let marks = vec!["?"; group.len()].join(", ");
        let sql = format!(
            "SELECT fp, id, dead, segment_id, seg_off, damaged IS NOT NULL, lsu_id FROM chunks WHERE fp IN ({marks})"
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(group.iter().map(|f| &f[..])), hit_from_row)?;
        for r in rows {
            out.extend(r?);
        }
    }
    Ok(out)
}

/// The chunks of `fps` recorded already, for a commit whose
/// [`insert_new_chunks`] left them out: what [`insert_chunk`] would find
/// ([`Inserted::Existing`]), revived if dead, found with one lookup
/// ([`chunks_by_fps`]) instead of three statements each (on PostgreSQL,
/// three round trips inside the write lock). A damaged one is left out:
/// [`insert_chunk`] repairs it with the bytes just stored.
///
/// # Errors
/// Catalog errors.
pub fn existing_chunks(tx: &Tx<'_>, fps: &[[u8; 32]]) -> Result<HashMap<[u8; 32], ChunkHit>> {
    let mut out = HashMap::with_capacity(fps.len());
    for h in chunks_by_fps(tx, fps)? {
        if h.damaged {
            continue;
        }
        if h.dead.is_some() {
            // Writers are serialized, so no reclaim can delete it between the
            // lookup and here; if one did, failing beats referring to it.
            let n = tx
                .prepare_cached("UPDATE chunks SET dead = NULL WHERE id = ?1")?
                .execute([h.id])?;
            if n != 1 {
                return Err(Error::Corrupt(format!(
                    "catalog: chunk {} vanished while revived",
                    h.id
                )));
            }
        }
        out.insert(h.fp, ChunkHit { dead: None, ..h });
    }
    Ok(out)
}

/// Up to `limit` format 2 chunks stored after `seg_off` in `segment`, in
/// order: the chunks written after a chunk a writer just found are likely
/// what it finds next (a second full follows its first), so a writer
/// loads them with one range read of the segment index.
///
/// # Errors
/// Catalog errors.
pub fn chunks_after(conn: &Conn, segment: i64, seg_off: u64, limit: usize) -> Result<Vec<ChunkHit>> {
    let mut st = conn.prepare_cached(
        "SELECT fp, id, dead, segment_id, seg_off, damaged IS NOT NULL, lsu_id FROM chunks
         WHERE segment_id = ?1 AND seg_off > ?2 AND fp IS NOT NULL ORDER BY seg_off LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = st.query_map(params![segment, i(seg_off), limit], hit_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.extend(r?);
    }
    Ok(out)
}

/// Benchmark prefill: records one chunk row per fingerprint of `fps`
/// (sorted, so the fingerprint index grows at its edge), 1 byte each at
/// consecutive offsets of `segment`, charged to `lsu_id`, referenced by
/// no extent. Not for servers that hold data anyone reads.
///
/// # Errors
/// Catalog errors (a fingerprint already recorded among them).
pub fn prefill_chunks(
    tx: &Tx<'_>,
    segment: i64,
    first_off: u64,
    lsu_id: i64,
    fps: &[[u8; 32]],
) -> Result<()> {
    let crcs = BlockCrcs::of(&[0]).to_blob();
    let mut st = tx.prepare_cached(
        "INSERT INTO chunks (segment_id, seg_off, len, crcs, lsu_id, raw_len, codec, fp) VALUES (?1, ?2, 1, ?3, ?4, 1, 0, ?5)",
    )?;
    for (k, fp) in fps.iter().enumerate() {
        st.execute(params![segment, i(first_off + k as u64), crcs, lsu_id, &fp[..]])?;
    }
    Ok(())
}

/// The current release epoch (see [`release_orphans`]).
///
/// # Errors
/// Catalog errors.
pub fn epoch(conn: &Conn) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT CAST(value AS BIGINT) FROM server WHERE key = 'epoch'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The release epoch image `id`'s writer registered at.
///
/// # Errors
/// Catalog errors.
pub fn image_pin(conn: &Conn, id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT pin FROM images WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The lowest epoch any image open for writing registered at, if any is.
fn min_pin(tx: &Tx<'_>) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT min(pin) FROM images WHERE writer IS NOT NULL")?
        .query_row([], |r| r.get(0))?)
}

fn next_epoch(tx: &Tx<'_>) -> Result<i64> {
    Ok(tx
        .prepare_cached(
            "UPDATE server SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'epoch'
             RETURNING CAST(value AS BIGINT)",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Whether any chunk is dead (a cheap test before [`sweep_dead`]).
///
/// # Errors
/// Catalog errors.
pub fn any_dead(conn: &Conn) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM chunks WHERE dead IS NOT NULL)")?
        .query_row([], |r| r.get(0))?)
}

/// Reclaims the dead chunks no writer can still refer to (released
/// before every live writer registered): deletes their rows and queues
/// their space. A dead chunk an extent names again (a writer's commit
/// referred to it) is revived instead, and charged to an LSU that names
/// it. Returns the queued ranges.
///
/// # Errors
/// Catalog errors.
pub fn sweep_dead(tx: &Tx<'_>) -> Result<Vec<FreeRange>> {
    let limit = min_pin(tx)?.unwrap_or(i64::MAX);
    let ids: Vec<i64> = tx
        .prepare_cached("SELECT id FROM chunks WHERE dead IS NOT NULL AND dead <= ?1")?
        .query_map([limit], |r| r.get(0))?
        .collect::<SqlResult<_>>()?;
    let mut gone = Vec::with_capacity(ids.len());
    for id in ids {
        if is_referenced(tx, id)? {
            tx.prepare_cached("UPDATE chunks SET dead = NULL WHERE id = ?1")?
                .execute([id])?;
            recharge(tx, id)?;
        } else {
            gone.extend(delete_chunk(tx, id)?);
        }
    }
    queue_gaps(tx, gone)
}

fn is_referenced(tx: &Tx<'_>, id: i64) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM extents WHERE chunk_id = ?1)")?
        .query_row([id], |r| r.get(0))?)
}

/// Keeps chunk `id` charged to an LSU that refers to it (a chunk another
/// writer recorded first may be charged to an LSU that no longer does).
/// A chunk nothing refers to any more (the writer overwrote its extent in
/// the same commit, the other writer's image was deleted) stays charged
/// where it was until it is released.
///
/// # Errors
/// Catalog errors.
pub fn recharge(tx: &Tx<'_>, id: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE chunks SET lsu_id = (SELECT i.lsu_id FROM extents e JOIN images i ON i.id = e.image_id
           WHERE e.chunk_id = ?1 LIMIT 1)
         WHERE id = ?1 AND EXISTS (SELECT 1 FROM extents WHERE chunk_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM extents e JOIN images i ON i.id = e.image_id
           WHERE e.chunk_id = ?1 AND i.lsu_id = chunks.lsu_id)",
    )?
    .execute([id])?;
    Ok(())
}

/// Queues the space around each place (segment, offset, LSU charged)
/// that no row records (a writer stored a chunk another writer recorded
/// first, or repaired a damaged one whose bytes were there).
///
/// # Errors
/// Catalog errors.
pub fn free_unrecorded(tx: &Tx<'_>, places: Vec<(i64, u64, i64)>) -> Result<Vec<FreeRange>> {
    queue_gaps(tx, places)
}

/// Deletes chunk `id`; returns (segment, offset, LSU charged) if it existed.
fn delete_chunk(tx: &Tx<'_>, id: i64) -> Result<Option<(i64, u64, i64)>> {
    Ok(tx
        .prepare_cached("DELETE FROM chunks WHERE id = ?1 RETURNING segment_id, seg_off, lsu_id")?
        .query_row([id], |r| Ok((r.get(0)?, u(r.get(1)?), r.get(2)?)))
        .optional()?)
}

/// For each place in a segment that no longer holds a recorded chunk
/// (segment, offset, LSU), the space around it that holds none either,
/// from the end of the previous recorded chunk to the start of the next
/// (or the segment's committed end), trimmed to whole 4096-byte blocks:
/// format 2 chunks are packed, so a block may hold the ends of two. Only
/// bytes below the committed end, where no writer appends, are named.
/// Overlapping ranges are merged; the ranges are queued in `free_ranges`.
fn queue_gaps(tx: &Tx<'_>, places: Vec<(i64, u64, i64)>) -> Result<Vec<FreeRange>> {
    let mut gaps: Vec<(i64, u64, u64, i64)> = Vec::with_capacity(places.len());
    for (p, near) in places.iter().zip(neighbours(tx, &places)?) {
        let (segment, _, lsu_id) = *p;
        // A place another row still names (a repaired damaged row's old
        // location may have been a damaged value: another chunk's) is
        // not free at all.
        if near.named {
            continue;
        }
        let start = near.prev_end.map_or(HEADER_LEN, u).max(HEADER_LEN);
        let end = near.next_start.or(near.committed).map_or(0, u);
        let end = end.min(near.committed.map_or(0, u));
        let (a, b) = (crate::store::align_up(start), end / 4096 * 4096);
        if b > a {
            gaps.push((segment, a, b, lsu_id));
        }
    }
    gaps.sort_unstable();
    let mut merged: Vec<(i64, u64, u64, i64)> = Vec::with_capacity(gaps.len());
    for g in gaps {
        match merged.last_mut() {
            Some(m) if m.0 == g.0 && g.1 <= m.2 => m.2 = m.2.max(g.2),
            _ => merged.push(g),
        }
    }
    let mut freed = Vec::with_capacity(merged.len());
    if tx.dialect() == Dialect::Postgres {
        // one statement (per ARRAY_ROWS); the ids come back keyed by their
        // (segment, start), which merging made unique
        let mut ids: HashMap<(i64, i64), i64> = HashMap::with_capacity(merged.len());
        for group in merged.chunks(ARRAY_ROWS) {
            let col = |f: fn(&(i64, u64, u64, i64)) -> i64| group.iter().map(f).collect::<Vec<i64>>();
            let (segs, offs) = (col(|g| g.0), col(|g| i(g.1)));
            let (lens, lsus) = (col(|g| i(g.2 - g.1)), col(|g| g.3));
            let got = tx
                .prepare_cached(
                    "INSERT INTO free_ranges (segment_id, seg_off, len, lsu_id)
                     SELECT * FROM unnest(?1::bigint[], ?2::bigint[], ?3::bigint[], ?4::bigint[])
                     RETURNING segment_id, seg_off, id",
                )?
                .query_map(
                    [
                        ValRef::Ints(&segs),
                        ValRef::Ints(&offs),
                        ValRef::Ints(&lens),
                        ValRef::Ints(&lsus),
                    ],
                    |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
                )?
                .collect::<SqlResult<Vec<_>>>()?;
            ids.extend(got);
        }
        for (segment, a, b, _) in merged {
            let id = ids.get(&(segment, i(a))).copied().ok_or_else(|| {
                Error::Corrupt(format!(
                    "catalog: free range at {a} of segment {segment} not returned"
                ))
            })?;
            freed.push(FreeRange {
                id,
                segment,
                seg_off: a,
                len: b - a,
            });
        }
        return Ok(freed);
    }
    for (segment, a, b, lsu_id) in merged {
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO free_ranges (segment_id, seg_off, len, lsu_id) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            )?
            .query_row(params![segment, i(a), i(b - a), lsu_id], |r| r.get(0))?;
        freed.push(FreeRange {
            id,
            segment,
            seg_off: a,
            len: b - a,
        });
    }
    Ok(freed)
}

/// What [`queue_gaps`] needs to know around a place in a segment.
struct Near {
    /// A row records a chunk at the place itself.
    named: bool,
    /// The end of the last recorded chunk before it.
    prev_end: Option<i64>,
    /// The start of the first recorded chunk after it.
    next_start: Option<i64>,
    /// The segment's committed end (None: no such segment).
    committed: Option<i64>,
}

/// [`Near`] for each of `places` (segment, offset, _), in order: on
/// PostgreSQL with one statement for them all (a commit that stored
/// hundreds of chunks another writer recorded first made 4 round trips
/// for each, inside the write lock), on SQLite with 4 for each.
fn neighbours(tx: &Tx<'_>, places: &[(i64, u64, i64)]) -> Result<Vec<Near>> {
    if tx.dialect() == Dialect::Postgres {
        let mut out = Vec::with_capacity(places.len());
        for group in places.chunks(ARRAY_ROWS) {
            out.extend(neighbours_pg(tx, group)?);
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(places.len());
    for &(segment, off, _) in places {
        let named: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM chunks WHERE segment_id = ?1 AND seg_off = ?2)")?
            .query_row(params![segment, i(off)], |r| r.get(0))?;
        let prev_end: Option<i64> = tx
            .prepare_cached(
                "SELECT seg_off + len FROM chunks WHERE segment_id = ?1 AND seg_off < ?2
                 ORDER BY seg_off DESC LIMIT 1",
            )?
            .query_row(params![segment, i(off)], |r| r.get(0))
            .optional()?;
        let next_start: Option<i64> = tx
            .prepare_cached(
                "SELECT seg_off FROM chunks WHERE segment_id = ?1 AND seg_off > ?2 ORDER BY seg_off LIMIT 1",
            )?
            .query_row(params![segment, i(off)], |r| r.get(0))
            .optional()?;
        let committed: Option<i64> = tx
            .prepare_cached("SELECT committed_end FROM segments WHERE id = ?1")?
            .query_row([segment], |r| r.get(0))
            .optional()?;
        out.push(Near {
            named,
            prev_end,
            next_start,
            committed,
        });
    }
    Ok(out)
}

/// [`neighbours`] on PostgreSQL: one statement for `places`.
fn neighbours_pg(tx: &Tx<'_>, places: &[(i64, u64, i64)]) -> Result<Vec<Near>> {
    let segs: Vec<i64> = places.iter().map(|p| p.0).collect();
    let offs: Vec<i64> = places.iter().map(|p| i(p.1)).collect();
    let near: Vec<Near> = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM chunks c WHERE c.segment_id = p.seg AND c.seg_off = p.off),
                        (SELECT c.seg_off + c.len FROM chunks c WHERE c.segment_id = p.seg AND c.seg_off < p.off
                          ORDER BY c.seg_off DESC LIMIT 1),
                        (SELECT c.seg_off FROM chunks c WHERE c.segment_id = p.seg AND c.seg_off > p.off
                          ORDER BY c.seg_off LIMIT 1),
                        (SELECT s.committed_end FROM segments s WHERE s.id = p.seg)
                   FROM unnest(?1::bigint[], ?2::bigint[]) WITH ORDINALITY AS p(seg, off, k)
                  ORDER BY p.k",
            )?
            .query_map([ValRef::Ints(&segs), ValRef::Ints(&offs)], |r| {
                Ok(Near {
                    named: r.get(0)?,
                    prev_end: r.get(1)?,
                    next_start: r.get(2)?,
                    committed: r.get(3)?,
                })
            })?
            .collect::<SqlResult<_>>()?;
    if near.len() != places.len() {
        return Err(Error::Corrupt(format!(
            "catalog: {} of {} places answered",
            near.len(),
            places.len()
        )));
    }
    Ok(near)
}

/// Rows one statement binds as arrays at most, on PostgreSQL: a commit's
/// (about 4,000 for 64 MiB) in one, and a copy or a delete of millions of
/// extents in statements of bounded size (8 bytes a value: 512 KiB an
/// array).
#[cfg(not(test))]
const ARRAY_ROWS: usize = 1 << 16;
/// Small in tests, so that the tests' commits use several statements.
#[cfg(test)]
const ARRAY_ROWS: usize = 50;

/// Rows one multi-row `INSERT` carries at most, on SQLite. (On
/// PostgreSQL, where every statement is a network round trip, a commit's
/// chunks and extents go in one statement each, as arrays: `unnest`.)
/// 256 rows (2,048 parameters at most, well within the limits) ingested
/// into a pool with its catalog in PostgreSQL in 0.965x the time of 64
/// (median of 8 farm-bench pairs), when PostgreSQL took multi-row
/// statements too; a commit of 64 MiB (4,096 chunks of 16 KiB) had
/// inserted each chunk and each extent with a statement of its own.
const BATCH_ROWS: usize = 256;

/// How `n` rows are split into multi-row statements: [`BATCH_ROWS`]
/// while they last, then powers of two, so that a table's inserts use
/// at most 9 statement texts (each prepared once per connection).
pub(crate) fn batch_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    while n > 0 {
        let k = if n >= BATCH_ROWS {
            BATCH_ROWS
        } else {
            1 << n.ilog2()
        };
        sizes.push(k);
        n -= k;
    }
    sizes
}

/// `(?1, .., ?cols), (?cols+1, ..), ..` for `rows` rows.
pub(crate) fn values_list(cols: usize, rows: usize) -> String {
    let row = |r: usize| {
        let marks: Vec<String> = (1..=cols).map(|c| format!("?{}", r * cols + c)).collect();
        format!("({})", marks.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// Appends extents that overlap nothing already recorded (nor each
/// other): on PostgreSQL in one statement (arrays, `unnest`), on SQLite
/// several to a statement.
///
/// # Errors
/// Catalog errors (a constraint error if one did overlap a start).
pub fn insert_extents(tx: &Tx<'_>, image_id: i64, extents: &[NewExtent]) -> Result<()> {
    if tx.dialect() == Dialect::Postgres {
        for group in extents.chunks(ARRAY_ROWS) {
            let col = |f: fn(&NewExtent) -> i64| group.iter().map(f).collect::<Vec<i64>>();
            let (offs, lens) = (col(|e| i(e.img_off)), col(|e| i(e.len)));
            let (chunk_ids, chunk_offs) = (col(|e| e.chunk_id), col(|e| i(e.chunk_off)));
            tx.prepare_cached(
                "INSERT INTO extents (image_id, img_off, len, chunk_id, chunk_off)
                 SELECT ?1::bigint, * FROM unnest(?2::bigint[], ?3::bigint[], ?4::bigint[], ?5::bigint[])",
            )?
            .execute([
                ValRef::Int(image_id),
                ValRef::Ints(&offs),
                ValRef::Ints(&lens),
                ValRef::Ints(&chunk_ids),
                ValRef::Ints(&chunk_offs),
            ])?;
        }
        return Ok(());
    }
    let mut rest = extents;
    for rows in batch_sizes(extents.len()) {
        let (now, later) = rest.split_at(rows);
        rest = later;
        let mut st = tx.prepare_cached(&format!(
            "INSERT INTO extents (image_id, img_off, len, chunk_id, chunk_off) VALUES {}",
            values_list(5, rows)
        ))?;
        let vals = now
            .iter()
            .flat_map(|e| [image_id, i(e.img_off), i(e.len), e.chunk_id, i(e.chunk_off)].map(ValRef::Int));
        st.execute(params_from_iter(vals))?;
    }
    Ok(())
}

/// Records the chunks of `chunks` whose fingerprint no row has yet,
/// as [`insert_extents`] inserts extents, and returns their (fingerprint, id); a chunk
/// left out is recorded already (or twice in `chunks`): [`insert_chunk`]
/// finds it. Every chunk must have a fingerprint.
///
/// # Errors
/// [`Error::Invalid`] for a chunk [`insert_chunk`] would refuse, or one
/// without a fingerprint; catalog errors.
pub fn insert_new_chunks(tx: &Tx<'_>, chunks: &[NewChunk<'_>]) -> Result<HashMap<[u8; 32], i64>> {
    let mut ids = HashMap::with_capacity(chunks.len());
    if let Some(c) = chunks.iter().find(|c| {
        c.fp.is_none() || c.len == 0 || c.len > MAX_CHUNK || c.raw_len == 0 || c.raw_len > MAX_CHUNK
    }) {
        return Err(Error::Invalid(format!(
            "chunk length {} ({} stored), fingerprint {}",
            c.raw_len,
            c.len,
            if c.fp.is_some() { "given" } else { "missing" }
        )));
    }
    let mut take = |fp: Vec<u8>, id: i64| {
        if let Ok(fp) = <[u8; 32]>::try_from(fp.as_slice()) {
            ids.insert(fp, id);
        }
    };
    if tx.dialect() == Dialect::Postgres {
        for group in chunks.chunks(ARRAY_ROWS) {
            let col = |f: &dyn Fn(&NewChunk<'_>) -> i64| group.iter().map(f).collect::<Vec<i64>>();
            let (segments, offs, lens) = (col(&|c| c.segment), col(&|c| i(c.seg_off)), col(&|c| i(c.len)));
            let (lsus, raw_lens, codecs) = (col(&|c| c.lsu_id), col(&|c| i(c.raw_len)), col(&|c| c.codec));
            let crcs: Vec<Vec<u8>> = group.iter().map(|c| c.crcs.to_blob()).collect();
            let crcs: Vec<&[u8]> = crcs.iter().map(Vec::as_slice).collect();
            let fps: Vec<&[u8]> = group.iter().map(|c| c.fp.map_or(&[][..], |f| &f[..])).collect();
            let mut st = tx.prepare_cached(
                "INSERT INTO chunks (segment_id, seg_off, len, crcs, lsu_id, raw_len, codec, fp)
                 SELECT * FROM unnest(?1::bigint[], ?2::bigint[], ?3::bigint[], ?4::bytea[],
                                      ?5::bigint[], ?6::bigint[], ?7::bigint[], ?8::bytea[])
                 ON CONFLICT (fp) DO NOTHING RETURNING fp, id",
            )?;
            let got = st
                .query_map(
                    [
                        ValRef::Ints(&segments),
                        ValRef::Ints(&offs),
                        ValRef::Ints(&lens),
                        ValRef::Blobs(&crcs),
                        ValRef::Ints(&lsus),
                        ValRef::Ints(&raw_lens),
                        ValRef::Ints(&codecs),
                        ValRef::Blobs(&fps),
                    ],
                    |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)),
                )?
                .collect::<SqlResult<Vec<_>>>()?;
            for (fp, id) in got {
                take(fp, id);
            }
        }
        return Ok(ids);
    }
    let mut rest = chunks;
    for rows in batch_sizes(chunks.len()) {
        let (now, later) = rest.split_at(rows);
        rest = later;
        let crcs: Vec<Vec<u8>> = now.iter().map(|c| c.crcs.to_blob()).collect();
        let mut st = tx.prepare_cached(&format!(
            "INSERT INTO chunks (segment_id, seg_off, len, crcs, lsu_id, raw_len, codec, fp)
             VALUES {} ON CONFLICT (fp) DO NOTHING RETURNING fp, id",
            values_list(8, rows)
        ))?;
        let vals = now.iter().zip(&crcs).flat_map(|(c, crcs)| {
            [
                ValRef::Int(c.segment),
                ValRef::Int(i(c.seg_off)),
                ValRef::Int(i(c.len)),
                ValRef::Blob(crcs),
                ValRef::Int(c.lsu_id),
                ValRef::Int(i(c.raw_len)),
                ValRef::Int(c.codec),
                ValRef::Blob(c.fp.map_or(&[][..], |f| &f[..])),
            ]
        });
        let got = st
            .query_map(params_from_iter(vals), |r| {
                let fp: Vec<u8> = r.get(0)?;
                Ok((fp, r.get::<_, i64>(1)?))
            })?
            .collect::<SqlResult<Vec<_>>>()?;
        for (fp, id) in got {
            take(fp, id);
        }
    }
    Ok(ids)
}

/// Appends an extent that overlaps nothing already recorded.
///
/// # Errors
/// Catalog errors (a constraint error if it did overlap a start).
pub fn insert_extent(tx: &Tx<'_>, image_id: i64, e: &NewExtent) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO extents (image_id, img_off, len, chunk_id, chunk_off) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    st.execute(params![
        image_id,
        i(e.img_off),
        i(e.len),
        e.chunk_id,
        i(e.chunk_off)
    ])?;
    Ok(())
}

/// Removes image range `[a, b)` from the extent map: overlapped extents
/// are trimmed or split. Returns the chunk ids that lost a reference
/// (candidates for [`release_orphans`]).
///
/// # Errors
/// Catalog errors.
pub fn clear_range(tx: &Tx<'_>, image_id: i64, a: u64, b: u64) -> Result<Vec<i64>> {
    let old: Vec<(u64, u64, i64, u64)> = {
        let mut st = tx.prepare_cached(
            "SELECT img_off, len, chunk_id, chunk_off FROM extents
             WHERE image_id = ?1 AND img_off > ?2 AND img_off < ?3 AND img_off + len > ?4",
        )?;
        st.query_map(params![image_id, i(a) - i(MAX_CHUNK), i(b), i(a)], |r| {
            Ok((u(r.get(0)?), u(r.get(1)?), r.get(2)?, u(r.get(3)?)))
        })?
        .collect::<SqlResult<Vec<_>>>()?
    };
    let mut touched = Vec::with_capacity(old.len());
    for (off, len, chunk_id, chunk_off) in old {
        tx.prepare_cached("DELETE FROM extents WHERE image_id = ?1 AND img_off = ?2")?
            .execute(params![image_id, i(off)])?;
        let end = off + len;
        if off < a {
            insert_extent(
                tx,
                image_id,
                &NewExtent {
                    img_off: off,
                    len: a - off,
                    chunk_id,
                    chunk_off,
                },
            )?;
        }
        if end > b {
            let skip = b - off;
            insert_extent(
                tx,
                image_id,
                &NewExtent {
                    img_off: b,
                    len: end - b,
                    chunk_id,
                    chunk_off: chunk_off + skip,
                },
            )?;
        }
        touched.push(chunk_id);
    }
    Ok(touched)
}

/// Records an extent that may overwrite part of existing ones (see
/// [`clear_range`]); returns the chunk ids that lost a reference.
///
/// # Errors
/// Catalog errors.
pub fn overwrite_extent(tx: &Tx<'_>, image_id: i64, e: &NewExtent) -> Result<Vec<i64>> {
    let touched = clear_range(tx, image_id, e.img_off, e.img_off + e.len)?;
    insert_extent(tx, image_id, e)?;
    Ok(touched)
}

/// Releases each chunk in `chunk_ids` that no extent names any more; a
/// chunk still named stays charged to an LSU that names it. Returns the
/// space queued in `free_ranges`.
///
/// The release protocol (docs/format.md, "Release and reclaim"): a
/// writer may have found a chunk by its fingerprint and be about to
/// commit an extent naming it, so while any image is open for writing,
/// a released format 2 chunk is only marked dead with a new release
/// epoch; [`sweep_dead`] reclaims it once every writer that was open at
/// its release has gone. Writers take a dead chunk as a match only if it
/// died after they registered ([`chunk_by_fp`], `ImageWriter`); a dead
/// chunk an extent names again is never reclaimed, and [`sweep_dead`]
/// revives it. With no writer open,
/// and for format 1 chunks (which no lookup finds), the row goes at once.
///
/// # Errors
/// Catalog errors.
pub fn release_orphans(tx: &Tx<'_>, chunk_ids: &[i64]) -> Result<Vec<FreeRange>> {
    let writers_open = min_pin(tx)?.is_some();
    let mut epoch = None;
    let mut gone = Vec::new();
    for &id in chunk_ids {
        if is_referenced(tx, id)? {
            // Still shared: keep it charged to an LSU that refers to it.
            recharge(tx, id)?;
            continue;
        }
        let addressed: bool = tx
            .prepare_cached("SELECT fp IS NOT NULL FROM chunks WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .unwrap_or(false);
        if writers_open && addressed {
            let e = match epoch {
                Some(e) => e,
                None => *epoch.insert(next_epoch(tx)?),
            };
            // A stale mark (a writer referred to it again since) is replaced.
            tx.prepare_cached("UPDATE chunks SET dead = ?2 WHERE id = ?1")?
                .execute(params![id, e])?;
            continue;
        }
        gone.extend(delete_chunk(tx, id)?);
    }
    queue_gaps(tx, gone)
}

/// Up to `limit` extents of an image that end after image offset `from`,
/// in image order, with chunk locations (a reader's window of the map).
///
/// # Errors
/// Catalog errors.
pub fn extents_from(conn: &Conn, image_id: i64, from: u64, limit: usize) -> Result<Vec<ExtentRow>> {
    // LEFT JOIN: an extent whose chunk row is missing (damage) fails as
    // Error::Corrupt (a NULL chunk id), never reads as a hole of zeros.
    // The extent holding `from` starts at or before it: one seek back
    // finds its start, so the range below skips no rows (a bound of
    // `from - MAX_CHUNK` walked up to 64 format 2 extents per random read).
    let floor: Option<i64> = conn
        .prepare_cached(
            "SELECT img_off FROM extents WHERE image_id = ?1 AND img_off <= ?2 ORDER BY img_off DESC LIMIT 1",
        )?
        .query_row(params![image_id, i(from)], |r| r.get(0))
        .optional()?;
    // The limit is written into the statement, not bound: SQLite plans a
    // LIMIT by its value and re-prepares a cached statement whose bound
    // LIMIT changed, which cost a random reader a fifth of its CPU. Each
    // limit a reader uses (a few powers of 4) gets its own statement.
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = conn.prepare_cached(&format!(
        "SELECT e.img_off, e.len, e.chunk_off, c.id, c.segment_id, c.seg_off, c.len, c.crcs,
                c.raw_len, c.codec, c.fp
         FROM extents e LEFT JOIN chunks c ON c.id = e.chunk_id
         WHERE e.image_id = ?1 AND e.img_off >= ?2 AND e.img_off + e.len > ?3
         ORDER BY e.img_off LIMIT {limit}"
    ))?;
    let rows = st
        .query_map(params![image_id, floor.unwrap_or(0), i(from)], |r| {
            Ok(ExtentRow {
                img_off: u(r.get(0)?),
                len: u(r.get(1)?),
                chunk_off: u(r.get(2)?),
                chunk: ChunkRef {
                    id: r.get(3)?,
                    segment: r.get(4)?,
                    seg_off: u(r.get(5)?),
                    len: u(r.get(6)?),
                    crcs: r
                        .value(7)?
                        .as_blob()
                        .and_then(|b| BlockCrcs::from_blob(b, u(r.get(6).unwrap_or(0))))
                        .unwrap_or_else(BlockCrcs::unmatchable),
                    raw_len: u(r.get::<_, Option<i64>>(8)?.unwrap_or(0)),
                    codec: r.get::<_, Option<i64>>(9)?.unwrap_or(-1),
                    fp: r.value(10)?.as_blob().map(|b| b.try_into().unwrap_or([0; 32])),
                },
            })
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Up to `limit` extents of an image that start at or after `from`, in
/// image order, as (img_off, len, chunk id): what a reader looking ahead
/// needs to know which chunks it will read again (no join, no chunk row).
///
/// # Errors
/// SQL errors.
pub fn extent_chunks_from(
    conn: &Conn,
    image_id: i64,
    from: u64,
    limit: usize,
) -> Result<Vec<(u64, u64, i64)>> {
    // The limit is written into the statement, as in extents_from.
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = conn.prepare_cached(&format!(
        "SELECT img_off, len, chunk_id FROM extents WHERE image_id = ?1 AND img_off >= ?2
         ORDER BY img_off LIMIT {limit}"
    ))?;
    let rows = st
        .query_map(params![image_id, i(from)], |r| {
            Ok((u(r.get(0)?), u(r.get(1)?), r.get(2)?))
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Number of extents of an image.
///
/// # Errors
/// Catalog errors.
pub fn extent_count(conn: &Conn, image_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM extents WHERE image_id = ?1")?
        .query_row([image_id], |r| r.get(0))?;
    Ok(u(n))
}

/// Free ranges still waiting to be punched.
///
/// # Errors
/// Catalog errors.
pub fn pending_free_ranges(conn: &Conn) -> Result<Vec<FreeRange>> {
    queued_free_ranges(conn, true)
}

/// Queued free ranges; without `deferred_too`, only those of LSUs whose
/// reclaim policy is immediate (what recovery punches on every open).
///
/// # Errors
/// Catalog errors.
pub fn queued_free_ranges(conn: &Conn, deferred_too: bool) -> Result<Vec<FreeRange>> {
    let mut st = conn.prepare(
        "SELECT f.id, f.segment_id, f.seg_off, f.len FROM free_ranges f WHERE ?1
           OR NOT EXISTS (SELECT 1 FROM lsus l WHERE l.id = f.lsu_id AND l.reclaim = 'deferred')
         ORDER BY f.id",
    )?;
    let rows = st
        .query_map([deferred_too], |r| {
            Ok(FreeRange {
                id: r.get(0)?,
                segment: r.get(1)?,
                seg_off: u(r.get(2)?),
                len: u(r.get(3)?),
            })
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Forgets punched free ranges. A row goes only if it still names the
/// range that was punched: free range ids are rowids, which SQLite reuses
/// once the highest is deleted, so after another process forgot the same
/// range, a range queued since may carry its id (it would be forgotten
/// without being punched, and its space lost).
///
/// # Errors
/// Catalog errors.
pub fn forget_free_ranges(tx: &Tx<'_>, ranges: &[FreeRange]) -> Result<()> {
    if tx.dialect() == Dialect::Postgres {
        // one statement (a round trip) for them all
        for group in ranges.chunks(ARRAY_ROWS) {
            let col = |f: fn(&FreeRange) -> i64| group.iter().map(f).collect::<Vec<i64>>();
            let (ids, segs) = (col(|r| r.id), col(|r| r.segment));
            let (offs, lens) = (col(|r| i(r.seg_off)), col(|r| i(r.len)));
            tx.prepare_cached(
                "DELETE FROM free_ranges f
                  USING unnest(?1::bigint[], ?2::bigint[], ?3::bigint[], ?4::bigint[]) AS d(id, seg, off, len)
                  WHERE f.id = d.id AND f.segment_id = d.seg AND f.seg_off = d.off AND f.len = d.len",
            )?
            .execute([
                ValRef::Ints(&ids),
                ValRef::Ints(&segs),
                ValRef::Ints(&offs),
                ValRef::Ints(&lens),
            ])?;
        }
        return Ok(());
    }
    let mut st = tx.prepare_cached(
        "DELETE FROM free_ranges WHERE id = ?1 AND segment_id = ?2 AND seg_off = ?3 AND len = ?4",
    )?;
    for r in ranges {
        st.execute(params![r.id, r.segment, i(r.seg_off), i(r.len)])?;
    }
    Ok(())
}

// ------------------------------------------------------------ segments

/// Registers a new segment owned by `owner`.
///
/// # Errors
/// Catalog errors.
pub fn new_segment(tx: &Tx<'_>, owner: &str, header_len: u64, now_ms: u64) -> Result<i64> {
    Ok(tx.query_row(
        "INSERT INTO segments (owner, committed_end, created_ms) VALUES (?1, ?2, ?3) RETURNING id",
        params![owner, i(header_len), i(now_ms)],
        |r| r.get(0),
    )?)
}

/// Takes ownership of an unowned, unsealed segment with room below
/// `below_end`; returns its id and committed end.
///
/// # Errors
/// Catalog errors.
pub fn claim_segment(tx: &Tx<'_>, owner: &str, below_end: u64) -> Result<Option<(i64, u64)>> {
    Ok(tx
        .query_row(
            "UPDATE segments SET owner = ?1 WHERE id = (SELECT id FROM segments WHERE owner IS NULL AND sealed = 0
               AND committed_end < ?2 ORDER BY id LIMIT 1) RETURNING id, committed_end",
            params![owner, i(below_end)],
            |r| Ok((r.get(0)?, u(r.get(1)?))),
        )
        .optional()?)
}

/// A new epoch for a writer taking segment `id` over (adopting it, or
/// cutting a dead writer's tail): one above the last, in the transaction
/// that takes it, so that no two writers of a segment ever share one,
/// however many hosts claim segments. A pool's store fences off what
/// writers of older epochs upload later (store::s3, docs/format.md).
///
/// # Errors
/// `Corrupt` past `u32::MAX` epochs; catalog errors.
pub fn next_writer_epoch(tx: &Tx<'_>, id: i64) -> Result<u32> {
    let e: i64 = tx.query_row(
        "UPDATE segments SET epoch = epoch + 1 WHERE id = ?1 RETURNING epoch",
        [id],
        |r| r.get(0),
    )?;
    u32::try_from(e).map_err(|_| Error::Corrupt(format!("segment {id}: epoch {e} out of range")))
}

/// Raises a segment's committed end (never lowers it) and may seal it.
///
/// # Errors
/// Catalog errors.
pub fn advance_segment(tx: &Tx<'_>, id: i64, end: u64, sealed: bool) -> Result<()> {
    tx.prepare_cached(
        "UPDATE segments SET committed_end = CASE WHEN committed_end > ?2 THEN committed_end ELSE ?2 END,
           sealed = CASE WHEN sealed > ?3 THEN sealed ELSE ?3 END WHERE id = ?1",
    )?
    .execute(params![id, i(end), sealed])?;
    Ok(())
}

/// Gives up ownership of segments (the owner closed or died).
///
/// # Errors
/// Catalog errors.
pub fn release_segments(tx: &Tx<'_>, owner: &str) -> Result<()> {
    tx.execute("UPDATE segments SET owner = NULL WHERE owner = ?1", [owner])?;
    Ok(())
}

/// Releases one segment.
///
/// # Errors
/// Catalog errors.
pub fn release_segment(tx: &Tx<'_>, id: i64) -> Result<()> {
    tx.execute("UPDATE segments SET owner = NULL WHERE id = ?1", [id])?;
    Ok(())
}

/// Segments owned by `owner`, with their committed ends.
///
/// # Errors
/// Catalog errors.
pub fn owned_segments(conn: &Conn, owner: &str) -> Result<Vec<(i64, u64)>> {
    let mut st = conn.prepare("SELECT id, committed_end FROM segments WHERE owner = ?1")?;
    let rows = st
        .query_map([owner], |r| Ok((r.get(0)?, u(r.get(1)?))))?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Distinct owner tokens named by images or segments.
///
/// # Errors
/// Catalog errors.
pub fn owner_tokens(conn: &Conn) -> Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT writer FROM images WHERE writer IS NOT NULL UNION SELECT owner FROM segments WHERE owner IS NOT NULL
         UNION SELECT owner FROM ops WHERE state = 0",
    )?;
    let rows = st
        .query_map([], |r| r.get(0))?
        .collect::<SqlResult<Vec<String>>>()?;
    Ok(rows)
}

// ------------------------------------------------------------ metadata

/// Reads metadata bytes at `off` into `buf`; returns (bytes read, total size).
///
/// # Errors
/// Catalog errors.
pub fn read_meta(conn: &Conn, image_id: i64, off: u64, buf: &mut [u8]) -> Result<(usize, u64)> {
    // substr() of a zero-length blob is NULL (metadata written with 0 bytes).
    // Its arguments are 32-bit in PostgreSQL: metadata is at most 8 MiB,
    // so an offset past 2^31 reads nothing either way, and no read needs
    // more than 16 MiB.
    let (off, len) = (off.min(i32::MAX as u64 - 1), (buf.len() as u64).min(16 << 20));
    let row: Option<(i64, Option<Vec<u8>>)> = conn
        .prepare_cached("SELECT length(data), substr(data, ?2 + 1, ?3) FROM image_meta WHERE image_id = ?1")?
        .query_row(params![image_id, i(off), i(len)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((size, bytes)) = row else {
        return Ok((0, 0));
    };
    let bytes = bytes.unwrap_or_default();
    let n = bytes.len().min(buf.len());
    buf[..n].copy_from_slice(&bytes[..n]);
    Ok((n, u(size)))
}

/// Writes metadata bytes at `off`, growing (zero-filled) as needed.
///
/// # Errors
/// Catalog errors.
pub fn write_meta(tx: &Tx<'_>, image_id: i64, off: u64, data: &[u8]) -> Result<()> {
    let mut blob: Vec<u8> = tx
        .query_row(
            "SELECT data FROM image_meta WHERE image_id = ?1",
            [image_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_default();
    let off = usize::try_from(off).map_err(|_| Error::TooBig("metadata offset".into()))?;
    let end = off + data.len();
    if blob.len() < end {
        blob.resize(end, 0);
    }
    blob[off..end].copy_from_slice(data);
    tx.execute(
        "INSERT INTO image_meta (image_id, data) VALUES (?1, ?2)
         ON CONFLICT (image_id) DO UPDATE SET data = excluded.data",
        params![image_id, blob],
    )?;
    Ok(())
}

/// For each segment an image's chunks live in, the end its bytes need.
///
/// # Errors
/// Catalog errors.
pub fn segment_needs(conn: &Conn, image_id: i64) -> Result<Vec<(i64, u64)>> {
    let mut st = conn.prepare(
        "SELECT c.segment_id, max(c.seg_off + c.len) FROM extents e JOIN chunks c ON c.id = e.chunk_id
         WHERE e.image_id = ?1 GROUP BY c.segment_id",
    )?;
    let rows = st
        .query_map([image_id], |r| Ok((r.get(0)?, u(r.get(1)?))))?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// The extents of an image covering `[from, from + len)`, clipped to that
/// range, in order. Gaps (never written) are simply absent.
///
/// # Errors
/// Catalog errors.
pub fn extents_in_range(conn: &Conn, image_id: i64, from: u64, len: u64) -> Result<Vec<NewExtent>> {
    let end = from + len;
    let mut st = conn.prepare_cached(
        "SELECT img_off, len, chunk_id, chunk_off FROM extents
         WHERE image_id = ?1 AND img_off > ?2 AND img_off < ?3 AND img_off + len > ?4 ORDER BY img_off",
    )?;
    let rows = st
        .query_map(params![image_id, i(from) - i(MAX_CHUNK), i(end), i(from)], |r| {
            Ok((u(r.get(0)?), u(r.get(1)?), r.get::<_, i64>(2)?, u(r.get(3)?)))
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .map(|(off, n, chunk_id, chunk_off)| {
            let a = off.max(from);
            let b = (off + n).min(end);
            NewExtent {
                img_off: a,
                len: b - a,
                chunk_id,
                chunk_off: chunk_off + (a - off),
            }
        })
        .collect())
}

/// Gives image `to` the whole extent map of image `from` (same offsets,
/// same chunks); returns the number of extents.
///
/// # Errors
/// Catalog errors.
pub fn copy_all_extents(tx: &Tx<'_>, from: i64, to: i64) -> Result<u64> {
    let n = tx.execute(
        "INSERT INTO extents (image_id, img_off, len, chunk_id, chunk_off)
         SELECT ?2, img_off, len, chunk_id, chunk_off FROM extents WHERE image_id = ?1",
        params![from, to],
    )?;
    Ok(n as u64)
}

/// Copies image metadata from one image to another (same catalog).
///
/// # Errors
/// Catalog errors.
pub fn copy_meta(tx: &Tx<'_>, from: i64, to: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO image_meta (image_id, data) SELECT CAST(?2 AS BIGINT), data FROM image_meta WHERE image_id = ?1
         ON CONFLICT (image_id) DO UPDATE SET data = excluded.data",
        params![from, to],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_takeover_of_a_segment_gets_a_new_epoch_even_after_a_rollback_of_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("c.db"), 0, "u").unwrap();
        let tx = write_txn(&mut conn).unwrap();
        let seg = new_segment(&tx, "a", 4096, 0).unwrap();
        release_segment(&tx, seg).unwrap();
        tx.commit().unwrap();
        let claim = |conn: &mut Conn, owner: &str, keep: bool| {
            let tx = write_txn(conn).unwrap();
            let (id, _) = claim_segment(&tx, owner, 1 << 30).unwrap().unwrap();
            let e = next_writer_epoch(&tx, id).unwrap();
            release_segment(&tx, id).unwrap();
            if keep {
                tx.commit().unwrap();
            }
            e
        };
        assert_eq!(claim(&mut conn, "b", true), 1);
        assert_eq!(claim(&mut conn, "c", true), 2);
        // a claim whose transaction rolled back keeps no epoch: the next
        // one may get the same number (a pool's store raises an epoch its
        // objects already carry: store::s3 adopt)
        assert_eq!(claim(&mut conn, "d", false), 3);
        assert_eq!(claim(&mut conn, "e", true), 3);
    }

    #[test]
    fn a_lazy_commit_leaves_the_connection_committing_durably() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("c.db"), 0, "u").unwrap();
        let sync = |c: &Conn| -> i64 { c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap() };
        assert_eq!(sync(&conn), 2, "FULL after open");
        let n = commit_lazily(&mut conn, |tx| {
            assert_eq!(sync(tx), 1, "NORMAL inside");
            tx.execute("INSERT INTO lsus (name, created_ms) VALUES ('a', 0)", [])?;
            Ok::<_, Error>(7)
        })
        .unwrap();
        assert_eq!((n, sync(&conn)), (7, 2));
        let e = commit_lazily(&mut conn, |tx| -> Result<()> {
            tx.execute("INSERT INTO lsus (name, created_ms) VALUES ('b', 0)", [])?;
            Err(Error::Invalid("refused".into()))
        })
        .unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e}");
        assert_eq!(sync(&conn), 2, "FULL again after a failed transaction");
        let names: Vec<String> = conn
            .prepare("SELECT name FROM lsus ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<SqlResult<_>>()
            .unwrap();
        assert_eq!(names, ["a", "default"], "the failed one rolled back");
    }

    fn default_lsu(tx: &Tx<'_>) -> i64 {
        tx.query_row("SELECT id FROM lsus LIMIT 1", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn chunks_and_extents_go_several_to_a_statement_and_read_back_as_one_at_a_time() {
        assert_eq!(batch_sizes(0), Vec::<usize>::new());
        assert_eq!(batch_sizes(1), [1]);
        assert_eq!(batch_sizes(100), [64, 32, 4]);
        assert_eq!(batch_sizes(200), [128, 64, 8]);
        assert_eq!(batch_sizes(600), [256, 256, 64, 16, 8]);
        let mut sizes = std::collections::BTreeSet::new();
        for n in 0..1000 {
            let b = batch_sizes(n);
            assert_eq!(b.iter().sum::<usize>(), n);
            sizes.extend(b);
        }
        assert!(sizes.len() <= 9, "statement texts: {sizes:?}");
        assert_eq!(values_list(2, 2), "(?1, ?2), (?3, ?4)");

        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("catalog.db"), 0, "u").unwrap();
        let tx = write_txn(&mut conn).unwrap();
        let (lsu, crcs) = (default_lsu(&tx), crate::store::checksum::BlockCrcs::of(b"x"));
        let fps: Vec<[u8; 32]> = (0..100u8).map(|k| [k; 32]).collect();
        let chunk = |k: usize| NewChunk {
            segment: 1,
            seg_off: 4096 + k as u64 * 10,
            len: 1,
            raw_len: 1,
            codec: 0,
            fp: Some(&fps[k % 100]),
            crcs: &crcs,
            lsu_id: lsu,
        };
        // chunk 0 is recorded already; 10 and 11 come twice (as 110, 111)
        let Inserted::New(first) = insert_chunk(&tx, &chunk(0)).unwrap() else {
            panic!("a new fingerprint was found")
        };
        let list: Vec<NewChunk<'_>> = (0..100).chain([110, 111]).map(chunk).collect();
        let got = insert_new_chunks(&tx, &list).unwrap();
        assert_eq!(got.len(), 99, "every new fingerprint once");
        assert!(!got.contains_key(&fps[0]));
        let place = |id: i64| -> i64 {
            tx.query_row("SELECT seg_off FROM chunks WHERE id = ?1", [id], |r| r.get(0))
                .unwrap()
        };
        for k in 1..100 {
            assert_eq!(
                place(got[&fps[k]]),
                4096 + k as i64 * 10,
                "chunk {k}: its row, the first copy's place"
            );
        }
        let rows: i64 = tx
            .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 100);
        // all of them found by one lookup of 101 fingerprints (on SQLite
        // in two statements, on PostgreSQL in one), the unknown one not
        let mut asked: Vec<[u8; 32]> = fps.clone();
        asked.push([0xee; 32]);
        let mut hits: Vec<(i64, bool)> = chunks_by_fps(&tx, &asked)
            .unwrap()
            .iter()
            .map(|h| (h.id, h.damaged || h.dead.is_some() || h.segment != 1))
            .collect();
        hits.sort_unstable();
        let mut want: Vec<(i64, bool)> = got
            .values()
            .map(|&id| (id, false))
            .chain([(first, false)])
            .collect();
        want.sort_unstable();
        assert_eq!(hits, want);
        assert!(chunks_by_fps(&tx, &[]).unwrap().is_empty());
        // the one recorded already is found one at a time, as before
        assert!(matches!(insert_chunk(&tx, &chunk(0)).unwrap(), Inserted::Existing(id) if id == first));
        let bad = NewChunk { fp: None, ..chunk(5) };
        assert!(matches!(
            insert_new_chunks(&tx, &[chunk(1), bad]),
            Err(Error::Invalid(_))
        ));

        // 130 extents of an image, in two statements on SQLite (128 + 2),
        // one on PostgreSQL
        let name = ImageName {
            basename: "batch".into(),
            date: "1".into(),
        };
        let image = insert_image(&tx, lsu, &name, "w", 0).unwrap();
        let extents: Vec<NewExtent> = (0..130u64)
            .map(|k| NewExtent {
                img_off: k * 100,
                len: 100,
                chunk_id: got[&fps[1 + k as usize % 99]],
                chunk_off: k % 3,
            })
            .collect();
        insert_extents(&tx, image, &extents).unwrap();
        insert_extents(&tx, image, &[]).unwrap();
        let back = extent_chunks_from(&tx, image, 0, 1000).unwrap();
        let want: Vec<(u64, u64, i64)> = extents.iter().map(|e| (e.img_off, e.len, e.chunk_id)).collect();
        assert_eq!(back, want);
        let offs: Vec<i64> = tx
            .prepare("SELECT chunk_off FROM extents WHERE image_id = ?1 ORDER BY img_off")
            .unwrap()
            .query_map([image], |r| r.get(0))
            .unwrap()
            .collect::<SqlResult<_>>()
            .unwrap();
        assert_eq!(
            offs,
            extents.iter().map(|e| e.chunk_off as i64).collect::<Vec<_>>()
        );
        // an extent at a start already recorded fails the statement
        assert!(insert_extents(&tx, image, &extents[5..7]).is_err());
    }

    #[test]
    fn recharging_a_chunk_nothing_refers_to_leaves_it_charged() {
        // the crash torture met this: a writer's chunk, recorded first by
        // another writer, overwritten by the same writer before its commit
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("catalog.db"), 0, "u").unwrap();
        let tx = write_txn(&mut conn).unwrap();
        let (lsu, crcs) = (default_lsu(&tx), crate::store::checksum::BlockCrcs::of(b"x"));
        let fp = [7u8; 32];
        let c = NewChunk {
            segment: 1,
            seg_off: 4096,
            len: 1,
            raw_len: 1,
            codec: 0,
            fp: Some(&fp),
            crcs: &crcs,
            lsu_id: lsu,
        };
        let Inserted::New(id) = insert_chunk(&tx, &c).unwrap() else {
            panic!("a new fingerprint was found")
        };
        recharge(&tx, id).unwrap();
        let charged: i64 = tx
            .query_row("SELECT lsu_id FROM chunks WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(charged, lsu);
    }

    /// The space around places no row records, as queued: from the end
    /// of the chunk before to the start of the chunk after (or the
    /// committed end), whole blocks only, a place a row names skipped,
    /// the same gap twice queued once. The same on both catalogs (on
    /// PostgreSQL the neighbours of all places come from one statement).
    #[test]
    fn unrecorded_places_queue_the_whole_blocks_between_their_recorded_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("catalog.db"), 0, "u").unwrap();
        let tx = write_txn(&mut conn).unwrap();
        let (lsu, crcs) = (default_lsu(&tx), crate::store::checksum::BlockCrcs::of(b"x"));
        let h = HEADER_LEN;
        let (seg, empty) = (
            new_segment(&tx, "w", h, 0).unwrap(),
            new_segment(&tx, "w", h, 0).unwrap(),
        );
        advance_segment(&tx, seg, h + 60_000, false).unwrap();
        advance_segment(&tx, empty, h + 10_000, false).unwrap();
        // chunks at [h, h+5000), [h+20000, h+28000), [h+28000, h+38000);
        // none at h+5000 (a duplicate stored there, another row won)
        let fps: Vec<[u8; 32]> = (1..=3u8).map(|k| [k; 32]).collect();
        for (k, (off, len)) in [(0u64, 5000u64), (20_000, 8000), (28_000, 10_000)]
            .into_iter()
            .enumerate()
        {
            let c = NewChunk {
                segment: seg,
                seg_off: h + off,
                len,
                raw_len: len,
                codec: 0,
                fp: Some(&fps[k]),
                crcs: &crcs,
                lsu_id: lsu,
            };
            assert!(matches!(insert_chunk(&tx, &c).unwrap(), Inserted::New(_)));
        }
        let places = vec![
            (seg, h + 5000, lsu),
            (seg, h + 20_000, lsu), // named by a row: not free
            (seg, h + 38_000, lsu),
            (seg, h + 5000, lsu), // the same gap again
            (empty, h + 100, lsu),
        ];
        let got: Vec<(i64, u64, u64)> = free_unrecorded(&tx, places)
            .unwrap()
            .iter()
            .map(|r| (r.segment, r.seg_off, r.len))
            .collect();
        let block = |a: u64, b: u64| {
            (
                crate::store::align_up(a),
                b / 4096 * 4096 - crate::store::align_up(a),
            )
        };
        let (a1, l1) = block(h + 5000, h + 20_000);
        let (a2, l2) = block(h + 38_000, h + 60_000);
        let (a3, l3) = block(h, h + 10_000);
        assert!(l1 > 0 && l2 > 0 && l3 > 0);
        assert_eq!(got, [(seg, a1, l1), (seg, a2, l2), (empty, a3, l3)]);
        let mut queued: Vec<(i64, u64, u64)> = queued_free_ranges(&tx, true)
            .unwrap()
            .iter()
            .map(|r| (r.segment, r.seg_off, r.len))
            .collect();
        queued.sort_unstable();
        assert_eq!(queued, got);
        assert!(free_unrecorded(&tx, Vec::new()).unwrap().is_empty());

        // 120 gaps of their own, more than one statement's worth on
        // PostgreSQL (ARRAY_ROWS is 50 in tests): chunk k of 4096 bytes at
        // h + k * 16384, its place's gap the 3 blocks after it
        let many = new_segment(&tx, "w", h, 0).unwrap();
        advance_segment(&tx, many, h + 120 * 16384, false).unwrap();
        let fps: Vec<[u8; 32]> = (0..120u32)
            .map(|k| {
                let mut f = [0xa5; 32];
                f[..4].copy_from_slice(&k.to_le_bytes());
                f
            })
            .collect();
        for (k, fp) in fps.iter().enumerate() {
            let c = NewChunk {
                segment: many,
                seg_off: h + k as u64 * 16384,
                len: 4096,
                raw_len: 4096,
                codec: 0,
                fp: Some(fp),
                crcs: &crcs,
                lsu_id: lsu,
            };
            insert_chunk(&tx, &c).unwrap();
        }
        let places: Vec<(i64, u64, i64)> = (0..120u64).map(|k| (many, h + k * 16384 + 4096, lsu)).collect();
        let ranges = free_unrecorded(&tx, places).unwrap();
        let got: Vec<(u64, u64)> = ranges.iter().map(|r| (r.seg_off, r.len)).collect();
        let want: Vec<(u64, u64)> = (0..120u64).map(|k| (h + k * 16384 + 4096, 12288)).collect();
        assert_eq!(got, want);
        let queued: HashMap<i64, (i64, u64, u64)> = queued_free_ranges(&tx, true)
            .unwrap()
            .iter()
            .map(|r| (r.id, (r.segment, r.seg_off, r.len)))
            .collect();
        for r in &ranges {
            assert_eq!(
                queued.get(&r.id),
                Some(&(many, r.seg_off, r.len)),
                "range {} by its id",
                r.id
            );
        }
        forget_free_ranges(&tx, &ranges).unwrap();
        assert_eq!(
            queued_free_ranges(&tx, true).unwrap().len(),
            3,
            "only the first part's remain"
        );
    }

    #[test]
    fn forgetting_a_punched_range_spares_a_new_range_that_reuses_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("catalog.db"), 0, "u").unwrap();
        let tx = write_txn(&mut conn).unwrap();
        // range 1 was punched and forgotten by another process; its id now
        // names a range queued since
        tx.execute(
            "INSERT INTO free_ranges (id, segment_id, seg_off, len) VALUES (1, 2, 8192, 100)",
            [],
        )
        .unwrap();
        let stale = FreeRange {
            id: 1,
            segment: 2,
            seg_off: 4096,
            len: 100,
        };
        forget_free_ranges(&tx, &[stale]).unwrap();
        assert_eq!(
            queued_free_ranges(&tx, true).unwrap().len(),
            1,
            "the new range was forgotten"
        );
        let punched = FreeRange {
            seg_off: 8192,
            ..stale
        };
        forget_free_ranges(&tx, &[punched]).unwrap();
        assert!(queued_free_ranges(&tx, true).unwrap().is_empty());
    }

    #[test]
    fn a_listing_page_seeks_to_its_start_instead_of_scanning_from_the_first_name() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("catalog.db"), 0, "u").unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {LIST_AFTER}"))
            .unwrap()
            .query_map(params![1, "b", "d", 10], |r| r.get(3))
            .unwrap()
            .collect::<SqlResult<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("lsu_id=? AND (basename,date)>(?,?)")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
    }
}
