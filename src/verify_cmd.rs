//! `pgcutover verify` (and `copy --verify`): does the target hold exactly what the source holds?
//! The comparing is `pgcutover_pipeline::verify`'s; this is the command: the run's options,
//! the report on stdout and in `--report`, and the exit code.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use pgcutover_core::show_ident;
use pgcutover_pipeline::verify::{rejects_per_table, Mode, Verdict};
// `copy --verify` and the copy's report use them under these names.
pub use pgcutover_pipeline::verify::{verify_all, Settings, VerifyReport};
use serde::Serialize;

use crate::cli::{Format, VerifyArgs, VerifyMode};
use crate::exit::{Exit, ExitCode};
use crate::output::{print_json, write_json_file, Printer};
use crate::process::{peak_memory_bytes, unix_now};
use crate::source::{load_schema, value_policy, TargetFacts};

/// The report `pgcutover verify` prints and writes.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    pgcutover: &'static str,
    source: String,
    target: String,
    target_schema: &'a str,
    started_at_unix: u64,
    #[serde(flatten)]
    report: &'a VerifyReport,
    peak_memory_bytes: Option<u64>,
}

pub async fn run(args: VerifyArgs, printer: &Printer) -> Result<ExitCode, Exit> {
    let started_at_unix = unix_now();
    let (source, target) = args.endpoints.resolve()?;
    if let Some(path) = &args.report {
        crate::paths::check_writable("--report", path, false)?;
    }
    let schema_name = args.select.target_schema.clone();
    let client = crate::target::connect(&target).await?;
    printer.info(&format!("connected to {}", target.display()));
    let report = compare(args.clone(), &*source, &target, &client, printer).await?;
    let envelope = Envelope {
        pgcutover: env!("CARGO_PKG_VERSION"),
        source: source.display(),
        target: target.display().to_owned(),
        target_schema: &schema_name,
        started_at_unix,
        report: &report,
        peak_memory_bytes: peak_memory_bytes(),
    };
    {
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Json => print_json(&mut out, "verify", &envelope)?,
            Format::Text => print_text(&report, &mut crate::output::TerminalText(&mut out))?,
        }
    }
    if let Some(path) = &args.report {
        write_json_file(path, &envelope)
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(report.exit_code())
}

/// Compares `source` with what `client`'s target holds, as `args` say (the options the copy
/// ran with); prints progress, not the result.
pub async fn compare(
    mut args: VerifyArgs,
    source: &dyn pgcutover_core::source::Source,
    target: &pgcutover_postgres::Target,
    client: &crate::target::Client,
    printer: &Printer,
) -> Result<VerifyReport, Exit> {
    let schema_name = args.select.target_schema.clone();
    // A data-only run converted values into the target's types with its own options: verify
    // converts them the same way.
    let run = crate::state::runs(client)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.fingerprint.target_schema == schema_name && r.fingerprint.mode == "data-only");
    let data_only = args.data_only || run.is_some();
    if let Some(run) = &run {
        let options = &run.fingerprint.options;
        if let Some(zone) = options.get("source-timezone") {
            if *zone != args.values.source_timezone {
                printer.info(&format!(
                    "--source-timezone {zone}, as the data-only run loaded the target"
                ));
                args.values.source_timezone = zone.clone();
            }
        }
        if let Some(f) = options.get("fractional-seconds") {
            let recorded = match f.as_str() {
                "round" => crate::cli::FractionsArg::Round,
                _ => crate::cli::FractionsArg::Reject,
            };
            if recorded != args.values.fractional_seconds {
                printer.info(&format!(
                    "--fractional-seconds {f}, as the data-only run loaded the target"
                ));
                args.values.fractional_seconds = recorded;
            }
        }
    }
    let facts = TargetFacts::read(client).await?;
    printer.info(&format!("reading the schema of {}", source.display()));
    let mut loaded = load_schema(
        source,
        &args.select.selection(),
        &args.values.options(),
        &facts,
    )
    .await?;
    for w in loaded.option_warnings() {
        printer.warn(&format!("{}: {}", w.object, w.message));
    }
    // The target's own names and column types, as a data-only load matched them; a run that
    // was one left the source's migration history out.
    let mut findings = crate::data_only::Findings::default();
    crate::data_only::match_target(
        client,
        &schema_name,
        &mut loaded,
        &crate::source::adapt_options(&args.values.options())?,
        data_only,
        &mut findings,
    )
    .await?;
    for t in &findings.migration_history {
        printer.info(&format!(
            "not verified: {}, the source's migration history, which a data-only load leaves out",
            show_ident(t)
        ));
    }
    let loaded = Arc::new(loaded);
    let expected = if args.mode == VerifyMode::Counts {
        rejects_per_table(&args.rejects)?
    } else {
        HashMap::new()
    };
    let settings = Settings {
        mode: args.mode.into(),
        jobs: crate::cli::jobs_or_cores(args.jobs),
        max_diffs: args.max_diffs as usize,
        policy: value_policy(&args.values.options()),
    };
    verify_all(&loaded, target, &schema_name, &settings, &expected, printer).await
}

