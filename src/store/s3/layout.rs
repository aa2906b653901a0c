//! How a segment lies in the object store: the names of its objects and
//! what a listing of them says (which bytes are where, which are freed).
//! Pure: no I/O, so every rule here is unit-tested without a server.
//!
//! Under the pool's prefix, segment `id` is the objects named
//! `seg/<id:016x>/<name>`, where `<name>` is one of
//!
//! - `<start:016x>-<epoch:08x>`: **data**, the segment's bytes from
//!   `start` for the object's length, uploaded by a writer of `epoch`
//!   (the header is the data object at 0 of epoch 0);
//! - `<start:016x>-<epoch:08x>-<piece:08x>`: data too, a live run that
//!   compaction cut out of an older data object (`piece` random);
//! - `adopt-<epoch:08x>-<end:016x>`: an **adoption**: a writer of `epoch`
//!   took the segment over at the committed `end`, so data of an older
//!   epoch past `end` is garbage (a dead or cut-off writer's, however late
//!   it lands: this is the fence that keeps a writer that lost its lease
//!   from overwriting what its successor committed, since no two epochs
//!   share a name);
//! - `free-<off:016x>-<len:016x>`: a **free note**: those bytes hold no
//!   live chunk (kept until the object holding them is compacted);
//! - `end-<end:016x>`: an **end mark**: the segment reaches `end` even
//!   though compaction removed the data object that ended there.
//!
//! Objects never change once written, and no name is ever reused for
//! other contents: a reader holding an old listing finds either the bytes
//! it expects under a name or no object at all (and then lists again).
//! Compaction replaces a data object by the runs of it still live, each a
//! new piece (named by its own start, the same epoch, a random piece
//! number), written before the old object is deleted: a reader finds
//! every live byte throughout.

/// One object of a segment, parsed from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Name {
    Data {
        start: u64,
        epoch: u32,
        piece: Option<u32>,
    },
    Adopt {
        epoch: u32,
        end: u64,
    },
    Free {
        off: u64,
        len: u64,
    },
    End {
        end: u64,
    },
}

impl Name {
    /// The object's name inside its segment's folder.
    pub fn render(self) -> String {
        match self {
            Name::Data {
                start,
                epoch,
                piece: None,
            } => format!("{start:016x}-{epoch:08x}"),
            Name::Data {
                start,
                epoch,
                piece: Some(p),
            } => format!("{start:016x}-{epoch:08x}-{p:08x}"),
            Name::Adopt { epoch, end } => format!("adopt-{epoch:08x}-{end:016x}"),
            Name::Free { off, len } => format!("free-{off:016x}-{len:016x}"),
            Name::End { end } => format!("end-{end:016x}"),
        }
    }

    /// Parses a name [`Name::render`] made; `None` for anything else.
    pub fn parse(name: &str) -> Option<Name> {
        fn hex64(s: &str) -> Option<u64> {
            (s.len() == 16).then(|| u64::from_str_radix(s, 16).ok()).flatten()
        }
        fn hex32(s: &str) -> Option<u32> {
            (s.len() == 8).then(|| u32::from_str_radix(s, 16).ok()).flatten()
        }
        if let Some(rest) = name.strip_prefix("adopt-") {
            let (e, end) = rest.split_once('-')?;
            return Some(Name::Adopt {
                epoch: hex32(e)?,
                end: hex64(end)?,
            });
        }
        if let Some(rest) = name.strip_prefix("free-") {
            let (off, len) = rest.split_once('-')?;
            return Some(Name::Free {
                off: hex64(off)?,
                len: hex64(len)?,
            });
        }
        if let Some(end) = name.strip_prefix("end-") {
            return Some(Name::End { end: hex64(end)? });
        }
        let (start, rest) = name.split_once('-')?;
        let (epoch, piece) = match rest.split_once('-') {
            Some((e, p)) => (e, Some(hex32(p)?)),
            None => (rest, None),
        };
        let start = hex64(start)?;
        let epoch = hex32(epoch)?;
        Some(Name::Data { start, epoch, piece })
    }
}

