//! Exit codes: one place, documented in README.md ("Exit codes").

use std::fmt;

use pgcutover_core::source::{ErrorKind, SourceError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ExitCode(pub u8);

impl ExitCode {
    /// Every row arrived and every step succeeded.
    pub const OK: ExitCode = ExitCode(0);
    /// An unexpected failure (I/O, a COPY that failed, a bug).
    pub const FAILED: ExitCode = ExitCode(1);
    /// Bad usage: unknown option, malformed SOURCE or TARGET (clap also exits 2).
    pub const USAGE: ExitCode = ExitCode(2);
    /// Cannot connect to the target or open the source.
    pub const CANNOT_CONNECT: ExitCode = ExitCode(3);
    /// The target already holds a table the copy would create; nothing was written.
    pub const TARGET_NOT_EMPTY: ExitCode = ExitCode(4);
    /// The copy finished, but some rows were rejected (see the rejects file).
    pub const ROWS_REJECTED: ExitCode = ExitCode(5);
    /// The data is in, but a key, index, constraint or foreign key could not be created.
    pub const POST_LOAD_FAILED: ExitCode = ExitCode(6);
    /// Verification found rows that differ between source and target (or a table or column
    /// the target lacks).
    pub const VERIFY_MISMATCH: ExitCode = ExitCode(7);
    /// Interrupted (Ctrl-C, SIGTERM, or a fault that outlasted its retries), and resumable:
    /// everything committed stays, and running the same command again goes on from there.
    pub const INTERRUPTED: ExitCode = ExitCode(8);
    /// Some table's rows could not all be loaded: PostgreSQL refused a chunk's COPY (or its
    /// source rows could not be read). That chunk was rolled back; everything else is in, and
    /// running the same command again, once the cause is fixed, loads only what failed.
    pub const LOAD_FAILED: ExitCode = ExitCode(9);

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "ok",
            1 => "failed",
            2 => "usage",
            3 => "cannot_connect",
            4 => "target_not_empty",
            5 => "rows_rejected",
            6 => "post_load_failed",
            7 => "verify_mismatch",
            8 => "interrupted",
            9 => "load_failed",
            _ => "unknown",
        }
    }
}

/// An error that ends the run with a specific code and an optional hint for the operator.
#[derive(Debug)]
pub struct Exit {
    pub code: ExitCode,
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

impl Exit {
    pub fn new(
        code: ExitCode,
        error: impl Into<anyhow::Error>,
        hint: impl Into<Option<String>>,
    ) -> Exit {
        Exit {
            code,
            error: error.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// Any error fails the run (exit 1), but a source's own error says what kind of failure it is
/// and what to check, wherever it comes from.
impl<E: Into<anyhow::Error>> From<E> for Exit {
    fn from(e: E) -> Exit {
        let error = e.into();
        let (code, hint) = match error.downcast_ref::<SourceError>() {
            Some(s) => (
                match s.kind {
                    ErrorKind::Usage => ExitCode::USAGE,
                    ErrorKind::CannotConnect => ExitCode::CANNOT_CONNECT,
                    ErrorKind::Failed => ExitCode::FAILED,
                },
                s.hint.clone(),
            ),
            None => (ExitCode::FAILED, None),
        };
        Exit { code, error, hint }
    }
}

/// The error and its causes, `: `-separated, on one line, leaving out a cause a driver already
/// quoted in the message above it (tokio-postgres does), so nothing is said twice. A PostgreSQL
/// error is its message, then its detail and where it happened in parentheses (the driver's
/// own rendering spreads them over lines).
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = match cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::as_db_error)
        {
            Some(db) => {
                let mut t = db.message().to_owned();
                if let Some(detail) = db.detail() {
                    t.push_str(&format!(" ({})", detail.trim_end_matches('.')));
                }
                if let Some(place) = db.where_() {
                    t.push_str(&format!(" (at {})", place.replace('\n', "; ")));
                }
                t
            }
            None => cause.to_string(),
        };
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        // A PostgreSQL error's own causes are in what was just written.
        if cause
            .downcast_ref::<tokio_postgres::Error>()
            .is_some_and(|e| e.as_db_error().is_some())
        {
            break;
        }
    }
    out
}
