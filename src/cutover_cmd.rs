//! `pgcutover cutover`: the end of a followed copy (docs/cutover.md). Run once writes to the
//! source have stopped, it
//!
//! 1. reads where the source's binary log ends now (after `--set-read-only`, if asked);
//! 2. makes sure every change up to there is applied: it waits for the running
//!    `copy --follow` to get there, or, when none runs, applies them itself;
//! 3. moves identities past the source's;
//! 4. verifies (`--verify counts` or `checksums`), and checks that the source took no write
//!    meanwhile;
//! 5. marks the run as cut over (a running follower then stops, exit 0), and prints the
//!    window: seconds from its start to ready, changes applied, the lag it started from.
//!
//! Exit 0 only when the target is proved identical and nothing was rejected.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use pgcutover_core::{show, show_ident};
use pgcutover_pipeline::follow::{apply_until, move_identities, Follow, Until};
use pgcutover_pipeline::post_load;
use pgcutover_pipeline::rejects::RejectLog;
use serde::Serialize;

use crate::cli::{CutoverArgs, Format, VerifyMode};
use crate::exit::{Exit, ExitCode};
use crate::output::{print_json, write_json_file, Printer};
use crate::process::unix_now;
use crate::source::{load_schema, value_policy, Loaded, TargetFacts};
use crate::state;
use crate::verify_cmd::VerifyReport;

/// The window, as `cutover` prints it and writes it.
#[derive(Debug, Serialize)]
struct Window {
    /// Where the source's log ended when writes had stopped: the run is applied up to here.
    position: String,
    /// Seconds from the start of `cutover` to the target being ready (verified, cut over).
    seconds_to_ready: f64,
    /// Seconds spent bringing the target up to `position`.
    seconds_catching_up: f64,
    /// Changes applied while catching up (by `cutover` itself, or by the follower).
    changes_applied: u64,
    /// How far behind the follower was when `cutover` started.
    lag_bytes_at_start: Option<u64>,
    lag_seconds_at_start: Option<f64>,
    /// Changed rows the follower rejected over the whole run (in the rejects file).
    follow_rejects: i64,
    cut_over: bool,
}

#[derive(Debug, Serialize)]
struct Envelope<'a> {
    pgcutover: &'static str,
    source: String,
    target: String,
    target_schema: &'a str,
    started_at_unix: u64,
    window: &'a Window,
    verify: &'a VerifyReport,
}

