//! The run state: what a copy has done, kept in the target database (schema `pgcutover`) so
//! that running the same command again resumes where it stopped.
//!
//! - `runs`: one row per target schema: the run's fingerprint, its status, and what it
//!   created (for `reset`).
//! - `tables`: the tables the run loads, in load order, with their source names.
//! - `chunks`: every piece of every table, planned once when the run starts. A chunk's row is
//!   marked done in the same transaction as its COPY, so a chunk is in with its checkpoint or
//!   not at all.
//! - `steps`: every post-load step that finished, with its report, marked in the step's own
//!   transaction.
//!
//! Every statement here names the state's tables through [`quote_qualified`].

use std::collections::{BTreeMap, HashMap};

use pgcutover_core::range::KeyRange;
use pgcutover_core::show_ident;
use pgcutover_core::{quote_ident, quote_qualified};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

/// The schema that holds the run state.
pub const SCHEMA: &str = "pgcutover";

fn t(name: &str) -> String {
    quote_qualified(SCHEMA, name)
}

/// Where a run is: `loading` until every table and step is done, then `complete`. Stored as
/// that text in the `runs` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Loading,
    Complete,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Loading => "loading",
            RunStatus::Complete => "complete",
        }
    }

    /// The stored text; anything but `complete` is a run still to finish.
    fn from_state(s: &str) -> RunStatus {
        if s == "complete" {
            RunStatus::Complete
        } else {
            RunStatus::Loading
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Everything that decides what a run produces. A run resumes only under the same
/// fingerprint; see docs/resume.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// pgcutover's version.
    pub version: String,
    /// The source, without its password (a SQLite file by its absolute path).
    pub source: String,
    /// The target, without its password. Recorded, not compared: the state lives in it.
    pub target: String,
    pub target_schema: String,
    /// `full`, `schema-only` or `data-only`.
    pub mode: String,
    /// The options that change what lands in the target.
    pub options: BTreeMap<String, String>,
    /// A hash of every statement the run would create the schema with (tables, types,
    /// keys, indexes, constraints): a changed source schema, or a mapping option that
    /// changes it, changes this.
    pub schema_hash: String,
}

impl Fingerprint {
    /// Why `self` (the stored run) and `new` (this invocation) are not the same run, one
    /// reason per line; empty when they are.
    pub fn differences(&self, new: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        if self.source != new.source {
            out.push(format!(
                "another source: the run copies from {}, this command from {}",
                self.source, new.source
            ));
        }
        if self.mode != new.mode {
            out.push(format!(
                "another mode: the run is {}, this command {}",
                self.mode, new.mode
            ));
        }
        let keys: std::collections::BTreeSet<&String> =
            self.options.keys().chain(new.options.keys()).collect();
        for k in keys {
            let (a, b) = (self.options.get(k), new.options.get(k));
            if a != b {
                out.push(format!(
                    "option --{k}: the run used {}, this command gives {}",
                    a.map_or("(unset)", String::as_str),
                    b.map_or("(unset)", String::as_str)
                ));
            }
        }
        if self.schema_hash != new.schema_hash && self.source == new.source {
            out.push(
                "the source schema (or the mapping of it) changed since the run started: a table, column, type, key, index or constraint differs"
                    .to_owned(),
            );
        }
        if self.version != new.version {
            out.push(format!(
                "another pgcutover: the run was started by {}, this is {}",
                self.version, new.version
            ));
        }
        out
    }
}

/// What a run created or changed in the target: what `reset` undoes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Created {
    /// The target schema, when the run created it.
    pub schema: Option<String>,
    /// Tables the run created (it drops them on reset).
    pub tables: Vec<String>,
    /// Enum types the run created.
    pub enums: Vec<String>,
    /// Functions the run created (ON UPDATE triggers' functions).
    pub functions: Vec<String>,
    /// Existing tables a data-only run loaded into (it empties them on reset).
    pub loaded: Vec<String>,
}

