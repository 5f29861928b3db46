//! Applying a source transaction's row changes to a table, in the caller's transaction.
//!
//! The changes are first reduced to their net effect per key ([`Net`]): deletions, moved
//! keys, and the last image of each row. Each is staged by binary COPY and applied with one
//! statement: `DELETE … USING`, `UPDATE … FROM` (so the target's `ON UPDATE CASCADE` moves the
//! children as the source's unlogged cascade did), and `INSERT … ON CONFLICT (key) DO
//! UPDATE`.
//!
//! Replaying changes the target already holds is not safe in general: with the target's
//! foreign keys on, an old image can name a parent that has since moved or gone. A follower
//! therefore starts exactly at the copy's snapshot and goes on from the position committed
//! with the last transaction it applied.

use std::collections::HashMap;

use bytes::BytesMut;
use futures::SinkExt;
use pgcutover_core::source::RowChange;
use pgcutover_core::{quote_ident, quote_qualified, Table, Value};
use tokio_postgres::Client;

use crate::copy_encoder::{write_header, write_row, write_trailer};

/// The net effect of some changes to one table, applied in this order: rows that existed
/// before and end deleted, rows that existed before and end under another key (moved, so that
/// the target's `ON UPDATE CASCADE` moves their children as the source's did), then the last
/// image of every row that ends present (a moved one too, so that applying twice converges).
#[derive(Debug, Default, PartialEq)]
pub struct Net {
    /// Key values of rows that existed before and end deleted (deleted and inserted again,
    /// as REPLACE does, included: the target's cascades must see the delete).
    pub deletes: Vec<Vec<Value<'static>>>,
    /// Rows that existed before under another key: (that key's values, the last image).
    pub moves: Vec<(Vec<Value<'static>>, Vec<Value<'static>>)>,
    /// Last images of rows that end present.
    pub upserts: Vec<Vec<Value<'static>>>,
}

/// A row as a transaction leaves it.
struct Slot {
    row: Vec<Value<'static>>,
    /// The key values the row had before the transaction, when it existed before.
    origin: Option<Vec<Value<'static>>>,
}

impl Net {
    /// Reduces changes, in the order the source made them, to their net effect. `key` are the
    /// positions of the key's columns among a row's values.
    pub fn of(changes: impl IntoIterator<Item = RowChange>, key: &[usize]) -> Net {
        let key_values = |row: &[Value<'static>]| -> Vec<Value<'static>> {
            key.iter().map(|&k| row[k].clone()).collect()
        };
        let key_of = |row: &[Value<'static>]| -> Vec<u8> {
            let mut buf = BytesMut::new();
            write_row(&mut buf, &key_values(row));
            buf.to_vec()
        };
        // Per key, in the order keys were first seen: the row under it now (None: none).
        let mut order: Vec<Vec<u8>> = Vec::new();
        let mut now: HashMap<Vec<u8>, Option<Slot>> = HashMap::new();
        let mut net = Net::default();
        let mut place = |k: Vec<u8>, slot: Option<Slot>, now: &mut HashMap<_, _>| {
            if !now.contains_key(&k) {
                order.push(k.clone());
            }
            now.insert(k, slot);
        };
        // The row under a key before a change: one this transaction already touched, or one
        // that existed before it.
        let take = |now: &mut HashMap<Vec<u8>, Option<Slot>>, before: &[Value<'static>]| match now
            .get_mut(&key_of(before))
        {
            Some(slot) => slot.take(),
            None => Some(Slot {
                row: before.to_vec(),
                origin: Some(key_values(before)),
            }),
        };
        for change in changes {
            match change {
                RowChange::Insert(after) => {
                    let k = key_of(&after);
                    place(
                        k,
                        Some(Slot {
                            row: after,
                            origin: None,
                        }),
                        &mut now,
                    );
                }
                RowChange::Update { before, after } => {
                    let origin = take(&mut now, &before).and_then(|s| s.origin);
                    let (kb, ka) = (key_of(&before), key_of(&after));
                    if kb != ka {
                        place(kb, None, &mut now);
                    }
                    place(ka, Some(Slot { row: after, origin }), &mut now);
                }
                RowChange::Delete(before) => {
                    if let Some(origin) = take(&mut now, &before).and_then(|s| s.origin) {
                        net.deletes.push(origin);
                    }
                    place(key_of(&before), None, &mut now);
                }
            }
        }
        for k in order {
            let Some(Some(slot)) = now.remove(&k) else {
                continue;
            };
            if let Some(origin) = slot.origin {
                if origin != key_values(&slot.row) {
                    net.moves.push((origin, slot.row.clone()));
                }
            }
            net.upserts.push(slot.row);
        }
        net
    }
}

/// The two halves of applying a [`Net`]: across tables in one transaction, deletions go
/// children first and the rest parents first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Deletes,
    /// Moves, then upserts.
    Writes,
}

/// Applies one phase of a net effect to `schema`.`table`, whose copied columns the rows hold,
/// keyed by the copied columns at `key`. Runs in the caller's transaction.
pub async fn apply(
    client: &Client,
    schema: &str,
    table: &Table,
    key: &[usize],
    net: &Net,
    phase: Phase,
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
    if phase == Phase::Deletes {
        if net.deletes.is_empty() {
            return Ok(());
        }
        let staged = staging("deletes", &target);
        stage(client, &staged, &target, &key_names, &net.deletes).await?;
        let on: Vec<String> = key_names
            .iter()
            .map(|k| format!("t.{0} = d.{0}", quote_ident(k)))
            .collect();
        client
            .batch_execute(&format!(
                "DELETE FROM {target} t USING {staged} d WHERE {}; TRUNCATE {staged}",
                on.join(" AND ")
            ))
            .await?;
        return Ok(());
    }
    if !net.moves.is_empty() {
        // The old key's values, then the row, under names of their own.
        let old: Vec<String> = key_names
            .iter()
            .map(|k| format!("pgcutover_old_{k}"))
            .collect();
        let staged: Vec<Vec<Value<'static>>> = net
            .moves
            .iter()
            .map(|(from, row)| from.iter().chain(row).cloned().collect())
            .collect();
        let moves = staging("moves", &target);
        stage_as(client, &moves, &target, &key_names, &old, &all, &staged).await?;
        let set: Vec<String> = copied
            .iter()
            .map(|c| format!("{0} = m.{0}", quote_ident(c)))
            .collect();
        let on: Vec<String> = key_names
            .iter()
            .zip(&old)
            .map(|(k, o)| format!("t.{} = m.{}", quote_ident(k), quote_ident(o)))
            .collect();
        client
            .batch_execute(&format!(
                "UPDATE {target} t SET {} FROM {moves} m WHERE {}; TRUNCATE {moves}",
                set.join(", "),
                on.join(" AND ")
            ))
            .await?;
    }
    if !net.upserts.is_empty() {
        let upserts = staging("upserts", &target);
        stage(client, &upserts, &target, &all, &net.upserts).await?;
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
                "INSERT INTO {target} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {upserts} \
                 ON CONFLICT ({keys}) DO {action}; TRUNCATE {upserts}",
                cols = list(&all),
                keys = list(&key_names),
            ))
            .await?;
    }
    Ok(())
}

