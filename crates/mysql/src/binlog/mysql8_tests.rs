//! MySQL 8.0 and 8.4 binary logs, decoded from event bytes: no MySQL 8 server can run here.
//!
//! The events are built from MySQL's documented layouts (libbinlogevents' `control_events.h`,
//! `rows_event.h`, `statement_events.h`; the "MySQL Internals: Binary Log" manual): a v4
//! header, the body, and a CRC32 of both, as a MySQL 8 server sends them to a replica (the
//! format description event says the checksum is CRC32 and carries 8.0's post-header lengths).
//! They are read by mysql_common's `EventStreamReader` — what the live stream reads with,
//! keeping the table maps — and decoded by [`Decoder`], as following does.

use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::EventStreamReader;
use mysql_common::constants::ColumnType;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::PgType;

use super::*;
use crate::convert::tests::conv;
use crate::convert::{convert, ColumnConv};

impl TableMaps for EventStreamReader {
    fn table_map(&self, table_id: u64) -> Option<&TableMapEvent<'static>> {
        self.get_tme(table_id)
    }
}

/// Event type codes (libbinlogevents' `Log_event_type`).
const QUERY: u8 = 2;
const ROTATE: u8 = 4;
const FORMAT_DESCRIPTION: u8 = 15;
const XID: u8 = 16;
const TABLE_MAP: u8 = 19;
const ROWS_QUERY: u8 = 29;
const WRITE_ROWS: u8 = 30;
const UPDATE_ROWS: u8 = 31;
const DELETE_ROWS: u8 = 32;
const GTID: u8 = 33;
const ANONYMOUS_GTID: u8 = 34;
const PREVIOUS_GTIDS: u8 = 35;
const PARTIAL_UPDATE_ROWS: u8 = 39;
const TRANSACTION_PAYLOAD: u8 = 40;
const HEARTBEAT_V2: u8 = 41;

/// `LOG_EVENT_ARTIFICIAL_F`: an event the server made up for the replica (a rotate that
/// names the file first, a heartbeat), not one in the file.
const ARTIFICIAL: u16 = 0x20;
/// A rows event's `STMT_END_F`: the statement's last rows event.
const STMT_END: u16 = 1;

const WHEN: u32 = 1_700_000_000;

/// The post-header lengths of MySQL 8.0's format description event, for event types 1 to 41
/// (`Format_description_event`'s `server_event_header_length`): QUERY 13, ROTATE 8, the
/// format description itself 57 + 41, TABLE_MAP 8, rows v1 8, rows v2 10, GTIDs 42,
/// TRANSACTION_CONTEXT 18, VIEW_CHANGE 52, PARTIAL_UPDATE_ROWS 10, TRANSACTION_PAYLOAD 40.
const MYSQL_80_POST_HEADERS: [u8; 41] = [
    0, 13, 0, 8, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 98, 0, 4, 26, 8, 0, 0, 0, 8, 8, 8, 2, 0, 0, 0, 10,
    10, 10, 42, 42, 0, 18, 52, 0, 10, 40, 0,
];

/// MySQL 8.4's: one type more (GTID_TAGGED_LOG_EVENT, 42), so the format description's own is
/// 57 + 42.
fn mysql_84_post_headers() -> Vec<u8> {
    let mut lengths = MYSQL_80_POST_HEADERS.to_vec();
    lengths[14] = 99;
    lengths.push(0);
    lengths
}

/// MySQL's packed integer (`net_field_length`), as lengths and counts are written.
fn packed(n: u64) -> Vec<u8> {
    match n {
        0..=250 => vec![n as u8],
        251..=0xffff => [&[0xfc][..], &(n as u16).to_le_bytes()].concat(),
        0x1_0000..=0xff_ffff => [&[0xfd][..], &n.to_le_bytes()[..3]].concat(),
        _ => [&[0xfe][..], &n.to_le_bytes()[..]].concat(),
    }
}

/// One event's bytes: the v4 header (timestamp, type, server id, size, position of the next
/// event, flags), the body, and the CRC32 of both.
fn event(type_code: u8, log_pos: u32, flags: u16, timestamp: u32, body: &[u8]) -> Vec<u8> {
    let size = 19 + body.len() as u32 + 4;
    let mut bytes = Vec::with_capacity(size as usize);
    bytes.extend(timestamp.to_le_bytes());
    bytes.push(type_code);
    bytes.extend(1u32.to_le_bytes());
    bytes.extend(size.to_le_bytes());
    bytes.extend(log_pos.to_le_bytes());
    bytes.extend(flags.to_le_bytes());
    bytes.extend(body);
    bytes.extend(crc32fast::hash(&bytes).to_le_bytes());
    bytes
}

/// A binary log file being written: each event's header says where the next starts.
struct LogFile {
    name: String,
    /// Where the next event starts (after the 4-byte magic number at first).
    offset: u32,
}

impl LogFile {
    fn new(name: &str) -> LogFile {
        LogFile {
            name: name.to_owned(),
            offset: 4,
        }
    }

    /// An event written at the end of the file.
    fn write(&mut self, type_code: u8, flags: u16, body: &[u8]) -> Vec<u8> {
        self.offset += 19 + body.len() as u32 + 4;
        event(type_code, self.offset, flags, WHEN, body)
    }

