//! The deterministic backup-like stream (issue 8).
//!
//! The stream is a sequence of 64 KiB blocks, each a pure function of the
//! seed and its index, so any part can be produced on the fly in 1 MiB
//! pieces without holding the stream in memory:
//!
//! - regions of 16 blocks (1 MiB) are either incompressible (splitmix64
//!   output) or text-like (log lines of words from a 512-word vocabulary,
//!   numbers and timestamps; lz4/zstd compress them several times);
//! - ~10% of the blocks repeat an earlier block of the stream exactly
//!   (at a 64 KiB-aligned position);
//! - generation 2 is generation 1 with ~5% of the blocks edited at an
//!   unaligned offset: an overwrite, insertion or deletion of 1..512
//!   bytes (so later content shifts, as in a changed file inside a tar),
//!   cut or padded so both generations have the same length.

/// Unit of repetition and of edits.
pub const BLOCK: usize = 64 * 1024;
/// Blocks per region of one kind (text or incompressible).
const REGION_BLOCKS: u64 = 16;
const SALT_KIND: u64 = 0x6b69_6e64;
const SALT_DUP: u64 = 0x0064_7570;
const SALT_EDIT: u64 = 0x6564_6974;
const VOCABULARY: usize = 512;

/// splitmix64: the generator's only source of randomness.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalize(self.0)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of (seed, salt, index), for per-block decisions.
fn mix(seed: u64, salt: u64, i: u64) -> u64 {
    finalize(seed ^ finalize(salt ^ finalize(i.wrapping_add(0x51_7CC1_B727_220A))))
}

/// What a block of generation 1 holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Random,
    Text,
}

fn region_kind(seed: u64, block: u64) -> Kind {
    if mix(seed, SALT_KIND, block / REGION_BLOCKS) % 2 == 0 {
        Kind::Random
    } else {
        Kind::Text
    }
}

/// The earlier block this block repeats (~10% of blocks), if any.
pub fn repeat_of(seed: u64, block: u64) -> Option<u64> {
    let h = mix(seed, SALT_DUP, block);
    (block > 0 && h % 10 == 0).then(|| (h >> 8) % block)
}

/// Whether generation 2 edits this block (~5% of blocks).
pub fn edited(seed: u64, block: u64) -> bool {
    mix(seed, SALT_EDIT, block) % 20 == 0
}

/// A seeded stream of `len` bytes of generation 1 or 2.
pub struct Stream {
    seed: u64,
    generation: u8,
    len: u64,
    pos: u64,
    next_block: u64,
    cur: Vec<u8>,
    cur_pos: usize,
    words: Vec<Vec<u8>>,
}

impl Stream {
    pub fn new(seed: u64, generation: u8, len: u64) -> Stream {
        let mut r = SplitMix(seed ^ 0x76_6f63_6162);
        let words = (0..VOCABULARY)
            .map(|_| {
                let n = 2 + r.below(9) as usize;
                (0..n).map(|_| b'a' + r.below(26) as u8).collect()
            })
            .collect();
        Stream {
            seed,
            generation,
            len,
            pos: 0,
            next_block: 0,
            cur: Vec::with_capacity(BLOCK + 512),
            cur_pos: 0,
            words,
        }
    }

    /// Fills `buf` with the next bytes; returns how many (less than
    /// `buf.len()` only at the end, 0 after it).
    pub fn fill(&mut self, buf: &mut [u8]) -> usize {
        let want = (buf.len() as u64).min(self.len - self.pos) as usize;
        let mut done = 0;
        while done < want {
            if self.cur_pos == self.cur.len() {
                self.produce_block();
            }
            let n = (self.cur.len() - self.cur_pos).min(want - done);
            buf[done..done + n].copy_from_slice(&self.cur[self.cur_pos..self.cur_pos + n]);
            self.cur_pos += n;
            done += n;
        }
        self.pos += done as u64;
        done
    }

    fn produce_block(&mut self) {
        let i = self.next_block;
        self.next_block += 1;
        self.cur.clear();
        self.cur_pos = 0;
        let source = repeat_of(self.seed, i).unwrap_or(i);
        let mut out = std::mem::take(&mut self.cur);
        self.original(source, &mut out);
        if self.generation >= 2 && edited(self.seed, i) {
            edit(self.seed, i, &mut out);
        }
        self.cur = out;
    }

    /// The original content of block `i` (before repeats and edits).
    fn original(&self, i: u64, out: &mut Vec<u8>) {
        let mut r = SplitMix(mix(self.seed, 0, i));
        match region_kind(self.seed, i) {
            Kind::Random => {
                while out.len() < BLOCK {
                    out.extend_from_slice(&r.next().to_le_bytes());
                }
            }
            Kind::Text => self.text(&mut r, out),
        }
        out.truncate(BLOCK);
    }

