//! The copy's side of the source readers: a reader (the engine's thread or session, see
//! `pgcutover_core::source::Readers`) converts a table's rows into a `BatchingSink`, which
//! encodes them as binary COPY batches and hands the batches to that table's COPY through a
//! bounded channel.

use std::sync::Arc;

use anyhow::anyhow;
use bytes::{Bytes, BytesMut};
use pgcutover_core::adapt::adapt_row;
use pgcutover_core::policy::{problem, ValuePolicy};
use pgcutover_core::range::KeyRange;
use pgcutover_core::source::{self, ReadError, ReadStats, Stop, TableSink};
use pgcutover_core::{show_ident, Reject, RowOutcome, RowSink, Table, Value};
use pgcutover_postgres::copy_encoder;
use tokio::sync::{mpsc, oneshot};

use crate::exit::Exit;
use crate::rejects::RejectLog;
use crate::source::{Loaded, TableAdapters};

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

/// Encodes converted rows into binary COPY batches and hands them to the writer; when the
/// read ends, says how through `done`.
struct BatchingSink {
    buf: BytesMut,
    rows_in_buf: usize,
    batch_rows: usize,
    tx: BatchSender,
    rejects: Arc<RejectLog>,
    /// The chunk rows are read for, which tags each reject in the rejects file.
    chunk: i32,
    /// The table's source name, for the message that aborts its COPY.
    table: String,
    rejected: u64,
    first_reject: Option<Reject>,
    /// Conversions into the target's own column types (a data-only load).
    adapters: Option<TableAdapters>,
    /// See [`ReadJob::find`]: rows written so far, and whether the reject to come is the
    /// row looked for.
    find: Option<(u64, usize)>,
    written: u64,
    found: bool,
    /// Why the sink stopped the reader, when it did.
    stopped: Option<SinkStop>,
    done: oneshot::Sender<anyhow::Result<ReaderOutcome>>,
}

#[derive(Debug)]
enum SinkStop {
    WriterGone,
    /// The row [`ReadJob::find`] looks for is in `first_reject`.
    Found,
    Rejects(std::io::Error),
}

impl BatchingSink {
    fn stop(&mut self, why: SinkStop) -> Stop {
        self.stopped = Some(why);
        Stop
    }

    fn flush(&mut self) -> Result<(), Stop> {
        if self.rows_in_buf == 0 {
            return Ok(());
        }
        let batch = Batch {
            data: self.buf.split().freeze(),
            rows: self.rows_in_buf as u64,
        };
        self.rows_in_buf = 0;
        blocking_send(&self.tx, Ok(batch)).map_err(|_| self.stop(SinkStop::WriterGone))
    }

    /// Aborts the COPY: a partially read table must not be committed.
    fn abort(&self, why: String) {
        let _ = blocking_send(&self.tx, Err(why));
    }

    /// How the read ended, as the writer needs it; the COPY is aborted when the reader failed.
    fn outcome(&mut self, ended: Result<ReadStats, ReadError>) -> anyhow::Result<ReaderOutcome> {
        let ended = ended.and_then(|stats| {
            self.flush().map_err(|Stop| ReadError::Stopped)?;
            Ok(stats)
        });
        match ended {
            Ok(stats) => Ok(ReaderOutcome {
                rows_read: stats.rows_read,
                rejected: self.rejected,
                first_reject: self.first_reject.take(),
                zero_dates: stats.zero_dates,
            }),
            Err(ReadError::Stopped) => match self.stopped.take() {
                // The writer stopped first; its error is the one to report.
                Some(SinkStop::WriterGone) | None => Ok(ReaderOutcome::default()),
                Some(SinkStop::Found) => Ok(ReaderOutcome {
                    first_reject: self.first_reject.take(),
                    ..ReaderOutcome::default()
                }),
                Some(SinkStop::Rejects(e)) => {
                    let path = self.rejects.path().display().to_string();
                    self.abort(format!("cannot write the rejects file {path}: {e}"));
                    Err(anyhow!(e).context(format!("writing {path}")))
                }
            },
            Err(ReadError::Source(e)) => {
                self.abort(format!("reading {} failed", show_ident(&self.table)));
                Err(anyhow::Error::new(e))
            }
        }
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

impl RowSink for BatchingSink {
    type Error = Stop;

    fn row(&mut self, values: &mut [Value<'_>]) -> Result<RowOutcome, Stop> {
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

    fn reject(&mut self, reject: Reject) -> Result<(), Stop> {
        if self.find.is_some() {
            // Rows the source could not convert were rejected when the chunk was loaded.
            if self.found {
                self.first_reject = Some(reject);
                return Err(self.stop(SinkStop::Found));
            }
            return Ok(());
        }
        if let Err(e) = self.rejects.write(&reject, self.chunk) {
            return Err(self.stop(SinkStop::Rejects(e)));
        }
        self.rejected += 1;
        if self.first_reject.is_none() {
            self.first_reject = Some(reject);
        }
        Ok(())
    }
}

impl TableSink for BatchingSink {
    fn finish(mut self: Box<Self>, ended: Result<ReadStats, ReadError>) {
        let outcome = self.outcome(ended);
        let _ = self.done.send(outcome);
    }
}

/// The source's readers for this run, started before anything is written.
pub struct Readers {
    readers: Box<dyn source::Readers>,
    /// The schema's tables, shared with the jobs that read them.
    tables: Vec<Arc<Table>>,
}

impl Readers {
    /// Starts `jobs` readers; with `consistent`, in one snapshot of the source.
    pub async fn start(
        loaded: &Loaded,
        jobs: usize,
        consistent: bool,
        policy: ValuePolicy,
    ) -> Result<Readers, Exit> {
        Ok(Readers {
            readers: loaded.reads.readers(jobs, consistent, policy).await?,
            tables: loaded.schema.tables.iter().cloned().map(Arc::new).collect(),
        })
    }

    /// Starts reading chunk `read.chunk` (rows of table `read.index` in `read.range`) into
    /// `tx`.
    pub fn read(
        &self,
        loaded: &Loaded,
        read: ReadJob,
        rejects: &Arc<RejectLog>,
        tx: BatchSender,
    ) -> oneshot::Receiver<anyhow::Result<ReaderOutcome>> {
        let table = &self.tables[read.index];
        let (done, rx) = oneshot::channel();
        let sink = BatchingSink {
            buf: BytesMut::with_capacity(256 << 10),
            rows_in_buf: 0,
            batch_rows: read.batch_rows,
            tx,
            rejects: Arc::clone(rejects),
            chunk: read.chunk,
            table: table.source_name.clone(),
            rejected: 0,
            first_reject: None,
            adapters: loaded.adapters.get(&table.name).cloned(),
            find: read.find,
            written: 0,
            found: false,
            stopped: None,
            done,
        };
        let job = source::ReadJob {
            table: Arc::clone(table),
            ranges: vec![read.range],
        };
        self.readers.read(job, Box::new(sink));
        rx
    }

    /// Lets the readers end (each closes its session) once the jobs queued are done.
    pub fn close(&self) {
        self.readers.close();
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
