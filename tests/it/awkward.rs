//! The awkward-cases fixture (fixtures/sqlite/awkward.sql): every value either arrives exactly
//! or its row is rejected with its key, column and reason, and the exit code says so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::compare::assert_same_data;
use crate::harness::{
    copy_verified, expect_code, one, pgcutover, query_strings, read_rejects, sqlite_from_sql,
    TestDb,
};

pub fn awkward_db(dir: &Path) -> PathBuf {
    let path = dir.join("awkward.db");
    let sql = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sqlite/awkward.sql"),
    )
    .expect("fixture");
    sqlite_from_sql(&path, &sql);
    path
}

#[tokio::test]
async fn awkward_values_arrive_exactly_or_are_rejected() {
    let db = TestDb::new("awkward").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = awkward_db(dir.path());
    let source = format!("sqlite:{}", file.display());
    // Every awkward value that arrived hashes the same on both sides; the rejects are expected.
    let report = copy_verified(dir.path(), &source, &db.url, 5);
    let counts = pgcutover(
        dir.path(),
        &["verify", &source, &db.url, "--mode", "counts"],
    );
    expect_code(&counts, 5);
    expect_code(&pgcutover(dir.path(), &["plan", &source, &db.url]), 0);

    let got: BTreeSet<(String, String, String)> = read_rejects(dir.path())
        .iter()
        .map(|r| {
            assert!(
                !r["reason"].as_str().expect("reason").is_empty()
                    && !r["hint"].as_str().expect("hint").is_empty(),
                "{r}"
            );
            (
                r["table"].as_str().expect("t").to_owned(),
                r["key"].as_str().expect("k").to_owned(),
                r["column"].as_str().expect("c").to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        ("numbers", "id=2", "i"),
        ("numbers", "id=3", "small"),
        ("numbers", "id=4", "n"),
        ("numbers", "id=5", "flag"),
        ("texts", "id=2", "t"),
        ("texts", "id=3", "t"),
        ("texts", "id=4", "v"),
        ("dates", "id=5", "ts"),
        ("dates", "id=6", "d"),
        ("dates", "id=7", "d"),
        ("docs", "id=2", "body"),
        ("docs", "id=3", "body"),
        ("legacy_pk", "code=NULL", "code"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);

    assert_eq!(report["totals"]["rows_rejected"], 13);
    assert_eq!(report["outcome"], "rows_rejected");
    let warnings = report["warnings"].to_string();
    for w in [
        "view \\\"live_children\\\"",
        "trigger \\\"child_touch\\\"",
        "typeof",
    ] {
        assert!(warnings.contains(w), "warning about {w} in {warnings}");
    }

    let client = db.client().await;
    let mut missing = BTreeMap::new();
    for (t, _, _) in &want {
        *missing.entry(t.clone()).or_insert(0) += 1;
    }
    assert_same_data(&file, &client, &db.url, &missing).await;

    // What the comparison at millisecond precision cannot see, and the schema around the data.
    let checks = [
        ("SELECT ts::text FROM dates WHERE id = 1", "2024-02-29 12:34:56.123456"),
        ("SELECT ts::text FROM dates WHERE id = 4", "2024-02-29 10:34:56"),
        ("SELECT \"createdAt\"::text FROM prisma_like", "2021-02-22 13:21:03.586"),
        ("SELECT nextval(pg_get_serial_sequence('numbers', 'id'))", "101"),
        ("SELECT nextval(pg_get_serial_sequence('prisma_like', 'id'))", "2"),
        // SQLite itself stored that text as the REAL 3.141592653589793 (NUMERIC affinity).
        ("SELECT d::text FROM numbers WHERE id = 1", "3.141592653589793"),
        ("SELECT i::text FROM numbers WHERE id = 6", "-9223372036854775808"),
        ("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'texts'::regclass AND attname = 'c'", "character varying(3)"),
        ("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'docs'::regclass AND attname = 'anything'", "bigint"),
        ("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'docs'::regclass AND attname = 'mixed'", "text"),
        ("SELECT body->>'b' FROM docs WHERE id = 1", "1"),
        ("SELECT count(*)::text FROM \"x\"\"; DROP TABLE y; --\"", "1"),
        ("SELECT \"select\" FROM \"x\"\"; DROP TABLE y; --\"", "from"),
        ("SELECT count(*)::text FROM y", "1"),
        ("SELECT count(*)::text FROM pg_class WHERE relname LIKE 'this_table_name_is_far_longer%' AND relkind = 'r' AND length(relname) = 63", "2"),
        ("SELECT confdeltype::text || confupdtype::text FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'f'", "cn"),
        ("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'email_long_enough'", "CHECK ((length(email) > 3))"),
        ("SELECT count(*)::text FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'c'", "1"),
        ("SELECT pg_get_indexdef('child_live'::regclass)", "CREATE INDEX child_live ON public.child USING btree (parent_id) WHERE (deleted = 0)"),
        ("SELECT pg_get_indexdef('child_kind_lower'::regclass)", "CREATE INDEX child_kind_lower ON public.child USING btree (lower(kind) DESC)"),
        ("SELECT indisunique::text FROM pg_index WHERE indexrelid = 'child_parent_kind'::regclass", "true"),
        ("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'pairs'::regclass AND contype = 'p'", "PRIMARY KEY (a, b)"),
        ("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'child'::regclass AND adnum = 6", "to_char((CURRENT_TIMESTAMP AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD HH24:MI:SS'::text)"),
        ("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'numbers'::regclass AND adnum = 7", "false"),
        ("SELECT attnotnull::text FROM pg_attribute WHERE attrelid = 'texts'::regclass AND attname = 'nc'", "true"),
    ];
    for (sql, want) in checks {
        assert_eq!(one(&client, sql).await.as_deref(), Some(want), "{sql}");
    }
    // The defaults work: a row inserted in PostgreSQL gets the translated values.
    client
        .batch_execute("INSERT INTO child (id, parent_id, qty) VALUES (3, 1, 2)")
        .await
        .expect("insert");
    let row = query_strings(
        &client,
        "SELECT deleted::text, created IS NOT NULL FROM child WHERE id = 3",
    )
    .await;
    assert_eq!(row, vec![vec![Some("0".to_owned()), Some("t".to_owned())]]);
    db.drop().await;
}

#[tokio::test]
async fn value_policies_strip_nul_and_replace_bad_utf8() {
    let db = TestDb::new("awkward_policies").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = awkward_db(dir.path());
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &format!("sqlite:{}", file.display()),
            &db.url,
            "--include",
            "texts",
            "--nul-bytes",
            "strip",
            "--invalid-utf8",
            "replace",
        ],
    );
    expect_code(&out, 5); // the over-long varchar is still rejected
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT t FROM texts WHERE id = 2")
            .await
            .as_deref(),
        Some("ab")
    );
    assert_eq!(
        one(&client, "SELECT t FROM texts WHERE id = 3")
            .await
            .as_deref(),
        Some("a\u{fffd}b")
    );
    let rejected: Vec<String> = read_rejects(dir.path())
        .iter()
        .map(|r| r["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(rejected, vec!["id=4"]);
    db.drop().await;
}
