//! `pgcutover status TARGET` and `pgcutover reset TARGET`: a run's progress, and its rollback.

use std::io::Write;

use anyhow::{anyhow, Context};
use pgcutover_core::{quote_ident, quote_qualified};
use pgcutover_core::{show_ident, show_qualified};
use pgcutover_postgres::Target;
use serde::Serialize;
use tokio_postgres::Client;

use crate::cli::{Format, ResetArgs, StatusArgs};
use crate::exit::{Exit, ExitCode};
use crate::output::Printer;
use crate::state::{self, Run, WrittenSince};

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
    /// Why chunks that failed for good are not in (PostgreSQL's message).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
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
                    errors: mine
                        .iter()
                        .filter(|c| c.done.is_none())
                        .filter_map(|c| {
                            Some(format!("chunk {}: {}", c.plan.chunk, c.error.as_ref()?))
                        })
                        .collect(),
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
            for e in &t.errors {
                writeln!(w, "    FAILED {}", pgcutover_core::show(e))?;
            }
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

/// What a reset (or `copy --restart`, or `copy --drop-existing` over a complete run) does to
/// the target, listed before it is done: exactly the objects that exist now, and the rows
/// that will be lost.
#[derive(Debug, Serialize)]
pub struct ResetList {
    pub target_schema: String,
    pub run_status: String,
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
    let result = async {
        client.batch_execute("BEGIN").await?;
        let list = read_list(client, ts, run, keep_data).await;
        client.batch_execute("ROLLBACK").await?;
        list
    }
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
        run_status: run.status.clone(),
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

#[derive(Serialize)]
struct ResetOutput<'a> {
    /// Whether a run was recorded for the schema asked about.
    run_found: bool,
    #[serde(flatten)]
    list: Option<&'a ResetList>,
    dry_run: bool,
    /// Whether the reset was carried out.
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

/// Removes what the run created, and its record, after listing it and asking.
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
    let json = args.format == Format::Json;
    let print = |list: Option<&ResetList>, done: bool, refused: Option<String>| {
        if !json {
            return Ok(());
        }
        let out = ResetOutput {
            run_found: list.is_some(),
            list,
            dry_run: args.dry_run,
            done,
            refused,
        };
        crate::output::print_json(&mut std::io::stdout().lock(), "reset", &out)
    };
    let Some(run) = run else {
        printer.info(&format!(
            "no pgcutover run{} is recorded in {}; nothing to reset",
            args.target_schema
                .as_ref()
                .map_or(String::new(), |s| format!(" into schema {}", show_ident(s))),
            target.display()
        ));
        print(None, false, None)?;
        return Ok(ExitCode::OK);
    };
    let ts = run.fingerprint.target_schema.clone();
    // A dry run takes no lock: it changes nothing, and may look while a run is going.
    if !args.dry_run && !state::lock(&client, &ts).await? {
        return Err(Exit::new(
            ExitCode::TARGET_NOT_EMPTY,
            anyhow!(
                "a pgcutover run into schema {} is running now",
                show_ident(&ts)
            ),
            Some("stop it first (Ctrl-C), then reset".to_owned()),
        ));
    }
    let list = list(&client, &ts, run, args.keep_data).await?;
    if !json {
        let mut out = crate::output::TerminalText(std::io::stdout().lock());
        writeln!(
            out,
            "{}{}:",
            if args.dry_run {
                "reset --dry-run would reset "
            } else {
                "reset: "
            },
            list.lines()[0]
        )?;
        for l in &list.lines()[1..] {
            writeln!(out, "{l}")?;
        }
    }
    if args.dry_run {
        print(Some(&list), false, None)?;
        if !json {
            writeln!(std::io::stdout().lock(), "dry run: nothing was changed")?;
        }
        return Ok(ExitCode::OK);
    }
    if !args.keep_data && !args.force && !list.written_after_completion.is_empty() {
        print(
            Some(&list),
            false,
            Some("written after the run completed".to_owned()),
        )?;
        return Err(refuse_written(
            &ts,
            &list.written_after_completion,
            "To keep the data and only forget the run: `pgcutover reset TARGET --keep-data`. To drop it anyway: add --force",
        ));
    }
    if !args.yes {
        if let Err(e) = confirm(&ts, &list) {
            print(Some(&list), false, Some("not confirmed".to_owned()))?;
            return Err(e);
        }
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
        print(Some(&list), true, None)?;
        return Ok(ExitCode::OK);
    }
    let done = undo(&client, &ts, run, printer, args.force, list).await?;
    print(Some(&done), true, None)?;
    Ok(ExitCode::OK)
}

/// Asks the operator, on the terminal, to type the schema's name. The name, not `yes`: it
/// makes the operator read which run (and which schema) the list above is about, and a
/// reflexive `y` cannot pass. Without a terminal there is nobody to ask: `--yes` is needed.
fn confirm(ts: &str, list: &ResetList) -> Result<(), Exit> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!("reset destroys what is listed above, and asks first; there is no terminal to ask on"),
            Some("nothing was changed. Add --yes to go ahead, or run it on a terminal and type the schema's name when asked; --dry-run only lists".to_owned()),
        ));
    }
    let what = if list.keep_data {
        "This forgets the run (its tables and rows stay); a later reset can no longer remove them."
            .to_owned()
    } else {
        format!(
            "This drops what is listed above, and the {} row(s) in it. It cannot be undone.",
            list.rows_lost
        )
    };
    eprint!(
        "{what}\nType the name of the schema ({}) to go on, anything else to stop: ",
        pgcutover_core::show(ts)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    if answer.trim_end_matches(['\r', '\n']) == ts {
        return Ok(());
    }
    Err(Exit::new(
        ExitCode::USAGE,
        anyhow!("not confirmed: the answer was not {ts:?}"),
        Some("nothing was changed".to_owned()),
    ))
}

/// In one transaction: drops the tables, types, functions and schema the run created, or
/// (data-only) empties the tables it loaded, and forgets the run. The tables are locked first
/// and checked again under the lock: unless `force`, rows written after the run completed
/// make it change nothing. Returns what it did.
pub async fn undo(
    client: &Client,
    ts: &str,
    run: &Run,
    printer: &Printer,
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
    let result = async {
        client.batch_execute("BEGIN").await?;
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
                return Ok(Err(list));
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
        client.batch_execute("COMMIT").await?;
        Ok::<_, anyhow::Error>(Ok(list))
    }
    .await;
    let list = match result {
        Ok(Ok(list)) => list.unwrap_or(listed),
        Ok(Err(list)) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(refuse_written(
                ts,
                &list.written_after_completion,
                "They were written while this command ran. Look at them, then run it again (with --force to drop them anyway)",
            ));
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
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
    printer.info(&format!(
        "reset the run into schema {}: {}",
        show_ident(ts),
        parts.join(", ")
    ));
    Ok(list)
}
