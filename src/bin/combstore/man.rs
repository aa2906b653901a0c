//! `combstore man-pages DIR` (`make install` runs it; not in the clap
//! definition, so neither completions nor pages list it): one man page per
//! command and subcommand, generated from the clap definition itself, so
//! the pages always say what `--help` says. Files are named after the
//! command path: combstore.1, combstore-lsu.1, combstore-lsu-create.1, ...

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

/// `combstore man-pages DIR`: exit 0, 2 (usage) or 5 (I/O).
pub fn main(args: &[OsString]) -> ExitCode {
    let [dir] = args else {
        let _ = writeln!(std::io::stderr(), "usage: combstore man-pages DIR");
        return ExitCode::from(2);
    };
    match write_all(crate::Cli::command(), Path::new(dir)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "combstore: writing man pages into {}: {e}",
                Path::new(dir).display()
            );
            ExitCode::from(5)
        }
    }
}

/// Writes the pages into `dir` (created if missing); the files written,
/// sorted.
pub fn write_all(cmd: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_tree(&cmd, dir, &mut written)?;
    written.sort();
    Ok(written)
}

fn write_tree(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, dir, written)?;
    }
    let man = clap_mangen::Man::new(cmd.clone()).manual("combstore manual");
    written.push(man.generate_to(dir)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_list_no_man_pages_command() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut crate::Cli::command(), "combstore", &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("verify"), "{shell}");
            assert!(!text.contains("man-pages"), "{shell} completions list man-pages");
        }
    }

    /// Every visible command path, walked independently of clap_mangen.
    fn paths(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            paths(sub, &name, out);
        }
        out.push(name);
    }

    #[test]
    fn one_page_per_command_and_subcommand_none_for_hidden_ones() {
        let dir = tempfile::TempDir::new().unwrap();
        let written = write_all(crate::Cli::command(), dir.path()).unwrap();
        let mut want = Vec::new();
        paths(&crate::Cli::command(), "", &mut want);
        let mut want: Vec<PathBuf> = want.iter().map(|n| dir.path().join(format!("{n}.1"))).collect();
        want.sort();
        assert_eq!(written, want);
        // nested commands are there, and the hidden generator is not
        for n in [
            "combstore.1",
            "combstore-lsu-create.1",
            "combstore-image-list.1",
            "combstore-completions.1",
        ] {
            assert!(dir.path().join(n).is_file(), "{n} missing");
        }
        assert!(!dir.path().join("combstore-man-pages.1").exists());
        let lsu_create = std::fs::read_to_string(dir.path().join("combstore-lsu-create.1")).unwrap();
        assert!(lsu_create.starts_with(".ie") || lsu_create.contains(".TH combstore-lsu-create 1"));
        assert!(lsu_create.contains("capacity"), "{lsu_create}");
        assert!(
            lsu_create.contains("combstore lsu create"),
            "synopsis: {lsu_create}"
        );
    }
}
