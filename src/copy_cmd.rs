//! `pgcutover copy`: the phases of a copy, in order.
//!
//! 1. read the source schema; connect to the target; refuse if tables already exist
//!    (unless --drop-existing / --data-only), before anything is written;
//! 2. create the schema and tables (one transaction);
//! 3. copy the data: per table, a reader thread converts and encodes rows into batches that a
//!    bounded channel hands to that table's binary COPY; `--jobs` tables at a time;
//! 4. post-load: primary keys, unique constraints, indexes and CHECKs (in parallel), then
//!    foreign keys, then identity restarts and ANALYZE;
//! 5. the summary, the JSON report and the exit code.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, Context};
use futures::StreamExt;
use pgcutover_core::{quote_ident, Reject, Schema};
use pgcutover_postgres::ddl::{self, OrphanCheck, Step, StepKind};
use pgcutover_postgres::{load, Target};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::cli::{CopyArgs, OrphanPolicy};
use crate::exit::{Exit, ExitCode};
use crate::output::Printer;
use crate::readers::{Batch, MysqlPool, ReaderOutcome, Readers};
use crate::report::{Report, StepReport, TableReport};
use crate::source::{load_schema, resolve, value_policy, Loaded, SourceSpec, TargetFacts};

/// Batches in flight per table between reader and writer.
const CHANNEL_BATCHES: usize = 2;

