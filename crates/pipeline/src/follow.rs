//! Following the source after the copy: its change log's row changes applied to the target,
//! in order, with the position after them committed in the same target transaction, so that a
//! stop at any moment (kill -9 included) goes on with nothing applied twice and nothing
//! missed.
//!
//! - A source transaction's changes are reduced to their net effect per table and applied
//!   set-wise (`pgcutover_postgres::apply`). A big one is applied in segments as it streams
//!   in, all in the one target transaction, so memory stays bounded.
//! - Several source transactions share one target transaction: the target commits every
//!   100 ms or 20,000 changes, and as soon as the source goes quiet. Consecutive transactions
//!   share one net effect where that is the same as applying them one by one (`Merging`).
//! - A changed row the mapping rejects goes to the rejects file with the position of its
//!   transaction, and is counted in the run state with the position.
//! - The follower looks at where the source's log ends every 2 s and records it,
//!   so `status` shows the lag; and it stops by itself (exit 0) once the run is cut over.
//!
//! This is the engine of `copy --follow` and `cutover` (docs/follow.md, docs/cutover.md).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use pgcutover_core::source::{ChangeStream, RowChange, SourceChange};
use pgcutover_core::{quote_qualified, show_ident, Reject, Table};
use pgcutover_postgres::apply::{apply, Net, Phase};
use pgcutover_postgres::state::{self, Applied};
use tokio_postgres::Client;

use crate::exit::{Exit, ExitCode};
use crate::observe::Observer;
use crate::rejects::RejectLog;
use crate::source::Loaded;
use crate::testpoint;

/// A source transaction bigger than this is applied in segments of this many changes.
const SEGMENT: usize = 10_000;
/// The target commits once it holds this many changes…
const GROUP_CHANGES: i64 = 20_000;
/// …or has been open this long.
const GROUP_FOR: Duration = Duration::from_millis(100);
/// With nothing to read for this long, what is applied is committed.
const QUIET: Duration = Duration::from_millis(50);
/// How often a follower looks at where the source's log ends, and whether the run was cut
/// over.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// How often a follower asks whether the run was cut over (cutover waits for it to stop).
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How often a follower says how it is doing.
const TELL_EVERY: Duration = Duration::from_secs(30);

/// What following did before it stopped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// Source transactions with changes to the run's tables, applied.
    pub transactions: u64,
    pub changes: u64,
    pub rejects: u64,
    /// Where the next change to apply is, as committed in the target.
    pub position: Option<String>,
    pub end: FollowEnd,
}

/// Why following ended.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub enum FollowEnd {
    /// Told to stop (Ctrl-C): what was applied since the last commit was rolled back, and is
    /// read again from the position next time.
    #[default]
    Stopped,
    /// The run was cut over.
    CutOver,
    /// The position asked for ([`Until::Reached`]) is applied.
    Reached,
}

/// How long to follow.
#[derive(Debug, Clone, Copy)]
pub enum Until<'a> {
    /// Until stopped, or until the run is cut over: a follower.
    CutOver,
    /// Until every change up to this position is applied: `cutover` catching up itself.
    Reached(&'a str),
}

/// What following works on.
pub struct Follow<'a> {
    pub loaded: &'a Loaded,
    pub client: &'a Client,
    pub schema_name: &'a str,
    pub rejects: &'a RejectLog,
    pub observer: &'a dyn Observer,
}

/// A followed table: its place in the load order and its key among the copied columns.
struct Keyed {
    table: Arc<Table>,
    key: Vec<usize>,
    order: usize,
    /// The table has a unique key besides its row key.
    other_uniques: bool,
    /// Positions of the columns a foreign key may reference (its row key's, and any other
    /// referenced by a followed table): a row whose values there change is lost to its
    /// referencing rows.
    referenced: Vec<usize>,
}

/// What keeps the source from being followed (its change log's settings and grants, tables
/// without a key), each with what to do about it; empty when it can be followed.
pub async fn problems(loaded: &Loaded) -> Result<Vec<FollowProblem>, Exit> {
    let mut problems: Vec<FollowProblem> = loaded
        .reads
        .follow_problems()
        .await?
        .into_iter()
        .map(|(problem, hint)| FollowProblem { problem, hint })
        .collect();
    for t in loaded
        .schema
        .tables
        .iter()
        .filter(|t| t.row_key().is_none())
    {
        problems.push(FollowProblem {
            problem: format!(
                "table {} has no primary key or unique key over NOT NULL columns",
                show_ident(&t.name)
            ),
            hint: format!(
                "give {} a primary key in the source, or leave it out with --exclude",
                show_ident(&t.source_name)
            ),
        });
    }
    Ok(problems)
}

/// Something that keeps the source from being followed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FollowProblem {
    pub problem: String,
    pub hint: String,
}

