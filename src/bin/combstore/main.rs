//! `combstore`: the storage administrator's tool (seed 000, slide 23: LSU
//! configuration is outside the plugin API; the vendor supplies a tool).
//! It drives the engine directly, never the C boundary, and coordinates
//! with running backups through the same catalog transactions and locks.
//!
//! Exit status: 0 success; 2 usage; 3 damage or inconsistency found;
//! 4 server, LSU or image not found; 5 I/O or any other failure
//! (permission denied included); 6 refused (an LSU not empty, a file
//! that exists, an image in use, a confirmation not given, a foreign
//! directory for `init`): nothing was changed. A closed pipe on stdout
//! (`combstore image list | head -1`) ends it silently, killed by
//! SIGPIPE as cat and git are (shells report 141).
//!
//! Output: `--json` prints exactly one JSON document (an array for
//! listings, `[]` when empty; an object otherwise), except `events
//! --follow --json`, which prints JSON lines as events come. Questions
//! (`lsu remove --force` on a terminal) and warnings go to stderr.

mod man;
mod output;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use combstore::archive::SqlValue;
use combstore::engine::DEFAULT_LSU;
use combstore::engine::cred::Credentials;
use combstore::engine::{Error, EventKind, ImageInfo, ImageName, ImageState, Server, Severity};
use serde_json::json;

const EXAMPLES: &str = "\
Examples:
  combstore init /srv/backup
  combstore init /srv/pool --pool /root/s3.env
  export COMBSTORE_SERVER=/srv/backup
  combstore lsu create weekly --capacity 2T --label \"weekly fulls\"
  combstore image list --lsu weekly --sort size
  combstore image show client1_1700000000_C1_F1
  combstore verify --image client1_1700000000_C1_F1
  combstore lsu remove weekly --force --dry-run
  combstore events --follow --json

Exit status: 0 ok, 2 usage, 3 damage found, 4 not found, 5 I/O or other
failure, 6 refused (nothing changed). --json prints one JSON document
(events --follow --json: one JSON object per line).";

