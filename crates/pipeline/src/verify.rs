//! `pgcutover verify` (and `copy --verify`): does the target hold exactly what the source holds?
//!
//! Per table, both sides are read at once: the source through the copy's own readers and type
//! mapping (so a value is compared as the copy would have written it), the target through
//! `COPY (SELECT …) TO STDOUT (FORMAT binary)`. `pgcutover_verify` hashes the canonical rows
//! into key-range checksums and asks for more passes only where ranges differ, until the
//! differing rows are named. `--mode counts` compares `count(*)` on both servers instead.
//!
//! Rows the type mapping rejects are not in the target by design: they are counted as
//! expected differences (the copy wrote them to its rejects file), not as surprises.

use std::collections::HashMap;
use std::ops::Range as Span;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use bytes::BytesMut;
use futures::StreamExt;
use pgcutover_core::adapt::adapt_row;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::range::KeyRange;
use pgcutover_core::show_ident;
use pgcutover_core::source::{ReadError, ReadJob, ReadStats, Readers, Stop, TableSink};
use pgcutover_core::{
    quote_ident, quote_qualified, PgType, Reject, RowOutcome, RowSink, Table, Value,
};
use pgcutover_postgres::{copy_encoder, Target};
use pgcutover_verify::canonical::render;
use pgcutover_verify::digest::{HeldRow, Range};
use pgcutover_verify::tuple::{parse_tuple, Parsed, TupleReader};
use pgcutover_verify::{Mismatch, Pass, Positions, RowDiff, RowHasher, Tally, Verifier};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio_postgres::Client;

use crate::exit::{Exit, ExitCode};
use crate::observe::Observer;
use crate::source::{Loaded, TableAdapters};

/// What to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `count(*)` on both sides.
    Counts,
    /// Every row's canonical form, hashed into key ranges.
    Checksums,
}

/// At most this many key ranges are pushed down to the servers in one pass; more, and the
/// pass reads the whole table and filters on the client.
const MAX_PUSHED_RANGES: usize = 256;

/// How a verification runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub jobs: usize,
    /// Differing rows listed per table (all are counted).
    pub max_diffs: usize,
    pub policy: ValuePolicy,
}

/// One table's verdict.
/// What verification found for one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Identical,
    Differs,
    /// The only differences are rows the type mapping rejects.
    RejectedOnly,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Verdict::Identical => "identical",
            Verdict::Differs => "differs",
            Verdict::RejectedOnly => "rejected_only",
        })
    }
}

/// What verification found for the whole target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Identical,
    IdenticalExceptRejected,
    Differs,
}

#[derive(Debug, Serialize)]
pub struct TableVerdict {
    pub table: String,
    pub source_table: String,
    pub status: Verdict,
    /// The key rows were matched on; empty when the table is compared as a multiset.
    pub key: Vec<String>,
    pub source_rows: u64,
    pub target_rows: u64,
    /// Source rows the type mapping rejects (and the copy wrote to its rejects file): expected
    /// to be absent from the target.
    pub rejected: u64,
    pub ranges_hashed: u64,
    pub passes: u32,
    pub rows_differing: u64,
    pub missing: u64,
    pub extra: u64,
    pub changed: u64,
    /// Differing rows counted but not listed (beyond --max-diffs): a lower bound.
    pub unlisted: u64,
    pub differences: Vec<RowDifference>,
    /// Why the table could not be compared (e.g. the target has no such column).
    pub problem: Option<String>,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct RowDifference {
    /// `missing` (in the source, not the target), `extra` (in the target only) or `changed`.
    pub kind: &'static str,
    /// `column=value` pairs of the key (for a table without a key, of the row's first columns).
    pub key: String,
    pub columns: Vec<ColumnDifference>,
}

#[derive(Debug, Serialize)]
pub struct ColumnDifference {
    pub column: String,
    pub source: String,
    pub target: String,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub tables: usize,
    pub identical: usize,
    pub differing: usize,
    pub source_rows: u64,
    pub target_rows: u64,
    pub rejected: u64,
    pub rows_differing: u64,
}

/// The result of a verification: printed, written with `--report`, or embedded in a copy's
/// report.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub mode: Mode,
    pub outcome: Outcome,
    pub exit_code: u8,
    pub tables: Vec<TableVerdict>,
    pub totals: Totals,
    pub seconds: f64,
}

