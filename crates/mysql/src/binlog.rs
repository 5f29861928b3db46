//! The binary log, for following a source after the copy: where the log is now, and whether a
//! server can be followed at all (and if not, what to change).
//!
//! A server can be followed when its binary log is on, in ROW format with FULL row images (a
//! changed row arrives with every column before and after), and the user may read it as a
//! replica would (REPLICATION SLAVE and REPLICATION CLIENT).

use std::collections::VecDeque;
use std::fmt;

use futures::StreamExt;
use mysql_async::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn};
use pgcutover_core::temporal::civil_from_days;

use crate::charset::Charset;
use crate::convert::ColumnConv;
use crate::types::Kind;

/// A place in the binary log: a file and a byte offset in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub file: String,
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.offset)
    }
}

impl Position {
    /// Reads `file:offset`, as [`Position`] shows itself.
    pub fn parse(s: &str) -> Option<Position> {
        let (file, offset) = s.rsplit_once(':')?;
        Some(Position {
            file: file.to_owned(),
            offset: offset.parse().ok()?,
        })
    }
}

/// Where the server's binary log is now; `None` when the binary log is off.
///
/// `SHOW MASTER STATUS` (MariaDB, MySQL up to 8.0); MySQL 8.4 removed it for
/// `SHOW BINARY LOG STATUS` (8.2 and later), which is asked when the first is not understood.
pub async fn current_position(conn: &mut Conn) -> Result<Option<Position>, mysql_async::Error> {
    let rows: Vec<mysql_async::Row> = match conn.query("SHOW MASTER STATUS").await {
        Ok(rows) => rows,
        Err(e) if not_understood(&e) => conn.query("SHOW BINARY LOG STATUS").await?,
        Err(e) => return Err(e),
    };
    Ok(rows.into_iter().next().and_then(|row| {
        let file: Option<String> = row.get(0);
        let offset: Option<u64> = row.get(1);
        Some(Position {
            file: file.filter(|f| !f.is_empty())?,
            offset: offset?,
        })
    }))
}

const ER_PARSE_ERROR: u16 = 1064;

/// Whether the server did not understand a statement (MySQL 8.4 answers `SHOW MASTER STATUS`
/// with a syntax error), as opposed to refusing it: only then is another spelling worth
/// asking. Anything else (no privilege, a lost connection) is the answer.
fn not_understood(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == ER_PARSE_ERROR)
}

impl Position {
    /// The order of two places in one server's log: files by their number (the extension
    /// MySQL counts up, which outgrows six digits), then offsets.
    pub fn cmp_in_log(&self, other: &Position) -> std::cmp::Ordering {
        let number = |f: &str| f.rsplit_once('.').and_then(|(_, n)| n.parse::<u64>().ok());
        match (number(&self.file), number(&other.file)) {
            (Some(a), Some(b)) if a != b => a.cmp(&b),
            (Some(_), Some(_)) => self.offset.cmp(&other.offset),
            _ => (&self.file, self.offset).cmp(&(&other.file, other.offset)),
        }
    }
}

/// Where the log ends now, and how many bytes of it lie from `applied` to there (`SHOW
/// BINARY LOGS` gives each file's size; `None` when `applied`'s file is gone).
pub async fn head(
    conn: &mut Conn,
    applied: Option<Position>,
) -> Result<Option<pgcutover_core::source::LogHead>, mysql_async::Error> {
    let Some(now) = current_position(conn).await? else {
        return Ok(None);
    };
    let behind_bytes = match applied {
        None => None,
        Some(applied) => {
            let files: Vec<(String, u64)> = conn
                .query::<mysql_async::Row, _>("SHOW BINARY LOGS")
                .await?
                .into_iter()
                .filter_map(|r| Some((r.get::<String, _>(0)?, r.get::<u64, _>(1)?)))
                .collect();
            bytes_between(&files, &applied, &now)
        }
    };
    Ok(Some(pgcutover_core::source::LogHead {
        position: now.to_string(),
        behind_bytes,
    }))
}

/// Bytes of log from `from` to `to`, given each file's size (the last one's may have grown
/// since `to` was read: `to` bounds it).
pub fn bytes_between(files: &[(String, u64)], from: &Position, to: &Position) -> Option<u64> {
    if from.cmp_in_log(to).is_ge() {
        return Some(0);
    }
    if from.file == to.file {
        return Some(to.offset - from.offset);
    }
    let start = files.iter().position(|(f, _)| *f == from.file)?;
    let mut total = 0u64;
    for (file, size) in &files[start..] {
        if *file == to.file {
            return Some(total + to.offset);
        }
        total += if *file == from.file {
            size.saturating_sub(from.offset)
        } else {
            *size
        };
    }
    None
}

/// Something that keeps a server from being followed, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub hint: String,
}

impl Problem {
    fn new(what: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            what: what.into(),
            hint: hint.into(),
        }
    }
}

/// The server settings that decide whether its binary log can be followed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    pub log_bin: bool,
    pub format: String,
    pub row_image: String,
    pub server_id: u32,
    /// How long binary logs are kept, in seconds, when the server purges them (0: never).
    pub expire_seconds: u64,
    /// MySQL 8's `binlog_row_value_options` ('' elsewhere): PARTIAL_JSON logs JSON updates
    /// as diffs.
    pub row_value_options: String,
    /// MySQL 8.0.20+'s `binlog_transaction_compression` (off elsewhere).
    pub transaction_compression: bool,
}

