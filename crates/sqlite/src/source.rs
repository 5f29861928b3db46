//! SQLite behind pgcutover's [`Source`] seam. The file is opened read-only, by each reader
//! thread and each query on its own: rusqlite blocks, so every read runs off the async
//! runtime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use pgcutover_core::adapt::TargetType;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::range::{KeyRange, SplitKey};
use pgcutover_core::source::{
    self, Fault, Introspected, OrphanCount, OrphanQuery, ReadError, ReadJob, ReadStats, Readers,
    Reads, Session, Source, SourceError, TableSink,
};
use pgcutover_core::{quote_ident, redact, PgType, Table};

use crate::introspect::{IntrospectOptions, TableRead};
use crate::{open_read_only, Error};

/// The source a SOURCE argument names, when it is a SQLite file: `sqlite:PATH`,
/// `sqlite://PATH`, or a path ending in `.db`, `.sqlite` or `.sqlite3`. `None` otherwise.
pub fn open(argument: &str) -> Option<Box<dyn Source>> {
    let path = match argument
        .strip_prefix("sqlite://")
        .or_else(|| argument.strip_prefix("sqlite:"))
    {
        Some(path) => path,
        None => {
            let lower = argument.to_ascii_lowercase();
            [".db", ".sqlite", ".sqlite3"]
                .iter()
                .any(|ext| lower.ends_with(ext))
                .then_some(argument)?
        }
    };
    Some(Box::new(SqliteSource {
        path: PathBuf::from(path),
    }))
}

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteSource {
    pub path: PathBuf,
}

/// Whether trying again can help: only a database another process holds locked.
fn fault_of(e: &rusqlite::Error) -> Fault {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Fault::Transient
        }
        _ => Fault::Fatal,
    }
}

/// An error reading the file: it concerns the rows being read (a damaged page, a value SQLite
/// cannot give), not a connection every table shares.
fn read_failed(e: Error) -> SourceError {
    let fault = match &e {
        Error::Open { source, .. } | Error::Sqlite(source) => fault_of(source),
    };
    SourceError::failed(e).fault(fault).rows_only(true)
}

/// An error of a query, shown as SQLite gave it.
fn query_failed(e: rusqlite::Error) -> SourceError {
    let fault = fault_of(&e);
    SourceError::failed(e).fault(fault).rows_only(true)
}

fn shown(path: &Path) -> String {
    redact(&path.display().to_string()).into_owned()
}

#[async_trait]
impl Source for SqliteSource {
    fn display(&self) -> String {
        format!("sqlite:{}", shown(&self.path))
    }

    fn identity(&self) -> String {
        let path = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        format!("sqlite:{}", shown(&path))
    }

    async fn introspect(
        &self,
        o: &source::IntrospectOptions<'_>,
    ) -> Result<Introspected, SourceError> {
        if let Some(rule) = o.casts.first() {
            return Err(SourceError::usage(format!(
                "--cast {rule:?}: --cast applies to MySQL sources only, and the source is SQLite"
            ))
            .hint("nothing was written. A SQLite column's type comes from its declared type and its values (see docs/type-mapping.md); leave --cast out"));
        }
        if !self.path.exists() {
            return Err(SourceError::cannot_connect(format!(
                "SQLite file {} does not exist",
                shown(&self.path)
            ))
            .hint("check the path; pgcutover never creates a source"));
        }
        let conn = open_read_only(&self.path).map_err(|e| {
            SourceError::cannot_connect(e).hint("is it a SQLite 3 database file, and readable?")
        })?;
        let opts = IntrospectOptions {
            epoch: o.epoch,
            include: o.include,
            count_rows: true,
        };
        let built = crate::introspect(&conn, &opts).map_err(|e| {
            SourceError::failed(e).context(format!("reading the schema of {}", shown(&self.path)))
        })?;
        Ok(Introspected {
            schema: built.schema,
            reads: Box::new(SqliteReads {
                path: self.path.clone(),
                tables: Arc::new(built.reads),
            }),
            casts_used: Vec::new(),
        })
    }
}

type Tables = HashMap<String, TableRead>;

/// An introspected SQLite file: where it is and how each table is read.
#[derive(Clone)]
struct SqliteReads {
    path: PathBuf,
    tables: Arc<Tables>,
}

