//! Checking a server without changing it: `check` compares the catalog
//! with itself and with the segment files (no image bytes read); `verify`
//! re-reads every stored byte in scope, checks each chunk's checksum and
//! each complete image's SHA-1, and names every damaged image.
//!
//! Both collect every finding instead of stopping at the first, so one run
//! tells an administrator everything that is wrong.

use std::collections::HashSet;
use std::sync::Arc;

use sha1::{Digest, Sha1};

use super::error::{Error, Result};
use super::image::ImageReader;
use super::names::ImageName;
use super::shared::Shared;
use super::{images, lsus};
use crate::catalog::{self, ImageState, MAX_CHUNK, audit};
use crate::log_error;
use crate::logging::Level;
use crate::store::segment::HEADER_LEN;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// A fact worth showing (sizes, counts).
    Info,
    /// Not wrong data, but something to act on (recovery pending).
    Warning,
    /// The catalog and the stored bytes disagree.
    Error,
}

/// One finding of [`Server::check`](super::Server::check).
#[derive(Clone, Debug)]
pub struct Finding {
    pub severity: Severity,
    pub check: String,
    pub detail: String,
}

/// What [`Server::check`](super::Server::check) found.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Number of error-level findings.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    fn add(&mut self, severity: Severity, check: &str, detail: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            check: check.to_owned(),
            detail: detail.into(),
        });
    }
}

/// An image [`Server::verify`](super::Server::verify) found damaged.
#[derive(Clone, Debug)]
pub struct Damaged {
    pub lsu: String,
    pub name: ImageName,
    pub reason: String,
}

/// What [`Server::verify`](super::Server::verify) read and found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub images: u64,
    pub bytes: u64,
    pub damaged: Vec<Damaged>,
    /// What SQLite's integrity check found wrong with the catalog (empty
    /// when sound).
    pub catalog: Vec<String>,
}

impl VerifyReport {
    /// Whether everything in scope, catalog included, is sound.
    pub fn sound(&self) -> bool {
        self.damaged.is_empty() && self.catalog.is_empty()
    }
}

/// Space the segment files take, beside what the catalog accounts for
/// ([`Server::space`](super::Server::space)). With every writer dead and recovery run, `tails`
/// is 0 and `headers + accounted <= allocated <= headers + accounted +
/// queued` plus filesystem metadata (docs/reliability.md, "Crash torture").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Space {
    /// Segment files present.
    pub files: u64,
    /// Bytes the filesystem allocates to them (`st_blocks` * 512).
    pub allocated: u64,
    /// Their headers ([`HEADER_LEN`] each).
    pub headers: u64,
    /// Stored chunk bytes (format 1 chunks rounded up to 4096): the bytes
    /// the catalog accounts for.
    pub accounted: u64,
    /// Bytes of the 4096-byte blocks holding a byte of some chunk: at
    /// least `accounted`; the rest is the ends of packed chunks sharing a
    /// block with freed space, which hole punching cannot free.
    pub occupied: u64,
    /// Number of chunks.
    pub chunks: u64,
    /// Freed ranges queued and not yet punched, rounded up to 4096.
    pub queued: u64,
    /// Bytes of segment files past their committed end (a live writer's
    /// uncommitted bytes, or a dead one's tail that recovery cuts).
    pub tails: u64,
}

/// What deduplication and compression made of an LSU's data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reduction {
    /// Bytes of its images (`lsu_used`).
    pub logical: u64,
    /// Bytes of the chunks charged to it, each once (after deduplication,
    /// before compression).
    pub deduplicated: u64,
    /// Their stored bytes (`lsu_used_phys`).
    pub stored: u64,
}

/// [`Reduction`] of every LSU, by name, internal LSUs included. Reads
/// every chunk row once.
pub(crate) fn reduction(sh: &Shared) -> Result<Vec<(String, Reduction)>> {
    let conn = sh.catalog.lock();
    let by_id = audit::reduction_by_lsu(&conn)?;
    let mut out = Vec::new();
    for row in catalog::lsus(&conn)? {
        let (raw, stored) = by_id
            .iter()
            .find(|(id, ..)| *id == row.id)
            .map_or((0, 0), |&(_, r, s)| (r, s));
        out.push((
            row.name,
            Reduction {
                logical: row.used,
                deduplicated: raw,
                stored,
            },
        ));
    }
    Ok(out)
}

