//! What a copy is asked to do, as its phases take it. The binary resolves its command line
//! into [`CopySettings`] in one step; no phase sees an argument.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::post_load::Orphans;

/// What a copy makes in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tables, their rows, then keys, indexes and constraints.
    Full,
    /// Tables, keys, indexes and constraints; no rows.
    SchemaOnly,
    /// Rows into tables someone else created.
    DataOnly,
}

impl Mode {
    /// The mode as the run's fingerprint records it (and `status` shows it).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::SchemaOnly => "schema-only",
            Mode::DataOnly => "data-only",
        }
    }
}

pub struct CopySettings {
    /// The PostgreSQL schema the tables go into; also the run's key in the run state.
    pub target_schema: String,
    pub mode: Mode,
    /// Drop what this run creates (and what the complete run it replaces created) first.
    pub drop_existing: bool,
    /// Data-only: empty the target tables when the run starts.
    pub truncate: bool,
    /// Throw away the run the target records and start over.
    pub restart: bool,
    /// Let `restart`, `drop_existing` and `truncate` destroy rows written after the run
    /// they replace completed.
    pub force: bool,
    pub orphans: Orphans,
    /// Chunks copied, and post-load steps run, in parallel.
    pub jobs: usize,
    /// Rows per batch handed from a reader to its COPY stream.
    pub batch_rows: usize,
    /// Rows per chunk of a table with a single integer key.
    pub chunk_rows: u64,
    /// Tries after a transient fault, per chunk, step or lost run session.
    pub retries: u32,
    /// Every reader sees one snapshot of the source.
    pub consistent: bool,
    /// Where rejected rows are written.
    pub rejects: PathBuf,
    /// The options that change what lands in the target, by their command-line names (the
    /// operator reads them when a run cannot resume): recorded in the run's fingerprint.
    pub fingerprint_options: BTreeMap<String, String>,
}

impl CopySettings {
    pub fn schema_only(&self) -> bool {
        self.mode == Mode::SchemaOnly
    }

    pub fn data_only(&self) -> bool {
        self.mode == Mode::DataOnly
    }
}
