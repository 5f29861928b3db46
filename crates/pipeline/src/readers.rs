//! The copy's side of the source readers: a reader (the engine's thread or session, see
//! `pgcutover_core::source::Readers`) converts a table's rows into the target's
//! `BatchingSink` (`pgcutover_postgres::batch`), which hands COPY batches to that table's COPY.

use std::sync::Arc;

use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::range::KeyRange;
use pgcutover_core::source;
use pgcutover_core::Table;
use pgcutover_postgres::batch::{BatchingSink, RejectWriter, SinkSettings};
use tokio::sync::oneshot;

pub use pgcutover_postgres::batch::{Batch, BatchSender, ReaderOutcome};

use crate::exit::Exit;
use crate::rejects::RejectLog;
use crate::source::Loaded;

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
        let settings = SinkSettings {
            chunk: read.chunk,
            batch_rows: read.batch_rows,
            table: table.source_name.clone(),
            adapters: loaded.adapters.get(&table.name).cloned(),
            find: read.find,
        };
        let rejects: Arc<dyn RejectWriter> = Arc::clone(rejects) as _;
        let sink = BatchingSink::new(settings, tx, rejects, done);
        let job = source::ReadJob {
            table: Arc::clone(table),
            ranges: vec![read.range],
        };
        self.readers.read(job, Box::new(sink));
        rx
    }

    /// Where the source's change log was at the readers' snapshot, when known.
    pub fn snapshot_position(&self) -> Option<String> {
        self.readers.snapshot_position()
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