pub async fn run(args: CutoverArgs, printer: &Printer) -> Result<ExitCode, Exit> {
    let started = Instant::now();
    let started_at_unix = unix_now();
    let (source, target) = args.endpoints.resolve()?;
    if let Some(path) = &args.report {
        crate::paths::check_writable("--report", path, false)?;
    }
    let schema_name = args.select.target_schema.clone();
    let client = crate::target::connect(&target).await?;
    printer.info(&format!("connected to {}", target.display()));

    // The run: a complete copy that follows the source, not cut over yet. (Its state tables
    // made current first: cutover writes to them.)
    if state::exists(&client)
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading the run state"))?
    {
        state::ensure(&client)
            .await
            .map_err(|e| anyhow::Error::new(e).context("updating the run state's tables"))?;
    }
    let follow = followed_run(&client, &schema_name).await?;
    if let Some(at) = &follow.cut_over_at {
        printer.info(&format!(
            "this run was cut over at {at}, at {}; nothing to do",
            show(follow.cut_over_position.as_deref().unwrap_or("?"))
        ));
        return Ok(ExitCode::OK);
    }
    let facts = TargetFacts::read(&client).await?;
    printer.info(&format!("reading the schema of {}", source.display()));
    let loaded = load_schema(
        &*source,
        &args.select.selection(),
        &args.values.options(),
        &facts,
    )
    .await?;

    // 1. Writes stopped: where the log ends.
    if args.set_read_only {
        printer.info(&loaded.reads.set_read_only().await?);
    }
    let head = loaded
        .reads
        .change_log_head(Some(&follow.position))
        .await?
        .ok_or_else(|| Exit::new(
            ExitCode::USAGE,
            anyhow!("the source has no binary log to cut over from"),
            Some("cutover ends a `copy --follow` of a MySQL or MariaDB source whose binary log is on".to_owned()),
        ))?;
    printer.info(&format!(
        "the source's binary log ends at {}; applied up to {}{}",
        show(&head.position),
        show(&follow.position),
        match head.behind_bytes {
            Some(0) => " (caught up)".to_owned(),
            Some(b) => format!(" ({b} bytes behind)"),
            None => String::new(),
        }
    ));

    // 2. Everything up to there applied.
    let catching_up = Instant::now();
    let changes_applied = catch_up(
        &args,
        &loaded,
        &client,
        &schema_name,
        &follow,
        &head.position,
        printer,
    )
    .await?;
    let seconds_catching_up = catching_up.elapsed().as_secs_f64();
    printer.info(&format!(
        "applied up to {} ({changes_applied} change(s) in {seconds_catching_up:.1}s)",
        show(&head.position)
    ));

    // 3. Identities past the source's (its AUTO_INCREMENT as it is now).
    let steps = post_load::planned(&schema_name, &loaded.schema, false, None);
    move_identities(&client, &steps).await?;

    // 4. The proof, and no write to the source meanwhile.
    crate::testpoint::hit("cutover-verifying");
    let report =
        crate::verify_cmd::compare(args.verify_args(), &*source, &target, &client, printer).await?;
    let after = loaded.reads.change_log_head(None).await?;
    let moved = match after
        .as_ref()
        .filter(|a| !loaded.reads.position_reached(&head.position, &a.position))
    {
        // The log went on: only a change to the run's tables is a write that did not stop
        // (the server's other databases, and statements about nothing followed, are not).
        Some(a) => changed_between(&args, &loaded, &head.position, &a.position)
            .await?
            .map(|what| (a.position.clone(), what)),
        None => None,
    };
    let follow_rejects = state::follow_state(&client, &schema_name)
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading the follow state"))?
        .map_or(0, |f| f.rejects);

    // 5. Cut over, when proved.
    // A changed row rejected while following left the target without it: only checksums,
    // proving every row identical, show that later changes superseded it.
    // (Counts cannot tell the rejected changes from other differences: the rejects come first.)
    let code = if follow_rejects > 0 && args.verify != VerifyMode::Checksums {
        ExitCode::ROWS_REJECTED
    } else {
        report.exit_code()
    };
    let cut_over = code == ExitCode::OK && moved.is_none();
    if cut_over {
        state::cut_over(&client, &schema_name, &head.position)
            .await
            .map_err(|e| anyhow::Error::new(e).context("marking the run as cut over"))?;
        if !follower_stopped(&client, &schema_name).await {
            printer.warn("the follower (copy --follow) has not stopped yet: it stops by itself within seconds, applying nothing more");
        }
    }
    let window = Window {
        position: head.position.clone(),
        seconds_to_ready: started.elapsed().as_secs_f64(),
        seconds_catching_up,
        changes_applied,
        lag_bytes_at_start: head.behind_bytes,
        lag_seconds_at_start: follow.lag_seconds,
        follow_rejects,
        cut_over,
    };
    let envelope = Envelope {
        pgcutover: env!("CARGO_PKG_VERSION"),
        source: source.display(),
        target: target.display().to_owned(),
        target_schema: &schema_name,
        started_at_unix,
        window: &window,
        verify: &report,
    };
    {
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Json => print_json(&mut out, "cutover", &envelope)?,
            Format::Text => {
                let mut text = crate::output::TerminalText(&mut out);
                crate::verify_cmd::print_text(&report, &mut text)?;
                print_window(&window, &mut text)?;
            }
        }
    }
    if let Some(path) = &args.report {
        write_json_file(path, &envelope).map_err(|e| {
            anyhow::Error::new(e).context(format!("writing the report to {}", path.display()))
        })?;
    }
    if let Some((to, what)) = moved {
        return Err(Exit::new(
            ExitCode::FAILED,
            anyhow!(
                "the source took writes during the cutover: between {} and {} its binary log has {what}",
                show(&head.position),
                show(&to)
            ),
            Some("stop every write to the source (--set-read-only, or the application), then run cutover again; the run was not marked as cut over".to_owned()),
        ));
    }
    if follow_rejects > 0 && code == ExitCode::OK {
        printer.warn(&format!(
            "{follow_rejects} changed row(s) were rejected while following (in {}); the checksums prove every row identical all the same (later changes superseded them)",
            args.rejects.display()
        ));
    }
    if code == ExitCode::ROWS_REJECTED && follow_rejects > 0 {
        return Err(Exit::new(
            ExitCode::ROWS_REJECTED,
            anyhow!(
                "{follow_rejects} changed row(s) were rejected while following (in {}){}: the run is not cut over",
                args.rejects.display(),
                if report.exit_code() == ExitCode::OK {
                    ""
                } else {
                    ", and the row counts differ"
                }
            ),
            Some("each line of the rejects file names the row, the reason and the transaction's position; fix those rows (in the source, or in the target by hand), then `cutover --verify checksums` proves the target identical row by row".to_owned()),
        ));
    }
    if code == ExitCode::ROWS_REJECTED {
        return Err(Exit::new(
            ExitCode::ROWS_REJECTED,
            anyhow!(
                "the copy rejected rows (in {}): the target does not hold them, and the run is not cut over",
                args.rejects.display()
            ),
            Some("each line of the rejects file names the row and the reason; fix those rows in the source (an update brings them over while following), then `cutover --verify checksums` proves the target identical row by row".to_owned()),
        ));
    }
    Ok(code)
}

