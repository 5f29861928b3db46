//! `copy --data-only` converts each source value into the target column's own type exactly, or
//! rejects its row: per conversion, one line with a value that fits and one that does not,
//! through the real servers (issue 13).
//!
//! Each case is a table `c_<name> (id, v)` on both sides: row 1 holds the value that fits and
//! must read back as the expected text; row 2 the one that does not, which must be absent from
//! the target and in the rejects file with its key, column and reason. One copy loads every
//! case; `verify --mode checksums` then compares through the target's types and must find each
//! table identical apart from its rejected row; `plan --data-only` marks the conversions that may
//! reject.
//!
//! The expected text is what the type's output function writes (what psql shows), not `v::text`:
//! a cast to text would strip `char(n)`'s padding, which is part of what is checked.

use std::collections::BTreeMap;
use std::path::Path;

use crate::harness::{expect_code, pgcutover, query_strings, read_rejects, stdout, MyDb, TestDb};

/// One conversion: a source column type, a target column type, and a value of each kind.
struct Case {
    /// The tables are `c_<name>`.
    name: &'static str,
    /// The source column's type (source DDL).
    source: &'static str,
    /// A value that fits, as a source SQL literal (`NULL` when no value of the type fits).
    fits: &'static str,
    /// A value that does not fit, as a source SQL literal.
    unfit: Option<&'static str>,
    /// The target column's type (PostgreSQL DDL; named types are made by `TARGET_TYPES`).
    target: &'static str,
    /// How PostgreSQL shows the fitting value (session TimeZone UTC); `None`: NULL.
    shows: Option<&'static str>,
    /// Part of the reason the non-fitting value is rejected with.
    reason: &'static str,
}

const fn case(
    name: &'static str,
    source: &'static str,
    fits: &'static str,
    unfit: Option<&'static str>,
    target: &'static str,
    shows: Option<&'static str>,
    reason: &'static str,
) -> Case {
    Case {
        name,
        source,
        fits,
        unfit,
        target,
        shows,
        reason,
    }
}

/// What the application's migrations would have made before the tables.
const TARGET_TYPES: &str = "
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE role AS ENUM ('admin', 'staff');
CREATE TYPE letter AS ENUM ('a', 'b');
CREATE DOMAIN short_code AS varchar(5);
";

const UUID: &str = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";