impl Created {
    /// The statements that drop what a run created in `schema`, whatever of it still exists:
    /// the tables (their triggers go with them), then the trigger functions, then the enum
    /// types only those tables used. `cascade` also drops what depends on the tables (views,
    /// foreign keys of other tables), as `--drop-existing` has always done; without it a
    /// dependent object makes the drop fail, which `reset` reports.
    pub fn drop_sql(&self, schema: &str, cascade: bool) -> Vec<String> {
        let mut sql = Vec::new();
        if !self.tables.is_empty() {
            sql.push(format!(
                "DROP TABLE IF EXISTS {}{}",
                self.tables
                    .iter()
                    .map(|t| quote_qualified(schema, t))
                    .collect::<Vec<_>>()
                    .join(", "),
                if cascade { " CASCADE" } else { "" }
            ));
        }
        for f in &self.functions {
            sql.push(format!(
                "DROP FUNCTION IF EXISTS {}()",
                quote_qualified(schema, f)
            ));
        }
        for e in &self.enums {
            sql.push(format!(
                "DROP TYPE IF EXISTS {}",
                quote_qualified(schema, e)
            ));
        }
        sql
    }
}

/// The mark a run leaves when it completes, so that `reset`, `copy --restart` and
/// `copy --drop-existing` can tell whether its tables were written afterwards (after a
/// cutover, the application's new rows live there). See [`written_since`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Completion {
    /// `txid_current()` of the transaction that recorded the completion: every row the run
    /// wrote carries an older `xmin`.
    pub xid: i64,
    /// Rows in each of the run's tables at completion (the rows its chunks wrote; a table it
    /// loaded no rows into is absent and held none).
    pub rows: BTreeMap<String, i64>,
}

/// A run as the state records it.
#[derive(Debug, Clone)]
pub struct Run {
    pub fingerprint: Fingerprint,
    pub status: RunStatus,
    pub created: Created,
    pub attempts: i32,
    pub started_at: String,
    pub updated_at: String,
    pub exit_code: Option<i32>,
    /// Set when the run completed (None for a run still loading, or recorded by a
    /// pgcutover that did not keep it).
    pub completion: Option<Completion>,
}

/// One piece of a table: a key range, or (`unit`) the whole table, emptied first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    pub table: String,
    pub chunk: i32,
    pub range: KeyRange,
    pub unit: bool,
}

/// A chunk's row: its plan and, when done, what it loaded.
#[derive(Debug, Clone)]
pub struct ChunkRow {
    pub plan: ChunkPlan,
    pub done: Option<ChunkDone>,
    /// Why its last try failed for good, while it is not done.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChunkDone {
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_rejected: i64,
    pub zero_dates: BTreeMap<String, u64>,
    pub bytes: i64,
    pub seconds: f64,
}