    /// The rotate event the server sends first, naming the file and where it starts reading
    /// it: made up (position 0).
    fn artificial_rotate(&self) -> Vec<u8> {
        event(
            ROTATE,
            0,
            ARTIFICIAL,
            0,
            &rotate_body(u64::from(self.offset), &self.name),
        )
    }

    fn here(&self) -> Position {
        Position {
            file: self.name.clone(),
            offset: u64::from(self.offset),
        }
    }
}

fn rotate_body(position: u64, file: &str) -> Vec<u8> {
    [&position.to_le_bytes()[..], file.as_bytes()].concat()
}

/// A format description: binlog version 4, the server's version, creation time, header length
/// 19, the post-header lengths, and checksum algorithm 1 (CRC32).
fn format_description(server_version: &str, post_headers: &[u8]) -> Vec<u8> {
    let mut body = 4u16.to_le_bytes().to_vec();
    let mut version = [0u8; 50];
    version[..server_version.len()].copy_from_slice(server_version.as_bytes());
    body.extend(version);
    body.extend(WHEN.to_le_bytes());
    body.push(19);
    body.extend(post_headers);
    body.push(1);
    body
}

/// No GTIDs before this file (`gtid_mode=OFF`), or the set `sid:1-5`.
fn previous_gtids(sid: Option<[u8; 16]>) -> Vec<u8> {
    match sid {
        None => 0u64.to_le_bytes().to_vec(),
        Some(sid) => [
            &1u64.to_le_bytes()[..],
            &sid,
            &1u64.to_le_bytes(),
            &1u64.to_le_bytes(),
            &6u64.to_le_bytes(),
        ]
        .concat(),
    }
}

/// A GTID (or anonymous GTID) event as 8.0 writes it: flags, SID, GNO, the logical clock
/// (type 2, last committed, sequence number), then the immediate commit timestamp (7 bytes;
/// bit 55 clear: the original one is the same), the transaction's length, and the immediate
/// server version (bit 31 clear: the original is the same).
fn gtid(sid: [u8; 16], gno: u64, sequence: u64, transaction_length: u64) -> Vec<u8> {
    let mut body = vec![1u8];
    body.extend(sid);
    body.extend(gno.to_le_bytes());
    body.push(2);
    body.extend((sequence - 1).to_le_bytes());
    body.extend(sequence.to_le_bytes());
    body.extend(&(u64::from(WHEN) * 1_000_000 + 123_456).to_le_bytes()[..7]);
    body.extend(packed(transaction_length));
    body.extend(80_036u32.to_le_bytes());
    body
}

const ANONYMOUS: [u8; 16] = [0; 16];
const SERVER_UUID: [u8; 16] = [
    0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x63,
];

/// A query event: thread id, execution time, the default database's length, error code, the
/// status variables' length; the status variables; the database, NUL; the statement. The
/// status variables are those 8.0 writes for a BEGIN: Q_FLAGS2_CODE, Q_SQL_MODE_CODE,
/// Q_CATALOG_NZ_CODE "std", Q_CHARSET_CODE (utf8mb4_0900_ai_ci thrice),
/// Q_DEFAULT_COLLATION_FOR_UTF8MB4, and for DDL Q_UPDATED_DB_NAMES and Q_DDL_LOGGED_WITH_XID.
fn query(database: &str, sql: &str, ddl: bool) -> Vec<u8> {
    let mut status = vec![0u8];
    status.extend(0u32.to_le_bytes());
    status.push(1);
    status.extend(0x4000_0000u64.to_le_bytes());
    status.extend([6, 3]);
    status.extend(b"std");
    status.push(4);
    status.extend([255, 0, 255, 0, 255, 0]);
    status.extend([18, 255, 0]);
    if ddl {
        status.extend([12, 1]);
        status.extend(database.as_bytes());
        status.push(0);
        status.push(17);
        status.extend(77u64.to_le_bytes());
    }
    let mut body = 8u32.to_le_bytes().to_vec();
    body.extend(0u32.to_le_bytes());
    body.push(database.len() as u8);
    body.extend(0u16.to_le_bytes());
    body.extend((status.len() as u16).to_le_bytes());
    body.extend(status);
    body.extend(database.as_bytes());
    body.push(0);
    body.extend(sql.as_bytes());
    body
}

fn xid(id: u64) -> Vec<u8> {
    id.to_le_bytes().to_vec()
}

/// A rows query event (`binlog_rows_query_log_events=ON`): a length byte (ignored) and the
/// statement.
fn rows_query(sql: &str) -> Vec<u8> {
    [&[sql.len().min(255) as u8][..], sql.as_bytes()].concat()
}

/// A column as a table map describes it: its type code, its metadata, and its optional
/// metadata (FULL writes a name; ENUM and SET labels).
struct Col {
    type_code: ColumnType,
    meta: Vec<u8>,
    name: &'static str,
    nullable: bool,
    unsigned: bool,
    labels: Vec<&'static str>,
}

fn col(type_code: ColumnType, meta: &[u8], name: &'static str) -> Col {
    Col {
        type_code,
        meta: meta.to_vec(),
        name,
        nullable: true,
        unsigned: false,
        labels: vec![],
    }
}

/// What optional metadata a table map carries (`binlog_row_metadata`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Metadata {
    /// None at all, as MySQL 5.7 and MariaDB write.
    None,
    Minimal,
    Full,
}