/// Consistency of the catalog with itself and with the segment files:
/// every extent names an existing chunk range, every chunk is referred
/// to and lies inside its segment's committed bytes, nothing overlaps,
/// LSU statistics equal the rows, segment files exist with valid
/// headers and hold every chunk. Reads no image bytes; changes nothing.
pub(crate) fn check(sh: &Shared) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let conn = sh.catalog.lock();
    let integrity = audit::integrity(&conn)?;
    if integrity != ["ok"] {
        report.add(Severity::Error, "SQLite integrity check", integrity.join("; "));
    }
    for (check, examples) in audit::structural(&conn)? {
        for e in examples {
            report.add(Severity::Error, check, e);
        }
    }
    for e in audit::misplaced_charges(&conn)? {
        report.add(
            Severity::Warning,
            "chunk charged to an LSU that no longer refers to it",
            e,
        );
    }
    let queued = audit::queued_free_ranges(&conn)?;
    if queued > 0 {
        report.add(
            Severity::Warning,
            "freed ranges not yet punched",
            format!("{queued} (recovery punches them)"),
        );
    }
    for token in catalog::owner_tokens(&conn)? {
        if token != sh.owner.token() && !sh.owner.is_alive(&token).map_err(|e| Error::io("lock", e))? {
            report.add(
                Severity::Warning,
                "writer gone, recovery pending",
                format!("owner {token}"),
            );
        }
    }
    let segments = audit::segments(&conn)?;
    drop(conn);

    let mut known = HashSet::new();
    for (id, committed_end, needed) in segments {
        known.insert(id);
        let stat = match sh.store.stat(id) {
            Ok(Some(s)) => s,
            Ok(None) if needed == 0 && committed_end <= HEADER_LEN => continue,
            Ok(None) => {
                report.add(
                    Severity::Error,
                    "segment file missing",
                    format!("segment {id}: not found"),
                );
                continue;
            }
            Err(e) => {
                report.add(
                    Severity::Error,
                    "segment file missing",
                    format!("segment {id}: {e}"),
                );
                continue;
            }
        };
        if let Err(e) = sh.store.check_header(id) {
            report.add(Severity::Error, "segment header", e.to_string());
        }
        if stat.len < needed {
            report.add(
                Severity::Error,
                "segment file shorter than its chunks",
                format!("segment {id}: {} bytes, chunks need {needed}", stat.len),
            );
        }
    }
    for name in sh.store.strays(&known) {
        report.add(
            Severity::Warning,
            "file in segments/ the catalog does not know",
            name,
        );
    }
    for f in report.findings.iter().filter(|f| f.severity == Severity::Error) {
        log_error!(sh.log, "check: {}: {}", f.check, f.detail);
    }
    let space = space(sh)?;
    report.add(
        Severity::Info,
        "physical usage",
        format!(
            "segment files allocate {} bytes; the catalog accounts for {} in chunks",
            space.allocated, space.accounted
        ),
    );
    Ok(report)
}

/// Space taken by the segment files against the catalog's accounting
/// (see [`Space`]). Reads no image bytes; changes nothing.
pub(crate) fn space(sh: &Shared) -> Result<Space> {
    let (segments, accounted, occupied, (chunks, queued)) = {
        let conn = sh.catalog.lock();
        (
            audit::segments(&conn)?,
            audit::accounted_bytes(&conn)?,
            audit::occupied_blocks(&conn)?,
            audit::chunks_and_queued_bytes(&conn)?,
        )
    };
    let mut space = Space {
        accounted,
        occupied,
        chunks,
        queued,
        ..Space::default()
    };
    for (id, committed_end, _) in segments {
        let stat = match sh.store.stat(id) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => return Err(Error::io(format!("segment {id}"), e)),
        };
        space.files += 1;
        space.allocated += stat.allocated;
        space.headers += HEADER_LEN;
        space.tails += stat.len.saturating_sub(committed_end.max(HEADER_LEN));
    }
    Ok(space)
}