/// Creates the state schema and tables when they are missing. Serialised by an advisory
/// lock, so two first runs in one database do not race on the catalog.
pub async fn ensure(client: &Client) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "BEGIN;
         SELECT pg_advisory_xact_lock(hashtextextended('pgcutover state', 0));
         CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {runs} (
           target_schema text PRIMARY KEY,
           fingerprint jsonb NOT NULL,
           status text NOT NULL,
           created jsonb NOT NULL,
           attempts integer NOT NULL DEFAULT 1,
           started_at timestamptz NOT NULL DEFAULT now(),
           updated_at timestamptz NOT NULL DEFAULT now(),
           exit_code integer);
         ALTER TABLE {runs} ADD COLUMN IF NOT EXISTS completion jsonb;
         CREATE TABLE IF NOT EXISTS {tables} (
           target_schema text NOT NULL REFERENCES {runs} ON DELETE CASCADE,
           table_name text NOT NULL,
           source_table text NOT NULL,
           position integer NOT NULL,
           source_rows bigint,
           PRIMARY KEY (target_schema, table_name));
         CREATE TABLE IF NOT EXISTS {chunks} (
           target_schema text NOT NULL,
           table_name text NOT NULL,
           chunk integer NOT NULL,
           key_from bigint,
           key_to bigint,
           unit boolean NOT NULL,
           done_at timestamptz,
           result jsonb,
           PRIMARY KEY (target_schema, table_name, chunk),
           FOREIGN KEY (target_schema, table_name) REFERENCES {tables} ON DELETE CASCADE);
         -- Why the chunk's last try failed for good (PostgreSQL refused its COPY); cleared
         -- when it is done. Added to state tables an earlier version made.
         ALTER TABLE {chunks} ADD COLUMN IF NOT EXISTS error text;
         CREATE TABLE IF NOT EXISTS {steps} (
           target_schema text NOT NULL REFERENCES {runs} ON DELETE CASCADE,
           step text NOT NULL,
           position integer NOT NULL,
           report jsonb NOT NULL,
           done_at timestamptz NOT NULL DEFAULT now(),
           PRIMARY KEY (target_schema, step));
         -- Following the source's change log: where the next change to apply is, committed
         -- with the changes applied up to it.
         CREATE TABLE IF NOT EXISTS {follow} (
           target_schema text PRIMARY KEY REFERENCES {runs} ON DELETE CASCADE,
           position text NOT NULL,
           changes bigint NOT NULL DEFAULT 0,
           updated_at timestamptz NOT NULL DEFAULT now());
         -- Changed rows the mapping rejected while following (in the rejects file, in order);
         -- when the source wrote the last transaction applied; where the source's log ended
         -- when the follower last looked, and the bytes from the position to there; the recent
         -- rate; and the cutover that ended following.
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS rejects bigint NOT NULL DEFAULT 0;
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS source_at timestamptz;
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS head text;
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS behind_bytes bigint;
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS head_at timestamptz;
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS changes_per_second double precision;
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS cut_over_at timestamptz;
         ALTER TABLE {follow} ADD COLUMN IF NOT EXISTS cut_over_position text;
         COMMIT;",
        schema = quote_ident(SCHEMA),
        runs = t("runs"),
        tables = t("tables"),
        chunks = t("chunks"),
        steps = t("steps"),
        follow = t("follow"),
    );
    let result = client.batch_execute(&sql).await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

/// Where following stands: the position to go on from, the changes applied, when last, and
/// how far behind the source it was when it last looked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowState {
    pub position: String,
    pub changes: i64,
    pub rejects: i64,
    pub updated_at: String,
    /// When the source wrote the last transaction applied (RFC 3339).
    pub source_at: Option<String>,
    /// Where the source's log ended when the follower last looked, and when that was.
    pub head: Option<String>,
    pub head_at: Option<String>,
    pub behind_bytes: Option<i64>,
    /// Seconds from `source_at` to `head_at` when behind the head then, else 0.
    pub lag_seconds: Option<f64>,
    pub changes_per_second: Option<f64>,
    pub cut_over_at: Option<String>,
    pub cut_over_position: Option<String>,
}