const TABLE_ID: u64 = 92;

/// A table map event: table id (6 bytes), flags; database and table (length, name, NUL);
/// column count, types, metadata (length-prefixed), nullability bitmap; then the optional
/// metadata fields (type, length, value).
fn table_map(database: &str, table: &str, cols: &[Col], metadata: Metadata) -> Vec<u8> {
    let mut body = TABLE_ID.to_le_bytes()[..6].to_vec();
    body.extend(1u16.to_le_bytes());
    for name in [database, table] {
        body.push(name.len() as u8);
        body.extend(name.as_bytes());
        body.push(0);
    }
    body.extend(packed(cols.len() as u64));
    body.extend(cols.iter().map(|c| c.type_code as u8));
    let meta: Vec<u8> = cols.iter().flat_map(|c| c.meta.clone()).collect();
    body.extend(packed(meta.len() as u64));
    body.extend(meta);
    body.extend(bitmap(cols.iter().map(|c| c.nullable), false));
    if metadata != Metadata::None {
        body.extend(optional_metadata(cols, metadata));
    }
    body
}

/// The optional metadata MINIMAL writes (signedness of the numeric columns, the character
/// columns' default charset, the ENUM and SET columns' one) and what FULL adds (column names,
/// SET and ENUM labels, the primary key: the first column, and which columns are visible),
/// in the order MySQL writes them (`Table_map_log_event::init_metadata_fields`).
fn optional_metadata(cols: &[Col], metadata: Metadata) -> Vec<u8> {
    let full = metadata == Metadata::Full;
    let mut out = Vec::new();
    let mut field = |kind: u8, value: Vec<u8>| {
        out.push(kind);
        out.extend(packed(value.len() as u64));
        out.extend(value);
    };
    let numeric: Vec<bool> = cols
        .iter()
        .filter(|c| mysql_numeric(c.type_code))
        .map(|c| c.unsigned)
        .collect();
    if !numeric.is_empty() {
        field(1, bitmap(numeric.into_iter(), true));
    }
    if cols
        .iter()
        .any(|c| c.type_code.is_character_type() && c.labels.is_empty())
    {
        field(2, vec![255]);
    }
    if full {
        let names = cols.iter().flat_map(|c| length_prefixed(c.name));
        field(4, names.collect());
    }
    // ENUM and SET are logged as CHAR, their real type the metadata's first byte.
    let sets = labels_of(cols, 248);
    let enums = labels_of(cols, 247);
    if full && !sets.is_empty() {
        field(5, sets.clone());
    }
    if full && !enums.is_empty() {
        field(6, enums.clone());
    }
    if full {
        field(8, vec![0]);
    }
    if !enums.is_empty() || !sets.is_empty() {
        field(10, vec![255]);
    }
    if full {
        field(12, bitmap(cols.iter().map(|_| true), true));
    }
    out
}

/// The columns MySQL gives a signedness bit (`is_numeric_type` in its log_event.cc and
/// field_common_properties.h): not YEAR, which mysql_common 0.37 counts too.
fn mysql_numeric(ty: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        ty,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
    )
}

fn length_prefixed(s: &str) -> Vec<u8> {
    [packed(s.len() as u64), s.as_bytes().to_vec()].concat()
}

/// The labels of the columns of one real type (247 ENUM, 248 SET): for each, their count,
/// then each label.
fn labels_of(cols: &[Col], real_type: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cols.iter().filter(|c| c.meta.first() == Some(&real_type)) {
        out.extend(packed(c.labels.len() as u64));
        out.extend(c.labels.iter().flat_map(|l| length_prefixed(l)));
    }
    out
}

/// Bits, the first in the lowest bit of the first byte (rows, nullability), or in its highest
/// (`msb_first`: optional metadata's signedness).
fn bitmap(bits: impl Iterator<Item = bool>, msb_first: bool) -> Vec<u8> {
    let bits: Vec<bool> = bits.collect();
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, bit) in bits.iter().enumerate() {
        if *bit {
            out[i / 8] |= if msb_first {
                0x80 >> (i % 8)
            } else {
                1 << (i % 8)
            };
        }
    }
    out
}

/// A row image: the null bitmap of its columns, then the values that are not NULL (each in
/// its column's binary form).
fn image(values: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut out = bitmap(values.iter().map(Option::is_none), false);
    for v in values.iter().flatten() {
        out.extend(v);
    }
    out
}

/// A rows event v2: table id, flags, the extra data's length (2: none), column count, the
/// columns present (twice for an update: before and after), then the row images.
fn rows(columns: usize, update: bool, images: &[Vec<u8>]) -> Vec<u8> {
    let mut body = TABLE_ID.to_le_bytes()[..6].to_vec();
    body.extend(STMT_END.to_le_bytes());
    body.extend(2u16.to_le_bytes());
    body.extend(packed(columns as u64));
    let all = bitmap(std::iter::repeat_n(true, columns), false);
    body.extend(&all);
    if update {
        body.extend(&all);
    }
    for i in images {
        body.extend(i);
    }
    body
}

/// The decoder and the reader, fed events one by one as the live stream would.
struct Follower {
    reader: EventStreamReader,
    decoder: Decoder,
}