/// `--follow` refused, before anything is written, with every problem and what to do.
pub fn refusal(problems: &[FollowProblem]) -> Exit {
    let hints = problems
        .iter()
        .map(|p| p.hint.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let mut chars = hints.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    Exit::new(
        ExitCode::USAGE,
        anyhow!(
            "--follow: the source cannot be followed: {}",
            problems
                .iter()
                .map(|p| p.problem.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Some(format!(
            "nothing was written. {}{}",
            first.unwrap_or_default(),
            chars.as_str()
        )),
    )
}

/// Opens the source's change log at `from`, for the run's tables. Every table needs a key.
pub async fn open(
    loaded: &Loaded,
    from: &str,
    policy: pgcutover_core::policy::ValuePolicy,
) -> Result<Box<dyn ChangeStream>, Exit> {
    if let Some(t) = loaded.schema.tables.iter().find(|t| t.row_key().is_none()) {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!(
                "table {} has no primary key or unique key over NOT NULL columns, so its changed rows cannot be found in the target",
                show_ident(&t.name)
            ),
            Some("give the table a primary key in the source, or leave it out with --exclude".to_owned()),
        ));
    }
    let tables = loaded.schema.tables.iter().cloned().map(Arc::new).collect();
    Ok(loaded.reads.changes(from, tables, policy).await?)
}

/// Moves the run's identities past the keys the target holds and the source's next value
/// (`steps`: the run's planned post-load steps; the identity ones run again): after following,
/// rows inserted since the copy carry their own keys.
pub async fn move_identities(
    client: &Client,
    steps: &[pgcutover_postgres::ddl::Step],
) -> Result<(), Exit> {
    for s in steps
        .iter()
        .filter(|s| s.kind == pgcutover_postgres::ddl::StepKind::Identity)
    {
        client.batch_execute(&s.sql).await.map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "moving the identity of {} past the rows applied",
                show_ident(&s.table)
            ))
        })?;
    }
    Ok(())
}

/// Applies changes from `stream`, which starts at `from` (the position the run state holds),
/// until `until` is met or `stop` resolves (Ctrl-C).
pub async fn apply_until(
    follow: &Follow<'_>,
    stream: &mut dyn ChangeStream,
    from: &str,
    until: Until<'_>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Followed, Exit> {
    futures::pin_mut!(stop);
    let mut a = Applier::new(follow, from);
    let result = follow_loop(&mut a, stream, until, &mut stop).await;
    if result.is_err() || a.open {
        a.rollback().await;
    }
    let mut done = result?;
    done.position = Some(a.recorded.clone());
    Ok(done)
}