/// The run's follow state, when it has one (`None` too for state tables an earlier pgcutover
/// made, which have no follow table).
pub async fn follow_state(
    client: &Client,
    target_schema: &str,
) -> Result<Option<FollowState>, tokio_postgres::Error> {
    let table = t("follow");
    let present: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .get(0);
    if !present {
        return Ok(None);
    }
    // As JSON: state tables an earlier pgcutover made lack the newer columns, and read as
    // their defaults here (status and cutover do not migrate what they only read).
    let row = client
        .query_opt(
            &format!(
                "SELECT j || jsonb_build_object('lag_seconds', \
                   CASE WHEN j->>'head' IS NULL THEN NULL \
                        WHEN (j->>'behind_bytes')::bigint = 0 OR j->>'head' = j->>'position' THEN 0 \
                        ELSE greatest(extract(epoch FROM (j->>'head_at')::timestamptz \
                                                       - (j->>'source_at')::timestamptz)::float8, 0) END) \
                 FROM (SELECT to_jsonb(f) AS j FROM {table} f WHERE target_schema = $1) s"
            ),
            &[&target_schema],
        )
        .await?;
    Ok(row.map(|r| {
        let j: serde_json::Value = r.get(0);
        let text = |k: &str| j.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        FollowState {
            position: text("position").unwrap_or_default(),
            changes: j.get("changes").and_then(|v| v.as_i64()).unwrap_or(0),
            rejects: j.get("rejects").and_then(|v| v.as_i64()).unwrap_or(0),
            updated_at: text("updated_at").unwrap_or_default(),
            source_at: text("source_at"),
            head: text("head"),
            head_at: text("head_at"),
            behind_bytes: j.get("behind_bytes").and_then(|v| v.as_i64()),
            lag_seconds: j.get("lag_seconds").and_then(|v| v.as_f64()),
            changes_per_second: j.get("changes_per_second").and_then(|v| v.as_f64()),
            cut_over_at: text("cut_over_at"),
            cut_over_position: text("cut_over_position"),
        }
    }))
}

/// Forgets where following would start: a resumed copy read its rows in another snapshot than
/// the one the position belongs to, so no single position fits them all.
pub async fn forget_follow(
    client: &Client,
    target_schema: &str,
) -> Result<(), tokio_postgres::Error> {
    if follow_state(client, target_schema).await?.is_some() {
        client
            .execute(
                &format!("DELETE FROM {} WHERE target_schema = $1", t("follow")),
                &[&target_schema],
            )
            .await?;
    }
    Ok(())
}

/// What one commit of the follower adds to the follow state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Applied {
    pub changes: i64,
    pub rejects: i64,
    /// When the source wrote the last transaction applied (Unix seconds).
    pub source_at: Option<u64>,
}

/// Records, in the caller's transaction, that the changes up to `position` are applied.
/// `false`: the run was cut over meanwhile, and nothing was recorded (the caller rolls back:
/// cutover verified the target as it was).
pub async fn followed_to(
    client: &Client,
    target_schema: &str,
    position: &str,
    applied: Applied,
) -> Result<bool, tokio_postgres::Error> {
    let source_at = applied.source_at.map(|s| s as f64);
    let recorded = client
        .execute(
            &format!(
                "INSERT INTO {}.follow AS f (target_schema, position, changes, rejects, source_at) \
                 VALUES ($1, $2, $3, $4, to_timestamp($5)) \
                 ON CONFLICT (target_schema) DO UPDATE \
                 SET position = EXCLUDED.position, changes = f.changes + EXCLUDED.changes, \
                     rejects = f.rejects + EXCLUDED.rejects, \
                     source_at = coalesce(EXCLUDED.source_at, f.source_at), updated_at = now() \
                 WHERE f.cut_over_at IS NULL",
                quote_ident(SCHEMA)
            ),
            &[
                &target_schema,
                &position,
                &applied.changes,
                &applied.rejects,
                &source_at,
            ],
        )
        .await?;
    Ok(recorded == 1)
}

/// Records where the source's log ended when the follower looked, how many bytes the applied
/// position was behind it, and the recent rate of changes applied.
pub async fn followed_head(
    client: &Client,
    target_schema: &str,
    head: &str,
    behind_bytes: Option<i64>,
    changes_per_second: f64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {} SET head = $2, behind_bytes = $3, head_at = now(), changes_per_second = $4 \
                 WHERE target_schema = $1",
                t("follow")
            ),
            &[&target_schema, &head, &behind_bytes, &changes_per_second],
        )
        .await?;
    Ok(())
}

/// Marks the run as cut over at `position`: a follower still running stops (exit 0), and
/// following does not start again.
pub async fn cut_over(
    client: &Client,
    target_schema: &str,
    position: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {} SET cut_over_at = now(), cut_over_position = $2 WHERE target_schema = $1",
                t("follow")
            ),
            &[&target_schema, &position],
        )
        .await?;
    Ok(())
}

