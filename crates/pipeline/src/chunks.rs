//! The data phase: every table cut into chunks, each chunk copied and checkpointed in one
//! PostgreSQL transaction.
//!
//! A table with a single integer key is cut into key ranges of about `--chunk-rows` rows;
//! any other table is one chunk, a unit, emptied and loaded in the same transaction. Each
//! chunk's COPY and the mark that it is done commit together, so after any interruption a
//! chunk is either wholly in, and marked, or not there at all; a resumed run copies the
//! chunks that are not marked.
//!
//! `--jobs` workers take chunks from a queue, group by group: a full copy is one group (no
//! constraints exist yet); a data-only load goes group by group in foreign-key order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, Context};
use futures::StreamExt;
use pgcutover_core::range::{split_range, KeyRange, SplitKey};
use pgcutover_core::source::SourceError;
use pgcutover_core::{quote_qualified, show_ident, show_qualified, Reject, Schema, Table};
use pgcutover_postgres::{load, Target};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::cancel::Cancel;
use crate::exit::{Exit, ExitCode};
use crate::observe::{Observer, Progress};
use crate::readers::{Batch, ReadJob, ReaderOutcome, Readers};
use crate::rejects::RejectLog;
use crate::retry::{classify, Fault, Retrying, Tried};
use crate::source::Loaded;
use crate::state::{self, ChunkDone, ChunkPlan};
use crate::testpoint;

/// Batches in flight per chunk between reader and writer.
const CHANNEL_BATCHES: usize = 2;

/// Cuts a table into chunks: key ranges of about `chunk_rows` rows when it has a single
/// integer key, else one unit.
pub fn plan(table: &Table, split: Option<&SplitKey>, chunk_rows: u64) -> Vec<ChunkPlan> {
    let Some(k) = split else {
        return vec![ChunkPlan {
            table: table.name.clone(),
            chunk: 0,
            range: KeyRange::ALL,
            unit: true,
        }];
    };
    let rows = table.source_rows.unwrap_or(0);
    let parts = rows.div_ceil(chunk_rows.max(1)).max(1) as usize;
    split_range(k.min, k.max, parts)
        .into_iter()
        .enumerate()
        .map(|(i, range)| ChunkPlan {
            table: table.name.clone(),
            chunk: i as i32,
            range,
            unit: false,
        })
        .collect()
}

/// Tables loaded together: each group's chunks all finish before the next group starts.
#[derive(Debug, Clone)]
pub struct Group {
    pub tables: Vec<String>,
    /// Load with triggers (and so foreign-key checks) off: tables in a foreign-key cycle or
    /// that reference themselves, in a data-only load. Their keys are checked afterwards.
    pub replica: bool,
}

/// A chunk that failed for good (PostgreSQL refused its COPY, or its source rows could not be
/// read): rolled back and left to do, while the rest of the run goes on.
#[derive(Debug, Clone)]
pub struct ChunkFailure {
    pub table: String,
    pub chunk: i32,
    /// What failed, PostgreSQL's message included.
    pub error: String,
}

/// How the data phase ended.
#[derive(Debug)]
pub enum Ended {
    Done,
    /// Stopped by a signal, or a fault outlasted its retries; the run is resumable.
    Interrupted(String),
}

pub struct Loader<'a> {
    pub target: &'a Target,
    pub schema_name: &'a str,
    pub state_key: &'a str,
    pub loaded: &'a Arc<Loaded>,
    pub readers: &'a Readers,
    pub batch_rows: usize,
    pub jobs: usize,
    pub retries: u32,
    /// A data-only load empties a unit with DELETE (TRUNCATE cannot run on a table other
    /// tables reference); a full copy TRUNCATEs.
    pub data_only: bool,
    pub rejects: &'a Arc<RejectLog>,
    pub observer: &'a dyn Observer,
    pub cancel: &'a Cancel,
    /// Rows committed by this invocation.
    pub committed: AtomicU64,
    /// Chunks that failed for good in this invocation.
    pub failed: Mutex<Vec<ChunkFailure>>,
    /// A full copy's per-table post-load steps, which start as soon as their table's rows are
    /// in: a worker runs one before its next chunk.
    pub early: Option<&'a crate::post_load::Early<'a>>,
}

