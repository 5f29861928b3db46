//! The seam between pgcutover and a source engine.
//!
//! An engine crate (MySQL/MariaDB, SQLite) implements three traits, and nothing outside it
//! knows which engine it is:
//!
//! - [`Source`]: a source named on the command line, before anything is read. It introspects
//!   itself into the [`Schema`] and hands back the [`Reads`]: how each of its tables is read.
//! - [`Reads`]: starts [`Readers`] (threads or sessions that stream a table's rows into a
//!   [`TableSink`]) and [`Session`]s (one connection for counts, key bounds and orphans).
//! - [`TableSink`] is the other side: a [`RowSink`] that also hears how the read ended.
//!
//! Errors come back as [`SourceError`], classified by the engine, which knows its driver:
//! what kind of failure it is for the operator ([`ErrorKind`]) and whether trying again can
//! help ([`Fault`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::adapt::TargetType;
use crate::policy::ValuePolicy;
use crate::range::{KeyRange, SplitKey};
use crate::zone::SourceZone;
use crate::{PgType, RowSink, Schema, Table, Warning};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What to do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Try again after a pause.
    Transient,
    /// Cannot go on now, but running the same command again resumes.
    Resumable,
    /// A real failure: trying again would fail the same way.
    Fatal,
}

/// What a source error means to the operator (each has its exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line asks for something this source cannot do.
    Usage,
    /// The source cannot be reached, logged into, or opened.
    CannotConnect,
    /// Reading it failed.
    Failed,
}

/// An error from a source engine, classified where the driver's errors are known.
///
/// It shows as the error it wraps; [`SourceError::context`] puts a line in front.
#[derive(Debug)]
pub struct SourceError {
    pub kind: ErrorKind,
    pub fault: Fault,
    /// The source refused to read these rows (a server error for this table, a damaged page),
    /// rather than failing for every table alike (a lost login, a missing file).
    pub rows_only: bool,
    pub hint: Option<String>,
    error: BoxError,
}

impl SourceError {
    pub fn new(kind: ErrorKind, error: impl Into<BoxError>) -> SourceError {
        SourceError {
            kind,
            fault: Fault::Fatal,
            rows_only: false,
            hint: None,
            error: error.into(),
        }
    }

    pub fn usage(error: impl Into<BoxError>) -> SourceError {
        SourceError::new(ErrorKind::Usage, error)
    }

    pub fn cannot_connect(error: impl Into<BoxError>) -> SourceError {
        SourceError::new(ErrorKind::CannotConnect, error)
    }

    pub fn failed(error: impl Into<BoxError>) -> SourceError {
        SourceError::new(ErrorKind::Failed, error)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> SourceError {
        self.hint = Some(hint.into());
        self
    }

    pub fn fault(mut self, fault: Fault) -> SourceError {
        self.fault = fault;
        self
    }

    pub fn rows_only(mut self, rows_only: bool) -> SourceError {
        self.rows_only = rows_only;
        self
    }

    /// Puts `message` in front: "message: the error".
    pub fn context(mut self, message: impl Into<String>) -> SourceError {
        self.error = Box::new(Context {
            message: message.into(),
            source: self.error,
        });
        self
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

#[derive(Debug)]
struct Context {
    message: String,
    source: BoxError,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Whether an I/O failure is worth another try (a connection lost or refused, a timeout).
pub fn io_fault(e: &std::io::Error) -> Fault {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted | BrokenPipe | TimedOut
        | UnexpectedEof | NotConnected => Fault::Transient,
        _ => Fault::Fatal,
    }
}

/// What to do with a zero date (`0000-00-00`) or a partial one (`2020-00-15`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroDates {
    /// NULL, counted per column in the report; the column is made nullable.
    #[default]
    Null,
    /// Reject the row.
    Error,
}

/// How integers in date/time columns are read: decided per column from the data, or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EpochSetting {
    /// Milliseconds when any integer in the column is ≥ 10^11 in magnitude (that many seconds
    /// would be past the year 5000), otherwise seconds.
    #[default]
    Auto,
    Seconds,
    Millis,
}

/// What the command line asks of introspection. Each engine uses the options that concern it
/// and ignores the others (`--sqlite-epoch` means nothing to MySQL, `--zero-dates` nothing to
/// SQLite), except `--cast`, which only MySQL has and SQLite refuses as a usage error.
pub struct IntrospectOptions<'a> {
    /// Called with each table's source name; `false` leaves the table out.
    pub include: &'a (dyn Fn(&str) -> bool + Sync),
    /// `--cast` rules as written.
    pub casts: &'a [String],
    pub datetime_as_timestamptz: bool,
    pub enum_as_text: bool,
    pub zero_dates: ZeroDates,
    pub epoch: EpochSetting,
    pub zone: SourceZone,
    /// Where PostGIS is installed in the target, when it is: geometry keeps its type.
    pub postgis_schema: Option<String>,
}

