//! MySQL/MariaDB behind pgcutover's [`Source`] seam: introspection, the reader pool (with
//! `--consistent`, one snapshot for every session), and a session for counts and orphans.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use pgcutover_core::adapt::TargetType;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::range::{KeyRange, SplitKey};
use pgcutover_core::source::{
    self, ChangeStream, Fault, Introspected, OrphanCount, OrphanQuery, ReadError, ReadJob,
    ReadStats, Readers, Reads, Session, Source, SourceError, TableSink,
};
use pgcutover_core::{show_ident, PgType, Table, Warning};
use tokio::sync::mpsc;

use crate::introspect::{mysql_ident, IntrospectError, IntrospectOptions, TableRead};
use crate::types::{CastMatch, CastRule, MappingOptions};
use crate::{ConnectError, MysqlSource};

/// The source a SOURCE argument names, when it is a `mysql://` or `mariadb://` URL: `None`
/// for any other argument.
pub fn open(
    url: &str,
    password_file: Option<&Path>,
) -> Option<Result<Box<dyn Source>, SourceError>> {
    let lower = url.to_ascii_lowercase();
    // Any mysql:… or mariadb:… (mysql:/… mistyped included) is meant as MySQL, and gets the
    // MySQL URL's own error; so is mysql://u@h/shop.db, which only looks like a file.
    if !(lower.starts_with("mysql:") || lower.starts_with("mariadb:")) {
        return None;
    }
    Some(
        MysqlSource::parse(url, password_file, std::env::var("MYSQL_PWD").ok())
            .map(|m| Box::new(m) as Box<dyn Source>)
            .map_err(|e| {
                SourceError::usage(e).hint(
                    "write mysql://user@host[:port]/database; give the password in MYSQL_PWD or --source-password-file",
                )
            }),
    )
}

/// Whether trying again can help: a lost connection, a restart, a lock wait or a deadlock.
pub fn fault_of(e: &mysql_async::Error) -> Fault {
    match e {
        mysql_async::Error::Io(_) => Fault::Transient,
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => Fault::Transient,
        // Server shutdown, lock wait timeout, deadlock, gone away, lost connection,
        // connection killed, too many connections, query interrupted.
        mysql_async::Error::Server(s)
            if matches!(
                s.code,
                1053 | 1205 | 1213 | 2006 | 2013 | 1927 | 1040 | 1317
            ) =>
        {
            Fault::Transient
        }
        _ => Fault::Fatal,
    }
}

/// An error reading rows: an error the server gave is about this table's rows (a crashed
/// table, a damaged page); anything else (a lost connection) would meet every table.
fn read_failed(e: mysql_async::Error) -> SourceError {
    let rows_only = matches!(e, mysql_async::Error::Server(_));
    let fault = fault_of(&e);
    SourceError::failed(e).fault(fault).rows_only(rows_only)
}

/// A login that failed: a server that is down or restarting may take the next try.
fn connect_failed(e: ConnectError) -> SourceError {
    let hint = e.hint.clone();
    let fault = if e.transient {
        Fault::Transient
    } else {
        Fault::Fatal
    };
    SourceError::cannot_connect(e).hint(hint).fault(fault)
}

/// The server id pgcutover reads the binary log as: a replica's id must differ from the
/// server's and from every other replica's, so it is drawn from a range replicas seldom use.
fn replica_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    0x5000_0000 | ((std::process::id() ^ nanos) & 0x0fff_ffff)
}

/// Opens one session, or says what to check.
async fn connect(m: &MysqlSource) -> Result<Conn, SourceError> {
    m.connect().await.map_err(connect_failed)
}

#[async_trait]
impl Source for MysqlSource {
    fn display(&self) -> String {
        MysqlSource::display(self)
    }

