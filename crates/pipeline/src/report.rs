//! What a copy did, table by table and post-load step by post-load step, as data. The binary's
//! summary and its JSON report (`--report`, `--format json`) are made of these, so their fields
//! and serialized names are that format; the binary owns printing them.

use pgcutover_core::Schema;
use pgcutover_postgres::ddl::{Step, StepKind};
use serde::Serialize;
use tokio_postgres::Client;

use crate::exit::Exit;
use crate::state;

#[derive(Debug, Serialize)]
pub struct TableReport {
    pub table: String,
    pub source_table: String,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    /// MySQL zero or partial dates that became NULL, per column.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub zero_dates: std::collections::BTreeMap<String, u64>,
    pub seconds: f64,
    /// Bytes of binary COPY data sent.
    pub bytes: u64,
    /// Chunks the table was cut into, and how many are done (all of them unless interrupted).
    pub chunks: u64,
    pub chunks_done: u64,
    /// Why some of its rows are not in: each chunk PostgreSQL refused (or that could not be
    /// read), with the message. The same command loads them once the cause is fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct StepReport {
    pub kind: StepKind,
    pub table: String,
    pub object: String,
    pub ok: bool,
    pub error: Option<String>,
    /// A CHECK PostgreSQL would not accept as translated, or a foreign key skipped by
    /// `--orphans skip`: reported as not carried over (a warning), not as a failed step.
    #[serde(skip)]
    pub demoted_to_warning: bool,
    /// A foreign key's orphans: child rows whose parent is missing, counted when PostgreSQL
    /// refused to create it (0 when it did not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orphans: Option<u64>,
    /// What was done instead of the plain statement (`created NOT VALID`, `skipped`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub seconds: f64,
}

impl StepReport {
    /// A foreign key's report that found no orphan.
    pub fn no_orphans(mut self) -> StepReport {
        self.orphans = Some(0);
        self
    }

    pub fn new(step: Step, result: Result<(), tokio_postgres::Error>, seconds: f64) -> StepReport {
        let (error, demoted) = match result {
            Ok(()) => (None, false),
            Err(e) => {
                let (msg, code) = match e.as_db_error() {
                    Some(db) => {
                        let mut m = db.message().to_owned();
                        if let Some(d) = db.detail() {
                            m.push_str(&format!(" ({d})"));
                        }
                        (m, Some(db.code().code().to_owned()))
                    }
                    None => (format!("{e:#}"), None),
                };
                // undefined_function, datatype_mismatch, cannot_coerce, invalid_text_representation:
                // the translation does not type-check in PostgreSQL; the data is not at fault.
                let demoted = step.kind == StepKind::Check
                    && matches!(code.as_deref(), Some("42883" | "42804" | "42846" | "22P02"));
                (Some(msg), demoted)
            }
        };
        StepReport {
            kind: step.kind,
            table: step.table,
            object: step.object,
            ok: error.is_none(),
            error,
            demoted_to_warning: demoted,
            orphans: None,
            note: None,
            seconds,
        }
    }
}

/// Each table's report, from the run state: what every attempt loaded.
pub async fn table_reports(
    client: &Client,
    state_key: &str,
    schema: &Schema,
) -> Result<Vec<TableReport>, Exit> {
    let chunks = state::chunks(client, state_key).await?;
    let mut out = Vec::with_capacity(schema.tables.len());
    for t in &schema.tables {
        let mut r = TableReport {
            table: t.name.clone(),
            source_table: t.source_name.clone(),
            rows_read: 0,
            rows_written: 0,
            rows_rejected: 0,
            zero_dates: Default::default(),
            seconds: 0.0,
            bytes: 0,
            chunks: 0,
            chunks_done: 0,
            error: None,
        };
        for c in chunks.iter().filter(|c| c.plan.table == t.name) {
            r.chunks += 1;
            if let (None, Some(e)) = (&c.done, &c.error) {
                let line = format!("chunk {}: {e}", c.plan.chunk);
                r.error = Some(match r.error.take() {
                    Some(more) => format!("{more}; {line}"),
                    None => line,
                });
            }
            let Some(d) = &c.done else { continue };
            r.chunks_done += 1;
            r.rows_read += d.rows_read as u64;
            r.rows_written += d.rows_written as u64;
            r.rows_rejected += d.rows_rejected as u64;
            r.bytes += d.bytes as u64;
            r.seconds += d.seconds;
            for (col, n) in &d.zero_dates {
                *r.zero_dates.entry(col.clone()).or_default() += n;
            }
        }
        out.push(r);
    }
    Ok(out)
}
