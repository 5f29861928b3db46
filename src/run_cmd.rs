//! `pgcutover status TARGET` and `pgcutover reset TARGET`: a run's progress, and its rollback.

use std::io::Write;

use anyhow::{anyhow, Context};
use pgcutover_core::show_ident;
use pgcutover_core::{quote_ident, quote_qualified};
use pgcutover_postgres::Target;
use serde::Serialize;
use tokio_postgres::Client;

use crate::cli::{Format, ResetArgs, StatusArgs};
use crate::exit::{Exit, ExitCode};
use crate::output::Printer;
use crate::state::{self, Run};

fn parse_target(s: &str) -> Result<Target, Exit> {
    crate::source::parse_target(s)
}

#[derive(Debug, Serialize)]
struct TableStatus {
    table: String,
    source_table: String,
    source_rows: Option<i64>,
    chunks: usize,
    chunks_done: usize,
    rows_written: i64,
    rows_rejected: i64,
}

#[derive(Debug, Serialize)]
struct RunStatus {
    target_schema: String,
    status: String,
    mode: String,
    source: String,
    started_at: String,
    updated_at: String,
    attempts: i32,
    last_exit_code: Option<i32>,
    tables: Vec<TableStatus>,
    chunks: usize,
    chunks_done: usize,
    steps_done: usize,
}

/// Shows every run recorded in the target database (or the one for `--target-schema`).
pub async fn status(args: StatusArgs) -> Result<ExitCode, Exit> {
    let target = parse_target(&args.target)?;
    let client = crate::copy_cmd::connect(&target).await?;
    let mut out = Vec::new();
    for run in state::runs(&client).await? {
        let ts = run.fingerprint.target_schema.clone();
        if args.target_schema.as_ref().is_some_and(|s| *s != ts) {
            continue;
        }
        let chunks = state::chunks(&client, &ts).await?;
        let tables = state::tables(&client, &ts).await?;
        let steps_done = state::steps_done(&client, &ts).await?.len();
        let table_status: Vec<TableStatus> = tables
            .into_iter()
            .map(|(table, source_table, source_rows)| {
                let mine: Vec<_> = chunks.iter().filter(|c| c.plan.table == table).collect();
                let done: Vec<_> = mine.iter().filter_map(|c| c.done.as_ref()).collect();
                TableStatus {
                    chunks: mine.len(),
                    chunks_done: done.len(),
                    rows_written: done.iter().map(|d| d.rows_written).sum(),
                    rows_rejected: done.iter().map(|d| d.rows_rejected).sum(),
                    table,
                    source_table,
                    source_rows,
                }
            })
            .collect();
        out.push(RunStatus {
            target_schema: ts,
            status: run.status.clone(),
            mode: run.fingerprint.mode.clone(),
            source: run.fingerprint.source.clone(),
            started_at: run.started_at.clone(),
            updated_at: run.updated_at.clone(),
            attempts: run.attempts,
            last_exit_code: run.exit_code,
            chunks: chunks.len(),
            chunks_done: chunks.iter().filter(|c| c.done.is_some()).count(),
            tables: table_status,
            steps_done,
        });
    }
    let mut w = std::io::stdout().lock();
    if args.format == Format::Json {
        crate::output::print_json(&mut w, "status", &out)?;
        return Ok(ExitCode::OK);
    }
    let mut w = crate::output::TerminalText(w);
    if out.is_empty() {
        writeln!(w, "no pgcutover run is recorded in {}", target.display())?;
        return Ok(ExitCode::OK);
    }
    for r in &out {
        writeln!(
            w,
            "run into schema {}: {} ({}, from {})",
            show_ident(&r.target_schema),
            r.status,
            r.mode,
            pgcutover_core::show(&r.source)
        )?;
        writeln!(
            w,
            "  started {}, last active {}, {} attempt(s){}",
            r.started_at,
            r.updated_at,
            r.attempts,
            r.last_exit_code
                .map_or(String::new(), |c| format!(", last exit code {c}"))
        )?;
        writeln!(
            w,
            "  data: {} of {} chunk(s) done; post-load: {} step(s) done",
            r.chunks_done, r.chunks, r.steps_done
        )?;
        let width = crate::output::name_width(r.tables.iter().map(|t| t.table.as_str()));
        writeln!(
            w,
            "  {:width$}  {:>9}  {:>12}  {:>12}  {:>9}",
            "table", "chunks", "rows in", "source rows", "rejected"
        )?;
        for t in &r.tables {
            writeln!(
                w,
                "  {:width$}  {:>9}  {:>12}  {:>12}  {:>9}",
                show_ident(&t.table),
                format!("{}/{}", t.chunks_done, t.chunks),
                t.rows_written,
                t.source_rows.map_or("?".to_owned(), |n| n.to_string()),
                t.rows_rejected
            )?;
        }
        if r.status != "complete" {
            writeln!(
                w,
                "  to finish it, run the same `pgcutover copy` again; to undo it, `pgcutover reset`"
            )?;
        }
    }
    Ok(ExitCode::OK)
}

