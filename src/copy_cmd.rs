//! `pgcutover copy`: the command's side of a copy. It checks the arguments, resolves them into
//! the pipeline's [`CopySettings`], and calls the copy's phases in order, printing what they
//! tell it (docs/architecture.md, "The phases of copy"):
//!
//! 1. [`introspect`] the source (through what the target has), plan the post-load steps and
//!    the run's fingerprint;
//! 2. decide: a new run, or resume the one the target records (`pipeline::resume`); a new run
//!    refuses a target that holds what it would create, before anything is written;
//! 3. [`start_readers`], before anything is written;
//! 4. [`create_tables`] with the run's record, in one transaction (`pipeline::create`);
//! 5. [`copy_rows`], chunk by chunk, each committed with its checkpoint (`pipeline::chunks`);
//! 6. [`run_post_load`]: keys, indexes, constraints, foreign keys, identities, ANALYZE, each
//!    with its checkpoint (`pipeline::post_load`);
//! 7. [`verify`] (`--verify`), then [`finish`]: the run's end recorded, the summary, the JSON
//!    report and the exit code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context};
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::show_ident;
use pgcutover_core::source::Source;
use pgcutover_pipeline::create;
use pgcutover_pipeline::follow::{apply_until, move_identities, Follow, FollowEnd, Until};
use pgcutover_pipeline::post_load::{self, PostLoad, StepSettings};
use pgcutover_pipeline::report::table_reports;
use pgcutover_pipeline::resume::{self, Decision};
use pgcutover_pipeline::settings::{CopySettings, Mode};
use pgcutover_postgres::ddl::Step;
use pgcutover_postgres::Target;

use crate::cancel::Cancel;
use crate::chunks::{self, DataPhase, Ended, Loader};
use crate::cli::CopyArgs;
use crate::data_only::DataOnly;
use crate::exit::{Exit, ExitCode};
use crate::output::Printer;
use crate::readers::Readers;
use crate::report::{Report, RunInfo};
use crate::source::{load_schema, value_policy, Loaded, TargetFacts};
use crate::state;
use crate::target::{connect, Client};
use crate::testpoint;