impl Follower {
    fn from(file: &str) -> Follower {
        Follower {
            reader: EventStreamReader::new(BinlogVersion::Version4),
            decoder: Decoder::new(
                &Position {
                    file: file.to_owned(),
                    offset: 4,
                },
                Box::new(|db, _| db == "shop"),
            ),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), ChangesError> {
        let event = self
            .reader
            .read(bytes)
            .expect("mysql_common reads the event")
            .expect("an event");
        assert_eq!(event.header().event_size() as usize, bytes.len());
        self.decoder.decode(&event, &self.reader)
    }

    fn feed_all(&mut self, events: &[Vec<u8>]) -> Vec<Change> {
        for e in events {
            self.feed(e).expect("decoded");
        }
        std::iter::from_fn(|| self.decoder.next_change()).collect()
    }
}

fn commit(at: Position) -> Change {
    Change::Commit { end: at, at: WHEN }
}

fn items_cols() -> Vec<Col> {
    vec![
        Col {
            nullable: false,
            unsigned: true,
            ..col(ColumnType::MYSQL_TYPE_LONG, &[], "id")
        },
        // VARCHAR(20) in utf8mb4: up to 80 bytes.
        col(ColumnType::MYSQL_TYPE_VARCHAR, &[80, 0], "name"),
    ]
}

fn item(id: u32, name: Option<&str>) -> Vec<u8> {
    image(&[
        Some(id.to_le_bytes().to_vec()),
        name.map(|n| [&[n.len() as u8][..], n.as_bytes()].concat()),
    ])
}

fn row(before: Option<(i64, Option<&str>)>, after: Option<(i64, Option<&str>)>) -> Change {
    let values = |(id, name): (i64, Option<&str>)| {
        vec![
            mysql_async::Value::Int(id),
            name.map_or(mysql_async::Value::NULL, |n| {
                mysql_async::Value::Bytes(n.into())
            }),
        ]
    };
    Change::Row {
        database: "shop".into(),
        table: "items".into(),
        before: before.map(values),
        after: after.map(values),
    }
}

#[test]
fn the_events_built_here_are_read_back_as_built_checksums_included() {
    let mut f = Follower::from("binlog.000001");
    let mut log = LogFile::new("binlog.000001");
    let fde = log.write(
        FORMAT_DESCRIPTION,
        0,
        &format_description("8.0.36", &MYSQL_80_POST_HEADERS),
    );
    let gtid_event = log.write(GTID, 0, &gtid(SERVER_UUID, 42, 7, 1_000));
    let begin = log.write(QUERY, 0, &query("shop", "BEGIN", false));
    let mut read = Vec::new();
    for bytes in [&fde, &gtid_event, &begin] {
        let event = f.reader.read(&bytes[..]).unwrap().unwrap();
        let alg = mysql_common::binlog::consts::BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32;
        assert_eq!(
            event.checksum(),
            Some(event.calc_checksum(alg).to_le_bytes())
        );
        read.push(event);
    }
    // 8.0's GTID fields, each where mysql_common looks for it.
    let Ok(Some(EventData::GtidEvent(g))) = read[1].read_data() else {
        panic!("not a GTID event");
    };
    assert_eq!((g.sid(), g.gno()), (SERVER_UUID, 42));
    assert_eq!((g.last_committed(), g.sequence_number()), (6, 7));
    let micros = u64::from(WHEN) * 1_000_000 + 123_456;
    assert_eq!(g.immediate_commit_timestamp(), micros);
    assert_eq!(g.original_commit_timestamp(), micros);
    assert_eq!(g.tx_length(), 1_000);
    assert_eq!(g.immediate_server_version(), 80_036);
    let Ok(Some(EventData::QueryEvent(q))) = read[2].read_data() else {
        panic!("not a query event");
    };
    assert_eq!((&*q.schema(), &*q.query()), ("shop", "BEGIN"));
    assert_eq!(f.reader.get_fde().split_version(), (8, 0, 36));
    assert_eq!(
        f.reader
            .get_fde()
            .get_event_type_header_length(mysql_common::binlog::consts::EventType::GTID_EVENT),
        42
    );
}

/// What a MySQL 8 server sends a replica that asks for a file from its start, with
/// `gtid_mode=OFF`: the made-up rotate naming the file, the format description, the previous
/// GTIDs, then each transaction as anonymous GTID, BEGIN, (rows query,) table map, rows, XID.
fn anonymous_transaction(server: &str, post_headers: &[u8]) {
    let mut f = Follower::from("binlog.000003");
    let mut log = LogFile::new("binlog.000003");
    let mut events = vec![log.artificial_rotate()];
    events.push(log.write(
        FORMAT_DESCRIPTION,
        0,
        &format_description(server, post_headers),
    ));
    let opened = log.here();
    events.push(log.write(PREVIOUS_GTIDS, 0, &previous_gtids(None)));
    let between = log.here();
    events.push(log.write(ANONYMOUS_GTID, 0, &gtid(ANONYMOUS, 0, 1, 400)));
    events.push(log.write(QUERY, 8, &query("shop", "BEGIN", false)));
    events.push(log.write(
        ROWS_QUERY,
        0,
        &rows_query("INSERT INTO items VALUES (1, 'pen'), (2, NULL)"),
    ));
    let cols = items_cols();
    events.push(log.write(
        TABLE_MAP,
        0,
        &table_map("shop", "items", &cols, Metadata::Minimal),
    ));
    events.push(log.write(
        WRITE_ROWS,
        0,
        &rows(2, false, &[item(1, Some("pen")), item(2, None)]),
    ));
    events.push(log.write(XID, 0, &xid(11)));
    let committed = log.here();
    assert_eq!(
        f.feed_all(&events),
        [
            commit(opened),
            commit(between),
            row(None, Some((1, Some("pen")))),
            row(None, Some((2, None))),
            commit(committed),
        ],
        "{server}"
    );
}

#[test]
fn a_mysql_80_transaction_is_its_rows_then_one_commit_at_the_xid_end() {
    anonymous_transaction("8.0.36", &MYSQL_80_POST_HEADERS);
}

#[test]
fn a_mysql_84_transaction_is_its_rows_then_one_commit_at_the_xid_end() {
    anonymous_transaction("8.4.3", &mysql_84_post_headers());
}

/// A log followed from the middle of a file: the server sends the made-up rotate, then the
/// format description with position 0 (not a place in the log), then the events from there.
fn from_the_middle(log: &mut LogFile, f: &mut Follower) {
    f.feed(&log.artificial_rotate()).unwrap();
    f.feed(&event(
        FORMAT_DESCRIPTION,
        0,
        0,
        WHEN,
        &format_description("8.0.36", &MYSQL_80_POST_HEADERS),
    ))
    .unwrap();
    assert_eq!(f.decoder.next_change(), None);
}

#[test]
fn gtid_transactions_ddl_and_a_new_file_give_the_positions_between_transactions() {
    let mut f = Follower::from("binlog.000007");
    let mut log = LogFile::new("binlog.000007");
    log.offset = 1_000;
    from_the_middle(&mut log, &mut f);
    let cols = items_cols();
    let mut events = vec![
        log.write(GTID, 0, &gtid(SERVER_UUID, 6, 2, 500)),
        log.write(QUERY, 8, &query("shop", "BEGIN", false)),
        log.write(
            TABLE_MAP,
            0,
            &table_map("shop", "items", &cols, Metadata::Full),
        ),
    ];
    let update = [item(1, Some("pen")), item(1, Some("ink"))];
    events.push(log.write(UPDATE_ROWS, 0, &rows(2, true, &update)));
    events.push(log.write(DELETE_ROWS, 0, &rows(2, false, &[item(2, None)])));
    events.push(log.write(XID, 0, &xid(12)));
    let first = log.here();
    // DDL: a GTID, then the statement alone (8.0 commits it with the data dictionary's XID,
    // which it logs in the statement's status variables, not as an XID event).
    events.push(log.write(GTID, 0, &gtid(SERVER_UUID, 7, 3, 200)));
    let alter = "ALTER TABLE items ADD COLUMN note TEXT";
    events.push(log.write(QUERY, 0, &query("shop", alter, true)));
    let ddl = log.here();
    // The file ends with a rotate to the next; the server then names it and describes it.
    events.push(log.write(ROTATE, 0, &rotate_body(4, "binlog.000008")));
    let mut next = LogFile::new("binlog.000008");
    events.push(next.artificial_rotate());
    events.push(next.write(
        FORMAT_DESCRIPTION,
        0,
        &format_description("8.0.36", &MYSQL_80_POST_HEADERS),
    ));
    let opened = next.here();
    events.push(next.write(PREVIOUS_GTIDS, 0, &previous_gtids(Some(SERVER_UUID))));
    let between = next.here();
    events.push(next.write(GTID, 0, &gtid(SERVER_UUID, 8, 4, 300)));
    events.push(next.write(QUERY, 8, &query("shop", "BEGIN", false)));
    events.push(next.write(
        TABLE_MAP,
        0,
        &table_map("shop", "items", &cols, Metadata::Full),
    ));
    events.push(next.write(WRITE_ROWS, 0, &rows(2, false, &[item(3, Some("cap"))])));
    events.push(next.write(XID, 0, &xid(13)));
    let last = next.here();
    assert_eq!(
        f.feed_all(&events),
        [
            row(Some((1, Some("pen"))), Some((1, Some("ink")))),
            row(Some((2, None)), None),
            commit(first),
            Change::Statement {
                database: "shop".into(),
                sql: alter.into(),
                end: ddl.clone(),
            },
            commit(ddl),
            commit(opened),
            commit(between),
            row(None, Some((3, Some("cap")))),
            commit(last),
        ]
    );
}

#[test]
fn a_heartbeat_while_the_source_is_idle_changes_nothing() {
    let mut f = Follower::from("binlog.000002");
    let mut log = LogFile::new("binlog.000002");
    log.offset = 700;
    from_the_middle(&mut log, &mut f);
    // HEARTBEAT_LOG_EVENT_V2 (8.0.26+): made up, its body the file name and position as
    // type-length-value fields.
    let mut body = vec![0, log.name.len() as u8];
    body.extend(log.name.as_bytes());
    body.extend([1, 3, 0xfc, 0xbc, 0x02]);
    let heartbeat = event(HEARTBEAT_V2, 700, ARTIFICIAL, 0, &body);
    f.feed(&heartbeat).expect("a heartbeat is no error");
    assert_eq!(f.decoder.next_change(), None);
    // And following goes on.
    let events = vec![
        log.write(ANONYMOUS_GTID, 0, &gtid(ANONYMOUS, 0, 1, 300)),
        log.write(QUERY, 8, &query("shop", "BEGIN", false)),
        log.write(
            TABLE_MAP,
            0,
            &table_map("shop", "items", &items_cols(), Metadata::Minimal),
        ),
        log.write(WRITE_ROWS, 0, &rows(2, false, &[item(4, None)])),
        log.write(XID, 0, &xid(14)),
    ];
    let end = log.here();
    assert_eq!(
        f.feed_all(&events),
        [row(None, Some((4, None))), commit(end)]
    );
}

#[test]
fn a_partial_json_update_stops_following_and_says_which_setting() {
    let mut f = Follower::from("binlog.000002");
    let mut log = LogFile::new("binlog.000002");
    from_the_middle(&mut log, &mut f);
    let cols = vec![
        Col {
            nullable: false,
            ..col(ColumnType::MYSQL_TYPE_LONG, &[], "id")
        },
        col(ColumnType::MYSQL_TYPE_JSON, &[4], "doc"),
    ];
    for e in [
        log.write(ANONYMOUS_GTID, 0, &gtid(ANONYMOUS, 0, 1, 300)),
        log.write(QUERY, 8, &query("shop", "BEGIN", false)),
        log.write(
            TABLE_MAP,
            0,
            &table_map("shop", "docs", &cols, Metadata::Full),
        ),
    ] {
        f.feed(&e).unwrap();
    }
    // A partial update's after image starts with the value options (1: PARTIAL_JSON_UPDATES)
    // and a bitmap of the JSON columns logged as diffs.
    let before = image(&[Some(1u32.to_le_bytes().to_vec()), None]);
    let after = [
        &[1u8, 1][..],
        &image(&[Some(1u32.to_le_bytes().to_vec()), None]),
    ]
    .concat();
    let partial = log.write(PARTIAL_UPDATE_ROWS, 0, &rows(2, true, &[before, after]));
    let err = f.feed(&partial).expect_err("a partial update is refused");
    let message = err.to_string();
    assert!(matches!(err, ChangesError::Unsupported(_)), "{message}");
    assert!(message.contains("binlog_row_value_options"), "{message}");
    assert!(message.contains("shop.docs"), "{message}");
}

#[test]
fn a_compressed_transaction_stops_following_and_says_which_setting() {
    let mut f = Follower::from("binlog.000002");
    let mut log = LogFile::new("binlog.000002");
    from_the_middle(&mut log, &mut f);
    f.feed(&log.write(GTID, 0, &gtid(SERVER_UUID, 9, 1, 300)))
        .unwrap();
    // Type-length-value fields: payload size, compression (0: ZSTD), uncompressed size; the
    // end mark; the compressed events.
    let payload = [0x28, 0xb5, 0x2f, 0xfd, 0, 0];
    let mut body = vec![1, 1, payload.len() as u8, 2, 1, 0, 3, 1, 200, 0];
    body.extend(payload);
    let err = f
        .feed(&log.write(TRANSACTION_PAYLOAD, 0, &body))
        .expect_err("a compressed transaction is refused");
    let message = err.to_string();
    assert!(matches!(err, ChangesError::Unsupported(_)), "{message}");
    assert!(
        message.contains("binlog_transaction_compression"),
        "{message}"
    );
}

/// The after image of one row inserted into `shop`.`table` in a MySQL 8 transaction (anonymous
/// GTID, BEGIN, table map with `metadata`, write rows v2), as the follower decodes it.
fn inserted(
    table: &str,
    cols: &[Col],
    image: &[u8],
    metadata: Metadata,
) -> Vec<mysql_async::Value> {
    let mut f = Follower::from("binlog.000002");
    let mut log = LogFile::new("binlog.000002");
    from_the_middle(&mut log, &mut f);
    let changes = f.feed_all(&[
        log.write(ANONYMOUS_GTID, 0, &gtid(ANONYMOUS, 0, 1, 300)),
        log.write(QUERY, 8, &query("shop", "BEGIN", false)),
        log.write(TABLE_MAP, 0, &table_map("shop", table, cols, metadata)),
        log.write(WRITE_ROWS, 0, &rows(cols.len(), false, &[image.to_vec()])),
    ]);
    let [Change::Row {
        after: Some(after), ..
    }] = &changes[..]
    else {
        panic!("{changes:?}");
    };
    after.clone()
}

/// A followed value through the copy's conversion, as following converts it.
fn followed(c: &ColumnConv, v: &mysql_async::Value) -> pgcutover_core::Value<'static> {
    let read = as_read(c, v.clone()).expect("as read");
    convert(c, &ValuePolicy::default(), &read)
        .expect("converts")
        .0
        .into_owned()
}