/// What of the run's tables the source's log holds from `from` to `to` (`None`: nothing):
/// read through the follower's own stream, applying nothing.
async fn changed_between(
    args: &CutoverArgs,
    loaded: &Loaded,
    from: &str,
    to: &str,
) -> Result<Option<String>, Exit> {
    use pgcutover_core::source::SourceChange;
    let mut stream =
        pgcutover_pipeline::follow::open(loaded, from, value_policy(&args.values.options()))
            .await?;
    let read = async {
        loop {
            match stream.next().await? {
                SourceChange::Commit { position, .. } => {
                    if loaded.reads.position_reached(&position, to) {
                        return Ok::<_, Exit>(None);
                    }
                }
                SourceChange::RolledBack => {}
                SourceChange::Row { table, .. } => {
                    return Ok(Some(format!("a changed row of {}", show_ident(&table))))
                }
                SourceChange::Rejected(r) => {
                    return Ok(Some(format!("a changed row of {}", show_ident(&r.table))))
                }
                SourceChange::Truncate { table, .. } => {
                    return Ok(Some(format!("a TRUNCATE of {}", show_ident(&table))))
                }
                SourceChange::Statement { sql, .. } => {
                    return Ok(Some(format!("a schema change: {}", show(&sql))))
                }
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(args.wait), read).await {
        Ok(found) => found,
        // Cannot tell: count it as a write.
        Err(_) => Ok(Some(format!(
            "more than pgcutover could read within --wait {}s",
            args.wait
        ))),
    }
}

/// The run in the target schema, which must be a complete copy that follows the source.
async fn followed_run(
    client: &crate::target::Client,
    schema_name: &str,
) -> Result<state::FollowState, Exit> {
    let run = state::load(client, schema_name).await?;
    let Some(run) = run else {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!("no pgcutover run in schema {} of the target", show(schema_name)),
            Some("cutover ends a `pgcutover copy SOURCE TARGET --follow`; run that first (and --target-schema as it had)".to_owned()),
        ));
    };
    if run.status != state::RunStatus::Complete {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!("the run in schema {} has not finished its copy", show(schema_name)),
            Some("let `copy --follow` finish copying (`pgcutover status` shows where it is), then cut over".to_owned()),
        ));
    }
    state::follow_state(client, schema_name)
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading the follow state"))?
        .ok_or_else(|| {
            Exit::new(
                ExitCode::USAGE,
                anyhow!("the run in schema {} does not follow the source", show(schema_name)),
                Some("cutover ends a copy made with --follow (a copy without it is complete as it is: `pgcutover verify` proves it)".to_owned()),
            )
        })
}