/// The problems with a server's binary log settings, none when it can be followed.
pub fn check_settings(s: &LogSettings) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !s.log_bin {
        problems.push(Problem::new(
            "the binary log is off",
            "start the server with log_bin (MariaDB: log-bin=NAME in [mysqld]; MySQL 8 has it on by default) and binlog_format=ROW; it needs a restart",
        ));
        return problems;
    }
    if !s.format.eq_ignore_ascii_case("ROW") {
        problems.push(Problem::new(
            format!("binlog_format is {}, not ROW", s.format),
            "SET GLOBAL binlog_format = 'ROW' (and in the server's configuration, to keep it); sessions opened before keep their format until they reconnect",
        ));
    }
    if !s.row_image.eq_ignore_ascii_case("FULL") {
        problems.push(Problem::new(
            format!("binlog_row_image is {}, not FULL", s.row_image),
            "SET GLOBAL binlog_row_image = 'FULL': a changed row must carry every column to be applied exactly",
        ));
    }
    if s.server_id == 0 {
        problems.push(Problem::new(
            "server_id is 0",
            "give the server a server_id (any number but 0) in its configuration: a server with id 0 refuses replicas",
        ));
    }
    if s.expire_seconds > 0 && s.expire_seconds < MIN_RETENTION_SECONDS {
        problems.push(Problem::new(
            format!(
                "the binary log is kept only {} s (binlog_expire_logs_seconds / expire_logs_days): the copy, and any pause in following, must end before the position it follows from is purged",
                s.expire_seconds
            ),
            "keep it at least a day, longer than the copy and any pause in following: SET GLOBAL binlog_expire_logs_seconds = 86400 (MariaDB before 10.6: expire_logs_days = 1), and in the server's configuration",
        ));
    }
    if s.row_value_options
        .to_ascii_uppercase()
        .contains("PARTIAL_JSON")
    {
        problems.push(Problem::new(
            "binlog_row_value_options is PARTIAL_JSON: JSON updates are logged as diffs, which cannot be applied",
            HINT_PARTIAL_JSON,
        ));
    }
    if s.transaction_compression {
        problems.push(Problem::new(
            "binlog_transaction_compression is ON: compressed transactions cannot be followed yet",
            HINT_COMPRESSION,
        ));
    }
    problems
}

/// A binary log kept less than this (an hour) is too short to follow from: a copy of any size
/// and a restart of the follower must fit in it. 0 means kept until removed by hand.
const MIN_RETENTION_SECONDS: u64 = 3_600;

/// The problems with a user's grants (`SHOW GRANTS` lines) for reading the binary log as a
/// replica: REPLICATION SLAVE (MariaDB 10.5+ also spells it REPLICATION REPLICA) to read it,
/// and REPLICATION CLIENT (MariaDB 10.5+: BINLOG MONITOR) to ask where it is. SUPER or ALL
/// PRIVILEGES on `*.*` give both.
pub fn check_grants(grants: &[String]) -> Vec<Problem> {
    let global: Vec<String> = grants
        .iter()
        .filter_map(|g| {
            let upper = g.to_ascii_uppercase();
            let on = upper.find(" ON *.* ")?;
            Some(upper[..on].trim_start_matches("GRANT ").to_owned())
        })
        .collect();
    let has = |names: &[&str]| {
        global.iter().any(|privs| {
            privs
                .split(',')
                .map(str::trim)
                .any(|p| p == "ALL PRIVILEGES" || p == "SUPER" || names.contains(&p))
        })
    };
    let mut problems = Vec::new();
    if !has(&["REPLICATION SLAVE", "REPLICATION REPLICA"]) {
        problems.push(Problem::new(
            "the user may not read the binary log",
            "GRANT REPLICATION SLAVE ON *.* TO the user (it reads the log as a replica does)",
        ));
    }
    if !has(&["REPLICATION CLIENT", "BINLOG MONITOR"]) {
        problems.push(Problem::new(
            "the user may not ask where the binary log is",
            "GRANT REPLICATION CLIENT ON *.* TO the user (MariaDB 10.5 and later call it BINLOG MONITOR)",
        ));
    }
    problems
}

/// Reads the server's settings and the user's grants, and says what keeps the server from
/// being followed.
pub async fn preflight(conn: &mut Conn) -> Result<Vec<Problem>, mysql_async::Error> {
    let settings = read_settings(conn).await?;
    let mut problems = check_settings(&settings);
    let grants: Vec<String> = conn.query("SHOW GRANTS").await?;
    problems.extend(check_grants(&grants));
    Ok(problems)
}

async fn read_settings(conn: &mut Conn) -> Result<LogSettings, mysql_async::Error> {
    type Row = (Option<String>, Option<String>, Option<String>, Option<u32>);
    // The global values: what the application's sessions get (a session may have set its own).
    let row: Option<Row> = conn
        .query_first(
            "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image, @@GLOBAL.server_id",
        )
        .await?;
    let (log_bin, format, row_image, server_id) = row.unwrap_or_default();
    let mut settings = LogSettings {
        log_bin: matches!(log_bin.as_deref(), Some("1") | Some("ON")),
        format: format.unwrap_or_default(),
        row_image: row_image.unwrap_or_else(|| "FULL".to_owned()),
        server_id: server_id.unwrap_or(0),
        ..LogSettings::default()
    };
    let variables: Vec<(String, String)> = conn.query(OPTIONAL_VARIABLES).await?;
    settings.apply_variables(&variables);
    Ok(settings)
}

