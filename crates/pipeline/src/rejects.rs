//! The rejects file: one JSON object per rejected row (JSON Lines), created on the first reject.
//!
//! Each line carries the chunk that read the row. A chunk's rejects are flushed to disk before
//! its COPY commits, so every committed chunk has its rejects in the file. A chunk that was
//! interrupted may have written some and will write them again, so a resumed run first keeps
//! only the lines of chunks the run state says are done.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use pgcutover_core::Reject;

pub struct RejectLog {
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
    /// Append to the file (a resumed run) instead of replacing it.
    append: bool,
    count: AtomicU64,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    reject: &'a Reject,
    chunk: i32,
}

/// A changed row rejected while following: `position` is where the log goes on after its
/// transaction.
#[derive(serde::Serialize)]
struct FollowedLine<'a> {
    #[serde(flatten)]
    reject: &'a Reject,
    position: &'a str,
}

impl RejectLog {
    /// A new run's log: the file is replaced on the first reject.
    pub fn new(path: PathBuf) -> RejectLog {
        RejectLog {
            path,
            file: Mutex::new(None),
            append: false,
            count: AtomicU64::new(0),
        }
    }

    /// A complete run's log, for following it further (`cutover` applying the last changes):
    /// keeps every copied row's line and the first `followed` lines written while following.
    pub fn resume_following(path: PathBuf, followed: u64) -> std::io::Result<RejectLog> {
        RejectLog::keeping(path, &|_| true, followed)
    }

    /// A resumed run's log: keeps the rejects of the chunks in `done` (table, chunk), and the
    /// first `followed` rejects written while following (the ones the run state counts: the
    /// rest belong to transactions that were not committed), and drops the rest. Returns the
    /// log and how many rejects it kept.
    pub fn resume(
        path: PathBuf,
        done: &HashSet<(String, i32)>,
        followed: u64,
    ) -> std::io::Result<RejectLog> {
        RejectLog::keeping(path, &|chunk| done.contains(&chunk), followed)
    }

    /// Keeps the lines of chunks `done` says are done, and the first `followed` lines written
    /// while following; drops the rest (and any line a killed run left half-written).
    fn keeping(
        path: PathBuf,
        done: &dyn Fn((String, i32)) -> bool,
        followed: u64,
    ) -> std::io::Result<RejectLog> {
        let mut kept = 0u64;
        let mut followed_kept = 0u64;
        match File::open(&path) {
            Ok(f) => {
                let tmp = path.with_extension("jsonl.partial");
                {
                    let mut out = BufWriter::new(File::create(&tmp)?);
                    for line in BufReader::new(f).lines() {
                        let line = line?;
                        let keep = serde_json::from_str::<serde_json::Value>(&line)
                            .ok()
                            .and_then(|v| {
                                if is_followed(&v) {
                                    followed_kept += 1;
                                    return Some(followed_kept <= followed);
                                }
                                let table = v.get("table")?.as_str()?.to_owned();
                                let chunk = i32::try_from(v.get("chunk")?.as_i64()?).ok()?;
                                Some(done((table, chunk)))
                            })
                            .unwrap_or(false);
                        if keep {
                            out.write_all(line.as_bytes())?;
                            out.write_all(b"\n")?;
                            kept += 1;
                        }
                    }
                    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                }
                std::fs::rename(&tmp, &path)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(RejectLog {
            path,
            file: Mutex::new(None),
            append: true,
            count: AtomicU64::new(kept),
        })
    }

    pub fn write(&self, r: &Reject, chunk: i32) -> std::io::Result<()> {
        self.write_line(&Line { reject: r, chunk })
    }

    fn write_line(&self, line: &impl serde::Serialize) -> std::io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let f = if self.append {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?
            } else {
                File::create(&self.path)?
            };
            *guard = Some(BufWriter::new(f));
        }
        let w = guard.as_mut().expect("just created");
        serde_json::to_writer(&mut *w, line)?;
        w.write_all(b"\n")?;
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a changed row rejected while following, in the transaction after which the log
    /// goes on at `position`.
    pub fn write_followed(&self, r: &Reject, position: &str) -> std::io::Result<()> {
        self.write_line(&FollowedLine {
            reject: r,
            position,
        })
    }

    /// Writes what is buffered and waits until it is on disk.
    pub fn sync(&self) -> std::io::Result<()> {
        if let Some(w) = self.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            w.flush()?;
            w.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Rejects in the file, this run's and (resumed) the earlier attempts' kept ones.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether a line of the rejects file was written while following (it has the position of
/// its transaction, not a chunk).
pub fn is_followed(line: &serde_json::Value) -> bool {
    line.get("position").is_some() && line.get("chunk").is_none()
}

/// The copy's batching sink writes the rows it rejects here.
impl pgcutover_postgres::batch::RejectWriter for RejectLog {
    fn write(&self, reject: &Reject, chunk: i32) -> std::io::Result<()> {
        RejectLog::write(self, reject, chunk)
    }

    fn path(&self) -> &Path {
        RejectLog::path(self)
    }
}