/// Brings the target up to `position`: waits for the follower that holds the run, or, when
/// none does (or it stops while cutover waits), applies the changes itself, within `--wait`.
/// Returns the changes applied meanwhile.
async fn catch_up(
    args: &CutoverArgs,
    loaded: &Loaded,
    client: &crate::target::Client,
    schema_name: &str,
    start: &state::FollowState,
    position: &str,
    printer: &Printer,
) -> Result<u64, Exit> {
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let mut told = Instant::now();
    let mut waiting = false;
    loop {
        let now = read_follow(client, schema_name).await?;
        let applied = u64::try_from(now.changes - start.changes).unwrap_or(0);
        if loaded.reads.position_reached(&now.position, position) {
            if !waiting {
                printer.info("the target is caught up: every change up to there is applied");
            }
            return Ok(applied);
        }
        let locked = state::try_lock(client, schema_name)
            .await
            .map_err(|e| anyhow::Error::new(e).context("taking the run's lock"))?;
        if locked {
            // No follower holds the run (any more): the position it committed last is where
            // the rest starts, read again now that nobody can move it.
            let now = read_follow(client, schema_name).await?;
            printer.info("no follower is running: applying the last changes here");
            let done = tokio::time::timeout_at(
                deadline.into(),
                apply_here(args, loaded, client, schema_name, &now.position, position, printer),
            )
            .await
            .map_err(|_| {
                Exit::new(
                    ExitCode::FAILED,
                    anyhow!(
                        "the changes up to {} were not all applied within {}s",
                        show(position),
                        args.wait
                    ),
                    Some("what was applied is committed; run cutover again to go on (--wait waits longer)".to_owned()),
                )
            })??;
            return Ok(applied + done);
        }
        if !waiting {
            waiting = true;
            printer.info(
                "a follower (copy --follow) is running: waiting for it to apply the last changes",
            );
        }
        if Instant::now() >= deadline {
            return Err(Exit::new(
                ExitCode::FAILED,
                anyhow!(
                    "the follower did not reach {} within {}s (it is at {})",
                    show(position),
                    args.wait,
                    show(&now.position)
                ),
                Some("see what the follower prints (or `pgcutover status`); stop it, and cutover applies the rest itself; --wait waits longer".to_owned()),
            ));
        }
        if told.elapsed() >= Duration::from_secs(10) {
            told = Instant::now();
            printer.info(&format!(
                "waiting for the follower: at {}, {applied} change(s) applied since cutover started",
                show(&now.position)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Applies the changes from `from` up to `to` here, with the run's lock held.
async fn apply_here(
    args: &CutoverArgs,
    loaded: &Loaded,
    client: &crate::target::Client,
    schema_name: &str,
    from: &str,
    to: &str,
    printer: &Printer,
) -> Result<u64, Exit> {
    let mut stream =
        pgcutover_pipeline::follow::open(loaded, from, value_policy(&args.values.options()))
            .await?;
    // The lines of changes rejected and not committed (a follower stopped) are dropped: they
    // are read again.
    let followed = u64::try_from(read_follow(client, schema_name).await?.rejects).unwrap_or(0);
    let rejects = RejectLog::resume_following(args.rejects.clone(), followed).map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "reading the rejects file {}",
            args.rejects.display()
        ))
    })?;
    let done = apply_until(
        &Follow {
            loaded,
            client,
            schema_name,
            rejects: &rejects,
            observer: printer,
        },
        &mut *stream,
        from,
        Until::Reached(to),
        std::future::pending(),
    )
    .await?;
    Ok(done.changes)
}

async fn read_follow(
    client: &crate::target::Client,
    schema_name: &str,
) -> Result<state::FollowState, Exit> {
    Ok(state::follow_state(client, schema_name)
        .await
        .map_err(|e| anyhow::Error::new(e).context("reading the follow state"))?
        .ok_or_else(|| anyhow!("the run's follow state is gone"))?)
}

/// Once the run is marked, a follower still running stops within seconds (it asks four times
/// a second): wait for it to let go of the run, so that nothing is applied after cutover
/// returns.
async fn follower_stopped(client: &crate::target::Client, schema_name: &str) -> bool {
    for _ in 0..100 {
        if state::try_lock(client, schema_name).await.unwrap_or(false) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn print_window(w: &Window, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "\ncutover: {} at {}; ready after {:.1}s ({:.1}s catching up, {} change(s) applied){}{}",
        if w.cut_over {
            "cut over"
        } else {
            "NOT cut over"
        },
        show(&w.position),
        w.seconds_to_ready,
        w.seconds_catching_up,
        w.changes_applied,
        match (w.lag_bytes_at_start, w.lag_seconds_at_start) {
            (Some(b), Some(s)) =>
                format!("; the target was {b} bytes, {s:.1}s behind when cutover started"),
            (Some(b), None) => format!("; the target was {b} bytes behind when cutover started"),
            _ => String::new(),
        },
        if w.follow_rejects > 0 {
            format!(
                "; {} changed row(s) rejected while following",
                w.follow_rejects
            )
        } else {
            String::new()
        }
    )
}