/// Removes what the run created, and its record.
pub async fn reset(args: ResetArgs, printer: &Printer) -> Result<ExitCode, Exit> {
    let target = parse_target(&args.target)?;
    let client = crate::copy_cmd::connect(&target).await?;
    let runs = state::runs(&client).await?;
    let run = match (&args.target_schema, runs.as_slice()) {
        (Some(s), _) => runs.iter().find(|r| r.fingerprint.target_schema == *s),
        (None, [one]) => Some(one),
        (None, []) => None,
        (None, many) => {
            return Err(Exit::new(
                ExitCode::USAGE,
                anyhow!(
                    "{} holds {} runs (into schemas {})",
                    target.display(),
                    many.len(),
                    many.iter()
                        .map(|r| show_ident(&r.fingerprint.target_schema))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some("name the one to reset with --target-schema".to_owned()),
            ))
        }
    };
    let Some(run) = run else {
        printer.info(&format!(
            "no pgcutover run{} is recorded in {}; nothing to reset",
            args.target_schema
                .as_ref()
                .map_or(String::new(), |s| format!(" into schema {}", show_ident(s))),
            target.display()
        ));
        return Ok(ExitCode::OK);
    };
    let ts = run.fingerprint.target_schema.clone();
    if !state::lock(&client, &ts).await? {
        return Err(Exit::new(
            ExitCode::TARGET_NOT_EMPTY,
            anyhow!(
                "a pgcutover run into schema {} is running now",
                show_ident(&ts)
            ),
            Some("stop it first (Ctrl-C), then reset".to_owned()),
        ));
    }
    if args.keep_data {
        client.batch_execute("BEGIN").await.context("reset")?;
        state::forget(&client, &ts)
            .await
            .context("forgetting the run")?;
        client.batch_execute("COMMIT").await.context("reset")?;
        printer.info(&format!(
            "forgot the run into schema {}; its tables and rows stay",
            show_ident(&ts)
        ));
        return Ok(ExitCode::OK);
    }
    undo(&client, &ts, run, printer).await?;
    Ok(ExitCode::OK)
}

/// In one transaction: drops the tables, types, functions and schema the run created, or
/// (data-only) empties the tables it loaded, and forgets the run.
pub async fn undo(client: &Client, ts: &str, run: &Run, printer: &Printer) -> Result<(), Exit> {
    let c = &run.created;
    let mut sql = Vec::new();
    if !c.tables.is_empty() {
        sql.push(format!(
            "DROP TABLE IF EXISTS {}",
            c.tables
                .iter()
                .map(|t| quote_qualified(ts, t))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for f in &c.functions {
        sql.push(format!(
            "DROP FUNCTION IF EXISTS {}()",
            quote_qualified(ts, f)
        ));
    }
    for e in &c.enums {
        sql.push(format!("DROP TYPE IF EXISTS {}", quote_qualified(ts, e)));
    }
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
    let result = async {
        client.batch_execute("BEGIN").await?;
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
        client.batch_execute("COMMIT").await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = result {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(Exit::new(
            ExitCode::FAILED,
            e.context(format!(
                "resetting the run into schema {} (nothing was changed)",
                show_ident(ts)
            )),
            Some("another object may depend on a table the run created (a view, a foreign key from your own table); drop it first".to_owned()),
        ));
    }
    let mut parts = Vec::new();
    if !c.tables.is_empty() {
        parts.push(format!("dropped {} table(s)", c.tables.len()));
    }
    if !c.enums.is_empty() {
        parts.push(format!("{} enum type(s)", c.enums.len()));
    }
    if !c.loaded.is_empty() {
        parts.push(format!("emptied {} table(s) it loaded", c.loaded.len()));
    }
    parts.push("forgot the run".to_owned());
    printer.info(&format!(
        "reset the run into schema {}: {}",
        show_ident(ts),
        parts.join(", ")
    ));
    Ok(())
}