/// The per-table summary and every listed difference, for a person.
pub fn print_text(report: &VerifyReport, out: &mut impl Write) -> std::io::Result<()> {
    let name_w = crate::output::name_width(report.tables.iter().map(|t| t.table.as_str()));
    writeln!(
        out,
        "\n{:name_w$}  {:>12}  {:>12}  {:>8}  {:>7}  {:>9}  {:>7}  result",
        "table", "source rows", "target rows", "rejected", "ranges", "differing", "seconds"
    )?;
    for t in &report.tables {
        writeln!(
            out,
            "{:name_w$}  {:>12}  {:>12}  {:>8}  {:>7}  {:>9}  {:>7.2}  {}",
            show_ident(&t.table),
            t.source_rows,
            t.target_rows,
            t.rejected,
            t.ranges_hashed,
            if t.unlisted > 0 {
                format!("≥{}", t.rows_differing)
            } else {
                t.rows_differing.to_string()
            },
            t.seconds,
            t.status
        )?;
    }
    for t in report
        .tables
        .iter()
        .filter(|t| t.status == Verdict::Differs)
    {
        writeln!(out, "\n{}:", show_ident(&t.table))?;
        if let Some(p) = &t.problem {
            writeln!(out, "  {}", pgcutover_core::show(p))?;
        }
        if t.differences.is_empty() && t.problem.is_none() {
            writeln!(
                out,
                "  counts differ: {} source rows ({} rejected), {} target rows",
                t.source_rows, t.rejected, t.target_rows
            )?;
        }
        for d in &t.differences {
            match d.kind {
                "changed" => {
                    let cols: Vec<String> = d
                        .columns
                        .iter()
                        .map(|c| format!("{}: {} → {}", c.column, c.source, c.target))
                        .collect();
                    writeln!(
                        out,
                        "  changed  {}: {}",
                        pgcutover_core::show(&d.key),
                        pgcutover_core::show(&cols.join("; "))
                    )?;
                }
                kind => writeln!(out, "  {kind:<8} {}", pgcutover_core::show(&d.key))?,
            }
        }
        if t.unlisted > 0 {
            writeln!(
                out,
                "  … and at least {} more differing row(s) not listed (raise --max-diffs)",
                t.unlisted
            )?;
        }
    }
    let tot = &report.totals;
    writeln!(
        out,
        "\nverify ({}): {} of {} table(s) identical, {} differing row(s), {} rejected by the mapping; {:.1}s",
        match report.mode {
            Mode::Counts => "counts",
            Mode::Checksums => "checksums",
        },
        tot.identical,
        tot.tables,
        tot.rows_differing,
        tot.rejected,
        report.seconds
    )
}
