//! Streams one table's rows, converts each value, and hands rows or rejects to a [`RowSink`].
//!
//! Runs synchronously: callers put it on its own thread (rusqlite is blocking) and let the sink
//! hand encoded batches to the async writer through a bounded channel. Values borrow SQLite's
//! row buffer; nothing is allocated per value except where a conversion must build a string.

use std::path::Path;

use pgcutover_core::range::KeyRange;
use pgcutover_core::reject::display_value;
use pgcutover_core::value::recycle;
use pgcutover_core::{quote_ident, Reject, RowOutcome, RowSink, Table, Value};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::convert::{convert, ColumnConv, ValuePolicy};
use crate::introspect::TableRead;
use crate::Error;

/// Opens a SQLite file read-only: pgcutover never writes to a source.
pub fn open_read_only(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::Open {
        path: path.display().to_string(),
        source: e,
    })?;
    // Fail here, not on the first query, if this is not a database.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(|e| Error::Open {
            path: path.display().to_string(),
            source: e,
        })?;
    Ok(conn)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub rows_read: u64,
    pub rows_rejected: u64,
}

/// Why reading stopped early: the source failed, or the sink asked to stop.
#[derive(Debug)]
pub enum ReadError<E> {
    Source(Error),
    Sink(E),
}

impl<E> From<rusqlite::Error> for ReadError<E> {
    fn from(e: rusqlite::Error) -> Self {
        ReadError::Source(Error::Sqlite(e))
    }
}

pub fn read_table<S: RowSink + ?Sized>(
    conn: &Connection,
    table: &Table,
    read: &TableRead,
    range: Option<KeyRange>,
    policy: &ValuePolicy,
    sink: &mut S,
) -> Result<ReadStats, ReadError<S::Error>> {
    let convs: Vec<ColumnConv> = table
        .columns
        .iter()
        .zip(&read.epochs)
        .map(|(c, &epoch)| ColumnConv {
            pg_type: c.pg_type.clone(),
            nullable: c.nullable,
            epoch,
        })
        .collect();
    let mut select: Vec<String> = table
        .columns
        .iter()
        .map(|c| quote_ident(&c.source_name))
        .collect();
    if let Some(rowid) = &read.rowid {
        select.push(rowid.clone());
    }
    let mut sql = format!(
        "SELECT {} FROM {}",
        select.join(", "),
        quote_ident(&table.source_name)
    );
    if let Some(cond) = range
        .zip(read.split.as_ref())
        .and_then(|(r, k)| r.condition(&k.column))
    {
        sql.push_str(&format!(" WHERE {cond}"));
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let n = convs.len();
    let mut values: Vec<Value<'static>> = Vec::with_capacity(n);
    let mut stats = ReadStats::default();
    while let Some(row) = rows.next()? {
        stats.rows_read += 1;
        let mut vals = recycle(std::mem::take(&mut values));
        let mut failed = None;
        for (i, conv) in convs.iter().enumerate() {
            let raw = row.get_ref(i)?;
            match convert(conv, policy, raw) {
                Ok(v) => vals.push(v),
                Err(p) => {
                    failed = Some((i, raw, p));
                    break;
                }
            }
        }
        if failed.is_none() {
            if let RowOutcome::Refused { value, problem } =
                sink.row(&mut vals).map_err(ReadError::Sink)?
            {
                failed = Some((value, row.get_ref(value)?, problem));
            }
        }
        match failed {
            None => {}
            Some((i, raw, p)) => {
                stats.rows_rejected += 1;
                let key = row_key(table, read, row, n)?;
                sink.reject(Reject {
                    table: table.name.clone(),
                    key,
                    column: table.columns[i].name.clone(),
                    value: render_raw(raw),
                    reason: p.reason,
                    hint: p.hint.to_owned(),
                })
                .map_err(ReadError::Sink)?;
            }
        }
        values = recycle(vals);
    }
    Ok(stats)
}

fn row_key(
    table: &Table,
    read: &TableRead,
    row: &rusqlite::Row<'_>,
    n: usize,
) -> rusqlite::Result<String> {
    let mut parts = Vec::new();
    for &i in &read.key_columns {
        parts.push(format!(
            "{}={}",
            table.columns[i].name,
            render_raw(row.get_ref(i)?)
        ));
    }
    if let Some(rowid) = &read.rowid {
        parts.push(format!("{rowid}={}", render_raw(row.get_ref(n)?)));
    }
    Ok(parts.join(", "))
}

fn render_raw(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(b) | ValueRef::Blob(b) => display_value(b),
    }
}