    async fn introspect(
        &self,
        o: &source::IntrospectOptions<'_>,
    ) -> Result<Introspected, SourceError> {
        let casts = parse_casts(o.casts)?;
        let opts = IntrospectOptions {
            mapping: MappingOptions {
                datetime_as_timestamptz: o.datetime_as_timestamptz,
                enum_as_text: o.enum_as_text,
                postgis_schema: o.postgis_schema.clone(),
            },
            casts: &casts,
            zero_dates: o.zero_dates,
            zone: o.zone,
            include: o.include,
        };
        let mut conn = connect(self).await?;
        let built = crate::introspect(&mut conn, &self.database, &opts).await;
        let _ = conn.disconnect().await;
        let built = built.map_err(|e| match e {
            IntrospectError::Mapping(msg) => SourceError::usage(msg)
                .hint("see docs/type-mapping.md for the conversions --cast allows"),
            other => SourceError::failed(other)
                .context(format!("reading the schema of {}", self.display()))
                .hint("the MySQL user needs SELECT on the database's tables and on information_schema"),
        })?;
        Ok(Introspected {
            schema: built.schema,
            reads: Box::new(MysqlReads {
                source: self.clone(),
                tables: Arc::new(built.reads),
            }),
            casts_used: built.casts_used,
        })
    }

