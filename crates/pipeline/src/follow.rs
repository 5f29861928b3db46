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
use pgcutover_core::{show_ident, Table};
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
                    Some("following stops at a schema change: apply the same change to the target, then copy the table again (--include it with --restart)".to_owned()),
                ));
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