async fn follow_loop(
    a: &mut Applier<'_>,
    stream: &mut dyn ChangeStream,
    until: Until<'_>,
    stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Result<Followed, Exit> {
    let mut done = Followed::default();
    let reads = &a.follow.loaded.reads;
    if let Until::Reached(target) = until {
        if reads.position_reached(&a.recorded, target) {
            done.end = FollowEnd::Reached;
            return Ok(done);
        }
    }
    let mut ahead = ReadAhead::default();
    let mut looked = Instant::now();
    let mut checked = Instant::now();
    let mut told = Instant::now();
    let mut since_look = 0u64;
    loop {
        let waiting = a.waiting_since.is_some();
        let next = if let Some(next) = ahead.changes.pop_front() {
            if futures::FutureExt::now_or_never(stop.as_mut()).is_some() {
                done.end = FollowEnd::Stopped;
                return Ok(done);
            }
            Some(next?)
        } else {
            tokio::select! {
                next = stream.next() => Some(next?),
                () = stop.as_mut() => {
                    done.end = FollowEnd::Stopped;
                    return Ok(done);
                }
                () = tokio::time::sleep(if waiting { QUIET } else { CHECK_EVERY }) => None,
            }
        };
        let quiet = next.is_none();
        match next {
            None => {}
            Some(SourceChange::Row { table, change }) => {
                ahead.during(stream, a.row(table, change)).await?;
            }
            Some(SourceChange::Rejected(r)) => {
                a.in_transaction = true;
                a.rejected.push(r);
            }
            Some(SourceChange::RolledBack) => a.rolled_back()?,
            Some(SourceChange::Statement { sql, position }) => {
                ahead.during(stream, a.commit()).await?;
                return Err(Exit::new(
                    ExitCode::FAILED,
                    anyhow!(
                        "the source changed a followed table's definition at {position}: {}",
                        pgcutover_core::show(&sql)
                    ),
                    Some(format!(
                        "following stops at a schema change, and cannot go on past it; everything up to {} is applied. Copy again with --restart --force --follow (the copy takes the new definition; --force because following wrote to the tables)",
                        a.recorded
                    )),
                ));
            }
            Some(SourceChange::Truncate { table, position }) => {
                ahead.during(stream, a.truncate(&table, &position)).await?;
                done.transactions += 1;
                done.changes += 1;
            }
            Some(SourceChange::Commit { position, at }) => {
                let (changes, rejects) = ahead
                    .during(stream, a.end_transaction(&position, at))
                    .await?;
                if changes + rejects > 0 {
                    done.transactions += 1;
                    done.changes += changes;
                    done.rejects += rejects;
                    since_look += changes;
                }
                if let Until::Reached(target) = until {
                    if reads.position_reached(&position, target) {
                        ahead.during(stream, a.commit()).await?;
                        done.end = FollowEnd::Reached;
                        return Ok(done);
                    }
                }
            }
        }
        // What waits is committed once the source goes quiet, once it has waited long
        // enough, or once it is big, whatever the source keeps sending.
        if a.waiting_since.is_some_and(|since| {
            quiet || since.elapsed() >= GROUP_FOR || a.in_open >= GROUP_CHANGES
        }) {
            ahead.during(stream, a.commit()).await?;
        }
        if a.cut_over_seen {
            done.end = FollowEnd::CutOver;
            return Ok(done);
        }
        if !matches!(until, Until::CutOver) {
            continue;
        }
        if checked.elapsed() >= CHECK_EVERY {
            checked = Instant::now();
            // The run cut over: cutover applied and verified everything up to its position, so
            // whatever this follower has not committed is dropped, not applied past it.
            if a.cut_over().await? {
                a.abandon().await;
                done.end = FollowEnd::CutOver;
                return Ok(done);
            }
        }
        // Where the source's log ends, between target transactions.
        if !a.open && looked.elapsed() >= LOOK_EVERY {
            let rate = since_look as f64 / looked.elapsed().as_secs_f64();
            looked = Instant::now();
            since_look = 0;
            a.look(rate).await;
            if told.elapsed() >= TELL_EVERY && done.changes > 0 {
                told = Instant::now();
                a.follow.observer.info(&format!(
                    "following: {} transaction(s), {} change(s) applied so far ({rate:.0}/s now), at {}",
                    done.transactions,
                    done.changes,
                    pgcutover_core::show(&a.recorded)
                ));
            }
        }
    }
}

/// Changes read from the source's log before their turn, while the target applies what came
/// before them: the log is read and its rows converted while PostgreSQL works, not after.
#[derive(Default)]
struct ReadAhead {
    changes: std::collections::VecDeque<Result<SourceChange, pgcutover_core::source::SourceError>>,
}

/// At most this many changes are read ahead.
const READ_AHEAD: usize = 5_000;

impl ReadAhead {
    /// Runs `work` (something the target does), reading changes from `stream` meanwhile.
    /// Reading a change is cancelled, not lost, when `work` ends first: the stream keeps what
    /// it has not handed out.
    async fn during<T>(
        &mut self,
        stream: &mut dyn ChangeStream,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        futures::pin_mut!(work);
        loop {
            if self.changes.len() >= READ_AHEAD || self.changes.back().is_some_and(Result::is_err) {
                return work.await;
            }
            tokio::select! {
                biased;
                out = &mut work => return out,
                next = stream.next() => self.changes.push_back(next),
            }
        }
    }
}

/// The target side of following: the open target transaction and what it holds.
struct Applier<'a> {
    follow: &'a Follow<'a>,
    tables: HashMap<String, Keyed>,
    /// Row changes of the source transaction being read, not applied yet, and their tables.
    current: Vec<(String, RowChange)>,
    current_tables: HashSet<String>,
    /// Row changes of whole source transactions read before it, not applied yet: they are
    /// applied as one net effect (see [`Merging`]).
    merged: Vec<(String, RowChange)>,
    merged_tables: HashSet<String>,
    /// The transaction in `merged` must be applied on its own.
    merged_alone: bool,
    merging: Merging,
    /// A source transaction is being read (some of its changes read, or applied in segments).
    in_transaction: bool,
    /// Changes of the source transaction being read.
    changes_of_this: u64,
    /// Rejected changes of the source transaction being read.
    rejected: Vec<Reject>,
    /// A target transaction is open.
    open: bool,
    opened_at: Instant,
    /// What the open target transaction adds to the run state once it commits.
    in_open: i64,
    rejects_in_open: i64,
    source_at: Option<u64>,
    /// The position after the last source transaction read, and the one the target holds.
    seen: String,
    recorded: String,
    /// Since when something read waits to be committed (applied or not).
    waiting_since: Option<Instant>,
    /// The run was found cut over when committing: following ends.
    cut_over_seen: bool,
}

