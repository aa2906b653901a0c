//! Read-only queries that check the catalog against itself: the SQL half
//! of `engine::audit`. Each returns at most `LIMIT` examples of a problem.

use super::backend::{Dialect, SqlResult};
use super::conn::params;

use super::{Conn, Result};
use crate::store::segment::HEADER_LEN;

const LIMIT: i64 = 50;

/// SQLite's own integrity check; `["ok"]` when sound. A PostgreSQL
/// catalog answers `["ok"]`: its server checks its pages itself (data
/// checksums) and reports damage as errors of the statements that meet it.
///
/// # Errors
/// Catalog errors.
pub fn integrity(conn: &Conn) -> Result<Vec<String>> {
    if conn.dialect() == Dialect::Postgres {
        return Ok(vec!["ok".to_owned()]);
    }
    let mut st = conn.prepare("PRAGMA integrity_check")?;
    Ok(st
        .query_map([], |r| r.get(0))?
        .collect::<SqlResult<Vec<String>>>()?)
}

fn strings(conn: &Conn, sql: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare(sql)?;
    Ok(st
        .query_map(params![LIMIT], |r| r.get(0))?
        .collect::<SqlResult<Vec<String>>>()?)
}

/// Each named check with the examples of what it found; empty = passed.
/// Severity is the caller's: all of these are errors except where noted.
///
/// # Errors
/// Catalog errors.
pub fn structural(conn: &Conn) -> Result<Vec<(&'static str, Vec<String>)>> {
    let checks: [(&str, &str); 11] = [
        (
            "extent names a missing chunk",
            "SELECT 'image #' || e.image_id || ' at ' || e.img_off FROM extents e
             LEFT JOIN chunks c ON c.id = e.chunk_id WHERE c.id IS NULL LIMIT ?1",
        ),
        (
            "extent reaches past its chunk",
            "SELECT 'image #' || e.image_id || ' at ' || e.img_off FROM extents e JOIN chunks c ON c.id = e.chunk_id
             WHERE e.len <= 0 OR e.chunk_off < 0 OR e.chunk_off + e.len > c.raw_len LIMIT ?1",
        ),
        (
            "extent of a missing image",
            "SELECT DISTINCT 'image #' || image_id FROM extents WHERE image_id NOT IN (SELECT id FROM images) LIMIT ?1",
        ),
        (
            "extents of one image overlap",
            "SELECT 'image #' || image_id || ' at ' || img_off FROM (SELECT image_id, img_off,
               lag(img_off + len) OVER (PARTITION BY image_id ORDER BY img_off) AS prev_end FROM extents) AS x
             WHERE prev_end > img_off LIMIT ?1",
        ),
        (
            "image smaller than its extents",
            "SELECT 'image #' || i.id || ' size ' || i.size || ' < ' || x.m FROM images i
             JOIN (SELECT image_id, max(img_off + len) AS m FROM extents GROUP BY image_id) x ON x.image_id = i.id
             WHERE x.m > i.size LIMIT ?1",
        ),
        (
            "chunk no extent refers to (leaked space)",
            "SELECT 'chunk #' || c.id || ' in segment ' || c.segment_id FROM chunks c
             WHERE c.dead IS NULL AND NOT EXISTS (SELECT 1 FROM extents e WHERE e.chunk_id = c.id) LIMIT ?1",
        ),
        (
            "chunk outside its segment's committed bytes",
            "SELECT 'chunk #' || c.id FROM chunks c LEFT JOIN segments s ON s.id = c.segment_id
             WHERE s.id IS NULL OR c.seg_off < 4096 OR (c.fp IS NULL AND c.seg_off % 4096 <> 0) OR c.len <= 0
                OR c.seg_off + c.len > s.committed_end LIMIT ?1",
        ),
        (
            "chunk row malformed (length, codec or fingerprint)",
            "SELECT 'chunk #' || id FROM chunks WHERE raw_len <= 0 OR codec NOT IN (0, 1)
                OR (fp IS NOT NULL AND length(fp) <> 32) OR (codec = 0 AND raw_len <> len) LIMIT ?1",
        ),
        (
            "chunks of one segment overlap",
            "SELECT 'segment ' || segment_id || ' at ' || seg_off FROM (SELECT segment_id, seg_off,
               lag(seg_off + len) OVER (PARTITION BY segment_id ORDER BY seg_off) AS prev_end FROM chunks) AS x
             WHERE prev_end > seg_off LIMIT ?1",
        ),
        (
            "LSU statistics differ from the rows",
            "SELECT l.name || ': used ' || l.used || ' vs ' || coalesce(i.s, 0) || ', images ' || l.images || ' vs '
                    || coalesce(i.n, 0) || ', used_phys ' || l.used_phys || ' vs ' || coalesce(c.p, 0)
             FROM lsus l
             LEFT JOIN (SELECT lsu_id, sum(size) AS s, count(*) AS n FROM images GROUP BY lsu_id) i ON i.lsu_id = l.id
             LEFT JOIN (SELECT lsu_id, sum(CASE WHEN fp IS NULL THEN (len + 4095) / 4096 * 4096 ELSE len END) AS p
                        FROM chunks GROUP BY lsu_id) c
                    ON c.lsu_id = l.id
             WHERE l.used <> coalesce(i.s, 0) OR l.images <> coalesce(i.n, 0) OR l.used_phys <> coalesce(c.p, 0)
             LIMIT ?1",
        ),
        (
            "image of a missing LSU",
            "SELECT 'image #' || id FROM images WHERE lsu_id NOT IN (SELECT id FROM lsus) LIMIT ?1",
        ),
    ];
    let mut out = Vec::with_capacity(checks.len());
    for (name, sql) in checks {
        out.push((name, strings(conn, sql)?));
    }
    Ok(out)
}