/// Re-reads every stored byte of the images in scope (one LSU, one
/// image, in `lsu` or in every LSU that holds it, or all), checking
/// each chunk's checksum and each complete image's SHA-1; `progress`
/// is told the bytes read so far. Changes no data; flags damaged chunks
/// (catalog::mark_damaged) so new backups store them anew. The catalog also
/// gets SQLite's integrity check: damage there is reported
/// ([`VerifyReport::catalog`]) even when every image still reads back,
/// since the server may no longer open.
pub(crate) fn verify(
    sh: &Arc<Shared>,
    lsu: Option<&str>,
    image: Option<&ImageName>,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    // A check that cannot even run is a finding too (SQLite refuses
    // some damaged pages outright); the images are verified anyway.
    let integrity = audit::integrity(&sh.catalog.lock()).unwrap_or_else(|e| vec![e.to_string()]);
    if integrity != ["ok"] {
        log_error!(
            sh.log,
            "verify: the catalog fails SQLite's integrity check: {}",
            integrity.join("; ")
        );
        report.catalog = integrity;
    }
    let lsus = match lsu {
        Some(l) => vec![l.to_owned()],
        None => lsus::all_names(sh)?,
    };
    let (mut found, any_lsu) = (false, lsu.is_none());
    for lsu in &lsus {
        let names = match image {
            // Without an LSU, the image is verified wherever it is: an
            // LSU without it (the archive's, for one) is skipped.
            Some(n) => match images::info(sh, lsu, n) {
                Ok(_) => vec![n.clone()],
                Err(Error::NoImage(_)) if any_lsu => continue,
                Err(e) => return Err(e),
            },
            None => all_image_names(sh, lsu)?,
        };
        found = true;
        for name in names {
            if let Err(reason) = verify_one(sh, lsu, &name, &mut report, progress) {
                log_error!(sh.log, "verify: image {lsu}/{name} is damaged: {reason}");
                report.damaged.push(Damaged {
                    lsu: lsu.clone(),
                    name,
                    reason,
                });
            }
        }
    }
    if let (false, Some(n)) = (found, image) {
        return Err(Error::NoImage(n.to_string()));
    }
    let level = if report.damaged.is_empty() {
        Level::Info
    } else {
        Level::Error
    };
    crate::log_at!(
        sh.log,
        level,
        "verify: {} images, {} bytes read, {} damaged",
        report.images,
        report.bytes,
        report.damaged.len()
    );
    Ok(report)
}

fn all_image_names(sh: &Shared, lsu: &str) -> Result<Vec<ImageName>> {
    let mut names = Vec::new();
    loop {
        let page = images::list(sh, lsu, names.last(), 1000)?;
        let done = page.len() < 1000;
        names.extend(page);
        if done {
            return Ok(names);
        }
    }
}

/// Failed reads after which verify stops reading an image (each is
/// logged; a removed segment fails every read of its images): 16 MiB of
/// damaged chunks read in [`cdc::MIN`](crate::chunking::cdc::MIN) parts.
const MAX_FAILURES_READ: usize = 4096;

/// Reads one image; `Err` carries why it is damaged (the first failure).
fn verify_one(
    sh: &Arc<Shared>,
    lsu: &str,
    name: &ImageName,
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(u64),
) -> std::result::Result<(), String> {
    let row = {
        let conn = sh.catalog.lock();
        let found = catalog::lsu(&conn, lsu)
            .and_then(|l| catalog::image_by_name(&conn, l.id, name))
            .map_err(|e| e.to_string())?;
        let Some(row) = found else { return Ok(()) }; // deleted meanwhile
        row
    };
    report.images += 1;
    let mut reader = ImageReader::new(Arc::clone(sh), row.id, row.size).reading_the_store();
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; MAX_CHUNK as usize];
    let mut off = 0;
    // The first failure is the reason given; reading goes on past it (up
    // to a bound) so that every damaged chunk of the image is seen, and
    // flagged so that new backups store it anew (catalog::mark_damaged).
    let (mut first_failure, mut failures) = (None, 0);
    while off < row.size {
        let want = ((row.size - off).min(MAX_CHUNK) as usize).next_multiple_of(512);
        let n = match reader.read(off, &mut buf[..want]) {
            Ok(n) => n,
            Err(Error::NoImage(_)) => return Ok(()), // deleted while verifying
            Err(e) => {
                failures += 1;
                first_failure.get_or_insert_with(|| format!("at offset {off}: {e}"));
                // A read stops at its first damaged chunk: the piece is
                // read again in parts of the smallest chunk, so that every
                // chunk after it is read (and flagged if damaged: a chunk
                // left unflagged would be deduplicated against by the next
                // backup of its bytes instead of stored anew).
                let piece = want.min((row.size - off) as usize);
                let mut at = 0;
                while at < piece && failures < MAX_FAILURES_READ {
                    let part = (piece - at).min(crate::chunking::cdc::MIN).next_multiple_of(512);
                    match reader.read(off + at as u64, &mut buf[..part]) {
                        Err(Error::NoImage(_)) => return Ok(()),
                        Err(_) => failures += 1,
                        Ok(_) => {}
                    }
                    at += part;
                }
                if failures >= MAX_FAILURES_READ {
                    break;
                }
                piece
            }
        };
        if first_failure.is_none() {
            hasher.update(&buf[..n]);
        }
        off += n as u64;
        report.bytes += n as u64;
        progress(report.bytes);
    }
    if let Some(why) = first_failure {
        return Err(why);
    }
    if row.state == ImageState::Complete {
        let sha1 = crate::store::hex(&hasher.finalize());
        if sha1 != row.sha1 {
            return Err(format!("SHA-1 {sha1} differs from the recorded {}", row.sha1));
        }
    }
    Ok(())
}