impl<'a> Applier<'a> {
    fn new(follow: &'a Follow<'a>, from: &str) -> Applier<'a> {
        let order = pgcutover_plan::load_order(&follow.loaded.schema);
        let tables = follow
            .loaded
            .schema
            .tables
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                Some((
                    t.name.clone(),
                    Keyed {
                        table: Arc::new(t.clone()),
                        key: t.row_key()?,
                        order: order.order.iter().position(|o| *o == t.name).unwrap_or(i),
                        other_uniques: unique_keys(t) > 1,
                        referenced: referenced_columns(&follow.loaded.schema, t)?,
                    },
                ))
            })
            .collect();
        Applier {
            follow,
            tables,
            current: Vec::new(),
            current_tables: HashSet::new(),
            merged: Vec::new(),
            merged_tables: HashSet::new(),
            merged_alone: false,
            merging: Merging::of(&follow.loaded.schema),
            in_transaction: false,
            changes_of_this: 0,
            rejected: Vec::new(),
            open: false,
            opened_at: Instant::now(),
            in_open: 0,
            rejects_in_open: 0,
            source_at: None,
            seen: from.to_owned(),
            recorded: from.to_owned(),
            waiting_since: None,
            cut_over_seen: false,
        }
    }

    fn client(&self) -> &Client {
        self.follow.client
    }

    fn failed(&self, e: impl Into<anyhow::Error>) -> Exit {
        Exit::from(e.into().context(format!(
            "applying the source's changes after {}",
            pgcutover_core::show(&self.seen)
        )))
    }

    async fn begin(&mut self) -> Result<(), Exit> {
        if !self.open {
            // The target's triggers that stand for the source's own behaviour (ON UPDATE
            // CURRENT_TIMESTAMP) stand aside: the changed rows carry what the source made.
            self.client()
                .batch_execute(
                    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL pgcutover.applying = 'on'",
                )
                .await
                .map_err(|e| self.failed(e))?;
            self.open = true;
            self.opened_at = Instant::now();
        }
        Ok(())
    }

    /// A changed row of the source transaction being read. A big transaction is applied in
    /// segments as it streams in (after the transactions before it).
    async fn row(&mut self, table: String, change: RowChange) -> Result<(), Exit> {
        self.in_transaction = true;
        self.changes_of_this += 1;
        if !self.current_tables.contains(&table) {
            self.current_tables.insert(table.clone());
        }
        self.current.push((table, change));
        if self.current.len() >= SEGMENT {
            self.apply_merged().await?;
            let segment = std::mem::take(&mut self.current);
            self.apply(segment).await?;
        }
        Ok(())
    }

    /// The source rolled back the transaction being read: nothing of it is applied. One whose
    /// segments were applied already cannot be taken back alone.
    fn rolled_back(&mut self) -> Result<(), Exit> {
        if self.changes_of_this > self.current.len() as u64 {
            return Err(Exit::new(
                ExitCode::FAILED,
                anyhow!(
                    "the source rolled back a transaction of more than {SEGMENT} changes after {}, which the follower had begun to apply",
                    pgcutover_core::show(&self.seen)
                ),
                Some("copy again with --restart --force --follow".to_owned()),
            ));
        }
        self.current.clear();
        self.current_tables.clear();
        self.rejected.clear();
        self.changes_of_this = 0;
        Ok(())
    }

    /// Applies the whole transactions read and not applied yet.
    async fn apply_merged(&mut self) -> Result<(), Exit> {
        self.merged_tables.clear();
        self.merged_alone = false;
        let merged = std::mem::take(&mut self.merged);
        self.apply(merged).await
    }

    /// Applies `changes` (whole source transactions, or a segment of a big one) in the open
    /// target transaction. The target's foreign keys stay on, so its cascades, on delete and
    /// on update, happen as the source's did; that needs the source's order where a table
    /// loses rows or keys that written rows may have referenced ([`needs_order`]): then the
    /// changes go in runs of one table, in the source's order (and a table that references
    /// itself, a row at a time). Otherwise, per table their net effect: deletions children
    /// first, then moved keys and rows parents first.
    async fn apply(&mut self, changes: Vec<(String, RowChange)>) -> Result<(), Exit> {
        if changes.is_empty() {
            return Ok(());
        }
        self.begin().await?;
        if needs_order(&self.tables, &self.merging, &changes) {
            for run in runs(changes) {
                let itself = self
                    .tables
                    .get(&run[0].0)
                    .is_some_and(|k| references_itself(&k.table));
                if itself {
                    for change in run {
                        self.apply_nets(vec![change]).await?;
                    }
                } else {
                    self.apply_nets(run).await?;
                }
            }
        } else {
            self.apply_nets(changes).await?;
        }
        testpoint::hit("follow-applied");
        Ok(())
    }

    /// Applies `changes` as one net effect per table: deletions children first, then moved
    /// keys and rows parents first. A table with a unique key besides its row key whose net
    /// effect collides with itself (two rows that swap values, which the source did one
    /// statement at a time) is applied again a change at a time, in the source's order.
    async fn apply_nets(&self, changes: Vec<(String, RowChange)>) -> Result<(), Exit> {
        let mut per_table: HashMap<String, Vec<RowChange>> = HashMap::new();
        for (table, change) in changes {
            per_table.entry(table).or_default().push(change);
        }
        let mut nets: Vec<(&Keyed, Net, Option<Vec<RowChange>>)> = per_table
            .into_iter()
            .filter_map(|(name, changes)| {
                let keyed = self.tables.get(&name)?;
                // A unique key (the row key too, where keys swap) checked row by row may
                // collide within a net effect the source reached a statement at a time.
                let collides =
                    keyed.other_uniques || changes.iter().any(|c| moves_key(c, &keyed.key));
                let again = (collides && changes.len() > 1).then(|| changes.clone());
                Some((keyed, Net::of(changes, &keyed.key), again))
            })
            .collect();
        nets.sort_by_key(|(k, _, _)| k.order);
        let (client, schema) = (self.follow.client, self.follow.schema_name);
        for phase in [Phase::Deletes, Phase::Writes] {
            let ordered: Vec<&(&Keyed, Net, Option<Vec<RowChange>>)> = match phase {
                Phase::Deletes => nets.iter().rev().collect(),
                Phase::Writes => nets.iter().collect(),
            };
            for (keyed, net, again) in ordered {
                let Some(again) = again.as_ref().filter(|_| phase == Phase::Writes) else {
                    apply(client, schema, &keyed.table, &keyed.key, net, phase)
                        .await
                        .map_err(|e| self.failed(e))?;
                    continue;
                };
                self.apply_or_one_by_one(keyed, net, again).await?;
            }
        }
        Ok(())
    }

    /// The writes of `net`; where they collide with a unique key, `changes` (what `net` was
    /// made of) a change at a time instead. Deletions applied before are applied again, which
    /// changes nothing.
    async fn apply_or_one_by_one(
        &self,
        keyed: &Keyed,
        net: &Net,
        changes: &[RowChange],
    ) -> Result<(), Exit> {
        let (client, schema) = (self.follow.client, self.follow.schema_name);
        let sql = |s: &'static str| async move {
            client.batch_execute(s).await.map_err(|e| self.failed(e))
        };
        sql("SAVEPOINT pgcutover_net").await?;
        match apply(client, schema, &keyed.table, &keyed.key, net, Phase::Writes).await {
            Ok(()) => return sql("RELEASE SAVEPOINT pgcutover_net").await,
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {}
            Err(e) => return Err(self.failed(e)),
        }
        sql("ROLLBACK TO SAVEPOINT pgcutover_net; RELEASE SAVEPOINT pgcutover_net").await?;
        for change in changes {
            let one = Net::of([change.clone()], &keyed.key);
            for phase in [Phase::Deletes, Phase::Writes] {
                apply(client, schema, &keyed.table, &keyed.key, &one, phase)
                    .await
                    .map_err(|e| self.failed(e))?;
            }
        }
        Ok(())
    }

    /// The source transaction being read committed at `position`: its changes join the
    /// transactions waiting to be applied (or, where a foreign key relates its tables to
    /// theirs, those are applied first), its rejects are written. Returns its changes and
    /// rejects.
    async fn end_transaction(
        &mut self,
        position: &str,
        at: Option<u64>,
    ) -> Result<(u64, u64), Exit> {
        if !self.current.is_empty() {
            let alone = self.merging.alone(&self.current_tables)
                || self.current.iter().any(|(table, change)| {
                    self.tables
                        .get(table)
                        .is_some_and(|k| moves_key(change, &k.key))
                });
            let together = !alone
                && !self.merged_alone
                && self.merged.len() + self.current.len() < SEGMENT
                && self
                    .merging
                    .apart(self.merged_tables.iter().chain(&self.current_tables));
            if !together {
                self.apply_merged().await?;
            }
            self.merged.append(&mut self.current);
            self.merged_tables.extend(self.current_tables.drain());
            self.merged_alone = alone;
        }
        let changes = std::mem::take(&mut self.changes_of_this);
        self.in_transaction = false;
        let rejected = std::mem::take(&mut self.rejected);
        if !rejected.is_empty() {
            self.begin().await?;
            for r in &rejected {
                self.follow
                    .rejects
                    .write_followed(r, position)
                    .map_err(|e| {
                        self.failed(anyhow::Error::new(e).context("writing the rejects file"))
                    })?;
                self.follow.observer.warn(&format!(
                    "a changed row cannot arrive exactly (in the transaction ending at {}): {r}",
                    pgcutover_core::show(position)
                ));
            }
        }
        self.in_open += changes as i64;
        self.rejects_in_open += rejected.len() as i64;
        if at.is_some() {
            self.source_at = at;
        }
        self.seen = position.to_owned();
        self.waiting_since.get_or_insert_with(Instant::now);
        Ok((changes, rejected.len() as u64))
    }

    /// Commits what the open target transaction holds with the position after it (or, when
    /// nothing was applied since, records the position the source's log went on to).
    async fn commit(&mut self) -> Result<(), Exit> {
        if self.in_transaction {
            // Inside a source transaction: nothing of it can be committed yet.
            return Ok(());
        }
        self.apply_merged().await?;
        if self.seen == self.recorded && !self.open {
            self.waiting_since = None;
            return Ok(());
        }
        self.begin().await?;
        let applied = Applied {
            changes: self.in_open,
            rejects: self.rejects_in_open,
            source_at: self.source_at.take(),
        };
        if self.rejects_in_open > 0 {
            self.follow.rejects.sync().map_err(|e| {
                self.failed(anyhow::Error::new(e).context("writing the rejects file"))
            })?;
        }
        let recorded =
            state::followed_to(self.client(), self.follow.schema_name, &self.seen, applied)
                .await
                .map_err(|e| self.failed(e))?;
        if !recorded {
            // Cut over since the last look: cutover verified the target without this.
            self.abandon().await;
            self.cut_over_seen = true;
            return Ok(());
        }
        testpoint::hit("follow-before-commit");
        self.client()
            .batch_execute("COMMIT")
            .await
            .map_err(|e| self.failed(e))?;
        self.open = false;
        self.in_open = 0;
        self.rejects_in_open = 0;
        self.recorded = self.seen.clone();
        self.waiting_since = None;
        testpoint::hit("follow-committed");
        Ok(())
    }

    /// A TRUNCATE of a followed table, in a target transaction of its own with the position
    /// after it. A table other tables' foreign keys reference stops following: the source
    /// emptied it without them (FOREIGN_KEY_CHECKS=0), and PostgreSQL empties such a table
    /// only with them (CASCADE), which the source did not do.
    async fn truncate(&mut self, table: &str, position: &str) -> Result<(), Exit> {
        let at = format!("the TRUNCATE of {} at {position}", show_ident(table));
        if self.in_transaction {
            return Err(Exit::new(
                ExitCode::FAILED,
                anyhow!("row changes of an uncommitted transaction come before {at} in the binary log"),
                Some("this is not a binary log pgcutover knows how to follow; copy again with --restart --force --follow".to_owned()),
            ));
        }
        self.commit().await?;
        self.begin().await?;
        let emptied = self
            .client()
            .batch_execute(&format!(
                "TRUNCATE ONLY {}",
                quote_qualified(self.follow.schema_name, table)
            ))
            .await;
        if let Err(e) = emptied {
            let referenced =
                e.code() == Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED);
            let e = anyhow::Error::new(e).context(format!("applying {at}"));
            return Err(if referenced {
                Exit::new(
                    ExitCode::FAILED,
                    e,
                    Some(format!(
                        "other tables' foreign keys reference {}: the source emptied it without them (FOREIGN_KEY_CHECKS=0), which PostgreSQL's foreign keys do not allow. Empty or fix the referencing rows in the source as well, then copy again with --restart --force --follow",
                        show_ident(table)
                    )),
                )
            } else {
                Exit::from(e)
            });
        }
        self.in_open += 1;
        self.seen = position.to_owned();
        self.commit().await
    }

    async fn rollback(&mut self) {
        if self.open {
            let _ = self.client().batch_execute("ROLLBACK").await;
            self.open = false;
        }
    }

    /// Drops what was read and not committed: the open target transaction, and what waits.
    async fn abandon(&mut self) {
        self.rollback().await;
        self.waiting_since = None;
        self.in_open = 0;
        self.rejects_in_open = 0;
        self.merged.clear();
        self.merged_tables.clear();
        self.current.clear();
        self.current_tables.clear();
    }

    /// Whether the run was cut over (by `cutover`, from another process). Asked in the open
    /// target transaction, if one is: it sees what others committed.
    async fn cut_over(&self) -> Result<bool, Exit> {
        state::cut_over_at(self.client(), self.follow.schema_name)
            .await
            .map(|c| c.is_some())
            .map_err(|e| self.failed(e))
    }

    /// Records where the source's log ends and how far behind it the follower is. A source
    /// that cannot say now is asked again next time.
    async fn look(&self, rate: f64) {
        if self.open {
            return;
        }
        let Ok(Some(head)) = self
            .follow
            .loaded
            .reads
            .change_log_head(Some(&self.recorded))
            .await
        else {
            return;
        };
        let _ = state::followed_head(
            self.client(),
            self.follow.schema_name,
            &head.position,
            head.behind_bytes.and_then(|b| i64::try_from(b).ok()),
            rate,
        )
        .await;
    }
}