impl VerifyReport {
    fn new(mode: Mode, tables: Vec<TableVerdict>, seconds: f64) -> VerifyReport {
        let totals = Totals {
            tables: tables.len(),
            identical: tables
                .iter()
                .filter(|t| t.status == Verdict::Identical)
                .count(),
            differing: tables
                .iter()
                .filter(|t| t.status == Verdict::Differs)
                .count(),
            source_rows: tables.iter().map(|t| t.source_rows).sum(),
            target_rows: tables.iter().map(|t| t.target_rows).sum(),
            rejected: tables.iter().map(|t| t.rejected).sum(),
            rows_differing: tables.iter().map(|t| t.rows_differing).sum(),
        };
        let code = if totals.differing > 0 {
            ExitCode::VERIFY_MISMATCH
        } else if totals.rejected > 0 {
            ExitCode::ROWS_REJECTED
        } else {
            ExitCode::OK
        };
        VerifyReport {
            mode,
            outcome: if code == ExitCode::OK {
                Outcome::Identical
            } else if code == ExitCode::ROWS_REJECTED {
                Outcome::IdenticalExceptRejected
            } else {
                Outcome::Differs
            },
            exit_code: code.0,
            tables,
            totals,
            seconds,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode(self.exit_code)
    }
}

/// Rows per target table in a rejects file (none when the file does not exist).
pub fn rejects_per_table(path: &Path) -> Result<HashMap<String, u64>, Exit> {
    let mut out = HashMap::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(anyhow!(e)
                .context(format!("reading {}", path.display()))
                .into())
        }
    };
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            Exit::new(
                ExitCode::USAGE,
                anyhow!("{} line {}: {e}", path.display(), i + 1),
                Some("--rejects names the rejects file a copy wrote (JSON Lines)".to_owned()),
            )
        })?;
        // A change rejected while following is no row the copy left out.
        if crate::rejects::is_followed(&v) {
            continue;
        }
        if let Some(t) = v.get("table").and_then(|t| t.as_str()) {
            *out.entry(t.to_owned()).or_default() += 1;
        }
    }
    Ok(out)
}

/// Verifies every table of `loaded`, `settings.jobs` at a time. `expected_rejects` (per target
/// table) is used by `--mode counts`; checksums find the rejected rows themselves.
pub async fn verify_all(
    loaded: &Arc<Loaded>,
    target: &Target,
    schema_name: &str,
    settings: &Settings,
    expected_rejects: &HashMap<String, u64>,
    observer: &dyn Observer,
) -> Result<VerifyReport, Exit> {
    let started = Instant::now();
    observer.info(&format!(
        "verifying {} table(s) by {}",
        loaded.schema.tables.len(),
        match settings.mode {
            Mode::Counts => "row counts",
            Mode::Checksums => "row counts and checksums",
        }
    ));
    let results = futures::stream::iter(0..loaded.schema.tables.len())
        .map(|i| async move {
            let ctx = TableCtx {
                loaded,
                target,
                schema_name,
                settings,
                index: i,
            };
            let t0 = Instant::now();
            let table = &loaded.schema.tables[i];
            let mut verdict = match settings.mode {
                Mode::Counts => {
                    count_table(
                        &ctx,
                        expected_rejects.get(&table.name).copied().unwrap_or(0),
                    )
                    .await
                }
                Mode::Checksums => checksum_table(&ctx).await,
            }?;
            verdict.seconds = t0.elapsed().as_secs_f64();
            observer.info(&format!(
                "verified {}: {} ({} source / {} target rows{}{})",
                show_ident(&table.name),
                verdict.status,
                verdict.source_rows,
                verdict.target_rows,
                if verdict.rows_differing > 0 {
                    format!(", {} differing", verdict.rows_differing)
                } else {
                    String::new()
                },
                if verdict.rejected > 0 {
                    format!(", {} rejected by the mapping", verdict.rejected)
                } else {
                    String::new()
                }
            ));
            Ok::<_, Exit>(verdict)
        })
        .buffer_unordered(settings.jobs.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut tables = Vec::with_capacity(results.len());
    for r in results {
        tables.push(r?);
    }
    tables.sort_by_key(|v| loaded.schema.tables.iter().position(|t| t.name == v.table));
    Ok(VerifyReport::new(
        settings.mode,
        tables,
        started.elapsed().as_secs_f64(),
    ))
}

struct TableCtx<'a> {
    loaded: &'a Arc<Loaded>,
    target: &'a Target,
    schema_name: &'a str,
    settings: &'a Settings,
    index: usize,
}

