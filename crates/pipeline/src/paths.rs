//! The files a command will write (`--report`, `--rejects`), checked before it writes
//! anything anywhere: a run that can only fail at its end, after an hour of copying, because of
//! a typo in a path, is a run the operator must do again.
//!
//! The check never changes what is there: an existing file is opened for appending (not
//! truncated) and closed again; a missing one is created and removed at once, so a run that
//! fails before its end leaves no empty report behind.

use std::fs::OpenOptions;
use std::path::Path;

use anyhow::anyhow;

use crate::exit::{Exit, ExitCode};

/// `option`'s file `path` can be written: its directory exists, and the file can be opened for
/// writing (or created there). With `rewrites`, the file is also rewritten through a temporary
/// file beside it (the rejects file of a resumed run), so the directory itself must take new
/// files even when the file exists.
pub fn check_writable(option: &str, path: &Path, rewrites: bool) -> Result<(), Exit> {
    let usage = |what: String, hint: &str| {
        Err(Exit::new(
            ExitCode::USAGE,
            anyhow!("{option} {}: {what}", path.display()),
            Some(format!("nothing was written. {hint}")),
        ))
    };
    if path.as_os_str().is_empty() {
        return usage("an empty path".to_owned(), "name a file");
    }
    if path.is_dir() {
        return usage(
            "is a directory".to_owned(),
            &format!(
                "name a file, e.g. {}",
                path.join(default_name(option)).display()
            ),
        );
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return usage(
            format!("the directory {} does not exist", dir.display()),
            "create it first, or name a file in a directory that exists",
        );
    }
    let cannot = |e: std::io::Error| {
        usage(
            format!("cannot be written: {e}"),
            "check the permissions, or name a file elsewhere",
        )
    };
    if path.exists() {
        // Appending changes nothing until something is written; the file keeps its contents.
        if let Err(e) = OpenOptions::new().append(true).open(path) {
            return cannot(e);
        }
        if rewrites {
            let probe = dir.join(format!(".pgcutover-probe-{}", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&probe) {
                Ok(_) => {
                    let _ = std::fs::remove_file(&probe);
                }
                Err(e) => {
                    return usage(
                        format!("its directory {} takes no new files: {e}", dir.display()),
                        "check the directory's permissions, or name a file elsewhere",
                    )
                }
            }
        }
        return Ok(());
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => {
            let _ = std::fs::remove_file(path);
            Ok(())
        }
        Err(e) => cannot(e),
    }
}

fn default_name(option: &str) -> &'static str {
    match option {
        "--rejects" => "pgcutover-rejects.jsonl",
        _ => "pgcutover-report.json",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_a_usage_error_naming_the_option() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no/such/dir/report.json");
        let e = check_writable("--report", &path, false).expect_err("refused");
        assert_eq!(e.code, ExitCode::USAGE);
        let msg = format!("{:#}", e.error);
        assert!(msg.starts_with("--report "), "{msg}");
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(e.hint.is_some());
    }

    #[test]
    fn a_directory_is_not_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = check_writable("--rejects", dir.path(), true).expect_err("refused");
        assert!(format!("{:#}", e.error).contains("is a directory"));
    }

    #[test]
    fn an_existing_file_keeps_its_contents_and_a_new_one_is_not_left_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("old.json");
        std::fs::write(&old, "keep me").expect("write");
        check_writable("--report", &old, true).expect("writable");
        assert_eq!(std::fs::read_to_string(&old).expect("read"), "keep me");
        let new = dir.path().join("new.json");
        check_writable("--report", &new, false).expect("writable");
        assert!(!new.exists(), "the check left a file behind");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "no probe file left behind"
        );
    }
}
