//! Post-load overlapping the copy (issue 16): a table's own keys and indexes are built as soon as
//! its rows are in, while other tables are still copying.

use crate::harness::{assert_identical, expect_code, one, pgcutover, sqlite_from_sql, TestDb};

/// Three tables on two jobs: `big` and `part` (many narrow rows, cut into chunks, taken first;
/// `part` references `big`) and `slow` (fewer but wide rows with a text key: one unit, taken
/// last and copied long after the others' last chunks). `big`'s primary key, index, identity
/// and ANALYZE, and `part`'s foreign key to `big`, are done before `slow`'s rows are in, as
/// the run state's timestamps show.
#[tokio::test]
async fn a_tables_keys_are_built_while_another_table_is_still_copying() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("app.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE big (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
         CREATE INDEX big_n ON big (n);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40000)
         INSERT INTO big SELECT i, i % 97 FROM s;
         CREATE TABLE part (id INTEGER PRIMARY KEY, big_id INTEGER NOT NULL REFERENCES big (id));
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 30000)
         INSERT INTO part SELECT i, 1 + i % 40000 FROM s;
         CREATE TABLE slow (code TEXT PRIMARY KEY, body TEXT NOT NULL);
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000)
         INSERT INTO slow SELECT printf('k%06d', i), hex(randomblob(1000)) FROM s;",
    );
    let src = src.to_str().expect("path");
    let db = TestDb::new("overlap").await;
    let out = pgcutover(
        dir.path(),
        &["copy", src, &db.url, "--jobs", "2", "--chunk-rows", "4000"],
    );
    expect_code(&out, 0);
    let client = db.client().await;
    let chunks = one(
        &client,
        "SELECT count(*)::text FROM pgcutover.chunks WHERE table_name = 'big'",
    )
    .await;
    assert_eq!(chunks.as_deref(), Some("10"));
    // Every step of big's own (its primary key, its index, its identity, its ANALYZE) was
    // done before slow's rows were committed.
    let overlapped = one(
        &client,
        "SELECT string_agg(split_part(step, '|', 1), ',' ORDER BY position)
         FROM pgcutover.steps
         WHERE step LIKE '%|big|%'
           AND done_at < (SELECT max(done_at) FROM pgcutover.chunks WHERE table_name = 'slow')",
    )
    .await;
    assert_eq!(
        overlapped.as_deref(),
        Some("primary key,index,identity,analyze")
    );
    let key = one(
        &client,
        "SELECT (done_at < (SELECT max(done_at) FROM pgcutover.chunks WHERE table_name = 'slow'))::text
         FROM pgcutover.steps WHERE step LIKE 'foreign key|part|%'",
    )
    .await;
    assert_eq!(key.as_deref(), Some("true"), "part's foreign key");
    assert_identical(dir.path(), src, &db.url);
    db.drop().await;
}