/// When the run was cut over, if it was.
pub async fn cut_over_at(
    client: &Client,
    target_schema: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(follow_state(client, target_schema)
        .await?
        .and_then(|f| f.cut_over_at))
}

/// Whether the state schema exists (read-only commands do not create it).
pub async fn exists(client: &Client) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{}.runs", quote_ident(SCHEMA))],
        )
        .await?;
    Ok(row.get(0))
}

/// Takes the run's lock if no one holds it (see [`lock`]), without waiting.
pub async fn try_lock(client: &Client, target_schema: &str) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtextextended('pgcutover run ' || $1, 0))",
            &[&target_schema],
        )
        .await?;
    Ok(row.get(0))
}

/// Holds the run's lock for as long as `client`'s session lives: a second pgcutover on the
/// same target schema waits, then refuses. A killed run's session ends with its process, so
/// the lock frees itself; the wait covers the moment PostgreSQL takes to notice.
pub async fn lock(client: &Client, target_schema: &str) -> Result<bool, tokio_postgres::Error> {
    for _ in 0..50 {
        let row = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended('pgcutover run ' || $1, 0))",
                &[&target_schema],
            )
            .await?;
        if row.get::<_, bool>(0) {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(false)
}

/// The run recorded for `target_schema`, if any.
pub async fn load(client: &Client, target_schema: &str) -> anyhow::Result<Option<Run>> {
    if !exists(client).await? {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!(
                // `completion` through to_jsonb: a state schema made by an earlier pgcutover
                // has no such column, and status/reset read it without altering it.
                "SELECT fingerprint, status, created, attempts, started_at::text, updated_at::text, exit_code, \
                 to_jsonb(r) -> 'completion' FROM {} r WHERE target_schema = $1",
                t("runs")
            ),
            &[&target_schema],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Run {
        fingerprint: serde_json::from_value(row.get(0))?,
        status: RunStatus::from_state(row.get(1)),
        created: serde_json::from_value(row.get(2))?,
        attempts: row.get(3),
        started_at: row.get(4),
        updated_at: row.get(5),
        exit_code: row.get(6),
        completion: row
            .get::<_, Option<serde_json::Value>>(7)
            .filter(|v| !v.is_null())
            .map(serde_json::from_value)
            .transpose()?,
    }))
}

/// Every run recorded in this database, by target schema.
pub async fn runs(client: &Client) -> anyhow::Result<Vec<Run>> {
    if !exists(client).await? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            &format!("SELECT target_schema FROM {} ORDER BY 1", t("runs")),
            &[],
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let schema: String = r.get(0);
        if let Some(run) = load(client, &schema).await? {
            out.push(run);
        }
    }
    Ok(out)
}

/// A table the run loads, in load order.
pub struct TablePlan<'a> {
    pub table: &'a str,
    pub source_table: &'a str,
    pub source_rows: Option<u64>,
    pub chunks: Vec<ChunkPlan>,
}

