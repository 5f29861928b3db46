//! Post-load: what a copy makes once the rows are in. Primary keys, unique constraints,
//! indexes and CHECKs first, on `--jobs` connections (a full copy starts a table's, and its
//! triggers, identity and ANALYZE, while other tables are still copying, and a foreign key once
//! both its tables are settled: [`Early`]); then foreign keys, on `--jobs` connections too but
//! never two on one table at once (`StepQueue`), each created directly, its orphans counted
//! only when PostgreSQL refuses it ([`Orphans`] decides what happens to a key that has some);
//! then triggers, identity restarts and ANALYZE.
//!
//! Each step runs in its own transaction together with its mark in the run state, so a resumed
//! run skips what is done; a step that failed is rolled back and tried again by the next run.
//! The statements themselves come from `pgcutover_postgres::ddl::post_load_steps` (or, for a
//! data-only load, from [`crate::data_only`]); what each step did is told to the observer
//! ([`Observer::step_done`]) and returned as a [`StepReport`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pgcutover_core::{show_ident, Schema, Warning};
use pgcutover_postgres::ddl::{self, OrphanCheck, Step, StepKind};
use pgcutover_postgres::Target;
use tokio_postgres::Client;

use crate::cancel::Cancel;
use crate::chunks::Ended;
use crate::data_only::DataOnly;
use crate::exit::Exit;
use crate::observe::Observer;
use crate::report::StepReport;
use crate::retry::{Fault, Retrying, Tried};
use crate::state;
use crate::target::{transaction, End};
use crate::testpoint;

/// What happens to a foreign key whose child rows reference parents that do not exist
/// (`--orphans`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphans {
    /// Do not create it; the step fails (the copy ends with exit 6), naming the orphans.
    Fail,
    /// Do not create it; the step becomes a warning.
    Skip,
    /// Create it NOT VALID: enforced for new rows, the orphans stay; a warning says so.
    NotValid,
}

/// The post-load steps a run makes, in order: a data-only load's own, or every key, index,
/// constraint, identity and ANALYZE of the schema (no ANALYZE when no rows are copied).
pub fn planned(
    schema_name: &str,
    schema: &Schema,
    schema_only: bool,
    data_only: Option<&DataOnly>,
) -> Vec<Step> {
    if let Some(d) = data_only {
        return d.steps.clone();
    }
    ddl::post_load_steps(schema_name, schema)
        .into_iter()
        .filter(|s| !(schema_only && s.kind == StepKind::Analyze))
        .collect()
}

/// A step's name in the run state.
fn step_key(s: &Step) -> String {
    format!("{}|{}|{}", s.kind.label(), s.table, s.object)
}

/// How the post-load steps run.
pub struct StepSettings<'a> {
    pub target: &'a Target,
    /// The run's key in the run state (its target schema).
    pub state_key: &'a str,
    pub jobs: usize,
    pub orphans: Orphans,
    pub retries: u32,
    pub observer: &'a dyn Observer,
    pub cancel: &'a Cancel,
}

/// What post-load came to in this invocation.
pub struct PostLoad {
    /// Every step of the run that is done or was tried now, in the run's order.
    pub reports: Vec<StepReport>,
    /// Steps earlier attempts had done.
    pub skipped: usize,
    /// Steps not run because a table they need is not all in.
    pub waiting: usize,
    /// How the run stands after post-load (or, when the data did not end, as the data left it).
    pub ended: Ended,
}

impl PostLoad {
    /// The steps that did something other than what was planned (a foreign key skipped or
    /// created NOT VALID, a CHECK PostgreSQL rejected as translated), as the report's warnings.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        for s in &self.reports {
            let message = match (s.kind, s.demoted_to_warning, &s.note) {
                (StepKind::ForeignKey, _, Some(note)) => note.clone(),
                (_, true, _) => format!(
                    "not carried over: PostgreSQL rejected the translation: {}",
                    s.error.as_deref().unwrap_or("")
                ),
                _ => continue,
            };
            out.push(Warning::new(
                format!("{} {}", s.kind.label(), show_ident(&s.object)),
                message,
            ));
        }
        out
    }
}

