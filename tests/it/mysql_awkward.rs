//! `fixtures/mysql/awkward.sql` on the real MariaDB: every awkward value either arrives exactly,
//! becomes NULL by a documented rule (zero dates, counted), or is rejected with its key and reason.

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;

use crate::harness::{
    copy_verified, expect_code, mysql, one, pgcutover, rejected_rows, MyDb, TestDb,
};
use crate::mysql_compare::assert_same_mysql_data;

#[tokio::test]
async fn awkward_values_arrive_exactly_or_are_rejected_loudly() {
    let name = "pgctit_awkward";
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/mysql/awkward.sql"
    ))
    .expect("fixture");
    let my = MyDb::from_sql(name, &sql).await;
    {
        // A 50 MB blob: the server must allow a packet that big to build it.
        let mut c = mysql(name).await;
        c.query_drop("SET GLOBAL max_allowed_packet = 67108864")
            .await
            .expect("raise max_allowed_packet");
        let _ = c.disconnect().await;
        let mut c = mysql(name).await;
        c.query_drop("INSERT INTO blobs VALUES (1, REPEAT(X'00FF', 25 * 1024 * 1024)), (2, X'')")
            .await
            .expect("50 MB blob");
        let _ = c.disconnect().await;
    }

    let db = TestDb::new("my_awkward").await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Rows were rejected: exit 5, everything else committed.
    let report = copy_verified(dir.path(), &my.url, &db.url, 5);
    // Counts pushed down to both servers through every hostile name; the rejects file the copy
    // wrote makes its rows expected (5, not 7). plan's orphan queries quote them too.
    let counts = pgcutover(
        dir.path(),
        &["verify", &my.url, &db.url, "--mode", "counts"],
    );
    expect_code(&counts, 5);
    expect_code(&pgcutover(dir.path(), &["plan", &my.url, &db.url]), 0);

    let got = rejected_rows(dir.path());
    assert_eq!(
        got,
        vec![
            (
                "numbers".into(),
                "id=4".into(),
                "flag".into(),
                "2 is not 0 or 1".into()
            ),
            (
                "texts".into(),
                "id=3".into(),
                "body".into(),
                "text contains a NUL byte, which PostgreSQL text cannot hold".into()
            ),
        ]
    );

    // Zero and partial dates became NULL, counted per column.
    let times = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == "times")
        .expect("times");
    assert_eq!(times["zero_dates"], serde_json::json!({"d": 2, "dt": 2}));

    let client = db.client().await;
    let compared = assert_same_mysql_data(
        name,
        &client,
        &BTreeMap::from([("numbers", 1), ("texts", 1)]),
    )
    .await;
    assert_eq!(compared, 3 + 4 + 2 + 2 + 1 + 1);

    let default = |t: &str, c: &str| {
        format!("SELECT coalesce(pg_get_expr(d.adbin, d.adrelid), 'none') FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = '\"{t}\"'::regclass AND a.attname = '{c}'")
    };
    let ty = |t: &str, c: &str| {
        format!("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\"{t}\"'::regclass AND attname = '{c}'")
    };
    for (sql, want) in [
        (ty("numbers", "flag"), "boolean"),
        (ty("numbers", "u8"), "smallint"),
        (ty("numbers", "u16"), "integer"),
        (ty("numbers", "u32"), "bigint"),
        (ty("numbers", "u64"), "numeric(20,0)"),
        (ty("numbers", "d"), "numeric(65,30)"),
        (ty("numbers", "f"), "real"),
        (ty("numbers", "b1"), "boolean"),
        (ty("numbers", "b10"), "bit varying(10)"),
        (ty("times", "dt"), "timestamp without time zone"),
        (ty("times", "ts"), "timestamp with time zone"),
        (ty("times", "t"), "interval"),
        (ty("times", "short_t"), "time without time zone"),
        (ty("texts", "tags"), "text[]"),
        (ty("texts", "doc"), "jsonb"),
        (ty("texts", "raw"), "bytea"),
        (ty("child", "parent_id"), "bigint"),
        // Defaults, including MariaDB's quoted literals and bit literals.
        (default("numbers", "money"), "9.99"),
        (default("numbers", "b10"), "'0000000101'::\"bit\""),
        (default("texts", "size"), "'medium'::texts_size"),
        (default("times", "ts"), "CURRENT_TIMESTAMP"),
        (default("times", "dt"), "'2000-01-01 00:00:00'::timestamp without time zone"),
        (default("texts", "uuidish"), "none"),
        // The zero-date column lost NOT NULL; the others kept it.
        ("SELECT attnotnull::text FROM pg_attribute WHERE attrelid = 'times'::regclass AND attname = 'd'".to_owned(), "false"),
        // '' enum values: '' is the enum's first label.
        ("SELECT enum_range(NULL::texts_size)::text".to_owned(), "{\"\",small,medium,large}"),
        ("SELECT latin FROM texts WHERE id = 1".to_owned(), "€ café ŒŠ"),
        ("SELECT min(t)::text FROM times".to_owned(), "-838:59:59"),
        // AUTO_INCREMENT=100 → the identity continues at 100.
        ("SELECT nextval(pg_get_serial_sequence('times', 'id'))::text".to_owned(), "100"),
        // The 50 MB blob, byte for byte.
        ("SELECT length(data)::text || ' ' || md5(data) FROM blobs WHERE id = 1".to_owned(), "52428800 bd1113e3a4c435f1464a6dd194505dfe"),
        // The prefix unique index became an expression index on the same prefix; the FK and the
        // CHECK arrived; comments too; and the ON UPDATE trigger moves ts when a row changes.
        ("SELECT indexdef FROM pg_indexes WHERE indexname = 'latin_prefix'".to_owned(), "CREATE UNIQUE INDEX latin_prefix ON public.texts USING btree (\"left\"((latin)::text, 3))"),
        ("SELECT count(*)::text FROM pg_constraint WHERE conname = 'child_parent' AND contype = 'f'".to_owned(), "1"),
        ("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'c'".to_owned(), "CHECK ((amount >= (0)::numeric))"),
        ("SELECT obj_description('texts'::regclass)".to_owned(), "awkward texts"),
        ("SELECT col_description('\"x\"\"; DROP TABLE y; --\"'::regclass, 2)".to_owned(), "it's a column"),
    ] {
        assert_eq!(one(&client, &sql).await.as_deref(), Some(want), "{sql}");
    }
    // The ON UPDATE CURRENT_TIMESTAMP trigger. Row 1's ts is in 2038, so "ts is recent" alone
    // would hold whether or not the trigger fired: compare with the value before and with the
    // updating transaction's own now() (the trigger uses CURRENT_TIMESTAMP, the transaction's
    // start; ts keeps milliseconds, hence the 1 ms window).
    let ts_of = |id: u32| format!("SELECT coalesce(ts::text, 'null') FROM times WHERE id = {id}");
    let before: Vec<Option<String>> = {
        let mut v = Vec::new();
        for id in 1..=4 {
            v.push(one(&client, &ts_of(id)).await);
        }
        v
    };
    assert_eq!(
        one(
            &client,
            "SELECT (ts = '2038-01-19 03:14:07.999+00')::text FROM times WHERE id = 1"
        )
        .await
        .as_deref(),
        Some("true"),
        "row 1 as copied"
    );
    client
        .batch_execute(
            "BEGIN;
             UPDATE times SET short_t = '01:00:00' WHERE id = 1;
             -- Not a change: MySQL leaves ts alone, and so must the trigger.
             UPDATE times SET short_t = short_t WHERE id = 2;
             -- ts set by the statement itself: kept, not overwritten with now.
             UPDATE times SET short_t = '02:00:00', ts = '2001-02-03 04:05:06+00' WHERE id = 4;
             CREATE TEMP TABLE moved AS
               SELECT id, abs(extract(epoch FROM ts - now())) < 0.001 AS at_now
               FROM times;
             COMMIT",
        )
        .await
        .expect("update");
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(id || '=' || coalesce(at_now::text, 'null'), ',' ORDER BY id) FROM moved"
        )
        .await
        .as_deref(),
        Some("1=true,2=false,3=null,4=false"),
        "ON UPDATE CURRENT_TIMESTAMP trigger: only the changed row without its own ts moved to now"
    );
    assert_ne!(one(&client, &ts_of(1)).await, before[0], "row 1 ts moved");
    assert_eq!(
        one(&client, &ts_of(2)).await,
        before[1],
        "no-op update kept ts"
    );
    assert_eq!(
        one(&client, &ts_of(3)).await,
        before[2],
        "untouched row kept ts"
    );
    assert_eq!(
        one(
            &client,
            "SELECT (ts = '2001-02-03 04:05:06+00')::text FROM times WHERE id = 4"
        )
        .await
        .as_deref(),
        Some("true"),
        "an explicit ts wins over the trigger"
    );
    // The table is this one 50 MB value, so streaming cannot be told from buffering here
    // (cli.rs's 100 MB of blobs does that); what this bounds is how many copies of one value
    // the path from the MySQL row to the COPY buffer makes. Measured (debug build, three
    // runs): 240.5-240.7 MB, about a 24 MB baseline and four copies of the value. One more
    // whole copy (+50 MB) fails the bound; 400 MB allowed three.
    let peak = report["peak_memory_bytes"].as_u64().expect("peak memory");
    assert!(
        peak < 280 << 20,
        "a 50 MB blob copied in {} MB: another copy of the value was made",
        peak >> 20
    );
    db.drop().await;
    my.drop().await;
}