/// A chunk being copied by a worker, counted while it is (however the worker leaves it).
struct Copying<'a>(&'a AtomicUsize);

impl<'a> Copying<'a> {
    fn start(count: &'a AtomicUsize) -> Copying<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Copying(count)
    }
}

impl Drop for Copying<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What streaming one chunk into COPY did, before anything is decided.
struct Streamed {
    /// Rows PostgreSQL took, or why the COPY failed.
    copied: Result<u64, load::CopyError<String>>,
    /// How the reader ended.
    read: anyhow::Result<ReaderOutcome>,
    bytes: u64,
    /// Rows sent to the COPY (counted into the table's progress).
    sent: u64,
}

/// Per table: its progress bar and what is left of it.
struct Track {
    progress: Mutex<Option<Box<dyn Progress>>>,
    rows: AtomicU64,
    left: AtomicUsize,
    warned: AtomicBool,
    /// Chunks of the table that failed in this invocation.
    failed: AtomicUsize,
    started: Instant,
}

impl Track {
    /// Counts a chunk of the table as ended (done or failed); true for its last one, whose end
    /// also ends the progress bar.
    fn chunk_ended(&self) -> bool {
        if self.left.fetch_sub(1, Ordering::Relaxed) != 1 {
            return false;
        }
        if let Some(p) = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            p.finish();
        }
        true
    }
}

/// Why a chunk did not commit.
struct ChunkError {
    error: anyhow::Error,
    fault: Fault,
    hint: Option<String>,
    /// A fatal fault that is not this chunk's own (see [`rows_refused`]): the run stops, as
    /// every other chunk would meet it too. A chunk's own fails only the chunk.
    whole_run: bool,
}

/// The line (from 1) and column a COPY error's context names: `COPY t, line 2, column v`.
fn copy_place(context: &str) -> Option<(u64, Option<&str>)> {
    let place = context.lines().find(|l| l.starts_with("COPY "))?;
    let after = &place[place.find(", line ")? + 7..];
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    let line = digits.parse().ok()?;
    // `, column NAME` or `, column NAME: "value"`; a name may itself hold ": ".
    let column = after[digits.len()..]
        .strip_prefix(", column ")
        .map(|c| c.rsplit_once(": \"").map_or(c, |(name, _)| name));
    Some((line, column))
}

/// Whether an error is about this chunk's rows, so the other chunks can go on: PostgreSQL
/// refused them (a data exception, class 22; an integrity constraint, 23, deferred ones at
/// COMMIT included; a trigger's exception, P0; a value too big for an index, 54), or the
/// source could not read them (an error the server or SQLite gave for this table). A login
/// refused, a permission denied, a full disk, a timeout, a bug, would fail every chunk alike.
fn rows_refused(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if let Some(code) = cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
        {
            return ["22", "23", "P0", "54"]
                .iter()
                .any(|class| code.code().starts_with(class));
        }
        cause
            .downcast_ref::<SourceError>()
            .is_some_and(|e| e.rows_only)
    })
}

impl ChunkError {
    fn new(error: anyhow::Error) -> ChunkError {
        ChunkError {
            fault: classify(&error),
            whole_run: !rows_refused(&error),
            error,
            hint: None,
        }
    }

    fn whole_run(error: anyhow::Error) -> ChunkError {
        ChunkError {
            whole_run: true,
            ..ChunkError::new(error)
        }
    }
}