/// Records a new run: call inside the transaction that creates its tables, so the run and
/// its tables appear together or not at all. Replaces a finished run's record.
pub async fn start(
    client: &Client,
    fingerprint: &Fingerprint,
    created: &Created,
    tables: &[TablePlan<'_>],
) -> anyhow::Result<()> {
    let ts = &fingerprint.target_schema;
    client
        .execute(
            &format!("DELETE FROM {} WHERE target_schema = $1", t("runs")),
            &[ts],
        )
        .await?;
    client
        .execute(
            &format!(
                "INSERT INTO {} (target_schema, fingerprint, status, created) VALUES ($1, $2, 'loading', $3)",
                t("runs")
            ),
            &[ts, &serde_json::to_value(fingerprint)?, &serde_json::to_value(created)?],
        )
        .await?;
    let insert_table = client
        .prepare(&format!(
            "INSERT INTO {} (target_schema, table_name, source_table, position, source_rows) VALUES ($1, $2, $3, $4, $5)",
            t("tables")
        ))
        .await?;
    let insert_chunk = client
        .prepare(&format!(
            "INSERT INTO {} (target_schema, table_name, chunk, key_from, key_to, unit) VALUES ($1, $2, $3, $4, $5, $6)",
            t("chunks")
        ))
        .await?;
    for (i, tp) in tables.iter().enumerate() {
        client
            .execute(
                &insert_table,
                &[
                    ts,
                    &tp.table,
                    &tp.source_table,
                    &(i as i32),
                    &tp.source_rows.map(|n| n as i64),
                ],
            )
            .await?;
        for c in &tp.chunks {
            client
                .execute(
                    &insert_chunk,
                    &[ts, &c.table, &c.chunk, &c.range.from, &c.range.to, &c.unit],
                )
                .await?;
        }
    }
    Ok(())
}

/// Counts another attempt at a run being resumed.
pub async fn resumed(client: &Client, target_schema: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {} SET attempts = attempts + 1, updated_at = now() WHERE target_schema = $1",
                t("runs")
            ),
            &[&target_schema],
        )
        .await
        .map(drop)
}

/// The run's tables (target name → source name), in load order.
pub async fn tables(
    client: &Client,
    target_schema: &str,
) -> Result<Vec<(String, String, Option<i64>)>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT table_name, source_table, source_rows FROM {} WHERE target_schema = $1 ORDER BY position",
                t("tables")
            ),
            &[&target_schema],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Every chunk of the run, done or not, in table order.
pub async fn chunks(client: &Client, target_schema: &str) -> anyhow::Result<Vec<ChunkRow>> {
    let rows = client
        .query(
            &format!(
                // to_jsonb: state an earlier pgcutover made, read by `status` (which does not
                // upgrade it), has no error column.
                "SELECT c.table_name, c.chunk, c.key_from, c.key_to, c.unit, c.result, to_jsonb(c) ->> 'error' \
                 FROM {} c JOIN {} t USING (target_schema, table_name) \
                 WHERE c.target_schema = $1 ORDER BY t.position, c.chunk",
                t("chunks"),
                t("tables")
            ),
            &[&target_schema],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let result: Option<serde_json::Value> = r.get(5);
        out.push(ChunkRow {
            plan: ChunkPlan {
                table: r.get(0),
                chunk: r.get(1),
                range: KeyRange {
                    from: r.get(2),
                    to: r.get(3),
                },
                unit: r.get(4),
            },
            done: result.map(serde_json::from_value).transpose()?,
            error: r.get(6),
        });
    }
    Ok(out)
}

/// Marks a chunk done. Call inside the chunk's transaction, after its COPY.
pub async fn chunk_done(
    client: &Client,
    target_schema: &str,
    plan: &ChunkPlan,
    done: &ChunkDone,
) -> anyhow::Result<()> {
    let n = client
        .execute(
            &format!(
                // When its rows were in (the commit follows at once), not when its transaction
                // began (now()): a chunk's copy takes a while.
                "UPDATE {} SET done_at = clock_timestamp(), result = $4, error = NULL WHERE target_schema = $1 AND table_name = $2 AND chunk = $3 AND done_at IS NULL",
                t("chunks")
            ),
            &[&target_schema, &plan.table, &plan.chunk, &serde_json::to_value(done)?],
        )
        .await?;
    anyhow::ensure!(
        n == 1,
        "chunk {} of {} was already marked done: another pgcutover is loading this target",
        plan.chunk,
        show_ident(&plan.table)
    );
    Ok(())
}

/// Records why a chunk failed for good (it stays to do; the next run tries it again).
pub async fn chunk_failed(
    client: &Client,
    target_schema: &str,
    table: &str,
    chunk: i32,
    error: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {} SET error = $4 WHERE target_schema = $1 AND table_name = $2 AND chunk = $3 AND done_at IS NULL",
                t("chunks")
            ),
            &[&target_schema, &table, &chunk, &error],
        )
        .await
        .map(drop)
}