pub async fn run(args: CopyArgs, printer: &Printer) -> Result<ExitCode, Exit> {
    let started = Instant::now();
    let (source, target) = resolve(&args.endpoints)?;
    let schema_name = args.select.target_schema.clone();
    let jobs = crate::cli::jobs_or_cores(args.jobs);
    let policy = value_policy(&args.values);

    // The target first: what it has (PostGIS) shapes the mapping.
    let client = connect(&target).await?;
    printer.info(&format!("connected to {}", target.display()));
    let facts = TargetFacts::read(&client).await?;

    printer.info(&format!("reading the schema of {}", source.display()));
    let loaded = Arc::new(load_schema(&source, &args.select, &args.values, &facts).await?);
    let schema = &loaded.schema;
    if schema.tables.is_empty() {
        printer.warn("no tables to copy (check --include/--exclude)");
    }
    for w in &schema.warnings {
        printer.warn(&format!("{}: {}", w.object, w.message));
    }

    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    let existing = load::existing_tables(&client, &schema_name, &names)
        .await
        .context("checking the target for existing tables")?;

    let mut report = Report::new(&source, &target, &schema_name);
    report.warnings = schema.warnings.clone();

    if args.data_only {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !existing.iter().any(|e| e == n))
            .collect();
        if !missing.is_empty() {
            return Err(Exit::new(
                ExitCode::USAGE,
                anyhow!("--data-only needs the tables to exist, but {} has no {}", quote_ident(&schema_name), missing.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join(", ")),
                Some("create the schema first (your migration tool, or `pgcutover copy --schema-only`)".to_owned()),
            ));
        }
    } else if !existing.is_empty() && !args.drop_existing {
        return Err(Exit::new(
            ExitCode::TARGET_NOT_EMPTY,
            anyhow!("the target already has {} table(s) this copy would create: {}", existing.len(), existing.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join(", ")),
            Some("nothing was written. Use --drop-existing to replace them, --data-only to load into them, or --target-schema to copy elsewhere".to_owned()),
        ));
    }

    // The readers (and with --consistent, the snapshot) come before anything is written, so a
    // source that cannot be read leaves the target untouched.
    let readers = if args.schema_only {
        None
    } else {
        Some(match &source {
            SourceSpec::Sqlite(path) => Readers::Sqlite {
                path: path.clone(),
                policy,
            },
            SourceSpec::Mysql(m) => {
                if args.consistent {
                    printer
                        .info("--consistent: taking one snapshot of the source for every reader");
                }
                Readers::Mysql(MysqlPool::start(m, jobs, args.consistent, policy).await?)
            }
        })
    };

    if !args.data_only {
        create_tables(&client, &schema_name, schema, args.drop_existing, &existing).await?;
        printer.info(&format!(
            "created {} table(s) in schema {}",
            schema.tables.len(),
            quote_ident(&schema_name)
        ));
    }

    let rejects = Arc::new(RejectLog::new(args.rejects.clone()));
    if let Some(readers) = &readers {
        let order: Vec<usize> = if args.data_only {
            // The target enforces its foreign keys during a data-only load: parents first.
            let order = pgcutover_plan::load_order(schema);
            order
                .order
                .iter()
                .filter_map(|n| schema.tables.iter().position(|t| &t.name == n))
                .collect()
        } else {
            // No constraints exist yet: biggest tables first packs the jobs best.
            let mut idx: Vec<usize> = (0..schema.tables.len()).collect();
            idx.sort_by_key(|&i| std::cmp::Reverse(schema.tables[i].source_rows.unwrap_or(0)));
            idx
        };
        let parallel = if args.data_only { 1 } else { jobs };
        let copied = copy_tables(
            &target,
            &schema_name,
            &loaded,
            readers,
            &order,
            parallel,
            args.batch_rows as usize,
            &rejects,
            printer,
        )
        .await;
        if let Readers::Mysql(pool) = readers {
            pool.close();
        }
        report.tables = copied?;
    }

    let steps: Vec<Step> = ddl::post_load_steps(&schema_name, schema)
        .into_iter()
        .filter(|s| !args.data_only || matches!(s.kind, StepKind::Identity | StepKind::Analyze))
        .filter(|s| !(args.schema_only && s.kind == StepKind::Analyze))
        .collect();
    if !steps.is_empty() {
        printer.info(&format!(
            "post-load: {} step(s): keys, indexes, constraints, foreign keys, identities, ANALYZE",
            steps.len()
        ));
    }
    report.post_load = run_steps(&target, steps, jobs, args.orphans, printer).await?;
    for s in &report.post_load {
        let message = match (s.kind, s.demoted_to_warning, &s.note) {
            (StepKind::ForeignKey, _, Some(note)) => note.clone(),
            (_, true, _) => format!(
                "not carried over: PostgreSQL rejected the translation: {}",
                s.error.as_deref().unwrap_or("")
            ),
            _ => continue,
        };
        report.warnings.push(pgcutover_core::Warning::new(
            format!("{} {}", s.kind.label(), quote_ident(&s.object)),
            message,
        ));
    }
    rejects.flush()?;
    report.rejects_file = (rejects.count() > 0).then(|| args.rejects.display().to_string());

    if let (Some(mode), false) = (args.verify, args.schema_only) {
        let settings = crate::verify_cmd::Settings {
            mode,
            jobs,
            max_diffs: args.max_diffs as usize,
            policy,
        };
        // The rows this copy rejected are the expected differences.
        let expected: std::collections::HashMap<String, u64> = report
            .tables
            .iter()
            .map(|t| (t.table.clone(), t.rows_rejected))
            .collect();
        let verified = crate::verify_cmd::verify_all(
            &source,
            &loaded,
            &target,
            &schema_name,
            &settings,
            &expected,
            printer,
        )
        .await?;
        report.verification = Some(verified);
    }
    report.finish(started.elapsed());

    let code = report.exit_code();
    report.print(args.format)?;
    if let Some(path) = &args.report {
        report
            .write(path)
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(code)
}

pub async fn connect(target: &Target) -> Result<Client, Exit> {
    target.connect().await.map_err(|e| {
        Exit::new(
            ExitCode::CANNOT_CONNECT,
            e,
            Some("check that PostgreSQL runs and listens there, and the user and password (PGPASSWORD or ~/.pgpass; never put a password on the command line)".to_owned()),
        )
    })
}