fn copied(c: &ColumnConv, v: &mysql_async::Value) -> pgcutover_core::Value<'static> {
    convert(c, &ValuePolicy::default(), v)
        .expect("converts")
        .0
        .into_owned()
}

#[test]
fn unsigned_columns_convert_like_the_copy_whatever_metadata_the_log_has() {
    use mysql_async::Value as My;
    use pgcutover_core::Value as Pg;
    let int = |bytes: u8, unsigned: bool| Kind::Int { bytes, unsigned };
    let numeric = PgType::Numeric {
        precision_scale: Some((20, 0)),
    };
    // TINYINT, MEDIUMINT, INT and BIGINT UNSIGNED at their maximums, and a signed INT at -1;
    // what the copy's read gives for each (the binary protocol), and what lands in PostgreSQL.
    let columns = [
        (
            ColumnType::MYSQL_TYPE_TINY,
            conv(int(1, true), PgType::SmallInt),
            vec![0xff],
            My::Int(255),
            Pg::I16(255),
        ),
        (
            ColumnType::MYSQL_TYPE_INT24,
            conv(int(3, true), PgType::Integer),
            vec![0xff; 3],
            My::Int(16_777_215),
            Pg::I32(16_777_215),
        ),
        (
            ColumnType::MYSQL_TYPE_LONG,
            conv(int(4, true), PgType::BigInt),
            vec![0xff; 4],
            My::Int(4_294_967_295),
            Pg::I64(4_294_967_295),
        ),
        (
            ColumnType::MYSQL_TYPE_LONGLONG,
            conv(int(8, true), numeric),
            vec![0xff; 8],
            My::UInt(u64::MAX),
            Pg::Numeric("18446744073709551615".into()),
        ),
        (
            ColumnType::MYSQL_TYPE_LONG,
            conv(int(4, false), PgType::Integer),
            vec![0xff; 4],
            My::Int(-1),
            Pg::I32(-1),
        ),
    ];
    let cols: Vec<Col> = columns
        .iter()
        .enumerate()
        .map(|(i, (ty, c, ..))| Col {
            unsigned: matches!(c.kind, Kind::Int { unsigned: true, .. }),
            nullable: i > 0,
            ..col(*ty, &[], ["a", "b", "c", "d", "e"][i])
        })
        .collect();
    let values = image(
        &columns
            .iter()
            .map(|c| Some(c.2.clone()))
            .collect::<Vec<_>>(),
    );
    for metadata in [Metadata::None, Metadata::Minimal, Metadata::Full] {
        let after = &inserted("n", &cols, &values, metadata);
        for ((_, c, _, read, pg), logged) in columns.iter().zip(after) {
            assert_eq!(followed(c, logged), *pg, "{:?} {logged:?}", c.kind);
            assert_eq!(followed(c, logged), copied(c, read), "{:?}", c.kind);
        }
    }
}