impl TableCtx<'_> {
    fn table(&self) -> &Table {
        &self.loaded.schema.tables[self.index]
    }

    fn qualified(&self) -> String {
        quote_qualified(self.schema_name, &self.table().name)
    }

    fn verdict(&self, key: Vec<String>) -> TableVerdict {
        let t = self.table();
        TableVerdict {
            table: t.name.clone(),
            source_table: t.source_name.clone(),
            status: Verdict::Identical,
            key,
            source_rows: 0,
            target_rows: 0,
            rejected: 0,
            ranges_hashed: 0,
            passes: 0,
            rows_differing: 0,
            missing: 0,
            extra: 0,
            changed: 0,
            unlisted: 0,
            differences: Vec::new(),
            problem: None,
            seconds: 0.0,
        }
    }
}

/// Sets the status from the counts found.
fn settle(v: &mut TableVerdict) {
    v.status = if v.rows_differing > 0 || v.problem.is_some() {
        Verdict::Differs
    } else if v.rejected > 0 {
        Verdict::RejectedOnly
    } else {
        Verdict::Identical
    };
}

fn db_error(e: tokio_postgres::Error, what: String) -> Exit {
    Exit::new(ExitCode::FAILED, anyhow::Error::new(e).context(what), None)
}

/// Whether the target has the table (the schema may hold it under a different case).
async fn target_has_table(client: &Client, qualified: &str) -> Result<bool, Exit> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&qualified])
        .await
        .map_err(|e| db_error(e, format!("looking up {qualified} in the target")))?;
    Ok(row.get(0))
}

async fn count_table(ctx: &TableCtx<'_>, expected_rejects: u64) -> Result<TableVerdict, Exit> {
    let mut v = ctx.verdict(Vec::new());
    let client = crate::target::connect(ctx.target).await?;
    let qualified = ctx.qualified();
    let (source_rows, target_rows) = tokio::join!(count_source(ctx), async {
        if !target_has_table(&client, &qualified).await? {
            return Ok(None);
        }
        let row = client
            .query_one(&format!("SELECT count(*) FROM {qualified}"), &[])
            .await
            .map_err(|e| db_error(e, format!("counting the rows of {qualified}")))?;
        Ok::<_, Exit>(Some(row.get::<_, i64>(0) as u64))
    });
    v.source_rows = source_rows?;
    match target_rows? {
        Some(n) => v.target_rows = n,
        None => v.problem = Some(format!("the target has no table {qualified}")),
    }
    v.rejected = expected_rejects;
    let expected = v.source_rows.saturating_sub(expected_rejects);
    v.rows_differing = expected.abs_diff(v.target_rows);
    if v.target_rows > expected {
        v.extra = v.target_rows - expected;
    } else {
        v.missing = expected - v.target_rows;
    }
    settle(&mut v);
    Ok(v)
}

/// `count(*)` on the source, pushed down to its server.
async fn count_source(ctx: &TableCtx<'_>) -> Result<u64, Exit> {
    let mut session = ctx.loaded.reads.session().await?;
    let n = session.count(ctx.table()).await;
    session.close().await;
    Ok(n?)
}

