//! The end of a run: the summary table (stdout), the JSON report (`--report FILE`) and the exit
//! code they imply.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use pgcutover_core::{show, show_ident, Warning};
use pgcutover_postgres::Target;
use serde::Serialize;

use crate::cli::Format;
use crate::exit::ExitCode;
use crate::process::{peak_memory_bytes, unix_now};
use pgcutover_core::source::Source;
use pgcutover_pipeline::report::{StepReport, TableReport};

#[derive(Debug, Serialize)]
pub struct Totals {
    pub tables: usize,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    pub bytes: u64,
    pub post_load_failed: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub pgcutover: &'static str,
    pub source: String,
    pub target: String,
    pub target_schema: String,
    pub started_at_unix: u64,
    pub seconds: f64,
    pub outcome: &'static str,
    pub exit_code: u8,
    pub tables: Vec<TableReport>,
    pub post_load: Vec<StepReport>,
    pub totals: Totals,
    pub warnings: Vec<Warning>,
    pub rejects_file: Option<String>,
    /// This process's peak resident memory (Linux VmHWM), for the change ticket and benchmarks.
    pub peak_memory_bytes: Option<u64>,
    /// `copy --verify`: what the verification found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verify_cmd::VerifyReport>,
    /// The run this invocation was part of (`copy` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// Why the run stopped before it was done; running the same command again resumes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The command that resumes this run, when it is not the same command: a `copy --restart`
    /// must be run again without `--restart`, which would throw the progress away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_with: Option<String>,
}

/// Where a copy stands in its run (see docs/resume.md).
#[derive(Debug, Serialize)]
pub struct RunInfo {
    /// 1 for the invocation that started the run, then 2, 3 … for each resume.
    pub attempt: i32,
    pub resumed: bool,
    /// Work earlier attempts had finished, which this one skipped.
    pub chunks_skipped: usize,
    pub steps_skipped: usize,
    /// Post-load steps not run because a table they need is not all in.
    pub steps_waiting: usize,
    /// Rows this invocation committed (the rest came from earlier attempts).
    pub rows_this_attempt: u64,
    /// Where the run state is kept in the target database.
    pub state_schema: &'static str,
}

impl Report {
    pub fn new(source: &dyn Source, target: &Target, schema: &str) -> Report {
        Report {
            pgcutover: env!("CARGO_PKG_VERSION"),
            source: source.display(),
            target: target.display().to_owned(),
            target_schema: schema.to_owned(),
            started_at_unix: unix_now(),
            seconds: 0.0,
            outcome: "ok",
            exit_code: 0,
            tables: Vec::new(),
            post_load: Vec::new(),
            totals: Totals {
                tables: 0,
                rows_read: 0,
                rows_written: 0,
                rows_rejected: 0,
                bytes: 0,
                post_load_failed: 0,
            },
            warnings: Vec::new(),
            rejects_file: None,
            peak_memory_bytes: None,
            verification: None,
            run: None,
            interrupted: None,
            resume_with: None,
        }
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.seconds = elapsed.as_secs_f64();
        self.peak_memory_bytes = peak_memory_bytes();
        self.totals = Totals {
            tables: self.tables.len(),
            rows_read: self.tables.iter().map(|t| t.rows_read).sum(),
            rows_written: self.tables.iter().map(|t| t.rows_written).sum(),
            rows_rejected: self.tables.iter().map(|t| t.rows_rejected).sum(),
            bytes: self.tables.iter().map(|t| t.bytes).sum(),
            post_load_failed: self
                .post_load
                .iter()
                .filter(|s| !s.ok && !s.demoted_to_warning)
                .count(),
        };
        let code = self.exit_code();
        self.exit_code = code.0;
        self.outcome = code.name();
        if code != ExitCode::INTERRUPTED
            && code != ExitCode::POST_LOAD_FAILED
            && code != ExitCode::LOAD_FAILED
        {
            // Nothing left to resume.
            self.resume_with = None;
        }
    }