#[test]
fn a_binary_json_column_arrives_as_the_text_the_copy_read() {
    use crate::binjson::tests::{decimal, document, packed_datetime, J};
    let doc = J::Obj(vec![
        ("a", decimal(3, 2, &[0x81, 50])),
        (
            "d",
            J::Opaque(
                ColumnType::MYSQL_TYPE_DATE,
                packed_datetime((2020, 1, 2), (0, 0, 0), 0),
            ),
        ),
        ("n", J::Arr(vec![J::I16(1), J::F64(2.0), J::Null])),
    ]);
    // What a SELECT of the column shows on MySQL 8, so what the copy read.
    let selected = r#"{"a": 1.50, "d": "2020-01-02", "n": [1, 2.0, null]}"#;
    let cols = vec![
        Col {
            nullable: false,
            ..col(ColumnType::MYSQL_TYPE_LONG, &[], "id")
        },
        col(ColumnType::MYSQL_TYPE_JSON, &[4], "doc"),
    ];
    let bytes = document(&doc);
    let json = [&(bytes.len() as u32).to_le_bytes()[..], &bytes].concat();
    let values = image(&[Some(5u32.to_le_bytes().to_vec()), Some(json)]);
    let mut f = Follower::from("binlog.000002");
    let mut log = LogFile::new("binlog.000002");
    from_the_middle(&mut log, &mut f);
    let changes = f.feed_all(&[
        log.write(ANONYMOUS_GTID, 0, &gtid(ANONYMOUS, 0, 1, 300)),
        log.write(QUERY, 8, &query("shop", "BEGIN", false)),
        log.write(
            TABLE_MAP,
            0,
            &table_map("shop", "docs", &cols, Metadata::Full),
        ),
        log.write(WRITE_ROWS, 0, &rows(2, false, &[values])),
    ]);
    let [Change::Row {
        after: Some(after), ..
    }] = &changes[..]
    else {
        panic!("{changes:?}");
    };
    let read = mysql_async::Value::Bytes(selected.into());
    assert_eq!(after[1], read);
    for target in [PgType::Jsonb, PgType::Text] {
        let c = conv(Kind::Json, target);
        assert_eq!(followed(&c, &after[1]), copied(&c, &read));
    }
}