/// When consecutive source transactions may be applied as one net effect, which is what
/// applying them one by one would leave:
/// - tables that foreign keys connect (directly or through others) are never in one merged
///   set together: the order of their changes across transactions matters to the target's
///   cascades and checks (a child inserted, then its grandparent deleted);
/// - a table that references itself, or has a unique key besides its row key, is applied a
///   transaction at a time (unique keys are checked row by row, and a swap of values across
///   transactions would collide in one statement);
/// - so is a transaction that changes a row's key.
struct Merging {
    /// Per table, the foreign-key-connected group it belongs to.
    group: HashMap<String, usize>,
    alone: HashSet<String>,
}

impl Merging {
    fn of(schema: &pgcutover_core::Schema) -> Merging {
        let index: HashMap<&str, usize> = schema
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let mut parent: Vec<usize> = (0..schema.tables.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        let mut alone = HashSet::new();
        for (i, t) in schema.tables.iter().enumerate() {
            if unique_keys(t) > 1 {
                alone.insert(t.name.clone());
            }
            for fk in &t.foreign_keys {
                if fk.ref_table == t.name {
                    alone.insert(t.name.clone());
                }
                if let Some(&j) = index.get(fk.ref_table.as_str()) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
            }
        }
        let group = schema
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), root(&mut parent, i)))
            .collect();
        Merging { group, alone }
    }

    /// Whether a transaction over `tables` must be applied on its own.
    fn alone(&self, tables: &HashSet<String>) -> bool {
        tables.iter().any(|t| self.alone.contains(t))
    }

    /// Whether foreign keys connect tables `a` and `b`, directly or through others.
    fn connected(&self, a: &str, b: &str) -> bool {
        matches!((self.group.get(a), self.group.get(b)), (Some(x), Some(y)) if x == y)
    }

    /// Whether no two different tables among `tables` are connected by foreign keys.
    fn apart<'t>(&self, tables: impl Iterator<Item = &'t String>) -> bool {
        let mut seen: HashMap<usize, &String> = HashMap::new();
        for t in tables {
            if let Some(&g) = self.group.get(t) {
                if seen.insert(g, t).is_some_and(|other| other != t) {
                    return false;
                }
            }
        }
        true
    }
}