/// The settings only some servers have, asked by name so that a server without one simply
/// leaves its row out (`SELECT @@name` would fail there): MySQL 8 keeps logs
/// `binlog_expire_logs_seconds`, MariaDB `expire_logs_days` (from 10.6 the seconds too);
/// only MySQL 8 has `binlog_row_value_options` and `binlog_transaction_compression`.
const OPTIONAL_VARIABLES: &str = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('binlog_expire_logs_seconds', 'expire_logs_days', 'binlog_row_value_options', 'binlog_transaction_compression')";

impl LogSettings {
    /// Takes in the rows (name, value) of [`OPTIONAL_VARIABLES`] the server gave.
    fn apply_variables(&mut self, variables: &[(String, String)]) {
        for (name, value) in variables {
            match name.to_ascii_lowercase().as_str() {
                "binlog_expire_logs_seconds" | "expire_logs_days" => {
                    let Ok(v) = value.parse::<f64>() else {
                        continue;
                    };
                    let seconds = if name.eq_ignore_ascii_case("expire_logs_days") {
                        (v * 86_400.0) as u64
                    } else {
                        v as u64
                    };
                    self.expire_seconds = self.expire_seconds.max(seconds);
                }
                "binlog_row_value_options" => self.row_value_options = value.clone(),
                "binlog_transaction_compression" => {
                    self.transaction_compression =
                        matches!(value.to_ascii_uppercase().as_str(), "ON" | "1")
                }
                _ => {}
            }
        }
    }
}

/// One change the binary log holds, in the order the server wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A row inserted (no `before`), updated (both) or deleted (no `after`) in
    /// `database`.`table`; each image has every column, in the table's order.
    Row {
        database: String,
        table: String,
        before: Option<Vec<mysql_async::Value>>,
        after: Option<Vec<mysql_async::Value>>,
    },
    /// The transaction being read was rolled back: its rows are undone (a `Commit` follows,
    /// for the position after it).
    RolledBack,
    /// A transaction committed (`at`: when, in the source's Unix seconds); `end` is where the
    /// next one starts. Also said at the other points between transactions a reader may go on
    /// from (after a statement outside a transaction, and the events that open a log file),
    /// so that a reader that is all caught up knows the position the server shows.
    Commit { end: Position, at: u32 },
    /// A statement the server logged as text outside a transaction's rows (DDL): a `Commit`
    /// follows it unless it came inside BEGIN … COMMIT. `end` is where the next event starts.
    Statement {
        database: String,
        sql: String,
        end: Position,
    },
}

/// The changes of the binary log from a position on, as a replica reads them.
pub struct Changes {
    stream: BinlogStream,
    decoder: Decoder,
}

/// Turns binary log events into [`Change`]s. Apart from the network stream so that event bytes
/// can be decoded without a server (MySQL 8 is tested that way): what it needs of the stream
/// is the table map events it read ([`TableMaps`]).
pub struct Decoder {
    /// The file being read (a rotate event names the next).
    file: String,
    ready: VecDeque<Change>,
    /// Whether a table's rows (database, table) are wanted: the others are not decoded, so a
    /// table no one follows cannot stop the stream.
    wanted: Wanted,
    /// Inside a transaction (after its GTID event or BEGIN, before its XID or COMMIT): no
    /// position there is a place to go on from.
    in_transaction: bool,
    /// The transaction opened with a BEGIN statement (MySQL's way; MariaDB's GTID event stands
    /// for it): a statement before its COMMIT is part of it. After a GTID event alone, a
    /// statement is DDL standing alone (in ROW format, which following needs).
    began_with_begin: bool,
}

/// The table map events a reader of the log has seen, by table id: a rows event names its
/// table only by id. mysql_common's reader keeps them as it reads (the live stream's too).
pub trait TableMaps {
    fn table_map(&self, table_id: u64) -> Option<&TableMapEvent<'static>>;
}

impl TableMaps for BinlogStream {
    fn table_map(&self, table_id: u64) -> Option<&TableMapEvent<'static>> {
        self.get_tme(table_id)
    }
}

/// Whether the rows of a table (database, table) are wanted.
pub type Wanted = Box<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// What a logged statement does to the transaction around it, when it is one of the
/// statements that begin or end one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransactionWord {
    Begin,
    /// XA END: the XA transaction's statements are over, its end is still to come.
    Inside,
    End,
    /// The transaction's changes are undone.
    Rollback,
    /// Some of the transaction's changes are undone (ROLLBACK TO a savepoint).
    PartialRollback,
}

fn transaction_word(sql: &str) -> Option<TransactionWord> {
    let words: Vec<String> = sql
        .split_ascii_whitespace()
        .take(2)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let first = words.first()?.trim_end_matches(';');
    match (first, words.get(1).map(String::as_str)) {
        ("BEGIN", None) | ("START", Some("TRANSACTION")) => Some(TransactionWord::Begin),
        ("COMMIT", None) => Some(TransactionWord::End),
        ("ROLLBACK", None) => Some(TransactionWord::Rollback),
        ("ROLLBACK", Some("TO" | "WORK")) if sql.to_ascii_uppercase().contains(" TO ") => {
            Some(TransactionWord::PartialRollback)
        }
        ("XA", Some("START" | "BEGIN")) => Some(TransactionWord::Begin),
        ("XA", Some("END" | "PREPARE")) => Some(TransactionWord::Inside),
        ("XA", Some("COMMIT")) => Some(TransactionWord::End),
        ("XA", Some("ROLLBACK")) => Some(TransactionWord::Rollback),
        _ => None,
    }
}

