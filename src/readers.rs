//! Source readers: they stream a table's rows, convert them, encode them as binary COPY batches
//! and hand the batches to that table's COPY through a bounded channel.
//!
//! - SQLite: one thread per table (rusqlite is blocking), its own read-only connection.
//! - MySQL: a pool of `--jobs` reader threads, each with its own session opened at the start
//!   (with `--consistent`, all in one snapshot). A table is read as one job, or, when it is
//!   large and has a single-column integer key, as key-range jobs read in parallel that feed the
//!   same COPY.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};

use anyhow::{anyhow, Context};
use bytes::{Bytes, BytesMut};
use mysql_async::prelude::Queryable;
use pgcutover_core::adapt::adapt_row;
use pgcutover_core::policy::{problem, ValuePolicy};
use pgcutover_core::range::KeyRange;
use pgcutover_core::{show_ident, Reject, RowOutcome, RowSink, Value};
use pgcutover_mysql::MysqlSource;
use pgcutover_postgres::copy_encoder;
use tokio::sync::{mpsc, oneshot};

use crate::exit::{Exit, ExitCode};
use crate::rejects::RejectLog;
use crate::retry::ResumableError;
use crate::source::{mysql_connect, Loaded, TableAdapters};

/// A batch is sent when it holds `--batch-rows` rows or this many bytes, whichever comes first,
/// so memory stays bounded in bytes however wide the rows are.
const BATCH_BYTES: usize = 4 << 20;

/// Encoded rows on their way from a reader to its COPY.
pub struct Batch {
    pub data: Bytes,
    pub rows: u64,
}

pub type BatchSender = mpsc::Sender<Result<Batch, String>>;

/// What one reader did.
#[derive(Debug, Default)]
pub struct ReaderOutcome {
    pub rows_read: u64,
    pub rejected: u64,
    pub first_reject: Option<Reject>,
    /// Per column: zero dates that became NULL.
    pub zero_dates: Vec<u64>,
}

/// Encodes converted rows into binary COPY batches and hands them to the writer.
struct BatchingSink<'a> {
    buf: BytesMut,
    rows_in_buf: usize,
    batch_rows: usize,
    tx: BatchSender,
    rejects: &'a RejectLog,
    /// The chunk rows are read for, which tags each reject in the rejects file.
    chunk: i32,
    rejected: u64,
    first_reject: Option<Reject>,
    /// Conversions into the target's own column types (a data-only load).
    adapters: Option<TableAdapters>,
    /// See [`ReadJob::find`]: rows written so far, and whether the reject to come is the
    /// row looked for.
    find: Option<(u64, usize)>,
    written: u64,
    found: bool,
}

#[derive(Debug)]
enum SinkStop {
    WriterGone,
    /// The row [`ReadJob::find`] looks for is in `first_reject`.
    Found,
    Rejects(std::io::Error),
}

impl<'a> BatchingSink<'a> {
    fn new(
        batch_rows: usize,
        tx: BatchSender,
        rejects: &'a RejectLog,
        chunk: i32,
        adapters: Option<TableAdapters>,
        find: Option<(u64, usize)>,
    ) -> Self {
        BatchingSink {
            buf: BytesMut::with_capacity(256 << 10),
            rows_in_buf: 0,
            batch_rows,
            tx,
            rejects,
            chunk,
            rejected: 0,
            first_reject: None,
            adapters,
            find,
            written: 0,
            found: false,
        }
    }

    fn flush(&mut self) -> Result<(), SinkStop> {
        if self.rows_in_buf == 0 {
            return Ok(());
        }
        let batch = Batch {
            data: self.buf.split().freeze(),
            rows: self.rows_in_buf as u64,
        };
        self.rows_in_buf = 0;
        blocking_send(&self.tx, Ok(batch)).map_err(|_| SinkStop::WriterGone)
    }

    /// Aborts the COPY: a partially read table must not be committed.
    fn abort(&self, why: String) {
        let _ = blocking_send(&self.tx, Err(why));
    }
}

/// Blocks this reader thread until the COPY has room: the channel is the back-pressure.
///
/// futures' executor, not tokio's `blocking_send`, because MySQL readers call this from inside
/// their own small runtime. `unconstrained`: inside a tokio task, a send whose cooperative budget
/// ran out returns Pending and asks to be polled again later, which a blocking wait never does;
/// it would spin forever.
fn blocking_send(tx: &BatchSender, item: Result<Batch, String>) -> Result<(), ()> {
    futures::executor::block_on(tokio::task::unconstrained(tx.send(item))).map_err(|_| ())
}