/// A data object: bytes `[start, start + len)` of its segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Data {
    pub start: u64,
    pub len: u64,
    pub epoch: u32,
    pub piece: Option<u32>,
}

impl Data {
    /// Where its bytes end (a foreign object claiming to reach past the
    /// end of the address space ends there).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    pub fn name(&self) -> Name {
        Name::Data {
            start: self.start,
            epoch: self.epoch,
            piece: self.piece,
        }
    }
}

/// What one listing of a segment's folder found.
#[derive(Clone, Debug, Default)]
pub(super) struct Listing {
    /// Data objects by start (then epoch), with their stored lengths.
    pub data: Vec<Data>,
    pub adopts: Vec<(u32, u64)>,
    pub frees: Vec<(u64, u64)>,
    pub ends: Vec<u64>,
    /// Names that are none of the above (left by something else).
    pub foreign: Vec<String>,
    /// The ETags the store gave data objects (without quotes), where
    /// known: what tells a host's cached copy of an object from another
    /// object under the same name (a segment made anew under an old id).
    tags: std::collections::HashMap<Name, String>,
}

impl Listing {
    /// A listing from (name, size) pairs.
    pub fn from_names<'a>(objects: impl IntoIterator<Item = (&'a str, u64)>) -> Listing {
        let mut l = Listing::default();
        for (name, size) in objects {
            match Name::parse(name) {
                Some(Name::Data { start, epoch, piece }) => l.data.push(Data {
                    start,
                    len: size,
                    epoch,
                    piece,
                }),
                Some(Name::Adopt { epoch, end }) => l.adopts.push((epoch, end)),
                Some(Name::Free { off, len }) => l.frees.push((off, len)),
                Some(Name::End { end }) => l.ends.push(end),
                None => l.foreign.push(name.to_owned()),
            }
        }
        l.sort();
        l
    }

    fn sort(&mut self) {
        self.data.sort_by_key(|d| (d.start, d.epoch, d.piece));
        self.data.dedup_by_key(|d| (d.start, d.epoch, d.piece));
        self.frees.sort_unstable();
    }

    /// Records the ETag the store gave object `name`.
    pub fn tag(&mut self, name: Name, tag: &str) {
        self.tags.insert(name, tag.trim_matches('"').to_owned());
    }

    /// The ETag of object `name`, if known.
    pub fn tag_of(&self, name: Name) -> Option<&str> {
        self.tags.get(&name).map(String::as_str)
    }

    /// Records a data object uploaded since the listing was made.
    pub fn add(&mut self, d: Data) {
        self.data.retain(|x| x.name() != d.name());
        self.tags.remove(&d.name());
        self.data.push(d);
        self.sort();
    }

    /// Whether the segment exists: its header is there.
    pub fn exists(&self) -> bool {
        self.data.iter().any(|d| d.start == 0)
    }

    /// Whether its folder holds anything at all.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.adopts.is_empty() && self.frees.is_empty() && self.ends.is_empty()
    }

    /// The highest epoch any object names.
    pub fn max_epoch(&self) -> u32 {
        let d = self.data.iter().map(|d| d.epoch);
        d.chain(self.adopts.iter().map(|a| a.0)).max().unwrap_or(0)
    }

    /// How far `d`'s bytes are the segment's: its end, or the earliest
    /// adoption by a later epoch that cut it (at or before its start: none).
    pub fn valid_end(&self, d: &Data) -> u64 {
        self.adopts
            .iter()
            .filter(|&&(e, _)| e > d.epoch)
            .fold(d.end(), |end, &(_, cut)| end.min(cut))
    }

    /// Data objects whose bytes are (in part) the segment's, clipped to
    /// where they are.
    pub fn valid(&self) -> impl Iterator<Item = Data> + '_ {
        self.data.iter().filter_map(|d| {
            let end = self.valid_end(d);
            (end > d.start).then_some(Data {
                len: end - d.start,
                ..*d
            })
        })
    }

    /// Data objects no byte of which is the segment's (a cut-off
    /// writer's, to delete).
    pub fn garbage(&self) -> impl Iterator<Item = Data> + '_ {
        self.data
            .iter()
            .copied()
            .filter(|d| self.valid_end(d) <= d.start && d.len > 0)
    }

    /// A valid data object holding byte `off`, clipped, other than those
    /// named in `not` (found missing since the listing); the newest epoch
    /// first when several do (they hold the same bytes), then the one
    /// holding most of what follows `off`.
    pub fn holding_but(&self, off: u64, not: &[Name]) -> Option<Data> {
        self.valid()
            .filter(|d| d.start <= off && off < d.end() && !not.contains(&d.name()))
            .max_by_key(|d| (d.epoch, d.end(), std::cmp::Reverse(d.start)))
    }

    /// [`Listing::holding_but`] with no exception.
    pub fn holding(&self, off: u64) -> Option<Data> {
        self.holding_but(off, &[])
    }

    /// The segment's length: the end of its last valid byte or end mark.
    pub fn len(&self) -> u64 {
        let data = self.valid().map(|d| d.end());
        data.chain(self.ends.iter().copied()).max().unwrap_or(0)
    }

    /// Bytes the segment's objects occupy, less those free notes name.
    pub fn allocated(&self) -> u64 {
        let stored: u64 = self.data.iter().map(|d| d.len).sum();
        let noted: u64 = merge(self.frees.iter().map(|&(o, l)| (o, o.saturating_add(l))))
            .into_iter()
            .map(|(a, b)| {
                self.valid()
                    .map(|d| overlap((a, b), (d.start, d.end())))
                    .max()
                    .unwrap_or(0)
            })
            .sum();
        stored.saturating_sub(noted)
    }

    /// Free notes (as half-open ranges) overlapping `d`.
    pub fn notes_in(&self, d: &Data) -> Vec<(u64, u64)> {
        self.frees
            .iter()
            .map(|&(o, l)| (o, o.saturating_add(l)))
            .filter(|&r| overlap(r, (d.start, d.end())) > 0)
            .collect()
    }
}