impl SqliteReads {
    /// Runs a query on the file, on a thread of its own.
    async fn blocking<T: Send + 'static>(
        &self,
        query: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, SourceError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = open_read_only(&path).map_err(read_failed)?;
            query(&conn).map_err(query_failed)
        })
        .await
        .map_err(|e| SourceError::failed(e).context("a SQLite query thread stopped"))?
    }
}

#[async_trait]
impl Reads for SqliteReads {
    fn split(&self, table: &str) -> Option<&SplitKey> {
        self.tables.get(table)?.split.as_ref()
    }

    fn rename_tables(&mut self, renames: &HashMap<String, String>) {
        source::rename_keys(Arc::make_mut(&mut self.tables), renames);
    }

    /// SQLite values are converted to their column's type as they are read, so retyping the
    /// column is all it takes.
    fn read_for_target(
        &mut self,
        _table: &str,
        _column: usize,
        mapped: &PgType,
        target: &TargetType,
    ) -> Option<PgType> {
        match (mapped, target) {
            // A BOOLEAN going into an integer column is read as the numbers it holds: there,
            // 2 is a value, not an error.
            (PgType::Boolean, TargetType::Int { .. }) => Some(PgType::SmallInt),
            // A date going into timestamptz is read as an instant (its epoch or offset as it
            // is, offset-less text in --source-timezone), not as a wall-clock time.
            (PgType::Timestamp, TargetType::Timestamptz { .. }) => Some(PgType::Timestamptz),
            _ => None,
        }
    }

    async fn readers(
        &self,
        _jobs: usize,
        _consistent: bool,
        policy: ValuePolicy,
    ) -> Result<Box<dyn Readers>, SourceError> {
        Ok(Box::new(Threads {
            reads: self.clone(),
            policy,
        }))
    }

    async fn session(&self) -> Result<Box<dyn Session>, SourceError> {
        Ok(Box::new(self.clone()))
    }
}

/// A session is the file: each query opens it on a thread of its own.
#[async_trait]
impl Session for SqliteReads {
    async fn count(&mut self, table: &Table) -> Result<u64, SourceError> {
        let name = table.source_name.clone();
        self.blocking(move |conn| {
            let n: i64 = conn.query_row(
                &format!("SELECT count(*) FROM {}", quote_ident(&name)),
                [],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn int_bounds(
        &mut self,
        table: &Table,
        column: usize,
    ) -> Result<Option<(i64, i64)>, SourceError> {
        let t = quote_ident(&table.source_name);
        let c = quote_ident(&table.columns[column].source_name);
        self.blocking(move |conn| {
            // Only when every key is stored as an integer: otherwise the converted key's
            // order is not SQLite's, and hashing is the safe choice.
            let (min, max, non_int): (Option<i64>, Option<i64>, i64) = conn.query_row(
                &format!(
                    "SELECT min({c}), max({c}), count(*) FILTER (WHERE typeof({c}) <> 'integer') FROM {t}"
                ),
                [],
                |r| Ok((r.get(0).ok(), r.get(1).ok(), r.get(2)?)),
            )?;
            Ok(if non_int == 0 { min.zip(max) } else { None })
        })
        .await
    }

    async fn orphans(&mut self, q: &OrphanQuery) -> Result<OrphanCount, SourceError> {
        let q = q.clone();
        self.blocking(move |conn| orphans(conn, &q)).await
    }

    async fn close(self: Box<Self>) {}
}

fn orphans(conn: &rusqlite::Connection, q: &OrphanQuery) -> rusqlite::Result<OrphanCount> {
    let from = q.from_clause(&quote_ident, &quote_ident);
    let count: i64 = conn.query_row(&format!("SELECT count(*) {from}"), [], |r| r.get(0))?;
    if count == 0 {
        return Ok(OrphanCount::default());
    }
    let list: Vec<String> = q
        .columns
        .iter()
        .map(|c| format!("c.{}", quote_ident(c)))
        .collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT {0} {from} ORDER BY {0} LIMIT 5",
        list.join(", ")
    ))?;
    let mut rows = stmt.query([])?;
    let mut examples = Vec::new();
    while let Some(row) = rows.next()? {
        let mut parts = Vec::new();
        for (i, c) in q.columns.iter().enumerate() {
            let shown = match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                rusqlite::types::ValueRef::Real(f) => f.to_string(),
                rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                    pgcutover_core::reject::display_value(b)
                }
            };
            parts.push(format!("{c}={shown}"));
        }
        examples.push(parts.join(", "));
    }
    Ok(OrphanCount {
        count: count as u64,
        examples,
    })
}