impl RowSink for BatchingSink<'_> {
    type Error = SinkStop;

    fn row(&mut self, values: &mut [Value<'_>]) -> Result<RowOutcome, SinkStop> {
        if let Some(a) = &self.adapters {
            if let refused @ RowOutcome::Refused { .. } = adapt_row(&a.adapters, values) {
                return Ok(refused);
            }
        }
        if let Some((n, value)) = self.find {
            self.written += 1;
            if self.written < n {
                return Ok(RowOutcome::Written);
            }
            self.found = true;
            return Ok(RowOutcome::Refused {
                value,
                problem: problem("refused by the target", ""),
            });
        }
        copy_encoder::write_row(&mut self.buf, values);
        self.rows_in_buf += 1;
        if self.rows_in_buf >= self.batch_rows || self.buf.len() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(RowOutcome::Written)
    }

    fn reject(&mut self, reject: Reject) -> Result<(), SinkStop> {
        if self.find.is_some() {
            // Rows the source could not convert were rejected when the chunk was loaded.
            if self.found {
                self.first_reject = Some(reject);
                return Err(SinkStop::Found);
            }
            return Ok(());
        }
        self.rejects
            .write(&reject, self.chunk)
            .map_err(SinkStop::Rejects)?;
        self.rejected += 1;
        if self.first_reject.is_none() {
            self.first_reject = Some(reject);
        }
        Ok(())
    }
}

/// Turns how a reader ended into its outcome, aborting the COPY when the reader failed.
fn finish<E: std::error::Error + Send + Sync + 'static>(
    sink: BatchingSink<'_>,
    result: Result<(u64, Vec<u64>), ReadFailure<E>>,
    table: &str,
) -> anyhow::Result<ReaderOutcome> {
    match result {
        Ok((rows_read, zero_dates)) => Ok(ReaderOutcome {
            rows_read,
            rejected: sink.rejected,
            first_reject: sink.first_reject,
            zero_dates,
        }),
        // The writer stopped first; its error is the one to report.
        Err(ReadFailure::Sink(SinkStop::WriterGone)) => Ok(ReaderOutcome::default()),
        Err(ReadFailure::Sink(SinkStop::Found)) => Ok(ReaderOutcome {
            first_reject: sink.first_reject,
            ..ReaderOutcome::default()
        }),
        Err(ReadFailure::Sink(SinkStop::Rejects(e))) => {
            let path = sink.rejects.path().display().to_string();
            sink.abort(format!("cannot write the rejects file {path}: {e}"));
            Err(anyhow!(e).context(format!("writing {path}")))
        }
        Err(ReadFailure::Source(e)) => {
            sink.abort(format!("reading {} failed", show_ident(table)));
            Err(anyhow::Error::new(e))
        }
    }
}

enum ReadFailure<E> {
    Source(E),
    Sink(SinkStop),
}

/// Where readers come from for this run.
pub enum Readers {
    Sqlite {
        path: PathBuf,
        tables: Arc<SqliteTables>,
        policy: ValuePolicy,
    },
    Mysql(MysqlPool),
}

type SqliteTables = HashMap<String, pgcutover_sqlite::TableRead>;
type MysqlTables = HashMap<String, pgcutover_mysql::TableRead>;

impl Readers {
    /// Starts reading chunk `chunk` (rows of table `index` in `range`) into `tx`.
    pub fn start(
        &self,
        loaded: &Arc<Loaded>,
        read: ReadJob,
        rejects: &Arc<RejectLog>,
        tx: BatchSender,
    ) -> Result<oneshot::Receiver<anyhow::Result<ReaderOutcome>>, Exit> {
        let index = read.index;
        match self {
            Readers::Sqlite {
                path,
                tables,
                policy,
            } => {
                let (done, rx) = oneshot::channel();
                let (loaded, tables, rejects, path, policy) = (
                    Arc::clone(loaded),
                    Arc::clone(tables),
                    Arc::clone(rejects),
                    path.clone(),
                    *policy,
                );
                let name = loaded.schema.tables[index].name.clone();
                std::thread::Builder::new()
                    .name(format!("read {name}"))
                    .spawn(move || {
                        let sqlite = (path.as_path(), &*tables);
                        let _ = done.send(read_sqlite(sqlite, &loaded, read, policy, &rejects, tx));
                    })
                    .context("starting a reader thread")?;
                Ok(rx)
            }
            Readers::Mysql(pool) => Ok(pool.submit(loaded, read, rejects, tx)),
        }
    }
}

/// What one reader reads: a key range of a table, as one chunk.
#[derive(Debug, Clone, Copy)]
pub struct ReadJob {
    /// The table's index in the schema.
    pub index: usize,
    pub range: KeyRange,
    pub chunk: i32,
    pub batch_rows: usize,
    /// Instead of loading: find the row PostgreSQL refused, the n-th (from 1) this chunk
    /// wrote, with the position of the value it named among the copied columns; the reader's
    /// outcome then holds it as its `first_reject`, with its key.
    pub find: Option<(u64, usize)>,
}