async fn create_tables(
    client: &Client,
    schema_name: &str,
    schema: &Schema,
    drop: bool,
    existing: &[String],
) -> Result<(), Exit> {
    let mut sql = vec![ddl::create_schema(schema_name)];
    if drop {
        for t in schema.tables.iter().filter(|t| existing.contains(&t.name)) {
            sql.push(ddl::drop_table(schema_name, t));
        }
        for e in &schema.enums {
            sql.push(ddl::drop_enum(schema_name, e));
        }
    }
    for e in &schema.enums {
        sql.push(ddl::create_enum(schema_name, e));
    }
    for t in &schema.tables {
        sql.push(ddl::create_table(schema_name, t));
        sql.extend(ddl::comments(schema_name, t));
    }
    let script = format!("BEGIN;\n{};\nCOMMIT;", sql.join(";\n"));
    if let Err(e) = client.batch_execute(&script).await {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(Exit::new(
            ExitCode::FAILED,
            anyhow::Error::new(e).context("creating the tables (nothing was kept)"),
            None,
        ));
    }
    Ok(())
}

/// Rejected rows, appended to a JSON Lines file that is created on the first reject.
pub struct RejectLog {
    path: PathBuf,
    file: Mutex<Option<BufWriter<File>>>,
    count: AtomicU64,
}

impl RejectLog {
    fn new(path: PathBuf) -> RejectLog {
        RejectLog {
            path,
            file: Mutex::new(None),
            count: AtomicU64::new(0),
        }
    }