pub async fn run(args: CopyArgs, printer: &Printer) -> Result<ExitCode, Exit> {
    let started = Instant::now();
    let (source, target) = args.endpoints.resolve()?;
    refuse_bad_options(&args)?;
    let resume_with = resume_command(&args);
    let attempt = Attempt {
        cancel: stop_on_signals(resume_with.as_deref()),
        settings: settings(&args),
        policy: value_policy(&args.values.options()),
        args: &args,
        target,
        printer,
        started,
    };

    // 1. Resolve and introspect. The target first: what it has (PostGIS) shapes the mapping.
    let mut client = connect(&attempt.target).await?;
    printer.info(&format!("connected to {}", attempt.target.display()));
    let planned = introspect(&attempt, &*source, &client).await?;
    let schema = &planned.loaded.schema;
    if args.follow {
        refuse_unfollowable(&planned.loaded).await?;
    }

    // 2. Decide: a new run, or resume the one the target records.
    let decision = resume::decide(
        &client,
        &attempt.settings,
        &planned.fingerprint,
        schema,
        &planned.steps,
        planned.data_only.as_ref(),
        printer,
    )
    .await?;
    if args.follow && decision.resuming() && decision.readers_needed {
        return Err(resumed_copy_cannot_be_followed());
    }
    let mut report = Report::new(&*source, &attempt.target, &attempt.settings.target_schema);
    report.resume_with = resume_with;
    report.warnings = schema.warnings.clone();

    // 3. The readers (with --consistent, the snapshot) before anything is written: a source
    // that cannot be read leaves the target untouched.
    let readers = start_readers(&attempt, &planned, &decision).await?;

    // 4. Create.
    if !decision.resuming() {
        create_tables(&attempt, &client, &planned, &decision, readers.as_ref()).await?;
    } else if readers.is_some() {
        // The rows left are read in a new snapshot: no one position fits all the rows.
        state::forget_follow(&client, &attempt.settings.target_schema).await?;
    }

    // 5. Data; a table's own post-load steps start as soon as its rows are in.
    let early = match (&readers, &planned.data_only) {
        (Some(_), None) => {
            Some(post_load::Early::new(&client, &planned.steps, step_settings(&attempt)).await?)
        }
        _ => None,
    };
    let data = copy_rows(
        &attempt,
        &client,
        &planned,
        readers.as_ref(),
        &decision,
        early.as_ref(),
    )
    .await?;
    if let Some(readers) = &readers {
        readers.close();
    }
    // The run's own session may have been lost with the server while the data went in.
    if let Err(e) = attempt.keep_control(&mut client).await {
        let why = match data.ended {
            Ended::Interrupted(why) => why,
            Ended::Done => e,
        };
        return attempt.interrupted(report, why);
    }
    data.record_failures(&client, &attempt.settings.target_schema)
        .await?;

    // 6. Post-load.
    let early = early
        .map(post_load::Early::into_reports)
        .unwrap_or_default();
    let post_load = run_post_load(&attempt, &client, &planned, data.ended, early).await?;
    report.warnings.extend(post_load.warnings());
    report.post_load = post_load.reports;
    decision.rejects.sync()?;
    if let Err(e) = attempt.keep_control(&mut client).await {
        return attempt.interrupted(report, e);
    }

    // 7. What the target holds now, verified with --verify; the report and the exit code.
    report.tables = table_reports(&client, &attempt.settings.target_schema, schema).await?;
    report.rejects_file =
        (decision.rejects.count() > 0).then(|| args.rejects.display().to_string());
    report.run = Some(RunInfo {
        attempt: decision.attempt(),
        resumed: decision.resuming(),
        chunks_skipped: data.chunks_skipped,
        steps_skipped: post_load.skipped,
        steps_waiting: post_load.waiting,
        rows_this_attempt: data.rows_committed,
        state_schema: state::SCHEMA,
    });
    if let Ended::Interrupted(why) = &post_load.ended {
        report.interrupted = Some(why.clone());
    }
    verify(&attempt, &planned, &mut report, &post_load.ended).await?;
    let code = finish(
        &attempt,
        &client,
        report,
        &post_load.ended,
        post_load.waiting,
    )
    .await?;
    // 8. Follow the source, once every row of the copy is in.
    if args.follow && (code == ExitCode::OK || code == ExitCode::ROWS_REJECTED) {
        return follow(&attempt, &client, &planned, &decision.rejects).await;
    }
    Ok(code)
}

/// This invocation of the copy (one attempt at its run): what every phase is given.
struct Attempt<'a> {
    args: &'a CopyArgs,
    settings: CopySettings,
    target: Target,
    printer: &'a Printer,
    cancel: Cancel,
    policy: ValuePolicy,
    started: Instant,
}

impl Attempt<'_> {
    /// The run's session (which holds its lock), alive, or reconnected when the server was
    /// restarted under it. `Err`: why the run cannot go on now.
    async fn keep_control(&self, client: &mut Client) -> Result<(), String> {
        resume::keep_control(
            &self.target,
            client,
            &self.settings.target_schema,
            self.settings.retries,
            self.printer,
        )
        .await
    }

    /// Stops the attempt, resumably: the summary says why, and exit 8.
    fn interrupted(&self, mut report: Report, why: String) -> Result<ExitCode, Exit> {
        report.interrupted = Some(why);
        report.finish(self.started.elapsed());
        report.print(self.args.format)?;
        Ok(ExitCode::INTERRUPTED)
    }
}

/// After --restart, resuming means the same command without it (--restart again would throw
/// away what this run has done): that command, spelled out. `None` without --restart.
fn resume_command(args: &CopyArgs) -> Option<String> {
    args.restart.then(|| {
        crate::cli::command_without(
            std::env::args_os().map(|a| a.to_string_lossy().into_owned()),
            &["--restart"],
        )
    })
}

/// Ctrl-C and SIGTERM stop the copy; the warning says how to resume it.
fn stop_on_signals(resume_with: Option<&str>) -> Cancel {
    Cancel::on_signals(
        match resume_with {
            Some(c) => format!("it again without --restart ({c})"),
            None => "the same command again".to_owned(),
        },
        |msg| eprintln!("warning: {msg}"),
    )
}

/// What this copy makes, as phase 1 planned it.
struct Planned {
    loaded: Arc<Loaded>,
    data_only: Option<DataOnly>,
    steps: Vec<Step>,
    fingerprint: state::Fingerprint,
}