    /// A table whose rows could not all go in outranks an interruption, which outranks a
    /// verification mismatch, a failed post-load step, then rejected rows: all are reported, the
    /// worst one is the code.
    pub fn exit_code(&self) -> ExitCode {
        if self.tables.iter().any(|t| t.error.is_some()) {
            ExitCode::LOAD_FAILED
        } else if self.interrupted.is_some() {
            ExitCode::INTERRUPTED
        } else if self
            .verification
            .as_ref()
            .is_some_and(|v| v.exit_code() == ExitCode::VERIFY_MISMATCH)
        {
            ExitCode::VERIFY_MISMATCH
        } else if self.totals.post_load_failed > 0 {
            ExitCode::POST_LOAD_FAILED
        } else if self.totals.rows_rejected > 0 {
            ExitCode::ROWS_REJECTED
        } else {
            ExitCode::OK
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::output::write_json_file(path, self)
    }

    pub fn print(&self, format: Format) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if format == Format::Json {
            return crate::output::print_json(&mut out, "report", self);
        }
        let mut out = crate::output::TerminalText(out);
        let name_w = crate::output::name_width(self.tables.iter().map(|t| t.table.as_str()));
        writeln!(
            out,
            "\n{:name_w$}  {:>12}  {:>12}  {:>9}  {:>8}  {:>9}",
            "table", "rows read", "written", "rejected", "seconds", "MB"
        )?;
        for t in &self.tables {
            writeln!(
                out,
                "{:name_w$}  {:>12}  {:>12}  {:>9}  {:>8.2}  {:>9.2}",
                show_ident(&t.table),
                t.rows_read,
                t.rows_written,
                t.rows_rejected,
                t.seconds,
                t.bytes as f64 / 1e6
            )?;
        }
        let tot = &self.totals;
        writeln!(
            out,
            "{:name_w$}  {:>12}  {:>12}  {:>9}  {:>8.2}  {:>9.2}",
            "total",
            tot.rows_read,
            tot.rows_written,
            tot.rows_rejected,
            self.seconds,
            tot.bytes as f64 / 1e6
        )?;
        for t in self.tables.iter() {
            if let Some(e) = &t.error {
                writeln!(
                    out,
                    "FAILED: {}: {} of {} chunk(s) not loaded: {}",
                    show_ident(&t.table),
                    t.chunks - t.chunks_done,
                    t.chunks,
                    show(e)
                )?;
            }
        }
        let ok_steps = self.post_load.iter().filter(|s| s.ok).count();
        writeln!(
            out,
            "\npost-load: {ok_steps} of {} step(s) succeeded",
            self.post_load.len()
        )?;
        if let Some(r) = self.run.as_ref().filter(|r| r.steps_waiting > 0) {
            writeln!(
                out,
                "  {} step(s) wait for the tables whose rows are not all in",
                r.steps_waiting
            )?;
        }
        for s in self.post_load.iter().filter(|s| !s.ok || s.note.is_some()) {
            let error = s.error.as_deref().unwrap_or("");
            let (what, detail) = match &s.note {
                Some(note) => ("warning", note.as_str()),
                None if s.demoted_to_warning => ("not carried over", error),
                None => ("FAILED", error),
            };
            writeln!(
                out,
                "  {what}: {} {} on {}: {}",
                s.kind.label(),
                show_ident(&s.object),
                show_ident(&s.table),
                show(detail)
            )?;
        }
        if !self.warnings.is_empty() {
            writeln!(
                out,
                "warnings: {} (see `pgcutover plan` or the report)",
                self.warnings.len()
            )?;
        }
        if let Some(f) = &self.rejects_file {
            writeln!(
                out,
                "rejected rows: {} written to {}",
                tot.rows_rejected,
                show(f)
            )?;
        }
        if let Some(v) = &self.verification {
            crate::verify_cmd::print_text(v, &mut out)?;
        }
        let moved = self
            .run
            .as_ref()
            .map_or(tot.rows_written, |r| r.rows_this_attempt);
        if let Some(r) = self.run.as_ref().filter(|r| r.resumed) {
            writeln!(
                out,
                "resumed: attempt {}, skipped {} chunk(s) and {} step(s) done before; {} row(s) copied now",
                r.attempt, r.chunks_skipped, r.steps_skipped, r.rows_this_attempt
            )?;
        }
        let rate = moved as f64 / self.seconds.max(1e-9);
        let mem = self.peak_memory_bytes.map_or(String::new(), |b| {
            format!(", peak memory {:.0} MB", b as f64 / 1e6)
        });
        writeln!(
            out,
            "outcome: {} (exit {}), {} rows in {:.1}s, {:.0} rows/s{mem}",
            self.outcome, self.exit_code, moved, self.seconds, rate
        )?;
        // Which command goes on from here: the same one, or (after `--restart`) the same one
        // without it, spelled out.
        let again = match &self.resume_with {
            None => "run the same command again".to_owned(),
            Some(_) => "run the command again WITHOUT --restart (with it, the progress made would be thrown away)".to_owned(),
        };
        let shown = self
            .resume_with
            .as_ref()
            .map_or(String::new(), |c| format!(":\n  {c}"));
        if let Some(why) = &self.interrupted {
            writeln!(out, "interrupted: {}", show(why))?;
        }
        if self.exit_code == ExitCode::LOAD_FAILED.0 {
            writeln!(out, "hint: PostgreSQL refused the rows of the table(s) marked FAILED (each chunk was rolled back; everything else is in). Fix the cause named above, then {again}: it loads only what failed, then the post-load steps that wait for it{shown}")?;
        } else if self.interrupted.is_some() {
            writeln!(out, "hint: everything committed stays; {again} to resume (`pgcutover status TARGET` shows what is done, `pgcutover reset TARGET` removes it all){shown}")?;
        } else if self.exit_code == ExitCode::POST_LOAD_FAILED.0 {
            writeln!(out, "hint: the rows are in; fix the cause named above and {again}: it skips what is done and tries the failed steps again. For orphans, --orphans skip or --orphans not-valid decides instead{shown}")?;
        }
        Ok(())
    }
}