/// One thread per job, each with its own read-only connection.
struct Threads {
    reads: SqliteReads,
    policy: ValuePolicy,
}

impl Readers for Threads {
    fn read(&self, job: ReadJob, sink: Box<dyn TableSink>) {
        let (reads, policy) = (self.reads.clone(), self.policy);
        let name = format!("read {}", job.table.name);
        // Held here too, so that the sink still hears the end when the thread cannot start.
        let held = Arc::new(std::sync::Mutex::new(Some(sink)));
        let theirs = Arc::clone(&held);
        let started = std::thread::Builder::new().name(name).spawn(move || {
            let taken = theirs.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(mut sink) = taken {
                let ended = read_job(&reads, &job, &policy, &mut *sink);
                sink.finish(ended);
            }
        });
        if let Err(e) = started {
            let taken = held.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(sink) = taken {
                sink.finish(Err(ReadError::Source(
                    SourceError::failed(e).context("starting a reader thread"),
                )));
            }
        }
    }

    fn close(&self) {}
}

fn read_job(
    reads: &SqliteReads,
    job: &ReadJob,
    policy: &ValuePolicy,
    sink: &mut dyn TableSink,
) -> Result<ReadStats, ReadError> {
    let table = &job.table;
    let read = &reads.tables[&table.name];
    let conn = open_read_only(&reads.path).map_err(|e| ReadError::Source(read_failed(e)))?;
    let mut total = ReadStats::default();
    for &range in &job.ranges {
        let range = (range != KeyRange::ALL).then_some(range);
        let stats =
            crate::read_table(&conn, table, read, range, policy, sink).map_err(|e| match e {
                crate::ReadError::Sink(_) => ReadError::Stopped,
                crate::ReadError::Source(e) => ReadError::Source(read_failed(e)),
            })?;
        total.rows_read += stats.rows_read;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sqlite_error_is_about_the_rows_and_only_a_lock_is_transient() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let e = read_failed(Error::Sqlite(busy));
        assert!(e.rows_only);
        assert_eq!(e.fault, Fault::Transient);
        let e = read_failed(Error::Sqlite(rusqlite::Error::InvalidColumnIndex(3)));
        assert!(e.rows_only);
        assert_eq!(e.fault, Fault::Fatal);
    }

    #[test]
    fn a_query_error_shows_as_sqlite_gave_it() {
        let e = query_failed(rusqlite::Error::InvalidColumnIndex(3));
        assert_eq!(
            e.to_string(),
            rusqlite::Error::InvalidColumnIndex(3).to_string()
        );
        assert!(e.rows_only);
    }

    #[test]
    fn files_by_prefix_or_extension() {
        let shown = |a: &str| open(a).map(|s| s.display());
        assert_eq!(shown("sqlite:shop").as_deref(), Some("sqlite:shop"));
        assert_eq!(shown("sqlite:///tmp/x").as_deref(), Some("sqlite:/tmp/x"));
        assert_eq!(
            shown("data/Shop.SQLITE3").as_deref(),
            Some("sqlite:data/Shop.SQLITE3")
        );
        assert!(open("shop.csv").is_none());
    }

    #[test]
    fn a_date_goes_into_timestamptz_as_an_instant_and_a_boolean_into_integers_as_numbers() {
        let mut reads = SqliteReads {
            path: PathBuf::from("x.db"),
            tables: Arc::new(HashMap::new()),
        };
        let tz = TargetType::Timestamptz { precision: 6 };
        assert_eq!(
            reads.read_for_target("t", 0, &PgType::Timestamp, &tz),
            Some(PgType::Timestamptz)
        );
        assert_eq!(reads.read_for_target("t", 0, &PgType::Text, &tz), None);
        let int = TargetType::Int { bytes: 4 };
        assert_eq!(
            reads.read_for_target("t", 0, &PgType::Boolean, &int),
            Some(PgType::SmallInt)
        );
    }
}
