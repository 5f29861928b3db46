//! Streams a table's rows (or one key range of them) from MySQL, converts each value, and hands
//! rows or rejects to a [`RowSink`].
//!
//! Rows come one at a time off the socket (binary protocol, no buffering of the result set), so
//! memory is one row plus the sink's batch, however big the table.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::value::recycle;
use pgcutover_core::{Reject, RowSink, Table, Value};

use crate::convert::{convert, display, Note};
use crate::introspect::TableRead;

/// A half-open key range `[from, to)`. The first range has no lower bound and the last none
/// above, so rows inserted outside the scanned min/max are still read (once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Splits `[min, max]` into at most `parts` contiguous ranges that cover it exactly.
pub fn split_range(min: i64, max: i64, parts: usize) -> Vec<KeyRange> {
    let parts = parts.max(1) as i128;
    let (lo, hi) = (i128::from(min), i128::from(max));
    let span = hi - lo + 1;
    let step = ((span + parts - 1) / parts).max(1);
    let mut out = Vec::new();
    let mut from = lo;
    while from <= hi {
        let to = from + step;
        out.push(KeyRange {
            from: (from > lo).then_some(from as i64),
            to: (to <= hi).then_some(to as i64),
        });
        from = to;
    }
    out
}

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

pub async fn read_table<S: RowSink>(
    conn: &mut Conn,
    table: &Table,
    read: &TableRead,
    range: Option<KeyRange>,
    policy: &ValuePolicy,
    sink: &mut S,
) -> Result<ReadStats, ReadError<S::Error>> {
    let sql = match (range, &read.split) {
        (Some(r), Some(k)) => {
            let mut conds = Vec::new();
            if let Some(from) = r.from {
                conds.push(format!("{} >= {from}", k.column));
            }
            if let Some(to) = r.to {
                conds.push(format!("{} < {to}", k.column));
            }
            if conds.is_empty() {
                read.select.clone()
            } else {
                format!("{} WHERE {}", read.select, conds.join(" AND "))
            }
        }
        _ => read.select.clone(),
    };
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
        match bad {
            None => sink.row(&values).map_err(ReadError::Sink)?,
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
                                display(&read.convs[k].kind, &raw[k])
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                sink.reject(Reject {
                    table: table.name.clone(),
                    key,
                    column: table.columns[i].name.clone(),
                    value: display(&read.convs[i].kind, &raw[i]),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ranges_cover_exactly(min in -1_000_000i64..1_000_000, len in 0i64..5_000_000, parts in 1usize..17) {
            let max = min + len;
            let r = split_range(min, max, parts);
            prop_assert!(r.len() <= parts);
            prop_assert_eq!(r[0].from, None);
            for w in r.windows(2) {
                prop_assert!(w[0].to.is_some());
                prop_assert_eq!(w[0].to, w[1].from);
            }
            prop_assert_eq!(r.last().unwrap().to, None);
            prop_assert!(r.last().unwrap().from.unwrap_or(min) <= max);
        }
    }

    #[test]
    fn extreme_keys_do_not_overflow() {
        let r = split_range(i64::MIN, i64::MAX, 4);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].from, None);
        assert_eq!(r[1].from, Some(i64::MIN / 2));
    }
}
