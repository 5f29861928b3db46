//! `pgcutover copy`: the phases of a copy, in order.
//!
//! 1. read the source schema; connect to the target; find the run state. The same run
//!    resumes; an unfinished run of another fingerprint refuses; otherwise refuse if tables
//!    already exist (unless --drop-existing / --data-only), before anything is written;
//! 2. create the schema and tables, and record the run with every chunk planned (one
//!    transaction);
//! 3. copy the data, chunk by chunk, each chunk committed with its checkpoint (`chunks.rs`);
//! 4. post-load: primary keys, unique constraints, indexes and CHECKs (in parallel), then
//!    foreign keys, then identity restarts and ANALYZE; each step with its checkpoint;
//! 5. the summary, the JSON report and the exit code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context};
use pgcutover_core::show_ident;

use crate::cancel::Cancel;
use crate::chunks::{self, Ended, Loader};
use crate::cli::CopyArgs;
use crate::exit::{Exit, ExitCode};
use crate::output::Printer;
use crate::readers::Readers;
use crate::report::{Report, RunInfo};
use crate::source::{load_schema, value_policy, TargetFacts};
use crate::state;
use crate::target::connect;
use crate::testpoint;
use pgcutover_pipeline::post_load::{self, StepSettings};
use pgcutover_pipeline::settings::{CopySettings, Mode};
use pgcutover_pipeline::{create, resume};