/// A full copy's load: one group of every table, biggest first (which packs the workers best).
pub fn biggest_first(schema: &Schema) -> Vec<Group> {
    let mut idx: Vec<usize> = (0..schema.tables.len()).collect();
    idx.sort_by_key(|&i| std::cmp::Reverse(schema.tables[i].source_rows.unwrap_or(0)));
    vec![Group {
        tables: idx
            .into_iter()
            .map(|i| schema.tables[i].name.clone())
            .collect(),
        replica: false,
    }]
}

/// What the data phase did in this invocation.
#[derive(Debug)]
pub struct DataPhase {
    /// Chunks earlier attempts had done, which this one skipped.
    pub chunks_skipped: usize,
    pub ended: Ended,
    /// Rows this invocation committed (the rest came from earlier attempts).
    pub rows_committed: u64,
    /// Chunks that failed for good in this invocation.
    pub failures: Vec<ChunkFailure>,
}

impl DataPhase {
    /// Records in the run state why each failed chunk failed (`status` and the report show it).
    pub async fn record_failures(&self, client: &Client, state_key: &str) -> Result<(), Exit> {
        for f in &self.failures {
            state::chunk_failed(client, state_key, &f.table, f.chunk, &f.error)
                .await
                .context("recording a failed chunk")?;
        }
        Ok(())
    }
}

/// The data phase of a copy: the chunks the run state says are not done, through `loader`
/// (`None`: no readers, as nothing is left to read), group by group, in the groups' order of
/// tables; a table's chunks stay in key order.
pub async fn copy_pending(
    client: &Client,
    state_key: &str,
    loader: Option<Loader<'_>>,
    groups: &[Group],
) -> Result<DataPhase, Exit> {
    let chunks = state::chunks(client, state_key).await?;
    let mut done_rows: HashMap<String, u64> = HashMap::new();
    let mut pending = Vec::new();
    for c in &chunks {
        match &c.done {
            Some(d) => *done_rows.entry(c.plan.table.clone()).or_default() += d.rows_written as u64,
            None => pending.push(c.plan.clone()),
        }
    }
    let mut phase = DataPhase {
        chunks_skipped: chunks.len() - pending.len(),
        ended: Ended::Done,
        rows_committed: 0,
        failures: Vec::new(),
    };
    if let (Some(loader), false) = (loader, pending.is_empty()) {
        let order: HashMap<&str, usize> = groups
            .iter()
            .flat_map(|g| g.tables.iter())
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        pending.sort_by_key(|c| (order.get(c.table.as_str()).copied(), c.chunk));
        phase.ended = loader.run(groups, pending, &done_rows).await?;
        phase.rows_committed = loader.committed.into_inner();
        phase.failures = loader
            .failed
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
    }
    Ok(phase)
}