/// The name of the staging table of `kind` for `target`: a temporary table of the session, made
/// the first time it is needed and emptied after each use. A long target transaction stages
/// many times (a big source transaction, or one applied a change at a time), and a table
/// created and dropped each time would keep its locks until the commit, and churn the catalog.
fn staging(kind: &str, target: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.hash(&mut h);
    quote_ident(&format!("pgcutover_{kind}_{:016x}", h.finish()))
}

/// The staging table `name` (quoted) with `columns` of `target` (made if the session has none yet),
/// holding `rows`.
async fn stage(
    client: &Client,
    name: &str,
    target: &str,
    columns: &[&String],
    rows: &[Vec<Value<'static>>],
) -> Result<(), tokio_postgres::Error> {
    stage_as(client, name, target, &[], &[], columns, rows).await
}

/// [`stage`], with `renamed` columns of `target` first under the names `names`.
async fn stage_as(
    client: &Client,
    name: &str,
    target: &str,
    renamed: &[&String],
    names: &[String],
    columns: &[&String],
    rows: &[Vec<Value<'static>>],
) -> Result<(), tokio_postgres::Error> {
    let cols = renamed
        .iter()
        .zip(names)
        .map(|(c, n)| format!("{} AS {}", quote_ident(c), quote_ident(n)))
        .chain(columns.iter().map(|c| quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {name} AS SELECT {cols} FROM {target} WITH NO DATA"
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
    fn the_last_image_of_each_key_wins_a_moved_row_moves_and_a_replaced_one_is_deleted_first() {
        let net = Net::of(
            [
                RowChange::Insert(row(1, "a")),
                RowChange::Update {
                    before: row(1, "a"),
                    after: row(1, "a2"),
                },
                // A row that existed before moves, twice: 7 → 8 → 9.
                RowChange::Update {
                    before: row(7, "g"),
                    after: row(8, "g"),
                },
                RowChange::Update {
                    before: row(8, "g"),
                    after: row(9, "g2"),
                },
                // Inserted and deleted here: it never reaches the target.
                RowChange::Insert(row(4, "d")),
                RowChange::Delete(row(4, "d")),
                // Deleted, then inserted again (REPLACE): the delete must reach the target.
                RowChange::Delete(row(5, "e")),
                RowChange::Insert(row(5, "e2")),
                // Deleted for good.
                RowChange::Delete(row(6, "f")),
            ],
            &[0],
        );
        assert_eq!(
            net.deletes,
            [vec![Value::I32(5)], vec![Value::I32(6)]],
            "{net:?}"
        );
        assert_eq!(net.moves, [(vec![Value::I32(7)], row(9, "g2"))]);
        assert_eq!(net.upserts, [row(1, "a2"), row(9, "g2"), row(5, "e2")]);
    }
}