pub async fn run(args: CopyArgs, printer: &Printer) -> Result<ExitCode, Exit> {
    let started = Instant::now();
    let (source, target) = args.endpoints.resolve()?;
    refuse_bad_options(&args)?;
    // After --restart, resuming means the same command without it: --restart again would
    // throw away what this run has done.
    let resume_with = args.restart.then(|| {
        crate::cli::command_without(
            std::env::args_os().map(|a| a.to_string_lossy().into_owned()),
            &["--restart"],
        )
    });
    let cancel = Cancel::on_signals(
        match &resume_with {
            Some(c) => format!("it again without --restart ({c})"),
            None => "the same command again".to_owned(),
        },
        |msg| eprintln!("warning: {msg}"),
    );
    let settings = settings(&args);
    let schema_name = args.select.target_schema.clone();
    let jobs = crate::cli::jobs_or_cores(args.jobs);
    let policy = value_policy(&args.values.options());

    // The target first: what it has (PostGIS) shapes the mapping.
    let mut client = connect(&target).await?;
    printer.info(&format!("connected to {}", target.display()));
    let facts = TargetFacts::read(&client).await?;

    printer.info(&format!("reading the schema of {}", source.display()));
    let mut loaded = load_schema(
        &*source,
        &args.select.selection(),
        &args.values.options(),
        &facts,
    )
    .await?;
    // Printed below with the schema's own warnings, and kept in the report.
    loaded.option_warnings();
    let data_only = if args.data_only {
        Some(
            crate::data_only::prepare(
                &client,
                &schema_name,
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
    let steps = post_load::planned(&schema_name, schema, args.schema_only, data_only.as_ref());
    let fingerprint = resume::fingerprint(&settings, &*source, &target, schema, &steps);

    let decision = resume::decide(
        &client,
        &settings,
        &fingerprint,
        schema,
        &steps,
        data_only.as_ref(),
        printer,
    )
    .await?;
    let mut report = Report::new(&*source, &target, &schema_name);
    report.resume_with = resume_with;
    report.warnings = schema.warnings.clone();
    let resuming = decision.resuming();
    let rejects = &decision.rejects;

    // The readers (and with --consistent, the snapshot) come before anything is written, so a
    // source that cannot be read leaves the target untouched.
    let readers = if decision.readers_needed {
        if args.consistent && loaded.reads.takes_snapshots() {
            printer.info("--consistent: taking one snapshot of the source for every reader");
        }
        Some(Readers::start(&loaded, jobs, args.consistent, policy).await?)
    } else {
        None
    };

    if !resuming {
        testpoint::hit("before-create");
        create::create(
            &client,
            &settings,
            &loaded,
            &fingerprint,
            &steps,
            data_only.as_ref(),
            decision.replaced.as_ref(),
        )
        .await?;
        if !args.data_only {
            printer.info(&format!(
                "created {} table(s) in schema {}",
                schema.tables.len(),
                show_ident(&schema_name)
            ));
        }
        testpoint::hit("created");
    }

    // The data.
    let groups = match &data_only {
        Some(d) => d.groups.clone(),
        None => chunks::biggest_first(schema),
    };
    let loader = readers.as_ref().map(|readers| Loader {
        target: &target,
        schema_name: &schema_name,
        state_key: &schema_name,
        loaded: &loaded,
        readers,
        batch_rows: args.batch_rows as usize,
        jobs,
        retries: args.retries,
        data_only: args.data_only,
        rejects,
        observer: printer,
        cancel: &cancel,
        committed: Default::default(),
        failed: Default::default(),
    });
    let data = chunks::copy_pending(&client, &schema_name, loader, &groups).await?;
    if let Some(readers) = &readers {
        readers.close();
    }

    // The run's own session may have been lost with the server while the data went in.
    if let Err(e) =
        resume::keep_control(&target, &mut client, &schema_name, args.retries, printer).await
    {
        report.interrupted = Some(match data.ended {
            Ended::Interrupted(why) => why,
            Ended::Done => e,
        });
        report.finish(started.elapsed());
        report.print(args.format)?;
        return Ok(ExitCode::INTERRUPTED);
    }

    data.record_failures(&client, &schema_name).await?;
    let settings = StepSettings {
        target: &target,
        state_key: &schema_name,
        jobs,
        orphans: args.orphans.orphans(),
        retries: args.retries,
        observer: printer,
        cancel: &cancel,
    };
    let post_load = post_load::run(&client, &steps, &settings, data.ended).await?;
    let (steps_skipped, steps_waiting) = (post_load.skipped, post_load.waiting);
    report.warnings.extend(post_load.warnings());
    report.post_load = post_load.reports;
    let ended = post_load.ended;
    rejects.sync()?;
    if let Err(e) =
        resume::keep_control(&target, &mut client, &schema_name, args.retries, printer).await
    {
        report.interrupted = Some(e);
        report.finish(started.elapsed());
        report.print(args.format)?;
        return Ok(ExitCode::INTERRUPTED);
    }
    report.tables = crate::report::table_reports(&client, &schema_name, schema).await?;
    report.rejects_file = (rejects.count() > 0).then(|| args.rejects.display().to_string());
    report.run = Some(RunInfo {
        attempt: decision.attempt(),
        resumed: resuming,
        chunks_skipped: data.chunks_skipped,
        steps_skipped,
        steps_waiting,
        rows_this_attempt: data.rows_committed,
        state_schema: state::SCHEMA,
    });
    if let Ended::Interrupted(why) = &ended {
        report.interrupted = Some(why.clone());
    }

    let failed_tables = report.tables.iter().filter(|t| t.error.is_some()).count();
    if args.verify.is_some() && failed_tables > 0 {
        printer.warn("--verify: not run, because some table's rows are not all in");
    }
    if let (Some(mode), false, Ended::Done, 0) =
        (args.verify, args.schema_only, &ended, failed_tables)
    {
        let settings = crate::verify_cmd::Settings {
            mode,
            jobs,
            max_diffs: args.max_diffs as usize,
            policy,
        };
        // The rows this copy rejected are the expected differences.
        let expected: HashMap<String, u64> = report
            .tables
            .iter()
            .map(|t| (t.table.clone(), t.rows_rejected))
            .collect();
        let verified = crate::verify_cmd::verify_all(
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
    let complete = matches!(ended, Ended::Done)
        && report.totals.post_load_failed == 0
        && failed_tables == 0
        && steps_waiting == 0;
    testpoint::hit("finishing");
    // The rows each table holds now: the run wrote them all (a data-only load into empty or
    // emptied tables, a copy into tables it created).
    let rows: std::collections::BTreeMap<String, i64> = report
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows_written as i64))
        .collect();
    state::finish(&client, &schema_name, complete, code.0, &rows)
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
        consistent: args.consistent,
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