/// Post-load, when the data phase is `Done`: the steps not done yet, except those that wait
/// for a table some chunk of which is not in (failed now, or in an earlier attempt and not
/// retried): its own steps, and the foreign keys that reference it. `early`: the steps the
/// copy's workers ran while other tables were copying ([`Early`]). After an interrupted data
/// phase nothing more runs, and `ended` comes back as it was.
pub async fn run(
    client: &Client,
    steps: &[Step],
    settings: &StepSettings<'_>,
    ended: Ended,
    early: Vec<(usize, StepReport)>,
) -> Result<PostLoad, Exit> {
    let incomplete: HashSet<String> = state::chunks(client, settings.state_key)
        .await?
        .into_iter()
        .filter(|c| c.done.is_none())
        .map(|c| c.plan.table)
        .collect();
    let waits = |s: &Step| {
        incomplete.contains(&s.table)
            || s.orphan_check
                .as_ref()
                .is_some_and(|c| incomplete.contains(&c.parent))
    };
    let ran_early: HashSet<usize> = early.iter().map(|(i, _)| *i).collect();
    // Post-load did not run: the steps done while copying are in the run state, and the run
    // that goes on reports them.
    let Ended::Done = ended else {
        return Ok(PostLoad {
            reports: Vec::new(),
            skipped: 0,
            waiting: 0,
            ended,
        });
    };

    let done = state::steps_done(client, settings.state_key).await?;
    let todo: Vec<(usize, Step)> = steps
        .iter()
        .cloned()
        .enumerate()
        .filter(|(i, s)| !ran_early.contains(i) && !done.contains_key(&step_key(s)))
        .collect();
    let skipped = steps.len() - todo.len() - ran_early.len();
    let (todo, waiting): (Vec<_>, Vec<_>) = todo.into_iter().partition(|(_, s)| !waits(s));
    let waiting = waiting.len();
    if !todo.is_empty() {
        let while_copying = match ran_early.len() {
            0 => String::new(),
            n => format!(" more ({n} done while copying)"),
        };
        settings.observer.info(&format!(
            "post-load: {} step(s){while_copying}: keys, indexes, constraints, foreign keys, identities, ANALYZE",
            todo.len()
        ));
    }
    if waiting > 0 {
        settings.observer.warn(&format!(
            "post-load: {waiting} step(s) wait until the rows of {} are in",
            incomplete
                .iter()
                .map(|t| show_ident(t))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let (fresh, ended) = run_steps(settings, todo).await?;
    let mut fresh: HashMap<usize, StepReport> = fresh.into_iter().chain(early).collect();
    let mut reports = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(r) = fresh.remove(&i) {
            reports.push(r);
        } else if let Some(d) = done.get(&step_key(s)) {
            let mut r: StepReport = serde_json::from_value(d.report.clone())?;
            r.demoted_to_warning = d.demoted_to_warning;
            reports.push(r);
        }
    }
    Ok(PostLoad {
        reports,
        skipped,
        waiting,
        ended,
    })
}

/// Runs post-load steps: keys, indexes and CHECKs on `jobs` connections; foreign keys on
/// `jobs` connections, no two on one table at once (they would only wait on each other's
/// locks); then identities and ANALYZE. Returns each step's report by its position in the
/// run's steps, and whether the run was interrupted.
async fn run_steps(
    settings: &StepSettings<'_>,
    steps: Vec<(usize, Step)>,
) -> Result<(Vec<(usize, StepReport)>, Ended), Exit> {
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
    for kinds in phases {
        let queue: VecDeque<(usize, Step)> = steps
            .iter()
            .filter(|(_, s)| kinds.contains(&s.kind))
            .cloned()
            .collect();
        if queue.is_empty() {
            continue;
        }
        let workers = settings.jobs.clamp(1, queue.len());
        let queue = Arc::new(StepQueue::new(queue));
        let tasks = (0..workers).map(|_| step_worker(settings, Arc::clone(&queue)));
        let mut interrupted = None;
        for batch in futures::future::join_all(tasks).await {
            let (out, ended) = batch;
            if let Ended::Interrupted(why) = ended {
                interrupted.get_or_insert(why);
            }
            for (position, r) in out {
                settings.observer.step_done(&r);
                reports.push((position, r));
            }
        }
        if let Some(why) = interrupted {
            return Ok((reports, Ended::Interrupted(why)));
        }
    }
    Ok((reports, Ended::Done))
}

/// Steps waiting to be taken (with their positions in the run's steps), and the tables that
/// steps running now hold.
type Waiting = (VecDeque<(usize, Step)>, HashSet<String>);

/// The steps of a phase, taken by its workers in order. Creating a foreign key locks its two
/// tables against any other foreign key's creation on them (SHARE ROW EXCLUSIVE conflicts with
/// itself), so a worker takes the first step no running step holds a table of, and waits while
/// every step left does.
struct StepQueue {
    /// The steps not taken yet (with their positions in the run), and the tables running
    /// steps hold.
    waiting: Mutex<Waiting>,
    freed: tokio::sync::Notify,
}

impl StepQueue {
    fn new(steps: VecDeque<(usize, Step)>) -> StepQueue {
        StepQueue {
            waiting: Mutex::new((steps, HashSet::new())),
            freed: tokio::sync::Notify::new(),
        }
    }

    /// The tables a step locks against other steps of its phase.
    fn tables(step: &Step) -> Vec<&str> {
        match (&step.kind, &step.orphan_check) {
            (StepKind::ForeignKey, Some(check)) => vec![&step.table, &check.parent],
            _ => Vec::new(),
        }
    }

    /// The next step none of whose tables a running step holds; `None` once none is left.
    async fn take(&self) -> Option<(usize, Step)> {
        loop {
            let freed = self.freed.notified();
            futures::pin_mut!(freed);
            freed.as_mut().enable();
            {
                let mut guard = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
                let (queue, busy) = &mut *guard;
                if queue.is_empty() {
                    return None;
                }
                let free = queue
                    .iter()
                    .position(|(_, s)| StepQueue::tables(s).iter().all(|t| !busy.contains(*t)));
                if let Some(i) = free {
                    let (position, step) = queue.remove(i).expect("a queued step");
                    busy.extend(StepQueue::tables(&step).into_iter().map(str::to_owned));
                    return Some((position, step));
                }
            }
            freed.await;
        }
    }

    /// A step taken is over, however it went: its tables are free again.
    fn release(&self, step: &Step) {
        let mut guard = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for t in StepQueue::tables(step) {
            guard.1.remove(t);
        }
        drop(guard);
        self.freed.notify_waiters();
    }
}

async fn step_worker(
    settings: &StepSettings<'_>,
    queue: Arc<StepQueue>,
) -> (Vec<(usize, StepReport)>, Ended) {
    let mut out = Vec::new();
    let mut client: Option<Client> = None;
    loop {
        if let Some(signal) = settings.cancel.reason() {
            return (out, Ended::Interrupted(format!("stopped by {signal}")));
        }
        let Some((position, step)) = queue.take().await else {
            return (out, Ended::Done);
        };
        let tried = run_one(settings, &mut client, position, &step).await;
        queue.release(&step);
        match tried {
            Ok(r) => out.push((position, r)),
            Err(why) => return (out, Ended::Interrupted(why)),
        }
    }
}

/// Runs one step on `client` (connected first if need be), with the retries faults a retry may
/// cure get. `Err`: why the run stops (a signal, or a fault that outlasted the retries).
async fn run_one(
    settings: &StepSettings<'_>,
    client: &mut Option<Client>,
    position: usize,
    step: &Step,
) -> Result<StepReport, String> {
    let what = format!("{} {}", step.kind.label(), show_ident(&step.object));
    let retrying = Retrying {
        retries: settings.retries,
        cancel: settings.cancel,
        observer: settings.observer,
    };
    let tried = retrying
        .run(
            &what,
            client,
            async || Ok::<_, anyhow::Error>(settings.target.connect().await?),
            async |c: &Client| run_step(c, step.clone(), position, settings).await,
            crate::retry::classify,
            crate::exit::error_chain,
        )
        .await;
    match tried {
        Tried::Done(r) => Ok(r),
        Tried::Cancelled => Err(format!(
            "stopped by {}",
            settings.cancel.reason().unwrap_or("a signal")
        )),
        Tried::Failed { error, .. } => Err(format!(
            "{what} failed: {}",
            crate::exit::error_chain(&error)
        )),
    }
}

/// Post-load steps that start while other tables are still copying: a table's primary key,
/// unique keys, indexes, CHECKs, triggers, identity and ANALYZE wait only for its own rows; a
/// foreign key waits for both its tables to be settled (their rows in, their own steps over).
/// The copy's workers take them ([`Early::run_next`]) before their next chunk once the
/// table's last chunk is in ([`Early::table_done`]); whatever is left runs in post-load proper.
pub struct Early<'a> {
    settings: StepSettings<'a>,
    /// Per table, its steps that wait for its rows.
    waiting: Mutex<HashMap<String, Vec<(usize, Step)>>>,
    /// Tables with chunks left to copy in this invocation ([`Early::rows_pending`]).
    pending: Mutex<HashSet<String>>,
    /// Steps whose table is in, and the tables a worker runs a step of now: a primary key,
    /// unique key or CHECK locks its table (ACCESS EXCLUSIVE) for the whole build, so a second
    /// worker would only wait for it rather than copy.
    ready: Mutex<Waiting>,
    /// Foreign keys not done yet: each starts once both its tables are settled (rows in, own
    /// steps over), and no step runs on either.
    keys: Mutex<VecDeque<(usize, Step)>>,
    /// What the steps run here came to, by position.
    reports: Mutex<Vec<(usize, StepReport)>>,
}

impl<'a> Early<'a> {
    /// The run's per-table steps not done yet (`steps`: the run's steps).
    pub async fn new(
        client: &Client,
        steps: &[Step],
        settings: StepSettings<'a>,
    ) -> Result<Early<'a>, Exit> {
        let done = state::steps_done(client, settings.state_key).await?;
        let mut waiting: HashMap<String, Vec<(usize, Step)>> = HashMap::new();
        let mut keys = VecDeque::new();
        for (position, step) in steps.iter().enumerate() {
            if done.contains_key(&step_key(step)) {
                continue;
            }
            // Everything but foreign keys needs only the table's own rows.
            if step.kind == StepKind::ForeignKey {
                // One whose tables are not known waits for post-load proper.
                if step.orphan_check.is_some() {
                    keys.push_back((position, step.clone()));
                }
            } else {
                waiting
                    .entry(step.table.clone())
                    .or_default()
                    .push((position, step.clone()));
            }
        }
        Ok(Early {
            settings,
            waiting: Mutex::new(waiting),
            pending: Mutex::new(HashSet::new()),
            ready: Mutex::new((VecDeque::new(), HashSet::new())),
            keys: Mutex::new(keys),
            reports: Mutex::new(Vec::new()),
        })
    }

    /// The tables with chunks left to copy: none is settled until [`Early::table_done`].
    pub fn rows_pending<'t>(&self, tables: impl IntoIterator<Item = &'t String>) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(tables.into_iter().cloned());
    }

    /// Every row of `table` is in: its steps may start. The locks are taken in the order
    /// [`Early::run_next`] takes them, and held together, so no one sees the table between.
    pub fn table_done(&self, table: &str) {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.remove(table);
        if let Some(steps) = waiting.remove(table) {
            ready.0.extend(steps);
        }
    }

    /// Takes a step whose table is in and no other worker runs a step of (else a foreign key
    /// whose two tables are settled), if any, and runs it on `client`. `None`: nothing was
    /// ready. `Some(Err)`: why the run stops.
    pub async fn run_next(&self, client: &mut Option<Client>) -> Option<Result<(), String>> {
        let ((position, step), tables) = {
            let mut guard = self.ready.lock().unwrap_or_else(|p| p.into_inner());
            let (ready, running) = &mut *guard;
            let (taken, tables): ((usize, Step), Vec<String>) =
                match ready.iter().position(|(_, s)| !running.contains(&s.table)) {
                    Some(i) => {
                        let own = ready.remove(i).expect("a ready step");
                        let tables = vec![own.1.table.clone()];
                        (own, tables)
                    }
                    None => {
                        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
                        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                        let settled = |t: &str| {
                            !pending.contains(t)
                                && !waiting.contains_key(t)
                                && !ready.iter().any(|(_, s)| s.table == t)
                                && !running.contains(t)
                        };
                        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
                        let i = keys
                            .iter()
                            .position(|(_, s)| StepQueue::tables(s).into_iter().all(settled))?;
                        let key = keys.remove(i).expect("a foreign key");
                        let tables = StepQueue::tables(&key.1)
                            .into_iter()
                            .map(str::to_owned)
                            .collect();
                        (key, tables)
                    }
                };
            running.extend(tables.iter().cloned());
            (taken, tables)
        };
        let ran = run_one(&self.settings, client, position, &step).await;
        {
            let mut guard = self.ready.lock().unwrap_or_else(|p| p.into_inner());
            for t in &tables {
                guard.1.remove(t);
            }
        }
        Some(ran.map(|report| {
            self.settings.observer.step_done(&report);
            self.reports
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((position, report));
        }))
    }

    /// Whether some worker runs one of these steps now.
    pub fn running(&self) -> bool {
        !self
            .ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .is_empty()
    }

    /// What the steps run while copying came to, by their positions in the run's steps.
    pub fn into_reports(self) -> Vec<(usize, StepReport)> {
        self.reports.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// One step in one transaction with its mark in the run state. A step that failed for good
/// is rolled back and not marked, so the next run tries it again; one reported as a warning
/// (a CHECK PostgreSQL rejects as translated, a key skipped for orphans) is marked done.
/// `Err`: a fault a retry might cure.
async fn run_step(
    client: &Client,
    step: Step,
    position: usize,
    settings: &StepSettings<'_>,
) -> anyhow::Result<StepReport> {
    let t0 = Instant::now();
    let key = step_key(&step);
    let mark_done = async |report: &StepReport| {
        let done = state::StepDone {
            report: serde_json::to_value(report)?,
            demoted_to_warning: report.demoted_to_warning,
        };
        state::step_done(client, settings.state_key, &key, position, &done).await?;
        testpoint::hit("step-before-commit");
        Ok::<_, anyhow::Error>(())
    };
    let report = transaction(client, async || {
        // Index builds sort in memory up to this much.
        client
            .batch_execute("SET LOCAL maintenance_work_mem = '256MB'")
            .await?;
        let report = match step.orphan_check.clone() {
            Some(check) => foreign_key(client, step, &check, settings.orphans, t0).await?,
            None => {
                let result = exec(client, &step.sql).await?;
                StepReport::new(step, result, t0.elapsed().as_secs_f64())
            }
        };
        // Nothing of a step that did not succeed is kept.
        if !report.ok {
            return Ok(End::Rollback(report));
        }
        mark_done(&report).await?;
        Ok(End::Commit(report))
    })
    .await?;
    // One that counts as done anyway (a warning) is marked in a transaction of its own.
    if !report.ok && report.demoted_to_warning {
        transaction(client, async || {
            mark_done(&report).await?;
            Ok(End::Commit(()))
        })
        .await?;
    }
    if report.ok || report.demoted_to_warning {
        testpoint::hit("step-committed");
    }
    Ok(report)
}

/// Creates a foreign key, which scans the child table once to validate it; only when the
/// child has orphans (PostgreSQL refuses the key) are they counted, and `policy` decides. The
/// report names the child table, the key columns, the number of orphans and some of their keys.
async fn foreign_key(
    client: &Client,
    step: Step,
    check: &OrphanCheck,
    policy: Orphans,
    t0: Instant,
) -> anyhow::Result<StepReport> {
    if !check.exists {
        if let Some(done) = create_foreign_key(client, &step).await? {
            return Ok(StepReport::new(step, done, t0.elapsed().as_secs_f64()).no_orphans());
        }
    }
    // A key that exists (a data-only load) can be neither skipped nor made NOT VALID: any
    // orphan fails it.
    let policy = if check.exists { Orphans::Fail } else { policy };
    count_orphans_and_decide(client, step, check, policy, t0).await
}

/// Creates a foreign key: `None` when PostgreSQL refuses it for orphans (nothing of the attempt
/// kept), or how it went. The step's transaction goes on after a refusal: the attempt has a
/// savepoint of its own.
async fn create_foreign_key(
    client: &Client,
    step: &Step,
) -> anyhow::Result<Option<Result<(), tokio_postgres::Error>>> {
    client.batch_execute("SAVEPOINT pgcutover_fk").await?;
    match exec(client, &step.sql).await? {
        Ok(()) => {
            client
                .batch_execute("RELEASE SAVEPOINT pgcutover_fk")
                .await?;
            Ok(Some(Ok(())))
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
            client
                .batch_execute("ROLLBACK TO SAVEPOINT pgcutover_fk; RELEASE SAVEPOINT pgcutover_fk")
                .await?;
            Ok(None)
        }
        Err(e) => Ok(Some(Err(e))),
    }
}

/// Counts a foreign key's orphans; with some, `policy` decides; with none, the key is created.
async fn count_orphans_and_decide(
    client: &Client,
    step: Step,
    check: &OrphanCheck,
    policy: Orphans,
    t0: Instant,
) -> anyhow::Result<StepReport> {
    let row = match client.query_one(&check.sql, &[]).await {
        Ok(row) => row,
        Err(e) if crate::retry::classify_error(&e) != Fault::Fatal => return Err(e.into()),
        Err(e) => return Ok(StepReport::new(step, Err(e), t0.elapsed().as_secs_f64())),
    };
    let count = row.get::<_, i64>(0) as u64;
    let examples = row.get::<_, Option<Vec<String>>>(1).unwrap_or_default();
    if count == 0 {
        let result = exec(client, &step.sql).await?;
        return Ok(StepReport::new(step, result, t0.elapsed().as_secs_f64()).no_orphans());
    }
    let orphans = format!(
        "{count} orphan row(s): {} finds no parent for {}{}",
        check.subject,
        pgcutover_core::show(&examples.join("; ")),
        // The query lists at most five distinct keys.
        if examples.len() >= 5 { "; …" } else { "" }
    );
    let mut r = match policy {
        Orphans::Fail | Orphans::Skip => StepReport::new(step, Ok(()), t0.elapsed().as_secs_f64()),
        Orphans::NotValid => {
            let result = exec(client, &format!("{} NOT VALID", step.sql)).await?;
            StepReport::new(step, result, t0.elapsed().as_secs_f64())
        }
    };
    r.orphans = Some(count);
    match policy {
        Orphans::Fail => {
            r.ok = false;
            r.error = Some(orphans);
        }
        Orphans::Skip => {
            r.ok = false;
            r.demoted_to_warning = true;
            r.note = Some(format!("skipped (--orphans skip): {orphans}"));
        }
        Orphans::NotValid if r.ok => {
            r.note = Some(format!(
                "created NOT VALID (--orphans not-valid), enforced for new rows only: {orphans}"
            ));
        }
        Orphans::NotValid => {}
    }
    Ok(r)
}

/// Runs one statement. A failure a retry might cure comes back as the outer `Err`; any other
/// as the inner one, for the step's report.
async fn exec(client: &Client, sql: &str) -> anyhow::Result<Result<(), tokio_postgres::Error>> {
    match client.batch_execute(sql).await {
        Ok(()) => Ok(Ok(())),
        Err(e) if crate::retry::classify_error(&e) != Fault::Fatal => Err(anyhow::Error::new(e)),
        Err(e) => Ok(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(table: &str, parent: &str) -> Step {
        Step {
            kind: StepKind::ForeignKey,
            table: table.to_owned(),
            object: format!("{table}_{parent}"),
            sql: String::new(),
            orphan_check: Some(OrphanCheck {
                sql: String::new(),
                subject: String::new(),
                parent: parent.to_owned(),
                exists: false,
            }),
        }
    }

    #[tokio::test]
    async fn foreign_keys_on_a_table_another_one_is_being_created_on_wait_for_it() {
        let queue = StepQueue::new(
            [
                fk("orders", "customer"),
                fk("line", "orders"),
                fk("note", "tag"),
            ]
            .into_iter()
            .enumerate()
            .collect(),
        );
        let (_, first) = queue.take().await.expect("a step");
        assert_eq!(first.table, "orders");
        // line → orders shares a table with the running key: note → tag goes first.
        let (_, second) = queue.take().await.expect("a step");
        assert_eq!(second.table, "note");
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), queue.take()).await;
        assert!(
            waiting.is_err(),
            "line → orders must wait for orders → customer"
        );
        queue.release(&first);
        let (_, third) = queue.take().await.expect("a step");
        assert_eq!(third.table, "line");
        queue.release(&second);
        queue.release(&third);
        assert!(queue.take().await.is_none());
    }
}