/// MariaDB's own event types that carry nothing a follower applies: annotate rows (160),
/// binlog checkpoint (161), GTID (162), GTID list (163). Any other type the driver does not
/// know (MariaDB's compressed events, encryption) stops the stream rather than be skipped.
const MARIADB_HARMLESS: [u8; 4] = [160, 161, MARIADB_GTID, 163];
const MARIADB_GTID: u8 = 162;

/// MySQL 8.0.26+'s HEARTBEAT_LOG_EVENT_V2, which mysql_common does not know: made up by the
/// server while its log is idle, it carries nothing a follower applies and is no place in the
/// log (heartbeats are passed over, like the older HEARTBEAT_LOG_EVENT the driver knows).
const MYSQL_HEARTBEAT_V2: u8 = 41;

/// The hint for MySQL 8's partial JSON updates, which are logged as diffs a follower cannot
/// apply without the document they change.
pub(crate) const HINT_PARTIAL_JSON: &str = "SET GLOBAL binlog_row_value_options = '' (and in the server's configuration) so that updates log whole JSON documents; sessions that set it themselves must not";

/// The hint for MySQL 8's compressed transactions, whose events carry no position of their
/// own.
const HINT_COMPRESSION: &str = "SET GLOBAL binlog_transaction_compression = OFF (and in the server's configuration); sessions that set it themselves must not";

/// Why the changes cannot be read on.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error(transparent)]
    Mysql(#[from] mysql_async::Error),
    #[error("a row event names table id {0}, which no table map event described")]
    UnknownTable(u64),
    #[error("a row event of {table} cannot be decoded: {message}")]
    Undecodable { table: String, message: String },
    #[error("the binary log holds something pgcutover cannot follow yet: {0}")]
    Unsupported(String),
}

impl Changes {
    /// Reads the log from `from` on `conn`, which becomes a replica's connection with
    /// `server_id` (it must differ from the server's and from every other replica's).
    pub async fn open(
        conn: Conn,
        from: &Position,
        server_id: u32,
        wanted: Wanted,
    ) -> Result<Changes, ChangesError> {
        let stream = conn
            .get_binlog_stream(
                BinlogStreamRequest::new(server_id)
                    .with_filename(from.file.as_bytes())
                    .with_pos(from.offset),
            )
            .await?;
        Ok(Changes {
            stream,
            decoder: Decoder::new(from, wanted),
        })
    }

    /// The next change; waits for the server to write one. `None` when the server ended the
    /// stream.
    pub async fn next(&mut self) -> Option<Result<Change, ChangesError>> {
        loop {
            if let Some(c) = self.decoder.next_change() {
                return Some(Ok(c));
            }
            let event = match self.stream.next().await? {
                Ok(e) => e,
                Err(e) => return Some(Err(e.into())),
            };
            if let Err(e) = self.decoder.decode(&event, &self.stream) {
                return Some(Err(e));
            }
        }
    }

    /// Ends the replica's connection.
    pub async fn close(self) {
        let _ = self.stream.close().await;
    }
}

impl Decoder {
    /// A decoder of the log from `from` on (the server's first events name the file again).
    pub fn new(from: &Position, wanted: Wanted) -> Decoder {
        Decoder {
            file: from.file.clone(),
            ready: VecDeque::new(),
            wanted,
            in_transaction: false,
            began_with_begin: false,
        }
    }

    /// The next change decoded and not yet taken, in the log's order.
    pub fn next_change(&mut self) -> Option<Change> {
        self.ready.pop_front()
    }

