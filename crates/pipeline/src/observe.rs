//! How the pipeline tells the operator what it does, without printing anything itself: the
//! binary implements [`Observer`] with its log lines and progress bars, a test or another
//! front end with whatever it likes.

use crate::report::StepReport;

/// Hears what a run does, as it happens.
pub trait Observer: Send + Sync {
    /// A step of the run began or ended ("created 11 table(s) in schema public").
    fn info(&self, message: &str);

    /// Something the operator should know and may act on: a retry, a skipped object, a table
    /// that failed.
    fn warn(&self, message: &str);

    /// A table starts loading; `rows` is the source's count when it is known.
    fn table(&self, name: &str, rows: Option<u64>) -> Box<dyn Progress>;

    /// A post-load step ran: it succeeded, failed, or became a warning. Told once the
    /// post-load phase it belongs to is over (keys and indexes; foreign keys; the rest),
    /// worker by worker; a table's own keys, indexes and CHECKs run while other tables are
    /// still copying are told as each ends, during the data phase.
    fn step_done(&self, _report: &StepReport) {}
}

/// One table's progress.
pub trait Progress: Send {
    /// Rows committed or in flight so far.
    fn set(&mut self, rows: u64);

    /// The table is done.
    fn finish(self: Box<Self>);
}