    pub fn write(&self, r: &Reject) -> std::io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(BufWriter::new(File::create(&self.path)?));
        }
        let w = guard.as_mut().expect("just created");
        serde_json::to_writer(&mut *w, r)?;
        w.write_all(b"\n")?;
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        if let Some(w) = self.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[allow(clippy::too_many_arguments)]
async fn copy_tables(
    target: &Target,
    schema_name: &str,
    loaded: &Arc<Loaded>,
    readers: &Readers,
    order: &[usize],
    jobs: usize,
    batch_rows: usize,
    rejects: &Arc<RejectLog>,
    printer: &Printer,
) -> Result<Vec<TableReport>, Exit> {
    let results = futures::stream::iter(order.iter().copied())
        .map(|i| {
            copy_one(
                target,
                schema_name,
                loaded,
                readers,
                i,
                batch_rows,
                rejects,
                printer,
            )
        })
        .buffer_unordered(jobs.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut reports = Vec::with_capacity(results.len());
    for r in results {
        reports.push(r?);
    }
    // Report in the schema's order, whatever order they finished in.
    reports.sort_by_key(|r| loaded.schema.tables.iter().position(|t| t.name == r.table));
    Ok(reports)
}

#[allow(clippy::too_many_arguments)]
async fn copy_one(
    target: &Target,
    schema_name: &str,
    loaded: &Arc<Loaded>,
    readers: &Readers,
    index: usize,
    batch_rows: usize,
    rejects: &Arc<RejectLog>,
    printer: &Printer,
) -> Result<TableReport, Exit> {
    let table = &loaded.schema.tables[index];
    let started = Instant::now();
    let client = connect(target).await?;
    let (tx, mut rx) = mpsc::channel::<Result<Batch, String>>(CHANNEL_BATCHES);
    let reader_results = readers.start(loaded, index, batch_rows, rejects, tx)?;
    let mut progress = printer.table(&table.name, table.source_rows);
    let rows_sent = Arc::new(AtomicU64::new(0));
    let bytes_sent = Arc::new(AtomicU64::new(0));
    let batches = {
        let (rows_sent, bytes_sent) = (Arc::clone(&rows_sent), Arc::clone(&bytes_sent));
        let progress = &mut progress;
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(move |item| {
            item.map(|b| {
                bytes_sent.fetch_add(b.data.len() as u64, Ordering::Relaxed);
                // For display only: the count that matters is PostgreSQL's answer to COPY.
                let rows = rows_sent.fetch_add(b.rows, Ordering::Relaxed) + b.rows;
                progress.set(rows);
                b.data
            })
        })
    };
    let copied = load::copy_batches(&client, schema_name, table, batches).await;
    let mut outcome = ReaderOutcome::default();
    for r in reader_results {
        let one = r
            .await
            .map_err(|_| {
                anyhow!(
                    "a reader for {} stopped without a result",
                    quote_ident(&table.name)
                )
            })?
            .map_err(|e| {
                Exit::new(
                    ExitCode::FAILED,
                    e.context(format!("reading table {}", quote_ident(&table.source_name))),
                    None,
                )
            })?;
        outcome.merge(one);
    }
    progress.finish();
    let written = match copied {
        Ok(n) => n,
        Err(load::CopyError::Source(msg)) => return Err(Exit::new(ExitCode::FAILED, anyhow!("{msg}"), None)),
        Err(load::CopyError::Db(e)) => {
            return Err(Exit::new(
                ExitCode::FAILED,
                anyhow::Error::new(e).context(format!("COPY into {} failed; the table's load was rolled back", quote_ident(&table.name))),
                Some("this is a bug in pgcutover's conversion if the message names a value; please report it with the table's DDL".to_owned()),
            ))
        }
    };
    if written + outcome.rejected != outcome.rows_read {
        return Err(Exit::new(
            ExitCode::FAILED,
            anyhow!(
                "table {}: read {} rows, rejected {}, but PostgreSQL loaded {}",
                quote_ident(&table.name),
                outcome.rows_read,
                outcome.rejected,
                written
            ),
            None,
        ));
    }
    let seconds = started.elapsed().as_secs_f64();
    let bytes = bytes_sent.load(Ordering::Relaxed);
    printer.info(&format!(
        "copied {}: {} rows{} in {:.1}s ({:.1} MB)",
        quote_ident(&table.name),
        written,
        if outcome.rejected > 0 {
            format!(", {} rejected", outcome.rejected)
        } else {
            String::new()
        },
        seconds,
        bytes as f64 / 1e6
    ));
    if let Some(r) = &outcome.first_reject {
        printer.warn(&format!("rejected {r}\n  hint: {}", r.hint));
        if outcome.rejected > 1 {
            printer.warn(&format!(
                "{} more rejected row(s) of {} are in {}",
                outcome.rejected - 1,
                quote_ident(&table.name),
                rejects.path().display()
            ));
        }
    }
    let zero_dates: std::collections::BTreeMap<String, u64> = outcome
        .zero_dates
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| (table.columns[i].name.clone(), *n))
        .collect();
    for (col, n) in &zero_dates {
        printer.warn(&format!(
            "{}.{}: {n} zero date(s) became NULL",
            quote_ident(&table.name),
            quote_ident(col)
        ));
    }
    Ok(TableReport {
        table: table.name.clone(),
        source_table: table.source_name.clone(),
        rows_read: outcome.rows_read,
        rows_written: written,
        rows_rejected: outcome.rejected,
        zero_dates,
        seconds,
        bytes,
    })
}