    /// Queues the changes one event holds; `tables` has the table maps read so far (a rows
    /// event's table map comes before it).
    pub fn decode(&mut self, event: &Event, tables: &dyn TableMaps) -> Result<(), ChangesError> {
        let header = event.header();
        let end = Position {
            file: self.file.clone(),
            offset: u64::from(header.log_pos()),
        };
        let at = header.timestamp();
        let data = match event.read_data() {
            Ok(Some(d)) => d,
            Ok(None) if header.event_type_raw() == MYSQL_HEARTBEAT_V2 => return Ok(()),
            Ok(None) if MARIADB_HARMLESS.contains(&header.event_type_raw()) => {
                match header.event_type_raw() {
                    // A GTID event opens a transaction (or a statement standing alone).
                    MARIADB_GTID => self.in_transaction = true,
                    // A binlog checkpoint or GTID list opens a log file.
                    _ => self.between_transactions(end, at),
                }
                return Ok(());
            }
            Ok(None) => {
                return Err(ChangesError::Unsupported(format!(
                    "event type {} (a compressed or encrypted binary log?)",
                    header.event_type_raw()
                )))
            }
            Err(e) => return Err(ChangesError::Mysql(mysql_async::Error::Io(e.into()))),
        };
        match data {
            EventData::RotateEvent(r) => {
                let raw = r.name_raw();
                // The server's first, artificial, rotate comes before the format description
                // that says events end in a checksum, so its name still carries the 4 bytes.
                let artificial = header.log_pos() == 0
                    && raw.len() == self.file.len() + 4
                    && raw.starts_with(self.file.as_bytes());
                if !artificial {
                    self.file = String::from_utf8_lossy(raw).into_owned();
                }
            }
            EventData::FormatDescriptionEvent(_) => self.between_transactions(end, at),
            EventData::GtidEvent(_) | EventData::AnonymousGtidEvent(_) => {
                self.in_transaction = true
            }
            EventData::XidEvent(_) => self.committed(end, at)?,
            EventData::QueryEvent(q) => {
                let sql = q.query().into_owned();
                match transaction_word(&sql) {
                    // An XA transaction committed in one phase ends with XA COMMIT.
                    Some(TransactionWord::End) => self.committed(end, at)?,
                    // A group the source rolled back (logged because it also changed a
                    // non-transactional table, whose rows are logged apart): its rows are
                    // undone, and the position after it is a place to go on from.
                    Some(TransactionWord::Rollback) => {
                        self.ready.push_back(Change::RolledBack);
                        self.committed(end, at)?;
                    }
                    Some(TransactionWord::PartialRollback) => {
                        return Err(ChangesError::Unsupported(format!(
                            "a rollback to a savepoint ({}) at {end}, in a transaction that also changed a non-transactional table",
                            sql.chars().take(80).collect::<String>()
                        )))
                    }
                    Some(TransactionWord::Begin) => {
                        self.in_transaction = true;
                        self.began_with_begin = true;
                    }
                    Some(TransactionWord::Inside) => {}
                    None if sql.starts_with('#') => {
                        // MariaDB's stand-in for an event a replica did not say it reads (an
                        // annotation of the rows' statement inside a transaction; a GTID list
                        // or binlog checkpoint between them).
                        self.between_transactions(end, at);
                    }
                    None => {
                        let inside = self.in_transaction && self.began_with_begin;
                        // MySQL 8 logs CREATE TABLE … SELECT as a statement that opens the
                        // transaction its rows come in.
                        let opens = sql
                            .trim_end()
                            .to_ascii_uppercase()
                            .ends_with("START TRANSACTION");
                        self.ready.push_back(Change::Statement {
                            database: q.schema().into_owned(),
                            sql,
                            end: end.clone(),
                        });
                        if opens {
                            self.in_transaction = true;
                            self.began_with_begin = true;
                        } else if !inside {
                            // DDL commits by itself.
                            self.committed(end, at)?;
                        }
                    }
                }
            }
            EventData::RowsEvent(rows) => {
                let id = rows.table_id();
                let tme = tables
                    .table_map(id)
                    .ok_or(ChangesError::UnknownTable(id))?;
                let (database, table) = (
                    tme.database_name().into_owned(),
                    tme.table_name().into_owned(),
                );
                if !(self.wanted)(&database, &table) {
                    return Ok(());
                }
                if let RowsEventData::PartialUpdateRowsEvent(_) = rows {
                    return Err(ChangesError::Unsupported(format!(
                        "a partial JSON update of {database}.{table} at {end} (binlog_row_value_options=PARTIAL_JSON): {HINT_PARTIAL_JSON}"
                    )));
                }
                let undecodable = |message: String| ChangesError::Undecodable {
                    table: format!("{database}.{table}"),
                    message,
                };
                if let Some(column) = short_fraction_time(tme) {
                    return Err(undecodable(format!(
                        "column {} is TIME(1) or TIME(2), which the driver decodes wrongly from the log when negative; following such a table is not supported yet",
                        column + 1
                    )));
                }
                for row in crate::rows::Rows::new(&rows, tme).map_err(undecodable)? {
                    let (before, after) = row.map_err(undecodable)?;
                    self.ready.push_back(Change::Row {
                        database: database.clone(),
                        table: table.clone(),
                        before,
                        after,
                    });
                }
            }
            EventData::XaPrepareLogEvent(_) => {
                return Err(ChangesError::Unsupported(format!(
                    "an XA transaction, prepared at {end}"
                )))
            }
            // MySQL's previous-GTIDs opens a log file: a place to go on from, outside a
            // transaction. Nothing else is taken as one (a table map may follow a statement
            // that opened a transaction without BEGIN).
            EventData::PreviousGtidsEvent(_) => self.between_transactions(end, at),
            // mysql_async reads the compressed events out of it next, with no position of
            // their own: there is no place to go on from inside it, nor after a part of it.
            EventData::TransactionPayloadEvent(_) => {
                return Err(ChangesError::Unsupported(format!(
                    "a compressed transaction at {end} (binlog_transaction_compression=ON): {HINT_COMPRESSION}"
                )))
            }
            EventData::IncidentEvent(_) => {
                return Err(ChangesError::Unsupported(format!(
                    "an incident event at {end}: the source says events may be missing from its binary log there"
                )))
            }
            _ => {}
        }
        Ok(())
    }

    /// A transaction (or a statement standing alone) ended at `end`.
    fn committed(&mut self, end: Position, at: u32) -> Result<(), ChangesError> {
        if end.offset == 0 {
            // The events inside a MySQL 8 compressed transaction payload carry no position of
            // their own: there is no place to go on from after them.
            return Err(ChangesError::Unsupported(format!(
                "a transaction without a position in {} (a compressed transaction: binlog_transaction_compression=ON): {HINT_COMPRESSION}",
                end.file
            )));
        }
        self.in_transaction = false;
        self.began_with_begin = false;
        self.ready.push_back(Change::Commit { end, at });
        Ok(())
    }

    /// An event outside any transaction: after it is a place to go on from, said as an empty
    /// commit (the server sends an artificial copy of some, with no position, at the start).
    fn between_transactions(&mut self, end: Position, at: u32) {
        if !self.in_transaction && end.offset > 0 {
            self.ready.push_back(Change::Commit { end, at });
        }
    }
}

