//! The plugin's log: each open server writes its own records to
//! `<server>/combstore.log`, never to the host's stdout or stderr.
//!
//! - Where: a [`ServerLog`] belongs to one server instance (the engine's
//!   shared state holds it), so two servers open in one process each log
//!   to their own directory. Records with no server (a failed open, the C
//!   boundary's records for a call that named no open handle) go to the
//!   failing open's directory when it is a combstore server directory,
//!   else nowhere.
//! - Format: one line per record, written with a single `O_APPEND` write,
//!   so lines of several processes appending at once never interleave:
//!   `2026-12-06T03:22:48.123Z [pid] LEVEL module::path: message`
//!   (UTC; line breaks in a message become spaces).
//! - Rotation: when a write leaves the file at [`ROTATE_BYTES`] or more,
//!   it is renamed to `combstore.log.1` (replacing the previous one) and
//!   the next line starts a new file; at most about twice
//!   [`ROTATE_BYTES`] of log is kept. The rename is done under an
//!   exclusive `flock` of the full file and only if the name still denotes
//!   that file, so processes racing to rotate rotate once.
//! - Levels: `COMBSTORE_LOG`, read when a server is opened: a
//!   comma-separated list of `LEVEL` and `MODULE=LEVEL` directives, LEVEL
//!   one of `off`, `error`, `warn`, `info`, `debug`, `trace` (any case);
//!   e.g. `debug` or `info,combstore::ffi=debug`. The longest matching
//!   module prefix wins; the default is `info`. A value that does not
//!   parse is ignored as a whole (silently: the level is then `info`).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use log::{Level, LevelFilter};

/// The log file's name in the server directory.
pub const LOG_FILE: &str = "combstore.log";
/// The previous log file's name (one is kept).
pub const ROTATED_FILE: &str = "combstore.log.1";
/// Size at which the log file is rotated (8 MiB).
pub const ROTATE_BYTES: u64 = 8 << 20;
/// The environment variable holding the level directives.
pub const ENV: &str = "COMBSTORE_LOG";

static DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns every server's log off for the rest of the process (fuzzers).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Which records are written: a default level and per-module levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    default: LevelFilter,
    /// (module prefix, level), longest prefix first.
    modules: Vec<(String, LevelFilter)>,
}

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            default: LevelFilter::Info,
            modules: Vec::new(),
        }
    }
}