/// Phase 1: reads the source's schema (and with --data-only, matches it onto the target's tables),
/// prints its warnings, and plans the post-load steps and the run's fingerprint.
async fn introspect(
    attempt: &Attempt<'_>,
    source: &dyn Source,
    client: &Client,
) -> Result<Planned, Exit> {
    let (args, settings, printer) = (attempt.args, &attempt.settings, attempt.printer);
    let facts = TargetFacts::read(client).await?;
    printer.info(&format!("reading the schema of {}", source.display()));
    let mut loaded = load_schema(
        source,
        &args.select.selection(),
        &args.values.options(),
        &facts,
    )
    .await?;
    // Printed below with the schema's own warnings, and kept in the report.
    loaded.option_warnings();
    let data_only = if settings.data_only() {
        Some(
            crate::data_only::prepare(
                client,
                &settings.target_schema,
                &mut loaded,
                &crate::source::adapt_options(&args.values.options())?,
                printer,
            )
            .await?,
        )
    } else {
        None
    };
    let loaded = Arc::new(loaded);
    let schema = &loaded.schema;
    for w in &schema.warnings {
        printer.warn(&format!(
            "{}: {}",
            pgcutover_core::show(&w.object),
            pgcutover_core::show(&w.message)
        ));
    }
    let steps = post_load::planned(
        &settings.target_schema,
        schema,
        settings.schema_only(),
        data_only.as_ref(),
    );
    let fingerprint = resume::fingerprint(settings, source, &attempt.target, schema, &steps);
    Ok(Planned {
        loaded,
        data_only,
        steps,
        fingerprint,
    })
}

/// Phase 3: the readers, when some chunk is left to read.
async fn start_readers(
    attempt: &Attempt<'_>,
    planned: &Planned,
    decision: &Decision,
) -> Result<Option<Readers>, Exit> {
    if !decision.readers_needed {
        return Ok(None);
    }
    let settings = &attempt.settings;
    if settings.consistent && planned.loaded.reads.takes_snapshots() {
        attempt
            .printer
            .info("--consistent: taking one snapshot of the source for every reader");
    }
    Ok(Some(
        Readers::start(
            &planned.loaded,
            settings.jobs,
            settings.consistent,
            attempt.policy,
        )
        .await?,
    ))
}

/// `--follow` on a run that stopped while copying rows: the rows left would be read in a new
/// snapshot, and no one position of the change log fits rows read in two. Refused before
/// anything is copied, not after the rest of the copy.
fn resumed_copy_cannot_be_followed() -> Exit {
    Exit::new(
        ExitCode::USAGE,
        anyhow!("--follow: this run stopped while copying rows; the rows left would be read in a new snapshot of the source, and no one binary log position fits rows read in two snapshots"),
        Some("nothing was copied. Copy again in one go with --restart --follow (it throws away what this run copied), or finish this copy without --follow and cut over with the source's writes stopped".to_owned()),
    )
}

/// `--follow` needs a source whose change log can be followed: refused before anything is
/// written, with every problem and what to do about it.
async fn refuse_unfollowable(loaded: &Loaded) -> Result<(), Exit> {
    let problems = pgcutover_pipeline::follow::problems(loaded).await?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(pgcutover_pipeline::follow::refusal(&problems))
}