/// Creates a foreign key after counting its orphans; with orphans, `policy` decides. The
/// report names the child table, the key columns, the number of orphans and some of their keys.
async fn foreign_key(
    client: &Client,
    step: Step,
    check: &OrphanCheck,
    policy: OrphanPolicy,
    t0: Instant,
) -> StepReport {
    let found = client.query_one(&check.sql, &[]).await;
    let (count, examples) = match found {
        Ok(row) => (
            row.get::<_, i64>(0) as u64,
            row.get::<_, Option<Vec<String>>>(1).unwrap_or_default(),
        ),
        Err(e) => return StepReport::new(step, Err(e), t0.elapsed().as_secs_f64()),
    };
    if count == 0 {
        let result = client.batch_execute(&step.sql).await;
        let mut r = StepReport::new(step, result, t0.elapsed().as_secs_f64());
        r.orphans = Some(0);
        return r;
    }
    let orphans = format!(
        "{count} orphan row(s): {} finds no parent for {}{}",
        check.subject,
        examples.join("; "),
        // The query lists at most five distinct keys.
        if examples.len() >= 5 { "; …" } else { "" }
    );
    let mut r = match policy {
        OrphanPolicy::Fail | OrphanPolicy::Skip => {
            StepReport::new(step, Ok(()), t0.elapsed().as_secs_f64())
        }
        OrphanPolicy::NotValid => {
            let result = client
                .batch_execute(&format!("{} NOT VALID", step.sql))
                .await;
            StepReport::new(step, result, t0.elapsed().as_secs_f64())
        }
    };
    r.orphans = Some(count);
    match policy {
        OrphanPolicy::Fail => {
            r.ok = false;
            r.error = Some(orphans);
        }
        OrphanPolicy::Skip => {
            r.ok = false;
            r.demoted_to_warning = true;
            r.note = Some(format!("skipped (--orphans skip): {orphans}"));
        }
        OrphanPolicy::NotValid if r.ok => {
            r.note = Some(format!(
                "created NOT VALID (--orphans not-valid), enforced for new rows only: {orphans}"
            ));
        }
        OrphanPolicy::NotValid => {}
    }
    r
}

/// Runs post-load steps: keys, indexes and CHECKs on `jobs` connections; foreign keys one at a
/// time (two FKs on one parent would only wait on each other's locks); then identities and ANALYZE.
async fn run_steps(
    target: &Target,
    steps: Vec<Step>,
    jobs: usize,
    orphans: OrphanPolicy,
    printer: &Printer,
) -> Result<Vec<StepReport>, Exit> {
    let phases: [&[StepKind]; 3] = [
        &[
            StepKind::PrimaryKey,
            StepKind::Unique,
            StepKind::Index,
            StepKind::Check,
        ],
        &[StepKind::ForeignKey],
        &[StepKind::Trigger, StepKind::Identity, StepKind::Analyze],
    ];
    let mut reports = Vec::with_capacity(steps.len());
    for (pi, kinds) in phases.iter().enumerate() {
        let queue: VecDeque<Step> = steps
            .iter()
            .filter(|s| kinds.contains(&s.kind))
            .cloned()
            .collect();
        if queue.is_empty() {
            continue;
        }
        let workers = if pi == 1 {
            1
        } else {
            jobs.clamp(1, queue.len())
        };
        let queue = Arc::new(Mutex::new(queue));
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let client = connect(target).await?;
            let queue = Arc::clone(&queue);
            tasks.push(async move {
                // Index builds sort in memory up to this much per connection.
                let _ = client
                    .batch_execute("SET maintenance_work_mem = '256MB'")
                    .await;
                let mut out = Vec::new();
                loop {
                    let Some(step) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
                    else {
                        break;
                    };
                    let t0 = Instant::now();
                    let Some(check) = step.orphan_check.clone() else {
                        let result = client.batch_execute(&step.sql).await;
                        out.push(StepReport::new(step, result, t0.elapsed().as_secs_f64()));
                        continue;
                    };
                    out.push(foreign_key(&client, step, &check, orphans, t0).await);
                }
                out
            });
        }
        for batch in futures::future::join_all(tasks).await {
            for r in batch {
                if let Some(note) = &r.note {
                    printer.warn(&format!(
                        "{} {} on {}: {note}",
                        r.kind.label(),
                        quote_ident(&r.object),
                        quote_ident(&r.table)
                    ));
                } else if let Some(e) = &r.error {
                    if r.demoted_to_warning {
                        printer.warn(&format!(
                            "{} {} on {}: not carried over: {e}",
                            r.kind.label(),
                            quote_ident(&r.object),
                            quote_ident(&r.table)
                        ));
                    } else {
                        printer.warn(&format!(
                            "{} {} on {} FAILED: {e}",
                            r.kind.label(),
                            quote_ident(&r.object),
                            quote_ident(&r.table)
                        ));
                    }
                }
                reports.push(r);
            }
        }
    }
    Ok(reports)
}