impl Filter {
    /// Parses directives (see the module docs); `None` if any does not
    /// parse or there are none.
    pub fn parse(spec: &str) -> Option<Filter> {
        let mut filter = Filter::default();
        let mut any = false;
        for d in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            any = true;
            match d.split_once('=') {
                None => filter.default = LevelFilter::from_str(d).ok()?,
                Some((module, level)) => {
                    let module = module.trim();
                    let valid = !module.is_empty()
                        && module
                            .split("::")
                            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
                    if !valid {
                        return None;
                    }
                    let level = LevelFilter::from_str(level.trim()).ok()?;
                    filter.modules.push((module.to_owned(), level));
                }
            }
        }
        if !any {
            return None;
        }
        filter.modules.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
        Some(filter)
    }

    /// The filter `COMBSTORE_LOG` asks for; `info` when it is unset or
    /// does not parse.
    pub fn from_env() -> Filter {
        std::env::var(ENV)
            .ok()
            .and_then(|s| Filter::parse(&s))
            .unwrap_or_default()
    }

    /// Whether a record of `level` from module `target` is written.
    pub fn enabled(&self, level: Level, target: &str) -> bool {
        let max = self
            .modules
            .iter()
            .find(|(m, _)| {
                target
                    .strip_prefix(m.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
            .map_or(self.default, |(_, l)| *l);
        level <= max
    }
}

/// One server's log (see the module docs). Cheap to clone; creating one
/// does no I/O: the file is created by the first record written.
#[derive(Clone, Debug)]
pub struct ServerLog(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    rotated: PathBuf,
    filter: Filter,
    rotate_bytes: u64,
}

impl ServerLog {
    /// The log of the server in `dir`, with the filter `COMBSTORE_LOG`
    /// asks for.
    pub fn open(dir: &Path) -> ServerLog {
        ServerLog::with(dir, Filter::from_env(), ROTATE_BYTES)
    }

    /// The log in `dir` with an explicit filter and rotation size.
    pub fn with(dir: &Path, filter: Filter, rotate_bytes: u64) -> ServerLog {
        ServerLog(Arc::new(Inner {
            path: dir.join(LOG_FILE),
            rotated: dir.join(ROTATED_FILE),
            filter,
            rotate_bytes,
        }))
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Whether a record of `level` from module `target` would be written.
    pub fn enabled(&self, level: Level, target: &str) -> bool {
        !DISABLED.load(Ordering::Relaxed) && self.0.filter.enabled(level, target)
    }

    /// Writes a record if enabled (use the `log_*!` macros). Failures to
    /// write are ignored: logging never fails an operation.
    pub fn record(&self, level: Level, target: &str, args: fmt::Arguments<'_>) {
        if !self.enabled(level, target) {
            return;
        }
        let mut line = String::with_capacity(160);
        let _ = write!(
            line,
            "{} [{}] {level} {target}: ",
            timestamp(SystemTime::now()),
            std::process::id()
        );
        let start = line.len();
        let _ = line.write_fmt(args);
        if line[start..].contains(['\n', '\r']) {
            let msg = line.split_off(start).replace(['\n', '\r'], " ");
            line.push_str(&msg);
        }
        line.push('\n');
        self.append(line.as_bytes());
    }

    fn append(&self, line: &[u8]) {
        let Ok(mut file) = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.0.path)
        else {
            return;
        };
        if file.write_all(line).is_err() {
            return;
        }
        if file.metadata().is_ok_and(|m| m.len() >= self.0.rotate_bytes) {
            self.rotate(&file);
        }
    }

    /// Renames the full file `file` to the rotated name, unless another
    /// writer did already (the name then denotes another file).
    fn rotate(&self, file: &File) {
        // SAFETY: flock on a descriptor we own; released when `file` closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return;
        }
        let (Ok(mine), Ok(named)) = (file.metadata(), fs::metadata(&self.0.path)) else {
            return;
        };
        if mine.ino() == named.ino() && mine.dev() == named.dev() {
            let _ = fs::rename(&self.0.path, &self.0.rotated);
        }
    }
}

/// `2026-12-06T03:22:48.123Z`.
fn timestamp(t: SystemTime) -> String {
    use crate::archive::calendar::{civil_from_days, split_millis};
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let (days, ms) = split_millis(ms);
    let c = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

thread_local! {
    static CURRENT: RefCell<Option<ServerLog>> = const { RefCell::new(None) };
}

/// Makes `log` the home of this thread's records that name no server,
/// until [`take_current`]: the C boundary sets it when a call's handle
/// resolves to an open server.
///
/// These three never panic, not even while the thread's locals are torn
/// down (`try_with`): the C boundary calls them outside its panic guard.
pub fn set_current(log: &ServerLog) {
    let _ = CURRENT.try_with(|c| *c.borrow_mut() = Some(log.clone()));
}

/// The log [`set_current`] chose for this thread, if any, and forgets it.
pub fn take_current() -> Option<ServerLog> {
    CURRENT.try_with(|c| c.borrow_mut().take()).ok().flatten()
}

/// The log [`set_current`] chose for this thread, if any.
pub fn current() -> Option<ServerLog> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Writes a record at `$level` to a [`ServerLog`]; the message is
/// formatted only if the level is enabled.
#[macro_export]
#[doc(hidden)]
macro_rules! log_at {
    ($log:expr, $level:expr, $($arg:tt)+) => {{
        let log: &$crate::logging::ServerLog = &$log;
        log.record($level, module_path!(), format_args!($($arg)+));
    }};
}

/// `log_error!(server_log, "format", args...)`.
#[macro_export]
#[doc(hidden)]
macro_rules! log_error {
    ($log:expr, $($arg:tt)+) => { $crate::log_at!($log, $crate::logging::Level::Error, $($arg)+) };
}

/// `log_warn!(server_log, "format", args...)`.
#[macro_export]
#[doc(hidden)]
macro_rules! log_warn {
    ($log:expr, $($arg:tt)+) => { $crate::log_at!($log, $crate::logging::Level::Warn, $($arg)+) };
}

/// `log_info!(server_log, "format", args...)`.
#[macro_export]
#[doc(hidden)]
macro_rules! log_info {
    ($log:expr, $($arg:tt)+) => { $crate::log_at!($log, $crate::logging::Level::Info, $($arg)+) };
}

/// `log_debug!(server_log, "format", args...)`.
#[macro_export]
#[doc(hidden)]
macro_rules! log_debug {
    ($log:expr, $($arg:tt)+) => { $crate::log_at!($log, $crate::logging::Level::Debug, $($arg)+) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn filters_parse_and_invalid_values_are_refused() {
        let f = Filter::parse("debug").unwrap();
        assert!(f.enabled(Level::Debug, "combstore::engine"));
        assert!(!f.enabled(Level::Trace, "combstore::engine"));
        let f = Filter::parse(" WARN , combstore::ffi=debug,combstore::ffi::hc=off,").unwrap();
        assert!(f.enabled(Level::Debug, "combstore::ffi::server"));
        assert!(!f.enabled(Level::Error, "combstore::ffi::hc::session"));
        assert!(!f.enabled(Level::Info, "combstore::engine::server"));
        assert!(f.enabled(Level::Warn, "combstore::engine::server"));
        // a prefix matches whole path components only
        assert!(!f.enabled(Level::Debug, "combstore::ffix"));
        // module directives alone keep the default at info
        let f = Filter::parse("combstore::engine=trace").unwrap();
        assert!(f.enabled(Level::Info, "combstore::ffi"));
        assert!(!f.enabled(Level::Debug, "combstore::ffi"));
        assert!(f.enabled(Level::Trace, "combstore::engine::image"));
        for bad in [
            "",
            " , ",
            "loud",
            "debug,loud",
            "=debug",
            "a b=info",
            "x=",
            "x=verbose",
            "a::=info",
        ] {
            assert_eq!(Filter::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Filter::default().default, LevelFilter::Info);
    }

    #[test]
    fn records_are_whole_lines_in_the_servers_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = ServerLog::with(dir.path(), Filter::parse("info").unwrap(), ROTATE_BYTES);
        assert!(!log.path().exists(), "creating a log writes nothing");
        crate::log_info!(log, "hello {}", 7);
        crate::log_debug!(log, "not at info");
        crate::log_warn!(log, "two\nlines");
        let got = lines(&dir.path().join(LOG_FILE));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].ends_with(&format!(
                "[{}] INFO combstore::logging::tests: hello 7",
                std::process::id()
            )),
            "{}",
            got[0]
        );
        assert!(
            got[1].ends_with("WARN combstore::logging::tests: two lines"),
            "{}",
            got[1]
        );
        let ts = &got[0][..24];
        assert_eq!(
            (&ts[4..5], &ts[10..11], &ts[19..20], &ts[23..]),
            ("-", "T", ".", "Z"),
            "{ts}"
        );
        let mode = fs::metadata(log.path()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_796_527_368_123);
        assert_eq!(timestamp(t), "2026-12-06T03:22:48.123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn rotation_bounds_the_file_and_keeps_one_previous() {
        let dir = tempfile::tempdir().unwrap();
        let limit = 4096;
        let log = ServerLog::with(dir.path(), Filter::default(), limit);
        for i in 0..2000 {
            crate::log_info!(log, "record number {i:05} with some padding to make it longer");
            let len = fs::metadata(log.path()).map_or(0, |m| m.len());
            assert!(len < limit, "after record {i}: {len} bytes");
        }
        let current = lines(&dir.path().join(LOG_FILE));
        let previous = lines(&dir.path().join(ROTATED_FILE));
        assert!(!previous.is_empty());
        assert!(fs::metadata(dir.path().join(ROTATED_FILE)).unwrap().len() < limit + 200);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // the newest records are kept, in order, across the two files
        let all: Vec<_> = previous.iter().chain(&current).collect();
        assert!(all.last().unwrap().contains("record number 01999"));
        for pair in all.windows(2) {
            let n = |l: &str| l.split("number ").nth(1).unwrap()[..5].parse::<u32>().unwrap();
            assert_eq!(n(pair[1]), n(pair[0]) + 1);
        }
    }

    #[test]
    fn writers_racing_to_rotate_keep_every_line_whole() {
        let dir = tempfile::tempdir().unwrap();
        let limit = 64 << 10;
        // separate logs on one directory: separate files opened, as by
        // separate processes
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = ServerLog::with(dir.path(), Filter::default(), limit);
                std::thread::spawn(move || {
                    for i in 0..3000 {
                        crate::log_info!(log, "writer {t} line {i:05} {}", "x".repeat(40 + i % 50));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut total = 0;
        for name in [LOG_FILE, ROTATED_FILE] {
            let path = dir.path().join(name);
            // a writer may append its line to a file just renamed: at most
            // one line per writer past the limit
            assert!(fs::metadata(&path).unwrap().len() < limit + 4 * 200);
            for l in lines(&path) {
                let msg = l.split(": ").nth(1).unwrap_or_else(|| panic!("{l}"));
                let mut w = msg.split(' ');
                assert_eq!(w.next(), Some("writer"), "{l}");
                let i: usize = w.nth(2).unwrap().parse().unwrap();
                assert_eq!(w.next().unwrap(), "x".repeat(40 + i % 50), "{l}");
                assert_eq!(w.next(), None, "{l}");
                total += 1;
            }
        }
        assert!(total > 0);
    }

    #[test]
    fn the_current_log_is_per_thread() {
        let dir = tempfile::tempdir().unwrap();
        let log = ServerLog::with(dir.path(), Filter::default(), ROTATE_BYTES);
        set_current(&log);
        assert!(std::thread::spawn(|| current().is_none()).join().unwrap());
        assert_eq!(current().unwrap().path(), log.path());
        assert!(take_current().is_some());
        assert!(current().is_none());
    }
}
