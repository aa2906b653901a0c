//! What is timed: the plugin through its C entry points (stsp_*), and the
//! raw references on the same filesystem. Every contender reads its input
//! the same way (read() from the pre-generated stream file, page-cached,
//! into one reused buffer) or from the generator in 1 MiB pieces.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha1::Digest;

use crate::common::{self, api, c, sys};
use crate::datagen;
use crate::util::read_full;

/// Where a contender's bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// `len` bytes of the stream file at `off`.
    File { path: PathBuf, off: u64, len: u64 },
    /// The generator, produced on the fly.
    Gen { seed: u64, generation: u8, len: u64 },
}

/// A reader filling a buffer, returning 0 at the end.
pub type Reader = Box<dyn FnMut(&mut [u8]) -> usize + Send>;

impl Source {
    pub fn file(path: &Path, off: u64, len: u64) -> Source {
        Source::File {
            path: path.to_path_buf(),
            off,
            len,
        }
    }

    /// A reader filling a buffer, returning 0 at the end.
    pub fn open(&self) -> Reader {
        match self.clone() {
            Source::File { path, off, len } => {
                let mut f = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                f.seek(SeekFrom::Start(off)).expect("seek");
                let mut left = len;
                Box::new(move |buf: &mut [u8]| {
                    let want = (buf.len() as u64).min(left) as usize;
                    let n = read_full(&mut f, &mut buf[..want]);
                    left -= n as u64;
                    n
                })
            }
            Source::Gen {
                seed,
                generation,
                len,
            } => {
                let mut s = datagen::Stream::new(seed, generation, len);
                Box::new(move |buf: &mut [u8]| s.fill(buf))
            }
        }
    }
}

/// A server opened through stsp_open_server; closed on drop.
pub struct Srv {
    pub sh: sys::sts_server_handle_t,
    pub dir: PathBuf,
}

impl Srv {
    pub fn open(dir: &Path) -> Srv {
        let sh = common::open_server(&common::server_name_for(dir))
            .unwrap_or_else(|rc| panic!("stsp_open_server({}) -> {}", dir.display(), common::code_name(rc)));
        Srv {
            sh,
            dir: dir.to_path_buf(),
        }
    }

    pub fn lsu(&self) -> sys::sts_lsu_t {
        common::lsu_t(self.sh, "default")
    }

    pub fn segments(&self) -> PathBuf {
        self.dir.join("segments")
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        api().close_server(self.sh);
    }
}

pub fn def(name: &str) -> sys::sts_image_def_t {
    common::image_def(name, "1700000000")
}

/// stsp_delete_image.
pub fn delete(lsu: &sys::sts_lsu_t, image: &str) {
    crate::assert_rc!(api().delete_image(lsu, &def(image), 0), c::EOK, "delete {image}");
}

/// create, write everything from `src` in `buf_size` writes, close
/// complete: the bytes written and the seconds taken.
pub fn ingest(lsu: &sys::sts_lsu_t, image: &str, src: &Source, buf_size: usize) -> (u64, f64) {
    let mut read = src.open();
    let mut buf = vec![0u8; buf_size];
    let (bytes, secs) = crate::util::timed(|| {
        let ih = common::create(lsu, &def(image));
        let mut off = 0u64;
        loop {
            let n = read(&mut buf);
            if n == 0 {
                break;
            }
            crate::assert_rc!(common::write_at(ih, &buf[..n], off), c::EOK, "write at {off}");
            off += n as u64;
        }
        common::close(ih, c::CLOSE_COMPLETE);
        off
    });
    (bytes, secs)
}

/// How a reference writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// A: write() to a new file, then fsync.
    A,
    /// B: A plus SHA-1 of the bytes.
    B,
    /// A with an fdatasync every 64 MiB (the plugin's commit interval).
    A64,
}

/// A reference: the bytes written, seconds, the SHA-1 for [`Ref::B`].
pub fn reference(src: &Source, dst: &Path, buf_size: usize, how: Ref) -> (u64, f64, Option<String>) {
    let sha = how == Ref::B;
    let mut read = src.open();
    let mut buf = vec![0u8; buf_size];
    let ((bytes, digest), secs) = crate::util::timed(|| {
        let mut f = File::create(dst).expect("create reference file");
        let mut h = sha.then(sha1::Sha1::new);
        let mut total = 0u64;
        loop {
            let n = read(&mut buf);
            if n == 0 {
                break;
            }
            if let Some(h) = h.as_mut() {
                h.update(&buf[..n]);
            }
            f.write_all(&buf[..n]).expect("write reference file");
            total += n as u64;
            if how == Ref::A64 && total % (64 << 20) == 0 {
                f.sync_data().expect("fdatasync reference file");
            }
        }
        f.sync_all().expect("fsync reference file");
        (total, h.map(|h| datagen::hex(&h.finalize())))
    });
    (bytes, secs, digest)
}

/// Sequential reads of a whole image in `buf_size` calls: bytes, seconds.
pub fn restore(
    lsu: &sys::sts_lsu_t,
    image: &str,
    buf_size: usize,
    mut sink: impl FnMut(&[u8]),
) -> (u64, f64) {
    let mut buf = vec![0u8; buf_size];
    crate::util::timed(|| {
        let ih = common::open(lsu, &def(image), c::O_READ);
        let mut off = 0u64;
        loop {
            let n = read_image(ih, &mut buf, off);
            sink(&buf[..n]);
            off += n as u64;
            if n < buf.len() {
                break;
            }
        }
        common::close(ih, 0);
        off
    })
}

/// SHA-1 of an image read back through stsp_read_image (untimed check).
pub fn image_sha1(lsu: &sys::sts_lsu_t, image: &str) -> String {
    let mut h = sha1::Sha1::new();
    restore(lsu, image, 1 << 20, |b| h.update(b));
    datagen::hex(&h.finalize())
}

fn read_image(ih: sys::sts_image_handle_t, buf: &mut [u8], off: u64) -> usize {
    let mut n = 0u64;
    crate::assert_rc!(
        api().read_image(ih, buf.as_mut_ptr().cast(), buf.len() as u64, off, &mut n),
        c::EOK,
        "stsp_read_image at {off}"
    );
    n as usize
}

/// Sequential read() of a file in `buf_size` calls: bytes, seconds.
pub fn raw_read(path: &Path, buf_size: usize) -> (u64, f64) {
    let mut buf = vec![0u8; buf_size];
    crate::util::timed(|| {
        let mut f = File::open(path).expect("open raw file");
        let mut total = 0u64;
        loop {
            match f.read(&mut buf).expect("read raw file") {
                0 => break total,
                n => total += n as u64,
            }
        }
    })
}

/// `len`-byte reads at `offsets` of an image: seconds.
pub fn restore_random(lsu: &sys::sts_lsu_t, image: &str, offsets: &[u64], len: usize) -> f64 {
    let mut buf = vec![0u8; len];
    let ih = common::open(lsu, &def(image), c::O_READ);
    let (_, secs) = crate::util::timed(|| {
        for &off in offsets {
            assert_eq!(read_image(ih, &mut buf, off), len, "short read at {off}");
        }
    });
    common::close(ih, 0);
    secs
}

/// `len`-byte pread()s at `offsets` of a file: seconds.
pub fn raw_random(path: &Path, offsets: &[u64], len: usize) -> f64 {
    let mut buf = vec![0u8; len];
    let f = File::open(path).expect("open raw file");
    crate::util::timed(|| {
        for &off in offsets {
            f.read_exact_at(&mut buf, off).expect("pread");
        }
    })
    .1
}
