//! Streams a table's rows (or one key range of them) from MySQL, converts each value, and hands
//! rows or rejects to a [`RowSink`].
//!
//! Rows come one at a time off the socket (binary protocol, no buffering of the result set), so
//! memory is one row plus the sink's batch, however big the table. Text comes as the column
//! stores it, and [`crate::convert`] decodes it with the column's charset.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::range::KeyRange;
use pgcutover_core::value::recycle;
use pgcutover_core::{Reject, RowOutcome, RowSink, Table, Value};

use crate::convert::{convert, display, Note};
use crate::introspect::TableRead;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub rows_read: u64,
    /// Per column (by index): zero dates that became NULL.
    pub zero_dates: Vec<u64>,
}

#[derive(Debug)]
pub enum ReadError<E> {
    Source(mysql_async::Error),
    Sink(E),
}

pub async fn read_table<S: RowSink + ?Sized>(
    conn: &mut Conn,
    table: &Table,
    read: &TableRead,
    range: Option<KeyRange>,
    policy: &ValuePolicy,
    sink: &mut S,
) -> Result<ReadStats, ReadError<S::Error>> {
    let sql = match range
        .zip(read.split.as_ref())
        .and_then(|(r, k)| r.condition(&k.column))
    {
        Some(cond) => format!("{} WHERE {cond}", read.select),
        None => read.select.clone(),
    };
    // Every value as stored: a conversion by the server would turn what it cannot map into `?`.
    // Set here, by the one function that reads values, so no session can miss it.
    conn.query_drop("SET character_set_results = binary")
        .await
        .map_err(ReadError::Source)?;
    let mut result = conn.exec_iter(sql, ()).await.map_err(ReadError::Source)?;
    let mut stats = ReadStats {
        rows_read: 0,
        zero_dates: vec![0; read.convs.len()],
    };
    let mut spare: Vec<Value<'static>> = Vec::with_capacity(read.convs.len());
    while let Some(row) = result.next().await.map_err(ReadError::Source)? {
        let raw = row.unwrap();
        stats.rows_read += 1;
        let mut values = recycle(spare);
        let mut bad = None;
        for (i, (conv, v)) in read.convs.iter().zip(&raw).enumerate() {
            if !table.columns[i].is_copied() {
                continue; // PostgreSQL computes it
            }
            match convert(conv, policy, v) {
                Ok((out, note)) => {
                    if note == Note::ZeroDate {
                        stats.zero_dates[i] += 1;
                    }
                    values.push(out);
                }
                Err(p) => {
                    bad = Some((i, p));
                    break;
                }
            }
        }
        if bad.is_none() {
            if let RowOutcome::Refused { value, problem } =
                sink.row(&mut values).map_err(ReadError::Sink)?
            {
                // The position among the copied columns, as a column of the table.
                let column = (0..table.columns.len())
                    .filter(|&c| table.columns[c].is_copied())
                    .nth(value)
                    .expect("one value per copied column");
                bad = Some((column, problem));
            }
        }
        match bad {
            None => {}
            Some((i, p)) => {
                values.clear();
                let key = if read.key_columns.is_empty() {
                    format!("row {}", stats.rows_read)
                } else {
                    read.key_columns
                        .iter()
                        .map(|&k| {
                            format!(
                                "{}={}",
                                table.columns[k].name,
                                display(&read.convs[k], &raw[k])
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                sink.reject(Reject {
                    table: table.name.clone(),
                    key,
                    column: table.columns[i].name.clone(),
                    value: display(&read.convs[i], &raw[i]),
                    reason: p.reason,
                    hint: p.hint.to_owned(),
                })
                .map_err(ReadError::Sink)?;
            }
        }
        spare = recycle(values);
    }
    Ok(stats)
}
