//! The plugin's log: a file in the server directory, never the host's
//! stdout or stderr. Level and filters come from `COMBSTORE_LOG`
//! (env_logger syntax, e.g. `debug` or `combstore::engine=debug`); the
//! default is `info`. The first server opened in a process chooses the file.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Once;

static INIT: Once = Once::new();

/// Installs the logger writing to `<dir>/combstore.log`, once per process.
/// Does nothing if the host already installed a `log` logger.
pub fn init(dir: &Path) {
    INIT.call_once(|| {
        let Ok(file) = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(dir.join("combstore.log"))
        else {
            return;
        };
        let filter = std::env::var("COMBSTORE_LOG").unwrap_or_else(|_| "info".to_owned());
        let pid = std::process::id();
        let _ = env_logger::Builder::new()
            .parse_filters(&filter)
            .format(move |buf, record| {
                use std::io::Write;
                writeln!(
                    buf,
                    "{} [{pid}] {} {}: {}",
                    buf.timestamp_millis(),
                    record.level(),
                    record.target(),
                    record.args()
                )
            })
            .target(env_logger::Target::Pipe(Box::new(file)))
            .try_init();
    });
}