/// A source named on the command line, nothing read yet.
#[async_trait]
pub trait Source: Send + Sync {
    /// How the operator sees it: the URL or path, password masked.
    fn display(&self) -> String;

    /// What identifies this source across runs (a file by its canonical path), password
    /// masked.
    fn identity(&self) -> String {
        self.display()
    }

    /// Reads the catalog into the schema model, with a warning for every object not carried
    /// over, and plans how each table is read.
    async fn introspect(
        &self,
        options: &IntrospectOptions<'_>,
    ) -> Result<Introspected, SourceError>;

    /// After introspection: every `--cast` rule must name something of the source. Returns
    /// warnings for rules that do nothing, or the usage error of one that names nothing.
    /// `casts` are the rules as written; `source_has` says whether the source has a table of
    /// that name, copied or not.
    fn check_casts(
        &self,
        _casts: &[String],
        _introspected: &Introspected,
        _source_has: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Warning>, SourceError> {
        Ok(Vec::new())
    }
}

/// Moves each entry of `map` keyed by a renamed table to its new name (from → to): how an
/// engine's read plans follow the target's renames.
pub fn rename_keys<T>(map: &mut HashMap<String, T>, renames: &HashMap<String, String>) {
    for (from, to) in renames {
        if let Some(v) = map.remove(from) {
            map.insert(to.clone(), v);
        }
    }
}

/// What introspection found.
pub struct Introspected {
    pub schema: Schema,
    pub reads: Box<dyn Reads>,
    /// Per `--cast` rule (in the order given): whether it decided some copied column's type.
    pub casts_used: Vec<bool>,
}

/// How each table of an introspected source is read (keyed by target table name).
#[async_trait]
pub trait Reads: Send + Sync {
    /// The single integer key `table` can be cut into key ranges on, if it has one.
    fn split(&self, table: &str) -> Option<&SplitKey>;

    /// The target renamed tables (from → to).
    fn rename_tables(&mut self, renames: &HashMap<String, String>);

    /// A column of `table` (by index) goes into a target column of type `target` that someone
    /// else chose; the mapping made it `mapped`. Returns the type the engine will read it as
    /// instead, when reading it differently keeps more of it (a boolean of integers read as
    /// its numbers into an integer column). The caller must then set the column's `pg_type`
    /// in the schema to that type: an engine may convert values by the schema's column type
    /// (SQLite does) rather than by a read plan of its own (MySQL's, which this updates).
    fn read_for_target(
        &mut self,
        table: &str,
        column: usize,
        mapped: &PgType,
        target: &TargetType,
    ) -> Option<PgType>;

    /// Whether `consistent` makes every reader see one snapshot of the source (where it does
    /// not, the source must not change while it is read).
    fn takes_snapshots(&self) -> bool {
        false
    }

    /// Starts `jobs` readers. With `consistent`, every reader sees the same moment of the
    /// source (where the engine can take one snapshot for all); the readers are ready when
    /// this returns, so nothing has been written yet if the source cannot be read.
    async fn readers(
        &self,
        jobs: usize,
        consistent: bool,
        policy: ValuePolicy,
    ) -> Result<Box<dyn Readers>, SourceError>;