#[rustfmt::skip]
const MARIADB: &[Case] = &[
    //   name             source type               fits                                  unfit                                    target type                    shows                                  reason
    case("bigint_int",    "BIGINT",                 "2147483647",                         Some("2147483648"),                      "integer",                     Some("2147483647"),                    "2147483648 does not fit integer"),
    case("dec_int",       "DECIMAL(10,2)",          "5.00",                               Some("5.50"),                            "integer",                     Some("5"),                             "5.50 has a fraction"),
    case("dec_scale",     "DECIMAL(10,3)",          "19.990",                             Some("19.995"),                          "numeric(8,2)",                Some("19.99"),                         "more than 2 decimal places; numeric(8,2) would round it"),
    case("dec_digits",    "DECIMAL(12,2)",          "999999.99",                          Some("1000000.00"),                      "numeric(8,2)",                Some("999999.99"),                     "7 integer digits do not fit numeric(8,2)"),
    case("dec_double",    "DECIMAL(30,20)",         "0.1",                                Some("0.12345678901234567890"),          "double precision",            Some("0.1"),                           "cannot be held exactly by double precision"),
    case("int_smallint",  "INT",                    "32767",                              Some("32768"),                           "smallint",                    Some("32767"),                         "32768 does not fit smallint"),
    case("bigint_double", "BIGINT",                 "9007199254740992",                   Some("9007199254740993"),                "double precision",            Some("9.007199254740992e+15"),         "9007199254740993 cannot be held exactly by double precision"),
    case("double_real",   "DOUBLE",                 "0.1",                                Some("0.123456789"),                     "real",                        Some("0.1"),                           "cannot be held exactly by real"),
    case("double_num",    "DOUBLE",                 "0.25",                               Some("0.123"),                           "numeric(5,2)",                Some("0.25"),                          "numeric(5,2) would round it"),
    case("float_double",  "FLOAT",                  "0.1",                                None,                                    "double precision",            Some("0.1"),                           ""),
    case("tinyint_bool",  "TINYINT",                "1",                                  Some("2"),                               "boolean",                     Some("t"),                             "2 is neither 0 nor 1"),
    case("bit1_bool",     "BIT(1)",                 "b'1'",                               None,                                    "boolean",                     Some("t"),                             ""),
    case("varchar_5",     "VARCHAR(20)",            "'abcdé'",                            Some("'abcdef'"),                        "varchar(5)",                  Some("abcdé"),                         "6 characters do not fit varchar(5)"),
    case("varchar_char",  "VARCHAR(10)",            "'ab'",                               Some("'abcdef'"),                        "char(4)",                     Some("ab  "),                          "6 characters do not fit char(4)"),
    case("varchar_citext","VARCHAR(20)",            "'MiXed Case'",                       None,                                    "citext",                      Some("MiXed Case"),                    ""),
    case("dt6_ts3",       "DATETIME(6)",            "'2024-01-02 03:04:05.123'",          Some("'2024-01-02 03:04:05.1234'"),      "timestamp(3)",                Some("2024-01-02 03:04:05.123"),       "finer than timestamp(3) keeps"),
    case("dt_tstz",       "DATETIME",               "'2024-07-01 12:00:00'",              Some("'2024-03-31 02:30:00'"),           "timestamptz",                 Some("2024-07-01 10:00:00+00"),        "2024-03-31 02:30:00 does not exist in Europe/Paris"),
    // Inserted at time_zone +00:00: the instant 10:00 UTC is 11:00 on the Paris wall clock.
    case("ts6_ts0",       "TIMESTAMP(6) NULL",      "'2024-01-15 10:00:00'",              Some("'2024-01-15 10:00:00.5'"),         "timestamp(0)",                Some("2024-01-15 11:00:00"),           "finer than timestamp(0) keeps"),
    case("date_tstz",     "DATE",                   "'2024-07-01'",                       None,                                    "timestamptz",                 Some("2024-06-30 22:00:00+00"),        ""),
    case("dt_date",       "DATETIME",               "'2024-01-02 00:00:00'",              Some("'2024-01-02 00:00:01'"),           "date",                        Some("2024-01-02"),                    "other than midnight does not fit date"),
    case("time6_time1",   "TIME(6)",                "'10:00:00.5'",                       Some("'10:00:00.25'"),                   "time(1)",                     Some("10:00:00.5"),                    "finer than time(1) keeps"),
    case("time_interval", "TIME",                   "'10:30:00'",                         Some("'10:30:15'"),                      "interval hour to minute",     Some("10:30:00"),                      "fields do not keep"),
    case("enum_enum",     "ENUM('admin','staff','guest')", "'admin'",                     Some("'guest'"),                         "role",                        Some("admin"),                         "\"guest\" is not a label of the target's enum type"),
    case("enum_varchar",  "ENUM('small','extra-large-size')", "'small'",                  Some("'extra-large-size'"),              "varchar(10)",                 Some("small"),                         "16 characters do not fit varchar(10)"),
    case("set_enums",     "SET('a','b','c')",       "'a,b'",                              Some("'a,c'"),                           "letter[]",                    Some("{a,b}"),                         "\"c\" is not a label"),
    case("set_texts",     "SET('x','y')",           "'x,y'",                              None,                                    "text[]",                      Some("{x,y}"),                         ""),
    case("json_jsonb",    "JSON",                   "'{\"a\": [1, 2]}'",                  Some("'{\"a\": 1, \"a\": 2}'"),          "jsonb",                       Some("{\"a\": [1, 2]}"),               "key \"a\" appears twice"),
    case("text_jsonb",    "TEXT",                   "'{\"a\": 1}'",                       Some("'{\"a\": 1, \"a\": 2}'"),          "jsonb",                       Some("{\"a\": 1}"),                    "key \"a\" appears twice"),
    case("text_json",     "TEXT",                   "'[1,  2]'",                          Some("'{oops'"),                         "json",                        Some("[1,  2]"),                       "invalid JSON"),
    case("char_uuid",     "CHAR(36)",               "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", Some("'a0eebc99-9c0b-4ef8'"),         "uuid",                        Some(UUID),                            "is not a UUID"),
    case("binary_uuid",   "BINARY(16)",             "UNHEX('a0eebc999c0b4ef8bb6d6bb9bd380a11')", None,                              "uuid",                        Some(UUID),                            ""),
    case("varbin_uuid",   "VARBINARY(16)",          "UNHEX('a0eebc999c0b4ef8bb6d6bb9bd380a11')", Some("X'01'"),                     "uuid",                        Some(UUID),                            "1 bytes are not a UUID's 16"),
    case("varchar_int",   "VARCHAR(10)",            "'42'",                               Some("'42a'"),                           "integer",                     Some("42"),                            "\"42a\" is not a number"),
    case("varchar_bool",  "VARCHAR(10)",            "'yes'",                              Some("'maybe'"),                         "boolean",                     Some("t"),                             "\"maybe\" is not a boolean"),
    case("blob_bytea",    "BLOB",                   "X'00FF'",                            None,                                    "bytea",                       Some("\\x00ff"),                       ""),
    case("text_bytea",    "TEXT",                   "'hé'",                               None,                                    "bytea",                       Some("\\x68c3a9"),                     ""),
    case("null_notnull",  "INT NULL",               "1",                                  Some("NULL"),                            "integer NOT NULL",            Some("1"),                             "NULL, but the target column is NOT NULL"),
    case("year_int",      "YEAR",                   "2024",                               None,                                    "integer",                     Some("2024"),                          ""),
    case("bit8_bit8",     "BIT(8)",                 "b'10100101'",                        None,                                    "bit(8)",                      Some("10100101"),                      ""),
    // No BIT(8) value fits bit varying(4): only a NULL arrives.
    case("bit8_varbit4",  "BIT(8)",                 "NULL",                               Some("b'00000001'"),                     "bit varying(4)",              None,                                  "8 bits do not fit bit varying(4)"),
    case("domain_code",   "VARCHAR(20)",            "'abc'",                              Some("'abcdef'"),                        "short_code",                  Some("abc"),                           "6 characters do not fit varchar(5)"),
];