impl ReadJob {
    /// The range to read, or `None` for every row.
    fn range(&self) -> Option<KeyRange> {
        (self.range != KeyRange::ALL).then_some(self.range)
    }
}

fn read_sqlite(
    (path, tables): (&std::path::Path, &SqliteTables),
    loaded: &Loaded,
    job: ReadJob,
    policy: ValuePolicy,
    rejects: &RejectLog,
    tx: BatchSender,
) -> anyhow::Result<ReaderOutcome> {
    let table = &loaded.schema.tables[job.index];
    let read = &tables[&table.name];
    let adapters = loaded.adapters.get(&table.name).cloned();
    let mut sink = BatchingSink::new(job.batch_rows, tx, rejects, job.chunk, adapters, job.find);
    let result = pgcutover_sqlite::open_read_only(path)
        .map_err(pgcutover_sqlite::ReadError::Source)
        .and_then(|conn| {
            pgcutover_sqlite::read_table(&conn, table, read, job.range(), &policy, &mut sink)
        });
    let result = match result {
        Ok(stats) => sink
            .flush()
            .map(|()| (stats.rows_read, Vec::new()))
            .map_err(ReadFailure::Sink),
        Err(pgcutover_sqlite::ReadError::Sink(s)) => Err(ReadFailure::Sink(s)),
        Err(pgcutover_sqlite::ReadError::Source(e)) => Err(ReadFailure::Source(e)),
    };
    finish(sink, result, &table.source_name)
}

/// One chunk for a MySQL reader.
struct Job {
    loaded: Arc<Loaded>,
    tables: Arc<MysqlTables>,
    read: ReadJob,
    rejects: Arc<RejectLog>,
    tx: BatchSender,
    done: oneshot::Sender<anyhow::Result<ReaderOutcome>>,
}

/// `--jobs` MySQL sessions, each on its own thread, taking jobs from one queue.
pub struct MysqlPool {
    queue: Mutex<Option<std_mpsc::Sender<Job>>>,
    /// How each table is read.
    tables: Arc<MysqlTables>,
}

impl MysqlPool {
    /// Opens `size` sessions. With `consistent`, they all start their transaction while a
    /// global read lock holds writes, so every reader sees the same moment of the source.
    pub async fn start(
        source: &MysqlSource,
        tables: Arc<MysqlTables>,
        size: usize,
        consistent: bool,
        policy: ValuePolicy,
    ) -> Result<MysqlPool, Exit> {
        let mut lock_conn = None;
        if consistent {
            let mut c = mysql_connect(source).await?;
            if let Err(e) = c.query_drop("FLUSH TABLES WITH READ LOCK").await {
                return Err(consistent_error(e));
            }
            lock_conn = Some(c);
        }
        let (tx, rx) = std_mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), Exit>>(size.max(1));
        for i in 0..size.max(1) {
            let (rx, ready_tx, source) = (Arc::clone(&rx), ready_tx.clone(), source.clone());
            std::thread::Builder::new()
                .name(format!("mysql reader {i}"))
                .spawn(move || worker(source, consistent, policy, rx, ready_tx))
                .context("starting a MySQL reader thread")?;
        }
        drop(ready_tx);
        let mut first_error = None;
        while let Some(r) = ready_rx.recv().await {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        }
        if let Some(mut c) = lock_conn {
            // Every session has its snapshot (or failed): let writes go on.
            let _ = c.query_drop("UNLOCK TABLES").await;
            let _ = c.disconnect().await;
            test_pause_after_snapshot().await;
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        Ok(MysqlPool {
            queue: Mutex::new(Some(tx)),
            tables,
        })
    }

    fn submit(
        &self,
        loaded: &Arc<Loaded>,
        read: ReadJob,
        rejects: &Arc<RejectLog>,
        tx: BatchSender,
    ) -> oneshot::Receiver<anyhow::Result<ReaderOutcome>> {
        let (done, rx) = oneshot::channel();
        let job = Job {
            loaded: Arc::clone(loaded),
            tables: Arc::clone(&self.tables),
            read,
            rejects: Arc::clone(rejects),
            tx,
            done,
        };
        let guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let refused = match guard.as_ref() {
            Some(q) => q.send(job).err().map(|std_mpsc::SendError(job)| job),
            None => Some(job),
        };
        if let Some(job) = refused {
            let _ = job
                .done
                .send(Err(anyhow!("the MySQL readers have stopped")));
        }
        rx
    }