    /// One connection for queries about the data.
    async fn session(&self) -> Result<Box<dyn Session>, SourceError>;

    /// What keeps the source from being followed after the copy, each with what to do about
    /// it (`(problem, hint)`); empty when it can be followed.
    async fn follow_problems(&self) -> Result<Vec<(String, String)>, SourceError> {
        Ok(vec![(
            "this source has no change log pgcutover can follow".to_owned(),
            "--follow needs a MySQL or MariaDB source with its binary log on".to_owned(),
        )])
    }

    /// The source's changes from `from` (a [`Readers::snapshot_position`]) on, to `tables` (the
    /// schema's, as the copy reads them), converted as the copy converts its rows.
    async fn changes(
        &self,
        _from: &str,
        _tables: Vec<Arc<Table>>,
        _policy: ValuePolicy,
    ) -> Result<Box<dyn ChangeStream>, SourceError> {
        Err(SourceError::usage(
            "this source has no change log pgcutover can follow",
        ))
    }

    /// Where the source's change log ends now, and how far behind it `applied` (a position of
    /// [`ChangeStream`]'s) is. `None`: the source has no change log.
    async fn change_log_head(
        &self,
        _applied: Option<&str>,
    ) -> Result<Option<LogHead>, SourceError> {
        Ok(None)
    }

    /// Whether `position` is at or past `target` (both positions of this source's log).
    fn position_reached(&self, position: &str, target: &str) -> bool {
        position == target
    }

    /// Stops the source from taking writes (from users without the privilege to override
    /// it), for a cutover; what was done, said for a person (with how to undo it).
    async fn set_read_only(&self) -> Result<String, SourceError> {
        Err(SourceError::usage(
            "this source cannot be set read-only by pgcutover",
        ))
    }
}

/// Where a source's change log ends, and how far a position is behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    pub position: String,
    /// Bytes of log from the position asked about to the end (`None`: not known, say when the
    /// files between are gone).
    pub behind_bytes: Option<u64>,
}

/// A row changed in the source, its images converted as the copy converts a row (the copied
/// columns, in order).
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    Insert(Vec<crate::Value<'static>>),
    Update {
        before: Vec<crate::Value<'static>>,
        after: Vec<crate::Value<'static>>,
    },
    Delete(Vec<crate::Value<'static>>),
}

/// One change of a source's change log.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceChange {
    /// A row of a table read here (its target name).
    Row { table: String, change: RowChange },
    /// A row of a table read here that cannot arrive exactly.
    Rejected(crate::Reject),
    /// The changes since the last commit are one transaction (possibly empty: the log also
    /// says where it is between transactions); the log goes on at `position`. `at`: when the
    /// source wrote it, in Unix seconds.
    Commit { position: String, at: Option<u64> },
    /// The changes since the last commit were rolled back by the source (a `Commit` follows
    /// with the position after them).
    RolledBack,
    /// A statement that changes a table read here (DDL), which a follower cannot apply.
    Statement { sql: String, position: String },
    /// Every row of a table read here (its target name) deleted, as its own transaction
    /// (MySQL's TRUNCATE commits implicitly); the log goes on at `position`.
    Truncate { table: String, position: String },
}

/// A source's change log, read in order.
#[async_trait]
pub trait ChangeStream: Send {
    /// The next change; waits for the source to write one.
    async fn next(&mut self) -> Result<SourceChange, SourceError>;
}

/// What one reader reads: the rows of a table in some key ranges (`KeyRange::ALL` for every
/// row), in that order.
#[derive(Debug, Clone)]
pub struct ReadJob {
    pub table: Arc<Table>,
    pub ranges: Vec<KeyRange>,
}

/// Readers that stream tables into sinks, each job on a reader of its own.
#[async_trait]
pub trait Readers: Send + Sync {
    /// Queues `job`; a reader converts its rows into `sink` and then calls `sink.finish`, also
    /// when it could not start (the readers have stopped).
    fn read(&self, job: ReadJob, sink: Box<dyn TableSink>);