/// Phase 8 (`--follow`): the source's binary log from the copy's snapshot (or from where the
/// last follow stopped) applied to the target, until Ctrl-C or SIGTERM (exit 8; the same
/// command goes on) or until `cutover` marks the run as cut over (exit 0).
async fn follow(
    attempt: &Attempt<'_>,
    client: &Client,
    planned: &Planned,
    rejects: &pgcutover_pipeline::rejects::RejectLog,
) -> Result<ExitCode, Exit> {
    let schema_name = &attempt.settings.target_schema;
    let Some(state) = state::follow_state(client, schema_name)
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading where following starts"))?
    else {
        return Err(Exit::new(
            ExitCode::FAILED,
            anyhow!("--follow: this run has no binary log position to follow from"),
            Some("it was copied without --follow or --consistent (or by a build that did not record the position); copy again in one go with --restart --follow".to_owned()),
        ));
    };
    if let Some(at) = &state.cut_over_at {
        attempt.printer.info(&format!(
            "this run was cut over at {at}: nothing to follow (--restart copies again)"
        ));
        return Ok(ExitCode::OK);
    }
    let from = state.position;
    let mut stream =
        pgcutover_pipeline::follow::open(&planned.loaded, &from, attempt.policy).await?;
    attempt.printer.info(&format!(
        "following the binary log from {}; Ctrl-C stops, and the same command goes on from there; `pgcutover cutover` ends it",
        pgcutover_core::show(&from)
    ));
    testpoint::hit("following");
    let follow = Follow {
        loaded: &planned.loaded,
        client,
        schema_name,
        rejects,
        observer: attempt.printer,
    };
    let done = apply_until(
        &follow,
        &mut *stream,
        &from,
        Until::CutOver,
        attempt.cancel.cancelled(),
    )
    .await?;
    // Rows inserted since the copy carry their own keys: the identities move past them, so
    // the application's next insert gets a free one. (A cutover did it already, with the
    // source's next values as they are now.)
    let cut_over = done.end == FollowEnd::CutOver
        || state::cut_over_at(client, schema_name)
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading the follow state"))?
            .is_some();
    if !cut_over {
        move_identities(client, &planned.steps).await?;
    }
    let position = done.position.as_deref().unwrap_or(&from);
    let applied = format!(
        "{} transaction(s), {} change(s) applied this time{}",
        done.transactions,
        done.changes,
        if done.rejects > 0 {
            format!(
                ", {} rejected (in {})",
                done.rejects,
                rejects.path().display()
            )
        } else {
            String::new()
        }
    );
    if cut_over {
        attempt.printer.info(&format!(
            "the run was cut over; stopped following at {}: {applied}",
            pgcutover_core::show(position)
        ));
        return Ok(ExitCode::OK);
    }
    attempt.printer.info(&format!(
        "stopped following at {}: {applied}; the same command goes on from there",
        pgcutover_core::show(position),
    ));
    Ok(ExitCode::INTERRUPTED)
}

/// Phase 4: a new run's tables (or, data-only, its emptied tables) and its record.
async fn create_tables(
    attempt: &Attempt<'_>,
    client: &Client,
    planned: &Planned,
    decision: &Decision,
    readers: Option<&Readers>,
) -> Result<(), Exit> {
    testpoint::hit("before-create");
    // A consistent copy records where the source's change log was at its snapshot: following
    // the source from there misses nothing the copy did not see.
    let follow_from = readers.and_then(Readers::snapshot_position);
    if let Some(p) = &follow_from {
        attempt.printer.info(&format!(
            "--consistent: the snapshot is at binary log position {}",
            pgcutover_core::show(p)
        ));
    }
    create::create(
        client,
        &attempt.settings,
        &planned.loaded,
        create::NewRun {
            fingerprint: &planned.fingerprint,
            steps: &planned.steps,
            replaced: decision.replaced.as_ref(),
            follow_from: follow_from.as_deref(),
        },
        planned.data_only.as_ref(),
    )
    .await?;
    if !attempt.settings.data_only() {
        attempt.printer.info(&format!(
            "created {} table(s) in schema {}",
            planned.loaded.schema.tables.len(),
            show_ident(&attempt.settings.target_schema)
        ));
    }
    testpoint::hit("created");
    Ok(())
}

/// Phase 5: the chunks left, read by `readers` (none: nothing is left to read): a full copy's
/// tables biggest first, a data-only load's in its foreign-key groups.
async fn copy_rows(
    attempt: &Attempt<'_>,
    client: &Client,
    planned: &Planned,
    readers: Option<&Readers>,
    decision: &Decision,
    early: Option<&post_load::Early<'_>>,
) -> Result<DataPhase, Exit> {
    let settings = &attempt.settings;
    let groups = match &planned.data_only {
        Some(d) => d.groups.clone(),
        None => chunks::biggest_first(&planned.loaded.schema),
    };
    let loader = readers.map(|readers| Loader {
        target: &attempt.target,
        schema_name: &settings.target_schema,
        state_key: &settings.target_schema,
        loaded: &planned.loaded,
        readers,
        batch_rows: settings.batch_rows,
        jobs: settings.jobs,
        retries: settings.retries,
        data_only: settings.data_only(),
        rejects: &decision.rejects,
        observer: attempt.printer,
        cancel: &attempt.cancel,
        committed: Default::default(),
        failed: Default::default(),
        early,
    });
    chunks::copy_pending(client, &settings.target_schema, loader, &groups).await
}