/// How many unique keys a table has, its primary key included.
fn unique_keys(t: &Table) -> usize {
    usize::from(t.primary_key.is_some())
        + t.uniques.len()
        + t.indexes.iter().filter(|x| x.unique).count()
}

fn references_itself(t: &Table) -> bool {
    t.foreign_keys.iter().any(|fk| fk.ref_table == t.name)
}

/// Whether `changes` must be applied in the source's order rather than as net effects,
/// deletions first: some table loses rows or referenced values (deleted, or a key or a
/// referenced column changed) while another table that foreign keys connect to it, directly or
/// through others, has rows written (or the same table, where it references itself). In the
/// source, those rows may have stopped referencing the lost ones first (orders moved to
/// another customer, then the customer's region deleted: its ON DELETE CASCADE reaches
/// nothing), or been written before a referenced value changed (an order inserted, then its
/// customer's code changed: ON UPDATE CASCADE moves it too). Connected through any foreign key,
/// whatever its actions: a cascade can go through a table the transaction does not touch.
fn needs_order(
    tables: &HashMap<String, Keyed>,
    merging: &Merging,
    changes: &[(String, RowChange)],
) -> bool {
    let mut loses: HashSet<&str> = HashSet::new();
    let mut writes: HashSet<&str> = HashSet::new();
    for (table, change) in changes {
        let Some(keyed) = tables.get(table) else {
            continue;
        };
        match change {
            RowChange::Delete(_) => {
                loses.insert(table);
            }
            RowChange::Insert(_) => {
                writes.insert(table);
            }
            RowChange::Update { before, after } => {
                writes.insert(table);
                if keyed.referenced.iter().any(|&i| before[i] != after[i]) {
                    loses.insert(table);
                }
            }
        }
    }
    loses.iter().any(|lost| {
        writes.iter().any(|written| {
            if lost == written {
                tables
                    .get(*written)
                    .is_some_and(|k| references_itself(&k.table))
            } else {
                merging.connected(lost, written)
            }
        })
    })
}