impl Loader<'_> {
    /// Copies `pending` chunks, group by group. `done_rows` holds the rows earlier attempts
    /// loaded, per table, for the progress bars.
    pub async fn run(
        &self,
        groups: &[Group],
        pending: Vec<ChunkPlan>,
        done_rows: &HashMap<String, u64>,
    ) -> Result<Ended, Exit> {
        let mut tracks: HashMap<String, Arc<Track>> = HashMap::new();
        for c in &pending {
            let t = tracks.entry(c.table.clone()).or_insert_with(|| {
                Arc::new(Track {
                    progress: Mutex::new(None),
                    rows: AtomicU64::new(done_rows.get(&c.table).copied().unwrap_or(0)),
                    left: AtomicUsize::new(0),
                    warned: AtomicBool::new(false),
                    failed: AtomicUsize::new(0),
                    started: Instant::now(),
                })
            });
            t.left.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(early) = self.early {
            early.rows_pending(tracks.keys());
        }
        let mut pending = pending;
        for group in groups {
            let (mine, rest): (Vec<ChunkPlan>, Vec<ChunkPlan>) = pending
                .into_iter()
                .partition(|c| group.tables.contains(&c.table));
            pending = rest;
            if mine.is_empty() {
                continue;
            }
            if let Ended::Interrupted(why) = self.run_group(group, mine, &tracks).await? {
                return Ok(Ended::Interrupted(why));
            }
        }
        Ok(Ended::Done)
    }

    async fn run_group(
        &self,
        group: &Group,
        chunks: Vec<ChunkPlan>,
        tracks: &HashMap<String, Arc<Track>>,
    ) -> Result<Ended, Exit> {
        let workers = self.jobs.clamp(1, chunks.len());
        let queue = Arc::new(Mutex::new(VecDeque::from(chunks)));
        let stop = AtomicBool::new(false);
        let copying = AtomicUsize::new(0);
        let results = futures::future::join_all(
            (0..workers).map(|_| self.worker(group, &queue, tracks, &stop, &copying)),
        )
        .await;
        let mut interrupted = None;
        for r in results {
            match r {
                Ok(Ended::Done) => {}
                Ok(Ended::Interrupted(why)) => {
                    interrupted.get_or_insert(why);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(match interrupted {
            Some(why) => Ended::Interrupted(why),
            None => Ended::Done,
        })
    }

    async fn worker(
        &self,
        group: &Group,
        queue: &Mutex<VecDeque<ChunkPlan>>,
        tracks: &HashMap<String, Arc<Track>>,
        stop: &AtomicBool,
        copying: &AtomicUsize,
    ) -> Result<Ended, Exit> {
        let mut client: Option<Client> = None;
        loop {
            if let Some(signal) = self.cancel.reason() {
                return Ok(Ended::Interrupted(format!("stopped by {signal}")));
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(Ended::Done);
            }
            // A table's own steps overlap the copy of others (and the steps of others, which
            // may wait on a lock); once every chunk is in and no such step runs, what is left
            // goes to post-load, which runs it on every connection at once.
            let data_left = !queue.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
                || copying.load(Ordering::Relaxed) > 0
                || self.early.is_some_and(|e| e.running());
            if let Some(ran) = match self.early {
                Some(early) if data_left => early.run_next(&mut client).await,
                _ => None,
            } {
                if let Err(why) = ran {
                    stop.store(true, Ordering::Relaxed);
                    return Ok(Ended::Interrupted(why));
                }
                continue;
            }
            let Some(chunk) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                // No chunk left to take: while others still copy (or run such steps), steps may
                // become ready or free, and this worker takes them rather than leave them to one.
                let others_busy =
                    copying.load(Ordering::Relaxed) > 0 || self.early.is_some_and(|e| e.running());
                if self.early.is_some() && others_busy {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
                return Ok(Ended::Done);
            };
            let _copying = Copying::start(copying);
            let track = &tracks[&chunk.table];
            let what = format!("chunk {} of {}", chunk.chunk, show_ident(&chunk.table));
            let retrying = Retrying {
                retries: self.retries,
                cancel: self.cancel,
                observer: self.observer,
            };
            let tried = retrying
                .run(
                    &what,
                    &mut client,
                    async || {
                        self.target
                            .connect()
                            .await
                            .map_err(|e| ChunkError::new(anyhow::Error::new(e)))
                    },
                    async |c: &Client| self.copy_chunk(c, group, &chunk, track).await,
                    |e: &ChunkError| e.fault,
                    |e: &ChunkError| crate::exit::error_chain(&e.error),
                )
                .await;
            let done = match tried {
                Tried::Done(done) => Ok(done),
                Tried::Cancelled => {
                    // Dropping the connection rolled back the chunk in flight.
                    stop.store(true, Ordering::Relaxed);
                    return Ok(Ended::Interrupted(format!(
                        "stopped by {}",
                        self.cancel.reason().unwrap_or("a signal")
                    )));
                }
                Tried::Failed {
                    error: e,
                    fault: Fault::Transient | Fault::Resumable,
                    tries,
                } => {
                    stop.store(true, Ordering::Relaxed);
                    let tries = if e.fault == Fault::Transient {
                        format!(" after {tries} tries")
                    } else {
                        String::new()
                    };
                    return Ok(Ended::Interrupted(format!(
                        "{what} failed{tries}: {}",
                        crate::exit::error_chain(&e.error)
                    )));
                }
                Tried::Failed { error: e, .. } if e.whole_run => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(Exit::new(
                        ExitCode::FAILED,
                        e.error.context(format!("{what} was rolled back")),
                        e.hint,
                    ));
                }
                // This chunk's rows cannot go in as they are: it is rolled back and left to
                // do, and every other chunk goes on.
                Tried::Failed { error: e, .. } => Err(e),
            };
            let done = match done {
                Ok(done) => done,
                Err(e) => {
                    self.chunk_failed(&chunk, track, e);
                    continue;
                }
            };
            self.committed
                .fetch_add(done.rows_written as u64, Ordering::Relaxed);
            self.chunk_finished(&chunk, track, &done);
        }
    }

    /// One chunk in one transaction: (empty a unit,) COPY, mark done, COMMIT.
    async fn copy_chunk(
        &self,
        client: &Client,
        group: &Group,
        chunk: &ChunkPlan,
        track: &Track,
    ) -> Result<ChunkDone, ChunkError> {
        let table = self
            .loaded
            .schema
            .tables
            .iter()
            .position(|t| t.name == chunk.table)
            .expect("chunks are planned from the schema's tables");
        let t = &self.loaded.schema.tables[table];
        let started = Instant::now();
        client
            .batch_execute(&self.begin_sql(group, chunk, t))
            .await
            .map_err(|e| ChunkError::new(anyhow::Error::new(e)))?;
        let streamed = self.stream(client, table, chunk, track).await;
        let sent = streamed.sent;
        match self.settle(client, table, chunk, streamed, started).await {
            Ok((done, first_reject)) => {
                testpoint::hit("chunk-committed");
                self.warn_first_reject(t, track, first_reject);
                Ok(done)
            }
            Err(e) => {
                // The rows this attempt sent are not in unless it committed.
                track.rows.fetch_sub(sent, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Reads the chunk's rows on the source's reader and streams them into COPY, counting
    /// them into the table's progress as they go.
    async fn stream(
        &self,
        client: &Client,
        table: usize,
        chunk: &ChunkPlan,
        track: &Track,
    ) -> Streamed {
        let t = &self.loaded.schema.tables[table];
        let (tx, mut rx) = mpsc::channel::<Result<Batch, String>>(CHANNEL_BATCHES);
        let reader = self.readers.read(
            self.loaded,
            ReadJob {
                index: table,
                range: chunk.range,
                chunk: chunk.chunk,
                batch_rows: self.batch_rows,
                find: None,
            },
            self.rejects,
            tx,
        );
        self.show_progress(t, track);
        let bytes = AtomicU64::new(0);
        let sent = AtomicU64::new(0);
        let batches = futures::stream::poll_fn(|cx| rx.poll_recv(cx)).map(|item| {
            item.map(|b| {
                bytes.fetch_add(b.data.len() as u64, Ordering::Relaxed);
                sent.fetch_add(b.rows, Ordering::Relaxed);
                let rows = track.rows.fetch_add(b.rows, Ordering::Relaxed) + b.rows;
                if let Some(p) = track
                    .progress
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_mut()
                {
                    p.set(rows);
                }
                testpoint::hit("chunk-batch");
                b.data
            })
        });
        let copied = load::copy_batches(client, self.schema_name, t, batches).await;
        // A COPY that failed (a lost connection) leaves batches unread: closing the channel
        // tells a reader blocked on it that the writer is gone, so it stops and returns.
        rx.close();
        let read = reader.await.unwrap_or_else(|_| {
            Err(anyhow!(
                "the reader of {} stopped without a result",
                show_ident(&t.name)
            ))
        });
        Streamed {
            copied,
            read,
            bytes: bytes.load(Ordering::Relaxed),
            sent: sent.load(Ordering::Relaxed),
        }
    }

    /// What the reader and the COPY did must agree (every row read is written or rejected);
    /// then the chunk is marked done and committed. Returns the chunk's first reject.
    async fn settle(
        &self,
        client: &Client,
        table: usize,
        chunk: &ChunkPlan,
        streamed: Streamed,
        started: Instant,
    ) -> Result<(ChunkDone, Option<Reject>), ChunkError> {
        let t = &self.loaded.schema.tables[table];
        let outcome = streamed.read.map_err(|e| {
            ChunkError::new(e.context(format!(
                "reading {} from the source",
                show_ident(&t.source_name)
            )))
        })?;
        let written = match streamed.copied {
            Ok(n) => n,
            Err(load::CopyError::Source(msg)) => return Err(ChunkError::new(anyhow!("{msg}"))),
            Err(load::CopyError::Db(e)) => return Err(self.copy_refused(table, chunk, e).await),
        };
        if written + outcome.rejected != outcome.rows_read {
            return Err(ChunkError::new(anyhow!(
                "table {}: read {} rows, rejected {}, but PostgreSQL loaded {}",
                show_ident(&t.name),
                outcome.rows_read,
                outcome.rejected,
                written
            )));
        }
        let zero_dates: BTreeMap<String, u64> = outcome
            .zero_dates
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (t.columns[i].name.clone(), *n))
            .collect();
        let done = ChunkDone {
            rows_read: outcome.rows_read as i64,
            rows_written: written as i64,
            rows_rejected: outcome.rejected as i64,
            zero_dates,
            bytes: streamed.bytes as i64,
            seconds: started.elapsed().as_secs_f64(),
        };
        self.commit_chunk(client, chunk, t, &done, outcome.rejected > 0)
            .await?;
        Ok((done, outcome.first_reject))
    }

    /// PostgreSQL refused the COPY: the error names the row when it can, and says what to do
    /// when trying again would not help.
    async fn copy_refused(
        &self,
        table: usize,
        chunk: &ChunkPlan,
        e: tokio_postgres::Error,
    ) -> ChunkError {
        let t = &self.loaded.schema.tables[table];
        let row = self.refused_row(table, chunk, &e).await;
        let mut err = anyhow::Error::new(e).context(format!(
            "COPY into {}",
            show_qualified(self.schema_name, &t.name)
        ));
        if let Some(row) = row {
            err = err.context(row);
        }
        let mut err = ChunkError::new(err);
        if err.fault == Fault::Fatal {
            err.hint = Some(if self.data_only {
                "the target table's columns or constraints do not accept what the source holds (`pgcutover plan --data-only` shows how each column loads, and its warnings name nullability mismatches); fix that, then run the same command again: it loads only what failed".to_owned()
            } else {
                "if a constraint or trigger added to the target refused the rows, remove it; if the message names a value pgcutover converted, please report it with the table's DDL. Then run the same command again: it loads only what failed".to_owned()
            });
        }
        err
    }

    /// The first row a table rejects is shown once, with where the others are.
    fn warn_first_reject(&self, t: &Table, track: &Track, first: Option<Reject>) {
        let Some(r) = first else { return };
        if !track.warned.swap(true, Ordering::Relaxed) {
            self.observer
                .warn(&format!("rejected {r}\n  hint: {}", r.hint));
            self.observer.warn(&format!(
                "every rejected row of {} is in {}",
                show_ident(&t.name),
                self.rejects.path().display()
            ));
        }
    }

    /// Which row PostgreSQL refused (a constraint, a domain's CHECK, a unique key): its error
    /// names the COPY's line, so the chunk is read again up to that row, for its key.
    async fn refused_row(
        &self,
        table: usize,
        chunk: &ChunkPlan,
        e: &tokio_postgres::Error,
    ) -> Option<String> {
        let db = e.as_db_error()?;
        if !db.code().code().starts_with("23") {
            return None;
        }
        let (line, column) = copy_place(db.where_()?)?;
        // A NOT NULL violation names its column in the error, not in the COPY's context.
        let column = column.or(db.column());
        let t = &self.loaded.schema.tables[table];
        let copied = t.copied_names();
        let value = column.and_then(|c| copied.iter().position(|n| *n == c));
        let (tx, _rx) = mpsc::channel::<Result<Batch, String>>(1);
        let job = ReadJob {
            index: table,
            range: chunk.range,
            chunk: chunk.chunk,
            batch_rows: self.batch_rows,
            find: Some((line, value.unwrap_or(0))),
        };
        let reader = self.readers.read(self.loaded, job, self.rejects, tx);
        let found = reader.await.ok()?.ok()?.first_reject?;
        Some(match value {
            Some(_) => format!(
                "the row {} ({} = {})",
                found.key,
                show_ident(&found.column),
                found.value
            ),
            None => format!("the row {}", found.key),
        })
    }

    /// The chunk's transaction opens: triggers off for a group in a foreign-key cycle, and a
    /// table loaded as one unit emptied first (DELETE in a data-only load, where other tables
    /// may reference it; TRUNCATE otherwise), so a retry starts from nothing.
    fn begin_sql(&self, group: &Group, chunk: &ChunkPlan, t: &Table) -> String {
        let mut begin = String::from("BEGIN");
        if group.replica {
            begin.push_str("; SET LOCAL session_replication_role = replica");
        }
        if chunk.unit {
            let qt = quote_qualified(self.schema_name, &t.name);
            if self.data_only {
                begin.push_str(&format!("; DELETE FROM ONLY {qt}"));
            } else {
                begin.push_str(&format!("; TRUNCATE ONLY {qt}"));
            }
        }
        begin
    }

    /// Marks the chunk done and commits it, its rejects on disk first.
    async fn commit_chunk(
        &self,
        client: &Client,
        chunk: &ChunkPlan,
        t: &Table,
        done: &ChunkDone,
        rejected: bool,
    ) -> Result<(), ChunkError> {
        state::chunk_done(client, self.state_key, chunk, done)
            .await
            .map_err(ChunkError::whole_run)?;
        testpoint::hit("chunk-before-commit");
        if rejected {
            // The rejects are on disk before the chunk that rejected them commits.
            self.rejects
                .sync()
                .with_context(|| {
                    format!("writing the rejects file {}", self.rejects.path().display())
                })
                .map_err(ChunkError::whole_run)?;
        }
        // A deferred constraint of the target's can refuse the rows here.
        client.batch_execute("COMMIT").await.map_err(|e| {
            ChunkError::new(anyhow::Error::new(e).context(format!(
                "committing the COPY into {}",
                show_qualified(self.schema_name, &t.name)
            )))
        })
    }

    fn show_progress(&self, t: &Table, track: &Track) {
        let mut p = track.progress.lock().unwrap_or_else(|p| p.into_inner());
        if p.is_none() {
            let mut bar = self.observer.table(&t.name, t.source_rows);
            bar.set(track.rows.load(Ordering::Relaxed));
            *p = Some(bar);
        }
    }

    /// A chunk that failed for good: said now, kept for the summary, and its table's progress
    /// ends when its last chunk has ended.
    fn chunk_failed(&self, chunk: &ChunkPlan, track: &Track, e: ChunkError) {
        let error = crate::exit::error_chain(&e.error);
        self.observer.warn(&format!(
            "chunk {} of {} FAILED and was rolled back (the other chunks go on): {error}",
            chunk.chunk,
            show_ident(&chunk.table)
        ));
        if let Some(hint) = &e.hint {
            self.observer.warn(&format!("  hint: {hint}"));
        }
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ChunkFailure {
                table: chunk.table.clone(),
                chunk: chunk.chunk,
                error,
            });
        track.failed.fetch_add(1, Ordering::Relaxed);
        if track.chunk_ended() {
            self.report_table_end(chunk, track);
        }
    }

    fn chunk_finished(&self, chunk: &ChunkPlan, track: &Track, done: &ChunkDone) {
        for (col, n) in &done.zero_dates {
            self.observer.warn(&format!(
                "{}.{}: {n} zero date(s) became NULL",
                show_ident(&chunk.table),
                show_ident(col)
            ));
        }
        if track.chunk_ended() {
            self.report_table_end(chunk, track);
            if track.failed.load(Ordering::Relaxed) == 0 {
                if let Some(early) = self.early {
                    early.table_done(&chunk.table);
                }
            }
        }
    }

    /// The line for a table whose last chunk of this invocation has ended.
    fn report_table_end(&self, chunk: &ChunkPlan, track: &Track) {
        let rows = track.rows.load(Ordering::Relaxed);
        let seconds = track.started.elapsed().as_secs_f64();
        let table = show_ident(&chunk.table);
        match track.failed.load(Ordering::Relaxed) {
            0 => self
                .observer
                .info(&format!("copied {table}: {rows} rows in {seconds:.1}s")),
            n => self.observer.warn(&format!(
                "{table}: {rows} rows in, {n} chunk(s) FAILED (see above); {seconds:.1}s"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: u64) -> Table {
        Table {
            source_name: "t".into(),
            name: "t".into(),
            columns: vec![],
            primary_key: None,
            uniques: vec![],
            indexes: vec![],
            foreign_keys: vec![],
            checks: vec![],
            source_rows: Some(rows),
            comment: None,
        }
    }

    #[test]
    fn only_a_chunks_own_rows_fail_it_alone() {
        // The engine says whether its error is about these rows (the MySQL and SQLite crates
        // test which of their errors are).
        let crashed = SourceError::failed("Table 't' is marked as crashed").rows_only(true);
        assert!(rows_refused(
            &anyhow::Error::new(crashed).context("reading \"t\" from the source")
        ));
        let lost = SourceError::cannot_connect("connection refused");
        assert!(!rows_refused(&anyhow::Error::new(lost)));
        // The rejects file, a count that does not add up: every chunk would meet them.
        assert!(!rows_refused(&anyhow::Error::new(std::io::Error::other(
            "disk full"
        ))));
        assert!(!rows_refused(&anyhow!(
            "read 10 rows, rejected 0, but PostgreSQL loaded 9"
        )));
    }

    #[test]
    fn a_copy_error_names_its_line_and_column() {
        assert_eq!(copy_place("COPY t, line 2, column v"), Some((2, Some("v"))));
        assert_eq!(
            copy_place("SQL function\nCOPY \"a b\", line 17"),
            Some((17, None))
        );
        assert_eq!(
            copy_place("COPY t, line 3, column v: \"x\""),
            Some((3, Some("v")))
        );
        assert_eq!(copy_place("PL/pgSQL function f()"), None);
    }

    #[test]
    fn a_keyless_table_is_one_unit() {
        let c = plan(&table(5_000_000), None, 1000);
        assert_eq!(c.len(), 1);
        assert!(c[0].unit);
        assert_eq!(c[0].range, KeyRange::ALL);
    }

    #[test]
    fn a_keyed_table_is_cut_into_ranges_open_at_both_ends() {
        let k = SplitKey {
            column: "id".into(),
            min: 1,
            max: 1000,
        };
        let c = plan(&table(1000), Some(&k), 300);
        assert_eq!(c.len(), 4);
        assert!(c.iter().all(|c| !c.unit));
        assert_eq!(c[0].range.from, None);
        assert_eq!(c[3].range.to, None);
        for w in c.windows(2) {
            assert_eq!(w[0].range.to, w[1].range.from);
        }
        // A small table is one range that still covers every key.
        let one = plan(&table(10), Some(&k), 300);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].range, KeyRange::ALL);
    }
}