/// A finished post-load step: its report, and whether it counts as a warning.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepDone {
    pub report: serde_json::Value,
    pub demoted_to_warning: bool,
}

/// The post-load steps already done, by key.
pub async fn steps_done(
    client: &Client,
    target_schema: &str,
) -> anyhow::Result<HashMap<String, StepDone>> {
    let rows = client
        .query(
            &format!(
                "SELECT step, report FROM {} WHERE target_schema = $1",
                t("steps")
            ),
            &[&target_schema],
        )
        .await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(r.get(0), serde_json::from_value(r.get(1))?);
    }
    Ok(out)
}

/// Marks a step done. Call inside the step's transaction.
pub async fn step_done(
    client: &Client,
    target_schema: &str,
    key: &str,
    position: usize,
    done: &StepDone,
) -> anyhow::Result<()> {
    client
        .execute(
            &format!(
                "INSERT INTO {} (target_schema, step, position, report, done_at) \
                 VALUES ($1, $2, $3, $4, clock_timestamp()) \
                 ON CONFLICT (target_schema, step) DO UPDATE SET report = EXCLUDED.report, done_at = clock_timestamp()",
                t("steps")
            ),
            &[&target_schema, &key, &(position as i32), &serde_json::to_value(done)?],
        )
        .await?;
    Ok(())
}

/// Records how the run ended: `complete` once every chunk and every step is done. The first
/// time it completes, it records its [`Completion`] (`rows`: the rows in each table now); a
/// complete run run again keeps the mark of its first completion, so rows written in between
/// still count as written after it.
pub async fn finish(
    client: &Client,
    target_schema: &str,
    complete: bool,
    exit_code: u8,
    rows: &BTreeMap<String, i64>,
) -> anyhow::Result<()> {
    client
        .execute(
            &format!(
                "UPDATE {} SET status = $2, exit_code = $3, updated_at = now(), \
                 completion = CASE WHEN $2 = 'complete' THEN COALESCE(completion, \
                   jsonb_build_object('xid', txid_current(), 'rows', $4::jsonb)) END \
                 WHERE target_schema = $1",
                t("runs")
            ),
            &[
                &target_schema,
                &if complete {
                    RunStatus::Complete
                } else {
                    RunStatus::Loading
                }
                .as_str(),
                &i32::from(exit_code),
                &serde_json::to_value(rows)?,
            ],
        )
        .await?;
    Ok(())
}

/// One of a run's tables that was written after the run completed.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenSince {
    pub table: String,
    /// Rows in it when the run completed (None: the run recorded no completion).
    pub rows_at_completion: Option<i64>,
    pub rows_now: i64,
    /// Rows inserted or updated since the run completed.
    pub rows_new_or_changed: i64,
    pub why: String,
}