/// Chunks charged to an LSU none of whose images refer to them (a
/// warning: the bytes are counted, in the wrong LSU).
///
/// # Errors
/// Catalog errors.
pub fn misplaced_charges(conn: &Conn) -> Result<Vec<String>> {
    strings(
        conn,
        "SELECT 'chunk #' || c.id FROM chunks c WHERE c.dead IS NULL AND NOT EXISTS (SELECT 1 FROM extents e
           JOIN images i ON i.id = e.image_id WHERE e.chunk_id = c.id AND i.lsu_id = c.lsu_id) LIMIT ?1",
    )
}

/// Number of queued free ranges not yet punched.
///
/// # Errors
/// Catalog errors.
pub fn queued_free_ranges(conn: &Conn) -> Result<u64> {
    let n: i64 = conn.query_row("SELECT count(*) FROM free_ranges", [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Every segment: id, committed end, and the end its chunks need.
///
/// # Errors
/// Catalog errors.
pub fn segments(conn: &Conn) -> Result<Vec<(i64, u64, u64)>> {
    let mut st = conn.prepare(
        "SELECT s.id, s.committed_end, coalesce(max(c.seg_off + c.len), 0) FROM segments s
         LEFT JOIN chunks c ON c.segment_id = s.id GROUP BY s.id ORDER BY s.id",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Number of chunks, and the sum of the aligned lengths of the freed
/// ranges queued and not yet punched.
///
/// # Errors
/// Catalog errors.
pub fn chunks_and_queued_bytes(conn: &Conn) -> Result<(u64, u64)> {
    let (chunks, queued): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM chunks),
                (SELECT CAST(coalesce(sum((len + 4095) / 4096 * 4096), 0) AS BIGINT) FROM free_ranges)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((
        u64::try_from(chunks).unwrap_or(0),
        u64::try_from(queued).unwrap_or(0),
    ))
}

/// Bytes of the 4096-byte blocks of segment files that hold a byte of a
/// recorded chunk (whole blocks: what hole punching cannot free while
/// those chunks live; format 2 chunks are packed, so a block may hold the
/// ends of two), plus each segment's block holding its last committed
/// byte: freed space is punched only in whole blocks below the committed
/// end, where no writer appends, so that partial block stays allocated
/// until the next append fills it.
///
/// # Errors
/// Catalog errors.
pub fn occupied_blocks(conn: &Conn) -> Result<u64> {
    let mut ends = std::collections::BTreeMap::new();
    {
        let mut st = conn.prepare("SELECT id, committed_end FROM segments")?;
        st.for_each([], |r| {
            let (id, end): (i64, i64) = (r.get(0)?, r.get(1)?);
            let end = u64::try_from(end).unwrap_or(0);
            if end > HEADER_LEN && end % 4096 != 0 {
                ends.insert(id, end / 4096);
            }
            Ok(())
        })?;
    }
    let mut st = conn.prepare("SELECT segment_id, seg_off, len FROM chunks ORDER BY segment_id, seg_off")?;
    let (mut seg, mut next_free, mut blocks) = (i64::MIN, 0u64, 0u64);
    let mut tail_counted = |seg: i64, next_free: u64| {
        // the tail block of `seg`, if no chunk of it covered that block
        ends.remove(&seg).map_or(0, |b| u64::from(b >= next_free))
    };
    st.for_each([], |r| {
        let (id, off, len): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let (off, len) = (u64::try_from(off).unwrap_or(0), u64::try_from(len).unwrap_or(0));
        if id != seg {
            blocks += tail_counted(seg, next_free);
            (seg, next_free) = (id, 0);
        }
        let first = (off / 4096).max(next_free);
        let end = (off + len).div_ceil(4096);
        blocks += end.saturating_sub(first);
        next_free = next_free.max(end);
        Ok(())
    })?;
    blocks += tail_counted(seg, next_free);
    // segments with no chunk left at all
    blocks += ends.len() as u64;
    Ok(blocks * 4096)
}

/// Per LSU id: the bytes of the chunks charged to it before compression
/// (after deduplication: each chunk once) and as stored. Scans every
/// chunk row (an administrator's figure, not for hot paths).
///
/// # Errors
/// Catalog errors.
pub fn reduction_by_lsu(conn: &Conn) -> Result<Vec<(i64, u64, u64)>> {
    let mut st = conn.prepare(
        "SELECT lsu_id, CAST(sum(raw_len) AS BIGINT),
                CAST(sum(CASE WHEN fp IS NULL THEN (len + 4095) / 4096 * 4096 ELSE len END) AS BIGINT)
         FROM chunks GROUP BY lsu_id",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(rows)
}

/// Sum of the chunks' stored bytes (format 1 chunks aligned, as they are
/// stored): the bytes the catalog accounts for.
///
/// # Errors
/// Catalog errors.
pub fn accounted_bytes(conn: &Conn) -> Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT CAST(coalesce(sum(CASE WHEN fp IS NULL THEN (len + 4095) / 4096 * 4096 ELSE len END), 0) AS BIGINT)
         FROM chunks",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}
