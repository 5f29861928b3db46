//! Rows on their way into COPY: a source reader hands converted rows to a [`BatchingSink`],
//! which converts them into the target's own column types where a data-only load asks for it,
//! encodes them as binary COPY rows into batches, and sends the batches through a bounded
//! channel to the chunk's COPY ([`crate::load::copy_batches`]). The channel is the
//! back-pressure: a reader waits while the COPY is behind.

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use bytes::{Bytes, BytesMut};
use pgcutover_core::adapt::{adapt_row, TableAdapters};
use pgcutover_core::policy::problem;
use pgcutover_core::source::{ReadError, ReadStats, Stop, TableSink};
use pgcutover_core::{show_ident, Reject, RowOutcome, RowSink, Value};
use tokio::sync::{mpsc, oneshot};

use crate::copy_encoder;

/// Where rejected rows go (the rejects file), tagged with the chunk that read them.
pub trait RejectWriter: Send + Sync {
    fn write(&self, reject: &Reject, chunk: i32) -> std::io::Result<()>;
    fn path(&self) -> &Path;
}

/// What a sink is for: the chunk, the batch size, the data-only conversions, and find mode.
pub struct SinkSettings {
    pub chunk: i32,
    pub batch_rows: usize,
    /// The table's source name, for the message that aborts its COPY.
    pub table: String,
    /// Conversions into the target's own column types (a data-only load).
    pub adapters: Option<TableAdapters>,
    /// Instead of loading: find the row PostgreSQL refused, the n-th (from 1) this chunk
    /// wrote, with the position of the value it named among the copied columns; the
    /// outcome then holds it as its `first_reject`, with its key.
    pub find: Option<(u64, usize)>,
}

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
pub struct BatchingSink {
    buf: BytesMut,
    rows_in_buf: usize,
    batch_rows: usize,
    tx: BatchSender,
    rejects: Arc<dyn RejectWriter>,
    /// The chunk rows are read for, which tags each reject in the rejects file.
    chunk: i32,
    /// The table's source name, for the message that aborts its COPY.
    table: String,
    rejected: u64,
    first_reject: Option<Reject>,
    /// Conversions into the target's own column types (a data-only load).
    adapters: Option<TableAdapters>,
    /// See [`SinkSettings::find`]: rows written so far, and whether the reject to come is the
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
    /// The row [`SinkSettings::find`] looks for is in `first_reject`.
    Found,
    Rejects(std::io::Error),
}

impl BatchingSink {
    /// A sink for one read, sending batches to `tx`, rejects to `rejects`, and how the read
    /// ended to `done`.
    pub fn new(
        settings: SinkSettings,
        tx: BatchSender,
        rejects: Arc<dyn RejectWriter>,
        done: oneshot::Sender<anyhow::Result<ReaderOutcome>>,
    ) -> BatchingSink {
        BatchingSink {
            buf: BytesMut::with_capacity(256 << 10),
            rows_in_buf: 0,
            batch_rows: settings.batch_rows,
            tx,
            rejects,
            chunk: settings.chunk,
            table: settings.table,
            rejected: 0,
            first_reject: None,
            adapters: settings.adapters,
            find: settings.find,
            written: 0,
            found: false,
            stopped: None,
            done,
        }
    }

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