/// Phase 6: the post-load steps left (`early`: those run while copying), unless the data is
/// not all in (`ended`).
async fn run_post_load(
    attempt: &Attempt<'_>,
    client: &Client,
    planned: &Planned,
    ended: Ended,
    early: Vec<(usize, pgcutover_pipeline::report::StepReport)>,
) -> Result<PostLoad, Exit> {
    post_load::run(
        client,
        &planned.steps,
        &step_settings(attempt),
        ended,
        early,
    )
    .await
}

fn step_settings<'a>(attempt: &'a Attempt<'_>) -> StepSettings<'a> {
    let settings = &attempt.settings;
    StepSettings {
        target: &attempt.target,
        state_key: &settings.target_schema,
        jobs: settings.jobs,
        orphans: settings.orphans,
        retries: settings.retries,
        observer: attempt.printer,
        cancel: &attempt.cancel,
    }
}

/// Phase 7: `--verify`, when every table's rows are in and the run went to the end. The rows this
/// copy rejected are the expected differences.
async fn verify(
    attempt: &Attempt<'_>,
    planned: &Planned,
    report: &mut Report,
    ended: &Ended,
) -> Result<(), Exit> {
    let args = attempt.args;
    let failed_tables = report.tables.iter().filter(|t| t.error.is_some()).count();
    if args.verify.is_some() && failed_tables > 0 {
        attempt
            .printer
            .warn("--verify: not run, because some table's rows are not all in");
    }
    let (Some(mode), false, Ended::Done, 0) = (args.verify, args.schema_only, ended, failed_tables)
    else {
        return Ok(());
    };
    let settings = crate::verify_cmd::Settings {
        mode: mode.into(),
        jobs: attempt.settings.jobs,
        max_diffs: args.max_diffs as usize,
        policy: attempt.policy,
    };
    // The rows this copy rejected are the expected differences.
    let expected: HashMap<String, u64> = report
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows_rejected))
        .collect();
    let verified = crate::verify_cmd::verify_all(
        &planned.loaded,
        &attempt.target,
        &attempt.settings.target_schema,
        &settings,
        &expected,
        attempt.printer,
    )
    .await?;
    report.verification = Some(verified);
    Ok(())
}

/// The end of the attempt: the report's totals and exit code, the run recorded as complete
/// (or not, for a later attempt to go on with), then the summary and the JSON report.
async fn finish(
    attempt: &Attempt<'_>,
    client: &Client,
    mut report: Report,
    ended: &Ended,
    steps_waiting: usize,
) -> Result<ExitCode, Exit> {
    let args = attempt.args;
    report.finish(attempt.started.elapsed());
    let code = report.exit_code();
    let failed_tables = report.tables.iter().filter(|t| t.error.is_some()).count();
    let complete = matches!(ended, Ended::Done)
        && report.totals.post_load_failed == 0
        && failed_tables == 0
        && steps_waiting == 0;
    testpoint::hit("finishing");
    // The rows each table holds now: the run wrote them all (a data-only load into empty or
    // emptied tables, a copy into tables it created).
    let rows: BTreeMap<String, i64> = report
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows_written as i64))
        .collect();
    state::finish(
        client,
        &attempt.settings.target_schema,
        complete,
        code.0,
        &rows,
    )
    .await
    .context("recording the end of the run")?;

    report.print(args.format)?;
    if let Some(path) = &args.report {
        report
            .write(path)
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(code)
}

/// The options that cannot work, refused before anything is read or written: the files this
/// run writes (a bad path is found now, not after the data is in), a target schema that is
/// pgcutover's own, and --force without something for it to force.
fn refuse_bad_options(args: &CopyArgs) -> Result<(), Exit> {
    // (--schema-only reads no rows, so it rejects none.)
    if !args.schema_only {
        crate::paths::check_writable("--rejects", &args.rejects, true)?;
    }
    if let Some(path) = &args.report {
        crate::paths::check_writable("--report", path, false)?;
    }
    if args.select.target_schema == state::SCHEMA {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!(
                "--target-schema {} is where pgcutover keeps its run state",
                state::SCHEMA
            ),
            Some("copy into another schema".to_owned()),
        ));
    }
    if args.force && !(args.restart || args.drop_existing || args.truncate) {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!("--force changes only what --restart, --drop-existing and --data-only --truncate do"),
            Some("leave it out; to be sure what a run would destroy, see `pgcutover reset TARGET --dry-run`".to_owned()),
        ));
    }
    Ok(())
}