/// The positions, among `t`'s copied columns, of its row key's columns and of every column a
/// foreign key of the schema references in it. `None` for a table without a row key.
fn referenced_columns(schema: &pgcutover_core::Schema, t: &Table) -> Option<Vec<usize>> {
    let copied = t.copied_names();
    let mut positions = t.row_key()?;
    for fk in schema
        .tables
        .iter()
        .flat_map(|other| &other.foreign_keys)
        .filter(|fk| fk.ref_table == t.name)
    {
        for c in &fk.ref_columns {
            if let Some(i) = copied.iter().position(|n| n == c) {
                positions.push(i);
            }
        }
    }
    positions.sort_unstable();
    positions.dedup();
    Some(positions)
}

/// `changes` cut into runs of consecutive changes of one table, in order.
fn runs(changes: Vec<(String, RowChange)>) -> Vec<Vec<(String, RowChange)>> {
    let mut runs: Vec<Vec<(String, RowChange)>> = Vec::new();
    for change in changes {
        match runs.last_mut() {
            Some(run) if run[0].0 == change.0 => run.push(change),
            _ => runs.push(vec![change]),
        }
    }
    runs
}

/// Whether an update gives its row another key.
fn moves_key(change: &RowChange, key: &[usize]) -> bool {
    match change {
        RowChange::Update { before, after } => key.iter().any(|&k| before[k] != after[k]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgcutover_core::{FkAction, ForeignKey, Key, Schema, Table};

    fn key(columns: &[&str]) -> Key {
        Key {
            name: String::new(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn table(name: &str, refs: &[&str], extra_unique: bool) -> Table {
        Table {
            source_name: name.to_owned(),
            name: name.to_owned(),
            columns: Vec::new(),
            primary_key: Some(key(&["id"])),
            uniques: if extra_unique {
                vec![key(&["code"])]
            } else {
                Vec::new()
            },
            indexes: Vec::new(),
            foreign_keys: refs
                .iter()
                .map(|r| ForeignKey {
                    name: format!("{name}_{r}"),
                    columns: vec!["ref".to_owned()],
                    ref_table: r.to_string(),
                    ref_columns: vec!["id".to_owned()],
                    on_delete: FkAction::Cascade,
                    on_update: FkAction::Cascade,
                })
                .collect(),
            checks: Vec::new(),
            source_rows: None,
            comment: None,
        }
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn transactions_merge_only_over_tables_no_foreign_key_connects() {
        let schema = Schema {
            tables: vec![
                table("a", &["b"], false),
                table("b", &["c"], false),
                table("c", &[], false),
                table("notes", &[], false),
                table("tree", &["tree"], false),
                table("coded", &[], true),
            ],
            ..Schema::default()
        };
        let m = Merging::of(&schema);
        assert!(m.apart(names(&["a", "a"]).iter()));
        assert!(m.apart(names(&["a", "notes"]).iter()));
        // a references b, which references c: a and c are connected through b.
        assert!(!m.apart(names(&["a", "c"]).iter()));
        assert!(!m.apart(names(&["b", "c"]).iter()));
        let set = |n: &[&str]| names(n).into_iter().collect::<HashSet<_>>();
        assert!(m.alone(&set(&["tree"])));
        assert!(m.alone(&set(&["coded", "notes"])));
        assert!(!m.alone(&set(&["a", "notes"])));
    }

    #[test]
    fn order_matters_where_a_written_rows_table_references_one_that_loses_rows() {
        use pgcutover_core::Value;
        // orders → customer → region; notes stands alone.
        let schema = Schema {
            tables: vec![
                table("region", &[], false),
                table("customer", &["region"], false),
                table("orders", &["customer"], false),
                table("notes", &[], false),
            ],
            ..Schema::default()
        };
        let merging = Merging::of(&schema);
        let tables: HashMap<String, Keyed> = schema
            .tables
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    Keyed {
                        key: vec![0],
                        order: 0,
                        other_uniques: false,
                        referenced: vec![0],
                        table: Arc::new(t.clone()),
                    },
                )
            })
            .collect();
        let needs_order = |changes: &[(String, RowChange)]| needs_order(&tables, &merging, changes);
        let row = |id: i64| vec![Value::I64(id), Value::I64(1)];
        let change = |t: &str, c: RowChange| (t.to_owned(), c);
        let moved = RowChange::Update {
            before: row(1),
            after: row(2),
        };
        let updated = || RowChange::Update {
            before: row(1),
            after: vec![Value::I64(1), Value::I64(2)],
        };
        // Orders re-pointed, then their customer deleted (or its key moved): in order.
        let merge = [
            change("orders", updated()),
            change("customer", RowChange::Delete(row(1))),
        ];
        assert!(needs_order(&merge));
        // …through a table the transaction does not touch: a region's delete cascades.
        assert!(needs_order(&[
            change("orders", updated()),
            change("region", RowChange::Delete(row(1))),
        ]));
        assert!(needs_order(&[
            change("orders", RowChange::Insert(row(3))),
            change("customer", moved)
        ]));
        // A table no key relates to the lost rows' table: net effects.
        assert!(!needs_order(&[
            change("notes", updated()),
            change("customer", RowChange::Delete(row(1)))
        ]));
        assert!(!needs_order(&[
            change("orders", updated()),
            change("customer", updated())
        ]));
        let cut = runs(vec![
            change("orders", updated()),
            change("orders", updated()),
            change("customer", updated()),
            change("orders", updated()),
        ]);
        let cut: Vec<Vec<&str>> = cut
            .iter()
            .map(|r| r.iter().map(|(t, _)| t.as_str()).collect())
            .collect();
        assert_eq!(
            cut,
            [vec!["orders", "orders"], vec!["customer"], vec!["orders"]]
        );
    }

    #[test]
    fn a_changed_key_is_a_move() {
        use pgcutover_core::Value;
        let update = |from: i64, to: i64| RowChange::Update {
            before: vec![Value::I64(from), Value::Text("x".into())],
            after: vec![Value::I64(to), Value::Text("y".into())],
        };
        assert!(moves_key(&update(1, 2), &[0]));
        assert!(!moves_key(&update(1, 1), &[0]));
        assert!(!moves_key(&RowChange::Insert(vec![Value::I64(1)]), &[0]));
    }
}