async fn checksum_table(ctx: &TableCtx<'_>) -> Result<TableVerdict, Exit> {
    let table = ctx.table();
    let copied: Vec<usize> = (0..table.columns.len())
        .filter(|&i| table.columns[i].is_copied())
        .collect();
    // What the target holds: its own column types where they differ from the mapping's.
    let types: Vec<PgType> = match ctx.loaded.adapters.get(&table.name) {
        Some(t) => t.shapes.clone(),
        None => copied
            .iter()
            .map(|&i| table.columns[i].pg_type.clone())
            .collect(),
    };
    // The columns rows are matched on; none: compare as a multiset.
    let key = table.row_key().unwrap_or_default();
    let key_names: Vec<String> = key
        .iter()
        .map(|&k| table.columns[copied[k]].name.clone())
        .collect();
    let mut v = ctx.verdict(key_names);
    let client = crate::target::connect(ctx.target).await?;
    let qualified = ctx.qualified();
    if !target_has_table(&client, &qualified).await? {
        v.problem = Some(format!("the target has no table {qualified}"));
        v.source_rows = count_source(ctx).await?;
        v.missing = v.source_rows;
        v.rows_differing = v.source_rows;
        settle(&mut v);
        return Ok(v);
    }
    let select = match target_select(&client, ctx, &copied).await? {
        Ok(s) => s,
        Err(problem) => {
            v.problem = Some(problem);
            settle(&mut v);
            return Ok(v);
        }
    };

    // Positions: the key itself when it is one integer column and both sides can bound it.
    let mut positions = if key.is_empty() {
        Positions::RowHash
    } else {
        Positions::KeyHash
    };
    let int_key = (key.len() == 1 && types[key[0]].is_integer()).then(|| key[0]);
    if let Some(k) = int_key {
        let source_bounds = source_int_bounds(ctx, copied[k]).await?;
        let col = quote_ident(&table.columns[copied[k]].name);
        let row = client
            .query_one(
                &format!("SELECT min({col})::int8, max({col})::int8 FROM {qualified}"),
                &[],
            )
            .await
            .map_err(|e| db_error(e, format!("reading the key range of {qualified}")))?;
        let target_bounds: Option<(i64, i64)> = row.get::<_, Option<i64>>(0).zip(row.get(1));
        let bounds = match (source_bounds, target_bounds) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (one, other) => one.or(other),
        };
        if let Some((min, max)) = bounds {
            positions = Positions::Int { min, max };
        }
    }

    let hasher = RowHasher::new(&types, key.clone(), positions);
    let mut verifier = Verifier::new(
        positions,
        types.len() as u64,
        table.source_rows.unwrap_or(0),
        ctx.settings.max_diffs,
    );
    // One reader for every pass over this table, on a thread of its own, so each side hashes
    // on its own core.
    let readers = ctx
        .loaded
        .reads
        .readers(1, false, ctx.settings.policy)
        .await?;
    let shared = Arc::new(table.clone());
    let mut first = true;
    while let Some(pass) = verifier.next_pass() {
        let pass = Arc::new(pass);
        let pushed = pushed_ranges(&pass, positions);
        let source_scan = scan_source(
            ctx,
            &*readers,
            &shared,
            Arc::clone(&pass),
            hasher.clone(),
            pushed.clone(),
        );
        let target_scan = scan_target(
            &client,
            &select,
            int_key.map(|k| &table.columns[copied[k]].name),
            &pass,
            hasher.clone(),
            pushed.as_deref(),
        );
        let (s, t) = tokio::join!(source_scan, target_scan);
        let (source_tally, rejected) = s?;
        let target_tally = t?;
        if first {
            v.rejected = rejected;
            first = false;
        }
        verifier
            .absorb(&pass, source_tally, target_tally)
            .map_err(|e| anyhow!(e))?;
    }
    readers.close();
    readers.closed().await;
    let (s, t) = verifier.rows.unwrap_or((0, 0));
    v.source_rows = s + v.rejected;
    v.target_rows = t;
    v.ranges_hashed = verifier.ranges_hashed;
    v.passes = verifier.passes;
    v.unlisted = verifier.unlisted_rows;
    let names: Vec<&str> = copied
        .iter()
        .map(|&i| table.columns[i].name.as_str())
        .collect();
    // In key order (an integer key's bytes sort as numbers do for keys ≥ 0), so a report reads
    // the same on every run.
    verifier.diffs.sort_by(|a, b| diff_key(a).cmp(diff_key(b)));
    for d in &verifier.diffs {
        match d {
            RowDiff::Missing { .. } => v.missing += 1,
            RowDiff::Extra { .. } => v.extra += 1,
            RowDiff::Changed { .. } => v.changed += 1,
        }
    }
    v.rows_differing = v.missing + v.extra + v.changed + v.unlisted;
    v.differences = verifier
        .diffs
        .iter()
        .take(ctx.settings.max_diffs)
        .map(|d| describe(d, &names, &types, &key))
        .collect();
    settle(&mut v);
    Ok(v)
}

/// The target's SELECT list: each copied column in the target's own type (the source's values
/// are converted into it as the copy converts them). `Err` names a column the target lacks.
async fn target_select(
    client: &Client,
    ctx: &TableCtx<'_>,
    copied: &[usize],
) -> Result<Result<String, String>, Exit> {
    let table = ctx.table();
    let qualified = ctx.qualified();
    let names: Vec<String> = copied
        .iter()
        .map(|&i| table.columns[i].name.clone())
        .collect();
    let present: Vec<String> = client
        .query(
            "SELECT attname::text FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            &[&qualified],
        )
        .await
        .map_err(|e| db_error(e, format!("reading the columns of {qualified}")))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(missing) = names.iter().find(|n| !present.contains(n)) {
        return Ok(Err(format!(
            "the target table has no column {}, which the source has",
            show_ident(missing)
        )));
    }
    let list: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
    Ok(Ok(format!("SELECT {} FROM {qualified}", list.join(", "))))
}