/// A binlog row image's value in the shape the copy's reader gets the same value in (the
/// binary protocol, `character_set_results = binary`, the session in UTC), so that both go
/// through one conversion ([`crate::convert::convert`]). The log writes some types its own
/// way:
/// - integers as their stored bits: unsigned ones read as signed, MEDIUMINT not sign-extended
///   ([`crate::rows`] reads them all as signed; an unsigned reading is taken as the bits too);
/// - TIMESTAMP as Unix seconds (`"1700000000.123"`), where a read gives the UTC date and time;
/// - BINARY(n) without its trailing zero bytes;
/// - ENUM as the label's number, SET as a bitmask of its labels.
pub fn as_read(conv: &ColumnConv, v: mysql_async::Value) -> Result<mysql_async::Value, String> {
    use mysql_async::Value as My;
    if v == My::NULL {
        return Ok(v);
    }
    Ok(match (&conv.kind, v) {
        (Kind::Int { bytes, unsigned }, My::Int(i)) => stored_integer(i, *bytes, *unsigned),
        (Kind::Int { bytes, unsigned }, My::UInt(u)) => stored_integer(u as i64, *bytes, *unsigned),
        (Kind::TinyIntOne { unsigned }, My::Int(i)) => stored_integer(i, 1, *unsigned),
        (Kind::Timestamp, My::Bytes(b)) => unix_seconds_as_date(&b)?,
        // The log writes a year as 1900 + its stored byte, so the zero year 0000 comes as 1900
        // (a year MySQL cannot hold); a read gives the number.
        (Kind::Year, My::Bytes(b)) => match std::str::from_utf8(&b)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(1900) => My::Int(0),
            Some(y) => My::Int(y),
            None => return Err(format!("YEAR {:?}", String::from_utf8_lossy(&b))),
        },
        (Kind::Binary { fixed: Some(n) }, My::Bytes(mut b)) => {
            b.resize(b.len().max(*n as usize), 0);
            My::Bytes(b)
        }
        (Kind::Enum { labels }, My::Int(i)) => {
            // 0 is the '' MySQL stores for a value that was not a label.
            let label = match usize::try_from(i) {
                Ok(0) => "",
                Ok(n) => labels.get(n - 1).ok_or_else(|| {
                    format!(
                        "ENUM value number {n} is not one of its {} labels",
                        labels.len()
                    )
                })?,
                Err(_) => return Err(format!("ENUM value number {i}")),
            };
            My::Bytes(encode(&conv.charset, label)?)
        }
        (Kind::Set { labels }, My::Bytes(mask)) => {
            let bits = mask
                .iter()
                .rev()
                .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
            let chosen: Vec<&str> = labels
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, l)| l.as_str())
                .collect();
            My::Bytes(encode(&conv.charset, &chosen.join(","))?)
        }
        (_, v) => v,
    })
}

/// An integer of `bytes` bytes as the column holds it, from the bits the log wrote.
fn stored_integer(i: i64, bytes: u8, unsigned: bool) -> mysql_async::Value {
    let bits = u32::from(bytes) * 8;
    if unsigned {
        let u = if bits >= 64 {
            i as u64
        } else {
            (i as u64) & ((1u64 << bits) - 1)
        };
        return if bits >= 64 {
            mysql_async::Value::UInt(u)
        } else {
            mysql_async::Value::Int(u as i64)
        };
    }
    if bits >= 64 {
        return mysql_async::Value::Int(i);
    }
    // Sign-extend from the column's width (the log's MEDIUMINT comes unsigned).
    let shift = 64 - bits;
    mysql_async::Value::Int((i << shift) >> shift)
}

/// `"seconds[.fraction]"` since the Unix epoch as the date and time in UTC.
fn unix_seconds_as_date(text: &[u8]) -> Result<mysql_async::Value, String> {
    let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    // MySQL stores the zero TIMESTAMP ('0000-00-00 00:00:00') as 0: 1970-01-01 00:00:00 UTC
    // itself cannot be stored.
    if secs == "0" && frac.bytes().all(|b| b == b'0') {
        return Ok(mysql_async::Value::Date(0, 0, 0, 0, 0, 0, 0));
    }
    let secs: i64 = secs
        .parse()
        .map_err(|_| format!("TIMESTAMP {text:?} is not Unix seconds"))?;
    let micros: u32 = if frac.is_empty() {
        0
    } else if frac.len() <= 6 && frac.bytes().all(|b| b.is_ascii_digit()) {
        format!("{frac:0<6}")
            .parse()
            .map_err(|_| format!("TIMESTAMP {text:?}"))?
    } else {
        return Err(format!(
            "TIMESTAMP {text:?} has more than 6 fractional digits"
        ));
    };
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    Ok(mysql_async::Value::Date(
        u16::try_from(year).map_err(|_| format!("TIMESTAMP {text:?} is out of range"))?,
        month as u8,
        day as u8,
        (of_day / 3600) as u8,
        (of_day % 3600 / 60) as u8,
        (of_day % 60) as u8,
        micros,
    ))
}

/// A label in the bytes the column stores it as. Labels are known as text; only charsets
/// whose bytes can be found back are written (UTF-8, ASCII text in any charset, and the
/// single-byte charsets, by their decoding table).
fn encode(charset: &Charset, label: &str) -> Result<Vec<u8>, String> {
    if label.is_ascii() || charset.name().starts_with("utf8") {
        return Ok(label.as_bytes().to_vec());
    }
    let table: Vec<(char, u8)> = (0..=255u8)
        .filter_map(|b| {
            let byte = [b];
            let decoded = charset.decode(&byte, false).ok()?;
            let mut chars = decoded.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some((c, b)),
                _ => None,
            }
        })
        .collect();
    label
        .chars()
        .map(|c| {
            table
                .iter()
                .find(|(d, _)| *d == c)
                .map(|(_, b)| *b)
                .ok_or_else(|| {
                    format!(
                        "the label {label:?} cannot be written back in {}: following this column is not supported yet",
                        charset.name()
                    )
                })
        })
        .collect()
}

