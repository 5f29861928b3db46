//! Undoing a run: listing exactly what a reset (or `copy --restart`, or `copy
//! --drop-existing` over a complete run) will drop or empty, refusing when the run's tables
//! were written after it completed, and doing it. Shared by `reset` and `copy`.

use anyhow::{anyhow, Context};
use pgcutover_core::{quote_ident, quote_qualified};
use pgcutover_core::{show_ident, show_qualified};
use serde::Serialize;
use tokio_postgres::Client;

use crate::exit::{Exit, ExitCode};
use crate::observe::Observer;
use crate::state::{self, Run, WrittenSince};
use crate::target::{transaction, End};

/// What a reset (or `copy --restart`, or `copy --drop-existing` over a complete run) does to
/// the target, listed before it is done: exactly the objects that exist now, and the rows
/// that will be lost.
#[derive(Debug, Serialize)]
pub struct ResetList {
    pub target_schema: String,
    pub run_status: state::RunStatus,
    pub mode: String,
    pub source: String,
    pub started_at: String,
    pub keep_data: bool,
    /// Tables the run created, dropped with the rows they hold now.
    pub drop_tables: Vec<TableRows>,
    /// Tables of yours that a data-only run loaded: emptied, not dropped.
    pub empty_tables: Vec<TableRows>,
    /// Enum types the run created.
    pub drop_types: Vec<String>,
    /// Trigger functions the run created (`ON UPDATE CURRENT_TIMESTAMP`).
    pub drop_functions: Vec<String>,
    /// The target schema, when the run created it: dropped if nothing else is left in it.
    pub drop_schema: Option<String>,
    /// With --keep-data: the tables that stay as they are.
    pub keep_tables: Vec<String>,
    /// Rows in the tables dropped or emptied.
    pub rows_lost: i64,
    /// The run's tables written after it completed (after a cutover, the application's rows):
    /// refused without --force.
    pub written_after_completion: Vec<WrittenSince>,
}

#[derive(Debug, Serialize)]
pub struct TableRows {
    pub table: String,
    pub rows: i64,
}

impl ResetList {
    /// The refusal (exit 4) when the run's tables were written after it completed, unless the
    /// operator said `force`. `how`: what they can do instead.
    pub fn refuse_unless(&self, force: bool, how: &str) -> Result<(), Exit> {
        if force || self.written_after_completion.is_empty() {
            return Ok(());
        }
        Err(refuse_written(
            &self.target_schema,
            &self.written_after_completion,
            how,
        ))
    }