/// The least and greatest key in the source, when the source can bound it.
async fn source_int_bounds(ctx: &TableCtx<'_>, column: usize) -> Result<Option<(i64, i64)>, Exit> {
    let mut session = ctx.loaded.reads.session().await?;
    let bounds = session.int_bounds(ctx.table(), column).await;
    session.close().await;
    Ok(bounds?)
}

/// The key ranges `[from, to)` a pass can be pushed down as, when it covers only part of an
/// integer key's span and in few enough pieces.
fn pushed_ranges(pass: &Pass, positions: Positions) -> Option<Vec<KeyRange>> {
    if !matches!(positions, Positions::Int { .. }) || pass.is_whole(positions.space()) {
        return None;
    }
    let mut merged: Vec<Range> = Vec::new();
    for r in pass.ranges() {
        match merged.last_mut() {
            Some(last) if last.hi == r.lo => last.hi = r.hi,
            _ => merged.push(*r),
        }
    }
    if merged.len() > MAX_PUSHED_RANGES {
        return None;
    }
    let space = positions.space();
    Some(
        merged
            .iter()
            .map(|r| {
                let (from, to) = positions.key_bounds(r).expect("integer positions");
                // The first and last ranges are open, so a key written outside the span since
                // it was measured is still read (and lands in the edge range, as it is clamped).
                KeyRange {
                    from: (r.lo > 0).then_some(from),
                    to: (r.hi < space).then_some(to),
                }
            })
            .collect(),
    )
}

/// Reads the target's rows for a pass and tallies them.
async fn scan_target(
    client: &Client,
    select: &str,
    key_column: Option<&String>,
    pass: &Pass,
    mut hasher: RowHasher,
    pushed: Option<&[KeyRange]>,
) -> Result<Tally, Exit> {
    let mut sql = select.to_owned();
    if let (Some(ranges), Some(col)) = (pushed, key_column) {
        let col = quote_ident(col);
        let conds: Vec<String> = ranges
            .iter()
            .map(|r| {
                let mut c = Vec::new();
                if let Some(f) = r.from {
                    c.push(format!("{col} >= {f}"));
                }
                if let Some(t) = r.to {
                    c.push(format!("{col} < {t}"));
                }
                if c.is_empty() {
                    "true".to_owned()
                } else {
                    format!("({})", c.join(" AND "))
                }
            })
            .collect();
        sql = format!("{sql} WHERE {}", conds.join(" OR "));
    }
    let copy = format!("COPY ({sql}) TO STDOUT (FORMAT binary)");
    let stream = client
        .copy_out(&copy)
        .await
        .map_err(|e| db_error(e, "reading the target".to_owned()))?;
    futures::pin_mut!(stream);
    let mut reader = TupleReader::new();
    let mut fields: Vec<Option<Span<usize>>> = Vec::new();
    let mut tally = pass.tally();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| db_error(e, "reading the target".to_owned()))?;
        reader.push(&chunk);
        while let Some(tuple) = reader.next_tuple(&mut fields).map_err(|e| anyhow!(e))? {
            hasher
                .add(tuple, &fields, pass, &mut tally)
                .map_err(|e| anyhow!(e))?;
        }
    }
    reader.finish().map_err(|e| anyhow!(e))?;
    Ok(tally)
}

/// Counts a source reader's converted rows into a tally, through the copy's own encoder, and
/// hands the tally back when the read ends.
struct TallySink {
    hasher: RowHasher,
    pass: Arc<Pass>,
    tally: Tally,
    buf: BytesMut,
    fields: Vec<Option<Span<usize>>>,
    rejected: u64,
    /// The copy's conversions into the target's own column types, so both sides hash the
    /// values the target holds.
    adapters: Option<TableAdapters>,
    mismatch: Option<Mismatch>,
    done: oneshot::Sender<anyhow::Result<(Tally, u64)>>,
}

impl RowSink for TallySink {
    type Error = Stop;