#[rustfmt::skip]
const SQLITE: &[Case] = &[
    //   name             source type   fits                                  unfit                                            target type        shows                               reason
    case("int_int",       "INTEGER",    "5",                                  Some("3000000000"),                              "integer",         Some("5"),                          "3000000000 does not fit integer"),
    case("text_ts3",      "DATETIME",   "'2024-01-02 03:04:05.123'",          Some("'2024-01-02 03:04:05.1234'"),              "timestamp(3)",    Some("2024-01-02 03:04:05.123"),    "finer than timestamp(3) keeps"),
    // Prisma's SQLite dates: Unix milliseconds.
    // An instant into a wall-clock column shows as the wall clock in --source-timezone (Paris, UTC+1).
    case("millis_ts3",    "DATETIME",   "1704164645123",                      None,                                            "timestamp(3)",    Some("2024-01-02 04:04:05.123"),    ""),
    // Instants into timestamptz stay the instant; offset-less text is read in --source-timezone.
    case("millis_tstz",   "DATETIME",   "1719835200000",                      None,                                            "timestamptz",     Some("2024-07-01 12:00:00+00"),     ""),
    case("gap_tstz",      "DATETIME",   "1711852200000",                      None,                                            "timestamptz(3)",  Some("2024-03-31 02:30:00+00"),     ""),
    case("z_tstz",        "DATETIME",   "'2024-07-01T12:00:00.000Z'",         Some("'2024-03-31 02:30:00'"),                   "timestamptz",     Some("2024-07-01 12:00:00+00"),     "does not exist in Europe/Paris"),
    case("bool_bool",     "BOOLEAN",    "1",                                  None,                                            "boolean",         Some("t"),                          ""),
    case("text_bool",     "TEXT",       "'t'",                                Some("'maybe'"),                                 "boolean",         Some("t"),                          "\"maybe\" is not a boolean"),
    case("text_tstz",     "TEXT",       "'2024-07-01T12:00:00Z'",             Some("'yesterday'"),                             "timestamptz",     Some("2024-07-01 12:00:00+00"),     "\"yesterday\""),
    // Without an offset, text is wall-clock time in --source-timezone.
    case("text_tstz_wall","TEXT",       "'2024-07-01 12:00:00'",              Some("'2024-03-31 02:30:00'"),                   "timestamptz",     Some("2024-07-01 10:00:00+00"),     "does not exist in Europe/Paris"),
    case("real_num",      "REAL",       "19.99",                              Some("19.999"),                                  "numeric(8,2)",    Some("19.99"),                      "numeric(8,2) would round it"),
    case("text_json",     "TEXT",       "'{\"b\": [1, 2]}'",                  Some("'{oops'"),                                 "json",            Some("{\"b\": [1, 2]}"),            "invalid JSON"),
    case("json_jsonb",    "JSON",       "'{\"b\": [1, 2]}'",                  Some("'{\"b\": 1, \"b\": 2}'"),                      "jsonb",           Some("{\"b\": [1, 2]}"),            "key \"b\" appears twice"),
    case("text_varchar",  "TEXT",       "'short'",                            Some("replace(hex(zeroblob(150)), '0', 'x')"),   "varchar(255)",    Some("short"),                      "300 characters do not fit varchar(255)"),
    case("real_real",     "REAL",       "0.1",                                Some("0.123456789"),                             "real",            Some("0.1"),                        "cannot be held exactly by real"),
    case("text_date",     "TEXT",       "'2024-01-02'",                       Some("'2024-01-02 10:00:00'"),                   "date",            Some("2024-01-02"),                 "other than midnight does not fit date"),
    case("text_time0",    "TEXT",       "'10:00:00'",                         Some("'10:00:00.5'"),                            "time(0)",         Some("10:00:00"),                   "finer than time(0) keeps"),
    case("text_uuid",     "TEXT",       "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", Some("'nope'"),                            "uuid",            Some(UUID),                         "\"nope\" is not a UUID"),
    case("blob_uuid",     "BLOB",       "X'a0eebc999c0b4ef8bb6d6bb9bd380a11'", Some("X'01'"),                                "uuid",            Some(UUID),                         "1 bytes are not a UUID's 16"),
    case("text_int",      "TEXT",       "'42'",                               Some("'x'"),                                     "integer",         Some("42"),                         "\"x\" is not a number"),
];