/// The first TIME(1) or TIME(2) column of a table: mysql_common 0.37.3 decodes a negative
/// one with a fraction with an unsigned underflow (a panic in a debug build, a wrong value
/// in a release one), so such rows are refused before the driver reads them.
fn short_fraction_time(tme: &TableMapEvent<'_>) -> Option<usize> {
    use mysql_async::consts::ColumnType;
    (0..tme.columns_count() as usize).find(|&i| {
        matches!(
            tme.get_column_type(i),
            Ok(Some(ColumnType::MYSQL_TYPE_TIME2))
        ) && matches!(tme.get_column_metadata(i), Some([1 | 2]))
    })
}

#[cfg(test)]
mod mysql8_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> LogSettings {
        LogSettings {
            log_bin: true,
            format: "ROW".into(),
            row_image: "FULL".into(),
            server_id: 1,
            ..LogSettings::default()
        }
    }

    fn variables(rows: &[(&str, &str)]) -> LogSettings {
        let rows: Vec<(String, String)> = rows
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut s = on();
        s.apply_variables(&rows);
        s
    }

    #[test]
    fn mysql_8_only_settings_are_read_where_the_server_has_them() {
        // MariaDB 10.11 (SHOW GLOBAL VARIABLES gives only what it has).
        let mariadb = variables(&[
            ("binlog_expire_logs_seconds", "0"),
            ("expire_logs_days", "7.000000"),
        ]);
        assert_eq!(mariadb.expire_seconds, 7 * 86_400);
        assert_eq!(check_settings(&mariadb), []);
        // MySQL 8.0/8.4 as installed.
        let mysql = variables(&[
            ("binlog_expire_logs_seconds", "2592000"),
            ("binlog_row_value_options", ""),
            ("binlog_transaction_compression", "OFF"),
        ]);
        assert_eq!(mysql.expire_seconds, 2_592_000);
        assert_eq!(check_settings(&mysql), []);
        // MySQL 8 logging what cannot be followed.
        let what: Vec<String> = check_settings(&variables(&[
            ("binlog_row_value_options", "PARTIAL_JSON"),
            ("binlog_transaction_compression", "ON"),
        ]))
        .into_iter()
        .map(|p| format!("{} / {}", p.what, p.hint))
        .collect();
        assert_eq!(what.len(), 2, "{what:?}");
        assert!(
            what[0].starts_with("binlog_row_value_options is PARTIAL_JSON"),
            "{what:?}"
        );
        assert!(
            what[0].contains("binlog_row_value_options = ''"),
            "{what:?}"
        );
        assert!(
            what[1].starts_with("binlog_transaction_compression is ON"),
            "{what:?}"
        );
        assert!(
            what[1].contains("binlog_transaction_compression = OFF"),
            "{what:?}"
        );
    }

    #[test]
    fn only_a_statement_not_understood_is_asked_again_as_show_binary_log_status() {
        let server = |code: u16, state: &str, message: &str| {
            mysql_async::Error::Server(mysql_async::ServerError {
                code,
                state: state.into(),
                message: message.into(),
            })
        };
        // MySQL 8.4 no longer knows SHOW MASTER STATUS.
        assert!(not_understood(&server(
            1064,
            "42000",
            "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near 'MASTER STATUS' at line 1"
        )));
        // A refusal is the answer: asking otherwise would hide it.
        assert!(!not_understood(&server(
            1227,
            "42000",
            "Access denied; you need (at least one of) the SUPER, REPLICATION CLIENT privilege(s) for this operation"
        )));
        assert!(!not_understood(&server(
            1045,
            "28000",
            "Access denied for user"
        )));
        assert!(!not_understood(&mysql_async::Error::Driver(
            mysql_async::DriverError::ConnectionClosed
        )));
    }

    #[test]
    fn a_row_format_full_image_log_can_be_followed() {
        assert_eq!(check_settings(&on()), []);
    }

    #[test]
    fn a_binary_log_kept_less_than_an_hour_is_too_short_to_follow_from() {
        let kept = |expire_seconds| {
            check_settings(&LogSettings {
                expire_seconds,
                ..on()
            })
        };
        assert_eq!(kept(0), [], "kept until removed by hand");
        assert_eq!(kept(86_400), []);
        let short = kept(600);
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(short[0].what.contains("kept only 600 s"), "{short:?}");
    }

    #[test]
    fn each_setting_that_keeps_a_server_from_being_followed_is_named() {
        let off = check_settings(&LogSettings::default());
        assert_eq!(off.len(), 1, "{off:?}");
        assert_eq!(off[0].what, "the binary log is off");
        let wrong = check_settings(&LogSettings {
            format: "MIXED".into(),
            row_image: "MINIMAL".into(),
            server_id: 0,
            ..on()
        });
        let what: Vec<&str> = wrong.iter().map(|p| p.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "binlog_format is MIXED, not ROW",
                "binlog_row_image is MINIMAL, not FULL",
                "server_id is 0"
            ]
        );
    }

    #[test]
    fn grants_read_as_mariadb_and_mysql_write_them() {
        let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // MySQL 8 and MariaDB before 10.5.
        assert_eq!(
            check_grants(&lines(&[
                "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `cdc`@`%`",
                "GRANT SELECT ON `shop`.* TO `cdc`@`%`",
            ])),
            []
        );
        // MariaDB 10.5+ names.
        assert_eq!(
            check_grants(&lines(&[
                "GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `cdc`@`%` IDENTIFIED BY PASSWORD '*X'"
            ])),
            []
        );
        assert_eq!(
            check_grants(&lines(&[
                "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"
            ])),
            []
        );
        // On one database only: not enough for the log, which is the server's.
        let missing = check_grants(&lines(&[
            "GRANT USAGE ON *.* TO `app`@`%`",
            "GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`",
        ]));
        let what: Vec<&str> = missing.iter().map(|p| p.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "the user may not read the binary log",
                "the user may not ask where the binary log is"
            ]
        );
    }

    #[test]
    fn integers_come_back_from_their_stored_bits() {
        use mysql_async::Value::{Int, UInt};
        assert_eq!(stored_integer(-1, 1, true), Int(255));
        assert_eq!(stored_integer(-1, 3, true), Int(16_777_215));
        assert_eq!(stored_integer(-1, 8, true), UInt(u64::MAX));
        assert_eq!(stored_integer(8_388_608, 3, false), Int(-8_388_608));
        assert_eq!(stored_integer(8_388_607, 3, false), Int(8_388_607));
        assert_eq!(stored_integer(i64::MIN, 8, false), Int(i64::MIN));
        assert_eq!(stored_integer(-128, 1, false), Int(-128));
    }

    #[test]
    fn timestamps_come_back_as_utc_dates() {
        assert_eq!(
            unix_seconds_as_date(b"2147483647.499"),
            Ok(mysql_async::Value::Date(2038, 1, 19, 3, 14, 7, 499_000))
        );
        assert_eq!(
            unix_seconds_as_date(b"1"),
            Ok(mysql_async::Value::Date(1970, 1, 1, 0, 0, 1, 0))
        );
        // The zero TIMESTAMP.
        assert_eq!(
            unix_seconds_as_date(b"0"),
            Ok(mysql_async::Value::Date(0, 0, 0, 0, 0, 0, 0))
        );
        assert!(unix_seconds_as_date(b"1.1234567").is_err());
        assert!(unix_seconds_as_date(b"soon").is_err());
    }

    #[test]
    fn statements_that_begin_and_end_transactions_are_known() {
        use TransactionWord::*;
        assert_eq!(transaction_word("BEGIN"), Some(Begin));
        assert_eq!(transaction_word("begin"), Some(Begin));
        assert_eq!(transaction_word("COMMIT"), Some(End));
        assert_eq!(transaction_word("ROLLBACK"), Some(Rollback));
        assert_eq!(transaction_word("ROLLBACK TO s1"), Some(PartialRollback));
        assert_eq!(
            transaction_word("ROLLBACK WORK TO SAVEPOINT s1"),
            Some(PartialRollback)
        );
        assert_eq!(transaction_word("XA START X'7831',X'',1"), Some(Begin));
        assert_eq!(transaction_word("XA END X'7831',X'',1"), Some(Inside));
        assert_eq!(
            transaction_word("XA COMMIT X'7831',X'',1 ONE PHASE"),
            Some(End)
        );
        assert_eq!(
            transaction_word("XA ROLLBACK X'7831',X'',1"),
            Some(Rollback)
        );
        assert_eq!(transaction_word("ALTER TABLE t ADD c INT"), None);
        assert_eq!(transaction_word("# Dummy event"), None);
    }

    #[test]
    fn positions_order_by_file_number_then_offset() {
        let p = |s: &str| Position::parse(s).unwrap();
        assert!(p("binlog.999999:4")
            .cmp_in_log(&p("binlog.1000000:4"))
            .is_lt());
        assert!(p("binlog.000002:900")
            .cmp_in_log(&p("binlog.000003:4"))
            .is_lt());
        assert!(p("binlog.000003:400")
            .cmp_in_log(&p("binlog.000003:400"))
            .is_eq());
        assert!(p("binlog.000003:401")
            .cmp_in_log(&p("binlog.000003:400"))
            .is_gt());
    }

    #[test]
    fn bytes_behind_count_across_files() {
        let p = |s: &str| Position::parse(s).unwrap();
        let files = vec![
            ("b.000001".to_owned(), 1000),
            ("b.000002".to_owned(), 500),
            ("b.000003".to_owned(), 300),
        ];
        assert_eq!(
            bytes_between(&files, &p("b.000002:100"), &p("b.000002:350")),
            Some(250)
        );
        assert_eq!(
            bytes_between(&files, &p("b.000001:900"), &p("b.000003:256")),
            Some(100 + 500 + 256)
        );
        assert_eq!(
            bytes_between(&files, &p("b.000003:256"), &p("b.000003:256")),
            Some(0)
        );
        assert_eq!(
            bytes_between(&files, &p("b.000003:300"), &p("b.000003:256")),
            Some(0)
        );
        // A purged file: not known.
        assert_eq!(
            bytes_between(&files, &p("b.000000:4"), &p("b.000003:256")),
            None
        );
    }

    #[test]
    fn positions_show_and_read_back() {
        let p = Position {
            file: "binlog.000007".into(),
            offset: 1234,
        };
        assert_eq!(p.to_string(), "binlog.000007:1234");
        assert_eq!(Position::parse("binlog.000007:1234"), Some(p));
        assert_eq!(Position::parse("binlog.000007"), None);
    }
}