    fn check_casts(
        &self,
        raw: &[String],
        introspected: &Introspected,
        source_has: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Warning>, SourceError> {
        check_casts(
            &parse_casts(raw)?,
            raw,
            &introspected.casts_used,
            &introspected.schema,
            source_has,
        )
    }
}

fn parse_casts(raw: &[String]) -> Result<Vec<CastRule>, SourceError> {
    raw.iter()
        .map(|c| CastRule::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(SourceError::usage)
}

/// Every `--cast` rule must name something of the source: a column rule's table and column
/// exist (matched ignoring case, as the rule is applied), and a type rule matches a column of
/// a table that is copied. A rule that names nothing is a typo that would silently leave the
/// mapping as it was. A column rule for a table left out by --include/--exclude, and a type
/// rule no column has, do no harm and only warn.
fn check_casts(
    rules: &[CastRule],
    raw: &[String],
    used: &[bool],
    schema: &pgcutover_core::Schema,
    source_has: &dyn Fn(&str) -> bool,
) -> Result<Vec<Warning>, SourceError> {
    let mut warnings = Vec::new();
    for ((rule, text), &used) in rules.iter().zip(raw).zip(used) {
        match &rule.matcher {
            CastMatch::Column { table, column } => {
                let copied = schema
                    .tables
                    .iter()
                    .find(|t| t.source_name.eq_ignore_ascii_case(table));
                match copied {
                    Some(t) => {
                        if !t
                            .columns
                            .iter()
                            .any(|c| c.source_name.eq_ignore_ascii_case(column))
                        {
                            return Err(SourceError::usage(format!(
                                "--cast {text:?}: table {} has no column {}",
                                show_ident(&t.source_name),
                                show_ident(column)
                            ))
                            .hint(format!(
                                "nothing was written. Its columns are: {}",
                                t.columns
                                    .iter()
                                    .map(|c| show_ident(&c.source_name))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )));
                        }
                    }
                    None if source_has(table) => warnings.push(Warning::new(
                        format!("--cast {text:?}"),
                        format!(
                            "table {} is left out by --include/--exclude, so the rule does nothing",
                            show_ident(table)
                        ),
                    )),
                    None => {
                        return Err(SourceError::usage(format!(
                            "--cast {text:?}: the source has no table {}",
                            show_ident(table)
                        ))
                        .hint("nothing was written. Write TABLE.COLUMN=PGTYPE with the source's names, or TYPE=PGTYPE for every column of a MySQL type"))
                    }
                }
            }
            // The mapping says which rules decided a column's type.
            CastMatch::Type(mysql_type) if !used => warnings.push(Warning::new(
                format!("--cast {text:?}"),
                format!(
                    "no column of the tables copied has the MySQL type {mysql_type} without a more specific rule deciding it, so the rule does nothing"
                ),
            )),
            CastMatch::Type(_) => {}
        }
    }
    Ok(warnings)
}

type Tables = HashMap<String, TableRead>;

/// An introspected MySQL database: where it is and how each table is read.
#[derive(Clone)]
struct MysqlReads {
    source: MysqlSource,
    tables: Arc<Tables>,
}

#[async_trait]
impl Reads for MysqlReads {
    fn split(&self, table: &str) -> Option<&SplitKey> {
        self.tables.get(table)?.split.as_ref()
    }

    fn rename_tables(&mut self, renames: &HashMap<String, String>) {
        source::rename_keys(Arc::make_mut(&mut self.tables), renames);
    }

    fn read_for_target(
        &mut self,
        table: &str,
        column: usize,
        mapped: &PgType,
        target: &TargetType,
    ) -> Option<PgType> {
        // A tinyint(1) going into an integer column is read as the numbers it holds: there,
        // 2 is a value, not an error.
        if *mapped != PgType::Boolean || !matches!(target, TargetType::Int { .. }) {
            return None;
        }
        let tables = Arc::make_mut(&mut self.tables);
        if let Some(conv) = tables.get_mut(table).and_then(|r| r.convs.get_mut(column)) {
            conv.target = PgType::SmallInt;
        }
        Some(PgType::SmallInt)
    }

    fn takes_snapshots(&self) -> bool {
        true
    }

    async fn readers(
        &self,
        jobs: usize,
        consistent: bool,
        policy: ValuePolicy,
    ) -> Result<Box<dyn Readers>, SourceError> {
        Ok(Box::new(
            Pool::start(
                &self.source,
                Arc::clone(&self.tables),
                jobs,
                consistent,
                policy,
            )
            .await?,
        ))
    }

    async fn follow_problems(&self) -> Result<Vec<(String, String)>, SourceError> {
        let mut conn = connect(&self.source).await?;
        let problems = crate::binlog::preflight(&mut conn).await;
        let _ = conn.disconnect().await;
        Ok(problems
            .map_err(|e| read_failed(e).context("checking whether the binary log can be followed"))?
            .into_iter()
            .map(|p| (p.what, p.hint))
            .collect())
    }

    async fn changes(
        &self,
        from: &str,
        tables: Vec<Arc<Table>>,
        policy: ValuePolicy,
    ) -> Result<Box<dyn ChangeStream>, SourceError> {
        let from = crate::binlog::Position::parse(from).ok_or_else(|| {
            SourceError::usage(format!(
                "{from:?} is not a binary log position (file:offset)"
            ))
        })?;
        let conn = connect(&self.source).await?;
        let database = self.source.database.clone();
        let followed: std::collections::HashSet<String> =
            tables.iter().map(|t| t.source_name.clone()).collect();
        let wanted =
            Box::new(move |db: &str, table: &str| db == database && followed.contains(table));
        let changes = crate::binlog::Changes::open(conn, &from, replica_id(), wanted)
            .await
            .map_err(|e| {
                SourceError::cannot_connect(e)
                    .context(format!("reading the binary log from {from}"))
                    .hint("the user needs REPLICATION SLAVE, and the position must not be purged yet (SHOW BINARY LOGS lists what the server keeps)")
            })?;
        Ok(Box::new(crate::follow::MysqlChanges::new(
            changes,
            &self.source.database,
            tables,
            &self.tables,
            policy,
        )))
    }

    async fn change_log_head(
        &self,
        applied: Option<&str>,
    ) -> Result<Option<pgcutover_core::source::LogHead>, SourceError> {
        let mut conn = connect(&self.source).await?;
        let head = crate::binlog::head(&mut conn, applied.and_then(crate::binlog::Position::parse))
            .await
            .map_err(|e| read_failed(e).context("reading where the binary log is"));
        let _ = conn.disconnect().await;
        head
    }

    fn position_reached(&self, position: &str, target: &str) -> bool {
        match (
            crate::binlog::Position::parse(position),
            crate::binlog::Position::parse(target),
        ) {
            (Some(p), Some(t)) => p.cmp_in_log(&t).is_ge(),
            _ => position == target,
        }
    }

    async fn set_read_only(&self) -> Result<String, SourceError> {
        let mut conn = connect(&self.source).await?;
        let done = conn.query_drop("SET GLOBAL read_only = ON").await;
        let _ = conn.disconnect().await;
        done.map_err(|e| {
            read_failed(e)
                .context("setting the source read-only (SET GLOBAL read_only = ON)")
                .hint("the user needs SUPER (MySQL) or READ_ONLY ADMIN (MariaDB); or set it read-only yourself and leave out --set-read-only")
        })?;
        Ok("the source is read-only now (SET GLOBAL read_only = ON; users with SUPER or READ_ONLY ADMIN can still write); SET GLOBAL read_only = OFF undoes it".to_owned())
    }

    async fn session(&self) -> Result<Box<dyn Session>, SourceError> {
        Ok(Box::new(MysqlSession {
            source: self.source.clone(),
            conn: None,
            tables: Arc::clone(&self.tables),
        }))
    }
}

/// A session connects on its first query: the key bounds need none.
struct MysqlSession {
    source: MysqlSource,
    conn: Option<Conn>,
    tables: Arc<Tables>,
}

impl MysqlSession {
    async fn conn(&mut self) -> Result<&mut Conn, SourceError> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.source).await?);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    fn qualified(&self, table: &str) -> String {
        format!(
            "{}.{}",
            mysql_ident(&self.source.database),
            mysql_ident(table)
        )
    }
}