    /// Log-like lines: "2024-03-17T08:14:09 INFO word word ... id=123456".
    fn text(&self, r: &mut SplitMix, out: &mut Vec<u8>) {
        const LEVELS: [&[u8]; 4] = [b" INFO ", b" WARN ", b" DEBUG ", b" INFO "];
        while out.len() < BLOCK {
            let h = r.next();
            let secs = 1_700_000_000 + (h % 10_000_000);
            out.extend_from_slice(format!("{secs}.{:03}", (h >> 40) % 1000).as_bytes());
            out.extend_from_slice(LEVELS[(h >> 20) as usize % 4]);
            let nwords = 4 + (h >> 24) % 10;
            for _ in 0..nwords {
                let w = r.next();
                out.extend_from_slice(&self.words[(w % VOCABULARY as u64) as usize]);
                out.push(b' ');
            }
            if h % 3 == 0 {
                out.extend_from_slice(format!("id={}", (h >> 16) % 1_000_000).as_bytes());
            }
            out.push(b'\n');
        }
    }
}

/// Generation 2's edit of block `i`: at an offset that is not a multiple
/// of 512, overwrite, insert or delete 1..512 bytes.
fn edit(seed: u64, i: u64, block: &mut Vec<u8>) {
    let mut r = SplitMix(mix(seed, SALT_EDIT ^ 1, i));
    let mut at = r.below(block.len() as u64 - 600) as usize + 1;
    if at % 512 == 0 {
        at += 1;
    }
    let n = 1 + r.below(512) as usize;
    match r.below(4) {
        0 => {
            let bytes: Vec<u8> = (0..n).map(|_| r.next() as u8).collect();
            block.splice(at..at, bytes);
        }
        1 => {
            block.drain(at..at + n);
        }
        _ => {
            for b in &mut block[at..at + n] {
                *b ^= 0x5A | (r.next() as u8 & 0x80);
            }
        }
    }
}

/// Counts over the blocks of a stream of `len` bytes (generation 1
/// blocks; edits as generation 2 makes them).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub blocks: u64,
    pub text_blocks: u64,
    pub repeated_blocks: u64,
    pub edited_blocks: u64,
}

pub fn stats(seed: u64, len: u64) -> Stats {
    let blocks = len.div_ceil(BLOCK as u64);
    let mut s = Stats {
        blocks,
        ..Stats::default()
    };
    for i in 0..blocks {
        let src = repeat_of(seed, i);
        s.repeated_blocks += u64::from(src.is_some());
        s.text_blocks += u64::from(region_kind(seed, src.unwrap_or(i)) == Kind::Text);
        s.edited_blocks += u64::from(edited(seed, i));
    }
    s
}

/// Writes `len` bytes of a generation to `path` in 1 MiB pieces; returns
/// the SHA-1 of the bytes (hex).
pub fn to_file(path: &std::path::Path, seed: u64, generation: u8, len: u64) -> std::io::Result<String> {
    use sha1::Digest;
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut s = Stream::new(seed, generation, len);
    let mut h = sha1::Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = s.fill(&mut buf);
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        f.write_all(&buf[..n])?;
    }
    // Written back now, not while the first contender is timed.
    f.into_inner().map_err(std::io::Error::other)?.sync_all()?;
    Ok(hex(&h.finalize()))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Self-check (run by every suite run, a few MiB): the output does not
/// depend on the piece size, repeats are real copies, generation 2
/// differs from generation 1 in roughly the expected share of blocks.
pub fn self_check(seed: u64) -> Result<(), String> {
    let len = 8 << 20;
    let read_all = |generation: u8, piece: usize| {
        let mut s = Stream::new(seed, generation, len);
        let mut out = Vec::new();
        let mut buf = vec![0u8; piece];
        loop {
            let n = s.fill(&mut buf);
            if n == 0 {
                break out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    };
    let a = read_all(1, 1 << 20);
    if a.len() as u64 != len || a != read_all(1, 4093) {
        return Err("generation 1 depends on the piece size".into());
    }
    for i in 0..(len / BLOCK as u64) {
        if let Some(j) = repeat_of(seed, i) {
            let (i, j) = (i as usize * BLOCK, j as usize * BLOCK);
            let orig_of_j = repeat_of(seed, j as u64 / BLOCK as u64).is_none();
            if orig_of_j && a[i..i + BLOCK] != a[j..j + BLOCK] {
                return Err(format!("block at {i} does not repeat the block at {j}"));
            }
        }
    }
    let b = read_all(2, 1 << 20);
    if b.len() != a.len() {
        return Err("generation 2 has another length".into());
    }
    let Some(e) = (0..len / BLOCK as u64).find(|&i| edited(seed, i)) else {
        return Err("no block of generation 2 is edited".into());
    };
    let e = e as usize * BLOCK;
    if a[..e] != b[..e] || a[e..e + BLOCK] == b[e..e + BLOCK] {
        return Err(format!(
            "generation 2 does not differ exactly from its first edited block at {e}"
        ));
    }
    Ok(())
}
