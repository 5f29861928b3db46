//! `pgcutover status TARGET` and `pgcutover reset TARGET`: a run's progress, and its rollback.

use std::io::Write;

use anyhow::{anyhow, Context};
use pgcutover_core::show_ident;
use pgcutover_postgres::Target;
use serde::Serialize;

use crate::cli::{Format, ResetArgs, StatusArgs};
use crate::exit::{Exit, ExitCode};
use crate::output::Printer;
use crate::state;
use crate::undo::{list, refuse_written, undo, ResetList};

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
struct RunShown {
    target_schema: String,
    status: state::RunStatus,
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
    /// The source's change log: where the copy's snapshot was, or how far following got.
    #[serde(skip_serializing_if = "Option::is_none")]
    follow: Option<state::FollowState>,
}

/// Shows every run recorded in the target database (or the one for `--target-schema`).
pub async fn status(args: StatusArgs) -> Result<ExitCode, Exit> {
    let target = parse_target(&args.target)?;
    let client = crate::target::connect(&target).await?;
    let mut out = Vec::new();
    for run in state::runs(&client).await? {
        let ts = run.fingerprint.target_schema.clone();
        if args.target_schema.as_ref().is_some_and(|s| *s != ts) {
            continue;
        }
        let chunks = state::chunks(&client, &ts).await?;
        let tables = state::tables(&client, &ts).await?;
        let steps_done = state::steps_done(&client, &ts).await?.len();
        let follow = state::follow_state(&client, &ts)
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading the follow state"))?;
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
        out.push(RunShown {
            target_schema: ts,
            status: run.status,
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
            follow,
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
        if let Some(f) = &r.follow {
            write_follow(&mut w, f)?;
        }
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
        if r.status != state::RunStatus::Complete {
            writeln!(
                w,
                "  to finish it, run the same `pgcutover copy` again; to undo it, `pgcutover reset`"
            )?;
        }
    }
    Ok(ExitCode::OK)
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
    let client = crate::target::connect(&target).await?;
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
        crate::target::transaction(&client, async || {
            state::forget(&client, &ts).await?;
            Ok(crate::target::End::Commit(()))
        })
        .await
        .context("forgetting the run")?;
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

/// The follow state, for a person: where the copy's snapshot was, or how far following got,
/// how far behind the source it was when it last looked, and whether the run is cut over.
fn write_follow(w: &mut impl Write, f: &state::FollowState) -> std::io::Result<()> {
    let show = pgcutover_core::show;
    if let Some(at) = &f.cut_over_at {
        return writeln!(
            w,
            "  cut over at {at}, at {}: {} change(s) applied while following{}",
            show(f.cut_over_position.as_deref().unwrap_or("?")),
            f.changes,
            rejects_note(f.rejects)
        );
    }
    if f.changes == 0 && f.head.is_none() {
        return writeln!(
            w,
            "  binary log: the copy's snapshot is at {}",
            show(&f.position)
        );
    }
    writeln!(
        w,
        "  following: {} change(s) applied, up to {} (committed {}){}",
        f.changes,
        show(&f.position),
        f.updated_at,
        rejects_note(f.rejects)
    )?;
    if let (Some(head), Some(head_at)) = (&f.head, &f.head_at) {
        let behind = match (f.behind_bytes, f.lag_seconds) {
            (Some(0), _) => "caught up".to_owned(),
            (Some(b), Some(s)) => format!("{b} bytes, {s:.1}s behind"),
            (Some(b), None) => format!("{b} bytes behind"),
            (None, _) => "behind by an unknown amount (a purged file?)".to_owned(),
        };
        writeln!(
            w,
            "  source's log at {} when last looked ({head_at}): {behind}; {:.0} change(s)/s",
            show(head),
            f.changes_per_second.unwrap_or(0.0)
        )?;
    }
    Ok(())
}

fn rejects_note(rejects: i64) -> String {
    if rejects > 0 {
        format!(", {rejects} rejected (in the rejects file)")
    } else {
        String::new()
    }
}
