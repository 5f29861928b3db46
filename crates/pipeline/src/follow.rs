//! Following the source after the copy: its change log's row changes applied to the target,
//! each source transaction in one target transaction together with the position after it, so
//! that a stop at any moment (kill -9 included) goes on with nothing applied twice and
//! nothing missed.
//!
//! This is the engine of `copy --follow` (see docs/follow.md).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::anyhow;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::source::{ChangeStream, RowChange, SourceChange};
use pgcutover_core::{quote_qualified, show_ident, Table};
use pgcutover_postgres::apply::{apply, Net, Phase};
use pgcutover_postgres::state;
use tokio_postgres::Client;

use crate::exit::{Exit, ExitCode};
use crate::source::Loaded;
use crate::target::{transaction, End};

/// What following did before it stopped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Followed {
    pub transactions: u64,
    pub changes: u64,
    /// Where the next change to apply is.
    pub position: Option<String>,
    /// `stop` ended it (between transactions: what was read of one in progress is dropped,
    /// and read again from the position next time).
    pub stopped: bool,
}

/// A followed table: its place in the load order and its key among the copied columns.
struct Keyed {
    table: Arc<Table>,
    key: Vec<usize>,
    order: usize,
}

/// Opens the source's change log at `from`, for the run's tables. Every table needs a key.
pub async fn open(
    loaded: &Loaded,
    from: &str,
    policy: ValuePolicy,
) -> Result<Box<dyn ChangeStream>, Exit> {
    if let Some(t) = loaded.schema.tables.iter().find(|t| t.row_key().is_none()) {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!(
                "table {} has no primary key or unique key over NOT NULL columns, so its changed rows cannot be found in the target",
                show_ident(&t.name)
            ),
            Some("give the table a primary key in the source, or leave it out with --exclude".to_owned()),
        ));
    }
    let tables = loaded.schema.tables.iter().cloned().map(Arc::new).collect();
    Ok(loaded.reads.changes(from, tables, policy).await?)
}

/// Applies changes from `stream` until `enough` says so after a commit, or `stop` resolves
/// (Ctrl-C). Each source transaction is applied in one target transaction, with the position
/// after it recorded in the run state.
pub async fn apply_until(
    loaded: &Loaded,
    client: &Client,
    schema_name: &str,
    stream: &mut dyn ChangeStream,
    enough: impl Fn(&Followed) -> bool,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Followed, Exit> {
    futures::pin_mut!(stop);
    let order = pgcutover_plan::load_order(&loaded.schema);
    let tables: HashMap<&str, Keyed> = loaded
        .schema
        .tables
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            Some((
                t.name.as_str(),
                Keyed {
                    table: Arc::new(t.clone()),
                    key: t.row_key()?,
                    order: order.order.iter().position(|o| *o == t.name).unwrap_or(i),
                },
            ))
        })
        .collect();
    let mut done = Followed::default();
    let mut pending: Vec<(String, RowChange)> = Vec::new();
    loop {
        let next = tokio::select! {
            next = stream.next() => next?,
            () = &mut stop => {
                done.stopped = true;
                return Ok(done);
            }
        };
        match next {
            SourceChange::Row { table, change } => pending.push((table, change)),
            SourceChange::Rejected(r) => {
                return Err(Exit::new(
                    ExitCode::ROWS_REJECTED,
                    anyhow!("a changed row cannot arrive exactly: {r}"),
                    Some(r.hint),
                ))
            }
            SourceChange::Statement { sql, position } => {
                return Err(Exit::new(
                    ExitCode::FAILED,
                    anyhow!(
                        "the source changed a followed table's definition at {position}: {}",
                        pgcutover_core::show(&sql)
                    ),
                    Some("following stops at a schema change, and cannot go on past it: copy again with --restart --force --follow (the copy takes the new definition; --force because following wrote to the tables)".to_owned()),
                ));
            }
            SourceChange::Truncate { table, position } => {
                truncate(client, schema_name, &table, &position, pending.len()).await?;
                done.transactions += 1;
                done.changes += 1;
                done.position = Some(position);
                if enough(&done) {
                    return Ok(done);
                }
            }
            SourceChange::Commit { position } => {
                let n = pending.len() as u64;
                let changes = std::mem::take(&mut pending);
                commit(client, schema_name, &tables, changes, &position).await?;
                done.transactions += 1;
                done.changes += n;
                done.position = Some(position);
                if enough(&done) {
                    return Ok(done);
                }
            }
        }
    }
}

