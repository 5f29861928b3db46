//! Applying a source transaction's row changes to a table, in the caller's transaction.
//!
//! The changes are first reduced to their net effect per key ([`Net`]): the last image of
//! each key, or its deletion. The deletions are then staged by binary COPY and applied with one
//! `DELETE … USING`, the rows with one `INSERT … ON CONFLICT (key) DO UPDATE`. Applying the
//! same changes twice leaves the same rows, so replaying changes the copy already saw
//! converges to the source.

use std::collections::HashMap;

use bytes::BytesMut;
use futures::SinkExt;
use pgcutover_core::source::RowChange;
use pgcutover_core::{quote_ident, quote_qualified, Table, Value};
use tokio_postgres::Client;

use crate::copy_encoder::{write_header, write_row, write_trailer};

/// The net effect of some changes to one table: keys to delete, rows to write.
#[derive(Debug, Default, PartialEq)]
pub struct Net {
    /// Key values of rows that end deleted.
    pub deletes: Vec<Vec<Value<'static>>>,
    /// Last images of rows that end present.
    pub upserts: Vec<Vec<Value<'static>>>,
}

impl Net {
    /// Reduces changes, in the order the source made them, to their net effect. `key` are the
    /// positions of the key's columns among a row's values. A key that changes deletes the
    /// old key and writes the new one.
    pub fn of(changes: impl IntoIterator<Item = RowChange>, key: &[usize]) -> Net {
        let key_of = |row: &[Value<'static>]| -> Vec<u8> {
            let mut buf = BytesMut::new();
            let values: Vec<Value<'static>> = key.iter().map(|&k| row[k].clone()).collect();
            write_row(&mut buf, &values);
            buf.to_vec()
        };
        // Per key, in the order keys were first seen: the last image, or None when deleted.
        let mut order: Vec<Vec<u8>> = Vec::new();
        let mut last: HashMap<Vec<u8>, (Vec<Value<'static>>, bool)> = HashMap::new();
        let mut set = |row: Vec<Value<'static>>, present: bool| {
            let k = key_of(&row);
            if !last.contains_key(&k) {
                order.push(k.clone());
            }
            last.insert(k, (row, present));
        };
        for change in changes {
            match change {
                RowChange::Insert(after) => set(after, true),
                RowChange::Update { before, after } => {
                    if key_of(&before) != key_of(&after) {
                        set(before, false);
                    }
                    set(after, true);
                }
                RowChange::Delete(before) => set(before, false),
            }
        }
        let mut net = Net::default();
        for k in order {
            let (row, present) = last.remove(&k).expect("every key seen is kept");
            if present {
                net.upserts.push(row);
            } else {
                net.deletes
                    .push(key.iter().map(|&i| row[i].clone()).collect());
            }
        }
        net
    }
}

/// Applies a net effect to `schema`.`table`, whose copied columns the rows hold, keyed by the
/// copied columns at `key`. Runs in the caller's transaction.
pub async fn apply(
    client: &Client,
    schema: &str,
    table: &Table,
    key: &[usize],
    net: &Net,
) -> Result<(), tokio_postgres::Error> {
    let copied: Vec<String> = table
        .columns
        .iter()
        .filter(|c| c.is_copied())
        .map(|c| c.name.clone())
        .collect();
    let key_names: Vec<&String> = key.iter().map(|&k| &copied[k]).collect();
    let target = quote_qualified(schema, &table.name);
    let list = |names: &[&String]| {
        names
            .iter()
            .map(|n| quote_ident(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all: Vec<&String> = copied.iter().collect();
    if !net.deletes.is_empty() {
        stage(
            client,
            "pgcutover_deletes",
            &target,
            &key_names,
            &net.deletes,
        )
        .await?;
        let on: Vec<String> = key_names
            .iter()
            .map(|k| format!("t.{0} = d.{0}", quote_ident(k)))
            .collect();
        client
            .batch_execute(&format!(
                "DELETE FROM {target} t USING pgcutover_deletes d WHERE {}; DROP TABLE pgcutover_deletes",
                on.join(" AND ")
            ))
            .await?;
    }
    if !net.upserts.is_empty() {
        stage(client, "pgcutover_upserts", &target, &all, &net.upserts).await?;
        let others: Vec<String> = copied
            .iter()
            .filter(|c| !key_names.contains(c))
            .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(c)))
            .collect();
        let action = if others.is_empty() {
            "NOTHING".to_owned()
        } else {
            format!("UPDATE SET {}", others.join(", "))
        };
        client
            .batch_execute(&format!(
                "INSERT INTO {target} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM pgcutover_upserts \
                 ON CONFLICT ({keys}) DO {action}; DROP TABLE pgcutover_upserts",
                cols = list(&all),
                keys = list(&key_names),
            ))
            .await?;
    }
    Ok(())
}

/// A temporary table `name` with `columns` of `target`, holding `rows`.
async fn stage(
    client: &Client,
    name: &str,
    target: &str,
    columns: &[&String],
    rows: &[Vec<Value<'static>>],
) -> Result<(), tokio_postgres::Error> {
    let cols = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE {name} AS SELECT {cols} FROM {target} WITH NO DATA"
        ))
        .await?;
    let sink = client
        .copy_in::<_, bytes::Bytes>(&format!("COPY {name} FROM STDIN (FORMAT binary)"))
        .await?;
    futures::pin_mut!(sink);
    let mut buf = BytesMut::new();
    write_header(&mut buf);
    for row in rows {
        write_row(&mut buf, row);
    }
    write_trailer(&mut buf);
    sink.send(buf.freeze()).await?;
    sink.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i32, name: &str) -> Vec<Value<'static>> {
        vec![Value::I32(id), Value::Text(name.to_owned().into())]
    }

    #[test]
    fn the_last_image_of_each_key_wins_and_a_moved_key_is_deleted() {
        let net = Net::of(
            [
                RowChange::Insert(row(1, "a")),
                RowChange::Insert(row(2, "b")),
                RowChange::Update {
                    before: row(1, "a"),
                    after: row(1, "a2"),
                },
                // The key moves: 2 is gone, 3 is there.
                RowChange::Update {
                    before: row(2, "b"),
                    after: row(3, "b"),
                },
                RowChange::Insert(row(4, "d")),
                RowChange::Delete(row(4, "d")),
                // Deleted, then inserted again: present.
                RowChange::Delete(row(5, "e")),
                RowChange::Insert(row(5, "e2")),
            ],
            &[0],
        );
        assert_eq!(
            net.upserts,
            [row(1, "a2"), row(3, "b"), row(5, "e2")],
            "{net:?}"
        );
        assert_eq!(net.deletes, [vec![Value::I32(2)], vec![Value::I32(4)]]);
    }
}