    fn row(&mut self, values: &mut [Value<'_>]) -> Result<RowOutcome, Stop> {
        if let Some(a) = &self.adapters {
            if let refused @ RowOutcome::Refused { .. } = adapt_row(&a.adapters, values) {
                return Ok(refused);
            }
        }
        self.buf.clear();
        copy_encoder::write_row(&mut self.buf, values);
        let added = match parse_tuple(&self.buf, &mut self.fields) {
            Ok(Parsed::Row(_)) => {
                self.hasher
                    .add(&self.buf, &self.fields, &self.pass, &mut self.tally)
            }
            _ => Err(Mismatch("the encoder wrote a row the reader cannot read")),
        };
        match added {
            Ok(()) => Ok(RowOutcome::Written),
            Err(m) => {
                self.mismatch = Some(m);
                Err(Stop)
            }
        }
    }

    fn reject(&mut self, _reject: Reject) -> Result<(), Stop> {
        self.rejected += 1;
        Ok(())
    }
}

impl TableSink for TallySink {
    fn finish(self: Box<Self>, ended: Result<ReadStats, ReadError>) {
        let outcome = match ended {
            Ok(_) => Ok((self.tally, self.rejected)),
            Err(ReadError::Stopped) => Err(match self.mismatch {
                Some(m) => anyhow!(m),
                None => anyhow!("the source scan stopped"),
            }),
            Err(ReadError::Source(e)) => Err(anyhow::Error::new(e)),
        };
        let _ = self.done.send(outcome);
    }
}

/// Reads the source's rows for a pass on the table's reader and tallies them.
async fn scan_source(
    ctx: &TableCtx<'_>,
    readers: &dyn Readers,
    table: &Arc<Table>,
    pass: Arc<Pass>,
    hasher: RowHasher,
    pushed: Option<Vec<KeyRange>>,
) -> Result<(Tally, u64), Exit> {
    let (done, rx) = oneshot::channel();
    let sink = TallySink {
        hasher,
        tally: pass.tally(),
        pass,
        buf: BytesMut::new(),
        fields: Vec::new(),
        rejected: 0,
        adapters: ctx.loaded.adapters.get(&table.name).cloned(),
        mismatch: None,
        done,
    };
    let splittable = ctx.loaded.split(&table.name).is_some();
    let job = ReadJob {
        table: Arc::clone(table),
        ranges: pushed_or_all(pushed.as_deref(), splittable),
    };
    readers.read(job, Box::new(sink));
    let scanned = rx
        .await
        .unwrap_or_else(|_| Err(anyhow!("the source reader stopped without a result")));
    scanned.map_err(|e| {
        let e = e.context(format!(
            "reading table {} from the source",
            show_ident(&table.source_name)
        ));
        Exit::new(ExitCode::FAILED, e, None)
    })
}

/// The key ranges a source pass reads: the pushed-down ones when the table can be cut on its
/// key, else the whole table once (the tally filters).
fn pushed_or_all(pushed: Option<&[KeyRange]>, splittable: bool) -> Vec<KeyRange> {
    match pushed {
        Some(r) if splittable => r.to_vec(),
        _ => vec![KeyRange::ALL],
    }
}

fn diff_key(d: &RowDiff) -> &[u8] {
    match d {
        RowDiff::Missing { key, .. }
        | RowDiff::Extra { key, .. }
        | RowDiff::Changed { key, .. } => key,
    }
}

/// A difference as a report shows it.
fn describe(d: &RowDiff, names: &[&str], types: &[PgType], key: &[usize]) -> RowDifference {
    let show_key = |row: &HeldRow| -> String {
        let cols: Vec<usize> = if key.is_empty() {
            (0..names.len().min(4)).collect()
        } else {
            key.to_vec()
        };
        let mut parts: Vec<String> = cols
            .iter()
            .map(|&i| format!("{}={}", names[i], show(&row.fields[i], &types[i])))
            .collect();
        if key.is_empty() && names.len() > 4 {
            parts.push("…".to_owned());
        }
        parts.join(", ")
    };
    match d {
        RowDiff::Missing { row, .. } => RowDifference {
            kind: "missing",
            key: show_key(row),
            columns: Vec::new(),
        },
        RowDiff::Extra { row, .. } => RowDifference {
            kind: "extra",
            key: show_key(row),
            columns: Vec::new(),
        },
        RowDiff::Changed {
            source,
            target,
            columns,
            ..
        } => RowDifference {
            kind: "changed",
            key: show_key(source),
            columns: columns
                .iter()
                .map(|&i| ColumnDifference {
                    column: names[i].to_owned(),
                    source: show(&source.fields[i], &types[i]),
                    target: show(&target.fields[i], &types[i]),
                })
                .collect(),
        },
    }
}

fn show(f: &pgcutover_verify::digest::HeldField, ty: &PgType) -> String {
    match &f.preview {
        None => "NULL".to_owned(),
        Some(b) => render(ty, b, f.cut),
    }
}