#[async_trait]
impl Session for MysqlSession {
    async fn count(&mut self, table: &Table) -> Result<u64, SourceError> {
        let from = self.qualified(&table.source_name);
        let n: Option<u64> = self
            .conn()
            .await?
            .query_first(format!("SELECT COUNT(*) FROM {from}"))
            .await
            .map_err(|e| {
                read_failed(e).context(format!(
                    "counting the rows of {} in the source",
                    table.source_name
                ))
            })?;
        Ok(n.unwrap_or(0))
    }

    async fn int_bounds(
        &mut self,
        table: &Table,
        _column: usize,
    ) -> Result<Option<(i64, i64)>, SourceError> {
        // The schema scan measured the key's range when the table can be cut on it; without
        // that, the key is hashed instead.
        Ok(self.tables[&table.name]
            .split
            .as_ref()
            .map(|k| (k.min, k.max)))
    }

    async fn orphans(&mut self, q: &OrphanQuery) -> Result<OrphanCount, SourceError> {
        let from = q.from_clause(&mysql_ident, &|t| self.qualified(t));
        let count: Option<u64> = self
            .conn()
            .await?
            .query_first(format!("SELECT COUNT(*) {from}"))
            .await
            .map_err(read_failed)?;
        let count = count.unwrap_or(0);
        if count == 0 {
            return Ok(OrphanCount::default());
        }
        let list: Vec<String> = q
            .columns
            .iter()
            .map(|c| format!("c.{}", mysql_ident(c)))
            .collect();
        let rows: Vec<mysql_async::Row> = self
            .conn()
            .await?
            .query(format!(
                "SELECT DISTINCT {0} {from} ORDER BY {0} LIMIT 5",
                list.join(", ")
            ))
            .await
            .map_err(read_failed)?;
        let examples = rows
            .into_iter()
            .map(|r| {
                q.columns
                    .iter()
                    .zip(r.unwrap())
                    .map(|(c, v)| {
                        let shown = match v {
                            mysql_async::Value::Bytes(b) => {
                                String::from_utf8_lossy(&b).into_owned()
                            }
                            other => other.as_sql(true),
                        };
                        format!("{c}={shown}")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        Ok(OrphanCount { count, examples })
    }

    async fn close(self: Box<Self>) {
        if let Some(conn) = self.conn {
            let _ = conn.disconnect().await;
        }
    }
}

/// One job for a reader session.
struct Job {
    job: ReadJob,
    sink: Box<dyn TableSink>,
}

/// `--jobs` MySQL sessions, each on its own thread, taking jobs from one queue.
struct Pool {
    queue: Mutex<Option<std_mpsc::Sender<Job>>>,
    /// Closes (every sender dropped) once every reader has ended.
    ended: Mutex<Option<mpsc::Receiver<()>>>,
    /// The binary log's position while the snapshot's lock was held.
    position: Option<String>,
}

impl Pool {
    /// Opens `size` sessions. With `consistent`, they all start their transaction while a
    /// global read lock holds writes, so every reader sees the same moment of the source.
    async fn start(
        source: &MysqlSource,
        tables: Arc<Tables>,
        size: usize,
        consistent: bool,
        policy: ValuePolicy,
    ) -> Result<Pool, SourceError> {
        let mut lock_conn = None;
        let mut position = None;
        if consistent {
            let mut c = connect(source).await?;
            if let Err(e) = c.query_drop("FLUSH TABLES WITH READ LOCK").await {
                return Err(consistent_error(e));
            }
            // While writes are held, the log's position is the snapshot's. A server without a
            // binary log, or a user who may not ask (REPLICATION CLIENT), has none to give.
            position = crate::binlog::current_position(&mut c)
                .await
                .ok()
                .flatten()
                .map(|p| p.to_string());
            lock_conn = Some(c);
        }
        let (tx, rx) = std_mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), SourceError>>(size.max(1));
        let (ended_tx, ended_rx) = mpsc::channel::<()>(1);
        for i in 0..size.max(1) {
            let worker = Worker {
                source: source.clone(),
                tables: Arc::clone(&tables),
                consistent,
                policy,
            };
            let (rx, ready_tx, ended_tx) = (Arc::clone(&rx), ready_tx.clone(), ended_tx.clone());
            std::thread::Builder::new()
                .name(format!("mysql reader {i}"))
                .spawn(move || {
                    worker.run(rx, ready_tx);
                    drop(ended_tx);
                })
                .map_err(|e| SourceError::failed(e).context("starting a MySQL reader thread"))?;
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
        drop(ended_tx);
        Ok(Pool {
            queue: Mutex::new(Some(tx)),
            ended: Mutex::new(Some(ended_rx)),
            position,
        })
    }
}

#[async_trait]
impl Readers for Pool {
    fn read(&self, job: ReadJob, sink: Box<dyn TableSink>) {
        let refused = {
            let guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(q) => q.send(Job { job, sink }).err().map(|e| e.0),
                None => Some(Job { job, sink }),
            }
        };
        // Not under the lock: finishing a sink may wait for its COPY.
        if let Some(job) = refused {
            job.sink.finish(Err(ReadError::Source(SourceError::failed(
                "the MySQL readers have stopped",
            ))));
        }
    }

    fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn snapshot_position(&self) -> Option<String> {
        self.position.clone()
    }

    async fn closed(&self) {
        let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut ended) = ended {
            // Each reader holds a sender until its session is closed.
            while ended.recv().await.is_some() {}
        }
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

fn consistent_error(e: mysql_async::Error) -> SourceError {
    let privilege = matches!(&e, mysql_async::Error::Server(s) if s.code == 1227 || s.code == 1044 || s.code == 1045);
    SourceError::cannot_connect(e)
        .context("--consistent: FLUSH TABLES WITH READ LOCK failed")
        .hint(if privilege {
            "the MySQL user needs the RELOAD privilege (GRANT RELOAD ON *.* TO …) for --consistent; without it, stop writes to the source and copy without --consistent"
        } else {
            "a long-running query may hold the tables; retry when it is done, or copy without --consistent while writes are stopped"
        })
}

/// One reader thread: its own small runtime and session.
struct Worker {
    source: MysqlSource,
    tables: Arc<Tables>,
    consistent: bool,
    policy: ValuePolicy,
}

impl Worker {
    fn run(
        self,
        queue: Arc<Mutex<std_mpsc::Receiver<Job>>>,
        ready: mpsc::Sender<Result<(), SourceError>>,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                let _ = ready.blocking_send(Err(
                    SourceError::failed(e).context("starting a reader runtime")
                ));
                return;
            }
        };
        runtime.block_on(async move {
            let conn = match self.open_session().await {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    return;
                }
            };
            let _ = ready.send(Ok(())).await;
            drop(ready);
            self.serve(conn, &queue).await;
        });
    }

    /// A session, in the shared snapshot under `--consistent`.
    async fn open_session(&self) -> Result<Conn, SourceError> {
        let mut conn = connect(&self.source).await?;
        if self.consistent {
            let started = async {
                conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .await?;
                conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                    .await
            };
            if let Err(e) = started.await {
                return Err(
                    SourceError::cannot_connect(e).context("--consistent: starting the snapshot")
                );
            }
        }
        Ok(conn)
    }

    /// Takes jobs until the queue closes.
    ///
    /// A session that broke (the server restarted, the connection was killed) is replaced
    /// before the next job; the job that saw it fail is retried by the writer. Under
    /// --consistent a new session cannot rejoin the snapshot, so every job from then on stops
    /// the run, resumably.
    async fn serve(&self, conn: Conn, queue: &Mutex<std_mpsc::Receiver<Job>>) {
        let mut session = Some(conn);
        let mut snapshot_lost = false;
        loop {
            // Blocking is fine: this thread has nothing else to do until a job comes.
            let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(Job { job, mut sink }) = job else {
                break;
            };
            if snapshot_lost {
                sink.finish(Err(ReadError::Source(
                    SourceError::failed(
                        "a MySQL session of the --consistent snapshot was lost, and a new one cannot see the same snapshot; run the same command again to resume with a new snapshot",
                    )
                    .fault(Fault::Resumable),
                )));
                continue;
            }
            let mut conn = match session.take() {
                Some(c) => c,
                None => match connect(&self.source).await {
                    Ok(c) => c,
                    Err(e) => {
                        sink.finish(Err(ReadError::Source(e)));
                        continue;
                    }
                },
            };
            let ended = self.read(&mut conn, &job, &mut *sink).await;
            // Only a source error may have broken the session (a sink that stopped the read
            // left it whole).
            let failed = matches!(ended, Err(ReadError::Source(_)));
            sink.finish(ended);
            if failed && conn.ping().await.is_err() {
                snapshot_lost = self.consistent;
                continue; // the session is dropped; the next job opens a new one
            }
            session = Some(conn);
        }
        if let Some(conn) = session {
            let _ = conn.disconnect().await;
        }
    }

    async fn read(
        &self,
        conn: &mut Conn,
        job: &ReadJob,
        sink: &mut dyn TableSink,
    ) -> Result<ReadStats, ReadError> {
        let table = &job.table;
        let read = &self.tables[&table.name];
        let mut total = ReadStats {
            rows_read: 0,
            zero_dates: vec![0; read.convs.len()],
        };
        for &range in &job.ranges {
            let range = (range != KeyRange::ALL).then_some(range);
            let stats = crate::read_table(conn, table, read, range, &self.policy, sink)
                .await
                .map_err(|e| match e {
                    crate::ReadError::Sink(_) => ReadError::Stopped,
                    crate::ReadError::Source(e) => ReadError::Source(read_failed(e)),
                })?;
            total.rows_read += stats.rows_read;
            for (t, n) in total.zero_dates.iter_mut().zip(stats.zero_dates) {
                *t += n;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "…".into(),
            state: "HY000".into(),
        })
    }

    #[test]
    fn a_server_error_is_about_the_rows_and_a_lost_connection_is_transient() {
        let crashed = read_failed(server(1194));
        assert!(crashed.rows_only);
        assert_eq!(crashed.fault, Fault::Fatal);
        let deadlock = read_failed(server(1213));
        assert_eq!(deadlock.fault, Fault::Transient);
        let reset = read_failed(mysql_async::Error::Io(mysql_async::IoError::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )));
        assert_eq!(reset.fault, Fault::Transient);
        assert!(!reset.rows_only);
        let closed = read_failed(mysql_async::Error::Driver(
            mysql_async::DriverError::ConnectionClosed,
        ));
        assert_eq!(closed.fault, Fault::Transient);
    }

    #[test]
    fn only_mysql_urls_are_mysql_sources() {
        assert!(open("mysql://u@h/shop.db", None).is_some_and(|r| r.is_ok()));
        assert!(open("MariaDB://u@h/db", None).is_some());
        let mistyped = open("mysql:/u@h/db", None).map(|r| r.err().map(|e| e.kind));
        assert_eq!(
            mistyped,
            Some(Some(pgcutover_core::source::ErrorKind::Usage))
        );
        assert!(open("shop.db", None).is_none());
        assert!(open("sqlite:x.db", None).is_none());
    }
}