#[test]
fn enum_and_set_columns_convert_like_the_copy_whatever_metadata_the_log_has() {
    use mysql_async::Value as My;
    let sizes = ["small", "large"];
    let tags = ["a", "b", "c"];
    let cols = vec![
        Col {
            nullable: false,
            ..col(ColumnType::MYSQL_TYPE_LONG, &[], "id")
        },
        Col {
            labels: sizes.to_vec(),
            ..col(ColumnType::MYSQL_TYPE_STRING, &[247, 1], "size")
        },
        Col {
            labels: tags.to_vec(),
            ..col(ColumnType::MYSQL_TYPE_STRING, &[248, 1], "tags")
        },
        col(ColumnType::MYSQL_TYPE_VARCHAR, &[40, 0], "note"),
    ];
    // 'large' is label 2; 'a,c' the bits 0 and 2.
    let values = image(&[
        Some(9u32.to_le_bytes().to_vec()),
        Some(vec![2]),
        Some(vec![0b101]),
        Some(b"\x02ok".to_vec()),
    ]);
    let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let size = conv(
        Kind::Enum {
            labels: labels(&sizes),
        },
        PgType::Text,
    );
    let tag = conv(
        Kind::Set {
            labels: labels(&tags),
        },
        PgType::TextArray,
    );
    for metadata in [Metadata::None, Metadata::Minimal, Metadata::Full] {
        let after = &inserted("t", &cols, &values, metadata);
        assert_eq!(after[3], My::Bytes(b"ok".to_vec()));
        assert_eq!(
            followed(&size, &after[1]),
            copied(&size, &My::Bytes(b"large".to_vec()))
        );
        assert_eq!(
            followed(&tag, &after[2]),
            copied(&tag, &My::Bytes(b"a,c".to_vec()))
        );
    }
}