/// Rows per table, and which of them were written after the run completed.
///
/// How "written after" is told, and why this way: at completion the run recorded the id of
/// the transaction that completed it and the rows in each table. A row inserted or updated
/// later is a tuple whose `xmin` is a newer transaction: `age(xmin)`, the number of
/// transactions between the row's and ours, is then smaller than the number between the
/// completion and ours. A delete leaves no tuple behind, but changes the row count. Both
/// survive what pg_stat counters do not: `pg_stat_reset()`, a crash (statistics are not
/// crash-safe), a stats collector that lags. VACUUM, VACUUM FULL and freezing keep `xmin`
/// (PostgreSQL ≥ 9.4 freezes with a flag); a rewrite that makes new tuples (pg_repack, an
/// `ALTER TABLE` that rewrites) counts as written, which errs on the safe side. A checksum
/// would see the same but read every byte; this reads each table once, as the row count
/// reset shows has to anyway.
///
/// Call inside a transaction: the first statement gives the transaction its id, so that
/// `age()` counts from exactly that id. `age()` works on 32-bit ids; after more than 2^31
/// transactions since the completion it cannot tell, and the table counts as written.
pub async fn written_since(
    client: &Client,
    target_schema: &str,
    run: &Run,
    tables: &[String],
) -> anyhow::Result<(BTreeMap<String, i64>, Vec<WrittenSince>)> {
    let now: i64 = client.query_one("SELECT txid_current()", &[]).await?.get(0);
    let mut rows = BTreeMap::new();
    let mut written = Vec::new();
    for table in tables {
        let q = quote_qualified(target_schema, table);
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&q])
            .await?
            .get(0);
        if !exists {
            continue;
        }
        let since = run.completion.as_ref().map(|c| now - c.xid);
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), count(*) FILTER (WHERE age(xmin)::bigint < $1) FROM {q}"
                ),
                &[&since.unwrap_or(0)],
            )
            .await?;
        let (count, newer): (i64, i64) = (row.get(0), row.get(1));
        rows.insert(table.clone(), count);
        if run.status != RunStatus::Complete {
            continue;
        }
        let why = match (&run.completion, since) {
            (Some(c), Some(since)) if since < i64::from(i32::MAX) => {
                let then = c.rows.get(table).copied().unwrap_or(0);
                if newer > 0 {
                    format!("{newer} row(s) inserted or updated since the run completed")
                } else if count != then {
                    format!("{then} row(s) when the run completed, {count} now")
                } else {
                    continue;
                }
            }
            (Some(_), _) => "more than 2^31 transactions since the run completed: cannot tell whether it was written".to_owned(),
            (None, _) => "the run recorded no completion mark (an earlier pgcutover): cannot tell whether it was written since".to_owned(),
        };
        written.push(WrittenSince {
            table: table.clone(),
            rows_at_completion: run
                .completion
                .as_ref()
                .map(|c| c.rows.get(table).copied().unwrap_or(0)),
            rows_now: count,
            rows_new_or_changed: newer,
            why,
        });
    }
    Ok((rows, written))
}

/// Forgets a run (its tables and data stay). Drops the state schema when no run is left.
pub async fn forget(client: &Client, target_schema: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!("DELETE FROM {} WHERE target_schema = $1", t("runs")),
            &[&target_schema],
        )
        .await?;
    let left: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}", t("runs")), &[])
        .await?
        .get(0);
    if left == 0 {
        client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", quote_ident(SCHEMA)))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint {
            version: "0.1.0".into(),
            source: "sqlite:/data/a.db".into(),
            target: "postgresql://postgres@localhost:5432/app".into(),
            target_schema: "public".into(),
            mode: "full".into(),
            options: [("enum-as".to_owned(), "enum".to_owned())].into(),
            schema_hash: "abc".into(),
        }
    }

    #[test]
    fn the_same_run_has_no_differences_whatever_the_target_is_called() {
        let mut b = fp();
        b.target = "postgresql://postgres@127.0.0.1/app".into();
        assert!(fp().differences(&b).is_empty());
    }

    #[test]
    fn each_difference_is_named() {
        let mut b = fp();
        b.options.insert("enum-as".into(), "text".into());
        b.options.insert("cast".into(), "int=bigint".into());
        b.schema_hash = "def".into();
        b.version = "0.2.0".into();
        let d = fp().differences(&b);
        assert_eq!(d.len(), 4, "{d:#?}");
        assert!(
            d[0].contains("--cast") && d[0].contains("(unset)"),
            "{d:#?}"
        );
        assert!(d[1].contains("--enum-as: the run used enum, this command gives text"));
        assert!(d[2].contains("source schema"));
        assert!(d[3].contains("0.2.0"));
    }

    #[test]
    fn another_source_is_not_also_called_a_schema_change() {
        let mut b = fp();
        b.source = "sqlite:/data/b.db".into();
        b.schema_hash = "zzz".into();
        let d = fp().differences(&b);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].starts_with("another source"));
    }
}