/// The source tables, in the source's dialect (`id_type` is its integer key type).
fn source_sql(cases: &[Case], id_type: &str) -> String {
    let mut sql = String::new();
    for c in cases {
        let rows = match c.unfit {
            Some(u) => format!("(1, {}), (2, {u})", c.fits),
            None => format!("(1, {})", c.fits),
        };
        sql.push_str(&format!(
            "CREATE TABLE c_{} (id {id_type} PRIMARY KEY, v {});\nINSERT INTO c_{} VALUES {rows};\n",
            c.name, c.source, c.name
        ));
    }
    sql
}

fn target_sql(cases: &[Case]) -> String {
    let mut sql = TARGET_TYPES.to_owned();
    for c in cases {
        sql.push_str(&format!(
            "CREATE TABLE c_{} (id integer PRIMARY KEY, v {});\n",
            c.name, c.target
        ));
    }
    sql
}

/// plan, copy, the values, the rejects file and verify, for every case.
async fn loads_every_case(cases: &[Case], source: &str, db: &TestDb, dir: &Path) {
    let client = db.client().await;
    client
        .batch_execute(&target_sql(cases))
        .await
        .expect("target schema");
    let zone = ["--source-timezone", "Europe/Paris"];

    // plan marks a conversion that may reject, and not one that cannot.
    let plan = pgcutover(
        dir,
        &[&["plan", source, &db.url, "--data-only"][..], &zone].concat(),
    );
    expect_code(&plan, 0);
    let plan_text = stdout(&plan);
    let column_line = |table: &str| {
        let header = format!("  \"c_{table}\":");
        plan_text
            .lines()
            .skip_while(|l| *l != header)
            .find(|l| l.trim_start().starts_with("\"v\" "))
            .unwrap_or_else(|| panic!("no column line for c_{table} in the plan:\n{plan_text}"))
            .to_owned()
    };
    for c in cases {
        let line = column_line(c.name);
        // A case with a value that does not fit is one whose conversion may reject.
        if c.unfit.is_some() {
            assert!(line.contains("[may reject]"), "c_{}: {line}", c.name);
        }
    }
    let unchanged = cases
        .iter()
        .find(|c| c.unfit.is_none() && column_line(c.name).trim_end().ends_with(": unchanged"))
        .expect("a case whose values go unchanged");
    assert!(
        !column_line(unchanged.name).contains("[may reject]"),
        "c_{}: {}",
        unchanged.name,
        column_line(unchanged.name)
    );

    // One copy for every case; rows were rejected: exit 5.
    let copy = pgcutover(
        dir,
        &[&["copy", source, &db.url, "--data-only"][..], &zone].concat(),
    );
    expect_code(&copy, 5);

    client
        .batch_execute("SET TimeZone = 'UTC'")
        .await
        .expect("session zone");
    let mut rejects: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for r in read_rejects(dir) {
        let table = r["table"].as_str().expect("table").to_owned();
        assert!(
            rejects.insert(table.clone(), r.clone()).is_none(),
            "{table} has more than one reject"
        );
    }
    let mut failures = Vec::new();
    for c in cases {
        let table = format!("c_{}", c.name);
        let rows = query_strings(
            &client,
            &format!("SELECT id::text, v FROM {table} ORDER BY id"),
        )
        .await;
        let want = vec![vec![Some("1".to_owned()), c.shows.map(str::to_owned)]];
        if rows != want {
            failures.push(format!(
                "{table}: the target holds {rows:?}, expected {want:?}"
            ));
        }
        match (c.unfit, rejects.remove(&table)) {
            (Some(_), Some(r)) => {
                let reason = r["reason"].as_str().unwrap_or_default();
                if r["key"] != "id=2" || r["column"] != "v" || !reason.contains(c.reason) {
                    failures.push(format!(
                        "{table}: rejected as {r}, expected key id=2, column v, a reason with {:?}",
                        c.reason
                    ));
                }
            }
            (Some(_), None) => failures.push(format!("{table}: row 2 was not rejected")),
            (None, Some(r)) => failures.push(format!("{table}: a fitting row was rejected: {r}")),
            (None, None) => {}
        }
    }
    for (table, r) in rejects {
        failures.push(format!("{table}: unexpected reject {r}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // verify compares through the target's types: each table identical but for its rejected row.
    let verify = pgcutover(
        dir,
        &[
            &[
                "verify",
                source,
                &db.url,
                "--mode",
                "checksums",
                "--format",
                "json",
            ][..],
            &zone,
        ]
        .concat(),
    );
    expect_code(&verify, 5);
    let envelope: serde_json::Value = serde_json::from_str(stdout(&verify).trim()).expect("JSON");
    let tables = envelope["data"]["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), cases.len(), "every case verified");
    for c in cases {
        let t = tables
            .iter()
            .find(|t| t["table"] == format!("c_{}", c.name))
            .unwrap_or_else(|| panic!("c_{} not verified", c.name));
        let rejected = u64::from(c.unfit.is_some());
        let status = if rejected == 1 {
            "rejected_only"
        } else {
            "identical"
        };
        assert!(
            t["status"] == status
                && t["rows_differing"] == 0
                && t["rejected"] == rejected
                && t["source_rows"] == 1 + rejected
                && t["target_rows"] == 1,
            "c_{}: {t:#}",
            c.name
        );
    }
}

#[tokio::test]
async fn data_only_conversions_from_mariadb() {
    let name = "pgctit_conversions";
    // TIMESTAMP values are instants: written in UTC (the helper's session is at +00:00 too).
    let sql = format!("SET time_zone = '+00:00';\n{}", source_sql(MARIADB, "INT"));
    let my = MyDb::from_sql(name, &sql).await;
    let db = TestDb::new("data_only_conversions_my").await;
    let dir = tempfile::tempdir().expect("tempdir");
    loads_every_case(MARIADB, &my.url, &db, dir.path()).await;
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn data_only_conversions_from_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("app.sqlite");
    crate::harness::sqlite_from_sql(&src, &source_sql(SQLITE, "INTEGER"));
    let db = TestDb::new("data_only_conversions_sl").await;
    loads_every_case(SQLITE, src.to_str().expect("utf-8 path"), &db, dir.path()).await;
    db.drop().await;
}