/// A TRUNCATE of a followed table, its own source transaction: the target table emptied
/// (`TRUNCATE ONLY`, never CASCADE: the source emptied no other table) and the position after
/// it recorded, in one target transaction. `unfinished`: row changes read since the last
/// commit, which cannot be there (the server commits before it logs a TRUNCATE); if they are,
/// following stops rather than drop or apply them.
async fn truncate(
    client: &Client,
    schema_name: &str,
    table: &str,
    position: &str,
    unfinished: usize,
) -> Result<(), Exit> {
    let at = format!("the TRUNCATE of {} at {position}", show_ident(table));
    if unfinished > 0 {
        return Err(Exit::new(
            ExitCode::FAILED,
            anyhow!("{unfinished} row change(s) of an uncommitted transaction come before {at} in the binary log"),
            Some("this is not a binary log pgcutover knows how to follow; copy again with --restart --force --follow".to_owned()),
        ));
    }
    let emptied = transaction(client, async || {
        client
            .batch_execute(&format!(
                "TRUNCATE ONLY {}",
                quote_qualified(schema_name, table)
            ))
            .await?;
        state::followed_to(client, schema_name, position, 1).await?;
        Ok(End::Commit(()))
    })
    .await;
    match emptied {
        Ok(()) => Ok(()),
        // Other tables' foreign keys reference it: MySQL let the TRUNCATE through with
        // FOREIGN_KEY_CHECKS=0, leaving their rows; PostgreSQL empties such a table only with
        // them (CASCADE), which the source did not do.
        Err(e)
            if e.downcast_ref::<tokio_postgres::Error>()
                .and_then(tokio_postgres::Error::code)
                == Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED) =>
        {
            Err(Exit::new(
                ExitCode::FAILED,
                e.context(format!("applying {at}")),
                Some(format!(
                    "other tables' foreign keys reference {}: the source emptied it without them (FOREIGN_KEY_CHECKS=0), which PostgreSQL's foreign keys do not allow. Empty or fix the referencing rows in the source as well, then copy again with --restart --force --follow",
                    show_ident(table)
                )),
            ))
        }
        Err(e) => Err(Exit::from(e.context(format!("applying {at}")))),
    }
}

/// One source transaction: per table, its net effect; deletions children first, then moved
/// keys and rows parents first (the target's foreign keys stay on, so its cascades, on delete
/// and on update, happen as the source's did); then the position after it. All in one target
/// transaction.
async fn commit(
    client: &Client,
    schema_name: &str,
    tables: &HashMap<&str, Keyed>,
    changes: Vec<(String, RowChange)>,
    position: &str,
) -> Result<(), Exit> {
    let mut per_table: HashMap<String, Vec<RowChange>> = HashMap::new();
    for (table, change) in changes {
        per_table.entry(table).or_default().push(change);
    }
    let mut nets: Vec<(&Keyed, Net)> = per_table
        .into_iter()
        .filter_map(|(name, changes)| {
            let keyed = tables.get(name.as_str())?;
            Some((keyed, Net::of(changes, &keyed.key)))
        })
        .collect();
    nets.sort_by_key(|(k, _)| k.order);
    let count: i64 = nets
        .iter()
        .map(|(_, n)| (n.deletes.len() + n.upserts.len()) as i64)
        .sum();
    transaction(client, async || {
        for (keyed, net) in nets.iter().rev() {
            apply(
                client,
                schema_name,
                &keyed.table,
                &keyed.key,
                net,
                Phase::Deletes,
            )
            .await?;
        }
        for (keyed, net) in &nets {
            apply(
                client,
                schema_name,
                &keyed.table,
                &keyed.key,
                net,
                Phase::Writes,
            )
            .await?;
        }
        state::followed_to(client, schema_name, position, count).await?;
        Ok(End::Commit(()))
    })
    .await
    .map_err(|e| Exit::from(e.context(format!("applying the source's changes up to {position}"))))
}
