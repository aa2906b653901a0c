//! Child processes: the test binary re-executes itself with a libtest filter
//! selecting one test and an environment variable selecting what the child
//! does there.
//!
//! * `isolated(test, body)`: run `body` in a fresh process (for init/terminate
//!   state, which is process-global, and for calls that may crash).
//! * `spawn_role(role, args)`: start the `role_host` test (main.rs) in a child
//!   that runs one of the roles of roles.rs and talks over stdin/stdout.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ISOLATED_ENV: &str = "COMBSTORE_FFI_ISOLATED";
pub const ROLE_ENV: &str = "COMBSTORE_FFI_ROLE";
pub const ARGS_ENV: &str = "COMBSTORE_FFI_ARGS";
const ISOLATED_OK: &str = "@@ISOLATED-OK@@";
const SEP: char = '\u{1f}';

fn self_command(test: &str) -> Command {
    // /proc/self/exe is this very binary even after a rebuild in the shared
    // target directory has replaced (deleted) the file it was started from.
    let proc_exe = std::path::Path::new("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().expect("current_exe")
    };
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    cmd.env_remove(ISOLATED_ENV)
        .env_remove(ROLE_ENV)
        .env_remove(ARGS_ENV);
    cmd
}

/// True in the child process spawned by `isolated(test, ..)`.
pub fn is_isolated_child(test: &str) -> bool {
    std::env::var(ISOLATED_ENV).map(|v| v == test).unwrap_or(false)
}

/// Run `body` in a fresh process (a re-exec of this test binary filtered to
/// `test`, which must be the full name of the calling test, e.g.
/// "lifecycle::calls_before_init_return_enot_init"). The parent asserts that
/// the child ran the body to the end and exited successfully.
pub fn isolated(test: &str, body: impl FnOnce()) {
    if is_isolated_child(test) {
        body();
        println!("{ISOLATED_OK}");
        return;
    }
    let mut cmd = self_command(test);
    cmd.env(ISOLATED_ENV, test).stdin(Stdio::null());
    let mut p = ChildProc::spawn(cmd);
    let status = p.wait(Duration::from_secs(120));
    let out = p.transcript();
    assert!(
        status.map(|s| s.success()).unwrap_or(false) && out.contains(ISOLATED_OK),
        "isolated child for {test} failed (status {status:?})\n--- child output ---\n{out}"
    );
}

/// Start the `role_host` test in a child process running `role` with `args`.
pub fn spawn_role(role: &str, args: &[&str]) -> ChildProc {
    spawn_role_with(role, args, |_| {})
}

/// As [`spawn_role`], with `configure` applied to the command first (extra
/// environment, a process group of its own, ...).
pub fn spawn_role_with(role: &str, args: &[&str], configure: impl FnOnce(&mut Command)) -> ChildProc {
    let mut cmd = self_command("role_host");
    cmd.env(ROLE_ENV, role)
        .env(ARGS_ENV, args.join(&SEP.to_string()))
        .stdin(Stdio::piped());
    configure(&mut cmd);
    ChildProc::spawn(cmd)
}

/// In the child: the role and its arguments, if this process is a role child.
pub fn role_args() -> Option<(String, Vec<String>)> {
    let role = std::env::var(ROLE_ENV).ok()?;
    let args = std::env::var(ARGS_ENV).unwrap_or_default();
    let args = if args.is_empty() {
        Vec::new()
    } else {
        args.split(SEP).map(str::to_string).collect()
    };
    Some((role, args))
}

/// Print a marker line the parent waits for ("@@NAME@@ rest").
pub fn say(marker: &str, rest: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n@@{marker}@@ {rest}").unwrap();
    out.flush().unwrap();
}

pub struct ChildProc {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    log: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ChildProc {
    fn spawn(mut cmd: Command) -> ChildProc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn child test process");
        let stdin = child.stdin.take();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = channel();
        let out = child.stdout.take().unwrap();
        let l1 = log.clone();
        let r1 = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l1.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let err = child.stderr.take().unwrap();
        let l2 = log.clone();
        let r2 = std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l2.lock().unwrap().push_str(&format!("[stderr] {line}\n"));
            }
        });
        ChildProc {
            child,
            stdin,
            lines: rx,
            log,
            readers: vec![r1, r2],
        }
    }

    /// Everything the child printed so far.
    pub fn transcript(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait for a "@@marker@@ rest" line; returns rest. Panics on timeout or
    /// if the child's output ends first.
    pub fn expect(&mut self, marker: &str, timeout: Duration) -> String {
        let tag = format!("@@{marker}@@");
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(pos) = line.find(&tag) {
                        return line[pos + tag.len()..].trim().to_string();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "child: no {tag} within {timeout:?}\n--- child output ---\n{}",
                        self.transcript()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let st = self.child.wait();
                    std::thread::sleep(Duration::from_millis(50));
                    panic!(
                        "child exited ({st:?}) before {tag}\n--- child output ---\n{}",
                        self.transcript()
                    )
                }
            }
        }
    }

    /// All "@@marker@@ rest" lines printed so far and until the child exits.
    pub fn collect(&mut self, marker: &str) -> Vec<String> {
        let tag = format!("@@{marker}@@");
        let mut out = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(300)) {
            if let Some(pos) = line.find(&tag) {
                out.push(line[pos + tag.len()..].trim().to_string());
            }
        }
        out
    }

    /// Send a line to the child's stdin.
    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("child stdin");
        writeln!(s, "{line}").expect("write to child stdin");
        s.flush().unwrap();
    }

    /// SIGKILL the child and reap it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill child");
        let st = self.child.wait().expect("wait child");
        assert!(!st.success(), "child was killed, yet exited successfully");
    }

    /// Wait for exit; None (after killing it) on timeout.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                // the reader threads end at EOF: join them so the transcript is whole
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for a successful exit or panic with the transcript.
    pub fn wait_success(&mut self, timeout: Duration) {
        let st = self.wait(timeout);
        assert!(
            st.map(|s| s.success()).unwrap_or(false),
            "child failed or timed out (status {st:?})\n--- child output ---\n{}",
            self.transcript()
        );
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
