//! Peers: borgbackup and restic from Debian's packages, fed the same
//! stream file on stdin and restored to a pipe this process drains.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{logical_bytes, physical_bytes, timed};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Borg,
    Restic,
}

pub struct Peer {
    pub kind: Kind,
    pub version: String,
    pub repo: PathBuf,
    home: PathBuf,
    /// The repository's size right after generation 1 was stored
    /// (the base of generation 2's growth).
    pub gen1_repo: Option<RepoSize>,
}

/// A repository's size: bytes allocated on disk (st_blocks * 512, as
/// `du -sB1`) and apparent bytes (file sizes, as `du -sb` without the
/// directories' own sizes).
#[derive(Clone, Copy, Debug, Default)]
pub struct RepoSize {
    pub allocated: u64,
    pub apparent: u64,
}

impl Peer {
    /// Finds the program and initializes an empty repository under `work`;
    /// Err is the reason it is skipped.
    pub fn set_up(kind: Kind, work: &Path) -> Result<Peer, String> {
        let version = Command::new(kind.program())
            .arg(if kind == Kind::Borg {
                "--version"
            } else {
                "version"
            })
            .output()
            .map_err(|e| {
                format!(
                    "{} not available ({e}); `make bench` installs it with apt-get",
                    kind.program()
                )
            })?;
        let version = String::from_utf8_lossy(&version.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        let peer = Peer {
            kind,
            version,
            repo: work.join(format!("{}-repo", kind.program())),
            home: work.join(format!("{}-home", kind.program())),
            gen1_repo: None,
        };
        std::fs::create_dir_all(&peer.home).map_err(|e| e.to_string())?;
        let init: &[&str] = match kind {
            Kind::Borg => &["init", "--encryption=none"],
            Kind::Restic => &["init"],
        };
        peer.run(init, Stdio::null(), false).map(|_| peer)
    }

    /// What the peer does beyond storing (printed with its figures).
    pub fn note(&self) -> String {
        match self.kind {
            Kind::Borg => format!(
                "{}: borg create from stdin, --encryption=none, default compression (lz4), dedup by content-defined chunks",
                self.version
            ),
            Kind::Restic => format!(
                "{}: restic backup --stdin; restic always encrypts (AES-256 + Poly1305), default compression (zstd auto)",
                self.version
            ),
        }
    }

    /// Stores `src` (from stdin) as generation `generation` (borg archive
    /// `g1`, restic snapshot tagged `g1`, ..): seconds.
    pub fn backup(&self, src: &Path, generation: u8) -> Result<f64, String> {
        let stdin = File::open(src).map_err(|e| e.to_string())?;
        let (archive, tag) = (format!("::g{generation}"), format!("g{generation}"));
        let args: &[&str] = match self.kind {
            Kind::Borg => &["create", &archive, "-"],
            Kind::Restic => &[
                "backup",
                "--quiet",
                "--tag",
                &tag,
                "--stdin",
                "--stdin-filename",
                "stream.bin",
            ],
        };
        let (r, secs) = timed(|| self.run(args, Stdio::from(stdin), false));
        r.map(|_| secs)
    }

    /// Restores generation `generation` to stdout (drained here): bytes
    /// and seconds.
    pub fn restore(&self, generation: u8) -> Result<(u64, f64), String> {
        let (archive, tag) = (format!("::g{generation}"), format!("g{generation}"));
        let args: &[&str] = match self.kind {
            Kind::Borg => &["extract", "--stdout", &archive],
            Kind::Restic => &["dump", "--tag", &tag, "latest", "/stream.bin"],
        };
        let (r, secs) = timed(|| self.run(args, Stdio::null(), true));
        r.map(|n| (n, secs))
    }

    /// The repository's size now.
    pub fn repo_size(&self) -> RepoSize {
        RepoSize {
            allocated: physical_bytes(&self.repo),
            apparent: logical_bytes(&self.repo),
        }
    }

    fn run(&self, args: &[&str], stdin: Stdio, drain: bool) -> Result<u64, String> {
        let mut cmd = Command::new(self.kind.program());
        match self.kind {
            Kind::Borg => {
                // "::g1" names archive g1 of BORG_REPO.
                cmd.env("BORG_REPO", &self.repo)
                    .env("BORG_BASE_DIR", &self.home)
                    .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
                    .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes");
                if args[0] == "init" {
                    cmd.args(args).arg(&self.repo);
                } else {
                    cmd.args(args);
                }
            }
            Kind::Restic => {
                cmd.env("RESTIC_REPOSITORY", &self.repo)
                    .env("RESTIC_PASSWORD", "combstore-bench")
                    .env("RESTIC_CACHE_DIR", self.home.join("cache"))
                    .env("HOME", &self.home)
                    .args(args);
            }
        }
        let mut child = cmd
            .stdin(stdin)
            .stdout(if drain { Stdio::piped() } else { Stdio::null() })
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.kind.program()))?;
        let mut total = 0u64;
        if let Some(mut out) = child.stdout.take() {
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match out.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => total += n as u64,
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(total)
        } else {
            Err(format!(
                "{} {} failed ({}): {}",
                self.kind.program(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl Kind {
    pub fn program(self) -> &'static str {
        match self {
            Kind::Borg => "borg",
            Kind::Restic => "restic",
        }
    }
}