/// Bytes two half-open ranges share.
pub(super) fn overlap(a: (u64, u64), b: (u64, u64)) -> u64 {
    a.1.min(b.1).saturating_sub(a.0.max(b.0))
}

/// Half-open ranges merged where they touch or overlap, sorted.
pub(super) fn merge(ranges: impl IntoIterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = ranges.into_iter().filter(|r| r.1 > r.0).collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
            _ => out.push(r),
        }
    }
    out
}

/// The runs of `[start, end)` outside every range of `dead`.
pub(super) fn live_runs(start: u64, end: u64, dead: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = start;
    for (a, b) in merge(dead.iter().copied()) {
        if b <= at || a >= end {
            continue;
        }
        if a > at {
            out.push((at, a));
        }
        at = at.max(b);
    }
    if at < end {
        out.push((at, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_foreign() {
        for n in [
            Name::Data {
                start: 4096,
                epoch: 3,
                piece: None,
            },
            Name::Data {
                start: 8192,
                epoch: 0,
                piece: Some(0xdead_beef),
            },
            Name::Adopt {
                epoch: 2,
                end: 1 << 40,
            },
            Name::Free { off: 8192, len: 12 },
            Name::End { end: 77 },
        ] {
            assert_eq!(Name::parse(&n.render()), Some(n));
        }
        for bad in [
            "",
            "x",
            "0000000000001000-3",
            "adopt-1-2",
            "free-zz",
            "end-",
            "0-0",
        ] {
            assert_eq!(Name::parse(bad), None, "{bad}");
        }
        let l = Listing::from_names([("README", 3), ("0000000000000000-00000000", 4096)]);
        assert_eq!(l.foreign, ["README"]);
        assert!(l.exists());
    }

    fn data(start: u64, len: u64, epoch: u32) -> (String, u64) {
        (
            Name::Data {
                start,
                epoch,
                piece: None,
            }
            .render(),
            len,
        )
    }

    #[test]
    fn an_adoption_fences_off_what_older_epochs_wrote_past_it() {
        let mut names = vec![data(0, 4096, 0), data(4096, 1000, 0), data(5096, 500, 0)];
        // epoch 1 adopted at 5096; the dead writer's late upload at 5096
        // (epoch 0) must lose to epoch 1's bytes there
        names.push((Name::Adopt { epoch: 1, end: 5096 }.render(), 0));
        names.push(data(5096, 200, 1));
        let l = Listing::from_names(names.iter().map(|(n, s)| (n.as_str(), *s)));
        assert_eq!(l.holding(5100).unwrap().epoch, 1);
        assert_eq!(l.len(), 5296);
        assert_eq!(
            l.garbage().collect::<Vec<_>>(),
            [Data {
                start: 5096,
                len: 500,
                epoch: 0,
                piece: None
            }]
        );
        assert_eq!(l.max_epoch(), 1);
        // an old object straddling the cut is valid up to it only
        let l = Listing::from_names(
            [
                data(0, 4096, 0),
                data(4096, 1000, 0),
                (Name::Adopt { epoch: 1, end: 4500 }.render(), 0),
            ]
            .iter()
            .map(|(n, s)| (n.as_str(), *s)),
        );
        assert_eq!(l.len(), 4500);
        assert_eq!(l.holding(4600), None);
    }

    #[test]
    fn compaction_pieces_and_end_marks_keep_offsets_and_length() {
        // [4096, 14096) compacted to its live run [12288, 14096), the old
        // object gone; a free note on another object
        let names = [
            data(0, 4096, 0),
            data(12288, 1808, 0),
            data(14096, 8192, 0),
            (
                Name::Free {
                    off: 14096,
                    len: 4096,
                }
                .render(),
                0,
            ),
            (Name::End { end: 30000 }.render(), 0),
        ];
        let l = Listing::from_names(names.iter().map(|(n, s)| (n.as_str(), *s)));
        assert_eq!(l.holding(5000), None);
        assert_eq!(l.holding(13000).unwrap().start, 12288);
        assert_eq!(l.len(), 30000);
        assert_eq!(l.allocated(), 4096 + 1808 + 8192 - 4096);
        let d = l.holding(15000).unwrap();
        assert_eq!(l.notes_in(&d), [(14096, 18192)]);
    }

    #[test]
    fn a_read_skips_objects_found_gone_and_foreign_names_cannot_overflow() {
        let piece = |start, len, p| {
            (
                Name::Data {
                    start,
                    epoch: 0,
                    piece: Some(p),
                }
                .render(),
                len,
            )
        };
        // the original object and a piece compacted from it, both listed
        let names = [data(0, 4096, 0), data(4096, 8192, 0), piece(8192, 4096, 7)];
        let l = Listing::from_names(names.iter().map(|(n, s)| (n.as_str(), *s)));
        let first = l.holding(9000).unwrap();
        let other = l.holding_but(9000, &[first.name()]).unwrap();
        assert_ne!(first.name(), other.name());
        assert_eq!(l.holding_but(9000, &[first.name(), other.name()]), None);
        assert_eq!(
            l.holding_but(
                5000,
                &[Name::Data {
                    start: 4096,
                    epoch: 0,
                    piece: None
                }]
            ),
            None
        );
        let huge = [data(0, 4096, 0), data(u64::MAX - 10, 100, 0)];
        let l = Listing::from_names(huge.iter().map(|(n, s)| (n.as_str(), *s)));
        assert_eq!(l.len(), u64::MAX);
    }

    #[test]
    fn runs_and_merges() {
        assert_eq!(merge([(5, 9), (0, 2), (2, 3), (8, 12)]), [(0, 3), (5, 12)]);
        assert_eq!(
            live_runs(0, 100, &[(10, 20), (15, 30), (90, 200)]),
            [(0, 10), (30, 90)]
        );
        assert_eq!(live_runs(10, 20, &[(0, 100)]), []);
        assert_eq!(live_runs(10, 20, &[]), [(10, 20)]);
        assert_eq!(overlap((0, 10), (5, 20)), 5);
        assert_eq!(overlap((0, 10), (10, 20)), 0);
    }
}