    /// No more jobs: each reader ends (its session closes) once the jobs queued are done.
    fn close(&self);

    /// After [`Readers::close`]: waits until every reader has ended and closed its session.
    async fn closed(&self) {}

    /// Where the source's change log was at the readers' one snapshot (`consistent`), when
    /// the engine could read it there: following from it misses nothing the copy did not see
    /// and replays nothing it did.
    fn snapshot_position(&self) -> Option<String> {
        None
    }
}

/// The sink asked the reader to stop; it knows why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// How many rows a read went through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub rows_read: u64,
    /// Per column (by index): zero dates that became NULL (empty when the engine has none).
    pub zero_dates: Vec<u64>,
}

/// Why a read ended early.
#[derive(Debug)]
pub enum ReadError {
    /// The sink asked it to stop.
    Stopped,
    Source(SourceError),
}

/// Where a reader delivers one job's rows, and then how the job ended.
pub trait TableSink: RowSink<Error = Stop> + Send {
    fn finish(self: Box<Self>, ended: Result<ReadStats, ReadError>);
}

/// A foreign key as the source names it: child rows whose key is not NULL and has no parent
/// row are its orphans.
#[derive(Debug, Clone)]
pub struct OrphanQuery {
    pub child: String,
    pub columns: Vec<String>,
    pub parent: String,
    pub ref_columns: Vec<String>,
}

impl OrphanQuery {
    /// `FROM child c WHERE <key not null> AND NOT EXISTS (parent row with that key)`, with
    /// `ident` as the engine's identifier quoting and `table` its table naming.
    pub fn from_clause(
        &self,
        ident: &dyn Fn(&str) -> String,
        table: &dyn Fn(&str) -> String,
    ) -> String {
        let not_null: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("c.{} IS NOT NULL", ident(c)))
            .collect();
        let join: Vec<String> = self
            .columns
            .iter()
            .zip(&self.ref_columns)
            .map(|(c, r)| format!("p.{} = c.{}", ident(r), ident(c)))
            .collect();
        format!(
            "FROM {} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {} p WHERE {})",
            table(&self.child),
            not_null.join(" AND "),
            table(&self.parent),
            join.join(" AND ")
        )
    }
}

/// Orphans of one foreign key: how many, and up to five distinct keys, `column=value, …`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanCount {
    pub count: u64,
    pub examples: Vec<String>,
}

/// One connection to the source for questions about its data.
#[async_trait]
pub trait Session: Send {
    /// `count(*)`, pushed down to the source.
    async fn count(&mut self, table: &Table) -> Result<u64, SourceError>;

    /// The least and greatest value of an integer column (by index), when every value is
    /// stored as an integer, so the source orders them as the target does. `None` otherwise.
    async fn int_bounds(
        &mut self,
        table: &Table,
        column: usize,
    ) -> Result<Option<(i64, i64)>, SourceError>;

    /// Counts a foreign key's orphans with the source's own comparison rules.
    async fn orphans(&mut self, query: &OrphanQuery) -> Result<OrphanCount, SourceError>;

    /// Ends the session politely.
    async fn close(self: Box<Self>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_reads_as_a_chain() {
        let e = SourceError::failed(std::io::Error::other("disk on fire")).context("reading t");
        assert_eq!(e.to_string(), "reading t");
        let inner = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(inner.as_deref(), Some("disk on fire"));
    }

    #[test]
    fn orphan_query_names_both_tables_once() {
        let q = OrphanQuery {
            child: "c".into(),
            columns: vec!["a".into(), "b".into()],
            parent: "p".into(),
            ref_columns: vec!["x".into(), "y".into()],
        };
        let from = q.from_clause(&|n| format!("[{n}]"), &|n| format!("db.[{n}]"));
        assert_eq!(
            from,
            "FROM db.[c] c WHERE c.[a] IS NOT NULL AND c.[b] IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM db.[p] p WHERE p.[x] = c.[a] AND p.[y] = c.[b])"
        );
    }
}