    /// The list for a person, one line per object.
    pub fn lines(&self) -> Vec<String> {
        let ts = &self.target_schema;
        let mut out = vec![format!(
            "the run into schema {} ({}; {} copy from {}, started {})",
            show_ident(ts),
            self.run_status,
            self.mode,
            pgcutover_core::show(&self.source),
            self.started_at
        )];
        for t in &self.drop_tables {
            out.push(format!(
                "  drop table {}: {} row(s)",
                show_qualified(ts, &t.table),
                t.rows
            ));
        }
        for t in &self.empty_tables {
            out.push(format!(
                "  empty table {} (loaded by the data-only run): {} row(s)",
                show_qualified(ts, &t.table),
                t.rows
            ));
        }
        for e in &self.drop_types {
            out.push(format!("  drop type {}", show_qualified(ts, e)));
        }
        for f in &self.drop_functions {
            out.push(format!("  drop function {}()", show_qualified(ts, f)));
        }
        if let Some(s) = &self.drop_schema {
            out.push(format!(
                "  drop schema {} (the run created it), if nothing else is left in it",
                show_ident(s)
            ));
        }
        if !self.keep_tables.is_empty() {
            out.push(format!(
                "  keep {} table(s) and their rows: {}",
                self.keep_tables.len(),
                self.keep_tables
                    .iter()
                    .map(|t| show_qualified(ts, t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(format!(
            "  forget the run (and drop the schema {} once no run is left in it)",
            show_ident(state::SCHEMA)
        ));
        if !self.keep_data {
            out.push(format!(
                "  rows lost: {} in {} table(s)",
                self.rows_lost,
                self.drop_tables.len() + self.empty_tables.len()
            ));
        }
        for w in &self.written_after_completion {
            out.push(format!(
                "  WRITTEN AFTER THE RUN COMPLETED: {}: {}",
                show_qualified(ts, &w.table),
                w.why
            ));
        }
        out
    }
}

/// The run's tables: the ones it created, or (data-only) the ones it loaded.
fn run_tables(run: &Run) -> Vec<String> {
    run.created
        .tables
        .iter()
        .chain(&run.created.loaded)
        .cloned()
        .collect()
}

/// Lists what undoing `run` would do, changing nothing: reads inside a transaction that is
/// rolled back (it takes a transaction id, which `written_since` counts from).
pub async fn list(
    client: &Client,
    ts: &str,
    run: &Run,
    keep_data: bool,
) -> Result<ResetList, Exit> {
    // A look, in one snapshot; nothing to keep.
    let result = transaction(client, async || {
        Ok(End::Rollback(read_list(client, ts, run, keep_data).await?))
    })
    .await;
    result.map_err(|e| {
        Exit::from(e.context(format!(
            "listing what the run into schema {} created",
            show_ident(ts)
        )))
    })
}

async fn read_list(
    client: &Client,
    ts: &str,
    run: &Run,
    keep_data: bool,
) -> anyhow::Result<ResetList> {
    let c = &run.created;
    let mut list = ResetList {
        target_schema: ts.to_owned(),
        run_status: run.status,
        mode: run.fingerprint.mode.clone(),
        source: run.fingerprint.source.clone(),
        started_at: run.started_at.clone(),
        keep_data,
        drop_tables: Vec::new(),
        empty_tables: Vec::new(),
        drop_types: Vec::new(),
        drop_functions: Vec::new(),
        drop_schema: None,
        keep_tables: Vec::new(),
        rows_lost: 0,
        written_after_completion: Vec::new(),
    };
    if keep_data {
        for t in run_tables(run) {
            let q = quote_qualified(ts, &t);
            let exists: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&q])
                .await?
                .get(0);
            if exists {
                list.keep_tables.push(t);
            }
        }
        return Ok(list);
    }
    let (rows, written) = state::written_since(client, ts, run, &run_tables(run)).await?;
    for t in &c.tables {
        if let Some(&n) = rows.get(t) {
            list.drop_tables.push(TableRows {
                table: t.clone(),
                rows: n,
            });
        }
    }
    for t in &c.loaded {
        if let Some(&n) = rows.get(t) {
            list.empty_tables.push(TableRows {
                table: t.clone(),
                rows: n,
            });
        }
    }
    list.rows_lost = rows.values().sum();
    list.written_after_completion = written;
    for e in &c.enums {
        let exists: bool = client
            .query_one(
                "SELECT to_regtype($1) IS NOT NULL",
                &[&quote_qualified(ts, e)],
            )
            .await?
            .get(0);
        if exists {
            list.drop_types.push(e.clone());
        }
    }
    for f in &c.functions {
        let exists: bool = client
            .query_one(
                "SELECT to_regprocedure($1) IS NOT NULL",
                &[&format!("{}()", quote_qualified(ts, f))],
            )
            .await?
            .get(0);
        if exists {
            list.drop_functions.push(f.clone());
        }
    }
    list.drop_schema = c.schema.clone();
    Ok(list)
}

/// The refusal when the run's tables were written after it completed. `how`: what the
/// operator can do instead, for the command at hand.
pub fn refuse_written(ts: &str, written: &[WrittenSince], how: &str) -> Exit {
    Exit::new(
        ExitCode::TARGET_NOT_EMPTY,
        anyhow!(
            "the tables of the run into schema {} were written after the run completed, so they may hold rows that exist nowhere else (after a cutover, the application's):\n  - {}",
            show_ident(ts),
            written
                .iter()
                .map(|w| format!("{}: {}", show_qualified(ts, &w.table), w.why))
                .collect::<Vec<_>>()
                .join("\n  - ")
        ),
        Some(format!("nothing was changed. {how}")),
    )
}

/// In one transaction: drops the tables, types, functions and schema the run created, or
/// (data-only) empties the tables it loaded, and forgets the run. The tables are locked first
/// and checked again under the lock: unless `force`, rows written after the run completed
/// make it change nothing. Returns what it did.
pub async fn undo(
    client: &Client,
    ts: &str,
    run: &Run,
    observer: &dyn Observer,
    force: bool,
    listed: ResetList,
) -> Result<ResetList, Exit> {
    let c = &run.created;
    let mut sql = c.drop_sql(ts, false);
    if !c.loaded.is_empty() {
        sql.push(format!(
            "TRUNCATE {}",
            c.loaded
                .iter()
                .map(|t| quote_qualified(ts, t))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let result = transaction(client, async || {
        // Nobody writes to the tables between the check and the drop; an application holding
        // them makes reset give up rather than wait forever.
        client
            .batch_execute("SET LOCAL lock_timeout = '30s'")
            .await?;
        let mut existing = Vec::new();
        for t in run_tables(run) {
            let q = quote_qualified(ts, &t);
            let there: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&q])
                .await?
                .get(0);
            if there {
                existing.push(q);
            }
        }
        if !existing.is_empty() {
            client
                .batch_execute(&format!(
                    "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
                    existing.join(", ")
                ))
                .await
                .context("locking the run's tables")?;
        }
        // With --force the operator has seen the list and chosen: no second scan of every
        // table while the application waits on the lock.
        let list = if force {
            None
        } else {
            let list = read_list(client, ts, run, false).await?;
            if !list.written_after_completion.is_empty() {
                return Ok(End::Rollback(Err(list)));
            }
            Some(list)
        };
        for s in &sql {
            client
                .batch_execute(s)
                .await
                .with_context(|| format!("running {}", pgcutover_core::show_sql(s)))?;
        }
        if let Some(schema) = &c.schema {
            // Only when nothing else lives in it now.
            let empty: bool = client
                .query_one(
                    "SELECT NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1) \
                     AND NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1) \
                     AND NOT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1)",
                    &[schema],
                )
                .await?
                .get(0);
            if empty {
                client
                    .batch_execute(&format!("DROP SCHEMA {}", quote_ident(schema)))
                    .await?;
            }
        }
        state::forget(client, ts).await?;
        Ok(End::Commit(Ok(list)))
    })
    .await;
    let list = match result {
        Ok(Ok(list)) => list.unwrap_or(listed),
        Ok(Err(list)) => {
            return Err(refuse_written(
                ts,
                &list.written_after_completion,
                "They were written while this command ran. Look at them, then run it again (with --force to drop them anyway)",
            ));
        }
        Err(e) => {
            return Err(Exit::new(
                ExitCode::FAILED,
                e.context(format!(
                    "resetting the run into schema {} (nothing was changed)",
                    show_ident(ts)
                )),
                Some("another object may depend on a table the run created (a view, a foreign key from your own table), or a session holds its tables; drop it or end it first".to_owned()),
            ));
        }
    };
    let mut parts = Vec::new();
    if !list.drop_tables.is_empty() {
        parts.push(format!("dropped {} table(s)", list.drop_tables.len()));
    }
    if !list.drop_types.is_empty() {
        parts.push(format!("{} enum type(s)", list.drop_types.len()));
    }
    if !list.drop_functions.is_empty() {
        parts.push(format!("{} function(s)", list.drop_functions.len()));
    }
    if !list.empty_tables.is_empty() {
        parts.push(format!(
            "emptied {} table(s) it loaded",
            list.empty_tables.len()
        ));
    }
    if !list.keep_data {
        parts.push(format!("{} row(s) removed", list.rows_lost));
    }
    parts.push("forgot the run".to_owned());
    observer.info(&format!(
        "reset the run into schema {}: {}",
        show_ident(ts),
        parts.join(", ")
    ));
    Ok(list)
}