    /// Lets the reader threads end (each closes its session) once the queue is empty.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// For the test that proves the snapshot is shared: when PGCUTOVER_TEST_PAUSE_AFTER_SNAPSHOT
/// names a file, create it once the snapshot is taken and the lock released, then wait (at most
/// a minute) until the test, having written to the source, removes it. Inert when unset.
async fn test_pause_after_snapshot() {
    let Some(path) = std::env::var_os("PGCUTOVER_TEST_PAUSE_AFTER_SNAPSHOT") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    if std::fs::write(&path, b"snapshot taken\n").is_err() {
        return;
    }
    for _ in 0..3000 {
        if !path.exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn consistent_error(e: mysql_async::Error) -> Exit {
    let privilege = matches!(&e, mysql_async::Error::Server(s) if s.code == 1227 || s.code == 1044 || s.code == 1045);
    Exit::new(
        ExitCode::CANNOT_CONNECT,
        anyhow::Error::new(e).context("--consistent: FLUSH TABLES WITH READ LOCK failed"),
        Some(if privilege {
            "the MySQL user needs the RELOAD privilege (GRANT RELOAD ON *.* TO …) for --consistent; without it, stop writes to the source and copy without --consistent".to_owned()
        } else {
            "a long-running query may hold the tables; retry when it is done, or copy without --consistent while writes are stopped".to_owned()
        }),
    )
}

fn worker(
    source: MysqlSource,
    consistent: bool,
    policy: ValuePolicy,
    queue: Arc<Mutex<std_mpsc::Receiver<Job>>>,
    ready: mpsc::Sender<Result<(), Exit>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.blocking_send(Err(Exit::new(
                ExitCode::FAILED,
                anyhow!(e).context("starting a reader runtime"),
                None,
            )));
            return;
        }
    };
    runtime.block_on(async move {
        let mut conn = match mysql_connect(&source).await {
            Ok(c) => c,
            Err(e) => {
                let _ = ready.send(Err(e)).await;
                return;
            }
        };
        if consistent {
            let started = async {
                conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .await?;
                conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                    .await
            };
            if let Err(e) = started.await {
                let _ = ready
                    .send(Err(Exit::new(
                        ExitCode::CANNOT_CONNECT,
                        anyhow::Error::new(e).context("--consistent: starting the snapshot"),
                        None,
                    )))
                    .await;
                return;
            }
        }
        let _ = ready.send(Ok(())).await;
        drop(ready);
        // A session that broke (the server restarted, the connection was killed) is replaced
        // before the next job; the job that saw it fail is retried by the writer. Under
        // --consistent a new session cannot rejoin the snapshot, so every job from then on
        // stops the run, resumably.
        let mut session = Some(conn);
        let mut snapshot_lost = false;
        loop {
            // Blocking is fine: this thread has nothing else to do until a job comes.
            let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(job) = job else { break };
            if snapshot_lost {
                let _ = job.done.send(Err(anyhow::Error::new(ResumableError(
                    "a MySQL session of the --consistent snapshot was lost, and a new one cannot see the same snapshot; run the same command again to resume with a new snapshot".to_owned(),
                ))));
                continue;
            }
            let mut conn = match session.take() {
                Some(c) => c,
                None => match mysql_connect(&source).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = job.done.send(Err(e.error));
                        continue;
                    }
                },
            };
            let outcome = run_job(&mut conn, &job, &policy).await;
            let failed = outcome.is_err();
            let _ = job.done.send(outcome);
            if failed && conn.ping().await.is_err() {
                snapshot_lost = consistent;
                continue; // the session is dropped; the next job opens a new one
            }
            session = Some(conn);
        }
        if let Some(conn) = session {
            let _ = conn.disconnect().await;
        }
    });
}

async fn run_job(
    conn: &mut mysql_async::Conn,
    job: &Job,
    policy: &ValuePolicy,
) -> anyhow::Result<ReaderOutcome> {
    let table = &job.loaded.schema.tables[job.read.index];
    let read = &job.tables[&table.name];
    let mut sink = BatchingSink::new(
        job.read.batch_rows,
        job.tx.clone(),
        &job.rejects,
        job.read.chunk,
        job.loaded.adapters.get(&table.name).cloned(),
        job.read.find,
    );
    let result =
        pgcutover_mysql::read_table(conn, table, read, job.read.range(), policy, &mut sink).await;
    let result = match result {
        Ok(stats) => sink
            .flush()
            .map(|()| (stats.rows_read, stats.zero_dates))
            .map_err(ReadFailure::Sink),
        Err(pgcutover_mysql::ReadError::Sink(s)) => Err(ReadFailure::Sink(s)),
        Err(pgcutover_mysql::ReadError::Source(e)) => Err(ReadFailure::Source(e)),
    };
    finish(sink, result, &table.source_name)
}