/// The command line, resolved into what the pipeline's phases take.
fn settings(args: &CopyArgs) -> CopySettings {
    CopySettings {
        target_schema: args.select.target_schema.clone(),
        // clap lets at most one of the two through (conflicts_with).
        mode: if args.schema_only {
            Mode::SchemaOnly
        } else if args.data_only {
            Mode::DataOnly
        } else {
            Mode::Full
        },
        drop_existing: args.drop_existing,
        truncate: args.truncate,
        restart: args.restart,
        force: args.force,
        orphans: args.orphans.orphans(),
        jobs: crate::cli::jobs_or_cores(args.jobs),
        batch_rows: args.batch_rows as usize,
        chunk_rows: args.chunk_rows,
        retries: args.retries,
        // Following starts exactly at the copy's one snapshot.
        consistent: args.consistent || args.follow,
        rejects: args.rejects.clone(),
        fingerprint_options: fingerprint_options(args),
    }
}

/// The options that change what lands in the target, under their command-line names and as
/// they were given: a run resumes only with the same ones, and says which differ.
fn fingerprint_options(args: &CopyArgs) -> BTreeMap<String, String> {
    let v = &args.values;
    let mut options = BTreeMap::new();
    let mut put = |k: &str, val: String| {
        options.insert(k.to_owned(), val);
    };
    put("include", args.select.include.join(","));
    put("exclude", args.select.exclude.join(","));
    put(
        "sqlite-epoch",
        format!("{:?}", v.sqlite_epoch).to_lowercase(),
    );
    put("nul-bytes", format!("{:?}", v.nul_bytes).to_lowercase());
    put(
        "invalid-utf8",
        format!("{:?}", v.invalid_utf8).to_lowercase(),
    );
    put("cast", v.casts.join(" "));
    put("datetime-as", format!("{:?}", v.datetime_as).to_lowercase());
    put("source-timezone", v.source_timezone.clone());
    put("zero-dates", format!("{:?}", v.zero_dates).to_lowercase());
    put("enum-as", format!("{:?}", v.enum_as).to_lowercase());
    // `notvalid` for not-valid: what runs have always recorded.
    put("orphans", format!("{:?}", args.orphans).to_lowercase());
    if args.data_only {
        put("truncate", args.truncate.to_string());
        put(
            "fractional-seconds",
            format!("{:?}", v.fractional_seconds).to_lowercase(),
        );
    }
    options
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn copy_args(extra: &[&str]) -> CopyArgs {
        let mut argv = vec!["pgcutover", "copy", "app.db", "postgresql://localhost/app"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Copy(args) => args,
            _ => unreachable!("a copy command"),
        }
    }

    /// Recorded runs hold these spellings: a change would make every run in flight refuse to
    /// resume ("option --orphans: the run used notvalid …").
    #[test]
    fn the_fingerprint_records_options_as_runs_always_have() {
        let args = copy_args(&["--data-only", "--truncate", "--orphans", "not-valid"]);
        let data_only = settings(&args);
        assert_eq!(data_only.mode.name(), "data-only");
        let got: Vec<String> = data_only
            .fingerprint_options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            got,
            [
                "cast=",
                "datetime-as=timestamp",
                "enum-as=enum",
                "exclude=",
                "fractional-seconds=reject",
                "include=",
                "invalid-utf8=reject",
                "nul-bytes=reject",
                "orphans=notvalid",
                "source-timezone=UTC",
                "sqlite-epoch=auto",
                "truncate=true",
                "zero-dates=null",
            ]
        );
        assert_eq!(
            settings(&copy_args(&["--schema-only"])).mode.name(),
            "schema-only"
        );
        let full = settings(&copy_args(&["--sqlite-epoch", "ms"]));
        assert_eq!(full.mode.name(), "full");
        assert_eq!(full.fingerprint_options["sqlite-epoch"], "millis");
        assert!(!full.fingerprint_options.contains_key("truncate"));
    }
}