#[test]
fn a_year_column_does_not_shift_the_signedness_of_the_columns_after_it() {
    use mysql_async::Value as My;
    use pgcutover_core::Value as Pg;
    // MySQL writes no signedness bit for YEAR; mysql_common 0.37 reads one for it, so every
    // numeric column after a YEAR gets the next column's bit: here the signed BIGINT reads
    // the INT UNSIGNED's. Our catalog decides instead.
    let int = |bytes: u8, unsigned: bool| Kind::Int { bytes, unsigned };
    let numeric = PgType::Numeric {
        precision_scale: Some((20, 0)),
    };
    let cols = vec![
        col(ColumnType::MYSQL_TYPE_YEAR, &[], "y"),
        col(ColumnType::MYSQL_TYPE_LONGLONG, &[], "a"),
        Col {
            unsigned: true,
            ..col(ColumnType::MYSQL_TYPE_LONG, &[], "b")
        },
        Col {
            unsigned: true,
            ..col(ColumnType::MYSQL_TYPE_LONGLONG, &[], "c")
        },
    ];
    let convs = [
        (
            conv(Kind::Year, PgType::SmallInt),
            My::Int(2024),
            Pg::I16(2024),
        ),
        (
            conv(int(8, false), PgType::BigInt),
            My::Int(-1),
            Pg::I64(-1),
        ),
        (
            conv(int(4, true), PgType::BigInt),
            My::Int(4_294_967_295),
            Pg::I64(4_294_967_295),
        ),
        (
            conv(int(8, true), numeric),
            My::UInt(u64::MAX),
            Pg::Numeric("18446744073709551615".into()),
        ),
    ];
    let values = image(&[
        Some(vec![124]),
        Some(vec![0xff; 8]),
        Some(vec![0xff; 4]),
        Some(vec![0xff; 8]),
    ]);
    for metadata in [Metadata::Minimal, Metadata::Full] {
        let after = &inserted("y", &cols, &values, metadata);
        for ((c, read, pg), logged) in convs.iter().zip(after) {
            assert_eq!(followed(c, logged), *pg, "{:?} {logged:?}", c.kind);
            assert_eq!(followed(c, logged), copied(c, read), "{:?}", c.kind);
        }
    }
}

#[test]
fn a_year_column_with_eight_numeric_ones_is_read_whatever_its_metadata() {
    // With a YEAR, mysql_common 0.37's own row reader counts 9 signedness bits where MySQL
    // wrote 8 (one byte) and cannot read the field. The row images are read without the
    // optional metadata (crate::rows), so such a table's rows arrive.
    let mut cols = vec![col(ColumnType::MYSQL_TYPE_YEAR, &[], "y")];
    cols.extend((0..8).map(|_| col(ColumnType::MYSQL_TYPE_LONG, &[], "n")));
    let mut values = vec![Some(vec![124])];
    values.extend((1..=8i32).map(|n| Some((-n).to_le_bytes().to_vec())));
    for metadata in [Metadata::Minimal, Metadata::Full] {
        let mut f = Follower::from("binlog.000002");
        let mut log = LogFile::new("binlog.000002");
        from_the_middle(&mut log, &mut f);
        let changes = f.feed_all(&[
            log.write(ANONYMOUS_GTID, 0, &gtid(ANONYMOUS, 0, 1, 300)),
            log.write(QUERY, 8, &query("shop", "BEGIN", false)),
            log.write(TABLE_MAP, 0, &table_map("shop", "wide", &cols, metadata)),
            log.write(
                WRITE_ROWS,
                0,
                &rows(cols.len(), false, std::slice::from_ref(&image(&values))),
            ),
        ]);
        let [Change::Row {
            table,
            after: Some(after),
            ..
        }] = &changes[..]
        else {
            panic!("{changes:?}");
        };
        assert_eq!(table, "wide");
        let ints: Vec<&mysql_async::Value> = after[1..].iter().collect();
        let want: Vec<mysql_async::Value> = (1..=8).map(|n| mysql_async::Value::Int(-n)).collect();
        assert_eq!(ints, want.iter().collect::<Vec<_>>(), "{metadata:?}");
    }
}