#[derive(Parser)]
#[command(
    name = "combstore",
    version,
    about = "Administer combstore storage servers",
    after_help = EXAMPLES
)]
struct Cli {
    /// Server directory (default: $COMBSTORE_SERVER).
    #[arg(short, long, global = true, env = "COMBSTORE_SERVER")]
    server: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a server directory (refuses a non-empty foreign directory).
    /// Directories it creates are 0700, files 0600, whatever the umask.
    Init {
        /// The server directory to create (its parents too).
        dir: PathBuf,
        /// Require these credentials from plugin clients (with --password-file).
        #[arg(long, requires = "password_file")]
        user: Option<String>,
        /// File holding the secret (one trailing newline is dropped; "-" reads stdin).
        #[arg(long, requires = "user")]
        password_file: Option<PathBuf>,
        /// Make it a pool: keep chunk data in the S3-compatible object
        /// store this file names (COMBSTORE_S3_* lines, as
        /// scripts/garage.sh writes; copied to DIR/pool.conf, mode 0600).
        #[arg(long, value_name = "FILE")]
        pool: Option<PathBuf>,
    },
    /// Credentials plugin clients must pass to stsp_open_server
    /// (a server without them admits every client).
    #[command(subcommand)]
    Credentials(CredCommand),
    /// Logical storage units.
    #[command(subcommand)]
    Lsu(LsuCommand),
    /// Images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Re-read every stored byte; report damaged images (exit 3 if any). Changes no data (flags damaged chunks so new backups store them anew).
    #[command(
        after_help = "Examples:\n  combstore verify\n  combstore verify --lsu weekly --json\n  \
                            combstore verify --image client1_1700000000_C1_F1 --date 1700000000"
    )]
    Verify {
        /// Only this LSU.
        #[arg(long)]
        lsu: Option<String>,
        /// Only this image (its basename; in every LSU that holds it unless --lsu).
        #[arg(long)]
        image: Option<String>,
        /// Date part of the --image name (default: empty).
        #[arg(long, requires = "image")]
        date: Option<String>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the catalog against itself and the segment files (exit 3 on errors).
    Doctor {
        /// First run the recovery the plugin runs on open.
        #[arg(long)]
        repair: bool,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the server's events (oldest first); --follow waits for new ones.
    Events {
        /// Keep waiting for new events (until interrupted).
        #[arg(long)]
        follow: bool,
        /// Print one JSON array instead of text (with --follow: one JSON object per line).
        #[arg(long)]
        json: bool,
    },
    /// Run space reclamation now and report the bytes freed.
    Reclaim {
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Query archive objects (5800 query language), printing OIDs and selected fields.
    #[command(
        after_help = "Examples:\n  combstore query \"ost.basename LIKE 'client1%'\"\n  \
                            combstore query \"system.object_size > 1048576\" --select ost.basename,system.object_size --json"
    )]
    Query {
        /// The WHERE expression, e.g. "ost.basename LIKE 'client1%'".
        expr: String,
        /// Fields to print with each OID, comma-separated.
        #[arg(long, value_delimiter = ',')]
        select: Vec<String>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Per-LSU logical bytes, bytes after deduplication and after
    /// compression (stored), their ratios, image counts by state.
    Stats {
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum CredCommand {
    /// Set (or replace) the user name and secret; open handles stay open.
    Set {
        /// The user name clients must pass.
        #[arg(long)]
        user: String,
        /// File holding the secret (one trailing newline is dropped; "-" reads stdin).
        #[arg(long)]
        password_file: PathBuf,
    },
    /// Remove the credentials: every client is admitted again.
    Clear,
    /// Show whether credentials are required, and for which user.
    Show {
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum LsuCommand {
    /// Create an LSU.
    Create {
        /// The new LSU's name.
        name: String,
        /// A label shown in its properties (at most 127 bytes).
        #[arg(long, default_value = "", value_parser = parse_label)]
        label: String,
        /// Capacity quota, e.g. 500G, 1T, 1048576 (default: the filesystem's size).
        #[arg(long, value_parser = parse_size)]
        capacity: Option<u64>,
        /// When deleted images' space is freed: immediate (in the delete) or
        /// deferred (by `combstore reclaim` or the next open).
        #[arg(long, value_parser = ["immediate", "deferred"])]
        reclaim: Option<String>,
    },
    /// List LSUs.
    List {
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change an LSU's label, capacity, reclaim policy or low-space threshold.
    Set {
        /// The LSU.
        name: String,
        /// A label shown in its properties (at most 127 bytes).
        #[arg(long, value_parser = parse_label)]
        label: Option<String>,
        /// Raise a low-space event when free space falls below this % of the
        /// filesystem (0-100; default 10; `lsu show` reports it).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=100))]
        low_space_pct: Option<u64>,
        /// Capacity quota (0 removes it), e.g. 500G.
        #[arg(long, value_parser = parse_size)]
        capacity: Option<u64>,
        /// immediate or deferred (see lsu create).
        #[arg(long, value_parser = ["immediate", "deferred"])]
        reclaim: Option<String>,
    },
    /// Remove an LSU; one holding images is refused unless --force (which deletes them).
    #[command(
        after_help = "Examples:\n  combstore lsu remove spare\n  combstore lsu remove weekly --force --dry-run\n  \
                            combstore lsu remove weekly --force          # asks on a terminal\n  \
                            combstore lsu remove weekly --force --yes    # does not ask"
    )]
    /// On a terminal, --force asks for the LSU's name first (--yes skips
    /// that); elsewhere --force alone goes ahead. The default LSU is never removed.
    Remove {
        /// The LSU.
        name: String,
        /// Delete the LSU's images too (each as `image delete` does).
        #[arg(long)]
        force: bool,
        /// With --force on a terminal: do not ask for confirmation.
        #[arg(long, requires = "force")]
        yes: bool,
        /// Print what would be deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show one LSU.
    Show {
        /// The LSU.
        name: String,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// List images (all LSUs unless --lsu).
    #[command(after_help = "Examples:\n  combstore image list --lsu weekly --sort size\n  \
                            combstore image list --name 'client1_*' --state complete --since 2024-01-01 --json")]
    List {
        /// Only images of this LSU.
        #[arg(long)]
        lsu: Option<String>,
        /// Only names matching this pattern (* and ? wildcards).
        #[arg(long)]
        name: Option<String>,
        /// Only images in this state.
        #[arg(long, value_parser = ["writing", "incomplete", "aborted", "broken", "complete"])]
        state: Option<String>,
        /// Only images created on or after this date (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Sort by name, size (largest first) or created (oldest first).
        #[arg(long, default_value = "name", value_parser = ["name", "size", "created"])]
        sort: String,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write an image's bytes to stdout.
    Cat {
        /// The image's basename.
        name: String,
        /// The image's date (default: the only image of that basename).
        #[arg(long)]
        date: Option<String>,
        /// The LSU holding it.
        #[arg(long, default_value = "default")]
        lsu: String,
    },
    #[command(
        after_help = "Examples:\n  combstore image export client1_1700000000_C1_F1 /tmp/c1.img\n  \
                            combstore image export client1_1700000000_C1_F1 /tmp/c1.img --date 1700000000 --force"
    )]
    /// Write an image's bytes to a file (via a temporary file renamed into
    /// place once every byte is verified; an existing file is kept unless --force).
    Export {
        /// The image's basename.
        name: String,
        /// Destination file.
        output: PathBuf,
        /// The image's date (default: the only image of that basename).
        #[arg(long)]
        date: Option<String>,
        /// The LSU holding it.
        #[arg(long, default_value = "default")]
        lsu: String,
        /// Replace the destination if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Show every property of an image.
    Show {
        /// The image's basename.
        name: String,
        /// The image's date (default: the only image of that basename).
        #[arg(long)]
        date: Option<String>,
        /// The LSU holding it.
        #[arg(long, default_value = "default")]
        lsu: String,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete an image.
    Delete {
        /// The image's basename.
        name: String,
        /// The image's date (default: empty; required for a dated image).
        #[arg(long)]
        date: Option<String>,
        /// The LSU holding it.
        #[arg(long, default_value = "default")]
        lsu: String,
    },
}

/// A failure with its exit class.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Exit status of a refusal: nothing was changed.
const REFUSED: u8 = 6;

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let code = match e {
            Error::NoServer(_) | Error::NoLsu(_) | Error::NoImage(_) => 4,
            Error::Corrupt(_) | Error::Broken(_) => 3,
            Error::Name(_) | Error::Invalid(_) => 2,
            Error::NotEmpty(_) | Error::Busy(_) | Error::InUse(_) | Error::Exists(_) => REFUSED,
            _ => 5,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

type Outcome = Result<ExitCode, Failure>;

fn main() -> ExitCode {
    // A reader that goes away (`combstore image list | head -1`) ends the
    // tool silently, as it ends cat or git: killed by SIGPIPE (shells
    // report 141), where Rust's default (SIGPIPE ignored) makes every
    // print panic. Catalog transactions are atomic, so dying mid-way
    // leaves nothing half-done.
    // SAFETY: called before any thread starts; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // `combstore man-pages DIR`, run by `make install`, is not part of the
    // clap definition: shell completions and man pages list no such command.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "man-pages") {
        return man::main(&args[2..]);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "combstore: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Outcome {
    let server_dir = || -> Result<PathBuf, Failure> {
        let dir = cli.server.clone().ok_or(Failure {
            code: 2,
            message: "no server directory: pass --server DIR or set COMBSTORE_SERVER".into(),
        })?;
        Ok(absolute(&dir))
    };
    match cli.command {
        Command::Init {
            dir,
            user,
            password_file,
            pool,
        } => {
            let cred = match (user, password_file) {
                (Some(u), Some(f)) => Some((u, read_secret(&f)?)),
                _ => None,
            };
            let dir = absolute(&dir);
            let Some(pool) = pool else {
                return init(&dir, cred);
            };
            // A pool whose store refuses the key (or cannot be reached)
            // is not created: what this init made goes again, so that
            // the corrected command can be run as it is.
            let fresh = !dir.exists();
            let made = write_pool_file(&dir, &pool).and_then(|()| init(&dir, cred));
            if made.is_err() && fresh {
                let _ = std::fs::remove_dir_all(&dir);
            }
            made
        }
        Command::Credentials(cmd) => credentials(&server_dir()?, cmd),
        Command::Lsu(cmd) => lsu(&server_dir()?, cmd),
        Command::Image(cmd) => image(&server_dir()?, cmd),
        Command::Verify {
            lsu,
            image,
            date,
            json,
        } => {
            let name = image
                .map(|b| ImageName::new(&b, date.as_deref().unwrap_or("")))
                .transpose()?;
            verify(
                &Server::inspect(&server_dir()?)?,
                lsu.as_deref(),
                name.as_ref(),
                json,
            )
        }
        Command::Doctor { repair, json } => doctor(&server_dir()?, repair, json),
        Command::Stats { json } => stats(&Server::inspect(&server_dir()?)?, json),
        Command::Events { follow, json } => events(&Server::inspect(&server_dir()?)?, follow, json),
        Command::Reclaim { json } => {
            let freed = Server::open_existing(&server_dir()?)?.reclaim()?;
            if json {
                output::json(&json!({"reclaimed_bytes": freed}));
            } else {
                println!("reclaimed {} ({freed} bytes)", output::size(freed));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Query { expr, select, json } => {
            query(&Server::inspect(&server_dir()?)?, &expr, &select, json)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "combstore", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// "1048576", "512K", "1.5G", "1GiB", "2T" -> bytes (powers of 1024),
/// exactly (a fraction rounds down to a byte); at most `i64::MAX` bytes
/// (8 EiB - 1), what the catalog stores.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        "E" => 60,
        _ => return Err(format!("{s:?}: unknown unit (use K, M, G, T, P, E)")),
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(format!("{s:?} is not a size"));
    }
    let too_big = || format!("{s:?} is too large (at most {} bytes, 8 EiB - 1)", i64::MAX);
    // Integer arithmetic: whole * 2^shift + frac / 10^len * 2^shift.
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_big())?
    };
    let frac_digits = &frac[..frac.len().min(20)];
    let frac_part: u128 = if frac_digits.is_empty() {
        0
    } else {
        let f: u128 = frac_digits.parse().map_err(|_| format!("{s:?} is not a size"))?;
        (f << shift) / 10u128.pow(frac_digits.len() as u32)
    };
    let bytes = whole
        .checked_mul(1u128 << shift)
        .and_then(|b| b.checked_add(frac_part))
        .ok_or_else(too_big)?;
    i64::try_from(bytes).map(|b| b as u64).map_err(|_| too_big())
}

/// An LSU label as the engine takes it (checked before anything changes:
/// `lsu create` and `lsu set` make several changes).
fn parse_label(s: &str) -> Result<String, String> {
    combstore::engine::names::check_label(s).map_err(|e| match e {
        Error::Name(m) => m,
        e => e.to_string(),
    })?;
    Ok(s.to_owned())
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or(p.to_owned())
    }
}

fn init(dir: &Path, cred: Option<(String, Vec<u8>)>) -> Outcome {
    use std::os::unix::fs::DirBuilderExt;
    let existed = dir.join("catalog.db").exists();
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| Failure {
                code: 5,
                message: format!("creating {}: {e}", parent.display()),
            })?;
    }
    let server = Server::open(dir).map_err(|e| match e {
        // A foreign directory (or a file) is refused, not "not found".
        Error::NoServer(m) => Failure::new(REFUSED, format!("refused: {m}")),
        e => e.into(),
    })?;
    if let Some((user, secret)) = &cred {
        server.set_credentials(Some(Credentials { user, secret }))?;
        println!("clients must now pass credentials for user {user:?}");
    }
    if existed {
        println!("{} is already a combstore server", dir.display());
    } else {
        println!(
            "created server combstore:{} with LSU {:?}",
            server.dir().display(),
            server.all_lsu_names()?.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the pool file of a server not created yet from `src`
/// (engine::pool::write_pool_file checks it first).
fn write_pool_file(dir: &Path, src: &Path) -> Result<(), Failure> {
    let text =
        std::fs::read_to_string(src).map_err(|e| Failure::new(5, format!("{}: {e}", src.display())))?;
    combstore::engine::pool::write_pool_file(dir, &text).map_err(|e| match e {
        Error::Invalid(m) => Failure::new(2, format!("{}: {m}", src.display())),
        Error::Exists(m) => Failure::new(REFUSED, format!("refused: {m}")),
        e => e.into(),
    })
}

/// The secret in `path` ("-": stdin), without one trailing newline.
fn read_secret(path: &Path) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let mut secret = Vec::new();
    let res = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut secret).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut secret).map(|_| ()))
    };
    res.map_err(|e| Failure {
        code: 5,
        message: format!("{}: {e}", path.display()),
    })?;
    for end in [&b"\r\n"[..], b"\n"] {
        if let Some(s) = secret.strip_suffix(end) {
            secret.truncate(s.len());
            break;
        }
    }
    Ok(secret)
}

fn credentials(dir: &Path, cmd: CredCommand) -> Outcome {
    let server = Server::open_existing(dir)?;
    match cmd {
        CredCommand::Set { user, password_file } => {
            let secret = read_secret(&password_file)?;
            server.set_credentials(Some(Credentials {
                user: &user,
                secret: &secret,
            }))?;
            println!("clients must now pass credentials for user {user:?}");
        }
        CredCommand::Clear => {
            server.set_credentials(None)?;
            println!("credentials removed: every client is admitted");
        }
        CredCommand::Show { json } => {
            let user = server.credentials_user()?;
            if json {
                println!("{}", json!({"required": user.is_some(), "user": user}));
            } else {
                match user {
                    Some(u) => println!("credentials required for user {u:?}"),
                    None => println!("no credentials required"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn lsu_json(i: &combstore::engine::LsuInfo) -> serde_json::Value {
    json!({"name": i.name, "label": i.label, "capacity": i.capacity, "used": i.used,
           "used_phys": i.used_phys, "images": i.images, "low_space_pct": i.low_space_pct,
           "reclaim": if i.deferred_reclaim { "deferred" } else { "immediate" }})
}

/// A quota below what the LSU already stores is accepted (it stops
/// further growth), with a warning saying what that means.
fn warn_if_over_capacity(server: &Server, name: &str, capacity: u64) -> Result<(), Failure> {
    let info = server.lsu_info(name)?;
    if capacity > 0 && info.used_phys > capacity {
        eprintln!(
            "combstore: warning: LSU {name} already stores {} ({} bytes), more than its capacity {} ({capacity} bytes): \
             writes to it fail for lack of space until images are deleted",
            output::size(info.used_phys),
            info.used_phys,
            output::size(capacity)
        );
    }
    Ok(())
}

fn lsu(dir: &Path, cmd: LsuCommand) -> Outcome {
    match cmd {
        LsuCommand::Create {
            name,
            label,
            capacity,
            reclaim,
        } => {
            let server = Server::open_existing(dir)?;
            server.create_lsu(&name)?;
            if !label.is_empty() {
                server.set_lsu_label(&name, &label)?;
            }
            if let Some(c) = capacity {
                server.set_lsu_capacity(&name, c)?;
            }
            if let Some(policy) = reclaim {
                server.set_lsu_reclaim(&name, policy == "deferred")?;
            }
            println!("created LSU {name}");
        }
        LsuCommand::Set {
            name,
            label,
            low_space_pct,
            capacity,
            reclaim,
        } => {
            let server = Server::open_existing(dir)?;
            if let Some(c) = capacity {
                server.set_lsu_capacity(&name, c)?;
                warn_if_over_capacity(&server, &name, c)?;
            }
            if let Some(policy) = reclaim {
                server.set_lsu_reclaim(&name, policy == "deferred")?;
            }
            if let Some(label) = label {
                server.set_lsu_label(&name, &label)?;
            }
            if let Some(pct) = low_space_pct {
                server.set_low_space_pct(&name, pct)?;
            }
            println!("updated LSU {name}");
        }
        LsuCommand::Remove {
            name,
            force,
            yes,
            dry_run,
        } => return remove_lsu(dir, &name, force, yes, dry_run),
        LsuCommand::List { json } => {
            let server = Server::inspect(dir)?;
            let infos = server
                .lsu_names()?
                .iter()
                .map(|n| server.lsu_info(n))
                .collect::<Result<Vec<_>, _>>()?;
            if json {
                output::json(&json!(infos.iter().map(lsu_json).collect::<Vec<_>>()));
            } else {
                let rows: Vec<Vec<String>> = infos
                    .iter()
                    .map(|i| {
                        vec![
                            i.name.clone(),
                            i.images.to_string(),
                            output::size(i.used),
                            output::size(i.used_phys),
                            output::size(i.capacity),
                            i.label.clone(),
                        ]
                    })
                    .collect();
                output::table(&["LSU", "IMAGES", "USED", "PHYSICAL", "CAPACITY", "LABEL"], &rows);
            }
        }
        LsuCommand::Show { name, json } => {
            let info = Server::inspect(dir)?.lsu_info(&name)?;
            if json {
                output::json(&lsu_json(&info));
            } else {
                let rows = [
                    ("name", info.name.clone()),
                    ("label", info.label.clone()),
                    ("images", info.images.to_string()),
                    (
                        "used",
                        format!("{} ({} bytes)", output::size(info.used), info.used),
                    ),
                    (
                        "used_phys",
                        format!("{} ({} bytes)", output::size(info.used_phys), info.used_phys),
                    ),
                    (
                        "capacity",
                        format!("{} ({} bytes)", output::size(info.capacity), info.capacity),
                    ),
                    ("low space", format!("below {}% free", info.low_space_pct)),
                    (
                        "reclaim",
                        if info.deferred_reclaim {
                            "deferred"
                        } else {
                            "immediate"
                        }
                        .to_owned(),
                    ),
                ];
                for (k, v) in rows {
                    println!("{k:10} {v}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The STS_II_* flags a state shows through the plugin API.
fn flag_names(s: ImageState) -> Vec<&'static str> {
    match s {
        ImageState::Writing => vec!["IMAGE_PENDING", "BUSY_WRITE"],
        ImageState::Incomplete => vec!["IMAGE_PENDING"],
        ImageState::Aborted => vec!["IMAGE_PENDING", "ABNORMAL"],
        ImageState::Broken => vec!["ABNORMAL"],
        ImageState::Complete => vec!["IMAGE_CREATED", "IMAGE_COMPLETE"],
    }
}

fn state_name(s: ImageState) -> &'static str {
    match s {
        ImageState::Writing => "writing",
        ImageState::Incomplete => "incomplete",
        ImageState::Aborted => "aborted",
        ImageState::Broken => "broken",
        ImageState::Complete => "complete",
    }
}

fn image_json(i: &ImageInfo) -> serde_json::Value {
    json!({"lsu": i.lsu, "basename": i.name.basename, "date": i.name.date, "state": state_name(i.state),
           "size": i.size, "ctime_ms": i.ctime_ms, "mtime_ms": i.mtime_ms, "complete_ms": i.complete_ms,
           "extents": i.extent_count, "objid": i.objid, "sha1": i.sha1})
}

fn all_images(server: &Server, lsu: &str) -> Result<Vec<ImageInfo>, Failure> {
    let mut out: Vec<ImageInfo> = Vec::new();
    loop {
        let after = out.last().map(|i| i.name.clone());
        let page = server.list_images(lsu, after.as_ref(), 1000)?;
        let done = page.len() < 1000;
        for n in page {
            match server.image_info(lsu, &n) {
                Ok(i) => out.push(i),
                Err(Error::NoImage(_)) => {} // deleted while listing
                Err(e) => return Err(e.into()),
            }
        }
        if done {
            return Ok(out);
        }
    }
}

fn image(dir: &Path, cmd: ImageCommand) -> Outcome {
    match cmd {
        ImageCommand::List {
            lsu,
            name,
            state,
            since,
            sort,
            json,
        } => {
            let server = Server::inspect(dir)?;
            let lsus = match lsu {
                Some(l) => vec![l],
                None => server.all_lsu_names()?,
            };
            let mut images = Vec::new();
            for l in &lsus {
                images.extend(all_images(&server, l)?);
            }
            let since_ms = since.as_deref().map(parse_date).transpose()?;
            images.retain(|i| {
                name.as_deref().is_none_or(|p| glob(p, &i.name.basename))
                    && state.as_deref().is_none_or(|s| s == state_name(i.state))
                    && since_ms.is_none_or(|t| i.ctime_ms >= t)
            });
            match sort.as_str() {
                "size" => images.sort_by_key(|i| std::cmp::Reverse(i.size)),
                "created" => images.sort_by_key(|i| i.ctime_ms),
                _ => {} // "name": the listing's order (clap allows nothing else)
            }
            if json {
                output::json(&json!(images.iter().map(image_json).collect::<Vec<_>>()));
            } else {
                let rows: Vec<Vec<String>> = images
                    .iter()
                    .map(|i| {
                        vec![
                            i.lsu.clone(),
                            i.name.basename.clone(),
                            i.name.date.clone(),
                            state_name(i.state).to_owned(),
                            output::size(i.size),
                            output::time(i.ctime_ms),
                        ]
                    })
                    .collect();
                output::table(&["LSU", "IMAGE", "DATE", "STATE", "SIZE", "CREATED"], &rows);
            }
        }
        ImageCommand::Show {
            name,
            date,
            lsu,
            json,
        } => {
            let server = Server::inspect(dir)?;
            let name = resolve_image(&server, &lsu, &name, date)?;
            let info = server.image_info(&lsu, &name)?;
            let (shared, own) = server.image_sharing(&lsu, &name)?;
            if json {
                let mut v = image_json(&info);
                v["shared_bytes"] = json!(shared);
                v["own_bytes"] = json!(own);
                v["flags"] = json!(flag_names(info.state));
                output::json(&v);
            } else {
                let rows = [
                    ("lsu", info.lsu.clone()),
                    ("basename", info.name.basename.clone()),
                    ("date", info.name.date.clone()),
                    ("state", state_name(info.state).to_owned()),
                    (
                        "size",
                        format!("{} ({} bytes)", output::size(info.size), info.size),
                    ),
                    ("created", output::time(info.ctime_ms)),
                    ("modified", output::time(info.mtime_ms)),
                    ("completed", output::time(info.complete_ms)),
                    ("extents", info.extent_count.to_string()),
                    ("object id", info.objid.clone()),
                    ("sha1", info.sha1.clone()),
                    ("flags", flag_names(info.state).join("|")),
                    (
                        "shared",
                        format!(
                            "{} ({shared} bytes referred to by other images too)",
                            output::size(shared)
                        ),
                    ),
                    (
                        "own",
                        format!("{} ({own} bytes only this image refers to)", output::size(own)),
                    ),
                ];
                for (k, v) in rows {
                    println!("{k:10} {v}");
                }
            }
        }
        ImageCommand::Cat { name, date, lsu } => {
            let server = Server::inspect(dir)?;
            let name = resolve_image(&server, &lsu, &name, date)?;
            let mut out = std::io::stdout().lock();
            copy_image_bytes(&server, &lsu, &name, &mut out, false)?;
        }
        ImageCommand::Export {
            name,
            output: path,
            date,
            lsu,
            force,
        } => {
            let server = Server::inspect(dir)?;
            let name = resolve_image(&server, &lsu, &name, date)?;
            let n = export(&server, &lsu, &name, &path, force)?;
            println!("exported {name} ({}) to {}", output::size(n), path.display());
        }
        ImageCommand::Delete { name, date, lsu } => {
            let server = Server::open_existing(dir)?;
            // Destructive: only the image named exactly (basename and date,
            // the date empty without --date), never a guess.
            let exact = date.is_some();
            let name = resolve_image(&server, &lsu, &name, date)?;
            if !exact && !name.date.is_empty() {
                return Err(Failure::new(
                    2,
                    format!(
                        "image delete needs the date: {} exists with date {}; pass --date {}",
                        name.basename, name.date, name.date
                    ),
                ));
            }
            server.delete_image(&lsu, &name)?;
            println!("deleted {name} from LSU {lsu}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(server: &Server, lsu: Option<&str>, image: Option<&ImageName>, json: bool) -> Outcome {
    let mut total = 0;
    for l in match lsu {
        Some(l) => vec![l.to_owned()],
        None => server.all_lsu_names()?,
    } {
        total += server.lsu_info(&l)?.used;
    }
    let bar = output::progress(total, "verify");
    let report = server.verify(lsu, image, &mut |done| bar.set_position(done))?;
    bar.finish_and_clear();
    if json {
        let damaged: Vec<_> = report
            .damaged
            .iter()
            .map(|d| json!({"lsu": d.lsu, "basename": d.name.basename, "date": d.name.date, "reason": d.reason}))
            .collect();
        output::json(
            &json!({"images": report.images, "bytes": report.bytes, "damaged": damaged, "catalog": report.catalog}),
        );
    } else {
        for d in &report.damaged {
            println!("DAMAGED {}/{}: {}", d.lsu, d.name, d.reason);
        }
        println!(
            "verified {} images, {} read: {} damaged",
            report.images,
            output::size(report.bytes),
            report.damaged.len()
        );
    }
    if !report.catalog.is_empty() {
        eprintln!(
            "combstore: the catalog is corrupt (SQLite integrity check): {}",
            report.catalog.join("; ")
        );
    }
    Ok(if report.sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn doctor(dir: &Path, repair: bool, json: bool) -> Outcome {
    let report = (|| {
        let server = if repair {
            Server::open_existing(dir)?
        } else {
            Server::inspect(dir)?
        };
        server.check()
    })();
    let report = match report {
        Ok(r) => r,
        // A catalog too damaged to open or check (SQLite's corruption
        // codes, or any other catalog error such as a missing table) is a
        // finding too: the report (and --json's document) still comes out.
        Err(e @ (Error::Corrupt(_) | Error::Catalog(_))) => {
            eprintln!("combstore: {e}");
            let mut r = combstore::engine::CheckReport::default();
            r.findings.push(combstore::engine::Finding {
                severity: Severity::Error,
                check: "catalog readable".into(),
                detail: e.to_string(),
            });
            r
        }
        Err(e) => return Err(e.into()),
    };
    let label = |s: Severity| match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    };
    if json {
        let findings: Vec<_> = report
            .findings
            .iter()
            .map(|f| json!({"severity": label(f.severity), "check": f.check, "detail": f.detail}))
            .collect();
        output::json(&json!({"errors": report.errors(), "findings": findings}));
    } else {
        for f in &report.findings {
            println!("{:7} {}: {}", label(f.severity), f.check, f.detail);
        }
        println!("{} error(s)", report.errors());
    }
    Ok(if report.errors() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// `logical / part` as a ratio (0 when nothing is stored).
fn ratio(logical: u64, part: u64) -> f64 {
    if part == 0 {
        0.0
    } else {
        logical as f64 / part as f64
    }
}

fn stats(server: &Server, json: bool) -> Outcome {
    let mut rows = Vec::new();
    let mut out = Vec::new();
    let reduction = server.reduction()?;
    let mut total = combstore::engine::Reduction::default();
    for name in server.all_lsu_names()? {
        let info = server.lsu_info(&name)?;
        let r = reduction
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        total.logical += info.used;
        total.deduplicated += r.deduplicated;
        total.stored += info.used_phys;
        let images = all_images(server, &name)?;
        let count = |s: ImageState| images.iter().filter(|i| i.state == s).count();
        let states: Vec<(&str, usize)> = [
            ImageState::Complete,
            ImageState::Writing,
            ImageState::Incomplete,
            ImageState::Aborted,
            ImageState::Broken,
        ]
        .iter()
        .map(|s| (state_name(*s), count(*s)))
        .collect();
        let mut largest: Vec<&ImageInfo> = images.iter().collect();
        largest.sort_by_key(|i| std::cmp::Reverse(i.size));
        largest.truncate(3);
        let (dedup, comp, all) = (
            ratio(info.used, r.deduplicated),
            ratio(r.deduplicated, info.used_phys),
            ratio(info.used, info.used_phys),
        );
        out.push(json!({
            "lsu": name, "used": info.used, "deduplicated": r.deduplicated, "used_phys": info.used_phys,
            "dedup_ratio": dedup, "compression_ratio": comp, "sharing_ratio": all,
            "images": states.iter().map(|(s, n)| ((*s).to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "largest": largest.iter().map(|i| json!({"name": i.name.to_string(), "size": i.size})).collect::<Vec<_>>(),
        }));
        rows.push(vec![
            name,
            output::size(info.used),
            output::size(r.deduplicated),
            output::size(info.used_phys),
            format!("{dedup:.2}x"),
            format!("{comp:.2}x"),
            format!("{all:.2}x"),
            states
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
            largest
                .first()
                .map(|i| format!("{} ({})", i.name, output::size(i.size)))
                .unwrap_or_default(),
        ]);
    }
    if json {
        output::json(&json!(out));
    } else {
        rows.push(vec![
            "(all)".into(),
            output::size(total.logical),
            output::size(total.deduplicated),
            output::size(total.stored),
            format!("{:.2}x", ratio(total.logical, total.deduplicated)),
            format!("{:.2}x", ratio(total.deduplicated, total.stored)),
            format!("{:.2}x", ratio(total.logical, total.stored)),
            String::new(),
            String::new(),
        ]);
        output::table(
            &[
                "LSU",
                "LOGICAL",
                "DEDUPLICATED",
                "STORED",
                "DEDUP",
                "COMPRESSION",
                "TOTAL",
                "IMAGES",
                "LARGEST",
            ],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn event_kind(k: EventKind) -> &'static str {
    match k {
        EventKind::AsyncDone => "async-done",
        EventKind::DeleteDone => "delete-done",
        EventKind::Label => "label",
        EventKind::LowSpace => "low-space",
    }
}

/// `events`: text lines; with --json one array, but with --follow one
/// JSON object per line as each event comes (JSON lines).
fn events(server: &Server, follow: bool, json: bool) -> Outcome {
    let mut after = 0;
    let mut all = Vec::new();
    loop {
        let batch = if follow {
            server.next_event(after, None)?.into_iter().collect()
        } else {
            server.events_after(after, 1000)?
        };
        if batch.is_empty() {
            if json {
                output::json(&serde_json::Value::Array(all));
            }
            return Ok(ExitCode::SUCCESS);
        }
        for e in &batch {
            let image = ImageName {
                basename: e.basename.clone(),
                date: e.date.clone(),
            };
            if json {
                let v = json!({"id": e.id, "type": event_kind(e.kind), "time_ms": e.time_ms, "op_id": e.op_id,
                               "op_name": e.op_name, "outcome": e.outcome.name(), "lsu": e.lsu,
                               "basename": e.basename, "date": e.date, "bytes": e.bytes, "text": e.text});
                if follow {
                    println!("{v}");
                } else {
                    all.push(v);
                }
            } else {
                let op = if e.op_id > 0 {
                    format!(" op #{} {}", e.op_id, e.op_name)
                } else {
                    String::new()
                };
                let target = if e.basename.is_empty() {
                    String::new()
                } else {
                    format!(" {image}")
                };
                println!(
                    "#{} {} {}{op} {}{target} [{}] {}",
                    e.id,
                    output::time(e.time_ms),
                    event_kind(e.kind),
                    e.lsu,
                    e.outcome.name(),
                    e.text
                );
            }
            after = e.id;
        }
        let _ = std::io::stdout().flush();
    }
}

/// Streams a complete image's bytes (verified as read) to `out`.
fn copy_image_bytes(
    server: &Server,
    lsu: &str,
    name: &ImageName,
    out: &mut dyn Write,
    bar: bool,
) -> Result<u64, Failure> {
    let mut reader = server.open_image(lsu, name)?;
    let size = reader.size();
    let progress = if bar {
        output::progress(size, "export")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < size {
        let n = reader.read(off, &mut buf)?;
        out.write_all(&buf[..n]).map_err(|e| Failure {
            code: 5,
            message: format!("writing {name}: {e}"),
        })?;
        off += n as u64;
        progress.set_position(off);
    }
    progress.finish_and_clear();
    Ok(size)
}

/// The image `basename` with `date`, or without one: the image of that
/// basename with an empty date, or else the only image of that basename
/// (several are a usage error naming their dates).
fn resolve_image(
    server: &Server,
    lsu: &str,
    basename: &str,
    date: Option<String>,
) -> Result<ImageName, Failure> {
    if let Some(date) = date {
        return Ok(ImageName::new(basename, &date)?);
    }
    let bare = ImageName::new(basename, "")?;
    match server.image_info(lsu, &bare) {
        Err(Error::NoImage(_)) => {}
        _ => return Ok(bare),
    }
    // Names sort by (basename, date): the dates of `basename` follow `bare`.
    let mut dates = Vec::new();
    let mut after = bare.clone();
    loop {
        let page = server.list_images(lsu, Some(&after), 100)?;
        let full = page.len() == 100;
        let mine: Vec<ImageName> = page.into_iter().take_while(|n| n.basename == basename).collect();
        let more = full && mine.len() == 100;
        if let Some(last) = mine.last() {
            after = last.clone();
        }
        dates.extend(mine.into_iter().map(|n| n.date));
        if !more {
            break;
        }
    }
    match dates.len() {
        0 => Err(Error::NoImage(format!("{basename} (any date) in LSU {lsu}")).into()),
        1 => Ok(ImageName::new(basename, &dates[0])?),
        n => {
            let more = if n > 10 {
                format!(" and {} more", n - 10)
            } else {
                String::new()
            };
            Err(Failure::new(
                2,
                format!(
                    "{basename} has {n} images in LSU {lsu} (dates {}{more}): pass --date",
                    dates[..n.min(10)].join(", ")
                ),
            ))
        }
    }
}

/// `lsu remove`: refuses a non-empty LSU without --force, asks on a
/// terminal before deleting images, and with --dry-run only tells.
fn remove_lsu(dir: &Path, name: &str, force: bool, yes: bool, dry_run: bool) -> Outcome {
    use std::io::IsTerminal;
    let server = if dry_run {
        Server::inspect(dir)?
    } else {
        Server::open_existing(dir)?
    };
    let info = server.lsu_info(name)?;
    if dry_run {
        let images = all_images(&server, name)?;
        // the exit status the command would have: 2 (never), 6 (refused), 0
        let (what, code) = if name == DEFAULT_LSU {
            ("would refuse: the default LSU is never removed".to_owned(), 2)
        } else if !images.is_empty() && !force {
            let what = format!(
                "would refuse: LSU {name} holds {} images (pass --force to delete them)",
                images.len()
            );
            (what, REFUSED)
        } else if let Some(busy) = images.iter().find(|i| i.state == ImageState::Writing) {
            let what = format!("would refuse: image {} is open for writing", busy.name);
            (what, REFUSED)
        } else {
            let what = format!(
                "would remove LSU {name} and delete {} images ({})",
                images.len(),
                output::size(info.used)
            );
            (what, 0)
        };
        println!("{what}");
        for i in &images {
            println!("  {}  {}  {}", i.name, state_name(i.state), output::size(i.size));
        }
        return Ok(ExitCode::from(code));
    }
    if force && !yes && info.images > 0 && name != DEFAULT_LSU && std::io::stdin().is_terminal() {
        eprint!(
            "This deletes {} images ({}) in LSU {name} and removes it.\nType the LSU's name to confirm: ",
            info.images,
            output::size(info.used)
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Failure::new(5, format!("stdin: {e}")))?;
        if answer.trim_end_matches(['\r', '\n']) != name {
            return Err(Failure::new(REFUSED, "not confirmed: nothing was changed"));
        }
    }
    let deleted = server.remove_lsu(name, force).map_err(|e| match e {
        Error::NotEmpty(m) => Failure::new(
            REFUSED,
            format!("refused: {m} (pass --force to delete them; --dry-run lists them)"),
        ),
        e => e.into(),
    })?;
    println!("removed LSU {name} ({deleted} images deleted)");
    Ok(ExitCode::SUCCESS)
}

/// `image export`: the bytes go to a temporary file beside `path`,
/// renamed into place once all were read and verified and the file
/// synced. An existing `path` is kept unless `force`; a failure leaves
/// no file behind.
fn export(server: &Server, lsu: &str, name: &ImageName, path: &Path, force: bool) -> Result<u64, Failure> {
    use std::os::unix::ffi::OsStrExt;
    let io = |what: &Path, e: std::io::Error| Failure::new(5, format!("{}: {e}", what.display()));
    let exists = || {
        Failure::new(
            REFUSED,
            format!("refused: {} exists (--force replaces it)", path.display()),
        )
    };
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(exists());
    }
    // Fail before reading if the image is missing.
    server.image_info(lsu, name)?;
    let file_name = path
        .file_name()
        .ok_or_else(|| Failure::new(2, format!("{}: not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(std::ffi::OsStr::from_bytes(file_name.as_bytes()));
    tmp_name.push(format!(".combstore-{}.partial", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    let written = (|| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let n = copy_image_bytes(server, lsu, name, &mut out, true)?;
        let file = out.into_inner().map_err(|e| io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| io(&tmp, e))?;
        if force {
            std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
        } else {
            // A link never replaces: a file created meanwhile is kept.
            match std::fs::hard_link(&tmp, path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists()),
                // A filesystem without hard links: check, then rename.
                Err(_) if std::fs::symlink_metadata(path).is_err() => {
                    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?
                }
                Err(_) => return Err(exists()),
            }
        }
        Ok(n)
    })();
    let _ = std::fs::remove_file(&tmp);
    written
}

/// `*` and `?` wildcard match.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// "YYYY-MM-DD" (UTC midnight) -> ms since the epoch.
fn parse_date(s: &str) -> Result<u64, Failure> {
    let bad = || Failure {
        code: 2,
        message: format!("{s:?} is not a date (YYYY-MM-DD)"),
    };
    let v = combstore::archive::value::Value::decode(combstore::archive::FieldType::Date, s)
        .map_err(|_| bad())?;
    match v {
        combstore::archive::value::Value::Date(days) if days >= 0 => Ok(days as u64 * 86_400_000),
        _ => Err(bad()),
    }
}

/// `query`: one line per object (the OID, then each selected field); with
/// --json one array of {"oid", "fields"} objects, field values typed
/// (numbers for long and double fields, strings otherwise, null if unset).
fn query(server: &Server, expr: &str, select: &[String], json: bool) -> Outcome {
    use combstore::archive::value::Value;
    let schema = server.archive_schema()?;
    let selects: Vec<&str> = select.iter().map(String::as_str).collect();
    let plan = combstore::archive::query::translate_for(server.catalog_dialect(), expr, &selects, &schema)
        .map_err(|e| Failure::new(2, format!("query: {e}")))?;
    let mut after = String::new();
    let mut all = Vec::new();
    loop {
        let (sql, params) = plan
            .bind(&[], &after, 1000)
            .map_err(|e| Failure::new(2, format!("query: {e}")))?;
        let rows = server.run_object_query(&sql, &params)?;
        for row in &rows {
            let oid = match &row[0] {
                SqlValue::Text(t) => t.clone(),
                _ => String::new(),
            };
            let values: Vec<Option<Value>> = plan
                .selects()
                .iter()
                .zip(&row[1..])
                .map(|(col, v)| match v {
                    SqlValue::Null => None,
                    v => Value::from_sql(col.ty, v.clone()).ok(),
                })
                .collect();
            if json {
                let fields: serde_json::Map<String, serde_json::Value> = select
                    .iter()
                    .cloned()
                    .zip(values.iter().map(|v| match v {
                        None => serde_json::Value::Null,
                        Some(Value::Long(n)) => json!(n),
                        // JSON has no NaN or infinity: those are their
                        // canonical strings ("NaN", "Infinity"), not null
                        Some(Value::Double(d)) if d.is_finite() => json!(d),
                        Some(v) => json!(v.canonical()),
                    }))
                    .collect();
                all.push(json!({"oid": oid, "fields": fields}));
            } else {
                println!(
                    "{oid}{}",
                    values
                        .iter()
                        .map(|v| format!("  {}", v.as_ref().map(Value::canonical).unwrap_or_default()))
                        .collect::<String>()
                );
            }
            after = oid;
        }
        if rows.len() < 1000 {
            if json {
                output::json(&serde_json::Value::Array(all));
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument of every command says what it is for (`--help`).
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "combstore", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }

    #[test]
    fn help_shows_examples() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("Examples:\n  combstore init"), "{help}");
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_parse_exactly() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("0.5k"), Ok(512));
        assert_eq!(parse_size(&i64::MAX.to_string()), Ok(i64::MAX as u64));
        for bad in [
            "",
            ".",
            "x",
            "1.2.3",
            "8E",
            "9223372036854775808",
            "99999999999999999999",
            "1Q",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
